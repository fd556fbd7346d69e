/*
 * test_crypto_p256.c: ECDSA P-256 on the enrollment path (crypto/p256.h),
 * both libraries. CSRs come from independent tools (openssl req, certtool);
 * certificates and CRLs we sign are checked by GnuTLS
 * (gnutls_x509_crt_verify / gnutls_x509_crl_verify against the CA) and by
 * the openssl CLI, through the OpenSSL signing path and the GnuTLS one.
 * Every test asserts which path ran (kdc_p256_last_was_openssl()), so a
 * test cannot pass on the other library by accident.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "base/alloc.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"
#include "crypto/p256.h"
#include "testutil.h"

static const uint8_t key_a[32] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

static char *g_dir;
static struct kdc_keyring *g_kr;
static struct kdc_ca *g_ca;
static gnutls_x509_crt_t g_cacrt;	/* ca.pem, parsed by the test */

/* CSRs by independent tools, in g_dir: P-256 with SHA-256, -384, -512
 * (openssl), P-256 (certtool), Ed25519 (certtool). */
#define MK_CSRS \
	"openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 " \
	"-nodes -subj /CN=x -keyout k.pem -outform DER -out s256.der " \
	"2>/dev/null && " \
	"openssl req -new -key k.pem -sha384 -subj /CN=x -outform DER " \
	"-out s384.der && " \
	"openssl req -new -key k.pem -sha512 -subj /CN=x -outform DER " \
	"-out s512.der && " \
	"openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 " \
	"-nodes -subj /CN=y -keyout k2.pem -outform DER -out other.der " \
	"2>/dev/null && " \
	"printf 'cn = \"device\"\\n' > tmpl && " \
	"certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 " \
	"--outfile c.key 2>/dev/null && certtool --generate-request " \
	"--load-privkey c.key --template tmpl --outder --outfile ct.der " \
	"2>/dev/null && " \
	"certtool --generate-privkey --key-type=ed25519 --outfile e.key " \
	"2>/dev/null && certtool --generate-request --load-privkey e.key " \
	"--template tmpl --outder --outfile ed.der 2>/dev/null"

static uint8_t *
read_in_dir(const char *name, size_t *len)
{
	char p[4096];
	uint8_t *b;

	snprintf(p, sizeof(p), "%s/%s", g_dir, name);
	if ((b = kdc_test_read_file(p, len)) == NULL)
		fail_msg("cannot read %s", p);
	return b;
}

static int
setup(void **state)
{
	gnutls_datum_t d;
	uint8_t *pem;
	size_t len;

	(void)state;
	g_dir = kdc_test_tmpdir();
	if (kdc_keyring_from_bytes(key_a, &g_kr) != KDC_OK ||
	    kdc_ca_create(g_dir, g_kr, NULL, 3650) != KDC_OK ||
	    kdc_ca_load(g_dir, g_kr, NULL, &g_ca) != KDC_OK ||
	    kdc_test_sh("cd '%s' && %s", g_dir, MK_CSRS) != 0)
		return -1;
	pem = read_in_dir("ca.pem", &len);
	d.data = pem;
	d.size = (unsigned)len;
	if (gnutls_x509_crt_init(&g_cacrt) < 0 ||
	    gnutls_x509_crt_import(g_cacrt, &d, GNUTLS_X509_FMT_PEM) < 0)
		return -1;
	free(pem);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	kdc_p256_force_gnutls(false);
	gnutls_x509_crt_deinit(g_cacrt);
	kdc_ca_free(g_ca);
	kdc_keyring_free(g_kr);
	kdc_test_rmtree(g_dir);
	free(g_dir);
	return 0;
}

/* Each test starts on the default path (OpenSSL). */
static int
path_reset(void **state)
{
	(void)state;
	kdc_p256_force_gnutls(false);
	return 0;
}

/* kdc_csr_verify() of the CSR file name on both paths: want each time,
 * and the path that ran is the one asked for (Ed25519: GnuTLS always). */
static void
verify_both(const uint8_t *der, size_t len, kdc_err want, bool p256)
{
	struct kdc_csr c;

	assert_int_equal(kdc_csr_parse(der, len, &c), KDC_OK);
	for (int forced = 0; forced <= 1; forced++) {
		kdc_p256_force_gnutls(forced);
		assert_int_equal(kdc_csr_verify(&c), want);
		if (p256)
			assert_int_equal(kdc_p256_last_was_openssl(), !forced);
	}
	kdc_p256_force_gnutls(false);
}

static void
test_verify_tools(void **state)
{
	static const char *const p256[] = { "s256.der", "s384.der",
	    "s512.der", "other.der", "ct.der" };
	uint8_t *der;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(p256) / sizeof(p256[0]); i++) {
		der = read_in_dir(p256[i], &len);
		verify_both(der, len, KDC_OK, true);
		free(der);
	}
	der = read_in_dir("ed.der", &len);
	verify_both(der, len, KDC_OK, false);
	free(der);
}

/* A DER ECDSA signature with r re-encoded with one more leading zero:
 * the same numbers, not DER (X.690 8.3.2). sig must hold len + 2. */
static size_t
sig_non_minimal(const uint8_t *sig, size_t len, uint8_t *out)
{
	size_t rlen;

	assert_true(len >= 8 && len < 126 && sig[0] == 0x30 &&
	    sig[1] == len - 2 && sig[2] == 0x02);
	rlen = sig[3];
	out[0] = 0x30;
	out[1] = (uint8_t)(len - 2 + 1);
	out[2] = 0x02;
	out[3] = (uint8_t)(rlen + 1);
	out[4] = 0x00;
	memcpy(out + 5, sig + 4, len - 4);
	return len + 1;
}

/* Refusals, both paths, as KDC_ERR_BAD_SIGNATURE (what EST and `cert
 * sign` report today): a changed signature, a changed signed byte, a
 * signature by another key, a point off the curve, a signature that is
 * not DER, a wrong hash. */
static void
test_verify_refusals(void **state)
{
	uint8_t *der, *other, bad[KDC_P256_SIG_MAX + 2];
	size_t len, olen, n;
	struct kdc_csr c, o;
	int64_t now = (int64_t)time(NULL);
	struct kdc_issued is;

	(void)state;
	der = read_in_dir("s256.der", &len);
	other = read_in_dir("other.der", &olen);
	/* the last byte is in s */
	der[len - 1] ^= 0x01;
	verify_both(der, len, KDC_ERR_BAD_SIGNATURE, true);
	for (int forced = 0; forced <= 1; forced++) {
		kdc_p256_force_gnutls(forced);
		assert_int_equal(kdc_ca_sign_csr(g_ca, der, len, "d", now,
		    now + 60, &is), KDC_ERR_BAD_SIGNATURE);
		assert_null(is.cert);
	}
	kdc_p256_force_gnutls(false);
	der[len - 1] ^= 0x01;
	verify_both(der, len, KDC_OK, true);

	assert_int_equal(kdc_csr_parse(der, len, &c), KDC_OK);
	assert_int_equal(kdc_csr_parse(other, olen, &o), KDC_OK);
	for (int forced = 0; forced <= 1; forced++) {
		kdc_p256_force_gnutls(forced);
		/* a byte of the signed info (the subject's CN "x") */
		{
			uint8_t *info = kdc_malloc(c.info_len);

			assert_non_null(info);
			memcpy(info, c.info, c.info_len);
			info[c.info_len - 40] ^= 0x01;
			assert_int_equal(crypto_p256_verify(c.spki, c.spki_len,
			    KDC_P256_SHA256, info, c.info_len, c.sig,
			    c.sig_len), KDC_ERR_BAD_SIGNATURE);
			kdc_free(info);
		}
		/* another key's signature over its own info, with our key */
		assert_int_equal(crypto_p256_verify(c.spki, c.spki_len,
		    KDC_P256_SHA256, o.info, o.info_len, o.sig, o.sig_len),
		    KDC_ERR_BAD_SIGNATURE);
		/* the right signature, the wrong hash */
		assert_int_equal(crypto_p256_verify(c.spki, c.spki_len,
		    KDC_P256_SHA384, c.info, c.info_len, c.sig, c.sig_len),
		    KDC_ERR_BAD_SIGNATURE);
		/* not DER: r with a superfluous leading zero */
		n = sig_non_minimal(c.sig, c.sig_len, bad);
		if (!forced)	/* OpenSSL re-encodes and compares */
			assert_int_equal(crypto_p256_verify(c.spki,
			    c.spki_len, KDC_P256_SHA256, c.info, c.info_len,
			    bad, n), KDC_ERR_BAD_SIGNATURE);
		/* an empty or absurd signature, an unknown hash */
		assert_int_equal(crypto_p256_verify(c.spki, c.spki_len,
		    KDC_P256_SHA256, c.info, c.info_len, c.sig, 0),
		    KDC_ERR_BAD_SIGNATURE);
		assert_int_equal(crypto_p256_verify(c.spki, c.spki_len,
		    KDC_P256_SHA256, c.info, c.info_len, c.sig,
		    KDC_P256_SIG_MAX + 1), KDC_ERR_BAD_SIGNATURE);
		assert_int_equal(crypto_p256_verify(c.spki, c.spki_len,
		    (enum kdc_p256_hash)9, c.info, c.info_len, c.sig,
		    c.sig_len), KDC_ERR_INVALID_ARG);
		/* still good after all that (OpenSSL's error queue cleared) */
		assert_int_equal(crypto_p256_verify(c.spki, c.spki_len,
		    KDC_P256_SHA256, c.info, c.info_len, c.sig, c.sig_len),
		    KDC_OK);
		assert_int_equal(kdc_p256_last_was_openssl(), !forced);
	}
	kdc_p256_force_gnutls(false);
	/* y of the point changed: off the curve */
	der[(c.spki - der) + c.spki_len - 1] ^= 0x01;
	verify_both(der, len, KDC_ERR_BAD_SIGNATURE, true);
	der[(c.spki - der) + c.spki_len - 1] ^= 0x01;
	/* no single-byte change of the CSR verifies on the OpenSSL path */
	for (size_t i = 0; i < len; i++) {
		struct kdc_csr t;

		der[i] ^= 0x20;
		if (kdc_csr_parse(der, len, &t) == KDC_OK)
			assert_int_not_equal(kdc_csr_verify(&t), KDC_OK);
		der[i] ^= 0x20;
	}
	free(der);
	free(other);
}

/* cert (DER) checked by GnuTLS against the CA and by `openssl verify`. */
static void
cert_verifies(const uint8_t *cert, size_t len, const char *name)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = { (unsigned char *)(uintptr_t)cert, (unsigned)len },
	    pem = { NULL, 0 };
	unsigned status = ~0u;
	char p[4096];

	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER),
	    0);
	assert_int_equal(gnutls_x509_crt_verify(crt, &g_cacrt, 1, 0, &status),
	    0);
	assert_int_equal(status, 0);
	gnutls_x509_crt_deinit(crt);
	assert_int_equal(gnutls_pem_base64_encode2("CERTIFICATE", &d, &pem), 0);
	snprintf(p, sizeof(p), "%s/%s", g_dir, name);
	assert_int_equal(kdc_test_write_file(p, pem.data, pem.size), 0);
	gnutls_free(pem.data);
	assert_int_equal(kdc_test_sh("cd '%s' && openssl verify -CAfile ca.pem "
	    "-purpose sslclient %s >/dev/null", g_dir, name), 0);
}

/* The same CSR signed on both paths: both certificates verify with both
 * libraries, and their signatures differ (ECDSA: a fresh nonce). The CA
 * key sits in OpenSSL once loaded from a file. */
static void
test_sign_both_paths(void **state)
{
	int64_t now = (int64_t)time(NULL);
	struct kdc_issued a, b;
	uint8_t *der;
	size_t len;

	(void)state;
	assert_non_null(g_ca->ossl_key);
	der = read_in_dir("s256.der", &len);
	assert_int_equal(kdc_ca_sign_csr(g_ca, der, len, "urn:dev:ops:o",
	    now - 60, now + 86400, &a), KDC_OK);
	assert_true(kdc_p256_last_was_openssl());
	cert_verifies(a.cert, a.cert_len, "o.pem");
	kdc_p256_force_gnutls(true);
	assert_int_equal(kdc_ca_sign_csr(g_ca, der, len, "urn:dev:ops:o",
	    now - 60, now + 86400, &b), KDC_OK);
	assert_false(kdc_p256_last_was_openssl());
	kdc_p256_force_gnutls(false);
	cert_verifies(b.cert, b.cert_len, "g.pem");
	assert_false(a.cert_len == b.cert_len &&
	    memcmp(a.cert, b.cert, a.cert_len) == 0);
	/* a flipped byte of the OpenSSL-signed certificate's signature is
	 * refused by both verifiers (the checks above can fail) */
	a.cert[a.cert_len - 1] ^= 0x01;
	{
		gnutls_x509_crt_t crt;
		gnutls_datum_t d = { a.cert, (unsigned)a.cert_len }, pem;
		unsigned status = 0;
		char p[4096];

		assert_int_equal(gnutls_x509_crt_init(&crt), 0);
		assert_int_equal(gnutls_x509_crt_import(crt, &d,
		    GNUTLS_X509_FMT_DER), 0);
		assert_int_equal(gnutls_x509_crt_verify(crt, &g_cacrt, 1, 0,
		    &status), 0);
		assert_true(status & GNUTLS_CERT_SIGNATURE_FAILURE);
		gnutls_x509_crt_deinit(crt);
		assert_int_equal(gnutls_pem_base64_encode2("CERTIFICATE", &d,
		    &pem), 0);
		snprintf(p, sizeof(p), "%s/bad.pem", g_dir);
		assert_int_equal(kdc_test_write_file(p, pem.data, pem.size), 0);
		gnutls_free(pem.data);
		assert_int_not_equal(kdc_test_sh("cd '%s' && openssl verify "
		    "-CAfile ca.pem bad.pem >/dev/null 2>&1", g_dir), 0);
	}
	kdc_issued_wipe(&a);
	kdc_issued_wipe(&b);
	free(der);
}

/* kdc_ca_sign_spki (keys the KDC made) and the CRL go through the same
 * signer: both verify with GnuTLS and openssl, on both paths. */
static void
test_sign_spki_and_crl(void **state)
{
	int64_t now = (int64_t)time(NULL);
	const char *serials[] = { "0102030405" };
	int64_t at[] = { now - 10 };
	uint8_t pkcs8[KDC_PRIVKEY_MAX], *spki = NULL, *crl = NULL;
	size_t pkcs8_len = sizeof(pkcs8), spki_len = 0, crl_len = 0;
	struct kdc_issued is;

	(void)state;
	assert_int_equal(kdc_keygen_p256(pkcs8, &pkcs8_len, &spki, &spki_len),
	    KDC_OK);
	kdc_wipe(pkcs8, sizeof(pkcs8));
	for (int forced = 0; forced <= 1; forced++) {
		gnutls_x509_crl_t x;
		gnutls_datum_t d, pem = { NULL, 0 };
		unsigned status = ~0u;
		char p[4096];

		kdc_p256_force_gnutls(forced);
		assert_int_equal(kdc_ca_sign_spki(g_ca, spki, spki_len,
		    "urn:dev:ops:k", now - 60, now + 86400, &is), KDC_OK);
		assert_int_equal(kdc_p256_last_was_openssl(), !forced);
		cert_verifies(is.cert, is.cert_len, "k.pem");
		kdc_issued_wipe(&is);
		assert_int_equal(kdc_ca_crl(g_ca, serials, at, 1, now,
		    now + 3600, 7, &crl, &crl_len), KDC_OK);
		assert_int_equal(kdc_p256_last_was_openssl(), !forced);
		d.data = crl;
		d.size = (unsigned)crl_len;
		assert_int_equal(gnutls_x509_crl_init(&x), 0);
		assert_int_equal(gnutls_x509_crl_import(x, &d,
		    GNUTLS_X509_FMT_DER), 0);
		assert_int_equal(gnutls_x509_crl_verify(x, &g_cacrt, 1, 0,
		    &status), 0);
		assert_int_equal(status, 0);
		gnutls_x509_crl_deinit(x);
		assert_int_equal(gnutls_pem_base64_encode2("X509 CRL", &d,
		    &pem), 0);
		snprintf(p, sizeof(p), "%s/crl.pem", g_dir);
		assert_int_equal(kdc_test_write_file(p, pem.data, pem.size), 0);
		gnutls_free(pem.data);
		assert_int_equal(kdc_test_sh("cd '%s' && openssl crl -in crl.pem "
		    "-CAfile ca.pem -noout 2>&1 | grep -qx 'verify OK'", g_dir),
		    0);
		kdc_free(crl);
		crl = NULL;
	}
	kdc_p256_force_gnutls(false);
	kdc_free(spki);
}

/* What crypto_p256_ca_key_load() takes: the CA's own key (kept), another
 * P-256 key (BAD_KEY: OpenSSL would sign as someone else), garbage
 * (BAD_KEY), an Ed25519 key (left to GnuTLS: nothing kept). */
static void
test_ca_key_load(void **state)
{
	struct kdc_ca *ca = NULL;
	gnutls_x509_privkey_t ed = NULL;
	gnutls_datum_t edp = { NULL, 0 };
	uint8_t pkcs8[KDC_PRIVKEY_MAX], *spki = NULL, *wrapped, *mine = NULL;
	size_t pkcs8_len = sizeof(pkcs8), spki_len = 0, wlen, mine_len = 0;

	(void)state;
	assert_int_equal(kdc_ca_load(g_dir, g_kr, NULL, &ca), KDC_OK);
	assert_non_null(ca->ossl_key);
	/* another P-256 key */
	assert_int_equal(kdc_keygen_p256(pkcs8, &pkcs8_len, &spki, &spki_len),
	    KDC_OK);
	assert_int_equal(crypto_p256_ca_key_load(ca, pkcs8, pkcs8_len),
	    KDC_ERR_BAD_KEY);
	assert_null(ca->ossl_key);
	/* garbage, a truncated key, trailing bytes */
	assert_int_equal(crypto_p256_ca_key_load(ca, (const uint8_t *)"xyz",
	    3), KDC_ERR_BAD_KEY);
	assert_int_equal(crypto_p256_ca_key_load(ca, pkcs8, pkcs8_len - 1),
	    KDC_ERR_BAD_KEY);
	kdc_wipe(pkcs8, sizeof(pkcs8));
	/* an Ed25519 key: not ours to speed up */
	assert_int_equal(gnutls_x509_privkey_init(&ed), 0);
	assert_int_equal(gnutls_x509_privkey_generate(ed,
	    GNUTLS_PK_EDDSA_ED25519, 0, 0), 0);
	assert_int_equal(gnutls_x509_privkey_export2_pkcs8(ed,
	    GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN, &edp), 0);
	assert_int_equal(crypto_p256_ca_key_load(ca, edp.data, edp.size),
	    KDC_OK);
	assert_null(ca->ossl_key);
	crypto_datum_wipe(&edp);
	gnutls_x509_privkey_deinit(ed);
	/* the CA's own key again: kept, and the CA signs through it */
	wrapped = read_in_dir("ca.key", &wlen);
	assert_int_equal(kdc_unwrap(g_kr, "ca.key", 6, wrapped, wlen, &mine,
	    &mine_len), KDC_OK);
	assert_int_equal(crypto_p256_ca_key_load(ca, mine, mine_len), KDC_OK);
	kdc_secret_free(mine, mine_len);
	assert_non_null(ca->ossl_key);
	{
		int64_t now = (int64_t)time(NULL);
		struct kdc_issued is;

		assert_int_equal(kdc_ca_sign_spki(ca, spki, spki_len, "dev-1",
		    now - 60, now + 600, &is), KDC_OK);
		assert_true(kdc_p256_last_was_openssl());
		cert_verifies(is.cert, is.cert_len, "own.pem");
		kdc_issued_wipe(&is);
	}
	free(wrapped);
	kdc_free(spki);
	kdc_ca_free(ca);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_verify_tools, path_reset),
		cmocka_unit_test_setup(test_verify_refusals, path_reset),
		cmocka_unit_test_setup(test_sign_both_paths, path_reset),
		cmocka_unit_test_setup(test_sign_spki_and_crl, path_reset),
		cmocka_unit_test_setup(test_ca_key_load, path_reset),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
