/*
 * tdd.c: the Thing Directory (core/tdd.h).
 *
 * In memory, under one lock: an index of every stored TD (slots: its
 * number, id, owner and readers, and the member-name paths of depth 1
 * and 2 it has, interned as keys with a posting list of slots each), the
 * events kept for replay (a ring), and the subscribers. The store holds
 * the TDs themselves. A JSONPath search takes the paths its filter
 * requires (kdc_jsonpath_required()), intersects their posting lists,
 * keeps the slots the caller may read, and evaluates the query on those
 * TDs alone. A replaced or erased TD's slot is dead: left in the posting
 * lists, skipped, and compacted away when the dead outnumber the live.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "tdd/jfree.h"

#include "base/alloc.h"
#include "base/log.h"
#include "core/core_int.h"
#include "core/tdd.h"
#include "crypto/crypto.h"
#include "tdd/jsonpath.h"
#include "tdd/lint.h"
#include "tdd/mergepatch.h"
#include "tdd/tdcheck.h"

#define DISCOVERY_CTX	"https://www.w3.org/2022/wot/discovery"
#define KEY_SEP		'\x1f'
#define SEARCH_FULL_MAX	10000	/* TDs a query that is not per-TD reads */
/*
 * Parsed Enriched TDs kept for the searches that evaluate a query on each
 * candidate (a store read and a JSON parse each, else): at most
 * CACHE_BYTES, counting CACHE_FACTOR times a TD's stored text (what
 * jansson takes for it, measured on the benchmark's TDs). Kept in the
 * TD's slot, so whatever changes a TD (replace, patch, consent, erase)
 * drops it. Random replacement when full: a search's candidates are read
 * in the same order each time, and LRU or FIFO would then miss every one
 * once they outnumber the cache.
 */
#define CACHE_BYTES	(256u << 20)
#define RT_LEN		20	/* "2026-01-01T00:00:00Z" */
#define CACHE_FACTOR	12

static const char *const ev_names[] = {
	"thing_created", "thing_updated", "thing_deleted"
};

struct slot {
	int64_t		 n;
	char		*id;
	int64_t		 owner;
	char		*readers;
	uint32_t	*keys;
	uint32_t	 nkeys;
	bool		 live;
	/* cached (CACHE_BYTES): the Enriched TD parsed, its text */
	json_t		*doc;
	char		*text;
	size_t		 tlen, rt_off;	/* "retrieved" value at text + rt_off */
	size_t		 cost;		/* its CACHE_BYTES share */
	uint32_t	 cpos;		/* its place in cache_n */
};

struct posting {
	uint32_t	*v;
	size_t		 n, cap;
};

struct keyent {
	char		*name;		/* NULL: empty bucket */
	uint32_t	 id;
};

struct ev {
	int64_t		 seq;
	enum kdc_tdd_event_type type;
	int64_t		 thing;
	char		*tdid;
	char		*data;
	int64_t		 owner;
	char		*readers;
	bool		 erased;
};

struct kdc_tdd_sub {
	struct kdc_tdd_sub	*next;
	struct kdc_tdd_caller	 who;
	unsigned		 mask;
	bool			 diff;
	int64_t			 cursor;	/* last seq passed */
	void			(*wake)(void *);
	void			*warg;
};

struct kdc_tdd {
	struct kdc_core		*core;
	struct kdc_tdd_opts	 o;
	struct kdc_store_tdd	*h;
	struct kdc_tdcheck	*check;
	pthread_mutex_t		 mu;
	/* index */
	struct slot		*slots;
	size_t			 nslots, cap_slots, ndead;
	int64_t			*nmap_k;	/* n -> slot + 1, open addressing */
	uint32_t		*nmap_v;
	size_t			 nmap_cap, nmap_used;
	struct keyent		*keys;		/* open addressing */
	size_t			 keys_cap, nkeys;
	struct posting		*post;		/* by key id */
	size_t			 cap_post;
	/* events */
	struct ev		*ring;
	size_t			 ring_head, ring_n;
	int64_t			 last_seq;
	struct kdc_tdd_sub	*subs;
	/* collection version */
	uint64_t		 etag_nonce, etag_gen;
	/* parsed TDs (CACHE_BYTES): the numbers of the TDs with a doc */
	int64_t			*cache_n;
	size_t			 cache_len, cache_cap, cache_bytes;
	uint64_t		 cache_rng;
};

/* ---- small helpers ------------------------------------------------------ */

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static uint64_t
hash_n(int64_t n)
{
	uint64_t x = (uint64_t)n * 0x9e3779b97f4a7c15ULL;

	return x ^ (x >> 29);
}

static void
rfc3339(int64_t t, char *buf, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* An RFC 3339 date-time with an offset, to seconds: INVALID_ARG. */
static kdc_err
rfc3339_parse(const char *s, int64_t *out)
{
	struct tm tm;
	const char *p;
	int off = 0, sign = 0, hh, mm;

	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return KDC_ERR_INVALID_ARG;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == 'Z' || *p == 'z')
		p++;
	else if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &hh,
	    &mm) == 2) {
		sign = *p == '+' ? 1 : -1;
		off = hh * 3600 + mm * 60;
		p += 6;
	} else
		return KDC_ERR_INVALID_ARG;
	if (*p != '\0')
		return KDC_ERR_INVALID_ARG;
	*out = (int64_t)timegm(&tm) - sign * off;
	return KDC_OK;
}

/* Is word (len n) one of the space-separated words of list? */
static bool
has_word(const char *list, const char *word, size_t n)
{
	const char *p = list;

	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, ' ');
		size_t l = e != NULL ? (size_t)(e - p) : strlen(p);

		if (l == n && memcmp(p, word, n) == 0)
			return true;
		p = e != NULL ? e + 1 : NULL;
	}
	return false;
}

/* May c read a TD of owner with readers? */
static bool
may_read(const struct kdc_tdd_caller *c, int64_t owner, const char *readers)
{
	char g[KDC_GROUP_MAX + 8];
	const char *p;

	if (c->device != 0 && owner == c->device)
		return true;
	if (readers == NULL || readers[0] == '\0')
		return false;
	if (has_word(readers, c->dev_id, strlen(c->dev_id)))
		return true;
	for (p = c->groups; *p != '\0';) {
		const char *e = strchr(p, ' ');
		size_t l = e != NULL ? (size_t)(e - p) : strlen(p);

		if (l > 0 && l <= KDC_GROUP_MAX) {
			memcpy(g, "group:", 6);
			memcpy(g + 6, p, l);
			if (has_word(readers, g, l + 6))
				return true;
		}
		if (e == NULL)
			break;
		p = e + 1;
	}
	return false;
}

/* ---- the index ---------------------------------------------------------- */

static kdc_err
nmap_grow(struct kdc_tdd *t)
{
	size_t cap = t->nmap_cap == 0 ? 1024 : t->nmap_cap * 2;
	int64_t *k = kdc_calloc(cap, sizeof(*k));
	uint32_t *v = kdc_calloc(cap, sizeof(*v));

	if (k == NULL || v == NULL) {
		kdc_free(k);
		kdc_free(v);
		return KDC_ERR_NOMEM;
	}
	for (size_t i = 0; i < t->nmap_cap; i++) {
		size_t j;

		if (t->nmap_v[i] == 0)
			continue;
		for (j = hash_n(t->nmap_k[i]) & (cap - 1); v[j] != 0;
		    j = (j + 1) & (cap - 1))
			;
		k[j] = t->nmap_k[i];
		v[j] = t->nmap_v[i];
	}
	kdc_free(t->nmap_k);
	kdc_free(t->nmap_v);
	t->nmap_k = k;
	t->nmap_v = v;
	t->nmap_cap = cap;
	return KDC_OK;
}

/* The bucket of n (found or empty). */
static size_t
nmap_find(const struct kdc_tdd *t, int64_t n)
{
	size_t j = hash_n(n) & (t->nmap_cap - 1);

	while (t->nmap_v[j] != 0 && t->nmap_k[j] != n)
		j = (j + 1) & (t->nmap_cap - 1);
	return j;
}

/* The live slot of TD number n, or NULL. */
static struct slot *
slot_of(struct kdc_tdd *t, int64_t n)
{
	size_t j;

	if (t->nmap_cap == 0)
		return NULL;
	j = nmap_find(t, n);
	if (t->nmap_v[j] == 0)
		return NULL;
	return &t->slots[t->nmap_v[j] - 1];
}

static kdc_err
key_intern(struct kdc_tdd *t, const char *name, bool add, uint32_t *id)
{
	size_t j, cap;

	if (t->keys_cap == 0 || (add && (t->nkeys + 1) * 2 > t->keys_cap)) {
		struct keyent *nk;

		if (!add)
			return KDC_ERR_NOT_FOUND;
		cap = t->keys_cap == 0 ? 256 : t->keys_cap * 2;
		if ((nk = kdc_calloc(cap, sizeof(*nk))) == NULL)
			return KDC_ERR_NOMEM;
		for (size_t i = 0; i < t->keys_cap; i++) {
			if (t->keys[i].name == NULL)
				continue;
			for (j = hash_str(t->keys[i].name) & (cap - 1);
			    nk[j].name != NULL; j = (j + 1) & (cap - 1))
				;
			nk[j] = t->keys[i];
		}
		kdc_free(t->keys);
		t->keys = nk;
		t->keys_cap = cap;
	}
	for (j = hash_str(name) & (t->keys_cap - 1); t->keys[j].name != NULL;
	    j = (j + 1) & (t->keys_cap - 1))
		if (strcmp(t->keys[j].name, name) == 0) {
			*id = t->keys[j].id;
			return KDC_OK;
		}
	if (!add)
		return KDC_ERR_NOT_FOUND;
	if (t->nkeys >= t->cap_post) {
		size_t nc = t->cap_post == 0 ? 256 : t->cap_post * 2;
		struct posting *np = kdc_realloc(t->post, nc * sizeof(*np));

		if (np == NULL)
			return KDC_ERR_NOMEM;
		memset(np + t->cap_post, 0, (nc - t->cap_post) * sizeof(*np));
		t->post = np;
		t->cap_post = nc;
	}
	if ((t->keys[j].name = kdc_strdup(name)) == NULL)
		return KDC_ERR_NOMEM;
	t->keys[j].id = (uint32_t)t->nkeys++;
	*id = t->keys[j].id;
	return KDC_OK;
}

static kdc_err
post_add(struct posting *p, uint32_t slot)
{
	if (p->n == p->cap) {
		size_t nc = p->cap == 0 ? 8 : p->cap * 2;
		uint32_t *nv = kdc_realloc(p->v, nc * sizeof(*nv));

		if (nv == NULL)
			return KDC_ERR_NOMEM;
		p->v = nv;
		p->cap = nc;
	}
	p->v[p->n++] = slot;
	return KDC_OK;
}

static kdc_err
ids_add(uint32_t **ids, uint32_t *len, uint32_t *cap, uint32_t id)
{
	uint32_t *ni;

	if (*len == *cap) {
		*cap = *cap == 0 ? 32 : *cap * 2;
		if ((ni = kdc_realloc(*ids, *cap * sizeof(*ni))) == NULL)
			return KDC_ERR_NOMEM;
		*ids = ni;
	}
	(*ids)[(*len)++] = id;
	return KDC_OK;
}

/* The member-name paths of depth 1 and 2 of td, as key ids. */
static kdc_err
td_keys(struct kdc_tdd *t, const json_t *td, uint32_t **out, uint32_t *n)
{
	const char *k, *k2;
	json_t *v, *v2;
	char path[KDC_JSONPATH_KEY_MAX];
	uint32_t *ids = NULL, cap = 0, len = 0, id;
	kdc_err r;

	*out = NULL;
	*n = 0;
	json_object_foreach((json_t *)td, k, v) {
		for (int depth = 0; depth < 2; depth++) {
			size_t l1 = strlen(k);

			if (depth == 1 && !json_is_object(v))
				break;
			if (depth == 0) {
				if (l1 >= sizeof(path) || strchr(k, KEY_SEP))
					break;
				memcpy(path, k, l1 + 1);
				if ((r = key_intern(t, path, true, &id)) !=
				    KDC_OK ||
				    (r = ids_add(&ids, &len, &cap, id)) != KDC_OK)
					goto fail;
				continue;
			}
			json_object_foreach(v, k2, v2) {
				size_t l2 = strlen(k2);

				(void)v2;
				if (l1 + 1 + l2 >= sizeof(path) ||
				    strchr(k2, KEY_SEP))
					continue;
				memcpy(path, k, l1);
				path[l1] = KEY_SEP;
				memcpy(path + l1 + 1, k2, l2 + 1);
				if ((r = key_intern(t, path, true, &id)) !=
				    KDC_OK ||
				    (r = ids_add(&ids, &len, &cap, id)) != KDC_OK)
					goto fail;
			}
		}
	}
	*out = ids;
	*n = len;
	return KDC_OK;
fail:
	kdc_free(ids);
	return r;
}

/* ---- cached TDs (CACHE_BYTES) ------------------------------------------ */

static void
cache_drop(struct kdc_tdd *t, struct slot *s)
{
	struct slot *o;

	if (s->doc == NULL && s->text == NULL)
		return;
	json_decref(s->doc);
	s->doc = NULL;
	kdc_free(s->text);
	s->text = NULL;
	t->cache_bytes -= s->cost;
	s->cost = 0;
	if (s->cpos != t->cache_len - 1) {
		t->cache_n[s->cpos] = t->cache_n[t->cache_len - 1];
		if ((o = slot_of(t, t->cache_n[s->cpos])) != NULL)
			o->cpos = s->cpos;
	}
	t->cache_len--;
}

/* Room for cost more bytes of s's (evicting others at random): false
 * when it cannot be kept. */
static bool
cache_admit(struct kdc_tdd *t, struct slot *s, size_t cost)
{
	if (cost > CACHE_BYTES / 16)
		return false;
	while (t->cache_bytes + cost > CACHE_BYTES) {
		struct slot *v;

		if (t->cache_len == 0 || (t->cache_len == 1 &&
		    (s->doc != NULL || s->text != NULL)))
			return false;
		t->cache_rng = t->cache_rng * 6364136223846793005ULL +
		    1442695040888963407ULL;
		v = slot_of(t, t->cache_n[(t->cache_rng >> 33) %
		    t->cache_len]);
		if (v == NULL)
			return false;	/* not reached: a cached TD has a slot */
		if (v != s)
			cache_drop(t, v);
	}
	if (s->doc == NULL && s->text == NULL) {
		if (t->cache_len == t->cache_cap) {
			size_t nc = t->cache_cap == 0 ? 1024 :
			    t->cache_cap * 2;
			int64_t *nv = kdc_realloc(t->cache_n, nc * sizeof(*nv));

			if (nv == NULL)
				return false;
			t->cache_n = nv;
			t->cache_cap = nc;
		}
		s->cpos = (uint32_t)t->cache_len;
		t->cache_n[t->cache_len++] = s->n;
	}
	s->cost += cost;
	t->cache_bytes += cost;
	return true;
}

/* Keep doc (a reference taken), the TD parsed from text_len bytes. */
static void
cache_doc(struct kdc_tdd *t, struct slot *s, json_t *doc, size_t text_len)
{
	if (s->doc == NULL && cache_admit(t, s, text_len * CACHE_FACTOR))
		s->doc = json_incref(doc);
}

/* Keep a copy of the Enriched TD text (its "retrieved" value at rt_off). */
static void
cache_text(struct kdc_tdd *t, struct slot *s, const char *text, size_t len,
    size_t rt_off)
{
	char *c;

	if (s->text != NULL || (c = kdc_malloc(len)) == NULL)
		return;
	if (!cache_admit(t, s, len)) {
		kdc_free(c);
		return;
	}
	memcpy(c, text, len);
	s->text = c;
	s->tlen = len;
	s->rt_off = rt_off;
}

static void
slot_kill(struct kdc_tdd *t, struct slot *s)
{
	size_t j;

	if (s == NULL || !s->live)
		return;
	cache_drop(t, s);
	s->live = false;
	kdc_free(s->id);
	kdc_free(s->readers);
	s->id = NULL;
	s->readers = NULL;
	j = nmap_find(t, s->n);
	/* backward-shift deletion keeps the probe chains whole */
	if (t->nmap_v[j] != 0) {
		size_t i = j, k;

		t->nmap_v[i] = 0;
		t->nmap_used--;
		for (k = (i + 1) & (t->nmap_cap - 1); t->nmap_v[k] != 0;
		    k = (k + 1) & (t->nmap_cap - 1)) {
			size_t home = hash_n(t->nmap_k[k]) & (t->nmap_cap - 1);

			if ((k > i && (home <= i || home > k)) ||
			    (k < i && (home <= i && home > k))) {
				t->nmap_k[i] = t->nmap_k[k];
				t->nmap_v[i] = t->nmap_v[k];
				t->nmap_v[k] = 0;
				i = k;
			}
		}
	}
	t->ndead++;
}

/* Drop dead slots from every posting list and renumber. */
static kdc_err
compact(struct kdc_tdd *t)
{
	uint32_t *map;
	size_t live = 0;

	if ((map = kdc_malloc((t->nslots + 1) * sizeof(*map))) == NULL)
		return KDC_ERR_NOMEM;
	for (size_t i = 0; i < t->nslots; i++) {
		if (!t->slots[i].live) {
			kdc_free(t->slots[i].keys);
			map[i] = UINT32_MAX;
			continue;
		}
		map[i] = (uint32_t)live;
		t->slots[live++] = t->slots[i];
	}
	for (size_t k = 0; k < t->nkeys; k++) {
		struct posting *p = &t->post[k];
		size_t w = 0;

		for (size_t i = 0; i < p->n; i++)
			if (map[p->v[i]] != UINT32_MAX)
				p->v[w++] = map[p->v[i]];
		p->n = w;
	}
	t->nslots = live;
	t->ndead = 0;
	for (size_t j = 0; j < t->nmap_cap; j++)
		if (t->nmap_v[j] != 0)
			t->nmap_v[j] = map[t->nmap_v[j] - 1] + 1;
	kdc_free(map);
	return KDC_OK;
}

/* Index TD n (parsed td). */
/* The keys of the registration object every Enriched TD carries. */
static kdc_err
reg_keys(struct kdc_tdd *t, const struct kdc_tdd_row *row, struct slot *s)
{
	const char *names[7];
	size_t k = 0;
	uint32_t *nk, id;
	char path[64];
	kdc_err r;

	names[k++] = "";
	names[k++] = "created";
	names[k++] = "modified";
	names[k++] = "retrieved";
	if (row->expires != 0)
		names[k++] = "expires";
	if (row->ttl >= 0)
		names[k++] = "ttl";
	if (row->lint != NULL && strcmp(row->lint, "[]") != 0)
		names[k++] = "securityLint";
	if ((nk = kdc_realloc(s->keys, (s->nkeys + k) * sizeof(*nk))) == NULL)
		return KDC_ERR_NOMEM;
	s->keys = nk;
	for (size_t i = 0; i < k; i++) {
		snprintf(path, sizeof(path), "registration%s%s",
		    names[i][0] != '\0' ? "\x1f" : "", names[i]);
		if ((r = key_intern(t, path, true, &id)) != KDC_OK)
			return r;
		s->keys[s->nkeys++] = id;
	}
	return KDC_OK;
}

static kdc_err
slot_add(struct kdc_tdd *t, const struct kdc_tdd_row *row, const json_t *td)
{
	int64_t n = row->n, owner = row->owner;
	const char *id = row->id, *readers = row->readers;
	struct slot *s;
	size_t j;
	kdc_err r;

	if (t->ndead > 1024 && t->ndead > t->nslots / 2 &&
	    (r = compact(t)) != KDC_OK)
		return r;
	if (t->nslots == t->cap_slots) {
		size_t nc = t->cap_slots == 0 ? 1024 : t->cap_slots * 2;
		struct slot *ns = kdc_realloc(t->slots, nc * sizeof(*ns));

		if (ns == NULL)
			return KDC_ERR_NOMEM;
		t->slots = ns;
		t->cap_slots = nc;
	}
	if ((t->nmap_used + 1) * 2 > t->nmap_cap &&
	    (r = nmap_grow(t)) != KDC_OK)
		return r;
	s = &t->slots[t->nslots];
	memset(s, 0, sizeof(*s));
	s->n = n;
	s->owner = owner;
	if ((s->id = kdc_strdup(id)) == NULL ||
	    (s->readers = kdc_strdup(readers)) == NULL ||
	    (r = td_keys(t, td, &s->keys, &s->nkeys)) != KDC_OK ||
	    (r = reg_keys(t, row, s)) != KDC_OK) {
		kdc_free(s->id);
		kdc_free(s->readers);
		kdc_free(s->keys);
		return s->id == NULL || s->readers == NULL ? KDC_ERR_NOMEM : r;
	}
	for (uint32_t i = 0; i < s->nkeys; i++)
		if ((r = post_add(&t->post[s->keys[i]], (uint32_t)t->nslots)) !=
		    KDC_OK)
			return r;	/* the slot is not live: skipped */
	s->live = true;
	j = nmap_find(t, n);
	t->nmap_k[j] = n;
	t->nmap_v[j] = (uint32_t)t->nslots + 1;
	t->nmap_used++;
	t->nslots++;
	return KDC_OK;
}

/* ---- events -------------------------------------------------------------- */

static void
ev_clear(struct ev *e)
{
	kdc_free(e->tdid);
	kdc_free(e->data);
	kdc_free(e->readers);
	memset(e, 0, sizeof(*e));
}

/* Keep an event in the ring (strings copied). */
static kdc_err
ring_push(struct kdc_tdd *t, int64_t seq, enum kdc_tdd_event_type type,
    int64_t thing, const char *tdid, const char *data, int64_t owner,
    const char *readers)
{
	struct ev *e;

	if (t->ring_n == t->o.events_keep) {
		ev_clear(&t->ring[t->ring_head]);
		t->ring_head = (t->ring_head + 1) % t->o.events_keep;
		t->ring_n--;
	}
	e = &t->ring[(t->ring_head + t->ring_n) % t->o.events_keep];
	e->seq = seq;
	e->type = type;
	e->thing = thing;
	e->owner = owner;
	if ((e->tdid = kdc_strdup(tdid)) == NULL ||
	    (e->data = kdc_strdup(data)) == NULL ||
	    (e->readers = kdc_strdup(readers)) == NULL) {
		ev_clear(e);
		return KDC_ERR_NOMEM;
	}
	t->ring_n++;
	if (seq > t->last_seq)
		t->last_seq = seq;
	return KDC_OK;
}

static void
wake_all(struct kdc_tdd *t)
{
	for (struct kdc_tdd_sub *s = t->subs; s != NULL; s = s->next)
		if (s->wake != NULL)
			s->wake(s->warg);
}

/* Forget every kept event about thing n (its erasure). */
static void
ring_erase(struct kdc_tdd *t, int64_t n)
{
	for (size_t i = 0; i < t->ring_n; i++) {
		struct ev *e = &t->ring[(t->ring_head + i) % t->o.events_keep];

		if (e->thing == n && !e->erased) {
			int64_t seq = e->seq;

			ev_clear(e);
			e->seq = seq;
			e->erased = true;
		}
	}
}

/* Record an event in the store (inside the caller's transaction). A
 * deletion is recorded as an empty row, deleted again: it only takes its
 * number (the id and data stay in memory), so nothing about an erased TD
 * stays in the file. */
static kdc_err
ev_record(struct kdc_tdd *t, enum kdc_tdd_event_type type, int64_t thing,
    const char *tdid, const char *data, int64_t owner, const char *readers,
    int64_t *seq)
{
	struct kdc_tdd_event_row ev;
	kdc_err r;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.thing = thing;
	ev.owner = owner;
	ev.at = kdc_core_now(t->core);
	ev.tdid = type == KDC_TDD_EV_DELETED ? "" : tdid;
	ev.data = type == KDC_TDD_EV_DELETED ? "{}" : data;
	ev.readers = type == KDC_TDD_EV_DELETED ? "" : readers;
	if ((r = kdc_store_tdd_event_add(t->h, &ev)) != KDC_OK)
		return r;
	*seq = ev.seq;
	return KDC_OK;
}

/* ---- TD text ----------------------------------------------------------- */

/* The Enriched TD text of row (registration info spliced in before the
 * stored TD's closing brace); *rt_off (rt_off not NULL): where the
 * "retrieved" value (RT_LEN bytes) starts. */
static kdc_err
enriched(struct kdc_tdd *t, const struct kdc_tdd_row *row, char **out,
    size_t *len, size_t *rt_off)
{
	char reg[400], cr[32], mo[32], ex[32], rt[32], ttl[48];
	size_t rl, n = row->td_len, ll;
	bool lint = row->lint != NULL && strcmp(row->lint, "[]") != 0 &&
	    row->lint[0] == '[';
	char *buf;

	*out = NULL;
	while (n > 0 && row->td[n - 1] != '}')
		n--;
	if (n < 2)
		return KDC_ERR_STORE_CORRUPT;
	n--;	/* the closing brace */
	rfc3339(row->created, cr, sizeof(cr));
	rfc3339(row->modified, mo, sizeof(mo));
	rfc3339(kdc_core_now(t->core), rt, sizeof(rt));
	ex[0] = '\0';
	if (row->expires != 0)
		rfc3339(row->expires, ex, sizeof(ex));
	ttl[0] = '\0';
	if (row->ttl >= 0)
		snprintf(ttl, sizeof(ttl), ",\"ttl\":%" PRId64, row->ttl);
	rl = (size_t)snprintf(reg, sizeof(reg),
	    "%s\"registration\":{\"created\":\"%s\",\"modified\":\"%s\""
	    "%s%s%s%s,\"retrieved\":\"%s\"%s",
	    n > 1 ? "," : "", cr, mo, ex[0] != '\0' ? ",\"expires\":\"" : "",
	    ex, ex[0] != '\0' ? "\"" : "", ttl, rt,
	    lint ? ",\"securityLint\":" : "");
	/* the lint findings (our own JSON) are searchable with the TD:
	 * $[?@.registration.securityLint] */
	ll = lint ? strlen(row->lint) : 0;
	if ((buf = kdc_malloc(n + rl + ll + 3)) == NULL)
		return KDC_ERR_NOMEM;
	memcpy(buf, row->td, n);
	memcpy(buf + n, reg, rl);
	memcpy(buf + n + rl, row->lint, ll);
	memcpy(buf + n + rl + ll, "}}", 3);
	if (rt_off != NULL)
		*rt_off = n + (size_t)(strstr(reg, ",\"retrieved\":\"") - reg) +
		    14;
	*out = buf;
	*len = n + rl + ll + 2;
	return KDC_OK;
}

/* The TD of row parsed, with its registration object. */
static json_t *
row_json(struct kdc_tdd *t, const struct kdc_tdd_row *row)
{
	char *txt = NULL;
	size_t len = 0;
	json_t *j;

	if (enriched(t, row, &txt, &len, NULL) != KDC_OK)
		return NULL;
	j = json_loadb(txt, len, 0, NULL);
	kdc_free(txt);
	return j;
}

/* ---- lifetime ----------------------------------------------------------- */

struct load_ctx {
	struct kdc_tdd	*t;
	kdc_err		 r;
};

static kdc_err
load_row(void *arg, const struct kdc_tdd_row *row)
{
	struct load_ctx *lc = arg;
	json_t *j = json_loadb(row->td, row->td_len, 0, NULL);
	kdc_err r;

	if (j == NULL) {
		kdc_log_warn("tdd: td#%" PRId64 " does not parse; not indexed",
		    row->n);
		return KDC_OK;
	}
	r = slot_add(lc->t, row, j);
	json_decref(j);
	return r;
}

static kdc_err
load_event(void *arg, const struct kdc_tdd_event_row *ev)
{
	struct load_ctx *lc = arg;

	if (ev->type == KDC_TDD_EV_DELETED)
		return KDC_OK;
	return ring_push(lc->t, ev->seq, ev->type, ev->thing, ev->tdid,
	    ev->data, ev->owner, ev->readers);
}

kdc_err
kdc_tdd_new(struct kdc_core *core, const struct kdc_tdd_opts *o,
    struct kdc_tdd **out)
{
	struct kdc_tdd *t;
	struct load_ctx lc;
	char why[200];
	kdc_err r;

	*out = NULL;
	if ((t = kdc_calloc(1, sizeof(*t))) == NULL)
		return KDC_ERR_NOMEM;
	t->core = core;
	t->o = *o;
	if (t->o.events_keep == 0)
		t->o.events_keep = 1;
	pthread_mutex_init(&t->mu, NULL);
	if ((t->ring = kdc_calloc(t->o.events_keep, sizeof(*t->ring))) ==
	    NULL) {
		r = KDC_ERR_NOMEM;
		goto fail;
	}
	if ((r = kdc_store_tdd_open(core->st, &t->h)) != KDC_OK)
		goto fail;
	if ((r = kdc_tdcheck_builtin(&t->check, why, sizeof(why))) !=
	    KDC_OK) {
		kdc_log_err("tdd: TD schemas: %s", why);
		goto fail;
	}
	if ((r = nmap_grow(t)) != KDC_OK)
		goto fail;
	lc.t = t;
	lc.r = KDC_OK;
	if ((r = kdc_store_tdd_scan(t->h, load_row, &lc)) != KDC_OK ||
	    (r = kdc_store_tdd_events(t->h, 0, load_event, &lc)) != KDC_OK)
		goto fail;
	if ((r = kdc_random(&t->etag_nonce, sizeof(t->etag_nonce))) !=
	    KDC_OK)
		goto fail;
	*out = t;
	return KDC_OK;
fail:
	kdc_tdd_free(t);
	return r;
}

void
kdc_tdd_free(struct kdc_tdd *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nslots; i++) {
		kdc_free(t->slots[i].id);
		kdc_free(t->slots[i].readers);
		kdc_free(t->slots[i].keys);
		json_decref(t->slots[i].doc);
		kdc_free(t->slots[i].text);
	}
	kdc_free(t->cache_n);
	kdc_free(t->slots);
	kdc_free(t->nmap_k);
	kdc_free(t->nmap_v);
	for (size_t i = 0; i < t->keys_cap; i++)
		kdc_free(t->keys[i].name);
	kdc_free(t->keys);
	for (size_t i = 0; i < t->nkeys; i++)
		kdc_free(t->post[i].v);
	kdc_free(t->post);
	if (t->ring != NULL)
		for (size_t i = 0; i < t->o.events_keep; i++)
			ev_clear(&t->ring[i]);
	kdc_free(t->ring);
	while (t->subs != NULL) {
		struct kdc_tdd_sub *s = t->subs;

		t->subs = s->next;
		kdc_free(s);
	}
	kdc_tdcheck_free(t->check);
	kdc_store_tdd_close(t->h);
	pthread_mutex_destroy(&t->mu);
	kdc_free(t);
}

kdc_err
kdc_tdd_caller(struct kdc_tdd *t, const struct kdc_principal *p,
    struct kdc_tdd_caller *out)
{
	kdc_err r;

	memset(out, 0, sizeof(*out));
	if (p == NULL || p->device == 0 || p->dev_id[0] == '\0')
		return KDC_ERR_UNKNOWN_DEVICE;
	out->device = p->device;
	snprintf(out->dev_id, sizeof(out->dev_id), "%s", p->dev_id);
	pthread_mutex_lock(&t->mu);
	r = kdc_store_groups(t->h, p->device, out->groups,
	    sizeof(out->groups));
	pthread_mutex_unlock(&t->mu);
	return r;
}

/* ---- consent ------------------------------------------------------------- */

/* A readers list: words that are device ids or "group:NAME". */
static bool
readers_ok(const char *s)
{
	for (const char *p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._: ", *p) != NULL))
			return false;
	return strlen(s) <= KDC_TDD_READERS_MAX;
}

static bool
purpose_ok(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0';
	    p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* The expiry of a TD: the earliest of its own (ttl from its
 * registration or last update `base`, else the client's absolute
 * expires), the configured maximum ttl from base and the consent's
 * retention. */
static int64_t
expiry(const struct kdc_tdd *t, int64_t base, int64_t ttl, int64_t expires,
    int64_t consented, int64_t retention)
{
	int64_t e = consented + retention;

	if (ttl >= 0 && base + ttl < e)
		e = base + ttl;
	else if (ttl < 0 && expires != 0 && expires < e)
		e = expires;
	if (t->o.max_ttl > 0 && base + t->o.max_ttl < e)
		e = base + t->o.max_ttl;
	return e;
}

/* ---- put / patch ---------------------------------------------------------- */

static void
uuid4(char out[46])
{
	uint8_t b[16];

	(void)kdc_random(b, sizeof(b));
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, 46, "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4],
	    b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
	    b[15]);
}

/* Add the Discovery context to td's @context. */
static kdc_err
ctx_inject(json_t *td)
{
	json_t *c = json_object_get(td, "@context"), *a;
	size_t i;
	json_t *v;

	if (json_is_string(c)) {
		if (strcmp(json_string_value(c), DISCOVERY_CTX) == 0)
			return KDC_OK;
		if ((a = json_array()) == NULL ||
		    json_array_append(a, c) != 0 ||
		    json_array_append_new(a, json_string(DISCOVERY_CTX)) != 0 ||
		    json_object_set_new(td, "@context", a) != 0)
			return KDC_ERR_NOMEM;
		return KDC_OK;
	}
	if (!json_is_array(c))
		return KDC_ERR_INVALID_ARG;
	json_array_foreach(c, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v),
		    DISCOVERY_CTX) == 0)
			return KDC_OK;
	return json_array_append_new(c, json_string(DISCOVERY_CTX)) == 0 ?
	    KDC_OK : KDC_ERR_NOMEM;
}

/* The lint findings as a JSON array text. */
static char *
lint_json(const struct kdc_tdd_result *res)
{
	json_t *a = json_array();
	char *s;

	if (a == NULL)
		return NULL;
	for (size_t i = 0; i < res->nlint; i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "rule",
		    res->lint[i].rule, "field", res->lint[i].field,
		    "description", res->lint[i].description));
	s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return s;
}

/* Validate doc (the TD as the client sent it, or patched), take its
 * registration (ttl, expires) out, lint it, add the Discovery context:
 * *text the compact TD to store. */
static kdc_err
prepare(struct kdc_tdd *t, json_t *doc, struct kdc_tdd_result *res,
    int64_t *ttl, int64_t *expires, char **text, char **lint)
{
	json_t *reg, *v;
	bool more = false;
	kdc_err r;

	*ttl = -1;
	*expires = 0;
	*text = NULL;
	*lint = NULL;
	if (!kdc_tdcheck_validate(t->check, doc, &res->verrs)) {
		snprintf(res->why, sizeof(res->why),
		    "The input did not pass the JSON Schema validation");
		return KDC_ERR_INVALID_ARG;
	}
	if ((reg = json_object_get(doc, "registration")) != NULL) {
		if ((v = json_object_get(reg, "ttl")) != NULL &&
		    json_is_number(v)) {
			double d = json_number_value(v);

			if (d < 0 || d > 1e12) {
				snprintf(res->why, sizeof(res->why),
				    "registration.ttl out of range");
				return KDC_ERR_INVALID_ARG;
			}
			*ttl = (int64_t)d;
		}
		if ((v = json_object_get(reg, "expires")) != NULL &&
		    (!json_is_string(v) || rfc3339_parse(json_string_value(v),
		    expires) != KDC_OK)) {
			snprintf(res->why, sizeof(res->why),
			    "registration.expires is not an RFC 3339 date-time"
			    " with an offset");
			return KDC_ERR_INVALID_ARG;
		}
		json_object_del(doc, "registration");
	}
	res->nlint = kdc_td_lint(doc, res->lint, KDC_LINT_MAX, &more);
	if (t->o.strict_lint && res->nlint > 0) {
		res->strict = true;
		snprintf(res->why, sizeof(res->why),
		    "refused by the security lint (strict mode): %zu finding%s",
		    res->nlint, res->nlint == 1 ? "" : "s");
		return KDC_ERR_INVALID_ARG;
	}
	if ((r = ctx_inject(doc)) != KDC_OK)
		return r;
	if ((*lint = lint_json(res)) == NULL ||
	    (*text = json_dumps(doc, JSON_COMPACT)) == NULL) {
		kdc_json_free(*lint);
		*lint = NULL;
		return KDC_ERR_NOMEM;
	}
	return KDC_OK;
}

/* Store row (new or replaced) with its event, and index it. Inside the
 * lock; res filled. old: the row replaced, or NULL. */
static kdc_err
commit_row(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
    struct kdc_tdd_row *row, const struct kdc_tdd_row *old, json_t *doc,
    const char *diff)
{
	enum kdc_tdd_event_type type = old == NULL ? KDC_TDD_EV_CREATED :
	    KDC_TDD_EV_UPDATED;
	const char *data = old == NULL ? row->td : diff;
	char sub[32];
	int64_t seq = 0;
	kdc_err r;

	if ((r = kdc_store_begin(t->core->st)) != KDC_OK)
		return r;
	if ((r = kdc_store_tdd_put(t->h, row)) != KDC_OK ||
	    (r = ev_record(t, type, row->n, row->id, data, row->owner,
	    row->readers, &seq)) != KDC_OK) {
		kdc_store_rollback(t->core->st);
		return r;
	}
	if ((r = kdc_store_commit(t->core->st)) != KDC_OK)
		return r;
	if (seq > (int64_t)t->o.events_keep && seq % 256 == 0)
		(void)kdc_store_tdd_events_trim(t->h,
		    seq - (int64_t)t->o.events_keep);
	snprintf(sub, sizeof(sub), "td#%" PRId64, row->n);
	(void)AUDIT(t->core, "http", old == NULL ? "tdd.register" :
	    "tdd.update", c->dev_id, KDC_OK, "%s purpose=%s retention=%"
	    PRId64 " readers=%s", sub, row->purpose, row->retention,
	    row->readers);
	/* memory follows the store; a failure here leaves the index short
	 * of this TD until restart (logged), never wrong about access */
	if (old != NULL)
		slot_kill(t, slot_of(t, old->n));
	else
		t->etag_gen++;
	if ((r = slot_add(t, row, doc)) != KDC_OK ||
	    (r = ring_push(t, seq, type, row->n, row->id, data, row->owner,
	    row->readers)) != KDC_OK)
		kdc_log_warn_r(r, "tdd: %s kept, index or events short", sub);
	wake_all(t);
	return KDC_OK;
}

/* The row of id for the caller: NOT_FOUND when absent or unreadable,
 * DENIED when readable but not the caller's (need_owner). */
static kdc_err
row_for(struct kdc_tdd *t, const struct kdc_tdd_caller *c, const char *id,
    bool need_owner, struct kdc_tdd_row **out)
{
	struct kdc_tdd_row *row = NULL;
	kdc_err r;

	*out = NULL;
	if ((r = kdc_store_tdd_get(t->h, id, 0, &row)) != KDC_OK)
		return r;
	if (!may_read(c, row->owner, row->readers)) {
		kdc_tdd_row_free(row);
		return KDC_ERR_NOT_FOUND;
	}
	if (need_owner && row->owner != c->device) {
		kdc_tdd_row_free(row);
		return KDC_ERR_DENIED;
	}
	*out = row;
	return KDC_OK;
}

static kdc_err
consent_check(const struct kdc_tdd *t, const struct kdc_tdd_consent *k,
    struct kdc_tdd_result *res)
{
	if (!purpose_ok(k->purpose) || !readers_ok(k->readers) ||
	    k->retention < 0) {
		if (res != NULL)
			snprintf(res->why, sizeof(res->why), "bad consent: "
			    "purpose, readers (device ids, user.NAME, "
			    "group:NAME) or retention");
		return KDC_ERR_INVALID_ARG;
	}
	if (t->o.retention_max > 0 && k->retention > t->o.retention_max) {
		if (res != NULL)
			snprintf(res->why, sizeof(res->why), "retention above "
			    "the directory's maximum (%" PRId64 " s)",
			    t->o.retention_max);
		return KDC_ERR_INVALID_ARG;
	}
	return KDC_OK;
}

/* Put doc (parsed, owned) as id for c: the body of put and patch. */
static kdc_err
put_doc(struct kdc_tdd *t, const struct kdc_tdd_caller *c, const char *id,
    json_t *doc, const struct kdc_tdd_consent *consent,
    struct kdc_tdd_result *res, const struct kdc_tdd_row *old,
    const json_t *old_doc)
{
	struct kdc_tdd_row row;
	int64_t now = kdc_core_now(t->core), ttl, expires;
	char *text = NULL, *lint = NULL, *diff = NULL;
	json_t *patch = NULL;
	kdc_err r;

	memset(&row, 0, sizeof(row));
	if ((r = prepare(t, doc, res, &ttl, &expires, &text, &lint)) !=
	    KDC_OK)
		goto out;
	row.n = old != NULL ? old->n : 0;
	row.id = (char *)(uintptr_t)id;
	row.owner = c->device;
	row.td = text;
	row.td_len = strlen(text);
	row.created = old != NULL ? old->created : now;
	row.modified = now;
	row.ttl = ttl;
	row.lint = lint;
	if (consent != NULL && consent->given) {
		snprintf(row.purpose, sizeof(row.purpose), "%s",
		    consent->purpose);
		row.readers = (char *)(uintptr_t)consent->readers;
		row.retention = consent->retention > 0 ? consent->retention :
		    t->o.retention_default;
		row.consented = now;
	} else if (old != NULL) {
		snprintf(row.purpose, sizeof(row.purpose), "%s", old->purpose);
		row.readers = old->readers;
		row.retention = old->retention;
		row.consented = old->consented;
	} else {
		snprintf(row.purpose, sizeof(row.purpose), "discovery");
		row.readers = (char *)"";
		row.retention = t->o.retention_default;
		row.consented = now;
	}
	row.client_expires = ttl < 0 ? expires : 0;
	row.expires = expiry(t, now, ttl, expires, row.consented,
	    row.retention);
	if (row.expires <= now) {
		snprintf(res->why, sizeof(res->why), "the TD would expire at "
		    "once (ttl, expires or the consent's retention)");
		r = KDC_ERR_INVALID_ARG;
		goto out;
	}
	if (old != NULL && old_doc != NULL) {
		json_t *nd = json_loadb(text, row.td_len, 0, NULL);

		if (nd == NULL || kdc_merge_diff(old_doc, nd, &patch) !=
		    KDC_OK)
			patch = json_object();
		json_decref(nd);
		if (patch == NULL) {
			r = KDC_ERR_NOMEM;
			goto out;
		}
		json_object_set_new(patch, "id", json_string(id));
		if ((diff = json_dumps(patch, JSON_COMPACT)) == NULL) {
			r = KDC_ERR_NOMEM;
			goto out;
		}
	}
	res->created = old == NULL;
	snprintf(res->id, sizeof(res->id), "%s", id);
	r = commit_row(t, c, &row, old, doc, diff != NULL ? diff :
	    "{}");
out:
	json_decref(patch);
	kdc_json_free(diff);
	kdc_json_free(text);
	kdc_json_free(lint);
	return r;
}

/* A TD id is an IRI (TD 1.1 §5.3.1.1, "format": "uri" in its schema,
 * which our validator does not check): a scheme (RFC 3986 §3.1), a
 * colon, then no whitespace, control or excluded character (§2 and
 * RFC 3987: non-ASCII is welcome). */
static bool
id_ok(const char *id)
{
	const unsigned char *p = (const unsigned char *)id;

	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return false;
	for (p++; *p != ':'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' ||
		    *p == '.'))
			return false;
	for (p++; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f || strchr("<>\"{}|\\^`", *p))
			return false;
	return p[-1] != ':';
}

static json_t *
parse_body(const char *body, size_t len, struct kdc_tdd_result *res)
{
	json_error_t e;
	json_t *doc;

	if ((doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e)) ==
	    NULL) {
		snprintf(res->why, sizeof(res->why), "not JSON: %s (line %d, "
		    "column %d)", e.text, e.line, e.column);
		return NULL;
	}
	if (!json_is_object(doc)) {
		snprintf(res->why, sizeof(res->why), "a TD is a JSON object");
		json_decref(doc);
		return NULL;
	}
	return doc;
}

kdc_err
kdc_tdd_put(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
    const char *id, const char *body, size_t len,
    const struct kdc_tdd_consent *consent, struct kdc_tdd_result *res)
{
	struct kdc_tdd_row *old = NULL;
	json_t *doc, *jid, *old_doc = NULL;
	char gen[46];
	kdc_err r;

	memset(res, 0, sizeof(*res));
	if ((doc = parse_body(body, len, res)) == NULL)
		return KDC_ERR_INVALID_ARG;
	if (consent != NULL && consent->given &&
	    (r = consent_check(t, consent, res)) != KDC_OK)
		goto out;
	jid = json_object_get(doc, "id");
	if (id == NULL) {
		if (jid != NULL) {
			snprintf(res->why, sizeof(res->why), "an anonymous TD "
			    "(POST /things) has no id: PUT /things/{id} it");
			r = KDC_ERR_INVALID_ARG;
			goto out;
		}
		uuid4(gen);
		id = gen;
		if (json_object_set_new(doc, "id", json_string(id)) != 0) {
			r = KDC_ERR_NOMEM;
			goto out;
		}
	} else if (!json_is_string(jid) || strcmp(json_string_value(jid),
	    id) != 0) {
		snprintf(res->why, sizeof(res->why), "the TD's id is not the "
		    "id in the path");
		r = KDC_ERR_INVALID_ARG;
		goto out;
	}
	if (strlen(id) > KDC_TDD_ID_MAX) {
		r = KDC_ERR_TOO_LARGE;
		goto out;
	}
	if (!id_ok(id)) {
		snprintf(res->why, sizeof(res->why), "a TD id is an IRI "
		    "(scheme:rest, no spaces or control characters)");
		r = KDC_ERR_INVALID_ARG;
		goto out;
	}
	pthread_mutex_lock(&t->mu);
	r = row_for(t, c, id, true, &old);
	if (r == KDC_ERR_NOT_FOUND) {
		/* absent, or there but not the caller's to see: creating it
		 * must not tell which */
		struct kdc_tdd_row *any = NULL;

		if (kdc_store_tdd_get(t->h, id, 0, &any) == KDC_OK) {
			kdc_tdd_row_free(any);
			r = KDC_ERR_DENIED;
		} else
			r = KDC_OK;
	} else if (r == KDC_OK)
		old_doc = json_loadb(old->td, old->td_len, 0, NULL);
	if (r == KDC_OK)
		r = put_doc(t, c, id, doc, consent, res, old, old_doc);
	pthread_mutex_unlock(&t->mu);
out:
	json_decref(old_doc);
	kdc_tdd_row_free(old);
	json_decref(doc);
	return r;
}

kdc_err
kdc_tdd_import(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
    const char *const *bodies, const size_t *lens, size_t n,
    const struct kdc_tdd_consent *consent, struct kdc_tdd_result *res)
{
	struct kdc_tdd_row *rows = NULL;
	json_t **docs = NULL;
	char **lints = NULL, **texts = NULL;
	int64_t now = kdc_core_now(t->core), ttl, expires;
	bool given = consent != NULL && consent->given, open = false;
	size_t i;
	kdc_err r = KDC_OK;

	memset(res, 0, sizeof(*res));
	if (n == 0)
		return KDC_OK;
	if (given && (r = consent_check(t, consent, res)) != KDC_OK)
		return r;
	if ((rows = kdc_calloc(n, sizeof(*rows))) == NULL ||
	    (docs = kdc_calloc(n, sizeof(*docs))) == NULL ||
	    (lints = kdc_calloc(n, sizeof(*lints))) == NULL ||
	    (texts = kdc_calloc(n, sizeof(*texts))) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	pthread_mutex_lock(&t->mu);
	if ((r = kdc_store_begin(t->core->st)) != KDC_OK)
		goto unlock;
	open = true;
	for (i = 0; i < n; i++) {
		struct kdc_tdd_row *row = &rows[i];
		json_t *jid;

		if ((docs[i] = parse_body(bodies[i], lens[i], res)) == NULL) {
			r = KDC_ERR_INVALID_ARG;
			break;
		}
		jid = json_object_get(docs[i], "id");
		if (!json_is_string(jid) || json_string_length(jid) == 0) {
			snprintf(res->why, sizeof(res->why), "an imported TD "
			    "has an id");
			r = KDC_ERR_INVALID_ARG;
			break;
		}
		snprintf(res->id, sizeof(res->id), "%s",
		    json_string_value(jid));
		if (json_string_length(jid) > KDC_TDD_ID_MAX) {
			r = KDC_ERR_TOO_LARGE;
			break;
		}
		if ((r = prepare(t, docs[i], res, &ttl, &expires, &texts[i],
		    &lints[i])) != KDC_OK)
			break;
		row->id = (char *)(uintptr_t)json_string_value(jid);
		row->owner = c->device;
		row->td = texts[i];
		row->td_len = strlen(texts[i]);
		row->created = row->modified = now;
		row->ttl = ttl;
		row->lint = lints[i];
		snprintf(row->purpose, sizeof(row->purpose), "%s", given ?
		    consent->purpose : "discovery");
		row->readers = (char *)(uintptr_t)(given ? consent->readers :
		    "");
		row->retention = given && consent->retention > 0 ?
		    consent->retention : t->o.retention_default;
		row->consented = now;
		row->expires = expiry(t, now, ttl, expires, row->consented,
		    row->retention);
		if (row->expires <= now) {
			snprintf(res->why, sizeof(res->why), "the TD would "
			    "expire at once (ttl, expires or the consent's "
			    "retention)");
			r = KDC_ERR_INVALID_ARG;
			break;
		}
		if ((r = kdc_store_tdd_put(t->h, row)) != KDC_OK)
			break;
	}
	if (r != KDC_OK)
		goto unlock;
	if ((r = kdc_store_commit(t->core->st)) != KDC_OK)
		goto unlock;
	open = false;
	t->etag_gen++;
	(void)AUDIT(t->core, "http", "tdd.import", c->dev_id, KDC_OK,
	    "%zu TDs td#%" PRId64 "..td#%" PRId64 " purpose=%s readers=%s", n,
	    rows[0].n, rows[n - 1].n, rows[0].purpose, rows[0].readers);
	for (i = 0; i < n; i++)
		if ((r = slot_add(t, &rows[i], docs[i])) != KDC_OK) {
			kdc_log_warn_r(r, "tdd: td#%" PRId64 " imported, "
			    "index short", rows[i].n);
			r = KDC_OK;
		}
unlock:
	if (open)
		kdc_store_rollback(t->core->st);
	pthread_mutex_unlock(&t->mu);
out:
	for (i = 0; docs != NULL && i < n; i++) {
		json_decref(docs[i]);
		kdc_json_free(texts[i]);
		kdc_json_free(lints[i]);
	}
	kdc_free(rows);
	kdc_free(docs);
	kdc_free(lints);
	kdc_free(texts);
	return r;
}

kdc_err
kdc_tdd_patch(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
    const char *id, const char *body, size_t len, struct kdc_tdd_result *res)
{
	struct kdc_tdd_row *old = NULL;
	json_t *patch, *cur = NULL, *doc = NULL, *jid, *reg;
	kdc_err r;

	memset(res, 0, sizeof(*res));
	if ((patch = parse_body(body, len, res)) == NULL)
		return KDC_ERR_INVALID_ARG;
	pthread_mutex_lock(&t->mu);
	if ((r = row_for(t, c, id, true, &old)) != KDC_OK)
		goto out;
	if ((cur = json_loadb(old->td, old->td_len, 0, NULL)) == NULL) {
		r = KDC_ERR_STORE_CORRUPT;
		goto out;
	}
	/* the client's view includes its ttl: a patch of {} renews it */
	if (old->ttl >= 0 && (reg = json_pack("{s:I}", "ttl",
	    (json_int_t)old->ttl)) != NULL)
		json_object_set_new(cur, "registration", reg);
	if ((r = kdc_merge_patch(cur, patch, &doc)) != KDC_OK) {
		snprintf(res->why, sizeof(res->why), "the merge patch does "
		    "not apply: %s", kdc_err_str(r));
		r = r == KDC_ERR_NOMEM ? r : KDC_ERR_INVALID_ARG;
		goto out;
	}
	jid = json_object_get(doc, "id");
	if (!json_is_object(doc) || !json_is_string(jid) ||
	    strcmp(json_string_value(jid), id) != 0) {
		snprintf(res->why, sizeof(res->why), "a patch may not change "
		    "or remove the id");
		r = KDC_ERR_INVALID_ARG;
		goto out;
	}
	json_object_del(cur, "registration");
	r = put_doc(t, c, id, doc, NULL, res, old, cur);
out:
	pthread_mutex_unlock(&t->mu);
	json_decref(doc);
	json_decref(cur);
	json_decref(patch);
	kdc_tdd_row_free(old);
	return r;
}

/* ---- reads ---------------------------------------------------------------- */

static void
audit_read(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
    const struct kdc_tdd_row *row, const char *how)
{
	if (row->owner == c->device)
		return;
	(void)AUDIT(t->core, "http", "tdd.read", c->dev_id, KDC_OK,
	    "td#%" PRId64 " owner=%" PRId64 " via=%s", row->n, row->owner,
	    how);
}

kdc_err
kdc_tdd_get(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
    const char *id, char **json, size_t *len)
{
	struct kdc_tdd_row *row = NULL;
	kdc_err r;

	*json = NULL;
	*len = 0;
	pthread_mutex_lock(&t->mu);
	if ((r = row_for(t, c, id, false, &row)) == KDC_OK &&
	    (r = enriched(t, row, json, len, NULL)) == KDC_OK)
		audit_read(t, c, row, "get");
	pthread_mutex_unlock(&t->mu);
	kdc_tdd_row_free(row);
	return r;
}

struct list_ctx {
	struct kdc_tdd			*t;
	const struct kdc_tdd_caller	*c;
	char				*buf;
	size_t				 len, cap;
	size_t				 n;
	const char			*how;
};

static kdc_err
cat(struct list_ctx *lc, const char *s, size_t n)
{
	if (lc->len + n + 1 > lc->cap) {
		size_t nc = lc->cap == 0 ? 4096 : lc->cap;
		char *nb;

		while (nc < lc->len + n + 1)
			nc *= 2;
		if ((nb = kdc_realloc(lc->buf, nc)) == NULL)
			return KDC_ERR_NOMEM;
		lc->buf = nb;
		lc->cap = nc;
	}
	memcpy(lc->buf + lc->len, s, n);
	lc->len += n;
	lc->buf[lc->len] = '\0';
	return KDC_OK;
}

static kdc_err
list_row(void *arg, const struct kdc_tdd_row *row)
{
	struct list_ctx *lc = arg;
	char *e = NULL;
	size_t n = 0;
	kdc_err r;

	if ((r = enriched(lc->t, row, &e, &n, NULL)) != KDC_OK)
		return r;
	if (lc->n++ > 0)
		r = cat(lc, ",", 1);
	if (r == KDC_OK)
		r = cat(lc, e, n);
	kdc_free(e);
	audit_read(lc->t, lc->c, row, lc->how);
	return r;
}

/* The caller's identities as readers: its device id and group:NAMEs. */
static size_t
whos_of(const struct kdc_tdd_caller *c, char (*buf)[KDC_GROUP_MAX + 8],
    const char **whos, size_t max)
{
	size_t n = 0;
	const char *p = c->groups;

	whos[n++] = c->dev_id;
	while (*p != '\0' && n < max) {
		const char *e = strchr(p, ' ');
		size_t l = e != NULL ? (size_t)(e - p) : strlen(p);

		if (l > 0 && l <= KDC_GROUP_MAX) {
			snprintf(buf[n], sizeof(buf[n]), "group:%.*s", (int)l,
			    p);
			whos[n] = buf[n];
			n++;
		}
		if (e == NULL)
			break;
		p = e + 1;
	}
	return n;
}

kdc_err
kdc_tdd_list(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
    size_t offset, size_t limit, char **json, size_t *len, size_t *total)
{
	char gbuf[32][KDC_GROUP_MAX + 8];
	const char *whos[32];
	struct list_ctx lc;
	size_t nwho;
	kdc_err r;

	*json = NULL;
	*len = 0;
	memset(&lc, 0, sizeof(lc));
	lc.t = t;
	lc.c = c;
	lc.how = "list";
	if (limit == 0 || limit > KDC_TDD_LIST_MAX)
		limit = KDC_TDD_LIST_MAX;
	nwho = whos_of(c, gbuf, whos, 32);
	if ((r = cat(&lc, "[", 1)) != KDC_OK)
		return r;
	pthread_mutex_lock(&t->mu);
	r = kdc_store_tdd_list(t->h, c->device, whos, nwho, offset, limit,
	    list_row, &lc, total);
	pthread_mutex_unlock(&t->mu);
	if (r == KDC_OK)
		r = cat(&lc, "]", 1);
	if (r != KDC_OK) {
		kdc_free(lc.buf);
		return r;
	}
	*json = lc.buf;
	*len = lc.len;
	return KDC_OK;
}

void
kdc_tdd_etag(struct kdc_tdd *t, char *buf, size_t cap)
{
	pthread_mutex_lock(&t->mu);
	snprintf(buf, cap, "%016" PRIx64 "-%" PRIu64, t->etag_nonce,
	    t->etag_gen);
	pthread_mutex_unlock(&t->mu);
}

size_t
kdc_tdd_count(struct kdc_tdd *t)
{
	size_t n = 0;

	pthread_mutex_lock(&t->mu);
	(void)kdc_store_tdd_count(t->h, &n);
	pthread_mutex_unlock(&t->mu);
	return n;
}

/* ---- search --------------------------------------------------------------- */

static int
slot_cmp_id(const void *a, const void *b, void *arg)
{
	const struct kdc_tdd *t = arg;
	const struct slot *x = &t->slots[*(const uint32_t *)a];
	const struct slot *y = &t->slots[*(const uint32_t *)b];

	return strcmp(x->id, y->id);
}

/* The live slots the caller may read among those having every key of
 * req (all live slots when nreq is 0), sorted by id. */
static kdc_err
candidates(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
    const uint32_t *req, size_t nreq, uint32_t **out, size_t *n)
{
	const struct posting *base = NULL;
	uint32_t *v = NULL;
	size_t len = 0, cap, i;

	*out = NULL;
	*n = 0;
	if (nreq > 0) {
		base = &t->post[req[0]];
		for (i = 1; i < nreq; i++)
			if (t->post[req[i]].n < base->n)
				base = &t->post[req[i]];
		cap = base->n;
	} else
		cap = t->nslots;
	if (cap == 0)
		return KDC_OK;
	if ((v = kdc_malloc(cap * sizeof(*v))) == NULL)
		return KDC_ERR_NOMEM;
	for (i = 0; i < cap; i++) {
		uint32_t s = base != NULL ? base->v[i] : (uint32_t)i;
		const struct slot *sl = &t->slots[s];
		bool ok = sl->live && may_read(c, sl->owner, sl->readers);

		/* the other keys: a slot's own key list is short */
		for (size_t k = 0; ok && k < nreq; k++) {
			bool has = false;

			for (uint32_t j = 0; j < sl->nkeys && !has; j++)
				has = sl->keys[j] == req[k];
			ok = has;
		}
		if (ok)
			v[len++] = s;
	}
	qsort_r(v, len, sizeof(*v), slot_cmp_id, t);
	*out = v;
	*n = len;
	return KDC_OK;
}

/* The Enriched TD of slot sl parsed, from the cache or the store (and
 * then cached), with "retrieved" now (rt): a reference the caller drops;
 * NULL when it is gone or does not parse. Under the lock. */
static json_t *
search_doc(struct kdc_tdd *t, struct slot *sl, const char *rt)
{
	struct kdc_tdd_row *row = NULL;
	json_t *doc, *reg, *v;

	if ((doc = sl->doc) != NULL) {
		if ((reg = json_object_get(doc, "registration")) != NULL &&
		    ((v = json_object_get(reg, "retrieved")) == NULL ||
		    strcmp(json_string_value(v), rt) != 0))
			json_object_set_new(reg, "retrieved", json_string(rt));
		return json_incref(doc);
	}
	if (kdc_store_tdd_get(t->h, NULL, sl->n, &row) != KDC_OK)
		return NULL;	/* erased since indexed */
	if ((doc = row_json(t, row)) != NULL)
		cache_doc(t, sl, doc, row->td_len);
	kdc_tdd_row_free(row);
	return doc;
}

/* Append the Enriched TD text of slot sl to lc (a JSON array's next
 * element): the text json_dumps() of it parsed would give, since the
 * store holds json_dumps() output. false when it is gone. */
static kdc_err
search_text(struct kdc_tdd *t, struct slot *sl, const char *rt,
    struct list_ctx *lc, bool *found)
{
	struct kdc_tdd_row *row = NULL;
	char *txt = NULL;
	size_t len = 0, off = 0;
	kdc_err r;

	*found = false;
	if ((r = cat(lc, ",", lc->len > 1 ? 1 : 0)) != KDC_OK)
		return r;
	if (sl->text != NULL && strlen(rt) == RT_LEN) {
		off = lc->len;
		if ((r = cat(lc, sl->text, sl->tlen)) == KDC_OK)
			memcpy(lc->buf + off + sl->rt_off, rt, RT_LEN);
		*found = r == KDC_OK;
		return r;
	}
	if (kdc_store_tdd_get(t->h, NULL, sl->n, &row) != KDC_OK) {
		lc->len -= lc->len > 1 ? 1 : 0;	/* erased since indexed */
		return KDC_OK;
	}
	r = enriched(t, row, &txt, &len, &off);
	kdc_tdd_row_free(row);
	if (r != KDC_OK) {
		lc->len -= lc->len > 1 ? 1 : 0;
		return r == KDC_ERR_NOMEM ? r : KDC_OK;
	}
	if ((r = cat(lc, txt, len)) == KDC_OK) {
		*found = true;
		if (strlen(rt) == RT_LEN && memcmp(txt + off, rt, RT_LEN) == 0)
			cache_text(t, sl, txt, len, off);
	}
	kdc_free(txt);
	return r;
}

/*
 * Audit the reads of a search (TD numbers aud[0..n), other principals'):
 * one record per owner's run of TDs ("owner=O via=search td#N td#M ..."
 * while it fits a record's detail), all in one transaction: one sync per
 * search, and a handful of records for thousands of TDs read.
 */
static void
audit_search(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
    const int64_t *aud, size_t n)
{
	char d[KDC_AUDIT_DETAIL_MAX + 1];
	bool tx = kdc_store_begin(t->core->st) == KDC_OK;
	size_t i = 0;

	while (i < n) {
		const struct slot *sl = slot_of(t, aud[i]);
		int64_t owner = sl != NULL ? sl->owner : 0;
		size_t l = (size_t)snprintf(d, sizeof(d), "owner=%" PRId64
		    " via=search", owner);

		for (; i < n; i++) {
			char one[32];
			size_t ol;

			sl = slot_of(t, aud[i]);
			if ((sl != NULL ? sl->owner : 0) != owner)
				break;
			ol = (size_t)snprintf(one, sizeof(one), " td#%" PRId64,
			    aud[i]);
			if (l + ol >= sizeof(d))
				break;
			memcpy(d + l, one, ol + 1);
			l += ol;
		}
		(void)AUDIT(t->core, "http", "tdd.read", c->dev_id, KDC_OK,
		    "%s", d);
	}
	if (tx && kdc_store_commit(t->core->st) != KDC_OK)
		kdc_log_err("tdd: search audit records not committed");
}

kdc_err
kdc_tdd_search(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
    const char *query, size_t qlen, char **json, size_t *len, char *why,
    size_t why_len)
{
	char paths[16][KDC_JSONPATH_KEY_MAX], rt[32];
	uint32_t req[16], *cand = NULL;
	struct kdc_jsonpath *q = NULL;
	struct list_ctx lc;
	json_t *out = NULL, *root = NULL;
	size_t nreq, ncand = 0, budget = KDC_TDD_SEARCH_BUDGET, k = 0;
	size_t naud = 0;
	int64_t *aud = NULL;
	char *s = NULL;
	bool exact, locked = false;
	kdc_err r;

	*json = NULL;
	*len = 0;
	memset(&lc, 0, sizeof(lc));
	if (why_len > 0)
		why[0] = '\0';
	if ((r = kdc_jsonpath_parse(query, qlen, &q, why, why_len)) !=
	    KDC_OK)
		return r;
	/* $[?@.a && @.b.c]: the index decides, the answer is the TDs' text */
	exact = kdc_jsonpath_index_exact(q);
	if ((out = json_array()) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	pthread_mutex_lock(&t->mu);
	locked = true;
	rfc3339(kdc_core_now(t->core), rt, sizeof(rt));
	nreq = 0;
	if (kdc_jsonpath_per_member(q)) {
		size_t np = kdc_jsonpath_required(q, paths, 16);

		for (size_t i = 0; i < np; i++) {
			r = key_intern(t, paths[i], false, &req[nreq]);
			if (r == KDC_ERR_NOT_FOUND) {
				/* no TD has it: nothing matches */
				r = KDC_OK;
				exact = false;
				goto dump;
			}
			if (r != KDC_OK)
				break;
			nreq++;
		}
	}
	if (nreq == 0)
		exact = false;
	if (r == KDC_OK)
		r = candidates(t, c, req, nreq, &cand, &ncand);
	if (r == KDC_OK && !kdc_jsonpath_per_member(q) &&
	    ncand > SEARCH_FULL_MAX) {
		snprintf(why, why_len, "this query reads the whole collection "
		    "(%zu TDs, at most %d): select TDs first with $[?...] or "
		    "$[*]", ncand, SEARCH_FULL_MAX);
		r = KDC_ERR_TOO_LARGE;
	}
	if (r == KDC_OK && !kdc_jsonpath_per_member(q) &&
	    (root = json_array()) == NULL)
		r = KDC_ERR_NOMEM;
	/* the TD numbers of other principals' TDs read, audited at the end
	 * in one transaction (one sync, not one per TD) */
	if (r == KDC_OK && ncand > 0 && (aud = kdc_malloc(ncand *
	    sizeof(*aud))) == NULL)
		r = KDC_ERR_NOMEM;
	if (r == KDC_OK && exact)
		r = cat(&lc, "[", 1);
	for (size_t i = 0; r == KDC_OK && i < ncand; i++) {
		struct slot *sl = &t->slots[cand[i]];
		struct kdc_tdd_row *row = NULL;
		json_t *doc;
		size_t before = json_array_size(out);
		bool found;

		if (exact) {
			if ((r = search_text(t, sl, rt, &lc, &found)) ==
			    KDC_OK &&
			    found && sl->owner != c->device)
				aud[naud++] = sl->n;
			if (r == KDC_OK && t->o.result_max > 0 &&
			    lc.len > t->o.result_max)
				r = KDC_ERR_TOO_LARGE;
			k++;
			continue;
		}
		if (root == NULL) {
			if ((doc = search_doc(t, sl, rt)) == NULL)
				continue;
			r = kdc_jsonpath_eval_member(q, doc, out, &budget);
			json_decref(doc);
			if (r == KDC_OK && json_array_size(out) > before &&
			    sl->owner != c->device)
				aud[naud++] = sl->n;
			k++;
			continue;
		}
		if (kdc_store_tdd_get(t->h, NULL, sl->n, &row) != KDC_OK)
			continue;	/* erased since indexed */
		if ((doc = row_json(t, row)) == NULL) {
			kdc_tdd_row_free(row);
			continue;
		}
		r = json_array_append_new(root, doc) == 0 ? KDC_OK :
		    KDC_ERR_NOMEM;
		kdc_tdd_row_free(row);
		k++;
	}
	if (r == KDC_OK && exact)
		r = cat(&lc, "]", 1);
	if (r == KDC_OK && root != NULL) {
		r = kdc_jsonpath_eval(q, root, out, &budget);
		if (r == KDC_OK && json_array_size(out) > 0)
			(void)AUDIT(t->core, "http", "tdd.search", c->dev_id,
			    KDC_OK, "whole-collection query over %zu TDs", k);
	}
	if (r == KDC_OK && naud > 0)
		audit_search(t, c, aud, naud);
	if (r == KDC_ERR_TOO_LARGE && why_len > 0 && why[0] == '\0') {
		if (exact)
			snprintf(why, why_len, "the answer is larger than %zu "
			    "bytes: narrow the query", t->o.result_max);
		else
			snprintf(why, why_len, "the query exceeded its work "
			    "budget (%u nodes)", KDC_TDD_SEARCH_BUDGET);
	}
	if (r != KDC_OK)
		goto out;
	if (exact) {
		*json = lc.buf;
		*len = lc.len;
		lc.buf = NULL;
		goto out;
	}
dump:
	/* under the lock: out holds nodes of cached TDs */
	if ((s = json_dumps(out, JSON_COMPACT)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	if (t->o.result_max > 0 && strlen(s) > t->o.result_max) {
		snprintf(why, why_len, "the answer is larger than %zu bytes: "
		    "narrow the query", t->o.result_max);
		r = KDC_ERR_TOO_LARGE;
		goto out;
	}
	*len = strlen(s);
	if ((*json = kdc_malloc(*len + 1)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	memcpy(*json, s, *len + 1);
out:
	json_decref(out);
	json_decref(root);
	if (locked)
		pthread_mutex_unlock(&t->mu);
	kdc_free(lc.buf);
	kdc_json_free(s);
	kdc_free(cand);
	kdc_free(aud);
	kdc_jsonpath_free(q);
	return r;
}

/* ---- erase ---------------------------------------------------------------- */

/* Erase row (under the lock): the row, its readers, its events, in the
 * store and in memory; a thing_deleted event in memory only. */
static kdc_err
erase(struct kdc_tdd *t, const char *actor, const char *who,
    const struct kdc_tdd_row *row, const char *action)
{
	int64_t seq = 0;
	kdc_err r;

	if ((r = kdc_store_begin(t->core->st)) != KDC_OK)
		return r;
	/* the deletion's own row only takes a number: the delete below
	 * removes it with every other event about the TD */
	if ((r = ev_record(t, KDC_TDD_EV_DELETED, row->n, row->id, "{}",
	    row->owner, row->readers, &seq)) != KDC_OK ||
	    (r = kdc_store_tdd_delete(t->h, row->n)) != KDC_OK) {
		kdc_store_rollback(t->core->st);
		return r;
	}
	if ((r = kdc_store_commit(t->core->st)) != KDC_OK)
		return r;
	if (kdc_store_tdd_scrub(t->h) != KDC_OK)
		kdc_log_info("tdd: WAL not truncated now (a reader holds it); "
		    "the next checkpoint does");
	(void)AUDIT(t->core, actor, action, who, KDC_OK, "td#%" PRId64,
	    row->n);
	slot_kill(t, slot_of(t, row->n));
	t->etag_gen++;
	ring_erase(t, row->n);
	/* delivered to those following now; replay after a restart has it
	 * not (the store keeps nothing of an erased TD) */
	if (ring_push(t, seq, KDC_TDD_EV_DELETED, row->n, row->id, "{}",
	    row->owner, row->readers) != KDC_OK)
		kdc_log_warn("tdd: td#%" PRId64 " deletion not notified",
		    row->n);
	wake_all(t);
	return KDC_OK;
}

kdc_err
kdc_tdd_delete(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
    const char *id)
{
	struct kdc_tdd_row *row = NULL;
	kdc_err r;

	pthread_mutex_lock(&t->mu);
	if ((r = row_for(t, c, id, true, &row)) == KDC_OK)
		r = erase(t, "http", c->dev_id, row, "tdd.erase");
	pthread_mutex_unlock(&t->mu);
	kdc_tdd_row_free(row);
	return r;
}

kdc_err
kdc_tdd_sweep(struct kdc_tdd *t, size_t *n)
{
	int64_t ns[256];
	size_t k = 0;
	kdc_err r;

	*n = 0;
	pthread_mutex_lock(&t->mu);
	r = kdc_store_tdd_expired(t->h, kdc_core_now(t->core), ns, 256, &k);
	for (size_t i = 0; r == KDC_OK && i < k; i++) {
		struct kdc_tdd_row *row = NULL;

		if (kdc_store_tdd_get(t->h, NULL, ns[i], &row) != KDC_OK)
			continue;
		if ((r = erase(t, "sweep", "-", row, "tdd.expire")) == KDC_OK)
			(*n)++;
		kdc_tdd_row_free(row);
	}
	pthread_mutex_unlock(&t->mu);
	return r;
}

/* ---- consent --------------------------------------------------------------- */

kdc_err
kdc_tdd_consent_get(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
    const char *id, char **json, size_t *len)
{
	struct kdc_tdd_row *row = NULL;
	json_t *j = NULL, *rd;
	char at[32], *s = NULL;
	kdc_err r;

	*json = NULL;
	*len = 0;
	pthread_mutex_lock(&t->mu);
	r = row_for(t, c, id, true, &row);
	pthread_mutex_unlock(&t->mu);
	if (r != KDC_OK)
		return r;
	rfc3339(row->consented, at, sizeof(at));
	if ((rd = json_array()) == NULL)
		goto nomem;
	for (const char *p = row->readers; *p != '\0';) {
		const char *e = strchr(p, ' ');
		size_t l = e != NULL ? (size_t)(e - p) : strlen(p);

		if (l > 0)
			json_array_append_new(rd, json_stringn(p, l));
		if (e == NULL)
			break;
		p = e + 1;
	}
	if ((j = json_pack("{s:s,s:o,s:I,s:s}", "purpose", row->purpose,
	    "readers", rd, "retention", (json_int_t)row->retention,
	    "consented", at)) == NULL ||
	    (s = json_dumps(j, JSON_COMPACT)) == NULL)
		goto nomem;
	*len = strlen(s);
	if ((*json = kdc_malloc(*len + 1)) == NULL)
		goto nomem;
	memcpy(*json, s, *len + 1);
	kdc_json_free(s);
	json_decref(j);
	kdc_tdd_row_free(row);
	return KDC_OK;
nomem:
	kdc_json_free(s);
	json_decref(j);
	kdc_tdd_row_free(row);
	return KDC_ERR_NOMEM;
}

kdc_err
kdc_tdd_consent_set(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
    const char *id, const struct kdc_tdd_consent *consent)
{
	struct kdc_tdd_row *row = NULL;
	int64_t now = kdc_core_now(t->core);
	json_t *doc = NULL;
	kdc_err r;

	if ((r = consent_check(t, consent, NULL)) != KDC_OK)
		return r;
	pthread_mutex_lock(&t->mu);
	if ((r = row_for(t, c, id, true, &row)) != KDC_OK)
		goto out;
	snprintf(row->purpose, sizeof(row->purpose), "%s", consent->purpose);
	kdc_free(row->readers);
	if ((row->readers = kdc_strdup(consent->readers)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	row->retention = consent->retention > 0 ? consent->retention :
	    t->o.retention_default;
	row->consented = now;
	row->expires = expiry(t, row->modified, row->ttl, row->client_expires,
	    now, row->retention);
	if ((doc = json_loadb(row->td, row->td_len, 0, NULL)) == NULL) {
		r = KDC_ERR_STORE_CORRUPT;
		goto out;
	}
	if ((r = kdc_store_tdd_put(t->h, row)) != KDC_OK)
		goto out;
	(void)AUDIT(t->core, "http", "tdd.consent", c->dev_id, KDC_OK,
	    "td#%" PRId64 " purpose=%s retention=%" PRId64 " readers=%s",
	    row->n, row->purpose, row->retention, row->readers);
	slot_kill(t, slot_of(t, row->n));
	if ((r = slot_add(t, row, doc)) != KDC_OK)
		kdc_log_warn_r(r, "tdd: td#%" PRId64 " not indexed", row->n);
	r = KDC_OK;
out:
	pthread_mutex_unlock(&t->mu);
	json_decref(doc);
	kdc_tdd_row_free(row);
	return r;
}

/* ---- events ------------------------------------------------------------------ */

kdc_err
kdc_tdd_subscribe(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
    unsigned mask, bool diff, int64_t last_id, void (*wake)(void *),
    void *warg, struct kdc_tdd_sub **out)
{
	struct kdc_tdd_sub *s;

	*out = NULL;
	if ((s = kdc_calloc(1, sizeof(*s))) == NULL)
		return KDC_ERR_NOMEM;
	s->who = *c;
	s->mask = mask & KDC_TDD_EV_MASK_ALL;
	s->diff = diff;
	s->wake = wake;
	s->warg = warg;
	pthread_mutex_lock(&t->mu);
	/* an id past the newest (another directory's, or made up) would
	 * hold back every event until the numbers pass it */
	s->cursor = last_id < 0 || last_id > t->last_seq ? t->last_seq :
	    last_id;
	s->next = t->subs;
	t->subs = s;
	pthread_mutex_unlock(&t->mu);
	*out = s;
	return KDC_OK;
}

void
kdc_tdd_unsubscribe(struct kdc_tdd *t, struct kdc_tdd_sub *s)
{
	struct kdc_tdd_sub **pp;

	if (s == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	for (pp = &t->subs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	pthread_mutex_unlock(&t->mu);
	kdc_free(s);
}

ssize_t
kdc_tdd_sub_read(struct kdc_tdd *t, struct kdc_tdd_sub *s, char *buf,
    size_t max)
{
	size_t used = 0;
	ssize_t ret;

	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < t->ring_n; i++) {
		const struct ev *e =
		    &t->ring[(t->ring_head + i) % t->o.events_keep];
		char plain[KDC_TDD_ID_MAX + 64];
		json_t *idj;
		char *idtxt;
		const char *data;
		int w;

		if (e->seq <= s->cursor)
			continue;
		if (e->erased || !(s->mask & (1u << e->type)) ||
		    !may_read(&s->who, e->owner, e->readers)) {
			s->cursor = e->seq;
			continue;
		}
		if (s->diff && e->type != KDC_TDD_EV_DELETED)
			data = e->data;
		else {
			if ((idj = json_string(e->tdid)) == NULL ||
			    (idtxt = json_dumps(idj, JSON_ENCODE_ANY)) ==
			    NULL) {
				json_decref(idj);
				break;
			}
			snprintf(plain, sizeof(plain), "{\"id\":%s}", idtxt);
			kdc_json_free(idtxt);
			json_decref(idj);
			data = plain;
		}
		w = snprintf(buf + used, max - used,
		    "event: %s\ndata: %s\nid: %" PRId64 "\n\n",
		    ev_names[e->type], data, e->seq);
		if (w < 0 || (size_t)w >= max - used) {
			if (used == 0) {
				pthread_mutex_unlock(&t->mu);
				return -1;
			}
			break;
		}
		used += (size_t)w;
		s->cursor = e->seq;
		if (e->owner != s->who.device)
			(void)AUDIT(t->core, "http", "tdd.read", s->who.dev_id,
			    KDC_OK, "td#%" PRId64 " owner=%" PRId64
			    " via=event", e->thing, e->owner);
	}
	ret = (ssize_t)used;
	pthread_mutex_unlock(&t->mu);
	return ret;
}
