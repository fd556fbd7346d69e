/*
 * bench_est: EST-coaps enrollments (RFC 9148 POST /.well-known/est/sen)
 * through a running `iotkdc serve`, over DTLS PSK: `run` with a lean
 * client of its own (GnuTLS DTLS directly, CoAP messages made here),
 * `idle` with the libcoap client API (as device/port/host.c).
 *
 *   bench_est manifest N PREFIX SEED_HEX
 *	N devices as JSON Lines for `iotkdc device import`: id
 *	urn:dev:est:<PREFIX><i>, PSK identity <PREFIX><i>, PSK the first 16
 *	bytes of HMAC-SHA256(seed, identity) (as `iotkdc-device
 *	load-manifest` derives its devices).
 *   bench_est run PORT N C PREFIX SEED_HEX [K]
 *	N fresh P-256 keys and their CSRs (DER) made with GnuTLS first (each
 *	enrollment its own key: the store refuses one key on two live
 *	credentials), then C worker processes (fork); each takes the next
 *	device not yet taken when it is free: per device one DTLS PSK session to
 *	coaps://127.0.0.1:PORT and K (default 1) enrollments on it in turn
 *	(device d sends CSRs d*K .. d*K+K-1), each a POST
 *	.well-known/est/sen (Content-Format 286, Accept 287); a 2.04 with a
 *	certificate counts; the session is then closed. K > 1 measures the
 *	EST path with the handshake shared by K enrollments. Prints one line:
 *	  enrollments=N ok=K failed=F seconds=S rate=R/s client_cpu_us=U
 *	  p50_ms=.. p99_ms=.. refused=.. no_answer=.. retransmits=..
 *	  handshake_retries=..
 *	(retransmits: CoAP requests sent again after 2 s without an ACK;
 *	handshake_retries: handshakes given up after 0.4 s and made again from
 *	a new port)
 *	seconds from the start of the workers to the last one's end; CSR
 *	generation is not timed. With EST_DEBUG set, each failed handshake
 *	prints its local port (to find it in the daemon's log or a capture),
 *	the GnuTLS error, the last handshake messages in and out, and what
 *	its socket holds unread or dropped; with EST_GTLOG=LEVEL too, the
 *	GnuTLS log of that handshake (docs/traps.md: the client stall).
 *   bench_est idle PORT N C PREFIX SEED_HEX
 *	N DTLS sessions abandoned after one GET /crts each (cmd_idle());
 *	with BENCH_IDLE_HOLD=S their sockets stay open S seconds first.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mman.h>
#include <linux/sock_diag.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <coap3/coap.h>
#include <gnutls/crypto.h>
#include <gnutls/dtls.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#define PSK_LEN		16
#define SEED_MAX	64
#define IDENT_MAX	64
#define EP_PREFIX	"urn:dev:est:"
#define CF_PKCS10	286
#define CF_PKIX_CERT	287
#define TIMEOUT_MS	20000u
#define HS_POLL_MS	10u	/* gt_open(): longest wait between handshake steps */
#define HS_RETRANS_MS	100u	/* first DTLS flight retransmission (loopback) */
#define HS_TIMEOUT_MS	400u	/* a handshake, before a retry from a new port */
#define HS_TRIES	3

static uint8_t seed[SEED_MAX];
static size_t seed_len;

static int
die(const char *msg)
{
	fprintf(stderr, "bench_est: %s\n", msg);
	return 1;
}

static int
parse_seed(const char *hex)
{
	size_t n = strlen(hex);

	if (n == 0 || n % 2 != 0 || n / 2 > sizeof(seed))
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		seed[i] = (uint8_t)v;
	}
	seed_len = n / 2;
	return 0;
}

static int
device(const char *prefix, unsigned long i, char *ident, uint8_t psk[PSK_LEN])
{
	uint8_t mac[32];
	int n = snprintf(ident, IDENT_MAX, "%s%lu", prefix, i);

	if (n < 0 || n >= IDENT_MAX || gnutls_hmac_fast(GNUTLS_MAC_SHA256,
	    seed, seed_len, ident, (size_t)n, mac) < 0)
		return -1;
	memcpy(psk, mac, PSK_LEN);
	return 0;
}

static int
cmd_manifest(unsigned long n, const char *prefix)
{
	char ident[IDENT_MAX];
	uint8_t psk[PSK_LEN];

	for (unsigned long i = 0; i < n; i++) {
		if (device(prefix, i, ident, psk) != 0)
			return die("cannot derive a device");
		printf("{\"id\":\"" EP_PREFIX "%s\",\"psk_identity\":\"%s\","
		    "\"psk\":\"", ident, ident);
		for (size_t k = 0; k < PSK_LEN; k++)
			printf("%02x", psk[k]);
		printf("\"}\n");
	}
	return fflush(stdout) == 0 ? 0 : die("cannot write");
}

/* A fresh P-256 key and its CSR (DER, ECDSA-SHA256), GnuTLS heap. */
static int
make_csr(gnutls_datum_t *out)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crq_t crq = NULL;
	int rc;

	if ((rc = gnutls_x509_privkey_init(&key)) >= 0 &&
	    (rc = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0)) >= 0 &&
	    (rc = gnutls_x509_crq_init(&crq)) >= 0 &&
	    (rc = gnutls_x509_crq_set_version(crq, 1)) >= 0 &&
	    (rc = gnutls_x509_crq_set_dn_by_oid(crq,
	    GNUTLS_OID_X520_COMMON_NAME, 0, "bench", 5)) >= 0 &&
	    (rc = gnutls_x509_crq_set_key(crq, key)) >= 0 &&
	    (rc = gnutls_x509_crq_sign2(crq, key, GNUTLS_DIG_SHA256, 0)) >= 0)
		rc = gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, out);
	if (crq != NULL)
		gnutls_x509_crq_deinit(crq);
	if (key != NULL)
		gnutls_x509_privkey_deinit(key);
	return rc < 0 ? -1 : 0;
}

static uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- libcoap client (idle sessions) ------------------------------------ */

static bool	 w_done;	/* the response arrived */
static bool	 w_fail;	/* NACK, DTLS error or close */
static uint8_t	 w_code;
static size_t	 w_len;

static coap_response_t
on_response(coap_session_t *s, const coap_pdu_t *sent,
    const coap_pdu_t *rcvd, const coap_mid_t mid)
{
	const uint8_t *data;
	size_t len, off, total;

	(void)s;
	(void)sent;
	(void)mid;
	w_code = (uint8_t)coap_pdu_get_code(rcvd);
	w_len = coap_get_data_large(rcvd, &len, &data, &off, &total) ?
	    total : 0;
	w_done = true;
	return COAP_RESPONSE_OK;
}

static void
on_nack(coap_session_t *s, const coap_pdu_t *sent,
    const coap_nack_reason_t reason, const coap_mid_t mid)
{
	(void)s;
	(void)sent;
	(void)reason;
	(void)mid;
	w_fail = true;
}

static int
on_event(coap_session_t *s, const coap_event_t ev)
{
	(void)s;
	if (ev == COAP_EVENT_DTLS_ERROR || (ev == COAP_EVENT_DTLS_CLOSED &&
	    !w_done))
		w_fail = true;
	return 0;
}

/* A DTLS PSK session for one device, or NULL. */
static coap_session_t *
session(coap_context_t *ctx, const coap_address_t *dst, const char *ident,
    const uint8_t psk[PSK_LEN])
{
	coap_dtls_cpsk_t cpsk;

	memset(&cpsk, 0, sizeof(cpsk));
	cpsk.version = COAP_DTLS_CPSK_SETUP_VERSION;
	cpsk.client_sni = "localhost";
	cpsk.psk_info.identity.s = (const uint8_t *)ident;
	cpsk.psk_info.identity.length = strlen(ident);
	cpsk.psk_info.key.s = psk;
	cpsk.psk_info.key.length = PSK_LEN;
	/* libcoap copies the PSK setup */
	return coap_new_client_session_psk2(ctx, NULL, dst, COAP_PROTO_DTLS,
	    &cpsk);
}

/*
 * One request to .well-known/est/<leaf> on session s, waited for: POST
 * with the CSR (Content-Format 286, Accept 287) when csr is given, else
 * GET. The response code, 0 for none; w_len holds its body's length.
 */
static uint8_t
est_request(coap_context_t *ctx, coap_session_t *s, const char *leaf,
    const gnutls_datum_t *csr)
{
	coap_pdu_t *pdu;
	coap_optlist_t *ol = NULL;
	uint8_t tok[8], cf[4], acc[4];
	size_t tlen = 0;
	uint64_t deadline = mono_us() + TIMEOUT_MS * 1000u;
	bool ok;

	w_done = w_fail = false;
	w_code = 0;
	w_len = 0;
	if ((pdu = coap_new_pdu(COAP_MESSAGE_CON, csr != NULL ?
	    COAP_REQUEST_CODE_POST : COAP_REQUEST_CODE_GET, s)) == NULL)
		return 0;
	coap_session_new_token(s, &tlen, tok);
	ok = coap_add_token(pdu, tlen, tok) &&
	    coap_insert_optlist(&ol, coap_new_optlist(COAP_OPTION_URI_PATH,
	    11, (const uint8_t *)".well-known")) &&
	    coap_insert_optlist(&ol, coap_new_optlist(COAP_OPTION_URI_PATH,
	    3, (const uint8_t *)"est")) &&
	    coap_insert_optlist(&ol, coap_new_optlist(COAP_OPTION_URI_PATH,
	    strlen(leaf), (const uint8_t *)leaf));
	if (ok && csr != NULL)
		ok = coap_insert_optlist(&ol, coap_new_optlist(
		    COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(cf,
		    sizeof(cf), CF_PKCS10), cf)) &&
		    coap_insert_optlist(&ol, coap_new_optlist(
		    COAP_OPTION_ACCEPT, coap_encode_var_safe(acc, sizeof(acc),
		    CF_PKIX_CERT), acc));
	ok = ok && coap_add_optlist_pdu(pdu, &ol) &&
	    (csr == NULL || coap_add_data(pdu, csr->size, csr->data));
	coap_delete_optlist(ol);
	if (!ok) {
		coap_delete_pdu(pdu);
		return 0;
	}
	if (coap_send(s, pdu) == COAP_INVALID_MID)
		return 0;
	while (!w_done && !w_fail) {
		uint64_t now = mono_us();
		if (now >= deadline)
			break;
		if (coap_io_process(ctx, (uint32_t)((deadline - now) / 1000 >
		    200 ? 200 : (deadline - now) / 1000 + 1)) < 0)
			break;
	}
	return w_done ? w_code : 0;
}

/*
 * bench_est idle PORT N C PREFIX SEED_HEX: N DTLS sessions (devices 0..N-1,
 * C worker processes) that each complete a handshake and one GET /crts,
 * then are abandoned without a close_notify (the worker _exits), as
 * devices that go silent do: the daemon holds them until its idle
 * timeout. Prints "idle_sessions=K" (K established); exits 1 under 95 %.
 */
static int
cmd_idle(uint16_t port, unsigned long n, unsigned long c, const char *prefix)
{
	unsigned long ok = 0, ready;
	uint8_t *code, *done;
	pid_t *pids;

	if ((pids = calloc(c, sizeof(*pids))) == NULL ||
	    (code = mmap(NULL, n + c, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
		return die("out of memory");
	done = code + n;		/* [c]: worker w has made its sessions */
	fflush(stdout);
	for (unsigned long w = 0; w < c; w++) {
		if ((pids[w] = fork()) < 0)
			return die("fork failed");
		if (pids[w] == 0) {
			struct rlimit rl;
			coap_context_t *ctx;
			coap_address_t dst;
			char ident[IDENT_MAX];
			uint8_t psk[PSK_LEN];

			/* one socket per session */
			if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
				rl.rlim_cur = rl.rlim_max;
				(void)setrlimit(RLIMIT_NOFILE, &rl);
			}
			coap_startup();
			coap_set_log_level(LOG_EMERG);
			coap_dtls_set_log_level(LOG_EMERG);
			if ((ctx = coap_new_context(NULL)) == NULL)
				_exit(1);
			coap_register_response_handler(ctx, on_response);
			coap_register_nack_handler(ctx, on_nack);
			coap_register_event_handler(ctx, on_event);
			coap_address_init(&dst);
			dst.addr.sin.sin_family = AF_INET;
			dst.addr.sin.sin_port = htons(port);
			dst.addr.sin.sin_addr.s_addr = htonl(0x7f000001);
			dst.size = sizeof(dst.addr.sin);
			for (unsigned long i = w; i < n; i += c) {
				coap_session_t *s;

				if (device(prefix, i, ident, psk) != 0 ||
				    (s = session(ctx, &dst, ident, psk)) ==
				    NULL)
					continue;
				code[i] = est_request(ctx, s, "crts",
				    NULL);
			}
			done[w] = 1;
			/* BENCH_IDLE_HOLD=S: keep the sockets S seconds first
			 * (no port reuse by later clients while they live) */
			if (getenv("BENCH_IDLE_HOLD") != NULL)
				sleep((unsigned)atoi(getenv("BENCH_IDLE_HOLD")));
			_exit(0);	/* no close_notify: abandoned */
		}
	}
	/* report as soon as every worker has made its sessions (they may
	 * then hold them: BENCH_IDLE_HOLD) */
	for (uint64_t t_end = mono_us() + 120u * 1000000u;;) {
		ready = 0;
		for (unsigned long w = 0; w < c; w++)
			ready += done[w];
		if (ready == c || mono_us() >= t_end)	/* a worker died */
			break;
		usleep(20000);
	}
	for (unsigned long i = 0; i < n; i++)
		if (code[i] == COAP_RESPONSE_CODE(205))
			ok++;
	printf("idle_sessions=%lu\n", ok);
	fflush(stdout);
	for (unsigned long w = 0; w < c; w++) {
		int st;
		while (waitpid(pids[w], &st, 0) < 0 && errno == EINTR)
			;
	}
	munmap(code, n + c);
	free(pids);
	/* the count is what is reported; a few lost to a busy machine are
	 * no reason to drop the row */
	return ok * 100 >= n * 95 ? 0 : 1;
}

/* ---- the load generator's own DTLS client: GnuTLS over a connected UDP
 * socket, CoAP messages built and parsed here. The server is the system
 * under test; this client is kept lean so that on a 2-core machine most
 * of the CPU goes to the server (libcoap's client costs 3-4x more per
 * enrollment: its context, timers and session machinery). */

struct gt {
	int				 fd;
	gnutls_session_t		 s;
	gnutls_psk_client_credentials_t	 cred;
	uint16_t			 mid;
	uint32_t			 token;
	uint32_t			*retransmits;	/* the worker's count */
};

/* EST_GTLOG: GnuTLS's log of the current handshake of this process,
 * printed if it fails (the start, up to 64 KiB). */
static char dbg_buf[1 << 16];
static size_t dbg_len;

static void
dbg_log(int level, const char *msg)
{
	size_t n = strlen(msg);

	(void)level;
	if (dbg_len + n < sizeof(dbg_buf)) {
		memcpy(dbg_buf + dbg_len, msg, n);
		dbg_len += n;
	}
}

/* Bytes waiting in fd's receive queue (-1: unknown). */
static int
unread(int fd)
{
	int n = -1;

	return ioctl(fd, FIONREAD, &n) == 0 ? n : -1;
}

/* Datagrams the kernel dropped for fd (SK_MEMINFO_DROPS; -1: unknown). */
static long
dropped(int fd)
{
	uint32_t mi[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mi);

	return getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mi, &len) == 0 &&
	    len > SK_MEMINFO_DROPS * sizeof(mi[0]) ?
	    (long)mi[SK_MEMINFO_DROPS] : -1;
}

/* Wait until fd is readable or ms pass (0 or 1), -1 on error. */
static int
gt_wait(int fd, unsigned ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;

	while ((n = poll(&p, 1, (int)ms)) < 0 && errno == EINTR)
		;
	return n < 0 ? -1 : n;
}

/*
 * End the DTLS session (close_notify when bye). The socket is returned,
 * not closed: the worker keeps its sockets until it exits, so that the
 * kernel does not hand a port just left to the next session while the
 * server may not yet have read the close_notify sent from it (libcoap
 * 4.3.1 feeds a ClientHello on a live session's 4-tuple to that session:
 * the handshake hangs; docs/traps.md).
 */
static int
gt_close(struct gt *g, bool bye)
{
	int fd = g->fd;

	if (g->s != NULL) {
		if (bye)
			(void)gnutls_bye(g->s, GNUTLS_SHUT_WR);
		gnutls_deinit(g->s);
	}
	if (g->cred != NULL)
		gnutls_psk_free_client_credentials(g->cred);
	memset(g, 0, sizeof(*g));
	g->fd = -1;
	return fd;
}

/* The client's priorities, parsed once per process (parsing the string
 * for every session cost the load generator ~10 % of its CPU). */
static gnutls_priority_t
gt_priority(void)
{
	static gnutls_priority_t prio;

	if (prio == NULL && gnutls_priority_init(&prio, "NONE:+VERS-DTLS1.2:"
	    "+PSK:+AES-128-CCM-8:+AEAD:+COMP-NULL:+SIGN-ALL", NULL) < 0)
		prio = NULL;
	return prio;
}

/* A DTLS 1.2 PSK session (TLS_PSK_WITH_AES_128_CCM_8, RFC 7925) to
 * 127.0.0.1:port, the cookie round included; 0 or -1. */
static int
gt_open(struct gt *g, uint16_t port, const char *ident,
    const uint8_t psk[PSK_LEN])
{
	struct sockaddr_in a;
	gnutls_datum_t key = { (unsigned char *)(uintptr_t)psk, PSK_LEN };
	int rc = 0;

	memset(g, 0, sizeof(*g));
	g->fd = -1;
	dbg_len = 0;
	if (getenv("EST_GTLOG") != NULL) {	/* cheap: the setters store */
		gnutls_global_set_log_function(dbg_log);
		gnutls_global_set_log_level(atoi(getenv("EST_GTLOG")));
	}
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(0x7f000001);
	if ((g->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) < 0 ||
	    connect(g->fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    gnutls_psk_allocate_client_credentials(&g->cred) < 0 ||
	    gnutls_psk_set_client_credentials(g->cred, ident, &key,
	    GNUTLS_PSK_KEY_RAW) < 0 ||
	    gnutls_init(&g->s, GNUTLS_CLIENT | GNUTLS_DATAGRAM |
	    GNUTLS_NONBLOCK) < 0 ||
	    gnutls_priority_set(g->s, gt_priority()) < 0 ||
	    gnutls_credentials_set(g->s, GNUTLS_CRD_PSK, g->cred) < 0)
		goto fail;
	gnutls_transport_set_int(g->s, g->fd);
	gnutls_dtls_set_mtu(g->s, 1280);
	/* a lost flight is resent after 100 ms, not RFC 6347's 1 s: on
	 * loopback the p99 of a whole enrollment is under 10 ms, and one
	 * client sitting out a second skews a 2-second load */
	gnutls_dtls_set_timeouts(g->s, HS_RETRANS_MS, HS_TIMEOUT_MS);
	/* non-blocking, with our own poll: in blocking mode GnuTLS 3.7.9
	 * sleeps 50 ms whenever a flight comes in more than one datagram
	 * (lib/dtls.h RETURN_DTLS_EAGAIN_OR_TIMEOUT), as the server's
	 * ServerHello + ServerHelloDone do (docs/traps.md) */
	while ((rc = gnutls_handshake(g->s)) < 0) {
		unsigned to = gnutls_dtls_get_timeout(g->s);

		/* at most HS_POLL_MS: with the server's flights in several
		 * datagrams, a wait for the whole gnutls_dtls_get_timeout()
		 * sometimes sat through data already there, to the end of
		 * the handshake timeout (seen ~1 in 4,000; docs/traps.md) */
		if (gnutls_error_is_fatal(rc) != 0 ||
		    gt_wait(g->fd, to > HS_POLL_MS ? HS_POLL_MS : to) < 0)
			goto fail;
	}
	if (gnutls_rnd(GNUTLS_RND_NONCE, &g->token, sizeof(g->token)) < 0 ||
	    gnutls_rnd(GNUTLS_RND_NONCE, &g->mid, sizeof(g->mid)) < 0)
		goto fail;
	return 0;
fail:
	if (getenv("EST_DEBUG") != NULL && g->fd >= 0) {
		struct sockaddr_in l;
		socklen_t ll = sizeof(l);

		if (getsockname(g->fd, (struct sockaddr *)&l, &ll) == 0)
			fprintf(stderr, "handshake failed: port=%u rc=%d %s "
			    "last in=%s last out=%s unread=%d dropped=%ld\n",
			    ntohs(l.sin_port), rc,
			    gnutls_strerror(rc), g->s == NULL ? "-" :
			    gnutls_handshake_description_get_name(
			    gnutls_handshake_get_last_in(g->s)),
			    g->s == NULL ? "-" :
			    gnutls_handshake_description_get_name(
			    gnutls_handshake_get_last_out(g->s)),
			    unread(g->fd), dropped(g->fd));
		if (getenv("EST_GTLOG") != NULL)
			fprintf(stderr, "---- GnuTLS log\n%.*s----\n",
			    (int)dbg_len, dbg_buf);
	}
	/* the socket stays open (its port not reused) until the worker
	 * ends: the server may hold a half-made session for its 4-tuple */
	(void)gt_close(g, false);
	return -1;
}

/* Option delta/length nibble and its extension bytes (RFC 7252 §3.1). */
static size_t
opt_hdr(uint8_t *p, unsigned delta, unsigned len)
{
	uint8_t *q = p + 1;
	unsigned v[2] = { delta, len }, nib[2];

	for (int i = 0; i < 2; i++) {
		if (v[i] < 13)
			nib[i] = v[i];
		else if (v[i] < 269) {
			nib[i] = 13;
			*q++ = (uint8_t)(v[i] - 13);
		} else {
			nib[i] = 14;
			*q++ = (uint8_t)((v[i] - 269) >> 8);
			*q++ = (uint8_t)(v[i] - 269);
		}
	}
	p[0] = (uint8_t)(nib[0] << 4 | nib[1]);
	return (size_t)(q - p);
}

/* Offset of the payload of a CoAP message, or len when none; -1 when
 * the options do not parse. */
static long
coap_payload_at(const uint8_t *m, size_t len)
{
	size_t i = 4 + (m[0] & 0x0f);

	while (i < len && m[i] != 0xff) {
		unsigned d = m[i] >> 4, l = m[i] & 0x0f;
		size_t at = i + 1;

		if (d == 15 || l == 15)
			return -1;
		at += d == 13 ? 1 : d == 14 ? 2 : 0;
		if (l >= 13) {
			size_t ext = l == 13 ? 1 : 2;

			if (at + ext > len)
				return -1;
			l = ext == 1 ? m[at] + 13u :
			    ((unsigned)m[at] << 8 | m[at + 1]) + 269u;
			at += ext;
		}
		if (at + l > len)
			return -1;
		i = at + l;
	}
	return i < len ? (long)i + 1 : (long)len;
}

/*
 * POST .well-known/est/sen (Content-Format 286, Accept 287) with csr and
 * wait for the answer, piggybacked or separate (RFC 9148 §4.7: an empty
 * ACK, then a CON response, which is acknowledged). The response code
 * (1 for a 2.04 without a body), 0 for none; no retransmission (loopback).
 */
static uint8_t
gt_enroll(struct gt *g, const gnutls_datum_t *csr)
{
	static const uint8_t path[] = ".well-known";
	uint8_t m[2048], in[4096];
	size_t n = 0;
	uint16_t mid = ++g->mid;
	uint32_t tok = ++g->token;
	uint64_t deadline = mono_us() + TIMEOUT_MS * 1000u, resend_at;
	unsigned tries = 0;
	bool acked = false;
	ssize_t got;

	if (csr->size + 64 > sizeof(m))
		return 0;
	m[n++] = 0x40 | 4;		/* ver 1, CON, TKL 4 */
	m[n++] = 0x02;			/* POST */
	m[n++] = (uint8_t)(mid >> 8);
	m[n++] = (uint8_t)mid;
	memcpy(m + n, &tok, 4);
	n += 4;
	n += opt_hdr(m + n, 11, sizeof(path) - 1);	/* Uri-Path */
	memcpy(m + n, path, sizeof(path) - 1);
	n += sizeof(path) - 1;
	n += opt_hdr(m + n, 0, 3);
	memcpy(m + n, "est", 3);
	n += 3;
	n += opt_hdr(m + n, 0, 3);
	memcpy(m + n, "sen", 3);
	n += 3;
	n += opt_hdr(m + n, 1, 2);			/* Content-Format 12 */
	m[n++] = CF_PKCS10 >> 8;
	m[n++] = CF_PKCS10 & 0xff;
	n += opt_hdr(m + n, 5, 2);			/* Accept 17 */
	m[n++] = CF_PKIX_CERT >> 8;
	m[n++] = CF_PKIX_CERT & 0xff;
	m[n++] = 0xff;
	memcpy(m + n, csr->data, csr->size);
	n += csr->size;
	if (gnutls_record_send(g->s, m, n) != (ssize_t)n)
		return 0;
	/* RFC 7252 §4.2: resend the CON until it is acknowledged, ACK_TIMEOUT
	 * 2 s doubling (no random factor: one client per exchange here) */
	resend_at = mono_us() + 2000000u;
	for (;;) {
		unsigned type;
		long at;

		while ((got = gnutls_record_recv(g->s, in, sizeof(in))) ==
		    GNUTLS_E_AGAIN || got == GNUTLS_E_INTERRUPTED) {
			uint64_t now = mono_us();

			if (now >= deadline)
				return 0;	/* no answer */
			if (!acked && now >= resend_at && tries < 4) {
				if (gnutls_record_send(g->s, m, n) !=
				    (ssize_t)n)
					return 0;
				tries++;
				(*g->retransmits)++;
				resend_at = now + (2000000u << tries);
			}
			/* short waits, as in gt_open() */
			if (gt_wait(g->fd, HS_POLL_MS) < 0)
				return 0;
		}
		if (got < 4 || (in[0] >> 6) != 1)
			return 0;
		type = (in[0] >> 4) & 3;
		if (type == 2 && in[2] == (uint8_t)(mid >> 8) &&
		    in[3] == (uint8_t)mid)
			acked = true;
		if (type == 2 && in[1] == 0)	/* empty ACK: answer follows */
			continue;
		if ((size_t)got < 4u + (in[0] & 0x0f) || (in[0] & 0x0f) != 4 ||
		    memcmp(in + 4, &tok, 4) != 0)
			continue;		/* not ours */
		if (type == 0) {		/* CON: acknowledge it */
			uint8_t ack[4] = { 0x60, 0, in[2], in[3] };
			if (gnutls_record_send(g->s, ack, 4) != 4)
				return 0;
		}
		if ((at = coap_payload_at(in, (size_t)got)) < 0)
			return 0;
		return in[1] == COAP_RESPONSE_CODE(204) && at == got ? 1 :
		    in[1];
	}
}

struct shared {
	uint64_t	*next;		/* [1]: the next device to take */
	uint64_t	*end_us;	/* [C] */
	uint32_t	*retrans;	/* [C]: CoAP retransmissions */
	uint32_t	*hs_retries;	/* [C]: handshakes given up, retried */
	uint32_t	*lat_us;	/* [N] */
	uint8_t		*code;		/* [N] */
};

static void
worker(unsigned long w, unsigned long n, unsigned long k,
    int go_fd, const char *prefix, uint16_t port, const gnutls_datum_t *csr,
    struct shared *sh)
{
	char ident[IDENT_MAX], go;
	uint8_t psk[PSK_LEN];
	struct rlimit rl;
	int *fds;
	size_t nfds = 0;

	/* SCHED_BATCH: the same CPU share, but no wakeup preemption. The
	 * load generator shares the daemon's cores; as an ordinary task
	 * each datagram the daemon sent it woke a client that preempted
	 * the daemon's CoAP thread (~3 involuntary context switches per
	 * enrollment), where remote devices would not. */
	{
		struct sched_param sp = { .sched_priority = 0 };

		(void)sched_setscheduler(0, SCHED_BATCH, &sp);
	}
	/* one socket per session, kept to the end (gt_close()) */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((fds = calloc(n / k + 1, sizeof(*fds))) == NULL)
		_exit(1);
	while (read(go_fd, &go, 1) < 0 && errno == EINTR)
		;
	close(go_fd);
	/* device d enrolls CSRs d*k .. d*k+k-1 over one session; each
	 * worker takes the next device when it is free, so a stalled
	 * handshake (0.4 s before its retry) holds up one device, not a
	 * worker's whole share */
	for (;;) {
		unsigned long d = (unsigned long)__atomic_fetch_add(sh->next, 1,
		    __ATOMIC_RELAXED);
		struct gt g;
		int t = 0;

		if (d * k >= n)
			break;
		if (device(prefix, d, ident, psk) != 0)
			continue;
		/* a device whose handshake times out tries again from a new
		 * port (libcoap 4.3.1 does not start a new handshake on the
		 * 4-tuple of a session it still holds: docs/traps.md) */
		while (t < HS_TRIES && gt_open(&g, port, ident, psk) != 0) {
			t++;
			sh->hs_retries[w]++;
		}
		if (t == HS_TRIES)
			continue;
		g.retransmits = &sh->retrans[w];
		for (unsigned long i = d * k; i < d * k + k && i < n; i++) {
			uint64_t t0 = mono_us();

			sh->code[i] = gt_enroll(&g, &csr[i]);
			sh->lat_us[i] = (uint32_t)(mono_us() - t0);
		}
		fds[nfds++] = gt_close(&g, true);	/* close_notify */
	}
	sh->end_us[w] = mono_us();
	_exit(0);	/* closes the sockets */
}

static int
cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

static int
cmd_run(uint16_t port, unsigned long n, unsigned long c, unsigned long k,
    const char *prefix)
{
	gnutls_datum_t *csr;
	struct shared sh;
	struct rusage ru;
	uint32_t *lat;
	uint64_t t0, t1 = 0;
	unsigned long ok = 0, m = 0, other = 0, none = 0, retrans = 0, hsr = 0;
	int go[2];
	size_t bytes;
	void *mem;
	pid_t *pids;

	if ((csr = calloc(n, sizeof(*csr))) == NULL ||
	    (pids = calloc(c, sizeof(*pids))) == NULL ||
	    (lat = calloc(n, sizeof(*lat))) == NULL)
		return die("out of memory");
	for (unsigned long i = 0; i < n; i++)
		if (make_csr(&csr[i]) != 0)
			return die("CSR generation failed");
	bytes = sizeof(uint64_t) + c * sizeof(uint64_t) +
	    2 * c * sizeof(uint32_t) + n * sizeof(uint32_t) + n;
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return die("mmap failed");
	sh.next = mem;
	sh.end_us = sh.next + 1;
	sh.retrans = (uint32_t *)(sh.end_us + c);
	sh.hs_retries = sh.retrans + c;
	sh.lat_us = sh.hs_retries + c;
	sh.code = (uint8_t *)(sh.lat_us + n);
	if (pipe(go) != 0)
		return die("pipe failed");
	fflush(stdout);
	for (unsigned long w = 0; w < c; w++) {
		if ((pids[w] = fork()) < 0)
			return die("fork failed");
		if (pids[w] == 0) {
			close(go[1]);
			worker(w, n, k, go[0], prefix, port, csr, &sh);
		}
	}
	close(go[0]);
	t0 = mono_us();
	close(go[1]);			/* go */
	for (unsigned long w = 0; w < c; w++) {
		int st;
		while (waitpid(pids[w], &st, 0) < 0 && errno == EINTR)
			;
		if (sh.end_us[w] > t1)
			t1 = sh.end_us[w];
		retrans += sh.retrans[w];
		hsr += sh.hs_retries[w];
	}
	if (t1 <= t0)
		t1 = mono_us();
	getrusage(RUSAGE_CHILDREN, &ru);
	for (unsigned long i = 0; i < n; i++) {
		if (sh.code[i] == COAP_RESPONSE_CODE(204)) {
			ok++;
			lat[m++] = sh.lat_us[i];
		} else if (sh.code[i] == 0)
			none++;
		else
			other++;
	}
	qsort(lat, m, sizeof(*lat), cmp_u32);
	double secs = (double)(t1 - t0) / 1e6;
	double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	printf("enrollments=%lu ok=%lu failed=%lu seconds=%.3f rate=%.0f/s "
	    "client_cpu_us=%.1f p50_ms=%.1f p99_ms=%.1f refused=%lu "
	    "no_answer=%lu retransmits=%lu handshake_retries=%lu\n", n, ok,
	    n - ok, secs,
	    (double)ok / secs,
	    ok > 0 ? cpu / (double)ok : 0.0,
	    m > 0 ? lat[m / 2] / 1000.0 : 0.0,
	    m > 0 ? lat[(m * 99) / 100 < m ? (m * 99) / 100 : m - 1] / 1000.0 :
	    0.0, other, none, retrans, hsr);
	for (unsigned long i = 0; i < n; i++)
		gnutls_free(csr[i].data);
	free(csr);
	free(pids);
	free(lat);
	munmap(mem, bytes);
	return ok == n ? 0 : 1;
}

/* run/idle: argv[2..6] = PORT N C PREFIX SEED_HEX (C at most N);
 * 0, or 1 after saying what is wrong. */
static int
parse_load(char **argv, unsigned long *port, unsigned long *n,
    unsigned long *c)
{
	char *e;

	*port = strtoul(argv[2], &e, 10);
	if (*e != '\0' || *port == 0 || *port > 65535)
		return die("bad port");
	*n = strtoul(argv[3], &e, 10);
	if (*e != '\0' || *n == 0)
		return die("bad N");
	*c = strtoul(argv[4], &e, 10);
	if (*e != '\0' || *c == 0 || *c > 256)
		return die("bad C");
	if (*c > *n)
		*c = *n;
	if (parse_seed(argv[6]) != 0)
		return die("bad seed");
	return 0;
}

int
main(int argc, char **argv)
{
	char *e;

	signal(SIGPIPE, SIG_IGN);
	if (argc == 5 && strcmp(argv[1], "manifest") == 0) {
		unsigned long n = strtoul(argv[2], &e, 10);
		if (*e != '\0' || n == 0 || parse_seed(argv[4]) != 0)
			return die("bad arguments");
		return cmd_manifest(n, argv[3]);
	}
	if ((argc == 7 || argc == 8) && strcmp(argv[1], "run") == 0) {
		unsigned long port, n, c, k = 1;

		if (parse_load(argv, &port, &n, &c) != 0)
			return 1;
		if (argc == 8) {
			k = strtoul(argv[7], &e, 10);
			if (*e != '\0' || k == 0 || k > n)
				return die("bad K");
		}
		if (c > (n + k - 1) / k)
			c = (n + k - 1) / k;
		return cmd_run((uint16_t)port, n, c, k, argv[5]);
	}
	if (argc == 7 && strcmp(argv[1], "idle") == 0) {
		unsigned long port, n, c;

		if (parse_load(argv, &port, &n, &c) != 0)
			return 1;
		return cmd_idle((uint16_t)port, n, c, argv[5]);
	}
	fprintf(stderr, "usage: bench_est manifest N PREFIX SEED_HEX\n"
	    "       bench_est run PORT N C PREFIX SEED_HEX [K]\n"
	    "       bench_est idle PORT N C PREFIX SEED_HEX\n");
	return 2;
}
