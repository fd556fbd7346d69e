/* test_config.c: iotkdc.conf parsing, errors with line numbers, writing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/alloc.h"
#include "base/log.h"
#include "core/config.h"
#include "testutil.h"

/* kdc_config_diff()'s report, one "section/key" per line. */
struct diffs {
	char	text[2048];
};

static void
diff_note(const char *section, const char *key, void *arg)
{
	struct diffs *d = arg;
	size_t o = strlen(d->text);

	snprintf(d->text + o, sizeof(d->text) - o, "%s/%s\n", section,
	    key != NULL ? key : "(whole)");
}

static void
assert_same(const struct kdc_config *a, const struct kdc_config *b)
{
	struct diffs d = { "" };

	if (kdc_config_diff(a, b, diff_note, &d) != 0)
		fail_msg("configs differ:\n%s", d.text);
	/* the walk is the oracle here: spot-check it against the fields */
	assert_int_equal(a->nprofiles, b->nprofiles);
	assert_int_equal(a->coap_port, b->coap_port);
	assert_string_equal(a->lwm2m_server_uri, b->lwm2m_server_uri);
	for (size_t i = 0; i < a->nprofiles; i++) {
		assert_string_equal(a->profiles[i].name, b->profiles[i].name);
		assert_int_equal(a->profiles[i].est, b->profiles[i].est);
		assert_int_equal(a->profiles[i].lifetime,
		    b->profiles[i].lifetime);
		assert_int_equal(a->profiles[i].psk_key_len,
		    b->profiles[i].psk_key_len);
		assert_int_equal(a->profiles[i].psk_identity,
		    b->profiles[i].psk_identity);
	}
}

static void
test_defaults(void **state)
{
	struct kdc_config cfg, parsed;
	const struct kdc_profile *p;
	char err[256];

	(void)state;
	kdc_config_defaults(&cfg);
	assert_int_equal(cfg.nhosts, 0);
	assert_int_equal(cfg.log_level, KDC_LOG_INFO);
	assert_string_equal(cfg.http_address, "127.0.0.1");
	assert_int_equal(cfg.http_port, 8443);
	assert_int_equal(cfg.http_tls12, 0);
	assert_int_equal(cfg.http_client_cert, KDC_CLIENT_CERT_OPTIONAL);
	assert_int_equal(cfg.http_conns_per_address, KDC_HTTP_CONN_PER_ADDR);
	assert_int_equal(cfg.http_dnssd, 1);
	assert_string_equal(cfg.ca_key, "file");
	assert_int_equal(cfg.ca_days, 3650);
	assert_int_equal(cfg.tls_days, 825);
	assert_int_equal(cfg.nprofiles, 1);
	assert_non_null(p = kdc_config_profile(&cfg, "default"));
	assert_int_equal(p->cred_type, KDC_TYPE_PSK);
	assert_string_equal(p->audience, "lwm2m");
	/* operational PSKs a tinydtls client can hold */
	assert_int_equal(p->psk_key_len, KDC_PSK_GEN_DEFAULT);
	assert_int_equal(p->psk_identity, KDC_PSK_ID_RANDOM);
	assert_int_equal(p->lifetime, 30 * 86400);
	assert_null(kdc_config_profile(&cfg, "nope"));

	/* An empty file and a comments-only file are the defaults. */
	assert_int_equal(kdc_config_parse("", &parsed, err, sizeof(err)),
	    KDC_OK);
	assert_same(&cfg, &parsed);
	assert_int_equal(kdc_config_parse("# hi\n; there\n\n", &parsed, err,
	    sizeof(err)), KDC_OK);
	assert_same(&cfg, &parsed);
}

static void
test_parse_values(void **state)
{
	static const char text[] =
	    "\xEF\xBB\xBF# a BOM first\n"
	    "[kdc]\n"
	    "hosts = kdc.example.com, 10.0.0.1 ,fe80::1\n"
	    "log_level = debug ; inline comment\n"
	    "\n"
	    "[ http ]\n"
	    "  address = ::1\n"
	    "port: 9443\n"
	    "tls12 = YES\n"
	    "client_cert = required\n"
	    "conns_per_address = 64\n"
	    "[ca]\n"
	    "key = pkcs11:token=kdc;object=ca-key;type=private\n"
	    "days = 36500\n"
	    "tls_days = 1\n"
	    "[profile default]\n"
	    "lifetime_days = 7\n"
	    "[profile  cam.v2-x_y]\n"
	    "cred_type = x509\n"
	    "audience = coaps://rs.example:5684/x\n"
	    "[profile empty]\n";
	struct kdc_config cfg;
	const struct kdc_profile *p;
	char err[256];

	(void)state;
	assert_int_equal(kdc_config_parse(text, &cfg, err, sizeof(err)),
	    KDC_OK);
	assert_int_equal(cfg.nhosts, 3);
	assert_string_equal(cfg.hosts[0], "kdc.example.com");
	assert_string_equal(cfg.hosts[1], "10.0.0.1");
	assert_string_equal(cfg.hosts[2], "fe80::1");
	assert_int_equal(cfg.log_level, KDC_LOG_DEBUG);
	assert_string_equal(cfg.http_address, "::1");
	assert_int_equal(cfg.http_port, 9443);
	assert_int_equal(cfg.http_tls12, 1);
	assert_int_equal(cfg.http_client_cert, KDC_CLIENT_CERT_REQUIRED);
	assert_int_equal(cfg.http_conns_per_address, 64);
	assert_string_equal(cfg.ca_key,
	    "pkcs11:token=kdc;object=ca-key;type=private");
	assert_int_equal(cfg.ca_days, 36500);
	assert_int_equal(cfg.tls_days, 1);
	assert_int_equal(cfg.nprofiles, 3);
	assert_non_null(p = kdc_config_profile(&cfg, "default"));
	assert_int_equal(p->cred_type, KDC_TYPE_PSK);
	assert_int_equal(p->lifetime, 7 * 86400);
	assert_non_null(p = kdc_config_profile(&cfg, "cam.v2-x_y"));
	assert_int_equal(p->cred_type, KDC_TYPE_X509);
	assert_string_equal(p->audience, "coaps://rs.example:5684/x");
	assert_int_equal(p->lifetime, 30 * 86400);
	/* A profile section without keys still defines the profile. */
	assert_non_null(p = kdc_config_profile(&cfg, "empty"));
	assert_string_equal(p->audience, "lwm2m");
	assert_false(p->est);
	assert_false(kdc_config_profile(&cfg, "cam.v2-x_y")->est);

	/* x509-est: an x509 profile whose device enrolls over EST. */
	assert_int_equal(kdc_config_parse("[profile e]\ncred_type = x509-est\n"
	    "[profile f]\ncred_type = x509\n", &cfg, err, sizeof(err)),
	    KDC_OK);
	assert_non_null(p = kdc_config_profile(&cfg, "e"));
	assert_int_equal(p->cred_type, KDC_TYPE_X509);
	assert_true(p->est);
	assert_non_null(p = kdc_config_profile(&cfg, "f"));
	assert_int_equal(p->cred_type, KDC_TYPE_X509);
	assert_false(p->est);

	/* Every boolean spelling. */
	static const char *t[] = { "true", "yes", "1", "True" };
	static const char *f[] = { "false", "no", "0", "NO" };
	for (size_t i = 0; i < 4; i++) {
		char buf[64];

		snprintf(buf, sizeof(buf), "[http]\ntls12 = %s\n", t[i]);
		assert_int_equal(kdc_config_parse(buf, &cfg, err, sizeof(err)),
		    KDC_OK);
		assert_int_equal(cfg.http_tls12, 1);
		snprintf(buf, sizeof(buf), "[http]\ntls12 = %s\n", f[i]);
		assert_int_equal(kdc_config_parse(buf, &cfg, err, sizeof(err)),
		    KDC_OK);
		assert_int_equal(cfg.http_tls12, 0);
	}
}

/* Each case: the text, the line the error must name, a word the reason
 * must contain. */
static const struct {
	const char	*text;
	int		 line;
	const char	*why;
} bad[] = {
	{ "[kdc]\nnope = 1\n", 2, "unknown key" },
	{ "[kdc]\nlog_level = info\n\n[http]\nport = 8443\nprt = 1\n", 6,
	    "unknown key \"prt\"" },
	{ "# c\n[nope]\nport = 1\n", 2, "unknown section [nope]" },
	{ "port = 1\n", 1, "before any [section]" },
	{ "[http]\nport = 0\n", 2, "out of range" },
	{ "[ocf]\ninterface = eth0;x\n", 2, "interface name" },
	{ "[ocf]\ninterface = abcdefghijklmnop\n", 2, "longer than 15 bytes" },
	{ "[ocf]\ndiscovery_window = 99\n", 2, "out of range" },
	{ "[http]\nport = 65536\n", 2, "out of range" },
	{ "[http]\nport = -1\n", 2, "out of range" },
	{ "[http]\nport = 99999999999999999999999\n", 2, "not an integer" },
	{ "[http]\nport = 12ab\n", 2, "not an integer" },
	{ "[http]\nport =\n", 2, "not an integer" },
	{ "[http]\nport = 0x10\n", 2, "not an integer" },
	{ "[ca]\ndays = 0\n", 2, "out of range" },
	{ "[ca]\ndays = 36501\n", 2, "out of range" },
	{ "[profile default]\nlifetime_days = 3651\n", 2, "out of range" },
	{ "[profile default]\nlifetime_days = 0\n", 2, "out of range" },
	{ "[profile default]\nlifetime_seconds = 0\n", 2, "out of range" },
	{ "[profile default]\nlifetime_seconds = 315360001\n", 2,
	    "out of range" },
	{ "[profile default]\nlifetime_seconds = 6s\n", 2, "not an integer" },
	/* overridden by lifetime_seconds, lifetime_days is still checked */
	{ "[profile d]\nlifetime_seconds = 6\nlifetime_days = 0\n", 3,
	    "out of range" },
	{ "[profile d]\nlifetime_seconds = 6\nlifetime_seconds = 7\n", 3,
	    "duplicate" },
	{ "[kdc]\nlog_level = loud\n", 2, "err|warn|info|debug" },
	{ "[http]\nclient_cert = maybe\n", 2, "none|optional|required" },
	{ "[http]\ntls12 = on\n", 2, "not a boolean" },
	{ "[http]\ndnssd = true\n", 2, "on|off" },
	{ "[http]\ndnssd = yes\n", 2, "on|off" },
	{ "[http]\nconns_per_address = 0\n", 2, "out of range" },
	{ "[http]\nconns_per_address = 65\n", 2, "out of range" },
	{ "[http]\nconns_per_address = 1x\n", 2, "not an integer" },
	{ "\n\n[profile p]\ncred_type = pgp\n", 4, "psk|rpk|x509" },
	{ "[http]\naddress = localhost\n", 2, "address literal" },
	{ "[http]\naddress = 1.2.3.4.5\n", 2, "address literal" },
	{ "[ca]\nkey = hsm\n", 2, "pkcs11:" },
	{ "[ca]\nkey = pkcs11:\n", 2, "pkcs11:" },
	{ "[kdc]\nhosts = a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q\n", 2,
	    "more than 16" },
	{ "[kdc]\nhosts = a,,b\n", 2, "host name" },
	{ "[kdc]\nhosts = a,\n", 2, "empty entry" },
	{ "[kdc]\nhosts = a b\n", 2, "host name" },
	{ "[kdc]\nhosts = "
	    "a1234567890123456789012345678901234567890123456789012345678901234"
	    "\n", 2, "longer than 64" },
	{ "[profile bad/name]\n", 1, "bad profile name" },
	{ "[profile "
	    "a1234567890123456789012345678901234567890123456789012345678901234"
	    "]\n", 1, "bad profile name" },
	{ "[profile]\n", 1, "unknown section" },
	{ "[profile x]\naudience = a b\n", 2, "audience" },
	{ "[kdc\nhosts = a\n", 1, "without ']'" },
	{ "[kdc]\nhosts\n", 2, "syntax error" },
	{ "[kdc]\nlog_level = info\nlog_level = warn\n", 3, "duplicate" },
	{ "[profile a]\naudience = x\n[profile b]\n[profile a]\n"
	    "audience = y\n", 5, "duplicate" },
	/* an indented line is a key of its own, not a continuation */
	{ "[kdc]\nhosts = a\n  b\n", 3, "syntax error" },
	/* [profile NAME AUDIENCE]: the header names the audience, once */
	{ "[profile p x]\naudience = y\n", 2, "named by the section header" },
	{ "[profile p]\n[profile p lwm2m]\n", 2, "lists audience lwm2m twice" },
	{ "[profile p x]\n[profile p]\naudience = x\n", 3,
	    "lists audience x twice" },
	{ "[profile p x]\ncred_type = x509-est\n", 2,
	    "primary audience only" },
	{ "[profile p bad/aud]\n", 1, "bad audience name" },
	{ "[profile p a b]\n", 1, "bad audience name" },
	{ "[profile p x]\npsk_key_bytes = 8\n", 2, "out of range" },
};

static void
test_errors(void **state)
{
	struct kdc_config cfg, before;
	char err[256], want[32];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kdc_config_defaults(&cfg);
		cfg.http_port = 1234;	/* untouched on error */
		memcpy(&before, &cfg, sizeof(cfg));
		err[0] = '\0';
		if (kdc_config_parse(bad[i].text, &cfg, err, sizeof(err)) !=
		    KDC_ERR_CONFIG)
			fail_msg("case %zu: accepted", i);
		snprintf(want, sizeof(want), "<config>:%d: ", bad[i].line);
		if (strncmp(err, want, strlen(want)) != 0 ||
		    strstr(err, bad[i].why) == NULL)
			fail_msg("case %zu: got \"%s\", want \"%s...%s\"", i,
			    err, want, bad[i].why);
		assert_memory_equal(&cfg, &before, sizeof(cfg));
	}
}

static void
test_too_many_profiles(void **state)
{
	struct kdc_config cfg;
	char text[4096], err[256];
	size_t o = 0;

	(void)state;
	/* "default" is one already: 31 more fit, the 32nd does not. */
	for (int i = 1; i <= KDC_CONFIG_PROFILES_MAX; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o,
		    "[profile p%d]\n", i);
	assert_int_equal(kdc_config_parse(text, &cfg, err, sizeof(err)),
	    KDC_ERR_CONFIG);
	assert_non_null(strstr(err, "<config>:32: more than 32 profiles"));
	text[strlen(text) - strlen("[profile p32]\n")] = '\0';
	assert_int_equal(kdc_config_parse(text, &cfg, err, sizeof(err)),
	    KDC_OK);
	assert_int_equal(cfg.nprofiles, KDC_CONFIG_PROFILES_MAX);
}

static void
test_long_line(void **state)
{
	struct kdc_config cfg;
	char text[600], err[256];

	(void)state;
	snprintf(text, sizeof(text), "[ca]\n\nkey = pkcs11:%0400d\n", 7);
	assert_int_equal(kdc_config_parse(text, &cfg, err, sizeof(err)),
	    KDC_ERR_CONFIG);
	assert_non_null(strstr(err, "<config>:3: line longer than"));
}

/* lifetime_seconds: a test-only override of lifetime_days, in any order;
 * empty = unset; written only when days cannot say the lifetime. */
static void
test_lifetime_seconds(void **state)
{
	struct kdc_config cfg, back;
	const struct kdc_profile *p;
	char *dir, path[512], err[256];
	uint8_t *text;
	size_t len;

	(void)state;
	assert_int_equal(kdc_config_parse(
	    "[profile a]\nlifetime_seconds = 6\nlifetime_days = 7\n"
	    "[profile b]\nlifetime_days = 7\nlifetime_seconds = 6\n"
	    "[profile c]\nlifetime_days = 7\nlifetime_seconds =\n"
	    "[profile d]\ncred_type = x509\nlifetime_seconds = 315360000\n",
	    &cfg, err, sizeof(err)), KDC_OK);
	assert_non_null(p = kdc_config_profile(&cfg, "a"));
	assert_int_equal(p->lifetime, 6);
	assert_non_null(p = kdc_config_profile(&cfg, "b"));
	assert_int_equal(p->lifetime, 6);
	assert_non_null(p = kdc_config_profile(&cfg, "c"));
	assert_int_equal(p->lifetime, 7 * 86400);
	assert_non_null(p = kdc_config_profile(&cfg, "d"));
	assert_int_equal(p->lifetime, 315360000);
	assert_non_null(p = kdc_config_profile(&cfg, "default"));
	assert_int_equal(p->lifetime, 30 * 86400);

	dir = kdc_test_tmpdir();
	snprintf(path, sizeof(path), "%s/iotkdc.conf", dir);
	cfg.profiles[0].lifetime = 86400 + 1;	/* no whole number of days */
	assert_int_equal(kdc_config_write(path, &cfg), KDC_OK);
	assert_int_equal(kdc_config_load(path, &back, err, sizeof(err)),
	    KDC_OK);
	assert_same(&cfg, &back);
	assert_non_null(text = kdc_test_read_file(path, &len));
	assert_non_null(strstr((char *)text, "\nlifetime_seconds = 86401\n"));
	assert_non_null(strstr((char *)text, "\nlifetime_seconds = 6\n"));
	assert_non_null(strstr((char *)text, "\nlifetime_seconds =\n"));
	assert_non_null(strstr((char *)text, "# TESTS and short-lived"));
	free(text);
	kdc_test_rmtree(dir);
	free(dir);
}

/* A profile with extra audiences: one entry each, the primary first
 * (even when an extra section comes first), found by name and audience,
 * written back and read again the same. */
static void
test_profile_audiences(void **state)
{
	const struct kdc_profile *e[4];
	struct kdc_config cfg, back;
	char *dir, path[512], err[256];
	uint8_t *text;
	size_t len;

	(void)state;
	assert_int_equal(kdc_config_parse(
	    "[profile p ext1]\npsk_key_bytes = 32\nlifetime_seconds = 600\n"
	    "[profile q]\ncred_type = rpk\n"
	    "[profile p]\ncred_type = x509-est\n"
	    "[profile p broker]\ncred_type = rpk\npsk_identity = named\n",
	    &cfg, err, sizeof(err)), KDC_OK);
	assert_int_equal(cfg.nprofiles, 5);	/* default, p, p/ext1, q,
						 * p/broker */
	assert_int_equal(kdc_config_profile_audiences(&cfg, "p", e, 4), 3);
	assert_ptr_equal(e[0], kdc_config_profile(&cfg, "p"));
	assert_string_equal(e[0]->audience, "lwm2m");
	assert_int_equal(e[0]->cred_type, KDC_TYPE_X509);
	assert_true(e[0]->est);
	assert_string_equal(e[1]->audience, "ext1");
	assert_int_equal(e[1]->cred_type, KDC_TYPE_PSK);
	assert_int_equal(e[1]->psk_key_len, 32);
	assert_int_equal(e[1]->lifetime, 600);
	assert_string_equal(e[1]->name, "p");
	assert_string_equal(e[2]->audience, "broker");
	assert_int_equal(e[2]->psk_identity, KDC_PSK_ID_NAMED);
	/* max bounds what is written, not the count */
	assert_int_equal(kdc_config_profile_audiences(&cfg, "p", e, 1), 3);
	assert_int_equal(kdc_config_profile_audiences(&cfg, "q", e, 4), 1);
	assert_int_equal(kdc_config_profile_audiences(&cfg, "none", e, 4), 0);
	assert_ptr_equal(kdc_config_profile_audience(&cfg, "p", NULL),
	    kdc_config_profile(&cfg, "p"));
	assert_ptr_equal(kdc_config_profile_audience(&cfg, "p", "lwm2m"),
	    kdc_config_profile(&cfg, "p"));
	assert_string_equal(kdc_config_profile_audience(&cfg, "p",
	    "broker")->audience, "broker");
	assert_null(kdc_config_profile_audience(&cfg, "p", "nope"));
	assert_null(kdc_config_profile_audience(&cfg, "q", "ext1"));
	assert_null(kdc_config_profile_audience(&cfg, "none", NULL));
	/* re-entering a section continues its entry */
	assert_int_equal(kdc_config_parse("[profile p x]\npsk_key_bytes = 20\n"
	    "[profile p]\n[profile p x]\nlifetime_days = 2\n", &cfg, err,
	    sizeof(err)), KDC_OK);
	assert_int_equal(cfg.nprofiles, 3);
	e[0] = kdc_config_profile_audience(&cfg, "p", "x");
	assert_int_equal(e[0]->psk_key_len, 20);
	assert_int_equal(e[0]->lifetime, 2 * 86400);

	dir = kdc_test_tmpdir();
	snprintf(path, sizeof(path), "%s/iotkdc.conf", dir);
	assert_int_equal(kdc_config_parse(
	    "[profile p ext1]\npsk_key_bytes = 32\nlifetime_seconds = 600\n"
	    "[profile p]\naudience = main\n[profile p broker]\n", &cfg, err,
	    sizeof(err)), KDC_OK);
	assert_int_equal(kdc_config_write(path, &cfg), KDC_OK);
	assert_int_equal(kdc_config_load(path, &back, err, sizeof(err)),
	    KDC_OK);
	assert_same(&cfg, &back);
	assert_non_null(text = kdc_test_read_file(path, &len));
	assert_non_null(strstr((char *)text, "\n[profile p ext1]\n"));
	assert_non_null(strstr((char *)text, "\n[profile p broker]\n"));
	free(text);
	assert_int_equal(unlink(path), 0);
	/* kdc_config_diff() matches extra entries by name and audience */
	{
		struct kdc_config c2;
		struct diffs d = { "" };

		assert_int_equal(kdc_config_parse("[profile p broker]\n"
		    "[profile p ext1]\npsk_key_bytes = 32\nlifetime_seconds = "
		    "600\n[profile p]\naudience = main\n", &c2, err,
		    sizeof(err)), KDC_OK);
		assert_int_equal(kdc_config_diff(&cfg, &c2, NULL, NULL), 0);
		c2.profiles[3].psk_key_len = 20;	/* p/ext1 */
		assert_int_equal(kdc_config_diff(&cfg, &c2, diff_note, &d), 1);
		assert_string_equal(d.text, "profile p ext1/psk_key_bytes\n");
		memset(&d, 0, sizeof(d));
		snprintf(c2.profiles[3].audience,
		    sizeof(c2.profiles[3].audience), "ext2");
		assert_int_equal(kdc_config_diff(&cfg, &c2, diff_note, &d), 2);
		assert_string_equal(d.text, "profile p ext1/(whole)\n"
		    "profile p ext2/(whole)\n");
	}
	/* an entry that would name its audience twice is refused */
	snprintf(cfg.profiles[3].audience, sizeof(cfg.profiles[3].audience),
	    "ext1");
	assert_int_equal(kdc_config_write(path, &cfg), KDC_ERR_INVALID_ARG);
	kdc_test_rmtree(dir);
	free(dir);
}

static void
test_round_trip(void **state)
{
	struct kdc_config cfg, back;
	char *dir, path[512], err[256];
	struct stat st;
	uint8_t *text;
	size_t len;

	(void)state;
	dir = kdc_test_tmpdir();
	snprintf(path, sizeof(path), "%s/iotkdc.conf", dir);

	/* Defaults. */
	kdc_config_defaults(&cfg);
	assert_int_equal(kdc_config_write(path, &cfg), KDC_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(kdc_config_load(path, &back, err, sizeof(err)),
	    KDC_OK);
	assert_same(&cfg, &back);
	assert_non_null(text = kdc_test_read_file(path, &len));
	assert_non_null(strstr((char *)text, "\n# "));	/* commented */
	free(text);
	/* O_EXCL: never overwrite. */
	assert_int_equal(kdc_config_write(path, &cfg), KDC_ERR_EXISTS);
	assert_int_equal(unlink(path), 0);

	/* Everything changed from the defaults. */
	cfg.nhosts = KDC_CONFIG_HOSTS_MAX;
	for (size_t i = 0; i < cfg.nhosts; i++)
		snprintf(cfg.hosts[i], sizeof(cfg.hosts[i]), "h%zu.example", i);
	cfg.log_level = KDC_LOG_ERR;
	snprintf(cfg.http_address, sizeof(cfg.http_address), "::");
	cfg.http_port = 1;
	cfg.http_tls12 = 1;
	cfg.http_client_cert = KDC_CLIENT_CERT_REQUIRED;
	cfg.http_conns_per_address = 1;
	snprintf(cfg.ca_key, sizeof(cfg.ca_key), "pkcs11:token=a;object=b");
	cfg.ca_days = 1;
	cfg.tls_days = 36500;
	cfg.profiles[0].cred_type = KDC_TYPE_RPK;
	cfg.profiles[0].lifetime = 3650 * 86400LL;
	cfg.nprofiles = KDC_CONFIG_PROFILES_MAX;
	for (size_t i = 1; i < cfg.nprofiles; i++) {
		struct kdc_profile *p = &cfg.profiles[i];

		memset(p, 0, sizeof(*p));
		snprintf(p->name, sizeof(p->name), "prof-%zu", i);
		p->cred_type = (enum kdc_cred_type)(i % 3);
		p->est = i % 3 == 2 && i % 2 == 1;	/* x509-est */
		snprintf(p->audience, sizeof(p->audience), "aud/%zu", i);
		p->lifetime = (int64_t)i * 86400;
		p->psk_key_len = KDC_PSK_MIN + (int)(i % 17);
		p->psk_identity = i % 2 == 0 ? KDC_PSK_ID_NAMED :
		    KDC_PSK_ID_RANDOM;
	}
	assert_int_equal(kdc_config_write(path, &cfg), KDC_OK);
	assert_int_equal(kdc_config_load(path, &back, err, sizeof(err)),
	    KDC_OK);
	assert_same(&cfg, &back);
	assert_int_equal(unlink(path), 0);

	/* A struct that would not load again is refused, no file left. */
	cfg.http_port = 0;
	assert_int_equal(kdc_config_write(path, &cfg), KDC_ERR_INVALID_ARG);
	cfg.http_port = 8443;
	cfg.http_conns_per_address = KDC_HTTP_CONN_PER_ADDR_MAX + 1;
	assert_int_equal(kdc_config_write(path, &cfg), KDC_ERR_INVALID_ARG);
	cfg.http_conns_per_address = KDC_HTTP_CONN_PER_ADDR_MAX;
	cfg.profiles[1].lifetime = 0;
	assert_int_equal(kdc_config_write(path, &cfg), KDC_ERR_INVALID_ARG);
	cfg.profiles[1].lifetime = 315360000LL + 1;
	assert_int_equal(kdc_config_write(path, &cfg), KDC_ERR_INVALID_ARG);
	cfg.profiles[1].lifetime = 86400;
	cfg.nhosts = KDC_CONFIG_HOSTS_MAX + 1;
	assert_int_equal(kdc_config_write(path, &cfg), KDC_ERR_INVALID_ARG);
	assert_int_not_equal(stat(path, &st), 0);

	/* Load errors name the file. */
	assert_int_equal(kdc_config_load(path, &back, err, sizeof(err)),
	    KDC_ERR_IO);
	assert_non_null(strstr(err, path));
	assert_int_equal(kdc_test_write_file(path, "[http]\n\nport = 0\n", 17),
	    0);
	assert_int_equal(kdc_config_load(path, &back, err, sizeof(err)),
	    KDC_ERR_CONFIG);
	snprintf(path + strlen(path), sizeof(path) - strlen(path), ":3: ");
	assert_non_null(strstr(err, path));
	path[strlen(path) - 4] = '\0';

	/* 0 bytes (a write cut short), and a file group or other may write
	 * (read again on SIGHUP, after serve's start checks): refused */
	assert_int_equal(kdc_test_write_file(path, "", 0), 0);
	assert_int_equal(kdc_config_load(path, &back, err, sizeof(err)),
	    KDC_ERR_CONFIG);
	assert_non_null(strstr(err, ": empty (0 bytes)"));
	assert_int_equal(kdc_test_write_file(path, "[http]\nport = 1\n", 16),
	    0);
	assert_int_equal(chmod(path, 0620), 0);
	assert_int_equal(kdc_config_load(path, &back, err, sizeof(err)),
	    KDC_ERR_CONFIG);
	assert_non_null(strstr(err, ": mode 0620: group or other may write"));
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(kdc_config_load(path, &back, err, sizeof(err)),
	    KDC_OK);
	assert_int_equal(back.http_port, 1);

	kdc_test_rmtree(dir);
	free(dir);
}

/* Keys a rendered config holds: lines "name =" (one profile's). */
static size_t
keys_rendered(void)
{
	struct kdc_config cfg;
	char *dir, path[512];
	uint8_t *text;
	size_t len, n = 0;

	dir = kdc_test_tmpdir();
	snprintf(path, sizeof(path), "%s/iotkdc.conf", dir);
	kdc_config_defaults(&cfg);
	assert_int_equal(kdc_config_write(path, &cfg), KDC_OK);
	assert_non_null(text = kdc_test_read_file(path, &len));
	for (char *line = strtok((char *)text, "\n"); line != NULL;
	    line = strtok(NULL, "\n")) {
		size_t w = strspn(line,
		    "abcdefghijklmnopqrstuvwxyz0123456789_");

		if (w > 0 && strncmp(line + w, " =", 2) == 0)
			n++;
	}
	free(text);
	kdc_test_rmtree(dir);
	free(dir);
	return n;
}

/*
 * kdc_config_diff() notices a change of every key, and names it: one
 * line per key of the table (the count is checked against the keys a
 * written config holds, so a key added later without a line here fails
 * this test), each changed alone from the defaults.
 */
static void
test_diff_every_key(void **state)
{
	static const struct {
		const char	*text;		/* over the defaults */
		const char	*want;		/* section/key reported */
	} one[] = {
		{ "[kdc]\nhosts = a.example\n", "kdc/hosts" },
		{ "[kdc]\nlog_level = debug\n", "kdc/log_level" },
		{ "[kdc]\nsweep_seconds = 7\n", "kdc/sweep_seconds" },
		{ "[http]\naddress = ::1\n", "http/address" },
		{ "[http]\nport = 9443\n", "http/port" },
		{ "[http]\ntls12 = true\n", "http/tls12" },
		{ "[http]\nclient_cert = none\n", "http/client_cert" },
		{ "[http]\nconns_per_address = 3\n",
		    "http/conns_per_address" },
		{ "[http]\ndnssd = off\n", "http/dnssd" },
		{ "[ca]\nkey = pkcs11:token=t\n", "ca/key" },
		{ "[ca]\ndays = 10\n", "ca/days" },
		{ "[ca]\ntls_days = 10\n", "ca/tls_days" },
		{ "[coap]\naddress = ::1\n", "coap/address" },
		{ "[coap]\nport = 5000\n", "coap/port" },
		{ "[coap]\nlwm2m_port = 5001\n", "coap/lwm2m_port" },
		{ "[coap]\nnosec_port = 5002\n", "coap/nosec_port" },
		{ "[coap]\nsign_threads = 0\n", "coap/sign_threads" },
		{ "[coap]\nthreads = 3\n", "coap/threads" },
		{ "[coap]\nmax_sessions = 10\n", "coap/max_sessions" },
		{ "[coap]\nmax_handshakes = 10\n", "coap/max_handshakes" },
		{ "[coap]\nhandshake_rate = 10\n", "coap/handshake_rate" },
		{ "[coap]\nsessions_per_credential = 2\n",
		    "coap/sessions_per_credential" },
		{ "[coap]\nidle_timeout = 60\n", "coap/idle_timeout" },
		{ "[coap]\nstale_seconds = 5\n", "coap/stale_seconds" },
		{ "[coap]\nbody_timeout = 5\n", "coap/body_timeout" },
		{ "[lwm2m]\nserver_uri = coaps://h:1\n", "lwm2m/server_uri" },
		{ "[lwm2m]\nlifetime = 31\n", "lwm2m/lifetime" },
		{ "[lwm2m]\nbootstrap_timeout = 2\n",
		    "lwm2m/bootstrap_timeout" },
		{ "[ace]\ntoken_lifetime = 61\n", "ace/token_lifetime" },
		{ "[ace]\nrefresh_lifetime = 301\n", "ace/refresh_lifetime" },
		{ "[ace]\ntoken_retention = 7\n", "ace/token_retention" },
		{ "[ace]\nkey = pkcs11:token=x\n", "ace/key" },
		{ "[ocf]\nprofile = other\n", "ocf/profile" },
		{ "[ocf]\ncert_days = 30\n", "ocf/cert_days" },
		{ "[ocf]\ninterface = veth0\n", "ocf/interface" },
		{ "[ocf]\ndiscovery_window = 500\n", "ocf/discovery_window" },
		{ "[ocf]\npin_wait = 5\n", "ocf/pin_wait" },
		{ "[tdd]\nenabled = false\n", "tdd/enabled" },
		{ "[tdd]\naudience = dir\n", "tdd/audience" },
		{ "[tdd]\nbasic = true\n", "tdd/basic" },
		{ "[tdd]\nmax_ttl = 600\n", "tdd/max_ttl" },
		{ "[tdd]\nretention = 600\n", "tdd/retention" },
		{ "[tdd]\nretention_max = 6000\n", "tdd/retention_max" },
		{ "[tdd]\nstrict_lint = true\n", "tdd/strict_lint" },
		{ "[tdd]\nrate = 5\n", "tdd/rate" },
		{ "[tdd]\nevents_keep = 50\n", "tdd/events_keep" },
		{ "[tdd]\nresult_max = 8192\n", "tdd/result_max" },
		{ "[profile default]\ncred_type = rpk\n",
		    "profile default/cred_type" },
		{ "[profile default]\naudience = other\n",
		    "profile default/audience" },
		{ "[profile default]\npsk_key_bytes = 32\n",
		    "profile default/psk_key_bytes" },
		{ "[profile default]\npsk_identity = named\n",
		    "profile default/psk_identity" },
		{ "[profile default]\nlifetime_days = 2\n",
		    "profile default/lifetime_days" },
		/* shares lifetime_days' value, reported under that name */
		{ "[profile default]\nlifetime_seconds = 60\n",
		    "profile default/lifetime_days" },
	};
	struct kdc_config def, cfg;
	struct diffs d;
	char err[256];

	(void)state;
	assert_int_equal(sizeof(one) / sizeof(one[0]), keys_rendered());
	kdc_config_defaults(&def);
	assert_int_equal(kdc_config_diff(&def, &def, NULL, NULL), 0);
	for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
		char want[128];

		assert_int_equal(kdc_config_parse(one[i].text, &cfg, err,
		    sizeof(err)), KDC_OK);
		memset(&d, 0, sizeof(d));
		if (kdc_config_diff(&def, &cfg, diff_note, &d) != 1)
			fail_msg("%s: want 1 difference, got:\n%s",
			    one[i].text, d.text);
		snprintf(want, sizeof(want), "%s\n", one[i].want);
		assert_string_equal(d.text, want);
		/* and the other way round */
		assert_int_equal(kdc_config_diff(&cfg, &def, NULL, NULL), 1);
	}

	/* x509 and x509-est differ (est is not a key of its own) */
	assert_int_equal(kdc_config_parse("[profile default]\ncred_type = "
	    "x509\n", &def, err, sizeof(err)), KDC_OK);
	assert_int_equal(kdc_config_parse("[profile default]\ncred_type = "
	    "x509-est\n", &cfg, err, sizeof(err)), KDC_OK);
	assert_int_equal(kdc_config_diff(&def, &cfg, NULL, NULL), 1);

	/* profiles match by name: another order is the same config; one
	 * added or gone is named once */
	assert_int_equal(kdc_config_parse("[profile a]\n[profile b]\n"
	    "lifetime_days = 3\n", &def, err, sizeof(err)), KDC_OK);
	assert_int_equal(kdc_config_parse("[profile b]\nlifetime_days = 3\n"
	    "[profile a]\n", &cfg, err, sizeof(err)), KDC_OK);
	assert_int_equal(kdc_config_diff(&def, &cfg, NULL, NULL), 0);
	assert_int_equal(kdc_config_parse("[profile b]\nlifetime_days = 3\n"
	    "[profile c]\n", &cfg, err, sizeof(err)), KDC_OK);
	memset(&d, 0, sizeof(d));
	assert_int_equal(kdc_config_diff(&def, &cfg, diff_note, &d), 2);
	assert_string_equal(d.text, "profile a/(whole)\nprofile c/(whole)\n");
}

/* A struct whose [coap]/[lwm2m] strings would not read back the same is
 * not written (the round-trip check compares every key). */
static void
test_write_checks_every_key(void **state)
{
	struct kdc_config cfg;
	char *dir, path[512];
	struct stat st;

	(void)state;
	dir = kdc_test_tmpdir();
	snprintf(path, sizeof(path), "%s/iotkdc.conf", dir);
	kdc_config_defaults(&cfg);
	/* leading blanks: the reader strips them, so it reads back
	 * "coaps://h:1" */
	snprintf(cfg.lwm2m_server_uri, sizeof(cfg.lwm2m_server_uri),
	    "  coaps://h:1");
	assert_int_equal(kdc_config_write(path, &cfg), KDC_ERR_INVALID_ARG);
	assert_int_not_equal(stat(path, &st), 0);
	/* unterminated: refused before rendering */
	kdc_config_defaults(&cfg);
	memset(cfg.coap_address, 'a', sizeof(cfg.coap_address));
	assert_int_equal(kdc_config_write(path, &cfg), KDC_ERR_INVALID_ARG);
	kdc_config_defaults(&cfg);
	memset(cfg.lwm2m_server_uri, 'a', sizeof(cfg.lwm2m_server_uri));
	assert_int_equal(kdc_config_write(path, &cfg), KDC_ERR_INVALID_ARG);
	assert_int_not_equal(stat(path, &st), 0);
	/* a written config with every [coap]/[lwm2m] key changed loads back
	 * the same */
	kdc_config_defaults(&cfg);
	snprintf(cfg.coap_address, sizeof(cfg.coap_address), "::1");
	cfg.coap_port = 1;
	cfg.lwm2m_port = 2;
	cfg.nosec_port = 3;
	cfg.sign_threads = 0;
	snprintf(cfg.lwm2m_server_uri, sizeof(cfg.lwm2m_server_uri),
	    "coaps://h:1");
	cfg.lwm2m_lifetime = 31;
	cfg.lwm2m_bootstrap_timeout = 2;
	cfg.sweep_seconds = 9;
	assert_int_equal(kdc_config_write(path, &cfg), KDC_OK);
	{
		struct kdc_config back;
		char err[256];

		assert_int_equal(kdc_config_load(path, &back, err,
		    sizeof(err)), KDC_OK);
		assert_same(&cfg, &back);
	}
	kdc_test_rmtree(dir);
	free(dir);
}

/* Every allocation failure ends in NOMEM or OK, never a crash or leak. */
static void
test_alloc_failures(void **state)
{
	struct kdc_config cfg;
	char err[256];
	kdc_err r;

	(void)state;
	for (long n = 1; n < 100; n++) {
		kdc_alloc_fail_after(n);
		r = kdc_config_parse("[http]\nport = 1\n", &cfg, err,
		    sizeof(err));
		kdc_alloc_fail_after(0);
		if (r == KDC_OK)
			break;
		assert_int_equal(r, KDC_ERR_NOMEM);
	}
	assert_int_equal(cfg.http_port, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_parse_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_too_many_profiles),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_profile_audiences),
		cmocka_unit_test(test_lifetime_seconds),
		cmocka_unit_test(test_diff_every_key),
		cmocka_unit_test(test_write_checks_every_key),
		cmocka_unit_test(test_alloc_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
