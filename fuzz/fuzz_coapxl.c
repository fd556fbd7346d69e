/*
 * fuzz_coapxl.c: the CoAP message layer (coap/xl.h) driven by a script
 * of events against a fake engine: datagrams from four peers, the clock
 * moving (timers fire), sessions ending, deferred requests answered,
 * requests of ours. Routes: "a" (GET/POST, answers of a size the script
 * picks, owned), "d" (POST, deferred), the prefix "rd/" (POST on lwm2m,
 * Location-Path).
 * Checked: every message xl sends parses (kdc_coap_wire_parse) and fits
 * KDC_COAP_SEND_MAX; a done callback runs once per request, never inside
 * kdc_coap_request; after the sessions end and the layer is freed, every
 * peer reference is back, every owned payload released once, and every
 * allocation given back (kdc_alloc_live()). Seeds: fuzz/corpus/coapxl/.
 *
 * Script: records of one control byte c (op = c & 7, peer = c >> 3 & 3)
 * and its arguments:
 *   op 0-3: a datagram: 2 bytes length (LE, mod 1153), then the bytes;
 *           op 3 with the MID (and an 8-byte token) of the last CON we
 *           sent patched in, so the script can answer our requests and
 *           acknowledge our separate answers (both random here)
 *   op 4:   the clock moves 1 byte x 250 ms; with peer bits 3, first
 *           kdc_coap_notify() of "o" (a GET route that observes)
 *   op 5:   the peer's session ends (a new one takes its place)
 *   op 6:   the oldest deferred request is answered, 1 byte x 64 bytes
 *   op 7:   a request of ours: 1 byte method/size
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "coap/coap.h"
#include "coap/wire.h"
#include "coap/xl.h"
#include "xlfake.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NPEER	4
#define NLATER	8
static struct kdc_coap eng;
#define PEERS	64	/* sessions per run, ended ones kept to the end */
static struct kdc_coap_peer peers[PEERS];
static struct kdc_coap_peer *live[NPEER];	/* live[3]: endpoint lwm2m */
static size_t npeers;
static uint64_t now_ms;
static struct kdc_coap_later *laters[NLATER];
static size_t nlaters;
static long owned, released;
static unsigned answer_size;
static long dones, requests, oks, nsent;
static bool in_request;
static uint8_t big[KDC_COAP_REQ_BODY_MAX];
static uint8_t last_mid[2], last_tok[8];

/* the fake engine (tests/unit/xlfake.h): what xl sends */
void
kdc_xlfake_sent(struct kdc_coap_peer *p, const uint8_t *msg, size_t len)
{
	struct kdc_coap_wire w;

	(void)p;
	if (kdc_coap_wire_parse(msg, len, &w) != KDC_OK)
		abort();	/* we send only well-formed messages */
	nsent++;
	if (w.type == KDC_COAP_CON) {
		last_mid[0] = msg[2];
		last_mid[1] = msg[3];
		if (w.token_len == 8)
			memcpy(last_tok, w.token, 8);
	}
}

void
kdc_xlfake_fail(const char *what)
{
	(void)what;
	abort();
}

uint64_t
kdc_coap_now_ms(void)
{
	return now_ms;
}

static void
release(void *arg)
{
	(void)arg;
	released++;
}

static void
h_a(void *arg, struct kdc_coap_peer *p, const struct kdc_coap_msg *req,
    struct kdc_coap_resp *resp)
{
	(void)arg;
	(void)p;
	if (kdc_coap_msg_query(req, "q") != NULL)
		resp->code = KDC_COAP_BAD_REQUEST;
	else
		resp->code = KDC_COAP_CONTENT;
	resp->payload = big;
	resp->payload_len = answer_size;
	resp->release = release;
	owned++;
}

static void
h_o(void *arg, struct kdc_coap_peer *p, const struct kdc_coap_msg *req,
    struct kdc_coap_resp *resp)
{
	(void)arg;
	(void)req;
	(void)kdc_coap_observe(p);
	/* the answer size the script set last: Block2 when large; 4.04
	 * now and then ends an observation */
	resp->code = answer_size == 1500 ? KDC_COAP_NOT_FOUND :
	    KDC_COAP_CONTENT;
	resp->payload = big;
	resp->payload_len = answer_size;
}

static void
h_d(void *arg, struct kdc_coap_peer *p, const struct kdc_coap_msg *req,
    struct kdc_coap_resp *resp)
{
	struct kdc_coap_later *l;

	(void)arg;
	(void)req;
	if (nlaters < NLATER && (l = kdc_coap_defer(p)) != NULL) {
		laters[nlaters++] = l;
		return;
	}
	resp->code = KDC_COAP_UNAVAILABLE;
}

static void
h_rd(void *arg, struct kdc_coap_peer *p, const struct kdc_coap_msg *req,
    struct kdc_coap_resp *resp)
{
	(void)arg;
	(void)p;
	(void)req;
	resp->code = KDC_COAP_CREATED;
	memcpy(resp->location, "rd/1", 5);
}

static void
done(void *arg, struct kdc_coap_peer *p, kdc_err st,
    const struct kdc_coap_msg *m)
{
	(void)arg;
	(void)p;
	if (in_request || (st == KDC_OK) != (m != NULL))
		abort();
	dones++;
	oks += st == KDC_OK;
}

static struct kdc_coap_peer *
peer_new(void)
{
	struct kdc_coap_peer *p;

	if (npeers == PEERS)
		return NULL;
	p = &peers[npeers++];
	kdc_xlfake_peer_init(p, &eng, "kdc");
	return p;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kdc_coap_xl_limits lim = { .dedup_max = 64, .bodies_max = 2,
	    .body_max = 4096 };
	long live0 = kdc_alloc_live();
	size_t i = 0;

	npeers = 0;
	now_ms = 1000000;
	nlaters = 0;
	owned = released = dones = requests = oks = nsent = 0;
	answer_size = 0;
	for (size_t k = 0; k < NPEER; k++)
		live[k] = peer_new();
	live[3]->ep = "lwm2m";
	if (kdc_coap_xl_new(&eng, &lim, &eng.xl) != KDC_OK)
		return 0;
	if (kdc_coap_route(&eng, NULL, KDC_COAP_GET, "a", h_a, NULL) !=
	    KDC_OK || kdc_coap_route(&eng, NULL, KDC_COAP_POST, "a", h_a,
	    NULL) != KDC_OK || kdc_coap_route(&eng, NULL, KDC_COAP_POST, "d",
	    h_d, NULL) != KDC_OK || kdc_coap_route(&eng, NULL, KDC_COAP_GET,
	    "o", h_o, NULL) != KDC_OK || kdc_coap_route(&eng, "lwm2m",
	    KDC_COAP_POST, "rd/*", h_rd, NULL) != KDC_OK)
		abort();
	while (i < size) {
		uint8_t c = data[i++];
		size_t pi = (c >> 3) & 3;
		struct kdc_coap_peer *p = live[pi];

		answer_size = (unsigned)(c >> 5) * 1500u;	/* 0..10500 */
		switch (c & 7) {
		case 0: case 1: case 2: case 3: {
			size_t n;
			if (size - i < 2)
				goto end;
			n = (size_t)(data[i] | data[i + 1] << 8) % 1153;
			i += 2;
			if (n > size - i)
				n = size - i;
			if ((c & 7) == 3 && n >= 4) {
				uint8_t m[KDC_COAP_DGRAM_MAX];
				memcpy(m, data + i, n);
				memcpy(m + 2, last_mid, 2);
				if ((m[0] & 0x0f) == 8 && n >= 12)
					memcpy(m + 4, last_tok, 8);
				kdc_coap_xl_input(eng.xl, p, m, n);
			} else
				kdc_coap_xl_input(eng.xl, p, data + i, n);
			i += n;
			break;
		}
		case 4:
			if (i >= size)
				goto end;
			if (pi == 3)
				(void)kdc_coap_notify(&eng, NULL, "o");
			now_ms += (uint64_t)data[i++] * 250;
			kdc_xlfake_fire(peers, npeers, now_ms);
			break;
		case 5:
			if (npeers == PEERS)
				break;
			p->open = false;
			kdc_coap_xl_gone(eng.xl, p);
			live[pi] = peer_new();
			if (pi == 3) {
				p->ep = "kdc";
				live[3]->ep = "lwm2m";
			}
			break;
		case 6:
			if (i >= size)
				goto end;
			if (nlaters > 0) {
				struct kdc_coap_resp rs;
				memset(&rs, 0, sizeof(rs));
				rs.code = KDC_COAP_CHANGED;
				rs.content_format = KDC_CF_NONE;
				rs.payload = big;
				rs.payload_len = (size_t)data[i] * 64;
				rs.release = release;
				owned++;
				kdc_coap_later_answer(laters[0], &rs);
				memmove(laters, laters + 1,
				    --nlaters * sizeof(laters[0]));
			}
			i++;
			break;
		case 7: {
			uint8_t a;
			kdc_err r;
			if (i >= size)
				goto end;
			a = data[i++];
			in_request = true;
			r = kdc_coap_request(p, (uint8_t)(1 + (a & 3)),
			    (a & 4) ? "0/1" : "", KDC_CF_NONE, KDC_CF_NONE,
			    big, (size_t)(a >> 3) * 100, done, NULL);
			in_request = false;
			if (r == KDC_OK)
				requests++;
			break;
		}
		}
	}
end:
	for (size_t k = 0; k < NPEER; k++) {
		live[k]->open = false;
		kdc_coap_xl_gone(eng.xl, live[k]);
	}
	/* laters unanswered: answered now, to closed sessions */
	for (size_t k = 0; k < nlaters; k++) {
		struct kdc_coap_resp rs;
		memset(&rs, 0, sizeof(rs));
		rs.payload = big;
		rs.payload_len = 10;
		rs.release = release;
		owned++;
		kdc_coap_later_answer(laters[k], &rs);
	}
	kdc_coap_xl_free(eng.xl);
	eng.xl = NULL;
	if (getenv("FUZZ_COAPXL_TRACE") != NULL)	/* seeds reach what they aim at */
		fprintf(stderr, "requests %ld (ok %ld) owned %ld sent %ld\n",
		    requests, oks, owned, nsent);
	if (dones != requests || owned != released ||
	    kdc_alloc_live() != live0)
		abort();
	for (size_t k = 0; k < npeers; k++)
		if (peers[k].refs != 1 || peers[k].xp != NULL)
			abort();
	return 0;
}
