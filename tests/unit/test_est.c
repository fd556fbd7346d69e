/*
 * test_est.c: the EST-coaps crypto helpers (crypto/est.c) against
 * openssl as the independent peer: the key of a PKCS#10 CSR equals what
 * `openssl pkey -pubout` says, every truncation and a trailing byte fail,
 * PEM and non-P-256/Ed25519 keys are refused; our DER CSR parser reads
 * openssl's requests (P-256 SHA-256/384, Ed25519), verifies them and
 * refuses every other encoding of the same value; a PKCS#7 certs-only holds
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
	uint8_t	*csr, *spki, *pem, *rsa, *cert, *ed, *s384, *nocn;
	size_t	 csr_len, spki_len, pem_len, rsa_len, cert_len, ed_len,
		 s384_len, nocn_len;
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
	    "-outform DER -out cert.der && openssl req -new -newkey ed25519 "
	    "-nodes -subj /CN=ed -keyout ed.pem -outform DER -out ed.der "
	    "2>/dev/null && openssl req -new -key k.pem -sha384 -subj "
	    "'/O=acme/CN=urn:dev:ops:384' -outform DER -out s384.der && "
	    "openssl req -new -key k.pem -subj /O=acme -outform DER "
	    "-out nocn.der", d), 0);
	f->csr = load(f, "csr.der", &f->csr_len);
	f->spki = load(f, "spki.der", &f->spki_len);
	f->pem = load(f, "csr.pem", &f->pem_len);
	f->rsa = load(f, "rsa.der", &f->rsa_len);
	f->cert = load(f, "cert.der", &f->cert_len);
	f->ed = load(f, "ed.der", &f->ed_len);
	f->s384 = load(f, "s384.der", &f->s384_len);
	f->nocn = load(f, "nocn.der", &f->nocn_len);
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
	free(f->ed);
	free(f->s384);
	free(f->nocn);
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

/* What kdc_csr_parse() reads from requests openssl wrote: the fields,
 * the self-signature (P-256 with SHA-256 and SHA-384, Ed25519), the CN. */
static void
test_csr_parse(void **state)
{
	struct fx *f = *state;
	struct kdc_csr c;
	char cn[64];

	assert_int_equal(kdc_csr_parse(f->csr, f->csr_len, &c), KDC_OK);
	assert_int_equal(c.alg, KDC_KEY_P256);
	assert_int_equal(c.spki_len, f->spki_len);
	assert_memory_equal(c.spki, f->spki, f->spki_len);
	/* the signed part is the request's first element */
	assert_true(c.info > f->csr && c.info + c.info_len < c.sig);
	assert_true(c.spki > c.info && c.spki + c.spki_len <= c.info +
	    c.info_len);
	assert_ptr_equal(c.sig + c.sig_len, f->csr + f->csr_len);
	assert_int_equal(kdc_csr_verify(&c), KDC_OK);
	assert_int_equal(kdc_csr_cn(&c, cn, sizeof(cn)), KDC_OK);
	assert_string_equal(cn, "x");
	assert_int_equal(kdc_csr_cn(&c, cn, 1), KDC_ERR_MALFORMED);

	assert_int_equal(kdc_csr_parse(f->s384, f->s384_len, &c), KDC_OK);
	assert_int_equal(kdc_csr_verify(&c), KDC_OK);
	assert_int_equal(kdc_csr_cn(&c, cn, sizeof(cn)), KDC_OK);
	assert_string_equal(cn, "urn:dev:ops:384");

	assert_int_equal(kdc_csr_parse(f->ed, f->ed_len, &c), KDC_OK);
	assert_int_equal(c.alg, KDC_KEY_ED25519);
	assert_int_equal(c.spki_len, 44);
	assert_int_equal(kdc_csr_verify(&c), KDC_OK);

	assert_int_equal(kdc_csr_parse(f->nocn, f->nocn_len, &c), KDC_OK);
	assert_int_equal(kdc_csr_cn(&c, cn, sizeof(cn)), KDC_ERR_NOT_FOUND);

	assert_int_equal(kdc_csr_parse(f->rsa, f->rsa_len, &c),
	    KDC_ERR_UNSUPPORTED_KEY);
	assert_null(c.spki);
	assert_int_equal(kdc_csr_parse(f->pem, f->pem_len, &c),
	    KDC_ERR_MALFORMED);
}

/* One value, one encoding: a longer length form, an indefinite length,
 * unused bits in the signature are all MALFORMED; a point off the curve
 * parses (the parser does no arithmetic) but neither kdc_csr_spki() nor
 * the signature check accepts it; a changed signature does not verify. */
static void
test_csr_strict(void **state)
{
	struct fx *f = *state;
	size_t n = f->csr_len, hl;
	uint8_t *b, *spki = NULL;
	struct kdc_csr c;
	size_t len;

	assert_non_null(b = malloc(n + 4));
	/* the outer length with a leading zero octet */
	assert_int_equal(f->csr[0], 0x30);
	assert_true(f->csr[1] == 0x81 || f->csr[1] == 0x82);
	hl = f->csr[1] == 0x81 ? 3 : 4;
	b[0] = 0x30;
	b[1] = (uint8_t)(f->csr[1] + 1);
	b[2] = 0x00;
	memcpy(b + 3, f->csr + 2, n - 2);
	assert_int_equal(kdc_csr_parse(b, n + 1, &c), KDC_ERR_MALFORMED);
	/* short form written long: 0x81 with a length under 128 */
	{
		static const uint8_t v[] = { 0x30, 0x81, 0x03, 0x02, 0x01,
		    0x00 };
		assert_int_equal(kdc_csr_parse(v, sizeof(v), &c),
		    KDC_ERR_MALFORMED);
	}
	/* indefinite length, end-of-contents after it */
	b[0] = 0x30;
	b[1] = 0x80;
	memcpy(b + 2, f->csr + hl, n - hl);
	b[2 + n - hl] = 0;
	b[3 + n - hl] = 0;
	assert_int_equal(kdc_csr_parse(b, 4 + n - hl, &c), KDC_ERR_MALFORMED);
	/* the signature BIT STRING with unused bits */
	memcpy(b, f->csr, n);
	assert_int_equal(kdc_csr_parse(b, n, &c), KDC_OK);
	b[c.sig - b - 1] = 0x01;
	assert_int_equal(kdc_csr_parse(b, n, &c), KDC_ERR_MALFORMED);
	/* a changed s: parses, does not verify */
	memcpy(b, f->csr, n);
	b[n - 1] ^= 0x01;
	assert_int_equal(kdc_csr_parse(b, n, &c), KDC_OK);
	assert_int_equal(kdc_csr_verify(&c), KDC_ERR_BAD_SIGNATURE);
	/* y of the point changed: off the curve */
	memcpy(b, f->csr, n);
	assert_int_equal(kdc_csr_parse(b, n, &c), KDC_OK);
	b[(c.spki - b) + c.spki_len - 1] ^= 0x01;
	assert_int_equal(kdc_csr_parse(b, n, &c), KDC_OK);
	assert_int_equal(kdc_csr_verify(&c), KDC_ERR_BAD_SIGNATURE);
	assert_int_equal(kdc_csr_spki(b, n, &spki, &len), KDC_ERR_MALFORMED);
	assert_null(spki);
	free(b);
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
		cmocka_unit_test(test_csr_parse),
		cmocka_unit_test(test_csr_strict),
		cmocka_unit_test(test_pkcs7),
		cmocka_unit_test(test_pkcs7_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
