/*
 * fuzz_cose.c: COSE/CWT decoding (src/cose/): the first byte picks the
 * reader, the rest is its input:
 *   0..3  kdc_cose_parse (expect 0, Sign1, Mac0, Encrypt0), then the
 *         verify / decrypt with the RFC 8392 / RFC 9052 keys (so the
 *         seeds reach the crypto and the structures built in work);
 *   4     kdc_cwt_decode, and what decodes re-encodes and decodes again
 *         to the same claims;
 *   5     kdc_cose_key_read, and the public keys re-encode and read back.
 * Every view must lie inside the input. Seeds: fuzz/corpus/cose/ (the
 * RFC vectors, fuzz/seeds.py cose).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "cose/cose.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *base;
static size_t base_len;

static void
inside(const void *p, size_t n)
{
	const uint8_t *u = p;

	if (p == NULL) {
		if (n != 0)
			abort();
		return;
	}
	if (u < base || n > base_len || (size_t)(u - base) > base_len - n)
		abort();
}

/* RFC 8392 A.2.1 (AES-CCM), A.2.2 (HMAC), A.2.3 (ES256 public). */
static const uint8_t k128[16] = { 0x23, 0x1f, 0x4c, 0x4d, 0x4d, 0x30, 0x51,
    0xfd, 0xc2, 0xec, 0x0a, 0x38, 0x51, 0xd5, 0xb3, 0x83 };
static const uint8_t k256[32] = { 0x40, 0x36, 0x97, 0xde, 0x87, 0xaf, 0x64,
    0x61, 0x1c, 0x1d, 0x32, 0xa0, 0x5d, 0xab, 0x0f, 0xe1, 0xfc, 0xb7, 0x15,
    0xa8, 0x6a, 0xb4, 0x35, 0xf1, 0xec, 0x99, 0x19, 0x2d, 0x79, 0x56, 0x93,
    0x88 };
static const uint8_t ecx[32] = { 0x14, 0x33, 0x29, 0xcc, 0xe7, 0x86, 0x8e,
    0x41, 0x69, 0x27, 0x59, 0x9c, 0xf6, 0x5a, 0x34, 0xf3, 0xce, 0x2f, 0xfd,
    0xa5, 0x5a, 0x7e, 0xca, 0x69, 0xed, 0x89, 0x19, 0xa3, 0x94, 0xd4, 0x2f,
    0x0f };
static const uint8_t ecy[32] = { 0x60, 0xf7, 0xf1, 0xa7, 0x80, 0xd8, 0xa7,
    0x83, 0xbf, 0xb7, 0xa2, 0xdd, 0x6b, 0x27, 0x96, 0xe8, 0x12, 0x8d, 0xbb,
    0xce, 0xf9, 0xd3, 0xd1, 0x68, 0xdb, 0x95, 0x29, 0x97, 0x1a, 0x36, 0xe7,
    0xb9 };
static const uint8_t biv[8] = { 0x89, 0xf5, 0x2f, 0x65, 0xa1, 0xc5, 0x80,
    0x93 };

static void
msg(const uint8_t *d, size_t n, int expect)
{
	static uint8_t work[KDC_COSE_WORK_MAX], pt[KDC_COSE_MSG_MAX + 64];
	struct kdc_cose_msg m;
	struct kdc_cose_key key;
	size_t pt_len = sizeof(pt);

	if (kdc_cose_parse(d, n, expect, &m) != KDC_OK)
		return;
	if (m.type != KDC_COSE_SIGN1 && m.type != KDC_COSE_MAC0 &&
	    m.type != KDC_COSE_ENCRYPT0)
		abort();
	inside(m.prot, m.prot_len);
	inside(m.kid, m.kid_len);
	inside(m.iv, m.iv_len);
	inside(m.partial_iv, m.partial_iv_len);
	inside(m.payload, m.payload_len);
	inside(m.sig, m.sig_len);
	memset(&key, 0, sizeof(key));
	key.alg = m.alg;
	switch (m.type) {
	case KDC_COSE_SIGN1:
		key.x = ecx;
		key.x_len = 32;
		key.y = ecy;
		key.y_len = 32;
		(void)kdc_cose_sign1_verify(&m, &key, NULL, 0, work,
		    sizeof(work));
		break;
	case KDC_COSE_MAC0:
		key.k = k256;
		key.k_len = 32;
		(void)kdc_cose_mac0_verify(&m, &key, NULL, 0, work,
		    sizeof(work));
		break;
	default:
		key.k = k128;
		key.k_len = 16;
		key.base_iv = biv;
		key.base_iv_len = sizeof(biv);
		if (kdc_cose_encrypt0_decrypt(&m, &key, NULL, 0, pt, &pt_len,
		    work, sizeof(work)) == KDC_OK && pt_len + 8 > m.payload_len)
			abort();
		break;
	}
}

static void
claims(const uint8_t *d, size_t n)
{
	static uint8_t out[4 * KDC_COSE_MSG_MAX + 64];
	struct kdc_cwt c, again;
	size_t out_len = sizeof(out);

	if (kdc_cwt_decode(d, n, &c) != KDC_OK)
		return;
	inside(c.iss, c.iss_len);
	inside(c.sub, c.sub_len);
	inside(c.aud, c.aud_len);
	inside(c.cti, c.cti_len);
	inside(c.scope, c.scope_len);
	inside(c.cnonce, c.cnonce_len);
	inside(c.cnf.raw, c.cnf.raw_len);
	inside(c.cnf.kid, c.cnf.kid_len);
	inside(c.cnf.key.k, c.cnf.key.k_len);
	inside(c.cnf.key.x, c.cnf.key.x_len);
	/* re-encoding is refused only for a private key in cnf */
	if (kdc_cwt_encode(&c, out, &out_len) != KDC_OK) {
		if (c.cnf.kind == KDC_CNF_COSE_KEY && c.cnf.key.d != NULL)
			return;
		abort();
	}
	/* (not "never longer": a float32 NumericDate of 2^59 is 5 bytes,
	 * its integer 9) */
	if (kdc_cwt_decode(out, out_len, &again) != KDC_OK ||
	    again.has != c.has || again.exp != c.exp || again.iat != c.iat ||
	    again.nbf != c.nbf || again.exi != c.exi ||
	    again.cnf.kind != c.cnf.kind || again.aud_len != c.aud_len)
		abort();
}

static void
key(const uint8_t *d, size_t n)
{
	static uint8_t out[4 * KDC_COSE_MSG_MAX];
	struct kdc_cose_keyinfo k, again;
	struct kdc_rd rd;
	size_t out_len = sizeof(out);

	kdc_rd_init(&rd, d, n);
	if (kdc_cose_key_read(&rd, &k) != KDC_OK) {
		if (kdc_rd_err(&rd) == KDC_OK)
			abort();	/* a failure is recorded in rd */
		return;
	}
	inside(k.kid, k.kid_len);
	inside(k.x, k.x_len);
	inside(k.y, k.y_len);
	inside(k.k, k.k_len);
	inside(k.d, k.d_len);
	if (k.d != NULL)
		return;
	if (kdc_cose_key_encode(&k, out, &out_len) != KDC_OK)
		abort();
	kdc_rd_init(&rd, out, out_len);
	if (kdc_cose_key_read(&rd, &again) != KDC_OK ||
	    !kdc_rd_at_end(&rd) || again.kty != k.kty || again.alg != k.alg ||
	    again.crv != k.crv || again.x_len != k.x_len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int expects[] = { 0, KDC_COSE_SIGN1, KDC_COSE_MAC0,
	    KDC_COSE_ENCRYPT0 };

	if (size < 1)
		return 0;
	base = data + 1;
	base_len = size - 1;
	switch (data[0] % 6) {
	case 0: case 1: case 2: case 3:
		msg(base, base_len, expects[data[0] % 6]);
		break;
	case 4:
		claims(base, base_len);
		break;
	default:
		key(base, base_len);
		break;
	}
	return 0;
}
