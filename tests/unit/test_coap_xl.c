/*
 * test_coap_xl.c: the CoAP message layer (coap/xl.h) against a fake
 * engine: every message xl sends is recorded, the clock is ours, peers
 * are counted references. Routing, deduplication, separate answers,
 * our CON requests and their retransmission timing, Block1 reassembly
 * and its bounds, Block2 both ways, 4.02, truncated input, and the
 * owned-payload release in every path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "coap/coap.h"
#include "coap/wire.h"
#include "coap/xl.h"
#include "xlfake.h"

/* ---- the fake engine (xlfake.h) ------------------------------------------- */

#define SENT_MAX	256
static struct sent {
	struct kdc_coap_peer	*p;
	uint8_t			 b[KDC_COAP_DGRAM_MAX];
	size_t			 len;
	uint64_t		 at;
} sent[SENT_MAX];
static size_t nsent;
static uint64_t now_ms = 1000000;

/* What xl sends to an open peer is recorded (a closed one refuses it). */
void
kdc_xlfake_sent(struct kdc_coap_peer *p, const uint8_t *msg, size_t len)
{
	if (!p->open)
		return;
	assert_true(nsent < SENT_MAX);
	sent[nsent].p = p;
	memcpy(sent[nsent].b, msg, len);
	sent[nsent].len = len;
	sent[nsent].at = now_ms;
	nsent++;
}

void
kdc_xlfake_fail(const char *what)
{
	fail_msg("fake engine: %s", what);
}

uint64_t
kdc_coap_now_ms(void)
{
	return now_ms;
}

static struct kdc_coap eng;
static struct kdc_coap_peer peers[4];
#define PA	(&peers[0])
#define PB	(&peers[1])
#define PC	(&peers[2])

static void
peer_init(struct kdc_coap_peer *p, const char *ep)
{
	kdc_xlfake_peer_init(p, &eng, ep);
}

/* Run the clock forward by ms in 10 ms ticks, firing due peer timers. */
static void
advance(uint64_t ms)
{
	uint64_t end = now_ms + ms;

	while (now_ms < end) {
		now_ms += 10;
		kdc_xlfake_fire(peers, 4, now_ms);
	}
}

/* ---- handlers ---------------------------------------------------------------- */

static int calls;
static int handed;	/* owned payloads handlers gave */
static char last_path[KDC_COAP_PATH_MAX + 1];
static uint8_t last_body[16384];
static size_t last_body_len;
static int releases;
static struct kdc_coap_later *later;
static bool do_defer, do_cancel, do_request;
static size_t answer_len;	/* owned answer of this many bytes */
static kdc_coap_done_fn h_done;	/* do_request: its completion */

static void
count_release(void *arg)
{
	(void)arg;
	releases++;
}

static uint8_t big[KDC_COAP_RESP_MAX];

static void
h_any(void *arg, struct kdc_coap_peer *p, const struct kdc_coap_msg *req,
    struct kdc_coap_resp *resp)
{
	(void)arg;
	calls++;
	snprintf(last_path, sizeof(last_path), "%s", req->path);
	last_body_len = req->payload_len;
	if (req->payload_len > 0)
		memcpy(last_body, req->payload, req->payload_len);
	if (do_defer && (later = kdc_coap_defer(p)) == NULL)
		assert_true(kdc_alloc_faulted());	/* answered now */
	else if (do_defer) {
		if (do_cancel) {
			kdc_coap_later_cancel(later);
			later = NULL;
			resp->code = KDC_COAP_CHANGED;
		}
		return;
	}
	if (do_request)
		assert_int_equal(kdc_coap_request(p, KDC_COAP_GET, "0", -1,
		    -1, NULL, 0, h_done, NULL), KDC_OK);
	resp->code = KDC_COAP_CONTENT;
	resp->content_format = 0;
	if (answer_len > 0) {
		handed++;
		resp->payload = big;
		resp->payload_len = answer_len;
		resp->release = count_release;
		resp->release_arg = NULL;
	} else {
		resp->payload = (const uint8_t *)"hello";
		resp->payload_len = 5;
	}
}

static int pcalls, xcalls;

static void
h_prefix(void *arg, struct kdc_coap_peer *p, const struct kdc_coap_msg *req,
    struct kdc_coap_resp *resp)
{
	(void)arg;
	(void)p;
	pcalls++;
	snprintf(last_path, sizeof(last_path), "%s", req->path);
	resp->code = KDC_COAP_CHANGED;
	snprintf(resp->location, sizeof(resp->location), "rd/77");
}

static void
h_exact(void *arg, struct kdc_coap_peer *p, const struct kdc_coap_msg *req,
    struct kdc_coap_resp *resp)
{
	(void)arg;
	(void)p;
	(void)req;
	xcalls++;
	resp->code = KDC_COAP_CONTENT;
}

/* ---- messages ------------------------------------------------------------------ */

struct rq {
	uint8_t			 type, code;
	uint16_t		 mid;
	const uint8_t		*tok;
	size_t			 tok_len;
	const char		*path;
	uint16_t		 extra;		/* an option number, 0 none */
	bool			 has_b2, has_b1;
	struct kdc_coap_block	 b2, b1;
	const uint8_t		*size1;		/* raw value */
	size_t			 size1_len;
	const void		*payload;
	size_t			 len;
};

static size_t
mk(uint8_t *buf, const struct rq *q)
{
	struct kdc_coap_wb w;
	uint8_t v[3];
	size_t n;

	kdc_coap_wb_init(&w, buf, KDC_COAP_DGRAM_MAX, q->type, q->code, q->mid,
	    q->tok, q->tok_len);
	if (q->extra != 0 && q->extra < KDC_OPT_URI_PATH)
		kdc_coap_wb_opt(&w, q->extra, "x", 1);
	if (q->path != NULL)
		kdc_coap_wb_path(&w, KDC_OPT_URI_PATH, q->path);
	if (q->extra > KDC_OPT_URI_PATH && q->extra < KDC_OPT_BLOCK2)
		kdc_coap_wb_opt(&w, q->extra, "x", 1);
	if (q->has_b2)
		kdc_coap_wb_opt(&w, KDC_OPT_BLOCK2, v,
		    kdc_coap_block_put(&q->b2, v));
	if (q->has_b1)
		kdc_coap_wb_opt(&w, KDC_OPT_BLOCK1, v,
		    kdc_coap_block_put(&q->b1, v));
	if (q->size1 != NULL)
		kdc_coap_wb_opt(&w, KDC_OPT_SIZE1, q->size1, q->size1_len);
	if (q->extra > KDC_OPT_SIZE1)
		kdc_coap_wb_opt(&w, q->extra, "x", 1);
	if (q->len > 0)
		kdc_coap_wb_payload(&w, q->payload, q->len);
	assert_int_equal(kdc_coap_wb_end(&w, &n), KDC_OK);
	return n;
}

static void
feed(struct kdc_coap_peer *p, const struct rq *q)
{
	uint8_t buf[KDC_COAP_DGRAM_MAX];
	size_t n = mk(buf, q);

	kdc_coap_xl_input(eng.xl, p, buf, n);
}

static void
feedv(struct kdc_coap_peer *p, struct rq q)
{
	feed(p, &q);
}

/* The i-th message sent, parsed. */
static struct kdc_coap_wire
out(size_t i)
{
	struct kdc_coap_wire w;

	assert_true(i < nsent);
	assert_int_equal(kdc_coap_wire_parse(sent[i].b, sent[i].len, &w),
	    KDC_OK);
	return w;
}

static struct kdc_coap_wire
last(void)
{
	assert_true(nsent > 0);
	return out(nsent - 1);
}

static bool
opt_block(const struct kdc_coap_wire *w, uint16_t num,
    struct kdc_coap_block *b)
{
	size_t it = 0;
	const struct kdc_coap_opt *o = kdc_coap_wire_opt(w, num, &it);

	if (o == NULL)
		return false;
	assert_int_equal(kdc_coap_block_get(o, b), KDC_OK);
	return true;
}

static long
opt_uint(const struct kdc_coap_wire *w, uint16_t num)
{
	size_t it = 0;
	const struct kdc_coap_opt *o = kdc_coap_wire_opt(w, num, &it);
	uint32_t v;

	if (o == NULL)
		return -1;
	assert_int_equal(kdc_coap_opt_uint(o, &v), KDC_OK);
	return (long)v;
}

static const uint8_t TOK[4] = { 1, 2, 3, 4 };

static struct rq
get(const char *path, uint16_t mid)
{
	struct rq q = { .type = KDC_COAP_CON, .code = KDC_COAP_GET,
	    .mid = mid, .tok = TOK, .tok_len = 4, .path = path };
	return q;
}

/* ---- fixture -------------------------------------------------------------------- */

static struct kdc_coap_xl_limits lim;

static int
setup(void **state)
{
	(void)state;
	memset(&eng, 0, sizeof(eng));
	peer_init(PA, "kdc");
	peer_init(PB, "kdc");
	peer_init(PC, "lwm2m");
	memset(&peers[3], 0, sizeof(peers[3]));
	nsent = 0;
	calls = pcalls = xcalls = releases = 0;
	later = NULL;
	do_defer = do_cancel = do_request = false;
	h_done = NULL;
	answer_len = 0;
	assert_int_equal(kdc_coap_xl_new(&eng, &lim, &eng.xl), KDC_OK);
	assert_int_equal(kdc_coap_route(&eng, NULL, KDC_COAP_GET, "a/b",
	    h_any, NULL), KDC_OK);
	assert_int_equal(kdc_coap_route(&eng, NULL, KDC_COAP_POST, "a/b",
	    h_any, NULL), KDC_OK);
	assert_int_equal(kdc_coap_route(&eng, NULL, KDC_COAP_POST, "rd/*",
	    h_prefix, NULL), KDC_OK);
	assert_int_equal(kdc_coap_route(&eng, NULL, KDC_COAP_POST, "rd/x",
	    h_exact, NULL), KDC_OK);
	assert_int_equal(kdc_coap_route(&eng, "lwm2m", KDC_COAP_GET, "only",
	    h_exact, NULL), KDC_OK);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	kdc_coap_xl_free(eng.xl);
	eng.xl = NULL;
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(peers[i].refs, 1);	/* every ref given back */
	memset(&lim, 0, sizeof(lim));
	return 0;
}

/* ---- routing ---------------------------------------------------------------------- */

static void
test_route(void **state)
{
	struct kdc_coap_wire w;
	struct rq q;
	size_t it = 0;

	(void)state;
	feed(PA, &(struct rq){ .type = KDC_COAP_CON, .code = KDC_COAP_GET,
	    .mid = 1, .tok = TOK, .tok_len = 4, .path = "a/b" });
	w = last();
	assert_int_equal(w.type, KDC_COAP_ACK);
	assert_int_equal(w.mid, 1);
	assert_int_equal(w.code, KDC_COAP_CONTENT);
	assert_int_equal(w.token_len, 4);
	assert_memory_equal(w.token, TOK, 4);
	assert_int_equal(w.payload_len, 5);
	assert_memory_equal(w.payload, "hello", 5);
	assert_int_equal(calls, 1);
	/* prefix */
	q = get("rd/7/x", 2);
	q.code = KDC_COAP_POST;
	feed(PA, &q);
	w = last();
	assert_int_equal(w.code, KDC_COAP_CHANGED);
	assert_int_equal(pcalls, 1);
	assert_string_equal(last_path, "rd/7/x");
	/* its Location-Path */
	assert_non_null(kdc_coap_wire_opt(&w, KDC_OPT_LOCATION_PATH, &it));
	assert_non_null(kdc_coap_wire_opt(&w, KDC_OPT_LOCATION_PATH, &it));
	/* exact wins over prefix */
	q = get("rd/x", 3);
	q.code = KDC_COAP_POST;
	feed(PA, &q);
	assert_int_equal(xcalls, 1);
	assert_int_equal(pcalls, 1);
	/* "rd" alone: the prefix route is not at it */
	q = get("rd", 4);
	q.code = KDC_COAP_POST;
	feed(PA, &q);
	assert_int_equal(last().code, KDC_COAP_NOT_FOUND);
	/* unknown path 4.04, known path wrong method 4.05 */
	feed(PA, &(struct rq){ .type = KDC_COAP_CON, .code = KDC_COAP_GET,
	    .mid = 5, .path = "nope" });
	assert_int_equal(last().code, KDC_COAP_NOT_FOUND);
	q = get("a/b", 6);
	q.code = KDC_COAP_PUT;
	feed(PA, &q);
	assert_int_equal(last().code, KDC_COAP_NOT_ALLOWED);
	q = get("rd/7", 7);		/* prefix path, GET not routed */
	feed(PA, &q);
	assert_int_equal(last().code, KDC_COAP_NOT_ALLOWED);
	/* a route of another endpoint */
	feed(PA, &(struct rq){ .type = KDC_COAP_CON, .code = KDC_COAP_GET,
	    .mid = 8, .path = "only" });
	assert_int_equal(last().code, KDC_COAP_NOT_FOUND);
	feed(PC, &(struct rq){ .type = KDC_COAP_CON, .code = KDC_COAP_GET,
	    .mid = 8, .path = "only" });
	assert_int_equal(last().code, KDC_COAP_CONTENT);
	/* NON is answered NON, with our MID and its token */
	q = get("a/b", 9);
	q.type = KDC_COAP_NON;
	feed(PA, &q);
	w = last();
	assert_int_equal(w.type, KDC_COAP_NON);
	assert_memory_equal(w.token, TOK, 4);
	assert_int_equal(calls, 2);
	/* duplicate and bad routes refused */
	assert_int_equal(kdc_coap_route(&eng, NULL, KDC_COAP_GET, "a/b",
	    h_any, NULL), KDC_ERR_EXISTS);
	assert_int_equal(kdc_coap_route(&eng, NULL, KDC_COAP_GET, "/a",
	    h_any, NULL), KDC_ERR_INVALID_ARG);
	assert_null(PA->xp);	/* idle: no per-peer state */
}

static void
test_unknown_critical(void **state)
{
	struct rq q = get("a/b", 10);

	(void)state;
	q.extra = 9;		/* critical (odd), not one we know */
	feed(PA, &q);
	assert_int_equal(last().code, KDC_COAP_CODE(4, 2));
	assert_int_equal(calls, 0);
	q.mid = 11;
	q.extra = 10;		/* elective: ignored */
	feed(PA, &q);
	assert_int_equal(last().code, KDC_COAP_CONTENT);
	q.mid = 12;
	q.extra = KDC_OPT_IF_MATCH;	/* critical, known */
	feed(PA, &q);
	assert_int_equal(last().code, KDC_COAP_CONTENT);
	assert_int_equal(calls, 2);
}

/* ---- deduplication ------------------------------------------------------------------ */

static void
test_dedup(void **state)
{
	struct rq q = get("a/b", 0x1234);
	uint8_t first[KDC_COAP_DGRAM_MAX];
	size_t first_len;

	(void)state;
	feed(PA, &q);
	assert_int_equal(calls, 1);
	assert_int_equal(nsent, 1);
	first_len = sent[0].len;
	memcpy(first, sent[0].b, first_len);
	advance(3000);
	feed(PA, &q);		/* the peer's retransmission */
	assert_int_equal(calls, 1);
	assert_int_equal(nsent, 2);
	assert_int_equal(sent[1].len, first_len);
	assert_memory_equal(sent[1].b, first, first_len);
	/* another peer's message with the same MID is its own */
	feed(PB, &q);
	assert_int_equal(calls, 2);
	/* a new MID runs the handler */
	q.mid++;
	feed(PA, &q);
	assert_int_equal(calls, 3);
	/* past EXCHANGE_LIFETIME the MID may be reused */
	q.mid--;
	now_ms += KDC_COAP_EXCHANGE_LIFETIME_MS;
	feed(PA, &q);
	assert_int_equal(calls, 4);
	assert_null(PA->xp);
	/* an owned answer (a secret, maybe) is not kept: a retransmission
	 * runs the handler again, and each payload is released once */
	answer_len = 20;
	q.mid = 0x5555;
	feed(PA, &q);
	feed(PA, &q);
	assert_int_equal(calls, 6);
	assert_int_equal(releases, 2);
}

static void
test_dedup_ring(void **state)
{
	struct rq q = get("a/b", 100);

	(void)state;
	kdc_coap_xl_free(eng.xl);
	lim.dedup_max = 4;
	assert_int_equal(kdc_coap_xl_new(&eng, &lim, &eng.xl), KDC_OK);
	assert_int_equal(kdc_coap_route(&eng, NULL, KDC_COAP_GET, "a/b",
	    h_any, NULL), KDC_OK);
	for (uint16_t i = 0; i < 5; i++) {
		q.mid = (uint16_t)(100 + i);
		feed(PA, &q);
	}
	assert_int_equal(calls, 5);
	q.mid = 104;		/* kept */
	feed(PA, &q);
	assert_int_equal(calls, 5);
	q.mid = 100;		/* pushed out of the ring of 4 */
	feed(PA, &q);
	assert_int_equal(calls, 6);
	/* a ring of 1 (2 hash buckets): sessions whose entries share a
	 * bucket still never get each other's answers */
	kdc_coap_xl_free(eng.xl);
	lim.dedup_max = 1;
	assert_int_equal(kdc_coap_xl_new(&eng, &lim, &eng.xl), KDC_OK);
	assert_int_equal(kdc_coap_route(&eng, NULL, KDC_COAP_GET, "a/b",
	    h_any, NULL), KDC_OK);
	calls = 0;
	for (uint64_t k = 1000; k < 1016; k++) {
		PB->serial = k;
		feed(PB, &q);
	}
	assert_int_equal(calls, 16);
	feed(PB, &q);		/* the same session again: kept */
	assert_int_equal(calls, 16);
}

/* ---- defer / later ------------------------------------------------------------------- */

static void
test_later(void **state)
{
	struct rq q = get("a/b", 0x2000);
	struct kdc_coap_resp rs;
	struct kdc_coap_wire w;
	uint8_t *pl;
	uint16_t mid;
	size_t n;

	(void)state;
	do_defer = true;
	feed(PA, &q);
	assert_non_null(later);
	assert_ptr_equal(kdc_coap_later_peer(later), PA);
	assert_int_equal(kdc_coap_peer_laters(PA), 1);
	assert_true(kdc_coap_xl_busy(eng.xl, PA));
	w = last();
	assert_int_equal(sent[nsent - 1].len, 4);	/* empty ACK */
	assert_int_equal(w.type, KDC_COAP_ACK);
	assert_int_equal(w.code, 0);
	assert_int_equal(w.mid, 0x2000);
	/* retransmitted while deferred: the empty ACK again, no call */
	feed(PA, &q);
	assert_int_equal(calls, 1);
	assert_int_equal(nsent, 2);
	assert_int_equal(sent[1].len, 4);
	assert_memory_equal(sent[1].b, sent[0].b, 4);
	/* defer outside a handler: NULL */
	assert_null(kdc_coap_defer(PA));
	/* the answer: CON, the request's token, owned payload released once */
	memset(&rs, 0, sizeof(rs));
	rs.code = KDC_COAP_CHANGED;
	rs.content_format = KDC_CF_NONE;
	pl = kdc_coap_resp_alloc(&rs, 3);
	memcpy(pl, "abc", 3);
	n = nsent;
	kdc_coap_later_answer(later, &rs);
	assert_int_equal(kdc_coap_peer_laters(PA), 0);
	assert_int_equal(nsent, n + 1);
	w = last();
	assert_int_equal(w.type, KDC_COAP_CON);
	assert_int_equal(w.code, KDC_COAP_CHANGED);
	assert_int_equal(w.token_len, 4);
	assert_memory_equal(w.token, TOK, 4);
	assert_memory_equal(w.payload, "abc", 3);
	mid = w.mid;
	/* not acknowledged: retransmitted, same bytes */
	advance(3100);
	assert_int_equal(nsent, n + 2);
	assert_memory_equal(sent[n + 1].b, sent[n].b, sent[n].len);
	/* the peer's ACK ends it */
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK, .code = 0, .mid = mid });
	assert_null(PA->xp);
	advance(60000);
	assert_int_equal(nsent, n + 2);
}

static void
test_later_rst_and_exhausted(void **state)
{
	struct rq q = get("a/b", 0x2100);
	struct kdc_coap_resp rs;
	size_t n;

	(void)state;
	do_defer = true;
	feed(PA, &q);
	memset(&rs, 0, sizeof(rs));
	rs.code = KDC_COAP_CHANGED;
	rs.payload = big;
	rs.payload_len = 10;
	rs.release = count_release;
	n = nsent;
	kdc_coap_later_answer(later, &rs);
	assert_int_equal(releases, 1);	/* copied into the message */
	feed(PA, &(struct rq){ .type = KDC_COAP_RST, .code = 0,
	    .mid = last().mid });
	assert_null(PA->xp);
	advance(10000);
	assert_int_equal(nsent, n + 1);		/* dropped: no retransmission */
	/* a later nobody acknowledges: 1 + MAX_RETRANSMIT sends, then gone */
	q.mid++;
	feed(PA, &q);
	rs.release = NULL;
	n = nsent;
	kdc_coap_later_answer(later, &rs);
	advance(200000);
	assert_int_equal(nsent, n + 1 + KDC_COAP_MAX_RETRANSMIT);
	assert_null(PA->xp);
	assert_int_equal(releases, 1);
}

static void
test_later_cancel(void **state)
{
	struct rq q = get("a/b", 0x2200);

	(void)state;
	do_defer = true;
	do_cancel = true;
	feed(PA, &q);
	assert_int_equal(last().code, KDC_COAP_CHANGED);	/* piggybacked */
	assert_int_equal(last().type, KDC_COAP_ACK);
	assert_int_equal(kdc_coap_peer_laters(PA), 0);
	assert_null(PA->xp);
}

static void
test_later_gone(void **state)
{
	struct rq q = get("a/b", 0x2300);
	struct kdc_coap_resp rs;
	size_t n;

	(void)state;
	do_defer = true;
	feed(PA, &q);
	assert_int_equal(PA->refs, 2);	/* the later holds the peer */
	PA->open = false;
	kdc_coap_xl_gone(eng.xl, PA);
	assert_int_equal(PA->refs, 2);	/* until answered */
	memset(&rs, 0, sizeof(rs));
	rs.code = KDC_COAP_CHANGED;
	rs.payload = big;
	rs.payload_len = 100;
	rs.release = count_release;
	n = nsent;
	kdc_coap_later_answer(later, &rs);
	assert_int_equal(nsent, n);	/* nobody to send it to */
	assert_int_equal(releases, 1);
	assert_int_equal(PA->refs, 1);
	assert_null(PA->xp);
}

/* A later unanswered when the engine is freed: its peer is let go. */
static void
test_later_engine_freed(void **state)
{
	struct rq q = get("a/b", 0x2400);

	(void)state;
	do_defer = true;
	feed(PA, &q);
	assert_int_equal(PA->refs, 2);
	/* teardown frees the engine and checks refs == 1 */
}

/* ---- our requests --------------------------------------------------------------------- */

static int dcalls;
static kdc_err dstatus;
static bool in_request;
static uint8_t dbody[KDC_COAP_RESP_MAX];
static size_t dbody_len;
static uint8_t dcode;
static char dloc[KDC_COAP_PATH_MAX + 1];
static uint64_t dat;
static uint32_t docf;

static void
done(void *arg, struct kdc_coap_peer *p, kdc_err st,
    const struct kdc_coap_msg *m)
{
	(void)arg;
	(void)p;
	assert_false(in_request);	/* never from inside the call */
	dcalls++;
	dstatus = st;
	dat = now_ms;
	dbody_len = 0;
	dloc[0] = '\0';
	docf = 0;
	if (m != NULL) {
		dcode = m->code;
		docf = m->ocf_version;
		dbody_len = m->payload_len;
		if (m->payload_len > 0)
			memcpy(dbody, m->payload, m->payload_len);
		if (m->location != NULL)
			snprintf(dloc, sizeof(dloc), "%s", m->location);
	}
}

static kdc_err
request(struct kdc_coap_peer *p, uint8_t method, const char *path,
    const uint8_t *body, size_t len)
{
	kdc_err r;

	dcalls = 0;
	in_request = true;
	r = kdc_coap_request(p, method, path, KDC_CF_NONE, KDC_CF_NONE, body,
	    len, done, NULL);
	in_request = false;
	return r;
}

static void
test_request_piggybacked(void **state)
{
	struct kdc_coap_wire w;
	size_t it = 0;

	(void)state;
	assert_int_equal(request(PA, KDC_COAP_GET, "0/1", NULL, 0), KDC_OK);
	assert_int_equal(dcalls, 0);
	assert_int_equal(PA->refs, 2);
	w = last();
	assert_int_equal(w.type, KDC_COAP_CON);
	assert_int_equal(w.code, KDC_COAP_GET);
	assert_int_equal(w.token_len, 8);
	assert_non_null(kdc_coap_wire_opt(&w, KDC_OPT_URI_PATH, &it));
	/* an ACK with a wrong token is not its answer */
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK,
	    .code = KDC_COAP_CONTENT, .mid = w.mid, .tok = TOK,
	    .tok_len = 4 });
	assert_int_equal(dcalls, 0);
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK,
	    .code = KDC_COAP_CONTENT, .mid = w.mid, .tok = w.token,
	    .tok_len = 8, .payload = "data", .len = 4 });
	assert_int_equal(dcalls, 1);
	assert_int_equal(dstatus, KDC_OK);
	assert_int_equal(dcode, KDC_COAP_CONTENT);
	assert_int_equal(dbody_len, 4);
	assert_memory_equal(dbody, "data", 4);
	assert_int_equal(PA->refs, 1);
	assert_null(PA->xp);
	/* its retransmitted ACK finds nothing */
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK,
	    .code = KDC_COAP_CONTENT, .mid = w.mid, .tok = w.token,
	    .tok_len = 8 });
	assert_int_equal(dcalls, 1);
	/* tokens differ between requests, MIDs increase */
	assert_int_equal(request(PA, KDC_COAP_GET, "0", NULL, 0), KDC_OK);
	assert_memory_not_equal(last().token, w.token, 8);
	assert_int_equal(last().mid, (uint16_t)(w.mid + 1));
}

static void
test_request_separate(void **state)
{
	struct kdc_coap_wire w, a;
	size_t n;

	(void)state;
	assert_int_equal(request(PA, KDC_COAP_POST, "bs", NULL, 0), KDC_OK);
	w = last();
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK, .code = 0,
	    .mid = w.mid });
	n = nsent;
	advance(40000);			/* acknowledged: no retransmission */
	assert_int_equal(nsent, n);
	assert_int_equal(dcalls, 0);
	feed(PA, &(struct rq){ .type = KDC_COAP_CON,
	    .code = KDC_COAP_CHANGED, .mid = 0x7777, .tok = w.token,
	    .tok_len = 8, .path = NULL });
	assert_int_equal(dcalls, 1);
	assert_int_equal(dstatus, KDC_OK);
	assert_int_equal(dcode, KDC_COAP_CHANGED);
	a = last();			/* we acknowledged it */
	assert_int_equal(a.type, KDC_COAP_ACK);
	assert_int_equal(a.code, 0);
	assert_int_equal(a.mid, 0x7777);
	/* its retransmission: the same ACK, no second done */
	feed(PA, &(struct rq){ .type = KDC_COAP_CON,
	    .code = KDC_COAP_CHANGED, .mid = 0x7777, .tok = w.token,
	    .tok_len = 8 });
	assert_int_equal(dcalls, 1);
	assert_int_equal(last().type, KDC_COAP_ACK);
	assert_int_equal(last().mid, 0x7777);
	/* a separate answer to nothing of ours: RST */
	feed(PA, &(struct rq){ .type = KDC_COAP_CON,
	    .code = KDC_COAP_CHANGED, .mid = 0x7778, .tok = w.token,
	    .tok_len = 8 });
	assert_int_equal(last().type, KDC_COAP_RST);
	assert_int_equal(PA->refs, 1);
	assert_null(PA->xp);
}

static void
test_request_rst(void **state)
{
	(void)state;
	assert_int_equal(request(PA, KDC_COAP_DELETE, "0", NULL, 0), KDC_OK);
	feed(PA, &(struct rq){ .type = KDC_COAP_RST, .code = 0,
	    .mid = last().mid });
	assert_int_equal(dcalls, 1);
	assert_int_equal(dstatus, KDC_ERR_PEER_RESET);
	assert_int_equal(PA->refs, 1);
}

static void
test_request_timeout(void **state)
{
	uint64_t t0 = now_ms, prev, gap;
	size_t n0 = nsent;

	(void)state;
	kdc_coap_set_timers(&eng, 1000, 4, 1000000);
	assert_int_equal(request(PA, KDC_COAP_GET, "0", NULL, 0), KDC_OK);
	advance(100000);
	assert_int_equal(dcalls, 1);
	assert_int_equal(dstatus, KDC_ERR_TIMEOUT);
	/* 1 + MAX_RETRANSMIT sends, the same bytes; gaps T, 2T, 4T, 8T with
	 * T in [ACK_TIMEOUT, 1.5 ACK_TIMEOUT] (10 ms ticks), given up 16T
	 * after the last */
	assert_int_equal(nsent - n0, 5);
	gap = sent[n0 + 1].at - t0;
	assert_true(gap >= 1000 && gap <= 1510);
	prev = sent[n0 + 1].at;
	for (size_t i = 2; i < 5; i++) {
		uint64_t g = sent[n0 + i].at - prev;
		assert_true(g + 30 >= gap * 2 && g <= gap * 2 + 30);
		assert_memory_equal(sent[n0 + i].b, sent[n0].b, sent[n0].len);
		gap = g;
		prev = sent[n0 + i].at;
	}
	assert_true(dat - prev + 30 >= gap * 2 && dat - prev <= gap * 2 + 30);
	assert_int_equal(PA->refs, 1);
	assert_null(PA->xp);
	/* the exchange deadline comes first when shorter */
	kdc_coap_set_timers(&eng, 2000, 4, 5000);
	t0 = now_ms;
	assert_int_equal(request(PA, KDC_COAP_GET, "0", NULL, 0), KDC_OK);
	advance(20000);
	assert_int_equal(dcalls, 1);
	assert_int_equal(dstatus, KDC_ERR_TIMEOUT);
	assert_true(dat - t0 >= 5000 && dat - t0 <= 5010);
}

static void
test_request_closed(void **state)
{
	(void)state;
	assert_int_equal(request(PA, KDC_COAP_GET, "0", NULL, 0), KDC_OK);
	assert_int_equal(request(PA, KDC_COAP_GET, "1", NULL, 0), KDC_OK);
	dcalls = 0;
	PA->open = false;
	kdc_coap_xl_gone(eng.xl, PA);
	assert_int_equal(dcalls, 2);
	assert_int_equal(dstatus, KDC_ERR_CLOSED);
	assert_int_equal(PA->refs, 1);
	assert_null(PA->xp);
	/* on a closed session: refused, done not called */
	assert_int_equal(request(PA, KDC_COAP_GET, "0", NULL, 0),
	    KDC_ERR_CLOSED);
	assert_int_equal(dcalls, 0);
	/* bad arguments, too large */
	PA->open = true;
	assert_int_equal(request(PA, 0, "0", NULL, 0), KDC_ERR_INVALID_ARG);
	assert_int_equal(request(PA, KDC_COAP_GET, "/0", NULL, 0),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(request(PA, KDC_COAP_GET, "a//b", NULL, 0),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(request(PA, KDC_COAP_PUT, "0", NULL, 3),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(request(PA, KDC_COAP_PUT, "0", big,
	    KDC_COAP_REQ_BODY_MAX + 1), KDC_ERR_TOO_LARGE);
	assert_int_equal(dcalls, 0);
	assert_null(PA->xp);
	/* the engine freed with one in flight: CLOSED (teardown) */
	assert_int_equal(request(PA, KDC_COAP_GET, "0", NULL, 0), KDC_OK);
	kdc_coap_xl_free(eng.xl);
	eng.xl = NULL;
	assert_int_equal(dcalls, 1);
	assert_int_equal(dstatus, KDC_ERR_CLOSED);
	assert_int_equal(kdc_coap_xl_new(&eng, &lim, &eng.xl), KDC_OK);
}

/* A request a handler makes leaves after the handler's answer. */
static void
test_request_in_handler(void **state)
{
	struct rq q = get("a/b", 0x3000);

	(void)state;
	do_request = true;
	kdc_coap_xl_free(eng.xl);
	assert_int_equal(kdc_coap_xl_new(&eng, &lim, &eng.xl), KDC_OK);
	assert_int_equal(kdc_coap_route(&eng, NULL, KDC_COAP_GET, "a/b",
	    h_any, NULL), KDC_OK);
	h_done = done;
	dcalls = 0;
	feed(PA, &q);
	assert_int_equal(nsent, 2);
	assert_int_equal(out(0).type, KDC_COAP_ACK);
	assert_int_equal(out(0).code, KDC_COAP_CONTENT);
	assert_int_equal(out(1).type, KDC_COAP_CON);
	assert_int_equal(out(1).code, KDC_COAP_GET);
	assert_int_equal(dcalls, 0);
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK,
	    .code = KDC_COAP_CONTENT, .mid = out(1).mid, .tok = out(1).token,
	    .tok_len = 8 });
	assert_int_equal(dcalls, 1);
	assert_int_equal(PA->refs, 1);
}

/* Our body over a datagram goes by Block1; a Block2 answer is fetched. */
static void
test_request_blocks(void **state)
{
	uint8_t body[1500];
	struct kdc_coap_block b;
	struct kdc_coap_wire w;
	uint8_t part[64];

	(void)state;
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)(i * 7);
	assert_int_equal(request(PA, KDC_COAP_PUT, "0", body, sizeof(body)),
	    KDC_OK);
	w = last();
	assert_true(opt_block(&w, KDC_OPT_BLOCK1, &b));
	assert_int_equal(b.num, 0);
	assert_true(b.more);
	assert_int_equal(b.szx, 6);
	assert_int_equal(opt_uint(&w, KDC_OPT_SIZE1), 1500);
	assert_int_equal(w.payload_len, 1024);
	assert_memory_equal(w.payload, body, 1024);
	/* 2.31, asking for 256-byte blocks */
	b.szx = 4;
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK, .code = KDC_COAP_CODE(2,
	    31), .mid = w.mid, .tok = w.token, .tok_len = 8, .has_b1 = true,
	    .b1 = b });
	assert_int_equal(dcalls, 0);
	w = last();
	assert_true(opt_block(&w, KDC_OPT_BLOCK1, &b));
	assert_int_equal(b.num, 4);		/* 1024 / 256 */
	assert_int_equal(b.szx, 4);
	assert_true(b.more);
	assert_int_equal(w.payload_len, 256);
	assert_memory_equal(w.payload, body + 1024, 256);
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK, .code = KDC_COAP_CODE(2,
	    31), .mid = w.mid, .tok = w.token, .tok_len = 8, .has_b1 = true,
	    .b1 = b });
	w = last();
	assert_true(opt_block(&w, KDC_OPT_BLOCK1, &b));
	assert_int_equal(b.num, 5);
	assert_false(b.more);
	assert_int_equal(w.payload_len, 1500 - 1280);
	assert_memory_equal(w.payload, body + 1280, 1500 - 1280);
	/* the final answer comes by Block2, 64-byte blocks, 3 of them */
	for (uint32_t i = 0; i < 3; i++) {
		memset(part, 'a' + (int)i, sizeof(part));
		b.num = i;
		b.more = i < 2;
		b.szx = 2;
		feed(PA, &(struct rq){ .type = KDC_COAP_ACK,
		    .code = KDC_COAP_CHANGED, .mid = w.mid, .tok = w.token,
		    .tok_len = 8, .has_b2 = true, .b2 = b, .payload = part,
		    .len = i < 2 ? 64 : 10 });
		if (i < 2) {
			assert_int_equal(dcalls, 0);
			w = last();
			assert_true(opt_block(&w, KDC_OPT_BLOCK2, &b));
			assert_int_equal(b.num, i + 1);
			assert_int_equal(w.payload_len, 0);
		}
	}
	assert_int_equal(dcalls, 1);
	assert_int_equal(dstatus, KDC_OK);
	assert_int_equal(dbody_len, 138);
	assert_int_equal(dbody[0], 'a');
	assert_int_equal(dbody[64], 'b');
	assert_int_equal(dbody[137], 'c');
	assert_int_equal(PA->refs, 1);
	assert_null(PA->xp);
	/* a Block2 answer with a gap: refused, not joined */
	assert_int_equal(request(PA, KDC_COAP_GET, "0", NULL, 0), KDC_OK);
	w = last();
	b.num = 1;
	b.more = true;
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK, .code = KDC_COAP_CONTENT,
	    .mid = w.mid, .tok = w.token, .tok_len = 8, .has_b2 = true,
	    .b2 = b, .payload = part, .len = 64 });
	assert_int_equal(dcalls, 1);
	assert_int_equal(dstatus, KDC_ERR_MALFORMED);
}

/* What we send fits KDC_COAP_SEND_MAX (a libcoap 4.3.1 peer's limit): a
 * body that would make a longer message goes by Block1; a 4.13 naming a
 * smaller block size is followed once. */
static void
test_request_send_max(void **state)
{
	struct kdc_coap_block b;
	struct kdc_coap_wire w;

	(void)state;
	/* 4 header + 8 token + 2 Uri-Path "0" + 1 marker + 1100 = 1115 */
	assert_int_equal(request(PA, KDC_COAP_PUT, "0", big, 1100), KDC_OK);
	assert_int_equal(sent[nsent - 1].len, KDC_COAP_SEND_MAX);
	w = last();
	assert_false(opt_block(&w, KDC_OPT_BLOCK1, &b));
	feed(PA, &(struct rq){ .type = KDC_COAP_RST, .mid = w.mid });
	/* one byte more: Block1 */
	assert_int_equal(request(PA, KDC_COAP_PUT, "0", big, 1101), KDC_OK);
	w = last();
	assert_true(opt_block(&w, KDC_OPT_BLOCK1, &b));
	assert_int_equal(b.szx, 6);
	assert_true(b.more);
	/* 4.13 with Block1 szx 2: again from the start in 64-byte blocks */
	b = (struct kdc_coap_block){ 0, false, 2 };
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK,
	    .code = KDC_COAP_TOO_LARGE, .mid = w.mid, .tok = w.token,
	    .tok_len = 8, .has_b1 = true, .b1 = b });
	assert_int_equal(dcalls, 0);
	w = last();
	assert_true(opt_block(&w, KDC_OPT_BLOCK1, &b));
	assert_int_equal(b.num, 0);
	assert_int_equal(b.szx, 2);
	assert_int_equal(w.payload_len, 64);
	/* a second 4.13 is the answer */
	b = (struct kdc_coap_block){ 0, false, 1 };
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK,
	    .code = KDC_COAP_TOO_LARGE, .mid = w.mid, .tok = w.token,
	    .tok_len = 8, .has_b1 = true, .b1 = b });
	assert_int_equal(dcalls, 1);
	assert_int_equal(dstatus, KDC_OK);
	assert_int_equal(dcode, KDC_COAP_TOO_LARGE);
	/* a whole-body request refused 4.13 with a size: sent in blocks */
	assert_int_equal(request(PA, KDC_COAP_PUT, "0", big, 500), KDC_OK);
	w = last();
	assert_false(opt_block(&w, KDC_OPT_BLOCK1, &b));
	b = (struct kdc_coap_block){ 0, false, 4 };
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK,
	    .code = KDC_COAP_TOO_LARGE, .mid = w.mid, .tok = w.token,
	    .tok_len = 8, .has_b1 = true, .b1 = b });
	w = last();
	assert_true(opt_block(&w, KDC_OPT_BLOCK1, &b));
	assert_int_equal(b.szx, 4);
	assert_true(b.more);
	assert_int_equal(w.payload_len, 256);
	/* an answer that would be longer than SEND_MAX goes by Block2 */
	answer_len = 1110;
	feedv(PB, get("a/b", 1));
	w = last();
	assert_true(opt_block(&w, KDC_OPT_BLOCK2, &b));
	assert_int_equal(w.payload_len, 1024);
	PB->open = false;
	kdc_coap_xl_gone(eng.xl, PB);
	PA->open = false;
	kdc_coap_xl_gone(eng.xl, PA);
}

/* A Block2 answer to us over KDC_COAP_RESP_MAX is refused, whatever its
 * Size2 says. */
static void
test_request_b2_cap(void **state)
{
	struct kdc_coap_block b = { 0, true, 6 };
	struct kdc_coap_wire w;

	(void)state;
	assert_int_equal(request(PA, KDC_COAP_GET, "0", NULL, 0), KDC_OK);
	for (uint32_t i = 0; dcalls == 0 && i < 100; i++) {
		w = last();
		b.num = i;
		feed(PA, &(struct rq){ .type = KDC_COAP_ACK,
		    .code = KDC_COAP_CONTENT, .mid = w.mid, .tok = w.token,
		    .tok_len = 8, .has_b2 = true, .b2 = b, .payload = big,
		    .len = 1024 });
	}
	assert_int_equal(dcalls, 1);
	assert_int_equal(dstatus, KDC_ERR_TOO_LARGE);
	assert_null(PA->xp);
}

/* ---- Block1 into us ------------------------------------------------------------------- */

static struct rq
b1req(uint16_t mid, uint32_t num, bool more, uint8_t szx, const void *pl,
    size_t len)
{
	struct rq q = { .type = KDC_COAP_CON, .code = KDC_COAP_POST,
	    .mid = mid, .tok = TOK, .tok_len = 4, .path = "a/b",
	    .has_b1 = true, .b1 = { num, more, szx }, .payload = pl,
	    .len = len };
	return q;
}

static void
test_block1_joined(void **state)
{
	uint8_t body[150];
	struct kdc_coap_block b;
	struct kdc_coap_wire w;
	long live = kdc_alloc_live();

	(void)state;
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (uint8_t)i;
	for (uint32_t i = 0; i < 3; i++) {
		struct rq q = b1req((uint16_t)(0x4000 + i), i, i < 2, 2,
		    body + i * 64, i < 2 ? 64 : 22);
		feed(PA, &q);
		w = last();
		assert_true(opt_block(&w, KDC_OPT_BLOCK1, &b));
		assert_int_equal(b.num, i);
		if (i < 2) {
			assert_int_equal(w.code, KDC_COAP_CODE(2, 31));
			assert_true(b.more);
			assert_int_equal(calls, 0);
			assert_true(kdc_coap_xl_busy(eng.xl, PA));
			/* a retransmitted block: the same 2.31 */
			feed(PA, &q);
			assert_int_equal(last().code, KDC_COAP_CODE(2, 31));
		}
	}
	assert_int_equal(w.code, KDC_COAP_CONTENT);
	assert_int_equal(calls, 1);
	assert_int_equal(last_body_len, 150);
	assert_memory_equal(last_body, body, 150);
	assert_null(PA->xp);
	/* the dedup ring holds the 3 answers; nothing else is left */
	assert_int_equal(kdc_alloc_live() - live, 3);
	/* a block out of order: 4.08, the body dropped */
	feedv(PA, b1req(0x4100, 0, true, 2, body, 64));
	feedv(PA, b1req(0x4101, 2, true, 2, body, 64));
	assert_int_equal(last().code, KDC_COAP_CODE(4, 8));
	assert_null(PA->xp);
	/* a middle block with no start: 4.08 */
	feedv(PA, b1req(0x4102, 1, false, 2, body, 10));
	assert_int_equal(last().code, KDC_COAP_CODE(4, 8));
	/* a non-final block of the wrong size: 4.00 */
	feedv(PA, b1req(0x4103, 0, true, 2, body, 63));
	assert_int_equal(last().code, KDC_COAP_BAD_REQUEST);
	assert_int_equal(calls, 1);
	assert_null(PA->xp);
}

static void
test_block1_size1(void **state)
{
	static const uint8_t s4g[] = { 0xff, 0xff, 0xff, 0xff };
	static const uint8_t s5[] = { 0x01, 0x00, 0x00, 0x00, 0x00 };
	static const uint8_t s8k1[] = { 0x20, 0x01 };	/* 8193 */
	struct rq q = b1req(0x5000, 0, true, 6, big, 1024);
	struct kdc_coap_wire w;
	long live;

	(void)state;
	q.type = KDC_COAP_NON;	/* nothing kept for dedup either */
	q.size1 = s4g;
	q.size1_len = sizeof(s4g);
	live = kdc_alloc_live();
	feed(PA, &q);
	assert_int_equal(kdc_alloc_live(), live);	/* nothing allocated */
	w = last();
	assert_int_equal(w.code, KDC_COAP_TOO_LARGE);
	assert_int_equal(opt_uint(&w, KDC_OPT_SIZE1), KDC_COAP_BODY_MAX);
	assert_null(PA->xp);
	/* 4 GiB itself (5 bytes) and 8 KiB + 1 too */
	q.size1 = s5;
	q.size1_len = sizeof(s5);
	feed(PA, &q);
	assert_int_equal(last().code, KDC_COAP_TOO_LARGE);
	q.size1 = s8k1;
	q.size1_len = sizeof(s8k1);
	feed(PA, &q);
	assert_int_equal(last().code, KDC_COAP_TOO_LARGE);
	assert_int_equal(kdc_alloc_live(), live);
	assert_int_equal(calls, 0);
	/* CON: only the answer kept for a retransmission (one datagram) */
	q.type = KDC_COAP_CON;
	feed(PA, &q);
	assert_int_equal(last().code, KDC_COAP_TOO_LARGE);
	assert_int_equal(kdc_alloc_live(), live + 1);
}

static void
test_block1_cap(void **state)
{
	uint16_t mid = 0x6000;
	long live = kdc_alloc_live();

	(void)state;
	/* 8 blocks of 1024: 8 KiB exactly, still growing */
	for (uint32_t i = 0; i < 8; i++) {
		feedv(PA, b1req(mid++, i, true, 6, big, 1024));
		assert_int_equal(last().code, KDC_COAP_CODE(2, 31));
	}
	/* one byte more: 4.13 with Size1, the body freed */
	feedv(PA, b1req(mid++, 8, false, 6, big, 1));
	assert_int_equal(last().code, KDC_COAP_TOO_LARGE);
	{
		struct kdc_coap_wire w = last();
		assert_int_equal(opt_uint(&w, KDC_OPT_SIZE1),
		    KDC_COAP_BODY_MAX);
	}
	assert_int_equal(calls, 0);
	assert_null(PA->xp);
	/* only the 9 dedup entries remain */
	assert_int_equal(kdc_alloc_live() - live, 9);
	/* exactly 8 KiB is accepted */
	for (uint32_t i = 0; i < 8; i++)
		feedv(PA, b1req(mid++, i, i < 7, 6, big, 1024));
	assert_int_equal(calls, 1);
	assert_int_equal(last_body_len, 8192);
}

static void
test_block1_stalled(void **state)
{
	long live;

	(void)state;
	live = kdc_alloc_live();
	feedv(PA, b1req(0x7000, 0, true, 6, big, 1024));
	assert_true(kdc_coap_xl_busy(eng.xl, PA));
	assert_true(PA->timer != 0);
	assert_true(PA->timer <= now_ms + KDC_COAP_EXCHANGE_LIFETIME_MS);
	advance(KDC_COAP_EXCHANGE_LIFETIME_MS - 1000);
	assert_true(kdc_coap_xl_busy(eng.xl, PA));
	advance(1010);
	assert_false(kdc_coap_xl_busy(eng.xl, PA));	/* freed */
	assert_null(PA->xp);
	assert_int_equal(PA->timer, 0);
	assert_int_equal(kdc_alloc_live() - live, 1);	/* the dedup entry */
	feedv(PA, b1req(0x7001, 1, false, 6, big, 10));
	assert_int_equal(last().code, KDC_COAP_CODE(4, 8));
	assert_int_equal(calls, 0);
}

static void
test_block1_total(void **state)
{
	struct kdc_coap_wire w;

	(void)state;
	kdc_coap_xl_free(eng.xl);
	lim.bodies_max = 2;
	assert_int_equal(kdc_coap_xl_new(&eng, &lim, &eng.xl), KDC_OK);
	assert_int_equal(kdc_coap_route(&eng, NULL, KDC_COAP_POST, "a/b",
	    h_any, NULL), KDC_OK);
	feedv(PA, b1req(1, 0, true, 6, big, 1024));
	feedv(PB, b1req(1, 0, true, 6, big, 1024));
	assert_int_equal(last().code, KDC_COAP_CODE(2, 31));
	feedv(PC, b1req(1, 0, true, 6, big, 1024));
	w = last();
	assert_int_equal(w.code, KDC_COAP_UNAVAILABLE);
	assert_int_equal(opt_uint(&w, KDC_OPT_MAX_AGE),
	    KDC_COAP_BODIES_RETRY_S);
	assert_null(PC->xp);
	/* a peer's new block 0 replaces its own body, not counted twice */
	feedv(PA, b1req(2, 0, true, 6, big, 1024));
	assert_int_equal(last().code, KDC_COAP_CODE(2, 31));
	/* refused again and again: a warning in the log, rate-limited */
	{
		char path[] = "/tmp/test_coap_xl.XXXXXX";
		int fd = mkstemp(path), saved = dup(2);
		char logbuf[8192];
		ssize_t got;
		int lines = 0;

		assert_true(fd >= 0 && saved >= 0);
		assert_true(dup2(fd, 2) == 2);
		for (uint16_t i = 0; i < 100; i++)
			feedv(PC, b1req((uint16_t)(10 + i), 0, true, 6, big,
			    1024));
		fflush(stderr);
		assert_true(dup2(saved, 2) == 2);
		close(saved);
		got = pread(fd, logbuf, sizeof(logbuf) - 1, 0);
		close(fd);
		unlink(path);
		assert_true(got > 0);
		logbuf[got] = '\0';
		for (char *q = logbuf; (q = strstr(q, "Block1 bodies")) != NULL;
		    q++)
			lines++;
		assert_true(lines >= 1 && lines <= KDC_LOG_PEER_BURST);
		assert_non_null(strstr(logbuf, "warn"));
	}
	assert_int_equal(last().code, KDC_COAP_UNAVAILABLE);
	/* one ends: room again */
	PB->open = false;
	kdc_coap_xl_gone(eng.xl, PB);
	feedv(PC, b1req(2, 0, true, 6, big, 1024));
	assert_int_equal(last().code, KDC_COAP_CODE(2, 31));
}

/* A configured body_max under one block: the first block is refused,
 * and so is a whole body in one datagram over it. */
static void
test_block1_small_limit(void **state)
{
	struct kdc_coap_wire w;
	struct rq q;

	(void)state;
	kdc_coap_xl_free(eng.xl);
	lim.body_max = 512;
	assert_int_equal(kdc_coap_xl_new(&eng, &lim, &eng.xl), KDC_OK);
	assert_int_equal(kdc_coap_route(&eng, NULL, KDC_COAP_POST, "a/b",
	    h_any, NULL), KDC_OK);
	feedv(PA, b1req(1, 0, true, 6, big, 1024));
	w = last();
	assert_int_equal(w.code, KDC_COAP_TOO_LARGE);
	assert_int_equal(opt_uint(&w, KDC_OPT_SIZE1), 512);
	assert_null(PA->xp);
	feedv(PA, b1req(2, 0, false, 6, big, 600));
	assert_int_equal(last().code, KDC_COAP_TOO_LARGE);
	q = get("a/b", 3);
	q.code = KDC_COAP_POST;
	q.payload = big;
	q.len = 513;
	feed(PA, &q);
	assert_int_equal(last().code, KDC_COAP_TOO_LARGE);
	q.mid = 4;
	q.len = 512;
	feed(PA, &q);
	assert_int_equal(last().code, KDC_COAP_CONTENT);
	assert_int_equal(calls, 1);
	assert_int_equal(last_body_len, 512);
}

/* ---- Block2 from us ----------------------------------------------------------------- */

static void
test_block2_answer(void **state)
{
	struct rq q = get("a/b", 0x8000);
	struct kdc_coap_block b;
	struct kdc_coap_wire w;
	uint8_t joined[3000];
	size_t got = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13 + 1);
	answer_len = 3000;
	feed(PA, &q);
	w = last();
	assert_int_equal(w.code, KDC_COAP_CONTENT);
	assert_true(opt_block(&w, KDC_OPT_BLOCK2, &b));
	assert_int_equal(b.num, 0);
	assert_true(b.more);
	assert_int_equal(b.szx, 6);
	assert_int_equal(opt_uint(&w, KDC_OPT_SIZE2), 3000);
	memcpy(joined, w.payload, w.payload_len);
	got = w.payload_len;
	assert_int_equal(releases, 0);		/* kept for the follow-ups */
	assert_true(kdc_coap_xl_busy(eng.xl, PA));
	for (uint32_t i = 1; b.more; i++) {
		q.mid++;
		q.has_b2 = true;
		q.b2 = (struct kdc_coap_block){ i, false, 6 };
		feed(PA, &q);
		w = last();
		assert_true(opt_block(&w, KDC_OPT_BLOCK2, &b));
		assert_int_equal(b.num, i);
		memcpy(joined + got, w.payload, w.payload_len);
		got += w.payload_len;
	}
	assert_int_equal(got, 3000);
	assert_memory_equal(joined, big, 3000);
	assert_int_equal(calls, 1);		/* served from the kept answer */
	assert_int_equal(releases, 1);
	assert_null(PA->xp);
	/* the peer asks for 64-byte blocks from the start */
	q = get("a/b", 0x8100);
	q.has_b2 = true;
	q.b2 = (struct kdc_coap_block){ 0, false, 2 };
	feed(PA, &q);
	w = last();
	assert_true(opt_block(&w, KDC_OPT_BLOCK2, &b));
	assert_int_equal(b.szx, 2);
	assert_int_equal(w.payload_len, 64);
	/* a block past the end: 4.00 */
	q.mid++;
	q.b2 = (struct kdc_coap_block){ 1000, false, 2 };
	feed(PA, &q);
	assert_int_equal(last().code, KDC_COAP_BAD_REQUEST);
	assert_int_equal(releases, 1);
	/* a POST follow-up without a kept answer: 4.08, handler not run */
	q.mid++;
	q.code = KDC_COAP_POST;
	q.b2 = (struct kdc_coap_block){ 1, false, 2 };
	feed(PA, &q);
	assert_int_equal(last().code, KDC_COAP_CODE(4, 8));
	assert_int_equal(calls, 2);
	/* the kept answer of the GET: released when the peer goes */
	PA->open = false;
	kdc_coap_xl_gone(eng.xl, PA);
	assert_int_equal(releases, 2);
	assert_null(PA->xp);
}

static void
test_block2_expire_and_free(void **state)
{
	(void)state;
	answer_len = 5000;
	feedv(PA, get("a/b", 0x8200));
	assert_int_equal(releases, 0);
	advance(KDC_COAP_EXCHANGE_LIFETIME_MS + 20);
	assert_int_equal(releases, 1);
	assert_null(PA->xp);
	feedv(PA, get("a/b", 0x8201));
	assert_int_equal(releases, 1);
	/* a later answered by Block2, the engine freed meanwhile */
	do_defer = true;
	feedv(PB, get("a/b", 0x8202));
	{
		struct kdc_coap_resp rs;
		struct kdc_coap_block b;
		struct kdc_coap_wire w;
		memset(&rs, 0, sizeof(rs));
		rs.code = KDC_COAP_CONTENT;
		rs.payload = big;
		rs.payload_len = 4000;
		rs.release = count_release;
		kdc_coap_later_answer(later, &rs);
		w = last();
		assert_int_equal(w.type, KDC_COAP_CON);
		assert_true(opt_block(&w, KDC_OPT_BLOCK2, &b));
		assert_true(b.more);
	}
	assert_int_equal(releases, 1);
	kdc_coap_xl_free(eng.xl);
	eng.xl = NULL;
	assert_int_equal(releases, 3);		/* each exactly once */
	assert_int_equal(kdc_coap_xl_new(&eng, &lim, &eng.xl), KDC_OK);
}

/* An answer over KDC_COAP_RESP_MAX: 5.00, released once. */
static void
test_answer_too_large(void **state)
{
	(void)state;
	answer_len = KDC_COAP_RESP_MAX;
	feedv(PA, get("a/b", 0x8300));
	assert_int_equal(last().code, KDC_COAP_CONTENT);
	assert_int_equal(releases, 0);
	PA->open = false;
	kdc_coap_xl_gone(eng.xl, PA);
	assert_int_equal(releases, 1);
	PA->open = true;
	/* over KDC_COAP_RESP_MAX: 5.00, released once, never read */
	answer_len = KDC_COAP_RESP_MAX + 1;
	feedv(PA, get("a/b", 0x8302));
	assert_int_equal(last().code, KDC_COAP_INTERNAL);
	assert_int_equal(releases, 2);
	assert_null(PA->xp);
	releases = 1;
	/* owned and piggybacked whole: released at once */
	answer_len = 100;
	feedv(PA, get("a/b", 0x8301));
	assert_int_equal(releases, 2);
	assert_null(PA->xp);
}

/* ---- Observe (RFC 7641) ------------------------------------------------------------ */

static int tcalls;
static kdc_err tobs;
static uint8_t tcode = KDC_COAP_CONTENT;
static size_t tlen = 4;

static void
h_trl(void *arg, struct kdc_coap_peer *p, const struct kdc_coap_msg *req,
    struct kdc_coap_resp *resp)
{
	(void)arg;
	(void)req;
	tcalls++;
	tobs = kdc_coap_observe(p);
	resp->code = tcode;
	resp->payload = big;
	resp->payload_len = tlen;
}

static void
observe_setup(void)
{
	tcalls = 0;
	tcode = KDC_COAP_CONTENT;
	tlen = 4;
	memcpy(big, "v001", 4);
	assert_int_equal(kdc_coap_route(&eng, NULL, KDC_COAP_GET, "trl",
	    h_trl, NULL), KDC_OK);
}

/* A GET with an Observe option of value v (0 or 1). */
static void
feed_obs(struct kdc_coap_peer *p, uint16_t mid, const uint8_t *tok,
    uint32_t v)
{
	uint8_t buf[KDC_COAP_DGRAM_MAX];
	struct kdc_coap_wb w;
	size_t n;

	kdc_coap_wb_init(&w, buf, sizeof(buf), KDC_COAP_CON, KDC_COAP_GET,
	    mid, tok, 4);
	kdc_coap_wb_opt_uint(&w, KDC_OPT_OBSERVE, v);
	kdc_coap_wb_path(&w, KDC_OPT_URI_PATH, "trl");
	assert_int_equal(kdc_coap_wb_end(&w, &n), KDC_OK);
	kdc_coap_xl_input(eng.xl, p, buf, n);
}

static void
test_observe(void **state)
{
	static const uint8_t T2[4] = { 9, 9, 9, 9 };
	struct kdc_coap_wire w;
	long seq;
	size_t n;

	(void)state;
	observe_setup();
	/* a plain GET: no observation */
	feedv(PA, get("trl", 1));
	assert_int_equal(tobs, KDC_ERR_INVALID_ARG);
	w = last();
	assert_int_equal(opt_uint(&w, KDC_OPT_OBSERVE), -1);
	assert_null(PA->xp);
	assert_int_equal(kdc_coap_observe(PA), KDC_ERR_INVALID_ARG);
	/* registration: the answer carries a sequence number */
	feed_obs(PA, 2, TOK, 0);
	assert_int_equal(tobs, KDC_OK);
	w = last();
	assert_int_equal(w.code, KDC_COAP_CONTENT);
	assert_memory_equal(w.token, TOK, 4);
	seq = opt_uint(&w, KDC_OPT_OBSERVE);
	assert_true(seq >= 0);
	assert_true(kdc_coap_xl_busy(eng.xl, PA));
	/* a change: a CON notification, its token, a higher number */
	memcpy(big, "v002", 4);
	n = nsent;
	assert_int_equal(kdc_coap_notify(&eng, NULL, "trl"), 1);
	assert_int_equal(nsent, n + 1);
	w = last();
	assert_int_equal(w.type, KDC_COAP_CON);
	assert_int_equal(w.code, KDC_COAP_CONTENT);
	assert_memory_equal(w.token, TOK, 4);
	assert_true(opt_uint(&w, KDC_OPT_OBSERVE) > seq);
	seq = opt_uint(&w, KDC_OPT_OBSERVE);
	assert_memory_equal(w.payload, "v002", 4);
	assert_int_equal(tcalls, 3);	/* plain GET, registration, notification */
	assert_int_equal(kdc_coap_notify(&eng, NULL, "other"), 0);
	assert_int_equal(kdc_coap_notify(&eng, "lwm2m", "trl"), 0);
	/* acknowledged: not sent again */
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK, .mid = w.mid });
	advance(60000);
	assert_int_equal(nsent, n + 1);
	/* a second observer; an unacknowledged notification is replaced
	 * by the newer one, which goes at the retransmission */
	feed_obs(PB, 3, T2, 0);
	memcpy(big, "v003", 4);
	n = nsent;
	assert_int_equal(kdc_coap_notify(&eng, NULL, "trl"), 2);
	assert_int_equal(nsent, n + 2);
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK, .mid = sent[n].p == PA ?
	    out(n).mid : out(n + 1).mid });
	memcpy(big, "v004", 4);
	assert_int_equal(kdc_coap_notify(&eng, NULL, "trl"), 2);
	assert_int_equal(nsent, n + 3);		/* PB's waits */
	assert_ptr_equal(sent[n + 2].p, PA);
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK, .mid = out(n + 2).mid });
	advance(3100);
	assert_int_equal(nsent, n + 4);
	assert_ptr_equal(sent[n + 3].p, PB);
	w = last();
	assert_memory_equal(w.payload, "v004", 4);
	assert_true(opt_uint(&w, KDC_OPT_OBSERVE) > seq);
	/* RST to a notification ends PB's observation */
	feed(PB, &(struct rq){ .type = KDC_COAP_RST, .mid = w.mid });
	assert_null(PB->xp);
	/* Observe: 1 ends PA's (and is answered as a plain GET) */
	feed_obs(PA, 4, TOK, 1);
	w = last();
	assert_int_equal(w.code, KDC_COAP_CONTENT);
	assert_int_equal(opt_uint(&w, KDC_OPT_OBSERVE), -1);
	assert_null(PA->xp);
	assert_int_equal(kdc_coap_notify(&eng, NULL, "trl"), 0);
}

static void
test_observe_ends(void **state)
{
	struct kdc_coap_wire w;
	size_t n;

	(void)state;
	observe_setup();
	/* a non-2.xx registration answer makes none */
	tcode = KDC_COAP_FORBIDDEN;
	feed_obs(PA, 1, TOK, 0);
	w = last();
	assert_int_equal(w.code, KDC_COAP_FORBIDDEN);
	assert_int_equal(opt_uint(&w, KDC_OPT_OBSERVE), -1);
	assert_null(PA->xp);
	/* a non-2.xx notification is the last one */
	tcode = KDC_COAP_CONTENT;
	feed_obs(PA, 2, TOK, 0);
	tcode = KDC_COAP_NOT_FOUND;
	assert_int_equal(kdc_coap_notify(&eng, NULL, "trl"), 1);
	w = last();
	assert_int_equal(w.code, KDC_COAP_NOT_FOUND);
	assert_int_equal(opt_uint(&w, KDC_OPT_OBSERVE), -1);
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK, .mid = w.mid });
	assert_null(PA->xp);
	assert_int_equal(kdc_coap_notify(&eng, NULL, "trl"), 0);
	/* an observer that never acknowledges is dropped */
	tcode = KDC_COAP_CONTENT;
	feed_obs(PA, 3, TOK, 0);
	n = nsent;
	assert_int_equal(kdc_coap_notify(&eng, NULL, "trl"), 1);
	advance(200000);
	assert_int_equal(nsent, n + 1 + KDC_COAP_MAX_RETRANSMIT);
	assert_null(PA->xp);
	/* the session ends: so does the observation */
	feed_obs(PA, 4, TOK, 0);
	assert_non_null(PA->xp);
	PA->open = false;
	kdc_coap_xl_gone(eng.xl, PA);
	assert_null(PA->xp);
	PA->open = true;
	/* a large notification goes by Block2, the rest from the kept one */
	feed_obs(PB, 5, TOK, 0);
	tlen = 2000;
	assert_int_equal(kdc_coap_notify(&eng, NULL, "trl"), 1);
	w = last();
	{
		struct kdc_coap_block b;
		assert_true(opt_block(&w, KDC_OPT_BLOCK2, &b));
		assert_true(b.more);
		assert_true(opt_uint(&w, KDC_OPT_OBSERVE) >= 0);
		feed(PB, &(struct rq){ .type = KDC_COAP_ACK, .mid = w.mid });
		n = (size_t)tcalls;
		feedv(PB, (struct rq){ .type = KDC_COAP_CON,
		    .code = KDC_COAP_GET, .mid = 6, .tok = TOK, .tok_len = 4,
		    .path = "trl", .has_b2 = true,
		    .b2 = { 1, false, 6 } });
		w = last();
		assert_true(opt_block(&w, KDC_OPT_BLOCK2, &b));
		assert_int_equal(b.num, 1);
		assert_false(b.more);
		assert_int_equal(w.payload_len, 2000 - 1024);
		assert_int_equal((size_t)tcalls, n);	/* not run again */
	}
	/* the observation stays until the session ends */
	assert_non_null(PB->xp);
}

/* ---- limits and allocation failures ---------------------------------------------------- */

static void
test_set_limits(void **state)
{
	struct kdc_coap_xl_limits l = { .body_max = 100, .dedup_max = 2 };
	struct rq q = get("a/b", 1);

	(void)state;
	feed(PA, &q);
	kdc_coap_xl_set_limits(eng.xl, &l);
	feed(PA, &q);		/* a new ring: the old answers are gone */
	assert_int_equal(calls, 2);
	feed(PA, &q);
	assert_int_equal(calls, 2);
	q = get("a/b", 2);
	q.code = KDC_COAP_POST;
	q.payload = big;
	q.len = 101;
	feed(PA, &q);
	assert_int_equal(last().code, KDC_COAP_TOO_LARGE);
	kdc_coap_xl_set_limits(eng.xl, NULL);	/* the defaults again */
	q.mid = 3;
	feed(PA, &q);
	assert_int_equal(last().code, KDC_COAP_CONTENT);
}

/*
 * Every allocation of a busy scenario fails in turn (base/alloc.h's
 * fault hook): nothing crashes, every owned payload is released once,
 * every done called once, every reference and allocation given back.
 */
static void
test_alloc_failures(void **state)
{
	int owned_given;
	long live;
	bool faulted = true;

	(void)state;
	kdc_coap_xl_free(eng.xl);
	eng.xl = NULL;
	for (long n = 1; faulted && n < 400; n++) {
		struct kdc_coap_resp rs;
		kdc_err r;
		int oks = 0;

		live = kdc_alloc_live();
		releases = 0;
		owned_given = 0;
		handed = 0;
		dcalls = 0;
		later = NULL;
		nsent = 0;
		peer_init(PA, "kdc");
		peer_init(PB, "kdc");
		kdc_alloc_fail_after(n);
		if (kdc_coap_xl_new(&eng, &lim, &eng.xl) != KDC_OK) {
			kdc_alloc_fail_after(0);
			continue;
		}
		assert_int_equal(kdc_coap_route(&eng, NULL, KDC_COAP_GET,
		    "a/b", h_any, NULL), KDC_OK);
		assert_int_equal(kdc_coap_route(&eng, NULL, KDC_COAP_POST,
		    "a/b", h_any, NULL), KDC_OK);
		observe_setup();
		/* a Block2 answer and its follow-up */
		do_defer = false;
		answer_len = 3000;
		feedv(PA, get("a/b", 1));
		feedv(PA, (struct rq){ .type = KDC_COAP_CON,
		    .code = KDC_COAP_GET, .mid = 2, .tok = TOK, .tok_len = 4,
		    .path = "a/b", .has_b2 = true, .b2 = { 1, false, 6 } });
		/* a later, answered */
		do_defer = true;
		feedv(PB, get("a/b", 3));
		do_defer = false;
		if (later != NULL) {
			memset(&rs, 0, sizeof(rs));
			rs.code = KDC_COAP_CHANGED;
			rs.payload = big;
			rs.payload_len = 2000;
			rs.release = count_release;
			owned_given++;
			kdc_coap_later_answer(later, &rs);
		}
		/* a Block1 body */
		feedv(PB, b1req(4, 0, true, 6, big, 1024));
		feedv(PB, b1req(5, 1, false, 6, big, 10));
		/* our request, 1500 bytes, answered 2.31 then 2.04 */
		r = request(PA, KDC_COAP_PUT, "0", big, 1500);
		if (r == KDC_OK) {
			struct kdc_coap_wire w = last();
			oks = 1;
			feed(PA, &(struct rq){ .type = KDC_COAP_ACK,
			    .code = KDC_COAP_CODE(2, 31), .mid = w.mid,
			    .tok = w.token, .tok_len = 8 });
			w = last();
			feed(PA, &(struct rq){ .type = KDC_COAP_ACK,
			    .code = KDC_COAP_CHANGED, .mid = w.mid,
			    .tok = w.token, .tok_len = 8 });
		} else
			assert_int_equal(r, KDC_ERR_NOMEM);
		/* an observation and a notification */
		feed_obs(PB, 6, TOK, 0);
		(void)kdc_coap_notify(&eng, NULL, "trl");
		advance(5000);
		faulted = kdc_alloc_faulted();
		kdc_alloc_fail_after(0);
		PA->open = false;
		PB->open = false;
		kdc_coap_xl_gone(eng.xl, PA);
		kdc_coap_xl_gone(eng.xl, PB);
		kdc_coap_xl_free(eng.xl);
		eng.xl = NULL;
		assert_int_equal(dcalls, oks);
		if (releases != owned_given + handed)
			fail_msg("n=%ld: %d released, %d given", n, releases,
			    owned_given + handed);
		assert_int_equal(PA->refs, 1);
		assert_int_equal(PB->refs, 1);
		assert_null(PA->xp);
		assert_null(PB->xp);
		assert_int_equal(kdc_alloc_live(), live);
	}
	assert_false(faulted);	/* every allocation was failed once */
	assert_int_equal(kdc_coap_xl_new(&eng, &lim, &eng.xl), KDC_OK);
	peer_init(PA, "kdc");
	peer_init(PB, "kdc");
}

/* ---- malformed input ---------------------------------------------------------------- */

static void
test_malformed(void **state)
{
	uint8_t buf[KDC_COAP_DGRAM_MAX];
	struct rq q = get("a/b", 0x9000);
	size_t n;

	(void)state;
	q.payload = "xyz";
	q.len = 3;
	q.has_b2 = true;
	q.b2 = (struct kdc_coap_block){ 0, false, 6 };
	n = mk(buf, &q);
	/* every truncation */
	for (size_t i = 0; i < n; i++) {
		uint8_t cut[KDC_COAP_DGRAM_MAX];
		memcpy(cut, buf, i);
		kdc_coap_xl_input(eng.xl, PA, cut, i);
	}
	/* a CON with a readable header and a bad option: RST */
	nsent = 0;
	buf[4 + 4] = 0xff;	/* a payload marker right after the token */
	buf[4 + 4 + 1] = 0xff;
	kdc_coap_xl_input(eng.xl, PA, buf, 4 + 4 + 1);
	assert_int_equal(nsent, 1);
	assert_int_equal(last().type, KDC_COAP_RST);
	assert_int_equal(last().mid, 0x9000);
	/* the same as NON: dropped */
	buf[0] = (uint8_t)((buf[0] & ~0x30) | (KDC_COAP_NON << 4));
	kdc_coap_xl_input(eng.xl, PA, buf, 4 + 4 + 1);
	assert_int_equal(nsent, 1);
	/* a CoAP ping: RST */
	feed(PA, &(struct rq){ .type = KDC_COAP_CON, .code = 0,
	    .mid = 0x9001 });
	assert_int_equal(last().type, KDC_COAP_RST);
	assert_int_equal(last().mid, 0x9001);
	/* an over-long path: 4.00 */
	{
		char path[200];
		memset(path, 'p', sizeof(path) - 1);
		path[sizeof(path) - 1] = '\0';
		feed(PA, &(struct rq){ .type = KDC_COAP_CON,
		    .code = KDC_COAP_GET, .mid = 0x9002, .path = path });
		assert_int_equal(last().code, KDC_COAP_BAD_REQUEST);
	}
	assert_null(PA->xp);
	assert_int_equal(PA->refs, 1);
}

static void
done_count(void *arg, struct kdc_coap_peer *p, kdc_err st,
    const struct kdc_coap_msg *m)
{
	(void)arg;
	(void)p;
	(void)m;
	dcalls++;
	dstatus = st;
}

/* The i-th option of w with number num (any), or NULL. */
static const struct kdc_coap_opt *
opt_n(const struct kdc_coap_wire *w, uint16_t num, size_t nth)
{
	size_t it = 0;
	const struct kdc_coap_opt *o = NULL;

	for (size_t k = 0; k <= nth; k++)
		if ((o = kdc_coap_wire_opt(w, num, &it)) == NULL)
			return NULL;
	return o;
}

/* An OCF request (kdc_coap_request2()): query, CF 10000 and the version
 * options given out of order go out ascending in every message of the
 * request (the first, a retransmission, a Block2 follow-up); an answer
 * carrying 2053 is accepted and its value reported. */
static void
test_request2_ocf(void **state)
{
	static const uint8_t v[2] = { 0x08, 0x00 };
	const struct kdc_coap_reqopt opts[2] = {
		{ KDC_COAP_OPT_OCF_VERSION, v, 2 },
		{ KDC_COAP_OPT_OCF_ACCEPT_VERSION, v, 2 },
	};
	struct kdc_coap_req rq = { .method = KDC_COAP_POST,
	    .path = "oic/sec/doxm", .query = "rt=oic.r.doxm&if=baseline",
	    .content_format = KDC_CF_OCF_CBOR, .accept = KDC_CF_OCF_CBOR,
	    .payload = (const uint8_t *)"\xbf\x66oxmsel\x01\xff", .len = 10,
	    .opts = opts, .nopts = 2 };
	struct kdc_coap_wire w;
	const struct kdc_coap_opt *o;
	struct kdc_coap_block b;
	uint16_t prev = 0;

	(void)state;
	dcalls = 0;
	assert_int_equal(kdc_coap_request2(PA, &rq, done, NULL), KDC_OK);
	for (int round = 0; round < 3; round++) {
		w = last();
		for (size_t i = 0; i < w.nopt; i++) {
			assert_true(w.opt[i].num >= prev);
			prev = w.opt[i].num;
		}
		prev = 0;
		assert_non_null(o = opt_n(&w, KDC_OPT_URI_QUERY, 0));
		assert_int_equal(o->len, 13);
		assert_memory_equal(o->val, "rt=oic.r.doxm", 13);
		assert_non_null(o = opt_n(&w, KDC_OPT_URI_QUERY, 1));
		assert_memory_equal(o->val, "if=baseline", 11);
		assert_null(opt_n(&w, KDC_OPT_URI_QUERY, 2));
		assert_int_equal(opt_uint(&w, KDC_OPT_ACCEPT), 10000);
		assert_int_equal(opt_uint(&w, KDC_OPT_OCF_ACCEPT_VERSION),
		    0x0800);
		assert_int_equal(opt_uint(&w, KDC_OPT_OCF_CONTENT_VERSION),
		    0x0800);
		if (round == 0) {
			assert_int_equal(opt_uint(&w,
			    KDC_OPT_CONTENT_FORMAT), 10000);
			assert_int_equal(w.payload_len, 10);
			advance(3100);		/* a retransmission */
			assert_int_equal(last().mid, w.mid);
		} else if (round == 1) {
			/* the first block of a Block2 answer */
			feed(PA, &(struct rq){ .type = KDC_COAP_ACK,
			    .code = KDC_COAP_CHANGED, .mid = w.mid,
			    .tok = w.token, .tok_len = 8, .has_b2 = true,
			    .b2 = { 0, true, 0 }, .payload = big, .len = 16 });
			assert_int_equal(dcalls, 0);
			w = last();
			assert_true(opt_block(&w, KDC_OPT_BLOCK2, &b));
			assert_int_equal(b.num, 1);
		}
	}
	/* the last block, with OCF-Content-Format-Version */
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK, .code = KDC_COAP_CHANGED,
	    .mid = w.mid, .tok = w.token, .tok_len = 8, .has_b2 = true,
	    .b2 = { 1, false, 0 }, .extra = KDC_OPT_OCF_CONTENT_VERSION,
	    .payload = big, .len = 3 });
	assert_int_equal(dcalls, 1);
	assert_int_equal(dstatus, KDC_OK);
	assert_int_equal(dcode, KDC_COAP_CHANGED);
	assert_int_equal(dbody_len, 19);
	assert_int_equal(docf, 'x');		/* mk()'s value: "x" */
	assert_int_equal(PA->refs, 1);
}

/* RFC 7252 §5.4.1 on our requests' answers: an unknown critical option
 * rejects the answer (done KDC_ERR_UNSUPPORTED), a CON one with RST;
 * OCF's 2049 is known; an elective one is ignored. */
static void
test_request_answer_critical(void **state)
{
	struct kdc_coap_wire w;

	(void)state;
	/* piggybacked, 2051: critical (odd), unknown */
	assert_int_equal(request(PA, KDC_COAP_GET, "oic/sec/doxm", NULL, 0),
	    KDC_OK);
	w = last();
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK, .code = KDC_COAP_CONTENT,
	    .mid = w.mid, .tok = w.token, .tok_len = 8, .extra = 2051 });
	assert_int_equal(dcalls, 1);
	assert_int_equal(dstatus, KDC_ERR_UNSUPPORTED);
	/* separate CON, 9: RST, not ACK */
	assert_int_equal(request(PA, KDC_COAP_GET, "oic/sec/doxm", NULL, 0),
	    KDC_OK);
	w = last();
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK, .code = 0, .mid = w.mid });
	feed(PA, &(struct rq){ .type = KDC_COAP_CON, .code = KDC_COAP_CONTENT,
	    .mid = 0x5151, .tok = w.token, .tok_len = 8, .extra = 9 });
	assert_int_equal(dcalls, 1);
	assert_int_equal(dstatus, KDC_ERR_UNSUPPORTED);
	assert_int_equal(last().type, KDC_COAP_RST);
	assert_int_equal(last().mid, 0x5151);
	/* 2049 known, 2050 elective: accepted */
	assert_int_equal(request(PA, KDC_COAP_GET, "oic/sec/doxm", NULL, 0),
	    KDC_OK);
	w = last();
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK, .code = KDC_COAP_CONTENT,
	    .mid = w.mid, .tok = w.token, .tok_len = 8,
	    .extra = KDC_OPT_OCF_ACCEPT_VERSION });
	assert_int_equal(dstatus, KDC_OK);
	assert_int_equal(docf, 0);
	assert_int_equal(request(PA, KDC_COAP_GET, "oic/sec/doxm", NULL, 0),
	    KDC_OK);
	w = last();
	feed(PA, &(struct rq){ .type = KDC_COAP_ACK, .code = KDC_COAP_CONTENT,
	    .mid = w.mid, .tok = w.token, .tok_len = 8, .extra = 2050 });
	assert_int_equal(dstatus, KDC_OK);
	assert_int_equal(PA->refs, 1);
}

/* kdc_coap_request2()'s refusals, at once: nothing sent, nothing held. */
static void
test_request2_refused(void **state)
{
	static const uint8_t v[17];
	struct kdc_coap_reqopt o5[5] = {
		{ 2049, v, 2 }, { 2053, v, 2 }, { 3, v, 1 }, { 7, v, 1 },
		{ 258, v, 1 } };
	struct kdc_coap_req rq = { .method = KDC_COAP_GET,
	    .path = "oic/res", .content_format = KDC_CF_NONE,
	    .accept = KDC_CF_NONE };
	static const uint16_t ours[] = { 0, KDC_OPT_OBSERVE,
	    KDC_OPT_LOCATION_PATH, KDC_OPT_URI_PATH, KDC_OPT_CONTENT_FORMAT,
	    KDC_OPT_MAX_AGE, KDC_OPT_URI_QUERY, KDC_OPT_ACCEPT,
	    KDC_OPT_LOCATION_QUERY, KDC_OPT_BLOCK2, KDC_OPT_BLOCK1,
	    KDC_OPT_SIZE2, KDC_OPT_SIZE1 };
	struct kdc_coap_reqopt one = { 2049, v, 2 };
	struct kdc_coap_wire w;

	(void)state;
	dcalls = 0;
	assert_int_equal(kdc_coap_request2(PA, NULL, done, NULL),
	    KDC_ERR_INVALID_ARG);
	rq.opts = o5;
	rq.nopts = 5;			/* over KDC_COAP_REQ_OPTS_MAX */
	assert_int_equal(kdc_coap_request2(PA, &rq, done, NULL),
	    KDC_ERR_INVALID_ARG);
	rq.nopts = 4;			/* at it: fine */
	assert_int_equal(kdc_coap_request2(PA, &rq, done_count, NULL), KDC_OK);
	w = last();
	assert_int_equal(opt_uint(&w, 7), 0);
	assert_int_equal(opt_uint(&w, 2053), 0);
	assert_int_equal(opt_uint(&w, 3), 0);
	rq.opts = &one;
	rq.nopts = 1;
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
		one.num = ours[i];
		assert_int_equal(kdc_coap_request2(PA, &rq, done, NULL),
		    KDC_ERR_INVALID_ARG);
	}
	one.num = 2049;
	one.len = KDC_COAP_REQ_OPT_LEN + 1;
	assert_int_equal(kdc_coap_request2(PA, &rq, done, NULL),
	    KDC_ERR_INVALID_ARG);
	one.len = 2;
	one.val = NULL;
	assert_int_equal(kdc_coap_request2(PA, &rq, done, NULL),
	    KDC_ERR_INVALID_ARG);
	rq.nopts = 0;
	rq.query = "a=1&&b=2";
	assert_int_equal(kdc_coap_request2(PA, &rq, done, NULL),
	    KDC_ERR_INVALID_ARG);
	rq.query = "a&b&c&d&e&f&g&h&i";	/* 9 > KDC_COAP_QUERY_MAX */
	assert_int_equal(kdc_coap_request2(PA, &rq, done, NULL),
	    KDC_ERR_INVALID_ARG);
	rq.query = "a&b&c&d&e&f&g&h";
	assert_int_equal(kdc_coap_request2(PA, &rq, done_count, NULL), KDC_OK);
	w = last();
	assert_non_null(opt_n(&w, KDC_OPT_URI_QUERY, 7));
	assert_int_equal(PA->refs, 3);		/* the two accepted ones */
	assert_int_equal(dcalls, 0);
	PA->open = false;
	kdc_coap_xl_gone(eng.xl, PA);
	assert_int_equal(dcalls, 2);		/* both CLOSED */
	assert_int_equal(dstatus, KDC_ERR_CLOSED);
	assert_int_equal(PA->refs, 1);
}

/* A random walk of byte flips over a few valid messages. */
static void
test_mutations(void **state)
{
	uint8_t buf[KDC_COAP_DGRAM_MAX], m[KDC_COAP_DGRAM_MAX];
	struct rq qs[3] = {
		b1req(1, 0, true, 2, big, 64),
		get("a/b", 2),
		{ .type = KDC_COAP_ACK, .code = KDC_COAP_CONTENT, .mid = 3,
		  .tok = TOK, .tok_len = 4 },
	};
	uint32_t seed = 12345;

	(void)state;
	qs[1].has_b2 = true;
	qs[1].b2 = (struct kdc_coap_block){ 1, false, 6 };
	for (int round = 0; round < 20000; round++) {
		size_t n = mk(buf, &qs[round % 3]);
		memcpy(m, buf, n);
		for (int k = 0; k < 3; k++) {
			seed = seed * 1103515245u + 12345u;
			m[(seed >> 8) % n] ^= (uint8_t)(seed >> 20);
		}
		nsent = 0;
		kdc_coap_xl_input(eng.xl, PA, m, (seed >> 4) % (n + 1));
	}
	PA->open = false;
	kdc_coap_xl_gone(eng.xl, PA);
	assert_null(PA->xp);
	assert_int_equal(PA->refs, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_route),
		T(test_unknown_critical),
		T(test_dedup),
		T(test_dedup_ring),
		T(test_later),
		T(test_later_rst_and_exhausted),
		T(test_later_cancel),
		T(test_later_gone),
		T(test_later_engine_freed),
		T(test_request_piggybacked),
		T(test_request_separate),
		T(test_request_rst),
		T(test_request_timeout),
		T(test_request_closed),
		T(test_request_in_handler),
		T(test_request_blocks),
		T(test_request_b2_cap),
		T(test_request_send_max),
		T(test_request2_ocf),
		T(test_request_answer_critical),
		T(test_request2_refused),
		T(test_block1_joined),
		T(test_block1_size1),
		T(test_block1_cap),
		T(test_block1_stalled),
		T(test_block1_total),
		T(test_block1_small_limit),
		T(test_block2_answer),
		T(test_block2_expire_and_free),
		T(test_answer_too_large),
		T(test_observe),
		T(test_observe_ends),
		T(test_set_limits),
		T(test_alloc_failures),
		T(test_malformed),
		T(test_mutations),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
