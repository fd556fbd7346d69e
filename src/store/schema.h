/*
 * schema.h: inside the SQLite engine only (sqlite.c, schema.c): the
 * schema, its migrations and their runner, and the engine helpers they
 * share. Includes sqlite3.h, so nothing outside src/store/ includes it
 * (store.h and store_int.h stay engine-free).
 */
#ifndef KDC_STORE_SCHEMA_H
#define KDC_STORE_SCHEMA_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "base/err.h"

/* The schema version this binary writes (the number of migrations). */
int	kdc_sq_schema_latest(void);

/*
 * Is the database behind db ours? One with any schema must carry
 * meta('app','iotkdc') and a user_version in 1..latest; anything else is
 * somebody else's data (KDC_ERR_STORE_CORRUPT) and nothing is written.
 * A database with no schema at all (a 0-byte file, or one SQLite made
 * and nobody filled) is accepted only with `create` (version 0: run every
 * migration); without it, it is KDC_ERR_STORE_CORRUPT, never a fresh
 * store: a data dir whose database was truncated or replaced must not
 * come back as an empty KDC with a new audit chain.
 * KDC_ERR_STORE_VERSION if the schema is newer than this binary.
 * Sets *version (the database's user_version) on success.
 */
kdc_err	kdc_sq_identify(sqlite3 *db, bool create, int *version);

/*
 * Bring the database from *version to kdc_sq_schema_latest(), one
 * transaction per step (the step and the user_version bump together).
 * Each step re-reads user_version under the write lock, so two processes
 * opening a new file do not both migrate. Sets *version as it goes.
 * KDC_ERR_STORE_VERSION if another process wrote a newer schema meanwhile.
 */
kdc_err	kdc_sq_migrate(sqlite3 *db, int *version);

/*
 * Engine helpers (defined in sqlite.c and schema.c):
 *   kdc_sq_err	  map a failed SQLite call to a kdc_err; `fk` is what a
 *		  foreign key violation means for the statement. Reads
 *		  sqlite3_errmsg(db): call it right after the failing call.
 *   kdc_sq_exec  run one-off SQL (open, migrations): no statement cache.
 *   kdc_sq_int	  one-off query returning one integer; a query that
 *		  returns no row is KDC_ERR_STORE.
 */
kdc_err	kdc_sq_err(sqlite3 *db, int rc, kdc_err fk);
kdc_err	kdc_sq_exec(sqlite3 *db, const char *sql);
kdc_err	kdc_sq_int(sqlite3 *db, const char *sql, int64_t *v);

#endif
