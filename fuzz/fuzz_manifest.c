/*
 * fuzz_manifest.c: kdc_manifest_parse_line() on the whole input, then the
 * import loop's view of it: split with kdc_manifest_next_line(), skip
 * blank lines, parse each. Seeds: fuzz/corpus/manifest/ (made by
 * tests/vectors/manifest/gen.sh).
 */
#include <stdint.h>
#include <stdlib.h>

#include "core/manifest.h"
#include "crypto/crypto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct kdc_device_spec spec;
	const char *buf = (const char *)data, *line;
	size_t off = 0, line_len;
	char why[128];

	if (!ready) {
		if (kdc_crypto_init() != KDC_OK)
			abort();
		ready = 1;
	}
	(void)kdc_manifest_parse_line(buf, size, &spec, why, sizeof(why));
	kdc_wipe(&spec, sizeof(spec));
	while (kdc_manifest_next_line(buf, size, &off, &line, &line_len)) {
		if (line < buf || line_len > size - (size_t)(line - buf) ||
		    off > size)
			abort();
		if (kdc_manifest_line_blank(line, line_len))
			continue;
		(void)kdc_manifest_parse_line(line, line_len, &spec, why,
		    sizeof(why));
		kdc_wipe(&spec, sizeof(spec));
	}
	return 0;
}
