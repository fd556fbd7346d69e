/*
 * fuzz_jschema.c: the TD validator on untrusted input. The input is a JSON
 * document, optionally followed by a NUL byte and a JSON schema. The
 * document goes through the built-in TD checker (kdc_tdcheck_validate);
 * with a schema, that schema is compiled and the document validated
 * against it. Oracles beyond "no crash": the verdict with errors collected
 * equals the fail-fast one, and an invalid verdict carries an error.
 * Seeds: fuzz/corpus/jschema/ (the TDs of tests/data/tdd/, and suite
 * cases as document NUL schema).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tdd/tdcheck.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(bool full, bool ff, const struct kdc_verrs *e)
{
	if (full != ff || (!full && e->n == 0) || (full && e->n != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kdc_tdcheck *chk;
	static struct kdc_verrs e;
	const uint8_t *nul = memchr(data, 0, size);
	size_t dlen = nul != NULL ? (size_t)(nul - data) : size;
	json_t *doc, *sch;
	bool full;

	if (chk == NULL && kdc_tdcheck_builtin(&chk, NULL, 0) != KDC_OK)
		abort();
	doc = json_loadb((const char *)data, dlen, JSON_DECODE_ANY, NULL);
	if (doc == NULL)
		return 0;
	full = kdc_tdcheck_validate(chk, doc, &e);
	check(full, kdc_tdcheck_validate(chk, doc, NULL), &e);
	if (nul != NULL && (sch = json_loadb((const char *)nul + 1,
	    size - dlen - 1, JSON_DECODE_ANY, NULL)) != NULL) {
		struct kdc_jschema *s = NULL;
		char why[128];

		if (kdc_jschema_compile(sch, &s, why, sizeof(why)) == KDC_OK) {
			full = kdc_jschema_validate(s, doc, &e);
			check(full, kdc_jschema_validate(s, doc, NULL), &e);
			kdc_jschema_free(s);
		} else if (why[0] == '\0')
			abort();	/* every refusal says why */
		json_decref(sch);
	}
	json_decref(doc);
	return 0;
}
