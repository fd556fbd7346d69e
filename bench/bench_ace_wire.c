/*
 * bench_ace_wire: ACE access tokens from a running `iotkdc serve`, the
 * over-the-wire rows of the ACE benchmark (issue 15 §5). GnuTLS clients
 * of their own (no libcoap, no curl: their CPU would be on the daemon's
 * cores), the daemon's CPU read from /proc/PID/stat (utime + stime of
 * all its threads) right before the first request and right after the
 * last answer.
 *
 * coap: ONE DTLS 1.2 session (PSK, or a raw public key: RFC 7250) to the
 *   KDC CoAPS port, then CON POST /token (Content-Format 19, the CBOR
 *   body {5: AUD, 9: SCOPE}, with an RPK also {4: {1: COSE_Key}}, the
 *   client's own key as req_cnf: asymmetric PoP), WINDOW requests in
 *   flight on that session, each with its own MID and token; a CON is
 *   resent after 2 s (4 times at most); a separate response is
 *   acknowledged. Counts the 2.01 answers (the first is checked to be a
 *   CBOR map with an access_token), for SECONDS or N requests.
 *   bench_ace_wire coap PORT PID SECONDS N WINDOW AUD SCOPE psk IDENT HEXFILE
 *   bench_ace_wire coap PORT PID SECONDS N WINDOW AUD SCOPE rpk PUB KEY
 * https: PROCS processes, each a loop of NEW TCP connections with a TLS
 *   1.3 handshake (client certificate CERT/KEY, the server's chain
 *   checked against CA, no resumption) and one request, Connection:
 *   close: POST /token with the same CBOR body (application/ace+cbor,
 *   201 counted), or GET /api/v1/health (200 counted: the reference,
 *   the same handshake without a token).
 *   bench_ace_wire https PORT PID SECONDS PROCS CA CERT KEY (token AUD SCOPE | health)
 * prints: ok=N failed=F seconds=S rate=R/s server_cpu_us=U client_cpu_us=C
 *   [retransmits=T suite=NAME]  (U, C: CPU µs per answered request)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/dtls.h>

#define WIN_MAX		256
#define RETX_MS		2000
#define RETX_MAX	4

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* utime + stime of process pid (all threads), seconds; -1 on error. */
static double
proc_cpu(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* This process's and its waited-for children's CPU, seconds. */
static double
self_cpu(void)
{
	struct rusage a, b;

	getrusage(RUSAGE_SELF, &a);
	getrusage(RUSAGE_CHILDREN, &b);
	return (double)(a.ru_utime.tv_sec + a.ru_stime.tv_sec +
	    b.ru_utime.tv_sec + b.ru_stime.tv_sec) +
	    (double)(a.ru_utime.tv_usec + a.ru_stime.tv_usec +
	    b.ru_utime.tv_usec + b.ru_stime.tv_usec) / 1e6;
}

/* ---- the token request body ------------------------------------------- */

static size_t
cbor_head(uint8_t *o, unsigned major, size_t n)
{
	if (n < 24) {
		o[0] = (uint8_t)(major << 5 | n);
		return 1;
	}
	o[0] = (uint8_t)(major << 5 | 24);
	o[1] = (uint8_t)n;
	return 2;
}

/* {?4: {1: {1: 2, -1: 1, -2: x, -3: y}}, 5: aud, 9: scope}; keys in
 * ascending order (deterministic, RFC 8949 §4.2.1). */
static size_t
token_body(uint8_t *o, const char *aud, const char *scope,
    const uint8_t *x, const uint8_t *y)
{
	size_t n = 0, al = strlen(aud), sl = strlen(scope);

	o[n++] = x != NULL ? 0xa3 : 0xa2;
	if (x != NULL) {
		static const uint8_t h[] = { 0x04, 0xa1, 0x01, 0xa4, 0x01, 0x02,
		    0x20, 0x01, 0x21, 0x58, 0x20 };

		memcpy(o + n, h, sizeof(h));
		n += sizeof(h);
		memcpy(o + n, x, 32);
		n += 32;
		o[n++] = 0x22;
		o[n++] = 0x58;
		o[n++] = 0x20;
		memcpy(o + n, y, 32);
		n += 32;
	}
	o[n++] = 0x05;
	n += cbor_head(o + n, 3, al);
	memcpy(o + n, aud, al);
	n += al;
	o[n++] = 0x09;
	n += cbor_head(o + n, 3, sl);
	memcpy(o + n, scope, sl);
	return n + sl;
}

/* The P-256 point of a PEM public key, 32 bytes each. */
static int
pub_point(const char *file, uint8_t x[32], uint8_t y[32])
{
	gnutls_pubkey_t pk = NULL;
	gnutls_datum_t pem = { NULL, 0 }, dx = { NULL, 0 }, dy = { NULL, 0 };
	gnutls_ecc_curve_t curve;
	int ok;

	ok = gnutls_load_file(file, &pem) == 0 &&
	    gnutls_pubkey_init(&pk) == 0 &&
	    gnutls_pubkey_import(pk, &pem, GNUTLS_X509_FMT_PEM) == 0 &&
	    gnutls_pubkey_export_ecc_raw2(pk, &curve, &dx, &dy,
	    GNUTLS_EXPORT_FLAG_NO_LZ) == 0 && curve == GNUTLS_ECC_CURVE_SECP256R1 &&
	    dx.size <= 32 && dy.size <= 32;
	if (ok) {
		memset(x, 0, 32);
		memset(y, 0, 32);
		memcpy(x + 32 - dx.size, dx.data, dx.size);
		memcpy(y + 32 - dy.size, dy.data, dy.size);
	}
	gnutls_free(pem.data);
	gnutls_free(dx.data);
	gnutls_free(dy.data);
	gnutls_pubkey_deinit(pk);
	return ok ? 0 : -1;
}

/* ---- coap: one DTLS session, many requests in flight ---------------- */

struct slot {
	bool		busy;
	uint16_t	mid;
	uint32_t	tok;
	double		sent;
	int		tries;
};

static size_t
coap_post(uint8_t *m, uint16_t mid, uint32_t tok, const uint8_t *body,
    size_t body_len)
{
	size_t n = 0;

	m[n++] = 0x44;			/* ver 1, CON, TKL 4 */
	m[n++] = 0x02;			/* POST */
	m[n++] = (uint8_t)(mid >> 8);
	m[n++] = (uint8_t)mid;
	memcpy(m + n, &tok, 4);
	n += 4;
	m[n++] = 0xb5;			/* Uri-Path (11), 5 bytes */
	memcpy(m + n, "token", 5);
	n += 5;
	m[n++] = 0x11;			/* Content-Format (12), 1 byte */
	m[n++] = 19;			/* application/ace+cbor */
	m[n++] = 0xff;
	memcpy(m + n, body, body_len);
	return n + body_len;
}

static int
hexfile(const char *file, uint8_t *out, size_t cap, size_t *len)
{
	char buf[256];
	size_t n = 0;
	FILE *f = fopen(file, "r");

	if (f == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f) == NULL) {
		fclose(f);
		return -1;
	}
	fclose(f);
	for (char *p = buf; p[0] != '\0' && p[0] != '\n' && p[1] != '\0';
	    p += 2) {
		unsigned v;

		if (n == cap || sscanf(p, "%2x", &v) != 1)
			return -1;
		out[n++] = (uint8_t)v;
	}
	memset(buf, 0, sizeof(buf));
	*len = n;
	return n > 0 ? 0 : -1;
}

static int
run_coap(int argc, char **argv)
{
	uint16_t port = (uint16_t)atoi(argv[2]);
	long pid = atol(argv[3]);
	double secs = atof(argv[4]), t0, t_end, c0, s0, s1, c1, t1;
	unsigned long n_max = strtoul(argv[5], NULL, 10), sent = 0, ok = 0,
	    failed = 0, retx = 0, other = 0;
	unsigned win = (unsigned)atoi(argv[6]);
	const char *aud = argv[7], *scope = argv[8], *kind = argv[9];
	gnutls_session_t s = NULL;
	gnutls_psk_client_credentials_t pcred = NULL;
	gnutls_certificate_credentials_t xcred = NULL;
	struct sockaddr_in sa;
	struct slot slots[WIN_MAX];
	uint8_t body[256], m[512], in[2048], x[32], y[32];
	size_t body_len;
	uint16_t mid;
	uint32_t tok;
	bool checked = false;
	char suite[96];
	int fd, rc;

	if (argc != 12 || win == 0 || win > WIN_MAX || n_max == 0) {
		fprintf(stderr, "bench_ace_wire coap: bad arguments\n");
		return 2;
	}
	gnutls_rnd(GNUTLS_RND_NONCE, &mid, sizeof(mid));
	gnutls_rnd(GNUTLS_RND_NONCE, &tok, sizeof(tok));
	if (gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_DATAGRAM |
	    (strcmp(kind, "rpk") == 0 ? GNUTLS_ENABLE_RAWPK : 0)) < 0)
		return 1;
	if (strcmp(kind, "psk") == 0) {
		uint8_t key[64];
		gnutls_datum_t k = { key, 0 };
		size_t kl;

		if (hexfile(argv[11], key, sizeof(key), &kl) != 0) {
			fprintf(stderr, "bench_ace_wire: cannot read %s\n",
			    argv[11]);
			return 1;
		}
		k.size = (unsigned)kl;
		rc = gnutls_psk_allocate_client_credentials(&pcred);
		if (rc >= 0)
			rc = gnutls_psk_set_client_credentials(pcred, argv[10],
			    &k, GNUTLS_PSK_KEY_RAW);
		memset(key, 0, sizeof(key));
		if (rc >= 0)
			rc = gnutls_credentials_set(s, GNUTLS_CRD_PSK, pcred);
		if (rc >= 0)
			rc = gnutls_priority_set_direct(s, "NONE:+VERS-DTLS1.2:"
			    "+PSK:+AES-128-CCM-8:+AEAD:+COMP-NULL:+SIGN-ALL",
			    NULL);
		body_len = token_body(body, aud, scope, NULL, NULL);
	} else if (strcmp(kind, "rpk") == 0) {
		if (pub_point(argv[10], x, y) != 0) {
			fprintf(stderr, "bench_ace_wire: %s: not a P-256 "
			    "public key\n", argv[10]);
			return 1;
		}
		rc = gnutls_certificate_allocate_credentials(&xcred);
		if (rc >= 0)
			rc = gnutls_certificate_set_rawpk_key_file(xcred,
			    argv[10], argv[11], GNUTLS_X509_FMT_PEM, NULL, 0,
			    NULL, 0, 0, 0);
		if (rc >= 0)
			rc = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE,
			    xcred);
		if (rc >= 0)
			rc = gnutls_priority_set_direct(s, "NONE:+VERS-DTLS1.2:"
			    "+ECDHE-ECDSA:+AES-128-CCM-8:+AEAD:+COMP-NULL:"
			    "+SIGN-ALL:+CURVE-SECP256R1:+CTYPE-CLI-RAWPK:"
			    "+CTYPE-SRV-RAWPK:+CTYPE-SRV-X509", NULL);
		body_len = token_body(body, aud, scope, x, y);
	} else {
		fprintf(stderr, "bench_ace_wire coap: psk or rpk\n");
		return 2;
	}
	if (rc < 0) {
		fprintf(stderr, "bench_ace_wire: credentials: %s\n",
		    gnutls_strerror(rc));
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(0x7f000001);
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("bench_ace_wire: socket");
		return 1;
	}
	gnutls_transport_set_int(s, fd);
	gnutls_dtls_set_mtu(s, 1280);
	gnutls_dtls_set_timeouts(s, 1000, 20000);
	gnutls_handshake_set_timeout(s, 20000);
	do
		rc = gnutls_handshake(s);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc < 0) {
		fprintf(stderr, "bench_ace_wire: handshake: %s\n",
		    gnutls_strerror(rc));
		return 1;
	}
	snprintf(suite, sizeof(suite), "%s", gnutls_cipher_suite_get_name(
	    gnutls_kx_get(s), gnutls_cipher_get(s), gnutls_mac_get(s)));
	memset(slots, 0, sizeof(slots));
	c0 = self_cpu();
	s0 = proc_cpu(pid);
	t0 = now_s();
	t_end = t0 + secs;
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		unsigned busy = 0;
		double t = now_s();

		/* fill the window; resend what waited too long */
		for (unsigned i = 0; i < win; i++) {
			struct slot *sl = &slots[i];

			if (!sl->busy && sent < n_max && t < t_end) {
				sl->busy = true;
				sl->mid = mid++;
				sl->tok = tok++;
				sl->tries = 0;
				sent++;
			} else if (sl->busy && t - sl->sent < (RETX_MS / 1000.0) *
			    (1 << (sl->tries - 1))) {
				busy++;
				continue;
			} else if (sl->busy && sl->tries > RETX_MAX) {
				sl->busy = false;
				failed++;
				continue;
			} else if (!sl->busy)
				continue;
			else
				retx++;
			{
				size_t n = coap_post(m, sl->mid, sl->tok, body,
				    body_len);

				if (gnutls_record_send(s, m, n) != (ssize_t)n) {
					fprintf(stderr, "bench_ace_wire: send "
					    "failed\n");
					return 1;
				}
			}
			sl->sent = t;
			sl->tries++;
			busy++;
		}
		if (busy == 0)
			break;
		if (gnutls_record_check_pending(s) == 0 &&
		    poll(&p, 1, 100) <= 0)
			continue;
		{
			ssize_t r = gnutls_record_recv(s, in, sizeof(in));
			unsigned tkl, type, code;
			uint32_t rtok;
			uint16_t rmid;

			if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
				continue;
			if (r < 0 && !gnutls_error_is_fatal((int)r))
				continue;
			if (r <= 0) {
				fprintf(stderr, "bench_ace_wire: session "
				    "ended: %s\n", gnutls_strerror((int)r));
				return 1;
			}
			if (r < 4 || (in[0] >> 6) != 1)
				continue;
			type = (in[0] >> 4) & 3;
			tkl = in[0] & 15;
			code = in[1];
			rmid = (uint16_t)(in[2] << 8 | in[3]);
			if (type == 0) {	/* a separate response: ACK it */
				uint8_t ack[4] = { 0x60, 0, in[2], in[3] };

				(void)gnutls_record_send(s, ack, sizeof(ack));
			}
			(void)rmid;
			if (code == 0 || tkl != 4 || (size_t)r < 8)
				continue;	/* an empty ACK */
			memcpy(&rtok, in + 4, 4);
			for (unsigned i = 0; i < win; i++) {
				struct slot *sl = &slots[i];

				if (!sl->busy || sl->tok != rtok)
					continue;
				sl->busy = false;
				if (code != 0x41) {
					other++;
					failed++;
					break;
				}
				ok++;
				if (!checked) {	/* a map with access_token (1) */
					size_t o = 8;

					while (o < (size_t)r && in[o] != 0xff)
						o++;
					if (o + 2 >= (size_t)r ||
					    (in[o + 1] & 0xe0) != 0xa0 ||
					    in[o + 2] != 0x01) {
						fprintf(stderr, "bench_ace_wire:"
						    " a 2.01 without a token\n");
						return 1;
					}
					checked = true;
				}
				break;
			}
		}
	}
	t1 = now_s();
	s1 = proc_cpu(pid);
	c1 = self_cpu();
	(void)gnutls_bye(s, GNUTLS_SHUT_WR);
	printf("ok=%lu failed=%lu seconds=%.3f rate=%.0f/s server_cpu_us=%.1f "
	    "client_cpu_us=%.1f retransmits=%lu not_2.01=%lu window=%u "
	    "body=%zu suite=%s\n", ok, failed, t1 - t0,
	    ok / (t1 - t0), ok > 0 ? (s1 - s0) * 1e6 / ok : 0,
	    ok > 0 ? (c1 - c0) * 1e6 / ok : 0, retx, other, win, body_len,
	    suite);
	gnutls_deinit(s);
	close(fd);
	if (pcred != NULL)
		gnutls_psk_free_client_credentials(pcred);
	if (xcred != NULL)
		gnutls_certificate_free_credentials(xcred);
	return ok > 0 && failed == 0 ? 0 : 1;
}

/* ---- https: a new TLS 1.3 connection per request -------------------- */

/* One connection, one request: 0 if answered with want (e.g. "201"). */
static int
https_one(gnutls_certificate_credentials_t xc, gnutls_priority_t prio,
    const struct sockaddr_in *sa, const uint8_t *req, size_t req_len,
    const char *want)
{
	gnutls_session_t s = NULL;
	char buf[4096];
	size_t got = 0;
	int fd, rc, ok = -1, one = 1;
	ssize_t r;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) != 0 ||
	    gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NO_TICKETS) < 0 ||
	    gnutls_priority_set(s, prio) < 0 ||
	    gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, xc) < 0)
		goto out;
	gnutls_session_set_verify_cert(s, NULL, 0);	/* the chain, no name */
	gnutls_transport_set_int(s, fd);
	gnutls_handshake_set_timeout(s, 10000);
	do
		rc = gnutls_handshake(s);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc < 0)
		goto out;
	if (gnutls_record_send(s, req, req_len) != (ssize_t)req_len)
		goto out;
	while (got < sizeof(buf) - 1 && ((r = gnutls_record_recv(s, buf + got,
	    sizeof(buf) - 1 - got)) > 0 || r == GNUTLS_E_AGAIN ||
	    r == GNUTLS_E_INTERRUPTED))
		if (r > 0)
			got += (size_t)r;
	buf[got] = '\0';
	if (got > 12 && strncmp(buf, "HTTP/1.1 ", 9) == 0 &&
	    strncmp(buf + 9, want, 3) == 0)
		ok = 0;
out:
	if (s != NULL)
		gnutls_deinit(s);
	close(fd);
	return ok;
}

static int
run_https(int argc, char **argv)
{
	uint16_t port = (uint16_t)atoi(argv[2]);
	long pid = atol(argv[3]);
	double secs = atof(argv[4]), t0, t1, s0, s1, c0, c1;
	unsigned long procs = strtoul(argv[5], NULL, 10), ok = 0, failed = 0;
	const char *want;
	struct sockaddr_in sa;
	uint8_t req[1024], body[256];
	size_t req_len, body_len;
	unsigned long *res;

	if (argc < 10 || procs == 0 || procs > 64) {
		fprintf(stderr, "bench_ace_wire https: bad arguments\n");
		return 2;
	}
	if (strcmp(argv[9], "token") == 0 && argc == 12) {
		body_len = token_body(body, argv[10], argv[11], NULL, NULL);
		req_len = (size_t)snprintf((char *)req, sizeof(req),
		    "POST /token HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
		    "Content-Type: application/ace+cbor\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		    port, body_len);
		memcpy(req + req_len, body, body_len);
		req_len += body_len;
		want = "201";
	} else if (strcmp(argv[9], "health") == 0 && argc == 10) {
		req_len = (size_t)snprintf((char *)req, sizeof(req),
		    "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
		    "Connection: close\r\n\r\n", port);
		want = "200";
	} else {
		fprintf(stderr, "bench_ace_wire https: token AUD SCOPE | "
		    "health\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(0x7f000001);
	res = mmap(NULL, 2 * procs * sizeof(*res), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		return 1;
	fflush(stdout);
	c0 = self_cpu();
	s0 = proc_cpu(pid);
	t0 = now_s();
	for (unsigned long p = 0; p < procs; p++) {
		pid_t c = fork();

		if (c < 0)
			return 1;
		if (c == 0) {
			gnutls_certificate_credentials_t xc;
			gnutls_priority_t prio;

			if (gnutls_certificate_allocate_credentials(&xc) < 0 ||
			    gnutls_certificate_set_x509_trust_file(xc, argv[6],
			    GNUTLS_X509_FMT_PEM) <= 0 ||
			    gnutls_certificate_set_x509_key_file(xc, argv[7],
			    argv[8], GNUTLS_X509_FMT_PEM) < 0 ||
			    gnutls_priority_init(&prio, "NORMAL:-VERS-ALL:"
			    "+VERS-TLS1.3", NULL) < 0)
				_exit(1);
			while (now_s() - t0 < secs) {
				if (https_one(xc, prio, &sa, req, req_len,
				    want) == 0)
					res[2 * p]++;
				else
					res[2 * p + 1]++;
			}
			_exit(0);
		}
	}
	for (unsigned long p = 0; p < procs; p++) {
		int st;

		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "bench_ace_wire: a client failed\n");
			return 1;
		}
	}
	t1 = now_s();
	s1 = proc_cpu(pid);
	c1 = self_cpu();
	for (unsigned long p = 0; p < procs; p++) {
		ok += res[2 * p];
		failed += res[2 * p + 1];
	}
	printf("ok=%lu failed=%lu seconds=%.3f rate=%.0f/s server_cpu_us=%.1f "
	    "client_cpu_us=%.1f procs=%lu\n", ok, failed, t1 - t0,
	    ok / (t1 - t0), ok > 0 ? (s1 - s0) * 1e6 / ok : 0,
	    ok > 0 ? (c1 - c0) * 1e6 / ok : 0, procs);
	return ok > 0 && failed * 100 <= ok ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "coap") == 0)
		return run_coap(argc, argv);
	if (argc > 1 && strcmp(argv[1], "https") == 0)
		return run_https(argc, argv);
	fprintf(stderr, "usage: bench_ace_wire coap|https ... (see the "
	    "source's head)\n");
	return 2;
}
