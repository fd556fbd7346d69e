/*
 * mergepatch.c: RFC 7396 JSON Merge Patch and its inverse (see
 * mergepatch.h). Depths are checked first, so the recursions below are
 * bounded by KDC_MERGE_DEPTH_MAX.
 */
#include <stdbool.h>
#include <stdint.h>

#include "tdd/mergepatch.h"

/* Is v nested at most max containers deep? Iterates only while within. */
static bool
depth_ok(const json_t *v, int max)
{
	size_t i;

	if (!json_is_object(v) && !json_is_array(v))
		return true;
	if (max <= 0)
		return false;
	if (json_is_array(v)) {
		for (i = 0; i < json_array_size(v); i++)
			if (!depth_ok(json_array_get(v, i), max - 1))
				return false;
	} else {
		json_t *o = (json_t *)(uintptr_t)v, *val;
		const char *key;

		json_object_foreach(o, key, val) {
			(void)key;
			if (!depth_ok(val, max - 1))
				return false;
		}
	}
	return true;
}

/* Apply object patch p to object t in place (t is ours). */
static kdc_err
apply(json_t *t, const json_t *p)
{
	json_t *po = (json_t *)(uintptr_t)p, *v, *cur, *n;
	const char *key;
	size_t keylen;
	kdc_err r;

	json_object_keylen_foreach(po, key, keylen, v) {
		if (json_is_null(v)) {
			json_object_deln(t, key, keylen);
			continue;
		}
		cur = json_object_getn(t, key, keylen);
		if (json_is_object(v)) {
			if (json_is_object(cur)) {
				if ((r = apply(cur, v)) != KDC_OK)
					return r;
				continue;
			}
			if ((n = json_object()) == NULL)
				return KDC_ERR_NOMEM;
			if ((r = apply(n, v)) != KDC_OK) {
				json_decref(n);
				return r;
			}
		} else if ((n = json_deep_copy(v)) == NULL)
			return KDC_ERR_NOMEM;
		if (json_object_setn_new(t, key, keylen, n) != 0)
			return KDC_ERR_NOMEM;
	}
	return KDC_OK;
}

kdc_err
kdc_merge_patch(const json_t *target, const json_t *patch, json_t **out)
{
	json_t *t = NULL;
	kdc_err r;

	*out = NULL;
	if (patch == NULL)
		return KDC_ERR_INVALID_ARG;
	if (!depth_ok(patch, KDC_MERGE_DEPTH_MAX) ||
	    (target != NULL && !depth_ok(target, KDC_MERGE_DEPTH_MAX)))
		return KDC_ERR_TOO_LARGE;
	if (!json_is_object(patch)) {
		if ((*out = json_deep_copy(patch)) == NULL)
			return KDC_ERR_NOMEM;
		return KDC_OK;
	}
	t = json_is_object(target) ? json_deep_copy(target) : json_object();
	if (t == NULL)
		return KDC_ERR_NOMEM;
	if ((r = apply(t, patch)) != KDC_OK) {
		json_decref(t);
		return r;
	}
	*out = t;
	return KDC_OK;
}

/*
 * The patch value that makes a member (absent, or not an object) equal to
 * v: v itself, with its objects free of null members (UNSUPPORTED else).
 */
static kdc_err
express(const json_t *v, json_t **out)
{
	json_t *o = (json_t *)(uintptr_t)v, *val;
	const char *key;

	if (json_is_object(v)) {
		json_object_foreach(o, key, val) {
			(void)key;
			if (json_is_null(val))
				return KDC_ERR_UNSUPPORTED;
			if (json_is_object(val) && express(val, NULL) != KDC_OK)
				return KDC_ERR_UNSUPPORTED;
		}
	}
	if (out != NULL && (*out = json_deep_copy(v)) == NULL)
		return KDC_ERR_NOMEM;
	return KDC_OK;
}

/* Both objects. */
static kdc_err
diff(const json_t *from, const json_t *to, json_t **out)
{
	json_t *p, *f = (json_t *)(uintptr_t)from, *t = (json_t *)(uintptr_t)to;
	json_t *v, *old, *n = NULL;
	const char *key;
	size_t keylen;
	kdc_err r = KDC_OK;

	if ((p = json_object()) == NULL)
		return KDC_ERR_NOMEM;
	json_object_keylen_foreach(f, key, keylen, v) {
		(void)v;
		if (json_object_getn(to, key, keylen) == NULL &&
		    json_object_setn_new(p, key, keylen, json_null()) != 0) {
			r = KDC_ERR_NOMEM;
			goto out;
		}
	}
	json_object_keylen_foreach(t, key, keylen, v) {
		old = json_object_getn(from, key, keylen);
		if (old != NULL && json_equal(old, v))
			continue;
		if (json_is_null(v)) {
			r = KDC_ERR_UNSUPPORTED;
			goto out;
		}
		if (json_is_object(v) && json_is_object(old))
			r = diff(old, v, &n);
		else
			r = express(v, &n);
		if (r != KDC_OK)
			goto out;
		if (json_object_setn_new(p, key, keylen, n) != 0) {
			r = KDC_ERR_NOMEM;
			goto out;
		}
	}
	*out = p;
	p = NULL;
out:
	json_decref(p);
	return r;
}

kdc_err
kdc_merge_diff(const json_t *from, const json_t *to, json_t **patch)
{
	*patch = NULL;
	if (from == NULL || to == NULL)
		return KDC_ERR_INVALID_ARG;
	if (!depth_ok(from, KDC_MERGE_DEPTH_MAX) || !depth_ok(to, KDC_MERGE_DEPTH_MAX))
		return KDC_ERR_TOO_LARGE;
	if (json_is_object(from) && json_is_object(to))
		return diff(from, to, patch);
	/* a non-object patch replaces; an object one merges into {} */
	return express(to, patch);
}
