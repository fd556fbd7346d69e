/*
 * fuzz_mergepatch.c: two JSON documents separated by NUL. merge(a, b) must
 * leave a unchanged; diff(a, b), when it succeeds, must patch a into b,
 * and be UNSUPPORTED only when b holds a null member value. Seeds:
 * fuzz/corpus/mergepatch/ (RFC 7396 Appendix A, fuzz/seeds.py).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tdd/mergepatch.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
has_null_member(const json_t *v, int depth)
{
	const char *k;
	json_t *m;

	if (!json_is_object(v) || depth > 200)
		return false;
	json_object_foreach((json_t *)v, k, m)
		if (json_is_null(m) || has_null_member(m, depth + 1))
			return true;
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	json_t *a, *b, *a0, *out = NULL, *d = NULL, *back = NULL;
	kdc_err r;

	if (nul == NULL)
		return 0;
	a = json_loadb((const char *)data, (size_t)(nul - data), JSON_DECODE_ANY, NULL);
	b = json_loadb((const char *)nul + 1, size - (size_t)(nul - data) - 1,
	    JSON_DECODE_ANY, NULL);
	if (a == NULL || b == NULL)
		goto out;
	a0 = json_deep_copy(a);
	r = kdc_merge_patch(a, b, &out);
	if ((r != KDC_OK && r != KDC_ERR_TOO_LARGE) || (r == KDC_OK) != (out != NULL) ||
	    !json_equal(a, a0))
		abort();
	json_decref(a0);
	r = kdc_merge_diff(a, b, &d);
	if (r == KDC_OK) {
		if (kdc_merge_patch(a, d, &back) != KDC_OK || !json_equal(back, b))
			abort();
	} else if (r == KDC_ERR_UNSUPPORTED) {
		if (!has_null_member(b, 0))
			abort();
	} else if (r != KDC_ERR_TOO_LARGE)
		abort();
out:
	json_decref(back);
	json_decref(d);
	json_decref(out);
	json_decref(a);
	json_decref(b);
	return 0;
}
