/*
 * fuzz_multipart.c: decode multipart-core (kdc_multipart_decode, RFC
 * 8710), check every representation lies inside the input, and that
 * what decodes re-encodes (kdc_multipart_encode) to the same parts.
 * Seeds: fuzz/corpus/multipart/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lwm2m/codec.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct parts {
	const uint8_t	*base;
	size_t		 size, n;
	int		 cf[KDC_MULTIPART_MAX_PARTS];
	const uint8_t	*p[KDC_MULTIPART_MAX_PARTS];
	size_t		 len[KDC_MULTIPART_MAX_PARTS];
};

static kdc_err
on_part(void *arg, int cf, const uint8_t *part, size_t part_len)
{
	struct parts *ps = arg;

	if (ps->n >= KDC_MULTIPART_MAX_PARTS || cf < 0 || cf > 0xffff)
		abort();
	if (part == NULL ? part_len != 0 : (part < ps->base ||
	    part_len > ps->size ||
	    (size_t)(part - ps->base) > ps->size - part_len))
		abort();	/* a representation outside the input */
	ps->cf[ps->n] = cf;
	ps->p[ps->n] = part;
	ps->len[ps->n] = part_len;
	ps->n++;
	return KDC_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct parts ps, again;
	uint8_t *out;
	size_t out_len = size + 16;

	memset(&ps, 0, sizeof(ps));
	ps.base = data;
	ps.size = size;
	if (kdc_multipart_decode(data, size, on_part, &ps) != KDC_OK)
		return 0;
	/* the shortest encoding is never longer than what was decoded */
	if ((out = malloc(out_len)) == NULL)
		return 0;
	if (kdc_multipart_encode(ps.cf, (const uint8_t *const *)ps.p, ps.len,
	    ps.n, out, &out_len) != KDC_OK || out_len > size)
		abort();
	memset(&again, 0, sizeof(again));
	again.base = out;
	again.size = out_len;
	if (kdc_multipart_decode(out, out_len, on_part, &again) != KDC_OK ||
	    again.n != ps.n)
		abort();
	for (size_t i = 0; i < ps.n; i++)
		if (again.cf[i] != ps.cf[i] || again.len[i] != ps.len[i] ||
		    (ps.len[i] > 0 && memcmp(again.p[i], ps.p[i],
		    ps.len[i]) != 0))
			abort();
	free(out);
	return 0;
}
