/*
 * test_tdd_mergepatch.c: JSON Merge Patch (RFC 7396): every example of
 * Appendix A and §1/§3, that the target is left unchanged, diff∘patch round
 * trips (and minimality) on random documents, UNSUPPORTED for nulls a merge
 * patch cannot express, and the depth bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "tdd/mergepatch.h"

static json_t *
J(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &e);

	if (v == NULL)
		fail_msg("bad JSON in test: %s (%s)", text, e.text);
	return v;
}

static const char *const appendix_a[][3] = {
	{ "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
	{ "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}" },
	{ "{\"a\":\"b\"}", "{\"a\":null}", "{}" },
	{ "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}" },
	{ "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
	{ "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}" },
	{ "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}" },
	{ "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}" },
	{ "[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]" },
	{ "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]" },
	{ "{\"a\":\"foo\"}", "null", "null" },
	{ "{\"a\":\"foo\"}", "\"bar\"", "\"bar\"" },
	{ "{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}" },
	{ "[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}" },
	{ "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}" },
	/* §1 */
	{ "{\"a\":\"b\",\"c\":{\"d\":\"e\",\"f\":\"g\"}}", "{\"a\":\"z\",\"c\":{\"f\":null}}",
	  "{\"a\":\"z\",\"c\":{\"d\":\"e\"}}" },
	/* §3 */
	{ "{\"title\":\"Goodbye!\",\"author\":{\"givenName\":\"John\",\"familyName\":\"Doe\"},"
	  "\"tags\":[\"example\",\"sample\"],\"content\":\"This will be unchanged\"}",
	  "{\"title\":\"Hello!\",\"phoneNumber\":\"+01-123-456-7890\","
	  "\"author\":{\"familyName\":null},\"tags\":[\"example\"]}",
	  "{\"title\":\"Hello!\",\"author\":{\"givenName\":\"John\"},\"tags\":[\"example\"],"
	  "\"content\":\"This will be unchanged\",\"phoneNumber\":\"+01-123-456-7890\"}" },
};

static void
test_rfc_examples(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(appendix_a) / sizeof(appendix_a[0]); i++) {
		json_t *t = J(appendix_a[i][0]), *p = J(appendix_a[i][1]);
		json_t *want = J(appendix_a[i][2]), *t0 = json_deep_copy(t), *out, *d, *back;

		assert_int_equal(kdc_merge_patch(t, p, &out), KDC_OK);
		if (!json_equal(out, want))
			fail_msg("case %zu: wrong result", i);
		assert_true(json_equal(t, t0));		/* target unchanged */
		/* the result shares nothing: changing it leaves the patch alone */
		if (json_is_object(out)) {
			json_t *p0 = json_deep_copy(p);
			const char *k;
			json_t *v;

			json_object_foreach(out, k, v)
				if (json_is_object(v))
					json_object_set_new(v, "zz", json_true());
			assert_true(json_equal(p, p0));
			assert_true(json_equal(t, t0));
			json_decref(p0);
		}
		json_decref(out);
		/* the diff of (original, result) patches one into the other */
		assert_int_equal(kdc_merge_diff(t, want, &d), KDC_OK);
		assert_int_equal(kdc_merge_patch(t, d, &back), KDC_OK);
		if (!json_equal(back, want))
			fail_msg("case %zu: diff does not round-trip", i);
		json_decref(back);
		json_decref(d);
		json_decref(t);
		json_decref(t0);
		json_decref(p);
		json_decref(want);
	}
}

static void
test_diff_minimal(void **state)
{
	json_t *f = J(appendix_a[16][0]), *t = J(appendix_a[16][2]), *d;
	json_t *rfc = J(appendix_a[16][1]);

	(void)state;
	/* RFC 7396 §3: the diff is exactly the RFC's patch */
	assert_int_equal(kdc_merge_diff(f, t, &d), KDC_OK);
	assert_true(json_equal(d, rfc));
	json_decref(d);
	/* equal documents: an empty patch */
	assert_int_equal(kdc_merge_diff(f, f, &d), KDC_OK);
	assert_true(json_is_object(d) && json_object_size(d) == 0);
	json_decref(d);
	json_decref(f);
	json_decref(t);
	json_decref(rfc);
}

static void
test_diff_unsupported(void **state)
{
	static const char *const cases[][2] = {
		{ "{}", "{\"a\":null}" },
		{ "{\"a\":1}", "{\"a\":null}" },
		{ "{\"a\":{}}", "{\"a\":{\"b\":null}}" },
		{ "1", "{\"a\":null}" },
		{ "{\"a\":1}", "{\"a\":{\"b\":{\"c\":null}}}" },
	};
	static const char *const fine[][2] = {
		{ "{}", "{\"a\":[null]}" },	/* arrays replace whole */
		{ "{\"a\":null}", "{\"a\":null,\"b\":1}" },	/* unchanged null */
		{ "{\"a\":1}", "null" },	/* the whole document */
	};
	json_t *f, *t, *d, *back;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f = J(cases[i][0]);
		t = J(cases[i][1]);
		d = (json_t *)1;
		assert_int_equal(kdc_merge_diff(f, t, &d), KDC_ERR_UNSUPPORTED);
		assert_null(d);
		json_decref(f);
		json_decref(t);
	}
	for (i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
		f = J(fine[i][0]);
		t = J(fine[i][1]);
		assert_int_equal(kdc_merge_diff(f, t, &d), KDC_OK);
		assert_int_equal(kdc_merge_patch(f, d, &back), KDC_OK);
		assert_true(json_equal(back, t));
		json_decref(back);
		json_decref(d);
		json_decref(f);
		json_decref(t);
	}
}

static json_t *
rnd_value(unsigned *seed, int depth)
{
	int k = (int)(rand_r(seed) % (depth > 0 ? 8 : 5));
	json_t *v;
	int i, n;

	switch (k) {
	case 0: return json_integer(rand_r(seed) % 3);
	case 1: return json_string(rand_r(seed) % 2 ? "x" : "y");
	case 2: return json_true();
	case 3: return json_null();
	case 4: return json_real(1.5);
	case 5:
		v = json_array();
		n = (int)(rand_r(seed) % 3);
		for (i = 0; i < n; i++)
			json_array_append_new(v, rnd_value(seed, depth - 1));
		return v;
	default:
		v = json_object();
		n = (int)(rand_r(seed) % 4);
		for (i = 0; i < n; i++) {
			char key[2] = { (char)('a' + rand_r(seed) % 4), 0 };

			json_object_set_new(v, key, rnd_value(seed, depth - 1));
		}
		return v;
	}
}

/* Does v hold, through objects only, a member whose value is null? */
static bool
has_null_member(const json_t *v)
{
	const char *k;
	json_t *m;

	if (!json_is_object(v))
		return false;
	json_object_foreach((json_t *)v, k, m)
		if (json_is_null(m) || has_null_member(m))
			return true;
	return false;
}

static void
test_round_trips(void **state)
{
	unsigned seed = 7;
	size_t i, ok = 0, unsup = 0;

	(void)state;
	for (i = 0; i < 20000; i++) {
		json_t *f = rnd_value(&seed, 4), *t = rnd_value(&seed, 4), *d, *back;
		kdc_err r = kdc_merge_diff(f, t, &d);

		if (r == KDC_ERR_UNSUPPORTED) {
			/* only when `to` holds a null member value */
			assert_true(has_null_member(t));
			unsup++;
		} else {
			const char *k;
			json_t *v;

			assert_int_equal(r, KDC_OK);
			assert_int_equal(kdc_merge_patch(f, d, &back), KDC_OK);
			if (!json_equal(back, t))
				fail_msg("round trip %zu", i);
			/* minimal: a member of the patch is one that changed */
			if (json_is_object(f) && json_is_object(t))
				json_object_foreach(d, k, v) {
					json_t *a = json_object_get(f, k);
					json_t *b = json_object_get(t, k);

					assert_false(a != NULL && b != NULL && json_equal(a, b));
				}
			json_decref(back);
			json_decref(d);
			ok++;
		}
		json_decref(f);
		json_decref(t);
	}
	assert_true(ok > 10000 && unsup > 100);
}

static json_t *
nest(int depth)
{
	json_t *v = json_string("leaf");

	while (depth-- > 0) {
		json_t *o = json_object();

		json_object_set_new(o, "a", v);
		v = o;
	}
	return v;
}

static void
test_depth(void **state)
{
	json_t *ok = nest(KDC_MERGE_DEPTH_MAX), *deep = nest(KDC_MERGE_DEPTH_MAX + 1);
	json_t *out = NULL, *e = json_object();

	(void)state;
	assert_int_equal(kdc_merge_patch(e, ok, &out), KDC_OK);
	assert_true(json_equal(out, ok));
	json_decref(out);
	assert_int_equal(kdc_merge_patch(e, deep, &out), KDC_ERR_TOO_LARGE);
	assert_null(out);
	assert_int_equal(kdc_merge_patch(deep, e, &out), KDC_ERR_TOO_LARGE);
	assert_int_equal(kdc_merge_patch(ok, ok, &out), KDC_OK);
	json_decref(out);
	assert_int_equal(kdc_merge_diff(e, deep, &out), KDC_ERR_TOO_LARGE);
	assert_int_equal(kdc_merge_diff(deep, e, &out), KDC_ERR_TOO_LARGE);
	assert_null(out);
	assert_int_equal(kdc_merge_diff(e, ok, &out), KDC_OK);
	json_decref(out);
	json_decref(ok);
	json_decref(deep);
	json_decref(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_diff_minimal),
		cmocka_unit_test(test_diff_unsupported),
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_depth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
