/*
 * store.h: the credential store interface. One implementation per engine
 * behind it (sqlite.c today; postgres.c later): callers see only these
 * functions and the plain row structs below, never an engine type.
 *
 * Conventions
 * - Every function returns KDC_OK or a negative kdc_err. Out-parameters
 *   are cleared on entry and set only on success.
 * - Rows returned by *_get / lists are owned by the caller and released
 *   with kdc_device_free() / kdc_cred_free() / kdc_*_list_free().
 * - Times are Unix seconds (int64_t). Row ids are int64_t > 0.
 * - Uniqueness violations map to KDC_ERR_EXISTS, except a second live
 *   operational credential for one device+audience (KDC_ERR_LIVE_CRED) and
 *   a PSK identity or PSK fingerprint already live (KDC_ERR_DUPLICATE_PSK).
 * - Transactions: kdc_store_begin() / _commit() / _rollback() nest by
 *   counting (only the outermost begin/commit touches the engine; a
 *   rollback at any depth rolls back the outermost transaction and makes
 *   the enclosing commits fail with KDC_ERR_STORE).
 * - Group commit: kdc_store_batch_begin() / _end() (below).
 * - A kdc_store is used by one thread at a time.
 */
#ifndef KDC_STORE_H
#define KDC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/limits.h"

struct kdc_store;

enum kdc_dev_status {
	KDC_DEV_ACTIVE = 0,
	KDC_DEV_REVOKED = 1,
};

enum kdc_cred_kind {
	KDC_KIND_MANUFACTURER = 0,
	KDC_KIND_OWNER = 1,
	KDC_KIND_OPERATIONAL = 2,
};

enum kdc_cred_type {
	KDC_TYPE_PSK = 0,
	KDC_TYPE_RPK = 1,
	KDC_TYPE_X509 = 2,
};

enum kdc_cred_status {
	KDC_CRED_ISSUED = 0,	/* live */
	KDC_CRED_PENDING = 1,	/* made, not yet acknowledged by the device */
	KDC_CRED_REVOKED = 2,
	KDC_CRED_SUPERSEDED = 3,
	KDC_CRED_EXPIRED = 4,
};

/* Text forms used in the schema, JSON and the CLI ("manufacturer", "psk",
 * "issued", ...). _parse returns -1 for an unknown string. */
const char	*kdc_cred_kind_str(enum kdc_cred_kind k);
const char	*kdc_cred_type_str(enum kdc_cred_type t);
const char	*kdc_cred_status_str(enum kdc_cred_status s);
const char	*kdc_dev_status_str(enum kdc_dev_status s);
int		 kdc_cred_kind_parse(const char *s);
int		 kdc_cred_type_parse(const char *s);
int		 kdc_cred_status_parse(const char *s);

struct kdc_device {
	int64_t			 id;		/* row id */
	char			 dev_id[KDC_DEVID_MAX + 1];
	char			 profile[KDC_NAME_MAX + 1];
	enum kdc_dev_status	 status;
	int64_t			 created;
	int64_t			 revoked_at;	/* 0 if not revoked */
};

/*
 * A credential row. Blobs are heap copies owned by the struct (NULL/0 when
 * absent); kdc_cred_free() wipes `wrapped` before freeing.
 *   identity	PSK identity (psk), else empty
 *   wrapped	PSK or private key, AES-256-GCM wrapped by crypto/ with the
 *		row id as associated data; NULL for public-only credentials
 *   secret_fp	keyed fingerprint of the PSK (HMAC, crypto/), for the
 *		"no two devices share a PSK" rule; NULL if no PSK
 *   spki	SubjectPublicKeyInfo DER (rpk, x509)
 *   spki_fp	SHA-256 of spki, for lookup by public key
 *   cert	certificate DER (x509)
 *   serial	certificate serial, hex (x509), else empty
 */
struct kdc_cred {
	int64_t			 id;
	int64_t			 device;	/* kdc_device.id */
	enum kdc_cred_kind	 kind;
	enum kdc_cred_type	 type;
	enum kdc_cred_status	 status;
	char			 audience[KDC_NAME_MAX + 1];	/* "" for manufacturer */
	char			 identity[KDC_PSK_IDENTITY_MAX + 1];
	uint8_t			*wrapped;
	size_t			 wrapped_len;
	uint8_t			*secret_fp;
	size_t			 secret_fp_len;
	uint8_t			*spki;
	size_t			 spki_len;
	uint8_t			*spki_fp;
	size_t			 spki_fp_len;
	uint8_t			*cert;
	size_t			 cert_len;
	char			 serial[2 * 20 + 1];
	int64_t			 not_before;	/* 0: no bound */
	int64_t			 not_after;	/* 0: no bound */
	int64_t			 created;
	int64_t			 status_at;	/* when status last changed */
	bool			 on_use;	/* pending until it first
						 * authenticates (EST), then
						 * issued (kdc_core_auth_cert) */
};

struct kdc_mfg_ca {
	int64_t		 id;
	char		 name[KDC_NAME_MAX + 1];
	uint8_t		*cert;		/* DER of the CA certificate */
	size_t		 cert_len;
	int64_t		 created;
};

/* The form of an operational PSK identity (core/issue.c). */
enum kdc_psk_id {
	KDC_PSK_ID_RANDOM,	/* 32 hex digits, 128 random bits */
	KDC_PSK_ID_NAMED,	/* "<dev_id>#<16 hex>" */
};

struct kdc_profile {
	char			 name[KDC_NAME_MAX + 1];
	enum kdc_cred_type	 cred_type;	/* operational credential type */
	char			 audience[KDC_NAME_MAX + 1];
	int64_t			 lifetime;	/* seconds */
	bool			 est;		/* cred_type x509 enrolled by the
						 * device over EST (config
						 * "x509-est", LwM2M mode 4) */
	/* operational PSKs: key length (KDC_PSK_MIN..KDC_PSK_GEN_MAX) and
	 * the form of their identity */
	int			 psk_key_len;
	enum kdc_psk_id		 psk_identity;
};

/*
 * An audience: a service that accepts operational credentials
 * (credentials carry its name). KDC_AUD_LWM2M is the built-in LwM2M
 * Server, which is not stored (core lists it); the others are rows.
 */
enum kdc_audience_kind {
	KDC_AUD_LWM2M = 0,		/* "lwm2m": the built-in LwM2M Server */
	KDC_AUD_LWM2M_EXTERNAL = 1,	/* "lwm2m-external": coaps:// URI, ssid */
	KDC_AUD_MQTT = 2,		/* "mqtt": an MQTT broker, mqtts:// */
	KDC_AUD_ACE_RS = 3,		/* "ace-rs": an ACE resource server */
	KDC_AUD_OCF_DEVICE = 4,		/* "ocf-device": an owned OCF device
					 * (core/ocf.h), made by core only */
};
const char	*kdc_audience_kind_str(enum kdc_audience_kind k);
int		 kdc_audience_kind_parse(const char *s);

#define KDC_AUDIENCE_URI_MAX	255

struct kdc_audience {
	char			 name[KDC_NAME_MAX + 1];
	enum kdc_audience_kind	 kind;
	char			 uri[KDC_AUDIENCE_URI_MAX + 1];	/* "" if none */
	int			 ssid;		/* LwM2M Short Server ID; 0: none */
	int64_t			 created;
};

/*
 * An audit record. hash = MAC(prev_hash || encoding of the other fields),
 * computed by core/audit.c; the store only keeps rows in seq order.
 */
struct kdc_audit_rec {
	int64_t		 seq;		/* 1, 2, 3, ... assigned by the store */
	int64_t		 ts;
	char		 actor[KDC_NAME_MAX + 1];	/* "cli", "http", "coap", ... */
	char		 action[KDC_NAME_MAX + 1];	/* "device.add", "cred.revoke", ... */
	char		 subject[KDC_DEVID_MAX + 1];	/* device id, cred id, ... */
	char		 outcome[KDC_NAME_MAX + 1];	/* "ok" or a kdc_err_name() */
	char		 detail[KDC_AUDIT_DETAIL_MAX + 1];
	uint8_t		 prev_hash[32];
	uint8_t		 hash[32];
};

/* Filters for kdc_store_cred_list(); zero/empty fields match everything. */
struct kdc_cred_filter {
	int64_t		 device;		/* 0: any */
	int		 kind;			/* -1: any */
	int		 status;		/* -1: any */
	int64_t		 expiring_before;	/* 0: any; else not_after != 0 && not_after < this */
};

/* ---- lifetime ---------------------------------------------------------- */

/*
 * Open the store at `path` (SQLite file), creating it if `create` is
 * non-zero, and run schema migrations. Refuses a file that is not an
 * iotkdc database (KDC_ERR_STORE_CORRUPT) or has a newer schema version
 * (KDC_ERR_STORE_VERSION). Without `create`, a missing file is
 * KDC_ERR_NOT_FOUND.
 */
kdc_err	kdc_store_open(const char *path, int create, struct kdc_store **out);
/* NULL-safe. */
void	kdc_store_close(struct kdc_store *st);
/*
 * For a long-running process (serve), once, before any store is opened:
 * process-wide engine settings for throughput. SQLite: no memory
 * statistics (they take a global mutex on every allocation of every
 * connection). Too late after the first open: then it changes nothing.
 */
void	kdc_store_process_init(void);
/*
 * Look for damage in the open store: the engine's structural check, which
 * reads all of it (SQLite: PRAGMA quick_check, every page readable and
 * well-formed; it does not match index entries to rows). For a process
 * start (serve), not for a request. KDC_OK when clean;
 * KDC_ERR_STORE_CORRUPT when damaged, with the first finding copied to
 * why (NUL-terminated, truncated to cap; why may be NULL); other errors
 * as for any read (KDC_ERR_STORE_BUSY, KDC_ERR_IO, KDC_ERR_NOMEM).
 * Damage found leaves the files as they are when the store closes (no
 * checkpoint of the log into the database file, the log not deleted).
 */
kdc_err	kdc_store_check(struct kdc_store *st, char *why, size_t cap);
/* Cheap liveness check (health endpoint): a read, and the store's path
 * still names the file open (KDC_ERR_STORE_GONE when it was removed or
 * replaced under us: commits would go to a file nobody reads again). */
kdc_err	kdc_store_ping(struct kdc_store *st);
/* The schema version of the open store. */
int	kdc_store_schema_version(struct kdc_store *st);

kdc_err	kdc_store_begin(struct kdc_store *st);
kdc_err	kdc_store_commit(struct kdc_store *st);
void	kdc_store_rollback(struct kdc_store *st);

/*
 * Group commit (a batch), for a thread that holds what it sends until a
 * point of its own (serve's engine threads: the end of a loop step).
 * Between kdc_store_batch_begin() and kdc_store_batch_end(), each
 * outermost kdc_store_begin() .. _commit() is a savepoint inside one
 * write transaction that the first of them opens; a rollback, or a
 * commit that an inner rollback doomed, undoes that operation alone.
 * Calls between operations run inside the open transaction (they see
 * its writes). The transaction commits at kdc_store_batch_end(), or
 * earlier at the end of an operation when another connection of this
 * process waits for the write lock, KDC_STORE_BATCH_OPS operations ran
 * in it or it is KDC_STORE_BATCH_MS old; a later operation opens the
 * next. Nothing of a batch is visible to other connections, or durable,
 * before its commit: a caller sends nothing that depends on it before
 * kdc_store_batch_end() returned KDC_OK (and, with deferred syncs, the
 * sync after it).
 * Errors: _begin: KDC_ERR_INVALID_ARG inside a transaction or a batch.
 * _end: KDC_OK (also without a batch); else the first commit of the
 * batch that failed (KDC_ERR_STORE, KDC_ERR_STORE_BUSY, KDC_ERR_IO,
 * KDC_ERR_NOMEM, ...), or KDC_ERR_STORE when the engine rolled the
 * transaction back by itself: operations that returned KDC_OK since the
 * batch began may be lost (the caller drops what it held). An
 * operation whose early commit failed returns that error itself.
 */
#define KDC_STORE_BATCH_OPS	64
#define KDC_STORE_BATCH_MS	5
kdc_err	kdc_store_batch_begin(struct kdc_store *st);
kdc_err	kdc_store_batch_end(struct kdc_store *st);

/*
 * Whether commits succeed, for the whole process (every connection):
 * KDC_OK while the last outermost commit succeeded (or none ran yet);
 * else the error of the failing ones (a full disk: KDC_ERR_IO), with
 * *since_ms (may be NULL) when they began (monotonic ms, base/clock.h).
 * A commit refused as busy does not count. The change each way is logged
 * once (warn, then info).
 */
kdc_err	kdc_store_write_state(int64_t *since_ms);

/*
 * Group durability, for a connection that hands out what it commits in
 * batches (serve's CoAP thread, whose outgoing requests wait for the end
 * of each engine step). By default every COMMIT is durable before it
 * returns. With kdc_store_defer_sync(st, true) a COMMIT no longer syncs:
 * the store stays consistent after a crash but may lose its last commits
 * to a power loss, until kdc_store_sync() makes every commit so far
 * durable at once (one fsync of the write-ahead log, none when nothing
 * was committed since the last). The caller syncs (force) before
 * anything those commits issued leaves the process; without force the
 * sync runs only once the oldest commit not yet synced is
 * KDC_STORE_SYNC_DELAY_MS old, which bounds what a power loss may take
 * of the commits that issued nothing (an activation, a registration, an
 * audit record). Both outside a transaction (KDC_ERR_INVALID_ARG inside
 * one); sync: KDC_ERR_IO when the disk refuses.
 */
kdc_err	kdc_store_defer_sync(struct kdc_store *st, bool on);
kdc_err	kdc_store_sync(struct kdc_store *st, bool force);
/*
 * The same sync, run on another thread (core/syncer.c): a handle of its
 * own on the store's log, made on the connection's thread with deferred
 * syncs on. kdc_store_sync_mark(), on the connection's thread outside a
 * transaction: true when something was committed since the last mark or
 * sync (a kdc_store_syncfd_run() that starts after it covers it).
 * kdc_store_syncfd_run(), on any thread: one sync of the log; KDC_ERR_IO
 * when the disk refuses. A store without such a log (every commit
 * durable) gives fd -1, and marks nothing.
 */
kdc_err	kdc_store_syncfd_open(struct kdc_store *st, int *fd);
bool	kdc_store_sync_mark(struct kdc_store *st);
kdc_err	kdc_store_syncfd_run(int fd);

/* ---- meta: small key/value settings (e.g. audit head) ------------------ */

kdc_err	kdc_store_meta_get(struct kdc_store *st, const char *key, char **out);
kdc_err	kdc_store_meta_set(struct kdc_store *st, const char *key, const char *val);

/* ---- devices ----------------------------------------------------------- */

/* Insert; sets dev->id and dev->created (if 0: now). KDC_ERR_EXISTS if
 * dev_id is taken. The profile is a name iotkdc.conf defines (core checks
 * it; the store keeps no copy of the profiles). */
kdc_err	kdc_store_device_add(struct kdc_store *st, struct kdc_device *dev);
/* KDC_ERR_NOT_FOUND if absent. */
kdc_err	kdc_store_device_get(struct kdc_store *st, const char *dev_id,
	    struct kdc_device **out);
kdc_err	kdc_store_device_get_by_id(struct kdc_store *st, int64_t id,
	    struct kdc_device **out);
/* All devices ordered by dev_id. *out is an array of *n pointers. */
kdc_err	kdc_store_device_list(struct kdc_store *st, struct kdc_device ***out,
	    size_t *n);
/* Set status (and revoked_at = now when revoking). NOT_FOUND if absent. */
kdc_err	kdc_store_device_set_status(struct kdc_store *st, int64_t id,
	    enum kdc_dev_status status);
/* Delete the device and its credentials (ON DELETE CASCADE). */
kdc_err	kdc_store_device_delete(struct kdc_store *st, int64_t id);
void	kdc_device_free(struct kdc_device *dev);
void	kdc_device_list_free(struct kdc_device **v, size_t n);

/* ---- credentials ------------------------------------------------------- */

/* Insert; sets cred->id, created and status_at. Blobs are copied. */
kdc_err	kdc_store_cred_add(struct kdc_store *st, struct kdc_cred *cred);
/* Replace the wrapped secret of row id (the AAD needs the id first). */
kdc_err	kdc_store_cred_set_wrapped(struct kdc_store *st, int64_t id,
	    const uint8_t *wrapped, size_t len);
kdc_err	kdc_store_cred_get(struct kdc_store *st, int64_t id,
	    struct kdc_cred **out);
/* The live operational credential of device for audience in status
 * (KDC_CRED_ISSUED or KDC_CRED_PENDING; anything else is
 * KDC_ERR_INVALID_ARG): at most one exists (the schema's unique partial
 * indexes). NOT_FOUND if none. One index lookup, whatever the history. */
kdc_err	kdc_store_cred_get_live(struct kdc_store *st, int64_t device,
	    const char *audience, enum kdc_cred_status status,
	    struct kdc_cred **out);
/* The newest credential with this PSK identity that is issued or pending;
 * if none, the newest in any status (so callers can tell revoked/expired
 * from unknown). NOT_FOUND if none at all. */
kdc_err	kdc_store_cred_get_by_identity(struct kdc_store *st,
	    const char *identity, struct kdc_cred **out);
/* Same, by SHA-256 of the SPKI. */
kdc_err	kdc_store_cred_get_by_spki_fp(struct kdc_store *st,
	    const uint8_t fp[32], struct kdc_cred **out);
/* KDC_OK if a live (issued or pending) PSK with this fingerprint exists on
 * a device other than `except_device` (0: any), else KDC_ERR_NOT_FOUND. */
kdc_err	kdc_store_cred_find_secret_fp(struct kdc_store *st,
	    const uint8_t *fp, size_t fp_len, int64_t except_device);
kdc_err	kdc_store_cred_list(struct kdc_store *st,
	    const struct kdc_cred_filter *f, struct kdc_cred ***out, size_t *n);
/* Set status and status_at = now. KDC_ERR_LIVE_CRED if that would make two
 * live operational credentials for one device+audience. */
kdc_err	kdc_store_cred_set_status(struct kdc_store *st, int64_t id,
	    enum kdc_cred_status status);
/* Mark the operational credentials of device+audience that are in status
 * `from` (KDC_CRED_ISSUED or KDC_CRED_PENDING) superseded, in one
 * statement; *n = how many. */
kdc_err	kdc_store_cred_supersede(struct kdc_store *st, int64_t device,
	    const char *audience, enum kdc_cred_status from, size_t *n);
/* One entry of the CA's CRL. */
struct kdc_crl_entry {
	char		 serial[2 * 20 + 1];	/* hex, as the certificate has it */
	int64_t		 revoked_at;		/* the row's status_at */
};
/* What the CRL lists: every operational X.509 credential revoked or
 * superseded whose certificate has not expired at `now` (not_after >
 * now; such rows always carry their certificate's), oldest row first. Reads only an index (no certificate
 * blobs). *out: one heap block (kdc_free), NULL when *n is 0. */
kdc_err	kdc_store_crl_entries(struct kdc_store *st, int64_t now,
	    struct kdc_crl_entry **out, size_t *n);
/* fn(arg, id) for every credential revoked or expired at or after `since`
 * (its status_at), through an index on those rows alone: what a daemon
 * must close the live sessions of (core/revoke.h). fn must not call the
 * store. */
kdc_err	kdc_store_cred_ended_since(struct kdc_store *st, int64_t since,
	    void (*fn)(void *arg, int64_t cred_id), void *arg);
/* Mark every issued/pending credential with not_after != 0 && not_after <=
 * now as expired; *n = how many (their ids in *ids, caller frees). */
kdc_err	kdc_store_cred_expire(struct kdc_store *st, int64_t now,
	    int64_t **ids, size_t *n);
void	kdc_cred_free(struct kdc_cred *cred);
void	kdc_cred_list_free(struct kdc_cred **v, size_t n);

/* ---- manufacturer CAs -------------------------------------------------- */

kdc_err	kdc_store_mfg_ca_add(struct kdc_store *st, struct kdc_mfg_ca *ca);
kdc_err	kdc_store_mfg_ca_list(struct kdc_store *st, struct kdc_mfg_ca ***out,
	    size_t *n);
void	kdc_mfg_ca_free(struct kdc_mfg_ca *ca);
void	kdc_mfg_ca_list_free(struct kdc_mfg_ca **v, size_t n);

/* ---- audiences --------------------------------------------------------- */

/* Insert; sets a->created (if 0: now). EXISTS if the name is taken;
 * DUPLICATE_SSID if another audience has a->ssid (0: none, never
 * taken); INVALID_ARG for a kind the store does not keep (KDC_AUD_LWM2M),
 * an empty name or ssid out of 0..65534. The caller validates names and
 * URIs (core). */
kdc_err	kdc_store_audience_add(struct kdc_store *st,
	    struct kdc_audience *a);
/* By name into *out (caller's storage). NOT_FOUND if none. */
kdc_err	kdc_store_audience_get(struct kdc_store *st, const char *name,
	    struct kdc_audience *out);
/* All, ordered by name: *out an array of *n structs (kdc_free; NULL when
 * *n is 0). */
kdc_err	kdc_store_audience_list(struct kdc_store *st,
	    struct kdc_audience **out, size_t *n);

/* ---- audit ------------------------------------------------------------- */

/* The last record (highest seq); KDC_ERR_NOT_FOUND if the log is empty. */
kdc_err	kdc_store_audit_last(struct kdc_store *st, struct kdc_audit_rec *out);
/* The last record's seq and hash alone (what the next record chains to);
 * KDC_ERR_NOT_FOUND if the log is empty. */
kdc_err	kdc_store_audit_head(struct kdc_store *st, int64_t *seq,
	    uint8_t hash[32]);
/* Append rec with rec->seq = last seq + 1 (set on return). */
kdc_err	kdc_store_audit_append(struct kdc_store *st, struct kdc_audit_rec *rec);
/* Calls fn for each record in seq order from `from_seq`; stops early and
 * returns fn's result if fn returns non-KDC_OK. */
typedef kdc_err (*kdc_store_audit_fn)(const struct kdc_audit_rec *rec,
	    void *arg);
kdc_err	kdc_store_audit_foreach(struct kdc_store *st, int64_t from_seq,
	    kdc_store_audit_fn fn, void *arg);

#endif
