/*
 * codec.c: OCF security virtual resources' CBOR payloads (codec.h).
 * Decoders take definite and indefinite lengths (base/cbor.h's opt-in
 * iterator) into the caller's fixed-size structs; encoders write
 * definite lengths in a fixed order. No allocation, base/ only.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/buf.h"
#include "base/cbor.h"
#include "base/utf8.h"
#include "ocf/codec.h"

/* Longest map key we read; a longer one is TOO_LARGE. */
#define KEY_MAX	64

/* ---- UUIDs ------------------------------------------------------------- */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

kdc_err
kdc_ocf_uuid_parse(const char *s, size_t n, struct kdc_ocf_uuid *u)
{
	size_t i, k = 0;
	int hi, lo;

	if (s == NULL || u == NULL)
		return KDC_ERR_INVALID_ARG;
	memset(u, 0, sizeof(*u));
	if (n != KDC_OCF_UUID_TEXT)
		return KDC_ERR_MALFORMED;
	for (i = 0; i < n; ) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				goto bad;
			i++;
			continue;
		}
		hi = hexval(s[i]);
		lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			goto bad;
		u->b[k++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return KDC_OK;
bad:
	memset(u, 0, sizeof(*u));
	return KDC_ERR_MALFORMED;
}

void
kdc_ocf_uuid_format(const struct kdc_ocf_uuid *u,
    char out[KDC_OCF_UUID_TEXT + 1])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[u->b[i] >> 4];
		out[o++] = hex[u->b[i] & 0x0f];
	}
	out[o] = '\0';
}

/* ---- decoding helpers -------------------------------------------------- */

static kdc_err
fail(struct kdc_rd *rd, kdc_err r)
{
	kdc_rd_fail(rd, r);
	return kdc_rd_err(rd);
}

/*
 * A text string that becomes a C string (a key, an href, a role, a UUID):
 * MALFORMED if it holds a NUL ("oxms\0x" must not read as "oxms") or is
 * not UTF-8.
 */
static kdc_err
rd_cstr(struct kdc_rd *rd, char *dst, size_t cap, size_t *n)
{
	kdc_err r;

	if ((r = kdc_cbor_read_tstr_copy(rd, dst, cap, n)) != KDC_OK)
		return r;
	if (strlen(dst) != *n || !kdc_utf8_valid((const uint8_t *)dst, *n)) {
		dst[0] = '\0';
		*n = 0;
		return fail(rd, KDC_ERR_MALFORMED);
	}
	return KDC_OK;
}

/* A map key: a text string (MALFORMED otherwise). */
static kdc_err
rd_key(struct kdc_rd *rd, char key[KEY_MAX])
{
	size_t n;

	return rd_cstr(rd, key, KEY_MAX, &n);
}

/* A known key seen once per map: MALFORMED the second time. */
static kdc_err
once(struct kdc_rd *rd, unsigned *seen, unsigned bit)
{
	if (*seen & bit)
		return fail(rd, KDC_ERR_MALFORMED);
	*seen |= bit;
	return KDC_OK;
}

/* The value of a key we do not know, at nesting `depth`. */
static kdc_err
rd_skip(struct kdc_rd *rd, unsigned depth)
{
	if (depth >= KDC_OCF_DEPTH_MAX)
		return fail(rd, KDC_ERR_TOO_LARGE);
	return kdc_cbor_skip_indef(rd, KDC_OCF_DEPTH_MAX - depth);
}

/* A text string into dst[cap]; a string too long for a value that has a
 * fixed form (a UUID, an enum) is MALFORMED, not TOO_LARGE. */
static kdc_err
rd_text_fixed(struct kdc_rd *rd, char *dst, size_t cap, size_t *n)
{
	struct kdc_rd c = *rd;
	kdc_err r;

	r = rd_cstr(&c, dst, cap, n);
	if (r == KDC_ERR_TOO_LARGE)
		return fail(rd, KDC_ERR_MALFORMED);
	*rd = c;
	return r;
}

static kdc_err
rd_uuid(struct kdc_rd *rd, struct kdc_ocf_uuid *u)
{
	char s[KDC_OCF_UUID_TEXT + 2];
	size_t n;
	kdc_err r;

	if ((r = rd_text_fixed(rd, s, sizeof(s), &n)) != KDC_OK)
		return r;
	if (kdc_ocf_uuid_parse(s, n, u) != KDC_OK)
		return fail(rd, KDC_ERR_MALFORMED);
	return KDC_OK;
}

static kdc_err
rd_text(struct kdc_rd *rd, char *dst, size_t cap)
{
	size_t n;

	return rd_cstr(rd, dst, cap, &n);
}

/* One of `names` (NULL-terminated), its index + 1 in *v. */
static kdc_err
rd_enum(struct kdc_rd *rd, const char *const *names, unsigned *v)
{
	char s[KEY_MAX];
	size_t n;
	kdc_err r;

	*v = 0;
	if ((r = rd_text_fixed(rd, s, sizeof(s), &n)) != KDC_OK)
		return r;
	for (unsigned i = 0; names[i] != NULL; i++)
		if (strcmp(s, names[i]) == 0) {
			*v = i + 1;
			return KDC_OK;
		}
	return fail(rd, KDC_ERR_MALFORMED);
}

static kdc_err
rd_uint_max(struct kdc_rd *rd, uint64_t max, uint64_t *v)
{
	kdc_err r;

	if ((r = kdc_cbor_read_uint(rd, v)) != KDC_OK)
		return r;
	if (*v > max) {
		*v = 0;
		return fail(rd, KDC_ERR_MALFORMED);
	}
	return KDC_OK;
}

/* Start a decoding: arguments, the size bound, a zeroed struct. */
static kdc_err
dec_begin(struct kdc_rd *rd, const uint8_t *in, size_t len, void *out,
    size_t out_size)
{
	if (out == NULL || (in == NULL && len > 0))
		return KDC_ERR_INVALID_ARG;
	memset(out, 0, out_size);
	if (len > KDC_OCF_PAYLOAD_MAX)
		return KDC_ERR_TOO_LARGE;
	kdc_rd_init(rd, in, len);
	return KDC_OK;
}

/* End a decoding: the item's verdict, then nothing after it. On failure
 * the struct is zeroed again (no half-decoded result). */
static kdc_err
dec_end(struct kdc_rd *rd, kdc_err r, void *out, size_t out_size)
{
	if (r == KDC_OK && kdc_rd_err(rd) != KDC_OK)
		r = kdc_rd_err(rd);
	if (r == KDC_OK && !kdc_rd_at_end(rd))
		r = KDC_ERR_TRAILING;
	if (r != KDC_OK)
		memset(out, 0, out_size);
	return r;
}

/* ---- encoding helpers -------------------------------------------------- */

static bool
wr_text(struct kdc_wr *w, const char *s)
{
	return kdc_cbor_write_tstr(w, s, strlen(s));
}

static bool
wr_uuid(struct kdc_wr *w, const struct kdc_ocf_uuid *u)
{
	char s[KDC_OCF_UUID_TEXT + 1];

	kdc_ocf_uuid_format(u, s);
	return kdc_cbor_write_tstr(w, s, KDC_OCF_UUID_TEXT);
}

/* A NUL-terminated string in a fixed buffer (INVALID_ARG without NUL). */
static bool
str_ok(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

static unsigned
popcount(unsigned v)
{
	unsigned n = 0;

	for (; v != 0; v &= v - 1)
		n++;
	return n;
}

static kdc_err
enc_begin(struct kdc_wr *w, const void *in, uint8_t *out, size_t cap,
    size_t *out_len)
{
	if (out_len != NULL)
		*out_len = 0;
	if (in == NULL || out_len == NULL || (out == NULL && cap > 0))
		return KDC_ERR_INVALID_ARG;
	kdc_wr_init(w, out, cap);
	return KDC_OK;
}

static kdc_err
enc_end(struct kdc_wr *w, size_t *out_len)
{
	if (kdc_wr_err(w) != KDC_OK)
		return kdc_wr_err(w);
	*out_len = kdc_wr_len(w);
	return KDC_OK;
}

/* ---- /oic/sec/doxm ----------------------------------------------------- */

static kdc_err
doxm_map(struct kdc_rd *rd, struct kdc_ocf_doxm *d)
{
	struct kdc_cbor_iter it, ai;
	char key[KEY_MAX];
	unsigned seen = 0;
	kdc_err r;

	if ((r = kdc_cbor_iter_map(rd, &it)) != KDC_OK)
		return r;
	while (kdc_cbor_iter_next(rd, &it)) {
		if ((r = rd_key(rd, key)) != KDC_OK)
			return r;
		if (strcmp(key, "oxms") == 0) {
			if ((r = once(rd, &seen, KDC_OCF_DOXM_HAS_OXMS)) ||
			    (r = kdc_cbor_iter_array(rd, &ai)))
				return r;
			while (kdc_cbor_iter_next(rd, &ai)) {
				if (d->n_oxms == KDC_OCF_OXMS_MAX)
					return fail(rd, KDC_ERR_TOO_LARGE);
				if ((r = kdc_cbor_read_int(rd,
				    &d->oxms[d->n_oxms])) != KDC_OK)
					return r;
				d->n_oxms++;
			}
		} else if (strcmp(key, "oxmsel") == 0) {
			if ((r = once(rd, &seen, KDC_OCF_DOXM_HAS_OXMSEL)) ||
			    (r = kdc_cbor_read_int(rd, &d->oxmsel)))
				return r;
		} else if (strcmp(key, "sct") == 0) {
			if ((r = once(rd, &seen, KDC_OCF_DOXM_HAS_SCT)) ||
			    (r = kdc_cbor_read_uint(rd, &d->sct)))
				return r;
		} else if (strcmp(key, "owned") == 0) {
			if ((r = once(rd, &seen, KDC_OCF_DOXM_HAS_OWNED)) ||
			    (r = kdc_cbor_read_bool(rd, &d->owned)))
				return r;
		} else if (strcmp(key, "deviceuuid") == 0) {
			if ((r = once(rd, &seen, KDC_OCF_DOXM_HAS_DEVICEUUID)) ||
			    (r = rd_uuid(rd, &d->deviceuuid)))
				return r;
		} else if (strcmp(key, "devowneruuid") == 0) {
			if ((r = once(rd, &seen,
			    KDC_OCF_DOXM_HAS_DEVOWNERUUID)) ||
			    (r = rd_uuid(rd, &d->devowneruuid)))
				return r;
		} else if (strcmp(key, "rowneruuid") == 0) {
			if ((r = once(rd, &seen, KDC_OCF_DOXM_HAS_ROWNERUUID)) ||
			    (r = rd_uuid(rd, &d->rowneruuid)))
				return r;
		} else if ((r = rd_skip(rd, 1)) != KDC_OK)
			return r;
	}
	d->has = seen;
	return kdc_rd_err(rd);
}

kdc_err
kdc_ocf_doxm_decode(const uint8_t *in, size_t len, struct kdc_ocf_doxm *out)
{
	struct kdc_rd rd;
	kdc_err r;

	if ((r = dec_begin(&rd, in, len, out, sizeof(*out))) != KDC_OK)
		return r;
	return dec_end(&rd, doxm_map(&rd, out), out, sizeof(*out));
}

kdc_err
kdc_ocf_doxm_encode(const struct kdc_ocf_doxm *d, uint8_t *out, size_t cap,
    size_t *out_len)
{
	struct kdc_wr w;
	kdc_err r;

	if ((r = enc_begin(&w, d, out, cap, out_len)) != KDC_OK)
		return r;
	if (d->n_oxms > KDC_OCF_OXMS_MAX || d->has > 0x7fu)
		return KDC_ERR_INVALID_ARG;
	kdc_cbor_write_map(&w, popcount(d->has));
	if (d->has & KDC_OCF_DOXM_HAS_OXMS) {
		wr_text(&w, "oxms");
		kdc_cbor_write_array(&w, d->n_oxms);
		for (size_t i = 0; i < d->n_oxms; i++)
			kdc_cbor_write_int(&w, d->oxms[i]);
	}
	if (d->has & KDC_OCF_DOXM_HAS_OXMSEL) {
		wr_text(&w, "oxmsel");
		kdc_cbor_write_int(&w, d->oxmsel);
	}
	if (d->has & KDC_OCF_DOXM_HAS_SCT) {
		wr_text(&w, "sct");
		kdc_cbor_write_uint(&w, d->sct);
	}
	if (d->has & KDC_OCF_DOXM_HAS_OWNED) {
		wr_text(&w, "owned");
		kdc_cbor_write_bool(&w, d->owned);
	}
	if (d->has & KDC_OCF_DOXM_HAS_DEVICEUUID) {
		wr_text(&w, "deviceuuid");
		wr_uuid(&w, &d->deviceuuid);
	}
	if (d->has & KDC_OCF_DOXM_HAS_DEVOWNERUUID) {
		wr_text(&w, "devowneruuid");
		wr_uuid(&w, &d->devowneruuid);
	}
	if (d->has & KDC_OCF_DOXM_HAS_ROWNERUUID) {
		wr_text(&w, "rowneruuid");
		wr_uuid(&w, &d->rowneruuid);
	}
	return enc_end(&w, out_len);
}

/* ---- /oic/sec/pstat ---------------------------------------------------- */

static kdc_err
dos_map(struct kdc_rd *rd, struct kdc_ocf_pstat *p, unsigned *seen)
{
	struct kdc_cbor_iter it;
	char key[KEY_MAX];
	uint64_t s;
	kdc_err r;

	if ((r = kdc_cbor_iter_map(rd, &it)) != KDC_OK)
		return r;
	while (kdc_cbor_iter_next(rd, &it)) {
		if ((r = rd_key(rd, key)) != KDC_OK)
			return r;
		if (strcmp(key, "s") == 0) {
			if ((r = once(rd, seen, KDC_OCF_PSTAT_HAS_DOS_S)) ||
			    (r = rd_uint_max(rd, KDC_OCF_DOS_SRESET, &s)))
				return r;
			p->dos_s = (unsigned)s;
		} else if (strcmp(key, "p") == 0) {
			if ((r = once(rd, seen, KDC_OCF_PSTAT_HAS_DOS_P)) ||
			    (r = kdc_cbor_read_bool(rd, &p->dos_p)))
				return r;
		} else if ((r = rd_skip(rd, 2)) != KDC_OK)
			return r;
	}
	return kdc_rd_err(rd);
}

static kdc_err
pstat_map(struct kdc_rd *rd, struct kdc_ocf_pstat *p)
{
	struct kdc_cbor_iter it;
	char key[KEY_MAX];
	unsigned seen = 0, dos = 0;
	kdc_err r;

	if ((r = kdc_cbor_iter_map(rd, &it)) != KDC_OK)
		return r;
	while (kdc_cbor_iter_next(rd, &it)) {
		if ((r = rd_key(rd, key)) != KDC_OK)
			return r;
		if (strcmp(key, "dos") == 0) {
			if ((r = once(rd, &dos, 1)) ||
			    (r = dos_map(rd, p, &seen)))
				return r;
		} else if (strcmp(key, "isop") == 0) {
			if ((r = once(rd, &seen, KDC_OCF_PSTAT_HAS_ISOP)) ||
			    (r = kdc_cbor_read_bool(rd, &p->isop)))
				return r;
		} else if (strcmp(key, "cm") == 0) {
			if ((r = once(rd, &seen, KDC_OCF_PSTAT_HAS_CM)) ||
			    (r = kdc_cbor_read_uint(rd, &p->cm)))
				return r;
		} else if (strcmp(key, "tm") == 0) {
			if ((r = once(rd, &seen, KDC_OCF_PSTAT_HAS_TM)) ||
			    (r = kdc_cbor_read_uint(rd, &p->tm)))
				return r;
		} else if (strcmp(key, "om") == 0) {
			if ((r = once(rd, &seen, KDC_OCF_PSTAT_HAS_OM)) ||
			    (r = kdc_cbor_read_uint(rd, &p->om)))
				return r;
		} else if (strcmp(key, "sm") == 0) {
			if ((r = once(rd, &seen, KDC_OCF_PSTAT_HAS_SM)) ||
			    (r = kdc_cbor_read_uint(rd, &p->sm)))
				return r;
		} else if (strcmp(key, "rowneruuid") == 0) {
			if ((r = once(rd, &seen,
			    KDC_OCF_PSTAT_HAS_ROWNERUUID)) ||
			    (r = rd_uuid(rd, &p->rowneruuid)))
				return r;
		} else if ((r = rd_skip(rd, 1)) != KDC_OK)
			return r;
	}
	p->has = seen;
	return kdc_rd_err(rd);
}

kdc_err
kdc_ocf_pstat_decode(const uint8_t *in, size_t len,
    struct kdc_ocf_pstat *out)
{
	struct kdc_rd rd;
	kdc_err r;

	if ((r = dec_begin(&rd, in, len, out, sizeof(*out))) != KDC_OK)
		return r;
	return dec_end(&rd, pstat_map(&rd, out), out, sizeof(*out));
}

kdc_err
kdc_ocf_pstat_encode(const struct kdc_ocf_pstat *p, uint8_t *out,
    size_t cap, size_t *out_len)
{
	unsigned dos, rest;
	struct kdc_wr w;
	kdc_err r;

	if ((r = enc_begin(&w, p, out, cap, out_len)) != KDC_OK)
		return r;
	if (p->dos_s > KDC_OCF_DOS_SRESET || p->has > 0xffu)
		return KDC_ERR_INVALID_ARG;
	dos = p->has & (KDC_OCF_PSTAT_HAS_DOS_S | KDC_OCF_PSTAT_HAS_DOS_P);
	rest = p->has & ~dos;
	kdc_cbor_write_map(&w, popcount(rest) + (dos != 0));
	if (dos != 0) {
		wr_text(&w, "dos");
		kdc_cbor_write_map(&w, popcount(dos));
		if (dos & KDC_OCF_PSTAT_HAS_DOS_S) {
			wr_text(&w, "s");
			kdc_cbor_write_uint(&w, p->dos_s);
		}
		if (dos & KDC_OCF_PSTAT_HAS_DOS_P) {
			wr_text(&w, "p");
			kdc_cbor_write_bool(&w, p->dos_p);
		}
	}
	if (rest & KDC_OCF_PSTAT_HAS_ISOP) {
		wr_text(&w, "isop");
		kdc_cbor_write_bool(&w, p->isop);
	}
	if (rest & KDC_OCF_PSTAT_HAS_CM) {
		wr_text(&w, "cm");
		kdc_cbor_write_uint(&w, p->cm);
	}
	if (rest & KDC_OCF_PSTAT_HAS_TM) {
		wr_text(&w, "tm");
		kdc_cbor_write_uint(&w, p->tm);
	}
	if (rest & KDC_OCF_PSTAT_HAS_OM) {
		wr_text(&w, "om");
		kdc_cbor_write_uint(&w, p->om);
	}
	if (rest & KDC_OCF_PSTAT_HAS_SM) {
		wr_text(&w, "sm");
		kdc_cbor_write_uint(&w, p->sm);
	}
	if (rest & KDC_OCF_PSTAT_HAS_ROWNERUUID) {
		wr_text(&w, "rowneruuid");
		wr_uuid(&w, &p->rowneruuid);
	}
	return enc_end(&w, out_len);
}

/* ---- /oic/sec/cred ----------------------------------------------------- */

static const char *const enc_names[] = {
	"oic.sec.encoding.raw", "oic.sec.encoding.base64",
	"oic.sec.encoding.pem", "oic.sec.encoding.der",
	"oic.sec.encoding.handle", NULL
};

static const char *const usage_names[] = {
	"oic.sec.cred.trustca", "oic.sec.cred.cert", "oic.sec.cred.rolecert",
	"oic.sec.cred.mfgtrustca", "oic.sec.cred.mfgcert", NULL
};

/* {data, encoding} into data[cap]; depth: the map's. */
static kdc_err
data_map(struct kdc_rd *rd, unsigned depth, uint8_t *data, size_t cap,
    size_t *len, bool *text, enum kdc_ocf_encoding *enc)
{
	struct kdc_cbor_iter it;
	char key[KEY_MAX];
	unsigned seen = 0, e, major;
	kdc_err r;

	if ((r = kdc_cbor_iter_map(rd, &it)) != KDC_OK)
		return r;
	while (kdc_cbor_iter_next(rd, &it)) {
		if ((r = rd_key(rd, key)) != KDC_OK)
			return r;
		if (strcmp(key, "data") == 0) {
			if ((r = once(rd, &seen, 1)) != KDC_OK)
				return r;
			if (!kdc_cbor_peek(rd, &major))
				return fail(rd, KDC_ERR_TRUNCATED);
			*text = major == KDC_CBOR_TSTR;
			if (*text) {
				/* the NUL copy needs a byte: read into the
				 * buffer, keep the length without it */
				r = kdc_cbor_read_tstr_copy(rd, (char *)data,
				    cap, len);
			} else
				r = kdc_cbor_read_bstr_copy(rd, data, cap, len);
			if (r != KDC_OK)
				return r;
		} else if (strcmp(key, "encoding") == 0) {
			if ((r = once(rd, &seen, 2)) ||
			    (r = rd_enum(rd, enc_names, &e)))
				return r;
			*enc = (enum kdc_ocf_encoding)e;
		} else if ((r = rd_skip(rd, depth)) != KDC_OK)
			return r;
	}
	return kdc_rd_err(rd);
}

static kdc_err
roleid_map(struct kdc_rd *rd, char *role, char *authority)
{
	struct kdc_cbor_iter it;
	char key[KEY_MAX];
	unsigned seen = 0;
	kdc_err r;

	if ((r = kdc_cbor_iter_map(rd, &it)) != KDC_OK)
		return r;
	while (kdc_cbor_iter_next(rd, &it)) {
		if ((r = rd_key(rd, key)) != KDC_OK)
			return r;
		if (strcmp(key, "role") == 0) {
			if ((r = once(rd, &seen, 1)) ||
			    (r = rd_text(rd, role, KDC_OCF_STR_MAX)))
				return r;
		} else if (strcmp(key, "authority") == 0) {
			if ((r = once(rd, &seen, 2)) ||
			    (r = rd_text(rd, authority, KDC_OCF_STR_MAX)))
				return r;
		} else if ((r = rd_skip(rd, 3)) != KDC_OK)
			return r;
	}
	if ((r = kdc_rd_err(rd)) != KDC_OK)
		return r;
	return (seen & 1) ? KDC_OK : fail(rd, KDC_ERR_MALFORMED);
}

/* One cred entry into c; index: the data maps and roleid are checked
 * and skipped, not kept (kdc_ocf_cred_index_decode()). */
static kdc_err
cred_map(struct kdc_rd *rd, struct kdc_ocf_cred *c, bool index)
{
	struct kdc_cbor_iter it;
	char key[KEY_MAX], s[KDC_OCF_UUID_TEXT + 2];
	unsigned seen = 0, more = 0, e;
	size_t n;
	kdc_err r;

	if ((r = kdc_cbor_iter_map(rd, &it)) != KDC_OK)
		return r;
	while (kdc_cbor_iter_next(rd, &it)) {
		if ((r = rd_key(rd, key)) != KDC_OK)
			return r;
		if (strcmp(key, "credid") == 0) {
			if ((r = once(rd, &seen, KDC_OCF_CRED_HAS_CREDID)) ||
			    (r = kdc_cbor_read_int(rd, &c->credid)))
				return r;
		} else if (strcmp(key, "subjectuuid") == 0) {
			if ((r = once(rd, &seen, KDC_OCF_CRED_HAS_SUBJECT)) ||
			    (r = rd_text_fixed(rd, s, sizeof(s), &n)))
				return r;
			if (n == 1 && s[0] == '*')
				c->subject_any = true;
			else if (kdc_ocf_uuid_parse(s, n, &c->subject))
				return fail(rd, KDC_ERR_MALFORMED);
		} else if (strcmp(key, "credtype") == 0) {
			if ((r = once(rd, &seen, KDC_OCF_CRED_HAS_CREDTYPE)) ||
			    (r = kdc_cbor_read_uint(rd, &c->credtype)))
				return r;
		} else if (strcmp(key, "credusage") == 0) {
			if ((r = once(rd, &seen,
			    KDC_OCF_CRED_HAS_CREDUSAGE)) ||
			    (r = rd_enum(rd, usage_names, &e)))
				return r;
			c->credusage = (enum kdc_ocf_credusage)e;
		} else if (index && (strcmp(key, "publicdata") == 0 ||
		    strcmp(key, "privatedata") == 0 ||
		    strcmp(key, "roleid") == 0)) {
			if ((r = once(rd, &more, key[0] == 'p' ?
			    (key[1] == 'u' ? 1u : 2u) : 4u)) ||
			    (r = rd_skip(rd, 3)))
				return r;
		} else if (strcmp(key, "publicdata") == 0) {
			if ((r = once(rd, &more, 1)) ||
			    (r = data_map(rd, 4, c->publicdata.data,
			    sizeof(c->publicdata.data), &c->publicdata.len,
			    &c->publicdata.text, &c->publicdata.encoding)))
				return r;
			c->publicdata.present = true;
		} else if (strcmp(key, "privatedata") == 0) {
			if ((r = once(rd, &more, 2)) ||
			    (r = data_map(rd, 4, c->privatedata.data,
			    sizeof(c->privatedata.data), &c->privatedata.len,
			    &c->privatedata.text, &c->privatedata.encoding)))
				return r;
			c->privatedata.present = true;
		} else if (strcmp(key, "roleid") == 0) {
			if ((r = once(rd, &seen, KDC_OCF_CRED_HAS_ROLEID)) ||
			    (r = roleid_map(rd, c->role, c->authority)))
				return r;
		} else if ((r = rd_skip(rd, 3)) != KDC_OK)
			return r;
	}
	c->has = seen;
	return kdc_rd_err(rd);
}

/*
 * The body of a resource that holds one list and its rowneruuid (cred:
 * "creds", acl2: "aclist2"): each element read by elem() into
 * base + i * size, at most max (more is TOO_LARGE); *n and *has set.
 */
struct list_res {
	const char	*key;		/* the list's name */
	unsigned	 has_list, has_owner;	/* the has bits */
	kdc_err		(*elem)(struct kdc_rd *, void *);
	void		*base;
	size_t		 size, max;
	size_t		*n;
	unsigned	*has;
	struct kdc_ocf_uuid *owner;
};

static kdc_err
list_res_map(struct kdc_rd *rd, const struct list_res *l)
{
	struct kdc_cbor_iter it, ai;
	char key[KEY_MAX];
	unsigned seen = 0;
	kdc_err r;

	if ((r = kdc_cbor_iter_map(rd, &it)) != KDC_OK)
		return r;
	while (kdc_cbor_iter_next(rd, &it)) {
		if ((r = rd_key(rd, key)) != KDC_OK)
			return r;
		if (strcmp(key, l->key) == 0) {
			if ((r = once(rd, &seen, l->has_list)) ||
			    (r = kdc_cbor_iter_array(rd, &ai)))
				return r;
			while (kdc_cbor_iter_next(rd, &ai)) {
				if (*l->n == l->max)
					return fail(rd, KDC_ERR_TOO_LARGE);
				if ((r = l->elem(rd, (uint8_t *)l->base +
				    *l->n * l->size)))
					return r;
				(*l->n)++;
			}
		} else if (strcmp(key, "rowneruuid") == 0) {
			if ((r = once(rd, &seen, l->has_owner)) ||
			    (r = rd_uuid(rd, l->owner)))
				return r;
		} else if ((r = rd_skip(rd, 1)) != KDC_OK)
			return r;
	}
	*l->has = seen;
	return kdc_rd_err(rd);
}

static kdc_err
cred_elem(struct kdc_rd *rd, void *c)
{
	return cred_map(rd, c, false);
}

static kdc_err
credidx_elem(struct kdc_rd *rd, void *e)
{
	struct kdc_ocf_cred_id *x = e;
	struct kdc_ocf_cred c;
	kdc_err r;

	memset(&c, 0, sizeof(c));
	if ((r = cred_map(rd, &c, true)) != KDC_OK)
		return r;
	x->has = c.has & (KDC_OCF_CRED_HAS_CREDID | KDC_OCF_CRED_HAS_SUBJECT |
	    KDC_OCF_CRED_HAS_CREDTYPE | KDC_OCF_CRED_HAS_CREDUSAGE);
	x->credid = c.credid;
	x->subject_any = c.subject_any;
	x->subject = c.subject;
	x->credtype = c.credtype;
	x->credusage = c.credusage;
	return KDC_OK;
}

static kdc_err
creds_map(struct kdc_rd *rd, struct kdc_ocf_creds *cs)
{
	const struct list_res l = { "creds", KDC_OCF_CREDS_HAS_CREDS,
	    KDC_OCF_CREDS_HAS_ROWNERUUID, cred_elem, cs->creds,
	    sizeof(cs->creds[0]), KDC_OCF_CREDS_MAX, &cs->n, &cs->has,
	    &cs->rowneruuid };

	return list_res_map(rd, &l);
}

kdc_err
kdc_ocf_cred_index_decode(const uint8_t *in, size_t len,
    struct kdc_ocf_cred_index *out)
{
	struct kdc_rd rd;
	kdc_err r;

	if ((r = dec_begin(&rd, in, len, out, sizeof(*out))) != KDC_OK)
		return r;
	{
		const struct list_res l = { "creds", KDC_OCF_CREDS_HAS_CREDS,
		    KDC_OCF_CREDS_HAS_ROWNERUUID, credidx_elem, out->ids,
		    sizeof(out->ids[0]), KDC_OCF_CRED_INDEX_MAX, &out->n,
		    &out->has, &out->rowneruuid };

		r = list_res_map(&rd, &l);
	}
	return dec_end(&rd, r, out, sizeof(*out));
}

kdc_err
kdc_ocf_cred_decode(const uint8_t *in, size_t len, struct kdc_ocf_creds *out)
{
	struct kdc_rd rd;
	kdc_err r;

	if ((r = dec_begin(&rd, in, len, out, sizeof(*out))) != KDC_OK)
		return r;
	return dec_end(&rd, creds_map(&rd, out), out, sizeof(*out));
}

static bool
wr_data(struct kdc_wr *w, const char *name, bool text,
    enum kdc_ocf_encoding enc, const uint8_t *data, size_t len)
{
	wr_text(w, name);
	kdc_cbor_write_map(w, enc != KDC_OCF_ENC_NONE ? 2 : 1);
	wr_text(w, "data");
	if (text)
		kdc_cbor_write_tstr(w, data, len);
	else
		kdc_cbor_write_bstr(w, data, len);
	if (enc != KDC_OCF_ENC_NONE) {
		wr_text(w, "encoding");
		wr_text(w, enc_names[enc - 1]);
	}
	return kdc_wr_err(w) == KDC_OK;
}

static bool
enc_ok(enum kdc_ocf_encoding e)
{
	return (unsigned)e <= KDC_OCF_ENC_HANDLE;
}

kdc_err
kdc_ocf_cred_encode(const struct kdc_ocf_creds *cs, uint8_t *out,
    size_t cap, size_t *out_len)
{
	struct kdc_wr w;
	kdc_err r;

	if ((r = enc_begin(&w, cs, out, cap, out_len)) != KDC_OK)
		return r;
	if (cs->n > KDC_OCF_CREDS_MAX || cs->has > 3u)
		return KDC_ERR_INVALID_ARG;
	for (size_t i = 0; i < cs->n; i++) {
		const struct kdc_ocf_cred *c = &cs->creds[i];

		if (c->has > 0x1fu ||
		    (unsigned)c->credusage > KDC_OCF_USAGE_MFGCERT ||
		    ((c->has & KDC_OCF_CRED_HAS_CREDUSAGE) &&
		    c->credusage == KDC_OCF_USAGE_NONE) ||
		    !enc_ok(c->publicdata.encoding) ||
		    !enc_ok(c->privatedata.encoding) ||
		    c->publicdata.len > KDC_OCF_PUB_MAX ||
		    c->privatedata.len > KDC_OCF_PRIV_MAX ||
		    !str_ok(c->role, sizeof(c->role)) ||
		    !str_ok(c->authority, sizeof(c->authority)))
			return KDC_ERR_INVALID_ARG;
		/* the decoder copies text with a NUL: one byte less */
		if ((c->publicdata.text &&
		    c->publicdata.len >= KDC_OCF_PUB_MAX) ||
		    (c->privatedata.text &&
		    c->privatedata.len >= KDC_OCF_PRIV_MAX))
			return KDC_ERR_INVALID_ARG;
	}
	kdc_cbor_write_map(&w, popcount(cs->has));
	if (cs->has & KDC_OCF_CREDS_HAS_CREDS) {
		wr_text(&w, "creds");
		kdc_cbor_write_array(&w, cs->n);
		for (size_t i = 0; i < cs->n; i++) {
			const struct kdc_ocf_cred *c = &cs->creds[i];

			kdc_cbor_write_map(&w, popcount(c->has) +
			    c->publicdata.present + c->privatedata.present);
			if (c->has & KDC_OCF_CRED_HAS_CREDID) {
				wr_text(&w, "credid");
				kdc_cbor_write_int(&w, c->credid);
			}
			if (c->has & KDC_OCF_CRED_HAS_SUBJECT) {
				wr_text(&w, "subjectuuid");
				if (c->subject_any)
					wr_text(&w, "*");
				else
					wr_uuid(&w, &c->subject);
			}
			if (c->has & KDC_OCF_CRED_HAS_CREDTYPE) {
				wr_text(&w, "credtype");
				kdc_cbor_write_uint(&w, c->credtype);
			}
			if (c->has & KDC_OCF_CRED_HAS_CREDUSAGE) {
				wr_text(&w, "credusage");
				wr_text(&w, usage_names[c->credusage - 1]);
			}
			if (c->publicdata.present)
				wr_data(&w, "publicdata", c->publicdata.text,
				    c->publicdata.encoding,
				    c->publicdata.data, c->publicdata.len);
			if (c->privatedata.present)
				wr_data(&w, "privatedata",
				    c->privatedata.text,
				    c->privatedata.encoding,
				    c->privatedata.data, c->privatedata.len);
			if (c->has & KDC_OCF_CRED_HAS_ROLEID) {
				wr_text(&w, "roleid");
				kdc_cbor_write_map(&w,
				    c->authority[0] != '\0' ? 2 : 1);
				wr_text(&w, "role");
				wr_text(&w, c->role);
				if (c->authority[0] != '\0') {
					wr_text(&w, "authority");
					wr_text(&w, c->authority);
				}
			}
		}
	}
	if (cs->has & KDC_OCF_CREDS_HAS_ROWNERUUID) {
		wr_text(&w, "rowneruuid");
		wr_uuid(&w, &cs->rowneruuid);
	}
	return enc_end(&w, out_len);
}

/* ---- /oic/sec/acl2 ----------------------------------------------------- */

static const char *const conn_names[] = { "auth-crypt", "anon-clear", NULL };
static const char *const wc_names[] = { "*", "+", "-", NULL };

static kdc_err
subject_map(struct kdc_rd *rd, struct kdc_ocf_ace *a)
{
	struct kdc_cbor_iter it;
	char key[KEY_MAX];
	unsigned seen = 0, e;
	kdc_err r;

	if ((r = kdc_cbor_iter_map(rd, &it)) != KDC_OK)
		return r;
	while (kdc_cbor_iter_next(rd, &it)) {
		if ((r = rd_key(rd, key)) != KDC_OK)
			return r;
		if (strcmp(key, "uuid") == 0) {
			if ((r = once(rd, &seen, 1)) ||
			    (r = rd_uuid(rd, &a->uuid)))
				return r;
		} else if (strcmp(key, "conntype") == 0) {
			if ((r = once(rd, &seen, 2)) ||
			    (r = rd_enum(rd, conn_names, &e)))
				return r;
			a->conntype = (enum kdc_ocf_conntype)e;
		} else if (strcmp(key, "role") == 0) {
			if ((r = once(rd, &seen, 4)) ||
			    (r = rd_text(rd, a->role, sizeof(a->role))))
				return r;
		} else if (strcmp(key, "authority") == 0) {
			if ((r = once(rd, &seen, 8)) ||
			    (r = rd_text(rd, a->authority,
			    sizeof(a->authority))))
				return r;
		} else if ((r = rd_skip(rd, 4)) != KDC_OK)
			return r;
	}
	if ((r = kdc_rd_err(rd)) != KDC_OK)
		return r;
	/* exactly one form; authority only with a role */
	if (seen == 1)
		a->subject = KDC_OCF_SUBJ_UUID;
	else if (seen == 2)
		a->subject = KDC_OCF_SUBJ_CONNTYPE;
	else if (seen == 4 || seen == 12)
		a->subject = KDC_OCF_SUBJ_ROLE;
	else
		return fail(rd, KDC_ERR_MALFORMED);
	return KDC_OK;
}

static kdc_err
res_map(struct kdc_rd *rd, struct kdc_ocf_ace_res *res)
{
	struct kdc_cbor_iter it;
	char key[KEY_MAX];
	unsigned seen = 0, e;
	kdc_err r;

	if ((r = kdc_cbor_iter_map(rd, &it)) != KDC_OK)
		return r;
	while (kdc_cbor_iter_next(rd, &it)) {
		if ((r = rd_key(rd, key)) != KDC_OK)
			return r;
		if (strcmp(key, "href") == 0) {
			if ((r = once(rd, &seen, 1)) ||
			    (r = rd_text(rd, res->href, sizeof(res->href))))
				return r;
		} else if (strcmp(key, "wc") == 0) {
			if ((r = once(rd, &seen, 2)) ||
			    (r = rd_enum(rd, wc_names, &e)))
				return r;
			res->wc = (enum kdc_ocf_wc)e;
		} else if ((r = rd_skip(rd, 5)) != KDC_OK)
			return r;
	}
	if ((r = kdc_rd_err(rd)) != KDC_OK)
		return r;
	/* an href or a wildcard, not both, not neither */
	return seen == 1 || seen == 2 ? KDC_OK : fail(rd, KDC_ERR_MALFORMED);
}

static kdc_err
ace_map(struct kdc_rd *rd, struct kdc_ocf_ace *a)
{
	struct kdc_cbor_iter it, ai;
	char key[KEY_MAX];
	unsigned seen = 0, more = 0;
	uint64_t perm;
	kdc_err r;

	if ((r = kdc_cbor_iter_map(rd, &it)) != KDC_OK)
		return r;
	while (kdc_cbor_iter_next(rd, &it)) {
		if ((r = rd_key(rd, key)) != KDC_OK)
			return r;
		if (strcmp(key, "aceid") == 0) {
			if ((r = once(rd, &seen, KDC_OCF_ACE_HAS_ACEID)) ||
			    (r = kdc_cbor_read_int(rd, &a->aceid)))
				return r;
		} else if (strcmp(key, "permission") == 0) {
			if ((r = once(rd, &seen,
			    KDC_OCF_ACE_HAS_PERMISSION)) ||
			    (r = rd_uint_max(rd, 31, &perm)))
				return r;
			a->permission = (unsigned)perm;
		} else if (strcmp(key, "subject") == 0) {
			if ((r = once(rd, &more, 1)) ||
			    (r = subject_map(rd, a)))
				return r;
		} else if (strcmp(key, "resources") == 0) {
			if ((r = once(rd, &more, 2)) ||
			    (r = kdc_cbor_iter_array(rd, &ai)))
				return r;
			while (kdc_cbor_iter_next(rd, &ai)) {
				if (a->n_res == KDC_OCF_ACE_RES_MAX)
					return fail(rd, KDC_ERR_TOO_LARGE);
				if ((r = res_map(rd, &a->res[a->n_res])))
					return r;
				a->n_res++;
			}
		} else if ((r = rd_skip(rd, 3)) != KDC_OK)
			return r;
	}
	a->has = seen;
	return kdc_rd_err(rd);
}

static kdc_err
ace_elem(struct kdc_rd *rd, void *a)
{
	return ace_map(rd, a);
}

static kdc_err
acl2_map(struct kdc_rd *rd, struct kdc_ocf_acl2 *acl)
{
	const struct list_res l = { "aclist2", KDC_OCF_ACL2_HAS_ACLIST2,
	    KDC_OCF_ACL2_HAS_ROWNERUUID, ace_elem, acl->aces,
	    sizeof(acl->aces[0]), KDC_OCF_ACES_MAX, &acl->n, &acl->has,
	    &acl->rowneruuid };

	return list_res_map(rd, &l);
}

kdc_err
kdc_ocf_acl2_decode(const uint8_t *in, size_t len, struct kdc_ocf_acl2 *out)
{
	struct kdc_rd rd;
	kdc_err r;

	if ((r = dec_begin(&rd, in, len, out, sizeof(*out))) != KDC_OK)
		return r;
	return dec_end(&rd, acl2_map(&rd, out), out, sizeof(*out));
}

kdc_err
kdc_ocf_acl2_encode(const struct kdc_ocf_acl2 *acl, uint8_t *out,
    size_t cap, size_t *out_len)
{
	struct kdc_wr w;
	kdc_err r;

	if ((r = enc_begin(&w, acl, out, cap, out_len)) != KDC_OK)
		return r;
	if (acl->n > KDC_OCF_ACES_MAX || acl->has > 3u)
		return KDC_ERR_INVALID_ARG;
	for (size_t i = 0; i < acl->n; i++) {
		const struct kdc_ocf_ace *a = &acl->aces[i];

		if (a->has > 3u || a->permission > 31 ||
		    a->n_res > KDC_OCF_ACE_RES_MAX ||
		    a->subject == KDC_OCF_SUBJ_NONE ||
		    (unsigned)a->subject > KDC_OCF_SUBJ_ROLE ||
		    (a->subject == KDC_OCF_SUBJ_CONNTYPE &&
		    (a->conntype == KDC_OCF_CONN_NONE ||
		    (unsigned)a->conntype > KDC_OCF_CONN_ANON_CLEAR)) ||
		    !str_ok(a->role, sizeof(a->role)) ||
		    !str_ok(a->authority, sizeof(a->authority)))
			return KDC_ERR_INVALID_ARG;
		for (size_t j = 0; j < a->n_res; j++)
			if (!str_ok(a->res[j].href, sizeof(a->res[j].href)) ||
			    (unsigned)a->res[j].wc > KDC_OCF_WC_PUBLIC ||
			    (a->res[j].wc == KDC_OCF_WC_NONE) ==
			    (a->res[j].href[0] == '\0'))
				return KDC_ERR_INVALID_ARG;
	}
	kdc_cbor_write_map(&w, popcount(acl->has));
	if (acl->has & KDC_OCF_ACL2_HAS_ACLIST2) {
		wr_text(&w, "aclist2");
		kdc_cbor_write_array(&w, acl->n);
		for (size_t i = 0; i < acl->n; i++) {
			const struct kdc_ocf_ace *a = &acl->aces[i];

			kdc_cbor_write_map(&w, popcount(a->has) + 2);
			if (a->has & KDC_OCF_ACE_HAS_ACEID) {
				wr_text(&w, "aceid");
				kdc_cbor_write_int(&w, a->aceid);
			}
			wr_text(&w, "subject");
			if (a->subject == KDC_OCF_SUBJ_UUID) {
				kdc_cbor_write_map(&w, 1);
				wr_text(&w, "uuid");
				wr_uuid(&w, &a->uuid);
			} else if (a->subject == KDC_OCF_SUBJ_CONNTYPE) {
				kdc_cbor_write_map(&w, 1);
				wr_text(&w, "conntype");
				wr_text(&w, conn_names[a->conntype - 1]);
			} else {
				kdc_cbor_write_map(&w,
				    a->authority[0] != '\0' ? 2 : 1);
				wr_text(&w, "role");
				wr_text(&w, a->role);
				if (a->authority[0] != '\0') {
					wr_text(&w, "authority");
					wr_text(&w, a->authority);
				}
			}
			wr_text(&w, "resources");
			kdc_cbor_write_array(&w, a->n_res);
			for (size_t j = 0; j < a->n_res; j++) {
				kdc_cbor_write_map(&w, 1);
				if (a->res[j].wc != KDC_OCF_WC_NONE) {
					wr_text(&w, "wc");
					wr_text(&w, wc_names[a->res[j].wc - 1]);
				} else {
					wr_text(&w, "href");
					wr_text(&w, a->res[j].href);
				}
			}
			if (a->has & KDC_OCF_ACE_HAS_PERMISSION) {
				wr_text(&w, "permission");
				kdc_cbor_write_uint(&w, a->permission);
			}
		}
	}
	if (acl->has & KDC_OCF_ACL2_HAS_ROWNERUUID) {
		wr_text(&w, "rowneruuid");
		wr_uuid(&w, &acl->rowneruuid);
	}
	return enc_end(&w, out_len);
}

/* ---- discovery --------------------------------------------------------- */

static const char *const scheme_names[] = {
	"coap", "coaps", "coap+tcp", "coaps+tcp", NULL
};

static bool
host_char(char c, bool ipv6)
{
	if (c >= '0' && c <= '9')
		return true;
	if (c == '.')
		return true;
	return ipv6 && (c == ':' || hexval(c) >= 0);
}

static bool
zone_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-';
}

kdc_err
kdc_ocf_ep_parse(const char *s, size_t n, struct kdc_ocf_ep *ep)
{
	size_t i, hs, he, zs = 0, ze = 0, sl;
	uint32_t port = 0;
	bool known = false;

	if (s == NULL || ep == NULL)
		return KDC_ERR_INVALID_ARG;
	memset(ep, 0, sizeof(*ep));
	/* scheme "://" */
	for (sl = 0; sl < n && s[sl] != ':'; sl++)
		;
	if (sl + 3 > n || s[sl + 1] != '/' || s[sl + 2] != '/')
		return KDC_ERR_MALFORMED;
	for (i = 0; scheme_names[i] != NULL; i++)
		if (strlen(scheme_names[i]) == sl &&
		    memcmp(scheme_names[i], s, sl) == 0)
			known = true;
	if (!known)
		return KDC_ERR_MALFORMED;
	memcpy(ep->scheme, s, sl);
	i = sl + 3;
	if (i < n && s[i] == '[') {
		ep->ipv6 = true;
		hs = ++i;
		while (i < n && s[i] != ']' && s[i] != '%')
			i++;
		he = i;
		if (i < n && s[i] == '%') {
			/* RFC 6874: the zone's "%" is "%25" in a URI */
			if (i + 3 > n || s[i + 1] != '2' || s[i + 2] != '5')
				goto bad;
			zs = i += 3;
			while (i < n && s[i] != ']')
				i++;
			ze = i;
			if (ze == zs)
				goto bad;
		}
		if (i >= n || s[i] != ']')
			goto bad;
		i++;
	} else {
		hs = i;
		while (i < n && s[i] != ':')
			i++;
		he = i;
	}
	if (he == hs)
		goto bad;
	for (size_t k = hs; k < he; k++)
		if (!host_char(s[k], ep->ipv6))
			goto bad;
	for (size_t k = zs; k < ze; k++)
		if (!zone_char(s[k]))
			goto bad;
	if (he - hs >= sizeof(ep->host) || ze - zs >= sizeof(ep->zone)) {
		memset(ep, 0, sizeof(*ep));
		return KDC_ERR_TOO_LARGE;
	}
	memcpy(ep->host, s + hs, he - hs);
	if (ze > zs)
		memcpy(ep->zone, s + zs, ze - zs);
	/* ":" port, 1..5 digits, 1..65535, then the end */
	if (i >= n || s[i] != ':' || i + 1 == n || n - (i + 1) > 5)
		goto bad;
	for (i++; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto bad;
		port = port * 10 + (uint32_t)(s[i] - '0');
	}
	if (port == 0 || port > 65535)
		goto bad;
	ep->port = (uint16_t)port;
	return KDC_OK;
bad:
	memset(ep, 0, sizeof(*ep));
	return KDC_ERR_MALFORMED;
}

/* "rt"/"if": a string or an array of strings, into vals[*n]. */
static kdc_err
str_list(struct kdc_rd *rd, char (*vals)[KDC_OCF_STR_MAX], size_t *n)
{
	struct kdc_cbor_iter ai;
	unsigned major;
	kdc_err r;

	if (!kdc_cbor_peek(rd, &major))
		return fail(rd, KDC_ERR_TRUNCATED);
	if (major == KDC_CBOR_TSTR) {
		if ((r = rd_text(rd, vals[0], KDC_OCF_STR_MAX)) != KDC_OK)
			return r;
		*n = 1;
		return KDC_OK;
	}
	if ((r = kdc_cbor_iter_array(rd, &ai)) != KDC_OK)
		return r;
	while (kdc_cbor_iter_next(rd, &ai)) {
		if (*n == KDC_OCF_LINK_RT_MAX)
			return fail(rd, KDC_ERR_TOO_LARGE);
		if ((r = rd_text(rd, vals[*n], KDC_OCF_STR_MAX)) != KDC_OK)
			return r;
		(*n)++;
	}
	return kdc_rd_err(rd);
}

static kdc_err
ep_map(struct kdc_rd *rd, struct kdc_ocf_ep *ep)
{
	struct kdc_cbor_iter it;
	char key[KEY_MAX], s[KEY_MAX + KDC_OCF_HOST_MAX];
	unsigned seen = 0;
	size_t n;
	kdc_err r;

	if ((r = kdc_cbor_iter_map(rd, &it)) != KDC_OK)
		return r;
	while (kdc_cbor_iter_next(rd, &it)) {
		if ((r = rd_key(rd, key)) != KDC_OK)
			return r;
		if (strcmp(key, "ep") == 0) {
			if ((r = once(rd, &seen, 1)) ||
			    (r = rd_cstr(rd, s, sizeof(s), &n)))
				return r;
			if ((r = kdc_ocf_ep_parse(s, n, ep)) != KDC_OK)
				return fail(rd, r);
		} else if ((r = rd_skip(rd, 4)) != KDC_OK)
			return r;
	}
	if ((r = kdc_rd_err(rd)) != KDC_OK)
		return r;
	return seen ? KDC_OK : fail(rd, KDC_ERR_MALFORMED);
}

static kdc_err
link_map(struct kdc_rd *rd, struct kdc_ocf_link *l)
{
	struct kdc_cbor_iter it, ai;
	char key[KEY_MAX], s[6 + KDC_OCF_UUID_TEXT + 2];
	unsigned seen = 0;
	size_t n;
	kdc_err r;

	if ((r = kdc_cbor_iter_map(rd, &it)) != KDC_OK)
		return r;
	while (kdc_cbor_iter_next(rd, &it)) {
		if ((r = rd_key(rd, key)) != KDC_OK)
			return r;
		if (strcmp(key, "anchor") == 0) {
			if ((r = once(rd, &seen, 1)) ||
			    (r = rd_text_fixed(rd, s, sizeof(s), &n)))
				return r;
			if (n < 6 || memcmp(s, "ocf://", 6) != 0 ||
			    kdc_ocf_uuid_parse(s + 6, n - 6, &l->anchor))
				return fail(rd, KDC_ERR_MALFORMED);
		} else if (strcmp(key, "href") == 0) {
			if ((r = once(rd, &seen, 2)) ||
			    (r = rd_text(rd, l->href, sizeof(l->href))))
				return r;
		} else if (strcmp(key, "rt") == 0) {
			if ((r = once(rd, &seen, 4)) ||
			    (r = str_list(rd, l->rt, &l->n_rt)))
				return r;
		} else if (strcmp(key, "if") == 0) {
			if ((r = once(rd, &seen, 8)) ||
			    (r = str_list(rd, l->ifs, &l->n_ifs)))
				return r;
		} else if (strcmp(key, "eps") == 0) {
			if ((r = once(rd, &seen, 16)) ||
			    (r = kdc_cbor_iter_array(rd, &ai)))
				return r;
			while (kdc_cbor_iter_next(rd, &ai)) {
				if (l->n_eps == KDC_OCF_LINK_EPS_MAX)
					return fail(rd, KDC_ERR_TOO_LARGE);
				if ((r = ep_map(rd, &l->eps[l->n_eps])))
					return r;
				l->n_eps++;
			}
		} else if ((r = rd_skip(rd, 2)) != KDC_OK)
			return r;
	}
	if ((r = kdc_rd_err(rd)) != KDC_OK)
		return r;
	if (!(seen & 2))
		return fail(rd, KDC_ERR_MALFORMED);	/* no href */
	l->has = seen & 1 ? KDC_OCF_LINK_HAS_ANCHOR : 0;
	return KDC_OK;
}

static kdc_err
links_array(struct kdc_rd *rd, struct kdc_ocf_links *ls)
{
	struct kdc_cbor_iter ai;
	kdc_err r;

	if ((r = kdc_cbor_iter_array(rd, &ai)) != KDC_OK)
		return r;
	while (kdc_cbor_iter_next(rd, &ai)) {
		if (ls->n == KDC_OCF_LINKS_MAX)
			return fail(rd, KDC_ERR_TOO_LARGE);
		if ((r = link_map(rd, &ls->links[ls->n])) != KDC_OK)
			return r;
		ls->n++;
	}
	return kdc_rd_err(rd);
}

kdc_err
kdc_ocf_links_decode(const uint8_t *in, size_t len,
    struct kdc_ocf_links *out)
{
	struct kdc_rd rd;
	kdc_err r;

	if ((r = dec_begin(&rd, in, len, out, sizeof(*out))) != KDC_OK)
		return r;
	return dec_end(&rd, links_array(&rd, out), out, sizeof(*out));
}

static bool
ep_ok(const struct kdc_ocf_ep *ep)
{
	return str_ok(ep->scheme, sizeof(ep->scheme)) &&
	    ep->scheme[0] != '\0' && str_ok(ep->host, sizeof(ep->host)) &&
	    ep->host[0] != '\0' && str_ok(ep->zone, sizeof(ep->zone)) &&
	    ep->port != 0;
}

static void
wr_ep(struct kdc_wr *w, const struct kdc_ocf_ep *ep)
{
	char s[sizeof(ep->scheme) + sizeof(ep->host) + sizeof(ep->zone) + 16];
	struct kdc_wr sw;
	char port[6];
	size_t pn = 0;
	unsigned v = ep->port;

	do {
		memmove(port + 1, port, pn);
		port[0] = (char)('0' + v % 10);
		pn++;
		v /= 10;
	} while (v != 0);
	kdc_wr_init(&sw, s, sizeof(s));
	kdc_wr_str(&sw, ep->scheme);
	kdc_wr_str(&sw, "://");
	if (ep->ipv6)
		kdc_wr_str(&sw, "[");
	kdc_wr_str(&sw, ep->host);
	if (ep->zone[0] != '\0') {
		kdc_wr_str(&sw, "%25");
		kdc_wr_str(&sw, ep->zone);
	}
	if (ep->ipv6)
		kdc_wr_str(&sw, "]");
	kdc_wr_str(&sw, ":");
	kdc_wr_bytes(&sw, port, pn);
	kdc_cbor_write_map(w, 1);
	wr_text(w, "ep");
	kdc_cbor_write_tstr(w, s, kdc_wr_len(&sw));
}

kdc_err
kdc_ocf_links_encode(const struct kdc_ocf_links *ls, uint8_t *out,
    size_t cap, size_t *out_len)
{
	struct kdc_wr w;
	kdc_err r;

	if ((r = enc_begin(&w, ls, out, cap, out_len)) != KDC_OK)
		return r;
	if (ls->n > KDC_OCF_LINKS_MAX)
		return KDC_ERR_INVALID_ARG;
	for (size_t i = 0; i < ls->n; i++) {
		const struct kdc_ocf_link *l = &ls->links[i];

		if (l->n_rt > KDC_OCF_LINK_RT_MAX ||
		    l->n_ifs > KDC_OCF_LINK_RT_MAX ||
		    l->n_eps > KDC_OCF_LINK_EPS_MAX ||
		    !str_ok(l->href, sizeof(l->href)) || l->href[0] == '\0')
			return KDC_ERR_INVALID_ARG;
		for (size_t j = 0; j < l->n_rt; j++)
			if (!str_ok(l->rt[j], KDC_OCF_STR_MAX))
				return KDC_ERR_INVALID_ARG;
		for (size_t j = 0; j < l->n_ifs; j++)
			if (!str_ok(l->ifs[j], KDC_OCF_STR_MAX))
				return KDC_ERR_INVALID_ARG;
		for (size_t j = 0; j < l->n_eps; j++)
			if (!ep_ok(&l->eps[j]))
				return KDC_ERR_INVALID_ARG;
	}
	kdc_cbor_write_array(&w, ls->n);
	for (size_t i = 0; i < ls->n; i++) {
		const struct kdc_ocf_link *l = &ls->links[i];
		bool anchor = l->has & KDC_OCF_LINK_HAS_ANCHOR;

		kdc_cbor_write_map(&w, 1u + anchor + (l->n_rt > 0) +
		    (l->n_ifs > 0) + (l->n_eps > 0));
		if (anchor) {
			char s[6 + KDC_OCF_UUID_TEXT + 1];

			memcpy(s, "ocf://", 6);
			kdc_ocf_uuid_format(&l->anchor, s + 6);
			wr_text(&w, "anchor");
			kdc_cbor_write_tstr(&w, s, 6 + KDC_OCF_UUID_TEXT);
		}
		wr_text(&w, "href");
		wr_text(&w, l->href);
		if (l->n_rt > 0) {
			wr_text(&w, "rt");
			kdc_cbor_write_array(&w, l->n_rt);
			for (size_t j = 0; j < l->n_rt; j++)
				wr_text(&w, l->rt[j]);
		}
		if (l->n_ifs > 0) {
			wr_text(&w, "if");
			kdc_cbor_write_array(&w, l->n_ifs);
			for (size_t j = 0; j < l->n_ifs; j++)
				wr_text(&w, l->ifs[j]);
		}
		if (l->n_eps > 0) {
			wr_text(&w, "eps");
			kdc_cbor_write_array(&w, l->n_eps);
			for (size_t j = 0; j < l->n_eps; j++)
				wr_ep(&w, &l->eps[j]);
		}
	}
	return enc_end(&w, out_len);
}

/* ---- /oic/sec/csr ------------------------------------------------------ */

static kdc_err
csr_map(struct kdc_rd *rd, struct kdc_ocf_csr *c)
{
	struct kdc_cbor_iter it;
	char key[KEY_MAX];
	unsigned seen = 0, e, major;
	kdc_err r;

	if ((r = kdc_cbor_iter_map(rd, &it)) != KDC_OK)
		return r;
	while (kdc_cbor_iter_next(rd, &it)) {
		if ((r = rd_key(rd, key)) != KDC_OK)
			return r;
		if (strcmp(key, "csr") == 0) {
			if ((r = once(rd, &seen, 1)) != KDC_OK)
				return r;
			if (!kdc_cbor_peek(rd, &major))
				return fail(rd, KDC_ERR_TRUNCATED);
			c->text = major == KDC_CBOR_TSTR;
			if (c->text)
				r = kdc_cbor_read_tstr_copy(rd,
				    (char *)c->data, sizeof(c->data), &c->len);
			else
				r = kdc_cbor_read_bstr_copy(rd, c->data,
				    sizeof(c->data), &c->len);
			if (r != KDC_OK)
				return r;
		} else if (strcmp(key, "encoding") == 0) {
			if ((r = once(rd, &seen, 2)) ||
			    (r = rd_enum(rd, enc_names, &e)))
				return r;
			c->encoding = (enum kdc_ocf_encoding)e;
		} else if ((r = rd_skip(rd, 1)) != KDC_OK)
			return r;
	}
	if (kdc_rd_err(rd) != KDC_OK)
		return kdc_rd_err(rd);
	/* both required; PEM is text, DER bytes */
	if (seen != 3 || (c->encoding == KDC_OCF_ENC_PEM) != c->text ||
	    (c->encoding != KDC_OCF_ENC_PEM && c->encoding != KDC_OCF_ENC_DER))
		return fail(rd, KDC_ERR_MALFORMED);
	return KDC_OK;
}

kdc_err
kdc_ocf_csr_decode(const uint8_t *in, size_t len, struct kdc_ocf_csr *out)
{
	struct kdc_rd rd;
	kdc_err r;

	if ((r = dec_begin(&rd, in, len, out, sizeof(*out))) != KDC_OK)
		return r;
	return dec_end(&rd, csr_map(&rd, out), out, sizeof(*out));
}

kdc_err
kdc_ocf_csr_encode(const struct kdc_ocf_csr *c, uint8_t *out, size_t cap,
    size_t *out_len)
{
	struct kdc_wr w;
	kdc_err r;

	if ((r = enc_begin(&w, c, out, cap, out_len)) != KDC_OK)
		return r;
	if (c->len > sizeof(c->data) ||
	    (c->encoding != KDC_OCF_ENC_PEM && c->encoding != KDC_OCF_ENC_DER) ||
	    (c->encoding == KDC_OCF_ENC_PEM) != c->text)
		return KDC_ERR_INVALID_ARG;
	kdc_cbor_write_map(&w, 2);
	wr_text(&w, "csr");
	if (c->text)
		kdc_cbor_write_tstr(&w, c->data, c->len);
	else
		kdc_cbor_write_bstr(&w, c->data, c->len);
	wr_text(&w, "encoding");
	wr_text(&w, enc_names[c->encoding - 1]);
	return enc_end(&w, out_len);
}
