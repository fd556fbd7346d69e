/*
 * eng_int.h: the engine's parts that its tests and fuzz harnesses reach
 * (not the faces: they see coap.h; not xl*.c: they see xl.h).
 */
#ifndef KDC_COAP_ENG_INT_H
#define KDC_COAP_ENG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/limits.h"

/*
 * What the demultiplexer reads of a datagram's first record before any
 * state exists for its sender: whether it is an epoch-0 ClientHello (the
 * only thing that may create a session, and only with a valid cookie),
 * and that hello's random and cookie. Bounded: the datagram is the
 * peer's; nothing is allocated.
 */
struct kdc_coap_hello {
	bool		 is_hello;	/* epoch 0, handshake, ClientHello,
					 * first fragment */
	uint16_t	 epoch;		/* the first record's */
	uint8_t		 type;		/* the first record's content type */
	uint8_t		 random[32];
	uint8_t		 cookie_len;
	bool		 offers_ecdsa;	/* an ECDHE_ECDSA suite is offered: a
					 * certificate or RPK peer (tickets) */
};

/* KDC_OK (h filled; is_hello says what it is), KDC_ERR_TRUNCATED or
 * KDC_ERR_MALFORMED when the first record's header does not parse (the
 * datagram is dropped). A ClientHello whose body is cut short is not a
 * hello (is_hello false). */
kdc_err	kdc_coap_demux(const uint8_t *buf, size_t len,
	    struct kdc_coap_hello *h);

/* ---- multicast requests' pure parts (mc.c) --------------------------------- */

struct sockaddr;
struct kdc_coap_wire;
struct kdc_coap_msg;

/* What "on the link of an interface" means for an answer's source. */
struct kdc_coap_mc_link {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned	 ifindex;
	size_t		 n;
	struct {
		uint8_t	 addr[16];	/* network byte order; IPv4: 4 bytes */
		unsigned plen;		/* prefix length */
	}		 pfx[KDC_COAP_MC_PREFIX_MAX];
};

/*
 * The NON request's bytes: method (0.01-0.04), path ("a/b", "" none),
 * query (NULL or "" none, items joined by '&'), token tok (8 bytes),
 * mid. KDC_OK and *len; KDC_ERR_INVALID_ARG (method, an empty segment or
 * item, one over 255 bytes, more than KDC_COAP_QUERY_MAX items),
 * KDC_ERR_TOO_LARGE (does not fit cap).
 */
kdc_err	kdc_coap_mc_build(uint8_t *buf, size_t cap, uint8_t method,
	    const char *path, const char *query, const uint8_t tok[8],
	    uint16_t mid, size_t *len);
/* ifname's index and its addresses of family (getifaddrs): KDC_OK,
 * KDC_ERR_NOT_FOUND (no such interface, or no address of that family),
 * KDC_ERR_IO (getifaddrs). At most KDC_COAP_MC_PREFIX_MAX prefixes are
 * kept (the rest are not on the link for us). */
kdc_err	kdc_coap_mc_link_load(const char *ifname, int family,
	    struct kdc_coap_mc_link *l);
/* May an answer from src, arrived on interface arrival (IP_PKTINFO /
 * IPV6_PKTINFO; 0: unknown), be from l's link? It must have arrived on
 * l's interface, be a unicast address of l's family (not unspecified,
 * loopback, multicast, v4-mapped, an IPv4 broadcast) and be IPv6
 * link-local or inside one of l's prefixes. */
bool	kdc_coap_mc_onlink(const struct kdc_coap_mc_link *l,
	    const struct sockaddr *src, unsigned arrival);
/*
 * One datagram on a multicast request's socket, parsed into w and
 * decoded into m (pointers into buf): KDC_OK for an answer to the
 * request of token tok; else why it is dropped: KDC_ERR_MALFORMED,
 * KDC_ERR_TRUNCATED, KDC_ERR_TOO_LARGE (does not parse, wire.h; or an
 * option over coap.h's limits), KDC_ERR_NOT_FOUND (another token),
 * KDC_ERR_WRONG_TYPE (not a NON or CON, or not a response code 2.xx-
 * 5.xx), KDC_ERR_UNSUPPORTED (a critical option we do not know).
 */
kdc_err	kdc_coap_mc_answer(const uint8_t *buf, size_t len,
	    const uint8_t tok[8], struct kdc_coap_wire *w,
	    struct kdc_coap_msg *m);

#endif
