/*
 * test_tdd_dnssd.c: kdc_dnssd_start()'s refusals (tdd/dnssd.h), its
 * allocation failures, and its start with no D-Bus system bus (the bus
 * address pointed at a socket that is not there): KDC_OK, a handle, one
 * info line. Publishing through a real avahi-daemon is
 * integ.tdd_dnssd's.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "tdd/dnssd.h"
#include "testutil.h"

#define WKP	"/.well-known/wot"

static char	*tmp;

static int
setup(void **state)
{
	char bus[1200];

	(void)state;
	tmp = kdc_test_tmpdir();
	/* no bus there: the tests never reach the host's */
	snprintf(bus, sizeof(bus), "unix:path=%s/no_bus_socket", tmp);
	assert_int_equal(setenv("DBUS_SYSTEM_BUS_ADDRESS", bus, 1), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	kdc_test_rmtree(tmp);
	free(tmp);
	return 0;
}

/* kdc_dnssd_start() with stderr in a file; returns what it logged. */
static char *
start_logged(const char *name, const char *address, uint16_t port,
    const char *td, const char *scheme, kdc_err *r, struct kdc_dnssd **d)
{
	char path[1200];
	uint8_t *text;
	size_t len;
	int fd, saved;

	snprintf(path, sizeof(path), "%s/stderr", tmp);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	*r = kdc_dnssd_start(name, address, port, td, scheme, d);
	fflush(stderr);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	close(fd);
	text = kdc_test_read_file(path, &len);
	assert_non_null(text);
	return (char *)text;
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void
test_refusals(void **state)
{
	struct kdc_dnssd *d = (struct kdc_dnssd *)&d;	/* set to NULL */
	char td[300], scheme[300], name[80];

	(void)state;
	assert_int_equal(kdc_dnssd_start(NULL, NULL, 8443, WKP, "https",
	    NULL), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_dnssd_start(NULL, NULL, 0, WKP, "https", &d),
	    KDC_ERR_INVALID_ARG);
	assert_null(d);
	assert_int_equal(kdc_dnssd_start(NULL, NULL, 8443, NULL, "https", &d),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_dnssd_start(NULL, NULL, 8443, "", "https", &d),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_dnssd_start(NULL, NULL, 8443, ".well-known/wot",
	    "https", &d), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_dnssd_start(NULL, NULL, 8443, WKP, NULL, &d),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_dnssd_start(NULL, NULL, 8443, WKP, "", &d),
	    KDC_ERR_INVALID_ARG);

	/* "td=" + 253 bytes: 256 > 255 */
	memset(td, 'a', sizeof(td));
	td[0] = '/';
	td[253] = '\0';
	assert_int_equal(kdc_dnssd_start(NULL, NULL, 8443, td, "https", &d),
	    KDC_ERR_INVALID_ARG);
	/* "scheme=" + 249 bytes: 256 > 255 */
	memset(scheme, 's', sizeof(scheme));
	scheme[249] = '\0';
	assert_int_equal(kdc_dnssd_start(NULL, NULL, 8443, WKP, scheme, &d),
	    KDC_ERR_INVALID_ARG);

	/* a name is one label: 63 bytes at most, UTF-8 */
	memset(name, 'n', sizeof(name));
	name[64] = '\0';
	assert_int_equal(kdc_dnssd_start(name, NULL, 8443, WKP, "https", &d),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_dnssd_start("", NULL, 8443, WKP, "https", &d),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_dnssd_start("bad \xc3\x28", NULL, 8443, WKP,
	    "https", &d), KDC_ERR_INVALID_ARG);

	/* an address: a literal some interface holds */
	assert_int_equal(kdc_dnssd_start(NULL, "localhost", 8443, WKP,
	    "https", &d), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_dnssd_start(NULL, "192.0.2.1", 8443, WKP,
	    "https", &d), KDC_ERR_INVALID_ARG);
	assert_null(d);
	kdc_dnssd_stop(NULL);
}

/* At the limits, and with no bus: KDC_OK, a handle, one line. */
static void
test_no_bus(void **state)
{
	static const char *addrs[] = { NULL, "0.0.0.0", "::", "127.0.0.1" };
	struct kdc_dnssd *d = NULL;
	char td[300], scheme[300], name[80], *log;
	kdc_err r;

	(void)state;
	memset(td, 'a', sizeof(td));
	td[0] = '/';
	td[252] = '\0';			/* "td=" + 252 = 255 */
	memset(scheme, 's', sizeof(scheme));
	scheme[248] = '\0';		/* "scheme=" + 248 = 255 */
	memset(name, 'n', sizeof(name));
	name[63] = '\0';
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		log = start_logged(i == 0 ? name : NULL, addrs[i], 8443,
		    i == 0 ? td : WKP, i == 0 ? scheme : "https", &r, &d);
		assert_int_equal(r, KDC_OK);
		assert_non_null(d);
		if (count(log, "dns-sd: no avahi-daemon; not advertised "
		    "(no D-Bus system bus)") != 1)
			fail_msg("want the line once, logged:\n%s", log);
		kdc_dnssd_stop(d);
		d = NULL;
		free(log);
	}
}

/* Every allocation of ours fails in turn: KDC_ERR_NOMEM, nothing left. */
static void
test_nomem(void **state)
{
	struct kdc_dnssd *d = NULL;
	long live = kdc_alloc_live();
	kdc_err r;

	(void)state;
	kdc_alloc_fail_after(1);
	r = kdc_dnssd_start(NULL, NULL, 8443, WKP, "https", &d);
	kdc_alloc_fail_after(0);
	assert_int_equal(r, KDC_ERR_NOMEM);
	assert_null(d);
	assert_int_equal(kdc_alloc_live(), live);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_no_bus),
		cmocka_unit_test(test_nomem),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
