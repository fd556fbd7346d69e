/*
 * audit.h: the hash-chained audit log.
 *
 * Record n carries prev_hash = hash of record n-1 (zeros for n = 1) and
 *   hash = HMAC-SHA256(K_audit, prev_hash || seq || ts || actor || action
 *                      || subject || outcome || detail)
 * with integers as 8-byte big-endian and strings length-prefixed (4-byte
 * big-endian), K_audit derived from the wrapping key (kdc_keyring_mac,
 * label "audit"). Someone who edits the database with the sqlite3 CLI
 * cannot recompute the chain without the wrapping key. The head (last seq
 * and hash) is also kept in the store's meta table, so removing the last
 * records is detected too.
 */
#ifndef KDC_AUDIT_H
#define KDC_AUDIT_H

#include <stdint.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "store/store.h"

/*
 * Append one record in its own (nested) transaction. outcome is KDC_OK or
 * the refusal; detail is printf-style, truncated to KDC_AUDIT_DETAIL_MAX.
 * Never put a secret in detail.
 */
kdc_err	kdc_audit_append(struct kdc_store *st, const struct kdc_keyring *kr,
	    int64_t ts, const char *actor, const char *action,
	    const char *subject, kdc_err outcome, const char *fmt, ...)
	    __attribute__((format(printf, 8, 9)));

/*
 * Walk the whole chain. KDC_OK if every record verifies and the head
 * matches; KDC_ERR_AUDIT_BROKEN otherwise, with *bad_seq the first record
 * at fault (or the expected seq of a missing one) and why a reason.
 * *count is the number of records read.
 */
kdc_err	kdc_audit_verify(struct kdc_store *st, const struct kdc_keyring *kr,
	    int64_t *count, int64_t *bad_seq, char *why, size_t why_len);

#endif
