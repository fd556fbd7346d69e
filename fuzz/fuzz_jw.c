/*
 * fuzz_jw.c: our Just Works client handshake (src/coap/jw.h) and the
 * record layer's CBC-HMAC-SHA256 mode (record.h), on input that is the
 * server's. The input is used three ways:
 * 1. the pure parsers over all of it: kdc_jw_frag() over a run of
 *    fragments (each must lie inside the input), kdc_jw_parse_hvr(),
 *    kdc_jw_parse_sh(), kdc_jw_parse_ske();
 * 2. as datagrams (each a 2-byte big-endian length then its bytes) fed
 *    to a fresh handshake after its ClientHello: no flight of ours
 *    longer than its buffer; once failed, every later datagram is
 *    refused INVALID_ARG; never done (no input can know our ECDH
 *    secret, so no server Finished can verify);
 * 3. as one datagram of CBC records opened with a fixed state (MAC key
 *    40..5f, AES key 10..1f, epoch 1): a record that opens lies inside
 *    its frame and never opens twice; then a seal/flip/open round: a
 *    plaintext of the input's first byte's length sealed, one bit of the
 *    record flipped (chosen by the second byte), then opened: refused,
 *    state unchanged; unflipped: opened to the same plaintext.
 * Seeds: fuzz/corpus/jw/ (python3 fuzz/seeds.py jw).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coap/jw.h"
#include "coap/record.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DGRAM	4096

static void
parsers(const uint8_t *in, size_t len)
{
	struct kdc_jw_frag f;
	uint8_t c[KDC_JW_COOKIE_MAX], rnd[32], pt[KDC_JW_POINT];
	size_t off = 0, used, cl;
	bool ems;

	while (off < len && kdc_jw_frag(in + off, len - off, &f, &used) ==
	    KDC_OK) {
		if (used != 12 + (size_t)f.len || used > len - off ||
		    f.data != in + off + 12 || f.off + f.len > f.length)
			abort();
		off += used;
	}
	if (kdc_jw_parse_hvr(in, len, c, &cl) == KDC_OK &&
	    (cl == 0 || cl != len - 3))
		abort();
	(void)kdc_jw_parse_sh(in, len, rnd, &ems);
	if (kdc_jw_parse_ske(in, len, pt) == KDC_OK && (len != 69 ||
	    pt[0] != 4))
		abort();
}

static void
machine(const uint8_t *in, size_t len)
{
	static uint8_t d[DGRAM];
	uint8_t out[KDC_JW_OUT_MAX];
	struct kdc_jw *j;
	size_t off = 0, ol;
	bool done, failed = false;
	kdc_err e;

	if (kdc_jw_new(&j) != KDC_OK)
		return;
	if (kdc_jw_flight(j, out, sizeof(out), &ol) != KDC_OK || ol == 0 ||
	    ol > sizeof(out))
		abort();
	while (len - off >= 2) {
		size_t n = (size_t)in[off] << 8 | in[off + 1];

		off += 2;
		if (n > len - off)
			n = len - off;
		if (n > sizeof(d))
			n = sizeof(d);
		memcpy(d, in + off, n);
		off += n;
		e = kdc_jw_input(j, d, n, out, sizeof(out), &ol, &done);
		if (ol > sizeof(out) || done)
			abort();
		if (failed && e != KDC_ERR_INVALID_ARG)
			abort();
		if (e != KDC_OK)
			failed = true;
	}
	kdc_jw_free(j);
}

static void
fixed(struct kdc_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->cipher = KDC_REC_AES128_CBC_SHA256;
	r->epoch = 1;
	for (unsigned i = 0; i < 32; i++)
		r->rd.mac[i] = r->wr.mac[i] = (uint8_t)(0x40 + i);
	for (unsigned i = 0; i < 16; i++)
		r->rd.cbc_key[i] = r->wr.cbc_key[i] = (uint8_t)(0x10 + i);
}

static void
records(const uint8_t *in, size_t len)
{
	static uint8_t buf[DGRAM], again[DGRAM], rec[512], pt[256];
	struct kdc_rec r, before;
	const uint8_t *p;
	size_t off = 0, rl, pl, n;
	uint64_t seq;
	uint16_t ep;
	uint8_t type, t2;

	if (len > sizeof(buf))
		len = sizeof(buf);
	memcpy(buf, in, len);
	fixed(&r);
	while (off < len && kdc_rec_header(buf + off, len - off, &type, &ep,
	    &seq, &rl) == KDC_OK) {
		memcpy(again, buf + off, rl);
		if (kdc_rec_open(&r, buf + off, rl, &t2, &p, &pl) == KDC_OK) {
			if (t2 != type || p != buf + off + KDC_REC_HDR + 16 ||
			    pl + KDC_REC_HDR + 16 + 33 > rl || ep != 1)
				abort();
			if (kdc_rec_open(&r, again, rl, &t2, &p, &pl) !=
			    KDC_ERR_REPLAY)
				abort();
		}
		off += rl;
	}
	if (len < 2)
		return;
	pl = in[0];
	for (size_t i = 0; i < pl; i++)
		pt[i] = (uint8_t)(in[i % len] ^ i);
	fixed(&r);
	if (kdc_rec_seal(&r, KDC_REC_APPDATA, pt, pl, rec, sizeof(rec), &n) !=
	    KDC_OK || n > pl + kdc_rec_overhead(&r))
		abort();
	fixed(&r);
	before = r;
	if (in[1] & 0x80) {
		size_t bit = (size_t)(in[1] & 0x7f) * 13u % (n * 8);

		rec[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
		if (kdc_rec_open(&r, rec, n, &t2, &p, &pl) == KDC_OK ||
		    memcmp(&r, &before, sizeof(r)) != 0)
			abort();
	} else if (kdc_rec_open(&r, rec, n, &t2, &p, &n) != KDC_OK ||
	    n != in[0] || (n > 0 && memcmp(p, pt, n) != 0))
		abort();
	kdc_rec_wipe(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parsers(data, size);
	machine(data, size);
	records(data, size);
	return 0;
}
