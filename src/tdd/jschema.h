/*
 * jschema.h: a JSON Schema draft-07 validator on jansson values, for the
 * Thing Directory's TD validation (W3C TD 1.1 JSON Schema, the Discovery
 * registration schema) and an operator's own schemas.
 *
 * Compile once, validate many times: kdc_jschema_compile() resolves every
 * $ref and compiles every regex; the result is immutable, so any number of
 * threads may call kdc_jschema_validate() on it at once.
 *
 * Keywords implemented (draft-07): type, enum, const, properties,
 * patternProperties, additionalProperties, required, minProperties,
 * maxProperties, dependencies (array and schema forms), propertyNames,
 * items (schema and array forms), additionalItems, contains, minItems,
 * maxItems, uniqueItems, minLength, maxLength (in code points), pattern,
 * minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers, draft-06+
 * form), multipleOf, allOf, anyOf, oneOf, not, if/then/else, $ref to a
 * JSON pointer inside the same document ("#", "#/definitions/x", with
 * ~0 ~1 and %-escapes), boolean schemas.
 * Annotations, ignored: title, description, $comment, default, examples,
 * readOnly, writeOnly, definitions/$defs (reached through $ref only),
 * format (every format is an annotation, as in python-jsonschema's
 * Draft7Validator without a format checker), contentMediaType,
 * contentEncoding, and any keyword unknown to draft-07 (e.g. the TD
 * schema's "version"), as the draft says.
 * Refused at compile with KDC_ERR_UNSUPPORTED (they would change the
 * verdict and are not implemented): $ref to anything but a local JSON
 * pointer (remote, "#anchor"), $id in a subschema (it moves the base of
 * the $refs under it), a root $schema other than draft-07 (or -06), the
 * later drafts' keywords ($recursiveRef, $dynamicRef, $anchor,
 * unevaluatedProperties/Items, dependentRequired/Schemas, prefixItems,
 * minContains/maxContains) and draft-03/04 forms (disallow, extends,
 * divisibleBy, boolean exclusiveMinimum/Maximum), regexes using
 * ECMA-262 features POSIX ERE lacks (lookaround, lazy quantifiers,
 * backreferences, \b, \p{..}, \u escapes, the empty classes "[]" and
 * "[^]", POSIX "[:class:]" inside brackets): see docs/traps.md.
 * Patterns are compiled with regcomp(REG_EXTENDED | REG_NOSUB) after
 * translating \d \D \w \W \s \S and the escaped punctuation; they are
 * matched on bytes (a '.' is one byte, not one code point).
 */
#ifndef KDC_TDD_JSCHEMA_H
#define KDC_TDD_JSCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "base/err.h"

/* Errors kept by one validation; later ones set `truncated`. 32 is more
 * than a client fixes in one round and keeps struct kdc_verrs at 16 KiB. */
#define KDC_JSCHEMA_ERRORS_MAX	32
/* Nesting of subschema evaluations (each $ref counts) during one
 * validation. A realistic TD 1.1 uses ~20 (nested data schemas add 4 per
 * level); a $ref loop stops here instead of blowing the stack. */
#define KDC_JSCHEMA_DEPTH_MAX	64
/* Subschema evaluations (plus uniqueItems comparisons) in one validation.
 * A typical TD costs a few thousand; 2^20 keeps a hostile document (or an
 * operator schema with nested oneOf) under ~50 ms. */
#define KDC_JSCHEMA_WORK_MAX	(1L << 20)
/* Subschemas in one compiled schema (the TD 1.1 schema has ~600). */
#define KDC_JSCHEMA_NODES_MAX	20000

struct kdc_verr {
	char	field[256];		/* "(root)" or e.g. "properties.status.forms.0.href" */
	char	description[256];	/* e.g. "security is required" */
};

struct kdc_verrs {
	size_t		n;
	bool		truncated;	/* more errors than KDC_JSCHEMA_ERRORS_MAX */
	struct kdc_verr	e[KDC_JSCHEMA_ERRORS_MAX];
};

struct kdc_jschema;

/*
 * Compile schema (an object or a boolean; a deep copy is kept, the caller
 * keeps its own). On success *out is set, to be freed with
 * kdc_jschema_free(). Errors, with a one-line reason in why (if not NULL):
 *   KDC_ERR_INVALID_ARG   schema or out NULL
 *   KDC_ERR_MALFORMED     a keyword with a value of the wrong shape, a
 *                         $ref that does not resolve, a bad regex (stacked
 *                         quantifiers "a++" included, as in ECMA-262)
 *   KDC_ERR_UNSUPPORTED   a keyword or $ref form listed above as refused;
 *                         the reason names it
 *   KDC_ERR_TOO_LARGE     more than KDC_JSCHEMA_NODES_MAX subschemas, or a
 *                         pattern regcomp would unroll past 10000 atoms
 *                         (nested repetitions; a count above 1000)
 *   KDC_ERR_NOMEM
 */
kdc_err	kdc_jschema_compile(const json_t *schema, struct kdc_jschema **out,
	    char *why, size_t whylen);
/* NULL does nothing. */
void	kdc_jschema_free(struct kdc_jschema *s);
/*
 * true when doc is valid against s. errs (may be NULL) receives the
 * errors: for a failed oneOf/anyOf, one error (the deepest of the closest
 * branch, or "Must validate one and only one schema (oneOf)"), not one
 * per branch. Past KDC_JSCHEMA_DEPTH_MAX or KDC_JSCHEMA_WORK_MAX the
 * document is invalid with an error saying so. With errs NULL the
 * validation stops at the first failure.
 */
bool	kdc_jschema_validate(const struct kdc_jschema *s, const json_t *doc,
	    struct kdc_verrs *errs);

/* Append one error to errs (for callers adding their own checks). */
void	kdc_verrs_add(struct kdc_verrs *errs, const char *field,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
