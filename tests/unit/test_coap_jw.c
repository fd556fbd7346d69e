/*
 * test_coap_jw.c: our Just Works client handshake (src/coap/jw.h) and
 * the record layer's CBC-HMAC-SHA256 MAC-then-encrypt mode (record.h
 * KDC_REC_AES128_CBC_SHA256). The whole handshake against an
 * independent server is tests/integration/test_engine_jw.sh (jwpeer.py).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "coap/jw.h"
#include "coap/record.h"

static void
hex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* The state the CBC vector was made with: MAC key 40..5f, AES key
 * 10..1f (read side), epoch 1. */
static void
cbc_state(struct kdc_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->cipher = KDC_REC_AES128_CBC_SHA256;
	r->epoch = 1;
	for (unsigned i = 0; i < 32; i++)
		r->rd.mac[i] = r->wr.mac[i] = (uint8_t)(0x40 + i);
	for (unsigned i = 0; i < 16; i++)
		r->rd.cbc_key[i] = r->wr.cbc_key[i] = (uint8_t)(0x10 + i);
}

/*
 * Made independently by Python (hmac + python3-cryptography's AES-CBC,
 * i.e. OpenSSL) from RFC 5246 §6.2.3.2, IV a0..af, epoch 1, seq 5,
 * application data "hello, just works":
 *   mac = hmac.new(mk, b"\0\1" + (5).to_bytes(6,"big") + b"\x17\xfe\xfd"
 *         + len(pt).to_bytes(2,"big") + pt, sha256).digest()
 *   m = pt + mac; pad = 15 - len(m) % 16; m += bytes([pad]) * (pad + 1)
 *   rec = hdr + iv + AES-CBC(ek, iv).encrypt(m)
 */
#define CBC_VEC "17fefd00010000000000050050a0a1a2a3a4a5a6a7a8a9aaabacadaeaf" \
	"84efb2f2bc194c1ac382acce6d1a8035b76b649e6af6132425ad972881749972" \
	"5589b88985e34f1b5cd4a3b072a3a05ac9d2ae0ee1554d67798538282b256c1e"
#define CBC_VEC_LEN 93

static void
test_cbc_vector(void **state)
{
	struct kdc_rec r, r0;
	uint8_t rec[CBC_VEC_LEN], buf[CBC_VEC_LEN];
	const uint8_t *pt;
	size_t n;
	uint8_t type;

	(void)state;
	hex(CBC_VEC, rec, sizeof(rec));
	cbc_state(&r);
	memcpy(buf, rec, sizeof(buf));
	assert_int_equal(kdc_rec_open(&r, buf, sizeof(buf), &type, &pt, &n),
	    KDC_OK);
	assert_int_equal(type, KDC_REC_APPDATA);
	assert_int_equal(n, 17);
	assert_memory_equal(pt, "hello, just works", 17);
	assert_true(r.seen);
	assert_int_equal(r.rd.seq, 5);
	/* again: a replay */
	memcpy(buf, rec, sizeof(buf));
	assert_int_equal(kdc_rec_open(&r, buf, sizeof(buf), &type, &pt, &n),
	    KDC_ERR_REPLAY);

	/* every bit of the IV and the ciphertext flipped: refused (the MAC,
	 * or the padding), the state untouched */
	for (size_t bit = (KDC_REC_HDR) * 8; bit < sizeof(rec) * 8; bit++) {
		cbc_state(&r);
		r0 = r;
		memcpy(buf, rec, sizeof(buf));
		buf[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
		assert_int_equal(kdc_rec_open(&r, buf, sizeof(buf), &type, &pt,
		    &n), KDC_ERR_CRYPTO);
		assert_memory_equal(&r, &r0, sizeof(r));
	}
	/* the header is in the MAC: another sequence number or type */
	cbc_state(&r);
	memcpy(buf, rec, sizeof(buf));
	buf[10] ^= 1;
	assert_int_equal(kdc_rec_open(&r, buf, sizeof(buf), &type, &pt, &n),
	    KDC_ERR_CRYPTO);
	memcpy(buf, rec, sizeof(buf));
	buf[0] = KDC_REC_HANDSHAKE;
	assert_int_equal(kdc_rec_open(&r, buf, sizeof(buf), &type, &pt, &n),
	    KDC_ERR_CRYPTO);
	/* another MAC key: refused */
	cbc_state(&r);
	r.rd.mac[0] ^= 1;
	memcpy(buf, rec, sizeof(buf));
	assert_int_equal(kdc_rec_open(&r, buf, sizeof(buf), &type, &pt, &n),
	    KDC_ERR_CRYPTO);
	/* framing: not IV + whole blocks, or too short for a MAC */
	cbc_state(&r);
	for (size_t cut = KDC_REC_HDR; cut < sizeof(rec); cut++) {
		memcpy(buf, rec, cut);
		buf[11] = (uint8_t)((cut - KDC_REC_HDR) >> 8);
		buf[12] = (uint8_t)(cut - KDC_REC_HDR);
		assert_int_not_equal(kdc_rec_open(&r, buf, cut, &type, &pt,
		    &n), KDC_OK);
	}
	assert_false(r.seen);
}

/* Seal, then check the record with the RFC's formula written here (raw
 * AES-CBC and HMAC from GnuTLS, not record.c's code), then open it. */
static void
test_cbc_seal(void **state)
{
	struct kdc_rec w, r;
	uint8_t out[256], buf[256], m[256], mac[32], pre[13];
	uint8_t pt[40];
	const uint8_t *got;
	size_t n, gl, body;
	uint8_t type;

	(void)state;
	for (size_t len = 0; len <= sizeof(pt); len++) {
		gnutls_cipher_hd_t h;
		gnutls_datum_t k, iv;
		size_t pad;

		for (size_t i = 0; i < len; i++)
			pt[i] = (uint8_t)(i * 7 + len);
		cbc_state(&w);
		w.wr.seq = 1000 + len;
		assert_int_equal(kdc_rec_seal(&w, KDC_REC_APPDATA, pt, len, out,
		    sizeof(out), &n), KDC_OK);
		assert_int_equal(w.wr.seq, 1001 + len);
		body = n - KDC_REC_HDR - 16;
		assert_int_equal(body % 16, 0);
		assert_true(body >= len + 33 && body <= len + 33 + 15);
		assert_true(n <= len + kdc_rec_overhead(&w));
		assert_int_equal((out[11] << 8) | out[12], n - KDC_REC_HDR);
		/* decrypt with the IV the record carries */
		k.data = w.wr.cbc_key;
		k.size = 16;
		iv.data = out + KDC_REC_HDR;
		iv.size = 16;
		assert_int_equal(gnutls_cipher_init(&h,
		    GNUTLS_CIPHER_AES_128_CBC, &k, &iv), 0);
		assert_int_equal(gnutls_cipher_decrypt2(h, out + KDC_REC_HDR +
		    16, body, m, body), 0);
		gnutls_cipher_deinit(h);
		pad = m[body - 1];
		assert_int_equal(body, len + 32 + pad + 1);
		for (size_t i = 0; i <= pad; i++)
			assert_int_equal(m[body - 1 - i], pad);
		assert_memory_equal(m, pt, len);
		memcpy(pre, out + 3, 8);
		pre[8] = KDC_REC_APPDATA;
		pre[9] = 0xfe;
		pre[10] = 0xfd;
		pre[11] = (uint8_t)(len >> 8);
		pre[12] = (uint8_t)len;
		memcpy(buf, pre, 13);
		memcpy(buf + 13, pt, len);
		assert_int_equal(gnutls_hmac_fast(GNUTLS_MAC_SHA256, w.wr.mac,
		    32, buf, 13 + len, mac), 0);
		assert_memory_equal(m + len, mac, 32);
		/* and our open takes it */
		cbc_state(&r);
		memcpy(buf, out, n);
		assert_int_equal(kdc_rec_open(&r, buf, n, &type, &got, &gl),
		    KDC_OK);
		assert_int_equal(gl, len);
		if (len > 0)
			assert_memory_equal(got, pt, len);
	}
	/* a padding whose bytes disagree, under a MAC that is right: still
	 * refused (RFC 5246 §6.2.3.2: every padding byte holds its length);
	 * and a padding length past the MAC; the same record with its
	 * padding right opens (what == 2) */
	for (int what = 0; what < 3; what++) {
		gnutls_cipher_hd_t h;
		gnutls_datum_t k, iv;
		static const uint8_t ivb[16] = { 1, 2, 3 };

		memcpy(out, "\x17\xfe\xfd\x00\x01\x00\x00\x00\x00\x00\x09"
		    "\x00\x50", 13);		/* epoch 1, seq 9, 80 bytes */
		memcpy(out + 13, ivb, 16);
		memcpy(pre, out + 3, 8);
		pre[8] = KDC_REC_APPDATA;
		pre[9] = 0xfe;
		pre[10] = 0xfd;
		pre[11] = 0;
		pre[12] = 17;
		memcpy(buf, pre, 13);
		memcpy(buf + 13, "hello, just works", 17);
		cbc_state(&w);
		assert_int_equal(gnutls_hmac_fast(GNUTLS_MAC_SHA256, w.wr.mac,
		    32, buf, 13 + 17, mac), 0);
		memcpy(m, "hello, just works", 17);
		memcpy(m + 17, mac, 32);
		memset(m + 49, 14, 15);		/* 17 + 32 + 15 = 64 */
		if (what == 0)
			m[55] = 13;		/* one padding byte wrong */
		else if (what == 1)
			memset(m + 49, 200, 15);	/* 200 + 1 + 32 > 64 */
		k.data = w.wr.cbc_key;
		k.size = 16;
		iv.data = (unsigned char *)(uintptr_t)ivb;
		iv.size = 16;
		assert_int_equal(gnutls_cipher_init(&h,
		    GNUTLS_CIPHER_AES_128_CBC, &k, &iv), 0);
		assert_int_equal(gnutls_cipher_encrypt2(h, m, 64, out + 29, 64),
		    0);
		gnutls_cipher_deinit(h);
		cbc_state(&r);
		memcpy(buf, out, 93);
		assert_int_equal(kdc_rec_open(&r, buf, 93, &type, &got, &gl),
		    what == 2 ? KDC_OK : KDC_ERR_CRYPTO);
		assert_int_equal(r.seen, what == 2);
		if (what == 2)
			assert_memory_equal(got, "hello, just works", 17);
	}
	/* too small an output */
	cbc_state(&w);
	assert_int_equal(kdc_rec_seal(&w, KDC_REC_APPDATA, pt, 16, out,
	    KDC_REC_HDR + 16 + 48 - 1, &n), KDC_ERR_TOO_LARGE);
	assert_int_equal(w.wr.seq, 0);
}

/* The TLS 1.2 PRF (P_SHA256): the well-known vector (secret 9bbe..35,
 * label "test label", seed a0ba..8c, 100 bytes), checked here against
 * Python's hmac:
 *   def prf(s, l, seed, n):
 *     seed = l + seed; out = b""; a = seed
 *     while len(out) < n:
 *       a = hmac.new(s, a, sha256).digest()
 *       out += hmac.new(s, a + seed, sha256).digest()
 *     return out[:n] */
static void
test_prf(void **state)
{
	uint8_t secret[16], seed[16], want[100], got[100];

	(void)state;
	hex("9bbe436ba940f017b17652849a71db35", secret, 16);
	hex("a0ba9f936cda311827a6f796ffd5198c", seed, 16);
	hex("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a"
	    "6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab"
	    "4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701"
	    "87347b66", want, 100);
	assert_int_equal(kdc_jw_p_sha256(secret, 16, "test label", 10, seed,
	    16, got, 100), KDC_OK);
	assert_memory_equal(got, want, 100);
	/* a stream: a shorter output is its prefix */
	assert_int_equal(kdc_jw_p_sha256(secret, 16, "test label", 10, seed,
	    16, got, 33), KDC_OK);
	assert_memory_equal(got, want, 33);
}

/* ---- the server's messages ------------------------------------------------ */

static const uint8_t G[65] = {	/* the P-256 generator: on the curve */
	0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc,
	0xe6, 0xe5, 0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d,
	0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96,
	0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb,
	0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31,
	0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5,
};

/* ServerHello: 0xFF00, renegotiation_info, ec_point_formats, EMS. */
static size_t
server_hello(uint8_t *b, bool ems)
{
	size_t n = 0;

	b[n++] = 0xfe;
	b[n++] = 0xfd;
	for (int i = 0; i < 32; i++)
		b[n++] = (uint8_t)(0xc0 + i);
	b[n++] = 4;				/* session id */
	memcpy(b + n, "\1\2\3\4", 4);
	n += 4;
	b[n++] = 0xff;
	b[n++] = 0x00;
	b[n++] = 0;
	b[n++] = 0;
	b[n++] = ems ? 15 : 11;
	memcpy(b + n, "\xff\x01\x00\x01\x00" "\x00\x0b\x00\x02\x01\x00", 11);
	n += 11;
	if (ems) {
		memcpy(b + n, "\x00\x17\x00\x00", 4);
		n += 4;
	}
	return n;
}

static size_t
ske(uint8_t *b, const uint8_t *point)
{
	b[0] = 3;
	b[1] = 0;
	b[2] = 23;
	b[3] = 65;
	memcpy(b + 4, point, 65);
	return 69;
}

static void
test_parsers(void **state)
{
	uint8_t b[128], rnd[32], pt[65], cookie[KDC_JW_COOKIE_MAX], c[64];
	size_t n, cl;
	bool ems;

	(void)state;
	/* ServerHello: whole, then every cut refused (42 bytes is a whole
	 * ServerHello without extensions: the only cut that parses, and it
	 * says no EMS) */
	n = server_hello(b, true);
	assert_int_equal(kdc_jw_parse_sh(b, n, rnd, &ems), KDC_OK);
	assert_true(ems);
	assert_int_equal(rnd[0], 0xc0);
	for (size_t cut = 0; cut < n; cut++) {
		kdc_err e = kdc_jw_parse_sh(b, cut, rnd, &ems);

		if (cut == 42) {
			assert_int_equal(e, KDC_OK);
			assert_false(ems);
		} else
			assert_int_not_equal(e, KDC_OK);
	}
	n = server_hello(b, false);
	assert_int_equal(kdc_jw_parse_sh(b, n, rnd, &ems), KDC_OK);
	assert_false(ems);
	/* what we did not offer */
	n = server_hello(b, true);
	b[39] = 0xc0;				/* another suite */
	b[40] = 0x37;
	assert_int_equal(kdc_jw_parse_sh(b, n, rnd, &ems),
	    KDC_ERR_UNSUPPORTED);
	n = server_hello(b, true);
	b[n - 3] = 0x16;			/* encrypt_then_mac */
	assert_int_equal(kdc_jw_parse_sh(b, n, rnd, &ems),
	    KDC_ERR_UNSUPPORTED);
	n = server_hello(b, true);
	b[41] = 1;				/* compression */
	assert_int_equal(kdc_jw_parse_sh(b, n, rnd, &ems),
	    KDC_ERR_UNSUPPORTED);
	n = server_hello(b, true);
	b[1] = 0xff;				/* DTLS 1.0 */
	assert_int_equal(kdc_jw_parse_sh(b, n, rnd, &ems),
	    KDC_ERR_UNSUPPORTED);
	n = server_hello(b, true);
	b[48] = 1;				/* renegotiation_info not empty */
	assert_int_equal(kdc_jw_parse_sh(b, n, rnd, &ems),
	    KDC_ERR_UNSUPPORTED);
	n = server_hello(b, true);
	memcpy(b + n, "\x00\x17\x00\x00", 4);	/* EMS twice */
	b[43] += 4;
	assert_int_equal(kdc_jw_parse_sh(b, n + 4, rnd, &ems),
	    KDC_ERR_MALFORMED);
	n = server_hello(b, true);
	b[34] = 33;				/* session id over 32 */
	assert_int_not_equal(kdc_jw_parse_sh(b, n, rnd, &ems), KDC_OK);

	/* ServerKeyExchange: whole, every cut refused, other curves and
	 * formats refused, a signature after the point refused */
	n = ske(b, G);
	assert_int_equal(kdc_jw_parse_ske(b, n, pt), KDC_OK);
	assert_memory_equal(pt, G, 65);
	for (size_t cut = 0; cut < n; cut++)
		assert_int_not_equal(kdc_jw_parse_ske(b, cut, pt), KDC_OK);
	assert_int_equal(kdc_jw_parse_ske(b, n + 1, pt), KDC_ERR_MALFORMED);
	b[2] = 24;				/* secp384r1 */
	assert_int_equal(kdc_jw_parse_ske(b, n, pt), KDC_ERR_UNSUPPORTED);
	n = ske(b, G);
	b[0] = 1;				/* explicit prime */
	assert_int_equal(kdc_jw_parse_ske(b, n, pt), KDC_ERR_UNSUPPORTED);
	n = ske(b, G);
	b[4] = 2;				/* compressed */
	assert_int_equal(kdc_jw_parse_ske(b, n, pt), KDC_ERR_UNSUPPORTED);

	/* HelloVerifyRequest */
	memcpy(b, "\xfe\xff\x05" "abcde", 8);
	assert_int_equal(kdc_jw_parse_hvr(b, 8, cookie, &cl), KDC_OK);
	assert_int_equal(cl, 5);
	assert_memory_equal(cookie, "abcde", 5);
	for (size_t cut = 0; cut < 8; cut++)
		assert_int_not_equal(kdc_jw_parse_hvr(b, cut, cookie, &cl),
		    KDC_OK);
	assert_int_equal(kdc_jw_parse_hvr(b, 9, cookie, &cl),
	    KDC_ERR_MALFORMED);
	b[2] = 0;				/* an empty cookie */
	assert_int_equal(kdc_jw_parse_hvr(b, 3, cookie, &cl),
	    KDC_ERR_MALFORMED);

	/* a fragment header: every cut of a fragment is TRUNCATED; a
	 * fragment past its message's length is MALFORMED */
	{
		struct kdc_jw_frag f;
		size_t used;

		memcpy(c, "\x0c\x00\x00\x05\x00\x02\x00\x00\x00\x00\x00\x05"
		    "12345", 17);
		assert_int_equal(kdc_jw_frag(c, 17, &f, &used), KDC_OK);
		assert_int_equal(used, 17);
		assert_int_equal(f.type, 12);
		assert_int_equal(f.seq, 2);
		assert_int_equal(f.length, 5);
		for (size_t cut = 0; cut < 17; cut++)
			assert_int_equal(kdc_jw_frag(c, cut, &f, &used),
			    KDC_ERR_TRUNCATED);
		c[8] = 1;			/* offset 1 + 5 > 5 */
		assert_int_equal(kdc_jw_frag(c, 17, &f, &used),
		    KDC_ERR_MALFORMED);
	}
}

/* ---- the state machine, fed by hand (no HelloVerifyRequest) ------------------- */

/* One plaintext epoch-0 record holding the message (type, seq, body). */
static size_t
rec_msg(uint8_t *o, uint8_t type, uint16_t seq, const uint8_t *b, size_t n)
{
	size_t m = 12 + n;

	memcpy(o, "\x16\xfe\xfd\0\0\0\0\0\0\0\0", 11);
	o[10] = (uint8_t)seq;
	o[11] = (uint8_t)(m >> 8);
	o[12] = (uint8_t)m;
	o[13] = type;
	o[14] = 0;
	o[15] = (uint8_t)(n >> 8);
	o[16] = (uint8_t)n;
	o[17] = (uint8_t)(seq >> 8);
	o[18] = (uint8_t)seq;
	memset(o + 19, 0, 3);
	o[22] = 0;
	o[23] = (uint8_t)(n >> 8);
	o[24] = (uint8_t)n;
	memcpy(o + 25, b, n);
	return 13 + m;
}

/* The server's flight (ServerHello, ServerKeyExchange with point,
 * ServerHelloDone) into d; returns its length. */
static size_t
flight4(uint8_t *d, const uint8_t *point)
{
	uint8_t b[128];
	size_t n = 0, l;

	l = server_hello(b, true);
	n += rec_msg(d + n, KDC_JW_HT_SERVER_HELLO, 0, b, l);
	l = ske(b, point);
	n += rec_msg(d + n, KDC_JW_HT_SERVER_KX, 1, b, l);
	n += rec_msg(d + n, KDC_JW_HT_SERVER_DONE, 2, b, 0);
	return n;
}

static void
test_machine(void **state)
{
	struct kdc_jw *j;
	uint8_t d[1024], out[KDC_JW_OUT_MAX], bad[65];
	size_t n, ol, fl;
	bool done;

	(void)state;
	/* a point on the curve: our flight (CKE, CCS, Finished) goes */
	assert_int_equal(kdc_jw_new(&j), KDC_OK);
	assert_int_equal(kdc_jw_flight(j, out, sizeof(out), &ol), KDC_OK);
	assert_true(ol > 13 + 12 + 38);
	assert_int_equal(out[0], KDC_REC_HANDSHAKE);
	assert_int_equal(out[13], KDC_JW_HT_CLIENT_HELLO);
	assert_int_equal(kdc_jw_rto_ms(j), KDC_JW_RTO_MS);
	n = flight4(d, G);
	assert_int_equal(kdc_jw_input(j, d, n, out, sizeof(out), &ol, &done),
	    KDC_OK);
	assert_false(done);
	/* ClientKeyExchange (13 + 12 + 66), CCS (14), Finished (13 + IV 16
	 * + 64: 24 bytes + MAC 32 + padding 8, four blocks) */
	assert_int_equal(ol, 91 + 14 + 93);
	assert_int_equal(out[13], KDC_JW_HT_CLIENT_KX);
	assert_int_equal(out[91], KDC_REC_CCS);
	assert_int_equal(out[105], KDC_REC_HANDSHAKE);
	assert_int_equal(out[105 + 4], 1);	/* epoch 1 */
	assert_int_equal(kdc_jw_rto_ms(j), KDC_JW_RTO_MS);
	/* retransmitted: the same messages, new record numbers */
	assert_int_equal(kdc_jw_flight(j, out, sizeof(out), &fl), KDC_OK);
	assert_int_equal(fl, ol);
	assert_int_equal(out[10], 3);		/* epoch 0: 0 CH, 1 CKE, 2 CCS */
	assert_int_equal(out[105 + 10], 1);	/* epoch 1: Finished again */
	assert_int_equal(kdc_jw_rto_ms(j), 2 * KDC_JW_RTO_MS);
	/* the server's flight again (ours was lost): ours again at once,
	 * fresh record numbers; its cut-off last record alone is dropped */
	n = flight4(d, G);
	assert_int_equal(kdc_jw_input(j, d, n, out, sizeof(out), &fl, &done),
	    KDC_OK);
	assert_int_equal(fl, ol);
	assert_int_equal(out[10], 5);		/* epoch 0: 3 CKE, 4 CCS */
	assert_int_equal(out[105 + 10], 2);	/* Finished, third time */
	assert_int_equal(kdc_jw_input(j, d, 10, out, sizeof(out), &fl, &done),
	    KDC_OK);
	assert_int_equal(fl, 0);
	/* a Finished in plaintext (epoch 0) at the server's next
	 * message_seq: dropped, never checked (it would fail the handshake
	 * if it were) */
	memset(bad, 0, sizeof(bad));
	n = rec_msg(d, KDC_JW_HT_FINISHED, 3, bad, 12);
	assert_int_equal(kdc_jw_input(j, d, n, out, sizeof(out), &fl, &done),
	    KDC_OK);
	assert_int_equal(fl, 0);
	assert_false(done);
	/* not done: nothing to export, no PRF */
	{
		struct kdc_rec r;
		uint8_t p[16];

		assert_int_equal(kdc_jw_export(j, &r), KDC_ERR_INVALID_ARG);
		assert_int_equal(kdc_jw_prf(j, "key expansion", 13, true, p,
		    16), KDC_ERR_INVALID_ARG);
	}
	kdc_jw_free(j);

	/* a point off the curve: the handshake fails, illegal_parameter */
	memcpy(bad, G, 65);
	bad[64] ^= 1;
	assert_int_equal(kdc_jw_new(&j), KDC_OK);
	assert_int_equal(kdc_jw_flight(j, out, sizeof(out), &ol), KDC_OK);
	n = flight4(d, bad);
	assert_int_equal(kdc_jw_input(j, d, n, out, sizeof(out), &ol, &done),
	    KDC_ERR_TLS);
	assert_int_equal(ol, 15);
	assert_memory_equal(out + 13, "\x02\x2f", 2);	/* fatal, 47 */
	assert_int_equal(kdc_jw_input(j, d, n, out, sizeof(out), &ol, &done),
	    KDC_ERR_INVALID_ARG);		/* failed is failed */
	kdc_jw_free(j);

	/* every cut of the server's flight: nothing sent, not failed, and
	 * the whole flight still taken afterwards */
	n = flight4(d, G);
	for (size_t cut = 0; cut < n; cut++) {
		uint8_t c[1024];

		assert_int_equal(kdc_jw_new(&j), KDC_OK);
		assert_int_equal(kdc_jw_flight(j, out, sizeof(out), &ol),
		    KDC_OK);
		memcpy(c, d, cut);
		assert_int_equal(kdc_jw_input(j, c, cut, out, sizeof(out), &ol,
		    &done), KDC_OK);
		assert_int_equal(ol, 0);
		memcpy(c, d, n);
		assert_int_equal(kdc_jw_input(j, c, n, out, sizeof(out), &ol,
		    &done), KDC_OK);
		assert_int_equal(ol, 91 + 14 + 93);
		kdc_jw_free(j);
	}

	/* ServerKeyExchange in two fragments, the second first: it is
	 * dropped (in order only), then the first, then the second again
	 * with ServerHelloDone: reassembled, our flight goes */
	{
		uint8_t b[128], f1[64], f2[64];
		size_t l;

		assert_int_equal(kdc_jw_new(&j), KDC_OK);
		l = server_hello(b, true);
		n = rec_msg(d, KDC_JW_HT_SERVER_HELLO, 0, b, l);
		assert_int_equal(kdc_jw_input(j, d, n, out, sizeof(out), &ol,
		    &done), KDC_OK);
		l = ske(b, G);
		/* fragment: header of the whole, offset, length */
		n = rec_msg(d, KDC_JW_HT_SERVER_KX, 1, b, 30);
		memcpy(f1, d, n);
		f1[16] = 69;			/* length 69, fragment 0..30 */
		n = rec_msg(d, KDC_JW_HT_SERVER_KX, 1, b + 30, 39);
		memcpy(f2, d, n);
		f2[16] = 69;
		f2[21] = 30;			/* offset 30, 39 bytes */
		assert_int_equal(kdc_jw_input(j, f2, 13 + 12 + 39, out,
		    sizeof(out), &ol, &done), KDC_OK);
		assert_int_equal(ol, 0);
		assert_int_equal(kdc_jw_input(j, f1, 13 + 12 + 30, out,
		    sizeof(out), &ol, &done), KDC_OK);
		assert_int_equal(ol, 0);
		memcpy(d, f2, 13 + 12 + 39);
		n = 13 + 12 + 39;
		n += rec_msg(d + n, KDC_JW_HT_SERVER_DONE, 2, b, 0);
		assert_int_equal(kdc_jw_input(j, d, n, out, sizeof(out), &ol,
		    &done), KDC_OK);
		assert_int_equal(ol, 91 + 14 + 93);
		kdc_jw_free(j);
	}

	/* HelloVerifyRequest: the ClientHello again with the cookie at
	 * message_seq 1; the same HelloVerifyRequest again (our second
	 * ClientHello was lost): the second ClientHello again, a new
	 * record number */
	{
		static const uint8_t hvr[] = { 0xfe, 0xff, 3, 'c', 'k', 'y' };
		size_t l1;

		assert_int_equal(kdc_jw_new(&j), KDC_OK);
		assert_int_equal(kdc_jw_flight(j, out, sizeof(out), &ol),
		    KDC_OK);
		l1 = ol;
		n = rec_msg(d, KDC_JW_HT_HELLO_VERIFY, 0, hvr, sizeof(hvr));
		memcpy(d + 512, d, n);
		assert_int_equal(kdc_jw_input(j, d, n, out, sizeof(out), &ol,
		    &done), KDC_OK);
		assert_int_equal(ol, l1 + 3);	/* the cookie */
		assert_int_equal(out[10], 1);
		assert_int_equal(out[13 + 5], 1);	/* message_seq 1 */
		assert_memory_equal(out + 13 + 12 + 2 + 32 + 1, "\3cky", 4);
		assert_int_equal(kdc_jw_input(j, d + 512, n, out, sizeof(out),
		    &ol, &done), KDC_OK);
		assert_int_equal(ol, l1 + 3);
		assert_int_equal(out[10], 2);
		assert_int_equal(out[13 + 5], 1);
		kdc_jw_free(j);
	}

	/* a server alert: fatal, nothing owed */
	assert_int_equal(kdc_jw_new(&j), KDC_OK);
	memcpy(d, "\x15\xfe\xfd\0\0\0\0\0\0\0\0\0\x02\x02\x28", 15);
	assert_int_equal(kdc_jw_input(j, d, 15, out, sizeof(out), &ol, &done),
	    KDC_ERR_TLS);
	assert_int_equal(ol, 0);
	kdc_jw_free(j);

	/* a message over KDC_JW_MSG_MAX: refused, decode_error */
	assert_int_equal(kdc_jw_new(&j), KDC_OK);
	memset(bad, 0, sizeof(bad));
	n = rec_msg(d, KDC_JW_HT_SERVER_HELLO, 0, bad, 10);
	d[14] = (KDC_JW_MSG_MAX + 1) >> 16;
	d[15] = (uint8_t)((KDC_JW_MSG_MAX + 1) >> 8);
	d[16] = (uint8_t)(KDC_JW_MSG_MAX + 1);
	assert_int_equal(kdc_jw_input(j, d, n, out, sizeof(out), &ol, &done),
	    KDC_ERR_MALFORMED);
	assert_memory_equal(out + 13, "\x02\x32", 2);
	kdc_jw_free(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cbc_vector),
		cmocka_unit_test(test_cbc_seal),
		cmocka_unit_test(test_prf),
		cmocka_unit_test(test_parsers),
		cmocka_unit_test(test_machine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
