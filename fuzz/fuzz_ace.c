/*
 * fuzz_ace.c: the AS's request decoders (src/ace/codec.c): a token
 * request and an introspection request from the same bytes; what a token
 * request gave is re-encoded as an answer (the encoders must take any
 * views the decoder hands out). Seeds: fuzz/corpus/ace/ (the RFC 9200/
 * 9201/9202 requests, tests/unit/test_ace_codec.c's).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ace/ace.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kdc_ace_token_resp tr;
	struct kdc_ace_token_req q;
	const uint8_t *tok;
	uint8_t out[2048];
	size_t tl, n;

	if (kdc_ace_token_req_parse(data, size, &q) == KDC_OK) {
		/* every view lies inside the input */
		if ((q.audience_len > 0 && ((const uint8_t *)q.audience < data ||
		    (const uint8_t *)q.audience + q.audience_len > data + size)) ||
		    q.scope_len > KDC_ACE_SCOPE_MAX ||
		    q.refresh_len > KDC_ACE_REFRESH_MAX ||
		    q.cnonce_len > KDC_ACE_CNONCE_MAX)
			abort();
		memset(&tr, 0, sizeof(tr));
		if (q.refresh_len > 0)
			memcpy(tr.refresh, q.refresh, q.refresh_len);
		tr.refresh_len = q.refresh_len;
		if (q.scope_len > 0) {
			memcpy(tr.scope, q.scope, q.scope_len);
			tr.scope_differs = true;
		}
		n = sizeof(out);
		if (kdc_ace_token_resp_encode(&tr, out, &n) != KDC_OK)
			abort();
	}
	if (kdc_ace_introspect_req_parse(data, size, &tok, &tl) == KDC_OK &&
	    (tok < data || tok + tl > data + size || tl == 0))
		abort();
	return 0;
}
