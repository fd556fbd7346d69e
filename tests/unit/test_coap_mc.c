/*
 * test_coap_mc.c: the pure parts of the engine's plain-CoAP multicast
 * requests (eng_int.h, src/coap/mc.c): the request's bytes (parsed back
 * by wire.h), what is "on the link" of an interface for an answer's
 * source, what makes a datagram an answer (token, type, code, critical
 * options); and the refusals at once of kdc_coap_multicast() and
 * kdc_coap_connect2() (coap.h), with an engine. The traffic itself:
 * tests/integration/test_engine_multicast.sh, test_engine_client.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coap/coap.h"
#include "coap/eng_int.h"
#include "coap/wire.h"
#include "coap/xl.h"
#include "testkdc.h"

static const uint8_t tok[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

static void
test_build(void **state)
{
	uint8_t buf[256];
	struct kdc_coap_wire w;
	size_t n, it = 0;
	const struct kdc_coap_opt *o;
	char q[10][4];

	(void)state;
	assert_int_equal(kdc_coap_mc_build(buf, sizeof(buf), KDC_COAP_GET,
	    "oic/res", "rt=oic.r.doxm", tok, 0x1234, &n), KDC_OK);
	assert_int_equal(kdc_coap_wire_parse(buf, n, &w), KDC_OK);
	assert_int_equal(w.type, KDC_COAP_NON);
	assert_int_equal(w.code, KDC_COAP_GET);
	assert_int_equal(w.mid, 0x1234);
	assert_int_equal(w.token_len, 8);
	assert_memory_equal(w.token, tok, 8);
	assert_null(w.payload);
	assert_int_equal(w.nopt, 3);
	o = kdc_coap_wire_opt(&w, KDC_OPT_URI_PATH, &it);
	assert_non_null(o);
	assert_int_equal(o->len, 3);
	assert_memory_equal(o->val, "oic", 3);
	o = kdc_coap_wire_opt(&w, KDC_OPT_URI_PATH, &it);
	assert_non_null(o);
	assert_memory_equal(o->val, "res", 3);
	it = 0;
	o = kdc_coap_wire_opt(&w, KDC_OPT_URI_QUERY, &it);
	assert_non_null(o);
	assert_int_equal(o->len, 13);
	assert_memory_equal(o->val, "rt=oic.r.doxm", 13);

	/* two query items, no path */
	assert_int_equal(kdc_coap_mc_build(buf, sizeof(buf), KDC_COAP_GET,
	    "", "a=1&b", tok, 1, &n), KDC_OK);
	assert_int_equal(kdc_coap_wire_parse(buf, n, &w), KDC_OK);
	assert_int_equal(w.nopt, 2);
	assert_int_equal(w.opt[0].num, KDC_OPT_URI_QUERY);
	assert_int_equal(w.opt[1].len, 1);
	/* NULL and "" query: none */
	assert_int_equal(kdc_coap_mc_build(buf, sizeof(buf), KDC_COAP_GET,
	    "x", NULL, tok, 1, &n), KDC_OK);
	assert_int_equal(kdc_coap_wire_parse(buf, n, &w), KDC_OK);
	assert_int_equal(w.nopt, 1);

	/* refusals */
	assert_int_equal(kdc_coap_mc_build(buf, sizeof(buf), KDC_COAP_CONTENT,
	    "x", NULL, tok, 1, &n), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_coap_mc_build(buf, sizeof(buf), 0, "x", NULL,
	    tok, 1, &n), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_coap_mc_build(buf, sizeof(buf), KDC_COAP_GET,
	    "x", "a&&b", tok, 1, &n), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_coap_mc_build(buf, sizeof(buf), KDC_COAP_GET,
	    "x", "a&", tok, 1, &n), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_coap_mc_build(buf, sizeof(buf), KDC_COAP_GET,
	    "a//b", NULL, tok, 1, &n), KDC_ERR_INVALID_ARG);
	assert_int_equal(n, 0);
	memset(q, 0, sizeof(q));
	assert_int_equal(kdc_coap_mc_build(buf, sizeof(buf), KDC_COAP_GET,
	    "x", "1&2&3&4&5&6&7&8&9", tok, 1, &n), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_coap_mc_build(buf, sizeof(buf), KDC_COAP_GET,
	    "x", "1&2&3&4&5&6&7&8", tok, 1, &n), KDC_OK);
	assert_int_equal(kdc_coap_mc_build(buf, 12, KDC_COAP_GET,
	    "oic/res", NULL, tok, 1, &n), KDC_ERR_TOO_LARGE);
}

static struct sockaddr_in
v4(const char *a)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_port = htons(5683);
	assert_int_equal(inet_pton(AF_INET, a, &s.sin_addr), 1);
	return s;
}

static struct sockaddr_in6
v6(const char *a, unsigned scope)
{
	struct sockaddr_in6 s;

	memset(&s, 0, sizeof(s));
	s.sin6_family = AF_INET6;
	s.sin6_port = htons(5683);
	s.sin6_scope_id = scope;
	assert_int_equal(inet_pton(AF_INET6, a, &s.sin6_addr), 1);
	return s;
}

#define ON(l, sa, arr)	kdc_coap_mc_onlink((l), (const struct sockaddr *) \
			    (const void *)&(sa), (arr))

static void
test_onlink(void **state)
{
	struct kdc_coap_mc_link l4, l6;
	struct sockaddr_in a;
	struct sockaddr_in6 b;

	(void)state;
	memset(&l4, 0, sizeof(l4));
	l4.family = AF_INET;
	l4.ifindex = 3;
	l4.n = 1;
	inet_pton(AF_INET, "10.77.0.1", l4.pfx[0].addr);
	l4.pfx[0].plen = 24;
	a = v4("10.77.0.2");
	assert_true(ON(&l4, a, 3));
	assert_false(ON(&l4, a, 4));	/* came in on another interface */
	assert_false(ON(&l4, a, 0));	/* arrival unknown */
	a = v4("10.77.1.2");
	assert_false(ON(&l4, a, 3));	/* another prefix */
	a = v4("10.99.0.2");
	assert_false(ON(&l4, a, 3));
	a = v4("10.77.0.255");
	assert_false(ON(&l4, a, 3));	/* the prefix's broadcast */
	a = v4("224.0.1.187");
	assert_false(ON(&l4, a, 3));
	a = v4("255.255.255.255");
	assert_false(ON(&l4, a, 3));
	a = v4("0.0.0.0");
	assert_false(ON(&l4, a, 3));
	a = v4("127.0.0.1");
	assert_false(ON(&l4, a, 3));
	b = v6("fe80::2", 3);
	assert_false(ON(&l4, b, 3));	/* another family */

	memset(&l6, 0, sizeof(l6));
	l6.family = AF_INET6;
	l6.ifindex = 3;
	l6.n = 2;
	inet_pton(AF_INET6, "fe80::a", l6.pfx[0].addr);
	l6.pfx[0].plen = 64;
	inet_pton(AF_INET6, "fd00:77::a", l6.pfx[1].addr);
	l6.pfx[1].plen = 64;
	b = v6("fe80::2", 3);
	assert_true(ON(&l6, b, 3));
	assert_false(ON(&l6, b, 5));
	b = v6("fe80::2", 5);		/* scope of another link */
	assert_false(ON(&l6, b, 3));
	b = v6("fd00:77::b", 0);
	assert_true(ON(&l6, b, 3));
	b = v6("fd00:78::b", 0);
	assert_false(ON(&l6, b, 3));
	b = v6("fd99::9", 0);
	assert_false(ON(&l6, b, 3));
	b = v6("ff02::1", 3);
	assert_false(ON(&l6, b, 3));
	b = v6("::1", 0);
	assert_false(ON(&l6, b, 3));
	b = v6("::", 0);
	assert_false(ON(&l6, b, 3));
	b = v6("::ffff:10.77.0.2", 0);
	assert_false(ON(&l6, b, 3));
	/* an odd prefix length */
	l6.pfx[1].plen = 31;
	b = v6("fd00:78::1", 0);
	assert_false(ON(&l6, b, 3));
	b = v6("fd00:76::1", 0);
	assert_true(ON(&l6, b, 3));	/* fd00:0076 and fd00:0077 share 31 bits */
	l4.pfx[0].plen = 32;		/* a /32: only the address itself */
	a = v4("10.77.0.1");
	assert_true(ON(&l4, a, 3));
	a = v4("10.77.0.2");
	assert_false(ON(&l4, a, 3));
}

/* A message from the writer into buf; its length. */
static size_t
msg(uint8_t *buf, size_t cap, uint8_t type, uint8_t code,
    const uint8_t *t, size_t tl, uint16_t optnum, const char *payload)
{
	struct kdc_coap_wb w;
	size_t n;
	uint8_t v[2] = { 0x08, 0x00 };

	kdc_coap_wb_init(&w, buf, cap, type, code, 7, t, tl);
	kdc_coap_wb_opt_uint(&w, KDC_OPT_CONTENT_FORMAT, 10000);
	if (optnum != 0)
		kdc_coap_wb_opt(&w, optnum, v, sizeof(v));
	if (payload != NULL)
		kdc_coap_wb_payload(&w, payload, strlen(payload));
	assert_int_equal(kdc_coap_wb_end(&w, &n), KDC_OK);
	return n;
}

static void
test_answer(void **state)
{
	uint8_t buf[256], other[8];
	struct kdc_coap_wire w;
	struct kdc_coap_msg m;
	size_t n;

	(void)state;
	n = msg(buf, sizeof(buf), KDC_COAP_NON, KDC_COAP_CONTENT, tok, 8, 0,
	    "links");
	assert_int_equal(kdc_coap_mc_answer(buf, n, tok, &w, &m), KDC_OK);
	assert_int_equal(m.code, KDC_COAP_CONTENT);
	assert_int_equal(m.content_format, 10000);
	assert_int_equal(m.payload_len, 5);
	assert_memory_equal(m.payload, "links", 5);
	/* CON answers are answers (acknowledged by the engine); errors too */
	n = msg(buf, sizeof(buf), KDC_COAP_CON, KDC_COAP_NOT_FOUND, tok, 8, 0,
	    NULL);
	assert_int_equal(kdc_coap_mc_answer(buf, n, tok, &w, &m), KDC_OK);
	assert_int_equal(m.code, KDC_COAP_NOT_FOUND);
	/* OCF's critical 2049 and 2053 are known */
	n = msg(buf, sizeof(buf), KDC_COAP_NON, KDC_COAP_CONTENT, tok, 8,
	    KDC_OPT_OCF_CONTENT_VERSION, "x");
	assert_int_equal(kdc_coap_mc_answer(buf, n, tok, &w, &m), KDC_OK);
	n = msg(buf, sizeof(buf), KDC_COAP_NON, KDC_COAP_CONTENT, tok, 8,
	    KDC_OPT_OCF_ACCEPT_VERSION, "x");
	assert_int_equal(kdc_coap_mc_answer(buf, n, tok, &w, &m), KDC_OK);
	/* any other unknown critical option is not */
	n = msg(buf, sizeof(buf), KDC_COAP_NON, KDC_COAP_CONTENT, tok, 8,
	    2051, "x");
	assert_int_equal(kdc_coap_mc_answer(buf, n, tok, &w, &m),
	    KDC_ERR_UNSUPPORTED);
	/* another token, a shorter one, none */
	memcpy(other, tok, 8);
	other[7] ^= 0xff;
	n = msg(buf, sizeof(buf), KDC_COAP_NON, KDC_COAP_CONTENT, other, 8, 0,
	    "x");
	assert_int_equal(kdc_coap_mc_answer(buf, n, tok, &w, &m),
	    KDC_ERR_NOT_FOUND);
	n = msg(buf, sizeof(buf), KDC_COAP_NON, KDC_COAP_CONTENT, tok, 7, 0,
	    "x");
	assert_int_equal(kdc_coap_mc_answer(buf, n, tok, &w, &m),
	    KDC_ERR_NOT_FOUND);
	n = msg(buf, sizeof(buf), KDC_COAP_NON, KDC_COAP_CONTENT, NULL, 0, 0,
	    "x");
	assert_int_equal(kdc_coap_mc_answer(buf, n, tok, &w, &m),
	    KDC_ERR_NOT_FOUND);
	/* not a response: ACK, RST, a request, 1.xx, 6.xx */
	n = msg(buf, sizeof(buf), KDC_COAP_ACK, KDC_COAP_CONTENT, tok, 8, 0,
	    "x");
	assert_int_equal(kdc_coap_mc_answer(buf, n, tok, &w, &m),
	    KDC_ERR_WRONG_TYPE);
	n = msg(buf, sizeof(buf), KDC_COAP_NON, KDC_COAP_GET, tok, 8, 0, "x");
	assert_int_equal(kdc_coap_mc_answer(buf, n, tok, &w, &m),
	    KDC_ERR_WRONG_TYPE);
	n = msg(buf, sizeof(buf), KDC_COAP_NON, KDC_COAP_CODE(1, 0), tok, 8,
	    0, "x");
	assert_int_equal(kdc_coap_mc_answer(buf, n, tok, &w, &m),
	    KDC_ERR_WRONG_TYPE);
	n = msg(buf, sizeof(buf), KDC_COAP_NON, KDC_COAP_CODE(6, 0), tok, 8,
	    0, "x");
	assert_int_equal(kdc_coap_mc_answer(buf, n, tok, &w, &m),
	    KDC_ERR_WRONG_TYPE);
	/* every truncation of a good answer (exact-size copies: ASan sees a
	 * read past them); one cut in its header or token is refused, later
	 * cuts may still be whole messages (no options, a shorter payload) */
	n = msg(buf, sizeof(buf), KDC_COAP_NON, KDC_COAP_CONTENT, tok, 8, 0,
	    "links");
	for (size_t k = 0; k < n; k++) {
		uint8_t *cut = malloc(k > 0 ? k : 1);
		kdc_err r;

		assert_non_null(cut);
		memcpy(cut, buf, k);
		r = kdc_coap_mc_answer(cut, k, tok, &w, &m);
		if (k < 4 + 8)
			assert_int_not_equal(r, KDC_OK);
		free(cut);
	}
	buf[0] = 0x80;		/* version 2 */
	assert_int_not_equal(kdc_coap_mc_answer(buf, n, tok, &w, &m), KDC_OK);
}

static void
noop_ans(void *arg, const char *addr, int port, const struct kdc_coap_msg *m)
{
	(void)arg;
	(void)addr;
	(void)port;
	(void)m;
	fail();		/* never called on a refusal */
}

static void
noop_done(void *arg, kdc_err status, const struct kdc_coap_mc_end *e)
{
	(void)arg;
	(void)status;
	(void)e;
	fail();
}

static void
noop_conn(void *arg, struct kdc_coap_peer *p, kdc_err status)
{
	(void)arg;
	(void)p;
	(void)status;
	fail();
}

/* A connect that ends with its engine: told CLOSED, once. */
static void
closed_conn(void *arg, struct kdc_coap_peer *p, kdc_err status)
{
	assert_null(p);
	assert_int_equal(status, KDC_ERR_CLOSED);
	(*(int *)arg)++;
}

static kdc_err
yes(void *arg, enum kdc_coap_client_cred t, const uint8_t *const *der,
    const size_t *len, size_t n)
{
	(void)arg;
	(void)t;
	(void)der;
	(void)len;
	(void)n;
	return KDC_OK;
}

static const uint8_t wkey[32] = { 0x43 };
static const struct kdc_principal who = { .type = KDC_TYPE_PSK };

/* ---- a NoSec client session against a socket of the test's own ------------ */

static struct {
	struct kdc_coap_peer	*peer;
	int			 conns, dones;
	kdc_err			 cst, dst;
	uint8_t			 code;
	uint32_t		 ocf;
	char			 body[64];
	bool			 inside;
} ns;

static void
ns_done(void *arg, struct kdc_coap_peer *p, kdc_err st,
    const struct kdc_coap_msg *m)
{
	(void)arg;
	(void)p;
	ns.dones++;
	ns.dst = st;
	if (m != NULL) {
		ns.code = m->code;
		ns.ocf = m->ocf_version;
		snprintf(ns.body, sizeof(ns.body), "%.*s", (int)m->payload_len,
		    (const char *)m->payload);
	}
}

static void
ns_conn(void *arg, struct kdc_coap_peer *p, kdc_err st)
{
	(void)arg;
	assert_false(ns.inside);	/* later, never from connect2 */
	ns.conns++;
	ns.cst = st;
	ns.peer = p;
	if (p != NULL)
		kdc_coap_peer_hold(p);
}

/*
 * KDC_COAP_CLIENT_NOSEC to a UDP socket of this test: the connect
 * callback comes on a later step with a peer that has no principal, no
 * suite, no PRF; a request goes out as a plain CON datagram with its
 * query and OCF options, is retransmitted, and a piggybacked answer
 * carrying 2053 completes it.
 */
static void
test_nosec(void **state)
{
	struct kdc_config cfg;
	struct kdc_test_kdc k;
	struct kdc_coap *c = NULL;
	struct kdc_coap_client_opts o;
	static const uint8_t v[2] = { 0x08, 0x00 };
	const struct kdc_coap_reqopt opt = { KDC_COAP_OPT_OCF_ACCEPT_VERSION,
	    v, 2 };
	struct kdc_coap_req rq = { .method = KDC_COAP_GET,
	    .path = "oic/sec/doxm", .query = "owned=FALSE",
	    .content_format = KDC_CF_NONE, .accept = KDC_CF_OCF_CBOR,
	    .opts = &opt, .nopts = 1 };
	struct sockaddr_in sa = { .sin_family = AF_INET }, from;
	socklen_t sl = sizeof(sa), fl;
	struct kdc_coap_wire w, w2;
	uint8_t buf[512], ans[64], prf[8];
	struct kdc_coap_wb wb;
	size_t n;
	ssize_t got = -1;
	int fd;

	(void)state;
	memset(&ns, 0, sizeof(ns));
	kdc_config_defaults(&cfg);
	kdc_test_kdc_open(&k, wkey, &cfg, KDC_TEST_NO_CA);
	assert_int_equal(kdc_coap_new(k.core, &cfg, &c), KDC_OK);
	kdc_coap_set_timers(c, 200, 2, 0);
	assert_true((fd = socket(AF_INET, SOCK_DGRAM, 0)) >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);

	memset(&o, 0, sizeof(o));
	o.cred = KDC_COAP_CLIENT_NOSEC;
	o.unauthenticated = true;
	ns.inside = true;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", ntohs(sa.sin_port),
	    &o, ns_conn, NULL), KDC_OK);
	ns.inside = false;
	assert_int_equal(ns.conns, 0);
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", ntohs(sa.sin_port),
	    &o, ns_conn, NULL), KDC_ERR_EXISTS);	/* one per 4-tuple */
	for (int i = 0; i < 50 && ns.conns == 0; i++)
		(void)kdc_coap_run_once(c, 20);
	assert_int_equal(ns.conns, 1);
	assert_int_equal(ns.cst, KDC_OK);
	assert_non_null(ns.peer);
	assert_int_equal(kdc_coap_peer_suite(ns.peer), 0);
	assert_int_equal(kdc_coap_peer_prf(ns.peer, prf, sizeof(prf)),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_coap_peer_auth(ns.peer)->type, 0);
	assert_int_equal(kdc_coap_peer_auth(ns.peer)->cred_id, 0);

	assert_int_equal(kdc_coap_request2(ns.peer, &rq, ns_done, NULL),
	    KDC_OK);
	/* the first transmission, then (unanswered) its retransmission */
	for (int t = 0; t < 2; t++) {
		got = -1;
		for (int i = 0; i < 100 && got < 0; i++) {
			(void)kdc_coap_run_once(c, 20);
			fl = sizeof(from);
			got = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
			    (struct sockaddr *)&from, &fl);
		}
		assert_true(got > 0);
		assert_int_equal(kdc_coap_wire_parse(buf, (size_t)got,
		    t == 0 ? &w : &w2), KDC_OK);
	}
	assert_int_equal(w.type, KDC_COAP_CON);
	assert_int_equal(w.code, KDC_COAP_GET);
	assert_int_equal(w2.mid, w.mid);
	assert_memory_equal(w2.token, w.token, 8);
	{
		size_t it = 0;
		const struct kdc_coap_opt *q;
		struct kdc_coap_msg m;

		assert_int_equal(kdc_coap_xl_decode(&w, &m), KDC_OK);
		assert_string_equal(m.path, "oic/sec/doxm");
		assert_int_equal(m.nquery, 1);
		assert_string_equal(m.query[0], "owned=FALSE");
		assert_int_equal(m.accept, KDC_CF_OCF_CBOR);
		q = kdc_coap_wire_opt(&w, KDC_OPT_OCF_ACCEPT_VERSION, &it);
		assert_non_null(q);
		assert_int_equal(q->len, 2);
		assert_memory_equal(q->val, v, 2);
	}
	/* the answer: ACK 2.05, CF 10000, 2053 = 0x0800 */
	kdc_coap_wb_init(&wb, ans, sizeof(ans), KDC_COAP_ACK,
	    KDC_COAP_CONTENT, w.mid, w.token, w.token_len);
	kdc_coap_wb_opt_uint(&wb, KDC_OPT_CONTENT_FORMAT, KDC_CF_OCF_CBOR);
	kdc_coap_wb_opt_uint(&wb, KDC_OPT_OCF_CONTENT_VERSION, 0x0800);
	kdc_coap_wb_payload(&wb, "doxm", 4);
	assert_int_equal(kdc_coap_wb_end(&wb, &n), KDC_OK);
	{
		/* from another port than the peer's: not its answer */
		int fd2 = socket(AF_INET, SOCK_DGRAM, 0);

		assert_true(fd2 >= 0);
		assert_int_equal(sendto(fd2, ans, n, 0,
		    (struct sockaddr *)&from, fl), (ssize_t)n);
		for (int i = 0; i < 10; i++)
			(void)kdc_coap_run_once(c, 10);
		assert_int_equal(ns.dones, 0);
		close(fd2);
		assert_int_equal(sendto(fd, ans, n, 0,
		    (struct sockaddr *)&from, fl), (ssize_t)n);
	}
	for (int i = 0; i < 100 && ns.dones == 0; i++)
		(void)kdc_coap_run_once(c, 20);
	assert_int_equal(ns.dones, 1);
	assert_int_equal(ns.dst, KDC_OK);
	assert_int_equal(ns.code, KDC_COAP_CONTENT);
	assert_int_equal(ns.ocf, 0x0800);
	assert_string_equal(ns.body, "doxm");
	kdc_coap_peer_release(ns.peer);
	close(fd);
	kdc_coap_free(c);
	kdc_test_kdc_close(&k);
}

static void
test_refusals(void **state)
{
	struct kdc_config cfg;
	struct kdc_test_kdc k;
	struct kdc_coap *c = NULL;
	struct kdc_coap_client_opts o;
	static const uint8_t id[16] = { 0 }, psk[16] = { 1 };
	uint8_t longid[KDC_PSK_IDENTITY_MAX + 1];
	int closed = 0;

	(void)state;
	kdc_config_defaults(&cfg);
	kdc_test_kdc_open(&k, wkey, &cfg, KDC_TEST_NO_CA);
	assert_int_equal(kdc_coap_new(k.core, &cfg, &c), KDC_OK);

#define MC(ifn, grp, port, meth, win, max)				\
	kdc_coap_multicast(c, (ifn), (grp), (port), (meth), "oic/res",	\
	    "rt=oic.r.doxm", (win), (max), noop_ans, noop_done, NULL)
	assert_int_equal(MC("lo", "127.0.0.1", 5683, KDC_COAP_GET, 1000, 0),
	    KDC_ERR_INVALID_ARG);	/* not a multicast group */
	assert_int_equal(MC("lo", "fd00::1", 5683, KDC_COAP_GET, 1000, 0),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(MC("lo", "ff02::158%lo", 5683, KDC_COAP_GET, 1000,
	    0), KDC_ERR_INVALID_ARG);	/* a zone: only link-local unicast */
	assert_int_equal(MC("lo", "ff02::158", 0, KDC_COAP_GET, 1000, 0),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(MC("lo", "ff02::158", 65536, KDC_COAP_GET, 1000, 0),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(MC("lo", "ff02::158", 5683, KDC_COAP_CONTENT, 1000,
	    0), KDC_ERR_INVALID_ARG);
	assert_int_equal(MC("lo", "ff02::158", 5683, KDC_COAP_GET, 0, 0),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(MC("lo", "ff02::158", 5683, KDC_COAP_GET,
	    KDC_COAP_MC_WINDOW_MAX_MS + 1, 0), KDC_ERR_INVALID_ARG);
	assert_int_equal(MC("lo", "ff02::158", 5683, KDC_COAP_GET, 1000,
	    KDC_COAP_MC_ANSWERS_MAX + 1), KDC_ERR_INVALID_ARG);
	assert_int_equal(MC("nosuchif0", "ff02::158", 5683, KDC_COAP_GET, 1000,
	    0), KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_coap_multicast(c, "lo", "ff02::158", 5683,
	    KDC_COAP_GET, "oic/res", NULL, 1000, 0, NULL, noop_done, NULL),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_coap_multicast(c, "lo", "ff02::158", 5683,
	    KDC_COAP_GET, "a//b", NULL, 1000, 0, noop_ans, noop_done, NULL),
	    KDC_ERR_INVALID_ARG);

	memset(&o, 0, sizeof(o));
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 9, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);	/* no cred */
	o.cred = KDC_COAP_CLIENT_PSK;
	o.psk_identity = id;
	o.psk_identity_len = sizeof(id);
	o.psk_key = psk;
	o.psk_key_len = 0;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 9, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);	/* empty key */
	o.psk_key_len = KDC_PSK_MAX + 1;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 9, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);
	o.psk_key_len = sizeof(psk);
	o.psk_identity_len = 0;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 9, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);
	memset(longid, 'a', sizeof(longid));
	o.psk_identity = longid;
	o.psk_identity_len = sizeof(longid);
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 9, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);
	o.psk_identity = id;
	o.psk_identity_len = sizeof(id);
	o.suites = (enum kdc_coap_suites)7;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 9, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);
	o.suites = KDC_COAP_SUITES_OCF;
	assert_int_equal(kdc_coap_connect2(c, "fe80::1%nosuchif0", 9, &o,
	    noop_conn, NULL), KDC_ERR_INVALID_ARG);	/* unknown zone */
	assert_int_equal(kdc_coap_connect2(c, "fd00::1%lo", 9, &o,
	    noop_conn, NULL), KDC_ERR_INVALID_ARG);	/* zone, not link-local */
	/* RPK and X.509: the check is required; a key with its cert */
	memset(&o, 0, sizeof(o));
	o.cred = KDC_COAP_CLIENT_RPK;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 9, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);
	o.cred = KDC_COAP_CLIENT_X509;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 9, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);
	o.check = yes;
	o.cert_pem = "-----BEGIN CERTIFICATE-----\n";
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 9, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);	/* cert without key */
	o.key_pem = "-----BEGIN PRIVATE KEY-----\n";
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 9, &o, noop_conn,
	    NULL), KDC_ERR_TLS);		/* do not load */
	o.cred = KDC_COAP_CLIENT_RPK;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 9, &o, noop_conn,
	    NULL), KDC_ERR_TLS);
	/* NoSec: only asked for by name and flag together; no principal, no
	 * PRF (nothing to derive it from) */
	memset(&o, 0, sizeof(o));
	o.cred = KDC_COAP_CLIENT_NOSEC;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 9, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);	/* without unauthenticated */
	o.unauthenticated = true;
	o.who = &who;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 9, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);	/* a principal it cannot be */
	o.who = NULL;
	o.prf_label = "key expansion";
	o.prf_label_len = 13;
	o.prf_len = 96;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 9, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);
	/* Just Works (0xFF00, our own handshake): it authenticates nobody,
	 * so only by name and flag together, and never for a principal;
	 * past the last kind: refused */
	memset(&o, 0, sizeof(o));
	o.cred = KDC_COAP_CLIENT_JW;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 19, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);	/* without unauthenticated */
	o.unauthenticated = true;
	o.who = &who;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 19, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);	/* a principal it cannot be */
	o.who = NULL;
	o.prf_label = "key expansion";
	o.prf_label_len = 13;
	o.prf_len = KDC_COAP_PRF_MAX + 1;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 19, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);
	o.cred = (enum kdc_coap_client_cred)(KDC_COAP_CLIENT_JW + 1);
	o.prf_len = 96;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 19, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);
	/* unauthenticated on a DTLS kind */
	memset(&o, 0, sizeof(o));
	o.cred = KDC_COAP_CLIENT_PSK;
	o.psk_identity = id;
	o.psk_identity_len = sizeof(id);
	o.psk_key = psk;
	o.psk_key_len = sizeof(psk);
	o.unauthenticated = true;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 9, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);
	o.unauthenticated = false;
	/* the PRF asked for: bounded label and length, a known seed */
	o.prf_label = "key expansion";
	o.prf_label_len = 13;
	o.prf_len = KDC_COAP_PRF_MAX + 1;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 9, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);
	o.prf_len = 96;
	o.prf_label_len = 0;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 9, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);
	o.prf_label_len = KDC_COAP_PRF_LABEL_MAX + 1;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 9, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);
	o.prf_label_len = 13;
	o.prf_label = NULL;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 9, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);
	o.prf_label = "key expansion";
	o.prf_seed = (enum kdc_coap_prf_seed)2;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 9, &o, noop_conn,
	    NULL), KDC_ERR_INVALID_ARG);
	{
		struct kdc_coap_stats s;

		kdc_coap_stats(c, &s);
		assert_int_equal(s.sessions, 0);	/* nothing left over */
		assert_int_equal(s.mc_requests, 0);
	}
	/* JW asked for properly: it starts (the ClientHello is out) */
	memset(&o, 0, sizeof(o));
	o.cred = KDC_COAP_CLIENT_JW;
	o.unauthenticated = true;
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 19, &o,
	    closed_conn, &closed), KDC_OK);
	assert_int_equal(kdc_coap_connect2(c, "127.0.0.1", 19, &o, noop_conn,
	    NULL), KDC_ERR_EXISTS);
	kdc_coap_free(c);
	assert_int_equal(closed, 1);
	kdc_test_kdc_close(&k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_onlink),
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_nosec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
