/*
 * buf.c: the bounded reader and writer (buf.h). Every bounds check in
 * iotkdc's parsers is one of the few comparisons below: count against
 * what is left, before memory is touched, never pointer + count.
 */
#include <string.h>

#include "base/buf.h"

/* ---- reader --------------------------------------------------------- */

void
kdc_rd_init(struct kdc_rd *rd, const void *buf, size_t len)
{
	rd->buf = buf;
	rd->len = buf == NULL ? 0 : len;
	rd->off = 0;
	rd->err = KDC_OK;
}

bool
kdc_rd_fail(struct kdc_rd *rd, kdc_err r)
{
	if (rd->err == KDC_OK)
		rd->err = r == KDC_OK ? KDC_ERR_INVALID_ARG : r;
	return false;
}

/* The one check: n bytes at off, or fail TRUNCATED; NULL if not. */
static const uint8_t *
take(struct kdc_rd *rd, uint64_t n)
{
	const uint8_t *p;

	if (rd->err != KDC_OK)
		return NULL;
	if (n > rd->len - rd->off) {
		rd->err = KDC_ERR_TRUNCATED;
		return NULL;
	}
	p = rd->buf + rd->off;
	rd->off += (size_t)n;
	return p;
}

bool
kdc_rd_be(struct kdc_rd *rd, unsigned width, uint64_t *v)
{
	const uint8_t *p;

	*v = 0;
	if (width == 0 || width > 8)
		return kdc_rd_fail(rd, KDC_ERR_INVALID_ARG);
	if ((p = take(rd, width)) == NULL)
		return false;
	for (unsigned i = 0; i < width; i++)
		*v = (*v << 8) | p[i];
	return true;
}

bool
kdc_rd_u8(struct kdc_rd *rd, uint8_t *v)
{
	uint64_t x;
	bool ok = kdc_rd_be(rd, 1, &x);

	*v = (uint8_t)x;
	return ok;
}

bool
kdc_rd_be16(struct kdc_rd *rd, uint16_t *v)
{
	uint64_t x;
	bool ok = kdc_rd_be(rd, 2, &x);

	*v = (uint16_t)x;
	return ok;
}

bool
kdc_rd_be32(struct kdc_rd *rd, uint32_t *v)
{
	uint64_t x;
	bool ok = kdc_rd_be(rd, 4, &x);

	*v = (uint32_t)x;
	return ok;
}

bool
kdc_rd_be64(struct kdc_rd *rd, uint64_t *v)
{
	return kdc_rd_be(rd, 8, v);
}

bool
kdc_rd_bytes(struct kdc_rd *rd, void *dst, size_t n)
{
	const uint8_t *p;

	if ((p = take(rd, n)) == NULL)
		return false;
	if (n > 0)
		memcpy(dst, p, n);
	return true;
}

bool
kdc_rd_view(struct kdc_rd *rd, uint64_t n, const uint8_t **out)
{
	*out = take(rd, n);
	return *out != NULL;
}

bool
kdc_rd_skip(struct kdc_rd *rd, uint64_t n)
{
	return take(rd, n) != NULL;
}

bool
kdc_rd_peek(const struct kdc_rd *rd, uint8_t *v)
{
	*v = 0;
	if (rd->err != KDC_OK || rd->off >= rd->len)
		return false;
	*v = rd->buf[rd->off];
	return true;
}

size_t
kdc_rd_remaining(const struct kdc_rd *rd)
{
	return rd->err != KDC_OK ? 0 : rd->len - rd->off;
}

bool
kdc_rd_at_end(const struct kdc_rd *rd)
{
	return kdc_rd_remaining(rd) == 0;
}

size_t
kdc_rd_pos(const struct kdc_rd *rd)
{
	return rd->off;
}

kdc_err
kdc_rd_err(const struct kdc_rd *rd)
{
	return rd->err;
}

/* ---- writer --------------------------------------------------------- */

void
kdc_wr_init(struct kdc_wr *w, void *buf, size_t cap)
{
	w->buf = buf;
	w->cap = buf == NULL ? 0 : cap;
	w->len = 0;
	w->err = KDC_OK;
}

bool
kdc_wr_fail(struct kdc_wr *w, kdc_err r)
{
	if (w->err == KDC_OK)
		w->err = r == KDC_OK ? KDC_ERR_INVALID_ARG : r;
	return false;
}

bool
kdc_wr_bytes(struct kdc_wr *w, const void *p, size_t n)
{
	if (w->err != KDC_OK)
		return false;
	if (n > w->cap - w->len)
		return kdc_wr_fail(w, KDC_ERR_TOO_LARGE);
	if (n > 0)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
	return true;
}

bool
kdc_wr_be(struct kdc_wr *w, uint64_t v, unsigned width)
{
	uint8_t b[8];

	if (width == 0 || width > 8)
		return kdc_wr_fail(w, KDC_ERR_INVALID_ARG);
	for (unsigned i = 0; i < width; i++)
		b[i] = (uint8_t)(v >> (8 * (width - 1 - i)));
	return kdc_wr_bytes(w, b, width);
}

bool
kdc_wr_u8(struct kdc_wr *w, uint8_t v)
{
	return kdc_wr_bytes(w, &v, 1);
}

bool
kdc_wr_be16(struct kdc_wr *w, uint16_t v)
{
	return kdc_wr_be(w, v, 2);
}

bool
kdc_wr_be32(struct kdc_wr *w, uint32_t v)
{
	return kdc_wr_be(w, v, 4);
}

bool
kdc_wr_be64(struct kdc_wr *w, uint64_t v)
{
	return kdc_wr_be(w, v, 8);
}

bool
kdc_wr_str(struct kdc_wr *w, const char *s)
{
	return kdc_wr_bytes(w, s, strlen(s));
}

size_t
kdc_wr_len(const struct kdc_wr *w)
{
	return w->len;
}

kdc_err
kdc_wr_err(const struct kdc_wr *w)
{
	return w->err;
}
