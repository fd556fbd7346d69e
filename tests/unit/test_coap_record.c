/*
 * test_coap_record.c: src/coap/record.c, our DTLS 1.2 record layer,
 * against real GnuTLS 3.7.9 peers. A GnuTLS client and server do a DTLS
 * 1.2 PSK handshake over in-memory datagram queues (dtlsmem.h) for every cipher record.h supports; then the
 * server's state is exported and its GnuTLS session freed, and:
 * - a record we seal is byte-identical to the one GnuTLS sealed for the
 *   same plaintext at the same sequence number;
 * - the GnuTLS client accepts what we seal (two records in one datagram
 *   too), and we open what it sends;
 * - replays, records 64 or more behind the right edge, wrong epochs,
 *   every flipped bit and every truncation are refused with the state
 *   unchanged (the next genuine record still opens); out-of-order records
 *   in the window open once;
 * - a close_notify we seal ends the client's session (record_recv 0);
 * - the write sequence number stops at 2^48 - 1 (EXHAUSTED after);
 * - CHACHA20-POLY1305 is refused UNSUPPORTED, a session before its
 *   handshake TLS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <sys/types.h>

#include <cmocka.h>
#include <gnutls/gnutls.h>
#include <gnutls/dtls.h>

#include "coap/record.h"
#include "dtlsmem.h"
#include "testutil.h"

#define PRIO_FMT	"NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+PSK:" \
			"-CIPHER-ALL:+%s:-MAC-ALL:+AEAD"
#define QCAP		128	/* datagrams in flight per direction */
#define DMAX		KDC_DTLSMEM_DMAX	/* largest datagram */
#define SEQ_MAX		0xffffffffffffULL

struct cipher {
	const char			*prio;	/* GnuTLS priority name */
	gnutls_cipher_algorithm_t	 algo;
	uint8_t				 ours;	/* enum kdc_rec_cipher */
	size_t				 tag;
};

static const struct cipher ciphers[] = {
	{ "AES-128-CCM-8", GNUTLS_CIPHER_AES_128_CCM_8, KDC_REC_AES128_CCM8, 8 },
	{ "AES-256-CCM-8", GNUTLS_CIPHER_AES_256_CCM_8, KDC_REC_AES256_CCM8, 8 },
	{ "AES-128-CCM", GNUTLS_CIPHER_AES_128_CCM, KDC_REC_AES128_CCM, 16 },
	{ "AES-256-CCM", GNUTLS_CIPHER_AES_256_CCM, KDC_REC_AES256_CCM, 16 },
	{ "AES-128-GCM", GNUTLS_CIPHER_AES_128_GCM, KDC_REC_AES128_GCM, 16 },
	{ "AES-256-GCM", GNUTLS_CIPHER_AES_256_GCM, KDC_REC_AES256_GCM, 16 },
};
#define NCIPHERS	(sizeof(ciphers) / sizeof(ciphers[0]))

/* ---- the pair over in-memory datagram queues (dtlsmem.h) --------------- */

/* A client and a server, and what the server exported. */
struct pair {
	struct kdc_dtlsmem_queue	 c2s, s2c;
	struct kdc_dtlsmem_end		 ce, se;
	gnutls_session_t		 c, s;
	gnutls_psk_client_credentials_t	 ccred;
	gnutls_psk_server_credentials_t	 scred;
	struct kdc_rec			 r;
	const struct cipher		*ci;
};

/* A new pair with the handshake done, for GnuTLS priority name cname. */
static struct pair *
pair_new(const char *cname)
{
	struct pair *p;
	char prio[256];

	assert_non_null(p = calloc(1, sizeof(*p)));
	snprintf(prio, sizeof(prio), PRIO_FMT, cname);
	kdc_dtlsmem_queue_init(&p->c2s, QCAP);
	kdc_dtlsmem_queue_init(&p->s2c, QCAP);
	p->ce.in = &p->s2c;
	p->ce.out = &p->c2s;
	p->se.in = &p->c2s;
	p->se.out = &p->s2c;
	assert_int_equal(kdc_dtlsmem_creds(&p->ccred, &p->scred), 0);
	assert_int_equal(kdc_dtlsmem_session(&p->c, &p->ce, GNUTLS_CLIENT,
	    prio, p->ccred), 0);
	assert_int_equal(kdc_dtlsmem_session(&p->s, &p->se, GNUTLS_SERVER,
	    prio, p->scred), 0);
	assert_int_equal(kdc_dtlsmem_handshake(p->c, p->s), 0);
	return p;
}

static void
pair_free(struct pair *p)
{
	kdc_rec_wipe(&p->r);
	gnutls_deinit(p->c);
	if (p->s != NULL)
		gnutls_deinit(p->s);
	gnutls_psk_free_client_credentials(p->ccred);
	gnutls_psk_free_server_credentials(p->scred);
	free(p);
}

/* GnuTLS session s sends msg; the datagram it pushed into q -> dg. */
static size_t
gnutls_seal(gnutls_session_t s, struct kdc_dtlsmem_queue *q, const char *msg,
    uint8_t *dg)
{
	ssize_t n;

	assert_int_equal(gnutls_record_send(s, msg, strlen(msg)),
	    (ssize_t)strlen(msg));
	n = kdc_dtlsmem_pop(q, dg, DMAX);
	assert_true(n > 0);
	assert_int_equal(q->n, 0);
	return (size_t)n;
}

/* The client's GnuTLS reads one record and it is msg. */
static void
client_reads(struct pair *p, const char *msg)
{
	char got[DMAX];
	ssize_t n;

	n = gnutls_record_recv(p->c, got, sizeof(got));
	assert_int_equal(n, (ssize_t)strlen(msg));
	assert_memory_equal(got, msg, strlen(msg));
}

/*
 * The switch as the engine will do it: one application record each way
 * through GnuTLS, export, then (before the server's GnuTLS is freed)
 * byte identity: GnuTLS seals "same bytes?" and so do we from the
 * exported state, the client reads GnuTLS's copy. Then gnutls_deinit.
 */
static struct pair *
pair_switched(const struct cipher *ci)
{
	struct pair *p = pair_new(ci->prio);
	uint8_t theirs[DMAX], ours[DMAX];
	char got[64];
	size_t n, m;
	const char *msg = "same bytes?";

	p->ci = ci;
	assert_int_equal(gnutls_cipher_get(p->s), ci->algo);
	assert_int_equal(gnutls_record_send(p->c, "ping", 4), 4);
	assert_int_equal(gnutls_record_recv(p->s, got, sizeof(got)), 4);
	assert_int_equal(gnutls_record_send(p->s, "pong", 4), 4);
	client_reads(p, "pong");

	assert_int_equal(kdc_rec_export(&p->r, p->s), KDC_OK);
	assert_int_equal(p->r.cipher, ci->ours);
	assert_int_equal(p->r.epoch, 1);
	assert_true(p->r.seen);
	assert_int_equal(kdc_rec_overhead(&p->r), KDC_REC_HDR + 8 + ci->tag);

	n = gnutls_seal(p->s, &p->s2c, msg, theirs);
	assert_int_equal(kdc_rec_seal(&p->r, KDC_REC_APPDATA,
	    (const uint8_t *)msg, strlen(msg), ours, sizeof(ours), &m), KDC_OK);
	assert_int_equal(m, n);
	assert_memory_equal(ours, theirs, n);
	assert_int_equal(n, strlen(msg) + kdc_rec_overhead(&p->r));
	assert_int_equal(kdc_dtlsmem_push(&p->s2c, theirs, n), 0);
	client_reads(p, msg);

	gnutls_deinit(p->s);
	p->s = NULL;
	return p;
}

/* The client sends msg through GnuTLS; its record -> rec. */
static size_t
client_sends(struct pair *p, const char *msg, uint8_t *rec)
{
	return gnutls_seal(p->c, &p->c2s, msg, rec);
}

static void
open_ok(struct pair *p, const uint8_t *rec, size_t len, const char *msg)
{
	uint8_t buf[DMAX], type;
	const uint8_t *pt;
	size_t pt_len;

	memcpy(buf, rec, len);
	assert_int_equal(kdc_rec_open(&p->r, buf, len, &type, &pt, &pt_len),
	    KDC_OK);
	assert_int_equal(type, KDC_REC_APPDATA);
	assert_int_equal(pt_len, strlen(msg));
	assert_memory_equal(pt, msg, pt_len);
	assert_ptr_equal(pt, buf + KDC_REC_HDR + 8);
}

static kdc_err
open_copy(struct pair *p, const uint8_t *rec, size_t len)
{
	uint8_t buf[DMAX], type;
	const uint8_t *pt;
	size_t pt_len;
	kdc_err e;

	memcpy(buf, rec, len);
	e = kdc_rec_open(&p->r, buf, len, &type, &pt, &pt_len);
	if (e != KDC_OK) {
		assert_null(pt);
		assert_int_equal(pt_len, 0);
	}
	return e;
}

/* Open a copy of rec[0, len) in a heap block of exactly len bytes (ASan
 * sees any read past them). */
static kdc_err
open_heap(struct pair *p, const uint8_t *rec, size_t len)
{
	uint8_t *b = malloc(len ? len : 1), type;
	const uint8_t *pt;
	size_t pt_len;
	kdc_err e;

	assert_non_null(b);
	memcpy(b, rec, len);
	e = kdc_rec_open(&p->r, b, len, &type, &pt, &pt_len);
	free(b);
	return e;
}

static void
assert_same_state(const struct kdc_rec *a, const struct kdc_rec *b)
{
	assert_int_equal(a->cipher, b->cipher);
	assert_int_equal(a->epoch, b->epoch);
	assert_memory_equal(&a->rd, &b->rd, sizeof(a->rd));
	assert_memory_equal(&a->wr, &b->wr, sizeof(a->wr));
	assert_int_equal(a->window, b->window);
	assert_int_equal(a->seen, b->seen);
}

/* ---- tests ------------------------------------------------------------ */

/* (a) (b) (c) (h): both ways against GnuTLS, byte-identical, and the
 * close_notify. */
static void
test_interop(void **state)
{
	uint8_t rec[DMAX], dg[2 * DMAX];
	size_t n, m, i;
	(void)state;

	for (i = 0; i < NCIPHERS; i++) {
		struct pair *p = pair_switched(&ciphers[i]);
		const char *big = NULL;
		char *large;

		/* (a) ours -> GnuTLS, one and then two in one datagram */
		assert_int_equal(kdc_rec_seal(&p->r, KDC_REC_APPDATA,
		    (const uint8_t *)"from kdc", 8, rec, sizeof(rec), &n),
		    KDC_OK);
		assert_int_equal(kdc_dtlsmem_push(&p->s2c, rec, n), 0);
		client_reads(p, "from kdc");
		assert_int_equal(kdc_rec_seal(&p->r, KDC_REC_APPDATA,
		    (const uint8_t *)"one", 3, dg, sizeof(dg), &n), KDC_OK);
		assert_int_equal(kdc_rec_seal(&p->r, KDC_REC_APPDATA,
		    (const uint8_t *)"two", 3, dg + n, sizeof(dg) - n, &m),
		    KDC_OK);
		assert_int_equal(kdc_dtlsmem_push(&p->s2c, dg, n + m), 0);
		client_reads(p, "one");
		client_reads(p, "two");
		/* a 1 KiB record */
		assert_non_null(large = malloc(1025));
		memset(large, 'k', 1024);
		large[1024] = '\0';
		big = large;
		assert_int_equal(kdc_rec_seal(&p->r, KDC_REC_APPDATA,
		    (const uint8_t *)big, 1024, rec, sizeof(rec), &n), KDC_OK);
		assert_int_equal(kdc_dtlsmem_push(&p->s2c, rec, n), 0);
		client_reads(p, big);

		/* (b) GnuTLS -> ours */
		n = client_sends(p, "from client", rec);
		open_ok(p, rec, n, "from client");
		n = client_sends(p, big, rec);
		open_ok(p, rec, n, big);
		free(large);

		/* (h) close_notify: warning(1), close_notify(0) */
		assert_int_equal(kdc_rec_seal(&p->r, KDC_REC_ALERT,
		    (const uint8_t *)"\x01\x00", 2, rec, sizeof(rec), &n),
		    KDC_OK);
		assert_int_equal(kdc_dtlsmem_push(&p->s2c, rec, n), 0);
		assert_int_equal(gnutls_record_recv(p->c, dg, sizeof(dg)), 0);
		pair_free(p);
	}
}

/* Client records seq[0..k) captured without being opened. */
static uint8_t (*recs)[256];
static size_t *rlens;

static void
capture(struct pair *p, size_t k)
{
	char msg[32];

	recs = calloc(k, sizeof(*recs));
	rlens = calloc(k, sizeof(*rlens));
	assert_non_null(recs);
	assert_non_null(rlens);
	for (size_t j = 0; j < k; j++) {
		snprintf(msg, sizeof(msg), "rec %zu", j);
		rlens[j] = client_sends(p, msg, recs[j]);
	}
}

static void
release(void)
{
	free(recs);
	free(rlens);
	recs = NULL;
	rlens = NULL;
}

static void
open_nth(struct pair *p, size_t j)
{
	char msg[32];

	snprintf(msg, sizeof(msg), "rec %zu", j);
	open_ok(p, recs[j], rlens[j], msg);
}

/* (d) replay: twice -> REPLAY; 64 and 65 behind -> REPLAY, 63 behind
 * opens; out of order in the window opens once. What GnuTLS delivered
 * before the switch does not open again. */
static void
test_replay(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCIPHERS; i++) {
		struct pair *p = pair_new(ciphers[i].prio);
		struct kdc_rec before;
		uint8_t old[256], got[16];
		size_t oldn;

		/* a record GnuTLS delivered, then the switch */
		oldn = client_sends(p, "seen by gnutls", old);
		assert_int_equal(kdc_dtlsmem_push(&p->c2s, old, oldn), 0);
		assert_int_equal(gnutls_record_recv(p->s, got, sizeof(got)),
		    14);
		assert_int_equal(kdc_rec_export(&p->r, p->s), KDC_OK);
		assert_int_equal(open_copy(p, old, oldn), KDC_ERR_REPLAY);

		capture(p, 70);
		open_nth(p, 0);
		assert_int_equal(open_copy(p, recs[0], rlens[0]),
		    KDC_ERR_REPLAY);
		/* out of order: 5 then 3, 4, 1, 2, each once */
		open_nth(p, 5);
		open_nth(p, 3);
		open_nth(p, 4);
		open_nth(p, 1);
		assert_int_equal(open_copy(p, recs[3], rlens[3]),
		    KDC_ERR_REPLAY);
		assert_int_equal(open_copy(p, recs[1], rlens[1]),
		    KDC_ERR_REPLAY);
		assert_int_equal(open_copy(p, recs[5], rlens[5]),
		    KDC_ERR_REPLAY);
		open_nth(p, 2);
		/* right edge 69: 6 is 63 behind (opens), 5 is 64 behind */
		open_nth(p, 69);
		before = p->r;
		assert_int_equal(open_copy(p, recs[5], rlens[5]),
		    KDC_ERR_REPLAY);
		assert_int_equal(open_copy(p, recs[4], rlens[4]),
		    KDC_ERR_REPLAY);		/* 65 behind */
		assert_same_state(&before, &p->r);
		open_nth(p, 6);
		assert_int_equal(open_copy(p, recs[6], rlens[6]),
		    KDC_ERR_REPLAY);
		release();
		pair_free(p);
	}
}

/* (e) one flipped bit anywhere: refused, the state unchanged, the
 * genuine record opens after. Header bits get their exact code. */
static void
test_tamper(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCIPHERS; i++) {
		struct pair *p = pair_switched(&ciphers[i]);
		struct kdc_rec before;
		uint8_t rec[256], bad[256];
		size_t n, bit;
		kdc_err e;

		n = client_sends(p, "flip me, any bit", rec);
		before = p->r;
		for (bit = 0; bit < n * 8; bit++) {
			size_t byte = bit / 8;

			memcpy(bad, rec, n);
			bad[byte] ^= (uint8_t)(1u << (bit % 8));
			e = open_copy(p, bad, n);
			if (byte == 1 || byte == 2 || byte == 3 || byte == 4)
				/* version, epoch */
				assert_int_equal(e, KDC_ERR_MALFORMED);
			else if (byte == 11 || byte == 12)
				/* length: framing */
				assert_true(e == KDC_ERR_TRUNCATED ||
				    e == KDC_ERR_MALFORMED);
			else if (byte >= 5 && byte <= 10) {
				/* sequence number: left of the edge it is
				 * a replay, else the AAD does not match */
				uint64_t seq = 0;

				for (size_t j = 5; j < 11; j++)
					seq = seq << 8 | bad[j];
				assert_int_equal(e, seq <= before.rd.seq ?
				    KDC_ERR_REPLAY : KDC_ERR_CRYPTO);
			}
			else
				/* type, nonce, ciphertext, tag */
				assert_int_equal(e, KDC_ERR_CRYPTO);
			assert_same_state(&before, &p->r);
		}
		open_ok(p, rec, n, "flip me, any bit");
		pair_free(p);
	}
}

/* A wrong epoch is refused before anything else even if the rest of the
 * record is genuine: the epoch check is ours, not the AAD's. */
static void
test_epoch(void **state)
{
	struct pair *p = pair_switched(&ciphers[0]);
	struct kdc_rec before;
	uint8_t rec[256];
	size_t n;

	(void)state;
	n = client_sends(p, "epoch", rec);
	/* state of another epoch: the genuine epoch-1 record is refused
	 * MALFORMED, not CRYPTO (its AAD would not match either) */
	p->r.epoch = 2;
	before = p->r;
	assert_int_equal(open_copy(p, rec, n), KDC_ERR_MALFORMED);
	assert_same_state(&before, &p->r);
	p->r.epoch = 1;
	open_ok(p, rec, n, "epoch");
	pair_free(p);
}

/* (f) every truncation refused, never a crash, state unchanged. */
static void
test_truncate(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCIPHERS; i++) {
		struct pair *p = pair_switched(&ciphers[i]);
		struct kdc_rec before;
		uint8_t rec[256], type;
		uint16_t ep;
		uint64_t seq;
		size_t n, len, rl;

		n = client_sends(p, "cut me", rec);
		before = p->r;
		for (len = 0; len < n; len++) {
			/* exactly len bytes in a heap block: ASan sees a
			 * read past them */
			uint8_t *b = malloc(len ? len : 1);

			assert_non_null(b);
			memcpy(b, rec, len);
			assert_int_equal(kdc_rec_header(b, len, &type, &ep,
			    &seq, &rl), KDC_ERR_TRUNCATED);
			assert_int_equal(rl, 0);
			assert_int_not_equal(open_heap(p, b, len), KDC_OK);
			assert_same_state(&before, &p->r);
			/* and a header that says it is that short */
			if (len >= KDC_REC_HDR) {
				b[11] = (uint8_t)((len - KDC_REC_HDR) >> 8);
				b[12] = (uint8_t)(len - KDC_REC_HDR);
				assert_int_not_equal(open_heap(p, b, len),
				    KDC_OK);
				assert_same_state(&before, &p->r);
			}
			free(b);
		}
		open_ok(p, rec, n, "cut me");
		pair_free(p);
	}
}

/* (i) the write sequence number: 2^48 - 2 is the last, GnuTLS accepts
 * it; then EXHAUSTED and nothing written or consumed. (A genuine record
 * numbered 2^48 - 1 is dropped by GnuTLS 3.7.9: seen while writing
 * this test, see docs/traps.md.) */
static void
test_exhausted(void **state)
{
	struct pair *p = pair_switched(&ciphers[0]);
	uint8_t rec[256];
	size_t n;

	(void)state;
	p->r.wr.seq = SEQ_MAX - 1;
	assert_int_equal(kdc_rec_seal(&p->r, KDC_REC_APPDATA,
	    (const uint8_t *)"last", 4, rec, sizeof(rec), &n), KDC_OK);
	assert_memory_equal(rec + 5, "\xff\xff\xff\xff\xff\xfe", 6);
	assert_int_equal(kdc_dtlsmem_push(&p->s2c, rec, n), 0);
	client_reads(p, "last");
	assert_int_equal(p->r.wr.seq, SEQ_MAX);
	assert_int_equal(kdc_rec_seal(&p->r, KDC_REC_APPDATA,
	    (const uint8_t *)"over", 4, rec, sizeof(rec), &n),
	    KDC_ERR_EXHAUSTED);
	assert_int_equal(n, 0);
	assert_int_equal(p->r.wr.seq, SEQ_MAX);

	pair_free(p);
}

/* Seal's limits: cap too small by one byte, plaintext over 2^14; the
 * sequence number is consumed on success only. */
static void
test_seal_limits(void **state)
{
	struct pair *p = pair_switched(&ciphers[4]);
	static uint8_t big[16385 + 64], out[16385 + 64];
	uint64_t seq = p->r.wr.seq;
	size_t n;

	(void)state;
	assert_int_equal(kdc_rec_seal(&p->r, KDC_REC_APPDATA, big, 10, out,
	    10 + kdc_rec_overhead(&p->r) - 1, &n), KDC_ERR_TOO_LARGE);
	assert_int_equal(kdc_rec_seal(&p->r, KDC_REC_APPDATA, big, 16385, out,
	    sizeof(out), &n), KDC_ERR_TOO_LARGE);
	assert_int_equal(p->r.wr.seq, seq);
	assert_int_equal(kdc_rec_seal(&p->r, KDC_REC_APPDATA, big, 10, out,
	    10 + kdc_rec_overhead(&p->r), &n), KDC_OK);
	assert_int_equal(n, 10 + kdc_rec_overhead(&p->r));
	assert_int_equal(p->r.wr.seq, seq + 1);
	assert_int_equal(kdc_dtlsmem_push(&p->s2c, out, n), 0);
	assert_int_equal(gnutls_record_recv(p->c, out, sizeof(out)), 10);
	pair_free(p);
}

/* (g) CHACHA20-POLY1305 (implicit nonce) -> UNSUPPORTED, r zeroed; a
 * session before its handshake -> TLS. */
static void
test_export_refused(void **state)
{
	struct pair *p = pair_new("CHACHA20-POLY1305");
	struct kdc_rec r, zero;
	gnutls_session_t s;

	(void)state;
	memset(&zero, 0, sizeof(zero));
	memset(&r, 0xa5, sizeof(r));
	assert_int_equal(gnutls_cipher_get(p->s), GNUTLS_CIPHER_CHACHA20_POLY1305);
	assert_int_equal(kdc_rec_export(&r, p->s), KDC_ERR_UNSUPPORTED);
	assert_memory_equal(&r, &zero, sizeof(r));
	pair_free(p);

	assert_int_equal(gnutls_init(&s, GNUTLS_SERVER | GNUTLS_DATAGRAM), 0);
	assert_int_equal(kdc_rec_export(&r, s), KDC_ERR_TLS);
	gnutls_deinit(s);
	assert_int_equal(kdc_rec_export(&r, NULL), KDC_ERR_INVALID_ARG);

	/* a state without a cipher seals and opens nothing */
	{
		uint8_t out[64], type;
		const uint8_t *pt;
		size_t n;

		assert_int_equal(kdc_rec_seal(&zero, KDC_REC_APPDATA,
		    (const uint8_t *)"x", 1, out, sizeof(out), &n),
		    KDC_ERR_INVALID_ARG);
		memset(out, 0, sizeof(out));
		out[0] = 23; out[1] = 0xfe; out[2] = 0xfd; out[12] = 30;
		assert_int_equal(kdc_rec_open(&zero, out, 43, &type, &pt, &n),
		    KDC_ERR_INVALID_ARG);
	}
}

/* kdc_rec_header: versions, the fragment limit, several records in
 * one datagram. */
static void
test_header(void **state)
{
	uint8_t dg[64 + 2 * KDC_REC_HDR], type;
	uint16_t ep;
	uint64_t seq;
	size_t rl, off = 0;
	int k = 0;

	(void)state;
	memset(dg, 0, sizeof(dg));
	/* record 1: handshake, DTLS 1.0, epoch 0, seq 0x010203040506,
	 * 10 bytes; record 2: appdata, 1.2, epoch 1, seq 7, rest */
	memcpy(dg, "\x16\xfe\xff\x00\x00\x01\x02\x03\x04\x05\x06\x00\x0a",
	    KDC_REC_HDR);
	memcpy(dg + 23, "\x17\xfe\xfd\x00\x01\x00\x00\x00\x00\x00\x07\x00",
	    12);
	dg[23 + 12] = (uint8_t)(sizeof(dg) - 23 - KDC_REC_HDR);
	while (off < sizeof(dg)) {
		assert_int_equal(kdc_rec_header(dg + off, sizeof(dg) - off,
		    &type, &ep, &seq, &rl), KDC_OK);
		if (k == 0) {
			assert_int_equal(type, KDC_REC_HANDSHAKE);
			assert_int_equal(ep, 0);
			assert_int_equal(seq, 0x010203040506ULL);
			assert_int_equal(rl, 23);
		} else {
			assert_int_equal(type, KDC_REC_APPDATA);
			assert_int_equal(ep, 1);
			assert_int_equal(seq, 7);
			assert_int_equal(rl, sizeof(dg) - 23);
		}
		off += rl;
		k++;
	}
	assert_int_equal(k, 2);
	/* version 1.1 (TLS's 0x0302, DTLS's 0xfefe does not exist) */
	dg[2] = 0xfe;
	assert_int_equal(kdc_rec_header(dg, sizeof(dg), &type, &ep, &seq,
	    &rl), KDC_ERR_MALFORMED);
	dg[1] = 0x03;
	dg[2] = 0x03;
	assert_int_equal(kdc_rec_header(dg, sizeof(dg), &type, &ep, &seq,
	    &rl), KDC_ERR_MALFORMED);
	/* fragment length 2^14 + 2048 ok (truncated), one more malformed */
	dg[1] = 0xfe;
	dg[2] = 0xfd;
	dg[11] = 0x48;
	dg[12] = 0x00;
	assert_int_equal(kdc_rec_header(dg, sizeof(dg), &type, &ep, &seq,
	    &rl), KDC_ERR_TRUNCATED);
	dg[12] = 0x01;
	assert_int_equal(kdc_rec_header(dg, sizeof(dg), &type, &ep, &seq,
	    &rl), KDC_ERR_MALFORMED);
	assert_int_equal(kdc_rec_header(NULL, 0, &type, &ep, &seq, &rl),
	    KDC_ERR_TRUNCATED);
}

/* kdc_rec_wipe zeroes keys and all. */
static void
test_wipe(void **state)
{
	struct pair *p = pair_switched(&ciphers[0]);
	struct kdc_rec zero;
	uint8_t nz = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(p->r.rd.key); i++)
		nz |= p->r.rd.key[i] | p->r.wr.key[i];
	assert_int_not_equal(nz, 0);
	kdc_rec_wipe(&p->r);
	memset(&zero, 0, sizeof(zero));
	assert_memory_equal(&p->r, &zero, sizeof(zero));
	kdc_rec_wipe(NULL);
	pair_free(p);
}

/* Records sealed by another implementation (Python's cryptography, i.e.
 * OpenSSL: fuzz/seeds.py, fuzz_dtlsrec's fixed key) open, in one
 * datagram of three, for every cipher. */
static void
test_independent(void **state)
{
	static const char *names[] = { "ccm8-3recs", "ccm-3recs",
	    "ccm256-3recs", "gcm-3recs", "gcm256-3recs", "ccm8-256-3recs" };
	static const uint8_t cipher[] = { KDC_REC_AES128_CCM8,
	    KDC_REC_AES128_CCM, KDC_REC_AES256_CCM, KDC_REC_AES128_GCM,
	    KDC_REC_AES256_GCM, KDC_REC_AES256_CCM8 };

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[512];
		struct kdc_rec r;
		uint8_t *dg, type, t2;
		uint16_t ep;
		uint64_t seq;
		const uint8_t *pt;
		size_t len, off = 1, rl, pl;
		int k = 0;

		snprintf(path, sizeof(path), "%s/fuzz/corpus/dtlsrec/%s",
		    KDC_SOURCE_DIR, names[i]);
		assert_non_null(dg = kdc_test_read_file(path, &len));
		assert_int_equal(1 + dg[0] % 6, cipher[i]);
		memset(&r, 0, sizeof(r));
		r.cipher = cipher[i];
		r.epoch = 1;
		for (unsigned j = 0; j < sizeof(r.rd.key); j++)
			r.rd.key[j] = (uint8_t)j;
		memcpy(r.rd.salt, "\xa0\xa1\xa2\xa3", 4);
		while (off < len) {
			assert_int_equal(kdc_rec_header(dg + off, len - off,
			    &type, &ep, &seq, &rl), KDC_OK);
			assert_int_equal(kdc_rec_open(&r, dg + off, rl, &t2,
			    &pt, &pl), KDC_OK);
			assert_int_equal(t2, type);
			if (k == 0) {
				assert_int_equal(type, KDC_REC_APPDATA);
				assert_true(pl > 4 && pt[0] == 0x41);
			} else if (k == 1) {
				assert_int_equal(type, KDC_REC_ALERT);
				assert_int_equal(pl, 2);
				assert_memory_equal(pt, "\x01\x00", 2);
			} else {
				assert_int_equal(pl, 13 * 4);
				assert_memory_equal(pt, "second record", 13);
			}
			off += rl;
			k++;
		}
		assert_int_equal(k, 3);
		assert_int_equal(r.rd.seq, 3);
		assert_int_equal(r.window, 0x7);	/* 3, 2, 1 */
		free(dg);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interop),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_epoch),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_exhausted),
		cmocka_unit_test(test_seal_limits),
		cmocka_unit_test(test_export_refused),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_wipe),
		cmocka_unit_test(test_independent),
	};
	int r;

	if (gnutls_global_init() < 0)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	gnutls_global_deinit();
	return r;
}
