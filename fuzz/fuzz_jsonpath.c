/*
 * fuzz_jsonpath.c: query bytes NUL document bytes (no NUL: the whole input
 * is the query, run on a fixed array). Parse, evaluate under a budget, and
 * where the query is per member and the document an array: the
 * concatenation of eval_member over the elements equals eval, and every
 * element that produces results holds kdc_jsonpath_required()'s paths.
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
	json_decref(cat);
	json_decref(out);
	json_decref(doc);
	kdc_jsonpath_free(q);
	return 0;
}
