/*
 * test_store_walbuf.c: the store's VFS (store/walbuf.h) against SQLite
 * itself: appends gathered while a transaction runs, in the file when
 * its COMMIT returns and visible to a connection on SQLite's own VFS; a
 * rolled-back transaction's frames never land on the next writer's; a
 * write that fails at the commit frame fails the COMMIT; reads of the
 * log from its map see what other connections committed.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/schema.h"
#include "store/store.h"
#include "store/store_int.h"
#include "store/walbuf.h"
#include "testutil.h"

struct tmp {
	char	*dir;
	char	 path[512];
	char	 wal[520];
};

static void
tmp_make(struct tmp *t)
{
	t->dir = kdc_test_tmpdir();
	snprintf(t->path, sizeof(t->path), "%s/w.db", t->dir);
	snprintf(t->wal, sizeof(t->wal), "%s-wal", t->path);
}

static void
tmp_done(struct tmp *t)
{
	kdc_test_rmtree(t->dir);
	free(t->dir);
}

static void
exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
}

static int64_t
one_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* A connection on the store's VFS (walbuf) or SQLite's default (NULL),
 * WAL, 1 KiB pages, a cache of `cache` pages (a small one spills dirty
 * pages into the log before the COMMIT). */
static sqlite3 *
conn(const char *path, const char *vfs, int cache)
{
	sqlite3 *db = NULL;
	char sql[64];

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, vfs), SQLITE_OK);
	exec(db, "PRAGMA page_size = 1024");
	exec(db, "PRAGMA journal_mode = WAL");
	exec(db, "PRAGMA synchronous = NORMAL");
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = %d", cache);
	exec(db, sql);
	return db;
}

/* n rows of 600 random bytes into t, tagged tag */
static void
fill(sqlite3 *db, int n, int tag)
{
	char sql[192];

	snprintf(sql, sizeof(sql), "WITH RECURSIVE c(i) AS (SELECT 1 UNION "
	    "ALL SELECT i + 1 FROM c WHERE i < %d) INSERT INTO t(tag, v) "
	    "SELECT %d, randomblob(600) FROM c", n, tag);
	exec(db, sql);
}

static int64_t
count_tag(sqlite3 *db, int tag)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM t WHERE tag = %d",
	    tag);
	return one_int(db, sql);
}

/* PRAGMA integrity_check says "ok" */
static void
assert_intact(sqlite3 *db)
{
	sqlite3_stmt *s = NULL;
	char ok[16] = "";

	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1,
	    &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	snprintf(ok, sizeof(ok), "%s", sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	assert_string_equal(ok, "ok");
}

static off_t
file_size(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return sb.st_size;
}

static void
test_registered(void **state)
{
	(void)state;
	assert_non_null(kdc_walbuf_vfs());
	assert_string_equal(kdc_walbuf_vfs(), "kdc-walbuf");
	assert_non_null(sqlite3_vfs_find(kdc_walbuf_vfs()));
	/* not the default: other code in the process keeps SQLite's own */
	assert_ptr_not_equal(sqlite3_vfs_find(NULL),
	    sqlite3_vfs_find(kdc_walbuf_vfs()));
}

/*
 * Frames a transaction spills before its COMMIT are gathered, not
 * written; at COMMIT everything is in the file, whole frames, and a
 * connection on SQLite's own VFS reads it.
 */
static void
test_gathered(void **state)
{
	sqlite3 *a, *b;
	struct tmp t;
	off_t before;

	(void)state;
	tmp_make(&t);
	a = conn(t.path, kdc_walbuf_vfs(), 8);
	exec(a, "CREATE TABLE t(tag INTEGER, v BLOB)");
	assert_int_equal(kdc_walbuf_pending(), 0);
	before = file_size(t.wal);
	exec(a, "BEGIN");
	fill(a, 200, 1);		/* ~200 pages through an 8-page cache */
	assert_true(kdc_walbuf_pending() > 50 * 1024);
	assert_int_equal(file_size(t.wal), before);
	/* the transaction reads back the pages it spilled */
	assert_int_equal(one_int(a, "SELECT count(*) FROM t WHERE "
	    "length(v) = 600 AND tag = 1"), 200);
	exec(a, "COMMIT");
	assert_int_equal(kdc_walbuf_pending(), 0);
	assert_true(file_size(t.wal) > before + 200 * 1024);
	assert_int_equal((file_size(t.wal) - 32) % (24 + 1024), 0);

	b = conn(t.path, NULL, 100);
	assert_int_equal(count_tag(b, 1), 200);
	/* the reader's commit, then the writer's again: both see both */
	fill(b, 3, 2);
	fill(a, 4, 3);
	assert_int_equal(count_tag(b, 3), 4);
	assert_int_equal(count_tag(a, 2), 3);
	sqlite3_close(b);
	sqlite3_close(a);

	/* what a fresh process finds, after the last close checkpointed */
	b = conn(t.path, NULL, 100);
	assert_int_equal(count_tag(b, 1), 200);
	assert_int_equal(one_int(b, "SELECT count(*) FROM t"), 207);
	sqlite3_close(b);
	tmp_done(&t);
}

/*
 * A transaction that spilled frames and rolled back: its gathered bytes
 * are dropped when it releases the write lock. Written later they would
 * land on the frames the next writer committed at the same offsets.
 */
static void
test_rollback(void **state)
{
	sqlite3 *a, *b;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	a = conn(t.path, kdc_walbuf_vfs(), 8);
	exec(a, "CREATE TABLE t(tag INTEGER, v BLOB)");
	/* an empty log: the rollback reloads its pages from the database
	 * file, so nothing of the log is read (which would write out what
	 * is gathered, before the next writer's frames) */
	exec(a, "PRAGMA wal_checkpoint(TRUNCATE)");
	exec(a, "BEGIN");
	fill(a, 200, 1);
	assert_true(kdc_walbuf_pending() > 0);
	exec(a, "ROLLBACK");
	assert_int_equal(kdc_walbuf_pending(), 0);

	b = conn(t.path, NULL, 100);
	fill(b, 50, 2);			/* over the rolled-back frames */
	fill(a, 1, 3);
	exec(a, "SELECT count(*) FROM t");
	assert_int_equal(count_tag(b, 2), 50);
	assert_int_equal(count_tag(b, 3), 1);
	assert_int_equal(count_tag(a, 1), 0);
	assert_intact(b);
	sqlite3_close(b);
	sqlite3_close(a);
	tmp_done(&t);
}

/*
 * The commit frame cannot be written (a file size limit: EFBIG): the
 * COMMIT fails, as it does on SQLite's own VFS, nothing of it is seen by
 * another connection, and the connection goes on once the file can grow.
 */
static void
test_commit_error(void **state)
{
	struct rlimit old, lim;
	void (*oldsig)(int);
	sqlite3 *a, *b;
	struct tmp t;
	int rc;

	(void)state;
	tmp_make(&t);
	a = conn(t.path, kdc_walbuf_vfs(), 2000);
	b = conn(t.path, NULL, 100);
	exec(a, "CREATE TABLE t(tag INTEGER, v BLOB)");
	fill(a, 2, 1);
	exec(a, "BEGIN");
	fill(a, 20, 2);			/* in the cache: no spill */
	assert_int_equal(kdc_walbuf_pending(), 0);

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	oldsig = signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = (rlim_t)file_size(t.wal);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	rc = sqlite3_exec(a, "COMMIT", NULL, NULL, NULL);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	(void)signal(SIGXFSZ, oldsig);

	assert_int_not_equal(rc, SQLITE_OK);
	if (!sqlite3_get_autocommit(a))
		exec(a, "ROLLBACK");
	assert_int_equal(kdc_walbuf_pending(), 0);
	assert_int_equal(count_tag(b, 2), 0);
	assert_int_equal(count_tag(a, 2), 0);
	fill(a, 5, 3);
	assert_int_equal(count_tag(b, 3), 5);
	assert_int_equal(count_tag(b, 1), 2);
	sqlite3_close(b);
	sqlite3_close(a);
	tmp_done(&t);
}

/*
 * Reads of the log come from its map: the pages another connection
 * committed, read after it did; the same after a checkpoint truncated
 * the log and it grew again.
 */
static void
test_map(void **state)
{
	sqlite3 *a, *b, *c;
	struct tmp t;
	size_t n0;

	(void)state;
	tmp_make(&t);
	b = conn(t.path, NULL, 100);
	exec(b, "CREATE TABLE t(tag INTEGER, v BLOB)");
	a = conn(t.path, kdc_walbuf_vfs(), 100);
	assert_int_equal(count_tag(a, 1), 0);
	fill(b, 100, 1);
	n0 = kdc_walbuf_map_reads();
	assert_int_equal(count_tag(a, 1), 100);
	assert_true(kdc_walbuf_map_reads() >= n0 + 50);

	c = conn(t.path, NULL, 100);
	exec(c, "PRAGMA wal_checkpoint(TRUNCATE)");
	assert_int_equal(file_size(t.wal), 0);
	sqlite3_close(c);
	fill(b, 5, 2);
	n0 = kdc_walbuf_map_reads();
	assert_int_equal(count_tag(a, 2), 5);
	assert_int_equal(one_int(a, "SELECT count(*) FROM t"), 105);
	assert_true(kdc_walbuf_map_reads() > n0);
	fill(a, 7, 3);
	assert_int_equal(count_tag(b, 3), 7);
	assert_intact(a);
	sqlite3_close(a);
	sqlite3_close(b);
	tmp_done(&t);
}

/*
 * The log cut behind SQLite's back while a connection knows it longer (a
 * damaged data dir): a read of the map past the new end faults; the
 * process lives, the read is pread()'s (SQLite reports the short file),
 * and the connection works again once the log is whole.
 */
static void
test_map_fault(void **state)
{
	sqlite3 *a, *b;
	struct tmp t;
	size_t f0;
	int rc;

	(void)state;
	tmp_make(&t);
	b = conn(t.path, NULL, 100);
	exec(b, "CREATE TABLE t(tag INTEGER, v BLOB)");
	fill(b, 100, 1);
	/* the schema page's newest frame far into the log */
	exec(b, "CREATE TABLE u(x)");
	a = conn(t.path, kdc_walbuf_vfs(), 100);
	assert_int_equal(count_tag(a, 1), 100);	/* a knows the whole log */
	exec(b, "INSERT INTO u VALUES(1)");	/* a's cache is stale */
	assert_int_equal(truncate(t.wal, 32), 0);
	/* cmocka installs its own SIGBUS handler around each test */
	assert_true(kdc_walbuf_guard());
	f0 = kdc_walbuf_map_faults();
	rc = sqlite3_exec(a, "SELECT count(*) FROM t", NULL, NULL, NULL);
	assert_int_equal(kdc_walbuf_map_faults(), f0 + 1);
	assert_int_not_equal(rc, SQLITE_OK);	/* the log is short */
	/* that log is no longer read from its map: no second fault */
	rc = sqlite3_exec(a, "SELECT count(*) FROM t", NULL, NULL, NULL);
	assert_int_not_equal(rc, SQLITE_OK);
	assert_int_equal(kdc_walbuf_map_faults(), f0 + 1);
	sqlite3_close(a);
	sqlite3_close(b);
	tmp_done(&t);
}

/* The store opens its files through the VFS: its commits are in the file
 * when they return, for a connection on SQLite's own VFS. */
static void
test_store_uses_it(void **state)
{
	struct kdc_store *st = NULL;
	struct kdc_device d;
	sqlite3_vfs *vfs = NULL;
	sqlite3 *b;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	assert_int_equal(kdc_store_open(t.path, 1, &st), KDC_OK);
	assert_int_equal(sqlite3_file_control(kdc_sqlite_handle(st), "main",
	    SQLITE_FCNTL_VFS_POINTER, &vfs), SQLITE_OK);
	assert_ptr_equal(vfs, sqlite3_vfs_find("kdc-walbuf"));
	memset(&d, 0, sizeof(d));
	snprintf(d.dev_id, sizeof(d.dev_id), "urn:dev:walbuf");
	d.status = KDC_DEV_ACTIVE;
	d.created = 1;
	assert_int_equal(kdc_store_device_add(st, &d), KDC_OK);
	assert_int_equal(kdc_walbuf_pending(), 0);
	b = conn(t.path, NULL, 100);
	assert_int_equal(one_int(b, "SELECT count(*) FROM devices WHERE "
	    "dev_id = 'urn:dev:walbuf'"), 1);
	sqlite3_close(b);
	kdc_store_close(st);
	tmp_done(&t);
}

/* A device row in a transaction of its own (kdc_store_begin/commit, as
 * core writes): the commit's result. */
static kdc_err
add_device(struct kdc_store *st, const char *id)
{
	struct kdc_device d;
	kdc_err r;

	memset(&d, 0, sizeof(d));
	snprintf(d.dev_id, sizeof(d.dev_id), "%s", id);
	d.status = KDC_DEV_ACTIVE;
	d.created = 1;
	if ((r = kdc_store_begin(st)) != KDC_OK)
		return r;
	if ((r = kdc_store_device_add(st, &d)) != KDC_OK) {
		kdc_store_rollback(st);
		return r;
	}
	return kdc_store_commit(st);
}

/*
 * The store tells whether commits succeed (health's 503 on a full disk):
 * a commit the file size limit stops sets the state, the next one that
 * succeeds clears it. And ping tells a store whose file was replaced.
 */
static void
test_write_state(void **state)
{
	struct kdc_store *st = NULL;
	struct rlimit old, lim;
	void (*oldsig)(int);
	int64_t since = -1;
	char moved[600];
	struct tmp t;
	kdc_err r;

	(void)state;
	tmp_make(&t);
	assert_int_equal(kdc_store_open(t.path, 1, &st), KDC_OK);
	assert_int_equal(add_device(st, "urn:dev:w1"), KDC_OK);
	assert_int_equal(kdc_store_write_state(&since), KDC_OK);
	assert_int_equal(since, 0);

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	oldsig = signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = (rlim_t)file_size(t.wal);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	r = add_device(st, "urn:dev:w2");
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	(void)signal(SIGXFSZ, oldsig);
	assert_int_not_equal(r, KDC_OK);
	assert_int_equal(kdc_store_write_state(&since), r);
	assert_true(since > 0);
	/* a full disk is told as such (RLIMIT_FSIZE's EFBIG is an I/O error) */
	assert_int_equal(r, KDC_ERR_IO);
	assert_int_equal(kdc_sq_err(NULL, SQLITE_FULL, KDC_ERR_STORE),
	    KDC_ERR_NOSPACE);
	assert_int_equal(kdc_sq_err(NULL, SQLITE_IOERR_WRITE, KDC_ERR_STORE),
	    KDC_ERR_IO);

	assert_int_equal(add_device(st, "urn:dev:w3"), KDC_OK);
	assert_int_equal(kdc_store_write_state(&since), KDC_OK);
	assert_int_equal(kdc_store_ping(st), KDC_OK);

	/* the same through a group commit (the engine threads' batches) */
	assert_int_equal(kdc_store_batch_begin(st), KDC_OK);
	assert_int_equal(add_device(st, "urn:dev:w4"), KDC_OK);
	oldsig = signal(SIGXFSZ, SIG_IGN);
	lim.rlim_cur = (rlim_t)file_size(t.wal);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	r = kdc_store_batch_end(st);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	(void)signal(SIGXFSZ, oldsig);
	assert_int_not_equal(r, KDC_OK);
	assert_int_equal(kdc_store_write_state(NULL), r);
	assert_int_equal(kdc_store_batch_begin(st), KDC_OK);
	assert_int_equal(add_device(st, "urn:dev:w5"), KDC_OK);
	assert_int_equal(kdc_store_batch_end(st), KDC_OK);
	assert_int_equal(kdc_store_write_state(NULL), KDC_OK);

	/* the file moved away under the open store: ping says so */
	snprintf(moved, sizeof(moved), "%s.moved", t.path);
	assert_int_equal(rename(t.path, moved), 0);
	assert_int_equal(kdc_store_ping(st), KDC_ERR_STORE_GONE);
	assert_int_equal(rename(moved, t.path), 0);
	assert_int_equal(kdc_store_ping(st), KDC_OK);
	kdc_store_close(st);
	tmp_done(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registered),
		cmocka_unit_test(test_gathered),
		cmocka_unit_test(test_rollback),
		cmocka_unit_test(test_commit_error),
		cmocka_unit_test(test_map),
		cmocka_unit_test(test_map_fault),
		cmocka_unit_test(test_store_uses_it),
		cmocka_unit_test(test_write_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
