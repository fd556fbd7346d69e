/*
 * bench_est_direct: a measurement, not a server. What would the EST
 * enrollment of the `make bench` load cost on a GnuTLS-direct DTLS loop
 * instead of libcoap (DESIGN §2 keeps that door open; docs/perf.md)?
 *
 * One thread, one UDP socket on 127.0.0.1:PORT: the HelloVerifyRequest
 * cookie round (gnutls_dtls_cookie_send/verify), DTLS 1.2 PSK handshakes
 * whose keys come from core (kdc_core_auth_psk(), as the daemon's), and
 * for each POST .well-known/est/sen the daemon's enrollment itself
 * (kdc_core_enroll(): checks, CSR verify, sign, store commit and audit),
 * answered piggybacked (2.04, Content-Format 287). The store, CA and
 * devices are made here, in DIR (an empty directory the caller removes;
 * the devices are the JSON Lines of `bench_est manifest` on stdin). Left
 * out, because bench_est does not need them on loopback: DTLS
 * retransmission timers, CoAP deduplication, block-wise transfer, every
 * other path. It listens on loopback only; the CoAP it reads is only what
 * bench_est sends, bounded by the record.
 *
 * usage: bench_est_direct DIR PORT IDLE_SECONDS < manifest.jsonl
 *   serves until IDLE_SECONDS pass without a datagram after the first
 *   one; prints enrollments=N refused=R cpu_us=U (process CPU time per
 *   enrollment, from the first datagram to the last answer)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/dtls.h>
#include <gnutls/gnutls.h>

#include "core/config.h"
#include "core/core.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define PRIO	"NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+PSK:-CIPHER-ALL:" \
		"+AES-128-CCM-8"
#define NSESS	256
#define DGRAM	2048

struct sess {
	bool			 used;
	struct sockaddr_in	 a;
	gnutls_session_t	 s;
	bool			 up;		/* handshake done */
	struct kdc_principal		 who;
	const uint8_t		*in;		/* the datagram for pull() */
	size_t			 in_len;
};

static int fd = -1;
static struct kdc_core *core;
static struct sess sess[NSESS];
static long n_ok, n_refused;

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static ssize_t
push(gnutls_transport_ptr_t p, const void *d, size_t n)
{
	struct sess *x = p;

	return sendto(fd, d, n, 0, (struct sockaddr *)&x->a, sizeof(x->a));
}

static ssize_t
pull(gnutls_transport_ptr_t p, void *d, size_t n)
{
	struct sess *x = p;

	if (x->in == NULL) {
		errno = EAGAIN;
		return -1;
	}
	if (n > x->in_len)
		n = x->in_len;
	memcpy(d, x->in, n);
	x->in = NULL;
	return (ssize_t)n;
}

static int
pull_timeout(gnutls_transport_ptr_t p, unsigned ms)
{
	(void)ms;
	return ((struct sess *)p)->in != NULL;
}

/* The cookie round's answer goes straight to the sender. */
static ssize_t
push_to(void *p, const void *d, size_t n)
{
	const struct sockaddr_in *a = p;

	return sendto(fd, d, n, 0, (const struct sockaddr *)a, sizeof(*a));
}

/* PSK from core, as the daemon's DTLS layer asks for it. */
static int
psk_cb(gnutls_session_t s, const gnutls_datum_t *user, gnutls_datum_t *key)
{
	struct sess *x = gnutls_session_get_ptr(s);
	uint8_t psk[KDC_PSK_MAX];
	size_t len = sizeof(psk);
	char id[KDC_PSK_IDENTITY_MAX + 1];

	if (user->size > KDC_PSK_IDENTITY_MAX)
		return -1;
	memcpy(id, user->data, user->size);
	id[user->size] = '\0';
	if (kdc_core_auth_psk(core, "coap", id, psk, &len, &x->who) != KDC_OK)
		return -1;
	if ((key->data = gnutls_malloc(len)) == NULL)
		return -1;
	memcpy(key->data, psk, len);
	key->size = (unsigned)len;
	kdc_wipe(psk, sizeof(psk));
	return 0;
}

static void
sess_end(struct sess *x)
{
	gnutls_deinit(x->s);
	memset(x, 0, sizeof(*x));
}

/* One CoAP request (what bench_est sends: CON POST, Uri-Path,
 * Content-Format, Accept, payload); the answer piggybacked. */
static void
request(struct sess *x, const uint8_t *m, size_t len)
{
	char path[64] = "";
	size_t pl = 0, i, tkl, n = 0;
	unsigned opt = 0;
	uint8_t out[DGRAM];
	struct kdc_enroll e;
	uint8_t code = 0x84;	/* 4.04 */

	if (len < 4 || (m[0] >> 6) != 1 || (m[0] & 0x0f) > 8 ||
	    ((m[0] >> 4) & 3) != 0)
		return;
	tkl = m[0] & 0x0f;
	if ((i = 4 + tkl) > len)
		return;
	while (i < len && m[i] != 0xff) {
		unsigned d = m[i] >> 4, l = m[i] & 0x0f;

		i++;
		if (d == 13 && i < len)
			d = 13u + m[i++];
		else if (d > 12)
			return;
		if (l == 13 && i < len)
			l = 13u + m[i++];
		else if (l > 12)
			return;
		if (i + l > len)
			return;
		opt += d;
		if (opt == 11 && pl + l + 1 < sizeof(path)) {
			if (pl > 0)
				path[pl++] = '/';
			memcpy(path + pl, m + i, l);
			pl += l;
			path[pl] = '\0';
		}
		i += l;
	}
	if (i < len)
		i++;		/* payload marker */
	memset(&e, 0, sizeof(e));
	if (m[1] == 0x02 && strcmp(path, ".well-known/est/sen") == 0) {
		e.op = KDC_ENROLL_SEN;
		e.who = x->who;
		e.csr = m + i;
		e.csr_len = len - i;
		if (kdc_core_enroll(core, "lwm2m", &e) == KDC_OK &&
		    e.is.cert_len + 16 + tkl < sizeof(out)) {
			code = 0x44;	/* 2.04 */
			n_ok++;
		} else {
			code = 0x80;	/* 4.00 */
			n_refused++;
		}
	}
	out[n++] = (uint8_t)(0x60 | tkl);	/* ACK */
	out[n++] = code;
	out[n++] = m[2];
	out[n++] = m[3];
	memcpy(out + n, m + 4, tkl);
	n += tkl;
	if (code == 0x44) {
		out[n++] = 0xc2;		/* Content-Format 287 */
		out[n++] = 287 >> 8;
		out[n++] = 287 & 0xff;
		out[n++] = 0xff;
		memcpy(out + n, e.is.cert, e.is.cert_len);
		n += e.is.cert_len;
	}
	(void)gnutls_record_send(x->s, out, n);
	kdc_enroll_wipe(&e);
}

static void
datagram(const struct sockaddr_in *a, const uint8_t *d, size_t len,
    gnutls_datum_t *ckey, gnutls_priority_t prio,
    gnutls_psk_server_credentials_t cred)
{
	struct sess *x = NULL, *fr = NULL;
	gnutls_dtls_prestate_st pre;
	uint8_t rec[DGRAM];
	ssize_t r;

	for (int i = 0; i < NSESS; i++) {
		if (sess[i].used && sess[i].a.sin_port == a->sin_port &&
		    sess[i].a.sin_addr.s_addr == a->sin_addr.s_addr) {
			x = &sess[i];
			break;
		}
		if (!sess[i].used && fr == NULL)
			fr = &sess[i];
	}
	if (x == NULL) {
		memset(&pre, 0, sizeof(pre));
		if (gnutls_dtls_cookie_verify(ckey, (void *)a, sizeof(*a),
		    (void *)d, len, &pre) < 0) {
			gnutls_dtls_cookie_send(ckey, (void *)a, sizeof(*a),
			    &pre, (gnutls_transport_ptr_t)a, push_to);
			return;
		}
		if ((x = fr) == NULL)
			return;
		x->used = true;
		x->a = *a;
		if (gnutls_init(&x->s, GNUTLS_SERVER | GNUTLS_DATAGRAM |
		    GNUTLS_NONBLOCK) < 0 ||
		    gnutls_priority_set(x->s, prio) < 0 ||
		    gnutls_credentials_set(x->s, GNUTLS_CRD_PSK, cred) < 0) {
			memset(x, 0, sizeof(*x));
			return;
		}
		gnutls_session_set_ptr(x->s, x);
		gnutls_transport_set_ptr(x->s, x);
		gnutls_transport_set_push_function(x->s, push);
		gnutls_transport_set_pull_function(x->s, pull);
		gnutls_transport_set_pull_timeout_function(x->s, pull_timeout);
		gnutls_dtls_prestate_set(x->s, &pre);
		gnutls_dtls_set_mtu(x->s, 1280);
	}
	x->in = d;
	x->in_len = len;
	if (!x->up) {
		r = gnutls_handshake(x->s);
		if (r == 0)
			x->up = true;
		else if (gnutls_error_is_fatal((int)r))
			sess_end(x);
		return;
	}
	r = gnutls_record_recv(x->s, rec, sizeof(rec));
	if (r > 0)
		request(x, rec, (size_t)r);
	else if (r == 0 || gnutls_error_is_fatal((int)r))
		sess_end(x);	/* close_notify, or broken */
}

static int
setup(const char *dir)
{
	struct kdc_keyring *kr = NULL;
	struct kdc_store *st = NULL;
	struct kdc_ca *ca = NULL;
	static struct kdc_config cfg;
	char db[4096], why[256] = "";
	uint8_t key[32];
	size_t cap = 1 << 20, len = 0, count = 0, bad = 0;
	char *buf = malloc(cap);
	ssize_t got;

	while (buf != NULL && (got = read(0, buf + len, cap - len)) > 0)
		if ((len += (size_t)got) == cap &&
		    (buf = realloc(buf, cap *= 2)) == NULL)
			break;
	if (buf == NULL || kdc_crypto_init() != KDC_OK ||
	    kdc_random(key, sizeof(key)) != KDC_OK ||
	    kdc_keyring_from_bytes(key, &kr) != KDC_OK ||
	    kdc_ca_create(dir, kr, NULL, 3650) != KDC_OK ||
	    kdc_ca_load(dir, kr, NULL, &ca) != KDC_OK)
		return -1;
	snprintf(db, sizeof(db), "%s/kdc.db", dir);
	kdc_config_defaults(&cfg);
	if (kdc_store_open(db, 1, &st) != KDC_OK ||
	    kdc_core_new(st, kr, ca, &cfg, &core) != KDC_OK ||
	    kdc_core_device_import(core, "bench", buf, len, &count, &bad,
	    why, sizeof(why)) != KDC_OK) {
		fprintf(stderr, "bench_est_direct: setup: %s\n", why);
		return -1;
	}
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in a;
	gnutls_datum_t ckey;
	gnutls_priority_t prio;
	gnutls_psk_server_credentials_t cred;
	uint8_t d[DGRAM];
	double t0 = 0, t1 = 0;
	int idle_ms;

	if (argc != 4) {
		fprintf(stderr, "usage: bench_est_direct DIR PORT IDLE_SECONDS "
		    "< manifest.jsonl\n");
		return 2;
	}
	idle_ms = atoi(argv[3]) * 1000;
	if (setup(argv[1]) != 0 ||
	    gnutls_key_generate(&ckey, GNUTLS_COOKIE_KEY_SIZE) < 0 ||
	    gnutls_priority_init(&prio, PRIO, NULL) < 0 ||
	    gnutls_psk_allocate_server_credentials(&cred) < 0)
		return 1;
	gnutls_psk_set_server_credentials_function2(cred, psk_cb);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)atoi(argv[2]));
	a.sin_addr.s_addr = htonl(0x7f000001);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		perror("bench_est_direct: bind");
		return 1;
	}
	fprintf(stderr, "bench_est_direct: ready\n");
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n;

		if (poll(&p, 1, t0 > 0 ? idle_ms : -1) == 0)
			break;
		if ((n = recvfrom(fd, d, sizeof(d), 0, (struct sockaddr *)&from,
		    &fl)) <= 0 || fl != sizeof(from))
			continue;
		if (t0 == 0)
			t0 = cpu_now();
		datagram(&from, d, (size_t)n, &ckey, prio, cred);
		t1 = cpu_now();
	}
	printf("enrollments=%ld refused=%ld cpu_us=%.1f\n", n_ok, n_refused,
	    n_ok > 0 ? (t1 - t0) * 1e6 / (double)n_ok : 0.0);
	return 0;
}
