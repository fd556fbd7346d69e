/*
 * test_tdd_jsonpath.c: JSONPath (RFC 9535) on the RFC's own examples
 * (§1.5 bookstore / Table 2, and the example tables of §2), the
 * well-typedness examples of §2.4, I-Regexp, the directory's workload
 * queries, per_member/eval_member equivalence, the soundness of
 * kdc_jsonpath_required() on random documents, and the bounds.
 * The compliance suite itself runs in test_tdd_jsonpath_cts.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "tdd/iregexp.h"
#include "tdd/jsonpath.h"

static json_t *
J(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &e);

	if (v == NULL)
		fail_msg("bad JSON in test: %s (%s)", text, e.text);
	return v;
}

/* Evaluate query on doc; NULL if it does not parse. */
static json_t *
run(const json_t *doc, const char *query)
{
	struct kdc_jsonpath *q;
	char why[128];
	json_t *out;
	size_t budget = 100000;

	if (kdc_jsonpath_parse(query, strlen(query), &q, why, sizeof(why)) != KDC_OK)
		return NULL;
	out = json_array();
	assert_int_equal(kdc_jsonpath_eval(q, doc, out, &budget), KDC_OK);
	kdc_jsonpath_free(q);
	return out;
}

static void
expect(const json_t *doc, const char *query, const char *want)
{
	json_t *got = run(doc, query), *w = J(want);

	if (got == NULL)
		fail_msg("%s: refused", query);
	if (!json_equal(got, w)) {
		char *g = json_dumps(got, JSON_COMPACT);

		fail_msg("%s: got %s, want %s", query, g, want);
	}
	json_decref(got);
	json_decref(w);
}

static void
expect_invalid(const char *query)
{
	struct kdc_jsonpath *q = NULL;
	char why[128];

	if (kdc_jsonpath_parse(query, strlen(query), &q, why, sizeof(why)) !=
	    KDC_ERR_INVALID_ARG)
		fail_msg("%s: accepted", query);
	assert_null(q);
	assert_non_null(strstr(why, "at byte "));
}

static const char bookstore[] =
	"{ \"store\": {"
	"  \"book\": ["
	"    { \"category\": \"reference\", \"author\": \"Nigel Rees\","
	"      \"title\": \"Sayings of the Century\", \"price\": 8.95 },"
	"    { \"category\": \"fiction\", \"author\": \"Evelyn Waugh\","
	"      \"title\": \"Sword of Honour\", \"price\": 12.99 },"
	"    { \"category\": \"fiction\", \"author\": \"Herman Melville\","
	"      \"title\": \"Moby Dick\", \"isbn\": \"0-553-21311-3\", \"price\": 8.99 },"
	"    { \"category\": \"fiction\", \"author\": \"J. R. R. Tolkien\","
	"      \"title\": \"The Lord of the Rings\", \"isbn\": \"0-395-19395-8\","
	"      \"price\": 22.99 }"
	"  ],"
	"  \"bicycle\": { \"color\": \"red\", \"price\": 399 }"
	"} }";

/* RFC 9535 §1.5, Table 2 */
static void
test_bookstore(void **state)
{
	json_t *d = J(bookstore), *all, *b;
	const char *authors = "[\"Nigel Rees\",\"Evelyn Waugh\",\"Herman Melville\","
	    "\"J. R. R. Tolkien\"]";

	(void)state;
	expect(d, "$.store.book[*].author", authors);
	expect(d, "$..author", authors);
	b = json_object_get(json_object_get(d, "store"), "book");
	all = run(d, "$.store.*");
	assert_int_equal(json_array_size(all), 2);
	assert_true(json_equal(json_array_get(all, 0), b));
	json_decref(all);
	expect(d, "$.store..price", "[8.95, 12.99, 8.99, 22.99, 399]");
	all = run(d, "$..book[2]");
	assert_true(json_equal(json_array_get(all, 0), json_array_get(b, 2)));
	assert_int_equal(json_array_size(all), 1);
	json_decref(all);
	expect(d, "$..book[2].author", "[\"Herman Melville\"]");
	expect(d, "$..book[2].publisher", "[]");
	expect(d, "$..book[-1].title", "[\"The Lord of the Rings\"]");
	expect(d, "$..book[0,1].title", "[\"Sayings of the Century\",\"Sword of Honour\"]");
	expect(d, "$..book[:2].title", "[\"Sayings of the Century\",\"Sword of Honour\"]");
	expect(d, "$..book[?@.isbn].title", "[\"Moby Dick\",\"The Lord of the Rings\"]");
	expect(d, "$..book[?@.price<10].title", "[\"Sayings of the Century\",\"Moby Dick\"]");
	all = run(d, "$..*");
	assert_int_equal(json_array_size(all), 27);
	json_decref(all);
	json_decref(d);
}

/* The example tables of RFC 9535 §2.3, §2.5, §2.6 */
static void
test_rfc_tables(void **state)
{
	json_t *d;

	(void)state;
	/* §2.3.1.3 name selector */
	d = J("{\"o\": {\"j j\": {\"k.k\": 3}}, \"'\": {\"@\": 2}}");
	expect(d, "$.o['j j']", "[{\"k.k\": 3}]");
	expect(d, "$.o['j j']['k.k']", "[3]");
	expect(d, "$.o[\"j j\"][\"k.k\"]", "[3]");
	expect(d, "$[\"'\"][\"@\"]", "[2]");
	json_decref(d);
	/* §2.3.2.3 wildcard */
	d = J("{\"o\": {\"j\": 1, \"k\": 2}, \"a\": [5, 3]}");
	expect(d, "$[*]", "[{\"j\": 1, \"k\": 2}, [5, 3]]");
	expect(d, "$.o[*]", "[1, 2]");
	expect(d, "$.o[*, *]", "[1, 2, 1, 2]");
	expect(d, "$.a[*]", "[5, 3]");
	json_decref(d);
	/* §2.3.3.3 index */
	d = J("[\"a\",\"b\"]");
	expect(d, "$[1]", "[\"b\"]");
	expect(d, "$[-2]", "[\"a\"]");
	json_decref(d);
	/* §2.3.4.3 slice */
	d = J("[\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\"]");
	expect(d, "$[1:3]", "[\"b\", \"c\"]");
	expect(d, "$[5:]", "[\"f\", \"g\"]");
	expect(d, "$[1:5:2]", "[\"b\", \"d\"]");
	expect(d, "$[5:1:-2]", "[\"f\", \"d\"]");
	expect(d, "$[::-1]", "[\"g\", \"f\", \"e\", \"d\", \"c\", \"b\", \"a\"]");
	json_decref(d);
	/* §2.3.5.3 filter */
	d = J("{\"a\": [3, 5, 1, 2, 4, 6, {\"b\": \"j\"}, {\"b\": \"k\"},"
	    " {\"b\": {}}, {\"b\": \"kilo\"}],"
	    " \"o\": {\"p\": 1, \"q\": 2, \"r\": 3, \"s\": 5, \"t\": {\"u\": 6}},"
	    " \"e\": \"f\"}");
	expect(d, "$.a[?@.b == 'kilo']", "[{\"b\": \"kilo\"}]");
	expect(d, "$.a[?(@.b == 'kilo')]", "[{\"b\": \"kilo\"}]");
	expect(d, "$.a[?@>3.5]", "[5, 4, 6]");
	expect(d, "$.a[?@.b]", "[{\"b\": \"j\"}, {\"b\": \"k\"}, {\"b\": {}}, {\"b\": \"kilo\"}]");
	expect(d, "$[?@.*]", "[[3, 5, 1, 2, 4, 6, {\"b\": \"j\"}, {\"b\": \"k\"}, {\"b\": {}},"
	    " {\"b\": \"kilo\"}], {\"p\": 1, \"q\": 2, \"r\": 3, \"s\": 5, \"t\": {\"u\": 6}}]");
	expect(d, "$[?@[?@.b]]", "[[3, 5, 1, 2, 4, 6, {\"b\": \"j\"}, {\"b\": \"k\"},"
	    " {\"b\": {}}, {\"b\": \"kilo\"}]]");
	expect(d, "$.o[?@<3, ?@<3]", "[1, 2, 1, 2]");
	expect(d, "$.a[?@<2 || @.b == \"k\"]", "[1, {\"b\": \"k\"}]");
	expect(d, "$.a[?match(@.b, \"[jk]\")]", "[{\"b\": \"j\"}, {\"b\": \"k\"}]");
	expect(d, "$.a[?search(@.b, \"[jk]\")]", "[{\"b\": \"j\"}, {\"b\": \"k\"}, {\"b\": \"kilo\"}]");
	expect(d, "$.o[?@>1 && @<4]", "[2, 3]");
	expect(d, "$.o[?@.u || @.x]", "[{\"u\": 6}]");
	expect(d, "$.a[?@.b == $.x]", "[3, 5, 1, 2, 4, 6]");
	expect(d, "$.a[?@ == @]", "[3, 5, 1, 2, 4, 6, {\"b\": \"j\"}, {\"b\": \"k\"},"
	    " {\"b\": {}}, {\"b\": \"kilo\"}]");
	json_decref(d);
	/* §2.5.2.3 descendant segment */
	d = J("{\"o\": {\"j\": 1, \"k\": 2}, \"a\": [5, 3, [{\"j\": 4}, {\"k\": 6}]]}");
	expect(d, "$..j", "[1, 4]");
	expect(d, "$..[0]", "[5, {\"j\": 4}]");
	expect(d, "$..o", "[{\"j\": 1, \"k\": 2}]");
	expect(d, "$.o..[*, *]", "[1, 2, 1, 2]");
	expect(d, "$.a..[0, 1]", "[5, 3, {\"j\": 4}, {\"k\": 6}]");
	json_decref(d);
	/* §2.6.1 null semantics */
	d = J("{\"a\": null, \"b\": [null], \"c\": [{}], \"null\": 1}");
	expect(d, "$.a", "[null]");
	expect(d, "$.a[0]", "[]");
	expect(d, "$.a.d", "[]");
	expect(d, "$.b[0]", "[null]");
	expect(d, "$.b[*]", "[null]");
	expect(d, "$.b[?@]", "[null]");
	expect(d, "$.b[?@==null]", "[null]");
	expect(d, "$.c[?@.d==null]", "[]");
	expect(d, "$.null", "[1]");
	json_decref(d);
}

/* §2.3.5.2.2 comparison examples: each true one selects both members of
 * the root, a false one none. */
static void
test_comparisons(void **state)
{
	static const struct {
		const char	*expr;
		bool		 want;
	} t[] = {
		{ "$.absent1 == $.absent2", true }, { "$.absent1 <= $.absent2", true },
		{ "$.absent == 'g'", false }, { "$.absent1 != $.absent2", false },
		{ "$.absent != 'g'", true }, { "1 <= 2", true }, { "1> 2", false },
		{ "13 == '13'", false }, { "'a' <= 'b'", true }, { "'a' > 'b'", false },
		{ "$.obj == $.arr", false }, { "$.obj != $.arr", true },
		{ "$.obj == $.obj", true }, { "$.obj != $.obj", false },
		{ "$.arr == $.arr", true }, { "$.arr != $.arr", false },
		{ "$.obj == 17", false }, { "$.obj != 17", true },
		{ "$.obj <= $.arr", false }, { "$.obj < $.arr", false },
		{ "$.obj <= $.obj", true }, { "$.arr <= $.arr", true },
		{ "1 <= $.arr", false }, { "1 >= $.arr", false },
		{ "1 > $.arr", false }, { "1 < $.arr", false },
		{ "true <= true", true }, { "true > true", false },
		/* numbers by value, strings by code point */
		{ "1 == 1.0", true }, { "1e1 == 10", true }, { "-0 == 0", true },
		{ "'\\u00e9' > 'z'", true }, { "'ab' < 'abc'", true },
		{ "$.obj == {\"x\": \"y\"}", false },	/* not a literal: refused below */
	};
	json_t *d = J("{\"obj\": {\"x\": \"y\"}, \"arr\": [2, 3]}"), *got;
	char q[128];
	size_t i;

	(void)state;
	for (i = 0; i + 1 < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(q, sizeof(q), "$[?%s]", t[i].expr);
		if ((got = run(d, q)) == NULL)
			fail_msg("%s refused", q);
		if (json_array_size(got) != (t[i].want ? 2u : 0u))
			fail_msg("%s: %zu nodes", q, json_array_size(got));
		json_decref(got);
	}
	expect_invalid("$[?$.obj == {\"x\": \"y\"}]");
	json_decref(d);
}

/* §2.4 well-typedness examples and syntax errors, with the offset */
static void
test_invalid(void **state)
{
	static const char *const bad[] = {
		"$[?length(@.*) < 3]", "$[?count(1) == 1]", "$[?count(foo(@.*)) == 1]",
		"$[?match(@.timezone, 'Europe/.*') == true]", "$[?value(@..color)]",
		"$[?length(@)]", "$[?@.a == @.*]", "$[?1]", "$[?true]", "$[?!1 == 1]",
		"$[?(@.a) == 1]", "$[?length(@.a, @.b) == 1]", "$[?nosuch(@) == 1]",
		"$[?@.a && length(@)]", "$[?match(@.a)]", "$[?count(@.a && @.b) == 1]",
		"", "@", "$ ", " $", "$.", "$..", "$...a", "$[", "$[]", "$[01]", "$[-0]",
		"$[1.0]", "$[9007199254740992]", "$['a'", "$['\\x']", "$['\\ud800']",
		"$[\"\\'\"]", "$.1a", "$[?@.a ==]", "$[?(@.a]", "$[?@.a)]", "$[1:2:3:4]",
		"$[?@.a == 1e999]", "$[?@.a == .5]", "$[?@.a == 01]",
	};
	struct kdc_jsonpath *q;
	char why[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_invalid(bad[i]);
	/* the reason names where */
	assert_int_equal(kdc_jsonpath_parse("$.a[?@.b ==]", 12, &q, why, sizeof(why)),
	    KDC_ERR_INVALID_ARG);
	assert_non_null(strstr(why, "at byte 11"));
	assert_int_equal(kdc_jsonpath_parse("$.a\xff", 4, &q, why, sizeof(why)),
	    KDC_ERR_INVALID_ARG);
	assert_non_null(strstr(why, "at byte 3"));
	/* and valid ones the RFC lists */
	assert_int_equal(kdc_jsonpath_parse("$[?length(@) < 3]", 17, &q, NULL, 0), KDC_OK);
	kdc_jsonpath_free(q);
	assert_int_equal(kdc_jsonpath_parse("$[?count(@.*) == 1]", 19, &q, NULL, 0), KDC_OK);
	kdc_jsonpath_free(q);
	assert_int_equal(kdc_jsonpath_parse("$[?value(@..color) == \"red\"]", 28, &q,
	    NULL, 0), KDC_OK);
	kdc_jsonpath_free(q);
}

static void
test_functions(void **state)
{
	json_t *d = J("[{\"s\": \"h\\u00e9llo\", \"a\": [1, 2], \"o\": {\"x\": 1},"
	    " \"c\": [{\"color\": \"red\"}]}, {\"s\": \"TZ\", \"n\": 5}]");

	(void)state;
	expect(d, "$[?length(@.s) == 5].n", "[]");
	expect(d, "$[?length(@.s) == 5].a", "[[1, 2]]");	/* code points, not bytes */
	expect(d, "$[?length(@.a) == 2 && length(@.o) == 1].s", "[\"h\\u00e9llo\"]");
	expect(d, "$[?length(@.n) == 1]", "[]");		/* Nothing */
	expect(d, "$[?count(@.*) == 2].s", "[\"TZ\"]");
	expect(d, "$[?value(@..color) == 'red'].s", "[\"h\\u00e9llo\"]");
	expect(d, "$[?match(@.s, '\\\\p{Lu}+')].n", "[5]");
	expect(d, "$[?match(@.s, 'h.llo')].a", "[[1, 2]]");
	expect(d, "$[?search(@.s, 'l{2}')].a", "[[1, 2]]");
	expect(d, "$[?match(@.s, 'l{2}')].a", "[]");
	expect(d, "$[?match(@.s, '[')].a", "[]");		/* not an I-Regexp: false */
	expect(d, "$[?match(@.n, '5')]", "[]");			/* not a string */
	json_decref(d);
}

static bool
re_test(const char *re, const char *s, bool whole)
{
	struct kdc_iregexp *r;
	size_t budget = 100000;
	bool m;

	assert_int_equal(kdc_iregexp_compile(re, strlen(re), &r), KDC_OK);
	assert_int_equal(kdc_iregexp_exec(r, s, strlen(s), whole, &m, &budget), KDC_OK);
	kdc_iregexp_free(r);
	return m;
}

static void
test_iregexp(void **state)
{
	static const char *const bad[] = { "(", ")", "a{2,1}", "[b-a]", "*a", "a**",
	    "\\d", "\\p{Xx}", "[]", "a{1001}", "\\p{Cs}", "[a-\\p{L}]" };
	struct kdc_iregexp *r;
	char big[KDC_IREGEXP_LEN_MAX + 2];
	size_t i, budget;
	bool m;

	(void)state;
	assert_true(re_test("a|b|c", "b", true));
	assert_false(re_test("a|b|c", "d", true));
	assert_true(re_test("(ab)+", "ababab", true));
	assert_false(re_test("(ab)+", "ababa", true));
	assert_true(re_test("a{2,3}", "aaa", true));
	assert_false(re_test("a{2,3}", "aaaa", true));
	assert_true(re_test("a{2,}", "aaaaa", true));
	assert_true(re_test("x{0,2}y", "xxy", true));
	assert_false(re_test("x{0,2}y", "xxxy", true));
	assert_true(re_test("x{0}y", "y", true));
	assert_true(re_test("[^a-c]", "d", true));
	assert_false(re_test("[^a-c]", "b", true));
	assert_true(re_test("[-a]", "-", true));
	assert_false(re_test(".", "\n", true));
	assert_true(re_test("\\p{L}\\P{L}", "\xc3\xa9" "1", true));
	assert_true(re_test("\\p{Nd}+", "\xd9\xa3" "7", true));	/* Arabic-Indic 3 */
	assert_true(re_test("[\\p{Lu}x]", "x", true));
	assert_true(re_test("", "", true));
	assert_true(re_test("b", "abc", false));
	assert_true(re_test("^a", "abc", false));
	assert_false(re_test("^b", "abc", false));
	assert_true(re_test("c$", "abc", false));
	assert_true(re_test("[$]", "$", true));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kdc_err e = kdc_iregexp_compile(bad[i], strlen(bad[i]), &r);

		if (e != KDC_ERR_INVALID_ARG && e != KDC_ERR_TOO_LARGE)
			fail_msg("%s compiled", bad[i]);
		assert_null(r);
	}
	/* bounds: pattern length, unrolled size */
	memset(big, 'a', sizeof(big));
	assert_int_equal(kdc_iregexp_compile(big, sizeof(big) - 1, &r), KDC_ERR_TOO_LARGE);
	assert_int_equal(kdc_iregexp_compile("(a{1000}){1000}", 15, &r), KDC_ERR_TOO_LARGE);
	/* a pattern that is exponential for backtracking is linear here */
	assert_int_equal(kdc_iregexp_compile("(a*)*b", 6, &r), KDC_OK);
	memset(big, 'a', 1000);
	budget = 100000;
	assert_int_equal(kdc_iregexp_exec(r, big, 1000, true, &m, &budget), KDC_OK);
	assert_false(m);
	assert_true(100000 - budget < 2000);
	budget = 10;
	assert_int_equal(kdc_iregexp_exec(r, big, 1000, true, &m, &budget),
	    KDC_ERR_TOO_LARGE);
	assert_false(m);
	kdc_iregexp_free(r);
}

/* A small Thing Directory: the array of all TDs. */
static const char tds[] =
	"[{\"id\": \"urn:lamp\", \"title\": \"Lamp\", \"properties\": {"
	"   \"lightColor\": {\"type\": \"string\", \"forms\": [{\"href\": \"/c\"}]},"
	"   \"brightness\": {\"type\": \"integer\", \"forms\": [{\"href\": \"/b\"}]}}},"
	" {\"id\": \"urn:bulb\", \"title\": \"Bulb\", \"properties\": {"
	"   \"lightColor\": {\"type\": \"string\"}}},"
	" {\"id\": \"urn:sensor\", \"title\": \"Sensor\", \"properties\": {"
	"   \"sensorInformation\": {\"type\": \"object\", \"properties\": {"
	"     \"a\": {\"state\": \"on\"}, \"b\": {\"state\": \"off\"}}}}},"
	" {\"id\": \"urn:none\", \"title\": \"None\"}]";

static void
test_workload(void **state)
{
	json_t *d = J(tds);

	(void)state;
	expect(d, "$[?(@.properties.lightColor)].id", "[\"urn:lamp\", \"urn:bulb\"]");
	expect(d, "$[?(@.properties.lightColor && @.properties.brightness)].id",
	    "[\"urn:lamp\"]");
	expect(d, "$[?(@.properties.sensorInformation)].properties..state",
	    "[\"on\", \"off\"]");
	json_decref(d);
}

static json_t *
eval_members(const struct kdc_jsonpath *q, const json_t *arr)
{
	json_t *cat = json_array(), *m;
	size_t i, budget = 1000000;

	json_array_foreach(arr, i, m)
		assert_int_equal(kdc_jsonpath_eval_member(q, m, cat, &budget), KDC_OK);
	return cat;
}

static const char *const member_queries[] = {
	"$[*]", "$.*", "$[?@.a]", "$[?@.a.b]", "$[?@.a || @.b]", "$[?@.a && @.b]",
	"$[?!@.a]", "$[?@.a == 1]", "$[?@.a != 1]", "$[?@.a == @.b]", "$[?@.a < @.b]",
	"$[?@.a <= 2]", "$[?@.a.b > 0 || @.c.a]", "$[?(@.a.b || @.a.c) && @.b]",
	"$[?length(@.a) >= 2]", "$[?count(@.*) == 2]", "$[?value(@..b) == 1]",
	"$[?match(@.a, 'x.*')]", "$[?search(@.b.c, 'y')]", "$[?@.*]",
	"$[?@[?@.a]]", "$[?@..c].b", "$[*]..a", "$[*][0]", "$[?@.a][1:]",
	"$[?!(@.a == 1 || @.b)]", "$[?@.a.a.a]", "$[?@['a','b']]", "$[?@.a == 'x']",
	"$[?length(@.a.b) == 1 || @.a.c == true]", "$[?@.c >= @.c]",
};

/* A random small value: keys from {a,b,c}, depth bounded. */
static json_t *
rnd_value(unsigned *seed, int depth)
{
	int k = (int)(rand_r(seed) % (depth > 0 ? 9 : 6));
	json_t *v;
	int i, n;

	switch (k) {
	case 0: return json_integer(rand_r(seed) % 3);
	case 1: return json_string(rand_r(seed) % 2 ? "x" : "xy");
	case 2: return json_true();
	case 3: return json_null();
	case 4: return json_string("y");
	case 5: return json_real(0.5);
	case 6:
		v = json_array();
		n = (int)(rand_r(seed) % 3);
		for (i = 0; i < n; i++)
			json_array_append_new(v, rnd_value(seed, depth - 1));
		return v;
	default:
		v = json_object();
		n = (int)(rand_r(seed) % 4);
		for (i = 0; i < n; i++) {
			char key[2] = { (char)('a' + rand_r(seed) % 3), 0 };

			json_object_set_new(v, key, rnd_value(seed, depth - 1));
		}
		return v;
	}
}

/* Does member hold path (names joined by 0x1f)? */
static bool
has_path(const json_t *m, const char *path)
{
	char buf[KDC_JSONPATH_KEY_MAX], *s, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (s = strtok_r(buf, "\x1f", &save); s != NULL; s = strtok_r(NULL, "\x1f", &save))
		if ((m = json_object_get(m, s)) == NULL)
			return false;
	return true;
}

static void
test_per_member(void **state)
{
	static const char *const not_per[] = { "$", "$[0]", "$..a", "$[*,*]",
	    "$[?@.a == $.b]", "$[?@[?$.x]]", "$.a", "$[?value($..a) == 1]" };
	unsigned seed = 17;
	size_t i, k, runs = 0;

	(void)state;
	for (i = 0; i < sizeof(not_per) / sizeof(not_per[0]); i++) {
		struct kdc_jsonpath *q;
		json_t *o = json_array();
		size_t budget = 100;

		assert_int_equal(kdc_jsonpath_parse(not_per[i], strlen(not_per[i]), &q,
		    NULL, 0), KDC_OK);
		assert_false(kdc_jsonpath_per_member(q));
		assert_int_equal(kdc_jsonpath_eval_member(q, o, o, &budget),
		    KDC_ERR_INVALID_ARG);
		kdc_jsonpath_free(q);
		json_decref(o);
	}
	for (k = 0; k < 200; k++) {
		json_t *arr = json_array();
		int n = (int)(rand_r(&seed) % 6);

		while (n-- > 0)
			json_array_append_new(arr, rnd_value(&seed, 3));
		for (i = 0; i < sizeof(member_queries) / sizeof(member_queries[0]); i++) {
			struct kdc_jsonpath *q;
			json_t *whole = json_array(), *cat;
			size_t budget = 1000000;

			assert_int_equal(kdc_jsonpath_parse(member_queries[i],
			    strlen(member_queries[i]), &q, NULL, 0), KDC_OK);
			assert_true(kdc_jsonpath_per_member(q));
			assert_int_equal(kdc_jsonpath_eval(q, arr, whole, &budget), KDC_OK);
			cat = eval_members(q, arr);
			if (!json_equal(whole, cat))
				fail_msg("%s: per member differs", member_queries[i]);
			runs++;
			json_decref(whole);
			json_decref(cat);
			kdc_jsonpath_free(q);
		}
		json_decref(arr);
	}
	assert_int_equal(runs, 200 * (sizeof(member_queries) / sizeof(member_queries[0])));
}

static size_t
required(const char *query, char (*p)[KDC_JSONPATH_KEY_MAX], size_t max)
{
	struct kdc_jsonpath *q;
	size_t n;

	assert_int_equal(kdc_jsonpath_parse(query, strlen(query), &q, NULL, 0), KDC_OK);
	n = kdc_jsonpath_required(q, p, max);
	kdc_jsonpath_free(q);
	return n;
}

static void
test_required(void **state)
{
	static const struct {
		const char	*q;
		const char	*want[3];
	} t[] = {
		{ "$[?(@.properties.lightColor)]", { "properties\x1flightColor" } },
		{ "$[?(@.properties.lightColor && @.properties.brightness)]",
		    { "properties\x1flightColor", "properties\x1f" "brightness" } },
		{ "$[?(@.properties.sensorInformation)].properties..state",
		    { "properties\x1fsensorInformation" } },
		{ "$[?@.a.b.c]", { "a\x1f" "b" } },
		{ "$[?@.a || @.b]", { NULL } },
		{ "$[?@.a.b || @.a.c]", { "a" } },
		{ "$[?@.a.b || @.a]", { "a" } },
		{ "$[?!@.a]", { NULL } },
		{ "$[?@.a != 1]", { NULL } },
		{ "$[?@.a == @.b]", { NULL } },
		{ "$[?@.a <= @.b]", { NULL } },
		{ "$[?@.a < @.b]", { "a", "b" } },
		{ "$[?@.a == 'x']", { "a" } },
		{ "$[?'x' == @.a]", { "a" } },
		{ "$[?@.a == count(@.b)]", { "a" } },
		{ "$[?length(@.a.b.c) > 1]", { "a\x1f" "b" } },
		{ "$[?value(@.a..x) == 1]", { "a" } },
		{ "$[?match(@.t, 'x')]", { "t" } },
		{ "$[?count(@.a) == 0]", { NULL } },
		{ "$[?@..a]", { NULL } },
		{ "$[?@[0].a]", { NULL } },
		{ "$[?@['a\\u001fb'].c]", { NULL } },
		{ "$[?@.a['\\u001f']]", { "a" } },
		{ "$[?@.a['x\\u0000']]", { "a" } },
		{ "$[*]", { NULL } },
		{ "$..[?@.a]", { NULL } },
		{ "$[?@.a, ?@.b]", { NULL } },
		{ "$[?$.x]", { NULL } },
		{ "$[?(@.a && @.b) || (@.a && @.c)]", { "a" } },
		{ "$[?@.a && !(@.b || @.c)]", { "a" } },
	};
	char p[8][KDC_JSONPATH_KEY_MAX];
	size_t i, k, n, w;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		n = required(t[i].q, p, 8);
		for (w = 0; w < 3 && t[i].want[w] != NULL; w++)
			;
		if (n != w)
			fail_msg("%s: %zu paths, want %zu", t[i].q, n, w);
		for (k = 0; k < n; k++)
			assert_string_equal(p[k], t[i].want[k]);
	}
	/* max is honoured */
	assert_int_equal(required("$[?@.a && @.b && @.c]", p, 2), 2);
}

/* Soundness: a member that gives results holds every required path. */
static void
test_required_sound(void **state)
{
	unsigned seed = 99;
	size_t i, k, j, producing = 0, withreq = 0;

	(void)state;
	for (k = 0; k < 3000; k++) {
		json_t *m = rnd_value(&seed, 4);

		for (i = 0; i < sizeof(member_queries) / sizeof(member_queries[0]); i++) {
			char p[8][KDC_JSONPATH_KEY_MAX];
			struct kdc_jsonpath *q;
			json_t *o = json_array();
			size_t n, budget = 100000;

			assert_int_equal(kdc_jsonpath_parse(member_queries[i],
			    strlen(member_queries[i]), &q, NULL, 0), KDC_OK);
			n = kdc_jsonpath_required(q, p, 8);
			assert_int_equal(kdc_jsonpath_eval_member(q, m, o, &budget), KDC_OK);
			if (json_array_size(o) > 0) {
				producing++;
				withreq += n > 0;
				for (j = 0; j < n; j++)
					if (!has_path(m, p[j])) {
						char *s = json_dumps(m, JSON_COMPACT);

						fail_msg("%s on %s: requires %s", member_queries[i],
						    s, p[j]);
					}
			}
			json_decref(o);
			kdc_jsonpath_free(q);
		}
		json_decref(m);
	}
	/* the property was exercised, not vacuous */
	printf("required(): %zu producing evaluations, %zu with a condition\n",
	    producing, withreq);
	assert_true(producing > 1000 && withreq > 500);
}

static void
test_bounds(void **state)
{
	char q[KDC_JSONPATH_LEN_MAX + 64];
	struct kdc_jsonpath *jp;
	json_t *d, *o, *deep, *cur;
	size_t i, budget;
	char why[128];

	(void)state;
	/* length */
	memset(q, 0, sizeof(q));
	q[0] = '$';
	for (i = 1; i + 2 <= KDC_JSONPATH_LEN_MAX; i += 2)
		memcpy(q + i, ".a", 2);
	q[i] = '\0';
	assert_int_equal(kdc_jsonpath_parse(q, strlen(q), &jp, why, sizeof(why)), KDC_OK);
	kdc_jsonpath_free(jp);
	memcpy(q + i, ".a", 3);
	assert_int_equal(kdc_jsonpath_parse(q, strlen(q), &jp, why, sizeof(why)),
	    KDC_ERR_TOO_LARGE);
	assert_null(jp);
	/* nesting: 32 levels of filters, not 33 */
	for (i = 0; i <= 1; i++) {
		size_t n = KDC_JSONPATH_NEST_MAX / 2 + i, k, o2 = 1;

		/* each level is a bracket and a filter: "[?@" ... "]" */
		q[0] = '$';
		for (k = 0; k < n; k++) {
			memcpy(q + o2, "[?@", 3);
			o2 += 3;
		}
		for (k = 0; k < n; k++)
			q[o2++] = ']';
		q[o2] = '\0';
		assert_int_equal(kdc_jsonpath_parse(q, o2, &jp, why, sizeof(why)),
		    i == 0 ? KDC_OK : KDC_ERR_TOO_LARGE);
		kdc_jsonpath_free(jp);
	}
	assert_non_null(strstr(why, "nested"));
	memset(q, '(', 40);
	memcpy(q, "$[?", 3);
	assert_int_equal(kdc_jsonpath_parse(q, 40, &jp, why, sizeof(why)),
	    KDC_ERR_TOO_LARGE);
	/* budget: $..* on the bookstore visits more than 30 nodes */
	d = J(bookstore);
	assert_int_equal(kdc_jsonpath_parse("$..*", 4, &jp, NULL, 0), KDC_OK);
	o = json_array();
	budget = 30;
	assert_int_equal(kdc_jsonpath_eval(jp, d, o, &budget), KDC_ERR_TOO_LARGE);
	assert_int_equal(budget, 0);
	json_decref(o);
	o = json_array();
	budget = 1000;
	assert_int_equal(kdc_jsonpath_eval(jp, d, o, &budget), KDC_OK);
	assert_int_equal(json_array_size(o), 27);
	assert_true(budget < 1000 - 27);
	json_decref(o);
	/* nested descendants on a deep document: the budget stops it */
	kdc_jsonpath_free(jp);
	deep = json_array();
	cur = deep;
	for (i = 0; i < 200; i++) {
		json_t *n = json_array();

		json_array_append_new(cur, n);
		cur = n;
	}
	assert_int_equal(kdc_jsonpath_parse("$..[?@..[?@..*]]", 16, &jp, NULL, 0), KDC_OK);
	o = json_array();
	budget = 100000;
	assert_int_equal(kdc_jsonpath_eval(jp, deep, o, &budget), KDC_ERR_TOO_LARGE);
	json_decref(o);
	kdc_jsonpath_free(jp);
	/* depth: a document deeper than KDC_JSONPATH_DEPTH_MAX */
	for (; i < KDC_JSONPATH_DEPTH_MAX + 10; i++) {
		json_t *n = json_array();

		json_array_append_new(cur, n);
		cur = n;
	}
	assert_int_equal(kdc_jsonpath_parse("$..*", 4, &jp, NULL, 0), KDC_OK);
	o = json_array();
	budget = (size_t)-1;
	assert_int_equal(kdc_jsonpath_eval(jp, deep, o, &budget), KDC_ERR_TOO_LARGE);
	json_decref(o);
	kdc_jsonpath_free(jp);
	json_decref(deep);
	json_decref(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bookstore),
		cmocka_unit_test(test_rfc_tables),
		cmocka_unit_test(test_comparisons),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_functions),
		cmocka_unit_test(test_iregexp),
		cmocka_unit_test(test_workload),
		cmocka_unit_test(test_per_member),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_required_sound),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
