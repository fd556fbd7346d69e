/*
 * ocf_wire.c: the OCF device's bytes (kdcdev_ocf.h): its persistent state,
 * CoAP-over-UDP framing with the OCF options and block-wise transfer
 * (RFC 7252 §3, RFC 7959 §2), and a debug text form of a CBOR payload.
 * Bounded, no allocation.
 */
#include <stdio.h>
#include <string.h>

#include "base/cbor.h"
#include "coap/wire.h"

/* query items a request we build carries */
#define KDCDEV_OCF_QUERY_ITEMS_MAX	8
#include "kdcdev_int.h"
#include "kdcdev_ocf.h"

/* ==== persistent state =================================================== */

#define MAGIC		"KDCOCF\0\1"
#define MAGIC_LEN	8
#define HDR_LEN		(MAGIC_LEN + 4)

static void
wr_blob(struct kdc_wr *w, kdc_err (*enc)(const void *, uint8_t *, size_t,
    size_t *), const void *obj)
{
	uint8_t *at;
	size_t cap, n = 0;

	if (kdc_wr_err(w) != KDC_OK)
		return;
	/* encode straight into the output after a 4-byte length */
	at = (uint8_t *)w->buf + kdc_wr_len(w);
	cap = w->cap - kdc_wr_len(w);
	if (cap < 4 || enc(obj, at + 4, cap - 4, &n) != KDC_OK) {
		kdc_wr_fail(w, KDC_ERR_TOO_LARGE);
		return;
	}
	kdc_wr_be32(w, (uint32_t)n);
	w->len += n;
}

static kdc_err
enc_doxm(const void *o, uint8_t *out, size_t cap, size_t *n)
{
	return kdc_ocf_doxm_encode(o, out, cap, n);
}

static kdc_err
enc_pstat(const void *o, uint8_t *out, size_t cap, size_t *n)
{
	return kdc_ocf_pstat_encode(o, out, cap, n);
}

static kdc_err
enc_cred(const void *o, uint8_t *out, size_t cap, size_t *n)
{
	return kdc_ocf_cred_encode(o, out, cap, n);
}

static kdc_err
enc_acl2(const void *o, uint8_t *out, size_t cap, size_t *n)
{
	return kdc_ocf_acl2_encode(o, out, cap, n);
}

kdc_err
kdcdev_ocf_state_encode(const struct kdcdev_ocf *d, uint8_t *out,
    size_t *out_len)
{
	struct kdc_wr w;
	size_t cap = *out_len, nl = strlen(d->sdi_name), len;
	kdc_err r;

	*out_len = 0;
	kdc_wr_init(&w, out, cap);
	kdc_wr_bytes(&w, MAGIC, MAGIC_LEN);
	kdc_wr_be32(&w, 0);
	wr_blob(&w, enc_doxm, &d->doxm);
	wr_blob(&w, enc_pstat, &d->pstat);
	wr_blob(&w, enc_cred, &d->creds);
	wr_blob(&w, enc_acl2, &d->acl2);
	kdc_wr_u8(&w, (uint8_t)((d->sdi_set ? 1u : 0u) |
	    (d->sdi_priv ? 2u : 0u) | (d->light ? 4u : 0u)));
	kdc_wr_bytes(&w, d->sdi_uuid.b, 16);
	kdc_wr_u8(&w, (uint8_t)nl);
	kdc_wr_bytes(&w, d->sdi_name, nl);
	kdc_wr_be64(&w, (uint64_t)d->next_credid);
	kdc_wr_be64(&w, (uint64_t)d->next_aceid);
	kdc_wr_be16(&w, (uint16_t)d->key_len);
	kdc_wr_bytes(&w, d->key, d->key_len);
	if (kdc_wr_err(&w) == KDC_OK) {
		size_t body = kdc_wr_len(&w) - HDR_LEN;
		for (size_t i = 0; i < 4; i++)
			out[MAGIC_LEN + i] = (uint8_t)(body >> (8 * (3 - i)));
		kdc_wr_be32(&w, kdcdev_crc32(out, kdc_wr_len(&w)));
	}
	len = kdc_wr_len(&w);
	if ((r = kdc_wr_err(&w)) != KDC_OK) {
		kdc_wipe(out, cap);
		return r;
	}
	*out_len = len;
	return KDC_OK;
}

/* One length-prefixed payload: its bytes into *p / *n. */
static kdc_err
rd_blob(struct kdc_rd *rd, const uint8_t **p, size_t *n)
{
	uint32_t len;

	if (!kdc_rd_be32(rd, &len) || !kdc_rd_view(rd, len, p))
		return KDC_ERR_TRUNCATED;
	*n = len;
	return KDC_OK;
}

/* Parse buf; apply into d only when apply is set (the check pass first). */
static kdc_err
state_pass(struct kdcdev_ocf *d, const uint8_t *buf, size_t len, bool apply)
{
	struct kdc_rd rd;
	const uint8_t *p[4], *name, *key;
	size_t n[4];
	uint8_t flags, nl;
	uint16_t kl;
	uint64_t ids[2];
	uint8_t sdi[16];
	kdc_err r;

	kdc_rd_init(&rd, buf + HDR_LEN, len - HDR_LEN - 4);
	for (size_t i = 0; i < 4; i++)
		if ((r = rd_blob(&rd, &p[i], &n[i])) != KDC_OK)
			return r;
	if (!kdc_rd_u8(&rd, &flags) || !kdc_rd_bytes(&rd, sdi, 16) ||
	    !kdc_rd_u8(&rd, &nl) || !kdc_rd_view(&rd, nl, &name) ||
	    !kdc_rd_be64(&rd, &ids[0]) || !kdc_rd_be64(&rd, &ids[1]) ||
	    !kdc_rd_be16(&rd, &kl) || !kdc_rd_view(&rd, kl, &key))
		return KDC_ERR_TRUNCATED;
	if (!kdc_rd_at_end(&rd))
		return KDC_ERR_TRAILING;
	if (nl >= KDCDEV_OCF_NAME_MAX || kl > KDCDEV_OCF_KEY_MAX ||
	    ids[0] > INT64_MAX || ids[1] > INT64_MAX)
		return KDC_ERR_TOO_LARGE;
	if (!apply) {
		if ((r = kdc_ocf_doxm_decode(p[0], n[0],
		    &d->scratch.doxm)) != KDC_OK ||
		    (r = kdc_ocf_pstat_decode(p[1], n[1],
		    &d->scratch.pstat)) != KDC_OK ||
		    (r = kdc_ocf_cred_decode(p[2], n[2],
		    &d->scratch.creds)) != KDC_OK ||
		    (r = kdc_ocf_acl2_decode(p[3], n[3],
		    &d->scratch.acl2)) != KDC_OK)
			return r;
		kdc_wipe(&d->scratch, sizeof(d->scratch));
		return KDC_OK;
	}
	(void)kdc_ocf_doxm_decode(p[0], n[0], &d->doxm);
	(void)kdc_ocf_pstat_decode(p[1], n[1], &d->pstat);
	(void)kdc_ocf_cred_decode(p[2], n[2], &d->creds);
	(void)kdc_ocf_acl2_decode(p[3], n[3], &d->acl2);
	d->creds.has = KDC_OCF_CREDS_HAS_CREDS | KDC_OCF_CREDS_HAS_ROWNERUUID;
	d->acl2.has = KDC_OCF_ACL2_HAS_ACLIST2 | KDC_OCF_ACL2_HAS_ROWNERUUID;
	d->sdi_set = (flags & 1u) != 0;
	d->sdi_priv = (flags & 2u) != 0;
	d->light = (flags & 4u) != 0;
	memcpy(d->sdi_uuid.b, sdi, 16);
	memset(d->sdi_name, 0, sizeof(d->sdi_name));
	memcpy(d->sdi_name, name, nl);
	d->next_credid = (int64_t)ids[0];
	d->next_aceid = (int64_t)ids[1];
	kdc_wipe(d->key, sizeof(d->key));
	memcpy(d->key, key, kl);
	d->key_len = kl;
	return KDC_OK;
}

kdc_err
kdcdev_ocf_state_decode(struct kdcdev_ocf *d, const uint8_t *buf, size_t len)
{
	uint32_t body, crc;
	kdc_err r;

	if (len < HDR_LEN + 4)
		return KDC_ERR_TRUNCATED;
	if (memcmp(buf, MAGIC, MAGIC_LEN) != 0)
		return KDC_ERR_MALFORMED;
	body = (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 |
	    (uint32_t)buf[10] << 8 | buf[11];
	if (body != len - HDR_LEN - 4)
		return body > len ? KDC_ERR_TRUNCATED : KDC_ERR_MALFORMED;
	crc = (uint32_t)buf[len - 4] << 24 | (uint32_t)buf[len - 3] << 16 |
	    (uint32_t)buf[len - 2] << 8 | buf[len - 1];
	if (crc != kdcdev_crc32(buf, len - 4))
		return KDC_ERR_MALFORMED;
	if ((r = state_pass(d, buf, len, false)) != KDC_OK)
		return r;
	return state_pass(d, buf, len, true);
}

/* ==== CoAP ============================================================== */


static void
append(char *buf, size_t cap, char sep, const uint8_t *p, size_t len,
    bool *too_long)
{
	size_t at = strlen(buf);

	if (at + 1 + len + 1 > cap || memchr(p, '\0', len) != NULL) {
		*too_long = true;
		return;
	}
	if (sep != '\0' && !(sep == '&' && at == 0))
		buf[at++] = sep;
	memcpy(buf + at, p, len);
	buf[at + len] = '\0';
}

/* The datagram is read by the daemon's bounded CoAP codec (coap/wire.h,
 * base only, shared like the LwM2M codecs); what an OCF server needs of
 * its options is kept here. */
kdc_err
kdcdev_ocf_coap_parse(const uint8_t *msg, size_t len,
    struct kdcdev_ocf_coap *m)
{
	struct kdc_coap_wire w;
	uint32_t v;
	kdc_err r;

	memset(m, 0, sizeof(*m));
	m->content_format = m->accept = -1;
	m->ocf_accept_ver = m->ocf_content_ver = -1;
	if ((r = kdc_coap_wire_parse(msg, len, &w)) != KDC_OK)
		return r;
	m->type = w.type;
	m->tkl = w.token_len;
	m->code = w.code;
	m->mid = w.mid;
	memcpy(m->token, w.token, w.token_len);
	for (size_t i = 0; i < w.nopt; i++) {
		const struct kdc_coap_opt *o = &w.opt[i];

		switch (o->num) {
		case KDC_OPT_URI_PATH:
			append(m->path, sizeof(m->path), '/', o->val, o->len,
			    &m->too_long);
			break;
		case KDC_OPT_URI_QUERY:
			append(m->query, sizeof(m->query), '&', o->val, o->len,
			    &m->too_long);
			break;
		case KDC_OPT_CONTENT_FORMAT:
		case KDC_OPT_ACCEPT:
		case KDCDEV_OCF_OPT_ACCEPT_VER:
		case KDCDEV_OCF_OPT_CONTENT_VER:
			if (kdc_coap_opt_uint(o, &v) != KDC_OK || v > 0xffff)
				return KDC_ERR_MALFORMED;
			if (o->num == KDC_OPT_CONTENT_FORMAT)
				m->content_format = (int32_t)v;
			else if (o->num == KDC_OPT_ACCEPT)
				m->accept = (int32_t)v;
			else if (o->num == KDCDEV_OCF_OPT_ACCEPT_VER)
				m->ocf_accept_ver = (int32_t)v;
			else
				m->ocf_content_ver = (int32_t)v;
			break;
		case KDC_OPT_BLOCK1:
		case KDC_OPT_BLOCK2:
			if (kdc_coap_opt_uint(o, &v) != KDC_OK || o->len > 3 ||
			    (v & 7u) == 7u)
				return KDC_ERR_MALFORMED;
			if (o->num == KDC_OPT_BLOCK1) {
				m->has_block1 = true;
				m->block1_num = v >> 4;
				m->block1_more = (v & 8u) != 0;
				m->block1_szx = v & 7u;
			} else {
				m->has_block2 = true;
				m->block2_num = v >> 4;
				m->block2_more = (v & 8u) != 0;
				m->block2_szx = v & 7u;
			}
			break;
		case KDC_OPT_SIZE1:
		case KDC_OPT_SIZE2:
		case 3:		/* Uri-Host: we have one name */
		case 7:		/* Uri-Port: the socket's */
			break;
		default:
			if (o->num & 1u)
				m->bad_critical = true;
			break;
		}
	}
	if (m->path[0] == '\0') {
		m->path[0] = '/';
		m->path[1] = '\0';
	}
	m->payload = w.payload;
	m->payload_len = w.payload_len;
	return KDC_OK;
}

/* Written by the daemon's CoAP writer too (coap/wire.h kdc_coap_wb_*).
 * A path's leading '/' is ours to drop ("/a/light"); an empty segment
 * is refused (INVALID_ARG), as is a query item over 255 bytes. */
kdc_err
kdcdev_ocf_coap_build(const struct kdcdev_ocf_coap_out *o, uint8_t *out,
    size_t *out_len)
{
	struct kdc_coap_wb w;
	bool req = o->code >= 1 && o->code <= 4;
	size_t n;
	kdc_err r;

	if (o->tkl > 8 || o->type > 3)
		return KDC_ERR_INVALID_ARG;
	kdc_coap_wb_init(&w, out, *out_len, o->type, o->code, o->mid,
	    o->token, o->tkl);
	*out_len = 0;
	if (req && o->path != NULL) {
		const char *path = o->path;

		while (*path == '/')
			path++;
		kdc_coap_wb_path(&w, KDC_OPT_URI_PATH, path);
	}
	if (o->content_format >= 0)
		kdc_coap_wb_opt_uint(&w, KDC_OPT_CONTENT_FORMAT,
		    (uint32_t)o->content_format);
	if (req && o->query != NULL)
		kdc_coap_wb_query(&w, o->query, KDCDEV_OCF_QUERY_ITEMS_MAX);
	if (req)
		kdc_coap_wb_opt_uint(&w, KDC_OPT_ACCEPT, KDCDEV_OCF_CF);
	if (o->block2_szx >= 0)
		kdc_coap_wb_opt_uint(&w, KDC_OPT_BLOCK2, o->block2_num << 4 |
		    (o->block2_more ? 8u : 0u) | (unsigned)o->block2_szx);
	if (o->block1_szx >= 0)
		kdc_coap_wb_opt_uint(&w, KDC_OPT_BLOCK1, o->block1_num << 4 |
		    (o->block1_more ? 8u : 0u) | (unsigned)o->block1_szx);
	if (req && o->ocf_version)
		kdc_coap_wb_opt_uint(&w, KDCDEV_OCF_OPT_ACCEPT_VER,
		    KDCDEV_OCF_VERSION);
	if (o->content_format == KDCDEV_OCF_CF && o->ocf_version)
		kdc_coap_wb_opt_uint(&w, KDCDEV_OCF_OPT_CONTENT_VER,
		    KDCDEV_OCF_VERSION);
	if (o->payload_len > 0)
		kdc_coap_wb_payload(&w, o->payload, o->payload_len);
	if ((r = kdc_coap_wb_end(&w, &n)) != KDC_OK)
		return r;
	*out_len = n;
	return KDC_OK;
}

static bool
is_owned_false(const char *q)
{
	static const char want[] = "owned=false";

	for (size_t i = 0; i < sizeof(want); i++) {
		char c = q[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != want[i])
			return false;
	}
	return true;
}

void
kdcdev_ocf_exchange(struct kdcdev_ocf *d, const uint8_t *in, size_t in_len,
    const struct kdcdev_ocf_peer *peer, struct kdcdev_ocf_block1 *b1,
    bool multicast, uint16_t *next_mid, uint8_t *scratch,
    size_t scratch_cap, uint8_t *out, size_t *out_len,
    struct kdcdev_ocf_coap *mp, uint8_t *codep)
{
	struct kdcdev_ocf_coap lm, *q = mp != NULL ? mp : &lm;
	struct kdcdev_ocf_coap_out o;
	struct kdcdev_ocf_req req;
	struct kdcdev_ocf_resp resp;
	const uint8_t *body;
	size_t body_len, cap = *out_len, off, blk;
	uint8_t code;

	*out_len = 0;
	if (codep != NULL)
		*codep = 0;
	memset(&resp, 0, sizeof(resp));
	if (kdcdev_ocf_coap_parse(in, in_len, q) != KDC_OK || q->type > 1 ||
	    q->code < 1 || q->code > 4)
		return;				/* not a request: ignore */
	memset(&o, 0, sizeof(o));
	o.type = q->type == 0 ? 2 : 1;
	/* a piggybacked ACK echoes the MID; a NON answer has its own
	 * (RFC 7252 §4.3): two devices behind one address stay apart */
	o.mid = q->type == 0 ? q->mid : (*next_mid)++;
	o.token = q->token;
	o.tkl = q->tkl;
	o.content_format = -1;
	/* 2053 on our CF-10000 answers to a client that speaks OCF's
	 * versioning (it sent 2049 or 2053, as IoTivity and the KDC do):
	 * libcoap 4.3.1 drops an answer with that unknown critical option */
	o.ocf_version = q->ocf_accept_ver >= 0 || q->ocf_content_ver >= 0;
	o.block1_szx = o.block2_szx = -1;
	body = q->payload;
	body_len = q->payload_len;
	if (multicast) {
		/* discovery only: /oic/res (its access rules apply: in RFNOP
		 * the anon-clear ACE the OBT gives it), doxm while unowned */
		bool doxm = strcmp(q->path, "/oic/sec/doxm") == 0;
		if (q->code != 1 ||
		    (!doxm && strcmp(q->path, "/oic/res") != 0) ||
		    (doxm && (d->doxm.owned || (q->query[0] != '\0' &&
		    !is_owned_false(q->query)))))
			return;
		o.type = 1;
	}
	if (q->bad_critical) {
		code = KDCDEV_CODE(4, 2);
		goto answer;
	}
	if ((q->ocf_accept_ver >= 0 && q->ocf_accept_ver < 2048) ||
	    (q->ocf_content_ver >= 0 && q->ocf_content_ver < 2048)) {
		code = KDCDEV_CODE(4, 15);
		goto answer;
	}
	if (q->too_long) {
		code = KDCDEV_CODE(4, 4);
		goto answer;
	}
	if (q->has_block1 && b1 != NULL) {
		size_t at = (size_t)q->block1_num << (q->block1_szx + 4);
		if (q->block1_num == 0) {
			b1->len = 0;
			b1->active = true;
		}
		if (!b1->active || at != b1->len) {
			code = KDCDEV_CODE(4, 8);
			b1->active = false;
			goto answer;
		}
		if (b1->len + q->payload_len > sizeof(b1->buf)) {
			code = KDCDEV_CODE(4, 13);
			b1->active = false;
			goto answer;
		}
		if (q->payload_len > 0)
			memcpy(b1->buf + b1->len, q->payload, q->payload_len);
		b1->len += q->payload_len;
		o.block1_szx = (int)q->block1_szx;
		o.block1_num = q->block1_num;
		o.block1_more = q->block1_more;
		if (q->block1_more) {
			code = KDCDEV_CODE(2, 31);
			goto answer;
		}
		b1->active = false;
		body = b1->buf;
		body_len = b1->len;
	}
	memset(&req, 0, sizeof(req));
	req.method = q->code;
	req.path = q->path;
	req.query = q->query;
	req.content_format = q->content_format;
	req.payload = body;
	req.payload_len = body_len;
	req.peer = *peer;
	resp.out = scratch;
	resp.out_cap = scratch_cap;
	kdcdev_ocf_handle(d, &req, &resp);
	if (b1 != NULL && body == b1->buf)
		kdc_wipe(b1->buf, sizeof(b1->buf));
	code = resp.code;
	if (multicast && code != KDCDEV_CODE(2, 5)) {
		kdc_wipe(scratch, resp.out_len);
		return;
	}
	o.content_format = resp.content_format;
	o.payload = resp.out;
	o.payload_len = resp.out_len;
	/* Block2: answers over 1 KiB (or the client's smaller block) */
	blk = 1024;
	if (q->has_block2 && q->block2_szx < 6)
		blk = (size_t)16 << q->block2_szx;
	if (resp.out_len > blk || (q->has_block2 && q->block2_num > 0)) {
		unsigned szx = blk == 1024 ? 6 : q->block2_szx;
		off = q->has_block2 ? (size_t)q->block2_num * blk : 0;
		/* a block past the end (an empty answer has none but 0) */
		if (off >= resp.out_len) {
			code = KDCDEV_CODE(4, 2);
			o.payload_len = 0;
			o.content_format = -1;
			goto answer;
		}
		o.block2_szx = (int)szx;
		o.block2_num = (uint32_t)(off / blk);
		o.payload = resp.out + off;
		o.payload_len = resp.out_len - off > blk ? blk :
		    resp.out_len - off;
		o.block2_more = off + o.payload_len < resp.out_len;
	}
answer:
	o.code = code;
	if (code >> 5 != 2) {
		o.payload_len = 0;
		o.content_format = -1;
	}
	if (codep != NULL)
		*codep = code;
	*out_len = cap;
	if (kdcdev_ocf_coap_build(&o, out, out_len) != KDC_OK)
		*out_len = 0;
	kdc_wipe(scratch, resp.out_len);
}


/* ==== CBOR as text ======================================================= */

struct tw {
	char	*out;
	size_t	 cap, at;
};

static void
tw_put(struct tw *t, const char *s, size_t n)
{
	for (size_t i = 0; i < n && t->at + 1 < t->cap; i++)
		t->out[t->at++] = s[i];
	t->out[t->at] = '\0';
}

static kdc_err
tw_item(struct tw *t, struct kdc_rd *rd, unsigned depth)
{
	unsigned major;
	char buf[64];
	kdc_err r;

	if (depth > 8)
		return KDC_ERR_TOO_LARGE;
	if (!kdc_cbor_peek(rd, &major))
		return KDC_ERR_TRUNCATED;
	if (major == KDC_CBOR_MAP || major == KDC_CBOR_ARRAY) {
		struct kdc_cbor_iter it;
		bool first = true, map = major == KDC_CBOR_MAP;

		r = map ? kdc_cbor_iter_map(rd, &it) :
		    kdc_cbor_iter_array(rd, &it);
		if (r != KDC_OK)
			return r;
		tw_put(t, map ? "{" : "[", 1);
		while (kdc_cbor_iter_next(rd, &it)) {
			if (!first)
				tw_put(t, ", ", 2);
			first = false;
			if ((r = tw_item(t, rd, depth + 1)) != KDC_OK)
				return r;
			if (map) {
				tw_put(t, ": ", 2);
				if ((r = tw_item(t, rd, depth + 1)) != KDC_OK)
					return r;
			}
		}
		if ((r = kdc_rd_err(rd)) != KDC_OK)
			return r;
		tw_put(t, map ? "}" : "]", 1);
		return KDC_OK;
	}
	if (major == KDC_CBOR_TSTR) {
		char s[256];
		size_t n;
		if ((r = kdc_cbor_read_tstr_copy(rd, s, sizeof(s), &n)) !=
		    KDC_OK)
			return r;
		tw_put(t, "\"", 1);
		tw_put(t, s, n);
		tw_put(t, "\"", 1);
		return KDC_OK;
	}
	if (major == KDC_CBOR_BSTR) {
		uint8_t b[128];
		size_t n;
		if ((r = kdc_cbor_read_bstr_copy(rd, b, sizeof(b), &n)) !=
		    KDC_OK)
			return r;
		tw_put(t, "h'", 2);
		for (size_t i = 0; i < n; i++) {
			snprintf(buf, sizeof(buf), "%02x", b[i]);
			tw_put(t, buf, 2);
		}
		tw_put(t, "'", 1);
		return KDC_OK;
	}
	if (major == KDC_CBOR_UINT || major == KDC_CBOR_NINT) {
		int64_t v;
		if ((r = kdc_cbor_read_int(rd, &v)) != KDC_OK)
			return r;
		snprintf(buf, sizeof(buf), "%lld", (long long)v);
		tw_put(t, buf, strlen(buf));
		return KDC_OK;
	}
	if (major == KDC_CBOR_SIMPLE) {
		bool b;
		if (kdc_cbor_read_bool(rd, &b) == KDC_OK) {
			tw_put(t, b ? "true" : "false", b ? 4 : 5);
			return KDC_OK;
		}
	}
	return KDC_ERR_UNSUPPORTED;
}

void
kdcdev_ocf_cbor_text(const uint8_t *in, size_t len, char *out, size_t cap)
{
	struct tw t = { out, cap, 0 };
	struct kdc_rd rd;

	if (cap == 0)
		return;
	out[0] = '\0';
	if (len == 0)
		return;
	kdc_rd_init(&rd, in, len);
	if (tw_item(&t, &rd, 0) != KDC_OK)
		tw_put(&t, " (undecodable)", 14);
}
