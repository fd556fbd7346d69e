/*
 * jsonpath.c: RFC 9535 JSONPath (see jsonpath.h). A recursive-descent
 * parser to a small AST (with the well-typedness checks of §2.4.3 done
 * while parsing), and an evaluator that passes nodelists as jansson arrays.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "tdd/iregexp.h"
#include "tdd/jsonpath.h"

/* I-JSON's exact integers (RFC 9535 §2.1): indices and slice bounds. */
#define IJSON_MAX	9007199254740991LL

enum sel_kind { SEL_NAME, SEL_WILD, SEL_INDEX, SEL_SLICE, SEL_FILTER };

struct expr;

struct sel {
	enum sel_kind	 kind;
	char		*name;		/* NAME: decoded, may hold NUL */
	size_t		 namelen;
	long long	 idx;		/* INDEX */
	bool		 has_start, has_end;
	long long	 start, end, step;	/* SLICE */
	struct expr	*filter;	/* FILTER */
};

struct seg {
	bool		 desc;
	size_t		 nsel;
	struct sel	*sel;
};

struct query {
	bool		 abs;		/* `$` (else `@`) */
	bool		 singular;	/* only child name/index segments of one selector */
	size_t		 nseg;
	struct seg	*seg;
};

enum expr_kind { E_OR, E_AND, E_NOT, E_PAREN, E_CMP, E_QUERY, E_LIT, E_FUNC };
enum fn { FN_LENGTH, FN_COUNT, FN_MATCH, FN_SEARCH, FN_VALUE };
enum cmp { CMP_EQ, CMP_NE, CMP_LT, CMP_LE, CMP_GT, CMP_GE };

struct expr {
	enum expr_kind	 kind;
	size_t		 n;		/* kids */
	struct expr	**kids;		/* OR/AND: n; NOT/PAREN: 1; CMP: 2; FUNC: args */
	enum cmp	 op;
	enum fn		 fn;
	struct query	*q;		/* QUERY */
	json_t		*lit;		/* LIT */
	struct kdc_iregexp *re;		/* MATCH/SEARCH with a literal pattern */
	bool		 re_bad;	/* that literal is not an I-Regexp */
};

struct kdc_jsonpath {
	struct query	*q;
	bool		 per_member;
};

/* ---------------------------------------------------------------- free */

static void expr_free(struct expr *e);

static void
query_free(struct query *q)
{
	size_t i, j;

	if (q == NULL)
		return;
	for (i = 0; i < q->nseg; i++) {
		for (j = 0; j < q->seg[i].nsel; j++) {
			kdc_free(q->seg[i].sel[j].name);
			expr_free(q->seg[i].sel[j].filter);
		}
		kdc_free(q->seg[i].sel);
	}
	kdc_free(q->seg);
	kdc_free(q);
}

static void
expr_free(struct expr *e)
{
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; i < e->n; i++)
		expr_free(e->kids[i]);
	kdc_free(e->kids);
	query_free(e->q);
	json_decref(e->lit);
	kdc_iregexp_free(e->re);
	kdc_free(e);
}

void
kdc_jsonpath_free(struct kdc_jsonpath *q)
{
	if (q == NULL)
		return;
	query_free(q->q);
	kdc_free(q);
}

/* -------------------------------------------------------------- parser */

struct parser {
	const uint8_t	*s;
	size_t		 len, pos;
	int		 nest;
	char		*why;
	size_t		 whylen;
	kdc_err		 err;
};

static void
perr_at(struct parser *p, kdc_err r, size_t at, const char *msg)
{
	if (p->err != KDC_OK)
		return;
	p->err = r;
	if (p->why != NULL && p->whylen > 0)
		snprintf(p->why, p->whylen, "at byte %zu: %s", at, msg);
}

static void
perr(struct parser *p, const char *msg)
{
	perr_at(p, KDC_ERR_INVALID_ARG, p->pos, msg);
}

static void
nomem(struct parser *p)
{
	perr_at(p, KDC_ERR_NOMEM, p->pos, "out of memory");
}

static bool
nest_in(struct parser *p)
{
	if (++p->nest > KDC_JSONPATH_NEST_MAX) {
		perr_at(p, KDC_ERR_TOO_LARGE, p->pos, "nested too deeply");
		return false;
	}
	return true;
}

static int
peek(const struct parser *p)
{
	return p->pos < p->len ? p->s[p->pos] : -1;
}

static bool
at_str(const struct parser *p, const char *t)
{
	size_t n = strlen(t);

	return p->len - p->pos >= n && memcmp(p->s + p->pos, t, n) == 0;
}

static void
skip_ws(struct parser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
	    p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

static bool
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Offset of the first byte that is not well-formed UTF-8, or len. */
static size_t
utf8_bad_at(const uint8_t *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i], lo = 0x80, hi = 0xbf;
		size_t k, j;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;	/* no surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return i;
		if (len - i <= k)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (j = 2; j <= k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return i;
		i += k + 1;
	}
	return len;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
hex4(struct parser *p, unsigned *v)
{
	int i, h;

	*v = 0;
	for (i = 0; i < 4; i++) {
		if ((h = hexval(peek(p))) < 0) {
			perr(p, "bad \\u escape");
			return false;
		}
		*v = (*v << 4) | (unsigned)h;
		p->pos++;
	}
	return true;
}

static size_t
put_utf8(char *o, unsigned long c)
{
	if (c < 0x80) {
		o[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (char)(0xc0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (char)(0xe0 | (c >> 12));
		o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		o[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (c >> 18));
	o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	o[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* A string literal at p->pos (its quote included): decoded to *out. */
static bool
parse_string(struct parser *p, char **out, size_t *outlen)
{
	int q = peek(p);
	char *buf;
	size_t n = 0;

	/* decoding never grows: the rest of the query bounds it */
	if ((buf = kdc_malloc(p->len - p->pos + 1)) == NULL) {
		nomem(p);
		return false;
	}
	p->pos++;
	for (;;) {
		int c = peek(p);
		unsigned v, lo;

		if (c < 0) {
			perr(p, "unterminated string");
			goto bad;
		}
		if (c == q) {
			p->pos++;
			break;
		}
		if (c < 0x20) {
			perr(p, "control character in string");
			goto bad;
		}
		if (c != '\\') {
			buf[n++] = (char)c;
			p->pos++;
			continue;
		}
		p->pos++;
		c = peek(p);
		p->pos++;
		switch (c) {
		case 'b': buf[n++] = '\b'; continue;
		case 'f': buf[n++] = '\f'; continue;
		case 'n': buf[n++] = '\n'; continue;
		case 'r': buf[n++] = '\r'; continue;
		case 't': buf[n++] = '\t'; continue;
		case '/': buf[n++] = '/'; continue;
		case '\\': buf[n++] = '\\'; continue;
		case 'u':
			if (!hex4(p, &v))
				goto bad;
			if (v >= 0xdc00 && v <= 0xdfff) {
				perr(p, "lone low surrogate");
				goto bad;
			}
			if (v >= 0xd800 && v <= 0xdbff) {
				if (!at_str(p, "\\u")) {
					perr(p, "high surrogate without its low half");
					goto bad;
				}
				p->pos += 2;
				if (!hex4(p, &lo))
					goto bad;
				if (lo < 0xdc00 || lo > 0xdfff) {
					perr(p, "high surrogate without its low half");
					goto bad;
				}
				v = 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
			}
			n += put_utf8(buf + n, v);
			continue;
		default:
			if (c == q) {
				buf[n++] = (char)c;
				continue;
			}
			p->pos--;
			perr(p, "bad escape in string");
			goto bad;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return true;
bad:
	kdc_free(buf);
	return false;
}

/* RFC 9535 int: "0" / ["-"] DIGIT1 *DIGIT, within I-JSON's range. */
static bool
parse_int(struct parser *p, long long *v)
{
	size_t start = p->pos;
	bool neg = false;
	long long x = 0;

	if (peek(p) == '-') {
		neg = true;
		p->pos++;
	}
	if (!is_digit(peek(p))) {
		perr(p, "expected a digit");
		return false;
	}
	if (peek(p) == '0') {
		p->pos++;
		if (neg) {
			perr_at(p, KDC_ERR_INVALID_ARG, start, "-0 is not an integer");
			return false;
		}
		if (is_digit(peek(p))) {
			perr_at(p, KDC_ERR_INVALID_ARG, start, "leading zero");
			return false;
		}
		*v = 0;
		return true;
	}
	while (is_digit(peek(p))) {
		x = x * 10 + (peek(p) - '0');
		if (x > IJSON_MAX) {
			perr_at(p, KDC_ERR_INVALID_ARG, start,
			    "integer out of I-JSON range");
			return false;
		}
		p->pos++;
	}
	*v = neg ? -x : x;
	return true;
}

static struct query *parse_query(struct parser *p, bool abs);
static struct expr *parse_or_from(struct parser *p, struct expr *first);
static struct expr *parse_basic(struct parser *p, bool bare_ok);

static struct expr *
new_expr(struct parser *p, enum expr_kind kind)
{
	struct expr *e = kdc_calloc(1, sizeof(*e));

	if (e == NULL)
		nomem(p);
	else
		e->kind = kind;
	return e;
}

static bool
add_kid(struct parser *p, struct expr *e, struct expr *k)
{
	struct expr **v;

	if ((v = kdc_realloc(e->kids, (e->n + 1) * sizeof(*v))) == NULL) {
		expr_free(k);
		nomem(p);
		return false;
	}
	e->kids = v;
	e->kids[e->n++] = k;
	return true;
}

/* Wrap k in a new node of kind (takes k on every path). */
static struct expr *
wrap(struct parser *p, enum expr_kind kind, struct expr *k)
{
	struct expr *e;

	if (k == NULL)
		return NULL;
	if ((e = new_expr(p, kind)) == NULL) {
		expr_free(k);
		return NULL;
	}
	if (!add_kid(p, e, k)) {
		expr_free(e);
		return NULL;
	}
	return e;
}

static bool
is_value_type(const struct expr *e)
{
	return e->kind == E_LIT || (e->kind == E_QUERY && e->q->singular) ||
	    (e->kind == E_FUNC && (e->fn == FN_LENGTH || e->fn == FN_COUNT ||
	    e->fn == FN_VALUE));
}

/* Usable as a test-expr / logical operand. */
static bool
is_testable(const struct expr *e)
{
	if (e->kind == E_LIT)
		return false;
	if (e->kind == E_FUNC)
		return e->fn == FN_MATCH || e->fn == FN_SEARCH;
	return true;
}

/* A number literal (RFC 9535 number; JSON's grammar). */
static struct expr *
parse_number(struct parser *p)
{
	size_t start = p->pos;
	bool isint = true;
	char buf[KDC_JSONPATH_LEN_MAX + 1];
	struct expr *e;
	double d;

	if (peek(p) == '-')
		p->pos++;
	if (peek(p) == '0') {
		p->pos++;
		if (is_digit(peek(p))) {
			perr_at(p, KDC_ERR_INVALID_ARG, start, "leading zero");
			return NULL;
		}
	} else if (is_digit(peek(p))) {
		while (is_digit(peek(p)))
			p->pos++;
	} else {
		perr(p, "expected a digit");
		return NULL;
	}
	if (peek(p) == '.') {
		isint = false;
		p->pos++;
		if (!is_digit(peek(p))) {
			perr(p, "expected a digit after '.'");
			return NULL;
		}
		while (is_digit(peek(p)))
			p->pos++;
	}
	if (peek(p) == 'e' || peek(p) == 'E') {
		isint = false;
		p->pos++;
		if (peek(p) == '+' || peek(p) == '-')
			p->pos++;
		if (!is_digit(peek(p))) {
			perr(p, "expected a digit in the exponent");
			return NULL;
		}
		while (is_digit(peek(p)))
			p->pos++;
	}
	memcpy(buf, p->s + start, p->pos - start);
	buf[p->pos - start] = '\0';
	if ((e = new_expr(p, E_LIT)) == NULL)
		return NULL;
	if (isint) {
		long long v;

		errno = 0;
		v = strtoll(buf, NULL, 10);
		if (errno == 0) {
			if ((e->lit = json_integer(v)) == NULL)
				goto nomem;
			return e;
		}
	}
	d = strtod(buf, NULL);
	if (!isfinite(d)) {
		perr_at(p, KDC_ERR_INVALID_ARG, start, "number out of range");
		expr_free(e);
		return NULL;
	}
	if ((e->lit = json_real(d)) == NULL)
		goto nomem;
	return e;
nomem:
	nomem(p);
	expr_free(e);
	return NULL;
}

static struct expr *
parse_function(struct parser *p, const char *name, size_t namelen, size_t start)
{
	static const struct {
		const char	*name;
		enum fn		 fn;
		size_t		 nargs;
	} fns[] = {
		{ "length", FN_LENGTH, 1 }, { "count", FN_COUNT, 1 },
		{ "match", FN_MATCH, 2 }, { "search", FN_SEARCH, 2 },
		{ "value", FN_VALUE, 1 },
	};
	struct expr *e, *a;
	size_t i, k = sizeof(fns) / sizeof(fns[0]);

	for (i = 0; i < k; i++)
		if (strlen(fns[i].name) == namelen &&
		    memcmp(fns[i].name, name, namelen) == 0)
			break;
	if (i == k) {
		perr_at(p, KDC_ERR_INVALID_ARG, start, "unknown function");
		return NULL;
	}
	if ((e = new_expr(p, E_FUNC)) == NULL)
		return NULL;
	e->fn = fns[i].fn;
	p->pos++;	/* ( */
	if (!nest_in(p))
		goto bad;
	skip_ws(p);
	if (peek(p) != ')') {
		for (;;) {
			size_t at = p->pos;

			if ((a = parse_basic(p, true)) == NULL)
				goto bad;
			skip_ws(p);
			if (at_str(p, "&&") || at_str(p, "||")) {
				if (!is_testable(a)) {
					expr_free(a);
					perr_at(p, KDC_ERR_INVALID_ARG, at,
					    "operand of a logical operator is not a test");
					goto bad;
				}
				if ((a = parse_or_from(p, a)) == NULL)
					goto bad;
				skip_ws(p);
			}
			if (!add_kid(p, e, a))
				goto bad;
			if (peek(p) != ',')
				break;
			p->pos++;
			skip_ws(p);
		}
	}
	if (peek(p) != ')') {
		perr(p, "expected ',' or ')' in function arguments");
		goto bad;
	}
	p->pos++;
	p->nest--;
	if (e->n != fns[i].nargs) {
		perr_at(p, KDC_ERR_INVALID_ARG, start, "wrong number of arguments");
		goto bad;
	}
	/* §2.4.3 well-typedness of the arguments */
	for (k = 0; k < e->n; k++) {
		bool nodes = e->fn == FN_COUNT || e->fn == FN_VALUE;

		a = e->kids[k];
		if (nodes ? a->kind != E_QUERY : !is_value_type(a)) {
			perr_at(p, KDC_ERR_INVALID_ARG, start, nodes ?
			    "argument must be a query (NodesType)" :
			    "argument must be a value (ValueType)");
			goto bad;
		}
	}
	if ((e->fn == FN_MATCH || e->fn == FN_SEARCH) && e->kids[1]->kind == E_LIT) {
		json_t *s = e->kids[1]->lit;
		kdc_err r;

		if (!json_is_string(s))
			e->re_bad = true;
		else if ((r = kdc_iregexp_compile(json_string_value(s),
		    json_string_length(s), &e->re)) == KDC_ERR_NOMEM) {
			nomem(p);
			goto bad;
		} else if (r != KDC_OK)
			e->re_bad = true;
	}
	return e;
bad:
	expr_free(e);
	return NULL;
}

/* A comparable or test operand: literal, query or function. */
static struct expr *
parse_operand(struct parser *p)
{
	int c = peek(p);
	struct expr *e;

	if (c == '@' || c == '$') {
		if ((e = new_expr(p, E_QUERY)) == NULL)
			return NULL;
		p->pos++;
		if ((e->q = parse_query(p, c == '$')) == NULL) {
			expr_free(e);
			return NULL;
		}
		return e;
	}
	if (c == '\'' || c == '"') {
		char *s;
		size_t n;

		if (!parse_string(p, &s, &n))
			return NULL;
		if ((e = new_expr(p, E_LIT)) == NULL) {
			kdc_free(s);
			return NULL;
		}
		e->lit = json_stringn_nocheck(s, n);
		kdc_free(s);
		if (e->lit == NULL) {
			nomem(p);
			expr_free(e);
			return NULL;
		}
		return e;
	}
	if (c == '-' || is_digit(c))
		return parse_number(p);
	if (c >= 'a' && c <= 'z') {
		size_t start = p->pos, n;
		const char *name = (const char *)p->s + start;

		while (p->pos < p->len && ((p->s[p->pos] >= 'a' && p->s[p->pos] <= 'z') ||
		    is_digit(p->s[p->pos]) || p->s[p->pos] == '_'))
			p->pos++;
		n = p->pos - start;
		if (peek(p) == '(')
			return parse_function(p, name, n, start);
		if ((e = new_expr(p, E_LIT)) == NULL)
			return NULL;
		if (n == 4 && memcmp(name, "true", 4) == 0)
			e->lit = json_true();
		else if (n == 5 && memcmp(name, "false", 5) == 0)
			e->lit = json_false();
		else if (n == 4 && memcmp(name, "null", 4) == 0)
			e->lit = json_null();
		else {
			perr_at(p, KDC_ERR_INVALID_ARG, start,
			    "expected a literal, a query or a function");
			expr_free(e);
			return NULL;
		}
		return e;
	}
	perr(p, "expected a literal, a query or a function");
	return NULL;
}

static bool
parse_cmp_op(struct parser *p, enum cmp *op)
{
	static const struct {
		const char	*t;
		enum cmp	 op;
	} ops[] = {
		{ "==", CMP_EQ }, { "!=", CMP_NE }, { "<=", CMP_LE },
		{ ">=", CMP_GE }, { "<", CMP_LT }, { ">", CMP_GT },
	};
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (at_str(p, ops[i].t)) {
			p->pos += strlen(ops[i].t);
			*op = ops[i].op;
			return true;
		}
	return false;
}

/*
 * basic-expr: paren-expr / comparison-expr / test-expr. bare_ok (a function
 * argument): a literal or a ValueType function may stand alone.
 */
static struct expr *
parse_basic(struct parser *p, bool bare_ok)
{
	struct expr *e, *rhs, *c;
	size_t at = p->pos, save, rat;
	enum cmp op;

	if (peek(p) == '!') {
		p->pos++;
		skip_ws(p);
		at = p->pos;
		if (peek(p) == '(')
			return wrap(p, E_NOT, parse_basic(p, false));
		if ((e = parse_operand(p)) == NULL)
			return NULL;
		if (!is_testable(e)) {
			perr_at(p, KDC_ERR_INVALID_ARG, at, "'!' applies to a test only");
			expr_free(e);
			return NULL;
		}
		return wrap(p, E_NOT, e);
	}
	if (peek(p) == '(') {
		p->pos++;
		if (!nest_in(p))
			return NULL;
		skip_ws(p);
		if ((e = parse_or_from(p, NULL)) == NULL)
			return NULL;
		skip_ws(p);
		if (peek(p) != ')') {
			perr(p, "expected ')'");
			expr_free(e);
			return NULL;
		}
		p->pos++;
		p->nest--;
		return wrap(p, E_PAREN, e);
	}
	if ((e = parse_operand(p)) == NULL)
		return NULL;
	save = p->pos;
	skip_ws(p);
	if (!parse_cmp_op(p, &op)) {
		p->pos = save;
		if (!bare_ok && !is_testable(e)) {
			perr_at(p, KDC_ERR_INVALID_ARG, at, e->kind == E_LIT ?
			    "a literal must be compared" :
			    "a function of ValueType must be compared");
			expr_free(e);
			return NULL;
		}
		return e;
	}
	skip_ws(p);
	rat = p->pos;
	if ((rhs = parse_operand(p)) == NULL) {
		expr_free(e);
		return NULL;
	}
	if (!is_value_type(e) || !is_value_type(rhs)) {
		perr_at(p, KDC_ERR_INVALID_ARG, is_value_type(e) ? rat : at,
		    "comparison operand must be a literal, a singular query or a "
		    "ValueType function");
		expr_free(e);
		expr_free(rhs);
		return NULL;
	}
	if ((c = new_expr(p, E_CMP)) == NULL) {
		expr_free(e);
		expr_free(rhs);
		return NULL;
	}
	c->op = op;
	if (!add_kid(p, c, e)) {
		expr_free(rhs);
		expr_free(c);
		return NULL;
	}
	if (!add_kid(p, c, rhs)) {
		expr_free(c);
		return NULL;
	}
	return c;
}

/* Chain operands of op (&& or ||) after first (taken on every path). */
static struct expr *
parse_chain(struct parser *p, struct expr *first, const char *tok,
    enum expr_kind kind, struct expr *(*next)(struct parser *, struct expr *))
{
	struct expr *e = first, *k;
	size_t save;

	for (;;) {
		save = p->pos;
		skip_ws(p);
		if (!at_str(p, tok)) {
			p->pos = save;
			return e;
		}
		p->pos += 2;
		skip_ws(p);
		if ((k = next(p, NULL)) == NULL) {
			expr_free(e);
			return NULL;
		}
		if (e->kind != kind) {
			if ((e = wrap(p, kind, e)) == NULL) {
				expr_free(k);
				return NULL;
			}
		}
		if (!add_kid(p, e, k)) {
			expr_free(e);
			return NULL;
		}
	}
}

static struct expr *
parse_basic_next(struct parser *p, struct expr *first)
{
	(void)first;
	return parse_basic(p, false);
}

/* logical-and-expr, its first operand already parsed when first != NULL */
static struct expr *
parse_and_from(struct parser *p, struct expr *first)
{
	if (first == NULL && (first = parse_basic(p, false)) == NULL)
		return NULL;
	return parse_chain(p, first, "&&", E_AND, parse_basic_next);
}

/* logical-or-expr, likewise */
static struct expr *
parse_or_from(struct parser *p, struct expr *first)
{
	struct expr *e;

	if ((e = parse_and_from(p, first)) == NULL)
		return NULL;
	return parse_chain(p, e, "||", E_OR, parse_and_from);
}

static bool
name_first(const struct parser *p)
{
	int c = peek(p);

	return c >= 0x80 || is_alpha(c) || c == '_';
}

/* member-name-shorthand at p->pos into *s. */
static bool
parse_shorthand(struct parser *p, struct sel *s)
{
	size_t start = p->pos;

	while (p->pos < p->len && (name_first(p) || is_digit(peek(p))))
		p->pos++;
	s->kind = SEL_NAME;
	s->namelen = p->pos - start;
	if ((s->name = kdc_strndup((const char *)p->s + start, s->namelen)) == NULL) {
		nomem(p);
		return false;
	}
	return true;
}

static bool
parse_selector(struct parser *p, struct sel *s)
{
	int c = peek(p);

	if (c == '\'' || c == '"') {
		s->kind = SEL_NAME;
		return parse_string(p, &s->name, &s->namelen);
	}
	if (c == '*') {
		p->pos++;
		s->kind = SEL_WILD;
		return true;
	}
	if (c == '?') {
		p->pos++;
		if (!nest_in(p))
			return false;
		skip_ws(p);
		s->kind = SEL_FILTER;
		if ((s->filter = parse_or_from(p, NULL)) == NULL)
			return false;
		p->nest--;
		return true;
	}
	if (c == '-' || is_digit(c) || c == ':') {
		size_t save;

		s->kind = SEL_INDEX;
		if (c != ':') {
			if (!parse_int(p, &s->idx))
				return false;
			s->has_start = true;
			s->start = s->idx;
		}
		save = p->pos;
		skip_ws(p);
		if (peek(p) != ':') {
			p->pos = save;
			return true;
		}
		p->pos++;
		s->kind = SEL_SLICE;
		s->step = 1;
		skip_ws(p);
		if (peek(p) == '-' || is_digit(peek(p))) {
			if (!parse_int(p, &s->end))
				return false;
			s->has_end = true;
			skip_ws(p);
		}
		if (peek(p) == ':') {
			p->pos++;
			skip_ws(p);
			if (peek(p) == '-' || is_digit(peek(p))) {
				if (!parse_int(p, &s->step))
					return false;
			}
		}
		return true;
	}
	perr(p, "expected a selector");
	return false;
}

static bool
add_sel(struct parser *p, struct seg *g, struct sel **s)
{
	struct sel *v;

	if ((v = kdc_realloc(g->sel, (g->nsel + 1) * sizeof(*v))) == NULL) {
		nomem(p);
		return false;
	}
	g->sel = v;
	*s = &g->sel[g->nsel++];
	memset(*s, 0, sizeof(**s));
	return true;
}

static bool
parse_bracketed(struct parser *p, struct seg *g)
{
	struct sel *s;

	p->pos++;	/* [ */
	if (!nest_in(p))
		return false;
	for (;;) {
		skip_ws(p);
		if (!add_sel(p, g, &s) || !parse_selector(p, s))
			return false;
		skip_ws(p);
		if (peek(p) == ']')
			break;
		if (peek(p) != ',') {
			perr(p, "expected ',' or ']'");
			return false;
		}
		p->pos++;
	}
	p->pos++;
	p->nest--;
	return true;
}

/* The segments after `$` or `@`. */
static struct query *
parse_query(struct parser *p, bool abs)
{
	struct query *q;
	size_t i;

	if ((q = kdc_calloc(1, sizeof(*q))) == NULL) {
		nomem(p);
		return NULL;
	}
	q->abs = abs;
	for (;;) {
		size_t save = p->pos;
		struct seg *g;
		struct sel *s;
		int c;

		skip_ws(p);
		c = peek(p);
		if (c != '[' && c != '.') {
			p->pos = save;
			break;
		}
		g = kdc_realloc(q->seg, (q->nseg + 1) * sizeof(*g));
		if (g == NULL) {
			nomem(p);
			goto bad;
		}
		q->seg = g;
		g = &q->seg[q->nseg++];
		memset(g, 0, sizeof(*g));
		if (c == '[') {
			if (!parse_bracketed(p, g))
				goto bad;
			continue;
		}
		p->pos++;
		if (peek(p) == '.') {
			g->desc = true;
			p->pos++;
			if (peek(p) == '[') {
				if (!parse_bracketed(p, g))
					goto bad;
				continue;
			}
		}
		if (!add_sel(p, g, &s))
			goto bad;
		if (peek(p) == '*') {
			p->pos++;
			s->kind = SEL_WILD;
		} else if (name_first(p)) {
			if (!parse_shorthand(p, s))
				goto bad;
		} else {
			perr(p, "expected a member name or '*'");
			goto bad;
		}
	}
	q->singular = true;
	for (i = 0; i < q->nseg; i++)
		if (q->seg[i].desc || q->seg[i].nsel != 1 ||
		    (q->seg[i].sel[0].kind != SEL_NAME &&
		    q->seg[i].sel[0].kind != SEL_INDEX))
			q->singular = false;
	return q;
bad:
	query_free(q);
	return NULL;
}

static bool expr_has_abs(const struct expr *e);

/* Does a filter of q's segments hold a `$` query? */
static bool
segs_have_abs(const struct query *q)
{
	size_t i, j;

	for (i = 0; i < q->nseg; i++)
		for (j = 0; j < q->seg[i].nsel; j++)
			if (q->seg[i].sel[j].filter != NULL &&
			    expr_has_abs(q->seg[i].sel[j].filter))
				return true;
	return false;
}

static bool
expr_has_abs(const struct expr *e)
{
	size_t i;

	if (e->q != NULL && (e->q->abs || segs_have_abs(e->q)))
		return true;
	for (i = 0; i < e->n; i++)
		if (expr_has_abs(e->kids[i]))
			return true;
	return false;
}

kdc_err
kdc_jsonpath_parse(const char *q, size_t len, struct kdc_jsonpath **out,
    char *why, size_t whylen)
{
	struct parser p;
	struct kdc_jsonpath *jp = NULL;
	struct query *root;
	size_t bad;

	*out = NULL;
	if (why != NULL && whylen > 0)
		why[0] = '\0';
	memset(&p, 0, sizeof(p));
	p.s = (const uint8_t *)q;
	p.len = len;
	p.why = why;
	p.whylen = whylen;
	if (len > KDC_JSONPATH_LEN_MAX) {
		perr_at(&p, KDC_ERR_TOO_LARGE, KDC_JSONPATH_LEN_MAX, "query too long");
		return p.err;
	}
	if ((bad = utf8_bad_at(p.s, len)) < len) {
		perr_at(&p, KDC_ERR_INVALID_ARG, bad, "not UTF-8");
		return p.err;
	}
	if (peek(&p) != '$') {
		perr(&p, "a query starts with '$'");
		return p.err;
	}
	p.pos++;
	if ((root = parse_query(&p, true)) == NULL)
		return p.err;
	if (p.pos != len) {
		perr(&p, "unexpected character");
		query_free(root);
		return p.err;
	}
	if ((jp = kdc_calloc(1, sizeof(*jp))) == NULL) {
		query_free(root);
		return KDC_ERR_NOMEM;
	}
	jp->q = root;
	if (root->nseg > 0 && !root->seg[0].desc && root->seg[0].nsel == 1 &&
	    (root->seg[0].sel[0].kind == SEL_WILD ||
	    root->seg[0].sel[0].kind == SEL_FILTER)) {
		jp->per_member = !segs_have_abs(root);
	}
	*out = jp;
	return KDC_OK;
}

bool
kdc_jsonpath_per_member(const struct kdc_jsonpath *q)
{
	return q->per_member;
}

/* ------------------------------------------------------------ evaluate */

struct ctx {
	const json_t	*root;
	size_t		*budget;
	unsigned	 depth;
};

static kdc_err
tick(struct ctx *x)
{
	if (*x->budget == 0)
		return KDC_ERR_TOO_LARGE;
	(*x->budget)--;
	return KDC_OK;
}

static kdc_err
push(json_t *list, const json_t *v)
{
	return json_array_append(list, (json_t *)(uintptr_t)v) == 0 ?
	    KDC_OK : KDC_ERR_NOMEM;
}

static kdc_err eval_logical(struct ctx *x, const struct expr *e, const json_t *cur,
    bool *b);
static kdc_err eval_segs(struct ctx *x, const struct query *q, size_t from,
    json_t *in, json_t *out);

static kdc_err
select_one(struct ctx *x, const struct sel *s, const json_t *node, json_t *out)
{
	const json_t *v;
	const char *key;
	size_t i, n;
	bool b;
	kdc_err r;

	switch (s->kind) {
	case SEL_NAME:
		if (json_is_object(node) &&
		    (v = json_object_getn(node, s->name, s->namelen)) != NULL) {
			if ((r = tick(x)) != KDC_OK)
				return r;
			return push(out, v);
		}
		return KDC_OK;
	case SEL_INDEX:
		if (json_is_array(node)) {
			long long len = (long long)json_array_size(node);
			long long i2 = s->idx < 0 ? len + s->idx : s->idx;

			if (i2 >= 0 && i2 < len) {
				if ((r = tick(x)) != KDC_OK)
					return r;
				return push(out, json_array_get(node, (size_t)i2));
			}
		}
		return KDC_OK;
	case SEL_SLICE:
		if (json_is_array(node) && s->step != 0) {
			long long len = (long long)json_array_size(node);
			long long st, en, lo, hi, k;

			if (s->step > 0) {
				st = s->has_start ? s->start : 0;
				en = s->has_end ? s->end : len;
			} else {
				st = s->has_start ? s->start : len - 1;
				en = s->has_end ? s->end : -len - 1;
			}
			st = st >= 0 ? st : len + st;
			en = en >= 0 ? en : len + en;
			if (s->step > 0) {
				lo = st < 0 ? 0 : (st > len ? len : st);
				hi = en < 0 ? 0 : (en > len ? len : en);
				for (k = lo; k < hi; k += s->step) {
					if ((r = tick(x)) != KDC_OK ||
					    (r = push(out, json_array_get(node, (size_t)k))) != KDC_OK)
						return r;
				}
			} else {
				hi = st < -1 ? -1 : (st > len - 1 ? len - 1 : st);
				lo = en < -1 ? -1 : (en > len - 1 ? len - 1 : en);
				for (k = hi; lo < k; k += s->step) {
					if ((r = tick(x)) != KDC_OK ||
					    (r = push(out, json_array_get(node, (size_t)k))) != KDC_OK)
						return r;
				}
			}
		}
		return KDC_OK;
	case SEL_WILD:
	case SEL_FILTER:
		break;
	}
	/* wildcard and filter: each child in order */
	if (json_is_array(node)) {
		n = json_array_size(node);
		for (i = 0; i < n; i++) {
			v = json_array_get(node, i);
			if ((r = tick(x)) != KDC_OK)
				return r;
			if (s->kind == SEL_FILTER) {
				if ((r = eval_logical(x, s->filter, v, &b)) != KDC_OK)
					return r;
				if (!b)
					continue;
			}
			if ((r = push(out, v)) != KDC_OK)
				return r;
		}
	} else if (json_is_object(node)) {
		json_t *obj = (json_t *)(uintptr_t)node, *val;

		json_object_foreach(obj, key, val) {
			(void)key;
			if ((r = tick(x)) != KDC_OK)
				return r;
			if (s->kind == SEL_FILTER) {
				if ((r = eval_logical(x, s->filter, val, &b)) != KDC_OK)
					return r;
				if (!b)
					continue;
			}
			if ((r = push(out, val)) != KDC_OK)
				return r;
		}
	}
	return KDC_OK;
}

static kdc_err
select_all(struct ctx *x, const struct seg *g, const json_t *node, json_t *out)
{
	size_t i;
	kdc_err r;

	for (i = 0; i < g->nsel; i++)
		if ((r = select_one(x, &g->sel[i], node, out)) != KDC_OK)
			return r;
	return KDC_OK;
}

/* Descendant segment: node, then its descendants in document order. */
static kdc_err
descend(struct ctx *x, const struct seg *g, const json_t *node, json_t *out)
{
	size_t i, n;
	kdc_err r;

	if (++x->depth > KDC_JSONPATH_DEPTH_MAX)
		return KDC_ERR_TOO_LARGE;
	if ((r = tick(x)) != KDC_OK || (r = select_all(x, g, node, out)) != KDC_OK)
		goto out;
	if (json_is_array(node)) {
		n = json_array_size(node);
		for (i = 0; i < n; i++)
			if ((r = descend(x, g, json_array_get(node, i), out)) != KDC_OK)
				goto out;
	} else if (json_is_object(node)) {
		json_t *obj = (json_t *)(uintptr_t)node, *val;
		const char *key;

		json_object_foreach(obj, key, val) {
			(void)key;
			if ((r = descend(x, g, val, out)) != KDC_OK)
				goto out;
		}
	}
out:
	x->depth--;
	return r;
}

/* Apply q's segments [from, nseg) to the nodelist in (consumed), into out. */
static kdc_err
eval_segs(struct ctx *x, const struct query *q, size_t from, json_t *in, json_t *out)
{
	json_t *next = NULL;
	size_t i, k;
	kdc_err r = KDC_OK;

	for (i = from; i < q->nseg; i++) {
		const struct seg *g = &q->seg[i];

		if (i + 1 == q->nseg)
			next = json_incref(out);
		else if ((next = json_array()) == NULL) {
			r = KDC_ERR_NOMEM;
			goto out;
		}
		for (k = 0; k < json_array_size(in); k++) {
			const json_t *node = json_array_get(in, k);

			r = g->desc ? descend(x, g, node, next) : select_all(x, g, node, next);
			if (r != KDC_OK)
				goto out;
		}
		json_decref(in);
		in = next;
		next = NULL;
	}
	if (from == q->nseg && json_array_extend(out, in) != 0)
		r = KDC_ERR_NOMEM;
out:
	json_decref(next);
	json_decref(in);
	return r;
}

static kdc_err
eval_query(struct ctx *x, const struct query *q, const json_t *cur, json_t *out)
{
	json_t *in;
	kdc_err r;

	if (++x->depth > KDC_JSONPATH_DEPTH_MAX) {
		x->depth--;
		return KDC_ERR_TOO_LARGE;
	}
	if ((in = json_array()) == NULL || push(in, q->abs ? x->root : cur) != KDC_OK) {
		json_decref(in);
		x->depth--;
		return KDC_ERR_NOMEM;
	}
	r = eval_segs(x, q, 0, in, out);
	x->depth--;
	return r;
}

/* A singular query's one node, or NULL (Nothing). */
static kdc_err
singular_get(struct ctx *x, const struct query *q, const json_t *cur,
    const json_t **v)
{
	const json_t *n = q->abs ? x->root : cur;
	size_t i;
	kdc_err r;

	*v = NULL;
	for (i = 0; i < q->nseg && n != NULL; i++) {
		const struct sel *s = &q->seg[i].sel[0];

		if ((r = tick(x)) != KDC_OK)
			return r;
		if (s->kind == SEL_NAME)
			n = json_is_object(n) ? json_object_getn(n, s->name, s->namelen) : NULL;
		else if (json_is_array(n)) {
			long long len = (long long)json_array_size(n);
			long long k = s->idx < 0 ? len + s->idx : s->idx;

			n = k >= 0 && k < len ? json_array_get(n, (size_t)k) : NULL;
		} else
			n = NULL;
	}
	*v = n;
	return KDC_OK;
}

/* A ValueType expression: *v a new reference, or NULL for Nothing. */
static kdc_err
eval_value(struct ctx *x, const struct expr *e, const json_t *cur, json_t **v)
{
	const json_t *c;
	json_t *a = NULL, *nodes = NULL;
	kdc_err r = KDC_OK;

	*v = NULL;
	switch (e->kind) {
	case E_LIT:
		*v = json_incref(e->lit);
		return KDC_OK;
	case E_QUERY:
		if ((r = singular_get(x, e->q, cur, &c)) != KDC_OK)
			return r;
		*v = json_incref((json_t *)(uintptr_t)c);
		return KDC_OK;
	case E_FUNC:
		break;
	default:
		return KDC_ERR_INVALID_ARG;	/* the parser's types forbid it */
	}
	switch (e->fn) {
	case FN_LENGTH:
		if ((r = eval_value(x, e->kids[0], cur, &a)) != KDC_OK)
			return r;
		if (json_is_string(a)) {
			const char *s = json_string_value(a);
			size_t i, n = json_string_length(a), k = 0;

			for (i = 0; i < n; i++)
				if (((unsigned char)s[i] & 0xc0) != 0x80)
					k++;
			*v = json_integer((json_int_t)k);
		} else if (json_is_array(a))
			*v = json_integer((json_int_t)json_array_size(a));
		else if (json_is_object(a))
			*v = json_integer((json_int_t)json_object_size(a));
		else
			goto out;
		if (*v == NULL)
			r = KDC_ERR_NOMEM;
		goto out;
	case FN_COUNT:
	case FN_VALUE:
		if ((nodes = json_array()) == NULL)
			return KDC_ERR_NOMEM;
		if ((r = eval_query(x, e->kids[0]->q, cur, nodes)) != KDC_OK)
			goto out;
		if (e->fn == FN_COUNT) {
			if ((*v = json_integer((json_int_t)json_array_size(nodes))) == NULL)
				r = KDC_ERR_NOMEM;
		} else if (json_array_size(nodes) == 1)
			*v = json_incref(json_array_get(nodes, 0));
		goto out;
	default:
		return KDC_ERR_INVALID_ARG;
	}
out:
	json_decref(a);
	json_decref(nodes);
	return r;
}

static bool
num_lt(const json_t *a, const json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b))
		return json_integer_value(a) < json_integer_value(b);
	return json_number_value(a) < json_number_value(b);
}

static bool
num_eq(const json_t *a, const json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b))
		return json_integer_value(a) == json_integer_value(b);
	return json_number_value(a) == json_number_value(b);
}

/* Deep equality (numbers by value); 1, 0, or a negative kdc_err. */
static int
deep_eq(struct ctx *x, const json_t *a, const json_t *b, unsigned depth)
{
	size_t i, n;
	int k;

	if (depth > KDC_JSONPATH_DEPTH_MAX || tick(x) != KDC_OK)
		return KDC_ERR_TOO_LARGE;
	if (json_is_number(a) && json_is_number(b))
		return num_eq(a, b);
	if (json_typeof(a) != json_typeof(b))
		return 0;
	switch (json_typeof(a)) {
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		    memcmp(json_string_value(a), json_string_value(b),
		    json_string_length(a)) == 0;
	case JSON_ARRAY:
		if ((n = json_array_size(a)) != json_array_size(b))
			return 0;
		for (i = 0; i < n; i++)
			if ((k = deep_eq(x, json_array_get(a, i), json_array_get(b, i),
			    depth + 1)) != 1)
				return k;
		return 1;
	case JSON_OBJECT: {
		json_t *obj = (json_t *)(uintptr_t)a, *val, *o;
		const char *key;
		size_t keylen;

		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_keylen_foreach(obj, key, keylen, val) {
			if ((o = json_object_getn(b, key, keylen)) == NULL)
				return 0;
			if ((k = deep_eq(x, val, o, depth + 1)) != 1)
				return k;
		}
		return 1;
	}
	default:
		return 1;	/* true, false, null */
	}
}

static bool
value_lt(const json_t *a, const json_t *b)
{
	size_t la, lb;
	int c;

	if (a == NULL || b == NULL)
		return false;
	if (json_is_number(a) && json_is_number(b))
		return num_lt(a, b);
	if (json_is_string(a) && json_is_string(b)) {
		/* UTF-8 byte order is code point order */
		la = json_string_length(a);
		lb = json_string_length(b);
		c = memcmp(json_string_value(a), json_string_value(b), la < lb ? la : lb);
		return c < 0 || (c == 0 && la < lb);
	}
	return false;
}

static kdc_err
compare(struct ctx *x, enum cmp op, const json_t *a, const json_t *b, bool *res)
{
	int eq;

	if (a == NULL || b == NULL)
		eq = a == b;
	else if ((eq = deep_eq(x, a, b, 0)) < 0)
		return (kdc_err)eq;
	switch (op) {
	case CMP_EQ: *res = eq; break;
	case CMP_NE: *res = !eq; break;
	case CMP_LT: *res = value_lt(a, b); break;
	case CMP_LE: *res = eq || value_lt(a, b); break;
	case CMP_GT: *res = value_lt(b, a); break;
	case CMP_GE: *res = eq || value_lt(b, a); break;
	}
	return KDC_OK;
}

static kdc_err
eval_regex(struct ctx *x, const struct expr *e, const json_t *cur, bool *b)
{
	json_t *s = NULL, *pat = NULL;
	struct kdc_iregexp *re = NULL;
	const struct kdc_iregexp *use = e->re;
	kdc_err r;

	*b = false;
	if ((r = eval_value(x, e->kids[0], cur, &s)) != KDC_OK)
		goto out;
	if (!json_is_string(s) || e->re_bad)
		goto out;
	if (use == NULL) {
		if ((r = eval_value(x, e->kids[1], cur, &pat)) != KDC_OK)
			goto out;
		if (!json_is_string(pat))
			goto out;
		/* compiling a pattern from the document is work too */
		if (*x->budget < 1 + json_string_length(pat) / 8) {
			*x->budget = 0;
			r = KDC_ERR_TOO_LARGE;
			goto out;
		}
		*x->budget -= 1 + json_string_length(pat) / 8;
		r = kdc_iregexp_compile(json_string_value(pat),
		    json_string_length(pat), &re);
		if (r == KDC_ERR_NOMEM)
			goto out;
		r = KDC_OK;
		if (re == NULL)
			goto out;	/* not an I-Regexp: LogicalFalse */
		use = re;
	}
	r = kdc_iregexp_exec(use, json_string_value(s), json_string_length(s),
	    e->fn == FN_MATCH, b, x->budget);
out:
	kdc_iregexp_free(re);
	json_decref(s);
	json_decref(pat);
	return r;
}

static kdc_err
eval_logical(struct ctx *x, const struct expr *e, const json_t *cur, bool *b)
{
	json_t *l = NULL, *rv = NULL, *nodes;
	const json_t *c;
	size_t i;
	kdc_err r = KDC_OK;

	*b = false;
	if (++x->depth > KDC_JSONPATH_DEPTH_MAX) {
		x->depth--;
		return KDC_ERR_TOO_LARGE;
	}
	switch (e->kind) {
	case E_OR:
	case E_AND:
		for (i = 0; i < e->n; i++) {
			if ((r = eval_logical(x, e->kids[i], cur, b)) != KDC_OK)
				break;
			if (*b == (e->kind == E_OR))
				break;
		}
		break;
	case E_NOT:
		if ((r = eval_logical(x, e->kids[0], cur, b)) == KDC_OK)
			*b = !*b;
		break;
	case E_PAREN:
		r = eval_logical(x, e->kids[0], cur, b);
		break;
	case E_CMP:
		if ((r = eval_value(x, e->kids[0], cur, &l)) == KDC_OK &&
		    (r = eval_value(x, e->kids[1], cur, &rv)) == KDC_OK)
			r = compare(x, e->op, l, rv, b);
		json_decref(l);
		json_decref(rv);
		break;
	case E_QUERY:
		if (e->q->singular) {
			if ((r = singular_get(x, e->q, cur, &c)) == KDC_OK)
				*b = c != NULL;
			break;
		}
		if ((nodes = json_array()) == NULL) {
			r = KDC_ERR_NOMEM;
			break;
		}
		if ((r = eval_query(x, e->q, cur, nodes)) == KDC_OK)
			*b = json_array_size(nodes) > 0;
		json_decref(nodes);
		break;
	case E_FUNC:
		r = eval_regex(x, e, cur, b);
		break;
	case E_LIT:
		r = KDC_ERR_INVALID_ARG;	/* the parser's types forbid it */
		break;
	}
	x->depth--;
	return r;
}

kdc_err
kdc_jsonpath_eval(const struct kdc_jsonpath *q, const json_t *root, json_t *out,
    size_t *budget)
{
	struct ctx x;

	if (!json_is_array(out))
		return KDC_ERR_INVALID_ARG;
	memset(&x, 0, sizeof(x));
	x.root = root;
	x.budget = budget;
	return eval_query(&x, q->q, root, out);
}

kdc_err
kdc_jsonpath_eval_member(const struct kdc_jsonpath *q, const json_t *member,
    json_t *out, size_t *budget)
{
	const struct sel *s;
	struct ctx x;
	json_t *in;
	bool b = true;
	kdc_err r;

	if (!q->per_member || !json_is_array(out))
		return KDC_ERR_INVALID_ARG;
	memset(&x, 0, sizeof(x));
	x.root = member;	/* never read: per_member has no `$` in filters */
	x.budget = budget;
	s = &q->q->seg[0].sel[0];
	if ((r = tick(&x)) != KDC_OK)
		return r;
	if (s->kind == SEL_FILTER &&
	    (r = eval_logical(&x, s->filter, member, &b)) != KDC_OK)
		return r;
	if (!b)
		return KDC_OK;
	if ((in = json_array()) == NULL || push(in, member) != KDC_OK) {
		json_decref(in);
		return KDC_ERR_NOMEM;
	}
	return eval_segs(&x, q->q, 1, in, out);
}

/* ------------------------------------------------------------ required */

#define RSET_MAX	16

struct rpath {
	const char	*n[2];
	size_t		 l[2];
	int		 k;
};

struct rset {
	struct rpath	 p[RSET_MAX];
	size_t		 n;
};

static bool
rpath_implied(const struct rpath *p, const struct rset *s)
{
	size_t i;
	int j;

	for (i = 0; i < s->n; i++) {
		if (s->p[i].k < p->k)
			continue;
		for (j = 0; j < p->k; j++)
			if (s->p[i].l[j] != p->l[j] ||
			    memcmp(s->p[i].n[j], p->n[j], p->l[j]) != 0)
				break;
		if (j == p->k)
			return true;
	}
	return false;
}

static void
rset_add(struct rset *s, const struct rpath *p)
{
	if (p->k > 0 && s->n < RSET_MAX)
		s->p[s->n++] = *p;
}

/* The leading member names of a relative query (at most 2). */
static void
path_of(const struct query *q, struct rpath *p)
{
	size_t i;

	p->k = 0;
	if (q->abs)
		return;
	for (i = 0; i < q->nseg && p->k < 2; i++) {
		const struct seg *g = &q->seg[i];

		if (g->desc || g->nsel != 1 || g->sel[0].kind != SEL_NAME ||
		    memchr(g->sel[0].name, '\x1f', g->sel[0].namelen) != NULL ||
		    memchr(g->sel[0].name, '\0', g->sel[0].namelen) != NULL)
			return;
		p->n[p->k] = g->sel[0].name;
		p->l[p->k] = g->sel[0].namelen;
		p->k++;
	}
}

/* The path that must exist for value expression e not to be Nothing. */
static void
side_path(const struct expr *e, struct rpath *p)
{
	p->k = 0;
	if (e->kind == E_QUERY)
		path_of(e->q, p);
	else if (e->kind == E_FUNC && e->fn == FN_LENGTH)
		side_path(e->kids[0], p);
	else if (e->kind == E_FUNC && e->fn == FN_VALUE)
		path_of(e->kids[0]->q, p);
}

static bool
never_nothing(const struct expr *e)
{
	return e->kind == E_LIT || (e->kind == E_FUNC && e->fn == FN_COUNT);
}

static void
req(const struct expr *e, struct rset *s)
{
	struct rpath a, b;
	struct rset x, y, z;
	size_t i, j;

	switch (e->kind) {
	case E_AND:
		for (i = 0; i < e->n; i++)
			req(e->kids[i], s);
		return;
	case E_OR:
		x.n = 0;
		req(e->kids[0], &x);
		for (i = 1; i < e->n; i++) {
			y.n = 0;
			req(e->kids[i], &y);
			z.n = 0;
			for (j = 0; j < x.n; j++) {
				a = x.p[j];
				if (rpath_implied(&a, &y))
					rset_add(&z, &a);
				else if (a.k == 2) {
					a.k = 1;
					if (rpath_implied(&a, &y))
						rset_add(&z, &a);
				}
			}
			x = z;
		}
		for (j = 0; j < x.n; j++)
			rset_add(s, &x.p[j]);
		return;
	case E_PAREN:
		req(e->kids[0], s);
		return;
	case E_QUERY:
		path_of(e->q, &a);
		rset_add(s, &a);
		return;
	case E_CMP:
		side_path(e->kids[0], &a);
		side_path(e->kids[1], &b);
		if (e->op == CMP_LT || e->op == CMP_GT) {
			rset_add(s, &a);
			rset_add(s, &b);
		} else if (e->op != CMP_NE) {
			if (never_nothing(e->kids[1]))
				rset_add(s, &a);
			if (never_nothing(e->kids[0]))
				rset_add(s, &b);
		}
		return;
	case E_FUNC:
		if (e->fn == FN_MATCH || e->fn == FN_SEARCH) {
			side_path(e->kids[0], &a);
			rset_add(s, &a);
			side_path(e->kids[1], &b);
			rset_add(s, &b);
		}
		return;
	default:
		return;	/* `!` and literals require nothing */
	}
}

size_t
kdc_jsonpath_required(const struct kdc_jsonpath *q,
    char (*paths)[KDC_JSONPATH_KEY_MAX], size_t max)
{
	const struct query *root = q->q;
	struct rset s;
	size_t i, j, n = 0;

	if (root->nseg == 0 || root->seg[0].desc || root->seg[0].nsel != 1 ||
	    root->seg[0].sel[0].kind != SEL_FILTER)
		return 0;
	s.n = 0;
	req(root->seg[0].sel[0].filter, &s);
	for (i = 0; i < s.n && n < max; i++) {
		struct rpath *p = &s.p[i];
		char buf[KDC_JSONPATH_KEY_MAX];

		if (p->k == 2 && p->l[0] + 1 + p->l[1] >= KDC_JSONPATH_KEY_MAX)
			p->k = 1;
		if (p->l[0] >= KDC_JSONPATH_KEY_MAX)
			continue;
		memcpy(buf, p->n[0], p->l[0]);
		buf[p->l[0]] = '\0';
		if (p->k == 2) {
			buf[p->l[0]] = '\x1f';
			memcpy(buf + p->l[0] + 1, p->n[1], p->l[1]);
			buf[p->l[0] + 1 + p->l[1]] = '\0';
		}
		for (j = 0; j < n; j++)
			if (strcmp(paths[j], buf) == 0)
				break;
		if (j == n)
			memcpy(paths[n++], buf, strlen(buf) + 1);
	}
	return n;
}

/* F of kdc_jsonpath_index_exact(): existence tests of 1 or 2 names
 * under && and parentheses. */
static bool
exact_expr(const struct expr *e)
{
	struct rpath p;
	size_t i;

	switch (e->kind) {
	case E_AND:
		for (i = 0; i < e->n; i++)
			if (!exact_expr(e->kids[i]))
				return false;
		return true;
	case E_PAREN:
		return exact_expr(e->kids[0]);
	case E_QUERY:
		if (e->q->abs || e->q->nseg == 0 || e->q->nseg > 2)
			return false;
		path_of(e->q, &p);
		if ((size_t)p.k != e->q->nseg || p.l[0] >= KDC_JSONPATH_KEY_MAX)
			return false;
		return p.k == 1 || p.l[0] + 1 + p.l[1] < KDC_JSONPATH_KEY_MAX;
	default:
		return false;
	}
}

bool
kdc_jsonpath_index_exact(const struct kdc_jsonpath *q)
{
	const struct query *root = q->q;

	return q->per_member && root->nseg == 1 && !root->seg[0].desc &&
	    root->seg[0].nsel == 1 && root->seg[0].sel[0].kind == SEL_FILTER &&
	    exact_expr(root->seg[0].sel[0].filter);
}
