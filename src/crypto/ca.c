/*
 * ca.c: the iotkdc CA (create, load, export) and the listeners' TLS
 * server certificate. Device certificates are issued in csr.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/pkcs11.h>

#include "base/alloc.h"
#include "base/log.h"
#include "crypto/crypto_int.h"
#include "crypto/p256.h"

#define CA_DN_CN	"iotkdc root CA"
#define SERVER_DN_CN	"iotkdc server"
#define CA_CERT_FILE	"ca.pem"
#define CA_KEY_FILE	"ca.key"
#define CA_KEY_AAD	"ca.key"
#define TLS_CERT_FILE	"server.pem"
#define TLS_KEY_FILE	"server.key"
#define TLS_KEY_AAD	"server.key"
/* 100 years: longer is a typo, and past 9999 X.509 cannot say it. */
#define DAYS_MAX	36500u
/* Backdate not_before of what we create, for peers whose clock is a
 * little behind ours. */
#define BACKDATE_SECS	3600
/* A DNS name (RFC 1035: 253 octets in text form). */
#define HOST_MAX	253

/* ---- keys --------------------------------------------------------------- */

/* A fresh ECDSA P-256 key: as a privkey, and as unencrypted PKCS#8 DER
 * (a secret: the caller wipes it with crypto_datum_wipe()). */
kdc_err
crypto_key_generate(gnutls_privkey_t *out, gnutls_datum_t *pkcs8)
{
	gnutls_x509_privkey_t xkey = NULL;
	gnutls_privkey_t key = NULL;
	kdc_err r;
	int rc;

	*out = NULL;
	pkcs8->data = NULL;
	pkcs8->size = 0;
	if ((rc = gnutls_x509_privkey_init(&xkey)) < 0 ||
	    (rc = gnutls_x509_privkey_generate(xkey, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0)) < 0 ||
	    (rc = gnutls_x509_privkey_export2_pkcs8(xkey, GNUTLS_X509_FMT_DER,
	    NULL, GNUTLS_PKCS_PLAIN, pkcs8)) < 0 ||
	    (rc = gnutls_privkey_init(&key)) < 0) {
		r = KDC_CRYPTO_GTERR("generate key", rc);
		goto out;
	}
	/* The privkey takes the x509 key; it frees it with itself. */
	if ((rc = gnutls_privkey_import_x509(key, xkey,
	    GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE)) < 0) {
		r = KDC_CRYPTO_GTERR("gnutls_privkey_import_x509", rc);
		goto out;
	}
	xkey = NULL;
	*out = key;
	key = NULL;
	r = KDC_OK;
out:
	if (r != KDC_OK)
		crypto_datum_wipe(pkcs8);
	gnutls_privkey_deinit(key);
	gnutls_x509_privkey_deinit(xkey);
	return r;
}

/* A privkey from unencrypted PKCS#8 DER (what key_generate exported). */
kdc_err
crypto_key_import(const uint8_t *der, size_t len, gnutls_privkey_t *out)
{
	gnutls_privkey_t key = NULL;
	gnutls_datum_t d;
	kdc_err r;
	int rc;

	*out = NULL;
	d.data = (unsigned char *)(uintptr_t)der;
	d.size = (unsigned)len;
	if ((rc = gnutls_privkey_init(&key)) < 0) {
		r = KDC_CRYPTO_GTERR("gnutls_privkey_init", rc);
		goto out;
	}
	if ((rc = gnutls_privkey_import_x509_raw(key, &d, GNUTLS_X509_FMT_DER,
	    NULL, GNUTLS_PKCS_PLAIN)) < 0) {
		/* It opened under our key and AAD, so it is ours: damaged. */
		r = KDC_CRYPTO_GTERR_AS("gnutls_privkey_import_x509_raw", rc,
		    KDC_ERR_BAD_KEY);
		goto out;
	}
	*out = key;
	key = NULL;
	r = KDC_OK;
out:
	gnutls_privkey_deinit(key);
	return r;
}

/* The private key a PKCS#11 URL names. The PIN comes from the URL's
 * pin-value (or pin-source) attribute (RFC 7512). */
kdc_err
crypto_key_import_url(const char *url, gnutls_privkey_t *out)
{
	gnutls_privkey_t key = NULL;
	kdc_err r;
	int rc;

	*out = NULL;
	if (strncmp(url, "pkcs11:", 7) != 0)
		return KDC_ERR_INVALID_ARG;
	if ((r = crypto_pkcs11_setup()) != KDC_OK)
		return r;
	if ((rc = gnutls_privkey_init(&key)) < 0) {
		r = KDC_CRYPTO_GTERR("gnutls_privkey_init", rc);
		goto out;
	}
	if ((rc = gnutls_privkey_import_url(key, url, 0)) < 0) {
		/* Not the URL itself: it may carry the PIN. */
		r = KDC_CRYPTO_GTERR_AS("gnutls_privkey_import_url", rc,
		    KDC_ERR_PKCS11);
		goto out;
	}
	*out = key;
	key = NULL;
	r = KDC_OK;
out:
	gnutls_privkey_deinit(key);
	return r;
}

/* The public half of a private key; UNSUPPORTED_KEY unless EC P-256. */
kdc_err
crypto_key_public_p256(gnutls_privkey_t key, kdc_err fail,
    gnutls_pubkey_t *out)
{
	gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
	gnutls_pubkey_t pub = NULL;
	kdc_err r;
	int rc;

	*out = NULL;
	if ((rc = gnutls_pubkey_init(&pub)) < 0) {
		r = KDC_CRYPTO_GTERR("gnutls_pubkey_init", rc);
		goto out;
	}
	if ((rc = gnutls_pubkey_import_privkey(pub, key, 0, 0)) < 0) {
		r = KDC_CRYPTO_GTERR_AS("gnutls_pubkey_import_privkey", rc, fail);
		goto out;
	}
	if (gnutls_pubkey_get_pk_algorithm(pub, NULL) != GNUTLS_PK_ECDSA ||
	    gnutls_pubkey_export_ecc_raw2(pub, &curve, NULL, NULL, 0) < 0 ||
	    curve != GNUTLS_ECC_CURVE_SECP256R1) {
		r = KDC_ERR_UNSUPPORTED_KEY;
		goto out;
	}
	*out = pub;
	pub = NULL;
	r = KDC_OK;
out:
	gnutls_pubkey_deinit(pub);
	return r;
}

/* ---- certificates -------------------------------------------------------- */

/* A new certificate with version 3, a fresh serial, validity
 * [not_before, not_after], the public key and its subject key id (for
 * the CA's own and the listeners' certificates; device certificates are
 * a template of their own, csr.c). The caller adds names and extensions,
 * then signs. */
static kdc_err
crt_new(gnutls_pubkey_t pub, int64_t not_before, int64_t not_after,
    gnutls_x509_crt_t *out)
{
	gnutls_x509_crt_t crt = NULL;
	uint8_t serial[KDC_SERIAL_LEN], id[64];
	size_t id_len = sizeof(id);
	kdc_err r;
	int rc;

	*out = NULL;
	if ((r = crypto_serial(serial)) != KDC_OK ||
	    (r = crypto_key_id(pub, id, &id_len)) != KDC_OK)
		return r;
	if ((rc = gnutls_x509_crt_init(&crt)) < 0 ||
	    (rc = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (rc = gnutls_x509_crt_set_serial(crt, serial,
	    sizeof(serial))) < 0 ||
	    (rc = gnutls_x509_crt_set_activation_time(crt,
	    (time_t)not_before)) < 0 ||
	    (rc = gnutls_x509_crt_set_expiration_time(crt,
	    (time_t)not_after)) < 0 ||
	    (rc = gnutls_x509_crt_set_pubkey(crt, pub)) < 0 ||
	    (rc = gnutls_x509_crt_set_subject_key_id(crt, id, id_len)) < 0) {
		r = KDC_CRYPTO_GTERR("build certificate", rc);
		goto out;
	}
	*out = crt;
	crt = NULL;
	r = KDC_OK;
out:
	gnutls_x509_crt_deinit(crt);
	return r;
}

static kdc_err
crt_export(gnutls_x509_crt_t crt, gnutls_x509_crt_fmt_t fmt, uint8_t **out,
    size_t *out_len)
{
	gnutls_datum_t d = { NULL, 0 };
	kdc_err r;
	int rc;

	*out = NULL;
	*out_len = 0;
	if ((rc = gnutls_x509_crt_export2(crt, fmt, &d)) < 0)
		return KDC_CRYPTO_GTERR("gnutls_x509_crt_export2", rc);
	r = crypto_datum_dup(&d, out, out_len);
	gnutls_free(d.data);
	return r;
}

/* ---- the CA --------------------------------------------------------------- */

void
kdc_ca_free(struct kdc_ca *ca)
{
	if (ca == NULL)
		return;
	gnutls_x509_crt_deinit(ca->crt);
	gnutls_privkey_deinit(ca->key);
	crypto_p256_ca_key_free(ca);
	kdc_free(ca->der);
	kdc_free(ca->dn);
	kdc_free(ca);
}

static bool
path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 || errno != ENOENT;
}

kdc_err
kdc_ca_create(const char *dir, const struct kdc_keyring *kr,
    const char *key_url, unsigned days)
{
	gnutls_datum_t pkcs8 = { NULL, 0 };
	gnutls_privkey_t key = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_x509_crt_t crt = NULL;
	char *cert_path = NULL, *key_path = NULL;
	uint8_t *wrapped = NULL, *pem = NULL;
	size_t wrapped_len = 0, pem_len = 0;
	bool wrote_key = false;
	int64_t now = (int64_t)time(NULL);
	kdc_err r;
	int rc;

	if (dir == NULL || days == 0 || days > DAYS_MAX ||
	    (key_url == NULL && kr == NULL))
		return KDC_ERR_INVALID_ARG;
	if ((r = kdc_crypto_init()) != KDC_OK)
		return r;
	if ((cert_path = crypto_path(dir, CA_CERT_FILE)) == NULL ||
	    (key_path = crypto_path(dir, CA_KEY_FILE)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	if (path_exists(cert_path)) {
		r = KDC_ERR_EXISTS;
		goto out;
	}
	if (key_url != NULL) {
		if ((r = crypto_key_import_url(key_url, &key)) != KDC_OK ||
		    (r = crypto_key_public_p256(key, KDC_ERR_PKCS11, &pub)) != KDC_OK)
			goto out;
	} else {
		if ((r = crypto_key_generate(&key, &pkcs8)) != KDC_OK ||
		    (r = crypto_key_public_p256(key, KDC_ERR_CRYPTO, &pub)) != KDC_OK ||
		    (r = kdc_wrap(kr, CA_KEY_AAD, strlen(CA_KEY_AAD),
		    pkcs8.data, pkcs8.size, &wrapped, &wrapped_len)) != KDC_OK)
			goto out;
	}
	if ((r = crt_new(pub, now - BACKDATE_SECS,
	    now + (int64_t)days * 86400, &crt)) != KDC_OK)
		goto out;
	/* RFC 5280 4.2.1.9 (critical CA:TRUE) and 4.2.1.3 (keyCertSign,
	 * cRLSign); GnuTLS marks both critical. */
	if ((rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME,
	    0, CA_DN_CN, strlen(CA_DN_CN))) < 0 ||
	    (rc = gnutls_x509_crt_set_basic_constraints(crt, 1, -1)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_usage(crt,
	    GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)) < 0) {
		r = KDC_CRYPTO_GTERR("build CA certificate", rc);
		goto out;
	}
	if ((rc = gnutls_x509_crt_privkey_sign(crt, crt, key,
	    GNUTLS_DIG_SHA256, 0)) < 0) {
		r = KDC_CRYPTO_GTERR_AS("gnutls_x509_crt_privkey_sign", rc,
		    key_url != NULL ? KDC_ERR_PKCS11 : KDC_ERR_CRYPTO);
		goto out;
	}
	if ((r = crt_export(crt, GNUTLS_X509_FMT_PEM, &pem, &pem_len)) != KDC_OK)
		goto out;
	if (wrapped != NULL) {
		if ((r = kdc_file_create_atomic(key_path, wrapped, wrapped_len,
		    0600)) != KDC_OK)
			goto out;
		wrote_key = true;
	}
	if ((r = kdc_file_create_atomic(cert_path, pem, pem_len, 0644)) !=
	    KDC_OK)
		goto out;
	wrote_key = false;		/* committed: ca.pem is the last write */
	r = KDC_OK;
out:
	if (wrote_key)
		(void)unlink(key_path);
	crypto_datum_wipe(&pkcs8);
	gnutls_x509_crt_deinit(crt);
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(key);
	kdc_free(wrapped);
	kdc_free(pem);
	kdc_free(cert_path);
	kdc_free(key_path);
	return r;
}

/* The key id of the public key inside crt, and of the private key. */
static kdc_err
key_matches_cert(gnutls_x509_crt_t crt, gnutls_privkey_t key, kdc_err fail)
{
	gnutls_pubkey_t a = NULL, b = NULL;
	uint8_t ida[64], idb[64];
	size_t la = sizeof(ida), lb = sizeof(idb);
	kdc_err r;
	int rc;

	if ((rc = gnutls_pubkey_init(&a)) < 0 ||
	    (rc = gnutls_pubkey_init(&b)) < 0 ||
	    (rc = gnutls_pubkey_import_x509(a, crt, 0)) < 0) {
		r = KDC_CRYPTO_GTERR("gnutls_pubkey_import_x509", rc);
		goto out;
	}
	if ((rc = gnutls_pubkey_import_privkey(b, key, 0, 0)) < 0) {
		r = KDC_CRYPTO_GTERR_AS("gnutls_pubkey_import_privkey", rc, fail);
		goto out;
	}
	if ((r = crypto_key_id(a, ida, &la)) != KDC_OK ||
	    (r = crypto_key_id(b, idb, &lb)) != KDC_OK)
		goto out;
	r = (la == lb && memcmp(ida, idb, la) == 0) ? KDC_OK : KDC_ERR_BAD_KEY;
out:
	gnutls_pubkey_deinit(a);
	gnutls_pubkey_deinit(b);
	return r;
}

kdc_err
kdc_ca_load(const char *dir, const struct kdc_keyring *kr,
    const char *key_url, struct kdc_ca **out)
{
	struct kdc_ca *ca = NULL;
	char *cert_path = NULL, *key_path = NULL;
	uint8_t *pem = NULL, *wrapped = NULL, *pkcs8 = NULL;
	size_t pem_len = 0, wrapped_len = 0, pkcs8_len = 0;
	gnutls_datum_t d;
	unsigned critical = 0;
	kdc_err r;
	int rc;

	*out = NULL;
	if (dir == NULL || (key_url == NULL && kr == NULL))
		return KDC_ERR_INVALID_ARG;
	if ((r = kdc_crypto_init()) != KDC_OK)
		return r;
	if ((ca = kdc_calloc(1, sizeof(*ca))) == NULL ||
	    (cert_path = crypto_path(dir, CA_CERT_FILE)) == NULL ||
	    (key_path = crypto_path(dir, CA_KEY_FILE)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	if ((r = crypto_file_read(cert_path, KDC_CRYPTO_FILE_MAX, &pem,
	    &pem_len)) != KDC_OK) {
		if (r == KDC_ERR_NOT_FOUND)
			r = KDC_ERR_IO;
		goto out;
	}
	d.data = pem;
	d.size = (unsigned)pem_len;
	if ((rc = gnutls_x509_crt_init(&ca->crt)) < 0) {
		r = KDC_CRYPTO_GTERR("gnutls_x509_crt_init", rc);
		goto out;
	}
	if ((rc = gnutls_x509_crt_import(ca->crt, &d,
	    GNUTLS_X509_FMT_PEM)) < 0) {
		r = KDC_CRYPTO_GTERR_AS("gnutls_x509_crt_import", rc,
		    KDC_ERR_MALFORMED);
		goto out;
	}
	if ((r = crt_export(ca->crt, GNUTLS_X509_FMT_DER, &ca->der,
	    &ca->der_len)) != KDC_OK)
		goto out;
	/* the issuer Name of what we sign, as the CA certificate has it */
	if ((rc = gnutls_x509_crt_get_raw_dn(ca->crt, &d)) < 0) {
		r = KDC_CRYPTO_GTERR_AS("gnutls_x509_crt_get_raw_dn", rc,
		    KDC_ERR_MALFORMED);
		goto out;
	}
	r = crypto_datum_dup(&d, &ca->dn, &ca->dn_len);
	gnutls_free(d.data);
	if (r != KDC_OK)
		goto out;
	ca->skid_len = sizeof(ca->skid);
	if (gnutls_x509_crt_get_subject_key_id(ca->crt, ca->skid,
	    &ca->skid_len, &critical) < 0) {
		r = KDC_ERR_MALFORMED;	/* kdc_ca_create always sets one */
		goto out;
	}

	if (key_url != NULL) {
		if ((r = crypto_key_import_url(key_url, &ca->key)) != KDC_OK)
			goto out;
	} else {
		if ((r = crypto_file_read(key_path, KDC_PRIVKEY_MAX +
		    KDC_WRAP_OVERHEAD, &wrapped, &wrapped_len)) != KDC_OK) {
			if (r == KDC_ERR_NOT_FOUND)
				r = KDC_ERR_IO;
			goto out;
		}
		if ((r = kdc_unwrap(kr, CA_KEY_AAD, strlen(CA_KEY_AAD),
		    wrapped, wrapped_len, &pkcs8, &pkcs8_len)) != KDC_OK ||
		    (r = crypto_key_import(pkcs8, pkcs8_len, &ca->key)) != KDC_OK)
			goto out;
	}
	/* A key that is not the certificate's would sign certificates no
	 * one can verify: refuse at load, not at the first device. */
	if ((r = key_matches_cert(ca->crt, ca->key, key_url != NULL ?
	    KDC_ERR_PKCS11 : KDC_ERR_CRYPTO)) != KDC_OK)
		goto out;
	/* A file key signs device certificates and CRLs in OpenSSL too
	 * (p256.h): imported once, here, from the bytes we still hold. */
	if (pkcs8 != NULL && (r = crypto_p256_ca_key_load(ca, pkcs8,
	    pkcs8_len)) != KDC_OK)
		goto out;
	*out = ca;
	ca = NULL;
	r = KDC_OK;
out:
	kdc_secret_free(pkcs8, pkcs8_len);
	kdc_free(wrapped);
	kdc_free(pem);
	kdc_free(cert_path);
	kdc_free(key_path);
	kdc_ca_free(ca);
	return r;
}

kdc_err
kdc_ca_cert_pem(const struct kdc_ca *ca, char **pem, size_t *len)
{
	uint8_t *p = NULL;
	size_t n = 0;
	kdc_err r;

	*pem = NULL;
	*len = 0;
	if ((r = crt_export(ca->crt, GNUTLS_X509_FMT_PEM, &p, &n)) != KDC_OK)
		return r;
	*pem = (char *)p;
	*len = strlen(*pem);
	return KDC_OK;
}

kdc_err
kdc_ca_cert_der(const struct kdc_ca *ca, uint8_t **der, size_t *len)
{
	uint8_t *p;

	*der = NULL;
	*len = 0;
	if ((p = kdc_malloc(ca->der_len)) == NULL)
		return KDC_ERR_NOMEM;
	memcpy(p, ca->der, ca->der_len);
	*der = p;
	*len = ca->der_len;
	return KDC_OK;
}

/* ---- the TLS server certificate -------------------------------------------- */

/* Add one SAN: an IP address if host parses as one, else a DNS name. */
static kdc_err
san_add_host(gnutls_x509_crt_t crt, const char *host)
{
	unsigned char ip[16];
	size_t n;
	int rc;

	if (host == NULL || (n = strlen(host)) == 0 || n > HOST_MAX)
		return KDC_ERR_INVALID_ARG;
	for (size_t i = 0; i < n; i++)
		if (host[i] <= ' ' || host[i] >= 0x7f)
			return KDC_ERR_INVALID_ARG;
	if (inet_pton(AF_INET, host, ip) == 1)
		rc = gnutls_x509_crt_set_subject_alt_name(crt,
		    GNUTLS_SAN_IPADDRESS, ip, 4, GNUTLS_FSAN_APPEND);
	else if (inet_pton(AF_INET6, host, ip) == 1)
		rc = gnutls_x509_crt_set_subject_alt_name(crt,
		    GNUTLS_SAN_IPADDRESS, ip, 16, GNUTLS_FSAN_APPEND);
	else
		rc = gnutls_x509_crt_set_subject_alt_name(crt,
		    GNUTLS_SAN_DNSNAME, host, (unsigned)n, GNUTLS_FSAN_APPEND);
	if (rc < 0)
		return KDC_CRYPTO_GTERR_AS("gnutls_x509_crt_set_subject_alt_name",
		    rc, KDC_ERR_INVALID_ARG);
	return KDC_OK;
}

kdc_err
kdc_tls_cert_create(const char *dir, const struct kdc_keyring *kr,
    struct kdc_ca *ca, const char *const *hosts, size_t nhosts,
    unsigned days)
{
	static const char *const fixed[] = { "localhost", "127.0.0.1", "::1" };
	gnutls_datum_t pkcs8 = { NULL, 0 };
	gnutls_privkey_t key = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_x509_crt_t crt = NULL;
	char *cert_path = NULL, *key_path = NULL, *chain = NULL;
	uint8_t *wrapped = NULL, *leaf = NULL, *capem = NULL;
	size_t wrapped_len = 0, leaf_len = 0, capem_len = 0;
	int64_t now = (int64_t)time(NULL);
	kdc_err r;
	int rc;

	if (dir == NULL || kr == NULL || ca == NULL || days == 0 ||
	    days > DAYS_MAX || (nhosts > 0 && hosts == NULL))
		return KDC_ERR_INVALID_ARG;
	if ((cert_path = crypto_path(dir, TLS_CERT_FILE)) == NULL ||
	    (key_path = crypto_path(dir, TLS_KEY_FILE)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	if ((r = crypto_key_generate(&key, &pkcs8)) != KDC_OK ||
	    (r = crypto_key_public_p256(key, KDC_ERR_CRYPTO, &pub)) != KDC_OK ||
	    (r = kdc_wrap(kr, TLS_KEY_AAD, strlen(TLS_KEY_AAD), pkcs8.data,
	    pkcs8.size, &wrapped, &wrapped_len)) != KDC_OK ||
	    (r = crt_new(pub, now - BACKDATE_SECS,
	    now + (int64_t)days * 86400, &crt)) != KDC_OK)
		goto out;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if ((r = san_add_host(crt, fixed[i])) != KDC_OK)
			goto out;
	for (size_t i = 0; i < nhosts; i++)
		if ((r = san_add_host(crt, hosts[i])) != KDC_OK)
			goto out;
	if ((rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME,
	    0, SERVER_DN_CN, strlen(SERVER_DN_CN))) < 0 ||
	    (rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_usage(crt,
	    GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (rc = gnutls_x509_crt_set_key_purpose_oid(crt,
	    GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
	    (rc = gnutls_x509_crt_set_authority_key_id(crt, ca->skid,
	    ca->skid_len)) < 0) {
		r = KDC_CRYPTO_GTERR("build server certificate", rc);
		goto out;
	}
	if ((rc = gnutls_x509_crt_privkey_sign(crt, ca->crt, ca->key,
	    GNUTLS_DIG_SHA256, 0)) < 0) {
		r = KDC_CRYPTO_GTERR("gnutls_x509_crt_privkey_sign", rc);
		goto out;
	}
	if ((r = crt_export(crt, GNUTLS_X509_FMT_PEM, &leaf, &leaf_len)) !=
	    KDC_OK ||
	    (r = crt_export(ca->crt, GNUTLS_X509_FMT_PEM, &capem,
	    &capem_len)) != KDC_OK)
		goto out;
	if ((chain = kdc_malloc(leaf_len + capem_len + 1)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	memcpy(chain, leaf, leaf_len);
	memcpy(chain + leaf_len, capem, capem_len);
	chain[leaf_len + capem_len] = '\0';
	/* Key first: a crash between the two renames leaves a new key with
	 * the old certificate, which a rerun repairs; the reverse order
	 * would be the same. Neither is ever half written. */
	if ((r = kdc_file_write_atomic(key_path, wrapped, wrapped_len,
	    0600)) != KDC_OK ||
	    (r = kdc_file_write_atomic(cert_path, chain, leaf_len + capem_len,
	    0644)) != KDC_OK)
		goto out;
	r = KDC_OK;
out:
	crypto_datum_wipe(&pkcs8);
	gnutls_x509_crt_deinit(crt);
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(key);
	kdc_free(wrapped);
	kdc_free(leaf);
	kdc_free(capem);
	kdc_free(chain);
	kdc_free(cert_path);
	kdc_free(key_path);
	return r;
}

/*
 * The pair as the listeners load it (GnuTLS credentials): a damaged
 * server.pem, or one from another data dir, is told here, not as a
 * listener that fails to start. MALFORMED: the chain does not parse;
 * TLS: its leaf is not server.key's.
 */
/*
 * Every certificate of a PEM chain parses: checked one by one first, as
 * GnuTLS 3.7.9's credentials loader leaks the certificates it parsed when
 * a later one does not (docs/traps.md). MALFORMED otherwise, or for no
 * certificate at all.
 */
static kdc_err
pem_chain_check(const uint8_t *chain, size_t len)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	const size_t blen = sizeof(begin) - 1;
	gnutls_x509_crt_t crt;
	gnutls_datum_t in;
	size_t n = 0, i = 0;
	int rc;

	while (i + blen <= len) {
		if (memcmp(chain + i, begin, blen) != 0) {
			i++;
			continue;
		}
		if (gnutls_x509_crt_init(&crt) != GNUTLS_E_SUCCESS)
			return KDC_ERR_NOMEM;
		/* the import reads the first block of what it is given */
		in.data = (unsigned char *)(uintptr_t)(chain + i);
		in.size = (unsigned)(len - i);
		rc = gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM);
		gnutls_x509_crt_deinit(crt);
		if (rc != GNUTLS_E_SUCCESS)
			return KDC_ERR_MALFORMED;
		n++;
		i += blen;
	}
	return n > 0 ? KDC_OK : KDC_ERR_MALFORMED;
}

static kdc_err
tls_pair_check(const uint8_t *chain, size_t chain_len,
    const gnutls_datum_t *key_pem)
{
	gnutls_certificate_credentials_t cr = NULL;
	gnutls_datum_t c;
	kdc_err r;
	int rc;

	if (chain_len > UINT_MAX)
		return KDC_ERR_MALFORMED;
	if ((r = pem_chain_check(chain, chain_len)) != KDC_OK)
		return r;
	if (gnutls_certificate_allocate_credentials(&cr) < 0)
		return KDC_ERR_NOMEM;
	c.data = (unsigned char *)(uintptr_t)chain;
	c.size = (unsigned)chain_len;
	rc = gnutls_certificate_set_x509_key_mem2(cr, &c, key_pem,
	    GNUTLS_X509_FMT_PEM, NULL, 0);
	gnutls_certificate_free_credentials(cr);
	if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
		return KDC_ERR_TLS;
	return rc < 0 ? KDC_ERR_MALFORMED : KDC_OK;
}

kdc_err
kdc_tls_cert_load(const char *dir, const struct kdc_keyring *kr,
    char **cert_pem, char **key_pem, size_t *key_len)
{
	char *cert_path = NULL, *key_path = NULL;
	uint8_t *chain = NULL, *wrapped = NULL, *pkcs8 = NULL, *kp = NULL;
	size_t chain_len = 0, wrapped_len = 0, pkcs8_len = 0, kp_len = 0;
	gnutls_datum_t der, pem = { NULL, 0 };
	kdc_err r;
	int rc;

	*cert_pem = NULL;
	*key_pem = NULL;
	*key_len = 0;
	if (dir == NULL || kr == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = kdc_crypto_init()) != KDC_OK)
		return r;
	if ((cert_path = crypto_path(dir, TLS_CERT_FILE)) == NULL ||
	    (key_path = crypto_path(dir, TLS_KEY_FILE)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	if ((r = crypto_file_read(cert_path, KDC_CRYPTO_FILE_MAX, &chain,
	    &chain_len)) != KDC_OK ||
	    (r = crypto_file_read(key_path, KDC_PRIVKEY_MAX +
	    KDC_WRAP_OVERHEAD, &wrapped, &wrapped_len)) != KDC_OK) {
		if (r == KDC_ERR_NOT_FOUND)
			r = KDC_ERR_IO;
		goto out;
	}
	if (!crypto_is_pem(chain, chain_len) ||
	    memchr(chain, '\0', chain_len) != NULL) {
		r = KDC_ERR_MALFORMED;
		goto out;
	}
	if ((r = kdc_unwrap(kr, TLS_KEY_AAD, strlen(TLS_KEY_AAD), wrapped,
	    wrapped_len, &pkcs8, &pkcs8_len)) != KDC_OK)
		goto out;
	der.data = pkcs8;
	der.size = (unsigned)pkcs8_len;
	/* PKCS#8 PEM ("PRIVATE KEY"), which libmicrohttpd hands to
	 * gnutls_certificate_set_x509_key_mem(). */
	if ((rc = gnutls_pem_base64_encode2("PRIVATE KEY", &der, &pem)) < 0) {
		r = KDC_CRYPTO_GTERR("gnutls_pem_base64_encode2", rc);
		goto out;
	}
	if ((r = crypto_datum_dup(&pem, &kp, &kp_len)) != KDC_OK ||
	    (r = tls_pair_check(chain, chain_len, &pem)) != KDC_OK)
		goto out;
	*cert_pem = (char *)chain;
	chain = NULL;
	*key_pem = (char *)kp;
	*key_len = strlen((char *)kp);
	kp = NULL;
	r = KDC_OK;
out:
	crypto_datum_wipe(&pem);
	kdc_secret_free(kp, kp_len);
	kdc_secret_free(pkcs8, pkcs8_len);
	kdc_free(wrapped);
	kdc_free(chain);
	kdc_free(cert_path);
	kdc_free(key_path);
	return r;
}

/* The leaf (first certificate) of a PEM chain. */
static kdc_err
pem_leaf(const char *pem, size_t len, gnutls_x509_crt_t *out)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t in;

	*out = NULL;
	if (pem == NULL || len > UINT_MAX)
		return KDC_ERR_MALFORMED;
	if (gnutls_x509_crt_init(&crt) != GNUTLS_E_SUCCESS)
		return KDC_ERR_NOMEM;
	in.data = (unsigned char *)(uintptr_t)pem;
	in.size = (unsigned int)len;
	if (gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM) !=
	    GNUTLS_E_SUCCESS) {
		gnutls_x509_crt_deinit(crt);
		return KDC_ERR_MALFORMED;
	}
	*out = crt;
	return KDC_OK;
}

kdc_err
kdc_tls_cert_names_host(const char *cert_pem, size_t len, const char *host)
{
	gnutls_x509_crt_t crt = NULL;
	kdc_err r;

	if (host == NULL || *host == '\0')
		return KDC_ERR_INVALID_ARG;
	if ((r = pem_leaf(cert_pem, len, &crt)) != KDC_OK)
		return r;
	/* RFC 6125 as GnuTLS applies it: an address literal against the
	 * iPAddress names, a DNS name against the dNSNames (any case); no
	 * wildcards (we never issue one). */
	r = gnutls_x509_crt_check_hostname2(crt, host,
	    GNUTLS_VERIFY_DO_NOT_ALLOW_WILDCARDS) != 0 ? KDC_OK :
	    KDC_ERR_NOT_FOUND;
	gnutls_x509_crt_deinit(crt);
	return r;
}

kdc_err
kdc_tls_cert_names(const char *cert_pem, size_t len, char *out, size_t cap)
{
	gnutls_x509_crt_t crt = NULL;
	size_t used = 0;
	kdc_err r;

	if (out == NULL || cap == 0)
		return KDC_ERR_INVALID_ARG;
	out[0] = '\0';
	if ((r = pem_leaf(cert_pem, len, &crt)) != KDC_OK)
		return r;
	for (unsigned i = 0;; i++) {
		char name[HOST_MAX + 1], text[INET6_ADDRSTRLEN];
		size_t nlen = sizeof(name) - 1;
		const char *s;
		int type, n;

		type = gnutls_x509_crt_get_subject_alt_name(crt, i, name, &nlen,
		    NULL);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (type < 0) {
			r = KDC_ERR_MALFORMED;
			goto out;
		}
		if (type == GNUTLS_SAN_DNSNAME) {
			name[nlen] = '\0';
			s = name;
		} else if (type == GNUTLS_SAN_IPADDRESS && (nlen == 4 ||
		    nlen == 16)) {
			if (inet_ntop(nlen == 4 ? AF_INET : AF_INET6, name,
			    text, sizeof(text)) == NULL) {
				r = KDC_ERR_MALFORMED;
				goto out;
			}
			s = text;
		} else
			continue;	/* not a name a client checks */
		n = snprintf(out + used, cap - used, "%s%s",
		    used > 0 ? ", " : "", s);
		if (n < 0 || (size_t)n >= cap - used) {
			out[0] = '\0';
			r = KDC_ERR_TOO_LARGE;
			goto out;
		}
		used += (size_t)n;
	}
	r = KDC_OK;
out:
	gnutls_x509_crt_deinit(crt);
	return r;
}
