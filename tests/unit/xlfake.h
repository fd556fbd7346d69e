/*
 * xlfake.h: a fake engine for the CoAP message layer (coap/xl.h), shared
 * by tests/unit/test_coap_xl.c and fuzz/fuzz_coapxl.c. It defines the
 * engine functions xl calls (xl.h: kdc_coap_peer_send() and the rest;
 * coap.h: kdc_coap_peer_endpoint(), kdc_coap_peer_addr()) over the
 * structs below: peers are counted references with one timer each, an
 * endpoint name and a session serial. No cmocka.
 *
 * The user defines, besides its clock kdc_coap_now_ms():
 * - kdc_xlfake_sent(): every message xl sends, after the fake checked
 *   it fits KDC_COAP_SEND_MAX; kdc_coap_peer_send() then returns KDC_OK,
 *   or KDC_ERR_CLOSED when the peer is no longer open;
 * - kdc_xlfake_fail(): what the fake saw wrong (a message larger than
 *   KDC_COAP_SEND_MAX, a reference dropped below 0); it must not return
 *   (cmocka's fail_msg(), abort()).
 */
#ifndef KDC_XLFAKE_H
#define KDC_XLFAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coap/coap.h"
#include "coap/xl.h"

struct kdc_coap {
	struct kdc_coap_xl	*xl;
};

struct kdc_coap_peer {
	struct kdc_coap		*c;	/* NULL: a slot never initialised */
	struct kdc_coap_xp	*xp;
	unsigned		 refs;
	bool			 open;
	uint64_t		 serial;
	uint64_t		 timer;	/* when its timer fires, 0: none */
	const char		*ep;	/* endpoint name */
};

/* p: open, of engine c, endpoint ep, one reference (the session link),
 * the next serial, no timer. */
void	kdc_xlfake_peer_init(struct kdc_coap_peer *p, struct kdc_coap *c,
	    const char *ep);
/* Fire the timers of peers[0..n) that are due at now_ms (each disarmed,
 * then kdc_coap_xl_timer() of its engine's xl). */
void	kdc_xlfake_fire(struct kdc_coap_peer *peers, size_t n,
	    uint64_t now_ms);

/* The user's (see above). */
void	kdc_xlfake_sent(struct kdc_coap_peer *p, const uint8_t *msg,
	    size_t len);
void	kdc_xlfake_fail(const char *what);

#endif
