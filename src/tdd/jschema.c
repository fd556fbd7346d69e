/*
 * jschema.c: JSON Schema draft-07 validation (see jschema.h for the
 * keywords). Compile turns each schema object into a struct node (memoized
 * by the jansson value it came from, so $ref cycles close on themselves);
 * validate walks nodes and document together with a depth and a work
 * budget.
 */
#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "tdd/jfree.h"
#include "tdd/jschema.h"

/* Compile recursion (schema nesting, ref chains included). */
#define COMPILE_DEPTH_MAX	256

enum {
	T_NULL = 1, T_BOOL = 2, T_OBJ = 4, T_ARR = 8, T_NUM = 16, T_STR = 32,
	T_INT = 64
};

struct node;

struct prop {
	const char	*name;
	struct node	*n;
};

struct pprop {
	regex_t		 re;
	struct node	*n;
};

struct dep {
	const char	*name;
	struct node	*schema;	/* schema form, or NULL */
	const json_t	*req;		/* array form, or NULL */
};

struct node {
	int		 bool_schema;	/* -1 object schema, 0 false, 1 true */
	struct node	*ref;
	unsigned	 types;
	const json_t	*enum_;
	const json_t	*const_;
	struct prop	*props;
	size_t		 nprops;
	const json_t	*props_obj;
	struct pprop	*pprops;
	size_t		 npprops;
	struct node	*addprops;
	const json_t	*required;
	long long	 min_props, max_props;
	struct dep	*deps;
	size_t		 ndeps;
	struct node	*propnames;
	struct node	*items;
	struct node	**items_arr;
	size_t		 nitems_arr;
	bool		 items_array;
	struct node	*additems;
	struct node	*contains;
	long long	 min_items, max_items, min_len, max_len;
	bool		 unique;
	regex_t		*pattern;
	const char	*pattern_src;
	bool		 has_min, has_max, has_xmin, has_xmax, has_mult;
	double		 min, max, xmin, xmax, mult;
	struct node	**allof, **anyof, **oneof;
	size_t		 nallof, nanyof, noneof;
	struct node	*not_, *if_, *then_, *else_;
};

struct memo {
	const json_t	*src;
	struct node	*n;
};

struct kdc_jschema {
	json_t		*root;
	const char	*root_id;	/* root $id without fragment, or NULL */
	size_t		 root_id_len;
	struct node	*top;
	struct node	**all;
	size_t		 nall, capall;
	struct memo	*memo;		/* open addressing on src */
	size_t		 capmemo;
};

struct cctx {
	struct kdc_jschema	*s;
	char			*why;
	size_t			 whylen;
	int			 depth;
};

static const char *refused[] = {
	"$recursiveRef", "$recursiveAnchor", "$dynamicRef", "$dynamicAnchor",
	"$anchor", "unevaluatedProperties", "unevaluatedItems",
	"dependentRequired", "dependentSchemas", "prefixItems", "minContains",
	"maxContains", "disallow", "extends", "divisibleBy", NULL
};

static kdc_err
cfail(struct cctx *cc, kdc_err r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static kdc_err
cfail(struct cctx *cc, kdc_err r, const char *fmt, ...)
{
	va_list ap;

	if (cc->why != NULL && cc->whylen > 0 && cc->why[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(cc->why, cc->whylen, fmt, ap);
		va_end(ap);
	}
	return r;
}

static size_t
ptr_hash(const void *p, size_t cap)
{
	uintptr_t v = (uintptr_t)p;

	v ^= v >> 17;
	v *= (uintptr_t)0x9e3779b97f4a7c15ULL;
	v ^= v >> 29;
	return (size_t)v & (cap - 1);
}

static struct node *
memo_get(const struct kdc_jschema *s, const json_t *j)
{
	size_t i;

	if (s->capmemo == 0)
		return NULL;
	for (i = ptr_hash(j, s->capmemo); s->memo[i].src != NULL;
	    i = (i + 1) & (s->capmemo - 1))
		if (s->memo[i].src == j)
			return s->memo[i].n;
	return NULL;
}

static kdc_err
memo_put(struct kdc_jschema *s, const json_t *j, struct node *n)
{
	size_t i;

	if ((s->nall + 1) * 2 > s->capmemo) {
		size_t cap = s->capmemo ? s->capmemo * 2 : 256, k;
		struct memo *m = kdc_calloc(cap, sizeof(*m));

		if (m == NULL)
			return KDC_ERR_NOMEM;
		for (k = 0; k < s->capmemo; k++) {
			if (s->memo[k].src == NULL)
				continue;
			for (i = ptr_hash(s->memo[k].src, cap); m[i].src != NULL;
			    i = (i + 1) & (cap - 1))
				;
			m[i] = s->memo[k];
		}
		kdc_free(s->memo);
		s->memo = m;
		s->capmemo = cap;
	}
	for (i = ptr_hash(j, s->capmemo); s->memo[i].src != NULL;
	    i = (i + 1) & (s->capmemo - 1))
		;
	s->memo[i].src = j;
	s->memo[i].n = n;
	return KDC_OK;
}

/*
 * ECMA-262 regex -> POSIX ERE. Translates the class escapes and escaped
 * punctuation, "(?:" to "("; refuses what ERE cannot express.
 */
static kdc_err
re_translate(struct cctx *cc, const char *src, size_t len, char **out)
{
	char *d, *p;
	size_t i;
	bool in_class = false;

	*out = NULL;
	if (strlen(src) != len)
		return cfail(cc, KDC_ERR_MALFORMED, "pattern contains NUL");
	if ((d = kdc_malloc(len * 14 + 1)) == NULL)
		return KDC_ERR_NOMEM;
	p = d;
	for (i = 0; i < len; i++) {
		char c = src[i];

		if (c == '\\') {
			char e;

			if (++i >= len)
				goto bad_end;
			e = src[i];
			switch (e) {
			case 'd':
				p += sprintf(p, in_class ? "0-9" : "[0-9]");
				continue;
			case 'w':
				p += sprintf(p, in_class ? "A-Za-z0-9_" :
				    "[A-Za-z0-9_]");
				continue;
			case 's':
				p += sprintf(p, in_class ? "[:space:]" :
				    "[[:space:]]");
				continue;
			case 'D': case 'W': case 'S':
				if (in_class)
					goto unsup_esc;
				p += sprintf(p, e == 'D' ? "[^0-9]" : e == 'W' ?
				    "[^A-Za-z0-9_]" : "[^[:space:]]");
				continue;
			case 'n': *p++ = '\n'; continue;
			case 't': *p++ = '\t'; continue;
			case 'r': *p++ = '\r'; continue;
			case 'f': *p++ = '\f'; continue;
			case 'v': *p++ = '\v'; continue;
			default:
				break;
			}
			if (strchr(".^$|?*+()[]{}\\", e) != NULL) {
				if (in_class) {
					/* no escapes inside a POSIX bracket */
					if (e == ']' || e == '\\' || e == '^')
						goto unsup_esc;
					*p++ = e;
				} else {
					*p++ = '\\';
					*p++ = e;
				}
				continue;
			}
			if (e == '/' || e == '-' || e == ':' || e == ',' ||
			    e == '\'' || e == '"' || e == '#' || e == ' ' ||
			    e == '=' || e == '!' || e == '<' || e == '>' ||
			    e == '@' || e == '%' || e == '&' || e == '~') {
				if (in_class && e == '-')
					goto unsup_esc;
				*p++ = e;
				continue;
			}
unsup_esc:
			kdc_free(d);
			return cfail(cc, KDC_ERR_UNSUPPORTED,
			    "pattern escape \\%c (ECMA-262 only) in \"%.80s\"",
			    e, src);
		}
		if (in_class) {
			if (c == ']')
				in_class = false;
			else if (c == '[' && i + 1 < len && (src[i + 1] == ':' ||
			    src[i + 1] == '.' || src[i + 1] == '=')) {
				/* "[:alpha:]" is a POSIX class, three chars in
				 * ECMA-262 */
				kdc_free(d);
				return cfail(cc, KDC_ERR_UNSUPPORTED, "pattern "
				    "\"[%c\" inside a class (POSIX syntax) in "
				    "\"%.80s\"", src[i + 1], src);
			}
			*p++ = c;
			continue;
		}
		if (c == '[') {
			in_class = true;
			*p++ = c;
			if (i + 1 < len && src[i + 1] == '^')
				*p++ = src[++i];
			if (i + 1 < len && src[i + 1] == ']') {
				/* ECMA-262 "[]" matches nothing and "[^]"
				 * anything; POSIX reads a literal ']' */
				kdc_free(d);
				return cfail(cc, KDC_ERR_UNSUPPORTED, "pattern "
				    "empty class \"[]\" or \"[^]\" in "
				    "\"%.80s\"", src);
			}
			continue;
		}
		if (c == '(' && i + 1 < len && src[i + 1] == '?') {
			if (i + 2 < len && src[i + 2] == ':') {
				*p++ = '(';
				i += 2;
				continue;
			}
			kdc_free(d);
			return cfail(cc, KDC_ERR_UNSUPPORTED,
			    "pattern group \"(?\" (lookaround, ECMA-262 only) "
			    "in \"%.80s\"", src);
		}
		if ((c == '*' || c == '+' || c == '?' || c == '}') &&
		    i + 1 < len && src[i + 1] == '?') {
			kdc_free(d);
			return cfail(cc, KDC_ERR_UNSUPPORTED,
			    "pattern lazy quantifier (ECMA-262 only) in "
			    "\"%.80s\"", src);
		}
		*p++ = c;
	}
	if (in_class) {
bad_end:
		kdc_free(d);
		return cfail(cc, KDC_ERR_MALFORMED, "pattern \"%.80s\" ends "
		    "early", src);
	}
	*p = '\0';
	*out = d;
	return KDC_OK;
}

/*
 * glibc's regcomp() copies a subexpression once per repetition it unrolls
 * ("x{n,m}" m times, "x+" as "xx*"), nested: "((a{99}){99}){99}" or a
 * pile of "+" (fuzz_jschema found "m++++...") grows its tree exponentially
 * (docs/traps.md). Estimate the atoms regcomp will build from the ERE and
 * refuse above RE_COST_MAX; refuse stacked quantifiers ("a++", "a*{2}"),
 * a syntax error in ECMA-262 anyway, and counts above RE_COUNT_MAX.
 */
#define RE_COST_MAX		10000
#define RE_COUNT_MAX		1000
#define RE_GROUP_DEPTH_MAX	32

static long
re_cost(const char **pp, int depth, const char **bad)
{
	const char *p = *pp;
	long total = 0;

	if (depth > RE_GROUP_DEPTH_MAX) {
		*bad = "groups nested too deep";
		return 0;
	}
	while (*p != '\0' && *p != ')' && *bad == NULL) {
		long atom = 1;
		int nq = 0;

		if (*p == '|') {
			p++;
			continue;
		}
		if (*p == '(') {
			p++;
			atom += re_cost(&p, depth + 1, bad);
			if (*p == ')')
				p++;
		} else if (*p == '[') {
			p++;
			if (*p == '^')
				p++;
			if (*p == ']')
				p++;
			while (*p != '\0' && *p != ']') {
				if (p[0] == '[' && p[1] == ':') {
					const char *e = strstr(p + 2, ":]");

					p = e != NULL ? e + 2 : p + 2;
				} else
					p++;
			}
			if (*p == ']')
				p++;
		} else if (*p == '\\' && p[1] != '\0')
			p += 2;
		else
			p++;
		while (*bad == NULL && (*p == '*' || *p == '+' || *p == '?' ||
		    *p == '{')) {
			long n = 0, m;

			if (++nq > 1) {
				*bad = "stacked quantifiers";
				break;
			}
			if (*p != '{') {
				atom *= *p == '+' ? 2 : 1;
				p++;
				continue;
			}
			for (p++; isdigit((unsigned char)*p) && n <= RE_COUNT_MAX;
			    p++)
				n = n * 10 + (*p - '0');
			m = n + 1;
			if (*p == ',') {
				for (p++, m = isdigit((unsigned char)*p) ? 0 :
				    n + 1; isdigit((unsigned char)*p) &&
				    m <= RE_COUNT_MAX; p++)
					m = m * 10 + (*p - '0');
			}
			if (n > RE_COUNT_MAX || m > RE_COUNT_MAX)
				*bad = "a repetition count above 1000";
			atom *= m > n ? m : n;
			if (*p == '}')
				p++;
		}
		total += atom;
		if (total > RE_COST_MAX && *bad == NULL)
			*bad = "too complex for regcomp (repetitions unroll "
			    "past 10000 atoms)";
	}
	*pp = p;
	return total;
}

static kdc_err
re_check_cost(struct cctx *cc, const char *ere, const char *src)
{
	const char *p = ere, *bad = NULL;
	long total = 0;

	while (*p != '\0' && bad == NULL) {
		total += re_cost(&p, 0, &bad);
		if (*p == ')')
			p++;
		if (total > RE_COST_MAX && bad == NULL)
			bad = "too complex for regcomp";
	}
	if (bad == NULL)
		return KDC_OK;
	return cfail(cc, strncmp(bad, "stacked", 7) == 0 ? KDC_ERR_MALFORMED :
	    KDC_ERR_TOO_LARGE, "pattern \"%.80s\": %s", src, bad);
}

static kdc_err
re_compile(struct cctx *cc, const json_t *j, regex_t *re)
{
	char *ere = NULL, msg[128];
	kdc_err r;
	int rc;

	if (!json_is_string(j))
		return cfail(cc, KDC_ERR_MALFORMED, "pattern is not a string");
	if ((r = re_translate(cc, json_string_value(j), json_string_length(j),
	    &ere)) != KDC_OK)
		return r;
	if ((r = re_check_cost(cc, ere, json_string_value(j))) != KDC_OK) {
		kdc_free(ere);
		return r;
	}
	rc = regcomp(re, ere, REG_EXTENDED | REG_NOSUB);
	kdc_free(ere);
	if (rc != 0) {
		if (rc == REG_ESPACE)
			return KDC_ERR_NOMEM;
		regerror(rc, re, msg, sizeof(msg));
		return cfail(cc, KDC_ERR_MALFORMED, "pattern \"%.80s\": %s",
		    json_string_value(j), msg);
	}
	return KDC_OK;
}

static kdc_err compile_node(struct cctx *cc, const json_t *j,
    struct node **out);

static kdc_err
resolve_ref(struct cctx *cc, const char *ref, const json_t **out)
{
	const struct kdc_jschema *s = cc->s;
	const json_t *cur = s->root;
	const char *p;
	char tok[256];

	*out = NULL;
	if (s->root_id != NULL && strncmp(ref, s->root_id, s->root_id_len) == 0
	    && (ref[s->root_id_len] == '#' || ref[s->root_id_len] == '\0'))
		ref += s->root_id_len;
	if (*ref == '\0') {
		*out = cur;
		return KDC_OK;
	}
	if (ref[0] != '#' || (ref[1] != '\0' && ref[1] != '/'))
		return cfail(cc, KDC_ERR_UNSUPPORTED, "$ref \"%.100s\": only "
		    "local JSON pointers (\"#/...\") are supported", ref);
	p = ref + 1;
	while (*p == '/') {
		size_t n = 0;

		p++;
		while (*p != '\0' && *p != '/') {
			char c = *p++;

			if (c == '~') {
				if (*p == '0')
					c = '~';
				else if (*p == '1')
					c = '/';
				else
					goto bad;
				p++;
			} else if (c == '%') {
				unsigned v;

				if (sscanf(p, "%2x", &v) != 1 ||
				    !isxdigit((unsigned char)p[0]) ||
				    !isxdigit((unsigned char)p[1]) || v == 0)
					goto bad;
				c = (char)v;
				p += 2;
			}
			if (n + 1 >= sizeof(tok))
				goto bad;
			tok[n++] = c;
		}
		tok[n] = '\0';
		if (json_is_object(cur))
			cur = json_object_get(cur, tok);
		else if (json_is_array(cur)) {
			char *end;
			unsigned long idx;

			if (n == 0 || (n > 1 && tok[0] == '0') ||
			    !isdigit((unsigned char)tok[0]))
				goto bad;
			idx = strtoul(tok, &end, 10);
			if (*end != '\0')
				goto bad;
			cur = json_array_get(cur, idx);
		} else
			cur = NULL;
		if (cur == NULL)
			goto bad;
	}
	*out = cur;
	return KDC_OK;
bad:
	return cfail(cc, KDC_ERR_MALFORMED, "$ref \"%.100s\" does not resolve",
	    ref);
}

static kdc_err
get_count(struct cctx *cc, const json_t *j, const char *kw, long long *out)
{
	const json_t *v = json_object_get(j, kw);
	double d;

	*out = -1;
	if (v == NULL)
		return KDC_OK;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = json_integer_value(v);
		return KDC_OK;
	}
	if (json_is_real(v) && (d = json_real_value(v)) >= 0 && d < 9e18 &&
	    floor(d) == d) {
		*out = (long long)d;
		return KDC_OK;
	}
	return cfail(cc, KDC_ERR_MALFORMED, "%s is not a non-negative integer",
	    kw);
}

static kdc_err
get_num(struct cctx *cc, const json_t *j, const char *kw, bool *has,
    double *out)
{
	const json_t *v = json_object_get(j, kw);

	*has = false;
	if (v == NULL)
		return KDC_OK;
	if (!json_is_number(v)) {
		if (json_is_boolean(v))
			return cfail(cc, KDC_ERR_UNSUPPORTED, "boolean %s "
			    "(draft-04) is not supported", kw);
		return cfail(cc, KDC_ERR_MALFORMED, "%s is not a number", kw);
	}
	*has = true;
	*out = json_number_value(v);
	return KDC_OK;
}

static kdc_err
sub(struct cctx *cc, const json_t *j, const char *kw, struct node **out)
{
	const json_t *v = json_object_get(j, kw);

	*out = NULL;
	if (v == NULL)
		return KDC_OK;
	return compile_node(cc, v, out);
}

static kdc_err
sub_list(struct cctx *cc, const json_t *j, const char *kw, bool nonempty,
    struct node ***out, size_t *n)
{
	const json_t *v = json_object_get(j, kw);
	size_t i;
	kdc_err r;

	*out = NULL;
	*n = 0;
	if (v == NULL)
		return KDC_OK;
	if (!json_is_array(v) || (nonempty && json_array_size(v) == 0))
		return cfail(cc, KDC_ERR_MALFORMED, "%s is not a%s array", kw,
		    nonempty ? " non-empty" : "n");
	if (json_array_size(v) == 0)
		return KDC_OK;
	if ((*out = kdc_calloc(json_array_size(v), sizeof(**out))) == NULL)
		return KDC_ERR_NOMEM;
	*n = json_array_size(v);
	for (i = 0; i < *n; i++)
		if ((r = compile_node(cc, json_array_get(v, i),
		    &(*out)[i])) != KDC_OK)
			return r;
	return KDC_OK;
}

static kdc_err
compile_type(struct cctx *cc, const json_t *v, unsigned *types)
{
	static const struct { const char *n; unsigned t; } tn[] = {
		{ "null", T_NULL }, { "boolean", T_BOOL }, { "object", T_OBJ },
		{ "array", T_ARR }, { "number", T_NUM }, { "string", T_STR },
		{ "integer", T_INT },
	};
	size_t i, k, n = json_is_array(v) ? json_array_size(v) : 1;

	for (i = 0; i < n; i++) {
		const json_t *e = json_is_array(v) ? json_array_get(v, i) : v;

		if (!json_is_string(e))
			return cfail(cc, KDC_ERR_MALFORMED,
			    "type is not a string or an array of strings");
		for (k = 0; k < sizeof(tn) / sizeof(tn[0]); k++)
			if (strcmp(json_string_value(e), tn[k].n) == 0)
				break;
		if (k == sizeof(tn) / sizeof(tn[0]))
			return cfail(cc, KDC_ERR_MALFORMED, "unknown type "
			    "\"%.40s\"", json_string_value(e));
		*types |= tn[k].t;
	}
	if (*types == 0)
		return cfail(cc, KDC_ERR_MALFORMED, "type is an empty array");
	return KDC_OK;
}

static kdc_err
compile_object_kw(struct cctx *cc, const json_t *j, struct node *n)
{
	const json_t *v;
	const char *k;
	size_t i;
	kdc_err r;

	if ((v = json_object_get(j, "properties")) != NULL) {
		json_t *pv;

		if (!json_is_object(v))
			return cfail(cc, KDC_ERR_MALFORMED,
			    "properties is not an object");
		n->props_obj = v;
		if (json_object_size(v) > 0 && (n->props = kdc_calloc(
		    json_object_size(v), sizeof(*n->props))) == NULL)
			return KDC_ERR_NOMEM;
		json_object_foreach((json_t *)v, k, pv) {
			n->props[n->nprops].name = k;
			if ((r = compile_node(cc, pv,
			    &n->props[n->nprops].n)) != KDC_OK)
				return r;
			n->nprops++;
		}
	}
	if ((v = json_object_get(j, "patternProperties")) != NULL) {
		json_t *pv;

		if (!json_is_object(v))
			return cfail(cc, KDC_ERR_MALFORMED,
			    "patternProperties is not an object");
		if (json_object_size(v) > 0 && (n->pprops = kdc_calloc(
		    json_object_size(v), sizeof(*n->pprops))) == NULL)
			return KDC_ERR_NOMEM;
		json_object_foreach((json_t *)v, k, pv) {
			json_t *ks = json_string(k);

			if (ks == NULL)
				return KDC_ERR_NOMEM;
			r = re_compile(cc, ks, &n->pprops[n->npprops].re);
			json_decref(ks);
			if (r != KDC_OK)
				return r;
			n->npprops++;	/* regfree()d from here on */
			if ((r = compile_node(cc, pv,
			    &n->pprops[n->npprops - 1].n)) != KDC_OK)
				return r;
		}
	}
	if ((r = sub(cc, j, "additionalProperties", &n->addprops)) != KDC_OK ||
	    (r = sub(cc, j, "propertyNames", &n->propnames)) != KDC_OK ||
	    (r = get_count(cc, j, "minProperties", &n->min_props)) != KDC_OK ||
	    (r = get_count(cc, j, "maxProperties", &n->max_props)) != KDC_OK)
		return r;
	if ((v = json_object_get(j, "required")) != NULL) {
		if (!json_is_array(v))
			return cfail(cc, KDC_ERR_MALFORMED,
			    "required is not an array");
		for (i = 0; i < json_array_size(v); i++)
			if (!json_is_string(json_array_get(v, i)))
				return cfail(cc, KDC_ERR_MALFORMED,
				    "required holds a non-string");
		n->required = v;
	}
	if ((v = json_object_get(j, "dependencies")) != NULL) {
		json_t *dv;

		if (!json_is_object(v))
			return cfail(cc, KDC_ERR_MALFORMED,
			    "dependencies is not an object");
		if (json_object_size(v) > 0 && (n->deps = kdc_calloc(
		    json_object_size(v), sizeof(*n->deps))) == NULL)
			return KDC_ERR_NOMEM;
		json_object_foreach((json_t *)v, k, dv) {
			struct dep *d = &n->deps[n->ndeps++];

			d->name = k;
			if (json_is_array(dv)) {
				for (i = 0; i < json_array_size(dv); i++)
					if (!json_is_string(
					    json_array_get(dv, i)))
						return cfail(cc,
						    KDC_ERR_MALFORMED,
						    "dependencies \"%.40s\" "
						    "holds a non-string", k);
				d->req = dv;
			} else if ((r = compile_node(cc, dv, &d->schema)) !=
			    KDC_OK)
				return r;
		}
	}
	return KDC_OK;
}

static kdc_err
compile_keywords(struct cctx *cc, const json_t *j, struct node *n, bool root)
{
	const json_t *v;
	const char *k;
	json_t *kv;
	size_t i;
	kdc_err r;

	json_object_foreach((json_t *)j, k, kv) {
		for (i = 0; refused[i] != NULL; i++)
			if (strcmp(k, refused[i]) == 0)
				return cfail(cc, KDC_ERR_UNSUPPORTED,
				    "keyword %s is not supported (not "
				    "draft-07)", k);
		if (strcmp(k, "$id") == 0 && !root && (!json_is_string(kv) ||
		    json_string_value(kv)[0] != '#'))
			return cfail(cc, KDC_ERR_UNSUPPORTED, "keyword $id in "
			    "a subschema is not supported (it moves the base "
			    "URI of $ref)");
		if (strcmp(k, "$schema") == 0 && root) {
			const char *sv = json_is_string(kv) ?
			    json_string_value(kv) : "";

			if (strncmp(sv, "http://json-schema.org/draft-07/schema",
			    38) != 0 && strncmp(sv,
			    "http://json-schema.org/draft-06/schema", 38) != 0)
				return cfail(cc, KDC_ERR_UNSUPPORTED,
				    "$schema \"%.80s\" is not draft-07", sv);
		}
	}
	if ((v = json_object_get(j, "$ref")) != NULL) {
		const json_t *t;

		/* draft-07: the other keywords beside $ref are ignored */
		if (!json_is_string(v))
			return cfail(cc, KDC_ERR_MALFORMED,
			    "$ref is not a string");
		if ((r = resolve_ref(cc, json_string_value(v), &t)) != KDC_OK)
			return r;
		return compile_node(cc, t, &n->ref);
	}
	if ((v = json_object_get(j, "type")) != NULL &&
	    (r = compile_type(cc, v, &n->types)) != KDC_OK)
		return r;
	if ((v = json_object_get(j, "enum")) != NULL) {
		if (!json_is_array(v))
			return cfail(cc, KDC_ERR_MALFORMED,
			    "enum is not an array");
		n->enum_ = v;
	}
	n->const_ = json_object_get(j, "const");
	if ((r = compile_object_kw(cc, j, n)) != KDC_OK)
		return r;
	/* arrays */
	if ((v = json_object_get(j, "items")) != NULL) {
		if (json_is_array(v)) {
			n->items_array = true;
			if ((r = sub_list(cc, j, "items", false, &n->items_arr,
			    &n->nitems_arr)) != KDC_OK)
				return r;
		} else if ((r = compile_node(cc, v, &n->items)) != KDC_OK)
			return r;
	}
	if ((r = sub(cc, j, "additionalItems", &n->additems)) != KDC_OK ||
	    (r = sub(cc, j, "contains", &n->contains)) != KDC_OK ||
	    (r = get_count(cc, j, "minItems", &n->min_items)) != KDC_OK ||
	    (r = get_count(cc, j, "maxItems", &n->max_items)) != KDC_OK ||
	    (r = get_count(cc, j, "minLength", &n->min_len)) != KDC_OK ||
	    (r = get_count(cc, j, "maxLength", &n->max_len)) != KDC_OK)
		return r;
	if ((v = json_object_get(j, "uniqueItems")) != NULL) {
		if (!json_is_boolean(v))
			return cfail(cc, KDC_ERR_MALFORMED,
			    "uniqueItems is not a boolean");
		n->unique = json_is_true(v);
	}
	if ((v = json_object_get(j, "pattern")) != NULL) {
		if ((n->pattern = kdc_calloc(1, sizeof(*n->pattern))) == NULL)
			return KDC_ERR_NOMEM;
		if ((r = re_compile(cc, v, n->pattern)) != KDC_OK) {
			kdc_free(n->pattern);
			n->pattern = NULL;
			return r;
		}
		n->pattern_src = json_string_value(v);
	}
	if ((r = get_num(cc, j, "minimum", &n->has_min, &n->min)) != KDC_OK ||
	    (r = get_num(cc, j, "maximum", &n->has_max, &n->max)) != KDC_OK ||
	    (r = get_num(cc, j, "exclusiveMinimum", &n->has_xmin,
	    &n->xmin)) != KDC_OK ||
	    (r = get_num(cc, j, "exclusiveMaximum", &n->has_xmax,
	    &n->xmax)) != KDC_OK ||
	    (r = get_num(cc, j, "multipleOf", &n->has_mult, &n->mult)) !=
	    KDC_OK)
		return r;
	if (n->has_mult && !(n->mult > 0))
		return cfail(cc, KDC_ERR_MALFORMED, "multipleOf is not > 0");
	if ((r = sub_list(cc, j, "allOf", true, &n->allof, &n->nallof)) !=
	    KDC_OK ||
	    (r = sub_list(cc, j, "anyOf", true, &n->anyof, &n->nanyof)) !=
	    KDC_OK ||
	    (r = sub_list(cc, j, "oneOf", true, &n->oneof, &n->noneof)) !=
	    KDC_OK ||
	    (r = sub(cc, j, "not", &n->not_)) != KDC_OK ||
	    (r = sub(cc, j, "if", &n->if_)) != KDC_OK)
		return r;
	if (n->if_ != NULL &&
	    ((r = sub(cc, j, "then", &n->then_)) != KDC_OK ||
	    (r = sub(cc, j, "else", &n->else_)) != KDC_OK))
		return r;
	return KDC_OK;
}

static kdc_err
compile_node(struct cctx *cc, const json_t *j, struct node **out)
{
	struct kdc_jschema *s = cc->s;
	struct node *n;
	kdc_err r;

	*out = NULL;
	if ((n = memo_get(s, j)) != NULL) {
		*out = n;
		return KDC_OK;
	}
	if (!json_is_object(j) && !json_is_boolean(j))
		return cfail(cc, KDC_ERR_MALFORMED, "a subschema is neither "
		    "an object nor a boolean");
	if (s->nall >= KDC_JSCHEMA_NODES_MAX)
		return cfail(cc, KDC_ERR_TOO_LARGE, "more than %d subschemas",
		    KDC_JSCHEMA_NODES_MAX);
	if (cc->depth >= COMPILE_DEPTH_MAX)
		return cfail(cc, KDC_ERR_TOO_LARGE, "schema nested deeper "
		    "than %d", COMPILE_DEPTH_MAX);
	if (s->nall == s->capall) {
		size_t cap = s->capall ? s->capall * 2 : 64;
		struct node **a = kdc_realloc(s->all, cap * sizeof(*a));

		if (a == NULL)
			return KDC_ERR_NOMEM;
		s->all = a;
		s->capall = cap;
	}
	if ((n = kdc_calloc(1, sizeof(*n))) == NULL)
		return KDC_ERR_NOMEM;
	n->min_props = n->max_props = n->min_items = n->max_items = -1;
	n->min_len = n->max_len = -1;
	if ((r = memo_put(s, j, n)) != KDC_OK) {
		kdc_free(n);
		return r;
	}
	s->all[s->nall++] = n;
	if (json_is_boolean(j)) {
		n->bool_schema = json_is_true(j);
		*out = n;
		return KDC_OK;
	}
	n->bool_schema = -1;
	cc->depth++;
	r = compile_keywords(cc, j, n, j == s->root);
	cc->depth--;
	if (r == KDC_OK)
		*out = n;
	return r;
}

static void
node_free(struct node *n)
{
	size_t i;

	kdc_free(n->props);
	for (i = 0; i < n->npprops; i++)
		regfree(&n->pprops[i].re);
	kdc_free(n->pprops);
	kdc_free(n->deps);
	kdc_free(n->items_arr);
	kdc_free(n->allof);
	kdc_free(n->anyof);
	kdc_free(n->oneof);
	if (n->pattern != NULL) {
		regfree(n->pattern);
		kdc_free(n->pattern);
	}
	kdc_free(n);
}

void
kdc_jschema_free(struct kdc_jschema *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nall; i++)
		node_free(s->all[i]);
	kdc_free(s->all);
	kdc_free(s->memo);
	json_decref(s->root);
	kdc_free(s);
}

kdc_err
kdc_jschema_compile(const json_t *schema, struct kdc_jschema **out,
    char *why, size_t whylen)
{
	struct kdc_jschema *s = NULL;
	struct cctx cc;
	const json_t *id;
	kdc_err r;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (out == NULL)
		return KDC_ERR_INVALID_ARG;
	*out = NULL;
	memset(&cc, 0, sizeof(cc));
	cc.why = why;
	cc.whylen = whylen;
	if (schema == NULL)
		return cfail(&cc, KDC_ERR_INVALID_ARG, "no schema");
	if ((s = kdc_calloc(1, sizeof(*s))) == NULL)
		return KDC_ERR_NOMEM;
	cc.s = s;
	if ((s->root = json_deep_copy(schema)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	if ((id = json_object_get(s->root, "$id")) != NULL &&
	    json_is_string(id)) {
		const char *h = strchr(json_string_value(id), '#');

		s->root_id = json_string_value(id);
		s->root_id_len = h != NULL ? (size_t)(h - s->root_id) :
		    strlen(s->root_id);
		if (s->root_id_len == 0)
			s->root_id = NULL;
	}
	if ((r = compile_node(&cc, s->root, &s->top)) != KDC_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	if (r == KDC_ERR_NOMEM)
		cfail(&cc, r, "out of memory");
	kdc_jschema_free(s);
	return r;
}

/* ---- validation ------------------------------------------------------- */

struct vctx {
	struct kdc_verrs	*errs;	/* where errors go now, NULL if muted */
	struct kdc_verr		*first;	/* muted: the first error, or NULL */
	bool			 first_set;
	bool			 failfast;
	struct kdc_verrs	*top;	/* the caller's, for the bounds */
	long			 work;
	int			 depth;
	bool			 abort;
	char			 path[1024];
	size_t			 plen;
};

void
kdc_verrs_add(struct kdc_verrs *errs, const char *field, const char *fmt,
    ...)
{
	va_list ap;
	struct kdc_verr *e;

	if (errs == NULL)
		return;
	if (errs->n >= KDC_JSCHEMA_ERRORS_MAX) {
		errs->truncated = true;
		return;
	}
	e = &errs->e[errs->n++];
	snprintf(e->field, sizeof(e->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(e->description, sizeof(e->description), fmt, ap);
	va_end(ap);
}

static const char *
field_of(const struct vctx *c)
{
	return c->plen == 0 ? "(root)" : c->path;
}

static void
fail_at(struct vctx *c, const char *field, const char *desc)
{
	if (c->errs != NULL)
		kdc_verrs_add(c->errs, field, "%s", desc);
	else if (c->first != NULL && !c->first_set) {
		snprintf(c->first->field, sizeof(c->first->field), "%s", field);
		snprintf(c->first->description,
		    sizeof(c->first->description), "%s", desc);
		c->first_set = true;
	}
}

static void
vfail(struct vctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
vfail(struct vctx *c, const char *fmt, ...)
{
	char desc[256];
	va_list ap;

	if (c->errs == NULL && (c->first == NULL || c->first_set))
		return;
	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	fail_at(c, field_of(c), desc);
}

/* Does an error made now go anywhere? (Spares formatting when muted.) */
static bool
wants_err(const struct vctx *c)
{
	return c->errs != NULL || (c->first != NULL && !c->first_set);
}

static void
vabort(struct vctx *c, const char *desc)
{
	if (c->abort)
		return;
	c->abort = true;
	if (c->top != NULL)
		kdc_verrs_add(c->top, field_of(c), "%s", desc);
}

static size_t
push(struct vctx *c, const char *seg)
{
	size_t old = c->plen;
	int k;

	k = snprintf(c->path + c->plen, sizeof(c->path) - c->plen, "%s%s",
	    c->plen ? "." : "", seg);
	if (k > 0)
		c->plen += (size_t)k < sizeof(c->path) - c->plen ? (size_t)k :
		    sizeof(c->path) - c->plen - 1;
	return old;
}

static size_t
push_idx(struct vctx *c, size_t i)
{
	char b[24];

	snprintf(b, sizeof(b), "%zu", i);
	return push(c, b);
}

static void
pop(struct vctx *c, size_t old)
{
	c->plen = old;
	c->path[old] = '\0';
}

static const char *
type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE: case JSON_FALSE: return "boolean";
	default: return "null";
	}
}

static bool
is_integral(const json_t *v)
{
	double d;

	if (json_is_integer(v))
		return true;
	if (!json_is_real(v))
		return false;
	d = json_real_value(v);
	return isfinite(d) && floor(d) == d;
}

static bool
type_ok(unsigned t, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return t & T_OBJ;
	case JSON_ARRAY: return t & T_ARR;
	case JSON_STRING: return t & T_STR;
	case JSON_INTEGER: return t & (T_INT | T_NUM);
	case JSON_REAL: return (t & T_NUM) || ((t & T_INT) && is_integral(v));
	case JSON_TRUE: case JSON_FALSE: return t & T_BOOL;
	default: return t & T_NULL;
	}
}

static void
types_str(unsigned t, char *b, size_t len)
{
	static const char *n[] = { "null", "boolean", "object", "array",
	    "number", "string", "integer" };
	size_t i, o = 0;

	b[0] = '\0';
	for (i = 0; i < 7; i++)
		if (t & (1u << i))
			o += (size_t)snprintf(b + o, o < len ? len - o : 0,
			    "%s%s", o ? "/" : "", n[i]);
}

/* JSON Schema equality: numbers by value (1 == 1.0), objects unordered. */
static bool
jequal(struct vctx *c, const json_t *a, const json_t *b, int depth)
{
	size_t i;

	if (++c->work > KDC_JSCHEMA_WORK_MAX || depth > 2 * 2048) {
		vabort(c, "validation work budget exceeded");
		return false;
	}
	if (json_is_number(a) && json_is_number(b)) {
		if (json_is_integer(a) && json_is_integer(b))
			return json_integer_value(a) == json_integer_value(b);
		return json_number_value(a) == json_number_value(b);
	}
	if (json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		    memcmp(json_string_value(a), json_string_value(b),
		    json_string_length(a)) == 0;
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (i = 0; i < json_array_size(a); i++)
			if (!jequal(c, json_array_get(a, i),
			    json_array_get(b, i), depth + 1))
				return false;
		return true;
	case JSON_OBJECT: {
		const char *k;
		json_t *v, *w;

		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_foreach((json_t *)a, k, v) {
			if ((w = json_object_get(b, k)) == NULL ||
			    !jequal(c, v, w, depth + 1))
				return false;
		}
		return true;
	}
	default:
		return true;	/* true, false, null: same type */
	}
}

static size_t
utf8_len(const char *s, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			k++;
	return k;
}

static bool
re_match(const regex_t *re, const char *s, size_t n)
{
	regmatch_t m[1];

	m[0].rm_so = 0;
	m[0].rm_eo = (regoff_t)n;
	return regexec(re, s, 1, m, REG_STARTEND) == 0;
}

static bool validate(struct vctx *c, const struct node *n, const json_t *v);

/* Evaluate n on v with errors muted; *first receives the first error. */
static bool
branch(struct vctx *c, const struct node *n, const json_t *v,
    struct kdc_verr *first, bool *has_first)
{
	struct kdc_verrs *errs = c->errs;
	struct kdc_verr *f = c->first;
	bool fs = c->first_set, ff = c->failfast, ok;

	c->errs = NULL;
	c->first = first;
	c->first_set = false;
	c->failfast = true;
	ok = validate(c, n, v);
	if (has_first != NULL)
		*has_first = c->first_set;
	c->errs = errs;
	c->first = f;
	c->first_set = fs;
	c->failfast = ff;
	return ok && !c->abort;
}

/*
 * How useful a failed branch's first error is: deeper fields first, then
 * anything but a type mismatch (the branch for another type). The best
 * branch's error is reported when it is deeper than the choice itself or
 * not a type mismatch there, and no other branch is as close; otherwise
 * the generic oneOf/anyOf message at the choice's field.
 */
static long
err_score(const struct kdc_verr *e)
{
	size_t d = strcmp(e->field, "(root)") == 0 ? 0 : strlen(e->field) + 1;

	return (long)d * 2 +
	    (strncmp(e->description, "Invalid type.", 13) != 0);
}

/* anyOf (one = false) or oneOf: one error, not one per branch */
static bool
v_choice(struct vctx *c, struct node **subs, size_t n, const json_t *v,
    bool one)
{
	struct kdc_verr best = { "", "" }, cur;
	long best_score = -1, here;
	size_t i, nvalid = 0, ties = 0;
	bool has;

	for (i = 0; i < n; i++) {
		if (branch(c, subs[i], v, &cur, &has)) {
			if (!one || ++nvalid == 2)
				break;
			continue;
		}
		if (c->abort)
			return false;
		if (has && err_score(&cur) > best_score) {
			best = cur;
			best_score = err_score(&cur);
			ties = 1;
		} else if (has && err_score(&cur) == best_score)
			ties++;
	}
	if (!one && i < n)
		return true;
	if (one && nvalid == 1)
		return true;
	if (one && nvalid > 1) {
		vfail(c, "Must validate one and only one schema (oneOf)");
		return false;
	}
	here = c->plen == 0 ? 0 : (long)(c->plen + 1) * 2 + 1;
	/* several branches equally close: none is "the" one the author meant */
	if (best_score >= here && ties == 1)
		fail_at(c, best.field, best.description);
	else if (one)
		vfail(c, "Must validate one and only one schema (oneOf)");
	else
		vfail(c, "Must validate at least one schema (anyOf)");
	return false;
}

#define FAILFAST()	do { if (!ok && c->failfast) return false; } while (0)

static bool
v_object(struct vctx *c, const struct node *n, const json_t *v)
{
	const char *k;
	json_t *mv;
	size_t i, old;
	bool ok = true;

	if (n->required != NULL)
		for (i = 0; i < json_array_size(n->required); i++) {
			const char *rk = json_string_value(
			    json_array_get(n->required, i));

			if (json_object_get(v, rk) == NULL) {
				vfail(c, "%s is required", rk);
				ok = false;
				FAILFAST();
			}
		}
	if (n->min_props >= 0 &&
	    json_object_size(v) < (unsigned long long)n->min_props) {
		vfail(c, "Must have at least %lld properties", n->min_props);
		ok = false;
		FAILFAST();
	}
	if (n->max_props >= 0 &&
	    json_object_size(v) > (unsigned long long)n->max_props) {
		vfail(c, "Must have at most %lld properties", n->max_props);
		ok = false;
		FAILFAST();
	}
	for (i = 0; i < n->nprops; i++) {
		if ((mv = json_object_get(v, n->props[i].name)) == NULL)
			continue;
		old = push(c, n->props[i].name);
		if (!validate(c, n->props[i].n, mv))
			ok = false;
		pop(c, old);
		FAILFAST();
	}
	if (n->npprops > 0 || n->addprops != NULL || n->propnames != NULL ||
	    n->ndeps > 0)
		json_object_foreach((json_t *)v, k, mv) {
			bool matched = n->props_obj != NULL &&
			    json_object_get(n->props_obj, k) != NULL;

			for (i = 0; i < n->npprops; i++) {
				if (!re_match(&n->pprops[i].re, k, strlen(k)))
					continue;
				matched = true;
				old = push(c, k);
				if (!validate(c, n->pprops[i].n, mv))
					ok = false;
				pop(c, old);
				FAILFAST();
			}
			if (!matched && n->addprops != NULL) {
				if (n->addprops->bool_schema == 0) {
					vfail(c, "Additional property %s is "
					    "not allowed", k);
					ok = false;
				} else {
					old = push(c, k);
					if (!validate(c, n->addprops, mv))
						ok = false;
					pop(c, old);
				}
				FAILFAST();
			}
			if (n->propnames != NULL) {
				json_t *ks = json_string_nocheck(k);
				bool pok;

				if (ks == NULL) {
					vabort(c, "out of memory");
					return false;
				}
				pok = branch(c, n->propnames, ks, NULL, NULL);
				json_decref(ks);
				if (!pok) {
					if (c->abort)
						return false;
					vfail(c, "Property name %s does not "
					    "match the propertyNames schema",
					    k);
					ok = false;
					FAILFAST();
				}
			}
			for (i = 0; i < n->ndeps; i++) {
				const struct dep *d = &n->deps[i];
				size_t q;

				if (strcmp(d->name, k) != 0)
					continue;
				if (d->schema != NULL) {
					if (!validate(c, d->schema, v))
						ok = false;
					FAILFAST();
					continue;
				}
				for (q = 0; q < json_array_size(d->req); q++) {
					const char *rk = json_string_value(
					    json_array_get(d->req, q));

					if (json_object_get(v, rk) != NULL)
						continue;
					vfail(c, "%s is required by %s", rk, k);
					ok = false;
					FAILFAST();
				}
			}
		}
	return ok;
}

static bool
v_array(struct vctx *c, const struct node *n, const json_t *v)
{
	size_t i, k, sz = json_array_size(v), old;
	bool ok = true;

	if (n->min_items >= 0 && sz < (unsigned long long)n->min_items) {
		vfail(c, "Array must have at least %lld items", n->min_items);
		ok = false;
		FAILFAST();
	}
	if (n->max_items >= 0 && sz > (unsigned long long)n->max_items) {
		vfail(c, "Array must have at most %lld items", n->max_items);
		ok = false;
		FAILFAST();
	}
	if (n->unique)
		for (i = 0; i < sz && ok; i++)
			for (k = i + 1; k < sz; k++) {
				if (jequal(c, json_array_get(v, i),
				    json_array_get(v, k), 0)) {
					vfail(c, "array items[%zu,%zu] must be "
					    "unique", i, k);
					ok = false;
					break;
				}
				if (c->abort)
					return false;
			}
	FAILFAST();
	for (i = 0; i < sz; i++) {
		const struct node *in;

		if (n->items_array)
			in = i < n->nitems_arr ? n->items_arr[i] : n->additems;
		else
			in = n->items;
		if (in == NULL)
			break;
		old = push_idx(c, i);
		if (!validate(c, in, json_array_get(v, i)))
			ok = false;
		pop(c, old);
		FAILFAST();
	}
	if (n->contains != NULL) {
		for (i = 0; i < sz; i++)
			if (branch(c, n->contains, json_array_get(v, i), NULL,
			    NULL))
				break;
		if (c->abort)
			return false;
		if (i == sz) {
			vfail(c, "At least one of the items must match "
			    "(contains)");
			ok = false;
		}
	}
	return ok;
}

static bool
v_string(struct vctx *c, const struct node *n, const json_t *v)
{
	const char *s = json_string_value(v);
	size_t bl = json_string_length(v), len = utf8_len(s, bl);
	bool ok = true;

	if (n->min_len >= 0 && len < (unsigned long long)n->min_len) {
		vfail(c, "String length must be greater than or equal to %lld",
		    n->min_len);
		ok = false;
		FAILFAST();
	}
	if (n->max_len >= 0 && len > (unsigned long long)n->max_len) {
		vfail(c, "String length must be less than or equal to %lld",
		    n->max_len);
		ok = false;
		FAILFAST();
	}
	if (n->pattern != NULL && !re_match(n->pattern, s, bl)) {
		vfail(c, "Does not match pattern '%.120s'", n->pattern_src);
		ok = false;
	}
	return ok;
}

static bool
v_number(struct vctx *c, const struct node *n, const json_t *v)
{
	double d = json_number_value(v);
	bool ok = true;

	if (n->has_min && !(d >= n->min)) {
		vfail(c, "Must be greater than or equal to %.17g", n->min);
		ok = false;
		FAILFAST();
	}
	if (n->has_max && !(d <= n->max)) {
		vfail(c, "Must be less than or equal to %.17g", n->max);
		ok = false;
		FAILFAST();
	}
	if (n->has_xmin && !(d > n->xmin)) {
		vfail(c, "Must be greater than %.17g", n->xmin);
		ok = false;
		FAILFAST();
	}
	if (n->has_xmax && !(d < n->xmax)) {
		vfail(c, "Must be less than %.17g", n->xmax);
		ok = false;
		FAILFAST();
	}
	if (n->has_mult) {
		bool mok;

		if (json_is_integer(v) && n->mult == floor(n->mult) &&
		    n->mult < 9e18)
			mok = json_integer_value(v) % (json_int_t)n->mult == 0;
		else {
			double q = d / n->mult;

			mok = isfinite(q) &&
			    fabs(q - nearbyint(q)) <= 1e-9 * fmax(1, fabs(q));
		}
		if (!mok) {
			vfail(c, "Must be a multiple of %.17g", n->mult);
			ok = false;
		}
	}
	return ok;
}

static bool
validate_inner(struct vctx *c, const struct node *n, const json_t *v)
{
	size_t i;
	bool ok = true;

	if (n->bool_schema == 1)
		return true;
	if (n->bool_schema == 0) {
		vfail(c, "No value is allowed here (false schema)");
		return false;
	}
	if (n->ref != NULL)
		return validate(c, n->ref, v);
	if (n->types != 0 && !type_ok(n->types, v)) {
		char t[64];

		types_str(n->types, t, sizeof(t));
		vfail(c, "Invalid type. Expected: %s, given: %s", t,
		    type_name(v));
		return false;
	}
	if (n->enum_ != NULL) {
		for (i = 0; i < json_array_size(n->enum_); i++)
			if (jequal(c, json_array_get(n->enum_, i), v, 0))
				break;
		if (c->abort)
			return false;
		if (i == json_array_size(n->enum_) && !wants_err(c)) {
			ok = false;
			FAILFAST();
		} else if (i == json_array_size(n->enum_)) {
			char *e = json_dumps(n->enum_, JSON_COMPACT |
			    JSON_ENCODE_ANY);

			vfail(c, "Must be one of the following: %.160s%s",
			    e != NULL ? e : "(enum)",
			    e != NULL && strlen(e) > 160 ? "..." : "");
			kdc_json_free(e);
			ok = false;
			FAILFAST();
		}
	}
	if (n->const_ != NULL && !jequal(c, n->const_, v, 0)) {
		char *e = wants_err(c) ? json_dumps(n->const_, JSON_COMPACT |
		    JSON_ENCODE_ANY) : NULL;

		if (c->abort) {
			kdc_json_free(e);
			return false;
		}
		vfail(c, "Does not match: %.160s", e != NULL ? e : "(const)");
		kdc_json_free(e);
		ok = false;
		FAILFAST();
	}
	if (json_is_object(v))
		ok = v_object(c, n, v) && ok;
	else if (json_is_array(v))
		ok = v_array(c, n, v) && ok;
	else if (json_is_string(v))
		ok = v_string(c, n, v) && ok;
	else if (json_is_number(v))
		ok = v_number(c, n, v) && ok;
	FAILFAST();
	for (i = 0; i < n->nallof; i++) {
		if (!validate(c, n->allof[i], v))
			ok = false;
		FAILFAST();
	}
	if (n->nanyof > 0 && !v_choice(c, n->anyof, n->nanyof, v, false)) {
		ok = false;
		FAILFAST();
	}
	if (n->noneof > 0 && !v_choice(c, n->oneof, n->noneof, v, true)) {
		ok = false;
		FAILFAST();
	}
	if (n->not_ != NULL) {
		bool nv = branch(c, n->not_, v, NULL, NULL);

		if (c->abort)
			return false;
		if (nv) {
			vfail(c, "Must not validate the schema (not)");
			ok = false;
			FAILFAST();
		}
	}
	if (n->if_ != NULL) {
		bool iv = branch(c, n->if_, v, NULL, NULL);
		const struct node *t = iv ? n->then_ : n->else_;

		if (c->abort)
			return false;
		if (t != NULL && !validate(c, t, v))
			ok = false;
	}
	return ok;
}

static bool
validate(struct vctx *c, const struct node *n, const json_t *v)
{
	bool ok;

	if (c->abort)
		return false;
	if (++c->work > KDC_JSCHEMA_WORK_MAX) {
		vabort(c, "validation work budget exceeded");
		return false;
	}
	if (c->depth >= KDC_JSCHEMA_DEPTH_MAX) {
		vabort(c, "nested deeper than the validator's limit");
		return false;
	}
	c->depth++;
	ok = validate_inner(c, n, v);
	c->depth--;
	return ok && !c->abort;
}

bool
kdc_jschema_validate(const struct kdc_jschema *s, const json_t *doc,
    struct kdc_verrs *errs)
{
	struct vctx vc, *c = &vc;
	bool ok;

	if (errs != NULL) {
		errs->n = 0;
		errs->truncated = false;
	}
	if (s == NULL || doc == NULL) {
		kdc_verrs_add(errs, "(root)", "no schema or no document");
		return false;
	}
	memset(c, 0, sizeof(*c));
	c->errs = errs;
	c->top = errs;
	c->failfast = errs == NULL;
	ok = validate(c, s->top, doc) && !c->abort;
	if (!ok && errs != NULL && errs->n == 0)
		kdc_verrs_add(errs, "(root)", "document is invalid");
	return ok;
}
