/*
 * lint.c: the TD security lint (see lint.h). A form's security becomes a
 * small list of alternatives, each a set of scheme kinds with flags; the
 * rules are checks on that list against the form's URI scheme and host.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tdd/lint.h"

enum {
	S_NOSEC = 1u << 0, S_BASIC = 1u << 1, S_DIGEST = 1u << 2,
	S_BEARER = 1u << 3, S_PSK = 1u << 4, S_OAUTH2 = 1u << 5,
	S_APIKEY = 1u << 6, S_OTHER = 1u << 7,
	F_OAUTH2_DEPRECATED = 1u << 16, F_APIKEY_QUERY = 1u << 17,
};
#define S_CREDS	(S_BASIC | S_DIGEST | S_BEARER | S_APIKEY | S_OAUTH2)
#define S_ALL	0xffffu

struct alts {
	uint32_t	a[KDC_LINT_ALTS];
	size_t		n;
};

struct lint {
	const json_t	*td, *defs;
	struct kdc_lint	*out;
	size_t		 max, n;
	int		 work;		/* definition lookups left (KDC_LINT_WORK) */
	bool		 more;
};

static const char *
str_of(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}


static void resolve_list(const json_t *defs, const json_t *names, int depth,
    struct alts *out, int *work);

/* The alternatives of one security definition name. */
static void
resolve_name(const json_t *defs, const char *name, int depth, struct alts *out,
    int *work)
{
	const json_t *d = json_object_get(defs, name), *v;
	const char *scheme, *s;
	uint32_t m;
	size_t i;

	out->n = 0;
	if (--*work < 0 || !json_is_object(d) || (scheme = str_of(d, "scheme")) == NULL)
		return;
	if (strcmp(scheme, "combo") == 0) {
		if (depth >= KDC_LINT_COMBO_DEPTH)
			return;
		if ((v = json_object_get(d, "allOf")) != NULL) {
			resolve_list(defs, v, depth + 1, out, work);
			return;
		}
		if (json_is_array(v = json_object_get(d, "oneOf"))) {
			json_t *e;

			json_array_foreach(v, i, e) {
				struct alts one;
				size_t k;

				if (!json_is_string(e))
					continue;
				resolve_name(defs, json_string_value(e), depth + 1, &one, work);
				for (k = 0; k < one.n && out->n < KDC_LINT_ALTS; k++)
					out->a[out->n++] = one.a[k];
			}
		}
		return;
	}
	if (strcmp(scheme, "nosec") == 0)
		m = S_NOSEC;
	else if (strcmp(scheme, "basic") == 0)
		m = S_BASIC;
	else if (strcmp(scheme, "digest") == 0)
		m = S_DIGEST;
	else if (strcmp(scheme, "bearer") == 0)
		m = S_BEARER;
	else if (strcmp(scheme, "psk") == 0)
		m = S_PSK;
	else if (strcmp(scheme, "oauth2") == 0) {
		m = S_OAUTH2;
		s = str_of(d, "flow");
		if (s != NULL && (strcmp(s, "implicit") == 0 || strcmp(s, "password") == 0))
			m |= F_OAUTH2_DEPRECATED;
	} else if (strcmp(scheme, "apikey") == 0) {
		m = S_APIKEY;
		s = str_of(d, "in");
		if (s != NULL && strcmp(s, "query") == 0)
			m |= F_APIKEY_QUERY;
	} else
		m = S_OTHER;
	out->a[0] = m;
	out->n = 1;
}

/* names: a string or an array of strings, all required (a conjunction). */
static void
resolve_list(const json_t *defs, const json_t *names, int depth, struct alts *out,
    int *work)
{
	struct alts acc, one, next;
	const json_t *e;
	size_t i, j, k;

	out->n = 0;
	if (json_is_string(names)) {
		resolve_name(defs, json_string_value(names), depth, out, work);
		return;
	}
	if (!json_is_array(names) || json_array_size(names) == 0)
		return;
	acc.n = 1;
	acc.a[0] = 0;
	for (i = 0; i < json_array_size(names); i++) {
		e = json_array_get(names, i);
		if (!json_is_string(e))
			continue;
		resolve_name(defs, json_string_value(e), depth, &one, work);
		if (one.n == 0)
			continue;	/* unresolved: TD validation's business */
		next.n = 0;
		for (j = 0; j < acc.n; j++)
			for (k = 0; k < one.n && next.n < KDC_LINT_ALTS; k++)
				next.a[next.n++] = acc.a[j] | one.a[k];
		acc = next;
	}
	if (acc.n == 1 && acc.a[0] == 0)
		return;
	*out = acc;
}

/* RFC 3986 scheme of s (lowercased into buf), or false. */
static bool
uri_scheme(const char *s, char *buf, size_t len)
{
	size_t i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (i = 0; s[i] != '\0' && s[i] != ':'; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
			return false;
		if (i + 1 >= len)
			return false;
		buf[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	if (s[i] != ':')
		return false;
	buf[i] = '\0';
	return true;
}

/* The host of the authority after "//" at s (into buf), or false. */
static bool
uri_host(const char *s, char *buf, size_t len)
{
	const char *a, *end, *at, *h, *he;
	size_t n;

	if ((a = strstr(s, "//")) == NULL)
		return false;
	a += 2;
	end = a + strcspn(a, "/?#");
	for (at = NULL, h = a; h < end; h++)
		if (*h == '@')
			at = h;
	h = at != NULL ? at + 1 : a;
	if (*h == '[') {
		h++;
		if ((he = memchr(h, ']', (size_t)(end - h))) == NULL)
			return false;
	} else {
		he = memchr(h, ':', (size_t)(end - h));
		if (he == NULL)
			he = end;
	}
	n = (size_t)(he - h);
	if (n == 0 || n >= len)
		return false;
	memcpy(buf, h, n);
	buf[n] = '\0';
	return true;
}

/* Loopback, link-local, RFC 1918 / ULA private, or a .local name. */
static bool
host_is_local(char *host)
{
	uint8_t a[16];
	size_t n;
	char *pct;

	if ((pct = strchr(host, '%')) != NULL)
		*pct = '\0';	/* an IPv6 zone */
	n = strlen(host);
	if (n > 0 && host[n - 1] == '.')
		host[--n] = '\0';
	if (strcasecmp(host, "localhost") == 0 ||
	    (n > 10 && strcasecmp(host + n - 10, ".localhost") == 0) ||
	    (n > 6 && strcasecmp(host + n - 6, ".local") == 0))
		return true;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127 || a[0] == 10 || (a[0] == 169 && a[1] == 254) ||
		    (a[0] == 172 && (a[1] & 0xf0) == 16) ||
		    (a[0] == 192 && a[1] == 168);
	if (inet_pton(AF_INET6, host, a) == 1) {
		static const uint8_t lo[16] = { [15] = 1 };

		return memcmp(a, lo, 16) == 0 || (a[0] & 0xfe) == 0xfc ||
		    (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
	}
	return false;
}

static void
add(struct lint *l, const char *rule, const char *field, const char *desc)
{
	struct kdc_lint *f;

	if (l->n >= l->max) {
		l->more = true;
		return;
	}
	f = &l->out[l->n++];
	snprintf(f->rule, sizeof(f->rule), "%s", rule);
	snprintf(f->field, sizeof(f->field), "%s", field);
	snprintf(f->description, sizeof(f->description), "%s", desc);
}

static const char *
cred_names(uint32_t m, char *buf, size_t len)
{
	static const struct {
		uint32_t	 bit;
		const char	*name;
	} names[] = {
		{ S_BASIC, "basic" }, { S_DIGEST, "digest" }, { S_BEARER, "bearer" },
		{ S_APIKEY, "apikey" }, { S_OAUTH2, "oauth2" },
	};
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((m & names[i].bit) && o < len)
			o += (size_t)snprintf(buf + o, len - o, "%s%s",
			    o ? ", " : "", names[i].name);
	return buf;
}

static void
lint_form(struct lint *l, const json_t *form, const char *field)
{
	const json_t *sec;
	const char *href, *base;
	char scheme[24], host[256], names[64], desc[200];
	struct alts alts;
	uint32_t any = 0;
	size_t i;
	bool have_scheme = false, have_host = false, plain, coap_plain;

	if (!json_is_object(form))
		return;
	sec = json_object_get(form, "security");
	if (sec == NULL)
		sec = json_object_get(l->td, "security");
	resolve_list(l->defs, sec, 0, &alts, &l->work);
	if (l->work < 0) {
		l->more = true;	/* stopped by the work bound */
		return;
	}
	if (alts.n == 0)
		return;
	for (i = 0; i < alts.n; i++)
		any |= alts.a[i];

	href = str_of(form, "href");
	base = str_of(l->td, "base");
	if (href != NULL && uri_scheme(href, scheme, sizeof(scheme))) {
		have_scheme = true;
		have_host = uri_host(href, host, sizeof(host));
	} else if (href != NULL && base != NULL &&
	    uri_scheme(base, scheme, sizeof(scheme))) {
		have_scheme = true;
		/* a network-path reference brings its own host (RFC 3986 §5.2.2) */
		have_host = strncmp(href, "//", 2) == 0 ?
		    uri_host(href, host, sizeof(host)) : uri_host(base, host, sizeof(host));
	}

	if (have_scheme) {
		coap_plain = strcmp(scheme, "coap") == 0 ||
		    strcmp(scheme, "coap+tcp") == 0 || strcmp(scheme, "coap+ws") == 0;
		plain = coap_plain || strcmp(scheme, "http") == 0 ||
		    strcmp(scheme, "ws") == 0 || strcmp(scheme, "mqtt") == 0;
		if (plain && (any & S_CREDS)) {
			snprintf(desc, sizeof(desc), "%s credentials would travel over "
			    "%s: without TLS; use its TLS variant",
			    cred_names(any, names, sizeof(names)), scheme);
			add(l, "cleartext-credentials", field, desc);
		}
		if (coap_plain && (any & S_PSK)) {
			snprintf(desc, sizeof(desc), "psk over %s: without DTLS/TLS; "
			    "use coaps", scheme);
			add(l, "psk-without-dtls", field, desc);
		}
		if (strcmp(scheme, "mqtts") == 0)
			for (i = 0; i < alts.n; i++)
				if ((alts.a[i] & (S_BASIC | S_PSK)) != (S_BASIC | S_PSK)) {
					add(l, "mqtt-needs-basic-and-psk", field,
					    "the WoT Security Best Practices recommend "
					    "MQTTS with basic AND psk");
					break;
				}
	}
	if (have_host && !host_is_local(host))
		for (i = 0; i < alts.n; i++)
			if ((alts.a[i] & S_ALL) == S_NOSEC) {
				add(l, "nosec-remote", field, "nosec on a host that is "
				    "not loopback, link-local, private or .local");
				break;
			}
	if (any & F_OAUTH2_DEPRECATED)
		add(l, "deprecated-oauth2-flow", field, "oauth2 flow implicit or "
		    "password is deprecated; use code (with PKCE), client or device");
	if (any & F_APIKEY_QUERY)
		add(l, "apikey-in-query", field, "apikey in the query: credentials "
		    "end up in logs; use a header");
}

/* Copy a TD name into a field, control bytes as '?'. */
static void
field_name(char *dst, size_t len, const char *aff, const char *name, size_t i)
{
	char clean[160];
	size_t k;

	snprintf(clean, sizeof(clean), "%s", name);
	for (k = 0; clean[k] != '\0'; k++)
		if ((unsigned char)clean[k] < 0x20 || clean[k] == 0x7f)
			clean[k] = '?';
	snprintf(dst, len, "%s.%.*s.forms.%zu", aff,
	    (int)(len > 32 ? len - 32 : 1), clean, i);
}

size_t
kdc_td_lint(const json_t *td, struct kdc_lint *out, size_t max, bool *more)
{
	static const char *const affs[] = { "properties", "actions", "events" };
	struct lint l;
	json_t *forms, *form, *aff, *m;
	const char *name;
	char field[160];
	size_t i, k;

	memset(&l, 0, sizeof(l));
	l.td = td;
	l.out = out;
	l.max = max;
	l.work = KDC_LINT_WORK;
	if (json_is_object(td)) {
		l.defs = json_object_get(td, "securityDefinitions");
		forms = json_object_get(td, "forms");
		json_array_foreach(forms, i, form) {
			snprintf(field, sizeof(field), "forms.%zu", i);
			lint_form(&l, form, field);
		}
		for (k = 0; k < 3; k++) {
			aff = json_object_get(td, affs[k]);
			if (!json_is_object(aff))
				continue;
			json_object_foreach(aff, name, m) {
				forms = json_object_get(m, "forms");
				json_array_foreach(forms, i, form) {
					field_name(field, sizeof(field), affs[k], name, i);
					lint_form(&l, form, field);
				}
			}
		}
	}
	if (more != NULL)
		*more = l.more;
	return l.n;
}
