/*
 * record.c: our own DTLS 1.2 record layer (record.h). AEAD records as
 * RFC 5246 §6.2.3.3 with DTLS's epoch||seq48 as the 64-bit sequence
 * number (RFC 6347 §4.1.2.1), explicit nonce = that same 64-bit value
 * (as GnuTLS and RFC 6655 §3 do), anti-replay as RFC 6347 §4.1.2.6.
 *
 * Record: type(1) version(2) epoch(2) seq(6) length(2) | explicit(8)
 *         ciphertext(n) tag(8|16)
 * nonce = salt(4) || explicit(8)
 * AAD   = epoch(2) seq(6) type(1) version(2) n(2)
 *
 * The only allocation is GnuTLS's AEAD handle, made and freed per call
 * (a state holds raw keys only).
 *
 * CBC (our Just Works handshake only, jw.h): RFC 5246 §6.2.3.2
 * MAC-then-encrypt, record = header | IV(16) | AES-128-CBC(pt || HMAC-
 * SHA256(epoch||seq48 || type || version || len || pt) || padding).
 */
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>

#include "base/wipe.h"
#include "coap/record.h"

#define SEQ_MAX		0xffffffffffffULL	/* 2^48 - 1 */
/* The last write sequence number we use: a GnuTLS 3.7.9 peer drops a
 * record numbered 2^48 - 1 (incrementing its read number past it
 * fails, _gnutls_uint48pp, and the record is discarded). */
#define SEQ_LAST	(SEQ_MAX - 1)
#define VERSION_12	0xfefdu
#define VERSION_10	0xfeffu
#define EXPLICIT	8			/* explicit nonce bytes */
#define PT_MAX		16384u			/* 2^14 (RFC 5246 §6.2.1) */
#define FRAG_MAX	(PT_MAX + 2048u)	/* RFC 5246 §6.2.3 */
#define WINDOW		64u

static void
put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put48(uint8_t *p, uint64_t v)
{
	for (int i = 5; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t
get48(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 6; i++)
		v = (v << 8) | p[i];
	return v;
}

/* GnuTLS's cipher and our tag length for r->cipher; 0 if none. */
static gnutls_cipher_algorithm_t
algo(uint8_t cipher, size_t *tag)
{
	*tag = 16;
	switch (cipher) {
	case KDC_REC_AES128_CCM8:
		*tag = 8;
		return GNUTLS_CIPHER_AES_128_CCM_8;
	case KDC_REC_AES256_CCM8:
		*tag = 8;
		return GNUTLS_CIPHER_AES_256_CCM_8;
	case KDC_REC_AES128_CCM:
		return GNUTLS_CIPHER_AES_128_CCM;
	case KDC_REC_AES256_CCM:
		return GNUTLS_CIPHER_AES_256_CCM;
	case KDC_REC_AES128_GCM:
		return GNUTLS_CIPHER_AES_128_GCM;
	case KDC_REC_AES256_GCM:
		return GNUTLS_CIPHER_AES_256_GCM;
	default:
		*tag = 0;
		return GNUTLS_CIPHER_UNKNOWN;
	}
}

static uint8_t
from_gnutls(gnutls_cipher_algorithm_t c)
{
	switch (c) {
	case GNUTLS_CIPHER_AES_128_CCM_8:
		return KDC_REC_AES128_CCM8;
	case GNUTLS_CIPHER_AES_256_CCM_8:
		return KDC_REC_AES256_CCM8;
	case GNUTLS_CIPHER_AES_128_CCM:
		return KDC_REC_AES128_CCM;
	case GNUTLS_CIPHER_AES_256_CCM:
		return KDC_REC_AES256_CCM;
	case GNUTLS_CIPHER_AES_128_GCM:
		return KDC_REC_AES128_GCM;
	case GNUTLS_CIPHER_AES_256_GCM:
		return KDC_REC_AES256_GCM;
	default:
		return KDC_REC_NONE;
	}
}

/* One direction from GnuTLS; *epoch from the top 16 bits of its
 * 64-bit sequence number. */
static kdc_err
export_dir(gnutls_session_t s, unsigned rd, size_t key_len,
    struct kdc_rec_dir *d, uint16_t *epoch)
{
	gnutls_datum_t mac, iv, key;
	unsigned char seq[8];
	uint64_t v = 0;

	if (gnutls_record_get_state(s, rd, &mac, &iv, &key, seq) < 0)
		return KDC_ERR_TLS;
	if (key.data == NULL || key.size != key_len || key_len > sizeof(d->key) ||
	    iv.data == NULL || iv.size != sizeof(d->salt))
		return KDC_ERR_TLS;
	memcpy(d->key, key.data, key_len);
	memcpy(d->salt, iv.data, sizeof(d->salt));
	for (int i = 0; i < 8; i++)
		v = (v << 8) | seq[i];
	*epoch = (uint16_t)(v >> 48);
	d->seq = v & SEQ_MAX;
	return KDC_OK;
}

kdc_err
kdc_rec_export(struct kdc_rec *r, void *gnutls_session)
{
	gnutls_session_t s = gnutls_session;
	gnutls_cipher_algorithm_t c;
	struct kdc_rec t;
	uint16_t ep_rd, ep_wr;
	kdc_err e;

	memset(r, 0, sizeof(*r));
	if (s == NULL)
		return KDC_ERR_INVALID_ARG;
	memset(&t, 0, sizeof(t));
	c = gnutls_cipher_get(s);
	if (c == GNUTLS_CIPHER_NULL || c == GNUTLS_CIPHER_UNKNOWN)
		return KDC_ERR_TLS;	/* no record protection yet */
	if (gnutls_protocol_get_version(s) != GNUTLS_DTLS1_2 ||
	    (t.cipher = from_gnutls(c)) == KDC_REC_NONE)
		return KDC_ERR_UNSUPPORTED;
	if ((e = export_dir(s, 1, gnutls_cipher_get_key_size(c), &t.rd,
	    &ep_rd)) != KDC_OK ||
	    (e = export_dir(s, 0, gnutls_cipher_get_key_size(c), &t.wr,
	    &ep_wr)) != KDC_OK)
		goto out;
	if (ep_rd != ep_wr || ep_rd == 0) {
		e = KDC_ERR_TLS;	/* mid-handshake: epochs differ */
		goto out;
	}
	t.epoch = ep_rd;
	/* GnuTLS's read number is the last record it accepted plus one
	 * (lib/record.c stores the record's number, then increments it),
	 * not its window: count that record and the 63 before it as seen,
	 * so nothing GnuTLS may have delivered opens again (a late genuine
	 * one is dropped: DTLS tolerates loss, not replay). 0: none yet in
	 * this epoch. */
	if (t.rd.seq > 0) {
		t.rd.seq--;
		t.window = ~(uint64_t)0;
		t.seen = true;
	}
	*r = t;
	e = KDC_OK;
out:
	kdc_wipe(&t, sizeof(t));
	return e;
}

kdc_err
kdc_rec_header(const uint8_t *buf, size_t len, uint8_t *type,
    uint16_t *epoch, uint64_t *seq, size_t *rec_len)
{
	unsigned ver, flen;

	*type = 0;
	*epoch = 0;
	*seq = 0;
	*rec_len = 0;
	if (buf == NULL || len < KDC_REC_HDR)
		return KDC_ERR_TRUNCATED;
	ver = (unsigned)buf[1] << 8 | buf[2];
	flen = (unsigned)buf[11] << 8 | buf[12];
	if (ver != VERSION_12 && ver != VERSION_10)
		return KDC_ERR_MALFORMED;
	if (flen > FRAG_MAX)
		return KDC_ERR_MALFORMED;
	if (flen > len - KDC_REC_HDR)
		return KDC_ERR_TRUNCATED;
	*type = buf[0];
	*epoch = (uint16_t)((unsigned)buf[3] << 8 | buf[4]);
	*seq = get48(buf + 5);
	*rec_len = KDC_REC_HDR + flen;
	return KDC_OK;
}

/* RFC 6347 §4.1.2.6: may seq be accepted (before authentication)? */
static bool
window_fresh(const struct kdc_rec *r, uint64_t seq)
{
	uint64_t back;

	if (!r->seen || seq > r->rd.seq)
		return true;
	back = r->rd.seq - seq;
	if (back >= WINDOW)
		return false;
	return (r->window & ((uint64_t)1 << back)) == 0;
}

/* Mark seq received (after authentication). */
static void
window_mark(struct kdc_rec *r, uint64_t seq)
{
	uint64_t shift;

	if (!r->seen) {
		r->seen = true;
		r->rd.seq = seq;
		r->window = 1;
		return;
	}
	if (seq > r->rd.seq) {
		shift = seq - r->rd.seq;
		r->window = shift >= WINDOW ? 0 : r->window << shift;
		r->window |= 1;
		r->rd.seq = seq;
		return;
	}
	r->window |= (uint64_t)1 << (r->rd.seq - seq);
}

static void
make_aad(uint8_t aad[13], const uint8_t hdr[KDC_REC_HDR], size_t pt_len)
{
	memcpy(aad, hdr + 3, 8);		/* epoch || seq48 */
	aad[8] = hdr[0];			/* type */
	put16(aad + 9, VERSION_12);
	put16(aad + 11, (unsigned)pt_len);
}


/* ---- AES-128-CBC + HMAC-SHA256, MAC-then-encrypt (RFC 5246 §6.2.3.2) ---- */

#define CBC_IV		16
#define CBC_MAC		32
#define CBC_BLOCK	16
#define CBC_KEY		16

/* HMAC-SHA256(key, epoch||seq48 || type || version || len || pt). */
static kdc_err
cbc_mac(const uint8_t key[CBC_MAC], const uint8_t hdr[KDC_REC_HDR],
    const uint8_t *pt, size_t pt_len, uint8_t out[CBC_MAC])
{
	gnutls_hmac_hd_t h;
	uint8_t pre[13];

	make_aad(pre, hdr, pt_len);
	if (gnutls_hmac_init(&h, GNUTLS_MAC_SHA256, key, CBC_MAC) < 0)
		return KDC_ERR_CRYPTO;
	if (gnutls_hmac(h, pre, sizeof(pre)) < 0 ||
	    (pt_len > 0 && gnutls_hmac(h, pt, pt_len) < 0)) {
		gnutls_hmac_deinit(h, out);
		return KDC_ERR_CRYPTO;
	}
	gnutls_hmac_deinit(h, out);
	return KDC_OK;
}

/* AES-128-CBC in place over n bytes (a multiple of 16). */
static kdc_err
cbc_crypt(const uint8_t key[CBC_KEY], const uint8_t iv[CBC_IV], uint8_t *b,
    size_t n, bool enc)
{
	gnutls_cipher_hd_t h;
	gnutls_datum_t k = { (unsigned char *)(uintptr_t)key, CBC_KEY };
	gnutls_datum_t v = { (unsigned char *)(uintptr_t)iv, CBC_IV };
	int rc;

	if (gnutls_cipher_init(&h, GNUTLS_CIPHER_AES_128_CBC, &k, &v) < 0)
		return KDC_ERR_CRYPTO;
	rc = enc ? gnutls_cipher_encrypt2(h, b, n, b, n) :
	    gnutls_cipher_decrypt2(h, b, n, b, n);
	gnutls_cipher_deinit(h);
	return rc < 0 ? KDC_ERR_CRYPTO : KDC_OK;
}

static kdc_err
cbc_open(struct kdc_rec *r, uint8_t *buf, size_t rec_len, uint8_t *type,
    const uint8_t **pt, size_t *pt_len)
{
	uint8_t mac[CBC_MAC], *ct = buf + KDC_REC_HDR + CBC_IV, t;
	size_t flen, n, pad, plen, rlen;
	unsigned bad = 0, diff = 0;
	uint16_t epoch;
	uint64_t seq;
	kdc_err e;

	if ((e = kdc_rec_header(buf, rec_len, &t, &epoch, &seq, &rlen)) !=
	    KDC_OK)
		return e;
	if (rlen != rec_len || (((unsigned)buf[1] << 8) | buf[2]) !=
	    VERSION_12 || epoch != r->epoch)
		return KDC_ERR_MALFORMED;
	flen = rec_len - KDC_REC_HDR;
	/* IV, then whole blocks holding at least a MAC and a padding byte */
	if (flen < CBC_IV + CBC_MAC + CBC_BLOCK ||
	    (flen - CBC_IV) % CBC_BLOCK != 0)
		return KDC_ERR_MALFORMED;
	if (!window_fresh(r, seq))
		return KDC_ERR_REPLAY;
	n = flen - CBC_IV;
	if ((e = cbc_crypt(r->rd.cbc_key, buf + KDC_REC_HDR, ct, n, false)) !=
	    KDC_OK) {
		kdc_wipe(ct, n);
		return e;
	}
	/* padding: the last byte says how many bytes before it hold its
	 * value; checked without branching on their values, and a bad
	 * one is taken as no padding so the MAC is computed anyway (RFC
	 * 5246 §6.2.3.2: one answer, about the same time, for both) */
	pad = ct[n - 1];
	bad |= (unsigned)(pad + 1 + CBC_MAC > n);
	for (size_t i = 1; i <= 255 && i < n; i++) {
		unsigned in = (unsigned)(i <= pad);

		bad |= in & (unsigned)(ct[n - 1 - i] != pad);
	}
	plen = bad ? n - CBC_MAC - 1 : n - CBC_MAC - 1 - pad;
	if ((e = cbc_mac(r->rd.mac, buf, ct, plen, mac)) != KDC_OK) {
		kdc_wipe(ct, n);
		return e;
	}
	for (size_t i = 0; i < CBC_MAC; i++)
		diff |= (unsigned)(mac[i] ^ ct[plen + i]);
	kdc_wipe(mac, sizeof(mac));
	if (bad || diff != 0) {
		kdc_wipe(ct, n);	/* no unauthenticated plaintext */
		return KDC_ERR_CRYPTO;
	}
	if (plen > PT_MAX) {
		kdc_wipe(ct, n);
		return KDC_ERR_MALFORMED;
	}
	window_mark(r, seq);
	*type = t;
	*pt = ct;
	*pt_len = plen;
	return KDC_OK;
}

static kdc_err
cbc_seal(struct kdc_rec *r, uint8_t type, const uint8_t *pt, size_t pt_len,
    uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t *iv = out + KDC_REC_HDR, *body = iv + CBC_IV;
	size_t pad, n;
	kdc_err e;

	if (pt_len > PT_MAX || (pt == NULL && pt_len > 0))
		return KDC_ERR_TOO_LARGE;
	pad = CBC_BLOCK - (pt_len + CBC_MAC + 1) % CBC_BLOCK;
	if (pad == CBC_BLOCK)
		pad = 0;
	n = pt_len + CBC_MAC + pad + 1;
	if (cap < KDC_REC_HDR + CBC_IV || n > cap - KDC_REC_HDR - CBC_IV)
		return KDC_ERR_TOO_LARGE;
	if (r->wr.seq > SEQ_LAST)
		return KDC_ERR_EXHAUSTED;
	out[0] = type;
	put16(out + 1, VERSION_12);
	put16(out + 3, r->epoch);
	put48(out + 5, r->wr.seq);
	put16(out + 11, (unsigned)(CBC_IV + n));
	if (gnutls_rnd(GNUTLS_RND_NONCE, iv, CBC_IV) < 0)
		return KDC_ERR_CRYPTO;
	if (pt_len > 0)
		memmove(body, pt, pt_len);
	if ((e = cbc_mac(r->wr.mac, out, body, pt_len, body + pt_len)) !=
	    KDC_OK)
		goto fail;
	memset(body + pt_len + CBC_MAC, (int)pad, pad + 1);
	if ((e = cbc_crypt(r->wr.cbc_key, iv, body, n, true)) != KDC_OK)
		goto fail;
	r->wr.seq++;
	*out_len = KDC_REC_HDR + CBC_IV + n;
	return KDC_OK;
fail:
	kdc_wipe(out, KDC_REC_HDR + CBC_IV + n);
	return e;
}

kdc_err
kdc_rec_open(struct kdc_rec *r, uint8_t *buf, size_t rec_len,
    uint8_t *type, const uint8_t **pt, size_t *pt_len)
{
	gnutls_aead_cipher_hd_t h = NULL;
	gnutls_cipher_algorithm_t c;
	gnutls_datum_t k;
	uint8_t nonce[4 + EXPLICIT], aad[13], t;
	size_t tag, n, rlen, out_len;
	uint16_t epoch;
	uint64_t seq;
	kdc_err e;

	*type = 0;
	*pt = NULL;
	*pt_len = 0;
	if (r->cipher == KDC_REC_AES128_CBC_SHA256)
		return cbc_open(r, buf, rec_len, type, pt, pt_len);
	if ((c = algo(r->cipher, &tag)) == GNUTLS_CIPHER_UNKNOWN)
		return KDC_ERR_INVALID_ARG;
	if ((e = kdc_rec_header(buf, rec_len, &t, &epoch, &seq, &rlen)) !=
	    KDC_OK)
		return e;
	if (rlen != rec_len || (((unsigned)buf[1] << 8) | buf[2]) !=
	    VERSION_12 || epoch != r->epoch)
		return KDC_ERR_MALFORMED;
	if (rec_len < KDC_REC_HDR + EXPLICIT + tag)
		return KDC_ERR_MALFORMED;
	n = rec_len - KDC_REC_HDR - EXPLICIT - tag;	/* plaintext */
	if (n > PT_MAX)
		return KDC_ERR_MALFORMED;
	if (!window_fresh(r, seq))
		return KDC_ERR_REPLAY;

	memcpy(nonce, r->rd.salt, 4);
	memcpy(nonce + 4, buf + KDC_REC_HDR, EXPLICIT);
	make_aad(aad, buf, n);
	k.data = r->rd.key;
	k.size = (unsigned)gnutls_cipher_get_key_size(c);
	if (gnutls_aead_cipher_init(&h, c, &k) < 0)
		return KDC_ERR_CRYPTO;
	out_len = n;
	if (gnutls_aead_cipher_decrypt(h, nonce, sizeof(nonce), aad,
	    sizeof(aad), tag, buf + KDC_REC_HDR + EXPLICIT, n + tag,
	    buf + KDC_REC_HDR + EXPLICIT, &out_len) < 0 || out_len != n) {
		/* no unauthenticated plaintext left behind */
		kdc_wipe(buf + KDC_REC_HDR + EXPLICIT, n);
		e = KDC_ERR_CRYPTO;
		goto out;
	}
	window_mark(r, seq);
	*type = t;
	*pt = buf + KDC_REC_HDR + EXPLICIT;
	*pt_len = n;
	e = KDC_OK;
out:
	gnutls_aead_cipher_deinit(h);
	return e;
}

size_t
kdc_rec_overhead(const struct kdc_rec *r)
{
	size_t tag;

	if (r->cipher == KDC_REC_AES128_CBC_SHA256)
		return KDC_REC_HDR + CBC_IV + CBC_MAC + CBC_BLOCK;
	(void)algo(r->cipher, &tag);
	return KDC_REC_HDR + EXPLICIT + tag;
}

kdc_err
kdc_rec_seal(struct kdc_rec *r, uint8_t type, const uint8_t *pt,
    size_t pt_len, uint8_t *out, size_t cap, size_t *out_len)
{
	gnutls_aead_cipher_hd_t h = NULL;
	gnutls_cipher_algorithm_t c;
	gnutls_datum_t k;
	uint8_t nonce[4 + EXPLICIT], aad[13];
	size_t tag, ct_len;
	kdc_err e;

	*out_len = 0;
	if (r->cipher == KDC_REC_AES128_CBC_SHA256)
		return cbc_seal(r, type, pt, pt_len, out, cap, out_len);
	if ((c = algo(r->cipher, &tag)) == GNUTLS_CIPHER_UNKNOWN)
		return KDC_ERR_INVALID_ARG;
	if (pt_len > PT_MAX || (pt == NULL && pt_len > 0))
		return KDC_ERR_TOO_LARGE;
	if (cap < KDC_REC_HDR + EXPLICIT + tag ||
	    pt_len > cap - KDC_REC_HDR - EXPLICIT - tag)
		return KDC_ERR_TOO_LARGE;
	if (r->wr.seq > SEQ_LAST)
		return KDC_ERR_EXHAUSTED;

	out[0] = type;
	put16(out + 1, VERSION_12);
	put16(out + 3, r->epoch);
	put48(out + 5, r->wr.seq);
	put16(out + 11, (unsigned)(EXPLICIT + pt_len + tag));
	memcpy(out + KDC_REC_HDR, out + 3, EXPLICIT);	/* epoch || seq */
	memcpy(nonce, r->wr.salt, 4);
	memcpy(nonce + 4, out + 3, EXPLICIT);
	make_aad(aad, out, pt_len);

	k.data = r->wr.key;
	k.size = (unsigned)gnutls_cipher_get_key_size(c);
	if (gnutls_aead_cipher_init(&h, c, &k) < 0)
		return KDC_ERR_CRYPTO;
	ct_len = pt_len + tag;
	if (gnutls_aead_cipher_encrypt(h, nonce, sizeof(nonce), aad,
	    sizeof(aad), tag, pt_len > 0 ? pt : nonce, pt_len, out + KDC_REC_HDR + EXPLICIT,
	    &ct_len) < 0 || ct_len != pt_len + tag) {
		e = KDC_ERR_CRYPTO;
		goto out;
	}
	r->wr.seq++;
	*out_len = KDC_REC_HDR + EXPLICIT + ct_len;
	e = KDC_OK;
out:
	gnutls_aead_cipher_deinit(h);
	return e;
}

void
kdc_rec_wipe(struct kdc_rec *r)
{
	if (r != NULL)
		kdc_wipe(r, sizeof(*r));
}
