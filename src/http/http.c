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
#include <arpa/inet.h>
#include <netinet/in.h>
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

struct route {
	char		*method;
	char		*path;		/* prefix: ends in "/" */
	size_t		 len;
	bool		 prefix;
	kdc_http_fn	 fn;
	void		*arg;
};

/* One accepted connection, from MHD's STARTED notice to its CLOSED one. */
struct conn {
	struct conn		*prev;
	struct conn		*next;
	int			 fd;
	int64_t			 deadline;	/* ms, CLOCK_MONOTONIC */
	bool			 in_request;	/* headers in: request deadline */
	bool			 closing;	/* shut down by the watchdog */
	struct sockaddr_storage	 addr;
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
	atomic_bool		 starting;	/* read by MHD's thread */
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

/* Per request, from the first handler call to MHD's completion call. */
struct req_state {
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

/*
 * Queue status with body (owned: freed on every path) and the headers
 * every response carries. allow: the Allow header of a 405, or NULL.
 */
static enum MHD_Result
queue(struct MHD_Connection *c, struct req_state *rs, int status,
    const char *ctype, uint8_t *body, size_t len, const char *allow)
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
	if (resp == NULL)
		goto out;
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
    const char *allow)
{
	struct kdc_http_resp resp;

	memset(&resp, 0, sizeof(resp));
	if (kdc_http_resp_problem(&resp, status, NULL) != KDC_OK)
		return MHD_NO;		/* out of memory: drop it */
	return queue(c, rs, status, resp.content_type, resp.body,
	    resp.body_len, allow);
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

static enum MHD_Result
dispatch(struct kdc_http *h, struct MHD_Connection *c, struct req_state *rs,
    const char *url, const char *method)
{
	const struct route *key, *r = NULL;
	struct kdc_http_resp resp;
	struct kdc_http_req req;
	char allow[256];
	size_t o = 0;

	if ((key = route_key(h, url)) == NULL)
		return queue_problem(c, rs, 404, NULL);
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
		return queue_problem(c, rs, 405, allow);
	}

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = url;
	req.body = rs->len > 0 ? rs->body : NULL;
	req.body_len = rs->len;
	req.client_dn = rs->client_dn;
	req.client_certs = (const uint8_t *const *)rs->chain;
	req.client_cert_lens = rs->chain_len;
	req.nclient_certs = rs->nchain;
	memset(&resp, 0, sizeof(resp));
	r->fn(r->arg, &req, &resp);

	if (resp.status < 100 || resp.status > 599) {
		wipe_free(resp.body, resp.body_len);
		return queue_problem(c, rs, 500, NULL);
	}
	if (resp.body == NULL && resp.content_type[0] == '\0' &&
	    resp.status >= 400)
		return queue_problem(c, rs, resp.status, NULL);
	resp.content_type[sizeof(resp.content_type) - 1] = '\0';
	if (!content_type_ok(resp.content_type)) {
		wipe_free(resp.body, resp.body_len);
		return queue_problem(c, rs, 500, NULL);
	}
	return queue(c, rs, resp.status, resp.content_type, resp.body,
	    resp.body == NULL ? 0 : resp.body_len, NULL);
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

/* ---- connection bounds ------------------------------------------------- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
	due = warn_due(per_addr ? &h->warn_addr : &h->warn_full, now_ms(),
	    &held);
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
	k->deadline = now_ms() + (in_request ? KDC_HTTP_REQUEST_TIMEOUT :
	    KDC_HTTP_HEADER_TIMEOUT) * 1000LL;
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
	k->deadline = now_ms() + KDC_HTTP_HEADER_TIMEOUT * 1000LL;
	k->next = h->conns;
	if (h->conns != NULL)
		h->conns->prev = k;
	h->conns = k;
	if (++h->nconns >= KDC_HTTP_CONN_MAX &&
	    warn_due(&h->warn_full, now_ms(), &held)) {
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
		now = now_ms();
		n = 0;
		for (struct conn *k = h->conns; k != NULL; k = k->next) {
			if (k->closing || now < k->deadline)
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
	if (rs == NULL) {
		/* Headers are in. Authenticate and bound before any body. */
		conn_phase(h, c, true);
		if ((rs = kdc_calloc(1, sizeof(*rs))) == NULL)
			return MHD_NO;
		*con_cls = rs;
		if ((st = client_auth(h, c, rs)) == 0 && declared_too_large(c))
			st = 413;
		if (st != 0 && answer_now(c))
			return queue_problem(c, rs, st, NULL);
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
		return queue_problem(c, rs, rs->refuse, NULL);
	return dispatch(h, c, rs, url, method);
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
	/* ITC: needed by MHD_quiesce_daemon() with an internal thread */
	flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_ERROR_LOG | MHD_USE_ITC;
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
	/* No new connections; the ones open finish their requests. */
	ls = MHD_quiesce_daemon(h->d);
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
	pthread_cond_destroy(&h->wake);
	for (size_t i = 0; i < h->nroutes; i++) {
		kdc_free(h->routes[i].method);
		kdc_free(h->routes[i].path);
	}
	kdc_free(h->routes);
	chains_free(h);
	kdc_free(h);
}
