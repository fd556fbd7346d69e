/*
 * cbor.h: a small item-level CBOR (RFC 8949) reader and writer over
 * base's bounded reader and writer (buf.h). The LwM2M codecs (SenML-CBOR,
 * multipart-core) and COSE/CWT (src/cose/) read and write their CBOR
 * here. Shared with the device library: no allocation, no dependency
 * beyond buf.h and err.h (string.h inside), clean under -Wconversion.
 *
 * The reader takes definite lengths only: additional info 28..31
 * (reserved, indefinite lengths, break) is MALFORMED everywhere. It never
 * sizes anything by a count the input announces: a string is a view into
 * the caller's bytes after its length is compared with what is left; an
 * array or map count is handed to the caller, who reads element by
 * element (each consumes at least one byte, so a huge count ends at
 * TRUNCATED); kdc_cbor_skip() bounds nesting by a depth the caller gives.
 *
 * Every reader function returns KDC_OK or the error it recorded in rd
 * (sticky, see buf.h): TRUNCATED when the input ends inside the item,
 * MALFORMED for an item of another major type than asked for, a
 * reserved or indefinite head, or a value out of the asked range. On
 * failure the reader's position is unspecified: parsers that want to
 * try one reading and fall back work on a copy of the reader.
 *
 * The writer writes shortest heads (RFC 8949 §4.2.1). Writer functions
 * return false as kdc_wr does (TOO_LARGE recorded in w), all or nothing
 * per call.
 */
#ifndef KDC_BASE_CBOR_H
#define KDC_BASE_CBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* Major types (RFC 8949 §3.1). */
#define KDC_CBOR_UINT	0
#define KDC_CBOR_NINT	1
#define KDC_CBOR_BSTR	2
#define KDC_CBOR_TSTR	3
#define KDC_CBOR_ARRAY	4
#define KDC_CBOR_MAP	5
#define KDC_CBOR_TAG	6
#define KDC_CBOR_SIMPLE	7	/* simple values and floats */

/* Simple values (RFC 8949 §3.3). */
#define KDC_CBOR_FALSE	20
#define KDC_CBOR_TRUE	21
#define KDC_CBOR_NULL	22
#define KDC_CBOR_UNDEF	23

/* The deepest kdc_cbor_skip() may be asked to go (its bound on the
 * recursion whatever the caller asks): COSE needs 8, SenML 8. */
#define KDC_CBOR_DEPTH_MAX	16

/* ---- heads ---------------------------------------------------------- */

/*
 * One item head (RFC 8949 §3): major type, additional info and argument.
 * KDC_OK; MALFORMED for additional info 28..31 (reserved, indefinite
 * lengths, break: we take definite lengths only); the reader's error
 * (TRUNCATED) when the input ends inside the head. For major type 7,
 * *arg is the simple value (ai < 24 or 24) or the raw bits of a float
 * (ai 25, 26, 27).
 */
kdc_err	kdc_cbor_head_read(struct kdc_rd *rd, unsigned *major, unsigned *ai,
	    uint64_t *arg);
/* A head in the shortest form (RFC 8949 §4.2.1); false as kdc_wr. */
bool	kdc_cbor_head_write(struct kdc_wr *w, unsigned major, uint64_t arg);

/* The major type of the next item without consuming it; false at the
 * end (or once failed). Records nothing. */
bool	kdc_cbor_peek(const struct kdc_rd *rd, unsigned *major);

/* ---- reading items -------------------------------------------------- */

/* An unsigned integer (major 0). */
kdc_err	kdc_cbor_read_uint(struct kdc_rd *rd, uint64_t *v);
/* An integer (major 0 or 1) that fits int64_t; MALFORMED outside it. */
kdc_err	kdc_cbor_read_int(struct kdc_rd *rd, int64_t *v);
/* A byte string (major 2) as a view into rd's bytes (*p NULL when empty
 * is allowed: check *n). */
kdc_err	kdc_cbor_read_bstr(struct kdc_rd *rd, const uint8_t **p, size_t *n);
/* A text string (major 3) as a view; NOT checked for UTF-8 here (see
 * base/utf8.h): callers that hand text on check it. */
kdc_err	kdc_cbor_read_tstr(struct kdc_rd *rd, const char **p, size_t *n);
/* An array or map head: its announced count, nothing read beyond. */
kdc_err	kdc_cbor_read_array(struct kdc_rd *rd, uint64_t *n);
kdc_err	kdc_cbor_read_map(struct kdc_rd *rd, uint64_t *n);
/* A tag head (major 6): the tag number; the tagged item follows. */
kdc_err	kdc_cbor_read_tag(struct kdc_rd *rd, uint64_t *tag);
/* A simple value (major 7, not a float): KDC_CBOR_FALSE, _TRUE, _NULL,
 * _UNDEF or another simple value 0..255. A float is MALFORMED here. */
kdc_err	kdc_cbor_read_simple(struct kdc_rd *rd, unsigned *v);
kdc_err	kdc_cbor_read_bool(struct kdc_rd *rd, bool *v);
/*
 * A number as an int64_t: an integer (major 0/1) in range, or a float16,
 * float32 or float64 truncated toward zero (RFC 8392 §2 NumericDate may be
 * a float: A.7's iat 1443944944.5 reads 1443944944). NaN, infinities and
 * floats outside int64_t are MALFORMED.
 */
kdc_err	kdc_cbor_read_int_or_float(struct kdc_rd *rd, int64_t *v);
/*
 * Skip one whole item (nested arrays, maps and tags included) without
 * looking at its contents. Nesting deeper than depth_max (itself capped
 * at KDC_CBOR_DEPTH_MAX) is TOO_LARGE; a scalar is depth 0, [1] is 1.
 */
kdc_err	kdc_cbor_skip(struct kdc_rd *rd, unsigned depth_max);

/* ---- writing items -------------------------------------------------- */

bool	kdc_cbor_write_uint(struct kdc_wr *w, uint64_t v);
bool	kdc_cbor_write_int(struct kdc_wr *w, int64_t v);
bool	kdc_cbor_write_bstr(struct kdc_wr *w, const void *p, size_t n);
bool	kdc_cbor_write_tstr(struct kdc_wr *w, const void *p, size_t n);
bool	kdc_cbor_write_array(struct kdc_wr *w, uint64_t n);
bool	kdc_cbor_write_map(struct kdc_wr *w, uint64_t n);
bool	kdc_cbor_write_tag(struct kdc_wr *w, uint64_t tag);
/* A simple value 0..23 (false, true, null, undefined); others record
 * INVALID_ARG. */
bool	kdc_cbor_write_simple(struct kdc_wr *w, unsigned v);
bool	kdc_cbor_write_bool(struct kdc_wr *w, bool v);

/* ---- opt-in indefinite lengths ---------------------------------------- */

/*
 * RFC 8949 §3.2: arrays, maps and strings of indefinite length, as
 * IoTivity's tinycbor writes them (OCF, src/ocf/). Only these functions
 * take them; every function above still refuses them. None sizes
 * anything by the input: a container is walked with an iterator (an
 * indefinite one ends at its break byte, so each element consumes at
 * least one byte and a missing break ends at TRUNCATED); a string, whose
 * chunks are not contiguous, is copied into the caller's buffer.
 */
struct kdc_cbor_iter {
	uint64_t	left;	/* definite: elements (map: pairs) left */
	bool		indef;	/* indefinite: ends at the break byte */
};

/*
 * An array or map head, definite or indefinite, into *it. MALFORMED for
 * another major type, a reserved head, or a break byte here.
 */
kdc_err	kdc_cbor_iter_array(struct kdc_rd *rd, struct kdc_cbor_iter *it);
kdc_err	kdc_cbor_iter_map(struct kdc_rd *rd, struct kdc_cbor_iter *it);
/*
 * Whether another element (a map: another key, its value follows) comes:
 * for an indefinite container, false once its break byte is consumed;
 * for a definite one, false once the announced count is read. False too
 * when the reader has failed, or the input ends before the break
 * (TRUNCATED recorded): test kdc_rd_err() after the loop.
 */
bool	kdc_cbor_iter_next(struct kdc_rd *rd, struct kdc_cbor_iter *it);
/*
 * A text (major 3) or byte (major 2) string, definite or indefinite
 * (definite chunks of the same major type, RFC 8949 §3.2.3), copied into
 * dst[0, cap); *n its length. TOO_LARGE when it does not fit (the text
 * form also needs a byte for the NUL it writes), MALFORMED for another
 * type or a chunk of another type. Text is not checked for UTF-8 here.
 */
kdc_err	kdc_cbor_read_tstr_copy(struct kdc_rd *rd, char *dst, size_t cap,
	    size_t *n);
kdc_err	kdc_cbor_read_bstr_copy(struct kdc_rd *rd, uint8_t *dst, size_t cap,
	    size_t *n);
/* kdc_cbor_skip() that also takes indefinite arrays, maps and strings
 * (same depth bound; each nested indefinite container one level). */
kdc_err	kdc_cbor_skip_indef(struct kdc_rd *rd, unsigned depth_max);

#endif
