/*
 * multipart.c: multipart-core (RFC 8710, Content-Format 62): a CBOR
 * array of alternating Content-Format (uint 0..65535) and representation
 * (byte string, or null for "no representation"), as EST-coaps /skg
 * answers it (RFC 9148 §5.8: [284, PKCS#8, 287 or 281, certificate]).
 * Shared with the device library: no allocation, no logging, clean under
 * -Wconversion. Definite lengths only (RFC 8710 §2 uses a definite
 * array; we refuse indefinite arrays and strings).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwm2m/codec.h"
#include "lwm2m/codec_int.h"

#define MT_UINT		0u
#define MT_BSTR		2u
#define MT_ARRAY	4u
#define CBOR_NULL	0xf6u

/* ---- encoder ----------------------------------------------------------- */

kdc_err
kdc_multipart_encode(const int *cfs, const uint8_t *const *parts,
    const size_t *lens, size_t n, uint8_t *out, size_t *out_len)
{
	struct kdc_wr w;

	if (out == NULL || out_len == NULL || (n > 0 && (cfs == NULL ||
	    parts == NULL || lens == NULL)) || n > KDC_MULTIPART_MAX_PARTS)
		return KDC_ERR_INVALID_ARG;
	for (size_t i = 0; i < n; i++)
		if (cfs[i] < 0 || cfs[i] > 0xffff ||
		    (parts[i] == NULL && lens[i] != 0))
			return KDC_ERR_INVALID_ARG;
	kdc_wr_init(&w, out, *out_len);
	kdc_cbor_head_write(&w, MT_ARRAY, (uint64_t)n * 2);
	for (size_t i = 0; i < n; i++) {
		kdc_cbor_head_write(&w, MT_UINT, (uint64_t)cfs[i]);
		if (parts[i] == NULL) {
			kdc_wr_u8(&w, CBOR_NULL);
			continue;
		}
		kdc_cbor_head_write(&w, MT_BSTR, lens[i]);
		kdc_wr_bytes(&w, parts[i], lens[i]);
	}
	if (kdc_wr_err(&w) != KDC_OK)	/* sticky: the first failure */
		return kdc_wr_err(&w);
	*out_len = kdc_wr_len(&w);
	return KDC_OK;
}

/* ---- decoder ----------------------------------------------------------- */

/* Walk the array; fn (may be NULL) for each pair. */
static kdc_err
walk(const uint8_t *buf, size_t len, kdc_multipart_fn fn, void *arg)
{
	struct kdc_rd rd;
	size_t count;
	unsigned mt, ai;
	uint64_t v;
	uint8_t b;
	kdc_err r;

	kdc_rd_init(&rd, buf, len);
	if ((r = kdc_cbor_head_read(&rd, &mt, &ai, &v)) != KDC_OK)
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

		if ((r = kdc_cbor_head_read(&rd, &mt, &ai, &v)) != KDC_OK)
			return r;
		if (mt != MT_UINT || v > 0xffff)
			return KDC_ERR_MALFORMED;
		cf = (int)v;
		if (!kdc_rd_peek(&rd, &b))
			return KDC_ERR_TRUNCATED;
		if (b == CBOR_NULL) {
			(void)kdc_rd_skip(&rd, 1);
		} else {
			if ((r = kdc_cbor_head_read(&rd, &mt, &ai, &v)) != KDC_OK)
				return r;
			if (mt != MT_BSTR)
				return KDC_ERR_MALFORMED;
			if (!kdc_rd_view(&rd, v, &part))
				return kdc_rd_err(&rd);
			part_len = (size_t)v;
		}
		if (fn != NULL && (r = fn(arg, cf, part, part_len)) != KDC_OK)
			return r;
	}
	if (!kdc_rd_at_end(&rd))
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
