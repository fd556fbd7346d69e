/*
 * cbor.c: item-level CBOR reader and writer (cbor.h), through base's
 * bounded reader and writer. The heads moved here from src/lwm2m/cbor.c
 * unchanged in behaviour.
 */
#include <string.h>

#include "base/cbor.h"

/* ---- heads ---------------------------------------------------------- */

kdc_err
kdc_cbor_head_read(struct kdc_rd *rd, unsigned *major, unsigned *ai,
    uint64_t *arg)
{
	uint8_t b;

	*major = 0;
	*ai = 0;
	*arg = 0;
	if (!kdc_rd_u8(rd, &b))
		return kdc_rd_err(rd);
	*major = (unsigned)b >> 5;
	*ai = b & 0x1fu;
	if (*ai >= 28)		/* reserved (28-30), indefinite or break (31) */
		return KDC_ERR_MALFORMED;
	if (*ai < 24) {
		*arg = *ai;
		return KDC_OK;
	}
	/* 24..27: a 1, 2, 4 or 8-byte argument follows */
	return kdc_rd_be(rd, 1u << (*ai - 24), arg) ? KDC_OK : kdc_rd_err(rd);
}

bool
kdc_cbor_head_write(struct kdc_wr *w, unsigned major, uint64_t arg)
{
	uint8_t b[9];
	unsigned n, ai;

	if (arg < 24) {
		ai = (unsigned)arg;
		n = 0;
	} else if (arg <= 0xff) {
		ai = 24;
		n = 1;
	} else if (arg <= 0xffff) {
		ai = 25;
		n = 2;
	} else if (arg <= 0xffffffffu) {
		ai = 26;
		n = 4;
	} else {
		ai = 27;
		n = 8;
	}
	b[0] = (uint8_t)(major << 5 | ai);
	for (unsigned i = 0; i < n; i++)
		b[1 + i] = (uint8_t)(arg >> (8 * (n - 1 - i)));
	return kdc_wr_bytes(w, b, 1 + n);	/* the whole head or nothing */
}

bool
kdc_cbor_peek(const struct kdc_rd *rd, unsigned *major)
{
	uint8_t b;

	*major = 0;
	if (!kdc_rd_peek(rd, &b))
		return false;
	*major = (unsigned)b >> 5;
	return true;
}

/* ---- reading items -------------------------------------------------- */

static kdc_err
fail(struct kdc_rd *rd, kdc_err r)
{
	kdc_rd_fail(rd, r);
	return kdc_rd_err(rd);
}

/* A head, its failure recorded in rd (kdc_cbor_head_read leaves a
 * reserved head unrecorded, as the LwM2M codecs have always had it). */
static kdc_err
head(struct kdc_rd *rd, unsigned *major, unsigned *ai, uint64_t *arg)
{
	kdc_err r = kdc_cbor_head_read(rd, major, ai, arg);

	return r == KDC_OK ? KDC_OK : fail(rd, r);
}

/* A head of major type `want`: its argument. */
static kdc_err
head_of(struct kdc_rd *rd, unsigned want, uint64_t *arg)
{
	unsigned major, ai;
	kdc_err r;

	if ((r = head(rd, &major, &ai, arg)) != KDC_OK)
		return r;
	if (major != want) {
		*arg = 0;
		return fail(rd, KDC_ERR_MALFORMED);
	}
	return KDC_OK;
}

kdc_err
kdc_cbor_read_uint(struct kdc_rd *rd, uint64_t *v)
{
	return head_of(rd, KDC_CBOR_UINT, v);
}

kdc_err
kdc_cbor_read_int(struct kdc_rd *rd, int64_t *v)
{
	unsigned major, ai;
	uint64_t arg;
	kdc_err r;

	*v = 0;
	if ((r = head(rd, &major, &ai, &arg)) != KDC_OK)
		return r;
	if ((major != KDC_CBOR_UINT && major != KDC_CBOR_NINT) ||
	    arg > (uint64_t)INT64_MAX)
		return fail(rd, KDC_ERR_MALFORMED);
	/* major 1: -1 - arg, which fits for arg <= INT64_MAX */
	*v = major == KDC_CBOR_UINT ? (int64_t)arg : -1 - (int64_t)arg;
	return KDC_OK;
}

static kdc_err
str_of(struct kdc_rd *rd, unsigned want, const uint8_t **p, size_t *n)
{
	uint64_t len;
	kdc_err r;

	*p = NULL;
	*n = 0;
	if ((r = head_of(rd, want, &len)) != KDC_OK)
		return r;
	/* the view compares len with what is left before anything else */
	if (!kdc_rd_view(rd, len, p))
		return kdc_rd_err(rd);
	*n = (size_t)len;
	return KDC_OK;
}

kdc_err
kdc_cbor_read_bstr(struct kdc_rd *rd, const uint8_t **p, size_t *n)
{
	return str_of(rd, KDC_CBOR_BSTR, p, n);
}

kdc_err
kdc_cbor_read_tstr(struct kdc_rd *rd, const char **p, size_t *n)
{
	const uint8_t *u;
	kdc_err r;

	r = str_of(rd, KDC_CBOR_TSTR, &u, n);
	*p = (const char *)u;
	return r;
}

kdc_err
kdc_cbor_read_array(struct kdc_rd *rd, uint64_t *n)
{
	return head_of(rd, KDC_CBOR_ARRAY, n);
}

kdc_err
kdc_cbor_read_map(struct kdc_rd *rd, uint64_t *n)
{
	return head_of(rd, KDC_CBOR_MAP, n);
}

kdc_err
kdc_cbor_read_tag(struct kdc_rd *rd, uint64_t *tag)
{
	return head_of(rd, KDC_CBOR_TAG, tag);
}

kdc_err
kdc_cbor_read_simple(struct kdc_rd *rd, unsigned *v)
{
	unsigned major, ai;
	uint64_t arg;
	kdc_err r;

	*v = 0;
	if ((r = head(rd, &major, &ai, &arg)) != KDC_OK)
		return r;
	/* floats (25..27) are not simple values; the two-byte form of a
	 * value below 32 is not well-formed (RFC 8949 §3.3) */
	if (major != KDC_CBOR_SIMPLE || ai > 24 || (ai == 24 && arg < 32))
		return fail(rd, KDC_ERR_MALFORMED);
	*v = (unsigned)arg;
	return KDC_OK;
}

kdc_err
kdc_cbor_read_bool(struct kdc_rd *rd, bool *v)
{
	unsigned s;
	kdc_err r;

	*v = false;
	if ((r = kdc_cbor_read_simple(rd, &s)) != KDC_OK)
		return r;
	if (s != KDC_CBOR_FALSE && s != KDC_CBOR_TRUE)
		return fail(rd, KDC_ERR_MALFORMED);
	*v = s == KDC_CBOR_TRUE;
	return KDC_OK;
}

/*
 * An IEEE 754 binary float, given as its fields, truncated toward zero
 * into an int64_t. mbits: mantissa width (10, 23, 52); ebias: exponent
 * bias (15, 127, 1023); emax: the all-ones exponent (NaN, infinity).
 * No libm: the value is mantissa * 2^(e - mbits), shifted.
 */
static bool
float_trunc(uint64_t bits, unsigned mbits, unsigned ebits, int64_t *v)
{
	uint64_t mant = bits & ((UINT64_C(1) << mbits) - 1);
	uint64_t efield = (bits >> mbits) & ((UINT64_C(1) << ebits) - 1);
	bool neg = (bits >> (mbits + ebits)) & 1u;
	int64_t ebias = (INT64_C(1) << (ebits - 1)) - 1;
	int64_t e;
	uint64_t mag;

	*v = 0;
	if (efield == (UINT64_C(1) << ebits) - 1)
		return false;		/* NaN or infinity */
	if (efield == 0)
		return true;		/* zero or subnormal: |x| < 1 */
	e = (int64_t)efield - ebias;	/* x = 1.mant * 2^e */
	if (e < 0)
		return true;		/* |x| < 1 truncates to 0 */
	if (e > 62)
		return false;		/* |x| >= 2^63: outside int64_t */
	mant |= UINT64_C(1) << mbits;
	if (e >= (int64_t)mbits)
		mag = mant << (e - (int64_t)mbits);
	else
		mag = mant >> ((int64_t)mbits - e);
	*v = neg ? -(int64_t)mag : (int64_t)mag;
	return true;
}

kdc_err
kdc_cbor_read_int_or_float(struct kdc_rd *rd, int64_t *v)
{
	unsigned major, ai;
	uint64_t arg;
	struct kdc_rd peek = *rd;
	kdc_err r;
	bool ok;

	*v = 0;
	if ((r = head(&peek, &major, &ai, &arg)) != KDC_OK) {
		*rd = peek;
		return r;
	}
	if (major == KDC_CBOR_UINT || major == KDC_CBOR_NINT)
		return kdc_cbor_read_int(rd, v);
	*rd = peek;
	if (major != KDC_CBOR_SIMPLE || ai < 25)
		return fail(rd, KDC_ERR_MALFORMED);
	if (ai == 25)
		ok = float_trunc(arg, 10, 5, v);
	else if (ai == 26)
		ok = float_trunc(arg, 23, 8, v);
	else
		ok = float_trunc(arg, 52, 11, v);
	return ok ? KDC_OK : fail(rd, KDC_ERR_MALFORMED);
}

static kdc_err
skip(struct kdc_rd *rd, unsigned depth, unsigned depth_max)
{
	unsigned major, ai;
	uint64_t arg;
	kdc_err r;

	if ((r = head(rd, &major, &ai, &arg)) != KDC_OK)
		return r;
	switch (major) {
	case KDC_CBOR_UINT:
	case KDC_CBOR_NINT:
		return KDC_OK;
	case KDC_CBOR_BSTR:
	case KDC_CBOR_TSTR:
		return kdc_rd_skip(rd, arg) ? KDC_OK : kdc_rd_err(rd);
	case KDC_CBOR_SIMPLE:
		if (ai == 24 && arg < 32)
			return fail(rd, KDC_ERR_MALFORMED);
		return KDC_OK;
	default:
		break;
	}
	/* arrays, maps, tags: one level down */
	if (depth >= depth_max)
		return fail(rd, KDC_ERR_TOO_LARGE);
	if (major == KDC_CBOR_TAG)
		return skip(rd, depth + 1, depth_max);
	/* every element takes at least one byte: a count larger than what
	 * is left ends at TRUNCATED without looping for it */
	if (major == KDC_CBOR_MAP) {
		if (arg > (uint64_t)kdc_rd_remaining(rd) / 2)
			return fail(rd, KDC_ERR_TRUNCATED);
		arg *= 2;
	} else if (arg > (uint64_t)kdc_rd_remaining(rd))
		return fail(rd, KDC_ERR_TRUNCATED);
	for (uint64_t i = 0; i < arg; i++)
		if ((r = skip(rd, depth + 1, depth_max)) != KDC_OK)
			return r;
	return KDC_OK;
}

kdc_err
kdc_cbor_skip(struct kdc_rd *rd, unsigned depth_max)
{
	if (depth_max > KDC_CBOR_DEPTH_MAX)
		depth_max = KDC_CBOR_DEPTH_MAX;
	return skip(rd, 0, depth_max);
}

/* ---- writing items -------------------------------------------------- */

bool
kdc_cbor_write_uint(struct kdc_wr *w, uint64_t v)
{
	return kdc_cbor_head_write(w, KDC_CBOR_UINT, v);
}

bool
kdc_cbor_write_int(struct kdc_wr *w, int64_t v)
{
	if (v >= 0)
		return kdc_cbor_head_write(w, KDC_CBOR_UINT, (uint64_t)v);
	/* -1 - v without overflow for INT64_MIN */
	return kdc_cbor_head_write(w, KDC_CBOR_NINT, (uint64_t)(-(v + 1)));
}

static bool
wr_str(struct kdc_wr *w, unsigned major, const void *p, size_t n)
{
	size_t at = kdc_wr_len(w);

	if (n > 0 && p == NULL)
		return kdc_wr_fail(w, KDC_ERR_INVALID_ARG);
	if (!kdc_cbor_head_write(w, major, n))
		return false;
	if (n > 0 && !kdc_wr_bytes(w, p, n)) {
		w->len = at;	/* all or nothing per call */
		return false;
	}
	return true;
}

bool
kdc_cbor_write_bstr(struct kdc_wr *w, const void *p, size_t n)
{
	return wr_str(w, KDC_CBOR_BSTR, p, n);
}

bool
kdc_cbor_write_tstr(struct kdc_wr *w, const void *p, size_t n)
{
	return wr_str(w, KDC_CBOR_TSTR, p, n);
}

bool
kdc_cbor_write_array(struct kdc_wr *w, uint64_t n)
{
	return kdc_cbor_head_write(w, KDC_CBOR_ARRAY, n);
}

bool
kdc_cbor_write_map(struct kdc_wr *w, uint64_t n)
{
	return kdc_cbor_head_write(w, KDC_CBOR_MAP, n);
}

bool
kdc_cbor_write_tag(struct kdc_wr *w, uint64_t tag)
{
	return kdc_cbor_head_write(w, KDC_CBOR_TAG, tag);
}

bool
kdc_cbor_write_simple(struct kdc_wr *w, unsigned v)
{
	if (v > 23)
		return kdc_wr_fail(w, KDC_ERR_INVALID_ARG);
	return kdc_cbor_head_write(w, KDC_CBOR_SIMPLE, v);
}

bool
kdc_cbor_write_bool(struct kdc_wr *w, bool v)
{
	return kdc_cbor_write_simple(w, v ? KDC_CBOR_TRUE : KDC_CBOR_FALSE);
}

/* ---- opt-in indefinite lengths -------------------------------------- */

#define CBOR_BREAK	0xffu

/* A head of major `want` that may be indefinite (ai 31): *indef says. */
static kdc_err
head_of_indef(struct kdc_rd *rd, unsigned want, uint64_t *arg, bool *indef)
{
	uint8_t b;

	*arg = 0;
	*indef = false;
	if (!kdc_rd_peek(rd, &b))
		return head_of(rd, want, arg);	/* records TRUNCATED */
	if ((b & 0x1fu) == 31) {
		if ((unsigned)b >> 5 != want)
			return fail(rd, KDC_ERR_MALFORMED);
		(void)kdc_rd_u8(rd, &b);
		*indef = true;
		return KDC_OK;
	}
	return head_of(rd, want, arg);
}

static kdc_err
iter_of(struct kdc_rd *rd, unsigned want, struct kdc_cbor_iter *it)
{
	kdc_err r;

	it->left = 0;
	it->indef = false;
	r = head_of_indef(rd, want, &it->left, &it->indef);
	if (r != KDC_OK)
		it->left = 0;
	return r;
}

kdc_err
kdc_cbor_iter_array(struct kdc_rd *rd, struct kdc_cbor_iter *it)
{
	return iter_of(rd, KDC_CBOR_ARRAY, it);
}

kdc_err
kdc_cbor_iter_map(struct kdc_rd *rd, struct kdc_cbor_iter *it)
{
	return iter_of(rd, KDC_CBOR_MAP, it);
}

bool
kdc_cbor_iter_next(struct kdc_rd *rd, struct kdc_cbor_iter *it)
{
	uint8_t b;

	if (kdc_rd_err(rd) != KDC_OK)
		return false;
	if (!it->indef) {
		if (it->left == 0)
			return false;
		it->left--;
		return true;
	}
	if (!kdc_rd_peek(rd, &b)) {
		kdc_rd_fail(rd, KDC_ERR_TRUNCATED);	/* no break */
		return false;
	}
	if (b == CBOR_BREAK) {
		(void)kdc_rd_u8(rd, &b);
		it->indef = false;	/* ended: later calls say false */
		it->left = 0;
		return false;
	}
	return true;
}

/* A string of major `want`, definite or chunked, appended to dst. */
static kdc_err
str_copy(struct kdc_rd *rd, unsigned want, uint8_t *dst, size_t cap,
    size_t *n)
{
	const uint8_t *p;
	uint64_t len;
	bool indef;
	uint8_t b;
	kdc_err r;

	*n = 0;
	if ((r = head_of_indef(rd, want, &len, &indef)) != KDC_OK)
		return r;
	for (;;) {
		if (indef) {
			if (!kdc_rd_peek(rd, &b))
				return fail(rd, KDC_ERR_TRUNCATED);
			if (b == CBOR_BREAK) {
				(void)kdc_rd_u8(rd, &b);
				return KDC_OK;
			}
			/* a chunk: a definite string of the same type */
			if ((r = head_of(rd, want, &len)) != KDC_OK)
				return r;
		}
		if (!kdc_rd_view(rd, len, &p))
			return kdc_rd_err(rd);
		if (len > (uint64_t)(cap - *n))
			return fail(rd, KDC_ERR_TOO_LARGE);
		if (len > 0)
			memcpy(dst + *n, p, (size_t)len);
		*n += (size_t)len;
		if (!indef)
			return KDC_OK;
	}
}

kdc_err
kdc_cbor_read_tstr_copy(struct kdc_rd *rd, char *dst, size_t cap, size_t *n)
{
	kdc_err r;

	*n = 0;
	if (cap == 0)
		return fail(rd, KDC_ERR_TOO_LARGE);
	dst[0] = '\0';
	r = str_copy(rd, KDC_CBOR_TSTR, (uint8_t *)dst, cap - 1, n);
	if (r != KDC_OK) {
		*n = 0;
		dst[0] = '\0';
		return r;
	}
	dst[*n] = '\0';
	return KDC_OK;
}

kdc_err
kdc_cbor_read_bstr_copy(struct kdc_rd *rd, uint8_t *dst, size_t cap,
    size_t *n)
{
	kdc_err r = str_copy(rd, KDC_CBOR_BSTR, dst, cap, n);

	if (r != KDC_OK)
		*n = 0;
	return r;
}

static kdc_err
skip_indef(struct kdc_rd *rd, unsigned depth, unsigned depth_max)
{
	struct kdc_cbor_iter it;
	unsigned major;
	uint8_t b;
	uint64_t arg;
	bool indef;
	kdc_err r;

	if (!kdc_rd_peek(rd, &b))
		return fail(rd, KDC_ERR_TRUNCATED);
	major = (unsigned)b >> 5;
	if ((b & 0x1fu) != 31 && major != KDC_CBOR_ARRAY &&
	    major != KDC_CBOR_MAP && major != KDC_CBOR_TAG)
		return skip(rd, depth, depth_max);	/* scalars, strings */
	if ((b & 0x1fu) != 31) {
		/* a definite container or a tag: its items may be indefinite */
		unsigned ai;

		if ((r = head(rd, &major, &ai, &arg)) != KDC_OK)
			return r;
		if (depth >= depth_max)
			return fail(rd, KDC_ERR_TOO_LARGE);
		if (major == KDC_CBOR_TAG)
			return skip_indef(rd, depth + 1, depth_max);
		if (major == KDC_CBOR_MAP) {
			if (arg > (uint64_t)kdc_rd_remaining(rd) / 2)
				return fail(rd, KDC_ERR_TRUNCATED);
			arg *= 2;
		} else if (arg > (uint64_t)kdc_rd_remaining(rd))
			return fail(rd, KDC_ERR_TRUNCATED);
		for (uint64_t i = 0; i < arg; i++)
			if ((r = skip_indef(rd, depth + 1, depth_max)) != KDC_OK)
				return r;
		return KDC_OK;
	}
	switch (major) {
	case KDC_CBOR_BSTR:
	case KDC_CBOR_TSTR:
		/* chunks: definite strings of the same type, then break */
		if ((r = head_of_indef(rd, major, &arg, &indef)) != KDC_OK)
			return r;
		while (kdc_rd_peek(rd, &b) && b != CBOR_BREAK) {
			if ((r = head_of(rd, major, &arg)) != KDC_OK)
				return r;
			if (!kdc_rd_skip(rd, arg))
				return kdc_rd_err(rd);
		}
		if (!kdc_rd_u8(rd, &b))
			return kdc_rd_err(rd);
		return KDC_OK;
	case KDC_CBOR_ARRAY:
	case KDC_CBOR_MAP:
		if (depth >= depth_max)
			return fail(rd, KDC_ERR_TOO_LARGE);
		if ((r = iter_of(rd, major, &it)) != KDC_OK)
			return r;
		while (kdc_cbor_iter_next(rd, &it)) {
			if ((r = skip_indef(rd, depth + 1, depth_max)) != KDC_OK)
				return r;
			if (major == KDC_CBOR_MAP &&
			    (r = skip_indef(rd, depth + 1, depth_max)) != KDC_OK)
				return r;
		}
		return kdc_rd_err(rd);
	default:
		/* a break where an item belongs, or 0x1f/0x3f/0xdf */
		return fail(rd, KDC_ERR_MALFORMED);
	}
}

kdc_err
kdc_cbor_skip_indef(struct kdc_rd *rd, unsigned depth_max)
{
	if (depth_max > KDC_CBOR_DEPTH_MAX)
		depth_max = KDC_CBOR_DEPTH_MAX;
	return skip_indef(rd, 0, depth_max);
}
