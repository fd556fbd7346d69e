/*
 * codec.c: the AS's CBOR payloads (ace.h): token and introspection
 * requests in, Access Information, errors, introspection answers and the
 * TRL out. Bounded, no allocation; fuzzed by fuzz/fuzz_ace.c.
 */
#include <string.h>

#include "ace/ace.h"
#include "base/buf.h"
#include "base/cbor.h"
#include "base/utf8.h"

/* RFC 9200 Table 5 / RFC 9201 / Table 6 parameter keys. */
#define P_ACCESS_TOKEN	1
#define P_EXPIRES_IN	2
#define P_REQ_CNF	4
#define P_AUDIENCE	5
#define P_CNF		8
#define P_SCOPE		9
#define P_ACTIVE	10
#define P_TOKEN		11
#define P_CLIENT_ID	24
#define P_ERROR		30
#define P_ERROR_DESC	31
#define P_GRANT_TYPE	33
#define P_REFRESH	37
#define P_ACE_PROFILE	38
#define P_CNONCE	39
#define P_RS_CNF	41
/* Introspection claims (Table 6) */
#define I_AUD		3
#define I_EXP		4
#define I_IAT		6
#define I_CTI		7

/* Keys seen in one map: a bit per key 0..63 (what we read is below 64;
 * keys past it are skipped, and a duplicate among them is not ours to
 * judge). */
static int
seen(uint64_t *set, int64_t key)
{
	if (key < 0 || key > 63)
		return 0;
	if (*set & (UINT64_C(1) << key))
		return 1;
	*set |= UINT64_C(1) << key;
	return 0;
}

/* The next key of a map: an integer (RFC 9200 uses nothing else) not
 * seen before in it (set). */
static kdc_err
next_key(struct kdc_rd *rd, uint64_t *set, int64_t *key)
{
	kdc_err r;

	if ((r = kdc_cbor_read_int(rd, key)) != KDC_OK)
		return r;
	return seen(set, *key) ? KDC_ERR_MALFORMED : KDC_OK;
}

/* A map head; *n its entries, at most KDC_ACE_MAP_MAX. */
static kdc_err
map_head(struct kdc_rd *rd, size_t *n)
{
	uint64_t arg;
	kdc_err r;

	if ((r = kdc_cbor_read_map(rd, &arg)) != KDC_OK)
		return r;
	if (arg > KDC_ACE_MAP_MAX)
		return KDC_ERR_TOO_LARGE;
	*n = (size_t)arg;
	return KDC_OK;
}

/* A byte (want BSTR) or UTF-8 text (TSTR) string: a view of its bytes. */
static kdc_err
str(struct kdc_rd *rd, unsigned want, const uint8_t **p, size_t *len)
{
	const char *t;
	kdc_err r;

	if (want == KDC_CBOR_BSTR)
		return kdc_cbor_read_bstr(rd, p, len);
	if ((r = kdc_cbor_read_tstr(rd, &t, len)) != KDC_OK)
		return r;
	*p = (const uint8_t *)t;
	return kdc_utf8_valid(*p, *len) ? KDC_OK : KDC_ERR_MALFORMED;
}

/* A cnf / req_cnf value (RFC 8747 §3.1): a map of exactly one member,
 * COSE_Key (1), Encrypted_COSE_Key (2, kept raw) or kid (3). */
static kdc_err
cnf_read(struct kdc_rd *rd, struct kdc_cnf *c)
{
	const uint8_t *start;
	size_t n;
	int64_t key;
	kdc_err r;

	memset(c, 0, sizeof(*c));
	if ((r = map_head(rd, &n)) != KDC_OK)
		return r;
	if (n != 1)
		return KDC_ERR_MALFORMED;
	if ((r = kdc_cbor_read_int(rd, &key)) != KDC_OK)
		return r;
	switch (key) {
	case KDC_CNF_COSE_KEY:
		c->kind = KDC_CNF_COSE_KEY;
		return kdc_cose_key_read(rd, &c->key);
	case KDC_CNF_ENC_KEY:
		c->kind = KDC_CNF_ENC_KEY;
		start = rd->buf + kdc_rd_pos(rd);
		if ((r = kdc_cbor_skip(rd, KDC_COSE_DEPTH_MAX)) != KDC_OK)
			return r;
		c->raw = start;
		c->raw_len = (size_t)(rd->buf + kdc_rd_pos(rd) - start);
		return KDC_OK;
	case KDC_CNF_KID:
		c->kind = KDC_CNF_KID;
		return str(rd, KDC_CBOR_BSTR, &c->kid, &c->kid_len);
	default:
		return KDC_ERR_UNSUPPORTED;
	}
}

kdc_err
kdc_ace_token_req_parse(const uint8_t *buf, size_t len,
    struct kdc_ace_token_req *req)
{
	struct kdc_rd rd;
	uint64_t keys = 0, v;
	const uint8_t *p;
	size_t n, plen;
	int64_t key;
	unsigned major, ai;
	kdc_err r;

	memset(req, 0, sizeof(*req));
	req->grant_type = KDC_ACE_GRANT_CLIENT_CREDENTIALS;
	req->req_cnf.kind = KDC_CNF_NONE;
	kdc_rd_init(&rd, buf, len);
	if ((r = map_head(&rd, &n)) != KDC_OK)
		return r;
	for (size_t i = 0; i < n; i++) {
		if ((r = next_key(&rd, &keys, &key)) != KDC_OK)
			return r;
		switch (key) {
		case P_AUDIENCE:
			r = str(&rd, KDC_CBOR_TSTR, &p, &plen);
			req->audience = (const char *)p;
			req->audience_len = plen;
			break;
		case P_SCOPE:
			/* a binary scope (AIF, RFC 9237) is not what our
			 * grants hold: say so rather than misread it */
			if (kdc_cbor_peek(&rd, &major) &&
			    major == KDC_CBOR_BSTR)
				return KDC_ERR_UNSUPPORTED;
			r = str(&rd, KDC_CBOR_TSTR, &p, &plen);
			if (r == KDC_OK && plen > KDC_ACE_SCOPE_MAX)
				return KDC_ERR_TOO_LARGE;
			req->scope = (const char *)p;
			req->scope_len = plen;
			break;
		case P_REQ_CNF:
			r = cnf_read(&rd, &req->req_cnf);
			break;
		case P_ACE_PROFILE:
			/* null: "tell me the profile"; an int: the one the
			 * client wants (we have one: coap_dtls) */
			if ((r = kdc_cbor_head_read(&rd, &major, &ai, &v)) !=
			    KDC_OK)
				return r;
			if (major == KDC_CBOR_SIMPLE && ai == KDC_CBOR_NULL)
				req->profile_asked = true;
			else if (major != KDC_CBOR_UINT)
				return KDC_ERR_MALFORMED;
			else if (v != KDC_ACE_PROFILE_COAP_DTLS)
				req->profile_other = true;
			break;
		case P_CNONCE:
			r = str(&rd, KDC_CBOR_BSTR, &req->cnonce,
			    &req->cnonce_len);
			if (r == KDC_OK && req->cnonce_len > KDC_ACE_CNONCE_MAX)
				return KDC_ERR_TOO_LARGE;
			break;
		case P_GRANT_TYPE:
			if ((r = kdc_cbor_read_uint(&rd, &v)) != KDC_OK)
				return r;
			req->grant_type = v > 255 ? 255 : (int)v;
			break;
		case P_REFRESH:
			r = str(&rd, KDC_CBOR_BSTR, &req->refresh,
			    &req->refresh_len);
			if (r == KDC_OK && req->refresh_len > KDC_ACE_REFRESH_MAX)
				return KDC_ERR_TOO_LARGE;
			break;
		case P_CLIENT_ID:
			r = str(&rd, KDC_CBOR_TSTR, &p, &plen);
			break;
		default:
			r = kdc_cbor_skip(&rd, KDC_COSE_DEPTH_MAX);
			break;
		}
		if (r != KDC_OK)
			return r;
	}
	if (!kdc_rd_at_end(&rd))
		return KDC_ERR_TRAILING;
	return KDC_OK;
}

kdc_err
kdc_ace_introspect_req_parse(const uint8_t *buf, size_t len,
    const uint8_t **token, size_t *token_len)
{
	struct kdc_rd rd;
	uint64_t keys = 0;
	size_t n;
	int64_t key;
	kdc_err r;

	*token = NULL;
	*token_len = 0;
	kdc_rd_init(&rd, buf, len);
	if ((r = map_head(&rd, &n)) != KDC_OK)
		return r;
	for (size_t i = 0; i < n; i++) {
		if ((r = next_key(&rd, &keys, &key)) != KDC_OK)
			return r;
		if (key == P_TOKEN)
			r = str(&rd, KDC_CBOR_BSTR, token, token_len);
		else	/* token_type_hint (33): typed text, sent as int */
			r = kdc_cbor_skip(&rd, KDC_COSE_DEPTH_MAX);
		if (r != KDC_OK)
			return r;
	}
	if (!kdc_rd_at_end(&rd))
		return KDC_ERR_TRAILING;
	if (*token == NULL || *token_len == 0 ||
	    *token_len > KDC_COSE_MSG_MAX) {
		*token = NULL;
		*token_len = 0;
		return *token_len > KDC_COSE_MSG_MAX ? KDC_ERR_TOO_LARGE :
		    KDC_ERR_MALFORMED;
	}
	return KDC_OK;
}

/* ---- writing -------------------------------------------------------- */

static kdc_err
w_done(struct kdc_wr *w, size_t *out_len)
{
	kdc_err r;

	if ((r = kdc_wr_err(w)) != KDC_OK) {
		*out_len = 0;
		return r;
	}
	*out_len = kdc_wr_len(w);
	return KDC_OK;
}

kdc_err
kdc_ace_token_resp_encode(const struct kdc_ace_token_resp *resp,
    uint8_t *out, size_t *out_len)
{
	struct kdc_wr w;
	uint64_t n = 1;

	n += resp->expires_in > 0;
	n += resp->cnf_len > 0;
	n += resp->scope_differs;
	n += resp->refresh_len > 0;
	n += resp->has_profile;
	n += resp->rs_cnf_len > 0;
	kdc_wr_init(&w, out, *out_len);
	/* keys in encoding order: 1 2 8 9, then 37 38 41 */
	(void)kdc_cbor_write_map(&w, n);
	(void)kdc_cbor_write_int(&w, P_ACCESS_TOKEN);
	(void)kdc_cbor_write_bstr(&w, resp->access_token,
	    resp->access_token_len);
	if (resp->expires_in > 0) {
		(void)kdc_cbor_write_int(&w, P_EXPIRES_IN);
		(void)kdc_cbor_write_int(&w, resp->expires_in);
	}
	if (resp->cnf_len > 0) {	/* already an encoded map */
		(void)kdc_cbor_write_int(&w, P_CNF);
		(void)kdc_wr_bytes(&w, resp->cnf, resp->cnf_len);
	}
	if (resp->scope_differs) {
		(void)kdc_cbor_write_int(&w, P_SCOPE);
		(void)kdc_cbor_write_tstr(&w, resp->scope, strlen(resp->scope));
	}
	if (resp->refresh_len > 0) {
		(void)kdc_cbor_write_int(&w, P_REFRESH);
		(void)kdc_cbor_write_bstr(&w, resp->refresh, resp->refresh_len);
	}
	if (resp->has_profile) {
		(void)kdc_cbor_write_int(&w, P_ACE_PROFILE);
		(void)kdc_cbor_write_int(&w, resp->ace_profile);
	}
	if (resp->rs_cnf_len > 0) {
		(void)kdc_cbor_write_int(&w, P_RS_CNF);
		(void)kdc_wr_bytes(&w, resp->rs_cnf, resp->rs_cnf_len);
	}
	return w_done(&w, out_len);
}

kdc_err
kdc_ace_error_encode(int error, const char *description, uint8_t *out,
    size_t *out_len)
{
	struct kdc_wr w;

	kdc_wr_init(&w, out, *out_len);
	(void)kdc_cbor_write_map(&w, description != NULL ? 2 : 1);
	(void)kdc_cbor_write_int(&w, P_ERROR);
	(void)kdc_cbor_write_int(&w, error);
	if (description != NULL) {
		(void)kdc_cbor_write_int(&w, P_ERROR_DESC);
		(void)kdc_cbor_write_tstr(&w, description, strlen(description));
	}
	return w_done(&w, out_len);
}

kdc_err
kdc_ace_introspection_encode(const struct kdc_ace_introspection *in,
    uint8_t *out, size_t *out_len)
{
	struct kdc_wr w;
	size_t aud = strlen(in->audience), scope = strlen(in->scope);
	size_t client = strlen(in->client);

	kdc_wr_init(&w, out, *out_len);
	if (!in->active) {
		(void)kdc_cbor_write_map(&w, 1);
		(void)kdc_cbor_write_int(&w, P_ACTIVE);
		(void)kdc_cbor_write_bool(&w, false);
		return w_done(&w, out_len);
	}
	/* what is known, keys in encoding order: 3 4 6 7 8 9 10, 24 38 */
	(void)kdc_cbor_write_map(&w, (uint64_t)(1 + (aud > 0) + (in->exp != 0) +
	    (in->iat != 0) + (in->cti_len > 0) + (in->cnf_len > 0) +
	    (scope > 0) + (client > 0) + (in->ace_profile != 0)));
	if (aud > 0) {
		(void)kdc_cbor_write_int(&w, I_AUD);
		(void)kdc_cbor_write_tstr(&w, in->audience, aud);
	}
	if (in->exp != 0) {
		(void)kdc_cbor_write_int(&w, I_EXP);
		(void)kdc_cbor_write_int(&w, in->exp);
	}
	if (in->iat != 0) {
		(void)kdc_cbor_write_int(&w, I_IAT);
		(void)kdc_cbor_write_int(&w, in->iat);
	}
	if (in->cti_len > 0) {
		(void)kdc_cbor_write_int(&w, I_CTI);
		(void)kdc_cbor_write_bstr(&w, in->cti, in->cti_len);
	}
	if (in->cnf_len > 0) {
		(void)kdc_cbor_write_int(&w, P_CNF);
		(void)kdc_wr_bytes(&w, in->cnf, in->cnf_len);
	}
	if (scope > 0) {
		(void)kdc_cbor_write_int(&w, P_SCOPE);
		(void)kdc_cbor_write_tstr(&w, in->scope, scope);
	}
	(void)kdc_cbor_write_int(&w, P_ACTIVE);
	(void)kdc_cbor_write_bool(&w, true);
	if (client > 0) {
		(void)kdc_cbor_write_int(&w, P_CLIENT_ID);
		(void)kdc_cbor_write_tstr(&w, in->client, client);
	}
	if (in->ace_profile != 0) {
		(void)kdc_cbor_write_int(&w, P_ACE_PROFILE);
		(void)kdc_cbor_write_int(&w, in->ace_profile);
	}
	return w_done(&w, out_len);
}

kdc_err
kdc_ace_trl_encode(const uint8_t (*hashes)[KDC_ACE_TOKEN_HASH_LEN],
    size_t n, uint8_t *out, size_t *out_len)
{
	struct kdc_wr w;

	kdc_wr_init(&w, out, *out_len);
	(void)kdc_cbor_write_map(&w, 1);
	(void)kdc_cbor_write_int(&w, 0);	/* full_set */
	(void)kdc_cbor_write_array(&w, n);
	for (size_t i = 0; i < n; i++)
		(void)kdc_cbor_write_bstr(&w, hashes[i], KDC_ACE_TOKEN_HASH_LEN);
	return w_done(&w, out_len);
}
