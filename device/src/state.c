/*
 * state.c: the device's persistent state as bytes (format in kdcdev.h).
 * Decoding is a bounded parser run twice: once to check, once to apply,
 * so a damaged file never half-replaces the objects.
 */
#include <string.h>

#include "kdcdev_int.h"

#define MAGIC		"KDCDEV\0\1"
#define MAGIC_LEN	8
#define HDR_LEN		(MAGIC_LEN + 4)
#define CRC_LEN		4

uint32_t
kdcdev_crc32(const uint8_t *buf, size_t len)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		crc ^= buf[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

/* ==== writer ============================================================= */

struct wr {
	uint8_t	*p;
	size_t	 cap, len;
	kdc_err	 r;		/* sticky within one encode */
};

static void
wr_bytes(struct wr *w, const void *b, size_t n)
{
	if (w->r != KDC_OK)
		return;
	if (n > w->cap - w->len) {
		w->r = KDC_ERR_TOO_LARGE;
		return;
	}
	if (n > 0)
		memcpy(w->p + w->len, b, n);
	w->len += n;
}

static void
wr_be(struct wr *w, uint32_t v, size_t width)
{
	uint8_t b[4];

	for (size_t i = 0; i < width; i++)
		b[i] = (uint8_t)(v >> (8 * (width - 1 - i)));
	wr_bytes(w, b, width);
}

static void
wr_lv8(struct wr *w, const char *s)
{
	size_t n = strlen(s);

	wr_be(w, (uint32_t)n, 1);
	wr_bytes(w, s, n);
}

static void
wr_lv16(struct wr *w, const void *b, size_t n)
{
	wr_be(w, (uint32_t)n, 2);
	wr_bytes(w, b, n);
}

kdc_err
kdcdev_state_encode(const struct kdcdev_lwm2m *c, uint8_t *out,
    size_t *out_len)
{
	struct wr w = { out, *out_len, 0, KDC_OK };
	size_t nsec = 0, nsrv = 0;

	*out_len = 0;
	for (size_t i = 0; i < KDCDEV_MAX_SECURITY; i++)
		nsec += c->sec[i].used ? 1 : 0;
	for (size_t i = 0; i < KDCDEV_MAX_SERVER; i++)
		nsrv += c->srv[i].used ? 1 : 0;
	wr_bytes(&w, MAGIC, MAGIC_LEN);
	wr_be(&w, 0, 4);			/* body length, patched below */
	wr_be(&w, (uint32_t)((c->bs_finished ? 1u : 0u) |
	    (c->registered ? 2u : 0u)), 1);
	wr_lv8(&w, c->ep);
	wr_lv8(&w, c->location);
	wr_be(&w, (uint32_t)nsec, 1);
	for (size_t i = 0; i < KDCDEV_MAX_SECURITY; i++) {
		const struct kdcdev_security *s = &c->sec[i];
		if (!s->used)
			continue;
		wr_be(&w, s->iid, 2);
		wr_be(&w, s->bootstrap, 1);
		wr_be(&w, s->mode, 1);
		wr_be(&w, (uint32_t)s->ssid, 4);
		wr_be(&w, s->holdoff, 4);
		wr_be(&w, s->bs_timeout, 4);
		wr_lv16(&w, s->uri, strlen(s->uri));
		wr_lv16(&w, s->ident, s->ident_len);
		wr_lv16(&w, s->server_key, s->server_key_len);
		wr_lv16(&w, s->secret, s->secret_len);
	}
	wr_be(&w, (uint32_t)nsrv, 1);
	for (size_t i = 0; i < KDCDEV_MAX_SERVER; i++) {
		const struct kdcdev_server *s = &c->srv[i];
		if (!s->used)
			continue;
		wr_be(&w, s->iid, 2);
		wr_be(&w, s->ssid, 2);
		wr_be(&w, s->lifetime, 4);
		wr_be(&w, s->pmin, 4);
		wr_be(&w, s->pmax, 4);
		wr_be(&w, s->disable_timeout, 4);
		wr_be(&w, s->notif_storing, 1);
		wr_lv8(&w, s->binding);
	}
	if (w.r == KDC_OK) {
		size_t body = w.len - HDR_LEN;
		for (size_t i = 0; i < 4; i++)
			out[MAGIC_LEN + i] = (uint8_t)(body >> (8 * (3 - i)));
		wr_be(&w, kdcdev_crc32(out, w.len), 4);
	}
	if (w.r != KDC_OK) {
		kdcdev_memzero(out, w.cap);	/* it held secrets */
		return w.r;
	}
	*out_len = w.len;
	return KDC_OK;
}

/* ==== reader ============================================================= */

struct rd {
	const uint8_t	*p;
	size_t		 left;
	kdc_err		 r;
};

static const uint8_t *
rd_bytes(struct rd *r, size_t n)
{
	const uint8_t *b;

	if (r->r != KDC_OK)
		return NULL;
	if (n > r->left) {
		r->r = KDC_ERR_TRUNCATED;
		return NULL;
	}
	b = r->p;
	r->p += n;
	r->left -= n;
	return b;
}

static uint32_t
rd_be(struct rd *r, size_t width)
{
	const uint8_t *b = rd_bytes(r, width);
	uint32_t v = 0;

	if (b == NULL)
		return 0;
	for (size_t i = 0; i < width; i++)
		v = (v << 8) | b[i];
	return v;
}

/* A length-prefixed field of at most max bytes, copied to dst (if not
 * NULL) and NUL-terminated when text. */
static size_t
rd_lv(struct rd *r, size_t width, size_t max, void *dst, bool text)
{
	size_t n = rd_be(r, width);
	const uint8_t *b;

	if (r->r != KDC_OK)
		return 0;
	if (n > max) {
		r->r = KDC_ERR_TOO_LARGE;
		return 0;
	}
	if ((b = rd_bytes(r, n)) == NULL)
		return 0;
	if (text && n > 0 && memchr(b, 0, n) != NULL) {
		r->r = KDC_ERR_MALFORMED;
		return 0;
	}
	if (dst != NULL) {
		if (n > 0)
			memcpy(dst, b, n);
		if (text)
			((char *)dst)[n] = '\0';
	}
	return n;
}

static void
rd_check(struct rd *r, bool ok)
{
	if (r->r == KDC_OK && !ok)
		r->r = KDC_ERR_MALFORMED;
}

/* Parse the body; with c == NULL only check it. */
static kdc_err
parse_body(struct kdcdev_lwm2m *c, const uint8_t *body, size_t len)
{
	struct rd r = { body, len, KDC_OK };
	struct kdcdev_security *s;
	struct kdcdev_server *v;
	uint32_t flags, nsec, nsrv;
	size_t epn;

	flags = rd_be(&r, 1);
	rd_check(&r, (flags & ~3u) == 0);
	epn = rd_lv(&r, 1, KDCDEV_EP_MAX - 1, c ? c->ep : NULL, true);
	rd_check(&r, epn > 0);
	(void)rd_lv(&r, 1, KDCDEV_LOCATION_MAX - 1, c ? c->location : NULL,
	    true);
	if (c != NULL) {
		c->bs_finished = (flags & 1u) ? 1 : 0;
		c->registered = (flags & 2u) ? 1 : 0;
	}
	nsec = rd_be(&r, 1);
	if (r.r == KDC_OK && nsec > KDCDEV_MAX_SECURITY)
		r.r = KDC_ERR_TOO_LARGE;
	for (uint32_t i = 0; i < nsec && r.r == KDC_OK; i++) {
		struct kdcdev_security tmp;
		s = c != NULL ? &c->sec[i] : &tmp;
		memset(s, 0, sizeof(*s));
		s->used = 1;
		s->iid = (uint16_t)rd_be(&r, 2);
		s->bootstrap = (uint8_t)rd_be(&r, 1);
		s->mode = (uint8_t)rd_be(&r, 1);
		s->ssid = (int32_t)rd_be(&r, 4);
		s->holdoff = rd_be(&r, 4);
		s->bs_timeout = rd_be(&r, 4);
		rd_check(&r, s->bootstrap <= 1 && s->mode <= KDCDEV_MODE_EST &&
		    s->iid != 65535 && (s->ssid == -1 ||
		    (s->ssid >= 1 && s->ssid <= 65534)));
		(void)rd_lv(&r, 2, KDCDEV_URI_MAX - 1, c ? s->uri : NULL,
		    true);
		s->ident_len = (uint16_t)rd_lv(&r, 2, KDCDEV_IDENTITY_MAX,
		    c ? s->ident : NULL, false);
		s->server_key_len = (uint16_t)rd_lv(&r, 2,
		    KDCDEV_SERVER_KEY_MAX, c ? s->server_key : NULL, false);
		s->secret_len = (uint16_t)rd_lv(&r, 2, KDCDEV_SECRET_MAX,
		    c ? s->secret : NULL, false);
		if (c == NULL)
			kdcdev_memzero(&tmp, sizeof(tmp));
	}
	nsrv = rd_be(&r, 1);
	if (r.r == KDC_OK && nsrv > KDCDEV_MAX_SERVER)
		r.r = KDC_ERR_TOO_LARGE;
	for (uint32_t i = 0; i < nsrv && r.r == KDC_OK; i++) {
		struct kdcdev_server tmp;
		v = c != NULL ? &c->srv[i] : &tmp;
		memset(v, 0, sizeof(*v));
		v->used = 1;
		v->iid = (uint16_t)rd_be(&r, 2);
		v->ssid = (uint16_t)rd_be(&r, 2);
		v->lifetime = rd_be(&r, 4);
		v->pmin = rd_be(&r, 4);
		v->pmax = rd_be(&r, 4);
		v->disable_timeout = rd_be(&r, 4);
		v->notif_storing = (uint8_t)rd_be(&r, 1);
		rd_check(&r, v->notif_storing <= 1 && v->iid != 65535);
		(void)rd_lv(&r, 1, KDCDEV_BINDING_MAX - 1, c ? v->binding : NULL,
		    true);
	}
	if (r.r == KDC_OK && r.left != 0)
		r.r = KDC_ERR_TRAILING;
	return r.r;
}

kdc_err
kdcdev_state_decode(struct kdcdev_lwm2m *c, const uint8_t *buf, size_t len)
{
	uint32_t body, crc;
	kdc_err r;

	if (len < HDR_LEN + CRC_LEN)
		return KDC_ERR_TRUNCATED;
	if (memcmp(buf, MAGIC, MAGIC_LEN - 1) != 0)
		return KDC_ERR_MALFORMED;
	if (buf[MAGIC_LEN - 1] != 1)
		return KDC_ERR_UNSUPPORTED;
	body = ((uint32_t)buf[8] << 24) | ((uint32_t)buf[9] << 16) |
	    ((uint32_t)buf[10] << 8) | buf[11];
	if (body > len - HDR_LEN - CRC_LEN)
		return KDC_ERR_TRUNCATED;
	if (body < len - HDR_LEN - CRC_LEN)
		return KDC_ERR_TRAILING;
	crc = ((uint32_t)buf[len - 4] << 24) | ((uint32_t)buf[len - 3] << 16) |
	    ((uint32_t)buf[len - 2] << 8) | buf[len - 1];
	if (crc != kdcdev_crc32(buf, len - CRC_LEN))
		return KDC_ERR_MALFORMED;
	if ((r = parse_body(NULL, buf + HDR_LEN, body)) != KDC_OK)
		return r;
	/* Checked: now replace the objects. */
	for (size_t i = 0; i < KDCDEV_MAX_SECURITY; i++) {
		kdcdev_memzero(&c->sec[i], sizeof(c->sec[i]));
		c->sec[i].ssid = -1;
	}
	kdcdev_memzero(c->srv, sizeof(c->srv));
	kdcdev_memzero(c->ep, sizeof(c->ep));
	kdcdev_memzero(c->location, sizeof(c->location));
	return parse_body(c, buf + HDR_LEN, body);
}
