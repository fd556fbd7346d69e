/*
 * tlsnames.h: which names the listeners' TLS certificate (server.pem)
 * must carry, in one place for `init`, `tls reissue` and `serve`.
 *
 * The certificate is also the one the LwM2M Bootstrap Server writes into
 * a device's /0/x/4 for the built-in LwM2M Server, and a client that
 * checks it (AVSystem Anjay does) compares it with the host of the
 * Server URI in /0/x/0: a host the certificate does not name is a
 * refused deployment. So beside localhost, 127.0.0.1 and ::1 (always in,
 * crypto.h kdc_tls_cert_create()) the certificate names:
 *   - every [kdc] hosts entry;
 *   - the host of every server URI the KDC writes: today the LwM2M
 *     Server URI, [lwm2m] server_uri or, when empty,
 *     coaps://<[coap] address>:<lwm2m_port> (a wildcard address such as
 *     0.0.0.0 or :: names no host and is skipped);
 *   - [http] address and [coap] address when they are specific (not a
 *     wildcard).
 * Case-insensitive duplicates (and the three fixed names) appear once.
 */
#ifndef KDC_TLSNAMES_H
#define KDC_TLSNAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "core/config.h"

/* A DNS name in text form (RFC 1035), the longest host we carry. */
#define KDC_TLSNAMES_HOST_MAX	253
/* [kdc] hosts, the LwM2M Server URI's host, [http] and [coap] address. */
#define KDC_TLSNAMES_MAX	(KDC_CONFIG_HOSTS_MAX + 3)
/* The longest server URI we derive or accept ([lwm2m] server_uri). */
#define KDC_TLSNAMES_URI_MAX	300

/* One name the certificate must carry, and the setting it comes from
 * ("[kdc] hosts", "[lwm2m] server_uri", ...), for messages. */
struct kdc_tlsname {
	char		 host[KDC_TLSNAMES_HOST_MAX + 1];
	const char	*from;		/* static string */
	bool		 server_uri;	/* the host of a URI the KDC writes */
};

struct kdc_tlsnames {
	struct kdc_tlsname	name[KDC_TLSNAMES_MAX];
	size_t			n;
};

/*
 * The LwM2M Server URI the Bootstrap Server writes into /0/x/0:
 * [lwm2m] server_uri, or coaps://<coap address>:<lwm2m_port> (an IPv6
 * address in brackets) when it is empty. TOO_LARGE if it does not fit
 * cap (at most KDC_TLSNAMES_URI_MAX is ever needed).
 */
kdc_err	kdc_tlsnames_lwm2m_uri(const struct kdc_config *cfg, char *out,
	    size_t cap);

/*
 * The host of uri, "scheme://[userinfo@]host[:port][/path][?q][#f]", an
 * IPv6 literal without its brackets, into out (capacity cap). Bounded:
 * reads at most KDC_TLSNAMES_URI_MAX bytes of uri. MALFORMED if there is
 * no "scheme://", the host is empty, an IPv6 bracket is not closed, the
 * port is not digits, or the host holds anything but letters, digits,
 * '.', '-', '_' (and ':' inside brackets); TOO_LARGE if the host is over KDC_TLSNAMES_HOST_MAX
 * bytes or does not fit cap, or uri is over KDC_TLSNAMES_URI_MAX.
 */
kdc_err	kdc_tlsnames_uri_host(const char *uri, char *out, size_t cap);

/* True for an address literal that names no host: 0.0.0.0 or ::. */
bool	kdc_tlsnames_wildcard(const char *addr);

/*
 * The names above, from cfg, in the order listed there, without the
 * fixed three and without duplicates. MALFORMED / TOO_LARGE if
 * [lwm2m] server_uri is set and kdc_tlsnames_uri_host() cannot read its
 * host (the message to print is the caller's: the setting is named in
 * the header above).
 */
kdc_err	kdc_tlsnames_required(const struct kdc_config *cfg,
	    struct kdc_tlsnames *out);

#endif
