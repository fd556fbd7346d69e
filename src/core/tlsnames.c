/* tlsnames.c: the names the listeners' TLS certificate must carry. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/tlsnames.h"

/* Always in the certificate (crypto.h kdc_tls_cert_create()). */
static const char *const fixed[] = { "localhost", "127.0.0.1", "::1" };

kdc_err
kdc_tlsnames_lwm2m_uri(const struct kdc_config *cfg, char *out, size_t cap)
{
	int n;

	if (cap > 0)
		out[0] = '\0';
	if (cfg->lwm2m_server_uri[0] != '\0')
		n = snprintf(out, cap, "%s", cfg->lwm2m_server_uri);
	else
		n = snprintf(out, cap, strchr(cfg->coap_address, ':') != NULL ?
		    "coaps://[%s]:%d" : "coaps://%s:%d", cfg->coap_address,
		    cfg->lwm2m_port);
	if (n < 0 || (size_t)n >= cap) {
		if (cap > 0)
			out[0] = '\0';
		return KDC_ERR_TOO_LARGE;
	}
	return KDC_OK;
}

static bool
host_char(int c, bool in_brackets)
{
	return isalnum(c) || c == '.' || c == '-' || c == '_' ||
	    (in_brackets && c == ':');
}

kdc_err
kdc_tlsnames_uri_host(const char *uri, char *out, size_t cap)
{
	const char *p, *h, *e, *at, *port;
	size_t ulen, n;
	bool br = false;

	if (cap > 0)
		out[0] = '\0';
	if (uri == NULL)
		return KDC_ERR_MALFORMED;
	ulen = strnlen(uri, KDC_TLSNAMES_URI_MAX + 1);
	if (ulen > KDC_TLSNAMES_URI_MAX)
		return KDC_ERR_TOO_LARGE;
	/* scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 3.1) */
	if (ulen == 0 || !isalpha((unsigned char)uri[0]))
		return KDC_ERR_MALFORMED;
	for (p = uri + 1; *p != '\0' && *p != ':'; p++)
		if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' &&
		    *p != '.')
			return KDC_ERR_MALFORMED;
	if (strncmp(p, "://", 3) != 0)
		return KDC_ERR_MALFORMED;
	h = p + 3;
	/* the authority ends at the first '/', '?' or '#' */
	e = h + strcspn(h, "/?#");
	if ((at = memchr(h, '@', (size_t)(e - h))) != NULL)
		h = at + 1;	/* userinfo: not part of the host */
	if (*h == '[') {
		br = true;
		h++;
		if ((p = memchr(h, ']', (size_t)(e - h))) == NULL)
			return KDC_ERR_MALFORMED;
		port = p + 1;
		if (port != e && *port != ':')
			return KDC_ERR_MALFORMED;
		n = (size_t)(p - h);
	} else {
		if ((port = memchr(h, ':', (size_t)(e - h))) == NULL)
			port = e;
		n = (size_t)(port - h);
	}
	/* port = *DIGIT (RFC 3986 3.2.3) */
	for (p = port + (port != e); p < e; p++)
		if (!isdigit((unsigned char)*p))
			return KDC_ERR_MALFORMED;
	if (n == 0)
		return KDC_ERR_MALFORMED;
	for (size_t i = 0; i < n; i++)
		if (!host_char((unsigned char)h[i], br))
			return KDC_ERR_MALFORMED;
	if (n > KDC_TLSNAMES_HOST_MAX || n >= cap)
		return KDC_ERR_TOO_LARGE;
	memcpy(out, h, n);
	out[n] = '\0';
	return KDC_OK;
}

bool
kdc_tlsnames_wildcard(const char *addr)
{
	unsigned char b[16], zero[16] = { 0 };

	if (inet_pton(AF_INET, addr, b) == 1)
		return memcmp(b, zero, 4) == 0;
	if (inet_pton(AF_INET6, addr, b) == 1)
		return memcmp(b, zero, 16) == 0;
	return false;
}

/* The same host: equal address literals (::1 and 0:0:0:0:0:0:0:1), or
 * DNS names equal but for case. */
static bool
same_host(const char *a, const char *b)
{
	unsigned char ba[16], bb[16];

	if (inet_pton(AF_INET, a, ba) == 1)
		return inet_pton(AF_INET, b, bb) == 1 &&
		    memcmp(ba, bb, 4) == 0;
	if (inet_pton(AF_INET6, a, ba) == 1)
		return inet_pton(AF_INET6, b, bb) == 1 &&
		    memcmp(ba, bb, 16) == 0;
	return strcasecmp(a, b) == 0;
}

/* Append host unless it is there already (or fixed, or a wildcard). */
static void
add(struct kdc_tlsnames *t, const char *host, const char *from,
    bool server_uri)
{
	struct kdc_tlsname *nm;

	if (host[0] == '\0' || kdc_tlsnames_wildcard(host) ||
	    strlen(host) > KDC_TLSNAMES_HOST_MAX)
		return;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (same_host(host, fixed[i]))
			return;
	for (size_t i = 0; i < t->n; i++)
		if (same_host(host, t->name[i].host)) {
			t->name[i].server_uri |= server_uri;
			return;
		}
	if (t->n == KDC_TLSNAMES_MAX)	/* cannot happen: sized for all */
		return;
	nm = &t->name[t->n++];
	memcpy(nm->host, host, strlen(host) + 1);
	nm->from = from;
	nm->server_uri = server_uri;
}

kdc_err
kdc_tlsnames_required(const struct kdc_config *cfg, struct kdc_tlsnames *out)
{
	char uri[KDC_TLSNAMES_URI_MAX + 1], host[KDC_TLSNAMES_HOST_MAX + 1];
	kdc_err r;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < cfg->nhosts && i < KDC_CONFIG_HOSTS_MAX; i++)
		add(out, cfg->hosts[i], "[kdc] hosts", false);
	if ((r = kdc_tlsnames_lwm2m_uri(cfg, uri, sizeof(uri))) != KDC_OK ||
	    (r = kdc_tlsnames_uri_host(uri, host, sizeof(host))) != KDC_OK) {
		memset(out, 0, sizeof(*out));
		return r;
	}
	add(out, host, cfg->lwm2m_server_uri[0] != '\0' ?
	    "[lwm2m] server_uri" : "[coap] address (the LwM2M Server URI)",
	    true);
	add(out, cfg->http_address, "[http] address", false);
	add(out, cfg->coap_address, "[coap] address", false);
	return KDC_OK;
}
