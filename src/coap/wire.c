/*
 * wire.c: CoAP messages as bytes (wire.h). The parser reads the
 * datagram through struct kdc_rd only, so every length a peer announces
 * (token, option delta and length) is compared with what is left before
 * anything is touched; it keeps pointers into the datagram and copies
 * nothing but the token. No allocation, no logging, base/ only, clean
 * under -Wconversion: the device library may share it.
 */
#include <assert.h>
#include <string.h>

#include "base/buf.h"
#include "coap/wire.h"

/* ---- parser ----------------------------------------------------------- */

/*
 * An option's delta or length nibble with its extension (RFC 7252 §3.1):
 * 0-12 as is, 13 one byte more (+13), 14 two bytes more (+269), 15 a
 * format error (the payload marker is handled before). False on 15 or
 * a cut extension.
 */
static bool
opt_ext(struct kdc_rd *rd, unsigned nib, uint32_t *v)
{
	uint8_t b;
	uint16_t w;

	switch (nib) {
	case 13:
		if (!kdc_rd_u8(rd, &b))
			return false;
		*v = 13u + b;
		return true;
	case 14:
		if (!kdc_rd_be16(rd, &w))
			return false;
		*v = 269u + w;
		return true;
	case 15:
		return false;
	default:
		*v = nib;
		return true;
	}
}

kdc_err
kdc_coap_wire_parse(const uint8_t *buf, size_t len, struct kdc_coap_wire *m)
{
	struct kdc_rd rd;
	uint8_t b0, code, tkl, b;
	uint16_t mid;
	uint32_t num = 0, delta, olen;
	const uint8_t *val;
	size_t n = 0;
	kdc_err r = KDC_ERR_MALFORMED;

	m->type = 0;
	m->code = 0;
	m->mid = 0;
	m->token_len = 0;
	m->nopt = 0;
	m->payload = NULL;
	m->payload_len = 0;
	m->head_ok = false;

	kdc_rd_init(&rd, buf, len);
	if (!kdc_rd_u8(&rd, &b0) || !kdc_rd_u8(&rd, &code) ||
	    !kdc_rd_be16(&rd, &mid)) {
		r = KDC_ERR_TRUNCATED;
		goto out;
	}
	if (b0 >> 6 != 1)
		goto out;	/* §3: unknown version, silently ignored */
	m->type = (uint8_t)((b0 >> 4) & 3);
	m->code = code;
	m->mid = mid;
	m->head_ok = true;
	tkl = (uint8_t)(b0 & 0x0f);
	if (tkl > 8)
		goto out;	/* §3: 9-15 reserved, a format error */
	/* §4.1: an Empty message is the 4-byte header and nothing else. */
	if (code == 0 && (tkl != 0 || kdc_rd_remaining(&rd) != 0))
		goto out;
	if (!kdc_rd_bytes(&rd, m->token, tkl)) {
		r = KDC_ERR_TRUNCATED;
		goto out;
	}
	m->token_len = tkl;

	while (!kdc_rd_at_end(&rd)) {
		(void)kdc_rd_u8(&rd, &b);
		if (b == 0xff) {
			/* §3: a marker with an empty payload is an error. */
			if (kdc_rd_at_end(&rd))
				goto out;
			m->payload_len = kdc_rd_remaining(&rd);
			(void)kdc_rd_view(&rd, m->payload_len, &m->payload);
			break;
		}
		if (!opt_ext(&rd, (unsigned)(b >> 4), &delta) ||
		    !opt_ext(&rd, (unsigned)(b & 0x0f), &olen))
			goto out;
		num += delta;	/* <= 65535 + 65804: no wrap */
		if (num > UINT16_MAX || olen > UINT16_MAX ||
		    !kdc_rd_view(&rd, olen, &val))
			goto out;
		/* Count past the limit but keep parsing: a malformed message
		 * is MALFORMED whatever its option count. */
		if (n < KDC_COAP_WIRE_OPTS) {
			m->opt[n].num = (uint16_t)num;
			m->opt[n].len = (uint16_t)olen;
			m->opt[n].val = val;
		}
		n++;
	}
	if (n > KDC_COAP_WIRE_OPTS) {
		r = KDC_ERR_TOO_LARGE;
		goto out;
	}
	m->nopt = n;
	r = KDC_OK;
out:
	if (r != KDC_OK) {
		m->nopt = 0;
		m->payload = NULL;
		m->payload_len = 0;
	}
	return r;
}

bool
kdc_coap_wire_head_ok(const struct kdc_coap_wire *m)
{
	return m->head_ok;
}

const struct kdc_coap_opt *
kdc_coap_wire_opt(const struct kdc_coap_wire *m, uint16_t num, size_t *iter)
{
	size_t i;

	for (i = *iter; i < m->nopt && i < KDC_COAP_WIRE_OPTS; i++) {
		if (m->opt[i].num == num) {
			*iter = i + 1;
			return &m->opt[i];
		}
		if (m->opt[i].num > num)
			break;	/* ascending: no later one matches */
	}
	*iter = m->nopt;
	return NULL;
}

kdc_err
kdc_coap_opt_uint(const struct kdc_coap_opt *o, uint32_t *v)
{
	uint32_t x = 0;

	*v = 0;
	/* §3.2 uint: leading zero bytes are accepted. RFC 7641 §2: Observe
	 * is 0-3 bytes. */
	if (o->len > 4 || (o->num == KDC_OPT_OBSERVE && o->len > 3))
		return KDC_ERR_MALFORMED;
	for (uint16_t i = 0; i < o->len; i++)
		x = x << 8 | o->val[i];
	*v = x;
	return KDC_OK;
}

bool
kdc_coap_opt_unknown_critical(uint16_t num)
{
	if ((num & 1) == 0)
		return false;	/* §5.4.6: even numbers are elective */
	switch (num) {
	case KDC_OPT_IF_MATCH:
	case KDC_OPT_URI_HOST:
	case KDC_OPT_IF_NONE_MATCH:
	case KDC_OPT_URI_PORT:
	case KDC_OPT_URI_PATH:
	case KDC_OPT_URI_QUERY:
	case KDC_OPT_ACCEPT:
	case KDC_OPT_BLOCK2:
	case KDC_OPT_BLOCK1:
		return false;
	default:
		/* Proxy-Uri and Proxy-Scheme included: we are no proxy
		 * (§5.7.2 would answer 5.05; 4.02 is as safe). */
		return true;
	}
}

kdc_err
kdc_coap_block_get(const struct kdc_coap_opt *o, struct kdc_coap_block *b)
{
	uint32_t v = 0;

	b->num = 0;
	b->more = false;
	b->szx = 0;
	/* RFC 7959 §2.2: 0-3 bytes; SZX 7 is BERT (RFC 8323), TCP only. */
	if (o->len > 3)
		return KDC_ERR_MALFORMED;
	for (uint16_t i = 0; i < o->len; i++)
		v = v << 8 | o->val[i];
	if ((v & 7) == 7)
		return KDC_ERR_MALFORMED;
	b->num = v >> 4;
	b->more = (v & 8) != 0;
	b->szx = (uint8_t)(v & 7);
	return KDC_OK;
}

/* The shortest big-endian encoding of v into out[4]; its length. */
static size_t
uint_put(uint32_t v, uint8_t out[4])
{
	size_t n = 0;
	uint8_t tmp[4];

	while (v != 0) {
		tmp[n++] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

size_t
kdc_coap_block_put(const struct kdc_coap_block *b, uint8_t v[3])
{
	uint8_t tmp[4];
	size_t n;

	assert(b->num < (1u << 20) && b->szx < 7);
	n = uint_put(b->num << 4 | (b->more ? 8u : 0u) | (b->szx & 7u), tmp);
	memcpy(v, tmp, n);	/* n <= 3: num < 2^20 */
	return n;
}

/* ---- writer ----------------------------------------------------------- */

/* Append n bytes, all or nothing, through a kdc_wr over the same buffer
 * (its one bound check); the sticky error is the writer's, so a message
 * cut anywhere is refused whole by kdc_coap_wb_end(). */
static void
wb_put(struct kdc_coap_wb *w, const void *p, size_t n)
{
	struct kdc_wr wr;

	if (w->err != KDC_OK || n == 0)
		return;
	wr.buf = w->buf;
	wr.cap = w->cap;
	wr.len = w->len;
	wr.err = KDC_OK;
	(void)kdc_wr_bytes(&wr, p, n);
	w->len = wr.len;
	w->err = wr.err;
}

static void
wb_fail(struct kdc_coap_wb *w, kdc_err r)
{
	if (w->err == KDC_OK)
		w->err = r;
}

void
kdc_coap_wb_init(struct kdc_coap_wb *w, uint8_t *buf, size_t cap,
    uint8_t type, uint8_t code, uint16_t mid, const uint8_t *token,
    size_t token_len)
{
	uint8_t h[4];

	w->buf = buf;
	w->cap = buf == NULL ? 0 : cap;
	w->len = 0;
	w->last = 0;
	w->body = false;
	w->err = KDC_OK;
	if (type > KDC_COAP_RST || token_len > 8 ||
	    (token_len > 0 && token == NULL)) {
		wb_fail(w, KDC_ERR_INVALID_ARG);
		return;
	}
	h[0] = (uint8_t)(1u << 6 | (unsigned)type << 4 | token_len);
	h[1] = code;
	h[2] = (uint8_t)(mid >> 8);
	h[3] = (uint8_t)mid;
	wb_put(w, h, sizeof(h));
	wb_put(w, token, token_len);
}

/* A delta or length as its nibble and 0-2 extension bytes (§3.1). */
static unsigned
ext_put(uint32_t v, uint8_t *ext, size_t *n)
{
	if (v < 13)
		return (unsigned)v;
	if (v < 269) {
		ext[(*n)++] = (uint8_t)(v - 13);
		return 13;
	}
	ext[(*n)++] = (uint8_t)((v - 269) >> 8);
	ext[(*n)++] = (uint8_t)(v - 269);
	return 14;
}

void
kdc_coap_wb_opt(struct kdc_coap_wb *w, uint16_t num, const void *val,
    size_t len)
{
	uint8_t h[5];
	size_t n = 1;
	unsigned dn, ln;

	if (w->err != KDC_OK)
		return;
	if (w->body || num < w->last || len > UINT16_MAX ||
	    (len > 0 && val == NULL)) {
		wb_fail(w, KDC_ERR_INVALID_ARG);
		return;
	}
	dn = ext_put((uint32_t)(num - w->last), h, &n);
	ln = ext_put((uint32_t)len, h, &n);
	h[0] = (uint8_t)(dn << 4 | ln);
	wb_put(w, h, n);
	wb_put(w, val, len);
	w->last = num;
}

void
kdc_coap_wb_opt_uint(struct kdc_coap_wb *w, uint16_t num, uint32_t v)
{
	uint8_t b[4];
	size_t n = uint_put(v, b);

	kdc_coap_wb_opt(w, num, b, n);
}

void
kdc_coap_wb_path(struct kdc_coap_wb *w, uint16_t num, const char *path)
{
	const char *s, *e;
	size_t n;

	if (w->err != KDC_OK)
		return;
	if (path == NULL) {
		wb_fail(w, KDC_ERR_INVALID_ARG);
		return;
	}
	if (*path == '\0')
		return;
	for (s = path;; s = e + 1) {
		if ((e = strchr(s, '/')) == NULL)
			e = s + strlen(s);
		n = (size_t)(e - s);
		if (n == 0 || n > 255) {
			wb_fail(w, KDC_ERR_INVALID_ARG);
			return;
		}
		kdc_coap_wb_opt(w, num, s, n);
		if (*e == '\0')
			return;
	}
}

void
kdc_coap_wb_query(struct kdc_coap_wb *w, const char *query, size_t max_items)
{
	const char *s, *e;
	size_t n, items = 0;

	if (w->err != KDC_OK || query == NULL || *query == '\0')
		return;
	for (s = query;; s = e + 1) {
		if ((e = strchr(s, '&')) == NULL)
			e = s + strlen(s);
		n = (size_t)(e - s);
		if (n == 0 || n > 255 || ++items > max_items) {
			wb_fail(w, KDC_ERR_INVALID_ARG);
			return;
		}
		kdc_coap_wb_opt(w, KDC_OPT_URI_QUERY, s, n);
		if (*e == '\0')
			return;
	}
}

void
kdc_coap_wb_payload(struct kdc_coap_wb *w, const void *p, size_t len)
{
	static const uint8_t marker = 0xff;

	if (w->err != KDC_OK)
		return;
	if (w->body || (len > 0 && p == NULL)) {
		wb_fail(w, KDC_ERR_INVALID_ARG);
		return;
	}
	w->body = true;
	if (len == 0)
		return;
	wb_put(w, &marker, 1);
	wb_put(w, p, len);
}

kdc_err
kdc_coap_wb_end(struct kdc_coap_wb *w, size_t *len)
{
	*len = 0;
	/* §4.1: an Empty message is its 4-byte header only. */
	if (w->err == KDC_OK && w->buf[1] == 0 && w->len > 4)
		wb_fail(w, KDC_ERR_INVALID_ARG);
	if (w->err != KDC_OK)
		return w->err;
	*len = w->len;
	return KDC_OK;
}
