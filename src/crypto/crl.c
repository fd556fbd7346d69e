/*
 * crl.c: the iotkdc CA's certificate revocation list (RFC 5280 5), X.509
 * v2, DER, signed ECDSA-SHA256 by the CA key. What goes on it (which
 * serials, when) is core/'s decision; this file only encodes and signs.
 */
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/log.h"
#include "crypto/crypto_int.h"

/* RFC 5280 4.1.2.2 / 5.2.3: serials and CRL numbers are at most 20
 * octets. */
#define CRL_INT_MAX	20

/* The CRL number (RFC 5280 5.2.3) as a minimal positive DER INTEGER
 * body: big-endian, no leading zero octets except one that keeps the
 * top bit clear. Returns its length (1..9). */
static size_t
crl_number_bytes(uint64_t v, uint8_t out[9])
{
	uint8_t be[8];
	size_t i = 0, n = 0;

	for (int k = 7; k >= 0; k--) {
		be[k] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
	while (i < 7 && be[i] == 0)
		i++;
	if (be[i] & 0x80)
		out[n++] = 0;
	memcpy(out + n, be + i, 8 - i);
	return n + 8 - i;
}

kdc_err
kdc_ca_crl(struct kdc_ca *ca, const char *const *serials_hex,
    const int64_t *revoked_at, size_t n, int64_t this_update,
    int64_t next_update, uint64_t crl_number, uint8_t **der, size_t *len)
{
	gnutls_x509_crl_t crl = NULL;
	gnutls_datum_t d = { NULL, 0 };
	uint8_t serial[CRL_INT_MAX], num[9];
	size_t serial_len, num_len;
	kdc_err r;
	int rc;

	*der = NULL;
	*len = 0;
	if (ca == NULL || (n > 0 && (serials_hex == NULL ||
	    revoked_at == NULL)) || this_update <= 0 ||
	    next_update <= this_update)
		return KDC_ERR_INVALID_ARG;

	if ((rc = gnutls_x509_crl_init(&crl)) < 0)
		return KDC_CRYPTO_GTERR("gnutls_x509_crl_init", rc);
	/* RFC 5280 5.1.2: v2 (1), because we carry extensions. */
	if ((rc = gnutls_x509_crl_set_version(crl, 2)) < 0 ||
	    (rc = gnutls_x509_crl_set_this_update(crl,
	    (time_t)this_update)) < 0 ||
	    (rc = gnutls_x509_crl_set_next_update(crl,
	    (time_t)next_update)) < 0) {
		r = KDC_CRYPTO_GTERR("build CRL", rc);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *hex = serials_hex[i];

		serial_len = sizeof(serial);
		if (hex == NULL || hex[0] == '\0' ||
		    kdc_hex_decode(hex, strlen(hex), serial, &serial_len) !=
		    KDC_OK || serial_len == 0 || revoked_at[i] <= 0) {
			r = KDC_ERR_INVALID_ARG;
			goto out;
		}
		if ((rc = gnutls_x509_crl_set_crt_serial(crl, serial,
		    serial_len, (time_t)revoked_at[i])) < 0) {
			r = KDC_CRYPTO_GTERR("gnutls_x509_crl_set_crt_serial",
			    rc);
			goto out;
		}
	}
	/* RFC 5280 5.2.1 (AKI = the CA's SKI: MUST), 5.2.3 (CRL number:
	 * MUST). */
	num_len = crl_number_bytes(crl_number, num);
	if ((rc = gnutls_x509_crl_set_authority_key_id(crl, ca->skid,
	    ca->skid_len)) < 0 ||
	    (rc = gnutls_x509_crl_set_number(crl, num, num_len)) < 0) {
		r = KDC_CRYPTO_GTERR("CRL extensions", rc);
		goto out;
	}
	/* Sets the issuer name from the CA certificate. */
	if ((rc = gnutls_x509_crl_privkey_sign(crl, ca->crt, ca->key,
	    GNUTLS_DIG_SHA256, 0)) < 0) {
		r = KDC_CRYPTO_GTERR("gnutls_x509_crl_privkey_sign", rc);
		goto out;
	}
	if ((rc = gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_DER, &d)) < 0) {
		r = KDC_CRYPTO_GTERR("gnutls_x509_crl_export2", rc);
		goto out;
	}
	r = crypto_datum_dup(&d, der, len);
out:
	gnutls_free(d.data);
	gnutls_x509_crl_deinit(crl);
	return r;
}
