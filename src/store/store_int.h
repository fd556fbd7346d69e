/*
 * store_int.h: inside the store module only. Each engine (sqlite.c today,
 * postgres.c later) fills a struct kdc_store_ops; store.c owns everything
 * engine-independent (argument checks, transaction nesting, enum text,
 * freeing rows) and dispatches to the engine through the vtable.
 *
 * Engine ops get arguments already checked by store.c (non-NULL pointers,
 * enums in range, strings NUL-terminated within their arrays) and
 * out-parameters already cleared. They set out-parameters last, on
 * success only, and map engine failures to kdc_err as store.h promises.
 */
#ifndef KDC_STORE_INT_H
#define KDC_STORE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "store/ace.h"
#include "store/lwm2m_reg.h"
#include "store/ocf.h"
#include "store/store.h"

struct kdc_store_ops {
	const char	*name;		/* "sqlite", ... */
	void	(*close)(struct kdc_store *st);
	kdc_err	(*ping)(struct kdc_store *st);
	/* why: cap > 0, already set to "" */
	kdc_err	(*check)(struct kdc_store *st, char *why, size_t cap);
	int	(*schema_version)(struct kdc_store *st);

	/* Engine transaction, outermost level only (store.c counts). */
	kdc_err	(*begin)(struct kdc_store *st);
	/* commit rolls back when it fails */
	kdc_err	(*commit)(struct kdc_store *st);
	void	(*rollback)(struct kdc_store *st);
	/* True while the engine is inside a transaction. */
	bool	(*in_txn)(struct kdc_store *st);
	/* Inside a transaction: open, release or roll back to (and
	 * release) the batch's savepoint (store.c kdc_store_batch_*). */
	kdc_err	(*sp_open)(struct kdc_store *st);
	kdc_err	(*sp_release)(struct kdc_store *st);
	kdc_err	(*sp_undo)(struct kdc_store *st);
	/* True when another connection of this process waits for the
	 * write lock this one holds. */
	bool	(*contended)(struct kdc_store *st);
	/* store.h kdc_store_defer_sync(), kdc_store_sync(); outside a
	 * transaction (store.c checks) */
	kdc_err	(*defer_sync)(struct kdc_store *st, bool on);
	kdc_err	(*sync)(struct kdc_store *st, bool force);
	kdc_err	(*syncfd_open)(struct kdc_store *st, int *fd);
	bool	(*sync_mark)(struct kdc_store *st);

	kdc_err	(*meta_get)(struct kdc_store *st, const char *key, char **out);
	kdc_err	(*meta_set)(struct kdc_store *st, const char *key,
		    const char *val);

	kdc_err	(*device_add)(struct kdc_store *st, struct kdc_device *dev);
	kdc_err	(*device_get)(struct kdc_store *st, const char *dev_id,
		    struct kdc_device **out);
	kdc_err	(*device_get_by_id)(struct kdc_store *st, int64_t id,
		    struct kdc_device **out);
	kdc_err	(*device_list)(struct kdc_store *st, struct kdc_device ***out,
		    size_t *n);
	kdc_err	(*device_set_status)(struct kdc_store *st, int64_t id,
		    enum kdc_dev_status status);
	kdc_err	(*device_delete)(struct kdc_store *st, int64_t id);

	kdc_err	(*cred_add)(struct kdc_store *st, struct kdc_cred *cred);
	kdc_err	(*cred_set_wrapped)(struct kdc_store *st, int64_t id,
		    const uint8_t *wrapped, size_t len);
	kdc_err	(*cred_get)(struct kdc_store *st, int64_t id,
		    struct kdc_cred **out);
	kdc_err	(*cred_get_live)(struct kdc_store *st, int64_t device,
		    const char *audience, enum kdc_cred_status status,
		    struct kdc_cred **out);
	kdc_err	(*cred_get_by_identity)(struct kdc_store *st,
		    const char *identity, struct kdc_cred **out);
	kdc_err	(*cred_get_by_spki_fp)(struct kdc_store *st,
		    const uint8_t fp[32], struct kdc_cred **out);
	kdc_err	(*cred_find_secret_fp)(struct kdc_store *st, const uint8_t *fp,
		    size_t fp_len, int64_t except_device);
	kdc_err	(*cred_list)(struct kdc_store *st,
		    const struct kdc_cred_filter *f, struct kdc_cred ***out,
		    size_t *n);
	kdc_err	(*cred_set_status)(struct kdc_store *st, int64_t id,
		    enum kdc_cred_status status);
	kdc_err	(*cred_supersede)(struct kdc_store *st, int64_t device,
		    const char *audience, enum kdc_cred_status from, size_t *n);
	kdc_err	(*cred_expire)(struct kdc_store *st, int64_t now,
		    int64_t **ids, size_t *n);
	kdc_err	(*crl_entries)(struct kdc_store *st, int64_t now,
		    struct kdc_crl_entry **out, size_t *n);
	kdc_err	(*cred_ended_since)(struct kdc_store *st, int64_t since,
		    void (*fn)(void *arg, int64_t cred_id), void *arg);

	kdc_err	(*mfg_ca_add)(struct kdc_store *st, struct kdc_mfg_ca *ca);
	kdc_err	(*mfg_ca_list)(struct kdc_store *st, struct kdc_mfg_ca ***out,
		    size_t *n);

	kdc_err	(*audience_add)(struct kdc_store *st,
		    struct kdc_audience *a);
	kdc_err	(*audience_get)(struct kdc_store *st, const char *name,
		    struct kdc_audience *out);
	kdc_err	(*audience_list)(struct kdc_store *st,
		    struct kdc_audience **out, size_t *n);


	kdc_err	(*audit_last)(struct kdc_store *st, struct kdc_audit_rec *out);
	kdc_err	(*audit_head)(struct kdc_store *st, int64_t *seq,
		    uint8_t hash[32]);
	kdc_err	(*audit_append)(struct kdc_store *st,
		    struct kdc_audit_rec *rec);
	kdc_err	(*audit_foreach)(struct kdc_store *st, int64_t from_seq,
		    kdc_store_audit_fn fn, void *arg);

	kdc_err	(*lwm2m_reg_put)(struct kdc_store *st,
		    struct kdc_lwm2m_reg *reg);
	kdc_err	(*lwm2m_reg_get)(struct kdc_store *st, int64_t id,
		    struct kdc_lwm2m_reg *out);
	kdc_err	(*lwm2m_reg_touch)(struct kdc_store *st, int64_t id,
		    int64_t now, int64_t lifetime, const char *binding,
		    const char *addr);
	kdc_err	(*lwm2m_reg_delete)(struct kdc_store *st, int64_t id);
	kdc_err	(*lwm2m_reg_list)(struct kdc_store *st,
		    struct kdc_lwm2m_reg **out, size_t *n);

	/* store/ace.h */
	kdc_err	(*ace_rs_add)(struct kdc_store *st, struct kdc_ace_rs_row *rs);
	kdc_err	(*ace_rs_get)(struct kdc_store *st, const char *aud,
		    struct kdc_ace_rs_row **out);
	kdc_err	(*ace_rs_list)(struct kdc_store *st,
		    struct kdc_ace_rs_row ***out, size_t *n);
	kdc_err	(*ace_grant_add)(struct kdc_store *st,
		    struct kdc_ace_grant_row *g);
	kdc_err	(*ace_grant_get)(struct kdc_store *st, int64_t device,
		    const char *aud, struct kdc_ace_grant_row *out);
	kdc_err	(*ace_grant_get_id)(struct kdc_store *st, int64_t id,
		    struct kdc_ace_grant_row *out);
	kdc_err	(*ace_grant_revoke)(struct kdc_store *st, int64_t id,
		    int64_t now, size_t *n);
	kdc_err	(*ace_token_add)(struct kdc_store *st,
		    const struct kdc_ace_token_rec *t);
	kdc_err	(*ace_token_get)(struct kdc_store *st, const uint8_t *cti,
		    size_t cti_len, struct kdc_ace_token_rec *out);
	kdc_err	(*ace_token_by_hash)(struct kdc_store *st, const uint8_t *hash,
		    size_t hash_len, struct kdc_ace_token_rec *out);
	kdc_err	(*ace_token_revoke)(struct kdc_store *st, const uint8_t *cti,
		    size_t cti_len, int64_t now);
	kdc_err	(*ace_tokens_purge)(struct kdc_store *st,
		    const uint8_t *cti_below, size_t len, int64_t exp_before,
		    size_t *n);
	kdc_err	(*ace_tokens_revoke_device)(struct kdc_store *st,
		    int64_t device, int64_t now, size_t *n);
	kdc_err	(*ace_trl)(struct kdc_store *st, const char *aud, int64_t now,
		    void (*fn)(void *arg, const uint8_t *hash, size_t len),
		    void *arg);
	kdc_err	(*ace_token_list)(struct kdc_store *st, bool active_only,
		    int64_t now, struct kdc_ace_token_rec **out, size_t *n);

	/* store/ocf.h; ocf_get by uuid (device 0) or by device (uuid
	 * NULL) */
	kdc_err	(*ocf_put)(struct kdc_store *st, struct kdc_ocf_row *row);
	kdc_err	(*ocf_get)(struct kdc_store *st, const char *uuid,
		    int64_t device, struct kdc_ocf_row *out);
	kdc_err	(*ocf_list)(struct kdc_store *st, struct kdc_ocf_row **out,
		    size_t *n);
	/* uri NULL: delete the OCF audience name, else set its uri */
	kdc_err	(*ocf_audience_set)(struct kdc_store *st, const char *name,
		    const char *uri);
	kdc_err	(*ocf_creds_for)(struct kdc_store *st, const char *audience,
		    bool live, int64_t **ids, size_t *n);
};

/* The engine-independent head of every engine's handle (first member). */
struct kdc_store {
	const struct kdc_store_ops *ops;
	int		 txn_depth;	/* kdc_store_begin() nesting */
	bool		 txn_failed;	/* an inner rollback doomed the txn */
	/* kdc_store_batch_begin() .. _end() */
	bool		 batch;		/* between them */
	bool		 batch_open;	/* its write transaction is open */
	kdc_err		 batch_err;	/* the first commit of it that failed */
	unsigned	 batch_ops;	/* operations in the open transaction */
	int64_t		 batch_t0;	/* when it opened, monotonic ms */
	/* 0: KDC_STORE_BATCH_OPS, _MS (tests set others) */
	unsigned	 batch_max_ops;
	int64_t		 batch_max_ms;
};

/* Engines. Each sets *out (with ops and a zeroed head) on success. */
kdc_err	kdc_sqlite_open(const char *path, int create, struct kdc_store **out);

/*
 * Test hook: the sqlite3 handle of a store opened by kdc_sqlite_open()
 * (NULL for another engine), typed void * to keep sqlite3.h out of here.
 * Unit tests use it to shorten the busy timeout.
 */
void	*kdc_sqlite_handle(struct kdc_store *st);

#endif
