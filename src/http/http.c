/*
 * http.c: the HTTPS listener. libmicrohttpd (0.9.75, GnuTLS) runs one
 * internal polling thread, so every handler runs there, one at a time.
 * This file bounds the input (body size, client certificate), routes by
 * method and path, and turns a kdc_http_resp into a response that always
 * carries Cache-Control: no-store and X-Content-Type-Options: nosniff.
 *
 * Connections are bounded too: MHD caps them per address and in all, and
 * a watchdog thread of ours closes a connection past its deadline (headers
 * within KDC_HTTP_HEADER_TIMEOUT, the rest of the request within
 * KDC_HTTP_REQUEST_TIMEOUT): MHD's own timeout is inactivity only, which
 * a client trickling one byte every few seconds resets forever.
 */
#define _GNU_SOURCE		/* POLLRDHUP */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/wipe.h"
#include "http/http.h"


/* TLS 1.3 only unless the operator turns 1.2 on (DESIGN §6). TLS 1.2 then
 * offers only ECDHE key exchange with AEAD ciphers (no CBC, no static RSA,
 * no finite-field DHE); the cipher list keeps NORMAL's TLS 1.3 suites in
 * NORMAL's order, so 1.3 negotiates exactly as with PRIO_TLS13. */
#define PRIO_TLS13	"NORMAL:-VERS-ALL:+VERS-TLS1.3"
#define PRIO_TLS12	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
			"-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:" \
			"+AES-128-GCM:+AES-128-CCM:-MAC-ALL:+AEAD:" \
			"-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA"

/* What MHD 0.9.75 logs when it refuses a connection at the per-address or
 * the global limit: its only report of either (docs/traps.md). */
#define MHD_AT_LIMIT	"Server reached connection limit"

#define PROBLEM_JSON	"application/problem+json"

/* The block MHD asks a stream's pull to fill at most (advisory). */
#define STREAM_BLOCK	4096

struct route {
	char		*method;
	char		*path;		/* prefix: ends in "/" */
	size_t		 len;
	bool		 prefix;
	kdc_http_fn	 fn;
	void		*arg;
};

/* A gated path prefix (kdc_http_gate). */
struct gate {
	char			*prefix;	/* "/x", or "/" for all */
	size_t			 len;
	kdc_http_gate_fn	 fn;
	void			(*free_fn)(void *auth);
	void			*arg;
};

/* One accepted connection, from MHD's STARTED notice to its CLOSED one. */
struct conn {
	struct conn		*prev;
	struct conn		*next;
	int			 fd;
	int64_t			 deadline;	/* ms, CLOCK_MONOTONIC */
	bool			 in_request;	/* headers in: request deadline */
	bool			 streaming;	/* answering with a stream: none */
	bool			 closing;	/* shut down by the watchdog */
	struct sockaddr_storage	 addr;
};

/*
 * A streamed response (kdc_http_resp_stream). MHD calls stream_read()
 * on its thread; when pull has nothing, the connection is suspended (an
 * MHD content reader returning 0 in internal-thread mode is called again
 * at once, a busy loop: docs/traps.md) until kdc_http_stream_wake()
 * resumes it. MHD's free callback of the response (stream_free()) calls
 * done exactly once. Lock order: h->slock, then lock, then MHD's own
 * (resume/suspend); MHD calls us with none of its locks held but the
 * response's, which kdc_http_stream_wake() never takes.
 */
struct kdc_http_stream {
	pthread_mutex_t		 lock;
	kdc_http_pull_fn	 pull;
	void			(*done)(void *arg);
	void			*arg;
	/* set when queued (dispatch), then fixed */
	struct kdc_http		*h;
	struct MHD_Connection	*c;
	int			 fd;
	void			*auth;		/* the gate's, freed after done */
	void			(*auth_free)(void *auth);
	/* under h->slock */
	struct kdc_http_stream	*prev;
	struct kdc_http_stream	*next;
	bool			 linked;
	/* under lock */
	bool			 suspended;	/* by stream_read(), not resumed */
	bool			 woken;		/* a wake since pull was called */
	bool			 ending;	/* stop or client gone: end it */
};

/*
 * A client chain the listener verified (client_auth()). Verifying is a
 * function of the chain's bytes, the trust list (trust_pem, fixed for the
 * listener's life), the purpose (TLS client, fixed) and the time: an entry
 * keeps the SHA-256 of the chain as the client sent it (each certificate
 * with its length, in order), the window in which every certificate of
 * it is valid, and the leaf's subject DN. A client that comes back with
 * the same chain on a new connection is then checked against the window
 * only. Its handshake proved it holds the leaf's private key either way
 * (GnuTLS checks CertificateVerify whatever we cache). Refused chains are
 * not kept. MHD's thread alone reads and writes it.
 */
struct chain_ok {
	uint8_t			 hash[32];
	int64_t			 not_before;	/* latest activation */
	int64_t			 not_after;	/* earliest expiration */
	char			*dn;		/* NULL: a free slot */
};

/* A rate-limited warning: one line per KDC_HTTP_WARN_PERIOD, the rest
 * counted into the next line. */
struct warn_rl {
	int64_t			 next;		/* ms, CLOCK_MONOTONIC */
	unsigned long		 held;
};

struct kdc_http {
	struct MHD_Daemon	*d;
	union {
		struct sockaddr		sa;
		struct sockaddr_in	sin;
		struct sockaddr_in6	sin6;
	}			 addr;
	int			 tls12;
	enum kdc_client_cert	 client_cert;
	const char		*cert_pem;
	const char		*key_pem;
	const char		*trust_pem;
	struct route		*routes;
	size_t			 nroutes;
	struct gate		*gates;
	size_t			 ngates;
	atomic_bool		 starting;	/* read by MHD's thread */
	atomic_bool		 stopping;	/* streams end */

	/* Live streams (queued, done not yet run): stop and the watchdog
	 * end them. */
	pthread_mutex_t		 slock;
	struct kdc_http_stream	*streams;
	unsigned int		 per_addr;	/* connections per address */

	/* Shared by MHD's thread and the watchdog, under lock. */
	pthread_mutex_t		 lock;
	pthread_cond_t		 wake;		/* the watchdog's sleep */
	struct conn		*conns;
	unsigned int		 nconns;
	bool			 watch_stop;
	struct warn_rl		 warn_addr;	/* per-address limit hit */
	struct warn_rl		 warn_full;	/* global limit hit */
	struct warn_rl		 warn_late;	/* deadline closes, */
	unsigned long		 late_req;	/* those in a request */
	pthread_t		 watch;
	bool			 watching;	/* watch is running */

	/* MHD's thread only (chain_ok); hits read by tests */
	struct chain_ok		 chains[KDC_HTTP_CHAIN_CACHE];
	size_t			 chains_next;	/* round-robin slot */
	atomic_ulong		 chain_hits;
};

/* Per request, from MHD's URI callback to its completion call. */
struct req_state {
	struct MHD_Connection *c;
	char		*query;		/* raw, without '?'; NULL if none */
	bool		 started;	/* headers in, first handler call */
	bool		 bad_uri;	/* %00 in path or query: 400 */
	void		*auth;		/* the gate's, freed at completion */
	void		(*auth_free)(void *auth);
	struct kdc_http_resp gresp;	/* a gate's refusal, sent after a
					 * drained body (status: refuse) */
	bool		 gresp_set;
	uint8_t		*body;
	size_t		 len;
	size_t		 cap;
	int		 refuse;	/* status to answer, body dropped */
	size_t		 dropped;	/* bytes dropped so far */
	bool		 responded;
	char		*client_dn;
	/* the verified client certificate chain, leaf first (faces that
	 * authenticate the peer through core: the ACE token endpoint) */
	uint8_t		*chain[KDC_HTTP_CHAIN_MAX];
	size_t		 chain_len[KDC_HTTP_CHAIN_MAX];
	size_t		 nchain;
};

/* A response body handed to MHD, wiped when MHD is done with it. */
struct owned_body {
	uint8_t		*p;
	size_t		 len;
};

static void
wipe_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	kdc_wipe(p, len);
	kdc_free(p);
}

/* ---- responses --------------------------------------------------------- */

static bool
content_type_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;	/* no CR/LF: no header injection */
	return true;
}

kdc_err
kdc_http_resp_set(struct kdc_http_resp *resp, int status,
    const char *content_type, const void *body, size_t len)
{
	uint8_t *copy = NULL;

	if (status < 100 || status > 599 || content_type == NULL ||
	    strlen(content_type) >= sizeof(resp->content_type) ||
	    !content_type_ok(content_type) || (body == NULL && len != 0) ||
	    len > SIZE_MAX / 2)
		return KDC_ERR_INVALID_ARG;
	if (len > 0) {
		if ((copy = kdc_malloc(len)) == NULL)
			return KDC_ERR_NOMEM;
		memcpy(copy, body, len);
	}
	wipe_free(resp->body, resp->body_len);
	resp->status = status;
	snprintf(resp->content_type, sizeof(resp->content_type), "%s",
	    content_type);
	resp->body = copy;
	resp->body_len = len;
	return KDC_OK;
}

/* RFC 9110 §5.6.2 token characters. */
static bool
token_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c)))
			return false;
	}
	return true;
}

/* A field value: visible characters, spaces and tabs (no CR/LF: no
 * header injection). */
static bool
value_ok(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/* The headers the listener sets itself (or MHD does). */
static const char *const owned_headers[] = {
	"Content-Type", "Content-Length", "Cache-Control",
	"X-Content-Type-Options", "Connection", "Transfer-Encoding",
};

kdc_err
kdc_http_resp_header(struct kdc_http_resp *resp, const char *name,
    const char *value)
{
	char *n, *v;

	if (resp == NULL || name == NULL || value == NULL || !token_ok(name) ||
	    !value_ok(value))
		return KDC_ERR_INVALID_ARG;
	for (size_t i = 0; i < sizeof(owned_headers) / sizeof(*owned_headers);
	    i++)
		if (strcasecmp(name, owned_headers[i]) == 0)
			return KDC_ERR_INVALID_ARG;
	if (resp->nhdrs >= KDC_HTTP_RESP_HEADERS_MAX)
		return KDC_ERR_TOO_LARGE;
	if ((n = kdc_strdup(name)) == NULL)
		return KDC_ERR_NOMEM;
	if ((v = kdc_strdup(value)) == NULL) {
		kdc_free(n);
		return KDC_ERR_NOMEM;
	}
	resp->hdr_name[resp->nhdrs] = n;
	resp->hdr_value[resp->nhdrs] = v;
	resp->nhdrs++;
	return KDC_OK;
}

static void stream_end(struct kdc_http_stream *s);

void
kdc_http_resp_clear(struct kdc_http_resp *resp)
{
	if (resp == NULL)
		return;
	wipe_free(resp->body, resp->body_len);
	for (size_t i = 0; i < resp->nhdrs && i < KDC_HTTP_RESP_HEADERS_MAX;
	    i++) {
		kdc_free(resp->hdr_name[i]);
		kdc_free(resp->hdr_value[i]);
	}
	if (resp->stream != NULL)
		stream_end(resp->stream);
	memset(resp, 0, sizeof(*resp));
}

/* Append s to b as JSON string content (RFC 8259 §7). */
static size_t
json_escape(char *b, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (; *s != '\0' && o + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			b[o++] = '\\';
			b[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(b + o, "\\u00", 4);
			b[o + 4] = hex[c >> 4];
			b[o + 5] = hex[c & 15];
			o += 6;
		} else
			b[o++] = (char)c;
	}
	b[o] = '\0';
	return o;
}

kdc_err
kdc_http_resp_problem(struct kdc_http_resp *resp, int status,
    const char *detail)
{
	char buf[1024], d[512];
	const char *title;
	int n;

	if (status < 100 || status > 599)
		return KDC_ERR_INVALID_ARG;
	title = MHD_get_reason_phrase_for((unsigned int)status);
	if (title == NULL || *title == '\0')
		title = "Error";
	if (detail != NULL) {
		json_escape(d, sizeof(d), detail);
		n = snprintf(buf, sizeof(buf),
		    "{\"title\":\"%s\",\"status\":%d,\"detail\":\"%s\"}",
		    title, status, d);
	} else
		n = snprintf(buf, sizeof(buf),
		    "{\"title\":\"%s\",\"status\":%d}", title, status);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return KDC_ERR_TOO_LARGE;
	return kdc_http_resp_set(resp, status, PROBLEM_JSON, buf, (size_t)n);
}

/* The face's one table from kdc_err to HTTP status. */
int
kdc_http_status(kdc_err r)
{
	switch (r) {
	case KDC_OK:			return 200;
	case KDC_ERR_TRUNCATED:
	case KDC_ERR_MALFORMED:
	case KDC_ERR_TRAILING:
	case KDC_ERR_INVALID_ARG:
	case KDC_ERR_WEAK_PSK:
	case KDC_ERR_UNSUPPORTED_KEY:
	case KDC_ERR_BAD_SIGNATURE:
	case KDC_ERR_UNKNOWN_PROFILE:
	case KDC_ERR_UNKNOWN_AUDIENCE:	return 400;
	case KDC_ERR_UNTRUSTED:
	case KDC_ERR_DENIED:		return 403;
	case KDC_ERR_NOT_FOUND:
	case KDC_ERR_UNKNOWN_DEVICE:	return 404;
	case KDC_ERR_EXISTS:
	case KDC_ERR_DUPLICATE_PSK:
	case KDC_ERR_DUPLICATE_SSID:
	case KDC_ERR_LIVE_CRED:
	case KDC_ERR_REVOKED:
	case KDC_ERR_EXPIRED:
	case KDC_ERR_NOT_YET_VALID:
	case KDC_ERR_WRONG_TYPE:	return 409;
	case KDC_ERR_TOO_LARGE:		return 413;
	case KDC_ERR_UNSUPPORTED:	return 501;
	case KDC_ERR_STORE_BUSY:	return 503;
	default:			return 500;
	}
}

static void
owned_body_free(void *cls)
{
	struct owned_body *ob = cls;

	wipe_free(ob->p, ob->len);
	kdc_free(ob);
}

/* The headers every response carries, then extra's (may be NULL).
 * false if MHD refuses one. */
static bool
add_headers(struct MHD_Response *resp, const char *ctype, const char *allow,
    const struct kdc_http_resp *extra)
{
	if (MHD_add_response_header(resp, "Cache-Control", "no-store") !=
	    MHD_YES ||
	    MHD_add_response_header(resp, "X-Content-Type-Options",
	    "nosniff") != MHD_YES ||
	    (ctype != NULL && *ctype != '\0' &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    ctype) != MHD_YES) ||
	    (allow != NULL &&
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow) !=
	    MHD_YES))
		return false;
	for (size_t i = 0; extra != NULL && i < extra->nhdrs &&
	    i < KDC_HTTP_RESP_HEADERS_MAX; i++)
		if (MHD_add_response_header(resp, extra->hdr_name[i],
		    extra->hdr_value[i]) != MHD_YES)
			return false;
	return true;
}

/*
 * Queue status with body (owned: freed on every path) and the headers
 * every response carries. allow: the Allow header of a 405, or NULL;
 * extra: a handler's or gate's headers, or NULL (borrowed).
 */
static enum MHD_Result
queue(struct MHD_Connection *c, struct req_state *rs, int status,
    const char *ctype, uint8_t *body, size_t len, const char *allow,
    const struct kdc_http_resp *extra)
{
	struct MHD_Response *resp = NULL;
	struct owned_body *ob = NULL;
	enum MHD_Result ret = MHD_NO;

	rs->responded = true;
	if (len == 0) {
		wipe_free(body, 0);
		body = NULL;
		resp = MHD_create_response_from_buffer(0, NULL,
		    MHD_RESPMEM_PERSISTENT);
	} else if ((ob = kdc_malloc(sizeof(*ob))) != NULL) {
		ob->p = body;
		ob->len = len;
		body = NULL;
		resp = MHD_create_response_from_buffer_with_free_callback_cls(
		    len, ob->p, owned_body_free, ob);
		if (resp == NULL)
			owned_body_free(ob);
	}
	if (resp == NULL || !add_headers(resp, ctype, allow, extra))
		goto out;
	ret = MHD_queue_response(c, (unsigned int)status, resp);
out:
	if (resp != NULL)
		MHD_destroy_response(resp);
	wipe_free(body, len);
	return ret;
}

static enum MHD_Result
queue_problem(struct MHD_Connection *c, struct req_state *rs, int status,
    const char *allow, const struct kdc_http_resp *extra)
{
	struct kdc_http_resp resp;

	memset(&resp, 0, sizeof(resp));
	if (kdc_http_resp_problem(&resp, status, NULL) != KDC_OK)
		return MHD_NO;		/* out of memory: drop it */
	return queue(c, rs, status, resp.content_type, resp.body,
	    resp.body_len, allow, extra);
}

/*
 * Queue a handler's or gate's response r (status already checked to be
 * 100..599; r keeps no body after: it is handed over). A status >= 400
 * with neither body nor content type gets a problem body; r's headers go
 * out in every case.
 */
static enum MHD_Result
queue_resp(struct MHD_Connection *c, struct req_state *rs,
    struct kdc_http_resp *r)
{
	uint8_t *body = r->body;
	size_t len = r->body == NULL ? 0 : r->body_len;

	r->body = NULL;
	r->body_len = 0;
	if (body == NULL && r->content_type[0] == '\0' && r->status >= 400)
		return queue_problem(c, rs, r->status, NULL, r);
	r->content_type[sizeof(r->content_type) - 1] = '\0';
	if (!content_type_ok(r->content_type)) {
		wipe_free(body, len);
		return queue_problem(c, rs, 500, NULL, NULL);
	}
	return queue(c, rs, r->status, r->content_type, body, len, NULL, r);
}

/* ---- client certificates ---------------------------------------------- */

/* The SHA-256 of a chain as sent: each certificate's length (4 bytes,
 * big-endian) then its bytes, in order. false if GnuTLS fails. */
static bool
chain_hash(const gnutls_datum_t *certs, unsigned n, uint8_t out[32])
{
	gnutls_hash_hd_t hd;
	bool ok = true;

	if (gnutls_hash_init(&hd, GNUTLS_DIG_SHA256) < 0)
		return false;
	for (unsigned i = 0; i < n && ok; i++) {
		uint8_t len[4] = { (uint8_t)(certs[i].size >> 24),
		    (uint8_t)(certs[i].size >> 16), (uint8_t)(certs[i].size >> 8),
		    (uint8_t)certs[i].size };

		ok = gnutls_hash(hd, len, sizeof(len)) >= 0 &&
		    gnutls_hash(hd, certs[i].data, certs[i].size) >= 0;
	}
	gnutls_hash_deinit(hd, out);
	return ok;
}

/* The entry for hash, if the listener verified that chain and every
 * certificate of it is still valid at now (else NULL: verify it). */
static const struct chain_ok *
chain_find(struct kdc_http *h, const uint8_t hash[32], int64_t now)
{
	for (size_t i = 0; i < KDC_HTTP_CHAIN_CACHE; i++) {
		const struct chain_ok *e = &h->chains[i];

		if (e->dn != NULL && memcmp(e->hash, hash, 32) == 0)
			return now >= e->not_before && now <= e->not_after ?
			    e : NULL;
	}
	return NULL;
}

/* Remember a chain that verified: its window from every certificate's
 * validity (as GnuTLS checks it: activation <= now <= expiration).
 * Nothing kept if a certificate does not parse or memory is short. */
static void
chain_keep(struct kdc_http *h, const uint8_t hash[32],
    const gnutls_datum_t *certs, unsigned n, const char *dn)
{
	struct chain_ok *e;
	int64_t nb = INT64_MIN, na = INT64_MAX;
	char *copy;

	for (unsigned i = 0; i < n; i++) {
		gnutls_x509_crt_t crt;
		time_t a, b;

		if (gnutls_x509_crt_init(&crt) < 0)
			return;
		if (gnutls_x509_crt_import(crt, &certs[i], GNUTLS_X509_FMT_DER)
		    < 0) {
			gnutls_x509_crt_deinit(crt);
			return;
		}
		a = gnutls_x509_crt_get_activation_time(crt);
		b = gnutls_x509_crt_get_expiration_time(crt);
		gnutls_x509_crt_deinit(crt);
		if (a == (time_t)-1 || b == (time_t)-1)
			return;
		if ((int64_t)a > nb)
			nb = (int64_t)a;
		if ((int64_t)b < na)
			na = (int64_t)b;
	}
	if ((copy = kdc_strdup(dn)) == NULL)
		return;
	e = &h->chains[h->chains_next];
	h->chains_next = (h->chains_next + 1) % KDC_HTTP_CHAIN_CACHE;
	kdc_free(e->dn);
	memcpy(e->hash, hash, 32);
	e->not_before = nb;
	e->not_after = na;
	e->dn = copy;
}

static void
chains_free(struct kdc_http *h)
{
	for (size_t i = 0; i < KDC_HTTP_CHAIN_CACHE; i++) {
		kdc_free(h->chains[i].dn);
		h->chains[i].dn = NULL;
	}
}

unsigned long
kdc_http_chain_hits(struct kdc_http *h)
{
	return atomic_load(&h->chain_hits);
}

/*
 * 0 if the request may go on (rs->client_dn set when a certificate
 * verified), else the status to refuse with: 401 when a required
 * certificate is missing, 403 when one was sent but does not verify
 * against trust_pem for TLS client use. A chain verified before and still
 * within its validity is not verified again (struct chain_ok).
 */
static int
client_auth(struct kdc_http *h, struct MHD_Connection *c,
    struct req_state *rs)
{
	const union MHD_ConnectionInfo *ci;
	const struct chain_ok *hit = NULL;
	gnutls_typed_vdata_st vdata;
	const gnutls_datum_t *certs;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t dn = { NULL, 0 };
	gnutls_session_t s;
	uint8_t hash[32];
	unsigned int n = 0, status = 0;
	bool hashed;
	int ret;

	if (h->client_cert == KDC_CLIENT_CERT_NONE)
		return 0;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		return 500;
	s = ci->tls_session;
	if (gnutls_certificate_type_get2(s, GNUTLS_CTYPE_PEERS) !=
	    GNUTLS_CRT_X509 ||
	    (certs = gnutls_certificate_get_peers(s, &n)) == NULL || n == 0)
		return h->client_cert == KDC_CLIENT_CERT_REQUIRED ? 401 : 0;

	if ((hashed = chain_hash(certs, n, hash)))
		hit = chain_find(h, hash, (int64_t)time(NULL));
	if (hit != NULL) {
		atomic_fetch_add(&h->chain_hits, 1);
		if ((rs->client_dn = kdc_strdup(hit->dn)) == NULL)
			return 500;
	} else {
		memset(&vdata, 0, sizeof(vdata));
		vdata.type = GNUTLS_DT_KEY_PURPOSE_OID;
		vdata.data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT;
		if ((ret = gnutls_certificate_verify_peers(s, &vdata, 1,
		    &status)) != GNUTLS_E_SUCCESS || status != 0) {
			kdc_log_debug("client certificate refused: ret=%d "
			    "status=0x%x", ret, status);
			return 403;
		}
		ret = 403;
		if (gnutls_x509_crt_init(&crt) != GNUTLS_E_SUCCESS ||
		    gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER)
		    != GNUTLS_E_SUCCESS ||
		    gnutls_x509_crt_get_dn3(crt, &dn, 0) != GNUTLS_E_SUCCESS)
			goto out;
		if ((rs->client_dn = kdc_strndup((const char *)dn.data,
		    dn.size)) == NULL) {
			ret = 500;
			goto out;
		}
		if (hashed)
			chain_keep(h, hash, certs, n, rs->client_dn);
	}
	for (unsigned i = 0; i < n && i < KDC_HTTP_CHAIN_MAX; i++) {
		if ((rs->chain[i] = kdc_malloc(certs[i].size)) == NULL) {
			ret = 500;
			goto out;
		}
		memcpy(rs->chain[i], certs[i].data, certs[i].size);
		rs->chain_len[i] = certs[i].size;
		rs->nchain = i + 1;
	}
	ret = 0;
out:
	gnutls_free(dn.data);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	return ret;
}

/* ---- routing ----------------------------------------------------------- */

/* The route group for path: its exact routes, else the routes of the
 * longest prefix that matches. NULL if none. */
static const struct route *
route_key(const struct kdc_http *h, const char *path)
{
	const struct route *best = NULL;

	for (size_t i = 0; i < h->nroutes; i++) {
		const struct route *r = &h->routes[i];

		if (!r->prefix && strcmp(r->path, path) == 0)
			return r;
		if (r->prefix && strncmp(r->path, path, r->len) == 0 &&
		    (best == NULL || r->len > best->len))
			best = r;
	}
	return best;
}

static bool
same_group(const struct route *a, const struct route *b)
{
	return a->prefix == b->prefix && strcmp(a->path, b->path) == 0;
}

/* The request as handlers and gates see it. */
static void
req_fill(struct kdc_http_req *req, struct req_state *rs, const char *url,
    const char *method)
{
	memset(req, 0, sizeof(*req));
	req->method = method;
	req->path = url;
	req->body = rs->len > 0 ? rs->body : NULL;
	req->body_len = rs->len;
	req->client_dn = rs->client_dn;
	req->client_certs = (const uint8_t *const *)rs->chain;
	req->client_cert_lens = rs->chain_len;
	req->nclient_certs = rs->nchain;
	req->query = rs->query;
	req->auth = rs->auth;
	req->priv = rs;
}

static enum MHD_Result queue_stream(struct kdc_http *h,
    struct MHD_Connection *c, struct req_state *rs, struct kdc_http_resp *r);

static enum MHD_Result
dispatch(struct kdc_http *h, struct MHD_Connection *c, struct req_state *rs,
    const char *url, const char *method)
{
	const struct route *key, *r = NULL;
	struct kdc_http_resp resp;
	struct kdc_http_req req;
	enum MHD_Result ret;
	char allow[256];
	size_t o = 0;

	if ((key = route_key(h, url)) == NULL)
		return queue_problem(c, rs, 404, NULL, NULL);
	for (size_t i = 0; i < h->nroutes && r == NULL; i++) {
		const struct route *x = &h->routes[i];

		if (same_group(x, key) && (strcmp(x->method, method) == 0 ||
		    (strcmp(method, "HEAD") == 0 &&
		    strcmp(x->method, "GET") == 0)))
			r = x;
	}
	if (r == NULL) {
		allow[0] = '\0';
		for (size_t i = 0; i < h->nroutes; i++) {
			const struct route *x = &h->routes[i];
			int w;

			if (!same_group(x, key))
				continue;
			w = snprintf(allow + o, sizeof(allow) - o, "%s%s",
			    o ? ", " : "", x->method);
			if (w < 0 || (size_t)w >= sizeof(allow) - o)
				break;
			o += (size_t)w;
		}
		return queue_problem(c, rs, 405, allow, NULL);
	}

	req_fill(&req, rs, url, method);
	memset(&resp, 0, sizeof(resp));
	r->fn(r->arg, &req, &resp);

	if (resp.status < 100 || resp.status > 599) {
		kdc_http_resp_clear(&resp);	/* a stream's done runs */
		return queue_problem(c, rs, 500, NULL, NULL);
	}
	if (resp.stream != NULL)
		ret = queue_stream(h, c, rs, &resp);
	else
		ret = queue_resp(c, rs, &resp);
	kdc_http_resp_clear(&resp);
	return ret;
}

kdc_err
kdc_http_route(struct kdc_http *h, const char *method, const char *path,
    kdc_http_fn fn, void *arg)
{
	struct route *v, r;
	size_t len;

	if (h->d != NULL)
		return KDC_ERR_INVALID_ARG;	/* the thread reads routes */
	if (method == NULL || *method == '\0' || path == NULL ||
	    path[0] != '/' || fn == NULL)
		return KDC_ERR_INVALID_ARG;
	for (const char *m = method; *m != '\0'; m++)
		if (*m < 'A' || *m > 'Z')
			return KDC_ERR_INVALID_ARG;
	memset(&r, 0, sizeof(r));
	len = strlen(path);
	if (len >= 2 && strcmp(path + len - 2, "/*") == 0) {
		r.prefix = true;
		len--;			/* keep the '/' */
	}
	for (size_t i = 0; i < h->nroutes; i++)
		if (h->routes[i].prefix == r.prefix &&
		    h->routes[i].len == len &&
		    strncmp(h->routes[i].path, path, len) == 0 &&
		    strcmp(h->routes[i].method, method) == 0)
			return KDC_ERR_EXISTS;
	r.len = len;
	r.fn = fn;
	r.arg = arg;
	if ((r.method = kdc_strdup(method)) == NULL ||
	    (r.path = kdc_strndup(path, len)) == NULL ||
	    (v = kdc_realloc(h->routes, (h->nroutes + 1) * sizeof(*v))) ==
	    NULL) {
		kdc_free(r.method);
		kdc_free(r.path);
		return KDC_ERR_NOMEM;
	}
	h->routes = v;
	h->routes[h->nroutes++] = r;
	return KDC_OK;
}

/* ---- gates ------------------------------------------------------------- */

kdc_err
kdc_http_gate(struct kdc_http *h, const char *path_prefix,
    kdc_http_gate_fn fn, void (*free_fn)(void *auth), void *arg)
{
	struct gate *v, g;
	size_t len;

	if (h->d != NULL || path_prefix == NULL || path_prefix[0] != '/' ||
	    fn == NULL)
		return KDC_ERR_INVALID_ARG;
	len = strlen(path_prefix);
	if (len > 1 && path_prefix[len - 1] == '/')
		return KDC_ERR_INVALID_ARG;
	for (size_t i = 0; i < h->ngates; i++)
		if (strcmp(h->gates[i].prefix, path_prefix) == 0)
			return KDC_ERR_EXISTS;
	memset(&g, 0, sizeof(g));
	g.len = len;
	g.fn = fn;
	g.free_fn = free_fn;
	g.arg = arg;
	if ((g.prefix = kdc_strdup(path_prefix)) == NULL ||
	    (v = kdc_realloc(h->gates, (h->ngates + 1) * sizeof(*v))) ==
	    NULL) {
		kdc_free(g.prefix);
		return KDC_ERR_NOMEM;
	}
	h->gates = v;
	h->gates[h->ngates++] = g;
	return KDC_OK;
}

/* The gate of the longest prefix that covers path, or NULL. */
static const struct gate *
gate_for(const struct kdc_http *h, const char *path)
{
	const struct gate *best = NULL;

	for (size_t i = 0; i < h->ngates; i++) {
		const struct gate *g = &h->gates[i];

		if (g->len == 1 || (strncmp(path, g->prefix, g->len) == 0 &&
		    (path[g->len] == '\0' || path[g->len] == '/')))
			if (best == NULL || g->len > best->len)
				best = g;
	}
	return best;
}

/* 0 if the request may go on (rs->auth set as the gate said), else the
 * status to refuse with (rs->gresp then holds the gate's response). */
static int
gate_run(struct kdc_http *h, struct req_state *rs, const char *url,
    const char *method)
{
	const struct gate *g;
	struct kdc_http_req req;
	int st;

	if ((g = gate_for(h, url)) == NULL)
		return 0;
	req_fill(&req, rs, url, method);
	req.body = NULL;
	req.body_len = 0;
	st = g->fn(g->arg, &req, &rs->auth, &rs->gresp);
	rs->auth_free = g->free_fn;
	if (st >= 400 && st <= 599 && rs->gresp.stream == NULL) {
		rs->gresp.status = st;
		rs->gresp_set = true;
		return st;
	}
	kdc_http_resp_clear(&rs->gresp);
	return st == 0 ? 0 : 500;
}

/* Answer a refusal st decided from the headers: the gate's response if
 * it refused, else a problem body. */
static enum MHD_Result
refuse(struct MHD_Connection *c, struct req_state *rs, int st)
{
	if (rs->gresp_set) {
		rs->gresp_set = false;
		return queue_resp(c, rs, &rs->gresp);
	}
	return queue_problem(c, rs, st, NULL, NULL);
}

/* ---- request accessors ------------------------------------------------- */

const char *
kdc_http_header(const struct kdc_http_req *req, const char *name)
{
	const struct req_state *rs;

	if (req == NULL || name == NULL || (rs = req->priv) == NULL ||
	    rs->c == NULL)
		return NULL;
	return MHD_lookup_connection_value(rs->c, MHD_HEADER_KIND, name);
}

struct arg_find {
	const char	*name;
	const char	*value;
};

static enum MHD_Result
arg_find_one(void *cls, enum MHD_ValueKind kind, const char *key,
    size_t key_size, const char *value, size_t value_size)
{
	struct arg_find *f = cls;

	(void)kind;
	(void)key_size;
	(void)value_size;
	if (key == NULL || strcmp(key, f->name) != 0)
		return MHD_YES;
	f->value = value != NULL ? value : "";
	return MHD_NO;		/* the first wins */
}

/* Not MHD_lookup_connection_value(): it compares names without case for
 * GET arguments too (docs/traps.md). */
const char *
kdc_http_arg(const struct kdc_http_req *req, const char *name)
{
	const struct req_state *rs;
	struct arg_find f = { name, NULL };

	if (req == NULL || name == NULL || (rs = req->priv) == NULL ||
	    rs->c == NULL)
		return NULL;
	MHD_get_connection_values_n(rs->c, MHD_GET_ARGUMENT_KIND,
	    arg_find_one, &f);
	return f.value;
}

struct arg_each {
	kdc_err		(*fn)(void *arg, const char *key, const char *value);
	void		*arg;
	kdc_err		 r;
};

static enum MHD_Result
arg_each_one(void *cls, enum MHD_ValueKind kind, const char *key,
    size_t key_size, const char *value, size_t value_size)
{
	struct arg_each *e = cls;

	(void)kind;
	(void)key_size;
	(void)value_size;
	if (key == NULL)
		return MHD_YES;
	e->r = e->fn(e->arg, key, value != NULL ? value : "");
	return e->r == KDC_OK ? MHD_YES : MHD_NO;
}

kdc_err
kdc_http_args_each(const struct kdc_http_req *req,
    kdc_err (*fn)(void *arg, const char *key, const char *value), void *arg)
{
	const struct req_state *rs;
	struct arg_each e = { fn, arg, KDC_OK };

	if (req == NULL || fn == NULL || (rs = req->priv) == NULL ||
	    rs->c == NULL)
		return KDC_ERR_INVALID_ARG;
	MHD_get_connection_values_n(rs->c, MHD_GET_ARGUMENT_KIND,
	    arg_each_one, &e);
	return e.r;
}

/* ---- streams ----------------------------------------------------------- */

kdc_err
kdc_http_resp_stream(struct kdc_http_resp *resp, int status,
    const char *content_type, kdc_http_pull_fn pull, void (*done)(void *arg),
    void *arg, struct kdc_http_stream **handle)
{
	struct kdc_http_stream *s;

	if (handle != NULL)
		*handle = NULL;
	if (resp == NULL || status < 200 || status > 599 ||
	    content_type == NULL ||
	    strlen(content_type) >= sizeof(resp->content_type) ||
	    !content_type_ok(content_type) || pull == NULL ||
	    resp->stream != NULL)
		return KDC_ERR_INVALID_ARG;
	if ((s = kdc_calloc(1, sizeof(*s))) == NULL)
		return KDC_ERR_NOMEM;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		kdc_free(s);
		return KDC_ERR_NOMEM;
	}
	s->pull = pull;
	s->done = done;
	s->arg = arg;
	s->fd = -1;
	wipe_free(resp->body, resp->body_len);
	resp->body = NULL;
	resp->body_len = 0;
	resp->status = status;
	snprintf(resp->content_type, sizeof(resp->content_type), "%s",
	    content_type);
	resp->stream = s;
	if (handle != NULL)
		*handle = s;
	return KDC_OK;
}

/* The stream is over: done, then the gate's auth, then the handle. */
static void
stream_end(struct kdc_http_stream *s)
{
	if (s->done != NULL)
		s->done(s->arg);
	if (s->auth != NULL && s->auth_free != NULL)
		s->auth_free(s->auth);
	pthread_mutex_destroy(&s->lock);
	kdc_free(s);
}

/* Resume s if suspended, noting a wake (and an end if ending). Under
 * s->lock. */
static void
stream_kick(struct kdc_http_stream *s, bool ending)
{
	s->woken = true;
	if (ending)
		s->ending = true;
	if (s->suspended) {
		s->suspended = false;
		MHD_resume_connection(s->c);
	}
}

void
kdc_http_stream_wake(struct kdc_http_stream *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	stream_kick(s, false);
	pthread_mutex_unlock(&s->lock);
}

/* MHD's content reader: pull, or suspend when pull has nothing. */
static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct kdc_http_stream *s = cls;
	ssize_t n;

	(void)pos;
	for (;;) {
		pthread_mutex_lock(&s->lock);
		if (s->ending || atomic_load(&s->h->stopping)) {
			pthread_mutex_unlock(&s->lock);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		s->woken = false;
		pthread_mutex_unlock(&s->lock);
		/* no lock held: pull may wake */
		n = s->pull(s->arg, buf, max);
		if (n > 0)
			return (size_t)n <= max ? n :
			    MHD_CONTENT_READER_END_WITH_ERROR;
		if (n < 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
		pthread_mutex_lock(&s->lock);
		if (!s->woken && !s->ending &&
		    !atomic_load(&s->h->stopping)) {
			s->suspended = true;
			MHD_suspend_connection(s->c);
			pthread_mutex_unlock(&s->lock);
			return 0;	/* not called again until resumed */
		}
		pthread_mutex_unlock(&s->lock);	/* woken meanwhile: again */
	}
}

/* MHD is done with the response: unlink and end (done runs). */
static void
stream_free(void *cls)
{
	struct kdc_http_stream *s = cls;
	struct kdc_http *h = s->h;

	pthread_mutex_lock(&h->slock);
	if (s->linked) {
		if (s->prev != NULL)
			s->prev->next = s->next;
		else
			h->streams = s->next;
		if (s->next != NULL)
			s->next->prev = s->prev;
		s->linked = false;
	}
	pthread_mutex_unlock(&h->slock);
	stream_end(s);
}

/* End every live stream (kdc_http_stop). */
static void
streams_end_all(struct kdc_http *h)
{
	pthread_mutex_lock(&h->slock);
	for (struct kdc_http_stream *s = h->streams; s != NULL; s = s->next) {
		pthread_mutex_lock(&s->lock);
		stream_kick(s, true);
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_unlock(&h->slock);
}

/* The watchdog's check: a suspended stream whose client closed its side
 * (FIN or RST: POLLRDHUP/POLLHUP/POLLERR) is resumed to end. MHD itself
 * does not look at a suspended connection's socket. */
static void
streams_check(struct kdc_http *h)
{
	pthread_mutex_lock(&h->slock);
	for (struct kdc_http_stream *s = h->streams; s != NULL; s = s->next) {
		struct pollfd p = { s->fd, POLLRDHUP, 0 };

		pthread_mutex_lock(&s->lock);
		if (s->suspended && s->fd >= 0 && poll(&p, 1, 0) == 1 &&
		    (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0)
			stream_kick(s, true);
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_unlock(&h->slock);
}

size_t
kdc_http_streams_suspended(struct kdc_http *h)
{
	size_t n = 0;

	pthread_mutex_lock(&h->slock);
	for (struct kdc_http_stream *s = h->streams; s != NULL; s = s->next) {
		pthread_mutex_lock(&s->lock);
		n += s->suspended;
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_unlock(&h->slock);
	return n;
}

static void conn_streaming(struct kdc_http *h, struct MHD_Connection *c);

/* Queue r's stream (r->stream taken: from here stream_free() or
 * stream_end() runs done, once). The gate's auth moves to the stream. */
static enum MHD_Result
queue_stream(struct kdc_http *h, struct MHD_Connection *c,
    struct req_state *rs, struct kdc_http_resp *r)
{
	struct kdc_http_stream *s = r->stream;
	const union MHD_ConnectionInfo *fi;
	struct MHD_Response *mr;
	enum MHD_Result ret = MHD_NO;

	r->stream = NULL;
	rs->responded = true;
	r->content_type[sizeof(r->content_type) - 1] = '\0';
	s->h = h;
	s->c = c;
	s->auth = rs->auth;
	s->auth_free = rs->auth_free;
	rs->auth = NULL;
	fi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	s->fd = fi != NULL ? fi->connect_fd : -1;
	mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
	    stream_read, s, stream_free);
	if (mr == NULL) {
		stream_end(s);
		return MHD_NO;
	}
	pthread_mutex_lock(&h->slock);
	s->next = h->streams;
	if (h->streams != NULL)
		h->streams->prev = s;
	h->streams = s;
	s->linked = true;
	pthread_mutex_unlock(&h->slock);
	if (add_headers(mr, r->content_type, NULL, r)) {
		conn_streaming(h, c);
		ret = MHD_queue_response(c, (unsigned int)r->status, mr);
	}
	MHD_destroy_response(mr);	/* not queued: done runs now */
	return ret;
}

/* ---- connection bounds ------------------------------------------------- */

/* true if a warning may go out now; *held: the ones held back since the
 * last. Under h->lock. */
static bool
warn_due(struct warn_rl *w, int64_t now, unsigned long *held)
{
	if (now < w->next) {
		w->held++;
		return false;
	}
	*held = w->held;
	w->held = 0;
	w->next = now + KDC_HTTP_WARN_PERIOD * 1000;
	return true;
}

static bool
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof(a6->sin6_addr)) == 0;
	return false;
}

static void
addr_text(const struct sockaddr_storage *a, char *out, size_t len)
{
	const void *p = NULL;

	if (a->ss_family == AF_INET)
		p = &((const struct sockaddr_in *)(const void *)a)->sin_addr;
	else if (a->ss_family == AF_INET6)
		p = &((const struct sockaddr_in6 *)(const void *)a)->sin6_addr;
	if (p == NULL || inet_ntop(a->ss_family, p, out, (socklen_t)len) ==
	    NULL)
		snprintf(out, len, "?");
}

/* The address holding the most connections and how many. Under h->lock;
 * O(n^2) over at most KDC_HTTP_CONN_MAX, only when a warning goes out. */
static unsigned int
busiest(const struct kdc_http *h, char *text, size_t len)
{
	const struct conn *best = NULL;
	unsigned int most = 0;

	for (const struct conn *a = h->conns; a != NULL; a = a->next) {
		unsigned int n = 0;

		for (const struct conn *b = h->conns; b != NULL; b = b->next)
			n += same_addr(&a->addr, &b->addr);
		if (n > most) {
			most = n;
			best = a;
		}
	}
	if (best != NULL)
		addr_text(&best->addr, text, len);
	else
		snprintf(text, len, "-");
	return most;
}

/* MHD refused a connection at a limit (seen in its log, MHD_AT_LIMIT).
 * With fewer than KDC_HTTP_CONN_MAX open it was the per-address one. */
static void
note_refused(struct kdc_http *h)
{
	char who[INET6_ADDRSTRLEN];
	unsigned long held = 0;
	unsigned int n = 0;
	bool per_addr, due;

	pthread_mutex_lock(&h->lock);
	per_addr = h->nconns < KDC_HTTP_CONN_MAX;
	due = warn_due(per_addr ? &h->warn_addr : &h->warn_full,
	    kdc_mono_ms(), &held);
	if (due && per_addr)
		n = busiest(h, who, sizeof(who));
	pthread_mutex_unlock(&h->lock);
	if (!due)
		return;
	if (per_addr)
		kdc_log_warn("connection refused: per-address limit %u reached "
		    "(%s holds %u) (+%lu refused since the last line)",
		    h->per_addr, who, n, held);
	else
		kdc_log_warn("connection refused: connection limit %d reached "
		    "(+%lu since the last line)", KDC_HTTP_CONN_MAX, held);
}

/* c has sent its headers (in_request), or is waiting for the next
 * request's: its deadline is now + that phase's timeout. */
static void
conn_phase(struct kdc_http *h, struct MHD_Connection *c, bool in_request)
{
	const union MHD_ConnectionInfo *ci;
	struct conn *k;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci == NULL || (k = ci->socket_context) == NULL)
		return;
	pthread_mutex_lock(&h->lock);
	k->in_request = in_request;
	k->streaming = false;
	k->deadline = kdc_mono_ms() + (in_request ? KDC_HTTP_REQUEST_TIMEOUT :
	    KDC_HTTP_HEADER_TIMEOUT) * 1000LL;
	pthread_mutex_unlock(&h->lock);
}

/* c answers with a stream: no deadline until its request completes. */
static void
conn_streaming(struct kdc_http *h, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;
	struct conn *k;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci == NULL || (k = ci->socket_context) == NULL)
		return;
	pthread_mutex_lock(&h->lock);
	k->streaming = true;
	pthread_mutex_unlock(&h->lock);
}

static void
conn_started(struct kdc_http *h, struct MHD_Connection *c, void **ctx)
{
	const union MHD_ConnectionInfo *fi, *ai;
	char who[INET6_ADDRSTRLEN];
	unsigned long held = 0;
	struct conn *k;
	bool full = false;

	fi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	ai = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (fi == NULL)
		return;
	if ((k = kdc_calloc(1, sizeof(*k))) == NULL) {
		/* Untracked means no deadline: do not serve it. */
		shutdown(fi->connect_fd, SHUT_RDWR);
		return;
	}
	k->fd = fi->connect_fd;
	if (ai != NULL && ai->client_addr != NULL) {
		if (ai->client_addr->sa_family == AF_INET)
			memcpy(&k->addr, ai->client_addr,
			    sizeof(struct sockaddr_in));
		else if (ai->client_addr->sa_family == AF_INET6)
			memcpy(&k->addr, ai->client_addr,
			    sizeof(struct sockaddr_in6));
	}
	pthread_mutex_lock(&h->lock);
	k->deadline = kdc_mono_ms() + KDC_HTTP_HEADER_TIMEOUT * 1000LL;
	k->next = h->conns;
	if (h->conns != NULL)
		h->conns->prev = k;
	h->conns = k;
	if (++h->nconns >= KDC_HTTP_CONN_MAX &&
	    warn_due(&h->warn_full, kdc_mono_ms(), &held)) {
		full = true;
		busiest(h, who, sizeof(who));
	}
	pthread_mutex_unlock(&h->lock);
	*ctx = k;
	if (full)
		kdc_log_warn("connection limit %d reached: new connections "
		    "wait in the listen backlog (busiest address %s) "
		    "(+%lu since the last line)", KDC_HTTP_CONN_MAX, who,
		    held);
}

static void
conn_closed(struct kdc_http *h, void **ctx)
{
	struct conn *k = *ctx;

	if (k == NULL)
		return;
	/* MHD closes the fd after this returns: the watchdog, which takes
	 * the lock, never shuts down a reused descriptor. */
	pthread_mutex_lock(&h->lock);
	if (k->prev != NULL)
		k->prev->next = k->next;
	else
		h->conns = k->next;
	if (k->next != NULL)
		k->next->prev = k->prev;
	h->nconns--;
	pthread_mutex_unlock(&h->lock);
	kdc_free(k);
	*ctx = NULL;
}

static void
on_connection(void *cls, struct MHD_Connection *c, void **ctx,
    enum MHD_ConnectionNotificationCode code)
{
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		conn_started(cls, c, ctx);
	else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
		conn_closed(cls, ctx);
}

/*
 * The watchdog: every KDC_HTTP_WATCH_TICK_MS, shut down the sockets of
 * connections past their deadline. MHD then reads end-of-file and closes
 * the connection in its own thread (we never touch its state).
 */
static void *
watch_main(void *arg)
{
	struct kdc_http *h = arg;
	char who[INET6_ADDRSTRLEN];
	struct timespec until;
	unsigned long closed, req;
	unsigned int n;
	int64_t now, t;

	pthread_mutex_lock(&h->lock);
	while (!h->watch_stop) {
		now = kdc_mono_ms();
		n = 0;
		for (struct conn *k = h->conns; k != NULL; k = k->next) {
			if (k->closing || k->streaming || now < k->deadline)
				continue;
			shutdown(k->fd, SHUT_RDWR);
			k->closing = true;
			h->late_req += k->in_request;
			if (n++ == 0)
				addr_text(&k->addr, who, sizeof(who));
		}
		if (n > 0 && warn_due(&h->warn_late, now, &closed)) {
			closed += n;
			req = h->late_req;
			h->late_req = 0;
			pthread_mutex_unlock(&h->lock);
			kdc_log_info("closed %lu connection(s) past their "
			    "deadline: %lu before their headers (%d s), %lu "
			    "in a request (%d s); one from %s", closed,
			    closed - req, KDC_HTTP_HEADER_TIMEOUT, req,
			    KDC_HTTP_REQUEST_TIMEOUT, who);
			pthread_mutex_lock(&h->lock);
			continue;
		} else if (n > 1)
			h->warn_late.held += n - 1;	/* warn_due() took 1 */
		pthread_mutex_unlock(&h->lock);
		streams_check(h);
		pthread_mutex_lock(&h->lock);
		if (h->watch_stop)
			break;
		t = now + KDC_HTTP_WATCH_TICK_MS;
		until.tv_sec = (time_t)(t / 1000);
		until.tv_nsec = (long)(t % 1000) * 1000000;
		pthread_cond_timedwait(&h->wake, &h->lock, &until);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* ---- MHD callbacks ----------------------------------------------------- */

/*
 * A request refused from its headers alone (401, 403, 413) is answered
 * at once only when no body is on its way: none declared, the client
 * waits for 100 Continue, or one too big to drain. Otherwise answering
 * while the client still sends makes the kernel reset the connection and
 * the client never reads the answer, so the body is read and dropped (up
 * to KDC_HTTP_DRAIN_MAX) and the refusal sent at the end.
 */
static bool
answer_now(struct MHD_Connection *c)
{
	const char *cl, *te, *expect;
	unsigned long long n = 0;

	expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_EXPECT);
	if (expect != NULL && strcasecmp(expect, "100-continue") == 0)
		return true;
	te = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_TRANSFER_ENCODING);
	if (te != NULL)
		return false;
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl == NULL)
		return true;
	for (; *cl >= '0' && *cl <= '9'; cl++)
		if ((n = n * 10 + (unsigned)(*cl - '0')) > KDC_HTTP_DRAIN_MAX)
			return true;
	return n == 0;
}

/* The declared body length is over the cap. */
static bool
declared_too_large(struct MHD_Connection *c)
{
	const char *cl;
	unsigned long long n = 0;

	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl == NULL)
		return false;
	for (; *cl >= '0' && *cl <= '9'; cl++)
		if ((n = n * 10 + (unsigned)(*cl - '0')) > KDC_HTTP_BODY_MAX)
			return true;
	return false;
}

/* Keep up to KDC_HTTP_BODY_MAX bytes, growing as data arrives (never
 * from the declared length). Past the cap, note it and drop the rest, up
 * to KDC_HTTP_DRAIN_MAX; false (close the connection) after that or when out
 * of memory. */
static bool
body_append(struct req_state *rs, const char *data, size_t n)
{
	uint8_t *p;
	size_t cap;

	if (rs->refuse == 0 && n > KDC_HTTP_BODY_MAX - rs->len)
		rs->refuse = 413;
	if (rs->refuse != 0) {
		if (n > KDC_HTTP_DRAIN_MAX - rs->dropped)
			return false;
		rs->dropped += n;
		return true;
	}
	if (rs->len + n > rs->cap) {
		cap = rs->cap == 0 ? 4096 : rs->cap;
		while (cap < rs->len + n)
			cap *= 2;
		if (cap > KDC_HTTP_BODY_MAX)
			cap = KDC_HTTP_BODY_MAX;
		if ((p = kdc_malloc(cap)) == NULL)
			return false;
		if (rs->len > 0)
			memcpy(p, rs->body, rs->len);
		wipe_free(rs->body, rs->len);
		rs->body = p;
		rs->cap = cap;
	}
	memcpy(rs->body + rs->len, data, n);
	rs->len += n;
	return true;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct kdc_http *h = cls;
	struct req_state *rs = *con_cls;
	int st;

	(void)version;
	if (rs == NULL)
		return MHD_NO;	/* on_uri() was out of memory */
	if (!rs->started) {
		/* Headers are in. Authenticate (certificate, then the gate)
		 * and bound before any body. */
		rs->started = true;
		rs->c = c;
		conn_phase(h, c, true);
		if ((st = client_auth(h, c, rs)) == 0 && rs->bad_uri)
			st = 400;
		if (st == 0)
			st = gate_run(h, rs, url, method);
		if (st == 0 && declared_too_large(c))
			st = 413;
		if (st != 0 && answer_now(c))
			return refuse(c, rs, st);
		rs->refuse = st;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!rs->responded && !body_append(rs, upload_data,
		    *upload_data_size))
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rs->responded)
		return MHD_YES;
	if (rs->refuse != 0)
		return refuse(c, rs, rs->refuse);
	return dispatch(h, c, rs, url, method);
}

/* A "%00" in the raw URI: its path or an argument would decode to a NUL
 * and read shorter than sent (another thing's id). */
static bool
has_nul_escape(const char *uri)
{
	for (const char *p = strchr(uri, '%'); p != NULL;
	    p = strchr(p + 1, '%'))
		if (p[1] == '0' && p[2] == '0')
			return true;
	return false;
}

/* MHD's URI callback: once per request, before its headers; its result
 * is the request's con_cls. Keeps the raw query (bounded by MHD's
 * connection memory, which holds the request line). */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req_state *rs;
	const char *q;

	(void)cls;
	if ((rs = kdc_calloc(1, sizeof(*rs))) == NULL)
		return NULL;
	rs->c = c;
	if (uri != NULL) {
		rs->bad_uri = has_nul_escape(uri);
		if ((q = strchr(uri, '?')) != NULL &&
		    (rs->query = kdc_strdup(q + 1)) == NULL) {
			kdc_free(rs);
			return NULL;
		}
	}
	return rs;
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req_state *rs = *con_cls;

	(void)toe;
	/* A kept-alive connection has the header deadline again for the
	 * next request (a closing one is gone before it matters). */
	conn_phase(cls, c, false);
	if (rs == NULL)
		return;
	if (rs->auth != NULL && rs->auth_free != NULL)
		rs->auth_free(rs->auth);
	kdc_http_resp_clear(&rs->gresp);
	kdc_free(rs->query);
	wipe_free(rs->body, rs->cap);
	kdc_free(rs->client_dn);
	for (size_t i = 0; i < rs->nchain; i++)
		kdc_free(rs->chain[i]);
	kdc_free(rs);
	*con_cls = NULL;
}

/* MHD's messages. Most are about a peer (bad handshake, reset), so they
 * go out at debug level; while starting they explain a failure. */
static void
on_log(void *cls, const char *fmt, va_list ap)
{
	struct kdc_http *h = cls;
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	if (atomic_load(&h->starting))
		kdc_log_warn("mhd: %s", msg);
	else
		kdc_log_debug("mhd: %s", msg);
	if (!atomic_load(&h->starting) &&
	    strncmp(msg, MHD_AT_LIMIT, strlen(MHD_AT_LIMIT)) == 0)
		note_refused(h);
}

/* ---- lifetime ---------------------------------------------------------- */

/* The watchdog sleeps on a CLOCK_MONOTONIC condition variable. */
static kdc_err
lock_init(struct kdc_http *h)
{
	pthread_condattr_t ca;
	kdc_err r = KDC_ERR_NOMEM;

	if (pthread_condattr_init(&ca) != 0)
		return KDC_ERR_NOMEM;
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&h->wake, &ca) != 0)
		goto out;
	if (pthread_mutex_init(&h->lock, NULL) != 0) {
		pthread_cond_destroy(&h->wake);
		goto out;
	}
	if (pthread_mutex_init(&h->slock, NULL) != 0) {
		pthread_mutex_destroy(&h->lock);
		pthread_cond_destroy(&h->wake);
		goto out;
	}
	r = KDC_OK;
out:
	pthread_condattr_destroy(&ca);
	return r;
}

static void
watch_stop(struct kdc_http *h)
{
	if (!h->watching)
		return;
	pthread_mutex_lock(&h->lock);
	h->watch_stop = true;
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->watch, NULL);
	h->watching = false;
	h->watch_stop = false;
}

kdc_err
kdc_http_new(const struct kdc_config *cfg, const struct kdc_http_tls *tls,
    struct kdc_http **out)
{
	struct kdc_http *h = NULL;
	kdc_err r;

	*out = NULL;
	if (cfg->http_port < 1 || cfg->http_port > 65535 || tls == NULL ||
	    tls->cert_pem == NULL || tls->key_pem == NULL ||
	    (cfg->http_client_cert != KDC_CLIENT_CERT_NONE &&
	    tls->trust_pem == NULL) || cfg->http_conns_per_address < 1 ||
	    cfg->http_conns_per_address > KDC_HTTP_CONN_PER_ADDR_MAX) {
		r = KDC_ERR_INVALID_ARG;
		goto out;
	}
	if ((h = kdc_calloc(1, sizeof(*h))) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	atomic_init(&h->starting, false);
	atomic_init(&h->stopping, false);
	if ((r = lock_init(h)) != KDC_OK) {
		kdc_free(h);
		h = NULL;
		goto out;
	}
	if (inet_pton(AF_INET, cfg->http_address, &h->addr.sin.sin_addr) ==
	    1) {
		h->addr.sin.sin_family = AF_INET;
		h->addr.sin.sin_port = htons((uint16_t)cfg->http_port);
	} else if (inet_pton(AF_INET6, cfg->http_address,
	    &h->addr.sin6.sin6_addr) == 1) {
		h->addr.sin6.sin6_family = AF_INET6;
		h->addr.sin6.sin6_port = htons((uint16_t)cfg->http_port);
	} else {
		r = KDC_ERR_INVALID_ARG;
		goto out;
	}
	h->tls12 = cfg->http_tls12;
	h->per_addr = (unsigned int)cfg->http_conns_per_address;
	h->client_cert = cfg->http_client_cert;
	h->cert_pem = tls->cert_pem;
	h->key_pem = tls->key_pem;
	h->trust_pem = tls->trust_pem;
	*out = h;
	h = NULL;
	r = KDC_OK;
out:
	kdc_http_free(h);
	return r;
}

kdc_err
kdc_http_start(struct kdc_http *h)
{
	struct MHD_OptionItem trust[2];
	unsigned int flags;
	char addr[INET6_ADDRSTRLEN];
	int port;

	if (h->d != NULL)
		return KDC_ERR_INVALID_ARG;
	memset(trust, 0, sizeof(trust));
	trust[0].option = MHD_OPTION_END;
	trust[1].option = MHD_OPTION_END;
	if (h->client_cert != KDC_CLIENT_CERT_NONE) {
		/* MHD then asks every client for a certificate (GnuTLS
		 * CERT_REQUEST); client_auth() decides what it means. */
		trust[0].option = MHD_OPTION_HTTPS_MEM_TRUST;
		trust[0].ptr_value = (void *)(uintptr_t)h->trust_pem;
	}
	/* ITC: needed by MHD_quiesce_daemon() with an internal thread, and
	 * by suspend/resume (streams), which MHD panics on without
	 * MHD_ALLOW_SUSPEND_RESUME (it includes MHD_USE_ITC). */
	flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
	    MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	if (h->addr.sa.sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (pthread_create(&h->watch, NULL, watch_main, h) != 0)
		return KDC_ERR_NOMEM;
	h->watching = true;
	atomic_store(&h->starting, true);
	port = ntohs(h->addr.sa.sa_family == AF_INET6 ?
	    h->addr.sin6.sin6_port : h->addr.sin.sin_port);
	h->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL,
	    on_request, h,
	    MHD_OPTION_EXTERNAL_LOGGER, on_log, h,
	    MHD_OPTION_SOCK_ADDR, &h->addr.sa,
	    MHD_OPTION_HTTPS_MEM_CERT, h->cert_pem,
	    MHD_OPTION_HTTPS_MEM_KEY, h->key_pem,
	    MHD_OPTION_HTTPS_PRIORITIES, h->tls12 ? PRIO_TLS12 : PRIO_TLS13,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)KDC_HTTP_CONN_TIMEOUT,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)KDC_HTTP_CONN_MAX,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, h->per_addr,
	    MHD_OPTION_ARRAY, trust,
	    MHD_OPTION_END);
	atomic_store(&h->starting, false);
	if (h->addr.sa.sa_family == AF_INET6)
		inet_ntop(AF_INET6, &h->addr.sin6.sin6_addr, addr,
		    sizeof(addr));
	else
		inet_ntop(AF_INET, &h->addr.sin.sin_addr, addr, sizeof(addr));
	if (h->d == NULL) {
		watch_stop(h);
		return KDC_ERR_IO;	/* the caller says where, once */
	}
	kdc_log_info(h->addr.sa.sa_family == AF_INET6 ?
	    "listening on https://[%s]:%d tls=%s client_cert=%d "
	    "conns=%d per_address=%u" :
	    "listening on https://%s:%d tls=%s client_cert=%d "
	    "conns=%d per_address=%u",
	    addr, port, h->tls12 ? "1.3,1.2" : "1.3", (int)h->client_cert,
	    KDC_HTTP_CONN_MAX, h->per_addr);
	return KDC_OK;
}

void
kdc_http_stop(struct kdc_http *h)
{
	const union MHD_DaemonInfo *di;
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	MHD_socket ls;

	if (h == NULL || h->d == NULL)
		return;
	/* No new connections; streams end (a suspended one is resumed to
	 * end: MHD must not be stopped with one suspended); the other
	 * connections finish their requests. */
	atomic_store(&h->stopping, true);
	ls = MHD_quiesce_daemon(h->d);
	streams_end_all(h);
	for (int waited = 0; waited < KDC_HTTP_DRAIN_MS; waited += 10) {
		di = MHD_get_daemon_info(h->d,
		    MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		if (di == NULL || di->num_connections == 0)
			break;
		nanosleep(&ts, NULL);
	}
	/* The watchdog ran during the drain (a slowloris does not hold it
	 * up); MHD_stop_daemon() tells us CLOSED for every connection. */
	watch_stop(h);
	MHD_stop_daemon(h->d);
	h->d = NULL;
	atomic_store(&h->stopping, false);
	if (ls != MHD_INVALID_SOCKET)
		close(ls);	/* ours after quiesce, closed after stop */
}

void
kdc_http_free(struct kdc_http *h)
{
	if (h == NULL)
		return;
	kdc_http_stop(h);
	while (h->conns != NULL) {	/* none: MHD reported every close */
		struct conn *k = h->conns;

		h->conns = k->next;
		kdc_free(k);
	}
	pthread_mutex_destroy(&h->lock);
	pthread_mutex_destroy(&h->slock);
	pthread_cond_destroy(&h->wake);
	for (size_t i = 0; i < h->ngates; i++)
		kdc_free(h->gates[i].prefix);
	kdc_free(h->gates);
	for (size_t i = 0; i < h->nroutes; i++) {
		kdc_free(h->routes[i].method);
		kdc_free(h->routes[i].path);
	}
	kdc_free(h->routes);
	chains_free(h);
	kdc_free(h);
}
