/*
 * fuzz_tdlint.c: a JSON document through kdc_td_lint(): the count within
 * max (more may also mean the work bound stopped it), every finding's strings terminated and free of control bytes, a
 * known rule id. Seeds: fuzz/corpus/tdlint/ (fuzz/seeds.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tdd/lint.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const rules[] = { "cleartext-credentials", "psk-without-dtls",
    "nosec-remote", "mqtt-needs-basic-and-psk", "deprecated-oauth2-flow",
    "apikey-in-query" };

static void
check_str(const char *s, size_t cap)
{
	size_t i, n = strnlen(s, cap);

	if (n == cap)
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kdc_lint out[8];
	json_t *td = json_loadb((const char *)data, size, 0, NULL);
	size_t n, i, k;
	bool more;

	if (td == NULL)
		return 0;
	n = kdc_td_lint(td, out, 8, &more);
	if (n > 8)
		abort();
	for (i = 0; i < n; i++) {
		check_str(out[i].rule, sizeof(out[i].rule));
		check_str(out[i].field, sizeof(out[i].field));
		check_str(out[i].description, sizeof(out[i].description));
		for (k = 0; k < sizeof(rules) / sizeof(rules[0]); k++)
			if (strcmp(out[i].rule, rules[k]) == 0)
				break;
		if (k == sizeof(rules) / sizeof(rules[0]))
			abort();
	}
	json_decref(td);
	return 0;
}
