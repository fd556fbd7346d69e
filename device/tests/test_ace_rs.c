/*
 * test_ace_rs.c: the ACE resource server of the device library (kdcdev.h
 * "ACE resource server") and its client helpers. Tokens are made here
 * with the COSE library (src/cose/: Encrypt0 under the AS-RS key, Sign1
 * ES256 by a P-256 key GnuTLS generates), so the RS sees what an AS
 * sends; the clock is the test's.
 *
 * Vectors: RFC 9202 Figure 9 psk_identity and Figure 6 token response
 * (shared/vectors/rfc9202.json); SHA-256 of "abc" (FIPS 180-4 B.1); the
 * RFC 9770 token hash against GnuTLS's base64 and SHA-256.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>

#include "cose/cose.h"
#include "kdcdev.h"

#define NOW	1700000000

static int64_t now_v = NOW;
static struct kdcdev_rs RS;

static const uint8_t AS_KEY[16] = {
	0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
	0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
};
static const uint8_t POP[16] = {
	0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57,
	0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f,
};
static uint8_t as_d[32], as_x[32], as_y[32];	/* the AS key (ES256) */
static uint8_t cl_x[32], cl_y[32];		/* a client's key (EC2 PoP) */

static int64_t
clk(void *arg)
{
	(void)arg;
	return now_v;
}

static void
pad32(uint8_t out[32], const gnutls_datum_t *d)
{
	assert_true(d->size <= 32);
	memset(out, 0, 32);
	memcpy(out + 32 - d->size, d->data, d->size);
}

static void
gen_p256(uint8_t d[32], uint8_t x[32], uint8_t y[32])
{
	gnutls_privkey_t k;
	gnutls_ecc_curve_t curve;
	gnutls_datum_t gx, gy, gk;

	assert_int_equal(gnutls_privkey_init(&k), 0);
	assert_int_equal(gnutls_privkey_generate(k, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0), 0);
	assert_int_equal(gnutls_privkey_export_ecc_raw2(k, &curve, &gx, &gy,
	    &gk, GNUTLS_EXPORT_FLAG_NO_LZ), 0);
	pad32(x, &gx);
	pad32(y, &gy);
	if (d != NULL)
		pad32(d, &gk);
	gnutls_free(gx.data);
	gnutls_free(gy.data);
	gnutls_free(gk.data);
	gnutls_privkey_deinit(k);
}

static int
group_setup(void **state)
{
	(void)state;
	gen_p256(as_d, as_x, as_y);
	gen_p256(NULL, cl_x, cl_y);
	return 0;
}

/* What a token says; make() turns it into bytes. */
struct spec {
	int		 type;		/* KDC_COSE_ENCRYPT0 or _SIGN1 */
	const char	*aud;
	const char	*scope;
	int64_t		 exp, nbf;	/* nbf 0: none; exp 0: none */
	const char	*kid;		/* PoP kid (text, for printability) */
	bool		 ec2;		/* cnf: the client's EC2 key */
	bool		 no_cnf;
	const uint8_t	*enc_key;	/* NULL: AS_KEY */
	int		 enc_alg;	/* 0: AES-CCM-16-64-128 (the AS's) */
	uint8_t		 cti;
};

static struct spec
sym(const char *kid, const char *scope)
{
	struct spec s;

	memset(&s, 0, sizeof(s));
	s.type = KDC_COSE_ENCRYPT0;
	s.aud = "lock1";
	s.scope = scope;
	s.exp = NOW + 3600;
	s.kid = kid;
	return s;
}

static size_t
make(const struct spec *s, uint8_t *out, size_t cap)
{
	struct kdc_cwt c;
	struct kdc_cose_hdr_opts o = { true, true, false };
	uint8_t claims[512], iv[13];
	size_t claims_len = sizeof(claims), n = cap;

	memset(&c, 0, sizeof(c));
	c.has = KDC_CWT_CTI;
	c.cti = &s->cti;
	c.cti_len = 1;
	if (s->aud != NULL) {
		c.has |= KDC_CWT_AUD;
		c.aud = s->aud;
		c.aud_len = strlen(s->aud);
	}
	if (s->scope != NULL) {
		c.has |= KDC_CWT_SCOPE;
		c.scope = (const uint8_t *)s->scope;
		c.scope_len = strlen(s->scope);
		c.scope_text = true;
	}
	if (s->exp != 0) {
		c.has |= KDC_CWT_EXP;
		c.exp = s->exp;
	}
	if (s->nbf != 0) {
		c.has |= KDC_CWT_NBF;
		c.nbf = s->nbf;
	}
	if (!s->no_cnf) {
		c.has |= KDC_CWT_CNF;
		c.cnf.kind = KDC_CNF_COSE_KEY;
		if (s->ec2) {
			c.cnf.key.kty = KDC_COSE_KTY_EC2;
			c.cnf.key.crv = KDC_COSE_CRV_P256;
			c.cnf.key.x = cl_x;
			c.cnf.key.x_len = 32;
			c.cnf.key.y = cl_y;
			c.cnf.key.y_len = 32;
		} else {
			c.cnf.key.kty = KDC_COSE_KTY_SYMMETRIC;
			c.cnf.key.k = POP;
			c.cnf.key.k_len = 16;
		}
		if (s->kid != NULL) {
			c.cnf.key.kid = (const uint8_t *)s->kid;
			c.cnf.key.kid_len = strlen(s->kid);
		}
	}
	assert_int_equal(kdc_cwt_encode(&c, claims, &claims_len), KDC_OK);
	if (s->type == KDC_COSE_ENCRYPT0) {
		struct kdc_cose_key key;

		memset(&key, 0, sizeof(key));
		key.alg = s->enc_alg != 0 ? s->enc_alg :
		    KDC_COSE_ALG_CCM_16_64_128;
		key.k = s->enc_key != NULL ? s->enc_key : AS_KEY;
		key.k_len = 16;
		memset(iv, s->cti, sizeof(iv));
		assert_int_equal(kdc_cose_encrypt0_encode(&key, &o, iv,
		    key.alg == KDC_COSE_ALG_A128GCM ? 12 : sizeof(iv), claims,
		    claims_len, NULL, 0, out, &n), KDC_OK);
	} else {
		struct kdc_cose_signer sg;

		memset(&sg, 0, sizeof(sg));
		sg.alg = KDC_COSE_ALG_ES256;
		sg.key.alg = KDC_COSE_ALG_ES256;
		sg.key.d = as_d;
		sg.key.d_len = 32;
		sg.key.x = as_x;
		sg.key.x_len = 32;
		sg.key.y = as_y;
		sg.key.y_len = 32;
		assert_int_equal(kdc_cose_sign1_encode(&sg, &o, claims,
		    claims_len, NULL, 0, out, &n), KDC_OK);
	}
	return n;
}

static int
setup(void **state)
{
	struct kdcdev_rs_cfg cfg;

	(void)state;
	now_v = NOW;
	memset(&cfg, 0, sizeof(cfg));
	cfg.aud = "lock1";
	cfg.as_uri = "coaps://as.example:5684";
	cfg.as_key = AS_KEY;
	cfg.as_key_len = sizeof(AS_KEY);
	cfg.as_x = as_x;
	cfg.as_y = as_y;
	cfg.clock = clk;
	assert_int_equal(kdcdev_rs_init(&RS, &cfg), KDC_OK);
	return 0;
}

/* POST the token; returns the CoAP code, the error in *r. */
static uint8_t
post(const uint8_t *tok, size_t n, kdc_err *r, uint8_t *out, size_t *out_len)
{
	static uint8_t buf[256];
	struct kdcdev_resp resp;

	memset(&resp, 0, sizeof(resp));
	resp.out = out != NULL ? out : buf;
	resp.out_cap = out != NULL ? *out_len : sizeof(buf);
	*r = kdcdev_rs_authz_info(&RS, tok, n, &resp);
	if (out_len != NULL)
		*out_len = resp.out_len;
	return resp.code;
}

static uint8_t
post_spec(const struct spec *s, kdc_err *r)
{
	uint8_t tok[1024];

	return post(tok, make(s, tok, sizeof(tok)), r, NULL, NULL);
}

static uint8_t
access_(const char *kid, uint8_t method, const char *path, kdc_err *r)
{
	uint8_t buf[256];
	struct kdcdev_resp resp;

	memset(&resp, 0, sizeof(resp));
	resp.out = buf;
	resp.out_cap = sizeof(buf);
	resp.code = 0;
	*r = kdcdev_rs_access(&RS, (const uint8_t *)kid, kid != NULL ?
	    strlen(kid) : 0, method, path, &resp);
	return *r == KDC_OK ? KDCDEV_CODE(2, 0) : resp.code;
}

static kdc_err
lookup(const uint8_t *id, size_t id_len, uint8_t key[16])
{
	uint8_t kid[KDCDEV_RS_KID_MAX];
	size_t kl = 16, kidl = sizeof(kid);

	return kdcdev_rs_psk_lookup(&RS, id, id_len, key, &kl, kid, &kidl);
}

/* ---- tests ----------------------------------------------------------- */

static void
test_sha256_and_hash(void **state)
{
	static const uint8_t abc[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
		0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
		0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	uint8_t d[32], h[KDCDEV_RS_HASH_LEN], want[32], tok[200];
	gnutls_datum_t in, b64;

	(void)state;
	kdcdev_sha256("abc", 3, d);
	assert_memory_equal(d, abc, 32);
	/* every length mod 3 and over a block: against GnuTLS */
	for (size_t n = 1; n < sizeof(tok); n += 7) {
		char txt[300];
		size_t m = 0;

		for (size_t i = 0; i < n; i++)
			tok[i] = (uint8_t)(i * 37 + n);
		in.data = tok;
		in.size = (unsigned)n;
		assert_int_equal(gnutls_base64_encode2(&in, &b64), 0);
		for (unsigned i = 0; i < b64.size; i++) {
			char ch = (char)b64.data[i];
			if (ch == '=')
				continue;
			txt[m++] = ch == '+' ? '-' : ch == '/' ? '_' : ch;
		}
		gnutls_free(b64.data);
		assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA256, txt, m,
		    want), 0);
		kdcdev_rs_token_hash(tok, n, h);
		assert_int_equal(h[0], 1);
		assert_memory_equal(h + 1, want, 32);
	}
}

/* An Encrypt0 token with a symmetric PoP key: stored, found by the RFC
 * 9202 identity and by the raw kid, and its scope enforced. */
static void
test_encrypt0_accepted(void **state)
{
	struct spec s = sym("kid-A", "open read");
	uint8_t key[16], id[64], out[128];
	size_t idl = sizeof(id), ol = sizeof(out);
	uint8_t tok[1024];
	size_t n;
	kdc_err r;

	(void)state;
	n = make(&s, tok, sizeof(tok));
	assert_int_equal(post(tok, n, &r, out, &ol), KDCDEV_CODE(2, 1));
	assert_int_equal(r, KDC_OK);
	assert_int_equal(ol, 0);
	assert_int_equal(kdcdev_rs_count(&RS), 1);
	assert_int_equal(kdcdev_ace_psk_identity((const uint8_t *)"kid-A", 5,
	    id, &idl), KDC_OK);
	memset(key, 0, sizeof(key));
	assert_int_equal(lookup(id, idl, key), KDC_OK);
	assert_memory_equal(key, POP, 16);
	memset(key, 0, sizeof(key));
	assert_int_equal(lookup((const uint8_t *)"kid-A", 5, key), KDC_OK);
	assert_memory_equal(key, POP, 16);
	assert_int_equal(access_("kid-A", KDCDEV_POST, "lock/open", &r),
	    KDCDEV_CODE(2, 0));
	assert_int_equal(access_("kid-A", KDCDEV_GET, "lock", &r),
	    KDCDEV_CODE(2, 0));
	/* scope insufficient: 4.03 */
	assert_int_equal(access_("kid-A", KDCDEV_POST, "lock/close", &r),
	    KDCDEV_CODE(4, 3));
	assert_int_equal(r, KDC_ERR_DENIED);
	/* method and path outside the map */
	assert_int_equal(access_("kid-A", KDCDEV_PUT, "lock/open", &r),
	    KDCDEV_CODE(4, 5));
	assert_int_equal(access_("kid-A", KDCDEV_GET, "door", &r),
	    KDCDEV_CODE(4, 4));
}

/* No token: 4.01 with the creation hints {1: AS, 5: aud, 9: scope}. */
static void
test_no_token_hints(void **state)
{
	static const uint8_t want[] = {
		0xa3, 0x01, 0x77, 'c', 'o', 'a', 'p', 's', ':', '/', '/', 'a',
		's', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', ':', '5', '6', '8',
		'4', 0x05, 0x65, 'l', 'o', 'c', 'k', '1', 0x09, 0x65, 'c', 'l',
		'o', 's', 'e',
	};
	uint8_t buf[256];
	struct kdcdev_resp resp;
	kdc_err r;

	(void)state;
	memset(&resp, 0, sizeof(resp));
	resp.out = buf;
	resp.out_cap = sizeof(buf);
	r = kdcdev_rs_access(&RS, NULL, 0, KDCDEV_POST, "lock/close", &resp);
	assert_int_equal(r, KDC_ERR_UNKNOWN_DEVICE);
	assert_int_equal(resp.code, KDCDEV_CODE(4, 1));
	assert_int_equal(resp.content_format, KDCDEV_CF_ACE_CBOR);
	assert_int_equal(resp.out_len, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	/* an unknown kid is no token either */
	assert_int_equal(access_("nobody", KDCDEV_GET, "lock", &r),
	    KDCDEV_CODE(4, 1));
}

static void
test_sign1_ec2_accepted(void **state)
{
	struct spec s = sym("ec-1", "close");
	uint8_t key[16];
	kdc_err r;

	(void)state;
	s.type = KDC_COSE_SIGN1;
	s.ec2 = true;
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(2, 1));
	assert_int_equal(r, KDC_OK);
	assert_int_equal(kdcdev_rs_count(&RS), 1);
	assert_int_equal(RS.tok[0].pop, KDCDEV_RS_POP_EC2);
	assert_memory_equal(RS.tok[0].x, cl_x, 32);
	/* no PSK for an asymmetric PoP key */
	assert_int_equal(lookup((const uint8_t *)"ec-1", 4, key),
	    KDC_ERR_NOT_FOUND);
	/* a symmetric key in clear in a signed token: refused */
	s.ec2 = false;
	s.kid = "sym-in-sign1";
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(4, 0));
	assert_int_equal(r, KDC_ERR_UNSUPPORTED);
}

/* Each refusal with its code (RFC 9200 §5.10.1.1). */
static void
test_refusals(void **state)
{
	struct spec s;
	uint8_t out[128], other[16];
	size_t ol = sizeof(out);
	uint8_t tok[1024];
	kdc_err r;

	(void)state;
	s = sym("k1", "open");
	s.exp = NOW;		/* exp == now: expired */
	assert_int_equal(post(tok, make(&s, tok, sizeof(tok)), &r, out, &ol),
	    KDCDEV_CODE(4, 1));
	assert_int_equal(r, KDC_ERR_EXPIRED);
	assert_int_equal(ol, 33);	/* the hints, no scope */
	assert_int_equal(out[0], 0xa2);

	s = sym("k1", "open");
	s.nbf = NOW + 10;
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(4, 1));
	assert_int_equal(r, KDC_ERR_NOT_YET_VALID);
	s.nbf = NOW;		/* valid from now on: fine */
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(2, 1));

	s = sym("k2", "open");
	s.aud = "lock2";
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(4, 3));
	assert_int_equal(r, KDC_ERR_UNKNOWN_AUDIENCE);
	s.aud = "lock";	/* a prefix of ours */
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(4, 3));
	s.aud = NULL;
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(4, 3));

	/* exp checked before aud (RFC 9200 §5.10.1.1 order) */
	s = sym("k2", "open");
	s.aud = "lock2";
	s.exp = NOW - 1;
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(4, 1));

	s = sym("k3", "open fly");	/* a word we do not know */
	ol = sizeof(out);
	assert_int_equal(post(tok, make(&s, tok, sizeof(tok)), &r, out, &ol),
	    KDCDEV_CODE(4, 0));
	assert_int_equal(r, KDC_ERR_DENIED);
	assert_int_equal(ol, 4);
	assert_memory_equal(out, "\xa1\x18\x1e\x06", 4);
	s.scope = NULL;
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(4, 0));
	s.scope = " ";
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(4, 0));

	s = sym("k4", "open");
	s.no_cnf = true;
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(4, 0));
	assert_int_equal(r, KDC_ERR_UNSUPPORTED);
	s = sym(NULL, "open");	/* a symmetric key without kid */
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(4, 0));

	s = sym("k5", "open");
	s.exp = 0;		/* no exp: not taken */
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(4, 0));

	/* made under another key: 4.01 */
	memset(other, 0x33, sizeof(other));
	s = sym("k6", "open");
	s.enc_key = other;
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(4, 1));
	assert_int_equal(r, KDC_ERR_BAD_SIGNATURE);

	/* only the nbf token got in */
	assert_int_equal(kdcdev_rs_count(&RS), 1);
	assert_non_null(RS.tok[0].used ? &RS.tok[0] : NULL);
	assert_memory_equal(RS.tok[0].kid, "k1", 2);
}

/* An RS configured without the AS public key refuses Sign1 (4.01), one
 * without the shared key refuses Encrypt0. */
static void
test_missing_as_key(void **state)
{
	struct kdcdev_rs_cfg cfg;
	struct spec s = sym("k", "open");
	kdc_err r;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.aud = "lock1";
	cfg.as_uri = "coaps://as";
	cfg.as_key = AS_KEY;
	cfg.as_key_len = 16;
	cfg.clock = clk;
	assert_int_equal(kdcdev_rs_init(&RS, &cfg), KDC_OK);
	s.type = KDC_COSE_SIGN1;
	s.ec2 = true;
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(4, 1));
	assert_int_equal(r, KDC_ERR_BAD_SIGNATURE);
	cfg.as_key = NULL;
	cfg.as_x = as_x;
	cfg.as_y = as_y;
	assert_int_equal(kdcdev_rs_init(&RS, &cfg), KDC_OK);
	s = sym("k", "open");
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(4, 1));
	cfg.as_x = NULL;
	assert_int_equal(kdcdev_rs_init(&RS, &cfg), KDC_ERR_INVALID_ARG);
	cfg.as_key = AS_KEY;
	cfg.as_key_len = 15;
	assert_int_equal(kdcdev_rs_init(&RS, &cfg), KDC_ERR_INVALID_ARG);
}

/* One key, one alg: a token under the AS-RS key but another AEAD alg
 * (AES-CCM-16-128-128, A128GCM) is refused, not opened with it. */
static void
test_other_alg(void **state)
{
	struct spec s = sym("k", "open");
	kdc_err r;

	(void)state;
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(2, 1));
	s.cti = 2;
	s.enc_alg = KDC_COSE_ALG_CCM_16_128_128;
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(4, 1));
	assert_int_equal(r, KDC_ERR_BAD_SIGNATURE);
	s.cti = 3;
	s.enc_alg = KDC_COSE_ALG_A128GCM;
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(4, 1));
	assert_int_equal(r, KDC_ERR_BAD_SIGNATURE);
}

/* Every byte flipped, of both kinds of token: never accepted. */
static void
test_tampered(void **state)
{
	struct spec specs[2];
	uint8_t tok[1024];
	kdc_err r;

	(void)state;
	specs[0] = sym("tamper", "open");
	specs[1] = sym("tamper", "open");
	specs[1].type = KDC_COSE_SIGN1;
	specs[1].ec2 = true;
	for (int k = 0; k < 2; k++) {
		size_t n = make(&specs[k], tok, sizeof(tok));

		for (size_t i = 0; i < n; i++) {
			uint8_t code;

			tok[i] ^= 0x01;
			code = post(tok, n, &r, NULL, NULL);
			if (code == KDCDEV_CODE(2, 1))
				fail_msg("token %d accepted with byte %zu "
				    "flipped", k, i);
			assert_true(code == KDCDEV_CODE(4, 0) ||
			    code == KDCDEV_CODE(4, 1));
			tok[i] ^= 0x01;
		}
		assert_int_equal(kdcdev_rs_count(&RS), (size_t)k);
		assert_int_equal(post(tok, n, &r, NULL, NULL),
		    KDCDEV_CODE(2, 1));
	}
}

/* Every prefix fails cleanly (4.00 or 4.01), and an empty body too. */
static void
test_truncated(void **state)
{
	struct spec specs[2];
	uint8_t tok[1024], copy[1024];
	kdc_err r;

	(void)state;
	specs[0] = sym("trunc", "open");
	specs[1] = sym("trunc", "read");
	specs[1].type = KDC_COSE_SIGN1;
	specs[1].ec2 = true;
	for (int k = 0; k < 2; k++) {
		size_t n = make(&specs[k], tok, sizeof(tok));

		for (size_t i = 0; i < n; i++) {
			uint8_t code;

			memcpy(copy, tok, i);	/* exactly i bytes */
			code = post(copy, i, &r, NULL, NULL);
			assert_true(code == KDCDEV_CODE(4, 0) ||
			    code == KDCDEV_CODE(4, 1));
		}
		assert_int_equal(kdcdev_rs_count(&RS), 0);
	}
	assert_int_equal(post(NULL, 0, &r, NULL, NULL), KDCDEV_CODE(4, 0));
}

static void
test_psk_lookup(void **state)
{
	struct spec s = sym("kid-L", "open");
	uint8_t key[16], kid[4], id[64];
	size_t kl = sizeof(key), kidl = sizeof(kid), idl = sizeof(id);
	kdc_err r;

	(void)state;
	assert_int_equal(lookup((const uint8_t *)"kid-L", 5, key),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(2, 1));
	/* unknown kid, in both identity forms */
	assert_int_equal(lookup((const uint8_t *)"kid-M", 5, key),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(kdcdev_ace_psk_identity((const uint8_t *)"kid-M", 5,
	    id, &idl), KDC_OK);
	assert_int_equal(lookup(id, idl, key), KDC_ERR_NOT_FOUND);
	assert_int_equal(lookup((const uint8_t *)"kid-", 4, key),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(lookup(NULL, 0, key), KDC_ERR_INVALID_ARG);
	/* the known kid in the RFC 9202 form is found; the same cnf with a
	 * key in it is no identity (it names no stored token) */
	idl = sizeof(id);
	assert_int_equal(kdcdev_ace_psk_identity((const uint8_t *)"kid-L", 5,
	    id, &idl), KDC_OK);
	assert_int_equal(lookup(id, idl, key), KDC_OK);
	{
		/* {8: {1: {1: 4, 2: 'kid-L', -1: h'00'}}} */
		static const uint8_t withk[] = { 0xa1, 0x08, 0xa1, 0x01, 0xa3,
		    0x01, 0x04, 0x02, 0x45, 'k', 'i', 'd', '-', 'L', 0x20,
		    0x41, 0x00 };

		assert_int_equal(lookup(withk, sizeof(withk), key),
		    KDC_ERR_NOT_FOUND);
	}
	/* a kid buffer too small */
	assert_int_equal(kdcdev_rs_psk_lookup(&RS, (const uint8_t *)"kid-L", 5,
	    key, &kl, kid, &kidl), KDC_ERR_TOO_LARGE);
	/* expired: dropped at lookup, and access says 4.01 */
	now_v = NOW + 3600;
	assert_int_equal(lookup((const uint8_t *)"kid-L", 5, key),
	    KDC_ERR_EXPIRED);
	assert_int_equal(kdcdev_rs_count(&RS), 0);
	assert_int_equal(access_("kid-L", KDCDEV_POST, "lock/open", &r),
	    KDCDEV_CODE(4, 1));
}

/* Access rights end at exp even without a lookup. */
static void
test_access_expired(void **state)
{
	struct spec s = sym("kid-E", "open");
	kdc_err r;

	(void)state;
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(2, 1));
	now_v = NOW + 3599;
	assert_int_equal(access_("kid-E", KDCDEV_POST, "lock/open", &r),
	    KDCDEV_CODE(2, 0));
	now_v = NOW + 3600;
	assert_int_equal(access_("kid-E", KDCDEV_POST, "lock/open", &r),
	    KDCDEV_CODE(4, 1));
	assert_int_equal(r, KDC_ERR_UNKNOWN_DEVICE);
}

/* A second token for the same kid replaces the first (RFC 9200 §5.10.1). */
static void
test_supersede(void **state)
{
	struct spec s = sym("kid-S", "open");
	kdc_err r;

	(void)state;
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(2, 1));
	s.scope = "close";
	s.cti = 2;
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(2, 1));
	assert_int_equal(kdcdev_rs_count(&RS), 1);
	assert_int_equal(access_("kid-S", KDCDEV_POST, "lock/open", &r),
	    KDCDEV_CODE(4, 3));
	assert_int_equal(access_("kid-S", KDCDEV_POST, "lock/close", &r),
	    KDCDEV_CODE(2, 0));
}

/* TRL: the listed token is dropped, and refused when POSTed again; the
 * others stay. Through the hash list and through a TRL body. */
static void
test_trl(void **state)
{
	struct spec a = sym("kid-T1", "open"), b = sym("kid-T2", "open");
	uint8_t ta[1024], tb[1024], h[1][KDCDEV_RS_HASH_LEN], body[64];
	size_t na, nb, dropped = 99;
	uint8_t key[16];
	kdc_err r;

	(void)state;
	b.cti = 7;
	na = make(&a, ta, sizeof(ta));
	nb = make(&b, tb, sizeof(tb));
	assert_int_equal(post(ta, na, &r, NULL, NULL), KDCDEV_CODE(2, 1));
	assert_int_equal(post(tb, nb, &r, NULL, NULL), KDCDEV_CODE(2, 1));
	kdcdev_rs_token_hash(ta, na, h[0]);
	assert_int_equal(kdcdev_rs_trl_apply(&RS,
	    (const uint8_t (*)[KDCDEV_RS_HASH_LEN])h, 1, &dropped), KDC_OK);
	assert_int_equal(dropped, 1);
	assert_int_equal(kdcdev_rs_count(&RS), 1);
	assert_int_equal(lookup((const uint8_t *)"kid-T1", 6, key),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(lookup((const uint8_t *)"kid-T2", 6, key), KDC_OK);
	assert_int_equal(post(ta, na, &r, NULL, NULL), KDCDEV_CODE(4, 1));
	assert_int_equal(r, KDC_ERR_REVOKED);

	/* {0: [h'01..']} for the second */
	body[0] = 0xa1;
	body[1] = 0x00;
	body[2] = 0x81;
	body[3] = 0x58;
	body[4] = KDCDEV_RS_HASH_LEN;
	kdcdev_rs_token_hash(tb, nb, body + 5);
	assert_int_equal(kdcdev_rs_trl_body(&RS, body, 5 + KDCDEV_RS_HASH_LEN,
	    &dropped), KDC_OK);
	assert_int_equal(dropped, 1);
	assert_int_equal(kdcdev_rs_count(&RS), 0);
	assert_int_equal(post(tb, nb, &r, NULL, NULL), KDCDEV_CODE(4, 1));
	/* bad bodies change nothing */
	assert_int_equal(kdcdev_rs_trl_body(&RS, body, 4 + KDCDEV_RS_HASH_LEN,
	    &dropped), KDC_ERR_TRUNCATED);
	body[4] = 32;
	assert_int_equal(kdcdev_rs_trl_body(&RS, body, 5 + KDCDEV_RS_HASH_LEN,
	    &dropped), KDC_ERR_MALFORMED);
	assert_int_equal(kdcdev_rs_trl_body(&RS, (const uint8_t *)"\xa1\x01\x80",
	    3, &dropped), KDC_ERR_UNSUPPORTED);
}

/* The remembered TRL is bounded: expired entries go first. */
static void
test_trl_bounded(void **state)
{
	uint8_t h[KDCDEV_RS_TRL + 1][KDCDEV_RS_HASH_LEN];
	struct spec s = sym("kid-B", "open");
	uint8_t tok[1024];
	size_t n;
	kdc_err r;

	(void)state;
	n = make(&s, tok, sizeof(tok));
	assert_int_equal(post(tok, n, &r, NULL, NULL), KDCDEV_CODE(2, 1));
	kdcdev_rs_token_hash(tok, n, h[0]);	/* a known exp */
	for (size_t i = 1; i <= KDCDEV_RS_TRL; i++) {
		memset(h[i], (int)i, KDCDEV_RS_HASH_LEN);
		h[i][0] = 1;
	}
	assert_int_equal(kdcdev_rs_trl_apply(&RS,
	    (const uint8_t (*)[KDCDEV_RS_HASH_LEN])h, KDCDEV_RS_TRL, NULL),
	    KDC_OK);
	/* full: one more forgets the oldest (ours, h[0]) */
	assert_int_equal(kdcdev_rs_trl_apply(&RS,
	    (const uint8_t (*)[KDCDEV_RS_HASH_LEN])&h[KDCDEV_RS_TRL], 1, NULL),
	    KDC_OK);
	assert_int_equal(post(tok, n, &r, NULL, NULL), KDCDEV_CODE(2, 1));
	/* again, but now our token's entry expired before the rest */
	assert_int_equal(kdcdev_rs_init(&RS, &(struct kdcdev_rs_cfg){
	    .aud = "lock1", .as_uri = "coaps://as", .as_key = AS_KEY,
	    .as_key_len = 16, .clock = clk }), KDC_OK);
	for (size_t i = 1; i < KDCDEV_RS_TRL; i++)
		assert_int_equal(kdcdev_rs_trl_apply(&RS,
		    (const uint8_t (*)[KDCDEV_RS_HASH_LEN])&h[i], 1, NULL),
		    KDC_OK);
	assert_int_equal(post(tok, n, &r, NULL, NULL), KDCDEV_CODE(2, 1));
	assert_int_equal(kdcdev_rs_trl_apply(&RS,
	    (const uint8_t (*)[KDCDEV_RS_HASH_LEN])h, 1, NULL), KDC_OK);
	now_v = NOW + 3600;	/* ours expired; the others' exp unknown */
	assert_int_equal(kdcdev_rs_trl_apply(&RS,
	    (const uint8_t (*)[KDCDEV_RS_HASH_LEN])&h[KDCDEV_RS_TRL], 1, NULL),
	    KDC_OK);
	for (size_t i = 1; i <= KDCDEV_RS_TRL; i++) {
		bool found = false;
		for (size_t j = 0; j < KDCDEV_RS_TRL; j++)
			found |= RS.trl[j].used && memcmp(RS.trl[j].hash, h[i],
			    KDCDEV_RS_HASH_LEN) == 0;
		assert_true(found);
	}
}

/* A full store: expired tokens go first, then the oldest. */
static void
test_store_full(void **state)
{
	char kid[16];
	struct spec s;
	uint8_t key[16];
	kdc_err r;

	(void)state;
	for (int i = 0; i < KDCDEV_RS_TOKENS; i++) {
		snprintf(kid, sizeof(kid), "kid-%02d", i);
		s = sym(kid, "open");
		s.cti = (uint8_t)i;
		if (i == 5)
			s.exp = NOW + 10;	/* expires early */
		assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(2, 1));
	}
	assert_int_equal(kdcdev_rs_count(&RS), KDCDEV_RS_TOKENS);
	now_v = NOW + 10;	/* kid-05 has expired */
	s = sym("kid-new1", "open");
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(2, 1));
	assert_int_equal(lookup((const uint8_t *)"kid-05", 6, key),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(lookup((const uint8_t *)"kid-00", 6, key), KDC_OK);
	/* nothing expired now: the oldest (kid-00) goes */
	s = sym("kid-new2", "open");
	assert_int_equal(post_spec(&s, &r), KDCDEV_CODE(2, 1));
	assert_int_equal(lookup((const uint8_t *)"kid-00", 6, key),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(lookup((const uint8_t *)"kid-01", 6, key), KDC_OK);
	assert_int_equal(lookup((const uint8_t *)"kid-new1", 8, key), KDC_OK);
	assert_int_equal(lookup((const uint8_t *)"kid-new2", 8, key), KDC_OK);
	assert_int_equal(kdcdev_rs_count(&RS), KDCDEV_RS_TOKENS);
}

/* The client helpers against RFC 9202's examples. */
static void
test_client_vectors(void **state)
{
	static const uint8_t fig9[] = {
		0xa1, 0x08, 0xa1, 0x01, 0xa2, 0x01, 0x04, 0x02, 0x48, 0x3d, 0x02,
		0x78, 0x33, 0xfc, 0x62, 0x67, 0xce,
	};
	static const uint8_t fig6[] = {
		0xa5, 0x01, 0x44, 0xd0, 0x83, 0x43, 0xa1, 0x02, 0x1a, 0x00, 0x01,
		0x51, 0x80, 0x08, 0xa1, 0x01, 0xa3, 0x01, 0x04, 0x02, 0x48, 0x3d,
		0x02, 0x78, 0x33, 0xfc, 0x62, 0x67, 0xce, 0x20, 0x4a, 0x73, 0x65,
		0x73, 0x73, 0x69, 0x6f, 0x6e, 0x6b, 0x65, 0x79, 0x18, 0x22, 0x02,
		0x18, 0x26, 0x01,
	};
	static const uint8_t fig5[] = {
		0xa1, 0x05, 0x6f, 's', 'm', 'o', 'k', 'e', 'S', 'e', 'n', 's',
		'o', 'r', '1', '8', '0', '7',
	};
	uint8_t out[64];
	size_t n = sizeof(out);
	struct kdcdev_ace_token t;

	(void)state;
	assert_int_equal(kdcdev_ace_psk_identity(fig9 + 9, 8, out, &n), KDC_OK);
	assert_int_equal(n, sizeof(fig9));
	assert_memory_equal(out, fig9, n);
	n = sizeof(out);
	assert_int_equal(kdcdev_ace_token_req("smokeSensor1807", NULL, out, &n),
	    KDC_OK);
	assert_int_equal(n, sizeof(fig5));
	assert_memory_equal(out, fig5, n);
	assert_int_equal(kdcdev_ace_token_resp(fig6, sizeof(fig6), &t), KDC_OK);
	assert_int_equal(t.token_len, 4);
	assert_ptr_equal(t.token, fig6 + 3);
	assert_int_equal(t.expires_in, 86400);
	assert_int_equal(t.profile, 1);
	assert_int_equal(t.kid_len, 8);
	assert_memory_equal(t.kid, fig9 + 9, 8);
	assert_int_equal(t.key_len, 10);
	assert_memory_equal(t.key, "sessionkey", 10);
	assert_int_equal(t.error, 0);
	/* every prefix fails */
	for (size_t i = 0; i < sizeof(fig6); i++)
		assert_int_not_equal(kdcdev_ace_token_resp(fig6, i, &t), KDC_OK);
	/* an error answer */
	assert_int_equal(kdcdev_ace_token_resp((const uint8_t *)"\xa1\x18\x1e"
	    "\x06", 4, &t), KDC_OK);
	assert_int_equal(t.error, 6);
}

/* Asymmetric PoP on the client side: req_cnf in the request (keys in
 * order 4, 5, 9), rs_cnf in the answer; bounds. */
static void
test_client_pop(void **state)
{
	uint8_t x[32], y[32], out[256], resp[128];
	size_t n = sizeof(out), k = 0;
	struct kdcdev_ace_token t;

	(void)state;
	memset(x, 0x11, sizeof(x));
	memset(y, 0x22, sizeof(y));
	assert_int_equal(kdcdev_ace_token_req_pop("lock1", "open", x, y, out,
	    &n), KDC_OK);
	/* {4: {1: {1: 2, -1: 1, -2: x, -3: y}}, 5: "lock1", 9: "open"} */
	assert_int_equal(n, 3 + 2 + 4 + 2 * 35 + 7 + 6);
	assert_memory_equal(out, "\xa3\x04\xa1\x01\xa4\x01\x02\x20\x01\x21"
	    "\x58\x20", 12);
	assert_memory_equal(out + 12, x, 32);
	assert_memory_equal(out + 44, "\x22\x58\x20", 3);
	assert_memory_equal(out + 47, y, 32);
	assert_memory_equal(out + 79, "\x05\x65lock1\x09\x64open", 13);
	n = sizeof(out);
	assert_int_equal(kdcdev_ace_token_req_pop("lock1", NULL, x, NULL, out,
	    &n), KDC_ERR_INVALID_ARG);
	n = 40;
	assert_int_not_equal(kdcdev_ace_token_req_pop("lock1", NULL, x, y, out,
	    &n), KDC_OK);
	/* {1: h'0102', 41: {1: {1: 2, -1: 1, -2: x, -3: y}}} */
	resp[k++] = 0xa2;
	memcpy(resp + k, "\x01\x42\x01\x02\x18\x29\xa1\x01\xa4\x01\x02\x20"
	    "\x01\x21\x58\x20", 16);
	k += 16;
	memcpy(resp + k, x, 32);
	k += 32;
	memcpy(resp + k, "\x22\x58\x20", 3);
	k += 3;
	memcpy(resp + k, y, 32);
	k += 32;
	assert_int_equal(kdcdev_ace_token_resp(resp, k, &t), KDC_OK);
	assert_non_null(t.rs_x);
	assert_memory_equal(t.rs_x, x, 32);
	assert_memory_equal(t.rs_y, y, 32);
	assert_null(t.key);
	for (size_t i = 0; i < k; i++)
		assert_int_not_equal(kdcdev_ace_token_resp(resp, i, &t), KDC_OK);
	resp[11] = 0x01;	/* kty 1 (OKP): not an EC2 key */
	assert_int_not_equal(kdcdev_ace_token_resp(resp, k, &t), KDC_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_and_hash),
		cmocka_unit_test_setup(test_encrypt0_accepted, setup),
		cmocka_unit_test_setup(test_no_token_hints, setup),
		cmocka_unit_test_setup(test_sign1_ec2_accepted, setup),
		cmocka_unit_test_setup(test_refusals, setup),
		cmocka_unit_test_setup(test_missing_as_key, setup),
		cmocka_unit_test_setup(test_other_alg, setup),
		cmocka_unit_test_setup(test_tampered, setup),
		cmocka_unit_test_setup(test_truncated, setup),
		cmocka_unit_test_setup(test_psk_lookup, setup),
		cmocka_unit_test_setup(test_access_expired, setup),
		cmocka_unit_test_setup(test_supersede, setup),
		cmocka_unit_test_setup(test_trl, setup),
		cmocka_unit_test_setup(test_trl_bounded, setup),
		cmocka_unit_test_setup(test_store_full, setup),
		cmocka_unit_test(test_client_vectors),
		cmocka_unit_test(test_client_pop),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
