/*
 * xl.h: the CoAP message layer (RFC 7252 messages and exchanges, RFC 7959
 * block-wise transfers, RFC 7641 Observe) between the engine (eng.c:
 * sockets, DTLS sessions, the session table, timers) and the faces
 * (coap.h). The engine hands it each datagram's plaintext from a peer
 * that may send application data (an established, authenticated DTLS
 * session, or a NoSec peer); it hands the engine whole CoAP messages to
 * send to a peer. Neither side sees the other's structures.
 *
 * xl implements these parts of coap.h: kdc_coap_route(),
 * kdc_coap_msg_query(), kdc_coap_set_timers(), kdc_coap_defer() and the
 * kdc_coap_later_*() calls, kdc_coap_peer_laters(), kdc_coap_request(),
 * kdc_coap_request2(),
 * kdc_coap_observe() and kdc_coap_notify(). Its files: xl.c (the layer
 * proper), xl_msg.c (messages as bytes), xl_req.c (our requests),
 * xl_srv.c (requests from peers); xl_int.h, theirs only, says which
 * owns what.
 * code.c keeps kdc_coap_code() and the response payload helpers.
 *
 * Engine thread only; no locks. One struct kdc_coap_xl per engine; per
 * peer, state made on demand (a peer with nothing in flight costs the
 * engine one NULL pointer: 1M idle sessions must fit in 2 GiB).
 *
 * Routes live in xl: kdc_coap_new() makes the engine's layer
 * (kdc_coap_xl_new()) before a face can call kdc_coap_route(), which is
 * KDC_ERR_INVALID_ARG while kdc_coap_xl_of() gives NULL. Besides the
 * functions below, xl calls kdc_coap_peer_endpoint() (routes by endpoint
 * name) and kdc_coap_peer_addr() (debug logs) of coap.h.
 *
 * Requests a handler makes (kdc_coap_request() from inside a route
 * handler) are sent after that handler's answer, in the same
 * kdc_coap_xl_input() call: a device sees its 2.04 to /bs before our
 * first request. Requests made elsewhere (a done callback, a watch
 * callback) are sent at once through kdc_coap_peer_send().
 */
#ifndef KDC_COAP_XL_H
#define KDC_COAP_XL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "coap/coap.h"

struct kdc_coap_xl;	/* per engine, xl's (xl_int.h) */
struct kdc_coap_xp;	/* per peer, xl's (xl_int.h) */

/* Limits and timers (the engine fills them from iotkdc.conf [coap];
 * zero fields take the defaults named). */
struct kdc_coap_xl_limits {
	size_t		 body_max;	/* a request body joined from Block1:
					 * KDC_COAP_BODY_MAX (8 KiB, a CSR);
					 * also bounds a one-datagram body */
	unsigned	 bodies_max;	/* Block1 bodies being joined at once,
					 * all peers: KDC_COAP_BODIES_MAX; past
					 * it a new body gets 5.03, Max-Age
					 * KDC_COAP_BODIES_RETRY_S */
	unsigned	 body_timeout_ms;	/* a body that stops arriving is
					 * dropped, and so is an answer kept for
					 * Block2 follow-ups: EXCHANGE_LIFETIME
					 * (KDC_COAP_EXCHANGE_LIFETIME_MS) */
	unsigned	 ack_timeout_ms;	/* our CONs: RFC 7252 ACK_TIMEOUT
					 * KDC_COAP_ACK_TIMEOUT_MS (2000),
					 * randomised x1..1.5 */
	unsigned	 max_retransmit;	/* KDC_COAP_MAX_RETRANSMIT (4) */
	unsigned	 request_timeout_ms;	/* KDC_COAP_REQUEST_TIMEOUT_MS */
	unsigned	 dedup_ms;	/* answers kept to resend for a
					 * retransmitted CON: EXCHANGE_LIFETIME */
	unsigned	 dedup_max;	/* answers kept, all peers: a ring of
					 * KDC_COAP_DEDUP_MAX (at most 2^24);
					 * each a copy of the datagram, wiped
					 * when dropped */
};

/* ---- the engine's side (eng.c), called by xl -------------------------------- */

/*
 * Send one CoAP message (a whole datagram's plaintext, at most
 * KDC_COAP_DGRAM_MAX bytes) to p, as one DTLS application record or, on
 * a NoSec endpoint, one UDP datagram. What is sent while the engine runs
 * a step leaves at the end of that step, in order, once everything the
 * step committed to the store is durable (the output-commit rule: a
 * Bootstrap-Write or an answer carrying a credential never leaves before
 * its row survives a power loss); if that sync fails the messages are
 * dropped and p is closed. KDC_OK (queued or sent: a datagram may still
 * be lost, the layer's retransmission covers that), KDC_ERR_CLOSED (p's
 * session is gone or closing), KDC_ERR_TOO_LARGE, KDC_ERR_NOMEM.
 */
kdc_err	kdc_coap_peer_send(struct kdc_coap_peer *p, const uint8_t *msg,
	    size_t len);
/* Call kdc_coap_xl_timer(x, p, now) at (or shortly after) when_ms
 * (monotonic ms, kdc_coap_now_ms()); one timer per peer: arming again
 * replaces it; 0 cancels. Resolution: the engine's wheel tick (10 ms). */
void	kdc_coap_peer_timer(struct kdc_coap_peer *p, uint64_t when_ms);
uint64_t kdc_coap_now_ms(void);
/* xl's per-peer slot (NULL until xl puts something there). */
struct kdc_coap_xp **kdc_coap_peer_xp(struct kdc_coap_peer *p);
/* The engine a peer belongs to, and that engine's message layer. */
struct kdc_coap *kdc_coap_peer_engine(const struct kdc_coap_peer *p);
struct kdc_coap_xl *kdc_coap_xl_of(struct kdc_coap *c);
/* References: the engine frees a peer whose session ended only when no
 * reference is left. xl holds one per request in flight and per later
 * (coap.h), so kdc_coap_later_peer() stays valid. */
void	kdc_coap_peer_ref(struct kdc_coap_peer *p);
void	kdc_coap_peer_unref(struct kdc_coap_peer *p);
/* The session is established and not closing: sending may succeed. */
bool	kdc_coap_peer_open(const struct kdc_coap_peer *p);
/* A distinct number per session ever made by this engine (a peer struct
 * may be reused after free; dedup entries key on this, not the pointer). */
uint64_t kdc_coap_peer_serial(const struct kdc_coap_peer *p);
/* Inside a handler: the engine is stepping (sends are queued). */
bool	kdc_coap_in_step(const struct kdc_coap *c);

/* ---- xl's side, called by the engine --------------------------------------- */

struct kdc_coap_wire;
/* A parsed message (wire.h) as the faces see it (path, queries,
 * Content-Format, Accept, payload; pointers into w's datagram; no
 * Location-Path): KDC_OK, or KDC_ERR_MALFORMED for an option over
 * coap.h's limits. The multicast answers' decoder (eng.c). */
kdc_err	kdc_coap_xl_decode(const struct kdc_coap_wire *w,
	    struct kdc_coap_msg *m);
/* An answer to one of our requests (unicast or multicast) carries no
 * critical option we do not know (RFC 7252 §5.4.1): those of wire.h's
 * kdc_coap_opt_unknown_critical() are unknown, except OCF's 2049/2053. */
bool	kdc_coap_xl_answer_ok(const struct kdc_coap_wire *w);

kdc_err	kdc_coap_xl_new(struct kdc_coap *c, const struct kdc_coap_xl_limits *l,
	    struct kdc_coap_xl **out);
/* Replace the limits (SIGHUP); NULL fields as in _new. */
void	kdc_coap_xl_set_limits(struct kdc_coap_xl *x,
	    const struct kdc_coap_xl_limits *l);
/* Everything in flight ends: done callbacks get KDC_ERR_CLOSED, laters
 * are dropped (owned payloads released), partial bodies freed. */
void	kdc_coap_xl_free(struct kdc_coap_xl *x);
/*
 * One datagram's plaintext from p. Parses it (wire.h), then: an ACK/RST
 * completes our CON; a retransmitted CON gets the cached answer (or the
 * empty ACK of a deferred one) without a second handler call; Block1 is
 * joined up to body_max (Size1 over it: 4.13 with Size1 = body_max at
 * once, nothing allocated), Block2 answers are served from the kept
 * response; a request for an unknown critical option gets 4.02; a
 * request is routed (4.04, 4.05) and its handler called. Malformed
 * input: a CON with a readable header gets RST or 4.00, anything else is
 * dropped; never a crash.
 */
void	kdc_coap_xl_input(struct kdc_coap_xl *x, struct kdc_coap_peer *p,
	    const uint8_t *msg, size_t len);
/* p's timer fired (kdc_coap_peer_timer()). */
void	kdc_coap_xl_timer(struct kdc_coap_xl *x, struct kdc_coap_peer *p,
	    uint64_t now);
/* p's session ended: its requests complete KDC_ERR_CLOSED (done called),
 * its laters are dropped when answered, its partial body and any answer
 * kept for Block2 are freed (owned payloads released), its slot emptied
 * and its timer cancelled (kdc_coap_peer_timer(p, 0)). Called once per
 * peer, before the face's gone callback; kdc_coap_peer_open(p) is false
 * from then on. */
void	kdc_coap_xl_gone(struct kdc_coap_xl *x, struct kdc_coap_peer *p);
/* p has exchanges in progress (a request in flight, a later, a body being
 * joined, a Block2 answer being fetched, an observation): the engine
 * does not evict it as idle. Exactly when p's slot (kdc_coap_peer_xp())
 * is not NULL. */
bool	kdc_coap_xl_busy(const struct kdc_coap_xl *x,
	    const struct kdc_coap_peer *p);

#endif
