/* test_core_tdd.c: the Thing Directory's logic (core/tdd.h) in process,
 * on a store in a temp data dir: owner CRUD, what another principal and
 * a reader (device id, group:NAME) may do, listing order and pages,
 * JSONPath search against a plain evaluation over every readable TD,
 * events (frames, visibility, Last-Event-ID replay, erasure), the expiry
 * sweep on the core's clock, consent, and a restart. */
#define _GNU_SOURCE	/* asprintf */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/alloc.h"
#include "core/config.h"
#include "core/core.h"
#include "core/tdd.h"
#include "tdd/jfree.h"
#include "tdd/jsonpath.h"
#include "testkdc.h"
#include "testutil.h"

struct fx {
	struct kdc_test_kdc	 k;	/* testkdc.h */
	struct kdc_config	 cfg;
	struct kdc_core		*core;	/* k.core */
	struct kdc_tdd_opts	 o;
	struct kdc_tdd		*t;
	struct kdc_tdd_caller	 alice, bob, carol, dev;
};

static const uint8_t wkey[32] = { 0x42, 0x17, 0x7d };
static int64_t fake_now;

static int64_t
clock_fn(void)
{
	return fake_now;
}

/* A person (kdc_core_user_add) as a caller. */
static void
user(struct fx *f, const char *name, const char *groups,
    struct kdc_tdd_caller *c)
{
	struct kdc_principal p;
	struct kdc_device *d = NULL;

	memset(&p, 0, sizeof(p));
	assert_int_equal(kdc_core_user_add(f->core, "t", name, groups),
	    KDC_OK);
	assert_int_equal(kdc_core_user_dev_id(f->core, name, p.dev_id,
	    sizeof(p.dev_id)), KDC_OK);
	assert_int_equal(kdc_core_device_get(f->core, p.dev_id, &d), KDC_OK);
	p.device = d->id;
	p.cred_id = 1;
	kdc_device_free(d);
	assert_int_equal(kdc_tdd_caller(f->t, &p, c), KDC_OK);
}

/* A PSK device as a caller. */
static void
device(struct fx *f, const char *id, struct kdc_tdd_caller *c)
{
	struct kdc_device_spec s;
	struct kdc_principal p;
	struct kdc_device *d = NULL;

	memset(&s, 0, sizeof(s));
	snprintf(s.dev_id, sizeof(s.dev_id), "%s", id);
	s.type = KDC_TYPE_PSK;
	snprintf(s.psk_identity, sizeof(s.psk_identity), "tdd-%s", id);
	s.psk_len = 16;
	for (size_t i = 0; i < s.psk_len; i++)
		s.psk[i] = (uint8_t)(0x31 * i + 7);
	assert_int_equal(kdc_core_device_add(f->core, "t", &s), KDC_OK);
	memset(&p, 0, sizeof(p));
	assert_int_equal(kdc_core_device_get(f->core, id, &d), KDC_OK);
	p.device = d->id;
	p.cred_id = 1;
	snprintf(p.dev_id, sizeof(p.dev_id), "%s", id);
	kdc_device_free(d);
	assert_int_equal(kdc_tdd_caller(f->t, &p, c), KDC_OK);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	kdc_config_defaults(&f->cfg);
	kdc_test_kdc_open(&f->k, wkey, &f->cfg, KDC_TEST_DB_FILE);
	f->core = f->k.core;
	fake_now = 1800000000;
	kdc_core_set_clock(f->core, clock_fn);
	f->o.max_ttl = 0;
	f->o.retention_default = 30 * 86400;
	f->o.retention_max = 365 * 86400;
	f->o.events_keep = 100;
	f->o.result_max = 1 << 20;
	assert_int_equal(kdc_tdd_new(f->core, &f->o, &f->t), KDC_OK);
	user(f, "alice", "ops", &f->alice);
	user(f, "bob", NULL, &f->bob);
	user(f, "carol", "lab ops", &f->carol);
	device(f, "urn:dev:tdd:1", &f->dev);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	kdc_tdd_free(f->t);
	kdc_test_kdc_close(&f->k);
	free(f);
	return 0;
}

/* A valid TD 1.1; extra: more members (",..."), or "". */
static char *
td(const char *id, const char *title, const char *extra)
{
	char *s = NULL;
	int n;

	n = asprintf(&s, "{\"@context\":\"https://www.w3.org/2022/wot/td/"
	    "v1.1\",%s%s%s\"title\":\"%s\",\"securityDefinitions\":"
	    "{\"basic_sc\":{\"scheme\":\"basic\",\"in\":\"header\"}},"
	    "\"security\":\"basic_sc\",\"properties\":{\"status\":{\"type\":"
	    "\"string\",\"forms\":[{\"href\":\"https://lamp.example.com/"
	    "status\"}]}}%s}", id != NULL ? "\"id\":\"" : "",
	    id != NULL ? id : "", id != NULL ? "\"," : "", title, extra);
	assert_true(n > 0);
	return s;
}

static kdc_err
put(struct fx *f, const struct kdc_tdd_caller *c, const char *id,
    const char *title, const char *extra, const struct kdc_tdd_consent *k,
    struct kdc_tdd_result *res)
{
	struct kdc_tdd_result local;
	char *s = td(id, title, extra);
	kdc_err r;

	r = kdc_tdd_put(f->t, c, id, s, strlen(s), k, res != NULL ? res :
	    &local);
	free(s);
	return r;
}

static kdc_err
patch(struct fx *f, const struct kdc_tdd_caller *c, const char *id,
    const char *body)
{
	struct kdc_tdd_result res;

	return kdc_tdd_patch(f->t, c, id, body, strlen(body), &res);
}

/* The Enriched TD c reads as id (parsed), or NULL with *r set. */
static json_t *
get(struct fx *f, const struct kdc_tdd_caller *c, const char *id, kdc_err *r)
{
	char *s = NULL;
	size_t len = 0;
	json_t *j;

	*r = kdc_tdd_get(f->t, c, id, &s, &len);
	if (*r != KDC_OK) {
		assert_null(s);
		return NULL;
	}
	assert_int_equal(strlen(s), len);
	j = json_loadb(s, len, 0, NULL);
	assert_non_null(j);
	kdc_free(s);
	return j;
}

static const char *
str(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v != NULL ? v : "";
}

/* c's title of id, "" when it may not read it. */
static char titlebuf[256];
static const char *
title_of(struct fx *f, const struct kdc_tdd_caller *c, const char *id)
{
	kdc_err r;
	json_t *j = get(f, c, id, &r);

	titlebuf[0] = '\0';
	if (j != NULL)
		snprintf(titlebuf, sizeof(titlebuf), "%s", str(j, "title"));
	json_decref(j);
	return titlebuf;
}

/* The ids of c's list page, space-separated, into buf; *total. */
static void
list_ids(struct fx *f, const struct kdc_tdd_caller *c, size_t off,
    size_t lim, char *buf, size_t cap, size_t *total)
{
	char *s = NULL;
	size_t len = 0, i;
	json_t *a, *v;

	buf[0] = '\0';
	assert_int_equal(kdc_tdd_list(f->t, c, off, lim, &s, &len, total),
	    KDC_OK);
	a = json_loadb(s, len, 0, NULL);
	assert_non_null(a);
	assert_true(json_is_array(a));
	json_array_foreach(a, i, v) {
		size_t l = strlen(buf);

		snprintf(buf + l, cap - l, "%s%s", l > 0 ? " " : "",
		    str(v, "id"));
	}
	json_decref(a);
	kdc_free(s);
}

static struct kdc_tdd_consent
consent(const char *readers, int64_t retention)
{
	struct kdc_tdd_consent k;

	memset(&k, 0, sizeof(k));
	k.given = true;
	snprintf(k.purpose, sizeof(k.purpose), "tests");
	snprintf(k.readers, sizeof(k.readers), "%s", readers);
	k.retention = retention;
	return k;
}

/* ---- owner CRUD ------------------------------------------------------- */

static void
test_owner_crud(void **state)
{
	struct fx *f = *state;
	struct kdc_tdd_result res;
	json_t *j, *reg, *ctx;
	kdc_err r;
	char anon[KDC_TDD_ID_MAX + 1];

	assert_int_equal(put(f, &f->alice, "urn:ex:lamp", "Lamp", "", NULL,
	    &res), KDC_OK);
	assert_true(res.created);
	assert_string_equal(res.id, "urn:ex:lamp");
	assert_int_equal(kdc_tdd_count(f->t), 1);

	j = get(f, &f->alice, "urn:ex:lamp", &r);
	assert_int_equal(r, KDC_OK);
	assert_string_equal(str(j, "title"), "Lamp");
	ctx = json_object_get(j, "@context");
	assert_true(json_is_array(ctx));
	assert_string_equal(json_string_value(json_array_get(ctx, 1)),
	    "https://www.w3.org/2022/wot/discovery");
	reg = json_object_get(j, "registration");
	assert_string_equal(str(reg, "created"), "2027-01-15T08:00:00Z");
	assert_string_equal(str(reg, "modified"), "2027-01-15T08:00:00Z");
	/* no ttl: the consent's default retention (30 days) */
	assert_string_equal(str(reg, "expires"), "2027-02-14T08:00:00Z");
	json_decref(j);

	/* replace: same id, not created; modified moves, created stays */
	fake_now += 10;
	assert_int_equal(put(f, &f->alice, "urn:ex:lamp", "Lamp B", "", NULL,
	    &res), KDC_OK);
	assert_false(res.created);
	j = get(f, &f->alice, "urn:ex:lamp", &r);
	assert_string_equal(str(j, "title"), "Lamp B");
	reg = json_object_get(j, "registration");
	assert_string_equal(str(reg, "created"), "2027-01-15T08:00:00Z");
	assert_string_equal(str(reg, "modified"), "2027-01-15T08:00:10Z");
	json_decref(j);
	assert_int_equal(kdc_tdd_count(f->t), 1);

	/* the body's id must be the path's */
	assert_int_equal(put(f, &f->alice, "urn:ex:other", "x", "", NULL,
	    &res), KDC_OK);
	{
		char *s = td("urn:ex:a", "A", "");

		assert_int_equal(kdc_tdd_put(f->t, &f->alice, "urn:ex:b", s,
		    strlen(s), NULL, &res), KDC_ERR_INVALID_ARG);
		assert_non_null(strstr(res.why, "id in the path"));
		free(s);
		/* an invalid TD: validation errors */
		assert_int_equal(kdc_tdd_put(f->t, &f->alice, "urn:ex:bad",
		    "{\"id\":\"urn:ex:bad\",\"title\":5}",
		    strlen("{\"id\":\"urn:ex:bad\",\"title\":5}"), NULL, &res),
		    KDC_ERR_INVALID_ARG);
		assert_true(res.verrs.n > 0);
	}

	/* merge patch: members replaced and added, objects merged */
	assert_int_equal(patch(f, &f->alice, "urn:ex:lamp",
	    "{\"title\":\"Lamp P\",\"description\":\"patched\","
	    "\"properties\":{\"status\":{\"readOnly\":true}}}"), KDC_OK);
	j = get(f, &f->alice, "urn:ex:lamp", &r);
	assert_string_equal(str(j, "title"), "Lamp P");
	assert_string_equal(str(j, "description"), "patched");
	assert_true(json_is_true(json_object_get(json_object_get(
	    json_object_get(j, "properties"), "status"), "readOnly")));
	assert_string_equal(str(json_object_get(json_object_get(j,
	    "properties"), "status"), "type"), "string");
	json_decref(j);
	/* a patch may not change the id nor break the TD */
	assert_int_equal(patch(f, &f->alice, "urn:ex:lamp",
	    "{\"id\":\"urn:ex:moved\"}"), KDC_ERR_INVALID_ARG);
	assert_int_equal(patch(f, &f->alice, "urn:ex:lamp",
	    "{\"security\":null}"), KDC_ERR_INVALID_ARG);
	assert_string_equal(title_of(f, &f->alice, "urn:ex:lamp"), "Lamp P");
	assert_int_equal(patch(f, &f->alice, "urn:ex:none", "{}"),
	    KDC_ERR_NOT_FOUND);

	/* anonymous: a urn:uuid v4, served with it */
	assert_int_equal(put(f, &f->alice, NULL, "Anon", "", NULL, &res),
	    KDC_OK);
	assert_true(res.created);
	assert_int_equal(strlen(res.id), 45);
	assert_memory_equal(res.id, "urn:uuid:", 9);
	assert_int_equal(res.id[23], '4');
	assert_non_null(strchr("89ab", res.id[28]));
	snprintf(anon, sizeof(anon), "%s", res.id);
	j = get(f, &f->alice, anon, &r);
	assert_string_equal(str(j, "id"), anon);
	assert_string_equal(str(j, "title"), "Anon");
	json_decref(j);
	/* an anonymous TD with an id is refused */
	{
		char *s = td("urn:ex:x", "X", "");

		assert_int_equal(kdc_tdd_put(f->t, &f->alice, NULL, s,
		    strlen(s), NULL, &res), KDC_ERR_INVALID_ARG);
		free(s);
	}

	/* delete: gone, and a second delete is NOT_FOUND */
	assert_int_equal(kdc_tdd_count(f->t), 3);
	assert_int_equal(kdc_tdd_delete(f->t, &f->alice, "urn:ex:lamp"),
	    KDC_OK);
	(void)get(f, &f->alice, "urn:ex:lamp", &r);
	assert_int_equal(r, KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_tdd_delete(f->t, &f->alice, "urn:ex:lamp"),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_tdd_count(f->t), 2);
	/* the id is free again: a new TD under it is created */
	assert_int_equal(put(f, &f->bob, "urn:ex:lamp", "Bob's lamp", "",
	    NULL, &res), KDC_OK);
	assert_true(res.created);
}

/* ---- another principal -------------------------------------------------- */

static void
test_other_principal(void **state)
{
	struct fx *f = *state;
	struct kdc_tdd_result res;
	struct kdc_tdd_consent k = consent("user.bob", 0);
	char ids[512], *s = NULL;
	size_t total = 99, len;
	kdc_err r;

	assert_int_equal(put(f, &f->alice, "urn:ex:a", "A's", "", NULL, NULL),
	    KDC_OK);
	(void)get(f, &f->bob, "urn:ex:a", &r);
	assert_int_equal(r, KDC_ERR_NOT_FOUND);
	assert_int_equal(patch(f, &f->bob, "urn:ex:a", "{\"title\":\"x\"}"),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_tdd_delete(f->t, &f->bob, "urn:ex:a"),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_tdd_consent_get(f->t, &f->bob, "urn:ex:a", &s,
	    &len), KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_tdd_consent_set(f->t, &f->bob, "urn:ex:a", &k),
	    KDC_ERR_NOT_FOUND);
	/* replacing a taken id: DENIED (the id is taken, nothing more) */
	assert_int_equal(put(f, &f->bob, "urn:ex:a", "Bob's", "", NULL, &res),
	    KDC_ERR_DENIED);
	list_ids(f, &f->bob, 0, 0, ids, sizeof(ids), &total);
	assert_string_equal(ids, "");
	assert_int_equal(total, 0);
	/* all of it changed nothing */
	assert_string_equal(title_of(f, &f->alice, "urn:ex:a"), "A's");
	assert_int_equal(kdc_tdd_count(f->t), 1);
	list_ids(f, &f->alice, 0, 0, ids, sizeof(ids), &total);
	assert_string_equal(ids, "urn:ex:a");
	assert_int_equal(total, 1);
}

/* ---- readers ---------------------------------------------------------------- */

static void
test_readers(void **state)
{
	struct fx *f = *state;
	struct kdc_tdd_result res;
	struct kdc_tdd_consent k = consent("urn:dev:tdd:1 group:ops", 0);
	struct kdc_tdd_consent kb = consent("user.bo group:opsx group:lab:x",
	    0);
	char ids[512];
	size_t total;
	kdc_err r;

	assert_int_equal(put(f, &f->alice, "urn:ex:shared", "Shared", "", &k,
	    NULL), KDC_OK);
	assert_int_equal(put(f, &f->alice, "urn:ex:near", "Near misses", "",
	    &kb, NULL), KDC_OK);
	assert_non_null(strstr(f->carol.groups, "ops"));
	assert_non_null(strstr(f->carol.groups, "lab"));

	/* the device (by id) and carol (group:ops) read; bob does not */
	assert_string_equal(title_of(f, &f->dev, "urn:ex:shared"), "Shared");
	assert_string_equal(title_of(f, &f->carol, "urn:ex:shared"), "Shared");
	(void)get(f, &f->bob, "urn:ex:shared", &r);
	assert_int_equal(r, KDC_ERR_NOT_FOUND);
	/* near misses read nothing: user.bo is not user.bob, group:opsx not
	 * group:ops, group:lab:x not group:lab */
	(void)get(f, &f->bob, "urn:ex:near", &r);
	assert_int_equal(r, KDC_ERR_NOT_FOUND);
	(void)get(f, &f->carol, "urn:ex:near", &r);
	assert_int_equal(r, KDC_ERR_NOT_FOUND);

	/* readers may not write: DENIED (they know it exists) */
	assert_int_equal(patch(f, &f->dev, "urn:ex:shared",
	    "{\"title\":\"x\"}"), KDC_ERR_DENIED);
	assert_int_equal(patch(f, &f->carol, "urn:ex:shared",
	    "{\"title\":\"x\"}"), KDC_ERR_DENIED);
	assert_int_equal(kdc_tdd_delete(f->t, &f->carol, "urn:ex:shared"),
	    KDC_ERR_DENIED);
	assert_int_equal(kdc_tdd_delete(f->t, &f->dev, "urn:ex:shared"),
	    KDC_ERR_DENIED);
	assert_int_equal(put(f, &f->carol, "urn:ex:shared", "Carol's", "",
	    NULL, &res), KDC_ERR_DENIED);
	assert_int_equal(kdc_tdd_consent_set(f->t, &f->carol, "urn:ex:shared",
	    &k), KDC_ERR_DENIED);
	assert_string_equal(title_of(f, &f->alice, "urn:ex:shared"), "Shared");
	/* the owner's replace without a consent keeps the readers */
	assert_int_equal(put(f, &f->alice, "urn:ex:shared", "Shared 2", "",
	    NULL, &res), KDC_OK);
	assert_string_equal(title_of(f, &f->carol, "urn:ex:shared"),
	    "Shared 2");

	/* lists: each sees what it may read */
	list_ids(f, &f->carol, 0, 0, ids, sizeof(ids), &total);
	assert_string_equal(ids, "urn:ex:shared");
	assert_int_equal(total, 1);
	list_ids(f, &f->dev, 0, 0, ids, sizeof(ids), &total);
	assert_string_equal(ids, "urn:ex:shared");
	list_ids(f, &f->bob, 0, 0, ids, sizeof(ids), &total);
	assert_string_equal(ids, "");
	assert_int_equal(total, 0);
	list_ids(f, &f->alice, 0, 0, ids, sizeof(ids), &total);
	assert_string_equal(ids, "urn:ex:near urn:ex:shared");
}

/* ---- listing ---------------------------------------------------------------- */

static void
test_list(void **state)
{
	struct fx *f = *state;
	static const char *const order[] = {
		"urn:ex:b", "urn:ex:B", "urn:ex:a", "urn:ex:\xc3\xa9",
		"urn:ex:a1", "urn:ex:Z"
	};
	char ids[1024];
	size_t total = 0;

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		assert_int_equal(put(f, &f->alice, order[i], "T", "", NULL,
		    NULL), KDC_OK);
	assert_int_equal(put(f, &f->bob, "urn:ex:bob", "T", "", NULL, NULL),
	    KDC_OK);
	/* code-point order: uppercase before lowercase, é (U+00E9) last */
	list_ids(f, &f->alice, 0, 0, ids, sizeof(ids), &total);
	assert_string_equal(ids, "urn:ex:B urn:ex:Z urn:ex:a urn:ex:a1 "
	    "urn:ex:b urn:ex:\xc3\xa9");
	assert_int_equal(total, 6);
	list_ids(f, &f->alice, 0, 2, ids, sizeof(ids), &total);
	assert_string_equal(ids, "urn:ex:B urn:ex:Z");
	assert_int_equal(total, 6);
	list_ids(f, &f->alice, 2, 3, ids, sizeof(ids), &total);
	assert_string_equal(ids, "urn:ex:a urn:ex:a1 urn:ex:b");
	assert_int_equal(total, 6);
	list_ids(f, &f->alice, 5, 3, ids, sizeof(ids), &total);
	assert_string_equal(ids, "urn:ex:\xc3\xa9");
	list_ids(f, &f->alice, 6, 3, ids, sizeof(ids), &total);
	assert_string_equal(ids, "");
	assert_int_equal(total, 6);
	list_ids(f, &f->alice, 100, 0, ids, sizeof(ids), &total);
	assert_string_equal(ids, "");
	list_ids(f, &f->bob, 0, 0, ids, sizeof(ids), &total);
	assert_string_equal(ids, "urn:ex:bob");
	assert_int_equal(total, 1);
}

/* ---- search ------------------------------------------------------------------ */

static json_t *
search(struct fx *f, const struct kdc_tdd_caller *c, const char *q,
    kdc_err want)
{
	char *s = NULL, why[200];
	size_t len = 0;
	json_t *j;

	assert_int_equal(kdc_tdd_search(f->t, c, q, strlen(q), &s, &len, why,
	    sizeof(why)), want);
	if (want != KDC_OK) {
		assert_null(s);
		assert_true(why[0] != '\0');
		return NULL;
	}
	j = json_loadb(s, len, 0, NULL);
	assert_non_null(j);
	kdc_free(s);
	return j;
}

/* q evaluated plainly (kdc_jsonpath_eval) over the caller's list */
static json_t *
reference(struct fx *f, const struct kdc_tdd_caller *c, const char *q)
{
	struct kdc_jsonpath *p = NULL;
	char *s = NULL;
	size_t len = 0, budget = KDC_TDD_SEARCH_BUDGET, total;
	json_t *all, *out = json_array();

	assert_int_equal(kdc_tdd_list(f->t, c, 0, 0, &s, &len, &total),
	    KDC_OK);
	all = json_loadb(s, len, 0, NULL);
	kdc_free(s);
	assert_non_null(all);
	assert_int_equal(kdc_jsonpath_parse(q, strlen(q), &p, NULL, 0),
	    KDC_OK);
	assert_int_equal(kdc_jsonpath_eval(p, all, out, &budget), KDC_OK);
	kdc_jsonpath_free(p);
	json_decref(all);
	return out;
}

/* The registration's "retrieved" is the time of each read: the same in
 * both (the clock is ours). */
static void
same_answer(struct fx *f, const struct kdc_tdd_caller *c, const char *q,
    size_t want_n)
{
	json_t *a = search(f, c, q, KDC_OK), *b = reference(f, c, q);

	if (!json_equal(a, b) || json_array_size(a) != want_n) {
		char *x = json_dumps(a, JSON_COMPACT);
		char *y = json_dumps(b, JSON_COMPACT);

		print_error("query %s: directory %.300s\nreference %.300s\n"
		    "(want %zu)\n", q, x, y, want_n);
		kdc_json_free(x);
		kdc_json_free(y);
		fail();
	}
	json_decref(a);
	json_decref(b);
}

static void
test_search(void **state)
{
	struct fx *f = *state;
	struct kdc_tdd_consent k = consent("group:ops", 0);
	json_t *j;

	assert_int_equal(put(f, &f->alice, "urn:ex:s1", "Lamp 1",
	    ",\"description\":\"kitchen\",\"actions\":{\"toggle\":{\"forms\":"
	    "[{\"href\":\"https://lamp.example.com/toggle\"}]}}", NULL, NULL),
	    KDC_OK);
	assert_int_equal(put(f, &f->alice, "urn:ex:s2", "Lamp 2",
	    ",\"description\":\"hall\"", &k, NULL), KDC_OK);
	assert_int_equal(put(f, &f->alice, "urn:ex:s3", "Sensor", "", NULL,
	    NULL), KDC_OK);
	assert_int_equal(put(f, &f->bob, "urn:ex:s4", "Lamp 4",
	    ",\"description\":\"bob's kitchen\"", NULL, NULL), KDC_OK);

	/* per-member filter */
	j = search(f, &f->alice, "$[?@.title=='Lamp 2'].id", KDC_OK);
	assert_int_equal(json_array_size(j), 1);
	assert_string_equal(json_string_value(json_array_get(j, 0)),
	    "urn:ex:s2");
	json_decref(j);

	/* every query gives what a plain evaluation over all the TDs the
	 * caller may read gives: with the index (required keys: description,
	 * actions.toggle, properties.status), without (no filter, ||, !),
	 * and a whole-collection query */
	same_answer(f, &f->alice, "$[?@.description].id", 2);
	same_answer(f, &f->alice, "$[?@.description=='kitchen'].title", 1);
	same_answer(f, &f->alice, "$[?@.actions.toggle].id", 1);
	same_answer(f, &f->alice, "$[?@.properties.status.type=='string'].id",
	    3);
	same_answer(f, &f->alice, "$[?search(@.description, 'kitch')].id", 1);
	same_answer(f, &f->alice, "$[*].title", 3);
	same_answer(f, &f->alice, "$[?@.description || @.actions].id", 2);
	same_answer(f, &f->alice, "$[?!@.description].id", 1);
	same_answer(f, &f->alice, "$..toggle.forms[0].href", 1);
	same_answer(f, &f->alice, "$[0].id", 1);
	same_answer(f, &f->alice, "$[?@.registration.created].id", 3);
	/* readers and others: their own view */
	same_answer(f, &f->carol, "$[?@.description].id", 1);
	same_answer(f, &f->carol, "$[*].id", 1);
	same_answer(f, &f->bob, "$[?@.description].id", 1);
	same_answer(f, &f->bob, "$[?search(@.description, 'kitch')].title", 1);
	j = search(f, &f->bob, "$[?@.title=='Lamp 1']", KDC_OK);
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
	same_answer(f, &f->dev, "$[*].id", 0);

	/* a key no TD has: [] (the index answers) */
	j = search(f, &f->alice, "$[?@.nosuchmember=='x']", KDC_OK);
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
	same_answer(f, &f->alice, "$[?@.nosuchmember || @.title=='Sensor'].id",
	    1);

	/* after a replace and a delete the index follows */
	assert_int_equal(patch(f, &f->alice, "urn:ex:s3",
	    "{\"description\":\"new\"}"), KDC_OK);
	same_answer(f, &f->alice, "$[?@.description].id", 3);
	same_answer(f, &f->alice, "$[?@.properties.status].id", 3);
	same_answer(f, &f->alice, "$[*].id", 3);
	/* a replace that names no reader any more: carol finds nothing */
	{
		struct kdc_tdd_consent none = consent("", 0);

		assert_int_equal(put(f, &f->alice, "urn:ex:s2", "Lamp 2",
		    ",\"description\":\"hall\"", &none, NULL), KDC_OK);
	}
	same_answer(f, &f->carol, "$[?@.description].id", 0);
	same_answer(f, &f->carol, "$[*].id", 0);
	assert_int_equal(kdc_tdd_delete(f->t, &f->alice, "urn:ex:s1"), KDC_OK);
	same_answer(f, &f->alice, "$[?@.actions.toggle].id", 0);
	same_answer(f, &f->alice, "$[?@.description].id", 2);

	/* syntax errors */
	(void)search(f, &f->alice, "$[?@.title==", KDC_ERR_INVALID_ARG);
	(void)search(f, &f->alice, "title", KDC_ERR_INVALID_ARG);
}

/* ---- events --------------------------------------------------------------- */

static int wakes;

static void
wake(void *arg)
{
	(void)arg;
	wakes++;
}

/* Everything s has ready, as text (buf static). */
static char evbuf[65536];
static const char *
drain(struct fx *f, struct kdc_tdd_sub *s)
{
	ssize_t n = kdc_tdd_sub_read(f->t, s, evbuf, sizeof(evbuf));

	assert_true(n >= 0);
	evbuf[n] = '\0';
	return evbuf;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void
test_events(void **state)
{
	struct fx *f = *state;
	struct kdc_tdd_consent k = consent("group:ops", 0);
	struct kdc_tdd_sub *sa, *sb, *sc, *sd, *sm, *r0, *r1;
	const char *e;
	char small[16], want[256];

	wakes = 0;
	assert_int_equal(kdc_tdd_subscribe(f->t, &f->alice, KDC_TDD_EV_MASK_ALL,
	    false, -1, wake, NULL, &sa), KDC_OK);
	assert_int_equal(kdc_tdd_subscribe(f->t, &f->bob, KDC_TDD_EV_MASK_ALL,
	    false, -1, wake, NULL, &sb), KDC_OK);
	assert_int_equal(kdc_tdd_subscribe(f->t, &f->carol, KDC_TDD_EV_MASK_ALL,
	    true, -1, NULL, NULL, &sc), KDC_OK);
	assert_int_equal(kdc_tdd_subscribe(f->t, &f->alice, KDC_TDD_EV_MASK_ALL,
	    true, -1, NULL, NULL, &sd), KDC_OK);
	assert_int_equal(kdc_tdd_subscribe(f->t, &f->alice,
	    1u << KDC_TDD_EV_DELETED, false, -1, NULL, NULL, &sm), KDC_OK);
	assert_string_equal(drain(f, sa), "");

	/* created: the id, or (diff) the whole TD */
	assert_int_equal(put(f, &f->alice, "urn:ex:e1", "E1", "", &k, NULL),
	    KDC_OK);
	assert_int_equal(wakes, 2);
	assert_string_equal(drain(f, sa), "event: thing_created\n"
	    "data: {\"id\":\"urn:ex:e1\"}\nid: 1\n\n");
	assert_string_equal(drain(f, sa), "");
	e = drain(f, sd);
	assert_non_null(strstr(e, "event: thing_created\ndata: {"));
	assert_non_null(strstr(e, "\"title\":\"E1\""));
	assert_non_null(strstr(e, "\"securityDefinitions\""));
	assert_string_equal(drain(f, sb), "");		/* bob: not his */
	e = drain(f, sc);				/* carol: group:ops */
	assert_non_null(strstr(e, "event: thing_created\n"));
	assert_non_null(strstr(e, "\"title\":\"E1\""));
	assert_string_equal(drain(f, sm), "");		/* mask */

	/* updated: diff = a merge patch with the id */
	assert_int_equal(patch(f, &f->alice, "urn:ex:e1",
	    "{\"title\":\"E1b\",\"description\":\"d\"}"), KDC_OK);
	assert_string_equal(drain(f, sa), "event: thing_updated\n"
	    "data: {\"id\":\"urn:ex:e1\"}\nid: 2\n\n");
	e = drain(f, sd);
	{
		const char *d = strstr(e, "data: ");
		json_t *j;

		assert_non_null(d);
		assert_memory_equal(e, "event: thing_updated\n", 21);
		j = json_loadb(d + 6, strcspn(d + 6, "\n"), 0, NULL);
		assert_non_null(j);
		assert_int_equal(json_object_size(j), 3);
		assert_string_equal(str(j, "id"), "urn:ex:e1");
		assert_string_equal(str(j, "title"), "E1b");
		assert_string_equal(str(j, "description"), "d");
		json_decref(j);
		assert_non_null(strstr(e, "\nid: 2\n\n"));
	}
	assert_string_equal(drain(f, sb), "");
	e = drain(f, sc);				/* a reader: the diff */
	assert_memory_equal(e, "event: thing_updated\ndata: {", 28);
	assert_non_null(strstr(e, "\"title\":\"E1b\""));
	assert_non_null(strstr(e, "\"id\":\"urn:ex:e1\""));
	assert_null(strstr(e, "securityDefinitions"));

	/* a second TD, bob's; then alice's is deleted */
	assert_int_equal(put(f, &f->bob, "urn:ex:e2", "E2", "", NULL, NULL),
	    KDC_OK);
	assert_string_equal(drain(f, sb), "event: thing_created\n"
	    "data: {\"id\":\"urn:ex:e2\"}\nid: 3\n\n");
	assert_string_equal(drain(f, sa), "");
	assert_string_equal(drain(f, sc), "");

	/* a frame that does not fit: -1, nothing consumed */
	assert_int_equal(kdc_tdd_delete(f->t, &f->alice, "urn:ex:e1"), KDC_OK);
	assert_int_equal(kdc_tdd_sub_read(f->t, sa, small, sizeof(small)), -1);
	assert_string_equal(drain(f, sa), "event: thing_deleted\n"
	    "data: {\"id\":\"urn:ex:e1\"}\nid: 4\n\n");
	/* diff is ignored for thing_deleted */
	assert_string_equal(drain(f, sd), "event: thing_deleted\n"
	    "data: {\"id\":\"urn:ex:e1\"}\nid: 4\n\n");
	assert_string_equal(drain(f, sc), "event: thing_deleted\n"
	    "data: {\"id\":\"urn:ex:e1\"}\nid: 4\n\n");
	assert_string_equal(drain(f, sm), "event: thing_deleted\n"
	    "data: {\"id\":\"urn:ex:e1\"}\nid: 4\n\n");
	assert_string_equal(drain(f, sb), "");

	/* Last-Event-ID replay: the erased TD's earlier events are gone, its
	 * deletion stays; others' events by visibility */
	assert_int_equal(kdc_tdd_subscribe(f->t, &f->alice, KDC_TDD_EV_MASK_ALL,
	    false, 0, NULL, NULL, &r0), KDC_OK);
	assert_string_equal(drain(f, r0), "event: thing_deleted\n"
	    "data: {\"id\":\"urn:ex:e1\"}\nid: 4\n\n");
	kdc_tdd_unsubscribe(f->t, r0);
	assert_int_equal(kdc_tdd_subscribe(f->t, &f->bob, KDC_TDD_EV_MASK_ALL,
	    false, 0, NULL, NULL, &r0), KDC_OK);
	assert_string_equal(drain(f, r0), "event: thing_created\n"
	    "data: {\"id\":\"urn:ex:e2\"}\nid: 3\n\n");
	kdc_tdd_unsubscribe(f->t, r0);

	/* replay from an id: only what follows it */
	assert_int_equal(put(f, &f->alice, "urn:ex:e3", "E3", "", NULL, NULL),
	    KDC_OK);
	assert_int_equal(patch(f, &f->alice, "urn:ex:e3", "{\"title\":\"E3b\"}"),
	    KDC_OK);
	assert_int_equal(kdc_tdd_subscribe(f->t, &f->alice, KDC_TDD_EV_MASK_ALL,
	    false, 0, NULL, NULL, &r0), KDC_OK);
	e = drain(f, r0);
	assert_int_equal(count(e, "event: "), 3);
	assert_non_null(strstr(e, "id: 4\n\nevent: thing_created\ndata: "
	    "{\"id\":\"urn:ex:e3\"}\nid: 5\n\nevent: thing_updated\n"));
	assert_int_equal(kdc_tdd_subscribe(f->t, &f->alice, KDC_TDD_EV_MASK_ALL,
	    false, 5, NULL, NULL, &r1), KDC_OK);
	snprintf(want, sizeof(want), "event: thing_updated\n"
	    "data: {\"id\":\"urn:ex:e3\"}\nid: 6\n\n");
	assert_string_equal(drain(f, r1), want);
	kdc_tdd_unsubscribe(f->t, r0);
	kdc_tdd_unsubscribe(f->t, r1);
	/* a Last-Event-ID past the newest (another directory's): new ones */
	assert_int_equal(kdc_tdd_subscribe(f->t, &f->alice, KDC_TDD_EV_MASK_ALL,
	    false, 1000, NULL, NULL, &r1), KDC_OK);
	assert_string_equal(drain(f, r1), "");
	assert_int_equal(patch(f, &f->alice, "urn:ex:e3", "{\"title\":\"E3c\"}"),
	    KDC_OK);
	assert_string_equal(drain(f, r1), "event: thing_updated\n"
	    "data: {\"id\":\"urn:ex:e3\"}\nid: 7\n\n");
	kdc_tdd_unsubscribe(f->t, r1);

	/* unsubscribed: no more wakes */
	kdc_tdd_unsubscribe(f->t, sa);
	kdc_tdd_unsubscribe(f->t, sb);
	wakes = 0;
	assert_int_equal(kdc_tdd_delete(f->t, &f->alice, "urn:ex:e3"), KDC_OK);
	assert_int_equal(wakes, 0);
	kdc_tdd_unsubscribe(f->t, sc);
	kdc_tdd_unsubscribe(f->t, sd);
	kdc_tdd_unsubscribe(f->t, sm);
}

/* ---- sweep ---------------------------------------------------------------- */

static void
test_sweep(void **state)
{
	struct fx *f = *state;
	struct kdc_tdd_sub *s;
	size_t n = 99;
	json_t *j;
	kdc_err r;

	assert_int_equal(put(f, &f->alice, "urn:ex:short", "Short",
	    ",\"registration\":{\"ttl\":60}", NULL, NULL), KDC_OK);
	assert_int_equal(put(f, &f->alice, "urn:ex:long", "Long", "", NULL,
	    NULL), KDC_OK);
	/* expires, not ttl, when there is no ttl */
	assert_int_equal(put(f, &f->alice, "urn:ex:abs", "Abs",
	    ",\"registration\":{\"expires\":\"2027-01-15T09:02:00+01:00\"}",
	    NULL, NULL), KDC_OK);
	/* a consent change keeps the client's own absolute expiry (it
	 * neither extends nor drops it) */
	{
		struct kdc_tdd_consent k = consent("user.bob", 0);

		assert_int_equal(kdc_tdd_consent_set(f->t, &f->alice,
		    "urn:ex:abs", &k), KDC_OK);
		j = get(f, &f->alice, "urn:ex:abs", &r);
		assert_string_equal(str(json_object_get(j, "registration"),
		    "expires"), "2027-01-15T08:02:00Z");
		json_decref(j);
	}
	j = get(f, &f->alice, "urn:ex:short", &r);
	assert_string_equal(str(json_object_get(j, "registration"), "expires"),
	    "2027-01-15T08:01:00Z");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j,
	    "registration"), "ttl")), 60);
	json_decref(j);
	assert_int_equal(kdc_tdd_subscribe(f->t, &f->alice, KDC_TDD_EV_MASK_ALL,
	    false, -1, NULL, NULL, &s), KDC_OK);

	/* the ttl's last second: kept */
	fake_now += 59;
	assert_int_equal(kdc_tdd_sweep(f->t, &n), KDC_OK);
	assert_int_equal(n, 0);
	/* an empty patch renews the ttl from now */
	assert_int_equal(patch(f, &f->alice, "urn:ex:short", "{}"), KDC_OK);
	fake_now += 59;
	assert_int_equal(kdc_tdd_sweep(f->t, &n), KDC_OK);
	assert_int_equal(n, 0);
	assert_string_equal(title_of(f, &f->alice, "urn:ex:short"), "Short");
	(void)drain(f, s);
	fake_now += 2;
	assert_int_equal(kdc_tdd_sweep(f->t, &n), KDC_OK);
	assert_int_equal(n, 2);		/* short, and abs (08:02 UTC) */
	(void)get(f, &f->alice, "urn:ex:short", &r);
	assert_int_equal(r, KDC_ERR_NOT_FOUND);
	(void)get(f, &f->alice, "urn:ex:abs", &r);
	assert_int_equal(r, KDC_ERR_NOT_FOUND);
	assert_string_equal(title_of(f, &f->alice, "urn:ex:long"), "Long");
	assert_int_equal(count(drain(f, s), "event: thing_deleted\n"), 2);
	assert_int_equal(kdc_tdd_count(f->t), 1);
	/* the default retention (30 days) ends the other */
	fake_now += 30 * 86400;
	assert_int_equal(kdc_tdd_sweep(f->t, &n), KDC_OK);
	assert_int_equal(n, 1);
	assert_int_equal(kdc_tdd_count(f->t), 0);
	kdc_tdd_unsubscribe(f->t, s);
}

/* ---- consent -------------------------------------------------------------- */

static void
test_consent(void **state)
{
	struct fx *f = *state;
	struct kdc_tdd_consent k = consent("user.bob", 100);
	char *s = NULL;
	size_t len = 0;
	json_t *j;
	kdc_err r;

	assert_int_equal(put(f, &f->alice, "urn:ex:c", "C",
	    ",\"registration\":{\"ttl\":3600}", NULL, NULL), KDC_OK);
	assert_int_equal(kdc_tdd_consent_get(f->t, &f->alice, "urn:ex:c", &s,
	    &len), KDC_OK);
	j = json_loadb(s, len, 0, NULL);
	kdc_free(s);
	assert_string_equal(str(j, "purpose"), "discovery");
	assert_int_equal(json_array_size(json_object_get(j, "readers")), 0);
	assert_int_equal(json_integer_value(json_object_get(j, "retention")),
	    30 * 86400);
	json_decref(j);
	(void)get(f, &f->bob, "urn:ex:c", &r);
	assert_int_equal(r, KDC_ERR_NOT_FOUND);

	/* bob named, retention 100 s: it caps the ttl's 3600 */
	fake_now += 5;
	assert_int_equal(kdc_tdd_consent_set(f->t, &f->alice, "urn:ex:c", &k),
	    KDC_OK);
	assert_string_equal(title_of(f, &f->bob, "urn:ex:c"), "C");
	j = get(f, &f->alice, "urn:ex:c", &r);
	assert_string_equal(str(json_object_get(j, "registration"), "expires"),
	    "2027-01-15T08:01:45Z");
	json_decref(j);
	assert_int_equal(kdc_tdd_consent_get(f->t, &f->alice, "urn:ex:c", &s,
	    &len), KDC_OK);
	j = json_loadb(s, len, 0, NULL);
	kdc_free(s);
	assert_string_equal(str(j, "purpose"), "tests");
	assert_string_equal(json_string_value(json_array_get(json_object_get(j,
	    "readers"), 0)), "user.bob");
	assert_int_equal(json_integer_value(json_object_get(j, "retention")),
	    100);
	assert_string_equal(str(j, "consented"), "2027-01-15T08:00:05Z");
	json_decref(j);
	/* the search index follows the readers too */
	j = search(f, &f->bob, "$[?@.title=='C'].id", KDC_OK);
	assert_int_equal(json_array_size(j), 1);
	json_decref(j);

	/* a retention above the maximum, bad readers: refused, unchanged */
	k.retention = f->o.retention_max + 1;
	assert_int_equal(kdc_tdd_consent_set(f->t, &f->alice, "urn:ex:c", &k),
	    KDC_ERR_INVALID_ARG);
	k = consent("user.bob;drop", 0);
	assert_int_equal(kdc_tdd_consent_set(f->t, &f->alice, "urn:ex:c", &k),
	    KDC_ERR_INVALID_ARG);
	assert_string_equal(title_of(f, &f->bob, "urn:ex:c"), "C");

	/* withdrawn from bob: he reads, lists and finds nothing again */
	k = consent("", 0);
	assert_int_equal(kdc_tdd_consent_set(f->t, &f->alice, "urn:ex:c", &k),
	    KDC_OK);
	(void)get(f, &f->bob, "urn:ex:c", &r);
	assert_int_equal(r, KDC_ERR_NOT_FOUND);
	j = search(f, &f->bob, "$[?@.title=='C'].id", KDC_OK);
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
	/* the default retention again; the ttl is the earliest now, counted
	 * from the registration (a consent change does not renew it) */
	j = get(f, &f->alice, "urn:ex:c", &r);
	assert_string_equal(str(json_object_get(j, "registration"), "expires"),
	    "2027-01-15T09:00:00Z");
	json_decref(j);
	/* the retention cap ends it at the sweep */
	k = consent("", 10);
	assert_int_equal(kdc_tdd_consent_set(f->t, &f->alice, "urn:ex:c", &k),
	    KDC_OK);
	fake_now += 11;
	{
		size_t n = 0;

		assert_int_equal(kdc_tdd_sweep(f->t, &n), KDC_OK);
		assert_int_equal(n, 1);
	}
	(void)get(f, &f->alice, "urn:ex:c", &r);
	assert_int_equal(r, KDC_ERR_NOT_FOUND);
}

/* ---- restart -------------------------------------------------------------- */

static void
test_restart(void **state)
{
	struct fx *f = *state;
	struct kdc_tdd_consent k = consent("group:ops", 0);
	struct kdc_tdd_sub *s;
	const char *e;
	json_t *j;
	char ids[512];
	size_t total;

	assert_int_equal(put(f, &f->alice, "urn:ex:r1", "R1",
	    ",\"description\":\"kept\"", &k, NULL), KDC_OK);
	assert_int_equal(put(f, &f->alice, "urn:ex:r2", "R2", "", NULL, NULL),
	    KDC_OK);
	assert_int_equal(patch(f, &f->alice, "urn:ex:r2", "{\"title\":\"R2b\"}"),
	    KDC_OK);
	assert_int_equal(put(f, &f->alice, "urn:ex:gone", "G", "", NULL, NULL),
	    KDC_OK);
	assert_int_equal(kdc_tdd_delete(f->t, &f->alice, "urn:ex:gone"),
	    KDC_OK);

	kdc_tdd_free(f->t);
	f->t = NULL;
	assert_int_equal(kdc_tdd_new(f->core, &f->o, &f->t), KDC_OK);

	assert_int_equal(kdc_tdd_count(f->t), 2);
	assert_string_equal(title_of(f, &f->alice, "urn:ex:r2"), "R2b");
	assert_string_equal(title_of(f, &f->carol, "urn:ex:r1"), "R1");
	list_ids(f, &f->alice, 0, 0, ids, sizeof(ids), &total);
	assert_string_equal(ids, "urn:ex:r1 urn:ex:r2");
	/* the index was rebuilt: keys, owners and readers */
	j = search(f, &f->alice, "$[?@.description=='kept'].id", KDC_OK);
	assert_int_equal(json_array_size(j), 1);
	json_decref(j);
	same_answer(f, &f->alice, "$[?@.properties.status].id", 2);
	same_answer(f, &f->carol, "$[?@.properties.status].id", 1);
	same_answer(f, &f->bob, "$[?@.properties.status].id", 0);

	/* the events were kept (the erased TD's are not) */
	assert_int_equal(kdc_tdd_subscribe(f->t, &f->alice, KDC_TDD_EV_MASK_ALL,
	    false, 0, NULL, NULL, &s), KDC_OK);
	e = drain(f, s);
	assert_string_equal(e, "event: thing_created\n"
	    "data: {\"id\":\"urn:ex:r1\"}\nid: 1\n\n"
	    "event: thing_created\n"
	    "data: {\"id\":\"urn:ex:r2\"}\nid: 2\n\n"
	    "event: thing_updated\n"
	    "data: {\"id\":\"urn:ex:r2\"}\nid: 3\n\n");
	/* new events number on */
	assert_int_equal(put(f, &f->alice, "urn:ex:r3", "R3", "", NULL, NULL),
	    KDC_OK);
	e = drain(f, s);
	assert_non_null(strstr(e, "data: {\"id\":\"urn:ex:r3\"}\nid: "));
	assert_null(strstr(e, "\nid: 1\n"));
	assert_true(atoi(strstr(e, "\nid: ") + 5) > 3);
	kdc_tdd_unsubscribe(f->t, s);
}

/* ---- the replay ring --------------------------------------------------- */

/* events_keep 2: a Last-Event-ID older than what is kept replays from
 * the oldest kept; the store keeps more, a restart reloads the last 2 */
static void
test_ring(void **state)
{
	struct fx *f = *state;
	struct kdc_tdd_sub *s;

	kdc_tdd_free(f->t);
	f->o.events_keep = 2;
	assert_int_equal(kdc_tdd_new(f->core, &f->o, &f->t), KDC_OK);
	assert_int_equal(put(f, &f->alice, "urn:ex:k1", "K1", "", NULL, NULL),
	    KDC_OK);
	assert_int_equal(put(f, &f->alice, "urn:ex:k2", "K2", "", NULL, NULL),
	    KDC_OK);
	assert_int_equal(put(f, &f->alice, "urn:ex:k3", "K3", "", NULL, NULL),
	    KDC_OK);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(kdc_tdd_subscribe(f->t, &f->alice,
		    KDC_TDD_EV_MASK_ALL, false, 0, NULL, NULL, &s), KDC_OK);
		assert_string_equal(drain(f, s), "event: thing_created\n"
		    "data: {\"id\":\"urn:ex:k2\"}\nid: 2\n\n"
		    "event: thing_created\n"
		    "data: {\"id\":\"urn:ex:k3\"}\nid: 3\n\n");
		kdc_tdd_unsubscribe(f->t, s);
		kdc_tdd_free(f->t);
		assert_int_equal(kdc_tdd_new(f->core, &f->o, &f->t), KDC_OK);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_owner_crud, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_other_principal, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_readers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_consent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
