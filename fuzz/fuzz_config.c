/* fuzz_config.c: kdc_config_parse() over arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kdc_config cfg;
	char err[256], *text;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';	/* a NUL inside just ends the text early */
	(void)kdc_config_parse(text, &cfg, err, sizeof(err));
	free(text);
	return 0;
}
