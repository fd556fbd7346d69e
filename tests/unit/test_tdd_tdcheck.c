/*
 * test_tdd_tdcheck: TD 1.1 Minimal Validation (src/tdd/tdcheck.c) with
 * the built-in schemas on realistic TDs (tests/data/tdd/valid/) and broken
 * ones (tests/data/tdd/invalid/), the W3C example's errors, the spot
 * checks, and loading an operator's schema directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "tdd/tdcheck.h"
#include "testutil.h"

#define DATA	KDC_SOURCE_DIR "/tests/data/tdd"

static struct kdc_tdcheck *chk;

static int
setup(void **state)
{
	char why[256];

	(void)state;
	if (kdc_tdcheck_builtin(&chk, why, sizeof(why)) != KDC_OK) {
		fprintf(stderr, "builtin: %s\n", why);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	kdc_tdcheck_free(chk);
	return 0;
}

static json_t *
load(const char *path)
{
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);

	if (j == NULL)
		fail_msg("%s: %s", path, je.text);
	return j;
}

static bool
has_err(const struct kdc_verrs *e, const char *field, const char *desc)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (strcmp(e->e[i].field, field) == 0 &&
		    strncmp(e->e[i].description, desc, strlen(desc)) == 0)
			return true;
	return false;
}

static void
dump(const char *what, const struct kdc_verrs *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		printf("%s: %s: %s\n", what, e->e[i].field,
		    e->e[i].description);
}

static void
test_valid_tds(void **state)
{
	struct kdc_verrs e;
	struct dirent *de;
	DIR *d;
	int n = 0;

	(void)state;
	assert_non_null(d = opendir(DATA "/valid"));
	while ((de = readdir(d)) != NULL) {
		char path[1024];
		json_t *td;
		bool ok;

		if (strstr(de->d_name, ".json") == NULL)
			continue;
		snprintf(path, sizeof(path), DATA "/valid/%s", de->d_name);
		td = load(path);
		ok = kdc_tdcheck_validate(chk, td, &e);
		if (!ok || e.n != 0) {
			dump(de->d_name, &e);
			fail_msg("%s: not valid", de->d_name);
		}
		assert_true(kdc_tdcheck_validate(chk, td, NULL));
		json_decref(td);
		n++;
	}
	closedir(d);
	assert_true(n >= 5);
}

static void
test_invalid_tds(void **state)
{
	static const struct {
		const char *file, *field, *desc;
	} t[] = {
		{ "missing_security.json", "(root)", "security is required" },
		{ "security_not_defined.json", "security",
		    "security \"digest_sc\" is not defined in securityDefinitions" },
		{ "href_integer.json", "properties.status.forms.0.href",
		    "Invalid type. Expected: string, given: integer" },
		{ "bad_context.json", "@context",
		    "Must validate at least one schema (anyOf)" },
		{ "form_security_not_defined.json",
		    "events.opened.forms.0.security.1",
		    "security \"oauth_sc\" is not defined in securityDefinitions" },
		{ "combo_member_not_defined.json",
		    "securityDefinitions.either_sc.oneOf.1",
		    "combo member \"digest_sc\" is not defined" },
		{ "registration_bad_date.json", "registration.created",
		    "Does not match pattern" },
		{ "registration_ttl_string.json", "registration.ttl",
		    "Invalid type. Expected: number, given: string" },
		{ "op_wrong_for_property.json",
		    "properties.temperature.forms.0.op",
		    "Must be one of the following: [\"readproperty\"" },
		{ "unknown_scheme.json", "securityDefinitions.basic_sc",
		    "Must validate one and only one schema (oneOf)" },
	};
	struct kdc_verrs e;
	size_t i;
	struct dirent *de;
	DIR *d;
	int n = 0;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char path[1024];
		json_t *td;

		snprintf(path, sizeof(path), DATA "/invalid/%s", t[i].file);
		td = load(path);
		assert_false(kdc_tdcheck_validate(chk, td, NULL));
		if (kdc_tdcheck_validate(chk, td, &e) ||
		    !has_err(&e, t[i].field, t[i].desc)) {
			dump(t[i].file, &e);
			fail_msg("%s: want \"%s: %s\"", t[i].file, t[i].field,
			    t[i].desc);
		}
		assert_int_equal(e.n, 1);	/* one mistake, one error */
		json_decref(td);
	}
	/* every file of invalid/ is in the table */
	assert_non_null(d = opendir(DATA "/invalid"));
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".json") != NULL)
			n++;
	closedir(d);
	assert_int_equal(n, (int)(sizeof(t) / sizeof(t[0])));
}

/* The W3C Discovery example (§7.3.2.1.6): both errors, nothing else. */
static void
test_w3c_example(void **state)
{
	struct kdc_verrs e;
	json_t *td = load(DATA "/valid/lamp_http_basic.json");

	(void)state;
	json_object_del(td, "security");
	json_object_set_new(json_array_get(json_object_get(json_object_get(
	    json_object_get(td, "properties"), "status"), "forms"), 0),
	    "href", json_integer(1));
	assert_false(kdc_tdcheck_validate(chk, td, &e));
	dump("w3c", &e);
	assert_int_equal(e.n, 2);
	assert_string_equal(e.e[0].field, "(root)");
	assert_string_equal(e.e[0].description, "security is required");
	assert_string_equal(e.e[1].field, "properties.status.forms.0.href");
	assert_string_equal(e.e[1].description,
	    "Invalid type. Expected: string, given: integer");
	json_decref(td);
}

static void
test_spot_checks(void **state)
{
	struct kdc_verrs e;
	json_t *td = load(DATA "/valid/combo_security.json");
	json_t *defs = json_object_get(td, "securityDefinitions");

	(void)state;
	/* a combo naming itself */
	json_object_set_new(json_object_get(defs, "both_sc"), "allOf",
	    json_pack("[ss]", "both_sc", "apikey_sc"));
	assert_false(kdc_tdcheck_validate(chk, td, &e));
	assert_true(has_err(&e, "securityDefinitions.both_sc.allOf.0",
	    "combo \"both_sc\" names itself"));
	json_decref(td);
	/* top-level forms and actions' forms are checked too */
	td = load(DATA "/valid/mqtt_thing.json");
	json_object_set_new(json_array_get(json_object_get(td, "forms"), 0),
	    "security", json_string("gone_sc"));
	assert_false(kdc_tdcheck_validate(chk, td, &e));
	assert_int_equal(e.n, 1);
	assert_string_equal(e.e[0].field, "forms.0.security");
	json_decref(td);
	td = load(DATA "/valid/combo_security.json");
	json_object_set_new(json_array_get(json_object_get(json_object_get(
	    json_object_get(td, "actions"), "close"), "forms"), 0),
	    "security", json_pack("[ss]", "basic_sc", "nope_sc"));
	assert_false(kdc_tdcheck_validate(chk, td, &e));
	assert_int_equal(e.n, 1);
	assert_string_equal(e.e[0].field, "actions.close.forms.0.security.1");
	json_decref(td);
	/* not an object: the schema says so, no crash */
	td = json_string("td");
	assert_false(kdc_tdcheck_validate(chk, td, &e));
	assert_int_equal(e.n, 1);
	assert_string_equal(e.e[0].description,
	    "Invalid type. Expected: object, given: string");
	json_decref(td);
	assert_false(kdc_tdcheck_validate(NULL, td, &e));
	assert_false(kdc_tdcheck_validate(chk, NULL, NULL));
}

static void
test_load_dir(void **state)
{
	char *dir = kdc_test_tmpdir(), why[256], path[1024];
	struct kdc_tdcheck *c = NULL;
	struct kdc_verrs e;
	json_t *td;
	FILE *f;

	(void)state;
	assert_int_equal(kdc_tdcheck_load(dir, &c, why, sizeof(why)),
	    KDC_ERR_IO);
	assert_non_null(strstr(why, "td-schema.json"));
	assert_null(c);
	assert_int_equal(kdc_test_sh("cp %s/schemas/td-json-schema-validation.json "
	    "%s/td-schema.json && cp %s/schemas/discovery-schema.json %s/",
	    KDC_SOURCE_DIR, dir, KDC_SOURCE_DIR, dir), 0);
	assert_int_equal(kdc_tdcheck_load(dir, &c, why, sizeof(why)), KDC_OK);
	td = load(DATA "/invalid/href_integer.json");
	assert_false(kdc_tdcheck_validate(c, td, &e));
	assert_true(has_err(&e, "properties.status.forms.0.href",
	    "Invalid type."));
	json_decref(td);
	kdc_tdcheck_free(c);
	c = NULL;
	/* a discovery schema the validator refuses: named in why */
	snprintf(path, sizeof(path), "%s/discovery-schema.json", dir);
	assert_int_equal(kdc_test_write_file(path,
	    "{\"unevaluatedProperties\":false}", 31), 0);
	assert_int_equal(kdc_tdcheck_load(dir, &c, why, sizeof(why)),
	    KDC_ERR_UNSUPPORTED);
	assert_non_null(strstr(why, "discovery-schema.json"));
	assert_non_null(strstr(why, "unevaluatedProperties"));
	assert_int_equal(kdc_test_write_file(path, "{\"type\":", 8), 0);
	assert_int_equal(kdc_tdcheck_load(dir, &c, why, sizeof(why)),
	    KDC_ERR_MALFORMED);
	/* over the size limit: refused before reading */
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(ftruncate(fileno(f), KDC_TDCHECK_SCHEMA_FILE_MAX + 1),
	    0);
	fclose(f);
	assert_int_equal(kdc_tdcheck_load(dir, &c, why, sizeof(why)),
	    KDC_ERR_TOO_LARGE);
	assert_null(c);
	assert_int_equal(kdc_tdcheck_load(NULL, &c, why, sizeof(why)),
	    KDC_ERR_INVALID_ARG);
	kdc_test_rmtree(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_tds),
		cmocka_unit_test(test_invalid_tds),
		cmocka_unit_test(test_w3c_example),
		cmocka_unit_test(test_spot_checks),
		cmocka_unit_test(test_load_dir),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
