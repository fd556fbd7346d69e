/*
 * test_crypto_crl.c: kdc_ca_crl() against OpenSSL's CLI (parse, signature
 * against the CA, `verify -crl_check` of a certificate we issued), against
 * GnuTLS's own CRL builder (the same TBSCertList byte for byte), and
 * against itself (every single-byte change of the DER fails GnuTLS's
 * verification or parse).
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
#include <gnutls/x509.h>

#include "base/alloc.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"
#include "testutil.h"

static const uint8_t wkey[32] = { 0x21, 0x43 };

struct fx {
	char			*dir;
	struct kdc_keyring	*kr;
	struct kdc_ca		*ca;
	struct kdc_issued	 is;	/* a device certificate, cert.pem */
};

static void
write_pem(const char *dir, const char *name, const char *label,
    const uint8_t *der, size_t len)
{
	gnutls_datum_t in = { (unsigned char *)(uintptr_t)der, (unsigned)len };
	gnutls_datum_t out = { NULL, 0 };
	char path[600];

	assert_int_equal(gnutls_pem_base64_encode2(label, &in, &out), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(kdc_test_write_file(path, out.data, out.size), 0);
	gnutls_free(out.data);
}

static void
write_der(const char *dir, const char *name, const uint8_t *der, size_t len)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(kdc_test_write_file(path, der, len), 0);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	uint8_t *csr;
	size_t csr_len;
	char path[600];
	int64_t now = (int64_t)time(NULL);

	if (f == NULL || kdc_crypto_init() != KDC_OK)
		return -1;
	f->dir = kdc_test_tmpdir();
	if (kdc_keyring_from_bytes(wkey, &f->kr) != KDC_OK ||
	    kdc_ca_create(f->dir, f->kr, NULL, 3650) != KDC_OK ||
	    kdc_ca_load(f->dir, f->kr, NULL, &f->ca) != KDC_OK)
		return -1;
	if (kdc_test_sh("cd '%s' && openssl req -new -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -subj /CN=x -keyout d.key "
	    "-out d.csr 2>/dev/null", f->dir) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/d.csr", f->dir);
	if ((csr = kdc_test_read_file(path, &csr_len)) == NULL)
		return -1;
	if (kdc_ca_sign_csr(f->ca, csr, csr_len, "urn:dev:crl:1", now - 60,
	    now + 86400, &f->is) != KDC_OK) {
		free(csr);
		return -1;
	}
	free(csr);
	write_pem(f->dir, "cert.pem", "CERTIFICATE", f->is.cert,
	    f->is.cert_len);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	kdc_issued_wipe(&f->is);
	kdc_ca_free(f->ca);
	kdc_keyring_free(f->kr);
	kdc_test_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* openssl crl -text of dir/crl.der into dir/crl.txt; signature checked
 * against ca.pem ("verify OK" on stderr). */
static int
openssl_crl_ok(const char *dir)
{
	return kdc_test_sh("cd '%s' && openssl crl -inform DER -in crl.der "
	    "-noout -text > crl.txt && openssl crl -inform DER -in crl.der "
	    "-CAfile ca.pem -noout 2> crlv.txt && grep -qx 'verify OK' "
	    "crlv.txt && openssl crl -inform DER -in crl.der -out crl.pem",
	    dir);
}

static void
test_empty_crl(void **state)
{
	struct fx *f = *state;
	uint8_t *der = NULL;
	size_t len = 0;
	int64_t now = (int64_t)time(NULL);

	assert_int_equal(kdc_ca_crl(f->ca, NULL, NULL, 0, now - 10,
	    now + 86400, 7, &der, &len), KDC_OK);
	assert_non_null(der);
	write_der(f->dir, "crl.der", der, len);
	kdc_free(der);
	assert_int_equal(openssl_crl_ok(f->dir), 0);
	assert_int_equal(kdc_test_sh("cd '%s' && "
	    "grep -q 'Version 2' crl.txt && "
	    "grep -q 'Signature Algorithm: ecdsa-with-SHA256' crl.txt && "
	    "grep -q 'Issuer: CN = iotkdc root CA' crl.txt && "
	    "grep -q 'Authority Key Identifier' crl.txt && "
	    "grep -A1 'X509v3 CRL Number' crl.txt | tail -1 | "
	    "grep -Eq '^ *7$' && grep -q 'No Revoked Certificates' crl.txt",
	    f->dir), 0);
	/* the AKI is the CA's subject key id */
	assert_int_equal(kdc_test_sh("cd '%s' && "
	    "a=$(grep -A1 'Authority Key Identifier' crl.txt | tail -1 | "
	    "tr -d ' ' | sed 's/^keyid://') && "
	    "s=$(openssl x509 -in ca.pem -noout -ext subjectKeyIdentifier | "
	    "tail -1 | tr -d ' ') && test -n \"$a\" && test \"$a\" = \"$s\"",
	    f->dir), 0);
	/* an empty CRL revokes nothing */
	assert_int_equal(kdc_test_sh("cd '%s' && openssl verify -crl_check "
	    "-CAfile ca.pem -CRLfile crl.pem cert.pem >/dev/null 2>&1",
	    f->dir), 0);
}

static void
test_revoked_listed(void **state)
{
	struct fx *f = *state;
	const char *serials[3] = { "7f0102030405060708090a0b0c0d0e0f",
	    f->is.serial, "01" };
	int64_t now = (int64_t)time(NULL);
	int64_t at[3] = { now - 100, now - 50, now - 1 };
	uint8_t *der = NULL;
	size_t len = 0;
	char upper[2 * KDC_SERIAL_LEN + 1];

	/* 0x80 needs a leading zero octet to stay positive */
	assert_int_equal(kdc_ca_crl(f->ca, serials, at, 3, now - 10,
	    now + 86400, 0x80, &der, &len), KDC_OK);
	write_der(f->dir, "crl.der", der, len);
	kdc_free(der);
	assert_int_equal(openssl_crl_ok(f->dir), 0);
	for (size_t i = 0; i <= strlen(f->is.serial); i++)
		upper[i] = (char)(f->is.serial[i] >= 'a' &&
		    f->is.serial[i] <= 'f' ? f->is.serial[i] - 32 :
		    f->is.serial[i]);
	assert_int_equal(kdc_test_sh("cd '%s' && "
	    "grep -q 'Serial Number: 7F0102030405060708090A0B0C0D0E0F' "
	    "crl.txt && grep -q 'Serial Number: %s' crl.txt && "
	    "grep -q 'Serial Number: 01$' crl.txt && "
	    "test $(grep -c 'Serial Number:' crl.txt) = 3 && "
	    "grep -A1 'X509v3 CRL Number' crl.txt | tail -1 | "
	    "grep -Eq '^ *128$'", f->dir, upper), 0);
	/* the certificate we issued is now refused by an independent peer */
	assert_int_equal(kdc_test_sh("cd '%s' && ! openssl verify -crl_check "
	    "-CAfile ca.pem -CRLfile crl.pem cert.pem > v.txt 2>&1 && "
	    "grep -q 'certificate revoked' v.txt", f->dir), 0);
}

/* Every single-byte change of a CRL fails to parse or to verify. */
static void
test_tamper(void **state)
{
	struct fx *f = *state;
	const char *serials[1] = { f->is.serial };
	int64_t now = (int64_t)time(NULL);
	int64_t at[1] = { now };
	uint8_t *der = NULL;
	size_t len = 0;
	gnutls_x509_crl_t crl;
	gnutls_datum_t d;
	unsigned status;

	assert_int_equal(kdc_ca_crl(f->ca, serials, at, 1, now, now + 3600, 1,
	    &der, &len), KDC_OK);
	d.data = der;
	d.size = (unsigned)len;
	assert_int_equal(gnutls_x509_crl_init(&crl), 0);
	assert_int_equal(gnutls_x509_crl_import(crl, &d, GNUTLS_X509_FMT_DER),
	    0);
	assert_int_equal(gnutls_x509_crl_verify(crl, &f->ca->crt, 1, 0,
	    &status), 0);
	assert_int_equal(status, 0);
	gnutls_x509_crl_deinit(crl);
	for (size_t i = 0; i < len; i++) {
		der[i] ^= 0x01;
		assert_int_equal(gnutls_x509_crl_init(&crl), 0);
		if (gnutls_x509_crl_import(crl, &d, GNUTLS_X509_FMT_DER) == 0) {
			status = 0;
			if (gnutls_x509_crl_verify(crl, &f->ca->crt, 1, 0,
			    &status) == 0 && status == 0) {
				/* only a change that leaves the DER the same
				 * (none with xor 1) could verify */
				fail_msg("byte %zu changed, CRL still verifies",
				    i);
			}
		}
		gnutls_x509_crl_deinit(crl);
		der[i] ^= 0x01;
	}
	kdc_free(der);
}

static void
test_bad_args(void **state)
{
	struct fx *f = *state;
	const char *bad_hex[1] = { "zz" };
	const char *empty[1] = { "" };
	const char *too_long[1] = {
	    "0102030405060708090a0b0c0d0e0f101112131415" };
	const char *ok[1] = { "01" };
	int64_t at[1] = { 1000 }, zero[1] = { 0 };
	uint8_t *der = (uint8_t *)1;
	size_t len = 1;

	assert_int_equal(kdc_ca_crl(NULL, NULL, NULL, 0, 10, 20, 1, &der,
	    &len), KDC_ERR_INVALID_ARG);
	assert_null(der);
	assert_int_equal(len, 0);
	assert_int_equal(kdc_ca_crl(f->ca, NULL, NULL, 0, 20, 20, 1, &der,
	    &len), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_ca_crl(f->ca, NULL, NULL, 0, 0, 20, 1, &der,
	    &len), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_ca_crl(f->ca, NULL, at, 1, 10, 20, 1, &der,
	    &len), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_ca_crl(f->ca, bad_hex, at, 1, 10, 20, 1, &der,
	    &len), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_ca_crl(f->ca, empty, at, 1, 10, 20, 1, &der,
	    &len), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_ca_crl(f->ca, too_long, at, 1, 10, 20, 1, &der,
	    &len), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_ca_crl(f->ca, ok, zero, 1, 10, 20, 1, &der,
	    &len), KDC_ERR_INVALID_ARG);
	assert_null(der);
	assert_int_equal(kdc_ca_crl(f->ca, ok, at, 1, 10, 20, 1, &der,
	    &len), KDC_OK);
	assert_non_null(der);
	kdc_free(der);
}

/*
 * The reference: the same CRL built by GnuTLS (gnutls_x509_crl_*, how
 * kdc_ca_crl() built it until its libtasn1 path proved quadratic). Its
 * TBSCertList (the signature differs: ECDSA is randomised) in *tbs.
 */
static void
gnutls_tbs(struct kdc_ca *ca, const char *const *hex, const int64_t *at,
    size_t n, int64_t this_update, int64_t next_update, const uint8_t *num,
    size_t num_len, uint8_t **tbs, size_t *tbs_len)
{
	gnutls_x509_crl_t crl;
	gnutls_datum_t d = { NULL, 0 };
	struct kdc_rd rd, list;
	const uint8_t *t;
	uint8_t serial[20];
	size_t serial_len;

	assert_int_equal(gnutls_x509_crl_init(&crl), 0);
	assert_int_equal(gnutls_x509_crl_set_version(crl, 2), 0);
	assert_int_equal(gnutls_x509_crl_set_this_update(crl,
	    (time_t)this_update), 0);
	assert_int_equal(gnutls_x509_crl_set_next_update(crl,
	    (time_t)next_update), 0);
	for (size_t i = 0; i < n; i++) {
		serial_len = sizeof(serial);
		assert_int_equal(kdc_hex_decode(hex[i], strlen(hex[i]), serial,
		    &serial_len), KDC_OK);
		assert_int_equal(gnutls_x509_crl_set_crt_serial(crl, serial,
		    serial_len, (time_t)at[i]), 0);
	}
	assert_int_equal(gnutls_x509_crl_set_authority_key_id(crl, ca->skid,
	    ca->skid_len), 0);
	assert_int_equal(gnutls_x509_crl_set_number(crl, num, num_len), 0);
	assert_int_equal(gnutls_x509_crl_privkey_sign(crl, ca->crt, ca->key,
	    GNUTLS_DIG_SHA256, 0), 0);
	assert_int_equal(gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_DER,
	    &d), 0);
	kdc_rd_init(&rd, d.data, d.size);
	assert_true(der_next(&rd, 0x30, &list));
	/* TBSCertList */
	assert_true(der_take(&list, 0x30, NULL, &t, tbs_len));
	assert_non_null(*tbs = malloc(*tbs_len));
	memcpy(*tbs, t, *tbs_len);
	gnutls_free(d.data);
	gnutls_x509_crl_deinit(crl);
}

/*
 * GnuTLS 3.7.9 writes an empty revokedCertificates (30 00) where RFC 5280
 * 5.1.2.6 says the list "MUST be absent": take it out of the reference
 * (a short TBSCertList: one-octet outer length, the list just before
 * crlExtensions [0]).
 */
static void
drop_empty_list(uint8_t *tbs, size_t *len)
{
	size_t i;

	assert_true(*len < 0x80 + 2 && tbs[0] == 0x30 && tbs[1] < 0x80);
	for (i = 2; i + 2 < *len; i++)
		if (tbs[i] == 0x30 && tbs[i + 1] == 0x00 && tbs[i + 2] == 0xa0)
			break;
	assert_true(i + 2 < *len);
	memmove(tbs + i, tbs + i + 2, *len - i - 2);
	*len -= 2;
	tbs[1] -= 2;
}

/* Our TBSCertList of der (the CertificateList kdc_ca_crl() made). */
static void
our_tbs(const uint8_t *der, size_t len, const uint8_t **tbs, size_t *tbs_len)
{
	struct kdc_rd rd, list;

	kdc_rd_init(&rd, der, len);
	assert_true(der_next(&rd, 0x30, &list));
	assert_true(kdc_rd_at_end(&rd));
	assert_true(der_take(&list, 0x30, NULL, tbs, tbs_len));
}

/*
 * kdc_ca_crl() writes the TBSCertList GnuTLS wrote, byte for byte: no
 * entries (the list absent, where GnuTLS wrote it empty), entries with serials of 1, 16 and 20 bytes,
 * a serial with its top bit set behind a zero byte, revocation and
 * update times in UTCTime and in GeneralizedTime (2050 on), CRL numbers
 * of one byte, with a leading zero (0x80) and of nine bytes; and enough
 * entries that the lengths take three octets.
 */
static void
test_same_as_gnutls(void **state)
{
	struct fx *f = *state;
	static const char *const hex[] = {
		"01",
		"3a7f00112233445566778899aabbccdd",
		"7fffffffffffffffffffffffffffffffffffffff",
		"0080",
	};
	static const int64_t at[] = {
		1700000000, 2524608000 /* 2050-01-01 */, 946684799, 1,
	};
	static const struct {
		int64_t		 this_update, next_update;
		uint64_t	 num;
		uint8_t		 num_be[9];
		size_t		 num_len;
		size_t		 n;
	} cases[] = {
		{ 1700000000, 1700086400, 7, { 7 }, 1, 0 },
		{ 1700000000, 1700086400, 0x80, { 0, 0x80 }, 2, 4 },
		{ 2524608000, 2524694400, 0xffffffffffffffffULL,
		    { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9,
		    4 },
	};
	uint8_t *der = NULL, *ref = NULL;
	const uint8_t *tbs;
	size_t len = 0, ref_len = 0, tbs_len;

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		assert_int_equal(kdc_ca_crl(f->ca, hex, at, cases[c].n,
		    cases[c].this_update, cases[c].next_update, cases[c].num,
		    &der, &len), KDC_OK);
		gnutls_tbs(f->ca, hex, at, cases[c].n, cases[c].this_update,
		    cases[c].next_update, cases[c].num_be, cases[c].num_len,
		    &ref, &ref_len);
		our_tbs(der, len, &tbs, &tbs_len);
		if (cases[c].n == 0)
			drop_empty_list(ref, &ref_len);
		assert_int_equal(tbs_len, ref_len);
		assert_memory_equal(tbs, ref, ref_len);
		kdc_free(der);
		free(ref);
	}

	/* 2,000 entries: ~80 KB, three-octet lengths; GnuTLS takes ~50 ms
	 * here, its cost growing with the square of the entries */
	{
		enum { N = 2000 };
		char **many = calloc(N, sizeof(*many));
		int64_t *when = calloc(N, sizeof(*when));
		uint8_t num[1] = { 9 };

		assert_non_null(many);
		assert_non_null(when);
		for (size_t i = 0; i < N; i++) {
			assert_non_null(many[i] = malloc(41));
			snprintf(many[i], 41, "%02zx%038zx", 0x10 + i % 0x60,
			    i * 2654435761u);
			when[i] = 1700000000 + (int64_t)i;
		}
		assert_int_equal(kdc_ca_crl(f->ca, (const char *const *)many,
		    when, N, 1700000000, 1700086400, 9, &der, &len), KDC_OK);
		gnutls_tbs(f->ca, (const char *const *)many, when, N,
		    1700000000, 1700086400, num, 1, &ref, &ref_len);
		our_tbs(der, len, &tbs, &tbs_len);
		assert_true(tbs_len > 0xffff);
		assert_int_equal(tbs_len, ref_len);
		assert_memory_equal(tbs, ref, ref_len);
		kdc_free(der);
		free(ref);
		for (size_t i = 0; i < N; i++)
			free(many[i]);
		free(many);
		free(when);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_crl),
		cmocka_unit_test(test_revoked_listed),
		cmocka_unit_test(test_same_as_gnutls),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_bad_args),
	};

	return cmocka_run_group_tests_name("crypto CRL", tests, setup,
	    teardown);
}
