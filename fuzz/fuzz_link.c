/*
 * fuzz_link.c: walk a link-format document with kdc_link_next(), then
 * re-encode what it gave and parse that again. Seeds: fuzz/corpus/link/
 * (made by tests/vectors/lwm2m/gen.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m/codec.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kdc_rd rd;
	struct kdc_link l, links[16];
	uint8_t out[512];
	size_t n = 0, len = sizeof(out);

	kdc_rd_init(&rd, data, size);
	while (kdc_link_next(&rd, &l) == KDC_OK) {
		if (memchr(l.lwm2m, '\0', sizeof(l.lwm2m)) == NULL ||
		    memchr(l.ver, '\0', sizeof(l.ver)) == NULL)
			abort();
		if (l.oid >= 0 && l.rid < 0 && n < 16)
			links[n++] = l;
	}
	/* What the decoder took, the encoder writes and the decoder reads. */
	if (kdc_link_encode("1.1", links, n, out, &len) == KDC_OK) {
		size_t k = 0;

		kdc_rd_init(&rd, out, len);
		if (kdc_link_next(&rd, &l) != KDC_OK)
			abort();
		while (kdc_link_next(&rd, &l) == KDC_OK) {
			if (k >= n || l.oid != links[k].oid ||
			    l.iid != links[k].iid || l.ssid != links[k].ssid ||
			    strcmp(l.ver, links[k].ver) != 0)
				abort();
			k++;
		}
		if (k != n || !kdc_rd_at_end(&rd) ||
		    kdc_rd_err(&rd) != KDC_OK)
			abort();
	}
	return 0;
}
