/*
 * kdcdev_ocf.h: an OCF 1.0 server's security state and request handling
 * (issue 16 §2; ../shared/protocols/ocf.md §1-§2), as pure functions:
 * a request (method, path, query, payload, the peer's context) in, a
 * response (code, CBOR payload, Content-Format 10000) out. No malloc, no
 * sockets, fixed tables (the codec's limits: KDC_OCF_CREDS_MAX creds,
 * KDC_OCF_ACES_MAX ACEs). The host port (kdcdev_host.h, port/ocf_host.c)
 * moves the bytes (DTLS, CoAP, multicast) and supplies what needs a
 * crypto library (randomness, the keypair, the CSR, X.509 checks)
 * through struct kdcdev_ocf_ops.
 *
 * Resources: /oic/res (rt= filter), /oic/d, /oic/p, /oic/sec/doxm,
 * /oic/sec/pstat, /oic/sec/cred, /oic/sec/acl2, /oic/sec/csr,
 * /oic/sec/sdi and the application resource /a/light
 * (oic.r.switch.binary: {"value": bool}).
 *
 * Answer codes (kdcdev_ocf_handle):
 *   2.05 GET, 2.04 POST, 2.02 DELETE;
 *   4.00 a payload that does not decode (truncated, malformed, over a
 *        limit), a property not writable in this state or from this
 *        peer (ocf.md §1 tables), an invalid dos.s transition, entering
 *        RFPRO/RFNOP/SRESET when pstat_check_state fails, a credential
 *        the device refuses (a cert not for its key/uuid, an owner PSK
 *        to derive without a DOC key_block);
 *   4.01 the access rules (ocf.md §1 "Evaluation") refuse the request;
 *   4.03 a cred or acl2 write or DELETE in RFNOP;
 *   4.04 no such resource, or DELETE ?credid=/?aceid= of none;
 *   4.05 a method the resource does not have;
 *   4.15 a Content-Format other than 10000/60, or an OCF version option
 *        below 2048 (kdcdev_ocf_coap_parse);
 *   5.00 a table is full, or a port callback failed.
 */
#ifndef KDCDEV_OCF_H
#define KDCDEV_OCF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "ocf/codec.h"

#define KDCDEV_OCF_CF		10000	/* application/vnd.ocf+cbor */
#define KDCDEV_OCF_CF_CBOR	60	/* application/cbor, also accepted */
#define KDCDEV_OCF_OPT_ACCEPT_VER	2049
#define KDCDEV_OCF_OPT_CONTENT_VER	2053
#define KDCDEV_OCF_VERSION	0x0800	/* OCF 1.0.0 */

#define KDCDEV_OCF_KEY_MAX	256	/* the device key, PKCS#8 DER */
#define KDCDEV_OCF_KEYBLOCK_MAX	96
#define KDCDEV_OCF_NAME_MAX	64	/* sdi name, /oic/d n */
#define KDCDEV_OCF_STATE_MAX	40960	/* kdcdev_ocf_state_encode() */

/* Who sent the request (the host port knows from its socket/session). */
enum kdcdev_ocf_peer_kind {
	KDCDEV_OCF_PEER_UNSECURED = 0,	/* plain CoAP (anon-clear) */
	KDCDEV_OCF_PEER_DOC,		/* the RFOTM onboarding session */
	KDCDEV_OCF_PEER_AUTH,		/* a PSK/cert session: uuid below */
};

struct kdcdev_ocf_peer {
	enum kdcdev_ocf_peer_kind	kind;
	struct kdc_ocf_uuid		uuid;	/* AUTH: PSK identity / cert CN */
};

/* Port callbacks; arg is passed back. Every one may be NULL only where
 * said. They return KDC_OK or an error (the request then answers 5.00). */
struct kdcdev_ocf_ops {
	void	*arg;
	/* n random bytes (required). */
	kdc_err	(*random)(void *arg, uint8_t *buf, size_t n);
	/* Show the 8-digit PIN (NUL-terminated) to the user (required when
	 * the device offers RDP). */
	kdc_err	(*pin_display)(void *arg, const char *pin);
	/* A new P-256 keypair as PKCS#8 DER into key (capacity *key_len in,
	 * length out). NULL: the device has no key (no csr, no cert). */
	kdc_err	(*new_keypair)(void *arg, uint8_t *key, size_t *key_len);
	/* A PEM PKCS#10 CSR, subject CN=uuid:<uuid>, signed with key, into
	 * out (capacity *out_len in, length out, no NUL). */
	kdc_err	(*csr)(void *arg, const uint8_t *key, size_t key_len,
		    const char *uuid, char *out, size_t *out_len);
	/* Check a PEM certificate posted in /oic/sec/cred: usage
	 * KDC_OCF_USAGE_CERT: its public key is key's and its CN is
	 * uuid:<uuid>; KDC_OCF_USAGE_TRUSTCA: it parses as a certificate.
	 * Any error refuses the credential (4.00). NULL: every cert refused. */
	kdc_err	(*cert_check)(void *arg, enum kdc_ocf_credusage usage,
		    const uint8_t *pem, size_t pem_len, const uint8_t *key,
		    size_t key_len, const char *uuid);
	/* A state change worth a log line (never a secret). May be NULL. */
	void	(*log)(void *arg, const char *msg);
};

/* The device. Persistent part first (kdcdev_ocf_state_encode), then the
 * session-bound part the host port sets, then scratch space. */
struct kdcdev_ocf {
	/* ---- persistent ---- */
	struct kdc_ocf_doxm	doxm;
	struct kdc_ocf_pstat	pstat;
	struct kdc_ocf_creds	creds;	/* privatedata holds the PSKs */
	struct kdc_ocf_acl2	acl2;
	struct kdc_ocf_uuid	sdi_uuid;
	char			sdi_name[KDCDEV_OCF_NAME_MAX];
	bool			sdi_priv;
	bool			sdi_set;
	bool			light;
	int64_t			next_credid;
	int64_t			next_aceid;
	uint8_t			key[KDCDEV_OCF_KEY_MAX];	/* PKCS#8 */
	size_t			key_len;
	/* ---- configuration (kdcdev_ocf_init) ---- */
	bool			has_pin;	/* offers RDP */
	bool			has_mfgcert;	/* offers mfgcert */
	char			name[KDCDEV_OCF_NAME_MAX];	/* /oic/d n */
	struct kdcdev_ocf_ops	ops;
	/* endpoints for /oic/res "eps" (the host sets them once bound):
	 * the address (no brackets), its zone ("" none), whether IPv6; a
	 * port 0 is left out */
	char			ep_host[KDC_OCF_HOST_MAX];
	char			ep_zone[KDC_OCF_ZONE_MAX];
	bool			ep_ipv6;
	uint16_t		coap_port;
	uint16_t		coaps_port;
	/* ---- the DOC (host port) ---- */
	bool			doc_active;
	uint8_t			key_block[KDCDEV_OCF_KEYBLOCK_MAX];
	size_t			key_block_len;
	/* ---- outputs ---- */
	bool			changed;	/* the persistent part changed:
						 * save it, then clear */
	bool			reset_done;	/* a hard reset happened (the
						 * host ends sessions) */
	char			pin[9];		/* the displayed PIN (RDP) */
	/* ---- scratch: decoded request bodies ---- */
	union {
		struct kdc_ocf_doxm	doxm;
		struct kdc_ocf_pstat	pstat;
		struct kdc_ocf_creds	creds;
		struct kdc_ocf_acl2	acl2;
		struct kdc_ocf_links	links;
	}			scratch;
};

/*
 * A fresh device in RFOTM: new random deviceuuid, oxms from has_pin /
 * has_mfgcert (at least one: else INVALID_ARG), oxmsel 4, a new keypair
 * (ops.new_keypair when set). ops.random is required. Errors: INVALID_ARG,
 * or a callback's.
 */
kdc_err	kdcdev_ocf_init(struct kdcdev_ocf *d, const struct kdcdev_ocf_ops *ops,
	    bool has_pin, bool has_mfgcert, const char *name);

/*
 * The hard reset (dos.s=0, or the DOC closing in RFOTM): wipes doxm,
 * cred, acl2 and sdi, the PIN and the key_block, makes a new random
 * deviceuuid and keypair, back to RFOTM with oxmsel 4. Sets changed and
 * reset_done.
 */
kdc_err	kdcdev_ocf_reset(struct kdcdev_ocf *d);

/* The DOC: begin (after its handshake: the key_block of ocf.md §2, copied)
 * and end. Ending it while in RFOTM is a hard reset (returns what
 * kdcdev_ocf_reset() returns). The key_block and the PIN are wiped on
 * end. */
void	kdcdev_ocf_doc_begin(struct kdcdev_ocf *d, const uint8_t *key_block,
	    size_t len);
kdc_err	kdcdev_ocf_doc_end(struct kdcdev_ocf *d);

/* Whether the DTLS side may start a DOC: RFOTM, oxmsel 1 or 2 (not 4)
 * and offered, and no DOC already. */
bool	kdcdev_ocf_doc_allowed(const struct kdcdev_ocf *d);

/* The PSK of the credtype-1 credential whose subject is uuid (the later
 * owner/pairwise sessions): KDC_OK with psk/len, or NOT_FOUND. psk points
 * into d. */
kdc_err	kdcdev_ocf_psk_lookup(const struct kdcdev_ocf *d,
	    const uint8_t uuid[16], const uint8_t **psk, size_t *len);

/* RDP: PBKDF2-HMAC-SHA256(pin, deviceuuid raw, 1000, 16) (ocf.md §2).
 * INVALID_ARG without a PIN displayed. */
kdc_err	kdcdev_ocf_rdp_psk(const struct kdcdev_ocf *d, uint8_t psk[16]);

/* The derivations, portable (SHA-256 of sha256.c), equal to the daemon's
 * crypto/ocf.c ones (test_ocf checks): the TLS 1.2 PRF P_SHA256 with the
 * label concatenated into the seed, and PBKDF2-HMAC-SHA256. out_len <=
 * 1024 / label_len <= 64 / dk_len <= 64; else INVALID_ARG. */
kdc_err	kdcdev_ocf_prf(const uint8_t *secret, size_t secret_len,
	    const void *label, size_t label_len, const void *seed,
	    size_t seed_len, uint8_t *out, size_t out_len);
kdc_err	kdcdev_ocf_pbkdf2(const uint8_t *pw, size_t pw_len,
	    const uint8_t *salt, size_t salt_len, unsigned iter, uint8_t *dk,
	    size_t dk_len);
/* The owner PSK of ocf.md §2 for d's oxmsel, devowneruuid, deviceuuid and
 * the DOC's key_block (INVALID_ARG without one). */
kdc_err	kdcdev_ocf_owner_psk(const struct kdcdev_ocf *d, uint8_t psk[16]);

/* One request. path starts with '/'; query is the Uri-Query items joined
 * by '&' ("" when none); payload may be NULL when payload_len is 0;
 * content_format -1 when absent. */
struct kdcdev_ocf_req {
	uint8_t			 method;	/* KDCDEV_GET .. KDCDEV_DELETE */
	const char		*path;
	const char		*query;
	int32_t			 content_format;
	const uint8_t		*payload;
	size_t			 payload_len;
	struct kdcdev_ocf_peer	 peer;
};

struct kdcdev_ocf_resp {
	uint8_t		 code;		/* KDCDEV_CODE(2, 5) ... */
	int32_t		 content_format;	/* KDCDEV_OCF_CF or -1 */
	uint8_t		*out;		/* caller's buffer */
	size_t		 out_cap;	/* 4096 suffices */
	size_t		 out_len;
};

/* Handle one request (answer codes at the top). Never fails otherwise. */
void	kdcdev_ocf_handle(struct kdcdev_ocf *d, const struct kdcdev_ocf_req *req,
	    struct kdcdev_ocf_resp *resp);

/* The access decision alone (ocf.md §1 "Evaluation"): true if granted. */
bool	kdcdev_ocf_access(const struct kdcdev_ocf *d, uint8_t method,
	    const char *path, const struct kdcdev_ocf_peer *peer);

/*
 * Persistent state (the parts marked persistent above; the PSKs and the
 * private key included, in the clear: the file's mode 0600 is its only
 * protection, as for the LwM2M state). Format: "KDCOCF\0\1", body length
 * (be32), the body (doxm, pstat, cred, acl2 as their CBOR payloads, each
 * be32-length-prefixed, then sdi, light, ids, key), CRC-32 (be32).
 * encode: out capacity *out_len (KDCDEV_OCF_STATE_MAX suffices); TOO_LARGE.
 * decode: into d's persistent part only (configuration kept), checked
 * whole first: TRUNCATED, MALFORMED (magic, CRC, a payload), TOO_LARGE.
 */
kdc_err	kdcdev_ocf_state_encode(const struct kdcdev_ocf *d, uint8_t *out,
	    size_t *out_len);
kdc_err	kdcdev_ocf_state_decode(struct kdcdev_ocf *d, const uint8_t *buf,
	    size_t len);

/* ---- CoAP over UDP framing (RFC 7252 §3, RFC 7959) -------------------- */

#define KDCDEV_OCF_PATH_MAX	64
#define KDCDEV_OCF_QUERY_MAX	128

/* A parsed CoAP message (request or response); pointers into the input. */
struct kdcdev_ocf_coap {
	uint8_t		 type;		/* 0 CON, 1 NON, 2 ACK, 3 RST */
	uint8_t		 code;
	uint16_t	 mid;
	uint8_t		 token[8];
	size_t		 tkl;
	char		 path[KDCDEV_OCF_PATH_MAX];	/* "/a/b" ("/" none) */
	char		 query[KDCDEV_OCF_QUERY_MAX];	/* "a=b&c" */
	int32_t		 content_format;	/* -1 absent */
	int32_t		 accept;		/* -1 absent */
	int32_t		 ocf_accept_ver;	/* 2049, -1 absent */
	int32_t		 ocf_content_ver;	/* 2053, -1 absent */
	bool		 has_block1, has_block2;
	uint32_t	 block1_num, block2_num;
	bool		 block1_more, block2_more;
	unsigned	 block1_szx, block2_szx;
	bool		 bad_critical;	/* an unknown critical option */
	bool		 too_long;	/* path or query over its buffer */
	const uint8_t	*payload;
	size_t		 payload_len;
};

/* MALFORMED/TRUNCATED for bytes that are not a CoAP message. */
kdc_err	kdcdev_ocf_coap_parse(const uint8_t *msg, size_t len,
	    struct kdcdev_ocf_coap *m);

/*
 * Build a response (type ACK for a CON, NON for a NON; same MID and
 * token) with code, Content-Format cf (-1: none; 10000 with ocf_version
 * adds option 2053 = 0x0800), an optional Block1 (block1_szx >= 0: echo num/szx, M=0 or
 * 1) or Block2 (num, more, szx) option and the payload. Or a request
 * (type CON/NON, code 0.01-0.04: path/query as options; the client).
 * TOO_LARGE if out is too small.
 */
struct kdcdev_ocf_coap_out {
	uint8_t		 type;
	uint8_t		 code;
	uint16_t	 mid;
	const uint8_t	*token;
	size_t		 tkl;
	const char	*path;		/* requests; NULL for a response */
	const char	*query;
	int32_t		 content_format;
	bool		 ocf_version;	/* 2053 with CF 10000 (requests:
					 * 2049 and 2053) */
	int		 block1_szx;	/* -1 none */
	uint32_t	 block1_num;
	bool		 block1_more;
	int		 block2_szx;	/* -1 none */
	uint32_t	 block2_num;
	bool		 block2_more;
	const uint8_t	*payload;
	size_t		 payload_len;
};
/* One CoAP message into out (capacity *out_len; set to the length):
 * KDC_OK, KDC_ERR_TOO_LARGE (does not fit), KDC_ERR_INVALID_ARG (a token
 * over 8 bytes, a type over 3, an empty path segment or query item, one
 * over 255 bytes, more than 8 query items). */
kdc_err	kdcdev_ocf_coap_build(const struct kdcdev_ocf_coap_out *o,
	    uint8_t *out, size_t *out_len);

/* ---- one CoAP exchange ------------------------------------------------- */

#define KDCDEV_OCF_BLOCK1_MAX	4096

/* A peer's Block1 reassembly (RFC 7959 §2.5), zeroed to start. */
struct kdcdev_ocf_block1 {
	uint8_t		buf[KDCDEV_OCF_BLOCK1_MAX];
	size_t		len;
	bool		active;
};

/*
 * One request datagram (CON or NON; anything else: no answer) to its
 * answer in out (capacity *out_len; 0 out: send nothing): 4.02 for an
 * unknown critical option, 4.15 for an OCF version option below 2048,
 * 4.04 for a path/query over its buffer; Block1 joined in b1 (NULL: none)
 * up to KDCDEV_OCF_BLOCK1_MAX bytes (2.31 Continue per block, 4.13
 * beyond, 4.08 out of order); then kdcdev_ocf_handle() with the body,
 * its answer in scratch (scratch_cap; wiped after); an answer over 1024
 * bytes (or the client's smaller Block2 size) goes as Block2, a block
 * past the end is 4.02. The answer is a piggybacked ACK for a CON (same
 * MID), a NON with MID (*next_mid)++ for a NON; CF 10000 answers carry
 * 2053 = 0x0800 only when the request carried 2049 or 2053. multicast:
 * only GET /oic/res and, while unowned, GET /oic/sec/doxm (no query or
 * owned=FALSE), answered only with 2.05. m and code (may be NULL) get
 * the parsed request and the answer's code (0: none) for the log.
 */
void	kdcdev_ocf_exchange(struct kdcdev_ocf *d, const uint8_t *in,
	    size_t in_len, const struct kdcdev_ocf_peer *peer,
	    struct kdcdev_ocf_block1 *b1, bool multicast, uint16_t *next_mid,
	    uint8_t *scratch, size_t scratch_cap, uint8_t *out,
	    size_t *out_len, struct kdcdev_ocf_coap *m, uint8_t *code);


/* Debug text of a CBOR payload ("{"value": true}") into out (always
 * NUL-terminated); for the CLI. */
void	kdcdev_ocf_cbor_text(const uint8_t *in, size_t len, char *out,
	    size_t cap);

#endif
