/* audit.c: append to and verify the hash-chained audit log. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "core/audit.h"

#define HEAD_KEY	"audit_head"

/* Canonical encoding of a record's fields: big enough for every field at
 * its maximum plus length prefixes. */
#define ENC_MAX	(32 + 8 + 8 + 5 * 4 + 3 * (KDC_NAME_MAX + 1) + \
		    (KDC_DEVID_MAX + 1) + (KDC_AUDIT_DETAIL_MAX + 1))

static size_t
put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
	return 8;
}

static size_t
put_str(uint8_t *p, const char *s)
{
	size_t n = strlen(s);

	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
	memcpy(p + 4, s, n);
	return 4 + n;
}

static kdc_err
rec_hash(const struct kdc_keyring *kr, const struct kdc_audit_rec *rec,
    uint8_t out[32])
{
	uint8_t buf[ENC_MAX];
	size_t n = 0;

	memcpy(buf, rec->prev_hash, 32);
	n += 32;
	n += put_u64(buf + n, (uint64_t)rec->seq);
	n += put_u64(buf + n, (uint64_t)rec->ts);
	n += put_str(buf + n, rec->actor);
	n += put_str(buf + n, rec->action);
	n += put_str(buf + n, rec->subject);
	n += put_str(buf + n, rec->outcome);
	n += put_str(buf + n, rec->detail);
	return kdc_keyring_mac(kr, "audit", buf, n, out);
}

static void
copy_field(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src != NULL ? src : "");
}

static void
head_format(const struct kdc_audit_rec *rec, char *out, size_t cap)
{
	char hex[65];

	kdc_hex_encode(rec->hash, 32, hex);
	snprintf(out, cap, "%" PRId64 ":%s", rec->seq, hex);
}

kdc_err
kdc_audit_append(struct kdc_store *st, const struct kdc_keyring *kr,
    int64_t ts, const char *actor, const char *action, const char *subject,
    kdc_err outcome, const char *fmt, ...)
{
	struct kdc_audit_rec rec;
	char head[128];
	va_list ap;
	kdc_err r;

	memset(&rec, 0, sizeof(rec));
	rec.ts = ts;
	copy_field(rec.actor, sizeof(rec.actor), actor);
	copy_field(rec.action, sizeof(rec.action), action);
	copy_field(rec.subject, sizeof(rec.subject), subject);
	copy_field(rec.outcome, sizeof(rec.outcome),
	    outcome == KDC_OK ? "ok" : kdc_err_name(outcome));
	va_start(ap, fmt);
	vsnprintf(rec.detail, sizeof(rec.detail), fmt, ap);
	va_end(ap);

	if ((r = kdc_store_begin(st)) != KDC_OK)
		return r;
	/* the head alone (seq, hash): the whole last record is ~900 bytes
	 * copied for nothing */
	r = kdc_store_audit_head(st, &rec.seq, rec.prev_hash);
	if (r == KDC_OK)
		rec.seq++;
	else if (r == KDC_ERR_NOT_FOUND) {
		rec.seq = 1;
		r = KDC_OK;
	}
	if (r != KDC_OK ||
	    (r = rec_hash(kr, &rec, rec.hash)) != KDC_OK ||
	    (r = kdc_store_audit_append(st, &rec)) != KDC_OK)
		goto fail;
	head_format(&rec, head, sizeof(head));
	if ((r = kdc_store_meta_set(st, HEAD_KEY, head)) != KDC_OK)
		goto fail;
	return kdc_store_commit(st);
fail:
	kdc_store_rollback(st);
	return r;
}

struct verify_ctx {
	const struct kdc_keyring *kr;
	struct kdc_audit_rec	 prev;
	int64_t			 count;
	int64_t			 bad_seq;
	char			*why;
	size_t			 why_len;
};

static kdc_err
verify_one(const struct kdc_audit_rec *rec, void *arg)
{
	struct verify_ctx *c = arg;
	int64_t want = c->count + 1;
	uint8_t h[32];
	kdc_err r;

	if (rec->seq != want) {
		c->bad_seq = want;
		snprintf(c->why, c->why_len, rec->seq > want ?
		    "record %" PRId64 " is missing" :
		    "record %" PRId64 " is out of order", want);
		return KDC_ERR_AUDIT_BROKEN;
	}
	if (!kdc_ct_equal(rec->prev_hash, c->prev.hash, 32)) {
		c->bad_seq = rec->seq;
		snprintf(c->why, c->why_len, "record %" PRId64
		    " does not follow record %" PRId64 " (prev_hash differs)",
		    rec->seq, rec->seq - 1);
		return KDC_ERR_AUDIT_BROKEN;
	}
	if ((r = rec_hash(c->kr, rec, h)) != KDC_OK)
		return r;
	if (!kdc_ct_equal(h, rec->hash, 32)) {
		c->bad_seq = rec->seq;
		snprintf(c->why, c->why_len, "record %" PRId64
		    " was altered (hash does not verify)", rec->seq);
		return KDC_ERR_AUDIT_BROKEN;
	}
	c->prev = *rec;
	c->count++;
	return KDC_OK;
}

kdc_err
kdc_audit_verify(struct kdc_store *st, const struct kdc_keyring *kr,
    int64_t *count, int64_t *bad_seq, char *why, size_t why_len)
{
	struct verify_ctx c;
	char *head = NULL, want[128];
	kdc_err r;

	*count = 0;
	*bad_seq = 0;
	if (why_len > 0)
		why[0] = '\0';
	memset(&c, 0, sizeof(c));
	c.kr = kr;
	c.why = why;
	c.why_len = why_len;
	r = kdc_store_audit_foreach(st, 1, verify_one, &c);
	*count = c.count;
	if (r != KDC_OK) {
		*bad_seq = c.bad_seq;
		return r;
	}
	r = kdc_store_meta_get(st, HEAD_KEY, &head);
	if (r == KDC_ERR_NOT_FOUND && c.count == 0)
		return KDC_OK;
	if (r == KDC_ERR_NOT_FOUND) {
		*bad_seq = 1;
		snprintf(why, why_len, "audit head record is missing");
		return KDC_ERR_AUDIT_BROKEN;
	}
	if (r != KDC_OK)
		return r;
	head_format(&c.prev, want, sizeof(want));
	if (c.count == 0 || strcmp(head, want) != 0) {
		*bad_seq = c.count + 1;
		snprintf(why, why_len, "records after %" PRId64
		    " were removed (head is %s)", c.count, head);
		r = KDC_ERR_AUDIT_BROKEN;
	}
	kdc_free(head);
	return r;
}
