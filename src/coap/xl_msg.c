/*
 * xl_msg.c: the message layer's messages as bytes, both ways, between
 * wire.h (the codec) and coap.h (what the faces see): our messages from
 * a struct xl_out (options in order, the caller's own among them, Block2
 * answers cut to fit KDC_COAP_SEND_MAX), a peer's parsed message into a
 * struct kdc_coap_msg (bounded by coap.h's limits: past them, MALFORMED
 * and 4.00). No state, no allocation: the other parts of xl (xl_int.h)
 * call it.
 */
#include <string.h>

#include "coap/wire.h"
#include "coap/xl_int.h"

/* ---- messages out ---------------------------------------------------------- */

/* The caller's own options numbered below limit, from *k on. */
static void
xopt_upto(struct kdc_coap_wb *w, const struct xl_out *o, size_t *k,
    uint32_t limit)
{
	for (; *k < o->nxopt && o->xopt[*k].num < limit; (*k)++)
		kdc_coap_wb_opt(w, o->xopt[*k].num, o->xopt[*k].val,
		    o->xopt[*k].len);
}

kdc_err
xl_out_make(uint8_t *buf, size_t cap, uint8_t type, uint16_t mid,
    const uint8_t *tok, size_t tok_len, const struct xl_out *o, size_t *len)
{
	struct kdc_coap_wb w;
	uint8_t v[3];
	size_t n, k = 0;

	kdc_coap_wb_init(&w, buf, cap, type, o->code, mid, tok, tok_len);
	xopt_upto(&w, o, &k, KDC_OPT_OBSERVE);
	if (o->has_observe)
		kdc_coap_wb_opt_uint(&w, KDC_OPT_OBSERVE, o->observe);
	xopt_upto(&w, o, &k, KDC_OPT_LOCATION_PATH);
	if (o->location != NULL)
		kdc_coap_wb_path(&w, KDC_OPT_LOCATION_PATH, o->location);
	xopt_upto(&w, o, &k, KDC_OPT_URI_PATH);
	if (o->uri_path != NULL)
		kdc_coap_wb_path(&w, KDC_OPT_URI_PATH, o->uri_path);
	xopt_upto(&w, o, &k, KDC_OPT_CONTENT_FORMAT);
	if (o->cf >= 0 && o->cf <= 0xffff)
		kdc_coap_wb_opt_uint(&w, KDC_OPT_CONTENT_FORMAT,
		    (uint32_t)o->cf);
	xopt_upto(&w, o, &k, KDC_OPT_MAX_AGE);
	if (o->max_age > 0)
		kdc_coap_wb_opt_uint(&w, KDC_OPT_MAX_AGE, o->max_age);
	xopt_upto(&w, o, &k, KDC_OPT_URI_QUERY);
	kdc_coap_wb_query(&w, o->uri_query, KDC_COAP_QUERY_MAX);
	xopt_upto(&w, o, &k, KDC_OPT_ACCEPT);
	if (o->accept >= 0 && o->accept <= 0xffff)
		kdc_coap_wb_opt_uint(&w, KDC_OPT_ACCEPT, (uint32_t)o->accept);
	xopt_upto(&w, o, &k, KDC_OPT_BLOCK2);
	if (o->b2 != NULL) {
		n = kdc_coap_block_put(o->b2, v);
		kdc_coap_wb_opt(&w, KDC_OPT_BLOCK2, v, n);
	}
	xopt_upto(&w, o, &k, KDC_OPT_BLOCK1);
	if (o->b1 != NULL) {
		n = kdc_coap_block_put(o->b1, v);
		kdc_coap_wb_opt(&w, KDC_OPT_BLOCK1, v, n);
	}
	xopt_upto(&w, o, &k, KDC_OPT_SIZE2);
	if (o->has_size2)
		kdc_coap_wb_opt_uint(&w, KDC_OPT_SIZE2, o->size2);
	xopt_upto(&w, o, &k, KDC_OPT_SIZE1);
	if (o->has_size1)
		kdc_coap_wb_opt_uint(&w, KDC_OPT_SIZE1, o->size1);
	xopt_upto(&w, o, &k, UINT32_MAX);
	if (o->len > 0)
		kdc_coap_wb_payload(&w, o->payload, o->len);
	return kdc_coap_wb_end(&w, len);
}

void
xl_out_init(struct xl_out *o, uint8_t code)
{
	memset(o, 0, sizeof(*o));
	o->code = code;
	o->cf = KDC_CF_NONE;
	o->accept = KDC_CF_NONE;
}

/* A bare header: empty ACK or RST (RFC 7252 §4.2, §4.3). */
size_t
xl_bare(uint8_t *buf, uint8_t type, uint16_t mid)
{
	buf[0] = (uint8_t)(0x40 | (type << 4));
	buf[1] = CODE_EMPTY;
	buf[2] = (uint8_t)(mid >> 8);
	buf[3] = (uint8_t)mid;
	return 4;
}

/*
 * Block `want` (num, szx) of payload (len bytes) as an answer message,
 * the block size lowered until the message fits a datagram. 0 when the
 * block is past the end or nothing fits. *more: blocks follow.
 */
size_t
xl_block_make(uint8_t *buf, uint8_t type, uint16_t mid, const uint8_t *tok,
    size_t tok_len, struct xl_out *o, const uint8_t *payload, size_t len,
    const struct kdc_coap_block *want, bool *more)
{
	struct kdc_coap_block b;
	uint64_t off = (uint64_t)want->num << (want->szx + 4);
	uint8_t szx = want->szx > SZX_MAX ? SZX_MAX : want->szx;
	size_t n;
	kdc_err r;

	if (off >= len && !(off == 0 && len == 0))
		return 0;
	for (;;) {
		size_t size = (size_t)16 << szx;
		b.num = (uint32_t)(off >> (szx + 4));
		b.szx = szx;
		b.more = off + size < len;
		o->b2 = &b;
		o->has_size2 = b.num == 0;
		o->size2 = (uint32_t)len;
		o->payload = payload + off;
		o->len = b.more ? size : len - (size_t)off;
		r = xl_out_make(buf, KDC_COAP_SEND_MAX, type, mid, tok, tok_len,
		    o, &n);
		o->b2 = NULL;
		if (r == KDC_OK) {
			*more = b.more;
			return n;
		}
		if (r != KDC_ERR_TOO_LARGE || szx == 0)
			return 0;
		szx--;
	}
}

/* A bare code answer (an error): code, and Size1/Block1/Max-Age when
 * given. Always fits. */
size_t
xl_code_make(uint8_t *buf, uint8_t type, uint16_t mid, const uint8_t *tok,
    size_t tok_len, uint8_t code, const struct kdc_coap_block *b1,
    const uint32_t *size1, uint32_t max_age)
{
	struct xl_out o;
	size_t n = 0;

	xl_out_init(&o, code);
	o.b1 = b1;
	o.max_age = max_age;
	if (size1 != NULL) {
		o.has_size1 = true;
		o.size1 = *size1;
	}
	if (xl_out_make(buf, KDC_COAP_SEND_MAX, type, mid, tok, tok_len, &o,
	    &n) != KDC_OK) {
		/* unreachable with a token of at most 8 bytes */
		xl_out_init(&o, KDC_COAP_INTERNAL);
		(void)xl_out_make(buf, KDC_COAP_SEND_MAX, type, mid, tok,
		    tok_len, &o, &n);
	}
	return n;
}

/* ---- decoding ---------------------------------------------------------------- */

static kdc_err
path_append(char *buf, size_t cap, const uint8_t *v, size_t len)
{
	size_t used = strlen(buf);

	if (memchr(v, '\0', len) != NULL || memchr(v, '/', len) != NULL)
		return KDC_ERR_MALFORMED;	/* would make the join ambiguous */
	if (used + (used > 0) + len + 1 > cap)
		return KDC_ERR_MALFORMED;	/* over KDC_COAP_PATH_MAX: 4.00 */
	if (used > 0)
		buf[used++] = '/';
	memcpy(buf + used, v, len);
	buf[used + len] = '\0';
	return KDC_OK;
}

/* Content-Format / Accept: 0..65535. */
static kdc_err
cf_opt(const struct kdc_coap_opt *o, int *out)
{
	uint32_t v;

	if (o->len > 2 || kdc_coap_opt_uint(o, &v) != KDC_OK)
		return KDC_ERR_MALFORMED;
	*out = (int)v;
	return KDC_OK;
}

/* w into m (pointers into w's datagram); Location-Path into loc when
 * not NULL. MALFORMED for an option over our limits (4.00). */
kdc_err
xl_msg_decode(const struct kdc_coap_wire *w, struct kdc_coap_msg *m, char *loc,
    size_t loc_cap)
{
	kdc_err r = KDC_OK;
	uint32_t v;

	memset(m, 0, sizeof(*m));
	m->code = w->code;
	m->content_format = KDC_CF_NONE;
	m->accept = KDC_CF_NONE;
	if (loc != NULL)
		loc[0] = '\0';
	for (size_t i = 0; i < w->nopt && r == KDC_OK; i++) {
		const struct kdc_coap_opt *o = &w->opt[i];
		switch (o->num) {
		case KDC_OPT_URI_PATH:
			r = path_append(m->path, sizeof(m->path), o->val,
			    o->len);
			break;
		case KDC_OPT_LOCATION_PATH:
			if (loc != NULL)
				r = path_append(loc, loc_cap, o->val, o->len);
			break;
		case KDC_OPT_URI_QUERY:
			if (m->nquery == KDC_COAP_QUERY_MAX ||
			    o->len > KDC_COAP_QUERY_LEN ||
			    memchr(o->val, '\0', o->len) != NULL) {
				r = KDC_ERR_MALFORMED;
				break;
			}
			memcpy(m->query[m->nquery], o->val, o->len);
			m->query[m->nquery++][o->len] = '\0';
			break;
		case KDC_OPT_CONTENT_FORMAT:
			r = cf_opt(o, &m->content_format);
			break;
		case KDC_OPT_ACCEPT:
			r = cf_opt(o, &m->accept);
			break;
		case KDC_OPT_OCF_CONTENT_VERSION:
			if (o->len > 2 || kdc_coap_opt_uint(o, &v) != KDC_OK)
				r = KDC_ERR_MALFORMED;
			else
				m->ocf_version = v;
			break;
		default:
			break;
		}
	}
	if (r != KDC_OK)
		return r;
	m->payload = w->payload_len > 0 ? w->payload : NULL;
	m->payload_len = w->payload_len;
	if (loc != NULL && loc[0] != '\0')
		m->location = loc;
	return KDC_OK;
}

kdc_err
kdc_coap_xl_decode(const struct kdc_coap_wire *w, struct kdc_coap_msg *m)
{
	return xl_msg_decode(w, m, NULL, 0);
}

bool
kdc_coap_xl_answer_ok(const struct kdc_coap_wire *w)
{
	for (size_t i = 0; i < w->nopt; i++) {
		uint16_t num = w->opt[i].num;

		if (num != KDC_OPT_OCF_ACCEPT_VERSION &&
		    num != KDC_OPT_OCF_CONTENT_VERSION &&
		    kdc_coap_opt_unknown_critical(num))
			return false;
	}
	return true;
}

const char *
kdc_coap_msg_query(const struct kdc_coap_msg *m, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < m->nquery; i++) {
		const char *q = m->query[i];
		if (strncmp(q, name, n) != 0)
			continue;
		if (q[n] == '=')
			return q + n + 1;
		if (q[n] == '\0')
			return q + n;
	}
	return NULL;
}

/* Block option num of w: 0 absent, 1 present (*b set), -1 malformed. */
int
xl_block_of(const struct kdc_coap_wire *w, uint16_t num,
    struct kdc_coap_block *b)
{
	size_t it = 0;
	const struct kdc_coap_opt *o = kdc_coap_wire_opt(w, num, &it);

	if (o == NULL)
		return 0;
	if (kdc_coap_block_get(o, b) != KDC_OK)
		return -1;
	if (b->num >= (1u << 20))
		return -1;
	return 1;
}
