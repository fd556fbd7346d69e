/*
 * test_tdd_jsonpath_cts.c: every case of the JSONPath Compliance Test Suite
 * (tests/data/jsonpath/cts.json, see its README.md) through
 * kdc_jsonpath_parse/eval: an invalid selector must be refused with
 * INVALID_ARG, a valid one must give the expected node list (one of them
 * when the suite lists several orders). Also, wherever the query is per
 * member and the document an array, the concatenation of eval_member over
 * its elements must equal eval. Prints the counts; any mismatch fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "tdd/jsonpath.h"

static void
test_cts(void **state)
{
	json_t *cts, *tests, *t;
	json_error_t jerr;
	size_t i, ran = 0, passed = 0, invalid = 0, members = 0;

	(void)state;
	cts = json_load_file(KDC_SOURCE_DIR "/tests/data/jsonpath/cts.json",
	    JSON_ALLOW_NUL, &jerr);
	assert_non_null(cts);
	tests = json_object_get(cts, "tests");
	assert_true(json_array_size(tests) >= 700);
	json_array_foreach(tests, i, t) {
		const char *name = json_string_value(json_object_get(t, "name"));
		json_t *sel = json_object_get(t, "selector");
		json_t *doc = json_object_get(t, "document");
		json_t *want = json_object_get(t, "result");
		json_t *wants = json_object_get(t, "results");
		struct kdc_jsonpath *q = NULL;
		char why[160];
		kdc_err r;
		bool ok = false;

		ran++;
		r = kdc_jsonpath_parse(json_string_value(sel), json_string_length(sel),
		    &q, why, sizeof(why));
		if (json_is_true(json_object_get(t, "invalid_selector"))) {
			invalid++;
			ok = r == KDC_ERR_INVALID_ARG && q == NULL && why[0] != '\0';
			if (!ok)
				printf("FAIL %s: %s accepted (r=%d)\n", name,
				    json_string_value(sel), r);
		} else if (r != KDC_OK) {
			printf("FAIL %s: %s refused: %s\n", name,
			    json_string_value(sel), why);
		} else {
			json_t *out = json_array();
			size_t budget = 1000000, k;
			json_t *w;

			assert_int_equal(kdc_jsonpath_eval(q, doc, out, &budget), KDC_OK);
			if (want != NULL)
				ok = json_equal(out, want);
			else
				json_array_foreach(wants, k, w)
					ok = ok || json_equal(out, w);
			if (!ok) {
				char *got = json_dumps(out, JSON_ENCODE_ANY | JSON_COMPACT);

				printf("FAIL %s: %s gave %s\n", name,
				    json_string_value(sel), got);
				free(got);
			}
			if (ok && kdc_jsonpath_per_member(q) && json_is_array(doc)) {
				json_t *cat = json_array(), *m;

				members++;
				budget = 1000000;
				json_array_foreach(doc, k, m)
					assert_int_equal(kdc_jsonpath_eval_member(q, m,
					    cat, &budget), KDC_OK);
				if (!json_equal(cat, out)) {
					printf("FAIL %s: %s per member differs\n",
					    name, json_string_value(sel));
					ok = false;
				}
				json_decref(cat);
			}
			json_decref(out);
		}
		passed += ok;
		kdc_jsonpath_free(q);
	}
	printf("cts: %zu cases (%zu invalid selectors), %zu passed, "
	    "%zu also checked per member\n", ran, invalid, passed, members);
	json_decref(cts);
	assert_int_equal(passed, ran);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
