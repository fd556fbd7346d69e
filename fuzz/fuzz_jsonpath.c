/*
 * fuzz_jsonpath.c: query bytes NUL document bytes (no NUL: the whole input
 * is the query, run on a fixed array). Parse, evaluate under a budget, and
 * where the query is per member and the document an array: the
 * concatenation of eval_member over the elements equals eval, and every
 * element that produces results holds kdc_jsonpath_required()'s paths;
 * where kdc_jsonpath_index_exact(), an element is the whole answer of
 * eval_member exactly when it is an object with every required path.
 * Any difference aborts. Seeds: fuzz/corpus/jsonpath/ (fuzz/seeds.py).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdd/jsonpath.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
has_path(const json_t *m, const char *path)
{
	char buf[KDC_JSONPATH_KEY_MAX], *s, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (s = strtok_r(buf, "\x1f", &save); s != NULL; s = strtok_r(NULL, "\x1f", &save))
		if ((m = json_object_get(m, s)) == NULL)
			return false;
	return true;
}

/* path (1 or 2 names joined by '\x1f', either may be empty) in object m */
static bool
has_exact(const json_t *m, const char *path)
{
	const char *sep = strchr(path, '\x1f');
	char first[KDC_JSONPATH_KEY_MAX];

	if (!json_is_object(m))
		return false;
	if (sep == NULL)
		return json_object_get(m, path) != NULL;
	snprintf(first, sizeof(first), "%.*s", (int)(sep - path), path);
	m = json_object_get(m, first);
	return json_is_object(m) && json_object_get(m, sep + 1) != NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t qlen = nul != NULL ? (size_t)(nul - data) : size, budget = 20000, i, j, n;
	char paths[8][KDC_JSONPATH_KEY_MAX], why[128];
	struct kdc_jsonpath *q = NULL;
	json_t *doc = NULL, *out = NULL, *cat = NULL, *m;
	kdc_err r, r2 = KDC_OK;

	r = kdc_jsonpath_parse((const char *)data, qlen, &q, why, sizeof(why));
	if ((r == KDC_OK) != (q != NULL) || (r != KDC_OK && strncmp(why, "at byte ", 8) != 0))
		abort();
	if (r != KDC_OK)
		return 0;
	if (nul != NULL)
		doc = json_loadb((const char *)nul + 1, size - qlen - 1,
		    JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (doc == NULL)
		doc = json_loads("[{\"a\": {\"b\": [1, \"x\"]}, \"c\": null}, {\"b\": 2}, [3]]",
		    0, NULL);
	out = json_array();
	r = kdc_jsonpath_eval(q, doc, out, &budget);
	if (r != KDC_OK && r != KDC_ERR_TOO_LARGE)
		abort();
	if (kdc_jsonpath_per_member(q) && json_is_array(doc)) {
		n = kdc_jsonpath_required(q, paths, 8);
		cat = json_array();
		budget = 20000;
		json_array_foreach(doc, i, m) {
			size_t before = json_array_size(cat);

			if ((r2 = kdc_jsonpath_eval_member(q, m, cat, &budget)) != KDC_OK)
				break;
			if (json_array_size(cat) > before)
				for (j = 0; j < n; j++)
					if (!has_path(m, paths[j]))
						abort();
		}
		/* the same work, so the same outcome when both finished */
		if (r == KDC_OK && r2 == KDC_OK && !json_equal(out, cat))
			abort();
	}
	if (kdc_jsonpath_index_exact(q) && json_is_array(doc) &&
	    (n = kdc_jsonpath_required(q, paths, 8)) < 8) {
		if (n == 0)
			abort();
		json_array_foreach(doc, i, m) {
			json_t *one = json_array();
			bool want = true;

			budget = 20000;
			if (kdc_jsonpath_eval_member(q, m, one, &budget) == KDC_OK) {
				for (j = 0; j < n; j++)
					want = want && has_exact(m, paths[j]);
				if (json_array_size(one) != (want ? 1u : 0u) ||
				    (want && json_array_get(one, 0) != m))
					abort();
			}
			json_decref(one);
		}
	}
	json_decref(cat);
	json_decref(out);
	json_decref(doc);
	kdc_jsonpath_free(q);
	return 0;
}
