/*
 * engine.c: the libcoap 4.3.1 context behind struct kdc_coap: endpoints,
 * routes, the event loop, libcoap's logs and session events.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "coap/coap_int.h"
#include "core/revoke.h"
#include "crypto/crypto.h"

/* ---- logs ---------------------------------------------------------------- */

/*
 * libcoap writes to stdout unless told otherwise (DESIGN §8). Whatever
 * its level, a libcoap line is mostly what a peer did (bad handshakes,
 * alerts; 4.3.1 logs "got RST" at LOG_ALERT), so all of them go to debug:
 * a peer must not be able to flood the operator's log. Our own code logs
 * what an operator must see (cannot listen, bad priority).
 */
static void
coap_log_cb(coap_log_t level, const char *message)
{
	size_t n = strlen(message);

	while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == '\r'))
		n--;
	(void)level;
	kdc_log_msg(KDC_LOG_DEBUG, "libcoap", 0, KDC_OK, "%.*s", (int)n,
	    message);
}

static void
coap_logs_init(void)
{
	int debug = kdc_log_get_level() >= KDC_LOG_DEBUG;

	coap_set_log_handler(coap_log_cb);
	/* Never LOG_DEBUG: at that level libcoap dumps every PDU, payload
	 * in hex (a bootstrap Write carries a PSK, an /skg answer a private
	 * key), and by default with fprintf() on stdout, past our handler.
	 * LOG_INFO keeps its session and DTLS events; dumps, if ever made,
	 * go through the handler. The DTLS layer's debug lines (GnuTLS's
	 * own log) would pass libcoap's level filter only at LOG_DEBUG. */
	coap_set_show_pdu_output(0);
	coap_set_log_level(debug ? LOG_INFO : LOG_EMERG);
	coap_dtls_set_log_level(debug ? LOG_INFO : LOG_EMERG);
}

/* ---- sessions ------------------------------------------------------------ */

static int
on_event(coap_session_t *s, const coap_event_t ev)
{
	struct kdc_coap *c = coap_get_app_data(coap_session_get_context(s));
	struct kdc_coap_peer *p;

	if (c == NULL)
		return 0;
	switch (ev) {
	case COAP_EVENT_SERVER_SESSION_NEW:
		(void)kdc_coap_peer_of(c, s, true);
		break;
	case COAP_EVENT_DTLS_CLOSED:
	case COAP_EVENT_DTLS_ERROR:
		if ((p = coap_session_get_app_data(s)) != NULL)
			kdc_coap_peer_closed(p);
		break;
	case COAP_EVENT_SERVER_SESSION_DEL:
		if ((p = coap_session_get_app_data(s)) != NULL)
			kdc_coap_peer_detach(p);
		break;
	default:
		break;
	}
	return 0;
}

/* ---- lifetime ------------------------------------------------------------ */

/* A sync ended: what it covered is sent at the end of this step. */
static void
sync_ended(void *arg)
{
	struct kdc_coap *c = arg;

	kdc_syncer_state(c->syncer, &c->sync_done, &c->sync_failed);
}

kdc_err
kdc_coap_new(struct kdc_core *core, const struct kdc_config *cfg,
    struct kdc_coap **out)
{
	struct kdc_coap *c = NULL;
	kdc_err r;

	*out = NULL;
	if (core == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = kdc_crypto_init()) != KDC_OK)
		return r;
	coap_startup();
	coap_logs_init();
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return KDC_ERR_NOMEM;
	c->core = core;
	c->cfg = cfg;
	c->request_timeout_ms = KDC_COAP_REQUEST_TIMEOUT_MS;
	c->epfd = -1;
	atomic_init(&c->stop, 0);
	if ((c->ctx = coap_new_context(NULL)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	/*
	 * Our loop waits on libcoap's epoll fd (readable when a socket is,
	 * or its timerfd fires: retransmissions, triggered asyncs) and on
	 * the fds faces watch. A libcoap built without epoll has no such
	 * fd: then the loop is coap_io_process() alone and the watched fds
	 * are looked at after each step.
	 */
	if (coap_context_get_coap_fd(c->ctx) >= 0) {
		struct epoll_event ev;

		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.u32 = 0;
		if ((c->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
		    epoll_ctl(c->epfd, EPOLL_CTL_ADD,
		    coap_context_get_coap_fd(c->ctx), &ev) != 0) {
			kdc_log_err("coap: epoll: %s", strerror(errno));
			r = KDC_ERR_IO;
			goto out;
		}
	}
	coap_set_app_data(c->ctx, c);
	coap_context_set_max_handshake_sessions(c->ctx, KDC_COAP_HANDSHAKE_MAX);
	/* RFC 7959 block-wise both ways, done by libcoap: a request body in
	 * Block1 pieces reaches a handler whole, and a request we send that
	 * does not fit one datagram (a Bootstrap-Write with certificates)
	 * goes out in blocks. */
	coap_context_set_block_mode(c->ctx,
	    COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
	coap_context_set_max_idle_sessions(c->ctx, KDC_COAP_IDLE_MAX);
	coap_context_set_session_timeout(c->ctx, KDC_COAP_SESSION_TIMEOUT);
	coap_register_event_handler(c->ctx, on_event);
	coap_register_response_handler(c->ctx, kdc_coap_on_response);
	coap_register_nack_handler(c->ctx, kdc_coap_on_nack);
	/* OCF's critical options (Accept-Version, Content-Format-Version):
	 * unregistered, libcoap drops messages carrying them (DESIGN §8). */
	coap_register_option(c->ctx, 2049);
	coap_register_option(c->ctx, 2053);
	if ((r = kdc_coap_dtls_init(c)) != KDC_OK)
		goto out;
	/* what handlers commit is synced on a thread of its own (a core
	 * that does not defer its syncs makes a syncer that does nothing) */
	if ((r = kdc_syncer_new(core, &c->syncer)) != KDC_OK ||
	    (kdc_syncer_fd(c->syncer) >= 0 && (r = kdc_coap_watch(c,
	    kdc_syncer_fd(c->syncer), sync_ended, c)) != KDC_OK))
		goto out;
	*out = c;
	c = NULL;
out:
	kdc_coap_free(c);
	return r;
}

void
kdc_coap_free(struct kdc_coap *c)
{
	struct kdc_coap_peer *p;

	if (c == NULL)
		return;
	kdc_coap_pending_fail_all(c);
	kdc_coap_laters_free(c);	/* their asyncs go with the context */
	while ((p = c->doomed) != NULL) {	/* closed with the context */
		c->doomed = p->doom_next;
		p->doom_next = NULL;
		kdc_coap_peer_unref(p);
	}
	/*
	 * libcoap 4.3.1 frees its sessions with the context without a
	 * SESSION_DEL (that fires on idle expiry and eviction only), and
	 * coap_free_endpoint() frees only sessions nobody references. So
	 * every peer is detached here, while its session lives, and our
	 * reference is given back first (a server session outlives its
	 * last release; a face letting go in its gone callback then finds
	 * no reference to give back; docs/traps.md).
	 */
	while ((p = c->peers) != NULL) {
		if (p->sess_ref) {
			p->sess_ref = false;
			coap_session_release(p->session);
		}
		kdc_coap_peer_detach(p);
	}
	if (c->ctx != NULL)
		coap_free_context(c->ctx);
	if (c->epfd >= 0)
		close(c->epfd);
	kdc_coap_dtls_free(c);
	kdc_syncer_free(c->syncer);
	kdc_wipe(c->psk, sizeof(c->psk));
	free(c);
}

void
kdc_coap_set_timers(struct kdc_coap *c, unsigned ack_timeout_ms,
    unsigned max_retransmit, unsigned request_timeout_ms)
{
	c->ack_timeout_ms = ack_timeout_ms;
	c->max_retransmit = max_retransmit;
	if (request_timeout_ms != 0)
		c->request_timeout_ms = request_timeout_ms;
}

static bool
is_loopback(const coap_address_t *a)
{
	if (a->addr.sa.sa_family == AF_INET)
		return (ntohl(a->addr.sin.sin_addr.s_addr) >> 24) == 127;
	if (a->addr.sa.sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&a->addr.sin6.sin6_addr);
	return false;
}

static kdc_err
parse_addr(const char *addr, int port, coap_address_t *out)
{
	coap_address_init(out);
	if (port < 1 || port > 65535)
		return KDC_ERR_INVALID_ARG;
	if (inet_pton(AF_INET, addr, &out->addr.sin.sin_addr) == 1) {
		out->addr.sin.sin_family = AF_INET;
		out->addr.sin.sin_port = htons((uint16_t)port);
		out->size = sizeof(out->addr.sin);
		return KDC_OK;
	}
	if (inet_pton(AF_INET6, addr, &out->addr.sin6.sin6_addr) == 1) {
		out->addr.sin6.sin6_family = AF_INET6;
		out->addr.sin6.sin6_port = htons((uint16_t)port);
		out->size = sizeof(out->addr.sin6);
		return KDC_OK;
	}
	return KDC_ERR_INVALID_ARG;
}

kdc_err
kdc_coap_listen(struct kdc_coap *c, const char *name, const char *addr,
    int port, unsigned accept, const char *cert_pem, const char *key_pem)
{
	const unsigned known = KDC_COAP_ACCEPT_MANUFACTURER |
	    KDC_COAP_ACCEPT_OPERATIONAL | KDC_COAP_ACCEPT_NOSEC;
	struct kdc_coap_ep *e;
	coap_address_t a;
	bool nosec = (accept & KDC_COAP_ACCEPT_NOSEC) != 0;
	kdc_err r;

	if (name == NULL || addr == NULL || name[0] == '\0' ||
	    strlen(name) > KDC_NAME_MAX || accept == 0 || (accept & ~known) ||
	    (nosec && accept != KDC_COAP_ACCEPT_NOSEC))
		return KDC_ERR_INVALID_ARG;
	if (c->neps == KDC_COAP_EP_MAX)
		return KDC_ERR_TOO_LARGE;
	for (size_t i = 0; i < c->neps; i++)
		if (strcmp(c->eps[i].name, name) == 0)
			return KDC_ERR_EXISTS;
	if ((r = parse_addr(addr, port, &a)) != KDC_OK)
		return r;
	if (nosec && !is_loopback(&a))
		return KDC_ERR_INVALID_ARG;	/* plain CoAP: tests only */
	if (!nosec) {
		if (cert_pem == NULL || key_pem == NULL)
			return KDC_ERR_INVALID_ARG;
		/* libcoap keeps one server certificate per context */
		if (c->dtls_set && (strcmp(c->cert_pem, cert_pem) != 0 ||
		    strcmp(c->key_pem, key_pem) != 0))
			return KDC_ERR_INVALID_ARG;
		if (!c->dtls_set) {
			c->cert_pem = cert_pem;
			c->key_pem = key_pem;
			if ((r = kdc_coap_dtls_setup(c)) != KDC_OK)
				return r;
			c->dtls_set = true;
		}
	}
	e = &c->eps[c->neps];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->accept = accept;
	e->ep = coap_new_endpoint(c->ctx, &a,
	    nosec ? COAP_PROTO_UDP : COAP_PROTO_DTLS);
	if (e->ep == NULL) {
		kdc_log_err("endpoint=%s cannot listen on %s:%d", name, addr,
		    port);
		return KDC_ERR_IO;
	}
	e->port = (uint16_t)port;
	c->neps++;
	kdc_log_info("endpoint=%s listen=%s:%d %s", name, addr, port,
	    nosec ? "coap (NoSec)" : "coaps");
	return KDC_OK;
}

/* One libcoap resource per distinct path, whatever the endpoint; the
 * dispatcher picks the route by (endpoint, method, path). */
kdc_err
kdc_coap_route(struct kdc_coap *c, const char *name, uint8_t method,
    const char *path, kdc_coap_handler_fn fn, void *arg)
{
	struct kdc_coap_route *rt;
	coap_resource_t *res;
	coap_str_const_t *uri;
	bool have_path = false, prefix;
	size_t plen;

	if (path == NULL || fn == NULL || strlen(path) > KDC_COAP_PATH_MAX ||
	    path[0] == '/' || (name != NULL && strlen(name) > KDC_NAME_MAX) ||
	    method < KDC_COAP_GET || method > KDC_COAP_DELETE)
		return KDC_ERR_INVALID_ARG;
	if (c->nroutes == KDC_COAP_ROUTE_MAX)
		return KDC_ERR_TOO_LARGE;
	/* "a/b/" + '*': every path below a/b. libcoap resources are exact,
	 * so prefix routes are served by its one unknown-path resource. */
	plen = strlen(path);
	prefix = plen >= 2 && path[plen - 1] == '*' && path[plen - 2] == '/';
	if (prefix)
		plen--;
	for (size_t i = 0; i < c->nroutes; i++) {
		rt = &c->routes[i];
		if (rt->prefix != prefix || strlen(rt->path) != plen ||
		    strncmp(rt->path, path, plen) != 0)
			continue;
		have_path = true;
		if (rt->method == method &&
		    strcmp(rt->ep, name == NULL ? "" : name) == 0)
			return KDC_ERR_EXISTS;
	}
	if (prefix && !c->unknown_set) {
		if ((res = coap_resource_unknown_init(kdc_coap_dispatch)) ==
		    NULL)
			return KDC_ERR_NOMEM;
		coap_resource_set_userdata(res, c);
		coap_register_request_handler(res, COAP_REQUEST_GET,
		    kdc_coap_dispatch);
		coap_register_request_handler(res, COAP_REQUEST_POST,
		    kdc_coap_dispatch);
		coap_register_request_handler(res, COAP_REQUEST_DELETE,
		    kdc_coap_dispatch);
		coap_add_resource(c->ctx, res);	/* the context owns res */
		c->unknown_set = true;
	} else if (!prefix && !have_path) {
		if ((uri = coap_new_str_const((const uint8_t *)path,
		    strlen(path))) == NULL)
			return KDC_ERR_NOMEM;
		if ((res = coap_resource_init(uri,
		    COAP_RESOURCE_FLAGS_RELEASE_URI)) == NULL) {
			coap_delete_str_const(uri);
			return KDC_ERR_NOMEM;
		}
		coap_resource_set_userdata(res, c);
		coap_register_request_handler(res, COAP_REQUEST_GET,
		    kdc_coap_dispatch);
		coap_register_request_handler(res, COAP_REQUEST_POST,
		    kdc_coap_dispatch);
		coap_register_request_handler(res, COAP_REQUEST_PUT,
		    kdc_coap_dispatch);
		coap_register_request_handler(res, COAP_REQUEST_DELETE,
		    kdc_coap_dispatch);
		coap_add_resource(c->ctx, res);	/* the context owns res */
	}
	rt = &c->routes[c->nroutes++];
	memset(rt, 0, sizeof(*rt));
	snprintf(rt->ep, sizeof(rt->ep), "%s", name == NULL ? "" : name);
	rt->method = method;
	rt->prefix = prefix;
	snprintf(rt->path, sizeof(rt->path), "%.*s", (int)plen, path);
	rt->fn = fn;
	rt->arg = arg;
	return KDC_OK;
}

void
kdc_coap_on_gone(struct kdc_coap *c, kdc_coap_gone_fn fn, void *arg)
{
	c->gone = fn;
	c->gone_arg = arg;
}

/* ---- the loop -------------------------------------------------------------- */

kdc_err
kdc_coap_watch(struct kdc_coap *c, int fd, void (*cb)(void *arg), void *arg)
{
	struct epoll_event ev;

	if (c == NULL || fd < 0 || cb == NULL)
		return KDC_ERR_INVALID_ARG;
	if (c->nwatch == KDC_COAP_WATCH_MAX)
		return KDC_ERR_TOO_LARGE;
	if (c->epfd >= 0) {
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.u32 = (uint32_t)c->nwatch + 1;	/* 0 is libcoap's */
		if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			kdc_log_err("coap: epoll_ctl fd=%d: %s", fd,
			    strerror(errno));
			return KDC_ERR_IO;
		}
	}
	c->watch[c->nwatch].cb = cb;
	c->watch[c->nwatch].arg = arg;
	c->nwatch++;
	return KDC_OK;
}

/*
 * Wait up to timeout_ms for a datagram, a libcoap timer or a watched fd;
 * run the watch callbacks; then libcoap's part of the step.
 *
 * coap_io_process() would prepare libcoap's timers twice per step (once
 * itself, once at the end of coap_io_do_epoll()), each time walking the
 * sessions and re-arming its timerfd with timerfd_settime(), a VM exit on
 * these machines (~5 % of the daemon's CPU under EST load, docs/perf.md).
 * So the step calls libcoap's parts itself: asyncs that the callbacks
 * triggered are fired first (coap_io_prepare_io(), no timerfd), before any
 * datagram is read (msg.c kdc_coap_later_answer()); then the ready events
 * of libcoap's epoll fd go to coap_io_do_epoll(), which prepares the
 * timers once. Its timerfd (in that epoll fd) wakes us when a timer is
 * due; a quiet tick still runs coap_io_process() whole.
 */
static void
io_step(struct kdc_coap *c, unsigned timeout_ms)
{
	struct epoll_event ev[KDC_COAP_WATCH_MAX + 1];
	struct epoll_event cev[COAP_MAX_EPOLL_EVENTS];
	bool coap_ready = false;
	unsigned nsock;
	coap_tick_t now;
	int n, m;

	if (c->epfd < 0) {
		/* COAP_IO_NO_WAIT is ~0: keep 0 meaning "poll" by waiting
		 * 1 ms */
		if (coap_io_process(c->ctx, timeout_ms == 0 ? 1 : timeout_ms) <
		    0)
			kdc_log_debug("coap_io_process failed");
		for (size_t i = 0; i < c->nwatch; i++)
			c->watch[i].cb(c->watch[i].arg);
		return;
	}
	n = epoll_wait(c->epfd, ev, (int)(sizeof(ev) / sizeof(ev[0])),
	    (int)timeout_ms);
	for (int i = 0; i < n; i++) {
		if (ev[i].data.u32 == 0)
			coap_ready = true;
		else if (ev[i].data.u32 <= c->nwatch)
			c->watch[ev[i].data.u32 - 1].cb(
			    c->watch[ev[i].data.u32 - 1].arg);
	}
	if (n <= 0) {
		if (coap_io_process(c->ctx, COAP_IO_NO_WAIT) < 0)
			kdc_log_debug("coap_io_process failed");
		c->triggered = false;
		return;
	}
	if (c->triggered) {
		c->triggered = false;
		coap_ticks(&now);
		(void)coap_io_prepare_io(c->ctx, NULL, 0, &nsock, now);
	}
	if (!coap_ready)
		return;
	do {
		m = epoll_wait(coap_context_get_coap_fd(c->ctx), cev,
		    COAP_MAX_EPOLL_EVENTS, 0);
		if (m > 0)
			coap_io_do_epoll(c->ctx, cev, (size_t)m);
	} while (m == COAP_MAX_EPOLL_EVENTS);
}

/* ---- revocation reaching live sessions ------------------------------------- */

void
kdc_coap_revocation_watch(struct kdc_coap *c, unsigned interval_ms,
    void (*fn)(void *arg), void *arg)
{
	c->rv_interval_ms = interval_ms;
	c->rv_next = 0;
	c->rv_known = false;
	c->rv_fn = fn;
	c->rv_arg = arg;
}

/* Check every authenticated peer again; close those no longer usable. A
 * store error stops the walk (the caller retries the whole walk). */
static kdc_err
recheck_peers(struct kdc_coap *c)
{
	struct kdc_coap_peer *p;
	unsigned long dropped;
	size_t closed = 0;
	kdc_err r;

	for (p = c->peers; p != NULL; p = p->next) {
		if (!p->authed || p->gone || p->doomed || p->session == NULL ||
		    p->auth.cred_id == 0)
			continue;	/* NoSec peers have no principal */
		r = kdc_core_principal_check(c->core, p->auth.cred_id,
		    p->auth.device);
		if (r == KDC_OK)
			continue;
		if (r != KDC_ERR_REVOKED && r != KDC_ERR_EXPIRED &&
		    r != KDC_ERR_UNKNOWN_DEVICE) {
			kdc_log_warn_r(r, "revocation check of peer=%s failed; "
			    "again at the next poll", p->addr);
			return r;
		}
		if (kdc_log_limit_take(&c->loglim,
		    (int64_t)(kdc_coap_now_ms() / 1000), KDC_LOG_PEER_RATE,
		    KDC_LOG_PEER_BURST, &dropped)) {
			if (dropped > 0)
				kdc_log_info("(%lu refusals and closures of "
				    "peers not logged: over %d/s)", dropped,
				    KDC_LOG_PEER_RATE);
			kdc_log_info_r(r, "peer=%s endpoint=%s session closed "
			    "device=%s cred=%lld", p->addr,
			    kdc_coap_peer_endpoint(p), p->auth.dev_id,
			    (long long)p->auth.cred_id);
		}
		(void)kdc_core_audit(c->core, "coap", "session.close",
		    p->auth.dev_id, r, "reason=%s cred=%" PRId64
		    " from=%s endpoint=%s", r == KDC_ERR_EXPIRED ? "expired" :
		    r == KDC_ERR_REVOKED ? "revoked" : "deleted",
		    p->auth.cred_id, p->addr, kdc_coap_peer_endpoint(p));
		kdc_coap_peer_doom(p, r);
		closed++;
	}
	if (closed > 0)
		kdc_coap_peers_step(c);		/* close them now */
	return KDC_OK;
}

static void
revocation_poll(struct kdc_coap *c)
{
	uint64_t now;
	int64_t gen;
	kdc_err r;

	if (c->rv_interval_ms == 0 || (now = kdc_coap_now_ms()) < c->rv_next)
		return;
	c->rv_next = now + c->rv_interval_ms;
	if ((r = kdc_core_revocation_gen(c->core, &gen)) != KDC_OK) {
		kdc_log_debug_r(r, "revocation generation not read");
		return;
	}
	if (c->rv_known && gen == c->rv_gen)
		return;
	/* read before the walk: a revocation during it moves it again */
	if (recheck_peers(c) != KDC_OK)
		return;
	c->rv_gen = gen;
	c->rv_known = true;
	if (c->rv_fn != NULL)
		c->rv_fn(c->rv_arg);
}

kdc_err
kdc_coap_run_once(struct kdc_coap *c, unsigned timeout_ms)
{
	struct kdc_coap_peer *p, *next;
	struct kdc_coap_pending *q;
	uint64_t ticket;

	c->in_step = true;
	kdc_coap_dtls_step_begin(c);
	io_step(c, timeout_ms);
	kdc_coap_dtls_step_end();
	c->in_step = false;
	/*
	 * The requests this step made wait for a sync of everything the
	 * step (and those before) committed: a Bootstrap-Write of /0 carries
	 * the credential its handler just issued (core.h kdc_syncer_*). The
	 * sync runs on its own thread; this one goes on with the next step
	 * and sends them once it is done.
	 */
	ticket = c->syncer != NULL ? kdc_syncer_request(c->syncer, c->core) :
	    0;
	for (q = c->pending; q != NULL; q = q->next)
		if (q->deferred != NULL && q->ticket == UNTICKETED)
			q->ticket = ticket;
	kdc_syncer_state(c->syncer, &c->sync_done, &c->sync_failed);
	kdc_coap_pending_flush(c);
	/* handshakes that finished: authenticated; refused peers: closed */
	kdc_coap_peers_step(c);
	revocation_poll(c);
	kdc_wipe(c->psk, sizeof(c->psk));
	/*
	 * Sessions born in this step: apply our DTLS settings before their
	 * next flight. A DTLS server session's GnuTLS state is made on the
	 * first ClientHello and only used again for the ClientHello that
	 * carries the cookie, one round trip later (see dtls.c).
	 */
	for (p = c->fresh; p != NULL; p = next) {
		next = p->fresh_next;	/* hooking takes p off the list */
		if (p->session != NULL)
			kdc_coap_dtls_hook(p);
	}
	kdc_coap_pending_expire(c, kdc_coap_now_ms());
	return KDC_OK;
}

kdc_err
kdc_coap_run(struct kdc_coap *c)
{
	while (!atomic_load(&c->stop))
		(void)kdc_coap_run_once(c, KDC_COAP_TICK_MS);
	atomic_store(&c->stop, 0);
	return KDC_OK;
}

/* Async-signal-safe: one lock-free atomic store; the loop sees it within
 * KDC_COAP_TICK_MS. */
void
kdc_coap_stop(struct kdc_coap *c)
{
	atomic_store(&c->stop, 1);
}
