/*
 * ace_cache.c: the rows token requests read (core_int.h "ace_cache.c"),
 * kept per core between requests so that a client asking again reads
 * nothing but the revocation generation (core/ace.c, tok_begin(), says
 * when the rows kept are still what the store holds).
 *
 * Three direct-mapped tables: principals by credential id, resource
 * servers by audience, grants by (device, audience). An entry in use is
 * replaced by a newer one of the same slot; no entry is ever refused.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/wipe.h"
#include "core/core_int.h"

#define CACHE_PRINCIPALS	256
#define CACHE_RS		32
#define CACHE_GRANTS		256

struct cache_principal {
	int64_t		 cred_id;	/* 0: empty */
	int64_t		 device;
	int64_t		 not_after;
};

struct core_ace_cache {
	struct cache_principal	 p[CACHE_PRINCIPALS];
	struct kdc_ace_rs_row	*rs[CACHE_RS];
	struct kdc_ace_grant_row g[CACHE_GRANTS];	/* id 0: empty */
};

/* FNV-1a of an audience name, mixed with n. */
static size_t
slot(const char *aud, uint64_t n, size_t size)
{
	uint64_t h = 14695981039346656037ULL ^ n;

	for (const unsigned char *p = (const unsigned char *)aud; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)(h % size);
}

static struct core_ace_cache *
cache(struct kdc_core *core)
{
	if (core->ace_cache == NULL)
		core->ace_cache = kdc_calloc(1, sizeof(*core->ace_cache));
	return core->ace_cache;
}

void
core_ace_cache_drop(struct kdc_core *core)
{
	struct core_ace_cache *c = core->ace_cache;

	if (c == NULL)
		return;
	for (size_t i = 0; i < CACHE_RS; i++)
		kdc_ace_rs_row_free(c->rs[i]);
	kdc_wipe(c, sizeof(*c));
}

void
core_ace_cache_free(struct kdc_core *core)
{
	core_ace_cache_drop(core);
	kdc_free(core->ace_cache);
	core->ace_cache = NULL;
}

bool
core_ace_cache_principal(struct kdc_core *core, int64_t cred_id,
    int64_t device, int64_t *not_after)
{
	struct cache_principal *e;

	if (core->ace_cache == NULL || cred_id <= 0)
		return false;
	e = &core->ace_cache->p[(uint64_t)cred_id % CACHE_PRINCIPALS];
	if (e->cred_id != cred_id || e->device != device)
		return false;
	*not_after = e->not_after;
	return true;
}

void
core_ace_cache_principal_put(struct kdc_core *core, int64_t cred_id,
    int64_t device, int64_t not_after)
{
	struct core_ace_cache *c = cache(core);
	struct cache_principal *e;

	if (c == NULL || cred_id <= 0)
		return;
	e = &c->p[(uint64_t)cred_id % CACHE_PRINCIPALS];
	e->cred_id = cred_id;
	e->device = device;
	e->not_after = not_after;
}

/* A copy of rs, its heap fields too; NULL when out of memory. */
static struct kdc_ace_rs_row *
rs_dup(const struct kdc_ace_rs_row *rs)
{
	struct kdc_ace_rs_row *d;

	if ((d = kdc_calloc(1, sizeof(*d))) == NULL)
		return NULL;
	*d = *rs;
	d->key_wrapped = NULL;
	d->spki = NULL;
	if ((rs->key_wrapped != NULL &&
	    (d->key_wrapped = kdc_malloc(rs->key_wrapped_len)) == NULL) ||
	    (rs->spki != NULL && (d->spki = kdc_malloc(rs->spki_len)) ==
	    NULL)) {
		kdc_ace_rs_row_free(d);
		return NULL;
	}
	if (rs->key_wrapped != NULL)
		memcpy(d->key_wrapped, rs->key_wrapped, rs->key_wrapped_len);
	if (rs->spki != NULL)
		memcpy(d->spki, rs->spki, rs->spki_len);
	return d;
}

kdc_err
core_ace_cache_rs(struct kdc_core *core, const char *aud,
    struct kdc_ace_rs_row **out)
{
	const struct kdc_ace_rs_row *e;

	*out = NULL;
	if (core->ace_cache == NULL)
		return KDC_ERR_NOT_FOUND;
	e = core->ace_cache->rs[slot(aud, 0, CACHE_RS)];
	if (e == NULL || strcmp(e->audience, aud) != 0)
		return KDC_ERR_NOT_FOUND;
	return (*out = rs_dup(e)) != NULL ? KDC_OK : KDC_ERR_NOMEM;
}

void
core_ace_cache_rs_put(struct kdc_core *core, const struct kdc_ace_rs_row *rs)
{
	struct core_ace_cache *c = cache(core);
	struct kdc_ace_rs_row **e;

	if (c == NULL)
		return;
	e = &c->rs[slot(rs->audience, 0, CACHE_RS)];
	kdc_ace_rs_row_free(*e);
	*e = rs_dup(rs);	/* NULL (out of memory): not kept */
}

bool
core_ace_cache_grant(struct kdc_core *core, int64_t device, const char *aud,
    struct kdc_ace_grant_row *out)
{
	const struct kdc_ace_grant_row *e;

	if (core->ace_cache == NULL)
		return false;
	e = &core->ace_cache->g[slot(aud, (uint64_t)device, CACHE_GRANTS)];
	if (e->id == 0 || e->device != device || strcmp(e->audience, aud) !=
	    0)
		return false;
	*out = *e;
	return true;
}

void
core_ace_cache_grant_put(struct kdc_core *core,
    const struct kdc_ace_grant_row *g)
{
	struct core_ace_cache *c = cache(core);

	if (c == NULL || g->id == 0 || g->revoked_at != 0)
		return;
	c->g[slot(g->audience, (uint64_t)g->device, CACHE_GRANTS)] = *g;
}
