/*
 * senml.c: SenML-CBOR (RFC 8428 §6, Content-Format 112) as LwM2M uses it
 * (LwM2M-Core §7.4.5: names are paths "/oid/iid/rid[/riid]", object links
 * travel as "vlo": "oid:iid"). Shared with the device library: no
 * allocation, no logging, no libcbor, clean under -Wconversion.
 *
 * The CBOR here is the small subset SenML needs (RFC 8949 §3): definite
 * lengths only, a bounded reader, an explicit depth bound when skipping
 * the values of labels we do not use.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/utf8.h"
#include "lwm2m/codec.h"
#include "lwm2m/codec_int.h"

/* A pack is an array of maps of scalars: depth 2. Unknown labels may carry
 * any CBOR item, which we skip; 8 levels is far more than any SenML
 * extension uses and bounds the recursion a peer can ask for. */
#define SENML_MAX_DEPTH		8
/* Labels in one record: RFC 8428 defines 15; duplicates are checked
 * pairwise, so bound the count (a record with more is not ours). */
#define SENML_MAX_LABELS	32
/* Longest resolved name we accept: "/65535/65535/65535/65535" is 24. */
#define SENML_NAME_MAX		32

/* RFC 8428 Table 4. */
#define L_BVER	(-1)
#define L_BN	(-2)
#define L_BV	(-5)
#define L_BS	(-6)
#define L_N	0
#define L_V	2
#define L_VS	3
#define L_VB	4
#define L_S	5
#define L_VD	8

/* ---- CBOR writer ------------------------------------------------------- */

static bool
wr_int(struct kdc_wr *w, int64_t v)
{
	if (v >= 0)
		return kdc_cbor_head_write(w, 0, (uint64_t)v);
	/* -1 - v without overflow for INT64_MIN */
	return kdc_cbor_head_write(w, 1, (uint64_t)(-(v + 1)));
}

static bool
wr_str(struct kdc_wr *w, unsigned major, const void *s, size_t n)
{
	return kdc_cbor_head_write(w, major, n) && kdc_wr_bytes(w, s, n);
}

/* Decimal digits of v into b (at least 6 bytes); returns the count. */
static size_t
fmt_u16(char *b, unsigned v)
{
	char t[6];
	size_t n = 0, k = 0;

	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	while (n > 0)
		b[k++] = t[--n];
	return k;
}

static bool
wr_value(struct kdc_wr *w, const struct kdc_lwm2m_res *res)
{
	char b[16];
	size_t n;

	switch (res->type) {
	case KDC_LWM2M_INT:
		return wr_int(w, L_V) && wr_int(w, res->i);
	case KDC_LWM2M_BOOL:
		if (res->i != 0 && res->i != 1)
			return kdc_wr_fail(w, KDC_ERR_INVALID_ARG);
		/* true / false */
		return wr_int(w, L_VB) && kdc_cbor_head_write(w, 7, res->i ? 21 : 20);
	case KDC_LWM2M_STRING:
	case KDC_LWM2M_OPAQUE:
		if (res->len > 0 && res->bytes == NULL)
			return kdc_wr_fail(w, KDC_ERR_INVALID_ARG);
		return wr_int(w, res->type == KDC_LWM2M_STRING ? L_VS : L_VD) &&
		    wr_str(w, res->type == KDC_LWM2M_STRING ? 3 : 2,
		    res->bytes, res->len);
	case KDC_LWM2M_OBJLNK:
		if (res->i < 0 || res->i > (int64_t)UINT32_MAX)
			return kdc_wr_fail(w, KDC_ERR_INVALID_ARG);
		n = fmt_u16(b, (unsigned)(res->i >> 16));
		b[n++] = ':';
		n += fmt_u16(b + n, (unsigned)(res->i & 0xffff));
		return wr_str(w, 3, "vlo", 3) && wr_str(w, 3, b, n);
	default:
		return kdc_wr_fail(w, KDC_ERR_INVALID_ARG);
	}
}

kdc_err
kdc_senml_cbor_encode_instance(uint16_t oid, uint16_t iid,
    const struct kdc_lwm2m_res *res, size_t n, uint8_t *out,
    size_t *out_len)
{
	struct kdc_wr w;
	char b[16];
	size_t k;

	if ((n > 0 && res == NULL) || (*out_len > 0 && out == NULL)) {
		*out_len = 0;
		return KDC_ERR_INVALID_ARG;
	}
	kdc_wr_init(&w, out, *out_len);
	*out_len = 0;
	if (!kdc_cbor_head_write(&w, 4, n))
		return kdc_wr_err(&w);
	for (size_t j = 0; j < n; j++) {
		if (!kdc_cbor_head_write(&w, 5, j == 0 ? 3 : 2))
			return kdc_wr_err(&w);
		if (j == 0) {	/* bn "/oid/iid/" on the first record */
			k = 0;
			b[k++] = '/';
			k += fmt_u16(b + k, oid);
			b[k++] = '/';
			k += fmt_u16(b + k, iid);
			b[k++] = '/';
			if (!wr_int(&w, L_BN) || !wr_str(&w, 3, b, k))
				return kdc_wr_err(&w);
		}
		k = fmt_u16(b, res[j].id);
		if (!wr_int(&w, L_N) || !wr_str(&w, 3, b, k) ||
		    !wr_value(&w, &res[j]))
			return kdc_wr_err(&w);
	}
	*out_len = kdc_wr_len(&w);
	return KDC_OK;
}

/* ---- CBOR reader ------------------------------------------------------- */

/* Borrow n bytes a peer announced (kdc_rd compares before it reads). */
static kdc_err
rd_bytes(struct kdc_rd *rd, uint64_t n, const uint8_t **out)
{
	return kdc_rd_view(rd, n, out) ? KDC_OK : kdc_rd_err(rd);
}

/* One item head: major type, additional info and argument. */
static kdc_err
rd_head(struct kdc_rd *rd, unsigned *major, unsigned *ai, uint64_t *arg)
{
	kdc_err r;

	if ((r = kdc_cbor_head_read(rd, major, ai, arg)) != KDC_OK)
		return r;
	/* RFC 8949 §3.3: simple values below 32 take the one-byte form. */
	if (*major == 7 && *ai == 24 && *arg < 32)
		return KDC_ERR_MALFORMED;
	return KDC_OK;
}

/* Skip one well-formed item of any type (values of unknown labels). */
static kdc_err
skip_item(struct kdc_rd *rd, unsigned depth)
{
	const uint8_t *b;
	unsigned major, ai;
	uint64_t arg;
	kdc_err r;

	if (depth > SENML_MAX_DEPTH)
		return KDC_ERR_TOO_LARGE;
	if ((r = rd_head(rd, &major, &ai, &arg)) != KDC_OK)
		return r;
	switch (major) {
	case 2:
	case 3:
		return rd_bytes(rd, arg, &b);
	case 4:
	case 5:
		/* every item takes at least one byte: check before looping */
		if (arg > kdc_rd_remaining(rd) / (major == 5 ? 2 : 1))
			return KDC_ERR_TRUNCATED;
		if (major == 5)
			arg *= 2;
		for (uint64_t i = 0; i < arg; i++)
			if ((r = skip_item(rd, depth + 1)) != KDC_OK)
				return r;
		return KDC_OK;
	case 6:
		return skip_item(rd, depth + 1);
	default:
		return KDC_OK;
	}
}

/* A text string; any other item is MALFORMED. */
static kdc_err
rd_text(struct kdc_rd *rd, unsigned want_major, const uint8_t **s, size_t *n)
{
	unsigned major, ai;
	uint64_t arg;
	kdc_err r;

	if ((r = rd_head(rd, &major, &ai, &arg)) != KDC_OK)
		return r;
	if (major != want_major)
		return KDC_ERR_MALFORMED;
	if ((r = rd_bytes(rd, arg, s)) != KDC_OK)
		return r;
	*n = (size_t)arg;
	return KDC_OK;
}

/*
 * An IEEE 754 binary16/32/64 (RFC 8949 §3.3) that holds an integer, as
 * int64. Non-integral values, NaN and infinities are MALFORMED (LwM2M
 * integer resources only); integral values past int64 are TOO_LARGE.
 */
static kdc_err
float_to_int(uint64_t bits, unsigned ebits, unsigned mbits, int64_t *v)
{
	uint64_t emax = (1u << ebits) - 1u;
	uint64_t exp = (bits >> mbits) & emax;
	uint64_t man = bits & ((UINT64_C(1) << mbits) - 1u);
	int sign = (int)((bits >> (ebits + mbits)) & 1u);
	int64_t shift;
	uint64_t mag;

	*v = 0;
	if (exp == emax)
		return KDC_ERR_MALFORMED;		/* Inf, NaN */
	if (exp == 0)					/* zero, subnormal */
		return man == 0 ? KDC_OK : KDC_ERR_MALFORMED;
	man |= UINT64_C(1) << mbits;
	shift = (int64_t)exp - (int64_t)(emax >> 1) - (int64_t)mbits;
	if (shift < 0) {
		if (shift <= -64 ||
		    (man & ((UINT64_C(1) << -shift) - 1u)) != 0)
			return KDC_ERR_MALFORMED;	/* fraction bits */
		mag = man >> -shift;
	} else {
		/* man has mbits + 1 bits; 2^63 is the largest magnitude */
		if (shift + (int64_t)mbits + 1 > 64)
			return KDC_ERR_TOO_LARGE;
		mag = man << shift;
	}
	if (sign) {
		if (mag > (uint64_t)INT64_MAX + 1u)
			return KDC_ERR_TOO_LARGE;
		*v = mag == (uint64_t)INT64_MAX + 1u ? INT64_MIN :
		    -(int64_t)mag;
	} else {
		if (mag > (uint64_t)INT64_MAX)
			return KDC_ERR_TOO_LARGE;
		*v = (int64_t)mag;
	}
	return KDC_OK;
}

/* "v": an integer, or a float that holds one. */
static kdc_err
rd_number(struct kdc_rd *rd, int64_t *v)
{
	unsigned major, ai;
	uint64_t arg;
	kdc_err r;

	*v = 0;
	if ((r = rd_head(rd, &major, &ai, &arg)) != KDC_OK)
		return r;
	switch (major) {
	case 0:
		if (arg > (uint64_t)INT64_MAX)
			return KDC_ERR_TOO_LARGE;
		*v = (int64_t)arg;
		return KDC_OK;
	case 1:				/* -1 - arg */
		if (arg > (uint64_t)INT64_MAX)
			return KDC_ERR_TOO_LARGE;
		*v = -(int64_t)arg - 1;
		return KDC_OK;
	case 7:
		if (ai == 25)
			return float_to_int(arg, 5, 10, v);
		if (ai == 26)
			return float_to_int(arg, 8, 23, v);
		if (ai == 27)
			return float_to_int(arg, 11, 52, v);
		return KDC_ERR_MALFORMED;
	default:			/* incl. tag 4 decimal fractions */
		return KDC_ERR_MALFORMED;
	}
}

/* Decimal 0..65535, no sign, no leading zero; *pos advances. */
static int
parse_u16(const char *s, size_t n, size_t *pos, int32_t *v)
{
	size_t i = *pos, start = *pos;
	int32_t x = 0;

	while (i < n && s[i] >= '0' && s[i] <= '9') {
		if (i - start >= 5)
			return 0;
		x = x * 10 + (s[i] - '0');
		i++;
	}
	if (i == start || x > 65535 || (s[start] == '0' && i - start > 1))
		return 0;
	*pos = i;
	*v = x;
	return 1;
}

/* "/oid/iid/rid" or "/oid/iid/rid/riid": a resource, as a value needs. */
static kdc_err
parse_path(const char *s, size_t n, struct kdc_senml_rec *rec)
{
	int32_t *ids[4] = { &rec->oid, &rec->iid, &rec->rid, &rec->riid };
	size_t pos = 0, k = 0;

	while (pos < n && k < 4) {
		if (s[pos++] != '/' || !parse_u16(s, n, &pos, ids[k]))
			return KDC_ERR_MALFORMED;
		k++;
	}
	return (pos == n && k >= 3) ? KDC_OK : KDC_ERR_MALFORMED;
}

/* "vlo": "oid:iid" (LwM2M-Core §7.4.5). */
static kdc_err
parse_objlnk(const uint8_t *s, size_t n, int64_t *v)
{
	const char *c = (const char *)s;
	size_t pos = 0;
	int32_t oid, iid;

	if (!parse_u16(c, n, &pos, &oid) || pos >= n || c[pos++] != ':' ||
	    !parse_u16(c, n, &pos, &iid) || pos != n)
		return KDC_ERR_MALFORMED;
	*v = (int64_t)oid << 16 | iid;
	return KDC_OK;
}

/* A map key, kept for the duplicate check. */
struct label {
	unsigned	 major;		/* 0, 1: integer; 3: text */
	uint64_t	 arg;
	const uint8_t	*s;
};

static int
label_eq(const struct label *a, const struct label *b)
{
	if (a->major != b->major || a->arg != b->arg)
		return 0;
	return a->major != 3 || a->arg == 0 ||
	    memcmp(a->s, b->s, (size_t)a->arg) == 0;
}

/* The base name in force: set by "bn", kept for the records after it. */
struct base {
	const uint8_t	*bn;
	size_t		 bn_len;
};

static kdc_err
rd_record(struct kdc_rd *rd, struct base *base, struct kdc_senml_rec *rec)
{
	struct label seen[SENML_MAX_LABELS];
	const uint8_t *n = NULL, *s;
	size_t n_len = 0, len, nvals = 0;
	char name[SENML_NAME_MAX];
	unsigned major, ai;
	uint64_t arg, pairs;
	kdc_err r;

	memset(rec, 0, sizeof(*rec));
	rec->oid = rec->iid = rec->rid = rec->riid = -1;
	if ((r = rd_head(rd, &major, &ai, &arg)) != KDC_OK)
		return r;
	if (major != 5)
		return KDC_ERR_MALFORMED;
	if (arg > kdc_rd_remaining(rd) / 2)
		return KDC_ERR_TRUNCATED;
	if (arg > SENML_MAX_LABELS)
		return KDC_ERR_TOO_LARGE;
	pairs = arg;
	for (size_t i = 0; i < pairs; i++) {
		struct label *l = &seen[i];
		int64_t key = 0;

		if ((r = rd_head(rd, &l->major, &ai, &l->arg)) != KDC_OK)
			return r;
		l->s = NULL;
		if (l->major == 3) {
			if ((r = rd_bytes(rd, l->arg, &l->s)) != KDC_OK)
				return r;
		} else if (l->major != 0 && l->major != 1)
			return KDC_ERR_MALFORMED;
		for (size_t j = 0; j < i; j++)
			if (label_eq(&seen[j], l))
				return KDC_ERR_MALFORMED;  /* duplicate label */

		if (l->major == 3) {
			/* RFC 8428 §4.4: a label ending in '_' must be
			 * understood, and we understand none of them. */
			if (l->arg > 0 && l->s[l->arg - 1] == '_')
				return KDC_ERR_MALFORMED;
			if (l->arg == 3 && memcmp(l->s, "vlo", 3) == 0) {
				if ((r = rd_text(rd, 3, &s, &len)) != KDC_OK ||
				    (r = parse_objlnk(s, len, &rec->i)) !=
				    KDC_OK)
					return r;
				rec->type = KDC_LWM2M_OBJLNK;
				nvals++;
			} else if ((r = skip_item(rd, 2)) != KDC_OK)
				return r;	/* an extension we ignore */
			continue;
		}
		if (l->arg > 16)		/* no label we know */
			key = 1000;
		else
			key = l->major == 0 ? (int64_t)l->arg :
			    -(int64_t)l->arg - 1;
		switch (key) {
		case L_BN:
			if ((r = rd_text(rd, 3, &base->bn, &base->bn_len)) !=
			    KDC_OK)
				return r;
			break;
		case L_N:
			if ((r = rd_text(rd, 3, &n, &n_len)) != KDC_OK)
				return r;
			break;
		case L_V:
			if ((r = rd_number(rd, &rec->i)) != KDC_OK)
				return r;
			rec->type = KDC_LWM2M_INT;
			nvals++;
			break;
		case L_VS:
			if ((r = rd_text(rd, 3, &rec->bytes, &rec->len)) !=
			    KDC_OK)
				return r;
			if (!kdc_utf8_valid(rec->bytes, rec->len))
				return KDC_ERR_MALFORMED;
			rec->type = KDC_LWM2M_STRING;
			nvals++;
			break;
		case L_VB:
			if ((r = rd_head(rd, &major, &ai, &arg)) != KDC_OK)
				return r;
			if (major != 7 || (ai != 20 && ai != 21))
				return KDC_ERR_MALFORMED;
			rec->type = KDC_LWM2M_BOOL;
			rec->i = ai == 21;
			nvals++;
			break;
		case L_VD:
			if ((r = rd_text(rd, 2, &rec->bytes, &rec->len)) !=
			    KDC_OK)
				return r;
			rec->type = KDC_LWM2M_OPAQUE;
			nvals++;
			break;
		case L_BVER:			/* RFC 8428 §6: unsigned */
			if ((r = rd_head(rd, &major, &ai, &arg)) != KDC_OK)
				return r;
			if (major != 0)
				return KDC_ERR_MALFORMED;
			break;
		case L_BV:
		case L_BS:
		case L_S:
			/* base value/sum change what v means; LwM2M does
			 * not send them and we do not add them up */
			return KDC_ERR_UNSUPPORTED;
		default:			/* bt, bu, u, t, ut, ... */
			if ((r = skip_item(rd, 2)) != KDC_OK)
				return r;
			break;
		}
	}
	/* RFC 8428 §4.2: exactly one value (no Sum: refused above). */
	if (nvals != 1)
		return KDC_ERR_MALFORMED;
	/* RFC 8428 §4.5.1: the name is bn followed by n. */
	if (base->bn_len > sizeof(name) || n_len > sizeof(name) - base->bn_len)
		return KDC_ERR_MALFORMED;
	if (base->bn_len > 0)
		memcpy(name, base->bn, base->bn_len);
	if (n_len > 0)
		memcpy(name + base->bn_len, n, n_len);
	return parse_path(name, base->bn_len + n_len, rec);
}

/* One pass over the pack; fn NULL only validates. */
static kdc_err
senml_walk(const uint8_t *buf, size_t len, kdc_senml_fn fn, void *arg)
{
	struct kdc_rd rd;
	struct base base = { NULL, 0 };
	struct kdc_senml_rec rec;
	unsigned major, ai;
	uint64_t count;
	kdc_err r;

	kdc_rd_init(&rd, buf, len);
	if ((r = rd_head(&rd, &major, &ai, &count)) != KDC_OK)
		return r;
	if (major != 4)
		return KDC_ERR_MALFORMED;
	/* each record is at least one byte */
	if (count > kdc_rd_remaining(&rd))
		return KDC_ERR_TRUNCATED;
	for (uint64_t i = 0; i < count; i++) {
		if ((r = rd_record(&rd, &base, &rec)) != KDC_OK)
			return r;
		if (fn != NULL && (r = fn(arg, &rec)) != KDC_OK)
			return r;
	}
	return kdc_rd_at_end(&rd) ? KDC_OK : KDC_ERR_TRAILING;
}

kdc_err
kdc_senml_cbor_decode(const uint8_t *buf, size_t len, kdc_senml_fn fn,
    void *arg)
{
	kdc_err r;

	/* Validate the whole pack before the first callback, so a caller
	 * that applies writes never applies half of a bad pack. */
	if ((r = senml_walk(buf, len, NULL, NULL)) != KDC_OK || fn == NULL)
		return r;
	return senml_walk(buf, len, fn, arg);
}
