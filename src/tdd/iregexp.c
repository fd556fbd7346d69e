/*
 * iregexp.c: I-Regexp (RFC 9485) compiled to a Pike VM program (see
 * iregexp.h). Jumps are relative to their own instruction, so a compiled
 * fragment can be copied (counted repetition) or shifted (a SPLIT put in
 * front of it) with memcpy/memmove.
 */
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "tdd/iregexp.h"

extern const size_t kdc_ucd_gc_n;
extern const uint32_t kdc_ucd_gc[];

enum { OP_CHAR, OP_ANY, OP_CLASS, OP_SPLIT, OP_JMP, OP_MATCH, OP_BOL, OP_EOL };

struct insn {
	uint8_t		op;
	int32_t		x, y;		/* CHAR: code point; CLASS: index; jumps: offsets */
};

/* A class item: a range of code points, or a set of categories. */
struct citem {
	uint32_t	lo, hi;		/* range; or lo = category mask, hi = UINT32_MAX */
	bool		neg;		/* \P{..} */
};

struct cclass {
	bool		neg;
	size_t		first, n;	/* items[first, first + n) */
};

struct kdc_iregexp {
	struct insn	*prog;
	size_t		 nprog;
	struct cclass	*classes;
	size_t		 nclasses;
	struct citem	*items;
	size_t		 nitems;
};

struct comp {
	const uint8_t	*s;
	size_t		 len, pos;
	int		 depth;
	struct kdc_iregexp *re;
	size_t		 cap_prog, cap_classes, cap_items;
	kdc_err		 err;
};

#define CAT_L	0x1fu
#define CAT_M	(0x7u << 5)
#define CAT_N	(0x7u << 8)
#define CAT_P	(0x7fu << 11)
#define CAT_S	(0xfu << 18)
#define CAT_Z	(0x7u << 22)
#define CAT_C	(0x1fu << 25)

unsigned
kdc_ucd_category(unsigned long c)
{
	size_t lo = 0, hi = kdc_ucd_gc_n;

	if (c > 0x10ffff)
		return 29;
	/* the last entry whose first code point is <= c */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if ((kdc_ucd_gc[mid] >> 5) <= c)
			lo = mid;
		else
			hi = mid;
	}
	return kdc_ucd_gc[lo] & 0x1f;
}

/* Decode one UTF-8 code point of s[*i, len); -1 on a bad sequence. */
static long
utf8_next(const uint8_t *s, size_t len, size_t *i)
{
	uint8_t c = s[*i];
	unsigned long v;
	size_t k, j;

	if (c < 0x80) {
		(*i)++;
		return c;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		k = 1;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		k = 2;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		k = 3;
		v = c & 0x07;
	} else
		return -1;
	if (len - *i <= k)
		return -1;
	for (j = 1; j <= k; j++) {
		if ((s[*i + j] & 0xc0) != 0x80)
			return -1;
		v = (v << 6) | (s[*i + j] & 0x3f);
	}
	if ((k == 2 && v < 0x800) || (k == 3 && (v < 0x10000 || v > 0x10ffff)) ||
	    (v >= 0xd800 && v <= 0xdfff))
		return -1;
	*i += k + 1;
	return (long)v;
}

static bool
fail(struct comp *c, kdc_err r)
{
	if (c->err == KDC_OK)
		c->err = r;
	return false;
}

static bool
emit(struct comp *c, uint8_t op, int32_t x, int32_t y)
{
	struct kdc_iregexp *re = c->re;

	if (re->nprog >= KDC_IREGEXP_PROG_MAX)
		return fail(c, KDC_ERR_TOO_LARGE);
	if (re->nprog == c->cap_prog) {
		size_t cap = c->cap_prog ? c->cap_prog * 2 : 32;
		struct insn *p = kdc_realloc(re->prog, cap * sizeof(*p));

		if (p == NULL)
			return fail(c, KDC_ERR_NOMEM);
		re->prog = p;
		c->cap_prog = cap;
	}
	re->prog[re->nprog].op = op;
	re->prog[re->nprog].x = x;
	re->prog[re->nprog].y = y;
	re->nprog++;
	return true;
}

/* Insert an instruction at s, shifting [s, nprog) up by one. */
static bool
insert(struct comp *c, size_t s, uint8_t op, int32_t x, int32_t y)
{
	struct kdc_iregexp *re = c->re;

	if (!emit(c, OP_MATCH, 0, 0))
		return false;
	memmove(&re->prog[s + 1], &re->prog[s],
	    (re->nprog - 1 - s) * sizeof(re->prog[0]));
	re->prog[s].op = op;
	re->prog[s].x = x;
	re->prog[s].y = y;
	return true;
}

/* Append a copy of prog[s, s + n). */
static bool
copy_frag(struct comp *c, size_t s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct insn in = c->re->prog[s + i];

		if (!emit(c, in.op, in.x, in.y))
			return false;
	}
	return true;
}

static bool
add_item(struct comp *c, uint32_t lo, uint32_t hi, bool neg)
{
	struct kdc_iregexp *re = c->re;

	if (re->nitems == c->cap_items) {
		size_t cap = c->cap_items ? c->cap_items * 2 : 16;
		struct citem *p;

		if (cap > KDC_IREGEXP_LEN_MAX)
			return fail(c, KDC_ERR_TOO_LARGE);
		if ((p = kdc_realloc(re->items, cap * sizeof(*p))) == NULL)
			return fail(c, KDC_ERR_NOMEM);
		re->items = p;
		c->cap_items = cap;
	}
	re->items[re->nitems].lo = lo;
	re->items[re->nitems].hi = hi;
	re->items[re->nitems].neg = neg;
	re->nitems++;
	return true;
}

static bool
new_class(struct comp *c, bool neg, size_t *idx)
{
	struct kdc_iregexp *re = c->re;

	if (re->nclasses == c->cap_classes) {
		size_t cap = c->cap_classes ? c->cap_classes * 2 : 8;
		struct cclass *p;

		if (cap > KDC_IREGEXP_LEN_MAX)
			return fail(c, KDC_ERR_TOO_LARGE);
		if ((p = kdc_realloc(re->classes, cap * sizeof(*p))) == NULL)
			return fail(c, KDC_ERR_NOMEM);
		re->classes = p;
		c->cap_classes = cap;
	}
	re->classes[re->nclasses].neg = neg;
	re->classes[re->nclasses].first = re->nitems;
	re->classes[re->nclasses].n = 0;
	*idx = re->nclasses++;
	return true;
}

static long
next_cp(struct comp *c)
{
	long v;

	if (c->pos >= c->len)
		return -1;
	v = utf8_next(c->s, c->len, &c->pos);
	if (v < 0)
		fail(c, KDC_ERR_INVALID_ARG);
	return v;
}

/* After `\p{` or `\P{`: the category mask, through the `}`. */
static bool
cat_prop(struct comp *c, uint32_t *mask)
{
	static const char *const names[] = { "Lu", "Ll", "Lt", "Lm", "Lo",
	    "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi",
	    "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf",
	    "Cs", "Co", "Cn" };
	const char *p = (const char *)c->s + c->pos;
	size_t left = c->len - c->pos, i;

	if (left >= 2 && p[1] == '}') {
		switch (p[0]) {
		case 'L': *mask = CAT_L; break;
		case 'M': *mask = CAT_M; break;
		case 'N': *mask = CAT_N; break;
		case 'P': *mask = CAT_P; break;
		case 'S': *mask = CAT_S; break;
		case 'Z': *mask = CAT_Z; break;
		case 'C': *mask = CAT_C; break;
		default: return fail(c, KDC_ERR_INVALID_ARG);
		}
		c->pos += 2;
		return true;
	}
	if (left >= 3 && p[2] == '}') {
		for (i = 0; i < 30; i++) {
			/* RFC 9485's Others are Cc Cf Cn Co: no Cs */
			if (i != 27 && p[0] == names[i][0] && p[1] == names[i][1]) {
				*mask = 1u << i;
				c->pos += 3;
				return true;
			}
		}
	}
	return fail(c, KDC_ERR_INVALID_ARG);
}

/*
 * After a `\`: a single-character escape (*cp set, *is_cat false) or a
 * category escape (*mask, *neg set, *is_cat true).
 */
static bool
escape(struct comp *c, long *cp, bool *is_cat, uint32_t *mask, bool *neg)
{
	long e = next_cp(c);

	*is_cat = false;
	switch (e) {
	case '(': case ')': case '*': case '+': case '-': case '.': case '?':
	case '[': case '\\': case ']': case '^': case '{': case '|': case '}':
		*cp = e;
		return true;
	case 'n':
		*cp = '\n';
		return true;
	case 'r':
		*cp = '\r';
		return true;
	case 't':
		*cp = '\t';
		return true;
	case 'p':
	case 'P':
		if (c->pos >= c->len || c->s[c->pos] != '{')
			return fail(c, KDC_ERR_INVALID_ARG);
		c->pos++;
		*is_cat = true;
		*neg = e == 'P';
		return cat_prop(c, mask);
	default:
		return fail(c, KDC_ERR_INVALID_ARG);
	}
}

/* A CCchar of a bracket class (`-`, `[`, `]` excluded; `\` escapes). */
static bool
cc_char(struct comp *c, long *cp, bool *is_cat, uint32_t *mask, bool *neg)
{
	long v = next_cp(c);

	*is_cat = false;
	if (v < 0 || v == '-' || v == '[' || v == ']')
		return fail(c, KDC_ERR_INVALID_ARG);
	if (v == '\\')
		return escape(c, cp, is_cat, mask, neg);
	*cp = v;
	return true;
}

/* After `[`: charClassExpr through `]`. */
static bool
bracket(struct comp *c)
{
	size_t idx;
	bool neg = false, first = true;

	if (c->pos < c->len && c->s[c->pos] == '^') {
		neg = true;
		c->pos++;
	}
	if (!new_class(c, neg, &idx))
		return false;
	for (;;) {
		long lo, hi;
		bool is_cat, cneg;
		uint32_t mask;

		if (c->pos >= c->len)
			return fail(c, KDC_ERR_INVALID_ARG);
		if (c->s[c->pos] == ']' && !first)
			break;
		if (c->s[c->pos] == '-') {
			/* only first, or last before `]` */
			if (!first && (c->pos + 1 >= c->len || c->s[c->pos + 1] != ']'))
				return fail(c, KDC_ERR_INVALID_ARG);
			c->pos++;
			if (!add_item(c, '-', '-', false))
				return false;
			first = false;
			continue;
		}
		first = false;
		if (!cc_char(c, &lo, &is_cat, &mask, &cneg))
			return false;
		if (is_cat) {
			if (!add_item(c, mask, UINT32_MAX, cneg))
				return false;
			continue;
		}
		hi = lo;
		if (c->pos + 1 < c->len && c->s[c->pos] == '-' && c->s[c->pos + 1] != ']') {
			c->pos++;
			if (!cc_char(c, &hi, &is_cat, &mask, &cneg))
				return false;
			if (is_cat || hi < lo)
				return fail(c, KDC_ERR_INVALID_ARG);
		}
		if (!add_item(c, (uint32_t)lo, (uint32_t)hi, false))
			return false;
	}
	c->pos++;	/* ] */
	c->re->classes[idx].n = c->re->nitems - c->re->classes[idx].first;
	return emit(c, OP_CLASS, (int32_t)idx, 0);
}

static bool alt(struct comp *c);

static bool
atom(struct comp *c)
{
	long v;
	bool is_cat, neg;
	uint32_t mask;
	size_t idx;

	v = c->s[c->pos];
	switch (v) {
	case '(':
		c->pos++;
		if (++c->depth > 64)
			return fail(c, KDC_ERR_TOO_LARGE);
		if (!alt(c))
			return false;
		c->depth--;
		if (c->pos >= c->len || c->s[c->pos] != ')')
			return fail(c, KDC_ERR_INVALID_ARG);
		c->pos++;
		return true;
	case '.':
		c->pos++;
		return emit(c, OP_ANY, 0, 0);
	case '^':
		c->pos++;
		return emit(c, OP_BOL, 0, 0);
	case '$':
		c->pos++;
		return emit(c, OP_EOL, 0, 0);
	case '[':
		c->pos++;
		return bracket(c);
	case '\\':
		c->pos++;
		if (!escape(c, &v, &is_cat, &mask, &neg))
			return false;
		if (!is_cat)
			return emit(c, OP_CHAR, (int32_t)v, 0);
		if (!new_class(c, false, &idx) || !add_item(c, mask, UINT32_MAX, neg))
			return false;
		c->re->classes[idx].n = 1;
		return emit(c, OP_CLASS, (int32_t)idx, 0);
	case ')': case '*': case '+': case '?': case ']': case '{': case '|':
	case '}':
		return fail(c, KDC_ERR_INVALID_ARG);
	default:
		if ((v = next_cp(c)) < 0)
			return false;
		return emit(c, OP_CHAR, (int32_t)v, 0);
	}
}

static bool
quant_num(struct comp *c, long *n)
{
	size_t start = c->pos;

	*n = 0;
	while (c->pos < c->len && c->s[c->pos] >= '0' && c->s[c->pos] <= '9') {
		*n = *n * 10 + (c->s[c->pos] - '0');
		if (*n > KDC_IREGEXP_REPEAT_MAX)
			return fail(c, KDC_ERR_TOO_LARGE);
		c->pos++;
	}
	return c->pos > start ? true : fail(c, KDC_ERR_INVALID_ARG);
}

/* Append a `?` (min = max = 0 is not asked) or `*` copy of [s, s + n). */
static bool
opt_copy(struct comp *c, size_t s, size_t n, bool star)
{
	size_t at = c->re->nprog;

	if (!copy_frag(c, s, n))
		return false;
	if (star) {
		if (!insert(c, at, OP_SPLIT, 1, (int32_t)n + 2))
			return false;
		return emit(c, OP_JMP, -(int32_t)(n + 1), 0);
	}
	return insert(c, at, OP_SPLIT, 1, (int32_t)n + 1);
}

static bool
piece(struct comp *c)
{
	size_t s = c->re->nprog, n;
	long lo, hi, i;
	bool unbounded = false;

	if (!atom(c))
		return false;
	n = c->re->nprog - s;
	if (c->pos >= c->len)
		return true;
	switch (c->s[c->pos]) {
	case '*':
		c->pos++;
		if (!insert(c, s, OP_SPLIT, 1, (int32_t)n + 2))
			return false;
		return emit(c, OP_JMP, -(int32_t)(n + 1), 0);
	case '+':
		c->pos++;
		return emit(c, OP_SPLIT, -(int32_t)n, 1);
	case '?':
		c->pos++;
		return insert(c, s, OP_SPLIT, 1, (int32_t)n + 1);
	case '{':
		c->pos++;
		if (!quant_num(c, &lo))
			return false;
		hi = lo;
		if (c->pos < c->len && c->s[c->pos] == ',') {
			c->pos++;
			if (c->pos < c->len && c->s[c->pos] == '}')
				unbounded = true;
			else if (!quant_num(c, &hi))
				return false;
		}
		if (c->pos >= c->len || c->s[c->pos] != '}' || (!unbounded && hi < lo))
			return fail(c, KDC_ERR_INVALID_ARG);
		c->pos++;
		if (lo == 0) {
			/* the atom compiled at s is re-emitted as copies below */
			struct insn *tmp = kdc_malloc(n * sizeof(*tmp) + 1);

			if (tmp == NULL)
				return fail(c, KDC_ERR_NOMEM);
			memcpy(tmp, &c->re->prog[s], n * sizeof(*tmp));
			c->re->nprog = s;
			if (unbounded || hi > 0) {
				/* put one copy back, then make it optional */
				for (i = 0; i < (long)n; i++)
					if (!emit(c, tmp[i].op, tmp[i].x, tmp[i].y)) {
						kdc_free(tmp);
						return false;
					}
				kdc_free(tmp);
				if (unbounded) {
					if (!insert(c, s, OP_SPLIT, 1, (int32_t)n + 2))
						return false;
					return emit(c, OP_JMP, -(int32_t)(n + 1), 0);
				}
				if (!insert(c, s, OP_SPLIT, 1, (int32_t)n + 1))
					return false;
				for (i = 1; i < hi; i++)
					if (!opt_copy(c, s + 1, n, false))
						return false;
				return true;
			}
			kdc_free(tmp);
			return true;
		}
		for (i = 1; i < lo; i++)
			if (!copy_frag(c, s, n))
				return false;
		if (unbounded)
			return opt_copy(c, s, n, true);
		for (i = lo; i < hi; i++)
			if (!opt_copy(c, s, n, false))
				return false;
		return true;
	default:
		return true;
	}
}

static bool
alt(struct comp *c)
{
	size_t s = c->re->nprog;

	for (;;) {
		size_t jmp;

		while (c->pos < c->len && c->s[c->pos] != '|' && c->s[c->pos] != ')')
			if (!piece(c))
				return false;
		if (c->pos >= c->len || c->s[c->pos] != '|')
			return true;
		c->pos++;
		/* SPLIT(+1, B) A JMP(end) B */
		if (!insert(c, s, OP_SPLIT, 1, (int32_t)(c->re->nprog - s) + 2))
			return false;
		jmp = c->re->nprog;
		if (!emit(c, OP_JMP, 0, 0))
			return false;
		while (c->pos < c->len && c->s[c->pos] != '|' && c->s[c->pos] != ')')
			if (!piece(c))
				return false;
		c->re->prog[jmp].x = (int32_t)(c->re->nprog - jmp);
	}
}

kdc_err
kdc_iregexp_compile(const char *re, size_t len, struct kdc_iregexp **out)
{
	struct comp c;
	kdc_err r;

	*out = NULL;
	if (len > KDC_IREGEXP_LEN_MAX)
		return KDC_ERR_TOO_LARGE;
	memset(&c, 0, sizeof(c));
	c.s = (const uint8_t *)re;
	c.len = len;
	if ((c.re = kdc_calloc(1, sizeof(*c.re))) == NULL)
		return KDC_ERR_NOMEM;
	if (alt(&c) && c.pos < c.len)
		fail(&c, KDC_ERR_INVALID_ARG);	/* an unmatched `)` */
	if (c.err == KDC_OK)
		emit(&c, OP_MATCH, 0, 0);
	if ((r = c.err) != KDC_OK) {
		kdc_iregexp_free(c.re);
		return r;
	}
	*out = c.re;
	return KDC_OK;
}

void
kdc_iregexp_free(struct kdc_iregexp *re)
{
	if (re == NULL)
		return;
	kdc_free(re->prog);
	kdc_free(re->classes);
	kdc_free(re->items);
	kdc_free(re);
}

static bool
class_has(const struct kdc_iregexp *re, const struct cclass *k, uint32_t cp)
{
	size_t i;
	bool in = false;

	for (i = 0; i < k->n && !in; i++) {
		const struct citem *it = &re->items[k->first + i];

		if (it->hi == UINT32_MAX) {
			bool cat = (it->lo >> kdc_ucd_category(cp)) & 1;

			in = it->neg ? !cat : cat;
		} else
			in = cp >= it->lo && cp <= it->hi;
	}
	return k->neg ? !in : in;
}

struct vm {
	const struct kdc_iregexp *re;
	bool		 at_start, at_end;	/* where the threads being added are */
	uint32_t	*mark;		/* generation of the last add per pc */
	uint32_t	*stack;
	uint32_t	 gen;
};

/* Add pc and what it leads to by jumps to list (n entries). */
static void
add_thread(struct vm *vm, uint32_t *list, size_t *n, uint32_t pc)
{
	size_t sp = 0;

	if (vm->mark[pc] == vm->gen)
		return;
	vm->mark[pc] = vm->gen;
	vm->stack[sp++] = pc;
	while (sp > 0) {
		const struct insn *in;
		uint32_t t[2];
		int k, nt = 0;

		pc = vm->stack[--sp];
		in = &vm->re->prog[pc];
		if (in->op == OP_JMP)
			t[nt++] = (uint32_t)((int32_t)pc + in->x);
		else if (in->op == OP_BOL || in->op == OP_EOL) {
			if (in->op == OP_BOL ? vm->at_start : vm->at_end)
				t[nt++] = pc + 1;
		}
		else if (in->op == OP_SPLIT) {
			/* y pushed first so x is explored first (order is moot without captures) */
			t[nt++] = (uint32_t)((int32_t)pc + in->y);
			t[nt++] = (uint32_t)((int32_t)pc + in->x);
		} else {
			list[(*n)++] = pc;
			continue;
		}
		for (k = 0; k < nt; k++)
			if (vm->mark[t[k]] != vm->gen) {
				vm->mark[t[k]] = vm->gen;
				vm->stack[sp++] = t[k];
			}
	}
}

kdc_err
kdc_iregexp_exec(const struct kdc_iregexp *re, const char *str, size_t len,
    bool whole, bool *matched, size_t *budget)
{
	const uint8_t *s = (const uint8_t *)str;
	size_t n = re->nprog, nc = 0, nn, i = 0, k;
	uint32_t *buf, *clist, *nlist, *tmp;
	struct vm vm;
	kdc_err r = KDC_OK;

	*matched = false;
	/* the state arrays below cost the program's size */
	if (*budget < 1 + n / 64) {
		*budget = 0;
		return KDC_ERR_TOO_LARGE;
	}
	*budget -= 1 + n / 64;
	if ((buf = kdc_calloc(4 * n, sizeof(uint32_t))) == NULL)
		return KDC_ERR_NOMEM;
	vm.re = re;
	vm.mark = buf;
	vm.stack = buf + n;
	clist = buf + 2 * n;
	nlist = buf + 3 * n;
	vm.gen = 1;
	vm.at_start = true;
	vm.at_end = len == 0;
	add_thread(&vm, clist, &nc, 0);
	for (;;) {
		long cp;

		for (k = 0; k < nc; k++)
			if (re->prog[clist[k]].op == OP_MATCH &&
			    (!whole || i == len)) {
				*matched = true;
				goto out;
			}
		if (i == len)
			break;
		if (*budget < 1 + nc / 16) {
			*budget = 0;
			r = KDC_ERR_TOO_LARGE;
			goto out;
		}
		*budget -= 1 + nc / 16;
		if ((cp = utf8_next(s, len, &i)) < 0)
			break;
		vm.gen++;
		vm.at_start = false;
		vm.at_end = i == len;
		nn = 0;
		for (k = 0; k < nc; k++) {
			const struct insn *in = &re->prog[clist[k]];
			bool ok;

			switch (in->op) {
			case OP_CHAR:
				ok = in->x == cp;
				break;
			case OP_ANY:
				ok = cp != '\n' && cp != '\r';
				break;
			case OP_CLASS:
				ok = class_has(re, &re->classes[in->x], (uint32_t)cp);
				break;
			default:
				ok = false;
			}
			if (ok)
				add_thread(&vm, nlist, &nn, clist[k] + 1);
		}
		if (!whole)
			add_thread(&vm, nlist, &nn, 0);
		tmp = clist;
		clist = nlist;
		nlist = tmp;
		nc = nn;
		if (nc == 0)
			break;
	}
out:
	kdc_free(buf);
	return r;
}
