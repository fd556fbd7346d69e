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
};

struct kdc_http_resp {
	int		 status;
	char		 content_type[64];
	uint8_t		*body;		/* heap, freed by the listener */
	size_t		 body_len;
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

/* resp starts zeroed. A handler that leaves status 0 answers 500; one
 * that sets a status >= 400 and no body or content type gets a problem
 * body. Every response also gets Cache-Control: no-store and
 * X-Content-Type-Options: nosniff. */
typedef void (*kdc_http_fn)(void *arg, const struct kdc_http_req *req,
	    struct kdc_http_resp *resp);

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
 * path with another method answers 405; an unknown path 404. HEAD is
 * served by the GET route. Register before kdc_http_start()
 * (KDC_ERR_INVALID_ARG after); KDC_ERR_EXISTS for a duplicate. */
kdc_err	kdc_http_route(struct kdc_http *h, const char *method,
	    const char *path, kdc_http_fn fn, void *arg);
/* Bind and start serving. KDC_ERR_IO if the port cannot be bound;
 * KDC_ERR_NOMEM if the deadline watchdog thread cannot start. Connections
 * are capped at KDC_HTTP_CONN_MAX in all and conns_per_address per IP
 * address (refusals logged at warn, rate-limited); one that has not sent
 * its headers KDC_HTTP_HEADER_TIMEOUT after accept (or after its previous
 * response), or not finished its request KDC_HTTP_REQUEST_TIMEOUT after
 * its headers, is closed. */
kdc_err	kdc_http_start(struct kdc_http *h);
/* Stop accepting, let requests in flight finish, stop. Idempotent. */
void	kdc_http_stop(struct kdc_http *h);
/* Stops if running. NULL-safe. */
void	kdc_http_free(struct kdc_http *h);
/* How many requests' client chains were found verified before (the
 * listener's cache of verified chains, KDC_HTTP_CHAIN_CACHE: a returning
 * client's chain is checked against its validity window only, not
 * verified again). Tests and benchmarks. */
unsigned long	kdc_http_chain_hits(struct kdc_http *h);

/* The core's own routes: GET /api/v1/health, GET /ca.pem, GET /crl (DER). */
struct kdc_core;
kdc_err	kdc_http_routes_core(struct kdc_http *h, struct kdc_core *core);

#endif
