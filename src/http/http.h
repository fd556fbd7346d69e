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

#include "core/config.h"
#include "core/err.h"

struct kdc_http;

struct kdc_http_req {
	const char	*method;	/* "GET", "POST", ... */
	const char	*path;		/* URL path, no query */
	const uint8_t	*body;		/* borrowed; NULL if none */
	size_t		 body_len;	/* <= KDC_HTTP_BODY_MAX */
	const char	*client_dn;	/* verified client cert subject, or NULL */
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

typedef void (*kdc_http_fn)(void *arg, const struct kdc_http_req *req,
	    struct kdc_http_resp *resp);

struct kdc_http_tls {
	const char	*cert_pem;	/* chain, borrowed until kdc_http_free */
	const char	*key_pem;	/* borrowed; caller wipes after free */
	const char	*trust_pem;	/* CAs for client certs, or NULL */
};

/* A listener for cfg's address/port/tls12/client_cert. Not yet bound. */
kdc_err	kdc_http_new(const struct kdc_config *cfg,
	    const struct kdc_http_tls *tls, struct kdc_http **out);
/* Route method+path to fn. A path ending in "/ *" (without the space)
 * matches every path below it. Exact routes win over prefixes. A known
 * path with another method answers 405; an unknown path 404. */
kdc_err	kdc_http_route(struct kdc_http *h, const char *method,
	    const char *path, kdc_http_fn fn, void *arg);
/* Bind and start serving. KDC_ERR_IO if the port cannot be bound. */
kdc_err	kdc_http_start(struct kdc_http *h);
/* Stop accepting, let requests in flight finish, stop. Idempotent. */
void	kdc_http_stop(struct kdc_http *h);
/* Stops if running. NULL-safe. */
void	kdc_http_free(struct kdc_http *h);

/* The core's own routes: GET /api/v1/health, GET /ca.pem. */
struct kdc_core;
kdc_err	kdc_http_routes_core(struct kdc_http *h, struct kdc_core *core);

#endif
