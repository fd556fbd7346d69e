/*
 * serve.c: `iotkdc serve`: the HTTPS listener (its own thread, inside
 * libmicrohttpd) and the CoAP faces (one engine thread: the KDC endpoint
 * with the LwM2M Bootstrap Server, the built-in LwM2M Server). Each
 * thread has its own store connection, core and CA handle: the store and
 * CA objects are used by one thread at a time (store.h, crypto.h); SQLite
 * serialises the writers (WAL, BEGIN IMMEDIATE, busy timeout). The main
 * thread waits for SIGTERM/SIGINT and then stops both faces; while it
 * waits it runs the expiry sweep every [kdc] sweep_seconds, on a third
 * store connection, CA handle and core of its own, and takes SIGHUP:
 * reload() (every signal is taken with sigtimedwait() on this thread,
 * none in a handler). EST enrollments run on
 * [coap] sign_threads workers (core/pool.h), each with its own store
 * connection, CA handle and core.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "cli/cli_int.h"
#include "coap/coap.h"
#include "core/audit.h"
#include "core/pool.h"
#include "core/tlsnames.h"
#include "crypto/codec.h"
#include "http/http.h"
#include "ace/ace.h"
#include "lwm2m/lwm2m.h"
#include "core/tdd.h"
#include "tdd/dnssd.h"
#include "tdd/face.h"

#define ACTOR	"cli"

/* A store connection, CA handle and core: one per thread that uses them. */
struct core_set {
	struct kdc_store	*st;
	struct kdc_ca		*ca;
	struct kdc_core		*core;
};

/* The CoAP faces and everything their thread owns, and the EST workers
 * (core/pool.h), each with a core_set of its own. */
struct coap_face {
	struct kdc_store	*st;
	struct kdc_ca		*ca;
	struct kdc_core		*core;
	struct kdc_coap		*coap;
	struct kdc_lwm2m	*lw;
	struct kdc_est		*est;
	struct kdc_ace		*ace;
	struct kdc_pool		*pool;
	struct core_set		 wk[KDC_POOL_THREADS_MAX];
	size_t			 nwk;
	uint8_t			*srv_cert;	/* /0/x/4, Certificate mode */
	size_t			 srv_cert_len;
	uint8_t			*srv_spki;	/* /0/x/4, RPK mode */
	size_t			 srv_spki_len;
	char			 server_uri[KDC_TLSNAMES_URI_MAX + 1];
	pthread_t		 thread;
	int			 running;
};

/*
 * The configuration every core of serve reads (kdc_core_follow_config()):
 * &c.cfg at first; reload() swaps in a copy with the profiles of a new
 * iotkdc.conf. A configuration swapped out stays valid until serve exits
 * (a request on another thread may still hold one of its profiles):
 * retired[] frees them then, a few KiB per SIGHUP that changed profiles.
 */
static _Atomic(const struct kdc_config *) live_cfg;
static struct kdc_config *retired[64];
static size_t nretired;

static void
follow(struct kdc_core *core)
{
	kdc_core_follow_config(core, &live_cfg);
}

/* The main thread's own store connection, CA handle and core, for the
 * sweep and the CRL check of reload(). */
struct sweeper {
	struct kdc_store	*st;
	struct kdc_ca		*ca;
	struct kdc_core		*core;
	const char		*dir;		/* the data dir (ctx's) */
};

static int
sweeper_open(struct ctx *c, struct sweeper *sw)
{
	char p[1200];
	kdc_err r;

	memset(sw, 0, sizeof(*sw));
	sw->dir = c->dir;
	path_in(c, "iotkdc.db", p, sizeof(p));
	if ((r = kdc_store_open(p, 0, &sw->st)) != KDC_OK)
		return fail("%s: %s", p, kdc_err_str(r));
	if ((r = kdc_ca_load(c->dir, c->kr, strcmp(c->cfg.ca_key, "file") == 0 ?
	    NULL : c->cfg.ca_key, &sw->ca)) != KDC_OK)
		return ca_fail(c, r);
	if ((r = kdc_core_new(sw->st, c->kr, sw->ca, &c->cfg, &sw->core)) !=
	    KDC_OK)
		return fail("%s: %s", c->dir, kdc_err_str(r));
	follow(sw->core);
	return 0;
}

static void
sweeper_close(struct sweeper *sw)
{
	kdc_core_free(sw->core);
	kdc_ca_free(sw->ca);
	kdc_store_close(sw->st);
	memset(sw, 0, sizeof(*sw));
}

/* The Thing Directory: its own store connection and core (the directory
 * runs on the HTTP thread and on the main thread's sweep, under its own
 * lock), and its face. */
struct directory {
	struct kdc_store	*st;
	struct kdc_core		*core;
	struct kdc_tdd		*tdd;
	struct kdc_tdd_face	*face;
};

static int
directory_open(struct ctx *c, struct kdc_http *h, struct directory *d)
{
	struct kdc_tdd_opts o;
	struct kdc_tdd_face_opts fo;
	char p[1200], base[KDC_NAME_MAX + 32];
	const char *host;
	kdc_err r;

	memset(d, 0, sizeof(*d));
	if (!c->cfg.tdd_enabled)
		return 0;
	path_in(c, "iotkdc.db", p, sizeof(p));
	if ((r = kdc_store_open(p, 0, &d->st)) != KDC_OK)
		return fail("%s: %s", p, kdc_err_str(r));
	if ((r = kdc_core_new(d->st, c->kr, NULL, &c->cfg, &d->core)) !=
	    KDC_OK)
		return fail("%s: %s", c->dir, kdc_err_str(r));
	follow(d->core);
	memset(&o, 0, sizeof(o));
	o.max_ttl = c->cfg.tdd_max_ttl;
	o.retention_default = c->cfg.tdd_retention;
	o.retention_max = c->cfg.tdd_retention_max;
	o.strict_lint = c->cfg.tdd_strict_lint != 0;
	o.events_keep = (size_t)c->cfg.tdd_events_keep;
	o.result_max = (size_t)c->cfg.tdd_result_max;
	if ((r = kdc_tdd_new(d->core, &o, &d->tdd)) != KDC_OK)
		return fail("tdd: %s", kdc_err_str(r));
	host = c->cfg.nhosts > 0 ? c->cfg.hosts[0] :
	    strcmp(c->cfg.http_address, "0.0.0.0") == 0 ||
	    strcmp(c->cfg.http_address, "::") == 0 ? "localhost" :
	    c->cfg.http_address;
	snprintf(base, sizeof(base), strchr(host, ':') != NULL ?
	    "https://[%s]:%d" : "https://%s:%d", host, c->cfg.http_port);
	memset(&fo, 0, sizeof(fo));
	fo.base = base;
	fo.audience = c->cfg.tdd_audience;
	fo.basic = c->cfg.tdd_basic != 0;
	fo.rate = (unsigned)c->cfg.tdd_rate;
	fo.burst = fo.rate * 2;
	fo.streams_max = 64;
	if ((r = kdc_tdd_face_new(h, c->core, d->tdd, &fo, &d->face)) !=
	    KDC_OK)
		return fail("tdd: %s", kdc_err_str(r));
	kdc_log_info("tdd: %zu Thing Descriptions, base %s",
	    kdc_tdd_count(d->tdd), base);
	return 0;
}

/* After the listener is freed: no request runs. */
static void
directory_close(struct directory *d)
{
	kdc_tdd_face_free(d->face);
	kdc_tdd_free(d->tdd);
	kdc_core_free(d->core);
	kdc_store_close(d->st);
	memset(d, 0, sizeof(*d));
}

static void
directory_sweep(struct directory *d)
{
	size_t n = 0;
	kdc_err r;

	if (d->tdd == NULL)
		return;
	if ((r = kdc_tdd_sweep(d->tdd, &n)) != KDC_OK)
		kdc_log_warn_r(r, "sweep: expired TDs not erased; next in the "
		    "next period");
	else if (n > 0)
		kdc_log_info("sweep tdd_expired=%zu", n);
}

/* Mark what is past not_after expired (core audits each one). A credential
 * past not_after is refused at authentication whether or not this has
 * run; the sweep keeps the rows and `cred list` true. Then the rows of
 * ACE tokens expired longer than [ace] token_retention go (the table
 * would grow by every token ever issued). */
static void
sweep(struct sweeper *sw)
{
	size_t n = 0, purged = 0;
	kdc_err r;

	if ((r = kdc_core_expire(sw->core, "sweep", &n)) != KDC_OK)
		kdc_log_warn_r(r, "sweep failed; next in the next period");
	else if ((r = kdc_core_ace_purge(sw->core, "sweep", &purged)) !=
	    KDC_OK)
		kdc_log_warn_r(r, "sweep: ACE token rows not purged; next in "
		    "the next period");
	else
		kdc_log_info("sweep expired=%zu ace_purged=%zu", n, purged);
	/* what the engines appended since, anchored outside the store */
	if ((r = kdc_core_audit_anchor(sw->core, sw->dir)) != KDC_OK)
		kdc_log_warn_r(r, "sweep: %s/audit.head not written", sw->dir);
}

/* ---- SIGHUP ------------------------------------------------------------ */

/* What kdc_config_diff() found: the changed keys no reload applies. */
struct reload {
	char	restart[1024];
	size_t	nrestart;
	bool	profiles;
};

/* Append ", item" (or "item") to buf; a list too long ends in "...". */
static void
list_add(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
list_add(char *buf, size_t cap, const char *fmt, ...)
{
	size_t o = strlen(buf);
	va_list ap;
	int n;

	if (o > 0 && o + 2 < cap) {
		memcpy(buf + o, ", ", 3);
		o += 2;
	}
	va_start(ap, fmt);
	n = vsnprintf(buf + o, cap - o, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - o)
		memcpy(buf + cap - 4, "...", 4);
}

static void
reload_note(const char *section, const char *key, void *arg)
{
	struct reload *rl = arg;

	/* what reload() applies itself */
	if (strcmp(section, "kdc") == 0 && key != NULL &&
	    (strcmp(key, "log_level") == 0 ||
	    strcmp(key, "sweep_seconds") == 0))
		return;
	if (strncmp(section, "profile", 7) == 0) {
		rl->profiles = true;	/* applied: profiles_swap() */
		return;
	}
	rl->nrestart++;
	list_add(rl->restart, sizeof(rl->restart), "[%s]%s%s", section,
	    key != NULL ? " " : "", key != NULL ? key : "");
}

/*
 * The profiles of next in effect for every core: a copy of the
 * configuration in effect with next's profiles, checked first on a core of
 * its own (every audience a profile names exists), then swapped in. A check that fails changes nothing. Returns the number of
 * profile entries now in effect, or -1.
 */
static int
profiles_swap(struct ctx *c, struct sweeper *sw, const struct kdc_config *next)
{
	const struct kdc_config *cur = atomic_load(&live_cfg);
	struct kdc_config *snap;
	struct kdc_core *check = NULL;
	char why[256] = "";
	kdc_err r;

	if (nretired == sizeof(retired) / sizeof(retired[0])) {
		kdc_log_warn("SIGHUP: profiles changed %zu times: restart serve "
		    "to apply more", nretired);
		return -1;
	}
	if ((snap = kdc_malloc(sizeof(*snap))) == NULL) {
		kdc_log_warn("SIGHUP: out of memory; profiles not applied");
		return -1;
	}
	*snap = *cur;
	memcpy(snap->profiles, next->profiles, sizeof(snap->profiles));
	snap->nprofiles = next->nprofiles;
	if ((r = kdc_core_new(sw->st, c->kr, sw->ca, snap, &check)) != KDC_OK ||
	    (r = kdc_core_audiences_check(check, why, sizeof(why))) !=
	    KDC_OK) {
		kdc_log_warn("SIGHUP: profiles not applied: %s", why[0] != '\0' ?
		    why : kdc_err_str(r));
		kdc_core_free(check);
		kdc_free(snap);
		return -1;
	}
	kdc_core_free(check);
	atomic_store(&live_cfg, snap);
	if (cur != &c->cfg)
		retired[nretired++] = (struct kdc_config *)(uintptr_t)cur;
	return (int)snap->nprofiles;
}

/*
 * SIGHUP: read iotkdc.conf again and apply [kdc] log_level and
 * sweep_seconds (this loop's period), and the profiles (every core reads
 * them through live_cfg: profiles_swap()). Every other changed key is
 * named in a warning and waits for a restart. The CRL is built here again
 * from the store and the CA, as a check: the faces serve the same
 * generation, as each core rebuilds its cached CRL at its next request
 * after any revocation (the store's counter). live holds the log level
 * and sweep period in effect; a file that does not load changes nothing.
 */
static void
reload(struct ctx *c, struct kdc_config *live, struct sweeper *sw)
{
	static const char *levels[] = { "err", "warn", "info", "debug" };
	struct kdc_config *next;
	struct reload rl;
	char p[1200], err[512], done[256] = "";
	uint8_t *crl = NULL;
	size_t crl_len = 0;
	bool louder;
	int np;
	kdc_err r;

	memset(&rl, 0, sizeof(rl));
	path_in(c, "iotkdc.conf", p, sizeof(p));
	if ((next = kdc_malloc(sizeof(*next))) == NULL) {
		kdc_log_warn("SIGHUP: out of memory; nothing reloaded");
		return;
	}
	if ((r = kdc_config_load(p, next, err, sizeof(err))) != KDC_OK) {
		kdc_log_warn("SIGHUP: %s; nothing reloaded", err);
		kdc_free(next);
		return;
	}
	(void)kdc_config_diff(live, next, reload_note, &rl);
	/* the line must pass both levels: the louder one first */
	louder = next->log_level > live->log_level;
	if (next->log_level != live->log_level) {
		list_add(done, sizeof(done), "log_level=%s",
		    levels[next->log_level]);
		if (louder)
			kdc_log_set_level((enum kdc_log_level)next->log_level);
	}
	if (next->sweep_seconds != live->sweep_seconds)
		list_add(done, sizeof(done), "sweep_seconds=%d",
		    next->sweep_seconds);
	if (rl.profiles && (np = profiles_swap(c, sw, next)) >= 0) {
		list_add(done, sizeof(done), "profiles=%d", np);
		memcpy(live->profiles, next->profiles, sizeof(live->profiles));
		live->nprofiles = next->nprofiles;
	}
	if ((r = kdc_core_crl(sw->core, &crl, &crl_len)) == KDC_OK)
		list_add(done, sizeof(done), "crl=%zu bytes", crl_len);
	else
		kdc_log_warn_r(r, "SIGHUP: CRL");
	kdc_free(crl);
	kdc_log_info("reloaded: %s", done[0] != '\0' ? done : "nothing");
	if (!louder)
		kdc_log_set_level((enum kdc_log_level)next->log_level);
	live->log_level = next->log_level;
	live->sweep_seconds = next->sweep_seconds;
	if (rl.nrestart > 0)
		kdc_log_warn("SIGHUP: %zu changed key%s need%s a restart, not "
		    "applied: %s", rl.nrestart, rl.nrestart > 1 ? "s" : "",
		    rl.nrestart > 1 ? "" : "s", rl.restart);
	kdc_free(next);
}

static void *
engine_thread(void *arg)
{
	struct coap_face *f = arg;
	kdc_err r;

	if ((r = kdc_coap_run(f->coap)) != KDC_OK)
		kdc_log_err_r(r, "coap engine stopped");
	return NULL;
}

static void
face_stop(struct coap_face *f)
{
	if (f->running) {
		kdc_coap_stop(f->coap);
		pthread_join(f->thread, NULL);
		f->running = 0;
	}
	/* the workers finish what they run; what waits is answered 5.03 */
	kdc_pool_free(f->pool);
	kdc_coap_free(f->coap);		/* fails what is in flight, audited */
	kdc_est_free(f->est);		/* after the engine (lwm2m.h) */
	kdc_lwm2m_free(f->lw);		/* after the engine (lwm2m.h) */
	kdc_ace_free(f->ace);		/* after the engine */
	for (size_t i = 0; i < f->nwk; i++) {
		kdc_core_free(f->wk[i].core);
		kdc_ca_free(f->wk[i].ca);
		kdc_store_close(f->wk[i].st);
	}
	kdc_core_free(f->core);
	kdc_ca_free(f->ca);
	kdc_store_close(f->st);
	kdc_free(f->srv_cert);
	kdc_free(f->srv_spki);
	memset(f, 0, sizeof(*f));
}

/* One warning line per name the certificate should carry (tlsnames.h)
 * and does not: a device given a server URI whose host the certificate
 * does not name refuses the server, if it checks (Anjay does). */
static void
tls_names_check(const struct ctx *c, const char *cert_pem)
{
	struct kdc_tlsnames tn;
	kdc_err r;

	if ((r = kdc_tlsnames_required(&c->cfg, &tn)) != KDC_OK) {
		char esc[2 * KDC_TLSNAMES_URI_MAX];

		kdc_log_escape(c->cfg.lwm2m_server_uri,
		    strlen(c->cfg.lwm2m_server_uri), esc, sizeof(esc));
		kdc_log_warn_r(r, "[lwm2m] server_uri \"%s\" has no host we "
		    "can read: the TLS certificate's names not checked", esc);
		return;
	}
	for (size_t i = 0; i < tn.n; i++) {
		const char *h = tn.name[i].host;

		r = kdc_tls_cert_names_host(cert_pem, strlen(cert_pem), h);
		if (r == KDC_ERR_NOT_FOUND)
			kdc_log_warn("%s/server.pem does not name host=%s "
			    "(%s)%s; add it to [kdc] hosts (or leave it to "
			    "the server URI), run 'iotkdc tls reissue' and "
			    "restart serve", c->dir, h, tn.name[i].from,
			    tn.name[i].server_uri ? ": devices told this "
			    "LwM2M Server URI refuse the server if they check "
			    "its certificate (Anjay does)" : "");
		else if (r != KDC_OK)
			kdc_log_warn_r(r, "%s/server.pem: cannot check host=%s",
			    c->dir, h);
	}
}

/* Listen on one CoAP endpoint unless its port is 0; prints the error. */
static int
ep_listen(struct ctx *c, struct coap_face *f, const char *name, int port,
    unsigned accept, const char *cert_pem, const char *key_pem)
{
	kdc_err r;

	if (port == 0)
		return 0;
	if ((r = kdc_coap_listen(f->coap, name, c->cfg.coap_address, port,
	    accept, cert_pem, key_pem)) != KDC_OK)
		return fail("coap: cannot listen on %s udp %d (%s): %s",
		    c->cfg.coap_address, port, name, kdc_err_str(r));
	return 0;
}

/* Open a store connection, the CA and a core for one thread. */
static int
core_set_open(struct ctx *c, struct core_set *cs)
{
	char p[1200];
	kdc_err r;

	path_in(c, "iotkdc.db", p, sizeof(p));
	if ((r = kdc_store_open(p, 0, &cs->st)) != KDC_OK)
		return fail("%s: %s", p, kdc_err_str(r));
	if ((r = kdc_ca_load(c->dir, c->kr, strcmp(c->cfg.ca_key, "file") == 0 ?
	    NULL : c->cfg.ca_key, &cs->ca)) != KDC_OK)
		return ca_fail(c, r);
	if ((r = kdc_core_new(cs->st, c->kr, cs->ca, &c->cfg, &cs->core)) !=
	    KDC_OK)
		return fail("%s: %s", c->dir, kdc_err_str(r));
	if ((r = kdc_core_ace_key_load(cs->core, c->dir)) != KDC_OK)
		return as_key_fail(c->dir, r);
	follow(cs->core);
	return 0;
}

/* The engine's revocation watch saw a revocation: the LwM2M Server drops
 * the registrations it ends, the AS tells its TRL observers. */
static void
revoked(void *arg)
{
	struct coap_face *f = arg;
	kdc_err r;

	if ((r = kdc_lwm2m_server_recheck(f->lw)) != KDC_OK)
		kdc_log_warn_r(r, "lwm2m: registrations not all rechecked");
	kdc_ace_revoked(f->ace);
}

/* The engine's watch on the pool's eventfd: answers finished jobs. */
static void
pool_drain(void *arg)
{
	(void)kdc_pool_drain(arg);
}

/* [coap] sign_threads workers for EST, each with its own core. */
static int
workers_start(struct ctx *c, struct coap_face *f, size_t nwk)
{
	struct kdc_core *cores[KDC_POOL_THREADS_MAX];
	kdc_err r;

	if (nwk == 0 || c->cfg.coap_port == 0)
		return 0;
	for (f->nwk = 0; f->nwk < nwk; f->nwk++) {
		if (core_set_open(c, &f->wk[f->nwk]) != 0) {
			f->nwk++;	/* closed by face_stop() */
			return 1;
		}
		cores[f->nwk] = f->wk[f->nwk].core;
	}
	if ((r = kdc_pool_new(cores, f->nwk, KDC_POOL_QUEUE_MAX, &f->pool)) !=
	    KDC_OK)
		return fail("coap: EST workers: %s", kdc_err_str(r));
	if ((r = kdc_coap_watch(f->coap, kdc_pool_fd(f->pool), pool_drain,
	    f->pool)) != KDC_OK)
		return fail("coap: EST workers: %s", kdc_err_str(r));
	return 0;
}

static int
face_start(struct ctx *c, const char *cert_pem, const char *key_pem,
    struct coap_face *f, size_t nwk)
{
	struct kdc_lwm2m_opts o;
	struct core_set own = { NULL, NULL, NULL };
	kdc_err r;
	int rc;

	memset(f, 0, sizeof(*f));
	if (c->cfg.coap_port == 0 && c->cfg.lwm2m_port == 0 &&
	    c->cfg.nosec_port == 0)
		return 0;
	rc = core_set_open(c, &own);
	f->st = own.st;		/* closed by face_stop(), as all below */
	f->ca = own.ca;
	f->core = own.core;
	if (rc != 0)
		return 1;
	/* the engine syncs once per step what its handlers committed,
	 * before the requests carrying those credentials leave (coap.h) */
	if ((r = kdc_core_defer_sync(f->core, true)) != KDC_OK)
		return fail("coap: store: %s", kdc_err_str(r));
	if ((r = kdc_cert_pem_leaf(cert_pem, strlen(cert_pem), &f->srv_cert,
	    &f->srv_cert_len, &f->srv_spki, &f->srv_spki_len)) != KDC_OK)
		return fail("%s/server.pem: %s", c->dir, kdc_err_str(r));
	if ((r = kdc_coap_new(f->core, &c->cfg, &f->coap)) != KDC_OK)
		return fail("coap: %s", kdc_err_str(r));
	if (ep_listen(c, f, "kdc", c->cfg.coap_port,
	    KDC_COAP_ACCEPT_MANUFACTURER | KDC_COAP_ACCEPT_OPERATIONAL,
	    cert_pem, key_pem) != 0 ||
	    ep_listen(c, f, "lwm2m", c->cfg.lwm2m_port,
	    KDC_COAP_ACCEPT_OPERATIONAL, cert_pem, key_pem) != 0 ||
	    ep_listen(c, f, "kdc-nosec", c->cfg.nosec_port,
	    KDC_COAP_ACCEPT_NOSEC, NULL, NULL) != 0)
		return 1;
	if ((r = kdc_tlsnames_lwm2m_uri(&c->cfg, f->server_uri,
	    sizeof(f->server_uri))) != KDC_OK)
		return fail("[lwm2m] server_uri: %s", kdc_err_str(r));
	memset(&o, 0, sizeof(o));
	o.server_uri = f->server_uri;
	o.server_cert = f->srv_cert;
	o.server_cert_len = f->srv_cert_len;
	o.server_spki = f->srv_spki;
	o.server_spki_len = f->srv_spki_len;
	o.bs_deadline = (unsigned)c->cfg.lwm2m_bootstrap_timeout;
	o.lifetime = (uint32_t)c->cfg.lwm2m_lifetime;
	if (c->cfg.nosec_port != 0) {
		/* tests only: the engine opened it on loopback or refused */
		o.nosec_endpoint = "kdc-nosec";
		kdc_log_warn("*** [coap] nosec_port=%d: UNAUTHENTICATED LwM2M "
		    "bootstrap on udp %s:%d: anyone on this host can get the "
		    "credentials of any registered device by naming it. "
		    "TEST CONFIGURATION ONLY, never in production ***",
		    c->cfg.nosec_port, c->cfg.coap_address,
		    c->cfg.nosec_port);
	}
	if ((r = kdc_lwm2m_attach(f->coap, f->core, &o, &f->lw)) != KDC_OK)
		return fail("lwm2m: %s", kdc_err_str(r));
	if (workers_start(c, f, nwk) != 0)
		return 1;
	if ((r = kdc_est_attach(f->coap, f->core, "kdc", f->pool, &f->est)) !=
	    KDC_OK)
		return fail("est: %s", kdc_err_str(r));
	if ((r = kdc_ace_attach(f->coap, f->core, "kdc", &f->ace)) != KDC_OK)
		return fail("ace: %s", kdc_err_str(r));
	/* a revocation by `iotkdc cred|device revoke` (another process: we
	 * share only the data dir) closes the sessions it ends and drops
	 * their registrations (docs/design.md) */
	kdc_coap_revocation_watch(f->coap, KDC_REVOCATION_POLL_MS,
	    revoked, f);
	if (pthread_create(&f->thread, NULL, engine_thread, f) != 0)
		return fail("coap: cannot start its thread");
	f->running = 1;
	return 0;
}

/* How many engine threads: [coap] threads, or one per CPU. */
static size_t
engine_threads(const struct ctx *c)
{
	long n = c->cfg.coap_threads > 0 ? c->cfg.coap_threads :
	    sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	if (n > KDC_COAP_THREADS_MAX)
		n = KDC_COAP_THREADS_MAX;
	return (size_t)n;
}

/*
 * One CoAP face per engine thread: each has its own engine (its own
 * sockets in each port's SO_REUSEPORT group), core, store connection,
 * LwM2M and EST faces and EST workers ([coap] sign_threads shared out).
 */
static int
faces_start(struct ctx *c, const char *cert_pem, const char *key_pem,
    struct coap_face **out, size_t *nout)
{
	size_t n = engine_threads(c), nwk;
	struct coap_face *f;

	*out = NULL;
	*nout = 0;
	if ((f = kdc_calloc(n, sizeof(*f))) == NULL)
		return fail("coap: out of memory");
	*out = f;
	nwk = c->cfg.sign_threads <= 0 ? 0 :
	    ((size_t)c->cfg.sign_threads + n - 1) / n;
	for (size_t i = 0; i < n; i++) {
		*nout = i + 1;
		if (face_start(c, cert_pem, key_pem, &f[i], nwk) != 0)
			return 1;
	}
	if (n > 1)
		kdc_log_info("coap: %zu engine threads", n);
	return 0;
}

static void
faces_stop(struct coap_face *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (f[i].running) {
			kdc_coap_stop(f[i].coap);
			pthread_join(f[i].thread, NULL);
			f[i].running = 0;
		}
	for (size_t i = 0; i < n; i++)
		face_stop(&f[i]);
	kdc_free(f);
}

int
kdc_cli_serve(const struct kdc_cli_args *a)
{
	struct ctx c;
	struct coap_face *f = NULL;
	size_t nf = 0;
	struct sweeper sw;
	struct directory dir;
	struct kdc_config live;
	struct timespec period;
	struct kdc_http *h = NULL;
	struct kdc_dnssd *dns = NULL;
	struct kdc_http_tls tls = { NULL, NULL, NULL };
	char *cert_pem = NULL, *key_pem = NULL, *ca_pem = NULL, why[256];
	size_t key_len = 0, ca_len = 0;
	sigset_t set;
	int sig = 0, rc = 1;
	kdc_err r;

	memset(&sw, 0, sizeof(sw));
	memset(&dir, 0, sizeof(dir));
	/* glibc gives freed heap back (madvise) once 128 KiB are free at a
	 * thread arena's top: each SQLite connection drops its page cache
	 * when another one commits, so under load the workers' arenas
	 * shrank and grew (page faults) on every enrollment, ~2 % of the
	 * daemon's CPU (docs/perf.md). Keep up to 32 MiB. */
	(void)mallopt(M_TRIM_THRESHOLD, 32 << 20);
	kdc_store_process_init();
	if (ctx_open(&c, a, 1) != 0)
		return 1;
	atomic_store(&live_cfg, &c.cfg);
	follow(c.core);
	/* every audience a profile names exists: else a device would get
	 * a credential no service accepts */
	if ((r = kdc_core_audiences_check(c.core, why, sizeof(why))) !=
	    KDC_OK) {
		fail("%s: %s", c.dir, why[0] != '\0' ? why : kdc_err_str(r));
		goto out;
	}
	if (sweeper_open(&c, &sw) != 0)
		goto out;
	if ((r = kdc_tls_cert_load(c.dir, c.kr, &cert_pem, &key_pem,
	    &key_len)) != KDC_OK) {
		fail("%s/server.pem, server.key: %s; 'iotkdc tls reissue' makes "
		    "both again", c.dir, r == KDC_ERR_MALFORMED ?
		    "server.pem is not a certificate chain that parses" :
		    r == KDC_ERR_TLS ? "the certificate is not server.key's "
		    "(one of them is from another data dir)" :
		    r == KDC_ERR_IO ? "missing or unreadable" : kdc_err_str(r));
		goto out;
	}
	tls_names_check(&c, cert_pem);
	tls.cert_pem = cert_pem;
	tls.key_pem = key_pem;
	if (c.cfg.http_client_cert != KDC_CLIENT_CERT_NONE) {
		if ((r = kdc_ca_cert_pem(c.ca, &ca_pem, &ca_len)) != KDC_OK) {
			fail("CA: %s", kdc_err_str(r));
			goto out;
		}
		/* our CA alone: the ACE face trusts the chains the listener
		 * verified as ours (kdc_core_auth_cert_verified) */
		tls.trust_pem = ca_pem;
	}
	/* signals are taken synchronously below; block them before any
	 * thread starts so every thread inherits the mask */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((r = kdc_http_new(&c.cfg, &tls, &h)) != KDC_OK ||
	    (r = kdc_http_routes_core(h, c.core)) != KDC_OK ||
	    (r = kdc_ace_http_routes(h, c.core)) != KDC_OK) {
		fail("https: %s", kdc_err_str(r));
		goto out;
	}
	if (directory_open(&c, h, &dir) != 0)
		goto out;
	if ((r = kdc_http_start(h)) != KDC_OK) {
		fail("https: cannot listen on %s:%d (address in use, or not "
		    "ours to bind; see [http] in %s/iotkdc.conf)",
		    c.cfg.http_address, c.cfg.http_port, c.dir);
		goto out;
	}
	/* the Thing Directory introduced by DNS-SD: a convenience, never
	 * fatal; without an avahi-daemon it logs and waits for one */
	if (c.cfg.http_dnssd && c.cfg.tdd_enabled && (r = kdc_dnssd_start(NULL, c.cfg.http_address,
	    (uint16_t)c.cfg.http_port, "/.well-known/wot", "https", &dns)) !=
	    KDC_OK)
		kdc_log_warn_r(r, "dns-sd: not advertised");
	if (faces_start(&c, cert_pem, key_pem, &f, &nf) != 0)
		goto out;
	kdc_log_info("serving dir=%s https=%s:%d coaps=%s:%d lwm2m=%s:%d",
	    c.dir, c.cfg.http_address, c.cfg.http_port, c.cfg.coap_address,
	    c.cfg.coap_port, c.cfg.coap_address, c.cfg.lwm2m_port);
	/* on the main thread's connection: c.st is the HTTP thread's now */
	(void)kdc_audit_append(sw.st, c.kr, (int64_t)time(NULL), ACTOR,
	    "serve.start", c.dir, KDC_OK, "https=%s:%d coaps=%d lwm2m=%d",
	    c.cfg.http_address, c.cfg.http_port, c.cfg.coap_port,
	    c.cfg.lwm2m_port);
	sweep(&sw);
	directory_sweep(&dir);
	fflush(stderr);
	live = c.cfg;		/* what reload() changes; c.cfg stays */
	for (;;) {
		period.tv_sec = live.sweep_seconds;
		period.tv_nsec = 0;
		if ((sig = sigtimedwait(&set, NULL, &period)) == SIGHUP) {
			reload(&c, &live, &sw);
			fflush(stderr);
			continue;
		}
		if (sig > 0)
			break;
		if (errno == EAGAIN) {
			sweep(&sw);
			directory_sweep(&dir);
			fflush(stderr);
		}
	}
	kdc_log_info("signal=%d: draining and stopping", sig);
	kdc_dnssd_stop(dns);	/* withdrawn before the listener goes */
	dns = NULL;
	kdc_http_stop(h);
	faces_stop(f, nf);
	f = NULL;
	nf = 0;
	kdc_log_info("stopped");
	rc = 0;
out:
	kdc_dnssd_stop(dns);
	faces_stop(f, nf);
	kdc_http_free(h);
	directory_close(&dir);
	sweeper_close(&sw);
	kdc_free(cert_pem);
	kdc_free(ca_pem);
	kdc_secret_free(key_pem, key_len);
	ctx_close(&c);
	/* every core is gone: the configurations swapped in can go too */
	if (atomic_load(&live_cfg) != &c.cfg)
		kdc_free((void *)(uintptr_t)atomic_load(&live_cfg));
	while (nretired > 0)
		kdc_free(retired[--nretired]);
	atomic_store(&live_cfg, NULL);
	return rc;
}
