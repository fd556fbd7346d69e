/*
 * bench_record: our DTLS 1.2 record layer (src/coap/record.c) against
 * GnuTLS's own record layer on the same session, in one run. A GnuTLS
 * client and server do a PSK handshake in memory (as bench_dtls_psk),
 * the server's state is exported with kdc_rec_export(), then for a 40-byte
 * and a 1 KiB plaintext:
 *   gnutls send: gnutls_record_send() on the server (into a memory queue)
 *   ours seal:   kdc_rec_seal()
 *   gnutls recv: gnutls_record_recv() on the server of a client record
 *   ours open:   kdc_rec_open() of a client record
 * and the cost of the per-call AEAD handle (gnutls_aead_cipher_init +
 * deinit) that seal and open include. The GnuTLS figures are measured
 * before and after ours; both are printed.
 * usage: bench_record [SECONDS per figure, default 0.5] [CIPHER, default
 *   AES-128-CCM-8]
 * prints per size: ns per op of each, and ours / gnutls ratios.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/dtls.h>

#include "coap/record.h"

#define QCAP	256
#define DMAX	1500
#define BATCH	128	/* client records made per timed batch of opens */

struct queue {
	unsigned	head, n;
	size_t		len[QCAP];
	unsigned char	buf[QCAP][DMAX];
};

static struct queue c2s, s2c;

struct end {
	struct queue	*in, *out;
	gnutls_session_t s;
};

static int
q_push(struct queue *q, const void *d, size_t n)
{
	unsigned t;

	if (q->n == QCAP || n > DMAX)
		return -1;
	t = (q->head + q->n++) % QCAP;
	memcpy(q->buf[t], d, n);
	q->len[t] = n;
	return 0;
}

static ssize_t
q_pop(struct queue *q, void *d, size_t cap)
{
	size_t n;

	if (q->n == 0)
		return -1;
	n = q->len[q->head];
	if (n > cap)
		n = cap;
	memcpy(d, q->buf[q->head], n);
	q->head = (q->head + 1) % QCAP;
	q->n--;
	return (ssize_t)n;
}

static ssize_t
push_cb(gnutls_transport_ptr_t p, const void *d, size_t n)
{
	struct end *e = p;

	if (q_push(e->out, d, n) != 0) {
		gnutls_transport_set_errno(e->s, ENOBUFS);
		return -1;
	}
	return (ssize_t)n;
}

static ssize_t
pull_cb(gnutls_transport_ptr_t p, void *d, size_t n)
{
	struct end *e = p;
	ssize_t r = q_pop(e->in, d, n);

	if (r < 0)
		gnutls_transport_set_errno(e->s, EAGAIN);
	return r;
}

static int
pull_timeout_cb(gnutls_transport_ptr_t p, unsigned ms)
{
	struct end *e = p;

	(void)ms;
	return e->in->n > 0 ? 1 : 0;
}

static const unsigned char psk_key[16] = {
	0x65, 0xbe, 0xfe, 0x07, 0xfb, 0x9a, 0x9f, 0x00,
	0x83, 0x3d, 0x18, 0xe4, 0x75, 0x09, 0x0b, 0x0b,
};

static int
server_psk_cb(gnutls_session_t s, const char *user, gnutls_datum_t *key)
{
	(void)s;
	(void)user;
	if ((key->data = gnutls_malloc(sizeof(psk_key))) == NULL)
		return -1;
	memcpy(key->data, psk_key, sizeof(psk_key));
	key->size = sizeof(psk_key);
	return 0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void
die(const char *what)
{
	fprintf(stderr, "bench_record: %s\n", what);
	exit(1);
}

static gnutls_session_t c, s;
static struct kdc_rec rec;
static unsigned char pt[1024];
static double secs = 0.5;

/* ns per gnutls_record_send() of n bytes on the server */
static double
gnutls_send(size_t n)
{
	unsigned char dg[DMAX];
	double t0 = now(), t;
	long k = 0;

	do {
		for (int i = 0; i < 64; i++) {
			if (gnutls_record_send(s, pt, n) != (ssize_t)n)
				die("gnutls_record_send");
			(void)q_pop(&s2c, dg, sizeof(dg));
		}
		k += 64;
	} while ((t = now()) - t0 < secs * 1e9);
	return (t - t0) / (double)k;
}

static double
ours_seal(size_t n)
{
	unsigned char out[DMAX];
	size_t len;
	double t0 = now(), t;
	long k = 0;

	do {
		for (int i = 0; i < 64; i++)
			if (kdc_rec_seal(&rec, KDC_REC_APPDATA, pt, n, out,
			    sizeof(out), &len) != KDC_OK)
				die("kdc_rec_seal");
		k += 64;
	} while ((t = now()) - t0 < secs * 1e9);
	return (t - t0) / (double)k;
}

/* BATCH client records of n bytes into c2s (not timed) */
static void
client_batch(size_t n)
{
	for (int i = 0; i < BATCH; i++)
		if (gnutls_record_send(c, pt, n) != (ssize_t)n)
			die("client gnutls_record_send");
}

static double
gnutls_recv(size_t n)
{
	unsigned char buf[DMAX];
	double spent = 0, t0 = now(), m;
	long k = 0;

	do {
		client_batch(n);
		m = now();
		for (int i = 0; i < BATCH; i++)
			if (gnutls_record_recv(s, buf, sizeof(buf)) !=
			    (ssize_t)n)
				die("gnutls_record_recv");
		spent += now() - m;
		k += BATCH;
	} while (now() - t0 < secs * 1e9);
	return spent / (double)k;
}

static double
ours_open(size_t n)
{
	static unsigned char dg[BATCH][DMAX];
	size_t len[BATCH], pl;
	const uint8_t *p;
	uint8_t type;
	double spent = 0, t0 = now(), m;
	long k = 0;

	do {
		client_batch(n);
		for (int i = 0; i < BATCH; i++)
			len[i] = (size_t)q_pop(&c2s, dg[i], DMAX);
		m = now();
		for (int i = 0; i < BATCH; i++)
			if (kdc_rec_open(&rec, dg[i], len[i], &type, &p,
			    &pl) != KDC_OK || pl != n)
				die("kdc_rec_open");
		spent += now() - m;
		k += BATCH;
	} while (now() - t0 < secs * 1e9);
	return spent / (double)k;
}

/* ns per gnutls_aead_cipher_init + deinit (what seal and open pay per
 * call for holding raw keys only) */
static double
aead_setup(gnutls_cipher_algorithm_t algo)
{
	gnutls_datum_t k = { rec.wr.key,
	    (unsigned)gnutls_cipher_get_key_size(algo) };
	gnutls_aead_cipher_hd_t h;
	double t0 = now(), t;
	long n = 0;

	do {
		for (int i = 0; i < 64; i++) {
			if (gnutls_aead_cipher_init(&h, algo, &k) < 0)
				die("gnutls_aead_cipher_init");
			gnutls_aead_cipher_deinit(h);
		}
		n += 64;
	} while ((t = now()) - t0 < secs * 1e9);
	return (t - t0) / (double)n;
}

int
main(int argc, char **argv)
{
	gnutls_psk_client_credentials_t ccred;
	gnutls_psk_server_credentials_t scred;
	gnutls_datum_t key = { (unsigned char *)psk_key, sizeof(psk_key) };
	struct end ce = { &s2c, &c2s, NULL }, se = { &c2s, &s2c, NULL };
	const char *cipher = "AES-128-CCM-8", *err = NULL;
	char prio[256];
	bool cdone = false, sdone = false;
	int r, spins = 0;

	if (argc > 1 && (secs = atof(argv[1])) <= 0)
		die("usage: bench_record [SECONDS] [CIPHER]");
	if (argc > 2)
		cipher = argv[2];
	snprintf(prio, sizeof(prio), "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:"
	    "+PSK:-CIPHER-ALL:+%s:-MAC-ALL:+AEAD", cipher);
	memset(pt, 'x', sizeof(pt));
	if (gnutls_global_init() < 0 ||
	    gnutls_psk_allocate_client_credentials(&ccred) < 0 ||
	    gnutls_psk_set_client_credentials(ccred, "bench0", &key,
	    GNUTLS_PSK_KEY_RAW) < 0 ||
	    gnutls_psk_allocate_server_credentials(&scred) < 0)
		die("setup");
	gnutls_psk_set_server_credentials_function(scred, server_psk_cb);
	if (gnutls_init(&c, GNUTLS_CLIENT | GNUTLS_DATAGRAM |
	    GNUTLS_NONBLOCK) < 0 || gnutls_init(&s, GNUTLS_SERVER |
	    GNUTLS_DATAGRAM | GNUTLS_NONBLOCK) < 0 ||
	    gnutls_priority_set_direct(c, prio, &err) < 0 ||
	    gnutls_priority_set_direct(s, prio, &err) < 0 ||
	    gnutls_credentials_set(c, GNUTLS_CRD_PSK, ccred) < 0 ||
	    gnutls_credentials_set(s, GNUTLS_CRD_PSK, scred) < 0)
		die("session setup (cipher name?)");
	ce.s = c;
	se.s = s;
	gnutls_transport_set_ptr(c, &ce);
	gnutls_transport_set_ptr(s, &se);
	gnutls_transport_set_push_function(c, push_cb);
	gnutls_transport_set_push_function(s, push_cb);
	gnutls_transport_set_pull_function(c, pull_cb);
	gnutls_transport_set_pull_function(s, pull_cb);
	gnutls_transport_set_pull_timeout_function(c, pull_timeout_cb);
	gnutls_transport_set_pull_timeout_function(s, pull_timeout_cb);
	while (!cdone || !sdone) {
		if (++spins > 100)
			die("handshake stuck");
		if (!cdone && (r = gnutls_handshake(c)) == 0)
			cdone = true;
		else if (!cdone && gnutls_error_is_fatal(r))
			die("client handshake");
		if (!sdone && (r = gnutls_handshake(s)) == 0)
			sdone = true;
		else if (!sdone && gnutls_error_is_fatal(r))
			die("server handshake");
	}
	/* one record each way, then the export (as the engine) */
	{
		unsigned char b[16];

		if (gnutls_record_send(c, "ping", 4) != 4 ||
		    gnutls_record_recv(s, b, sizeof(b)) != 4)
			die("first record");
	}
	if (kdc_rec_export(&rec, s) != KDC_OK)
		die("kdc_rec_export");

	printf("cipher=%s aead_init_deinit_ns=%.0f\n", cipher,
	    aead_setup(gnutls_cipher_get(s)));
	for (int i = 0; i < 2; i++) {
		size_t n = i == 0 ? 40 : 1024;
		double gs0 = gnutls_send(n), gr0 = gnutls_recv(n);
		double os = ours_seal(n), oo = ours_open(n);
		double gs1 = gnutls_send(n), gr1 = gnutls_recv(n);
		double gs = (gs0 + gs1) / 2, gr = (gr0 + gr1) / 2;

		printf("size=%zu seal_ns=%.0f gnutls_send_ns=%.0f (%.0f/%.0f) "
		    "ratio=%.2f | open_ns=%.0f gnutls_recv_ns=%.0f (%.0f/%.0f) "
		    "ratio=%.2f\n", n, os, gs, gs0, gs1, os / gs, oo, gr, gr0,
		    gr1, oo / gr);
	}
	kdc_rec_wipe(&rec);
	gnutls_deinit(c);
	gnutls_deinit(s);
	gnutls_psk_free_client_credentials(ccred);
	gnutls_psk_free_server_credentials(scred);
	gnutls_global_deinit();
	return 0;
}
