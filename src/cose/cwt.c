/*
 * cwt.c: CWT claims sets (RFC 8392 §3) with the cnf claim (RFC 8747 §3,
 * RFC 9203's osc) and the ACE claims (RFC 9200 §5.10): encode in
 * deterministic order, decode into views. No allocation.
 */
#include <string.h>

#include "base/buf.h"
#include "base/cbor.h"
#include "base/utf8.h"
#include "cose/cose.h"
#include "cose/cose_int.h"

/* Claim keys. */
#define C_ISS		1
#define C_SUB		2
#define C_AUD		3
#define C_EXP		4
#define C_NBF		5
#define C_IAT		6
#define C_CTI		7
#define C_CNF		8
#define C_SCOPE		9
#define C_PROFILE	38
#define C_CNONCE	39
#define C_EXI		40

/* A claims set is depth 1 of a payload; cnf's members at 2, a COSE_Key's
 * values at 3. Unknown claims are skipped this deep. */
#define SKIP_DEPTH	(KDC_COSE_DEPTH_MAX - 1)

/* ---- encode --------------------------------------------------------- */

static bool
wr_cnf(struct kdc_wr *w, const struct kdc_cnf *c)
{
	uint8_t *at;
	size_t n;
	kdc_err r;

	if (!kdc_cbor_write_map(w, 1) || !kdc_cbor_write_int(w, c->kind))
		return false;
	switch (c->kind) {
	case KDC_CNF_COSE_KEY:
		at = w->buf + kdc_wr_len(w);
		n = w->cap - kdc_wr_len(w);
		if ((r = kdc_cose_key_encode(&c->key, at, &n)) != KDC_OK)
			return kdc_wr_fail(w, r);
		w->len += n;
		return true;
	case KDC_CNF_ENC_KEY:
	case KDC_CNF_OSC:
		/* an item the caller made (the untagged COSE_Encrypt0,
		 * the OSCORE_Input_Material map), copied as is */
		if (c->raw == NULL || c->raw_len == 0)
			return kdc_wr_fail(w, KDC_ERR_INVALID_ARG);
		return kdc_wr_bytes(w, c->raw, c->raw_len);
	case KDC_CNF_KID:
		if (c->kid == NULL || c->kid_len == 0)
			return kdc_wr_fail(w, KDC_ERR_INVALID_ARG);
		return kdc_cbor_write_bstr(w, c->kid, c->kid_len);
	default:
		return kdc_wr_fail(w, KDC_ERR_INVALID_ARG);
	}
}

static bool
text_ok(const char *s, size_t n)
{
	return (s != NULL || n == 0) && kdc_utf8_valid((const uint8_t *)s, n);
}

kdc_err
kdc_cwt_encode(const struct kdc_cwt *c, uint8_t *out, size_t *out_len)
{
	struct kdc_wr w;
	uint32_t has;
	size_t cap;
	unsigned n = 0;

	if (out_len == NULL)
		return KDC_ERR_INVALID_ARG;
	cap = *out_len;
	*out_len = 0;
	if (c == NULL || out == NULL)
		return KDC_ERR_INVALID_ARG;
	has = c->has;
	if ((has & ~(uint32_t)0x1ffe) != 0)
		return KDC_ERR_INVALID_ARG;	/* a bit we do not know */
	if (((has & KDC_CWT_ISS) && !text_ok(c->iss, c->iss_len)) ||
	    ((has & KDC_CWT_SUB) && !text_ok(c->sub, c->sub_len)) ||
	    ((has & KDC_CWT_AUD) && !text_ok(c->aud, c->aud_len)) ||
	    ((has & KDC_CWT_SCOPE) && (c->scope == NULL ||
	    (c->scope_text && !text_ok((const char *)c->scope,
	    c->scope_len)))) ||
	    ((has & KDC_CWT_CTI) && c->cti == NULL && c->cti_len > 0) ||
	    ((has & KDC_CWT_CNONCE) && c->cnonce == NULL &&
	    c->cnonce_len > 0))
		return KDC_ERR_INVALID_ARG;
	for (uint32_t b = has; b != 0; b &= b - 1)
		n++;
	kdc_wr_init(&w, out, cap);
	/* deterministic order: 1..9 (one-byte keys), then 38, 39, 40 */
	(void)kdc_cbor_write_map(&w, n);
	if (has & KDC_CWT_ISS)
		(void)(kdc_cbor_write_int(&w, C_ISS) &&
		    kdc_cbor_write_tstr(&w, c->iss, c->iss_len));
	if (has & KDC_CWT_SUB)
		(void)(kdc_cbor_write_int(&w, C_SUB) &&
		    kdc_cbor_write_tstr(&w, c->sub, c->sub_len));
	if (has & KDC_CWT_AUD)
		(void)(kdc_cbor_write_int(&w, C_AUD) &&
		    kdc_cbor_write_tstr(&w, c->aud, c->aud_len));
	if (has & KDC_CWT_EXP)
		(void)(kdc_cbor_write_int(&w, C_EXP) &&
		    kdc_cbor_write_int(&w, c->exp));
	if (has & KDC_CWT_NBF)
		(void)(kdc_cbor_write_int(&w, C_NBF) &&
		    kdc_cbor_write_int(&w, c->nbf));
	if (has & KDC_CWT_IAT)
		(void)(kdc_cbor_write_int(&w, C_IAT) &&
		    kdc_cbor_write_int(&w, c->iat));
	if (has & KDC_CWT_CTI)
		(void)(kdc_cbor_write_int(&w, C_CTI) &&
		    kdc_cbor_write_bstr(&w, c->cti, c->cti_len));
	if (has & KDC_CWT_CNF)
		(void)(kdc_cbor_write_int(&w, C_CNF) && wr_cnf(&w, &c->cnf));
	if (has & KDC_CWT_SCOPE)
		(void)(kdc_cbor_write_int(&w, C_SCOPE) && (c->scope_text ?
		    kdc_cbor_write_tstr(&w, c->scope, c->scope_len) :
		    kdc_cbor_write_bstr(&w, c->scope, c->scope_len)));
	if (has & KDC_CWT_PROFILE)
		(void)(kdc_cbor_write_int(&w, C_PROFILE) &&
		    kdc_cbor_write_int(&w, c->ace_profile));
	if (has & KDC_CWT_CNONCE)
		(void)(kdc_cbor_write_int(&w, C_CNONCE) &&
		    kdc_cbor_write_bstr(&w, c->cnonce, c->cnonce_len));
	if (has & KDC_CWT_EXI)
		(void)(kdc_cbor_write_int(&w, C_EXI) &&
		    kdc_cbor_write_uint(&w, c->exi));
	if (kdc_wr_err(&w) != KDC_OK)
		return kdc_wr_err(&w);
	*out_len = kdc_wr_len(&w);
	return KDC_OK;
}

/* ---- decode --------------------------------------------------------- */

static kdc_err
rfail(struct kdc_rd *rd, kdc_err r)
{
	kdc_rd_fail(rd, r);
	return kdc_rd_err(rd);
}

static kdc_err
read_text(struct kdc_rd *rd, const char **s, size_t *n)
{
	kdc_err r;

	if ((r = kdc_cbor_read_tstr(rd, s, n)) != KDC_OK)
		return r;
	if (!kdc_utf8_valid((const uint8_t *)*s, *n))
		return rfail(rd, KDC_ERR_MALFORMED);
	return KDC_OK;
}

/* The view of the whole item at rd's position; rd moves past it. */
static kdc_err
read_raw(struct kdc_rd *rd, unsigned want, const uint8_t **p, size_t *n)
{
	size_t start = kdc_rd_pos(rd);
	unsigned major;
	kdc_err r;

	if (!kdc_cbor_peek(rd, &major))
		return rfail(rd, KDC_ERR_TRUNCATED);
	if (major != want)
		return rfail(rd, KDC_ERR_MALFORMED);
	if ((r = kdc_cbor_skip(rd, SKIP_DEPTH - 2)) != KDC_OK)
		return r;
	*p = rd->buf + start;
	*n = kdc_rd_pos(rd) - start;
	return KDC_OK;
}

/* cnf (RFC 8747 §3.1): a map with exactly one confirmation method. */
static kdc_err
read_cnf(struct kdc_rd *rd, struct kdc_cnf *c)
{
	struct kdc_cose_labels seen;
	struct kdc_cose_label l;
	uint64_t n;
	kdc_err r;

	memset(&seen, 0, sizeof(seen));
	if ((r = kdc_cbor_read_map(rd, &n)) != KDC_OK)
		return r;
	for (uint64_t i = 0; i < n; i++) {
		if (!kdc_cose_label_read(rd, &l))
			return kdc_rd_err(rd);
		if (!kdc_cose_labels_add(&seen, &l))
			return rfail(rd, seen.n >= KDC_COSE_LABELS_MAX ?
			    KDC_ERR_TOO_LARGE : KDC_ERR_MALFORMED);
		if (l.text || l.i < KDC_CNF_COSE_KEY || l.i > KDC_CNF_OSC) {
			if ((r = kdc_cbor_skip(rd, SKIP_DEPTH - 1)) != KDC_OK)
				return r;
			continue;
		}
		if (c->kind != KDC_CNF_NONE)	/* one PoP key per cnf */
			return rfail(rd, KDC_ERR_MALFORMED);
		c->kind = (int)l.i;
		switch (l.i) {
		case KDC_CNF_COSE_KEY:
			r = kdc_cose_key_read(rd, &c->key);
			break;
		case KDC_CNF_ENC_KEY:
			/* an untagged COSE_Encrypt0 (or COSE_Encrypt):
			 * the caller parses and opens it */
			r = read_raw(rd, KDC_CBOR_ARRAY, &c->raw, &c->raw_len);
			break;
		case KDC_CNF_KID:
			r = kdc_cbor_read_bstr(rd, &c->kid, &c->kid_len);
			break;
		default:	/* KDC_CNF_OSC */
			r = read_raw(rd, KDC_CBOR_MAP, &c->raw, &c->raw_len);
			break;
		}
		if (r != KDC_OK)
			return r;
	}
	if (c->kind == KDC_CNF_NONE)	/* empty, or nothing we know */
		return rfail(rd, n == 0 ? KDC_ERR_MALFORMED :
		    KDC_ERR_UNSUPPORTED);
	return KDC_OK;
}

static kdc_err
read_claim(struct kdc_rd *rd, int64_t key, struct kdc_cwt *c)
{
	uint32_t bit;
	unsigned major;
	kdc_err r;

	switch (key) {
	case C_ISS:
		bit = KDC_CWT_ISS;
		r = read_text(rd, &c->iss, &c->iss_len);
		break;
	case C_SUB:
		bit = KDC_CWT_SUB;
		r = read_text(rd, &c->sub, &c->sub_len);
		break;
	case C_AUD:
		bit = KDC_CWT_AUD;
		r = read_text(rd, &c->aud, &c->aud_len);
		break;
	case C_EXP:
		bit = KDC_CWT_EXP;
		r = kdc_cbor_read_int_or_float(rd, &c->exp);
		break;
	case C_NBF:
		bit = KDC_CWT_NBF;
		r = kdc_cbor_read_int_or_float(rd, &c->nbf);
		break;
	case C_IAT:
		bit = KDC_CWT_IAT;
		r = kdc_cbor_read_int_or_float(rd, &c->iat);
		break;
	case C_CTI:
		bit = KDC_CWT_CTI;
		r = kdc_cbor_read_bstr(rd, &c->cti, &c->cti_len);
		break;
	case C_CNF:
		bit = KDC_CWT_CNF;
		r = read_cnf(rd, &c->cnf);
		break;
	case C_SCOPE:
		bit = KDC_CWT_SCOPE;
		if (kdc_cbor_peek(rd, &major) && major == KDC_CBOR_TSTR) {
			const char *s;

			c->scope_text = true;
			r = read_text(rd, &s, &c->scope_len);
			c->scope = (const uint8_t *)s;
		} else
			r = kdc_cbor_read_bstr(rd, &c->scope, &c->scope_len);
		break;
	case C_PROFILE:
		bit = KDC_CWT_PROFILE;
		r = kdc_cbor_read_int(rd, &c->ace_profile);
		break;
	case C_CNONCE:
		bit = KDC_CWT_CNONCE;
		r = kdc_cbor_read_bstr(rd, &c->cnonce, &c->cnonce_len);
		break;
	case C_EXI:
		bit = KDC_CWT_EXI;
		r = kdc_cbor_read_uint(rd, &c->exi);
		break;
	default:
		return kdc_cbor_skip(rd, SKIP_DEPTH);
	}
	if (r == KDC_OK)
		c->has |= bit;
	return r;
}

kdc_err
kdc_cwt_decode(const uint8_t *buf, size_t len, struct kdc_cwt *c)
{
	struct kdc_cose_labels seen;
	struct kdc_cose_label l;
	struct kdc_rd rd;
	uint64_t n;
	kdc_err r;

	if (c == NULL)
		return KDC_ERR_INVALID_ARG;
	memset(c, 0, sizeof(*c));
	if (buf == NULL && len > 0)
		return KDC_ERR_INVALID_ARG;
	memset(&seen, 0, sizeof(seen));
	kdc_rd_init(&rd, buf, len);
	if ((r = kdc_cbor_read_map(&rd, &n)) != KDC_OK)
		goto fail;
	for (uint64_t i = 0; i < n; i++) {
		if (!kdc_cose_label_read(&rd, &l)) {
			r = kdc_rd_err(&rd);
			goto fail;
		}
		if (!kdc_cose_labels_add(&seen, &l)) {
			r = seen.n >= KDC_COSE_LABELS_MAX ? KDC_ERR_TOO_LARGE :
			    KDC_ERR_MALFORMED;
			goto fail;
		}
		if (l.text)
			r = kdc_cbor_skip(&rd, SKIP_DEPTH);
		else
			r = read_claim(&rd, l.i, c);
		if (r != KDC_OK)
			goto fail;
	}
	if (!kdc_rd_at_end(&rd)) {
		r = KDC_ERR_TRAILING;
		goto fail;
	}
	return KDC_OK;
fail:
	memset(c, 0, sizeof(*c));
	return r;
}
