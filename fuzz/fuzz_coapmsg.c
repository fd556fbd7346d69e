/*
 * fuzz_coapmsg.c: a datagram as the CoAP face reads it. libcoap parses
 * the bytes into a PDU (coap_pdu_parse(), as its UDP and DTLS paths do),
 * then kdc_coap_msg_decode() turns options into our request (Uri-Path
 * joined, Uri-Query items, Content-Format, Accept, Location-Path, the
 * body). Checked: every string ends inside its array, the query count
 * and the body stay within their limits, the body lies inside the PDU,
 * and kdc_coap_msg_query() finds only what was decoded. Seeds:
 * fuzz/corpus/coapmsg/ (fuzz/seeds.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <coap3/coap.h>

#include "coap/coap_int.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int started;
	struct kdc_coap_msg m;
	char location[KDC_COAP_PATH_MAX + 1];
	const uint8_t *body = NULL;
	size_t body_len = 0;
	coap_pdu_t *pdu;
	const char *ep;

	if (!started) {
		coap_startup();
		coap_set_log_level(LOG_EMERG);
		started = 1;
	}
	if ((pdu = coap_pdu_init(0, 0, 0, size + 16)) == NULL)
		return 0;
	if (!coap_pdu_parse(COAP_PROTO_UDP, data, size, pdu)) {
		coap_delete_pdu(pdu);
		return 0;
	}
	(void)coap_get_data(pdu, &body_len, &body);
	if (kdc_coap_msg_decode(pdu, &m, location, sizeof(location)) ==
	    KDC_OK) {
		if (memchr(m.path, '\0', sizeof(m.path)) == NULL ||
		    m.nquery > KDC_COAP_QUERY_MAX ||
		    m.payload_len > KDC_COAP_BODY_MAX ||
		    (m.payload_len > 0 && (m.payload != body ||
		    m.payload_len != body_len)) ||
		    (m.location != NULL && m.location != location))
			abort();
		for (size_t i = 0; i < m.nquery; i++)
			if (memchr(m.query[i], '\0', sizeof(m.query[i])) ==
			    NULL)
				abort();
		if (memchr(location, '\0', sizeof(location)) == NULL)
			abort();
		if ((ep = kdc_coap_msg_query(&m, "ep")) != NULL &&
		    (ep < &m.query[0][0] || ep >= (const char *)(m.query +
		    KDC_COAP_QUERY_MAX)))
			abort();	/* a value outside the decoded items */
	}
	coap_delete_pdu(pdu);
	return 0;
}
