/*
 * fuzz_senml.c: kdc_senml_cbor_decode() with a callback that checks each
 * record (borrowed bytes inside the input, ids in range). Seeds:
 * fuzz/corpus/senml/ (made by tests/vectors/lwm2m/gen.py).
 */
#include <stdint.h>
#include <stdlib.h>

#include "lwm2m/codec.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct span {
	const uint8_t	*p;
	size_t		 len;
};

static kdc_err
check(void *arg, const struct kdc_senml_rec *r)
{
	const struct span *in = arg;

	if (r->oid < 0 || r->oid > 65535 || r->iid < 0 || r->iid > 65535 ||
	    r->rid < 0 || r->rid > 65535 || r->riid < -1 || r->riid > 65535)
		abort();
	if ((r->type == KDC_LWM2M_STRING || r->type == KDC_LWM2M_OPAQUE) &&
	    r->len > 0 && (r->bytes < in->p || r->len > in->len ||
	    (size_t)(r->bytes - in->p) > in->len - r->len))
		abort();
	if (r->type == KDC_LWM2M_BOOL && r->i != 0 && r->i != 1)
		abort();
	return KDC_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct span in = { data, size };

	(void)kdc_senml_cbor_decode(data, size, check, &in);
	return 0;
}
