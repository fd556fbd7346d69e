/*
 * obt.c: the OCF onboarding tool, CMS and AMS sequences on the wire
 * (obt.h). A short-lived engine, run by spin() until each exchange ends:
 * the calls are synchronous, the engine's callbacks only fill a struct.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/buf.h"
#include "base/cbor.h"
#include "base/log.h"
#include "base/wipe.h"
#include "coap/coap.h"
#include "core/core.h"
#include "core/ocf.h"
#include "crypto/codec.h"
#include "crypto/crypto.h"
#include "ocf/obt.h"

#define ACTOR		"cli"
#define ANS_MAX		KDC_OCF_PAYLOAD_MAX	/* an answer we keep (a cred list) */
#define EXCHANGE_MS	150000		/* past the engine's own retries */
#define CONNECT_MS	60000		/* past the engine's handshake timer */
#define KEY_BLOCK_MAX	96		/* CBC-SHA256: 2 * (32 + 16) */
#define PIN_LEN		8
#define CODE_CLASS(c)	((unsigned)(c) >> 5)
#define CODE_DETAIL(c)	((unsigned)(c) & 0x1f)

struct kdc_ocf_obt {
	struct kdc_core		*core;
	struct kdc_coap		*coap;
	char			 ifname[KDC_OCF_ZONE_MAX];
	unsigned		 window_ms;
	struct kdc_ocf_uuid	 obt;
};

/* One sequence: where its steps are recorded and its words go. */
struct run {
	struct kdc_ocf_obt	*o;
	const char		*uuid;		/* the record's key */
	char			*why;
	size_t			 why_len;
	/* the mfgcert OTM's device key, from the server check */
	uint8_t			 spki[KDC_SPKI_MAX];
	size_t			 spki_len;
};

struct ans {
	bool		 done;
	kdc_err		 r;
	uint8_t		 code;
	uint8_t		*body;
	size_t		 len;
};

static void
say(struct run *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say(struct run *u, const char *fmt, ...)
{
	va_list ap;

	if (u->why == NULL || u->why_len == 0 || u->why[0] != '\0')
		return;			/* the first word is the cause */
	va_start(ap, fmt);
	vsnprintf(u->why, u->why_len, fmt, ap);
	va_end(ap);
}

/* Run the engine until *done or max_ms. */
static kdc_err
spin(struct kdc_ocf_obt *o, const bool *done, unsigned max_ms)
{
	uint64_t end = (uint64_t)kdc_mono_ms() + max_ms;

	while (!*done) {
		if ((uint64_t)kdc_mono_ms() > end)
			return KDC_ERR_TIMEOUT;
		(void)kdc_coap_run_once(o->coap, 100);
	}
	return KDC_OK;
}

static void
ans_free(struct ans *a)
{
	if (a->body != NULL) {
		kdc_wipe(a->body, a->len);
		kdc_free(a->body);
	}
	memset(a, 0, sizeof(*a));
}

const char *
kdc_ocf_otm_name(int otm)
{
	switch (otm) {
	case KDC_OCF_OXM_JW:		return "jw";
	case KDC_OCF_OXM_RDP:		return "rdp";
	case KDC_OCF_OXM_MFGCERT:	return "mfgcert";
	default:			return "?";
	}
}

const char *
kdc_ocf_oxm_string(int otm)
{
	switch (otm) {
	case KDC_OCF_OXM_JW:		return "oic.sec.doxm.jw";
	case KDC_OCF_OXM_RDP:		return "oic.sec.doxm.rdp";
	case KDC_OCF_OXM_MFGCERT:	return "oic.sec.doxm.mfgcert";
	default:			return NULL;
	}
}

/* ---- sessions ------------------------------------------------------------ */

struct conn {
	bool			 done;
	kdc_err			 r;
	struct kdc_coap_peer	*peer;
};

static void
on_conn(void *arg, struct kdc_coap_peer *peer, kdc_err status)
{
	struct conn *w = arg;

	w->done = true;
	w->r = status;
	if (status == KDC_OK) {
		kdc_coap_peer_hold(peer);
		w->peer = peer;
	}
}

static kdc_err
open_sess(struct kdc_ocf_obt *o, const char *addr, int port,
    const struct kdc_coap_client_opts *co, struct kdc_coap_peer **peer)
{
	struct conn w;
	kdc_err r;

	memset(&w, 0, sizeof(w));
	*peer = NULL;
	if ((r = kdc_coap_connect2(o->coap, addr, port, co, on_conn, &w)) !=
	    KDC_OK)
		return r;
	if ((r = spin(o, &w.done, CONNECT_MS)) != KDC_OK)
		return r;	/* cannot happen: the engine times out first */
	if (w.r != KDC_OK)
		return w.r;
	*peer = w.peer;
	return KDC_OK;
}

static void
close_sess(struct kdc_ocf_obt *o, struct kdc_coap_peer **peer)
{
	if (*peer == NULL)
		return;
	kdc_coap_peer_close(*peer);
	kdc_coap_peer_release(*peer);
	*peer = NULL;
	/* one step: the close_notify leaves now, not at kdc_coap_free() */
	(void)kdc_coap_run_once(o->coap, 0);
}

static kdc_err
open_nosec(struct kdc_ocf_obt *o, const char *addr, int port,
    struct kdc_coap_peer **peer)
{
	struct kdc_coap_client_opts co;

	memset(&co, 0, sizeof(co));
	co.cred = KDC_COAP_CLIENT_NOSEC;
	co.unauthenticated = true;	/* OCF's first steps are unsecured */
	return open_sess(o, addr, port, &co, peer);
}

/* ---- one exchange ---------------------------------------------------------- */

static void
on_ans(void *arg, struct kdc_coap_peer *peer, kdc_err status,
    const struct kdc_coap_msg *rsp)
{
	struct ans *a = arg;

	(void)peer;
	a->done = true;
	a->r = status;
	if (status != KDC_OK)
		return;
	a->code = rsp->code;
	if (rsp->payload_len == 0)
		return;
	if (rsp->payload_len > ANS_MAX) {
		a->r = KDC_ERR_TOO_LARGE;
		return;
	}
	if ((a->body = kdc_malloc(rsp->payload_len)) == NULL) {
		a->r = KDC_ERR_NOMEM;
		return;
	}
	memcpy(a->body, rsp->payload, rsp->payload_len);
	a->len = rsp->payload_len;
}

static const char *
method_str(uint8_t m)
{
	return m == KDC_COAP_GET ? "GET" : m == KDC_COAP_POST ? "POST" :
	    m == KDC_COAP_DELETE ? "DELETE" : "?";
}

/*
 * One request of a sequence, named step: sent with OCF's options, its
 * answer in *a (ans_free() after). A 2.xx is KDC_OK; ok404 takes a 4.04
 * too (sdi). Recorded with kdc_core_ocf_step() when u->uuid is set.
 */
static kdc_err
req(struct run *u, struct kdc_coap_peer *p, const char *step, uint8_t method,
    const char *path, const char *query, const uint8_t *pl, size_t n,
    struct ans *a, bool ok404)
{
	static const uint8_t ver[2] = { KDC_COAP_OCF_VERSION_1_0 >> 8,
	    KDC_COAP_OCF_VERSION_1_0 & 0xff };
	const struct kdc_coap_reqopt opts[2] = {
		{ KDC_COAP_OPT_OCF_ACCEPT_VERSION, ver, 2 },
		{ KDC_COAP_OPT_OCF_VERSION, ver, 2 },
	};
	struct kdc_coap_req rq;
	kdc_err r;

	memset(a, 0, sizeof(*a));
	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.path = path;
	rq.query = query;
	rq.content_format = n > 0 ? KDC_CF_OCF_CBOR : KDC_CF_NONE;
	rq.accept = KDC_CF_OCF_CBOR;
	rq.payload = pl;
	rq.len = n;
	rq.opts = opts;
	rq.nopts = 2;
	if ((r = kdc_coap_request2(p, &rq, on_ans, a)) == KDC_OK &&
	    (r = spin(u->o, &a->done, EXCHANGE_MS)) == KDC_OK)
		r = a->r;
	if (r != KDC_OK)
		say(u, "step %s (%s /%s): %s", step, method_str(method), path,
		    kdc_err_str(r));
	else if (CODE_CLASS(a->code) != 2 &&
	    !(ok404 && a->code == KDC_COAP_CODE(4, 4))) {
		r = KDC_ERR_PEER_ERROR;
		say(u, "step %s (%s /%s): the device answered %u.%02u", step,
		    method_str(method), path, CODE_CLASS(a->code),
		    CODE_DETAIL(a->code));
	}
	if (u->uuid != NULL)
		(void)kdc_core_ocf_step(u->o->core, ACTOR, u->uuid, step, r);
	if (r != KDC_OK)
		ans_free(a);
	return r;
}

/* A POST of an encoded payload (buf holds it; wiped after: a cred may
 * carry a key). */
static kdc_err
post(struct run *u, struct kdc_coap_peer *p, const char *step,
    const char *path, uint8_t *buf, size_t n, bool ok404)
{
	struct ans a;
	kdc_err r;

	r = req(u, p, step, KDC_COAP_POST, path, NULL, buf, n, &a, ok404);
	kdc_wipe(buf, n);
	ans_free(&a);
	return r;
}

#define ENC_MAX		4096	/* a payload we send (a cred with a PEM) */

static kdc_err
post_doxm(struct run *u, struct kdc_coap_peer *p, const char *step,
    const struct kdc_ocf_doxm *d)
{
	uint8_t buf[256];
	size_t n;
	kdc_err r;

	if ((r = kdc_ocf_doxm_encode(d, buf, sizeof(buf), &n)) != KDC_OK)
		return r;
	return post(u, p, step, "oic/sec/doxm", buf, n, false);
}

static kdc_err
post_pstat(struct run *u, struct kdc_coap_peer *p, const char *step,
    const struct kdc_ocf_pstat *ps)
{
	uint8_t buf[256];
	size_t n;
	kdc_err r;

	if ((r = kdc_ocf_pstat_encode(ps, buf, sizeof(buf), &n)) != KDC_OK)
		return r;
	return post(u, p, step, "oic/sec/pstat", buf, n, false);
}

static kdc_err
dos(struct run *u, struct kdc_coap_peer *p, const char *step, unsigned s)
{
	struct kdc_ocf_pstat ps;

	memset(&ps, 0, sizeof(ps));
	ps.has = KDC_OCF_PSTAT_HAS_DOS_S;
	ps.dos_s = s;
	return post_pstat(u, p, step, &ps);
}

static kdc_err
post_creds(struct run *u, struct kdc_coap_peer *p, const char *step,
    const struct kdc_ocf_creds *cs)
{
	uint8_t *buf;
	size_t n = 0;
	kdc_err r;

	if ((buf = kdc_malloc(ENC_MAX)) == NULL)
		return KDC_ERR_NOMEM;
	if ((r = kdc_ocf_cred_encode(cs, buf, ENC_MAX, &n)) == KDC_OK)
		r = post(u, p, step, "oic/sec/cred", buf, n, false);
	kdc_wipe(buf, ENC_MAX);
	kdc_free(buf);
	return r;
}

static kdc_err
post_acl2(struct run *u, struct kdc_coap_peer *p, const char *step,
    const struct kdc_ocf_acl2 *acl)
{
	uint8_t *buf;
	size_t n = 0;
	kdc_err r;

	if ((buf = kdc_malloc(ENC_MAX)) == NULL)
		return KDC_ERR_NOMEM;
	if ((r = kdc_ocf_acl2_encode(acl, buf, ENC_MAX, &n)) == KDC_OK)
		r = post(u, p, step, "oic/sec/acl2", buf, n, false);
	kdc_free(buf);
	return r;
}

/* ---- discovery --------------------------------------------------------------- */

struct disc {
	const char		*ifname;
	struct kdc_ocf_found	*out;
	size_t			 max, n;
	unsigned		 pending;
	bool			 done;
};

/* An IPv6 link-local literal (fe80::/10)? */
static bool
link_local6(const char *host)
{
	return strncasecmp(host, "fe8", 3) == 0 || strncasecmp(host, "fe9", 3) ==
	    0 || strncasecmp(host, "fea", 3) == 0 || strncasecmp(host, "feb",
	    3) == 0;
}

/*
 * A device's doxm link: its coap and coaps ports, and the address to
 * reach it at: the host of its coaps ep when that is routable (a device
 * serves on the addresses it names, not necessarily on the one its
 * multicast answer came from), the answer's source when the ep is
 * link-local (the ep's zone is the device's interface name; the
 * source's is ours).
 */
static void
add_found(struct disc *d, const char *addr, const char *ifname,
    const struct kdc_ocf_link *l)
{
	struct kdc_ocf_found f;
	bool v6 = strchr(addr, ':') != NULL;

	memset(&f, 0, sizeof(f));
	kdc_ocf_uuid_format(&l->anchor, f.uuid);
	if (strlen(addr) >= sizeof(f.addr))
		return;
	strcpy(f.addr, addr);
	for (size_t i = 0; i < l->n_eps; i++) {
		const struct kdc_ocf_ep *e = &l->eps[i];

		if (e->ipv6 != v6)
			continue;
		if (strcmp(e->scheme, "coap") == 0 && f.coap_port == 0)
			f.coap_port = e->port;
		else if (strcmp(e->scheme, "coaps") == 0 && f.coaps_port == 0) {
			f.coaps_port = e->port;
			if (!e->ipv6 || !link_local6(e->host))
				snprintf(f.addr, sizeof(f.addr), "%s", e->host);
			else if (!link_local6(addr))
				snprintf(f.addr, sizeof(f.addr), "%s%%%s",
				    e->host, ifname);
		}
	}
	if (f.coaps_port == 0)
		return;		/* nothing we can onboard over */
	for (size_t i = 0; i < d->n; i++) {
		if (strcmp(d->out[i].uuid, f.uuid) != 0)
			continue;
		if (v6 && strchr(d->out[i].addr, ':') == NULL)
			d->out[i] = f;		/* IPv6 kept */
		return;
	}
	if (d->n < d->max)
		d->out[d->n++] = f;
}

static void
on_mc_answer(void *arg, const char *addr, int port,
    const struct kdc_coap_msg *rsp)
{
	struct disc *d = arg;
	struct kdc_ocf_links *ls;

	(void)port;
	if (CODE_CLASS(rsp->code) != 2 || rsp->payload_len == 0)
		return;
	if ((ls = kdc_calloc(1, sizeof(*ls))) == NULL)
		return;
	if (kdc_ocf_links_decode(rsp->payload, rsp->payload_len, ls) ==
	    KDC_OK) {
		for (size_t i = 0; i < ls->n; i++) {
			const struct kdc_ocf_link *l = &ls->links[i];
			bool doxm = strcmp(l->href, "/oic/sec/doxm") == 0;

			for (size_t k = 0; k < l->n_rt; k++)
				if (strcmp(l->rt[k], "oic.r.doxm") == 0)
					doxm = true;
			if (doxm && (l->has & KDC_OCF_LINK_HAS_ANCHOR))
				add_found(d, addr, d->ifname, l);
		}
	} else
		kdc_log_debug("ocf: discovery answer from %s: not "
		    "an OCF link list", addr);
	kdc_free(ls);
}

static void
on_mc_done(void *arg, kdc_err status, const struct kdc_coap_mc_end *e)
{
	struct disc *d = arg;

	(void)status;
	(void)e;
	if (--d->pending == 0)
		d->done = true;
}

/* Unsecured GET /oic/sec/doxm of f. */
static kdc_err
read_doxm(struct kdc_ocf_obt *o, const char *addr, int port,
    struct kdc_ocf_doxm *dx, struct run *u)
{
	struct kdc_coap_peer *p = NULL;
	struct ans a;
	kdc_err r;

	if ((r = open_nosec(o, addr, port, &p)) != KDC_OK)
		return r;
	if ((r = req(u, p, "doxm.read", KDC_COAP_GET, "oic/sec/doxm", NULL,
	    NULL, 0, &a, false)) == KDC_OK) {
		if ((r = kdc_ocf_doxm_decode(a.body, a.len, dx)) != KDC_OK)
			say(u, "step doxm.read: the device's doxm does not "
			    "decode: %s", kdc_err_str(r));
		ans_free(&a);
	}
	close_sess(o, &p);
	return r;
}

kdc_err
kdc_ocf_obt_discover(struct kdc_ocf_obt *o, struct kdc_ocf_found *out,
    size_t max, size_t *n)
{
	struct disc d;
	kdc_err r;

	if (o == NULL || out == NULL || n == NULL)
		return KDC_ERR_INVALID_ARG;
	*n = 0;
	memset(&d, 0, sizeof(d));
	d.ifname = o->ifname;
	d.out = out;
	d.max = max;
	r = kdc_coap_multicast(o->coap, o->ifname, KDC_OCF_GROUP6,
	    KDC_OCF_PORT, KDC_COAP_GET, "oic/res", "rt=oic.r.doxm",
	    o->window_ms, 0, on_mc_answer, on_mc_done, &d);
	if (r == KDC_OK)
		d.pending++;
	else if (r != KDC_ERR_NOT_FOUND)
		return r;
	r = kdc_coap_multicast(o->coap, o->ifname, KDC_OCF_GROUP4,
	    KDC_OCF_PORT, KDC_COAP_GET, "oic/res", "rt=oic.r.doxm",
	    o->window_ms, 0, on_mc_answer, on_mc_done, &d);
	if (r == KDC_OK)
		d.pending++;
	else if (r != KDC_ERR_NOT_FOUND)
		return r;
	if (d.pending == 0)
		return KDC_ERR_NOT_FOUND;	/* no address on the link */
	if ((r = spin(o, &d.done, o->window_ms + 5000)) != KDC_OK)
		return r;
	for (size_t i = 0; i < d.n; i++) {
		struct kdc_ocf_doxm dx;
		struct run u;
		char why[160];

		memset(&u, 0, sizeof(u));
		u.o = o;
		why[0] = '\0';
		u.why = why;
		u.why_len = sizeof(why);
		if (out[i].coap_port == 0 ||
		    read_doxm(o, out[i].addr, out[i].coap_port, &dx, &u) !=
		    KDC_OK)
			continue;	/* owned: unsecured doxm refused */
		out[i].doxm_ok = true;
		out[i].owned = dx.owned;
		out[i].n_oxms = dx.n_oxms;
		memcpy(out[i].oxms, dx.oxms, sizeof(dx.oxms));
		out[i].sct = dx.sct;
	}
	*n = d.n;
	return KDC_OK;
}

static kdc_err
find(struct kdc_ocf_obt *o, const char *uuid, struct kdc_ocf_found *f)
{
	struct kdc_ocf_found *all;
	size_t n = 0;
	kdc_err r;

	if ((all = kdc_calloc(KDC_OCF_FOUND_MAX, sizeof(*all))) == NULL)
		return KDC_ERR_NOMEM;
	r = kdc_ocf_obt_discover(o, all, KDC_OCF_FOUND_MAX, &n);
	if (r == KDC_OK) {
		r = KDC_ERR_NOT_FOUND;
		for (size_t i = 0; i < n; i++)
			if (strcasecmp(all[i].uuid, uuid) == 0) {
				*f = all[i];
				r = KDC_OK;
			}
	}
	kdc_free(all);
	return r;
}

/* "coaps://[addr%25zone]:port" (ocf/codec.h's ep form) */
static void
ep_text(char *out, size_t cap, const char *scheme, const char *addr, int port)
{
	char host[KDC_OCF_ADDR_MAX + 8];
	const char *pct = strchr(addr, '%');

	if (port == 0) {
		out[0] = '\0';
		return;
	}
	if (pct != NULL)
		snprintf(host, sizeof(host), "%.*s%%25%s", (int)(pct - addr),
		    addr, pct + 1);
	else
		snprintf(host, sizeof(host), "%s", addr);
	if (strchr(addr, ':') != NULL)
		snprintf(out, cap, "%s://[%s]:%d", scheme, host, port);
	else
		snprintf(out, cap, "%s://%s:%d", scheme, host, port);
}

/* Back from ep_text(): the address for kdc_coap_connect2() and port. */
static kdc_err
ep_addr(const char *ep, char *addr, size_t cap, int *port)
{
	struct kdc_ocf_ep e;
	kdc_err r;

	if ((r = kdc_ocf_ep_parse(ep, strlen(ep), &e)) != KDC_OK)
		return r;
	if (e.zone[0] != '\0')
		snprintf(addr, cap, "%s%%%s", e.host, e.zone);
	else
		snprintf(addr, cap, "%s", e.host);
	*port = e.port;
	return KDC_OK;
}

/* ---- the onboarding ---------------------------------------------------------- */

static kdc_err
on_server_cred(void *arg, enum kdc_coap_client_cred type,
    const uint8_t *const *der, const size_t *len, size_t n)
{
	struct run *u = arg;

	if (type != KDC_COAP_CLIENT_X509)
		return KDC_ERR_UNTRUSTED;
	u->spki_len = sizeof(u->spki);
	return kdc_core_ocf_mfg_check(u->o->core, ACTOR, der, len, n, u->spki,
	    &u->spki_len);
}

/* The PIN in path if it was written at or after since: 8 digits (a
 * trailing newline allowed). */
static bool
pin_now(const char *path, const struct timespec *since, char pin[PIN_LEN + 1])
{
	struct stat st;
	char buf[64];
	size_t n;
	FILE *f;
	bool ok = false;

	if (stat(path, &st) != 0 || st.st_mtim.tv_sec < since->tv_sec ||
	    (st.st_mtim.tv_sec == since->tv_sec &&
	    st.st_mtim.tv_nsec < since->tv_nsec) ||
	    (f = fopen(path, "r")) == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
	    buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (n == PIN_LEN && strspn(buf, "0123456789") == PIN_LEN) {
		memcpy(pin, buf, PIN_LEN + 1);
		ok = true;
	}
	kdc_wipe(buf, sizeof(buf));
	return ok;
}

/*
 * Wait for the PIN the device shows, written to path after `since` (a
 * person types it, or a device's display writes it): woken by inotify on
 * the file's directory (a write closed, a file renamed into place), and
 * looked at once a second anyway (a file system inotify does not see).
 */
static kdc_err
read_pin(const char *path, const struct timespec *since, unsigned wait_s,
    char pin[PIN_LEN + 1])
{
	uint64_t end = (uint64_t)kdc_mono_ms() + (uint64_t)wait_s * 1000u;
	char dir[4096], ev[4096];
	const char *slash = strrchr(path, '/');
	int fd;
	kdc_err r = KDC_ERR_TIMEOUT;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd >= 0 && inotify_add_watch(fd, dir, IN_CLOSE_WRITE |
	    IN_MOVED_TO | IN_CREATE) < 0) {
		close(fd);
		fd = -1;
	}
	for (;;) {
		struct pollfd pf = { fd, POLLIN, 0 };
		uint64_t now;

		if (pin_now(path, since, pin)) {
			r = KDC_OK;
			break;
		}
		if ((now = (uint64_t)kdc_mono_ms()) > end)
			break;
		if (fd >= 0) {
			if (poll(&pf, 1, (int)(end - now < 1000 ? end - now :
			    1000)) > 0)
				while (read(fd, ev, sizeof(ev)) > 0)
					;
		} else
			(void)poll(NULL, 0, 1000);
	}
	if (fd >= 0)
		close(fd);
	return r;
}

/* key_block length of a suite (RFC 5246 §6.3: 2 * (mac + key + iv)). */
static size_t
key_block_len(uint16_t suite)
{
	switch (suite) {
	case 0xC037:			/* ECDHE_PSK_AES_128_CBC_SHA256 */
	case 0xFF00:			/* OCF's ECDH_ANON_AES_128_CBC_SHA256 */
		return 2 * (32 + 16);
	case 0xC0AC: case 0xC0AE:	/* ECDHE_ECDSA_AES_128_CCM(_8) */
	case 0xC0A4: case 0xC0A8:	/* PSK_AES_128_CCM(_8) */
		return 2 * (16 + 4);
	case 0xC0AD: case 0xC0AF:	/* ECDHE_ECDSA_AES_256_CCM(_8) */
	case 0xC0A5: case 0xC0A9:
		return 2 * (32 + 4);
	default:
		return 0;
	}
}

static bool
offers(const struct kdc_ocf_doxm *d, int otm)
{
	for (size_t i = 0; i < d->n_oxms; i++)
		if (d->oxms[i] == otm)
			return true;
	return false;
}

/* The default ACEs after onboarding (ocf.md §2 step 14). */
static void
default_acl(struct kdc_ocf_acl2 *a, const struct kdc_ocf_uuid *obt)
{
	static const char *const anon[] = { "/oic/d", "/oic/p", "/oic/res",
	    "/oic/sec/sdi" };

	memset(a, 0, sizeof(*a));
	a->has = KDC_OCF_ACL2_HAS_ACLIST2;
	a->n = 3;
	a->aces[0].has = KDC_OCF_ACE_HAS_PERMISSION;
	a->aces[0].subject = KDC_OCF_SUBJ_UUID;
	a->aces[0].uuid = *obt;
	strcpy(a->aces[0].res[0].href, "/oic/sec/sp");
	a->aces[0].n_res = 1;
	a->aces[0].permission = KDC_OCF_PERM_R | KDC_OCF_PERM_U |
	    KDC_OCF_PERM_D;				/* 14 */
	a->aces[1] = a->aces[0];
	strcpy(a->aces[1].res[0].href, "/oic/sec/csr");
	a->aces[1].permission = KDC_OCF_PERM_R;
	a->aces[2].has = KDC_OCF_ACE_HAS_PERMISSION;
	a->aces[2].subject = KDC_OCF_SUBJ_CONNTYPE;
	a->aces[2].conntype = KDC_OCF_CONN_ANON_CLEAR;
	for (size_t i = 0; i < 4; i++)
		strcpy(a->aces[2].res[i].href, anon[i]);
	a->aces[2].n_res = 4;
	a->aces[2].permission = KDC_OCF_PERM_R;
}

/* sdi: {"uuid": the OBT's, "name": "iotkdc", "priv": false} */
static size_t
sdi_body(uint8_t *buf, size_t cap, const struct kdc_ocf_uuid *obt)
{
	char s[KDC_OCF_UUID_TEXT + 1];
	struct kdc_wr w;

	kdc_ocf_uuid_format(obt, s);
	kdc_wr_init(&w, buf, cap);
	kdc_cbor_write_map(&w, 3);
	kdc_cbor_write_tstr(&w, "uuid", 4);
	kdc_cbor_write_tstr(&w, s, KDC_OCF_UUID_TEXT);
	kdc_cbor_write_tstr(&w, "name", 4);
	kdc_cbor_write_tstr(&w, "iotkdc", 6);
	kdc_cbor_write_tstr(&w, "priv", 4);
	kdc_cbor_write_bool(&w, false);
	return kdc_wr_err(&w) == KDC_OK ? kdc_wr_len(&w) : 0;
}

/* Steps over the DOC, after the handshake. */
static kdc_err
otm_steps(struct run *u, struct kdc_coap_peer *p,
    const struct kdc_ocf_uuid *newu)
{
	struct kdc_ocf_obt *o = u->o;
	struct kdc_ocf_doxm d;
	struct kdc_ocf_pstat ps;
	struct kdc_ocf_acl2 *acl = NULL;
	struct kdc_ocf_creds *cs = NULL;
	uint8_t kb[KEY_BLOCK_MAX], buf[128];
	char newtext[KDC_OCF_UUID_TEXT + 1];
	struct ans a;
	size_t kbn, n;
	kdc_err r;

	kdc_ocf_uuid_format(newu, newtext);
	memset(&ps, 0, sizeof(ps));
	ps.has = KDC_OCF_PSTAT_HAS_OM;
	ps.om = 4;				/* client-directed */
	if ((r = post_pstat(u, p, "pstat.om", &ps)) != KDC_OK)
		goto out;
	memset(&d, 0, sizeof(d));
	d.has = KDC_OCF_DOXM_HAS_DEVOWNERUUID;
	d.devowneruuid = o->obt;
	if ((r = post_doxm(u, p, "doxm.devowneruuid", &d)) != KDC_OK)
		goto out;
	memset(&d, 0, sizeof(d));
	d.has = KDC_OCF_DOXM_HAS_DEVICEUUID;
	d.deviceuuid = *newu;
	if ((r = post_doxm(u, p, "doxm.deviceuuid", &d)) != KDC_OK)
		goto out;
	memset(&d, 0, sizeof(d));
	d.has = KDC_OCF_DOXM_HAS_ROWNERUUID;
	d.rowneruuid = o->obt;
	if ((r = post_doxm(u, p, "doxm.rowneruuid", &d)) != KDC_OK)
		goto out;
	r = KDC_ERR_NOMEM;
	if ((acl = kdc_calloc(1, sizeof(*acl))) == NULL ||
	    (cs = kdc_calloc(1, sizeof(*cs))) == NULL)
		goto out;
	acl->has = KDC_OCF_ACL2_HAS_ROWNERUUID;
	acl->rowneruuid = o->obt;
	if ((r = post_acl2(u, p, "acl2.rowneruuid", acl)) != KDC_OK)
		goto out;
	memset(&ps, 0, sizeof(ps));
	ps.has = KDC_OCF_PSTAT_HAS_ROWNERUUID;
	ps.rowneruuid = o->obt;
	if ((r = post_pstat(u, p, "pstat.rowneruuid", &ps)) != KDC_OK)
		goto out;
	/* the owner PSK: core makes it from this session's key_block (both
	 * sides derive it), keeps it and syncs it before the device is told
	 * to derive it: no key is lost */
	kbn = key_block_len(kdc_coap_peer_suite(p));
	if (kbn == 0 || (r = kdc_coap_peer_prf(p, kb, kbn)) != KDC_OK) {
		if (kbn == 0)
			r = KDC_ERR_UNSUPPORTED;
		say(u, "step owner.derive: suite 0x%04x: %s",
		    kdc_coap_peer_suite(p), kdc_err_str(r));
		(void)kdc_core_ocf_step(o->core, ACTOR, u->uuid,
		    "owner.derive", r);
		goto out;
	}
	r = kdc_core_ocf_owner_derive(o->core, ACTOR, u->uuid, newtext, kb,
	    kbn, u->spki_len > 0 ? u->spki : NULL, u->spki_len);
	kdc_wipe(kb, sizeof(kb));
	if (r != KDC_OK) {
		say(u, "step owner.store: %s", kdc_err_str(r));
		(void)kdc_core_ocf_step(o->core, ACTOR, u->uuid, "owner.store",
		    r);
		goto out;
	}
	if ((r = kdc_core_sync_all(o->core)) != KDC_OK) {
		say(u, "step owner.store: %s", kdc_err_str(r));
		goto out;
	}
	cs->has = KDC_OCF_CREDS_HAS_CREDS | KDC_OCF_CREDS_HAS_ROWNERUUID;
	cs->n = 1;
	cs->creds[0].has = KDC_OCF_CRED_HAS_SUBJECT | KDC_OCF_CRED_HAS_CREDTYPE;
	cs->creds[0].subject = o->obt;
	cs->creds[0].credtype = KDC_OCF_CREDTYPE_PSK;
	cs->creds[0].privatedata.present = true;	/* empty: derive it */
	cs->creds[0].privatedata.encoding = KDC_OCF_ENC_RAW;
	cs->rowneruuid = o->obt;
	if ((r = post_creds(u, p, "cred.owner", cs)) != KDC_OK)
		goto out;
	if ((n = sdi_body(buf, sizeof(buf), &o->obt)) > 0 &&
	    (r = post(u, p, "sdi", "oic/sec/sdi", buf, n, true)) != KDC_OK)
		goto out;
	memset(&d, 0, sizeof(d));
	d.has = KDC_OCF_DOXM_HAS_OWNED;
	d.owned = true;
	if ((r = post_doxm(u, p, "doxm.owned", &d)) != KDC_OK ||
	    (r = dos(u, p, "pstat.rfpro", KDC_OCF_DOS_RFPRO)) != KDC_OK)
		goto out;
	if ((r = req(u, p, "acl2.clear", KDC_COAP_DELETE, "oic/sec/acl2",
	    NULL, NULL, 0, &a, false)) != KDC_OK)
		goto out;
	ans_free(&a);
	default_acl(acl, &o->obt);
	if ((r = post_acl2(u, p, "acl2.default", acl)) != KDC_OK ||
	    (r = dos(u, p, "pstat.rfnop", KDC_OCF_DOS_RFNOP)) != KDC_OK)
		goto out;
	if ((r = kdc_core_ocf_onboard_done(o->core, ACTOR, newtext)) == KDC_OK)
		r = kdc_core_sync_all(o->core);
	if (r != KDC_OK)
		say(u, "recording the onboarding: %s", kdc_err_str(r));
out:
	kdc_wipe(kb, sizeof(kb));
	kdc_free(acl);
	if (cs != NULL) {
		kdc_wipe(cs, sizeof(*cs));
		kdc_free(cs);
	}
	return r;
}

/* What an OTM needs before its DOC: where the device is, its doxm (the
 * PIN's salt), oxmsel posted, the PIN (RDP). */
struct prep {
	struct kdc_ocf_found	 f;
	struct kdc_ocf_doxm	 dx;
	char			 pin[PIN_LEN + 1];
	uint8_t			 key[16];
};

static void
prep_wipe(struct prep *pp)
{
	kdc_wipe(pp->pin, sizeof(pp->pin));
	kdc_wipe(pp->key, sizeof(pp->key));
}

static kdc_err
prepare(struct run *u, const struct kdc_ocf_onboard_opts *op, struct prep *pp)
{
	struct kdc_ocf_obt *o = u->o;
	struct kdc_coap_peer *p = NULL;
	struct kdc_ocf_doxm d;
	struct timespec t0;
	struct ans a;
	kdc_err r;

	memset(pp, 0, sizeof(*pp));
	if (op->otm != KDC_OCF_OXM_RDP && op->otm != KDC_OCF_OXM_MFGCERT &&
	    op->otm != KDC_OCF_OXM_JW) {
		say(u, "owner transfer method %d: not supported (rdp, "
		    "mfgcert, jw are)", op->otm);
		return KDC_ERR_UNSUPPORTED;
	}
	if ((op->otm == KDC_OCF_OXM_JW) != op->unauthenticated) {
		say(u, "%s", op->otm == KDC_OCF_OXM_JW ? "Just Works "
		    "authenticates nobody: refused unless asked for this "
		    "device knowingly" : "unauthenticated goes with Just Works "
		    "only");
		return op->otm == KDC_OCF_OXM_JW ? KDC_ERR_DENIED :
		    KDC_ERR_INVALID_ARG;
	}
	if (op->otm == KDC_OCF_OXM_RDP && op->pin_file == NULL)
		return KDC_ERR_INVALID_ARG;
	if (op->found != NULL) {
		if (strcasecmp(op->found->uuid, op->uuid) != 0)
			return KDC_ERR_INVALID_ARG;
		pp->f = *op->found;
	} else if ((r = find(o, op->uuid, &pp->f)) != KDC_OK) {
		say(u, "device %s: %s", op->uuid, r == KDC_ERR_NOT_FOUND ?
		    "did not answer discovery on this link" : kdc_err_str(r));
		return r;
	}
	if (!pp->f.doxm_ok) {
		say(u, "device %s: refuses an unsecured read of its doxm "
		    "(owned?)", op->uuid);
		return KDC_ERR_EXISTS;
	}
	if (pp->f.owned) {
		say(u, "device %s is owned: offboard it first", op->uuid);
		return KDC_ERR_EXISTS;
	}
	/* unsecured: doxm read again (its deviceuuid salts the PIN's key)
	 * and oxmsel */
	if ((r = open_nosec(o, pp->f.addr, pp->f.coap_port, &p)) != KDC_OK) {
		say(u, "device %s: %s", op->uuid, kdc_err_str(r));
		return r;
	}
	if ((r = req(u, p, "doxm.read", KDC_COAP_GET, "oic/sec/doxm", NULL,
	    NULL, 0, &a, false)) != KDC_OK)
		goto out;
	r = kdc_ocf_doxm_decode(a.body, a.len, &pp->dx);
	ans_free(&a);
	if (r != KDC_OK) {
		say(u, "step doxm.read: %s", kdc_err_str(r));
		goto out;
	}
	if (!offers(&pp->dx, op->otm)) {
		r = KDC_ERR_UNSUPPORTED;
		say(u, "device %s does not offer the %s owner transfer "
		    "method", op->uuid, kdc_ocf_otm_name(op->otm));
		goto out;
	}
	memset(&d, 0, sizeof(d));
	d.has = KDC_OCF_DOXM_HAS_OXMSEL;
	d.oxmsel = op->otm;
	/* the clock file times come from (a file written after this
	 * moment may carry a time a tick earlier than CLOCK_REALTIME's) */
	clock_gettime(CLOCK_REALTIME_COARSE, &t0);
	if ((r = post_doxm(u, p, "doxm.oxmsel", &d)) != KDC_OK)
		goto out;
	close_sess(o, &p);
	if (op->otm == KDC_OCF_OXM_RDP) {
		if ((r = read_pin(op->pin_file, &t0, op->pin_wait_s,
		    pp->pin)) != KDC_OK) {
			say(u, "no 8-digit PIN in %s within %u s of asking the "
			    "device for one", op->pin_file, op->pin_wait_s);
			goto out;
		}
		r = kdc_ocf_rdp_psk(pp->pin, PIN_LEN, pp->dx.deviceuuid.b,
		    pp->key);
		kdc_wipe(pp->pin, sizeof(pp->pin));
	}
out:
	close_sess(o, &p);
	return r;
}

/* The DOC's client options for op's OTM (pp's key for RDP). */
static void
doc_opts(struct run *u, const struct kdc_ocf_onboard_opts *op,
    const struct prep *pp, struct kdc_coap_client_opts *co)
{
	static const char id[] = "oic.sec.doxm.rdp";

	memset(co, 0, sizeof(*co));
	co->suites = KDC_COAP_SUITES_OCF;
	co->prf_label = "key expansion";
	co->prf_label_len = strlen(co->prf_label);
	co->prf_seed = KDC_COAP_PRF_SERVER_FIRST;
	co->prf_len = KEY_BLOCK_MAX;
	if (op->otm == KDC_OCF_OXM_RDP) {
		co->cred = KDC_COAP_CLIENT_PSK;
		co->psk_identity = (const uint8_t *)id;
		co->psk_identity_len = sizeof(id) - 1;
		co->psk_key = pp->key;
		co->psk_key_len = sizeof(pp->key);
	} else if (op->otm == KDC_OCF_OXM_JW) {
		/* anonymous ECDH: nobody is authenticated (obt.h) */
		co->cred = KDC_COAP_CLIENT_JW;
		co->unauthenticated = true;
	} else {
		co->cred = KDC_COAP_CLIENT_X509;
		co->check = on_server_cred;
		co->check_arg = u;
	}
}

static const char *
doc_hint(const struct kdc_ocf_onboard_opts *op, kdc_err r)
{
	return (r == KDC_ERR_TLS || r == KDC_ERR_TIMEOUT) &&
	    op->otm == KDC_OCF_OXM_RDP ? " (a wrong PIN? a DTLS server drops "
	    "the records it cannot decrypt)" : "";
}

kdc_err
kdc_ocf_obt_onboard(struct kdc_ocf_obt *o,
    const struct kdc_ocf_onboard_opts *op,
    char new_uuid[KDC_OCF_UUID_TEXT + 1], char *why, size_t why_len)
{
	struct kdc_coap_client_opts co;
	struct kdc_coap_peer *p = NULL;
	struct kdc_ocf_uuid newu;
	struct prep *pp;
	struct run u;
	char coap_ep[KDC_OCF_EP_MAX + 1], coaps_ep[KDC_OCF_EP_MAX + 1];
	kdc_err r;

	if (why != NULL && why_len > 0)
		why[0] = '\0';
	if (o == NULL || op == NULL || op->uuid == NULL || new_uuid == NULL)
		return KDC_ERR_INVALID_ARG;
	new_uuid[0] = '\0';
	memset(&u, 0, sizeof(u));
	u.o = o;
	u.why = why;
	u.why_len = why_len;
	if ((pp = kdc_calloc(1, sizeof(*pp))) == NULL)
		return KDC_ERR_NOMEM;
	if ((r = prepare(&u, op, pp)) != KDC_OK)
		goto out;
	ep_text(coap_ep, sizeof(coap_ep), "coap", pp->f.addr, pp->f.coap_port);
	ep_text(coaps_ep, sizeof(coaps_ep), "coaps", pp->f.addr,
	    pp->f.coaps_port);
	if ((r = kdc_core_ocf_onboard_begin(o->core, ACTOR, op->uuid, op->otm,
	    coap_ep, coaps_ep, &newu)) != KDC_OK) {
		say(&u, "recording the onboarding: %s", kdc_err_str(r));
		goto out;
	}
	u.uuid = op->uuid;		/* steps recorded from here */
	doc_opts(&u, op, pp, &co);
	r = open_sess(o, pp->f.addr, pp->f.coaps_port, &co, &p);
	prep_wipe(pp);
	if (r != KDC_OK) {
		say(&u, "step doc (the DTLS onboarding session): %s%s",
		    kdc_err_str(r), doc_hint(op, r));
		(void)kdc_core_ocf_step(o->core, ACTOR, u.uuid, "doc", r);
		goto out;
	}
	(void)kdc_core_ocf_step(o->core, ACTOR, u.uuid, "doc", KDC_OK);
	if ((r = otm_steps(&u, p, &newu)) != KDC_OK)
		goto out;
	kdc_ocf_uuid_format(&newu, new_uuid);
out:
	prep_wipe(pp);
	kdc_free(pp);
	close_sess(o, &p);
	return r;
}

kdc_err
kdc_ocf_obt_doc_only(struct kdc_ocf_obt *o,
    const struct kdc_ocf_onboard_opts *op, uint64_t *hs_us, char *why,
    size_t why_len)
{
	struct kdc_coap_client_opts co;
	struct kdc_coap_peer *p = NULL;
	struct prep *pp;
	struct run u;
	struct timespec t0, t1;
	kdc_err r;

	if (why != NULL && why_len > 0)
		why[0] = '\0';
	if (o == NULL || op == NULL || op->uuid == NULL || hs_us == NULL)
		return KDC_ERR_INVALID_ARG;
	*hs_us = 0;
	memset(&u, 0, sizeof(u));
	u.o = o;
	u.why = why;
	u.why_len = why_len;
	if ((pp = kdc_calloc(1, sizeof(*pp))) == NULL)
		return KDC_ERR_NOMEM;
	if ((r = prepare(&u, op, pp)) != KDC_OK)
		goto out;
	doc_opts(&u, op, pp, &co);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = open_sess(o, pp->f.addr, pp->f.coaps_port, &co, &p);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r != KDC_OK) {
		say(&u, "step doc (the DTLS onboarding session): %s%s",
		    kdc_err_str(r), doc_hint(op, r));
		goto out;
	}
	*hs_us = (uint64_t)(((int64_t)t1.tv_sec - t0.tv_sec) * 1000000 +
	    ((int64_t)t1.tv_nsec - t0.tv_nsec) / 1000);
out:
	prep_wipe(pp);
	kdc_free(pp);
	close_sess(o, &p);
	return r;
}

/* ---- owner sessions ------------------------------------------------------------ */

static kdc_err
open_owner(struct run *u, const char *uuid, struct kdc_coap_peer **p)
{
	struct kdc_ocf_obt *o = u->o;
	struct kdc_coap_client_opts co;
	struct kdc_ocf_device dev;
	struct kdc_ocf_found f;
	uint8_t psk[KDC_OCF_PSK_LEN];
	char addr[KDC_OCF_ADDR_MAX + 8];
	int port;
	kdc_err r;

	*p = NULL;
	if ((r = kdc_core_ocf_device_get(o->core, uuid, &dev)) != KDC_OK) {
		say(u, "device %s: %s", uuid, kdc_err_str(r));
		return r;
	}
	if (dev.state != KDC_OCF_OWNED) {
		say(u, "device %s is %s, not owned", uuid,
		    kdc_ocf_state_str(dev.state));
		return KDC_ERR_NOT_FOUND;
	}
	if ((r = kdc_core_ocf_owner_psk(o->core, ACTOR, dev.uuid, psk)) !=
	    KDC_OK) {
		say(u, "device %s: owner credential: %s", uuid,
		    kdc_err_str(r));
		return r;
	}
	memset(&co, 0, sizeof(co));
	co.cred = KDC_COAP_CLIENT_PSK;
	co.suites = KDC_COAP_SUITES_OCF;
	co.psk_identity = o->obt.b;
	co.psk_identity_len = sizeof(o->obt.b);
	co.psk_key = psk;
	co.psk_key_len = sizeof(psk);
	r = ep_addr(dev.coaps_ep, addr, sizeof(addr), &port);
	if (r == KDC_OK)
		r = open_sess(o, addr, port, &co, p);
	if (r == KDC_ERR_TIMEOUT || r == KDC_ERR_MALFORMED ||
	    r == KDC_ERR_PEER_RESET) {
		/* its ports are ephemeral: it may have restarted */
		if (find(o, dev.uuid, &f) == KDC_OK) {
			char coap_ep[KDC_OCF_EP_MAX + 1];
			char coaps_ep[KDC_OCF_EP_MAX + 1];

			ep_text(coap_ep, sizeof(coap_ep), "coap", f.addr,
			    f.coap_port);
			ep_text(coaps_ep, sizeof(coaps_ep), "coaps", f.addr,
			    f.coaps_port);
			(void)kdc_core_ocf_set_eps(o->core, dev.uuid, coap_ep,
			    coaps_ep);
			r = open_sess(o, f.addr, f.coaps_port, &co, p);
		}
	}
	kdc_wipe(psk, sizeof(psk));
	if (r != KDC_OK)
		say(u, "device %s: owner session: %s", uuid, kdc_err_str(r));
	return r;
}

static void
run_init(struct run *u, struct kdc_ocf_obt *o, const char *uuid, char *why,
    size_t why_len)
{
	memset(u, 0, sizeof(*u));
	u->o = o;
	u->uuid = uuid;
	u->why = why;
	u->why_len = why_len;
	if (why != NULL && why_len > 0)
		why[0] = '\0';
}

static bool
uuid_ok(const char *s)
{
	struct kdc_ocf_uuid x;

	return s != NULL && kdc_ocf_uuid_parse(s, strlen(s), &x) == KDC_OK;
}

kdc_err
kdc_ocf_obt_pair(struct kdc_ocf_obt *o, const char *uuid1, const char *uuid2,
    char *why, size_t why_len)
{
	struct kdc_coap_peer *p1 = NULL, *p2 = NULL;
	struct kdc_ocf_creds *cs = NULL;
	struct run u1, u2;
	uint8_t psk[KDC_OCF_PSK_LEN];
	int64_t ids[2] = { 0, 0 };
	kdc_err r;

	if (o == NULL || !uuid_ok(uuid1) || !uuid_ok(uuid2))
		return KDC_ERR_INVALID_ARG;
	run_init(&u1, o, uuid1, why, why_len);
	run_init(&u2, o, uuid2, why, why_len);
	if (strcasecmp(uuid1, uuid2) == 0) {
		say(&u1, "a device is not paired with itself");
		return KDC_ERR_INVALID_ARG;
	}
	if ((r = open_owner(&u1, uuid1, &p1)) != KDC_OK ||
	    (r = open_owner(&u2, uuid2, &p2)) != KDC_OK)
		goto out;
	if ((r = dos(&u1, p1, "pair.rfpro", KDC_OCF_DOS_RFPRO)) != KDC_OK ||
	    (r = dos(&u2, p2, "pair.rfpro", KDC_OCF_DOS_RFPRO)) != KDC_OK)
		goto out;
	if ((r = kdc_core_ocf_pair_issue(o->core, ACTOR, uuid1, uuid2, ids,
	    psk)) != KDC_OK || (r = kdc_core_sync_all(o->core)) != KDC_OK) {
		say(&u1, "issuing the pairwise key: %s", kdc_err_str(r));
		goto rfnop;
	}
	if ((cs = kdc_calloc(1, sizeof(*cs))) == NULL) {
		r = KDC_ERR_NOMEM;
		goto rfnop;
	}
	cs->has = KDC_OCF_CREDS_HAS_CREDS;
	cs->n = 1;
	cs->creds[0].has = KDC_OCF_CRED_HAS_SUBJECT |
	    KDC_OCF_CRED_HAS_CREDTYPE;
	cs->creds[0].credtype = KDC_OCF_CREDTYPE_PSK;
	cs->creds[0].privatedata.present = true;
	cs->creds[0].privatedata.encoding = KDC_OCF_ENC_RAW;
	memcpy(cs->creds[0].privatedata.data, psk, sizeof(psk));
	cs->creds[0].privatedata.len = sizeof(psk);
	(void)kdc_ocf_uuid_parse(uuid2, strlen(uuid2),
	    &cs->creds[0].subject);
	if ((r = post_creds(&u1, p1, "pair.cred", cs)) != KDC_OK)
		goto rfnop;
	(void)kdc_ocf_uuid_parse(uuid1, strlen(uuid1),
	    &cs->creds[0].subject);
	if ((r = post_creds(&u2, p2, "pair.cred", cs)) != KDC_OK)
		goto rfnop;
rfnop:
	/* back to RFNOP whatever happened: a device left in RFPRO serves
	 * nothing */
	{
		kdc_err r1 = dos(&u1, p1, "pair.rfnop", KDC_OCF_DOS_RFNOP);
		kdc_err r2 = dos(&u2, p2, "pair.rfnop", KDC_OCF_DOS_RFNOP);

		if (r == KDC_OK)
			r = r1 != KDC_OK ? r1 : r2;
	}
	if (r == KDC_OK && ((r = kdc_core_ocf_pair_done(o->core, ACTOR,
	    ids)) != KDC_OK || (r = kdc_core_sync_all(o->core)) != KDC_OK))
		say(&u1, "recording the pairing: %s", kdc_err_str(r));
out:
	kdc_wipe(psk, sizeof(psk));
	if (cs != NULL) {
		kdc_wipe(cs, sizeof(*cs));
		kdc_free(cs);
	}
	close_sess(o, &p1);
	close_sess(o, &p2);
	return r;
}

kdc_err
kdc_ocf_obt_cert(struct kdc_ocf_obt *o, const char *uuid, char *why,
    size_t why_len)
{
	struct kdc_coap_peer *p = NULL;
	struct kdc_ocf_creds *cs = NULL;
	struct kdc_ocf_csr *csr = NULL;
	struct kdc_ocf_acl2 *acl = NULL;
	struct kdc_ocf_doxm dx;
	struct kdc_ocf_device dev;
	struct run u;
	struct ans a;
	char *ca = NULL, *pem = NULL;
	uint8_t *cert = NULL;
	size_t ca_len = 0, pem_len = 0, cert_len = 0;
	int64_t cred_id = 0;
	bool rfpro = false;
	kdc_err r;

	if (o == NULL || !uuid_ok(uuid))
		return KDC_ERR_INVALID_ARG;
	run_init(&u, o, uuid, why, why_len);
	if ((r = open_owner(&u, uuid, &p)) != KDC_OK)
		goto out;
	if ((r = kdc_core_ocf_device_get(o->core, uuid, &dev)) != KDC_OK)
		goto out;
	if ((r = req(&u, p, "cert.doxm", KDC_COAP_GET, "oic/sec/doxm", NULL,
	    NULL, 0, &a, false)) != KDC_OK)
		goto out;
	r = kdc_ocf_doxm_decode(a.body, a.len, &dx);
	ans_free(&a);
	if (r != KDC_OK || !(dx.sct & KDC_OCF_CREDTYPE_CERT)) {
		if (r == KDC_OK)
			r = KDC_ERR_UNSUPPORTED;
		say(&u, "device %s: takes no certificates (doxm sct without "
		    "8)", uuid);
		goto out;
	}
	r = KDC_ERR_NOMEM;
	if ((cs = kdc_calloc(1, sizeof(*cs))) == NULL ||
	    (csr = kdc_calloc(1, sizeof(*csr))) == NULL ||
	    (acl = kdc_calloc(1, sizeof(*acl))) == NULL)
		goto out;
	if ((r = dos(&u, p, "cert.rfpro", KDC_OCF_DOS_RFPRO)) != KDC_OK)
		goto out;
	rfpro = true;
	if ((r = kdc_core_ca_pem(o->core, &ca, &ca_len)) != KDC_OK ||
	    ca_len > sizeof(cs->creds[0].publicdata.data)) {
		if (r == KDC_OK)
			r = KDC_ERR_TOO_LARGE;
		say(&u, "our CA certificate: %s", kdc_err_str(r));
		goto out;
	}
	cs->has = KDC_OCF_CREDS_HAS_CREDS;
	cs->n = 1;
	cs->creds[0].has = KDC_OCF_CRED_HAS_SUBJECT |
	    KDC_OCF_CRED_HAS_CREDTYPE | KDC_OCF_CRED_HAS_CREDUSAGE;
	cs->creds[0].subject_any = true;
	cs->creds[0].credtype = KDC_OCF_CREDTYPE_CERT;
	cs->creds[0].credusage = KDC_OCF_USAGE_TRUSTCA;
	cs->creds[0].publicdata.present = true;
	cs->creds[0].publicdata.text = true;
	cs->creds[0].publicdata.encoding = KDC_OCF_ENC_PEM;
	memcpy(cs->creds[0].publicdata.data, ca, ca_len);
	cs->creds[0].publicdata.len = ca_len;
	if ((r = post_creds(&u, p, "cert.trustca", cs)) != KDC_OK)
		goto out;
	if ((r = req(&u, p, "cert.csr", KDC_COAP_GET, "oic/sec/csr", NULL,
	    NULL, 0, &a, false)) != KDC_OK)
		goto out;
	r = kdc_ocf_csr_decode(a.body, a.len, csr);
	ans_free(&a);
	if (r != KDC_OK) {
		say(&u, "step cert.csr: the device's csr does not decode: %s",
		    kdc_err_str(r));
		(void)kdc_core_ocf_step(o->core, ACTOR, uuid, "cert.csr", r);
		goto out;
	}
	if ((r = kdc_core_ocf_cert_sign(o->core, ACTOR, dev.uuid, csr->data,
	    csr->len, &cred_id, &cert, &cert_len)) != KDC_OK ||
	    (r = kdc_core_sync_all(o->core)) != KDC_OK) {
		say(&u, "step cert.sign: %s", kdc_err_str(r));
		(void)kdc_core_ocf_step(o->core, ACTOR, uuid, "cert.sign", r);
		goto out;
	}
	if ((r = kdc_pem_encode("CERTIFICATE", cert, cert_len, &pem,
	    &pem_len)) != KDC_OK || pem_len > sizeof(cs->creds[0].
	    publicdata.data)) {
		if (r == KDC_OK)
			r = KDC_ERR_TOO_LARGE;
		goto out;
	}
	cs->creds[0].credusage = KDC_OCF_USAGE_CERT;
	memcpy(cs->creds[0].publicdata.data, pem, pem_len);
	cs->creds[0].publicdata.len = pem_len;
	if ((r = post_creds(&u, p, "cert.cert", cs)) != KDC_OK)
		goto out;
	acl->has = KDC_OCF_ACL2_HAS_ACLIST2;
	acl->n = 1;
	acl->aces[0].has = KDC_OCF_ACE_HAS_PERMISSION;
	acl->aces[0].subject = KDC_OCF_SUBJ_CONNTYPE;
	acl->aces[0].conntype = KDC_OCF_CONN_AUTH_CRYPT;
	strcpy(acl->aces[0].res[0].href, "/oic/sec/roles");
	acl->aces[0].n_res = 1;
	acl->aces[0].permission = KDC_OCF_PERM_R | KDC_OCF_PERM_U;
	if ((r = post_acl2(&u, p, "cert.roles", acl)) != KDC_OK)
		goto out;
	rfpro = false;
	if ((r = dos(&u, p, "cert.rfnop", KDC_OCF_DOS_RFNOP)) != KDC_OK)
		goto out;
	if ((r = kdc_core_ocf_cert_done(o->core, ACTOR, cred_id)) != KDC_OK ||
	    (r = kdc_core_sync_all(o->core)) != KDC_OK)
		say(&u, "activating the certificate: %s", kdc_err_str(r));
out:
	if (rfpro)
		(void)dos(&u, p, "cert.rfnop", KDC_OCF_DOS_RFNOP);
	close_sess(o, &p);
	kdc_free(cs);
	kdc_free(csr);
	kdc_free(acl);
	kdc_free(ca);
	kdc_free(pem);
	kdc_free(cert);
	return r;
}

kdc_err
kdc_ocf_obt_acl_add(struct kdc_ocf_obt *o, const char *uuid,
    const struct kdc_ocf_ace *ace, char *why, size_t why_len)
{
	struct kdc_coap_peer *p = NULL;
	struct kdc_ocf_acl2 *acl = NULL;
	struct run u;
	kdc_err r, r2;

	if (o == NULL || ace == NULL || !uuid_ok(uuid))
		return KDC_ERR_INVALID_ARG;
	run_init(&u, o, uuid, why, why_len);
	if ((acl = kdc_calloc(1, sizeof(*acl))) == NULL)
		return KDC_ERR_NOMEM;
	acl->has = KDC_OCF_ACL2_HAS_ACLIST2;
	acl->n = 1;
	acl->aces[0] = *ace;
	if ((r = open_owner(&u, uuid, &p)) != KDC_OK)
		goto out;
	if ((r = dos(&u, p, "acl.rfpro", KDC_OCF_DOS_RFPRO)) != KDC_OK)
		goto out;
	r = post_acl2(&u, p, "acl.add", acl);
	r2 = dos(&u, p, "acl.rfnop", KDC_OCF_DOS_RFNOP);
	if (r == KDC_OK)
		r = r2;
out:
	close_sess(o, &p);
	kdc_free(acl);
	return r;
}

/* Delete the pairwise credentials peer holds for gone. */
static kdc_err
unpair(struct kdc_ocf_obt *o, const char *peer, const char *gone, char *why,
    size_t why_len)
{
	struct kdc_coap_peer *p = NULL;
	struct kdc_ocf_cred_index *cs = NULL;
	struct kdc_ocf_uuid g;
	struct run u;
	struct ans a;
	kdc_err r, r2;

	run_init(&u, o, peer, why, why_len);
	(void)kdc_ocf_uuid_parse(gone, strlen(gone), &g);
	if ((cs = kdc_calloc(1, sizeof(*cs))) == NULL)
		return KDC_ERR_NOMEM;
	if ((r = open_owner(&u, peer, &p)) != KDC_OK)
		goto out;
	if ((r = dos(&u, p, "unpair.rfpro", KDC_OCF_DOS_RFPRO)) != KDC_OK)
		goto out;
	if ((r = req(&u, p, "unpair.read", KDC_COAP_GET, "oic/sec/cred", NULL,
	    NULL, 0, &a, false)) == KDC_OK) {
		r = kdc_ocf_cred_index_decode(a.body, a.len, cs);
		ans_free(&a);
		if (r != KDC_OK)
			say(&u, "step unpair.read: %s", kdc_err_str(r));
	}
	for (size_t i = 0; r == KDC_OK && i < cs->n; i++) {
		char q[40];

		if (cs->ids[i].subject_any ||
		    memcmp(&cs->ids[i].subject, &g, sizeof(g)) != 0 ||
		    !(cs->ids[i].has & KDC_OCF_CRED_HAS_CREDID))
			continue;
		snprintf(q, sizeof(q), "credid=%lld",
		    (long long)cs->ids[i].credid);
		if ((r = req(&u, p, "unpair.delete", KDC_COAP_DELETE,
		    "oic/sec/cred", q, NULL, 0, &a, false)) == KDC_OK)
			ans_free(&a);
	}
	r2 = dos(&u, p, "unpair.rfnop", KDC_OCF_DOS_RFNOP);
	if (r == KDC_OK)
		r = r2;
out:
	close_sess(o, &p);
	kdc_free(cs);
	return r;
}

kdc_err
kdc_ocf_obt_offboard(struct kdc_ocf_obt *o, const char *uuid, bool force,
    char *why, size_t why_len)
{
	struct kdc_coap_peer *p = NULL;
	char (*peers)[KDC_OCF_UUID_TEXT + 1] = NULL;
	struct kdc_ocf_device dev;
	struct run u;
	size_t np = 0;
	kdc_err r, rp = KDC_OK;

	if (o == NULL || !uuid_ok(uuid))
		return KDC_ERR_INVALID_ARG;
	run_init(&u, o, uuid, why, why_len);
	if ((peers = kdc_calloc(KDC_OCF_PAIRS_MAX, sizeof(*peers))) == NULL)
		return KDC_ERR_NOMEM;
	if ((r = kdc_core_ocf_device_get(o->core, uuid, &dev)) != KDC_OK) {
		say(&u, "device %s: %s", uuid, kdc_err_str(r));
		goto out;
	}
	if ((r = kdc_core_ocf_pairs(o->core, uuid, peers, &np)) != KDC_OK)
		goto out;
	/* offboarded already: only the deletions from its peers again (a
	 * peer that could not be reached then) */
	if (dev.state != KDC_OCF_OFFBOARDED) {
		if ((r = open_owner(&u, uuid, &p)) == KDC_OK)
			r = dos(&u, p, "offboard.reset", KDC_OCF_DOS_RESET);
		close_sess(o, &p);
		if (r != KDC_OK && !force)
			goto out;
		if (why != NULL && why_len > 0 && r != KDC_OK)
			why[0] = '\0';	/* forced: the record is what counts */
		if ((r = kdc_core_ocf_offboard(o->core, ACTOR, uuid)) !=
		    KDC_OK || (r = kdc_core_sync_all(o->core)) != KDC_OK) {
			say(&u, "recording the offboarding: %s",
			    kdc_err_str(r));
			goto out;
		}
	}
	/* its pairwise keys out of the devices that hold them */
	for (size_t i = 0; i < np; i++) {
		char w[200];

		w[0] = '\0';
		if (unpair(o, peers[i], uuid, w, sizeof(w)) != KDC_OK) {
			rp = KDC_ERR_PEER_ERROR;
			kdc_log_warn("ocf offboard %s: the pairwise "
			    "key on %s is revoked here but could not be "
			    "deleted there: %s", uuid, peers[i], w);
			say(&u, "offboarded; the pairwise key on %s could not "
			    "be deleted there: %s", peers[i], w);
		}
	}
	r = rp;
out:
	kdc_free(peers);
	return r;
}

/* ---- lifetime ------------------------------------------------------------------ */

kdc_err
kdc_ocf_obt_new(struct kdc_core *core, const struct kdc_config *cfg,
    const char *ifname, unsigned window_ms, struct kdc_ocf_obt **out)
{
	struct kdc_ocf_obt *o;
	kdc_err r;

	if (core == NULL || cfg == NULL || ifname == NULL || out == NULL ||
	    strlen(ifname) == 0 || strlen(ifname) >= KDC_OCF_ZONE_MAX ||
	    window_ms < 100 || window_ms > 30000)
		return KDC_ERR_INVALID_ARG;
	*out = NULL;
	if ((o = kdc_calloc(1, sizeof(*o))) == NULL)
		return KDC_ERR_NOMEM;
	o->core = core;
	strcpy(o->ifname, ifname);
	o->window_ms = window_ms;
	/* the steps' records are progress: synced where a key goes out
	 * and when the OBT ends (kdc_ocf_obt_free()), not one by one */
	if ((r = kdc_core_ocf_obt_uuid(core, &o->obt)) != KDC_OK ||
	    (r = kdc_core_defer_sync(core, true)) != KDC_OK ||
	    (r = kdc_coap_new(core, cfg, &o->coap)) != KDC_OK) {
		kdc_free(o);
		return r;
	}
	*out = o;
	return KDC_OK;
}

void
kdc_ocf_obt_free(struct kdc_ocf_obt *o)
{
	if (o == NULL)
		return;
	kdc_coap_free(o->coap);
	if (kdc_core_sync_all(o->core) != KDC_OK)
		kdc_log_err("ocf: the store's last records are not synced "
		    "to disk");
	(void)kdc_core_defer_sync(o->core, false);
	kdc_wipe(o, sizeof(*o));
	kdc_free(o);
}
