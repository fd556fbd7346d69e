/*
 * mc.c: the pure parts of plain-CoAP multicast requests (coap.h
 * kdc_coap_multicast(); eng_int.h): the request's bytes, what "on the
 * interface's link" means for an answer's source, and what makes a
 * datagram an answer. The sockets and the window live in eng.c.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "coap/coap.h"
#include "coap/eng_int.h"
#include "coap/wire.h"
#include "coap/xl.h"

kdc_err
kdc_coap_mc_build(uint8_t *buf, size_t cap, uint8_t method,
    const char *path, const char *query, const uint8_t tok[8], uint16_t mid,
    size_t *len)
{
	struct kdc_coap_wb w;

	*len = 0;
	if (method < KDC_COAP_GET || method > KDC_COAP_DELETE ||
	    path == NULL || tok == NULL)
		return KDC_ERR_INVALID_ARG;
	kdc_coap_wb_init(&w, buf, cap, KDC_COAP_NON, method, mid, tok, 8);
	kdc_coap_wb_path(&w, KDC_OPT_URI_PATH, path);
	kdc_coap_wb_query(&w, query, KDC_COAP_QUERY_MAX);
	kdc_coap_wb_payload(&w, NULL, 0);
	return kdc_coap_wb_end(&w, len);
}

/* The first plen bits of a and b agree. */
static bool
prefix_eq(const uint8_t *a, const uint8_t *b, unsigned plen)
{
	unsigned bytes = plen / 8, bits = plen % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (bits == 0)
		return true;
	return ((a[bytes] ^ b[bytes]) & (uint8_t)(0xff00u >> bits)) == 0;
}

static unsigned
mask_len(const struct sockaddr *m, int family)
{
	const uint8_t *b;
	size_t n;
	unsigned len = 0;

	if (m == NULL)
		return family == AF_INET ? 32 : 128;
	if (family == AF_INET) {
		b = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)m)->sin_addr;
		n = 4;
	} else {
		b = (const uint8_t *)&((const struct sockaddr_in6 *)
		    (const void *)m)->sin6_addr;
		n = 16;
	}
	for (size_t i = 0; i < n; i++)
		for (int k = 7; k >= 0; k--) {
			if ((b[i] >> k & 1) == 0)
				return len;
			len++;
		}
	return len;
}

kdc_err
kdc_coap_mc_link_load(const char *ifname, int family,
    struct kdc_coap_mc_link *l)
{
	struct ifaddrs *ifa = NULL, *i;

	memset(l, 0, sizeof(*l));
	l->family = family;
	if (ifname == NULL || (family != AF_INET && family != AF_INET6) ||
	    (l->ifindex = if_nametoindex(ifname)) == 0)
		return KDC_ERR_NOT_FOUND;
	if (getifaddrs(&ifa) != 0)
		return KDC_ERR_IO;
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != family ||
		    strcmp(i->ifa_name, ifname) != 0 ||
		    l->n == KDC_COAP_MC_PREFIX_MAX)
			continue;
		if (family == AF_INET)
			memcpy(l->pfx[l->n].addr, &((struct sockaddr_in *)
			    (void *)i->ifa_addr)->sin_addr, 4);
		else
			memcpy(l->pfx[l->n].addr, &((struct sockaddr_in6 *)
			    (void *)i->ifa_addr)->sin6_addr, 16);
		l->pfx[l->n].plen = mask_len(i->ifa_netmask, family);
		l->n++;
	}
	freeifaddrs(ifa);
	return l->n > 0 ? KDC_OK : KDC_ERR_NOT_FOUND;
}

bool
kdc_coap_mc_onlink(const struct kdc_coap_mc_link *l,
    const struct sockaddr *src, unsigned arrival)
{
	const uint8_t *a;

	if (src == NULL || src->sa_family != l->family || arrival == 0 ||
	    arrival != l->ifindex)
		return false;
	if (l->family == AF_INET) {
		const struct sockaddr_in *s = (const void *)src;
		uint32_t h = ntohl(s->sin_addr.s_addr);

		a = (const uint8_t *)&s->sin_addr;
		if (h == 0 || h == 0xffffffffu || (h >> 24) == 127 ||
		    (h >> 28) == 0xe)
			return false;
		for (size_t i = 0; i < l->n; i++) {
			unsigned plen = l->pfx[i].plen;

			if (plen > 32 || !prefix_eq(a, l->pfx[i].addr, plen))
				continue;
			/* the prefix's broadcast address is not a responder */
			if (plen < 31 && (h | (0xffffffffu >> plen)) == h)
				return false;
			return true;
		}
		return false;
	}
	{
		const struct sockaddr_in6 *s = (const void *)src;
		const struct in6_addr *x = &s->sin6_addr;

		a = (const uint8_t *)x;
		if (IN6_IS_ADDR_UNSPECIFIED(x) || IN6_IS_ADDR_LOOPBACK(x) ||
		    IN6_IS_ADDR_MULTICAST(x) || IN6_IS_ADDR_V4MAPPED(x))
			return false;
		if (IN6_IS_ADDR_LINKLOCAL(x))
			return s->sin6_scope_id == 0 ||
			    s->sin6_scope_id == l->ifindex;
		for (size_t i = 0; i < l->n; i++)
			if (l->pfx[i].plen <= 128 &&
			    !IN6_IS_ADDR_LINKLOCAL((const struct in6_addr *)
			    (const void *)l->pfx[i].addr) &&
			    prefix_eq(a, l->pfx[i].addr, l->pfx[i].plen))
				return true;
		return false;
	}
}

kdc_err
kdc_coap_mc_answer(const uint8_t *buf, size_t len, const uint8_t tok[8],
    struct kdc_coap_wire *w, struct kdc_coap_msg *m)
{
	kdc_err r;

	if ((r = kdc_coap_wire_parse(buf, len, w)) != KDC_OK)
		return r;
	if (w->token_len != 8 || memcmp(w->token, tok, 8) != 0)
		return KDC_ERR_NOT_FOUND;
	if ((w->type != KDC_COAP_NON && w->type != KDC_COAP_CON) ||
	    (w->code >> 5) < 2 || (w->code >> 5) > 5)
		return KDC_ERR_WRONG_TYPE;
	if (!kdc_coap_xl_answer_ok(w))
		return KDC_ERR_UNSUPPORTED;
	return kdc_coap_xl_decode(w, m);
}
