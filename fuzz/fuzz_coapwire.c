/*
 * fuzz_coapwire.c: a datagram's plaintext as the engine reads it
 * (kdc_coap_wire_parse(), src/coap/wire.h). A refused input leaves no
 * option or payload behind and a token of at most 8 bytes. A parsed one
 * must point only inside the input, in ascending option order, and
 * survive a round trip: written again with the writer into a buffer of
 * exactly its size it comes out byte for byte the same (the format has
 * one encoding per message: each extended form covers its own range),
 * one byte less is TOO_LARGE, and parsed again it agrees field by field
 * (type, code, mid, token, every option's number, length and bytes,
 * payload). Seeds: fuzz/corpus/coapwire/ (fuzz/seeds.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coap/wire.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)	do { if (!(c)) abort(); } while (0)

static int
inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size)
{
	return n == 0 || (p >= data && n <= size &&
	    (size_t)(p - data) <= size - n);
}

static void
write_again(const struct kdc_coap_wire *m, uint8_t *out, size_t cap,
    size_t *len, kdc_err *r)
{
	struct kdc_coap_wb w;

	kdc_coap_wb_init(&w, out, cap, m->type, m->code, m->mid, m->token,
	    m->token_len);
	for (size_t i = 0; i < m->nopt; i++)
		kdc_coap_wb_opt(&w, m->opt[i].num, m->opt[i].val,
		    m->opt[i].len);
	kdc_coap_wb_payload(&w, m->payload, m->payload_len);
	*r = kdc_coap_wb_end(&w, len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kdc_coap_wire m, m2;
	struct kdc_coap_block blk;
	uint8_t *out;
	uint32_t v;
	size_t len, iter;
	kdc_err r;

	r = kdc_coap_wire_parse(data, size, &m);
	CHECK(m.token_len <= 8);
	if (r != KDC_OK) {
		CHECK(r == KDC_ERR_MALFORMED || r == KDC_ERR_TRUNCATED ||
		    r == KDC_ERR_TOO_LARGE);
		CHECK(m.nopt == 0 && m.payload == NULL && m.payload_len == 0);
		CHECK(kdc_coap_wire_head_ok(&m) ==
		    (size >= 4 && data[0] >> 6 == 1));
		if (r == KDC_ERR_TOO_LARGE)
			CHECK(m.token_len == (data[0] & 0x0f));
		return 0;
	}
	CHECK(kdc_coap_wire_head_ok(&m));
	CHECK(m.nopt <= KDC_COAP_WIRE_OPTS);
	CHECK(m.payload == NULL ? m.payload_len == 0 : m.payload_len > 0);
	CHECK(inside(m.payload, m.payload_len, data, size));
	for (size_t i = 0; i < m.nopt; i++) {
		CHECK(inside(m.opt[i].val, m.opt[i].len, data, size));
		CHECK(i == 0 || m.opt[i - 1].num <= m.opt[i].num);
		/* The value readers on anything, and find what is there. */
		(void)kdc_coap_opt_uint(&m.opt[i], &v);
		if (kdc_coap_block_get(&m.opt[i], &blk) == KDC_OK)
			CHECK(blk.szx < 7 && blk.num < (1u << 20));
		iter = 0;
		CHECK(kdc_coap_wire_opt(&m, m.opt[i].num, &iter) != NULL);
		CHECK(iter <= i + 1);
	}

	/* Exactly its size: the same bytes. */
	if ((out = malloc(size)) == NULL)
		return 0;
	write_again(&m, out, size, &len, &r);
	CHECK(r == KDC_OK && len == size && memcmp(out, data, size) == 0);
	CHECK(kdc_coap_wire_parse(out, len, &m2) == KDC_OK);
	CHECK(m2.type == m.type && m2.code == m.code && m2.mid == m.mid);
	CHECK(m2.token_len == m.token_len &&
	    memcmp(m2.token, m.token, m.token_len) == 0);
	CHECK(m2.nopt == m.nopt);
	for (size_t i = 0; i < m.nopt; i++)
		CHECK(m2.opt[i].num == m.opt[i].num &&
		    m2.opt[i].len == m.opt[i].len &&
		    (m.opt[i].len == 0 || memcmp(m2.opt[i].val,
		    m.opt[i].val, m.opt[i].len) == 0));
	CHECK(m2.payload_len == m.payload_len && (m.payload_len == 0 ||
	    memcmp(m2.payload, m.payload, m.payload_len) == 0));
	/* One byte less: refused, nothing claimed written. */
	write_again(&m, out, size - 1, &len, &r);
	CHECK(r == KDC_ERR_TOO_LARGE && len == 0);
	free(out);
	return 0;
}
