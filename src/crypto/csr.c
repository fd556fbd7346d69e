/*
 * csr.c: PKCS#10 CSR (RFC 2986) -> device certificate (RFC 5280), signed
 * by the iotkdc CA. On the enrollment hot path (EST, `cert sign`): the CA
 * certificate and key are parsed once, in kdc_ca_load(), never here.
 *
 * Only the CSR's public key is used, after its self-signature proves
 * possession. Its subject, attributes and requested extensions are
 * ignored: names and usages come from the device record, not the device.
 */
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "crypto/crypto_int.h"

/* RFC 3986 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ),
 * followed by ':'. A dev id like "urn:dev:ops:1234" is a URI and goes in a
 * SAN URI too; "00:11:22" (no scheme) is a name only. */
static bool
is_uri(const char *s)
{
	size_t i = 0;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (i = 1; s[i] != '\0' && s[i] != ':'; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
			return false;
	}
	if (s[i] != ':')
		return false;
	/* IA5String: ASCII only, no spaces or controls in a URI. */
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static kdc_err
dev_id_check(const char *dev_id)
{
	size_t n;

	if (dev_id == NULL || (n = strlen(dev_id)) == 0 || n > KDC_DEVID_MAX)
		return KDC_ERR_INVALID_ARG;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)dev_id[i] < 0x20 || dev_id[i] == 0x7f)
			return KDC_ERR_INVALID_ARG;
	return KDC_OK;
}

/* Accept ECDSA P-256 and Ed25519 only. */
kdc_err
crypto_pubkey_check(gnutls_pubkey_t pub, enum kdc_key_alg *alg)
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

void
kdc_issued_wipe(struct kdc_issued *is)
{
	if (is == NULL)
		return;
	kdc_free(is->cert);
	kdc_free(is->spki);
	memset(is, 0, sizeof(*is));
}

/* The device certificate for pub (checked by the caller): CN and SAN URI
 * from dev_id, clientAuth, signed by the CA. Fills *out on success. */
static kdc_err
sign_pubkey(struct kdc_ca *ca, gnutls_pubkey_t pub, const char *dev_id,
    int64_t not_before, int64_t not_after, struct kdc_issued *out)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d = { NULL, 0 };
	struct kdc_issued is;
	kdc_err r;
	int rc;

	memset(&is, 0, sizeof(is));
	if ((r = crypto_crt_new(pub, not_before, not_after, is.serial,
	    &crt)) != KDC_OK)
		goto out;
	if ((rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME,
	    0, dev_id, (unsigned)strlen(dev_id))) < 0) {
		r = KDC_CRYPTO_GTERR_AS("gnutls_x509_crt_set_dn_by_oid", rc,
		    KDC_ERR_INVALID_ARG);
		goto out;
	}
	if (is_uri(dev_id) && (rc = gnutls_x509_crt_set_subject_alt_name(crt,
	    GNUTLS_SAN_URI, dev_id, (unsigned)strlen(dev_id),
	    GNUTLS_FSAN_SET)) < 0) {
		r = KDC_CRYPTO_GTERR_AS("gnutls_x509_crt_set_subject_alt_name", rc,
		    KDC_ERR_INVALID_ARG);
		goto out;
	}
	/* RFC 5280 4.2.1.3 (critical digitalSignature), 4.2.1.9 (CA:FALSE),
	 * 4.2.1.12 (id-kp-clientAuth), 4.2.1.1 (AKI = the CA's SKI). */
	if ((rc = gnutls_x509_crt_set_key_usage(crt,
	    GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_purpose_oid(crt,
	    GNUTLS_KP_TLS_WWW_CLIENT, 0)) < 0 ||
	    (rc = gnutls_x509_crt_set_authority_key_id(crt, ca->skid,
	    ca->skid_len)) < 0) {
		r = KDC_CRYPTO_GTERR("build certificate", rc);
		goto out;
	}
	if ((rc = gnutls_x509_crt_privkey_sign(crt, ca->crt, ca->key,
	    GNUTLS_DIG_SHA256, 0)) < 0) {
		r = KDC_CRYPTO_GTERR("gnutls_x509_crt_privkey_sign", rc);
		goto out;
	}

	if ((rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &d)) < 0) {
		r = KDC_CRYPTO_GTERR("gnutls_x509_crt_export2", rc);
		goto out;
	}
	if ((r = crypto_datum_dup(&d, &is.cert, &is.cert_len)) != KDC_OK)
		goto out;
	gnutls_free(d.data);
	d.data = NULL;
	if ((rc = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &d)) < 0) {
		r = KDC_CRYPTO_GTERR("gnutls_pubkey_export2", rc);
		goto out;
	}
	if ((r = crypto_datum_dup(&d, &is.spki, &is.spki_len)) != KDC_OK)
		goto out;
	*out = is;
	memset(&is, 0, sizeof(is));
	r = KDC_OK;
out:
	gnutls_free(d.data);
	kdc_issued_wipe(&is);
	gnutls_x509_crt_deinit(crt);
	return r;
}

kdc_err
kdc_ca_sign_csr(struct kdc_ca *ca, const uint8_t *csr, size_t csr_len,
    const char *dev_id, int64_t not_before, int64_t not_after,
    struct kdc_issued *out)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t in;
	enum kdc_key_alg alg;
	kdc_err r;
	int rc;

	memset(out, 0, sizeof(*out));
	if (ca == NULL || (csr == NULL && csr_len > 0) ||
	    not_after <= not_before)
		return KDC_ERR_INVALID_ARG;
	if ((r = dev_id_check(dev_id)) != KDC_OK)
		return r;
	if (csr_len > KDC_CSR_MAX)
		return KDC_ERR_TOO_LARGE;
	if (csr_len == 0)
		return KDC_ERR_MALFORMED;

	/* Parse: anything GnuTLS cannot import is MALFORMED. */
	in.data = (unsigned char *)(uintptr_t)csr;
	in.size = (unsigned)csr_len;
	if ((rc = gnutls_x509_crq_init(&crq)) < 0 ||
	    (rc = gnutls_pubkey_init(&pub)) < 0) {
		r = KDC_CRYPTO_GTERR("init", rc);
		goto out;
	}
	if ((rc = gnutls_x509_crq_import(crq, &in, crypto_is_pem(csr,
	    csr_len) ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER)) < 0) {
		r = KDC_ERR_MALFORMED;
		goto out;
	}
	/* The key before the signature: no point verifying with a key we
	 * will refuse anyway, and an unknown algorithm cannot be verified. */
	if ((rc = gnutls_pubkey_import_x509_crq(pub, crq, 0)) < 0) {
		r = rc == GNUTLS_E_UNKNOWN_PK_ALGORITHM ||
		    rc == GNUTLS_E_ECC_UNSUPPORTED_CURVE ?
		    KDC_ERR_UNSUPPORTED_KEY : KDC_ERR_MALFORMED;
		goto out;
	}
	if ((r = crypto_pubkey_check(pub, &alg)) != KDC_OK)
		goto out;
	/* Proof of possession (RFC 2986 3): the CSR is signed by its key. */
	if (gnutls_x509_crq_verify(crq, 0) < 0) {
		r = KDC_ERR_BAD_SIGNATURE;
		goto out;
	}

	r = sign_pubkey(ca, pub, dev_id, not_before, not_after, out);
out:
	gnutls_pubkey_deinit(pub);
	gnutls_x509_crq_deinit(crq);
	return r;
}

kdc_err
kdc_ca_sign_spki(struct kdc_ca *ca, const uint8_t *spki, size_t spki_len,
    const char *dev_id, int64_t not_before, int64_t not_after,
    struct kdc_issued *out)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t in;
	enum kdc_key_alg alg;
	kdc_err r;
	int rc;

	memset(out, 0, sizeof(*out));
	if (ca == NULL || spki == NULL || not_after <= not_before)
		return KDC_ERR_INVALID_ARG;
	if ((r = dev_id_check(dev_id)) != KDC_OK)
		return r;
	if (spki_len > KDC_SPKI_MAX)
		return KDC_ERR_TOO_LARGE;
	in.data = (unsigned char *)(uintptr_t)spki;
	in.size = (unsigned)spki_len;
	if ((rc = gnutls_pubkey_init(&pub)) < 0)
		return KDC_CRYPTO_GTERR("gnutls_pubkey_init", rc);
	if (gnutls_pubkey_import(pub, &in, GNUTLS_X509_FMT_DER) < 0)
		r = KDC_ERR_MALFORMED;
	else if ((r = crypto_pubkey_check(pub, &alg)) == KDC_OK)
		r = sign_pubkey(ca, pub, dev_id, not_before, not_after, out);
	gnutls_pubkey_deinit(pub);
	return r;
}
