/*
 * test_tdd_jschema: src/tdd/jschema.c beyond the JSON Schema Test Suite:
 * the W3C error shape, one error for a failed oneOf/anyOf, the error cap,
 * the depth and work bounds (never inverted by "not"), refused keywords,
 * regex translation, lengths in code points, concurrent validation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <jansson.h>

#include "base/alloc.h"
#include "tdd/jschema.h"

static json_t *
J(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &je);

	if (j == NULL)
		fail_msg("bad test JSON: %s: %s", je.text, text);
	return j;
}

static struct kdc_jschema *
C(const char *schema)
{
	struct kdc_jschema *s = NULL;
	json_t *j = J(schema);
	char why[256];
	kdc_err r;

	r = kdc_jschema_compile(j, &s, why, sizeof(why));
	json_decref(j);
	if (r != KDC_OK)
		fail_msg("compile %d: %s: %s", r, why, schema);
	return s;
}

/* validate text against s; returns the verdict, errs filled */
static bool
V(const struct kdc_jschema *s, const char *text, struct kdc_verrs *errs)
{
	json_t *d = J(text);
	bool ok = kdc_jschema_validate(s, d, errs), ok_ff;

	ok_ff = kdc_jschema_validate(s, d, NULL);
	assert_int_equal(ok, ok_ff);	/* fail-fast gives the same verdict */
	json_decref(d);
	return ok;
}

static kdc_err
compile_err(const char *schema, char *why, size_t whylen)
{
	struct kdc_jschema *s = NULL;
	json_t *j = J(schema);
	kdc_err r = kdc_jschema_compile(j, &s, why, whylen);

	json_decref(j);
	if (r == KDC_OK)
		kdc_jschema_free(s);
	else
		assert_null(s);
	return r;
}

static void
assert_err(const struct kdc_verrs *e, size_t i, const char *field,
    const char *desc)
{
	assert_true(i < e->n);
	assert_string_equal(e->e[i].field, field);
	assert_string_equal(e->e[i].description, desc);
}

/* The W3C Discovery example's two errors, from a TD-shaped schema. */
static void
test_w3c_error_shape(void **state)
{
	struct kdc_jschema *s;
	struct kdc_verrs e;

	(void)state;
	s = C("{\"type\":\"object\",\"required\":[\"title\",\"security\"],"
	    "\"properties\":{\"properties\":{\"type\":\"object\","
	    "\"additionalProperties\":{\"$ref\":\"#/definitions/aff\"}}},"
	    "\"definitions\":{\"aff\":{\"type\":\"object\",\"properties\":{"
	    "\"forms\":{\"type\":\"array\",\"items\":{\"$ref\":"
	    "\"#/definitions/form\"}}}},\"form\":{\"type\":\"object\","
	    "\"required\":[\"href\"],\"properties\":{\"href\":{\"type\":"
	    "\"string\"}}}}}");
	assert_false(V(s, "{\"title\":\"t\",\"properties\":{\"status\":{"
	    "\"forms\":[{\"href\":7}]}}}", &e));
	assert_int_equal(e.n, 2);
	assert_false(e.truncated);
	assert_err(&e, 0, "(root)", "security is required");
	assert_err(&e, 1, "properties.status.forms.0.href",
	    "Invalid type. Expected: string, given: integer");
	assert_true(V(s, "{\"title\":\"t\",\"security\":\"x\",\"properties\":{"
	    "\"status\":{\"forms\":[{\"href\":\"/s\"}]}}}", &e));
	assert_int_equal(e.n, 0);
	kdc_jschema_free(s);
	/* integer-valued reals are integers; other reals are numbers */
	s = C("{\"properties\":{\"a\":{\"type\":[\"string\",\"null\"]},"
	    "\"b\":{\"type\":\"integer\"}}}");
	assert_false(V(s, "{\"a\":1.5,\"b\":2.0}", &e));
	assert_int_equal(e.n, 1);
	assert_err(&e, 0, "a",
	    "Invalid type. Expected: null/string, given: number");
	assert_true(V(s, "{\"a\":null,\"b\":2.0}", &e));
	kdc_jschema_free(s);
}

static void
test_oneof_one_error(void **state)
{
	struct kdc_jschema *s;
	struct kdc_verrs e;

	(void)state;
	/* type-discriminated: the object branch's error, not two errors */
	s = C("{\"properties\":{\"a\":{\"oneOf\":[{\"type\":\"string\"},"
	    "{\"type\":\"object\",\"required\":[\"x\"],\"properties\":{\"x\":"
	    "{\"type\":\"integer\"}}}]}}}");
	assert_false(V(s, "{\"a\":{}}", &e));
	assert_int_equal(e.n, 1);
	assert_err(&e, 0, "a", "x is required");
	assert_false(V(s, "{\"a\":{\"x\":\"no\"}}", &e));
	assert_int_equal(e.n, 1);
	assert_err(&e, 0, "a.x", "Invalid type. Expected: integer, given: string");
	/* no branch for this type at all: the generic message */
	assert_false(V(s, "{\"a\":5}", &e));
	assert_int_equal(e.n, 1);
	assert_err(&e, 0, "a", "Must validate one and only one schema (oneOf)");
	assert_true(V(s, "{\"a\":\"s\"}", &e));
	assert_true(V(s, "{\"a\":{\"x\":1}}", &e));
	kdc_jschema_free(s);
	/* more than one branch valid */
	s = C("{\"oneOf\":[{\"type\":\"number\"},{\"type\":\"integer\"}]}");
	assert_false(V(s, "5", &e));
	assert_int_equal(e.n, 1);
	assert_err(&e, 0, "(root)", "Must validate one and only one schema (oneOf)");
	assert_true(V(s, "5.5", &e));
	kdc_jschema_free(s);
	/* equally close branches (a discriminator enum): generic message */
	s = C("{\"oneOf\":[{\"properties\":{\"k\":{\"enum\":[\"a\"]}}},"
	    "{\"properties\":{\"k\":{\"enum\":[\"b\"]}}}]}");
	assert_false(V(s, "{\"k\":\"c\"}", &e));
	assert_int_equal(e.n, 1);
	assert_err(&e, 0, "(root)", "Must validate one and only one schema (oneOf)");
	kdc_jschema_free(s);
	/* anyOf: the same, with its own message */
	s = C("{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"array\","
	    "\"minItems\":2}]}");
	assert_false(V(s, "[1]", &e));
	assert_int_equal(e.n, 1);
	assert_err(&e, 0, "(root)", "Array must have at least 2 items");
	assert_false(V(s, "{}", &e));
	assert_err(&e, 0, "(root)", "Must validate at least one schema (anyOf)");
	assert_true(V(s, "[1,2]", &e));
	kdc_jschema_free(s);
}

static void
test_error_cap(void **state)
{
	char schema[4096], doc[16];
	struct kdc_jschema *s;
	struct kdc_verrs e;
	size_t o, i;

	(void)state;
	o = (size_t)snprintf(schema, sizeof(schema), "{\"required\":[");
	for (i = 0; i < 40; i++)
		o += (size_t)snprintf(schema + o, sizeof(schema) - o,
		    "%s\"k%zu\"", i ? "," : "", i);
	snprintf(schema + o, sizeof(schema) - o, "]}");
	s = C(schema);
	snprintf(doc, sizeof(doc), "{}");
	assert_false(V(s, doc, &e));
	assert_int_equal(e.n, KDC_JSCHEMA_ERRORS_MAX);
	assert_true(e.truncated);
	assert_err(&e, 0, "(root)", "k0 is required");
	assert_err(&e, 31, "(root)", "k31 is required");
	kdc_jschema_free(s);
}

/* {"a":{"a":...}} nested n deep */
static char *
nested(int n)
{
	char *b = test_malloc((size_t)n * 6 + 8);
	size_t o = 0;
	int i;

	for (i = 0; i < n; i++)
		o += (size_t)sprintf(b + o, "{\"a\":");
	o += (size_t)sprintf(b + o, "1");
	for (i = 0; i < n; i++)
		b[o++] = '}';
	b[o] = '\0';
	return b;
}

static void
test_depth_bound(void **state)
{
	struct kdc_jschema *s, *ns, *loop;
	struct kdc_verrs e;
	char *d;

	(void)state;
	/* each level costs two evaluations (the $ref, then its target) */
	s = C("{\"type\":[\"object\",\"integer\"],\"properties\":{\"a\":"
	    "{\"$ref\":\"#\"}}}");
	d = nested(KDC_JSCHEMA_DEPTH_MAX / 2 - 1);
	assert_true(V(s, d, &e));
	test_free(d);
	d = nested(KDC_JSCHEMA_DEPTH_MAX / 2 + 1);
	assert_false(V(s, d, &e));
	assert_int_equal(e.n, 1);
	assert_string_equal(e.e[0].description,
	    "nested deeper than the validator's limit");
	assert_true(strncmp(e.e[0].field, "a.a.a.a", 7) == 0);
	/* "not" must not turn the bound into a pass */
	/* (r fails on the innermost 1, so without the bound "not r" holds) */
	ns = C("{\"not\":{\"$ref\":\"#/definitions/r\"},\"definitions\":{\"r\":"
	    "{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":"
	    "\"#/definitions/r\"}}}}}");
	assert_false(V(ns, d, &e));
	assert_string_equal(e.e[0].description,
	    "nested deeper than the validator's limit");
	test_free(d);
	/* a $ref loop: invalid, no crash */
	loop = C("{\"$ref\":\"#/definitions/a\",\"definitions\":{\"a\":"
	    "{\"$ref\":\"#/definitions/b\"},\"b\":{\"$ref\":"
	    "\"#/definitions/a\"}}}");
	assert_false(V(loop, "1", &e));
	assert_int_equal(e.n, 1);
	assert_string_equal(e.e[0].field, "(root)");
	kdc_jschema_free(s);
	kdc_jschema_free(ns);
	kdc_jschema_free(loop);
}

static void
test_work_bound(void **state)
{
	char schema[8192];
	struct kdc_jschema *s;
	struct kdc_verrs e;
	struct timespec t0, t1;
	json_t *arr;
	size_t o, i;
	double ms;

	(void)state;
	/* uniqueItems counts its comparisons: 3000 items = 4.5M pairs */
	s = C("{\"uniqueItems\":true}");
	arr = json_array();
	for (i = 0; i < 3000; i++)
		json_array_append_new(arr, json_integer((json_int_t)i));
	assert_false(kdc_jschema_validate(s, arr, &e));
	assert_string_equal(e.e[0].description,
	    "validation work budget exceeded");
	while (json_array_size(arr) > 1000)
		json_array_remove(arr, json_array_size(arr) - 1);
	assert_true(kdc_jschema_validate(s, arr, &e));
	json_array_append_new(arr, json_integer(999));
	assert_false(kdc_jschema_validate(s, arr, &e));
	assert_err(&e, 0, "(root)", "array items[999,1000] must be unique");
	json_decref(arr);
	kdc_jschema_free(s);
	/* 22 levels of a two-way oneOf whose branches both recurse: 2^23
	 * evaluations (8 x the budget; a second without it, so a missing
	 * budget fails the description check, not by timeout); compile is
	 * linear (memoized) */
	o = (size_t)snprintf(schema, sizeof(schema), "{\"$ref\":"
	    "\"#/definitions/l0\",\"definitions\":{");
	for (i = 0; i < 22; i++)
		o += (size_t)snprintf(schema + o, sizeof(schema) - o,
		    "\"l%zu\":{\"oneOf\":[{\"$ref\":\"#/definitions/l%zu\"},"
		    "{\"$ref\":\"#/definitions/l%zu\"}]},", i, i + 1, i + 1);
	snprintf(schema + o, sizeof(schema) - o, "\"l22\":{\"type\":"
	    "\"string\"}}}");
	s = C(schema);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_false(V(s, "\"x\"", &e));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	assert_int_equal(e.n, 1);
	assert_string_equal(e.e[0].description,
	    "validation work budget exceeded");
	assert_true(ms < 2000);	/* two validations (V also runs fail-fast) */
	kdc_jschema_free(s);
}

static void
test_refused(void **state)
{
	static const struct {
		const char *schema;
		kdc_err r;
		const char *why;	/* a substring of the reason */
	} t[] = {
		{ "{\"unevaluatedProperties\":false}", KDC_ERR_UNSUPPORTED,
		    "unevaluatedProperties" },
		{ "{\"properties\":{\"a\":{\"dependentRequired\":{}}}}",
		    KDC_ERR_UNSUPPORTED, "dependentRequired" },
		{ "{\"prefixItems\":[]}", KDC_ERR_UNSUPPORTED, "prefixItems" },
		{ "{\"$ref\":\"http://example.com/s.json\"}",
		    KDC_ERR_UNSUPPORTED, "http://example.com/s.json" },
		{ "{\"$ref\":\"#foo\"}", KDC_ERR_UNSUPPORTED, "#foo" },
		{ "{\"items\":{\"$id\":\"http://x/y\"}}", KDC_ERR_UNSUPPORTED,
		    "$id" },
		{ "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\"}",
		    KDC_ERR_UNSUPPORTED, "2020-12" },
		{ "{\"exclusiveMinimum\":true}", KDC_ERR_UNSUPPORTED,
		    "exclusiveMinimum" },
		{ "{\"pattern\":\"a(?=b)\"}", KDC_ERR_UNSUPPORTED, "(?" },
		{ "{\"pattern\":\"a+?\"}", KDC_ERR_UNSUPPORTED, "lazy" },
		{ "{\"pattern\":\"\\\\p{L}\"}", KDC_ERR_UNSUPPORTED, "\\p" },
		{ "{\"pattern\":\"\\\\bword\"}", KDC_ERR_UNSUPPORTED, "\\b" },
		{ "{\"pattern\":\"(a)\\\\1\"}", KDC_ERR_UNSUPPORTED, "\\1" },
		{ "{\"pattern\":\"a[\"}", KDC_ERR_MALFORMED, "pattern" },
		{ "{\"pattern\":\"[^]\"}", KDC_ERR_UNSUPPORTED, "empty class" },
		{ "{\"pattern\":\"x[]\"}", KDC_ERR_UNSUPPORTED, "empty class" },
		{ "{\"pattern\":\"[[:alpha:]]\"}", KDC_ERR_UNSUPPORTED,
		    "POSIX" },
		/* what would make glibc's regcomp unroll exponentially */
		{ "{\"pattern\":\"ab++\"}", KDC_ERR_MALFORMED, "stacked" },
		{ "{\"pattern\":\"a{2}*\"}", KDC_ERR_MALFORMED, "stacked" },
		{ "{\"pattern\":\"((a{30}){30}){30}\"}", KDC_ERR_TOO_LARGE,
		    "too complex" },
		{ "{\"pattern\":\"((((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+\"}",
		    KDC_ERR_TOO_LARGE, "too complex" },
		{ "{\"pattern\":\"a{1001}\"}", KDC_ERR_TOO_LARGE, "1000" },
		{ "{\"pattern\":\"a{2,1}\"}", KDC_ERR_MALFORMED, "pattern" },
		{ "{\"minLength\":\"3\"}", KDC_ERR_MALFORMED, "minLength" },
		{ "{\"minItems\":-1}", KDC_ERR_MALFORMED, "minItems" },
		{ "{\"multipleOf\":0}", KDC_ERR_MALFORMED, "multipleOf" },
		{ "{\"type\":\"float\"}", KDC_ERR_MALFORMED, "float" },
		{ "{\"required\":[1]}", KDC_ERR_MALFORMED, "required" },
		{ "{\"$ref\":\"#/definitions/none\"}", KDC_ERR_MALFORMED,
		    "does not resolve" },
		{ "{\"allOf\":[]}", KDC_ERR_MALFORMED, "allOf" },
		{ "{\"items\":3}", KDC_ERR_MALFORMED, "subschema" },
		{ "3", KDC_ERR_MALFORMED, "subschema" },
	};
	struct kdc_jschema *s = NULL;
	char why[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		kdc_err r = compile_err(t[i].schema, why, sizeof(why));

		if (r != t[i].r || strstr(why, t[i].why) == NULL)
			fail_msg("%s: got %d \"%s\", want %d \"...%s...\"",
			    t[i].schema, r, why, t[i].r, t[i].why);
	}
	assert_int_equal(kdc_jschema_compile(NULL, &s, why, sizeof(why)),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_jschema_compile(json_true(), NULL, NULL, 0),
	    KDC_ERR_INVALID_ARG);
	/* annotations and unknown keywords are ignored; format too */
	s = C("{\"$schema\":\"http://json-schema.org/draft-07/schema#\","
	    "\"$id\":\"https://example.com/s\",\"title\":\"t\",\"description\":"
	    "\"d\",\"$comment\":\"c\",\"default\":1,\"examples\":[1],\"version\":"
	    "\"1.1\",\"readOnly\":true,\"format\":\"date-time\","
	    "\"properties\":{\"a\":{\"$ref\":\"https://example.com/s#/definitions/"
	    "n\"}},\"definitions\":{\"n\":{\"type\":\"number\"}}}");
	assert_true(V(s, "\"not a date\"", NULL));
	assert_true(V(s, "{\"a\":1}", NULL));
	assert_false(V(s, "{\"a\":\"1\"}", NULL));
	kdc_jschema_free(s);
	/* a $ref's siblings are ignored (draft-07) */
	s = C("{\"definitions\":{\"n\":{\"type\":\"number\"}},\"properties\":{"
	    "\"a\":{\"$ref\":\"#/definitions/n\",\"maximum\":1}}}");
	assert_true(V(s, "{\"a\":5}", NULL));
	kdc_jschema_free(s);
	assert_null(NULL);
	kdc_jschema_free(NULL);
	assert_false(kdc_jschema_validate(NULL, json_true(), NULL));
}

static void
test_regex_and_strings(void **state)
{
	struct kdc_jschema *s;
	struct kdc_verrs e;
	json_t *d;

	(void)state;
	s = C("{\"pattern\":\"^\\\\d+(?:\\\\.\\\\d+)?\\\\s\\\\w[\\\\d_-]\\\\S$\"}");
	assert_true(V(s, "\"12.5 x9!\"", &e));
	assert_true(V(s, "\"7 a_z\"", &e));
	assert_false(V(s, "\"12.5 x9 \"", &e));
	assert_false(V(s, "\"1a 9_z\"", &e));
	assert_err(&e, 0, "(root)", "Does not match pattern "
	    "'^\\d+(?:\\.\\d+)?\\s\\w[\\d_-]\\S$'");
	assert_true(V(s, "5", &e));	/* pattern applies to strings only */
	kdc_jschema_free(s);
	/* nested counts within the budget compile and match */
	s = C("{\"pattern\":\"^((ab){2}(-[0-9]{1,3}){0,2})+$\"}");
	assert_true(V(s, "\"abab-1-22abab\"", &e));
	assert_false(V(s, "\"ab-1\"", &e));
	kdc_jschema_free(s);
	/* unanchored: a search, as in ECMA-262; the TD schema's patterns */
	s = C("{\"pattern\":\"[0-9]*x[0-9]+\"}");
	assert_true(V(s, "\"size 16x16 px\"", &e));
	assert_false(V(s, "\"16 px\"", &e));
	kdc_jschema_free(s);
	/* a NUL inside the string: matched on all bytes (REG_STARTEND) */
	s = C("{\"pattern\":\"b$\"}");
	d = json_stringn("a\0b", 3);
	assert_true(kdc_jschema_validate(s, d, &e));
	json_decref(d);
	kdc_jschema_free(s);
	/* lengths are code points */
	s = C("{\"minLength\":2,\"maxLength\":2}");
	assert_true(V(s, "\"\\u00e9\\u00e9\"", &e));	/* 4 bytes */
	assert_false(V(s, "\"\\u00e9\"", &e));
	assert_err(&e, 0, "(root)",
	    "String length must be greater than or equal to 2");
	assert_true(V(s, "\"\\ud83d\\ude00x\"", &e));	/* U+1F600 x */
	kdc_jschema_free(s);
}

struct thr {
	const struct kdc_jschema	*s;
	int				 ok;
};

static void *
thr_run(void *arg)
{
	struct thr *t = arg;
	json_t *good = json_loads("{\"a\":[{\"b\":\"x\"},{\"b\":\"y\"}]}", 0,
	    NULL);
	json_t *bad = json_loads("{\"a\":[{\"b\":\"x\"},{\"b\":3}]}", 0, NULL);
	struct kdc_verrs e;
	int i;

	t->ok = 1;
	for (i = 0; i < 2000; i++) {
		if (!kdc_jschema_validate(t->s, good, &e) ||
		    kdc_jschema_validate(t->s, bad, &e) || e.n != 1 ||
		    strcmp(e.e[0].field, "a.1.b") != 0)
			t->ok = 0;
	}
	json_decref(good);
	json_decref(bad);
	return NULL;
}

static void
test_threads(void **state)
{
	struct kdc_jschema *s;
	pthread_t th[4];
	struct thr t[4];
	int i;

	(void)state;
	s = C("{\"properties\":{\"a\":{\"type\":\"array\",\"items\":{"
	    "\"properties\":{\"b\":{\"type\":\"string\",\"pattern\":"
	    "\"^[a-z]$\"}}}}}}");
	for (i = 0; i < 4; i++) {
		t[i].s = s;
		assert_int_equal(pthread_create(&th[i], NULL, thr_run, &t[i]),
		    0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(t[i].ok, 1);
	}
	kdc_jschema_free(s);
}

/* Every allocation of compile may fail: a clean error, nothing leaked. */
static void
test_compile_nomem(void **state)
{
	json_t *j = J("{\"properties\":{\"a\":{\"pattern\":\"^x\"},\"b\":"
	    "{\"$ref\":\"#/definitions/d\"}},\"patternProperties\":{\"^p\":"
	    "{\"type\":\"string\"}},\"dependencies\":{\"a\":[\"b\"]},"
	    "\"allOf\":[{\"minLength\":1}],\"definitions\":{\"d\":{\"items\":"
	    "[true,false]}}}");
	long n, live = kdc_alloc_live();
	struct kdc_jschema *s;
	kdc_err r;

	(void)state;
	for (n = 1; n < 200; n++) {
		s = NULL;
		kdc_alloc_fail_after(n);
		r = kdc_jschema_compile(j, &s, NULL, 0);
		kdc_alloc_fail_after(0);
		if (r == KDC_OK) {
			kdc_jschema_free(s);
			break;
		}
		assert_int_equal(r, KDC_ERR_NOMEM);
		assert_null(s);
		assert_int_equal(kdc_alloc_live(), live);
	}
	assert_true(n > 3 && n < 200);
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_w3c_error_shape),
		cmocka_unit_test(test_oneof_one_error),
		cmocka_unit_test(test_error_cap),
		cmocka_unit_test(test_depth_bound),
		cmocka_unit_test(test_work_bound),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_regex_and_strings),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_compile_nomem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
