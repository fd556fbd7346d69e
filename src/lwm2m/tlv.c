/*
 * tlv.c: LwM2M TLV (OMA-TS-LightweightM2M-Core §7.4.3, Content-Format
 * 11542). Shared with the device library: no allocation, no logging,
 * clean under -Wconversion.
 *
 * Type byte: bits 7-6 identifier type (00 object instance, 01 resource
 * instance, 10 multiple resource, 11 resource with value), bit 5 the id
 * width (0: 8 bits, 1: 16 bits), bits 4-3 the length type (00: length in
 * bits 2-0, 01/10/11: an 8/16/24-bit length follows the id).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lwm2m/codec.h"

#define TLV_KIND_OBJ_INST	0
#define TLV_KIND_RES_INST	1
#define TLV_KIND_MULTI_RES	2
#define TLV_KIND_RES_VALUE	3
/* A 24-bit length is the longest the type byte can announce. */
#define TLV_LEN_MAX		0xffffffu

/* ---- encoder ----------------------------------------------------------- */

/* Shortest of 1, 2, 4, 8 bytes that holds v in two's complement. */
static unsigned
int_width(int64_t v)
{
	if (v >= INT8_MIN && v <= INT8_MAX)
		return 1;
	if (v >= INT16_MIN && v <= INT16_MAX)
		return 2;
	if (v >= INT32_MIN && v <= INT32_MAX)
		return 4;
	return 8;
}

/* Type byte, id and length of one record; the value follows. */
static bool
wr_header(struct kdc_wr *w, unsigned kind, uint16_t id, size_t len)
{
	unsigned type = kind << 6;
	unsigned lw;

	if (len > TLV_LEN_MAX)
		return kdc_wr_fail(w, KDC_ERR_TOO_LARGE);
	if (id > 0xff)
		type |= 0x20;
	if (len < 8) {
		type |= (unsigned)len;
		lw = 0;
	} else if (len <= 0xff)
		lw = 1;
	else if (len <= 0xffff)
		lw = 2;
	else
		lw = 3;
	type |= lw << 3;
	return kdc_wr_u8(w, (uint8_t)type) &&
	    kdc_wr_be(w, id, id > 0xff ? 2 : 1) &&
	    (lw == 0 || kdc_wr_be(w, len, lw));
}

static bool
wr_resource(struct kdc_wr *w, const struct kdc_lwm2m_res *res)
{
	unsigned width;

	switch (res->type) {
	case KDC_LWM2M_INT:
		width = int_width(res->i);
		/* two's complement, C11 6.3.1.3 */
		return wr_header(w, TLV_KIND_RES_VALUE, res->id, width) &&
		    kdc_wr_be(w, (uint64_t)res->i, width);
	case KDC_LWM2M_BOOL:
		if (res->i != 0 && res->i != 1)
			return kdc_wr_fail(w, KDC_ERR_INVALID_ARG);
		return wr_header(w, TLV_KIND_RES_VALUE, res->id, 1) &&
		    kdc_wr_u8(w, (uint8_t)res->i);
	case KDC_LWM2M_OBJLNK:
		if (res->i < 0 || res->i > (int64_t)UINT32_MAX)
			return kdc_wr_fail(w, KDC_ERR_INVALID_ARG);
		return wr_header(w, TLV_KIND_RES_VALUE, res->id, 4) &&
		    kdc_wr_be32(w, (uint32_t)res->i);
	case KDC_LWM2M_STRING:
	case KDC_LWM2M_OPAQUE:
		if (res->len > 0 && res->bytes == NULL)
			return kdc_wr_fail(w, KDC_ERR_INVALID_ARG);
		return wr_header(w, TLV_KIND_RES_VALUE, res->id, res->len) &&
		    kdc_wr_bytes(w, res->bytes, res->len);
	default:
		return kdc_wr_fail(w, KDC_ERR_INVALID_ARG);
	}
}

kdc_err
kdc_tlv_encode_instance(const struct kdc_lwm2m_res *res, size_t n,
    uint8_t *out, size_t *out_len)
{
	struct kdc_wr w;

	if (*out_len > 0 && out == NULL) {
		*out_len = 0;
		return KDC_ERR_INVALID_ARG;
	}
	kdc_wr_init(&w, out, *out_len);
	*out_len = 0;
	if (n > 0 && res == NULL)
		return KDC_ERR_INVALID_ARG;
	for (size_t k = 0; k < n; k++)
		if (!wr_resource(&w, &res[k]))
			return kdc_wr_err(&w);
	*out_len = kdc_wr_len(&w);
	return KDC_OK;
}

/* ---- decoder ----------------------------------------------------------- */

/* One record, header and value, without looking inside the value. */
static kdc_err
tlv_read(struct kdc_rd *rd, struct kdc_tlv *t)
{
	uint64_t id, len;
	uint8_t type;
	unsigned lt;

	if (!kdc_rd_u8(rd, &type))
		return kdc_rd_err(rd);
	t->kind = (uint8_t)(type >> 6);
	lt = (type >> 3) & 3u;
	if (lt != 0 && (type & 7u) != 0)
		return KDC_ERR_MALFORMED;	/* bits 2-0 are only a length */
	if (!kdc_rd_be(rd, (type & 0x20) ? 2 : 1, &id))
		return kdc_rd_err(rd);
	if (lt == 0)
		len = type & 7u;
	else if (!kdc_rd_be(rd, lt, &len))
		return kdc_rd_err(rd);
	if (!kdc_rd_view(rd, len, &t->value))
		return kdc_rd_err(rd);
	t->id = (uint16_t)id;
	t->len = (size_t)len;	/* <= 0xffffff */
	return KDC_OK;
}

/*
 * The value of an object instance (kind 0) holds resources (kinds 2, 3);
 * a multiple resource (kind 2) holds resource instances (kind 1). Nothing
 * nests deeper, so this recursion is at most two levels. A nested record
 * that runs past its parent is MALFORMED: the input is not short, it
 * contradicts itself.
 */
static kdc_err
tlv_check_nested(const struct kdc_tlv *t)
{
	struct kdc_rd in;
	struct kdc_tlv c;
	kdc_err r;

	if (t->kind != TLV_KIND_OBJ_INST && t->kind != TLV_KIND_MULTI_RES)
		return KDC_OK;
	kdc_rd_init(&in, t->value, t->len);
	while (!kdc_rd_at_end(&in)) {
		if ((r = tlv_read(&in, &c)) != KDC_OK)
			return r == KDC_ERR_TRUNCATED ? KDC_ERR_MALFORMED : r;
		if (t->kind == TLV_KIND_MULTI_RES) {
			if (c.kind != TLV_KIND_RES_INST)
				return KDC_ERR_MALFORMED;
		} else if (c.kind != TLV_KIND_RES_VALUE &&
		    c.kind != TLV_KIND_MULTI_RES)
			return KDC_ERR_MALFORMED;
		if ((r = tlv_check_nested(&c)) != KDC_OK)
			return r;
	}
	return KDC_OK;
}

kdc_err
kdc_tlv_next(struct kdc_rd *rd, struct kdc_tlv *t)
{
	struct kdc_rd in = *rd;	/* a failed read does not move rd */
	struct kdc_tlv c;
	kdc_err r;

	memset(t, 0, sizeof(*t));
	if ((r = kdc_rd_err(rd)) != KDC_OK)
		return r;
	if (kdc_rd_at_end(rd))
		return KDC_ERR_NOT_FOUND;
	if ((r = tlv_read(&in, &c)) != KDC_OK ||
	    (r = tlv_check_nested(&c)) != KDC_OK)
		return r;
	*rd = in;
	*t = c;
	return KDC_OK;
}

/* A scalar value: only the value kinds (1, 3) carry one. */
static kdc_err
tlv_scalar(const struct kdc_tlv *t)
{
	if (t->kind != TLV_KIND_RES_INST && t->kind != TLV_KIND_RES_VALUE)
		return KDC_ERR_MALFORMED;
	return KDC_OK;
}

kdc_err
kdc_tlv_int(const struct kdc_tlv *t, int64_t *v)
{
	uint64_t u;
	kdc_err r;

	*v = 0;
	if ((r = tlv_scalar(t)) != KDC_OK)
		return r;
	if (t->len != 1 && t->len != 2 && t->len != 4 && t->len != 8)
		return KDC_ERR_MALFORMED;
	/* Sign-extend from the first byte, then shift the rest in. */
	u = (t->value[0] & 0x80) ? UINT64_MAX : 0;
	for (size_t i = 0; i < t->len; i++)
		u = (u << 8) | t->value[i];
	/* Back to signed without implementation-defined conversion. */
	if (u > (uint64_t)INT64_MAX)
		*v = -(int64_t)(UINT64_MAX - u) - 1;
	else
		*v = (int64_t)u;
	return KDC_OK;
}

kdc_err
kdc_tlv_bool(const struct kdc_tlv *t, int *v)
{
	kdc_err r;

	*v = 0;
	if ((r = tlv_scalar(t)) != KDC_OK)
		return r;
	if (t->len != 1 || t->value[0] > 1)
		return KDC_ERR_MALFORMED;
	*v = t->value[0];
	return KDC_OK;
}

kdc_err
kdc_tlv_objlnk(const struct kdc_tlv *t, uint16_t *oid, uint16_t *iid)
{
	kdc_err r;

	*oid = 0;
	*iid = 0;
	if ((r = tlv_scalar(t)) != KDC_OK)
		return r;
	if (t->len != 4)
		return KDC_ERR_MALFORMED;
	*oid = (uint16_t)(t->value[0] << 8 | t->value[1]);
	*iid = (uint16_t)(t->value[2] << 8 | t->value[3]);
	return KDC_OK;
}
