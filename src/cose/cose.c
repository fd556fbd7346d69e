/*
 * cose.c: COSE_Sign1, COSE_Mac0, COSE_Encrypt0 and COSE_Key (cose.h) on
 * base's bounded CBOR reader/writer (base/cbor.h) and the primitives of
 * cose_crypto.h. No allocation: the structure a signature, MAC or AEAD
 * covers (Sig_structure, MAC_structure, Enc_structure; RFC 9052 §4.4,
 * §6.3, §5.3) is built in the tail of the output buffer when we make a
 * message, in the caller's work buffer when we check one. The protected
 * header is covered exactly as received.
 */
#include <string.h>

#include "base/buf.h"
#include "base/cbor.h"
#include "base/wipe.h"
#include "cose/cose.h"
#include "cose/cose_crypto.h"
#include "cose/cose_int.h"

/* Header labels (RFC 9052 §3.1). */
#define H_ALG		1
#define H_CRIT		2
#define H_CTYPE		3
#define H_KID		4
#define H_IV		5
#define H_PIV		6

/* COSE_Key labels (RFC 9052 §7.1, RFC 9053 §7). */
#define K_KTY		1
#define K_KID		2
#define K_ALG		3
#define K_CRV		(-1)	/* EC2, OKP: crv (int); Symmetric: k (bstr) */
#define K_X		(-2)
#define K_Y		(-3)
#define K_D		(-4)

/* Unknown header values and key parameters are skipped this deep: a
 * header sits at depth 2 of a message (array, map). */
#define SKIP_DEPTH	(KDC_COSE_DEPTH_MAX - 2)

/* ---- algorithms ----------------------------------------------------- */

const struct kdc_cose_alg *
kdc_cose_alg_find(int alg)
{
	static const struct kdc_cose_alg algs[] = {
		{ KDC_COSE_ALG_ES256, KDC_COSE_SIGN1, 64, 0, 0 },
		{ KDC_COSE_ALG_EDDSA, KDC_COSE_SIGN1, 64, 0, 0 },
		{ KDC_COSE_ALG_HMAC256_64, KDC_COSE_MAC0, 8, 0, 0 },
		{ KDC_COSE_ALG_HMAC256_256, KDC_COSE_MAC0, 32, 0, 0 },
		{ KDC_COSE_ALG_CCM_16_64_128, KDC_COSE_ENCRYPT0, 8, 13,
		    KDC_CC_AES_CCM },
		{ KDC_COSE_ALG_CCM_16_128_128, KDC_COSE_ENCRYPT0, 16, 13,
		    KDC_CC_AES_CCM },
		{ KDC_COSE_ALG_A128GCM, KDC_COSE_ENCRYPT0, 16, 12,
		    KDC_CC_AES_GCM },
	};

	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].alg == alg)
			return &algs[i];
	return NULL;
}

/* ---- labels (duplicate detection, bounded) -------------------------- */

bool
kdc_cose_label_read(struct kdc_rd *rd, struct kdc_cose_label *l)
{
	unsigned major;

	memset(l, 0, sizeof(*l));
	if (!kdc_cbor_peek(rd, &major))
		return kdc_rd_fail(rd, KDC_ERR_TRUNCATED);
	if (major == KDC_CBOR_UINT || major == KDC_CBOR_NINT)
		return kdc_cbor_read_int(rd, &l->i) == KDC_OK;
	if (major == KDC_CBOR_TSTR) {
		const char *s;

		l->text = true;
		if (kdc_cbor_read_tstr(rd, &s, &l->n) != KDC_OK)
			return false;
		l->s = (const uint8_t *)s;
		return true;
	}
	return kdc_rd_fail(rd, KDC_ERR_MALFORMED);
}

bool
kdc_cose_labels_add(struct kdc_cose_labels *ls, const struct kdc_cose_label *l)
{
	for (size_t i = 0; i < ls->n; i++) {
		const struct kdc_cose_label *o = &ls->v[i];

		if (o->text != l->text)
			continue;
		if (!l->text ? o->i == l->i : (o->n == l->n &&
		    (l->n == 0 || memcmp(o->s, l->s, l->n) == 0)))
			return false;	/* a duplicate */
	}
	if (ls->n >= KDC_COSE_LABELS_MAX)
		return false;
	ls->v[ls->n++] = *l;
	return true;
}

/* Record r in rd (unless a failure is there already); that failure. */
static kdc_err
rfail(struct kdc_rd *rd, kdc_err r)
{
	kdc_rd_fail(rd, r);
	return kdc_rd_err(rd);
}

/* Add l, failing rd with MALFORMED (duplicate) or TOO_LARGE (too many). */
static bool
label_add(struct kdc_rd *rd, struct kdc_cose_labels *ls,
    const struct kdc_cose_label *l)
{
	if (kdc_cose_labels_add(ls, l))
		return true;
	return kdc_rd_fail(rd, ls->n >= KDC_COSE_LABELS_MAX ?
	    KDC_ERR_TOO_LARGE : KDC_ERR_MALFORMED);
}

/* ---- writing -------------------------------------------------------- */

/* The length of a CBOR head with argument v. */
static size_t
head_len(uint64_t v)
{
	return v < 24 ? 1 : v <= 0xff ? 2 : v <= 0xffff ? 3 :
	    v <= 0xffffffffu ? 5 : 9;
}

static size_t
int_len(int64_t v)
{
	return head_len(v >= 0 ? (uint64_t)v : (uint64_t)(-(v + 1)));
}

/* The protected header we make: {1: alg[, 4: kid]} as a bstr, or h''
 * never (alg is always there). */
static bool
wr_protected(struct kdc_wr *w, int alg, const uint8_t *kid, size_t kid_len,
    bool kid_prot, const uint8_t **prot, size_t *prot_len)
{
	bool with_kid = kid_prot && kid_len > 0;
	size_t n = 1 + 1 + int_len(alg);

	if (with_kid)
		n += 1 + head_len(kid_len) + kid_len;
	if (!kdc_cbor_head_write(w, KDC_CBOR_BSTR, n))
		return false;
	*prot = w->buf + kdc_wr_len(w);
	*prot_len = n;
	return kdc_cbor_write_map(w, with_kid ? 2 : 1) &&
	    kdc_cbor_write_int(w, H_ALG) && kdc_cbor_write_int(w, alg) &&
	    (!with_kid || (kdc_cbor_write_int(w, H_KID) &&
	    kdc_cbor_write_bstr(w, kid, kid_len)));
}

/* Tags, array head, protected and unprotected headers. */
static bool
wr_prefix(struct kdc_wr *w, int type, const struct kdc_cose_hdr_opts *o,
    int alg, const uint8_t *kid, size_t kid_len, const uint8_t *iv,
    size_t iv_len, const uint8_t **prot, size_t *prot_len)
{
	bool kid_prot = o != NULL && o->kid_protected;
	bool kid_unprot = !kid_prot && kid_len > 0;

	if (o != NULL && o->cwt_tag && !kdc_cbor_write_tag(w, KDC_CWT_TAG))
		return false;
	if (o != NULL && o->tag && !kdc_cbor_write_tag(w, (uint64_t)type))
		return false;
	if (!kdc_cbor_write_array(w, type == KDC_COSE_ENCRYPT0 ? 3 : 4) ||
	    !wr_protected(w, alg, kid, kid_len, kid_prot, prot, prot_len))
		return false;
	/* unprotected, keys in order: 4 kid, 5 IV */
	return kdc_cbor_write_map(w, (kid_unprot ? 1u : 0u) +
	    (iv != NULL ? 1u : 0u)) &&
	    (!kid_unprot || (kdc_cbor_write_int(w, H_KID) &&
	    kdc_cbor_write_bstr(w, kid, kid_len))) &&
	    (iv == NULL || (kdc_cbor_write_int(w, H_IV) &&
	    kdc_cbor_write_bstr(w, iv, iv_len)));
}

/*
 * The structure a signature, MAC or AEAD covers (RFC 9052 §4.4, §6.3,
 * §5.3): [context, body_protected, external_aad(, payload)]. payload
 * NULL with payload_len 0 and with_payload false: Enc_structure.
 */
static kdc_err
structure(uint8_t *buf, size_t cap, const char *context,
    const uint8_t *prot, size_t prot_len, const uint8_t *aad, size_t aad_len,
    bool with_payload, const uint8_t *payload, size_t payload_len,
    size_t *len)
{
	struct kdc_wr w;

	*len = 0;
	kdc_wr_init(&w, buf, cap);
	if (!kdc_cbor_write_array(&w, with_payload ? 4 : 3) ||
	    !kdc_cbor_write_tstr(&w, context, strlen(context)) ||
	    !kdc_cbor_write_bstr(&w, prot, prot_len) ||
	    !kdc_cbor_write_bstr(&w, aad, aad_len) ||
	    (with_payload && !kdc_cbor_write_bstr(&w, payload, payload_len)))
		return kdc_wr_err(&w);
	*len = kdc_wr_len(&w);
	return KDC_OK;
}

static bool
bytes_ok(const uint8_t *p, size_t n)
{
	return p != NULL || n == 0;
}

kdc_err
kdc_cose_sign1_encode(const struct kdc_cose_signer *s,
    const struct kdc_cose_hdr_opts *o, const uint8_t *payload,
    size_t payload_len, const uint8_t *aad, size_t aad_len, uint8_t *out,
    size_t *out_len)
{
	struct kdc_wr w;
	const uint8_t *prot;
	uint8_t sig[KDC_CC_SIG_LEN], *tbs;
	size_t prot_len, tbs_len, sig_len = sizeof(sig), cap, at;
	kdc_err r;

	if (out_len == NULL)
		return KDC_ERR_INVALID_ARG;
	cap = *out_len;
	*out_len = 0;
	if (s == NULL || out == NULL || !bytes_ok(payload, payload_len) ||
	    !bytes_ok(aad, aad_len) || !bytes_ok(s->key.kid, s->key.kid_len))
		return KDC_ERR_INVALID_ARG;
	if (s->alg != KDC_COSE_ALG_ES256 && s->alg != KDC_COSE_ALG_EDDSA)
		return KDC_ERR_UNSUPPORTED;
	if (s->fn == NULL && (s->key.d == NULL || s->key.d_len != 32))
		return KDC_ERR_INVALID_ARG;
	kdc_wr_init(&w, out, cap);
	if (!wr_prefix(&w, KDC_COSE_SIGN1, o, s->alg, s->key.kid,
	    s->key.kid_len, NULL, 0, &prot, &prot_len) ||
	    !kdc_cbor_write_bstr(&w, payload, payload_len))
		return kdc_wr_err(&w);
	/* the Sig_structure goes after the room the signature will take */
	at = kdc_wr_len(&w);
	if (cap - at < 2 + KDC_CC_SIG_LEN)
		return KDC_ERR_TOO_LARGE;
	tbs = out + at + 2 + KDC_CC_SIG_LEN;
	if ((r = structure(tbs, cap - at - 2 - KDC_CC_SIG_LEN, "Signature1",
	    prot, prot_len, aad, aad_len, true, payload, payload_len,
	    &tbs_len)) != KDC_OK)
		return r;
	if (s->fn != NULL)
		r = s->fn(s->arg, tbs, tbs_len, sig, &sig_len);
	else if (s->alg == KDC_COSE_ALG_ES256)
		r = kdc_cc_es256_sign(s->key.d,
		    s->key.x_len == 32 ? s->key.x : NULL,
		    s->key.y_len == 32 ? s->key.y : NULL, tbs, tbs_len, sig);
	else
		r = kdc_cc_ed25519_sign(s->key.d, tbs, tbs_len, sig);
	memset(tbs, 0, tbs_len);
	if (r == KDC_OK && sig_len != KDC_CC_SIG_LEN)
		r = KDC_ERR_CRYPTO;
	if (r != KDC_OK)
		return r;
	if (!kdc_cbor_write_bstr(&w, sig, sig_len))
		return kdc_wr_err(&w);
	*out_len = kdc_wr_len(&w);
	return KDC_OK;
}

kdc_err
kdc_cose_mac0_encode(const struct kdc_cose_key *key,
    const struct kdc_cose_hdr_opts *o, const uint8_t *payload,
    size_t payload_len, const uint8_t *aad, size_t aad_len, uint8_t *out,
    size_t *out_len)
{
	const struct kdc_cose_alg *a;
	struct kdc_wr w;
	const uint8_t *prot;
	uint8_t mac[KDC_CC_HMAC_LEN], *tbs;
	size_t prot_len, tbs_len, cap, at;
	kdc_err r;

	if (out_len == NULL)
		return KDC_ERR_INVALID_ARG;
	cap = *out_len;
	*out_len = 0;
	if (key == NULL || out == NULL || !bytes_ok(payload, payload_len) ||
	    !bytes_ok(aad, aad_len) || !bytes_ok(key->kid, key->kid_len))
		return KDC_ERR_INVALID_ARG;
	if ((a = kdc_cose_alg_find(key->alg)) == NULL ||
	    a->type != KDC_COSE_MAC0)
		return KDC_ERR_UNSUPPORTED;
	if (key->k == NULL || key->k_len < 16)
		return KDC_ERR_INVALID_ARG;
	kdc_wr_init(&w, out, cap);
	if (!wr_prefix(&w, KDC_COSE_MAC0, o, key->alg, key->kid, key->kid_len,
	    NULL, 0, &prot, &prot_len) ||
	    !kdc_cbor_write_bstr(&w, payload, payload_len))
		return kdc_wr_err(&w);
	at = kdc_wr_len(&w);
	if (cap - at < 2 + a->tag_len)
		return KDC_ERR_TOO_LARGE;
	tbs = out + at + 2 + a->tag_len;
	if ((r = structure(tbs, cap - at - 2 - a->tag_len, "MAC0", prot,
	    prot_len, aad, aad_len, true, payload, payload_len, &tbs_len)) !=
	    KDC_OK)
		return r;
	r = kdc_cc_hmac256(key->k, key->k_len, tbs, tbs_len, mac);
	memset(tbs, 0, tbs_len);
	if (r == KDC_OK && !kdc_cbor_write_bstr(&w, mac, a->tag_len))
		r = kdc_wr_err(&w);
	kdc_wipe(mac, sizeof(mac));
	if (r != KDC_OK)
		return r;
	*out_len = kdc_wr_len(&w);
	return KDC_OK;
}

kdc_err
kdc_cose_encrypt0_encode(const struct kdc_cose_key *key,
    const struct kdc_cose_hdr_opts *o, const uint8_t *iv, size_t iv_len,
    const uint8_t *plaintext, size_t pt_len, const uint8_t *aad,
    size_t aad_len, uint8_t *out, size_t *out_len)
{
	const struct kdc_cose_alg *a;
	struct kdc_wr w;
	const uint8_t *prot;
	uint8_t *ct, *tbs;
	size_t prot_len, tbs_len, ct_len, cap, at;
	kdc_err r;

	if (out_len == NULL)
		return KDC_ERR_INVALID_ARG;
	cap = *out_len;
	*out_len = 0;
	if (key == NULL || out == NULL || !bytes_ok(plaintext, pt_len) ||
	    !bytes_ok(aad, aad_len) || !bytes_ok(key->kid, key->kid_len))
		return KDC_ERR_INVALID_ARG;
	if ((a = kdc_cose_alg_find(key->alg)) == NULL ||
	    a->type != KDC_COSE_ENCRYPT0)
		return KDC_ERR_UNSUPPORTED;
	if (key->k == NULL || key->k_len != 16 || iv == NULL ||
	    iv_len != a->nonce_len)
		return KDC_ERR_INVALID_ARG;
	if (pt_len > SIZE_MAX - a->tag_len)
		return KDC_ERR_TOO_LARGE;
	kdc_wr_init(&w, out, cap);
	if (!wr_prefix(&w, KDC_COSE_ENCRYPT0, o, key->alg, key->kid,
	    key->kid_len, iv, iv_len, &prot, &prot_len) ||
	    !kdc_cbor_head_write(&w, KDC_CBOR_BSTR, pt_len + a->tag_len))
		return kdc_wr_err(&w);
	/* ciphertext then tag at `at`, the Enc_structure after them */
	at = kdc_wr_len(&w);
	if (cap - at < pt_len + a->tag_len)
		return KDC_ERR_TOO_LARGE;
	ct = out + at;
	ct_len = pt_len + a->tag_len;
	tbs = ct + ct_len;
	if ((r = structure(tbs, cap - at - ct_len, "Encrypt0", prot, prot_len,
	    aad, aad_len, false, NULL, 0, &tbs_len)) != KDC_OK)
		return r;
	r = kdc_cc_aead_seal(a->mode, key->k, key->k_len, iv, iv_len,
	    a->tag_len, tbs, tbs_len, plaintext, pt_len, ct, &ct_len);
	memset(tbs, 0, tbs_len);
	if (r != KDC_OK)
		return r;
	*out_len = at + ct_len;
	return KDC_OK;
}

/* ---- reading -------------------------------------------------------- */

struct hdr_state {
	struct kdc_cose_labels	 seen;		/* both buckets */
	struct kdc_rd		 crit;		/* at crit's array, if any */
	bool			 has_crit;
	bool			 has_iv, has_piv;
};

/* One header bucket (a map) from rd. prot: the protected one. */
static kdc_err
read_hdr(struct kdc_rd *rd, bool prot, struct hdr_state *st,
    struct kdc_cose_msg *m)
{
	struct kdc_cose_label l;
	uint64_t n;
	unsigned major;
	kdc_err r;

	if ((r = kdc_cbor_read_map(rd, &n)) != KDC_OK)
		return r;
	for (uint64_t i = 0; i < n; i++) {
		if (!kdc_cose_label_read(rd, &l) || !label_add(rd, &st->seen, &l))
			return kdc_rd_err(rd);
		if (l.text) {
			/* a text label is nothing we use */
			if ((r = kdc_cbor_skip(rd, SKIP_DEPTH)) != KDC_OK)
				return r;
			continue;
		}
		switch (l.i) {
		case H_ALG: {
			int64_t alg;

			/* an alg an attacker could move out of the
			 * protected bucket is no alg */
			if (!prot)
				return rfail(rd, KDC_ERR_MALFORMED);
			if (kdc_cbor_peek(rd, &major) &&
			    major == KDC_CBOR_TSTR)
				return KDC_ERR_UNSUPPORTED;
			if ((r = kdc_cbor_read_int(rd, &alg)) != KDC_OK)
				return r;
			if (alg < -65536 || alg > 65535 || alg == 0)
				return KDC_ERR_UNSUPPORTED;
			m->alg = (int)alg;
			break;
		}
		case H_CRIT: {
			uint64_t cn;

			if (!prot)
				return rfail(rd, KDC_ERR_MALFORMED);
			st->crit = *rd;
			st->has_crit = true;
			if ((r = kdc_cbor_read_array(rd, &cn)) != KDC_OK)
				return r;
			if (cn == 0)	/* RFC 9052 §3.1: at least one */
				return rfail(rd, KDC_ERR_MALFORMED);
			for (uint64_t j = 0; j < cn; j++)
				if ((r = kdc_cbor_skip(rd, 0)) != KDC_OK)
					return r;
			break;
		}
		case H_CTYPE:
			if (!kdc_cbor_peek(rd, &major) ||
			    (major != KDC_CBOR_UINT && major != KDC_CBOR_TSTR))
				return rfail(rd, KDC_ERR_MALFORMED);
			if ((r = kdc_cbor_skip(rd, 0)) != KDC_OK)
				return r;
			break;
		case H_KID:
			if ((r = kdc_cbor_read_bstr(rd, &m->kid, &m->kid_len)) !=
			    KDC_OK)
				return r;
			break;
		case H_IV:
			if ((r = kdc_cbor_read_bstr(rd, &m->iv, &m->iv_len)) !=
			    KDC_OK)
				return r;
			st->has_iv = true;
			break;
		case H_PIV:
			if ((r = kdc_cbor_read_bstr(rd, &m->partial_iv,
			    &m->partial_iv_len)) != KDC_OK)
				return r;
			st->has_piv = true;
			break;
		default:
			if ((r = kdc_cbor_skip(rd, SKIP_DEPTH)) != KDC_OK)
				return r;
			break;
		}
	}
	return KDC_OK;
}

/* crit (RFC 9052 §3.1): every label it names must be one we process and
 * be in the protected bucket. */
static kdc_err
check_crit(struct hdr_state *st, const struct kdc_cose_labels *prot_seen)
{
	struct kdc_rd rd = st->crit;
	struct kdc_cose_label l;
	uint64_t n;

	if (!st->has_crit)
		return KDC_OK;
	if (kdc_cbor_read_array(&rd, &n) != KDC_OK)
		return KDC_ERR_MALFORMED;
	for (uint64_t i = 0; i < n; i++) {
		bool found = false;

		if (!kdc_cose_label_read(&rd, &l))
			return kdc_rd_err(&rd);
		if (l.text || (l.i != H_ALG && l.i != H_CTYPE && l.i != H_KID &&
		    l.i != H_IV && l.i != H_PIV))
			return KDC_ERR_UNSUPPORTED;
		for (size_t j = 0; j < prot_seen->n; j++)
			if (!prot_seen->v[j].text && prot_seen->v[j].i == l.i)
				found = true;
		if (!found)
			return KDC_ERR_MALFORMED;
	}
	return KDC_OK;
}

kdc_err
kdc_cose_parse(const uint8_t *buf, size_t len, int expect_type,
    struct kdc_cose_msg *m)
{
	struct kdc_rd rd, prd;
	struct hdr_state st;
	struct kdc_cose_labels prot_seen;
	uint64_t tag, n;
	unsigned major;
	int type = 0;
	kdc_err r;

	if (m == NULL)
		return KDC_ERR_INVALID_ARG;
	memset(m, 0, sizeof(*m));
	if (buf == NULL && len > 0)
		return KDC_ERR_INVALID_ARG;
	if (expect_type != 0 && expect_type != KDC_COSE_SIGN1 &&
	    expect_type != KDC_COSE_MAC0 && expect_type != KDC_COSE_ENCRYPT0)
		return KDC_ERR_INVALID_ARG;
	memset(&st, 0, sizeof(st));
	kdc_rd_init(&rd, buf, len);

	/* [61(] [16/17/18(] array */
	if (!kdc_cbor_peek(&rd, &major))
		return KDC_ERR_TRUNCATED;
	if (major == KDC_CBOR_TAG) {
		if ((r = kdc_cbor_read_tag(&rd, &tag)) != KDC_OK)
			return r;
		if (tag == KDC_CWT_TAG) {
			m->cwt_tagged = true;
			if (!kdc_cbor_peek(&rd, &major))
				return KDC_ERR_TRUNCATED;
			if (major != KDC_CBOR_TAG)
				goto untagged;
			if ((r = kdc_cbor_read_tag(&rd, &tag)) != KDC_OK)
				return r;
		}
		if (tag == KDC_COSE_SIGN1 || tag == KDC_COSE_MAC0 ||
		    tag == KDC_COSE_ENCRYPT0) {
			type = (int)tag;
			m->tagged = true;
		} else if (tag == 96 || tag == 97 || tag == 98)
			return KDC_ERR_UNSUPPORTED;	/* multi-recipient/signer */
		else
			return KDC_ERR_MALFORMED;	/* any other tag, 0 too */
	}
untagged:
	if (type == 0)
		type = expect_type;
	if (type == 0)
		return KDC_ERR_MALFORMED;	/* untagged, nothing expected */
	if (expect_type != 0 && type != expect_type)
		return KDC_ERR_MALFORMED;	/* tagged as something else */
	m->type = type;

	if ((r = kdc_cbor_read_array(&rd, &n)) != KDC_OK)
		return r;
	if (n != (type == KDC_COSE_ENCRYPT0 ? 3u : 4u))
		return KDC_ERR_MALFORMED;

	/* protected: a bstr holding a map, or empty */
	if ((r = kdc_cbor_read_bstr(&rd, &m->prot, &m->prot_len)) != KDC_OK)
		return r;
	if (m->prot_len > 0) {
		kdc_rd_init(&prd, m->prot, m->prot_len);
		if ((r = read_hdr(&prd, true, &st, m)) != KDC_OK)
			goto fail;
		if (!kdc_rd_at_end(&prd)) {
			r = KDC_ERR_TRAILING;
			goto fail;
		}
	}
	prot_seen = st.seen;
	if ((r = read_hdr(&rd, false, &st, m)) != KDC_OK)
		goto fail;
	if ((r = check_crit(&st, &prot_seen)) != KDC_OK)
		goto fail;
	if (st.has_iv && st.has_piv) {	/* RFC 9052 §3.1: never both */
		r = KDC_ERR_MALFORMED;
		goto fail;
	}

	/* payload (ciphertext): a detached one (nil) we do not do */
	if (kdc_cbor_peek(&rd, &major) && major == KDC_CBOR_SIMPLE) {
		unsigned s;

		r = kdc_cbor_read_simple(&rd, &s) == KDC_OK &&
		    s == KDC_CBOR_NULL ? KDC_ERR_UNSUPPORTED : KDC_ERR_MALFORMED;
		goto fail;
	}
	if ((r = kdc_cbor_read_bstr(&rd, &m->payload, &m->payload_len)) !=
	    KDC_OK)
		goto fail;
	if (type != KDC_COSE_ENCRYPT0 &&
	    (r = kdc_cbor_read_bstr(&rd, &m->sig, &m->sig_len)) != KDC_OK)
		goto fail;
	if (!kdc_rd_at_end(&rd)) {
		r = KDC_ERR_TRAILING;
		goto fail;
	}
	return KDC_OK;
fail:
	memset(m, 0, sizeof(*m));
	return r;
}

/* The key may serve this message: same alg as its protected header
 * (never a downgrade), of the message's kind. */
static kdc_err
key_for(const struct kdc_cose_msg *m, const struct kdc_cose_key *key,
    int type, const struct kdc_cose_alg **a)
{
	*a = NULL;
	if (m == NULL || key == NULL || m->type != type)
		return KDC_ERR_INVALID_ARG;
	if (key->alg != m->alg)
		return KDC_ERR_UNSUPPORTED;
	if ((*a = kdc_cose_alg_find(m->alg)) == NULL || (*a)->type != type)
		return KDC_ERR_UNSUPPORTED;
	return KDC_OK;
}

kdc_err
kdc_cose_sign1_verify(const struct kdc_cose_msg *m,
    const struct kdc_cose_key *key, const uint8_t *aad, size_t aad_len,
    uint8_t *work, size_t work_cap)
{
	const struct kdc_cose_alg *a;
	size_t tbs_len;
	kdc_err r;

	if ((r = key_for(m, key, KDC_COSE_SIGN1, &a)) != KDC_OK)
		return r;
	if (work == NULL || !bytes_ok(aad, aad_len))
		return KDC_ERR_INVALID_ARG;
	if ((r = structure(work, work_cap, "Signature1", m->prot, m->prot_len,
	    aad, aad_len, true, m->payload, m->payload_len, &tbs_len)) !=
	    KDC_OK)
		return r;
	if (key->alg == KDC_COSE_ALG_ES256) {
		if (key->x == NULL || key->x_len != 32 || key->y == NULL ||
		    key->y_len != 32)
			return KDC_ERR_INVALID_ARG;
		return kdc_cc_es256_verify(key->x, key->y, work, tbs_len,
		    m->sig, m->sig_len);
	}
	if (key->x == NULL || key->x_len != 32)
		return KDC_ERR_INVALID_ARG;
	return kdc_cc_ed25519_verify(key->x, work, tbs_len, m->sig, m->sig_len);
}

kdc_err
kdc_cose_mac0_verify(const struct kdc_cose_msg *m,
    const struct kdc_cose_key *key, const uint8_t *aad, size_t aad_len,
    uint8_t *work, size_t work_cap)
{
	const struct kdc_cose_alg *a;
	size_t tbs_len;
	kdc_err r;

	if ((r = key_for(m, key, KDC_COSE_MAC0, &a)) != KDC_OK)
		return r;
	if (work == NULL || !bytes_ok(aad, aad_len) || key->k == NULL ||
	    key->k_len < 16)
		return KDC_ERR_INVALID_ARG;
	if (m->sig_len != a->tag_len)
		return KDC_ERR_BAD_SIGNATURE;
	if ((r = structure(work, work_cap, "MAC0", m->prot, m->prot_len, aad,
	    aad_len, true, m->payload, m->payload_len, &tbs_len)) != KDC_OK)
		return r;
	return kdc_cc_hmac256_check(key->k, key->k_len, work, tbs_len, m->sig,
	    m->sig_len);
}

kdc_err
kdc_cose_encrypt0_decrypt(const struct kdc_cose_msg *m,
    const struct kdc_cose_key *key, const uint8_t *aad, size_t aad_len,
    uint8_t *pt, size_t *pt_len, uint8_t *work, size_t work_cap)
{
	const struct kdc_cose_alg *a;
	uint8_t nonce[13];
	size_t tbs_len, cap;
	kdc_err r;

	if (pt_len == NULL)
		return KDC_ERR_INVALID_ARG;
	cap = *pt_len;
	*pt_len = 0;
	if ((r = key_for(m, key, KDC_COSE_ENCRYPT0, &a)) != KDC_OK)
		goto out;
	r = KDC_ERR_INVALID_ARG;
	if (work == NULL || pt == NULL || !bytes_ok(aad, aad_len) ||
	    key->k == NULL || key->k_len != 16)
		goto out;
	memset(nonce, 0, sizeof(nonce));
	if (m->iv != NULL) {
		if (m->iv_len != a->nonce_len) {
			r = KDC_ERR_MALFORMED;
			goto out;
		}
		memcpy(nonce, m->iv, a->nonce_len);
	} else if (m->partial_iv != NULL) {
		/* RFC 9052 §3.1: Base IV left-aligned, Partial IV right */
		if (key->base_iv == NULL || key->base_iv_len == 0) {
			r = KDC_ERR_UNSUPPORTED;
			goto out;
		}
		if (key->base_iv_len > a->nonce_len)
			goto out;
		if (m->partial_iv_len > a->nonce_len) {
			r = KDC_ERR_MALFORMED;
			goto out;
		}
		memcpy(nonce, key->base_iv, key->base_iv_len);
		for (size_t i = 0; i < m->partial_iv_len; i++)
			nonce[a->nonce_len - m->partial_iv_len + i] ^=
			    m->partial_iv[i];
	} else {
		r = KDC_ERR_MALFORMED;
		goto out;
	}
	if ((r = structure(work, work_cap, "Encrypt0", m->prot, m->prot_len,
	    aad, aad_len, false, NULL, 0, &tbs_len)) != KDC_OK)
		goto out;
	*pt_len = cap;
	r = kdc_cc_aead_open(a->mode, key->k, key->k_len, nonce, a->nonce_len,
	    a->tag_len, work, tbs_len, m->payload, m->payload_len, pt, pt_len);
out:
	if (r != KDC_OK) {
		if (pt != NULL)
			kdc_wipe(pt, cap);
		*pt_len = 0;
	}
	return r;
}

/* ---- COSE_Key ------------------------------------------------------- */

kdc_err
kdc_cose_key_encode(const struct kdc_cose_keyinfo *k, uint8_t *out,
    size_t *out_len)
{
	struct kdc_wr w;
	size_t cap, n;

	if (out_len == NULL)
		return KDC_ERR_INVALID_ARG;
	cap = *out_len;
	*out_len = 0;
	if (k == NULL || out == NULL || k->d != NULL || k->d_len != 0 ||
	    !bytes_ok(k->kid, k->kid_len))
		return KDC_ERR_INVALID_ARG;
	if (k->kty == KDC_COSE_KTY_SYMMETRIC) {
		/* without k: a reference by kid (RFC 9202 Figure 9) */
		if ((k->k == NULL && k->kid_len == 0) || k->x != NULL ||
		    k->y != NULL || k->crv != 0)
			return KDC_ERR_INVALID_ARG;
	} else if (k->kty == KDC_COSE_KTY_EC2 || k->kty == KDC_COSE_KTY_OKP) {
		if (k->x == NULL || k->x_len == 0 || k->crv == 0 ||
		    k->k != NULL || (k->kty == KDC_COSE_KTY_EC2) !=
		    (k->y != NULL && k->y_len > 0))
			return KDC_ERR_INVALID_ARG;
	} else
		return KDC_ERR_UNSUPPORTED;
	/* deterministic: 1 kty, 2 kid, 3 alg, -1 crv|k, -2 x, -3 y */
	n = (size_t)(1 + (k->kid_len > 0) + (k->alg != 0) + (k->k != NULL ||
	    k->kty != KDC_COSE_KTY_SYMMETRIC) +
	    (k->kty != KDC_COSE_KTY_SYMMETRIC) + (k->kty == KDC_COSE_KTY_EC2));
	kdc_wr_init(&w, out, cap);
	if (!kdc_cbor_write_map(&w, n) ||
	    !kdc_cbor_write_int(&w, K_KTY) || !kdc_cbor_write_int(&w, k->kty) ||
	    (k->kid_len > 0 && (!kdc_cbor_write_int(&w, K_KID) ||
	    !kdc_cbor_write_bstr(&w, k->kid, k->kid_len))) ||
	    (k->alg != 0 && (!kdc_cbor_write_int(&w, K_ALG) ||
	    !kdc_cbor_write_int(&w, k->alg))))
		return kdc_wr_err(&w);
	if (k->kty == KDC_COSE_KTY_SYMMETRIC) {
		if (k->k != NULL && (!kdc_cbor_write_int(&w, K_CRV) ||
		    !kdc_cbor_write_bstr(&w, k->k, k->k_len)))
			return kdc_wr_err(&w);
	} else if (!kdc_cbor_write_int(&w, K_CRV) ||
	    !kdc_cbor_write_int(&w, k->crv) ||
	    !kdc_cbor_write_int(&w, K_X) ||
	    !kdc_cbor_write_bstr(&w, k->x, k->x_len) ||
	    (k->kty == KDC_COSE_KTY_EC2 && (!kdc_cbor_write_int(&w, K_Y) ||
	    !kdc_cbor_write_bstr(&w, k->y, k->y_len))))
		return kdc_wr_err(&w);
	*out_len = kdc_wr_len(&w);
	return KDC_OK;
}

static kdc_err
read_small_int(struct kdc_rd *rd, int *v)
{
	int64_t x;
	unsigned major;
	kdc_err r;

	if (kdc_cbor_peek(rd, &major) && major == KDC_CBOR_TSTR)
		return KDC_ERR_UNSUPPORTED;	/* a text kty/alg/crv */
	if ((r = kdc_cbor_read_int(rd, &x)) != KDC_OK)
		return r;
	if (x < -65536 || x > 65535)
		return KDC_ERR_UNSUPPORTED;
	*v = (int)x;
	return KDC_OK;
}

kdc_err
kdc_cose_key_read(struct kdc_rd *rd, struct kdc_cose_keyinfo *k)
{
	struct kdc_cose_labels seen;
	struct kdc_cose_label l;
	uint64_t n;
	unsigned major;
	bool crv_set = false;
	kdc_err r;

	if (rd == NULL || k == NULL)
		return KDC_ERR_INVALID_ARG;
	memset(k, 0, sizeof(*k));
	memset(&seen, 0, sizeof(seen));
	if ((r = kdc_cbor_read_map(rd, &n)) != KDC_OK)
		goto fail;
	for (uint64_t i = 0; i < n; i++) {
		if (!kdc_cose_label_read(rd, &l) || !label_add(rd, &seen, &l)) {
			r = kdc_rd_err(rd);
			goto fail;
		}
		if (l.text) {
			if ((r = kdc_cbor_skip(rd, SKIP_DEPTH)) != KDC_OK)
				goto fail;
			continue;
		}
		switch (l.i) {
		case K_KTY:
			r = read_small_int(rd, &k->kty);
			break;
		case K_KID:
			r = kdc_cbor_read_bstr(rd, &k->kid, &k->kid_len);
			break;
		case K_ALG:
			r = read_small_int(rd, &k->alg);
			break;
		case K_CRV:
			/* crv (an int) for EC2/OKP, k (a bstr) for
			 * Symmetric: kty may come later, so by type */
			if (kdc_cbor_peek(rd, &major) &&
			    major == KDC_CBOR_BSTR)
				r = kdc_cbor_read_bstr(rd, &k->k, &k->k_len);
			else {
				r = read_small_int(rd, &k->crv);
				crv_set = true;
			}
			break;
		case K_X:
			r = kdc_cbor_read_bstr(rd, &k->x, &k->x_len);
			break;
		case K_Y:
			/* a bool is point compression: not done */
			if (kdc_cbor_peek(rd, &major) &&
			    major == KDC_CBOR_SIMPLE)
				r = KDC_ERR_UNSUPPORTED;
			else
				r = kdc_cbor_read_bstr(rd, &k->y, &k->y_len);
			break;
		case K_D:
			r = kdc_cbor_read_bstr(rd, &k->d, &k->d_len);
			break;
		default:
			r = kdc_cbor_skip(rd, SKIP_DEPTH);
			break;
		}
		if (r != KDC_OK)
			goto fail;
	}
	/* the parameters must be those of the key type, none empty */
	r = KDC_ERR_MALFORMED;
	if ((crv_set && k->crv == 0) || (k->k != NULL && k->k_len == 0) ||
	    (k->x != NULL && k->x_len == 0) || (k->y != NULL && k->y_len == 0))
		goto fail;
	switch (k->kty) {
	case KDC_COSE_KTY_SYMMETRIC:
		/* k may be absent: a key named by its kid (RFC 9202 Fig. 9) */
		if ((k->k == NULL && k->kid_len == 0) || crv_set || k->x != NULL || k->y != NULL ||
		    k->d != NULL)
			goto fail;
		break;
	case KDC_COSE_KTY_EC2:
		if (!crv_set || k->k != NULL || k->x == NULL || k->y == NULL)
			goto fail;
		break;
	case KDC_COSE_KTY_OKP:
		if (!crv_set || k->k != NULL || k->x == NULL || k->y != NULL)
			goto fail;
		break;
	case 0:
		goto fail;	/* kty is required */
	default:
		r = KDC_ERR_UNSUPPORTED;
		goto fail;
	}
	return KDC_OK;
fail:
	memset(k, 0, sizeof(*k));
	if (r == KDC_OK)
		r = KDC_ERR_MALFORMED;
	kdc_rd_fail(rd, r);
	return r;
}
