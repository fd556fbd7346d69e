/*
 * dtlsprobe: a DTLS 1.2 client on GnuTLS, for the engine tests of issue 14
 * (tests/integration/test_engine_*.sh). It does what coap-client-gnutls
 * cannot be told to do: handshake from a fixed local port, abandon a
 * session (no close_notify), save and resume a session ticket, send CoAP
 * messages built byte by byte (Block1 with any Size1), and say how long
 * each step took.
 *
 *   dtlsprobe handshake HOST:PORT CREDENTIAL [OPTIONS] [REQUEST...]
 *   dtlsprobe coap-raw  HOST:PORT CREDENTIAL [OPTIONS] MESSAGE...
 *
 * CREDENTIAL (secrets from files or standard input, never from argv):
 *   --psk-identity ID --psk-file FILE   the key as hex digits in FILE
 *                                       ("-": standard input)
 *   --rpk-key FILE                      RFC 7250 raw public key: a PEM
 *                                       private key; its SPKI is sent
 *   --cert FILE --key FILE              X.509 client certificate (PEM)
 * OPTIONS:
 *   --ca FILE          verify the server's chain under FILE (default: no
 *                      verification, the daemon is what is probed)
 *   --bind ADDR:PORT   local address and port (SO_REUSEADDR)
 *   --no-close         exit without close_notify (abandon the session)
 *   --ticket-out FILE  save the session (ticket) after the handshake
 *   --ticket-in FILE   offer the saved session (resumption)
 *   --hs-timeout MS    deadline of the whole handshake (default 5000)
 *   --retrans MS       DTLS retransmission timeout (default 1000; equal
 *                      to --hs-timeout: no retransmission at all)
 *   --timeout MS       deadline of each response (default 5000)
 *   --hold MS          after the requests, wait MS on the session (e.g.
 *                      for a closure by the server) and report it
 * REQUEST (handshake; in order, one CON each, waiting for its response):
 *   --get PATH[?Q&Q]   a GET
 *   --post PATH[?Q&Q]  a POST without payload
 *   --hex HEX          a whole CoAP message as hex (its token is matched)
 * MESSAGE (coap-raw; one message, or a Block1 sequence with --blocks):
 *   --type con|non     (default con)       --code C.DD (default 0.02)
 *   --mid N            (default random)     --token HEX (default 4 random)
 *   --path A/B/C       Uri-Path options     --opt NUM=HEX (repeatable)
 *   --payload-hex HEX | --payload-len N (N filler bytes)
 *   --blocks N         send N Block1 blocks of --block-size (default
 *                      1024) bytes, num 0..N-1, M=1 but on the last;
 *                      stops at the first answer that is not 2.31
 *   --size1 N          a Size1 option on the first block
 *   --more             M=1 on the last block too (a body left open)
 *   --pause MS --then N  after the blocks, wait MS, then send N more
 *                      blocks (num continuing) and report their answers
 *
 * Output, one line each on stdout:
 *   handshake ok ms=T resumed=yes|no ticket=yes|no
 *   handshake failed ms=T error=TEXT
 *   response code=C.DD type=T mid=N token=HEX ms=T opts=N:HEX,... \
 *       payload_len=N payload_hex=HEX(first 64 B)
 *   no response ms=T      closed ms=T reason=TEXT      held ms=T
 * Exit: 0 every request answered (or none asked), 2 handshake failed,
 * 3 a response did not come in time, 4 the peer closed the session or
 * sent an alert, 1 usage or local error. Every wait is bounded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/dtls.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#define MSG_MAX		2048
#define OPTS_MAX	64
#define REQS_MAX	64
#define HEXBUF_MAX	4096

enum { EX_OK = 0, EX_USAGE = 1, EX_HS = 2, EX_NORESP = 3, EX_CLOSED = 4 };

struct opt {
	unsigned	 num;
	size_t		 len;
	uint8_t		 val[256];
};

struct msg {
	uint8_t		 type, code, tkl;
	uint16_t	 mid;
	uint8_t		 token[8];
	struct opt	 opts[OPTS_MAX];
	unsigned	 nopts;
	const uint8_t	*payload;
	size_t		 plen;
};

static gnutls_session_t sess;
static int sock = -1;
static long t_start;

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "dtlsprobe: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(EX_USAGE);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex digits (whitespace ignored) to bytes; -1 if malformed or too long. */
static long
unhex(const char *s, size_t slen, uint8_t *out, size_t max)
{
	size_t n = 0;
	int hi = -1, v;

	for (size_t i = 0; i < slen; i++) {
		if (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')
			continue;
		if ((v = hexval((unsigned char)s[i])) < 0)
			return -1;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n >= max)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return hi < 0 ? (long)n : -1;
}

static void
phex(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
}

static unsigned long
num(const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno != 0 || *s == '\0' || *end != '\0' || v > max)
		die("bad number '%s'", s);
	return v;
}

static void
parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
		die("want ADDR:PORT, got '%s'", s);
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)num(colon + 1, 65535));
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		die("not an IPv4 address: '%s'", host);
}

/* The whole of FILE ("-": standard input), at most max bytes. */
static size_t
slurp(const char *path, char *buf, size_t max)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t n;

	if (f == NULL)
		die("cannot open %s: %s", path, strerror(errno));
	n = fread(buf, 1, max, f);
	if (ferror(f) || (n == max && !feof(f) && fgetc(f) != EOF))
		die("cannot read %s (or longer than %zu bytes)", path, max);
	if (f != stdin)
		fclose(f);
	return n;
}

/* ---- CoAP messages --------------------------------------------------------- */

static int
cmp_opt(const void *a, const void *b)
{
	const struct opt *x = a, *y = b;

	return x->num < y->num ? -1 : x->num > y->num;
}

static void
put_ext(uint8_t *out, size_t *n, unsigned v)
{
	if (v >= 269) {
		out[(*n)++] = (uint8_t)((v - 269) >> 8);
		out[(*n)++] = (uint8_t)(v - 269);
	} else if (v >= 13) {
		out[(*n)++] = (uint8_t)(v - 13);
	}
}

static unsigned
nib(unsigned v)
{
	return v >= 269 ? 14 : v >= 13 ? 13 : v;
}

/* Encode m (its options sorted by number, stable) into out. */
static size_t
encode(struct msg *m, uint8_t *out, size_t max)
{
	size_t n = 0;
	unsigned prev = 0;

	qsort(m->opts, m->nopts, sizeof(m->opts[0]), cmp_opt);
	if (4 + (size_t)m->tkl > max)
		die("message too long");
	out[n++] = (uint8_t)(0x40 | m->type << 4 | m->tkl);
	out[n++] = m->code;
	out[n++] = (uint8_t)(m->mid >> 8);
	out[n++] = (uint8_t)m->mid;
	memcpy(out + n, m->token, m->tkl);
	n += m->tkl;
	for (unsigned i = 0; i < m->nopts; i++) {
		unsigned d = m->opts[i].num - prev;
		size_t l = m->opts[i].len;

		if (n + 5 + l > max)
			die("message too long");
		out[n++] = (uint8_t)(nib(d) << 4 | nib((unsigned)l));
		put_ext(out, &n, d);
		put_ext(out, &n, (unsigned)l);
		memcpy(out + n, m->opts[i].val, l);
		n += l;
		prev = m->opts[i].num;
	}
	if (m->plen > 0) {
		if (n + 1 + m->plen > max)
			die("message too long");
		out[n++] = 0xff;
		memcpy(out + n, m->payload, m->plen);
		n += m->plen;
	}
	return n;
}

static void
add_opt(struct msg *m, unsigned number, const uint8_t *v, size_t len)
{
	if (m->nopts >= OPTS_MAX || len > sizeof(m->opts[0].val))
		die("too many options or option too long");
	m->opts[m->nopts].num = number;
	m->opts[m->nopts].len = len;
	memcpy(m->opts[m->nopts].val, v, len);
	m->nopts++;
}

/* An unsigned option in its shortest form (RFC 7252 §3.2). */
static void
add_uint(struct msg *m, unsigned number, unsigned long v)
{
	uint8_t b[4];
	size_t n = 0;

	for (int s = 24; s >= 0; s -= 8)
		if (n > 0 || (v >> s & 0xff) != 0)
			b[n++] = (uint8_t)(v >> s);
	add_opt(m, number, b, n);
}

/* PATH[?Q&Q] as Uri-Path (11) and Uri-Query (15) options. */
static void
add_uri(struct msg *m, const char *uri)
{
	const char *q = strchr(uri, '?'), *p = uri, *end;
	const char *pend = q != NULL ? q : uri + strlen(uri);

	while (p < pend) {
		for (end = p; end < pend && *end != '/'; end++)
			;
		if (end > p)
			add_opt(m, 11, (const uint8_t *)p, (size_t)(end - p));
		p = end + 1;
	}
	if (q == NULL)
		return;
	for (p = q + 1; *p != '\0'; p = *end != '\0' ? end + 1 : end) {
		for (end = p; *end != '\0' && *end != '&'; end++)
			;
		if (end > p)
			add_opt(m, 15, (const uint8_t *)p, (size_t)(end - p));
	}
}

static void
new_msg(struct msg *m, uint8_t type, uint8_t code)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->code = code;
	m->tkl = 4;
	gnutls_rnd(GNUTLS_RND_NONCE, m->token, 4);
	gnutls_rnd(GNUTLS_RND_NONCE, &m->mid, sizeof(m->mid));
}

/* Parse a received message; -1 if malformed. */
static int
decode(const uint8_t *b, size_t n, struct msg *m)
{
	size_t i;
	unsigned number = 0;

	memset(m, 0, sizeof(*m));
	if (n < 4 || b[0] >> 6 != 1 || (b[0] & 0x0f) > 8)
		return -1;
	m->type = b[0] >> 4 & 3;
	m->tkl = b[0] & 0x0f;
	m->code = b[1];
	m->mid = (uint16_t)(b[2] << 8 | b[3]);
	if (4 + (size_t)m->tkl > n)
		return -1;
	memcpy(m->token, b + 4, m->tkl);
	for (i = 4 + m->tkl; i < n;) {
		unsigned d, l;

		if (b[i] == 0xff) {
			m->payload = b + i + 1;
			m->plen = n - i - 1;
			return m->plen > 0 ? 0 : -1;
		}
		d = b[i] >> 4;
		l = b[i] & 0x0f;
		i++;
		if (d == 15 || l == 15)
			return -1;
		if (d == 13) {
			if (i >= n)
				return -1;
			d = 13u + b[i++];
		} else if (d == 14) {
			if (i + 1 >= n)
				return -1;
			d = 269u + (unsigned)(b[i] << 8 | b[i + 1]);
			i += 2;
		}
		if (l == 13) {
			if (i >= n)
				return -1;
			l = 13u + b[i++];
		} else if (l == 14) {
			if (i + 1 >= n)
				return -1;
			l = 269u + (unsigned)(b[i] << 8 | b[i + 1]);
			i += 2;
		}
		if (i + l > n)
			return -1;
		number += d;
		if (m->nopts < OPTS_MAX && l <= sizeof(m->opts[0].val)) {
			m->opts[m->nopts].num = number;
			m->opts[m->nopts].len = l;
			memcpy(m->opts[m->nopts].val, b + i, l);
			m->nopts++;
		}
		i += l;
	}
	return 0;
}

static void
print_msg(const struct msg *m, long ms)
{
	static const char *types[] = { "CON", "NON", "ACK", "RST" };

	printf("response code=%u.%02u type=%s mid=%u token=", m->code >> 5,
	    m->code & 0x1f, types[m->type], m->mid);
	phex(m->token, m->tkl);
	printf(" ms=%ld opts=", ms);
	for (unsigned i = 0; i < m->nopts; i++) {
		printf("%s%u:", i > 0 ? "," : "", m->opts[i].num);
		phex(m->opts[i].val, m->opts[i].len);
	}
	printf(" payload_len=%zu payload_hex=", m->plen);
	phex(m->payload, m->plen > 64 ? 64 : m->plen);
	printf("\n");
	fflush(stdout);
}

/* ---- DTLS -------------------------------------------------------------- */

static int closed_code = EX_OK;

static void
closed(const char *why)
{
	printf("closed ms=%ld reason=%s\n", now_ms() - t_start, why);
	fflush(stdout);
	closed_code = EX_CLOSED;
}

static void
send_record(const uint8_t *b, size_t n)
{
	ssize_t r;

	for (int i = 0; i < 100; i++) {
		r = gnutls_record_send(sess, b, n);
		if (r >= 0)
			return;
		if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED)
			break;
		poll(NULL, 0, 1);
	}
	die("record send: %s", gnutls_strerror((int)r));
}

/*
 * Wait (until deadline) for the response to a request with this token:
 * empty ACKs are noted, a separate CON response is ACKed, the peer's own
 * requests are not answered. Returns the code class (0: timeout, -1:
 * closed), the response in *out.
 */
static int
await(const uint8_t *token, uint8_t tkl, long deadline, struct msg *out)
{
	uint8_t buf[MSG_MAX];
	struct pollfd pf = { .fd = sock, .events = POLLIN };
	ssize_t r;
	long t0 = now_ms();

	for (;;) {
		long left = deadline - now_ms();

		if (left <= 0)
			return 0;
		if (gnutls_record_check_pending(sess) == 0 &&
		    poll(&pf, 1, (int)left) <= 0)
			continue;
		r = gnutls_record_recv(sess, buf, sizeof(buf));
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			continue;
		if (r == 0) {
			closed("close_notify");
			return -1;
		}
		if (r < 0) {
			if (!gnutls_error_is_fatal((int)r) &&
			    r != GNUTLS_E_WARNING_ALERT_RECEIVED)
				continue;
			closed(r == GNUTLS_E_WARNING_ALERT_RECEIVED ||
			    r == GNUTLS_E_FATAL_ALERT_RECEIVED ?
			    gnutls_alert_get_name(gnutls_alert_get(sess)) :
			    gnutls_strerror((int)r));
			return -1;
		}
		if (decode(buf, (size_t)r, out) != 0)
			continue;
		if (out->type == 0 && out->code != 0) {	/* CON: ACK it */
			struct msg ack;
			uint8_t a[8];
			size_t an;

			memset(&ack, 0, sizeof(ack));
			ack.type = 2;
			ack.mid = out->mid;
			an = encode(&ack, a, sizeof(a));
			if (out->code >> 5 == 0)	/* a request: ignore it */
				continue;
			send_record(a, an);
		}
		if (out->code == 0)			/* empty ACK */
			continue;
		if (out->code >> 5 == 0)		/* a request */
			continue;
		if (out->tkl != tkl || memcmp(out->token, token, tkl) != 0)
			continue;
		print_msg(out, now_ms() - t0);
		return out->code >> 5;
	}
}

/* One request: send, await. 0: answered, EX_NORESP or EX_CLOSED. */
static int
exchange(struct msg *m, long timeout, struct msg *resp)
{
	uint8_t buf[MSG_MAX];
	size_t n = encode(m, buf, sizeof(buf));
	int r;

	send_record(buf, n);
	r = await(m->token, m->tkl, now_ms() + timeout, resp);
	if (r == 0) {
		printf("no response ms=%ld\n", timeout);
		fflush(stdout);
		return EX_NORESP;
	}
	return r < 0 ? EX_CLOSED : 0;
}

static gnutls_datum_t ticket_in;

static void
read_psk_key(const char *file, gnutls_datum_t *key)
{
	static char text[1024];
	static uint8_t raw[256];
	size_t n = slurp(file, text, sizeof(text));
	long k = unhex(text, n, raw, sizeof(raw));

	gnutls_memset(text, 0, sizeof(text));
	if (k <= 0)
		die("%s: the key must be hex digits", file);
	key->data = raw;
	key->size = (unsigned)k;
}

/* The RPK credential: the private key, and its SPKI as a raw-key pcert. */
static void
set_rpk(gnutls_certificate_credentials_t cc, const char *file)
{
	static char pem[16384];
	gnutls_datum_t d;
	gnutls_privkey_t key;
	gnutls_pubkey_t pub;
	gnutls_pcert_st *pc;
	int r;

	d.data = (unsigned char *)pem;
	d.size = (unsigned)slurp(file, pem, sizeof(pem));
	if ((r = gnutls_privkey_init(&key)) < 0 ||
	    (r = gnutls_privkey_import_x509_raw(key, &d, GNUTLS_X509_FMT_PEM,
	    NULL, 0)) < 0 ||
	    (r = gnutls_pubkey_init(&pub)) < 0 ||
	    (r = gnutls_pubkey_import_privkey(pub, key, 0, 0)) < 0)
		die("%s: %s", file, gnutls_strerror(r));
	gnutls_memset(pem, 0, sizeof(pem));
	if ((pc = gnutls_malloc(sizeof(*pc))) == NULL)
		die("out of memory");
	if ((r = gnutls_pcert_import_rawpk(pc, pub, 0)) < 0 ||
	    (r = gnutls_certificate_set_key(cc, NULL, 0, pc, 1, key)) < 0)
		die("%s: %s", file, gnutls_strerror(r));
	/* the credentials took the pcert's contents and the key; the array
	 * itself stays ours (LeakSanitizer) */
	gnutls_free(pc);
}

static int
handshake(long hs_timeout)
{
	struct pollfd pf = { .fd = sock, .events = POLLIN };
	long deadline = now_ms() + hs_timeout;
	int r;

	for (;;) {
		long left;
		unsigned t;

		r = gnutls_handshake(sess);
		if (r == 0)
			return 0;
		if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED &&
		    gnutls_error_is_fatal(r))
			break;
		if ((left = deadline - now_ms()) <= 0) {
			r = GNUTLS_E_TIMEDOUT;
			break;
		}
		t = gnutls_dtls_get_timeout(sess);
		poll(&pf, 1, (long)t < left ? (int)t : (int)left);
	}
	printf("handshake failed ms=%ld error=", now_ms() - t_start);
	for (const char *e = gnutls_strerror(r); *e != '\0'; e++)
		putchar(*e == ' ' ? '_' : *e);
	if (r == GNUTLS_E_FATAL_ALERT_RECEIVED ||
	    r == GNUTLS_E_WARNING_ALERT_RECEIVED)
		printf(" alert=%s", gnutls_alert_get_name(gnutls_alert_get(sess)));
	printf("\n");
	fflush(stdout);
	return -1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: dtlsprobe handshake|coap-raw HOST:PORT "
	    "(--psk-identity ID --psk-file F | --rpk-key F | --cert F --key F)"
	    " [options] [requests]\n  (see the comment at the top of "
	    "tests/integration/dtlsprobe.c)\n");
	exit(EX_USAGE);
}

int
main(int argc, char **argv)
{
	static uint8_t payload[65536], hexbuf[HEXBUF_MAX], reqbuf[REQS_MAX][MSG_MAX];
	static size_t reqlen[REQS_MAX];
	static char tbuf[16384];
	const char *mode, *psk_id = NULL, *psk_file = NULL, *rpk = NULL;
	const char *cert = NULL, *key = NULL, *ca = NULL, *bind_to = NULL;
	const char *tout = NULL, *tin = NULL;
	long hs_timeout = 5000, retrans = 1000, timeout = 5000, hold = 0;
	long pause_ms = -1, then = 0, blocks = 0, block_size = 1024;
	int no_close = 0, more = 0, raw, nreq = 0, rc = EX_OK, r;
	unsigned long size1 = 0;
	int have_size1 = 0, have_mid = 0, have_token = 0;
	struct msg m, resp;
	struct sockaddr_in peer, local;
	gnutls_certificate_credentials_t cc = NULL;
	gnutls_psk_client_credentials_t pc = NULL;
	char prio[512];
	int one = 1;

	if (argc < 3)
		usage();
	mode = argv[1];
	if (strcmp(mode, "handshake") == 0)
		raw = 0;
	else if (strcmp(mode, "coap-raw") == 0)
		raw = 1;
	else
		usage();
	parse_addr(argv[2], &peer);
	if (gnutls_global_init() < 0)
		die("gnutls_global_init");
	new_msg(&m, 0, 0x02);
	for (int i = 3; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

#define ARG(name) (strcmp(a, name) == 0 && (v != NULL || (usage(), 0)) && ++i)
		if (ARG("--psk-identity"))
			psk_id = v;
		else if (ARG("--psk-file"))
			psk_file = v;
		else if (ARG("--rpk-key"))
			rpk = v;
		else if (ARG("--cert"))
			cert = v;
		else if (ARG("--key"))
			key = v;
		else if (ARG("--ca"))
			ca = v;
		else if (ARG("--bind"))
			bind_to = v;
		else if (strcmp(a, "--no-close") == 0)
			no_close = 1;
		else if (ARG("--ticket-out"))
			tout = v;
		else if (ARG("--ticket-in"))
			tin = v;
		else if (ARG("--hs-timeout"))
			hs_timeout = (long)num(v, 600000);
		else if (ARG("--retrans"))
			retrans = (long)num(v, 600000);
		else if (ARG("--timeout"))
			timeout = (long)num(v, 600000);
		else if (ARG("--hold"))
			hold = (long)num(v, 600000);
		else if (!raw && (ARG("--get") || ARG("--post"))) {
			struct msg q;

			if (nreq >= REQS_MAX)
				die("too many requests");
			new_msg(&q, 0, strcmp(a, "--get") == 0 ? 0x01 : 0x02);
			add_uri(&q, v);
			reqlen[nreq] = encode(&q, reqbuf[nreq], MSG_MAX);
			nreq++;
		} else if (!raw && ARG("--hex")) {
			long n = unhex(v, strlen(v), reqbuf[nreq < REQS_MAX ?
			    nreq : 0], MSG_MAX);

			if (nreq >= REQS_MAX || n < 4)
				die("bad --hex message");
			reqlen[nreq++] = (size_t)n;
		} else if (raw && ARG("--type")) {
			if (strcmp(v, "con") == 0)
				m.type = 0;
			else if (strcmp(v, "non") == 0)
				m.type = 1;
			else
				die("--type con|non");
		} else if (raw && ARG("--code")) {
			unsigned c, d;

			if (sscanf(v, "%u.%u", &c, &d) != 2 || c > 7 || d > 31)
				die("--code C.DD");
			m.code = (uint8_t)(c << 5 | d);
		} else if (raw && ARG("--mid")) {
			m.mid = (uint16_t)num(v, 65535);
			have_mid = 1;
		} else if (raw && ARG("--token")) {
			long n = unhex(v, strlen(v), m.token, 8);

			if (n < 0)
				die("--token: up to 8 bytes of hex");
			m.tkl = (uint8_t)n;
			have_token = 1;
		} else if (raw && ARG("--path")) {
			add_uri(&m, v);
		} else if (raw && ARG("--opt")) {
			const char *eq = strchr(v, '=');
			char nb[16];
			long n;

			if (eq == NULL || (size_t)(eq - v) >= sizeof(nb))
				die("--opt NUM=HEX");
			memcpy(nb, v, (size_t)(eq - v));
			nb[eq - v] = '\0';
			if ((n = unhex(eq + 1, strlen(eq + 1), hexbuf, 256)) < 0)
				die("--opt NUM=HEX");
			add_opt(&m, (unsigned)num(nb, 65535), hexbuf, (size_t)n);
		} else if (raw && ARG("--payload-hex")) {
			long n = unhex(v, strlen(v), payload, sizeof(payload));

			if (n < 0)
				die("--payload-hex");
			m.payload = payload;
			m.plen = (size_t)n;
		} else if (raw && ARG("--payload-len")) {
			m.plen = num(v, sizeof(payload));
			memset(payload, '0', m.plen);
			m.payload = payload;
		} else if (raw && ARG("--blocks"))
			blocks = (long)num(v, 100000);
		else if (raw && ARG("--block-size")) {
			block_size = (long)num(v, 1024);
			if (block_size < 16 || (block_size & (block_size - 1)))
				die("--block-size: 16..1024, a power of two");
		} else if (raw && ARG("--size1")) {
			size1 = num(v, 0xffffffffUL);
			have_size1 = 1;
		} else if (raw && strcmp(a, "--more") == 0)
			more = 1;
		else if (raw && ARG("--pause"))
			pause_ms = (long)num(v, 600000);
		else if (raw && ARG("--then"))
			then = (long)num(v, 100000);
		else
			usage();
#undef ARG
	}
	(void)have_mid;
	(void)have_token;

	/* credentials and priorities */
	if (psk_id != NULL && psk_file != NULL) {
		gnutls_datum_t k;

		read_psk_key(psk_file, &k);
		if (gnutls_psk_allocate_client_credentials(&pc) < 0 ||
		    gnutls_psk_set_client_credentials(pc, psk_id, &k,
		    GNUTLS_PSK_KEY_RAW) < 0)
			die("PSK credentials");
		gnutls_memset(k.data, 0, k.size);
		snprintf(prio, sizeof(prio), "NORMAL:-VERS-ALL:+VERS-DTLS1.2:"
		    "-KX-ALL:+PSK:+ECDHE-PSK:+AES-128-CCM-8:+AES-128-CCM");
	} else if (rpk != NULL || (cert != NULL && key != NULL)) {
		if (gnutls_certificate_allocate_credentials(&cc) < 0)
			die("certificate credentials");
		if (rpk != NULL)
			set_rpk(cc, rpk);
		else if ((r = gnutls_certificate_set_x509_key_file(cc, cert, key,
		    GNUTLS_X509_FMT_PEM)) < 0)
			die("%s, %s: %s", cert, key, gnutls_strerror(r));
		if (ca != NULL && gnutls_certificate_set_x509_trust_file(cc, ca,
		    GNUTLS_X509_FMT_PEM) <= 0)
			die("%s: no CA certificate", ca);
		snprintf(prio, sizeof(prio), "NORMAL:-VERS-ALL:+VERS-DTLS1.2:"
		    "-KX-ALL:+ECDHE-ECDSA:+AES-128-CCM-8:+AES-128-CCM:"
		    "-CTYPE-ALL:%s:+CTYPE-SRV-X509:+CTYPE-SRV-RAWPK",
		    rpk != NULL ? "+CTYPE-CLI-RAWPK" : "+CTYPE-CLI-X509");
	} else
		usage();

	/* the socket */
	if ((sock = socket(AF_INET, SOCK_DGRAM, 0)) < 0)
		die("socket: %s", strerror(errno));
	setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind_to != NULL) {
		parse_addr(bind_to, &local);
		if (bind(sock, (struct sockaddr *)&local, sizeof(local)) != 0)
			die("bind %s: %s", bind_to, strerror(errno));
	}
	if (connect(sock, (struct sockaddr *)&peer, sizeof(peer)) != 0)
		die("connect %s: %s", argv[2], strerror(errno));
	fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);

	/* the session */
	if (gnutls_init(&sess, GNUTLS_CLIENT | GNUTLS_DATAGRAM |
	    GNUTLS_NONBLOCK | (rpk != NULL ? GNUTLS_ENABLE_RAWPK : 0)) < 0)
		die("gnutls_init");
	if ((r = gnutls_priority_set_direct(sess, prio, NULL)) < 0)
		die("priority: %s", gnutls_strerror(r));
	if (pc != NULL)
		gnutls_credentials_set(sess, GNUTLS_CRD_PSK, pc);
	if (cc != NULL) {
		gnutls_credentials_set(sess, GNUTLS_CRD_CERTIFICATE, cc);
		if (ca != NULL)
			gnutls_session_set_verify_cert(sess, NULL, 0);
	}
	gnutls_transport_set_int(sess, sock);
	gnutls_dtls_set_timeouts(sess, (unsigned)retrans, (unsigned)hs_timeout);
	if (tin != NULL) {
		ticket_in.size = (unsigned)slurp(tin, tbuf, sizeof(tbuf));
		ticket_in.data = (unsigned char *)tbuf;
		if ((r = gnutls_session_set_data(sess, ticket_in.data,
		    ticket_in.size)) < 0)
			die("%s: %s", tin, gnutls_strerror(r));
	}

	t_start = now_ms();
	if (handshake(hs_timeout) != 0) {
		rc = EX_HS;
		goto out;
	}
	printf("handshake ok ms=%ld resumed=%s ticket=%s\n", now_ms() - t_start,
	    gnutls_session_is_resumed(sess) ? "yes" : "no",
	    gnutls_session_get_flags(sess) & GNUTLS_SFLAGS_SESSION_TICKET ?
	    "yes" : "no");
	fflush(stdout);
	if (tout != NULL) {
		gnutls_datum_t d;
		int fd;

		if ((r = gnutls_session_get_data2(sess, &d)) < 0)
			die("session data: %s", gnutls_strerror(r));
		if ((fd = open(tout, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
		    write(fd, d.data, d.size) != (ssize_t)d.size || close(fd) != 0)
			die("%s: %s", tout, strerror(errno));
		gnutls_memset(d.data, 0, d.size);
		gnutls_free(d.data);
	}

	if (!raw) {
		for (int i = 0; i < nreq && rc == EX_OK; i++) {
			struct msg q;

			if (decode(reqbuf[i], reqlen[i], &q) != 0)
				die("--hex: not a CoAP message");
			send_record(reqbuf[i], reqlen[i]);
			r = await(q.token, q.tkl, now_ms() + timeout, &resp);
			if (r == 0) {
				printf("no response ms=%ld\n", timeout);
				rc = EX_NORESP;
			} else if (r < 0)
				rc = EX_CLOSED;
		}
	} else if (blocks == 0) {
		rc = exchange(&m, timeout, &resp);
	} else {
		/* a Block1 sequence: num 0.., M=1 but on the last (--more) */
		unsigned base = m.nopts;
		long total = blocks + (pause_ms >= 0 ? then : 0);

		for (long b = 0; b < total && rc == EX_OK; b++) {
			unsigned long v;
			int last = b == blocks - 1 || b == total - 1;

			if (b == blocks && pause_ms >= 0) {
				printf("pause ms=%ld\n", pause_ms);
				fflush(stdout);
				poll(NULL, 0, (int)pause_ms);
			}
			m.nopts = base;
			v = (unsigned long)b << 4 | (last && !more ? 0 : 8) |
			    (unsigned long)(__builtin_ctzl((unsigned long)block_size) - 4);
			add_uint(&m, 27, v);
			if (b == 0 && have_size1)
				add_uint(&m, 60, size1);
			memset(payload, 'A' + (int)(b % 26), (size_t)block_size);
			m.payload = payload;
			m.plen = (size_t)block_size;
			if (b > 0)
				m.mid++;
			rc = exchange(&m, timeout, &resp);
			if (rc == EX_OK && resp.code != (2 << 5 | 31) &&
			    !(b == blocks - 1 && pause_ms >= 0))
				break;
		}
	}
	if (hold > 0 && closed_code == EX_OK) {
		struct msg none;
		uint8_t tok[8] = { 0 };

		if (await(tok, 8, now_ms() + hold, &none) == 0) {
			printf("held ms=%ld\n", hold);
			fflush(stdout);
		} else
			rc = EX_CLOSED;
	}
out:
	if (!no_close && rc != EX_HS && closed_code == EX_OK)
		gnutls_bye(sess, GNUTLS_SHUT_WR);
	gnutls_deinit(sess);
	if (pc != NULL)
		gnutls_psk_free_client_credentials(pc);
	if (cc != NULL)
		gnutls_certificate_free_credentials(cc);
	gnutls_memset(tbuf, 0, sizeof(tbuf));
	close(sock);
	gnutls_global_deinit();
	return rc != EX_OK ? rc : closed_code;
}
