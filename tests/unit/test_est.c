/*
 * test_est.c: the EST-coaps crypto helpers (crypto/est.c) against
 * openssl as the independent peer: the key of a PKCS#10 CSR equals what
 * `openssl pkey -pubout` says, every truncation and a trailing byte fail,
 * PEM and non-P-256/Ed25519 keys are refused; a PKCS#7 certs-only holds
 * exactly the certificates given and `openssl pkcs7` reads it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/pkcs7.h>

#include "crypto/crypto.h"
#include "testutil.h"

struct fx {
	char	*dir;
	uint8_t	*csr, *spki, *pem, *rsa, *cert;
	size_t	 csr_len, spki_len, pem_len, rsa_len, cert_len;
};

static uint8_t *
load(const struct fx *f, const char *name, size_t *len)
{
	char p[512];
	uint8_t *b;

	snprintf(p, sizeof(p), "%s/%s", f->dir, name);
	assert_non_null(b = kdc_test_read_file(p, len));
	return b;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *d;

	assert_int_equal(kdc_crypto_init(), KDC_OK);
	f->dir = kdc_test_tmpdir();
	d = f->dir;
	assert_int_equal(kdc_test_sh("cd %s && openssl req -new -newkey ec "
	    "-pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x -keyout k.pem "
	    "-outform DER -out csr.der 2>/dev/null && openssl pkey -in k.pem "
	    "-pubout -outform DER -out spki.der && openssl req -inform DER "
	    "-in csr.der -out csr.pem && openssl req -new -newkey rsa:2048 "
	    "-nodes -subj /CN=r -keyout r.pem -outform DER -out rsa.der "
	    "2>/dev/null && openssl req -x509 -key k.pem -subj /CN=c -days 1 "
	    "-outform DER -out cert.der", d), 0);
	f->csr = load(f, "csr.der", &f->csr_len);
	f->spki = load(f, "spki.der", &f->spki_len);
	f->pem = load(f, "csr.pem", &f->pem_len);
	f->rsa = load(f, "rsa.der", &f->rsa_len);
	f->cert = load(f, "cert.der", &f->cert_len);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	kdc_test_rmtree(f->dir);
	free(f->dir);
	free(f->csr);
	free(f->spki);
	free(f->pem);
	free(f->rsa);
	free(f->cert);
	free(f);
	return 0;
}

static void
test_csr_spki(void **state)
{
	struct fx *f = *state;
	uint8_t *spki = NULL;
	size_t len = 0;

	assert_int_equal(kdc_csr_spki(f->csr, f->csr_len, &spki, &len),
	    KDC_OK);
	assert_int_equal(len, f->spki_len);
	assert_memory_equal(spki, f->spki, len);
	free(spki);
}

static void
test_csr_spki_refused(void **state)
{
	struct fx *f = *state;
	uint8_t *spki = (uint8_t *)"x", *buf;
	size_t len = 1;

	/* Content-Format 286 is DER: PEM is not accepted */
	assert_int_equal(kdc_csr_spki(f->pem, f->pem_len, &spki, &len),
	    KDC_ERR_MALFORMED);
	assert_null(spki);
	assert_int_equal(len, 0);
	assert_int_equal(kdc_csr_spki(f->rsa, f->rsa_len, &spki, &len),
	    KDC_ERR_UNSUPPORTED_KEY);
	assert_int_equal(kdc_csr_spki(NULL, 0, &spki, &len),
	    KDC_ERR_MALFORMED);
	assert_int_equal(kdc_csr_spki(f->csr, KDC_CSR_MAX + 1, &spki, &len),
	    KDC_ERR_TOO_LARGE);
	/* every truncation fails; a trailing byte fails */
	for (size_t n = 1; n < f->csr_len; n++) {
		assert_int_not_equal(kdc_csr_spki(f->csr, n, &spki, &len),
		    KDC_OK);
		assert_null(spki);
	}
	assert_non_null(buf = malloc(f->csr_len + 1));
	memcpy(buf, f->csr, f->csr_len);
	buf[f->csr_len] = 0;
	assert_int_not_equal(kdc_csr_spki(buf, f->csr_len + 1, &spki, &len),
	    KDC_OK);
	/* no single-byte change crashes (ASan/UBSan check the rest) */
	for (size_t i = 0; i < f->csr_len; i++) {
		memcpy(buf, f->csr, f->csr_len);
		buf[i] ^= 0xff;
		if (kdc_csr_spki(buf, f->csr_len, &spki, &len) == KDC_OK)
			free(spki);
	}
	free(buf);
}

static void
test_pkcs7(void **state)
{
	struct fx *f = *state;
	const uint8_t *ders[2] = { f->cert, f->cert };
	size_t lens[2] = { f->cert_len, f->cert_len };
	gnutls_pkcs7_t p7;
	gnutls_datum_t in, c;
	uint8_t *out = NULL;
	size_t out_len = 0;
	char p[512];

	assert_int_equal(kdc_pkcs7_certs(ders, lens, 1, &out, &out_len),
	    KDC_OK);
	assert_int_equal(gnutls_pkcs7_init(&p7), 0);
	in.data = out;
	in.size = (unsigned)out_len;
	assert_int_equal(gnutls_pkcs7_import(p7, &in, GNUTLS_X509_FMT_DER), 0);
	assert_int_equal(gnutls_pkcs7_get_crt_count(p7), 1);
	assert_int_equal(gnutls_pkcs7_get_crt_raw2(p7, 0, &c), 0);
	assert_int_equal(c.size, f->cert_len);
	assert_memory_equal(c.data, f->cert, f->cert_len);
	gnutls_free(c.data);
	gnutls_pkcs7_deinit(p7);
	/* openssl, the independent reader, sees the same certificate */
	snprintf(p, sizeof(p), "%s/p7.der", f->dir);
	assert_int_equal(kdc_test_write_file(p, out, out_len), 0);
	assert_int_equal(kdc_test_sh("cd %s && openssl pkcs7 -inform DER "
	    "-in p7.der -print_certs -out p7.pem && openssl x509 -in p7.pem "
	    "-outform DER -out p7c.der && cmp -s p7c.der cert.der", f->dir),
	    0);
	free(out);

	assert_int_equal(kdc_pkcs7_certs(ders, lens, 2, &out, &out_len),
	    KDC_OK);
	free(out);
}

static void
test_pkcs7_refused(void **state)
{
	struct fx *f = *state;
	const uint8_t *ders[1] = { f->csr };	/* not a certificate */
	size_t lens[1] = { f->csr_len };
	uint8_t *out = (uint8_t *)"x";
	size_t out_len = 1;

	assert_int_equal(kdc_pkcs7_certs(ders, lens, 1, &out, &out_len),
	    KDC_ERR_MALFORMED);
	assert_null(out);
	assert_int_equal(out_len, 0);
	assert_int_equal(kdc_pkcs7_certs(ders, lens, 0, &out, &out_len),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_pkcs7_certs(ders, lens, KDC_CHAIN_MAX + 1, &out,
	    &out_len), KDC_ERR_INVALID_ARG);
	lens[0] = f->cert_len - 1;
	ders[0] = f->cert;
	assert_int_equal(kdc_pkcs7_certs(ders, lens, 1, &out, &out_len),
	    KDC_ERR_MALFORMED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csr_spki),
		cmocka_unit_test(test_csr_spki_refused),
		cmocka_unit_test(test_pkcs7),
		cmocka_unit_test(test_pkcs7_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
