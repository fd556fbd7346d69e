/*
 * test_http.c: the HTTPS listener against real curl and openssl s_client
 * on loopback, with a throwaway CA, server and client certificates made
 * by openssl at test time.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "base/limits.h"
#include "core/config.h"
#include "http/http.h"
#include "testutil.h"

struct env {
	char		*dir;
	char		*ca_pem;	/* trusted by curl and server */
	char		*srv_pem;
	char		*srv_key;
	struct kdc_http	*h;
	int		 port;
	int		 calls;
};

static struct env E;

/* ---- fixtures ---------------------------------------------------------- */

static char *
slurp(const char *name)
{
	char path[512];
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", E.dir, name);
	return (char *)kdc_test_read_file(path, &len);
}

static int
mkcerts(void)
{
	/* ca: trusted; rogue: not; srv: localhost; cli, rcli: clients. */
	return kdc_test_sh(
	    "set -e; cd '%s'; "
	    "K='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'; "
	    "openssl req -x509 $K -keyout ca.key -out ca.pem -days 2 "
	    "  -subj '/CN=Test CA' -addext basicConstraints=critical,CA:TRUE "
	    "  -addext keyUsage=critical,keyCertSign 2>/dev/null; "
	    "openssl req -x509 $K -keyout rogue.key -out rogue.pem -days 2 "
	    "  -subj '/CN=Rogue CA' -addext basicConstraints=critical,CA:TRUE "
	    "  -addext keyUsage=critical,keyCertSign 2>/dev/null; "
	    "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\\n"
	    "extendedKeyUsage=serverAuth\\n' > srv.ext; "
	    "printf 'extendedKeyUsage=clientAuth\\n' > cli.ext; "
	    "openssl req -new $K -keyout srv.key -out srv.csr "
	    "  -subj '/CN=localhost' 2>/dev/null; "
	    "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
	    "  -CAcreateserial -days 2 -extfile srv.ext -out srv.pem "
	    "  2>/dev/null; "
	    "openssl req -new $K -keyout cli.key -out cli.csr "
	    "  -subj '/O=Acme/CN=device-1' 2>/dev/null; "
	    "openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key "
	    "  -CAcreateserial -days 2 -extfile cli.ext -out cli.pem "
	    "  2>/dev/null; "
	    "openssl req -new $K -keyout rcli.key -out rcli.csr "
	    "  -subj '/CN=intruder' 2>/dev/null; "
	    "openssl x509 -req -in rcli.csr -CA rogue.pem -CAkey rogue.key "
	    "  -CAcreateserial -days 2 -extfile cli.ext -out rcli.pem "
	    "  2>/dev/null; "
	    "head -c %d /dev/urandom > max.bin; "
	    "head -c %d /dev/urandom > over.bin; "
	    "head -c %d /dev/zero > huge.bin; "
	    "head -c %d /dev/zero > ten.bin",
	    E.dir, KDC_HTTP_BODY_MAX, KDC_HTTP_BODY_MAX + 1, 4 << 20,
	    10 << 20);
}

/*
 * An independent raw TLS client (Python's ssl, OpenSSL underneath):
 *   gate PORT: POST /g/echo announcing a 10 MiB body and sending none,
 *     then read the whole response (headers + Content-Length body): it
 *     can only come back if the server answered before the body;
 *   drop PORT: GET /events, read until the first event, close.
 */
static const char raw_py[] =
    "import socket, ssl, sys\n"
    "mode, port = sys.argv[1], int(sys.argv[2])\n"
    "ctx = ssl.create_default_context(cafile='ca.pem')\n"
    "s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port),\n"
    "    timeout=15), server_hostname='localhost')\n"
    "buf = b''\n"
    "def more():\n"
    "    global buf\n"
    "    d = s.recv(65536)\n"
    "    if not d:\n"
    "        raise SystemExit('closed early: %r' % buf)\n"
    "    buf += d\n"
    "if mode == 'gate':\n"
    "    s.sendall(b'POST /g/echo HTTP/1.1\\r\\nHost: localhost\\r\\n'\n"
    "        b'Content-Length: 10485760\\r\\n\\r\\n')\n"
    "    while b'\\r\\n\\r\\n' not in buf:\n"
    "        more()\n"
    "    head, body = buf.split(b'\\r\\n\\r\\n', 1)\n"
    "    n = 0\n"
    "    for l in head.split(b'\\r\\n'):\n"
    "        if l.lower().startswith(b'content-length:'):\n"
    "            n = int(l.split(b':')[1])\n"
    "    while len(buf.split(b'\\r\\n\\r\\n', 1)[1]) < n:\n"
    "        more()\n"
    "    sys.stdout.write(buf.decode())\n"
    "elif mode == 'drop':\n"
    "    s.sendall(b'GET /events HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n')\n"
    "    while b'data: 1' not in buf:\n"
    "        more()\n"
    "    s.close()\n"
    "    sys.stdout.write('dropped')\n";

static int
setup(void **state)
{
	char f[512];

	(void)state;
	memset(&E, 0, sizeof(E));
	E.dir = kdc_test_tmpdir();
	if (mkcerts() != 0)
		return -1;
	snprintf(f, sizeof(f), "%s/raw.py", E.dir);
	if (kdc_test_write_file(f, raw_py, strlen(raw_py)) != 0)
		return -1;
	E.ca_pem = slurp("ca.pem");
	E.srv_pem = slurp("srv.pem");
	E.srv_key = slurp("srv.key");
	return E.ca_pem == NULL || E.srv_pem == NULL || E.srv_key == NULL;
}

static int
teardown(void **state)
{
	(void)state;
	kdc_http_free(E.h);
	free(E.ca_pem);
	free(E.srv_pem);
	free(E.srv_key);
	kdc_test_rmtree(E.dir);
	free(E.dir);
	return 0;
}

/* ---- handlers ---------------------------------------------------------- */

static void
hnd_text(void *arg, const struct kdc_http_req *req, struct kdc_http_resp *resp)
{
	E.calls++;
	assert_null(req->body);
	kdc_http_resp_set(resp, 200, "text/plain", arg, strlen(arg));
}

static void
hnd_path(void *arg, const struct kdc_http_req *req, struct kdc_http_resp *resp)
{
	(void)arg;
	kdc_http_resp_set(resp, 200, "text/plain", req->path,
	    strlen(req->path));
}

static void
hnd_echo(void *arg, const struct kdc_http_req *req, struct kdc_http_resp *resp)
{
	(void)arg;
	assert_string_equal(req->method, "POST");
	assert_true(req->body_len <= KDC_HTTP_BODY_MAX);
	kdc_http_resp_set(resp, 201, "application/octet-stream", req->body,
	    req->body_len);
}

static void
hnd_whoami(void *arg, const struct kdc_http_req *req,
    struct kdc_http_resp *resp)
{
	const char *dn = req->client_dn != NULL ? req->client_dn : "anonymous";

	(void)arg;
	kdc_http_resp_set(resp, 200, "text/plain", dn, strlen(dn));
}

static void
hnd_teapot(void *arg, const struct kdc_http_req *req,
    struct kdc_http_resp *resp)
{
	(void)arg;
	(void)req;
	resp->status = 409;
}

static void
hnd_nothing(void *arg, const struct kdc_http_req *req,
    struct kdc_http_resp *resp)
{
	(void)arg;
	(void)req;
	(void)resp;
}

/* Query arguments, request headers, response headers. */
static kdc_err
args_cat(void *arg, const char *key, const char *value)
{
	char *b = arg;
	size_t o = strlen(b);

	snprintf(b + o, 512 - o, "[%s=%s]", key, value);
	return strcmp(key, "stop") == 0 ? KDC_ERR_DENIED : KDC_OK;
}

#define NUL_OR(s)	((s) != NULL ? (s) : "(null)")

static void
hnd_query(void *arg, const struct kdc_http_req *req,
    struct kdc_http_resp *resp)
{
	char out[2048], each[512] = "";
	kdc_err r;

	(void)arg;
	E.calls++;
	r = kdc_http_args_each(req, args_cat, each);
	snprintf(out, sizeof(out), "query=%s|a=%s|b=%s|flag=%s|empty=%s|"
	    "A=%s|missing=%s|hdr=%s|HDR=%s|nohdr=%s|each=%s|r=%d",
	    NUL_OR(req->query), NUL_OR(kdc_http_arg(req, "a")),
	    NUL_OR(kdc_http_arg(req, "b")), NUL_OR(kdc_http_arg(req, "flag")),
	    NUL_OR(kdc_http_arg(req, "empty")),
	    NUL_OR(kdc_http_arg(req, "A")),
	    NUL_OR(kdc_http_arg(req, "missing")),
	    NUL_OR(kdc_http_header(req, "x-test")),
	    NUL_OR(kdc_http_header(req, "X-TEST")),
	    NUL_OR(kdc_http_header(req, "X-Absent")), each, (int)r);
	kdc_http_resp_set(resp, 200, "text/plain", out, strlen(out));
	/* the refusals leave the response as it was */
	if (kdc_http_resp_header(resp, "Location", "/things/urn:uuid:1")
	    != KDC_OK ||
	    kdc_http_resp_header(resp, "Link",
	    "</things?offset=2>; rel=\"next\"") != KDC_OK ||
	    kdc_http_resp_header(resp, "X-Evil", "a\r\nSet-Cookie: x=1") !=
	    KDC_ERR_INVALID_ARG ||
	    kdc_http_resp_header(resp, "content-type", "text/html") !=
	    KDC_ERR_INVALID_ARG)
		resp->status = 0;	/* a 500 tells the test */
}

/* A bare 401 with a challenge: the problem body keeps the header. */
static void
hnd_challenge(void *arg, const struct kdc_http_req *req,
    struct kdc_http_resp *resp)
{
	(void)arg;
	(void)req;
	resp->status = 401;
	if (kdc_http_resp_header(resp, "WWW-Authenticate",
	    "Bearer realm=\"kdc\"") != KDC_OK)
		resp->status = 0;
}

/* Gates: "/g" wants "Authorization: Bearer good"; "/g/open" lets all
 * in; "/events" lets all in with an auth of its own. Counted. */
struct gstate {
	atomic_int	 gate_calls;
	atomic_int	 body_seen;	/* a gate saw a body: never */
	atomic_int	 frees;
	atomic_int	 handler_calls;
};

static struct gstate G;

static int
gate_bearer(void *arg, const struct kdc_http_req *req, void **auth,
    struct kdc_http_resp *resp)
{
	const char *a = kdc_http_header(req, "authorization");

	(void)arg;
	atomic_fetch_add(&G.gate_calls, 1);
	if (req->body != NULL || req->body_len != 0)
		atomic_fetch_add(&G.body_seen, 1);
	if (a != NULL && strcmp(a, "Bearer good") == 0) {
		*auth = strdup("alice");
		return 0;
	}
	if (a != NULL && strcmp(a, "Bearer half") == 0)
		*auth = strdup("half");	/* set, then refused: freed too */
	kdc_http_resp_header(resp, "WWW-Authenticate", "Bearer realm=\"kdc\"");
	return 401;
}

static int
gate_open(void *arg, const struct kdc_http_req *req, void **auth,
    struct kdc_http_resp *resp)
{
	(void)arg;
	(void)req;
	(void)auth;
	(void)resp;
	atomic_fetch_add(&G.gate_calls, 1);
	return 0;
}

static int
gate_sse(void *arg, const struct kdc_http_req *req, void **auth,
    struct kdc_http_resp *resp)
{
	(void)arg;
	(void)req;
	(void)resp;
	*auth = strdup("reader");
	return 0;
}

static void
gate_free(void *auth)
{
	atomic_fetch_add(&G.frees, 1);
	free(auth);
}

static void
hnd_auth(void *arg, const struct kdc_http_req *req,
    struct kdc_http_resp *resp)
{
	char out[128];

	(void)arg;
	atomic_fetch_add(&G.handler_calls, 1);
	snprintf(out, sizeof(out), "%s:%zu",
	    req->auth != NULL ? (const char *)req->auth : "none",
	    req->body_len);
	kdc_http_resp_set(resp, 200, "text/plain", out, strlen(out));
}

/*
 * A Server-Sent Events stream fed by a producer thread. pull hands out
 * what is pending; with nothing pending it says so (0) and the stream is
 * suspended until the producer wakes it. Everything under mu, including
 * the producer's wakes (the rule of kdc_http_stream_wake()).
 */
struct sse {
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct kdc_http_stream	*handle;	/* NULL once done ran */
	char			 pending[256];
	size_t			 len;
	bool			 finish;	/* pull -1 once drained */
	bool			 idle;		/* the last pull returned 0 */
	int			 events;	/* the producer's */
	int			 pulls;
	int			 wakes;
	int			 dones;
	int			 streams;
	int			 frees_at_done;	/* G.frees when done ran */
	int			 hold_ms;	/* the idle window, ms */
	int			 window_pulls;	/* pulls in the idle window */
	double			 window_cpu;	/* s of CPU in it */
};

static struct sse S = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
};

static ssize_t
sse_pull(void *arg, char *buf, size_t max)
{
	struct sse *x = arg;
	ssize_t n = 0;

	pthread_mutex_lock(&x->mu);
	x->pulls++;
	if (x->len > 0) {
		n = (ssize_t)(x->len < max ? x->len : max);
		memcpy(buf, x->pending, (size_t)n);
		memmove(x->pending, x->pending + n, x->len - (size_t)n);
		x->len -= (size_t)n;
		x->idle = false;
	} else if (x->finish)
		n = -1;
	else
		x->idle = true;
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
	return n;
}

static void
sse_done(void *arg)
{
	struct sse *x = arg;

	pthread_mutex_lock(&x->mu);
	x->handle = NULL;
	x->dones++;
	x->frees_at_done = atomic_load(&G.frees);
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
}

static void
hnd_events(void *arg, const struct kdc_http_req *req,
    struct kdc_http_resp *resp)
{
	struct kdc_http_stream *h = NULL;

	(void)arg;
	pthread_mutex_lock(&S.mu);
	if (req->auth != NULL && strcmp(req->auth, "reader") == 0 &&
	    kdc_http_resp_stream(resp, 200, "text/event-stream", sse_pull,
	    sse_done, &S, &h) == KDC_OK &&
	    kdc_http_resp_header(resp, "X-Accel-Buffering", "no") == KDC_OK) {
		S.handle = h;
		S.streams++;
	}
	pthread_cond_broadcast(&S.cv);
	pthread_mutex_unlock(&S.mu);
}

static void
sse_reset(void)
{
	pthread_mutex_lock(&S.mu);
	S.handle = NULL;
	S.len = 0;
	S.finish = false;
	S.idle = false;
	S.events = 0;
	S.pulls = S.wakes = S.dones = S.streams = 0;
	S.frees_at_done = -1;
	S.hold_ms = 300;
	S.window_pulls = -1;
	S.window_cpu = -1;
	pthread_mutex_unlock(&S.mu);
}

/* Wait (S.mu held) until cond holds, at most ms: the condition itself is
 * what is waited for, the bound only keeps a broken run from hanging. */
static bool
sse_wait_locked(bool (*cond)(void), int ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	while (!cond())
		if (pthread_cond_timedwait(&S.cv, &S.mu, &until) != 0)
			return cond();
	return true;
}

static bool
sse_wait(bool (*cond)(void), int ms)
{
	bool ok;

	pthread_mutex_lock(&S.mu);
	ok = sse_wait_locked(cond, ms);
	pthread_mutex_unlock(&S.mu);
	return ok;
}

static bool
c_idle(void)
{
	return S.handle != NULL && S.idle;
}

static bool
c_done(void)
{
	return S.dones >= 1;
}

static double
cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The producer: once the stream idles, hold an idle window (a bounded
 * measurement: pulls and CPU while suspended), then S.events events,
 * each after the previous one was taken, then the end (unless S.finish
 * stays off: events only). */
static void *
sse_producer(void *arg)
{
	struct timespec win;
	bool end = arg != NULL;
	int pulls;
	double cpu;

	pthread_mutex_lock(&S.mu);
	if (!sse_wait_locked(c_idle, 15000))
		goto out;
	pulls = S.pulls;
	cpu = cpu_now();
	win.tv_sec = S.hold_ms / 1000;
	win.tv_nsec = (long)(S.hold_ms % 1000) * 1000000;
	pthread_mutex_unlock(&S.mu);
	nanosleep(&win, NULL);	/* the window measured, not a wait */
	pthread_mutex_lock(&S.mu);
	S.window_pulls = S.pulls - pulls;
	S.window_cpu = cpu_now() - cpu;
	for (int i = 1; i <= S.events; i++) {
		if (!sse_wait_locked(c_idle, 15000))
			goto out;
		S.len = (size_t)snprintf(S.pending, sizeof(S.pending),
		    "id: %d\ndata: %d\n\n", i, i);
		S.idle = false;
		kdc_http_stream_wake(S.handle);
		S.wakes++;
	}
	if (end && sse_wait_locked(c_idle, 15000)) {
		S.finish = true;
		kdc_http_stream_wake(S.handle);
		S.wakes++;
	}
out:
	pthread_mutex_unlock(&S.mu);
	return NULL;
}

/* ---- helpers ----------------------------------------------------------- */

static void
server_start(const char *address, int tls12, enum kdc_client_cert cc)
{
	struct kdc_http_tls tls = { E.srv_pem, E.srv_key, NULL };
	struct kdc_config cfg;

	kdc_http_free(E.h);
	E.h = NULL;
	kdc_config_defaults(&cfg);
	snprintf(cfg.http_address, sizeof(cfg.http_address), "%s", address);
	E.port = kdc_test_free_port(strchr(address, ':') ? AF_INET6 :
	    AF_INET, SOCK_STREAM);
	assert_true(E.port > 0);
	cfg.http_port = E.port;
	cfg.http_tls12 = tls12;
	cfg.http_client_cert = cc;
	if (cc != KDC_CLIENT_CERT_NONE)
		tls.trust_pem = E.ca_pem;
	assert_int_equal(kdc_http_new(&cfg, &tls, &E.h), KDC_OK);
	assert_int_equal(kdc_http_route(E.h, "GET", "/hello", hnd_text,
	    "hello, world"), KDC_OK);
	assert_int_equal(kdc_http_route(E.h, "POST", "/echo", hnd_echo,
	    NULL), KDC_OK);
	assert_int_equal(kdc_http_route(E.h, "GET", "/api/*", hnd_path,
	    NULL), KDC_OK);
	assert_int_equal(kdc_http_route(E.h, "PUT", "/api/*", hnd_path,
	    NULL), KDC_OK);
	assert_int_equal(kdc_http_route(E.h, "GET", "/api/v1/*", hnd_text,
	    "v1"), KDC_OK);
	assert_int_equal(kdc_http_route(E.h, "GET", "/api/exact", hnd_text,
	    "exact"), KDC_OK);
	assert_int_equal(kdc_http_route(E.h, "GET", "/whoami", hnd_whoami,
	    NULL), KDC_OK);
	assert_int_equal(kdc_http_route(E.h, "GET", "/teapot", hnd_teapot,
	    NULL), KDC_OK);
	assert_int_equal(kdc_http_route(E.h, "GET", "/nothing", hnd_nothing,
	    NULL), KDC_OK);
	assert_int_equal(kdc_http_route(E.h, "GET", "/q", hnd_query, NULL),
	    KDC_OK);
	assert_int_equal(kdc_http_route(E.h, "GET", "/challenge",
	    hnd_challenge, NULL), KDC_OK);
	assert_int_equal(kdc_http_route(E.h, "GET", "/g", hnd_auth, NULL),
	    KDC_OK);
	assert_int_equal(kdc_http_route(E.h, "POST", "/g/echo", hnd_auth,
	    NULL), KDC_OK);
	assert_int_equal(kdc_http_route(E.h, "GET", "/g/open", hnd_auth,
	    NULL), KDC_OK);
	assert_int_equal(kdc_http_route(E.h, "GET", "/gx", hnd_auth, NULL),
	    KDC_OK);
	assert_int_equal(kdc_http_route(E.h, "GET", "/events", hnd_events,
	    NULL), KDC_OK);
	assert_int_equal(kdc_http_gate(E.h, "/g", gate_bearer, gate_free,
	    NULL), KDC_OK);
	assert_int_equal(kdc_http_gate(E.h, "/g/open", gate_open, NULL,
	    NULL), KDC_OK);
	assert_int_equal(kdc_http_gate(E.h, "/events", gate_sse, gate_free,
	    NULL), KDC_OK);
	assert_int_equal(kdc_http_gate(E.h, "/g", gate_open, NULL, NULL),
	    KDC_ERR_EXISTS);
	assert_int_equal(kdc_http_gate(E.h, "/g/", gate_open, NULL, NULL),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_http_gate(E.h, "g", gate_open, NULL, NULL),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_http_gate(E.h, "/h", NULL, NULL, NULL),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_http_route(E.h, "GET", "/hello", hnd_text,
	    "again"), KDC_ERR_EXISTS);
	assert_int_equal(kdc_http_route(E.h, "GET", "hello", hnd_text,
	    "x"), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_http_start(E.h), KDC_OK);
	assert_int_equal(kdc_http_route(E.h, "GET", "/late", hnd_text,
	    "x"), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_http_gate(E.h, "/late", gate_open, NULL, NULL),
	    KDC_ERR_INVALID_ARG);
}

struct result {
	int	 rc;		/* curl's exit status */
	int	 code;		/* HTTP status, 0 if none */
	char	*body;
	size_t	 body_len;
	char	*hdrs;
};

static void
result_free(struct result *r)
{
	free(r->body);
	free(r->hdrs);
	memset(r, 0, sizeof(*r));
}

/* curl HOST:PORT/path with extra options; TLS 1.3 and our CA unless the
 * options say otherwise. */
static struct result
curl(const char *path, const char *fmt, ...)
{
	struct result r;
	char opts[1024], f[512];
	uint8_t *code;
	size_t len;
	va_list ap;

	memset(&r, 0, sizeof(r));
	va_start(ap, fmt);
	vsnprintf(opts, sizeof(opts), fmt, ap);
	va_end(ap);
	r.rc = kdc_test_sh("cd '%s' && rm -f body hdrs code && "
	    "curl -sS --max-time 20 --cacert ca.pem %s -o body -D hdrs "
	    "-w '%%{http_code}' 'https://localhost:%d%s' > code",
	    E.dir, opts, E.port, path);
	snprintf(f, sizeof(f), "%s/code", E.dir);
	if ((code = kdc_test_read_file(f, &len)) != NULL) {
		r.code = atoi((char *)code);
		free(code);
	}
	snprintf(f, sizeof(f), "%s/body", E.dir);
	r.body = (char *)kdc_test_read_file(f, &r.body_len);
	snprintf(f, sizeof(f), "%s/hdrs", E.dir);
	r.hdrs = (char *)kdc_test_read_file(f, &len);
	return r;
}

static void
assert_body(const struct result *r, const char *want)
{
	assert_non_null(r->body);
	assert_int_equal(r->body_len, strlen(want));
	assert_memory_equal(r->body, want, strlen(want));
}

/* The headers every response carries, and the problem body. */
static void
assert_problem(const struct result *r, int status, const char *title)
{
	char want[256];

	assert_int_equal(r->code, status);
	assert_non_null(r->hdrs);
	assert_non_null(strstr(r->hdrs, "\r\nCache-Control: no-store\r\n"));
	assert_non_null(strstr(r->hdrs,
	    "\r\nX-Content-Type-Options: nosniff\r\n"));
	assert_non_null(strstr(r->hdrs,
	    "\r\nContent-Type: application/problem+json\r\n"));
	snprintf(want, sizeof(want), "{\"title\":\"%s\",\"status\":%d}", title,
	    status);
	assert_body(r, want);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- tests ------------------------------------------------------------- */

static void
test_routes(void **state)
{
	struct result r;

	(void)state;
	server_start("127.0.0.1", 0, KDC_CLIENT_CERT_NONE);

	E.calls = 0;
	r = curl("/hello", "--tlsv1.3");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.code, 200);
	assert_body(&r, "hello, world");
	assert_non_null(strstr(r.hdrs, "\r\nCache-Control: no-store\r\n"));
	assert_non_null(strstr(r.hdrs,
	    "\r\nX-Content-Type-Options: nosniff\r\n"));
	assert_non_null(strstr(r.hdrs, "\r\nContent-Type: text/plain\r\n"));
	assert_int_equal(E.calls, 1);
	result_free(&r);

	r = curl("/hello?x=1&y=2", "");	/* the query is not the path */
	assert_int_equal(r.code, 200);
	assert_body(&r, "hello, world");
	result_free(&r);

	r = curl("/hello", "-I");		/* HEAD takes the GET route */
	assert_int_equal(r.code, 200);
	result_free(&r);

	r = curl("/nope", "");
	assert_problem(&r, 404, "Not Found");
	result_free(&r);
	r = curl("/hello/", "");
	assert_problem(&r, 404, "Not Found");
	result_free(&r);
	r = curl("/api", "");		/* "/api/ *" is below /api */
	assert_problem(&r, 404, "Not Found");
	result_free(&r);

	r = curl("/hello", "-X DELETE");
	assert_problem(&r, 405, "Method Not Allowed");
	assert_non_null(strstr(r.hdrs, "\r\nAllow: GET\r\n"));
	result_free(&r);
	r = curl("/echo", "");
	assert_problem(&r, 405, "Method Not Allowed");
	assert_non_null(strstr(r.hdrs, "\r\nAllow: POST\r\n"));
	result_free(&r);
	r = curl("/api/x", "-X DELETE");
	assert_problem(&r, 405, "Method Not Allowed");
	assert_non_null(strstr(r.hdrs, "\r\nAllow: GET, PUT\r\n"));
	result_free(&r);

	/* Prefixes: the longest wins; exact beats any prefix. */
	r = curl("/api/", "");
	assert_int_equal(r.code, 200);
	assert_body(&r, "/api/");
	result_free(&r);
	r = curl("/api/things/7", "-X PUT");
	assert_int_equal(r.code, 200);
	assert_body(&r, "/api/things/7");
	result_free(&r);
	r = curl("/api/v1/x", "");
	assert_body(&r, "v1");
	result_free(&r);
	r = curl("/api/exact", "");
	assert_body(&r, "exact");
	result_free(&r);

	/* A bare status gets a problem body; no status is a 500. */
	r = curl("/teapot", "");
	assert_problem(&r, 409, "Conflict");
	result_free(&r);
	r = curl("/nothing", "");
	assert_problem(&r, 500, "Internal Server Error");
	result_free(&r);
}

static void
test_bodies(void **state)
{
	struct result r;
	uint8_t *want;
	char f[512];
	size_t len;

	(void)state;
	server_start("127.0.0.1", 0, KDC_CLIENT_CERT_NONE);

	r = curl("/echo", "--data-binary 'a small body'");
	assert_int_equal(r.code, 201);
	assert_body(&r, "a small body");
	assert_non_null(strstr(r.hdrs, "\r\nCache-Control: no-store\r\n"));
	result_free(&r);

	/* Exactly the cap is fine, one more byte is 413 (declared length). */
	snprintf(f, sizeof(f), "%s/max.bin", E.dir);
	assert_non_null(want = kdc_test_read_file(f, &len));
	assert_int_equal(len, KDC_HTTP_BODY_MAX);
	r = curl("/echo", "--data-binary @max.bin");
	assert_int_equal(r.code, 201);
	assert_int_equal(r.body_len, len);
	assert_memory_equal(r.body, want, len);
	free(want);
	result_free(&r);

	/* Refused before the body is sent ... */
	r = curl("/echo", "-H 'Expect: 100-continue' --data-binary @over.bin");
	assert_problem(&r, 413, "Content Too Large");
	result_free(&r);
	/* ... or read, dropped and refused. */
	r = curl("/echo", "-H 'Expect:' --data-binary @over.bin");
	assert_problem(&r, 413, "Content Too Large");
	result_free(&r);
	/* Chunked: no length up front, refused once the data passes the cap. */
	r = curl("/echo", "-H 'Transfer-Encoding: chunked' "
	    "--data-binary @over.bin");
	assert_problem(&r, 413, "Content Too Large");
	result_free(&r);
	r = curl("/echo", "-H 'Transfer-Encoding: chunked' "
	    "--data-binary @max.bin");
	assert_int_equal(r.code, 201);
	assert_int_equal(r.body_len, KDC_HTTP_BODY_MAX);
	result_free(&r);
	/* Far too big: the connection is dropped, the server lives on. */
	r = curl("/echo", "-H 'Transfer-Encoding: chunked' "
	    "--data-binary @huge.bin");
	assert_int_not_equal(r.code, 201);
	result_free(&r);
	r = curl("/echo", "-H 'Expect:' --data-binary @huge.bin");
	assert_int_not_equal(r.code, 201);
	result_free(&r);
	r = curl("/hello", "");
	assert_body(&r, "hello, world");
	result_free(&r);
}

static void
test_tls_versions(void **state)
{
	struct result r;

	(void)state;
	server_start("127.0.0.1", 0, KDC_CLIENT_CERT_NONE);
	r = curl("/hello", "--tlsv1.3");
	assert_int_equal(r.code, 200);
	result_free(&r);
	r = curl("/hello", "--tlsv1.2 --tls-max 1.2");
	assert_int_not_equal(r.rc, 0);
	assert_int_equal(r.code, 0);
	result_free(&r);
	/* A second, independent peer. */
	assert_int_not_equal(kdc_test_sh("cd '%s' && openssl s_client -tls1_2 "
	    "-CAfile ca.pem -connect 127.0.0.1:%d < /dev/null > /dev/null "
	    "2>&1", E.dir, E.port), 0);
	assert_int_equal(kdc_test_sh("cd '%s' && openssl s_client -tls1_3 "
	    "-CAfile ca.pem -verify_return_error -connect 127.0.0.1:%d "
	    "< /dev/null > /dev/null 2>&1", E.dir, E.port), 0);

	server_start("127.0.0.1", 1, KDC_CLIENT_CERT_NONE);
	r = curl("/hello", "--tlsv1.2 --tls-max 1.2");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.code, 200);
	assert_body(&r, "hello, world");
	result_free(&r);
	r = curl("/hello", "--tlsv1.3");
	assert_int_equal(r.code, 200);
	result_free(&r);
	/* 1.1 stays off either way. */
	r = curl("/hello", "--tlsv1.1 --tls-max 1.1");
	assert_int_equal(r.code, 0);
	result_free(&r);
}

static void
test_client_cert(void **state)
{
	struct result r;

	(void)state;
	server_start("127.0.0.1", 0, KDC_CLIENT_CERT_REQUIRED);
	r = curl("/whoami", "");
	assert_problem(&r, 401, "Unauthorized");
	result_free(&r);
	r = curl("/nope", "");		/* authenticate before routing */
	assert_problem(&r, 401, "Unauthorized");
	result_free(&r);
	r = curl("/echo", "--data-binary @over.bin");
	assert_problem(&r, 401, "Unauthorized");
	result_free(&r);
	r = curl("/echo", "-H 'Expect: 100-continue' --data-binary @max.bin");
	assert_problem(&r, 401, "Unauthorized");
	result_free(&r);
	r = curl("/echo", "-H 'Transfer-Encoding: chunked' "
	    "--data-binary @max.bin");
	assert_problem(&r, 401, "Unauthorized");
	result_free(&r);
	r = curl("/whoami", "--cert rcli.pem --key rcli.key");
	assert_problem(&r, 403, "Forbidden");
	result_free(&r);
	/* The server's own certificate is not for client use. */
	r = curl("/whoami", "--cert srv.pem --key srv.key");
	assert_problem(&r, 403, "Forbidden");
	result_free(&r);
	r = curl("/whoami", "--cert cli.pem --key cli.key");
	assert_int_equal(r.code, 200);
	assert_body(&r, "CN=device-1,O=Acme");
	result_free(&r);

	server_start("127.0.0.1", 0, KDC_CLIENT_CERT_OPTIONAL);
	r = curl("/whoami", "");
	assert_int_equal(r.code, 200);
	assert_body(&r, "anonymous");
	result_free(&r);
	r = curl("/whoami", "--cert cli.pem --key cli.key");
	assert_body(&r, "CN=device-1,O=Acme");
	result_free(&r);
	r = curl("/whoami", "--cert rcli.pem --key rcli.key");
	assert_problem(&r, 403, "Forbidden");
	result_free(&r);

	server_start("127.0.0.1", 0, KDC_CLIENT_CERT_NONE);
	r = curl("/whoami", "--cert cli.pem --key cli.key");
	assert_body(&r, "anonymous");
	result_free(&r);
}

/*
 * The listener's cache of verified chains: a returning client's chain is
 * found (kdc_http_chain_hits) rather than verified again; a refused
 * chain is never kept; a kept chain past a certificate's expiration is
 * verified again, and refused.
 */
static void
test_chain_cache(void **state)
{
	struct result r;
	unsigned long hits;
	char until[32];
	time_t exp;
	struct tm tm;

	(void)state;
	/* a client certificate of the trusted CA that expires in 5 s */
	exp = time(NULL) + 5;
	gmtime_r(&exp, &tm);
	strftime(until, sizeof(until), "%Y-%m-%d %H:%M:%S", &tm);
	assert_int_equal(kdc_test_sh("set -e; cd '%s'; "
	    "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "  -nodes -keyout short.key -out short.csr -subj '/CN=short' "
	    "  2>/dev/null; "
	    "printf 'expiration_date = \"%s\"\ntls_www_client\n"
	    "signing_key\n' > short.tmpl; "
	    "TZ=UTC certtool --generate-certificate --load-request short.csr "
	    "  --load-ca-certificate ca.pem --load-ca-privkey ca.key "
	    "  --template short.tmpl --outfile short.pem >/dev/null 2>&1",
	    E.dir, until), 0);

	server_start("127.0.0.1", 0, KDC_CLIENT_CERT_REQUIRED);
	hits = kdc_http_chain_hits(E.h);
	/* verified, then found */
	r = curl("/whoami", "--cert cli.pem --key cli.key");
	assert_int_equal(r.code, 200);
	assert_body(&r, "CN=device-1,O=Acme");
	result_free(&r);
	assert_int_equal(kdc_http_chain_hits(E.h), hits);
	r = curl("/whoami", "--cert cli.pem --key cli.key");
	assert_int_equal(r.code, 200);
	assert_body(&r, "CN=device-1,O=Acme");
	result_free(&r);
	assert_int_equal(kdc_http_chain_hits(E.h), hits + 1);
	/* refused each time, never found */
	for (int i = 0; i < 2; i++) {
		r = curl("/whoami", "--cert rcli.pem --key rcli.key");
		assert_problem(&r, 403, "Forbidden");
		result_free(&r);
	}
	assert_int_equal(kdc_http_chain_hits(E.h), hits + 1);
	/* the short one: verified, found, then past its expiration
	 * verified again and refused */
	r = curl("/whoami", "--cert short.pem --key short.key");
	assert_int_equal(r.code, 200);
	assert_body(&r, "CN=short");
	result_free(&r);
	r = curl("/whoami", "--cert short.pem --key short.key");
	assert_int_equal(r.code, 200);
	result_free(&r);
	assert_int_equal(kdc_http_chain_hits(E.h), hits + 2);
	for (int i = 0; i < 100 && time(NULL) <= exp; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		nanosleep(&ts, NULL);	/* waiting for the clock itself */
	}
	assert_true(time(NULL) > exp);
	r = curl("/whoami", "--cert short.pem --key short.key");
	assert_problem(&r, 403, "Forbidden");
	result_free(&r);
	assert_int_equal(kdc_http_chain_hits(E.h), hits + 2);
	/* the long one is still found */
	r = curl("/whoami", "--cert cli.pem --key cli.key");
	assert_int_equal(r.code, 200);
	result_free(&r);
	assert_int_equal(kdc_http_chain_hits(E.h), hits + 3);
}

static void
test_lifetime(void **state)
{
	struct kdc_http_tls tls = { E.srv_pem, E.srv_key, NULL };
	struct kdc_http *h2 = NULL;
	struct kdc_config cfg;
	struct result r;
	double t0;

	(void)state;
	/* IPv6 literal. */
	server_start("::1", 0, KDC_CLIENT_CERT_NONE);
	r = curl("/hello", "-6");
	assert_int_equal(r.code, 200);
	result_free(&r);

	/* A taken port is KDC_ERR_IO. */
	server_start("127.0.0.1", 0, KDC_CLIENT_CERT_NONE);
	kdc_config_defaults(&cfg);
	cfg.http_port = E.port;
	cfg.http_client_cert = KDC_CLIENT_CERT_NONE;	/* no trust_pem here */
	assert_int_equal(kdc_http_new(&cfg, &tls, &h2), KDC_OK);
	assert_int_equal(kdc_http_start(h2), KDC_ERR_IO);
	kdc_http_free(h2);

	/* Bad arguments. */
	h2 = (struct kdc_http *)&cfg;
	cfg.http_port = 0;
	assert_int_equal(kdc_http_new(&cfg, &tls, &h2), KDC_ERR_INVALID_ARG);
	assert_null(h2);
	cfg.http_port = 8443;
	snprintf(cfg.http_address, sizeof(cfg.http_address), "localhost");
	assert_int_equal(kdc_http_new(&cfg, &tls, &h2), KDC_ERR_INVALID_ARG);
	snprintf(cfg.http_address, sizeof(cfg.http_address), "127.0.0.1");
	cfg.http_client_cert = KDC_CLIENT_CERT_REQUIRED;
	assert_int_equal(kdc_http_new(&cfg, &tls, &h2), KDC_ERR_INVALID_ARG);
	cfg.http_client_cert = KDC_CLIENT_CERT_NONE;
	cfg.http_conns_per_address = 0;
	assert_int_equal(kdc_http_new(&cfg, &tls, &h2), KDC_ERR_INVALID_ARG);
	cfg.http_conns_per_address = KDC_HTTP_CONN_PER_ADDR_MAX + 1;
	assert_int_equal(kdc_http_new(&cfg, &tls, &h2), KDC_ERR_INVALID_ARG);
	assert_null(h2);

	/* Stop is prompt once clients are gone, and idempotent. */
	r = curl("/hello", "");
	assert_int_equal(r.code, 200);
	result_free(&r);
	t0 = now();
	kdc_http_stop(E.h);
	assert_true(now() - t0 < 1.0);
	kdc_http_stop(E.h);
	r = curl("/hello", "--connect-timeout 2");
	assert_int_not_equal(r.rc, 0);
	result_free(&r);
	/* Stopped: routes may be added again, and it can restart. */
	assert_int_equal(kdc_http_route(E.h, "GET", "/late", hnd_text,
	    "late"), KDC_OK);
	assert_int_equal(kdc_http_start(E.h), KDC_OK);
	r = curl("/late", "");
	assert_body(&r, "late");
	result_free(&r);
	kdc_http_free(E.h);
	E.h = NULL;
	kdc_http_free(NULL);
}

/* Query arguments decoded, request headers without case, response
 * headers out (and kept on HEAD and problem bodies), %00 refused. */
static void
test_query_headers(void **state)
{
	struct result r;
	char want[1024], cl[64];
	size_t get_len;

	(void)state;
	server_start("127.0.0.1", 0, KDC_CLIENT_CERT_NONE);
	E.calls = 0;
	/* %3A decoded, '+' a space, the first of a repeated key, a key
	 * without a value "", names with case, the raw query as sent */
	r = curl("/q?a=urn%3Auuid%3A1&b=x+y%20z&a=second&flag&empty=&A=up",
	    "-H 'X-TeSt: hello'");
	assert_int_equal(r.code, 200);
	snprintf(want, sizeof(want), "query=a=urn%%3Auuid%%3A1&b=x+y%%20z&"
	    "a=second&flag&empty=&A=up|a=urn:uuid:1|b=x y z|flag=|empty=|"
	    "A=up|missing=(null)|hdr=hello|HDR=hello|nohdr=(null)|"
	    "each=[a=urn:uuid:1][b=x y z][a=second][flag=][empty=][A=up]|r=%d",
	    (int)KDC_OK);
	assert_body(&r, want);
	assert_non_null(strstr(r.hdrs, "\r\nLocation: /things/urn:uuid:1\r\n"));
	assert_non_null(strstr(r.hdrs,
	    "\r\nLink: </things?offset=2>; rel=\"next\"\r\n"));
	assert_null(strstr(r.hdrs, "Set-Cookie"));
	assert_null(strstr(r.hdrs, "text/html"));
	assert_non_null(strstr(r.hdrs, "\r\nCache-Control: no-store\r\n"));
	assert_non_null(strstr(r.hdrs,
	    "\r\nX-Content-Type-Options: nosniff\r\n"));
	get_len = r.body_len;
	result_free(&r);

	/* args_each stops at fn's error and returns it; no query: NULL */
	r = curl("/q?x=1&stop&y=2", "");
	snprintf(want, sizeof(want), "|each=[x=1][stop=]|r=%d",
	    (int)KDC_ERR_DENIED);
	assert_non_null(r.body);
	assert_non_null(strstr(r.body, want));
	result_free(&r);
	r = curl("/q", "");
	assert_non_null(r.body);
	assert_non_null(strstr(r.body, "query=(null)|a=(null)|"));
	assert_non_null(strstr(r.body, "|hdr=(null)|"));
	result_free(&r);

	/* HEAD: headers only, the GET body's length, the extra headers */
	r = curl("/q?a=urn%3Auuid%3A1&b=x+y%20z&a=second&flag&empty=&A=up",
	    "-I -H 'X-TeSt: hello'");
	assert_int_equal(r.code, 200);
	snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n", get_len);
	assert_non_null(strstr(r.hdrs, cl));
	assert_non_null(strstr(r.hdrs, "\r\nLocation: /things/urn:uuid:1\r\n"));
	result_free(&r);

	/* a bare 401 gets its problem body and keeps its challenge */
	r = curl("/challenge", "");
	assert_problem(&r, 401, "Unauthorized");
	assert_non_null(strstr(r.hdrs,
	    "\r\nWWW-Authenticate: Bearer realm=\"kdc\"\r\n"));
	result_free(&r);

	/* a NUL decoded in the query or path never reaches a handler */
	E.calls = 0;
	r = curl("/q?a=%00", "");
	assert_problem(&r, 400, "Bad Request");
	result_free(&r);
	r = curl("/q%00x", "");
	assert_problem(&r, 400, "Bad Request");
	result_free(&r);
	assert_int_equal(E.calls, 0);
	r = curl("/q?a=%2500", "");		/* "%00" as text is fine */
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "|a=%00|"));
	result_free(&r);
}

/* Gates: before the body and the route, refusals with their headers,
 * auth handed to the handler and freed once per request. */
static void
test_gate(void **state)
{
	struct result r;
	int frees, calls;
	double t0;

	(void)state;
	memset(&G, 0, sizeof(G));
	server_start("127.0.0.1", 0, KDC_CLIENT_CERT_NONE);

	r = curl("/g", "");
	assert_problem(&r, 401, "Unauthorized");
	assert_non_null(strstr(r.hdrs,
	    "\r\nWWW-Authenticate: Bearer realm=\"kdc\"\r\n"));
	result_free(&r);
	r = curl("/g", "-H 'Authorization: Bearer good'");
	assert_int_equal(r.code, 200);
	assert_body(&r, "alice:0");
	result_free(&r);
	/* below the prefix, before routing: 401, then with auth 404 */
	r = curl("/g/nope", "");
	assert_problem(&r, 401, "Unauthorized");
	result_free(&r);
	r = curl("/g/nope", "-H 'Authorization: Bearer good'");
	assert_problem(&r, 404, "Not Found");
	result_free(&r);
	/* a body reaches the handler only through the gate */
	r = curl("/g/echo", "-H 'Authorization: Bearer good' "
	    "--data-binary 'twelve bytes'");
	assert_int_equal(r.code, 200);
	assert_body(&r, "alice:12");
	result_free(&r);
	/* refused, a small body read and dropped: the gate's answer */
	r = curl("/g/echo", "-H 'Expect:' --data-binary 'twelve bytes'");
	assert_problem(&r, 401, "Unauthorized");
	assert_non_null(strstr(r.hdrs, "\r\nWWW-Authenticate: Bearer"));
	result_free(&r);
	/* the longest prefix wins; "/gx" is not below "/g" */
	r = curl("/g/open", "");
	assert_int_equal(r.code, 200);
	assert_body(&r, "none:0");
	result_free(&r);
	r = curl("/gx", "");
	assert_int_equal(r.code, 200);
	assert_body(&r, "none:0");
	result_free(&r);
	/* an auth set on a refusal is freed too */
	r = curl("/g", "-H 'Authorization: Bearer half'");
	assert_problem(&r, 401, "Unauthorized");
	result_free(&r);
	/* completion (and free) may trail the client's exit a little */
	for (int i = 0; i < 200 && atomic_load(&G.frees) < 4; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);	/* polls the counter itself */
	}
	/* alice x3 (GET, 404, echo) and half: one free each */
	assert_int_equal(atomic_load(&G.frees), 4);
	assert_int_equal(atomic_load(&G.handler_calls), 4);
	assert_int_equal(atomic_load(&G.body_seen), 0);

	/* 10 MiB refused before it is sent: curl waits 30 s for a 100
	 * Continue that never comes, the 401 comes at once instead ... */
	calls = atomic_load(&G.handler_calls);
	t0 = now();
	r = curl("/g/echo", "-H 'Expect: 100-continue' "
	    "--expect100-timeout 30 --data-binary @ten.bin");
	assert_problem(&r, 401, "Unauthorized");
	assert_true(now() - t0 < 10.0);
	result_free(&r);
	/* ... and a raw client announcing it without sending a byte of it
	 * reads the whole 401 back */
	assert_int_equal(kdc_test_sh("cd '%s' && /usr/bin/python3 raw.py gate "
	    "%d > raw.out", E.dir, E.port), 0);
	{
		char f[512];
		size_t len;
		char *out;

		snprintf(f, sizeof(f), "%s/raw.out", E.dir);
		assert_non_null(out = (char *)kdc_test_read_file(f, &len));
		assert_true(strncmp(out, "HTTP/1.1 401 ", 13) == 0);
		assert_non_null(strstr(out,
		    "\r\nWWW-Authenticate: Bearer realm=\"kdc\"\r\n"));
		assert_non_null(strstr(out, "\"status\":401"));
		free(out);
	}
	assert_int_equal(atomic_load(&G.handler_calls), calls);
	assert_int_equal(atomic_load(&G.body_seen), 0);
	frees = atomic_load(&G.frees);
	assert_int_equal(frees, 4);
}

/* Three events from another thread, in order, through curl -N; pull
 * called once per wake plus once per "nothing now" (not in a loop: none
 * in a suspended window); done once, before the gate's auth is freed. */
static void
test_stream(void **state)
{
	pthread_t t;
	struct result r;
	int frees;

	(void)state;
	memset(&G, 0, sizeof(G));
	server_start("127.0.0.1", 0, KDC_CLIENT_CERT_NONE);
	sse_reset();
	S.events = 3;
	frees = atomic_load(&G.frees);
	assert_int_equal(pthread_create(&t, NULL, sse_producer, &S), 0);
	r = curl("/events", "-N");
	pthread_join(t, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.code, 200);
	assert_body(&r, "id: 1\ndata: 1\n\nid: 2\ndata: 2\n\n"
	    "id: 3\ndata: 3\n\n");
	assert_non_null(strstr(r.hdrs,
	    "\r\nContent-Type: text/event-stream\r\n"));
	assert_non_null(strstr(r.hdrs, "\r\nCache-Control: no-store\r\n"));
	assert_non_null(strstr(r.hdrs,
	    "\r\nX-Content-Type-Options: nosniff\r\n"));
	assert_non_null(strstr(r.hdrs, "\r\nX-Accel-Buffering: no\r\n"));
	result_free(&r);
	assert_true(sse_wait(c_done, 5000));
	pthread_mutex_lock(&S.mu);
	assert_int_equal(S.streams, 1);
	assert_int_equal(S.dones, 1);
	assert_int_equal(S.wakes, 4);
	/* 1 (nothing yet) + 3 x (the event, then nothing) + 1 (the end) */
	assert_int_equal(S.pulls, 2 * S.wakes);
	assert_int_equal(S.window_pulls, 0);
	assert_int_equal(kdc_http_streams_suspended(E.h), 0);
	assert_true(S.window_cpu >= 0 && S.window_cpu < 0.1);
	assert_int_equal(S.frees_at_done, frees);
	pthread_mutex_unlock(&S.mu);
	for (int i = 0; i < 200 && atomic_load(&G.frees) < frees + 1; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);	/* polls the counter itself */
	}
	assert_int_equal(atomic_load(&G.frees), frees + 1);

	/* HEAD: headers only, pull never called, done called */
	sse_reset();
	r = curl("/events", "-I");
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.hdrs,
	    "\r\nContent-Type: text/event-stream\r\n"));
	assert_non_null(strstr(r.hdrs, "\r\nCache-Control: no-store\r\n"));
	result_free(&r);
	assert_true(sse_wait(c_done, 5000));
	pthread_mutex_lock(&S.mu);
	assert_int_equal(S.streams, 1);
	assert_int_equal(S.pulls, 0);
	assert_int_equal(S.dones, 1);
	pthread_mutex_unlock(&S.mu);

	/* the listener still serves after streams */
	r = curl("/hello", "");
	assert_body(&r, "hello, world");
	result_free(&r);
}

/* A stream outlives the request deadline (the watchdog's) and MHD's
 * inactivity timeout: suspended past both, it still delivers. */
static void
test_stream_long(void **state)
{
	pthread_t t;
	struct result r;

	(void)state;
	memset(&G, 0, sizeof(G));
	server_start("127.0.0.1", 0, KDC_CLIENT_CERT_NONE);
	sse_reset();
	S.events = 1;
	S.hold_ms = (KDC_HTTP_REQUEST_TIMEOUT + 2) * 1000;
	assert_true(KDC_HTTP_REQUEST_TIMEOUT > KDC_HTTP_CONN_TIMEOUT &&
	    KDC_HTTP_REQUEST_TIMEOUT > KDC_HTTP_HEADER_TIMEOUT);
	assert_int_equal(pthread_create(&t, NULL, sse_producer, &S), 0);
	r = curl("/events", "-N --max-time 60");
	pthread_join(t, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.code, 200);
	assert_body(&r, "id: 1\ndata: 1\n\n");
	result_free(&r);
	assert_true(sse_wait(c_done, 5000));
	pthread_mutex_lock(&S.mu);
	assert_int_equal(S.window_pulls, 0);
	assert_int_equal(S.pulls, 2 * S.wakes);
	pthread_mutex_unlock(&S.mu);
}

/* A client gone while its stream is suspended: done runs without any
 * further wake (the watchdog sees the socket closed). */
static void
test_stream_drop(void **state)
{
	pthread_t t;

	(void)state;
	server_start("127.0.0.1", 0, KDC_CLIENT_CERT_NONE);
	sse_reset();
	S.events = 1;
	assert_int_equal(pthread_create(&t, NULL, sse_producer, NULL), 0);
	assert_int_equal(kdc_test_sh("cd '%s' && /usr/bin/python3 raw.py drop "
	    "%d > raw.out", E.dir, E.port), 0);
	pthread_join(t, NULL);
	assert_true(sse_wait(c_done, 5000));
	pthread_mutex_lock(&S.mu);
	assert_int_equal(S.dones, 1);
	assert_int_equal(S.wakes, 1);
	assert_null(S.handle);
	pthread_mutex_unlock(&S.mu);
}

/* kdc_http_stop() with a stream open (suspended): returns promptly (it
 * does not wait out the drain for it) and done has run. */
static void
test_stream_stop(void **state)
{
	double t0;

	(void)state;
	server_start("127.0.0.1", 0, KDC_CLIENT_CERT_NONE);
	sse_reset();
	assert_int_equal(kdc_test_sh("cd '%s' && (timeout 20 curl -sS -N "
	    "--cacert ca.pem 'https://localhost:%d/events' > stop.out "
	    "2>&1 &)", E.dir, E.port), 0);
	assert_true(sse_wait(c_idle, 15000));
	/* suspended, not just idle: MHD aborts the process if stopped
	 * with a connection suspended */
	for (int i = 0; i < 1000 && kdc_http_streams_suspended(E.h) == 0;
	    i++) {
		struct timespec ts = { 0, 5 * 1000 * 1000 };

		nanosleep(&ts, NULL);	/* polls the state itself */
	}
	assert_int_equal(kdc_http_streams_suspended(E.h), 1);
	t0 = now();
	kdc_http_stop(E.h);
	assert_true(now() - t0 < 2.0);	/* the drain would be 5 s */
	pthread_mutex_lock(&S.mu);
	assert_int_equal(S.dones, 1);
	assert_null(S.handle);
	pthread_mutex_unlock(&S.mu);
	kdc_http_free(E.h);
	E.h = NULL;
}

static void
test_resp_helpers(void **state)
{
	struct kdc_http_resp resp;

	(void)state;
	memset(&resp, 0, sizeof(resp));
	assert_int_equal(kdc_http_resp_set(&resp, 200, "text/plain\r\nX: y",
	    "x", 1), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_http_resp_set(&resp, 99, "text/plain", "x", 1),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_http_resp_set(&resp, 200, "text/plain", "x", 1),
	    KDC_OK);
	assert_int_equal(kdc_http_resp_problem(&resp, 400, "bad \"id\"\n"),
	    KDC_OK);
	assert_string_equal(resp.content_type, "application/problem+json");
	assert_int_equal(resp.body_len, strlen("{\"title\":\"Bad Request\","
	    "\"status\":400,\"detail\":\"bad \\\"id\\\"\\u000a\"}"));
	assert_memory_equal(resp.body, "{\"title\":\"Bad Request\","
	    "\"status\":400,\"detail\":\"bad \\\"id\\\"\\u000a\"}",
	    resp.body_len);
	free(resp.body);
	assert_int_equal(kdc_http_status(KDC_OK), 200);
	assert_int_equal(kdc_http_status(KDC_ERR_NOT_FOUND), 404);
	assert_int_equal(kdc_http_status(KDC_ERR_TOO_LARGE), 413);
	assert_int_equal(kdc_http_status(KDC_ERR_STORE), 500);

	/* response headers: checked, bounded, owned names refused */
	memset(&resp, 0, sizeof(resp));
	assert_int_equal(kdc_http_resp_header(&resp, "X-A", "a\rb"),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_http_resp_header(&resp, "X-A", "a\nb"),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_http_resp_header(&resp, "X-A\r\nX-B", "b"),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_http_resp_header(&resp, "X A", "b"),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_http_resp_header(&resp, "X:A", "b"),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_http_resp_header(&resp, "", "b"),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_http_resp_header(&resp, "X-A", NULL),
	    KDC_ERR_INVALID_ARG);
	for (size_t i = 0; i < 6; i++) {
		static const char *const owned[] = { "content-type",
		    "Content-Length", "CACHE-CONTROL", "X-Content-Type-Options",
		    "connection", "Transfer-Encoding" };

		assert_int_equal(kdc_http_resp_header(&resp, owned[i], "x"),
		    KDC_ERR_INVALID_ARG);
	}
	assert_int_equal(resp.nhdrs, 0);
	for (int i = 0; i < KDC_HTTP_RESP_HEADERS_MAX; i++)
		assert_int_equal(kdc_http_resp_header(&resp, "Link",
		    "<a>; rel=\"next\"\tx"), KDC_OK);
	assert_int_equal(kdc_http_resp_header(&resp, "Link", "<b>"),
	    KDC_ERR_TOO_LARGE);
	assert_int_equal(resp.nhdrs, KDC_HTTP_RESP_HEADERS_MAX);
	kdc_http_resp_clear(&resp);
	assert_int_equal(resp.nhdrs, 0);
	kdc_http_resp_clear(NULL);

	/* a stream never handed to a listener: done runs on clear */
	sse_reset();
	{
		struct kdc_http_stream *h = NULL;

		assert_int_equal(kdc_http_resp_stream(&resp, 200,
		    "text/event-stream", NULL, sse_done, &S, &h),
		    KDC_ERR_INVALID_ARG);
		assert_int_equal(kdc_http_resp_stream(&resp, 199,
		    "text/event-stream", sse_pull, sse_done, &S, &h),
		    KDC_ERR_INVALID_ARG);
		assert_int_equal(kdc_http_resp_stream(&resp, 200,
		    "text/event-stream\r\nX: y", sse_pull, sse_done, &S, &h),
		    KDC_ERR_INVALID_ARG);
		assert_int_equal(S.dones, 0);
		assert_int_equal(kdc_http_resp_stream(&resp, 200,
		    "text/event-stream", sse_pull, sse_done, &S, &h), KDC_OK);
		assert_non_null(h);
		assert_int_equal(kdc_http_resp_stream(&resp, 200,
		    "text/event-stream", sse_pull, sse_done, &S, &h),
		    KDC_ERR_INVALID_ARG);
		kdc_http_stream_wake(h);	/* before it is queued: kept */
		kdc_http_resp_clear(&resp);
		assert_int_equal(S.dones, 1);
		assert_int_equal(S.pulls, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resp_helpers),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_tls_versions),
		cmocka_unit_test(test_client_cert),
		cmocka_unit_test(test_chain_cache),
		cmocka_unit_test(test_query_headers),
		cmocka_unit_test(test_gate),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_stream_drop),
		cmocka_unit_test(test_stream_long),
		cmocka_unit_test(test_stream_stop),
		cmocka_unit_test(test_lifetime),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
