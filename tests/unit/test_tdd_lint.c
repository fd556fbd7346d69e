/*
 * test_tdd_lint.c: the TD security lint. Each rule fires on a minimal TD
 * and not on its secure variant; form-level security, combo (allOf and
 * oneOf), relative hrefs against base, the field names, the max/more
 * contract, and a self-referencing combo.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "tdd/lint.h"

static struct kdc_lint found[KDC_LINT_MAX];
static size_t nfound;

/* Lint a TD built from its security definitions, TD-level security, and
 * one property form (href, optional form security). */
static size_t
lint_text(const char *text)
{
	json_error_t e;
	json_t *td = json_loads(text, 0, &e);
	bool more = true;

	if (td == NULL)
		fail_msg("bad JSON in test: %s (%s)", text, e.text);
	nfound = kdc_td_lint(td, found, KDC_LINT_MAX, &more);
	assert_false(more);
	json_decref(td);
	return nfound;
}

static size_t
lint_td(const char *defs, const char *sec, const char *href)
{
	char text[2048];

	snprintf(text, sizeof(text), "{\"securityDefinitions\": {%s}, \"security\": %s,"
	    " \"properties\": {\"status\": {\"forms\": [{\"href\": \"%s\"}]}}}",
	    defs, sec, href);
	return lint_text(text);
}

static bool
fired(const char *rule)
{
	size_t i;

	for (i = 0; i < nfound; i++)
		if (strcmp(found[i].rule, rule) == 0)
			return true;
	return false;
}

#define BASIC	"\"b\": {\"scheme\": \"basic\"}"
#define PSK	"\"p\": {\"scheme\": \"psk\"}"
#define NOSEC	"\"n\": {\"scheme\": \"nosec\"}"

static void
test_cleartext(void **state)
{
	static const char *const creds[] = { "basic", "digest", "bearer", "apikey",
	    "oauth2" };
	static const char *const plain[] = { "http", "ws", "mqtt", "coap", "coap+tcp",
	    "coap+ws", "HTTP" };
	static const char *const tls[] = { "https", "wss", "coaps", "coaps+tcp" };
	char defs[128], href[128];
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(creds) / sizeof(creds[0]); i++) {
		snprintf(defs, sizeof(defs), "\"s\": {\"scheme\": \"%s\"}", creds[i]);
		for (k = 0; k < sizeof(plain) / sizeof(plain[0]); k++) {
			snprintf(href, sizeof(href), "%s://example.com/s", plain[k]);
			lint_td(defs, "\"s\"", href);
			if (!fired("cleartext-credentials"))
				fail_msg("%s over %s not found", creds[i], plain[k]);
			assert_int_equal(nfound, 1);
			assert_string_equal(found[0].field, "properties.status.forms.0");
			assert_non_null(strstr(found[0].description, creds[i]));
		}
		for (k = 0; k < sizeof(tls) / sizeof(tls[0]); k++) {
			snprintf(href, sizeof(href), "%s://example.com/s", tls[k]);
			assert_int_equal(lint_td(defs, "\"s\"", href), 0);
		}
	}
	/* psk is not a cleartext credential (its own rule below) */
	lint_td(PSK, "\"p\"", "http://example.com/");
	assert_false(fired("cleartext-credentials"));
}

static void
test_psk(void **state)
{
	(void)state;
	lint_td(PSK, "\"p\"", "coap://example.com/s");
	assert_true(fired("psk-without-dtls"));
	assert_int_equal(nfound, 1);
	lint_td(PSK, "\"p\"", "coap+tcp://example.com/s");
	assert_true(fired("psk-without-dtls"));
	assert_int_equal(lint_td(PSK, "\"p\"", "coaps://example.com/s"), 0);
	assert_int_equal(lint_td(PSK, "\"p\"", "coaps+tcp://example.com/s"), 0);
}

static void
test_nosec(void **state)
{
	static const char *const remote[] = { "http://example.com/", "https://8.8.8.8/",
	    "coap://172.32.0.1/", "http://[2001:db8::1]:8080/", "http://user@example.com/",
	    "http://localhost.example.com/", "http://11.0.0.1/" };
	static const char *const local[] = { "http://127.0.0.1:8080/", "http://[::1]/",
	    "http://10.1.2.3/", "http://172.16.0.1/", "http://172.31.255.255/",
	    "http://192.168.1.5/", "http://169.254.1.1/", "http://[fe80::1%25eth0]/",
	    "http://[fd00::5]/", "http://lamp.local/", "http://LAMP.LOCAL./",
	    "http://localhost/", "coap://a.localhost:5683/" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
		lint_td(NOSEC, "\"n\"", remote[i]);
		if (!fired("nosec-remote") || nfound != 1)
			fail_msg("nosec on %s not found", remote[i]);
	}
	for (i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		if (lint_td(NOSEC, "\"n\"", local[i]) != 0)
			fail_msg("nosec on %s found: %s", local[i], found[0].rule);
	/* nosec together with a credential is not "only nosec" */
	assert_int_equal(lint_td(NOSEC "," BASIC, "[\"n\", \"b\"]", "https://example.com/"), 0);
}

static void
test_mqtt(void **state)
{
	(void)state;
	lint_td(BASIC, "\"b\"", "mqtts://broker.example.com/t");
	assert_true(fired("mqtt-needs-basic-and-psk"));
	assert_int_equal(nfound, 1);
	assert_non_null(strstr(found[0].description, "recommend"));
	lint_td(PSK, "\"p\"", "mqtts://broker.example.com/t");
	assert_true(fired("mqtt-needs-basic-and-psk"));
	assert_int_equal(lint_td(BASIC "," PSK, "[\"b\", \"p\"]",
	    "mqtts://broker.example.com/t"), 0);
	/* combo: allOf is both, oneOf leaves a weaker alternative */
	assert_int_equal(lint_td(BASIC "," PSK ", \"c\": {\"scheme\": \"combo\","
	    " \"allOf\": [\"b\", \"p\"]}", "\"c\"", "mqtts://broker.example.com/t"), 0);
	lint_td(BASIC "," PSK ", \"c\": {\"scheme\": \"combo\", \"oneOf\": [\"b\", \"p\"]}",
	    "\"c\"", "mqtts://broker.example.com/t");
	assert_true(fired("mqtt-needs-basic-and-psk"));
	/* plain mqtt with basic is cleartext, not this rule */
	lint_td(BASIC "," PSK, "[\"b\", \"p\"]", "mqtt://broker.example.com/t");
	assert_true(fired("cleartext-credentials"));
	assert_false(fired("mqtt-needs-basic-and-psk"));
}

static void
test_oauth2_apikey(void **state)
{
	(void)state;
	lint_td("\"o\": {\"scheme\": \"oauth2\", \"flow\": \"implicit\"}", "\"o\"",
	    "https://example.com/");
	assert_true(fired("deprecated-oauth2-flow"));
	assert_int_equal(nfound, 1);
	lint_td("\"o\": {\"scheme\": \"oauth2\", \"flow\": \"password\"}", "\"o\"",
	    "https://example.com/");
	assert_true(fired("deprecated-oauth2-flow"));
	assert_int_equal(lint_td("\"o\": {\"scheme\": \"oauth2\", \"flow\": \"code\"}",
	    "\"o\"", "https://example.com/"), 0);
	assert_int_equal(lint_td("\"o\": {\"scheme\": \"oauth2\", \"flow\": \"client\"}",
	    "\"o\"", "https://example.com/"), 0);
	lint_td("\"k\": {\"scheme\": \"apikey\", \"in\": \"query\", \"name\": \"key\"}",
	    "\"k\"", "https://example.com/");
	assert_true(fired("apikey-in-query"));
	assert_int_equal(nfound, 1);
	assert_int_equal(lint_td("\"k\": {\"scheme\": \"apikey\", \"in\": \"header\"}",
	    "\"k\"", "https://example.com/"), 0);
}

static void
test_base_and_fields(void **state)
{
	(void)state;
	/* relative hrefs take base's scheme and host */
	lint_text("{\"base\": \"http://example.com/\", \"securityDefinitions\": {" BASIC "},"
	    " \"security\": \"b\", \"forms\": [{\"href\": \"/all\"}],"
	    " \"actions\": {\"on\": {\"forms\": [{\"href\": \"on\"}]}},"
	    " \"events\": {\"ev\": {\"forms\": [{\"href\": \"https://example.com/e\"},"
	    "   {\"href\": \"ev\"}]}}}");
	assert_int_equal(nfound, 3);
	assert_string_equal(found[0].field, "forms.0");
	assert_string_equal(found[1].field, "actions.on.forms.0");
	assert_string_equal(found[2].field, "events.ev.forms.1");
	assert_int_equal(lint_text("{\"base\": \"https://example.com/\", "
	    "\"securityDefinitions\": {" BASIC "}, \"security\": \"b\","
	    " \"forms\": [{\"href\": \"/all\"}]}"), 0);
	/* host from base for nosec; a network-path reference has its own */
	lint_text("{\"base\": \"http://example.com/\", \"securityDefinitions\": {" NOSEC "},"
	    " \"security\": \"n\", \"forms\": [{\"href\": \"/all\"}]}");
	assert_true(fired("nosec-remote"));
	assert_int_equal(lint_text("{\"base\": \"http://example.com/\", "
	    "\"securityDefinitions\": {" NOSEC "}, \"security\": \"n\","
	    " \"forms\": [{\"href\": \"//192.168.0.2/all\"}]}"), 0);
	/* form-level security wins over the TD's */
	lint_text("{\"securityDefinitions\": {" NOSEC "," BASIC "}, \"security\": \"n\","
	    " \"forms\": [{\"href\": \"http://10.0.0.1/\", \"security\": \"b\"}]}");
	assert_true(fired("cleartext-credentials"));
	assert_int_equal(nfound, 1);
	assert_int_equal(lint_text("{\"securityDefinitions\": {" NOSEC "," BASIC "},"
	    " \"security\": \"b\", \"forms\": [{\"href\": \"http://10.0.0.1/\","
	    " \"security\": [\"n\"]}]}"), 0);
	/* control bytes of a name are not echoed */
	lint_text("{\"securityDefinitions\": {" BASIC "}, \"security\": \"b\","
	    " \"properties\": {\"a\\u001b[31mb\": {\"forms\": [{\"href\": \"http://x/\"}]}}}");
	assert_string_equal(found[0].field, "properties.a?[31mb.forms.0");
}

static void
test_combo(void **state)
{
	(void)state;
	/* oneOf: each alternative is checked */
	lint_td(NOSEC "," BASIC ", \"c\": {\"scheme\": \"combo\", \"oneOf\": [\"n\", \"b\"]}",
	    "\"c\"", "http://example.com/");
	assert_true(fired("nosec-remote"));
	assert_true(fired("cleartext-credentials"));
	assert_int_equal(nfound, 2);
	/* nested combos */
	lint_td(BASIC "," PSK ", \"c\": {\"scheme\": \"combo\", \"oneOf\": [\"d\"]},"
	    " \"d\": {\"scheme\": \"combo\", \"allOf\": [\"p\", \"b\"]}", "\"c\"",
	    "mqtts://example.com/");
	assert_int_equal(nfound, 0);
	/* a combo naming itself ends (depth bound) */
	lint_td("\"c\": {\"scheme\": \"combo\", \"oneOf\": [\"c\"]}", "\"c\"",
	    "http://example.com/");
	assert_int_equal(nfound, 0);
}

/* A wide self-naming combo would take 10^8 lookups: the work bound stops
 * the lint and says so through *more. */
static void
test_work_bound(void **state)
{
	json_t *td = json_loads("{\"securityDefinitions\": {\"c\": {\"scheme\": \"combo\","
	    " \"oneOf\": [\"c\", \"c\", \"c\", \"c\", \"c\", \"c\", \"c\", \"c\", \"c\", \"c\"]},"
	    " \"b\": {\"scheme\": \"basic\"}}, \"security\": \"c\","
	    " \"forms\": [{\"href\": \"http://e.com/\"}, {\"href\": \"http://e.com/\","
	    " \"security\": \"b\"}]}", 0, NULL);
	struct kdc_lint out[4];
	bool more = false;

	(void)state;
	assert_non_null(td);
	/* the first form exhausts the work: the second is not looked at */
	assert_int_equal(kdc_td_lint(td, out, 4, &more), 0);
	assert_true(more);
	json_decref(td);
	/* unknown names are skipped */
	assert_int_equal(lint_td(BASIC, "[\"zz\"]", "http://example.com/"), 0);
}

static void
test_max(void **state)
{
	json_t *td = json_pack("{s:{s:{s:s}}, s:s}", "securityDefinitions", "b",
	    "scheme", "basic", "security", "b"), *forms = json_array();
	struct kdc_lint out[KDC_LINT_MAX + 1];
	bool more = false;
	size_t i;

	(void)state;
	for (i = 0; i < 40; i++)
		json_array_append_new(forms, json_pack("{s:s}", "href", "http://e.com/"));
	json_object_set_new(td, "forms", forms);
	memset(out, 0x5a, sizeof(out));
	assert_int_equal(kdc_td_lint(td, out, KDC_LINT_MAX, &more), KDC_LINT_MAX);
	assert_true(more);
	assert_string_equal(out[31].field, "forms.31");
	assert_int_equal((unsigned char)out[KDC_LINT_MAX].rule[0], 0x5a);	/* untouched */
	more = false;
	assert_int_equal(kdc_td_lint(td, out, 0, &more), 0);
	assert_true(more);
	/* not a TD object: nothing */
	more = true;
	assert_int_equal(kdc_td_lint(forms, out, KDC_LINT_MAX, &more), 0);
	assert_false(more);
	json_decref(td);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cleartext),
		cmocka_unit_test(test_psk),
		cmocka_unit_test(test_nosec),
		cmocka_unit_test(test_mqtt),
		cmocka_unit_test(test_oauth2_apikey),
		cmocka_unit_test(test_base_and_fields),
		cmocka_unit_test(test_combo),
		cmocka_unit_test(test_work_bound),
		cmocka_unit_test(test_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
