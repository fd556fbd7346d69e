/*
 * crypto_openssl.c: ES256 of cose_crypto.h on OpenSSL 3 libcrypto: the
 * variant the daemon and the device library's host port link, beside
 * crypto_gnutls.c (the other primitives). Measured on these machines
 * (docs/perf.md "ACE tokens"): a COSE ES256 verify ~66-70 us against
 * nettle's ~135-140 us (crypto_gnutls_es256.c, the portable variant),
 * a sign ~40 against ~49 us. Ed25519, HMAC and AEAD stay on GnuTLS,
 * which is faster for them here.
 *
 * Keys cross as raw coordinates and scalars; no EC_KEY (deprecated in
 * OpenSSL 3): a public key is a copy of the P-256 parameters plus its
 * point (EVP_PKEY_set1_encoded_public_key(), which refuses a point off
 * the curve; ~5 us where EVP_PKEY_fromdata() takes ~15), a private key
 * comes from OSSL_PARAMs (EVP_PKEY_fromdata()). Signatures cross as raw
 * r || s; OpenSSL speaks DER (Ecdsa-Sig-Value): verify encodes ours
 * (shortest form, the only one OpenSSL accepts), sign decodes OpenSSL's
 * with d2i_ECDSA_SIG().
 *
 * Secrets: the scalar we hand OpenSSL is a copy in its byte order on our
 * stack, wiped before return; OpenSSL's own copy is a BIGNUM freed with
 * BN_clear_free() by EVP_PKEY_free(). OpenSSL's error queue is per thread
 * and grows with each failure: every failing path clears it.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>

#include "base/wipe.h"
#include "cose/cose_crypto.h"

const char *
kdc_cc_es256_impl(void)
{
	return "openssl";
}

/* The P-256 domain parameters alone, made once (public, constant). */
static pthread_once_t	 p256_once = PTHREAD_ONCE_INIT;
static EVP_PKEY		*p256;

static void
p256_make(void)
{
	OSSL_PARAM ps[2];
	EVP_PKEY_CTX *ctx;

	ps[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
	    (char *)(uintptr_t)SN_X9_62_prime256v1, 0);
	ps[1] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &p256, EVP_PKEY_KEY_PARAMETERS, ps) != 1)
		p256 = NULL;
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
}

/* One INTEGER of an Ecdsa-Sig-Value from 32 big-endian bytes, shortest
 * form (a leading zero octet only before a set top bit): 3..35 bytes. */
static size_t
der_int(const uint8_t v[32], uint8_t *out)
{
	size_t i = 0, n;

	while (i < 31 && v[i] == 0)
		i++;
	n = 32 - i;
	out[0] = 0x02;
	if (v[i] & 0x80) {
		out[1] = (uint8_t)(n + 1);
		out[2] = 0;
		memcpy(out + 3, v + i, n);
		return n + 3;
	}
	out[1] = (uint8_t)n;
	memcpy(out + 2, v + i, n);
	return n + 2;
}

kdc_err
kdc_cc_es256_sign(const uint8_t d[32], const uint8_t *x, const uint8_t *y,
    const uint8_t *msg, size_t msg_len, uint8_t sig[64])
{
	static const uint8_t empty[1];
	uint8_t dn[32], pt[65], der[80];
	size_t der_len = sizeof(der), np = 0;
	OSSL_PARAM ps[4];
	EVP_PKEY_CTX *kctx = NULL;
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *mctx = NULL;
	ECDSA_SIG *es = NULL;
	const BIGNUM *r, *s;
	const unsigned char *p;
	kdc_err ret = KDC_ERR_CRYPTO;

	memset(sig, 0, 64);
	if (d == NULL || (msg == NULL && msg_len > 0))
		return KDC_ERR_INVALID_ARG;
	/* OSSL_PARAM_construct_BN() reads the integer in native order */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (size_t i = 0; i < 32; i++)
		dn[i] = d[31 - i];
#else
	memcpy(dn, d, 32);
#endif
	ps[np++] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, (char *)(uintptr_t)SN_X9_62_prime256v1,
	    0);
	ps[np++] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, dn,
	    sizeof(dn));
	if (x != NULL && y != NULL) {
		/* with the point OpenSSL need not derive it */
		pt[0] = 0x04;
		memcpy(pt + 1, x, 32);
		memcpy(pt + 33, y, 32);
		ps[np++] = OSSL_PARAM_construct_octet_string(
		    OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt));
	}
	ps[np] = OSSL_PARAM_construct_end();
	if ((kctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(kctx) != 1)
		goto out;
	if (EVP_PKEY_fromdata(kctx, &key, EVP_PKEY_KEYPAIR, ps) != 1) {
		ret = KDC_ERR_INVALID_ARG;
		goto out;
	}
	/* the nonce: OpenSSL's DRBG mixed with the key and the digest
	 * (BN_generate_dsa_nonce), never the bare RNG */
	if ((mctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(mctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(mctx, der, &der_len, msg != NULL ? msg : empty,
	    msg_len) != 1)
		goto out;
	p = der;
	if ((es = d2i_ECDSA_SIG(NULL, &p, (long)der_len)) == NULL ||
	    p != der + der_len)
		goto out;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, sig, 32) != 32 ||
	    BN_bn2binpad(s, sig + 32, 32) != 32)
		goto out;
	ret = KDC_OK;
out:
	kdc_wipe(dn, sizeof(dn));
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_free(key);		/* BN_clear_free of OpenSSL's scalar */
	EVP_PKEY_CTX_free(kctx);
	if (ret != KDC_OK) {
		memset(sig, 0, 64);
		ERR_clear_error();
	}
	return ret;
}

kdc_err
kdc_cc_es256_verify(const uint8_t x[32], const uint8_t y[32],
    const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len)
{
	static const uint8_t empty[1];
	uint8_t pt[65], der[72];
	size_t n;
	EVP_PKEY *pub = NULL;
	EVP_MD_CTX *ctx = NULL;
	kdc_err ret = KDC_ERR_CRYPTO;

	if (x == NULL || y == NULL || (msg == NULL && msg_len > 0))
		return KDC_ERR_INVALID_ARG;
	if (sig == NULL || sig_len != 64)
		return KDC_ERR_BAD_SIGNATURE;
	(void)pthread_once(&p256_once, p256_make);
	if (p256 == NULL)
		return KDC_ERR_CRYPTO;
	pt[0] = 0x04;
	memcpy(pt + 1, x, 32);
	memcpy(pt + 33, y, 32);
	n = der_int(sig, der + 2);
	n += der_int(sig + 32, der + 2 + n);
	der[0] = 0x30;
	der[1] = (uint8_t)n;
	if ((pub = EVP_PKEY_new()) == NULL ||
	    EVP_PKEY_copy_parameters(pub, p256) != 1 ||
	    (ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	/* a point off the curve is refused here: it verifies nothing (what
	 * nettle answers too, at its verify) */
	if (EVP_PKEY_set1_encoded_public_key(pub, pt, sizeof(pt)) != 1) {
		ret = KDC_ERR_BAD_SIGNATURE;
		goto out;
	}
	if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub) != 1)
		goto out;
	/* 1: verifies; 0: does not; < 0: r or s out of range and the like */
	ret = EVP_DigestVerify(ctx, der, n + 2, msg != NULL ? msg : empty,
	    msg_len) == 1 ? KDC_OK : KDC_ERR_BAD_SIGNATURE;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pub);
	if (ret != KDC_OK)
		ERR_clear_error();
	return ret;
}
