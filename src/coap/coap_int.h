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

#include "base/limits.h"
#include "base/log.h"
#include "coap/coap.h"

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
 * request in flight, 1 while on c->doomed.
 *
 * Authentication in two steps: the handshake callbacks (dtls.c) ask
 * core/ about what the peer presented (PSK identity, SPKI, chain) and,
 * when core/ knows it, fill auth and set `vouched`; the peer is `authed`
 * only once libcoap says the handshake finished (the key is proven: a
 * PSK's Finished decrypted, a certificate's CertificateVerify checked).
 * A vouched peer whose handshake fails or never ends is refused then
 * (logged, audited), never "authenticated".
 */
struct kdc_coap_peer {
	/* c->peers, c->fresh while not hooked, c->handshaking while vouched
	 * and not authed: doubly linked, so that neither an engine step nor
	 * a session's end walks every peer */
	struct kdc_coap_peer	*next, **pprev;
	struct kdc_coap_peer	*fresh_next, **fresh_pprev;
	struct kdc_coap_peer	*hs_next, **hs_pprev;
	struct kdc_coap_peer	*doom_next;	/* c->doomed */
	struct kdc_coap		*c;
	coap_session_t		*session;	/* NULL once libcoap freed it */
	const struct kdc_coap_ep *ep;
	unsigned		 refs;
	unsigned		 holds;		/* face holds (session referenced) */
	unsigned		 laters;	/* requests deferred, unanswered */
	bool			 sess_ref;	/* we hold a libcoap reference */
	bool			 hooked;	/* DTLS engine settings applied */
	bool			 vouched;	/* auth below came from core/ */
	bool			 authed;	/* ... and the handshake finished */
	bool			 traced;	/* its refusal logged and audited */
	bool			 doomed;	/* on c->doomed: closed next step */
	bool			 gone;		/* gone callback done */
	kdc_err			 doom_why;	/* why it is closed */
	struct kdc_principal	 auth;
	/* what the peer presented, escaped, for a refusal's trace:
	 * action "auth.psk"/"auth.rpk"/"auth.cert", subject */
	const char		*auth_action;
	const char		*presented_what;	/* "identity", ... */
	char			 presented[KDC_PSK_IDENTITY_MAX * 4 + 1];
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
	struct kdc_coap_peer	*handshaking;	/* vouched, not authed yet */
	struct kdc_coap_peer	*doomed;	/* to close after this step */
	struct kdc_log_limit	 loglim;	/* info lines peers cause */
	/* revocation reaching live sessions (coap.h) */
	unsigned		 rv_interval_ms;	/* 0: off */
	uint64_t		 rv_next;	/* monotonic ms */
	int64_t			 rv_gen;
	bool			 rv_known;	/* rv_gen read once */
	void			(*rv_fn)(void *arg);
	void			*rv_arg;
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
/* p is vouched (dtls.c): on c->handshaking until established. */
void	kdc_coap_peer_vouched(struct kdc_coap_peer *p);
/* If p is vouched and its session established: authed (and logged). */
void	kdc_coap_peer_confirm(struct kdc_coap_peer *p);
/* Close p's session after this step (close_notify or, in a handshake,
 * its end); why: the reason logged. */
void	kdc_coap_peer_doom(struct kdc_coap_peer *p, kdc_err why);
/* Once per step: confirm handshakes that finished, close doomed peers. */
void	kdc_coap_peers_step(struct kdc_coap *c);
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
/* The engine whose step runs on this thread now (GnuTLS's audit log is
 * global: it finds our sessions through this). */
void	kdc_coap_dtls_step_begin(struct kdc_coap *c);
void	kdc_coap_dtls_step_end(void);
/*
 * A handshake of a peer refused: logged at info (rate-limited: c->loglim)
 * and, when `audit`, audited as a refusal of an unauthenticated peer
 * (core's token bucket) under p->auth_action / p->presented.
 */
void	kdc_coap_auth_refused(struct kdc_coap_peer *p, kdc_err why, int audit,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A vouched peer's handshake ended unfinished (session closed): refused. */
void	kdc_coap_handshake_failed(struct kdc_coap_peer *p);
/* p is hooked: off the fresh list (O(1)). */
void	kdc_coap_peer_set_hooked(struct kdc_coap_peer *p);

#endif
