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

/* Lengths are checked against the KDCDEV_*_MAX field sizes before a
 * state is built, so each fits its prefix. */
static void
wr_lv8(struct kdc_wr *w, const char *str)
{
	size_t n = strlen(str);

	kdc_wr_u8(w, (uint8_t)n);
	kdc_wr_bytes(w, str, n);
}

static void
wr_lv16(struct kdc_wr *w, const void *b, size_t n)
{
	kdc_wr_be16(w, (uint16_t)n);
	kdc_wr_bytes(w, b, n);
}

kdc_err
kdcdev_state_encode(const struct kdcdev_lwm2m *c, uint8_t *out,
    size_t *out_len)
{
	struct kdc_wr w;
	size_t cap = *out_len, nsec = 0, nsrv = 0, len;
	kdc_err r;

	kdc_wr_init(&w, out, cap);
	*out_len = 0;
	for (size_t i = 0; i < KDCDEV_MAX_SECURITY; i++)
		nsec += c->sec[i].used ? 1 : 0;
	for (size_t i = 0; i < KDCDEV_MAX_SERVER; i++)
		nsrv += c->srv[i].used ? 1 : 0;
	kdc_wr_bytes(&w, MAGIC, MAGIC_LEN);
	kdc_wr_be32(&w, 0);			/* body length, patched below */
	kdc_wr_u8(&w, (uint8_t)((c->bs_finished ? 1u : 0u) |
	    (c->registered ? 2u : 0u)));
	wr_lv8(&w, c->ep);
	wr_lv8(&w, c->location);
	kdc_wr_u8(&w, (uint8_t)nsec);
	for (size_t i = 0; i < KDCDEV_MAX_SECURITY; i++) {
		const struct kdcdev_security *s = &c->sec[i];
		if (!s->used)
			continue;
		kdc_wr_be16(&w, s->iid);
		kdc_wr_u8(&w, s->bootstrap);
		kdc_wr_u8(&w, s->mode);
		kdc_wr_be32(&w, (uint32_t)s->ssid);
		kdc_wr_be32(&w, s->holdoff);
		kdc_wr_be32(&w, s->bs_timeout);
		wr_lv16(&w, s->uri, strlen(s->uri));
		wr_lv16(&w, s->ident, s->ident_len);
		wr_lv16(&w, s->server_key, s->server_key_len);
		wr_lv16(&w, s->secret, s->secret_len);
	}
	kdc_wr_u8(&w, (uint8_t)nsrv);
	for (size_t i = 0; i < KDCDEV_MAX_SERVER; i++) {
		const struct kdcdev_server *s = &c->srv[i];
		if (!s->used)
			continue;
		kdc_wr_be16(&w, s->iid);
		kdc_wr_be16(&w, s->ssid);
		kdc_wr_be32(&w, s->lifetime);
		kdc_wr_be32(&w, s->pmin);
		kdc_wr_be32(&w, s->pmax);
		kdc_wr_be32(&w, s->disable_timeout);
		kdc_wr_u8(&w, s->notif_storing);
		wr_lv8(&w, s->binding);
	}
	if (kdc_wr_err(&w) == KDC_OK) {
		/* the header is in place: patch the body length into it */
		size_t body = kdc_wr_len(&w) - HDR_LEN;
		for (size_t i = 0; i < 4; i++)
			out[MAGIC_LEN + i] = (uint8_t)(body >> (8 * (3 - i)));
		kdc_wr_be32(&w, kdcdev_crc32(out, kdc_wr_len(&w)));
	}
	len = kdc_wr_len(&w);
	if ((r = kdc_wr_err(&w)) != KDC_OK) {
		kdc_wipe(out, cap);	/* it held secrets */
		return r;
	}
	*out_len = len;
	return KDC_OK;
}

/* ==== reader ============================================================= */

/* An unsigned big-endian field of width 1, 2 or 4 bytes (0 once failed). */
static uint32_t
rd_be(struct kdc_rd *r, unsigned width)
{
	uint64_t v;

	return kdc_rd_be(r, width, &v) ? (uint32_t)v : 0;
}

/* A length-prefixed field of at most max bytes, copied to dst (if not
 * NULL) and NUL-terminated when text. */
static size_t
rd_lv(struct kdc_rd *r, unsigned width, size_t max, void *dst, bool text)
{
	size_t n = rd_be(r, width);
	const uint8_t *b;

	if (kdc_rd_err(r) != KDC_OK)
		return 0;
	if (n > max) {
		(void)kdc_rd_fail(r, KDC_ERR_TOO_LARGE);
		return 0;
	}
	if (!kdc_rd_view(r, n, &b))
		return 0;
	if (text && n > 0 && memchr(b, 0, n) != NULL) {
		(void)kdc_rd_fail(r, KDC_ERR_MALFORMED);
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
rd_check(struct kdc_rd *r, bool ok)
{
	if (!ok)
		(void)kdc_rd_fail(r, KDC_ERR_MALFORMED);
}

/* Parse the body; with c == NULL only check it. */
static kdc_err
parse_body(struct kdcdev_lwm2m *c, const uint8_t *body, size_t len)
{
	struct kdc_rd r;
	struct kdcdev_security *s;
	struct kdcdev_server *v;
	uint32_t flags, nsec, nsrv;
	size_t epn;

	kdc_rd_init(&r, body, len);
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
	if (nsec > KDCDEV_MAX_SECURITY)
		(void)kdc_rd_fail(&r, KDC_ERR_TOO_LARGE);
	for (uint32_t i = 0; i < nsec && kdc_rd_err(&r) == KDC_OK; i++) {
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
			kdc_wipe(&tmp, sizeof(tmp));
	}
	nsrv = rd_be(&r, 1);
	if (nsrv > KDCDEV_MAX_SERVER)
		(void)kdc_rd_fail(&r, KDC_ERR_TOO_LARGE);
	for (uint32_t i = 0; i < nsrv && kdc_rd_err(&r) == KDC_OK; i++) {
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
	if (!kdc_rd_at_end(&r))
		(void)kdc_rd_fail(&r, KDC_ERR_TRAILING);
	return kdc_rd_err(&r);
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
		kdc_wipe(&c->sec[i], sizeof(c->sec[i]));
		c->sec[i].ssid = -1;
	}
	kdc_wipe(c->srv, sizeof(c->srv));
	kdc_wipe(c->ep, sizeof(c->ep));
	kdc_wipe(c->location, sizeof(c->location));
	return parse_body(c, buf + HDR_LEN, body);
}
