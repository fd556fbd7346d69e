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
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "base/log.h"
#include "coap/coap_int.h"
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

static void	gnutls_audit_cb(gnutls_session_t g, const char *text);

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
	/* after coap_startup(), which installed libcoap's */
	gnutls_global_set_audit_log_function(gnutls_audit_cb);
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

/* ---- refusals ------------------------------------------------------------ */

void
kdc_coap_auth_refused(struct kdc_coap_peer *p, kdc_err why, int audit,
    const char *fmt, ...)
{
	struct kdc_coap *c = p->c;
	const char *action = p->auth_action != NULL ? p->auth_action :
	    "auth.dtls";
	const char *subject = p->presented[0] != '\0' ? p->presented : "-";
	const char *ep = p->ep != NULL ? p->ep->name : "?";
	char detail[256];
	unsigned long dropped;
	va_list ap;

	p->traced = true;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	/* a flood of bad handshakes must not flood the operator's log */
	if (kdc_log_limit_take(&c->loglim,
	    (int64_t)(kdc_coap_now_ms() / 1000), KDC_LOG_PEER_RATE,
	    KDC_LOG_PEER_BURST, &dropped)) {
		if (dropped > 0)
			kdc_log_info("(%lu refusals and closures of peers not "
			    "logged: over %d/s)", dropped, KDC_LOG_PEER_RATE);
		kdc_log_info_r(why, "peer=%s endpoint=%s %s %s=%s refused: %s",
		    p->addr, ep, action, p->presented_what != NULL ?
		    p->presented_what : "subject", subject, detail);
	}
	if (audit)
		kdc_core_audit_peer(c->core, "coap", action, subject, why,
		    "%s from=%s endpoint=%s", detail, p->addr, ep);
}

void
kdc_coap_handshake_failed(struct kdc_coap_peer *p)
{
	if (!p->vouched || p->authed || p->traced)
		return;
	kdc_coap_auth_refused(p, KDC_ERR_CLOSED, 1, "cred=%" PRId64
	    " device=%s: the handshake ended before the peer proved the "
	    "credential's key", p->auth.cred_id, p->auth.dev_id);
}

/* The refusals core/ audits itself (core.h): the others are the face's to
 * audit (a store failure, a chain too long). A PSK whose stored key does
 * not unwrap (a damaged or altered row) is core's too, whatever the
 * unwrap error. */
static bool
core_audited(const struct kdc_coap_peer *p, kdc_err r)
{
	switch (r) {
	case KDC_ERR_UNKNOWN_DEVICE:
	case KDC_ERR_REVOKED:
	case KDC_ERR_EXPIRED:
	case KDC_ERR_NOT_YET_VALID:
	case KDC_ERR_UNTRUSTED:
	case KDC_ERR_WRONG_TYPE:
	case KDC_ERR_BAD_KEY:
		return true;
	case KDC_ERR_MALFORMED:
	case KDC_ERR_CRYPTO:
		return p->auth_action != NULL &&
		    strcmp(p->auth_action, "auth.psk") == 0;
	default:
		return false;
	}
}

static const char *
refusal_text(kdc_err r)
{
	switch (r) {
	case KDC_ERR_BAD_KEY:
	case KDC_ERR_MALFORMED:
	case KDC_ERR_CRYPTO:
		return "the stored secret does not unwrap (damaged or "
		    "altered credential row?)";
	default:
		return "core refused it";
	}
}

/*
 * GnuTLS's audit log is global (libcoap points it at its own logger,
 * which takes every session's transport pointer for a libcoap session:
 * not so for the HTTPS face's). Ours logs the line at debug and, for a
 * session of the engine stepping on this thread, watches for the record
 * that does not decrypt during a handshake: after core/ vouched for the
 * identity, that is the peer's Finished made with another key (DTLS
 * drops such records silently, RFC 6347 §4.1.2.7: without this the
 * handshake would only time out, ~30 s later). The peer is refused and
 * its session closed after the step.
 */
static __thread struct kdc_coap *step_engine;

void
kdc_coap_dtls_step_begin(struct kdc_coap *c)
{
	step_engine = c;
}

void
kdc_coap_dtls_step_end(void)
{
	step_engine = NULL;
}

static void
gnutls_audit_cb(gnutls_session_t g, const char *text)
{
	struct kdc_coap *c = step_engine;
	struct kdc_coap_peer *p;
	coap_session_t *s;
	size_t n = strlen(text);

	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	kdc_log_msg(KDC_LOG_DEBUG, "gnutls", 0, KDC_OK, "%.*s", (int)n, text);
	if (c == NULL || g == NULL ||
	    strstr(text, "due to invalid decryption") == NULL)
		return;
	/* on this thread, inside our step: a session of our context */
	if ((s = gnutls_transport_get_ptr(g)) == NULL ||
	    coap_session_get_context(s) != c->ctx ||
	    (p = coap_session_get_app_data(s)) == NULL || p->c != c)
		return;
	if (!p->vouched || p->authed || p->doomed ||
	    coap_session_get_state(s) != COAP_SESSION_STATE_HANDSHAKE)
		return;
	kdc_coap_auth_refused(p, KDC_ERR_WRONG_KEY, 1, "cred=%" PRId64
	    " device=%s: its handshake record does not decrypt: the peer "
	    "does not hold the credential's key", p->auth.cred_id,
	    p->auth.dev_id);
	kdc_coap_peer_doom(p, KDC_ERR_WRONG_KEY);
}

/* ---- authentication ------------------------------------------------------ */

/*
 * Second half of every handshake check: core/ said yes (and audited any
 * no); the endpoint's policy may still refuse the kind of credential
 * (a manufacturer credential on the LwM2M Server): audited too, sampled
 * like every refusal of a peer that did not get in. On yes the peer is
 * vouched for; it is authenticated when its handshake finishes.
 */
static kdc_err
peer_accept(struct kdc_coap_peer *p, const struct kdc_principal *who)
{
	struct kdc_coap *c = p->c;

	if (!policy_ok(p->ep, who->kind)) {
		kdc_coap_auth_refused(p, KDC_ERR_WRONG_TYPE, 0,
		    "endpoint refuses %s credentials",
		    kdc_cred_kind_str(who->kind));
		kdc_core_audit_peer(c->core, "coap", "auth.policy", p->addr,
		    KDC_ERR_WRONG_TYPE, "endpoint=%s refuses kind=%s cred=%"
		    PRId64, p->ep->name, kdc_cred_kind_str(who->kind),
		    who->cred_id);
		return KDC_ERR_DENIED;
	}
	p->auth = *who;
	kdc_coap_peer_vouched(p);
	kdc_log_debug("peer=%s endpoint=%s identity found cred=%lld type=%s: "
	    "key to be proven by the handshake", p->addr, p->ep->name,
	    (long long)who->cred_id, kdc_cred_type_str(who->type));
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
	p->auth_action = "auth.psk";
	p->presented_what = "identity";
	if (identity->length == 0 || identity->length > KDC_PSK_IDENTITY_MAX ||
	    memchr(identity->s, '\0', identity->length) != NULL) {
		kdc_log_escape(identity->s, identity->length >
		    KDC_PSK_IDENTITY_MAX ? KDC_PSK_IDENTITY_MAX :
		    identity->length, p->presented, sizeof(p->presented));
		kdc_coap_auth_refused(p, KDC_ERR_MALFORMED, 1,
		    "PSK identity of %zu bytes", identity->length);
		return NULL;
	}
	memcpy(id, identity->s, identity->length);
	id[identity->length] = '\0';
	kdc_log_escape(id, identity->length, p->presented,
	    sizeof(p->presented));
	r = kdc_core_auth_psk(c->core, "coap", id, c->psk, &len, &who);
	if (r != KDC_OK)
		kdc_coap_auth_refused(p, r, !core_audited(p, r), "%s",
		    refusal_text(r));
	else
		r = peer_accept(p, &who);
	if (r != KDC_OK) {
		kdc_wipe(c->psk, sizeof(c->psk));
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
	uint8_t fp[32];
	char hex[17];
	unsigned n = 0;
	kdc_err r;

	if (p->vouched)
		return KDC_OK;
	if (p->ep == NULL ||
	    (l = gnutls_certificate_get_peers(g, &n)) == NULL || n == 0)
		return KDC_ERR_UNTRUSTED;
	/* what the peer presented, for a refusal: its key's or its leaf
	 * certificate's SHA-256, first 8 bytes, as core/ audits them */
	kdc_sha256(l[0].data, l[0].size, fp);
	kdc_hex_encode(fp, 8, hex);
	switch (gnutls_certificate_type_get2(g, GNUTLS_CTYPE_PEERS)) {
	case GNUTLS_CRT_RAW:	/* RFC 7250: the SubjectPublicKeyInfo DER */
		p->auth_action = "auth.rpk";
		p->presented_what = "spki_sha256";
		snprintf(p->presented, sizeof(p->presented), "%s", hex);
		r = kdc_core_auth_spki(p->c->core, "coap", l[0].data,
		    l[0].size, &who);
		if (r != KDC_OK)
			kdc_coap_auth_refused(p, r, !core_audited(p, r), "%s",
			    refusal_text(r));
		else
			r = peer_accept(p, &who);
		break;
	case GNUTLS_CRT_X509:
		p->auth_action = "auth.cert";
		p->presented_what = "leaf_sha256";
		snprintf(p->presented, sizeof(p->presented), "%s", hex);
		if (n > KDC_CHAIN_MAX) {
			r = KDC_ERR_TOO_LARGE;
			kdc_coap_auth_refused(p, r, 1, "chain of %u "
			    "certificates", n);
			break;
		}
		for (unsigned i = 0; i < n; i++) {
			certs[i] = l[i].data;
			lens[i] = l[i].size;
		}
		r = kdc_core_auth_cert(p->c->core, "coap", certs, lens, n,
		    &who);
		if (r != KDC_OK)
			kdc_coap_auth_refused(p, r, !core_audited(p, r), "%s",
			    refusal_text(r));
		else
			r = peer_accept(p, &who);
		break;
	default:
		r = KDC_ERR_UNSUPPORTED;
		kdc_coap_auth_refused(p, r, 1, "certificate type");
		break;
	}
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
