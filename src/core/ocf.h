/*
 * ocf.h: core's contract for the KDC as OCF Onboarding Tool (DOXS),
 * Credential Management (CMS) and Access Management (AMS) service (issue
 * 16; the wire side is ../ocf/, the research notes' §1-§3). Part of
 * core's public contract (core.h includes it). In OCF the KDC is the CoAP
 * *client*: the face (src/ocf/obt.c, run by `iotkdc ocf ...`) talks to
 * the devices; everything that decides, makes keys, signs, records or
 * audits is here.
 *
 * Model:
 *  - The KDC has one OCF uuid of its own (the OBT uuid: devowneruuid and
 *    rowneruuid of every device it owns, and its PSK identity on owner
 *    sessions, the 16 raw bytes). Made once, random (v4), with no 0x00
 *    byte (a libcoap peer NUL-terminates PSK identities), kept in the
 *    store's meta.
 *  - An OCF device is recorded by its deviceuuid from the first step of
 *    an onboarding (kdc_core_ocf_onboard_begin()): the OTM, the
 *    endpoints it was reached at, and progress step by step, so a
 *    failure leaves the store saying exactly which step failed and a
 *    rerun restarts cleanly. Onboarding gives it a new deviceuuid the
 *    KDC makes (as IoTivity's OBT does; no 0x00 byte either): from then
 *    on that is its uuid.
 *  - An owned OCF device is a device of the registry like a LwM2M or ACE
 *    one: dev_id "ocf-<uuid>" (KDC_OCF_DEVID_PREFIX), the profile of
 *    [ocf] profile, no manufacturer credential for the Random PIN OTM
 *    (the PIN is single-use), its manufacturer certificate's key for the
 *    mfgcert OTM (recorded, kind manufacturer, type x509, so the same key
 *    cannot later be a manufacturer credential of another device). Same
 *    audit chain, same `device revoke`, same `device list`.
 *  - Its owner credential is a credential of kind "owner", type psk, the
 *    16-byte owner PSK both sides derived (wrapped at rest like every
 *    PSK), pending until the device reached RFNOP, then issued.
 *  - Each owned device is also an audience (kind "ocf-device", name
 *    "ocf-<uuid>", uri its coaps endpoint): a service other devices hold
 *    credentials for. A pairwise PSK between A and B is two operational
 *    PSK credentials with one key: A's for audience ocf-<B>, B's for
 *    audience ocf-<A>, issued in one transaction.
 *  - Its identity certificate (CMS) is an operational X.509 credential
 *    for the audience "ocf-identity" (implicit, like "lwm2m"), signed by
 *    the iotkdc CA from the device's /oic/sec/csr: subject CN
 *    "uuid:<deviceuuid>" (the CSR must say exactly that), the CSR's own
 *    ECDSA P-256 key, KU digitalSignature|keyAgreement, EKU serverAuth,
 *    clientAuth and 1.3.6.1.4.1.44924.1.6 (OCF identity), validity
 *    [ocf] cert_days.
 *  - Offboarding revokes the device (every credential it has) and every
 *    pairwise credential other devices hold for it.
 *
 * Errors common to every call: KDC_ERR_INVALID_ARG (a NULL, a uuid not
 * in 36-character form), KDC_ERR_IO / KDC_ERR_NOMEM (the store).
 * Every refusal and every change is audited (action "ocf.*", subject the
 * device's uuid); no key is ever logged or audited.
 */
#ifndef KDC_CORE_OCF_H
#define KDC_CORE_OCF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/limits.h"
#include "ocf/codec.h"

struct kdc_core;

#define KDC_OCF_DEVID_PREFIX	"ocf-"
#define KDC_OCF_AUD_IDENTITY	"ocf-identity"	/* identity certificates */
#define KDC_OCF_EP_MAX		127	/* "coaps://[v6%zone]:port" + NUL room */
#define KDC_OCF_STEP_MAX	31	/* a step name */
#define KDC_OCF_PSK_LEN		16	/* owner and pairwise PSKs */
#define KDC_OCF_PAIRS_MAX	64	/* peers listed by kdc_core_ocf_pairs() */

enum kdc_ocf_state {
	KDC_OCF_ONBOARDING = 0,	/* an OTM began; step = last step done */
	KDC_OCF_FAILED,		/* step = the step that failed, err why */
	KDC_OCF_OWNED,		/* onboarded, RFNOP reached */
	KDC_OCF_OFFBOARDED,	/* reset by us; its credentials revoked */
};
const char	*kdc_ocf_state_str(enum kdc_ocf_state s);

struct kdc_ocf_device {
	char			 uuid[KDC_OCF_UUID_TEXT + 1];	/* current */
	char			 first_uuid[KDC_OCF_UUID_TEXT + 1]; /* as
					 * discovered (== uuid before the OTM
					 * gave it a new one) */
	char			 dev_id[KDC_DEVID_MAX + 1];	/* "" until
					 * the owner credential exists */
	int			 otm;		/* KDC_OCF_OXM_RDP/_MFGCERT/_JW */
	enum kdc_ocf_state	 state;
	char			 step[KDC_OCF_STEP_MAX + 1];
	kdc_err			 err;		/* KDC_OK unless FAILED */
	char			 coap_ep[KDC_OCF_EP_MAX + 1];	/* or "" */
	char			 coaps_ep[KDC_OCF_EP_MAX + 1];
	int64_t			 created, updated;	/* unix seconds */
	int64_t			 cert_not_after;	/* 0: no identity cert */
};

/* The KDC's own OCF uuid (made and stored on the first call). */
kdc_err	kdc_core_ocf_obt_uuid(struct kdc_core *core, struct kdc_ocf_uuid *out);

/*
 * An OTM begins for the device discovered as first_uuid, reached at
 * coap_ep / coaps_ep ("coap://[fe80::1%eth0]:5683" form, as the device's
 * /oic/res eps give them; coap_ep may be ""): records it ONBOARDING with
 * step "begin" (a FAILED or ONBOARDING row of the same first_uuid is
 * restarted: a rerun), and makes the new deviceuuid the OTM will give it
 * into *new_uuid. Refused: KDC_ERR_EXISTS (first_uuid is an OWNED device:
 * offboard it first), KDC_ERR_INVALID_ARG (otm not RDP, MFGCERT or JW; an
 * ep over KDC_OCF_EP_MAX or not coap:// / coaps://).
 */
kdc_err	kdc_core_ocf_onboard_begin(struct kdc_core *core, const char *actor,
	    const char *first_uuid, int otm, const char *coap_ep,
	    const char *coaps_ep, struct kdc_ocf_uuid *new_uuid);

/*
 * Progress of an onboarding or a provisioning of the device whose first
 * or current uuid is uuid: step (1..KDC_OCF_STEP_MAX of [a-z0-9._-]) done
 * (r KDC_OK: step recorded, the row's updated time moves), or failed (r
 * the error: state FAILED for an onboarding, err = r, audited with the
 * step; an OWNED device stays OWNED, the failure audited and kept in
 * step/err until its next success). KDC_ERR_NOT_FOUND: no such device.
 */
kdc_err	kdc_core_ocf_step(struct kdc_core *core, const char *actor,
	    const char *uuid, const char *step, kdc_err r);

/*
 * The owner PSK (KDC_OCF_PSK_LEN bytes, derived by the face from the DOC
 * as the OTM says) for the onboarding of first_uuid, whose new uuid is
 * new_uuid (from kdc_core_ocf_onboard_begin()), in one transaction:
 * registers the device "ocf-<new_uuid>" in the registry ([ocf] profile;
 * mfg_spki/mfg_spki_len: the mfgcert OTM's device key, recorded as its
 * manufacturer credential, or NULL/0), stores the owner credential
 * PENDING, adds its audience "ocf-<new_uuid>" (uri coaps_ep). Called
 * before the device is told to derive it, so a crash in between loses no
 * key. Refused: KDC_ERR_NOT_FOUND (no ONBOARDING row), KDC_ERR_EXISTS (a
 * device "ocf-<new_uuid>" exists), the registry's refusals
 * (UNKNOWN_PROFILE, UNSUPPORTED_KEY, DENIED: the mfg key is another
 * device's). A rerun of a failed onboarding first deletes what an earlier
 * run of first_uuid registered and never finished.
 */
kdc_err	kdc_core_ocf_owner_set(struct kdc_core *core, const char *actor,
	    const char *first_uuid, const char *new_uuid, const uint8_t *psk,
	    size_t psk_len, const uint8_t *mfg_spki, size_t mfg_spki_len);

/*
 * The same, the owner PSK made here from the DOC's key_block (the TLS
 * PRF's "key expansion" output of the onboarding session, server random
 * first; key_block_len its length for the suite): PRF(key_block, OXM
 * string of the OTM begun || OBT uuid || new_uuid)[16] (OCF Security
 * §7.3.2; the research notes' owner-PSK derivation), so the face never
 * holds the owner key. Also KDC_ERR_INVALID_ARG (no key block),
 * KDC_ERR_CRYPTO.
 */
kdc_err	kdc_core_ocf_owner_derive(struct kdc_core *core, const char *actor,
	    const char *first_uuid, const char *new_uuid,
	    const uint8_t *key_block, size_t key_block_len,
	    const uint8_t *mfg_spki, size_t mfg_spki_len);

/* The device reached RFNOP: owner credential issued, state OWNED, step
 * "done". KDC_ERR_NOT_FOUND (no ONBOARDING row with an owner PSK). */
kdc_err	kdc_core_ocf_onboard_done(struct kdc_core *core, const char *actor,
	    const char *uuid);

/*
 * The owner PSK of an OWNED device, for an owner session (identity: the
 * OBT uuid's 16 raw bytes): into psk (KDC_OCF_PSK_LEN bytes; the caller
 * wipes). Refused, audited: KDC_ERR_NOT_FOUND (no such device, or not
 * OWNED), KDC_ERR_REVOKED (the device or its owner credential is
 * revoked), KDC_ERR_BAD_KEY (the stored key does not unwrap).
 */
kdc_err	kdc_core_ocf_owner_psk(struct kdc_core *core, const char *actor,
	    const char *uuid, uint8_t psk[KDC_OCF_PSK_LEN]);

/*
 * A pairwise PSK between two OWNED devices (uuid1 != uuid2): a random
 * KDC_OCF_PSK_LEN-byte key and two operational PSK credentials, PENDING,
 * uuid1's for audience "ocf-<uuid2>" and uuid2's for "ocf-<uuid1>", each
 * superseding an earlier pending one for that audience, in one
 * transaction; refused when either device is revoked (OCF pairing has
 * no rule of the authorization table to ask beyond that). *ids gets the
 * two credential ids ([0] uuid1's), psk the key (the caller wipes).
 * Refused: KDC_ERR_INVALID_ARG (the same uuid), KDC_ERR_NOT_FOUND
 * (either not OWNED), KDC_ERR_REVOKED.
 * The face writes the key to both devices, then kdc_core_ocf_pair_done().
 */
kdc_err	kdc_core_ocf_pair_issue(struct kdc_core *core, const char *actor,
	    const char *uuid1, const char *uuid2, int64_t ids[2],
	    uint8_t psk[KDC_OCF_PSK_LEN]);
/* Both devices took the key: both credentials issued (superseding the
 * live ones for those audiences), one transaction. As
 * kdc_core_cred_activate_set(). */
kdc_err	kdc_core_ocf_pair_done(struct kdc_core *core, const char *actor,
	    const int64_t ids[2]);

/*
 * The identity certificate of an OWNED device from its /oic/sec/csr
 * (PKCS#10 DER, or PEM as IoTivity sends it by default): the CSR's
 * self-signature verified, its key ECDSA P-256,
 * its subject exactly CN=uuid:<uuid>; the certificate as the model says,
 * stored PENDING for audience "ocf-identity" (superseding an earlier
 * pending one); a renewal with the key of the live identity certificate
 * is issued at once instead, superseding it (one live credential per
 * key). *cred_id, *cert (DER, heap, kdc_free). Refused:
 * KDC_ERR_NOT_FOUND, KDC_ERR_REVOKED, KDC_ERR_MALFORMED / KDC_ERR_BAD_
 * SIGNATURE / KDC_ERR_UNSUPPORTED_KEY (the CSR), KDC_ERR_DENIED (its
 * subject names another uuid, or its key is a manufacturer key or another
 * device's).
 */
kdc_err	kdc_core_ocf_cert_sign(struct kdc_core *core, const char *actor,
	    const char *uuid, const uint8_t *csr, size_t csr_len,
	    int64_t *cred_id, uint8_t **cert, size_t *cert_len);

/* The device took the certificate of kdc_core_ocf_cert_sign(): a pending
 * one issued (superseding the live one), an issued one (a renewal without
 * rekey, issued at signing) left as it is. KDC_ERR_NOT_FOUND,
 * KDC_ERR_INVALID_ARG (not an OCF identity certificate, or neither
 * pending nor issued). */
kdc_err	kdc_core_ocf_cert_done(struct kdc_core *core, const char *actor,
	    int64_t cred_id);

/*
 * The mfgcert OTM's server check: the chain the device presented (DER,
 * leaf first, n >= 1) verifies up to a manufacturer CA added with
 * `iotkdc mfg-ca add` (kdc_core_mfg_ca_add()) at the core's time, the
 * leaf's key is ECDSA P-256; its SPKI into spki (capacity *spki_len,
 * KDC_SPKI_MAX is ample; set to the length) for kdc_core_ocf_owner_set().
 * Refused (audited, sampled as a handshake refusal): KDC_ERR_UNTRUSTED,
 * KDC_ERR_EXPIRED, KDC_ERR_NOT_YET_VALID, KDC_ERR_UNSUPPORTED_KEY,
 * KDC_ERR_REVOKED (the key is a revoked device's, unless that device was
 * offboarded: reset by us, it may be onboarded again), KDC_ERR_MALFORMED
 * / KDC_ERR_TOO_LARGE (the chain, as kdc_cert_verify_chain() says; a
 * leaf with an extendedKeyUsage must list clientAuth there).
 */
kdc_err	kdc_core_ocf_mfg_check(struct kdc_core *core, const char *actor,
	    const uint8_t *const *der, const size_t *len, size_t n,
	    uint8_t *spki, size_t *spki_len);

/* The record of the device whose current or first uuid is uuid.
 * KDC_ERR_NOT_FOUND. */
kdc_err	kdc_core_ocf_device_get(struct kdc_core *core, const char *uuid,
	    struct kdc_ocf_device *out);
/* Every recorded OCF device, by creation: *out (heap, kdc_free), *n. */
kdc_err	kdc_core_ocf_device_list(struct kdc_core *core,
	    struct kdc_ocf_device **out, size_t *n);
/* A device answered at new endpoints (its ports are ephemeral): record
 * them. KDC_ERR_NOT_FOUND. */
kdc_err	kdc_core_ocf_set_eps(struct kdc_core *core, const char *uuid,
	    const char *coap_ep, const char *coaps_ep);

/* The OWNED devices holding a live (issued or pending) pairwise
 * credential for audience "ocf-<uuid>" (for an OFFBOARDED device: any,
 * the ones its offboarding revoked, so that deleting them from those
 * devices can be retried): their uuids into
 * out[0..KDC_OCF_PAIRS_MAX), *n. KDC_ERR_NOT_FOUND (no such device),
 * KDC_ERR_TOO_LARGE (more peers: the first KDC_OCF_PAIRS_MAX filled). */
kdc_err	kdc_core_ocf_pairs(struct kdc_core *core, const char *uuid,
	    char out[][KDC_OCF_UUID_TEXT + 1], size_t *n);

/*
 * Offboarding (after the face reset the device, or when it cannot be
 * reached and the operator insists): the device revoked with every
 * credential it has, every credential for its audience revoked, state
 * OFFBOARDED; one transaction. Again on an offboarded device: KDC_OK,
 * nothing left to revoke. KDC_ERR_NOT_FOUND.
 */
kdc_err	kdc_core_ocf_offboard(struct kdc_core *core, const char *actor,
	    const char *uuid);

#endif
