/*
 * code.c: what a CoAP face builds its answer with, without the engine:
 * kdc_err -> CoAP response code (coap.h kdc_coap_code()) and owned
 * response payloads. Alone in its file so a face's unit test can link it
 * with a fake engine.
 */
#include <string.h>

#include "base/alloc.h"
#include "coap/coap.h"
#include "crypto/crypto.h"

/*
 * The one table from kdc_err to a CoAP response code, for every CoAP face
 * (coap.h). A refusal of an authenticated peer is 4.03: its handshake
 * proved who it is, what it asks is not allowed; 4.01 is for a peer that
 * has not authenticated (UNTRUSTED, and the engine's own refusal).
 */
uint8_t
kdc_coap_code(kdc_err r)
{
	switch (r) {
	case KDC_OK:			return KDC_COAP_CONTENT;
	case KDC_ERR_TRUNCATED:
	case KDC_ERR_MALFORMED:
	case KDC_ERR_TRAILING:
	case KDC_ERR_INVALID_ARG:
	case KDC_ERR_BAD_SIGNATURE:
	case KDC_ERR_UNSUPPORTED_KEY:	return KDC_COAP_BAD_REQUEST;
	case KDC_ERR_TOO_LARGE:		return KDC_COAP_TOO_LARGE;
	case KDC_ERR_NOT_FOUND:		return KDC_COAP_NOT_FOUND;
	case KDC_ERR_UNSUPPORTED:	return KDC_COAP_UNSUPPORTED_CF;
	case KDC_ERR_UNTRUSTED:		return KDC_COAP_UNAUTHORIZED;
	case KDC_ERR_UNKNOWN_DEVICE:
	case KDC_ERR_REVOKED:
	case KDC_ERR_EXPIRED:
	case KDC_ERR_NOT_YET_VALID:
	case KDC_ERR_WRONG_TYPE:
	case KDC_ERR_DENIED:
	case KDC_ERR_UNKNOWN_PROFILE:
	case KDC_ERR_UNKNOWN_AUDIENCE:	return KDC_COAP_FORBIDDEN;
	case KDC_ERR_STORE_BUSY:
	case KDC_ERR_BUSY:		return KDC_COAP_UNAVAILABLE;
	default:			return KDC_COAP_INTERNAL;
	}
}

/* An owned payload: its length, for the wipe, then the bytes. */
struct owned {
	size_t	len;
	uint8_t	data[];
};

static void
owned_release(void *arg)
{
	struct owned *o = arg;

	kdc_wipe(o->data, o->len);
	kdc_free(o);
}

uint8_t *
kdc_coap_resp_alloc(struct kdc_coap_resp *rs, size_t len)
{
	struct owned *o;

	if (len > KDC_COAP_RESP_MAX ||
	    (o = kdc_malloc(sizeof(*o) + len)) == NULL)
		return NULL;
	kdc_coap_resp_release(rs);
	o->len = len;
	rs->payload = o->data;
	rs->payload_len = len;
	rs->release = owned_release;
	rs->release_arg = o;
	return o->data;
}

void
kdc_coap_resp_release(struct kdc_coap_resp *rs)
{
	void (*release)(void *) = rs->release;
	void *arg = rs->release_arg;

	rs->release = NULL;
	rs->release_arg = NULL;
	rs->payload = NULL;
	rs->payload_len = 0;
	if (release != NULL)
		release(arg);
}
