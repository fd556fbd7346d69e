/*
 * buf.h: one bounded reader and one bounded writer over the caller's
 * bytes. Every parser of untrusted input in iotkdc reads through
 * struct kdc_rd (STYLE "Untrusted input"); the encoders that write
 * forward into the caller's (out, *out_len) write through struct kdc_wr.
 *
 * Shared with the device library, so: no allocation, no logging, no
 * dependency beyond <stddef.h>, <stdint.h>, <stdbool.h> and base/err.h
 * (an enum only, which the device library compiles already); clean under
 * -Wconversion.
 *
 * Both keep a sticky error (BearSSL's engine error): the first failure
 * is recorded and wins; every later call does nothing and returns false
 * (or 0) until the context is initialised again. A parser may therefore
 * either test each call or read a whole structure and test kdc_rd_err()
 * once at the end. Nothing is read or written past the bounds, ever:
 * each call compares the count with what is left before it touches
 * memory.
 *
 * Both structs are the caller's (usually on the stack); their fields are
 * visible only so they can be; use the functions. A copy of a reader is
 * an independent reader over the same bytes: parsers that must not move
 * on failure ("try this element") work on a copy and assign it back on
 * success.
 */
#ifndef KDC_BASE_BUF_H
#define KDC_BASE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* ---- reader --------------------------------------------------------- */

struct kdc_rd {
	const uint8_t	*buf;	/* the caller's bytes, borrowed */
	size_t		 len;
	size_t		 off;	/* next unread byte; off <= len always */
	kdc_err		 err;	/* KDC_OK until the first failure */
};

/* A reader over buf[0, len). buf NULL reads as empty (len ignored). */
void	kdc_rd_init(struct kdc_rd *rd, const void *buf, size_t len);

/*
 * Getters: consume and return true, or, if fewer bytes are left than
 * asked for (or the reader has already failed), consume nothing, set
 * *v to 0 and return false; a short read records KDC_ERR_TRUNCATED.
 * Integers are big-endian (network order).
 */
bool	kdc_rd_u8(struct kdc_rd *rd, uint8_t *v);
bool	kdc_rd_be16(struct kdc_rd *rd, uint16_t *v);
bool	kdc_rd_be32(struct kdc_rd *rd, uint32_t *v);
bool	kdc_rd_be64(struct kdc_rd *rd, uint64_t *v);
/* An unsigned big-endian integer of `width` bytes, 1..8 (the widths a
 * CBOR head or a TLV length announces); any other width records
 * KDC_ERR_INVALID_ARG. */
bool	kdc_rd_be(struct kdc_rd *rd, unsigned width, uint64_t *v);
/* Copy n bytes into dst (the caller's, n bytes long). On failure dst is
 * left untouched. */
bool	kdc_rd_bytes(struct kdc_rd *rd, void *dst, size_t n);
/*
 * Borrow n bytes: *out points into the caller's input and dies with it.
 * n is a uint64_t because it is often a length a peer announced (CBOR,
 * TLV): it is compared with what is left before anything else. *out is
 * NULL on failure.
 */
bool	kdc_rd_view(struct kdc_rd *rd, uint64_t n, const uint8_t **out);
/* Consume n bytes without looking at them. */
bool	kdc_rd_skip(struct kdc_rd *rd, uint64_t n);

/* The next byte without consuming it; false (and *v 0) at the end or
 * once failed. Never records an error: looking is not reading. */
bool	kdc_rd_peek(const struct kdc_rd *rd, uint8_t *v);
/* Bytes left to read; 0 once failed. */
size_t	kdc_rd_remaining(const struct kdc_rd *rd);
/* True when nothing more can be read: every byte consumed, or the reader
 * has failed (so a `while (!kdc_rd_at_end(rd))` loop always ends); tell
 * the two apart with kdc_rd_err(). */
bool	kdc_rd_at_end(const struct kdc_rd *rd);
/* Bytes consumed so far (meaningful while KDC_OK). */
size_t	kdc_rd_pos(const struct kdc_rd *rd);

/* KDC_OK, or the first failure recorded. */
kdc_err	kdc_rd_err(const struct kdc_rd *rd);
/* Record a parser's own verdict (e.g. KDC_ERR_MALFORMED, _TRAILING) as
 * the sticky error, unless one is recorded already. r must not be
 * KDC_OK. Returns false, for `return kdc_rd_fail(rd, ...);`. */
bool	kdc_rd_fail(struct kdc_rd *rd, kdc_err r);

/* ---- writer --------------------------------------------------------- */

struct kdc_wr {
	uint8_t	*buf;	/* the caller's buffer, borrowed */
	size_t	 cap;
	size_t	 len;	/* bytes written; len <= cap always */
	kdc_err	 err;	/* KDC_OK until the first failure */
};

/* A writer over buf[0, cap). buf NULL has no room (cap ignored). */
void	kdc_wr_init(struct kdc_wr *w, void *buf, size_t cap);

/*
 * Append, all or nothing: true, or, when the bytes do not fit in what is
 * left of the capacity (or the writer has already failed), write
 * nothing, record KDC_ERR_TOO_LARGE and return false. Integers are
 * written big-endian. kdc_wr_str() writes strlen(s) bytes, no NUL.
 */
bool	kdc_wr_u8(struct kdc_wr *w, uint8_t v);
bool	kdc_wr_be16(struct kdc_wr *w, uint16_t v);
bool	kdc_wr_be32(struct kdc_wr *w, uint32_t v);
bool	kdc_wr_be64(struct kdc_wr *w, uint64_t v);
/* The low `width` bytes of v, big-endian, width 1..8; any other width
 * records KDC_ERR_INVALID_ARG. */
bool	kdc_wr_be(struct kdc_wr *w, uint64_t v, unsigned width);
bool	kdc_wr_bytes(struct kdc_wr *w, const void *p, size_t n);
bool	kdc_wr_str(struct kdc_wr *w, const char *s);

/* Bytes written so far (what fitted before a failure). */
size_t	kdc_wr_len(const struct kdc_wr *w);
/* KDC_OK, or the first failure recorded (KDC_ERR_TOO_LARGE, or what
 * kdc_wr_fail() recorded). */
kdc_err	kdc_wr_err(const struct kdc_wr *w);
/* Record an encoder's own verdict (e.g. KDC_ERR_INVALID_ARG) unless one
 * is recorded already; r must not be KDC_OK. Returns false. */
bool	kdc_wr_fail(struct kdc_wr *w, kdc_err r);

#endif
