/*
 * fuzz_coapdemux.c: the first thing the engine reads of a datagram from
 * anyone (eng.c kdc_coap_demux()): the first record's header and, for an
 * epoch-0 handshake record, the ClientHello's random and cookie length.
 * Checked: a hello is only ever an epoch-0 handshake record with a cookie
 * of at most 32 bytes, and the answer depends on the datagram's bytes
 * alone (the same bytes followed by anything else give the same answer
 * as long as the first record lies inside them). Seeds: fuzz/corpus/coapdemux/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coap/eng_int.h"
#include "coap/record.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kdc_coap_hello a, b;
	uint8_t *copy;
	kdc_err ra, rb;

	ra = kdc_coap_demux(data, size, &a);
	if (ra == KDC_OK && a.is_hello &&
	    (a.type != KDC_REC_HANDSHAKE || a.epoch != 0 || a.cookie_len > 32))
		abort();
	if (ra != KDC_OK && ra != KDC_ERR_TRUNCATED && ra != KDC_ERR_MALFORMED)
		abort();
	/* the same datagram in a larger buffer: same verdict when the
	 * record fits in the original (a length field may not reach out) */
	if ((copy = malloc(size + 64)) == NULL)
		return 0;
	memcpy(copy, data, size);
	memset(copy + size, 0xA5, 64);
	rb = kdc_coap_demux(copy, size, &b);
	if (ra != rb || memcmp(&a, &b, sizeof(a)) != 0)
		abort();
	free(copy);
	return 0;
}
