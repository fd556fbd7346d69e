/*
 * mergepatch.h: JSON Merge Patch (RFC 7396) on jansson values, for the
 * Thing Directory's PATCH of a TD (WoT Discovery §7.3.2.1.4) and its
 * update events' diffs.
 */
#ifndef KDC_TDD_MERGEPATCH_H
#define KDC_TDD_MERGEPATCH_H

#include <jansson.h>

#include "base/err.h"

/* Containers nested in a target, a patch, or a diff's documents. */
#define KDC_MERGE_DEPTH_MAX	64

/*
 * *out = target patched by patch (RFC 7396 §2), a new reference sharing
 * nothing with either argument (target unchanged). target NULL is taken
 * as an absent value. TOO_LARGE: target or patch nested deeper than
 * KDC_MERGE_DEPTH_MAX; NOMEM.
 */
kdc_err	kdc_merge_patch(const json_t *target, const json_t *patch, json_t **out);

/*
 * *patch = a merge patch p with merge(from, p) == to, minimal: only the
 * members that changed (arrays and non-objects replaced whole, a member
 * removed becomes null). UNSUPPORTED when `to` holds a null member value
 * that a merge patch cannot express (a new or changed member whose value
 * is, or holds in nested objects, null). TOO_LARGE as above; NOMEM.
 */
kdc_err	kdc_merge_diff(const json_t *from, const json_t *to, json_t **patch);

#endif
