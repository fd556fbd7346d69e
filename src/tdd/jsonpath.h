/*
 * jsonpath.h: JSONPath queries (RFC 9535) on jansson values, for the Thing
 * Directory's search API (WoT Discovery §7.3.2.4.2).
 *
 * The whole RFC 9535 query syntax: `$`, child and descendant segments,
 * name / wildcard / index / slice / filter selectors, several selectors in
 * brackets, filters with `@` and `$` queries, existence tests,
 * comparisons, `&&`, `||`, `!`, parentheses, and the function extensions
 * length(), count(), match(), search() and value() with §2.4.3's
 * well-typedness rules. match() and search() use our I-Regexp matcher
 * (iregexp.h): a pattern that is not an I-Regexp, or is past that
 * matcher's bounds, makes the function return LogicalFalse (§2.4.6).
 * Normalized paths are not produced.
 *
 * Untrusted input: the query is bounded (bytes, nesting), evaluation by a
 * caller's work budget (nodes visited, regex steps) and a recursion depth
 * (KDC_JSONPATH_DEPTH_MAX frames of descent and filter nesting).
 */
#ifndef KDC_TDD_JSONPATH_H
#define KDC_TDD_JSONPATH_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "base/err.h"

#define KDC_JSONPATH_LEN_MAX	1024	/* query bytes: a search request, not a program */
#define KDC_JSONPATH_NEST_MAX	32	/* nesting of brackets/parens/filters/function calls */
#define KDC_JSONPATH_KEY_MAX	256	/* one required path of kdc_jsonpath_required(), NUL included */
/* Recursion of an evaluation (document depth descended plus filter nesting):
 * jansson parses documents at most 2048 deep; deeper is TOO_LARGE. */
#define KDC_JSONPATH_DEPTH_MAX	4096

struct kdc_jsonpath;

/*
 * Parse query q[0, len) (UTF-8, no NUL needed). INVALID_ARG for a syntax
 * or well-typedness error, with a reason naming the byte offset in why
 * ("at byte 7: ..."); TOO_LARGE past KDC_JSONPATH_LEN_MAX or
 * KDC_JSONPATH_NEST_MAX (why says which); NOMEM. why may be NULL.
 */
kdc_err	kdc_jsonpath_parse(const char *q, size_t len, struct kdc_jsonpath **out,
	    char *why, size_t whylen);
/* NULL does nothing. */
void	kdc_jsonpath_free(struct kdc_jsonpath *q);

/*
 * Evaluate q on root, appending the result nodes (json_incref'd, in RFC
 * order; object members in jansson's order, which is insertion order) to
 * out, a json array. *budget counts work down (one unit per node visited,
 * plus regex steps); TOO_LARGE when it runs out or past
 * KDC_JSONPATH_DEPTH_MAX, NOMEM. On error out holds what was appended
 * before it (the caller discards it).
 */
kdc_err	kdc_jsonpath_eval(const struct kdc_jsonpath *q, const json_t *root,
	    json_t *out, size_t *budget);

/*
 * A directory evaluates a query whose root is the array of all TDs. When
 * the first segment is a child segment with one selector, a wildcard or a
 * filter, and no filter anywhere refers to `$`, the result is the
 * concatenation, over the root array's elements in order, of evaluating
 * the query with only that element: per_member is then true and
 * eval_member computes one element's part (same errors as eval). (Several
 * selectors in the first segment are not per member: `$[*,?@.a]` lists all
 * members, then those with a, not member by member.)
 */
bool	kdc_jsonpath_per_member(const struct kdc_jsonpath *q);
kdc_err	kdc_jsonpath_eval_member(const struct kdc_jsonpath *q, const json_t *member,
	    json_t *out, size_t *budget);

/*
 * A necessary condition for eval_member to produce anything: member-name
 * paths that must exist in the member (each path = up to 2 member names
 * joined by '\x1f', e.g. "properties\x1flightColor"), a conjunction,
 * derived from the filter when the first segment is one filter selector:
 * existence tests, comparisons that are false on Nothing, match()/search()
 * and length()/value() arguments; `||` keeps what both sides require
 * (prefixes included), `!` requires nothing. Paths deeper than 2 names are
 * cut to their first 2; a name holding '\x1f' or NUL is never required, nor
 * one that would not fit in KDC_JSONPATH_KEY_MAX with its prefix.
 * Returns the number written (≤ max); 0 means "no condition".
 */
size_t	kdc_jsonpath_required(const struct kdc_jsonpath *q,
	    char (*paths)[KDC_JSONPATH_KEY_MAX], size_t max);

/*
 * True when q is `$[?F]` alone (one segment, one filter selector) and F
 * is only existence tests of `@.a` or `@.a.b` (name selectors; names
 * without '\x1f' or NUL that fit KDC_JSONPATH_KEY_MAX joined) under `&&`
 * and parentheses. Then a member is in the result if and only if it is
 * an object having every path kdc_jsonpath_required() gives (`@.a.b`: a
 * is an object with a member b), and the result is those members
 * themselves: a directory that indexes member-name paths of depth 1 and
 * 2 answers without evaluating.
 */
bool	kdc_jsonpath_index_exact(const struct kdc_jsonpath *q);

#endif
