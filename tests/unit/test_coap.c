/* test_coap.c: the CoAP(S) face against real peers on loopback:
 * coap-client-gnutls (libcoap3-bin) for PSK, RPK and X.509 handshakes and
 * the negotiated suite, and for separate responses (deferred, cancelled,
 * NON); a libcoap client in this process for requests the
 * KDC sends on a DTLS session; a raw UDP socket on the NoSec endpoint for
 * RST, timeouts and option limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <coap3/coap.h>
#include <gnutls/dtls.h>
#include <gnutls/gnutls.h>
#include <sqlite3.h>

#include "base/log.h"
#include "coap/coap.h"
#include "core/config.h"
#include "core/core.h"
#include "store/store_int.h"
#include "testkdc.h"
#include "testutil.h"

#define PSK_KEY		"secret-psk-0123456789"	/* coap-client -k: text */

struct fx {
	struct kdc_test_kdc	 k;	/* testkdc.h */
	struct kdc_config	 cfg;
	struct kdc_coap		*coap;
	int			 port;		/* "kdc": manufacturer+operational */
	int			 port_op;	/* "op": operational only */
	int			 port_nosec;
	pthread_t		 th;
	int			 running;
	char			 echo[512];
	/* requests sent from handlers */
	atomic_int		 ndone;
	kdc_err			 done_status;
	uint8_t			 done_code;
	char			 done_payload[64];
	struct kdc_coap_peer	*held;
	int			 ngone;
	/* separate responses */
	int			 efd;		/* watched: answer f->later */
	struct kdc_coap_later	*later;
	int			 nwatch_calls;
	int			 later_ok;	/* h_later's checks passed */
	int			 cancel_ok;	/* h_cancel's */
	atomic_int		 failcommit;	/* h_failcommit's runs */
};

static const uint8_t wkey[32] = { 0x42 };

/* ---- handlers -------------------------------------------------------------- */

static void
h_echo(void *arg, struct kdc_coap_peer *p, const struct kdc_coap_msg *req,
    struct kdc_coap_resp *resp)
{
	struct fx *f = arg;
	const struct kdc_principal *a = kdc_coap_peer_auth(p);
	int n;

	n = snprintf(f->echo, sizeof(f->echo), "%s|%s|%d|%.*s", a->dev_id,
	    kdc_coap_peer_endpoint(p), (int)a->type, (int)req->payload_len,
	    (const char *)req->payload);
	resp->code = KDC_COAP_CONTENT;
	resp->content_format = 0;
	resp->payload = (const uint8_t *)f->echo;
	resp->payload_len = (size_t)n;
}

static void
on_done(void *arg, struct kdc_coap_peer *p, kdc_err st,
    const struct kdc_coap_msg *rsp)
{
	struct fx *f = arg;

	(void)p;
	f->done_status = st;
	f->done_code = rsp != NULL ? rsp->code : 0;
	f->done_payload[0] = '\0';
	if (rsp != NULL && rsp->payload_len < sizeof(f->done_payload)) {
		memcpy(f->done_payload, rsp->payload, rsp->payload_len);
		f->done_payload[rsp->payload_len] = '\0';
	}
	atomic_fetch_add(&f->ndone, 1);
}

/*
 * A row whose foreign key SQLite checks only at COMMIT (defer_foreign_keys,
 * reset by every COMMIT): the step's group commit fails
 * (kdc_core_batch_end()), so the answer "sent" must never leave.
 */
static void
h_failcommit(void *arg, struct kdc_coap_peer *p,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	struct fx *f = arg;
	struct kdc_cred c;

	(void)p;
	(void)req;
	memset(&c, 0, sizeof(c));
	c.device = 999999;		/* no such device */
	c.kind = KDC_KIND_OWNER;
	c.type = KDC_TYPE_RPK;
	c.status = KDC_CRED_ISSUED;
	/* its commit fails at the step's end, or at its own end when the
	 * batch is past KDC_STORE_BATCH_MS (valgrind): either way the
	 * step's group commit reports it */
	if (kdc_store_begin(f->k.st) == KDC_OK) {
		if (sqlite3_exec(kdc_sqlite_handle(f->k.st),
		    "PRAGMA defer_foreign_keys = ON", NULL, NULL, NULL) ==
		    SQLITE_OK && kdc_store_cred_add(f->k.st, &c) == KDC_OK) {
			atomic_fetch_add(&f->failcommit, 1);
			(void)kdc_store_commit(f->k.st);
		} else
			kdc_store_rollback(f->k.st);
	}
	resp->code = KDC_COAP_CHANGED;
	resp->payload = (const uint8_t *)"sent";
	resp->payload_len = 4;
}

/* Defer; the watch callback answers "late" between engine steps. A
 * request that cannot wait (NON) is answered "inline". */
static void
h_later(void *arg, struct kdc_coap_peer *p, const struct kdc_coap_msg *req,
    struct kdc_coap_resp *resp)
{
	struct fx *f = arg;
	uint64_t one = 1;

	(void)req;
	if ((f->later = kdc_coap_defer(p)) == NULL) {
		resp->code = KDC_COAP_CONTENT;
		resp->payload = (const uint8_t *)"inline";
		resp->payload_len = 6;
		return;
	}
	/* checked by the test thread (no cmocka asserts on the engine's) */
	if (kdc_coap_later_peer(f->later) == p &&
	    kdc_coap_peer_laters(p) == 1 &&
	    kdc_coap_defer(p) == NULL)		/* once per request */
		f->later_ok++;
	if (write(f->efd, &one, sizeof(one)) != sizeof(one))
		f->later_ok = -100;
}

static void
on_watch(void *arg)
{
	struct fx *f = arg;
	struct kdc_coap_resp rs;
	uint64_t v;

	f->nwatch_calls++;
	if (read(f->efd, &v, sizeof(v)) != sizeof(v) || f->later == NULL)
		return;
	memset(&rs, 0, sizeof(rs));
	rs.code = KDC_COAP_CONTENT;
	rs.content_format = KDC_CF_NONE;
	rs.max_age = 7;
	rs.payload = (const uint8_t *)"late";
	rs.payload_len = 4;
	kdc_coap_later_answer(f->later, &rs);
	f->later = NULL;
}

/* Defer, then take it back and answer at once. */
static void
h_cancel(void *arg, struct kdc_coap_peer *p, const struct kdc_coap_msg *req,
    struct kdc_coap_resp *resp)
{
	struct fx *f = arg;
	struct kdc_coap_later *l = kdc_coap_defer(p);

	(void)req;
	if (l != NULL) {
		kdc_coap_later_cancel(l);
		if (kdc_coap_peer_laters(p) == 0)
			f->cancel_ok++;
	}
	resp->code = KDC_COAP_CONTENT;
	resp->payload = (const uint8_t *)"now";
	resp->payload_len = 3;
}

/* LwM2M-bootstrap-like: answer 2.04, keep the peer for requests later */
static void
h_bs(void *arg, struct kdc_coap_peer *p, const struct kdc_coap_msg *req,
    struct kdc_coap_resp *resp)
{
	struct fx *f = arg;
	const char *ep = kdc_coap_msg_query(req, "ep");

	if (ep == NULL) {
		resp->code = KDC_COAP_BAD_REQUEST;
		return;
	}
	if (f->held == NULL) {
		kdc_coap_peer_hold(p);
		f->held = p;
	}
	resp->code = KDC_COAP_CHANGED;
}

static void
on_gone(void *arg, struct kdc_coap_peer *p)
{
	struct fx *f = arg;

	(void)p;
	f->ngone++;
}

/* ---- fixture ----------------------------------------------------------------- */

/* [coap] limits a test sets (cmocka prestate; 0: the default). */
struct lims {
	int	max_sessions, max_handshakes, handshake_rate, per_cred;
	int	idle_timeout, stale;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const struct lims *l = *state;

	if (getenv("KDC_TEST_DEBUG") != NULL)
		kdc_log_set_level(KDC_LOG_DEBUG);
	kdc_config_defaults(&f->cfg);
	if (l != NULL) {
		if (l->max_sessions > 0)
			f->cfg.coap_max_sessions = l->max_sessions;
		if (l->max_handshakes > 0)
			f->cfg.coap_max_handshakes = l->max_handshakes;
		if (l->handshake_rate > 0)
			f->cfg.coap_handshake_rate = l->handshake_rate;
		if (l->per_cred > 0)
			f->cfg.coap_sessions_per_cred = l->per_cred;
		if (l->idle_timeout > 0)
			f->cfg.coap_idle_timeout = l->idle_timeout;
		if (l->stale > 0)
			f->cfg.coap_stale = l->stale;
	}
	kdc_test_kdc_open(&f->k, wkey, &f->cfg, KDC_TEST_TLS);
	assert_int_equal(kdc_coap_new(f->k.core, &f->cfg, &f->coap), KDC_OK);
	f->port = kdc_test_free_udp_port();
	f->port_op = kdc_test_free_udp_port();
	f->port_nosec = kdc_test_free_udp_port();
	assert_int_equal(kdc_coap_listen(f->coap, "kdc", "127.0.0.1", f->port,
	    KDC_COAP_ACCEPT_MANUFACTURER | KDC_COAP_ACCEPT_OPERATIONAL,
	    f->k.cert_pem, f->k.key_pem), KDC_OK);
	assert_int_equal(kdc_coap_listen(f->coap, "op", "127.0.0.1",
	    f->port_op, KDC_COAP_ACCEPT_OPERATIONAL, f->k.cert_pem,
	    f->k.key_pem), KDC_OK);
	assert_int_equal(kdc_coap_listen(f->coap, "nosec", "127.0.0.1",
	    f->port_nosec, KDC_COAP_ACCEPT_NOSEC, NULL, NULL), KDC_OK);
	assert_int_equal(kdc_coap_route(f->coap, NULL, KDC_COAP_POST, "echo",
	    h_echo, f), KDC_OK);
	assert_int_equal(kdc_coap_route(f->coap, NULL, KDC_COAP_POST, "bs",
	    h_bs, f), KDC_OK);
	assert_int_equal(kdc_coap_route(f->coap, NULL, KDC_COAP_POST, "later",
	    h_later, f), KDC_OK);
	assert_int_equal(kdc_coap_route(f->coap, NULL, KDC_COAP_POST, "cancel",
	    h_cancel, f), KDC_OK);
	assert_int_equal(kdc_coap_route(f->coap, NULL, KDC_COAP_POST,
	    "failcommit", h_failcommit, f), KDC_OK);
	assert_true((f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) >= 0);
	assert_int_equal(kdc_coap_watch(f->coap, f->efd, on_watch, f),
	    KDC_OK);
	kdc_coap_on_gone(f->coap, on_gone, f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	if (f->running) {		/* a failed assertion left it running */
		kdc_coap_stop(f->coap);
		pthread_join(f->th, NULL);
	}
	if (f->held != NULL)
		kdc_coap_peer_release(f->held);
	kdc_coap_free(f->coap);
	close(f->efd);
	kdc_test_kdc_close(&f->k);
	free(f);
	return 0;
}

static void *
engine_main(void *arg)
{
	(void)kdc_coap_run(arg);
	return NULL;
}

static void
engine_start(struct fx *f)
{
	assert_int_equal(pthread_create(&f->th, NULL, engine_main, f->coap), 0);
	f->running = 1;
}

static void
engine_stop(struct fx *f)
{
	kdc_coap_stop(f->coap);
	assert_int_equal(pthread_join(f->th, NULL), 0);
	f->running = 0;
}

static void
psk_device(struct fx *f, const char *id, const char *ident, const char *key)
{
	struct kdc_device_spec s;

	memset(&s, 0, sizeof(s));
	snprintf(s.dev_id, sizeof(s.dev_id), "%s", id);
	snprintf(s.psk_identity, sizeof(s.psk_identity), "%s", ident);
	s.type = KDC_TYPE_PSK;
	s.psk_len = strlen(key);
	memcpy(s.psk, key, s.psk_len);
	assert_int_equal(kdc_core_device_add(f->k.core, "test", &s), KDC_OK);
}

static char *
slurp(struct fx *f, const char *name)
{
	char path[600];
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", f->k.dir, name);
	return (char *)kdc_test_read_file(path, &len);
}

static void
expect_last_audit(struct fx *f, const char *action, const char *outcome)
{
	struct kdc_audit_rec last;

	assert_int_equal(kdc_store_audit_last(f->k.st, &last), KDC_OK);
	assert_string_equal(last.action, action);
	assert_string_equal(last.outcome, outcome);
}

/* coap-client-gnutls POST /echo on port with extra arguments; 0 if it
 * printed exactly `want` (NULL: anything). -B bounds a failed handshake. */
static int
client_post(struct fx *f, int port, const char *args, const char *want)
{
	char *out;
	int rc, ok;

	rc = kdc_test_sh("cd %s && rm -f out.txt && coap-client-gnutls -B 3 "
	    "-m post %s -o out.txt -e hello coaps://127.0.0.1:%d/echo "
	    "> log.txt 2>&1", f->k.dir, args, port);
	out = slurp(f, "out.txt");
	if (out != NULL && out[0] != '\0' && out[strlen(out) - 1] == '\n')
		out[strlen(out) - 1] = '\0';
	/* the echo came back: routed, so the handshake succeeded */
	ok = rc == 0 && out != NULL && strstr(out, "|hello") != NULL &&
	    (want == NULL || strcmp(out, want) == 0);
	if (!ok && want != NULL)
		print_message("client rc=%d out='%s'\n", rc, out ? out : "");
	free(out);
	return ok ? 0 : -1;
}

/* ---- DTLS handshakes through core/ --------------------------------------- */

static void
test_psk(void **state)
{
	struct fx *f = *state;
	char *log;

	psk_device(f, "urn:dev:ops:1", "dev1", PSK_KEY);
	engine_start(f);
	/* the right key: routed, the identity is the one core/ found */
	assert_int_equal(client_post(f, f->port, "-u dev1 -k " PSK_KEY,
	    "urn:dev:ops:1|kdc|0|hello"), 0);
	/* on the wire: a client offering libcoap's default suites gets the
	 * RFC 7925 one (GnuTLS debug log of the client, -v 9) */
	assert_int_equal(kdc_test_sh("cd %s && coap-client-gnutls -v 9 -B 3 "
	    "-m post -u dev1 -k " PSK_KEY " -e x coaps://127.0.0.1:%d/echo "
	    "> v9.txt 2>&1", f->k.dir, f->port), 0);
	assert_non_null(log = slurp(f, "v9.txt"));
	if (strstr(log, "Selected cipher suite: GNUTLS_PSK_AES_128_CCM_8") == NULL)
{
		(void)kdc_test_sh("grep -i 'AES_128_CCM_8' %s/v9.txt | head -5",
		    f->k.dir);
		fail_msg("TLS_PSK_WITH_AES_128_CCM_8 not negotiated");
	}
	free(log);
	/* a wrong key fails the handshake: the identity was found, the
	 * key not proven (its Finished does not decrypt): WRONG_KEY */
	assert_int_not_equal(client_post(f, f->port,
	    "-u dev1 -k wrong-key-0123456789ab", NULL), 0);
	engine_stop(f);
	expect_last_audit(f, "auth.psk", "WRONG_KEY");
	engine_start(f);
	/* an unknown identity fails, and core/ audited it */
	assert_int_not_equal(client_post(f, f->port,
	    "-u nobody -k " PSK_KEY, NULL), 0);
	engine_stop(f);
	expect_last_audit(f, "auth.psk", "UNKNOWN_DEVICE");
	engine_start(f);
	/* a manufacturer credential on an operational-only endpoint */
	assert_int_not_equal(client_post(f, f->port_op,
	    "-u dev1 -k " PSK_KEY, NULL), 0);
	/* a revoked device (revoked through the engine's core while the
	 * engine is stopped: a core is one thread's at a time) */
	engine_stop(f);
	assert_int_equal(kdc_core_device_revoke(f->k.core, "test",
	    "urn:dev:ops:1"), KDC_OK);
	engine_start(f);
	assert_int_not_equal(client_post(f, f->port, "-u dev1 -k " PSK_KEY,
	    NULL), 0);
	engine_stop(f);
	expect_last_audit(f, "auth.psk", "REVOKED");
}

/*
 * A step's group commit that fails drops what the step sent and closes
 * its peer (nothing leaves that a lost row would have recorded); the
 * engine goes on with the next step.
 */
static void
test_batch_fail(void **state)
{
	struct fx *f = *state;
	sqlite3_stmt *s = NULL;
	char *out;
	int rc;

	psk_device(f, "urn:dev:ops:fc", "fc1", PSK_KEY);
	engine_start(f);
	rc = kdc_test_sh("cd %s && rm -f out.txt && coap-client-gnutls -B 3 "
	    "-m post -u fc1 -k " PSK_KEY " -o out.txt -e x "
	    "coaps://127.0.0.1:%d/failcommit > log.txt 2>&1", f->k.dir,
	    f->port);
	out = slurp(f, "out.txt");
	assert_true(atomic_load(&f->failcommit) >= 1);
	if (out != NULL && strstr(out, "sent") != NULL)
		fail_msg("an answer left after its step's commit failed "
		    "(client rc=%d)", rc);
	free(out);
	/* the engine goes on: the next request is answered */
	assert_int_equal(client_post(f, f->port, "-u fc1 -k " PSK_KEY,
	    "urn:dev:ops:fc|kdc|0|hello"), 0);
	engine_stop(f);
	/* nothing of the failed transaction stands */
	assert_int_equal(sqlite3_prepare_v2(kdc_sqlite_handle(f->k.st),
	    "SELECT count(*) FROM credentials WHERE device = 999999", -1, &s,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 0);
	sqlite3_finalize(s);
}

/*
 * Separate responses (RFC 7252 §5.2.2), with coap-client-gnutls: a
 * deferred request is acknowledged empty, then answered as a CON with
 * the same token and our options; a cancelled deferral is a piggybacked
 * answer; a NON request cannot be deferred and is answered at once.
 */
/* coap-client-gnutls -v 7 POST /path as device later1 (args: more
 * options); its PDU log in *log and the body it got in *out. */
static void
later_post(struct fx *f, const char *args, const char *path, char **log,
    char **out)
{
	assert_int_equal(kdc_test_sh("cd %s && rm -f out.txt && "
	    "coap-client-gnutls -v 7 -B 5 %s -m post -u later1 -k " PSK_KEY
	    " -o out.txt -e x coaps://127.0.0.1:%d/%s > pdus.txt 2>&1",
	    f->k.dir, args, f->port, path), 0);
	assert_non_null(*log = slurp(f, "pdus.txt"));
	assert_non_null(*out = slurp(f, "out.txt"));
}

static void
test_later(void **state)
{
	struct fx *f = *state;
	char *log, *out;

	psk_device(f, "urn:dev:later:1", "later1", PSK_KEY);
	engine_start(f);
	later_post(f, "", "later", &log, &out);
	if (strstr(log, "t:ACK c:0.00") == NULL ||
	    strstr(log, "t:CON c:2.05") == NULL ||
	    strstr(log, "Max-Age:7") == NULL)
		fail_msg("no empty ACK then CON 2.05 with Max-Age 7:\n%s", log);
	assert_string_equal(out, "late");
	free(log);
	free(out);
	later_post(f, "", "cancel", &log, &out);
	if (strstr(log, "t:ACK c:2.05") == NULL ||
	    strstr(log, "c:0.00") != NULL)
		fail_msg("cancelled deferral not piggybacked:\n%s", log);
	assert_string_equal(out, "now");
	free(log);
	free(out);
	later_post(f, "-N", "later", &log, &out);
	assert_string_equal(out, "inline");
	free(log);
	free(out);
	engine_stop(f);
	assert_int_equal(f->nwatch_calls, 1);
	assert_int_equal(f->later_ok, 1);
	assert_int_equal(f->cancel_ok, 1);
}

/*
 * The engine freed while a face still holds a peer whose session lives:
 * the face hears the peer gone once, the peer outlives the engine until the
 * face lets go, and libcoap frees the session (memcheck.coap runs this
 * under Valgrind: libcoap is not built with the sanitizers, and 4.3.1
 * frees sessions with the context without telling us).
 */
static void
test_free_held(void **state)
{
	struct fx *f = *state;

	psk_device(f, "urn:dev:held:1", "held1", PSK_KEY);
	engine_start(f);
	assert_int_equal(kdc_test_sh("cd %s && coap-client-gnutls -B 3 "
	    "-m post -u held1 -k " PSK_KEY " 'coaps://127.0.0.1:%d/bs?ep=h' "
	    "> log.txt 2>&1", f->k.dir, f->port), 0);
	engine_stop(f);
	assert_non_null(f->held);
	/* the client's close_notify may have told the face already; the
	 * session is still libcoap's, with the peer on it */
	assert_true(f->ngone <= 1);
	kdc_coap_free(f->coap);
	f->coap = NULL;
	assert_int_equal(f->ngone, 1);
	assert_string_equal(kdc_coap_peer_auth(f->held)->dev_id,
	    "urn:dev:held:1");
	kdc_coap_peer_release(f->held);
	f->held = NULL;
}

static void
test_rpk(void **state)
{
	struct fx *f = *state;
	struct kdc_device_spec s;
	uint8_t *spki;
	size_t len;
	char path[600];

	assert_int_equal(kdc_test_sh("cd %s && openssl ecparam -genkey -name "
	    "prime256v1 -noout -out rpk.pem 2>/dev/null && openssl ec -in "
	    "rpk.pem -pubout -outform DER -out rpk.der 2>/dev/null && "
	    "openssl ecparam -genkey -name prime256v1 -noout -out other.pem "
	    "2>/dev/null", f->k.dir), 0);
	snprintf(path, sizeof(path), "%s/rpk.der", f->k.dir);
	assert_non_null(spki = kdc_test_read_file(path, &len));
	memset(&s, 0, sizeof(s));
	snprintf(s.dev_id, sizeof(s.dev_id), "urn:dev:rpk:1");
	s.type = KDC_TYPE_RPK;
	memcpy(s.spki, spki, len);
	s.spki_len = len;
	free(spki);
	assert_int_equal(kdc_core_device_add(f->k.core, "test", &s), KDC_OK);
	engine_start(f);
	assert_int_equal(client_post(f, f->port, "-R ca.pem -M rpk.pem",
	    "urn:dev:rpk:1|kdc|1|hello"), 0);
	/* a key nobody registered */
	assert_int_not_equal(client_post(f, f->port, "-R ca.pem -M other.pem", NULL), 0);
	engine_stop(f);
	expect_last_audit(f, "auth.rpk", "UNKNOWN_DEVICE");
}

static void
test_x509(void **state)
{
	struct fx *f = *state;
	struct kdc_device_spec s;
	uint8_t *ca;
	size_t ca_len;
	char path[600];

	assert_int_equal(kdc_test_sh(
	    "cd %s && openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -subj /CN=mfgca -days 30 "
	    "-addext basicConstraints=critical,CA:TRUE "
	    "-addext keyUsage=critical,keyCertSign "
	    "-keyout mca.key -out mca.pem 2>/dev/null && "
	    "for n in 1 2; do openssl req -new -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -subj /CN=d$n -keyout d$n.key "
	    "-out d$n.csr 2>/dev/null && printf "
	    "'subjectAltName=URI:urn:dev:m:'$n'\\nextendedKeyUsage=clientAuth\\n' "
	    "> e$n && openssl x509 -req -in d$n.csr -CA mca.pem -CAkey "
	    "mca.key -CAcreateserial -days 10 -extfile e$n "
	    "-out d$n.pem 2>/dev/null || exit 1; done && "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -subj /CN=rogue -days 5 -addext "
	    "subjectAltName=URI:urn:dev:m:1 -keyout r.key "
	    "-out r.pem 2>/dev/null", f->k.dir), 0);
	snprintf(path, sizeof(path), "%s/mca.pem", f->k.dir);
	assert_non_null(ca = kdc_test_read_file(path, &ca_len));
	assert_int_equal(kdc_core_mfg_ca_add(f->k.core, "test", "acme", ca,
	    ca_len), KDC_OK);
	free(ca);
	memset(&s, 0, sizeof(s));
	snprintf(s.dev_id, sizeof(s.dev_id), "urn:dev:m:1");
	s.type = KDC_TYPE_X509;
	assert_int_equal(kdc_core_device_add(f->k.core, "test", &s), KDC_OK);
	engine_start(f);
	assert_int_equal(client_post(f, f->port, "-R ca.pem -c d1.pem -j d1.key",
	    "urn:dev:m:1|kdc|2|hello"), 0);
	/* on the wire: RFC 7925's certificate suite */
	assert_int_equal(kdc_test_sh("cd %s && coap-client-gnutls -v 9 -B 3 "
	    "-R ca.pem -c d1.pem -j d1.key -m post -e x "
	    "coaps://127.0.0.1:%d/echo 2>&1 | grep -q 'Selected cipher suite: "
	    "GNUTLS_ECDHE_ECDSA_AES_128_CCM_8'", f->k.dir, f->port), 0);
	/* a self-made certificate naming the same device */
	assert_int_not_equal(client_post(f, f->port, "-R ca.pem -c r.pem -j r.key",
	    NULL), 0);
	engine_stop(f);
	expect_last_audit(f, "auth.cert", "UNTRUSTED");
	engine_start(f);
	/* trusted chain, device not registered */
	assert_int_not_equal(client_post(f, f->port, "-R ca.pem -c d2.pem -j d2.key",
	    NULL), 0);
	/* manufacturer certificate on the operational-only endpoint */
	assert_int_not_equal(client_post(f, f->port_op,
	    "-R ca.pem -c d1.pem -j d1.key", NULL), 0);
	engine_stop(f);
}

/* ---- requests to a peer over DTLS (a libcoap client in this process) ---- */

static const uint8_t cl_key[] = PSK_KEY;

static void
cl_get_obj(coap_resource_t *r, coap_session_t *s, const coap_pdu_t *req,
    const coap_string_t *q, coap_pdu_t *resp)
{
	(void)r;
	(void)s;
	(void)req;
	(void)q;
	coap_add_data(resp, 5, (const uint8_t *)"hello");
	coap_pdu_set_code(resp, COAP_RESPONSE_CODE_CONTENT);
}

static int cl_got;

static coap_response_t
cl_resp(coap_session_t *s, const coap_pdu_t *sent, const coap_pdu_t *rcvd,
    const coap_mid_t mid)
{
	(void)s;
	(void)sent;
	(void)mid;
	cl_got = coap_pdu_get_code(rcvd);
	return COAP_RESPONSE_OK;
}

static void
pump(struct fx *f, coap_context_t *cctx, int ms, atomic_int *until,
    int *until2)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		kdc_coap_run_once(f->coap, 5);
		if (cctx != NULL)
			coap_io_process(cctx, 5);
		if (until != NULL && atomic_load(until) > 0)
			return;
		if (until2 != NULL && *until2 != 0)
			return;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			return;
	}
}

static coap_session_t *
cl_session(coap_context_t *cctx, int port, const char *ident)
{
	coap_dtls_cpsk_t cpsk;
	coap_address_t dst;

	coap_address_init(&dst);
	dst.addr.sin.sin_family = AF_INET;
	dst.addr.sin.sin_port = htons((uint16_t)port);
	dst.addr.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dst.size = sizeof(dst.addr.sin);
	memset(&cpsk, 0, sizeof(cpsk));
	cpsk.version = COAP_DTLS_CPSK_SETUP_VERSION;
	cpsk.psk_info.identity.s = (const uint8_t *)ident;
	cpsk.psk_info.identity.length = strlen(ident);
	cpsk.psk_info.key.s = cl_key;
	cpsk.psk_info.key.length = sizeof(cl_key) - 1;
	return coap_new_client_session_psk2(cctx, NULL, &dst, COAP_PROTO_DTLS,
	    &cpsk);
}

static void
cl_post_bs(coap_session_t *cs)
{
	coap_pdu_t *pdu = coap_new_pdu(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST,
	    cs);
	uint8_t tok[8];
	size_t tl;

	assert_non_null(pdu);
	coap_session_new_token(cs, &tl, tok);
	coap_add_token(pdu, tl, tok);
	coap_add_option(pdu, COAP_OPTION_URI_PATH, 2, (const uint8_t *)"bs");
	coap_add_option(pdu, COAP_OPTION_URI_QUERY, 4, (const uint8_t *)"ep=x");
	cl_got = 0;
	assert_int_not_equal(coap_send(cs, pdu), COAP_INVALID_MID);
}

static void
test_request_dtls(void **state)
{
	struct fx *f = *state;
	coap_context_t *cctx;
	coap_session_t *cs;
	coap_resource_t *res;

	psk_device(f, "urn:dev:ops:2", "dev2", PSK_KEY);
	assert_non_null(cctx = coap_new_context(NULL));
	res = coap_resource_init(coap_make_str_const("3/0"), 0);
	coap_register_request_handler(res, COAP_REQUEST_GET, cl_get_obj);
	coap_add_resource(cctx, res);
	coap_register_response_handler(cctx, cl_resp);
	assert_non_null(cs = cl_session(cctx, f->port, "dev2"));
	cl_post_bs(cs);
	pump(f, cctx, 5000, NULL, &cl_got);
	assert_int_equal(cl_got, COAP_RESPONSE_CODE_CHANGED);
	assert_non_null(f->held);
	assert_string_equal(kdc_coap_peer_auth(f->held)->dev_id,
	    "urn:dev:ops:2");

	/* a request the peer answers */
	assert_int_equal(kdc_coap_request(f->held, KDC_COAP_GET, "3/0",
	    KDC_CF_NONE, KDC_CF_LINK_FORMAT, NULL, 0, on_done, f), KDC_OK);
	pump(f, cctx, 5000, &f->ndone, NULL);
	assert_int_equal(atomic_load(&f->ndone), 1);
	assert_int_equal(f->done_status, KDC_OK);
	assert_int_equal(f->done_code, KDC_COAP_CONTENT);
	assert_string_equal(f->done_payload, "hello");
	/* a path the peer does not have: a response too (4.04) */
	assert_int_equal(kdc_coap_request(f->held, KDC_COAP_DELETE, "9",
	    KDC_CF_NONE, KDC_CF_NONE, NULL, 0, on_done, f), KDC_OK);
	pump(f, cctx, 5000, NULL, NULL);
	assert_int_equal(atomic_load(&f->ndone), 2);

	/* a request in flight when the peer closes the session: CLOSED */
	assert_int_equal(kdc_coap_request(f->held, KDC_COAP_GET, "3/0",
	    KDC_CF_NONE, KDC_CF_NONE, NULL, 0, on_done, f), KDC_OK);
	pump(f, NULL, 50, NULL, NULL);		/* sent; the peer is deaf */
	coap_session_release(cs);		/* close_notify */
	coap_free_context(cctx);
	pump(f, NULL, 3000, NULL, NULL);
	assert_int_equal(atomic_load(&f->ndone), 3);
	assert_int_equal(f->done_status, KDC_ERR_CLOSED);
	assert_int_equal(f->ngone, 1);
	/* on a closed peer nothing is sent and done is not called */
	assert_int_equal(kdc_coap_request(f->held, KDC_COAP_GET, "3/0",
	    KDC_CF_NONE, KDC_CF_NONE, NULL, 0, on_done, f), KDC_ERR_CLOSED);
	assert_int_equal(atomic_load(&f->ndone), 3);
}

/*
 * A revocation reaches a live session (coap.h kdc_coap_revocation_watch):
 * another device's revocation leaves it alone; its own device's closes
 * it (the client sees its session end), the face hears it is gone,
 * requests on it are refused, and the closure is audited.
 */
static atomic_int nrecheck;

static void
on_recheck(void *arg)
{
	(void)arg;
	atomic_fetch_add(&nrecheck, 1);
}

/* Pump until the revocation watch has run n times (bounded: Memcheck). */
static void
pump_rechecks(struct fx *f, coap_context_t *cctx, int n)
{
	for (int i = 0; i < 250 && atomic_load(&nrecheck) < n; i++)
		pump(f, cctx, 20, NULL, NULL);
	/* one more step: what the recheck sent reaches the client */
	pump(f, cctx, 50, NULL, NULL);
}

static void
test_revoke_live(void **state)
{
	struct fx *f = *state;
	coap_context_t *cctx;
	coap_session_t *cs;

	psk_device(f, "urn:dev:ops:3", "dev3", PSK_KEY);
	psk_device(f, "urn:dev:ops:4", "dev4", "another-psk-0123456");
	atomic_store(&nrecheck, 0);
	kdc_coap_revocation_watch(f->coap, 10, on_recheck, f);
	assert_non_null(cctx = coap_new_context(NULL));
	coap_register_response_handler(cctx, cl_resp);
	assert_non_null(cs = cl_session(cctx, f->port, "dev3"));
	cl_post_bs(cs);
	pump(f, cctx, 5000, NULL, &cl_got);
	assert_int_equal(cl_got, COAP_RESPONSE_CODE_CHANGED);
	assert_non_null(f->held);
	pump_rechecks(f, cctx, 1);
	assert_int_equal(atomic_load(&nrecheck), 1);	/* the first poll */

	/* another device revoked: rechecked, left alone */
	assert_int_equal(kdc_core_device_revoke(f->k.core, "test",
	    "urn:dev:ops:4"), KDC_OK);
	pump_rechecks(f, cctx, 2);
	assert_int_equal(atomic_load(&nrecheck), 2);
	assert_int_equal(f->ngone, 0);
	assert_int_equal(coap_session_get_state(cs),
	    COAP_SESSION_STATE_ESTABLISHED);

	/* its own device revoked: closed */
	assert_int_equal(kdc_core_device_revoke(f->k.core, "test",
	    "urn:dev:ops:3"), KDC_OK);
	pump_rechecks(f, cctx, 3);
	assert_int_equal(atomic_load(&nrecheck), 3);
	assert_int_equal(f->ngone, 1);
	expect_last_audit(f, "session.close", "REVOKED");
	assert_int_equal(kdc_coap_request(f->held, KDC_COAP_GET, "3/0",
	    KDC_CF_NONE, KDC_CF_NONE, NULL, 0, on_done, f), KDC_ERR_CLOSED);
	/* the client got close_notify: its session is over */
	assert_int_not_equal(coap_session_get_state(cs),
	    COAP_SESSION_STATE_ESTABLISHED);
	coap_session_release(cs);
	coap_free_context(cctx);
}

/*
 * A deferred answer whose peer closed its session meanwhile is dropped:
 * nothing is sent (libcoap 4.3.1 would start a client handshake on the
 * closed server session), the later is freed with its peer reference
 * (memcheck.coap), the peer is released once libcoap frees the session.
 */
static int deferred_flag;

static void
h_defer(void *arg, struct kdc_coap_peer *p, const struct kdc_coap_msg *req,
    struct kdc_coap_resp *resp)
{
	struct fx *f = arg;

	(void)req;
	if ((f->later = kdc_coap_defer(p)) == NULL) {
		resp->code = KDC_COAP_INTERNAL;
		return;
	}
	deferred_flag = 1;
}

static void
test_later_gone(void **state)
{
	struct fx *f = *state;
	struct kdc_coap_resp rs;
	coap_context_t *cctx;
	coap_session_t *cs;
	coap_pdu_t *pdu;
	uint8_t tok[8];
	size_t tl;
	int sock;
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);

	psk_device(f, "urn:dev:ops:5", "dev5", PSK_KEY);
	assert_int_equal(kdc_coap_route(f->coap, NULL, KDC_COAP_POST, "defer",
	    h_defer, f), KDC_OK);
	assert_non_null(cctx = coap_new_context(NULL));
	assert_non_null(cs = cl_session(cctx, f->port, "dev5"));
	assert_non_null(pdu = coap_new_pdu(COAP_MESSAGE_CON,
	    COAP_REQUEST_CODE_POST, cs));
	coap_session_new_token(cs, &tl, tok);
	coap_add_token(pdu, tl, tok);
	coap_add_option(pdu, COAP_OPTION_URI_PATH, 5, (const uint8_t *)"defer");
	deferred_flag = 0;
	assert_int_not_equal(coap_send(cs, pdu), COAP_INVALID_MID);
	pump(f, cctx, 5000, NULL, &deferred_flag);
	assert_non_null(f->later);
	assert_int_equal(kdc_coap_peer_laters(kdc_coap_later_peer(f->later)),
	    1);
	/* the client goes (close_notify); a socket of ours takes its port,
	 * to see whether the engine sends it anything after */
	a = *(const struct sockaddr_in *)(const void *)
	    &coap_session_get_addr_local(cs)->addr.sin;
	coap_session_release(cs);
	coap_free_context(cctx);
	for (int i = 0; i < 250 && f->ngone == 0; i++)
		pump(f, NULL, 20, NULL, NULL);
	assert_int_equal(f->ngone, 1);
	assert_true((sock = socket(AF_INET, SOCK_DGRAM, 0)) >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(sock, (struct sockaddr *)&a, alen), 0);

	memset(&rs, 0, sizeof(rs));
	rs.code = KDC_COAP_CONTENT;
	rs.payload = (const uint8_t *)"secret-ish";
	rs.payload_len = 10;
	kdc_coap_later_answer(f->later, &rs);
	f->later = NULL;
	pump(f, NULL, 300, NULL, NULL);
	{
		struct pollfd pfd = { sock, POLLIN, 0 };

		assert_int_equal(poll(&pfd, 1, 200), 0);	/* nothing */
	}
	close(sock);
}

/* ---- NoSec endpoint: raw UDP peer ---------------------------------------- */

static int
raw_sock(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void
raw_send(int fd, int port, const uint8_t *b, size_t n)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(sendto(fd, b, n, 0, (struct sockaddr *)&a, sizeof(a)),
	    (ssize_t)n);
}

/* Pump the engine until a datagram arrives on fd; its length or -1. */
static ssize_t
raw_recv(struct fx *f, int fd, uint8_t *b, size_t cap, int ms)
{
	struct pollfd pfd = { fd, POLLIN, 0 };

	for (int t = 0; t < ms; t += 10) {
		kdc_coap_run_once(f->coap, 5);
		if (poll(&pfd, 1, 5) == 1)
			return recv(fd, b, cap, 0);
	}
	return -1;
}

/* CON POST /bs?ep=x with extra raw option bytes after the query. */
static size_t
raw_bs(uint8_t *b, uint16_t mid, const uint8_t *more, size_t nmore)
{
	size_t n = 0;

	b[n++] = 0x44;				/* v1 CON tkl 4 */
	b[n++] = 0x02;				/* POST */
	b[n++] = (uint8_t)(mid >> 8);
	b[n++] = (uint8_t)mid;
	memcpy(b + n, "\x01\x02\x03\x04", 4);
	n += 4;
	b[n++] = 0xb2;				/* Uri-Path "bs" */
	b[n++] = 'b';
	b[n++] = 's';
	b[n++] = 0x44;				/* Uri-Query "ep=x" */
	memcpy(b + n, "ep=x", 4);
	n += 4;
	if (nmore > 0)
		memcpy(b + n, more, nmore);
	return n + nmore;
}

/* Send POST /bs; then from the handler's peer, a request; returns its
 * message id and token in the datagram buffer. */
static void
raw_exchange(struct fx *f, int fd, uint8_t *req, ssize_t *req_len)
{
	static uint16_t mid = 0x1000;
	uint8_t b[256];
	ssize_t n;
	size_t len = raw_bs(b, ++mid, NULL, 0);

	raw_send(fd, f->port_nosec, b, len);
	do {	/* skip retransmissions of earlier requests */
		n = raw_recv(f, fd, b, sizeof(b), 2000);
		assert_true(n >= 4);
	} while ((b[0] >> 4) != 0x6 || b[2] != (mid >> 8) ||
	    b[3] != (mid & 0xff));
	assert_int_equal(b[1], KDC_COAP_CHANGED);	/* ACK 2.04 */
	assert_non_null(f->held);
	assert_int_equal(kdc_coap_request(f->held, KDC_COAP_PUT, "0/1",
	    KDC_CF_LWM2M_TLV, KDC_CF_NONE, (const uint8_t *)"abc", 3, on_done,
	    f), KDC_OK);
	*req_len = raw_recv(f, fd, req, 256, 2000);
	assert_true(*req_len > 4);
	assert_int_equal(req[0] >> 4, 0x4);		/* v1 CON */
	assert_int_equal(req[1], KDC_COAP_PUT);
}

static void
test_request_nosec(void **state)
{
	struct fx *f = *state;
	uint8_t req[256], ack[64];
	ssize_t n;
	size_t tkl;
	int fd = raw_sock();

	/* the peer answers: piggy-backed 2.04 */
	raw_exchange(f, fd, req, &n);
	tkl = req[0] & 0x0f;
	ack[0] = (uint8_t)(0x60 | tkl);			/* ACK */
	ack[1] = KDC_COAP_CHANGED;
	ack[2] = req[2];
	ack[3] = req[3];
	memcpy(ack + 4, req + 4, tkl);
	ack[4 + tkl] = 0xff;
	memcpy(ack + 5 + tkl, "ok", 2);
	raw_send(fd, f->port_nosec, ack, 7 + tkl);
	for (int i = 0; i < 100 && atomic_load(&f->ndone) == 0; i++)
		kdc_coap_run_once(f->coap, 10);
	assert_int_equal(atomic_load(&f->ndone), 1);
	assert_int_equal(f->done_status, KDC_OK);
	assert_int_equal(f->done_code, KDC_COAP_CHANGED);
	assert_string_equal(f->done_payload, "ok");

	/* the peer answers RST */
	raw_exchange(f, fd, req, &n);
	ack[0] = 0x70;
	ack[1] = 0;
	ack[2] = req[2];
	ack[3] = req[3];
	raw_send(fd, f->port_nosec, ack, 4);
	for (int i = 0; i < 100 && atomic_load(&f->ndone) == 1; i++)
		kdc_coap_run_once(f->coap, 10);
	assert_int_equal(atomic_load(&f->ndone), 2);
	assert_int_equal(f->done_status, KDC_ERR_PEER_RESET);

	/* the peer is silent: libcoap's retransmissions give up */
	kdc_coap_set_timers(f->coap, 1000, 1, 0);  /* libcoap: >= 1 s */
	raw_exchange(f, fd, req, &n);
	for (int i = 0; i < 800 && atomic_load(&f->ndone) == 2; i++)
		kdc_coap_run_once(f->coap, 10);
	assert_int_equal(atomic_load(&f->ndone), 3);
	assert_int_equal(f->done_status, KDC_ERR_TIMEOUT);

	/* ... or our exchange deadline comes first */
	kdc_coap_set_timers(f->coap, 2000, 4, 300);
	raw_exchange(f, fd, req, &n);
	for (int i = 0; i < 200 && atomic_load(&f->ndone) == 3; i++)
		kdc_coap_run_once(f->coap, 10);
	assert_int_equal(atomic_load(&f->ndone), 4);
	assert_int_equal(f->done_status, KDC_ERR_TIMEOUT);
	/* a late answer to it is ignored: done stays at one call */
	ack[0] = (uint8_t)(0x60 | (req[0] & 0x0f));
	ack[1] = KDC_COAP_CHANGED;
	ack[2] = req[2];
	ack[3] = req[3];
	memcpy(ack + 4, req + 4, req[0] & 0x0f);
	raw_send(fd, f->port_nosec, ack, 4 + (req[0] & 0x0f));
	for (int i = 0; i < 20; i++)
		kdc_coap_run_once(f->coap, 10);
	assert_int_equal(atomic_load(&f->ndone), 4);
	close(fd);
}

static void
test_limits(void **state)
{
	struct fx *f = *state;
	uint8_t b[1400], more[1300], r[256];
	size_t n, m = 0;
	ssize_t got;
	int fd = raw_sock();

	/* 8 queries are kept: ep=x plus 7 more */
	for (int i = 0; i < 7; i++) {
		more[m++] = 0x03;		/* Uri-Query (delta 0) "a=1" */
		memcpy(more + m, "a=1", 3);
		m += 3;
	}
	n = raw_bs(b, 0x2000, more, m);
	raw_send(fd, f->port_nosec, b, n);
	got = raw_recv(f, fd, r, sizeof(r), 2000);
	assert_true(got >= 4);
	assert_int_equal(r[1], KDC_COAP_CHANGED);
	/* a 9th is refused, not dropped silently */
	more[m++] = 0x03;
	memcpy(more + m, "a=1", 3);
	m += 3;
	n = raw_bs(b, 0x2001, more, m);
	raw_send(fd, f->port_nosec, b, n);
	got = raw_recv(f, fd, r, sizeof(r), 2000);
	assert_true(got >= 4);
	assert_int_equal(r[1], KDC_COAP_BAD_REQUEST);
	/* a query over KDC_COAP_QUERY_LEN */
	m = 0;
	more[m++] = 0x0d;			/* delta 0, length 13 + ext */
	more[m++] = (uint8_t)(KDC_COAP_QUERY_LEN + 1 - 13);
	memset(more + m, 'q', KDC_COAP_QUERY_LEN + 1);
	m += KDC_COAP_QUERY_LEN + 1;
	n = raw_bs(b, 0x2002, more, m);
	raw_send(fd, f->port_nosec, b, n);
	got = raw_recv(f, fd, r, sizeof(r), 2000);
	assert_true(got >= 4);
	assert_int_equal(r[1], KDC_COAP_BAD_REQUEST);
	/* wrong method on a known path: 4.05; unknown path: 4.04 */
	n = raw_bs(b, 0x2003, NULL, 0);
	b[1] = KDC_COAP_GET;
	raw_send(fd, f->port_nosec, b, n);
	got = raw_recv(f, fd, r, sizeof(r), 2000);
	assert_true(got >= 4);
	assert_int_equal(r[1], KDC_COAP_NOT_ALLOWED);
	n = raw_bs(b, 0x2004, NULL, 0);
	b[9] = 'x';
	raw_send(fd, f->port_nosec, b, n);
	got = raw_recv(f, fd, r, sizeof(r), 2000);
	assert_true(got >= 4);
	assert_int_equal(r[1], KDC_COAP_NOT_FOUND);
	close(fd);
}

/* ---- the engine's limits, with a GnuTLS client in this process ------------ */

/*
 * A DTLS 1.2 PSK client on GnuTLS stepped from the test thread, between
 * engine steps (kdc_coap_run_once): each phase of a handshake happens
 * when the test says, and kdc_coap_stats() says what the engine did.
 */
struct dcl {
	int				 fd;
	gnutls_session_t		 g;
	gnutls_psk_client_credentials_t	 pc;
};

static void
dcl_open(struct dcl *d, int port, const char *ident, const char *key)
{
	struct sockaddr_in a;
	gnutls_datum_t k = { (unsigned char *)(uintptr_t)key,
	    (unsigned)strlen(key) };

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((d->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0)) >=
	    0);
	assert_int_equal(connect(d->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(gnutls_psk_allocate_client_credentials(&d->pc), 0);
	assert_int_equal(gnutls_psk_set_client_credentials(d->pc, ident, &k,
	    GNUTLS_PSK_KEY_RAW), 0);
	assert_int_equal(gnutls_init(&d->g, GNUTLS_CLIENT | GNUTLS_DATAGRAM |
	    GNUTLS_NONBLOCK), 0);
	assert_int_equal(gnutls_priority_set_direct(d->g, "NORMAL:-VERS-ALL:"
	    "+VERS-DTLS1.2:-KX-ALL:+PSK:-CIPHER-ALL:+AES-128-CCM-8", NULL), 0);
	assert_int_equal(gnutls_credentials_set(d->g, GNUTLS_CRD_PSK, d->pc),
	    0);
	gnutls_transport_set_int(d->g, d->fd);
	gnutls_dtls_set_timeouts(d->g, 1000, 5000);
}

static void
dcl_close(struct dcl *d)
{
	if (d->g != NULL)
		gnutls_deinit(d->g);
	if (d->pc != NULL)
		gnutls_psk_free_client_credentials(d->pc);
	if (d->fd >= 0)
		close(d->fd);
	memset(d, 0, sizeof(*d));
	d->fd = -1;
}

static struct kdc_coap_stats
stats(struct fx *f)
{
	struct kdc_coap_stats s;

	kdc_coap_stats(f->coap, &s);
	return s;
}

/* The cookie round and no more: ClientHello, HelloVerifyRequest, the
 * ClientHello with our cookie; returns once the engine decided on it (a
 * handshake started or a limit refused it). */
static void
dcl_hello(struct fx *f, struct dcl *d)
{
	struct kdc_coap_stats s0 = stats(f), s;

	for (int i = 0; i < 400; i++) {
		int r = gnutls_handshake(d->g);

		assert_true(r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED);
		kdc_coap_run_once(f->coap, 5);
		s = stats(f);
		if (s.handshakes > s0.handshakes ||
		    s.refused_busy > s0.refused_busy)
			return;
	}
	fail_msg("the engine neither started nor refused a handshake");
}

/* The whole handshake (or the rest of it): 0, or GnuTLS's error. */
static int
dcl_handshake(struct fx *f, struct dcl *d, int ms)
{
	for (int t = 0; t < ms; t += 5) {
		int r = gnutls_handshake(d->g);

		if (r == 0)
			return 0;
		if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED &&
		    gnutls_error_is_fatal(r))
			return r;
		kdc_coap_run_once(f->coap, 5);
	}
	return GNUTLS_E_TIMEDOUT;
}

/* A record from the engine within ms: its length, 0 on close_notify, a
 * GnuTLS error (GNUTLS_E_TIMEDOUT: nothing came). */
static ssize_t
dcl_recv(struct fx *f, struct dcl *d, uint8_t *b, size_t cap, int ms)
{
	for (int t = 0; t < ms; t += 5) {
		ssize_t r = gnutls_record_recv(d->g, b, cap);

		if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED)
			return r;
		kdc_coap_run_once(f->coap, 5);
	}
	return GNUTLS_E_TIMEDOUT;
}

/* CON POST /echo "hi" on the session: the response's code (0: none). */
static int
dcl_echo(struct fx *f, struct dcl *d)
{
	static uint16_t mid = 0x3000;
	uint8_t q[16], b[512];
	ssize_t n;

	mid++;
	q[0] = 0x41;				/* v1 CON tkl 1 */
	q[1] = 0x02;				/* POST */
	q[2] = (uint8_t)(mid >> 8);
	q[3] = (uint8_t)mid;
	q[4] = 0x5a;
	q[5] = 0xb4;				/* Uri-Path "echo" */
	memcpy(q + 6, "echo", 4);
	q[10] = 0xff;
	memcpy(q + 11, "hi", 2);
	assert_int_equal(gnutls_record_send(d->g, q, 13), 13);
	for (int i = 0; i < 100; i++) {
		if ((n = dcl_recv(f, d, b, sizeof(b), 2000)) <= 0)
			return 0;
		if (n >= 5 && b[2] == q[2] && b[3] == q[3] && b[4] == 0x5a)
			return b[1];
	}
	return 0;
}

/* A session up and answered, with the key of urn:dev:lim:1. */
static void
dcl_session(struct fx *f, struct dcl *d)
{
	dcl_open(d, f->port, "lim1", PSK_KEY);
	assert_int_equal(dcl_handshake(f, d, 5000), 0);
	assert_int_equal(dcl_echo(f, d), KDC_COAP_CONTENT);
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Run the engine for ms (a time that must pass: staleness, idleness). */
static void
run_for(struct fx *f, unsigned ms)
{
	uint64_t end = mono_ms() + ms;

	while (mono_ms() < end)
		kdc_coap_run_once(f->coap, 5);
}

/*
 * [coap] max_handshakes = 1: while one handshake is half-open, another
 * cookie-verified ClientHello starts none (refused); once the first one
 * finishes, the other gets in.
 */
static void
test_cap_handshakes(void **state)
{
	struct fx *f = *state;
	struct dcl a, b;
	struct kdc_coap_stats s;

	psk_device(f, "urn:dev:lim:1", "lim1", PSK_KEY);
	dcl_open(&a, f->port, "lim1", PSK_KEY);
	dcl_open(&b, f->port, "lim1", PSK_KEY);
	dcl_hello(f, &a);
	s = stats(f);
	assert_int_equal(s.handshakes, 1);
	assert_int_equal(s.handshaking, 1);
	dcl_hello(f, &b);
	s = stats(f);
	assert_int_equal(s.handshakes, 1);	/* b's did not start */
	assert_int_equal(s.refused_busy, 1);
	assert_int_equal(dcl_handshake(f, &a, 5000), 0);
	assert_int_equal(stats(f).handshaking, 0);
	/* b retransmits its ClientHello (1 s): now it gets in */
	assert_int_equal(dcl_handshake(f, &b, 5000), 0);
	assert_int_equal(dcl_echo(f, &b), KDC_COAP_CONTENT);
	assert_int_equal(stats(f).handshakes, 2);
	dcl_close(&a);
	dcl_close(&b);
}

/*
 * [coap] handshake_rate = 1: at most one new handshake starts in each
 * second; of a few cookie rounds in a row, one is refused.
 */
static void
test_cap_rate(void **state)
{
	struct fx *f = *state;
	struct dcl d[6];
	uint64_t sec[6];
	int n = 0, refused = 0;

	memset(d, 0, sizeof(d));
	psk_device(f, "urn:dev:lim:1", "lim1", PSK_KEY);
	for (int i = 0; i < 6 && !refused; i++) {
		struct kdc_coap_stats s0 = stats(f), s;

		dcl_open(&d[i], f->port, "lim1", PSK_KEY);
		dcl_hello(f, &d[i]);
		s = stats(f);
		if (s.refused_busy > s0.refused_busy)
			refused = 1;
		else
			sec[n++] = mono_ms() / 1000;
	}
	assert_true(refused);
	for (int i = 1; i < n; i++)		/* one a second at most */
		assert_true(sec[i] != sec[i - 1]);
	assert_int_equal(stats(f).handshakes, (uint64_t)n);
	for (int i = 0; i < 6; i++)
		if (d[i].g != NULL)
			dcl_close(&d[i]);
}

/*
 * [coap] max_sessions = 1, stale_seconds = 2: with the one session
 * active, a new handshake is refused (never evict an active session);
 * once it has been idle past stale_seconds, a new handshake evicts it.
 */
static void
test_cap_sessions(void **state)
{
	struct fx *f = *state;
	struct dcl a, b, c;
	struct kdc_coap_stats s;
	uint8_t buf[64];

	psk_device(f, "urn:dev:lim:1", "lim1", PSK_KEY);
	psk_device(f, "urn:dev:lim:2", "lim2", "second-psk-0123456789");
	dcl_session(f, &a);
	dcl_open(&b, f->port, "lim2", "second-psk-0123456789");
	dcl_hello(f, &b);
	s = stats(f);
	assert_int_equal(s.refused_busy, 1);
	assert_int_equal(s.handshakes, 1);
	assert_int_equal(s.evicted, 0);
	assert_int_equal(dcl_echo(f, &a), KDC_COAP_CONTENT);	/* a lives */
	dcl_close(&b);
	run_for(f, 2300);			/* a goes stale */
	dcl_open(&c, f->port, "lim2", "second-psk-0123456789");
	assert_int_equal(dcl_handshake(f, &c, 5000), 0);
	assert_int_equal(dcl_echo(f, &c), KDC_COAP_CONTENT);
	s = stats(f);
	assert_int_equal(s.evicted, 1);
	assert_int_equal(s.sessions, 1);
	assert_int_equal(f->ngone, 1);		/* a, evicted */
	/* a was dropped silently: its request now gets nothing */
	assert_int_equal(gnutls_record_send(a.g, "\x40\x01\x00\x01", 4), 4);
	assert_int_equal(dcl_recv(f, &a, buf, sizeof(buf), 300),
	    GNUTLS_E_TIMEDOUT);
	dcl_close(&a);
	dcl_close(&c);
}

/*
 * [coap] sessions_per_credential = 1: a second session of the same
 * credential closes the first (close_notify). A handshake that names the
 * credential but does not prove its key (a wrong PSK) closes nothing:
 * the cap applies to authenticated sessions, or anyone who knows a
 * device's PSK identity (or has seen its certificate) could end its
 * sessions.
 */
static void
test_cap_per_cred(void **state)
{
	struct fx *f = *state;
	struct dcl a, b, w;
	struct kdc_coap_stats s;
	uint8_t buf[64];

	psk_device(f, "urn:dev:lim:1", "lim1", PSK_KEY);
	dcl_session(f, &a);
	dcl_session(f, &b);
	assert_int_equal(dcl_recv(f, &a, buf, sizeof(buf), 2000), 0);
	s = stats(f);
	assert_int_equal(s.evicted, 1);
	assert_int_equal(s.sessions, 1);
	assert_int_equal(f->ngone, 1);
	/* the identity with a wrong key: refused, b untouched */
	dcl_open(&w, f->port, "lim1", "wrong-key-0123456789x");
	assert_int_not_equal(dcl_handshake(f, &w, 5000), 0);
	run_for(f, 50);
	s = stats(f);
	assert_int_equal(s.evicted, 1);
	assert_int_equal(f->ngone, 1);
	assert_int_equal(dcl_echo(f, &b), KDC_COAP_CONTENT);
	dcl_close(&a);
	dcl_close(&b);
	dcl_close(&w);
}

/* [coap] idle_timeout = 1: an idle session is dropped, the face told. */
static void
test_idle_timeout(void **state)
{
	struct fx *f = *state;
	struct dcl a;
	uint64_t t0;

	psk_device(f, "urn:dev:lim:1", "lim1", PSK_KEY);
	dcl_session(f, &a);
	t0 = mono_ms();
	assert_int_equal(stats(f).sessions, 1);
	for (int i = 0; i < 1000 && stats(f).sessions > 0; i++)
		kdc_coap_run_once(f->coap, 5);
	assert_int_equal(stats(f).sessions, 0);
	assert_true(mono_ms() - t0 >= 900);
	assert_int_equal(f->ngone, 1);
	dcl_close(&a);
}

/*
 * After the peer's first application record the session is on our own
 * record layer (the GnuTLS session freed): it keeps serving, and the
 * peer's close_notify, now read by record.c, ends it (the face told).
 */
static void
test_own_records(void **state)
{
	struct fx *f = *state;
	struct dcl a;

	psk_device(f, "urn:dev:lim:1", "lim1", PSK_KEY);
	dcl_session(f, &a);
	assert_int_equal(stats(f).own_records, 1);
	assert_int_equal(dcl_echo(f, &a), KDC_COAP_CONTENT);
	assert_int_equal(dcl_echo(f, &a), KDC_COAP_CONTENT);
	assert_int_equal(stats(f).own_records, 1);
	assert_int_equal(gnutls_bye(a.g, GNUTLS_SHUT_WR), 0);
	for (int i = 0; i < 400 && stats(f).sessions > 0; i++)
		kdc_coap_run_once(f->coap, 5);
	assert_int_equal(stats(f).sessions, 0);
	assert_int_equal(f->ngone, 1);
	dcl_close(&a);
}

/*
 * A peer the engine does not know gets no state before the cookie round:
 * a ClientHello without our cookie gets a HelloVerifyRequest and nothing
 * is kept; any other datagram (an application record, an alert, a
 * handshake message that is not a ClientHello) gets nothing at all, not
 * even a HelloVerifyRequest (which would make us a reflector for spoofed
 * sources); a ClientHello with a cookie we did not make starts nothing.
 */
static void
test_unknown_peer(void **state)
{
	struct fx *f = *state;
	static const uint8_t recs[][29] = {
		/* application data, epoch 1 */
		{ 23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1, 0, 16,
		  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 },
		/* alert, epoch 0: close_notify */
		{ 21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 1, 0 },
		/* handshake, epoch 0: a ClientKeyExchange, not a hello */
		{ 22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 16,
		  16, 0, 0, 4, 0, 1, 0, 0, 0, 0, 0, 4, 0, 2, 'i', 'd' },
	};
	static const size_t lens[] = { 29, 15, 29 };
	struct kdc_coap_stats s;
	struct dcl d;
	uint8_t b[256];
	int fd = raw_sock();
	struct pollfd pfd = { fd, POLLIN, 0 };

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		raw_send(fd, f->port, recs[i], lens[i]);
		assert_int_equal(raw_recv(f, fd, b, sizeof(b), 300), -1);
	}
	s = stats(f);
	assert_int_equal(s.hello_verify, 0);
	assert_int_equal(s.sessions, 0);

	/* a ClientHello with a cookie we did not make: a HelloVerifyRequest
	 * (with ours), no handshake started */
	{
		uint8_t h[75] = { 22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 62,
		    1, 0, 0, 50, 0, 0, 0, 0, 0, 0, 0, 50, 0xfe, 0xfd };
		size_t n = 27 + 32;

		memset(h + 27, 0x5a, 32);		/* random */
		h[n++] = 0;				/* session id */
		h[n++] = 8;				/* cookie */
		memset(h + n, 0xc0, 8);
		n += 8;
		h[n++] = 0;				/* suites: PSK CCM_8 */
		h[n++] = 2;
		h[n++] = 0xc0;
		h[n++] = 0xa8;
		h[n++] = 1;				/* compression: null */
		h[n++] = 0;
		assert_int_equal(n, sizeof(h));
		raw_send(fd, f->port, h, n);
		assert_true(raw_recv(f, fd, b, sizeof(b), 1000) > 13);
		assert_int_equal(b[13], 3);		/* HelloVerifyRequest */
		s = stats(f);
		assert_int_equal(s.hello_verify, 1);
		assert_int_equal(s.handshakes, 0);
		assert_int_equal(s.sessions, 0);
	}
	close(fd);

	/* a real ClientHello, no cookie: a HelloVerifyRequest, no state */
	dcl_open(&d, f->port, "nobody", PSK_KEY);
	assert_int_equal(gnutls_handshake(d.g), GNUTLS_E_AGAIN);
	for (int i = 0; i < 200 && stats(f).hello_verify < 2; i++)
		kdc_coap_run_once(f->coap, 5);
	s = stats(f);
	assert_int_equal(s.hello_verify, 2);
	assert_int_equal(s.sessions, 0);
	assert_int_equal(s.handshakes, 0);
	pfd.fd = d.fd;
	assert_int_equal(poll(&pfd, 1, 1000), 1);
	assert_true(recv(d.fd, b, sizeof(b), MSG_PEEK) > 13 + 12);
	assert_int_equal(b[0], 22);			/* handshake */
	assert_int_equal(b[13], 3);			/* HelloVerifyRequest */
	dcl_close(&d);
}

static void
test_listen_args(void **state)
{
	struct fx *f = *state;

	/* NoSec only on loopback */
	assert_int_equal(kdc_coap_listen(f->coap, "x", "0.0.0.0", 5999,
	    KDC_COAP_ACCEPT_NOSEC, NULL, NULL), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_coap_listen(f->coap, "x", "192.0.2.1", 5999,
	    KDC_COAP_ACCEPT_NOSEC, NULL, NULL), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_coap_listen(f->coap, "kdc", "127.0.0.1", 5999,
	    KDC_COAP_ACCEPT_NOSEC, NULL, NULL), KDC_ERR_EXISTS);
	assert_int_equal(kdc_coap_listen(f->coap, "y", "127.0.0.1", 5999,
	    KDC_COAP_ACCEPT_OPERATIONAL, NULL, NULL), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_coap_route(f->coap, NULL, KDC_COAP_POST, "echo",
	    h_echo, f), KDC_ERR_EXISTS);
}

int
main(void)
{
	static struct lims lim_hs = { .max_handshakes = 1 };
	static struct lims lim_rate = { .handshake_rate = 1 };
	static struct lims lim_sessions = { .max_sessions = 1, .stale = 2 };
	static struct lims lim_cred = { .per_cred = 1 };
	static struct lims lim_idle = { .idle_timeout = 1 };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_listen_args, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_nosec, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_psk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_fail, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_held, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rpk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_x509, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_live, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_later_gone, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_request_dtls, setup,
		    teardown),
		cmocka_unit_test_prestate_setup_teardown(test_cap_handshakes,
		    setup, teardown, &lim_hs),
		cmocka_unit_test_prestate_setup_teardown(test_cap_rate, setup,
		    teardown, &lim_rate),
		cmocka_unit_test_prestate_setup_teardown(test_cap_sessions,
		    setup, teardown, &lim_sessions),
		cmocka_unit_test_prestate_setup_teardown(test_cap_per_cred,
		    setup, teardown, &lim_cred),
		cmocka_unit_test_prestate_setup_teardown(test_idle_timeout,
		    setup, teardown, &lim_idle),
		cmocka_unit_test_setup_teardown(test_own_records, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unknown_peer, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
