/*
 * est.c: the encoding EST-coaps (RFC 9148) needs beyond the CA and the
 * CSR (csr.c): the PKCS#7 certs-only container of Content-Format 281
 * (RFC 7030 §4.1.3).
 */
#include <string.h>

#include <gnutls/pkcs7.h>

#include "base/alloc.h"
#include "crypto/crypto_int.h"

kdc_err
kdc_pkcs7_certs(const uint8_t *const *ders, const size_t *lens, size_t n,
    uint8_t **out, size_t *out_len)
{
	gnutls_pkcs7_t p7 = NULL;
	gnutls_datum_t d, der = { NULL, 0 };
	uint8_t *p = NULL;
	kdc_err r;

	*out = NULL;
	*out_len = 0;
	if (ders == NULL || lens == NULL || n == 0 || n > KDC_CHAIN_MAX)
		return KDC_ERR_INVALID_ARG;
	if (gnutls_pkcs7_init(&p7) != 0)
		return KDC_ERR_NOMEM;
	for (size_t i = 0; i < n; i++) {
		if (ders[i] == NULL || lens[i] == 0 ||
		    lens[i] > KDC_CERT_MAX) {
			r = KDC_ERR_MALFORMED;
			goto out;
		}
		d.data = (unsigned char *)(uintptr_t)ders[i];
		d.size = (unsigned)lens[i];
		/* set_crt_raw stores the bytes as given: parse them first */
		{
			gnutls_x509_crt_t crt;
			int ok;

			if (gnutls_x509_crt_init(&crt) != 0) {
				r = KDC_ERR_NOMEM;
				goto out;
			}
			ok = gnutls_x509_crt_import(crt, &d,
			    GNUTLS_X509_FMT_DER) == 0;
			gnutls_x509_crt_deinit(crt);
			if (!ok) {
				r = KDC_ERR_MALFORMED;
				goto out;
			}
		}
		if (gnutls_pkcs7_set_crt_raw(p7, &d) != 0) {
			r = KDC_ERR_CRYPTO;
			goto out;
		}
	}
	if (gnutls_pkcs7_export2(p7, GNUTLS_X509_FMT_DER, &der) != 0) {
		r = KDC_ERR_CRYPTO;
		goto out;
	}
	if ((p = kdc_malloc(der.size)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	memcpy(p, der.data, der.size);
	*out = p;
	*out_len = der.size;
	r = KDC_OK;
out:
	gnutls_free(der.data);
	gnutls_pkcs7_deinit(p7);
	return r;
}
