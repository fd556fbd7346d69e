/*
 * test_crypto.c: crypto/ against independent peers (OpenSSL's CLI, GnuTLS's
 * certtool, Python's hmac) and against itself (round trips, tampering,
 * truncation).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "base/alloc.h"
#include "crypto/crypto.h"
#include "crypto/crypto_int.h"
#include "testutil.h"

static const uint8_t key_a[32] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

/* Shared by the CA tests: one CA made in the group setup. */
static char *g_dir;
static struct kdc_keyring *g_kr;
static struct kdc_ca *g_ca;

/* ---- helpers ------------------------------------------------------------ */

static char *
path_of(const char *dir, const char *name)
{
	size_t n = strlen(dir) + 1 + strlen(name) + 1;
	char *p;

	if ((p = malloc(n)) == NULL)
		abort();
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static uint8_t *
read_or_fail(const char *dir, const char *name, size_t *len)
{
	char *p = path_of(dir, name);
	uint8_t *buf = kdc_test_read_file(p, len);

	if (buf == NULL)
		fail_msg("cannot read %s", p);
	free(p);
	return buf;
}

static void
write_or_fail(const char *dir, const char *name, const void *buf, size_t len)
{
	char *p = path_of(dir, name);

	if (kdc_test_write_file(p, buf, len) != 0)
		fail_msg("cannot write %s", p);
	free(p);
}

/* Write a DER certificate as PEM, for the openssl CLI. */
static void
write_cert_pem(const char *dir, const char *name, const uint8_t *der,
    size_t len)
{
	gnutls_datum_t in = { (unsigned char *)(uintptr_t)der, (unsigned)len };
	gnutls_datum_t out = { NULL, 0 };

	assert_int_equal(gnutls_pem_base64_encode2("CERTIFICATE", &in, &out),
	    0);
	write_or_fail(dir, name, out.data, out.size);
	gnutls_free(out.data);
}

/* A CSR made by an independent tool (cmd, run in g_dir), read back. */
static uint8_t *
make_csr(const char *cmd, const char *name, size_t *len)
{
	if (kdc_test_sh("cd '%s' && %s", g_dir, cmd) != 0)
		fail_msg("command failed: %s", cmd);
	return read_or_fail(g_dir, name, len);
}

#define SSL_P256 \
	"openssl req -new -newkey ec -pkeyopt " \
	"ec_paramgen_curve:P-256 -nodes -subj /CN=x -keyout o256.key " \
	"-out o256.csr 2>/dev/null"
#define SSL_P256_DER \
	"openssl req -in o256.csr -outform DER -out o256.der"
#define CT_TEMPLATE "printf 'cn = \"device\"\\n' > tmpl"
#define CT_P256 \
	"certtool --generate-privkey --key-type=ecdsa " \
	"--curve=secp256r1 --outfile c256.key 2>/dev/null && " \
	"certtool --generate-request --load-privkey c256.key --template tmpl " \
	"--outfile c256.csr 2>/dev/null"
#define CT_ED25519 \
	"certtool --generate-privkey --key-type=ed25519 " \
	"--outfile ced.key 2>/dev/null && certtool --generate-request " \
	"--load-privkey ced.key --template tmpl --outder --outfile ced.der " \
	"2>/dev/null"
#define SSL_RSA \
	"openssl req -new -newkey rsa:2048 -nodes -subj /CN=x " \
	"-keyout rsa.key -out rsa.csr 2>/dev/null"
#define SSL_P384 \
	"openssl req -new -newkey ec -pkeyopt " \
	"ec_paramgen_curve:P-384 -nodes -subj /CN=x -keyout o384.key " \
	"-out o384.csr 2>/dev/null"

/* ---- primitives ------------------------------------------------------------ */

static void
test_hex(void **state)
{
	static const uint8_t bin[] = { 0x00, 0x9f, 0xa0, 0xff };
	uint8_t out[8];
	size_t n;
	char hex[9];

	(void)state;
	kdc_hex_encode(bin, sizeof(bin), hex);
	assert_string_equal(hex, "009fa0ff");
	n = sizeof(out);
	assert_int_equal(kdc_hex_decode("009FA0ff", 8, out, &n), KDC_OK);
	assert_int_equal(n, 4);
	assert_memory_equal(out, bin, 4);
	n = sizeof(out);
	assert_int_equal(kdc_hex_decode("abc", 3, out, &n), KDC_ERR_MALFORMED);
	assert_int_equal(n, 0);
	n = sizeof(out);
	assert_int_equal(kdc_hex_decode("0g", 2, out, &n), KDC_ERR_MALFORMED);
	n = 1;
	assert_int_equal(kdc_hex_decode("0011", 4, out, &n), KDC_ERR_TOO_LARGE);
	n = 0;
	assert_int_equal(kdc_hex_decode("", 0, out, &n), KDC_OK);
	assert_int_equal(n, 0);
}

static void
test_hash_hmac(void **state)
{
	/* FIPS 180-2 B.1: SHA-256("abc"). */
	static const uint8_t sha_abc[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
		0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
		0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
		0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	/* RFC 4231 4.3 (test case 2): key "Jefe". */
	static const uint8_t hmac_tc2[32] = {
		0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e,
		0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
		0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83,
		0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43,
	};
	static const char msg[] = "what do ya want for nothing?";
	uint8_t out[32], a[16] = { 1 }, b[16] = { 1 };

	(void)state;
	kdc_sha256("abc", 3, out);
	assert_memory_equal(out, sha_abc, 32);
	assert_int_equal(kdc_hmac_sha256((const uint8_t *)"Jefe", 4, msg,
	    strlen(msg), out), KDC_OK);
	assert_memory_equal(out, hmac_tc2, 32);
	assert_true(kdc_ct_equal(a, b, sizeof(a)));
	b[15] = 2;
	assert_false(kdc_ct_equal(a, b, sizeof(a)));
	kdc_wipe(b, sizeof(b));
	for (size_t i = 0; i < sizeof(b); i++)
		assert_int_equal(b[i], 0);
	kdc_wipe(NULL, 3);
	kdc_secret_free(NULL, 3);
	assert_int_equal(kdc_random(a, sizeof(a)), KDC_OK);
	assert_int_equal(kdc_random(NULL, 0), KDC_OK);
}

/* ---- wrapping ------------------------------------------------------------- */

static void
test_wrap_roundtrip(void **state)
{
	static const uint8_t pt[] = "a PSK of 32 bytes, more or less!";
	struct kdc_keyring *kr;
	uint8_t *w1, *w2, *back;
	size_t w1_len, w2_len, back_len;

	(void)state;
	assert_int_equal(kdc_keyring_from_bytes(key_a, &kr), KDC_OK);
	assert_int_equal(kdc_wrap(kr, "row:1", 5, pt, sizeof(pt), &w1,
	    &w1_len), KDC_OK);
	assert_int_equal(w1_len, sizeof(pt) + KDC_WRAP_OVERHEAD);
	assert_int_equal(w1[0], 0x01);
	assert_false(kdc_test_memmem(w1, w1_len, pt, 8));
	assert_int_equal(kdc_unwrap(kr, "row:1", 5, w1, w1_len, &back,
	    &back_len), KDC_OK);
	assert_int_equal(back_len, sizeof(pt));
	assert_memory_equal(back, pt, sizeof(pt));
	kdc_secret_free(back, back_len);

	/* Fresh nonce each time. */
	assert_int_equal(kdc_wrap(kr, "row:1", 5, pt, sizeof(pt), &w2,
	    &w2_len), KDC_OK);
	assert_memory_not_equal(w1 + 1, w2 + 1, 12);
	kdc_free(w2);

	/* Empty plaintext and empty AAD work too. */
	assert_int_equal(kdc_wrap(kr, NULL, 0, NULL, 0, &w2, &w2_len), KDC_OK);
	assert_int_equal(w2_len, KDC_WRAP_OVERHEAD);
	assert_int_equal(kdc_unwrap(kr, NULL, 0, w2, w2_len, &back,
	    &back_len), KDC_OK);
	assert_int_equal(back_len, 0);
	kdc_secret_free(back, back_len);
	kdc_free(w2);
	kdc_free(w1);
	kdc_keyring_free(kr);
	kdc_keyring_free(NULL);
}

static void
test_wrap_tamper(void **state)
{
	static const uint8_t pt[] = "secret";
	struct kdc_keyring *kr, *kr2;
	uint8_t key_b[32], *w, *back;
	size_t w_len, back_len;

	(void)state;
	memcpy(key_b, key_a, 32);
	key_b[31] ^= 1;
	assert_int_equal(kdc_keyring_from_bytes(key_a, &kr), KDC_OK);
	assert_int_equal(kdc_keyring_from_bytes(key_b, &kr2), KDC_OK);
	assert_int_equal(kdc_wrap(kr, "aad", 3, pt, sizeof(pt), &w, &w_len),
	    KDC_OK);

	/* Every single-byte change fails: the version byte as an unknown
	 * version (MALFORMED, per crypto.h), every other byte on the tag. */
	for (size_t i = 0; i < w_len; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			kdc_err want = i == 0 ? KDC_ERR_MALFORMED :
			    KDC_ERR_BAD_KEY;

			w[i] ^= (uint8_t)(1u << bit);
			if (kdc_unwrap(kr, "aad", 3, w, w_len, &back,
			    &back_len) != want)
				fail_msg("byte %zu bit %u: not refused", i, bit);
			assert_null(back);
			assert_int_equal(back_len, 0);
			w[i] ^= (uint8_t)(1u << bit);
		}
	}
	/* Every truncation fails. */
	for (size_t n = 0; n < w_len; n++) {
		kdc_err r = kdc_unwrap(kr, "aad", 3, w, n, &back, &back_len);

		if (r != (n < KDC_WRAP_OVERHEAD ? KDC_ERR_MALFORMED :
		    KDC_ERR_BAD_KEY))
			fail_msg("truncation to %zu: %d", n, r);
	}
	/* Wrong AAD, wrong key. */
	assert_int_equal(kdc_unwrap(kr, "aae", 3, w, w_len, &back, &back_len),
	    KDC_ERR_BAD_KEY);
	assert_int_equal(kdc_unwrap(kr, "aa", 2, w, w_len, &back, &back_len),
	    KDC_ERR_BAD_KEY);
	assert_int_equal(kdc_unwrap(kr, NULL, 0, w, w_len, &back, &back_len),
	    KDC_ERR_BAD_KEY);
	assert_int_equal(kdc_unwrap(kr2, "aad", 3, w, w_len, &back,
	    &back_len), KDC_ERR_BAD_KEY);
	/* And the original still opens. */
	assert_int_equal(kdc_unwrap(kr, "aad", 3, w, w_len, &back, &back_len),
	    KDC_OK);
	kdc_secret_free(back, back_len);
	kdc_free(w);
	kdc_keyring_free(kr);
	kdc_keyring_free(kr2);
}

static void
test_keyring_mac(void **state)
{
	/*
	 * From tests/vectors/crypto/gen_keyring_mac.py (Python hmac/hashlib,
	 * RFC 5869 written out): key 00..1f, salt "iotkdc keyring v1",
	 * info = label, MAC of "hello".
	 */
	static const char want_psk[] =
	    "e2299baa120c85c4bfc4a7ab905e47a3efe052109927c7e3a60cbf567cc92289";
	static const char want_audit[] =
	    "f9841f5c0b007e17cdb981227a83fc54847b4a36f203e8d4a1d81311a185f10d";
	struct kdc_keyring *kr;
	uint8_t mac[32];
	char hex[65];

	(void)state;
	assert_int_equal(kdc_keyring_from_bytes(key_a, &kr), KDC_OK);
	assert_int_equal(kdc_keyring_mac(kr, "psk-fp", "hello", 5, mac),
	    KDC_OK);
	kdc_hex_encode(mac, 32, hex);
	assert_string_equal(hex, want_psk);
	assert_int_equal(kdc_keyring_mac(kr, "audit", "hello", 5, mac),
	    KDC_OK);
	kdc_hex_encode(mac, 32, hex);
	assert_string_equal(hex, want_audit);
	assert_int_equal(kdc_keyring_mac(kr, "", "hello", 5, mac),
	    KDC_ERR_INVALID_ARG);
	kdc_keyring_free(kr);
}

static void
test_keyring_file(void **state)
{
	char *dir = kdc_test_tmpdir(), *p = path_of(dir, "wrap.key");
	struct kdc_keyring *kr, *kr2;
	struct stat st;
	uint8_t *raw, *w, *back;
	size_t raw_len, w_len, back_len;

	(void)state;
	assert_int_equal(kdc_keyring_create(p), KDC_OK);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 32);
	assert_int_equal(kdc_keyring_create(p), KDC_ERR_EXISTS);

	/* The loaded key is the file's bytes. */
	assert_int_equal(kdc_keyring_load(p, &kr), KDC_OK);
	raw = kdc_test_read_file(p, &raw_len);
	assert_non_null(raw);
	assert_int_equal(kdc_keyring_from_bytes(raw, &kr2), KDC_OK);
	assert_int_equal(kdc_wrap(kr, "x", 1, (const uint8_t *)"pt", 2, &w,
	    &w_len), KDC_OK);
	assert_int_equal(kdc_unwrap(kr2, "x", 1, w, w_len, &back, &back_len),
	    KDC_OK);
	kdc_secret_free(back, back_len);
	kdc_free(w);
	kdc_keyring_free(kr);
	kdc_keyring_free(kr2);

	/* Group or other may not read (or write) it. */
	assert_int_equal(chmod(p, 0640), 0);
	assert_int_equal(kdc_keyring_load(p, &kr), KDC_ERR_CONFIG);
	assert_null(kr);
	assert_int_equal(chmod(p, 0604), 0);
	assert_int_equal(kdc_keyring_load(p, &kr), KDC_ERR_CONFIG);
	assert_int_equal(chmod(p, 0620), 0);
	assert_int_equal(kdc_keyring_load(p, &kr), KDC_ERR_CONFIG);
	assert_int_equal(chmod(p, 0400), 0);
	assert_int_equal(kdc_keyring_load(p, &kr), KDC_OK);
	kdc_keyring_free(kr);

	/* Wrong sizes. */
	assert_int_equal(chmod(p, 0600), 0);
	assert_int_equal(kdc_test_write_file(p, raw, 31), 0);
	assert_int_equal(kdc_keyring_load(p, &kr), KDC_ERR_BAD_KEY);
	assert_int_equal(kdc_test_write_file(p, "0123456789abcdef0123456789abcdef"
	    "\n", 33), 0);
	assert_int_equal(kdc_keyring_load(p, &kr), KDC_ERR_BAD_KEY);
	assert_int_equal(kdc_test_write_file(p, "", 0), 0);
	assert_int_equal(kdc_keyring_load(p, &kr), KDC_ERR_BAD_KEY);
	free(p);
	p = path_of(dir, "missing.key");
	assert_int_equal(kdc_keyring_load(p, &kr), KDC_ERR_IO);

	kdc_wipe(raw, raw_len);
	free(raw);
	free(p);
	kdc_test_rmtree(dir);
	free(dir);
}

/* ---- public keys ------------------------------------------------------------ */

static void
test_spki_vectors(void **state)
{
	struct kdc_vec *vs = kdc_vec_load(KDC_VECTORS_DIR "/crypto/spki.txt");
	int n = 0;

	(void)state;
	assert_non_null(vs);
	for (struct kdc_vec *v = vs; v != NULL; v = v->next, n++) {
		enum kdc_key_alg alg = 0;
		kdc_err r = kdc_spki_check(v->in, v->in_len, &alg);

		if ((int)r != v->want)
			fail_msg("spki.txt line %d: got %s, want %s", v->line,
			    kdc_err_name(r), kdc_err_name(v->want));
		if (r != KDC_OK)
			continue;
		assert_true(alg == KDC_KEY_P256 || alg == KDC_KEY_ED25519);
		/* Every truncation of a good key fails. */
		for (size_t k = 0; k < v->in_len; k++)
			if (kdc_spki_check(v->in, k, NULL) == KDC_OK)
				fail_msg("line %d: truncation %zu accepted",
				    v->line, k);
		/* No single-byte change crashes. */
		for (size_t k = 0; k < v->in_len; k++) {
			v->in[k] ^= 0x55;
			(void)kdc_spki_check(v->in, v->in_len, NULL);
			v->in[k] ^= 0x55;
		}
	}
	assert_true(n >= 10);
	kdc_vec_free(vs);
}

/* ---- the CA ----------------------------------------------------------------- */

static int
ca_setup(void **state)
{
	(void)state;
	g_dir = kdc_test_tmpdir();
	if (kdc_keyring_from_bytes(key_a, &g_kr) != KDC_OK ||
	    kdc_ca_create(g_dir, g_kr, NULL, 3650) != KDC_OK ||
	    kdc_ca_load(g_dir, g_kr, NULL, &g_ca) != KDC_OK)
		return -1;
	return kdc_test_sh("cd '%s' && %s", g_dir, CT_TEMPLATE) == 0 ? 0 : -1;
}

static int
ca_teardown(void **state)
{
	(void)state;
	kdc_ca_free(g_ca);
	kdc_keyring_free(g_kr);
	kdc_test_rmtree(g_dir);
	free(g_dir);
	return 0;
}

static void
test_ca_files(void **state)
{
	gnutls_x509_privkey_t xkey;
	gnutls_datum_t x, y, k, pk8;
	gnutls_ecc_curve_t curve;
	struct kdc_keyring *other;
	struct kdc_ca *ca2;
	struct stat st;
	uint8_t *blob, other_key[32];
	size_t blob_len;
	char *p;

	(void)state;
	/* ca.key: 0600, wrapped, holds neither the scalar nor the PKCS#8. */
	p = path_of(g_dir, "ca.key");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(p);
	blob = read_or_fail(g_dir, "ca.key", &blob_len);
	assert_int_equal(blob[0], 0x01);
	assert_false(kdc_test_memmem(blob, blob_len, "-----BEGIN", 10));
	assert_int_equal(gnutls_privkey_export_x509(g_ca->key, &xkey), 0);
	assert_int_equal(gnutls_x509_privkey_export_ecc_raw(xkey, &curve, &x,
	    &y, &k), 0);
	assert_int_equal(curve, GNUTLS_ECC_CURVE_SECP256R1);
	assert_true(k.size >= 30);
	assert_false(kdc_test_memmem(blob, blob_len, k.data + k.size - 16,
	    16));
	assert_int_equal(gnutls_x509_privkey_export2_pkcs8(xkey,
	    GNUTLS_X509_FMT_DER, NULL, GNUTLS_PKCS_PLAIN, &pk8), 0);
	assert_false(kdc_test_memmem(blob, blob_len, pk8.data, 16));
	/* It is the PKCS#8 wrapped under AAD "ca.key". */
	{
		uint8_t *back;
		size_t back_len;

		assert_int_equal(kdc_unwrap(g_kr, "ca.key", 6, blob, blob_len,
		    &back, &back_len), KDC_OK);
		assert_int_equal(back_len, pk8.size);
		assert_memory_equal(back, pk8.data, back_len);
		kdc_secret_free(back, back_len);
		assert_int_equal(kdc_unwrap(g_kr, "server.key", 10, blob,
		    blob_len, &back, &back_len), KDC_ERR_BAD_KEY);
	}
	kdc_wipe(k.data, k.size);
	kdc_wipe(pk8.data, pk8.size);
	gnutls_free(x.data);
	gnutls_free(y.data);
	gnutls_free(k.data);
	gnutls_free(pk8.data);
	gnutls_x509_privkey_deinit(xkey);
	free(blob);

	/* Second create: EXISTS, and nothing was touched. */
	assert_int_equal(kdc_ca_create(g_dir, g_kr, NULL, 3650),
	    KDC_ERR_EXISTS);
	/* Wrong keyring: BAD_KEY. Missing dir: IO. */
	memcpy(other_key, key_a, 32);
	other_key[0] ^= 0xff;
	assert_int_equal(kdc_keyring_from_bytes(other_key, &other), KDC_OK);
	assert_int_equal(kdc_ca_load(g_dir, other, NULL, &ca2),
	    KDC_ERR_BAD_KEY);
	assert_null(ca2);
	assert_int_equal(kdc_ca_load("/nonexistent/kdc", g_kr, NULL, &ca2),
	    KDC_ERR_IO);
	kdc_keyring_free(other);
	assert_int_equal(kdc_ca_create(g_dir, g_kr, NULL, 0),
	    KDC_ERR_INVALID_ARG);

	/* The CA certificate as OpenSSL sees it. */
	assert_int_equal(kdc_test_sh("cd %s && openssl x509 -in ca.pem -noout "
	    "-text > ca.txt && grep -q 'CA:TRUE' ca.txt && "
	    "grep -A1 'Basic Constraints: critical' ca.txt | grep -q CA:TRUE && "
	    "grep -A1 'Key Usage: critical' ca.txt | "
	    "grep -q 'Certificate Sign, CRL Sign' && "
	    "grep -q 'Subject Key Identifier' ca.txt && "
	    "grep -q 'Subject: CN = iotkdc root CA' ca.txt && "
	    "grep -q 'prime256v1' ca.txt && "
	    "grep -q 'ecdsa-with-SHA256' ca.txt && "
	    "openssl verify -CAfile ca.pem ca.pem >/dev/null", g_dir), 0);
	/* Serial: >= 64 random bits; ours are 16 bytes. */
	assert_int_equal(kdc_test_sh("cd %s && openssl x509 -in ca.pem -noout "
	    "-serial | grep -Eq '^serial=[0-7][0-9A-F]{31}$'", g_dir), 0);
}

static void
test_ca_export(void **state)
{
	uint8_t *der, *der2, *file;
	size_t der_len, der2_len, file_len, pem_len;
	char *pem;

	(void)state;
	assert_int_equal(kdc_ca_cert_der(g_ca, &der, &der_len), KDC_OK);
	assert_int_equal(kdc_ca_cert_pem(g_ca, &pem, &pem_len), KDC_OK);
	assert_int_equal(strlen(pem), pem_len);
	file = read_or_fail(g_dir, "ca.pem", &file_len);
	assert_int_equal(file_len, pem_len);
	assert_memory_equal(file, pem, pem_len);
	/* mfg-ca add accepts our own CA, PEM or DER, and gives the DER. */
	assert_int_equal(kdc_cacert_parse((uint8_t *)pem, pem_len, &der2,
	    &der2_len), KDC_OK);
	assert_int_equal(der2_len, der_len);
	assert_memory_equal(der2, der, der_len);
	kdc_free(der2);
	assert_int_equal(kdc_cacert_parse(der, der_len, &der2, &der2_len),
	    KDC_OK);
	kdc_free(der2);
	/* A tampered signature on a self-signed CA: UNTRUSTED. */
	der[der_len - 3] ^= 0x01;
	assert_int_equal(kdc_cacert_parse(der, der_len, &der2, &der2_len),
	    KDC_ERR_UNTRUSTED);
	assert_null(der2);
	assert_int_equal(kdc_cacert_parse((const uint8_t *)"junk", 4, &der2,
	    &der2_len), KDC_ERR_MALFORMED);
	free(file);
	kdc_free(pem);
	kdc_free(der);
}

/* Sign csr, write cert.pem, and have OpenSSL verify it. */
static void
sign_and_verify(const uint8_t *csr, size_t csr_len, const char *dev_id,
    enum kdc_key_alg want_alg, struct kdc_issued *is)
{
	int64_t now = (int64_t)time(NULL);
	enum kdc_key_alg alg = 0;

	assert_int_equal(kdc_ca_sign_csr(g_ca, csr, csr_len, dev_id, now - 60,
	    now + 86400, is), KDC_OK);
	assert_non_null(is->cert);
	assert_int_equal(strlen(is->serial), 2 * KDC_SERIAL_LEN);
	assert_int_equal(kdc_spki_check(is->spki, is->spki_len, &alg), KDC_OK);
	assert_int_equal(alg, want_alg);
	write_cert_pem(g_dir, "cert.pem", is->cert, is->cert_len);
	assert_int_equal(kdc_test_sh("cd %s && openssl verify -CAfile ca.pem "
	    "-purpose sslclient cert.pem >/dev/null", g_dir), 0);
	assert_int_equal(kdc_test_sh("cd %s && openssl x509 -in cert.pem "
	    "-noout -text > cert.txt && "
	    "grep -q 'TLS Web Client Authentication' cert.txt && "
	    "grep -A1 'Key Usage: critical' cert.txt | "
	    "grep -q 'Digital Signature' && grep -q 'CA:FALSE' cert.txt && "
	    "grep -q 'Authority Key Identifier' cert.txt && "
	    "grep -q 'Subject Key Identifier' cert.txt && "
	    "grep -q 'Version: 3' cert.txt && "
	    "grep -q 'Signature Algorithm: ecdsa-with-SHA256' cert.txt && "
	    "grep -q 'Subject: CN = %s$' cert.txt", g_dir, dev_id), 0);
	/* The serial: 16 bytes, the one we reported. */
	assert_int_equal(kdc_test_sh("cd %s && grep -A1 'Serial Number:' "
	    "cert.txt | tail -1 | grep -Eq '^ +([0-9a-f]{2}:){15}[0-9a-f]{2}$' "
	    "&& test \"$(openssl x509 -in cert.pem -noout -serial | "
	    "tr A-F a-f)\" = serial=%s", g_dir, is->serial), 0);
}

static void
test_sign_openssl_p256(void **state)
{
	struct kdc_issued is;
	uint8_t *csr;
	size_t csr_len;

	(void)state;
	csr = make_csr(SSL_P256, "o256.csr", &csr_len);
	sign_and_verify(csr, csr_len, "urn:dev:ops:1234", KDC_KEY_P256, &is);
	assert_int_equal(kdc_test_sh("cd %s && grep -q "
	    "'URI:urn:dev:ops:1234' cert.txt", g_dir), 0);
	/* The certified key is the CSR's. */
	assert_int_equal(kdc_test_sh("cd %s && openssl x509 -in cert.pem "
	    "-noout -pubkey > a.pub && openssl pkey -in o256.key -pubout > "
	    "b.pub && cmp -s a.pub b.pub", g_dir), 0);
	kdc_issued_wipe(&is);
	assert_null(is.cert);
	free(csr);

	/* The same CSR in DER. */
	csr = make_csr(SSL_P256_DER, "o256.der", &csr_len);
	sign_and_verify(csr, csr_len, "urn:dev:ops:1234", KDC_KEY_P256, &is);
	kdc_issued_wipe(&is);
	free(csr);
}

static void
test_sign_certtool(void **state)
{
	struct kdc_issued is;
	uint8_t *csr;
	size_t csr_len;

	(void)state;
	/* certtool's PEM has a text dump before the PEM block. */
	csr = make_csr(CT_P256, "c256.csr", &csr_len);
	sign_and_verify(csr, csr_len, "device-7", KDC_KEY_P256, &is);
	/* Not a URI: CN only, no SAN. */
	assert_int_equal(kdc_test_sh("cd %s && ! grep -q 'Subject Alternative "
	    "Name' cert.txt", g_dir), 0);
	kdc_issued_wipe(&is);
	free(csr);

	csr = make_csr(CT_ED25519, "ced.der", &csr_len);
	sign_and_verify(csr, csr_len, "urn:uuid:6e8bc430-9c3a-11d9-9669-"
	    "0800200c9a66", KDC_KEY_ED25519, &is);
	assert_int_equal(kdc_test_sh("cd %s && grep -q 'ED25519' cert.txt && "
	    "grep -q 'URI:urn:uuid:6e8bc430' cert.txt", g_dir), 0);
	kdc_issued_wipe(&is);
	free(csr);
}

static void
test_sign_refusals(void **state)
{
	static uint8_t big[KDC_CSR_MAX + 1];
	int64_t now = (int64_t)time(NULL);
	struct kdc_issued is;
	uint8_t *csr;
	size_t csr_len;
	int accepted = 0;

	(void)state;
	csr = make_csr(SSL_RSA, "rsa.csr", &csr_len);
	assert_int_equal(kdc_ca_sign_csr(g_ca, csr, csr_len, "d", now,
	    now + 60, &is), KDC_ERR_UNSUPPORTED_KEY);
	assert_null(is.cert);
	free(csr);
	csr = make_csr(SSL_P384, "o384.csr", &csr_len);
	assert_int_equal(kdc_ca_sign_csr(g_ca, csr, csr_len, "d", now,
	    now + 60, &is), KDC_ERR_UNSUPPORTED_KEY);
	free(csr);

	assert_int_equal(kdc_ca_sign_csr(g_ca, (const uint8_t *)"garbage", 7,
	    "d", now, now + 60, &is), KDC_ERR_MALFORMED);
	assert_int_equal(kdc_ca_sign_csr(g_ca, (const uint8_t *)"", 0, "d",
	    now, now + 60, &is), KDC_ERR_MALFORMED);
	memset(big, 'A', sizeof(big));
	assert_int_equal(kdc_ca_sign_csr(g_ca, big, sizeof(big), "d", now,
	    now + 60, &is), KDC_ERR_TOO_LARGE);

	csr = make_csr(SSL_P256_DER, "o256.der", &csr_len);
	/* Bad arguments. */
	assert_int_equal(kdc_ca_sign_csr(g_ca, csr, csr_len, "", now,
	    now + 60, &is), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_ca_sign_csr(g_ca, csr, csr_len, "a\nb", now,
	    now + 60, &is), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_ca_sign_csr(g_ca, csr, csr_len, "d", now, now,
	    &is), KDC_ERR_INVALID_ARG);
	/* A flipped signature byte (the last byte is in s). */
	csr[csr_len - 1] ^= 0x01;
	assert_int_equal(kdc_ca_sign_csr(g_ca, csr, csr_len, "d", now,
	    now + 60, &is), KDC_ERR_BAD_SIGNATURE);
	csr[csr_len - 1] ^= 0x01;
	/* A changed subject byte: the signature no longer covers it. */
	{
		static const uint8_t cn_x[] = { 0x0c, 0x01, 'x' };

		for (size_t i = 0; i + 3 <= csr_len; i++)
			if (memcmp(csr + i, cn_x, 3) == 0) {
				csr[i + 2] = 'y';
				assert_int_equal(kdc_ca_sign_csr(g_ca, csr,
				    csr_len, "d", now, now + 60, &is),
				    KDC_ERR_BAD_SIGNATURE);
				csr[i + 2] = 'x';
				break;
			}
	}
	/* No single-byte change is accepted, none crashes. */
	for (size_t i = 0; i < csr_len; i++) {
		csr[i] ^= 0x20;
		if (kdc_ca_sign_csr(g_ca, csr, csr_len, "d", now, now + 60,
		    &is) == KDC_OK) {
			accepted++;
			kdc_issued_wipe(&is);
		}
		csr[i] ^= 0x20;
	}
	assert_int_equal(accepted, 0);
	/* No truncation is accepted. */
	for (size_t n = 0; n < csr_len; n++)
		assert_int_not_equal(kdc_ca_sign_csr(g_ca, csr, n, "d", now,
		    now + 60, &is), KDC_OK);
	free(csr);
}

/* Rough rate of the hot path (printed, not asserted). */
/*
 * Our certificate template against GnuTLS's parser: it verifies under the
 * CA, says exactly what we asked (validity to the second, SKI = SHA-1 of
 * the SPKI as GnuTLS computes key ids, AKI = the CA's SKI, issuer = the
 * CA's subject), dates from 2050 on are GeneralizedTime (RFC 5280
 * 4.1.2.5, checked by openssl too), a dev id outside PrintableString is a
 * UTF8String CN, and what no X.509 field can hold is refused.
 */
static void
test_sign_template(void **state)
{
	static const struct {
		int64_t	nb, na;
	} when[] = {
		{ 1700000000, 1700086400 },		/* UTCTime both */
		{ 1700000000, 2524608000 },		/* 2050-01-01: Generalized */
		{ 2524607999, 253402300799 },	/* 2049-12-31 .. 9999-12-31 */
	};
	int64_t now = (int64_t)time(NULL);
	gnutls_x509_crt_t crt, cacrt;
	gnutls_datum_t d, dn1 = { NULL, 0 }, dn2 = { NULL, 0 };
	struct kdc_issued is;
	uint8_t *csr, *capem, id[64], id2[64], sha1[20];
	size_t csr_len, capem_len, id_len, id2_len;
	unsigned crit, status;
	char buf[256];
	size_t buf_len;

	(void)state;
	csr = make_csr(SSL_P256_DER, "o256.der", &csr_len);
	capem = read_or_fail(g_dir, "ca.pem", &capem_len);
	d.data = capem;
	d.size = (unsigned)capem_len;
	assert_int_equal(gnutls_x509_crt_init(&cacrt), 0);
	assert_int_equal(gnutls_x509_crt_import(cacrt, &d,
	    GNUTLS_X509_FMT_PEM), 0);
	for (size_t i = 0; i < sizeof(when) / sizeof(when[0]); i++) {
		assert_int_equal(kdc_ca_sign_csr(g_ca, csr, csr_len,
		    "urn:dev:ops:1234", when[i].nb, when[i].na, &is), KDC_OK);
		d.data = is.cert;
		d.size = (unsigned)is.cert_len;
		assert_int_equal(gnutls_x509_crt_init(&crt), 0);
		assert_int_equal(gnutls_x509_crt_import(crt, &d,
		    GNUTLS_X509_FMT_DER), 0);
		assert_int_equal(gnutls_x509_crt_verify(crt, &cacrt, 1,
		    GNUTLS_VERIFY_DISABLE_TIME_CHECKS, &status), 0);
		assert_int_equal(status, 0);
		assert_int_equal(gnutls_x509_crt_get_activation_time(crt),
		    (time_t)when[i].nb);
		assert_int_equal(gnutls_x509_crt_get_expiration_time(crt),
		    (time_t)when[i].na);
		assert_int_equal(gnutls_x509_crt_get_version(crt), 3);
		id_len = sizeof(id);
		assert_int_equal(gnutls_x509_crt_get_subject_key_id(crt, id,
		    &id_len, &crit), 0);
		assert_int_equal(gnutls_hash_fast(GNUTLS_DIG_SHA1, is.spki,
		    is.spki_len, sha1), 0);
		assert_int_equal(id_len, 20);
		assert_memory_equal(id, sha1, 20);
		id2_len = sizeof(id2);
		assert_int_equal(gnutls_x509_crt_get_authority_key_id(crt, id,
		    &id_len, &crit), 0);
		assert_int_equal(gnutls_x509_crt_get_subject_key_id(cacrt, id2,
		    &id2_len, &crit), 0);
		assert_int_equal(id_len, id2_len);
		assert_memory_equal(id, id2, id_len);
		assert_int_equal(gnutls_x509_crt_get_raw_issuer_dn(crt, &dn1),
		    0);
		assert_int_equal(gnutls_x509_crt_get_raw_dn(cacrt, &dn2), 0);
		assert_int_equal(dn1.size, dn2.size);
		assert_memory_equal(dn1.data, dn2.data, dn1.size);
		gnutls_free(dn1.data);
		gnutls_free(dn2.data);
		buf_len = sizeof(buf);
		assert_int_equal(gnutls_x509_crt_get_subject_alt_name(crt, 0,
		    buf, &buf_len, &crit), GNUTLS_SAN_URI);
		assert_string_equal(buf, "urn:dev:ops:1234");
		gnutls_x509_crt_deinit(crt);
		write_cert_pem(g_dir, "tmpl.pem", is.cert, is.cert_len);
		/* UTCTime before 2050, GeneralizedTime from then on */
		assert_int_equal(kdc_test_sh("cd %s && openssl asn1parse -in "
		    "tmpl.pem > tmpl.txt && test $(grep -c UTCTIME tmpl.txt) = "
		    "%d && test $(grep -c GENERALIZEDTIME tmpl.txt) = %d", g_dir,
		    i == 0 ? 2 : 1, i == 0 ? 0 : 1), 0);
		kdc_issued_wipe(&is);
	}
	assert_int_equal(kdc_test_sh("cd %s && openssl asn1parse -in tmpl.pem "
	    "| grep -q 'UTCTIME.*:491231235959Z' && openssl asn1parse -in "
	    "tmpl.pem | grep -q 'GENERALIZEDTIME.*:99991231235959Z'", g_dir),
	    0);

	/* not printable: a UTF8String CN; not UTF-8: refused */
	assert_int_equal(kdc_ca_sign_csr(g_ca, csr, csr_len,
	    "ger\xc3\xa4t_7", now, now + 60, &is), KDC_OK);
	write_cert_pem(g_dir, "utf8.pem", is.cert, is.cert_len);
	assert_int_equal(kdc_test_sh("cd %s && openssl asn1parse -in utf8.pem "
	    "| grep -q 'UTF8STRING' && openssl verify -CAfile ca.pem utf8.pem "
	    ">/dev/null", g_dir), 0);
	kdc_issued_wipe(&is);
	assert_int_equal(kdc_ca_sign_csr(g_ca, csr, csr_len, "dev\xff",
	    now, now + 60, &is), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_ca_sign_csr(g_ca, csr, csr_len, "dev\xc3",
	    now, now + 60, &is), KDC_ERR_INVALID_ARG);
	/* past 9999-12-31T23:59:59Z and before year 1: no field holds it */
	assert_int_equal(kdc_ca_sign_csr(g_ca, csr, csr_len, "d", now,
	    253402300800LL, &is), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_ca_sign_csr(g_ca, csr, csr_len, "d",
	    -62135596801LL, now, &is), KDC_ERR_INVALID_ARG);
	assert_null(is.cert);
	gnutls_x509_crt_deinit(cacrt);
	free(capem);
	free(csr);
}

static void
test_sign_rate(void **state)
{
	int64_t now = (int64_t)time(NULL);
	struct timespec t0, t1;
	struct kdc_issued is;
	uint8_t *csr;
	size_t csr_len;
	const int n = 300;
	double s;

	(void)state;
	csr = make_csr(SSL_P256_DER, "o256.der", &csr_len);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		assert_int_equal(kdc_ca_sign_csr(g_ca, csr, csr_len,
		    "urn:dev:ops:1234", now, now + 86400, &is), KDC_OK);
		kdc_issued_wipe(&is);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("kdc_ca_sign_csr: %d in %.3f s = %.0f/s (%.1f us each)\n", n, s,
	    n / s, s / n * 1e6);
	free(csr);
}

/* ---- the TLS server certificate ---------------------------------------------- */

static void
test_tls_cert(void **state)
{
	static const char *const hosts[] = { "kdc.example.org", "10.1.2.3",
	    "fd00::1" };
	static const char *const bad[] = { "a b" };
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t c, k;
	char *cert_pem, *key_pem;
	size_t key_len;
	uint8_t *blob;
	size_t blob_len;
	struct stat st;
	char *p;

	(void)state;
	assert_int_equal(kdc_tls_cert_create(g_dir, g_kr, g_ca, bad, 1, 30),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_tls_cert_create(g_dir, g_kr, g_ca, hosts, 3, 30),
	    KDC_OK);
	p = path_of(g_dir, "server.key");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	free(p);
	blob = read_or_fail(g_dir, "server.key", &blob_len);
	assert_false(kdc_test_memmem(blob, blob_len, "-----BEGIN", 10));
	free(blob);

	assert_int_equal(kdc_tls_cert_load(g_dir, g_kr, &cert_pem, &key_pem,
	    &key_len), KDC_OK);
	assert_int_equal(strlen(key_pem), key_len);
	assert_true(strncmp(key_pem, "-----BEGIN PRIVATE KEY-----", 27) == 0);
	/* What libmicrohttpd does with them: the key must match the cert. */
	assert_int_equal(gnutls_certificate_allocate_credentials(&cred), 0);
	c.data = (unsigned char *)cert_pem;
	c.size = (unsigned)strlen(cert_pem);
	k.data = (unsigned char *)key_pem;
	k.size = (unsigned)key_len;
	assert_int_equal(gnutls_certificate_set_x509_key_mem(cred, &c, &k,
	    GNUTLS_X509_FMT_PEM), 0);
	gnutls_certificate_free_credentials(cred);
	write_or_fail(g_dir, "tls.key", key_pem, key_len);

	assert_int_equal(kdc_test_sh("cd %s && "
	    "openssl verify -CAfile ca.pem -purpose sslserver server.pem "
	    ">/dev/null && openssl x509 -in server.pem -noout -text > srv.txt && "
	    "grep -q 'TLS Web Server Authentication' srv.txt && "
	    "grep -q 'DNS:localhost' srv.txt && "
	    "grep -q 'IP Address:127.0.0.1' srv.txt && "
	    "grep -q 'IP Address:0:0:0:0:0:0:0:1' srv.txt && "
	    "grep -q 'DNS:kdc.example.org' srv.txt && "
	    "grep -q 'IP Address:10.1.2.3' srv.txt && "
	    "grep -q 'IP Address:FD00:0:0:0:0:0:0:1' srv.txt && "
	    "grep -q CA:FALSE srv.txt && "
	    "test $(grep -c 'BEGIN CERTIFICATE' server.pem) = 2 && "
	    "openssl pkey -in tls.key -noout && "
	    "test \"$(openssl x509 -in server.pem -noout -pubkey)\" = "
	    "\"$(openssl pkey -in tls.key -pubout)\"", g_dir), 0);
	/* The server leaf is no CA for mfg-ca add. */
	assert_int_equal(kdc_cacert_parse((uint8_t *)cert_pem,
	    strlen(cert_pem), &blob, &blob_len), KDC_ERR_UNTRUSTED);
	kdc_free(cert_pem);
	kdc_secret_free(key_pem, key_len);

	/* Re-create replaces both files; wrong keyring cannot load. */
	assert_int_equal(kdc_tls_cert_create(g_dir, g_kr, g_ca, NULL, 0, 30),
	    KDC_OK);
	{
		struct kdc_keyring *other;
		uint8_t ok[32] = { 9 };

		assert_int_equal(kdc_keyring_from_bytes(ok, &other), KDC_OK);
		assert_int_equal(kdc_tls_cert_load(g_dir, other, &cert_pem,
		    &key_pem, &key_len), KDC_ERR_BAD_KEY);
		assert_null(cert_pem);
		assert_null(key_pem);
		kdc_keyring_free(other);
	}

	/* server.pem of another key (another data dir's, or from before a
	 * reissue): TLS; cut in half: MALFORMED; nothing handed out */
	{
		uint8_t *old_pem, *cur_pem;
		size_t old_len, cur_len;

		old_pem = read_or_fail(g_dir, "server.pem", &old_len);
		assert_int_equal(kdc_tls_cert_create(g_dir, g_kr, g_ca, NULL, 0,
		    30), KDC_OK);
		cur_pem = read_or_fail(g_dir, "server.pem", &cur_len);
		write_or_fail(g_dir, "server.pem", old_pem, old_len);
		assert_int_equal(kdc_tls_cert_load(g_dir, g_kr, &cert_pem,
		    &key_pem, &key_len), KDC_ERR_TLS);
		assert_null(cert_pem);
		assert_null(key_pem);
		write_or_fail(g_dir, "server.pem", cur_pem, cur_len / 2);
		assert_int_equal(kdc_tls_cert_load(g_dir, g_kr, &cert_pem,
		    &key_pem, &key_len), KDC_ERR_MALFORMED);
		assert_null(cert_pem);
		write_or_fail(g_dir, "server.pem", cur_pem, cur_len);
		assert_int_equal(kdc_tls_cert_load(g_dir, g_kr, &cert_pem,
		    &key_pem, &key_len), KDC_OK);
		kdc_free(cert_pem);
		kdc_secret_free(key_pem, key_len);
		free(old_pem);
		free(cur_pem);
	}
}

/* ---- device chains ------------------------------------------------------------ */

static void
test_verify_chain(void **state)
{
	int64_t now = (int64_t)time(NULL);
	struct kdc_issued is, srv;
	const uint8_t *certs[1];
	const uint8_t *cas[2];
	size_t lens[1], ca_lens[2];
	uint8_t *ca_der, *other_der, *spki, *csr;
	size_t ca_der_len, other_der_len, spki_len, csr_len;
	char *dev_id, *other_dir;
	struct kdc_ca *other_ca;

	(void)state;
	csr = make_csr(SSL_P256_DER, "o256.der", &csr_len);
	assert_int_equal(kdc_ca_sign_csr(g_ca, csr, csr_len,
	    "urn:dev:ops:1234", now - 60, now + 3600, &is), KDC_OK);
	assert_int_equal(kdc_ca_sign_csr(g_ca, csr, csr_len, "plain-name",
	    now - 60, now + 3600, &srv), KDC_OK);
	assert_int_equal(kdc_ca_cert_der(g_ca, &ca_der, &ca_der_len), KDC_OK);

	/* Another CA, trusted alongside ours but not the issuer. */
	other_dir = kdc_test_tmpdir();
	assert_int_equal(kdc_ca_create(other_dir, g_kr, NULL, 30), KDC_OK);
	assert_int_equal(kdc_ca_load(other_dir, g_kr, NULL, &other_ca), KDC_OK);
	assert_int_equal(kdc_ca_cert_der(other_ca, &other_der,
	    &other_der_len), KDC_OK);

	certs[0] = is.cert;
	lens[0] = is.cert_len;
	cas[0] = other_der;
	ca_lens[0] = other_der_len;
	cas[1] = ca_der;
	ca_lens[1] = ca_der_len;
	assert_int_equal(kdc_cert_verify_chain(certs, lens, 1, cas, ca_lens, 2,
	    now, &dev_id, &spki, &spki_len), KDC_OK);
	assert_string_equal(dev_id, "urn:dev:ops:1234");
	assert_int_equal(spki_len, is.spki_len);
	assert_memory_equal(spki, is.spki, spki_len);
	kdc_free(dev_id);
	kdc_free(spki);

	/* Time. */
	assert_int_equal(kdc_cert_verify_chain(certs, lens, 1, cas, ca_lens, 2,
	    now + 7200, &dev_id, &spki, &spki_len), KDC_ERR_EXPIRED);
	assert_null(dev_id);
	assert_null(spki);
	assert_int_equal(kdc_cert_verify_chain(certs, lens, 1, cas, ca_lens, 2,
	    now - 7200, &dev_id, &spki, &spki_len), KDC_ERR_NOT_YET_VALID);
	/* The CA itself expired (other CA is not involved; ours: 10 y). */
	assert_int_equal(kdc_cert_verify_chain(certs, lens, 1, cas + 1,
	    ca_lens + 1, 1, now + 3650LL * 86400 * 2, &dev_id, &spki,
	    &spki_len), KDC_ERR_EXPIRED);
	/* Not our issuer. */
	assert_int_equal(kdc_cert_verify_chain(certs, lens, 1, cas, ca_lens, 1,
	    now, &dev_id, &spki, &spki_len), KDC_ERR_UNTRUSTED);
	/* A changed signature byte. */
	is.cert[is.cert_len - 1] ^= 0x01;
	assert_int_equal(kdc_cert_verify_chain(certs, lens, 1, cas, ca_lens, 2,
	    now, &dev_id, &spki, &spki_len), KDC_ERR_UNTRUSTED);
	is.cert[is.cert_len - 1] ^= 0x01;
	/* The CA as its own leaf is not a device. */
	certs[0] = ca_der;
	lens[0] = ca_der_len;
	assert_int_not_equal(kdc_cert_verify_chain(certs, lens, 1, cas + 1,
	    ca_lens + 1, 1, now, &dev_id, &spki, &spki_len), KDC_OK);
	/* Garbage leaf. */
	certs[0] = (const uint8_t *)"junk";
	lens[0] = 4;
	assert_int_equal(kdc_cert_verify_chain(certs, lens, 1, cas, ca_lens, 2,
	    now, &dev_id, &spki, &spki_len), KDC_ERR_MALFORMED);
	/* CN when there is no SAN URI. */
	certs[0] = srv.cert;
	lens[0] = srv.cert_len;
	assert_int_equal(kdc_cert_verify_chain(certs, lens, 1, cas, ca_lens, 2,
	    now, &dev_id, &spki, &spki_len), KDC_OK);
	assert_string_equal(dev_id, "plain-name");
	kdc_free(dev_id);
	kdc_free(spki);

	kdc_issued_wipe(&is);
	kdc_issued_wipe(&srv);
	kdc_free(ca_der);
	kdc_free(other_der);
	kdc_ca_free(other_ca);
	kdc_test_rmtree(other_dir);
	free(other_dir);
	free(csr);
}

/* A chain with an intermediate, made by certtool (an independent issuer). */
static void
test_verify_chain_intermediate(void **state)
{
	int64_t now;
	const uint8_t *certs[2], *cas[1];
	size_t lens[2], ca_lens[1];
	uint8_t *root, *inter, *leaf, *spki;
	size_t root_len, inter_len, leaf_len, spki_len;
	char *dev_id;

	(void)state;
	assert_int_equal(kdc_test_sh("cd %s && "
	    "printf 'cn = \"mfg root\"\\nca\\ncert_signing_key\\n"
	    "expiration_days = 30\\n' > root.t && "
	    "printf 'cn = \"mfg sub\"\\nca\\ncert_signing_key\\n"
	    "expiration_days = 30\\n' > sub.t && "
	    "printf 'cn = \"dev-42\"\\nuri = \"urn:dev:mac:0024befffe804ff1\"\\n"
	    "tls_www_client\\nsigning_key\\nexpiration_days = 10\\n' > leaf.t && "
	    "for k in root sub leaf; do certtool --generate-privkey "
	    "--key-type=ecdsa --outfile $k.key 2>/dev/null || exit 1; done && "
	    "certtool --generate-self-signed --load-privkey root.key "
	    "--template root.t --outfile root.pem 2>/dev/null && "
	    "certtool --generate-certificate --load-privkey sub.key "
	    "--load-ca-certificate root.pem --load-ca-privkey root.key "
	    "--template sub.t --outfile sub.pem 2>/dev/null && "
	    "certtool --generate-certificate --load-privkey leaf.key "
	    "--load-ca-certificate sub.pem --load-ca-privkey sub.key "
	    "--template leaf.t --outfile leaf.pem 2>/dev/null && "
	    "for c in root sub leaf; do openssl x509 -in $c.pem -outform DER "
	    "-out $c.der || exit 1; done",
	    g_dir), 0);
	/* certtool dates the certificates when it makes them: a clock read
	 * before that may be seconds earlier on a loaded machine (not yet
	 * valid) */
	now = (int64_t)time(NULL);
	root = read_or_fail(g_dir, "root.der", &root_len);
	inter = read_or_fail(g_dir, "sub.der", &inter_len);
	leaf = read_or_fail(g_dir, "leaf.der", &leaf_len);
	certs[0] = leaf;
	lens[0] = leaf_len;
	certs[1] = inter;
	lens[1] = inter_len;
	cas[0] = root;
	ca_lens[0] = root_len;
	assert_int_equal(kdc_cert_verify_chain(certs, lens, 2, cas, ca_lens, 1,
	    now, &dev_id, &spki, &spki_len), KDC_OK);
	assert_string_equal(dev_id, "urn:dev:mac:0024befffe804ff1");
	kdc_free(dev_id);
	kdc_free(spki);
	/* Without the intermediate it does not chain. */
	assert_int_equal(kdc_cert_verify_chain(certs, lens, 1, cas, ca_lens, 1,
	    now, &dev_id, &spki, &spki_len), KDC_ERR_UNTRUSTED);
	/* The leaf expires before its CAs. */
	assert_int_equal(kdc_cert_verify_chain(certs, lens, 2, cas, ca_lens, 1,
	    now + 20 * 86400, &dev_id, &spki, &spki_len), KDC_ERR_EXPIRED);
	/* certtool's root parses as a manufacturer CA. */
	{
		uint8_t *der;
		size_t der_len;

		assert_int_equal(kdc_cacert_parse(root, root_len, &der,
		    &der_len), KDC_OK);
		kdc_free(der);
		assert_int_equal(kdc_cacert_parse(leaf, leaf_len, &der,
		    &der_len), KDC_ERR_UNTRUSTED);
	}
	free(root);
	free(inter);
	free(leaf);
}

int
main(void)
{
	const struct CMUnitTest prim[] = {
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_hash_hmac),
		cmocka_unit_test(test_wrap_roundtrip),
		cmocka_unit_test(test_wrap_tamper),
		cmocka_unit_test(test_keyring_mac),
		cmocka_unit_test(test_keyring_file),
		cmocka_unit_test(test_spki_vectors),
	};
	const struct CMUnitTest ca[] = {
		cmocka_unit_test(test_ca_files),
		cmocka_unit_test(test_ca_export),
		cmocka_unit_test(test_sign_openssl_p256),
		cmocka_unit_test(test_sign_certtool),
		cmocka_unit_test(test_sign_refusals),
		cmocka_unit_test(test_sign_template),
		cmocka_unit_test(test_sign_rate),
		cmocka_unit_test(test_tls_cert),
		cmocka_unit_test(test_verify_chain),
		cmocka_unit_test(test_verify_chain_intermediate),
	};
	int fails;

	if (kdc_crypto_init() != KDC_OK)
		return 1;
	fails = cmocka_run_group_tests_name("crypto primitives", prim, NULL,
	    NULL);
	fails += cmocka_run_group_tests_name("crypto CA", ca, ca_setup,
	    ca_teardown);
	return fails;
}
