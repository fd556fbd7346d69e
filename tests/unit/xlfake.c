/* xlfake.c: a fake engine for the CoAP message layer (xlfake.h). */
#include <string.h>

#include "base/limits.h"
#include "xlfake.h"

static uint64_t serials;

kdc_err
kdc_coap_peer_send(struct kdc_coap_peer *p, const uint8_t *msg, size_t len)
{
	if (len > KDC_COAP_SEND_MAX) {
		kdc_xlfake_fail("a message larger than KDC_COAP_SEND_MAX");
		return KDC_ERR_INVALID_ARG;
	}
	kdc_xlfake_sent(p, msg, len);
	return p->open ? KDC_OK : KDC_ERR_CLOSED;
}

void
kdc_coap_peer_timer(struct kdc_coap_peer *p, uint64_t when_ms)
{
	p->timer = when_ms;
}

struct kdc_coap_xp **
kdc_coap_peer_xp(struct kdc_coap_peer *p)
{
	return &p->xp;
}

struct kdc_coap *
kdc_coap_peer_engine(const struct kdc_coap_peer *p)
{
	return p->c;
}

struct kdc_coap_xl *
kdc_coap_xl_of(struct kdc_coap *c)
{
	return c->xl;
}

void
kdc_coap_peer_ref(struct kdc_coap_peer *p)
{
	p->refs++;
}

void
kdc_coap_peer_unref(struct kdc_coap_peer *p)
{
	if (p->refs == 0) {
		kdc_xlfake_fail("a peer reference dropped below 0");
		return;
	}
	p->refs--;
}

bool
kdc_coap_peer_open(const struct kdc_coap_peer *p)
{
	return p->open;
}

uint64_t
kdc_coap_peer_serial(const struct kdc_coap_peer *p)
{
	return p->serial;
}

bool
kdc_coap_in_step(const struct kdc_coap *c)
{
	(void)c;
	return true;
}

const char *
kdc_coap_peer_endpoint(const struct kdc_coap_peer *p)
{
	return p->ep;
}

const char *
kdc_coap_peer_addr(const struct kdc_coap_peer *p)
{
	(void)p;
	return "fake";
}

void
kdc_xlfake_peer_init(struct kdc_coap_peer *p, struct kdc_coap *c,
    const char *ep)
{
	memset(p, 0, sizeof(*p));
	p->c = c;
	p->refs = 1;		/* the session link */
	p->open = true;
	p->serial = ++serials;
	p->ep = ep;
}

void
kdc_xlfake_fire(struct kdc_coap_peer *peers, size_t n, uint64_t now_ms)
{
	for (size_t i = 0; i < n; i++) {
		struct kdc_coap_peer *p = &peers[i];

		if (p->c != NULL && p->timer != 0 && p->timer <= now_ms) {
			p->timer = 0;
			kdc_coap_xl_timer(p->c->xl, p, now_ms);
		}
	}
}
