/*
 * core/tdd.h: the Thing Directory (W3C WoT Discovery, REC 2023-12-05),
 * with Thing Descriptions treated as personal data. The HTTP face
 * (src/tdd/face.c) is glue over this contract.
 *
 * Model. A TD is registered by an authenticated principal (a device or
 * a user, struct kdc_principal), which owns it. The owner's consent is
 * recorded with it: a purpose, who may read it (readers: device ids,
 * "user.NAME" ids of people, "group:NAME"), and a retention period that
 * caps the TD's lifetime (expires is never later than consented +
 * retention; no ttl means it). The owner may read, replace, patch and
 * delete it; a reader may read it (GET, listing, search, events); nobody
 * else learns it exists (NOT_FOUND, as for a TD that does not exist).
 * Every read by someone other than the owner is audited; the audit names
 * the TD by its number ("td#N"), never by its id, so an erased TD leaves
 * no id behind. Deleting a TD (or withdrawing consent) erases it and its
 * event history; the database's freed pages are zeroed and the WAL
 * truncated (kdc_store_tdd_scrub()).
 *
 * Validation before storage: the TD 1.1 JSON Schema, the Discovery
 * registration schema and the TD spot checks (tdd/tdcheck.h); a failure
 * is INVALID_ARG with res->verrs filled. Every accepted TD is linted
 * (tdd/lint.h); in strict mode a finding refuses it (INVALID_ARG,
 * res->strict set).
 *
 * Threads: every function takes the directory's lock; the directory
 * uses the core it was given (its own store connection) from any thread
 * that calls it.
 */
#ifndef KDC_CORE_TDD_H
#define KDC_CORE_TDD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"
#include "core/core.h"
#include "store/tdd.h"
#include "tdd/jschema.h"
#include "tdd/lint.h"

#define KDC_TDD_GROUPS_MAX	512	/* a caller's groups, bytes */
#define KDC_TDD_LIST_MAX	1000	/* TDs per listing page at most */
#define KDC_TDD_SEARCH_BUDGET	(1u << 22)	/* JSONPath nodes per query */

struct kdc_tdd;

struct kdc_tdd_opts {
	int64_t		 max_ttl;		/* s; a longer ttl is cut */
	int64_t		 retention_default;	/* s, when consent names none */
	int64_t		 retention_max;		/* s */
	bool		 strict_lint;		/* refuse TDs with findings */
	size_t		 events_keep;		/* events kept for replay */
	size_t		 result_max;		/* bytes of a search answer */
};

/* Borrow core (its store must be SQLite). Loads the index and the kept
 * events. UNSUPPORTED, NOMEM, STORE, or the schema checker's error. */
kdc_err	kdc_tdd_new(struct kdc_core *core, const struct kdc_tdd_opts *o,
	    struct kdc_tdd **out);
void	kdc_tdd_free(struct kdc_tdd *t);

/* Who asks: the principal and its groups. */
struct kdc_tdd_caller {
	int64_t		 device;
	char		 dev_id[KDC_DEVID_MAX + 1];
	char		 groups[KDC_TDD_GROUPS_MAX];	/* space-separated */
};
/* UNKNOWN_DEVICE for a principal without a device; STORE. */
kdc_err	kdc_tdd_caller(struct kdc_tdd *t, const struct kdc_principal *p,
	    struct kdc_tdd_caller *out);

struct kdc_tdd_consent {
	bool		 given;
	char		 purpose[KDC_TDD_PURPOSE_MAX + 1];
	char		 readers[KDC_TDD_READERS_MAX + 1];	/* space-sep. */
	int64_t		 retention;	/* s; 0: the default */
};

struct kdc_tdd_result {
	bool		 created;
	bool		 strict;	/* refused by the strict lint */
	char		 id[KDC_TDD_ID_MAX + 1];
	char		 why[200];	/* a 400's reason, no TD content */
	struct kdc_verrs verrs;
	struct kdc_lint	 lint[KDC_LINT_MAX];
	size_t		 nlint;
};

/*
 * Register or replace. id NULL: an anonymous TD (POST /things): it must
 * have no "id"; the directory gives it urn:uuid:<v4>. Else the body's id
 * must be id. Replacing needs the owner (DENIED; NOT_FOUND when the
 * caller may not even read it); consent NULL or not given keeps the
 * consent of a TD replaced, and records the default one for a new TD.
 * INVALID_ARG (res->why, res->verrs), TOO_LARGE.
 */
kdc_err	kdc_tdd_put(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
	    const char *id, const char *body, size_t len,
	    const struct kdc_tdd_consent *consent, struct kdc_tdd_result *res);
/*
 * Bulk load (a directory filled from elsewhere; the benchmark): register
 * the n new TDs bodies[i] (lens[i] bytes, each with its "id") for c, with
 * consent (NULL or not given: the default one), validated and linted as
 * kdc_tdd_put() does, in one transaction; the index follows. All or
 * nothing: the first refusal rolls the batch back and is returned with
 * res about that TD (res->id names it; EXISTS for an id already stored,
 * else kdc_tdd_put()'s errors). No events are recorded or sent (a load,
 * not registrations a subscriber follows); one audit record for the
 * batch ("tdd.import", the TD numbers' range); the collection's etag
 * changes.
 */
kdc_err	kdc_tdd_import(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
	    const char *const *bodies, const size_t *lens, size_t n,
	    const struct kdc_tdd_consent *consent,
	    struct kdc_tdd_result *res);
/* RFC 7396 merge patch of the owner's TD; the result is validated.
 * NOT_FOUND, DENIED, INVALID_ARG. */
kdc_err	kdc_tdd_patch(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
	    const char *id, const char *body, size_t len,
	    struct kdc_tdd_result *res);
/* The Enriched TD (registration info, Discovery context): *json heap.
 * NOT_FOUND. */
kdc_err	kdc_tdd_get(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
	    const char *id, char **json, size_t *len);
/* Delete and erase (the owner only): NOT_FOUND, DENIED. */
kdc_err	kdc_tdd_delete(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
	    const char *id);
/* The consent of the owner's TD as JSON {"purpose","readers":[...],
 * "retention","consented"}; set replaces it (retention capped by the
 * configuration; expires recomputed). NOT_FOUND, DENIED, INVALID_ARG. */
kdc_err	kdc_tdd_consent_get(struct kdc_tdd *t,
	    const struct kdc_tdd_caller *c, const char *id, char **json,
	    size_t *len);
kdc_err	kdc_tdd_consent_set(struct kdc_tdd *t,
	    const struct kdc_tdd_caller *c, const char *id,
	    const struct kdc_tdd_consent *consent);
/* The TDs the caller may read, ordered by id, as a JSON array of
 * Enriched TDs: [offset, offset + limit) (limit 0 or above
 * KDC_TDD_LIST_MAX: KDC_TDD_LIST_MAX). *total: how many it may read. */
kdc_err	kdc_tdd_list(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
	    size_t offset, size_t limit, char **json, size_t *len,
	    size_t *total);
/* JSONPath (RFC 9535) over the array of the TDs the caller may read
 * (ordered by id): a JSON array of the result nodes. INVALID_ARG (why:
 * the syntax error), TOO_LARGE (the query's work budget, or the answer
 * past result_max). */
kdc_err	kdc_tdd_search(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
	    const char *query, size_t qlen, char **json, size_t *len,
	    char *why, size_t why_len);
/* The collection's version: changes with every create and delete
 * (Link rel=canonical etag). */
void	kdc_tdd_etag(struct kdc_tdd *t, char *buf, size_t cap);
/* Erase the TDs past their expiry (with a thing_deleted event each).
 * *n = how many. */
kdc_err	kdc_tdd_sweep(struct kdc_tdd *t, size_t *n);
/* How many TDs are stored. */
size_t	kdc_tdd_count(struct kdc_tdd *t);

/* ---- events (Server-Sent Events) ---------------------------------- */

#define KDC_TDD_EV_MASK_ALL	7u	/* 1 << enum kdc_tdd_event_type */

struct kdc_tdd_sub;
/*
 * Follow the events of types in mask (1 << KDC_TDD_EV_*) that the caller
 * may see (it owns or reads the TD the event is about, as of the event),
 * from after last_id (-1 or an id past the newest event: only new ones;
 * an id older than those kept: from the oldest kept). wake(warg) is called (under the directory's
 * lock, from whichever thread made the event) when one may be ready.
 */
kdc_err	kdc_tdd_subscribe(struct kdc_tdd *t, const struct kdc_tdd_caller *c,
	    unsigned mask, bool diff, int64_t last_id, void (*wake)(void *),
	    void *warg, struct kdc_tdd_sub **out);
/* Write whole SSE frames ("event:", "data:", "id:") into buf: the number
 * of bytes, 0 when none is ready, -1 when buf cannot take the next. */
ssize_t	kdc_tdd_sub_read(struct kdc_tdd *t, struct kdc_tdd_sub *s,
	    char *buf, size_t max);
void	kdc_tdd_unsubscribe(struct kdc_tdd *t, struct kdc_tdd_sub *s);

/* ---- people -------------------------------------------------------- */

#define KDC_USER_PREFIX		"user."
/* the implicit audience of people's client certificates */
#define KDC_AUDIENCE_PEOPLE	"people"

/* A person as a principal: the registry device "user.NAME" (its
 * certificate issued by kdc_core_cert_sign() like a device's) and the
 * user row, with groups (space-separated, may be NULL). NAME:
 * [a-z0-9._-], 1..KDC_USER_NAME_MAX. EXISTS, INVALID_ARG. */
kdc_err	kdc_core_user_add(struct kdc_core *core, const char *actor,
	    const char *name, const char *groups);
/* The device id of user name ("user.NAME"): INVALID_ARG, NOT_FOUND. */
kdc_err	kdc_core_user_dev_id(struct kdc_core *core, const char *name,
	    char *dev_id, size_t cap);
kdc_err	kdc_core_users(struct kdc_core *core, kdc_user_fn fn, void *arg);
/* A client certificate for user name from a PKCS#10 CSR (DER), for days
 * (0: 365; at most 3650), CN "user.NAME": *cert DER, heap. UNKNOWN_DEVICE
 * (no such user), REVOKED, INVALID_ARG, BAD_SIGNATURE. */
kdc_err	kdc_core_user_cert(struct kdc_core *core, const char *actor,
	    const char *name, const uint8_t *csr, size_t csr_len,
	    unsigned days, uint8_t **cert, size_t *cert_len);

/* Set user name's password for HTTP basic (legacy clients of the
 * directory, [tdd] basic): an Argon2id hash of pw is stored, never pw.
 * UNKNOWN_DEVICE (no such user), INVALID_ARG (length outside
 * KDC_PW_MIN..KDC_PW_MAX). Audited. */
kdc_err	kdc_core_user_passwd(struct kdc_core *core, const char *actor,
	    const char *name, const char *pw, size_t len);
/* HTTP basic: the user's principal when pw is its password and the user
 * is not revoked. UNTRUSTED (unknown user, no password, wrong password:
 * one answer, about the same time), REVOKED, STORE. */
kdc_err	kdc_core_user_basic(struct kdc_core *core, const char *name,
	    const char *pw, size_t len, struct kdc_principal *who);

#endif
