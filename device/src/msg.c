/*
 * msg.c: requests the device sends (Bootstrap-Request, Register, Update,
 * De-register; LwM2M 1.1 Core §5.2.7.1, §5.3) and a minimal CoAP-over-UDP
 * codec (RFC 7252 §3) that drives kdcdev_bs_handle() from raw bytes.
 */
#include <stdio.h>
#include <string.h>

#include "kdcdev_int.h"

/* ==== outgoing requests ================================================== */

/* Append a NUL-terminated formatted string at buf[*off]; TOO_LARGE if it
 * does not fit. Returns the start in *start. */
static kdc_err
put_str(uint8_t *buf, size_t buf_len, size_t *off, const char **start,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static kdc_err
put_str(uint8_t *buf, size_t buf_len, size_t *off, const char **start,
    const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= buf_len)
		return KDC_ERR_TOO_LARGE;
	va_start(ap, fmt);
	n = vsnprintf((char *)buf + *off, buf_len - *off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= buf_len - *off)
		return KDC_ERR_TOO_LARGE;
	*start = (const char *)buf + *off;
	*off += (size_t)n + 1;
	return KDC_OK;
}

static void
msg_reset(struct kdcdev_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->content_format = -1;
	m->path = m->query = "";
}

kdc_err
kdcdev_msg_bootstrap(struct kdcdev_lwm2m *c, int32_t pct,
    struct kdcdev_msg *m, uint8_t *buf, size_t buf_len)
{
	size_t off = 0;
	kdc_err r;

	msg_reset(m);
	if (c->err != KDC_OK)
		return c->err;
	m->method = KDCDEV_POST;
	m->path = "bs";
	if (pct >= 0)
		r = put_str(buf, buf_len, &off, &m->query, "ep=%s&pct=%ld",
		    c->ep, (long)pct);
	else
		r = put_str(buf, buf_len, &off, &m->query, "ep=%s", c->ep);
	return r;
}

kdc_err
kdcdev_msg_register(struct kdcdev_lwm2m *c, uint32_t lifetime,
    struct kdcdev_msg *m, uint8_t *buf, size_t buf_len)
{
	size_t si, vi, off = 0, n = 0, plen;
	kdc_err r;

	msg_reset(m);
	if (c->err != KDC_OK)
		return c->err;
	if ((r = kdcdev_dm_account(c, &si, &vi)) != KDC_OK)
		return r;
	if (lifetime == 0)
		lifetime = c->srv[vi].lifetime;
	m->method = KDCDEV_POST;
	m->path = "rd";
	if ((r = put_str(buf, buf_len, &off, &m->query,
	    "ep=%s&lt=%lu&lwm2m=1.1&b=%s", c->ep, (unsigned long)lifetime,
	    c->srv[vi].binding[0] != '\0' ? c->srv[vi].binding : "U")) != KDC_OK)
		return r;
	/* Objects we implement: the Server object instances (Core §6.2.1:
	 * the Security object is not listed), as "</1/x>,...". */
	plen = off;
	for (size_t i = 0; i < KDCDEV_MAX_SERVER; i++) {
		const char *unused;
		if (!c->srv[i].used)
			continue;
		if ((r = put_str(buf, buf_len, &off, &unused, "%s</1/%u>",
		    n > 0 ? "," : "", c->srv[i].iid)) != KDC_OK)
			return r;
		off--;			/* drop the NUL: links run on */
		n++;
	}
	m->payload = buf + plen;
	m->payload_len = off - plen;
	m->content_format = KDCDEV_CF_LINK;
	return KDC_OK;
}

kdc_err
kdcdev_msg_update(struct kdcdev_lwm2m *c, uint32_t lifetime,
    struct kdcdev_msg *m, uint8_t *buf, size_t buf_len)
{
	size_t off = 0;
	kdc_err r;

	msg_reset(m);
	if (c->err != KDC_OK)
		return c->err;
	if (!c->registered || c->location[0] == '\0')
		return KDC_ERR_INVALID_ARG;
	m->method = KDCDEV_POST;
	if ((r = put_str(buf, buf_len, &off, &m->path, "%s",
	    c->location)) != KDC_OK)
		return r;
	if (lifetime > 0)
		return put_str(buf, buf_len, &off, &m->query, "lt=%lu",
		    (unsigned long)lifetime);
	return KDC_OK;
}

kdc_err
kdcdev_msg_deregister(struct kdcdev_lwm2m *c, struct kdcdev_msg *m,
    uint8_t *buf, size_t buf_len)
{
	size_t off = 0;

	msg_reset(m);
	if (c->err != KDC_OK)
		return c->err;
	if (!c->registered || c->location[0] == '\0')
		return KDC_ERR_INVALID_ARG;
	m->method = KDCDEV_DELETE;
	return put_str(buf, buf_len, &off, &m->path, "%s", c->location);
}

kdc_err
kdcdev_register_result(struct kdcdev_lwm2m *c, uint8_t method_sent,
    const char *path_sent, uint8_t code, const char *location)
{
	size_t n;

	if (c->err != KDC_OK)
		return c->err;
	if ((code >> 5) != 2) {
		/* 4.04 on Update/De-register: the server forgot us */
		if (code == KDCDEV_CODE(4, 4) && path_sent != NULL &&
		    strcmp(path_sent, "rd") != 0) {
			c->registered = 0;
			c->location[0] = '\0';
		}
		return KDC_ERR_PEER_ERROR;
	}
	if (method_sent == KDCDEV_DELETE) {
		c->registered = 0;
		c->location[0] = '\0';
		return KDC_OK;
	}
	if (path_sent == NULL || strcmp(path_sent, "rd") != 0)
		return KDC_OK;				/* Update */
	if (code != KDCDEV_CODE(2, 1) || location == NULL)
		return KDC_ERR_MALFORMED;
	n = strlen(location);
	if (n == 0 || n >= sizeof(c->location))
		return n == 0 ? KDC_ERR_MALFORMED : KDC_ERR_TOO_LARGE;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)location[i];
		if (ch <= 0x20 || ch >= 0x7f || ch == '?' ||
		    (ch == '/' && (i == 0 || i + 1 == n ||
		    location[i + 1] == '/')))
			return KDC_ERR_MALFORMED;
	}
	memcpy(c->location, location, n + 1);
	c->registered = 1;
	kdcdev_log_info(c, "registered location=%s", c->location);
	return KDC_OK;
}

/* ==== CoAP over UDP (RFC 7252 §3) ======================================== */

#define OPT_URI_PATH		11
#define OPT_CONTENT_FORMAT	12
#define OPT_URI_QUERY		15
#define OPT_ACCEPT		17

static kdc_err
opt_uint(const uint8_t *v, size_t len, int32_t *out)
{
	uint32_t x = 0;

	if (len > 2)		/* content formats are 16-bit */
		return KDC_ERR_MALFORMED;
	for (size_t i = 0; i < len; i++)
		x = (x << 8) | v[i];
	*out = (int32_t)x;
	return KDC_OK;
}

/* Read an option delta or length nibble's extension. */
static kdc_err
opt_ext(uint32_t nib, const uint8_t **p, size_t *left, uint32_t *out)
{
	if (nib < 13) {
		*out = nib;
	} else if (nib == 13) {
		if (*left < 1)
			return KDC_ERR_TRUNCATED;
		*out = 13u + (*p)[0];
		*p += 1;
		*left -= 1;
	} else if (nib == 14) {
		if (*left < 2)
			return KDC_ERR_TRUNCATED;
		*out = 269u + (((uint32_t)(*p)[0] << 8) | (*p)[1]);
		*p += 2;
		*left -= 2;
	} else {
		return KDC_ERR_MALFORMED;
	}
	return KDC_OK;
}

static size_t
uint_bytes(uint32_t v, uint8_t b[4])
{
	size_t n = 0;

	if (v > 0xffffff)
		b[n++] = (uint8_t)(v >> 24);
	if (v > 0xffff)
		b[n++] = (uint8_t)(v >> 16);
	if (v > 0xff)
		b[n++] = (uint8_t)(v >> 8);
	if (v > 0)
		b[n++] = (uint8_t)v;
	return n;
}

kdc_err
kdcdev_coap_dispatch(struct kdcdev_lwm2m *c, const uint8_t *msg,
    size_t msg_len, uint8_t *out, size_t *out_len)
{
	struct kdcdev_req req;
	struct kdcdev_resp resp;
	const uint8_t *p, *tok;
	size_t left, tkl, cap = *out_len, o;
	uint32_t type, opt = 0;
	bool bad_option = false;
	uint8_t payload[KDCDEV_BUF_MIN];
	kdc_err r;

	*out_len = 0;
	if (msg_len < 4 || (msg[0] >> 6) != 1)
		return KDC_ERR_MALFORMED;
	type = (msg[0] >> 4) & 3u;
	tkl = msg[0] & 0x0fu;
	if (type > 1 || tkl > 8 || (msg[1] >> 5) != 0 || msg[1] == 0 ||
	    msg[1] > KDCDEV_DELETE)
		return KDC_ERR_MALFORMED;	/* not a CON/NON request */
	if (msg_len < 4 + tkl)
		return KDC_ERR_TRUNCATED;
	tok = msg + 4;
	p = tok + tkl;
	left = msg_len - 4 - tkl;

	memset(&req, 0, sizeof(req));
	req.method = msg[1];
	req.content_format = req.accept = -1;
	while (left > 0 && p[0] != 0xff) {
		uint32_t delta, len;
		uint8_t b = p[0];
		p++;
		left--;
		if ((r = opt_ext(b >> 4, &p, &left, &delta)) != KDC_OK ||
		    (r = opt_ext(b & 0x0fu, &p, &left, &len)) != KDC_OK)
			return r;
		if (len > left)
			return KDC_ERR_TRUNCATED;
		opt += delta;
		switch (opt) {
		case OPT_URI_PATH:
			if (req.nseg < KDCDEV_MAX_PATH) {
				req.seg[req.nseg] = (const char *)p;
				req.seg_len[req.nseg] = len;
				req.nseg++;
			} else {
				req.path_too_long = true;
			}
			break;
		case OPT_CONTENT_FORMAT:
			r = opt_uint(p, len, &req.content_format);
			break;
		case OPT_ACCEPT:
			r = opt_uint(p, len, &req.accept);
			break;
		case OPT_URI_QUERY:
			break;
		default:
			/* an unknown critical (odd) option: 4.02 (§5.4.1) */
			if (opt & 1u)
				bad_option = true;
			break;
		}
		if (r != KDC_OK)
			return r;
		p += len;
		left -= len;
	}
	if (left > 0) {			/* payload marker */
		p++;
		left--;
		if (left == 0)
			return KDC_ERR_MALFORMED;	/* §3: marker + nothing */
		req.payload = p;
		req.payload_len = left;
	}

	memset(&resp, 0, sizeof(resp));
	resp.out = payload;
	resp.out_cap = sizeof(payload);
	if (bad_option) {
		resp.code = KDCDEV_CODE(4, 2);
		resp.content_format = -1;
	} else {
		kdcdev_bs_handle(c, &req, &resp);
	}

	/* header, token, Content-Format (<= 3 bytes), marker, payload */
	if (cap < 4 + tkl + 3 + 1 + resp.out_len)
		return KDC_ERR_TOO_LARGE;
	out[0] = (uint8_t)(0x40u | ((type == 0 ? 2u : 1u) << 4) | tkl);
	out[1] = resp.code;
	out[2] = msg[2];
	out[3] = msg[3];
	if (tkl > 0)
		memcpy(out + 4, tok, tkl);
	o = 4 + tkl;
	if (resp.content_format >= 0) {
		uint8_t b[4];
		size_t n = uint_bytes((uint32_t)resp.content_format, b);
		out[o++] = (uint8_t)((OPT_CONTENT_FORMAT << 4) | n);
		memcpy(out + o, b, n);
		o += n;
	}
	if (resp.out_len > 0) {
		out[o++] = 0xff;
		memcpy(out + o, payload, resp.out_len);
		o += resp.out_len;
	}
	*out_len = o;
	return KDC_OK;
}
