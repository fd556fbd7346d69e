/*
 * store/tdd.h: the Thing Directory's rows and the people and groups of
 * principals (schema 12, schema.c), kept for core/tdd.c and core's user
 * registry alone (faces and the CLI go through core/tdd.h and core.h).
 *
 *   tdd_things   one row per Thing Description: its id (the TD's, or the
 *                urn:uuid the directory gave an anonymous one), the
 *                principal that registered it (owner, a device row),
 *                the TD as stored (compact JSON, the Discovery context
 *                already in its @context), registration info, the
 *                owner's consent (purpose, readers, retention, when) and
 *                the security lint findings (a JSON array).
 *   tdd_readers  the readers list as rows (who: a device id or
 *                "group:NAME"), for listing what a principal may read.
 *   tdd_events   the event history (created, updated, deleted), with the
 *                owner and readers the event is visible to.
 *   users        people: a registry device with a user name.
 *   principal_groups  the groups of a principal (device or user).
 *
 * SQLite only: these functions run their statements on the connection
 * of a store opened by kdc_sqlite_open() (kdc_sqlite_handle()), each
 * prepared once in the handle kdc_store_tdd_open() gives. Transactions
 * are the store's (kdc_store_begin/commit/rollback). Errors: STORE for
 * an engine failure, NOMEM, NOT_FOUND, EXISTS (a unique id taken),
 * UNSUPPORTED (a store of another engine).
 */
#ifndef KDC_STORE_TDD_H
#define KDC_STORE_TDD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "store/store.h"

#define KDC_TDD_ID_MAX		1024	/* a TD id (IRI), bytes */
#define KDC_TDD_PURPOSE_MAX	200
#define KDC_TDD_READERS_MAX	2048	/* readers list, bytes */
#define KDC_USER_NAME_MAX	64
#define KDC_GROUP_MAX		64	/* one group name */

enum kdc_tdd_event_type {
	KDC_TDD_EV_CREATED = 0,
	KDC_TDD_EV_UPDATED = 1,
	KDC_TDD_EV_DELETED = 2,
};

struct kdc_tdd_row {
	int64_t		 n;		/* 0: not stored yet */
	char		*id;		/* heap */
	int64_t		 owner;		/* device row id */
	char		*td;		/* heap, compact JSON */
	size_t		 td_len;
	int64_t		 created, modified;
	int64_t		 ttl;		/* -1: none */
	int64_t		 expires;	/* 0: none; the one in effect */
	int64_t		 client_expires;	/* 0: none; the client's own
					 * registration.expires (no ttl) */
	char		 purpose[KDC_TDD_PURPOSE_MAX + 1];
	int64_t		 retention;	/* seconds, > 0 */
	int64_t		 consented;
	char		*readers;	/* heap, space-separated, "" */
	char		*lint;		/* heap, JSON array text */
};

void	kdc_tdd_row_free(struct kdc_tdd_row *row);	/* NULL-safe */

struct kdc_tdd_event_row {
	int64_t			 seq;
	enum kdc_tdd_event_type	 type;
	int64_t			 thing;
	const char		*tdid;
	const char		*data;	/* the ?diff=true data: JSON */
	int64_t			 owner;
	const char		*readers;
	int64_t			 at;
};

struct kdc_store_tdd;

kdc_err	kdc_store_tdd_open(struct kdc_store *st, struct kdc_store_tdd **out);
void	kdc_store_tdd_close(struct kdc_store_tdd *h);	/* NULL-safe */

/* By id, or by number (id NULL): *out heap. NOT_FOUND. */
kdc_err	kdc_store_tdd_get(struct kdc_store_tdd *h, const char *id,
	    int64_t n, struct kdc_tdd_row **out);
/* Insert (row->n == 0: sets it; EXISTS when the id is taken) or replace
 * every column of row->n (NOT_FOUND); the readers rows follow. */
kdc_err	kdc_store_tdd_put(struct kdc_store_tdd *h, struct kdc_tdd_row *row);
/* Delete row n, its readers rows and every event about it. NOT_FOUND. */
kdc_err	kdc_store_tdd_delete(struct kdc_store_tdd *h, int64_t n);

typedef kdc_err (*kdc_tdd_row_fn)(void *arg, const struct kdc_tdd_row *row);
/* The rows owned by owner or naming one of whos[0..nwho) as a reader,
 * ordered by id (bytes: Unicode code points for UTF-8), from offset,
 * at most limit (0: all); *total = how many there are in all (NULL:
 * not counted). */
kdc_err	kdc_store_tdd_list(struct kdc_store_tdd *h, int64_t owner,
	    const char *const *whos, size_t nwho, size_t offset, size_t limit,
	    kdc_tdd_row_fn fn, void *arg, size_t *total);
/* Every row, by number (the directory's index at start). */
kdc_err	kdc_store_tdd_scan(struct kdc_store_tdd *h, kdc_tdd_row_fn fn,
	    void *arg);
/* The numbers of rows whose expires is set and <= now, at most max. */
kdc_err	kdc_store_tdd_expired(struct kdc_store_tdd *h, int64_t now,
	    int64_t *ns, size_t max, size_t *n);
/* How many TDs there are. */
kdc_err	kdc_store_tdd_count(struct kdc_store_tdd *h, size_t *n);

/* Append an event (ev->seq set). */
kdc_err	kdc_store_tdd_event_add(struct kdc_store_tdd *h,
	    struct kdc_tdd_event_row *ev);
typedef kdc_err (*kdc_tdd_event_fn)(void *arg,
	    const struct kdc_tdd_event_row *ev);
/* Events with seq > after, oldest first. */
kdc_err	kdc_store_tdd_events(struct kdc_store_tdd *h, int64_t after,
	    kdc_tdd_event_fn fn, void *arg);
/* Delete the events with seq < before. */
kdc_err	kdc_store_tdd_events_trim(struct kdc_store_tdd *h, int64_t before);
/* Copy the WAL into the database file and truncate it, and let freed
 * pages be zeroed (secure_delete is on for this connection): erased
 * rows leave no bytes behind in either file. Best effort while another
 * connection reads (BUSY). */
kdc_err	kdc_store_tdd_scrub(struct kdc_store_tdd *h);

/* ---- people and groups ---------------------------------------------- */

kdc_err	kdc_store_user_add(struct kdc_store_tdd *h, int64_t device,
	    const char *name, int64_t created);
/* The user's device row id: NOT_FOUND. */
kdc_err	kdc_store_user_get(struct kdc_store_tdd *h, const char *name,
	    int64_t *device);
typedef kdc_err (*kdc_user_fn)(void *arg, const char *name, int64_t device,
	    int64_t created, const char *groups);
/* Every user by name; groups space-separated. */
kdc_err	kdc_store_users(struct kdc_store_tdd *h, kdc_user_fn fn, void *arg);
kdc_err	kdc_store_group_add(struct kdc_store_tdd *h, int64_t device,
	    const char *grp);
/* A user's password hash (an Argon2id string, "" for none). NOT_FOUND. */
kdc_err	kdc_store_user_pw_set(struct kdc_store_tdd *h, int64_t device,
	    const char *hash);
/* By user name: the device and the hash ("" if none). NOT_FOUND. */
kdc_err	kdc_store_user_pw_get(struct kdc_store_tdd *h, const char *name,
	    int64_t *device, char *hash, size_t cap);
/* The groups of device, space-separated, into buf (TOO_LARGE past cap). */
kdc_err	kdc_store_groups(struct kdc_store_tdd *h, int64_t device, char *buf,
	    size_t cap);

#endif
