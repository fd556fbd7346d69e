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
 * records is detected too, unless the meta row is set back with them.
 *
 * The anchor: the head as last seen, outside the store, in the data dir's
 * audit.head ("iotkdc-audit-head-1 seq=N hash=HEX mac=HEX\n", the MAC an
 * HMAC-SHA256 of seq and hash under a key derived from the wrapping key,
 * label "audit-head"). A store that lost its last commits (a damaged
 * write-ahead log, an older copy put in its place, rows deleted with the
 * meta row set back) no longer holds the record the anchor names.
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

/*
 * Write dir/audit.head for the store's head (atomically, mode 0600) when
 * it is ahead of the anchor there (or there is none). KDC_OK, also for an
 * empty log; the store's errors; KDC_ERR_IO when the file cannot be
 * written.
 */
kdc_err	kdc_audit_anchor(struct kdc_store *st, const struct kdc_keyring *kr,
	    const char *dir);

/*
 * Check the store against dir/audit.head: KDC_OK when there is none, or
 * when the store holds the record it names with the same hash (*seq set
 * to it). KDC_ERR_AUDIT_BROKEN with why (a sentence naming the file) when
 * the file does not parse, its MAC does not verify under kr, or the
 * record is missing or another; KDC_ERR_IO when it cannot be read; the
 * store's errors.
 */
kdc_err	kdc_audit_anchor_check(struct kdc_store *st,
	    const struct kdc_keyring *kr, const char *dir, int64_t *seq,
	    char *why, size_t why_len);

/*
 * Parse an anchor line (the whole file, len bytes, untrusted): exactly
 * the format above, seq 1..10^18-1, lowercase hex. KDC_OK with *seq, hash
 * and mac set; KDC_ERR_MALFORMED otherwise (*seq 0).
 */
kdc_err	kdc_audit_anchor_parse(const char *buf, size_t len, int64_t *seq,
	    uint8_t hash[32], uint8_t mac[32]);

#endif
