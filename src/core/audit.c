/* audit.c: append to and verify the hash-chained audit log, and anchor its
 * head outside the store. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/file.h"
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

/* ---- the anchor: the head as last seen, outside the store --------------- */

#define ANCHOR_FILE	"audit.head"
#define ANCHOR_TAG	"iotkdc-audit-head-1"
#define ANCHOR_LABEL	"audit-head"
/* "TAG seq=N hash=HEX64 mac=HEX64\n", N at most 19 digits */
#define ANCHOR_MAX	(sizeof(ANCHOR_TAG) + 5 + 19 + 6 + 64 + 5 + 64 + 2)

/* The MAC of (seq, hash): only the wrapping key's holder makes one. */
static kdc_err
anchor_mac(const struct kdc_keyring *kr, int64_t seq, const uint8_t hash[32],
    uint8_t mac[32])
{
	uint8_t m[8 + 32];

	put_u64(m, (uint64_t)seq);
	memcpy(m + 8, hash, 32);
	return kdc_keyring_mac(kr, ANCHOR_LABEL, m, sizeof(m), mac);
}

/* A fixed-width lowercase hex field of 64 digits at *p, then `end`. */
static bool
anchor_hex(const char **p, const char *lim, uint8_t out[32], char end)
{
	size_t n = 32;

	if (lim - *p < 65 || (*p)[64] != end)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!(((*p)[i] >= '0' && (*p)[i] <= '9') ||
		    ((*p)[i] >= 'a' && (*p)[i] <= 'f')))
			return false;
	if (kdc_hex_decode(*p, 64, out, &n) != KDC_OK || n != 32)
		return false;
	*p += 65;
	return true;
}

kdc_err
kdc_audit_anchor_parse(const char *buf, size_t len, int64_t *seq,
    uint8_t hash[32], uint8_t mac[32])
{
	const char *p = buf, *lim = buf + len;
	uint64_t n = 0;
	size_t digits = 0;

	*seq = 0;
	if (buf == NULL || len > ANCHOR_MAX)
		return KDC_ERR_MALFORMED;
	if ((size_t)(lim - p) < sizeof(ANCHOR_TAG " seq=") - 1 ||
	    memcmp(p, ANCHOR_TAG " seq=", sizeof(ANCHOR_TAG " seq=") - 1) != 0)
		return KDC_ERR_MALFORMED;
	p += sizeof(ANCHOR_TAG " seq=") - 1;
	while (p < lim && *p >= '0' && *p <= '9') {
		if (digits++ == 18 || (digits == 1 && *p == '0'))
			return KDC_ERR_MALFORMED;	/* > 18 digits, or 0.. */
		n = n * 10 + (uint64_t)(*p++ - '0');
	}
	if (digits == 0 || (size_t)(lim - p) < 6 ||
	    memcmp(p, " hash=", 6) != 0)
		return KDC_ERR_MALFORMED;
	p += 6;
	if (!anchor_hex(&p, lim, hash, ' '))
		return KDC_ERR_MALFORMED;
	if ((size_t)(lim - p) < 4 || memcmp(p, "mac=", 4) != 0)
		return KDC_ERR_MALFORMED;
	p += 4;
	if (!anchor_hex(&p, lim, mac, '\n') || p != lim)
		return KDC_ERR_MALFORMED;
	*seq = (int64_t)n;
	return KDC_OK;
}

/* The anchor file, read and parsed: NOT_FOUND when there is none. */
static kdc_err
anchor_read(const char *path, int64_t *seq, uint8_t hash[32],
    uint8_t mac[32])
{
	char buf[ANCHOR_MAX + 1];
	size_t got = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return errno == ENOENT ? KDC_ERR_NOT_FOUND : KDC_ERR_IO;
	while (got < sizeof(buf)) {
		if ((n = read(fd, buf + got, sizeof(buf) - got)) < 0) {
			if (errno == EINTR)
				continue;
			(void)close(fd);
			return KDC_ERR_IO;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	(void)close(fd);
	return kdc_audit_anchor_parse(buf, got, seq, hash, mac);
}

static void
anchor_path(const char *dir, char *out, size_t cap)
{
	snprintf(out, cap, "%s/" ANCHOR_FILE, dir);
}

kdc_err
kdc_audit_anchor(struct kdc_store *st, const struct kdc_keyring *kr,
    const char *dir)
{
	char path[1100], line[ANCHOR_MAX + 1], hh[65], mh[65];
	uint8_t hash[32], old_hash[32], mac[32];
	int64_t seq, old_seq;
	kdc_err r;
	int n;

	anchor_path(dir, path, sizeof(path));
	if ((r = kdc_store_audit_head(st, &seq, hash)) != KDC_OK)
		return r == KDC_ERR_NOT_FOUND ? KDC_OK : r;
	/* forward only: another process may have anchored a later head */
	r = anchor_read(path, &old_seq, old_hash, mac);
	if (r == KDC_OK && old_seq >= seq)
		return KDC_OK;
	if ((r = anchor_mac(kr, seq, hash, mac)) != KDC_OK)
		return r;
	kdc_hex_encode(hash, 32, hh);
	kdc_hex_encode(mac, 32, mh);
	n = snprintf(line, sizeof(line), ANCHOR_TAG " seq=%" PRId64
	    " hash=%s mac=%s\n", seq, hh, mh);
	if (n < 0 || (size_t)n >= sizeof(line))
		return KDC_ERR_TOO_LARGE;
	return kdc_file_write_atomic(path, line, (size_t)n, 0600);
}

struct anchor_find {
	int64_t		seq;
	const uint8_t	*hash;
	bool		found;
	bool		same;
};

static kdc_err
anchor_find(const struct kdc_audit_rec *rec, void *arg)
{
	struct anchor_find *f = arg;

	if (rec->seq == f->seq) {
		f->found = true;
		f->same = kdc_ct_equal(rec->hash, f->hash, 32);
	}
	return KDC_ERR_EXISTS;		/* the first record is enough */
}

kdc_err
kdc_audit_anchor_check(struct kdc_store *st, const struct kdc_keyring *kr,
    const char *dir, int64_t *seq, char *why, size_t why_len)
{
	char path[1100];
	uint8_t hash[32], mac[32], want[32];
	struct anchor_find f;
	kdc_err r;

	*seq = 0;
	if (why_len > 0)
		why[0] = '\0';
	anchor_path(dir, path, sizeof(path));
	r = anchor_read(path, seq, hash, mac);
	if (r == KDC_ERR_NOT_FOUND)
		return KDC_OK;		/* nothing anchored yet */
	if (r == KDC_ERR_MALFORMED) {
		snprintf(why, why_len, "%s is not an audit anchor (damaged)",
		    path);
		return KDC_ERR_AUDIT_BROKEN;
	}
	if (r != KDC_OK)
		return r;
	if ((r = anchor_mac(kr, *seq, hash, want)) != KDC_OK)
		return r;
	if (!kdc_ct_equal(want, mac, 32)) {
		snprintf(why, why_len, "%s does not verify under wrap.key "
		    "(altered, or from another data dir)", path);
		return KDC_ERR_AUDIT_BROKEN;
	}
	memset(&f, 0, sizeof(f));
	f.seq = *seq;
	f.hash = hash;
	r = kdc_store_audit_foreach(st, *seq, anchor_find, &f);
	if (r != KDC_OK && r != KDC_ERR_EXISTS)
		return r;
	if (!f.found) {
		snprintf(why, why_len, "record %" PRId64 " and those after it "
		    "are gone: %s names it, the store ends before it (the store "
		    "lost commits, or is an older copy)", *seq, path);
		return KDC_ERR_AUDIT_BROKEN;
	}
	if (!f.same) {
		snprintf(why, why_len, "record %" PRId64 " is not the one %s "
		    "names (the log was rewritten from there, or the store is "
		    "another copy)", *seq, path);
		return KDC_ERR_AUDIT_BROKEN;
	}
	return KDC_OK;
}
