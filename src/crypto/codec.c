/* codec.c: PEM and base64 on GnuTLS. */
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "base/alloc.h"
#include "crypto/codec.h"

kdc_err
kdc_base64_decode(const char *in, size_t in_len, uint8_t *out,
    size_t *out_len)
{
	gnutls_datum_t src, dst = { NULL, 0 };
	kdc_err r = KDC_OK;

	if (in_len == 0)
		return KDC_ERR_MALFORMED;
	if (in_len / 4 * 3 > *out_len + 3)
		return KDC_ERR_TOO_LARGE;
	src.data = (unsigned char *)(uintptr_t)in;
	src.size = (unsigned int)in_len;
	if (gnutls_base64_decode2(&src, &dst) != GNUTLS_E_SUCCESS)
		return KDC_ERR_MALFORMED;
	if (dst.size > *out_len)
		r = KDC_ERR_TOO_LARGE;
	else {
		memcpy(out, dst.data, dst.size);
		*out_len = dst.size;
	}
	gnutls_free(dst.data);
	return r;
}

kdc_err
kdc_pem_encode(const char *label, const uint8_t *der, size_t len, char **pem,
    size_t *pem_len)
{
	gnutls_datum_t src, dst = { NULL, 0 };
	char *p;

	*pem = NULL;
	*pem_len = 0;
	src.data = (unsigned char *)(uintptr_t)der;
	src.size = (unsigned int)len;
	if (gnutls_pem_base64_encode2(label, &src, &dst) != GNUTLS_E_SUCCESS)
		return KDC_ERR_CRYPTO;
	if ((p = kdc_strndup((const char *)dst.data, dst.size)) == NULL) {
		gnutls_free(dst.data);
		return KDC_ERR_NOMEM;
	}
	*pem_len = dst.size;
	gnutls_free(dst.data);
	*pem = p;
	return KDC_OK;
}

kdc_err
kdc_spki_load(const uint8_t *buf, size_t len, uint8_t *out, size_t *out_len)
{
	gnutls_pubkey_t pk = NULL;
	gnutls_datum_t d, der = { NULL, 0 };
	kdc_err r = KDC_ERR_MALFORMED;

	d.data = (unsigned char *)(uintptr_t)buf;
	d.size = (unsigned int)len;
	if (gnutls_pubkey_init(&pk) != GNUTLS_E_SUCCESS)
		return KDC_ERR_NOMEM;
	if (gnutls_pubkey_import(pk, &d, GNUTLS_X509_FMT_PEM) !=
	    GNUTLS_E_SUCCESS && gnutls_pubkey_import(pk, &d,
	    GNUTLS_X509_FMT_DER) != GNUTLS_E_SUCCESS)
		goto out;
	if (gnutls_pubkey_export2(pk, GNUTLS_X509_FMT_DER, &der) !=
	    GNUTLS_E_SUCCESS) {
		r = KDC_ERR_CRYPTO;
		goto out;
	}
	if (der.size > *out_len) {
		r = KDC_ERR_TOO_LARGE;
		goto out;
	}
	memcpy(out, der.data, der.size);
	*out_len = der.size;
	r = KDC_OK;
out:
	gnutls_free(der.data);
	gnutls_pubkey_deinit(pk);
	return r;
}

kdc_err
kdc_cert_pem_leaf(const char *pem, size_t len, uint8_t **der,
    size_t *der_len, uint8_t **spki, size_t *spki_len)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t in, d = { NULL, 0 }, s = { NULL, 0 };
	uint8_t *c = NULL, *k = NULL;
	kdc_err r = KDC_ERR_MALFORMED;

	*der = NULL;
	*der_len = 0;
	*spki = NULL;
	*spki_len = 0;
	in.data = (unsigned char *)(uintptr_t)pem;
	in.size = (unsigned int)len;
	if (gnutls_x509_crt_init(&crt) != GNUTLS_E_SUCCESS ||
	    gnutls_pubkey_init(&pub) != GNUTLS_E_SUCCESS) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	/* the first certificate of the PEM: the leaf of a chain file */
	if (gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM) !=
	    GNUTLS_E_SUCCESS ||
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &d) !=
	    GNUTLS_E_SUCCESS ||
	    gnutls_pubkey_import_x509(pub, crt, 0) != GNUTLS_E_SUCCESS ||
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &s) !=
	    GNUTLS_E_SUCCESS)
		goto out;
	if ((c = kdc_malloc(d.size)) == NULL ||
	    (k = kdc_malloc(s.size)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	memcpy(c, d.data, d.size);
	memcpy(k, s.data, s.size);
	*der = c;
	*der_len = d.size;
	*spki = k;
	*spki_len = s.size;
	c = k = NULL;
	r = KDC_OK;
out:
	kdc_free(c);
	kdc_free(k);
	gnutls_free(d.data);
	gnutls_free(s.data);
	gnutls_pubkey_deinit(pub);
	gnutls_x509_crt_deinit(crt);
	return r;
}
