/*
 * tdcheck.c: TD 1.1 Minimal Validation (see tdcheck.h).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "tdd/tdcheck.h"

/* the schemas/ files, generated into the build (schemas/embed.cmake) */
extern const unsigned char kdc_schema_td[];
extern const size_t kdc_schema_td_len;
extern const unsigned char kdc_schema_discovery[];
extern const size_t kdc_schema_discovery_len;

struct kdc_tdcheck {
	struct kdc_jschema	*td;
	struct kdc_jschema	*disc;
};

void
kdc_tdcheck_free(struct kdc_tdcheck *c)
{
	if (c == NULL)
		return;
	kdc_jschema_free(c->td);
	kdc_jschema_free(c->disc);
	kdc_free(c);
}

static kdc_err
compile_one(json_t *j, const char *name, struct kdc_jschema **out, char *why,
    size_t whylen)
{
	char sub[200];
	kdc_err r;

	sub[0] = '\0';
	r = kdc_jschema_compile(j, out, sub, sizeof(sub));
	if (r != KDC_OK && why != NULL && whylen > 0)
		snprintf(why, whylen, "%s: %s", name, sub);
	return r;
}

static kdc_err
make(json_t *td, json_t *disc, const char *tdname, const char *dname,
    struct kdc_tdcheck **out, char *why, size_t whylen)
{
	struct kdc_tdcheck *c;
	kdc_err r;

	if ((c = kdc_calloc(1, sizeof(*c))) == NULL)
		return KDC_ERR_NOMEM;
	if ((r = compile_one(td, tdname, &c->td, why, whylen)) != KDC_OK ||
	    (r = compile_one(disc, dname, &c->disc, why, whylen)) != KDC_OK) {
		kdc_tdcheck_free(c);
		return r;
	}
	*out = c;
	return KDC_OK;
}

kdc_err
kdc_tdcheck_builtin(struct kdc_tdcheck **out, char *why, size_t whylen)
{
	json_t *td = NULL, *disc = NULL;
	json_error_t je;
	kdc_err r;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (out == NULL)
		return KDC_ERR_INVALID_ARG;
	*out = NULL;
	td = json_loadb((const char *)kdc_schema_td, kdc_schema_td_len,
	    JSON_REJECT_DUPLICATES, &je);
	disc = json_loadb((const char *)kdc_schema_discovery,
	    kdc_schema_discovery_len, JSON_REJECT_DUPLICATES, &je);
	if (td == NULL || disc == NULL) {
		if (why != NULL && whylen > 0)
			snprintf(why, whylen, "built-in schema: %s", je.text);
		r = KDC_ERR_MALFORMED;
		goto out;
	}
	r = make(td, disc, "td-json-schema-validation.json",
	    "discovery-schema.json", out, why, whylen);
out:
	json_decref(td);
	json_decref(disc);
	return r;
}

static kdc_err
load_file(const char *dir, const char *name, json_t **out, char *why,
    size_t whylen)
{
	char path[4096];
	json_error_t je;
	struct stat st;

	*out = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path)) {
		snprintf(why, whylen, "%s: path too long", name);
		return KDC_ERR_INVALID_ARG;
	}
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s: not a readable file", path);
		return KDC_ERR_IO;
	}
	if (st.st_size > KDC_TDCHECK_SCHEMA_FILE_MAX) {
		snprintf(why, whylen, "%s: larger than %ld bytes", path,
		    KDC_TDCHECK_SCHEMA_FILE_MAX);
		return KDC_ERR_TOO_LARGE;
	}
	if ((*out = json_load_file(path, JSON_REJECT_DUPLICATES, &je)) ==
	    NULL) {
		snprintf(why, whylen, "%s:%d: %s", path, je.line, je.text);
		return je.position == 0 && je.line <= 0 ? KDC_ERR_IO :
		    KDC_ERR_MALFORMED;
	}
	return KDC_OK;
}

kdc_err
kdc_tdcheck_load(const char *dir, struct kdc_tdcheck **out, char *why,
    size_t whylen)
{
	json_t *td = NULL, *disc = NULL;
	char dummy[1];
	kdc_err r;

	if (why == NULL || whylen == 0) {
		why = dummy;
		whylen = sizeof(dummy);
	}
	why[0] = '\0';
	if (out == NULL || dir == NULL)
		return KDC_ERR_INVALID_ARG;
	*out = NULL;
	if ((r = load_file(dir, "td-schema.json", &td, why, whylen)) !=
	    KDC_OK ||
	    (r = load_file(dir, "discovery-schema.json", &disc, why,
	    whylen)) != KDC_OK)
		goto out;
	r = make(td, disc, "td-schema.json", "discovery-schema.json", out,
	    why, whylen);
out:
	json_decref(td);
	json_decref(disc);
	return r;
}

/* ---- spot checks ------------------------------------------------------ */

/* `security` (a string or an array of strings) at field names defs. */
static bool
check_security(const json_t *sec, const json_t *defs, const char *field,
    struct kdc_verrs *errs)
{
	char f[256];
	size_t i, n = json_is_array(sec) ? json_array_size(sec) : 1;
	bool ok = true;

	for (i = 0; i < n; i++) {
		const json_t *e = json_is_array(sec) ? json_array_get(sec, i) :
		    sec;

		if (!json_is_string(e))
			continue;	/* the schema reports the type */
		if (json_is_object(defs) &&
		    json_object_get(defs, json_string_value(e)) != NULL)
			continue;
		if (json_is_array(sec))
			snprintf(f, sizeof(f), "%s.%zu", field, i);
		else
			snprintf(f, sizeof(f), "%s", field);
		kdc_verrs_add(errs, f, "security \"%.100s\" is not defined in "
		    "securityDefinitions", json_string_value(e));
		ok = false;
	}
	return ok;
}

static bool
check_forms(const json_t *forms, const json_t *defs, const char *prefix,
    struct kdc_verrs *errs)
{
	char f[256];
	size_t i;
	bool ok = true;

	if (!json_is_array(forms))
		return true;
	for (i = 0; i < json_array_size(forms); i++) {
		const json_t *sec = json_object_get(json_array_get(forms, i),
		    "security");

		if (sec == NULL)
			continue;
		snprintf(f, sizeof(f), "%s%sforms.%zu.security", prefix,
		    *prefix ? "." : "", i);
		if (!check_security(sec, defs, f, errs))
			ok = false;
	}
	return ok;
}

static bool
spot_checks(const json_t *td, struct kdc_verrs *errs)
{
	static const char *aff[] = { "properties", "actions", "events" };
	const json_t *defs = json_object_get(td, "securityDefinitions");
	const json_t *sec = json_object_get(td, "security");
	const char *k;
	json_t *v;
	size_t i;
	bool ok = true;

	if (!json_is_object(td))
		return true;	/* the schema reports it */
	if (sec != NULL && !check_security(sec, defs, "security", errs))
		ok = false;
	if (!check_forms(json_object_get(td, "forms"), defs, "", errs))
		ok = false;
	for (i = 0; i < sizeof(aff) / sizeof(aff[0]); i++) {
		const json_t *m = json_object_get(td, aff[i]);

		if (!json_is_object(m))
			continue;
		json_object_foreach((json_t *)m, k, v) {
			char p[256];

			snprintf(p, sizeof(p), "%s.%s", aff[i], k);
			if (!check_forms(json_object_get(v, "forms"), defs, p,
			    errs))
				ok = false;
		}
	}
	if (!json_is_object(defs))
		return ok;
	json_object_foreach((json_t *)defs, k, v) {
		static const char *kw[] = { "oneOf", "allOf" };
		const json_t *scheme = json_object_get(v, "scheme");
		size_t w, q;

		if (!json_is_string(scheme) ||
		    strcmp(json_string_value(scheme), "combo") != 0)
			continue;
		for (w = 0; w < 2; w++) {
			const json_t *names = json_object_get(v, kw[w]);
			char f[256];

			if (!json_is_array(names))
				continue;
			for (q = 0; q < json_array_size(names); q++) {
				const json_t *nm = json_array_get(names, q);

				if (!json_is_string(nm))
					continue;
				snprintf(f, sizeof(f),
				    "securityDefinitions.%s.%s.%zu", k, kw[w],
				    q);
				if (strcmp(json_string_value(nm), k) == 0) {
					kdc_verrs_add(errs, f, "combo \"%.80s\" "
					    "names itself", k);
					ok = false;
				} else if (json_object_get(defs,
				    json_string_value(nm)) == NULL) {
					kdc_verrs_add(errs, f, "combo member "
					    "\"%.80s\" is not defined in "
					    "securityDefinitions",
					    json_string_value(nm));
					ok = false;
				}
			}
		}
	}
	return ok;
}

bool
kdc_tdcheck_validate(const struct kdc_tdcheck *c, const json_t *td,
    struct kdc_verrs *errs)
{
	struct kdc_verrs *more = NULL;
	size_t i;
	bool ok;

	if (errs != NULL) {
		errs->n = 0;
		errs->truncated = false;
	}
	if (c == NULL || td == NULL) {
		kdc_verrs_add(errs, "(root)", "no checker or no TD");
		return false;
	}
	ok = kdc_jschema_validate(c->td, td, errs);
	if (json_object_get(td, "registration") != NULL) {
		if (errs != NULL && (more = kdc_malloc(sizeof(*more))) == NULL) {
			kdc_verrs_add(errs, "(root)", "out of memory");
			return false;
		}
		if (!kdc_jschema_validate(c->disc, td, more)) {
			ok = false;
			for (i = 0; more != NULL && i < more->n; i++)
				kdc_verrs_add(errs, more->e[i].field, "%s",
				    more->e[i].description);
			if (more != NULL && more->truncated)
				errs->truncated = true;
		}
		kdc_free(more);
	}
	if (!spot_checks(td, errs))
		ok = false;
	return ok;
}
