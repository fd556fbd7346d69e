/*
 * jw.c: our DTLS 1.2 client handshake for TLS_ECDH_anon_WITH_AES_128_
 * CBC_SHA256 (0xFF00), OCF Just Works (jw.h). Written from RFC 6347
 * (DTLS 1.2), RFC 5246 (PRF, Finished, key_block), RFC 8422 (ECDH
 * parameters) and RFC 7627 (extended master secret).
 */
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/wipe.h"
#include "coap/jw.h"

#define HS_HDR		12
#define VERSION_12	0xfefdu
#define VERSION_10	0xfeffu
#define TRANSCRIPT_MAX	2048
#define CH_MAX		(HS_HDR + 2 + 32 + 1 + 1 + KDC_JW_COOKIE_MAX + 6 + 2 + \
			 2 + 18)
#define EXT_RENEG	0xff01u
#define EXT_POINTS	0x000bu
#define EXT_GROUPS	0x000au
#define EXT_EMS		0x0017u
#define SECP256R1	23

/* TLS alerts we send (RFC 5246 §7.2) */
#define AL_UNEXPECTED	10
#define AL_HS_FAILURE	40
#define AL_ILLEGAL	47
#define AL_DECODE	50
#define AL_DECRYPT	51

enum jw_state {
	JW_WAIT_SH = 1,		/* ClientHello sent: HVR or ServerHello */
	JW_WAIT_SKE,
	JW_WAIT_SHD,
	JW_WAIT_FIN,		/* our Finished sent */
	JW_DONE,
	JW_FAILED,
};

struct kdc_jw {
	uint8_t		 state;
	bool		 ems;
	uint8_t		 crandom[32], srandom[32];
	uint8_t		 cookie[KDC_JW_COOKIE_MAX];
	size_t		 cookie_len;
	uint16_t	 tx_seq;	/* our next message_seq */
	uint16_t	 rx_seq;	/* the server's next one expected */
	uint64_t	 w0seq;		/* our next epoch-0 record number */
	unsigned	 rto, rto_next;
	/* reassembly of the message rx_seq */
	bool		 mbusy;
	uint8_t		 mtype;
	uint32_t	 mlen, mhave;
	uint8_t		 msg[KDC_JW_MSG_MAX];
	/* every handshake message hashed (RFC 6347 §4.2.6) */
	uint8_t		 tr[TRANSCRIPT_MAX];
	size_t		 trlen;
	/* our flights */
	uint8_t		 ch[CH_MAX];
	size_t		 chlen;
	uint8_t		 cke[HS_HDR + 1 + KDC_JW_POINT];
	uint8_t		 fin[HS_HDR + 12];
	uint8_t		 sfin[12];	/* the server's verify_data due */
	uint8_t		 spoint[KDC_JW_POINT];
	uint8_t		 master[48];
	struct kdc_rec	 rec;		/* epoch 1 */
};

static void
put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}

static unsigned
get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static uint32_t
get24(const uint8_t *p)
{
	return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

/* ---- the pure parsers --------------------------------------------------------- */

kdc_err
kdc_jw_frag(const uint8_t *buf, size_t n, struct kdc_jw_frag *f,
    size_t *used)
{
	memset(f, 0, sizeof(*f));
	*used = 0;
	if (buf == NULL || n < HS_HDR)
		return KDC_ERR_TRUNCATED;
	f->type = buf[0];
	f->length = get24(buf + 1);
	f->seq = (uint16_t)get16(buf + 4);
	f->off = get24(buf + 6);
	f->len = get24(buf + 9);
	if (f->len > n - HS_HDR)
		return KDC_ERR_TRUNCATED;
	if (f->off > f->length || f->len > f->length - f->off)
		return KDC_ERR_MALFORMED;
	f->data = buf + HS_HDR;
	*used = HS_HDR + f->len;
	return KDC_OK;
}

kdc_err
kdc_jw_parse_hvr(const uint8_t *b, size_t n, uint8_t *cookie,
    size_t *cookie_len)
{
	unsigned v;

	*cookie_len = 0;
	if (b == NULL || n < 3)
		return KDC_ERR_MALFORMED;
	v = get16(b);
	/* RFC 6347 §4.2.1: a server may answer 1.0 here whatever it does */
	if ((v != VERSION_12 && v != VERSION_10) || b[2] == 0 ||
	    n != 3u + b[2])
		return KDC_ERR_MALFORMED;
	memcpy(cookie, b + 3, b[2]);
	*cookie_len = b[2];
	return KDC_OK;
}

kdc_err
kdc_jw_parse_sh(const uint8_t *b, size_t n, uint8_t *random, bool *ems)
{
	size_t off, sid, end;
	unsigned seen = 0;

	*ems = false;
	if (b == NULL || n < 2 + 32 + 1)
		return KDC_ERR_MALFORMED;
	if (get16(b) != VERSION_12)
		return KDC_ERR_UNSUPPORTED;
	sid = b[34];
	if (sid > 32 || n < 35 + sid + 3)
		return KDC_ERR_MALFORMED;
	off = 35 + sid;
	if (get16(b + off) != KDC_JW_SUITE || b[off + 2] != 0)
		return KDC_ERR_UNSUPPORTED;
	off += 3;
	if (off < n) {
		if (n - off < 2 || get16(b + off) != n - off - 2)
			return KDC_ERR_MALFORMED;
		off += 2;
		while (off < n) {
			unsigned t, l, bit;

			if (n - off < 4)
				return KDC_ERR_MALFORMED;
			t = get16(b + off);
			l = get16(b + off + 2);
			off += 4;
			if (l > n - off)
				return KDC_ERR_MALFORMED;
			end = off + l;
			if (t == EXT_RENEG) {
				/* our SCSV asked for it: empty */
				bit = 1;
				if (l != 1 || b[off] != 0)
					return KDC_ERR_UNSUPPORTED;
			} else if (t == EXT_POINTS) {
				bool unc = false;

				bit = 2;
				if (l < 2 || b[off] != l - 1)
					return KDC_ERR_MALFORMED;
				for (size_t i = off + 1; i < end; i++)
					unc |= b[i] == 0;
				if (!unc)
					return KDC_ERR_UNSUPPORTED;
			} else if (t == EXT_EMS) {
				bit = 4;
				if (l != 0)
					return KDC_ERR_MALFORMED;
				*ems = true;
			} else
				return KDC_ERR_UNSUPPORTED;	/* not offered */
			if ((seen & bit) != 0)
				return KDC_ERR_MALFORMED;	/* twice */
			seen |= bit;
			off = end;
		}
	}
	memcpy(random, b + 2, 32);
	return KDC_OK;
}

kdc_err
kdc_jw_parse_ske(const uint8_t *b, size_t n, uint8_t *point)
{
	if (b == NULL || n < 4)
		return KDC_ERR_MALFORMED;
	if (b[0] != 3 || get16(b + 1) != SECP256R1)
		return KDC_ERR_UNSUPPORTED;	/* named_curve secp256r1 only */
	if (n != 4u + b[3])
		return KDC_ERR_MALFORMED;	/* anon: nothing signed after */
	if (b[3] != KDC_JW_POINT || b[4] != 4)
		return KDC_ERR_UNSUPPORTED;	/* uncompressed only */
	memcpy(point, b + 4, KDC_JW_POINT);
	return KDC_OK;
}

/* ---- PRF (RFC 5246 §5) ------------------------------------------------------------ */

kdc_err
kdc_jw_p_sha256(const uint8_t *secret, size_t secret_len, const char *label,
    size_t label_len, const uint8_t *seed, size_t seed_len, uint8_t *out,
    size_t len)
{
	uint8_t ls[192], a[32 + 192], h[32];
	size_t lsn = label_len + seed_len, got = 0, k;
	kdc_err e = KDC_ERR_CRYPTO;

	if (lsn > sizeof(ls))
		return KDC_ERR_INVALID_ARG;
	memcpy(ls, label, label_len);
	memcpy(ls + label_len, seed, seed_len);
	/* A(1) = HMAC(secret, label || seed) */
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret, secret_len, ls, lsn,
	    a) < 0)
		goto out;
	while (got < len) {
		memcpy(a + 32, ls, lsn);
		if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret, secret_len, a,
		    32 + lsn, h) < 0)
			goto out;
		k = len - got < 32 ? len - got : 32;
		memcpy(out + got, h, k);
		got += k;
		if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret, secret_len, a,
		    32, a) < 0)
			goto out;
	}
	e = KDC_OK;
out:
	kdc_wipe(a, sizeof(a));
	kdc_wipe(h, sizeof(h));
	kdc_wipe(ls, sizeof(ls));
	return e;
}

/* ---- the handshake ----------------------------------------------------------------- */

static void
hs_header(uint8_t *p, uint8_t type, uint32_t len, uint16_t seq)
{
	p[0] = type;
	put24(p + 1, len);
	put16(p + 4, seq);
	put24(p + 6, 0);
	put24(p + 9, len);
}

static kdc_err
tr_add(struct kdc_jw *j, const uint8_t *m, size_t n)
{
	if (n > sizeof(j->tr) - j->trlen)
		return KDC_ERR_TOO_LARGE;
	memcpy(j->tr + j->trlen, m, n);
	j->trlen += n;
	return KDC_OK;
}

/* The ClientHello (with the cookie we hold) at message_seq tx_seq. */
static void
client_hello(struct kdc_jw *j)
{
	uint8_t *p = j->ch + HS_HDR, *b = p;

	put16(p, VERSION_12);
	memcpy(p + 2, j->crandom, 32);
	p += 34;
	*p++ = 0;				/* session id */
	*p++ = (uint8_t)j->cookie_len;
	memcpy(p, j->cookie, j->cookie_len);
	p += j->cookie_len;
	put16(p, 4);				/* suites */
	put16(p + 2, KDC_JW_SUITE);
	put16(p + 4, 0x00ff);			/* renegotiation SCSV */
	p += 6;
	*p++ = 1;				/* compression: null */
	*p++ = 0;
	put16(p, 18);				/* extensions */
	p += 2;
	put16(p, EXT_GROUPS);
	put16(p + 2, 4);
	put16(p + 4, 2);
	put16(p + 6, SECP256R1);
	p += 8;
	put16(p, EXT_POINTS);
	put16(p + 2, 2);
	p[4] = 1;
	p[5] = 0;				/* uncompressed */
	p += 6;
	put16(p, EXT_EMS);
	put16(p + 2, 0);
	p += 4;
	hs_header(j->ch, KDC_JW_HT_CLIENT_HELLO, (uint32_t)(p - b), j->tx_seq);
	j->rx_seq = j->tx_seq;	/* the server answers at our message_seq */
	j->tx_seq++;
	j->chlen = (size_t)(p - j->ch);
	j->rto = KDC_JW_RTO_MS;
}

kdc_err
kdc_jw_new(struct kdc_jw **out)
{
	struct kdc_jw *j;

	*out = NULL;
	if ((j = kdc_calloc(1, sizeof(*j))) == NULL)
		return KDC_ERR_NOMEM;
	if (gnutls_rnd(GNUTLS_RND_NONCE, j->crandom, sizeof(j->crandom)) < 0) {
		kdc_free(j);
		return KDC_ERR_CRYPTO;
	}
	j->state = JW_WAIT_SH;
	client_hello(j);
	*out = j;
	return KDC_OK;
}

void
kdc_jw_free(struct kdc_jw *j)
{
	if (j == NULL)
		return;
	kdc_wipe(j, sizeof(*j));
	kdc_free(j);
}

unsigned
kdc_jw_rto_ms(const struct kdc_jw *j)
{
	return j->rto_next != 0 ? j->rto_next : KDC_JW_RTO_MS;
}

/* One plaintext epoch-0 record of type carrying m. */
static kdc_err
rec0(struct kdc_jw *j, uint8_t type, const uint8_t *m, size_t n,
    uint8_t *out, size_t cap, size_t *off)
{
	uint8_t *r = out + *off;

	if (n > 0xffff || cap - *off < KDC_REC_HDR + n)
		return KDC_ERR_TOO_LARGE;
	if (j->w0seq > 0xfffffffffffeULL)
		return KDC_ERR_EXHAUSTED;
	r[0] = type;
	put16(r + 1, VERSION_12);
	put16(r + 3, 0);
	for (int i = 0; i < 6; i++)
		r[5 + i] = (uint8_t)(j->w0seq >> (8 * (5 - i)));
	put16(r + 11, (unsigned)n);
	memcpy(r + KDC_REC_HDR, m, n);
	j->w0seq++;
	*off += KDC_REC_HDR + n;
	return KDC_OK;
}

kdc_err
kdc_jw_flight(struct kdc_jw *j, uint8_t *out, size_t cap, size_t *len)
{
	static const uint8_t ccs[1] = { 1 };
	size_t off = 0, n;
	kdc_err e;

	*len = 0;
	if (j->state == JW_DONE || j->state == JW_FAILED)
		return KDC_OK;
	if (j->state != JW_WAIT_FIN) {
		if ((e = rec0(j, KDC_REC_HANDSHAKE, j->ch, j->chlen, out, cap,
		    &off)) != KDC_OK)
			return e;
	} else {
		if ((e = rec0(j, KDC_REC_HANDSHAKE, j->cke, sizeof(j->cke),
		    out, cap, &off)) != KDC_OK ||
		    (e = rec0(j, KDC_REC_CCS, ccs, 1, out, cap, &off)) !=
		    KDC_OK)
			return e;
		if ((e = kdc_rec_seal(&j->rec, KDC_REC_HANDSHAKE, j->fin,
		    sizeof(j->fin), out + off, cap - off, &n)) != KDC_OK)
			return e;
		off += n;
	}
	*len = off;
	j->rto_next = j->rto;
	j->rto = j->rto * 2 > KDC_JW_RTO_MAX_MS ? KDC_JW_RTO_MAX_MS :
	    j->rto * 2;
	return KDC_OK;
}

/* Our ephemeral P-256 key: its point into pub, the shared x into pms.
 * The server's point must decode onto the curve and pass OpenSSL's
 * public key check. */
static kdc_err
ecdh(const uint8_t *peer_pt, uint8_t *pub, uint8_t *pms)
{
	EVP_PKEY *mine = NULL, *peer = NULL;
	EVP_PKEY_CTX *pc = NULL, *cc = NULL, *dc = NULL;
	OSSL_PARAM prm[3];
	size_t l = 0;
	kdc_err e = KDC_ERR_TLS;

	prm[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
	    (char *)(uintptr_t)"prime256v1", 0);
	prm[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
	    (void *)(uintptr_t)peer_pt, KDC_JW_POINT);
	prm[2] = OSSL_PARAM_construct_end();
	if ((pc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(pc) != 1 ||
	    EVP_PKEY_fromdata(pc, &peer, EVP_PKEY_PUBLIC_KEY, prm) != 1)
		goto out;			/* not a point of the curve */
	if ((cc = EVP_PKEY_CTX_new_from_pkey(NULL, peer, NULL)) == NULL ||
	    EVP_PKEY_public_check(cc) != 1)
		goto out;
	e = KDC_ERR_CRYPTO;
	if ((mine = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL ||
	    EVP_PKEY_get_octet_string_param(mine,
	    OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, KDC_JW_POINT, &l) != 1 ||
	    l != KDC_JW_POINT || pub[0] != 4)
		goto out;
	l = 32;
	if ((dc = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL)) == NULL ||
	    EVP_PKEY_derive_init(dc) != 1 ||
	    EVP_PKEY_derive_set_peer(dc, peer) != 1 ||
	    EVP_PKEY_derive(dc, pms, &l) != 1 || l != 32) {
		e = KDC_ERR_TLS;
		goto out;
	}
	e = KDC_OK;
out:
	EVP_PKEY_CTX_free(dc);
	EVP_PKEY_CTX_free(cc);
	EVP_PKEY_CTX_free(pc);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(mine);		/* clears the scalar */
	return e;
}

/* ServerHelloDone arrived: ClientKeyExchange, the keys, our Finished. */
static kdc_err
key_exchange(struct kdc_jw *j)
{
	uint8_t pms[32], hash[32], seed[64], kb[KDC_JW_KEY_BLOCK];
	kdc_err e;

	if ((e = ecdh(j->spoint, j->cke + HS_HDR + 1, pms)) != KDC_OK)
		goto out;
	j->cke[HS_HDR] = KDC_JW_POINT;
	hs_header(j->cke, KDC_JW_HT_CLIENT_KX, 1 + KDC_JW_POINT, j->tx_seq++);
	if ((e = tr_add(j, j->cke, sizeof(j->cke))) != KDC_OK)
		goto out;
	e = KDC_ERR_CRYPTO;
	if (j->ems) {
		/* RFC 7627 §4: the session hash covers ClientKeyExchange */
		if (gnutls_hash_fast(GNUTLS_DIG_SHA256, j->tr, j->trlen,
		    hash) < 0)
			goto out;
		e = kdc_jw_p_sha256(pms, sizeof(pms), "extended master secret",
		    22, hash, 32, j->master, sizeof(j->master));
	} else {
		memcpy(seed, j->crandom, 32);
		memcpy(seed + 32, j->srandom, 32);
		e = kdc_jw_p_sha256(pms, sizeof(pms), "master secret", 13,
		    seed, 64, j->master, sizeof(j->master));
	}
	if (e != KDC_OK)
		goto out;
	memcpy(seed, j->srandom, 32);
	memcpy(seed + 32, j->crandom, 32);
	if ((e = kdc_jw_p_sha256(j->master, sizeof(j->master),
	    "key expansion", 13, seed, 64, kb, sizeof(kb))) != KDC_OK)
		goto out;
	/* client MAC, server MAC, client key, server key (RFC 5246 §6.3) */
	memset(&j->rec, 0, sizeof(j->rec));
	j->rec.cipher = KDC_REC_AES128_CBC_SHA256;
	j->rec.epoch = 1;
	memcpy(j->rec.wr.mac, kb, 32);
	memcpy(j->rec.rd.mac, kb + 32, 32);
	memcpy(j->rec.wr.cbc_key, kb + 64, 16);
	memcpy(j->rec.rd.cbc_key, kb + 80, 16);
	/* our Finished over everything up to ClientKeyExchange */
	e = KDC_ERR_CRYPTO;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, j->tr, j->trlen, hash) < 0)
		goto out;
	hs_header(j->fin, KDC_JW_HT_FINISHED, 12, j->tx_seq++);
	if ((e = kdc_jw_p_sha256(j->master, sizeof(j->master),
	    "client finished", 15, hash, 32, j->fin + HS_HDR, 12)) != KDC_OK ||
	    (e = tr_add(j, j->fin, sizeof(j->fin))) != KDC_OK)
		goto out;
	/* the server's, over everything up to our Finished */
	e = KDC_ERR_CRYPTO;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, j->tr, j->trlen, hash) < 0)
		goto out;
	e = kdc_jw_p_sha256(j->master, sizeof(j->master), "server finished",
	    15, hash, 32, j->sfin, 12);
out:
	kdc_wipe(pms, sizeof(pms));
	kdc_wipe(kb, sizeof(kb));
	kdc_wipe(seed, sizeof(seed));
	return e;
}

/* A whole message of the server at rx_seq: KDC_OK (taken; *flight: a
 * new flight of ours is due), or a fatal error with *alert set. */
static kdc_err
message(struct kdc_jw *j, uint8_t type, const uint8_t *b, size_t n,
    bool *flight, uint8_t *alert, bool *done)
{
	uint8_t hdr[HS_HDR];
	unsigned diff = 0;
	kdc_err e;

	*alert = AL_UNEXPECTED;
	if (j->state == JW_WAIT_SH && type == KDC_JW_HT_HELLO_VERIFY) {
		*alert = AL_DECODE;
		if ((e = kdc_jw_parse_hvr(b, n, j->cookie, &j->cookie_len)) !=
		    KDC_OK)
			return e;
		client_hello(j);	/* not hashed (RFC 6347 §4.2.1) */
		*flight = true;
		return KDC_OK;
	}
	hs_header(hdr, type, (uint32_t)n, j->rx_seq);
	switch (j->state) {
	case JW_WAIT_SH:
		if (type != KDC_JW_HT_SERVER_HELLO)
			return KDC_ERR_TLS;
		if ((e = kdc_jw_parse_sh(b, n, j->srandom, &j->ems)) != KDC_OK) {
			*alert = e == KDC_ERR_MALFORMED ? AL_DECODE :
			    AL_HS_FAILURE;
			return e;
		}
		/* the ClientHello it answers starts the transcript */
		if ((e = tr_add(j, j->ch, j->chlen)) != KDC_OK)
			return e;
		j->state = JW_WAIT_SKE;
		break;
	case JW_WAIT_SKE:
		if (type != KDC_JW_HT_SERVER_KX)
			return KDC_ERR_TLS;
		if ((e = kdc_jw_parse_ske(b, n, j->spoint)) != KDC_OK) {
			*alert = e == KDC_ERR_MALFORMED ? AL_DECODE :
			    AL_HS_FAILURE;
			return e;
		}
		j->state = JW_WAIT_SHD;
		break;
	case JW_WAIT_SHD:
		if (type != KDC_JW_HT_SERVER_DONE)
			return KDC_ERR_TLS;
		if (n != 0) {
			*alert = AL_DECODE;
			return KDC_ERR_MALFORMED;
		}
		break;
	case JW_WAIT_FIN:
		if (type != KDC_JW_HT_FINISHED)
			return KDC_ERR_TLS;
		*alert = AL_DECRYPT;
		if (n != 12)
			return KDC_ERR_TLS;
		for (size_t i = 0; i < 12; i++)
			diff |= (unsigned)(b[i] ^ j->sfin[i]);
		if (diff != 0)
			return KDC_ERR_TLS;
		j->state = JW_DONE;
		j->rx_seq++;
		*done = true;
		return KDC_OK;
	default:
		return KDC_ERR_TLS;
	}
	if ((e = tr_add(j, hdr, sizeof(hdr))) != KDC_OK ||
	    (e = tr_add(j, b, n)) != KDC_OK)
		return e;
	j->rx_seq++;
	if (j->state == JW_WAIT_SHD && type == KDC_JW_HT_SERVER_DONE) {
		*alert = AL_ILLEGAL;
		if ((e = key_exchange(j)) != KDC_OK)
			return e;
		j->state = JW_WAIT_FIN;
		j->rto = KDC_JW_RTO_MS;
		*flight = true;
	}
	return KDC_OK;
}

/* Does a record hold a fragment of a message before rx_seq: the
 * server sending its previous flight again? */
static bool
old_fragment(const struct kdc_jw *j, const uint8_t *b, size_t n)
{
	struct kdc_jw_frag f;
	size_t off = 0, used;

	while (off < n && kdc_jw_frag(b + off, n - off, &f, &used) == KDC_OK) {
		if (f.seq < j->rx_seq)
			return true;
		off += used;
	}
	return false;
}

/* The handshake fragments of one record. */
static kdc_err
fragments(struct kdc_jw *j, const uint8_t *b, size_t n, bool *flight,
    uint8_t *alert, bool *done)
{
	struct kdc_jw_frag f;
	size_t off = 0, used;
	uint32_t end;
	kdc_err e;

	while (off < n && j->state != JW_DONE) {
		if (kdc_jw_frag(b + off, n - off, &f, &used) != KDC_OK)
			return KDC_OK;		/* the rest is dropped */
		off += used;
		if (f.seq != j->rx_seq)
			continue;	/* an old flight's, or too early */
		if (f.length > KDC_JW_MSG_MAX) {
			*alert = AL_DECODE;
			return KDC_ERR_MALFORMED;
		}
		if (!j->mbusy) {
			if (f.off != 0)
				continue;	/* in order only: comes again */
			j->mbusy = true;
			j->mtype = f.type;
			j->mlen = f.length;
			j->mhave = 0;
		} else if (f.type != j->mtype || f.length != j->mlen)
			continue;
		end = f.off + f.len;
		if (f.off <= j->mhave && end > j->mhave) {
			memcpy(j->msg + j->mhave, f.data + (j->mhave - f.off),
			    end - j->mhave);
			j->mhave = end;
		}
		if (j->mhave < j->mlen)
			continue;
		j->mbusy = false;
		if ((e = message(j, j->mtype, j->msg, j->mlen, flight, alert,
		    done)) != KDC_OK)
			return e;
	}
	return KDC_OK;
}

/* A fatal alert (level 2) for the server: in epoch 1 once we sent our
 * CCS, plaintext before. */
static void
alert_out(struct kdc_jw *j, uint8_t desc, uint8_t *out, size_t cap,
    size_t *out_len)
{
	uint8_t a[2] = { 2, desc };
	size_t off = 0;

	if (j->state == JW_WAIT_FIN) {
		if (kdc_rec_seal(&j->rec, KDC_REC_ALERT, a, 2, out, cap,
		    out_len) != KDC_OK)
			*out_len = 0;
		return;
	}
	if (rec0(j, KDC_REC_ALERT, a, 2, out, cap, &off) == KDC_OK)
		*out_len = off;
}

kdc_err
kdc_jw_input(struct kdc_jw *j, uint8_t *buf, size_t len, uint8_t *out,
    size_t cap, size_t *out_len, bool *done)
{
	const uint8_t *pt;
	size_t off = 0, rl, ptl;
	uint64_t seq;
	uint16_t epoch;
	uint8_t type, t2, alert = AL_HS_FAILURE;
	bool flight = false, old = false;
	kdc_err e = KDC_OK;

	*out_len = 0;
	*done = false;
	if (j->state == JW_DONE || j->state == JW_FAILED)
		return KDC_ERR_INVALID_ARG;
	while (off < len && j->state != JW_DONE) {
		if (kdc_rec_header(buf + off, len - off, &type, &epoch, &seq,
		    &rl) != KDC_OK)
			break;			/* the rest is dropped */
		if (epoch == 0) {
			const uint8_t *f = buf + off + KDC_REC_HDR;
			size_t fl = rl - KDC_REC_HDR;

			if (type == KDC_REC_ALERT && fl == 2 && (f[0] == 2 ||
			    f[1] == 0)) {
				e = KDC_ERR_TLS;	/* fatal, or closed */
				alert = 0;
				break;
			}
			/* (never a Finished in epoch 0: once ours is out,
			 * epoch-0 handshake records only tell that the
			 * server sent its previous flight again) */
			if (type == KDC_REC_HANDSHAKE)
				old |= old_fragment(j, f, fl);
			if (type == KDC_REC_HANDSHAKE && j->state != JW_WAIT_FIN &&
			    (e = fragments(j, f, fl, &flight, &alert, done)) !=
			    KDC_OK)
				break;
		} else if (epoch == 1 && j->state == JW_WAIT_FIN &&
		    kdc_rec_open(&j->rec, buf + off, rl, &t2, &pt, &ptl) ==
		    KDC_OK) {
			if (t2 == KDC_REC_ALERT && ptl == 2 && (pt[0] == 2 ||
			    pt[1] == 0)) {
				e = KDC_ERR_TLS;
				alert = 0;
				break;
			}
			if (t2 == KDC_REC_HANDSHAKE && (e = fragments(j, pt,
			    ptl, &flight, &alert, done)) != KDC_OK)
				break;
		}
		off += rl;
	}
	if (e != KDC_OK) {
		if (alert != 0)
			alert_out(j, alert, out, cap, out_len);
		j->state = JW_FAILED;
		return e;
	}
	/* RFC 6347 §4.2.4: the server's previous flight again means ours
	 * was lost: ours goes again now (once per datagram), when our whole
	 * flight is what the server waits for (not while its next flight is
	 * coming in) */
	if (!flight && old && (j->state == JW_WAIT_FIN ||
	    (j->state == JW_WAIT_SH && !j->mbusy)))
		flight = true;
	if (flight && j->state != JW_DONE)
		return kdc_jw_flight(j, out, cap, out_len);
	return KDC_OK;
}

kdc_err
kdc_jw_export(const struct kdc_jw *j, struct kdc_rec *r)
{
	if (j == NULL || j->state != JW_DONE)
		return KDC_ERR_INVALID_ARG;
	*r = j->rec;
	return KDC_OK;
}

bool
kdc_jw_ems(const struct kdc_jw *j)
{
	return j != NULL && j->ems;
}

kdc_err
kdc_jw_prf(const struct kdc_jw *j, const char *label, size_t label_len,
    bool server_first, uint8_t *out, size_t len)
{
	uint8_t seed[64];
	kdc_err e;

	if (j == NULL || j->state != JW_DONE || label == NULL ||
	    label_len == 0 || label_len > KDC_COAP_PRF_LABEL_MAX || len == 0 ||
	    len > KDC_COAP_PRF_MAX)
		return KDC_ERR_INVALID_ARG;
	memcpy(seed, server_first ? j->srandom : j->crandom, 32);
	memcpy(seed + 32, server_first ? j->crandom : j->srandom, 32);
	e = kdc_jw_p_sha256(j->master, sizeof(j->master), label, label_len,
	    seed, sizeof(seed), out, len);
	kdc_wipe(seed, sizeof(seed));
	return e;
}
