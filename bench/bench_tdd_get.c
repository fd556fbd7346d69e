/*
 * bench_tdd_get: an HTTPS load client of our own (GnuTLS, TLS 1.3, a
 * client certificate), for the GET /things/{id} rows of make bench-tdd
 * (issue 17 §4): CONNS keep-alive connections, one thread each, each
 * sending one request and reading its whole answer before the next (no
 * pipelining), for SECONDS after every connection's handshake.
 *
 *   bench_tdd_get PORT CA_PEM CERT_PEM KEY_PEM CONNS SECONDS PATHS
 *
 * PATHS: @FILE, a file of request paths, one a line (connection k
 * starts at line k * lines / CONNS and goes round), or one path.
 * The server's certificate is verified against CA_PEM (no host name).
 * Prints one line:
 *   requests=N seconds=S rate=R ok=N other=N reconnects=N bytes=B
 * (ok: 200 answers; other: any other status, counted, not retried)
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#define CONNS_MAX	64

static gnutls_certificate_credentials_t cred;
static int port;
static char **paths;
static size_t npaths;
static pthread_barrier_t ready;
static atomic_bool stop;

struct worker {
	pthread_t	 th;
	size_t		 next;
	unsigned long	 ok, other, reconnects, bytes;
	int		 fail;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct conn {
	int			 fd;
	gnutls_session_t	 s;
	char			 buf[1 << 16];
	size_t			 have;
};

static void
conn_close(struct conn *c)
{
	if (c->s != NULL) {
		gnutls_deinit(c->s);
		c->s = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->have = 0;
}

static int
conn_open(struct conn *c)
{
	struct sockaddr_in a;
	int one = 1, r;

	c->have = 0;
	if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    gnutls_init(&c->s, GNUTLS_CLIENT) != GNUTLS_E_SUCCESS ||
	    gnutls_priority_set_direct(c->s, "NORMAL:-VERS-ALL:+VERS-TLS1.3",
	    NULL) != GNUTLS_E_SUCCESS ||
	    gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, cred) !=
	    GNUTLS_E_SUCCESS) {
		conn_close(c);
		return -1;
	}
	gnutls_session_set_verify_cert(c->s, NULL, 0);
	gnutls_transport_set_int(c->s, c->fd);
	do
		r = gnutls_handshake(c->s);
	while (r < 0 && gnutls_error_is_fatal(r) == 0);
	if (r < 0) {
		fprintf(stderr, "bench_tdd_get: handshake: %s\n",
		    gnutls_strerror(r));
		conn_close(c);
		return -1;
	}
	return 0;
}

/* more bytes into c->buf: -1 on close or error */
static int
fill(struct conn *c)
{
	ssize_t n;

	if (c->have == sizeof(c->buf))
		return -1;
	do
		n = gnutls_record_recv(c->s, c->buf + c->have,
		    sizeof(c->buf) - c->have);
	while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
	if (n <= 0)
		return -1;
	c->have += (size_t)n;
	return 0;
}

/* one request and its whole answer: the status, -1 when the connection
 * broke */
static int
exchange(struct conn *c, const char *path, unsigned long *bytes)
{
	char req[2048], *e;
	size_t hl, body, total;
	int n, status;
	ssize_t w;

	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:"
	    "%d\r\nAccept: application/td+json, application/json\r\n\r\n",
	    path, port);
	do
		w = gnutls_record_send(c->s, req, (size_t)n);
	while (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED);
	if (w != n)
		return -1;
	for (;;) {
		if (c->have > 0) {
			c->buf[c->have < sizeof(c->buf) ? c->have :
			    sizeof(c->buf) - 1] = '\0';
			if ((e = strstr(c->buf, "\r\n\r\n")) != NULL)
				break;
		}
		if (fill(c) != 0)
			return -1;
	}
	hl = (size_t)(e - c->buf) + 4;
	if (sscanf(c->buf, "HTTP/1.1 %d", &status) != 1)
		return -1;
	body = 0;
	for (char *p = c->buf; p < e; p = strstr(p, "\r\n") + 2) {
		if (strncasecmp(p, "Content-Length:", 15) == 0)
			body = strtoul(p + 15, NULL, 10);
		if (strstr(p, "\r\n") == NULL)
			break;
	}
	total = hl + body;
	while (c->have < total) {
		if (c->have == sizeof(c->buf)) {	/* a large body: drop */
			total -= c->have;
			*bytes += c->have;
			c->have = 0;
			hl = 0;
			continue;
		}
		if (fill(c) != 0)
			return -1;
	}
	*bytes += total;
	memmove(c->buf, c->buf + total, c->have - total);
	c->have -= total;
	return status;
}

static void *
work(void *arg)
{
	struct worker *w = arg;
	struct conn c;
	bool ok;

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	ok = conn_open(&c) == 0;
	if (!ok)
		w->fail = 1;
	pthread_barrier_wait(&ready);
	while (ok && !atomic_load(&stop)) {
		int st = exchange(&c, paths[w->next], &w->bytes);

		if (st < 0) {
			if (atomic_load(&stop))
				break;
			conn_close(&c);
			w->reconnects++;
			if (conn_open(&c) != 0) {
				w->fail = 1;
				break;
			}
			continue;
		}
		if (st == 200)
			w->ok++;
		else if (w->other++ == 0)
			fprintf(stderr, "bench_tdd_get: %s: status %d\n",
			    paths[w->next], st);
		w->next = (w->next + 1) % npaths;
	}
	conn_close(&c);
	return NULL;
}

static int
load_paths(const char *arg)
{
	char line[2048];
	FILE *f;
	size_t cap = 0;

	if (arg[0] != '@') {
		paths = malloc(sizeof(*paths));
		paths[0] = strdup(arg);
		npaths = 1;
		return arg[0] == '/' ? 0 : -1;
	}
	if ((f = fopen(arg + 1, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] != '/')
			continue;
		if (npaths == cap) {
			cap = cap == 0 ? 1024 : cap * 2;
			paths = realloc(paths, cap * sizeof(*paths));
		}
		paths[npaths++] = strdup(line);
	}
	fclose(f);
	return npaths > 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct worker w[CONNS_MAX];
	unsigned long ok = 0, other = 0, rec = 0, bytes = 0;
	double t0, t1, secs;
	int conns, fail = 0;

	if (argc != 8) {
		fprintf(stderr, "usage: bench_tdd_get PORT CA_PEM CERT_PEM "
		    "KEY_PEM CONNS SECONDS PATHS\n");
		return 2;
	}
	port = atoi(argv[1]);
	conns = atoi(argv[5]);
	secs = atof(argv[6]);
	if (conns < 1 || conns > CONNS_MAX || secs <= 0 ||
	    load_paths(argv[7]) != 0) {
		fprintf(stderr, "bench_tdd_get: bad arguments\n");
		return 2;
	}
	gnutls_global_init();
	if (gnutls_certificate_allocate_credentials(&cred) != 0 ||
	    gnutls_certificate_set_x509_trust_file(cred, argv[2],
	    GNUTLS_X509_FMT_PEM) <= 0 ||
	    gnutls_certificate_set_x509_key_file(cred, argv[3], argv[4],
	    GNUTLS_X509_FMT_PEM) != 0) {
		fprintf(stderr, "bench_tdd_get: credentials\n");
		return 1;
	}
	pthread_barrier_init(&ready, NULL, (unsigned)conns + 1);
	memset(w, 0, sizeof(w));
	for (int i = 0; i < conns; i++) {
		w[i].next = (size_t)i * npaths / (size_t)conns;
		pthread_create(&w[i].th, NULL, work, &w[i]);
	}
	pthread_barrier_wait(&ready);
	t0 = now_s();
	while ((t1 = now_s()) - t0 < secs)
		usleep(10000);
	atomic_store(&stop, true);
	t1 = now_s();
	for (int i = 0; i < conns; i++) {
		pthread_join(w[i].th, NULL);
		ok += w[i].ok;
		other += w[i].other;
		rec += w[i].reconnects;
		bytes += w[i].bytes;
		fail |= w[i].fail;
	}
	printf("requests=%lu seconds=%.2f rate=%.0f ok=%lu other=%lu "
	    "reconnects=%lu bytes=%lu\n", ok + other, t1 - t0,
	    (double)(ok + other) / (t1 - t0), ok, other, rec, bytes);
	return fail ? 1 : 0;
}
