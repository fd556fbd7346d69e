/*
 * eng_int.h: the engine's parts that its tests and fuzz harnesses reach
 * (not the faces: they see coap.h; not xl.c: it sees xl.h).
 */
#ifndef KDC_COAP_ENG_INT_H
#define KDC_COAP_ENG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/*
 * What the demultiplexer reads of a datagram's first record before any
 * state exists for its sender: whether it is an epoch-0 ClientHello (the
 * only thing that may create a session, and only with a valid cookie),
 * and that hello's random and cookie. Bounded: the datagram is the
 * peer's; nothing is allocated.
 */
struct kdc_coap_hello {
	bool		 is_hello;	/* epoch 0, handshake, ClientHello,
					 * first fragment */
	uint16_t	 epoch;		/* the first record's */
	uint8_t		 type;		/* the first record's content type */
	uint8_t		 random[32];
	uint8_t		 cookie_len;
	bool		 offers_ecdsa;	/* an ECDHE_ECDSA suite is offered: a
					 * certificate or RPK peer (tickets) */
};

/* KDC_OK (h filled; is_hello says what it is), KDC_ERR_TRUNCATED or
 * KDC_ERR_MALFORMED when the first record's header does not parse (the
 * datagram is dropped). A ClientHello whose body is cut short is not a
 * hello (is_hello false). */
kdc_err	kdc_coap_demux(const uint8_t *buf, size_t len,
	    struct kdc_coap_hello *h);

#endif
