/* keygen.c: device key pairs made by the KDC (LwM2M 1.0 style bootstrap,
 * where the Bootstrap-Write carries the private key). */
#include <string.h>

#include "base/alloc.h"
#include "crypto/crypto_int.h"

kdc_err
kdc_keygen_p256(uint8_t *pkcs8, size_t *pkcs8_len, uint8_t **spki,
    size_t *spki_len)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_privkey_t pk = NULL;
	gnutls_datum_t d = { NULL, 0 };
	uint8_t *sp = NULL;
	size_t sp_len = 0, cap = *pkcs8_len;
	kdc_err r;
	int rc;

	*pkcs8_len = 0;
	*spki = NULL;
	*spki_len = 0;
	if ((rc = gnutls_x509_privkey_init(&key)) < 0 ||
	    (rc = gnutls_pubkey_init(&pub)) < 0) {
		r = KDC_CRYPTO_GTERR("init", rc);
		goto out;
	}
	if ((rc = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0)) < 0) {
		r = KDC_CRYPTO_GTERR("gnutls_x509_privkey_generate", rc);
		goto out;
	}
	/* unencrypted PKCS#8 DER (RFC 5958), what LwM2M /0/x/5 carries */
	if ((rc = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_DER,
	    NULL, GNUTLS_PKCS_PLAIN, &d)) < 0) {
		r = KDC_CRYPTO_GTERR("gnutls_x509_privkey_export2_pkcs8", rc);
		goto out;
	}
	if (d.size > cap) {
		r = KDC_ERR_TOO_LARGE;
		goto out;
	}
	memcpy(pkcs8, d.data, d.size);
	*pkcs8_len = d.size;
	crypto_datum_wipe(&d);
	if ((rc = gnutls_privkey_init(&pk)) < 0 ||
	    (rc = gnutls_privkey_import_x509(pk, key, 0)) < 0 ||
	    (rc = gnutls_pubkey_import_privkey(pub, pk, 0, 0)) < 0 ||
	    (rc = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &d)) < 0) {
		r = KDC_CRYPTO_GTERR("pubkey export", rc);
		goto out;
	}
	if ((r = crypto_datum_dup(&d, &sp, &sp_len)) != KDC_OK)
		goto out;
	*spki = sp;
	*spki_len = sp_len;
	sp = NULL;
	r = KDC_OK;
out:
	if (r != KDC_OK && *pkcs8_len > 0) {
		kdc_wipe(pkcs8, *pkcs8_len);
		*pkcs8_len = 0;
	}
	crypto_datum_wipe(&d);
	kdc_free(sp);
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(pk);		/* does not own key */
	gnutls_x509_privkey_deinit(key);	/* wipes the key */
	return r;
}
