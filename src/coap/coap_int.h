/*
 * coap_int.h: the CoAP face's own structures, shared by its .c files only.
 * libcoap types appear here and nowhere above src/coap/.
 */
#ifndef KDC_COAP_INT_H
#define KDC_COAP_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <coap3/coap.h>

#include "coap/coap.h"
#include "core/limits.h"

struct kdc_coap_ep {
	char		 name[KDC_NAME_MAX + 1];
	unsigned	 accept;	/* enum kdc_coap_accept bits */
	uint16_t	 port;		/* local port: how a session finds it */
	coap_endpoint_t	*ep;		/* owned by the context */
};

struct kdc_coap_route {
	char			 ep[KDC_NAME_MAX + 1];	/* "" = every endpoint */
	uint8_t			 method;
	char			 path[KDC_COAP_PATH_MAX + 1];	/* prefix routes: without the '*' */
	bool			 prefix;	/* "rd/" + '*': below, not at */
	kdc_coap_handler_fn	 fn;
	void			*arg;
};

/*
 * One per libcoap server session, from its first datagram (so also for
 * DTLS sessions still in the handshake). refs: 1 for the session link
 * (dropped when libcoap deletes the session), 1 per face hold, 1 per
 * request in flight.
 */
struct kdc_coap_peer {
	/* c->peers, and c->fresh while not hooked: doubly linked, so that
	 * neither an engine step nor a session's end walks every peer */
	struct kdc_coap_peer	*next, **pprev;
	struct kdc_coap_peer	*fresh_next, **fresh_pprev;
	struct kdc_coap		*c;
	coap_session_t		*session;	/* NULL once libcoap freed it */
	const struct kdc_coap_ep *ep;
	unsigned		 refs;
	unsigned		 holds;		/* face holds (session referenced) */
	unsigned		 laters;	/* requests deferred, unanswered */
	bool			 sess_ref;	/* we hold a libcoap reference */
	bool			 hooked;	/* DTLS engine settings applied */
	bool			 authed;	/* auth below came from core/ */
	bool			 gone;		/* gone callback done */
	struct kdc_principal	 auth;
	char			 addr[KDC_COAP_ADDR_TEXT];
	void			*data;
};

struct kdc_coap_pending {
	struct kdc_coap_pending	*next;
	struct kdc_coap_peer	*peer;		/* holds a ref */
	uint8_t			 token[8];
	size_t			 token_len;
	uint64_t		 deadline;	/* monotonic ms */
	kdc_coap_done_fn	 done;
	void			*arg;
	coap_pdu_t		*deferred;	/* made in a step, not yet sent */
	uint64_t		 ticket;	/* deferred: sent once this sync is
						 * done (kdc_syncer_request());
						 * UNTICKETED until the step ends */
};
#define UNTICKETED	UINT64_MAX

/*
 * A request answered later (coap.h kdc_coap_defer()): libcoap's async
 * state for it (registered with no delay: libcoap answers retransmissions
 * of the request with an empty ACK) and, once kdc_coap_later_answer() has
 * run, the answer, which the dispatcher sends when libcoap fires the
 * async (the very next engine step, before any datagram is read).
 */
struct kdc_coap_later {
	struct kdc_coap_later	*next, **pprev;	/* c->laters */
	struct kdc_coap		*c;
	struct kdc_coap_peer	*peer;		/* holds a ref */
	coap_async_t		*async;		/* libcoap's; it frees it */
	bool			 done;		/* rs is the answer */
	struct kdc_coap_resp	 rs;		/* payload: ours, wiped */
};

/* A callback for an fd the loop polls (in its epoll; a worker pool's
 * eventfd). */
struct kdc_coap_watch {
	void	(*cb)(void *arg);
	void	 *arg;
};

struct kdc_coap {
	struct kdc_core		*core;
	const struct kdc_config	*cfg;
	coap_context_t		*ctx;
	struct kdc_coap_ep	 eps[KDC_COAP_EP_MAX];
	size_t			 neps;
	struct kdc_coap_route	 routes[KDC_COAP_ROUTE_MAX];
	size_t			 nroutes;
	bool			 unknown_set;	/* the unknown-path resource added */
	bool			 in_dispatch;	/* a route handler is running */
	bool			 in_step;	/* an engine step is running: the
						 * requests made wait for its end
						 * (kdc_coap_run_once()) */
	struct kdc_syncer	*syncer;	/* syncs what core committed */
	uint64_t		 sync_done;	/* kdc_syncer_state() */
	uint64_t		 sync_failed;
	bool			 dtls_set;	/* PSK/PKI given to the context */
	const char		*cert_pem;	/* borrowed */
	const char		*key_pem;	/* borrowed */
	void			*prio;		/* gnutls_priority_t */
	void			*xcred;		/* gnutls_certificate_credentials_t,
						 * ours, shared by every session */
	struct kdc_coap_peer	*peers;
	struct kdc_coap_peer	*fresh;		/* peers not hooked yet */
	struct kdc_coap_pending	*pending;
	size_t			 npending;
	struct kdc_coap_later	*laters;	/* deferred, not yet sent */
	size_t			 nlaters;
	bool			 triggered;	/* an async to fire (engine.c) */
	/* the request being dispatched (kdc_coap_defer() registers it) */
	coap_session_t		*cur_session;
	const coap_pdu_t	*cur_req;
	bool			 deferred;	/* the handler deferred it */
	struct kdc_coap_later	*cur_later;	/* ... as this later */
	int			 epfd;		/* ours: libcoap's fd + watches */
	struct kdc_coap_watch	 watch[KDC_COAP_WATCH_MAX];
	size_t			 nwatch;
	kdc_coap_gone_fn	 gone;
	void			*gone_arg;
	atomic_int		 stop;
	unsigned		 ack_timeout_ms;	/* 0: libcoap default */
	unsigned		 max_retransmit;	/* 0: libcoap default */
	unsigned		 request_timeout_ms;
	/* The PSK handed back to libcoap from the identity callback; libcoap
	 * copies it at once and it is wiped after every engine step. */
	uint8_t			 psk[KDC_PSK_MAX];
	coap_bin_const_t	 psk_out;
};

/* peer.c */
struct kdc_coap_peer *kdc_coap_peer_of(struct kdc_coap *c, coap_session_t *s,
	    bool create);
void	kdc_coap_peer_detach(struct kdc_coap_peer *p);
void	kdc_coap_peer_closed(struct kdc_coap_peer *p);
void	kdc_coap_peer_unref(struct kdc_coap_peer *p);
void	kdc_coap_pending_expire(struct kdc_coap *c, uint64_t now);
void	kdc_coap_pending_flush(struct kdc_coap *c);
void	kdc_coap_pending_fail_all(struct kdc_coap *c);
coap_response_t kdc_coap_on_response(coap_session_t *s, const coap_pdu_t *sent,
	    const coap_pdu_t *rcvd, const coap_mid_t mid);
void	kdc_coap_on_nack(coap_session_t *s, const coap_pdu_t *sent,
	    const coap_nack_reason_t reason, const coap_mid_t mid);
uint64_t kdc_coap_now_ms(void);

/* msg.c */
kdc_err	kdc_coap_msg_decode(const coap_pdu_t *pdu, struct kdc_coap_msg *m,
	    char *location, size_t location_len);
kdc_err	kdc_coap_add_path_opts(coap_optlist_t **ol, uint16_t opt,
	    const char *path);
void	kdc_coap_dispatch(coap_resource_t *res, coap_session_t *s,
	    const coap_pdu_t *req, const coap_string_t *query,
	    coap_pdu_t *resp);
void	kdc_coap_laters_free(struct kdc_coap *c);

/* dtls.c: everything that touches GnuTLS under libcoap */
kdc_err	kdc_coap_dtls_init(struct kdc_coap *c);
void	kdc_coap_dtls_free(struct kdc_coap *c);
kdc_err	kdc_coap_dtls_setup(struct kdc_coap *c);
void	kdc_coap_dtls_hook(struct kdc_coap_peer *p);
/* p is hooked: off the fresh list (O(1)). */
void	kdc_coap_peer_set_hooked(struct kdc_coap_peer *p);

#endif
