/*
 * core_int.h: what the rooms of core/ share, for the files of core/ only. The
 * public contract is core.h; nothing here is seen by a face.
 *
 * Rooms: core.c (lifetime, clock, audit, CAs), registry.c (devices and
 * their manufacturer credentials), auth.c (principals from handshakes),
 * authz.c (the one authorization decision), issue.c (the issuance
 * pipeline and the credential lifecycle), enroll.c (EST), crl.c (the
 * revocation generation and the CRL), lwm2m_reg.c (LwM2M Server
 * registrations, kept for that face), audience.c (the audiences and
 * which a profile lists).
 */
#ifndef KDC_CORE_INT_H
#define KDC_CORE_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "store/ace.h"

struct kdc_core {
	struct kdc_store		*st;
	struct kdc_keyring		*kr;
	struct kdc_ca			*ca;
	const struct kdc_config		*cfg;	/* read through core_cfg() */
	/* kdc_core_follow_config(): the configuration serve swaps on
	 * SIGHUP; NULL: cfg, for the core's life */
	_Atomic(const struct kdc_config *) *live;
	int64_t				(*now)(void);
	/* token bucket for audited refusals of unauthenticated peers */
	int64_t				 unauth_at;	/* last refill, s */
	long				 unauth_tokens;
	long				 unauth_dropped;	/* since last record */
	/* the last CRL built (kdc_core_crl), for revocation generation
	 * crl_gen, valid until crl_next */
	uint8_t				*crl;
	size_t				 crl_len;
	int64_t				 crl_gen;
	int64_t				 crl_next;
	/* an issuance committed since the last kdc_core_sync() */
	bool				 issued_unsynced;
	/* the ACE AS key (core/ace.c), owned when the core loaded it */
	struct kdc_as_key		*as_key;
	bool				 as_key_owned;
	/* what token requests read from the store, kept between them
	 * (ace_cache.c), valid while the revocation generation is ace_gen */
	struct core_ace_cache		*ace_cache;
	int64_t				 ace_gen;
};

/* The configuration in effect: the one serve swapped in last, else the
 * one the core was made with. One request may read it more than once and
 * see two: an older one stays valid until serve exits (serve.c). */
static inline const struct kdc_config *
core_cfg(const struct kdc_core *core)
{
	return core->live != NULL ? atomic_load(core->live) : core->cfg;
}

/* ---- core.c: audit ------------------------------------------------------ */

/* Append an audit record; a failure to audit is logged, and returned. */
kdc_err	core_audit_rec(struct kdc_core *core, const char *actor,
	    const char *action, const char *subject, kdc_err outcome,
	    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
#define AUDIT(core, actor, action, subject, outcome, ...)		\
	core_audit_rec((core), (actor), (action), (subject), (outcome),	\
	    __VA_ARGS__)
/*
 * A refusal of a peer that has not authenticated (auth.*). Anyone can
 * cause these, so they are audited through a token bucket
 * (KDC_AUDIT_UNAUTH_RATE per second, KDC_AUDIT_UNAUTH_BURST at once): a
 * flood of bad handshakes cannot fill the disk. What the bucket drops is
 * counted, and the next record that is written says how many.
 */
void	core_audit_unauth(struct kdc_core *core, const char *actor,
	    const char *action, const char *subject, kdc_err outcome,
	    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* The wrapping AAD of a credential row: its id. */
size_t	core_cred_aad(int64_t id, char *buf, size_t cap);

/* ---- registry.c ------------------------------------------------------- */

/* A profile or CA name: [A-Za-z0-9._-], 1..KDC_NAME_MAX. */
int	core_name_ok(const char *s);

/* ---- audience.c --------------------------------------------------------- */

/* The entry of profile for audience (NULL: its primary entry), the
 * audience registered (or the built-in): UNKNOWN_PROFILE,
 * UNKNOWN_AUDIENCE. */
kdc_err	core_profile_audience(struct kdc_core *core, const char *profile,
	    const char *audience, const struct kdc_profile **prof);

/* ---- authz.c ----------------------------------------------------------- */

/* kdc_authorize() without the audit (the caller audits, e.g. an EST
 * refusal with its own record); *row (optional) gets the principal's
 * credential row when the rule read it (else NULL). */
kdc_err	core_authorize(struct kdc_core *core,
	    const struct kdc_principal *who, enum kdc_action act,
	    const char *target, char *why, size_t why_len,
	    struct kdc_cred **row);

/* ---- crl.c: the revocation generation ----------------------------------- */

/* Store meta key: bumped in the transaction of every revocation, so every
 * core (each thread, each process) sees that its cached CRL is stale. */
#define CRL_GEN_KEY	"crl_gen"
/* The generation (0 if never set). */
kdc_err	core_crl_gen_get(struct kdc_core *core, int64_t *gen);
/* Bump it; call inside the revocation's transaction. */
kdc_err	core_crl_gen_bump(struct kdc_core *core);
/* A counter in the store's meta: read (0 if unset), bumped in the
 * caller's transaction. */
kdc_err	core_meta_counter(struct kdc_core *core, const char *key,
	    int64_t *gen);
kdc_err	core_meta_bump(struct kdc_core *core, const char *key);
/* Bumped by every device deletion (revoke.h kdc_core_deletion_gen()). */
#define DELETE_GEN_KEY	"delete_gen"

/* ---- revoke.c ------------------------------------------------------------ */

/* kdc_core_principal_check(); on success *not_after is the credential's
 * (0: none), the one thing about it that can end it with no revocation. */
kdc_err	core_principal_check(struct kdc_core *core, int64_t cred_id,
	    int64_t device, int64_t *not_after);

/* ---- ace.c --------------------------------------------------------------- */

/* Revoke every token of device (its revocation), in the caller's
 * transaction; the caller bumps the revocation generation. */
kdc_err	core_ace_device_revoked(struct kdc_core *core, int64_t device);

/* ---- ace_cache.c: the rows token requests read, kept per core ----------- */

/*
 * What a token request read from the store and found usable: a principal
 * (credential id + device: not revoked, deleted or expired; its not_after),
 * a resource server row, a live grant. Only rows read inside a write
 * transaction go in, and only while core->ace_gen is the revocation
 * generation that transaction read; core/ace.c drops the whole cache when
 * it reads another (ace.c tok_begin() says why that is enough). Nothing
 * refused is kept: a row added later is read at the next request. Bounded
 * (direct-mapped: a colliding key replaces the older entry); no lock: a
 * core is one thread's.
 */
void	core_ace_cache_drop(struct kdc_core *core);
void	core_ace_cache_free(struct kdc_core *core);
bool	core_ace_cache_principal(struct kdc_core *core, int64_t cred_id,
	    int64_t device, int64_t *not_after);
void	core_ace_cache_principal_put(struct kdc_core *core, int64_t cred_id,
	    int64_t device, int64_t not_after);
/* *out: a copy (kdc_ace_rs_row_free()); NOT_FOUND if not kept, NOMEM. */
kdc_err	core_ace_cache_rs(struct kdc_core *core, const char *aud,
	    struct kdc_ace_rs_row **out);
void	core_ace_cache_rs_put(struct kdc_core *core,
	    const struct kdc_ace_rs_row *rs);
bool	core_ace_cache_grant(struct kdc_core *core, int64_t device,
	    const char *aud, struct kdc_ace_grant_row *out);
void	core_ace_cache_grant_put(struct kdc_core *core,
	    const struct kdc_ace_grant_row *g);

/* ---- issue.c: the issuance pipeline ------------------------------------- */

/*
 * How a new operational credential's status is chosen. ISSUE_NOW and
 * ISSUE_PENDING take ISSUED and PENDING as asked. ISSUE_ON_USE (EST):
 * pending and flagged to go live at its first authentication while the
 * device has an issued one for the audience (that one stays usable until
 * then), else issued at once; also at once when the issued one has the
 * same key (a renewal without rekey).
 */
enum issue_mode { ISSUE_NOW, ISSUE_PENDING, ISSUE_ON_USE, ISSUE_BAD };

/* The device, if usable for issuance, and its profile's entry for
 * audience (NULL: the primary one); refusals audited by the caller. */
kdc_err	core_device_for_issue(struct kdc_core *core, const char *dev_id,
	    const char *audience, struct kdc_device **dev,
	    const struct kdc_profile **prof);
/* A new operational credential on its way through the pipeline: the
 * caller fills the request, core_issue() the answer. */
struct issuance {
	const struct kdc_device		*dev;
	const struct kdc_profile	*prof;		/* its audience */
	enum kdc_cred_type		 type;
	enum issue_mode			 mode;
	const char			*action;	/* the success record's */
	const char			*identity;	/* PSK */
	const uint8_t			*secret;	/* PSK key; borrowed */
	size_t				 secret_len;
	const uint8_t			*spki;		/* RPK, X.509 */
	size_t				 spki_len;
	const struct kdc_issued		*is;		/* X.509 */
	int64_t				 not_before;
	int64_t				 not_after;
	bool				 keygen;	/* the KDC made the key */
	bool				 no_fp;		/* no keyed fingerprint
					 * (an OCF pairwise PSK: one key on
					 * two devices by design) */
	const char			*note;		/* ends the record */
	/* the answer */
	int64_t				 cred_id;
	bool				 pending;
};

/* The pipeline's one transaction (issue.c); nothing audited on failure:
 * the caller does. */
kdc_err	core_issue(struct kdc_core *core, const char *actor,
	    struct issuance *iss);
/* The request for a certificate the CA signed (is) for dev. */
void	core_issuance_cert(struct issuance *iss, const struct kdc_device *dev,
	    const struct kdc_profile *prof, const struct kdc_issued *is,
	    int64_t not_before, int64_t not_after, enum issue_mode mode);
/* A credential row and its secret (wrapped under the row's id; none when
 * secret_len is 0), inside the caller's transaction. */
kdc_err	core_cred_insert(struct kdc_core *core, struct kdc_cred *cred,
	    const uint8_t *secret, size_t secret_len);

/* ocf.c: the live credentials for OCF audience aud revoked, inside the
 * caller's transaction (device revoke, offboarding). */
kdc_err	core_ocf_audience_revoke(struct kdc_core *core, const char *actor,
	    const char *aud, size_t *revoked);

#endif
