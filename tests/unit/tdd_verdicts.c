/*
 * tdd_verdicts: the valid/invalid verdict of src/tdd/jschema.c for each
 * document against every schema given, for the python3-jsonschema peer
 * test (tdd_jschema_peer.py). Usage:
 *   tdd_verdicts SCHEMA.json... -- DOC.json...
 * prints "valid DOC" or "invalid DOC: field: description" per document;
 * a document is valid when it is valid against every schema. Exit 2 on a
 * usage, schema or parse error.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "tdd/jschema.h"

#define SCHEMAS_MAX	8

int
main(int argc, char **argv)
{
	struct kdc_jschema *s[SCHEMAS_MAX];
	static struct kdc_verrs errs;
	size_t ns = 0, k;
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		json_error_t je;
		json_t *j = json_load_file(argv[i], 0, &je);
		char why[256];
		kdc_err r;

		if (j == NULL || ns == SCHEMAS_MAX) {
			fprintf(stderr, "%s: %s\n", argv[i], j ? "too many" :
			    je.text);
			return 2;
		}
		r = kdc_jschema_compile(j, &s[ns], why, sizeof(why));
		json_decref(j);
		if (r != KDC_OK) {
			fprintf(stderr, "%s: compile %d: %s\n", argv[i], r, why);
			return 2;
		}
		ns++;
	}
	if (i == argc || ns == 0) {
		fprintf(stderr, "usage: tdd_verdicts SCHEMA... -- DOC...\n");
		return 2;
	}
	for (i++; i < argc; i++) {
		json_error_t je;
		json_t *d = json_load_file(argv[i], JSON_DECODE_ANY, &je);
		bool ok = true;

		if (d == NULL) {
			fprintf(stderr, "%s: %s\n", argv[i], je.text);
			return 2;
		}
		for (k = 0; k < ns && ok; k++)
			ok = kdc_jschema_validate(s[k], d, &errs);
		if (ok)
			printf("valid %s\n", argv[i]);
		else
			printf("invalid %s: %s: %s\n", argv[i], errs.e[0].field,
			    errs.e[0].description);
		json_decref(d);
	}
	for (k = 0; k < ns; k++)
		kdc_jschema_free(s[k]);
	return 0;
}
