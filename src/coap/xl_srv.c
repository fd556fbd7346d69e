/*
 * xl_srv.c: requests from peers, the message layer's server side: routes
 * (kdc_coap_route()), a request's refusals (4.02, 4.00, 4.04/4.05, 4.13
 * before anything is kept), Block1 bodies joined in order and bounded by
 * body_max as they grow (never by Size1; one per peer, bodies_max in
 * all), the handler's answer piggybacked (cut by Block2 when it does not
 * fit, the rest kept for the follow-ups) or deferred and sent as a
 * separate CON (kdc_coap_defer(), kdc_coap_later_*()), and RFC 7641
 * Observe (kdc_coap_observe(), kdc_coap_notify()).
 *
 * xl.c hands it each request (xl_on_request()), keeps the answers to CONs
 * for retransmissions (xl_reply()), retransmits separate answers and
 * notifications, and frees what a peer leaves behind.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "coap/wire.h"
#include "coap/xl_int.h"

/* ---- routes ------------------------------------------------------------------ */

kdc_err
kdc_coap_route(struct kdc_coap *c, const char *name, uint8_t method,
    const char *path, kdc_coap_handler_fn fn, void *arg)
{
	struct kdc_coap_xl *x = c != NULL ? kdc_coap_xl_of(c) : NULL;
	struct xl_route *rt;
	bool prefix;
	size_t plen;

	if (x == NULL || path == NULL || fn == NULL ||
	    strlen(path) > KDC_COAP_PATH_MAX || path[0] == '/' ||
	    (name != NULL && strlen(name) > KDC_NAME_MAX) ||
	    method < KDC_COAP_GET || method > KDC_COAP_DELETE)
		return KDC_ERR_INVALID_ARG;
	if (x->nroutes == KDC_COAP_ROUTE_MAX)
		return KDC_ERR_TOO_LARGE;
	plen = strlen(path);
	prefix = plen >= 2 && path[plen - 1] == '*' && path[plen - 2] == '/';
	if (prefix)
		plen--;
	for (size_t i = 0; i < x->nroutes; i++) {
		rt = &x->routes[i];
		if (rt->prefix == prefix && strlen(rt->path) == plen &&
		    strncmp(rt->path, path, plen) == 0 &&
		    rt->method == method &&
		    strcmp(rt->ep, name == NULL ? "" : name) == 0)
			return KDC_ERR_EXISTS;
	}
	rt = &x->routes[x->nroutes++];
	memset(rt, 0, sizeof(*rt));
	snprintf(rt->ep, sizeof(rt->ep), "%s", name == NULL ? "" : name);
	rt->method = method;
	rt->prefix = prefix;
	snprintf(rt->path, sizeof(rt->path), "%.*s", (int)plen, path);
	rt->fn = fn;
	rt->arg = arg;
	return KDC_OK;
}

/* The route for (endpoint, method, path), or NULL with *code 4.04/4.05.
 * Exact routes first, then prefix routes ("rd/" matches "rd/7"). */
static const struct xl_route *
route_find(const struct kdc_coap_xl *x, const char *ep, uint8_t method,
    const char *path, uint8_t *code)
{
	bool known = false;

	for (int pass = 0; pass < 2 && !known; pass++)
		for (size_t i = 0; i < x->nroutes; i++) {
			const struct xl_route *rt = &x->routes[i];
			size_t n = strlen(rt->path);
			if (rt->prefix != (pass == 1) || (rt->ep[0] != '\0' &&
			    strcmp(rt->ep, ep) != 0))
				continue;
			if (pass == 0 ? strcmp(rt->path, path) != 0 :
			    strncmp(rt->path, path, n) != 0 ||
			    path[n] == '\0' || path[n] == '/')
				continue;
			known = true;
			if (rt->method == method)
				return rt;
		}
	*code = known ? KDC_COAP_NOT_ALLOWED : KDC_COAP_NOT_FOUND;
	return NULL;
}

/* ---- answers ------------------------------------------------------------------ */

/* Keep rs as p's answer served by Block2 (an owned copy of a borrowed
 * payload): rs has no payload after, whatever happens. */
static kdc_err
b2_keep(struct kdc_coap_xl *x, struct kdc_coap_xp *xp,
    struct kdc_coap_resp *rs, uint8_t method, const char *path)
{
	struct xl_b2 *b;
	uint8_t *copy;

	if ((b = kdc_calloc(1, sizeof(*b))) == NULL) {
		kdc_coap_resp_release(rs);
		return KDC_ERR_NOMEM;
	}
	b->rs = *rs;
	if (rs->release == NULL) {
		b->rs.payload = NULL;
		b->rs.payload_len = 0;
		b->rs.release = NULL;
		if ((copy = kdc_coap_resp_alloc(&b->rs, rs->payload_len)) ==
		    NULL) {
			kdc_free(b);
			return KDC_ERR_NOMEM;
		}
		memcpy(copy, rs->payload, rs->payload_len);
	}
	rs->release = NULL;		/* b holds it now */
	rs->release_arg = NULL;
	rs->payload = NULL;
	rs->payload_len = 0;
	b->method = method;
	snprintf(b->path, sizeof(b->path), "%s", path);
	b->expire = kdc_coap_now_ms() + x->lim.body_timeout_ms;
	xl_b2_free(xp->b2);
	xp->b2 = b;
	return KDC_OK;
}

/*
 * The handler's answer rs to a request of p as one message in buf: whole
 * when it fits (and the peer asked for no smaller block), else block
 * `want` (block 0 when NULL) with the whole answer kept on p for the
 * follow-ups (RFC 7959 §2.4). rs's payload is released or kept: rs has
 * none after. Returns the message's length.
 */
static size_t
answer_make(struct kdc_coap_xl *x, struct kdc_coap_peer *p, uint8_t *buf,
    uint8_t type, uint16_t mid, const uint8_t *tok, size_t tok_len,
    struct kdc_coap_resp *rs, const struct kdc_coap_block *want,
    const struct kdc_coap_block *b1, uint8_t method, const char *path,
    const uint32_t *observe)
{
	struct kdc_coap_block first = { 0, false, SZX_MAX };
	struct kdc_coap_xp *xp;
	struct xl_out o;
	size_t n = 0;
	bool more = false;

	if (rs->payload_len > KDC_COAP_RESP_MAX)
		goto internal;
	xl_out_init(&o, rs->code == 0 ? KDC_COAP_INTERNAL : rs->code);
	o.location = rs->location[0] != '\0' ? rs->location : NULL;
	o.cf = rs->content_format;
	o.max_age = rs->max_age;
	o.b1 = b1;
	if (observe != NULL) {
		o.has_observe = true;
		o.observe = *observe;
	}
	if (want == NULL || (want->num == 0 &&
	    rs->payload_len <= ((size_t)16 << want->szx))) {
		o.payload = rs->payload;
		o.len = rs->payload_len;
		if (xl_out_make(buf, KDC_COAP_SEND_MAX, type, mid, tok, tok_len,
		    &o, &n) == KDC_OK) {
			kdc_coap_resp_release(rs);
			return n;
		}
		o.payload = NULL;
		o.len = 0;
	}
	if ((n = xl_block_make(buf, type, mid, tok, tok_len, &o, rs->payload,
	    rs->payload_len, want != NULL ? want : &first, &more)) == 0) {
		kdc_coap_resp_release(rs);
		if (want != NULL && want->num > 0)
			return xl_code_make(buf, type, mid, tok, tok_len,
			    KDC_COAP_BAD_REQUEST, NULL, NULL, 0);
		goto internal;
	}
	if (!more) {
		kdc_coap_resp_release(rs);
		return n;
	}
	if ((xp = xl_xp_get(x, p, true)) == NULL ||
	    b2_keep(x, xp, rs, method, path) != KDC_OK)
		goto internal;
	return n;
internal:
	kdc_coap_resp_release(rs);
	return xl_code_make(buf, type, mid, tok, tok_len, KDC_COAP_INTERNAL,
	    NULL, NULL, 0);
}

/* ---- laters ------------------------------------------------------------------------ */

struct kdc_coap_later *
kdc_coap_defer(struct kdc_coap_peer *p)
{
	struct kdc_coap_xl *x;
	struct kdc_coap_xp *xp;
	struct kdc_coap_later *l;
	struct kdc_coap_block b;

	if (p == NULL || (x = xl_of_peer(p)) == NULL || !x->in_handler ||
	    p != x->cur_p || !x->cur_con || x->cur_later != NULL)
		return NULL;
	if (x->nlaters >= KDC_COAP_LATER_MAX) {
		xl_limit_hit(x, "deferred answers", KDC_COAP_LATER_MAX);
		return NULL;
	}
	if ((xp = xl_xp_get(x, p, true)) == NULL)
		return NULL;
	if ((l = kdc_calloc(1, sizeof(*l))) == NULL) {
		xl_settle(x, p);
		return NULL;
	}
	l->x = x;
	l->p = p;
	l->tok_len = x->cur_w->token_len;
	memcpy(l->tok, x->cur_w->token, l->tok_len);
	l->method = x->cur_m->code;
	snprintf(l->path, sizeof(l->path), "%s", x->cur_m->path);
	if (xl_block_of(x->cur_w, KDC_OPT_BLOCK2, &b) == 1) {
		l->has_b2 = true;
		l->b2 = b;
		l->b2.num = 0;
	}
	kdc_coap_peer_ref(p);
	if ((l->next = x->laters) != NULL)
		l->next->pprev = &l->next;
	l->pprev = &x->laters;
	x->laters = l;
	x->nlaters++;
	xp->nlaters++;
	x->cur_later = l;
	return l;
}

void
kdc_coap_later_cancel(struct kdc_coap_later *l)
{
	struct kdc_coap_xl *x;
	struct kdc_coap_peer *p;

	if (l == NULL || (x = l->x) == NULL || !x->in_handler ||
	    l != x->cur_later)
		return;		/* not this handler's: coap.h says not to */
	p = l->p;
	xl_later_unlink(x, l);
	x->cur_later = NULL;
	kdc_coap_peer_ref(p);
	xl_later_free(l);
	xl_settle(x, p);
	kdc_coap_peer_unref(p);
}

struct kdc_coap_peer *
kdc_coap_later_peer(const struct kdc_coap_later *l)
{
	return l->p;
}

unsigned
kdc_coap_peer_laters(const struct kdc_coap_peer *p)
{
	struct kdc_coap_xp *xp = *kdc_coap_peer_xp((struct kdc_coap_peer *)p);

	return xp != NULL ? xp->nlaters : 0;
}

void
kdc_coap_later_answer(struct kdc_coap_later *l,
    const struct kdc_coap_resp *rs)
{
	uint8_t buf[KDC_COAP_DGRAM_MAX];
	struct kdc_coap_resp own;
	struct kdc_coap_xl *x;
	struct kdc_coap_xp *xp;
	struct kdc_coap_peer *p;
	uint16_t mid;
	size_t n;

	own = *rs;
	if (l == NULL || l->answered) {
		kdc_coap_resp_release(&own);	/* given up all the same */
		return;
	}
	x = l->x;
	p = l->p;
	kdc_coap_peer_ref(p);
	xl_later_unlink(x, l);
	if (x->closing || !kdc_coap_peer_open(p) ||
	    (xp = xl_xp_get(x, p, false)) == NULL) {
		/* the session ended meanwhile: nobody to send it to */
		kdc_coap_resp_release(&own);
		xl_later_free(l);
		goto out;
	}
	mid = x->mid++;
	n = answer_make(x, p, buf, KDC_COAP_CON, mid, l->tok, l->tok_len,
	    &own, l->has_b2 ? &l->b2 : NULL, NULL, l->method, l->path, NULL);
	l->answered = true;
	if (xl_con_set(&l->con, buf, n, mid) != KDC_OK ||
	    kdc_coap_peer_send(p, buf, n) != KDC_OK) {
		xl_later_free(l);
		goto out;
	}
	l->con.timeout = xl_first_timeout(x);
	l->con.next = kdc_coap_now_ms() + l->con.timeout;
	l->next = xp->seps;
	xp->seps = l;
out:
	kdc_wipe(buf, sizeof(buf));
	xl_settle(x, p);
	kdc_coap_peer_unref(p);
}

/* ---- Observe (RFC 7641), server side ------------------------------------------ */

/* End p's observation with this token (a new registration replaces it,
 * Observe: 1 ends it, a non-2.xx answer ends it). */
static void
obs_end(struct kdc_coap_xl *x, struct kdc_coap_peer *p, const uint8_t *tok,
    size_t tok_len)
{
	struct kdc_coap_xp *xp = xl_xp_get(x, p, false);
	struct xl_obs **po, *o;

	if (xp == NULL)
		return;
	for (po = &xp->obs; (o = *po) != NULL; po = &o->next)
		if (o->tok_len == tok_len && memcmp(o->tok, tok, tok_len) == 0) {
			*po = o->next;
			if (x->cur_obs == o)
				x->cur_obs = NULL;
			xl_obs_free(x, o);
			return;
		}
}

kdc_err
kdc_coap_observe(struct kdc_coap_peer *p)
{
	struct kdc_coap_xl *x;
	struct kdc_coap_xp *xp;
	struct xl_obs *o;

	if (p == NULL || (x = xl_of_peer(p)) == NULL || !x->in_handler ||
	    p != x->cur_p || !x->cur_obs_ok)
		return KDC_ERR_INVALID_ARG;
	if (x->notifying || x->cur_obs != NULL)
		return KDC_OK;		/* already observing */
	obs_end(x, p, x->cur_w->token, x->cur_w->token_len);
	if (x->nobs >= KDC_COAP_OBSERVERS_MAX) {
		xl_limit_hit(x, "observations", KDC_COAP_OBSERVERS_MAX);
		return KDC_ERR_BUSY;
	}
	if ((xp = xl_xp_get(x, p, true)) == NULL ||
	    (o = kdc_calloc(1, sizeof(*o))) == NULL)
		return KDC_ERR_NOMEM;	/* the caller's settle frees xp */
	o->rt = x->cur_rt;
	o->req = *x->cur_m;
	o->req.payload = NULL;
	o->req.payload_len = 0;
	o->req.location = NULL;
	o->tok_len = x->cur_w->token_len;
	memcpy(o->tok, x->cur_w->token, o->tok_len);
	o->next = xp->obs;
	xp->obs = o;
	x->nobs++;
	x->cur_obs = o;
	return KDC_OK;
}

/* One notification: o's request through its handler again, the answer
 * as a CON with o's token and the next sequence number (a 2.xx), or a
 * last one without (§4.2: anything else ends the observation). */
static void
obs_notify(struct kdc_coap_xl *x, struct kdc_coap_peer *p, struct xl_obs *o)
{
	uint8_t buf[KDC_COAP_DGRAM_MAX];
	struct kdc_coap_resp rs;
	uint32_t seq;
	uint16_t mid;
	size_t n;
	bool ok;

	memset(&rs, 0, sizeof(rs));
	rs.content_format = KDC_CF_NONE;
	x->in_handler = true;
	x->notifying = true;
	x->cur_p = p;
	x->cur_con = false;	/* no defer: a notification is not a request */
	x->cur_m = &o->req;
	x->cur_rt = o->rt;
	x->cur_obs_ok = true;
	o->rt->fn(o->rt->arg, p, &o->req, &rs);
	x->in_handler = false;
	x->notifying = false;
	x->cur_p = NULL;
	x->cur_m = NULL;
	x->cur_rt = NULL;
	x->cur_obs_ok = false;
	ok = (rs.code >> 5) == 2;
	seq = x->obs_seq++ & 0xffffff;
	mid = x->mid++;
	n = answer_make(x, p, buf, KDC_COAP_CON, mid, o->tok, o->tok_len, &rs,
	    NULL, NULL, KDC_COAP_GET, o->req.path, ok ? &seq : NULL);
	if (!ok)
		o->dead = true;
	if (o->con.buf != NULL && o->con.next != 0) {
		/* §4.5.2: one CON notification at a time; the newer one
		 * replaces it and goes at its next retransmission */
		unsigned tries = o->con.tries, t = o->con.timeout;
		uint64_t next = o->con.next;
		if (xl_con_set(&o->con, buf, n, mid) == KDC_OK) {
			o->con.tries = tries;
			o->con.timeout = t;
			o->con.next = next;
		}
	} else if (xl_con_set(&o->con, buf, n, mid) == KDC_OK &&
	    kdc_coap_peer_send(p, buf, n) == KDC_OK) {
		o->con.timeout = xl_first_timeout(x);
		o->con.next = kdc_coap_now_ms() + o->con.timeout;
	} else
		o->dead = true;
	kdc_wipe(buf, n);
}

unsigned
kdc_coap_notify(struct kdc_coap *c, const char *name, const char *path)
{
	struct kdc_coap_xl *x = c != NULL ? kdc_coap_xl_of(c) : NULL;
	struct kdc_coap_xp *xp, *xnext;
	struct xl_obs **po, *o;
	unsigned sent = 0;

	if (x == NULL || path == NULL || x->in_handler || x->closing)
		return 0;
	for (xp = x->xps; xp != NULL; xp = xp->next) {
		struct kdc_coap_peer *p = xp->p;
		if (xp->obs == NULL || !kdc_coap_peer_open(p) || (name != NULL &&
		    strcmp(name, kdc_coap_peer_endpoint(p)) != 0))
			continue;
		for (o = xp->obs; o != NULL; o = o->next)
			if (!o->dead && strcmp(o->req.path, path) == 0) {
				obs_notify(x, p, o);
				sent++;
			}
	}
	/* what ended, and any request a handler made meanwhile */
	for (xp = x->xps; xp != NULL; xp = xnext) {
		struct kdc_coap_peer *p = xp->p;
		xnext = xp->next;
		for (po = &xp->obs; (o = *po) != NULL;) {
			if (o->dead && (o->con.next == 0 || o->con.tries >=
			    x->lim.max_retransmit)) {
				*po = o->next;
				xl_obs_free(x, o);
			} else
				po = &o->next;
		}
		kdc_coap_peer_ref(p);
		xl_settle(x, p);
		kdc_coap_peer_unref(p);
	}
	xl_held_flush(x);
	return sent;
}

/* ---- requests from peers ------------------------------------------------------------ */

/* A Block2 follow-up served from p's kept answer (it matches). */
static void
b2_serve(struct kdc_coap_xl *x, struct kdc_coap_peer *p,
    struct kdc_coap_xp *xp, const struct kdc_coap_wire *w,
    const struct kdc_coap_block *want)
{
	uint8_t buf[KDC_COAP_DGRAM_MAX];
	struct xl_b2 *b = xp->b2;
	bool con = w->type == KDC_COAP_CON, more = false;
	struct xl_out o;
	size_t n;

	xl_out_init(&o, b->rs.code == 0 ? KDC_COAP_INTERNAL : b->rs.code);
	o.location = b->rs.location[0] != '\0' ? b->rs.location : NULL;
	o.cf = b->rs.content_format;
	o.max_age = b->rs.max_age;
	n = xl_block_make(buf, con ? KDC_COAP_ACK : KDC_COAP_NON,
	    con ? w->mid : x->mid++, w->token, w->token_len, &o,
	    b->rs.payload, b->rs.payload_len, want, &more);
	if (n == 0) {
		xl_reply_code(x, p, w, KDC_COAP_BAD_REQUEST, NULL, NULL, 0);
		return;
	}
	xl_reply(x, p, w, buf, n);
	kdc_wipe(buf, n);
	if (!more) {
		/* fetched whole: given up now (it may hold a key) */
		xl_b2_free(xp->b2);
		xp->b2 = NULL;
	} else
		b->expire = kdc_coap_now_ms() + x->lim.body_timeout_ms;
}

/*
 * A Block1 piece of a request to a known route (RFC 7959 §2.3). Returns
 * true when the request is answered here (2.31, or a refusal); false
 * with m's payload set to the joined body (*joined: ours to free after
 * the handler) when this was the last piece.
 */
static bool
block1_in(struct kdc_coap_xl *x, struct kdc_coap_peer *p,
    const struct kdc_coap_wire *w, struct kdc_coap_msg *m,
    const struct kdc_coap_block *b1, struct xl_body **joined)
{
	size_t size = (size_t)16 << b1->szx, cap;
	uint32_t lim = (uint32_t)x->lim.body_max;
	struct kdc_coap_xp *xp = xl_xp_get(x, p, false);
	struct xl_body *b;
	uint8_t *nb;

	*joined = NULL;
	if (b1->num == 0 && !b1->more)
		return false;		/* the whole body in one piece */
	if (b1->more && w->payload_len != size) {
		xl_reply_code(x, p, w, KDC_COAP_BAD_REQUEST, NULL, NULL, 0);
		return true;
	}
	if (b1->num == 0) {
		/* a new body: one per peer, a new block 0 restarts it */
		if (xp != NULL && xp->body != NULL) {
			xl_body_free(x, xp->body);
			xp->body = NULL;
		}
		if (w->payload_len > x->lim.body_max) {
			xl_reply_code(x, p, w, KDC_COAP_TOO_LARGE, NULL, &lim,
			    0);
			return true;
		}
		if (x->nbodies >= x->lim.bodies_max) {
			xl_limit_hit(x, "Block1 bodies being joined (5.03)",
			    x->lim.bodies_max);
			xl_reply_code(x, p, w, KDC_COAP_UNAVAILABLE, NULL, NULL,
			    KDC_COAP_BODIES_RETRY_S);
			return true;
		}
		if ((xp = xl_xp_get(x, p, true)) == NULL ||
		    (b = kdc_calloc(1, sizeof(*b))) == NULL) {
			xl_reply_code(x, p, w, KDC_COAP_INTERNAL, NULL, NULL, 0);
			return true;
		}
		cap = size * 2 < x->lim.body_max ? size * 2 : x->lim.body_max;
		if ((b->buf = kdc_malloc(cap)) == NULL) {
			kdc_free(b);
			xl_reply_code(x, p, w, KDC_COAP_INTERNAL, NULL, NULL, 0);
			return true;
		}
		b->cap = cap;
		b->method = m->code;
		snprintf(b->path, sizeof(b->path), "%s", m->path);
		xp->body = b;
		x->nbodies++;
	} else {
		b = xp != NULL ? xp->body : NULL;
		if (b == NULL || b->method != m->code ||
		    strcmp(b->path, m->path) != 0 ||
		    ((uint64_t)b1->num << (b1->szx + 4)) != b->len) {
			if (b != NULL) {
				xl_body_free(x, b);
				xp->body = NULL;
			}
			xl_reply_code(x, p, w, CODE_INCOMPLETE, NULL, NULL, 0);
			return true;
		}
		if (w->payload_len > x->lim.body_max - b->len) {
			xl_body_free(x, b);
			xp->body = NULL;
			xl_reply_code(x, p, w, KDC_COAP_TOO_LARGE, NULL, &lim,
			    0);
			return true;
		}
	}
	if (b->len + w->payload_len > b->cap) {
		cap = b->cap;
		while (cap < b->len + w->payload_len)
			cap *= 2;
		if (cap > x->lim.body_max)
			cap = x->lim.body_max;
		if ((nb = kdc_malloc(cap)) == NULL) {
			xl_body_free(x, b);
			xp->body = NULL;
			xl_reply_code(x, p, w, KDC_COAP_INTERNAL, NULL, NULL, 0);
			return true;
		}
		memcpy(nb, b->buf, b->len);
		kdc_wipe(b->buf, b->cap);
		kdc_free(b->buf);
		b->buf = nb;
		b->cap = cap;
	}
	if (w->payload_len > 0)
		memcpy(b->buf + b->len, w->payload, w->payload_len);
	b->len += w->payload_len;
	if (b1->more) {
		b->expire = kdc_coap_now_ms() + x->lim.body_timeout_ms;
		xl_reply_code(x, p, w, CODE_CONTINUE, b1, NULL, 0);
		return true;
	}
	xp->body = NULL;	/* the caller frees it after the handler */
	*joined = b;
	m->payload = b->buf;
	m->payload_len = b->len;
	return false;
}

void
xl_on_request(struct kdc_coap_xl *x, struct kdc_coap_peer *p,
    const struct kdc_coap_wire *w)
{
	uint8_t buf[KDC_COAP_DGRAM_MAX];
	const struct xl_route *rt;
	struct kdc_coap_block b1, b2, b1echo;
	struct kdc_coap_xp *xp;
	struct kdc_coap_msg m;
	struct kdc_coap_resp rs;
	struct xl_body *joined = NULL;
	bool con = w->type == KDC_COAP_CON;
	int has_b1, has_b2;
	uint8_t code;
	uint32_t size1, obs = 0, lim = (uint32_t)x->lim.body_max;
	size_t it = 0, n;
	const struct kdc_coap_opt *o;
	kdc_err e;

	/* RFC 7252 §5.4.1: a critical option we do not know */
	for (size_t i = 0; i < w->nopt; i++)
		if (kdc_coap_opt_unknown_critical(w->opt[i].num)) {
			xl_reply_code(x, p, w, CODE_BAD_OPTION, NULL, NULL, 0);
			return;
		}
	if ((e = xl_msg_decode(w, &m, NULL, 0)) != KDC_OK ||
	    (has_b1 = xl_block_of(w, KDC_OPT_BLOCK1, &b1)) < 0 ||
	    (has_b2 = xl_block_of(w, KDC_OPT_BLOCK2, &b2)) < 0) {
		xl_reply_code(x, p, w, KDC_COAP_BAD_REQUEST, NULL, NULL, 0);
		return;
	}
	if (has_b2 && b2.num > 0) {
		/* a follow-up for the rest of an answer (RFC 7959 §2.4) */
		xp = xl_xp_get(x, p, false);
		if (xp != NULL && xp->b2 != NULL && xp->b2->method == m.code &&
		    strcmp(xp->b2->path, m.path) == 0) {
			b2_serve(x, p, xp, w, &b2);
			return;
		}
		if (m.code != KDC_COAP_GET) {
			/* not run twice: a POST is not repeatable */
			xl_reply_code(x, p, w, CODE_INCOMPLETE, NULL, NULL, 0);
			return;
		}
	}
	if ((rt = route_find(x, kdc_coap_peer_endpoint(p), m.code, m.path,
	    &code)) == NULL) {
		xl_reply_code(x, p, w, code, NULL, NULL, 0);
		return;
	}
	/* RFC 7959 §4: a body announced over our limit is refused at once,
	 * before anything is kept for it */
	if ((o = kdc_coap_wire_opt(w, KDC_OPT_SIZE1, &it)) != NULL) {
		/* over 4 bytes: past 4 GiB, over any limit of ours */
		if (o->len > 4 || kdc_coap_opt_uint(o, &size1) != KDC_OK ||
		    size1 > x->lim.body_max) {
			xl_reply_code(x, p, w, KDC_COAP_TOO_LARGE, NULL, &lim,
			    0);
			return;
		}
	}
	if (has_b1) {
		if (block1_in(x, p, w, &m, &b1, &joined))
			return;
		b1echo = b1;
	}
	if (joined == NULL && m.payload_len > x->lim.body_max) {
		xl_reply_code(x, p, w, KDC_COAP_TOO_LARGE, NULL, &lim, 0);
		return;
	}
	/* RFC 7641 §2: Observe 1 ends an observation (then a plain GET),
	 * 0 lets the handler make one (kdc_coap_observe()) */
	it = 0;
	if (m.code == KDC_COAP_GET &&
	    (o = kdc_coap_wire_opt(w, KDC_OPT_OBSERVE, &it)) != NULL &&
	    o->len <= 3 && kdc_coap_opt_uint(o, &obs) == KDC_OK) {
		if (obs == 1)
			obs_end(x, p, w->token, w->token_len);
		x->cur_obs_ok = obs == 0 && !has_b1 && (!has_b2 ||
		    b2.num == 0);
	}
	memset(&rs, 0, sizeof(rs));
	rs.content_format = KDC_CF_NONE;
	x->in_handler = true;
	x->cur_p = p;
	x->cur_con = con;
	x->cur_w = w;
	x->cur_m = &m;
	x->cur_rt = rt;
	x->cur_later = NULL;
	x->cur_obs = NULL;
	kdc_coap_peer_ref(p);
	rt->fn(rt->arg, p, &m, &rs);
	x->in_handler = false;
	x->cur_p = NULL;
	x->cur_w = NULL;
	x->cur_m = NULL;
	x->cur_rt = NULL;
	x->cur_obs_ok = false;
	if (x->cur_obs != NULL && (x->cur_later != NULL ||
	    (rs.code >> 5) != 2)) {
		/* §4.2: only a 2.xx answer makes an observation */
		obs_end(x, p, w->token, w->token_len);
		x->cur_obs = NULL;
	}
	if (x->cur_obs != NULL)
		obs = x->obs_seq++ & 0xffffff;
	if (joined != NULL)
		xl_body_free(x, joined);
	if (x->cur_later != NULL) {
		/* RFC 7252 §5.2.2: the empty ACK now, the answer later */
		x->cur_later = NULL;
		kdc_coap_resp_release(&rs);
		n = xl_bare(buf, KDC_COAP_ACK, w->mid);
		xl_reply(x, p, w, buf, n);
	} else {
		/* an owned payload may be a secret (an /skg private key): it
		 * is not kept for a retransmission (coap.h: nothing of it is
		 * left once sent); a retransmitted CON runs the handler again */
		bool keep = rs.release == NULL;

		n = answer_make(x, p, buf, con ? KDC_COAP_ACK : KDC_COAP_NON,
		    con ? w->mid : x->mid++, w->token, w->token_len, &rs,
		    has_b2 ? &b2 : NULL, has_b1 ? &b1echo : NULL, m.code,
		    m.path, x->cur_obs != NULL ? &obs : NULL);
		if (keep)
			xl_reply(x, p, w, buf, n);
		else
			(void)kdc_coap_peer_send(p, buf, n);
		kdc_wipe(buf, n);
	}
	x->cur_obs = NULL;
	xl_settle(x, p);
	kdc_coap_peer_unref(p);
	xl_held_flush(x);
}
