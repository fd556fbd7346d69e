/*
 * dtls.c: DTLS authentication through core/, and the GnuTLS settings that
 * libcoap 4.3.1 offers no API for. The only file of the face that touches
 * GnuTLS; a GnuTLS-direct engine would replace it (DESIGN §2).
 *
 * What libcoap 4.3.1 (GnuTLS backend) does, and what we add:
 * - libcoap gets PSK only (coap_context_set_psk2). Its PKI setting
 *   (coap_context_set_pki) would rebuild the server's certificate
 *   credentials from PEM for every session, PSK ones included, with
 *   GnuTLS's key/certificate check (an ECDSA sign + verify: ~20 % of a
 *   PSK bootstrap's server CPU). We load them once and hand every session
 *   the shared set in kdc_coap_dtls_hook(); the cipher suite decides
 *   (PSK vs ECDHE-ECDSA).
 * - Its priority string is fixed ("NORMAL:+ECDHE-PSK:+PSK:+ECDHE-ECDSA:
 *   +AES-128-CCM-8:..."), so a stock client gets ECDHE-PSK-CHACHA20 or
 *   AES-256-GCM. GnuTLS state for a server session is made on the first
 *   ClientHello (the one answered with HelloVerifyRequest) and used again
 *   only for the ClientHello carrying the cookie, one round trip later.
 *   kdc_coap_run_once() calls kdc_coap_dtls_hook() in between, which sets
 *   our priority (RFC 7925 suites first, server precedence), requires a
 *   client certificate in certificate handshakes and installs our
 *   certificate verify function for the session.
 * - libcoap's own PKI checks (validate_cn_call_back: X.509 leaf only, raw
 *   public keys unchecked) are not used: our session verify function sees
 *   the whole chain or the SPKI and asks core/. If a session was not
 *   hooked in time (a replayed cookie on the first datagram), it has no
 *   certificate credentials: a PSK handshake still works, an RPK or
 *   X.509 one fails, and an unauthenticated peer gets no application
 *   processing (DESIGN §6).
 */
#include <stdio.h>
#include <inttypes.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "coap/coap_int.h"
#include "core/log.h"
#include "crypto/crypto.h"

/*
 * RFC 7925 §4.2/§4.3: TLS_PSK_WITH_AES_128_CCM_8 and
 * TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 first; other AEAD suites stay as
 * fallbacks for general-purpose clients (OpenSSL offers no CCM_8 by
 * default). DTLS 1.2 only (GnuTLS 3.7 has no DTLS 1.3).
 */
#define KDC_COAP_PRIORITY						\
	"NORMAL:-VERS-ALL:+VERS-DTLS1.2:"				\
	"-CIPHER-ALL:+AES-128-CCM-8:+AES-128-CCM:+AES-128-GCM:"		\
	"+AES-256-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:"		\
	"-KX-ALL:+PSK:+ECDHE-PSK:+ECDHE-ECDSA:"				\
	"+CTYPE-CLI-ALL:+CTYPE-SRV-ALL:%SERVER_PRECEDENCE"

kdc_err
kdc_coap_dtls_init(struct kdc_coap *c)
{
	gnutls_priority_t prio = NULL;
	const char *err = NULL;

	if (gnutls_priority_init(&prio, KDC_COAP_PRIORITY, &err) < 0) {
		kdc_log_err("DTLS priority rejected at '%s'", err ? err : "?");
		return KDC_ERR_TLS;
	}
	c->prio = prio;
	return KDC_OK;
}

void
kdc_coap_dtls_free(struct kdc_coap *c)
{
	if (c->prio != NULL)
		gnutls_priority_deinit((gnutls_priority_t)c->prio);
	c->prio = NULL;
	if (c->xcred != NULL)
		gnutls_certificate_free_credentials(
		    (gnutls_certificate_credentials_t)c->xcred);
	c->xcred = NULL;
}

/* ---- authentication ------------------------------------------------------ */

static bool
policy_ok(const struct kdc_coap_ep *ep, enum kdc_cred_kind kind)
{
	switch (kind) {
	case KDC_KIND_MANUFACTURER:
		return (ep->accept & KDC_COAP_ACCEPT_MANUFACTURER) != 0;
	case KDC_KIND_OPERATIONAL:
		return (ep->accept & KDC_COAP_ACCEPT_OPERATIONAL) != 0;
	default:
		return false;
	}
}

/*
 * Second half of every handshake check: core/ said yes (and audited any
 * no); the endpoint's policy may still refuse the kind of credential
 * (a manufacturer credential on the LwM2M Server): audited too, sampled
 * like every refusal of a peer that did not get in.
 */
static kdc_err
peer_accept(struct kdc_coap_peer *p, const struct kdc_principal *who)
{
	struct kdc_coap *c = p->c;

	if (!policy_ok(p->ep, who->kind)) {
		kdc_log_debug("peer=%s endpoint=%s refuses %s credentials",
		    p->addr, p->ep->name, kdc_cred_kind_str(who->kind));
		(void)kdc_core_audit(c->core, "coap", "auth.policy", p->addr,
		    KDC_ERR_WRONG_TYPE, 1, "endpoint=%s refuses kind=%s cred=%"
		    PRId64, p->ep->name, kdc_cred_kind_str(who->kind),
		    who->cred_id);
		return KDC_ERR_DENIED;
	}
	p->auth = *who;
	p->authed = true;
	kdc_log_debug("peer=%s endpoint=%s authenticated cred=%lld type=%s",
	    p->addr, p->ep->name, (long long)who->cred_id,
	    kdc_cred_type_str(who->type));
	return KDC_OK;
}

static const coap_bin_const_t *
psk_cb(coap_bin_const_t *identity, coap_session_t *s, void *arg)
{
	struct kdc_coap *c = arg;
	struct kdc_coap_peer *p = kdc_coap_peer_of(c, s, true);
	struct kdc_principal who;
	char id[KDC_PSK_IDENTITY_MAX + 1];
	size_t len = sizeof(c->psk);
	kdc_err r;

	if (p == NULL || p->ep == NULL || identity == NULL)
		return NULL;
	if (identity->length == 0 || identity->length > KDC_PSK_IDENTITY_MAX ||
	    memchr(identity->s, '\0', identity->length) != NULL) {
		kdc_log_debug("peer=%s PSK identity of %zu bytes refused",
		    p->addr, identity->length);
		return NULL;
	}
	memcpy(id, identity->s, identity->length);
	id[identity->length] = '\0';
	r = kdc_core_auth_psk(c->core, "coap", id, c->psk, &len, &who);
	if (r == KDC_OK)
		r = peer_accept(p, &who);
	if (r != KDC_OK) {
		kdc_wipe(c->psk, sizeof(c->psk));
		kdc_log_debug_r(r, "peer=%s PSK refused", p->addr);
		return NULL;		/* the handshake fails */
	}
	/* libcoap copies the key at once; run_once() wipes c->psk after */
	c->psk_out.s = c->psk;
	c->psk_out.length = len;
	return &c->psk_out;
}

/* The peer's certificate (chain, leaf first) or raw public key, as GnuTLS
 * received it, through core/. */
static kdc_err
check_peer_cert(struct kdc_coap_peer *p, gnutls_session_t g)
{
	const uint8_t *certs[KDC_CHAIN_MAX];
	size_t lens[KDC_CHAIN_MAX];
	const gnutls_datum_t *l;
	struct kdc_principal who;
	unsigned n = 0;
	kdc_err r;

	if (p->authed)
		return KDC_OK;
	if (p->ep == NULL ||
	    (l = gnutls_certificate_get_peers(g, &n)) == NULL || n == 0)
		return KDC_ERR_UNTRUSTED;
	switch (gnutls_certificate_type_get2(g, GNUTLS_CTYPE_PEERS)) {
	case GNUTLS_CRT_RAW:	/* RFC 7250: the SubjectPublicKeyInfo DER */
		r = kdc_core_auth_spki(p->c->core, "coap", l[0].data,
		    l[0].size, &who);
		if (r == KDC_OK)
			r = peer_accept(p, &who);
		break;
	case GNUTLS_CRT_X509:
		if (n > KDC_CHAIN_MAX) {
			r = KDC_ERR_TOO_LARGE;
			break;
		}
		for (unsigned i = 0; i < n; i++) {
			certs[i] = l[i].data;
			lens[i] = l[i].size;
		}
		r = kdc_core_auth_cert(p->c->core, "coap", certs, lens, n,
		    &who);
		if (r == KDC_OK)
			r = peer_accept(p, &who);
		break;
	default:
		r = KDC_ERR_UNSUPPORTED;
		break;
	}
	if (r != KDC_OK)
		kdc_log_debug_r(r, "peer=%s certificate refused", p->addr);
	return r;
}

/* GnuTLS session verify function: 0 accepts, anything else fails the
 * handshake (libcoap then sends the alert). */
static int
verify_cb(gnutls_session_t g)
{
	coap_session_t *s = gnutls_transport_get_ptr(g);
	struct kdc_coap_peer *p = s != NULL ? coap_session_get_app_data(s) :
	    NULL;

	if (p == NULL)
		return -1;
	return check_peer_cert(p, g) == KDC_OK ? 0 : -1;
}

kdc_err
kdc_coap_dtls_setup(struct kdc_coap *c)
{
	coap_dtls_spsk_t psk;

	memset(&psk, 0, sizeof(psk));
	psk.version = COAP_DTLS_SPSK_SETUP_VERSION;
	psk.validate_id_call_back = psk_cb;
	psk.id_call_back_arg = c;
	if (!coap_context_set_psk2(c->ctx, &psk))
		return KDC_ERR_TLS;

	/*
	 * No coap_context_set_pki(): libcoap 4.3.1 would rebuild the server's
	 * certificate credentials from PEM for every session (PSK ones too),
	 * with GnuTLS's key/certificate check, an ECDSA sign and verify. We
	 * load them once here and give each session our shared set in
	 * kdc_coap_dtls_hook(), with our verify function.
	 */
	{
		gnutls_certificate_credentials_t x = NULL;
		gnutls_datum_t cert, key;

		cert.data = (unsigned char *)(uintptr_t)c->cert_pem;
		cert.size = (unsigned)strlen(c->cert_pem);
		key.data = (unsigned char *)(uintptr_t)c->key_pem;
		key.size = (unsigned)strlen(c->key_pem);
		if (gnutls_certificate_allocate_credentials(&x) < 0)
			return KDC_ERR_NOMEM;
		if (gnutls_certificate_set_x509_key_mem2(x, &cert, &key,
		    GNUTLS_X509_FMT_PEM, NULL, 0) < 0) {
			gnutls_certificate_free_credentials(x);
			return KDC_ERR_TLS;
		}
		c->xcred = x;
	}
	return KDC_OK;
}

void
kdc_coap_dtls_hook(struct kdc_coap_peer *p)
{
	coap_tls_library_t lib;
	gnutls_session_t g = coap_session_get_tls(p->session, &lib);

	if (g == NULL)
		return;			/* no GnuTLS state yet */
	kdc_coap_peer_set_hooked(p);
	if (lib != COAP_TLS_LIBRARY_GNUTLS)
		return;
	if (coap_session_get_type(p->session) != COAP_SESSION_TYPE_HELLO) {
		/* the handshake already ran on libcoap's settings */
		kdc_log_debug("peer=%s DTLS settings missed the handshake",
		    p->addr);
		return;
	}
	if (gnutls_priority_set(g, (gnutls_priority_t)p->c->prio) < 0)
		kdc_log_debug("peer=%s priority not set", p->addr);
	if (p->c->xcred != NULL && gnutls_credentials_set(g,
	    GNUTLS_CRD_CERTIFICATE, (gnutls_certificate_credentials_t)p->c->xcred) < 0)
		kdc_log_debug("peer=%s certificate credentials not set", p->addr);
	gnutls_certificate_server_set_request(g, GNUTLS_CERT_REQUIRE);
	gnutls_session_set_verify_function(g, verify_cb);
}
