/*
 * store.c: the engine-independent half of the store. Checks arguments,
 * counts nested transactions, converts enums to text and back, frees
 * rows, and dispatches everything else to the engine's ops (store_int.h).
 */
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/wipe.h"
#include "store/ace.h"
#include "store/ocf.h"
#include "store/store.h"
#include "store/store_int.h"

/* ---- enum text --------------------------------------------------------- */

static const char *const kind_names[] = {
	[KDC_KIND_MANUFACTURER] = "manufacturer",
	[KDC_KIND_OWNER] = "owner",
	[KDC_KIND_OPERATIONAL] = "operational",
};
static const char *const type_names[] = {
	[KDC_TYPE_PSK] = "psk",
	[KDC_TYPE_RPK] = "rpk",
	[KDC_TYPE_X509] = "x509",
};
static const char *const status_names[] = {
	[KDC_CRED_ISSUED] = "issued",
	[KDC_CRED_PENDING] = "pending",
	[KDC_CRED_REVOKED] = "revoked",
	[KDC_CRED_SUPERSEDED] = "superseded",
	[KDC_CRED_EXPIRED] = "expired",
};
static const char *const audience_kind_names[] = {
	[KDC_AUD_LWM2M] = "lwm2m",
	[KDC_AUD_LWM2M_EXTERNAL] = "lwm2m-external",
	[KDC_AUD_MQTT] = "mqtt",
	[KDC_AUD_ACE_RS] = "ace-rs",
	[KDC_AUD_OCF_DEVICE] = "ocf-device",
};
static const char *const dev_status_names[] = {
	[KDC_DEV_ACTIVE] = "active",
	[KDC_DEV_REVOKED] = "revoked",
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const char *
name_of(const char *const *tab, size_t n, int v)
{
	if (v < 0 || (size_t)v >= n)
		return "unknown";
	return tab[v];
}

static int
parse_name(const char *const *tab, size_t n, const char *s)
{
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(tab[i], s) == 0)
			return (int)i;
	return -1;
}

const char *
kdc_cred_kind_str(enum kdc_cred_kind k)
{
	return name_of(kind_names, NELEM(kind_names), (int)k);
}

const char *
kdc_cred_type_str(enum kdc_cred_type t)
{
	return name_of(type_names, NELEM(type_names), (int)t);
}

const char *
kdc_cred_status_str(enum kdc_cred_status s)
{
	return name_of(status_names, NELEM(status_names), (int)s);
}

const char *
kdc_dev_status_str(enum kdc_dev_status s)
{
	return name_of(dev_status_names, NELEM(dev_status_names), (int)s);
}

int
kdc_cred_kind_parse(const char *s)
{
	return parse_name(kind_names, NELEM(kind_names), s);
}

int
kdc_cred_type_parse(const char *s)
{
	return parse_name(type_names, NELEM(type_names), s);
}

const char *
kdc_audience_kind_str(enum kdc_audience_kind k)
{
	return name_of(audience_kind_names, NELEM(audience_kind_names),
	    (int)k);
}

int
kdc_audience_kind_parse(const char *s)
{
	return parse_name(audience_kind_names, NELEM(audience_kind_names), s);
}

int
kdc_cred_status_parse(const char *s)
{
	return parse_name(status_names, NELEM(status_names), s);
}

/* ---- helpers ----------------------------------------------------------- */

/* A fixed-size string field is NUL-terminated within its array. */
#define FIELD_OK(f)	(memchr((f), '\0', sizeof(f)) != NULL)

static bool
blob_ok(const uint8_t *p, size_t len)
{
	return p != NULL || len == 0;
}

/*
 * Every call but open/close/rollback passes here. Inside a transaction
 * that an inner rollback doomed (or that the engine rolled back by
 * itself, as SQLite does on some I/O and memory errors), refuse rather
 * than run in autocommit mode and make changes the caller thinks are
 * part of a transaction.
 */
static kdc_err batch_lost(struct kdc_store *st, kdc_err r);

static kdc_err
guard(struct kdc_store *st)
{
	if (st == NULL)
		return KDC_ERR_INVALID_ARG;
	/* a batch's transaction the engine ended by itself: what it held is
	 * lost (kdc_store_batch_end() says so); the next operation opens
	 * another with BEGIN, not a SAVEPOINT outside any (docs/traps.md) */
	if (st->batch_open && !st->ops->in_txn(st)) {
		(void)batch_lost(st, KDC_ERR_STORE);
		if (st->txn_depth > 0)
			st->txn_failed = true;
	}
	if (st->txn_depth > 0 && !st->txn_failed && !st->ops->in_txn(st))
		st->txn_failed = true;
	if (st->txn_depth > 0 && st->txn_failed)
		return KDC_ERR_STORE;
	return KDC_OK;
}

/* ---- lifetime ---------------------------------------------------------- */

kdc_err
kdc_store_open(const char *path, int create, struct kdc_store **out)
{
	if (out != NULL)
		*out = NULL;
	if (path == NULL || *path == '\0' || out == NULL)
		return KDC_ERR_INVALID_ARG;
	if (strncmp(path, "postgres://", 11) == 0 ||
	    strncmp(path, "postgresql://", 13) == 0)
		return KDC_ERR_UNSUPPORTED;	/* postgres.c: not yet */
	return kdc_sqlite_open(path, create, out);
}

void
kdc_store_close(struct kdc_store *st)
{
	if (st == NULL)
		return;
	st->ops->close(st);
}

kdc_err
kdc_store_ping(struct kdc_store *st)
{
	kdc_err r;

	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ping(st);
}

kdc_err
kdc_store_check(struct kdc_store *st, char *why, size_t cap)
{
	char none[1];
	kdc_err r;

	if (why == NULL || cap == 0) {
		why = none;
		cap = sizeof(none);
	}
	why[0] = '\0';
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->check(st, why, cap);
}

int
kdc_store_schema_version(struct kdc_store *st)
{
	if (st == NULL)
		return 0;
	return st->ops->schema_version(st);
}

/* ---- whether commits succeed (process-wide) --------------------------- */

static _Atomic int write_err;		/* the failing commits' error; 0: ok */
static _Atomic int64_t write_since;	/* when they began, monotonic ms */

/* A commit's result: told once when commits start to fail, and once when
 * they succeed again. A busy store is not a failing one. */
static void
write_note(kdc_err r)
{
	int old = KDC_OK;

	if (r == KDC_OK) {
		if (atomic_load(&write_err) != KDC_OK &&
		    atomic_exchange(&write_err, KDC_OK) != KDC_OK)
			kdc_log_info("store: commits succeed again");
		return;
	}
	if (r == KDC_ERR_STORE_BUSY)
		return;
	if (atomic_load(&write_err) == KDC_OK)	/* the first of them */
		atomic_store(&write_since, kdc_mono_ms());
	if (atomic_compare_exchange_strong(&write_err, &old, (int)r))
		kdc_log_warn_r(r, "store: a commit failed; while commits fail "
		    "nothing is issued, and health answers 503");
}

kdc_err
kdc_store_write_state(int64_t *since_ms)
{
	kdc_err r = (kdc_err)atomic_load(&write_err);

	if (since_ms != NULL)
		*since_ms = r == KDC_OK ? 0 : atomic_load(&write_since);
	return r;
}

/* ---- transactions and batches ----------------------------------------- */

/* The batch's transaction is gone with what it held: the first such
 * error is kdc_store_batch_end()'s. Returns r. */
static kdc_err
batch_lost(struct kdc_store *st, kdc_err r)
{
	st->batch_open = false;
	if (st->batch_err == KDC_OK)
		st->batch_err = r;
	return r;
}

/* Commit the batch's open transaction (none open: KDC_OK). */
static kdc_err
batch_commit(struct kdc_store *st)
{
	kdc_err r;

	if (!st->batch_open)
		return KDC_OK;
	st->batch_open = false;
	r = st->ops->commit(st);
	write_note(r);
	if (r != KDC_OK)
		(void)batch_lost(st, r);
	return r;
}

kdc_err
kdc_store_begin(struct kdc_store *st)
{
	kdc_err r;

	if ((r = guard(st)) != KDC_OK)
		return r;
	if (st->txn_depth == 0 && st->batch) {
		if (!st->batch_open) {
			if ((r = st->ops->begin(st)) != KDC_OK)
				return r;
			st->batch_open = true;
			st->batch_ops = 0;
			st->batch_t0 = kdc_mono_ms();
		}
		if ((r = st->ops->sp_open(st)) != KDC_OK)
			return r;
	} else if (st->txn_depth == 0 && (r = st->ops->begin(st)) != KDC_OK)
		return r;
	st->txn_depth++;
	return KDC_OK;
}

/* The end of an operation inside a batch: its savepoint released (or
 * undone), then the transaction committed early when others wait for
 * it or it grew past its bounds. */
static kdc_err
batch_op_end(struct kdc_store *st, bool undo)
{
	kdc_err r;

	if (!st->ops->in_txn(st))	/* the engine ended it by itself */
		return batch_lost(st, KDC_ERR_STORE);
	/* a savepoint we cannot undo or release: nothing of the
	 * transaction may stand */
	if (undo) {
		if ((r = st->ops->sp_undo(st)) != KDC_OK) {
			st->ops->rollback(st);
			(void)batch_lost(st, r);
		}
		return KDC_ERR_STORE;
	}
	if ((r = st->ops->sp_release(st)) != KDC_OK) {
		st->ops->rollback(st);
		return batch_lost(st, r);
	}
	if (++st->batch_ops >= (st->batch_max_ops != 0 ? st->batch_max_ops :
	    KDC_STORE_BATCH_OPS) || st->ops->contended(st) ||
	    kdc_mono_ms() - st->batch_t0 >= (st->batch_max_ms != 0 ?
	    st->batch_max_ms : KDC_STORE_BATCH_MS))
		return batch_commit(st);
	return KDC_OK;
}

kdc_err
kdc_store_commit(struct kdc_store *st)
{
	kdc_err r;

	if (st == NULL || st->txn_depth == 0)
		return KDC_ERR_STORE;		/* commit without begin */
	r = guard(st);
	st->txn_depth--;
	if (st->txn_depth == 0) {
		if (st->batch) {
			bool doomed = st->txn_failed;

			st->txn_failed = false;
			if (!st->batch_open)	/* guard: the engine ended it */
				return KDC_ERR_STORE;
			return batch_op_end(st, doomed) != KDC_OK || doomed ?
			    KDC_ERR_STORE : KDC_OK;
		}
		if (st->txn_failed) {
			st->txn_failed = false;
			if (st->ops->in_txn(st))
				st->ops->rollback(st);
			return KDC_ERR_STORE;
		}
		r = st->ops->commit(st);
		write_note(r);
		return r;
	}
	return r;
}

kdc_err
kdc_store_batch_begin(struct kdc_store *st)
{
	if (st == NULL || st->batch || st->txn_depth > 0 ||
	    st->ops->in_txn(st))
		return KDC_ERR_INVALID_ARG;
	st->batch = true;
	st->batch_open = false;
	st->batch_err = KDC_OK;
	return KDC_OK;
}

kdc_err
kdc_store_batch_end(struct kdc_store *st)
{
	kdc_err r;

	if (st == NULL || !st->batch)
		return KDC_OK;
	(void)batch_commit(st);	/* none left to commit: that fails too */
	r = st->batch_err;
	st->batch = false;
	st->batch_err = KDC_OK;
	return r;
}

kdc_err
kdc_store_defer_sync(struct kdc_store *st, bool on)
{
	if (st == NULL || st->txn_depth > 0 || st->batch)
		return KDC_ERR_INVALID_ARG;
	return st->ops->defer_sync(st, on);
}

kdc_err
kdc_store_sync(struct kdc_store *st, bool force)
{
	kdc_err r;

	if (st == NULL || st->txn_depth > 0)
		return KDC_ERR_INVALID_ARG;
	/* a sync covers what was done so far: a batch's too */
	if (st->batch_open && (r = batch_commit(st)) != KDC_OK)
		return r;
	return st->ops->sync(st, force);
}

kdc_err
kdc_store_syncfd_open(struct kdc_store *st, int *fd)
{
	*fd = -1;
	if (st == NULL)
		return KDC_ERR_INVALID_ARG;
	return st->ops->syncfd_open(st, fd);
}

bool
kdc_store_sync_mark(struct kdc_store *st)
{
	if (st == NULL || st->txn_depth > 0)
		return false;
	if (st->batch_open)
		(void)batch_commit(st);	/* its failure: batch_end's */
	return st->ops->sync_mark(st);
}

kdc_err
kdc_store_syncfd_run(int fd)
{
	if (fd < 0)
		return KDC_OK;
	return fdatasync(fd) == 0 ? KDC_OK : KDC_ERR_IO;
}

void
kdc_store_rollback(struct kdc_store *st)
{
	if (st == NULL || st->txn_depth == 0)
		return;
	if (st->batch && st->txn_depth == 1) {	/* this operation alone */
		st->txn_depth = 0;
		st->txn_failed = false;
		if (st->batch_open)
			(void)batch_op_end(st, true);
		return;
	}
	if (!st->txn_failed && st->batch)	/* undone at depth 1 */
		st->txn_failed = true;
	else if (!st->txn_failed) {
		st->ops->rollback(st);
		st->txn_failed = true;
	}
	if (--st->txn_depth == 0)
		st->txn_failed = false;
}

/* ---- meta -------------------------------------------------------------- */

kdc_err
kdc_store_meta_get(struct kdc_store *st, const char *key, char **out)
{
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	if (key == NULL || out == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->meta_get(st, key, out);
}

kdc_err
kdc_store_meta_set(struct kdc_store *st, const char *key, const char *val)
{
	kdc_err r;

	if (key == NULL || val == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->meta_set(st, key, val);
}

/* ---- devices ----------------------------------------------------------- */

kdc_err
kdc_store_device_add(struct kdc_store *st, struct kdc_device *dev)
{
	kdc_err r;

	if (dev == NULL || !FIELD_OK(dev->dev_id) || dev->dev_id[0] == '\0' ||
	    !FIELD_OK(dev->profile) ||
	    (dev->status != KDC_DEV_ACTIVE && dev->status != KDC_DEV_REVOKED))
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->device_add(st, dev);
}

kdc_err
kdc_store_device_get(struct kdc_store *st, const char *dev_id,
    struct kdc_device **out)
{
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	if (dev_id == NULL || out == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->device_get(st, dev_id, out);
}

kdc_err
kdc_store_device_get_by_id(struct kdc_store *st, int64_t id,
    struct kdc_device **out)
{
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	if (out == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->device_get_by_id(st, id, out);
}

kdc_err
kdc_store_device_list(struct kdc_store *st, struct kdc_device ***out,
    size_t *n)
{
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (out == NULL || n == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->device_list(st, out, n);
}

kdc_err
kdc_store_device_set_status(struct kdc_store *st, int64_t id,
    enum kdc_dev_status status)
{
	kdc_err r;

	if (status != KDC_DEV_ACTIVE && status != KDC_DEV_REVOKED)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->device_set_status(st, id, status);
}

kdc_err
kdc_store_device_delete(struct kdc_store *st, int64_t id)
{
	kdc_err r;

	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->device_delete(st, id);
}

void
kdc_device_free(struct kdc_device *dev)
{
	kdc_free(dev);
}

void
kdc_device_list_free(struct kdc_device **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		kdc_device_free(v[i]);
	kdc_free(v);
}

/* ---- credentials ------------------------------------------------------- */

static bool
cred_enums_ok(const struct kdc_cred *c)
{
	return kdc_cred_kind_parse(kdc_cred_kind_str(c->kind)) >= 0 &&
	    kdc_cred_type_parse(kdc_cred_type_str(c->type)) >= 0 &&
	    kdc_cred_status_parse(kdc_cred_status_str(c->status)) >= 0;
}

kdc_err
kdc_store_cred_add(struct kdc_store *st, struct kdc_cred *cred)
{
	kdc_err r;

	if (cred == NULL || !cred_enums_ok(cred) ||
	    !FIELD_OK(cred->audience) || !FIELD_OK(cred->identity) ||
	    !FIELD_OK(cred->serial) ||
	    !blob_ok(cred->wrapped, cred->wrapped_len) ||
	    !blob_ok(cred->secret_fp, cred->secret_fp_len) ||
	    !blob_ok(cred->spki, cred->spki_len) ||
	    !blob_ok(cred->spki_fp, cred->spki_fp_len) ||
	    !blob_ok(cred->cert, cred->cert_len))
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->cred_add(st, cred);
}

kdc_err
kdc_store_cred_set_wrapped(struct kdc_store *st, int64_t id,
    const uint8_t *wrapped, size_t len)
{
	kdc_err r;

	if (!blob_ok(wrapped, len))
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->cred_set_wrapped(st, id, wrapped, len);
}

kdc_err
kdc_store_cred_get(struct kdc_store *st, int64_t id, struct kdc_cred **out)
{
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	if (out == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->cred_get(st, id, out);
}

kdc_err
kdc_store_cred_get_live(struct kdc_store *st, int64_t device,
    const char *audience, enum kdc_cred_status status, struct kdc_cred **out)
{
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	if (device <= 0 || audience == NULL || out == NULL ||
	    (status != KDC_CRED_ISSUED && status != KDC_CRED_PENDING))
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->cred_get_live(st, device, audience, status, out);
}

kdc_err
kdc_store_cred_get_by_identity(struct kdc_store *st, const char *identity,
    struct kdc_cred **out)
{
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	if (identity == NULL || out == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->cred_get_by_identity(st, identity, out);
}

kdc_err
kdc_store_cred_get_by_spki_fp(struct kdc_store *st, const uint8_t fp[32],
    struct kdc_cred **out)
{
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	if (fp == NULL || out == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->cred_get_by_spki_fp(st, fp, out);
}

kdc_err
kdc_store_cred_find_secret_fp(struct kdc_store *st, const uint8_t *fp,
    size_t fp_len, int64_t except_device)
{
	kdc_err r;

	if (fp == NULL || fp_len == 0)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->cred_find_secret_fp(st, fp, fp_len, except_device);
}

kdc_err
kdc_store_cred_list(struct kdc_store *st, const struct kdc_cred_filter *f,
    struct kdc_cred ***out, size_t *n)
{
	static const struct kdc_cred_filter all = { 0, -1, -1, 0 };
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (out == NULL || n == NULL)
		return KDC_ERR_INVALID_ARG;
	if (f == NULL)
		f = &all;
	if ((f->kind != -1 && kdc_cred_kind_parse(kdc_cred_kind_str(
	    (enum kdc_cred_kind)f->kind)) < 0) ||
	    (f->status != -1 && kdc_cred_status_parse(kdc_cred_status_str(
	    (enum kdc_cred_status)f->status)) < 0))
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->cred_list(st, f, out, n);
}

kdc_err
kdc_store_cred_supersede(struct kdc_store *st, int64_t device,
    const char *audience, enum kdc_cred_status from, size_t *n)
{
	kdc_err r;

	*n = 0;
	if (audience == NULL || device <= 0 ||
	    (from != KDC_CRED_ISSUED && from != KDC_CRED_PENDING))
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->cred_supersede(st, device, audience, from, n);
}

kdc_err
kdc_store_cred_set_status(struct kdc_store *st, int64_t id,
    enum kdc_cred_status status)
{
	kdc_err r;

	if (kdc_cred_status_parse(kdc_cred_status_str(status)) < 0)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->cred_set_status(st, id, status);
}

kdc_err
kdc_store_cred_expire(struct kdc_store *st, int64_t now, int64_t **ids,
    size_t *n)
{
	kdc_err r;

	if (ids != NULL)
		*ids = NULL;
	if (n != NULL)
		*n = 0;
	if (ids == NULL || n == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->cred_expire(st, now, ids, n);
}

kdc_err
kdc_store_cred_ended_since(struct kdc_store *st, int64_t since,
    void (*fn)(void *arg, int64_t cred_id), void *arg)
{
	kdc_err r;

	if (fn == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->cred_ended_since(st, since, fn, arg);
}

kdc_err
kdc_store_crl_entries(struct kdc_store *st, int64_t now,
    struct kdc_crl_entry **out, size_t *n)
{
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (out == NULL || n == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->crl_entries(st, now, out, n);
}

static void
wipe_free(uint8_t *p, size_t len)
{
	if (p == NULL)
		return;
	kdc_wipe(p, len);
	kdc_free(p);
}

void
kdc_cred_free(struct kdc_cred *cred)
{
	if (cred == NULL)
		return;
	wipe_free(cred->wrapped, cred->wrapped_len);
	wipe_free(cred->secret_fp, cred->secret_fp_len);
	kdc_free(cred->spki);
	kdc_free(cred->spki_fp);
	kdc_free(cred->cert);
	kdc_free(cred);
}

void
kdc_cred_list_free(struct kdc_cred **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		kdc_cred_free(v[i]);
	kdc_free(v);
}

/* ---- manufacturer CAs -------------------------------------------------- */

kdc_err
kdc_store_mfg_ca_add(struct kdc_store *st, struct kdc_mfg_ca *ca)
{
	kdc_err r;

	if (ca == NULL || !FIELD_OK(ca->name) || ca->name[0] == '\0' ||
	    ca->cert == NULL || ca->cert_len == 0)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->mfg_ca_add(st, ca);
}

kdc_err
kdc_store_mfg_ca_list(struct kdc_store *st, struct kdc_mfg_ca ***out,
    size_t *n)
{
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (out == NULL || n == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->mfg_ca_list(st, out, n);
}

void
kdc_mfg_ca_free(struct kdc_mfg_ca *ca)
{
	if (ca == NULL)
		return;
	kdc_free(ca->cert);
	kdc_free(ca);
}

void
kdc_mfg_ca_list_free(struct kdc_mfg_ca **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		kdc_mfg_ca_free(v[i]);
	kdc_free(v);
}

/* ---- audiences --------------------------------------------------------- */

kdc_err
kdc_store_audience_add(struct kdc_store *st, struct kdc_audience *a)
{
	kdc_err r;

	if (a == NULL || !FIELD_OK(a->name) || a->name[0] == '\0' ||
	    !FIELD_OK(a->uri) || a->ssid < 0 || a->ssid > 65534 ||
	    a->kind == KDC_AUD_LWM2M ||
	    kdc_audience_kind_parse(kdc_audience_kind_str(a->kind)) < 0)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->audience_add(st, a);
}

kdc_err
kdc_store_audience_get(struct kdc_store *st, const char *name,
    struct kdc_audience *out)
{
	kdc_err r;

	if (name == NULL || out == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->audience_get(st, name, out);
}

kdc_err
kdc_store_audience_list(struct kdc_store *st, struct kdc_audience **out,
    size_t *n)
{
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (out == NULL || n == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->audience_list(st, out, n);
}

/* ---- audit ------------------------------------------------------------- */

kdc_err
kdc_store_audit_last(struct kdc_store *st, struct kdc_audit_rec *out)
{
	kdc_err r;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (out == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->audit_last(st, out);
}

kdc_err
kdc_store_audit_head(struct kdc_store *st, int64_t *seq, uint8_t hash[32])
{
	kdc_err r;

	if (seq != NULL)
		*seq = 0;
	if (seq == NULL || hash == NULL)
		return KDC_ERR_INVALID_ARG;
	memset(hash, 0, 32);
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->audit_head(st, seq, hash);
}

kdc_err
kdc_store_audit_append(struct kdc_store *st, struct kdc_audit_rec *rec)
{
	kdc_err r;

	if (rec == NULL || !FIELD_OK(rec->actor) || !FIELD_OK(rec->action) ||
	    !FIELD_OK(rec->subject) || !FIELD_OK(rec->outcome) ||
	    !FIELD_OK(rec->detail))
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->audit_append(st, rec);
}

kdc_err
kdc_store_audit_foreach(struct kdc_store *st, int64_t from_seq,
    kdc_store_audit_fn fn, void *arg)
{
	kdc_err r;

	if (fn == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->audit_foreach(st, from_seq, fn, arg);
}

/* ---- LwM2M registrations ----------------------------------------------- */

static bool
reg_strings_ok(const char *binding, const char *addr)
{
	return (binding == NULL ||
	    strlen(binding) <= KDC_LWM2M_BINDING_MAX) &&
	    (addr == NULL || strlen(addr) <= KDC_LWM2M_ADDR_MAX);
}

kdc_err
kdc_store_lwm2m_reg_put(struct kdc_store *st, struct kdc_lwm2m_reg *reg)
{
	kdc_err r;

	if (reg == NULL || !FIELD_OK(reg->ep) || reg->ep[0] == '\0' ||
	    !FIELD_OK(reg->version) || !FIELD_OK(reg->binding) ||
	    !FIELD_OK(reg->addr) || reg->lifetime <= 0 || reg->device <= 0)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->lwm2m_reg_put(st, reg);
}

kdc_err
kdc_store_lwm2m_reg_get(struct kdc_store *st, int64_t id,
    struct kdc_lwm2m_reg *out)
{
	kdc_err r;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (out == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->lwm2m_reg_get(st, id, out);
}

kdc_err
kdc_store_lwm2m_reg_touch(struct kdc_store *st, int64_t id, int64_t now,
    int64_t lifetime, const char *binding, const char *addr)
{
	kdc_err r;

	if (lifetime < 0 || !reg_strings_ok(binding, addr))
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->lwm2m_reg_touch(st, id, now, lifetime, binding, addr);
}

kdc_err
kdc_store_lwm2m_reg_delete(struct kdc_store *st, int64_t id)
{
	kdc_err r;

	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->lwm2m_reg_delete(st, id);
}

kdc_err
kdc_store_lwm2m_reg_list(struct kdc_store *st, struct kdc_lwm2m_reg **out,
    size_t *n)
{
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (out == NULL || n == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->lwm2m_reg_list(st, out, n);
}

void
kdc_lwm2m_reg_list_free(struct kdc_lwm2m_reg *v)
{
	kdc_free(v);
}

/* ---- ACE Authorization Server (store/ace.h) ---------------------------- */

void
kdc_ace_rs_row_free(struct kdc_ace_rs_row *rs)
{
	if (rs == NULL)
		return;
	wipe_free(rs->key_wrapped, rs->key_wrapped_len);
	kdc_free(rs->spki);
	kdc_free(rs);
}

void
kdc_ace_rs_list_free(struct kdc_ace_rs_row **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		kdc_ace_rs_row_free(v[i]);
	kdc_free(v);
}

kdc_err
kdc_store_ace_rs_add(struct kdc_store *st, struct kdc_ace_rs_row *rs)
{
	kdc_err r;

	if (rs == NULL || !FIELD_OK(rs->audience) || rs->audience[0] == '\0' ||
	    ((rs->key_wrapped == NULL || rs->key_wrapped_len == 0) &&
	    (rs->spki == NULL || rs->spki_len == 0)))
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ace_rs_add(st, rs);
}

kdc_err
kdc_store_ace_rs_get(struct kdc_store *st, const char *aud,
    struct kdc_ace_rs_row **out)
{
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	if (aud == NULL || out == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ace_rs_get(st, aud, out);
}

kdc_err
kdc_store_ace_rs_list(struct kdc_store *st, struct kdc_ace_rs_row ***out,
    size_t *n)
{
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (out == NULL || n == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ace_rs_list(st, out, n);
}

kdc_err
kdc_store_ace_grant_add(struct kdc_store *st, struct kdc_ace_grant_row *g)
{
	kdc_err r;

	if (g == NULL || g->device <= 0 || !FIELD_OK(g->audience) ||
	    g->audience[0] == '\0' || !FIELD_OK(g->scopes))
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ace_grant_add(st, g);
}

kdc_err
kdc_store_ace_grant_get(struct kdc_store *st, int64_t device,
    const char *aud, struct kdc_ace_grant_row *out)
{
	kdc_err r;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (aud == NULL || out == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ace_grant_get(st, device, aud, out);
}

kdc_err
kdc_store_ace_grant_get_id(struct kdc_store *st, int64_t id,
    struct kdc_ace_grant_row *out)
{
	kdc_err r;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (out == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ace_grant_get_id(st, id, out);
}

kdc_err
kdc_store_ace_grant_revoke(struct kdc_store *st, int64_t id, int64_t now,
    size_t *n)
{
	kdc_err r;

	if (n != NULL)
		*n = 0;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ace_grant_revoke(st, id, now, n);
}

kdc_err
kdc_store_ace_token_add(struct kdc_store *st,
    const struct kdc_ace_token_rec *t)
{
	kdc_err r;

	if (t == NULL || t->cti_len == 0 || t->cti_len > KDC_ACE_CTI_MAX ||
	    t->hash_len == 0 || t->hash_len > KDC_ACE_HASH_MAX ||
	    t->pop_kid_len > KDC_ACE_CTI_MAX ||
	    t->pop_key_len > KDC_ACE_POPKEY_MAX || !FIELD_OK(t->client) ||
	    !FIELD_OK(t->audience) || !FIELD_OK(t->scope))
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ace_token_add(st, t);
}

kdc_err
kdc_store_ace_token_get(struct kdc_store *st, const uint8_t *cti,
    size_t cti_len, struct kdc_ace_token_rec *out)
{
	kdc_err r;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (cti == NULL || cti_len == 0 || out == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ace_token_get(st, cti, cti_len, out);
}

kdc_err
kdc_store_ace_token_by_hash(struct kdc_store *st, const uint8_t *hash,
    size_t hash_len, struct kdc_ace_token_rec *out)
{
	kdc_err r;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (hash == NULL || hash_len == 0 || out == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ace_token_by_hash(st, hash, hash_len, out);
}

kdc_err
kdc_store_ace_token_revoke(struct kdc_store *st, const uint8_t *cti,
    size_t cti_len, int64_t now)
{
	kdc_err r;

	if (cti == NULL || cti_len == 0)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ace_token_revoke(st, cti, cti_len, now);
}

kdc_err
kdc_store_ace_tokens_purge(struct kdc_store *st, const uint8_t *cti_below,
    size_t len, int64_t exp_before, size_t *n)
{
	kdc_err r;

	if (n != NULL)
		*n = 0;
	if (cti_below == NULL || len == 0)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ace_tokens_purge(st, cti_below, len, exp_before, n);
}

kdc_err
kdc_store_ace_tokens_revoke_device(struct kdc_store *st, int64_t device,
    int64_t now, size_t *n)
{
	kdc_err r;

	if (n != NULL)
		*n = 0;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ace_tokens_revoke_device(st, device, now, n);
}

kdc_err
kdc_store_ace_trl(struct kdc_store *st, const char *aud, int64_t now,
    void (*fn)(void *arg, const uint8_t *hash, size_t len), void *arg)
{
	kdc_err r;

	if (aud == NULL || fn == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ace_trl(st, aud, now, fn, arg);
}

kdc_err
kdc_store_ace_token_list(struct kdc_store *st, bool active_only,
    int64_t now, struct kdc_ace_token_rec **out, size_t *n)
{
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (out == NULL || n == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ace_token_list(st, active_only, now, out, n);
}

/* ---- OCF (store/ocf.h) -------------------------------------------------- */

static bool
ocf_uuid_ok(const char *s, size_t cap, bool empty_ok)
{
	size_t n = strnlen(s, cap);

	return n < cap && (n == KDC_STORE_OCF_UUID || (empty_ok && n == 0));
}

kdc_err
kdc_store_ocf_put(struct kdc_store *st, struct kdc_ocf_row *row)
{
	kdc_err r;

	if (row == NULL || row->id < 0 ||
	    !ocf_uuid_ok(row->first_uuid, sizeof(row->first_uuid), false) ||
	    !ocf_uuid_ok(row->uuid, sizeof(row->uuid), false) ||
	    !ocf_uuid_ok(row->new_uuid, sizeof(row->new_uuid), true) ||
	    row->otm < 0 || row->otm > 2 ||
	    (int)row->state < KDC_STORE_OCF_ONBOARDING ||
	    (int)row->state > KDC_STORE_OCF_OFFBOARDED ||
	    !FIELD_OK(row->step) || !FIELD_OK(row->coap_ep) ||
	    !FIELD_OK(row->coaps_ep) || row->device < 0 ||
	    row->owner_cred < 0)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ocf_put(st, row);
}

kdc_err
kdc_store_ocf_get(struct kdc_store *st, const char *uuid,
    struct kdc_ocf_row *out)
{
	kdc_err r;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (uuid == NULL || out == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ocf_get(st, uuid, 0, out);
}

kdc_err
kdc_store_ocf_get_by_device(struct kdc_store *st, int64_t device,
    struct kdc_ocf_row *out)
{
	kdc_err r;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (device <= 0 || out == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ocf_get(st, NULL, device, out);
}

kdc_err
kdc_store_ocf_list(struct kdc_store *st, struct kdc_ocf_row **out,
    size_t *n)
{
	kdc_err r;

	if (out != NULL)
		*out = NULL;
	if (n != NULL)
		*n = 0;
	if (out == NULL || n == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ocf_list(st, out, n);
}

kdc_err
kdc_store_ocf_creds_for(struct kdc_store *st, const char *audience,
    bool live, int64_t **ids, size_t *n)
{
	kdc_err r;

	if (ids != NULL)
		*ids = NULL;
	if (n != NULL)
		*n = 0;
	if (audience == NULL || ids == NULL || n == NULL ||
	    strncmp(audience, "ocf-", 4) != 0)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ocf_creds_for(st, audience, live, ids, n);
}

kdc_err
kdc_store_ocf_audience_delete(struct kdc_store *st, const char *name)
{
	kdc_err r;

	if (name == NULL)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ocf_audience_set(st, name, NULL);
}

kdc_err
kdc_store_ocf_audience_set_uri(struct kdc_store *st, const char *name,
    const char *uri)
{
	kdc_err r;

	if (name == NULL || uri == NULL ||
	    strnlen(uri, KDC_AUDIENCE_URI_MAX + 1) > KDC_AUDIENCE_URI_MAX)
		return KDC_ERR_INVALID_ARG;
	if ((r = guard(st)) != KDC_OK)
		return r;
	return st->ops->ocf_audience_set(st, name, uri);
}
