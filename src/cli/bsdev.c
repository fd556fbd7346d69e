/*
 * bsdev.c: `iotkdc lwm2m bootstrap-device URI --device ID`, the LwM2M
 * server-initiated bootstrap: the KDC connects to a device that listens
 * (coap.h client mode) with the device's manufacturer PSK and runs the
 * Bootstrap Server's sequence on it (lwm2m.h kdc_lwm2m_bootstrap_peer()).
 * A short-lived engine in this process: no listener, its own core.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/wipe.h"
#include "cli/cli_int.h"
#include "coap/coap.h"
#include "core/tlsnames.h"
#include "crypto/codec.h"
#include "lwm2m/lwm2m.h"

#define ACTOR	"cli"

struct run {
	struct kdc_lwm2m	*lw;
	bool			 done;
	kdc_err			 r;
	const char		*step;	/* where it ended */
};

static void
bs_ended(void *arg, kdc_err r)
{
	struct run *u = arg;

	u->done = true;
	u->r = r;
	u->step = "bootstrap";
}

static void
connected(void *arg, struct kdc_coap_peer *peer, kdc_err status)
{
	struct run *u = arg;
	kdc_err r;

	if (status != KDC_OK) {
		u->done = true;
		u->r = status;
		u->step = "DTLS handshake";
		return;
	}
	if ((r = kdc_lwm2m_bootstrap_peer(u->lw, peer, bs_ended, u)) !=
	    KDC_OK) {
		u->done = true;
		u->r = r;
		u->step = "bootstrap start";
	}
}

/* coaps://ADDRESS:PORT, ADDRESS an IPv4 literal or [IPv6]. */
static int
parse_uri(const char *uri, char *host, size_t cap, int *port)
{
	const char *h, *e, *colon;
	char *end;
	long v;

	if (strncmp(uri, "coaps://", 8) != 0)
		return -1;
	h = uri + 8;
	if (*h == '[') {
		if ((e = strchr(h, ']')) == NULL || e[1] != ':')
			return -1;
		h++;
		colon = e + 1;
	} else {
		if ((colon = strrchr(h, ':')) == NULL)
			return -1;
		e = colon;
	}
	if ((size_t)(e - h) == 0 || (size_t)(e - h) >= cap)
		return -1;
	memcpy(host, h, (size_t)(e - h));
	host[e - h] = '\0';
	v = strtol(colon + 1, &end, 10);
	if (*end != '\0' && strcmp(end, "/") != 0)
		return -1;
	if (v < 1 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}


int
kdc_cli_bootstrap_device(const struct kdc_cli_args *a)
{
	struct ctx c;
	struct kdc_coap *coap = NULL;
	struct kdc_lwm2m_opts o;
	struct kdc_coap_client_psk psk;
	struct kdc_principal who;
	struct run u;
	char host[128], identity[KDC_PSK_IDENTITY_MAX + 1];
	char uri_srv[KDC_TLSNAMES_URI_MAX + 1];
	char *cert_pem = NULL, *key_pem = NULL;
	uint8_t key[KDC_PSK_MAX], *srv_cert = NULL, *srv_spki = NULL;
	size_t key_len = sizeof(key), pem_key_len = 0, srv_cert_len = 0;
	size_t srv_spki_len = 0;
	int64_t deadline;
	int port, rc = 1;
	kdc_err r;

	memset(&u, 0, sizeof(u));
	if (parse_uri(a->pos[0], host, sizeof(host), &port) != 0)
		return fail("lwm2m bootstrap-device: %s: want "
		    "coaps://ADDRESS:PORT (an IP literal)", a->pos[0]);
	if (ctx_open(&c, a, 1) != 0)
		return 1;
	/* the device's manufacturer PSK, through the checks of a handshake
	 * (revoked, expired: refused and audited) */
	if ((r = kdc_core_auth_mfg_psk(c.core, ACTOR, a->device, identity,
	    sizeof(identity), key, &key_len, &who)) != KDC_OK) {
		fail("lwm2m bootstrap-device: %s: %s", a->device,
		    r == KDC_ERR_WRONG_TYPE ? "no live manufacturer PSK (a "
		    "server-initiated bootstrap needs one)" : kdc_err_str(r));
		goto out;
	}
	if ((r = kdc_tls_cert_load(c.dir, c.kr, &cert_pem, &key_pem,
	    &pem_key_len)) != KDC_OK ||
	    (r = kdc_cert_pem_leaf(cert_pem, strlen(cert_pem), &srv_cert,
	    &srv_cert_len, &srv_spki, &srv_spki_len)) != KDC_OK) {
		fail("%s: TLS certificate: %s", c.dir, kdc_err_str(r));
		goto out;
	}
	if ((r = kdc_tlsnames_lwm2m_uri(&c.cfg, uri_srv, sizeof(uri_srv))) !=
	    KDC_OK) {
		fail("[lwm2m] server_uri: %s", kdc_err_str(r));
		goto out;
	}
	if ((r = kdc_coap_new(c.core, &c.cfg, &coap)) != KDC_OK) {
		fail("coap: %s", kdc_err_str(r));
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.server_uri = uri_srv;
	o.server_cert = srv_cert;
	o.server_cert_len = srv_cert_len;
	o.server_spki = srv_spki;
	o.server_spki_len = srv_spki_len;
	o.bs_deadline = (unsigned)c.cfg.lwm2m_bootstrap_timeout;
	o.lifetime = (uint32_t)c.cfg.lwm2m_lifetime;
	if ((r = kdc_lwm2m_attach(coap, c.core, &o, &u.lw)) != KDC_OK) {
		fail("lwm2m: %s", kdc_err_str(r));
		goto out;
	}
	psk.identity = identity;
	psk.key = key;
	psk.key_len = key_len;
	r = kdc_coap_connect(coap, host, port, &psk, &who, connected, &u);
	kdc_wipe(key, sizeof(key));	/* GnuTLS holds its copy */
	if (r != KDC_OK) {
		fail("lwm2m bootstrap-device: %s: %s", a->pos[0],
		    kdc_err_str(r));
		goto out;
	}
	/* a handshake, then the sequence, each with its own deadline; this
	 * bounds the whole in case neither fires */
	deadline = (int64_t)time(NULL) + c.cfg.lwm2m_bootstrap_timeout + 60;
	while (!u.done && (int64_t)time(NULL) < deadline)
		(void)kdc_coap_run_once(coap, 100);
	if (!u.done) {
		u.r = KDC_ERR_TIMEOUT;
		u.step = "bootstrap";
	}
	(void)kdc_core_audit(c.core, ACTOR, "lwm2m.bootstrap-device",
	    a->device, u.r, "uri=%s step=%s", a->pos[0], u.step);
	if (u.r != KDC_OK) {
		fail("lwm2m bootstrap-device: %s at %s: %s (%s)", a->device,
		    a->pos[0], u.step, kdc_err_str(u.r));
		goto out;
	}
	printf("bootstrapped %s at %s\n", a->device, a->pos[0]);
	rc = 0;
out:
	kdc_wipe(key, sizeof(key));
	kdc_coap_free(coap);		/* ends what is in flight */
	kdc_lwm2m_free(u.lw);		/* after the engine (lwm2m.h) */
	kdc_free(srv_cert);
	kdc_free(srv_spki);
	kdc_free(cert_pem);
	if (key_pem != NULL)
		kdc_secret_free(key_pem, pem_key_len);
	ctx_close(&c);
	return rc;
}
