/*
 * multipart.c: multipart-core (RFC 8710, Content-Format 62): a CBOR
 * array of alternating Content-Format (uint 0..65535) and representation
 * (byte string, or null for "no representation"), as EST-coaps /skg
 * answers it (RFC 9148 §5.8: [284, PKCS#8, 287 or 281, certificate]).
 * Shared with the device library: no allocation, no logging, clean under
 * -Wconversion. Definite lengths only (RFC 8710 §2 uses a definite
 * array; we refuse indefinite arrays and strings).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lwm2m/codec.h"

#define MT_UINT		0u
#define MT_BSTR		2u
#define MT_ARRAY	4u
#define CBOR_NULL	0xf6u

/* ---- encoder ----------------------------------------------------------- */

/* CBOR head of major type mt with argument v, shortest form. */
static kdc_err
put_head(uint8_t *out, size_t cap, size_t *pos, unsigned mt, uint64_t v)
{
	uint8_t h[9];
	size_t n;

	if (v < 24) {
		h[0] = (uint8_t)(mt << 5 | (unsigned)v);
		n = 1;
	} else if (v <= 0xff) {
		h[0] = (uint8_t)(mt << 5 | 24u);
		h[1] = (uint8_t)v;
		n = 2;
	} else if (v <= 0xffff) {
		h[0] = (uint8_t)(mt << 5 | 25u);
		h[1] = (uint8_t)(v >> 8);
		h[2] = (uint8_t)v;
		n = 3;
	} else if (v <= 0xffffffffu) {
		h[0] = (uint8_t)(mt << 5 | 26u);
		for (size_t i = 0; i < 4; i++)
			h[1 + i] = (uint8_t)(v >> (24 - 8 * i));
		n = 5;
	} else {
		h[0] = (uint8_t)(mt << 5 | 27u);
		for (size_t i = 0; i < 8; i++)
			h[1 + i] = (uint8_t)(v >> (56 - 8 * i));
		n = 9;
	}
	if (n > cap - *pos)
		return KDC_ERR_TOO_LARGE;
	memcpy(out + *pos, h, n);
	*pos += n;
	return KDC_OK;
}

kdc_err
kdc_multipart_encode(const int *cfs, const uint8_t *const *parts,
    const size_t *lens, size_t n, uint8_t *out, size_t *out_len)
{
	size_t cap, pos = 0;
	kdc_err r;

	if (out == NULL || out_len == NULL || (n > 0 && (cfs == NULL ||
	    parts == NULL || lens == NULL)) || n > KDC_MULTIPART_MAX_PARTS)
		return KDC_ERR_INVALID_ARG;
	cap = *out_len;
	for (size_t i = 0; i < n; i++)
		if (cfs[i] < 0 || cfs[i] > 0xffff ||
		    (parts[i] == NULL && lens[i] != 0))
			return KDC_ERR_INVALID_ARG;
	if ((r = put_head(out, cap, &pos, MT_ARRAY, (uint64_t)n * 2)) !=
	    KDC_OK)
		return r;
	for (size_t i = 0; i < n; i++) {
		if ((r = put_head(out, cap, &pos, MT_UINT,
		    (uint64_t)cfs[i])) != KDC_OK)
			return r;
		if (parts[i] == NULL) {
			if (pos == cap)
				return KDC_ERR_TOO_LARGE;
			out[pos++] = CBOR_NULL;
			continue;
		}
		if ((r = put_head(out, cap, &pos, MT_BSTR, lens[i])) != KDC_OK)
			return r;
		if (lens[i] > cap - pos)
			return KDC_ERR_TOO_LARGE;
		if (lens[i] > 0)
			memcpy(out + pos, parts[i], lens[i]);
		pos += lens[i];
	}
	*out_len = pos;
	return KDC_OK;
}

/* ---- decoder ----------------------------------------------------------- */

/* One CBOR head at *p: major type and argument. Indefinite lengths and
 * the reserved additional values 28..30 are MALFORMED. */
static kdc_err
get_head(const uint8_t *buf, size_t len, size_t *p, unsigned *mt,
    unsigned *ai, uint64_t *v)
{
	size_t n;

	if (*p >= len)
		return KDC_ERR_TRUNCATED;
	*mt = (unsigned)(buf[*p] >> 5);
	*ai = (unsigned)(buf[*p] & 0x1fu);
	(*p)++;
	if (*ai < 24) {
		*v = *ai;
		return KDC_OK;
	}
	switch (*ai) {
	case 24: n = 1; break;
	case 25: n = 2; break;
	case 26: n = 4; break;
	case 27: n = 8; break;
	default: return KDC_ERR_MALFORMED;
	}
	if (n > len - *p)
		return KDC_ERR_TRUNCATED;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = *v << 8 | buf[*p + i];
	*p += n;
	return KDC_OK;
}

/* Walk the array; fn (may be NULL) for each pair. */
static kdc_err
walk(const uint8_t *buf, size_t len, kdc_multipart_fn fn, void *arg)
{
	size_t p = 0, count;
	unsigned mt, ai;
	uint64_t v;
	kdc_err r;

	if ((r = get_head(buf, len, &p, &mt, &ai, &v)) != KDC_OK)
		return r;
	if (mt != MT_ARRAY || v % 2 != 0)
		return KDC_ERR_MALFORMED;
	if (v / 2 > KDC_MULTIPART_MAX_PARTS)
		return KDC_ERR_TOO_LARGE;
	count = (size_t)(v / 2);
	for (size_t i = 0; i < count; i++) {
		const uint8_t *part = NULL;
		size_t part_len = 0;
		int cf;

		if ((r = get_head(buf, len, &p, &mt, &ai, &v)) != KDC_OK)
			return r;
		if (mt != MT_UINT || v > 0xffff)
			return KDC_ERR_MALFORMED;
		cf = (int)v;
		if (p >= len)
			return KDC_ERR_TRUNCATED;
		if (buf[p] == CBOR_NULL) {
			p++;
		} else {
			if ((r = get_head(buf, len, &p, &mt, &ai, &v)) !=
			    KDC_OK)
				return r;
			if (mt != MT_BSTR)
				return KDC_ERR_MALFORMED;
			if (v > len - p)
				return KDC_ERR_TRUNCATED;
			part = buf + p;
			part_len = (size_t)v;
			p += part_len;
		}
		if (fn != NULL && (r = fn(arg, cf, part, part_len)) != KDC_OK)
			return r;
	}
	if (p != len)
		return KDC_ERR_TRAILING;
	return KDC_OK;
}

kdc_err
kdc_multipart_decode(const uint8_t *buf, size_t len, kdc_multipart_fn fn,
    void *arg)
{
	kdc_err r;

	if (buf == NULL && len > 0)
		return KDC_ERR_INVALID_ARG;
	if ((r = walk(buf, len, NULL, NULL)) != KDC_OK || fn == NULL)
		return r;
	return walk(buf, len, fn, arg);
}
