/*
 * tdd/face.h: the Thing Directory on the HTTPS listener (W3C WoT
 * Discovery, §7.3.2): glue between src/http and core/tdd.h.
 *
 * Routes: GET /.well-known/wot (the directory's own TD, public: it names
 * no one), /things (GET list, POST anonymous), /things/{id} (GET, PUT,
 * PATCH, DELETE; HEAD wherever GET is), /search/jsonpath (GET),
 * /search/xpath and /search/sparql (501, as the directory's TD says),
 * /events and /events/{thing_created|thing_updated|thing_deleted} (SSE),
 * /consent/{id} (GET, PUT, DELETE: the owner's consent; DELETE withdraws
 * it and erases the TD).
 *
 * Every route but the introduction is gated: the gate authenticates the
 * request before its body is read (a client certificate the listener
 * verified against our CA, through kdc_core_auth_cert_verified(); or an
 * access token of our ACE AS for the directory's audience, RFC 6750
 * "Authorization: Bearer <base64url of the CWT>", kdc_core_ace_bearer())
 * and applies the per-principal rate limit. A request without a credential
 * is answered 401 with WWW-Authenticate and costs no store access.
 */
#ifndef KDC_TDD_FACE_H
#define KDC_TDD_FACE_H

#include <stdbool.h>

#include "base/err.h"
#include "core/core.h"
#include "core/tdd.h"
#include "http/http.h"

struct kdc_tdd_face_opts {
	const char	*base;		/* "https://host:port", for the TD */
	const char	*audience;	/* the ACE RS audience whose access
					 * tokens are taken as bearer tokens;
					 * NULL or "": none */
	bool		 basic;		/* HTTP basic for users too */
	unsigned	 rate;		/* requests/s per principal (0: off) */
	unsigned	 burst;
	unsigned	 streams_max;	/* SSE streams in all */
	unsigned	 streams_per_principal;
};

struct kdc_tdd_face;

/* Register the routes and gates on h (before kdc_http_start). core: the
 * listener thread's, for authentication; tdd: the directory. */
kdc_err	kdc_tdd_face_new(struct kdc_http *h, struct kdc_core *core,
	    struct kdc_tdd *tdd, const struct kdc_tdd_face_opts *o,
	    struct kdc_tdd_face **out);
/* After kdc_http_free() (no request can be running). NULL-safe. */
void	kdc_tdd_face_free(struct kdc_tdd_face *f);
/* The directory's own TD (JSON text, owned by f). */
const char *kdc_tdd_face_td(const struct kdc_tdd_face *f);

#endif
