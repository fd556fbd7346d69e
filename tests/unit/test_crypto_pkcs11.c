/*
 * test_crypto_pkcs11.c: the CA key in a PKCS#11 token (SoftHSM2 in a
 * private temp dir), made with the token's own tools (softhsm2-util,
 * p11tool), then the CA created and loaded by URL, a CSR signed and the
 * result verified by OpenSSL.
 *
 * The module is found two ways (crypto.h): through p11-kit's module
 * configuration (this process), and through IOTKDC_PKCS11_MODULE (the
 * same binary re-run as a child with --module-env, since the choice is
 * made once per process).
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
#include <unistd.h>

#include <cmocka.h>

#include <gnutls/gnutls.h>

#include "base/alloc.h"
#include "crypto/crypto.h"
#include "crypto/p256.h"
#include "testutil.h"

#define SOFTHSM_MODULE	"/usr/lib/softhsm/libsofthsm2.so"
#define URL		"pkcs11:token=kdc;object=ca;pin-value=1234"
#define URL_NO_OBJ	"pkcs11:token=kdc;object=nope;pin-value=1234"
#define URL_BAD_PIN	"pkcs11:token=kdc;object=ca;pin-value=9999"
#define URL_NO_TOKEN	"pkcs11:token=nope;object=ca;pin-value=1234"

static char	*g_tmp;		/* the token dir's parent */
static char	*g_ca_dir;	/* where ca.pem lives */
static char	 g_self[4096];	/* this executable */

static void
make_dir(const char *parent, const char *name, char **out)
{
	size_t n = strlen(parent) + 1 + strlen(name) + 1;

	if ((*out = malloc(n)) == NULL)
		abort();
	snprintf(*out, n, "%s/%s", parent, name);
	if (mkdir(*out, 0700) != 0)
		fail_msg("mkdir %s", *out);
}

/* Sign a fresh OpenSSL CSR with ca and have OpenSSL verify the result
 * against dir/ca.pem. */
static void
sign_and_verify(struct kdc_ca *ca, const char *dir)
{
	int64_t now = (int64_t)time(NULL);
	gnutls_datum_t in, pem = { NULL, 0 };
	struct kdc_issued is;
	uint8_t *csr;
	size_t csr_len;
	char path[4096];

	assert_int_equal(kdc_test_sh("cd '%s' && openssl req -new -newkey ec "
	    "-pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x -keyout d.key "
	    "-out d.csr 2>/dev/null", dir), 0);
	snprintf(path, sizeof(path), "%s/d.csr", dir);
	assert_non_null(csr = kdc_test_read_file(path, &csr_len));
	assert_int_equal(kdc_ca_sign_csr(ca, csr, csr_len, "urn:dev:ops:p11",
	    now - 60, now + 3600, &is), KDC_OK);
	/* a token key signs through GnuTLS/p11-kit, never OpenSSL (p256.h) */
	assert_false(kdc_p256_last_was_openssl());
	in.data = is.cert;
	in.size = (unsigned)is.cert_len;
	assert_int_equal(gnutls_pem_base64_encode2("CERTIFICATE", &in, &pem),
	    0);
	snprintf(path, sizeof(path), "%s/d.pem", dir);
	assert_int_equal(kdc_test_write_file(path, pem.data, pem.size), 0);
	assert_int_equal(kdc_test_sh("cd '%s' && openssl verify -CAfile ca.pem "
	    "d.pem >/dev/null && openssl x509 -in d.pem -noout -text | "
	    "grep -q URI:urn:dev:ops:p11", dir), 0);
	gnutls_free(pem.data);
	kdc_issued_wipe(&is);
	free(csr);
}

static int
token_setup(void **state)
{
	char conf[4096], body[4096], *tokens;

	(void)state;
	g_tmp = kdc_test_tmpdir();
	make_dir(g_tmp, "tokens", &tokens);
	make_dir(g_tmp, "ca", &g_ca_dir);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", g_tmp);
	snprintf(body, sizeof(body), "directories.tokendir = %s\n"
	    "objectstore.backend = file\nlog.level = ERROR\n", tokens);
	free(tokens);
	if (kdc_test_write_file(conf, body, strlen(body)) != 0)
		return -1;
	/* Before anything loads the module: SoftHSM reads it at C_Initialize. */
	if (setenv("SOFTHSM2_CONF", conf, 1) != 0)
		return -1;
	if (kdc_test_sh("softhsm2-util --init-token --free --label kdc "
	    "--pin 1234 --so-pin 5678 >/dev/null") != 0 ||
	    kdc_test_sh("p11tool --login --set-pin=1234 "
	    "--generate-privkey=ECDSA --curve=secp256r1 --label=ca "
	    "'pkcs11:token=kdc' >/dev/null 2>&1") != 0)
		return -1;
	return kdc_crypto_init() == KDC_OK ? 0 : -1;
}

static int
token_teardown(void **state)
{
	(void)state;
	kdc_test_rmtree(g_tmp);
	free(g_tmp);
	free(g_ca_dir);
	return 0;
}

static void
test_p11_ca(void **state)
{
	struct kdc_ca *ca = NULL;
	char path[4096];
	struct stat st;

	(void)state;
	assert_int_equal(kdc_ca_create(g_ca_dir, NULL, URL, 365), KDC_OK);
	/* Only the certificate is written: the key stays in the token. */
	snprintf(path, sizeof(path), "%s/ca.key", g_ca_dir);
	assert_int_not_equal(stat(path, &st), 0);
	assert_int_equal(kdc_ca_create(g_ca_dir, NULL, URL, 365),
	    KDC_ERR_EXISTS);
	assert_int_equal(kdc_test_sh("cd '%s' && openssl verify -CAfile ca.pem "
	    "ca.pem >/dev/null && openssl x509 -in ca.pem -noout -text | "
	    "grep -q 'CA:TRUE'", g_ca_dir), 0);

	assert_int_equal(kdc_ca_load(g_ca_dir, NULL, URL, &ca), KDC_OK);
	sign_and_verify(ca, g_ca_dir);
	kdc_ca_free(ca);
}

static void
test_p11_refusals(void **state)
{
	struct kdc_ca *ca = NULL;
	char *other;

	(void)state;
	assert_int_equal(kdc_ca_load(g_ca_dir, NULL, URL_NO_OBJ, &ca),
	    KDC_ERR_PKCS11);
	assert_null(ca);
	assert_int_equal(kdc_ca_load(g_ca_dir, NULL, URL_BAD_PIN, &ca),
	    KDC_ERR_PKCS11);
	assert_int_equal(kdc_ca_load(g_ca_dir, NULL, URL_NO_TOKEN, &ca),
	    KDC_ERR_PKCS11);
	assert_int_equal(kdc_ca_load(g_ca_dir, NULL, "file:/etc/passwd", &ca),
	    KDC_ERR_INVALID_ARG);
	make_dir(g_tmp, "ca2", &other);
	assert_int_equal(kdc_ca_create(other, NULL, URL_NO_OBJ, 365),
	    KDC_ERR_PKCS11);
	free(other);
}

/* The same, with the module named by IOTKDC_PKCS11_MODULE, in a child. */
static void
test_p11_module_env(void **state)
{
	(void)state;
	assert_int_equal(kdc_test_sh("IOTKDC_PKCS11_MODULE=%s '%s' "
	    "--module-env '%s' >/dev/null", SOFTHSM_MODULE, g_self, g_ca_dir),
	    0);
	/* A module that does not load: PKCS11, in another child. */
	assert_int_equal(kdc_test_sh("IOTKDC_PKCS11_MODULE=/nonexistent.so "
	    "'%s' --module-missing '%s' >/dev/null 2>&1", g_self, g_ca_dir), 0);
}

/* Child, IOTKDC_PKCS11_MODULE names a module that does not exist. */
static int
child_module_missing(const char *ca_dir)
{
	struct kdc_ca *ca = NULL;

	if (kdc_crypto_init() != KDC_OK)
		return 2;
	return kdc_ca_load(ca_dir, NULL, URL, &ca) == KDC_ERR_PKCS11 &&
	    ca == NULL ? 0 : 1;
}

/* Child, IOTKDC_PKCS11_MODULE names SoftHSM: load the CA and sign. */
static const char *g_child_dir;

static void
test_child_sign(void **state)
{
	struct kdc_ca *ca = NULL;

	(void)state;
	assert_int_equal(kdc_ca_load(g_child_dir, NULL, URL, &ca), KDC_OK);
	sign_and_verify(ca, g_child_dir);
	kdc_ca_free(ca);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_p11_ca),
		cmocka_unit_test(test_p11_refusals),
		cmocka_unit_test(test_p11_module_env),
	};
	ssize_t n;

	if (argc == 3 && strcmp(argv[1], "--module-missing") == 0)
		return child_module_missing(argv[2]);
	if (argc == 3 && strcmp(argv[1], "--module-env") == 0) {
		const struct CMUnitTest child[] = {
			cmocka_unit_test(test_child_sign),
		};

		g_child_dir = argv[2];
		return cmocka_run_group_tests_name("pkcs11 child", child, NULL,
		    NULL);
	}
	if ((n = readlink("/proc/self/exe", g_self, sizeof(g_self) - 1)) <= 0)
		return 1;
	g_self[n] = '\0';
	return cmocka_run_group_tests_name("crypto pkcs11", tests, token_setup,
	    token_teardown);
}
