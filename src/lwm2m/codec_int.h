/*
 * codec_int.h: shared by the LwM2M codec .c files only (senml.c,
 * multipart.c): the CBOR item heads both read and write. Like the codecs
 * (codec.h): no allocation, clean under -Wconversion, device library too.
 */
#ifndef KDC_LWM2M_CODEC_INT_H
#define KDC_LWM2M_CODEC_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/*
 * One CBOR item head (RFC 8949 §3): major type, additional info and
 * argument. KDC_OK; MALFORMED for additional info 28..31 (reserved,
 * indefinite lengths, break: we take definite lengths only); the
 * reader's error (TRUNCATED) when the input ends inside the head.
 */
kdc_err	kdc_cbor_head_read(struct kdc_rd *rd, unsigned *major, unsigned *ai,
	    uint64_t *arg);
/* A head in the shortest form (RFC 8949 §4.2.1); false as kdc_wr. */
bool	kdc_cbor_head_write(struct kdc_wr *w, unsigned major, uint64_t arg);

#endif
