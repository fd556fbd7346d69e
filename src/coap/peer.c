/*
 * peer.c: one struct kdc_coap_peer per libcoap server session, and the
 * requests the face sends to peers (the token -> completion table).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "coap/coap_int.h"

uint64_t
kdc_coap_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- peers ----------------------------------------------------------------- */

static const struct kdc_coap_ep *
ep_of(struct kdc_coap *c, coap_session_t *s)
{
	const coap_address_t *la = coap_session_get_addr_local(s);
	uint16_t port = la != NULL ? coap_address_get_port(la) : 0;

	for (size_t i = 0; i < c->neps; i++)
		if (c->eps[i].port == port)
			return &c->eps[i];
	return NULL;
}

struct kdc_coap_peer *
kdc_coap_peer_of(struct kdc_coap *c, coap_session_t *s, bool create)
{
	struct kdc_coap_peer *p = coap_session_get_app_data(s);
	const coap_address_t *ra;

	if (p != NULL || !create)
		return p;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->c = c;
	p->session = s;
	p->refs = 1;			/* the session link */
	p->ep = ep_of(c, s);
	if ((ra = coap_session_get_addr_remote(s)) != NULL)
		coap_print_addr(ra, (unsigned char *)p->addr, sizeof(p->addr));
	if (coap_session_get_proto(s) == COAP_PROTO_UDP) {
		/* NoSec endpoint (loopback, tests): no identity to establish */
		p->hooked = true;
		p->authed = p->ep != NULL &&
		    (p->ep->accept & KDC_COAP_ACCEPT_NOSEC) != 0;
	}
	coap_session_set_app_data(s, p);
	if ((p->next = c->peers) != NULL)
		p->next->pprev = &p->next;
	p->pprev = &c->peers;
	c->peers = p;
	if (!p->hooked) {
		if ((p->fresh_next = c->fresh) != NULL)
			p->fresh_next->fresh_pprev = &p->fresh_next;
		p->fresh_pprev = &c->fresh;
		c->fresh = p;
	}
	return p;
}

static void
fresh_unlink(struct kdc_coap_peer *p)
{
	if (p->fresh_pprev == NULL)
		return;
	if ((*p->fresh_pprev = p->fresh_next) != NULL)
		p->fresh_next->fresh_pprev = p->fresh_pprev;
	p->fresh_next = NULL;
	p->fresh_pprev = NULL;
}

void
kdc_coap_peer_set_hooked(struct kdc_coap_peer *p)
{
	p->hooked = true;
	fresh_unlink(p);
}

static void
hs_unlink(struct kdc_coap_peer *p)
{
	if (p->hs_pprev == NULL)
		return;
	if ((*p->hs_pprev = p->hs_next) != NULL)
		p->hs_next->hs_pprev = p->hs_pprev;
	p->hs_next = NULL;
	p->hs_pprev = NULL;
}

void
kdc_coap_peer_vouched(struct kdc_coap_peer *p)
{
	struct kdc_coap *c = p->c;

	p->vouched = true;
	if (p->hs_pprev != NULL || p->authed)
		return;
	if ((p->hs_next = c->handshaking) != NULL)
		p->hs_next->hs_pprev = &p->hs_next;
	p->hs_pprev = &c->handshaking;
	c->handshaking = p;
}

/*
 * libcoap 4.3.1 (GnuTLS) reports no event when a server session's
 * handshake completes (COAP_EVENT_DTLS_CONNECTED is a client's, and a
 * server's only on a later datagram; docs/traps.md): the session's state
 * turning ESTABLISHED is the signal, looked at after each step and
 * before a request is dispatched.
 */
void
kdc_coap_peer_confirm(struct kdc_coap_peer *p)
{
	if (!p->vouched || p->authed || p->session == NULL || p->gone ||
	    p->doomed ||
	    coap_session_get_state(p->session) != COAP_SESSION_STATE_ESTABLISHED)
		return;
	p->authed = true;
	hs_unlink(p);
	kdc_log_debug("peer=%s endpoint=%s authenticated cred=%lld type=%s "
	    "device=%s", p->addr, p->ep != NULL ? p->ep->name : "?",
	    (long long)p->auth.cred_id, kdc_cred_type_str(p->auth.type),
	    p->auth.dev_id);
}

void
kdc_coap_peer_doom(struct kdc_coap_peer *p, kdc_err why)
{
	struct kdc_coap *c = p->c;

	if (p->doomed || p->session == NULL || p->gone)
		return;
	p->doomed = true;
	p->doom_why = why;
	p->refs++;			/* until closed */
	p->doom_next = c->doomed;
	c->doomed = p;
}

void
kdc_coap_peers_step(struct kdc_coap *c)
{
	struct kdc_coap_peer *p, *next;
	coap_session_t *s;

	for (p = c->handshaking; p != NULL; p = next) {
		next = p->hs_next;	/* confirming takes p off the list */
		kdc_coap_peer_confirm(p);
	}
	while ((p = c->doomed) != NULL) {
		c->doomed = p->doom_next;
		p->doom_next = NULL;
		if ((s = p->session) != NULL && !p->gone) {
			/*
			 * close_notify (gnutls_bye) and the session's end:
			 * DTLS_CLOSED (peer closed: requests in flight fail,
			 * the face hears it is gone), then libcoap frees the
			 * session at its next step once nobody holds it
			 * (state NONE). Never coap_send() on it after: on a
			 * server session in state NONE, 4.3.1 would start a
			 * client handshake (docs/traps.md).
			 */
			coap_session_reference(s);
			coap_session_disconnected(s, COAP_NACK_TLS_FAILED);
			coap_session_release(s);
		}
		kdc_coap_peer_unref(p);
	}
}

static void
complete(struct kdc_coap_pending *q, kdc_err st, const struct kdc_coap_msg *m)
{
	struct kdc_coap_peer *p = q->peer;

	if (q->deferred != NULL)
		coap_delete_pdu(q->deferred);
	q->done(q->arg, p, st, m);
	free(q);
	kdc_coap_peer_unref(p);
}

/* Take out every pending request of p (or all when p is NULL). */
static struct kdc_coap_pending *
pending_take(struct kdc_coap *c, struct kdc_coap_peer *p)
{
	struct kdc_coap_pending *out = NULL, **pp = &c->pending, *q;

	while ((q = *pp) != NULL) {
		if (p == NULL || q->peer == p) {
			*pp = q->next;
			q->next = out;
			out = q;
			c->npending--;
		} else
			pp = &q->next;
	}
	return out;
}

static void
fail_list(struct kdc_coap_pending *q, kdc_err st)
{
	struct kdc_coap_pending *next;

	for (; q != NULL; q = next) {
		next = q->next;
		complete(q, st, NULL);
	}
}

/* The session ended (close_notify, alert, timeout): requests in flight
 * fail with CLOSED, the face hears once that the peer is gone. */
void
kdc_coap_peer_closed(struct kdc_coap_peer *p)
{
	struct kdc_coap *c = p->c;

	p->refs++;		/* callbacks below may release the last hold */
	/* established and closed in one step: it was authenticated */
	kdc_coap_peer_confirm(p);
	if (!p->authed)
		kdc_coap_handshake_failed(p);	/* vouched, key not proven */
	hs_unlink(p);
	fail_list(pending_take(c, p), KDC_ERR_CLOSED);
	if (!p->gone) {
		p->gone = true;
		if (p->authed && c->gone != NULL)
			c->gone(c->gone_arg, p);
	}
	kdc_coap_peer_unref(p);
}

/* libcoap is freeing the session. */
void
kdc_coap_peer_detach(struct kdc_coap_peer *p)
{
	if (p->session == NULL)
		return;
	p->refs++;
	kdc_coap_peer_closed(p);
	coap_session_set_app_data(p->session, NULL);
	p->session = NULL;
	p->sess_ref = false;	/* libcoap is past caring about our ref */
	if (p->pprev != NULL && (*p->pprev = p->next) != NULL)
		p->next->pprev = p->pprev;
	p->next = NULL;
	p->pprev = NULL;
	fresh_unlink(p);
	hs_unlink(p);
	p->refs--;		/* the session link */
	kdc_coap_peer_unref(p);
}

void
kdc_coap_peer_unref(struct kdc_coap_peer *p)
{
	if (--p->refs > 0)
		return;
	free(p);
}

const struct kdc_principal *
kdc_coap_peer_auth(const struct kdc_coap_peer *p)
{
	return &p->auth;
}

const char *
kdc_coap_peer_endpoint(const struct kdc_coap_peer *p)
{
	return p->ep != NULL ? p->ep->name : "";
}

const char *
kdc_coap_peer_addr(const struct kdc_coap_peer *p)
{
	return p->addr;
}

void
kdc_coap_peer_hold(struct kdc_coap_peer *p)
{
	p->refs++;
	p->holds++;
	if (p->session != NULL && !p->sess_ref) {
		/* keep libcoap from freeing an idle session we still use */
		coap_session_reference(p->session);
		p->sess_ref = true;
	}
}

void
kdc_coap_peer_release(struct kdc_coap_peer *p)
{
	coap_session_t *s = NULL;

	if (p->holds == 0)
		return;			/* unbalanced release: ignore */
	if (--p->holds == 0 && p->sess_ref && p->session != NULL) {
		s = p->session;
		p->sess_ref = false;
	}
	p->refs++;
	if (s != NULL)
		coap_session_release(s);	/* may detach p right here */
	p->refs--;
	kdc_coap_peer_unref(p);
}

void
kdc_coap_peer_set_data(struct kdc_coap_peer *p, void *data)
{
	p->data = data;
}

void *
kdc_coap_peer_get_data(const struct kdc_coap_peer *p)
{
	return p->data;
}

/* ---- requests to peers -------------------------------------------------- */

/* libcoap is done with a request body it sent block-wise (it may hold
 * a body with secrets: a Bootstrap-Write of a PSK or private key). */
static void
release_body(coap_session_t *s, void *body)
{
	size_t len;

	(void)s;
	memcpy(&len, body, sizeof(len));
	kdc_wipe((uint8_t *)body + sizeof(len), len);
	free(body);
}

kdc_err
kdc_coap_request(struct kdc_coap_peer *p, uint8_t method, const char *path,
    int content_format, int accept, const uint8_t *payload, size_t len,
    kdc_coap_done_fn done, void *arg)
{
	struct kdc_coap *c = p->c;
	struct kdc_coap_pending *q = NULL;
	coap_optlist_t *ol = NULL;
	coap_pdu_t *pdu = NULL;
	uint8_t buf[4];
	kdc_err r;

	if (done == NULL || path == NULL || method < KDC_COAP_GET ||
	    method > KDC_COAP_DELETE || (len > 0 && payload == NULL))
		return KDC_ERR_INVALID_ARG;
	if (p->session == NULL || p->gone ||
	    coap_session_get_state(p->session) != COAP_SESSION_STATE_ESTABLISHED)
		return KDC_ERR_CLOSED;
	if (c->npending >= KDC_COAP_PENDING_MAX)
		return KDC_ERR_TOO_LARGE;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return KDC_ERR_NOMEM;
	if ((pdu = coap_new_pdu(COAP_MESSAGE_CON, (coap_pdu_code_t)method,
	    p->session)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	coap_session_new_token(p->session, &q->token_len, q->token);
	if (!coap_add_token(pdu, q->token_len, q->token)) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	if ((r = kdc_coap_add_path_opts(&ol, COAP_OPTION_URI_PATH, path)) !=
	    KDC_OK)
		goto out;
	if (content_format >= 0 && content_format <= 0xffff &&
	    !coap_insert_optlist(&ol, coap_new_optlist(
	    COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(buf, sizeof(buf),
	    (unsigned)content_format), buf))) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	if (accept >= 0 && accept <= 0xffff &&
	    !coap_insert_optlist(&ol, coap_new_optlist(COAP_OPTION_ACCEPT,
	    coap_encode_var_safe(buf, sizeof(buf), (unsigned)accept), buf))) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	if (ol != NULL && !coap_add_optlist_pdu(pdu, &ol)) {
		r = KDC_ERR_TOO_LARGE;
		goto out;
	}
	if (len > KDC_COAP_REQ_BODY_MAX) {
		r = KDC_ERR_TOO_LARGE;
		goto out;
	}
	if (len > 0) {
		/* libcoap sends it in Block1 pieces if it must; it keeps
		 * the buffer until the transfer ends, then release_body() */
		uint8_t *copy = malloc(sizeof(len) + len);

		if (copy == NULL) {
			r = KDC_ERR_NOMEM;
			goto out;
		}
		memcpy(copy, &len, sizeof(len));
		memcpy(copy + sizeof(len), payload, len);
		if (!coap_add_data_large_request(p->session, pdu, len,
		    copy + sizeof(len), release_body, copy)) {
			kdc_wipe(copy + sizeof(len), len);
			free(copy);
			r = KDC_ERR_TOO_LARGE;
			goto out;
		}
	}
	if (c->ack_timeout_ms != 0) {
		coap_fixed_point_t ft = { (uint16_t)(c->ack_timeout_ms / 1000),
		    (uint16_t)(c->ack_timeout_ms % 1000) };
		coap_session_set_ack_timeout(p->session, ft);
	}
	if (c->max_retransmit != 0)
		coap_session_set_max_retransmit(p->session,
		    (uint16_t)c->max_retransmit);
	q->peer = p;
	q->done = done;
	q->arg = arg;
	q->deadline = kdc_coap_now_ms() + c->request_timeout_ms;
	p->refs++;
	q->next = c->pending;
	c->pending = q;
	c->npending++;
	if (c->in_dispatch || c->in_step) {
		/*
		 * Asked from inside a route handler (a Bootstrap Server sends
		 * Discover on /bs): libcoap sends the handler's response only
		 * after the handler returns, so hold the request until then;
		 * a device must see its 2.04 before our first request. Asked
		 * during an engine step (a response handler sends the next
		 * bootstrap request): held to the step's end, when the
		 * credentials it may carry have been made durable with one
		 * sync for the whole step (kdc_coap_run_once()).
		 */
		q->deferred = pdu;
		q->ticket = UNTICKETED;
		pdu = NULL;
		q = NULL;
		r = KDC_OK;
		goto out;
	}
	/* coap_send() takes the PDU whatever happens */
	if (coap_send(p->session, pdu) == COAP_INVALID_MID) {
		pdu = NULL;
		c->pending = q->next;
		c->npending--;
		p->refs--;
		r = KDC_ERR_CLOSED;
		goto out;
	}
	pdu = NULL;
	q = NULL;
	r = KDC_OK;
out:
	coap_delete_optlist(ol);
	if (pdu != NULL)
		coap_delete_pdu(pdu);
	free(q);
	return r;
}

static struct kdc_coap_pending *
pending_find(struct kdc_coap *c, coap_session_t *s, const coap_pdu_t *pdu)
{
	coap_bin_const_t tok = coap_pdu_get_token(pdu);
	struct kdc_coap_pending **pp, *q;

	for (pp = &c->pending; (q = *pp) != NULL; pp = &q->next)
		if (q->peer->session == s && q->token_len == tok.length &&
		    memcmp(q->token, tok.s, tok.length) == 0) {
			*pp = q->next;
			c->npending--;
			q->next = NULL;
			return q;
		}
	return NULL;
}

coap_response_t
kdc_coap_on_response(coap_session_t *s, const coap_pdu_t *sent,
    const coap_pdu_t *rcvd, const coap_mid_t mid)
{
	struct kdc_coap *c = coap_get_app_data(coap_session_get_context(s));
	struct kdc_coap_pending *q;
	struct kdc_coap_msg m;
	char loc[KDC_COAP_PATH_MAX + 1];
	kdc_err r;

	(void)sent;
	(void)mid;
	if (c == NULL || (q = pending_find(c, s, rcvd)) == NULL) {
		/* a late answer (deadline passed) or not ours */
		return COAP_RESPONSE_OK;
	}
	if (coap_pdu_get_type(rcvd) == COAP_MESSAGE_RST) {
		complete(q, KDC_ERR_PEER_RESET, NULL);
		return COAP_RESPONSE_OK;
	}
	if ((r = kdc_coap_msg_decode(rcvd, &m, loc, sizeof(loc))) != KDC_OK) {
		kdc_log_debug_r(r, "peer=%s response refused", q->peer->addr);
		complete(q, r, NULL);
		return COAP_RESPONSE_OK;
	}
	complete(q, KDC_OK, &m);
	return COAP_RESPONSE_OK;
}

void
kdc_coap_on_nack(coap_session_t *s, const coap_pdu_t *sent,
    const coap_nack_reason_t reason, const coap_mid_t mid)
{
	struct kdc_coap *c = coap_get_app_data(coap_session_get_context(s));
	struct kdc_coap_pending *q;
	kdc_err st;

	(void)mid;
	if (c == NULL || sent == NULL || (q = pending_find(c, s, sent)) == NULL)
		return;
	switch (reason) {
	case COAP_NACK_RST:		st = KDC_ERR_PEER_RESET; break;
	case COAP_NACK_TOO_MANY_RETRIES: st = KDC_ERR_TIMEOUT; break;
	default:			st = KDC_ERR_CLOSED; break;
	}
	complete(q, st, NULL);
}

void
kdc_coap_pending_expire(struct kdc_coap *c, uint64_t now)
{
	struct kdc_coap_pending *out = NULL, **pp = &c->pending, *q;

	while ((q = *pp) != NULL) {
		if (q->deadline <= now) {
			*pp = q->next;
			q->next = out;
			out = q;
			c->npending--;
		} else
			pp = &q->next;
	}
	/* libcoap may still retransmit; a late answer finds no entry */
	fail_list(out, KDC_ERR_TIMEOUT);
}

/*
 * Send the requests made during the steps (after libcoap sent the
 * handlers' responses) whose sync is done: what their handlers committed
 * is durable. A failed sync fails its requests (done callbacks get
 * KDC_ERR_IO): the credentials they carry never leave.
 */
void
kdc_coap_pending_flush(struct kdc_coap *c)
{
	struct kdc_coap_pending *failed = NULL, *io = NULL, **pp = &c->pending;
	struct kdc_coap_pending *q;
	coap_pdu_t *pdu;

	while ((q = *pp) != NULL) {
		if (q->deferred == NULL || q->ticket == UNTICKETED ||
		    (q->ticket > c->sync_done && q->ticket > c->sync_failed)) {
			pp = &q->next;
			continue;
		}
		pdu = q->deferred;
		q->deferred = NULL;
		if (q->ticket > c->sync_done) {
			coap_delete_pdu(pdu);
			*pp = q->next;
			c->npending--;
			q->next = io;
			io = q;
			continue;
		}
		/* coap_send() takes the PDU whatever happens */
		if (q->peer->session == NULL || q->peer->gone ||
		    coap_send(q->peer->session, pdu) == COAP_INVALID_MID) {
			if (q->peer->session == NULL || q->peer->gone)
				coap_delete_pdu(pdu);
			*pp = q->next;
			c->npending--;
			q->next = failed;
			failed = q;
			continue;
		}
		pp = &q->next;
	}
	fail_list(io, KDC_ERR_IO);
	fail_list(failed, KDC_ERR_CLOSED);
}

void
kdc_coap_pending_fail_all(struct kdc_coap *c)
{
	fail_list(pending_take(c, NULL), KDC_ERR_CLOSED);
}
