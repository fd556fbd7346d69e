/*
 * tdcheck.h: the TD validation the Thing Directory runs before storing a
 * TD (WoT Discovery §7.3.2.1.6, "Minimal Validation" of TD 1.1 §6.5.1):
 *   1. the W3C TD 1.1 JSON Schema (schemas/td-json-schema-validation.json);
 *   2. the Discovery registration schema (schemas/discovery-schema.json)
 *      for the `registration` member of an Enriched TD;
 *   3. the spot checks the schema cannot express:
 *      - every name in `security` (top level, and in every form: top-level
 *        forms and those of properties, actions, events) is a key of
 *        `securityDefinitions`;
 *      - every name in a combo scheme's `oneOf`/`allOf` is a key of
 *        `securityDefinitions` and not the combo itself.
 * Both schemas are built into the binary (schemas/embed.cmake); an
 * operator may load others from a directory. The checker is immutable
 * once made: validate from any number of threads.
 */
#ifndef KDC_TDD_TDCHECK_H
#define KDC_TDD_TDCHECK_H

#include <stdbool.h>

#include <jansson.h>

#include "base/err.h"
#include "tdd/jschema.h"

/* Largest schema file kdc_tdcheck_load() reads (the TD 1.1 one is 32 KiB). */
#define KDC_TDCHECK_SCHEMA_FILE_MAX	(4L * 1024 * 1024)

struct kdc_tdcheck;

/*
 * The schemas built into the binary. Errors (reason in why): those of
 * kdc_jschema_compile(), KDC_ERR_MALFORMED if an embedded file does not
 * parse (a build error), KDC_ERR_NOMEM.
 */
kdc_err	kdc_tdcheck_builtin(struct kdc_tdcheck **out, char *why,
	    size_t whylen);
/*
 * The operator's override: dir/td-schema.json and dir/discovery-schema.json.
 * Errors (reason in why, naming the file): KDC_ERR_IO (missing,
 * unreadable), KDC_ERR_TOO_LARGE (over KDC_TDCHECK_SCHEMA_FILE_MAX),
 * KDC_ERR_MALFORMED (not JSON, or a bad schema), KDC_ERR_UNSUPPORTED
 * (a schema using what jschema.h refuses), KDC_ERR_INVALID_ARG, NOMEM.
 */
kdc_err	kdc_tdcheck_load(const char *dir, struct kdc_tdcheck **out,
	    char *why, size_t whylen);
/* NULL does nothing. */
void	kdc_tdcheck_free(struct kdc_tdcheck *c);
/*
 * true when td passes all three steps. errs (may be NULL) gets the errors
 * of every step, in the W3C form (field "(root)" or a dotted path).
 */
bool	kdc_tdcheck_validate(const struct kdc_tdcheck *c, const json_t *td,
	    struct kdc_verrs *errs);

#endif
