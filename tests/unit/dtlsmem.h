/*
 * dtlsmem.h: a GnuTLS DTLS 1.2 PSK client and server over in-memory
 * datagram queues, in one thread (no sockets). Shared by
 * tests/unit/test_coap_record.c, bench/bench_record.c and
 * bench/bench_dtls_psk.c. No cmocka: every call reports its failure.
 */
#ifndef KDC_DTLSMEM_H
#define KDC_DTLSMEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <gnutls/gnutls.h>

#define KDC_DTLSMEM_QMAX	256	/* datagrams a queue can hold at most */
#define KDC_DTLSMEM_DMAX	2048	/* largest datagram */
#define KDC_DTLSMEM_PSK_ID	"dev0"	/* the one identity the server knows */

/* One direction of the "network": a ring of at most cap datagrams. */
struct kdc_dtlsmem_queue {
	unsigned	head, n, cap;
	size_t		len[KDC_DTLSMEM_QMAX];
	uint8_t		buf[KDC_DTLSMEM_QMAX][KDC_DTLSMEM_DMAX];
};

/* Which queues a session's transport callbacks use. */
struct kdc_dtlsmem_end {
	struct kdc_dtlsmem_queue	*in, *out;
	gnutls_session_t		 s;
};

/* The 16-byte PSK of KDC_DTLSMEM_PSK_ID. */
extern const unsigned char kdc_dtlsmem_psk[16];

/* Empty q, holding at most cap datagrams (1..KDC_DTLSMEM_QMAX; a larger
 * cap is cut to KDC_DTLSMEM_QMAX). */
void	kdc_dtlsmem_queue_init(struct kdc_dtlsmem_queue *q, unsigned cap);
/* Append a datagram. 0, or -1 when q is full or n > KDC_DTLSMEM_DMAX. */
int	kdc_dtlsmem_push(struct kdc_dtlsmem_queue *q, const void *d,
	    size_t n);
/* Put a datagram back at the front (n <= KDC_DTLSMEM_DMAX, q not full). */
void	kdc_dtlsmem_unshift(struct kdc_dtlsmem_queue *q, const void *d,
	    size_t n);
/* Take the oldest datagram, truncated to cap bytes (datagram semantics).
 * Its length, or -1 when q is empty. */
ssize_t	kdc_dtlsmem_pop(struct kdc_dtlsmem_queue *q, void *d, size_t cap);

/* Route session s through e (e->in, e->out set by the caller): sets
 * e->s and s's transport pointer, push, pull and pull-timeout functions. */
void	kdc_dtlsmem_attach(gnutls_session_t s, struct kdc_dtlsmem_end *e);
/* PSK credentials: the client's with KDC_DTLSMEM_PSK_ID and
 * kdc_dtlsmem_psk, the server's knowing that identity only. 0, or the
 * first negative GnuTLS error (nothing left allocated). */
int	kdc_dtlsmem_creds(gnutls_psk_client_credentials_t *cc,
	    gnutls_psk_server_credentials_t *sc);
/* A new non-blocking DTLS session (flags GNUTLS_CLIENT or GNUTLS_SERVER)
 * with priority string prio, PSK credentials cred (of the side flags
 * names), MTU 1400, attached to e. 0, or the first negative GnuTLS error
 * (*s freed and NULL then). */
int	kdc_dtlsmem_session(gnutls_session_t *s, struct kdc_dtlsmem_end *e,
	    unsigned flags, const char *prio, void *cred);
/* Both handshakes to the end, in turns, at most 100 turns. 0; the fatal
 * GnuTLS error of either side; or GNUTLS_E_TIMEDOUT when 100 turns were
 * not enough. */
int	kdc_dtlsmem_handshake(gnutls_session_t c, gnutls_session_t s);

#endif
