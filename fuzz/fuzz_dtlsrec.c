/*
 * fuzz_dtlsrec.c: our DTLS 1.2 record layer (src/coap/record.c).
 * Input: byte 0 picks the cipher (1 + b % 6, enum kdc_rec_cipher); the
 * rest is used twice:
 * 1. as a datagram: kdc_rec_header() over its records, kdc_rec_open()
 *    of each with a fixed state (key 00 01 .. 1f, salt a0 a1 a2 a3,
 *    epoch 1, nothing seen yet); a record that opens must lie inside its
 *    frame, and a record that opened must not open again.
 * 2. as a script of 4-byte steps (seq hi, seq lo, plaintext length,
 *    flip): seal a plaintext at that write sequence number with a fresh
 *    state pair (same keys both ways), optionally flip one bit of the
 *    record (flip & 0x80: bit (flip & 0x7f) * 7 mod its bits), open it:
 *    the result must be what a model of the 64-record window of RFC 6347
 *    §4.1.2.6 says (flipped: refused, state unchanged), and an opened
 *    plaintext must be the one sealed.
 * Seeds: fuzz/corpus/dtlsrec/ (python3 fuzz/seeds.py dtlsrec: records
 * sealed by Python's cryptography, i.e. OpenSSL, with the fixed key).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coap/record.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STEPS	64	/* script steps per input */
#define DGRAM	8192

static void
fixed(struct kdc_rec *r, uint8_t cipher)
{
	memset(r, 0, sizeof(*r));
	r->cipher = cipher;
	r->epoch = 1;
	for (unsigned i = 0; i < sizeof(r->rd.key); i++)
		r->rd.key[i] = r->wr.key[i] = (uint8_t)i;
	for (unsigned i = 0; i < 4; i++)
		r->rd.salt[i] = r->wr.salt[i] = (uint8_t)(0xa0 + i);
}

static void
datagram(uint8_t cipher, const uint8_t *in, size_t len)
{
	static uint8_t buf[DGRAM], again[DGRAM];
	struct kdc_rec r;
	const uint8_t *pt;
	size_t off = 0, rl, pl;
	uint64_t seq;
	uint16_t ep;
	uint8_t type, t2;

	if (len > sizeof(buf))
		len = sizeof(buf);
	memcpy(buf, in, len);
	fixed(&r, cipher);
	while (off < len && kdc_rec_header(buf + off, len - off, &type, &ep,
	    &seq, &rl) == KDC_OK) {
		if (rl < KDC_REC_HDR || rl > len - off)
			abort();
		memcpy(again, buf + off, rl);
		if (kdc_rec_open(&r, buf + off, rl, &t2, &pt, &pl) == KDC_OK) {
			if (t2 != type || pt != buf + off + KDC_REC_HDR + 8 ||
			    pl + kdc_rec_overhead(&r) != rl || ep != 1)
				abort();
			if (kdc_rec_open(&r, again, rl, &t2, &pt, &pl) !=
			    KDC_ERR_REPLAY)
				abort();	/* opened twice */
		}
		off += rl;
	}
	kdc_rec_wipe(&r);
}

static bool
same(const struct kdc_rec *a, const struct kdc_rec *b)
{
	return a->cipher == b->cipher && a->epoch == b->epoch &&
	    a->rd.seq == b->rd.seq && a->wr.seq == b->wr.seq &&
	    memcmp(a->rd.key, b->rd.key, sizeof(a->rd.key)) == 0 &&
	    memcmp(a->rd.salt, b->rd.salt, sizeof(a->rd.salt)) == 0 &&
	    a->window == b->window && a->seen == b->seen;
}

/* The window model: every accepted number, the right edge. */
struct model {
	bool		 seen;
	uint64_t	 edge;
	uint8_t		 got[65536 / 8];
};

static bool
model_fresh(const struct model *m, uint64_t s)
{
	if (!m->seen || s > m->edge)
		return true;
	if (m->edge - s >= 64)
		return false;
	return (m->got[s / 8] & (1u << (s % 8))) == 0;
}

static void
model_mark(struct model *m, uint64_t s)
{
	m->got[s / 8] |= (uint8_t)(1u << (s % 8));
	if (!m->seen || s > m->edge)
		m->edge = s;
	m->seen = true;
}

static void
script(uint8_t cipher, const uint8_t *in, size_t len)
{
	static struct model m;
	static uint8_t rec[512], pt[256];
	struct kdc_rec w, r, before;
	const uint8_t *got;
	size_t n, gl;
	uint8_t type;
	kdc_err e;

	memset(&m, 0, sizeof(m));
	fixed(&w, cipher);
	fixed(&r, cipher);
	for (size_t i = 0; i + 4 <= len && i / 4 < STEPS; i += 4) {
		uint64_t seq = (uint64_t)in[i] << 8 | in[i + 1];
		size_t pl = in[i + 2];
		uint8_t flip = in[i + 3];

		for (size_t j = 0; j < pl; j++)
			pt[j] = (uint8_t)(in[(i + j) % len] ^ j);
		w.wr.seq = seq;
		if (kdc_rec_seal(&w, KDC_REC_APPDATA, pt, pl, rec, sizeof(rec),
		    &n) != KDC_OK || w.wr.seq != seq + 1 ||
		    n != pl + kdc_rec_overhead(&w))
			abort();
		if (flip & 0x80)
			rec[((flip & 0x7fu) * 7u % (n * 8)) / 8] ^=
			    (uint8_t)(1u << ((flip & 0x7fu) * 7u % 8));
		before = r;
		e = kdc_rec_open(&r, rec, n, &type, &got, &gl);
		if (flip & 0x80) {
			if (e == KDC_OK || !same(&before, &r))
				abort();	/* a flipped bit opened */
			continue;
		}
		if (!model_fresh(&m, seq)) {
			if (e != KDC_ERR_REPLAY)
				abort();
			continue;
		}
		if (e != KDC_OK || type != KDC_REC_APPDATA || gl != pl ||
		    memcmp(got, pt, pl) != 0)
			abort();	/* open(seal(x)) != x */
		model_mark(&m, seq);
		if (r.rd.seq != m.edge)
			abort();
	}
	kdc_rec_wipe(&w);
	kdc_rec_wipe(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t cipher;

	if (size < 1)
		return 0;
	cipher = (uint8_t)(1 + data[0] % 6);
	datagram(cipher, data + 1, size - 1);
	script(cipher, data + 1, size - 1);
	return 0;
}
