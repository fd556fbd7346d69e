/* test_store.c: the credential store (store.h) on SQLite. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sqlite3.h>

#include "base/alloc.h"
#include "base/wipe.h"
#include "store/store.h"
#include "store/store_int.h"
#include "testutil.h"

/* ---- helpers ----------------------------------------------------------- */

static struct kdc_store *
open_mem(void)
{
	struct kdc_store *st = NULL;

	assert_int_equal(kdc_store_open(":memory:", 1, &st), KDC_OK);
	assert_non_null(st);
	return st;
}

static kdc_err
try_add_device(struct kdc_store *st, const char *dev_id, const char *profile,
    int64_t *id)
{
	struct kdc_device d;
	kdc_err r;

	memset(&d, 0, sizeof(d));
	snprintf(d.dev_id, sizeof(d.dev_id), "%s", dev_id);
	snprintf(d.profile, sizeof(d.profile), "%s", profile);
	d.status = KDC_DEV_ACTIVE;
	r = kdc_store_device_add(st, &d);
	if (id != NULL)
		*id = d.id;
	return r;
}

static int64_t
add_device(struct kdc_store *st, const char *dev_id)
{
	int64_t id = 0;

	assert_int_equal(try_add_device(st, dev_id, "default", &id), KDC_OK);
	assert_true(id > 0);
	return id;
}

/* A credential row with no blobs. */
static struct kdc_cred
mk_cred(int64_t dev, enum kdc_cred_kind kind, enum kdc_cred_type type,
    enum kdc_cred_status status, const char *aud)
{
	struct kdc_cred c;

	memset(&c, 0, sizeof(c));
	c.device = dev;
	c.kind = kind;
	c.type = type;
	c.status = status;
	snprintf(c.audience, sizeof(c.audience), "%s", aud);
	return c;
}

static int64_t
add_cred(struct kdc_store *st, struct kdc_cred *c)
{
	assert_int_equal(kdc_store_cred_add(st, c), KDC_OK);
	assert_true(c->id > 0);
	return c->id;
}

static struct kdc_store *
std_store(void)
{
	struct kdc_store *st = open_mem();

	return st;
}

static int
count_creds(struct kdc_store *st, const struct kdc_cred_filter *f)
{
	struct kdc_cred **v = NULL;
	size_t n = 0;

	assert_int_equal(kdc_store_cred_list(st, f, &v, &n), KDC_OK);
	kdc_cred_list_free(v, n);
	return (int)n;
}

static int
count_devices(struct kdc_store *st)
{
	struct kdc_device **v = NULL;
	size_t n = 0;

	assert_int_equal(kdc_store_device_list(st, &v, &n), KDC_OK);
	kdc_device_list_free(v, n);
	return (int)n;
}

/* Run SQL on a file with a raw connection (sets up foreign/odd files). */
static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* First column of the first row, as text, into buf. */
static void
raw_query(const char *path, const char *sql, char *buf, size_t cap)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	buf[0] = '\0';
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != NULL)
		snprintf(buf, cap, "%s", sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

struct tmp {
	char	*dir;
	char	 path[512];
};

static void
tmp_make(struct tmp *t)
{
	t->dir = kdc_test_tmpdir();
	snprintf(t->path, sizeof(t->path), "%s/iotkdc.db", t->dir);
}

static void
tmp_done(struct tmp *t)
{
	kdc_test_rmtree(t->dir);
	free(t->dir);
}

/* ---- enum text --------------------------------------------------------- */

static void
test_enum_text(void **state)
{
	(void)state;
	assert_string_equal(kdc_cred_kind_str(KDC_KIND_MANUFACTURER),
	    "manufacturer");
	assert_string_equal(kdc_cred_kind_str(KDC_KIND_OWNER), "owner");
	assert_string_equal(kdc_cred_kind_str(KDC_KIND_OPERATIONAL),
	    "operational");
	assert_string_equal(kdc_cred_type_str(KDC_TYPE_PSK), "psk");
	assert_string_equal(kdc_cred_type_str(KDC_TYPE_RPK), "rpk");
	assert_string_equal(kdc_cred_type_str(KDC_TYPE_X509), "x509");
	assert_string_equal(kdc_cred_status_str(KDC_CRED_ISSUED), "issued");
	assert_string_equal(kdc_cred_status_str(KDC_CRED_PENDING), "pending");
	assert_string_equal(kdc_cred_status_str(KDC_CRED_REVOKED), "revoked");
	assert_string_equal(kdc_cred_status_str(KDC_CRED_SUPERSEDED),
	    "superseded");
	assert_string_equal(kdc_cred_status_str(KDC_CRED_EXPIRED), "expired");
	assert_string_equal(kdc_dev_status_str(KDC_DEV_ACTIVE), "active");
	assert_string_equal(kdc_dev_status_str(KDC_DEV_REVOKED), "revoked");

	for (int i = 0; i <= KDC_KIND_OPERATIONAL; i++)
		assert_int_equal(kdc_cred_kind_parse(
		    kdc_cred_kind_str((enum kdc_cred_kind)i)), i);
	for (int i = 0; i <= KDC_TYPE_X509; i++)
		assert_int_equal(kdc_cred_type_parse(
		    kdc_cred_type_str((enum kdc_cred_type)i)), i);
	for (int i = 0; i <= KDC_CRED_EXPIRED; i++)
		assert_int_equal(kdc_cred_status_parse(
		    kdc_cred_status_str((enum kdc_cred_status)i)), i);
	assert_int_equal(kdc_cred_kind_parse("Manufacturer"), -1);
	assert_int_equal(kdc_cred_type_parse(""), -1);
	assert_int_equal(kdc_cred_status_parse(NULL), -1);
	assert_int_equal(kdc_cred_status_parse("issued "), -1);
	assert_string_equal(kdc_cred_type_str((enum kdc_cred_type)7),
	    "unknown");
}

/* ---- round trip of every function -------------------------------------- */

struct audit_seen {
	int64_t	 seqs[512];
	size_t	 n;
	int64_t	 stop_at;		/* return KDC_ERR_DENIED at this seq */
	struct kdc_store *st;		/* if set: re-enter the store */
};

static kdc_err
audit_cb(const struct kdc_audit_rec *rec, void *arg)
{
	struct audit_seen *a = arg;
	struct kdc_audit_rec last;

	if (a->st != NULL)
		assert_int_equal(kdc_store_audit_last(a->st, &last), KDC_OK);
	if (a->n < sizeof(a->seqs) / sizeof(a->seqs[0]))
		a->seqs[a->n++] = rec->seq;
	if (rec->seq == a->stop_at)
		return KDC_ERR_DENIED;
	return KDC_OK;
}

static void
roundtrip(const char *path)
{
	struct kdc_store *st = NULL;
	struct kdc_device *d = NULL, **dl = NULL;
	struct kdc_cred c, *g = NULL, **cl = NULL;
	struct kdc_mfg_ca ca, **cal = NULL;
	struct kdc_audit_rec rec, last;
	uint8_t head[32];
	int64_t head_seq = -1;
	struct kdc_cred_filter f;
	uint8_t wrapped[48], sfp[32], spki[91], spki_fp[32], cert[300];
	uint8_t fp_other[32];
	char *val = NULL;
	size_t n = 0;
	int64_t dev1, dev2, cid;

	for (size_t i = 0; i < sizeof(wrapped); i++)
		wrapped[i] = (uint8_t)(0xa0 + i);
	memset(sfp, 0x11, sizeof(sfp));
	memset(spki, 0x22, sizeof(spki));
	memset(spki_fp, 0x33, sizeof(spki_fp));
	memset(cert, 0x44, sizeof(cert));
	memset(fp_other, 0x55, sizeof(fp_other));

	assert_int_equal(kdc_store_open(path, 1, &st), KDC_OK);
	assert_int_equal(kdc_store_ping(st), KDC_OK);
	assert_int_equal(kdc_store_schema_version(st), 12);

	/* meta */
	assert_int_equal(kdc_store_meta_get(st, "audit.head", &val),
	    KDC_ERR_NOT_FOUND);
	assert_null(val);
	assert_int_equal(kdc_store_meta_set(st, "audit.head", "abc"), KDC_OK);
	assert_int_equal(kdc_store_meta_set(st, "audit.head", "def"), KDC_OK);
	assert_int_equal(kdc_store_meta_get(st, "audit.head", &val), KDC_OK);
	assert_string_equal(val, "def");
	kdc_free(val);
	val = NULL;
	assert_int_equal(kdc_store_meta_get(st, "app", &val), KDC_OK);
	assert_string_equal(val, "iotkdc");
	kdc_free(val);
	val = NULL;
	assert_int_equal(kdc_store_meta_set(st, "app", "x"),
	    KDC_ERR_INVALID_ARG);

	/* no profiles table: a device's profile is a name iotkdc.conf
	 * defines (core checks it, test_core); the schema has no copy */
	{
		sqlite3_stmt *q = NULL;

		assert_int_equal(sqlite3_prepare_v2(kdc_sqlite_handle(st),
		    "SELECT count(*) FROM sqlite_master WHERE name = "
		    "'profiles'", -1, &q, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int64(q, 0), 0);
		sqlite3_finalize(q);
	}

	/* devices */
	dev2 = add_device(st, "urn:dev:b");
	dev1 = add_device(st, "urn:dev:a");
	assert_int_equal(try_add_device(st, "urn:dev:a", "default", NULL),
	    KDC_ERR_EXISTS);
	/* the store keeps the name it is given */
	assert_int_equal(try_add_device(st, "urn:dev:c", "nope", NULL),
	    KDC_OK);
	assert_int_equal(kdc_store_device_get(st, "urn:dev:a", &d), KDC_OK);
	assert_int_equal(d->id, dev1);
	assert_string_equal(d->dev_id, "urn:dev:a");
	assert_string_equal(d->profile, "default");
	assert_int_equal(d->status, KDC_DEV_ACTIVE);
	assert_true(d->created > 0);
	assert_int_equal(d->revoked_at, 0);
	kdc_device_free(d);
	d = NULL;
	assert_int_equal(kdc_store_device_get(st, "urn:dev:zz", &d),
	    KDC_ERR_NOT_FOUND);
	assert_null(d);
	assert_int_equal(kdc_store_device_get_by_id(st, dev2, &d), KDC_OK);
	assert_string_equal(d->dev_id, "urn:dev:b");
	kdc_device_free(d);
	d = NULL;
	assert_int_equal(kdc_store_device_get_by_id(st, 9999, &d),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_store_device_list(st, &dl, &n), KDC_OK);
	assert_int_equal(n, 3);
	assert_string_equal(dl[0]->dev_id, "urn:dev:a");	/* by dev_id */
	assert_string_equal(dl[1]->dev_id, "urn:dev:b");
	assert_string_equal(dl[2]->dev_id, "urn:dev:c");
	assert_string_equal(dl[2]->profile, "nope");
	assert_int_equal(kdc_store_device_delete(st, dl[2]->id), KDC_OK);
	kdc_device_list_free(dl, n);
	dl = NULL;
	assert_int_equal(kdc_store_device_set_status(st, dev2,
	    KDC_DEV_REVOKED), KDC_OK);
	assert_int_equal(kdc_store_device_get_by_id(st, dev2, &d), KDC_OK);
	assert_int_equal(d->status, KDC_DEV_REVOKED);
	assert_true(d->revoked_at > 0);
	kdc_device_free(d);
	d = NULL;
	assert_int_equal(kdc_store_device_set_status(st, 9999,
	    KDC_DEV_REVOKED), KDC_ERR_NOT_FOUND);
	/* no profile at all is allowed (stored as NULL, read back as "") */
	assert_int_equal(try_add_device(st, "urn:dev:noprof", "", NULL),
	    KDC_OK);
	assert_int_equal(kdc_store_device_get(st, "urn:dev:noprof", &d),
	    KDC_OK);
	assert_string_equal(d->profile, "");
	kdc_device_free(d);
	d = NULL;

	/* credentials: full row, deep copies */
	c = mk_cred(dev1, KDC_KIND_OPERATIONAL, KDC_TYPE_PSK, KDC_CRED_ISSUED,
	    "lwm2m");
	snprintf(c.identity, sizeof(c.identity), "id-a");
	c.wrapped = wrapped;
	c.wrapped_len = sizeof(wrapped);
	c.secret_fp = sfp;
	c.secret_fp_len = sizeof(sfp);
	c.not_before = 1000;
	c.not_after = 2000000000;
	cid = add_cred(st, &c);
	assert_true(c.created > 0);
	assert_int_equal(c.status_at, c.created);
	assert_int_equal(kdc_store_cred_get(st, cid, &g), KDC_OK);
	assert_int_equal(g->id, cid);
	assert_int_equal(g->device, dev1);
	assert_int_equal(g->kind, KDC_KIND_OPERATIONAL);
	assert_int_equal(g->type, KDC_TYPE_PSK);
	assert_int_equal(g->status, KDC_CRED_ISSUED);
	assert_string_equal(g->audience, "lwm2m");
	assert_string_equal(g->identity, "id-a");
	assert_int_equal(g->wrapped_len, sizeof(wrapped));
	assert_memory_equal(g->wrapped, wrapped, sizeof(wrapped));
	assert_ptr_not_equal(g->wrapped, wrapped);
	assert_int_equal(g->secret_fp_len, sizeof(sfp));
	assert_memory_equal(g->secret_fp, sfp, sizeof(sfp));
	assert_null(g->spki);
	assert_int_equal(g->spki_len, 0);
	assert_null(g->cert);
	assert_string_equal(g->serial, "");
	assert_int_equal(g->not_before, 1000);
	assert_int_equal(g->not_after, 2000000000);
	assert_int_equal(g->created, c.created);
	kdc_cred_free(g);
	g = NULL;
	assert_int_equal(kdc_store_cred_get(st, 9999, &g), KDC_ERR_NOT_FOUND);
	assert_null(g);

	/* set_wrapped / set_cert */
	wrapped[0] ^= 0xff;
	assert_int_equal(kdc_store_cred_set_wrapped(st, cid, wrapped,
	    sizeof(wrapped)), KDC_OK);
	assert_int_equal(kdc_store_cred_set_wrapped(st, 9999, wrapped,
	    sizeof(wrapped)), KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_store_cred_get_by_identity(st, "id-a", &g),
	    KDC_OK);
	assert_int_equal(g->id, cid);
	assert_memory_equal(g->wrapped, wrapped, sizeof(wrapped));
	kdc_cred_free(g);
	g = NULL;
	assert_int_equal(kdc_store_cred_get_by_identity(st, "id-zz", &g),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_store_cred_get_by_identity(st, "", &g),
	    KDC_ERR_NOT_FOUND);

	c = mk_cred(dev1, KDC_KIND_MANUFACTURER, KDC_TYPE_X509,
	    KDC_CRED_ISSUED, "");
	c.spki = spki;
	c.spki_len = sizeof(spki);
	c.spki_fp = spki_fp;
	c.spki_fp_len = sizeof(spki_fp);
	c.cert = cert;
	c.cert_len = sizeof(cert);
	snprintf(c.serial, sizeof(c.serial), "0a1b2c");
	cid = add_cred(st, &c);
	/* the certificate and serial as added */
	assert_int_equal(kdc_store_cred_get(st, cid, &g), KDC_OK);
	assert_int_equal(g->id, cid);
	assert_int_equal(g->cert_len, sizeof(cert));
	assert_memory_equal(g->cert, cert, sizeof(cert));
	assert_memory_equal(g->spki, spki, sizeof(spki));
	assert_string_equal(g->serial, "0a1b2c");
	assert_null(g->wrapped);
	kdc_cred_free(g);
	g = NULL;
	assert_int_equal(kdc_store_cred_get_by_spki_fp(st, spki_fp, &g),
	    KDC_OK);
	assert_int_equal(g->id, cid);
	kdc_cred_free(g);
	g = NULL;
	assert_int_equal(kdc_store_cred_get_by_spki_fp(st, fp_other, &g),
	    KDC_ERR_NOT_FOUND);

	/* find_secret_fp */
	assert_int_equal(kdc_store_cred_find_secret_fp(st, sfp, sizeof(sfp),
	    0), KDC_OK);
	assert_int_equal(kdc_store_cred_find_secret_fp(st, sfp, sizeof(sfp),
	    dev2), KDC_OK);
	assert_int_equal(kdc_store_cred_find_secret_fp(st, sfp, sizeof(sfp),
	    dev1), KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_store_cred_find_secret_fp(st, fp_other,
	    sizeof(fp_other), 0), KDC_ERR_NOT_FOUND);

	/* cred on an unknown device */
	c = mk_cred(4242, KDC_KIND_OWNER, KDC_TYPE_RPK, KDC_CRED_ISSUED, "");
	assert_int_equal(kdc_store_cred_add(st, &c), KDC_ERR_NOT_FOUND);
	assert_int_equal(c.id, 0);

	/* list + filters */
	c = mk_cred(dev2, KDC_KIND_OPERATIONAL, KDC_TYPE_RPK, KDC_CRED_PENDING,
	    "lwm2m");
	c.not_after = 5000;
	add_cred(st, &c);
	assert_int_equal(kdc_store_cred_list(st, NULL, &cl, &n), KDC_OK);
	assert_int_equal(n, 3);
	assert_true(cl[0]->id < cl[1]->id && cl[1]->id < cl[2]->id);
	kdc_cred_list_free(cl, n);
	cl = NULL;
	memset(&f, 0, sizeof(f));
	f.kind = -1;
	f.status = -1;
	assert_int_equal(count_creds(st, &f), 3);
	f.device = dev1;
	assert_int_equal(count_creds(st, &f), 2);
	f.kind = KDC_KIND_OPERATIONAL;
	assert_int_equal(count_creds(st, &f), 1);
	f.device = 0;
	assert_int_equal(count_creds(st, &f), 2);
	f.status = KDC_CRED_PENDING;
	assert_int_equal(count_creds(st, &f), 1);
	f.kind = -1;
	f.status = -1;
	f.expiring_before = 6000;
	assert_int_equal(count_creds(st, &f), 1);
	f.expiring_before = 5000;		/* strictly before */
	assert_int_equal(count_creds(st, &f), 0);
	f.expiring_before = 0;
	f.kind = 9;
	assert_int_equal(kdc_store_cred_list(st, &f, &cl, &n),
	    KDC_ERR_INVALID_ARG);

	/* set_status */
	assert_int_equal(kdc_store_cred_set_status(st, c.id, KDC_CRED_ISSUED),
	    KDC_OK);
	assert_int_equal(kdc_store_cred_get(st, c.id, &g), KDC_OK);
	assert_int_equal(g->status, KDC_CRED_ISSUED);
	assert_true(g->status_at > 0);
	kdc_cred_free(g);
	g = NULL;
	assert_int_equal(kdc_store_cred_set_status(st, 9999, KDC_CRED_REVOKED),
	    KDC_ERR_NOT_FOUND);

	/* manufacturer CAs */
	memset(&ca, 0, sizeof(ca));
	snprintf(ca.name, sizeof(ca.name), "zeta");
	ca.cert = cert;
	ca.cert_len = 100;
	assert_int_equal(kdc_store_mfg_ca_add(st, &ca), KDC_OK);
	assert_true(ca.id > 0);
	assert_true(ca.created > 0);
	ca.id = 0;
	assert_int_equal(kdc_store_mfg_ca_add(st, &ca), KDC_ERR_EXISTS);
	snprintf(ca.name, sizeof(ca.name), "alpha");
	ca.cert_len = 200;
	ca.created = 77;
	assert_int_equal(kdc_store_mfg_ca_add(st, &ca), KDC_OK);
	assert_int_equal(kdc_store_mfg_ca_list(st, &cal, &n), KDC_OK);
	assert_int_equal(n, 2);
	assert_string_equal(cal[0]->name, "alpha");
	assert_int_equal(cal[0]->cert_len, 200);
	assert_int_equal(cal[0]->created, 77);
	assert_memory_equal(cal[0]->cert, cert, 200);
	assert_string_equal(cal[1]->name, "zeta");
	kdc_mfg_ca_list_free(cal, n);

	/* audit */
	assert_int_equal(kdc_store_audit_last(st, &last), KDC_ERR_NOT_FOUND);
	memset(head, 0xee, sizeof(head));
	assert_int_equal(kdc_store_audit_head(st, &head_seq, head),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(head_seq, 0);
	memset(&rec, 0, sizeof(rec));
	rec.ts = 123;
	snprintf(rec.actor, sizeof(rec.actor), "cli");
	snprintf(rec.action, sizeof(rec.action), "device.add");
	snprintf(rec.subject, sizeof(rec.subject), "urn:dev:a");
	snprintf(rec.outcome, sizeof(rec.outcome), "ok");
	snprintf(rec.detail, sizeof(rec.detail), "profile=default");
	memset(rec.prev_hash, 0, 32);
	memset(rec.hash, 0x5a, 32);
	assert_int_equal(kdc_store_audit_append(st, &rec), KDC_OK);
	assert_int_equal(rec.seq, 1);
	assert_int_equal(kdc_store_audit_last(st, &last), KDC_OK);
	assert_memory_equal(&last, &rec, sizeof(rec));
	rec.seq = 0;
	memset(rec.hash, 0xa5, 32);
	assert_int_equal(kdc_store_audit_append(st, &rec), KDC_OK);
	assert_int_equal(rec.seq, 2);
	assert_int_equal(kdc_store_audit_head(st, &head_seq, head), KDC_OK);
	assert_int_equal(head_seq, 2);
	assert_memory_equal(head, rec.hash, 32);

	/* device delete */
	assert_int_equal(kdc_store_device_delete(st, dev1), KDC_OK);
	assert_int_equal(kdc_store_device_delete(st, dev1), KDC_ERR_NOT_FOUND);
	assert_int_equal(count_devices(st), 2);

	kdc_store_close(st);
}

static void
test_roundtrip_memory(void **state)
{
	(void)state;
	roundtrip(":memory:");
}

static void
test_roundtrip_file(void **state)
{
	struct tmp t;

	(void)state;
	tmp_make(&t);
	roundtrip(t.path);
	tmp_done(&t);
}

/* ---- open: files, migrations, refusals --------------------------------- */

static void
test_reopen(void **state)
{
	struct kdc_store *st = NULL;
	struct kdc_device *d = NULL;
	struct tmp t;
	struct stat sb;
	char buf[64];

	(void)state;
	tmp_make(&t);
	/* missing without create: NOT_FOUND, and nothing is created */
	assert_int_equal(kdc_store_open(t.path, 0, &st), KDC_ERR_NOT_FOUND);
	assert_null(st);
	assert_int_not_equal(stat(t.path, &sb), 0);

	assert_int_equal(kdc_store_open(t.path, 1, &st), KDC_OK);
	add_device(st, "urn:dev:persist");
	kdc_store_close(st);
	st = NULL;

	/* owner-only file, WAL, our identity, version 1 */
	assert_int_equal(stat(t.path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	raw_query(t.path, "PRAGMA journal_mode", buf, sizeof(buf));
	assert_string_equal(buf, "wal");
	raw_query(t.path, "SELECT val FROM meta WHERE key = 'app'", buf,
	    sizeof(buf));
	assert_string_equal(buf, "iotkdc");
	raw_query(t.path, "PRAGMA user_version", buf, sizeof(buf));
	assert_string_equal(buf, "12");

	/* reopen twice (with and without create): migrations are no-ops */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(kdc_store_open(t.path, i, &st), KDC_OK);
		assert_int_equal(kdc_store_schema_version(st), 12);
		assert_int_equal(kdc_store_device_get(st, "urn:dev:persist",
		    &d), KDC_OK);
		kdc_device_free(d);
		d = NULL;
		assert_int_equal(count_devices(st), 1);
		kdc_store_close(st);
		st = NULL;
	}
	raw_query(t.path, "SELECT count(*) FROM meta WHERE key = 'app'", buf,
	    sizeof(buf));
	assert_string_equal(buf, "1");
	tmp_done(&t);
}

static void
test_foreign_db(void **state)
{
	struct kdc_store *st = NULL;
	struct tmp t;
	char buf[64];

	(void)state;
	tmp_make(&t);
	raw_exec(t.path, "CREATE TABLE songs(title TEXT);"
	    "INSERT INTO songs VALUES('x');");
	assert_int_equal(kdc_store_open(t.path, 1, &st),
	    KDC_ERR_STORE_CORRUPT);
	assert_null(st);
	/* untouched: not switched to WAL, no tables of ours */
	raw_query(t.path, "PRAGMA journal_mode", buf, sizeof(buf));
	assert_string_equal(buf, "delete");
	raw_query(t.path, "SELECT count(*) FROM sqlite_master", buf,
	    sizeof(buf));
	assert_string_equal(buf, "1");

	/* a "meta" table that is not ours */
	raw_exec(t.path, "CREATE TABLE meta(k, v)");
	assert_int_equal(kdc_store_open(t.path, 1, &st),
	    KDC_ERR_STORE_CORRUPT);
	raw_exec(t.path, "DROP TABLE meta; CREATE TABLE meta(key, val);"
	    "INSERT INTO meta VALUES('app', 'other')");
	assert_int_equal(kdc_store_open(t.path, 1, &st),
	    KDC_ERR_STORE_CORRUPT);
	assert_null(st);
	tmp_done(&t);
}

static void
test_garbage_file(void **state)
{
	struct kdc_store *st = NULL;
	uint8_t junk[4096];
	struct tmp t;

	(void)state;
	tmp_make(&t);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(kdc_test_write_file(t.path, junk, sizeof(junk)), 0);
	assert_int_equal(kdc_store_open(t.path, 1, &st),
	    KDC_ERR_STORE_CORRUPT);
	assert_null(st);
	assert_int_equal(kdc_test_write_file(t.path, "hello\n", 6), 0);
	assert_int_equal(kdc_store_open(t.path, 0, &st),
	    KDC_ERR_STORE_CORRUPT);
	assert_null(st);
	tmp_done(&t);
}

/* A 0-byte iotkdc.db (truncated, or made by someone else's touch) is not a
 * store to start afresh in: refused without create, and left as it was;
 * with create (what init does with the file it just made) it is filled. */
static void
test_empty_file(void **state)
{
	struct kdc_store *st = NULL;
	struct tmp t;
	struct stat sb;
	char p[600];

	(void)state;
	tmp_make(&t);
	assert_int_equal(kdc_test_write_file(t.path, "", 0), 0);
	assert_int_equal(kdc_store_open(t.path, 0, &st),
	    KDC_ERR_STORE_CORRUPT);
	assert_null(st);
	assert_int_equal(stat(t.path, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	snprintf(p, sizeof(p), "%s-wal", t.path);
	assert_int_not_equal(stat(p, &sb), 0);
	snprintf(p, sizeof(p), "%s-shm", t.path);
	assert_int_not_equal(stat(p, &sb), 0);
	snprintf(p, sizeof(p), "%s-journal", t.path);
	assert_int_not_equal(stat(p, &sb), 0);

	assert_int_equal(kdc_store_open(t.path, 1, &st), KDC_OK);
	assert_int_equal(kdc_store_schema_version(st), 12);
	kdc_store_close(st);
	tmp_done(&t);
}

/* Every connection commits durably: synchronous = FULL (2), which is
 * per connection, not kept in the file. */
static void
test_synchronous_full(void **state)
{
	struct kdc_store *a = NULL, *b = NULL;
	sqlite3_stmt *s = NULL;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	assert_int_equal(kdc_store_open(t.path, 1, &a), KDC_OK);
	assert_int_equal(kdc_store_open(t.path, 0, &b), KDC_OK);
	for (int i = 0; i < 2; i++) {
		sqlite3 *db = kdc_sqlite_handle(i == 0 ? a : b);

		assert_non_null(db);
		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA synchronous",
		    -1, &s, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(s, 0), 2);
		sqlite3_finalize(s);
		s = NULL;
	}
	kdc_store_close(b);
	kdc_store_close(a);
	tmp_done(&t);
}

static int
sync_mode(struct kdc_store *st)
{
	sqlite3_stmt *s = NULL;
	int v;

	assert_int_equal(sqlite3_prepare_v2(kdc_sqlite_handle(st),
	    "PRAGMA synchronous", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

/*
 * Deferred syncs (serve's CoAP thread): NORMAL while deferred, FULL again
 * after; commits go through and read back; kdc_store_sync() is refused
 * inside a transaction and syncs (or waits, not forced) outside one.
 * That the engine syncs before its requests leave is test_durable's.
 */
static void
test_defer_sync(void **state)
{
	struct kdc_store *st = NULL;
	char *v = NULL;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	assert_int_equal(kdc_store_open(t.path, 1, &st), KDC_OK);
	assert_int_equal(kdc_store_sync(st, true), KDC_OK);	/* nothing */
	assert_int_equal(kdc_store_defer_sync(st, true), KDC_OK);
	assert_int_equal(sync_mode(st), 1);
	assert_int_equal(kdc_store_begin(st), KDC_OK);
	assert_int_equal(kdc_store_meta_set(st, "k", "1"), KDC_OK);
	assert_int_equal(kdc_store_sync(st, true), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_store_defer_sync(st, false),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_store_commit(st), KDC_OK);
	assert_int_equal(kdc_store_sync(st, false), KDC_OK);	/* waits */
	assert_int_equal(kdc_store_sync(st, true), KDC_OK);
	assert_int_equal(kdc_store_begin(st), KDC_OK);
	assert_int_equal(kdc_store_meta_set(st, "k", "2"), KDC_OK);
	assert_int_equal(kdc_store_commit(st), KDC_OK);
	/* off: what is waiting is synced first, then FULL again */
	assert_int_equal(kdc_store_defer_sync(st, false), KDC_OK);
	assert_int_equal(sync_mode(st), 2);
	assert_int_equal(kdc_store_meta_get(st, "k", &v), KDC_OK);
	assert_string_equal(v, "2");
	kdc_free(v);
	assert_int_equal(kdc_store_sync(NULL, true), KDC_ERR_INVALID_ARG);
	kdc_store_close(st);
	tmp_done(&t);
}

/* kdc_store_check(): clean, then a page in the middle overwritten. */
static void
test_check_damage(void **state)
{
	struct kdc_store *st = NULL;
	uint8_t junk[1024];
	char name[64], why[256], buf[64];
	long pages;
	struct tmp t;
	FILE *f;

	(void)state;
	tmp_make(&t);
	assert_int_equal(kdc_store_open(t.path, 1, &st), KDC_OK);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "urn:dev:check:%d", i);
		add_device(st, name);
	}
	assert_int_equal(kdc_store_check(st, why, sizeof(why)), KDC_OK);
	assert_string_equal(why, "");
	assert_int_equal(kdc_store_check(st, NULL, 0), KDC_OK);
	kdc_store_close(st);	/* the last close checkpoints the WAL */
	st = NULL;

	raw_query(t.path, "PRAGMA page_count", buf, sizeof(buf));
	pages = atol(buf);
	assert_true(pages > 20);
	/* a leaf page of the devices table (not the schema's: the file
	 * must still open), numbered from 1; pages below count from 0 */
	raw_query(t.path, "SELECT max(pageno) FROM dbstat WHERE name = "
	    "'devices' AND pagetype = 'leaf'", buf, sizeof(buf));
	pages = 2 * (atol(buf) - 1);
	assert_true(pages > 2);
	memset(junk, 0xff, sizeof(junk));
	assert_non_null(f = fopen(t.path, "r+b"));
	assert_int_equal(fseek(f, (pages / 2) * 1024L, SEEK_SET), 0);
	assert_int_equal(fwrite(junk, 1, sizeof(junk), f), sizeof(junk));
	assert_int_equal(fclose(f), 0);

	assert_int_equal(kdc_store_open(t.path, 0, &st), KDC_OK);
	assert_int_equal(kdc_store_check(st, why, sizeof(why)),
	    KDC_ERR_STORE_CORRUPT);
	snprintf(buf, sizeof(buf), "Page %ld", pages / 2 + 1);
	assert_non_null(strstr(why, buf));
	assert_null(strchr(why, '\n'));	/* one log line */
	assert_int_equal(kdc_store_check(st, NULL, 0), KDC_ERR_STORE_CORRUPT);
	kdc_store_close(st);
	assert_int_equal(kdc_store_check(NULL, why, sizeof(why)),
	    KDC_ERR_INVALID_ARG);
	tmp_done(&t);
}

/*
 * Migration 7 on a file of schema 6 (made here by hand: devices with a
 * foreign key into a profiles table): devices are rebuilt without it and
 * profiles dropped, with foreign keys off for the step, so nothing
 * cascades: the device, its credential and its registration are all
 * there after, and the keys hold again (a delete cascades).
 */
static void
test_migrate_profiles_gone(void **state)
{
	struct kdc_store *st = NULL;
	struct kdc_device *d = NULL;
	struct kdc_cred c;
	struct kdc_cred_filter f = { 0, -1, -1, 0 };
	struct tmp t;
	char buf[64];
	int64_t dev, cid;

	(void)state;
	tmp_make(&t);
	assert_int_equal(kdc_store_open(t.path, 1, &st), KDC_OK);
	dev = add_device(st, "urn:dev:old");
	c = mk_cred(dev, KDC_KIND_MANUFACTURER, KDC_TYPE_RPK, KDC_CRED_ISSUED,
	    "");
	cid = add_cred(st, &c);
	kdc_store_close(st);
	st = NULL;
	raw_exec(t.path, "PRAGMA foreign_keys = OFF; BEGIN;"
	    "DROP TABLE tdd_events; DROP TABLE tdd_readers; DROP TABLE tdd_things;"
	    "DROP TABLE principal_groups; DROP TABLE users;"
	    "DROP TABLE ocf_devices; DROP INDEX cred_ocf_audience;"
	    "DROP TABLE ace_tokens; DROP TABLE ace_grants; DROP TABLE ace_rs;"
	    "CREATE TABLE profiles(name TEXT PRIMARY KEY NOT NULL,"
	    "  cred_type TEXT NOT NULL, audience TEXT NOT NULL DEFAULT '',"
	    "  lifetime INTEGER NOT NULL DEFAULT 0,"
	    "  est INTEGER NOT NULL DEFAULT 0);"
	    "INSERT INTO profiles(name, cred_type) VALUES('default', 'psk');"
	    "CREATE TABLE d6(id INTEGER PRIMARY KEY,"
	    "  dev_id TEXT NOT NULL UNIQUE,"
	    "  profile TEXT REFERENCES profiles(name) ON UPDATE CASCADE,"
	    "  status TEXT NOT NULL DEFAULT 'active'"
	    "    CHECK (status IN ('active','revoked')),"
	    "  created INTEGER NOT NULL, revoked_at INTEGER NOT NULL DEFAULT 0);"
	    "INSERT INTO d6 SELECT id, dev_id, profile, status, created,"
	    "  revoked_at FROM devices;"
	    "DROP TABLE devices; ALTER TABLE d6 RENAME TO devices;"
	    "CREATE INDEX devices_profile ON devices(profile);"
	    "DROP INDEX cred_ended;"
	    "PRAGMA user_version = 6; COMMIT;");
	raw_query(t.path, "SELECT count(*) FROM credentials", buf, sizeof(buf));
	assert_string_equal(buf, "1");

	assert_int_equal(kdc_store_open(t.path, 0, &st), KDC_OK);
	assert_int_equal(kdc_store_schema_version(st), 12);
	assert_int_equal(kdc_store_device_get(st, "urn:dev:old", &d), KDC_OK);
	assert_int_equal(d->id, dev);
	assert_string_equal(d->profile, "default");
	kdc_device_free(d);
	f.device = dev;
	assert_int_equal(count_creds(st, &f), 1);
	{
		struct kdc_cred *g = NULL;

		assert_int_equal(kdc_store_cred_get(st, cid, &g), KDC_OK);
		assert_int_equal(g->device, dev);
		kdc_cred_free(g);
	}
	kdc_store_close(st);
	st = NULL;
	raw_query(t.path, "SELECT count(*) FROM sqlite_master WHERE name ="
	    " 'profiles' OR sql LIKE '%REFERENCES profiles%'", buf, sizeof(buf));
	assert_string_equal(buf, "0");
	raw_query(t.path, "PRAGMA foreign_key_check", buf, sizeof(buf));
	assert_string_equal(buf, "");
	/* the credentials' key into devices holds: a delete cascades */
	assert_int_equal(kdc_store_open(t.path, 0, &st), KDC_OK);
	assert_int_equal(kdc_store_device_delete(st, dev), KDC_OK);
	assert_int_equal(count_creds(st, &f), 0);
	kdc_store_close(st);
	tmp_done(&t);
}

static void
test_version_too_new(void **state)
{
	struct kdc_store *st = NULL;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	assert_int_equal(kdc_store_open(t.path, 1, &st), KDC_OK);
	kdc_store_close(st);
	st = NULL;
	raw_exec(t.path, "PRAGMA user_version = 999");
	assert_int_equal(kdc_store_open(t.path, 0, &st),
	    KDC_ERR_STORE_VERSION);
	assert_null(st);
	tmp_done(&t);
}

static void
test_open_args(void **state)
{
	struct kdc_store *st = (struct kdc_store *)&st;

	(void)state;
	assert_int_equal(kdc_store_open(NULL, 1, &st), KDC_ERR_INVALID_ARG);
	assert_null(st);
	assert_int_equal(kdc_store_open(":memory:", 1, NULL),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_store_open("postgres://x/y", 1, &st),
	    KDC_ERR_UNSUPPORTED);
	assert_int_equal(kdc_store_open("/nonexistent-dir/x/iotkdc.db", 1,
	    &st), KDC_ERR_IO);
	kdc_store_close(NULL);
	assert_int_equal(kdc_store_ping(NULL), KDC_ERR_INVALID_ARG);
}

/* ---- uniqueness rules -------------------------------------------------- */

static void
test_unique_live_cred(void **state)
{
	struct kdc_store *st = std_store();
	struct kdc_cred a, b, c;
	int64_t dev, dev2;

	(void)state;
	dev = add_device(st, "urn:dev:1");
	dev2 = add_device(st, "urn:dev:2");
	a = mk_cred(dev, KDC_KIND_OPERATIONAL, KDC_TYPE_RPK, KDC_CRED_ISSUED,
	    "lwm2m");
	add_cred(st, &a);
	/* a second issued one for the same device and audience */
	b = mk_cred(dev, KDC_KIND_OPERATIONAL, KDC_TYPE_X509, KDC_CRED_ISSUED,
	    "lwm2m");
	assert_int_equal(kdc_store_cred_add(st, &b), KDC_ERR_LIVE_CRED);
	assert_int_equal(b.id, 0);
	/* one pending next to the issued one is the renewal case: fine */
	b.status = KDC_CRED_PENDING;
	add_cred(st, &b);
	/* but not two pending */
	c = mk_cred(dev, KDC_KIND_OPERATIONAL, KDC_TYPE_RPK, KDC_CRED_PENDING,
	    "lwm2m");
	assert_int_equal(kdc_store_cred_add(st, &c), KDC_ERR_LIVE_CRED);
	/* other audience, other device, non-operational kinds: fine */
	c = mk_cred(dev, KDC_KIND_OPERATIONAL, KDC_TYPE_RPK, KDC_CRED_ISSUED,
	    "mqtt");
	add_cred(st, &c);
	c = mk_cred(dev2, KDC_KIND_OPERATIONAL, KDC_TYPE_RPK, KDC_CRED_ISSUED,
	    "lwm2m");
	add_cred(st, &c);
	c = mk_cred(dev, KDC_KIND_OWNER, KDC_TYPE_RPK, KDC_CRED_ISSUED,
	    "lwm2m");
	add_cred(st, &c);
	c = mk_cred(dev, KDC_KIND_OWNER, KDC_TYPE_RPK, KDC_CRED_ISSUED,
	    "lwm2m");
	add_cred(st, &c);
	/* dead ones do not count */
	c = mk_cred(dev, KDC_KIND_OPERATIONAL, KDC_TYPE_RPK, KDC_CRED_REVOKED,
	    "lwm2m");
	add_cred(st, &c);
	/* promoting the pending one while the old is issued: LIVE_CRED;
	 * supersede first, then promote */
	assert_int_equal(kdc_store_cred_set_status(st, b.id, KDC_CRED_ISSUED),
	    KDC_ERR_LIVE_CRED);
	assert_int_equal(kdc_store_cred_set_status(st, a.id,
	    KDC_CRED_SUPERSEDED), KDC_OK);
	assert_int_equal(kdc_store_cred_set_status(st, b.id, KDC_CRED_ISSUED),
	    KDC_OK);
	/* reviving a revoked one next to a live one */
	assert_int_equal(kdc_store_cred_set_status(st, c.id, KDC_CRED_ISSUED),
	    KDC_ERR_LIVE_CRED);
	kdc_store_close(st);
}

/* The one live credential per device, audience and status, by index. */
static void
test_cred_get_live(void **state)
{
	struct kdc_store *st = std_store();
	struct kdc_cred a, b, c, *got = NULL;
	int64_t dev, dev2;

	(void)state;
	dev = add_device(st, "urn:dev:1");
	dev2 = add_device(st, "urn:dev:2");
	assert_int_equal(kdc_store_cred_get_live(st, dev, "lwm2m",
	    KDC_CRED_ISSUED, &got), KDC_ERR_NOT_FOUND);
	assert_null(got);
	/* history: superseded and revoked rows, an owner row, another
	 * audience and another device; none of them is the answer */
	for (int i = 0; i < 5; i++) {
		c = mk_cred(dev, KDC_KIND_OPERATIONAL, KDC_TYPE_PSK,
		    i % 2 ? KDC_CRED_SUPERSEDED : KDC_CRED_REVOKED, "lwm2m");
		add_cred(st, &c);
	}
	c = mk_cred(dev, KDC_KIND_OWNER, KDC_TYPE_RPK, KDC_CRED_ISSUED, "lwm2m");
	add_cred(st, &c);
	c = mk_cred(dev, KDC_KIND_OPERATIONAL, KDC_TYPE_RPK, KDC_CRED_ISSUED,
	    "mqtt");
	add_cred(st, &c);
	c = mk_cred(dev2, KDC_KIND_OPERATIONAL, KDC_TYPE_RPK, KDC_CRED_ISSUED,
	    "lwm2m");
	add_cred(st, &c);
	assert_int_equal(kdc_store_cred_get_live(st, dev, "lwm2m",
	    KDC_CRED_ISSUED, &got), KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_store_cred_get_live(st, dev, "lwm2m",
	    KDC_CRED_PENDING, &got), KDC_ERR_NOT_FOUND);

	a = mk_cred(dev, KDC_KIND_OPERATIONAL, KDC_TYPE_RPK, KDC_CRED_ISSUED,
	    "lwm2m");
	add_cred(st, &a);
	b = mk_cred(dev, KDC_KIND_OPERATIONAL, KDC_TYPE_X509, KDC_CRED_PENDING,
	    "lwm2m");
	b.on_use = true;
	add_cred(st, &b);
	assert_int_equal(kdc_store_cred_get_live(st, dev, "lwm2m",
	    KDC_CRED_ISSUED, &got), KDC_OK);
	assert_int_equal(got->id, a.id);
	assert_int_equal(got->type, KDC_TYPE_RPK);
	assert_false(got->on_use);
	kdc_cred_free(got);
	got = NULL;
	assert_int_equal(kdc_store_cred_get_live(st, dev, "lwm2m",
	    KDC_CRED_PENDING, &got), KDC_OK);
	assert_int_equal(got->id, b.id);
	assert_true(got->on_use);		/* the flag round-trips */
	kdc_cred_free(got);
	got = NULL;
	assert_int_equal(kdc_store_cred_get_live(st, dev, "mqtt",
	    KDC_CRED_PENDING, &got), KDC_ERR_NOT_FOUND);

	/* only issued and pending are live states */
	assert_int_equal(kdc_store_cred_get_live(st, dev, "lwm2m",
	    KDC_CRED_REVOKED, &got), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_store_cred_get_live(st, 0, "lwm2m",
	    KDC_CRED_ISSUED, &got), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_store_cred_get_live(st, dev, NULL,
	    KDC_CRED_ISSUED, &got), KDC_ERR_INVALID_ARG);
	assert_null(got);
	kdc_store_close(st);
}

static void
test_unique_psk(void **state)
{
	struct kdc_store *st = std_store();
	struct kdc_cred a, b;
	struct kdc_cred *g = NULL;
	uint8_t fp1[32], fp2[32];
	int64_t d1, d2;

	(void)state;
	memset(fp1, 1, sizeof(fp1));
	memset(fp2, 2, sizeof(fp2));
	d1 = add_device(st, "urn:dev:1");
	d2 = add_device(st, "urn:dev:2");
	a = mk_cred(d1, KDC_KIND_MANUFACTURER, KDC_TYPE_PSK, KDC_CRED_ISSUED,
	    "");
	snprintf(a.identity, sizeof(a.identity), "shared-id");
	a.secret_fp = fp1;
	a.secret_fp_len = sizeof(fp1);
	add_cred(st, &a);

	/* (2) the same identity live on another device */
	b = mk_cred(d2, KDC_KIND_MANUFACTURER, KDC_TYPE_PSK, KDC_CRED_PENDING,
	    "");
	snprintf(b.identity, sizeof(b.identity), "shared-id");
	b.secret_fp = fp2;
	b.secret_fp_len = sizeof(fp2);
	assert_int_equal(kdc_store_cred_add(st, &b), KDC_ERR_DUPLICATE_PSK);
	/* (3) the same PSK (fingerprint) under another identity */
	snprintf(b.identity, sizeof(b.identity), "other-id");
	b.secret_fp = fp1;
	assert_int_equal(kdc_store_cred_add(st, &b), KDC_ERR_DUPLICATE_PSK);
	/* distinct: fine */
	b.secret_fp = fp2;
	add_cred(st, &b);
	assert_int_equal(kdc_store_cred_find_secret_fp(st, fp1, sizeof(fp1),
	    d2), KDC_OK);
	assert_int_equal(kdc_store_cred_find_secret_fp(st, fp2, sizeof(fp2),
	    d2), KDC_ERR_NOT_FOUND);

	/* once a is revoked, its identity and PSK may be used again ... */
	assert_int_equal(kdc_store_cred_set_status(st, a.id, KDC_CRED_REVOKED),
	    KDC_OK);
	assert_int_equal(kdc_store_cred_find_secret_fp(st, fp1, sizeof(fp1),
	    0), KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_store_cred_get_by_identity(st, "shared-id", &g),
	    KDC_OK);
	assert_int_equal(g->id, a.id);		/* revoked is still found */
	assert_int_equal(g->status, KDC_CRED_REVOKED);
	kdc_cred_free(g);
	g = NULL;
	b = mk_cred(d2, KDC_KIND_OPERATIONAL, KDC_TYPE_PSK, KDC_CRED_ISSUED,
	    "lwm2m");
	snprintf(b.identity, sizeof(b.identity), "shared-id");
	b.secret_fp = fp1;
	b.secret_fp_len = sizeof(fp1);
	add_cred(st, &b);
	/* ... and the live one wins the lookup */
	assert_int_equal(kdc_store_cred_get_by_identity(st, "shared-id", &g),
	    KDC_OK);
	assert_int_equal(g->id, b.id);
	kdc_cred_free(g);
	g = NULL;
	/* a revoked newer one does not shadow the live one */
	a = mk_cred(d1, KDC_KIND_OWNER, KDC_TYPE_PSK, KDC_CRED_REVOKED, "");
	snprintf(a.identity, sizeof(a.identity), "shared-id");
	add_cred(st, &a);
	assert_int_equal(kdc_store_cred_get_by_identity(st, "shared-id", &g),
	    KDC_OK);
	assert_int_equal(g->id, b.id);
	kdc_cred_free(g);
	/* reviving the old one now clashes */
	assert_int_equal(kdc_store_cred_set_status(st, a.id, KDC_CRED_ISSUED),
	    KDC_ERR_DUPLICATE_PSK);
	kdc_store_close(st);
}

static void
test_unique_spki(void **state)
{
	struct kdc_store *st = std_store();
	struct kdc_cred a, b;
	struct kdc_cred *g = NULL;
	uint8_t fp[32], spki[44];
	int64_t d1, d2;

	(void)state;
	memset(fp, 9, sizeof(fp));
	memset(spki, 8, sizeof(spki));
	d1 = add_device(st, "urn:dev:1");
	d2 = add_device(st, "urn:dev:2");
	a = mk_cred(d1, KDC_KIND_MANUFACTURER, KDC_TYPE_RPK, KDC_CRED_ISSUED,
	    "");
	a.spki = spki;
	a.spki_len = sizeof(spki);
	a.spki_fp = fp;
	a.spki_fp_len = sizeof(fp);
	add_cred(st, &a);
	/* (4) the same public key live again */
	b = a;
	b.id = 0;
	b.device = d2;
	assert_int_equal(kdc_store_cred_add(st, &b), KDC_ERR_EXISTS);
	b.status = KDC_CRED_PENDING;
	assert_int_equal(kdc_store_cred_add(st, &b), KDC_ERR_EXISTS);
	b.status = KDC_CRED_REVOKED;
	add_cred(st, &b);
	assert_int_equal(kdc_store_cred_get_by_spki_fp(st, fp, &g), KDC_OK);
	assert_int_equal(g->id, a.id);		/* live first */
	kdc_cred_free(g);
	assert_int_equal(kdc_store_cred_set_status(st, b.id, KDC_CRED_ISSUED),
	    KDC_ERR_EXISTS);
	kdc_store_close(st);
}

/* ---- transactions ------------------------------------------------------ */

static void
test_transactions(void **state)
{
	struct kdc_store *st = std_store();
	struct kdc_device *d = NULL;

	(void)state;
	/* nested commit: kept */
	assert_int_equal(kdc_store_begin(st), KDC_OK);
	assert_int_equal(kdc_store_begin(st), KDC_OK);
	add_device(st, "urn:dev:kept");
	assert_int_equal(kdc_store_commit(st), KDC_OK);
	add_device(st, "urn:dev:kept2");
	assert_int_equal(kdc_store_commit(st), KDC_OK);
	assert_int_equal(count_devices(st), 2);

	/* outer rollback: nothing */
	assert_int_equal(kdc_store_begin(st), KDC_OK);
	add_device(st, "urn:dev:gone");
	kdc_store_rollback(st);
	assert_int_equal(kdc_store_device_get(st, "urn:dev:gone", &d),
	    KDC_ERR_NOT_FOUND);

	/* inner rollback dooms the outer transaction */
	assert_int_equal(kdc_store_begin(st), KDC_OK);
	add_device(st, "urn:dev:outer");
	assert_int_equal(kdc_store_begin(st), KDC_OK);
	add_device(st, "urn:dev:inner");
	kdc_store_rollback(st);
	/* no silent autocommit while doomed */
	assert_int_equal(try_add_device(st, "urn:dev:after", "default", NULL),
	    KDC_ERR_STORE);
	assert_int_equal(kdc_store_begin(st), KDC_ERR_STORE);
	assert_int_equal(kdc_store_commit(st), KDC_ERR_STORE);
	assert_int_equal(count_devices(st), 2);

	/* doomed, three deep */
	assert_int_equal(kdc_store_begin(st), KDC_OK);
	assert_int_equal(kdc_store_begin(st), KDC_OK);
	assert_int_equal(kdc_store_begin(st), KDC_OK);
	add_device(st, "urn:dev:deep");
	kdc_store_rollback(st);
	assert_int_equal(kdc_store_commit(st), KDC_ERR_STORE);
	kdc_store_rollback(st);
	assert_int_equal(count_devices(st), 2);

	/* commit without begin; rollback without begin is a no-op */
	assert_int_equal(kdc_store_commit(st), KDC_ERR_STORE);
	kdc_store_rollback(st);

	/* a failed statement inside a transaction leaves it usable */
	assert_int_equal(kdc_store_begin(st), KDC_OK);
	assert_int_equal(try_add_device(st, "urn:dev:kept", "default", NULL),
	    KDC_ERR_EXISTS);
	add_device(st, "urn:dev:third");
	assert_int_equal(kdc_store_commit(st), KDC_OK);
	assert_int_equal(count_devices(st), 3);
	kdc_store_close(st);
}

static void
test_busy(void **state)
{
	struct kdc_store *a = NULL, *b = NULL;
	struct kdc_device *d = NULL;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	assert_int_equal(kdc_store_open(t.path, 1, &a), KDC_OK);
	assert_int_equal(kdc_store_open(t.path, 0, &b), KDC_OK);
	assert_non_null(kdc_sqlite_handle(b));
	sqlite3_busy_timeout(kdc_sqlite_handle(b), 50);

	assert_int_equal(kdc_store_begin(a), KDC_OK);
	add_device(a, "urn:dev:a");
	assert_int_equal(kdc_store_begin(b), KDC_ERR_STORE_BUSY);
	assert_int_equal(try_add_device(b, "urn:dev:b", "default", NULL),
	    KDC_ERR_STORE_BUSY);
	/* WAL: readers are not blocked, and see the last commit */
	assert_int_equal(kdc_store_device_get(b, "urn:dev:a", &d),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(kdc_store_commit(a), KDC_OK);
	assert_int_equal(kdc_store_device_get(b, "urn:dev:a", &d), KDC_OK);
	kdc_device_free(d);
	assert_int_equal(try_add_device(b, "urn:dev:b", "default", NULL),
	    KDC_OK);
	kdc_store_close(b);
	kdc_store_close(a);
	tmp_done(&t);
}

/* ---- group commit (kdc_store_batch_*) ---------------------------------- */

static bool
seen(struct kdc_store *st, const char *dev_id)
{
	struct kdc_device *d = NULL;
	kdc_err r = kdc_store_device_get(st, dev_id, &d);

	assert_true(r == KDC_OK || r == KDC_ERR_NOT_FOUND);
	kdc_device_free(d);
	return r == KDC_OK;
}

/* one operation as core makes it: its own begin .. commit */
static kdc_err
op_add(struct kdc_store *st, const char *dev_id)
{
	kdc_err r;

	if ((r = kdc_store_begin(st)) != KDC_OK)
		return r;
	if ((r = try_add_device(st, dev_id, "default", NULL)) != KDC_OK) {
		kdc_store_rollback(st);
		return r;
	}
	return kdc_store_commit(st);
}

static void
test_batch(void **state)
{
	struct kdc_store *a = NULL, *b = NULL;
	struct tmp t;

	(void)state;
	tmp_make(&t);
	assert_int_equal(kdc_store_open(t.path, 1, &a), KDC_OK);
	assert_int_equal(kdc_store_open(t.path, 0, &b), KDC_OK);

	assert_int_equal(kdc_store_batch_begin(a), KDC_OK);
	assert_int_equal(kdc_store_batch_begin(a), KDC_ERR_INVALID_ARG);
	assert_int_equal(op_add(a, "urn:dev:1"), KDC_OK);
	/* an operation that fails is undone alone */
	assert_int_equal(kdc_store_begin(a), KDC_OK);
	add_device(a, "urn:dev:undone");
	kdc_store_rollback(a);
	assert_false(seen(a, "urn:dev:undone"));
	/* a failed statement: its operation refused, the batch goes on */
	assert_int_equal(op_add(a, "urn:dev:1"), KDC_ERR_EXISTS);
	/* an inner rollback dooms its operation, not the batch */
	assert_int_equal(kdc_store_begin(a), KDC_OK);
	add_device(a, "urn:dev:outer");
	assert_int_equal(kdc_store_begin(a), KDC_OK);
	add_device(a, "urn:dev:inner");
	kdc_store_rollback(a);
	assert_int_equal(try_add_device(a, "urn:dev:x", "default", NULL),
	    KDC_ERR_STORE);		/* no autocommit while doomed */
	assert_int_equal(kdc_store_commit(a), KDC_ERR_STORE);
	assert_false(seen(a, "urn:dev:outer"));
	assert_int_equal(op_add(a, "urn:dev:2"), KDC_OK);
	/* between operations: inside the batch, its writes seen */
	assert_true(seen(a, "urn:dev:1"));
	assert_true(seen(a, "urn:dev:2"));
	/* nothing visible to others before the batch ends */
	assert_false(seen(b, "urn:dev:1"));
	assert_int_equal(kdc_store_defer_sync(a, true), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_store_batch_end(a), KDC_OK);
	assert_true(seen(b, "urn:dev:1"));
	assert_true(seen(b, "urn:dev:2"));
	assert_false(seen(b, "urn:dev:undone"));
	assert_false(seen(b, "urn:dev:outer"));
	assert_false(seen(b, "urn:dev:inner"));
	assert_int_equal(kdc_store_batch_end(a), KDC_OK);	/* none: ok */

	/* a batch commits by itself after KDC_STORE_BATCH_OPS operations */
	assert_int_equal(kdc_store_batch_begin(a), KDC_OK);
	for (int i = 0; i < KDC_STORE_BATCH_OPS; i++) {
		char id[32];

		snprintf(id, sizeof(id), "urn:dev:n%d", i);
		assert_int_equal(op_add(a, id), KDC_OK);
	}
	assert_true(seen(b, "urn:dev:n0"));
	assert_int_equal(op_add(a, "urn:dev:next"), KDC_OK);
	/* a sync covers the batch so far: it commits first */
	assert_int_equal(kdc_store_sync(a, true), KDC_OK);
	assert_true(seen(b, "urn:dev:next"));
	assert_int_equal(kdc_store_batch_end(a), KDC_OK);

	/* a batch's transaction the engine ended by itself: batch_end says
	 * what it held is lost; the operations after it stand */
	assert_int_equal(kdc_store_batch_begin(a), KDC_OK);
	assert_int_equal(op_add(a, "urn:dev:lost"), KDC_OK);
	assert_int_equal(sqlite3_exec(kdc_sqlite_handle(a), "ROLLBACK", NULL,
	    NULL, NULL), SQLITE_OK);
	assert_int_equal(op_add(a, "urn:dev:after"), KDC_OK);
	assert_false(seen(b, "urn:dev:after"));	/* in a batch again */
	assert_int_equal(kdc_store_batch_end(a), KDC_ERR_STORE);
	/* ended by the engine after the last operation: the same */
	assert_int_equal(kdc_store_batch_begin(a), KDC_OK);
	assert_int_equal(op_add(a, "urn:dev:lost2"), KDC_OK);
	assert_int_equal(sqlite3_exec(kdc_sqlite_handle(a), "ROLLBACK", NULL,
	    NULL, NULL), SQLITE_OK);
	assert_int_not_equal(kdc_store_batch_end(a), KDC_OK);
	assert_false(seen(b, "urn:dev:lost2"));
	assert_false(seen(b, "urn:dev:lost"));
	assert_true(seen(b, "urn:dev:after"));

	/* a commit that fails (a deferred foreign key): batch_end says so,
	 * and nothing of the transaction stands */
	assert_int_equal(kdc_store_batch_begin(a), KDC_OK);
	assert_int_equal(op_add(a, "urn:dev:doomed"), KDC_OK);
	assert_int_equal(sqlite3_exec(kdc_sqlite_handle(a),
	    "PRAGMA defer_foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
	{
		struct kdc_cred c = mk_cred(999999, KDC_KIND_OWNER,
		    KDC_TYPE_RPK, KDC_CRED_ISSUED, "");

		assert_int_equal(kdc_store_begin(a), KDC_OK);
		assert_int_equal(kdc_store_cred_add(a, &c), KDC_OK);
		assert_int_equal(kdc_store_commit(a), KDC_OK);
	}
	assert_int_not_equal(kdc_store_batch_end(a), KDC_OK);
	assert_false(seen(b, "urn:dev:doomed"));
	assert_false(seen(a, "urn:dev:doomed"));
	/* and the connection works on */
	assert_int_equal(op_add(a, "urn:dev:fine"), KDC_OK);
	assert_true(seen(b, "urn:dev:fine"));

	/* not inside a transaction */
	assert_int_equal(kdc_store_begin(a), KDC_OK);
	assert_int_equal(kdc_store_batch_begin(a), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_store_commit(a), KDC_OK);
	kdc_store_close(b);
	kdc_store_close(a);
	tmp_done(&t);
}

/* Another connection of the process waiting for the write lock: the
 * batch commits at the end of its next operation, not at its end. */
struct batch_waiter {
	const char	*path;
	atomic_int	 state;		/* 1 waiting to begin, 2 in */
};

static void *
batch_waiter_run(void *arg)
{
	struct batch_waiter *w = arg;
	struct kdc_store *b = NULL;

	assert_int_equal(kdc_store_open(w->path, 0, &b), KDC_OK);
	atomic_store(&w->state, 1);
	assert_int_equal(op_add(b, "urn:dev:waiter"), KDC_OK);
	atomic_store(&w->state, 2);
	kdc_store_close(b);
	return NULL;
}

static void
test_batch_contended(void **state)
{
	struct kdc_store *a = NULL;
	struct batch_waiter w;
	pthread_t th;
	struct tmp t;
	int ops = 0;

	(void)state;
	tmp_make(&t);
	assert_int_equal(kdc_store_open(t.path, 1, &a), KDC_OK);
	/* only the waiter may end the batch's transaction early */
	a->batch_max_ops = UINT32_MAX;
	a->batch_max_ms = INT64_MAX / 2;
	w.path = t.path;
	atomic_store(&w.state, 0);
	assert_int_equal(kdc_store_batch_begin(a), KDC_OK);
	assert_int_equal(op_add(a, "urn:dev:first"), KDC_OK);	/* holds it */
	assert_int_equal(pthread_create(&th, NULL, batch_waiter_run, &w), 0);
	while (atomic_load(&w.state) == 0)
		sched_yield();
	/* one operation at a time until the waiter got in: it must not
	 * wait for the batch's end */
	while (atomic_load(&w.state) != 2) {
		char id[32];

		assert_true(ops < 100000);
		snprintf(id, sizeof(id), "urn:dev:c%d", ops++);
		assert_int_equal(op_add(a, id), KDC_OK);
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(kdc_store_batch_end(a), KDC_OK);
	assert_true(seen(a, "urn:dev:waiter"));
	assert_true(seen(a, "urn:dev:first"));
	kdc_store_close(a);
	tmp_done(&t);
}

/* ---- cascade, expiry --------------------------------------------------- */

static void
test_cascade_delete(void **state)
{
	struct kdc_store *st = std_store();
	struct kdc_cred_filter f = { 0, -1, -1, 0 };
	struct kdc_cred c;
	int64_t d1, d2;

	(void)state;
	d1 = add_device(st, "urn:dev:1");
	d2 = add_device(st, "urn:dev:2");
	for (int i = 0; i < 3; i++) {
		c = mk_cred(d1, KDC_KIND_OWNER, KDC_TYPE_RPK, KDC_CRED_ISSUED,
		    "");
		add_cred(st, &c);
	}
	c = mk_cred(d2, KDC_KIND_OWNER, KDC_TYPE_RPK, KDC_CRED_ISSUED, "");
	add_cred(st, &c);
	assert_int_equal(count_creds(st, &f), 4);
	assert_int_equal(kdc_store_device_delete(st, d1), KDC_OK);
	assert_int_equal(count_creds(st, &f), 1);
	f.device = d1;
	assert_int_equal(count_creds(st, &f), 0);
	kdc_store_close(st);
}

/*
 * kdc_store_crl_entries(): operational X.509 rows revoked or superseded
 * whose certificate is still valid at `now`, oldest first, with their
 * status_at; nothing else (issued, expired, another type or kind, no
 * serial, not_after reached). A row revoked later joins the list.
 */
static void
test_crl_entries(void **state)
{
	struct kdc_store *st = std_store();
	struct kdc_crl_entry *v = NULL;
	struct kdc_cred c;
	size_t n = 5;
	int64_t d, later;
	static const struct {
		enum kdc_cred_kind	kind;
		enum kdc_cred_type	type;
		enum kdc_cred_status	status;
		const char		*serial;
		int64_t			not_after;
		int64_t			status_at;
	} rows[] = {
		{ KDC_KIND_OPERATIONAL, KDC_TYPE_X509, KDC_CRED_REVOKED, "0a01",
		    1000, 300 },					/* in */
		{ KDC_KIND_OPERATIONAL, KDC_TYPE_X509, KDC_CRED_SUPERSEDED,
		    "0a02", 2000, 310 },				/* in */
		{ KDC_KIND_OPERATIONAL, KDC_TYPE_X509, KDC_CRED_REVOKED, "0a03",
		    500, 320 },				/* expired at 500 */
		{ KDC_KIND_OPERATIONAL, KDC_TYPE_X509, KDC_CRED_EXPIRED, "0a04",
		    1000, 330 },
		{ KDC_KIND_OPERATIONAL, KDC_TYPE_RPK, KDC_CRED_REVOKED, "",
		    1000, 340 },
		{ KDC_KIND_MANUFACTURER, KDC_TYPE_X509, KDC_CRED_REVOKED, "0a06",
		    1000, 350 },
		{ KDC_KIND_OPERATIONAL, KDC_TYPE_X509, KDC_CRED_REVOKED, "",
		    1000, 360 },
		{ KDC_KIND_OPERATIONAL, KDC_TYPE_X509, KDC_CRED_SUPERSEDED,
		    "0a08", 1500, 370 },				/* in */
	};

	(void)state;
	assert_int_equal(kdc_store_crl_entries(st, 500, NULL, &n),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(n, 0);
	assert_int_equal(kdc_store_crl_entries(st, 500, &v, &n), KDC_OK);
	assert_null(v);
	assert_int_equal(n, 0);
	d = add_device(st, "urn:dev:crl");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		c = mk_cred(d, rows[i].kind, rows[i].type, rows[i].status,
		    "a");
		snprintf(c.serial, sizeof(c.serial), "%s", rows[i].serial);
		c.not_after = rows[i].not_after;
		c.status_at = rows[i].status_at;
		c.created = 1;
		(void)add_cred(st, &c);
	}
	c = mk_cred(d, KDC_KIND_OPERATIONAL, KDC_TYPE_X509, KDC_CRED_ISSUED,
	    "a");
	snprintf(c.serial, sizeof(c.serial), "0a09");
	c.not_after = 3000;
	later = add_cred(st, &c);

	assert_int_equal(kdc_store_crl_entries(st, 500, &v, &n), KDC_OK);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].serial, "0a01");
	assert_int_equal(v[0].revoked_at, 300);
	assert_string_equal(v[1].serial, "0a02");
	assert_int_equal(v[1].revoked_at, 310);
	assert_string_equal(v[2].serial, "0a08");
	assert_int_equal(v[2].revoked_at, 370);
	kdc_free(v);

	/* at 1500 only 0a02 is left; the issued one revoked joins it */
	assert_int_equal(kdc_store_cred_set_status(st, later,
	    KDC_CRED_REVOKED), KDC_OK);
	assert_int_equal(kdc_store_crl_entries(st, 1500, &v, &n), KDC_OK);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].serial, "0a02");
	assert_string_equal(v[1].serial, "0a09");
	assert_true(v[1].revoked_at > 0);
	kdc_free(v);
	kdc_store_close(st);
}

static void
test_expire(void **state)
{
	struct kdc_store *st = std_store();
	struct kdc_cred c, *g = NULL;
	int64_t *ids = NULL, d, live, old_issued, old_pending, revoked, none;
	size_t n = 0;

	(void)state;
	d = add_device(st, "urn:dev:1");
	c = mk_cred(d, KDC_KIND_OPERATIONAL, KDC_TYPE_RPK, KDC_CRED_ISSUED,
	    "a");
	c.not_after = 100;
	old_issued = add_cred(st, &c);
	c = mk_cred(d, KDC_KIND_OPERATIONAL, KDC_TYPE_RPK, KDC_CRED_PENDING,
	    "a");
	c.not_after = 150;
	old_pending = add_cred(st, &c);
	c = mk_cred(d, KDC_KIND_OPERATIONAL, KDC_TYPE_RPK, KDC_CRED_REVOKED,
	    "a");
	c.not_after = 50;
	revoked = add_cred(st, &c);
	c = mk_cred(d, KDC_KIND_OPERATIONAL, KDC_TYPE_RPK, KDC_CRED_ISSUED,
	    "b");
	c.not_after = 1000;
	live = add_cred(st, &c);
	c = mk_cred(d, KDC_KIND_MANUFACTURER, KDC_TYPE_RPK, KDC_CRED_ISSUED,
	    "");
	none = add_cred(st, &c);		/* not_after 0: never */

	assert_int_equal(kdc_store_cred_expire(st, 99, &ids, &n), KDC_OK);
	assert_int_equal(n, 0);
	kdc_free(ids);
	ids = NULL;
	assert_int_equal(kdc_store_cred_expire(st, 150, &ids, &n), KDC_OK);
	assert_int_equal(n, 2);
	assert_true((ids[0] == old_issued && ids[1] == old_pending) ||
	    (ids[1] == old_issued && ids[0] == old_pending));
	kdc_free(ids);
	ids = NULL;
	assert_int_equal(kdc_store_cred_get(st, old_issued, &g), KDC_OK);
	assert_int_equal(g->status, KDC_CRED_EXPIRED);
	assert_int_equal(g->status_at, 150);
	kdc_cred_free(g);
	assert_int_equal(kdc_store_cred_get(st, revoked, &g), KDC_OK);
	assert_int_equal(g->status, KDC_CRED_REVOKED);
	kdc_cred_free(g);
	/* again: nothing more */
	assert_int_equal(kdc_store_cred_expire(st, 150, &ids, &n), KDC_OK);
	assert_int_equal(n, 0);
	kdc_free(ids);
	ids = NULL;
	/* the expired slot frees the audience for a new issued one */
	c = mk_cred(d, KDC_KIND_OPERATIONAL, KDC_TYPE_RPK, KDC_CRED_ISSUED,
	    "a");
	add_cred(st, &c);
	/* in a caller's transaction (savepoint path), then rolled back */
	assert_int_equal(kdc_store_begin(st), KDC_OK);
	assert_int_equal(kdc_store_cred_expire(st, 5000, &ids, &n), KDC_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], live);
	kdc_free(ids);
	ids = NULL;
	kdc_store_rollback(st);
	assert_int_equal(kdc_store_cred_get(st, live, &g), KDC_OK);
	assert_int_equal(g->status, KDC_CRED_ISSUED);
	kdc_cred_free(g);
	assert_int_equal(kdc_store_cred_get(st, none, &g), KDC_OK);
	assert_int_equal(g->status, KDC_CRED_ISSUED);
	kdc_cred_free(g);
	kdc_store_close(st);
}

/* ---- audit ------------------------------------------------------------- */

static void
append_n(struct kdc_store *st, int n)
{
	struct kdc_audit_rec rec, last;

	for (int i = 0; i < n; i++) {
		memset(&rec, 0, sizeof(rec));
		if (kdc_store_audit_last(st, &last) == KDC_OK)
			memcpy(rec.prev_hash, last.hash, 32);
		rec.ts = 1000 + i;
		snprintf(rec.actor, sizeof(rec.actor), "test");
		snprintf(rec.action, sizeof(rec.action), "a%d", i);
		snprintf(rec.outcome, sizeof(rec.outcome), "ok");
		memset(rec.hash, i & 0xff, 32);
		assert_int_equal(kdc_store_audit_append(st, &rec), KDC_OK);
		assert_int_equal(rec.seq, last.seq + 1);
	}
}

static void
test_audit(void **state)
{
	struct kdc_store *st = open_mem();
	struct audit_seen *seen;
	struct kdc_audit_rec last;

	(void)state;
	seen = calloc(1, sizeof(*seen));
	assert_non_null(seen);
	/* empty log */
	assert_int_equal(kdc_store_audit_foreach(st, 1, audit_cb, seen),
	    KDC_OK);
	assert_int_equal(seen->n, 0);

	append_n(st, 150);		/* more than one batch */
	assert_int_equal(kdc_store_audit_last(st, &last), KDC_OK);
	assert_int_equal(last.seq, 150);
	assert_int_equal(last.ts, 1149);
	assert_string_equal(last.action, "a149");

	assert_int_equal(kdc_store_audit_foreach(st, 1, audit_cb, seen),
	    KDC_OK);
	assert_int_equal(seen->n, 150);
	for (size_t i = 0; i < seen->n; i++)
		assert_int_equal(seen->seqs[i], (int64_t)i + 1);

	memset(seen, 0, sizeof(*seen));
	assert_int_equal(kdc_store_audit_foreach(st, 140, audit_cb, seen),
	    KDC_OK);
	assert_int_equal(seen->n, 11);
	assert_int_equal(seen->seqs[0], 140);

	/* fn's error stops the walk and is returned; fn may use the store */
	memset(seen, 0, sizeof(*seen));
	seen->stop_at = 70;
	seen->st = st;
	assert_int_equal(kdc_store_audit_foreach(st, 0, audit_cb, seen),
	    KDC_ERR_DENIED);
	assert_int_equal(seen->n, 70);

	/* from past the end: nothing */
	memset(seen, 0, sizeof(*seen));
	assert_int_equal(kdc_store_audit_foreach(st, 151, audit_cb, seen),
	    KDC_OK);
	assert_int_equal(seen->n, 0);
	free(seen);
	kdc_store_close(st);
}

/* ---- arguments --------------------------------------------------------- */

static void
test_bad_args(void **state)
{
	struct kdc_store *st = std_store();
	struct kdc_device dev, *d = (struct kdc_device *)&st;
	struct kdc_cred c;
	char *val = (char *)&st;
	int64_t dv;

	(void)state;
	assert_int_equal(kdc_store_device_get(st, NULL, &d),
	    KDC_ERR_INVALID_ARG);
	assert_null(d);
	assert_int_equal(kdc_store_meta_get(st, NULL, &val),
	    KDC_ERR_INVALID_ARG);
	assert_null(val);
	/* unterminated fixed-size field */
	memset(&dev, 'x', sizeof(dev));
	dev.status = KDC_DEV_ACTIVE;
	assert_int_equal(kdc_store_device_add(st, &dev), KDC_ERR_INVALID_ARG);
	assert_int_equal(try_add_device(st, "", "default", NULL),
	    KDC_ERR_INVALID_ARG);
	dv = add_device(st, "urn:dev:1");
	c = mk_cred(dv, (enum kdc_cred_kind)5, KDC_TYPE_PSK, KDC_CRED_ISSUED,
	    "");
	assert_int_equal(kdc_store_cred_add(st, &c), KDC_ERR_INVALID_ARG);
	c = mk_cred(dv, KDC_KIND_OWNER, KDC_TYPE_PSK, KDC_CRED_ISSUED, "");
	c.wrapped_len = 5;		/* length without a pointer */
	assert_int_equal(kdc_store_cred_add(st, &c), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_store_cred_set_status(st, 1,
	    (enum kdc_cred_status)17), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_store_device_set_status(st, dv,
	    (enum kdc_dev_status)3), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_store_audit_foreach(st, 0, NULL, NULL),
	    KDC_ERR_INVALID_ARG);
	kdc_store_close(st);
}

static void
test_wipe(void **state)
{
	uint8_t buf[40];

	(void)state;
	memset(buf, 0xee, sizeof(buf));
	kdc_wipe(buf + 4, 32);
	assert_int_equal(buf[3], 0xee);
	for (int i = 4; i < 36; i++)
		assert_int_equal(buf[i], 0);
	assert_int_equal(buf[36], 0xee);
	kdc_cred_free(NULL);
	kdc_device_free(NULL);
	kdc_mfg_ca_free(NULL);
	kdc_cred_list_free(NULL, 0);
	kdc_device_list_free(NULL, 0);
	kdc_mfg_ca_list_free(NULL, 0);
}

/* ---- allocation failures ----------------------------------------------- */

static sqlite3_mem_methods sqlite_mem_default;

static void *
fault_malloc(int n)
{
	if (kdc_alloc_fault())
		return NULL;
	return sqlite_mem_default.xMalloc(n);
}

static void *
fault_realloc(void *p, int n)
{
	if (kdc_alloc_fault())
		return NULL;
	return sqlite_mem_default.xRealloc(p, n);
}

/* Before any other sqlite3 call: route SQLite's allocations through the
 * same fault hook as kdc_malloc(). */
static void
faultsim_install(void)
{
	sqlite3_mem_methods m;

	if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_mem_default) !=
	    SQLITE_OK)
		abort();
	m = sqlite_mem_default;
	m.xMalloc = fault_malloc;
	m.xRealloc = fault_realloc;
	if (sqlite3_config(SQLITE_CONFIG_MALLOC, &m) != SQLITE_OK ||
	    sqlite3_initialize() != SQLITE_OK)
		abort();
}

static kdc_err
oom_sequence(void)
{
	struct kdc_store *st = NULL;
	struct kdc_device d;
	struct kdc_cred c, **cl = NULL;
	struct kdc_audit_rec rec;
	struct kdc_cred_filter f = { 0, -1, -1, 0 };
	uint8_t wrapped[48], fp[32];
	int64_t *ids = NULL;
	size_t ncl = 0, n = 0;
	kdc_err r;

	memset(wrapped, 0x77, sizeof(wrapped));
	memset(fp, 0x66, sizeof(fp));
	memset(&d, 0, sizeof(d));
	snprintf(d.dev_id, sizeof(d.dev_id), "urn:dev:oom");
	snprintf(d.profile, sizeof(d.profile), "default");
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.actor, sizeof(rec.actor), "test");
	snprintf(rec.action, sizeof(rec.action), "device.add");

	if ((r = kdc_store_open(":memory:", 1, &st)) != KDC_OK ||
	    (r = kdc_store_begin(st)) != KDC_OK)
		goto out;
	if ((r = kdc_store_device_add(st, &d)) != KDC_OK) {
		kdc_store_rollback(st);
		goto out;
	}
	c = mk_cred(d.id, KDC_KIND_OPERATIONAL, KDC_TYPE_PSK, KDC_CRED_ISSUED,
	    "lwm2m");
	snprintf(c.identity, sizeof(c.identity), "oom-id");
	c.wrapped = wrapped;
	c.wrapped_len = sizeof(wrapped);
	c.secret_fp = fp;
	c.secret_fp_len = sizeof(fp);
	c.not_after = 10;
	if ((r = kdc_store_cred_add(st, &c)) != KDC_OK) {
		kdc_store_rollback(st);
		goto out;
	}
	if ((r = kdc_store_commit(st)) != KDC_OK ||
	    (r = kdc_store_cred_list(st, &f, &cl, &ncl)) != KDC_OK ||
	    (r = kdc_store_audit_append(st, &rec)) != KDC_OK ||
	    (r = kdc_store_cred_expire(st, 20, &ids, &n)) != KDC_OK)
		goto out;
	if (n != 1)
		fail_msg("expire: %zu rows", n);
out:
	kdc_cred_list_free(cl, ncl);
	kdc_free(ids);
	kdc_store_close(st);
	return r;
}

static void
test_alloc_failures(void **state)
{
	sqlite3_int64 base;
	kdc_err r;
	long i;
	int nomem = 0;
	bool done = false;

	(void)state;
	base = sqlite3_memory_used();
	for (i = 1; i < 100000 && !done; i++) {
		kdc_alloc_fail_after(i);
		r = oom_sequence();
		if (!kdc_alloc_faulted()) {
			kdc_alloc_fail_after(0);
			assert_int_equal(r, KDC_OK);
			done = true;
		} else {
			kdc_alloc_fail_after(0);
			if (r != KDC_OK && r != KDC_ERR_NOMEM)
				fail_msg("fault at %ld: %s", i,
				    kdc_err_name(r));
			if (r == KDC_ERR_NOMEM)
				nomem++;
		}
		if (sqlite3_memory_used() != base)
			fail_msg("fault at %ld: sqlite leaked %lld bytes", i,
			    (long long)(sqlite3_memory_used() - base));
	}
	assert_true(done);
	assert_true(nomem > 0);
	print_message("alloc faults: %ld runs, %d ended NOMEM\n", i - 1,
	    nomem);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enum_text),
		cmocka_unit_test(test_roundtrip_memory),
		cmocka_unit_test(test_roundtrip_file),
		cmocka_unit_test(test_reopen),
		cmocka_unit_test(test_foreign_db),
		cmocka_unit_test(test_garbage_file),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_synchronous_full),
		cmocka_unit_test(test_defer_sync),
		cmocka_unit_test(test_check_damage),
		cmocka_unit_test(test_migrate_profiles_gone),
		cmocka_unit_test(test_version_too_new),
		cmocka_unit_test(test_open_args),
		cmocka_unit_test(test_unique_live_cred),
		cmocka_unit_test(test_cred_get_live),
		cmocka_unit_test(test_unique_psk),
		cmocka_unit_test(test_unique_spki),
		cmocka_unit_test(test_transactions),
		cmocka_unit_test(test_busy),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_batch_contended),
		cmocka_unit_test(test_cascade_delete),
		cmocka_unit_test(test_expire),
		cmocka_unit_test(test_crl_entries),
		cmocka_unit_test(test_audit),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_wipe),
		cmocka_unit_test(test_alloc_failures),
	};

	faultsim_install();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
