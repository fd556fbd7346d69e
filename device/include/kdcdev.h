/*
 * kdcdev.h: libiotkdc-device, a portable LwM2M 1.1 client core.
 *
 * The core holds the Security (/0) and Server (/1) objects of one device in
 * a struct the caller provides (struct kdcdev_lwm2m, fixed-size arrays sized
 * by kdcdev_config.h; no pointer inside, so memcpy() copies it), answers the
 * Bootstrap Server's requests (Discover, Delete, Write in TLV or SenML-CBOR,
 * Finish), builds the Bootstrap-Request and the Register / Update /
 * De-register requests, and serializes its state. It does no I/O and never
 * calls malloc: a port (port/host.c for POSIX + libcoap + GnuTLS) moves the
 * bytes.
 *
 * Errors are kdc_err values (base/err.h): KDC_OK is 0, errors negative.
 * The context keeps a sticky error: the first failure recorded with
 * kdcdev_fail() (by the core for a broken invariant, by a port for I/O)
 * wins, and from then on the request handler answers 5.03 and the builders
 * return that error, until kdcdev_clear_err().
 */
#ifndef KDCDEV_H
#define KDCDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kdcdev_config.h"
#include "base/err.h"

/* ---- objects ------------------------------------------------------------ */

/* /0/x/2 Security Mode (LwM2M 1.1 Core §E.1). */
enum kdcdev_mode {
	KDCDEV_MODE_PSK = 0,
	KDCDEV_MODE_RPK = 1,
	KDCDEV_MODE_CERT = 2,
	KDCDEV_MODE_NOSEC = 3,
	KDCDEV_MODE_EST = 4,	/* stored, refused at register time */
};

/* One /0 instance. Lengths count bytes; uri is also NUL-terminated. */
struct kdcdev_security {
	uint8_t		used;
	uint8_t		bootstrap;		/* /0/x/1 */
	uint8_t		mode;			/* /0/x/2, enum kdcdev_mode */
	uint16_t	iid;
	int32_t		ssid;			/* /0/x/10, -1 when absent */
	uint32_t	holdoff;		/* /0/x/11 seconds */
	uint32_t	bs_timeout;		/* /0/x/12 seconds */
	char		uri[KDCDEV_URI_MAX];	/* /0/x/0 */
	uint16_t	ident_len;
	uint8_t		ident[KDCDEV_IDENTITY_MAX];	/* /0/x/3 */
	uint16_t	server_key_len;
	uint8_t		server_key[KDCDEV_SERVER_KEY_MAX];	/* /0/x/4 */
	uint16_t	secret_len;
	uint8_t		secret[KDCDEV_SECRET_MAX];	/* /0/x/5 */
};

/* One /1 instance. */
struct kdcdev_server {
	uint8_t		used;
	uint8_t		notif_storing;		/* /1/x/6 */
	uint16_t	iid;
	uint16_t	ssid;			/* /1/x/0 */
	uint32_t	lifetime;		/* /1/x/1 seconds */
	uint32_t	pmin, pmax;		/* /1/x/2, /1/x/3 */
	uint32_t	disable_timeout;	/* /1/x/5 */
	char		binding[KDCDEV_BINDING_MAX];	/* /1/x/7, NUL-terminated */
};

enum kdcdev_log_level {
	KDCDEV_LOG_ERR = 0,
	KDCDEV_LOG_WARN,
	KDCDEV_LOG_INFO,
	KDCDEV_LOG_DEBUG,
};

/* Log sink: one line, no trailing newline, never a secret. */
typedef void (*kdcdev_log_fn)(void *arg, enum kdcdev_log_level lvl,
    const char *msg);

/* The whole client state. Caller-allocated; initialise with kdcdev_init(). */
struct kdcdev_lwm2m {
	char			ep[KDCDEV_EP_MAX];	/* endpoint client name */
	struct kdcdev_security	sec[KDCDEV_MAX_SECURITY];
	struct kdcdev_server	srv[KDCDEV_MAX_SERVER];
	uint8_t			bs_finished;	/* Finish was accepted */
	uint8_t			bs_enrolled;	/* the server account was
						 * written in mode 4 and its
						 * certificate came by EST on
						 * the bootstrap session (host
						 * port; not persisted) */
	uint8_t			registered;
	char			location[KDCDEV_LOCATION_MAX];	/* "rd/ID" */
	kdc_err			err;		/* sticky; KDC_OK while healthy */
	kdcdev_log_fn		log;		/* may be NULL */
	void			*log_arg;
};

/* Empty objects, no error; ep is copied (NUL-terminated; longer than
 * KDCDEV_EP_MAX - 1 or empty: KDC_ERR_INVALID_ARG and c->err set). */
kdc_err	kdcdev_init(struct kdcdev_lwm2m *c, const char *ep);
/* Zero every byte of c (secrets included) with kdc_wipe(), which the
 * compiler may not optimize out. */
void	kdcdev_wipe(struct kdcdev_lwm2m *c);
void	kdcdev_set_log(struct kdcdev_lwm2m *c, kdcdev_log_fn fn, void *arg);

/* Record err as the sticky error if none is recorded yet (first error
 * wins); returns the recorded error. err == KDC_OK does nothing. */
kdc_err	kdcdev_fail(struct kdcdev_lwm2m *c, kdc_err err);
kdc_err	kdcdev_get_err(const struct kdcdev_lwm2m *c);
void	kdcdev_clear_err(struct kdcdev_lwm2m *c);

/*
 * Create the bootstrap account /0/iid (bootstrap = 1) from factory
 * credentials: mode PSK (ident = identity, secret = key), RPK (ident =
 * own SPKI DER, secret = PKCS#8 DER, server_key = BS SPKI DER or empty) or
 * CERT (ident = own certificate DER, secret = PKCS#8 DER, server_key = CA
 * or server certificate DER, or empty). Borrowed buffers are copied.
 * KDC_ERR_TOO_LARGE if a value exceeds its KDCDEV_*_MAX, KDC_ERR_EXISTS if
 * a bootstrap account exists already, KDC_ERR_INVALID_ARG for a bad mode.
 */
kdc_err	kdcdev_set_bootstrap_account(struct kdcdev_lwm2m *c, uint16_t iid,
	    const char *uri, enum kdcdev_mode mode, const uint8_t *ident,
	    size_t ident_len, const uint8_t *server_key, size_t server_key_len,
	    const uint8_t *secret, size_t secret_len);

/* Index of the bootstrap account in c->sec, or -1. */
int	kdcdev_bootstrap_account(const struct kdcdev_lwm2m *c);

/*
 * The LwM2M server account to register with: the first non-bootstrap /0
 * instance whose ssid matches a /1 instance. Sets *sec_idx and *srv_idx
 * (indexes into c->sec / c->srv). KDC_ERR_NOT_FOUND if there is none.
 */
kdc_err	kdcdev_dm_account(const struct kdcdev_lwm2m *c, size_t *sec_idx,
	    size_t *srv_idx);

/* ---- requests from the Bootstrap Server --------------------------------- */

/* CoAP method codes (RFC 7252 §12.1.1) and the response codes we send. */
#define KDCDEV_GET		1
#define KDCDEV_POST		2
#define KDCDEV_PUT		3
#define KDCDEV_DELETE		4
#define KDCDEV_CODE(c, d)	((uint8_t)(((c) << 5) | (d)))

/* Content-Formats (LwM2M 1.1 Core §7.3). */
#define KDCDEV_CF_LINK		40
#define KDCDEV_CF_SENML_CBOR	112
#define KDCDEV_CF_TLV		11542

/* One decoded request, borrowed from the caller's message. */
struct kdcdev_req {
	uint8_t		 method;		/* KDCDEV_GET .. KDCDEV_DELETE */
	size_t		 nseg;			/* Uri-Path segments */
	const char	*seg[KDCDEV_MAX_PATH];	/* not NUL-terminated */
	size_t		 seg_len[KDCDEV_MAX_PATH];
	bool		 path_too_long;		/* more than KDCDEV_MAX_PATH */
	int32_t		 content_format;	/* -1 when absent */
	int32_t		 accept;		/* -1 when absent */
	const uint8_t	*payload;
	size_t		 payload_len;
};

/* The answer: code (KDCDEV_CODE(2, 4) ...), content_format (-1 = none) and
 * payload written into the caller's out buffer. */
struct kdcdev_resp {
	uint8_t		 code;
	int32_t		 content_format;
	uint8_t		*out;		/* caller's buffer */
	size_t		 out_cap;	/* its capacity */
	size_t		 out_len;	/* bytes written */
};

/*
 * Handle one request the Bootstrap Server sent on the bootstrap session
 * (LwM2M 1.1 Core §5.2.7, §6.1.7):
 *   GET /, /0, /1 (Accept absent or 40)  Bootstrap-Discover: 2.05
 *       "</>;lwm2m=1.1,</0/x>[;ssid=N],...,</1>|</1/x>;ssid=N"; the BS
 *       account is listed without ssid. Other GETs: 4.05 (Read of /0 is
 *       forbidden) or 4.06 (unsupported Accept).
 *   DELETE /, /0, /1, /0/x, /1/x, /oid...  2.02, never deleting the BS
 *       account (/0/x of it: 4.00); objects we do not have: 2.02.
 *   PUT /0[/x], /1[/x] with CF 11542 or 112  Bootstrap-Write: 2.04. The
 *       whole payload is checked before anything is applied, so a refused
 *       write (4.00 malformed, 4.13 value over its limit, 4.15 format,
 *       4.04 object we do not have, 5.00 no free instance) leaves the
 *       objects untouched. Writing the BS account's /0/x/1 to 0 is 4.00.
 *   POST /bs  Bootstrap-Finish: 2.04 when at least one non-BS /0 instance
 *       has an ssid matching a /1 instance and credentials fit its mode,
 *       else 4.06 Not Acceptable. Sets c->bs_finished.
 * Anything else: 4.04 / 4.05. With a sticky error set: 5.03.
 * resp->out/out_cap must be set by the caller (KDCDEV_BUF_MIN suffices);
 * the handler sets code, content_format and out_len.
 */
void	kdcdev_bs_handle(struct kdcdev_lwm2m *c, const struct kdcdev_req *req,
	    struct kdcdev_resp *resp);

/*
 * The same handler driven by raw CoAP-over-UDP bytes (RFC 7252 §3): parses
 * the CON/NON request in msg, calls kdcdev_bs_handle() and encodes the
 * piggy-backed ACK (or NON) response with the same token into out
 * (capacity *out_len in, bytes used out). For ports without a CoAP stack,
 * and for tests. KDC_ERR_MALFORMED for bytes that are not a CoAP request
 * (nothing to answer), KDC_ERR_TOO_LARGE if out is too small.
 */
kdc_err	kdcdev_coap_dispatch(struct kdcdev_lwm2m *c, const uint8_t *msg,
	    size_t msg_len, uint8_t *out, size_t *out_len);

/* ---- requests the device sends ------------------------------------------ */

/*
 * An outgoing request, built into the caller's buffer: path is
 * '/'-separated Uri-Path segments without a leading '/', query is
 * '&'-separated Uri-Query items (may be empty), payload may be empty.
 * All three point into the buffer given to the builder.
 */
struct kdcdev_msg {
	uint8_t		 method;
	const char	*path;
	const char	*query;
	int32_t		 content_format;	/* -1 = none */
	const uint8_t	*payload;
	size_t		 payload_len;
};

/* Bootstrap-Request: POST /bs?ep=EP&pct=PCT (pct < 0: omitted). */
kdc_err	kdcdev_msg_bootstrap(struct kdcdev_lwm2m *c, int32_t pct,
	    struct kdcdev_msg *m, uint8_t *buf, size_t buf_len);
/* Register: POST /rd?ep=EP&lt=LT&lwm2m=1.1&b=BINDING with the link-format
 * list of our object instances ("</1/x>"); lifetime 0 takes /1/x/1 of the
 * account chosen by kdcdev_dm_account(). KDC_ERR_NOT_FOUND without one. */
kdc_err	kdcdev_msg_register(struct kdcdev_lwm2m *c, uint32_t lifetime,
	    struct kdcdev_msg *m, uint8_t *buf, size_t buf_len);
/* Update: POST /LOCATION[?lt=LT] (lifetime 0: no query). Not registered:
 * KDC_ERR_INVALID_ARG. */
kdc_err	kdcdev_msg_update(struct kdcdev_lwm2m *c, uint32_t lifetime,
	    struct kdcdev_msg *m, uint8_t *buf, size_t buf_len);
/* De-register: DELETE /LOCATION. */
kdc_err	kdcdev_msg_deregister(struct kdcdev_lwm2m *c, struct kdcdev_msg *m,
	    uint8_t *buf, size_t buf_len);
/*
 * Feed the answer to Register (code 2.01 with its Location-Path segments
 * joined by '/', e.g. "rd/5a3f"), Update (2.04) or De-register (2.02).
 * Sets or clears c->location / c->registered. A 4.xx/5.xx code:
 * KDC_ERR_PEER_ERROR; a location over KDCDEV_LOCATION_MAX - 1 or not
 * starting a segment with a printable byte: KDC_ERR_MALFORMED.
 */
kdc_err	kdcdev_register_result(struct kdcdev_lwm2m *c, uint8_t method_sent,
	    const char *path_sent, uint8_t code, const char *location);

/* ---- renewal ------------------------------------------------------------ */

/*
 * Renewal policy: when to renew a credential valid from not_before to
 * not_after (Unix seconds), in Unix milliseconds. At fraction_pm/1000 of
 * the lifetime (clamped to 1..999), moved by a uniform random offset of up
 * to +-jitter_pm/1000 of that delay (clamped to 0..999) drawn from rnd, a
 * uniform 32-bit random value the platform supplies; never before
 * not_before, never later than 1 s before not_after. not_after <=
 * not_before: not_before (renew at once). Integer arithmetic only.
 */
int64_t	kdcdev_renew_at_ms(int64_t not_before, int64_t not_after,
	    uint16_t fraction_pm, uint16_t jitter_pm, uint32_t rnd);

/* ---- state -------------------------------------------------------------- */

/*
 * Serialize ep, /0, /1, the finish flag and the registration location
 * (secrets included: store the result 0600) into out (capacity *out_len;
 * KDCDEV_STATE_MAX always suffices). Format (all integers big-endian):
 *   "KDCDEV" 0x00 0x01   magic + format version 1
 *   u32 body length
 *   body: u8 flags (bit 0 bs_finished, bit 1 registered)
 *         u8 len + ep, u8 len + location
 *         u8 nsec, then per instance: u16 iid, u8 bootstrap, u8 mode,
 *           i32 ssid, u32 holdoff, u32 bs_timeout,
 *           u16 len + uri, u16 len + ident, u16 len + server_key,
 *           u16 len + secret
 *         u8 nsrv, then per instance: u16 iid, u16 ssid, u32 lifetime,
 *           u32 pmin, u32 pmax, u32 disable_timeout, u8 notif_storing,
 *           u8 len + binding
 *   u32 CRC-32 (IEEE 802.3) of everything before it.
 */
kdc_err	kdcdev_state_encode(const struct kdcdev_lwm2m *c, uint8_t *out,
	    size_t *out_len);
/*
 * Replace c's ep, objects, flags and location with the serialized state
 * (log callback and sticky error are kept). The input is checked in full
 * first: bad magic or CRC, another version, a length past the input,
 * a value over its KDCDEV_*_MAX, too many instances or trailing bytes give
 * KDC_ERR_MALFORMED / _TRUNCATED / _TOO_LARGE / _TRAILING /
 * _UNSUPPORTED (version) and leave c untouched.
 */
kdc_err	kdcdev_state_decode(struct kdcdev_lwm2m *c, const uint8_t *buf,
	    size_t len);

/* CRC-32 as used by the state format (exposed for tests). */
uint32_t kdcdev_crc32(const uint8_t *buf, size_t len);

/* ---- ACE resource server (RFC 9200 §5.10, RFC 9202, RFC 9770) ------------- */

/*
 * The resource-server side of ACE-OAuth with the DTLS profile: a client
 * POSTs its access token (a CWT: COSE_Encrypt0 under the key the RS shares
 * with the AS, or COSE_Sign1 ES256 by the AS key) to /authz-info, then
 * opens DTLS-PSK with the token's PoP key, naming it by kid in its
 * psk_identity (RFC 9202 §3.3), and every request on that session is
 * checked against the token's scope through a scope map.
 *
 * struct kdcdev_rs is the caller's (static or on a big stack; 7,800 bytes with
 * the defaults of kdcdev_config.h): configuration, the token store
 * (KDCDEV_RS_TOKENS slots), the remembered revoked hashes (KDCDEV_RS_TRL)
 * and the scratch COSE needs, so nothing here allocates or recurses.
 * Holds secrets (the AS-RS key, PoP keys): kdcdev_rs_wipe() when done.
 * Not thread-safe: one caller at a time (a port serves from one loop).
 *
 * The scope map: a rule names a scope word, a method and a resource path
 * ('/'-separated, no leading '/'). A token's scope (text, words separated
 * by spaces) grants the union of its words' rules. The lock's map
 * (kdcdev_rs_lock_rules, used when the configuration gives none):
 *     "open"  POST lock/open      "close" POST lock/close
 *     "read"  GET  lock
 * A token whose scope has a word no rule names, or no word at all, is
 * refused (4.00, RFC 9200 §5.10.1.1 "the RS must recognize the scope").
 */
struct kdcdev_rs_rule {
	const char	*scope;		/* a scope word, e.g. "open" */
	uint8_t		 method;	/* KDCDEV_GET .. KDCDEV_DELETE */
	const char	*path;		/* e.g. "lock/open" */
};
extern const struct kdcdev_rs_rule kdcdev_rs_lock_rules[3];

/* Unix time in seconds; the RS compares exp and nbf with it. */
typedef int64_t (*kdcdev_rs_clock_fn)(void *arg);

#define KDCDEV_RS_POP_SYMMETRIC	1	/* cnf: COSE_Key kty 4, k (16 bytes) */
#define KDCDEV_RS_POP_EC2	2	/* cnf: COSE_Key kty 2, P-256 x, y */
#define KDCDEV_RS_HASH_LEN	33	/* RFC 9770 token hash: 0x01 || sha-256 */

/* One stored token: what the RS needs of it, not its bytes. */
struct kdcdev_rs_token {
	uint8_t		used;
	uint8_t		pop;			/* KDCDEV_RS_POP_* */
	uint8_t		kid_len;
	uint8_t		cti_len;
	uint8_t		kid[KDCDEV_RS_KID_MAX];
	uint8_t		key[16];		/* symmetric PoP key */
	uint8_t		x[32], y[32];		/* the client's P-256 key */
	uint32_t	scopes;			/* bit i: the i-th scope word */
	int64_t		exp;
	uint8_t		cti[KDCDEV_RS_CTI_MAX];
	uint8_t		hash[KDCDEV_RS_HASH_LEN];
	uint64_t	seq;			/* arrival order */
};

/* A revoked token's hash, kept until its exp (INT64_MAX when the token
 * was not stored here, so its exp is unknown). */
struct kdcdev_rs_revoked {
	uint8_t		used;
	uint8_t		hash[KDCDEV_RS_HASH_LEN];
	int64_t		exp;
	uint64_t	seq;
};

struct kdcdev_rs_cfg {
	const char	*aud;		/* our audience name (required) */
	const char	*as_uri;	/* for the creation hints (required) */
	const uint8_t	*as_key;	/* AS-RS shared key, 16 bytes, or NULL */
	size_t		 as_key_len;
	const uint8_t	*as_x, *as_y;	/* AS public key (P-256, 32 bytes
					 * each), or NULL */
	const struct kdcdev_rs_rule *rules;	/* NULL: kdcdev_rs_lock_rules */
	size_t		 nrules;
	kdcdev_rs_clock_fn clock;	/* required */
	void		*clock_arg;
	kdcdev_log_fn	 log;		/* may be NULL */
	void		*log_arg;
};

struct kdcdev_rs {
	char			 aud[KDCDEV_RS_AUD_MAX];
	char			 as_uri[KDCDEV_URI_MAX];
	uint8_t			 has_key, has_pub;
	uint8_t			 as_key[16];
	uint8_t			 as_x[32], as_y[32];
	const struct kdcdev_rs_rule *rules;
	size_t			 nrules;
	const char		*words[32];	/* distinct scope words: bit i */
	size_t			 nwords;
	kdcdev_rs_clock_fn	 clock;
	void			*clock_arg;
	kdcdev_log_fn		 log;
	void			*log_arg;
	uint64_t		 seq;
	struct kdcdev_rs_token	 tok[KDCDEV_RS_TOKENS];
	struct kdcdev_rs_revoked trl[KDCDEV_RS_TRL];
	/* scratch for one token: its plaintext claims and COSE's work area */
	uint8_t			 pt[1024];
	uint8_t			 work[1024 + 32];
};

/*
 * Configure rs (every byte is reset first; strings and keys copied; the
 * rules are borrowed and must outlive rs). INVALID_ARG: no aud or as_uri
 * or clock, neither as_key nor as_x/as_y, an as_key that is not 16 bytes,
 * a rule without scope or path; TOO_LARGE: aud or as_uri over its
 * KDCDEV_RS_AUD_MAX / KDCDEV_URI_MAX - 1, more than 32 scope words or
 * KDCDEV_RS_RULES_MAX rules.
 */
kdc_err	kdcdev_rs_init(struct kdcdev_rs *rs, const struct kdcdev_rs_cfg *cfg);
/* Zero rs (keys, PoP keys) with kdc_wipe(). */
void	kdcdev_rs_wipe(struct kdcdev_rs *rs);

/*
 * POST /authz-info with token (the CWT bytes, Content-Format 61): tag 61
 * optional, then a tagged COSE_Encrypt0 (decrypted with the AS-RS key,
 * AES-CCM-16-64-128, AES-CCM-16-128-128 or A128GCM) or COSE_Sign1 (ES256,
 * verified with the AS key). Then, in RFC 9200 §5.10.1.1's order: exp
 * (required) and nbf against the clock, aud (required, equal to ours),
 * scope (required, every word known), cnf (required: a COSE_Key,
 * symmetric with a 16-byte k and a kid, only inside an encrypted token;
 * or EC2 P-256 x, y), and the token's hash not on the revoked list. The
 * token is then stored: a stored token with the same PoP kid (or, for
 * EC2, the same key) is replaced (RFC 9200 §5.10.1: one token per PoP
 * key); else expired tokens are dropped first, and when every slot is
 * still in use the oldest stored token is evicted.
 *
 * resp: the caller's buffer (out, out_cap; 64 + KDCDEV_URI_MAX +
 * KDCDEV_RS_AUD_MAX bytes suffice); code and payload are set:
 *   2.01  KDC_OK (no payload)
 *   4.00  MALFORMED / TRUNCATED / TRAILING / TOO_LARGE (not a token we
 *         can parse, no exp, or a claim over our bounds), UNSUPPORTED (a
 *         cnf missing or one we cannot use, a symmetric key in clear in
 *         a signed token), DENIED (scope missing or unknown): payload
 *         ace+cbor {30: 1 invalid_request} or {30: 6 invalid_scope}
 *   4.01  BAD_SIGNATURE (MAC, signature or decryption fails, an alg
 *         other than the key's, or the token is of a kind we have no AS
 *         key for: a Mac0, a Sign1 without the AS public key, an
 *         Encrypt0 without the shared key), CRYPTO, EXPIRED,
 *         NOT_YET_VALID, REVOKED (hash on the revoked list): payload the
 *         AS Request Creation Hints, ace+cbor (Content-Format 19)
 *         {1: as_uri, 5: aud}
 *   4.03  UNKNOWN_AUDIENCE (aud missing or not ours), no payload
 * A resp buffer too small for the payload: the code stays, no payload.
 */
kdc_err	kdcdev_rs_authz_info(struct kdcdev_rs *rs, const uint8_t *token,
	    size_t token_len, struct kdcdev_resp *resp);

/*
 * The DTLS-PSK server's lookup (RFC 9202 §3.3): identity is the client's
 * psk_identity: the CBOR {8: {1: {1: 4, 2: kid}}} (a cnf naming a
 * symmetric COSE_Key by kid), or else the kid bytes themselves (for
 * stacks that pass identities as C strings). KDC_OK: the token's PoP key
 * (16 bytes) into key (capacity *key_len, updated; the caller wipes it)
 * and its kid into kid (capacity *kid_len, updated: the session's kid for
 * kdcdev_rs_access()). NOT_FOUND: no stored symmetric token with that
 * kid; EXPIRED: it expired (and is dropped); TOO_LARGE: a buffer is too
 * small; INVALID_ARG: an empty identity.
 */
kdc_err	kdcdev_rs_psk_lookup(struct kdcdev_rs *rs, const uint8_t *identity,
	    size_t identity_len, uint8_t *key, size_t *key_len, uint8_t *kid,
	    size_t *kid_len);

/*
 * Check one request on a session whose PoP kid is kid (kid_len 0: an
 * unauthenticated session): KDC_OK when the stored token for kid grants
 * method on path ('/'-separated, no leading '/'); resp untouched then.
 * Otherwise resp gets the refusal: 4.04 NOT_FOUND (no rule names the
 * path), 4.05 UNSUPPORTED (the path is known, not with that method),
 * 4.01 UNKNOWN_DEVICE (no token for kid, or it expired: dropped) with the
 * creation hints {1: as_uri, 5: aud, 9: a scope word that would grant
 * the request}, 4.03 DENIED (the token's scope does not grant it).
 */
kdc_err	kdcdev_rs_access(struct kdcdev_rs *rs, const uint8_t *kid,
	    size_t kid_len, uint8_t method, const char *path,
	    struct kdcdev_resp *resp);

/*
 * The DTLS-RPK server's check of a client's raw public key (RFC 9202
 * §3.2, RFC 7250): x, y (32 bytes each) its P-256 point. KDC_OK when a
 * stored token's cnf is that key (an asymmetric PoP token); NOT_FOUND
 * when none is; EXPIRED when it expired (and is dropped). The handshake
 * is to fail unless KDC_OK.
 */
kdc_err	kdcdev_rs_rpk_lookup(struct kdcdev_rs *rs, const uint8_t *x,
	    const uint8_t *y);
/*
 * kdcdev_rs_access() for a session whose client authenticated with the
 * raw public key (x, y): the stored token whose cnf is that key decides,
 * with the same answers (4.01 with hints when there is none any more:
 * expired, revoked through the TRL, superseded). x or y NULL: an
 * unauthenticated session.
 */
kdc_err	kdcdev_rs_access_rpk(struct kdcdev_rs *rs, const uint8_t *x,
	    const uint8_t *y, uint8_t method, const char *path,
	    struct kdcdev_resp *resp);

/*
 * Token revocation list (RFC 9770): drop every stored token whose hash
 * is one of the n hashes (KDCDEV_RS_HASH_LEN bytes each), and remember
 * each hash so the same token POSTed again is refused (4.01 REVOKED).
 * The remembered list is bounded (KDCDEV_RS_TRL): an entry whose token
 * has expired is forgotten first (an expired token is refused anyway),
 * then the oldest. *dropped (may be NULL): tokens dropped.
 */
kdc_err	kdcdev_rs_trl_apply(struct kdcdev_rs *rs,
	    const uint8_t (*hashes)[KDCDEV_RS_HASH_LEN], size_t n,
	    size_t *dropped);
/*
 * The same from a TRL response body (RFC 9770, ace-trl+cbor) in full
 * query mode: {0: [* bstr .size 33]}, the hashes of every revoked token
 * not yet expired. Other keys of the map are skipped only if they are
 * integers or simple values; a diff set (key 1) is UNSUPPORTED.
 * MALFORMED / TRUNCATED / TRAILING for anything else; TOO_LARGE past
 * 256 hashes (nothing applied then).
 */
kdc_err	kdcdev_rs_trl_body(struct kdcdev_rs *rs, const uint8_t *body,
	    size_t len, size_t *dropped);

/* The RFC 9770 hash of token bytes: 0x01 || SHA-256 of the base64url
 * text (no padding) of the bytes. */
void	kdcdev_rs_token_hash(const uint8_t *token, size_t len,
	    uint8_t out[KDCDEV_RS_HASH_LEN]);
/* SHA-256 (FIPS 180-4), portable, for the token hash. */
void	kdcdev_sha256(const void *data, size_t len, uint8_t out[32]);

/* Stored tokens that have not expired (for logs and tests). */
size_t	kdcdev_rs_count(struct kdcdev_rs *rs);

/* Content-Formats of ACE. */
#define KDCDEV_CF_ACE_CBOR	19
#define KDCDEV_CF_CWT		61

/* ---- ACE client (RFC 9200 §5.8, RFC 9202 §3.3) -------------------------- */

/* The /token request body (ace+cbor): {5: aud, ?9: scope} (scope NULL or
 * "": the whole grant). Client credentials grant, symmetric PoP (no
 * req_cnf: the AS makes the key). TOO_LARGE if out is too small. */
kdc_err	kdcdev_ace_token_req(const char *aud, const char *scope,
	    uint8_t *out, size_t *out_len);
/* The same for asymmetric PoP (RFC 9201 §3.1): x, y (32 bytes each) the
 * client's own P-256 public key, sent as req_cnf {1: COSE_Key EC2}: the
 * AS puts it in a COSE_Sign1 token as cnf, and accepts it only if it is
 * the key the client authenticated with (DTLS RPK). x and y both NULL:
 * kdcdev_ace_token_req(). INVALID_ARG: no aud, or only one of x, y. */
kdc_err	kdcdev_ace_token_req_pop(const char *aud, const char *scope,
	    const uint8_t *x, const uint8_t *y, uint8_t *out, size_t *out_len);

/* The AS's answer, views into the caller's bytes. key is a secret. */
struct kdcdev_ace_token {
	const uint8_t	*token;	size_t	 token_len;	/* access_token (1) */
	int64_t		 expires_in;			/* (2); -1 absent */
	const uint8_t	*kid;	size_t	 kid_len;	/* cnf COSE_Key kid */
	const uint8_t	*key;	size_t	 key_len;	/* cnf COSE_Key k */
	int		 profile;			/* (38); -1 absent */
	int		 error;				/* (30); 0 absent */
	const uint8_t	*rs_x, *rs_y;	/* rs_cnf (41) P-256 key, 32 bytes
					 * each; NULL absent */
};
/*
 * Parse a /token answer: Access Information {1: bstr, ?2: uint,
 * ?8: {1: COSE_Key kty 4 with kid and k}, ?38: int, ?41: {1: COSE_Key
 * EC2 P-256}, ...} or an error {30: code, ...} (then KDC_OK with
 * t->error set). Other keys skipped (bounded nesting). MALFORMED /
 * TRUNCATED / TRAILING for anything else; UNSUPPORTED for a cnf that is
 * not a symmetric COSE_Key with a kid, or an rs_cnf that is not a P-256
 * public key.
 */
kdc_err	kdcdev_ace_token_resp(const uint8_t *buf, size_t len,
	    struct kdcdev_ace_token *t);
/* The psk_identity naming a symmetric PoP key by kid: the CBOR
 * {8: {1: {1: 4, 2: kid}}}. */
kdc_err	kdcdev_ace_psk_identity(const uint8_t *kid, size_t kid_len,
	    uint8_t *out, size_t *out_len);

#endif
