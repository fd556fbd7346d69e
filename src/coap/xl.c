/*
 * xl.c: the CoAP message layer (xl.h) proper, between the engine and the
 * faces: its lifetime and limits, each datagram from a peer parsed and
 * dispatched (a request to xl_srv.c, a separate answer to xl_req.c, an
 * ACK or RST matched here to the CON of ours it completes: a request, a
 * separate answer, a notification), deduplication of CON requests (a
 * retransmission gets the kept answer, its handler is not run again),
 * the retransmission of every CON of ours with RFC 7252's timers, and
 * the per-peer state. The other parts: xl_int.h.
 *
 * Memory: per engine the routes, the dedup ring and the laters; per peer
 * a struct kdc_coap_xp only while something is in flight (a request, a
 * separate answer, a later, a body being joined, an answer being
 * fetched block by block, an observation); it is freed as soon as the
 * peer is idle.
 */
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

void
xl_obs_free(struct kdc_coap_xl *x, struct xl_obs *o)
{
	xl_con_free(&o->con);
	kdc_free(o);
	x->nobs--;
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
