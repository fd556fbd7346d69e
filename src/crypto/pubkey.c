/*
 * pubkey.c: public keys and certificates that come from outside (device
 * RPKs, manufacturer CA files, device certificate chains).
 */
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "crypto/crypto_int.h"

/* Accept ECDSA P-256 and Ed25519 only. */
static kdc_err
pubkey_check(gnutls_pubkey_t pub, enum kdc_key_alg *alg)
{
	gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;

	switch (gnutls_pubkey_get_pk_algorithm(pub, NULL)) {
	case GNUTLS_PK_ECDSA:
		if (gnutls_pubkey_export_ecc_raw2(pub, &curve, NULL, NULL,
		    0) < 0 || curve != GNUTLS_ECC_CURVE_SECP256R1)
			return KDC_ERR_UNSUPPORTED_KEY;
		*alg = KDC_KEY_P256;
		return KDC_OK;
	case GNUTLS_PK_EDDSA_ED25519:
		*alg = KDC_KEY_ED25519;
		return KDC_OK;
	default:
		return KDC_ERR_UNSUPPORTED_KEY;
	}
}

kdc_err
kdc_spki_check(const uint8_t *der, size_t len, enum kdc_key_alg *alg)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t in, d = { NULL, 0 };
	enum kdc_key_alg a;
	kdc_err r;
	int rc;

	if (len > KDC_SPKI_MAX)
		return KDC_ERR_TOO_LARGE;
	if (len == 0 || der == NULL)
		return KDC_ERR_MALFORMED;
	if ((rc = gnutls_pubkey_init(&pub)) < 0)
		return KDC_CRYPTO_GTERR("gnutls_pubkey_init", rc);
	in.data = (unsigned char *)(uintptr_t)der;
	in.size = (unsigned)len;
	if ((rc = gnutls_pubkey_import(pub, &in, GNUTLS_X509_FMT_DER)) < 0) {
		r = rc == GNUTLS_E_UNKNOWN_PK_ALGORITHM ||
		    rc == GNUTLS_E_ECC_UNSUPPORTED_CURVE ?
		    KDC_ERR_UNSUPPORTED_KEY : KDC_ERR_MALFORMED;
		goto out;
	}
	if ((r = pubkey_check(pub, &a)) != KDC_OK)
		goto out;
	/* Only the canonical encoding: the SPKI is an identity the store
	 * compares byte for byte, so no trailing bytes and no BER variants.
	 * Also refuses an EC point that is not on the curve. */
	if ((rc = gnutls_pubkey_verify_params(pub)) < 0 ||
	    (rc = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &d)) < 0 ||
	    d.size != len || memcmp(d.data, der, len) != 0) {
		r = KDC_ERR_MALFORMED;
		goto out;
	}
	if (alg != NULL)
		*alg = a;
	r = KDC_OK;
out:
	gnutls_free(d.data);
	gnutls_pubkey_deinit(pub);
	return r;
}

/* Import one certificate, DER or (first of a) PEM. */
static kdc_err
crt_import(const uint8_t *buf, size_t len, gnutls_x509_crt_t *out)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t in;
	int rc;

	*out = NULL;
	if (buf == NULL || len == 0)
		return KDC_ERR_MALFORMED;
	if ((rc = gnutls_x509_crt_init(&crt)) < 0)
		return KDC_CRYPTO_GTERR("gnutls_x509_crt_init", rc);
	in.data = (unsigned char *)(uintptr_t)buf;
	in.size = (unsigned)len;
	if (gnutls_x509_crt_import(crt, &in, crypto_is_pem(buf, len) ?
	    GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER) < 0) {
		gnutls_x509_crt_deinit(crt);
		return KDC_ERR_MALFORMED;
	}
	*out = crt;
	return KDC_OK;
}

kdc_err
kdc_cacert_parse(const uint8_t *buf, size_t len, uint8_t **der,
    size_t *der_len)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d = { NULL, 0 };
	unsigned critical = 0, ca = 0, status = 0;
	int pathlen = -1, rc;
	kdc_err r;

	*der = NULL;
	*der_len = 0;
	if (len > KDC_CAFILE_MAX)
		return KDC_ERR_TOO_LARGE;
	if ((r = kdc_crypto_init()) != KDC_OK ||
	    (r = crt_import(buf, len, &crt)) != KDC_OK)
		return r;
	rc = gnutls_x509_crt_get_basic_constraints(crt, &critical, &ca,
	    &pathlen);
	if (rc < 0 || !ca) {
		r = KDC_ERR_UNTRUSTED;
		goto out;
	}
	if (gnutls_x509_crt_check_issuer(crt, crt)) {
		/*
		 * Self-issued: check the self-signature. DO_NOT_ALLOW_SAME
		 * stops GnuTLS from trusting the certificate just because it
		 * is in the trusted list (itself) without a signature check.
		 * Expiry is not a parse error: the chain check at use reports
		 * EXPIRED.
		 */
		rc = gnutls_x509_crt_verify(crt, &crt, 1,
		    GNUTLS_VERIFY_DO_NOT_ALLOW_SAME |
		    GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
		    GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS, &status);
		if (rc < 0 || status != 0) {
			r = KDC_ERR_UNTRUSTED;
			goto out;
		}
	}
	if ((rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &d)) < 0) {
		r = KDC_CRYPTO_GTERR("gnutls_x509_crt_export2", rc);
		goto out;
	}
	r = crypto_datum_dup(&d, der, der_len);
out:
	gnutls_free(d.data);
	gnutls_x509_crt_deinit(crt);
	return r;
}

/* EXPIRED / NOT_YET_VALID if crt is outside its validity at now. */
static kdc_err
crt_check_time(gnutls_x509_crt_t crt, int64_t now)
{
	time_t nb = gnutls_x509_crt_get_activation_time(crt);
	time_t na = gnutls_x509_crt_get_expiration_time(crt);

	if (nb == (time_t)-1 || na == (time_t)-1)
		return KDC_ERR_MALFORMED;
	if (now < (int64_t)nb)
		return KDC_ERR_NOT_YET_VALID;
	if (now > (int64_t)na)
		return KDC_ERR_EXPIRED;
	return KDC_OK;
}

/* The device id a certificate names: its first SAN URI, else its CN. */
static kdc_err
crt_dev_id(gnutls_x509_crt_t crt, char **out)
{
	char buf[KDC_DEVID_MAX + 1];
	size_t n;
	unsigned type, i;
	int rc;

	*out = NULL;
	for (i = 0;; i++) {
		n = sizeof(buf);
		rc = gnutls_x509_crt_get_subject_alt_name2(crt, i, buf, &n,
		    &type, NULL);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue;	/* too long to be ours; try the next */
		if (rc < 0)
			return KDC_ERR_MALFORMED;
		if (type == GNUTLS_SAN_URI)
			goto found;
	}
	n = sizeof(buf);
	rc = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
	    0, buf, &n);
	if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER)
		return KDC_ERR_TOO_LARGE;
	if (rc < 0)
		return KDC_ERR_MALFORMED;	/* neither: no identity */
found:
	if (n == 0 || n > KDC_DEVID_MAX || memchr(buf, '\0', n) != NULL)
		return KDC_ERR_MALFORMED;
	for (size_t k = 0; k < n; k++)
		if ((unsigned char)buf[k] < 0x20 || buf[k] == 0x7f)
			return KDC_ERR_MALFORMED;
	if ((*out = kdc_strndup(buf, n)) == NULL)
		return KDC_ERR_NOMEM;
	return KDC_OK;
}

kdc_err
kdc_cert_spki(const uint8_t *der, size_t len, const uint8_t **spki,
    size_t *spki_len)
{
	struct kdc_rd rd, crt, tbs;

	*spki = NULL;
	*spki_len = 0;
	if (der == NULL)
		return KDC_ERR_MALFORMED;
	if (len > KDC_CERT_MAX)
		return KDC_ERR_TOO_LARGE;
	kdc_rd_init(&rd, der, len);
	/* Certificate { tbsCertificate { [0] version OPTIONAL, serial,
	 * signature, issuer, validity, subject, subjectPublicKeyInfo ... */
	if (!der_next(&rd, 0x30, &crt) || !der_next(&crt, 0x30, &tbs))
		return KDC_ERR_MALFORMED;
	(void)der_next(&tbs, 0xa0, NULL);
	if (!der_next(&tbs, 0x02, NULL) || !der_next(&tbs, 0x30, NULL) ||
	    !der_next(&tbs, 0x30, NULL) || !der_next(&tbs, 0x30, NULL) ||
	    !der_next(&tbs, 0x30, NULL) ||
	    !der_take(&tbs, 0x30, NULL, spki, spki_len))
		return KDC_ERR_MALFORMED;
	return KDC_OK;
}

kdc_err
kdc_cert_verify_chain(const uint8_t *const *certs, const size_t *lens,
    size_t ncerts, const uint8_t *const *cas, const size_t *ca_lens,
    size_t ncas, int64_t now, char **dev_id, uint8_t **spki,
    size_t *spki_len)
{
	return kdc_cert_verify_chain_for(certs, lens, ncerts, cas, ca_lens,
	    ncas, now, false, dev_id, spki, spki_len);
}

kdc_err
kdc_cert_verify_chain_for(const uint8_t *const *certs, const size_t *lens,
    size_t ncerts, const uint8_t *const *cas, const size_t *ca_lens,
    size_t ncas, int64_t now, bool server, char **dev_id, uint8_t **spki,
    size_t *spki_len)
{
	gnutls_x509_crt_t chain[KDC_CHAIN_MAX] = { NULL };
	gnutls_x509_crt_t *anchors = NULL, anchor = NULL;
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t d = { NULL, 0 };
	gnutls_typed_vdata_st purpose;
	char *id = NULL;
	unsigned status = 0, is_ca = 0;
	size_t i;
	kdc_err r;
	int rc;

	*dev_id = NULL;
	*spki = NULL;
	*spki_len = 0;
	if (ncerts == 0 || ncas == 0 || certs == NULL || lens == NULL ||
	    cas == NULL || ca_lens == NULL)
		return KDC_ERR_INVALID_ARG;
	if (ncerts > KDC_CHAIN_MAX)
		return KDC_ERR_TOO_LARGE;
	if ((r = kdc_crypto_init()) != KDC_OK)
		return r;
	for (i = 0; i < ncerts; i++) {
		if (lens[i] > KDC_CERT_MAX) {
			r = KDC_ERR_TOO_LARGE;
			goto out;
		}
		if ((r = crt_import(certs[i], lens[i], &chain[i])) != KDC_OK)
			goto out;
	}

	/* The trust list owns the anchors once added. */
	if ((anchors = kdc_calloc(ncas, sizeof(*anchors))) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < ncas; i++)
		if ((r = crt_import(cas[i], ca_lens[i], &anchors[i])) != KDC_OK)
			goto out;
	if ((rc = gnutls_x509_trust_list_init(&tl, 0)) < 0) {
		r = KDC_CRYPTO_GTERR("gnutls_x509_trust_list_init", rc);
		goto out;
	}
	rc = gnutls_x509_trust_list_add_cas(tl, anchors, (unsigned)ncas, 0);
	if (rc < 0) {
		r = KDC_CRYPTO_GTERR("gnutls_x509_trust_list_add_cas", rc);
		goto out;
	}
	kdc_free(anchors);	/* the array only; the list owns the certs */
	anchors = NULL;

	/*
	 * GnuTLS 3.7 verifies at the wall-clock time only (no time argument;
	 * gnutls_global_set_time_function() is process-wide). So its time
	 * checks are off and we check every certificate, anchor included,
	 * against `now` below. DO_NOT_ALLOW_SAME: a leaf that is itself an
	 * anchor still has to be signed by one. The leaf must allow TLS
	 * client authentication, or server authentication for a server
	 * (an EKU without it is refused; no EKU means any purpose, RFC 5280
	 * 4.2.1.12).
	 */
	purpose.type = GNUTLS_DT_KEY_PURPOSE_OID;
	purpose.data = (unsigned char *)(uintptr_t)(server ?
	    GNUTLS_KP_TLS_WWW_SERVER : GNUTLS_KP_TLS_WWW_CLIENT);
	purpose.size = 0;
	rc = gnutls_x509_trust_list_verify_crt2(tl, chain, (unsigned)ncerts,
	    &purpose, 1, GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
	    GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS |
	    GNUTLS_VERIFY_DO_NOT_ALLOW_SAME, &status, NULL);
	if (rc < 0 || status != 0) {
		if (rc < 0)
			(void)KDC_CRYPTO_GTERR("gnutls_x509_trust_list_verify_crt2",
			    rc);
		r = KDC_ERR_UNTRUSTED;
		goto out;
	}
	/* A trust anchor or a sub-CA is not a device. */
	if (gnutls_x509_crt_get_basic_constraints(chain[0], NULL, &is_ca,
	    NULL) >= 0 && is_ca) {
		r = KDC_ERR_UNTRUSTED;
		goto out;
	}
	/* Time: leaf first, so an expired device is EXPIRED even when its
	 * CA is fine; then the intermediates and the anchor. */
	for (i = 0; i < ncerts; i++)
		if ((r = crt_check_time(chain[i], now)) != KDC_OK)
			goto out;
	if (gnutls_x509_trust_list_get_issuer(tl, chain[ncerts - 1], &anchor,
	    GNUTLS_TL_GET_COPY) >= 0 &&
	    (r = crt_check_time(anchor, now)) != KDC_OK)
		goto out;

	if ((r = crt_dev_id(chain[0], &id)) != KDC_OK)
		goto out;
	if ((rc = gnutls_pubkey_init(&pub)) < 0 ||
	    (rc = gnutls_pubkey_import_x509(pub, chain[0], 0)) < 0 ||
	    (rc = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &d)) < 0) {
		r = KDC_CRYPTO_GTERR("leaf public key", rc);
		goto out;
	}
	if ((r = crypto_datum_dup(&d, spki, spki_len)) != KDC_OK)
		goto out;
	*dev_id = id;
	id = NULL;
	r = KDC_OK;
out:
	kdc_free(id);
	gnutls_free(d.data);
	gnutls_pubkey_deinit(pub);
	gnutls_x509_crt_deinit(anchor);
	if (anchors != NULL) {
		for (i = 0; i < ncas; i++)
			gnutls_x509_crt_deinit(anchors[i]);
		kdc_free(anchors);
	}
	if (tl != NULL)
		gnutls_x509_trust_list_deinit(tl, 1);
	for (i = 0; i < ncerts; i++)
		gnutls_x509_crt_deinit(chain[i]);
	return r;
}
