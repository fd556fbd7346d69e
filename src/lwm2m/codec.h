/*
 * codec.h: LwM2M payload codecs: TLV (OMA-TS-LightweightM2M-Core §7.4.3,
 * Content-Format 11542), SenML-CBOR (RFC 8428 §6, CF 112) and CoRE
 * link-format (RFC 6690, CF 40) as Bootstrap-Discover answers it.
 *
 * Shared by the server (src/lwm2m/) and the device library (device/), so:
 * no allocation, no logging, no dependency beyond base/buf.h and
 * base/err.h; every encoder writes into the caller's (out, *out_len) and
 * returns KDC_ERR_TOO_LARGE if it does not fit; every decoder is a
 * bounded parser of untrusted bytes that reads through struct kdc_rd,
 * borrows from the input and never reads past it (KDC_ERR_TRUNCATED / _MALFORMED / _TRAILING / _TOO_LARGE).
 */
#ifndef KDC_LWM2M_CODEC_H
#define KDC_LWM2M_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* ---- values ------------------------------------------------------------ */

enum kdc_lwm2m_type {
	KDC_LWM2M_INT = 0,	/* integer (also used for unsigned) */
	KDC_LWM2M_BOOL,
	KDC_LWM2M_STRING,	/* UTF-8, no NUL */
	KDC_LWM2M_OPAQUE,
	KDC_LWM2M_OBJLNK,	/* i = oid << 16 | iid */
};

/* One single-instance resource of an object instance. bytes is borrowed. */
struct kdc_lwm2m_res {
	uint16_t		 id;
	enum kdc_lwm2m_type	 type;
	int64_t			 i;	/* INT, BOOL (0/1), OBJLNK */
	const uint8_t		*bytes;	/* STRING, OPAQUE */
	size_t			 len;
};

/* ---- TLV --------------------------------------------------------------- */

/*
 * Encode the resources of one object instance as a Bootstrap-Write of
 * /oid/iid carries them: a sequence of "resource with value" TLVs, no
 * object-instance wrapper (Leshan, wakaama, Anjay, coap-node accept it).
 * Integers use the shortest of 1, 2, 4, 8 bytes, two's complement.
 */
kdc_err	kdc_tlv_encode_instance(const struct kdc_lwm2m_res *res, size_t n,
	    uint8_t *out, size_t *out_len);

/* One TLV record, borrowed from the input. */
struct kdc_tlv {
	uint8_t		 kind;	/* 0 object instance, 1 resource instance,
				 * 2 multiple resource, 3 resource with value */
	uint16_t	 id;
	const uint8_t	*value;	/* for kinds 0 and 2: nested TLVs */
	size_t		 len;
};

/*
 * Next record from rd (a kdc_rd_init() reader over the payload):
 * KDC_OK, KDC_ERR_NOT_FOUND at a clean end, else a parse error (a
 * declared length past the input is TRUNCATED), rd not moved and left
 * without a sticky error. A failed rd returns its error.
 */
kdc_err	kdc_tlv_next(struct kdc_rd *rd, struct kdc_tlv *t);
/* Decode a value as integer (1, 2, 4 or 8 bytes, else MALFORMED),
 * boolean (1 byte 0/1), object link (4 bytes). */
kdc_err	kdc_tlv_int(const struct kdc_tlv *t, int64_t *v);
kdc_err	kdc_tlv_bool(const struct kdc_tlv *t, int *v);
kdc_err	kdc_tlv_objlnk(const struct kdc_tlv *t, uint16_t *oid, uint16_t *iid);

/* ---- SenML-CBOR -------------------------------------------------------- */

/*
 * Encode the resources of /oid/iid as a SenML-CBOR pack (RFC 8428 §6,
 * labels bn -2, n 0, v 2, vs 3, vb 4, vd 8; LwM2M-Core §7.4.5): the first
 * record carries bn "/oid/iid/", each record n "<rid>". Object links
 * use "vlo" ("oid:iid").
 */
kdc_err	kdc_senml_cbor_encode_instance(uint16_t oid, uint16_t iid,
	    const struct kdc_lwm2m_res *res, size_t n, uint8_t *out,
	    size_t *out_len);

/* One decoded SenML record: the resolved path and its value. */
struct kdc_senml_rec {
	int32_t			 oid, iid, rid, riid;	/* -1 when absent */
	enum kdc_lwm2m_type	 type;
	int64_t			 i;	/* INT (integral v), BOOL, OBJLNK */
	const uint8_t		*bytes;	/* STRING, OPAQUE: borrowed */
	size_t			 len;
};

typedef kdc_err (*kdc_senml_fn)(void *arg, const struct kdc_senml_rec *r);

/*
 * Decode a SenML-CBOR pack, calling fn for each record in order (fn's
 * non-OK result stops the walk and is returned). Definite lengths only,
 * nesting as SenML has it, names resolved against bn as LwM2M paths.
 * Floating-point v and unknown labels: MALFORMED / ignored per RFC 8428
 * §4.4 (labels ending in '_' are refused).
 * The whole pack is validated before the first call of fn, so fn never
 * sees a record of a pack that fails; fn may be NULL (validate only).
 */
kdc_err	kdc_senml_cbor_decode(const uint8_t *buf, size_t len, kdc_senml_fn fn,
	    void *arg);

/* ---- link-format (Bootstrap-Discover) ---------------------------------- */

/* One link of a Discover answer, e.g. </0/1>;ssid=101;uri="coap://..". */
struct kdc_link {
	int32_t		 oid, iid, rid;	/* -1 when absent; all -1 for </> */
	int32_t		 ssid;		/* -1 when absent */
	char		 lwm2m[8];	/* lwm2m="1.1" or lwm2m=1.1 on </>, "" if absent */
	char		 ver[8];	/* ver= on an object link, "" if absent */
};

/* Next link from rd (a kdc_rd_init() reader over the payload): KDC_OK,
 * KDC_ERR_NOT_FOUND at a clean end, else MALFORMED / TOO_LARGE (a path
 * that is not /oid[/iid[/rid]] with ids <= 65535, an unterminated quote),
 * rd not moved past the link and without a sticky error. Unknown
 * attributes are skipped. A failed rd returns its error. */
kdc_err	kdc_link_next(struct kdc_rd *rd, struct kdc_link *l);

/* Encode a Discover answer (device side): "</>;lwm2m=V" then each link
 * "</oid/iid>" with ";ssid=N" when ssid >= 0, comma-separated. */
kdc_err	kdc_link_encode(const char *lwm2m_version, const struct kdc_link *links,
	    size_t n, uint8_t *out, size_t *out_len);

/* ---- multipart-core (RFC 8710, CF 62) ---------------------------------- */

#define KDC_MULTIPART_MAX_PARTS	16	/* representations per message */

/*
 * Encode n representations as multipart-core: a CBOR array of 2n items,
 * Content-Format cfs[i] (0..65535) then parts[i] as a byte string of
 * lens[i] bytes, or CBOR null when parts[i] is NULL (lens[i] must be 0).
 * INVALID_ARG for a bad cf or n > KDC_MULTIPART_MAX_PARTS.
 */
kdc_err	kdc_multipart_encode(const int *cfs, const uint8_t *const *parts,
	    const size_t *lens, size_t n, uint8_t *out, size_t *out_len);

/* One representation: part is borrowed from the input, NULL for null. */
typedef kdc_err (*kdc_multipart_fn)(void *arg, int cf, const uint8_t *part,
	    size_t part_len);

/*
 * Decode multipart-core, calling fn for each (cf, representation) in
 * order (fn's non-OK result stops the walk and is returned). Definite
 * lengths only; an odd item count, a cf that is not a uint <= 65535 or a
 * representation that is not a bstr/null is MALFORMED; more than
 * KDC_MULTIPART_MAX_PARTS pairs TOO_LARGE. The whole message is validated
 * before the first call of fn; fn may be NULL (validate only).
 */
kdc_err	kdc_multipart_decode(const uint8_t *buf, size_t len,
	    kdc_multipart_fn fn, void *arg);

#endif
