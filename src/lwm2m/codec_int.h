/*
 * codec_int.h: shared by the LwM2M codec .c files only (senml.c,
 * multipart.c). Their CBOR item heads (kdc_cbor_head_read/_write) now
 * live in base (base/cbor.h), shared with COSE; this header keeps the
 * codecs' include working. Like the codecs (codec.h): no allocation,
 * clean under -Wconversion, device library too.
 */
#ifndef KDC_LWM2M_CODEC_INT_H
#define KDC_LWM2M_CODEC_INT_H

#include "base/buf.h"
#include "base/cbor.h"
#include "base/err.h"

#endif
