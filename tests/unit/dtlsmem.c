/* dtlsmem.c: GnuTLS DTLS peers over in-memory queues (dtlsmem.h). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <gnutls/dtls.h>

#include "dtlsmem.h"

const unsigned char kdc_dtlsmem_psk[16] = {
	0x65, 0xbe, 0xfe, 0x07, 0xfb, 0x9a, 0x9f, 0x00,
	0x83, 0x3d, 0x18, 0xe4, 0x75, 0x09, 0x0b, 0x0b,
};

void
kdc_dtlsmem_queue_init(struct kdc_dtlsmem_queue *q, unsigned cap)
{
	q->head = q->n = 0;
	q->cap = cap == 0 ? 1 : cap > KDC_DTLSMEM_QMAX ? KDC_DTLSMEM_QMAX :
	    cap;
}

int
kdc_dtlsmem_push(struct kdc_dtlsmem_queue *q, const void *d, size_t n)
{
	unsigned t;

	if (q->n == q->cap || n > KDC_DTLSMEM_DMAX)
		return -1;
	t = (q->head + q->n++) % q->cap;
	memcpy(q->buf[t], d, n);
	q->len[t] = n;
	return 0;
}

void
kdc_dtlsmem_unshift(struct kdc_dtlsmem_queue *q, const void *d, size_t n)
{
	q->head = (q->head + q->cap - 1) % q->cap;
	q->n++;
	memcpy(q->buf[q->head], d, n);
	q->len[q->head] = n;
}

ssize_t
kdc_dtlsmem_pop(struct kdc_dtlsmem_queue *q, void *d, size_t cap)
{
	size_t n;

	if (q->n == 0)
		return -1;
	n = q->len[q->head];
	if (n > cap)
		n = cap;	/* datagram semantics: truncate */
	memcpy(d, q->buf[q->head], n);
	q->head = (q->head + 1) % q->cap;
	q->n--;
	return (ssize_t)n;
}

static ssize_t
push_cb(gnutls_transport_ptr_t p, const void *d, size_t n)
{
	struct kdc_dtlsmem_end *e = p;

	if (kdc_dtlsmem_push(e->out, d, n) != 0) {
		gnutls_transport_set_errno(e->s, ENOBUFS);
		return -1;
	}
	return (ssize_t)n;
}

static ssize_t
pull_cb(gnutls_transport_ptr_t p, void *d, size_t n)
{
	struct kdc_dtlsmem_end *e = p;
	ssize_t r = kdc_dtlsmem_pop(e->in, d, n);

	if (r < 0)
		gnutls_transport_set_errno(e->s, EAGAIN);
	return r;
}

static int
pull_timeout_cb(gnutls_transport_ptr_t p, unsigned ms)
{
	struct kdc_dtlsmem_end *e = p;

	(void)ms;
	return e->in->n > 0 ? 1 : 0;
}

void
kdc_dtlsmem_attach(gnutls_session_t s, struct kdc_dtlsmem_end *e)
{
	e->s = s;
	gnutls_transport_set_ptr(s, e);
	gnutls_transport_set_push_function(s, push_cb);
	gnutls_transport_set_pull_function(s, pull_cb);
	gnutls_transport_set_pull_timeout_function(s, pull_timeout_cb);
}

static int
server_psk_cb(gnutls_session_t s, const char *user, gnutls_datum_t *key)
{
	(void)s;
	if (strcmp(user, KDC_DTLSMEM_PSK_ID) != 0)
		return -1;
	if ((key->data = gnutls_malloc(sizeof(kdc_dtlsmem_psk))) == NULL)
		return -1;
	memcpy(key->data, kdc_dtlsmem_psk, sizeof(kdc_dtlsmem_psk));
	key->size = sizeof(kdc_dtlsmem_psk);
	return 0;
}

int
kdc_dtlsmem_creds(gnutls_psk_client_credentials_t *cc,
    gnutls_psk_server_credentials_t *sc)
{
	gnutls_datum_t key = { (unsigned char *)kdc_dtlsmem_psk,
	    sizeof(kdc_dtlsmem_psk) };
	int r;

	*cc = NULL;
	*sc = NULL;
	if ((r = gnutls_psk_allocate_client_credentials(cc)) < 0)
		goto out;
	if ((r = gnutls_psk_set_client_credentials(*cc, KDC_DTLSMEM_PSK_ID,
	    &key, GNUTLS_PSK_KEY_RAW)) < 0)
		goto out;
	if ((r = gnutls_psk_allocate_server_credentials(sc)) < 0)
		goto out;
	gnutls_psk_set_server_credentials_function(*sc, server_psk_cb);
	return 0;
out:
	if (*cc != NULL)
		gnutls_psk_free_client_credentials(*cc);
	*cc = NULL;
	*sc = NULL;
	return r;
}

int
kdc_dtlsmem_session(gnutls_session_t *s, struct kdc_dtlsmem_end *e,
    unsigned flags, const char *prio, void *cred)
{
	const char *err = NULL;
	int r;

	if ((r = gnutls_init(s, flags | GNUTLS_DATAGRAM |
	    GNUTLS_NONBLOCK)) < 0) {
		*s = NULL;
		return r;
	}
	if ((r = gnutls_priority_set_direct(*s, prio, &err)) < 0 ||
	    (r = gnutls_credentials_set(*s, GNUTLS_CRD_PSK, cred)) < 0) {
		gnutls_deinit(*s);
		*s = NULL;
		return r;
	}
	gnutls_dtls_set_mtu(*s, 1400);
	kdc_dtlsmem_attach(*s, e);
	return 0;
}

int
kdc_dtlsmem_handshake(gnutls_session_t c, gnutls_session_t s)
{
	bool cdone = false, sdone = false;
	int r, spins = 0;

	while (!cdone || !sdone) {
		if (++spins >= 100)
			return GNUTLS_E_TIMEDOUT;
		if (!cdone) {
			if ((r = gnutls_handshake(c)) == 0)
				cdone = true;
			else if (gnutls_error_is_fatal(r))
				return r;
		}
		if (!sdone) {
			if ((r = gnutls_handshake(s)) == 0)
				sdone = true;
			else if (gnutls_error_is_fatal(r))
				return r;
		}
	}
	return 0;
}
