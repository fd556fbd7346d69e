/*
 * sqlite.c: the SQLite engine behind store.h.
 *
 * One connection per kdc_store, WAL journal, synchronous FULL (a commit
 * is durable when it returns), foreign keys on, extended result codes so a uniqueness violation can be told apart from other
 * failures. Statements are prepared once and cached per connection
 * (SQLITE_PREPARE_PERSISTENT); each use ends with reset + clear_bindings,
 * so parameters are bound SQLITE_STATIC: the caller's buffers outlive
 * every sqlite3_step() of the call that bound them.
 *
 * The schema enforces DESIGN §6 itself with partial unique indexes, so a
 * crash or a racing second process cannot leave two live credentials.
 * Which index fired is read from the constraint message, which for an
 * index on plain columns is "UNIQUE constraint failed: tbl.col, ...".
 * The column sets are chosen so that every rule has a distinct one.
 * The schema, its migrations and the code that recognises our file are
 * in schema.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/wipe.h"
#include "store/ace.h"
#include "store/ocf.h"
#include "store/store.h"
#include "store/schema.h"
#include "store/store_int.h"
#include "store/walbuf.h"

/*
 * How long a writer waits for another connection's write lock. Writes are
 * short (one row, or one issuance), so 5 s means something is stuck;
 * past it the caller gets KDC_ERR_STORE_BUSY rather than a hung request.
 */
#define SQ_BUSY_MS		5000
/* Audit rows read per batch in audit_foreach (no statement is held open
 * across the callback, so it may use the store). ~900 B per record. */
#define SQ_AUDIT_BATCH		64

/* ---- cached statements ------------------------------------------------- */

#define CRED_COLS \
	"id, device, kind, type, status, audience, identity, wrapped," \
	" secret_fp, spki, spki_fp, cert, serial, not_before, not_after," \
	" created, status_at, on_use"
#define DEV_COLS	"id, dev_id, profile, status, created, revoked_at"
#define AUDIT_COLS \
	"seq, ts, actor, action, subject, outcome, detail, prev_hash, hash"
#define REG_COLS \
	"id, device, ep, lifetime, version, binding, addr, registered, updated"
/* Prefer a live row, then the newest (store.h: *_get_by_*). */
#define LIVE_FIRST \
	" ORDER BY status IN ('issued','pending') DESC, id DESC LIMIT 1"

enum sq_stmt {
	S_PING,
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_SAVEPOINT,
	S_RELEASE,
	S_ROLLBACK_TO,
	S_BATCH_SP,
	S_BATCH_RELEASE,
	S_BATCH_UNDO,
	S_META_GET,
	S_META_SET,
	S_DEV_ADD,
	S_DEV_GET,
	S_DEV_GET_ID,
	S_DEV_LIST,
	S_DEV_SET_STATUS,
	S_DEV_DELETE,
	S_CRED_ADD,
	S_CRED_SET_WRAPPED,
	S_CRED_GET,
	S_CRED_LIVE_ISSUED,
	S_CRED_LIVE_PENDING,
	S_CRED_BY_IDENTITY,
	S_CRED_BY_SPKI_FP,
	S_CRED_FIND_FP,
	S_CRED_SET_STATUS,
	S_CRED_SUPERSEDE_ISSUED,
	S_CRED_SUPERSEDE_PENDING,
	S_CRED_EXPIRE,
	S_CRL_ENTRIES,
	S_CRED_ENDED,
	S_CA_ADD,
	S_CA_LIST,
	S_AUD_ADD,
	S_AUD_GET,
	S_AUD_LIST,
	S_AUDIT_LAST,
	S_AUDIT_HEAD,
	S_AUDIT_APPEND,
	S_AUDIT_RANGE,
	S_REG_DEL_EP,
	S_REG_ADD,
	S_REG_GET,
	S_REG_TOUCH,
	S_REG_DELETE,
	S_REG_LIST,
	S_RS_ADD,
	S_RS_GET,
	S_RS_LIST,
	S_GRANT_ADD,
	S_GRANT_GET,
	S_GRANT_GET_ID,
	S_GRANT_REVOKE,
	S_GRANT_REVOKE_TOKENS,
	S_TOK_ADD,
	S_TOK_GET,
	S_TOK_BY_HASH,
	S_TOK_REVOKE,
	S_TOK_STATE,
	S_TOK_REVOKE_DEV,
	S_TOK_PURGE,
	S_TOK_TRL,
	S_TOK_LIST,
	S_TOK_LIST_ACTIVE,
	S_OCF_ADD,
	S_OCF_SET,
	S_OCF_GET,
	S_OCF_GET_DEV,
	S_OCF_LIST,
	S_OCF_CREDS,
	S_OCF_CREDS_LIVE,
	S_OCF_AUD_DEL,
	S_OCF_AUD_URI,
	S_CRED_LIST,		/* + filter mask (CL_*), built at first use */
	S_COUNT = S_CRED_LIST + 16
};

/* Which kdc_cred_filter fields are in use: selects the S_CRED_LIST variant
 * so each combination gets its own plan (an "?1 = 0 OR" form defeats the
 * indexes). */
#define CL_DEVICE	1
#define CL_KIND		2
#define CL_STATUS	4
#define CL_EXPIRING	8

#define AUD_COLS	"name, kind, uri, IFNULL(ssid, 0), created"
#define OCF_COLS \
	"id, first_uuid, uuid, new_uuid, IFNULL(device, 0), otm, state, step," \
	" err, coap_ep, coaps_ep, IFNULL(owner_cred, 0), created, updated"
#define RS_COLS		"id, audience, profile, key_wrapped, spki, created"
#define GRANT_COLS \
	"id, device, audience, scopes, refresh, created, revoked_at"
#define TOK_COLS \
	"cti, IFNULL(device, 0), client, IFNULL(grant_id, 0), audience," \
	" scope, kind, pop, pop_kid, pop_key, hash, iat, exp, revoked_at"

static const char *const sql_text[S_CRED_LIST] = {
	[S_PING] = "SELECT val FROM meta WHERE key = 'app'",
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT kdc_op",
	[S_RELEASE] = "RELEASE kdc_op",
	[S_ROLLBACK_TO] = "ROLLBACK TO kdc_op",
	/* an operation of a batch (store.c kdc_store_batch_begin()) */
	[S_BATCH_SP] = "SAVEPOINT kdc_batch_op",
	[S_BATCH_RELEASE] = "RELEASE kdc_batch_op",
	[S_BATCH_UNDO] = "ROLLBACK TO kdc_batch_op",
	[S_META_GET] = "SELECT val FROM meta WHERE key = ?1",
	[S_META_SET] = "INSERT INTO meta(key, val) VALUES(?1, ?2)"
	    " ON CONFLICT(key) DO UPDATE SET val = excluded.val",
	[S_DEV_ADD] = "INSERT INTO devices(dev_id, profile, status, created,"
	    " revoked_at) VALUES(?1, ?2, ?3, ?4, ?5)",
	[S_DEV_GET] = "SELECT " DEV_COLS " FROM devices WHERE dev_id = ?1",
	[S_DEV_GET_ID] = "SELECT " DEV_COLS " FROM devices WHERE id = ?1",
	[S_DEV_LIST] = "SELECT " DEV_COLS " FROM devices ORDER BY dev_id",
	[S_DEV_SET_STATUS] = "UPDATE devices SET status = ?2, revoked_at = ?3"
	    " WHERE id = ?1",
	[S_DEV_DELETE] = "DELETE FROM devices WHERE id = ?1",
	[S_CRED_ADD] = "INSERT INTO credentials(device, kind, type, status,"
	    " audience, identity, wrapped, secret_fp, spki, spki_fp, cert,"
	    " serial, not_before, not_after, created, status_at, on_use)"
	    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
	    " ?14, ?15, ?16, ?17)",
	[S_CRED_SET_WRAPPED] = "UPDATE credentials SET wrapped = ?2"
	    " WHERE id = ?1",
	[S_CRED_GET] = "SELECT " CRED_COLS " FROM credentials WHERE id = ?1",
	/* literal kind and status: the planner uses a partial index only
	 * when the query implies its WHERE */
	[S_CRED_LIVE_ISSUED] = "SELECT " CRED_COLS " FROM credentials"
	    " WHERE device = ?1 AND audience = ?2 AND kind = 'operational'"
	    " AND status = 'issued'",
	[S_CRED_LIVE_PENDING] = "SELECT " CRED_COLS " FROM credentials"
	    " WHERE device = ?1 AND audience = ?2 AND kind = 'operational'"
	    " AND status = 'pending'",
	[S_CRED_BY_IDENTITY] = "SELECT " CRED_COLS " FROM credentials"
	    " WHERE identity = ?1 AND type = 'psk'" LIVE_FIRST,
	[S_CRED_BY_SPKI_FP] = "SELECT " CRED_COLS " FROM credentials"
	    " WHERE spki_fp = ?1" LIVE_FIRST,
	[S_CRED_FIND_FP] = "SELECT 1 FROM credentials WHERE secret_fp = ?1"
	    " AND type = 'psk' AND status IN ('issued','pending')"
	    " AND device <> ?2 LIMIT 1",
	[S_CRED_SET_STATUS] = "UPDATE credentials SET status = ?2,"
	    " status_at = ?3 WHERE id = ?1",
	/* the statuses are literals, not parameters: a bound status makes
	 * SQLite re-plan (reprepare) on every call, since it decides whether
	 * the partial indexes on status apply */
	[S_CRED_SUPERSEDE_ISSUED] = "UPDATE credentials SET status ="
	    " 'superseded', status_at = ?3 WHERE device = ?1 AND audience = ?2"
	    " AND kind = 'operational' AND status = 'issued'",
	[S_CRED_SUPERSEDE_PENDING] = "UPDATE credentials SET status ="
	    " 'superseded', status_at = ?3 WHERE device = ?1 AND audience = ?2"
	    " AND kind = 'operational' AND status = 'pending'",
	[S_CRED_EXPIRE] = "UPDATE credentials SET status = 'expired',"
	    " status_at = ?1 WHERE status IN ('issued','pending')"
	    " AND not_after <> 0 AND not_after <= ?1 RETURNING id",
	[S_CRL_ENTRIES] = "SELECT serial, status_at FROM credentials"
	    " INDEXED BY cred_crl"
	    " WHERE kind = 'operational' AND type = 'x509'"
	    " AND status IN ('revoked','superseded') AND serial <> ''"
	    " AND not_after > ?1 ORDER BY id",
	[S_CRED_ENDED] = "SELECT id FROM credentials INDEXED BY cred_ended"
	    " WHERE status IN ('revoked','expired') AND status_at >= ?1",
	[S_CA_ADD] = "INSERT INTO mfg_cas(name, cert, created)"
	    " VALUES(?1, ?2, ?3)",
	[S_CA_LIST] = "SELECT id, name, cert, created FROM mfg_cas"
	    " ORDER BY name",
	[S_AUD_ADD] = "INSERT INTO audiences(name, kind, uri, ssid, created)"
	    " VALUES(?1, ?2, ?3, ?4, ?5)",
	[S_AUD_GET] = "SELECT " AUD_COLS " FROM audiences WHERE name = ?1",
	[S_AUD_LIST] = "SELECT " AUD_COLS " FROM audiences ORDER BY name",
	[S_AUDIT_LAST] = "SELECT " AUDIT_COLS " FROM audit"
	    " ORDER BY seq DESC LIMIT 1",
	[S_AUDIT_HEAD] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
	[S_AUDIT_APPEND] = "INSERT INTO audit(seq, ts, actor, action, subject,"
	    " outcome, detail, prev_hash, hash)"
	    " VALUES((SELECT IFNULL(MAX(seq), 0) + 1 FROM audit),"
	    " ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_AUDIT_RANGE] = "SELECT " AUDIT_COLS " FROM audit WHERE seq >= ?1"
	    " ORDER BY seq LIMIT ?2",
	[S_REG_DEL_EP] = "DELETE FROM lwm2m_regs WHERE ep = ?1",
	[S_REG_ADD] = "INSERT INTO lwm2m_regs(device, ep, lifetime, version,"
	    " binding, addr, registered, updated)"
	    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[S_REG_GET] = "SELECT " REG_COLS " FROM lwm2m_regs WHERE id = ?1",
	[S_REG_TOUCH] = "UPDATE lwm2m_regs SET updated = ?2,"
	    " lifetime = CASE WHEN ?3 > 0 THEN ?3 ELSE lifetime END,"
	    " binding = IFNULL(?4, binding), addr = IFNULL(?5, addr)"
	    " WHERE id = ?1",
	[S_REG_DELETE] = "DELETE FROM lwm2m_regs WHERE id = ?1",
	[S_REG_LIST] = "SELECT " REG_COLS " FROM lwm2m_regs ORDER BY ep",
	[S_RS_ADD] = "INSERT INTO ace_rs(audience, profile, key_wrapped, spki,"
	    " created) VALUES(?1, ?2, ?3, ?4, ?5)",
	[S_RS_GET] = "SELECT " RS_COLS " FROM ace_rs WHERE audience = ?1",
	[S_RS_LIST] = "SELECT " RS_COLS " FROM ace_rs ORDER BY audience",
	[S_GRANT_ADD] = "INSERT INTO ace_grants(device, audience, scopes,"
	    " refresh, created) VALUES(?1, ?2, ?3, ?4, ?5)",
	[S_GRANT_GET] = "SELECT " GRANT_COLS " FROM ace_grants"
	    " WHERE device = ?1 AND audience = ?2 AND revoked_at = 0",
	[S_GRANT_GET_ID] = "SELECT " GRANT_COLS " FROM ace_grants"
	    " WHERE id = ?1",
	[S_GRANT_REVOKE] = "UPDATE ace_grants SET revoked_at = ?2"
	    " WHERE id = ?1 AND revoked_at = 0",
	[S_GRANT_REVOKE_TOKENS] = "UPDATE ace_tokens SET revoked_at = ?2"
	    " WHERE grant_id = ?1 AND revoked_at = 0",
	[S_TOK_ADD] = "INSERT INTO ace_tokens(cti, device, client, grant_id,"
	    " audience, scope, kind, pop, pop_kid, pop_key, hash, iat, exp)"
	    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[S_TOK_GET] = "SELECT " TOK_COLS " FROM ace_tokens WHERE cti = ?1",
	/* kind literal: the partial index ace_token_hash (schema 10) */
	[S_TOK_BY_HASH] = "SELECT " TOK_COLS " FROM ace_tokens"
	    " WHERE hash = ?1 AND kind = 'refresh'",
	[S_TOK_REVOKE] = "UPDATE ace_tokens SET revoked_at = ?2"
	    " WHERE cti = ?1 AND revoked_at = 0",
	[S_TOK_STATE] = "SELECT revoked_at FROM ace_tokens WHERE cti = ?1",
	[S_TOK_REVOKE_DEV] = "UPDATE ace_tokens SET revoked_at = ?2"
	    " WHERE device = ?1 AND revoked_at = 0",
	[S_TOK_PURGE] = "DELETE FROM ace_tokens WHERE cti IN (SELECT cti"
	    " FROM ace_tokens WHERE cti < ?1 AND exp < ?2 LIMIT "
	    KDC_STR(KDC_ACE_PURGE_BATCH) ")",
	[S_TOK_TRL] = "SELECT hash FROM ace_tokens INDEXED BY ace_trl"
	    " WHERE kind = 'access' AND revoked_at <> 0 AND audience = ?1"
	    " AND exp > ?2",
	[S_TOK_LIST] = "SELECT " TOK_COLS " FROM ace_tokens"
	    " ORDER BY iat, rowid",
	[S_TOK_LIST_ACTIVE] = "SELECT " TOK_COLS " FROM ace_tokens"
	    " WHERE revoked_at = 0 AND exp > ?1 ORDER BY iat, rowid",
	[S_OCF_ADD] = "INSERT INTO ocf_devices(first_uuid, uuid, new_uuid,"
	    " device, otm, state, step, err, coap_ep, coaps_ep, owner_cred,"
	    " created, updated) VALUES(?2, ?3, ?4, NULLIF(?5, 0), ?6, ?7, ?8,"
	    " ?9, ?10, ?11, NULLIF(?12, 0), ?13, ?14)",
	[S_OCF_SET] = "UPDATE ocf_devices SET first_uuid = ?2, uuid = ?3,"
	    " new_uuid = ?4, device = NULLIF(?5, 0), otm = ?6, state = ?7,"
	    " step = ?8, err = ?9, coap_ep = ?10, coaps_ep = ?11,"
	    " owner_cred = NULLIF(?12, 0), created = ?13, updated = ?14"
	    " WHERE id = ?1",
	[S_OCF_GET] = "SELECT " OCF_COLS " FROM ocf_devices"
	    " WHERE uuid = ?1 OR first_uuid = ?1 ORDER BY uuid = ?1 DESC"
	    " LIMIT 1",
	[S_OCF_GET_DEV] = "SELECT " OCF_COLS " FROM ocf_devices"
	    " WHERE device = ?1 ORDER BY id DESC LIMIT 1",
	[S_OCF_LIST] = "SELECT " OCF_COLS " FROM ocf_devices ORDER BY id",
	/* the GLOB term literal, as cred_ocf_audience's WHERE: SQLite
	 * uses a partial index only when the query says its terms */
	[S_OCF_CREDS] = "SELECT id FROM credentials INDEXED BY"
	    " cred_ocf_audience WHERE audience = ?1 AND audience GLOB 'ocf-*'"
	    " ORDER BY id",
	[S_OCF_CREDS_LIVE] = "SELECT id FROM credentials INDEXED BY"
	    " cred_ocf_audience WHERE audience = ?1 AND audience GLOB 'ocf-*'"
	    " AND status IN ('issued','pending') ORDER BY id",
	[S_OCF_AUD_DEL] = "DELETE FROM audiences WHERE name = ?1"
	    " AND kind = 'ocf-device'",
	[S_OCF_AUD_URI] = "UPDATE audiences SET uri = ?2 WHERE name = ?1"
	    " AND kind = 'ocf-device'",
};

struct sq {
	struct kdc_store	 head;		/* first: casts both ways */
	sqlite3			*db;
	int			 version;	/* user_version, migrated */
	sqlite3_stmt		*stmt[S_COUNT];
	bool			 wlock;		/* holds sq_writers */
	bool			 deferred;	/* kdc_store_defer_sync() */
	bool			 unsynced;	/* committed since the last sync */
	struct timespec		 unsynced_at;	/* the first such commit */
	dev_t			 dev;		/* the file opened (0: memory) */
	ino_t			 ino;
};

/*
 * Writers of one process take turns on this lock before BEGIN IMMEDIATE
 * and give it back when the transaction ends. Without it, connections of
 * one process (serve has one per thread: CoAP, HTTP, each EST worker)
 * meet SQLite's own write lock and its busy handler, which sleeps 1, 2,
 * 5, ... ms between tries where a transaction takes ~0.1 ms; a mutex
 * hands over at once. Other processes (the CLI) still meet the busy
 * timeout. Recursive: one thread may hold transactions on two
 * connections (tests do).
 */
static pthread_mutex_t sq_writers;
static pthread_once_t sq_writers_once = PTHREAD_ONCE_INIT;
/* threads waiting for sq_writers: a batch holding it commits early */
static atomic_uint sq_writers_waiting;

static void
sq_writers_init(void)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&sq_writers, &a);
	pthread_mutexattr_destroy(&a);
}

static void
sq_wlock(struct sq *q)
{
	if (q->wlock)
		return;
	pthread_once(&sq_writers_once, sq_writers_init);
	if (pthread_mutex_trylock(&sq_writers) != 0) {
		atomic_fetch_add(&sq_writers_waiting, 1);
		pthread_mutex_lock(&sq_writers);
		atomic_fetch_sub(&sq_writers_waiting, 1);
	}
	q->wlock = true;
}

/* Give the lock back once no transaction is open (also after SQLite
 * rolled one back by itself). */
static void
sq_wunlock(struct sq *q)
{
	if (q->wlock && (q->db == NULL || sqlite3_get_autocommit(q->db))) {
		q->wlock = false;
		pthread_mutex_unlock(&sq_writers);
	}
}

static const struct kdc_store_ops sqlite_ops;

static struct sq *
sq_of(struct kdc_store *st)
{
	return (struct sq *)st;
}

static int64_t
sq_now(void)
{
	return (int64_t)time(NULL);
}

/* ---- errors ------------------------------------------------------------ */

/* kdc_sq_err() for this connection (schema.h). */
static kdc_err
sq_err(struct sq *q, int rc, kdc_err fk)
{
	return kdc_sq_err(q->db, rc, fk);
}

/*
 * Map a failed SQLite call to a kdc_err (schema.h). A uniqueness
 * violation is told apart by its index's columns (top of file).
 */
kdc_err
kdc_sq_err(sqlite3 *db, int rc, kdc_err fk)
{
	const char *msg;

	switch (rc) {
	case SQLITE_IOERR_NOMEM:
		return KDC_ERR_NOMEM;
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		msg = db != NULL ? sqlite3_errmsg(db) : "";
		if (strstr(msg, "credentials.audience") != NULL)
			return KDC_ERR_LIVE_CRED;
		if (strstr(msg, "audiences.ssid") != NULL)
			return KDC_ERR_DUPLICATE_SSID;
		if (strstr(msg, "credentials.identity") != NULL ||
		    strstr(msg, "credentials.secret_fp") != NULL)
			return KDC_ERR_DUPLICATE_PSK;
		return KDC_ERR_EXISTS;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return fk;
	case SQLITE_CONSTRAINT_CHECK:
	case SQLITE_CONSTRAINT_NOTNULL:
		return KDC_ERR_INVALID_ARG;
	default:
		break;
	}
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return KDC_ERR_NOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return KDC_ERR_STORE_BUSY;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return KDC_ERR_STORE_CORRUPT;
	case SQLITE_FULL:
		return KDC_ERR_NOSPACE;
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
		/* a full disk as the system said it (an fsync, an open) */
		if (db != NULL && (sqlite3_system_errno(db) == ENOSPC ||
		    sqlite3_system_errno(db) == EDQUOT))
			return KDC_ERR_NOSPACE;
		return KDC_ERR_IO;
	case SQLITE_TOOBIG:
		return KDC_ERR_TOO_LARGE;
	default:
		return KDC_ERR_STORE;
	}
}

/* ---- statement helpers ------------------------------------------------- */

static kdc_err
sq_prepare(struct sq *q, int id, const char *sql, sqlite3_stmt **out)
{
	int rc;

	*out = NULL;
	if (q->stmt[id] == NULL) {
		rc = sqlite3_prepare_v3(q->db, sql, -1,
		    SQLITE_PREPARE_PERSISTENT, &q->stmt[id], NULL);
		if (rc != SQLITE_OK) {
			q->stmt[id] = NULL;
			return sq_err(q, rc, KDC_ERR_STORE);
		}
	}
	*out = q->stmt[id];
	return KDC_OK;
}

static kdc_err
sq_stmt(struct sq *q, enum sq_stmt id, sqlite3_stmt **out)
{
	return sq_prepare(q, (int)id, sql_text[id], out);
}

/* End a use of a cached statement (NULL-safe). */
static void
sq_done(sqlite3_stmt *s)
{
	if (s == NULL)
		return;
	(void)sqlite3_reset(s);
	(void)sqlite3_clear_bindings(s);
}

/* Run a cached statement that returns no rows we need. */
static kdc_err
sq_run(struct sq *q, sqlite3_stmt *s, kdc_err fk)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		;
	return rc == SQLITE_DONE ? KDC_OK : sq_err(q, rc, fk);
}

/* One-off SQL (open, rollback): schema.c's helpers on this connection. */
static kdc_err
sq_exec(struct sq *q, const char *sql)
{
	return kdc_sq_exec(q->db, sql);
}

/* Bind helpers: text and blobs are SQLITE_STATIC (see top of file). */
static int
bind_text(sqlite3_stmt *s, int i, const char *t)
{
	return sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
}

/* NULL for an absent blob (no pointer or no bytes). */
static int
bind_blob(sqlite3_stmt *s, int i, const uint8_t *p, size_t len)
{
	if (p == NULL || len == 0)
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_blob64(s, i, p, (sqlite3_uint64)len,
	    SQLITE_STATIC);
}

/* Chain binds: the first failure sticks in rc. */
#define BIND(expr)	do { if (rc == SQLITE_OK) rc = (expr); } while (0)

/* ---- column readers ---------------------------------------------------- */

/* Copy a text column into a fixed array; NULL reads as "". Longer than the
 * array, or with an embedded NUL: not something we wrote. */
static kdc_err
col_text(sqlite3_stmt *s, int i, char *dst, size_t cap)
{
	const unsigned char *t;
	int n;

	dst[0] = '\0';
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return KDC_OK;
	if ((t = sqlite3_column_text(s, i)) == NULL)
		return KDC_ERR_NOMEM;
	n = sqlite3_column_bytes(s, i);
	if (n < 0 || (size_t)n >= cap || memchr(t, '\0', (size_t)n) != NULL)
		return KDC_ERR_STORE_CORRUPT;
	memcpy(dst, t, (size_t)n);
	dst[n] = '\0';
	return KDC_OK;
}

/* Heap copy of a blob column; NULL or empty reads as NULL/0. */
static kdc_err
col_blob(sqlite3_stmt *s, int i, uint8_t **out, size_t *out_len)
{
	const void *p;
	uint8_t *b;
	int n;

	*out = NULL;
	*out_len = 0;
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return KDC_OK;
	p = sqlite3_column_blob(s, i);
	n = sqlite3_column_bytes(s, i);
	if (n <= 0)
		return KDC_OK;
	if (p == NULL)
		return KDC_ERR_NOMEM;
	if ((b = kdc_malloc((size_t)n)) == NULL)
		return KDC_ERR_NOMEM;
	memcpy(b, p, (size_t)n);
	*out = b;
	*out_len = (size_t)n;
	return KDC_OK;
}

/* A blob column of exactly 32 bytes (audit hashes). */
static kdc_err
col_hash(sqlite3_stmt *s, int i, uint8_t dst[32])
{
	const void *p;

	if (sqlite3_column_type(s, i) != SQLITE_BLOB)
		return KDC_ERR_STORE_CORRUPT;
	p = sqlite3_column_blob(s, i);
	if (sqlite3_column_bytes(s, i) != 32)
		return KDC_ERR_STORE_CORRUPT;
	if (p == NULL)
		return KDC_ERR_NOMEM;
	memcpy(dst, p, 32);
	return KDC_OK;
}

/* An enum stored as text; parse() is a kdc_*_parse(). */
static kdc_err
col_enum(sqlite3_stmt *s, int i, int (*parse)(const char *), int *v)
{
	char buf[32];
	kdc_err r;

	*v = -1;
	if ((r = col_text(s, i, buf, sizeof(buf))) != KDC_OK)
		return r;
	if ((*v = parse(buf)) < 0)
		return KDC_ERR_STORE_CORRUPT;
	return KDC_OK;
}

static int
dev_status_parse(const char *s)
{
	if (strcmp(s, kdc_dev_status_str(KDC_DEV_ACTIVE)) == 0)
		return KDC_DEV_ACTIVE;
	if (strcmp(s, kdc_dev_status_str(KDC_DEV_REVOKED)) == 0)
		return KDC_DEV_REVOKED;
	return -1;
}

static kdc_err
row_device(sqlite3_stmt *s, struct kdc_device **out)
{
	struct kdc_device *d = NULL;
	int status;
	kdc_err r;

	*out = NULL;
	if ((d = kdc_calloc(1, sizeof(*d))) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	d->id = sqlite3_column_int64(s, 0);
	if ((r = col_text(s, 1, d->dev_id, sizeof(d->dev_id))) != KDC_OK ||
	    (r = col_text(s, 2, d->profile, sizeof(d->profile))) != KDC_OK ||
	    (r = col_enum(s, 3, dev_status_parse, &status)) != KDC_OK)
		goto out;
	d->status = (enum kdc_dev_status)status;
	d->created = sqlite3_column_int64(s, 4);
	d->revoked_at = sqlite3_column_int64(s, 5);
	*out = d;
	d = NULL;
out:
	kdc_device_free(d);
	return r;
}

/* Columns in CRED_COLS order. */
static kdc_err
row_cred(sqlite3_stmt *s, struct kdc_cred **out)
{
	struct kdc_cred *c = NULL;
	int kind, type, status;
	kdc_err r;

	*out = NULL;
	if ((c = kdc_calloc(1, sizeof(*c))) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	c->id = sqlite3_column_int64(s, 0);
	c->device = sqlite3_column_int64(s, 1);
	if ((r = col_enum(s, 2, kdc_cred_kind_parse, &kind)) != KDC_OK ||
	    (r = col_enum(s, 3, kdc_cred_type_parse, &type)) != KDC_OK ||
	    (r = col_enum(s, 4, kdc_cred_status_parse, &status)) != KDC_OK ||
	    (r = col_text(s, 5, c->audience, sizeof(c->audience))) != KDC_OK ||
	    (r = col_text(s, 6, c->identity, sizeof(c->identity))) != KDC_OK ||
	    (r = col_blob(s, 7, &c->wrapped, &c->wrapped_len)) != KDC_OK ||
	    (r = col_blob(s, 8, &c->secret_fp, &c->secret_fp_len)) != KDC_OK ||
	    (r = col_blob(s, 9, &c->spki, &c->spki_len)) != KDC_OK ||
	    (r = col_blob(s, 10, &c->spki_fp, &c->spki_fp_len)) != KDC_OK ||
	    (r = col_blob(s, 11, &c->cert, &c->cert_len)) != KDC_OK ||
	    (r = col_text(s, 12, c->serial, sizeof(c->serial))) != KDC_OK)
		goto out;
	c->kind = (enum kdc_cred_kind)kind;
	c->type = (enum kdc_cred_type)type;
	c->status = (enum kdc_cred_status)status;
	c->not_before = sqlite3_column_int64(s, 13);
	c->not_after = sqlite3_column_int64(s, 14);
	c->created = sqlite3_column_int64(s, 15);
	c->status_at = sqlite3_column_int64(s, 16);
	c->on_use = sqlite3_column_int(s, 17) != 0;
	*out = c;
	c = NULL;
out:
	kdc_cred_free(c);
	return r;
}

static kdc_err
row_mfg_ca(sqlite3_stmt *s, struct kdc_mfg_ca **out)
{
	struct kdc_mfg_ca *ca = NULL;
	kdc_err r;

	*out = NULL;
	if ((ca = kdc_calloc(1, sizeof(*ca))) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	ca->id = sqlite3_column_int64(s, 0);
	if ((r = col_text(s, 1, ca->name, sizeof(ca->name))) != KDC_OK ||
	    (r = col_blob(s, 2, &ca->cert, &ca->cert_len)) != KDC_OK)
		goto out;
	ca->created = sqlite3_column_int64(s, 3);
	*out = ca;
	ca = NULL;
out:
	kdc_mfg_ca_free(ca);
	return r;
}

static kdc_err
row_audit(sqlite3_stmt *s, struct kdc_audit_rec *rec)
{
	kdc_err r;

	memset(rec, 0, sizeof(*rec));
	rec->seq = sqlite3_column_int64(s, 0);
	rec->ts = sqlite3_column_int64(s, 1);
	if ((r = col_text(s, 2, rec->actor, sizeof(rec->actor))) != KDC_OK ||
	    (r = col_text(s, 3, rec->action, sizeof(rec->action))) != KDC_OK ||
	    (r = col_text(s, 4, rec->subject,
	    sizeof(rec->subject))) != KDC_OK ||
	    (r = col_text(s, 5, rec->outcome,
	    sizeof(rec->outcome))) != KDC_OK ||
	    (r = col_text(s, 6, rec->detail, sizeof(rec->detail))) != KDC_OK ||
	    (r = col_hash(s, 7, rec->prev_hash)) != KDC_OK ||
	    (r = col_hash(s, 8, rec->hash)) != KDC_OK)
		return r;
	return KDC_OK;
}

/*
 * Room for element n in a growing array of elements of size sz. Returns
 * the (maybe moved) array, or NULL with v untouched when out of memory.
 */
static void *
grow(void *v, size_t n, size_t *cap, size_t sz)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return v;
	ncap = *cap == 0 ? 16 : *cap * 2;
	if (ncap > SIZE_MAX / sz)
		return NULL;
	if ((nv = kdc_realloc(v, ncap * sz)) == NULL)
		return NULL;
	*cap = ncap;
	return nv;
}

/* Step a bound single-row lookup; NOT_FOUND if no row. */
static kdc_err
sq_row(struct sq *q, sqlite3_stmt *s)
{
	int rc;

	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		return KDC_OK;
	if (rc == SQLITE_DONE)
		return KDC_ERR_NOT_FOUND;
	return sq_err(q, rc, KDC_ERR_STORE);
}

/*
 * Make a multi-statement operation atomic: inside the caller's
 * transaction a savepoint, else a write transaction of its own.
 */
static kdc_err
sq_atomic_begin(struct sq *q, bool *own)
{
	sqlite3_stmt *s = NULL;
	kdc_err r;

	*own = sqlite3_get_autocommit(q->db) != 0;
	if (*own)
		sq_wlock(q);
	if ((r = sq_stmt(q, *own ? S_BEGIN : S_SAVEPOINT, &s)) == KDC_OK)
		r = sq_run(q, s, KDC_ERR_STORE);
	sq_done(s);
	sq_wunlock(q);		/* BEGIN failed: no transaction */
	return r;
}

static kdc_err
sq_atomic_end(struct sq *q, bool own, kdc_err r)
{
	sqlite3_stmt *s = NULL;
	kdc_err r2;

	if (r == KDC_OK) {
		if ((r = sq_stmt(q, own ? S_COMMIT : S_RELEASE, &s)) == KDC_OK)
			r = sq_run(q, s, KDC_ERR_STORE);
		sq_done(s);
		s = NULL;
		if (r == KDC_OK) {
			sq_wunlock(q);
			return KDC_OK;
		}
	}
	/* failed: undo, and leave no savepoint behind */
	if (own) {
		if (!sqlite3_get_autocommit(q->db) &&
		    sq_stmt(q, S_ROLLBACK, &s) == KDC_OK)
			(void)sq_run(q, s, KDC_ERR_STORE);
		sq_done(s);
		sq_wunlock(q);
		return r;
	}
	if ((r2 = sq_stmt(q, S_ROLLBACK_TO, &s)) == KDC_OK)
		r2 = sq_run(q, s, KDC_ERR_STORE);
	sq_done(s);
	s = NULL;
	if (r2 == KDC_OK && sq_stmt(q, S_RELEASE, &s) == KDC_OK)
		(void)sq_run(q, s, KDC_ERR_STORE);
	sq_done(s);
	return r;
}

/* ---- open / close ------------------------------------------------------ */

static void
sq_free(struct sq *q)
{
	int rc;

	if (q == NULL)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(q->stmt[i]);
	if (q->db != NULL && (rc = sqlite3_close(q->db)) != SQLITE_OK)
		kdc_log_err("sqlite3_close: %s", sqlite3_errstr(rc));
	q->db = NULL;		/* an open transaction ended with it */
	sq_wunlock(q);
	kdc_free(q);
}

kdc_err
kdc_sqlite_open(const char *path, int create, struct kdc_store **out)
{
	static const enum sq_stmt undo[] = {
		S_ROLLBACK, S_ROLLBACK_TO, S_RELEASE
	};
	struct sq *q = NULL;
	sqlite3_stmt *s;
	struct stat sb;
	int flags, fd, rc, version;
	kdc_err r;

	*out = NULL;
	flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
	    SQLITE_OPEN_EXRESCODE;
	if (create)
		flags |= SQLITE_OPEN_CREATE;
	if (strcmp(path, ":memory:") != 0 && stat(path, &sb) != 0) {
		if (errno != ENOENT)
			return KDC_ERR_IO;
		if (!create)
			return KDC_ERR_NOT_FOUND;
		/* The file holds wrapped secrets: owner only. SQLite gives
		 * the -wal and -shm files the mode of the database file. */
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return KDC_ERR_IO;
		if (fd >= 0)
			(void)close(fd);
	}
	if ((q = kdc_calloc(1, sizeof(*q))) == NULL)
		return KDC_ERR_NOMEM;
	q->head.ops = &sqlite_ops;
	/* the commit's log appends in one write (walbuf.h) */
	if ((rc = sqlite3_open_v2(path, &q->db, flags, kdc_walbuf_vfs())) !=
	    SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	(void)sqlite3_extended_result_codes(q->db, 1);
	(void)sqlite3_busy_timeout(q->db, SQ_BUSY_MS);
	/* identify before anything that could write to someone else's file */
	if ((r = sq_exec(q, "PRAGMA foreign_keys = ON")) != KDC_OK ||
	    (r = kdc_sq_identify(q->db, create != 0, &version)) != KDC_OK ||
	    /* 1 KiB pages for a new file (a no-op on an existing one): an
	     * issuance dirties ~8 pages spread over the indexes, each
	     * written whole to the WAL at commit; 1 KiB instead of 4 took
	     * the store's part of a certificate issuance from ~129 to
	     * ~100 µs and of a PSK issuance from ~107 to ~75 µs
	     * (bench_issue, docs/perf.md) */
	    (r = sq_exec(q, "PRAGMA page_size = 1024")) != KDC_OK ||
	    (r = sq_exec(q, "PRAGMA journal_mode = WAL")) != KDC_OK ||
	    /* FULL: every COMMIT syncs the WAL before it returns, so a
	     * credential handed out after a commit (the Bootstrap-Write of
	     * /0, the EST 2.04, `cert sign`'s PEM) survives a power loss,
	     * not only kill -9 as with NORMAL, which syncs at checkpoints
	     * only. Per connection, not stored in the file: every
	     * connection sets it. The cost is one fdatasync per
	     * transaction (group commit shares it: kdc_core_enroll_commit;
	     * bench_issue's FULL/NORMAL rows, docs/perf.md) */
	    (r = sq_exec(q, "PRAGMA synchronous = FULL")) != KDC_OK ||
	    /* checkpoint every 10,000 WAL frames (~10 MiB), not SQLite's
	     * 1,000: the hot pages (table tails, index roots) are written
	     * back once per checkpoint, not once per 100 transactions, and
	     * the fsync goes with them; +12 % certificate and +24 % PSK
	     * issuances per second (bench_issue, docs/perf.md) */
	    (r = sq_exec(q, "PRAGMA wal_autocheckpoint = 10000")) != KDC_OK ||
	    (r = kdc_sq_migrate(q->db, &version)) != KDC_OK)
		goto out;
	q->version = version;
	if (strcmp(path, ":memory:") != 0 && stat(path, &sb) == 0) {
		q->dev = sb.st_dev;
		q->ino = sb.st_ino;
	}
	/* Undo must not need memory: prepare it now, not when out of it. */
	for (size_t i = 0; i < sizeof(undo) / sizeof(undo[0]); i++)
		if ((r = sq_stmt(q, undo[i], &s)) != KDC_OK)
			goto out;
	*out = &q->head;
	q = NULL;
out:
	sq_free(q);
	return r;
}

void *
kdc_sqlite_handle(struct kdc_store *st)
{
	if (st == NULL || st->ops != &sqlite_ops)
		return NULL;
	return sq_of(st)->db;
}

static void
sq_close(struct kdc_store *st)
{
	sq_free(sq_of(st));
}

static kdc_err
sq_ping(struct kdc_store *st)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	struct stat sb;
	const char *path;
	kdc_err r;

	/* the path still names the file we write: else every commit goes
	 * to a removed (or replaced) file that nobody will read again */
	if (q->ino != 0 && (path = sqlite3_db_filename(q->db, "main")) !=
	    NULL && (stat(path, &sb) != 0 || sb.st_dev != q->dev ||
	    sb.st_ino != q->ino))
		return KDC_ERR_STORE_GONE;
	if ((r = sq_stmt(q, S_PING, &s)) == KDC_OK)
		r = sq_row(q, s);
	if (r == KDC_ERR_NOT_FOUND)
		r = KDC_ERR_STORE_CORRUPT;
	sq_done(s);
	return r;
}

/*
 * quick_check returns "ok" alone, or one row per finding (up to the
 * argument's count); the first is what we report. A page damaged enough
 * that the check itself cannot read it fails the step instead
 * (SQLITE_CORRUPT): reported the same way, with SQLite's message.
 */
static kdc_err
sq_check(struct kdc_store *st, char *why, size_t cap)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	const unsigned char *t;
	kdc_err r;
	int rc;

	rc = sqlite3_prepare_v2(q->db, "PRAGMA quick_check(8)", -1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? KDC_ERR_STORE : sq_err(q, rc,
		    KDC_ERR_STORE);
		if (r == KDC_ERR_STORE_CORRUPT)
			(void)snprintf(why, cap, "%s", sqlite3_errmsg(q->db));
		goto out;
	}
	if ((t = sqlite3_column_text(s, 0)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	if (strcmp((const char *)t, "ok") == 0) {
		r = KDC_OK;
		goto out;
	}
	(void)snprintf(why, cap, "%s", (const char *)t);
	r = KDC_ERR_STORE_CORRUPT;
out:
	/* a damaged store stays as it was found: the last connection's
	 * close would otherwise copy the log into the file (a checkpoint)
	 * and delete it, the log that may be what is damaged, or what a
	 * salvage needs (docs/traps.md) */
	if (r == KDC_ERR_STORE_CORRUPT)
		(void)sqlite3_db_config(q->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
		    1, NULL);
	/* one log line: findings start "*** in database main ***\n" */
	for (char *c = why; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
	sqlite3_finalize(s);
	return r;
}

static int
sq_schema_version(struct kdc_store *st)
{
	return sq_of(st)->version;
}

/* ---- transactions (outermost level; store.c counts) -------------------- */

static kdc_err
sq_simple(struct sq *q, enum sq_stmt id)
{
	sqlite3_stmt *s = NULL;
	kdc_err r;

	if ((r = sq_stmt(q, id, &s)) == KDC_OK)
		r = sq_run(q, s, KDC_ERR_STORE);
	sq_done(s);
	return r;
}

void
kdc_store_process_init(void)
{
	/* SQLITE_MISUSE once the library is initialised: nothing to undo */
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static kdc_err
sq_begin(struct kdc_store *st)
{
	struct sq *q = sq_of(st);
	kdc_err r;

	sq_wlock(q);
	r = sq_simple(q, S_BEGIN);
	sq_wunlock(q);		/* BEGIN failed: no transaction */
	return r;
}

static void
sq_rollback(struct kdc_store *st)
{
	struct sq *q = sq_of(st);
	kdc_err r;

	/* SQLite may have rolled back by itself (I/O, NOMEM, BUSY) */
	if (!sqlite3_get_autocommit(q->db) &&
	    (r = sq_simple(q, S_ROLLBACK)) != KDC_OK &&
	    (r = sq_exec(q, "ROLLBACK")) != KDC_OK)
		kdc_log_err_r(r, "rollback failed");
	sq_wunlock(q);
}

static kdc_err
sq_commit(struct kdc_store *st)
{
	struct sq *q = sq_of(st);
	kdc_err r;

	if ((r = sq_simple(q, S_COMMIT)) != KDC_OK)
		sq_rollback(st);
	else if (q->deferred && !q->unsynced) {
		q->unsynced = true;
		clock_gettime(CLOCK_MONOTONIC, &q->unsynced_at);
	}
	sq_wunlock(q);
	return r;
}

/* FULL again syncs what NORMAL left, first: nothing is left behind. */
static kdc_err
sq_defer_sync(struct kdc_store *st, bool on)
{
	struct sq *q = sq_of(st);
	kdc_err r;

	if (!on && (r = st->ops->sync(st, true)) != KDC_OK)
		return r;
	if ((r = sq_exec(q, on ? "PRAGMA synchronous = NORMAL" :
	    "PRAGMA synchronous = FULL")) != KDC_OK)
		return r;
	q->deferred = on;
	return KDC_OK;
}

/*
 * One sync of the write-ahead log for every commit since the last: what
 * synchronous = FULL does at each COMMIT, through SQLite's own file
 * handle for the log (SQLITE_FCNTL_JOURNAL_POINTER), so the same VFS sync
 * (fdatasync here) runs. Frames a checkpoint moved into the database file
 * meanwhile were synced there by the checkpoint.
 */
static kdc_err
sq_sync(struct kdc_store *st, bool force)
{
	struct sq *q = sq_of(st);
	sqlite3_file *wal = NULL;
	struct timespec now;
	int rc;

	if (!q->unsynced)
		return KDC_OK;
	if (!force) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - q->unsynced_at.tv_sec) * 1000 +
		    (now.tv_nsec - q->unsynced_at.tv_nsec) / 1000000 <
		    KDC_STORE_SYNC_DELAY_MS)
			return KDC_OK;
	}
	rc = sqlite3_file_control(q->db, "main", SQLITE_FCNTL_JOURNAL_POINTER,
	    &wal);
	if (rc != SQLITE_OK || wal == NULL || wal->pMethods == NULL)
		return KDC_ERR_IO;	/* committed, yet no log to sync */
	if (wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL) != SQLITE_OK)
		return KDC_ERR_IO;
	q->unsynced = false;
	return KDC_OK;
}

static bool
sq_in_txn(struct kdc_store *st)
{
	return sqlite3_get_autocommit(sq_of(st)->db) == 0;
}

static kdc_err
sq_sp_open(struct kdc_store *st)
{
	return sq_simple(sq_of(st), S_BATCH_SP);
}

static kdc_err
sq_sp_release(struct kdc_store *st)
{
	return sq_simple(sq_of(st), S_BATCH_RELEASE);
}

/* ROLLBACK TO keeps the savepoint: release it too */
static kdc_err
sq_sp_undo(struct kdc_store *st)
{
	kdc_err r;

	if ((r = sq_simple(sq_of(st), S_BATCH_UNDO)) != KDC_OK)
		return r;
	return sq_simple(sq_of(st), S_BATCH_RELEASE);
}

static bool
sq_contended(struct kdc_store *st)
{
	(void)st;
	return atomic_load(&sq_writers_waiting) > 0;
}

/*
 * A descriptor of our own on the write-ahead log, for a sync on another
 * thread: fdatasync() syncs the file whatever descriptor names it, and
 * the log stays the same file while this connection has the database
 * open (SQLite removes it only when the last connection closes; a
 * checkpoint rewinds it in place, after syncing the database file).
 */
static kdc_err
sq_syncfd_open(struct kdc_store *st, int *fd)
{
	struct sq *q = sq_of(st);
	const char *db = sqlite3_db_filename(q->db, "main");
	const char *wal;

	*fd = -1;
	if (!q->deferred)
		return KDC_OK;		/* every COMMIT syncs: nothing to do */
	if (db == NULL || *db == '\0' || (wal = sqlite3_filename_wal(db)) ==
	    NULL)
		return KDC_ERR_INVALID_ARG;	/* :memory: */
	if ((*fd = open(wal, O_RDONLY | O_CLOEXEC)) < 0)
		return KDC_ERR_IO;
	return KDC_OK;
}

static bool
sq_sync_mark(struct kdc_store *st)
{
	struct sq *q = sq_of(st);

	if (!q->unsynced)
		return false;
	q->unsynced = false;
	return true;
}

/* ---- meta -------------------------------------------------------------- */

static kdc_err
sq_meta_get(struct kdc_store *st, const char *key, char **out)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	const unsigned char *t;
	char *val = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_META_GET, &s)) != KDC_OK)
		goto out;
	BIND(bind_text(s, 1, key));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((r = sq_row(q, s)) != KDC_OK)
		goto out;
	if ((t = sqlite3_column_text(s, 0)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	if ((val = kdc_strdup((const char *)t)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	*out = val;
	val = NULL;
out:
	sq_done(s);
	kdc_free(val);
	return r;
}

static kdc_err
sq_meta_set(struct kdc_store *st, const char *key, const char *val)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if (strcmp(key, "app") == 0)
		return KDC_ERR_INVALID_ARG;	/* our identity: read-only */
	if ((r = sq_stmt(q, S_META_SET, &s)) != KDC_OK)
		goto out;
	BIND(bind_text(s, 1, key));
	BIND(bind_text(s, 2, val));
	r = rc != SQLITE_OK ? sq_err(q, rc, KDC_ERR_STORE) :
	    sq_run(q, s, KDC_ERR_STORE);
out:
	sq_done(s);
	return r;
}

/* ---- devices ----------------------------------------------------------- */

static kdc_err
sq_device_add(struct kdc_store *st, struct kdc_device *dev)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	int64_t created;
	kdc_err r;
	int rc = SQLITE_OK;

	created = dev->created != 0 ? dev->created : sq_now();
	if ((r = sq_stmt(q, S_DEV_ADD, &s)) != KDC_OK)
		goto out;
	BIND(bind_text(s, 1, dev->dev_id));
	/* "" = no profile: NULL */
	if (dev->profile[0] != '\0')
		BIND(bind_text(s, 2, dev->profile));
	BIND(bind_text(s, 3, kdc_dev_status_str(dev->status)));
	BIND(sqlite3_bind_int64(s, 4, created));
	BIND(sqlite3_bind_int64(s, 5, dev->revoked_at));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((r = sq_run(q, s, KDC_ERR_STORE)) != KDC_OK)
		goto out;
	dev->id = sqlite3_last_insert_rowid(q->db);
	dev->created = created;
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_device_get_common(struct sq *q, sqlite3_stmt *s, struct kdc_device **out)
{
	struct kdc_device *d = NULL;
	kdc_err r;

	if ((r = sq_row(q, s)) != KDC_OK ||
	    (r = row_device(s, &d)) != KDC_OK)
		goto out;
	*out = d;
	d = NULL;
out:
	kdc_device_free(d);
	return r;
}

static kdc_err
sq_device_get(struct kdc_store *st, const char *dev_id,
    struct kdc_device **out)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_DEV_GET, &s)) != KDC_OK)
		goto out;
	BIND(bind_text(s, 1, dev_id));
	r = rc != SQLITE_OK ? sq_err(q, rc, KDC_ERR_STORE) :
	    sq_device_get_common(q, s, out);
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_device_get_by_id(struct kdc_store *st, int64_t id, struct kdc_device **out)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_DEV_GET_ID, &s)) != KDC_OK)
		goto out;
	BIND(sqlite3_bind_int64(s, 1, id));
	r = rc != SQLITE_OK ? sq_err(q, rc, KDC_ERR_STORE) :
	    sq_device_get_common(q, s, out);
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_device_list(struct kdc_store *st, struct kdc_device ***out, size_t *n)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	struct kdc_device **v = NULL, **nv;
	size_t len = 0, cap = 0;
	kdc_err r;
	int rc;

	if ((r = sq_stmt(q, S_DEV_LIST, &s)) != KDC_OK)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((nv = grow(v, len, &cap, sizeof(*v))) == NULL) {
			r = KDC_ERR_NOMEM;
			goto out;
		}
		v = nv;
		if ((r = row_device(s, &v[len])) != KDC_OK)
			goto out;
		len++;
	}
	if (rc != SQLITE_DONE) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	*out = v;
	*n = len;
	v = NULL;
	len = 0;
out:
	sq_done(s);
	kdc_device_list_free(v, len);
	return r;
}

/* Run a bound UPDATE/DELETE on one row id; NOT_FOUND if it matched none. */
static kdc_err
sq_run_one(struct sq *q, sqlite3_stmt *s, int rc)
{
	kdc_err r;

	if (rc != SQLITE_OK)
		return sq_err(q, rc, KDC_ERR_STORE);
	if ((r = sq_run(q, s, KDC_ERR_STORE)) != KDC_OK)
		return r;
	return sqlite3_changes(q->db) == 0 ? KDC_ERR_NOT_FOUND : KDC_OK;
}

static kdc_err
sq_cred_supersede(struct kdc_store *st, int64_t device, const char *audience,
    enum kdc_cred_status from, size_t *n)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	*n = 0;
	if ((r = sq_stmt(q, from == KDC_CRED_ISSUED ? S_CRED_SUPERSEDE_ISSUED :
	    S_CRED_SUPERSEDE_PENDING, &s)) != KDC_OK)
		goto out;
	BIND(sqlite3_bind_int64(s, 1, device));
	BIND(bind_text(s, 2, audience));
	BIND(sqlite3_bind_int64(s, 3, sq_now()));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((r = sq_run(q, s, KDC_ERR_STORE)) == KDC_OK)
		*n = (size_t)sqlite3_changes(q->db);
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_device_set_status(struct kdc_store *st, int64_t id,
    enum kdc_dev_status status)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_DEV_SET_STATUS, &s)) != KDC_OK)
		goto out;
	BIND(sqlite3_bind_int64(s, 1, id));
	BIND(bind_text(s, 2, kdc_dev_status_str(status)));
	BIND(sqlite3_bind_int64(s, 3,
	    status == KDC_DEV_REVOKED ? sq_now() : 0));
	r = sq_run_one(q, s, rc);
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_device_delete(struct kdc_store *st, int64_t id)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_DEV_DELETE, &s)) != KDC_OK)
		goto out;
	BIND(sqlite3_bind_int64(s, 1, id));
	r = sq_run_one(q, s, rc);
out:
	sq_done(s);
	return r;
}

/* ---- credentials ------------------------------------------------------- */

static kdc_err
sq_cred_add(struct kdc_store *st, struct kdc_cred *c)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	int64_t created, status_at;
	kdc_err r;
	int rc = SQLITE_OK;

	created = c->created != 0 ? c->created : sq_now();
	status_at = c->status_at != 0 ? c->status_at : created;
	if ((r = sq_stmt(q, S_CRED_ADD, &s)) != KDC_OK)
		goto out;
	BIND(sqlite3_bind_int64(s, 1, c->device));
	BIND(bind_text(s, 2, kdc_cred_kind_str(c->kind)));
	BIND(bind_text(s, 3, kdc_cred_type_str(c->type)));
	BIND(bind_text(s, 4, kdc_cred_status_str(c->status)));
	BIND(bind_text(s, 5, c->audience));
	BIND(bind_text(s, 6, c->identity));
	BIND(bind_blob(s, 7, c->wrapped, c->wrapped_len));
	BIND(bind_blob(s, 8, c->secret_fp, c->secret_fp_len));
	BIND(bind_blob(s, 9, c->spki, c->spki_len));
	BIND(bind_blob(s, 10, c->spki_fp, c->spki_fp_len));
	BIND(bind_blob(s, 11, c->cert, c->cert_len));
	BIND(bind_text(s, 12, c->serial));
	BIND(sqlite3_bind_int64(s, 13, c->not_before));
	BIND(sqlite3_bind_int64(s, 14, c->not_after));
	BIND(sqlite3_bind_int64(s, 15, created));
	BIND(sqlite3_bind_int64(s, 16, status_at));
	BIND(sqlite3_bind_int(s, 17, c->on_use ? 1 : 0));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	/* the only foreign key: no such device */
	if ((r = sq_run(q, s, KDC_ERR_NOT_FOUND)) != KDC_OK)
		goto out;
	c->id = sqlite3_last_insert_rowid(q->db);
	c->created = created;
	c->status_at = status_at;
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_cred_set_wrapped(struct kdc_store *st, int64_t id, const uint8_t *wrapped,
    size_t len)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_CRED_SET_WRAPPED, &s)) != KDC_OK)
		goto out;
	BIND(sqlite3_bind_int64(s, 1, id));
	BIND(bind_blob(s, 2, wrapped, len));
	r = sq_run_one(q, s, rc);
out:
	sq_done(s);
	return r;
}

/* Step a bound credential lookup and copy the row. */
static kdc_err
sq_cred_fetch(struct sq *q, sqlite3_stmt *s, int rc, struct kdc_cred **out)
{
	struct kdc_cred *c = NULL;
	kdc_err r;

	if (rc != SQLITE_OK)
		return sq_err(q, rc, KDC_ERR_STORE);
	if ((r = sq_row(q, s)) != KDC_OK ||
	    (r = row_cred(s, &c)) != KDC_OK)
		goto out;
	*out = c;
	c = NULL;
out:
	kdc_cred_free(c);
	return r;
}

static kdc_err
sq_cred_get(struct kdc_store *st, int64_t id, struct kdc_cred **out)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_CRED_GET, &s)) != KDC_OK)
		goto out;
	BIND(sqlite3_bind_int64(s, 1, id));
	r = sq_cred_fetch(q, s, rc, out);
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_cred_get_live(struct kdc_store *st, int64_t device, const char *audience,
    enum kdc_cred_status status, struct kdc_cred **out)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, status == KDC_CRED_ISSUED ? S_CRED_LIVE_ISSUED :
	    S_CRED_LIVE_PENDING, &s)) != KDC_OK)
		goto out;
	BIND(sqlite3_bind_int64(s, 1, device));
	BIND(bind_text(s, 2, audience));
	r = sq_cred_fetch(q, s, rc, out);
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_cred_get_by_identity(struct kdc_store *st, const char *identity,
    struct kdc_cred **out)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_CRED_BY_IDENTITY, &s)) != KDC_OK)
		goto out;
	BIND(bind_text(s, 1, identity));
	r = sq_cred_fetch(q, s, rc, out);
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_cred_get_by_spki_fp(struct kdc_store *st, const uint8_t fp[32],
    struct kdc_cred **out)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_CRED_BY_SPKI_FP, &s)) != KDC_OK)
		goto out;
	BIND(bind_blob(s, 1, fp, 32));
	r = sq_cred_fetch(q, s, rc, out);
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_cred_find_secret_fp(struct kdc_store *st, const uint8_t *fp,
    size_t fp_len, int64_t except_device)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_CRED_FIND_FP, &s)) != KDC_OK)
		goto out;
	BIND(bind_blob(s, 1, fp, fp_len));
	BIND(sqlite3_bind_int64(s, 2, except_device));
	r = rc != SQLITE_OK ? sq_err(q, rc, KDC_ERR_STORE) : sq_row(q, s);
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_cred_list(struct kdc_store *st, const struct kdc_cred_filter *f,
    struct kdc_cred ***out, size_t *n)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	struct kdc_cred **v = NULL, **nv;
	size_t len = 0, cap = 0;
	char sql[512];
	unsigned mask = 0;
	kdc_err r;
	int rc = SQLITE_OK;

	if (f->device != 0)
		mask |= CL_DEVICE;
	if (f->kind != -1)
		mask |= CL_KIND;
	if (f->status != -1)
		mask |= CL_STATUS;
	if (f->expiring_before != 0)
		mask |= CL_EXPIRING;
	(void)snprintf(sql, sizeof(sql),
	    "SELECT " CRED_COLS " FROM credentials WHERE 1%s%s%s%s ORDER BY id",
	    (mask & CL_DEVICE) ? " AND device = ?1" : "",
	    (mask & CL_KIND) ? " AND kind = ?2" : "",
	    (mask & CL_STATUS) ? " AND status = ?3" : "",
	    (mask & CL_EXPIRING) ?
	    " AND not_after <> 0 AND not_after < ?4" : "");
	if ((r = sq_prepare(q, S_CRED_LIST + (int)mask, sql, &s)) != KDC_OK)
		goto out;
	if (mask & CL_DEVICE)
		BIND(sqlite3_bind_int64(s, 1, f->device));
	if (mask & CL_KIND)
		BIND(bind_text(s, 2,
		    kdc_cred_kind_str((enum kdc_cred_kind)f->kind)));
	if (mask & CL_STATUS)
		BIND(bind_text(s, 3,
		    kdc_cred_status_str((enum kdc_cred_status)f->status)));
	if (mask & CL_EXPIRING)
		BIND(sqlite3_bind_int64(s, 4, f->expiring_before));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((nv = grow(v, len, &cap, sizeof(*v))) == NULL) {
			r = KDC_ERR_NOMEM;
			goto out;
		}
		v = nv;
		if ((r = row_cred(s, &v[len])) != KDC_OK)
			goto out;
		len++;
	}
	if (rc != SQLITE_DONE) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	*out = v;
	*n = len;
	v = NULL;
	len = 0;
out:
	sq_done(s);
	kdc_cred_list_free(v, len);
	return r;
}

static kdc_err
sq_cred_set_status(struct kdc_store *st, int64_t id,
    enum kdc_cred_status status)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_CRED_SET_STATUS, &s)) != KDC_OK)
		goto out;
	BIND(sqlite3_bind_int64(s, 1, id));
	BIND(bind_text(s, 2, kdc_cred_status_str(status)));
	BIND(sqlite3_bind_int64(s, 3, sq_now()));
	r = sq_run_one(q, s, rc);
out:
	sq_done(s);
	return r;
}

/*
 * UPDATE ... RETURNING makes every change in its first step, so if
 * collecting the ids fails half-way the update must be undone: run it
 * under sq_atomic_begin().
 */
static kdc_err
sq_cred_expire(struct kdc_store *st, int64_t now, int64_t **ids, size_t *n)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	int64_t *v = NULL, *nv;
	size_t len = 0, cap = 0;
	bool own = false;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_atomic_begin(q, &own)) != KDC_OK)
		return r;
	if ((r = sq_stmt(q, S_CRED_EXPIRE, &s)) != KDC_OK)
		goto out;
	BIND(sqlite3_bind_int64(s, 1, now));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((nv = grow(v, len, &cap, sizeof(*v))) == NULL) {
			r = KDC_ERR_NOMEM;
			goto out;
		}
		v = nv;
		v[len++] = sqlite3_column_int64(s, 0);
	}
	if (rc != SQLITE_DONE) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
out:
	sq_done(s);
	r = sq_atomic_end(q, own, r);
	if (r == KDC_OK) {
		*ids = v;
		*n = len;
		v = NULL;
	}
	kdc_free(v);
	return r;
}

static kdc_err
sq_crl_entries(struct kdc_store *st, int64_t now, struct kdc_crl_entry **out,
    size_t *n)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	struct kdc_crl_entry *v = NULL, *nv;
	const unsigned char *serial;
	size_t len = 0, cap = 0;
	kdc_err r = KDC_OK;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_CRL_ENTRIES, &s)) != KDC_OK)
		goto out;
	BIND(sqlite3_bind_int64(s, 1, now));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((nv = grow(v, len, &cap, sizeof(*v))) == NULL) {
			r = KDC_ERR_NOMEM;
			goto out;
		}
		v = nv;
		serial = sqlite3_column_text(s, 0);
		if (serial == NULL || (size_t)sqlite3_column_bytes(s, 0) >=
		    sizeof(v[len].serial)) {
			r = KDC_ERR_STORE_CORRUPT;
			goto out;
		}
		memcpy(v[len].serial, serial,
		    (size_t)sqlite3_column_bytes(s, 0) + 1);
		v[len].revoked_at = sqlite3_column_int64(s, 1);
		len++;
	}
	if (rc != SQLITE_DONE)
		r = sq_err(q, rc, KDC_ERR_STORE);
out:
	sq_done(s);
	if (r == KDC_OK && len > 0) {
		*out = v;
		*n = len;
		v = NULL;
	}
	kdc_free(v);
	return r;
}

static kdc_err
sq_cred_ended_since(struct kdc_store *st, int64_t since,
    void (*fn)(void *arg, int64_t cred_id), void *arg)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_CRED_ENDED, &s)) != KDC_OK)
		goto out;
	BIND(sqlite3_bind_int64(s, 1, since));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(arg, sqlite3_column_int64(s, 0));
	if (rc != SQLITE_DONE)
		r = sq_err(q, rc, KDC_ERR_STORE);
out:
	sq_done(s);
	return r;
}

/* ---- manufacturer CAs -------------------------------------------------- */

static kdc_err
sq_mfg_ca_add(struct kdc_store *st, struct kdc_mfg_ca *ca)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	int64_t created;
	kdc_err r;
	int rc = SQLITE_OK;

	created = ca->created != 0 ? ca->created : sq_now();
	if ((r = sq_stmt(q, S_CA_ADD, &s)) != KDC_OK)
		goto out;
	BIND(bind_text(s, 1, ca->name));
	BIND(bind_blob(s, 2, ca->cert, ca->cert_len));
	BIND(sqlite3_bind_int64(s, 3, created));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((r = sq_run(q, s, KDC_ERR_STORE)) != KDC_OK)
		goto out;
	ca->id = sqlite3_last_insert_rowid(q->db);
	ca->created = created;
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_mfg_ca_list(struct kdc_store *st, struct kdc_mfg_ca ***out, size_t *n)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	struct kdc_mfg_ca **v = NULL, **nv;
	size_t len = 0, cap = 0;
	kdc_err r;
	int rc;

	if ((r = sq_stmt(q, S_CA_LIST, &s)) != KDC_OK)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((nv = grow(v, len, &cap, sizeof(*v))) == NULL) {
			r = KDC_ERR_NOMEM;
			goto out;
		}
		v = nv;
		if ((r = row_mfg_ca(s, &v[len])) != KDC_OK)
			goto out;
		len++;
	}
	if (rc != SQLITE_DONE) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	*out = v;
	*n = len;
	v = NULL;
	len = 0;
out:
	sq_done(s);
	kdc_mfg_ca_list_free(v, len);
	return r;
}

/* ---- audiences --------------------------------------------------------- */

static kdc_err
sq_audience_add(struct kdc_store *st, struct kdc_audience *a)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	int64_t created;
	kdc_err r;
	int rc = SQLITE_OK;

	created = a->created != 0 ? a->created : sq_now();
	if ((r = sq_stmt(q, S_AUD_ADD, &s)) != KDC_OK)
		goto out;
	BIND(bind_text(s, 1, a->name));
	BIND(bind_text(s, 2, kdc_audience_kind_str(a->kind)));
	BIND(bind_text(s, 3, a->uri));
	BIND(a->ssid != 0 ? sqlite3_bind_int(s, 4, a->ssid) :
	    sqlite3_bind_null(s, 4));
	BIND(sqlite3_bind_int64(s, 5, created));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((r = sq_run(q, s, KDC_ERR_STORE)) != KDC_OK)
		goto out;
	a->created = created;
out:
	sq_done(s);
	return r;
}

static kdc_err
row_audience(sqlite3_stmt *s, struct kdc_audience *a)
{
	int kind;
	int64_t ssid;
	kdc_err r;

	memset(a, 0, sizeof(*a));
	if ((r = col_text(s, 0, a->name, sizeof(a->name))) != KDC_OK ||
	    (r = col_enum(s, 1, kdc_audience_kind_parse, &kind)) != KDC_OK ||
	    (r = col_text(s, 2, a->uri, sizeof(a->uri))) != KDC_OK)
		return r;
	ssid = sqlite3_column_int64(s, 3);
	if (ssid < 0 || ssid > 65534)
		return KDC_ERR_STORE_CORRUPT;
	a->kind = (enum kdc_audience_kind)kind;
	a->ssid = (int)ssid;
	a->created = sqlite3_column_int64(s, 4);
	return KDC_OK;
}

static kdc_err
sq_audience_get(struct kdc_store *st, const char *name,
    struct kdc_audience *out)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	struct kdc_audience a;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_AUD_GET, &s)) != KDC_OK)
		goto out;
	BIND(bind_text(s, 1, name));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((r = sq_row(q, s)) != KDC_OK ||
	    (r = row_audience(s, &a)) != KDC_OK)
		goto out;
	*out = a;
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_audience_list(struct kdc_store *st, struct kdc_audience **out, size_t *n)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	struct kdc_audience *v = NULL, *nv;
	size_t len = 0, cap = 0;
	kdc_err r;
	int rc;

	if ((r = sq_stmt(q, S_AUD_LIST, &s)) != KDC_OK)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((nv = grow(v, len, &cap, sizeof(*v))) == NULL) {
			r = KDC_ERR_NOMEM;
			goto out;
		}
		v = nv;
		if ((r = row_audience(s, &v[len])) != KDC_OK)
			goto out;
		len++;
	}
	if (rc != SQLITE_DONE) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	if (len > 0) {
		*out = v;
		*n = len;
		v = NULL;
	}
out:
	sq_done(s);
	kdc_free(v);
	return r;
}

/* ---- audit ------------------------------------------------------------- */

static kdc_err
sq_audit_last(struct kdc_store *st, struct kdc_audit_rec *out)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	struct kdc_audit_rec *rec = NULL;
	kdc_err r;

	/* ~900 bytes: on the heap, not the stack */
	if ((rec = kdc_malloc(sizeof(*rec))) == NULL)
		return KDC_ERR_NOMEM;
	if ((r = sq_stmt(q, S_AUDIT_LAST, &s)) != KDC_OK ||
	    (r = sq_row(q, s)) != KDC_OK ||
	    (r = row_audit(s, rec)) != KDC_OK)
		goto out;
	*out = *rec;
out:
	sq_done(s);
	kdc_free(rec);
	return r;
}

static kdc_err
sq_audit_head(struct kdc_store *st, int64_t *seq, uint8_t hash[32])
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	uint8_t h[32];
	kdc_err r;

	if ((r = sq_stmt(q, S_AUDIT_HEAD, &s)) != KDC_OK ||
	    (r = sq_row(q, s)) != KDC_OK ||
	    (r = col_hash(s, 1, h)) != KDC_OK)
		goto out;
	*seq = sqlite3_column_int64(s, 0);
	memcpy(hash, h, 32);
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_audit_append(struct kdc_store *st, struct kdc_audit_rec *rec)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	int64_t seq;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_AUDIT_APPEND, &s)) != KDC_OK)
		goto out;
	BIND(sqlite3_bind_int64(s, 1, rec->ts));
	BIND(bind_text(s, 2, rec->actor));
	BIND(bind_text(s, 3, rec->action));
	BIND(bind_text(s, 4, rec->subject));
	BIND(bind_text(s, 5, rec->outcome));
	BIND(bind_text(s, 6, rec->detail));
	BIND(sqlite3_bind_blob(s, 7, rec->prev_hash, 32, SQLITE_STATIC));
	BIND(sqlite3_bind_blob(s, 8, rec->hash, 32, SQLITE_STATIC));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	/* seq is the rowid (INTEGER PRIMARY KEY): read back without
	 * RETURNING, which builds an ephemeral table per insert (~3 us of
	 * a ~60 us ACE token; bench_ace) */
	if ((r = sq_run(q, s, KDC_ERR_STORE)) != KDC_OK)
		goto out;
	seq = sqlite3_last_insert_rowid(q->db);
	rec->seq = seq;
out:
	sq_done(s);
	return r;
}

/*
 * Rows are read in batches into our own memory and the statement is
 * reset before fn runs, so fn may call back into the store.
 */
static kdc_err
sq_audit_foreach(struct kdc_store *st, int64_t from_seq,
    kdc_store_audit_fn fn, void *arg)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	struct kdc_audit_rec *batch = NULL;
	size_t got, i;
	kdc_err r;
	int rc;

	if ((batch = kdc_calloc(SQ_AUDIT_BATCH, sizeof(*batch))) == NULL)
		return KDC_ERR_NOMEM;
	for (;;) {
		got = 0;
		rc = SQLITE_OK;
		if ((r = sq_stmt(q, S_AUDIT_RANGE, &s)) != KDC_OK)
			goto out;
		BIND(sqlite3_bind_int64(s, 1, from_seq));
		BIND(sqlite3_bind_int64(s, 2, SQ_AUDIT_BATCH));
		if (rc != SQLITE_OK) {
			r = sq_err(q, rc, KDC_ERR_STORE);
			goto out;
		}
		while (got < SQ_AUDIT_BATCH &&
		    (rc = sqlite3_step(s)) == SQLITE_ROW) {
			if ((r = row_audit(s, &batch[got])) != KDC_OK)
				goto out;
			got++;
		}
		if (got < SQ_AUDIT_BATCH && rc != SQLITE_DONE) {
			r = sq_err(q, rc, KDC_ERR_STORE);
			goto out;
		}
		sq_done(s);
		s = NULL;
		for (i = 0; i < got; i++)
			if ((r = fn(&batch[i], arg)) != KDC_OK)
				goto out;
		if (got < SQ_AUDIT_BATCH)
			break;
		from_seq = batch[got - 1].seq + 1;
	}
	r = KDC_OK;
out:
	sq_done(s);
	kdc_free(batch);
	return r;
}

/* ---- LwM2M registrations ----------------------------------------------- */

/* Columns in REG_COLS order into the caller's struct. */
static kdc_err
row_reg(sqlite3_stmt *s, struct kdc_lwm2m_reg *reg)
{
	kdc_err r;

	memset(reg, 0, sizeof(*reg));
	reg->id = sqlite3_column_int64(s, 0);
	reg->device = sqlite3_column_int64(s, 1);
	if ((r = col_text(s, 2, reg->ep, sizeof(reg->ep))) != KDC_OK ||
	    (r = col_text(s, 4, reg->version,
	    sizeof(reg->version))) != KDC_OK ||
	    (r = col_text(s, 5, reg->binding,
	    sizeof(reg->binding))) != KDC_OK ||
	    (r = col_text(s, 6, reg->addr, sizeof(reg->addr))) != KDC_OK)
		return r;
	reg->lifetime = sqlite3_column_int64(s, 3);
	reg->registered = sqlite3_column_int64(s, 7);
	reg->updated = sqlite3_column_int64(s, 8);
	return KDC_OK;
}

static kdc_err
sq_reg_insert(struct sq *q, const struct kdc_lwm2m_reg *reg, int64_t reg_at,
    int64_t upd_at, int64_t *id)
{
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_REG_DEL_EP, &s)) != KDC_OK)
		goto out;
	BIND(bind_text(s, 1, reg->ep));
	r = rc != SQLITE_OK ? sq_err(q, rc, KDC_ERR_STORE) :
	    sq_run(q, s, KDC_ERR_STORE);
	sq_done(s);
	s = NULL;
	if (r != KDC_OK || (r = sq_stmt(q, S_REG_ADD, &s)) != KDC_OK)
		goto out;
	BIND(sqlite3_bind_int64(s, 1, reg->device));
	BIND(bind_text(s, 2, reg->ep));
	BIND(sqlite3_bind_int64(s, 3, reg->lifetime));
	BIND(bind_text(s, 4, reg->version));
	BIND(bind_text(s, 5, reg->binding));
	BIND(bind_text(s, 6, reg->addr));
	BIND(sqlite3_bind_int64(s, 7, reg_at));
	BIND(sqlite3_bind_int64(s, 8, upd_at));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	/* the only foreign key: no such device */
	if ((r = sq_run(q, s, KDC_ERR_NOT_FOUND)) != KDC_OK)
		goto out;
	*id = sqlite3_last_insert_rowid(q->db);
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_lwm2m_reg_put(struct kdc_store *st, struct kdc_lwm2m_reg *reg)
{
	struct sq *q = sq_of(st);
	int64_t reg_at, upd_at, id = 0;
	bool own;
	kdc_err r;

	reg_at = reg->registered != 0 ? reg->registered : sq_now();
	upd_at = reg->updated != 0 ? reg->updated : reg_at;
	if ((r = sq_atomic_begin(q, &own)) != KDC_OK)
		return r;
	r = sq_reg_insert(q, reg, reg_at, upd_at, &id);
	if ((r = sq_atomic_end(q, own, r)) != KDC_OK)
		return r;
	reg->id = id;
	reg->registered = reg_at;
	reg->updated = upd_at;
	return KDC_OK;
}

static kdc_err
sq_lwm2m_reg_get(struct kdc_store *st, int64_t id, struct kdc_lwm2m_reg *out)
{
	struct sq *q = sq_of(st);
	struct kdc_lwm2m_reg reg;
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_REG_GET, &s)) != KDC_OK)
		goto out;
	BIND(sqlite3_bind_int64(s, 1, id));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((r = sq_row(q, s)) != KDC_OK || (r = row_reg(s, &reg)) != KDC_OK)
		goto out;
	*out = reg;
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_lwm2m_reg_touch(struct kdc_store *st, int64_t id, int64_t now,
    int64_t lifetime, const char *binding, const char *addr)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_REG_TOUCH, &s)) != KDC_OK)
		goto out;
	BIND(sqlite3_bind_int64(s, 1, id));
	BIND(sqlite3_bind_int64(s, 2, now != 0 ? now : sq_now()));
	BIND(sqlite3_bind_int64(s, 3, lifetime));
	if (binding != NULL)
		BIND(bind_text(s, 4, binding));
	if (addr != NULL)
		BIND(bind_text(s, 5, addr));
	r = sq_run_one(q, s, rc);
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_lwm2m_reg_delete(struct kdc_store *st, int64_t id)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_REG_DELETE, &s)) != KDC_OK)
		goto out;
	BIND(sqlite3_bind_int64(s, 1, id));
	r = sq_run_one(q, s, rc);
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_lwm2m_reg_list(struct kdc_store *st, struct kdc_lwm2m_reg **out,
    size_t *n)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	struct kdc_lwm2m_reg *v = NULL, *nv;
	size_t len = 0, cap = 0;
	kdc_err r;
	int rc;

	if ((r = sq_stmt(q, S_REG_LIST, &s)) != KDC_OK)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((nv = grow(v, len, &cap, sizeof(*v))) == NULL) {
			r = KDC_ERR_NOMEM;
			goto out;
		}
		v = nv;
		if ((r = row_reg(s, &v[len])) != KDC_OK)
			goto out;
		len++;
	}
	if (rc != SQLITE_DONE) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	*out = v;
	*n = len;
	v = NULL;
out:
	sq_done(s);
	kdc_free(v);
	return r;
}

/* ---- ACE Authorization Server (store/ace.h) ---------------------------- */

static kdc_err
row_rs(sqlite3_stmt *s, struct kdc_ace_rs_row **out)
{
	struct kdc_ace_rs_row *rs = NULL;
	kdc_err r;

	*out = NULL;
	if ((rs = kdc_calloc(1, sizeof(*rs))) == NULL)
		return KDC_ERR_NOMEM;
	rs->id = sqlite3_column_int64(s, 0);
	if ((r = col_text(s, 1, rs->audience, sizeof(rs->audience))) !=
	    KDC_OK ||
	    (r = col_blob(s, 3, &rs->key_wrapped, &rs->key_wrapped_len)) !=
	    KDC_OK ||
	    (r = col_blob(s, 4, &rs->spki, &rs->spki_len)) != KDC_OK) {
		kdc_ace_rs_row_free(rs);
		return r;
	}
	rs->profile = sqlite3_column_int(s, 2);
	rs->created = sqlite3_column_int64(s, 5);
	*out = rs;
	return KDC_OK;
}

static kdc_err
sq_ace_rs_add(struct kdc_store *st, struct kdc_ace_rs_row *rs)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	int64_t created = rs->created != 0 ? rs->created : sq_now();
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_RS_ADD, &s)) != KDC_OK)
		goto out;
	BIND(bind_text(s, 1, rs->audience));
	BIND(sqlite3_bind_int(s, 2, rs->profile));
	BIND(bind_blob(s, 3, rs->key_wrapped, rs->key_wrapped_len));
	BIND(bind_blob(s, 4, rs->spki, rs->spki_len));
	BIND(sqlite3_bind_int64(s, 5, created));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((r = sq_run(q, s, KDC_ERR_NOT_FOUND)) != KDC_OK)
		goto out;
	rs->id = sqlite3_last_insert_rowid(q->db);
	rs->created = created;
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_ace_rs_get(struct kdc_store *st, const char *aud,
    struct kdc_ace_rs_row **out)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_RS_GET, &s)) != KDC_OK)
		goto out;
	BIND(bind_text(s, 1, aud));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((r = sq_row(q, s)) == KDC_OK)
		r = row_rs(s, out);
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_ace_rs_list(struct kdc_store *st, struct kdc_ace_rs_row ***out,
    size_t *n)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	struct kdc_ace_rs_row **v = NULL, **nv;
	size_t len = 0, cap = 0;
	kdc_err r;
	int rc;

	if ((r = sq_stmt(q, S_RS_LIST, &s)) != KDC_OK)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((nv = grow(v, len, &cap, sizeof(*v))) == NULL) {
			r = KDC_ERR_NOMEM;
			goto out;
		}
		v = nv;
		if ((r = row_rs(s, &v[len])) != KDC_OK)
			goto out;
		len++;
	}
	if (rc != SQLITE_DONE) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	*out = v;
	*n = len;
	v = NULL;
	len = 0;
out:
	sq_done(s);
	kdc_ace_rs_list_free(v, len);
	return r;
}

static kdc_err
row_grant(sqlite3_stmt *s, struct kdc_ace_grant_row *g)
{
	kdc_err r;

	memset(g, 0, sizeof(*g));
	g->id = sqlite3_column_int64(s, 0);
	g->device = sqlite3_column_int64(s, 1);
	if ((r = col_text(s, 2, g->audience, sizeof(g->audience))) != KDC_OK ||
	    (r = col_text(s, 3, g->scopes, sizeof(g->scopes))) != KDC_OK)
		return r;
	g->refresh = sqlite3_column_int(s, 4) != 0;
	g->created = sqlite3_column_int64(s, 5);
	g->revoked_at = sqlite3_column_int64(s, 6);
	return KDC_OK;
}

static kdc_err
sq_ace_grant_add(struct kdc_store *st, struct kdc_ace_grant_row *g)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	int64_t created = g->created != 0 ? g->created : sq_now();
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_GRANT_ADD, &s)) != KDC_OK)
		goto out;
	BIND(sqlite3_bind_int64(s, 1, g->device));
	BIND(bind_text(s, 2, g->audience));
	BIND(bind_text(s, 3, g->scopes));
	BIND(sqlite3_bind_int(s, 4, g->refresh ? 1 : 0));
	BIND(sqlite3_bind_int64(s, 5, created));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((r = sq_run(q, s, KDC_ERR_NOT_FOUND)) != KDC_OK)
		goto out;
	g->id = sqlite3_last_insert_rowid(q->db);
	g->created = created;
	g->revoked_at = 0;
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_ace_grant_get(struct kdc_store *st, int64_t device, const char *aud,
    struct kdc_ace_grant_row *out)
{
	struct sq *q = sq_of(st);
	struct kdc_ace_grant_row g;
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, aud != NULL ? S_GRANT_GET : S_GRANT_GET_ID, &s)) !=
	    KDC_OK)
		goto out;
	BIND(sqlite3_bind_int64(s, 1, device));
	if (aud != NULL)
		BIND(bind_text(s, 2, aud));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((r = sq_row(q, s)) != KDC_OK || (r = row_grant(s, &g)) != KDC_OK)
		goto out;
	*out = g;
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_ace_grant_get_id(struct kdc_store *st, int64_t id,
    struct kdc_ace_grant_row *out)
{
	return sq_ace_grant_get(st, id, NULL, out);
}

/* An UPDATE of tokens or grants (?1 the key, ?2 now); *n its changes. */
static kdc_err
sq_update(struct sq *q, enum sq_stmt id, int64_t key, const uint8_t *blob,
    size_t blob_len, int64_t now, size_t *n)
{
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if (n != NULL)
		*n = 0;
	if ((r = sq_stmt(q, id, &s)) != KDC_OK)
		goto out;
	BIND(blob != NULL ? bind_blob(s, 1, blob, blob_len) :
	    sqlite3_bind_int64(s, 1, key));
	BIND(sqlite3_bind_int64(s, 2, now));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((r = sq_run(q, s, KDC_ERR_STORE)) == KDC_OK && n != NULL)
		*n = (size_t)sqlite3_changes(q->db);
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_ace_grant_revoke(struct kdc_store *st, int64_t id, int64_t now,
    size_t *n)
{
	struct sq *q = sq_of(st);
	size_t k = 0;
	bool own;
	kdc_err r;

	if ((r = sq_atomic_begin(q, &own)) != KDC_OK)
		return r;
	if ((r = sq_update(q, S_GRANT_REVOKE, id, NULL, 0, now, &k)) ==
	    KDC_OK && k == 0)
		r = KDC_ERR_NOT_FOUND;
	if (r == KDC_OK)
		r = sq_update(q, S_GRANT_REVOKE_TOKENS, id, NULL, 0, now, &k);
	if ((r = sq_atomic_end(q, own, r)) != KDC_OK)
		return r;
	if (n != NULL)
		*n = k;
	return KDC_OK;
}

static int
tok_kind_parse(const char *s)
{
	return strcmp(s, "access") == 0 ? KDC_ACE_ACCESS :
	    strcmp(s, "refresh") == 0 ? KDC_ACE_REFRESH : -1;
}

static int
tok_pop_parse(const char *s)
{
	return strcmp(s, "symmetric") == 0 ? KDC_ACE_POP_SYMMETRIC :
	    strcmp(s, "asymmetric") == 0 ? KDC_ACE_POP_ASYMMETRIC : -1;
}

/* A blob column into a fixed array (NULL reads as empty); longer:
 * not something we wrote. */
static kdc_err
col_fixed(sqlite3_stmt *s, int i, uint8_t *dst, size_t cap, size_t *len)
{
	const void *p;
	int n;

	*len = 0;
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return KDC_OK;
	p = sqlite3_column_blob(s, i);
	n = sqlite3_column_bytes(s, i);
	if (n <= 0)
		return KDC_OK;
	if ((size_t)n > cap)
		return KDC_ERR_STORE_CORRUPT;
	if (p == NULL)
		return KDC_ERR_NOMEM;
	memcpy(dst, p, (size_t)n);
	*len = (size_t)n;
	return KDC_OK;
}

static kdc_err
row_token(sqlite3_stmt *s, struct kdc_ace_token_rec *t)
{
	int kind, pop;
	kdc_err r;

	memset(t, 0, sizeof(*t));
	if ((r = col_fixed(s, 0, t->cti, sizeof(t->cti), &t->cti_len)) !=
	    KDC_OK ||
	    (r = col_text(s, 2, t->client, sizeof(t->client))) != KDC_OK ||
	    (r = col_text(s, 4, t->audience, sizeof(t->audience))) !=
	    KDC_OK ||
	    (r = col_text(s, 5, t->scope, sizeof(t->scope))) != KDC_OK ||
	    (r = col_enum(s, 6, tok_kind_parse, &kind)) != KDC_OK ||
	    (r = col_enum(s, 7, tok_pop_parse, &pop)) != KDC_OK ||
	    (r = col_fixed(s, 8, t->pop_kid, sizeof(t->pop_kid),
	    &t->pop_kid_len)) != KDC_OK ||
	    (r = col_fixed(s, 9, t->pop_key, sizeof(t->pop_key),
	    &t->pop_key_len)) != KDC_OK ||
	    (r = col_fixed(s, 10, t->hash, sizeof(t->hash),
	    &t->hash_len)) != KDC_OK)
		return r;
	t->device = sqlite3_column_int64(s, 1);
	t->grant = sqlite3_column_int64(s, 3);
	t->kind = (enum kdc_ace_token_kind)kind;
	t->pop = (enum kdc_ace_pop)pop;
	t->iat = sqlite3_column_int64(s, 11);
	t->exp = sqlite3_column_int64(s, 12);
	t->revoked_at = sqlite3_column_int64(s, 13);
	return KDC_OK;
}

static kdc_err
sq_ace_token_add(struct kdc_store *st, const struct kdc_ace_token_rec *t)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_TOK_ADD, &s)) != KDC_OK)
		goto out;
	BIND(bind_blob(s, 1, t->cti, t->cti_len));
	BIND(t->device != 0 ? sqlite3_bind_int64(s, 2, t->device) :
	    sqlite3_bind_null(s, 2));
	BIND(bind_text(s, 3, t->client));
	BIND(t->grant != 0 ? sqlite3_bind_int64(s, 4, t->grant) :
	    sqlite3_bind_null(s, 4));
	BIND(bind_text(s, 5, t->audience));
	BIND(bind_text(s, 6, t->scope));
	BIND(bind_text(s, 7, t->kind == KDC_ACE_REFRESH ? "refresh" :
	    "access"));
	BIND(bind_text(s, 8, t->pop == KDC_ACE_POP_ASYMMETRIC ? "asymmetric" :
	    "symmetric"));
	BIND(bind_blob(s, 9, t->pop_kid, t->pop_kid_len));
	BIND(bind_blob(s, 10, t->pop_key, t->pop_key_len));
	BIND(bind_blob(s, 11, t->hash, t->hash_len));
	BIND(sqlite3_bind_int64(s, 12, t->iat));
	BIND(sqlite3_bind_int64(s, 13, t->exp));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	r = sq_run(q, s, KDC_ERR_NOT_FOUND);
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_ace_token_get(struct kdc_store *st, enum sq_stmt id, const uint8_t *key,
    size_t key_len, struct kdc_ace_token_rec *out)
{
	struct sq *q = sq_of(st);
	struct kdc_ace_token_rec *t = NULL;
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((t = kdc_malloc(sizeof(*t))) == NULL)
		return KDC_ERR_NOMEM;
	if ((r = sq_stmt(q, id, &s)) != KDC_OK)
		goto out;
	BIND(bind_blob(s, 1, key, key_len));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((r = sq_row(q, s)) != KDC_OK || (r = row_token(s, t)) != KDC_OK)
		goto out;
	*out = *t;
out:
	sq_done(s);
	kdc_wipe(t, sizeof(*t));
	kdc_free(t);
	return r;
}

static kdc_err
sq_ace_token_by_cti(struct kdc_store *st, const uint8_t *cti,
    size_t cti_len, struct kdc_ace_token_rec *out)
{
	return sq_ace_token_get(st, S_TOK_GET, cti, cti_len, out);
}

static kdc_err
sq_ace_token_by_hash(struct kdc_store *st, const uint8_t *hash,
    size_t hash_len, struct kdc_ace_token_rec *out)
{
	return sq_ace_token_get(st, S_TOK_BY_HASH, hash, hash_len, out);
}

static kdc_err
sq_ace_token_revoke(struct kdc_store *st, const uint8_t *cti,
    size_t cti_len, int64_t now)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	size_t k = 0;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_update(q, S_TOK_REVOKE, 0, cti, cti_len, now, &k)) !=
	    KDC_OK || k > 0)
		return r;
	/* nothing changed: unknown, or revoked already */
	if ((r = sq_stmt(q, S_TOK_STATE, &s)) != KDC_OK)
		goto out;
	BIND(bind_blob(s, 1, cti, cti_len));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((r = sq_row(q, s)) == KDC_OK)
		r = KDC_ERR_REVOKED;
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_ace_tokens_revoke_device(struct kdc_store *st, int64_t device,
    int64_t now, size_t *n)
{
	return sq_update(sq_of(st), S_TOK_REVOKE_DEV, device, NULL, 0, now,
	    n);
}

static kdc_err
sq_ace_tokens_purge(struct kdc_store *st, const uint8_t *cti_below,
    size_t len, int64_t exp_before, size_t *n)
{
	return sq_update(sq_of(st), S_TOK_PURGE, 0, cti_below, len,
	    exp_before, n);
}

static kdc_err
sq_ace_trl(struct kdc_store *st, const char *aud, int64_t now,
    void (*fn)(void *arg, const uint8_t *hash, size_t len), void *arg)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, S_TOK_TRL, &s)) != KDC_OK)
		goto out;
	BIND(bind_text(s, 1, aud));
	BIND(sqlite3_bind_int64(s, 2, now));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const void *p = sqlite3_column_blob(s, 0);
		int len = sqlite3_column_bytes(s, 0);

		if (p == NULL || len <= 0 || len > KDC_ACE_HASH_MAX) {
			r = KDC_ERR_STORE_CORRUPT;
			goto out;
		}
		fn(arg, p, (size_t)len);
	}
	if (rc != SQLITE_DONE)
		r = sq_err(q, rc, KDC_ERR_STORE);
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_ace_token_list(struct kdc_store *st, bool active_only, int64_t now,
    struct kdc_ace_token_rec **out, size_t *n)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	struct kdc_ace_token_rec *v = NULL, *nv;
	size_t len = 0, cap = 0;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, active_only ? S_TOK_LIST_ACTIVE : S_TOK_LIST,
	    &s)) != KDC_OK)
		goto out;
	if (active_only)
		BIND(sqlite3_bind_int64(s, 1, now));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((nv = grow(v, len, &cap, sizeof(*v))) == NULL) {
			r = KDC_ERR_NOMEM;
			goto out;
		}
		v = nv;
		if ((r = row_token(s, &v[len])) != KDC_OK)
			goto out;
		len++;
	}
	if (rc != SQLITE_DONE) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	*out = v;
	*n = len;
	v = NULL;
out:
	sq_done(s);
	if (v != NULL)
		kdc_wipe(v, cap * sizeof(*v));
	kdc_free(v);
	return r;
}

/* ---- OCF (store/ocf.h) -------------------------------------------------- */

static const char *const ocf_state_names[] = {
	[KDC_STORE_OCF_ONBOARDING] = "onboarding",
	[KDC_STORE_OCF_FAILED] = "failed",
	[KDC_STORE_OCF_OWNED] = "owned",
	[KDC_STORE_OCF_OFFBOARDED] = "offboarded",
};

static int
ocf_state_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(ocf_state_names) /
	    sizeof(ocf_state_names[0]); i++)
		if (strcmp(s, ocf_state_names[i]) == 0)
			return (int)i;
	return -1;
}

static kdc_err
row_ocf(sqlite3_stmt *s, struct kdc_ocf_row *o)
{
	int state;
	kdc_err r;

	memset(o, 0, sizeof(*o));
	o->id = sqlite3_column_int64(s, 0);
	if ((r = col_text(s, 1, o->first_uuid, sizeof(o->first_uuid))) !=
	    KDC_OK ||
	    (r = col_text(s, 2, o->uuid, sizeof(o->uuid))) != KDC_OK ||
	    (r = col_text(s, 3, o->new_uuid, sizeof(o->new_uuid))) != KDC_OK ||
	    (r = col_enum(s, 6, ocf_state_parse, &state)) != KDC_OK ||
	    (r = col_text(s, 7, o->step, sizeof(o->step))) != KDC_OK ||
	    (r = col_text(s, 9, o->coap_ep, sizeof(o->coap_ep))) != KDC_OK ||
	    (r = col_text(s, 10, o->coaps_ep, sizeof(o->coaps_ep))) != KDC_OK)
		return r;
	o->device = sqlite3_column_int64(s, 4);
	o->otm = sqlite3_column_int(s, 5);
	o->state = (enum kdc_store_ocf_state)state;
	o->err = sqlite3_column_int(s, 8);
	o->owner_cred = sqlite3_column_int64(s, 11);
	o->created = sqlite3_column_int64(s, 12);
	o->updated = sqlite3_column_int64(s, 13);
	return KDC_OK;
}

static kdc_err
sq_ocf_put(struct kdc_store *st, struct kdc_ocf_row *o)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	int64_t now = sq_now();
	int64_t created = o->created != 0 ? o->created : now;
	int64_t updated = o->updated != 0 ? o->updated : now;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, o->id == 0 ? S_OCF_ADD : S_OCF_SET, &s)) !=
	    KDC_OK)
		goto out;
	if (o->id != 0)
		BIND(sqlite3_bind_int64(s, 1, o->id));
	BIND(bind_text(s, 2, o->first_uuid));
	BIND(bind_text(s, 3, o->uuid));
	BIND(bind_text(s, 4, o->new_uuid));
	BIND(sqlite3_bind_int64(s, 5, o->device));
	BIND(sqlite3_bind_int(s, 6, o->otm));
	BIND(bind_text(s, 7, ocf_state_names[o->state]));
	BIND(bind_text(s, 8, o->step));
	BIND(sqlite3_bind_int(s, 9, o->err));
	BIND(bind_text(s, 10, o->coap_ep));
	BIND(bind_text(s, 11, o->coaps_ep));
	BIND(sqlite3_bind_int64(s, 12, o->owner_cred));
	BIND(sqlite3_bind_int64(s, 13, created));
	BIND(sqlite3_bind_int64(s, 14, updated));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((r = sq_run(q, s, KDC_ERR_NOT_FOUND)) != KDC_OK)
		goto out;
	if (o->id == 0)
		o->id = sqlite3_last_insert_rowid(q->db);
	else if (sqlite3_changes(q->db) == 0) {
		r = KDC_ERR_NOT_FOUND;
		goto out;
	}
	o->created = created;
	o->updated = updated;
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_ocf_get(struct kdc_store *st, const char *uuid, int64_t device,
    struct kdc_ocf_row *out)
{
	struct sq *q = sq_of(st);
	struct kdc_ocf_row o;
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, uuid != NULL ? S_OCF_GET : S_OCF_GET_DEV, &s)) !=
	    KDC_OK)
		goto out;
	if (uuid != NULL)
		BIND(bind_text(s, 1, uuid));
	else
		BIND(sqlite3_bind_int64(s, 1, device));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((r = sq_row(q, s)) != KDC_OK || (r = row_ocf(s, &o)) != KDC_OK)
		goto out;
	*out = o;
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_ocf_list(struct kdc_store *st, struct kdc_ocf_row **out, size_t *n)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	struct kdc_ocf_row *v = NULL, *nv;
	size_t len = 0, cap = 0;
	kdc_err r;
	int rc;

	if ((r = sq_stmt(q, S_OCF_LIST, &s)) != KDC_OK)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((nv = grow(v, len, &cap, sizeof(*v))) == NULL) {
			r = KDC_ERR_NOMEM;
			goto out;
		}
		v = nv;
		if ((r = row_ocf(s, &v[len])) != KDC_OK)
			goto out;
		len++;
	}
	if (rc != SQLITE_DONE) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	*out = v;
	*n = len;
	v = NULL;
out:
	sq_done(s);
	kdc_free(v);
	return r;
}

static kdc_err
sq_ocf_audience_set(struct kdc_store *st, const char *name, const char *uri)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, uri == NULL ? S_OCF_AUD_DEL : S_OCF_AUD_URI,
	    &s)) != KDC_OK)
		goto out;
	BIND(bind_text(s, 1, name));
	if (uri != NULL)
		BIND(bind_text(s, 2, uri));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((r = sq_run(q, s, KDC_ERR_STORE)) == KDC_OK &&
	    sqlite3_changes(q->db) == 0)
		r = KDC_ERR_NOT_FOUND;
out:
	sq_done(s);
	return r;
}

static kdc_err
sq_ocf_creds_for(struct kdc_store *st, const char *audience, bool live,
    int64_t **ids, size_t *n)
{
	struct sq *q = sq_of(st);
	sqlite3_stmt *s = NULL;
	int64_t *v = NULL, *nv;
	size_t len = 0, cap = 0;
	kdc_err r;
	int rc = SQLITE_OK;

	if ((r = sq_stmt(q, live ? S_OCF_CREDS_LIVE : S_OCF_CREDS, &s)) !=
	    KDC_OK)
		goto out;
	BIND(bind_text(s, 1, audience));
	if (rc != SQLITE_OK) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((nv = grow(v, len, &cap, sizeof(*v))) == NULL) {
			r = KDC_ERR_NOMEM;
			goto out;
		}
		v = nv;
		v[len++] = sqlite3_column_int64(s, 0);
	}
	if (rc != SQLITE_DONE) {
		r = sq_err(q, rc, KDC_ERR_STORE);
		goto out;
	}
	*ids = v;
	*n = len;
	v = NULL;
out:
	sq_done(s);
	kdc_free(v);
	return r;
}

/* ---- the vtable -------------------------------------------------------- */

static const struct kdc_store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.ping = sq_ping,
	.check = sq_check,
	.schema_version = sq_schema_version,
	.crl_entries = sq_crl_entries,
	.cred_ended_since = sq_cred_ended_since,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.in_txn = sq_in_txn,
	.sp_open = sq_sp_open,
	.sp_release = sq_sp_release,
	.sp_undo = sq_sp_undo,
	.contended = sq_contended,
	.defer_sync = sq_defer_sync,
	.sync = sq_sync,
	.syncfd_open = sq_syncfd_open,
	.sync_mark = sq_sync_mark,
	.meta_get = sq_meta_get,
	.meta_set = sq_meta_set,
	.device_add = sq_device_add,
	.device_get = sq_device_get,
	.device_get_by_id = sq_device_get_by_id,
	.device_list = sq_device_list,
	.device_set_status = sq_device_set_status,
	.device_delete = sq_device_delete,
	.cred_add = sq_cred_add,
	.cred_set_wrapped = sq_cred_set_wrapped,
	.cred_get = sq_cred_get,
	.cred_get_live = sq_cred_get_live,
	.cred_get_by_identity = sq_cred_get_by_identity,
	.cred_get_by_spki_fp = sq_cred_get_by_spki_fp,
	.cred_find_secret_fp = sq_cred_find_secret_fp,
	.cred_list = sq_cred_list,
	.cred_set_status = sq_cred_set_status,
	.cred_supersede = sq_cred_supersede,
	.cred_expire = sq_cred_expire,
	.mfg_ca_add = sq_mfg_ca_add,
	.mfg_ca_list = sq_mfg_ca_list,
	.audience_add = sq_audience_add,
	.audience_get = sq_audience_get,
	.audience_list = sq_audience_list,
	.audit_last = sq_audit_last,
	.audit_head = sq_audit_head,
	.audit_append = sq_audit_append,
	.audit_foreach = sq_audit_foreach,
	.lwm2m_reg_put = sq_lwm2m_reg_put,
	.lwm2m_reg_get = sq_lwm2m_reg_get,
	.lwm2m_reg_touch = sq_lwm2m_reg_touch,
	.lwm2m_reg_delete = sq_lwm2m_reg_delete,
	.lwm2m_reg_list = sq_lwm2m_reg_list,
	.ace_rs_add = sq_ace_rs_add,
	.ace_rs_get = sq_ace_rs_get,
	.ace_rs_list = sq_ace_rs_list,
	.ace_grant_add = sq_ace_grant_add,
	.ace_grant_get = sq_ace_grant_get,
	.ace_grant_get_id = sq_ace_grant_get_id,
	.ace_grant_revoke = sq_ace_grant_revoke,
	.ace_token_add = sq_ace_token_add,
	.ace_token_get = sq_ace_token_by_cti,
	.ace_token_by_hash = sq_ace_token_by_hash,
	.ace_token_revoke = sq_ace_token_revoke,
	.ace_tokens_revoke_device = sq_ace_tokens_revoke_device,
	.ace_tokens_purge = sq_ace_tokens_purge,
	.ace_trl = sq_ace_trl,
	.ace_token_list = sq_ace_token_list,
	.ocf_put = sq_ocf_put,
	.ocf_get = sq_ocf_get,
	.ocf_list = sq_ocf_list,
	.ocf_audience_set = sq_ocf_audience_set,
	.ocf_creds_for = sq_ocf_creds_for,
};
