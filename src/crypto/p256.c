/*
 * p256.c: ECDSA P-256 on the enrollment hot path (p256.h): OpenSSL 3
 * libcrypto where it is measured faster than nettle (a CSR verify + a
 * certificate sign: 229-350 µs with nettle, 108-155 µs with OpenSSL on
 * these machines, ../shared/protocols/transport.md §4), GnuTLS for the
 * rest. With cose/crypto_openssl.c (COSE's ES256), the only files of
 * iotkdc that include an OpenSSL header.
 *
 * OpenSSL's error queue is per thread and grows with every failure: each
 * path that may fail clears it, so a refused CSR leaves nothing behind.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/x509.h>

#include "base/log.h"
#include "crypto/crypto_int.h"
#include "crypto/p256.h"

/* The canonical P-256 SubjectPublicKeyInfo: 26 bytes of header
 * (id-ecPublicKey, prime256v1, BIT STRING of 66 bytes), then the
 * uncompressed point 0x04 || x || y. */
#define SPKI_LEN	91
#define SPKI_POINT	26
static const uint8_t spki_head[SPKI_POINT + 1] = {
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d,
	0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
	0x07, 0x03, 0x42, 0x00, 0x04,
};

static atomic_bool		force_gnutls;
static _Thread_local bool	last_openssl;

void
kdc_p256_force_gnutls(bool on)
{
	atomic_store(&force_gnutls, on);
}

bool
kdc_p256_last_was_openssl(void)
{
	return last_openssl;
}

static bool
use_openssl(void)
{
	return !atomic_load_explicit(&force_gnutls, memory_order_relaxed);
}

static const EVP_MD *
hash_md(enum kdc_p256_hash h)
{
	switch (h) {
	case KDC_P256_SHA256:
		return EVP_sha256();
	case KDC_P256_SHA384:
		return EVP_sha384();
	case KDC_P256_SHA512:
		return EVP_sha512();
	}
	return NULL;
}

/* ---- verify ---------------------------------------------------------------- */

/*
 * P-256 domain parameters alone, made once: each CSR's key is a copy of
 * them plus its point (EVP_PKEY_set1_encoded_public_key(), which refuses
 * a point off the curve: EC_POINT_oct2point). 4.5 µs a key here, where
 * d2i_PUBKEY() of the same SPKI takes ~110 µs in OpenSSL 3.0 (its
 * decoder framework), more than the verify itself (~60 µs).
 */
static pthread_once_t	 params_once = PTHREAD_ONCE_INIT;
static EVP_PKEY		*params;

static void
params_make(void)
{
	OSSL_PARAM ps[2];
	EVP_PKEY_CTX *ctx;

	ps[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
	    (char *)(uintptr_t)SN_X9_62_prime256v1, 0);
	ps[1] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &params, EVP_PKEY_KEY_PARAMETERS, ps) != 1)
		params = NULL;
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
}

static kdc_err
verify_openssl(const uint8_t *point, const EVP_MD *md, const uint8_t *data,
    size_t len, const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY *pub = NULL;
	EVP_MD_CTX *ctx = NULL;
	kdc_err r;
	int rc;

	(void)pthread_once(&params_once, params_make);
	if (params == NULL)
		return KDC_ERR_CRYPTO;
	if ((pub = EVP_PKEY_new()) == NULL ||
	    (ctx = EVP_MD_CTX_new()) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	if (EVP_PKEY_copy_parameters(pub, params) != 1) {
		r = KDC_ERR_CRYPTO;
		goto out;
	}
	/* a point off the curve is refused here */
	if (EVP_PKEY_set1_encoded_public_key(pub, point, SPKI_LEN -
	    SPKI_POINT) != 1) {
		r = KDC_ERR_BAD_SIGNATURE;
		goto out;
	}
	if (EVP_DigestVerifyInit(ctx, NULL, md, NULL, pub) != 1) {
		r = KDC_ERR_CRYPTO;
		goto out;
	}
	/* 1: verifies; 0: does not; < 0: not a DER Ecdsa-Sig-Value (OpenSSL
	 * re-encodes it and refuses any other encoding) */
	rc = EVP_DigestVerify(ctx, sig, sig_len, data, len);
	r = rc == 1 ? KDC_OK : KDC_ERR_BAD_SIGNATURE;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pub);
	if (r != KDC_OK)
		ERR_clear_error();
	return r;
}

static kdc_err
verify_gnutls(const uint8_t *point, enum kdc_p256_hash h,
    const uint8_t *data, size_t len, const uint8_t *sig, size_t sig_len)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_sign_algorithm_t algo;
	gnutls_datum_t x, y, d, s;
	kdc_err r;
	int rc;

	algo = h == KDC_P256_SHA256 ? GNUTLS_SIGN_ECDSA_SHA256 :
	    h == KDC_P256_SHA384 ? GNUTLS_SIGN_ECDSA_SHA384 :
	    GNUTLS_SIGN_ECDSA_SHA512;
	if ((rc = gnutls_pubkey_init(&pub)) < 0)
		return KDC_CRYPTO_GTERR("gnutls_pubkey_init", rc);
	x.data = (unsigned char *)(uintptr_t)point + 1;
	x.size = 32;
	y.data = x.data + 32;
	y.size = 32;
	if (gnutls_pubkey_import_ecc_raw(pub, GNUTLS_ECC_CURVE_SECP256R1, &x,
	    &y) < 0) {
		r = KDC_ERR_BAD_SIGNATURE;
		goto out;
	}
	d.data = (unsigned char *)(uintptr_t)data;
	d.size = (unsigned)len;
	s.data = (unsigned char *)(uintptr_t)sig;
	s.size = (unsigned)sig_len;
	/* a point off the curve fails here (nettle's ecc_point_set) */
	r = gnutls_pubkey_verify_data2(pub, algo, 0, &d, &s) < 0 ?
	    KDC_ERR_BAD_SIGNATURE : KDC_OK;
out:
	gnutls_pubkey_deinit(pub);
	return r;
}

kdc_err
crypto_p256_verify(const uint8_t *spki, size_t spki_len,
    enum kdc_p256_hash hash, const uint8_t *data, size_t len,
    const uint8_t *sig, size_t sig_len)
{
	const EVP_MD *md;

	if ((md = hash_md(hash)) == NULL)
		return KDC_ERR_INVALID_ARG;
	if (spki == NULL || data == NULL || sig == NULL || len > UINT32_MAX ||
	    sig_len > KDC_P256_SIG_MAX || spki_len != SPKI_LEN ||
	    memcmp(spki, spki_head, SPKI_POINT + 1) != 0)
		return KDC_ERR_BAD_SIGNATURE;
	last_openssl = use_openssl();
	if (last_openssl)
		return verify_openssl(spki + SPKI_POINT, md, data, len, sig,
		    sig_len);
	return verify_gnutls(spki + SPKI_POINT, hash, data, len, sig,
	    sig_len);
}

/* ---- the CA key ------------------------------------------------------------- */

/* The CA certificate's SubjectPublicKeyInfo, DER, gnutls_malloc'd. */
static kdc_err
ca_spki(const struct kdc_ca *ca, gnutls_datum_t *out)
{
	gnutls_pubkey_t pub = NULL;
	int rc;

	out->data = NULL;
	out->size = 0;
	if ((rc = gnutls_pubkey_init(&pub)) < 0)
		return KDC_CRYPTO_GTERR("gnutls_pubkey_init", rc);
	rc = gnutls_pubkey_import_x509(pub, ca->crt, 0);
	if (rc >= 0)
		rc = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, out);
	gnutls_pubkey_deinit(pub);
	return rc < 0 ? KDC_CRYPTO_GTERR_AS("gnutls_pubkey_export2", rc,
	    KDC_ERR_MALFORMED) : KDC_OK;
}

kdc_err
crypto_p256_ca_key_load(struct kdc_ca *ca, const uint8_t *pkcs8,
    size_t pkcs8_len)
{
	const unsigned char *p = pkcs8;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *key = NULL;
	gnutls_datum_t want = { NULL, 0 };
	unsigned char *got = NULL;
	int got_len = 0;
	kdc_err r;

	crypto_p256_ca_key_free(ca);
	if (pkcs8_len > KDC_PRIVKEY_MAX)
		return KDC_ERR_BAD_KEY;
	/* PKCS8_PRIV_KEY_INFO_free() cleanses the key octets it holds, and
	 * EVP_PKCS82PKEY() its own DER copy (OPENSSL_clear_free) */
	if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)pkcs8_len)) ==
	    NULL || p != pkcs8 + pkcs8_len ||
	    (key = EVP_PKCS82PKEY(p8)) == NULL) {
		r = KDC_ERR_BAD_KEY;
		goto out;
	}
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
	    EVP_PKEY_get_bits(key) != 256) {
		r = KDC_OK;		/* not ours to speed up: GnuTLS signs */
		goto out;
	}
	/* The same public key as the certificate's, read by both libraries:
	 * a key OpenSSL read otherwise would sign certificates no one can
	 * verify. */
	if ((r = ca_spki(ca, &want)) != KDC_OK)
		goto out;
	if ((got_len = i2d_PUBKEY(key, &got)) <= 0 ||
	    (size_t)got_len != want.size ||
	    memcmp(got, want.data, want.size) != 0) {
		r = KDC_ERR_BAD_KEY;
		goto out;
	}
	ca->ossl_key = key;
	key = NULL;
	r = KDC_OK;
out:
	OPENSSL_free(got);
	gnutls_free(want.data);
	EVP_PKEY_free(key);
	PKCS8_PRIV_KEY_INFO_free(p8);
	ERR_clear_error();
	return r;
}

void
crypto_p256_ca_key_free(struct kdc_ca *ca)
{
	if (ca == NULL)
		return;
	EVP_PKEY_free(ca->ossl_key);
	ca->ossl_key = NULL;
}

static kdc_err
sign_openssl(EVP_PKEY *key, const uint8_t *data, size_t len, uint8_t *sig,
    size_t *sig_len)
{
	EVP_MD_CTX *ctx;
	size_t n = *sig_len;
	kdc_err r;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return KDC_ERR_NOMEM;
	/* The nonce: OpenSSL's DRBG mixed with the key and the digest
	 * (BN_generate_dsa_nonce), never the bare RNG. EVP_DigestSign()
	 * refuses a buffer under the key's largest signature (72 bytes). */
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, sig, &n, data, len) != 1) {
		r = *sig_len < 72 ? KDC_ERR_TOO_LARGE : KDC_ERR_CRYPTO;
		goto out;
	}
	*sig_len = n;
	r = KDC_OK;
out:
	EVP_MD_CTX_free(ctx);
	if (r != KDC_OK) {
		kdc_log_debug("OpenSSL ECDSA sign failed: %s",
		    ERR_reason_error_string(ERR_peek_error()) != NULL ?
		    ERR_reason_error_string(ERR_peek_error()) : "?");
		ERR_clear_error();
	}
	return r;
}

static kdc_err
sign_gnutls(struct kdc_ca *ca, const uint8_t *data, size_t len, uint8_t *sig,
    size_t *sig_len)
{
	gnutls_datum_t d = { (unsigned char *)(uintptr_t)data, (unsigned)len },
	    s = { NULL, 0 };
	int rc;

	if ((rc = gnutls_privkey_sign_data2(ca->key, GNUTLS_SIGN_ECDSA_SHA256,
	    0, &d, &s)) < 0)
		return KDC_CRYPTO_GTERR("gnutls_privkey_sign_data2", rc);
	if (s.size > *sig_len) {
		gnutls_free(s.data);
		return KDC_ERR_TOO_LARGE;
	}
	memcpy(sig, s.data, s.size);
	*sig_len = s.size;
	gnutls_free(s.data);
	return KDC_OK;
}

kdc_err
crypto_p256_ca_sign(struct kdc_ca *ca, const uint8_t *data, size_t len,
    uint8_t *sig, size_t *sig_len)
{
	if (len > UINT32_MAX)
		return KDC_ERR_TOO_LARGE;
	last_openssl = ca->ossl_key != NULL && use_openssl();
	if (last_openssl)
		return sign_openssl(ca->ossl_key, data, len, sig, sig_len);
	return sign_gnutls(ca, data, len, sig, sig_len);
}

/* ---- the AS key ------------------------------------------------------------ */

kdc_err
crypto_p256_key_import(const uint8_t *pkcs8, size_t pkcs8_len,
    const uint8_t *spki, size_t spki_len, struct evp_pkey_st **out)
{
	const unsigned char *p = pkcs8;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *key = NULL;
	unsigned char *got = NULL;
	int got_len = 0;
	kdc_err r;

	*out = NULL;
	if (pkcs8_len > KDC_PRIVKEY_MAX)
		return KDC_ERR_BAD_KEY;
	if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)pkcs8_len)) ==
	    NULL || p != pkcs8 + pkcs8_len ||
	    (key = EVP_PKCS82PKEY(p8)) == NULL) {
		r = KDC_ERR_BAD_KEY;
		goto out;
	}
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
	    EVP_PKEY_get_bits(key) != 256) {
		r = KDC_OK;
		goto out;
	}
	if ((got_len = i2d_PUBKEY(key, &got)) <= 0 ||
	    (size_t)got_len != spki_len || memcmp(got, spki, spki_len) != 0) {
		r = KDC_ERR_BAD_KEY;
		goto out;
	}
	*out = key;
	key = NULL;
	r = KDC_OK;
out:
	OPENSSL_free(got);
	EVP_PKEY_free(key);
	PKCS8_PRIV_KEY_INFO_free(p8);
	ERR_clear_error();
	return r;
}

void
crypto_p256_key_free(struct evp_pkey_st *k)
{
	EVP_PKEY_free(k);
}

kdc_err
crypto_p256_sign_raw(struct evp_pkey_st *k, void *gk, const uint8_t *data,
    size_t len, uint8_t rs[64])
{
	uint8_t der[KDC_P256_SIG_MAX];
	size_t der_len = sizeof(der);
	gnutls_datum_t dr = { NULL, 0 }, ds = { NULL, 0 }, in;
	kdc_err r;
	int rc;

	if (len > UINT32_MAX)
		return KDC_ERR_TOO_LARGE;
	last_openssl = k != NULL && use_openssl();
	if (last_openssl) {
		if ((r = sign_openssl(k, data, len, der, &der_len)) != KDC_OK)
			return r;
	} else {
		gnutls_datum_t d = { (unsigned char *)(uintptr_t)data,
		    (unsigned)len }, s = { NULL, 0 };

		if (gk == NULL)
			return KDC_ERR_INVALID_ARG;
		if ((rc = gnutls_privkey_sign_data2((gnutls_privkey_t)gk,
		    GNUTLS_SIGN_ECDSA_SHA256, 0, &d, &s)) < 0)
			return KDC_CRYPTO_GTERR("gnutls_privkey_sign_data2",
			    rc);
		if (s.size > sizeof(der)) {
			gnutls_free(s.data);
			return KDC_ERR_CRYPTO;
		}
		memcpy(der, s.data, s.size);
		der_len = s.size;
		gnutls_free(s.data);
	}
	in.data = der;
	in.size = (unsigned)der_len;
	if ((rc = gnutls_decode_rs_value(&in, &dr, &ds)) < 0)
		return KDC_CRYPTO_GTERR("gnutls_decode_rs_value", rc);
	/* INTEGERs: a leading zero octet when the top bit is set, fewer
	 * octets when the value is small; left-pad each to 32 */
	r = KDC_ERR_CRYPTO;
	{
		const uint8_t *pr = dr.data, *ps = ds.data;
		size_t lr = dr.size, ls = ds.size;

		while (lr > 32 && *pr == 0) {
			pr++;
			lr--;
		}
		while (ls > 32 && *ps == 0) {
			ps++;
			ls--;
		}
		if (lr <= 32 && ls <= 32) {
			memset(rs, 0, 64);
			memcpy(rs + 32 - lr, pr, lr);
			memcpy(rs + 64 - ls, ps, ls);
			r = KDC_OK;
		}
	}
	gnutls_free(dr.data);
	gnutls_free(ds.data);
	return r;
}
