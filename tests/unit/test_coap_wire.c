/*
 * test_coap_wire.c: CoAP messages as bytes (src/coap/wire.h). Known
 * bytes from RFC 7252 Appendix A and §3.1's extended forms, round trips
 * (writer, then parser) of the requests and answers the engine carries
 * (Uri-Path, Uri-Query, Content-Format, Block1/Block2, Size1 of
 * 4 GiB - 1, Observe, payload), every truncation of every valid message,
 * each refusal the header names, and the writer's errors (order, every
 * buffer size short of the message, token, path segments). Inputs are
 * exact-size heap copies so ASan sees a read past the datagram.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "coap/wire.h"

#define GET	1
#define POST	2
#define CONTENT	0x45	/* 2.05 */
#define CHANGED	0x44	/* 2.04 */

/* A heap copy of exactly n bytes. */
static uint8_t *
exact_copy(const void *p, size_t n)
{
	uint8_t *c = malloc(n > 0 ? n : 1);

	assert_non_null(c);
	if (n > 0)
		memcpy(c, p, n);
	return c;
}

static kdc_err
parse_copy(const void *p, size_t n, struct kdc_coap_wire *m)
{
	uint8_t *c = exact_copy(p, n);
	kdc_err r = kdc_coap_wire_parse(c, n, m);

	/* The caller only looks at fields and r, not at the pointers. */
	free(c);
	return r;
}

static void
assert_opt(const struct kdc_coap_opt *o, uint16_t num, const void *val,
    size_t len)
{
	assert_non_null(o);
	assert_int_equal(o->num, num);
	assert_int_equal(o->len, len);
	if (len > 0)
		assert_memory_equal(o->val, val, len);
}

/* Write m again and compare with the bytes it came from. */
static void
assert_rewrites(const struct kdc_coap_wire *m, const uint8_t *bytes,
    size_t n)
{
	uint8_t out[2048];
	struct kdc_coap_wb w;
	size_t len;

	assert_true(n <= sizeof(out));
	kdc_coap_wb_init(&w, out, sizeof(out), m->type, m->code, m->mid,
	    m->token, m->token_len);
	for (size_t i = 0; i < m->nopt; i++)
		kdc_coap_wb_opt(&w, m->opt[i].num, m->opt[i].val,
		    m->opt[i].len);
	kdc_coap_wb_payload(&w, m->payload, m->payload_len);
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_OK);
	assert_int_equal(len, n);
	assert_memory_equal(out, bytes, n);
}

/*
 * Every prefix of a valid message: an error, or (cut at an option's end
 * or inside the payload) a shorter valid message that writes back to
 * exactly those bytes. Below the header: TRUNCATED, head not readable;
 * inside the token: TRUNCATED with the head readable.
 */
static void
check_truncations(const uint8_t *msg, size_t n)
{
	struct kdc_coap_wire m;
	size_t tkl = msg[0] & 0x0f;

	for (size_t k = 0; k < n; k++) {
		uint8_t *c = exact_copy(msg, k);
		kdc_err r = kdc_coap_wire_parse(c, k, &m);

		assert_true(m.token_len <= 8);
		if (k < 4) {
			assert_int_equal(r, KDC_ERR_TRUNCATED);
			assert_false(kdc_coap_wire_head_ok(&m));
		} else if (k < 4 + tkl) {
			assert_int_equal(r, KDC_ERR_TRUNCATED);
			assert_true(kdc_coap_wire_head_ok(&m));
			assert_int_equal(m.mid, msg[2] << 8 | msg[3]);
			assert_int_equal(m.token_len, 0);
		} else if (r == KDC_OK) {
			assert_rewrites(&m, c, k);
		} else {
			assert_int_equal(r, KDC_ERR_MALFORMED);
			assert_int_equal(m.nopt, 0);
			assert_null(m.payload);
		}
		free(c);
	}
}

/* ---- known bytes ---------------------------------------------------- */

static void
test_appendix_a(void **state)
{
	/* RFC 7252 Appendix A, Figure 16: CON GET /temperature, mid
	 * 0x7d34, no token; its piggybacked answer ACK 2.05 "22.3 C". */
	static const uint8_t req[] = { 0x40, 0x01, 0x7d, 0x34, 0xbb, 't', 'e',
	    'm', 'p', 'e', 'r', 'a', 't', 'u', 'r', 'e' };
	static const uint8_t ack[] = { 0x60, 0x45, 0x7d, 0x34, 0xff, '2', '2',
	    '.', '3', ' ', 'C' };
	struct kdc_coap_wire m;
	struct kdc_coap_wb w;
	uint8_t buf[64];
	size_t len, iter = 0;

	(void)state;
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_CON, GET, 0x7d34,
	    NULL, 0);
	kdc_coap_wb_path(&w, KDC_OPT_URI_PATH, "temperature");
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_OK);
	assert_int_equal(len, sizeof(req));
	assert_memory_equal(buf, req, sizeof(req));

	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_ACK, CONTENT, 0x7d34,
	    NULL, 0);
	kdc_coap_wb_payload(&w, "22.3 C", 6);
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_OK);
	assert_int_equal(len, sizeof(ack));
	assert_memory_equal(buf, ack, sizeof(ack));

	assert_int_equal(kdc_coap_wire_parse(req, sizeof(req), &m), KDC_OK);
	assert_true(kdc_coap_wire_head_ok(&m));
	assert_int_equal(m.type, KDC_COAP_CON);
	assert_int_equal(m.code, GET);
	assert_int_equal(m.mid, 0x7d34);
	assert_int_equal(m.token_len, 0);
	assert_int_equal(m.nopt, 1);
	assert_opt(kdc_coap_wire_opt(&m, KDC_OPT_URI_PATH, &iter),
	    KDC_OPT_URI_PATH, "temperature", 11);
	assert_null(kdc_coap_wire_opt(&m, KDC_OPT_URI_PATH, &iter));
	assert_null(m.payload);
	assert_int_equal(m.payload_len, 0);

	assert_int_equal(kdc_coap_wire_parse(ack, sizeof(ack), &m), KDC_OK);
	assert_int_equal(m.type, KDC_COAP_ACK);
	assert_int_equal(m.code, CONTENT);
	assert_int_equal(m.nopt, 0);
	assert_int_equal(m.payload_len, 6);
	assert_memory_equal(m.payload, "22.3 C", 6);
	check_truncations(req, sizeof(req));
	check_truncations(ack, sizeof(ack));
}

/*
 * §3.1's extended forms at their edges: numbers 12, 13, 268, 269, 65000
 * (deltas 12, 1, 255, 1, 64731) with lengths 12, 13, 268, 269, 0, then
 * each as the first option alone (delta = number).
 */
static void
test_ext_forms(void **state)
{
	static const struct { uint16_t num; size_t len; } o[] = {
		{ 12, 12 }, { 13, 13 }, { 268, 268 }, { 269, 269 },
		{ 65000, 0 },
	};
	/* The option heads, as RFC 7252 §3.1 spells them. */
	static const uint8_t heads[][5] = {
		{ 1, 0xcc },			/* 12, 12 */
		{ 2, 0x1d, 0x00 },		/* +1, 13 + 0 */
		{ 3, 0xdd, 0xf2, 0xff },	/* +255 = 13 + 242, 13 + 255 */
		{ 3, 0x1e, 0x00, 0x00 },	/* +1, 269 + 0 */
		{ 3, 0xe0, 0xfb, 0xce },	/* +64731 = 269 + 0xfbce, 0 */
	};
	static const uint16_t alone[] = { 12, 13, 268, 269, 65000, 65535 };
	static const uint8_t alone_head[][4] = {
		{ 1, 0xc1 }, { 2, 0xd1, 0x00 }, { 2, 0xd1, 0xff },
		{ 3, 0xe1, 0x00, 0x00 }, { 3, 0xe1, 0xfc, 0xdb },
		{ 3, 0xe1, 0xfe, 0xf2 },
	};
	uint8_t val[300], buf[1200];
	struct kdc_coap_wire m;
	struct kdc_coap_wb w;
	size_t len, off, iter;

	(void)state;
	for (size_t i = 0; i < sizeof(val); i++)
		val[i] = (uint8_t)(i * 7 + 1);
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_CON, GET, 1,
	    (const uint8_t *)"\xaa", 1);
	for (size_t i = 0; i < 5; i++)
		kdc_coap_wb_opt(&w, o[i].num, val, o[i].len);
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_OK);
	off = 5;
	for (size_t i = 0; i < 5; i++) {
		assert_memory_equal(buf + off, heads[i] + 1, heads[i][0]);
		off += heads[i][0];
		assert_memory_equal(buf + off, val, o[i].len);
		off += o[i].len;
	}
	assert_int_equal(off, len);

	assert_int_equal(parse_copy(buf, len, &m), KDC_OK);
	assert_int_equal(m.nopt, 5);
	assert_int_equal(kdc_coap_wire_parse(buf, len, &m), KDC_OK);
	for (size_t i = 0; i < 5; i++) {
		iter = 0;
		assert_opt(kdc_coap_wire_opt(&m, o[i].num, &iter), o[i].num,
		    val, o[i].len);
		assert_int_equal(iter, i + 1);
	}
	assert_rewrites(&m, buf, len);
	check_truncations(buf, len);

	for (size_t i = 0; i < sizeof(alone) / sizeof(alone[0]); i++) {
		kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_NON, GET, 2,
		    NULL, 0);
		kdc_coap_wb_opt(&w, alone[i], "z", 1);
		assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_OK);
		assert_int_equal(len, 4 + alone_head[i][0] + 1);
		assert_memory_equal(buf + 4, alone_head[i] + 1,
		    alone_head[i][0]);
		assert_int_equal(parse_copy(buf, len, &m), KDC_OK);
		assert_int_equal(m.nopt, 1);
		assert_int_equal(m.opt[0].num, alone[i]);
		assert_int_equal(m.opt[0].len, 1);
	}
}

/* ---- round trips ---------------------------------------------------- */

static void
test_roundtrip_get(void **state)
{
	static const uint8_t tok[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	const struct kdc_coap_opt *o;
	struct kdc_coap_block b;
	struct kdc_coap_wire m;
	struct kdc_coap_wb w;
	uint8_t buf[256], bv[3];
	uint32_t v;
	size_t len, iter;
	static const char *segs[] = { ".well-known", "est", "crts" };

	(void)state;
	/* GET /.well-known/est/crts?a=1&bb, Observe 0, Accept 287, Block2
	 * num 5 szx 6. */
	b.num = 5;
	b.more = false;
	b.szx = 6;
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_CON, GET, 0xbeef,
	    tok, sizeof(tok));
	kdc_coap_wb_opt_uint(&w, KDC_OPT_OBSERVE, 0);
	kdc_coap_wb_path(&w, KDC_OPT_URI_PATH, ".well-known/est/crts");
	kdc_coap_wb_opt(&w, KDC_OPT_URI_QUERY, "a=1", 3);
	kdc_coap_wb_opt(&w, KDC_OPT_URI_QUERY, "bb", 2);
	kdc_coap_wb_opt_uint(&w, KDC_OPT_ACCEPT, 287);
	kdc_coap_wb_opt(&w, KDC_OPT_BLOCK2, bv, kdc_coap_block_put(&b, bv));
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_OK);

	assert_int_equal(kdc_coap_wire_parse(buf, len, &m), KDC_OK);
	assert_int_equal(m.type, KDC_COAP_CON);
	assert_int_equal(m.code, GET);
	assert_int_equal(m.mid, 0xbeef);
	assert_int_equal(m.token_len, 8);
	assert_memory_equal(m.token, tok, 8);
	assert_int_equal(m.nopt, 8);
	assert_null(m.payload);
	iter = 0;
	o = kdc_coap_wire_opt(&m, KDC_OPT_OBSERVE, &iter);
	assert_opt(o, KDC_OPT_OBSERVE, NULL, 0);
	assert_int_equal(kdc_coap_opt_uint(o, &v), KDC_OK);
	assert_int_equal(v, 0);
	iter = 0;
	for (size_t i = 0; i < 3; i++)
		assert_opt(kdc_coap_wire_opt(&m, KDC_OPT_URI_PATH, &iter),
		    KDC_OPT_URI_PATH, segs[i], strlen(segs[i]));
	assert_null(kdc_coap_wire_opt(&m, KDC_OPT_URI_PATH, &iter));
	assert_int_equal(iter, m.nopt);
	iter = 0;
	assert_opt(kdc_coap_wire_opt(&m, KDC_OPT_URI_QUERY, &iter),
	    KDC_OPT_URI_QUERY, "a=1", 3);
	assert_opt(kdc_coap_wire_opt(&m, KDC_OPT_URI_QUERY, &iter),
	    KDC_OPT_URI_QUERY, "bb", 2);
	iter = 0;
	assert_int_equal(kdc_coap_opt_uint(kdc_coap_wire_opt(&m,
	    KDC_OPT_ACCEPT, &iter), &v), KDC_OK);
	assert_int_equal(v, 287);
	iter = 0;
	o = kdc_coap_wire_opt(&m, KDC_OPT_BLOCK2, &iter);
	assert_non_null(o);
	assert_int_equal(o->len, 1);	/* 5 << 4 | 6 = 0x56 */
	assert_int_equal(o->val[0], 0x56);
	memset(&b, 0xff, sizeof(b));
	assert_int_equal(kdc_coap_block_get(o, &b), KDC_OK);
	assert_int_equal(b.num, 5);
	assert_false(b.more);
	assert_int_equal(b.szx, 6);
	iter = 0;
	assert_null(kdc_coap_wire_opt(&m, KDC_OPT_BLOCK1, &iter));
	assert_null(kdc_coap_wire_opt(&m, KDC_OPT_CONTENT_FORMAT, &iter));
	assert_rewrites(&m, buf, len);
	check_truncations(buf, len);
}

static void
test_roundtrip_post(void **state)
{
	static const uint8_t tok[4] = { 0xde, 0xad, 0xbe, 0xef };
	uint8_t body[1024], buf[KDC_COAP_DGRAM_MAX], bv[3];
	const struct kdc_coap_opt *o;
	struct kdc_coap_block b;
	struct kdc_coap_wire m;
	struct kdc_coap_wb w;
	uint32_t v;
	size_t len, iter;

	(void)state;
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i ^ 0x5a);
	/* POST /.well-known/est/sen, Content-Format 286, Block1 num 2 more
	 * szx 6, Size1 4 GiB - 1 (the largest a uint option carries). */
	b.num = 2;
	b.more = true;
	b.szx = 6;
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_CON, POST, 7, tok, 4);
	kdc_coap_wb_path(&w, KDC_OPT_URI_PATH, ".well-known/est/sen");
	kdc_coap_wb_opt_uint(&w, KDC_OPT_CONTENT_FORMAT, 286);
	kdc_coap_wb_opt(&w, KDC_OPT_BLOCK1, bv, kdc_coap_block_put(&b, bv));
	kdc_coap_wb_opt_uint(&w, KDC_OPT_SIZE1, 0xffffffffu);
	kdc_coap_wb_payload(&w, body, sizeof(body));
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_OK);
	assert_true(len <= KDC_COAP_DGRAM_MAX);

	assert_int_equal(kdc_coap_wire_parse(buf, len, &m), KDC_OK);
	assert_int_equal(m.code, POST);
	assert_int_equal(m.nopt, 6);
	assert_int_equal(m.payload_len, sizeof(body));
	assert_memory_equal(m.payload, body, sizeof(body));
	iter = 0;
	o = kdc_coap_wire_opt(&m, KDC_OPT_SIZE1, &iter);
	assert_non_null(o);
	assert_int_equal(o->len, 4);
	assert_int_equal(kdc_coap_opt_uint(o, &v), KDC_OK);
	assert_int_equal(v, 0xffffffffu);
	iter = 0;
	o = kdc_coap_wire_opt(&m, KDC_OPT_CONTENT_FORMAT, &iter);
	assert_int_equal(kdc_coap_opt_uint(o, &v), KDC_OK);
	assert_int_equal(v, 286);
	assert_int_equal(o->len, 2);
	iter = 0;
	o = kdc_coap_wire_opt(&m, KDC_OPT_BLOCK1, &iter);
	assert_int_equal(kdc_coap_block_get(o, &b), KDC_OK);
	assert_int_equal(b.num, 2);
	assert_true(b.more);
	assert_int_equal(b.szx, 6);
	assert_rewrites(&m, buf, len);
	check_truncations(buf, len);

	/* Its answer: ACK 2.04, Block1 echoed, and a 2.05 Block2 answer
	 * with Observe 2^24 - 1 (3 bytes), Size2 and a payload. */
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_ACK, CHANGED, 7,
	    tok, 4);
	kdc_coap_wb_opt(&w, KDC_OPT_BLOCK1, bv, kdc_coap_block_put(&b, bv));
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_OK);
	assert_int_equal(kdc_coap_wire_parse(buf, len, &m), KDC_OK);
	assert_int_equal(m.type, KDC_COAP_ACK);
	assert_int_equal(m.nopt, 1);
	check_truncations(buf, len);

	b.num = 0;
	b.more = true;
	b.szx = 2;
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_NON, CONTENT, 8,
	    tok, 2);
	kdc_coap_wb_opt_uint(&w, KDC_OPT_OBSERVE, 0xffffff);
	kdc_coap_wb_opt_uint(&w, KDC_OPT_CONTENT_FORMAT, 60);
	kdc_coap_wb_opt(&w, KDC_OPT_BLOCK2, bv, kdc_coap_block_put(&b, bv));
	kdc_coap_wb_opt_uint(&w, KDC_OPT_SIZE2, 1000);
	kdc_coap_wb_payload(&w, body, 64);
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_OK);
	assert_int_equal(kdc_coap_wire_parse(buf, len, &m), KDC_OK);
	assert_int_equal(m.type, KDC_COAP_NON);
	assert_int_equal(m.token_len, 2);
	iter = 0;
	o = kdc_coap_wire_opt(&m, KDC_OPT_OBSERVE, &iter);
	assert_int_equal(o->len, 3);
	assert_int_equal(kdc_coap_opt_uint(o, &v), KDC_OK);
	assert_int_equal(v, 0xffffff);
	iter = 0;
	o = kdc_coap_wire_opt(&m, KDC_OPT_BLOCK2, &iter);
	assert_int_equal(kdc_coap_block_get(o, &b), KDC_OK);
	assert_int_equal(b.num, 0);
	assert_true(b.more);
	assert_int_equal(b.szx, 2);
	iter = 0;
	o = kdc_coap_wire_opt(&m, KDC_OPT_SIZE2, &iter);
	assert_int_equal(kdc_coap_opt_uint(o, &v), KDC_OK);
	assert_int_equal(v, 1000);
	assert_int_equal(m.payload_len, 64);
	assert_rewrites(&m, buf, len);
	check_truncations(buf, len);
}

/* ---- refusals ------------------------------------------------------- */

struct bad {
	const char	*what;
	uint8_t		 b[16];
	size_t		 n;
	kdc_err		 want;
	bool		 head_ok;
};

static void
test_malformed(void **state)
{
	static const struct bad bad[] = {
		{ "version 0", { 0x00, 1, 0, 1 }, 4, KDC_ERR_MALFORMED,
		    false },
		{ "version 2", { 0x80, 1, 0, 1 }, 4, KDC_ERR_MALFORMED,
		    false },
		{ "version 3", { 0xc0, 1, 0, 1 }, 4, KDC_ERR_MALFORMED,
		    false },
		{ "tkl 9", { 0x49, 1, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9 }, 13,
		    KDC_ERR_MALFORMED, true },
		{ "tkl 15", { 0x4f, 1, 0, 1 }, 4, KDC_ERR_MALFORMED, true },
		{ "delta nibble 15", { 0x40, 1, 0, 1, 0xf0 }, 5,
		    KDC_ERR_MALFORMED, true },
		{ "delta nibble 15 len 1", { 0x40, 1, 0, 1, 0xf1, 'x' }, 6,
		    KDC_ERR_MALFORMED, true },
		{ "length nibble 15", { 0x40, 1, 0, 1, 0xbf, 'x' }, 6,
		    KDC_ERR_MALFORMED, true },
		{ "length nibble 15 delta 0", { 0x40, 1, 0, 1, 0x0f }, 5,
		    KDC_ERR_MALFORMED, true },
		{ "value past end", { 0x40, 1, 0, 1, 0xb3, 'a', 'b' }, 7,
		    KDC_ERR_MALFORMED, true },
		{ "delta ext 13 cut", { 0x40, 1, 0, 1, 0xd0 }, 5,
		    KDC_ERR_MALFORMED, true },
		{ "delta ext 14 cut", { 0x40, 1, 0, 1, 0xe0, 0x00 }, 6,
		    KDC_ERR_MALFORMED, true },
		{ "length ext 13 cut", { 0x40, 1, 0, 1, 0xbd }, 5,
		    KDC_ERR_MALFORMED, true },
		{ "length ext 14 cut", { 0x40, 1, 0, 1, 0xbe, 0x01 }, 6,
		    KDC_ERR_MALFORMED, true },
		{ "length ext past end", { 0x40, 1, 0, 1, 0xbd, 0x00, 'a' },
		    7, KDC_ERR_MALFORMED, true },
		{ "number 65804", { 0x40, 1, 0, 1, 0xe0, 0xff, 0xff }, 7,
		    KDC_ERR_MALFORMED, true },
		{ "number 65000 + 536", { 0x40, 1, 0, 1, 0xe0, 0xfc, 0xdb,
		    0xe0, 0x01, 0x0b }, 10, KDC_ERR_MALFORMED, true },
		{ "number 65000 + 535", { 0x40, 1, 0, 1, 0xe0, 0xfc, 0xdb,
		    0xe0, 0x01, 0x0a }, 10, KDC_OK, true },
		{ "marker, no payload", { 0x40, 1, 0, 1, 0xff }, 5,
		    KDC_ERR_MALFORMED, true },
		{ "option, marker, no payload", { 0x40, 1, 0, 1, 0xb1, 'a',
		    0xff }, 7, KDC_ERR_MALFORMED, true },
		{ "empty with token", { 0x41, 0, 0, 1, 0xaa }, 5,
		    KDC_ERR_MALFORMED, true },
		{ "empty with tkl, no token", { 0x61, 0, 0, 1 }, 4,
		    KDC_ERR_MALFORMED, true },
		{ "empty with option", { 0x60, 0, 0, 1, 0xb1, 'a' }, 6,
		    KDC_ERR_MALFORMED, true },
		{ "empty with payload", { 0x70, 0, 0, 1, 0xff, 'a' }, 6,
		    KDC_ERR_MALFORMED, true },
		{ "empty 5 bytes", { 0x40, 0, 0, 1, 0x00 }, 5,
		    KDC_ERR_MALFORMED, true },
		{ "3 bytes", { 0x40, 1, 0 }, 3, KDC_ERR_TRUNCATED, false },
		{ "nothing", { 0 }, 0, KDC_ERR_TRUNCATED, false },
		{ "token cut", { 0x48, 1, 0, 1, 1, 2, 3, 4, 5, 6, 7 }, 11,
		    KDC_ERR_TRUNCATED, true },
	};
	struct kdc_coap_wire m;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kdc_err r;

		memset(&m, 0xa5, sizeof(m));
		r = parse_copy(bad[i].b, bad[i].n, &m);
		if (r != bad[i].want || kdc_coap_wire_head_ok(&m) !=
		    bad[i].head_ok)
			fail_msg("%s: %s (head_ok %d)", bad[i].what,
			    kdc_err_name(r), kdc_coap_wire_head_ok(&m));
		if (r == KDC_OK) {	/* the edge next to a refusal */
			assert_int_equal(m.nopt, 2);
			assert_int_equal(m.opt[1].num, UINT16_MAX);
			continue;
		}
		assert_int_equal(m.nopt, 0);
		assert_null(m.payload);
		assert_int_equal(m.payload_len, 0);
		assert_int_equal(m.token_len, 0);
		if (bad[i].head_ok) {
			/* What an RST needs. */
			assert_int_equal(m.type, bad[i].b[0] >> 4 & 3);
			assert_int_equal(m.code, bad[i].b[1]);
			assert_int_equal(m.mid, 1);
		}
	}
	assert_int_equal(kdc_coap_wire_parse(NULL, 0, &m), KDC_ERR_TRUNCATED);
}

static void
test_empty_messages(void **state)
{
	static const uint8_t ack[] = { 0x60, 0, 0x12, 0x34 };
	static const uint8_t rst[] = { 0x70, 0, 0x12, 0x35 };
	static const uint8_t ping[] = { 0x40, 0, 0x12, 0x36 };
	struct kdc_coap_wire m;
	struct kdc_coap_wb w;
	uint8_t buf[16];
	size_t len;

	(void)state;
	assert_int_equal(parse_copy(ack, 4, &m), KDC_OK);
	assert_int_equal(m.type, KDC_COAP_ACK);
	assert_int_equal(m.mid, 0x1234);
	assert_int_equal(parse_copy(rst, 4, &m), KDC_OK);
	assert_int_equal(m.type, KDC_COAP_RST);
	assert_int_equal(parse_copy(ping, 4, &m), KDC_OK);
	assert_int_equal(m.type, KDC_COAP_CON);
	assert_int_equal(m.code, 0);
	assert_int_equal(m.nopt, 0);
	assert_null(m.payload);

	/* The writer: an empty RST is its header; one carrying anything is
	 * refused at the end. */
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_RST, 0, 0x1235,
	    NULL, 0);
	kdc_coap_wb_payload(&w, NULL, 0);
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_OK);
	assert_int_equal(len, 4);
	assert_memory_equal(buf, rst, 4);
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_ACK, 0, 1,
	    (const uint8_t *)"t", 1);
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_ERR_INVALID_ARG);
	assert_int_equal(len, 0);
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_ACK, 0, 1, NULL, 0);
	kdc_coap_wb_opt(&w, KDC_OPT_URI_PATH, "a", 1);
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_ERR_INVALID_ARG);
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_ACK, 0, 1, NULL, 0);
	kdc_coap_wb_payload(&w, "a", 1);
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_ERR_INVALID_ARG);
}

/* KDC_COAP_WIRE_OPTS options parse; one more is TOO_LARGE with the
 * token kept (for a 4.00); one more and a malformed tail is MALFORMED. */
static void
test_too_many_options(void **state)
{
	uint8_t buf[256];
	struct kdc_coap_wire m;
	struct kdc_coap_wb w;
	size_t len, iter = 0, k = 0;

	(void)state;
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_CON, GET, 9,
	    (const uint8_t *)"\x01\x02\x03", 3);
	for (size_t i = 0; i < KDC_COAP_WIRE_OPTS; i++)
		kdc_coap_wb_opt(&w, KDC_OPT_URI_PATH, "s", 1);
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_OK);
	assert_int_equal(parse_copy(buf, len, &m), KDC_OK);
	assert_int_equal(m.nopt, KDC_COAP_WIRE_OPTS);
	assert_int_equal(kdc_coap_wire_parse(buf, len, &m), KDC_OK);
	while (kdc_coap_wire_opt(&m, KDC_OPT_URI_PATH, &iter) != NULL)
		k++;
	assert_int_equal(k, KDC_COAP_WIRE_OPTS);

	buf[len] = 0x00;	/* one more: option 11 again, empty */
	assert_int_equal(parse_copy(buf, len + 1, &m), KDC_ERR_TOO_LARGE);
	assert_true(kdc_coap_wire_head_ok(&m));
	assert_int_equal(m.mid, 9);
	assert_int_equal(m.token_len, 3);
	assert_memory_equal(m.token, "\x01\x02\x03", 3);
	assert_int_equal(m.nopt, 0);
	assert_null(m.payload);

	buf[len + 1] = 0xff;	/* and a payload: still TOO_LARGE */
	buf[len + 2] = 'p';
	assert_int_equal(parse_copy(buf, len + 3, &m), KDC_ERR_TOO_LARGE);
	buf[len + 1] = 0xf0;	/* a bad nibble after them: MALFORMED */
	assert_int_equal(parse_copy(buf, len + 2, &m), KDC_ERR_MALFORMED);
}

/* ---- option values -------------------------------------------------- */

static void
test_opt_uint(void **state)
{
	static const uint8_t b[] = { 0x00, 0x01, 0x02, 0x03, 0x04 };
	struct kdc_coap_opt o = { KDC_OPT_SIZE1, 0, b };
	uint32_t v;

	(void)state;
	assert_int_equal(kdc_coap_opt_uint(&o, &v), KDC_OK);
	assert_int_equal(v, 0);
	o.len = 4;	/* a leading zero byte is accepted (§3.2) */
	assert_int_equal(kdc_coap_opt_uint(&o, &v), KDC_OK);
	assert_int_equal(v, 0x010203);
	o.val = b + 1;
	assert_int_equal(kdc_coap_opt_uint(&o, &v), KDC_OK);
	assert_int_equal(v, 0x01020304);
	o.val = b;
	o.len = 5;
	v = 7;
	assert_int_equal(kdc_coap_opt_uint(&o, &v), KDC_ERR_MALFORMED);
	assert_int_equal(v, 0);
	o.num = KDC_OPT_OBSERVE;	/* RFC 7641 §2: 0-3 bytes */
	o.len = 3;
	assert_int_equal(kdc_coap_opt_uint(&o, &v), KDC_OK);
	assert_int_equal(v, 0x0102);
	o.len = 4;
	assert_int_equal(kdc_coap_opt_uint(&o, &v), KDC_ERR_MALFORMED);
}

static void
test_unknown_critical(void **state)
{
	static const uint16_t known[] = { 1, 3, 5, 7, 11, 15, 17, 23, 27 };
	static const uint16_t unknown[] = { 9, 13, 19, 21, 25, 29, 35, 39,
	    61, 2049, 65535 };
	static const uint16_t elective[] = { 0, 4, 6, 8, 12, 14, 20, 28, 60,
	    258, 65534 };

	(void)state;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		assert_false(kdc_coap_opt_unknown_critical(known[i]));
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		assert_true(kdc_coap_opt_unknown_critical(unknown[i]));
	for (size_t i = 0; i < sizeof(elective) / sizeof(elective[0]); i++)
		assert_false(kdc_coap_opt_unknown_critical(elective[i]));
	/* Every number: critical (odd) and not one of the nine. */
	for (uint32_t n = 0; n <= UINT16_MAX; n++) {
		bool k = false;

		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			k = k || known[i] == n;
		assert_int_equal(kdc_coap_opt_unknown_critical((uint16_t)n),
		    (n & 1) && !k);
	}
}

static void
test_block(void **state)
{
	static const struct {
		uint32_t num; bool more; uint8_t szx;
		size_t len; uint8_t v[3];
	} vec[] = {
		{ 0, false, 0, 0, { 0 } },
		{ 0, true, 6, 1, { 0x0e } },
		{ 1, false, 0, 1, { 0x10 } },
		{ 15, true, 2, 1, { 0xfa } },
		{ 16, false, 6, 2, { 0x01, 0x06 } },
		{ 4095, true, 5, 2, { 0xff, 0xfd } },
		{ 4096, false, 4, 3, { 0x01, 0x00, 0x04 } },
		{ (1u << 20) - 1, true, 6, 3, { 0xff, 0xff, 0xfe } },
	};
	struct kdc_coap_block b, g;
	struct kdc_coap_opt o = { KDC_OPT_BLOCK1, 0, NULL };
	uint8_t v[3], bad[4] = { 0, 0, 0, 0x10 };

	(void)state;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		b.num = vec[i].num;
		b.more = vec[i].more;
		b.szx = vec[i].szx;
		assert_int_equal(kdc_coap_block_put(&b, v), vec[i].len);
		assert_memory_equal(v, vec[i].v, vec[i].len);
		o.val = vec[i].v;
		o.len = (uint16_t)vec[i].len;
		assert_int_equal(kdc_coap_block_get(&o, &g), KDC_OK);
		assert_int_equal(g.num, vec[i].num);
		assert_int_equal(g.more, vec[i].more);
		assert_int_equal(g.szx, vec[i].szx);
	}
	/* A leading zero is still a valid value. */
	o.val = (const uint8_t *)"\x00\x00\x16";
	o.len = 3;
	assert_int_equal(kdc_coap_block_get(&o, &g), KDC_OK);
	assert_int_equal(g.num, 1);
	assert_int_equal(g.szx, 6);
	/* SZX 7 (BERT) and 4 bytes are refused, *b zeroed. */
	o.val = (const uint8_t *)"\x17";
	o.len = 1;
	assert_int_equal(kdc_coap_block_get(&o, &g), KDC_ERR_MALFORMED);
	assert_int_equal(g.num, 0);
	assert_int_equal(g.szx, 0);
	o.val = (const uint8_t *)"\x0f";
	assert_int_equal(kdc_coap_block_get(&o, &g), KDC_ERR_MALFORMED);
	o.val = bad;
	o.len = 4;
	assert_int_equal(kdc_coap_block_get(&o, &g), KDC_ERR_MALFORMED);
}

/* ---- writer errors -------------------------------------------------- */

/* The POST of test_roundtrip_post, smaller body, into cap bytes. */
static kdc_err
write_post(uint8_t *buf, size_t cap, size_t *len)
{
	struct kdc_coap_wb w;

	kdc_coap_wb_init(&w, buf, cap, KDC_COAP_CON, POST, 7,
	    (const uint8_t *)"\xde\xad\xbe\xef", 4);
	kdc_coap_wb_path(&w, KDC_OPT_URI_PATH, ".well-known/est/sen");
	kdc_coap_wb_opt_uint(&w, KDC_OPT_CONTENT_FORMAT, 286);
	kdc_coap_wb_opt(&w, KDC_OPT_URI_QUERY + 250, "0123456789abcdef",
	    16);	/* 265: the one-byte delta extension */
	kdc_coap_wb_opt_uint(&w, 1000, 0x0e);	/* two-byte extension */
	kdc_coap_wb_payload(&w, "body", 4);
	return kdc_coap_wb_end(&w, len);
}

static void
test_writer_sizes(void **state)
{
	uint8_t full[256];
	size_t n, len;

	(void)state;
	assert_int_equal(write_post(full, sizeof(full), &n), KDC_OK);
	for (size_t cap = 0; cap < n; cap++) {
		uint8_t *b = malloc(cap > 0 ? cap : 1);

		assert_non_null(b);
		len = 99;
		assert_int_equal(write_post(cap > 0 ? b : NULL, cap, &len),
		    KDC_ERR_TOO_LARGE);
		assert_int_equal(len, 0);
		free(b);
	}
	{
		uint8_t *b = malloc(n);

		assert_non_null(b);
		assert_int_equal(write_post(b, n, &len), KDC_OK);
		assert_int_equal(len, n);
		assert_memory_equal(b, full, n);
		free(b);
	}
}

static void
test_writer_errors(void **state)
{
	char seg[300];
	uint8_t buf[1200];
	struct kdc_coap_wb w;
	size_t len;

	(void)state;
	/* Descending order: refused, sticky. */
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_CON, GET, 1, NULL, 0);
	kdc_coap_wb_opt(&w, KDC_OPT_URI_QUERY, "a", 1);
	kdc_coap_wb_opt(&w, KDC_OPT_URI_PATH, "b", 1);
	kdc_coap_wb_opt(&w, KDC_OPT_URI_QUERY, "c", 1);
	kdc_coap_wb_payload(&w, "x", 1);
	len = 5;
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_ERR_INVALID_ARG);
	assert_int_equal(len, 0);
	/* Equal numbers repeat. */
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_CON, GET, 1, NULL, 0);
	kdc_coap_wb_opt(&w, KDC_OPT_URI_QUERY, "a", 1);
	kdc_coap_wb_opt(&w, KDC_OPT_URI_QUERY, "b", 1);
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_OK);
	assert_int_equal(len, 9);	/* d1 02 a, 01 b */
	/* Token over 8, type over 3. */
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_CON, GET, 1,
	    (const uint8_t *)"123456789", 9);
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_ERR_INVALID_ARG);
	kdc_coap_wb_init(&w, buf, sizeof(buf), 4, GET, 1, NULL, 0);
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_ERR_INVALID_ARG);
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_CON, GET, 1,
	    (const uint8_t *)"12345678", 8);
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_OK);
	assert_int_equal(len, 12);
	assert_int_equal(buf[0], 0x48);
	/* Option after the payload, payload twice, a value over 65535. */
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_CON, GET, 1, NULL, 0);
	kdc_coap_wb_payload(&w, "x", 1);
	kdc_coap_wb_opt(&w, KDC_OPT_URI_QUERY, "a", 1);
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_ERR_INVALID_ARG);
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_CON, GET, 1, NULL, 0);
	kdc_coap_wb_payload(&w, "x", 1);
	kdc_coap_wb_payload(&w, "y", 1);
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_ERR_INVALID_ARG);
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_CON, GET, 1, NULL, 0);
	kdc_coap_wb_opt(&w, KDC_OPT_URI_QUERY, buf, 65536);
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_ERR_INVALID_ARG);

	/* Paths: "" adds nothing; empty segments and 256 bytes refused. */
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_CON, GET, 1, NULL, 0);
	kdc_coap_wb_path(&w, KDC_OPT_URI_PATH, "");
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_OK);
	assert_int_equal(len, 4);
	static const char *badp[] = { "a//b", "/a", "a/", "/", "//", NULL };
	for (size_t i = 0; badp[i] != NULL; i++) {
		kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_CON, GET, 1,
		    NULL, 0);
		kdc_coap_wb_path(&w, KDC_OPT_URI_PATH, badp[i]);
		if (kdc_coap_wb_end(&w, &len) != KDC_ERR_INVALID_ARG)
			fail_msg("path \"%s\" accepted", badp[i]);
	}
	memset(seg, 'a', sizeof(seg));
	seg[255] = '\0';	/* 255 bytes: the most a segment holds */
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_CON, GET, 1, NULL, 0);
	kdc_coap_wb_path(&w, KDC_OPT_LOCATION_PATH, seg);
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_OK);
	assert_int_equal(len, 4 + 2 + 255);
	seg[255] = 'a';
	seg[256] = '\0';
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_CON, GET, 1, NULL, 0);
	kdc_coap_wb_path(&w, KDC_OPT_LOCATION_PATH, "rd");
	kdc_coap_wb_path(&w, KDC_OPT_LOCATION_PATH, seg);
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_ERR_INVALID_ARG);
	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_CON, GET, 1, NULL, 0);
	kdc_coap_wb_path(&w, KDC_OPT_LOCATION_PATH, NULL);
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_ERR_INVALID_ARG);

	/* Too small is TOO_LARGE and stays so: a later small option does
	 * not slip in. */
	kdc_coap_wb_init(&w, buf, 10, KDC_COAP_CON, GET, 1, NULL, 0);
	kdc_coap_wb_opt(&w, KDC_OPT_URI_PATH, "0123456", 7);
	kdc_coap_wb_opt(&w, KDC_OPT_URI_QUERY, "", 0);
	assert_int_equal(kdc_coap_wb_end(&w, &len), KDC_ERR_TOO_LARGE);
	assert_int_equal(len, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_appendix_a),
		cmocka_unit_test(test_ext_forms),
		cmocka_unit_test(test_roundtrip_get),
		cmocka_unit_test(test_roundtrip_post),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_empty_messages),
		cmocka_unit_test(test_too_many_options),
		cmocka_unit_test(test_opt_uint),
		cmocka_unit_test(test_unknown_critical),
		cmocka_unit_test(test_block),
		cmocka_unit_test(test_writer_sizes),
		cmocka_unit_test(test_writer_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
