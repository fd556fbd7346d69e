/*
 * schema.c: the SQLite engine's schema (schema.h): the migrations that
 * build it, step by step, and the code that recognises an iotkdc
 * database and runs the steps it lacks. Connection settings (journal
 * mode, synchronous, page size) are sqlite.c's: they are not part of the
 * file's schema.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "store/schema.h"

#define SQ_APP			"iotkdc"

/*
 * migrations[i] takes user_version i to i + 1, in one transaction with
 * the version bump. Append only: never edit a step that has shipped. A
 * step that starts with REBUILD rebuilds a table others reference: it
 * runs with foreign keys off, and the keys are checked before it commits.
 */
#define REBUILD		"-- rebuild\n"
static const char *const migrations[] = {
	/* 1: initial schema */
	"CREATE TABLE meta("
	"  key TEXT PRIMARY KEY NOT NULL,"
	"  val TEXT NOT NULL);"
	"INSERT INTO meta(key, val) VALUES('app', '" SQ_APP "');"

	"CREATE TABLE profiles("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  cred_type TEXT NOT NULL CHECK (cred_type IN ('psk','rpk','x509')),"
	"  audience TEXT NOT NULL DEFAULT '',"
	"  lifetime INTEGER NOT NULL DEFAULT 0 CHECK (lifetime >= 0));"

	"CREATE TABLE devices("
	"  id INTEGER PRIMARY KEY,"
	"  dev_id TEXT NOT NULL UNIQUE,"
	"  profile TEXT REFERENCES profiles(name) ON UPDATE CASCADE,"
	"  status TEXT NOT NULL DEFAULT 'active'"
	"    CHECK (status IN ('active','revoked')),"
	"  created INTEGER NOT NULL,"
	"  revoked_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX devices_profile ON devices(profile);"

	"CREATE TABLE credentials("
	"  id INTEGER PRIMARY KEY,"
	"  device INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL"
	"    CHECK (kind IN ('manufacturer','owner','operational')),"
	"  type TEXT NOT NULL CHECK (type IN ('psk','rpk','x509')),"
	"  status TEXT NOT NULL CHECK (status IN"
	"    ('issued','pending','revoked','superseded','expired')),"
	"  audience TEXT NOT NULL DEFAULT '',"
	"  identity TEXT NOT NULL DEFAULT '',"
	"  wrapped BLOB,"
	"  secret_fp BLOB,"
	"  spki BLOB,"
	"  spki_fp BLOB,"
	"  cert BLOB,"
	"  serial TEXT NOT NULL DEFAULT '',"
	"  not_before INTEGER NOT NULL DEFAULT 0,"
	"  not_after INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL,"
	"  status_at INTEGER NOT NULL);"
	/* lookups (and the child side of ON DELETE CASCADE); partial where
	 * most rows have nothing to index, to keep inserts cheap */
	"CREATE INDEX cred_device ON credentials(device);"
	"CREATE INDEX cred_identity ON credentials(identity)"
	"  WHERE type = 'psk';"
	"CREATE INDEX cred_spki_fp ON credentials(spki_fp)"
	"  WHERE spki_fp IS NOT NULL;"
	"CREATE INDEX cred_serial ON credentials(serial) WHERE serial <> '';"
	"CREATE INDEX cred_expiry ON credentials(not_after)"
	"  WHERE status IN ('issued','pending') AND not_after <> 0;"
	/* DESIGN §6 rules; the column sets tell them apart (see top) */
	"CREATE UNIQUE INDEX cred_one_issued ON credentials(device, audience)"
	"  WHERE kind = 'operational' AND status = 'issued';"
	"CREATE UNIQUE INDEX cred_one_pending ON credentials(device, audience)"
	"  WHERE kind = 'operational' AND status = 'pending';"
	"CREATE UNIQUE INDEX cred_live_identity ON credentials(identity)"
	"  WHERE type = 'psk' AND status IN ('issued','pending');"
	"CREATE UNIQUE INDEX cred_live_secret_fp ON credentials(secret_fp)"
	"  WHERE type = 'psk' AND status IN ('issued','pending')"
	"  AND secret_fp IS NOT NULL;"
	"CREATE UNIQUE INDEX cred_live_spki_fp ON credentials(spki_fp)"
	"  WHERE status IN ('issued','pending') AND spki_fp IS NOT NULL;"

	"CREATE TABLE mfg_cas("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  cert BLOB NOT NULL,"
	"  created INTEGER NOT NULL);"

	"CREATE TABLE audit("
	"  seq INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  outcome TEXT NOT NULL,"
	"  detail TEXT NOT NULL DEFAULT '',"
	"  prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),"
	"  hash BLOB NOT NULL CHECK (length(hash) = 32));",

	/* 2: registrations at the built-in LwM2M Server (lwm2m/server.c);
	 * one per endpoint name, gone with their device */
	"CREATE TABLE lwm2m_regs("
	/* AUTOINCREMENT: an old "rd/<id>" never names a newer registration */
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  device INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
	"  ep TEXT NOT NULL UNIQUE,"
	"  lifetime INTEGER NOT NULL CHECK (lifetime > 0),"
	"  version TEXT NOT NULL DEFAULT '',"
	"  binding TEXT NOT NULL DEFAULT '',"
	"  addr TEXT NOT NULL DEFAULT '',"
	"  registered INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL);"
	"CREATE INDEX lwm2m_regs_device ON lwm2m_regs(device);",

	/* 3: profiles whose x509 certificate the device enrolls over EST
	 * (LwM2M security mode 4) */
	"ALTER TABLE profiles ADD COLUMN est INTEGER NOT NULL DEFAULT 0"
	"  CHECK (est IN (0, 1));",

	/* 4: EST certificates that go live when the device first uses them
	 * (the one they replace stays issued until then) */
	"ALTER TABLE credentials ADD COLUMN on_use INTEGER NOT NULL DEFAULT 0"
	"  CHECK (on_use IN (0, 1));",

	/* 5: the CRL's rows, covered (kdc_store_crl_entries reads only
	 * this index; the terms must stay literal in the query, or SQLite
	 * cannot use a partial index) */
	"CREATE INDEX cred_crl ON credentials(not_after, serial, status_at)"
	"  WHERE kind = 'operational' AND type = 'x509'"
	"  AND status IN ('revoked','superseded') AND serial <> '';",

	/* 6: audiences, the services that accept operational credentials
	 * (the built-in LwM2M Server "lwm2m" is implicit, not a row); a
	 * Short Server ID names one LwM2M Server on a device: unique */
	"CREATE TABLE audiences("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  kind TEXT NOT NULL"
	"    CHECK (kind IN ('lwm2m-external','mqtt','ace-rs')),"
	"  uri TEXT NOT NULL DEFAULT '',"
	"  ssid INTEGER CHECK (ssid IS NULL OR ssid BETWEEN 1 AND 65534),"
	"  created INTEGER NOT NULL);"
	"CREATE UNIQUE INDEX audiences_ssid ON audiences(ssid)"
	"  WHERE ssid IS NOT NULL;",

	/* 7: no profiles mirror. A device's profile is iotkdc.conf's (core
	 * checks the name); the copy kept here only served a foreign key.
	 * devices is rebuilt without it (SQLite cannot drop a constraint),
	 * with foreign keys off for the step (kdc_sq_migrate()), or the DROP
	 * would cascade to every credential. */
	REBUILD
	"CREATE TABLE devices_new("
	"  id INTEGER PRIMARY KEY,"
	"  dev_id TEXT NOT NULL UNIQUE,"
	"  profile TEXT,"
	"  status TEXT NOT NULL DEFAULT 'active'"
	"    CHECK (status IN ('active','revoked')),"
	"  created INTEGER NOT NULL,"
	"  revoked_at INTEGER NOT NULL DEFAULT 0);"
	"INSERT INTO devices_new(id, dev_id, profile, status, created,"
	"  revoked_at) SELECT id, dev_id, profile, status, created, revoked_at"
	"  FROM devices;"
	"DROP TABLE devices;"
	"ALTER TABLE devices_new RENAME TO devices;"
	"CREATE INDEX devices_profile ON devices(profile);"
	"DROP TABLE profiles;",

	/* 8: the credentials that stopped being usable since a time (a
	 * daemon closes their live sessions: kdc_store_cred_ended_since)
	 * without a scan of every row */
	"CREATE INDEX cred_ended ON credentials(status_at)"
	"  WHERE status IN ('revoked','expired');",

	/* 9: the ACE Authorization Server (store/ace.h): resource servers
	 * (an ace-rs audience each), grants, and every token issued. A
	 * token row outlives its device and its grant (SET NULL): a revoked
	 * token stays on the TRL until it expires. */
	"CREATE TABLE ace_rs("
	"  id INTEGER PRIMARY KEY,"
	"  audience TEXT NOT NULL UNIQUE REFERENCES audiences(name),"
	"  profile INTEGER NOT NULL DEFAULT 1 CHECK (profile BETWEEN 1 AND 255),"
	"  key_wrapped BLOB,"
	"  spki BLOB,"
	"  created INTEGER NOT NULL,"
	"  CHECK (key_wrapped IS NOT NULL OR spki IS NOT NULL));"
	"CREATE TABLE ace_grants("
	"  id INTEGER PRIMARY KEY,"
	"  device INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
	"  audience TEXT NOT NULL REFERENCES audiences(name),"
	"  scopes TEXT NOT NULL,"
	"  refresh INTEGER NOT NULL DEFAULT 0 CHECK (refresh IN (0, 1)),"
	"  created INTEGER NOT NULL,"
	"  revoked_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE UNIQUE INDEX ace_grant_live ON ace_grants(device, audience)"
	"  WHERE revoked_at = 0;"
	"CREATE INDEX ace_grant_audience ON ace_grants(audience);"
	"CREATE TABLE ace_tokens("
	"  cti BLOB PRIMARY KEY NOT NULL,"
	"  device INTEGER REFERENCES devices(id) ON DELETE SET NULL,"
	"  client TEXT NOT NULL,"
	"  grant_id INTEGER REFERENCES ace_grants(id) ON DELETE SET NULL,"
	"  audience TEXT NOT NULL,"
	"  scope TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('access','refresh')),"
	"  pop TEXT NOT NULL CHECK (pop IN ('symmetric','asymmetric')),"
	"  pop_kid BLOB,"
	"  pop_key BLOB,"
	"  hash BLOB NOT NULL,"
	"  iat INTEGER NOT NULL,"
	"  exp INTEGER NOT NULL,"
	"  revoked_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE UNIQUE INDEX ace_token_hash ON ace_tokens(hash);"
	"CREATE INDEX ace_token_device ON ace_tokens(device);"
	"CREATE INDEX ace_token_grant ON ace_tokens(grant_id);"
	/* the TRL: revoked access tokens of an audience, not yet expired */
	"CREATE INDEX ace_trl ON ace_tokens(audience, revoked_at, exp)"
	"  WHERE kind = 'access' AND revoked_at <> 0;",

	/* 10: the hash index holds refresh tokens only, the one kind looked
	 * up by hash (a refresh token's SHA-256, store/ace.h). An access
	 * token's RFC 9770 hash is a SHA-256 of bytes that hold a unique
	 * cti, and is read only through the TRL (ace_trl): indexing it sent
	 * every token insert to a random leaf of a large index (a page read
	 * once it outgrew SQLite's cache, a page more in the WAL at every
	 * commit): ~12 us of a ~55-85 us token (bench_ace, docs/perf.md). */
	"DROP INDEX ace_token_hash;"
	"CREATE UNIQUE INDEX ace_token_hash ON ace_tokens(hash)"
	"  WHERE kind = 'refresh';",

	/* 11: OCF (issue 16, store/ocf.h). Each OCF device is an audience
	 * of kind ocf-device (its pairwise credentials' service): the
	 * audiences table is rebuilt for the kind's CHECK (SQLite cannot
	 * alter one), with foreign keys off (ace_rs and ace_grants
	 * reference it). ocf_devices records each onboarding by the uuid
	 * the device was discovered as; device and owner_cred go NULL with
	 * their rows. cred_ocf_audience finds the credentials held for an
	 * OCF audience (offboarding, the pairs of a device) and costs
	 * nothing to other inserts (a row outside its WHERE writes no
	 * entry). The KDC's own OBT uuid is in meta (ocf_obt_uuid), made
	 * at first use. */
	REBUILD
	"CREATE TABLE audiences_new("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  kind TEXT NOT NULL"
	"    CHECK (kind IN ('lwm2m-external','mqtt','ace-rs','ocf-device')),"
	"  uri TEXT NOT NULL DEFAULT '',"
	"  ssid INTEGER CHECK (ssid IS NULL OR ssid BETWEEN 1 AND 65534),"
	"  created INTEGER NOT NULL);"
	"INSERT INTO audiences_new(name, kind, uri, ssid, created)"
	"  SELECT name, kind, uri, ssid, created FROM audiences;"
	"DROP TABLE audiences;"
	"ALTER TABLE audiences_new RENAME TO audiences;"
	"CREATE UNIQUE INDEX audiences_ssid ON audiences(ssid)"
	"  WHERE ssid IS NOT NULL;"
	"CREATE TABLE ocf_devices("
	"  id INTEGER PRIMARY KEY,"
	"  first_uuid TEXT NOT NULL UNIQUE CHECK (length(first_uuid) = 36),"
	"  uuid TEXT NOT NULL UNIQUE CHECK (length(uuid) = 36),"
	"  new_uuid TEXT NOT NULL DEFAULT ''"
	"    CHECK (new_uuid = '' OR length(new_uuid) = 36),"
	"  device INTEGER REFERENCES devices(id) ON DELETE SET NULL,"
	"  otm INTEGER NOT NULL CHECK (otm IN (0, 1, 2)),"
	"  state TEXT NOT NULL CHECK (state IN"
	"    ('onboarding','failed','owned','offboarded')),"
	"  step TEXT NOT NULL DEFAULT '',"
	"  err INTEGER NOT NULL DEFAULT 0,"
	"  coap_ep TEXT NOT NULL DEFAULT '',"
	"  coaps_ep TEXT NOT NULL DEFAULT '',"
	"  owner_cred INTEGER REFERENCES credentials(id) ON DELETE SET NULL,"
	"  created INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL);"
	"CREATE INDEX ocf_devices_device ON ocf_devices(device);"
	"CREATE INDEX ocf_devices_owner ON ocf_devices(owner_cred);"
	"CREATE INDEX cred_ocf_audience ON credentials(audience)"
	"  WHERE audience GLOB 'ocf-*';",

	/* 12: people as principals and the Thing Directory (issue 17,
	 * store/tdd.h). A user is a registry device (its certificate is an
	 * operational credential like a device's) with a users row;
	 * principal_groups names the groups of any principal. tdd_things
	 * keeps each Thing Description with its owner, registration info
	 * and the owner's consent (purpose, readers, retention);
	 * tdd_readers is the readers list as rows (who: a device id or
	 * "group:NAME") for listing by reader; tdd_events the event
	 * history for Last-Event-ID replay. AUTOINCREMENT: a number erased
	 * with its TD is never given to another one (the audit names TDs
	 * by it, never by their id). */
	"CREATE TABLE users("
	"  device INTEGER PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL UNIQUE,"
	"  pwhash TEXT NOT NULL DEFAULT '',"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE principal_groups("
	"  device INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
	"  grp TEXT NOT NULL,"
	"  PRIMARY KEY (device, grp)) WITHOUT ROWID;"
	"CREATE TABLE tdd_things("
	"  n INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  id TEXT NOT NULL UNIQUE,"
	"  owner INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
	"  td TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  modified INTEGER NOT NULL,"
	"  ttl INTEGER,"
	"  expires INTEGER,"
	"  client_expires INTEGER,"
	"  purpose TEXT NOT NULL,"
	"  retention INTEGER NOT NULL CHECK (retention > 0),"
	"  consented INTEGER NOT NULL,"
	"  readers TEXT NOT NULL DEFAULT '',"
	"  lint TEXT NOT NULL DEFAULT '[]');"
	"CREATE INDEX tdd_things_owner ON tdd_things(owner);"
	"CREATE INDEX tdd_things_expires ON tdd_things(expires)"
	"  WHERE expires IS NOT NULL;"
	"CREATE TABLE tdd_readers("
	"  who TEXT NOT NULL,"
	"  thing INTEGER NOT NULL REFERENCES tdd_things(n) ON DELETE CASCADE,"
	"  PRIMARY KEY (who, thing)) WITHOUT ROWID;"
	"CREATE INDEX tdd_readers_thing ON tdd_readers(thing);"
	"CREATE TABLE tdd_events("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  type INTEGER NOT NULL CHECK (type IN (0, 1, 2)),"
	"  thing INTEGER NOT NULL,"
	"  tdid TEXT NOT NULL,"
	"  data TEXT NOT NULL,"
	"  owner INTEGER NOT NULL,"
	"  readers TEXT NOT NULL,"
	"  at INTEGER NOT NULL);"
	"CREATE INDEX tdd_events_thing ON tdd_events(thing);",
};

#define SQ_SCHEMA_VERSION \
	((int)(sizeof(migrations) / sizeof(migrations[0])))

int
kdc_sq_schema_latest(void)
{
	return SQ_SCHEMA_VERSION;
}

/* ---- one-off SQL --------------------------------------------------------- */

kdc_err
kdc_sq_exec(sqlite3 *db, const char *sql)
{
	int rc;

	if ((rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK)
		return kdc_sq_err(db, rc, KDC_ERR_STORE);
	return KDC_OK;
}

kdc_err
kdc_sq_int(sqlite3 *db, const char *sql, int64_t *v)
{
	sqlite3_stmt *s = NULL;
	kdc_err r;
	int rc;

	*v = 0;
	if ((rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL)) != SQLITE_OK) {
		r = kdc_sq_err(db, rc, KDC_ERR_STORE);
		goto out;
	}
	if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
		r = rc == SQLITE_DONE ? KDC_ERR_STORE : kdc_sq_err(db, rc,
		    KDC_ERR_STORE);
		goto out;
	}
	*v = sqlite3_column_int64(s, 0);
	r = KDC_OK;
out:
	sqlite3_finalize(s);
	return r;
}

/* ---- identify and migrate ------------------------------------------------ */

kdc_err
kdc_sq_identify(sqlite3 *db, bool create, int *version)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *val;
	int64_t uv, nschema, nmeta;
	kdc_err r;
	int rc;

	*version = 0;
	/* the first read of the file: NOTADB here for a non-SQLite file */
	if ((r = kdc_sq_int(db, "PRAGMA user_version", &uv)) != KDC_OK ||
	    (r = kdc_sq_int(db, "SELECT count(*) FROM sqlite_master",
	    &nschema)) != KDC_OK)
		goto out;
	if (nschema == 0) {
		/* nothing in it: ours to fill only when asked to create */
		r = uv == 0 && create ? KDC_OK : KDC_ERR_STORE_CORRUPT;
		goto out;
	}
	if ((r = kdc_sq_int(db, "SELECT count(*) FROM sqlite_master"
	    " WHERE type = 'table' AND name = 'meta'", &nmeta)) != KDC_OK)
		goto out;
	if (nmeta == 0) {
		r = KDC_ERR_STORE_CORRUPT;
		goto out;
	}
	rc = sqlite3_prepare_v2(db, "SELECT val FROM meta WHERE key = 'app'",
	    -1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		/* a "meta" table of another shape is foreign too */
		r = kdc_sq_err(db, rc, KDC_ERR_STORE);
		if (r == KDC_ERR_STORE)
			r = KDC_ERR_STORE_CORRUPT;
		goto out;
	}
	val = sqlite3_column_text(s, 0);
	if (val == NULL && sqlite3_column_type(s, 0) != SQLITE_NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	if (val == NULL || strcmp((const char *)val, SQ_APP) != 0 || uv < 1) {
		r = KDC_ERR_STORE_CORRUPT;
		goto out;
	}
	if (uv > SQ_SCHEMA_VERSION) {
		r = KDC_ERR_STORE_VERSION;
		goto out;
	}
	*version = (int)uv;
	r = KDC_OK;
out:
	sqlite3_finalize(s);
	return r;
}

kdc_err
kdc_sq_migrate(sqlite3 *db, int *version)
{
	char sql[64];
	int64_t uv, bad;
	bool rebuild = false;
	kdc_err r = KDC_OK;

	while (*version < SQ_SCHEMA_VERSION) {
		/* foreign keys go off outside a transaction only (a no-op
		 * inside one); the step to run is known for sure only under
		 * the lock, so this is the step we expect, checked again */
		rebuild = strncmp(migrations[*version], REBUILD,
		    strlen(REBUILD)) == 0;
		if (rebuild &&
		    (r = kdc_sq_exec(db, "PRAGMA foreign_keys = OFF")) != KDC_OK)
			return r;
		if ((r = kdc_sq_exec(db, "BEGIN IMMEDIATE")) != KDC_OK)
			goto fail;
		if ((r = kdc_sq_int(db, "PRAGMA user_version", &uv)) != KDC_OK)
			goto fail;
		if (uv > SQ_SCHEMA_VERSION) {
			r = KDC_ERR_STORE_VERSION;
			goto fail;
		}
		if (uv < SQ_SCHEMA_VERSION && rebuild != (strncmp(
		    migrations[uv], REBUILD, strlen(REBUILD)) == 0)) {
			/* another process migrated meanwhile: read again */
			(void)kdc_sq_exec(db, "ROLLBACK");
			if (rebuild)
				(void)kdc_sq_exec(db, "PRAGMA foreign_keys = ON");
			*version = (int)uv;
			continue;
		}
		if (uv < SQ_SCHEMA_VERSION) {
			(void)snprintf(sql, sizeof(sql),
			    "PRAGMA user_version = %d", (int)uv + 1);
			if ((r = kdc_sq_exec(db, migrations[uv])) != KDC_OK ||
			    (r = kdc_sq_exec(db, sql)) != KDC_OK)
				goto fail;
			if (rebuild && ((r = kdc_sq_int(db, "SELECT count(*) FROM"
			    " pragma_foreign_key_check", &bad)) != KDC_OK ||
			    (bad != 0 && (r = KDC_ERR_STORE_CORRUPT))))
				goto fail;
		}
		if ((r = kdc_sq_exec(db, "COMMIT")) != KDC_OK)
			goto fail;
		if (rebuild &&
		    (r = kdc_sq_exec(db, "PRAGMA foreign_keys = ON")) != KDC_OK)
			return r;
		*version = uv < SQ_SCHEMA_VERSION ? (int)uv + 1 : (int)uv;
	}
	return KDC_OK;
fail:
	if (!sqlite3_get_autocommit(db))
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	if (rebuild)
		(void)sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL,
		    NULL);
	return r;
}
