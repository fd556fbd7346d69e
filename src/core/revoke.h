/*
 * revoke.h: what a daemon needs to let a revocation reach sessions that
 * were authenticated before it (docs/design.md "Revocation reaches live
 * sessions"). The CLI and `serve` share only the data dir: every
 * revocation bumps a generation in the store's meta in its own
 * transaction (core.h kdc_core_crl()), which the daemon polls
 * (kdc_core_revocation_gen()) and, when it moved, checks each live
 * session's principal again (kdc_core_principal_check()).
 */
#ifndef KDC_REVOKE_H
#define KDC_REVOKE_H

#include <stdint.h>

#include "base/err.h"
#include "core/core.h"

/*
 * The store's revocation generation (0 if no revocation ever happened):
 * bumped in the transaction of every revocation, device revocation and
 * supersede, by any process. One meta read. STORE_CORRUPT if the value
 * does not parse; a store error as it comes.
 */
kdc_err	kdc_core_revocation_gen(struct kdc_core *core, int64_t *gen);
/* Bumped in the transaction of every device deletion, by any process
 * (a deleted device's credential rows are gone: no query finds them). */
kdc_err	kdc_core_deletion_gen(struct kdc_core *core, int64_t *gen);
/*
 * fn(arg, cred_id) for every credential revoked or expired (by the
 * sweep) at or after `since` (seconds, the row's status_at), through an
 * index on those rows alone: a daemon with a million sessions closes the
 * few whose credential ended instead of checking every one. fn must not
 * call core. A store error as it comes.
 */
kdc_err	kdc_core_creds_ended_since(struct kdc_core *core, int64_t since,
	    void (*fn)(void *arg, int64_t cred_id), void *arg);

/*
 * May a session that credential cred_id of device `device` authenticated
 * (struct kdc_principal) go on now? KDC_OK if so; KDC_ERR_UNKNOWN_DEVICE if
 * the device or the credential is gone (deleted), KDC_ERR_REVOKED if
 * either was revoked, KDC_ERR_EXPIRED past the credential's not_after.
 * A credential superseded by a newer one of the same device (a renewal,
 * a bootstrap's Finish) is not revoked: the session that did the renewal
 * may finish what it does (its answer is still to be sent); new
 * handshakes with it are refused by kdc_core_auth_*(). No audit record
 * (the caller audits what it does about it). A store error as it comes.
 */
kdc_err	kdc_core_principal_check(struct kdc_core *core, int64_t cred_id,
	    int64_t device);

#endif
