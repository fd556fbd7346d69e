/*
 * lg.c: the lean DTLS load generator (lg.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/dtls.h>
#include <gnutls/gnutls.h>

#include "lg.h"

#define DGRAM_MAX	2048	/* largest datagram read */
#define APP_MAX		1024	/* largest CoAP message read */
#define REQ_MAX		256	/* our request */
#define RSP_MAX		96	/* our answer to a server request */
#define ACK_TIMEOUT_US	2000000u
#define CON_TRIES	4	/* resends of our CON */
#define HS_RETRANS_MS	500u
#define SCAN_US		10000u	/* timers looked at every 10 ms */
#define EVENTS		64

/* CoAP (RFC 7252) */
#define T_CON		0
#define T_NON		1
#define T_ACK		2
#define T_RST		3
#define C_GET		1
#define C_POST		2
#define C_PUT		3
#define C_DELETE	4
#define C_CREATED	0x41
#define C_DELETED	0x42
#define C_CHANGED	0x44
#define C_CONTENT	0x45
#define O_URI_PATH	11
#define O_CF		12
#define O_URI_QUERY	15
#define CF_LINK		40
/* a Discover answer: the BS account at /0/0 (no ssid), no server yet */
#define DISCOVER_LINKS	"</>;lwm2m=1.1,</0/0>,</1>"

static const char *const prio_str[] = {
	[LG_PSK] = "NONE:+VERS-DTLS1.2:+PSK:+AES-128-CCM-8:+AEAD:+COMP-NULL:"
	    "+SIGN-ALL",
	[LG_RPK] = "NONE:+VERS-DTLS1.2:+ECDHE-ECDSA:+AES-128-CCM-8:+AEAD:"
	    "+COMP-NULL:+SIGN-ALL:+CURVE-SECP256R1:+CTYPE-CLI-RAWPK:"
	    "+CTYPE-SRV-RAWPK:+CTYPE-SRV-X509",
	[LG_X509] = "NONE:+VERS-DTLS1.2:+ECDHE-ECDSA:+AES-128-CCM-8:+AEAD:"
	    "+COMP-NULL:+SIGN-ALL:+CURVE-SECP256R1",
};

uint64_t
lg_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

struct in_addr
lg_addr(unsigned net, unsigned long j)
{
	struct in_addr a;
	unsigned long sub = j / 254;

	a.s_addr = htonl(127u << 24 | (uint32_t)((net + sub / 256) & 255) <<
	    16 | (uint32_t)(sub % 256) << 8 | (uint32_t)(1 + j % 254));
	return a;
}

unsigned long
lg_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (unsigned long)rl.rlim_cur :
	    0;
}

void
lg_sched_batch(void)
{
	struct sched_param sp = { .sched_priority = 0 };

	(void)sched_setscheduler(0, SCHED_BATCH, &sp);
}

/* ---- manifest ------------------------------------------------------------ */

/* The string value of "key" in a JSON line into out (no escapes: the
 * manifests hold none), 0 or -1. */
static int
json_str(const char *line, const char *key, char *out, size_t cap)
{
	char pat[32];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	if ((p = strstr(line, pat)) == NULL)
		return -1;
	p += strlen(pat);
	if ((e = strchr(p, '"')) == NULL || (size_t)(e - p) >= cap ||
	    memchr(p, '\\', (size_t)(e - p)) != NULL)
		return -1;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	return 0;
}

int
lg_read_manifest(const char *file, struct lg_cred **out, size_t *n)
{
	FILE *f;
	char line[1024], hex[2 * LG_PSK_MAX + 1];
	struct lg_cred *v = NULL, *nv;
	size_t cap = 0, k = 0, lineno = 0;

	if ((f = fopen(file, "r")) == NULL) {
		fprintf(stderr, "cannot open %s: %s\n", file, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		struct lg_cred c;
		size_t hl;

		lineno++;
		memset(&c, 0, sizeof(c));
		if (json_str(line, "psk_identity", c.ident, sizeof(c.ident)) !=
		    0)
			continue;
		if (json_str(line, "id", c.ep, sizeof(c.ep)) != 0 ||
		    json_str(line, "psk", hex, sizeof(hex)) != 0 ||
		    (hl = strlen(hex)) == 0 || hl % 2 != 0)
			goto bad;
		for (size_t i = 0; i < hl / 2; i++) {
			unsigned b;
			if (sscanf(hex + 2 * i, "%2x", &b) != 1)
				goto bad;
			c.psk[i] = (uint8_t)b;
		}
		c.psk_len = hl / 2;
		if (k == cap) {
			cap = cap ? 2 * cap : 1024;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
				goto oom;
			v = nv;
		}
		v[k++] = c;
	}
	explicit_bzero(hex, sizeof(hex));
	fclose(f);
	if (k == 0) {
		fprintf(stderr, "%s: no PSK device\n", file);
		free(v);
		return -1;
	}
	*out = v;
	*n = k;
	return 0;
bad:
	fprintf(stderr, "%s:%zu: not a device with id, psk_identity and psk\n",
	    file, lineno);
	goto fail;
oom:
	fprintf(stderr, "out of memory\n");
fail:
	explicit_bzero(hex, sizeof(hex));
	fclose(f);
	if (v != NULL)
		explicit_bzero(v, k * sizeof(*v));
	free(v);
	return -1;
}

/* ---- CoAP, as much as the fleet needs ------------------------------------ */

struct msg {
	unsigned	 type, code, mid, tkl;
	const uint8_t	*tok;
	char		 path[64];	/* Uri-Path segments joined by '/' */
	const uint8_t	*payload;
	size_t		 payload_len;
};

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

/* A message into buf (cap bytes at least 32 + the options and payload:
 * checked by the callers' sizes); its length. */
static size_t
msg_make(uint8_t *buf, size_t cap, unsigned type, unsigned code,
    unsigned mid, const uint8_t *tok, unsigned tkl, const char *path,
    const char *query, int cf, const char *payload)
{
	size_t n = 0, pl = payload != NULL ? strlen(payload) : 0;
	unsigned last = 0;

	if (4 + tkl + (path ? strlen(path) + 8 : 0) + (query ? strlen(query) +
	    3 : 0) + 3 + pl + 1 > cap)
		return 0;
	buf[n++] = (uint8_t)(0x40 | type << 4 | tkl);
	buf[n++] = (uint8_t)code;
	buf[n++] = (uint8_t)(mid >> 8);
	buf[n++] = (uint8_t)mid;
	memcpy(buf + n, tok, tkl);
	n += tkl;
	for (const char *p = path; p != NULL && *p != '\0';) {
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		n += opt_hdr(buf + n, O_URI_PATH - last, (unsigned)l);
		last = O_URI_PATH;
		memcpy(buf + n, p, l);
		n += l;
		p = e ? e + 1 : p + l;
	}
	if (cf >= 0) {
		n += opt_hdr(buf + n, O_CF - last, cf > 0 ? 1 : 0);
		last = O_CF;
		if (cf > 0)
			buf[n++] = (uint8_t)cf;
	}
	if (query != NULL) {
		size_t l = strlen(query);

		n += opt_hdr(buf + n, O_URI_QUERY - last, (unsigned)l);
		memcpy(buf + n, query, l);
		n += l;
	}
	if (pl > 0) {
		buf[n++] = 0xff;
		memcpy(buf + n, payload, pl);
		n += pl;
	}
	return n;
}

/* Parse a message (bounded; the Uri-Path kept, other options skipped):
 * 0 or -1. */
static int
msg_parse(const uint8_t *m, size_t len, struct msg *out)
{
	size_t i, plen = 0;
	unsigned opt = 0;

	memset(out, 0, sizeof(*out));
	if (len < 4 || m[0] >> 6 != 1 || (m[0] & 0x0f) > 8)
		return -1;
	out->type = (m[0] >> 4) & 3;
	out->tkl = m[0] & 0x0f;
	out->code = m[1];
	out->mid = (unsigned)m[2] << 8 | m[3];
	if (4 + out->tkl > len)
		return -1;
	out->tok = m + 4;
	i = 4 + out->tkl;
	while (i < len && m[i] != 0xff) {
		unsigned d = m[i] >> 4, l = m[i] & 0x0f;
		size_t at = i + 1;

		if (d == 15 || l == 15)
			return -1;
		for (int k = 0; k < 2; k++) {
			unsigned *v = k == 0 ? &d : &l;
			if (*v == 13) {
				if (at + 1 > len)
					return -1;
				*v = m[at] + 13u;
				at += 1;
			} else if (*v == 14) {
				if (at + 2 > len)
					return -1;
				*v = ((unsigned)m[at] << 8 | m[at + 1]) + 269u;
				at += 2;
			}
		}
		if (at + l > len)
			return -1;
		opt += d;
		if (opt == O_URI_PATH) {
			if (plen + l + 2 > sizeof(out->path))
				return -1;
			if (plen > 0)
				out->path[plen++] = '/';
			memcpy(out->path + plen, m + at, l);
			plen += l;
			out->path[plen] = '\0';
		}
		i = at + l;
	}
	if (i < len) {
		if (i + 1 == len)
			return -1;	/* a payload marker with no payload */
		out->payload = m + i + 1;
		out->payload_len = len - i - 1;
	}
	return 0;
}

/* ---- the fleet --------------------------------------------------------- */

enum { ST_FREE, ST_HS, ST_APP };
enum fail { F_HS, F_TIMEOUT, F_REFUSED, F_CLOSED, F_IO };

struct worker;

struct dev {
	struct worker			*w;
	int				 fd;
	int				 state;
	unsigned long			 j;
	gnutls_session_t		 s;
	gnutls_psk_client_credentials_t	 cred;
	uint64_t			 t0, deadline, timer;
	const uint8_t			*in;	/* the datagram for pull() */
	size_t				 in_len;
	/* our CON */
	unsigned			 mid, tries;
	uint8_t				 tok[4];
	uint8_t				 req[REQ_MAX];
	size_t				 req_len;
	bool				 acked, answered;
	/* the last server request answered, for duplicates */
	int				 last_mid;
	uint8_t				 rsp[RSP_MAX];
	size_t				 rsp_len;
	unsigned long			 dg_out, dg_in, bytes_out, bytes_in;
	unsigned long			 hs_dg_out, hs_dg_in, hs_bytes_out,
					 hs_bytes_in;
};

/* A worker's results, in memory shared with the parent. */
struct wres {
	unsigned long	 started, ok, failed, unfinished, hs_failed, timeouts,
			 refused, closed, io_errors, retransmits, dup_requests,
			 tickets;
	unsigned long	 dg_out, dg_in, bytes_out, bytes_in;
	unsigned long	 hs_dg_out, hs_dg_in, hs_bytes_out, hs_bytes_in;
	unsigned long	 codes[256];
	uint64_t	 end_us;
	char		 suite[64], ctypes[32];
};

struct worker {
	const struct lg_conf	*c;
	struct wres		*res;
	uint32_t		*lat_us;	/* [n], 0: not done */
	int			 ep;
	struct dev		*devs;
	size_t			 ndevs, inflight;
	gnutls_priority_t	 prio;
	gnutls_certificate_credentials_t xcred;	/* LG_RPK, LG_X509 */
	struct sockaddr_in	 dst;
	uint32_t		 tok_next;
	uint16_t		 mid_next;
};

static ssize_t
vpush(gnutls_transport_ptr_t p, const giovec_t *iov, int cnt)
{
	struct dev *d = p;
	struct msghdr mh;
	ssize_t r;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = (struct iovec *)(uintptr_t)iov;
	mh.msg_iovlen = (size_t)cnt;
	while ((r = sendmsg(d->fd, &mh, 0)) < 0 && errno == EINTR)
		;
	if (r < 0) {
		gnutls_transport_set_errno(d->s, errno == EAGAIN ? EAGAIN :
		    errno);
		return -1;
	}
	d->dg_out++;
	d->bytes_out += (unsigned long)r;
	return r;
}

static ssize_t
pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
	struct dev *d = p;
	size_t n;

	if (d->in == NULL) {
		gnutls_transport_set_errno(d->s, EAGAIN);
		return -1;
	}
	n = d->in_len < len ? d->in_len : len;
	memcpy(buf, d->in, n);
	d->in = NULL;
	return (ssize_t)n;
}

/* Exact, as GnuTLS's retransmission check needs (transport.md §2.2.4). */
static int
pull_timeout(gnutls_transport_ptr_t p, unsigned ms)
{
	(void)ms;
	return ((struct dev *)p)->in != NULL ? 1 : 0;
}

static void
dev_end(struct dev *d, bool ok, enum fail why)
{
	struct worker *w = d->w;
	struct wres *r = w->res;

	if (ok) {
		uint64_t us = lg_now_us() - d->t0;

		if (w->c->mode == LG_BOOT)
			(void)gnutls_bye(d->s, GNUTLS_SHUT_WR);	/* close_notify */
		r->ok++;
		if (gnutls_session_get_flags(d->s) &
		    GNUTLS_SFLAGS_SESSION_TICKET)
			r->tickets++;
		r->dg_out += d->dg_out;
		r->dg_in += d->dg_in;
		r->bytes_out += d->bytes_out;
		r->bytes_in += d->bytes_in;
		r->hs_dg_out += d->hs_dg_out;
		r->hs_dg_in += d->hs_dg_in;
		r->hs_bytes_out += d->hs_bytes_out;
		r->hs_bytes_in += d->hs_bytes_in;
		w->lat_us[d->j] = us > 0 && us < UINT32_MAX ? (uint32_t)us : 1;
	} else {
		r->failed++;
		switch (why) {
		case F_HS: r->hs_failed++; break;
		case F_TIMEOUT: r->timeouts++; break;
		case F_REFUSED: r->refused++; break;
		case F_CLOSED: r->closed++; break;
		case F_IO: r->io_errors++; break;
		}
	}
	if (d->s != NULL)
		gnutls_deinit(d->s);
	if (d->cred != NULL)
		gnutls_psk_free_client_credentials(d->cred);
	if (d->fd >= 0)
		close(d->fd);	/* LG_IDLE: no close_notify, nothing kept */
	d->s = NULL;
	d->cred = NULL;
	d->fd = -1;
	d->state = ST_FREE;
	w->inflight--;
}

/* Send a CoAP message on the established session. */
static int
app_send(struct dev *d, const uint8_t *m, size_t n)
{
	return gnutls_record_send(d->s, m, n) == (ssize_t)n ? 0 : -1;
}

/* A side's certificate type, one word. */
static const char *
ctype(const struct lg_conf *c, gnutls_session_t s, gnutls_ctype_target_t t)
{
	if (c->kind == LG_PSK)
		return "-";
	switch (gnutls_certificate_type_get2(s, t)) {
	case GNUTLS_CRT_X509: return "X.509";
	case GNUTLS_CRT_RAWPK: return "RPK";
	default: return "?";
	}
}

static void
established(struct dev *d)
{
	struct worker *w = d->w;
	const struct lg_cred *c = &w->c->creds[d->j % w->c->ncreds];
	char query[LG_EP_MAX + 4];
	uint32_t tok = w->tok_next++;

	if (w->res->suite[0] == '\0') {
		const char *n = gnutls_cipher_suite_get_name(
		    gnutls_kx_get(d->s), gnutls_cipher_get(d->s),
		    gnutls_mac_get(d->s));

		snprintf(w->res->suite, sizeof(w->res->suite), "TLS_%s",
		    n != NULL ? n : "?");
		snprintf(w->res->ctypes, sizeof(w->res->ctypes), "%s/%s",
		    ctype(w->c, d->s, GNUTLS_CTYPE_CLIENT),
		    ctype(w->c, d->s, GNUTLS_CTYPE_SERVER));
	}
	d->hs_dg_out = d->dg_out;
	d->hs_dg_in = d->dg_in;
	d->hs_bytes_out = d->bytes_out;
	d->hs_bytes_in = d->bytes_in;
	d->state = ST_APP;
	d->mid = w->mid_next++;
	memcpy(d->tok, &tok, sizeof(d->tok));
	if (w->c->mode == LG_BOOT) {
		snprintf(query, sizeof(query), "ep=%s", w->c->kind == LG_PSK ?
		    c->ep : w->c->ep);
		d->req_len = msg_make(d->req, sizeof(d->req), T_CON, C_POST,
		    d->mid, d->tok, 4, "bs", query, -1, NULL);
	} else
		d->req_len = msg_make(d->req, sizeof(d->req), T_CON, C_GET,
		    d->mid, d->tok, 4, w->c->path, NULL, -1, NULL);
	if (d->req_len == 0 || app_send(d, d->req, d->req_len) != 0) {
		dev_end(d, false, F_IO);
		return;
	}
	d->tries = 0;
	d->timer = lg_now_us() + ACK_TIMEOUT_US;
}

/* The response to our request: code. */
static void
response(struct dev *d, unsigned code)
{
	d->answered = true;
	if (d->w->c->mode == LG_IDLE) {
		d->w->res->codes[code & 255]++;
		dev_end(d, true, 0);
	} else if (code != C_CHANGED)
		dev_end(d, false, F_REFUSED);
	/* LG_BOOT: the server's requests follow */
}

/* A CoAP message from the server. */
static void
app_in(struct dev *d, const uint8_t *m, size_t len)
{
	struct msg q;
	uint8_t rsp[RSP_MAX];
	unsigned code;
	const char *body = NULL;
	size_t n;

	if (msg_parse(m, len, &q) != 0)
		return;
	if (q.type == T_ACK || q.type == T_RST) {
		if (q.mid != d->mid)
			return;
		if (q.type == T_RST) {
			dev_end(d, false, F_REFUSED);
			return;
		}
		d->acked = true;
		if (q.code != 0 && !d->answered)
			response(d, q.code);
		return;
	}
	if (q.code >= 0x40) {		/* a separate response */
		if (q.tkl != 4 || memcmp(q.tok, d->tok, 4) != 0)
			return;
		if (q.type == T_CON) {
			uint8_t ack[4] = { 0x60, 0, m[2], m[3] };
			if (app_send(d, ack, 4) != 0) {
				dev_end(d, false, F_IO);
				return;
			}
		}
		d->acked = true;
		if (!d->answered)
			response(d, q.code);
		return;
	}
	if (q.code == 0 || q.code > C_DELETE)
		return;
	if (q.type == T_CON && (int)q.mid == d->last_mid) {
		d->w->res->dup_requests++;
		if (app_send(d, d->rsp, d->rsp_len) != 0)
			dev_end(d, false, F_IO);
		return;
	}
	switch (q.code) {
	case C_GET:
		code = C_CONTENT;
		body = DISCOVER_LINKS;
		break;
	case C_DELETE:
		code = C_DELETED;
		break;
	default:		/* PUT: Write, POST: Finish */
		code = C_CHANGED;
		break;
	}
	/* piggybacked on the ACK, or a NON answer to a NON */
	n = msg_make(rsp, sizeof(rsp), q.type == T_CON ? T_ACK : T_NON, code,
	    q.type == T_CON ? q.mid : d->w->mid_next++, q.tok, q.tkl, NULL,
	    NULL, body != NULL ? CF_LINK : -1, body);
	if (n == 0 || app_send(d, rsp, n) != 0) {
		dev_end(d, false, F_IO);
		return;
	}
	if (q.type == T_CON) {
		d->last_mid = (int)q.mid;
		memcpy(d->rsp, rsp, n);
		d->rsp_len = n;
	}
	if (q.code == C_POST && strcmp(q.path, "bs") == 0) {
		/* Bootstrap-Finish; an unanswered POST /bs counts as
		 * acknowledged by it */
		dev_end(d, d->w->c->mode == LG_BOOT, F_REFUSED);
	}
}

/* Drive d after a datagram (d->in) or a timer. */
static void
dev_step(struct dev *d)
{
	uint8_t m[APP_MAX];
	ssize_t r;
	int rc;

	if (d->state == ST_HS) {
		rc = gnutls_handshake(d->s);
		if (rc == 0) {
			established(d);
			if (d->state != ST_APP)
				return;
		} else if (gnutls_error_is_fatal(rc)) {
			dev_end(d, false, F_HS);
			return;
		} else {
			d->timer = lg_now_us() +
			    (uint64_t)gnutls_dtls_get_timeout(d->s) * 1000u;
			return;
		}
	}
	while (d->state == ST_APP) {
		r = gnutls_record_recv(d->s, m, sizeof(m));
		if (r > 0)
			app_in(d, m, (size_t)r);
		else if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			break;
		else if (r == 0) {
			dev_end(d, false, F_CLOSED);	/* close_notify */
			break;
		} else if (gnutls_error_is_fatal((int)r)) {
			dev_end(d, false, F_CLOSED);
			break;
		}
		/* a warning alert, a record to drop: go on */
	}
}

static int
dev_start(struct worker *w, struct dev *d, unsigned long j)
{
	const struct lg_conf *c = w->c;
	const struct lg_cred *cr = &c->creds[j % c->ncreds];
	gnutls_datum_t key = { (unsigned char *)(uintptr_t)cr->psk,
	    (unsigned)cr->psk_len };
	struct sockaddr_in src;
	struct epoll_event ev;
	int rc;

	memset(d, 0, sizeof(*d));
	d->w = w;
	d->j = j;
	d->last_mid = -1;
	d->t0 = lg_now_us();
	d->deadline = d->t0 + (uint64_t)c->timeout_s * 1000000u;
	w->inflight++;
	w->res->started++;
	d->state = ST_HS;
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	src.sin_addr = lg_addr(c->net, j);
	if ((d->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0 ||
	    bind(d->fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
	    connect(d->fd, (struct sockaddr *)&w->dst, sizeof(w->dst)) != 0)
		goto fail;
	ev.events = EPOLLIN;
	ev.data.ptr = d;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, d->fd, &ev) != 0 ||
	    gnutls_init(&d->s, GNUTLS_CLIENT | GNUTLS_DATAGRAM |
	    GNUTLS_NONBLOCK | (c->kind == LG_RPK ? GNUTLS_ENABLE_RAWPK : 0)) <
	    0 || gnutls_priority_set(d->s, w->prio) < 0)
		goto fail;
	if (c->kind == LG_PSK) {
		if (gnutls_psk_allocate_client_credentials(&d->cred) < 0 ||
		    gnutls_psk_set_client_credentials(d->cred, cr->ident, &key,
		    GNUTLS_PSK_KEY_RAW) < 0 ||
		    gnutls_credentials_set(d->s, GNUTLS_CRD_PSK, d->cred) < 0)
			goto fail;
	} else if (gnutls_credentials_set(d->s, GNUTLS_CRD_CERTIFICATE,
	    w->xcred) < 0)
		goto fail;
	gnutls_transport_set_ptr(d->s, d);
	gnutls_transport_set_vec_push_function(d->s, vpush);
	gnutls_transport_set_pull_function(d->s, pull);
	gnutls_transport_set_pull_timeout_function(d->s, pull_timeout);
	gnutls_dtls_set_mtu(d->s, 1280);
	gnutls_dtls_set_timeouts(d->s, HS_RETRANS_MS, c->timeout_s * 1000u);
	rc = gnutls_handshake(d->s);		/* the ClientHello */
	if (rc != GNUTLS_E_AGAIN)
		goto fail;
	d->timer = d->t0 + (uint64_t)gnutls_dtls_get_timeout(d->s) * 1000u;
	return 0;
fail:
	dev_end(d, false, F_IO);
	return -1;
}

/* Timers: a DTLS flight, our CON, the device's deadline. */
static void
dev_timer(struct dev *d, uint64_t now)
{
	if (now >= d->deadline) {
		dev_end(d, false, d->state == ST_HS ? F_HS : F_TIMEOUT);
		return;
	}
	if (now < d->timer)
		return;
	if (d->state == ST_HS) {
		dev_step(d);		/* GnuTLS resends when due */
		return;
	}
	if (d->acked || d->answered) {
		d->timer = d->deadline;
		return;
	}
	if (d->tries == CON_TRIES) {
		dev_end(d, false, F_TIMEOUT);
		return;
	}
	if (app_send(d, d->req, d->req_len) != 0) {
		dev_end(d, false, F_IO);
		return;
	}
	d->tries++;
	d->w->res->retransmits++;
	d->timer = now + ((uint64_t)ACK_TIMEOUT_US << d->tries);
}

static void
worker_run(struct worker *w, unsigned long first, unsigned long step,
    uint64_t t_stop)
{
	const struct lg_conf *c = w->c;
	struct epoll_event evs[EVENTS];
	uint8_t buf[DGRAM_MAX];
	unsigned long next = first;
	uint64_t next_scan = lg_now_us() + SCAN_US;

	for (;;) {
		uint64_t now = lg_now_us();
		int n, to;

		if (t_stop != 0 && now >= t_stop)
			break;
		for (size_t i = 0; i < w->ndevs && next < c->n; i++)
			if (w->devs[i].state == ST_FREE) {
				(void)dev_start(w, &w->devs[i], next);
				next += step;
			}
		if (w->inflight == 0 && next >= c->n)
			break;
		to = (int)((next_scan > now ? next_scan - now : 0) / 1000) + 1;
		n = epoll_wait(w->ep, evs, EVENTS, to);
		for (int i = 0; i < n; i++) {
			struct dev *d = evs[i].data.ptr;

			while (d->state != ST_FREE) {
				ssize_t r = recv(d->fd, buf, sizeof(buf), 0);

				if (r < 0) {
					if (errno == EAGAIN || errno == EINTR)
						break;
					/* ECONNREFUSED: nobody on the port */
					dev_end(d, false, F_IO);
					break;
				}
				d->dg_in++;
				d->bytes_in += (unsigned long)r;
				d->in = buf;
				d->in_len = (size_t)r;
				dev_step(d);
				d->in = NULL;
			}
		}
		if ((now = lg_now_us()) >= next_scan) {
			for (size_t i = 0; i < w->ndevs; i++)
				if (w->devs[i].state != ST_FREE)
					dev_timer(&w->devs[i], now);
			next_scan = now + SCAN_US;
		}
	}
	for (size_t i = 0; i < w->ndevs; i++)	/* the time is up */
		if (w->devs[i].state != ST_FREE) {
			struct dev *d = &w->devs[i];

			gnutls_deinit(d->s);
			if (d->cred != NULL)
				gnutls_psk_free_client_credentials(d->cred);
			close(d->fd);
			d->state = ST_FREE;
			w->res->unfinished++;
		}
	w->res->end_us = lg_now_us();
}

/* The certificate credentials of LG_RPK and LG_X509 (else NULL): 0 or
 * -1 after a message. */
static int
xcred_load(const struct lg_conf *c, gnutls_certificate_credentials_t *out)
{
	int rc;

	*out = NULL;
	if (c->kind == LG_PSK)
		return 0;
	if ((rc = gnutls_certificate_allocate_credentials(out)) >= 0)
		rc = c->kind == LG_RPK ?
		    gnutls_certificate_set_rawpk_key_file(*out, c->cert_file,
		    c->key_file, GNUTLS_X509_FMT_PEM, NULL, 0, NULL, 0, 0, 0) :
		    gnutls_certificate_set_x509_key_file(*out, c->cert_file,
		    c->key_file, GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		fprintf(stderr, "%s, %s: %s\n", c->cert_file, c->key_file,
		    gnutls_strerror(rc));
		return -1;
	}
	return 0;
}

static int
cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

int
lg_run(const struct lg_conf *c, struct lg_stats *st)
{
	struct wres *res;
	uint32_t *lat, *sorted = NULL;
	uint64_t *go_us, t0, t1 = 0;
	size_t bytes;
	pid_t *pids;
	int go[2];
	unsigned long m = 0, failed_workers = 0;
	struct rusage ru;
	void *mem;

	memset(st, 0, sizeof(*st));
	if (c->n == 0 || c->procs == 0 || c->conc < c->procs ||
	    c->ncreds == 0 || c->n > 200ul * LG_ADDRS_PER_NET) {
		fprintf(stderr, "bad fleet parameters\n");
		return -1;
	}
	if (c->net + (c->n - 1) / LG_ADDRS_PER_NET > 255) {
		fprintf(stderr, "net %u: %lu devices need octets past 255\n",
		    c->net, c->n);
		return -1;
	}
	bytes = c->procs * sizeof(*res) + c->n * sizeof(*lat) +
	    sizeof(*go_us);
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || (pids = calloc(c->procs,
	    sizeof(*pids))) == NULL) {
		fprintf(stderr, "out of memory\n");
		return -1;
	}
	res = mem;
	go_us = (uint64_t *)(res + c->procs);
	lat = (uint32_t *)(go_us + 1);
	if (pipe(go) != 0) {
		fprintf(stderr, "pipe: %s\n", strerror(errno));
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	for (unsigned long p = 0; p < c->procs; p++) {
		if ((pids[p] = fork()) < 0) {
			fprintf(stderr, "fork: %s\n", strerror(errno));
			return -1;
		}
		if (pids[p] == 0) {
			struct worker w;
			char g;

			close(go[1]);
			memset(&w, 0, sizeof(w));
			w.c = c;
			w.res = &res[p];
			w.lat_us = lat;
			w.ndevs = c->conc / c->procs +
			    (p < c->conc % c->procs ? 1 : 0);
			w.dst.sin_family = AF_INET;
			w.dst.sin_port = htons(c->port);
			w.dst.sin_addr.s_addr = htonl(0x7f000001);
			lg_sched_batch();
			(void)lg_raise_nofile();
			if ((w.devs = calloc(w.ndevs, sizeof(*w.devs))) ==
			    NULL || (w.ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
			    gnutls_priority_init(&w.prio, prio_str[c->kind],
			    NULL) < 0 || xcred_load(c, &w.xcred) != 0 ||
			    gnutls_rnd(GNUTLS_RND_NONCE, &w.tok_next,
			    sizeof(w.tok_next)) < 0 ||
			    gnutls_rnd(GNUTLS_RND_NONCE, &w.mid_next,
			    sizeof(w.mid_next)) < 0)
				_exit(1);
			for (size_t i = 0; i < w.ndevs; i++)
				w.devs[i].fd = -1;
			while (read(go[0], &g, 1) < 0 && errno == EINTR)
				;
			close(go[0]);
			worker_run(&w, p, c->procs, c->seconds > 0 ?
			    *go_us + (uint64_t)(c->seconds * 1e6) : 0);
			_exit(0);
		}
	}
	close(go[0]);
	t0 = lg_now_us();
	*go_us = t0;
	close(go[1]);			/* go */
	for (unsigned long p = 0; p < c->procs; p++) {
		int stt;

		while (waitpid(pids[p], &stt, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(stt) || WEXITSTATUS(stt) != 0) {
			fprintf(stderr, "worker %lu failed (status %#x)\n", p,
			    (unsigned)stt);
			failed_workers++;
		}
		if (res[p].end_us > t1)
			t1 = res[p].end_us;
#define ADD(f) st->f += res[p].f
		ADD(started); ADD(ok); ADD(failed); ADD(unfinished);
		ADD(hs_failed); ADD(timeouts); ADD(refused); ADD(closed);
		ADD(io_errors); ADD(retransmits); ADD(dup_requests);
		ADD(tickets);
		ADD(dg_out); ADD(dg_in); ADD(bytes_out); ADD(bytes_in);
		ADD(hs_dg_out); ADD(hs_dg_in); ADD(hs_bytes_out);
		ADD(hs_bytes_in);
#undef ADD
		for (int k = 0; k < 256; k++)
			st->codes[k] += res[p].codes[k];
		if (st->suite[0] == '\0' && res[p].suite[0] != '\0') {
			memcpy(st->suite, res[p].suite, sizeof(st->suite));
			memcpy(st->ctypes, res[p].ctypes, sizeof(st->ctypes));
		}
	}
	if (failed_workers > 0) {	/* its counts are lost */
		munmap(mem, bytes);
		free(pids);
		return -1;
	}
	if (t1 <= t0)
		t1 = lg_now_us();
	st->seconds = (double)(t1 - t0) / 1e6;
	getrusage(RUSAGE_CHILDREN, &ru);
	st->cpu_us = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	if ((sorted = malloc((st->ok + 1) * sizeof(*sorted))) != NULL) {
		for (unsigned long j = 0; j < c->n && m < st->ok; j++)
			if (lat[j] != 0)
				sorted[m++] = lat[j];
		qsort(sorted, m, sizeof(*sorted), cmp_u32);
		if (m > 0) {
			st->p50_ms = sorted[m / 2] / 1000.0;
			st->p99_ms = sorted[(m * 99) / 100 < m ? (m * 99) /
			    100 : m - 1] / 1000.0;
			st->max_ms = sorted[m - 1] / 1000.0;
		}
		free(sorted);
	}
	munmap(mem, bytes);
	free(pids);
	return 0;
}
