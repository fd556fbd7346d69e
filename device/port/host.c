/*
 * host.c: POSIX port of libiotkdc-device over libcoap 4.3.1 (GnuTLS
 * backend) and GnuTLS 3.7. One libcoap context per call, driven by
 * coap_io_process() until the exchange ends or the overall deadline passes.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <coap3/coap.h>
#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "base/file.h"
#include "base/wipe.h"
#include "kdcdev_host.h"

/* ==== logging ============================================================ */

/* libcoap's log handler is process-global; this is the context whose log
 * callback gets its lines (single-threaded use). */
static struct kdcdev_lwm2m *log_ctx;
static int host_verbosity;

static void
host_log(enum kdcdev_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
host_log(enum kdcdev_log_level lvl, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (log_ctx == NULL || log_ctx->log == NULL || (int)lvl > host_verbosity)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_ctx->log(log_ctx->log_arg, lvl, line);
}

static void
coap_log_bridge(coap_log_t level, const char *message)
{
	enum kdcdev_log_level lvl;
	char line[256];
	size_t n;

	lvl = level <= LOG_ERR ? KDCDEV_LOG_ERR : level == LOG_WARNING ?
	    KDCDEV_LOG_WARN : level <= LOG_INFO ? KDCDEV_LOG_INFO :
	    KDCDEV_LOG_DEBUG;
	n = strlen(message);
	while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == '\r'))
		n--;
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	memcpy(line, message, n);
	line[n] = '\0';
	host_log(lvl, "libcoap: %s", line);
}

void
kdcdev_host_init(int verbosity)
{
	coap_startup();
	host_verbosity = verbosity;
	coap_set_log_handler(coap_log_bridge);
	/* libcoap warnings are about the peer or the network: info for us.
	 * Never LOG_DEBUG: libcoap then dumps every PDU with its payload in
	 * hex (the PSK of a bootstrap Write, an /skg private key), by
	 * default on stdout past the handler. */
	coap_set_show_pdu_output(0);
	coap_set_log_level(verbosity >= 2 ? LOG_INFO : LOG_WARNING);
	coap_dtls_set_log_level(verbosity >= 3 ? LOG_INFO : LOG_WARNING);
}

/* ==== key material ======================================================= */

static kdc_err
read_file(const char *file, uint8_t *buf, size_t *len)
{
	FILE *f;
	size_t n;
	int extra;

	if ((f = fopen(file, "rb")) == NULL)
		return KDC_ERR_IO;
	n = fread(buf, 1, *len, f);
	extra = fgetc(f);
	if (ferror(f)) {
		fclose(f);
		return KDC_ERR_IO;
	}
	fclose(f);
	if (extra != EOF)
		return KDC_ERR_TOO_LARGE;
	*len = n;
	return KDC_OK;
}

static gnutls_x509_crt_fmt_t
fmt_of(const uint8_t *b, size_t n)
{
	for (size_t i = 0; n >= 10 && i <= n - 10; i++)
		if (memcmp(b + i, "-----BEGIN", 10) == 0)
			return GNUTLS_X509_FMT_PEM;
	return GNUTLS_X509_FMT_DER;
}

static kdc_err
copy_out(const gnutls_datum_t *d, uint8_t *out, size_t *out_len)
{
	if (d->size > *out_len)
		return KDC_ERR_TOO_LARGE;
	memcpy(out, d->data, d->size);
	*out_len = d->size;
	return KDC_OK;
}

kdc_err
kdcdev_host_load_key(const char *file, uint8_t *pkcs8, size_t *pkcs8_len,
    uint8_t *spki, size_t *spki_len)
{
	uint8_t buf[8192];
	size_t n = sizeof(buf);
	gnutls_x509_privkey_t xk = NULL;
	gnutls_privkey_t pk = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t in, d8 = { NULL, 0 }, dp = { NULL, 0 };
	kdc_err r;

	if ((r = read_file(file, buf, &n)) != KDC_OK)
		return r;
	in.data = buf;
	in.size = (unsigned)n;
	r = KDC_ERR_MALFORMED;
	if (gnutls_x509_privkey_init(&xk) < 0 ||
	    gnutls_x509_privkey_import2(xk, &in, fmt_of(buf, n), NULL, 0) < 0 ||
	    gnutls_x509_privkey_export2_pkcs8(xk, GNUTLS_X509_FMT_DER, NULL,
	    GNUTLS_PKCS_PLAIN, &d8) < 0 ||
	    gnutls_privkey_init(&pk) < 0 ||
	    gnutls_privkey_import_x509(pk, xk, 0) < 0 ||
	    gnutls_pubkey_init(&pub) < 0 ||
	    gnutls_pubkey_import_privkey(pub, pk, 0, 0) < 0 ||
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &dp) < 0)
		goto out;
	if ((r = copy_out(&d8, pkcs8, pkcs8_len)) != KDC_OK ||
	    (r = copy_out(&dp, spki, spki_len)) != KDC_OK)
		goto out;
	r = KDC_OK;
out:
	if (d8.data != NULL) {
		kdc_wipe(d8.data, d8.size);
		gnutls_free(d8.data);
	}
	gnutls_free(dp.data);
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(pk);	/* does not own xk (flags 0) */
	gnutls_x509_privkey_deinit(xk);
	kdc_wipe(buf, sizeof(buf));
	return r;
}

kdc_err
kdcdev_host_load_cert(const char *file, uint8_t *der, size_t *der_len)
{
	uint8_t buf[8192];
	size_t n = sizeof(buf);
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t in, d = { NULL, 0 };
	kdc_err r;

	if ((r = read_file(file, buf, &n)) != KDC_OK)
		return r;
	in.data = buf;
	in.size = (unsigned)n;
	r = KDC_ERR_MALFORMED;
	if (gnutls_x509_crt_init(&crt) >= 0 &&
	    gnutls_x509_crt_import(crt, &in, fmt_of(buf, n)) >= 0 &&
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &d) >= 0)
		r = copy_out(&d, der, der_len);
	gnutls_free(d.data);
	gnutls_x509_crt_deinit(crt);
	return r;
}

kdc_err
kdcdev_host_load_pubkey(const char *file, uint8_t *spki, size_t *spki_len)
{
	uint8_t buf[8192];
	size_t n = sizeof(buf);
	gnutls_pubkey_t pub = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t in, d = { NULL, 0 };
	gnutls_x509_crt_fmt_t fmt;
	kdc_err r;

	if ((r = read_file(file, buf, &n)) != KDC_OK)
		return r;
	in.data = buf;
	in.size = (unsigned)n;
	fmt = fmt_of(buf, n);
	r = KDC_ERR_MALFORMED;
	if (gnutls_pubkey_init(&pub) < 0)
		goto out;
	if (gnutls_pubkey_import(pub, &in, fmt) < 0) {
		if (gnutls_x509_crt_init(&crt) < 0 ||
		    gnutls_x509_crt_import(crt, &in, fmt) < 0 ||
		    gnutls_pubkey_import_x509(pub, crt, 0) < 0)
			goto out;
	}
	if (gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &d) < 0)
		goto out;
	r = copy_out(&d, spki, spki_len);
out:
	gnutls_free(d.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_pubkey_deinit(pub);
	return r;
}

/* DER to a NUL-terminated PEM buffer (libcoap wants PEM for RPK). */
static kdc_err
to_pem(const char *label, const uint8_t *der, size_t len, char **pem,
    size_t *pem_len)
{
	gnutls_datum_t in = { (unsigned char *)(uintptr_t)der, (unsigned)len };
	gnutls_datum_t out = { NULL, 0 };
	char *p;

	*pem = NULL;
	*pem_len = 0;
	if (gnutls_pem_base64_encode2(label, &in, &out) < 0)
		return KDC_ERR_CRYPTO;
	if ((p = malloc(out.size + 1)) == NULL) {
		gnutls_free(out.data);
		return KDC_ERR_NOMEM;
	}
	memcpy(p, out.data, out.size);
	p[out.size] = '\0';
	kdc_wipe(out.data, out.size);
	gnutls_free(out.data);
	*pem = p;
	*pem_len = strlen(p) + 1;	/* libcoap: length includes the NUL */
	return KDC_OK;
}

static void
free_pem(char *p, size_t n)
{
	if (p != NULL) {
		kdc_wipe(p, n);
		free(p);
	}
}

/* ==== one libcoap exchange =============================================== */

struct hs {
	coap_context_t			*ctx;
	coap_session_t			*sess;
	struct kdcdev_lwm2m		*c;	/* NULL for plain requests */
	const struct kdcdev_security	*sec;
	char				*pem_cert, *pem_key;
	size_t				 pem_cert_len, pem_key_len;
	coap_dtls_pki_t			 pki;
	coap_dtls_cpsk_t		 cpsk;
	coap_dtls_spsk_t		 spsk;	/* listen mode */
	bool				 listen;	/* we are the DTLS
						 * server (server-initiated
						 * bootstrap) */
	char				 sni[256];
	/* the outstanding request */
	coap_mid_t			 mid;
	bool				 done;
	uint8_t				 code;
	char				 location[KDCDEV_LOCATION_MAX];
	bool				 location_bad;
	uint8_t				*out;
	size_t				 out_cap, out_len;
	kdc_err				 fail;		/* transport failure */
	bool				 peer_verified;
	int32_t				 accept;	/* -1: no Accept */
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static coap_response_t
on_response(coap_session_t *session, const coap_pdu_t *sent,
    const coap_pdu_t *received, const coap_mid_t mid)
{
	struct hs *h = coap_get_app_data(coap_session_get_context(session));
	coap_opt_iterator_t oi;
	coap_opt_t *opt;
	const uint8_t *data;
	size_t len, off, total, loc = 0;

	(void)sent;
	(void)mid;
	if (h == NULL || h->done)
		return COAP_RESPONSE_OK;
	h->code = (uint8_t)coap_pdu_get_code(received);
	h->location[0] = '\0';
	coap_option_iterator_init(received, &oi, COAP_OPT_ALL);
	while ((opt = coap_option_next(&oi)) != NULL) {
		size_t n = coap_opt_length(opt);
		if (oi.number != COAP_OPTION_LOCATION_PATH)
			continue;
		if (loc + n + 2 > sizeof(h->location)) {
			h->location_bad = true;
			break;
		}
		if (loc > 0)
			h->location[loc++] = '/';
		memcpy(h->location + loc, coap_opt_value(opt), n);
		loc += n;
		h->location[loc] = '\0';
	}
	if (h->out != NULL && coap_get_data_large(received, &len, &data, &off,
	    &total)) {
		if (len > h->out_cap)
			len = h->out_cap;
		memcpy(h->out, data, len);
		h->out_len = len;
	}
	h->done = true;
	return COAP_RESPONSE_OK;
}

static void
on_nack(coap_session_t *session, const coap_pdu_t *sent,
    const coap_nack_reason_t reason, const coap_mid_t mid)
{
	struct hs *h = coap_get_app_data(coap_session_get_context(session));

	(void)sent;
	(void)mid;
	if (h == NULL || h->fail != KDC_OK)
		return;
	switch (reason) {
	case COAP_NACK_TOO_MANY_RETRIES:	h->fail = KDC_ERR_TIMEOUT; break;
	case COAP_NACK_RST:			h->fail = KDC_ERR_PEER_RESET; break;
	case COAP_NACK_TLS_FAILED:		h->fail = KDC_ERR_TLS; break;
	default:				h->fail = KDC_ERR_IO; break;
	}
}

static int
on_event(coap_session_t *session, const coap_event_t event)
{
	struct hs *h = coap_get_app_data(coap_session_get_context(session));

	if (h == NULL)
		return 0;
	if (event == COAP_EVENT_DTLS_ERROR && h->fail == KDC_OK) {
		if (h->listen)
			host_log(KDCDEV_LOG_ERR, "DTLS handshake with the "
			    "bootstrap server failed (wrong key?)");
		h->fail = KDC_ERR_TLS;
	} else if (event == COAP_EVENT_DTLS_CLOSED && h->fail == KDC_OK &&
	    !h->listen && !(h->c != NULL && h->c->bs_finished))
		h->fail = KDC_ERR_CLOSED;
	/* listening: a server that closes its session before Finish may
	 * come back on another one, until the deadline */
	return 0;
}

/*
 * Peer check for RPK and X.509 (libcoap calls it per certificate, depth 0
 * being the peer's own): /0/x/4 pins the server's SPKI (RPK), or holds the
 * server certificate or the CA that issued it (X.509). An empty /0/x/4
 * accepts any server: allowed for the factory bootstrap account only,
 * and logged.
 */
static int
on_peer_cert(const char *cn, const uint8_t *der, size_t der_len,
    coap_session_t *session, unsigned depth, int validated, void *arg)
{
	struct hs *h = arg;
	const struct kdcdev_security *s = h->sec;
	gnutls_x509_crt_t crt = NULL, ca = NULL;
	gnutls_datum_t d1, d2;
	unsigned status = 1;
	int ok = 0;

	(void)session;
	(void)validated;
	if (depth > 0)
		return 1;	/* chain members: the depth-0 check decides */
	if (s->server_key_len == 0) {
		host_log(KDCDEV_LOG_WARN, "server not authenticated (no server "
		    "key for %s) cn=%s", s->uri, cn != NULL ? cn : "");
		h->peer_verified = false;
		return 1;
	}
	if (der_len == s->server_key_len &&
	    memcmp(der, s->server_key, der_len) == 0) {
		h->peer_verified = true;
		return 1;
	}
	if (s->mode == KDCDEV_MODE_RPK) {
		/* a server that presents a certificate to an RPK client (one
		 * PKI setting per libcoap context): compare its key */
		gnutls_pubkey_t pub = NULL;
		gnutls_datum_t spki = { NULL, 0 };

		d1.data = (unsigned char *)(uintptr_t)der;
		d1.size = (unsigned)der_len;
		if (gnutls_x509_crt_init(&crt) >= 0 &&
		    gnutls_x509_crt_import(crt, &d1, GNUTLS_X509_FMT_DER) >= 0 &&
		    gnutls_pubkey_init(&pub) >= 0 &&
		    gnutls_pubkey_import_x509(pub, crt, 0) >= 0 &&
		    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki) >= 0 &&
		    spki.size == s->server_key_len &&
		    memcmp(spki.data, s->server_key, spki.size) == 0)
			ok = 1;
		gnutls_free(spki.data);
		gnutls_pubkey_deinit(pub);
		gnutls_x509_crt_deinit(crt);
		crt = NULL;
	}
	if (s->mode == KDCDEV_MODE_CERT) {
		d1.data = (unsigned char *)(uintptr_t)der;
		d1.size = (unsigned)der_len;
		d2.data = (unsigned char *)(uintptr_t)s->server_key;
		d2.size = s->server_key_len;
		if (gnutls_x509_crt_init(&crt) >= 0 &&
		    gnutls_x509_crt_init(&ca) >= 0 &&
		    gnutls_x509_crt_import(crt, &d1, GNUTLS_X509_FMT_DER) >= 0 &&
		    gnutls_x509_crt_import(ca, &d2, GNUTLS_X509_FMT_DER) >= 0 &&
		    gnutls_x509_crt_verify(crt, &ca, 1, 0, &status) >= 0 &&
		    status == 0)
			ok = 1;
		gnutls_x509_crt_deinit(crt);
		gnutls_x509_crt_deinit(ca);
	}
	if (!ok)
		host_log(KDCDEV_LOG_ERR, "server key does not match /0/%u/4",
		    s->iid);
	h->peer_verified = ok != 0;
	return ok;
}

static kdc_err
resolve(const char *uri, coap_address_t *dst, coap_proto_t *proto,
    char *host, size_t host_len)
{
	coap_uri_t u;
	struct addrinfo hints, *res = NULL;
	char port[8];

	if (coap_split_uri((const uint8_t *)uri, strlen(uri), &u) < 0 ||
	    u.host.length == 0 || u.host.length >= host_len)
		return KDC_ERR_INVALID_ARG;
	if (u.scheme != COAP_URI_SCHEME_COAPS && u.scheme != COAP_URI_SCHEME_COAP)
		return KDC_ERR_UNSUPPORTED;	/* no TCP, no WebSockets */
	*proto = u.scheme == COAP_URI_SCHEME_COAPS ? COAP_PROTO_DTLS :
	    COAP_PROTO_UDP;
	memcpy(host, u.host.s, u.host.length);
	host[u.host.length] = '\0';
	snprintf(port, sizeof(port), "%u", (unsigned)u.port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
		return KDC_ERR_IO;
	coap_address_init(dst);
	dst->size = (socklen_t)res->ai_addrlen;
	memcpy(&dst->addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return KDC_OK;
}

static void hs_close(struct hs *h);

/* Open a libcoap context and a client session to sec->uri. */
static kdc_err
hs_open(struct hs *h, struct kdcdev_lwm2m *c,
    const struct kdcdev_security *sec)
{
	coap_address_t dst;
	coap_proto_t proto;
	char host[256];
	kdc_err r;

	memset(h, 0, sizeof(*h));
	h->c = c;
	h->sec = sec;
	h->mid = COAP_INVALID_MID;
	h->accept = -1;
	if ((r = resolve(sec->uri, &dst, &proto, host, sizeof(host))) != KDC_OK)
		return r;
	if ((proto == COAP_PROTO_UDP) != (sec->mode == KDCDEV_MODE_NOSEC))
		return KDC_ERR_INVALID_ARG;	/* coap:// iff NoSec */
	if ((h->ctx = coap_new_context(NULL)) == NULL)
		return KDC_ERR_NOMEM;
	coap_set_app_data(h->ctx, h);
	coap_context_set_block_mode(h->ctx,
	    COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
	coap_register_response_handler(h->ctx, on_response);
	coap_register_nack_handler(h->ctx, on_nack);
	coap_register_event_handler(h->ctx, on_event);
	snprintf(h->sni, sizeof(h->sni), "%s", host);

	switch (sec->mode) {
	case KDCDEV_MODE_NOSEC:
		h->sess = coap_new_client_session(h->ctx, NULL, &dst, proto);
		break;
	case KDCDEV_MODE_PSK:
		h->cpsk.version = COAP_DTLS_CPSK_SETUP_VERSION;
		h->cpsk.client_sni = h->sni;
		h->cpsk.psk_info.identity.s = sec->ident;
		h->cpsk.psk_info.identity.length = sec->ident_len;
		h->cpsk.psk_info.key.s = sec->secret;
		h->cpsk.psk_info.key.length = sec->secret_len;
		h->sess = coap_new_client_session_psk2(h->ctx, NULL, &dst,
		    proto, &h->cpsk);
		break;
	case KDCDEV_MODE_RPK:
	case KDCDEV_MODE_CERT:
		if ((r = to_pem(sec->mode == KDCDEV_MODE_RPK ? "PUBLIC KEY" :
		    "CERTIFICATE", sec->ident, sec->ident_len, &h->pem_cert,
		    &h->pem_cert_len)) != KDC_OK ||
		    (r = to_pem("PRIVATE KEY", sec->secret, sec->secret_len,
		    &h->pem_key, &h->pem_key_len)) != KDC_OK) {
			hs_close(h);
			return r;
		}
		h->pki.version = COAP_DTLS_PKI_SETUP_VERSION;
		h->pki.verify_peer_cert = 0;	/* on_peer_cert checks */
		h->pki.allow_self_signed = 1;
		h->pki.is_rpk_not_cert = sec->mode == KDCDEV_MODE_RPK;
		h->pki.validate_cn_call_back = on_peer_cert;
		h->pki.cn_call_back_arg = h;
		h->pki.client_sni = h->sni;
		h->pki.pki_key.key_type = COAP_PKI_KEY_PEM_BUF;
		h->pki.pki_key.key.pem_buf.public_cert =
		    (const uint8_t *)h->pem_cert;
		h->pki.pki_key.key.pem_buf.public_cert_len = h->pem_cert_len;
		h->pki.pki_key.key.pem_buf.private_key =
		    (const uint8_t *)h->pem_key;
		h->pki.pki_key.key.pem_buf.private_key_len = h->pem_key_len;
		h->sess = coap_new_client_session_pki(h->ctx, NULL, &dst,
		    proto, &h->pki);
		break;
	default:
		hs_close(h);
		return KDC_ERR_UNSUPPORTED;
	}
	if (h->sess == NULL) {
		hs_close(h);
		return KDC_ERR_TLS;
	}
	return KDC_OK;
}

static void
hs_close(struct hs *h)
{
	if (h->sess != NULL)
		coap_session_release(h->sess);
	h->sess = NULL;
	if (h->ctx != NULL)
		coap_free_context(h->ctx);
	h->ctx = NULL;
	free_pem(h->pem_cert, h->pem_cert_len);
	free_pem(h->pem_key, h->pem_key_len);
	h->pem_cert = h->pem_key = NULL;
	kdc_wipe(&h->cpsk, sizeof(h->cpsk));
	kdc_wipe(&h->spsk, sizeof(h->spsk));
	kdc_wipe(&h->pki, sizeof(h->pki));
}

/* Split s at sep into options of number num. */
static int
add_opts(coap_optlist_t **ol, uint16_t num, const char *s, char sep)
{
	while (*s != '\0') {
		const char *e = strchr(s, sep);
		size_t n = e != NULL ? (size_t)(e - s) : strlen(s);
		if (coap_insert_optlist(ol, coap_new_optlist(num, n,
		    (const uint8_t *)s)) == 0)
			return 0;
		s += n;
		if (*s == sep)
			s++;
	}
	return 1;
}

/* Send m as a CON request. */
static kdc_err
hs_send(struct hs *h, const struct kdcdev_msg *m)
{
	coap_pdu_t *pdu;
	coap_optlist_t *ol = NULL;
	uint8_t tok[8], cf[4];
	size_t tlen = 0;
	int ok;

	h->done = false;
	h->code = 0;
	h->out_len = 0;
	h->location[0] = '\0';
	if ((pdu = coap_new_pdu(COAP_MESSAGE_CON, (coap_pdu_code_t)m->method,
	    h->sess)) == NULL)
		return KDC_ERR_NOMEM;
	coap_session_new_token(h->sess, &tlen, tok);
	ok = coap_add_token(pdu, tlen, tok) &&
	    add_opts(&ol, COAP_OPTION_URI_PATH, m->path, '/') &&
	    add_opts(&ol, COAP_OPTION_URI_QUERY, m->query, '&');
	if (ok && m->content_format >= 0)
		ok = coap_insert_optlist(&ol, coap_new_optlist(
		    COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(cf,
		    sizeof(cf), (unsigned)m->content_format), cf));
	if (ok && h->accept >= 0)
		ok = coap_insert_optlist(&ol, coap_new_optlist(
		    COAP_OPTION_ACCEPT, coap_encode_var_safe(cf,
		    sizeof(cf), (unsigned)h->accept), cf));
	if (ok && ol != NULL)	/* 4.3.1 returns 0 for an empty list */
		ok = coap_add_optlist_pdu(pdu, &ol);
	coap_delete_optlist(ol);
	/* a body over one block goes out in Block1 pieces (libcoap does
	 * it: COAP_BLOCK_USE_LIBCOAP); m->payload outlives the exchange */
	if (ok && m->payload_len > 1024)
		ok = coap_add_data_large_request(h->sess, pdu, m->payload_len,
		    m->payload, NULL, NULL);
	else if (ok && m->payload_len > 0)
		ok = coap_add_data(pdu, m->payload_len, m->payload);
	if (!ok) {
		coap_delete_pdu(pdu);
		return KDC_ERR_NOMEM;
	}
	if ((h->mid = coap_send(h->sess, pdu)) == COAP_INVALID_MID)
		return KDC_ERR_IO;
	return KDC_OK;
}

/* Run the loop until *flag, a failure, or the deadline. */
static kdc_err
hs_wait(struct hs *h, const bool *flag, uint64_t deadline)
{
	while (!*flag) {
		uint64_t now = now_ms();
		if (h->fail != KDC_OK)
			return h->fail;
		if (now >= deadline)
			return KDC_ERR_TIMEOUT;
		if (coap_io_process(h->ctx, (uint32_t)(deadline - now > 200 ?
		    200 : deadline - now)) < 0)
			return KDC_ERR_IO;
	}
	return KDC_OK;
}

/* Send m, wait for its answer; 4.xx/5.xx: KDC_ERR_PEER_ERROR. */
static kdc_err
hs_exchange(struct hs *h, const struct kdcdev_msg *m, uint64_t deadline)
{
	kdc_err r;

	if ((r = hs_send(h, m)) != KDC_OK ||
	    (r = hs_wait(h, &h->done, deadline)) != KDC_OK)
		return r;
	return (h->code >> 5) == 2 ? KDC_OK : KDC_ERR_PEER_ERROR;
}

/* ==== the bootstrap server's requests ==================================== */

static void ensure_resources(struct hs *h);

static enum kdcdev_fault fault;
static bool fault_hit;

void
kdcdev_host_fault(enum kdcdev_fault f)
{
	fault = f;
	fault_hit = false;
}

static void
on_bs_request(coap_resource_t *res, coap_session_t *session,
    const coap_pdu_t *request, const coap_string_t *query,
    coap_pdu_t *response)
{
	struct hs *h = coap_get_app_data(coap_session_get_context(session));
	struct kdcdev_req req;
	struct kdcdev_resp resp;
	coap_opt_iterator_t oi;
	coap_opt_t *opt;
	const uint8_t *data;
	size_t len = 0, off = 0, total = 0;
	uint8_t out[KDCDEV_BUF_MIN], cf[4];

	(void)res;
	(void)query;
	memset(&req, 0, sizeof(req));
	req.method = (uint8_t)coap_pdu_get_code(request);
	if (fault != KDCDEV_FAULT_NONE && (fault_hit ||
	    (fault == KDCDEV_FAULT_AT_WRITE && req.method == COAP_REQUEST_CODE_PUT) ||
	    (fault == KDCDEV_FAULT_AT_FINISH && req.method == COAP_REQUEST_CODE_POST))) {
		/* no code: libcoap sends an empty ACK, the answer never comes */
		fault_hit = true;
		host_log(KDCDEV_LOG_WARN, "fault injection: not answering");
		return;
	}
	req.content_format = req.accept = -1;
	coap_option_iterator_init(request, &oi, COAP_OPT_ALL);
	while ((opt = coap_option_next(&oi)) != NULL) {
		size_t n = coap_opt_length(opt);
		const uint8_t *v = coap_opt_value(opt);
		if (oi.number == COAP_OPTION_URI_PATH) {
			if (req.nseg < KDCDEV_MAX_PATH) {
				req.seg[req.nseg] = (const char *)v;
				req.seg_len[req.nseg++] = n;
			} else {
				req.path_too_long = true;
			}
		} else if (oi.number == COAP_OPTION_CONTENT_FORMAT) {
			req.content_format = (int32_t)coap_decode_var_bytes(v, n);
		} else if (oi.number == COAP_OPTION_ACCEPT) {
			req.accept = (int32_t)coap_decode_var_bytes(v, n);
		}
	}
	if (coap_get_data_large(request, &len, &data, &off, &total)) {
		req.payload = data;
		req.payload_len = len;
	}
	memset(&resp, 0, sizeof(resp));
	resp.out = out;
	resp.out_cap = sizeof(out);
	kdcdev_bs_handle(h->c, &req, &resp);
	host_log(KDCDEV_LOG_INFO, "bootstrap request method=%u nseg=%zu "
	    "cf=%d len=%zu -> %u.%02u", req.method, req.nseg,
	    (int)req.content_format, req.payload_len, resp.code >> 5,
	    resp.code & 31u);
	coap_pdu_set_code(response, (coap_pdu_code_t)resp.code);
	if (resp.content_format >= 0)
		coap_add_option(response, COAP_OPTION_CONTENT_FORMAT,
		    coap_encode_var_safe(cf, sizeof(cf),
		    (unsigned)resp.content_format), cf);
	if (resp.out_len > 0)
		coap_add_data(response, resp.out_len, out);
	ensure_resources(h);
	if (h->listen && (resp.code >> 5) != 2 && h->fail == KDC_OK) {
		/* listening, nobody retries for us: a refused step ends the
		 * bootstrap (the answer leaves with this io step) */
		host_log(KDCDEV_LOG_ERR, "bootstrap step refused: method=%u "
		    "nseg=%zu -> %u.%02u", req.method, req.nseg,
		    resp.code >> 5, resp.code & 31u);
		h->fail = KDC_ERR_PEER_ERROR;
	}
}

static void
add_resource(struct hs *h, const char *path)
{
	coap_resource_t *r;
	coap_str_const_t *p;

	p = coap_make_str_const(path);
	if (coap_get_resource_from_uri_path(h->ctx, p) != NULL)
		return;
	/* libcoap keeps pointers to the path: give it its own copy */
	if ((p = coap_new_str_const((const uint8_t *)path, strlen(path))) ==
	    NULL)
		return;
	if ((r = coap_resource_init(p, COAP_RESOURCE_FLAGS_RELEASE_URI)) ==
	    NULL) {
		coap_delete_str_const(p);
		return;
	}
	coap_register_handler(r, COAP_REQUEST_GET, on_bs_request);
	coap_register_handler(r, COAP_REQUEST_PUT, on_bs_request);
	coap_register_handler(r, COAP_REQUEST_POST, on_bs_request);
	coap_register_handler(r, COAP_REQUEST_DELETE, on_bs_request);
	coap_add_resource(h->ctx, r);
}

/*
 * libcoap answers DELETE of a path without a resource with 2.02 by itself
 * (RFC 7252 §5.8.4) and sends other methods to the unknown-resource
 * handler. So every path a DELETE must reach us on is a resource: the
 * root, /0, /1, and one per existing instance (re-checked after each
 * request, since writes create instances).
 */
static void
ensure_resources(struct hs *h)
{
	char path[16];

	for (size_t i = 0; i < KDCDEV_MAX_SECURITY; i++) {
		if (!h->c->sec[i].used)
			continue;
		snprintf(path, sizeof(path), "0/%u", h->c->sec[i].iid);
		add_resource(h, path);
	}
	for (size_t i = 0; i < KDCDEV_MAX_SERVER; i++) {
		if (!h->c->srv[i].used)
			continue;
		snprintf(path, sizeof(path), "1/%u", h->c->srv[i].iid);
		add_resource(h, path);
	}
}

static kdc_err
add_bs_resources(struct hs *h)
{
	coap_resource_t *r;

	add_resource(h, "");
	add_resource(h, "0");
	add_resource(h, "1");
	add_resource(h, "bs");
	if ((r = coap_resource_unknown_init(on_bs_request)) == NULL)
		return KDC_ERR_NOMEM;
	coap_register_handler(r, COAP_REQUEST_GET, on_bs_request);
	coap_register_handler(r, COAP_REQUEST_POST, on_bs_request);
	coap_add_resource(h->ctx, r);
	ensure_resources(h);
	return KDC_OK;
}

/* ==== public calls ======================================================= */

static kdc_err	est_enroll(struct hs *h, const char *ep, bool re,
		    uint8_t *cert, size_t *cert_len, uint8_t *key,
		    size_t *key_len, uint8_t *code, uint64_t deadline);

/*
 * Security mode 4 (Certificate with EST, lwm2m.md §2.4), as Anjay does:
 * once Finish is acknowledged, enroll by /sen on the same DTLS session,
 * still authenticated by the factory credential, and keep the device-made
 * key (PKCS#8, /0/x/5) and its certificate (/0/x/3) in the server
 * account, which becomes mode 2. Any other mode: nothing to do.
 */
static kdc_err
est_after_finish(struct hs *h, struct kdcdev_lwm2m *c, uint64_t deadline)
{
	static uint8_t key[KDCDEV_SECRET_MAX];
	struct kdcdev_security *dm;
	size_t si, vi, cl, kl = sizeof(key);
	kdc_err r;

	if (kdcdev_dm_account(c, &si, &vi) != KDC_OK ||
	    c->sec[si].mode != KDCDEV_MODE_EST)
		return KDC_OK;
	dm = &c->sec[si];
	cl = sizeof(dm->ident);
	host_log(KDCDEV_LOG_INFO, "security mode 4: enrolling over EST on "
	    "the bootstrap session");
	r = est_enroll(h, c->ep, false, dm->ident, &cl, key, &kl, NULL,
	    deadline);
	if (r == KDC_OK) {
		dm->ident_len = (uint16_t)cl;
		memcpy(dm->secret, key, kl);
		dm->secret_len = (uint16_t)kl;
		dm->mode = KDCDEV_MODE_CERT;
		c->bs_enrolled = 1;
	} else {
		dm->ident_len = 0;
	}
	kdc_wipe(key, sizeof(key));
	return r;
}

/*
 * Answer the Bootstrap Server's requests on h (on_bs_request, that is
 * kdcdev_bs_handle()) until Finish is accepted, a failure, or the
 * deadline: the part both bootstraps share, the client-initiated one
 * after its /bs request and the listening one from the start.
 */
static kdc_err
bs_serve(struct hs *h, uint64_t deadline)
{
	while (!h->c->bs_finished) {
		uint64_t now = now_ms();

		if (h->fail != KDC_OK)
			return h->fail;
		if (now >= deadline)
			return KDC_ERR_TIMEOUT;
		if (coap_io_process(h->ctx, (uint32_t)(deadline - now > 200 ?
		    200 : deadline - now)) < 0)
			return KDC_ERR_IO;
	}
	/* The 2.04 for Finish left inside coap_io_process; flush once more
	 * so a retransmitted Finish is still answered from the cache. */
	(void)coap_io_process(h->ctx, COAP_IO_NO_WAIT);
	return KDC_OK;
}

kdc_err
kdcdev_host_bootstrap(struct kdcdev_lwm2m *c, int32_t pct, unsigned timeout_ms)
{
	struct hs h;
	struct kdcdev_msg m;
	uint8_t buf[KDCDEV_EP_MAX + 64];
	uint64_t deadline = now_ms() + timeout_ms;
	int bs;
	kdc_err r;

	if (c->err != KDC_OK)
		return c->err;
	if ((bs = kdcdev_bootstrap_account(c)) < 0)
		return kdcdev_fail(c, KDC_ERR_INVALID_ARG);
	log_ctx = c;
	c->bs_finished = 0;
	c->bs_enrolled = 0;
	if ((r = hs_open(&h, c, &c->sec[bs])) != KDC_OK) {
		host_log(KDCDEV_LOG_ERR, "cannot open session to %s: %s",
		    c->sec[bs].uri, kdc_err_str(r));
		return kdcdev_fail(c, r);
	}
	if ((r = add_bs_resources(&h)) != KDC_OK ||
	    (r = kdcdev_msg_bootstrap(c, pct, &m, buf, sizeof(buf))) != KDC_OK)
		goto out;
	host_log(KDCDEV_LOG_INFO, "bootstrap request to %s ep=%s",
	    c->sec[bs].uri, c->ep);
	if ((r = hs_exchange(&h, &m, deadline)) != KDC_OK) {
		if (r == KDC_ERR_PEER_ERROR)
			host_log(KDCDEV_LOG_ERR, "bootstrap request refused: "
			    "%u.%02u", h.code >> 5, h.code & 31u);
		goto out;
	}
	if ((r = bs_serve(&h, deadline)) != KDC_OK)
		goto out;
	r = est_after_finish(&h, c, deadline);
out:
	hs_close(&h);
	if (r != KDC_OK)
		kdcdev_fail(c, r);
	log_ctx = NULL;
	return r;
}

/*
 * Listening: the PSK of the bootstrap account for exactly its identity.
 * Any other identity gets no key, so its handshake fails; that ends the
 * listen (KDC_ERR_DENIED), as a refused step does.
 */
static const coap_bin_const_t *
on_psk_identity(coap_bin_const_t *identity, coap_session_t *session,
    void *arg)
{
	struct hs *h = arg;

	(void)session;
	if (identity != NULL && identity->length == h->sec->ident_len &&
	    memcmp(identity->s, h->sec->ident, identity->length) == 0)
		return &h->spsk.psk_info.key;
	host_log(KDCDEV_LOG_ERR, "refused PSK identity of %zu bytes: not "
	    "our bootstrap account's", identity != NULL ? identity->length :
	    (size_t)0);
	if (h->fail == KDC_OK)
		h->fail = KDC_ERR_DENIED;
	return NULL;
}

/* addr:port to a numeric UDP address; "[v6]:port" printed into out. */
static kdc_err
listen_addr(const char *addr, uint16_t port, coap_address_t *a, char *out,
    size_t out_len)
{
	struct addrinfo hints, *res = NULL;
	char ps[8];

	snprintf(ps, sizeof(ps), "%u", (unsigned)port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if (port == 0 || getaddrinfo(addr, ps, &hints, &res) != 0 ||
	    res == NULL)
		return KDC_ERR_INVALID_ARG;
	coap_address_init(a);
	a->size = (socklen_t)res->ai_addrlen;
	memcpy(&a->addr, res->ai_addr, res->ai_addrlen);
	snprintf(out, out_len, res->ai_family == AF_INET6 ? "[%s]:%u" :
	    "%s:%u", addr, (unsigned)port);
	freeaddrinfo(res);
	return KDC_OK;
}

kdc_err
kdcdev_host_listen(struct kdcdev_lwm2m *c, const char *addr, uint16_t port,
    kdcdev_host_ready_fn ready, void *ready_arg, unsigned timeout_ms)
{
	struct hs h;
	coap_address_t la;
	char where[80];
	uint64_t deadline = now_ms() + timeout_ms;
	size_t si, vi;
	int bs;
	kdc_err r;

	memset(&h, 0, sizeof(h));
	if (c->err != KDC_OK)
		return c->err;
	if ((bs = kdcdev_bootstrap_account(c)) < 0 ||
	    c->sec[bs].mode != KDCDEV_MODE_PSK || c->sec[bs].ident_len == 0 ||
	    c->sec[bs].secret_len == 0)
		return kdcdev_fail(c, KDC_ERR_INVALID_ARG);
	if ((r = listen_addr(addr, port, &la, where, sizeof(where))) != KDC_OK)
		return kdcdev_fail(c, r);
	log_ctx = c;
	c->bs_finished = 0;
	c->bs_enrolled = 0;
	h.c = c;
	h.sec = &c->sec[bs];
	h.mid = COAP_INVALID_MID;
	h.accept = -1;
	h.listen = true;
	r = KDC_ERR_NOMEM;
	if ((h.ctx = coap_new_context(NULL)) == NULL)
		goto out;
	coap_set_app_data(h.ctx, &h);
	/* a Write over one block comes in Block1 pieces; libcoap joins
	 * them and calls us once with the whole body, as on the client */
	coap_context_set_block_mode(h.ctx,
	    COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
	coap_register_event_handler(h.ctx, on_event);
	h.spsk.version = COAP_DTLS_SPSK_SETUP_VERSION;
	h.spsk.validate_id_call_back = on_psk_identity;
	h.spsk.id_call_back_arg = &h;
	h.spsk.psk_info.key.s = h.sec->secret;
	h.spsk.psk_info.key.length = h.sec->secret_len;
	r = KDC_ERR_TLS;
	if (!coap_context_set_psk2(h.ctx, &h.spsk))
		goto out;
	if ((r = add_bs_resources(&h)) != KDC_OK)
		goto out;
	if (coap_new_endpoint(h.ctx, &la, COAP_PROTO_DTLS) == NULL) {
		host_log(KDCDEV_LOG_ERR, "cannot listen on udp %s", where);
		r = KDC_ERR_IO;
		goto out;
	}
	host_log(KDCDEV_LOG_INFO, "listening on %s for a server-initiated "
	    "bootstrap ep=%s", where, c->ep);
	if (ready != NULL)
		ready(ready_arg, where);
	if ((r = bs_serve(&h, deadline)) != KDC_OK)
		goto out;
	/* mode 4 enrolls by EST on the bootstrap session, as the client;
	 * that needs requests from us on a session where we are the DTLS
	 * server: not done */
	if (kdcdev_dm_account(c, &si, &vi) == KDC_OK &&
	    c->sec[si].mode == KDCDEV_MODE_EST) {
		host_log(KDCDEV_LOG_ERR, "security mode 4 (EST) needs the "
		    "client-initiated bootstrap");
		r = KDC_ERR_UNSUPPORTED;
	}
out:
	if (r == KDC_ERR_TIMEOUT)
		host_log(KDCDEV_LOG_ERR, "no Bootstrap-Finish before the "
		    "deadline");
	hs_close(&h);
	if (r != KDC_OK)
		kdcdev_fail(c, r);
	log_ctx = NULL;
	return r;
}

kdc_err
kdcdev_host_register(struct kdcdev_lwm2m *c, uint32_t lifetime,
    bool deregister, char *loc, size_t loc_cap, unsigned timeout_ms)
{
	struct hs h;
	struct kdcdev_msg m;
	uint8_t buf[512];
	uint64_t deadline = now_ms() + timeout_ms;
	size_t si, vi;
	char path[KDCDEV_LOCATION_MAX];
	kdc_err r;

	if (loc != NULL && loc_cap > 0)
		loc[0] = '\0';
	if (c->err != KDC_OK)
		return c->err;
	if ((r = kdcdev_dm_account(c, &si, &vi)) != KDC_OK)
		return r;
	if (c->sec[si].mode == KDCDEV_MODE_EST)
		return kdcdev_fail(c, KDC_ERR_UNSUPPORTED);
	log_ctx = c;
	if ((r = hs_open(&h, c, &c->sec[si])) != KDC_OK) {
		host_log(KDCDEV_LOG_ERR, "cannot open session to %s: %s",
		    c->sec[si].uri, kdc_err_str(r));
		log_ctx = NULL;
		return kdcdev_fail(c, r);
	}
	if ((r = kdcdev_msg_register(c, lifetime, &m, buf, sizeof(buf))) !=
	    KDC_OK || (r = hs_exchange(&h, &m, deadline)) != KDC_OK) {
		if (r == KDC_ERR_PEER_ERROR)
			host_log(KDCDEV_LOG_ERR, "register refused: %u.%02u",
			    h.code >> 5, h.code & 31u);
		goto out;
	}
	if (h.location_bad) {
		r = KDC_ERR_TOO_LARGE;
		goto out;
	}
	if ((r = kdcdev_register_result(c, m.method, m.path, h.code,
	    h.location)) != KDC_OK)
		goto out;
	if (loc != NULL && loc_cap > 0)
		snprintf(loc, loc_cap, "%s", c->location);
	if (!deregister)
		goto out;
	if ((r = kdcdev_msg_deregister(c, &m, buf, sizeof(buf))) != KDC_OK)
		goto out;
	snprintf(path, sizeof(path), "%s", m.path);
	r = hs_exchange(&h, &m, deadline);
	if (r == KDC_OK || r == KDC_ERR_PEER_ERROR)
		r = kdcdev_register_result(c, KDCDEV_DELETE, path, h.code, NULL);
out:
	hs_close(&h);
	if (r != KDC_OK)
		kdcdev_fail(c, r);
	log_ctx = NULL;
	return r;
}

kdc_err
kdcdev_host_request(const struct kdcdev_security *sec, uint8_t method,
    const char *path, uint8_t *code, uint8_t *out, size_t *out_len,
    unsigned timeout_ms)
{
	struct hs h;
	struct kdcdev_msg m;
	uint64_t deadline = now_ms() + timeout_ms;
	kdc_err r;

	*code = 0;
	if ((r = hs_open(&h, NULL, sec)) != KDC_OK)
		return r;
	h.out = out;
	h.out_cap = out != NULL && out_len != NULL ? *out_len : 0;
	memset(&m, 0, sizeof(m));
	m.method = method;
	m.path = path;
	m.query = "";
	m.content_format = -1;
	r = hs_exchange(&h, &m, deadline);
	*code = h.code;
	if (out_len != NULL)
		*out_len = h.out_len;
	hs_close(&h);
	return r;
}

kdc_err
kdcdev_host_exchange(const struct kdcdev_security *sec,
    const struct kdcdev_msg *m, uint8_t *code, uint8_t *out, size_t *out_len,
    unsigned timeout_ms)
{
	struct hs h;
	uint64_t deadline = now_ms() + timeout_ms;
	kdc_err r;

	*code = 0;
	if ((r = hs_open(&h, NULL, sec)) != KDC_OK)
		return r;
	h.out = out;
	h.out_cap = out != NULL && out_len != NULL ? *out_len : 0;
	r = hs_exchange(&h, m, deadline);
	*code = h.code;
	if (out_len != NULL)
		*out_len = h.out_len;
	hs_close(&h);
	return r;
}

/* ==== state file ========================================================= */

kdc_err
kdcdev_host_state_save(const struct kdcdev_lwm2m *c, const char *path)
{
	static uint8_t buf[KDCDEV_STATE_MAX];
	size_t len = sizeof(buf);
	kdc_err r;

	if ((r = kdcdev_state_encode(c, buf, &len)) != KDC_OK)
		return r;
	r = kdc_file_write_atomic(path, buf, len, 0600);
	kdc_wipe(buf, len);
	return r;
}

kdc_err
kdcdev_host_state_load(struct kdcdev_lwm2m *c, const char *path)
{
	static uint8_t buf[KDCDEV_STATE_MAX];
	size_t len = sizeof(buf);
	kdc_err r;

	if ((r = read_file(path, buf, &len)) == KDC_OK)
		r = kdcdev_state_decode(c, buf, len);
	kdc_wipe(buf, sizeof(buf));
	return r;
}

/* ==== EST-coaps enrollment =============================================== */

#define EST_CF_PKCS10	286	/* application/pkcs10 */
#define EST_CF_PKIX	287	/* application/pkix-cert */

/* SubjectPublicKeyInfo DER of a certificate (heap, gnutls_free). */
static int
crt_spki(gnutls_x509_crt_t crt, gnutls_datum_t *d)
{
	gnutls_pubkey_t pub = NULL;
	int rc;

	if ((rc = gnutls_pubkey_init(&pub)) >= 0 &&
	    (rc = gnutls_pubkey_import_x509(pub, crt, 0)) >= 0)
		rc = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, d);
	gnutls_pubkey_deinit(pub);
	return rc;
}

/*
 * The enrollment itself on the open session h (kdcdev_host_enroll's
 * contract): a fresh key, its CSR, /sen or /sren, the answer checked.
 */
static kdc_err
est_enroll(struct hs *h, const char *ep, bool re, uint8_t *cert,
    size_t *cert_len, uint8_t *key, size_t *key_len, uint8_t *code,
    uint64_t deadline)
{
	struct kdcdev_msg m;
	gnutls_x509_privkey_t xk = NULL;
	gnutls_x509_crq_t crq = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_privkey_t pk = NULL;
	gnutls_datum_t csr = { NULL, 0 }, k8 = { NULL, 0 }, ks = { NULL, 0 },
	    cs = { NULL, 0 }, in;
	kdc_err r;

	if (code != NULL)
		*code = 0;
	/* a fresh P-256 key and a CSR signed with it (ECDSA-SHA256) */
	r = KDC_ERR_CRYPTO;
	if (gnutls_x509_privkey_init(&xk) < 0 ||
	    gnutls_x509_privkey_generate(xk, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0 ||
	    gnutls_x509_crq_init(&crq) < 0 ||
	    gnutls_x509_crq_set_version(crq, 1) < 0 ||
	    gnutls_x509_crq_set_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0,
	    ep, (unsigned)strlen(ep)) < 0 ||
	    gnutls_x509_crq_set_key(crq, xk) < 0 ||
	    gnutls_x509_crq_sign2(crq, xk, GNUTLS_DIG_SHA256, 0) < 0 ||
	    gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &csr) < 0 ||
	    gnutls_x509_privkey_export2_pkcs8(xk, GNUTLS_X509_FMT_DER, NULL,
	    GNUTLS_PKCS_PLAIN, &k8) < 0 ||
	    gnutls_privkey_init(&pk) < 0 ||
	    gnutls_privkey_import_x509(pk, xk, 0) < 0 ||
	    gnutls_pubkey_init(&pub) < 0 ||
	    gnutls_pubkey_import_privkey(pub, pk, 0, 0) < 0 ||
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &ks) < 0)
		goto out;
	if (k8.size > *key_len) {
		r = KDC_ERR_TOO_LARGE;
		goto out;
	}

	h->out = cert;
	h->out_cap = *cert_len;
	h->out_len = 0;
	h->accept = EST_CF_PKIX;
	memset(&m, 0, sizeof(m));
	m.method = KDCDEV_POST;
	m.path = re ? ".well-known/est/sren" : ".well-known/est/sen";
	m.query = "";
	m.content_format = EST_CF_PKCS10;
	m.payload = csr.data;
	m.payload_len = csr.size;
	host_log(KDCDEV_LOG_INFO, "EST %s to %s: CSR of %u bytes",
	    re ? "sren" : "sen", h->sec->uri, csr.size);
	r = hs_exchange(h, &m, deadline);
	h->out = NULL;
	h->out_cap = 0;
	h->accept = -1;
	if (code != NULL)
		*code = h->code;
	if (r != KDC_OK) {
		if (r == KDC_ERR_PEER_ERROR)
			host_log(KDCDEV_LOG_ERR, "EST %s refused: %u.%02u",
			    re ? "sren" : "sen", h->code >> 5, h->code & 31u);
		goto out;
	}
	/* 2.04 with a DER certificate for our key (Accept 287) */
	r = KDC_ERR_MALFORMED;
	in.data = cert;
	in.size = (unsigned)h->out_len;
	if (h->out_len == 0 || h->out_len >= *cert_len ||
	    gnutls_x509_crt_init(&crt) < 0 ||
	    gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_DER) < 0 ||
	    crt_spki(crt, &cs) < 0) {
		host_log(KDCDEV_LOG_ERR, "EST answer of %zu bytes is not a "
		    "DER certificate", h->out_len);
		goto out;
	}
	if (cs.size != ks.size || memcmp(cs.data, ks.data, ks.size) != 0) {
		host_log(KDCDEV_LOG_ERR, "EST certificate is not for our key");
		goto out;
	}
	*cert_len = h->out_len;
	memcpy(key, k8.data, k8.size);
	*key_len = k8.size;
	r = KDC_OK;
out:
	if (k8.data != NULL) {
		kdc_wipe(k8.data, k8.size);
		gnutls_free(k8.data);
	}
	gnutls_free(csr.data);
	gnutls_free(ks.data);
	gnutls_free(cs.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(pk);	/* does not own xk (flags 0) */
	gnutls_x509_crq_deinit(crq);
	gnutls_x509_privkey_deinit(xk);
	if (r == KDC_ERR_CRYPTO)
		host_log(KDCDEV_LOG_ERR, "key or CSR generation failed");
	return r;
}

/*
 * The KDC keeps a certificate that replaces an issued one pending until
 * the device first authenticates with it (the old one stays usable, so a
 * lost answer never locks the device out): use it once now, GET
 * /.well-known/est/crts over a new DTLS session with the new certificate,
 * so that a renewal takes effect at once. The server is checked against
 * sec's server key, else against the CA the KDC serves at /crts, fetched
 * on the enrollment session h first. Best effort: on failure the
 * enrollment stands and the certificate's next use completes it.
 */
static void
est_confirm(struct hs *h, const struct kdcdev_security *sec,
    const uint8_t *cert, size_t cert_len, const uint8_t *key, size_t key_len,
    uint64_t deadline)
{
	static struct kdcdev_security n;
	struct kdcdev_msg m;
	struct hs c;
	kdc_err r;

	memset(&n, 0, sizeof(n));
	n.used = 1;
	n.mode = KDCDEV_MODE_CERT;
	n.ssid = -1;
	memcpy(n.uri, sec->uri, sizeof(n.uri));
	memcpy(n.ident, cert, cert_len);
	n.ident_len = (uint16_t)cert_len;
	memcpy(n.secret, key, key_len);
	n.secret_len = (uint16_t)key_len;
	memset(&m, 0, sizeof(m));
	m.method = KDCDEV_GET;
	m.path = ".well-known/est/crts";
	m.query = "";
	m.content_format = -1;
	if (sec->server_key_len > 0) {
		memcpy(n.server_key, sec->server_key, sec->server_key_len);
		n.server_key_len = sec->server_key_len;
	} else {
		/* the CA certificate (287) as the trust anchor */
		h->out = n.server_key;
		h->out_cap = sizeof(n.server_key);
		h->out_len = 0;
		h->accept = EST_CF_PKIX;
		r = hs_exchange(h, &m, deadline);
		h->out = NULL;
		h->accept = -1;
		if (r != KDC_OK || h->out_len == 0 ||
		    h->out_len >= sizeof(n.server_key)) {
			host_log(KDCDEV_LOG_WARN, "EST: no CA certificate from "
			    "/crts (%s): the new certificate goes live at its "
			    "first use", kdc_err_str(r));
			goto out;
		}
		n.server_key_len = (uint16_t)h->out_len;
	}
	if ((r = hs_open(&c, NULL, &n)) != KDC_OK) {
		host_log(KDCDEV_LOG_WARN, "EST: cannot open a session with the "
		    "new certificate: %s", kdc_err_str(r));
		goto out;
	}
	r = hs_exchange(&c, &m, deadline);
	if (r == KDC_OK && !c.peer_verified)
		r = KDC_ERR_TLS;
	hs_close(&c);
	if (r != KDC_OK)
		host_log(KDCDEV_LOG_WARN, "EST: first use of the new "
		    "certificate failed (%s): it goes live at its next use",
		    kdc_err_str(r));
	else
		host_log(KDCDEV_LOG_INFO, "EST: the new certificate is in use");
out:
	kdc_wipe(&n, sizeof(n));
}

kdc_err
kdcdev_host_enroll(struct kdcdev_lwm2m *logc,
    const struct kdcdev_security *sec, const char *ep,
    bool re, uint8_t *cert, size_t *cert_len, uint8_t *key, size_t *key_len,
    uint8_t *code, unsigned timeout_ms)
{
	struct hs h;
	uint64_t deadline = now_ms() + timeout_ms;
	kdc_err r;

	if (code != NULL)
		*code = 0;
	if (ep == NULL || ep[0] == '\0' || cert == NULL || key == NULL ||
	    (re && sec->mode != KDCDEV_MODE_CERT))
		return KDC_ERR_INVALID_ARG;
	log_ctx = logc;
	if ((r = hs_open(&h, NULL, sec)) != KDC_OK) {
		host_log(KDCDEV_LOG_ERR, "cannot open session to %s: %s",
		    sec->uri, kdc_err_str(r));
		log_ctx = NULL;
		return r;
	}
	r = est_enroll(&h, ep, re, cert, cert_len, key, key_len, code,
	    deadline);
	if (r == KDC_OK)
		est_confirm(&h, sec, cert, *cert_len, key, *key_len, deadline);
	hs_close(&h);
	log_ctx = NULL;
	return r;
}

kdc_err
kdcdev_host_cert_info(const uint8_t *der, size_t len, int64_t *not_before,
    int64_t *not_after, char *serial, size_t serial_cap)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t in = { (unsigned char *)(uintptr_t)der, (unsigned)len };
	uint8_t sn[64];
	size_t sn_len = sizeof(sn);
	kdc_err r = KDC_ERR_MALFORMED;

	if (gnutls_x509_crt_init(&crt) < 0 ||
	    gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_x509_crt_get_serial(crt, sn, &sn_len) < 0)
		goto out;
	if (not_before != NULL)
		*not_before = (int64_t)gnutls_x509_crt_get_activation_time(crt);
	if (not_after != NULL)
		*not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
	if (serial != NULL) {
		if (serial_cap < 2 * sn_len + 1) {
			r = KDC_ERR_TOO_LARGE;
			goto out;
		}
		for (size_t i = 0; i < sn_len; i++)
			snprintf(serial + 2 * i, 3, "%02X", sn[i]);
		serial[2 * sn_len] = '\0';
	}
	r = KDC_OK;
out:
	gnutls_x509_crt_deinit(crt);
	return r;
}

kdc_err
kdcdev_host_write_pem(const char *path, const char *label,
    const uint8_t *der, size_t len, bool secret)
{
	gnutls_datum_t in = { (unsigned char *)(uintptr_t)der, (unsigned)len };
	gnutls_datum_t pem = { NULL, 0 };
	kdc_err r;

	if (gnutls_pem_base64_encode2(label, &in, &pem) < 0)
		return KDC_ERR_CRYPTO;
	r = kdc_file_write_atomic(path, pem.data, pem.size,
	    secret ? 0600 : 0644);
	kdc_wipe(pem.data, pem.size);
	gnutls_free(pem.data);
	return r;
}
