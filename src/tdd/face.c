/*
 * face.c: the Thing Directory's HTTP face (tdd/face.h). Glue: bound and
 * read the request, authenticate (the gate), call core/tdd.h, map the
 * answer onto WoT Discovery's HTTP rules (problem+json errors, Location,
 * Link, SSE).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "tdd/jfree.h"

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "tdd/face.h"

#define TD_JSON		"application/td+json"
#define LD_JSON		"application/ld+json"
#define APP_JSON	"application/json"
#define MERGE_JSON	"application/merge-patch+json"
#define SSE		"text/event-stream"
#define WWW_AUTH	"Bearer realm=\"iotkdc\""
#define WWW_BAD_TOKEN	"Bearer realm=\"iotkdc\", error=\"invalid_token\""
#define WWW_BASIC	"Basic realm=\"iotkdc\", charset=\"UTF-8\""
#define TOKEN_MAX	2048	/* bytes of a decoded bearer token */
#define RATE_SLOTS	1024
#define PEND_CAP	(KDC_HTTP_BODY_MAX + 4096)

struct rate {
	int64_t		device;
	double		tokens;
	int64_t		at_ms;
};

struct kdc_tdd_face {
	struct kdc_core		*core;
	struct kdc_tdd		*tdd;
	struct kdc_tdd_face_opts o;
	char			*td;		/* the directory's own TD */
	size_t			 td_len;
	struct rate		 rates[RATE_SLOTS];
	pthread_mutex_t		 mu;		/* streams count */
	unsigned		 streams;
};

/* What the gate hands a handler. */
struct who {
	struct kdc_tdd_caller	c;
};

static void
who_free(void *p)
{
	kdc_free(p);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A problem+json body with a detail (never a secret, never TD content
 * beyond what the client sent as an id). */
static void
problem(struct kdc_http_resp *resp, int status, const char *detail)
{
	(void)kdc_http_resp_problem(resp, status, detail);
}

/* Token bucket per principal: false when over its rate. */
static bool
rate_ok(struct kdc_tdd_face *f, int64_t device)
{
	struct rate *r;
	int64_t now = now_ms();

	if (f->o.rate == 0)
		return true;
	r = &f->rates[(uint64_t)device * 0x9e3779b97f4a7c15ULL >> 54];
	if (r->device != device) {
		r->device = device;
		r->tokens = f->o.burst;
		r->at_ms = now;
	}
	r->tokens += (double)(now - r->at_ms) * f->o.rate / 1000.0;
	if (r->tokens > f->o.burst)
		r->tokens = f->o.burst;
	r->at_ms = now;
	if (r->tokens < 1.0)
		return false;
	r->tokens -= 1.0;
	return true;
}

/* base64url or base64 (RFC 4648 §5/§4), padding optional, into out
 * (cap bytes): the length, or -1 for a character outside both alphabets,
 * a bad length, too much, or bits left over that are not zero (one token
 * has one spelling, RFC 4648 §3.5). */
static long
b64_any(const char *in, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	size_t o = 0, bits = 0, n = 0;

	for (; *in != '\0' && *in != '='; in++, n++) {
		int v;
		char ch = *in;

		if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
		else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
		else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
		else if (ch == '-' || ch == '+') v = 62;
		else if (ch == '_' || ch == '/') v = 63;
		else return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	while (*in == '=')
		in++;
	if (*in != '\0' || n % 4 == 1 ||
	    (acc & ((1u << bits) - 1u)) != 0)
		return -1;
	return (long)o;
}

static uint64_t
kdc_fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int
refuse(struct kdc_http_resp *resp, const char *www, const char *detail)
{
	(void)kdc_http_resp_header(resp, "WWW-Authenticate", www);
	problem(resp, 401, detail);
	return 401;
}

/* The gate: authenticated before the body is read. An ACE access token
 * of ours for the directory's audience as a bearer token (RFC 6750), or
 * a client certificate the listener verified as our CA's. */
static int
gate(void *arg, const struct kdc_http_req *req, void **auth,
    struct kdc_http_resp *resp)
{
	struct kdc_tdd_face *f = arg;
	const char *az = kdc_http_header(req, "Authorization");
	struct kdc_principal p;
	uint8_t tok[TOKEN_MAX];
	struct who *w;
	long n;
	kdc_err r;

	if (az != NULL && strncasecmp(az, "Bearer ", 7) == 0) {
		for (az += 7; *az == ' '; az++)
			;
		if (f->o.audience == NULL || f->o.audience[0] == '\0')
			return refuse(resp, WWW_AUTH, "this directory takes no "
			    "bearer tokens: use a TLS client certificate");
		if ((n = b64_any(az, tok, sizeof(tok))) <= 0)
			return refuse(resp, WWW_BAD_TOKEN, "the bearer token is "
			    "not base64url");
		r = kdc_core_ace_bearer(f->core, f->o.audience, tok,
		    (size_t)n, &p);
		memset(tok, 0, sizeof(tok));
		if (r != KDC_OK) {
			if (r != KDC_ERR_UNTRUSTED)
				kdc_log_warn_r(r, "tdd: bearer token check");
			return refuse(resp, WWW_BAD_TOKEN, "the bearer token is "
			    "not an active access token for this directory");
		}
	} else if (az != NULL && f->o.basic &&
	    strncasecmp(az, "Basic ", 6) == 0) {
		char *colon;

		for (az += 6; *az == ' '; az++)
			;
		if ((n = b64_any(az, tok, sizeof(tok) - 1)) <= 0 ||
		    (tok[n] = '\0', colon = strchr((char *)tok, ':')) ==
		    NULL || memchr(tok, '\0', (size_t)n) != NULL) {
			memset(tok, 0, sizeof(tok));
			return refuse(resp, WWW_BASIC, "malformed basic "
			    "credentials");
		}
		*colon = '\0';
		/* a name's attempts share one bucket (Argon2id is costly) */
		if (!rate_ok(f, -(int64_t)(kdc_fnv((const char *)tok) >> 1))) {
			memset(tok, 0, sizeof(tok));
			(void)kdc_http_resp_header(resp, "Retry-After", "1");
			problem(resp, 429, "too many attempts for this user");
			return 429;
		}
		r = kdc_core_user_basic(f->core, (const char *)tok, colon + 1,
		    (size_t)n - (size_t)(colon + 1 - (char *)tok), &p);
		memset(tok, 0, sizeof(tok));
		if (r != KDC_OK) {
			if (r != KDC_ERR_UNTRUSTED && r != KDC_ERR_REVOKED)
				kdc_log_warn_r(r, "tdd: basic check");
			return refuse(resp, WWW_BASIC, "wrong user name or "
			    "password");
		}
	} else if (az != NULL) {
		return refuse(resp, f->o.basic ? WWW_BASIC : WWW_AUTH,
		    "unsupported authorization scheme: a Bearer token or a TLS "
		    "client certificate");
	} else if (req->nclient_certs == 0) {
		/* no credential: no store access, no work */
		return refuse(resp, WWW_AUTH, "authenticate with a TLS client "
		    "certificate issued by this KDC or a Bearer token from its "
		    "ACE AS");
	} else if ((r = kdc_core_auth_cert_verified(f->core, "https",
	    req->client_certs, req->client_cert_lens, req->nclient_certs,
	    &p)) != KDC_OK) {
		return refuse(resp, WWW_AUTH, "the client certificate is not "
		    "(or no longer) valid here");
	}
	if (!rate_ok(f, p.device)) {
		(void)kdc_http_resp_header(resp, "Retry-After", "1");
		problem(resp, 429, "too many requests from this principal");
		return 429;
	}
	if ((w = kdc_calloc(1, sizeof(*w))) == NULL) {
		problem(resp, 503, NULL);
		return 503;
	}
	if ((r = kdc_tdd_caller(f->tdd, &p, &w->c)) != KDC_OK) {
		kdc_free(w);
		problem(resp, r == KDC_ERR_UNKNOWN_DEVICE ? 401 : 503, NULL);
		return r == KDC_ERR_UNKNOWN_DEVICE ? 401 : 503;
	}
	*auth = w;
	return 0;
}

/* The id of /PREFIX/{id}: the listener decoded the path. */
static const char *
tail(const struct kdc_http_req *req, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(req->path, prefix, n) != 0 || req->path[n] == '\0')
		return NULL;
	return req->path + n;
}

/* Percent-encode s for a path segment or a query value. */
static void
pct(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0' && o + 4 < cap; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch) != NULL)
			out[o++] = (char)ch;
		else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
}

static bool
ctype_is(const struct kdc_http_req *req, const char *want)
{
	const char *ct = kdc_http_header(req, "Content-Type");
	size_t n = strlen(want);

	return ct != NULL && strncasecmp(ct, want, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* A 400 from a core result: validationErrors when there are some. */
static void
bad_request(struct kdc_http_resp *resp, const struct kdc_tdd_result *res)
{
	json_t *j, *a;
	char *s;

	if (res->verrs.n == 0 && res->nlint == 0) {
		problem(resp, 400, res->why[0] != '\0' ? res->why : NULL);
		return;
	}
	j = json_pack("{s:s,s:i,s:s}", "title", "Bad Request", "status", 400,
	    "detail", res->why[0] != '\0' ? res->why : "invalid TD");
	if (j == NULL) {
		problem(resp, 400, res->why);
		return;
	}
	if (res->verrs.n > 0 && (a = json_array()) != NULL) {
		for (size_t i = 0; i < res->verrs.n; i++)
			json_array_append_new(a, json_pack("{s:s,s:s}",
			    "field", res->verrs.e[i].field, "description",
			    res->verrs.e[i].description));
		json_object_set_new(j, "validationErrors", a);
	}
	if (res->strict && (a = json_array()) != NULL) {
		for (size_t i = 0; i < res->nlint; i++)
			json_array_append_new(a, json_pack("{s:s,s:s,s:s}",
			    "rule", res->lint[i].rule, "field",
			    res->lint[i].field, "description",
			    res->lint[i].description));
		json_object_set_new(j, "securityLint", a);
	}
	if ((s = json_dumps(j, JSON_COMPACT)) != NULL)
		(void)kdc_http_resp_set(resp, 400, "application/problem+json",
		    s, strlen(s));
	else
		problem(resp, 400, res->why);
	kdc_json_free(s);
	json_decref(j);
}

static int
status_of(kdc_err r)
{
	switch (r) {
	case KDC_OK:			return 200;
	case KDC_ERR_NOT_FOUND:		return 404;
	case KDC_ERR_DENIED:		return 403;
	case KDC_ERR_INVALID_ARG:
	case KDC_ERR_MALFORMED:		return 400;
	case KDC_ERR_TOO_LARGE:		return 413;
	case KDC_ERR_STORE_BUSY:
	case KDC_ERR_BUSY:		return 503;
	default:			return 500;
	}
}

static void
fail(struct kdc_http_resp *resp, kdc_err r, const char *what)
{
	int st = status_of(r);

	if (st >= 500)
		kdc_log_warn_r(r, "tdd: %s", what);
	problem(resp, st, st == 404 ? "no such Thing Description" :
	    st == 403 ? "only the owner of this Thing Description may do "
	    "that" : NULL);
}

/* The lint findings of a registration as a JSON body {"id","securityLint"}. */
static void
created_body(struct kdc_http_resp *resp, int status,
    const struct kdc_tdd_result *res)
{
	json_t *j, *a;
	char *s;

	if ((a = json_array()) == NULL ||
	    (j = json_pack("{s:s,s:o}", "id", res->id, "securityLint", a)) ==
	    NULL) {
		resp->status = status;
		return;
	}
	for (size_t i = 0; i < res->nlint; i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "rule",
		    res->lint[i].rule, "field", res->lint[i].field,
		    "description", res->lint[i].description));
	if ((s = json_dumps(j, JSON_COMPACT)) != NULL)
		(void)kdc_http_resp_set(resp, status, APP_JSON, s, strlen(s));
	else
		resp->status = status;
	kdc_json_free(s);
	json_decref(j);
}

/* The consent of a registration from its query: purpose, readers
 * (comma- or space-separated), retention (seconds). */
static bool
consent_args(const struct kdc_http_req *req, struct kdc_tdd_consent *k)
{
	const char *p = kdc_http_arg(req, "purpose");
	const char *rd = kdc_http_arg(req, "readers");
	const char *rt = kdc_http_arg(req, "retention");
	char *end;

	memset(k, 0, sizeof(*k));
	if (p == NULL && rd == NULL && rt == NULL)
		return true;
	k->given = true;
	snprintf(k->purpose, sizeof(k->purpose), "%s", p != NULL ? p :
	    "discovery");
	if (rd != NULL) {
		if (strlen(rd) >= sizeof(k->readers))
			return false;
		snprintf(k->readers, sizeof(k->readers), "%s", rd);
		for (char *q = k->readers; *q != '\0'; q++)
			if (*q == ',')
				*q = ' ';
	}
	if (rt != NULL) {
		long long v = strtoll(rt, &end, 10);

		if (*rt == '\0' || *end != '\0' || v <= 0)
			return false;
		k->retention = v;
	}
	return true;
}

/* ---- /things ----------------------------------------------------------------- */

static void
put_thing(struct kdc_tdd_face *f, const struct kdc_http_req *req,
    struct kdc_http_resp *resp, const char *id)
{
	const struct who *w = req->auth;
	struct kdc_tdd_consent k;
	struct kdc_tdd_result *res;
	char loc[KDC_TDD_ID_MAX * 3 + 16];
	kdc_err r;

	if (!ctype_is(req, TD_JSON) && !ctype_is(req, APP_JSON) &&
	    !ctype_is(req, LD_JSON)) {
		problem(resp, 415, "send the TD as application/td+json");
		return;
	}
	if (!consent_args(req, &k)) {
		problem(resp, 400, "bad consent: purpose, readers, retention "
		    "(seconds)");
		return;
	}
	if ((res = kdc_malloc(sizeof(*res))) == NULL) {
		problem(resp, 503, NULL);
		return;
	}
	r = kdc_tdd_put(f->tdd, &w->c, id, (const char *)req->body,
	    req->body_len, &k, res);
	if (r == KDC_ERR_INVALID_ARG)
		bad_request(resp, res);
	else if (r != KDC_OK)
		fail(resp, r, "put");
	else if (res->created) {
		pct(res->id, loc + 8, sizeof(loc) - 8);
		memcpy(loc, "/things/", 8);
		(void)kdc_http_resp_header(resp, "Location", loc);
		created_body(resp, 201, res);
	} else {
		if (res->nlint > 0) {
			char rules[256];
			size_t o = 0;

			for (size_t i = 0; i < res->nlint && o + 34 <
			    sizeof(rules); i++)
				o += (size_t)snprintf(rules + o,
				    sizeof(rules) - o, "%s%s", i ? "," : "",
				    res->lint[i].rule);
			(void)kdc_http_resp_header(resp, "X-Security-Lint",
			    rules);
		}
		resp->status = 204;
	}
	kdc_free(res);
}

static void
list_things(struct kdc_tdd_face *f, const struct kdc_http_req *req,
    struct kdc_http_resp *resp)
{
	const struct who *w = req->auth;
	const char *so = kdc_http_arg(req, "offset");
	const char *sl = kdc_http_arg(req, "limit");
	const char *fmt = kdc_http_arg(req, "format");
	const char *sb = kdc_http_arg(req, "sort_by");
	const char *sd = kdc_http_arg(req, "sort_order");
	unsigned long long offset = 0, limit = 0;
	bool coll = false, paged = sl != NULL || so != NULL;
	char *json = NULL, *end, link[256], etag[64], fmtq[32];
	size_t len = 0, total = 0, n;
	kdc_err r;

	if (so != NULL && ((offset = strtoull(so, &end, 10)), *so == '\0' ||
	    *end != '\0' || *so == '-')) {
		problem(resp, 400, "offset is a number >= 0");
		return;
	}
	if (sl != NULL && ((limit = strtoull(sl, &end, 10)), *sl == '\0' ||
	    *end != '\0' || limit == 0 || *sl == '-')) {
		problem(resp, 400, "limit is a number > 0");
		return;
	}
	if (fmt != NULL && strcmp(fmt, "array") != 0) {
		if (strcmp(fmt, "collection") != 0) {
			problem(resp, 400, "format is array or collection");
			return;
		}
		coll = true;
	}
	if ((sb != NULL && strcmp(sb, "id") != 0) ||
	    (sd != NULL && strcmp(sd, "asc") != 0)) {
		problem(resp, 400, "the only order is by id, ascending");
		return;
	}
	if (limit > KDC_TDD_LIST_MAX)
		limit = KDC_TDD_LIST_MAX;
	if ((r = kdc_tdd_list(f->tdd, &w->c, (size_t)offset, (size_t)limit,
	    &json, &len, &total)) != KDC_OK) {
		fail(resp, r, "list");
		return;
	}
	n = limit != 0 ? (size_t)limit : KDC_TDD_LIST_MAX;
	if (offset + n < total) {
		paged = true;
		snprintf(fmtq, sizeof(fmtq), "%s", coll ?
		    "&format=collection" : "");
		snprintf(link, sizeof(link),
		    "</things?offset=%llu&limit=%zu%s>; rel=\"next\"",
		    offset + n, n, fmtq);
		(void)kdc_http_resp_header(resp, "Link", link);
	}
	if (paged) {
		kdc_tdd_etag(f->tdd, etag, sizeof(etag));
		snprintf(link, sizeof(link), "</things>; rel=\"canonical\"; "
		    "etag=\"%s\"", etag);
		(void)kdc_http_resp_header(resp, "Link", link);
	}
	if (coll) {
		json_t *members = json_loadb(json, len, 0, NULL), *j;
		char idq[128], nextq[128], *s;

		snprintf(idq, sizeof(idq), "/things?offset=%llu&limit=%zu"
		    "&format=collection", offset, n);
		snprintf(nextq, sizeof(nextq), "/things?offset=%llu&limit=%zu"
		    "&format=collection", offset + n, n);
		j = members == NULL ? NULL : json_pack("{s:s,s:s,s:I,s:o,s:s}",
		    "@context", "https://www.w3.org/2022/wot/discovery",
		    "@type", "ThingCollection", "total", (json_int_t)total,
		    "members", members, "@id", idq);
		if (j != NULL && offset + n < total)
			json_object_set_new(j, "next", json_string(nextq));
		if (j == NULL || (s = json_dumps(j, JSON_COMPACT)) == NULL) {
			json_decref(j);
			kdc_free(json);
			problem(resp, 503, NULL);
			return;
		}
		(void)kdc_http_resp_set(resp, 200, LD_JSON, s, strlen(s));
		kdc_json_free(s);
		json_decref(j);
	} else
		(void)kdc_http_resp_set(resp, 200, LD_JSON, json, len);
	kdc_free(json);
}

static void
hnd_things(void *arg, const struct kdc_http_req *req,
    struct kdc_http_resp *resp)
{
	struct kdc_tdd_face *f = arg;

	if (strcmp(req->method, "POST") == 0)
		put_thing(f, req, resp, NULL);
	else
		list_things(f, req, resp);
}

static void
hnd_thing(void *arg, const struct kdc_http_req *req,
    struct kdc_http_resp *resp)
{
	struct kdc_tdd_face *f = arg;
	const struct who *w = req->auth;
	const char *id = tail(req, "/things/");
	struct kdc_tdd_result *res;
	char *json = NULL;
	size_t len = 0;
	kdc_err r;

	if (id == NULL || strlen(id) > KDC_TDD_ID_MAX) {
		problem(resp, 404, "no such Thing Description");
		return;
	}
	if (strcmp(req->method, "GET") == 0 ||
	    strcmp(req->method, "HEAD") == 0) {
		if ((r = kdc_tdd_get(f->tdd, &w->c, id, &json, &len)) != KDC_OK)
			fail(resp, r, "get");
		else
			(void)kdc_http_resp_set(resp, 200, TD_JSON, json, len);
		kdc_free(json);
	} else if (strcmp(req->method, "PUT") == 0)
		put_thing(f, req, resp, id);
	else if (strcmp(req->method, "DELETE") == 0) {
		if ((r = kdc_tdd_delete(f->tdd, &w->c, id)) != KDC_OK)
			fail(resp, r, "delete");
		else
			resp->status = 204;
	} else if (strcmp(req->method, "PATCH") == 0) {
		if (!ctype_is(req, MERGE_JSON)) {
			problem(resp, 415, "a patch is "
			    "application/merge-patch+json (RFC 7396)");
			return;
		}
		if ((res = kdc_malloc(sizeof(*res))) == NULL) {
			problem(resp, 503, NULL);
			return;
		}
		r = kdc_tdd_patch(f->tdd, &w->c, id, (const char *)req->body,
		    req->body_len, res);
		if (r == KDC_ERR_INVALID_ARG)
			bad_request(resp, res);
		else if (r != KDC_OK)
			fail(resp, r, "patch");
		else
			resp->status = 204;
		kdc_free(res);
	}
}

/* ---- /search -------------------------------------------------------------- */

static void
hnd_jsonpath(void *arg, const struct kdc_http_req *req,
    struct kdc_http_resp *resp)
{
	struct kdc_tdd_face *f = arg;
	const struct who *w = req->auth;
	const char *q = kdc_http_arg(req, "query");
	char *json = NULL, why[256];
	size_t len = 0;
	kdc_err r;

	if (q == NULL || *q == '\0') {
		problem(resp, 400, "query is required (RFC 9535 JSONPath)");
		return;
	}
	r = kdc_tdd_search(f->tdd, &w->c, q, strlen(q), &json, &len, why,
	    sizeof(why));
	if (r == KDC_OK)
		(void)kdc_http_resp_set(resp, 200, APP_JSON, json, len);
	else if (r == KDC_ERR_INVALID_ARG || r == KDC_ERR_TOO_LARGE)
		problem(resp, 400, why[0] != '\0' ? why : NULL);
	else
		fail(resp, r, "search");
	kdc_free(json);
}

static void
hnd_unsupported(void *arg, const struct kdc_http_req *req,
    struct kdc_http_resp *resp)
{
	(void)arg;
	(void)req;
	problem(resp, 501, "this directory searches with JSONPath only "
	    "(/search/jsonpath); see its Thing Description");
}

/* ---- /events (SSE) ----------------------------------------------------------- */

struct stream {
	struct kdc_tdd_face	*f;
	struct kdc_tdd_sub	*sub;
	struct kdc_http_stream	*handle;
	pthread_mutex_t		 mu;
	char			*pend;
	size_t			 plen, ppos;
	int64_t			 device;
};

/* Called under the directory's lock (core/tdd.h), never after the
 * stream's done unsubscribed. */
static void
stream_wake(void *arg)
{
	struct stream *s = arg;

	pthread_mutex_lock(&s->mu);
	if (s->handle != NULL)
		kdc_http_stream_wake(s->handle);
	pthread_mutex_unlock(&s->mu);
}

static ssize_t
stream_pull(void *arg, char *buf, size_t max)
{
	struct stream *s = arg;
	ssize_t n;
	size_t k;

	if (s->ppos == s->plen) {
		s->ppos = s->plen = 0;
		if ((n = kdc_tdd_sub_read(s->f->tdd, s->sub, s->pend,
		    PEND_CAP)) < 0)
			return -1;
		if (n == 0)
			return 0;
		s->plen = (size_t)n;
	}
	k = s->plen - s->ppos < max ? s->plen - s->ppos : max;
	memcpy(buf, s->pend + s->ppos, k);
	s->ppos += k;
	return (ssize_t)k;
}

static void
stream_done(void *arg)
{
	struct stream *s = arg;

	pthread_mutex_lock(&s->mu);
	s->handle = NULL;
	pthread_mutex_unlock(&s->mu);
	kdc_tdd_unsubscribe(s->f->tdd, s->sub);
	pthread_mutex_lock(&s->f->mu);
	s->f->streams--;
	pthread_mutex_unlock(&s->f->mu);
	pthread_mutex_destroy(&s->mu);
	kdc_free(s->pend);
	kdc_free(s);
}

static void
hnd_events(void *arg, const struct kdc_http_req *req,
    struct kdc_http_resp *resp)
{
	struct kdc_tdd_face *f = arg;
	const struct who *w = req->auth;
	const char *type = tail(req, "/events/");
	const char *diff = kdc_http_arg(req, "diff");
	const char *lei = kdc_http_header(req, "Last-Event-ID");
	unsigned mask = KDC_TDD_EV_MASK_ALL;
	int64_t last = -1;
	struct stream *s;
	char *end;
	kdc_err r;

	if (type != NULL) {
		if (strcmp(type, "thing_created") == 0)
			mask = 1u << KDC_TDD_EV_CREATED;
		else if (strcmp(type, "thing_updated") == 0)
			mask = 1u << KDC_TDD_EV_UPDATED;
		else if (strcmp(type, "thing_deleted") == 0)
			mask = 1u << KDC_TDD_EV_DELETED;
		else {
			problem(resp, 404, "events are thing_created, "
			    "thing_updated, thing_deleted");
			return;
		}
	}
	if (diff != NULL && strcmp(diff, "true") != 0 &&
	    strcmp(diff, "false") != 0) {
		problem(resp, 400, "diff is true or false");
		return;
	}
	if (lei != NULL) {
		long long v = strtoll(lei, &end, 10);

		if (*lei == '\0' || *end != '\0' || v < 0) {
			problem(resp, 400, "Last-Event-ID is an id this "
			    "directory sent");
			return;
		}
		last = v;
	}
	pthread_mutex_lock(&f->mu);
	if (f->streams >= f->o.streams_max) {
		pthread_mutex_unlock(&f->mu);
		(void)kdc_http_resp_header(resp, "Retry-After", "10");
		problem(resp, 503, "too many event streams open");
		return;
	}
	f->streams++;
	pthread_mutex_unlock(&f->mu);
	if ((s = kdc_calloc(1, sizeof(*s))) == NULL ||
	    (s->pend = kdc_malloc(PEND_CAP)) == NULL) {
		kdc_free(s);
		goto nomem;
	}
	s->f = f;
	s->device = w->c.device;
	pthread_mutex_init(&s->mu, NULL);
	if ((r = kdc_tdd_subscribe(f->tdd, &w->c, mask, diff != NULL &&
	    strcmp(diff, "true") == 0, last, stream_wake, s, &s->sub)) !=
	    KDC_OK) {
		pthread_mutex_destroy(&s->mu);
		kdc_free(s->pend);
		kdc_free(s);
		goto nomem;
	}
	pthread_mutex_lock(&s->mu);
	r = kdc_http_resp_stream(resp, 200, SSE, stream_pull, stream_done, s,
	    &s->handle);
	pthread_mutex_unlock(&s->mu);
	if (r != KDC_OK) {
		kdc_tdd_unsubscribe(f->tdd, s->sub);
		pthread_mutex_destroy(&s->mu);
		kdc_free(s->pend);
		kdc_free(s);
		goto nomem;
	}
	return;
nomem:
	pthread_mutex_lock(&f->mu);
	f->streams--;
	pthread_mutex_unlock(&f->mu);
	problem(resp, 503, NULL);
}

/* ---- /consent ------------------------------------------------------------------ */

static void
hnd_consent(void *arg, const struct kdc_http_req *req,
    struct kdc_http_resp *resp)
{
	struct kdc_tdd_face *f = arg;
	const struct who *w = req->auth;
	const char *id = tail(req, "/consent/");
	struct kdc_tdd_consent k;
	char *json = NULL;
	size_t len = 0;
	json_t *j = NULL, *v;
	kdc_err r;

	if (id == NULL) {
		problem(resp, 404, NULL);
		return;
	}
	if (strcmp(req->method, "GET") == 0 ||
	    strcmp(req->method, "HEAD") == 0) {
		if ((r = kdc_tdd_consent_get(f->tdd, &w->c, id, &json, &len)) !=
		    KDC_OK)
			fail(resp, r, "consent");
		else
			(void)kdc_http_resp_set(resp, 200, APP_JSON, json, len);
		kdc_free(json);
		return;
	}
	if (strcmp(req->method, "DELETE") == 0) {
		/* withdrawn consent: the TD and its history go */
		if ((r = kdc_tdd_delete(f->tdd, &w->c, id)) != KDC_OK)
			fail(resp, r, "consent withdrawal");
		else
			resp->status = 204;
		return;
	}
	/* PUT {"purpose": S, "readers": [S...], "retention": N} */
	memset(&k, 0, sizeof(k));
	k.given = true;
	if (!ctype_is(req, APP_JSON) || (j = json_loadb((const char *)
	    req->body, req->body_len, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    !json_is_object(j)) {
		problem(resp, 400, "consent is an application/json object "
		    "{purpose, readers, retention}");
		goto out;
	}
	v = json_object_get(j, "purpose");
	if (!json_is_string(v) || json_string_length(v) >= sizeof(k.purpose)) {
		problem(resp, 400, "purpose is a string");
		goto out;
	}
	snprintf(k.purpose, sizeof(k.purpose), "%s", json_string_value(v));
	if ((v = json_object_get(j, "readers")) != NULL) {
		size_t i, o = 0;
		json_t *e;

		if (!json_is_array(v)) {
			problem(resp, 400, "readers is an array of strings");
			goto out;
		}
		json_array_foreach(v, i, e) {
			if (!json_is_string(e) || o + json_string_length(e) +
			    2 > sizeof(k.readers) ||
			    strchr(json_string_value(e), ' ') != NULL) {
				problem(resp, 400, "readers is an array of "
				    "principal ids and group:NAME");
				goto out;
			}
			o += (size_t)snprintf(k.readers + o,
			    sizeof(k.readers) - o, "%s%s", o ? " " : "",
			    json_string_value(e));
		}
	}
	if ((v = json_object_get(j, "retention")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) <= 0) {
			problem(resp, 400, "retention is seconds > 0");
			goto out;
		}
		k.retention = json_integer_value(v);
	}
	if ((r = kdc_tdd_consent_set(f->tdd, &w->c, id, &k)) != KDC_OK)
		fail(resp, r, "consent");
	else
		resp->status = 204;
out:
	json_decref(j);
}

/* ---- introduction ------------------------------------------------------------- */

static void
hnd_wellknown(void *arg, const struct kdc_http_req *req,
    struct kdc_http_resp *resp)
{
	struct kdc_tdd_face *f = arg;

	(void)req;
	(void)kdc_http_resp_set(resp, 200, TD_JSON, f->td, f->td_len);
}

/* The directory's own TD, from the W3C Thing Model's affordances
 * (WoT Discovery §7.3.2.4), made to validate against the TD 1.1 schema
 * and to be consumed by node-wot (docs/traps.md). */
static char *
own_td(const char *base)
{
	static const char fmt[] =
	"{\"@context\":[\"https://www.w3.org/2022/wot/td/v1.1\","
	"\"https://www.w3.org/2022/wot/discovery\"],"
	"\"@type\":\"ThingDirectory\","
	"\"id\":\"urn:iotkdc:directory\","
	"\"title\":\"iotkdc Thing Directory\","
	"\"description\":\"W3C WoT Discovery directory of an iotkdc Key "
	"Distribution Center. Thing Descriptions are personal data: every "
	"request but this one needs a TLS client certificate issued by "
	"this KDC's CA; each TD is readable by its owner and the readers "
	"its owner consented to. Search: JSONPath (RFC 9535) only; XPath "
	"and SPARQL answer 501.\","
	"\"base\":\"%s/\","
	"\"securityDefinitions\":{\"mtls_sc\":{\"scheme\":\"auto\","
	"\"description\":\"mutual TLS: a client certificate issued by "
	"this KDC (iotkdc user cert, or a device's EST certificate)\"}},"
	"\"security\":\"mtls_sc\","
	"\"properties\":{\"things\":{\"description\":\"The TDs the caller "
	"may read, ordered by id\",\"type\":\"array\",\"readOnly\":true,"
	"\"uriVariables\":{\"offset\":{\"type\":\"integer\",\"minimum\":0},"
	"\"limit\":{\"type\":\"integer\",\"minimum\":1},"
	"\"format\":{\"type\":\"string\",\"enum\":[\"array\","
	"\"collection\"]}},"
	"\"forms\":[{\"href\":\"things{?offset,limit,format}\","
	"\"htv:methodName\":\"GET\",\"contentType\":\"application/ld+json\","
	"\"op\":\"readproperty\"}]}},"
	"\"actions\":{"
	"\"createThing\":{\"uriVariables\":{\"id\":{\"type\":\"string\"}},"
	"\"input\":{\"type\":\"object\"},\"forms\":[{\"href\":"
	"\"things/{id}\",\"htv:methodName\":\"PUT\",\"contentType\":"
	"\"application/td+json\"}]},"
	"\"createAnonymousThing\":{\"input\":{\"type\":\"object\"},"
	"\"forms\":[{\"href\":\"things\",\"htv:methodName\":\"POST\","
	"\"contentType\":\"application/td+json\"}]},"
	"\"retrieveThing\":{\"uriVariables\":{\"id\":{\"type\":\"string\"}},"
	"\"output\":{\"type\":\"object\"},\"safe\":true,\"idempotent\":true,"
	"\"forms\":[{\"href\":\"things/{id}\",\"htv:methodName\":\"GET\","
	"\"contentType\":\"application/td+json\"}]},"
	"\"updateThing\":{\"uriVariables\":{\"id\":{\"type\":\"string\"}},"
	"\"input\":{\"type\":\"object\"},\"forms\":[{\"href\":"
	"\"things/{id}\",\"htv:methodName\":\"PUT\",\"contentType\":"
	"\"application/td+json\"}]},"
	"\"partiallyUpdateThing\":{\"uriVariables\":{\"id\":{\"type\":"
	"\"string\"}},\"input\":{\"type\":\"object\"},\"forms\":[{\"href\":"
	"\"things/{id}\",\"htv:methodName\":\"PATCH\",\"contentType\":"
	"\"application/merge-patch+json\"}]},"
	"\"deleteThing\":{\"uriVariables\":{\"id\":{\"type\":\"string\"}},"
	"\"idempotent\":true,\"forms\":[{\"href\":\"things/{id}\","
	"\"htv:methodName\":\"DELETE\"}]},"
	"\"searchJSONPath\":{\"description\":\"RFC 9535 JSONPath over the "
	"array of the TDs the caller may read\",\"uriVariables\":{\"query\":"
	"{\"type\":\"string\"}},\"output\":{\"type\":\"array\"},"
	"\"safe\":true,\"idempotent\":true,\"forms\":[{\"href\":"
	"\"search/jsonpath{?query}\",\"htv:methodName\":\"GET\","
	"\"contentType\":\"application/json\"}]},"
	"\"searchXPath\":{\"description\":\"not supported: answers 501\","
	"\"uriVariables\":{\"query\":{\"type\":\"string\"}},\"safe\":true,"
	"\"idempotent\":true,\"forms\":[{\"href\":\"search/xpath{?query}\","
	"\"htv:methodName\":\"GET\"}]},"
	"\"searchSPARQL\":{\"description\":\"not supported: answers 501\","
	"\"uriVariables\":{\"query\":{\"type\":\"string\"}},\"safe\":true,"
	"\"idempotent\":true,\"forms\":[{\"href\":\"search/sparql{?query}\","
	"\"htv:methodName\":\"GET\"}]}},"
	"\"events\":{"
	"\"thingCreated\":{\"uriVariables\":{\"diff\":{\"type\":\"boolean\"}},"
	"\"data\":{\"type\":\"object\"},\"forms\":[{\"op\":\"subscribeevent\","
	"\"href\":\"events/thing_created{?diff}\",\"subprotocol\":\"sse\","
	"\"contentType\":\"text/event-stream\"}]},"
	"\"thingUpdated\":{\"uriVariables\":{\"diff\":{\"type\":\"boolean\"}},"
	"\"data\":{\"type\":\"object\"},\"forms\":[{\"op\":\"subscribeevent\","
	"\"href\":\"events/thing_updated{?diff}\",\"subprotocol\":\"sse\","
	"\"contentType\":\"text/event-stream\"}]},"
	"\"thingDeleted\":{\"data\":{\"type\":\"object\"},\"forms\":[{\"op\":"
	"\"subscribeevent\",\"href\":\"events/thing_deleted\","
	"\"subprotocol\":\"sse\",\"contentType\":\"text/event-stream\"}]}}}";
	size_t n = sizeof(fmt) + strlen(base) + 1;
	char *s;

	if ((s = kdc_malloc(n)) == NULL)
		return NULL;
	snprintf(s, n, fmt, base);
	return s;
}

const char *
kdc_tdd_face_td(const struct kdc_tdd_face *f)
{
	return f->td;
}

kdc_err
kdc_tdd_face_new(struct kdc_http *h, struct kdc_core *core,
    struct kdc_tdd *tdd, const struct kdc_tdd_face_opts *o,
    struct kdc_tdd_face **out)
{
	static const char *const gated[] = {
		"/things", "/search", "/events", "/consent"
	};
	struct kdc_tdd_face *f;
	kdc_err r;

	*out = NULL;
	if ((f = kdc_calloc(1, sizeof(*f))) == NULL)
		return KDC_ERR_NOMEM;
	f->core = core;
	f->tdd = tdd;
	f->o = *o;
	if (f->o.streams_max == 0)
		f->o.streams_max = 64;
	pthread_mutex_init(&f->mu, NULL);
	if ((f->td = own_td(o->base)) == NULL) {
		kdc_tdd_face_free(f);
		return KDC_ERR_NOMEM;
	}
	f->td_len = strlen(f->td);
	for (size_t i = 0; i < sizeof(gated) / sizeof(gated[0]); i++)
		if ((r = kdc_http_gate(h, gated[i], gate, who_free, f)) !=
		    KDC_OK)
			goto fail;
	if ((r = kdc_http_route(h, "GET", "/.well-known/wot", hnd_wellknown,
	    f)) != KDC_OK ||
	    (r = kdc_http_route(h, "GET", "/things", hnd_things, f)) !=
	    KDC_OK ||
	    (r = kdc_http_route(h, "POST", "/things", hnd_things, f)) !=
	    KDC_OK ||
	    (r = kdc_http_route(h, "GET", "/things/*", hnd_thing, f)) !=
	    KDC_OK ||
	    (r = kdc_http_route(h, "PUT", "/things/*", hnd_thing, f)) !=
	    KDC_OK ||
	    (r = kdc_http_route(h, "PATCH", "/things/*", hnd_thing, f)) !=
	    KDC_OK ||
	    (r = kdc_http_route(h, "DELETE", "/things/*", hnd_thing, f)) !=
	    KDC_OK ||
	    (r = kdc_http_route(h, "GET", "/search/jsonpath", hnd_jsonpath,
	    f)) != KDC_OK ||
	    (r = kdc_http_route(h, "GET", "/search/xpath", hnd_unsupported,
	    f)) != KDC_OK ||
	    (r = kdc_http_route(h, "GET", "/search/sparql", hnd_unsupported,
	    f)) != KDC_OK ||
	    (r = kdc_http_route(h, "POST", "/search/sparql", hnd_unsupported,
	    f)) != KDC_OK ||
	    (r = kdc_http_route(h, "GET", "/events", hnd_events, f)) !=
	    KDC_OK ||
	    (r = kdc_http_route(h, "GET", "/events/*", hnd_events, f)) !=
	    KDC_OK ||
	    (r = kdc_http_route(h, "GET", "/consent/*", hnd_consent, f)) !=
	    KDC_OK ||
	    (r = kdc_http_route(h, "PUT", "/consent/*", hnd_consent, f)) !=
	    KDC_OK ||
	    (r = kdc_http_route(h, "DELETE", "/consent/*", hnd_consent, f)) !=
	    KDC_OK)
		goto fail;
	*out = f;
	return KDC_OK;
fail:
	kdc_tdd_face_free(f);
	return r;
}

void
kdc_tdd_face_free(struct kdc_tdd_face *f)
{
	if (f == NULL)
		return;
	kdc_free(f->td);
	pthread_mutex_destroy(&f->mu);
	kdc_free(f);
}
