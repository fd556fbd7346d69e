/*
 * core.h: device registry and credential lifecycle. No I/O beyond the
 * store interface: the caller opens the store, keyring and CA and lends
 * them to the core, which borrows them for its lifetime.
 *
 * Every function that grants, changes or refuses something appends an
 * audit record (core/audit.h) naming `actor` ("cli", "http", "coap", ...).
 * Refusals are distinct errors: KDC_ERR_UNKNOWN_DEVICE, _REVOKED,
 * _EXPIRED, _NOT_YET_VALID, _WRONG_TYPE, _UNKNOWN_AUDIENCE. A failed call changes nothing
 * but the audit log.
 */
#ifndef KDC_CORE_H
#define KDC_CORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "core/config.h"
#include "crypto/codec.h"
#include "crypto/crypto.h"
#include "store/store.h"

struct kdc_core;

/*
 * Borrow st, kr, ca (may be NULL when no CA operation will be used) and
 * cfg. Checks that kr is the key this store was made with (a check value
 * in the store's meta, set on first use): KDC_ERR_BAD_KEY if not.
 */
kdc_err	kdc_core_new(struct kdc_store *st, struct kdc_keyring *kr,
	    struct kdc_ca *ca, const struct kdc_config *cfg,
	    struct kdc_core **out);
void	kdc_core_free(struct kdc_core *core);
/*
 * From now on read the configuration through *live, which a daemon swaps
 * whole on SIGHUP (a new profile set): each request reads the one in
 * effect. An old configuration must stay valid until every core that
 * follows it is freed (a request may hold a profile of it).
 */
void	kdc_core_follow_config(struct kdc_core *core,
	    _Atomic(const struct kdc_config *) *live);
/* The clock the core uses (time(NULL) unless a test set one). */
int64_t	kdc_core_now(const struct kdc_core *core);
void	kdc_core_set_clock(struct kdc_core *core, int64_t (*now)(void));

/* ---- registry ---------------------------------------------------------- */

/* A device and its manufacturer credential. */
struct kdc_device_spec {
	char			 dev_id[KDC_DEVID_MAX + 1];
	char			 profile[KDC_NAME_MAX + 1];	/* "" = "default" */
	enum kdc_cred_type	 type;
	char			 psk_identity[KDC_PSK_IDENTITY_MAX + 1];
	uint8_t			 psk[KDC_PSK_MAX];	/* secret: wipe */
	size_t			 psk_len;
	uint8_t			 spki[KDC_SPKI_MAX];	/* RPK: SPKI DER */
	size_t			 spki_len;
};

/* Validate a spec without the store: id syntax, PSK length (WEAK_PSK),
 * identity, SPKI (kdc_spki_check). */
kdc_err	kdc_device_spec_check(const struct kdc_device_spec *spec);

/* Register a device with its manufacturer credential. EXISTS if the id is
 * taken; DUPLICATE_PSK if the identity or the PSK is live on another
 * device; UNKNOWN_PROFILE; WEAK_PSK; UNSUPPORTED_KEY. */
kdc_err	kdc_core_device_add(struct kdc_core *core, const char *actor,
	    const struct kdc_device_spec *spec);

/*
 * Import a JSON Lines manifest (core/manifest.h), all or nothing, in one
 * transaction. On error *bad_line is the 1-based line at fault (0 when
 * not a line's fault) and why holds the reason. *count = devices added.
 */
kdc_err	kdc_core_device_import(struct kdc_core *core, const char *actor,
	    const char *buf, size_t len, size_t *count, size_t *bad_line,
	    char *why, size_t why_len);

kdc_err	kdc_core_device_get(struct kdc_core *core, const char *dev_id,
	    struct kdc_device **out);
/* By row id (a credential's device); UNKNOWN_DEVICE if none. */
kdc_err	kdc_core_device_get_by_id(struct kdc_core *core, int64_t id,
	    struct kdc_device **out);
/* A copy of the profile dev_id is issued under (the one issuance uses):
 * UNKNOWN_DEVICE, UNKNOWN_PROFILE. */
kdc_err	kdc_core_device_profile(struct kdc_core *core, const char *dev_id,
	    struct kdc_profile *out);
kdc_err	kdc_core_device_list(struct kdc_core *core, struct kdc_device ***out,
	    size_t *n);
/* Revoke the device and every live credential it has. UNKNOWN_DEVICE;
 * REVOKED if it already was. */
kdc_err	kdc_core_device_revoke(struct kdc_core *core, const char *actor,
	    const char *dev_id);
/* Delete the device and its credentials (the audit log keeps the trace). */
kdc_err	kdc_core_device_delete(struct kdc_core *core, const char *actor,
	    const char *dev_id);

/* ---- principals: who a request comes from -------------------------- */

/*
 * A principal, made by core from an authentication: a DTLS PSK, raw
 * public key or certificate today (later a TLS client certificate, an
 * ACE token, an OSCORE context). Faces keep it for the session and hand
 * it back to core (kdc_authorize(), kdc_core_enroll()); they never look
 * the device up again by its id. A zeroed principal is nobody (NoSec).
 */
struct kdc_principal {
	enum kdc_cred_type	 type;		/* how it authenticated */
	enum kdc_cred_kind	 kind;
	int64_t			 cred_id;	/* 0: not authenticated */
	int64_t			 device;	/* device row id, 0 likewise */
	char			 dev_id[KDC_DEVID_MAX + 1];	/* "" likewise */
	/* the audience the credential belongs to ("" for a manufacturer
	 * credential, which belongs to no service but the KDC) */
	char			 audience[KDC_NAME_MAX + 1];
	/* the peer's SubjectPublicKeyInfo DER as GnuTLS exports it (the
	 * encoding kdc_csr_spki() gives): the raw public key (RPK) or the
	 * leaf certificate's key (X.509); spki_len 0 for PSK and NoSec */
	uint8_t			 spki[KDC_SPKI_MAX];
	size_t			 spki_len;
};

/*
 * The authentication calls (faces call them from TLS callbacks). Each
 * finds the live credential, checks it and its device, and fills *who
 * (optional, may be NULL; cleared first) with one read of the credential
 * and one of its device. Refusals, each audited (sampled, like every
 * refusal of a peer that has not proven who it is): UNKNOWN_DEVICE,
 * REVOKED (credential or device), EXPIRED, NOT_YET_VALID.
 *
 * PSK: the credential with this identity; its key is unwrapped into psk
 * (capacity *psk_len; set to the length). A key that does not unwrap
 * (a damaged or altered row) is BAD_KEY, audited too.
 */
kdc_err	kdc_core_auth_psk(struct kdc_core *core, const char *actor,
	    const char *identity, uint8_t *psk, size_t *psk_len,
	    struct kdc_principal *who);
/*
 * The PSK a device left the factory with, when the KDC is the one to
 * present it (a server-initiated LwM2M bootstrap: the KDC connects to
 * the device): its identity (into identity, identity_cap bytes) and key,
 * through kdc_core_auth_psk()'s checks. UNKNOWN_DEVICE, REVOKED (the
 * device), WRONG_TYPE (no live manufacturer PSK), what auth_psk refuses.
 */
kdc_err	kdc_core_auth_mfg_psk(struct kdc_core *core, const char *actor,
	    const char *dev_id, char *identity, size_t identity_cap,
	    uint8_t *psk, size_t *psk_len, struct kdc_principal *who);
/* The same for a raw public key (SPKI DER; TOO_LARGE over KDC_SPKI_MAX). */
kdc_err	kdc_core_auth_spki(struct kdc_core *core, const char *actor,
	    const uint8_t *spki, size_t spki_len, struct kdc_principal *who);

/*
 * A client certificate chain (DER, leaf first), as a DTLS/TLS face got it:
 * verified against our CA (operational certificates) and every
 * manufacturer CA at the core's clock. An operational certificate is
 * found by its public key; a manufacturer certificate names its device in
 * its SAN URI (else CN), and that device must be registered for
 * certificate authentication. Refusals, each audited: UNTRUSTED (no
 * chain), EXPIRED / NOT_YET_VALID (certificate or credential),
 * UNKNOWN_DEVICE, REVOKED, WRONG_TYPE (the device's manufacturer
 * credential is not a certificate). *who (optional) as above, its spki
 * the leaf's key.
 */
kdc_err	kdc_core_auth_cert(struct kdc_core *core, const char *actor,
	    const uint8_t *const *certs, const size_t *lens, size_t ncerts,
	    struct kdc_principal *who);
/*
 * The same for a chain the face's TLS layer has ALREADY verified against
 * the iotkdc CA alone: the HTTPS listener, whose trust_pem serve.c sets
 * to our CA certificate and nothing else, verified it for TLS client use
 * in the handshake's wake (http.c client_auth(): the chain up to our CA,
 * the leaf's clientAuth purpose, validity at the wall clock), and the
 * handshake itself proved that the peer holds the leaf's private key.
 * Only such a face may call this (never one whose trust list holds
 * another CA, nor one that hands over an unverified chain): the
 * certificate's signature is not checked again (~250 us of nettle and
 * X.509 parsing per request, docs/perf.md). What is checked: the leaf's
 * SubjectPublicKeyInfo, read as it stands (kdc_cert_spki()), is the key
 * of an operational X.509 credential we issued, found by its key as
 * kdc_core_auth_cert() finds it; that credential (its status, and its
 * not_before / not_after, the certificate's validity, at the core's
 * clock) and its device are usable (an EST certificate's first use
 * activates it). A leaf we cannot read or that is no operational
 * credential of ours (a manufacturer certificate) takes
 * kdc_core_auth_cert() whole. Refusals (each audited) and *who as there.
 */
kdc_err	kdc_core_auth_cert_verified(struct kdc_core *core,
	    const char *actor, const uint8_t *const *certs, const size_t *lens,
	    size_t ncerts, struct kdc_principal *who);

/* ---- authorization: the one decision ------------------------------- */

/* What a principal asks to do. */
enum kdc_action {
	KDC_ACT_BOOTSTRAP,	/* LwM2M bootstrap of its own device */
	KDC_ACT_ENROLL,		/* EST sen: a first certificate */
	KDC_ACT_REENROLL,	/* EST sren: a new certificate over the current */
	KDC_ACT_SKG,		/* EST skg: a key pair made by the KDC */
	KDC_ACT_REGISTER,	/* LwM2M Server register / update / deregister */
	KDC_ACT_CRL_READ,	/* the CRL of our CA */
	KDC_ACT_ACE_TOKEN,	/* an ACE access token (client credentials) */
};

/*
 * May who do act on target (the device a request names, e.g. a LwM2M
 * endpoint name; NULL: its own)? One table of rules in core/authz.c:
 *   bootstrap  manufacturer or operational credential, own device;
 *   enroll     the manufacturer credential, still issued now;
 *   reenroll   the operational certificate, still issued now;
 *   skg        either of those two, still issued now;
 *   register   an operational credential for the built-in LwM2M Server
 *              (audience "lwm2m": one for another audience is DENIED)
 *              that is still the device's issued one for it and not past
 *              not_after, own device;
 *   crl-read   any authenticated principal.
 * Refusals: DENIED (nobody, or another device), WRONG_TYPE (a credential
 * of another kind or type), REVOKED / EXPIRED (no longer live). Each
 * refusal is audited under audit_as (NULL: "authz.<rule>") with the rule
 * that refused. why (optional, why_len > 0) gets the reason, never a
 * secret.
 */
kdc_err	kdc_authorize(struct kdc_core *core, const char *actor,
	    const struct kdc_principal *who, enum kdc_action act,
	    const char *target, const char *audit_as, char *why,
	    size_t why_len);
/* "bootstrap", "enroll", ... (the rule names of the table). */
const char *kdc_action_str(enum kdc_action act);

/*
 * An audit record for what a face decided itself (a bootstrap step, a
 * registration, a session closed). Never put a secret in the detail.
 */
kdc_err	kdc_core_audit(struct kdc_core *core, const char *actor,
	    const char *action, const char *subject, kdc_err outcome,
	    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/*
 * The same for a refusal of a peer that has not proven who it is (a
 * handshake refused, a request from nobody): anyone can cause those, so
 * they go through the token bucket of the handshake refusals above and a
 * flood cannot fill the disk (what the bucket drops is counted in the
 * next record written). An outcome of KDC_OK is recorded as
 * kdc_core_audit() would.
 */
void	kdc_core_audit_peer(struct kdc_core *core, const char *actor,
	    const char *action, const char *subject, kdc_err outcome,
	    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The audit chain (core/audit.h kdc_audit_verify()) checked whole. */
kdc_err	kdc_core_audit_verify(struct kdc_core *core, int64_t *count,
	    int64_t *bad_seq, char *why, size_t why_len);
/* The audit anchor (core/audit.h): dir/audit.head written forward to the
 * store's head; checked against the store. */
kdc_err	kdc_core_audit_anchor(struct kdc_core *core, const char *dir);
kdc_err	kdc_core_audit_anchor_check(struct kdc_core *core, const char *dir,
	    int64_t *seq, char *why, size_t why_len);
/* Each audit record from from_seq on, in order (store.h). */
kdc_err	kdc_core_audit_foreach(struct kdc_core *core, int64_t from_seq,
	    kdc_store_audit_fn fn, void *arg);

/* ---- audiences --------------------------------------------------------- */

/*
 * An audience is a service that accepts operational credentials; every
 * operational credential names one, and a device has at most one live
 * credential per audience. A profile lists the audiences its devices get
 * credentials for (config.h: [profile NAME] audience = the primary one,
 * [profile NAME AUDIENCE] each more). The built-in LwM2M Server is the
 * audience "lwm2m" (kind lwm2m, ssid 1, its URI the one the bootstrap
 * writes): implicit, never added. The others are registered here.
 */
#define KDC_AUDIENCE_BUILTIN		"lwm2m"
#define KDC_AUDIENCE_BUILTIN_SSID	1

/*
 * Register an audience, audited "audience.add". kind: "lwm2m-external"
 * (an LwM2M Server the bootstrap writes, uri coaps://host[:port], ssid
 * 2..65534), "mqtt" (uri mqtts://...), "ace-rs" (uri coaps:// or
 * https://); ssid 0 for the last two. Refusals, each audited:
 * INVALID_ARG (name not [A-Za-z0-9._-] 1..KDC_NAME_MAX, or beginning
 * "ocf-", the names of OCF devices' audiences, core/ocf.h; or ssid
 * missing, out of range, or given to a kind without one), UNSUPPORTED (an
 * unknown kind, "lwm2m": the built-in is the only one, or "ocf-device":
 * an OCF onboarding makes those), MALFORMED (uri
 * missing, over KDC_AUDIENCE_URI_MAX, blanks or userinfo in it, another
 * scheme, no host), EXISTS (the name is taken, "lwm2m" included),
 * DUPLICATE_SSID (another LwM2M audience has that Short Server ID).
 */
kdc_err	kdc_core_audience_add(struct kdc_core *core, const char *actor,
	    const char *name, const char *kind, const char *uri, int ssid);
/* The audience called name (the built-in too) into *out.
 * UNKNOWN_AUDIENCE if there is none. */
kdc_err	kdc_core_audience_get(struct kdc_core *core, const char *name,
	    struct kdc_audience *out);
/* Every audience, the built-in first, then the registered ones by name:
 * *out (heap, kdc_free) holds *n >= 1. */
kdc_err	kdc_core_audience_list(struct kdc_core *core,
	    struct kdc_audience **out, size_t *n);
/* An audience of a device's profile: the profile's entry for it (cred
 * type, lifetime, PSK settings) and the audience. */
struct kdc_device_audience {
	struct kdc_profile	prof;
	struct kdc_audience	aud;
};
/* The audiences of dev_id's profile, its primary one first, into
 * out[0..max): UNKNOWN_DEVICE, UNKNOWN_PROFILE, UNKNOWN_AUDIENCE (one is
 * not registered), TOO_LARGE (more than max). */
kdc_err	kdc_core_device_audiences(struct kdc_core *core, const char *dev_id,
	    struct kdc_device_audience *out, size_t max, size_t *n);
/* Does every audience a profile names exist (serve's start check)?
 * UNKNOWN_AUDIENCE with why naming the profile and the audience. */
kdc_err	kdc_core_audiences_check(struct kdc_core *core, char *why,
	    size_t why_len);

/* ---- issuance and lifecycle ------------------------------------------- */

/*
 * Every issuance below takes an audience: the entry of the device's
 * profile for it supplies the credential's type, lifetime and PSK
 * settings (NULL: the profile's primary entry). UNKNOWN_AUDIENCE when the
 * profile does not list that audience, or it is not registered.
 */

/*
 * Issue an operational X.509 certificate for dev_id from a CSR: the same
 * path as EST. days = 0 takes the lifetime of the device's profile. The
 * new credential (audience from the profile) supersedes the live one for
 * that audience. *cred_id and *cert (DER, heap) on success.
 */
kdc_err	kdc_core_cert_sign(struct kdc_core *core, const char *actor,
	    const char *dev_id, const char *audience, const uint8_t *csr,
	    size_t csr_len,
	    unsigned days, int64_t *cred_id, uint8_t **cert, size_t *cert_len);
/* A new operational PSK, as issuance hands it back: a secret, wiped with
 * kdc_psk_new_wipe(). */
struct kdc_psk_new {
	int64_t		 cred_id;
	char		 identity[KDC_PSK_IDENTITY_MAX + 1];
	uint8_t		 psk[KDC_PSK_GEN_MAX];
	size_t		 psk_len;
};
/*
 * Issue an operational PSK for dev_id and the audience of its profile, in
 * status `status` (KDC_CRED_PENDING or KDC_CRED_ISSUED; issuing supersedes
 * the live one). The profile sets the key's length (psk_key_bytes, 16 by
 * default) and the identity's form (psk_identity: "random", 32 hex
 * digits, or "named", "<dev_id>#<16 hex>"). *out (cleared first) gets the
 * row, identity and key. UNKNOWN_DEVICE, REVOKED, UNKNOWN_PROFILE,
 * INVALID_ARG (status), CONFIG (a key length out of range).
 */
kdc_err	kdc_core_psk_issue(struct kdc_core *core, const char *actor,
	    const char *dev_id, const char *audience,
	    enum kdc_cred_status status, struct kdc_psk_new *out);
void	kdc_psk_new_wipe(struct kdc_psk_new *p);
/*
 * Issue an operational RPK or certificate whose key pair the KDC makes
 * (LwM2M 1.0 style, where the bootstrap write carries the private key).
 * type KDC_TYPE_RPK or KDC_TYPE_X509 (P-256 keys); status as for
 * kdc_core_psk_issue(). The private key is not kept: pkcs8 (capacity
 * *pkcs8_len, >= KDC_PRIVKEY_MAX is ample) receives it as PKCS#8 DER, a
 * secret the caller wipes. *pub (heap) is the SPKI DER (RPK) or the
 * certificate DER (X509, CN/SAN from the device id, the profile's
 * lifetime).
 */
kdc_err	kdc_core_keypair_issue(struct kdc_core *core, const char *actor,
	    const char *dev_id, const char *audience, enum kdc_cred_type type,
	    enum kdc_cred_status status, int64_t *cred_id, uint8_t *pkcs8,
	    size_t *pkcs8_len, uint8_t **pub, size_t *pub_len);
/* ---- EST enrollment in three steps ------------------------------------ */

enum kdc_enroll_op {
	KDC_ENROLL_SEN,		/* RFC 9148 simple enroll: a CSR certified */
	KDC_ENROLL_SREN,	/* re-enroll, over the current certificate */
	KDC_ENROLL_SKG,		/* server-side key generation */
};

/*
 * An EST enrollment (RFC 9148 sen, sren, skg), on the calling thread with
 * this core (its store connection and CA handle; a worker thread with a
 * core of its own, core/pool.h). Three steps:
 *   1. who may ask, and with what key (below);
 *   2. sen/sren: the CSR's self-signature verified and the certificate
 *      signed; skg: the CSR verified and checked to name the device in
 *      its subject CN (RFC 9148 §5.8: its key is ignored), a P-256 key
 *      pair made and its certificate signed (no transaction is open);
 *   3. step 1's checks again inside the transaction, on the key that was
 *      signed (a revocation in between wins), then issuance with the
 *      profile's lifetime and audience, its "cert.issue" record ending
 *      with note: one record and one commit.
 * The device acknowledges a new certificate by using it: while it has an
 * issued operational credential for the audience, the new one is stored
 * pending (e->pending) with on_use set, and the issued one stays usable;
 * the first time the new one authenticates (kdc_core_auth_cert()) it
 * becomes issued and supersedes the old one in one transaction, so a lost
 * answer never locks a device out. Without an issued one, or when the
 * issued one has the same key (a renewal without rekey), it is issued at
 * once. An earlier pending one is superseded either way.
 * Who may ask: sen (and skg) over the device's manufacturer credential,
 * sren (and skg) over its current operational certificate, the row still
 * issued (else REVOKED / EXPIRED; WRONG_TYPE for the other kind; DENIED
 * when not authenticated). The CSR's key (sen/sren) may be neither a
 * manufacturer key (the session's own, or any in the store: DENIED), nor
 * another device's key (DENIED), nor a revoked key (REVOKED); the
 * device's own live key may be certified again (RFC 7030 §4.2.2). The
 * certificate names the authenticated device (CN, SAN URI) whatever the
 * CSR's subject, but a CSR whose subject CN names another registered
 * device is refused (DENIED); skg's CSR must name the device itself.
 * CSR errors as kdc_ca_sign_csr(). A refusal returns the error with the
 * reason in e->why (never a secret) and changes nothing: the caller
 * audits it. Call kdc_enroll_wipe() after, whatever happened.
 *
 * kdc_core_enroll() runs the three steps. A worker with several requests
 * runs steps 1-2 of each with kdc_core_enroll_sign() (no write, no
 * transaction) and step 3 of them together with kdc_core_enroll_commit():
 * one transaction and one COMMIT (where SQLite writes the WAL frames)
 * for the group, each enrollment checked again and refused on its own
 * (e->status); a failed write or COMMIT undoes the group and each is then
 * committed alone. The outcome of each is that of kdc_core_enroll().
 */
struct kdc_enroll {
	/* the caller's */
	enum kdc_enroll_op	 op;
	struct kdc_principal	 who;
	const uint8_t		*csr;		/* DER; borrowed */
	size_t			 csr_len;
	char			 note[160];	/* ends the success record */
	/* the answer */
	kdc_err			 status;	/* of the last step run */
	struct kdc_issued	 is;		/* the certificate */
	uint8_t			 pkcs8[KDC_PRIVKEY_MAX];	/* skg: the key
						 * made, PKCS#8 DER, a secret */
	size_t			 pkcs8_len;
	int64_t			 cred_id;
	bool			 pending;	/* live on first use */
	char			 why[256];	/* a refusal's reason */
	/* between the steps */
	bool			 ready;		/* signed, step 3 to run */
	int64_t			 not_before;
	int64_t			 not_after;
};
/* The three steps; returns e->status. */
kdc_err	kdc_core_enroll(struct kdc_core *core, const char *actor,
	    struct kdc_enroll *e);
/* Steps 1 and 2: KDC_OK leaves e ready for step 3; a refusal as above. */
kdc_err	kdc_core_enroll_sign(struct kdc_core *core, struct kdc_enroll *e);
/* Step 3 for the ready ones of es[0..n-1] (the others are left alone),
 * in one transaction; each outcome in es[i]->status. */
void	kdc_core_enroll_commit(struct kdc_core *core, const char *actor,
	    struct kdc_enroll *const *es, size_t n);
/* The certificate and the private key wiped and freed. NULL-safe. */
void	kdc_enroll_wipe(struct kdc_enroll *e);
/* "sen", "sren", "skg" (RFC 9148 path segments). */
const char *kdc_enroll_op_str(enum kdc_enroll_op op);

/* The operational credential of dev_id for audience (NULL: the primary
 * audience of its profile) in status KDC_CRED_ISSUED or KDC_CRED_PENDING
 * (any other status: KDC_ERR_INVALID_ARG); NOT_FOUND if none,
 * UNKNOWN_AUDIENCE if the profile does not list audience. An index
 * lookup. */
kdc_err	kdc_core_cred_current(struct kdc_core *core, const char *dev_id,
	    const char *audience, enum kdc_cred_status status,
	    struct kdc_cred **out);
/* pending -> issued, superseding the live one for the same audience;
 * audited "cred.activate". */
kdc_err	kdc_core_cred_activate(struct kdc_core *core, const char *actor,
	    int64_t cred_id);
/* The same, with the success record the caller's (action, subject,
 * detail note + " activated cred=N audience=A") in the same transaction:
 * one record and one commit where the face would add its own (the LwM2M
 * bootstrap). action or subject NULL: as kdc_core_cred_activate(). A
 * refusal is a "cred.activate" record; the caller audits its own. */
kdc_err	kdc_core_cred_activate_as(struct kdc_core *core, const char *actor,
	    int64_t cred_id, const char *action, const char *subject,
	    const char *note);
/* The same for ids[0..n) (a bootstrap that wrote one per audience), in
 * one transaction: all of them or none. The success record's detail ends
 * " activated cred=N audience=A" for each; a refusal (one not pending:
 * INVALID_ARG; NOT_FOUND; n 0: INVALID_ARG) is one "cred.activate"
 * record naming the credential refused, and activates none. */
kdc_err	kdc_core_cred_activate_set(struct kdc_core *core, const char *actor,
	    const int64_t *ids, size_t n, const char *action,
	    const char *subject, const char *note);
/* Revoke one credential. NOT_FOUND if no such credential, REVOKED if it
 * already was. */
kdc_err	kdc_core_cred_revoke(struct kdc_core *core, const char *actor,
	    int64_t cred_id);
kdc_err	kdc_core_cred_list(struct kdc_core *core,
	    const struct kdc_cred_filter *f, struct kdc_cred ***out, size_t *n);
/* Mark credentials past not_after as expired, one audit record each. */
kdc_err	kdc_core_expire(struct kdc_core *core, const char *actor, size_t *n);

/*
 * The current CRL of our CA (DER, heap, caller frees): every revoked
 * operational X.509 credential whose certificate has not expired, revoked
 * at the row's status_at; nextUpdate = thisUpdate + KDC_CRL_VALIDITY.
 * Cached in the core and rebuilt when a revocation happened since (a
 * counter in the store's meta that kdc_core_cred_revoke() and
 * kdc_core_device_revoke() bump in their transaction, so a revocation by
 * any process or thread is seen at the next call), or when less than
 * KDC_CRL_RENEW_BEFORE is left before nextUpdate. cRLNumber is the
 * generation << 32 | thisUpdate (increasing, RFC 5280 5.2.3). NOT_FOUND
 * if the core has no CA.
 */
kdc_err	kdc_core_crl(struct kdc_core *core, uint8_t **der, size_t *len);

/* ---- manufacturer CAs and our CA -------------------------------------- */

kdc_err	kdc_core_mfg_ca_add(struct kdc_core *core, const char *actor,
	    const char *name, const uint8_t *buf, size_t len);
/* Our CA certificate in PEM (heap, NUL-terminated). */
kdc_err	kdc_core_ca_pem(struct kdc_core *core, char **pem, size_t *len);
/* Store reachable, still the file the data dir names, and its commits
 * succeeding (store.h kdc_store_write_state()): KDC_OK; else why. */
kdc_err	kdc_core_health(struct kdc_core *core);

/*
 * Group durability (store.h kdc_store_defer_sync()): for the core of a
 * thread that sends what it issued only at points it chooses (the CoAP
 * engine: requests made during an engine step leave after it). With
 * kdc_core_defer_sync(core, true) this core's commits stop syncing one by
 * one; kdc_core_sync() makes all of them durable with one sync, and must
 * run before any message carrying a credential they issued is sent. It
 * syncs at once when a credential was issued since the last sync, else
 * only once the oldest commit waiting is KDC_STORE_SYNC_DELAY_MS old.
 * KDC_ERR_IO when the disk refuses: send nothing of what was issued.
 */
kdc_err	kdc_core_defer_sync(struct kdc_core *core, bool on);
kdc_err	kdc_core_sync(struct kdc_core *core);
/* Every commit of this core durable now (one sync; none if nothing was
 * committed since the last), whatever it issued: before a message
 * carrying a key that commits recorded leaves (the OCF onboarding tool,
 * whose steps are records of progress, synced only where a key goes
 * out and at the end). KDC_ERR_IO. */
kdc_err	kdc_core_sync_all(struct kdc_core *core);

/*
 * Group commit (store.h kdc_store_batch_begin()): between
 * kdc_core_batch_begin() and kdc_core_batch_end() the core calls of this
 * core's thread share write transactions (each call still atomic on its
 * own, a refused call undone alone), committed at the end or earlier
 * when another thread waits for the write lock. For the CoAP engine,
 * whose loop step holds everything it sends until the step's sync:
 * batch_end before kdc_syncer_request(). _begin: KDC_ERR_INVALID_ARG
 * inside a transaction or a batch. _end: KDC_OK, or the error of a
 * commit that failed: calls that returned KDC_OK during the batch may
 * be lost, so nothing they led to may be sent (the rows this core keeps
 * in memory are dropped too).
 */
kdc_err	kdc_core_batch_begin(struct kdc_core *core);
kdc_err	kdc_core_batch_end(struct kdc_core *core);

/*
 * The same syncs on a thread of their own (core/syncer.c), for the CoAP
 * engine, which must not wait for a disk. kdc_syncer_new() on the core's
 * thread, after kdc_core_defer_sync(core, true) (else every commit is
 * durable already and the syncer does nothing). On that thread, outside
 * a transaction: kdc_syncer_request() returns a ticket covering every
 * commit of this core so far (0: nothing waits for a sync) and starts a
 * sync if needed; kdc_syncer_state() tells the last ticket synced and the
 * last whose sync failed (a later done ticket covers a failed one).
 * kdc_syncer_fd() becomes readable when a sync ends (-1: none ever
 * will). KDC_ERR_IO, KDC_ERR_NOMEM.
 */
struct kdc_syncer;
kdc_err	kdc_syncer_new(struct kdc_core *core, struct kdc_syncer **out);
int	kdc_syncer_fd(const struct kdc_syncer *s);
uint64_t kdc_syncer_request(struct kdc_syncer *s, struct kdc_core *core);
void	kdc_syncer_state(struct kdc_syncer *s, uint64_t *done,
	    uint64_t *failed);
void	kdc_syncer_free(struct kdc_syncer *s);

#include "core/ace.h"
#include "core/ocf.h"

#endif
