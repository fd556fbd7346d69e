/*
 * ace_client.c: the client side of ACE the device library needs (kdcdev.h
 * "ACE client"): the /token request body, the Access Information in the
 * answer, and the RFC 9202 psk_identity. Bounded, no allocation.
 */
#include <string.h>

#include "cose/cose.h"
#include "kdcdev_int.h"
#include "lwm2m/codec_int.h"

/* A COSE_Key of a P-256 public key: {1: 2, -1: 1, -2: x, -3: y}. */
static bool
put_ec2(struct kdc_wr *w, const uint8_t *x, const uint8_t *y)
{
	return kdc_cbor_head_write(w, 5, 4) &&
	    kdc_cbor_head_write(w, 0, 1) && kdc_cbor_head_write(w, 0, 2) &&
	    kdc_cbor_head_write(w, 1, 0) && kdc_cbor_head_write(w, 0, 1) &&
	    kdc_cbor_head_write(w, 1, 1) && kdc_cbor_head_write(w, 2, 32) &&
	    kdc_wr_bytes(w, x, 32) &&
	    kdc_cbor_head_write(w, 1, 2) && kdc_cbor_head_write(w, 2, 32) &&
	    kdc_wr_bytes(w, y, 32);
}

kdc_err
kdcdev_ace_token_req_pop(const char *aud, const char *scope,
    const uint8_t *x, const uint8_t *y, uint8_t *out, size_t *out_len)
{
	struct kdc_wr w;
	size_t na, ns;
	bool pop = x != NULL && y != NULL;

	if (aud == NULL || (na = strlen(aud)) == 0 || (x == NULL) != (y == NULL))
		return KDC_ERR_INVALID_ARG;
	ns = scope != NULL ? strlen(scope) : 0;
	kdc_wr_init(&w, out, *out_len);
	/* {?4: req_cnf, 5: audience, ?9: scope} (keys in order); absent
	 * grant_type = client_credentials, absent req_cnf = the AS makes a
	 * symmetric PoP key */
	(void)(kdc_cbor_head_write(&w, 5, 1u + (ns > 0 ? 1u : 0u) + (pop ? 1u : 0u)) &&
	    (!pop || (kdc_cbor_head_write(&w, 0, 4) &&
	    kdc_cbor_head_write(&w, 5, 1) && kdc_cbor_head_write(&w, 0, 1) &&
	    put_ec2(&w, x, y))) &&
	    kdc_cbor_head_write(&w, 0, 5) && kdc_cbor_head_write(&w, 3, na) &&
	    kdc_wr_bytes(&w, aud, na) &&
	    (ns == 0 || (kdc_cbor_head_write(&w, 0, 9) &&
	    kdc_cbor_head_write(&w, 3, ns) && kdc_wr_bytes(&w, scope, ns))));
	if (w.err != KDC_OK)
		return w.err;
	*out_len = w.len;
	return KDC_OK;
}

kdc_err
kdcdev_ace_token_req(const char *aud, const char *scope, uint8_t *out,
    size_t *out_len)
{
	return kdcdev_ace_token_req_pop(aud, scope, NULL, NULL, out, out_len);
}

/* Skip one item whose head is read already (major, arg): scalars and
 * strings only at depth 0; arrays and maps down to depth 3. */
static kdc_err
skip_rest(struct kdc_rd *rd, unsigned major, uint64_t arg, unsigned depth)
{
	unsigned m, ai;
	uint64_t a;
	kdc_err r;

	switch (major) {
	case 0: case 1: case 7:
		return KDC_OK;
	case 2: case 3:
		return kdc_rd_skip(rd, arg) ? KDC_OK : kdc_rd_err(rd);
	case 6:
		if (depth >= 3)
			return KDC_ERR_MALFORMED;
		if ((r = kdc_cbor_head_read(rd, &m, &ai, &a)) != KDC_OK)
			return r;
		return skip_rest(rd, m, a, depth + 1);
	case 4: case 5:
		if (depth >= 3)
			return KDC_ERR_MALFORMED;
		if (major == 5 && arg > UINT64_MAX / 2)
			return KDC_ERR_MALFORMED;
		for (uint64_t i = 0; i < (major == 5 ? 2 * arg : arg); i++) {
			if ((r = kdc_cbor_head_read(rd, &m, &ai, &a)) != KDC_OK ||
			    (r = skip_rest(rd, m, a, depth + 1)) != KDC_OK)
				return r;
		}
		return KDC_OK;
	default:
		return KDC_ERR_MALFORMED;
	}
}

/* cnf {1: COSE_Key} with a symmetric key: its kid and k. */
static kdc_err
read_cnf(struct kdc_rd *rd, uint64_t n, struct kdcdev_ace_token *t)
{
	struct kdc_cose_keyinfo ki;
	unsigned m, ai;
	uint64_t key;
	kdc_err r;

	if (n != 1)
		return KDC_ERR_MALFORMED;	/* exactly one PoP key */
	if ((r = kdc_cbor_head_read(rd, &m, &ai, &key)) != KDC_OK)
		return r;
	if (m != 0 || key != 1)
		return KDC_ERR_UNSUPPORTED;	/* Encrypted_COSE_Key, kid only */
	if ((r = kdc_cose_key_read(rd, &ki)) != KDC_OK)
		return r;
	if (ki.kty != KDC_COSE_KTY_SYMMETRIC || ki.k_len == 0 ||
	    ki.kid_len == 0)
		return KDC_ERR_UNSUPPORTED;
	t->key = ki.k;
	t->key_len = ki.k_len;
	t->kid = ki.kid;
	t->kid_len = ki.kid_len;
	return KDC_OK;
}

/* rs_cnf {1: COSE_Key} with the RS's P-256 public key: x and y. */
static kdc_err
read_rs_cnf(struct kdc_rd *rd, uint64_t n, struct kdcdev_ace_token *t)
{
	struct kdc_cose_keyinfo ki;
	unsigned m, ai;
	uint64_t key;
	kdc_err r;

	if (n != 1)
		return KDC_ERR_MALFORMED;
	if ((r = kdc_cbor_head_read(rd, &m, &ai, &key)) != KDC_OK)
		return r;
	if (m != 0 || key != 1)
		return KDC_ERR_UNSUPPORTED;
	if ((r = kdc_cose_key_read(rd, &ki)) != KDC_OK)
		return r;
	if (ki.kty != KDC_COSE_KTY_EC2 || ki.crv != KDC_COSE_CRV_P256 ||
	    ki.x_len != 32 || ki.y_len != 32 || ki.d_len != 0)
		return KDC_ERR_UNSUPPORTED;
	t->rs_x = ki.x;
	t->rs_y = ki.y;
	return KDC_OK;
}

kdc_err
kdcdev_ace_token_resp(const uint8_t *buf, size_t len,
    struct kdcdev_ace_token *t)
{
	struct kdc_rd rd;
	unsigned m, ai;
	uint64_t n, key, v;
	uint32_t seen = 0;
	kdc_err r;

	memset(t, 0, sizeof(*t));
	t->expires_in = -1;
	t->profile = -1;
	kdc_rd_init(&rd, buf, len);
	if ((r = kdc_cbor_head_read(&rd, &m, &ai, &n)) != KDC_OK)
		return r;
	if (m != 5 || n > 32)
		return KDC_ERR_MALFORMED;
	for (uint64_t i = 0; i < n; i++) {
		if ((r = kdc_cbor_head_read(&rd, &m, &ai, &key)) != KDC_OK)
			return r;
		if (m != 0)
			return KDC_ERR_MALFORMED;	/* our keys are uints */
		if (key < 32) {
			if (seen & (1u << key))
				return KDC_ERR_MALFORMED;	/* duplicate */
			seen |= 1u << key;
		}
		if ((r = kdc_cbor_head_read(&rd, &m, &ai, &v)) != KDC_OK)
			return r;
		switch (key) {
		case 1:		/* access_token */
			if (m != 2 || !kdc_rd_view(&rd, v, &t->token))
				return m != 2 ? KDC_ERR_MALFORMED :
				    kdc_rd_err(&rd);
			t->token_len = (size_t)v;
			break;
		case 2:		/* expires_in */
			if (m != 0 || v > INT64_MAX)
				return KDC_ERR_MALFORMED;
			t->expires_in = (int64_t)v;
			break;
		case 8:		/* cnf */
			if (m != 5)
				return KDC_ERR_MALFORMED;
			if ((r = read_cnf(&rd, v, t)) != KDC_OK)
				return r;
			break;
		case 41:	/* rs_cnf: {1: COSE_Key EC2 P-256} */
			if (m != 5)
				return KDC_ERR_MALFORMED;
			if ((r = read_rs_cnf(&rd, v, t)) != KDC_OK)
				return r;
			break;
		case 30:	/* error */
			if (m != 0 || v == 0 || v > 255)
				return KDC_ERR_MALFORMED;
			t->error = (int)v;
			break;
		case 38:	/* ace_profile */
			if (m != 0 || v > 255)
				return KDC_ERR_MALFORMED;
			t->profile = (int)v;
			break;
		default:	/* scope, token_type, rs_cnf, error text ... */
			if ((r = skip_rest(&rd, m, v, 0)) != KDC_OK)
				return r;
			break;
		}
	}
	if (!kdc_rd_at_end(&rd))
		return kdc_rd_err(&rd) != KDC_OK ? kdc_rd_err(&rd) :
		    KDC_ERR_TRAILING;
	if (t->error != 0)
		return KDC_OK;
	if (t->token == NULL || t->token_len == 0)
		return KDC_ERR_MALFORMED;
	return KDC_OK;
}

kdc_err
kdcdev_ace_psk_identity(const uint8_t *kid, size_t kid_len, uint8_t *out,
    size_t *out_len)
{
	struct kdc_wr w;

	if (kid == NULL || kid_len == 0)
		return KDC_ERR_INVALID_ARG;
	kdc_wr_init(&w, out, *out_len);
	/* {8: {1: {1: 4, 2: kid}}} (RFC 9202 §3.3, Figure 9) */
	(void)(kdc_cbor_head_write(&w, 5, 1) && kdc_cbor_head_write(&w, 0, 8) &&
	    kdc_cbor_head_write(&w, 5, 1) && kdc_cbor_head_write(&w, 0, 1) &&
	    kdc_cbor_head_write(&w, 5, 2) && kdc_cbor_head_write(&w, 0, 1) &&
	    kdc_cbor_head_write(&w, 0, 4) && kdc_cbor_head_write(&w, 0, 2) &&
	    kdc_cbor_head_write(&w, 2, kid_len) &&
	    kdc_wr_bytes(&w, kid, kid_len));
	if (w.err != KDC_OK)
		return w.err;
	*out_len = w.len;
	return KDC_OK;
}
