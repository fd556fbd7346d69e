/*
 * fuzz_tlv.c: walk LwM2M TLV records (kdc_tlv_next), nested object
 * instances and multiple resources included, decoding every scalar as
 * integer, boolean and object link. Seeds: fuzz/corpus/tlv/ (made by
 * tests/vectors/lwm2m/gen.py).
 */
#include <stdint.h>
#include <stdlib.h>

#include "lwm2m/codec.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
walk(const uint8_t *buf, size_t len, unsigned depth)
{
	struct kdc_rd rd;
	struct kdc_tlv t;
	int64_t i;
	int b;
	uint16_t o, ii;

	if (depth > 2)
		abort();	/* kdc_tlv_next let something nest too deep */
	kdc_rd_init(&rd, buf, len);
	while (kdc_tlv_next(&rd, &t) == KDC_OK) {
		if (t.value < buf || t.len > len ||
		    (size_t)(t.value - buf) > len - t.len)
			abort();	/* a value outside its parent */
		if (t.kind == 0 || t.kind == 2) {
			walk(t.value, t.len, depth + 1);
			continue;
		}
		(void)kdc_tlv_int(&t, &i);
		(void)kdc_tlv_bool(&t, &b);
		(void)kdc_tlv_objlnk(&t, &o, &ii);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	walk(data, size, 0);
	return 0;
}
