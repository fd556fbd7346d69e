/*
 * test_transport.c: the host port's DTLS client paths against a real peer,
 * libcoap's own coap-server-gnutls 4.3.1 (Debian libcoap3-bin) on loopback:
 *   PSK  (-k KEY: the key is the literal string)  GET / -> 2.05
 *   RPK  (-M server EC key)  GET / -> 2.05 with the server's SPKI pinned
 *        in /0/x/4; a wrong pin fails the handshake (KDC_ERR_TLS/_TIMEOUT)
 * make deps installs libcoap3-bin: a missing server is a failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "kdcdev_host.h"
#include "testutil.h"

#define SERVER	"/usr/bin/coap-server-gnutls"
#define PSK	"transport-test-psk-1"

static char tmpdir[64];

static bool
port_free(int type, uint16_t port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, type, 0), ok;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

/* A port P with P and P+1 free for UDP and TCP (the server takes both). */
static uint16_t
free_port(void)
{
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	for (int i = 0; i < 200; i++) {
		uint16_t p = (uint16_t)(20000 + rand() % 20000);
		if (port_free(SOCK_DGRAM, p) && port_free(SOCK_DGRAM,
		    (uint16_t)(p + 1)) && port_free(SOCK_STREAM, p) &&
		    port_free(SOCK_STREAM, (uint16_t)(p + 1)))
			return p;
	}
	fail_msg("no free port");
	return 0;
}

/* Start argv (coap-server-gnutls -p P) and wait until it has bound its
 * coaps port P + 1, the one the tests talk to. */
static pid_t
spawn(char *const argv[], uint16_t port)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);
		if (fd >= 0 && !getenv("KDCDEV_TEST_VERBOSE")) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	assert_true(pid > 0);
	if (kdc_test_wait_udp_bound(port + 1, pid, 10000) != 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		fail_msg("%s did not bind udp %u", argv[0], port + 1u);
	}
	return pid;
}

static void
stop(pid_t pid)
{
	int st;

	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
}

static void
write_file(const char *path, const void *b, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	fclose(f);
}

/* A fresh P-256 key written as PEM ("EC PRIVATE KEY", what -M wants). */
static void
gen_key(const char *path)
{
	gnutls_x509_privkey_t k;
	gnutls_datum_t d;

	assert_int_equal(gnutls_x509_privkey_init(&k), 0);
	assert_int_equal(gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0), 0);
	assert_int_equal(gnutls_x509_privkey_export2(k, GNUTLS_X509_FMT_PEM,
	    &d), 0);
	write_file(path, d.data, d.size);
	gnutls_free(d.data);
	gnutls_x509_privkey_deinit(k);
}

static void
uri(struct kdcdev_security *s, uint16_t port)
{
	snprintf(s->uri, sizeof(s->uri), "coaps://127.0.0.1:%u",
	    (unsigned)port + 1);
}

static void
test_psk_get(void **state)
{
	static struct kdcdev_security s;
	char port_s[8];
	uint16_t port = free_port();
	uint8_t code, out[256];
	size_t out_len = sizeof(out);
	pid_t pid;
	kdc_err r;

	(void)state;
	snprintf(port_s, sizeof(port_s), "%u", port);
	{
		char *argv[] = { SERVER, "-A", "127.0.0.1", "-p", port_s,
		    "-k", PSK, NULL };
		pid = spawn(argv, port);
	}
	memset(&s, 0, sizeof(s));
	s.used = 1;
	s.mode = KDCDEV_MODE_PSK;
	uri(&s, port);
	memcpy(s.ident, "dev-transport", 13);
	s.ident_len = 13;
	memcpy(s.secret, PSK, strlen(PSK));
	s.secret_len = (uint16_t)strlen(PSK);
	r = kdcdev_host_request(&s, KDCDEV_GET, "", &code, out, &out_len,
	    10000);
	if (r == KDC_OK) {
		assert_int_equal(code, KDCDEV_CODE(2, 5));
		assert_true(out_len > 10);
	}
	/* a wrong key: the handshake fails, within the deadline */
	s.secret[0] ^= 1;
	out_len = sizeof(out);
	{
		kdc_err r2 = kdcdev_host_request(&s, KDCDEV_GET, "", &code,
		    out, &out_len, 4000);
		stop(pid);
		assert_int_equal(r, KDC_OK);
		assert_int_not_equal(r2, KDC_OK);
	}
}

static void
test_rpk_get(void **state)
{
	static struct kdcdev_security s;
	char port_s[8], skey[128], ckey[128];
	uint16_t port = free_port();
	uint8_t code, out[256], dummy[512];
	size_t out_len = sizeof(out), len, dlen;
	pid_t pid;
	kdc_err r, r2;

	(void)state;
	snprintf(port_s, sizeof(port_s), "%u", port);
	snprintf(skey, sizeof(skey), "%s/server.pem", tmpdir);
	snprintf(ckey, sizeof(ckey), "%s/client.pem", tmpdir);
	gen_key(skey);
	gen_key(ckey);
	{
		char *argv[] = { SERVER, "-A", "127.0.0.1", "-p", port_s,
		    "-M", skey, NULL };
		pid = spawn(argv, port);
	}
	memset(&s, 0, sizeof(s));
	s.used = 1;
	s.mode = KDCDEV_MODE_RPK;
	s.iid = 1;
	uri(&s, port);
	len = sizeof(s.secret);
	dlen = sizeof(s.ident);
	assert_int_equal(kdcdev_host_load_key(ckey, s.secret, &len, s.ident,
	    &dlen), KDC_OK);
	s.secret_len = (uint16_t)len;
	s.ident_len = (uint16_t)dlen;
	/* pin the server's SPKI */
	len = sizeof(dummy);
	dlen = sizeof(s.server_key);
	assert_int_equal(kdcdev_host_load_key(skey, dummy, &len, s.server_key,
	    &dlen), KDC_OK);
	s.server_key_len = (uint16_t)dlen;
	r = kdcdev_host_request(&s, KDCDEV_GET, "", &code, out, &out_len,
	    10000);
	/* a wrong pin (our own key) must not complete */
	len = sizeof(dummy);
	dlen = sizeof(s.server_key);
	assert_int_equal(kdcdev_host_load_key(ckey, dummy, &len, s.server_key,
	    &dlen), KDC_OK);
	out_len = sizeof(out);
	r2 = kdcdev_host_request(&s, KDCDEV_GET, "", &code, out, &out_len,
	    4000);
	stop(pid);
	assert_int_equal(r, KDC_OK);
	assert_int_not_equal(r2, KDC_OK);
}

static int
group_setup(void **state)
{
	(void)state;
	if (access(SERVER, X_OK) != 0)
		return 0;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/kdcdev-test-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	kdcdev_host_init(getenv("KDCDEV_TEST_VERBOSE") ? 3 : 0);
	return 0;
}

static int
group_teardown(void **state)
{
	char p[128];

	(void)state;
	if (tmpdir[0] == '\0')
		return 0;
	snprintf(p, sizeof(p), "%s/server.pem", tmpdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/client.pem", tmpdir);
	unlink(p);
	rmdir(tmpdir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_psk_get),
		cmocka_unit_test(test_rpk_get),
	};

	if (access(SERVER, X_OK) != 0) {
		fprintf(stderr, "%s not installed (make deps)\n", SERVER);
		return 1;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
