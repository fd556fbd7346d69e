/* fuzz_anchor.c: kdc_audit_anchor_parse() (the data dir's audit.head)
 * over arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "core/audit.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hash[32], mac[32];
	int64_t seq;

	if (kdc_audit_anchor_parse((const char *)data, size, &seq, hash,
	    mac) == KDC_OK && seq <= 0)
		abort();	/* the contract: seq 1.. on success */
	return 0;
}
