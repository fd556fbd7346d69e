/*
 * bench_dtls_psk: the reference for the LwM2M bootstrap benchmark. Bare
 * GnuTLS DTLS 1.2 PSK handshakes per second, client and server in this
 * one thread over in-memory datagram queues (no sockets, no CoAP, no
 * store), TLS_PSK_WITH_AES_128_CCM_8 only (RFC 7925), the server doing
 * the HelloVerifyRequest cookie round first as ours does. Every handshake
 * is new sessions on both sides (credentials and priorities are set up
 * once, as a server would). Method: protocols/perf.md §0 (i) and §7.
 * usage: bench_dtls_psk SECONDS
 * prints: rate=R/s n=N seconds=S server_us=U client_us=V suite=NAME
 *   (U, V: thread CPU µs per handshake spent in server / client calls)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <gnutls/gnutls.h>
#include <gnutls/dtls.h>

#include "dtlsmem.h"

#define PRIO	"NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+PSK:-CIPHER-ALL:" \
		"+AES-128-CCM-8"
#define QCAP	16		/* datagrams in flight per direction */
#define DMAX	KDC_DTLSMEM_DMAX	/* largest datagram */

static struct kdc_dtlsmem_queue c2s, s2c;

/* gnutls_dtls_cookie_send's push: straight into s2c. */
static ssize_t
cookie_push_cb(gnutls_transport_ptr_t p, const void *d, size_t n)
{
	(void)p;
	return kdc_dtlsmem_push(&s2c, d, n) == 0 ? (ssize_t)n : -1;
}

static double
now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
fail(const char *what, int r)
{
	fprintf(stderr, "bench_dtls_psk: %s: %s\n", what, gnutls_strerror(r));
	return 1;
}

int
main(int argc, char **argv)
{
	gnutls_psk_client_credentials_t ccred;
	gnutls_psk_server_credentials_t scred;
	gnutls_priority_t prio;
	gnutls_datum_t cookie_key;
	struct sockaddr_in peer;
	struct kdc_dtlsmem_end ce = { &s2c, &c2s, NULL },
	    se = { &c2s, &s2c, NULL };
	double secs, t0, t, srv_cpu = 0, cli_cpu = 0, m;
	long n = 0;
	char suite[128] = "";
	int r;

	if (argc != 2 || (secs = atof(argv[1])) <= 0) {
		fprintf(stderr, "usage: bench_dtls_psk SECONDS\n");
		return 2;
	}
	kdc_dtlsmem_queue_init(&c2s, QCAP);
	kdc_dtlsmem_queue_init(&s2c, QCAP);
	if ((r = gnutls_global_init()) < 0 ||
	    (r = kdc_dtlsmem_creds(&ccred, &scred)) < 0 ||
	    (r = gnutls_priority_init(&prio, PRIO, NULL)) < 0 ||
	    (r = gnutls_key_generate(&cookie_key, GNUTLS_COOKIE_KEY_SIZE)) < 0)
		return fail("setup", r);
	memset(&peer, 0, sizeof(peer));
	peer.sin_family = AF_INET;
	peer.sin_addr.s_addr = htonl(0x7f000001);

	t0 = now(CLOCK_MONOTONIC);
	do {
		gnutls_session_t c = NULL, s = NULL;
		gnutls_dtls_prestate_st pre;
		unsigned char dg[DMAX];
		bool cdone = false, sdone = false;
		int spins = 0;

		c2s.n = s2c.n = 0;
		peer.sin_port = htons((uint16_t)(1024 + n % 60000));
		m = now(CLOCK_THREAD_CPUTIME_ID);
		if ((r = gnutls_init(&c, GNUTLS_CLIENT | GNUTLS_DATAGRAM |
		    GNUTLS_NONBLOCK)) < 0 ||
		    (r = gnutls_priority_set(c, prio)) < 0 ||
		    (r = gnutls_credentials_set(c, GNUTLS_CRD_PSK, ccred)) < 0)
			return fail("client init", r);
		kdc_dtlsmem_attach(c, &ce);
		cli_cpu += now(CLOCK_THREAD_CPUTIME_ID) - m;

		while (!cdone || !sdone) {
			if (++spins > 100) {
				fprintf(stderr, "bench_dtls_psk: handshake "
				    "stuck\n");
				return 1;
			}
			if (!cdone) {
				m = now(CLOCK_THREAD_CPUTIME_ID);
				r = gnutls_handshake(c);
				cli_cpu += now(CLOCK_THREAD_CPUTIME_ID) - m;
				if (r == 0)
					cdone = true;
				else if (r != GNUTLS_E_AGAIN &&
				    gnutls_error_is_fatal(r))
					return fail("client handshake", r);
			}
			m = now(CLOCK_THREAD_CPUTIME_ID);
			if (s == NULL) {
				/* stateless cookie round, as a server does
				 * before it allocates a session */
				ssize_t len = kdc_dtlsmem_pop(&c2s, dg, sizeof(dg));
				if (len < 0)
					continue;
				memset(&pre, 0, sizeof(pre));
				if (gnutls_dtls_cookie_verify(&cookie_key,
				    &peer, sizeof(peer), dg, (size_t)len,
				    &pre) < 0) {
					gnutls_dtls_cookie_send(&cookie_key,
					    &peer, sizeof(peer), &pre, NULL,
					    cookie_push_cb);
				} else {
					if ((r = gnutls_init(&s, GNUTLS_SERVER |
					    GNUTLS_DATAGRAM |
					    GNUTLS_NONBLOCK)) < 0 ||
					    (r = gnutls_priority_set(s,
					    prio)) < 0 ||
					    (r = gnutls_credentials_set(s,
					    GNUTLS_CRD_PSK, scred)) < 0)
						return fail("server init", r);
					kdc_dtlsmem_attach(s, &se);
					gnutls_dtls_prestate_set(s, &pre);
					kdc_dtlsmem_unshift(&c2s, dg, (size_t)len);
				}
			}
			if (s != NULL && !sdone) {
				r = gnutls_handshake(s);
				if (r == 0)
					sdone = true;
				else if (r != GNUTLS_E_AGAIN &&
				    gnutls_error_is_fatal(r))
					return fail("server handshake", r);
			}
			srv_cpu += now(CLOCK_THREAD_CPUTIME_ID) - m;
		}
		if (n == 0) {
			const char *name = gnutls_cipher_suite_get_name(
			    gnutls_kx_get(s), gnutls_cipher_get(s),
			    gnutls_mac_get(s));
			snprintf(suite, sizeof(suite), "%s", name ? name : "?");
			if (gnutls_kx_get(s) != GNUTLS_KX_PSK ||
			    gnutls_cipher_get(s) != GNUTLS_CIPHER_AES_128_CCM_8) {
				fprintf(stderr, "bench_dtls_psk: negotiated %s"
				    "\n", suite);
				return 1;
			}
		}
		m = now(CLOCK_THREAD_CPUTIME_ID);
		gnutls_deinit(s);
		srv_cpu += now(CLOCK_THREAD_CPUTIME_ID) - m;
		m = now(CLOCK_THREAD_CPUTIME_ID);
		gnutls_deinit(c);
		cli_cpu += now(CLOCK_THREAD_CPUTIME_ID) - m;
		n++;
	} while ((t = now(CLOCK_MONOTONIC)) - t0 < secs);

	printf("rate=%.0f/s n=%ld seconds=%.3f server_us=%.1f client_us=%.1f "
	    "suite=%s\n", (double)n / (t - t0), n, t - t0,
	    srv_cpu * 1e6 / (double)n, cli_cpu * 1e6 / (double)n, suite);
	gnutls_free(cookie_key.data);
	gnutls_priority_deinit(prio);
	gnutls_psk_free_server_credentials(scred);
	gnutls_psk_free_client_credentials(ccred);
	gnutls_global_deinit();
	return 0;
}
