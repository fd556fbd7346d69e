/*
 * crypto_gnutls.c: the primitives of cose_crypto.h that every host build
 * takes from GnuTLS (3.7.9): Ed25519, HMAC-SHA-256, AES-CCM/GCM and the
 * constant-time compare. ES256 is a variant of its own, one file each:
 * crypto_gnutls_es256.c (nettle) or crypto_openssl.c (OpenSSL 3
 * libcrypto, twice nettle's verify speed: the daemon and the device
 * library's host port). OpenSSL was measured slower for the rest on
 * these machines (docs/perf.md "ACE tokens"): Ed25519 verify 111 against
 * 97 us, HMAC 1.1 against 0.26 us, an AES-CCM seal of a token 0.50
 * against 0.33 us. GnuTLS allocates inside (key objects, signatures);
 * we do not.
 */
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "base/wipe.h"
#include "cose/cose_crypto.h"

static gnutls_datum_t
datum(const uint8_t *p, size_t n)
{
	gnutls_datum_t d;

	d.data = (unsigned char *)(uintptr_t)p;
	d.size = (unsigned)n;
	return d;
}

kdc_err
kdc_cc_ed25519_sign(const uint8_t d[32], const uint8_t *msg, size_t msg_len,
    uint8_t sig[64])
{
	/* RFC 8410 PKCS#8 of an Ed25519 seed: GnuTLS 3.7.9's raw import
	 * crashes without the public key (gnutls_privkey_import_ecc_raw
	 * with x NULL), its PKCS#8 import derives it (docs/traps.md) */
	static const uint8_t p8[16] = { 0x30, 0x2e, 0x02, 0x01, 0x00, 0x30,
	    0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20 };
	uint8_t der[sizeof(p8) + 32];
	gnutls_privkey_t pk = NULL;
	gnutls_datum_t der_d, data, out_sig = { NULL, 0 };
	kdc_err ret = KDC_ERR_CRYPTO;

	memset(sig, 0, 64);
	if (d == NULL || (msg == NULL && msg_len > 0))
		return KDC_ERR_INVALID_ARG;
	memcpy(der, p8, sizeof(p8));
	memcpy(der + sizeof(p8), d, 32);
	der_d = datum(der, sizeof(der));
	data = datum(msg, msg_len);
	if (gnutls_privkey_init(&pk) < 0)
		goto out;
	if (gnutls_privkey_import_x509_raw(pk, &der_d, GNUTLS_X509_FMT_DER,
	    NULL, 0) < 0) {
		ret = KDC_ERR_INVALID_ARG;
		goto out;
	}
	if (gnutls_privkey_sign_data2(pk, GNUTLS_SIGN_EDDSA_ED25519, 0, &data,
	    &out_sig) < 0 || out_sig.size != 64)
		goto out;
	memcpy(sig, out_sig.data, 64);
	ret = KDC_OK;
out:
	kdc_wipe(der, sizeof(der));
	gnutls_free(out_sig.data);
	if (pk != NULL)
		gnutls_privkey_deinit(pk);
	return ret;
}

kdc_err
kdc_cc_ed25519_verify(const uint8_t x[32], const uint8_t *msg,
    size_t msg_len, const uint8_t *sig, size_t sig_len)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t x_d, data, s_d;
	kdc_err ret = KDC_ERR_CRYPTO;

	if (x == NULL || (msg == NULL && msg_len > 0))
		return KDC_ERR_INVALID_ARG;
	if (sig == NULL || sig_len != 64)
		return KDC_ERR_BAD_SIGNATURE;
	x_d = datum(x, 32);
	data = datum(msg, msg_len);
	s_d = datum(sig, 64);
	if (gnutls_pubkey_init(&pub) < 0)
		goto out;
	if (gnutls_pubkey_import_ecc_raw(pub, GNUTLS_ECC_CURVE_ED25519, &x_d,
	    NULL) < 0) {
		ret = KDC_ERR_INVALID_ARG;
		goto out;
	}
	ret = gnutls_pubkey_verify_data2(pub, GNUTLS_SIGN_EDDSA_ED25519, 0,
	    &data, &s_d) < 0 ? KDC_ERR_BAD_SIGNATURE : KDC_OK;
out:
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	return ret;
}

kdc_err
kdc_cc_hmac256(const uint8_t *k, size_t k_len, const uint8_t *msg,
    size_t msg_len, uint8_t mac[32])
{
	static const uint8_t empty[1];

	if (k == NULL || k_len == 0 || (msg == NULL && msg_len > 0))
		return KDC_ERR_INVALID_ARG;
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, k, k_len,
	    msg != NULL ? msg : empty, msg_len, mac) < 0) {
		memset(mac, 0, 32);
		return KDC_ERR_CRYPTO;
	}
	return KDC_OK;
}

bool
kdc_cc_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	return gnutls_memcmp(a, b, n) == 0;
}

kdc_err
kdc_cc_hmac256_check(const uint8_t *k, size_t k_len, const uint8_t *msg,
    size_t msg_len, const uint8_t *tag, size_t tag_len)
{
	uint8_t mac[32];
	kdc_err r;

	if (tag == NULL || tag_len == 0 || tag_len > sizeof(mac))
		return KDC_ERR_BAD_SIGNATURE;
	if ((r = kdc_cc_hmac256(k, k_len, msg, msg_len, mac)) == KDC_OK &&
	    !kdc_cc_equal(mac, tag, tag_len))
		r = KDC_ERR_BAD_SIGNATURE;
	kdc_wipe(mac, sizeof(mac));
	return r;
}

static kdc_err
aead_init(int mode, const uint8_t *key, size_t key_len, size_t nonce_len,
    size_t tag_len, gnutls_aead_cipher_hd_t *h)
{
	gnutls_cipher_algorithm_t alg;
	gnutls_datum_t k;

	*h = NULL;
	if (key == NULL || key_len != 16)
		return KDC_ERR_INVALID_ARG;
	if (mode == KDC_CC_AES_CCM && nonce_len == 13 && tag_len == 8)
		alg = GNUTLS_CIPHER_AES_128_CCM_8;
	else if (mode == KDC_CC_AES_CCM && nonce_len == 13 && tag_len == 16)
		alg = GNUTLS_CIPHER_AES_128_CCM;
	else if (mode == KDC_CC_AES_GCM && nonce_len == 12 && tag_len == 16)
		alg = GNUTLS_CIPHER_AES_128_GCM;
	else
		return KDC_ERR_INVALID_ARG;
	k = datum(key, key_len);
	return gnutls_aead_cipher_init(h, alg, &k) < 0 ? KDC_ERR_CRYPTO :
	    KDC_OK;
}

kdc_err
kdc_cc_aead_seal(int mode, const uint8_t *key, size_t key_len,
    const uint8_t *nonce, size_t nonce_len, size_t tag_len,
    const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
    uint8_t *ct, size_t *ct_len)
{
	static const uint8_t empty[1];
	gnutls_aead_cipher_hd_t h;
	kdc_err r;

	if (nonce == NULL || (pt == NULL && pt_len > 0) ||
	    (aad == NULL && aad_len > 0) || ct == NULL)
		return KDC_ERR_INVALID_ARG;
	if (*ct_len < pt_len || *ct_len - pt_len < tag_len)
		return KDC_ERR_TOO_LARGE;
	if ((r = aead_init(mode, key, key_len, nonce_len, tag_len, &h)) !=
	    KDC_OK)
		return r;
	if (gnutls_aead_cipher_encrypt(h, nonce, nonce_len,
	    aad != NULL ? aad : empty, aad_len, tag_len,
	    pt != NULL ? pt : empty, pt_len, ct, ct_len) < 0)
		r = KDC_ERR_CRYPTO;
	gnutls_aead_cipher_deinit(h);	/* GnuTLS wipes the key schedule */
	return r;
}

kdc_err
kdc_cc_aead_open(int mode, const uint8_t *key, size_t key_len,
    const uint8_t *nonce, size_t nonce_len, size_t tag_len,
    const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
    uint8_t *pt, size_t *pt_len)
{
	static const uint8_t empty[1];
	gnutls_aead_cipher_hd_t h;
	size_t cap = *pt_len;
	kdc_err r;
	int g;

	*pt_len = 0;
	if (nonce == NULL || ct == NULL || (aad == NULL && aad_len > 0) ||
	    pt == NULL)
		return KDC_ERR_INVALID_ARG;
	if (ct_len < tag_len)
		return KDC_ERR_BAD_SIGNATURE;	/* no room for the tag */
	if (cap < ct_len - tag_len)
		return KDC_ERR_TOO_LARGE;
	if ((r = aead_init(mode, key, key_len, nonce_len, tag_len, &h)) !=
	    KDC_OK)
		return r;
	*pt_len = cap;
	g = gnutls_aead_cipher_decrypt(h, nonce, nonce_len,
	    aad != NULL ? aad : empty, aad_len, tag_len, ct, ct_len, pt,
	    pt_len);
	gnutls_aead_cipher_deinit(h);
	if (g < 0) {
		kdc_wipe(pt, cap);
		*pt_len = 0;
		return g == GNUTLS_E_DECRYPTION_FAILED ? KDC_ERR_BAD_SIGNATURE :
		    KDC_ERR_CRYPTO;
	}
	return KDC_OK;
}
