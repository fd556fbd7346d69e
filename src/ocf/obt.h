/*
 * obt.h: the KDC as OCF Onboarding Tool, CMS and AMS on the wire (issue
 * 16; the sequences of the OCF research notes §2, the ones IoTivity-Lite's
 * OBT runs). In OCF the KDC is the CoAP client: these calls drive a
 * short-lived engine of their own (coap.h client mode: kdc_coap_multicast,
 * kdc_coap_connect2, kdc_coap_request2) and run it until their sequence
 * ends, on the calling thread (the CLI's). Glue: every decision, key and
 * record is core's (core/ocf.h); this file moves payloads (ocf/codec.h)
 * and says which step a device refused.
 *
 * Every request carries Content-Format 10000 (with a payload), Accept
 * 10000 and OCF's version options 2049/2053 = 0x0800.
 *
 * Errors of every call, besides the ones named: KDC_ERR_INVALID_ARG (a
 * NULL, a uuid not in 36-character form), KDC_ERR_NOT_FOUND (the device
 * is not recorded, or not on the link), KDC_ERR_TIMEOUT (no answer),
 * KDC_ERR_TLS (the DTLS handshake failed: a wrong PIN, a device that
 * does not know our owner key), KDC_ERR_UNTRUSTED (the mfgcert OTM: a
 * manufacturer certificate under no CA we trust), KDC_ERR_PEER_ERROR (a
 * device answered a step with a 4.xx/5.xx), KDC_ERR_MALFORMED (an answer
 * we cannot decode), core's refusals. why (optional) gets one line for
 * the operator: the step and what happened, never a key or PIN.
 */
#ifndef KDC_OCF_OBT_H
#define KDC_OCF_OBT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ocf/codec.h"

struct kdc_core;
struct kdc_config;
struct kdc_ocf_obt;

#define KDC_OCF_PORT		5683
#define KDC_OCF_GROUP6		"ff02::158"	/* All OCF Nodes, link-local */
#define KDC_OCF_GROUP4		"224.0.1.187"	/* All CoAP Nodes */
#define KDC_OCF_FOUND_MAX	64
#define KDC_OCF_ADDR_MAX	80	/* "fe80::...%ifname" */

/* A device that answered discovery. */
struct kdc_ocf_found {
	char		 uuid[KDC_OCF_UUID_TEXT + 1];	/* its anchor */
	char		 addr[KDC_OCF_ADDR_MAX];	/* it answered from */
	int		 coap_port;		/* from its eps; 0: none */
	int		 coaps_port;
	/* from an unsecured GET /oic/sec/doxm (doxm_ok false if it did not
	 * answer one: an owned device refuses it after RFOTM) */
	bool		 doxm_ok;
	bool		 owned;
	int64_t		 oxms[KDC_OCF_OXMS_MAX];
	size_t		 n_oxms;
	uint64_t	 sct;
};

/*
 * An OBT over core for devices on interface ifname (the link its
 * multicast goes out on, and the zone of link-local addresses), window_ms
 * the discovery window (100..30000). KDC_ERR_NOMEM, the engine's errors.
 */
kdc_err	kdc_ocf_obt_new(struct kdc_core *core, const struct kdc_config *cfg,
	    const char *ifname, unsigned window_ms, struct kdc_ocf_obt **out);
void	kdc_ocf_obt_free(struct kdc_ocf_obt *o);

/*
 * Multicast GET /oic/res?rt=oic.r.doxm to ff02::158 (and 224.0.1.187 if
 * the interface has IPv4) port 5683; each answer's doxm link gives the
 * device's uuid and coap/coaps ports; then an unsecured GET
 * /oic/sec/doxm to each tells owned, oxms, sct. out[0..max), *n
 * (duplicates over IPv4 and IPv6 merged, IPv6 kept). KDC_OK also when
 * nobody answered (*n 0).
 */
kdc_err	kdc_ocf_obt_discover(struct kdc_ocf_obt *o, struct kdc_ocf_found *out,
	    size_t max, size_t *n);

struct kdc_ocf_onboard_opts {
	const char	*uuid;		/* as discovered */
	int		 otm;		/* KDC_OCF_OXM_RDP, _MFGCERT, _JW */
	/* RDP: the file the device's PIN is read from (8 digits, as the
	 * device shows it once oxmsel=1 is posted; read when its mtime is
	 * later than that POST, waiting at most pin_wait_s) */
	const char	*pin_file;
	unsigned	 pin_wait_s;
	/* where the device is, from an earlier kdc_ocf_obt_discover() (its
	 * uuid must be op->uuid), or NULL: discover it now */
	const struct kdc_ocf_found *found;
	/* KDC_OCF_OXM_JW only, and required for it: the operator accepts,
	 * for this device, an onboarding that authenticates nobody (Just
	 * Works: anonymous ECDH, suite 0xFF00; whoever answers on the link
	 * first gets the owner PSK, a man in the middle reads and changes
	 * everything) */
	bool		 unauthenticated;
};

/*
 * Onboard the device (ocf.md §2 "OBT sequence", every step over one DTLS
 * session, the DOC): unsecured GET doxm (unowned, offering otm), POST
 * oxmsel; DTLS DOC (RDP: ECDHE-PSK with the PIN's PBKDF2 key; mfgcert:
 * ECDHE-ECDSA, the device's chain checked by kdc_core_ocf_mfg_check();
 * JW: the engine's own anonymous-ECDH handshake, suite 0xFF00);
 * pstat om=4; doxm devowneruuid, deviceuuid (the new one core made),
 * rowneruuid; acl2 and pstat rowneruuid; the owner PSK derived from the
 * session (the TLS PRF on its key_block) and stored by core before the
 * device is told to derive it (cred, empty privatedata); sdi (a 404 is
 * tolerated); doxm owned; pstat RFPRO; acl2 cleared and the default ACEs
 * posted; pstat RFNOP. Each step is recorded (kdc_core_ocf_step()); a
 * failure leaves the step that failed recorded, and the device, whose
 * DOC closes in RFOTM, resets itself (a new uuid: discover again).
 * new_uuid gets the device's uuid from now on. Also: KDC_ERR_EXISTS
 * (already owned), KDC_ERR_UNSUPPORTED (the device does not offer otm), KDC_ERR_DENIED
 * (Just Works without op->unauthenticated).
 */
kdc_err	kdc_ocf_obt_onboard(struct kdc_ocf_obt *o,
	    const struct kdc_ocf_onboard_opts *op,
	    char new_uuid[KDC_OCF_UUID_TEXT + 1], char *why, size_t why_len);

/*
 * For benchmarks: what an onboarding of op's device costs in handshakes
 * alone. The unsecured GET doxm and POST oxmsel, the PIN (RDP), then the
 * DTLS onboarding handshake and nothing over it: the session is closed,
 * so the device (its DOC closed in RFOTM) resets to a new uuid on the
 * same ports. *hs_us: the handshake alone, from the ClientHello to the
 * established session, microseconds. Nothing is recorded. As
 * kdc_ocf_obt_onboard() for errors.
 */
kdc_err	kdc_ocf_obt_doc_only(struct kdc_ocf_obt *o,
	    const struct kdc_ocf_onboard_opts *op, uint64_t *hs_us, char *why,
	    size_t why_len);

/*
 * Owner sessions (ECDHE-PSK, identity the OBT uuid's 16 raw bytes, the
 * owner PSK core keeps) wrap each provisioning in pstat RFPRO ... RFNOP.
 *
 * pair: a pairwise PSK between two owned devices (kdc_core_ocf_pair_
 * issue()), credtype 1 posted to each with the other as subject, then
 * kdc_core_ocf_pair_done().
 * cert: trust anchor (the iotkdc CA, credusage trustca), the device's
 * /oic/sec/csr signed by core (kdc_core_ocf_cert_sign()), the
 * certificate posted (credusage cert), an auth-crypt ACE for
 * /oic/sec/roles; the credential activated once the device took it.
 * acl_add: one ACE posted to /oic/sec/acl2.
 * offboard: pstat dos.s=0 (the device's hard reset), then each device
 * holding a pairwise key for it gets that credential deleted, then
 * kdc_core_ocf_offboard(); on a device offboarded already, only the
 * deletions from its peers again (one unreachable then). force: record
 * the offboarding even when the
 * device cannot be reached (its old credentials are revoked here; the
 * device keeps them until it is reset by hand).
 */
kdc_err	kdc_ocf_obt_pair(struct kdc_ocf_obt *o, const char *uuid1,
	    const char *uuid2, char *why, size_t why_len);
kdc_err	kdc_ocf_obt_cert(struct kdc_ocf_obt *o, const char *uuid, char *why,
	    size_t why_len);
kdc_err	kdc_ocf_obt_acl_add(struct kdc_ocf_obt *o, const char *uuid,
	    const struct kdc_ocf_ace *ace, char *why, size_t why_len);
kdc_err	kdc_ocf_obt_offboard(struct kdc_ocf_obt *o, const char *uuid,
	    bool force, char *why, size_t why_len);

/* Text of an OTM for the CLI: "rdp", "mfgcert", "jw"; "?" otherwise. */
const char *kdc_ocf_otm_name(int otm);
/* The OXM string of the owner-PSK derivation ("oic.sec.doxm.rdp"). */
const char *kdc_ocf_oxm_string(int otm);

#endif
