/*
 * ace.h: core's contract for the ACE-OAuth Authorization Server (RFC 9200,
 * 9201, 9202; token revocation list RFC 9770). Part of core's public
 * contract (core.h includes it); the AS face (src/ace/) and the CLI call
 * only this. The face parses and encodes CBOR on the wire; everything that
 * decides, makes keys, signs, encrypts, records or audits is here.
 *
 * Model (DESIGN §1-2):
 *  - A client is a principal: a device of the registry authenticated by
 *    its DTLS/TLS credential (an operational credential the KDC issued, or
 *    its registered PSK/RPK/certificate). Its client id is its device id.
 *  - A resource server (RS) is an audience (the audiences table, kind
 *    "ace-rs"): its name is the token's aud. It is registered with either
 *    a symmetric key it shares with the AS (tokens are COSE_Encrypt0 to
 *    it, AES-CCM-16-64-128, the key wrapped at rest) or its public key
 *    (SPKI, P-256; tokens are COSE_Sign1 by the AS key, ES256). Both
 *    kinds may be registered; then the PoP kind decides (symmetric PoP
 *    needs the shared key: the token carries a key in clear and must be
 *    encrypted).
 *  - A grant (client, audience, scopes, refresh allowed) is the resource
 *    owner's consent given in advance. A request's scope (space-separated
 *    text) must be a subset of the grant's; an absent scope means the
 *    whole grant.
 *  - Every token is a credential: recorded (cti, client, audience, scope,
 *    iat, exp, PoP kid, the RFC 9770 token hash; never a key in clear),
 *    audited, revocable. Revoking the client (device revoke), the grant,
 *    or the token makes introspection answer inactive at once and puts
 *    the token's hash on the TRL until it expires.
 *  - The AS key: P-256, made at `iotkdc init` (or at the first start of a
 *    data dir made before it), kept like the CA key (wrapped file
 *    `as.key`, or a PKCS#11 object named in [ace] key_uri). Its public
 *    key is what an RS configured with `--as-pubkey` verifies with.
 */
#ifndef KDC_CORE_ACE_H
#define KDC_CORE_ACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/limits.h"
#include "cose/cose.h"

struct kdc_core;
struct kdc_principal;

/* RFC 9200 Table 3 error codes (the face sends {30: code}). */
#define KDC_ACE_INVALID_REQUEST		1
#define KDC_ACE_INVALID_CLIENT		2
#define KDC_ACE_INVALID_GRANT		3
#define KDC_ACE_UNAUTHORIZED_CLIENT	4
#define KDC_ACE_UNSUPPORTED_GRANT_TYPE	5
#define KDC_ACE_INVALID_SCOPE		6
#define KDC_ACE_UNSUPPORTED_POP_KEY	7
#define KDC_ACE_INCOMPATIBLE_PROFILES	8

#define KDC_ACE_GRANT_CLIENT_CREDENTIALS 2
#define KDC_ACE_GRANT_REFRESH_TOKEN	3
#define KDC_ACE_PROFILE_COAP_DTLS	1

/* Bounds (limits.h has the why of each). */
#define KDC_ACE_SCOPE_MAX	255	/* bytes of a scope string */
#define KDC_ACE_KID_MAX		16	/* bytes of a PoP key id we make */
#define KDC_ACE_REFRESH_MAX	64	/* bytes of a refresh token */
#define KDC_ACE_CNONCE_MAX	32	/* bytes of a client nonce (RS hints: 8-16) */

/* ---- the token endpoint (RFC 9200 §5.8) ----------------------------- */

/* What the face parsed from the request; views into its bytes. */
struct kdc_ace_token_req {
	int		 grant_type;	/* 2 client_credentials (the codec's
					 * default), 3 refresh_token; any
					 * other (0 too): unsupported */
	const char	*audience;	size_t	 audience_len;
	const char	*scope;		size_t	 scope_len;	/* 0: the whole grant */
	/* req_cnf (RFC 9201 §3.1): none (symmetric PoP, the AS makes the
	 * key), a COSE_Key with a public EC2 P-256 key (asymmetric PoP), or
	 * a kid of a key the AS knows (refused UNSUPPORTED_POP_KEY today). */
	struct kdc_cnf	 req_cnf;	/* kind KDC_CNF_NONE if absent */
	bool		 profile_asked;	/* ace_profile: null in the request */
	bool		 profile_other;	/* an ace_profile other than coap_dtls
					 * asked for: incompatible_ace_profiles */
	const uint8_t	*cnonce;	size_t	 cnonce_len;
	const uint8_t	*refresh;	size_t	 refresh_len;	/* grant 3 */
};

/* What the face encodes into the response (2.01). Holds a secret (the
 * symmetric PoP key inside cnf): kdc_ace_token_resp_wipe() after use. */
struct kdc_ace_token_resp {
	uint8_t		 access_token[KDC_COSE_MSG_MAX];	/* the CWT, tag 61 + COSE tag */
	size_t		 access_token_len;
	int64_t		 expires_in;			/* seconds */
	bool		 has_profile;			/* send ace_profile */
	int		 ace_profile;
	uint8_t		 cnf[160];	size_t	 cnf_len;	/* encoded cnf map value, or 0 */
	uint8_t		 rs_cnf[160];	size_t	 rs_cnf_len;	/* encoded rs_cnf map value, or 0 */
	uint8_t		 refresh[KDC_ACE_REFRESH_MAX];	size_t	 refresh_len;
	char		 scope[KDC_ACE_SCOPE_MAX + 1];	/* granted, if not what was asked */
	bool		 scope_differs;
	/* on refusal: the RFC 9200 error and a short description (no secret) */
	int		 error;
	const char	*error_description;
};

/*
 * Issue an access token to client (an authenticated principal) for req.
 * KDC_OK: resp holds the token. A refusal returns DENIED (resp->error
 * says which RFC 9200 error: invalid_scope, unauthorized_client,
 * invalid_grant, unsupported_pop_key, incompatible_ace_profiles,
 * unsupported_grant_type, invalid_request), REVOKED / EXPIRED (the
 * client's credential or device since its handshake: invalid_client),
 * each audited with the client, audience and reason; never a token.
 * STORE, CRYPTO, BAD_KEY as usual (the face answers 5.00).
 * The asymmetric PoP key in req_cnf must be the key the client
 * authenticated its DTLS/TLS session with (RFC 9201 §3.1: the AS checks
 * the client possesses it): otherwise invalid_request, audited. A
 * symmetric key value in req_cnf is unsupported_pop_key (RFC 9201 §3.1).
 */
kdc_err	kdc_core_ace_token(struct kdc_core *core, const char *actor,
	    const struct kdc_principal *client,
	    const struct kdc_ace_token_req *req, struct kdc_ace_token_resp *resp);
void	kdc_ace_token_resp_wipe(struct kdc_ace_token_resp *resp);

/* ---- introspection (RFC 9200 §5.9, RFC 7662) ------------------------ */

struct kdc_ace_introspection {
	bool		 active;
	/* when active: */
	char		 client[KDC_DEVID_MAX + 1];
	char		 audience[KDC_NAME_MAX + 1];
	char		 scope[KDC_ACE_SCOPE_MAX + 1];
	int64_t		 iat, exp;
	uint8_t		 cti[16];	size_t	 cti_len;
	uint8_t		 cnf[160];	size_t	 cnf_len;	/* encoded cnf (kid only for symmetric) */
	int		 ace_profile;
};

/*
 * Introspect token (the access_token bytes) for rs, an authenticated
 * principal whose device id is a registered RS's audience name. A token
 * for another audience, unknown, expired, revoked, or whose client or
 * grant is revoked: KDC_OK with active false (not an error, RFC 9200
 * §5.9.2). DENIED (4.03) if rs is not a registered RS. The token is
 * checked (signature or decryption) before the store is read.
 */
kdc_err	kdc_core_ace_introspect(struct kdc_core *core, const char *actor,
	    const struct kdc_principal *rs, const uint8_t *token,
	    size_t token_len, struct kdc_ace_introspection *out);

/*
 * An access token presented as an HTTP bearer token (RFC 6750) to a
 * resource server of ours, the registered RS audience `audience` (the
 * Thing Directory's): checked as introspection checks it (decrypted or
 * verified first, then its record, grant and client). *who the client's
 * device (device row and id; no credential: the token is not one).
 * UNTRUSTED for a token that is not active for audience (or an audience
 * that is not a registered RS); STORE, NOMEM.
 */
kdc_err	kdc_core_ace_bearer(struct kdc_core *core, const char *audience,
	    const uint8_t *token, size_t token_len, struct kdc_principal *who);

/* ---- token revocation list (RFC 9770) -------------------------------- */

/* One entry: the RFC 6920 binary hash of a revoked, unexpired token
 * (first byte 1 = sha-256, then 32 bytes). */
#define KDC_ACE_TOKEN_HASH_LEN	33

/*
 * The TRL for rs (a registered RS principal: the hashes of its
 * audience's revoked tokens not yet expired): full set into hashes
 * (capacity max entries; *n set; TOO_LARGE past it, the caller pages).
 * *gen is the revocation generation it reflects, for Observe.
 */
kdc_err	kdc_core_ace_trl(struct kdc_core *core, const struct kdc_principal *rs,
	    uint8_t (*hashes)[KDC_ACE_TOKEN_HASH_LEN], size_t max, size_t *n,
	    int64_t *gen);
/* The hash RFC 9770 §4 defines for a token's bytes (sha-256 over the
 * base64url text of access_token, with the 0x01 prefix). */
void	kdc_ace_token_hash(const uint8_t *token, size_t len,
	    uint8_t out[KDC_ACE_TOKEN_HASH_LEN]);

/* ---- administration (CLI) ------------------------------------------- */

/* key: the AS-RS shared key (16 bytes; wrapped at rest), or NULL;
 * spki: the RS public key (P-256 SPKI DER), or NULL; one of the two at
 * least. EXISTS if the audience is taken; INVALID_ARG on a bad key. */
kdc_err	kdc_core_ace_rs_add(struct kdc_core *core, const char *actor,
	    const char *aud, const uint8_t *key, size_t key_len,
	    const uint8_t *spki, size_t spki_len, int profile);
/* A grant: client (device id) may get tokens for aud with scopes
 * (space-separated), refresh tokens too if refresh. UNKNOWN_DEVICE,
 * UNKNOWN_AUDIENCE (not an ACE RS). A second grant for the same pair
 * replaces the first (audited). */
kdc_err	kdc_core_ace_grant(struct kdc_core *core, const char *actor,
	    const char *client, const char *aud, const char *scopes,
	    bool refresh);
/* Revoke the grant: its tokens (access and refresh) revoked with it.
 * NOT_FOUND if there is none. */
kdc_err	kdc_core_ace_grant_revoke(struct kdc_core *core, const char *actor,
	    const char *client, const char *aud);
/* Revoke one token by its cti (hex). NOT_FOUND. */
kdc_err	kdc_core_ace_token_revoke(struct kdc_core *core, const char *actor,
	    const char *cti_hex);

struct kdc_ace_token_row {
	char		 cti_hex[33];
	char		 client[KDC_DEVID_MAX + 1];
	char		 audience[KDC_NAME_MAX + 1];
	char		 scope[KDC_ACE_SCOPE_MAX + 1];
	char		 kind[8];	/* "access" or "refresh" */
	char		 pop[12];	/* "symmetric" or "asymmetric" */
	char		 pop_kid_hex[2 * KDC_ACE_KID_MAX + 1];
	int64_t		 iat, exp, revoked_at;	/* revoked_at 0: not revoked */
};
typedef kdc_err (*kdc_ace_token_fn)(void *arg, const struct kdc_ace_token_row *t);
/* Every recorded token (active_only: not revoked, not expired), oldest
 * first. */
kdc_err	kdc_core_ace_tokens(struct kdc_core *core, bool active_only,
	    kdc_ace_token_fn fn, void *arg);

/*
 * The sweep's part: delete the rows of tokens (access and refresh) that
 * expired more than [ace] token_retention seconds ago, at most
 * KDC_ACE_PURGE_SWEEP_MAX a call (the next sweep goes on); *n how many.
 * An expired token is off the TRL already and introspects inactive
 * whether or not its row is there; the audit log keeps its issuance.
 * Audited ("ace.purge") when it deleted any. STORE errors.
 */
#define KDC_ACE_PURGE_SWEEP_MAX	(64 * 4096)
kdc_err	kdc_core_ace_purge(struct kdc_core *core, const char *actor,
	    size_t *n);

/* The AS public key: COSE_Key (EC2, P-256, alg ES256, kid = the first 8
 * bytes of SHA-256 of the SPKI; capacity *cose_key_len) and SPKI DER
 * (capacity *spki_len, 91 bytes); either may be NULL. NOT_FOUND if no AS
 * key was loaded (kdc_core_ace_key_load()). */
kdc_err	kdc_core_ace_as_pubkey(struct kdc_core *core, uint8_t *cose_key,
	    size_t *cose_key_len, uint8_t *spki, size_t *spki_len);

/* A registered RS as `iotkdc ace rs list` shows it (no key). */
struct kdc_ace_rs_info {
	char		 audience[KDC_NAME_MAX + 1];
	int		 profile;
	bool		 has_key;	/* a shared key: symmetric PoP */
	bool		 has_pubkey;	/* a public key: rs_cnf */
	int64_t		 created;
};
typedef kdc_err (*kdc_ace_rs_fn)(void *arg, const struct kdc_ace_rs_info *rs);
/* Every RS, by audience name. */
kdc_err	kdc_core_ace_rs_list(struct kdc_core *core, kdc_ace_rs_fn fn,
	    void *arg);

/* Is scope a scope the AS takes (RFC 6749 §3.3 scope-tokens separated by
 * one space, each 1..64 bytes of %x21 / %x23-5B / %x5D-7E, at most 16,
 * at most KDC_ACE_SCOPE_MAX bytes in all)? */
bool	kdc_ace_scope_ok(const char *scope);

/* ---- the AS key --------------------------------------------------------- */

/*
 * Load the AS key for this core ([ace] key: "file" is dir/as.key, else a
 * PKCS#11 URL) and keep it (freed with the core). A file key missing from
 * a data dir made before ACE is made now (logged at info). The store
 * keeps the key's SPKI fingerprint from its first load: a missing as.key
 * the store names is NOT_FOUND (not made again); another key is taken
 * with a warning (tokens it did not sign stop verifying). Other errors as crypto.h kdc_as_key_load(). Without an AS key,
 * asymmetric PoP is refused BAD_KEY (5.00) and Sign1 tokens introspect
 * inactive.
 */
struct kdc_as_key;
kdc_err	kdc_core_ace_key_load(struct kdc_core *core, const char *dir);
/* Lend core an AS key instead (tests, a daemon sharing one; the caller
 * keeps it alive and frees it after the core). NULL: none. */
void	kdc_core_ace_set_key(struct kdc_core *core, struct kdc_as_key *key);

#endif /* KDC_CORE_ACE_H */
