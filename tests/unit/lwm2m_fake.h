/*
 * lwm2m_fake.h: a scripted stand-in for the coap.h engine, for the LwM2M
 * face's unit tests (included once per test program). Routes are kept in
 * a table and called directly; requests the face sends to a peer are
 * queued, and the test answers them one by one with fake_answer(), which
 * calls the completion exactly once as coap.h promises. It defines every
 * coap.h function, so the real engine's objects are not linked in.
 */
#ifndef KDC_LWM2M_FAKE_H
#define KDC_LWM2M_FAKE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coap/coap.h"

#define FAKE_ROUTES	16
#define FAKE_QUEUE	16

struct fake_route {
	char			 ep[16];
	uint8_t			 method;
	char			 path[KDC_COAP_PATH_MAX + 1];
	kdc_coap_handler_fn	 fn;
	void			*arg;
};

struct kdc_coap {
	struct fake_route	 r[FAKE_ROUTES];
	size_t			 n;
};

struct kdc_coap_peer {
	struct kdc_principal	 auth;
	const char		*endpoint;
	int			 holds;
	void			*data;
};

struct fake_sent {
	struct kdc_coap_peer	*peer;
	uint8_t			 method;
	char			 path[KDC_COAP_PATH_MAX + 1];
	int			 cf, accept;
	uint8_t			 body[KDC_COAP_BODY_MAX];
	size_t			 len;
	kdc_coap_done_fn	 done;
	void			*arg;
};

static struct fake_sent fake_q[FAKE_QUEUE];
static size_t fake_nq;
static int fake_fail_send;	/* next kdc_coap_request fails */

const char *
kdc_coap_msg_query(const struct kdc_coap_msg *m, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < m->nquery; i++)
		if (strncmp(m->query[i], name, n) == 0 &&
		    m->query[i][n] == '=')
			return m->query[i] + n + 1;
	return NULL;
}

kdc_err
kdc_coap_new(struct kdc_core *core, const struct kdc_config *cfg,
    struct kdc_coap **out)
{
	(void)core;
	(void)cfg;
	*out = calloc(1, sizeof(**out));
	return *out != NULL ? KDC_OK : KDC_ERR_NOMEM;
}

kdc_err
kdc_coap_listen(struct kdc_coap *c, const char *name, const char *addr,
    int port, unsigned accept, const char *cert_pem, const char *key_pem)
{
	(void)c; (void)name; (void)addr; (void)port; (void)accept;
	(void)cert_pem; (void)key_pem;
	return KDC_OK;
}

kdc_err
kdc_coap_route(struct kdc_coap *c, const char *name, uint8_t method,
    const char *path, kdc_coap_handler_fn fn, void *arg)
{
	struct fake_route *r;

	if (c->n == FAKE_ROUTES)
		return KDC_ERR_TOO_LARGE;
	r = &c->r[c->n++];
	snprintf(r->ep, sizeof(r->ep), "%s", name != NULL ? name : "");
	r->method = method;
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->fn = fn;
	r->arg = arg;
	return KDC_OK;
}

void
kdc_coap_on_gone(struct kdc_coap *c, kdc_coap_gone_fn fn, void *arg)
{
	(void)c; (void)fn; (void)arg;
}

kdc_err
kdc_coap_run(struct kdc_coap *c)
{
	(void)c;
	return KDC_OK;
}

void
kdc_coap_stop(struct kdc_coap *c)
{
	(void)c;
}

void
kdc_coap_set_timers(struct kdc_coap *c, unsigned ack_timeout_ms,
    unsigned max_retransmit, unsigned request_timeout_ms)
{
	(void)c; (void)ack_timeout_ms; (void)max_retransmit;
	(void)request_timeout_ms;
}

kdc_err
kdc_coap_run_once(struct kdc_coap *c, unsigned timeout_ms)
{
	(void)c;
	(void)timeout_ms;
	return KDC_OK;
}

void
kdc_coap_free(struct kdc_coap *c)
{
	free(c);
}

const struct kdc_principal *
kdc_coap_peer_auth(const struct kdc_coap_peer *p)
{
	return &p->auth;
}

const char *
kdc_coap_peer_endpoint(const struct kdc_coap_peer *p)
{
	return p->endpoint;
}

const char *
kdc_coap_peer_addr(const struct kdc_coap_peer *p)
{
	(void)p;
	return "127.0.0.1:56830";
}

void
kdc_coap_peer_hold(struct kdc_coap_peer *p)
{
	p->holds++;
}

void
kdc_coap_peer_release(struct kdc_coap_peer *p)
{
	assert_true(p->holds > 0);
	p->holds--;
}

void
kdc_coap_peer_set_data(struct kdc_coap_peer *p, void *data)
{
	p->data = data;
}

void *
kdc_coap_peer_get_data(const struct kdc_coap_peer *p)
{
	return p->data;
}

kdc_err
kdc_coap_request(struct kdc_coap_peer *p, uint8_t method, const char *path,
    int content_format, int accept, const uint8_t *payload, size_t len,
    kdc_coap_done_fn done, void *arg)
{
	struct fake_sent *s;

	if (fake_fail_send) {
		fake_fail_send = 0;
		return KDC_ERR_CLOSED;
	}
	if (len > KDC_COAP_BODY_MAX)
		return KDC_ERR_TOO_LARGE;
	assert_true(fake_nq < FAKE_QUEUE);
	s = &fake_q[fake_nq++];
	memset(s, 0, sizeof(*s));
	s->peer = p;
	s->method = method;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->cf = content_format;
	s->accept = accept;
	if (len > 0)
		memcpy(s->body, payload, len);
	s->len = len;
	s->done = done;
	s->arg = arg;
	return KDC_OK;
}

/* ---- driving ------------------------------------------------------------ */

static int
fake_path_match(const char *route, const char *path)
{
	size_t n = strlen(route);

	if (n >= 2 && strcmp(route + n - 2, "/*") == 0)
		return strncmp(route, path, n - 1) == 0 && path[n - 1] != '\0';
	return strcmp(route, path) == 0;
}

/*
 * Deliver a request from peer to the route it matches; queries is a
 * NULL-terminated list of "k=v". Returns the response code (4.04 if no
 * route); the Location-Path goes to loc when given.
 */
static uint8_t
fake_call(struct kdc_coap *c, struct kdc_coap_peer *peer, uint8_t method,
    const char *path, const char *const *queries, char *loc, size_t loc_len)
{
	struct kdc_coap_msg m;
	struct kdc_coap_resp resp;

	memset(&m, 0, sizeof(m));
	m.code = method;
	snprintf(m.path, sizeof(m.path), "%s", path);
	for (; queries != NULL && *queries != NULL; queries++)
		snprintf(m.query[m.nquery++], KDC_COAP_QUERY_LEN + 1, "%s",
		    *queries);
	m.content_format = KDC_CF_NONE;
	m.accept = KDC_CF_NONE;
	for (size_t i = 0; i < c->n; i++) {
		struct fake_route *r = &c->r[i];
		if (strcmp(r->ep, peer->endpoint) != 0 ||
		    r->method != method || !fake_path_match(r->path, path))
			continue;
		memset(&resp, 0, sizeof(resp));
		r->fn(r->arg, peer, &m, &resp);
		if (loc != NULL)
			snprintf(loc, loc_len, "%s", resp.location);
		return resp.code != 0 ? resp.code : KDC_COAP_INTERNAL;
	}
	return KDC_COAP_NOT_FOUND;
}

/* The oldest queued request must be method+path; returns it (valid until
 * the next fake_answer()). */
static __attribute__((unused)) struct fake_sent *
fake_expect(uint8_t method, const char *path)
{
	assert_true(fake_nq > 0);
	assert_int_equal(fake_q[0].method, method);
	assert_string_equal(fake_q[0].path, path);
	return &fake_q[0];
}

/* Answer the oldest queued request: status, and when KDC_OK a response
 * with code and payload. */
static __attribute__((unused)) void
fake_answer(kdc_err status, uint8_t code, const void *payload, size_t len)
{
	struct fake_sent s;
	struct kdc_coap_msg rsp;

	assert_true(fake_nq > 0);
	s = fake_q[0];
	memmove(&fake_q[0], &fake_q[1], (fake_nq - 1) * sizeof(fake_q[0]));
	fake_nq--;
	memset(&rsp, 0, sizeof(rsp));
	rsp.code = code;
	rsp.content_format = payload != NULL ? KDC_CF_LINK_FORMAT :
	    KDC_CF_NONE;
	rsp.accept = KDC_CF_NONE;
	rsp.payload = payload;
	rsp.payload_len = len;
	s.done(s.arg, s.peer, status, status == KDC_OK ? &rsp : NULL);
}

#endif
