/*
 * eng.c: our CoAP-over-DTLS engine on GnuTLS (issue 14; research:
 * docs/design.md "Transport"). One struct kdc_coap is one engine on one
 * thread: its UDP sockets (one per endpoint, in a SO_REUSEPORT group
 * with the other engines of the process), its session table, timer
 * wheel, outbox and its own core (store connection). `serve` runs one
 * engine per core; the kernel spreads peers by a hash of their 4-tuple,
 * so a peer stays with one engine while the group is unchanged.
 *
 * A datagram from an unknown 4-tuple creates nothing unless it is an
 * epoch-0 ClientHello carrying a valid cookie (stateless cookies:
 * gnutls_dtls_cookie_verify() over address || time window); anything
 * else from an unknown peer gets a HelloVerifyRequest (a ClientHello) or
 * nothing. A valid ClientHello on the 4-tuple of an established session
 * replaces it (RFC 6347 §4.2.8). Handshakes run on GnuTLS with a vec
 * push (a flight is one datagram) and our pull over the datagram in
 * hand; PSK, RPK and X.509 peers are authenticated through core/. After
 * the peer's first application record the session's record state is
 * exported (record.h) and its GnuTLS session freed: an idle session
 * costs a few hundred bytes.
 *
 * The CoAP message layer is xl*.c (xl.h); this file hands it plaintext
 * and sends what it gives back, holding what a step sent until the
 * step's commits are durable (core/syncer.c).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/dtls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/buf.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/wipe.h"
#include "coap/coap.h"
#include "coap/eng_int.h"
#include "coap/jw.h"
#include "coap/record.h"
#include "coap/wire.h"
#include "coap/xl.h"
#include "core/revoke.h"
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

#define WHEEL_SLOTS	4096		/* x WHEEL_MS: 41 s per turn */
#define WHEEL_MS	10
#define RX_BATCH	32		/* recvmmsg */
#define RX_ROUNDS	16		/* batches per socket per step */
#define DGRAM_MAX	2048		/* a datagram we read (larger: cut) */
#define COOKIE_WINDOW_S	30		/* a cookie is good for 30-60 s */
#define SCRATCH_AUTH	4		/* principals expanded at once */

/* ---- structures -------------------------------------------------------- */

enum { TM_XL = 1, TM_HS, TM_MC };

struct kdc_coap_peer;

struct kdc_coap_timer {
	struct kdc_coap_timer	*next, **pprev;	/* a wheel slot */
	uint64_t		 when;		/* ms; 0: not armed */
	struct kdc_coap_peer	*p;		/* NULL for TM_MC */
	uint8_t			 kind;		/* TM_XL, TM_HS, TM_MC */
};

/* A multicast request in flight (kdc_coap_multicast()): its own
 * ephemeral socket, polled as epoll id MC_ID0 + its slot. */
struct mcreq {
	struct kdc_coap_timer	 tm;		/* the window's end */
	int			 fd;		/* -1: slot free */
	struct kdc_coap_mc_link	 link;
	uint8_t			 tok[8];
	unsigned		 max;
	struct kdc_coap_mc_end	 end;
	kdc_coap_mc_fn		 on_answer;
	kdc_coap_mc_done_fn	 done;
	void			*arg;
	struct mcseen {
		struct sockaddr_storage a;
		uint16_t		 mid;
	}			*seen;		/* max entries, the answers */
};

#define MC_ID0	(KDC_COAP_EP_MAX + KDC_COAP_WATCH_MAX)

struct kdc_coap_ep {
	char		 name[KDC_NAME_MAX + 1];
	bool		 client;	/* our client sessions' socket */
	unsigned	 accept;
	uint16_t	 port;
	int		 fd;
	int		 family;
};

enum peer_state {
	PS_HANDSHAKE = 1,	/* GnuTLS handshake running */
	PS_OPEN,		/* established (GnuTLS or our records) */
	PS_CLOSED,		/* out of the table; freed at refs 0 */
};

/* The principal, compact: what kdc_coap_peer_auth() expands. */
struct pauth {
	int64_t		 cred_id;
	int64_t		 device;
	uint8_t		 type, kind;
	uint8_t		 devid_len, aud_len;
	uint16_t	 spki_len;
	uint8_t		 data[];	/* dev_id, audience, spki */
};

/* What a handshake needs that an established session does not. */
struct hsinfo {
	uint8_t		 random[32];	/* of the ClientHello that made it */
	const char	*auth_action;	/* "auth.psk", ... for a refusal */
	const char	*presented_what;
	char		 presented[KDC_PSK_IDENTITY_MAX * 4 + 1];
	struct kdc_coap_timer tm;	/* GnuTLS retransmission */
	uint64_t	 deadline;
	/* client sessions (kdc_coap_connect()): told once how it ended */
	kdc_coap_connect_fn connect_fn;
	void		*connect_arg;
	/* ... and with a server certificate or RPK: the caller decides */
	uint8_t		 cli_cred;	/* enum kdc_coap_client_cred */
	bool		 checked;	/* check accepted the server's */
	kdc_err		 check_err;	/* check's refusal */
	kdc_coap_server_check_fn check;
	void		*check_arg;
	/* ... and a PRF output to keep (kdc_coap_client_opts prf_*) */
	uint8_t		 prf_seed;	/* enum kdc_coap_prf_seed */
	uint8_t		 prf_label_len;
	uint16_t	 prf_len;	/* 0: none */
	char		 prf_label[KDC_COAP_PRF_LABEL_MAX];
	/* KDC_COAP_CLIENT_JW: our own handshake (jw.h) instead of GnuTLS */
	struct kdc_jw	*jw;
};

struct credent;

struct kdc_coap_peer {
	struct kdc_coap		*c;
	const struct kdc_coap_ep *ep;
	struct kdc_coap_peer	*hnext;		/* table chain */
	struct kdc_coap_peer	*lprev, *lnext;	/* activity list (LRU) */
	struct kdc_coap_peer	*cprev, *cnext;	/* its credential's list */
	struct credent		*ce;
	struct kdc_coap_timer	 tm;		/* xl's timer */
	union {
		struct sockaddr		sa;
		struct sockaddr_in	in4;
		struct sockaddr_in6	in6;
	} a;
	socklen_t		 alen;
	uint64_t		 serial;
	uint64_t		 last;		/* ms of the last accepted datagram */
	gnutls_session_t	 g;		/* NULL once rec took over */
	struct kdc_rec		*rec;
	struct hsinfo		*hs;
	struct pauth		*auth;
	struct kdc_coap_xp	*xp;
	void			*data;
	gnutls_psk_client_credentials_t ccred;	/* client sessions */
	gnutls_certificate_credentials_t xcli;	/* client RPK/X.509 */
	uint8_t			*prf;		/* client: kept PRF output */
	uint16_t		 prf_len;
	uint16_t		 suite;		/* client: IANA number */
	unsigned		 refs;		/* xl's refs, holds, the table */
	unsigned		 holds;
	uint8_t			 state;
	bool			 vouched;	/* core said yes to what it showed */
	bool			 authed;	/* ... and the handshake finished */
	bool			 traced;	/* a refusal logged */
	bool			 doomed;	/* close at the step's end */
	bool			 gone_done;
	bool			 app_seen;	/* a first application record */
	bool			 nosec;
	bool			 client;	/* we opened it (kdc_coap_connect) */
	kdc_err			 doom_why;
	struct kdc_coap_peer	*dnext;		/* c->doomed */
	struct kdc_coap_peer	*anext, *aprev;	/* c->all: every struct alive */
};

/* Sessions of one credential (the cap per credential). */
struct credent {
	int64_t			 cred_id;
	struct credent		*hnext;
	struct kdc_coap_peer	*head;	/* least recently made first */
	struct kdc_coap_peer	*tail;
	unsigned		 n;
};

struct outmsg {
	struct outmsg		*next;
	struct kdc_coap_peer	*p;		/* holds a ref */
	uint64_t		 ticket;	/* UINT64_MAX: step still running */
	size_t			 len;
	uint8_t			 msg[];
};

struct kdc_coap_watch {
	int	  fd;
	void	(*cb)(void *arg);
	void	 *arg;
};

struct kdc_coap {
	struct kdc_core		*core;
	const struct kdc_config	*cfg;
	struct kdc_coap_xl	*xl;
	struct kdc_coap_ep	 eps[KDC_COAP_EP_MAX];
	size_t			 neps;
	int			 epfd;
	struct kdc_coap_watch	 watch[KDC_COAP_WATCH_MAX];
	size_t			 nwatch;
	atomic_int		 stop;
	kdc_coap_gone_fn	 gone;
	void			*gone_arg;

	/* DTLS */
	gnutls_priority_t	 prio;
	gnutls_priority_t	 prio_nt;	/* PSK-only peers: no tickets */
	gnutls_certificate_credentials_t xcred;	/* ours, every session */
	gnutls_psk_server_credentials_t pcred;
	bool			 dtls_ready;
	const char		*cert_pem, *key_pem;

	/* sessions */
	struct kdc_coap_peer	**tab;
	size_t			 tabsz;		/* power of 2 */
	size_t			 npeers;	/* in the table */
	size_t			 nhs;		/* of them in handshake */
	struct kdc_coap_peer	*lru_head, *lru_tail;
	struct credent		**ctab;
	size_t			 ctabsz;	/* power of 2 */
	size_t			 ncred;
	uint64_t		 serial;
	struct kdc_coap_peer	*doomed;
	struct kdc_coap_peer	*all;

	/* limits (iotkdc.conf [coap], this engine's share) */
	size_t			 max_sessions;
	size_t			 max_handshakes;
	unsigned		 hs_rate;	/* new handshakes per second */
	unsigned		 per_cred;
	uint64_t		 idle_ms;
	uint64_t		 stale_ms;
	uint64_t		 hs_window;	/* the second counted */
	unsigned		 hs_count;

	/* timers */
	struct kdc_coap_timer	*wheel[WHEEL_SLOTS];
	uint64_t		 wheel_now;	/* ms already run */
	size_t			 ntimers;

	/* the datagram being fed to GnuTLS (pull) */
	struct kdc_coap_peer	*in_peer;
	const uint8_t		*in_buf;
	size_t			 in_len;
	bool			 in_taken;

	/* output commit */
	struct kdc_syncer	*syncer;
	uint64_t		 sync_done, sync_failed;
	struct outmsg		*out_head, **out_tail;
	size_t			 nout;
	bool			 in_step;

	/* revocation reaching live sessions */
	unsigned		 rv_interval_ms;
	uint64_t		 rv_next;
	int64_t			 rv_gen;
	int64_t			 rv_dgen;	/* deletions */
	int64_t			 rv_since;	/* seconds: what the last
						 * check covered */
	bool			 rv_known;
	void			(*rv_fn)(void *arg);
	void			*rv_arg;
	uint64_t		 idle_next;

	uint8_t			 psk[KDC_PSK_MAX];

	/* multicast requests */
	struct mcreq		 mc[KDC_COAP_MC_MAX];

	/* counters (bench, tests) */
	uint64_t		 n_hvr, n_hs_new, n_hs_done, n_replaced;
	uint64_t		 n_refused_busy, n_evicted, n_own_records;
	uint64_t		 n_mc_req, n_mc_ans, n_mc_drop;
};

/* ---- process-wide keys ---------------------------------------------------- */

/* One cookie key and one ticket key per process: every engine of the
 * group verifies a cookie or a ticket another one made (a peer whose
 * 4-tuple changed lands on another engine). */
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;
static gnutls_datum_t cookie_key;
static gnutls_datum_t ticket_key;
static int keys_err;

static void
keys_init(void)
{
	if (gnutls_key_generate(&cookie_key, GNUTLS_COOKIE_KEY_SIZE) < 0 ||
	    gnutls_session_ticket_key_generate(&ticket_key) < 0)
		keys_err = 1;
}

/* ---- time and the wheel ------------------------------------------------------ */

uint64_t
kdc_coap_now_ms(void)
{
	return (uint64_t)kdc_mono_ms();
}

static void
timer_cancel(struct kdc_coap *c, struct kdc_coap_timer *t)
{
	if (t->when == 0)
		return;
	*t->pprev = t->next;
	if (t->next != NULL)
		t->next->pprev = t->pprev;
	t->next = NULL;
	t->pprev = NULL;
	t->when = 0;
	c->ntimers--;
}

static void
timer_arm(struct kdc_coap *c, struct kdc_coap_timer *t, uint64_t when)
{
	size_t slot;

	timer_cancel(c, t);
	if (when == 0)
		return;
	if (when <= c->wheel_now)
		when = c->wheel_now + 1;
	t->when = when;
	slot = (size_t)(when / WHEEL_MS) % WHEEL_SLOTS;
	t->next = c->wheel[slot];
	if (t->next != NULL)
		t->next->pprev = &t->next;
	t->pprev = &c->wheel[slot];
	c->wheel[slot] = t;
	c->ntimers++;
}

/* ---- the session table ------------------------------------------------------- */

static uint64_t
addr_hash(const struct sockaddr *sa)
{
	uint64_t h = 1469598103934665603ull;
	const uint8_t *b;
	size_t n;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)sa;

		b = (const uint8_t *)&s->sin_addr;
		n = 4;
		h ^= s->sin_port;
	} else {
		const struct sockaddr_in6 *s = (const void *)sa;

		b = (const uint8_t *)&s->sin6_addr;
		n = 16;
		h ^= s->sin6_port;
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	h ^= h >> 29;
	return h * 0xbf58476d1ce4e5b9ull;
}

static bool
addr_eq(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a;
		const struct sockaddr_in *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	{
		const struct sockaddr_in6 *x = (const void *)a;
		const struct sockaddr_in6 *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		    x->sin6_scope_id == y->sin6_scope_id &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
}

static struct kdc_coap_peer *
tab_find(struct kdc_coap *c, const struct kdc_coap_ep *ep,
    const struct sockaddr *sa)
{
	struct kdc_coap_peer *p;

	if (c->tab == NULL)
		return NULL;
	for (p = c->tab[addr_hash(sa) & (c->tabsz - 1)]; p != NULL;
	    p = p->hnext)
		if (p->ep == ep && addr_eq(&p->a.sa, sa))
			return p;
	return NULL;
}

static kdc_err
tab_grow(struct kdc_coap *c)
{
	struct kdc_coap_peer **nt, *p, *next;
	size_t nsz = c->tabsz == 0 ? 1024 : c->tabsz * 2;

	if ((nt = kdc_calloc(nsz, sizeof(*nt))) == NULL)
		return KDC_ERR_NOMEM;
	for (size_t i = 0; i < c->tabsz; i++)
		for (p = c->tab[i]; p != NULL; p = next) {
			size_t b = addr_hash(&p->a.sa) & (nsz - 1);

			next = p->hnext;
			p->hnext = nt[b];
			nt[b] = p;
		}
	kdc_free(c->tab);
	c->tab = nt;
	c->tabsz = nsz;
	return KDC_OK;
}

static kdc_err
tab_add(struct kdc_coap *c, struct kdc_coap_peer *p)
{
	size_t b;
	kdc_err r;

	if (c->npeers + 1 > c->tabsz && (r = tab_grow(c)) != KDC_OK &&
	    c->tab == NULL)
		return r;
	b = addr_hash(&p->a.sa) & (c->tabsz - 1);
	p->hnext = c->tab[b];
	c->tab[b] = p;
	c->npeers++;
	/* newest at the tail of the activity list */
	p->lprev = c->lru_tail;
	p->lnext = NULL;
	if (c->lru_tail != NULL)
		c->lru_tail->lnext = p;
	else
		c->lru_head = p;
	c->lru_tail = p;
	return KDC_OK;
}

static void
tab_del(struct kdc_coap *c, struct kdc_coap_peer *p)
{
	struct kdc_coap_peer **pp;

	for (pp = &c->tab[addr_hash(&p->a.sa) & (c->tabsz - 1)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (*pp == p) {
			*pp = p->hnext;
			break;
		}
	p->hnext = NULL;
	c->npeers--;
	if (p->lprev != NULL)
		p->lprev->lnext = p->lnext;
	else
		c->lru_head = p->lnext;
	if (p->lnext != NULL)
		p->lnext->lprev = p->lprev;
	else
		c->lru_tail = p->lprev;
	p->lprev = p->lnext = NULL;
}

/* p was active now: to the tail of the activity list. */
static void
touch(struct kdc_coap *c, struct kdc_coap_peer *p, uint64_t now)
{
	p->last = now;
	if (c->lru_tail == p || p->state == PS_CLOSED)
		return;
	if (p->lprev != NULL)
		p->lprev->lnext = p->lnext;
	else
		c->lru_head = p->lnext;
	p->lnext->lprev = p->lprev;
	p->lprev = c->lru_tail;
	p->lnext = NULL;
	c->lru_tail->lnext = p;
	c->lru_tail = p;
}

/* ---- sessions per credential ---------------------------------------------- */

static size_t
cred_bucket(const struct kdc_coap *c, int64_t id, size_t sz)
{
	(void)c;
	return (size_t)(((uint64_t)id * 0x9e3779b97f4a7c15ull) >> 20) &
	    (sz - 1);
}

static struct credent **
cred_slot(struct kdc_coap *c, int64_t id)
{
	struct credent **pp;

	for (pp = &c->ctab[cred_bucket(c, id, c->ctabsz)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if ((*pp)->cred_id == id)
			break;
	return pp;
}

/* Twice the buckets once there are twice as many credentials (a million
 * sessions of a million devices keep short chains); on NOMEM it stays. */
static void
cred_grow(struct kdc_coap *c)
{
	size_t nsz = c->ctabsz * 2;
	struct credent **nt, *e, *next;

	if (c->ncred <= c->ctabsz * 2 ||
	    (nt = kdc_calloc(nsz, sizeof(*nt))) == NULL)
		return;
	for (size_t i = 0; i < c->ctabsz; i++)
		for (e = c->ctab[i]; e != NULL; e = next) {
			size_t b = cred_bucket(c, e->cred_id, nsz);

			next = e->hnext;
			e->hnext = nt[b];
			nt[b] = e;
		}
	kdc_free(c->ctab);
	c->ctab = nt;
	c->ctabsz = nsz;
}

static void
cred_unlink(struct kdc_coap *c, struct kdc_coap_peer *p)
{
	struct credent *e = p->ce, **pp;

	if (e == NULL)
		return;
	if (p->cprev != NULL)
		p->cprev->cnext = p->cnext;
	else
		e->head = p->cnext;
	if (p->cnext != NULL)
		p->cnext->cprev = p->cprev;
	else
		e->tail = p->cprev;
	p->cprev = p->cnext = NULL;
	p->ce = NULL;
	if (--e->n == 0) {
		pp = cred_slot(c, e->cred_id);
		*pp = e->hnext;
		kdc_free(e);
		c->ncred--;
	}
}

/* ---- sending ------------------------------------------------------------------ */

static ssize_t
send_to(struct kdc_coap_peer *p, const struct iovec *iov, int n)
{
	struct msghdr mh;
	ssize_t w;

	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &p->a.sa;
	mh.msg_namelen = p->alen;
	mh.msg_iov = (struct iovec *)(uintptr_t)iov;
	mh.msg_iovlen = (size_t)n;
	do
		w = sendmsg(p->ep->fd, &mh, MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	return w;
}

/* GnuTLS's vec push: a whole flight (or record) in one datagram. */
static ssize_t
vec_push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int n)
{
	struct kdc_coap_peer *p = ptr;
	ssize_t w = send_to(p, (const struct iovec *)iov, n);

	if (w < 0) {
		/* a full socket buffer loses the datagram, as the network
		 * may: DTLS retransmits; never block the engine */
		size_t t = 0;

		for (int i = 0; i < n; i++)
			t += iov[i].iov_len;
		return (ssize_t)t;
	}
	return w;
}

static ssize_t
pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	struct kdc_coap_peer *p = ptr;
	struct kdc_coap *c = p->c;

	if (c->in_peer != p || c->in_taken) {
		gnutls_transport_set_errno(p->g, EAGAIN);
		return -1;
	}
	c->in_taken = true;
	if (len > c->in_len)
		len = c->in_len;
	memcpy(buf, c->in_buf, len);
	return (ssize_t)len;
}

/* Exact, as GnuTLS's retransmission logic needs: data only when a
 * datagram for this session is in hand (transport.md §2.2 pitfall 4). */
static int
pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
	struct kdc_coap_peer *p = ptr;

	(void)ms;
	return p->c->in_peer == p && !p->c->in_taken ? 1 : 0;
}

static void
rec_send(struct kdc_coap_peer *p, uint8_t type, const uint8_t *pt,
    size_t len)
{
	uint8_t out[DGRAM_MAX + 64];
	struct iovec iov;
	size_t n;

	if (kdc_rec_seal(p->rec, type, pt, len, out, sizeof(out), &n) !=
	    KDC_OK)
		return;
	iov.iov_base = out;
	iov.iov_len = n;
	(void)send_to(p, &iov, 1);
}

/* One CoAP message out now (the outbox decided it may leave). */
static void
send_now(struct kdc_coap_peer *p, const uint8_t *msg, size_t len)
{
	struct iovec iov;

	if (p->state != PS_OPEN || p->doomed)
		return;
	if (p->nosec) {
		iov.iov_base = (void *)(uintptr_t)msg;
		iov.iov_len = len;
		(void)send_to(p, &iov, 1);
	} else if (p->rec != NULL)
		rec_send(p, KDC_REC_APPDATA, msg, len);
	else if (p->g != NULL)
		(void)gnutls_record_send(p->g, msg, len);
}

/* ---- peers -------------------------------------------------------------------- */

static void peer_free(struct kdc_coap_peer *p);

/* A client session's credentials: only once its GnuTLS session is gone
 * (GnuTLS keeps pointers to them). */
static void
client_creds_free(struct kdc_coap_peer *p)
{
	if (p->g != NULL)
		return;
	if (p->ccred != NULL) {
		gnutls_psk_free_client_credentials(p->ccred);
		p->ccred = NULL;
	}
	if (p->xcli != NULL) {
		gnutls_certificate_free_credentials(p->xcli);
		p->xcli = NULL;
	}
}

void
kdc_coap_peer_ref(struct kdc_coap_peer *p)
{
	p->refs++;
}

void
kdc_coap_peer_unref(struct kdc_coap_peer *p)
{
	if (--p->refs == 0)
		peer_free(p);
}

static void
hs_free(struct kdc_coap *c, struct kdc_coap_peer *p)
{
	kdc_coap_connect_fn fn;

	if (p->hs == NULL)
		return;
	if ((fn = p->hs->connect_fn) != NULL) {
		/* a client handshake that never finished */
		p->hs->connect_fn = NULL;
		fn(p->hs->connect_arg, NULL, p->doom_why != KDC_OK ?
		    p->doom_why : KDC_ERR_CLOSED);
		if (p->hs == NULL)
			return;
	}
	timer_cancel(c, &p->hs->tm);
	kdc_jw_free(p->hs->jw);
	kdc_wipe(p->hs, sizeof(*p->hs));
	kdc_free(p->hs);
	p->hs = NULL;
}

/* The last reference went: p is closed (peer_close() cleaned it), or
 * its engine was freed (c NULL: orphaned, kept for a face's hold). */
static void
peer_free(struct kdc_coap_peer *p)
{
	struct kdc_coap *c = p->c;

	if (c != NULL) {
		timer_cancel(c, &p->tm);
		hs_free(c, p);
		if (p->aprev != NULL)
			p->aprev->anext = p->anext;
		else
			c->all = p->anext;
		if (p->anext != NULL)
			p->anext->aprev = p->aprev;
	}
	if (p->g != NULL)
		gnutls_deinit(p->g);
	p->g = NULL;
	client_creds_free(p);
	if (p->rec != NULL) {
		kdc_rec_wipe(p->rec);
		kdc_free(p->rec);
	}
	if (p->prf != NULL) {
		kdc_wipe(p->prf, p->prf_len);
		kdc_free(p->prf);
	}
	kdc_free(p->auth);
	kdc_free(p);
}

/* Ends p now: out of the table, xl and the face told (once), a
 * close_notify when established (send_alert). */
static void
peer_close(struct kdc_coap_peer *p, bool send_alert)
{
	struct kdc_coap *c = p->c;
	bool was_open = p->state == PS_OPEN;

	if (p->state == PS_CLOSED)
		return;
	if (send_alert && p->state == PS_HANDSHAKE && p->g != NULL)
		/* a refused handshake ends now for the peer too, not at its
		 * timeout (plaintext: our epoch is still 0) */
		(void)gnutls_alert_send(p->g, GNUTLS_AL_FATAL,
		    p->doom_why == KDC_ERR_WRONG_KEY ? GNUTLS_A_DECRYPT_ERROR :
		    GNUTLS_A_HANDSHAKE_FAILURE);
	if (send_alert && was_open && !p->nosec) {
		if (p->rec != NULL) {
			static const uint8_t cn[2] = { 1, 0 };

			rec_send(p, KDC_REC_ALERT, cn, sizeof(cn));
		} else if (p->g != NULL)
			(void)gnutls_bye(p->g, GNUTLS_SHUT_WR);
	}
	if (p->state == PS_HANDSHAKE)
		c->nhs--;
	tab_del(c, p);
	cred_unlink(c, p);
	p->state = PS_CLOSED;
	hs_free(c, p);
	if (p->g != NULL) {
		gnutls_deinit(p->g);
		p->g = NULL;
	}
	client_creds_free(p);
	if (p->rec != NULL) {
		kdc_rec_wipe(p->rec);
		kdc_free(p->rec);
		p->rec = NULL;
	}
	if (p->prf != NULL) {
		kdc_wipe(p->prf, p->prf_len);
		kdc_free(p->prf);
		p->prf = NULL;
		p->prf_len = 0;
	}
	timer_cancel(c, &p->tm);
	if (!p->gone_done) {
		p->gone_done = true;
		if (p->authed || p->nosec) {
			kdc_coap_xl_gone(c->xl, p);
			if (c->gone != NULL)
				c->gone(c->gone_arg, p);
		}
	}
	kdc_coap_peer_unref(p);		/* the table's */
}

static void
peer_doom(struct kdc_coap_peer *p, kdc_err why)
{
	if (p->doomed || p->state == PS_CLOSED)
		return;
	p->doomed = true;
	p->doom_why = why;
	p->refs++;
	p->dnext = p->c->doomed;
	p->c->doomed = p;
}

static void
doomed_close(struct kdc_coap *c)
{
	struct kdc_coap_peer *p;

	while ((p = c->doomed) != NULL) {
		c->doomed = p->dnext;
		p->dnext = NULL;
		p->doomed = false;	/* peer_close sends the alert */
		peer_close(p, true);
		p->doomed = true;
		kdc_coap_peer_unref(p);
	}
}

/* ---- refusals and authentication ------------------------------------------------ */

/* One budget for the whole process: every engine thread's peers share
 * the operator's log (5/s, bursts of 20). */
static pthread_mutex_t loglim_mu = PTHREAD_MUTEX_INITIALIZER;
static struct kdc_log_limit loglim_all, warnlim_all;

/* May a line about a peer be logged now? The caller logs the dropped
 * count first (in its own name: the line says who dropped them). */
static bool
take_log(unsigned long *dropped)
{
	int ok;

	pthread_mutex_lock(&loglim_mu);
	ok = kdc_log_limit_take(&loglim_all,
	    (int64_t)(kdc_coap_now_ms() / 1000), KDC_LOG_PEER_RATE,
	    KDC_LOG_PEER_BURST, dropped);
	pthread_mutex_unlock(&loglim_mu);
	return ok != 0;
}

#define LOG_DROPPED(n)							\
	do {								\
		if ((n) > 0)						\
			kdc_log_info("(%lu refusals and closures of peers "\
			    "not logged: over %d/s)", (n),		\
			    KDC_LOG_PEER_RATE);				\
	} while (0)

/* A limit hit: one warning line per 10 s at most, with the count since. */
static void
limit_warn(struct kdc_coap *c, const char *what, const char *key)
{
	unsigned long dropped;
	int ok;

	(void)c;
	pthread_mutex_lock(&loglim_mu);
	ok = kdc_log_limit_take(&warnlim_all,
	    (int64_t)(kdc_coap_now_ms() / 10000), 1, 1, &dropped);
	pthread_mutex_unlock(&loglim_mu);
	if (ok)
		kdc_log_warn("coap: %s ([coap] %s); %lu more since the last "
		    "warning", what, key, dropped);
}

static void
addr_text(const struct kdc_coap_peer *p, char *out, size_t cap)
{
	char h[INET6_ADDRSTRLEN];

	if (p->a.sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &p->a.in4.sin_addr, h, sizeof(h));
		snprintf(out, cap, "%s:%u", h, ntohs(p->a.in4.sin_port));
	} else {
		char ifn[IF_NAMESIZE];

		inet_ntop(AF_INET6, &p->a.in6.sin6_addr, h, sizeof(h));
		if (p->a.in6.sin6_scope_id != 0 &&
		    if_indextoname(p->a.in6.sin6_scope_id, ifn) != NULL)
			snprintf(out, cap, "[%s%%%s]:%u", h, ifn,
			    ntohs(p->a.in6.sin6_port));
		else
			snprintf(out, cap, "[%s]:%u", h,
			    ntohs(p->a.in6.sin6_port));
	}
}

static void
kdc_coap_auth_refused(struct kdc_coap_peer *p, kdc_err why, int audit,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
kdc_coap_auth_refused(struct kdc_coap_peer *p, kdc_err why, int audit,
    const char *fmt, ...)
{
	struct kdc_coap *c = p->c;
	const char *action = p->hs != NULL && p->hs->auth_action != NULL ?
	    p->hs->auth_action : "auth.dtls";
	const char *subject = p->hs != NULL && p->hs->presented[0] != '\0' ?
	    p->hs->presented : "-";
	const char *what = p->hs != NULL && p->hs->presented_what != NULL ?
	    p->hs->presented_what : "subject";
	char detail[256], addr[KDC_COAP_ADDR_TEXT];
	unsigned long dropped;
	va_list ap;

	p->traced = true;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	addr_text(p, addr, sizeof(addr));
	if (take_log(&dropped)) {
		LOG_DROPPED(dropped);
		kdc_log_info_r(why, "peer=%s endpoint=%s %s %s=%s refused: %s",
		    addr, p->ep->name, action, what, subject, detail);
	}
	if (audit)
		kdc_core_audit_peer(c->core, "coap", action, subject, why,
		    "%s from=%s endpoint=%s", detail, addr, p->ep->name);
}

static void
handshake_failed(struct kdc_coap_peer *p)
{
	if (p->client || !p->vouched || p->authed || p->traced || p->auth == NULL)
		return;
	kdc_coap_auth_refused(p, KDC_ERR_CLOSED, 1, "cred=%" PRId64 " device=%.*s: the "
	    "handshake ended before the peer proved the credential's key",
	    p->auth->cred_id, (int)p->auth->devid_len, p->auth->data);
}

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
		return p->hs != NULL && p->hs->auth_action != NULL &&
		    strcmp(p->hs->auth_action, "auth.psk") == 0;
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

static kdc_err
pauth_set(struct kdc_coap_peer *p, const struct kdc_principal *w)
{
	size_t dl = strnlen(w->dev_id, sizeof(w->dev_id));
	size_t al = strnlen(w->audience, sizeof(w->audience));
	size_t sl = w->spki_len;
	struct pauth *a;

	if (dl > 255 || al > 255 || sl > UINT16_MAX || sl > sizeof(w->spki))
		return KDC_ERR_TOO_LARGE;
	if ((a = kdc_malloc(sizeof(*a) + dl + al + sl)) == NULL)
		return KDC_ERR_NOMEM;
	a->cred_id = w->cred_id;
	a->device = w->device;
	a->type = (uint8_t)w->type;
	a->kind = (uint8_t)w->kind;
	a->devid_len = (uint8_t)dl;
	a->aud_len = (uint8_t)al;
	a->spki_len = (uint16_t)sl;
	memcpy(a->data, w->dev_id, dl);
	memcpy(a->data + dl, w->audience, al);
	memcpy(a->data + dl + al, w->spki, sl);
	kdc_free(p->auth);
	p->auth = a;
	return KDC_OK;
}

/*
 * Second half of every handshake check: core/ said yes (and audited any
 * no); the endpoint's policy may still refuse the kind (a manufacturer
 * credential on the LwM2M Server). On yes the peer is vouched for; it is
 * authenticated when its handshake finishes (and only then counts
 * against its credential's cap: established()).
 */
static kdc_err
peer_accept(struct kdc_coap_peer *p, const struct kdc_principal *who)
{
	struct kdc_coap *c = p->c;
	char addr[KDC_COAP_ADDR_TEXT];
	kdc_err r;

	if (!policy_ok(p->ep, who->kind)) {
		kdc_coap_auth_refused(p, KDC_ERR_WRONG_TYPE, 0,
		    "endpoint refuses %s credentials",
		    kdc_cred_kind_str(who->kind));
		addr_text(p, addr, sizeof(addr));
		kdc_core_audit_peer(c->core, "coap", "auth.policy", addr,
		    KDC_ERR_WRONG_TYPE, "endpoint=%s refuses kind=%s cred=%"
		    PRId64, p->ep->name, kdc_cred_kind_str(who->kind),
		    who->cred_id);
		return KDC_ERR_DENIED;
	}
	if ((r = pauth_set(p, who)) != KDC_OK)
		return r;
	p->vouched = true;
	if (kdc_log_get_level() >= KDC_LOG_DEBUG) {
		addr_text(p, addr, sizeof(addr));
		kdc_log_debug("peer=%s endpoint=%s identity found cred=%lld "
		    "type=%s: key to be proven by the handshake", addr,
		    p->ep->name, (long long)who->cred_id,
		    kdc_cred_type_str(who->type));
	}
	return KDC_OK;
}

/* The cap on sessions per credential: past it the least recently made
 * session of that credential gives way (a device that reboots keeps
 * getting in; one credential cannot hold thousands of sessions). Only a
 * finished handshake is admitted: a peer that names a credential without
 * proving its key (anyone who knows a PSK identity or has seen a
 * certificate) must not close that credential's sessions. */
static kdc_err
cred_admit(struct kdc_coap_peer *p)
{
	struct kdc_coap *c = p->c;
	struct credent **pp, *e;

	if (p->ce != NULL || c->per_cred == 0)
		return KDC_OK;
	pp = cred_slot(c, p->auth->cred_id);
	if ((e = *pp) == NULL) {
		if ((e = kdc_calloc(1, sizeof(*e))) == NULL)
			return KDC_ERR_NOMEM;
		e->cred_id = p->auth->cred_id;
		*pp = e;
		c->ncred++;
		cred_grow(c);	/* e stays valid: only the chains move */
	}
	while (e->n >= c->per_cred && e->head != NULL) {
		struct kdc_coap_peer *old = e->head;

		limit_warn(c, "a credential reached its session cap: its "
		    "oldest session closed", "sessions_per_credential");
		c->n_evicted++;
		if (e->n == 1) {
			/* the entry dies with its last session */
			cred_unlink(c, old);
			peer_doom(old, KDC_ERR_BUSY);
			return cred_admit(p);
		}
		cred_unlink(c, old);
		peer_doom(old, KDC_ERR_BUSY);
	}
	p->ce = e;
	p->cprev = e->tail;
	p->cnext = NULL;
	if (e->tail != NULL)
		e->tail->cnext = p;
	else
		e->head = p;
	e->tail = p;
	e->n++;
	return KDC_OK;
}

static int
psk_cb(gnutls_session_t g, const gnutls_datum_t *username,
    gnutls_datum_t *key)
{
	struct kdc_coap_peer *p = gnutls_session_get_ptr(g);
	struct kdc_coap *c;
	struct kdc_principal who;
	char id[KDC_PSK_IDENTITY_MAX + 1];
	size_t len;
	kdc_err r;

	if (p == NULL || p->hs == NULL)
		return -1;
	c = p->c;
	len = sizeof(c->psk);
	p->hs->auth_action = "auth.psk";
	p->hs->presented_what = "identity";
	if (username->size == 0 || username->size > KDC_PSK_IDENTITY_MAX ||
	    memchr(username->data, '\0', username->size) != NULL) {
		kdc_log_escape(username->data, username->size >
		    KDC_PSK_IDENTITY_MAX ? KDC_PSK_IDENTITY_MAX :
		    username->size, p->hs->presented,
		    sizeof(p->hs->presented));
		kdc_coap_auth_refused(p, KDC_ERR_MALFORMED, 1,
		    "PSK identity of %u bytes", username->size);
		return -1;
	}
	memcpy(id, username->data, username->size);
	id[username->size] = '\0';
	kdc_log_escape(id, username->size, p->hs->presented,
	    sizeof(p->hs->presented));
	r = kdc_core_auth_psk(c->core, "coap", id, c->psk, &len, &who);
	if (r != KDC_OK)
		kdc_coap_auth_refused(p, r, !core_audited(p, r), "%s", refusal_text(r));
	else
		r = peer_accept(p, &who);
	if (r == KDC_OK && (key->data = gnutls_malloc(len)) == NULL)
		r = KDC_ERR_NOMEM;
	if (r != KDC_OK) {
		kdc_wipe(c->psk, sizeof(c->psk));
		return -1;
	}
	memcpy(key->data, c->psk, len);
	key->size = (unsigned)len;
	kdc_wipe(c->psk, sizeof(c->psk));
	return 0;
}

/* The peer's chain or raw public key as GnuTLS received it, through
 * core/ (also on a resumed session: GnuTLS calls no callback then). */
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

	if ((l = gnutls_certificate_get_peers(g, &n)) == NULL || n == 0)
		return KDC_ERR_UNTRUSTED;
	kdc_sha256(l[0].data, l[0].size, fp);
	kdc_hex_encode(fp, 8, hex);
	switch (gnutls_certificate_type_get2(g, GNUTLS_CTYPE_PEERS)) {
	case GNUTLS_CRT_RAW:
		p->hs->auth_action = "auth.rpk";
		p->hs->presented_what = "spki_sha256";
		snprintf(p->hs->presented, sizeof(p->hs->presented), "%s", hex);
		r = kdc_core_auth_spki(p->c->core, "coap", l[0].data,
		    l[0].size, &who);
		break;
	case GNUTLS_CRT_X509:
		p->hs->auth_action = "auth.cert";
		p->hs->presented_what = "leaf_sha256";
		snprintf(p->hs->presented, sizeof(p->hs->presented), "%s", hex);
		if (n > KDC_CHAIN_MAX) {
			r = KDC_ERR_TOO_LARGE;
			kdc_coap_auth_refused(p, r, 1, "chain of %u certificates", n);
			return r;
		}
		for (unsigned i = 0; i < n; i++) {
			certs[i] = l[i].data;
			lens[i] = l[i].size;
		}
		r = kdc_core_auth_cert(p->c->core, "coap", certs, lens, n,
		    &who);
		break;
	default:
		r = KDC_ERR_UNSUPPORTED;
		kdc_coap_auth_refused(p, r, 1, "certificate type");
		return r;
	}
	if (r != KDC_OK)
		kdc_coap_auth_refused(p, r, !core_audited(p, r), "%s", refusal_text(r));
	else
		r = peer_accept(p, &who);
	return r;
}

static int
verify_cb(gnutls_session_t g)
{
	struct kdc_coap_peer *p = gnutls_session_get_ptr(g);

	if (p == NULL || p->hs == NULL)
		return -1;
	if (p->vouched)
		return 0;
	return check_peer_cert(p, g) == KDC_OK ? 0 : -1;
}

/*
 * A resumed handshake calls neither callback (transport.md §2.2 pitfall
 * 8): what the ticket carried is checked against the store again, so a
 * revoked device does not come back through a ticket.
 */
static kdc_err
resumed_check(struct kdc_coap_peer *p)
{
	struct kdc_principal who;
	gnutls_datum_t u;
	char id[KDC_PSK_IDENTITY_MAX + 1];
	size_t len;
	kdc_err r;

	if (gnutls_psk_server_get_username2(p->g, &u) == 0 && u.size > 0) {
		p->hs->auth_action = "auth.psk";
		p->hs->presented_what = "identity";
		if (u.size > KDC_PSK_IDENTITY_MAX ||
		    memchr(u.data, '\0', u.size) != NULL)
			return KDC_ERR_MALFORMED;
		memcpy(id, u.data, u.size);
		id[u.size] = '\0';
		kdc_log_escape(id, u.size, p->hs->presented,
		    sizeof(p->hs->presented));
		len = sizeof(p->c->psk);
		r = kdc_core_auth_psk(p->c->core, "coap", id, p->c->psk, &len,
		    &who);
		kdc_wipe(p->c->psk, sizeof(p->c->psk));
		if (r != KDC_OK) {
			kdc_coap_auth_refused(p, r, !core_audited(p, r),
			    "resumed session: %s", refusal_text(r));
			return r;
		}
		return peer_accept(p, &who);
	}
	return check_peer_cert(p, p->g);
}

/*
 * GnuTLS's audit log is global. Ours logs the line at debug and, for a
 * session of the engine stepping on this thread, watches for the record
 * that does not decrypt during a handshake: after core/ vouched for the
 * identity, that is the peer's Finished made with another key (DTLS
 * drops such records silently, RFC 6347 §4.1.2.7; without this the
 * handshake would only time out).
 */
static __thread struct kdc_coap *step_engine;

static void
audit_cb(gnutls_session_t g, const char *text)
{
	struct kdc_coap *c = step_engine;
	struct kdc_coap_peer *p;
	size_t n = strlen(text);

	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	kdc_log_msg(KDC_LOG_DEBUG, "gnutls", 0, KDC_OK, "%.*s", (int)n, text);
	if (c == NULL || g == NULL ||
	    strstr(text, "due to invalid decryption") == NULL)
		return;
	if ((p = gnutls_session_get_ptr(g)) == NULL || p->c != c ||
	    p->g != g || p->state != PS_HANDSHAKE || !p->vouched ||
	    p->doomed || p->auth == NULL)
		return;
	kdc_coap_auth_refused(p, KDC_ERR_WRONG_KEY, 1, "cred=%" PRId64 " device=%.*s: "
	    "its handshake record does not decrypt: the peer does not hold "
	    "the credential's key", p->auth->cred_id, (int)p->auth->devid_len,
	    p->auth->data);
	peer_doom(p, KDC_ERR_WRONG_KEY);
}

/* ---- the demultiplexer ------------------------------------------------------ */

kdc_err
kdc_coap_demux(const uint8_t *buf, size_t len, struct kdc_coap_hello *h)
{
	struct kdc_rd rd, body;
	uint8_t type, ht, sidl, ckl;
	uint16_t ver, epoch, rlen, mseq, cver;
	uint64_t seq, hlen, foff, flen;

	memset(h, 0, sizeof(*h));
	kdc_rd_init(&rd, buf, len);
	if (!kdc_rd_u8(&rd, &type) || !kdc_rd_be16(&rd, &ver) ||
	    !kdc_rd_be16(&rd, &epoch) || !kdc_rd_be(&rd, 6, &seq) ||
	    !kdc_rd_be16(&rd, &rlen))
		return KDC_ERR_TRUNCATED;
	if (ver != 0xfefd && ver != 0xfeff)
		return KDC_ERR_MALFORMED;
	h->type = type;
	h->epoch = epoch;
	if (type != KDC_REC_HANDSHAKE || epoch != 0 ||
	    rlen > len - KDC_REC_HDR)
		return KDC_OK;
	/* handshake header: type, length(3), message_seq, fragment
	 * offset(3), fragment length(3); then the ClientHello's version,
	 * random, session id and cookie (RFC 6347 §4.2.2, §4.3.2) */
	kdc_rd_init(&body, buf + KDC_REC_HDR, rlen);
	if (!kdc_rd_u8(&body, &ht) || !kdc_rd_be(&body, 3, &hlen) ||
	    !kdc_rd_be16(&body, &mseq) || !kdc_rd_be(&body, 3, &foff) ||
	    !kdc_rd_be(&body, 3, &flen))
		return KDC_OK;
	if (ht != 1 || foff != 0 || flen > hlen)
		return KDC_OK;
	(void)mseq;
	if (!kdc_rd_be16(&body, &cver) ||
	    !kdc_rd_bytes(&body, h->random, sizeof(h->random)) ||
	    !kdc_rd_u8(&body, &sidl) || sidl > 32 ||
	    !kdc_rd_skip(&body, sidl) || !kdc_rd_u8(&body, &ckl) ||
	    ckl > 32)
		return KDC_OK;
	(void)cver;
	h->cookie_len = ckl;
	h->is_hello = true;
	/* the cipher suites: does it offer ECDHE_ECDSA (RFC 4492, 7251,
	 * 5289, 7905)? Only such peers get session tickets: a PSK handshake
	 * is as cheap as a resumption and a ticket costs ~400 bytes on the
	 * device's radio */
	if (kdc_rd_skip(&body, ckl) && kdc_rd_be16(&body, &rlen) &&
	    rlen % 2 == 0)
		for (uint16_t i = 0; i < rlen / 2; i++) {
			uint16_t cs;

			if (!kdc_rd_be16(&body, &cs))
				break;
			if ((cs >= 0xc006 && cs <= 0xc00a) ||
			    (cs >= 0xc023 && cs <= 0xc024) ||
			    (cs >= 0xc02b && cs <= 0xc02c) ||
			    (cs >= 0xc0ac && cs <= 0xc0af) || cs == 0xcca9)
				h->offers_ecdsa = true;
		}
	return KDC_OK;
}

/* ---- cookies -------------------------------------------------------------------- */

/* The cookie's client data: the peer's address and port, the endpoint,
 * and the time window (a cookie is good in its window and the next). */
static size_t
cookie_data(const struct kdc_coap_ep *ep, const struct sockaddr *sa,
    uint64_t window, uint8_t *out)
{
	size_t n = 0;

	memcpy(out + n, &window, sizeof(window));
	n += sizeof(window);
	memcpy(out + n, &ep->port, sizeof(ep->port));
	n += sizeof(ep->port);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)sa;

		memcpy(out + n, &s->sin_port, 2);
		memcpy(out + n + 2, &s->sin_addr, 4);
		n += 6;
	} else {
		const struct sockaddr_in6 *s = (const void *)sa;

		memcpy(out + n, &s->sin6_port, 2);
		memcpy(out + n + 2, &s->sin6_addr, 16);
		n += 18;
	}
	return n;
}

struct hvr_ctx {
	const struct kdc_coap_ep *ep;
	const struct sockaddr	*sa;
	socklen_t		 alen;
};

static ssize_t
hvr_push(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
	const struct hvr_ctx *h = ptr;

	return sendto(h->ep->fd, data, len, MSG_DONTWAIT, h->sa, h->alen);
}

/* KDC_OK with the prestate when the hello carries a cookie we made for
 * this address in this window or the one before. */
static bool
cookie_ok(const struct kdc_coap_ep *ep, const struct sockaddr *sa,
    const uint8_t *buf, size_t len, gnutls_dtls_prestate_st *pre)
{
	uint64_t w = (uint64_t)time(NULL) / COOKIE_WINDOW_S;
	uint8_t cd[40];
	size_t n;

	for (int i = 0; i < 2; i++) {
		n = cookie_data(ep, sa, w - (uint64_t)i, cd);
		memset(pre, 0, sizeof(*pre));
		if (gnutls_dtls_cookie_verify(&cookie_key, cd, n,
		    (void *)(uintptr_t)buf, len, pre) == 0)
			return true;
	}
	return false;
}

static void
cookie_send(struct kdc_coap *c, const struct kdc_coap_ep *ep,
    const struct sockaddr *sa, socklen_t alen, const uint8_t *buf,
    size_t len)
{
	gnutls_dtls_prestate_st pre;
	struct hvr_ctx h = { ep, sa, alen };
	uint64_t w = (uint64_t)time(NULL) / COOKIE_WINDOW_S;
	uint8_t cd[40];
	size_t n = cookie_data(ep, sa, w, cd);

	/* the prestate (the hello's record and message sequence numbers)
	 * comes from a verify of this very datagram */
	memset(&pre, 0, sizeof(pre));
	(void)gnutls_dtls_cookie_verify(&cookie_key, cd, n,
	    (void *)(uintptr_t)buf, len, &pre);
	if (gnutls_dtls_cookie_send(&cookie_key, cd, n, &pre, &h,
	    hvr_push) >= 0)
		c->n_hvr++;
}

/* ---- admission -------------------------------------------------------------------- */

/* Room for one more session: evict the least recently active one if it
 * is stale and idle; otherwise refuse (never evict an active one). */
static bool
room_for_one(struct kdc_coap *c, uint64_t now)
{
	struct kdc_coap_peer *p = c->lru_head;

	if (c->npeers < c->max_sessions)
		return true;
	for (int i = 0; i < 8 && p != NULL; i++, p = p->lnext) {
		if (p->state != PS_OPEN || p->doomed ||
		    now - p->last < c->stale_ms ||
		    kdc_coap_xl_busy(c->xl, p))
			continue;
		c->n_evicted++;
		limit_warn(c, "session table full: least recently active "
		    "stale sessions evicted", "max_sessions");
		peer_close(p, false);
		return true;
	}
	return false;
}

/* The budget of new handshakes: per second, and half-open at once. */
static bool
handshake_budget(struct kdc_coap *c, uint64_t now)
{
	uint64_t sec = now / 1000;

	if (sec != c->hs_window) {
		c->hs_window = sec;
		c->hs_count = 0;
	}
	if (c->nhs >= c->max_handshakes) {
		limit_warn(c, "half-open handshakes at their cap: new ones "
		    "refused", "max_handshakes");
		return false;
	}
	if (c->hs_rate > 0 && c->hs_count >= c->hs_rate) {
		limit_warn(c, "new handshakes per second over budget: new "
		    "ones refused", "handshake_rate");
		return false;
	}
	return true;
}

static struct kdc_coap_peer *
peer_new(struct kdc_coap *c, const struct kdc_coap_ep *ep,
    const struct sockaddr *sa, socklen_t alen, uint64_t now)
{
	struct kdc_coap_peer *p;

	if ((p = kdc_calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->c = c;
	p->ep = ep;
	memcpy(&p->a, sa, alen);
	p->alen = alen;
	p->serial = ++c->serial;
	p->last = now;
	p->refs = 1;			/* the table's */
	p->tm.p = p;
	p->tm.kind = TM_XL;
	if (tab_add(c, p) != KDC_OK) {
		kdc_free(p);
		return NULL;
	}
	p->anext = c->all;
	if (c->all != NULL)
		c->all->aprev = p;
	c->all = p;
	return p;
}

static void hs_step(struct kdc_coap_peer *p);

/* A cookie-verified ClientHello: a new session from it. */
static void
session_start(struct kdc_coap *c, const struct kdc_coap_ep *ep,
    const struct sockaddr *sa, socklen_t alen, const uint8_t *buf,
    size_t len, const struct kdc_coap_hello *h,
    gnutls_dtls_prestate_st *pre, uint64_t now)
{
	struct kdc_coap_peer *p;
	gnutls_session_t g = NULL;
	unsigned flags = GNUTLS_SERVER | GNUTLS_DATAGRAM | GNUTLS_NONBLOCK |
	    GNUTLS_ENABLE_RAWPK | GNUTLS_NO_SIGNAL;

	if (!handshake_budget(c, now) || !room_for_one(c, now)) {
		c->n_refused_busy++;
		return;
	}
	if ((p = peer_new(c, ep, sa, alen, now)) == NULL)
		return;
	if ((p->hs = kdc_calloc(1, sizeof(*p->hs))) == NULL)
		goto fail;
	memcpy(p->hs->random, h->random, sizeof(h->random));
	p->hs->tm.p = p;
	p->hs->tm.kind = TM_HS;
	p->hs->deadline = now + KDC_COAP_HANDSHAKE_MS;
	if (gnutls_init(&g, flags) < 0)
		goto fail;
	p->g = g;
	if (gnutls_priority_set(g, h->offers_ecdsa ? c->prio : c->prio_nt) <
	    0 ||
	    gnutls_credentials_set(g, GNUTLS_CRD_PSK, c->pcred) < 0 ||
	    (c->xcred != NULL && gnutls_credentials_set(g,
	    GNUTLS_CRD_CERTIFICATE, c->xcred) < 0) ||
	    /* (enabling tickets clears the priority's %NO_TICKETS) */
	    (h->offers_ecdsa &&
	    gnutls_session_ticket_enable_server(g, &ticket_key) < 0))
		goto fail;
	gnutls_db_set_cache_expiration(g, KDC_COAP_TICKET_S);
	gnutls_certificate_server_set_request(g, GNUTLS_CERT_REQUIRE);
	gnutls_session_set_verify_function(g, verify_cb);
	gnutls_session_set_ptr(g, p);
	gnutls_transport_set_ptr(g, p);
	gnutls_transport_set_pull_function(g, pull);
	gnutls_transport_set_pull_timeout_function(g, pull_timeout);
	gnutls_transport_set_vec_push_function(g, vec_push);
	gnutls_dtls_set_mtu(g, KDC_COAP_DTLS_MTU);
	gnutls_dtls_set_timeouts(g, 1000, KDC_COAP_HANDSHAKE_MS);
	gnutls_dtls_prestate_set(g, pre);
	p->state = PS_HANDSHAKE;
	c->nhs++;
	c->hs_count++;
	c->n_hs_new++;
	c->in_peer = p;
	c->in_buf = buf;
	c->in_len = len;
	c->in_taken = false;
	hs_step(p);
	c->in_peer = NULL;
	return;
fail:
	peer_close(p, false);
}

/* ---- handshakes ----------------------------------------------------------------- */

static void
hs_timer_arm(struct kdc_coap_peer *p)
{
	unsigned ms = gnutls_dtls_get_timeout(p->g);
	uint64_t when = kdc_coap_now_ms() + (ms == 0 ? 1 : ms);

	if (when > p->hs->deadline)
		when = p->hs->deadline;
	timer_arm(p->c, &p->hs->tm, when);
}

/* The handshake finished with a credential core/ vouched for: the peer
 * is authenticated. */
static void
kdc_coap_peer_confirm(struct kdc_coap_peer *p)
{
	char addr[KDC_COAP_ADDR_TEXT];

	p->authed = true;
	p->state = PS_OPEN;
	if (kdc_log_get_level() < KDC_LOG_DEBUG)
		return;
	addr_text(p, addr, sizeof(addr));
	if (p->client && p->auth->cred_id == 0) {
		/* a client session that stands for nobody (an OCF device
		 * not in the store yet; Just Works authenticates nobody):
		 * the suite says how it was secured, not a principal */
		kdc_log_debug("peer=%s client session open suite=0x%04x, no "
		    "principal%s", addr, kdc_coap_peer_suite(p),
		    kdc_coap_peer_suite(p) == 0xFF00 ? " (Just Works: "
		    "unauthenticated)" : "");
		return;
	}
	kdc_log_debug("peer=%s endpoint=%s resumed=%d authenticated cred=%"
	    PRId64 " type=%s device=%.*s", addr, p->ep->name,
	    p->g != NULL && gnutls_session_is_resumed(p->g) ? 1 : 0,
	    p->auth->cred_id,
	    kdc_cred_type_str((enum kdc_cred_type)p->auth->type),
	    (int)p->auth->devid_len, p->auth->data);
}

/* A client session's handshake ended: what its caller may read once
 * GnuTLS's session is gone (kdc_coap_peer_suite(), kdc_coap_peer_prf()). */
static kdc_err
client_keep(struct kdc_coap_peer *p)
{
	gnutls_kx_algorithm_t kx = gnutls_kx_get(p->g), k2;
	gnutls_cipher_algorithm_t ci = gnutls_cipher_get(p->g), c2;
	gnutls_mac_algorithm_t mac = gnutls_mac_get(p->g), m2;
	gnutls_protocol_t v2;
	unsigned char id[2];
	const struct hsinfo *h = p->hs;

	for (size_t i = 0; gnutls_cipher_suite_info(i, id, &k2, &c2, &m2,
	    &v2) != NULL; i++)
		if (k2 == kx && c2 == ci && m2 == mac) {
			p->suite = (uint16_t)(id[0] << 8 | id[1]);
			break;
		}
	if (h->prf_len == 0)
		return KDC_OK;
	if ((p->prf = kdc_malloc(h->prf_len)) == NULL)
		return KDC_ERR_NOMEM;
	if (gnutls_prf(p->g, h->prf_label_len, h->prf_label,
	    h->prf_seed == KDC_COAP_PRF_SERVER_FIRST, 0, NULL, h->prf_len,
	    (char *)p->prf) < 0) {
		kdc_wipe(p->prf, h->prf_len);
		kdc_free(p->prf);
		p->prf = NULL;
		return KDC_ERR_TLS;
	}
	p->prf_len = h->prf_len;
	return KDC_OK;
}

static void
established(struct kdc_coap_peer *p)
{
	struct kdc_coap *c = p->c;
	kdc_coap_connect_fn fn;
	void *arg;
	kdc_err r;

	if (p->client) {
		/* the server proved the PSK we hold, or showed a credential
		 * the caller's check accepted (and proved its key): the
		 * session stands for the principal given to
		 * kdc_coap_connect() */
		if (p->hs->cli_cred != KDC_COAP_CLIENT_PSK &&
		    p->hs->cli_cred != KDC_COAP_CLIENT_JW &&
		    !p->hs->checked) {
			p->doom_why = KDC_ERR_UNTRUSTED;
			peer_close(p, true);
			return;
		}
		/* (JW: jw_done() kept the suite and the PRF output) */
		if (p->g != NULL && (r = client_keep(p)) != KDC_OK) {
			p->doom_why = r;
			peer_close(p, true);
			return;
		}
		kdc_coap_peer_confirm(p);
		c->nhs--;
		c->n_hs_done++;
		fn = p->hs->connect_fn;
		arg = p->hs->connect_arg;
		p->hs->connect_fn = NULL;
		hs_free(c, p);
		p->refs++;
		if (fn != NULL)
			fn(arg, p, KDC_OK);
		kdc_coap_peer_unref(p);
		return;
	}

	if (gnutls_session_is_resumed(p->g) && !p->vouched) {
		if ((r = resumed_check(p)) != KDC_OK) {
			if (!p->traced)
				kdc_coap_auth_refused(p, r, 1, "resumed session refused");
			peer_close(p, true);
			return;
		}
	}
	if (!p->vouched || p->auth == NULL) {
		kdc_coap_auth_refused(p, KDC_ERR_UNTRUSTED, 1,
		    "the handshake ended with no credential checked");
		peer_close(p, true);
		return;
	}
	if (cred_admit(p) != KDC_OK) {
		peer_close(p, true);
		return;
	}
	kdc_coap_peer_confirm(p);
	c->nhs--;
	c->n_hs_done++;
	hs_free(c, p);
}

static void
hs_step(struct kdc_coap_peer *p)
{
	int ret;

	step_engine = p->c;
	ret = gnutls_handshake(p->g);
	step_engine = NULL;
	if (p->doomed || p->state != PS_HANDSHAKE)
		return;
	if (ret == 0) {
		established(p);
		return;
	}
	if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED ||
	    !gnutls_error_is_fatal(ret)) {
		if (kdc_coap_now_ms() >= p->hs->deadline) {
			handshake_failed(p);
			p->doom_why = KDC_ERR_TIMEOUT;
			peer_close(p, false);
			return;
		}
		hs_timer_arm(p);
		return;
	}
	if (!p->traced && p->vouched)
		handshake_failed(p);
	else if (!p->traced && kdc_log_get_level() >= KDC_LOG_DEBUG) {
		char addr[KDC_COAP_ADDR_TEXT];

		addr_text(p, addr, sizeof(addr));
		kdc_log_debug("peer=%s endpoint=%s handshake failed: %s", addr,
		    p->ep->name, gnutls_strerror(ret));
	}
	(void)gnutls_alert_send_appropriate(p->g, ret);
	p->doom_why = ret == GNUTLS_E_TIMEDOUT ? KDC_ERR_TIMEOUT : KDC_ERR_TLS;
	if (p->client && p->hs->check_err != KDC_OK)
		p->doom_why = p->hs->check_err;	/* the caller's refusal */
	peer_close(p, false);
}

/* ---- established sessions ---------------------------------------------------------- */

/*
 * After the peer's first application record (it holds our Finished: no
 * flight of ours needs resending), keep only the record state and free
 * the GnuTLS session. A cipher record.c does not do keeps GnuTLS's.
 */
static void
to_own_records(struct kdc_coap_peer *p)
{
	struct kdc_rec *r;

	if (p->g == NULL || gnutls_record_check_pending(p->g) > 0)
		return;
	if ((r = kdc_malloc(sizeof(*r))) == NULL)
		return;
	if (kdc_rec_export(r, p->g) != KDC_OK) {
		kdc_rec_wipe(r);
		kdc_free(r);
		return;
	}
	p->rec = r;
	gnutls_deinit(p->g);
	p->g = NULL;
	client_creds_free(p);
	p->c->n_own_records++;
}

static void
app_input(struct kdc_coap_peer *p, const uint8_t *pt, size_t len)
{
	struct kdc_coap *c = p->c;

	p->app_seen = true;
	kdc_coap_xl_input(c->xl, p, pt, len);
}

static void
gnutls_input(struct kdc_coap_peer *p)
{
	struct kdc_coap *c = p->c;
	uint8_t pt[DGRAM_MAX];
	ssize_t n;

	for (;;) {
		n = gnutls_record_recv(p->g, pt, sizeof(pt));
		if (n > 0) {
			app_input(p, pt, (size_t)n);
			if (p->state != PS_OPEN || p->g == NULL)
				return;
			continue;
		}
		if (n == 0) {			/* close_notify */
			peer_close(p, false);
			return;
		}
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			break;
		if (n == GNUTLS_E_REHANDSHAKE) {
			(void)gnutls_alert_send(p->g, GNUTLS_AL_WARNING,
			    GNUTLS_A_NO_RENEGOTIATION);
			continue;
		}
		if (!gnutls_error_is_fatal((int)n))
			continue;
		peer_close(p, false);
		return;
	}
	if (p->app_seen && c->in_taken)
		to_own_records(p);
}

static void
rec_input(struct kdc_coap_peer *p, uint8_t *buf, size_t len)
{
	const uint8_t *pt;
	size_t off = 0, rl, ptl;
	uint16_t epoch;
	uint64_t seq;
	uint8_t type, t2;

	while (off < len && p->state == PS_OPEN) {
		if (kdc_rec_header(buf + off, len - off, &type, &epoch, &seq,
		    &rl) != KDC_OK)
			return;
		if (epoch == p->rec->epoch && kdc_rec_open(p->rec, buf + off,
		    rl, &t2, &pt, &ptl) == KDC_OK) {
			if (t2 == KDC_REC_APPDATA)
				app_input(p, pt, ptl);
			else if (t2 == KDC_REC_ALERT && ptl >= 2 &&
			    (pt[0] == 2 || pt[1] == 0)) {
				peer_close(p, false);	/* fatal, close_notify */
				return;
			}
			/* handshake in epoch 1: renegotiation, refused by
			 * not answering; CCS: ignored */
		}
		off += rl;
	}
}

/* ---- Just Works: our own handshake (jw.h) --------------------------------------------- */

/* The retransmission timer of the flight just sent (never past the
 * handshake's deadline). */
static void
jw_timer_arm(struct kdc_coap_peer *p)
{
	uint64_t when = kdc_coap_now_ms() + kdc_jw_rto_ms(p->hs->jw);

	if (when > p->hs->deadline)
		when = p->hs->deadline;
	timer_arm(p->c, &p->hs->tm, when);
}

/* The current flight of p's JW handshake now, and its timer. */
static void
jw_send(struct kdc_coap_peer *p)
{
	uint8_t out[KDC_JW_OUT_MAX];
	struct iovec iov;
	size_t n = 0;

	if (kdc_jw_flight(p->hs->jw, out, sizeof(out), &n) == KDC_OK && n > 0) {
		iov.iov_base = out;
		iov.iov_len = n;
		(void)send_to(p, &iov, 1);
	}
	jw_timer_arm(p);
}

/* The server's Finished verified: our record layer takes the session. */
static void
jw_done(struct kdc_coap_peer *p)
{
	struct hsinfo *h = p->hs;
	kdc_err r = KDC_ERR_NOMEM;

	if ((p->rec = kdc_malloc(sizeof(*p->rec))) == NULL)
		goto fail;
	if ((r = kdc_jw_export(h->jw, p->rec)) != KDC_OK)
		goto fail;
	p->suite = KDC_JW_SUITE;
	if (h->prf_len > 0) {
		r = KDC_ERR_NOMEM;
		if ((p->prf = kdc_malloc(h->prf_len)) == NULL)
			goto fail;
		p->prf_len = h->prf_len;
		if (kdc_jw_prf(h->jw, h->prf_label, h->prf_label_len,
		    h->prf_seed == KDC_COAP_PRF_SERVER_FIRST, p->prf,
		    h->prf_len) != KDC_OK) {
			r = KDC_ERR_TLS;
			goto fail;
		}
	}
	established(p);
	return;
fail:
	p->doom_why = r;
	peer_close(p, true);
}

/* A datagram for a JW handshake. Every failure is KDC_ERR_TLS to the
 * caller (coap.h); the fatal alert jw.c owes goes out first. */
static void
jw_input(struct kdc_coap_peer *p, uint8_t *buf, size_t len)
{
	uint8_t out[KDC_JW_OUT_MAX];
	struct iovec iov;
	size_t n = 0;
	bool done = false;
	kdc_err r;

	r = kdc_jw_input(p->hs->jw, buf, len, out, sizeof(out), &n, &done);
	if (n > 0) {
		iov.iov_base = out;
		iov.iov_len = n;
		(void)send_to(p, &iov, 1);
	}
	if (r != KDC_OK) {
		if (kdc_log_get_level() >= KDC_LOG_DEBUG) {
			char addr[KDC_COAP_ADDR_TEXT];

			addr_text(p, addr, sizeof(addr));
			kdc_log_debug("peer=%s JW handshake failed: %s", addr,
			    kdc_err_str(r));
		}
		p->doom_why = r == KDC_ERR_NOMEM ? r : KDC_ERR_TLS;
		peer_close(p, false);
		return;
	}
	if (done) {
		jw_done(p);
		return;
	}
	if (n > 0)
		jw_timer_arm(p);	/* a flight went: its own timer */
}

/* The JW handshake's timer: retransmit, or give up at the deadline. */
static void
jw_timer(struct kdc_coap_peer *p, uint64_t now)
{
	if (now >= p->hs->deadline) {
		p->doom_why = KDC_ERR_TIMEOUT;
		peer_close(p, false);
		return;
	}
	jw_send(p);
}

/* One datagram for p (in the table). */
static void
peer_input(struct kdc_coap_peer *p, uint8_t *buf, size_t len, uint64_t now)
{
	struct kdc_coap *c = p->c;

	if (p->nosec) {
		touch(c, p, now);
		app_input(p, buf, len);
		return;
	}
	if (p->rec != NULL) {
		touch(c, p, now);
		rec_input(p, buf, len);
		return;
	}
	if (p->state == PS_HANDSHAKE && p->hs != NULL && p->hs->jw != NULL) {
		jw_input(p, buf, len);
		return;
	}
	c->in_peer = p;
	c->in_buf = buf;
	c->in_len = len;
	c->in_taken = false;
	if (p->state == PS_HANDSHAKE)
		hs_step(p);
	else if (p->state == PS_OPEN) {
		touch(c, p, now);
		gnutls_input(p);
	}
	c->in_peer = NULL;
}

static void
datagram(struct kdc_coap *c, const struct kdc_coap_ep *ep,
    const struct sockaddr *sa, socklen_t alen, uint8_t *buf, size_t len,
    uint64_t now)
{
	struct kdc_coap_peer *p = tab_find(c, ep, sa);
	struct kdc_coap_hello h;
	gnutls_dtls_prestate_st pre;

	if (ep->client) {
		/* only answers to the sessions we opened */
		if (p != NULL)
			peer_input(p, buf, len, now);
		return;
	}
	if ((ep->accept & KDC_COAP_ACCEPT_NOSEC) != 0) {
		if (p == NULL) {
			if (!room_for_one(c, now) ||
			    (p = peer_new(c, ep, sa, alen, now)) == NULL)
				return;
			p->nosec = true;
			p->state = PS_OPEN;
		}
		peer_input(p, buf, len, now);
		return;
	}
	if (kdc_coap_demux(buf, len, &h) != KDC_OK)
		return;
	if (p != NULL && !h.is_hello) {
		peer_input(p, buf, len, now);
		return;
	}
	if (!h.is_hello)
		return;		/* no state for what did not come through
				 * a cookie round: dropped */
	if (p != NULL && p->state == PS_HANDSHAKE && p->hs != NULL &&
	    memcmp(p->hs->random, h.random, sizeof(h.random)) == 0) {
		peer_input(p, buf, len, now);	/* a retransmission */
		return;
	}
	if (h.cookie_len == 0 || !cookie_ok(ep, sa, buf, len, &pre)) {
		cookie_send(c, ep, sa, alen, buf, len);
		return;
	}
	if (p != NULL) {
		/* RFC 6347 §4.2.8: a cookie-verified ClientHello on the
		 * 4-tuple of a session: the peer lost it (rebooted); the
		 * new handshake replaces it */
		c->n_replaced++;
		if (p->state == PS_HANDSHAKE)
			handshake_failed(p);
		peer_close(p, false);
	}
	session_start(c, ep, sa, alen, buf, len, &h, &pre, now);
}

/* ---- output commit ------------------------------------------------------------------ */

kdc_err
kdc_coap_peer_send(struct kdc_coap_peer *p, const uint8_t *msg, size_t len)
{
	struct kdc_coap *c = p->c;
	struct outmsg *o;

	if (p->state != PS_OPEN || p->doomed)
		return KDC_ERR_CLOSED;
	if (len > KDC_COAP_DGRAM_MAX)
		return KDC_ERR_TOO_LARGE;
	if (!c->in_step && c->out_head == NULL) {
		send_now(p, msg, len);
		return KDC_OK;
	}
	if ((o = kdc_malloc(sizeof(*o) + len)) == NULL)
		return KDC_ERR_NOMEM;
	o->next = NULL;
	o->p = p;
	p->refs++;
	o->ticket = UINT64_MAX;
	o->len = len;
	memcpy(o->msg, msg, len);
	*c->out_tail = o;
	c->out_tail = &o->next;
	c->nout++;
	return KDC_OK;
}

static void
out_stamp(struct kdc_coap *c, uint64_t ticket)
{
	for (struct outmsg *o = c->out_head; o != NULL; o = o->next)
		if (o->ticket == UINT64_MAX)
			o->ticket = ticket;
}

/* A failed group commit: what this step queued may carry what it lost. */
static void
out_drop_unstamped(struct kdc_coap *c)
{
	for (struct outmsg **pp = &c->out_head, *o; (o = *pp) != NULL;) {
		if (o->ticket != UINT64_MAX) {
			pp = &o->next;
			continue;
		}
		*pp = o->next;
		c->nout--;
		peer_doom(o->p, KDC_ERR_IO);
		kdc_wipe(o->msg, o->len);
		kdc_coap_peer_unref(o->p);
		kdc_free(o);
	}
	c->out_tail = &c->out_head;
	while (*c->out_tail != NULL)
		c->out_tail = &(*c->out_tail)->next;
}

/* Send, in order, what is durable; drop what a failed sync covered
 * (closing its peer: what it carried never leaves). */
static void
out_flush(struct kdc_coap *c)
{
	struct outmsg *o;

	if (c->syncer != NULL)
		kdc_syncer_state(c->syncer, &c->sync_done, &c->sync_failed);
	while ((o = c->out_head) != NULL) {
		if (o->ticket == UINT64_MAX || (o->ticket > c->sync_done &&
		    o->ticket > c->sync_failed))
			break;
		c->out_head = o->next;
		if (c->out_head == NULL)
			c->out_tail = &c->out_head;
		c->nout--;
		if (o->ticket <= c->sync_done)
			send_now(o->p, o->msg, o->len);
		else
			peer_doom(o->p, KDC_ERR_IO);
		kdc_wipe(o->msg, o->len);
		kdc_coap_peer_unref(o->p);
		kdc_free(o);
	}
}

/* ---- timers, idle sessions, revocation ------------------------------------------------ */

static void mc_end(struct kdc_coap *c, struct mcreq *m, kdc_err status);

/* A NoSec client session (kdc_coap_connect2() KDC_COAP_CLIENT_NOSEC)
 * opens: its caller told, with nothing authenticated. */
static void
nosec_open(struct kdc_coap_peer *p)
{
	struct kdc_coap *c = p->c;
	kdc_coap_connect_fn fn = p->hs->connect_fn;
	void *arg = p->hs->connect_arg;

	p->state = PS_OPEN;
	c->nhs--;
	p->hs->connect_fn = NULL;
	hs_free(c, p);
	if (fn != NULL)
		fn(arg, p, KDC_OK);
}

static void
timer_fire(struct kdc_coap *c, struct kdc_coap_timer *x, uint64_t now)
{
	struct kdc_coap_peer *p = x->p;

	if (x->kind == TM_MC) {
		mc_end(c, (struct mcreq *)(void *)((char *)x -
		    offsetof(struct mcreq, tm)), KDC_OK);
		return;
	}
	if (p->state == PS_CLOSED)
		return;
	p->refs++;
	if (x->kind == TM_XL)
		kdc_coap_xl_timer(c->xl, p, now);
	else if (p->state == PS_HANDSHAKE && p->hs != NULL &&
	    p->hs->jw != NULL)
		jw_timer(p, now);
	else if (p->state == PS_HANDSHAKE && p->g != NULL) {
		c->in_peer = NULL;
		hs_step(p);		/* GnuTLS retransmits or gives up */
	} else if (p->state == PS_HANDSHAKE && p->nosec)
		nosec_open(p);
	kdc_coap_peer_unref(p);
}

static void
timers_run(struct kdc_coap *c, uint64_t now)
{
	uint64_t t, last;

	if (c->wheel_now == 0 || now - c->wheel_now >
	    (uint64_t)WHEEL_SLOTS * WHEEL_MS)
		c->wheel_now = now > (uint64_t)WHEEL_SLOTS * WHEEL_MS ?
		    now - (uint64_t)WHEEL_SLOTS * WHEEL_MS : 0;
	last = now / WHEEL_MS;
	for (t = c->wheel_now / WHEEL_MS; t <= last && c->ntimers > 0; t++) {
		struct kdc_coap_timer **slot = &c->wheel[t % WHEEL_SLOTS];
		struct kdc_coap_timer *due = NULL, *x, *next;

		/* take the due ones off first: a callback may re-arm */
		for (x = *slot; x != NULL; x = next) {
			next = x->next;
			if (x->when > now)
				continue;
			timer_cancel(c, x);
			x->next = due;
			due = x;
		}
		for (x = due; x != NULL; x = next) {
			next = x->next;
			x->next = NULL;
			timer_fire(c, x, now);
		}
	}
	c->wheel_now = now;
}

/* The next due timer, in ms from now (capped at cap_ms). */
static unsigned
timers_next(struct kdc_coap *c, uint64_t now, unsigned cap_ms)
{
	uint64_t t;
	unsigned best = cap_ms;

	if (c->ntimers == 0)
		return cap_ms;
	for (t = 0; t * WHEEL_MS < cap_ms; t++) {
		struct kdc_coap_timer *x =
		    c->wheel[(now / WHEEL_MS + t) % WHEEL_SLOTS];

		for (; x != NULL; x = x->next)
			if (x->when <= now + cap_ms && x->when - now < best)
				best = x->when <= now ? 0 :
				    (unsigned)(x->when - now);
		if (best < cap_ms)
			break;
	}
	return best;
}

/* Sessions idle past idle_ms are dropped (no close_notify: a device
 * that comes back handshakes again, §4.2.8 lets it in on its old port). */
static void
idle_expire(struct kdc_coap *c, uint64_t now)
{
	struct kdc_coap_peer *p, *next;

	for (p = c->lru_head; p != NULL && now - p->last >= c->idle_ms;
	    p = next) {
		next = p->lnext;
		if (p->state == PS_HANDSHAKE)
			continue;	/* its own deadline */
		if (kdc_coap_xl_busy(c->xl, p)) {
			touch(c, p, now);
			continue;
		}
		peer_close(p, false);
	}
}

void
kdc_coap_revocation_watch(struct kdc_coap *c, unsigned interval_ms,
    void (*fn)(void *arg), void *arg)
{
	c->rv_interval_ms = interval_ms;
	c->rv_next = 0;
	c->rv_known = false;
	c->rv_fn = fn;
	c->rv_arg = arg;
}

/*
 * p's principal again: closed (logged, audited) if no longer usable.
 * KDC_OK if it may go on or was closed; a store error as it comes.
 */
static kdc_err
recheck_one(struct kdc_coap *c, struct kdc_coap_peer *p, size_t *closed)
{
	char addr[KDC_COAP_ADDR_TEXT];
	unsigned long dropped;
	kdc_err r;

	if (!p->authed || p->doomed || p->state != PS_OPEN ||
	    p->auth == NULL || p->auth->cred_id == 0 || p->client)
		return KDC_OK;
	r = kdc_core_principal_check(c->core, p->auth->cred_id,
	    p->auth->device);
	if (r == KDC_OK)
		return KDC_OK;
	if (r != KDC_ERR_REVOKED && r != KDC_ERR_EXPIRED &&
	    r != KDC_ERR_UNKNOWN_DEVICE) {
		kdc_log_warn_r(r, "revocation check failed; again at the next "
		    "poll");
		return r;
	}
	addr_text(p, addr, sizeof(addr));
	if (take_log(&dropped)) {
		LOG_DROPPED(dropped);
		kdc_log_info_r(r, "peer=%s endpoint=%s session closed "
		    "device=%.*s cred=%lld", addr, p->ep->name,
		    (int)p->auth->devid_len, p->auth->data,
		    (long long)p->auth->cred_id);
	}
	(void)kdc_core_audit(c->core, "coap", "session.close",
	    kdc_coap_peer_auth(p)->dev_id, r, "reason=%s cred=%" PRId64
	    " from=%s endpoint=%s", r == KDC_ERR_EXPIRED ? "expired" :
	    r == KDC_ERR_REVOKED ? "revoked" : "deleted", p->auth->cred_id,
	    addr, p->ep->name);
	peer_doom(p, r);
	(*closed)++;
	return KDC_OK;
}

/* Every live session checked again (at start, after a device deletion):
 * two indexed reads each. */
static kdc_err
recheck_all(struct kdc_coap *c)
{
	size_t closed = 0;
	kdc_err r;

	for (struct kdc_coap_peer *p = c->lru_head; p != NULL; p = p->lnext)
		if ((r = recheck_one(c, p, &closed)) != KDC_OK)
			return r;
	if (closed > 0)
		doomed_close(c);
	return KDC_OK;
}

struct ended {
	int64_t		*ids;
	size_t		 n, cap;
	bool		 nomem;
};

static void
ended_add(void *arg, int64_t id)
{
	struct ended *e = arg;
	int64_t *v;

	if (e->n == e->cap) {
		size_t cap = e->cap == 0 ? 64 : e->cap * 2;

		if ((v = kdc_realloc(e->ids, cap * sizeof(*v))) == NULL) {
			e->nomem = true;
			return;
		}
		e->ids = v;
		e->cap = cap;
	}
	e->ids[e->n++] = id;
}

/* The sessions of the credentials that ended since `since` (the store
 * lists them through an index): the cost follows what was revoked, not
 * how many sessions are held. */
static kdc_err
recheck_ended(struct kdc_coap *c, int64_t since)
{
	struct ended e = { NULL, 0, 0, false };
	size_t closed = 0;
	kdc_err r;

	if ((r = kdc_core_creds_ended_since(c->core, since, ended_add, &e)) ==
	    KDC_OK && e.nomem)
		r = KDC_ERR_NOMEM;
	for (size_t i = 0; r == KDC_OK && i < e.n; i++) {
		struct credent *ce = *cred_slot(c, e.ids[i]);

		for (struct kdc_coap_peer *p = ce != NULL ? ce->head : NULL;
		    p != NULL && r == KDC_OK; p = p->cnext)
			r = recheck_one(c, p, &closed);
	}
	kdc_free(e.ids);
	if (closed > 0)
		doomed_close(c);
	return r;
}

static void
revocation_poll(struct kdc_coap *c, uint64_t now)
{
	int64_t gen, dgen, t0;
	kdc_err r;

	if (c->rv_interval_ms == 0 || now < c->rv_next)
		return;
	c->rv_next = now + c->rv_interval_ms;
	if ((r = kdc_core_revocation_gen(c->core, &gen)) != KDC_OK ||
	    (r = kdc_core_deletion_gen(c->core, &dgen)) != KDC_OK) {
		kdc_log_debug_r(r, "revocation generation not read");
		return;
	}
	if (c->rv_known && gen == c->rv_gen && dgen == c->rv_dgen)
		return;
	/* read before the checks: a revocation during them moves it
	 * again; status_at has whole seconds: one of margin */
	t0 = kdc_core_now(c->core) - 1;
	if (!c->rv_known || dgen != c->rv_dgen)
		r = recheck_all(c);
	else
		r = recheck_ended(c, c->rv_since);
	if (r != KDC_OK)
		return;
	c->rv_gen = gen;
	c->rv_dgen = dgen;
	c->rv_since = t0;
	c->rv_known = true;
	if (c->rv_fn != NULL)
		c->rv_fn(c->rv_arg);
}

/* ---- lifetime ------------------------------------------------------------------------ */

static void
sync_ended(void *arg)
{
	struct kdc_coap *c = arg;

	kdc_syncer_state(c->syncer, &c->sync_done, &c->sync_failed);
}

/* A [coap] key's value, or def when unset (no cfg, or <= 0). */
static uint64_t
cfg_or(const struct kdc_config *cfg, size_t off, uint64_t def)
{
	int v = cfg != NULL ? *(const int *)(const void *)
	    ((const char *)cfg + off) : 0;

	return v > 0 ? (uint64_t)v : def;
}

#define CFG_OR(c, field, def)						\
	cfg_or((c), offsetof(struct kdc_config, field), (def))

/* This engine's share of the [coap] limits (each at least 1), and its
 * message layer's. */
static void
limits_set(struct kdc_coap *c, struct kdc_coap_xl_limits *xl)
{
	const struct kdc_config *cfg = c->cfg;
	uint64_t threads = CFG_OR(cfg, coap_threads, 1);

	c->max_sessions = (size_t)(CFG_OR(cfg, coap_max_sessions,
	    KDC_COAP_SESSIONS_MAX) / threads);
	c->max_handshakes = (size_t)(CFG_OR(cfg, coap_max_handshakes,
	    KDC_COAP_HANDSHAKE_MAX) / threads);
	c->hs_rate = (unsigned)(CFG_OR(cfg, coap_handshake_rate,
	    KDC_COAP_HANDSHAKE_RATE) / threads);
	c->per_cred = (unsigned)CFG_OR(cfg, coap_sessions_per_cred,
	    KDC_COAP_SESSIONS_PER_CRED);
	c->idle_ms = CFG_OR(cfg, coap_idle_timeout,
	    KDC_COAP_SESSION_TIMEOUT) * 1000u;
	c->stale_ms = CFG_OR(cfg, coap_stale, KDC_COAP_STALE_S) * 1000u;
	if (c->max_sessions == 0)
		c->max_sessions = 1;
	if (c->max_handshakes == 0)
		c->max_handshakes = 1;
	if (c->hs_rate == 0)
		c->hs_rate = 1;
	memset(xl, 0, sizeof(*xl));	/* zero: xl.h's defaults */
	xl->body_timeout_ms = (unsigned)(CFG_OR(cfg, coap_body_timeout, 0) *
	    1000u);
}

kdc_err
kdc_coap_new(struct kdc_core *core, const struct kdc_config *cfg,
    struct kdc_coap **out)
{
	struct kdc_coap *c = NULL;
	struct kdc_coap_xl_limits xl;
	const char *err = NULL;
	kdc_err r;

	*out = NULL;
	if (core == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = kdc_crypto_init()) != KDC_OK)
		return r;
	pthread_once(&keys_once, keys_init);
	if (keys_err)
		return KDC_ERR_CRYPTO;
	if ((c = kdc_calloc(1, sizeof(*c))) == NULL)
		return KDC_ERR_NOMEM;
	c->core = core;
	c->cfg = cfg;
	c->epfd = -1;
	for (size_t i = 0; i < KDC_COAP_MC_MAX; i++)
		c->mc[i].fd = -1;
	c->out_tail = &c->out_head;
	atomic_init(&c->stop, 0);
	c->ctabsz = 1024;
	if ((c->ctab = kdc_calloc(c->ctabsz, sizeof(*c->ctab))) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	limits_set(c, &xl);
	if ((r = kdc_coap_xl_new(c, &xl, &c->xl)) != KDC_OK)
		goto out;
	if ((c->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		kdc_log_err("coap: epoll: %s", strerror(errno));
		r = KDC_ERR_IO;
		goto out;
	}
	if (gnutls_priority_init(&c->prio, KDC_COAP_PRIORITY, &err) < 0 ||
	    gnutls_priority_init(&c->prio_nt, KDC_COAP_PRIORITY ":%NO_TICKETS",
	    &err) < 0) {
		kdc_log_err("DTLS priority rejected at '%s'", err ? err : "?");
		r = KDC_ERR_TLS;
		goto out;
	}
	if (gnutls_psk_allocate_server_credentials(&c->pcred) < 0) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	gnutls_psk_set_server_credentials_function2(c->pcred, psk_cb);
	gnutls_global_set_audit_log_function(audit_cb);
	if ((r = kdc_syncer_new(core, &c->syncer)) != KDC_OK ||
	    (kdc_syncer_fd(c->syncer) >= 0 && (r = kdc_coap_watch(c,
	    kdc_syncer_fd(c->syncer), sync_ended, c)) != KDC_OK))
		goto out;
	*out = c;
	c = NULL;
out:
	kdc_coap_free(c);
	return r;
}

void
kdc_coap_free(struct kdc_coap *c)
{
	struct outmsg *o;

	if (c == NULL)
		return;
	/* every session ends: requests in flight fail CLOSED, the faces
	 * hear each peer is gone (and drop their holds, or keep them: a
	 * held peer outlives the engine, orphaned) */
	while ((o = c->out_head) != NULL) {
		c->out_head = o->next;
		kdc_wipe(o->msg, o->len);
		kdc_coap_peer_unref(o->p);
		kdc_free(o);
	}
	doomed_close(c);
	for (size_t i = 0; i < KDC_COAP_MC_MAX; i++)
		if (c->mc[i].fd >= 0)
			mc_end(c, &c->mc[i], KDC_ERR_CLOSED);
	while (c->lru_head != NULL)
		peer_close(c->lru_head, false);
	if (c->xl != NULL)
		kdc_coap_xl_free(c->xl);
	c->xl = NULL;
	while (c->all != NULL) {
		struct kdc_coap_peer *p = c->all;

		c->all = p->anext;
		p->anext = p->aprev = NULL;
		p->c = NULL;
	}
	for (size_t i = 0; i < c->neps; i++)
		if (c->eps[i].fd >= 0)
			close(c->eps[i].fd);
	if (c->epfd >= 0)
		close(c->epfd);
	if (c->prio != NULL)
		gnutls_priority_deinit(c->prio);
	if (c->prio_nt != NULL)
		gnutls_priority_deinit(c->prio_nt);
	if (c->xcred != NULL)
		gnutls_certificate_free_credentials(c->xcred);
	if (c->pcred != NULL)
		gnutls_psk_free_server_credentials(c->pcred);
	kdc_syncer_free(c->syncer);
	for (size_t i = 0; c->ctab != NULL && i < c->ctabsz; i++)
		while (c->ctab[i] != NULL) {
			struct credent *e = c->ctab[i];

			c->ctab[i] = e->hnext;
			kdc_free(e);
		}
	kdc_free(c->ctab);
	kdc_free(c->tab);
	kdc_wipe(c->psk, sizeof(c->psk));
	kdc_free(c);
}

static bool
is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(
	    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
}

static kdc_err
parse_addr(const char *addr, int port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (port < 1 || port > 65535)
		return KDC_ERR_INVALID_ARG;
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		return KDC_OK;
	}
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return KDC_OK;
	}
	{
		/* an IPv6 link-local address with its zone: "fe80::1%eth0" */
		const char *pct = strchr(addr, '%');
		char host[INET6_ADDRSTRLEN];

		if (pct == NULL || (size_t)(pct - addr) >= sizeof(host))
			return KDC_ERR_INVALID_ARG;
		memcpy(host, addr, (size_t)(pct - addr));
		host[pct - addr] = '\0';
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1 ||
		    !IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr) ||
		    (s6->sin6_scope_id = if_nametoindex(pct + 1)) == 0)
			return KDC_ERR_INVALID_ARG;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return KDC_OK;
	}
}

/*
 * The engines of one process share each port through SO_REUSEPORT. Only
 * they may: before the first of them binds a port, a probe socket binds
 * it without SO_REUSEPORT, which fails if any other socket (another
 * daemon's group) holds it.
 */
static pthread_mutex_t ports_mu = PTHREAD_MUTEX_INITIALIZER;
static struct { int family; uint16_t port; } ports[KDC_COAP_EP_MAX * 4];
static size_t nports;

static kdc_err
port_claim(const struct sockaddr *sa, socklen_t len, uint16_t port,
    bool *first)
{
	kdc_err r = KDC_OK;
	int fd;

	*first = false;
	pthread_mutex_lock(&ports_mu);
	for (size_t i = 0; i < nports; i++)
		if (ports[i].family == sa->sa_family && ports[i].port == port)
			goto out;
	*first = true;
	if ((fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, sa, len) != 0) {
		r = KDC_ERR_IO;
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	if (nports < sizeof(ports) / sizeof(ports[0])) {
		ports[nports].family = sa->sa_family;
		ports[nports].port = port;
		nports++;
	}
out:
	pthread_mutex_unlock(&ports_mu);
	return r;
}

kdc_err
kdc_coap_listen(struct kdc_coap *c, const char *name, const char *addr,
    int port, unsigned accept, const char *cert_pem, const char *key_pem)
{
	const unsigned known = KDC_COAP_ACCEPT_MANUFACTURER |
	    KDC_COAP_ACCEPT_OPERATIONAL | KDC_COAP_ACCEPT_NOSEC;
	struct sockaddr_storage ss;
	struct kdc_coap_ep *e;
	struct epoll_event ev;
	socklen_t len = 0;
	bool nosec = (accept & KDC_COAP_ACCEPT_NOSEC) != 0, first;
	int fd = -1, one = 1, sz = 4 << 20;
	kdc_err r;

	if (name == NULL || addr == NULL || name[0] == '\0' ||
	    strlen(name) > KDC_NAME_MAX || accept == 0 || (accept & ~known) ||
	    (nosec && accept != KDC_COAP_ACCEPT_NOSEC))
		return KDC_ERR_INVALID_ARG;
	if (c->neps == KDC_COAP_EP_MAX)
		return KDC_ERR_TOO_LARGE;
	for (size_t i = 0; i < c->neps; i++)
		if (strcmp(c->eps[i].name, name) == 0)
			return KDC_ERR_EXISTS;
	if ((r = parse_addr(addr, port, &ss, &len)) != KDC_OK)
		return r;
	if (nosec && !is_loopback((struct sockaddr *)&ss))
		return KDC_ERR_INVALID_ARG;	/* plain CoAP: tests only */
	if (!nosec) {
		if (cert_pem == NULL || key_pem == NULL)
			return KDC_ERR_INVALID_ARG;
		if (c->xcred != NULL && (strcmp(c->cert_pem, cert_pem) != 0 ||
		    strcmp(c->key_pem, key_pem) != 0))
			return KDC_ERR_INVALID_ARG;
		if (c->xcred == NULL) {
			gnutls_datum_t cd, kd;

			cd.data = (unsigned char *)(uintptr_t)cert_pem;
			cd.size = (unsigned)strlen(cert_pem);
			kd.data = (unsigned char *)(uintptr_t)key_pem;
			kd.size = (unsigned)strlen(key_pem);
			if (gnutls_certificate_allocate_credentials(&c->xcred) <
			    0)
				return KDC_ERR_NOMEM;
			if (gnutls_certificate_set_x509_key_mem2(c->xcred, &cd,
			    &kd, GNUTLS_X509_FMT_PEM, NULL, 0) < 0) {
				gnutls_certificate_free_credentials(c->xcred);
				c->xcred = NULL;
				return KDC_ERR_TLS;
			}
			c->cert_pem = cert_pem;
			c->key_pem = key_pem;
		}
	}
	if ((r = port_claim((struct sockaddr *)&ss, len, (uint16_t)port,
	    &first)) != KDC_OK)
		return r;
	if ((fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0)
		return KDC_ERR_IO;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
		close(fd);
		return KDC_ERR_IO;
	}
	e = &c->eps[c->neps];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->accept = accept;
	e->port = (uint16_t)port;
	e->fd = fd;
	e->family = ss.ss_family;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u32 = (uint32_t)c->neps;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		close(fd);
		return KDC_ERR_IO;
	}
	c->neps++;
	if (first)		/* once per port, not per engine thread */
		kdc_log_info("endpoint=%s listen=%s:%d %s", name, addr, port,
		    nosec ? "coap (NoSec)" : "coaps");
	return KDC_OK;
}

/* ---- client mode ------------------------------------------------------------------ */

/* The socket our client sessions use: an ephemeral port of this engine's
 * own, outside the listeners' SO_REUSEPORT group (the answers must come
 * back to this engine). */
static struct kdc_coap_ep *
client_ep(struct kdc_coap *c, int family)
{
	struct kdc_coap_ep *e;
	struct epoll_event ev;
	int fd;

	for (size_t i = 0; i < c->neps; i++)
		if (c->eps[i].client && c->eps[i].family == family)
			return &c->eps[i];
	if (c->neps == KDC_COAP_EP_MAX ||
	    (fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		return NULL;
	e = &c->eps[c->neps];
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "client");
	e->client = true;
	e->fd = fd;
	e->family = family;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u32 = (uint32_t)c->neps;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		close(fd);
		return NULL;
	}
	c->neps++;
	return e;
}

/*
 * The client's ClientHello (coap.h enum kdc_coap_suites): PSK sessions
 * offer PSK key exchanges only, RPK and X.509 ones ECDHE_ECDSA only,
 * with the server's certificate type fixed to the one asked for (a
 * server cannot answer an RPK session with a certificate the check was
 * not written for). No tickets: a client session is made once.
 */
#define CLI_BASE	"NORMAL:-VERS-ALL:+VERS-DTLS1.2:%NO_TICKETS:"
#define CLI_AEAD	"+AES-128-CCM-8:+AES-128-CCM:+AES-128-GCM:+AES-256-GCM:" \
			"+CHACHA20-POLY1305"
static const char *
client_priority(enum kdc_coap_client_cred cred, enum kdc_coap_suites suites)
{
	static const char *const p[3][2] = {
		{ CLI_BASE "-KX-ALL:+PSK:+ECDHE-PSK:-CIPHER-ALL:" CLI_AEAD
		  ":-MAC-ALL:+AEAD",
		  /* TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256 (0xC037) first */
		  CLI_BASE "-KX-ALL:+ECDHE-PSK:+PSK:-CIPHER-ALL:+AES-128-CBC:"
		  CLI_AEAD ":-MAC-ALL:+SHA256:+AEAD" },
		{ CLI_BASE "-KX-ALL:+ECDHE-ECDSA:-CIPHER-ALL:" CLI_AEAD
		  ":-MAC-ALL:+AEAD:-CTYPE-ALL:+CTYPE-SRV-RAWPK:+CTYPE-CLI-RAWPK",
		  CLI_BASE "-KX-ALL:+ECDHE-ECDSA:-CIPHER-ALL:+AES-128-CCM-8:"
		  "+AES-128-CCM:+AES-256-CCM-8:+AES-256-CCM:-MAC-ALL:+AEAD:"
		  "-CTYPE-ALL:+CTYPE-SRV-RAWPK:+CTYPE-CLI-RAWPK" },
		{ CLI_BASE "-KX-ALL:+ECDHE-ECDSA:-CIPHER-ALL:" CLI_AEAD
		  ":-MAC-ALL:+AEAD:-CTYPE-ALL:+CTYPE-SRV-X509:+CTYPE-CLI-X509",
		  CLI_BASE "-KX-ALL:+ECDHE-ECDSA:-CIPHER-ALL:+AES-128-CCM-8:"
		  "+AES-128-CCM:+AES-256-CCM-8:+AES-256-CCM:-MAC-ALL:+AEAD:"
		  "-CTYPE-ALL:+CTYPE-SRV-X509:+CTYPE-CLI-X509" },
	};

	return p[cred - KDC_COAP_CLIENT_PSK][suites];
}

/* The server's certificate or RPK, to the caller's check (coap.h
 * kdc_coap_server_check_fn): the one decision about the server. */
static int
client_verify_cb(gnutls_session_t g)
{
	struct kdc_coap_peer *p = gnutls_session_get_ptr(g);
	const uint8_t *certs[KDC_CHAIN_MAX];
	size_t lens[KDC_CHAIN_MAX];
	const gnutls_datum_t *l;
	unsigned n = 0;
	kdc_err r;

	if (p == NULL || p->hs == NULL || !p->client || p->hs->check == NULL)
		return -1;
	p->hs->checked = false;
	l = gnutls_certificate_get_peers(g, &n);
	if (l == NULL || n == 0)
		r = KDC_ERR_UNTRUSTED;
	else if (n > KDC_CHAIN_MAX)
		r = KDC_ERR_TOO_LARGE;
	else if (gnutls_certificate_type_get2(g, GNUTLS_CTYPE_SERVER) !=
	    (p->hs->cli_cred == KDC_COAP_CLIENT_RPK ? GNUTLS_CRT_RAW :
	    GNUTLS_CRT_X509) ||
	    (p->hs->cli_cred == KDC_COAP_CLIENT_RPK && n != 1))
		r = KDC_ERR_WRONG_TYPE;
	else {
		for (unsigned i = 0; i < n; i++) {
			certs[i] = l[i].data;
			lens[i] = l[i].size;
		}
		r = p->hs->check(p->hs->check_arg,
		    (enum kdc_coap_client_cred)p->hs->cli_cred, certs, lens, n);
	}
	if (r != KDC_OK) {
		p->hs->check_err = r;
		if (kdc_log_get_level() >= KDC_LOG_DEBUG) {
			char addr[KDC_COAP_ADDR_TEXT];

			addr_text(p, addr, sizeof(addr));
			kdc_log_debug("peer=%s client session: the server's "
			    "credential refused: %s", addr, kdc_err_str(r));
		}
		return -1;
	}
	p->hs->checked = true;
	return 0;
}

/* The client credentials of o on p's GnuTLS session. */
static kdc_err
client_creds(struct kdc_coap_peer *p, const struct kdc_coap_client_opts *o)
{
	gnutls_datum_t id, key, cd, kd;

	if (o->cred == KDC_COAP_CLIENT_PSK) {
		id.data = (unsigned char *)(uintptr_t)o->psk_identity;
		id.size = (unsigned)o->psk_identity_len;
		key.data = (unsigned char *)(uintptr_t)o->psk_key;
		key.size = (unsigned)o->psk_key_len;
		if (gnutls_psk_allocate_client_credentials(&p->ccred) < 0)
			return KDC_ERR_NOMEM;
		if (gnutls_psk_set_client_credentials2(p->ccred, &id, &key,
		    GNUTLS_PSK_KEY_RAW) < 0 ||
		    gnutls_credentials_set(p->g, GNUTLS_CRD_PSK, p->ccred) < 0)
			return KDC_ERR_TLS;
		return KDC_OK;
	}
	if (gnutls_certificate_allocate_credentials(&p->xcli) < 0)
		return KDC_ERR_NOMEM;
	if (o->cert_pem != NULL) {
		cd.data = (unsigned char *)(uintptr_t)o->cert_pem;
		cd.size = (unsigned)strlen(o->cert_pem);
		kd.data = (unsigned char *)(uintptr_t)o->key_pem;
		kd.size = (unsigned)strlen(o->key_pem);
		if ((o->cred == KDC_COAP_CLIENT_RPK ?
		    gnutls_certificate_set_rawpk_key_mem(p->xcli, &cd, &kd,
		    GNUTLS_X509_FMT_PEM, NULL, 0, NULL, 0, 0) :
		    gnutls_certificate_set_x509_key_mem2(p->xcli, &cd, &kd,
		    GNUTLS_X509_FMT_PEM, NULL, 0)) < 0)
			return KDC_ERR_TLS;
	}
	if (gnutls_credentials_set(p->g, GNUTLS_CRD_CERTIFICATE, p->xcli) < 0)
		return KDC_ERR_TLS;
	gnutls_session_set_verify_function(p->g, client_verify_cb);
	return KDC_OK;
}

kdc_err
kdc_coap_connect2(struct kdc_coap *c, const char *addr, int port,
    const struct kdc_coap_client_opts *o, kdc_coap_connect_fn fn, void *arg)
{
	static const struct kdc_principal nobody;
	struct sockaddr_storage ss;
	struct kdc_coap_ep *ep;
	struct kdc_coap_peer *p;
	socklen_t len = 0;
	uint64_t now = kdc_coap_now_ms();
	unsigned flags = GNUTLS_CLIENT | GNUTLS_DATAGRAM | GNUTLS_NONBLOCK |
	    GNUTLS_NO_SIGNAL;
	const char *err = NULL;
	kdc_err r;

	if (c == NULL || addr == NULL || o == NULL || fn == NULL ||
	    o->cred < KDC_COAP_CLIENT_PSK || o->cred > KDC_COAP_CLIENT_JW ||
	    (o->suites != KDC_COAP_SUITES_RFC7925 &&
	    o->suites != KDC_COAP_SUITES_OCF))
		return KDC_ERR_INVALID_ARG;
	/* an unauthenticated session only when the caller says so, and
	 * never by another kind's name */
	if ((o->cred == KDC_COAP_CLIENT_NOSEC ||
	    o->cred == KDC_COAP_CLIENT_JW) != o->unauthenticated)
		return KDC_ERR_INVALID_ARG;
	if (o->prf_len > 0 && (o->cred == KDC_COAP_CLIENT_NOSEC ||
	    o->prf_len > KDC_COAP_PRF_MAX || o->prf_label == NULL ||
	    o->prf_label_len == 0 || o->prf_label_len > KDC_COAP_PRF_LABEL_MAX ||
	    (o->prf_seed != KDC_COAP_PRF_CLIENT_FIRST &&
	    o->prf_seed != KDC_COAP_PRF_SERVER_FIRST)))
		return KDC_ERR_INVALID_ARG;
	if (o->cred == KDC_COAP_CLIENT_NOSEC || o->cred == KDC_COAP_CLIENT_JW) {
		if (o->who != NULL)
			return KDC_ERR_INVALID_ARG;
	} else if (o->cred == KDC_COAP_CLIENT_PSK ? (o->psk_identity == NULL ||
	    o->psk_identity_len == 0 ||
	    o->psk_identity_len > KDC_PSK_IDENTITY_MAX ||
	    o->psk_key == NULL || o->psk_key_len == 0 ||
	    o->psk_key_len > KDC_PSK_MAX) : (o->check == NULL ||
	    (o->cert_pem == NULL) != (o->key_pem == NULL)))
		return KDC_ERR_INVALID_ARG;
	if ((r = parse_addr(addr, port, &ss, &len)) != KDC_OK)
		return r;
	if ((ep = client_ep(c, ss.ss_family)) == NULL)
		return KDC_ERR_IO;
	if (tab_find(c, ep, (struct sockaddr *)&ss) != NULL)
		return KDC_ERR_EXISTS;	/* one session per 4-tuple */
	if ((p = peer_new(c, ep, (struct sockaddr *)&ss, len, now)) == NULL)
		return KDC_ERR_NOMEM;
	p->client = true;
	r = KDC_ERR_NOMEM;
	if ((p->hs = kdc_calloc(1, sizeof(*p->hs))) == NULL)
		goto fail;
	p->hs->tm.p = p;
	p->hs->tm.kind = TM_HS;
	p->hs->deadline = now + KDC_COAP_HANDSHAKE_MS;
	p->hs->cli_cred = (uint8_t)o->cred;
	p->hs->check = o->check;
	p->hs->check_arg = o->check_arg;
	if (o->cred == KDC_COAP_CLIENT_NOSEC) {
		/* no handshake: open at the next step (fn is called later,
		 * never from this call) */
		p->nosec = true;
		p->state = PS_HANDSHAKE;
		c->nhs++;
		p->hs->connect_fn = fn;
		p->hs->connect_arg = arg;
		timer_arm(c, &p->hs->tm, now);
		return KDC_OK;
	}
	if (o->prf_len > 0) {
		p->hs->prf_len = (uint16_t)o->prf_len;
		p->hs->prf_seed = (uint8_t)o->prf_seed;
		p->hs->prf_label_len = (uint8_t)o->prf_label_len;
		memcpy(p->hs->prf_label, o->prf_label, o->prf_label_len);
	}
	if ((r = pauth_set(p, o->who != NULL ? o->who : &nobody)) != KDC_OK)
		goto fail;
	p->vouched = true;
	if (o->cred == KDC_COAP_CLIENT_JW) {
		/* our own handshake: the ClientHello now, fn later */
		if ((r = kdc_jw_new(&p->hs->jw)) != KDC_OK)
			goto fail;
		p->state = PS_HANDSHAKE;
		c->nhs++;
		jw_send(p);
		p->hs->connect_fn = fn;
		p->hs->connect_arg = arg;
		return KDC_OK;
	}
	if (o->cred != KDC_COAP_CLIENT_PSK)
		flags |= GNUTLS_ENABLE_RAWPK;
	r = KDC_ERR_TLS;
	if (gnutls_init(&p->g, flags) < 0)
		goto fail;
	if (gnutls_priority_set_direct(p->g, client_priority(o->cred,
	    o->suites), &err) < 0) {
		kdc_log_err("client DTLS priority rejected at '%s'",
		    err != NULL ? err : "?");
		goto fail;
	}
	if ((r = client_creds(p, o)) != KDC_OK)
		goto fail;
	gnutls_session_set_ptr(p->g, p);
	gnutls_transport_set_ptr(p->g, p);
	gnutls_transport_set_pull_function(p->g, pull);
	gnutls_transport_set_pull_timeout_function(p->g, pull_timeout);
	gnutls_transport_set_vec_push_function(p->g, vec_push);
	gnutls_dtls_set_mtu(p->g, KDC_COAP_DTLS_MTU);
	gnutls_dtls_set_timeouts(p->g, 1000, KDC_COAP_HANDSHAKE_MS);
	p->state = PS_HANDSHAKE;
	c->nhs++;
	c->in_peer = NULL;
	p->refs++;
	hs_step(p);			/* the ClientHello */
	if (p->state != PS_HANDSHAKE) {
		kdc_coap_peer_unref(p);
		return KDC_ERR_TLS;	/* fn was not called: hs unset */
	}
	p->hs->connect_fn = fn;		/* from now on: told once, later */
	p->hs->connect_arg = arg;
	kdc_coap_peer_unref(p);
	return KDC_OK;
fail:
	peer_close(p, false);
	return r;
}

kdc_err
kdc_coap_connect(struct kdc_coap *c, const char *addr, int port,
    const struct kdc_coap_client_psk *psk, const struct kdc_principal *who,
    kdc_coap_connect_fn fn, void *arg)
{
	struct kdc_coap_client_opts o;

	if (psk == NULL || psk->identity == NULL || who == NULL)
		return KDC_ERR_INVALID_ARG;
	memset(&o, 0, sizeof(o));
	o.cred = KDC_COAP_CLIENT_PSK;
	o.psk_identity = (const uint8_t *)psk->identity;
	o.psk_identity_len = strlen(psk->identity);
	o.psk_key = psk->key;
	o.psk_key_len = psk->key_len;
	o.who = who;
	return kdc_coap_connect2(c, addr, port, &o, fn, arg);
}

void
kdc_coap_on_gone(struct kdc_coap *c, kdc_coap_gone_fn fn, void *arg)
{
	c->gone = fn;
	c->gone_arg = arg;
}

kdc_err
kdc_coap_watch(struct kdc_coap *c, int fd, void (*cb)(void *arg), void *arg)
{
	struct epoll_event ev;

	if (c == NULL || fd < 0 || cb == NULL)
		return KDC_ERR_INVALID_ARG;
	if (c->nwatch == KDC_COAP_WATCH_MAX)
		return KDC_ERR_TOO_LARGE;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u32 = (uint32_t)(KDC_COAP_EP_MAX + c->nwatch);
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		return KDC_ERR_IO;
	c->watch[c->nwatch].fd = fd;
	c->watch[c->nwatch].cb = cb;
	c->watch[c->nwatch].arg = arg;
	c->nwatch++;
	return KDC_OK;
}

/* ---- multicast requests ------------------------------------------------------------------ */

/* The request ends: its socket closed, its slot free, done told once. */
static void
mc_end(struct kdc_coap *c, struct mcreq *m, kdc_err status)
{
	struct kdc_coap_mc_end e = m->end;
	kdc_coap_mc_done_fn done = m->done;
	void *arg = m->arg;

	if (m->fd < 0)
		return;
	timer_cancel(c, &m->tm);
	if (c->epfd >= 0)
		(void)epoll_ctl(c->epfd, EPOLL_CTL_DEL, m->fd, NULL);
	close(m->fd);
	m->fd = -1;
	kdc_free(m->seen);
	m->seen = NULL;
	m->done = NULL;
	m->on_answer = NULL;
	if (done != NULL)
		done(arg, status, &e);
}

/* Text of a responder's address: IPv6 link-local with its zone. */
static void
sa_text(const struct sockaddr *sa, char *out, size_t cap, int *port)
{
	char h[INET6_ADDRSTRLEN], ifn[IF_NAMESIZE];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)sa;

		inet_ntop(AF_INET, &s->sin_addr, h, sizeof(h));
		snprintf(out, cap, "%s", h);
		*port = ntohs(s->sin_port);
		return;
	}
	{
		const struct sockaddr_in6 *s = (const void *)sa;

		inet_ntop(AF_INET6, &s->sin6_addr, h, sizeof(h));
		if (s->sin6_scope_id != 0 &&
		    IN6_IS_ADDR_LINKLOCAL(&s->sin6_addr) &&
		    if_indextoname(s->sin6_scope_id, ifn) != NULL)
			snprintf(out, cap, "%s%%%s", h, ifn);
		else
			snprintf(out, cap, "%s", h);
		*port = ntohs(s->sin6_port);
	}
}

static bool
mc_seen(const struct mcreq *m, const struct sockaddr *sa, socklen_t alen,
    uint16_t mid)
{
	for (unsigned i = 0; i < m->end.answers; i++)
		if (m->seen[i].mid == mid &&
		    addr_eq((const struct sockaddr *)&m->seen[i].a, sa)) {
			(void)alen;
			return true;
		}
	return false;
}

/* One datagram on m's socket: an answer, or dropped. */
static void
mc_datagram(struct kdc_coap *c, struct mcreq *m, const struct sockaddr *sa,
    socklen_t alen, unsigned arrival, const uint8_t *buf, size_t len)
{
	struct kdc_coap_wire w;
	struct kdc_coap_msg msg;
	char text[KDC_COAP_ADDR_TEXT];
	int port;

	if (!kdc_coap_mc_onlink(&m->link, sa, arrival) ||
	    kdc_coap_mc_answer(buf, len, m->tok, &w, &msg) != KDC_OK ||
	    mc_seen(m, sa, alen, w.mid)) {
		m->end.dropped++;
		c->n_mc_drop++;
		return;
	}
	if (w.type == KDC_COAP_CON) {
		uint8_t ack[4];
		size_t n = 0;
		struct kdc_coap_wb wb;

		/* RFC 7252 §4.2: a CON answer is acknowledged */
		kdc_coap_wb_init(&wb, ack, sizeof(ack), KDC_COAP_ACK, 0, w.mid,
		    NULL, 0);
		if (kdc_coap_wb_end(&wb, &n) == KDC_OK)
			(void)sendto(m->fd, ack, n, MSG_DONTWAIT, sa, alen);
	}
	if (m->end.answers >= m->max) {
		m->end.over_cap++;
		c->n_mc_drop++;
		return;
	}
	memset(&m->seen[m->end.answers], 0, sizeof(m->seen[0]));
	memcpy(&m->seen[m->end.answers].a, sa, alen);
	m->seen[m->end.answers].mid = w.mid;
	m->end.answers++;
	c->n_mc_ans++;
	sa_text(sa, text, sizeof(text), &port);
	m->on_answer(m->arg, text, port, &msg);
}

static void
mc_read(struct kdc_coap *c, struct mcreq *m)
{
	static __thread uint8_t buf[DGRAM_MAX];
	union {
		struct cmsghdr	 h;
		uint8_t		 b[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
				    CMSG_SPACE(sizeof(struct in_pktinfo))];
	} cm;
	struct sockaddr_storage from;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *h;
	unsigned arrival;
	ssize_t n;

	for (int i = 0; i < RX_BATCH && m->fd >= 0; i++) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = buf;
		iov.iov_len = sizeof(buf);
		mh.msg_name = &from;
		mh.msg_namelen = sizeof(from);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cm.b;
		mh.msg_controllen = sizeof(cm.b);
		if ((n = recvmsg(m->fd, &mh, MSG_DONTWAIT)) < 0)
			return;
		arrival = 0;
		for (h = CMSG_FIRSTHDR(&mh); h != NULL; h = CMSG_NXTHDR(&mh, h))
			if (h->cmsg_level == IPPROTO_IPV6 &&
			    h->cmsg_type == IPV6_PKTINFO) {
				struct in6_pktinfo pi;

				memcpy(&pi, CMSG_DATA(h), sizeof(pi));
				arrival = pi.ipi6_ifindex;
			} else if (h->cmsg_level == IPPROTO_IP &&
			    h->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;

				memcpy(&pi, CMSG_DATA(h), sizeof(pi));
				arrival = (unsigned)pi.ipi_ifindex;
			}
		if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
			m->end.dropped++;	/* larger than any answer */
			c->n_mc_drop++;
			continue;
		}
		mc_datagram(c, m, (struct sockaddr *)&from, mh.msg_namelen,
		    arrival, buf, (size_t)n);
	}
}

kdc_err
kdc_coap_multicast(struct kdc_coap *c, const char *ifname, const char *group,
    int port, uint8_t method, const char *path, const char *query,
    unsigned window_ms, unsigned max_answers, kdc_coap_mc_fn on_answer,
    kdc_coap_mc_done_fn done, void *arg)
{
	struct sockaddr_storage ss;
	struct mcreq *m = NULL;
	struct epoll_event ev;
	uint8_t req[KDC_COAP_DGRAM_MAX];
	uint16_t mid;
	socklen_t len = 0;
	size_t n = 0;
	int fd = -1, one = 1, hops = 1;
	kdc_err r;

	if (c == NULL || ifname == NULL || group == NULL || path == NULL ||
	    on_answer == NULL || done == NULL || window_ms == 0 ||
	    window_ms > KDC_COAP_MC_WINDOW_MAX_MS ||
	    max_answers > KDC_COAP_MC_ANSWERS_MAX)
		return KDC_ERR_INVALID_ARG;
	if (parse_addr(group, port, &ss, &len) != KDC_OK)
		return KDC_ERR_INVALID_ARG;
	if (ss.ss_family == AF_INET ? !IN_MULTICAST(ntohl(
	    ((struct sockaddr_in *)&ss)->sin_addr.s_addr)) :
	    !IN6_IS_ADDR_MULTICAST(&((struct sockaddr_in6 *)&ss)->sin6_addr))
		return KDC_ERR_INVALID_ARG;
	for (size_t i = 0; i < KDC_COAP_MC_MAX && m == NULL; i++)
		if (c->mc[i].fd < 0)
			m = &c->mc[i];
	{
		uint8_t tok[8];

		if (kdc_random(tok, sizeof(tok)) != KDC_OK ||
		    kdc_random(&mid, sizeof(mid)) != KDC_OK)
			return KDC_ERR_CRYPTO;
		if ((r = kdc_coap_mc_build(req, sizeof(req), method, path, query,
		    tok, mid, &n)) != KDC_OK)
			return r == KDC_ERR_TOO_LARGE ? KDC_ERR_INVALID_ARG : r;
		if (m == NULL)
			return KDC_ERR_BUSY;
		memset(m, 0, sizeof(*m));
		m->fd = -1;
		memcpy(m->tok, tok, sizeof(tok));
	}
	if ((r = kdc_coap_mc_link_load(ifname, ss.ss_family, &m->link)) !=
	    KDC_OK)
		return r;
	m->max = max_answers == 0 ? KDC_COAP_MC_ANSWERS_MAX : max_answers;
	if ((m->seen = kdc_calloc(m->max, sizeof(*m->seen))) == NULL)
		return KDC_ERR_NOMEM;
	r = KDC_ERR_IO;
	if ((fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *g = (struct sockaddr_in6 *)&ss;
		struct sockaddr_in6 any;
		int ifi = (int)m->link.ifindex;

		if (IN6_IS_ADDR_MC_LINKLOCAL(&g->sin6_addr) ||
		    IN6_IS_ADDR_MC_NODELOCAL(&g->sin6_addr))
			g->sin6_scope_id = m->link.ifindex;
		memset(&any, 0, sizeof(any));
		any.sin6_family = AF_INET6;
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one)) != 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifi,
		    sizeof(ifi)) != 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops,
		    sizeof(hops)) != 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
		    sizeof(one)) != 0 ||
		    bind(fd, (struct sockaddr *)&any, sizeof(any)) != 0)
			goto fail;
	} else {
		struct ip_mreqn mr;
		struct sockaddr_in any;

		memset(&mr, 0, sizeof(mr));
		mr.imr_ifindex = (int)m->link.ifindex;
		memset(&any, 0, sizeof(any));
		any.sin_family = AF_INET;
		if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr,
		    sizeof(mr)) != 0 ||
		    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &hops,
		    sizeof(hops)) != 0 ||
		    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one,
		    sizeof(one)) != 0 ||
		    bind(fd, (struct sockaddr *)&any, sizeof(any)) != 0)
			goto fail;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u32 = (uint32_t)(MC_ID0 + (size_t)(m - c->mc));
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		goto fail;
	if (sendto(fd, req, n, 0, (struct sockaddr *)&ss, len) != (ssize_t)n) {
		(void)epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
		goto fail;
	}
	m->fd = fd;
	m->on_answer = on_answer;
	m->done = done;
	m->arg = arg;
	m->tm.kind = TM_MC;
	m->tm.p = NULL;
	timer_arm(c, &m->tm, kdc_coap_now_ms() + window_ms);
	c->n_mc_req++;
	return KDC_OK;
fail:
	if (fd >= 0)
		close(fd);
	kdc_free(m->seen);
	m->seen = NULL;
	return r;
}

/* ---- the loop --------------------------------------------------------------------------- */

static void
ep_read(struct kdc_coap *c, struct kdc_coap_ep *ep)
{
	static __thread uint8_t bufs[RX_BATCH][DGRAM_MAX];
	struct mmsghdr mm[RX_BATCH];
	struct iovec iov[RX_BATCH];
	struct sockaddr_storage from[RX_BATCH];
	uint64_t now;
	int n;

	for (int round = 0; round < RX_ROUNDS; round++) {
		for (int i = 0; i < RX_BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = sizeof(bufs[i]);
			memset(&mm[i].msg_hdr, 0, sizeof(mm[i].msg_hdr));
			mm[i].msg_hdr.msg_name = &from[i];
			mm[i].msg_hdr.msg_namelen = sizeof(from[i]);
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(ep->fd, mm, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		now = kdc_coap_now_ms();
		for (int i = 0; i < n; i++) {
			if ((mm[i].msg_hdr.msg_flags & MSG_TRUNC) != 0)
				continue;	/* larger than any we take */
			datagram(c, ep, (struct sockaddr *)&from[i],
			    mm[i].msg_hdr.msg_namelen, bufs[i], mm[i].msg_len,
			    now);
		}
		if (n < RX_BATCH)
			return;
	}
}

kdc_err
kdc_coap_run_once(struct kdc_coap *c, unsigned timeout_ms)
{
	struct epoll_event ev[MC_ID0 + KDC_COAP_MC_MAX];
	uint64_t now = kdc_coap_now_ms(), ticket;
	unsigned wait;
	bool batch;
	kdc_err r;
	int n;

	wait = timers_next(c, now, timeout_ms);
	if (c->out_head != NULL && wait > 1)
		wait = 1;		/* a sync ends soon: its fd wakes us */
	n = epoll_wait(c->epfd, ev, (int)(sizeof(ev) / sizeof(ev[0])),
	    (int)wait);
	c->in_step = true;
	/* the step's core calls share write transactions (group commit,
	 * core.h kdc_core_batch_begin()): committed before its sync */
	batch = kdc_core_batch_begin(c->core) == KDC_OK;
	for (int i = 0; i < n; i++) {
		uint32_t k = ev[i].data.u32;

		if (k < KDC_COAP_EP_MAX)
			ep_read(c, &c->eps[k]);
		else if (k >= MC_ID0 && k - MC_ID0 < KDC_COAP_MC_MAX)
			mc_read(c, &c->mc[k - MC_ID0]);
		else if (k - KDC_COAP_EP_MAX < c->nwatch)
			c->watch[k - KDC_COAP_EP_MAX].cb(
			    c->watch[k - KDC_COAP_EP_MAX].arg);
	}
	now = kdc_coap_now_ms();
	timers_run(c, now);
	c->in_step = false;
	if (batch && (r = kdc_core_batch_end(c->core)) != KDC_OK) {
		/* what the step did may be lost: nothing it led to leaves */
		unsigned long dropped;

		if (take_log(&dropped)) {
			LOG_DROPPED(dropped);
			kdc_log_err_r(r, "coap: a group commit failed: what"
			    " the step sent is dropped");
		}
		out_drop_unstamped(c);
	}
	/*
	 * What this step sent waits for a sync of everything the step (and
	 * those before) committed: a Bootstrap-Write of /0 carries the
	 * credential its handler just issued (core.h kdc_syncer_*).
	 */
	ticket = c->syncer != NULL ? kdc_syncer_request(c->syncer, c->core) :
	    0;
	out_stamp(c, ticket);
	out_flush(c);
	doomed_close(c);
	revocation_poll(c, now);
	if (now >= c->idle_next) {
		c->idle_next = now + 1000;
		idle_expire(c, now);
	}
	return KDC_OK;
}

kdc_err
kdc_coap_run(struct kdc_coap *c)
{
	while (!atomic_load(&c->stop))
		(void)kdc_coap_run_once(c, KDC_COAP_TICK_MS);
	atomic_store(&c->stop, 0);
	return KDC_OK;
}

/* Async-signal-safe: one lock-free atomic store; the loop sees it within
 * KDC_COAP_TICK_MS. */
void
kdc_coap_stop(struct kdc_coap *c)
{
	atomic_store(&c->stop, 1);
}

/* ---- peers, as the faces and xl see them -------------------------------------------------- */

const struct kdc_principal *
kdc_coap_peer_auth(const struct kdc_coap_peer *p)
{
	static __thread struct kdc_principal ring[SCRATCH_AUTH];
	static __thread unsigned ri;
	struct kdc_principal *w = &ring[ri++ % SCRATCH_AUTH];
	const struct pauth *a = p->auth;

	memset(w, 0, offsetof(struct kdc_principal, spki));
	w->spki_len = 0;
	if (a == NULL || !p->authed)
		return w;
	w->type = (enum kdc_cred_type)a->type;
	w->kind = (enum kdc_cred_kind)a->kind;
	w->cred_id = a->cred_id;
	w->device = a->device;
	memcpy(w->dev_id, a->data, a->devid_len);
	w->dev_id[a->devid_len] = '\0';
	memcpy(w->audience, a->data + a->devid_len, a->aud_len);
	w->audience[a->aud_len] = '\0';
	memcpy(w->spki, a->data + a->devid_len + a->aud_len, a->spki_len);
	w->spki_len = a->spki_len;
	return w;
}

kdc_err
kdc_coap_peer_prf(const struct kdc_coap_peer *p, uint8_t *out, size_t len)
{
	if (p == NULL || p->prf == NULL || p->state != PS_OPEN)
		return KDC_ERR_NOT_FOUND;
	if (out == NULL || len == 0 || len > p->prf_len)
		return KDC_ERR_INVALID_ARG;
	memcpy(out, p->prf, len);
	return KDC_OK;
}

uint16_t
kdc_coap_peer_suite(const struct kdc_coap_peer *p)
{
	return p != NULL && !p->nosec ? p->suite : 0;
}

const char *
kdc_coap_peer_endpoint(const struct kdc_coap_peer *p)
{
	return p->c != NULL ? p->ep->name : "";
}

const char *
kdc_coap_peer_addr(const struct kdc_coap_peer *p)
{
	static __thread char ring[4][KDC_COAP_ADDR_TEXT];
	static __thread unsigned i;
	char *out = ring[i++ % 4];

	if (p->c == NULL) {
		snprintf(out, KDC_COAP_ADDR_TEXT, "-");
		return out;
	}
	addr_text(p, out, KDC_COAP_ADDR_TEXT);
	return out;
}

void
kdc_coap_peer_hold(struct kdc_coap_peer *p)
{
	p->holds++;
	p->refs++;
}

void
kdc_coap_peer_release(struct kdc_coap_peer *p)
{
	if (p->holds == 0)
		return;
	p->holds--;
	kdc_coap_peer_unref(p);
}

void
kdc_coap_peer_close(struct kdc_coap_peer *p)
{
	if (p == NULL || p->c == NULL || p->state == PS_CLOSED)
		return;
	peer_doom(p, KDC_ERR_CLOSED);
}

void
kdc_coap_peer_set_data(struct kdc_coap_peer *p, void *data)
{
	p->data = data;
}

void *
kdc_coap_peer_get_data(const struct kdc_coap_peer *p)
{
	return p->data;
}

void
kdc_coap_peer_timer(struct kdc_coap_peer *p, uint64_t when_ms)
{
	if (p->c == NULL || (p->state == PS_CLOSED && when_ms != 0))
		return;
	timer_arm(p->c, &p->tm, when_ms);
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

bool
kdc_coap_peer_open(const struct kdc_coap_peer *p)
{
	return p->c != NULL && p->state == PS_OPEN && !p->doomed;
}

uint64_t
kdc_coap_peer_serial(const struct kdc_coap_peer *p)
{
	return p->serial;
}

bool
kdc_coap_in_step(const struct kdc_coap *c)
{
	return c->in_step;
}

/* Counters for tests and the benchmark. */
void
kdc_coap_stats(const struct kdc_coap *c, struct kdc_coap_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->sessions = c->npeers;
	s->handshaking = c->nhs;
	s->hello_verify = c->n_hvr;
	s->handshakes = c->n_hs_new;
	s->established = c->n_hs_done;
	s->replaced = c->n_replaced;
	s->refused_busy = c->n_refused_busy;
	s->evicted = c->n_evicted;
	s->own_records = c->n_own_records;
	s->mc_requests = c->n_mc_req;
	s->mc_answers = c->n_mc_ans;
	s->mc_dropped = c->n_mc_drop;
}
