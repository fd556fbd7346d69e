/*
 * http.h: the HTTPS listener (libmicrohttpd + GnuTLS) and a small router
 * that faces register routes with. Handlers run on the listener's one
 * internal thread, one at a time, so they may use the core (and its
 * store) without locks as long as no other thread does.
 */
#ifndef KDC_HTTP_H
#define KDC_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"
#include "core/config.h"

struct kdc_http;

/* Client certificates kept per request: leaf, intermediates, root. */
#define KDC_HTTP_CHAIN_MAX	4

struct kdc_http_req {
	const char	*method;	/* "GET", "POST", ... */
	const char	*path;		/* URL path, no query */
	const uint8_t	*body;		/* borrowed; NULL if none */
	size_t		 body_len;	/* <= KDC_HTTP_BODY_MAX */
	const char	*client_dn;	/* verified client cert subject, or NULL */
	/* that certificate's chain as the client sent it, leaf first, DER
	 * (at most KDC_HTTP_CHAIN_MAX; none without a certificate verified
	 * against trust_pem: the ACE face relies on it, as our CA's, through
	 * kdc_core_auth_cert_verified()) */
	const uint8_t	*const *client_certs;
	const size_t	*client_cert_lens;
	size_t		 nclient_certs;
	const char	*query;		/* the raw query string without '?',
					 * NULL if none */
	void		*auth;		/* what this route's gate set, else
					 * NULL (kdc_http_gate) */
	void		*priv;		/* the listener's, do not touch */
};

/* Extra headers a handler or gate may add to one response. */
#define KDC_HTTP_RESP_HEADERS_MAX	8

struct kdc_http_stream;

struct kdc_http_resp {
	int		 status;
	char		 content_type[64];
	uint8_t		*body;		/* heap, freed by the listener */
	size_t		 body_len;
	/* kdc_http_resp_header()'s, heap, freed by the listener */
	char		*hdr_name[KDC_HTTP_RESP_HEADERS_MAX];
	char		*hdr_value[KDC_HTTP_RESP_HEADERS_MAX];
	size_t		 nhdrs;
	struct kdc_http_stream *stream;	/* kdc_http_resp_stream()'s */
};

/* Set status, content type and a copy of body. KDC_ERR_NOMEM. */
kdc_err	kdc_http_resp_set(struct kdc_http_resp *resp, int status,
	    const char *content_type, const void *body, size_t len);
/* Set an RFC 7807 application/problem+json body,
 * {"title":<reason phrase>,"status":N[,"detail":...]}. detail may be
 * NULL (it is JSON-escaped, never a secret). KDC_ERR_NOMEM. */
kdc_err	kdc_http_resp_problem(struct kdc_http_resp *resp, int status,
	    const char *detail);
/* The HTTP status for a kdc_err: this face's one translation table. */
int	kdc_http_status(kdc_err r);
/* Add a response header (name and value copied), sent as is after the
 * listener's own. At most KDC_HTTP_RESP_HEADERS_MAX per response:
 * KDC_ERR_TOO_LARGE past it. KDC_ERR_INVALID_ARG for a name that is not
 * an RFC 9110 token, a value with a control character other than HTAB
 * (so no CR, LF or NUL: no header injection), or a name the listener
 * owns (Content-Type, Content-Length, Cache-Control,
 * X-Content-Type-Options, Connection, Transfer-Encoding; any case).
 * KDC_ERR_NOMEM. The listener sends them with any status, problem
 * bodies it makes for the response included (WWW-Authenticate on a 401). */
kdc_err	kdc_http_resp_header(struct kdc_http_resp *resp, const char *name,
	    const char *value);
/* Free what resp holds (body, headers) and zero it; a stream not yet
 * handed to the listener ends (its done runs). For code that builds a
 * response and does not give it to the listener (tests). NULL-safe. */
void	kdc_http_resp_clear(struct kdc_http_resp *resp);

/* A request header's value (name case-insensitive; the first if
 * repeated), NULL if absent. Valid during the handler or gate only. */
const char *kdc_http_header(const struct kdc_http_req *req, const char *name);
/* A query argument by exact (case-sensitive) name, percent-decoded and
 * with '+' read as a space (application/x-www-form-urlencoded, as MHD
 * decodes GET arguments); NULL if absent, "" when given without a value
 * ("?a" or "?a="). Repeated keys: the first wins. Valid during the
 * handler or gate only. A request whose query or path decodes to a NUL
 * byte never reaches a gate or handler (400). */
const char *kdc_http_arg(const struct kdc_http_req *req, const char *name);
/* Call fn for each query argument in order (decoded as kdc_http_arg(),
 * value "" when none); stops at and returns fn's first result other than
 * KDC_OK. KDC_OK after all of them (or none). */
kdc_err	kdc_http_args_each(const struct kdc_http_req *req,
	    kdc_err (*fn)(void *arg, const char *key, const char *value),
	    void *arg);

/* resp starts zeroed. A handler that leaves status 0 answers 500; one
 * that sets a status >= 400 and no body or content type gets a problem
 * body. Every response also gets Cache-Control: no-store and
 * X-Content-Type-Options: nosniff. */
typedef void (*kdc_http_fn)(void *arg, const struct kdc_http_req *req,
	    struct kdc_http_resp *resp);

/*
 * A gate runs when a request's headers are in (after the client
 * certificate check), BEFORE any of its body is read and before routing
 * (so also for a path that will answer 404/405), for every path under
 * path_prefix: "/things" matches "/things" and everything below
 * "/things/" (not "/thingsX"); "/" matches every path. The longest
 * matching prefix wins; a path no prefix matches is ungated. The gate
 * sees req with body NULL (method, path, query, client certificate,
 * headers and arguments through kdc_http_header()/kdc_http_arg()).
 *
 * Return 0 to go on, optionally setting *auth: the handler gets it as
 * req->auth, and free_fn (if not NULL) releases it once the request is
 * over (after its response; for a stream, after the stream's done).
 * Or return an HTTP status 400..599 having filled resp (a body, or none
 * for a problem body; headers such as WWW-Authenticate): the listener
 * answers it without keeping the body (answered at once when no body is
 * coming, the client waits for 100 Continue or declares more than
 * KDC_HTTP_DRAIN_MAX; else the body is read and dropped first, as for
 * 413). An *auth set on refusal is released too. Any other return
 * answers 500. Runs on the listener thread, like handlers.
 */
typedef int (*kdc_http_gate_fn)(void *arg, const struct kdc_http_req *req,
	    void **auth, struct kdc_http_resp *resp);

/*
 * Streaming (Server-Sent Events). A handler answers with a stream
 * instead of a body: the listener sends status, content type, the extra
 * headers, Cache-Control: no-store and nosniff, then (chunked) calls
 * pull on its thread whenever the connection can take data. pull
 * returns > 0 bytes written into buf (<= max), 0 when it has nothing now
 * (the connection is then suspended: no polling, no CPU, until
 * kdc_http_stream_wake()), or -1 to end the response (a clean chunked
 * end; the connection may serve another request).
 *
 * done(arg) is called exactly once when the stream ends for any reason
 * (pull -1, the client gone, kdc_http_stop(), the response not sent at
 * all), on the listener thread (or the thread of kdc_http_stop()/free),
 * with none of the listener's or MHD's locks held; after done the handle
 * is invalid. A client that closes while the stream is suspended is
 * noticed by the listener's watchdog within KDC_HTTP_WATCH_TICK_MS
 * (TCP FIN/RST seen on the socket), not only at the next write. HEAD:
 * headers only, pull never called, done called.
 *
 * Streams are exempt from the request deadline (the watchdog) and from
 * the header deadline while they last; MHD's inactivity timeout only
 * applies while a stream has data the client does not read.
 * kdc_http_stop() ends them (done called) and does not wait for them.
 *
 * kdc_http_resp_stream() sets resp to answer status with the stream and
 * returns its handle (valid until done). KDC_ERR_INVALID_ARG for a
 * status outside 200..599, a bad content type, no pull or a stream
 * already set; KDC_ERR_NOMEM. On error done is NOT called (nothing was
 * set up).
 */
typedef ssize_t (*kdc_http_pull_fn)(void *arg, char *buf, size_t max);
kdc_err	kdc_http_resp_stream(struct kdc_http_resp *resp, int status,
	    const char *content_type, kdc_http_pull_fn pull,
	    void (*done)(void *arg), void *arg, struct kdc_http_stream **handle);
/*
 * Wake a stream so pull is called again (at least once after this
 * call). Callable from any thread, and from a handler or pull on the
 * listener thread; cheap (a mutex, and MHD's resume when the stream is
 * suspended); wakes before the first pull or while pull runs are not
 * lost.
 *
 * The rule: never wake a handle whose done has run. Keep the handle
 * under a mutex of yours, have done clear it under that mutex, and wake
 * only while holding it and the handle is set. This cannot deadlock:
 * done is called with no lock of the listener's or MHD's held, and wake
 * takes only the stream's own mutex and MHD's resume lock, never
 * calling back into your code. Do not call wake from inside done.
 */
void	kdc_http_stream_wake(struct kdc_http_stream *s);

struct kdc_http_tls {
	const char	*cert_pem;	/* chain, borrowed until kdc_http_free */
	const char	*key_pem;	/* borrowed; caller wipes after free */
	/* CAs for client certs, or NULL. serve.c gives the iotkdc CA alone,
	 * and the ACE face's /token and /introspect trust what it verified
	 * as that CA's (kdc_core_auth_cert_verified()): another CA here
	 * would need those routes back on kdc_core_auth_cert(). */
	const char	*trust_pem;
};

/* A listener for cfg's address/port/tls12/client_cert/conns_per_address.
 * Not yet bound. KDC_ERR_INVALID_ARG for a value out of its config range,
 * no certificate/key, or no trust_pem when client certificates are on;
 * KDC_ERR_NOMEM. */
kdc_err	kdc_http_new(const struct kdc_config *cfg,
	    const struct kdc_http_tls *tls, struct kdc_http **out);
/* Route method+path to fn. A path ending in "/ *" (without the space)
 * matches every path below it. Exact routes win over prefixes. A known
 * path with another method answers 405 with an Allow header; an unknown
 * path 404. HEAD is served by the GET route (headers only, with the
 * Content-Length of the GET body). Register before kdc_http_start()
 * (KDC_ERR_INVALID_ARG after); KDC_ERR_EXISTS for a duplicate. */
kdc_err	kdc_http_route(struct kdc_http *h, const char *method,
	    const char *path, kdc_http_fn fn, void *arg);
/* Gate every path under path_prefix with fn (kdc_http_gate_fn above);
 * free_fn releases what fn sets in *auth (may be NULL). path_prefix
 * starts with '/' and does not end in '/' (except "/" itself). Register
 * before kdc_http_start() (KDC_ERR_INVALID_ARG after, or for a bad
 * prefix or no fn); KDC_ERR_EXISTS for a prefix already gated;
 * KDC_ERR_NOMEM. */
kdc_err	kdc_http_gate(struct kdc_http *h, const char *path_prefix,
	    kdc_http_gate_fn fn, void (*free_fn)(void *auth), void *arg);
/* Bind and start serving. KDC_ERR_IO if the port cannot be bound;
 * KDC_ERR_NOMEM if the deadline watchdog thread cannot start. Connections
 * are capped at KDC_HTTP_CONN_MAX in all and conns_per_address per IP
 * address (refusals logged at warn, rate-limited); one that has not sent
 * its headers KDC_HTTP_HEADER_TIMEOUT after accept (or after its previous
 * response), or not finished its request KDC_HTTP_REQUEST_TIMEOUT after
 * its headers, is closed. */
kdc_err	kdc_http_start(struct kdc_http *h);
/* Stop accepting, end every stream (done called), let requests in
 * flight finish (up to KDC_HTTP_DRAIN_MS), stop. Idempotent. */
void	kdc_http_stop(struct kdc_http *h);
/* Stops if running. NULL-safe. */
void	kdc_http_free(struct kdc_http *h);
/* How many requests' client chains were found verified before (the
 * listener's cache of verified chains, KDC_HTTP_CHAIN_CACHE: a returning
 * client's chain is checked against its validity window only, not
 * verified again). Tests and benchmarks. */
unsigned long	kdc_http_chain_hits(struct kdc_http *h);
/* How many streams wait suspended right now (pull had nothing, no wake
 * since). Tests. */
size_t	kdc_http_streams_suspended(struct kdc_http *h);

/* The core's own routes: GET /api/v1/health, GET /ca.pem, GET /crl (DER). */
struct kdc_core;
kdc_err	kdc_http_routes_core(struct kdc_http *h, struct kdc_core *core);

#endif
