/*
 * cbor.c: CBOR item heads for the LwM2M codecs (codec_int.h): SenML-CBOR
 * and multipart-core read and write theirs here, through base's bounded
 * reader and writer.
 */
#include "lwm2m/codec_int.h"

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
