/*
 * test_http.c: the HTTPS listener against real curl and openssl s_client
 * on loopback, with a throwaway CA, server and client certificates made
 * by openssl at test time.
 */
#include <stdarg.h>
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
	    "head -c %d /dev/zero > huge.bin",
	    E.dir, KDC_HTTP_BODY_MAX, KDC_HTTP_BODY_MAX + 1, 4 << 20);
}

static int
setup(void **state)
{
	(void)state;
	memset(&E, 0, sizeof(E));
	E.dir = kdc_test_tmpdir();
	if (mkcerts() != 0)
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
	assert_int_equal(kdc_http_route(E.h, "GET", "/hello", hnd_text,
	    "again"), KDC_ERR_EXISTS);
	assert_int_equal(kdc_http_route(E.h, "GET", "hello", hnd_text,
	    "x"), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_http_start(E.h), KDC_OK);
	assert_int_equal(kdc_http_route(E.h, "GET", "/late", hnd_text,
	    "x"), KDC_ERR_INVALID_ARG);
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
		cmocka_unit_test(test_lifetime),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
