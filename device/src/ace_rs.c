/*
 * ace_rs.c: the ACE-OAuth resource server of libiotkdc-device (kdcdev.h,
 * "ACE resource server"): /authz-info, the DTLS-PSK lookup by kid, the
 * per-request scope check and the token revocation list. No allocation:
 * everything lives in the caller's struct kdcdev_rs; COSE and CWT come
 * from src/cose/ (views into the caller's bytes and rs's scratch).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cose/cose.h"
#include "kdcdev_int.h"
#include "lwm2m/codec_int.h"

_Static_assert(sizeof(((struct kdcdev_rs *)0)->pt) >= KDC_COSE_MSG_MAX,
    "kdcdev_rs.pt holds a token's plaintext");
_Static_assert(sizeof(((struct kdcdev_rs *)0)->work) >= KDC_COSE_WORK_MAX,
    "kdcdev_rs.work is COSE's scratch");

/* RFC 9200 Table 3 codes we send in a 4.00. */
#define ACE_INVALID_REQUEST	1
#define ACE_INVALID_SCOPE	6

const struct kdcdev_rs_rule kdcdev_rs_lock_rules[3] = {
	{ "open",  KDCDEV_POST, "lock/open" },
	{ "close", KDCDEV_POST, "lock/close" },
	{ "read",  KDCDEV_GET,  "lock" },
};

static void
rs_log(const struct kdcdev_rs *rs, enum kdcdev_log_level lvl,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
rs_log(const struct kdcdev_rs *rs, enum kdcdev_log_level lvl,
    const char *fmt, ...)
{
	char line[200];
	va_list ap;

	if (rs->log == NULL || (int)lvl > KDCDEV_MAX_LOG_LEVEL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	rs->log(rs->log_arg, lvl, line);
}

/* ==== configuration ====================================================== */

static int
word_index(const struct kdcdev_rs *rs, const char *w, size_t n)
{
	for (size_t i = 0; i < rs->nwords; i++)
		if (strlen(rs->words[i]) == n && memcmp(rs->words[i], w, n) == 0)
			return (int)i;
	return -1;
}

kdc_err
kdcdev_rs_init(struct kdcdev_rs *rs, const struct kdcdev_rs_cfg *cfg)
{
	size_t n;

	kdc_wipe(rs, sizeof(*rs));
	if (cfg == NULL || cfg->aud == NULL || cfg->aud[0] == '\0' ||
	    cfg->as_uri == NULL || cfg->as_uri[0] == '\0' ||
	    cfg->clock == NULL)
		return KDC_ERR_INVALID_ARG;
	if (cfg->as_key == NULL && (cfg->as_x == NULL || cfg->as_y == NULL))
		return KDC_ERR_INVALID_ARG;	/* neither key */
	if (cfg->as_key != NULL && cfg->as_key_len != sizeof(rs->as_key))
		return KDC_ERR_INVALID_ARG;
	if (strlen(cfg->aud) >= sizeof(rs->aud) ||
	    strlen(cfg->as_uri) >= sizeof(rs->as_uri))
		return KDC_ERR_TOO_LARGE;
	memcpy(rs->aud, cfg->aud, strlen(cfg->aud) + 1);
	memcpy(rs->as_uri, cfg->as_uri, strlen(cfg->as_uri) + 1);
	if (cfg->as_key != NULL) {
		memcpy(rs->as_key, cfg->as_key, sizeof(rs->as_key));
		rs->has_key = 1;
	}
	if (cfg->as_x != NULL && cfg->as_y != NULL) {
		memcpy(rs->as_x, cfg->as_x, 32);
		memcpy(rs->as_y, cfg->as_y, 32);
		rs->has_pub = 1;
	}
	rs->rules = cfg->rules != NULL ? cfg->rules : kdcdev_rs_lock_rules;
	rs->nrules = cfg->rules != NULL ? cfg->nrules :
	    sizeof(kdcdev_rs_lock_rules) / sizeof(kdcdev_rs_lock_rules[0]);
	if (rs->nrules == 0 || rs->nrules > KDCDEV_RS_RULES_MAX) {
		kdc_wipe(rs, sizeof(*rs));
		return rs->nrules == 0 ? KDC_ERR_INVALID_ARG : KDC_ERR_TOO_LARGE;
	}
	for (size_t i = 0; i < rs->nrules; i++) {
		const struct kdcdev_rs_rule *r = &rs->rules[i];
		if (r->scope == NULL || r->path == NULL ||
		    (n = strlen(r->scope)) == 0 || memchr(r->scope, ' ', n) ||
		    r->method < KDCDEV_GET || r->method > KDCDEV_DELETE) {
			kdc_wipe(rs, sizeof(*rs));
			return KDC_ERR_INVALID_ARG;
		}
		if (word_index(rs, r->scope, n) < 0)
			rs->words[rs->nwords++] = r->scope;	/* <= 16 < 32 */
	}
	rs->clock = cfg->clock;
	rs->clock_arg = cfg->clock_arg;
	rs->log = cfg->log;
	rs->log_arg = cfg->log_arg;
	return KDC_OK;
}

void
kdcdev_rs_wipe(struct kdcdev_rs *rs)
{
	kdc_wipe(rs, sizeof(*rs));
}

/* ==== helpers ============================================================ */

static void
tok_drop(struct kdcdev_rs_token *t)
{
	kdc_wipe(t, sizeof(*t));
}

/* Drop every stored token that has expired at now. */
static void
drop_expired(struct kdcdev_rs *rs, int64_t now)
{
	for (size_t i = 0; i < KDCDEV_RS_TOKENS; i++)
		if (rs->tok[i].used && rs->tok[i].exp <= now)
			tok_drop(&rs->tok[i]);
}

size_t
kdcdev_rs_count(struct kdcdev_rs *rs)
{
	size_t n = 0;

	drop_expired(rs, rs->clock(rs->clock_arg));
	for (size_t i = 0; i < KDCDEV_RS_TOKENS; i++)
		n += rs->tok[i].used;
	return n;
}

static bool
put_tstr(struct kdc_wr *w, const char *s)
{
	size_t n = strlen(s);

	return kdc_cbor_head_write(w, 3, n) && kdc_wr_bytes(w, s, n);
}

static void
resp_set(struct kdcdev_resp *resp, uint8_t code)
{
	resp->code = code;
	resp->content_format = -1;
	resp->out_len = 0;
}

/* 4.00 with {30: error} (RFC 9200 §5.8.3 error map). */
static void
resp_error(struct kdcdev_resp *resp, unsigned error)
{
	struct kdc_wr w;

	resp_set(resp, KDCDEV_CODE(4, 0));
	kdc_wr_init(&w, resp->out, resp->out_cap);
	if (kdc_cbor_head_write(&w, 5, 1) && kdc_cbor_head_write(&w, 0, 30) &&
	    kdc_cbor_head_write(&w, 0, error)) {
		resp->content_format = KDCDEV_CF_ACE_CBOR;
		resp->out_len = w.len;
	}
}

/* 4.01 with the AS Request Creation Hints (RFC 9200 §5.3):
 * {1: AS, 5: audience, ?9: scope}. */
static void
resp_hints(const struct kdcdev_rs *rs, struct kdcdev_resp *resp,
    const char *scope)
{
	struct kdc_wr w;

	resp_set(resp, KDCDEV_CODE(4, 1));
	kdc_wr_init(&w, resp->out, resp->out_cap);
	if (kdc_cbor_head_write(&w, 5, scope != NULL ? 3 : 2) &&
	    kdc_cbor_head_write(&w, 0, 1) && put_tstr(&w, rs->as_uri) &&
	    kdc_cbor_head_write(&w, 0, 5) && put_tstr(&w, rs->aud) &&
	    (scope == NULL || (kdc_cbor_head_write(&w, 0, 9) &&
	    put_tstr(&w, scope)))) {
		resp->content_format = KDCDEV_CF_ACE_CBOR;
		resp->out_len = w.len;
	}
}

/* The scope words of a text scope to bits; DENIED for an empty scope or
 * a word no rule names. */
static kdc_err
scope_bits(const struct kdcdev_rs *rs, const uint8_t *s, size_t len,
    uint32_t *bits)
{
	size_t i = 0;

	*bits = 0;
	while (i < len) {
		size_t j = i;
		int k;
		while (j < len && s[j] != ' ')
			j++;
		if (j > i) {
			if ((k = word_index(rs, (const char *)s + i, j - i)) < 0)
				return KDC_ERR_DENIED;
			*bits |= 1u << k;
		}
		i = j + 1;
	}
	return *bits != 0 ? KDC_OK : KDC_ERR_DENIED;
}

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void
kdcdev_rs_token_hash(const uint8_t *token, size_t len,
    uint8_t out[KDCDEV_RS_HASH_LEN])
{
	struct kdcdev_sha256_ctx s;
	char q[4];

	kdcdev_sha256_init(&s);
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)token[i] << 16;
		size_t n = len - i >= 3 ? 3 : len - i;
		if (n > 1)
			v |= (uint32_t)token[i + 1] << 8;
		if (n > 2)
			v |= token[i + 2];
		q[0] = b64url[v >> 18];
		q[1] = b64url[(v >> 12) & 63u];
		q[2] = b64url[(v >> 6) & 63u];
		q[3] = b64url[v & 63u];
		kdcdev_sha256_update(&s, q, n + 1);	/* no padding */
	}
	out[0] = 1;	/* RFC 6920 hash id: sha-256 */
	kdcdev_sha256_final(&s, out + 1);
}

static bool
trl_has(const struct kdcdev_rs *rs, const uint8_t *hash)
{
	for (size_t i = 0; i < KDCDEV_RS_TRL; i++)
		if (rs->trl[i].used && memcmp(rs->trl[i].hash, hash,
		    KDCDEV_RS_HASH_LEN) == 0)
			return true;
	return false;
}

/* Where a new token goes: the slot of a token with the same PoP key
 * (superseded, RFC 9200 §5.10.1), else a free slot after dropping the
 * expired ones, else the oldest token's. */
static struct kdcdev_rs_token *
slot_for(struct kdcdev_rs *rs, const struct kdcdev_rs_token *nt, int64_t now)
{
	struct kdcdev_rs_token *oldest = NULL;

	for (size_t i = 0; i < KDCDEV_RS_TOKENS; i++) {
		struct kdcdev_rs_token *t = &rs->tok[i];
		if (!t->used || t->pop != nt->pop)
			continue;
		if (nt->pop == KDCDEV_RS_POP_SYMMETRIC ?
		    t->kid_len == nt->kid_len &&
		    memcmp(t->kid, nt->kid, nt->kid_len) == 0 :
		    memcmp(t->x, nt->x, 32) == 0 && memcmp(t->y, nt->y, 32) == 0)
			return t;
	}
	drop_expired(rs, now);
	for (size_t i = 0; i < KDCDEV_RS_TOKENS; i++) {
		if (!rs->tok[i].used)
			return &rs->tok[i];
		if (oldest == NULL || rs->tok[i].seq < oldest->seq)
			oldest = &rs->tok[i];
	}
	rs_log(rs, KDCDEV_LOG_INFO, "token store full (%d): evicting the "
	    "oldest token", KDCDEV_RS_TOKENS);
	return oldest;
}

/* ==== /authz-info ======================================================== */

static kdc_err
verify(struct kdcdev_rs *rs, const struct kdc_cose_msg *m,
    const uint8_t **claims, size_t *claims_len)
{
	struct kdc_cose_key key;
	size_t pt_len = sizeof(rs->pt);
	kdc_err r;

	memset(&key, 0, sizeof(key));
	switch (m->type) {
	case KDC_COSE_ENCRYPT0:
		if (!rs->has_key)
			return KDC_ERR_BAD_SIGNATURE;	/* no key: not from our AS */
		/* one key, one alg (RFC 9052 §7.1): the AS's
		 * AES-CCM-16-64-128; a token under another AEAD alg with
		 * this key is refused, not opened with it */
		key.alg = KDC_COSE_ALG_CCM_16_64_128;
		key.k = rs->as_key;
		key.k_len = sizeof(rs->as_key);
		r = kdc_cose_encrypt0_decrypt(m, &key, NULL, 0, rs->pt, &pt_len,
		    rs->work, sizeof(rs->work));
		*claims = rs->pt;
		*claims_len = pt_len;
		break;
	case KDC_COSE_SIGN1:
		if (!rs->has_pub)
			return KDC_ERR_BAD_SIGNATURE;
		key.alg = KDC_COSE_ALG_ES256;
		key.x = rs->as_x;
		key.x_len = 32;
		key.y = rs->as_y;
		key.y_len = 32;
		r = kdc_cose_sign1_verify(m, &key, NULL, 0, rs->work,
		    sizeof(rs->work));
		*claims = m->payload;
		*claims_len = m->payload_len;
		break;
	default:	/* Mac0: we share no MAC key with the AS */
		return KDC_ERR_BAD_SIGNATURE;
	}
	if (r == KDC_OK)
		return KDC_OK;
	/* an alg other than the key's, a bad tag, a bad signature: the
	 * security wrapper does not verify (RFC 9200 §5.10.1.1: 4.01) */
	return r == KDC_ERR_CRYPTO ? r : KDC_ERR_BAD_SIGNATURE;
}

/* The claims into nt; the refusal's kdc_err otherwise. */
static kdc_err
check_claims(struct kdcdev_rs *rs, const struct kdc_cwt *c, bool encrypted,
    int64_t now, struct kdcdev_rs_token *nt)
{
	const struct kdc_cose_keyinfo *k = &c->cnf.key;
	kdc_err r;

	/* RFC 9200 §5.10.1.1 order: (iss,) exp, aud, scope */
	if (!(c->has & KDC_CWT_EXP))
		return KDC_ERR_MALFORMED;	/* we take no token forever */
	if (c->exp <= now)
		return KDC_ERR_EXPIRED;
	if ((c->has & KDC_CWT_NBF) && c->nbf > now)
		return KDC_ERR_NOT_YET_VALID;
	if (!(c->has & KDC_CWT_AUD) || c->aud_len != strlen(rs->aud) ||
	    memcmp(c->aud, rs->aud, c->aud_len) != 0)
		return KDC_ERR_UNKNOWN_AUDIENCE;
	if (!(c->has & KDC_CWT_SCOPE) || !c->scope_text ||
	    (r = scope_bits(rs, c->scope, c->scope_len, &nt->scopes)) != KDC_OK)
		return KDC_ERR_DENIED;
	if (!(c->has & KDC_CWT_CNF) || c->cnf.kind != KDC_CNF_COSE_KEY)
		return KDC_ERR_UNSUPPORTED;
	if (k->kty == KDC_COSE_KTY_SYMMETRIC) {
		/* a key in clear only inside an encrypted token (RFC 8747) */
		if (!encrypted || k->k_len != sizeof(nt->key) ||
		    k->kid_len == 0 || k->kid_len > sizeof(nt->kid))
			return KDC_ERR_UNSUPPORTED;
		nt->pop = KDCDEV_RS_POP_SYMMETRIC;
		memcpy(nt->key, k->k, k->k_len);
	} else if (k->kty == KDC_COSE_KTY_EC2) {
		if (k->crv != KDC_COSE_CRV_P256 || k->x_len != 32 ||
		    k->y_len != 32 || k->kid_len > sizeof(nt->kid) ||
		    k->d_len != 0)
			return KDC_ERR_UNSUPPORTED;
		nt->pop = KDCDEV_RS_POP_EC2;
		memcpy(nt->x, k->x, 32);
		memcpy(nt->y, k->y, 32);
	} else {
		return KDC_ERR_UNSUPPORTED;
	}
	nt->kid_len = (uint8_t)k->kid_len;
	if (k->kid_len > 0)
		memcpy(nt->kid, k->kid, k->kid_len);
	if (c->has & KDC_CWT_CTI) {
		if (c->cti_len > sizeof(nt->cti))
			return KDC_ERR_TOO_LARGE;
		nt->cti_len = (uint8_t)c->cti_len;
		memcpy(nt->cti, c->cti, c->cti_len);
	}
	nt->exp = c->exp;
	return KDC_OK;
}

kdc_err
kdcdev_rs_authz_info(struct kdcdev_rs *rs, const uint8_t *token,
    size_t token_len, struct kdcdev_resp *resp)
{
	struct kdc_cose_msg m;
	struct kdc_cwt c;
	struct kdcdev_rs_token nt, *slot;
	const uint8_t *claims = NULL;
	size_t claims_len = 0;
	int64_t now;
	int expect = 0;
	kdc_err r;

	memset(&nt, 0, sizeof(nt));
	if (token == NULL || token_len == 0) {
		r = KDC_ERR_TRUNCATED;
		goto out;
	}
	if (token_len > KDC_COSE_MSG_MAX) {
		r = KDC_ERR_TOO_LARGE;
		goto out;
	}
	/* untagged: the array's length tells Encrypt0 (3) from Sign1 (4) */
	if (token[0] == 0x83)
		expect = KDC_COSE_ENCRYPT0;
	else if (token[0] == 0x84)
		expect = KDC_COSE_SIGN1;
	if ((r = kdc_cose_parse(token, token_len, expect, &m)) != KDC_OK)
		goto out;
	if ((r = verify(rs, &m, &claims, &claims_len)) != KDC_OK)
		goto out;
	if ((r = kdc_cwt_decode(claims, claims_len, &c)) != KDC_OK)
		goto out;
	now = rs->clock(rs->clock_arg);
	if ((r = check_claims(rs, &c, m.type == KDC_COSE_ENCRYPT0, now,
	    &nt)) != KDC_OK)
		goto out;
	kdcdev_rs_token_hash(token, token_len, nt.hash);
	if (trl_has(rs, nt.hash)) {
		r = KDC_ERR_REVOKED;
		goto out;
	}
	slot = slot_for(rs, &nt, now);
	nt.used = 1;
	nt.seq = ++rs->seq;
	memcpy(slot, &nt, sizeof(*slot));
out:
	kdc_wipe(&nt, sizeof(nt));
	kdc_wipe(rs->pt, sizeof(rs->pt));
	kdc_wipe(rs->work, sizeof(rs->work));
	switch (r) {
	case KDC_OK:
		resp_set(resp, KDCDEV_CODE(2, 1));
		rs_log(rs, KDCDEV_LOG_INFO, "authz-info: token accepted");
		return r;
	case KDC_ERR_BAD_SIGNATURE:
	case KDC_ERR_CRYPTO:
	case KDC_ERR_EXPIRED:
	case KDC_ERR_NOT_YET_VALID:
	case KDC_ERR_REVOKED:
		resp_hints(rs, resp, NULL);
		break;
	case KDC_ERR_UNKNOWN_AUDIENCE:
		resp_set(resp, KDCDEV_CODE(4, 3));
		break;
	case KDC_ERR_DENIED:
		resp_error(resp, ACE_INVALID_SCOPE);
		break;
	default:	/* parse errors, bounds, a cnf we cannot use */
		resp_error(resp, ACE_INVALID_REQUEST);
		break;
	}
	rs_log(rs, KDCDEV_LOG_INFO, "authz-info: token refused (%u.%02u): %s",
	    resp->code >> 5, resp->code & 31u, kdc_err_str(r));
	return r;
}

/* ==== DTLS-PSK lookup (RFC 9202 §3.3) ==================================== */

/* {8: {1: {1: 4, 2: kid}}} (a cnf naming a symmetric key by its kid): the
 * kid, or false if identity is not that. */
static bool
identity_kid(const uint8_t *id, size_t len, const uint8_t **kid,
    size_t *kid_len)
{
	struct kdc_cose_keyinfo k;
	struct kdc_rd rd;
	uint64_t n;
	int64_t label;

	*kid = NULL;
	*kid_len = 0;
	kdc_rd_init(&rd, id, len);
	if (kdc_cbor_read_map(&rd, &n) != KDC_OK || n != 1 ||
	    kdc_cbor_read_int(&rd, &label) != KDC_OK || label != 8 ||
	    kdc_cbor_read_map(&rd, &n) != KDC_OK || n != 1 ||
	    kdc_cbor_read_int(&rd, &label) != KDC_OK ||
	    label != KDC_CNF_COSE_KEY ||
	    kdc_cose_key_read(&rd, &k) != KDC_OK || !kdc_rd_at_end(&rd))
		return false;
	/* a name, no more: no key material, no other key type */
	if (k.kty != KDC_COSE_KTY_SYMMETRIC || k.kid == NULL ||
	    k.kid_len == 0 || k.k != NULL || k.x != NULL || k.d != NULL)
		return false;
	*kid = k.kid;
	*kid_len = k.kid_len;
	return true;
}

static struct kdcdev_rs_token *
find_kid(struct kdcdev_rs *rs, const uint8_t *kid, size_t kid_len)
{
	for (size_t i = 0; i < KDCDEV_RS_TOKENS; i++) {
		struct kdcdev_rs_token *t = &rs->tok[i];
		if (t->used && kid_len > 0 && t->kid_len == kid_len &&
		    memcmp(t->kid, kid, kid_len) == 0)
			return t;
	}
	return NULL;
}

kdc_err
kdcdev_rs_psk_lookup(struct kdcdev_rs *rs, const uint8_t *identity,
    size_t identity_len, uint8_t *key, size_t *key_len, uint8_t *kid,
    size_t *kid_len)
{
	struct kdcdev_rs_token *t;
	const uint8_t *k;
	size_t kl;

	if (identity == NULL || identity_len == 0)
		return KDC_ERR_INVALID_ARG;
	if (!identity_kid(identity, identity_len, &k, &kl)) {
		k = identity;	/* the raw kid */
		kl = identity_len;
	}
	if ((t = find_kid(rs, k, kl)) == NULL ||
	    t->pop != KDCDEV_RS_POP_SYMMETRIC) {
		rs_log(rs, KDCDEV_LOG_INFO, "psk: no token for a kid of %zu "
		    "bytes", kl);
		return KDC_ERR_NOT_FOUND;
	}
	if (t->exp <= rs->clock(rs->clock_arg)) {
		tok_drop(t);
		return KDC_ERR_EXPIRED;
	}
	if (*key_len < sizeof(t->key) || *kid_len < t->kid_len)
		return KDC_ERR_TOO_LARGE;
	memcpy(key, t->key, sizeof(t->key));
	*key_len = sizeof(t->key);
	memcpy(kid, t->kid, t->kid_len);
	*kid_len = t->kid_len;
	return KDC_OK;
}

/* ==== access checks ====================================================== */

static struct kdcdev_rs_token *
find_rpk(struct kdcdev_rs *rs, const uint8_t *x, const uint8_t *y)
{
	if (x == NULL || y == NULL)
		return NULL;
	for (size_t i = 0; i < KDCDEV_RS_TOKENS; i++) {
		struct kdcdev_rs_token *t = &rs->tok[i];
		if (t->used && t->pop == KDCDEV_RS_POP_EC2 &&
		    memcmp(t->x, x, 32) == 0 && memcmp(t->y, y, 32) == 0)
			return t;
	}
	return NULL;
}

kdc_err
kdcdev_rs_rpk_lookup(struct kdcdev_rs *rs, const uint8_t *x, const uint8_t *y)
{
	struct kdcdev_rs_token *t;

	if ((t = find_rpk(rs, x, y)) == NULL) {
		rs_log(rs, KDCDEV_LOG_INFO, "rpk: no token for the client's "
		    "public key");
		return KDC_ERR_NOT_FOUND;
	}
	if (t->exp <= rs->clock(rs->clock_arg)) {
		tok_drop(t);
		return KDC_ERR_EXPIRED;
	}
	return KDC_OK;
}

/* The access check with the session's token t (NULL: none). */
static kdc_err
access_tok(struct kdcdev_rs *rs, struct kdcdev_rs_token *t, uint8_t method,
    const char *path, struct kdcdev_resp *resp)
{
	const struct kdcdev_rs_rule *rule = NULL;
	bool path_known = false;
	int bit;

	for (size_t i = 0; i < rs->nrules; i++) {
		if (strcmp(rs->rules[i].path, path) != 0)
			continue;
		path_known = true;
		if (rs->rules[i].method == method) {
			rule = &rs->rules[i];
			break;
		}
	}
	if (rule == NULL) {
		resp_set(resp, path_known ? KDCDEV_CODE(4, 5) :
		    KDCDEV_CODE(4, 4));
		return path_known ? KDC_ERR_UNSUPPORTED : KDC_ERR_NOT_FOUND;
	}
	if (t != NULL && t->exp <= rs->clock(rs->clock_arg)) {
		tok_drop(t);
		t = NULL;
	}
	if (t == NULL) {
		resp_hints(rs, resp, rule->scope);
		return KDC_ERR_UNKNOWN_DEVICE;
	}
	bit = word_index(rs, rule->scope, strlen(rule->scope));
	if (bit < 0 || !(t->scopes & (1u << bit))) {
		resp_set(resp, KDCDEV_CODE(4, 3));
		rs_log(rs, KDCDEV_LOG_INFO, "access: %s refused: the token's "
		    "scope lacks \"%s\"", path, rule->scope);
		return KDC_ERR_DENIED;
	}
	return KDC_OK;
}

kdc_err
kdcdev_rs_access(struct kdcdev_rs *rs, const uint8_t *kid, size_t kid_len,
    uint8_t method, const char *path, struct kdcdev_resp *resp)
{
	return access_tok(rs, find_kid(rs, kid, kid_len), method, path, resp);
}

kdc_err
kdcdev_rs_access_rpk(struct kdcdev_rs *rs, const uint8_t *x,
    const uint8_t *y, uint8_t method, const char *path,
    struct kdcdev_resp *resp)
{
	return access_tok(rs, find_rpk(rs, x, y), method, path, resp);
}

/* ==== token revocation list (RFC 9770) =================================== */

static void
trl_remember(struct kdcdev_rs *rs, const uint8_t *hash, int64_t exp,
    int64_t now)
{
	struct kdcdev_rs_revoked *slot = NULL;

	if (trl_has(rs, hash))
		return;
	for (size_t i = 0; i < KDCDEV_RS_TRL; i++)	/* expired first */
		if (rs->trl[i].used && rs->trl[i].exp <= now)
			memset(&rs->trl[i], 0, sizeof(rs->trl[i]));
	for (size_t i = 0; i < KDCDEV_RS_TRL; i++) {
		if (!rs->trl[i].used) {
			slot = &rs->trl[i];
			break;
		}
		if (slot == NULL || rs->trl[i].seq < slot->seq)
			slot = &rs->trl[i];
	}
	slot->used = 1;
	memcpy(slot->hash, hash, KDCDEV_RS_HASH_LEN);
	slot->exp = exp;
	slot->seq = ++rs->seq;
}

kdc_err
kdcdev_rs_trl_apply(struct kdcdev_rs *rs,
    const uint8_t (*hashes)[KDCDEV_RS_HASH_LEN], size_t n, size_t *dropped)
{
	int64_t now = rs->clock(rs->clock_arg);
	size_t d = 0;

	if (dropped != NULL)
		*dropped = 0;
	if (n > 0 && hashes == NULL)
		return KDC_ERR_INVALID_ARG;
	for (size_t j = 0; j < n; j++) {
		int64_t exp = INT64_MAX;
		for (size_t i = 0; i < KDCDEV_RS_TOKENS; i++) {
			struct kdcdev_rs_token *t = &rs->tok[i];
			if (t->used && memcmp(t->hash, hashes[j],
			    KDCDEV_RS_HASH_LEN) == 0) {
				char hex[2 * KDCDEV_RS_HASH_LEN + 1];
				for (size_t k = 0; k < KDCDEV_RS_HASH_LEN; k++)
					(void)snprintf(hex + 2 * k, 3, "%02x",
					    t->hash[k]);
				rs_log(rs, KDCDEV_LOG_INFO, "trl: revoked token "
				    "dropped (hash %s)", hex);
				exp = t->exp;
				tok_drop(t);
				d++;
			}
		}
		trl_remember(rs, hashes[j], exp, now);
	}
	if (d > 0)
		rs_log(rs, KDCDEV_LOG_INFO, "trl: %zu revoked token(s) "
		    "dropped", d);
	if (dropped != NULL)
		*dropped = d;
	return KDC_OK;
}

#define TRL_BODY_MAX	256

/* One pass over a full-set TRL body; with apply, apply its hashes. */
static kdc_err
trl_walk(struct kdcdev_rs *rs, const uint8_t *body, size_t len, bool apply,
    size_t *dropped)
{
	struct kdc_rd rd;
	unsigned major, ai;
	uint64_t npairs, key, v, nh;
	bool seen = false;
	kdc_err r;

	kdc_rd_init(&rd, body, len);
	if ((r = kdc_cbor_head_read(&rd, &major, &ai, &npairs)) != KDC_OK)
		return r;
	if (major != 5 || npairs > 4)
		return KDC_ERR_MALFORMED;
	for (uint64_t p = 0; p < npairs; p++) {
		if ((r = kdc_cbor_head_read(&rd, &major, &ai, &key)) != KDC_OK)
			return r;
		if (major != 0)
			return KDC_ERR_MALFORMED;
		if (key == 1)
			return KDC_ERR_UNSUPPORTED;	/* diff set */
		if (key != 0) {
			/* cursor (2), more (3): an integer or a simple value */
			if ((r = kdc_cbor_head_read(&rd, &major, &ai, &v)) !=
			    KDC_OK)
				return r;
			if (major != 0 && major != 1 && major != 7)
				return KDC_ERR_MALFORMED;
			continue;
		}
		if (seen)
			return KDC_ERR_MALFORMED;
		seen = true;
		if ((r = kdc_cbor_head_read(&rd, &major, &ai, &nh)) != KDC_OK)
			return r;
		if (major != 4)
			return KDC_ERR_MALFORMED;
		if (nh > TRL_BODY_MAX)
			return KDC_ERR_TOO_LARGE;
		for (uint64_t i = 0; i < nh; i++) {
			const uint8_t *h;
			size_t d;
			if ((r = kdc_cbor_head_read(&rd, &major, &ai, &v)) !=
			    KDC_OK)
				return r;
			if (major != 2 || v != KDCDEV_RS_HASH_LEN)
				return KDC_ERR_MALFORMED;
			if (!kdc_rd_view(&rd, v, &h))
				return kdc_rd_err(&rd);
			if (apply) {
				(void)kdcdev_rs_trl_apply(rs,
				    (const uint8_t (*)[KDCDEV_RS_HASH_LEN])
				    (const void *)h, 1, &d);
				*dropped += d;
			}
		}
	}
	if (!seen)
		return KDC_ERR_MALFORMED;
	if (!kdc_rd_at_end(&rd))
		return kdc_rd_err(&rd) != KDC_OK ? kdc_rd_err(&rd) :
		    KDC_ERR_TRAILING;
	return KDC_OK;
}

kdc_err
kdcdev_rs_trl_body(struct kdcdev_rs *rs, const uint8_t *body, size_t len,
    size_t *dropped)
{
	size_t d = 0;
	kdc_err r;

	if (dropped != NULL)
		*dropped = 0;
	if ((r = trl_walk(rs, body, len, false, &d)) != KDC_OK)
		return r;
	r = trl_walk(rs, body, len, true, &d);
	if (dropped != NULL)
		*dropped = d;
	return r;
}
