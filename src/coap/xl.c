/*
 * xl.c: the CoAP message layer (xl.h) between the engine and the faces:
 * routes, deduplication, piggybacked and separate answers, our own CON
 * requests with RFC 7252 retransmission, RFC 7959 Block1/Block2 both
 * ways, RFC 7641 Observe on the server side. Everything a peer sends is bounded here before anything is
 * allocated: a Block1 body grows with the bytes that arrived, up to
 * body_max, never by Size1.
 *
 * Memory: per engine the routes, the dedup ring and the laters; per peer
 * a struct kdc_coap_xp only while something is in flight (a request, a
 * separate answer, a later, a body being joined, an answer being
 * fetched block by block, an observation); it is freed as soon as the
 * peer is idle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "coap/wire.h"
#include "coap/xl_int.h"
#include "crypto/crypto.h"

#define NONE			UINT64_MAX
#define DD_NIL			UINT32_MAX

struct dd_ent {
	uint64_t	 serial;
	uint64_t	 expire;
	uint8_t		*buf;		/* NULL: slot free */
	uint32_t	 chain;
	uint16_t	 len;
	uint16_t	 mid;
};

/* ---- small things ---------------------------------------------------------- */

static uint64_t
rnd(struct kdc_coap_xl *x)
{
	/* xorshift64*: timer jitter only, seeded from kdc_random() */
	x->rng ^= x->rng >> 12;
	x->rng ^= x->rng << 25;
	x->rng ^= x->rng >> 27;
	return x->rng * 0x2545F4914F6CDD1DULL;
}

/* RFC 7252 §4.2: ACK_TIMEOUT x a random factor in [1, 1.5]. */
unsigned
xl_first_timeout(struct kdc_coap_xl *x)
{
	unsigned t = x->lim.ack_timeout_ms;

	return t + (unsigned)(rnd(x) % ((uint64_t)t / 2 + 1));
}

/* A limit of the engine was hit: a warning, rate-limited per engine
 * (KDC_LOG_PEER_RATE a second, bursts of KDC_LOG_PEER_BURST), saying how
 * many were not written. */
void
xl_limit_hit(struct kdc_coap_xl *x, const char *what, unsigned max)
{
	unsigned long dropped = 0;

	if (!kdc_log_limit_take(&x->loglim,
	    (int64_t)(kdc_coap_now_ms() / 1000), KDC_LOG_PEER_RATE,
	    KDC_LOG_PEER_BURST, &dropped))
		return;
	kdc_log_warn("coap: %s at its limit (%u): refused (+%lu not logged)",
	    what, max, dropped);
}

static void
limits_fill(struct kdc_coap_xl_limits *d, const struct kdc_coap_xl_limits *l)
{
	struct kdc_coap_xl_limits z;

	if (l == NULL) {
		memset(&z, 0, sizeof(z));
		l = &z;
	}
	d->body_max = l->body_max != 0 ? l->body_max : KDC_COAP_BODY_MAX;
	d->bodies_max = l->bodies_max != 0 ? l->bodies_max :
	    KDC_COAP_BODIES_MAX;
	d->body_timeout_ms = l->body_timeout_ms != 0 ? l->body_timeout_ms :
	    KDC_COAP_EXCHANGE_LIFETIME_MS;
	d->ack_timeout_ms = l->ack_timeout_ms != 0 ? l->ack_timeout_ms :
	    KDC_COAP_ACK_TIMEOUT_MS;
	d->max_retransmit = l->max_retransmit != 0 ? l->max_retransmit :
	    KDC_COAP_MAX_RETRANSMIT;
	d->request_timeout_ms = l->request_timeout_ms != 0 ?
	    l->request_timeout_ms : KDC_COAP_REQUEST_TIMEOUT_MS;
	d->dedup_ms = l->dedup_ms != 0 ? l->dedup_ms :
	    KDC_COAP_EXCHANGE_LIFETIME_MS;
	d->dedup_max = l->dedup_max != 0 ? l->dedup_max : KDC_COAP_DEDUP_MAX;
	if (d->dedup_max > (1u << 24))
		d->dedup_max = 1u << 24;	/* the hash's index width */
}

void
xl_con_free(struct xl_con *k)
{
	if (k->buf != NULL) {
		kdc_wipe(k->buf, k->len);
		kdc_free(k->buf);
	}
	memset(k, 0, sizeof(*k));
}

kdc_err
xl_con_set(struct xl_con *k, const uint8_t *msg, size_t len, uint16_t mid)
{
	uint8_t *b;

	if ((b = kdc_malloc(len)) == NULL)
		return KDC_ERR_NOMEM;
	memcpy(b, msg, len);
	xl_con_free(k);
	k->buf = b;
	k->len = len;
	k->mid = mid;
	return KDC_OK;
}

struct kdc_coap_xl *
xl_of_peer(const struct kdc_coap_peer *p)
{
	struct kdc_coap *c = kdc_coap_peer_engine(p);

	return c != NULL ? kdc_coap_xl_of(c) : NULL;
}

/* ---- deduplication --------------------------------------------------------- */

static uint32_t
dd_hash(const struct kdc_coap_xl *x, uint64_t serial, uint16_t mid)
{
	uint64_t h = (serial ^ ((uint64_t)mid << 48) ^ mid) *
	    0x9E3779B97F4A7C15ULL;

	return (uint32_t)(h >> 32) & x->dd_mask;
}

static void
dd_drop(struct kdc_coap_xl *x, uint32_t i)
{
	struct dd_ent *e = &x->dd[i];
	uint32_t *pp = &x->dd_head[dd_hash(x, e->serial, e->mid)];

	while (*pp != DD_NIL && *pp != i)
		pp = &x->dd[*pp].chain;
	if (*pp == i)
		*pp = e->chain;
	kdc_wipe(e->buf, e->len);	/* an answer may carry a key */
	kdc_free(e->buf);
	memset(e, 0, sizeof(*e));
}

static void
dd_free(struct kdc_coap_xl *x)
{
	if (x->dd != NULL)
		for (uint32_t i = 0; i < x->dd_max; i++)
			if (x->dd[i].buf != NULL)
				dd_drop(x, i);
	kdc_free(x->dd);
	kdc_free(x->dd_head);
	x->dd = NULL;
	x->dd_head = NULL;
	x->dd_max = 0;
}

static kdc_err
dd_alloc(struct kdc_coap_xl *x, uint32_t max)
{
	uint32_t nb = 1;

	while (nb < max * 2)
		nb <<= 1;
	if ((x->dd = kdc_calloc(max, sizeof(*x->dd))) == NULL ||
	    (x->dd_head = kdc_malloc(nb * sizeof(*x->dd_head))) == NULL) {
		kdc_free(x->dd);
		x->dd = NULL;
		return KDC_ERR_NOMEM;
	}
	memset(x->dd_head, 0xff, nb * sizeof(*x->dd_head));
	x->dd_max = max;
	x->dd_mask = nb - 1;
	x->dd_pos = 0;
	return KDC_OK;
}

static const struct dd_ent *
dd_find(struct kdc_coap_xl *x, uint64_t serial, uint16_t mid, uint64_t now)
{
	uint32_t i;

	if (x->dd == NULL)
		return NULL;
	for (i = x->dd_head[dd_hash(x, serial, mid)]; i != DD_NIL;
	    i = x->dd[i].chain) {
		const struct dd_ent *e = &x->dd[i];
		if (e->serial == serial && e->mid == mid)
			return e->expire > now ? e : NULL;
	}
	return NULL;
}

/* Keep the answer to a CON (serial, mid): a retransmission gets it again. */
static void
dd_put(struct kdc_coap_xl *x, uint64_t serial, uint16_t mid,
    const uint8_t *msg, size_t len)
{
	struct dd_ent *e;
	uint32_t i, h;
	uint8_t *b;

	if (x->dd == NULL)
		return;
	i = x->dd_pos;
	e = &x->dd[i];
	if (e->buf != NULL)
		dd_drop(x, i);
	if ((b = kdc_malloc(len)) == NULL) {
		kdc_log_debug("dedup: out of memory, answer not kept");
		return;
	}
	memcpy(b, msg, len);
	e->serial = serial;
	e->mid = mid;
	e->buf = b;
	e->len = (uint16_t)len;
	e->expire = kdc_coap_now_ms() + x->lim.dedup_ms;
	h = dd_hash(x, serial, mid);
	e->chain = x->dd_head[h];
	x->dd_head[h] = i;
	x->dd_pos = (i + 1) % x->dd_max;
}

/* ---- per-peer state ---------------------------------------------------------- */

struct kdc_coap_xp *
xl_xp_get(struct kdc_coap_xl *x, struct kdc_coap_peer *p, bool create)
{
	struct kdc_coap_xp **slot = kdc_coap_peer_xp(p), *xp = *slot;

	if (xp != NULL || !create)
		return xp;
	if ((xp = kdc_calloc(1, sizeof(*xp))) == NULL)
		return NULL;
	xp->p = p;
	if ((xp->next = x->xps) != NULL)
		xp->next->pprev = &xp->next;
	xp->pprev = &x->xps;
	x->xps = xp;
	*slot = xp;
	return xp;
}

void
xl_body_free(struct kdc_coap_xl *x, struct xl_body *b)
{
	if (b == NULL)
		return;
	kdc_wipe(b->buf, b->cap);
	kdc_free(b->buf);
	kdc_free(b);
	x->nbodies--;
}

void
xl_b2_free(struct xl_b2 *b)
{
	if (b == NULL)
		return;
	kdc_coap_resp_release(&b->rs);
	kdc_free(b);
}

void
xl_later_free(struct kdc_coap_later *l)
{
	struct kdc_coap_peer *p = l->p;

	xl_con_free(&l->con);
	kdc_free(l);
	kdc_coap_peer_unref(p);
}

void
xl_later_unlink(struct kdc_coap_xl *x, struct kdc_coap_later *l)
{
	struct kdc_coap_xp *xp = *kdc_coap_peer_xp(l->p);

	if ((*l->pprev = l->next) != NULL)
		l->next->pprev = l->pprev;
	l->next = NULL;
	l->pprev = NULL;
	x->nlaters--;
	if (xp != NULL && xp->nlaters > 0)
		xp->nlaters--;
}

/* Free p's state when nothing is left in flight, else (re)arm its timer
 * for the earliest thing due. */
void
xl_settle(struct kdc_coap_xl *x, struct kdc_coap_peer *p)
{
	struct kdc_coap_xp **slot = kdc_coap_peer_xp(p), *xp = *slot;
	uint64_t next = NONE;

	(void)x;
	if (xp == NULL)
		return;
	if (xp->reqs == NULL && xp->seps == NULL && xp->nlaters == 0 &&
	    xp->body == NULL && xp->b2 == NULL && xp->obs == NULL) {
		if (xp->armed != 0)
			kdc_coap_peer_timer(p, 0);
		if ((*xp->pprev = xp->next) != NULL)
			xp->next->pprev = xp->pprev;
		*slot = NULL;
		kdc_free(xp);
		return;
	}
	for (struct xl_req *r = xp->reqs; r != NULL; r = r->next) {
		if (r->con.next != 0 && r->con.next < next)
			next = r->con.next;
		if (r->deadline < next)
			next = r->deadline;
	}
	for (struct kdc_coap_later *l = xp->seps; l != NULL; l = l->next)
		if (l->con.next != 0 && l->con.next < next)
			next = l->con.next;
	if (xp->body != NULL && xp->body->expire < next)
		next = xp->body->expire;
	if (xp->b2 != NULL && xp->b2->expire < next)
		next = xp->b2->expire;
	for (struct xl_obs *o = xp->obs; o != NULL; o = o->next)
		if (o->con.next != 0 && o->con.next < next)
			next = o->con.next;
	if (next == NONE)
		next = 0;
	if (next != xp->armed) {
		kdc_coap_peer_timer(p, next);
		xp->armed = next;
	}
}

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

void
xl_obs_free(struct kdc_coap_xl *x, struct xl_obs *o)
{
	xl_con_free(&o->con);
	kdc_free(o);
	x->nobs--;
}

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

/* The answer leaves: kept for a retransmitted CON, then sent. */
void
xl_reply(struct kdc_coap_xl *x, struct kdc_coap_peer *p,
    const struct kdc_coap_wire *w, const uint8_t *buf, size_t len)
{
	if (w->type == KDC_COAP_CON)
		dd_put(x, kdc_coap_peer_serial(p), w->mid, buf, len);
	(void)kdc_coap_peer_send(p, buf, len);
}

void
xl_reply_code(struct kdc_coap_xl *x, struct kdc_coap_peer *p,
    const struct kdc_coap_wire *w, uint8_t code,
    const struct kdc_coap_block *b1, const uint32_t *size1, uint32_t max_age)
{
	uint8_t buf[KDC_COAP_DGRAM_MAX];
	bool con = w->type == KDC_COAP_CON;
	size_t n;

	n = xl_code_make(buf, con ? KDC_COAP_ACK : KDC_COAP_NON,
	    con ? w->mid : x->mid++, w->token, w->token_len, code, b1, size1,
	    max_age);
	xl_reply(x, p, w, buf, n);
}

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

/* ---- input ------------------------------------------------------------------------------ */

/* An ACK or RST of one of our CONs. */
static void
on_ack(struct kdc_coap_xl *x, struct kdc_coap_peer *p,
    const struct kdc_coap_wire *w)
{
	struct kdc_coap_xp *xp = xl_xp_get(x, p, false);
	struct kdc_coap_later **pl, *l;
	struct xl_obs **po, *o;
	struct xl_req *r;

	if (xp == NULL)
		return;
	for (po = &xp->obs; (o = *po) != NULL; po = &o->next)
		if (o->con.buf != NULL && o->con.mid == w->mid) {
			/* RFC 7641 §3.6: an RST to a notification ends the
			 * observation; an ACK, the notification's transmission */
			if (w->type == KDC_COAP_RST || o->dead) {
				*po = o->next;
				xl_obs_free(x, o);
			} else
				xl_con_free(&o->con);
			return;
		}
	for (pl = &xp->seps; (l = *pl) != NULL; pl = &l->next)
		if (l->con.mid == w->mid) {
			/* our separate answer arrived (or was refused) */
			*pl = l->next;
			xl_later_free(l);
			return;
		}
	if ((r = xl_req_by_mid(xp, w->mid)) == NULL)
		return;
	if (w->type == KDC_COAP_RST) {
		xl_req_complete(x, r, KDC_ERR_PEER_RESET, NULL);
		return;
	}
	if (w->code == CODE_EMPTY) {
		/* a separate answer will follow: stop retransmitting */
		r->con.next = 0;
		return;
	}
	if (w->token_len != 8 || memcmp(w->token, r->tok, 8) != 0)
		return;		/* not an answer to this request */
	if (!kdc_coap_xl_answer_ok(w)) {
		/* RFC 7252 §5.4.1: rejected; its sender retransmits nothing */
		kdc_log_debug("peer=%s answer with an unknown critical "
		    "option rejected", kdc_coap_peer_addr(p));
		xl_req_complete(x, r, KDC_ERR_UNSUPPORTED, NULL);
		return;
	}
	xl_req_answer(x, r, w);
}

void
kdc_coap_xl_input(struct kdc_coap_xl *x, struct kdc_coap_peer *p,
    const uint8_t *msg, size_t len)
{
	struct kdc_coap_wire w;
	const struct dd_ent *e;
	uint8_t buf[KDC_COAP_DGRAM_MAX];
	uint8_t cls;
	kdc_err r;

	if (x == NULL || p == NULL || msg == NULL || x->closing)
		return;
	kdc_coap_peer_ref(p);
	r = kdc_coap_wire_parse(msg, len, &w);
	if (r != KDC_OK) {
		if (kdc_coap_wire_head_ok(&w) && w.type == KDC_COAP_CON) {
			/* RFC 7252 §4.2: a CON we cannot process: RST, or
			 * 4.00 for a request with more options than we keep */
			if (r == KDC_ERR_TOO_LARGE && (w.code >> 5) == 0 &&
			    w.code != CODE_EMPTY)
				xl_reply_code(x, p, &w, KDC_COAP_BAD_REQUEST,
				    NULL, NULL, 0);
			else
				(void)kdc_coap_peer_send(p, buf, xl_bare(buf,
				    KDC_COAP_RST, w.mid));
		}
		goto out;
	}
	if (w.type == KDC_COAP_CON && (e = dd_find(x,
	    kdc_coap_peer_serial(p), w.mid, kdc_coap_now_ms())) != NULL) {
		/* a retransmission: the same answer, nothing run again */
		(void)kdc_coap_peer_send(p, e->buf, e->len);
		goto out;
	}
	cls = w.code >> 5;
	switch (w.type) {
	case KDC_COAP_ACK:
	case KDC_COAP_RST:
		if (w.type == KDC_COAP_RST || w.code == CODE_EMPTY ||
		    cls >= 2)
			on_ack(x, p, &w);
		break;
	default:
		if (w.code == CODE_EMPTY) {
			/* a CoAP ping (RFC 7252 §4.3): RST */
			if (w.type == KDC_COAP_CON)
				(void)kdc_coap_peer_send(p, buf, xl_bare(buf,
				    KDC_COAP_RST, w.mid));
		} else if (cls == 0)
			xl_on_request(x, p, &w);
		else if (cls >= 2 && cls <= 5)
			xl_on_separate(x, p, &w);
		else if (w.type == KDC_COAP_CON)	/* 1.xx, 6.xx, 7.xx */
			(void)kdc_coap_peer_send(p, buf, xl_bare(buf,
			    KDC_COAP_RST, w.mid));
		break;
	}
out:
	xl_settle(x, p);
	kdc_coap_peer_unref(p);
}

/* ---- timers ------------------------------------------------------------------------------ */

void
kdc_coap_xl_timer(struct kdc_coap_xl *x, struct kdc_coap_peer *p,
    uint64_t now)
{
	struct kdc_coap_xp *xp;
	struct kdc_coap_later **pl, *l;
	struct xl_req *r;
	bool again;

	if (x == NULL || p == NULL || (xp = xl_xp_get(x, p, false)) == NULL)
		return;
	kdc_coap_peer_ref(p);
	xp->armed = 0;		/* fired: xl_settle() arms the next */
	do {
		again = false;
		xp = xl_xp_get(x, p, false);
		for (r = xp != NULL ? xp->reqs : NULL; r != NULL;
		    r = r->next) {
			if (r->deadline <= now ||
			    (r->con.next != 0 && r->con.next <= now &&
			    r->con.tries >= x->lim.max_retransmit)) {
				xl_req_complete(x, r, KDC_ERR_TIMEOUT, NULL);
				again = true;	/* done may have changed the list */
				break;
			}
			if (r->con.next != 0 && r->con.next <= now) {
				r->con.tries++;
				r->con.timeout *= 2;
				r->con.next = now + r->con.timeout;
				if (kdc_coap_peer_send(p, r->con.buf,
				    r->con.len) == KDC_ERR_CLOSED) {
					xl_req_complete(x, r, KDC_ERR_CLOSED,
					    NULL);
					again = true;
					break;
				}
			}
		}
	} while (again);
	if ((xp = xl_xp_get(x, p, false)) == NULL)
		goto out;
	for (pl = &xp->seps; (l = *pl) != NULL;) {
		if (l->con.next == 0 || l->con.next > now) {
			pl = &l->next;
			continue;
		}
		if (l->con.tries >= x->lim.max_retransmit ||
		    kdc_coap_peer_send(p, l->con.buf, l->con.len) ==
		    KDC_ERR_CLOSED) {
			kdc_log_debug("peer=%s separate answer not acknowledged",
			    kdc_coap_peer_addr(p));
			*pl = l->next;
			xl_later_free(l);
			continue;
		}
		l->con.tries++;
		l->con.timeout *= 2;
		l->con.next = now + l->con.timeout;
		pl = &l->next;
	}
	for (struct xl_obs **po = &xp->obs, *o; (o = *po) != NULL;) {
		if (o->con.next == 0 || o->con.next > now) {
			po = &o->next;
			continue;
		}
		if (o->con.tries >= x->lim.max_retransmit ||
		    kdc_coap_peer_send(p, o->con.buf, o->con.len) ==
		    KDC_ERR_CLOSED) {
			/* §4.5: an observer that does not acknowledge is gone */
			*po = o->next;
			xl_obs_free(x, o);
			continue;
		}
		o->con.tries++;
		o->con.timeout *= 2;
		o->con.next = now + o->con.timeout;
		po = &o->next;
	}
	if (xp->body != NULL && xp->body->expire <= now) {
		kdc_log_debug("peer=%s Block1 body of %zu bytes stalled: freed",
		    kdc_coap_peer_addr(p), xp->body->len);
		xl_body_free(x, xp->body);
		xp->body = NULL;
	}
	if (xp->b2 != NULL && xp->b2->expire <= now) {
		xl_b2_free(xp->b2);
		xp->b2 = NULL;
	}
out:
	xl_settle(x, p);
	kdc_coap_peer_unref(p);
}

/* ---- lifetime ------------------------------------------------------------------------------ */

kdc_err
kdc_coap_xl_new(struct kdc_coap *c, const struct kdc_coap_xl_limits *l,
    struct kdc_coap_xl **out)
{
	struct kdc_coap_xl *x;
	uint8_t seed[18];
	kdc_err r;

	if (c == NULL || out == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((x = kdc_calloc(1, sizeof(*x))) == NULL)
		return KDC_ERR_NOMEM;
	x->c = c;
	limits_fill(&x->lim, l);
	if ((r = kdc_random(seed, sizeof(seed))) != KDC_OK)
		goto fail;
	/* RFC 7252 §4.4: MIDs from a random start; §5.3.1: tokens we make
	 * are a counter from a random start, unguessable off-path */
	x->mid = (uint16_t)(seed[0] << 8 | seed[1]);
	memcpy(&x->tok, seed + 2, 8);
	memcpy(&x->rng, seed + 10, 8);
	x->rng |= 1;
	if ((r = dd_alloc(x, (uint32_t)x->lim.dedup_max)) != KDC_OK)
		goto fail;
	*out = x;
	return KDC_OK;
fail:
	kdc_free(x);
	return r;
}

void
kdc_coap_xl_set_limits(struct kdc_coap_xl *x,
    const struct kdc_coap_xl_limits *l)
{
	struct kdc_coap_xl_limits n;

	limits_fill(&n, l);
	if (n.dedup_max != x->lim.dedup_max) {
		/* a new ring: what was kept is dropped (a retransmission of
		 * an older CON runs its handler again: RFC 7252 allows it) */
		dd_free(x);
		if (dd_alloc(x, (uint32_t)n.dedup_max) != KDC_OK)
			kdc_log_err("dedup ring of %u: out of memory, "
			    "deduplication off", n.dedup_max);
	}
	x->lim = n;
}

void
kdc_coap_set_timers(struct kdc_coap *c, unsigned ack_timeout_ms,
    unsigned max_retransmit, unsigned request_timeout_ms)
{
	struct kdc_coap_xl *x = c != NULL ? kdc_coap_xl_of(c) : NULL;

	if (x == NULL)
		return;
	x->lim.ack_timeout_ms = ack_timeout_ms != 0 ? ack_timeout_ms :
	    KDC_COAP_ACK_TIMEOUT_MS;
	x->lim.max_retransmit = max_retransmit != 0 ? max_retransmit :
	    KDC_COAP_MAX_RETRANSMIT;
	if (request_timeout_ms != 0)
		x->lim.request_timeout_ms = request_timeout_ms;
}

/* Everything of p's ends: requests CLOSED, separate answers, bodies. */
static void
xp_end(struct kdc_coap_xl *x, struct kdc_coap_peer *p)
{
	struct kdc_coap_xp *xp;
	struct kdc_coap_later *l;

	while ((xp = xl_xp_get(x, p, false)) != NULL && xp->reqs != NULL)
		xl_req_complete(x, xp->reqs, KDC_ERR_CLOSED, NULL);
	if (xp == NULL)
		return;
	while ((l = xp->seps) != NULL) {
		xp->seps = l->next;
		xl_later_free(l);
	}
	xl_body_free(x, xp->body);
	xp->body = NULL;
	xl_b2_free(xp->b2);
	xp->b2 = NULL;
	while (xp->obs != NULL) {
		struct xl_obs *o = xp->obs;
		xp->obs = o->next;
		xl_obs_free(x, o);
	}
	/* unanswered laters stay on x->laters, holding p: their answer
	 * finds the session closed and is dropped */
	xp->nlaters = 0;
	xl_settle(x, p);
}

void
kdc_coap_xl_gone(struct kdc_coap_xl *x, struct kdc_coap_peer *p)
{
	if (x == NULL || p == NULL)
		return;
	kdc_coap_peer_ref(p);
	xp_end(x, p);
	kdc_coap_peer_unref(p);
}

bool
kdc_coap_xl_busy(const struct kdc_coap_xl *x, const struct kdc_coap_peer *p)
{
	(void)x;
	return *kdc_coap_peer_xp((struct kdc_coap_peer *)p) != NULL;
}

void
kdc_coap_xl_free(struct kdc_coap_xl *x)
{
	struct kdc_coap_later *l;

	if (x == NULL)
		return;
	x->closing = true;	/* done callbacks cannot start new requests */
	while (x->xps != NULL) {
		struct kdc_coap_peer *p = x->xps->p;
		kdc_coap_peer_ref(p);
		xp_end(x, p);
		kdc_coap_peer_unref(p);
	}
	while ((l = x->laters) != NULL) {
		xl_later_unlink(x, l);
		xl_later_free(l);
	}
	dd_free(x);
	kdc_free(x);
}
