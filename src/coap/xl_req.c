/*
 * xl_req.c: our own requests to peers, the message layer's client side
 * (kdc_coap_request(), kdc_coap_request2() of coap.h): a CON with a
 * token of ours, its body sent by Block1 when it does not fit a
 * datagram (RFC 7959 §2.5; a 4.13 with a smaller block size restarts it
 * once in those), the answer piggybacked or separate, joined by Block2
 * up to KDC_COAP_RESP_MAX (grown with what arrived, never by Size2), the
 * done callback called once. A request made inside a route handler is
 * held until that handler's answer has left (xl_held_flush()).
 *
 * xl.c retransmits our CONs and matches an ACK or RST to them by MID
 * (xl_req_by_mid(), xl_req_answer()); a separate answer is matched here
 * by token (xl_on_separate()).
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "coap/wire.h"
#include "coap/xl_int.h"

/* ---- our requests ----------------------------------------------------------------- */

/* The next message of r with a fresh MID: the whole request, the block
 * of its body at b1_off, or a Block2 follow-up for block b2_next. */
static kdc_err
req_msg(struct kdc_coap_xl *x, struct xl_req *r)
{
	uint8_t buf[KDC_COAP_DGRAM_MAX];
	struct kdc_coap_block b1, b2;
	struct xl_out o;
	uint16_t mid = x->mid++;
	size_t n = 0;
	kdc_err e;

	xl_out_init(&o, r->method);
	o.uri_path = r->path;
	o.uri_query = r->query;
	o.xopt = r->xopt;
	o.nxopt = r->nxopt;
	o.accept = r->accept;
	if (r->b2_next > 0) {
		b2.num = r->b2_next;
		b2.more = false;
		b2.szx = r->b2_szx;
		o.b2 = &b2;
		e = xl_out_make(buf, KDC_COAP_SEND_MAX, KDC_COAP_CON, mid,
		    r->tok, sizeof(r->tok), &o, &n);
		goto done;
	}
	o.cf = r->cf;
	if (!r->b1) {
		o.payload = r->body;
		o.len = r->body_len;
		e = xl_out_make(buf, KDC_COAP_SEND_MAX, KDC_COAP_CON, mid,
		    r->tok, sizeof(r->tok), &o, &n);
		if (e != KDC_ERR_TOO_LARGE || r->body_len == 0)
			goto done;
		r->b1 = true;
		r->b1_off = 0;
		r->b1_szx = SZX_MAX;
	}
	for (;;) {
		size_t size = (size_t)16 << r->b1_szx;
		b1.num = (uint32_t)(r->b1_off >> (r->b1_szx + 4));
		b1.szx = r->b1_szx;
		b1.more = r->b1_off + size < r->body_len;
		o.b1 = &b1;
		o.has_size1 = b1.num == 0;
		o.size1 = (uint32_t)r->body_len;
		o.payload = r->body + r->b1_off;
		o.len = b1.more ? size : r->body_len - r->b1_off;
		e = xl_out_make(buf, KDC_COAP_SEND_MAX, KDC_COAP_CON, mid,
		    r->tok, sizeof(r->tok), &o, &n);
		if (e != KDC_ERR_TOO_LARGE || r->b1_szx == 0)
			break;
		r->b1_szx--;
	}
done:
	if (e == KDC_OK)
		e = xl_con_set(&r->con, buf, n, mid);
	kdc_wipe(buf, n);	/* a Bootstrap-Write carries keys */
	return e;
}

static kdc_err
req_transmit(struct kdc_coap_xl *x, struct xl_req *r)
{
	kdc_err e;

	if ((e = kdc_coap_peer_send(r->p, r->con.buf, r->con.len)) != KDC_OK)
		return e;
	r->sent = true;
	r->con.tries = 0;
	r->con.timeout = xl_first_timeout(x);
	r->con.next = kdc_coap_now_ms() + r->con.timeout;
	return KDC_OK;
}

static void
held_remove(struct kdc_coap_xl *x, struct xl_req *r)
{
	struct xl_req **pp;

	if (!r->held)
		return;
	for (pp = &x->held; *pp != NULL; pp = &(*pp)->held_next)
		if (*pp == r) {
			*pp = r->held_next;
			break;
		}
	r->held = false;
	r->held_next = NULL;
}

/* r ends: off its peer's list, done called once, then freed. */
void
xl_req_complete(struct kdc_coap_xl *x, struct xl_req *r, kdc_err st,
    const struct kdc_coap_msg *m)
{
	struct kdc_coap_xp *xp = *kdc_coap_peer_xp(r->p);
	struct kdc_coap_peer *p = r->p;
	struct xl_req **pp;

	if (xp != NULL)
		for (pp = &xp->reqs; *pp != NULL; pp = &(*pp)->next)
			if (*pp == r) {
				*pp = r->next;
				break;
			}
	held_remove(x, r);
	x->nreqs--;
	xl_con_free(&r->con);
	r->done(r->arg, p, st, m);
	if (r->body != NULL) {
		kdc_wipe(r->body, r->body_len);
		kdc_free(r->body);
	}
	if (r->rbody != NULL) {
		kdc_wipe(r->rbody, r->rcap);
		kdc_free(r->rbody);
	}
	kdc_free(r->query);
	kdc_free(r);
	kdc_coap_peer_unref(p);
}

kdc_err
kdc_coap_request(struct kdc_coap_peer *p, uint8_t method, const char *path,
    int content_format, int accept, const uint8_t *payload, size_t len,
    kdc_coap_done_fn done, void *arg)
{
	struct kdc_coap_req rq;

	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.path = path;
	rq.content_format = content_format;
	rq.accept = accept;
	rq.payload = payload;
	rq.len = len;
	return kdc_coap_request2(p, &rq, done, arg);
}

/* An option a caller may add: not one the engine writes or acts on. */
static bool
xopt_allowed(uint16_t num)
{
	switch (num) {
	case 0:
	case KDC_OPT_OBSERVE:
	case KDC_OPT_LOCATION_PATH:
	case KDC_OPT_URI_PATH:
	case KDC_OPT_CONTENT_FORMAT:
	case KDC_OPT_MAX_AGE:
	case KDC_OPT_URI_QUERY:
	case KDC_OPT_ACCEPT:
	case KDC_OPT_LOCATION_QUERY:
	case KDC_OPT_BLOCK2:
	case KDC_OPT_BLOCK1:
	case KDC_OPT_SIZE2:
	case KDC_OPT_SIZE1:
		return false;
	default:
		return true;
	}
}

static void
req_free_early(struct xl_req *r)
{
	xl_con_free(&r->con);
	if (r->body != NULL)
		kdc_wipe(r->body, r->body_len);
	kdc_free(r->body);
	kdc_free(r->query);
	kdc_free(r);
}

kdc_err
kdc_coap_request2(struct kdc_coap_peer *p, const struct kdc_coap_req *rq,
    kdc_coap_done_fn done, void *arg)
{
	struct kdc_coap_xl *x;
	struct kdc_coap_xp *xp;
	struct xl_req *r;
	uint64_t t;
	kdc_err e;

	if (p == NULL || rq == NULL || done == NULL || rq->path == NULL ||
	    rq->method < KDC_COAP_GET || rq->method > KDC_COAP_DELETE ||
	    (rq->len > 0 && rq->payload == NULL) || rq->path[0] == '/' ||
	    strlen(rq->path) > KDC_COAP_PATH_MAX ||
	    rq->nopts > KDC_COAP_REQ_OPTS_MAX ||
	    (rq->nopts > 0 && rq->opts == NULL))
		return KDC_ERR_INVALID_ARG;
	for (size_t i = 0; i < rq->nopts; i++)
		if (!xopt_allowed(rq->opts[i].num) ||
		    rq->opts[i].len > KDC_COAP_REQ_OPT_LEN ||
		    (rq->opts[i].len > 0 && rq->opts[i].val == NULL))
			return KDC_ERR_INVALID_ARG;
	if ((x = xl_of_peer(p)) == NULL || x->closing ||
	    !kdc_coap_peer_open(p))
		return KDC_ERR_CLOSED;
	if (rq->len > KDC_COAP_REQ_BODY_MAX)
		return KDC_ERR_TOO_LARGE;
	if (x->nreqs >= KDC_COAP_PENDING_MAX) {
		xl_limit_hit(x, "requests to peers in flight",
		    KDC_COAP_PENDING_MAX);
		return KDC_ERR_TOO_LARGE;
	}
	if ((r = kdc_calloc(1, sizeof(*r))) == NULL)
		return KDC_ERR_NOMEM;
	r->p = p;
	r->method = rq->method;
	r->cf = rq->content_format;
	r->accept = rq->accept;
	snprintf(r->path, sizeof(r->path), "%s", rq->path);
	r->done = done;
	r->arg = arg;
	for (size_t i = 0; i < rq->nopts; i++) {
		/* kept ascending (insertion; equal numbers keep their order) */
		size_t j = r->nxopt++;

		while (j > 0 && r->xopt[j - 1].num > rq->opts[i].num) {
			r->xopt[j] = r->xopt[j - 1];
			j--;
		}
		r->xopt[j].num = rq->opts[i].num;
		r->xopt[j].len = (uint8_t)rq->opts[i].len;
		if (rq->opts[i].len > 0)
			memcpy(r->xopt[j].val, rq->opts[i].val,
			    rq->opts[i].len);
	}
	t = ++x->tok;
	for (int i = 7; i >= 0; i--, t >>= 8)
		r->tok[i] = (uint8_t)t;
	e = KDC_ERR_NOMEM;
	if (rq->query != NULL && rq->query[0] != '\0' &&
	    (r->query = kdc_strdup(rq->query)) == NULL)
		goto fail;
	if (rq->len > 0) {
		if ((r->body = kdc_malloc(rq->len)) == NULL)
			goto fail;
		memcpy(r->body, rq->payload, rq->len);
		r->body_len = rq->len;
	}
	if ((e = req_msg(x, r)) != KDC_OK)
		goto fail;
	if ((xp = xl_xp_get(x, p, true)) == NULL) {
		e = KDC_ERR_NOMEM;
		goto fail;
	}
	r->deadline = kdc_coap_now_ms() + x->lim.request_timeout_ms;
	kdc_coap_peer_ref(p);
	r->next = xp->reqs;
	xp->reqs = r;
	x->nreqs++;
	if (x->in_handler) {
		/* the handler's answer leaves first: a device sees its 2.04
		 * to /bs before our first request */
		r->held = true;
		r->held_next = x->held;
		x->held = r;
		xl_settle(x, p);
		return KDC_OK;
	}
	if ((e = req_transmit(x, r)) != KDC_OK) {
		xp->reqs = r->next;
		x->nreqs--;
		req_free_early(r);
		xl_settle(x, p);
		kdc_coap_peer_unref(p);
		return e;
	}
	xl_settle(x, p);
	return KDC_OK;
fail:
	req_free_early(r);
	return e;
}

/* Send what handlers asked for, now that their answers are out. */
void
xl_held_flush(struct kdc_coap_xl *x)
{
	struct xl_req *r;

	while ((r = x->held) != NULL) {
		struct kdc_coap_peer *p = r->p;
		x->held = r->held_next;
		r->held = false;
		r->held_next = NULL;
		kdc_coap_peer_ref(p);
		if (req_transmit(x, r) != KDC_OK)
			xl_req_complete(x, r, KDC_ERR_CLOSED, NULL);
		xl_settle(x, p);
		kdc_coap_peer_unref(p);
	}
}

/* Add an answer's Block2 piece to r's joined body: bounded by
 * KDC_COAP_RESP_MAX, grown with what arrived, never by Size2. */
static kdc_err
rbody_add(struct xl_req *r, const uint8_t *v, size_t n)
{
	size_t cap;
	uint8_t *b;

	if (n > KDC_COAP_RESP_MAX - r->rlen)
		return KDC_ERR_TOO_LARGE;
	if (n > 0 && r->rlen + n > r->rcap) {
		cap = r->rcap == 0 ? 2048 : r->rcap;
		while (cap < r->rlen + n)
			cap *= 2;
		if (cap > KDC_COAP_RESP_MAX)
			cap = KDC_COAP_RESP_MAX;
		if ((b = kdc_malloc(cap)) == NULL)
			return KDC_ERR_NOMEM;
		if (r->rbody != NULL) {
			memcpy(b, r->rbody, r->rlen);
			kdc_wipe(r->rbody, r->rcap);
			kdc_free(r->rbody);
		}
		r->rbody = b;
		r->rcap = cap;
	}
	if (n > 0)
		memcpy(r->rbody + r->rlen, v, n);
	r->rlen += n;
	return KDC_OK;
}

/* An answer to r (piggybacked or separate): the next Block1 block, the
 * next Block2 block, or r's completion. */
void
xl_req_answer(struct kdc_coap_xl *x, struct xl_req *r,
    const struct kdc_coap_wire *w)
{
	struct kdc_coap_block b;
	struct kdc_coap_msg m;
	char loc[KDC_COAP_PATH_MAX + 1];
	int has;
	kdc_err e;

	r->con.next = 0;
	if (w->code == KDC_COAP_TOO_LARGE && r->body_len > 0 &&
	    r->b2_next == 0 && r->b1_off == 0 && !r->b1_resized &&
	    xl_block_of(w, KDC_OPT_BLOCK1, &b) == 1 &&
	    (!r->b1 || b.szx < r->b1_szx)) {
		/* RFC 7959 §2.9.3: too large, and the block size the server
		 * takes: the body again from its start, once, in those */
		r->b1 = true;
		r->b1_resized = true;
		r->b1_szx = b.szx;
		if ((e = req_msg(x, r)) != KDC_OK ||
		    (e = req_transmit(x, r)) != KDC_OK)
			xl_req_complete(x, r, e == KDC_ERR_NOMEM ? e :
			    KDC_ERR_CLOSED, NULL);
		return;
	}
	if (r->b1 && r->b2_next == 0 &&
	    r->b1_off + ((size_t)16 << r->b1_szx) < r->body_len) {
		/* a block of our body that was not the last */
		if (w->code != CODE_CONTINUE) {
			/* refused midway (4.13, 4.08...): that is the answer */
			goto complete;
		}
		r->b1_off += (size_t)16 << r->b1_szx;
		if (xl_block_of(w, KDC_OPT_BLOCK1, &b) == 1 && b.szx < r->b1_szx)
			r->b1_szx = b.szx;	/* the server asks for less */
		if ((e = req_msg(x, r)) != KDC_OK ||
		    (e = req_transmit(x, r)) != KDC_OK)
			xl_req_complete(x, r, e == KDC_ERR_NOMEM ? e :
			    KDC_ERR_CLOSED, NULL);
		return;
	}
	has = xl_block_of(w, KDC_OPT_BLOCK2, &b);
	if (has < 0) {
		xl_req_complete(x, r, KDC_ERR_MALFORMED, NULL);
		return;
	}
	if (has == 1 && (b.num > 0 || b.more)) {
		if (b.num != r->b2_next || ((size_t)b.num << (b.szx + 4)) !=
		    r->rlen || (b.more && w->payload_len !=
		    ((size_t)16 << b.szx))) {
			xl_req_complete(x, r, KDC_ERR_MALFORMED, NULL);
			return;
		}
		if ((e = rbody_add(r, w->payload, w->payload_len)) != KDC_OK) {
			xl_req_complete(x, r, e, NULL);
			return;
		}
		if (b.more) {
			r->b2_next = b.num + 1;
			r->b2_szx = b.szx;
			if ((e = req_msg(x, r)) != KDC_OK ||
			    (e = req_transmit(x, r)) != KDC_OK)
				xl_req_complete(x, r, e == KDC_ERR_NOMEM ? e :
				    KDC_ERR_CLOSED, NULL);
			return;
		}
	}
complete:
	if ((e = xl_msg_decode(w, &m, loc, sizeof(loc))) != KDC_OK) {
		kdc_log_debug_r(e, "peer=%s answer refused",
		    kdc_coap_peer_addr(r->p));
		xl_req_complete(x, r, e, NULL);
		return;
	}
	if (r->rlen > 0) {
		m.payload = r->rbody;
		m.payload_len = r->rlen;
	}
	xl_req_complete(x, r, KDC_OK, &m);
}

/* ---- answers to our requests ---------------------------------------------------- */

struct xl_req *
xl_req_by_mid(struct kdc_coap_xp *xp, uint16_t mid)
{
	for (struct xl_req *r = xp->reqs; r != NULL; r = r->next)
		if (r->sent && r->con.buf != NULL && r->con.mid == mid)
			return r;
	return NULL;
}

static struct xl_req *
req_by_token(struct kdc_coap_xp *xp, const struct kdc_coap_wire *w)
{
	if (w->token_len != 8)
		return NULL;
	for (struct xl_req *r = xp->reqs; r != NULL; r = r->next)
		if (r->sent && memcmp(r->tok, w->token, 8) == 0)
			return r;
	return NULL;
}

/* A CON or NON carrying a response code: a separate answer to us. */
void
xl_on_separate(struct kdc_coap_xl *x, struct kdc_coap_peer *p,
    const struct kdc_coap_wire *w)
{
	struct kdc_coap_xp *xp = xl_xp_get(x, p, false);
	struct xl_req *r = xp != NULL ? req_by_token(xp, w) : NULL;
	uint8_t buf[4];
	size_t n;

	if (r == NULL) {
		if (w->type == KDC_COAP_CON)
			(void)kdc_coap_peer_send(p, buf, xl_bare(buf,
			    KDC_COAP_RST, w->mid));
		return;
	}
	if (!kdc_coap_xl_answer_ok(w)) {
		/* RFC 7252 §5.4.1: rejected, a CON one with RST (§4.2) */
		kdc_log_debug("peer=%s answer with an unknown critical "
		    "option rejected", kdc_coap_peer_addr(p));
		if (w->type == KDC_COAP_CON)
			(void)kdc_coap_peer_send(p, buf, xl_bare(buf,
			    KDC_COAP_RST, w->mid));
		xl_req_complete(x, r, KDC_ERR_UNSUPPORTED, NULL);
		return;
	}
	if (w->type == KDC_COAP_CON) {
		n = xl_bare(buf, KDC_COAP_ACK, w->mid);
		xl_reply(x, p, w, buf, n);
	}
	xl_req_answer(x, r, w);
}
