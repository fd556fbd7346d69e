/* test_tlsnames.c: which names the listeners' certificate must carry
 * (core/tlsnames.h), and the crypto calls that read them back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "core/tlsnames.h"
#include "crypto/crypto.h"
#include "testutil.h"

static void
uri_host_is(const char *uri, const char *want)
{
	char h[KDC_TLSNAMES_HOST_MAX + 1];

	assert_int_equal(kdc_tlsnames_uri_host(uri, h, sizeof(h)), KDC_OK);
	assert_string_equal(h, want);
}

static void
uri_host_fails(const char *uri, kdc_err want)
{
	char h[KDC_TLSNAMES_HOST_MAX + 1];

	memset(h, 'x', sizeof(h));
	assert_int_equal(kdc_tlsnames_uri_host(uri, h, sizeof(h)), want);
	assert_string_equal(h, "");
}

static void
test_uri_host(void **state)
{
	char big[KDC_TLSNAMES_URI_MAX + 20], small[4];

	(void)state;
	uri_host_is("coaps://kdc.example.test:5685", "kdc.example.test");
	uri_host_is("coaps://kdc.example.test", "kdc.example.test");
	uri_host_is("coaps://10.1.2.3:5685/rd?x#y", "10.1.2.3");
	uri_host_is("coaps://[fd00::5]:5685", "fd00::5");
	uri_host_is("coaps://[::1]", "::1");
	uri_host_is("coaps://h:", "h");
	uri_host_is("coap+tcp://user:pw@h-1.example/p", "h-1.example");
	uri_host_is("coaps://host/path:with@odd", "host");

	uri_host_fails("kdc.example.test:5685", KDC_ERR_MALFORMED);
	uri_host_fails("coaps:kdc.example.test", KDC_ERR_MALFORMED);
	uri_host_fails("coaps://", KDC_ERR_MALFORMED);
	uri_host_fails("coaps://:5685", KDC_ERR_MALFORMED);
	uri_host_fails("coaps://[]:5685", KDC_ERR_MALFORMED);
	uri_host_fails("coaps://[fd00::5:5685", KDC_ERR_MALFORMED);
	uri_host_fails("coaps://bad host", KDC_ERR_MALFORMED);
	uri_host_fails("coaps://fd00::5", KDC_ERR_MALFORMED);	/* ":" port */
	uri_host_fails("coaps://a\x01" "b", KDC_ERR_MALFORMED);
	uri_host_fails("coaps://h:56x", KDC_ERR_MALFORMED);
	uri_host_fails("coaps://[fd00::5]x:1", KDC_ERR_MALFORMED);
	uri_host_fails("1coaps://h", KDC_ERR_MALFORMED);
	uri_host_fails("", KDC_ERR_MALFORMED);
	uri_host_fails(NULL, KDC_ERR_MALFORMED);

	/* a host of 253 bytes fits, 254 does not */
	memcpy(big, "coaps://", 8);
	memset(big + 8, 'a', 253);
	big[8 + 253] = '\0';
	uri_host_is(big, big + 8);
	big[8 + 253] = 'a';
	big[8 + 254] = '\0';
	uri_host_fails(big, KDC_ERR_TOO_LARGE);
	/* the URI is read up to its bound only */
	memset(big + 8, 'a', sizeof(big) - 9);
	big[sizeof(big) - 1] = '\0';
	uri_host_fails(big, KDC_ERR_TOO_LARGE);
	assert_int_equal(kdc_tlsnames_uri_host("coaps://abcd", small,
	    sizeof(small)), KDC_ERR_TOO_LARGE);
	assert_string_equal(small, "");
}

static void
test_wildcard(void **state)
{
	(void)state;
	assert_true(kdc_tlsnames_wildcard("0.0.0.0"));
	assert_true(kdc_tlsnames_wildcard("::"));
	assert_true(kdc_tlsnames_wildcard("0:0::0"));
	assert_false(kdc_tlsnames_wildcard("127.0.0.1"));
	assert_false(kdc_tlsnames_wildcard("::1"));
	assert_false(kdc_tlsnames_wildcard("kdc.example.test"));
	assert_false(kdc_tlsnames_wildcard(""));
}

static void
test_lwm2m_uri(void **state)
{
	struct kdc_config cfg;
	char uri[KDC_TLSNAMES_URI_MAX + 1], tiny[8];

	(void)state;
	kdc_config_defaults(&cfg);
	assert_int_equal(kdc_tlsnames_lwm2m_uri(&cfg, uri, sizeof(uri)),
	    KDC_OK);
	assert_string_equal(uri, "coaps://127.0.0.1:5685");
	snprintf(cfg.coap_address, sizeof(cfg.coap_address), "fd00::7");
	assert_int_equal(kdc_tlsnames_lwm2m_uri(&cfg, uri, sizeof(uri)),
	    KDC_OK);
	assert_string_equal(uri, "coaps://[fd00::7]:5685");
	snprintf(cfg.lwm2m_server_uri, sizeof(cfg.lwm2m_server_uri),
	    "coaps://lwm2m.example.test:5685");
	assert_int_equal(kdc_tlsnames_lwm2m_uri(&cfg, uri, sizeof(uri)),
	    KDC_OK);
	assert_string_equal(uri, "coaps://lwm2m.example.test:5685");
	assert_int_equal(kdc_tlsnames_lwm2m_uri(&cfg, tiny, sizeof(tiny)),
	    KDC_ERR_TOO_LARGE);
	assert_string_equal(tiny, "");
}

static void
test_required(void **state)
{
	struct kdc_config cfg;
	struct kdc_tlsnames tn;
	char why[256];

	(void)state;
	/* the defaults: 127.0.0.1 everywhere, which is always in */
	kdc_config_defaults(&cfg);
	assert_int_equal(kdc_tlsnames_required(&cfg, &tn), KDC_OK);
	assert_int_equal(tn.n, 0);

	/* hosts in order, duplicates (any case, any address spelling) and
	 * the fixed three once, the server URI's host, a specific http
	 * address; the coap wildcard is no name */
	assert_int_equal(kdc_config_parse(
	    "[kdc]\nhosts = kdc.example.test, 10.1.2.3, KDC.example.test, "
	    "::1, localhost, fd00:0::1, fd00::1\n"
	    "[http]\naddress = 192.0.2.1\n"
	    "[coap]\naddress = 0.0.0.0\n"
	    "[lwm2m]\nserver_uri = coaps://lwm2m.example.test:5685\n",
	    &cfg, why, sizeof(why)), KDC_OK);
	assert_int_equal(kdc_tlsnames_required(&cfg, &tn), KDC_OK);
	assert_int_equal(tn.n, 5);
	assert_string_equal(tn.name[0].host, "kdc.example.test");
	assert_string_equal(tn.name[0].from, "[kdc] hosts");
	assert_false(tn.name[0].server_uri);
	assert_string_equal(tn.name[1].host, "10.1.2.3");
	assert_string_equal(tn.name[2].host, "fd00:0::1");
	assert_string_equal(tn.name[3].host, "lwm2m.example.test");
	assert_string_equal(tn.name[3].from, "[lwm2m] server_uri");
	assert_true(tn.name[3].server_uri);
	assert_string_equal(tn.name[4].host, "192.0.2.1");
	assert_string_equal(tn.name[4].from, "[http] address");

	/* the server URI's host already in [kdc] hosts: once, flagged */
	snprintf(cfg.lwm2m_server_uri, sizeof(cfg.lwm2m_server_uri),
	    "coaps://[FD00::1]:5685");
	assert_int_equal(kdc_tlsnames_required(&cfg, &tn), KDC_OK);
	assert_int_equal(tn.n, 4);
	assert_string_equal(tn.name[2].host, "fd00:0::1");
	assert_true(tn.name[2].server_uri);

	/* no server_uri: the derived one, from a specific coap address */
	kdc_config_defaults(&cfg);
	snprintf(cfg.coap_address, sizeof(cfg.coap_address), "192.0.2.7");
	assert_int_equal(kdc_tlsnames_required(&cfg, &tn), KDC_OK);
	assert_int_equal(tn.n, 1);
	assert_string_equal(tn.name[0].host, "192.0.2.7");
	assert_true(tn.name[0].server_uri);

	/* ... and from a wildcard one: none */
	snprintf(cfg.coap_address, sizeof(cfg.coap_address), "::");
	assert_int_equal(kdc_tlsnames_required(&cfg, &tn), KDC_OK);
	assert_int_equal(tn.n, 0);

	/* a server_uri without a host we can read */
	snprintf(cfg.lwm2m_server_uri, sizeof(cfg.lwm2m_server_uri),
	    "lwm2m.example.test:5685");
	assert_int_equal(kdc_tlsnames_required(&cfg, &tn), KDC_ERR_MALFORMED);
	assert_int_equal(tn.n, 0);
}

/* The certificate made from the required names names them, and nothing
 * else; read back as a TLS client checks it. */
static void
test_cert_names(void **state)
{
	static const uint8_t kb[32] = { 7 };
	const char *hosts[KDC_TLSNAMES_MAX];
	struct kdc_keyring *kr = NULL;
	struct kdc_ca *ca = NULL;
	struct kdc_config cfg;
	struct kdc_tlsnames tn;
	char *dir, *cert = NULL, *key = NULL, names[1024], why[256];
	size_t key_len = 0;

	(void)state;
	assert_int_equal(kdc_crypto_init(), KDC_OK);
	dir = kdc_test_tmpdir();
	assert_int_equal(kdc_keyring_from_bytes(kb, &kr), KDC_OK);
	assert_int_equal(kdc_ca_create(dir, kr, NULL, 30), KDC_OK);
	assert_int_equal(kdc_ca_load(dir, kr, NULL, &ca), KDC_OK);
	assert_int_equal(kdc_config_parse(
	    "[kdc]\nhosts = kdc.example.test, 10.1.2.3\n"
	    "[lwm2m]\nserver_uri = coaps://[fd00::5]:5685\n",
	    &cfg, why, sizeof(why)), KDC_OK);
	assert_int_equal(kdc_tlsnames_required(&cfg, &tn), KDC_OK);
	for (size_t i = 0; i < tn.n; i++)
		hosts[i] = tn.name[i].host;
	assert_int_equal(kdc_tls_cert_create(dir, kr, ca, hosts, tn.n, 30),
	    KDC_OK);
	assert_int_equal(kdc_tls_cert_load(dir, kr, &cert, &key, &key_len),
	    KDC_OK);

	assert_int_equal(kdc_tls_cert_names(cert, strlen(cert), names,
	    sizeof(names)), KDC_OK);
	assert_string_equal(names,
	    "localhost, 127.0.0.1, ::1, kdc.example.test, 10.1.2.3, fd00::5");
	assert_int_equal(kdc_tls_cert_names(cert, strlen(cert), names, 10),
	    KDC_ERR_TOO_LARGE);
	assert_string_equal(names, "");

	assert_int_equal(kdc_tls_cert_names_host(cert, strlen(cert),
	    "kdc.example.test"), KDC_OK);
	assert_int_equal(kdc_tls_cert_names_host(cert, strlen(cert),
	    "KDC.Example.Test"), KDC_OK);
	assert_int_equal(kdc_tls_cert_names_host(cert, strlen(cert),
	    "10.1.2.3"), KDC_OK);
	assert_int_equal(kdc_tls_cert_names_host(cert, strlen(cert),
	    "fd00:0:0::5"), KDC_OK);
	assert_int_equal(kdc_tls_cert_names_host(cert, strlen(cert),
	    "0:0:0:0:0:0:0:1"), KDC_OK);
	assert_int_equal(kdc_tls_cert_names_host(cert, strlen(cert),
	    "localhost"), KDC_OK);
	assert_int_equal(kdc_tls_cert_names_host(cert, strlen(cert),
	    "other.example.test"), KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_tls_cert_names_host(cert, strlen(cert),
	    "10.1.2.4"), KDC_ERR_NOT_FOUND);
	/* the CN is no name */
	assert_int_equal(kdc_tls_cert_names_host(cert, strlen(cert),
	    "iotkdc server"), KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_tls_cert_names_host(cert, strlen(cert), ""),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_tls_cert_names_host("junk", 4, "localhost"),
	    KDC_ERR_MALFORMED);
	assert_int_equal(kdc_tls_cert_names("junk", 4, names, sizeof(names)),
	    KDC_ERR_MALFORMED);

	kdc_free(cert);
	kdc_secret_free(key, key_len);
	kdc_ca_free(ca);
	kdc_keyring_free(kr);
	kdc_test_rmtree(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uri_host),
		cmocka_unit_test(test_wildcard),
		cmocka_unit_test(test_lwm2m_uri),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_cert_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
