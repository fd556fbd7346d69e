/*
 * bench_record: our DTLS 1.2 record layer (src/coap/record.c) against
 * GnuTLS's own record layer on the same session, in one run. A GnuTLS
 * client and server do a PSK handshake in memory (tests/unit/dtlsmem.h),
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
#include "dtlsmem.h"

#define QCAP	256
#define DMAX	KDC_DTLSMEM_DMAX
#define BATCH	128	/* client records made per timed batch of opens */

static struct kdc_dtlsmem_queue c2s, s2c;

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
			(void)kdc_dtlsmem_pop(&s2c, dg, sizeof(dg));
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
			len[i] = (size_t)kdc_dtlsmem_pop(&c2s, dg[i], DMAX);
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
	struct kdc_dtlsmem_end ce = { &s2c, &c2s, NULL },
	    se = { &c2s, &s2c, NULL };
	const char *cipher = "AES-128-CCM-8";
	char prio[256];

	if (argc > 1 && (secs = atof(argv[1])) <= 0)
		die("usage: bench_record [SECONDS] [CIPHER]");
	if (argc > 2)
		cipher = argv[2];
	snprintf(prio, sizeof(prio), "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:"
	    "+PSK:-CIPHER-ALL:+%s:-MAC-ALL:+AEAD", cipher);
	memset(pt, 'x', sizeof(pt));
	kdc_dtlsmem_queue_init(&c2s, QCAP);
	kdc_dtlsmem_queue_init(&s2c, QCAP);
	if (gnutls_global_init() < 0 || kdc_dtlsmem_creds(&ccred, &scred) < 0)
		die("setup");
	if (kdc_dtlsmem_session(&c, &ce, GNUTLS_CLIENT, prio, ccred) < 0 ||
	    kdc_dtlsmem_session(&s, &se, GNUTLS_SERVER, prio, scred) < 0)
		die("session setup (cipher name?)");
	if (kdc_dtlsmem_handshake(c, s) < 0)
		die("handshake");
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
