/*
 * tdd_sqlite.c: store/tdd.h on the SQLite engine's connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "base/alloc.h"
#include "store/schema.h"
#include "store/store_int.h"
#include "store/tdd.h"

enum {
	T_GET_ID, T_GET_N, T_INS, T_UPD, T_DEL, T_RD_DEL, T_RD_INS,
	T_EV_DEL_THING, T_SCAN, T_EXPIRED, T_COUNT, T_EV_ADD, T_EVENTS,
	T_EV_TRIM, T_USER_ADD, T_USER_GET, T_USERS, T_GRP_ADD, T_GRPS,
	T_PW_SET, T_PW_GET,
	T_N
};

#define ROW_COLS "n, id, owner, td, created, modified, ttl, expires," \
	" purpose, retention, consented, readers, lint, client_expires"

static const char *const sqls[T_N] = {
	[T_GET_ID] = "SELECT " ROW_COLS " FROM tdd_things WHERE id = ?1",
	[T_GET_N] = "SELECT " ROW_COLS " FROM tdd_things WHERE n = ?1",
	[T_INS] = "INSERT INTO tdd_things(id, owner, td, created, modified,"
	    " ttl, expires, purpose, retention, consented, readers, lint,"
	    " client_expires)"
	    " VALUES(?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	[T_UPD] = "UPDATE tdd_things SET id = ?2, owner = ?3, td = ?4,"
	    " created = ?5, modified = ?6, ttl = ?7, expires = ?8,"
	    " purpose = ?9, retention = ?10, consented = ?11, readers = ?12,"
	    " lint = ?13, client_expires = ?14 WHERE n = ?1",
	[T_DEL] = "DELETE FROM tdd_things WHERE n = ?1",
	[T_RD_DEL] = "DELETE FROM tdd_readers WHERE thing = ?1",
	[T_RD_INS] = "INSERT OR IGNORE INTO tdd_readers(who, thing)"
	    " VALUES(?1, ?2)",
	[T_EV_DEL_THING] = "DELETE FROM tdd_events WHERE thing = ?1",
	[T_SCAN] = "SELECT " ROW_COLS " FROM tdd_things ORDER BY n",
	[T_EXPIRED] = "SELECT n FROM tdd_things WHERE expires IS NOT NULL"
	    " AND expires <= ?1 ORDER BY expires LIMIT ?2",
	[T_COUNT] = "SELECT count(*) FROM tdd_things",
	[T_EV_ADD] = "INSERT INTO tdd_events(type, thing, tdid, data, owner,"
	    " readers, at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[T_EVENTS] = "SELECT seq, type, thing, tdid, data, owner, readers, at"
	    " FROM tdd_events WHERE seq > ?1 ORDER BY seq",
	[T_EV_TRIM] = "DELETE FROM tdd_events WHERE seq < ?1",
	[T_USER_ADD] = "INSERT INTO users(device, name, created)"
	    " VALUES(?1, ?2, ?3)",
	[T_USER_GET] = "SELECT device FROM users WHERE name = ?1",
	[T_USERS] = "SELECT u.name, u.device, u.created,"
	    " coalesce((SELECT group_concat(grp, ' ') FROM"
	    " (SELECT grp FROM principal_groups g WHERE g.device = u.device"
	    "  ORDER BY grp)), '')"
	    " FROM users u ORDER BY u.name",
	[T_GRP_ADD] = "INSERT OR IGNORE INTO principal_groups(device, grp)"
	    " VALUES(?1, ?2)",
	[T_GRPS] = "SELECT grp FROM principal_groups WHERE device = ?1"
	    " ORDER BY grp",
	[T_PW_SET] = "UPDATE users SET pwhash = ?2 WHERE device = ?1",
	[T_PW_GET] = "SELECT device, pwhash FROM users WHERE name = ?1",
};

struct kdc_store_tdd {
	sqlite3		*db;
	sqlite3_stmt	*s[T_N];
};

kdc_err
kdc_store_tdd_open(struct kdc_store *st, struct kdc_store_tdd **out)
{
	struct kdc_store_tdd *h;
	sqlite3 *db = kdc_sqlite_handle(st);
	kdc_err r;

	*out = NULL;
	if (db == NULL)
		return KDC_ERR_UNSUPPORTED;
	if ((h = kdc_calloc(1, sizeof(*h))) == NULL)
		return KDC_ERR_NOMEM;
	h->db = db;
	/* erased TDs leave zeros, not their bytes, in freed pages */
	if ((r = kdc_sq_exec(db, "PRAGMA secure_delete = ON")) != KDC_OK) {
		kdc_free(h);
		return r;
	}
	*out = h;
	return KDC_OK;
}

void
kdc_store_tdd_close(struct kdc_store_tdd *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < T_N; i++)
		sqlite3_finalize(h->s[i]);
	kdc_free(h);
}

static kdc_err
stmt(struct kdc_store_tdd *h, int id, sqlite3_stmt **out)
{
	int rc;

	if (h->s[id] == NULL && (rc = sqlite3_prepare_v3(h->db, sqls[id], -1,
	    SQLITE_PREPARE_PERSISTENT, &h->s[id], NULL)) != SQLITE_OK)
		return kdc_sq_err(h->db, rc, KDC_ERR_STORE);
	*out = h->s[id];
	return KDC_OK;
}

static void
done(sqlite3_stmt *s)
{
	if (s != NULL) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

static int
btext(sqlite3_stmt *s, int i, const char *t)
{
	return sqlite3_bind_text(s, i, t != NULL ? t : "", -1, SQLITE_STATIC);
}

/* Step a statement that returns no row. */
static kdc_err
run(struct kdc_store_tdd *h, sqlite3_stmt *s, kdc_err fk)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return KDC_OK;
	return kdc_sq_err(h->db, rc, fk);
}

static char *
col_dup(sqlite3_stmt *s, int i, size_t *len)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	size_t n = (size_t)sqlite3_column_bytes(s, i);
	char *d;

	if ((d = kdc_malloc(n + 1)) == NULL)
		return NULL;
	if (n > 0 && t != NULL)
		memcpy(d, t, n);
	d[n] = '\0';
	if (len != NULL)
		*len = n;
	return d;
}

void
kdc_tdd_row_free(struct kdc_tdd_row *row)
{
	if (row == NULL)
		return;
	kdc_free(row->id);
	kdc_free(row->td);
	kdc_free(row->readers);
	kdc_free(row->lint);
	kdc_free(row);
}

static kdc_err
row_read(sqlite3_stmt *s, struct kdc_tdd_row *o)
{
	const unsigned char *p;

	memset(o, 0, sizeof(*o));
	o->n = sqlite3_column_int64(s, 0);
	o->owner = sqlite3_column_int64(s, 2);
	o->created = sqlite3_column_int64(s, 4);
	o->modified = sqlite3_column_int64(s, 5);
	o->ttl = sqlite3_column_type(s, 6) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(s, 6);
	o->expires = sqlite3_column_type(s, 7) == SQLITE_NULL ? 0 :
	    sqlite3_column_int64(s, 7);
	if ((p = sqlite3_column_text(s, 8)) != NULL)
		snprintf(o->purpose, sizeof(o->purpose), "%s", (const char *)p);
	o->retention = sqlite3_column_int64(s, 9);
	o->client_expires = sqlite3_column_type(s, 13) == SQLITE_NULL ? 0 :
	    sqlite3_column_int64(s, 13);
	o->consented = sqlite3_column_int64(s, 10);
	if ((o->id = col_dup(s, 1, NULL)) == NULL ||
	    (o->td = col_dup(s, 3, &o->td_len)) == NULL ||
	    (o->readers = col_dup(s, 11, NULL)) == NULL ||
	    (o->lint = col_dup(s, 12, NULL)) == NULL) {
		kdc_free(o->id);
		kdc_free(o->td);
		kdc_free(o->readers);
		memset(o, 0, sizeof(*o));
		return KDC_ERR_NOMEM;
	}
	return KDC_OK;
}

kdc_err
kdc_store_tdd_get(struct kdc_store_tdd *h, const char *id, int64_t n,
    struct kdc_tdd_row **out)
{
	struct kdc_tdd_row *o = NULL;
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc;

	*out = NULL;
	if ((r = stmt(h, id != NULL ? T_GET_ID : T_GET_N, &s)) != KDC_OK)
		return r;
	rc = id != NULL ? btext(s, 1, id) : sqlite3_bind_int64(s, 1, n);
	if (rc != SQLITE_OK) {
		r = kdc_sq_err(h->db, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? KDC_ERR_NOT_FOUND :
		    kdc_sq_err(h->db, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((o = kdc_malloc(sizeof(*o))) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	if ((r = row_read(s, o)) != KDC_OK) {
		kdc_free(o);
		goto out;
	}
	*out = o;
out:
	done(s);
	return r;
}

/* The readers rows of thing n from its space-separated list. */
static kdc_err
readers_put(struct kdc_store_tdd *h, int64_t n, const char *readers)
{
	sqlite3_stmt *s = NULL;
	char who[KDC_TDD_READERS_MAX + 1];
	const char *p = readers, *e;
	kdc_err r;

	if ((r = stmt(h, T_RD_DEL, &s)) != KDC_OK)
		return r;
	sqlite3_bind_int64(s, 1, n);
	r = run(h, s, KDC_ERR_STORE);
	done(s);
	if (r != KDC_OK)
		return r;
	while (p != NULL && *p != '\0') {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		for (e = p; *e != '\0' && *e != ' '; e++)
			;
		if ((size_t)(e - p) >= sizeof(who))
			return KDC_ERR_INVALID_ARG;
		memcpy(who, p, (size_t)(e - p));
		who[e - p] = '\0';
		if ((r = stmt(h, T_RD_INS, &s)) != KDC_OK)
			return r;
		if (btext(s, 1, who) != SQLITE_OK ||
		    sqlite3_bind_int64(s, 2, n) != SQLITE_OK)
			r = KDC_ERR_STORE;
		else
			r = run(h, s, KDC_ERR_STORE);
		done(s);
		if (r != KDC_OK)
			return r;
		p = e;
	}
	return KDC_OK;
}

kdc_err
kdc_store_tdd_put(struct kdc_store_tdd *h, struct kdc_tdd_row *o)
{
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if (o->id == NULL || o->td == NULL || o->readers == NULL ||
	    o->lint == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = stmt(h, o->n == 0 ? T_INS : T_UPD, &s)) != KDC_OK)
		return r;
	if (o->n != 0)
		rc = sqlite3_bind_int64(s, 1, o->n);
	if (rc == SQLITE_OK) rc = btext(s, 2, o->id);
	if (rc == SQLITE_OK) rc = sqlite3_bind_int64(s, 3, o->owner);
	if (rc == SQLITE_OK) rc = sqlite3_bind_text(s, 4, o->td,
	    (int)o->td_len, SQLITE_STATIC);
	if (rc == SQLITE_OK) rc = sqlite3_bind_int64(s, 5, o->created);
	if (rc == SQLITE_OK) rc = sqlite3_bind_int64(s, 6, o->modified);
	if (rc == SQLITE_OK) rc = o->ttl < 0 ? sqlite3_bind_null(s, 7) :
	    sqlite3_bind_int64(s, 7, o->ttl);
	if (rc == SQLITE_OK) rc = o->expires == 0 ? sqlite3_bind_null(s, 8) :
	    sqlite3_bind_int64(s, 8, o->expires);
	if (rc == SQLITE_OK) rc = btext(s, 9, o->purpose);
	if (rc == SQLITE_OK) rc = sqlite3_bind_int64(s, 10, o->retention);
	if (rc == SQLITE_OK) rc = sqlite3_bind_int64(s, 11, o->consented);
	if (rc == SQLITE_OK) rc = btext(s, 12, o->readers);
	if (rc == SQLITE_OK) rc = btext(s, 13, o->lint);
	if (rc == SQLITE_OK) rc = o->client_expires == 0 ?
	    sqlite3_bind_null(s, 14) : sqlite3_bind_int64(s, 14,
	    o->client_expires);
	if (rc != SQLITE_OK) {
		r = kdc_sq_err(h->db, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((rc = sqlite3_step(s)) != SQLITE_DONE) {
		r = kdc_sq_err(h->db, rc, KDC_ERR_STORE);
		goto out;
	}
	if (o->n == 0)
		o->n = sqlite3_last_insert_rowid(h->db);
	else if (sqlite3_changes(h->db) == 0) {
		r = KDC_ERR_NOT_FOUND;
		goto out;
	}
	done(s);
	s = NULL;
	r = readers_put(h, o->n, o->readers);
out:
	done(s);
	return r;
}

kdc_err
kdc_store_tdd_delete(struct kdc_store_tdd *h, int64_t n)
{
	static const int ids[] = { T_EV_DEL_THING, T_RD_DEL, T_DEL };
	sqlite3_stmt *s = NULL;
	kdc_err r = KDC_OK;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		if ((r = stmt(h, ids[i], &s)) != KDC_OK)
			return r;
		sqlite3_bind_int64(s, 1, n);
		r = run(h, s, KDC_ERR_STORE);
		done(s);
		if (r != KDC_OK)
			return r;
	}
	return sqlite3_changes(h->db) == 0 ? KDC_ERR_NOT_FOUND : KDC_OK;
}

static kdc_err
rows_each(struct kdc_store_tdd *h, sqlite3_stmt *s, kdc_tdd_row_fn fn,
    void *arg)
{
	struct kdc_tdd_row o;
	kdc_err r = KDC_OK;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((r = row_read(s, &o)) != KDC_OK)
			return r;
		r = fn(arg, &o);
		kdc_free(o.id);
		kdc_free(o.td);
		kdc_free(o.readers);
		kdc_free(o.lint);
		if (r != KDC_OK)
			return r;
	}
	return rc == SQLITE_DONE ? KDC_OK : kdc_sq_err(h->db, rc,
	    KDC_ERR_STORE);
}

kdc_err
kdc_store_tdd_list(struct kdc_store_tdd *h, int64_t owner,
    const char *const *whos, size_t nwho, size_t offset, size_t limit,
    kdc_tdd_row_fn fn, void *arg, size_t *total)
{
	/* the readers' list varies in length: built per call, bounded by
	 * the caller (a principal and its groups) */
	char sql[1024], in[512];
	size_t used = 0;
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc;

	if (nwho > 32)
		return KDC_ERR_TOO_LARGE;
	in[0] = '\0';
	for (size_t i = 0; i < nwho; i++)
		used += (size_t)snprintf(in + used, sizeof(in) - used,
		    "%s?%zu", i == 0 ? "" : ",", i + 2);
	for (int pass = total != NULL ? 0 : 1; pass < 2; pass++) {
		snprintf(sql, sizeof(sql),
		    "SELECT %s FROM tdd_things WHERE owner = ?1%s%s%s"
		    "%s LIMIT %lld OFFSET %zu",
		    pass == 0 ? "count(*)" : ROW_COLS,
		    nwho > 0 ? " OR n IN (SELECT thing FROM tdd_readers"
		    " WHERE who IN (" : "", in, nwho > 0 ? "))" : "",
		    pass == 0 ? "" : " ORDER BY id",
		    pass == 0 || limit == 0 ? -1LL : (long long)limit,
		    pass == 0 ? (size_t)0 : offset);
		if ((rc = sqlite3_prepare_v2(h->db, sql, -1, &s, NULL)) !=
		    SQLITE_OK)
			return kdc_sq_err(h->db, rc, KDC_ERR_STORE);
		rc = sqlite3_bind_int64(s, 1, owner);
		for (size_t i = 0; i < nwho && rc == SQLITE_OK; i++)
			rc = btext(s, (int)i + 2, whos[i]);
		if (rc != SQLITE_OK) {
			r = kdc_sq_err(h->db, rc, KDC_ERR_STORE);
		} else if (pass == 0) {
			if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
				*total = (size_t)sqlite3_column_int64(s, 0);
				r = KDC_OK;
			} else
				r = kdc_sq_err(h->db, rc, KDC_ERR_STORE);
		} else
			r = rows_each(h, s, fn, arg);
		sqlite3_finalize(s);
		s = NULL;
		if (r != KDC_OK)
			return r;
	}
	return KDC_OK;
}

kdc_err
kdc_store_tdd_scan(struct kdc_store_tdd *h, kdc_tdd_row_fn fn, void *arg)
{
	sqlite3_stmt *s = NULL;
	kdc_err r;

	if ((r = stmt(h, T_SCAN, &s)) != KDC_OK)
		return r;
	r = rows_each(h, s, fn, arg);
	done(s);
	return r;
}

kdc_err
kdc_store_tdd_expired(struct kdc_store_tdd *h, int64_t now, int64_t *ns,
    size_t max, size_t *n)
{
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc;

	*n = 0;
	if ((r = stmt(h, T_EXPIRED, &s)) != KDC_OK)
		return r;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < max)
		ns[(*n)++] = sqlite3_column_int64(s, 0);
	r = rc == SQLITE_DONE || rc == SQLITE_ROW ? KDC_OK :
	    kdc_sq_err(h->db, rc, KDC_ERR_STORE);
	done(s);
	return r;
}

kdc_err
kdc_store_tdd_count(struct kdc_store_tdd *h, size_t *n)
{
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc;

	*n = 0;
	if ((r = stmt(h, T_COUNT, &s)) != KDC_OK)
		return r;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*n = (size_t)sqlite3_column_int64(s, 0);
	else
		r = kdc_sq_err(h->db, rc, KDC_ERR_STORE);
	done(s);
	return r;
}

kdc_err
kdc_store_tdd_event_add(struct kdc_store_tdd *h,
    struct kdc_tdd_event_row *ev)
{
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = stmt(h, T_EV_ADD, &s)) != KDC_OK)
		return r;
	if (rc == SQLITE_OK) rc = sqlite3_bind_int(s, 1, (int)ev->type);
	if (rc == SQLITE_OK) rc = sqlite3_bind_int64(s, 2, ev->thing);
	if (rc == SQLITE_OK) rc = btext(s, 3, ev->tdid);
	if (rc == SQLITE_OK) rc = btext(s, 4, ev->data);
	if (rc == SQLITE_OK) rc = sqlite3_bind_int64(s, 5, ev->owner);
	if (rc == SQLITE_OK) rc = btext(s, 6, ev->readers);
	if (rc == SQLITE_OK) rc = sqlite3_bind_int64(s, 7, ev->at);
	if (rc != SQLITE_OK)
		r = kdc_sq_err(h->db, rc, KDC_ERR_STORE);
	else if ((r = run(h, s, KDC_ERR_STORE)) == KDC_OK)
		ev->seq = sqlite3_last_insert_rowid(h->db);
	done(s);
	return r;
}

kdc_err
kdc_store_tdd_events(struct kdc_store_tdd *h, int64_t after,
    kdc_tdd_event_fn fn, void *arg)
{
	struct kdc_tdd_event_row ev;
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc;

	if ((r = stmt(h, T_EVENTS, &s)) != KDC_OK)
		return r;
	sqlite3_bind_int64(s, 1, after);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ev.seq = sqlite3_column_int64(s, 0);
		ev.type = (enum kdc_tdd_event_type)sqlite3_column_int(s, 1);
		ev.thing = sqlite3_column_int64(s, 2);
		ev.tdid = (const char *)sqlite3_column_text(s, 3);
		ev.data = (const char *)sqlite3_column_text(s, 4);
		ev.owner = sqlite3_column_int64(s, 5);
		ev.readers = (const char *)sqlite3_column_text(s, 6);
		ev.at = sqlite3_column_int64(s, 7);
		if (ev.tdid == NULL || ev.data == NULL || ev.readers == NULL) {
			r = KDC_ERR_NOMEM;
			goto out;
		}
		if ((r = fn(arg, &ev)) != KDC_OK)
			goto out;
	}
	r = rc == SQLITE_DONE ? KDC_OK : kdc_sq_err(h->db, rc, KDC_ERR_STORE);
out:
	done(s);
	return r;
}

kdc_err
kdc_store_tdd_events_trim(struct kdc_store_tdd *h, int64_t before)
{
	sqlite3_stmt *s = NULL;
	kdc_err r;

	if ((r = stmt(h, T_EV_TRIM, &s)) != KDC_OK)
		return r;
	sqlite3_bind_int64(s, 1, before);
	r = run(h, s, KDC_ERR_STORE);
	done(s);
	return r;
}

kdc_err
kdc_store_tdd_scrub(struct kdc_store_tdd *h)
{
	int rc = sqlite3_wal_checkpoint_v2(h->db, NULL,
	    SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);

	return rc == SQLITE_OK ? KDC_OK : kdc_sq_err(h->db, rc,
	    KDC_ERR_STORE);
}

/* ---- people and groups ------------------------------------------------ */

kdc_err
kdc_store_user_add(struct kdc_store_tdd *h, int64_t device, const char *name,
    int64_t created)
{
	sqlite3_stmt *s = NULL;
	kdc_err r;

	if ((r = stmt(h, T_USER_ADD, &s)) != KDC_OK)
		return r;
	sqlite3_bind_int64(s, 1, device);
	btext(s, 2, name);
	sqlite3_bind_int64(s, 3, created);
	r = run(h, s, KDC_ERR_STORE);
	done(s);
	return r;
}

kdc_err
kdc_store_user_get(struct kdc_store_tdd *h, const char *name,
    int64_t *device)
{
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc;

	*device = 0;
	if ((r = stmt(h, T_USER_GET, &s)) != KDC_OK)
		return r;
	btext(s, 1, name);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		*device = sqlite3_column_int64(s, 0);
	else
		r = rc == SQLITE_DONE ? KDC_ERR_NOT_FOUND :
		    kdc_sq_err(h->db, rc, KDC_ERR_STORE);
	done(s);
	return r;
}

kdc_err
kdc_store_users(struct kdc_store_tdd *h, kdc_user_fn fn, void *arg)
{
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc;

	if ((r = stmt(h, T_USERS, &s)) != KDC_OK)
		return r;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if ((r = fn(arg, (const char *)sqlite3_column_text(s, 0),
		    sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 2),
		    (const char *)sqlite3_column_text(s, 3))) != KDC_OK)
			goto out;
	r = rc == SQLITE_DONE ? KDC_OK : kdc_sq_err(h->db, rc, KDC_ERR_STORE);
out:
	done(s);
	return r;
}

kdc_err
kdc_store_group_add(struct kdc_store_tdd *h, int64_t device, const char *grp)
{
	sqlite3_stmt *s = NULL;
	kdc_err r;

	if ((r = stmt(h, T_GRP_ADD, &s)) != KDC_OK)
		return r;
	sqlite3_bind_int64(s, 1, device);
	btext(s, 2, grp);
	r = run(h, s, KDC_ERR_STORE);
	done(s);
	return r;
}

kdc_err
kdc_store_groups(struct kdc_store_tdd *h, int64_t device, char *buf,
    size_t cap)
{
	sqlite3_stmt *s = NULL;
	size_t used = 0, n;
	const char *g;
	kdc_err r;
	int rc;

	if (cap == 0)
		return KDC_ERR_TOO_LARGE;
	buf[0] = '\0';
	if ((r = stmt(h, T_GRPS, &s)) != KDC_OK)
		return r;
	sqlite3_bind_int64(s, 1, device);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		g = (const char *)sqlite3_column_text(s, 0);
		n = g != NULL ? strlen(g) : 0;
		if (used + n + 2 > cap) {
			r = KDC_ERR_TOO_LARGE;
			goto out;
		}
		if (used > 0)
			buf[used++] = ' ';
		memcpy(buf + used, g, n);
		used += n;
		buf[used] = '\0';
	}
	r = rc == SQLITE_DONE ? KDC_OK : kdc_sq_err(h->db, rc, KDC_ERR_STORE);
out:
	done(s);
	return r;
}

kdc_err
kdc_store_user_pw_set(struct kdc_store_tdd *h, int64_t device,
    const char *hash)
{
	sqlite3_stmt *s = NULL;
	kdc_err r;

	if ((r = stmt(h, T_PW_SET, &s)) != KDC_OK)
		return r;
	sqlite3_bind_int64(s, 1, device);
	btext(s, 2, hash);
	if ((r = run(h, s, KDC_ERR_STORE)) == KDC_OK &&
	    sqlite3_changes(h->db) == 0)
		r = KDC_ERR_NOT_FOUND;
	done(s);
	return r;
}

kdc_err
kdc_store_user_pw_get(struct kdc_store_tdd *h, const char *name,
    int64_t *device, char *hash, size_t cap)
{
	sqlite3_stmt *s = NULL;
	const char *v;
	kdc_err r;
	int rc;

	*device = 0;
	if (cap > 0)
		hash[0] = '\0';
	if ((r = stmt(h, T_PW_GET, &s)) != KDC_OK)
		return r;
	btext(s, 1, name);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*device = sqlite3_column_int64(s, 0);
		v = (const char *)sqlite3_column_text(s, 1);
		if (v == NULL || strlen(v) >= cap)
			r = KDC_ERR_TOO_LARGE;
		else
			memcpy(hash, v, strlen(v) + 1);
	} else
		r = rc == SQLITE_DONE ? KDC_ERR_NOT_FOUND :
		    kdc_sq_err(h->db, rc, KDC_ERR_STORE);
	done(s);
	return r;
}
