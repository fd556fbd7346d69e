/* test_tdd_search.c: the directory's search fast paths (core/tdd.c):
 * answers of index-decided filters from the stored text equal the
 * evaluator's, the cached TDs (parsed and text) follow every change, a
 * search's reads are audited by number, and kdc_tdd_import() is all or
 * nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/alloc.h"
#include "core/config.h"
#include "core/core.h"
#include "core/tdd.h"
#include "tdd/jfree.h"
#include "tdd/jsonpath.h"
#include "testkdc.h"

struct fx {
	struct kdc_test_kdc	 k;
	struct kdc_config	 cfg;
	struct kdc_tdd		*t;
	struct kdc_tdd_caller	 owner, reader, other;
	struct kdc_tdd_result	 res;
};

static const uint8_t wkey[32] = { 0x17 };
static int64_t fake_now = 1800000000;

static int64_t
clock_fn(void)
{
	return fake_now;
}

static void
caller(struct fx *f, const char *name, struct kdc_tdd_caller *out)
{
	struct kdc_principal p;
	struct kdc_device *dev = NULL;
	char dev_id[KDC_DEVID_MAX + 1];

	assert_int_equal(kdc_core_user_add(f->k.core, "test", name, NULL),
	    KDC_OK);
	assert_int_equal(kdc_core_user_dev_id(f->k.core, name, dev_id,
	    sizeof(dev_id)), KDC_OK);
	assert_int_equal(kdc_core_device_get(f->k.core, dev_id, &dev), KDC_OK);
	memset(&p, 0, sizeof(p));
	p.device = dev->id;
	snprintf(p.dev_id, sizeof(p.dev_id), "%s", dev->dev_id);
	kdc_device_free(dev);
	assert_int_equal(kdc_tdd_caller(f->t, &p, out), KDC_OK);
}

#define HEAD(id) "{\"@context\":\"https://www.w3.org/2022/wot/td/v1.1\"," \
	"\"id\":\"" id "\",\"title\":\"" id "\",\"securityDefinitions\":{" \
	"\"nosec_sc\":{\"scheme\":\"nosec\"}},\"security\":\"nosec_sc\"," \
	"\"properties\":{"
#define PROP(n) "\"" n "\":{\"type\":\"integer\",\"forms\":[{\"href\":" \
	"\"https://t.example/" n "\"}]}"

static const char *const tds[] = {
	HEAD("urn:t:a") PROP("lightColor") "," PROP("brightness") "}}",
	HEAD("urn:t:b") PROP("lightColor") "}}",
	HEAD("urn:t:c") "\"sensorInformation\":{\"type\":\"object\","
	    "\"properties\":{\"state\":{\"type\":\"object\",\"properties\":{"
	    "\"daylight\":{\"type\":\"boolean\"}}}},\"forms\":[{\"href\":"
	    "\"https://t.example/s\"}]}}}",
	HEAD("urn:t:d") PROP("temperature") "}}",
};

static void
import(struct fx *f, const char *const *b, size_t n, kdc_err want)
{
	struct kdc_tdd_consent k;
	size_t lens[8];

	memset(&k, 0, sizeof(k));
	k.given = true;
	snprintf(k.purpose, sizeof(k.purpose), "test");
	snprintf(k.readers, sizeof(k.readers), "%s", f->reader.dev_id);
	for (size_t i = 0; i < n; i++)
		lens[i] = strlen(b[i]);
	assert_int_equal(kdc_tdd_import(f->t, &f->owner, b, lens, n, &k,
	    &f->res), want);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct kdc_tdd_opts o;

	kdc_config_defaults(&f->cfg);
	kdc_test_kdc_open(&f->k, wkey, &f->cfg, 0);
	fake_now = 1800000000;
	kdc_core_set_clock(f->k.core, clock_fn);
	memset(&o, 0, sizeof(o));
	o.retention_default = 86400;
	o.events_keep = 100;
	o.result_max = 1 << 20;
	assert_int_equal(kdc_tdd_new(f->k.core, &o, &f->t), KDC_OK);
	caller(f, "owner", &f->owner);
	caller(f, "reader", &f->reader);
	caller(f, "other", &f->other);
	import(f, tds, 4, KDC_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	kdc_tdd_free(f->t);
	kdc_test_kdc_close(&f->k);
	free(f);
	return 0;
}

/* The answer of query for c (NUL-terminated, heap): asserts OK. */
static char *
search(struct fx *f, const struct kdc_tdd_caller *c, const char *query)
{
	char *js = NULL, why[200];
	size_t len = 0;

	assert_int_equal(kdc_tdd_search(f->t, c, query, strlen(query), &js,
	    &len, why, sizeof(why)), KDC_OK);
	assert_non_null(js);
	assert_int_equal(strlen(js), len);
	return js;
}

static size_t
count(const char *js)
{
	json_t *a = json_loads(js, 0, NULL);
	size_t n;

	assert_non_null(a);
	assert_true(json_is_array(a));
	n = json_array_size(a);
	json_decref(a);
	return n;
}

static void
test_index_exact(void **state)
{
	static const struct {
		const char	*q;
		bool		 exact;
	} v[] = {
		{ "$[?@.a]", true },
		{ "$[?(@.properties.lightColor)]", true },
		{ "$[?@.a.b && @.c]", true },
		{ "$[?(@.a && (@.b.c && @.d))]", true },
		{ "$[?@['a b'].c]", true },
		{ "$[?@.a || @.b]", false },
		{ "$[?!@.a]", false },
		{ "$[?@.a].b", false },
		{ "$[?@.a.b.c]", false },
		{ "$[?@.a == 1]", false },
		{ "$..[?@.a]", false },
		{ "$[?@.a, ?@.b]", false },
		{ "$[?@.*]", false },
		{ "$[?@[0]]", false },
		{ "$[?@..a]", false },
		{ "$[?@]", false },
		{ "$[?$.a]", false },
		{ "$[?@['a\\u001fb']]", false },
		{ "$[*]", false },
		{ "$[?length(@.a) > 0]", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct kdc_jsonpath *q = NULL;

		assert_int_equal(kdc_jsonpath_parse(v[i].q, strlen(v[i].q), &q,
		    NULL, 0), KDC_OK);
		if (kdc_jsonpath_index_exact(q) != v[i].exact)
			fail_msg("%s: exact %d", v[i].q, !v[i].exact);
		kdc_jsonpath_free(q);
	}
}

/* $[?@.a && @.b] from the stored text == the evaluator's answer (the
 * same filter with a disjunction the index cannot decide) */
static void
test_text_equals_eval(void **state)
{
	struct fx *f = *state;
	static const char *const pairs[][2] = {
		{ "$[?@.properties.lightColor]",
		  "$[?@.properties.lightColor && (@.title || @.nothing)]" },
		{ "$[?(@.properties.lightColor && @.properties.brightness)]",
		  "$[?@.properties.lightColor && @.properties.brightness && "
		  "(@.id || @.nothing)]" },
		{ "$[?@.registration.created]",
		  "$[?@.registration.created && (@.id || @.nothing)]" },
	};
	static const size_t want[] = { 2, 1, 4 };

	for (size_t i = 0; i < 3; i++)
		for (int round = 0; round < 2; round++) {	/* 2nd: cached */
			char *a = search(f, &f->reader, pairs[i][0]);
			char *b = search(f, &f->reader, pairs[i][1]);
			json_t *j = json_loads(a, 0, NULL);
			char *d = json_dumps(j, JSON_COMPACT);

			assert_string_equal(a, b);
			assert_string_equal(a, d);	/* what a dump gives */
			assert_int_equal(count(a), want[i]);
			kdc_json_free(d);
			json_decref(j);
			kdc_free(a);
			kdc_free(b);
		}
}

/* "retrieved" is the time of the search, cached or not */
static void
test_retrieved_now(void **state)
{
	struct fx *f = *state;
	char *a;

	kdc_free(search(f, &f->reader, "$[?@.properties.lightColor]"));
	kdc_free(search(f, &f->reader, "$[?@.properties.sensorInformation]"
	    ".properties..state"));
	fake_now += 3600;
	a = search(f, &f->reader, "$[?@.properties.lightColor]");
	assert_non_null(strstr(a, "\"retrieved\":\"2027-01-15T09:00:00Z\""));
	assert_null(strstr(a, "\"retrieved\":\"2027-01-15T08:00:00Z\""));
	kdc_free(a);
	a = search(f, &f->reader, "$[?@.properties.sensorInformation]"
	    ".registration.retrieved");
	assert_string_equal(a, "[\"2027-01-15T09:00:00Z\"]");
	kdc_free(a);
}

/* both caches follow a patch, a consent change and an erasure */
static void
test_cache_follows_changes(void **state)
{
	struct fx *f = *state;
	struct kdc_tdd_consent k;
	const char *q3 = "$[?@.properties.sensorInformation].properties..state";
	const char *q1 = "$[?@.properties.lightColor]";
	const char *patch = "{\"properties\":{\"sensorInformation\":{"
	    "\"properties\":{\"state\":{\"type\":\"string\",\"properties\":"
	    "null}}}}}";
	char *a;

	for (int i = 0; i < 2; i++) {	/* fill the caches */
		kdc_free(search(f, &f->reader, q1));
		kdc_free(search(f, &f->reader, q3));
	}
	a = search(f, &f->reader, q3);
	assert_non_null(strstr(a, "daylight"));
	kdc_free(a);
	assert_int_equal(kdc_tdd_patch(f->t, &f->owner, "urn:t:c", patch,
	    strlen(patch), &f->res), KDC_OK);
	a = search(f, &f->reader, q3);
	assert_string_equal(a, "[{\"type\":\"string\"}]");
	kdc_free(a);

	patch = "{\"title\":\"renamed lamp\"}";
	assert_int_equal(kdc_tdd_patch(f->t, &f->owner, "urn:t:a", patch,
	    strlen(patch), &f->res), KDC_OK);
	a = search(f, &f->reader, q1);
	assert_non_null(strstr(a, "renamed lamp"));
	assert_int_equal(count(a), 2);
	kdc_free(a);

	memset(&k, 0, sizeof(k));
	k.given = true;
	snprintf(k.purpose, sizeof(k.purpose), "test");
	snprintf(k.readers, sizeof(k.readers), "%s", f->other.dev_id);
	assert_int_equal(kdc_tdd_consent_set(f->t, &f->owner, "urn:t:a", &k),
	    KDC_OK);
	a = search(f, &f->reader, q1);
	assert_null(strstr(a, "urn:t:a"));
	assert_int_equal(count(a), 1);
	kdc_free(a);
	a = search(f, &f->other, q1);
	assert_non_null(strstr(a, "renamed lamp"));
	assert_int_equal(count(a), 1);
	kdc_free(a);

	assert_int_equal(kdc_tdd_delete(f->t, &f->owner, "urn:t:b"), KDC_OK);
	a = search(f, &f->reader, q1);
	assert_string_equal(a, "[]");
	kdc_free(a);
	a = search(f, &f->owner, q1);
	assert_int_equal(count(a), 1);	/* urn:t:a, the owner's */
	kdc_free(a);
}

struct audit_scan {
	int		 reads;
	char		 details[4096];
};

static kdc_err
audit_cb(const struct kdc_audit_rec *rec, void *arg)
{
	struct audit_scan *s = arg;

	if (strcmp(rec->action, "tdd.read") != 0)
		return KDC_OK;
	s->reads++;
	strncat(s->details, rec->detail, sizeof(s->details) -
	    strlen(s->details) - 2);
	strcat(s->details, "\n");
	assert_string_equal(rec->subject, "user.reader");
	return KDC_OK;
}

/* a reader's search audits every TD it read, by number; an owner's none */
static void
test_search_audited(void **state)
{
	struct fx *f = *state;
	struct audit_scan s;

	memset(&s, 0, sizeof(s));
	kdc_free(search(f, &f->owner, "$[?@.properties.lightColor]"));
	assert_int_equal(kdc_core_audit_foreach(f->k.core, 0, audit_cb, &s),
	    KDC_OK);
	assert_int_equal(s.reads, 0);
	kdc_free(search(f, &f->reader, "$[?@.properties.lightColor]"));
	kdc_free(search(f, &f->reader, "$[?@.properties.sensorInformation]"
	    ".properties..state"));
	assert_int_equal(kdc_core_audit_foreach(f->k.core, 0, audit_cb, &s),
	    KDC_OK);
	/* one record per owner and search: td#1, td#2 (lightColor), td#3 */
	assert_int_equal(s.reads, 2);
	assert_non_null(strstr(s.details, "via=search td#1 td#2\n"));
	assert_non_null(strstr(s.details, "via=search td#3\n"));
	assert_null(strstr(s.details, "urn:t:"));
}

/* one refused TD: none of the batch is stored */
static void
test_import_all_or_nothing(void **state)
{
	struct fx *f = *state;
	const char *b[2] = { HEAD("urn:t:e") PROP("x") "}}", tds[1] };
	const char *bad[2] = { HEAD("urn:t:f") PROP("x") "}}",
	    "{\"id\":\"urn:t:g\",\"title\":\"no context\"}" };
	char *js = NULL;
	size_t len;

	import(f, b, 2, KDC_ERR_EXISTS);
	assert_string_equal(f->res.id, "urn:t:b");
	import(f, bad, 2, KDC_ERR_INVALID_ARG);
	assert_string_equal(f->res.id, "urn:t:g");
	assert_true(f->res.verrs.n > 0);
	assert_int_equal(kdc_tdd_count(f->t), 4);
	assert_int_equal(kdc_tdd_get(f->t, &f->owner, "urn:t:e", &js, &len),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_tdd_get(f->t, &f->owner, "urn:t:f", &js, &len),
	    KDC_ERR_NOT_FOUND);
	js = search(f, &f->owner, "$[?@.properties.x]");
	assert_string_equal(js, "[]");
	kdc_free(js);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_exact),
		cmocka_unit_test_setup_teardown(test_text_equals_eval, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retrieved_now, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cache_follows_changes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_audited, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_import_all_or_nothing,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
