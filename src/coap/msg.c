/*
 * msg.c: libcoap PDUs <-> struct kdc_coap_msg / kdc_coap_resp, and the
 * dispatcher from libcoap resources to our routes. Everything a peer sent
 * is bounded here; nothing is truncated silently.
 */
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "coap/coap_int.h"
#include "crypto/crypto.h"

const char *
kdc_coap_msg_query(const struct kdc_coap_msg *m, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < m->nquery; i++) {
		const char *q = m->query[i];
		if (strncmp(q, name, n) != 0)
			continue;
		if (q[n] == '=')
			return q + n + 1;
		if (q[n] == '\0')
			return q + n;
	}
	return NULL;
}

/* Append one path segment to buf (capacity cap, NUL-terminated). */
static kdc_err
path_append(char *buf, size_t cap, const uint8_t *v, size_t len)
{
	size_t used = strlen(buf);

	if (memchr(v, '\0', len) != NULL || memchr(v, '/', len) != NULL)
		return KDC_ERR_MALFORMED;	/* would make the join ambiguous */
	if (used + (used > 0) + len + 1 > cap)
		return KDC_ERR_MALFORMED;	/* over KDC_COAP_PATH_MAX: 4.00 */
	if (used > 0)
		buf[used++] = '/';
	memcpy(buf + used, v, len);
	buf[used + len] = '\0';
	return KDC_OK;
}

static kdc_err
uint_opt(const coap_opt_t *o, int *out)
{
	if (coap_opt_length(o) > 2)	/* Content-Format/Accept: 0..65535 */
		return KDC_ERR_MALFORMED;
	*out = (int)coap_decode_var_bytes(coap_opt_value(o),
	    coap_opt_length(o));
	return KDC_OK;
}

/*
 * Decode pdu into m. location (capacity location_len) receives the
 * Location-Path when not NULL. MALFORMED for an option over our limits
 * (answered 4.00), TOO_LARGE for a body over KDC_COAP_BODY_MAX (4.13).
 */
kdc_err
kdc_coap_msg_decode(const coap_pdu_t *pdu, struct kdc_coap_msg *m,
    char *location, size_t location_len)
{
	coap_opt_iterator_t it;
	coap_opt_t *o;
	const uint8_t *data = NULL;
	size_t len = 0;
	kdc_err r = KDC_OK;

	memset(m, 0, sizeof(*m));
	m->content_format = KDC_CF_NONE;
	m->accept = KDC_CF_NONE;
	m->code = (uint8_t)coap_pdu_get_code(pdu);
	if (location != NULL && location_len > 0)
		location[0] = '\0';
	/* libcoap 4.3.1 returns NULL for a message with no options and no
	 * payload (a bare 2.02/2.04 ACK): that is "no options", not an error */
	if (coap_option_iterator_init(pdu, &it, COAP_OPT_ALL) == NULL)
		goto options_done;
	while (r == KDC_OK && (o = coap_option_next(&it)) != NULL) {
		const uint8_t *v = coap_opt_value(o);
		size_t n = coap_opt_length(o);

		switch (it.number) {
		case COAP_OPTION_URI_PATH:
			r = path_append(m->path, sizeof(m->path), v, n);
			break;
		case COAP_OPTION_LOCATION_PATH:
			if (location != NULL)
				r = path_append(location, location_len, v, n);
			break;
		case COAP_OPTION_URI_QUERY:
			if (m->nquery == KDC_COAP_QUERY_MAX ||
			    n > KDC_COAP_QUERY_LEN ||
			    memchr(v, '\0', n) != NULL) {
				r = KDC_ERR_MALFORMED;
				break;
			}
			memcpy(m->query[m->nquery], v, n);
			m->query[m->nquery++][n] = '\0';
			break;
		case COAP_OPTION_CONTENT_FORMAT:
			r = uint_opt(o, &m->content_format);
			break;
		case COAP_OPTION_ACCEPT:
			r = uint_opt(o, &m->accept);
			break;
		default:
			break;
		}
	}
	if (r != KDC_OK)
		return r;
options_done:
	if (coap_get_data(pdu, &len, &data) && len > 0) {
		if (len > KDC_COAP_BODY_MAX)
			return KDC_ERR_TOO_LARGE;
		m->payload = data;
		m->payload_len = len;
	}
	if (location != NULL && location[0] != '\0')
		m->location = location;
	return KDC_OK;
}

/* Uri-Path or Location-Path options for "a/b/c" ("" adds none). */
kdc_err
kdc_coap_add_path_opts(coap_optlist_t **ol, uint16_t opt, const char *path)
{
	const char *s = path, *e;
	coap_optlist_t *node;

	while (*s != '\0') {
		e = strchr(s, '/');
		if (e == NULL)
			e = s + strlen(s);
		if (e - s > 255)		/* RFC 7252 §5.10: 0-255 bytes */
			return KDC_ERR_TOO_LARGE;
		node = coap_new_optlist(opt, (size_t)(e - s),
		    (const uint8_t *)s);
		if (node == NULL || !coap_insert_optlist(ol, node))
			return KDC_ERR_NOMEM;
		s = *e == '/' ? e + 1 : e;
	}
	return KDC_OK;
}

/* libcoap holds a response body for Block2 until the transfer ends or
 * is given up: then the payload's owner releases it (it may hold a
 * private key from /skg). */
static void
body_release(coap_session_t *s, void *arg)
{
	struct kdc_coap_resp *own = arg;

	(void)s;
	kdc_coap_resp_release(own);
	kdc_free(own);
}

/*
 * The handler's answer into the response PDU. The body goes through
 * libcoap's Block2 machinery (RFC 7959 §2.4): sent whole when it fits
 * and the client asked for no block size, else in the blocks the client
 * asked for or that fit; libcoap answers the follow-up block requests
 * from its copy without calling us again (matched by resource, method
 * and query on the session).
 */
static void
resp_fill(coap_resource_t *res, coap_session_t *s, const coap_pdu_t *req,
    const coap_string_t *query, coap_pdu_t *pdu, struct kdc_coap_resp *rs)
{
	coap_optlist_t *ol = NULL;
	struct kdc_coap_resp *own;
	uint8_t buf[4];
	uint8_t code = rs->code == 0 ? KDC_COAP_INTERNAL : rs->code;

	if (rs->location[0] != '\0' && kdc_coap_add_path_opts(&ol,
	    COAP_OPTION_LOCATION_PATH, rs->location) != KDC_OK)
		goto internal;
	if (rs->max_age > 0) {
		coap_optlist_t *n = coap_new_optlist(COAP_OPTION_MAXAGE,
		    coap_encode_var_safe(buf, sizeof(buf), rs->max_age), buf);
		if (n == NULL || !coap_insert_optlist(&ol, n))
			goto internal;
	}
	if (rs->content_format >= 0 && rs->content_format <= 0xffff) {
		coap_optlist_t *n = coap_new_optlist(COAP_OPTION_CONTENT_FORMAT,
		    coap_encode_var_safe(buf, sizeof(buf),
		    (unsigned)rs->content_format), buf);
		if (n == NULL || !coap_insert_optlist(&ol, n))
			goto internal;
	}
	if (ol != NULL && !coap_add_optlist_pdu(pdu, &ol))
		goto internal;
	coap_delete_optlist(ol);
	ol = NULL;
	/* the code first: libcoap may set 4.00 for a block past the end */
	coap_pdu_set_code(pdu, (coap_pdu_code_t)code);
	if (rs->payload_len == 0) {
		kdc_coap_resp_release(rs);
		return;
	}
	/* libcoap gets an owned payload: a borrowed one is copied first */
	if (rs->payload_len > KDC_COAP_RESP_MAX ||
	    (own = kdc_malloc(sizeof(*own))) == NULL)
		goto internal;
	if (rs->release != NULL)
		*own = *rs;
	else {
		memset(own, 0, sizeof(*own));
		if (kdc_coap_resp_alloc(own, rs->payload_len) == NULL) {
			kdc_free(own);
			goto internal;
		}
		memcpy((uint8_t *)(uintptr_t)own->payload, rs->payload,
		    rs->payload_len);
	}
	rs->release = NULL;		/* own holds it now */
	/* media type 0: the Content-Format option is ours, added above;
	 * maxage -1: none; etag 0: libcoap picks one when it blocks */
	if (!coap_add_data_large_response(res, s, req, pdu, query, 0, -1, 0,
	    own->payload_len, own->payload, body_release, own)) {
		/* own was released; libcoap set 4.00 (block past the end) or
		 * 5.00 and a diagnostic payload */
		kdc_log_debug("response payload of %zu bytes not sent (%u.%02u)",
		    rs->payload_len, coap_pdu_get_code(pdu) >> 5,
		    coap_pdu_get_code(pdu) & 31u);
	}
	return;
internal:
	/* options may be half added: a bare 5.00 is all we can still say */
	coap_delete_optlist(ol);
	kdc_coap_resp_release(rs);
	coap_pdu_set_code(pdu, COAP_RESPONSE_CODE_INTERNAL_ERROR);
}

/* ---- answers that come later ------------------------------------------ */

static void
later_free(struct kdc_coap_later *l)
{
	struct kdc_coap *c = l->c;

	if (l->next != NULL)
		l->next->pprev = l->pprev;
	*l->pprev = l->next;
	c->nlaters--;
	l->peer->laters--;
	kdc_coap_resp_release(&l->rs);
	kdc_coap_peer_unref(l->peer);
	kdc_free(l);
}

struct kdc_coap_later *
kdc_coap_defer(struct kdc_coap_peer *p)
{
	struct kdc_coap *c;
	struct kdc_coap_later *l;

	if (p == NULL || (c = p->c) == NULL || !c->in_dispatch ||
	    c->deferred || c->cur_req == NULL || p->session != c->cur_session ||
	    coap_pdu_get_type(c->cur_req) != COAP_MESSAGE_CON ||
	    c->nlaters >= KDC_COAP_LATER_MAX)
		return NULL;
	if ((l = kdc_calloc(1, sizeof(*l))) == NULL)
		return NULL;
	/* delay 0: fired only by coap_async_trigger() (later_answer) */
	if ((l->async = coap_register_async(c->cur_session, c->cur_req, 0)) ==
	    NULL) {
		kdc_free(l);
		return NULL;
	}
	coap_async_set_app_data(l->async, l);
	l->c = c;
	l->peer = p;
	p->refs++;
	p->laters++;
	l->next = c->laters;
	if (c->laters != NULL)
		c->laters->pprev = &l->next;
	l->pprev = &c->laters;
	c->laters = l;
	c->nlaters++;
	c->deferred = true;
	c->cur_later = l;
	return l;
}

void
kdc_coap_later_cancel(struct kdc_coap_later *l)
{
	struct kdc_coap *c;

	if (l == NULL || (c = l->c) == NULL || !c->in_dispatch ||
	    l != c->cur_later)
		return;		/* not this handler's: coap.h says not to */
	/* handle_request() took no pointer to an async it did not find on
	 * entry: freeing this one here is safe */
	coap_free_async(c->cur_session, l->async);
	later_free(l);
	c->deferred = false;
	c->cur_later = NULL;
}

struct kdc_coap_peer *
kdc_coap_later_peer(const struct kdc_coap_later *l)
{
	return l->peer;
}

unsigned
kdc_coap_peer_laters(const struct kdc_coap_peer *p)
{
	return p->laters;
}

/*
 * Keep the answer and let libcoap fire the async: the engine's next step
 * fires triggered asyncs (coap_io_prepare_io(), engine.c io_step())
 * before it reads a datagram, so the dispatcher below meets this later only as libcoap's
 * own replay of the request (a retransmission of the request from the
 * peer would find libcoap's async still waiting and get the empty ACK).
 * That holds because answers are given between engine steps (coap.h:
 * not from inside a handler, which cancels instead).
 */
void
kdc_coap_later_answer(struct kdc_coap_later *l,
    const struct kdc_coap_resp *rs)
{
	uint8_t *copy;

	if (l == NULL || l->done) {
		/* not ours to answer: the payload is given up all the same */
		if (rs->release != NULL)
			rs->release(rs->release_arg);
		return;
	}
	if (l->peer->gone || l->peer->session == NULL ||
	    coap_session_get_state(l->peer->session) !=
	    COAP_SESSION_STATE_ESTABLISHED) {
		/*
		 * The session ended while the answer was being made (the
		 * peer closed it, or a revocation did): nobody to send it to.
		 * Firing the async would send on a closed server session,
		 * where libcoap 4.3.1 starts a client handshake
		 * (docs/traps.md). Its session reference goes with it.
		 */
		if (rs->release != NULL)
			rs->release(rs->release_arg);
		if (l->peer->session != NULL)
			coap_free_async(l->peer->session, l->async);
		later_free(l);
		return;
	}
	l->rs = *rs;
	if (rs->release == NULL) {
		/* borrowed: an owned copy */
		l->rs.payload = NULL;
		l->rs.payload_len = 0;
		if (rs->payload_len > 0 && ((copy = kdc_coap_resp_alloc(&l->rs,
		    rs->payload_len)) != NULL))
			memcpy(copy, rs->payload, rs->payload_len);
		else if (rs->payload_len > 0)
			l->rs.code = KDC_COAP_INTERNAL;
	}
	if (l->rs.payload_len > KDC_COAP_RESP_MAX) {
		kdc_coap_resp_release(&l->rs);
		l->rs.code = KDC_COAP_INTERNAL;
		l->rs.content_format = KDC_CF_NONE;
	}
	l->done = true;
	coap_async_trigger(l->async);
	l->c->triggered = true;
}

/* Engine teardown: before the context (whose end frees the asyncs). */
void
kdc_coap_laters_free(struct kdc_coap *c)
{
	while (c->laters != NULL) {
		coap_async_set_app_data(c->laters->async, NULL);
		later_free(c->laters);
	}
}

/* libcoap replays a deferred request whose answer is ready: send it. */
static bool
later_replay(struct kdc_coap *c, coap_resource_t *res, coap_session_t *s,
    const coap_pdu_t *req, const coap_string_t *query, coap_pdu_t *resp)
{
	coap_async_t *a;
	struct kdc_coap_later *l;

	if (c->nlaters == 0 ||
	    (a = coap_find_async(s, coap_pdu_get_token(req))) == NULL ||
	    (l = coap_async_get_app_data(a)) == NULL)
		return false;
	if (!l->done) {
		/* libcoap answers retransmissions of a waiting request itself;
		 * should one get here, acknowledge it and say nothing more */
		coap_pdu_set_type(resp, COAP_MESSAGE_ACK);
		return true;
	}
	coap_async_set_app_data(a, NULL);	/* libcoap frees a next */
	resp_fill(res, s, req, query, resp, &l->rs);
	later_free(l);
	return true;
}

void
kdc_coap_dispatch(coap_resource_t *res, coap_session_t *s,
    const coap_pdu_t *req, const coap_string_t *query, coap_pdu_t *resp)
{
	struct kdc_coap *c = coap_resource_get_userdata(res);
	struct kdc_coap_peer *p = coap_session_get_app_data(s);
	const struct kdc_coap_route *hit = NULL;
	struct kdc_coap_msg m;
	struct kdc_coap_resp rs;
	coap_block_b_t b1;
	bool path_known = false;
	kdc_err r;

	if (later_replay(c, res, s, req, query, resp))
		return;
	/* DESIGN §6: unauthenticated peers get no application processing;
	 * a handshake that finished in this very step is confirmed here */
	if (p != NULL && !p->authed)
		kdc_coap_peer_confirm(p);
	if (p == NULL || !p->authed || p->ep == NULL) {
		kdc_log_debug("peer=%s unauthenticated request refused",
		    p != NULL ? p->addr : "?");
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_UNAUTHORIZED);
		return;
	}
	/*
	 * Handlers get whole bodies only. libcoap 4.3.1 joins Block1 pieces
	 * (COAP_BLOCK_SINGLE_BODY) and removes the Block1 option, but it
	 * hands a piece on as is when it cannot join it: a transfer without
	 * Size1 (the body buffer is not made), a block other than 0 with no
	 * transfer under way. Such a piece is not the request body: 4.08
	 * Request Entity Incomplete (RFC 7959 §2.9.2). A lone block 0
	 * without More is a whole body.
	 */
	if (coap_get_block_b(s, req, COAP_OPTION_BLOCK1, &b1) &&
	    (b1.num > 0 || b1.m)) {
		kdc_log_debug("peer=%s Block1 piece %u%s not joined by the "
		    "engine (no Size1?): 4.08", p->addr, b1.num,
		    b1.m ? "/M" : "");
		coap_pdu_set_code(resp, COAP_RESPONSE_CODE_INCOMPLETE);
		return;
	}
	if ((r = kdc_coap_msg_decode(req, &m, NULL, 0)) != KDC_OK) {
		kdc_log_debug_r(r, "peer=%s bad request", p->addr);
		coap_pdu_set_code(resp, (coap_pdu_code_t)kdc_coap_code(r));
		return;
	}
	/* exact routes first, then prefix routes ("rd/" matches "rd/7") */
	for (int pass = 0; pass < 2 && hit == NULL && !path_known; pass++)
		for (size_t i = 0; i < c->nroutes; i++) {
			const struct kdc_coap_route *rt = &c->routes[i];
			size_t n = strlen(rt->path);
			if (rt->prefix != (pass == 1) || (rt->ep[0] != '\0' &&
			    strcmp(rt->ep, p->ep->name) != 0))
				continue;
			if (pass == 0 ? strcmp(rt->path, m.path) != 0 :
			    strncmp(rt->path, m.path, n) != 0 ||
			    m.path[n] == '\0' || m.path[n] == '/')
				continue;
			path_known = true;
			if (rt->method == m.code) {
				hit = rt;
				break;
			}
		}
	if (hit == NULL) {
		coap_pdu_set_code(resp, path_known ?
		    COAP_RESPONSE_CODE_NOT_ALLOWED :
		    COAP_RESPONSE_CODE_NOT_FOUND);
		return;
	}
	memset(&rs, 0, sizeof(rs));
	rs.content_format = KDC_CF_NONE;
	c->in_dispatch = true;
	c->cur_session = s;
	c->cur_req = req;
	c->deferred = false;
	c->cur_later = NULL;
	hit->fn(hit->arg, p, &m, &rs);
	c->in_dispatch = false;
	c->cur_session = NULL;
	c->cur_req = NULL;
	c->cur_later = NULL;
	if (c->deferred) {
		/* code 0: libcoap sends the empty ACK */
		c->deferred = false;
		kdc_coap_resp_release(&rs);
		return;
	}
	resp_fill(res, s, req, query, resp, &rs);
}
