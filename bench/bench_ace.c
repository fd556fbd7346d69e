/*
 * bench_ace: the in-process rows of the ACE benchmark (issue 15 §5), one
 * thread, each next to its reference measured in the same run:
 *  - es256_sign: the AS key's ES256 alone (kdc_as_key_sign: a file key,
 *    OpenSSL through crypto/p256.c) over the Sig_structure of a real
 *    token; seal: AES-CCM-16-64-128 alone (the cose backend,
 *    kdc_cc_aead_seal) over the claims of a real symmetric-PoP token.
 *  - make_asym, make_sym: the token without the store (claims encoded,
 *    PoP key and kid drawn, COSE_Sign1 / COSE_Encrypt0 made: what
 *    core/ace.c token_make() does), so the store's share is read off.
 *  - token_asym, token_sym: kdc_core_ace_token() whole (policy reads,
 *    the token, its row + audit record, commit) on a file store in a
 *    temporary data dir, every commit durable (synchronous = FULL as the
 *    store opens it: one WAL fdatasync per token, what a core without
 *    group durability does: the HTTPS face's); then token_asym_group,
 *    token_sym_group with the CoAP engine's group durability
 *    (kdc_core_defer_sync, then one forced kdc_store_sync, a WAL
 *    fdatasync, per GROUP tokens: what the engine does when its answers
 *    wait for a sync once per step; here on the same thread, where
 *    serve's syncer thread does it beside the engine).
 *  - rs_sym, rs_asym: what a resource server does with a token it is
 *    given (the /authz-info path): kdc_cose_parse, decrypt / verify,
 *    kdc_cwt_decode, then aud, exp, scope and cnf checked; references
 *    open (kdc_cc_aead_open) and es256_verify (kdc_cc_es256_verify), the
 *    primitives alone on the same bytes (the cose backend the daemon and
 *    the device library's host port link: ES256 on OpenSSL,
 *    crypto_openssl.c); es256_verify_openssl the raw OpenSSL verify of
 *    the same signature (crypto_p256_verify: DER, SPKI) and
 *    es256_verify_nettle the same through GnuTLS/nettle (what the cose
 *    backend was, crypto_gnutls_es256.c). These are the calls the device
 *    library's /authz-info is built from.
 *  - rs_eddsa: the same claims in a COSE_Sign1 EdDSA token (a key of the
 *    bench's: the AS signs ES256), validated as rs_asym; references
 *    ed25519_verify (the cose backend: GnuTLS/nettle) and
 *    ed25519_verify_openssl (OpenSSL 3 EVP) on its Sig_structure.
 * usage: bench_ace SECONDS_PER_ROW
 *   BENCH_ACE_ROWS (unset: all): a comma-separated list of the rows to
 *   run, the others skipped (to profile one: the rs_* rows need a token_*
 *   row before them, which keeps their tokens)
 * prints one line per row: NAME rate=R/s n=N cpu_us=U [bytes=B]
 *   (rate: wall clock; U: thread CPU µs per operation)
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <openssl/evp.h>

#include "base/alloc.h"
#include "base/wipe.h"
#include "core/config.h"
#include "core/core.h"
#include "cose/cose.h"
#include "cose/cose_crypto.h"
#include "crypto/crypto.h"
#include "crypto/p256.h"
#include "store/store.h"

#define AUD	"lock1"
#define SCOPE	"open"
#define NTOK	64	/* tokens kept for the RS rows */
#define GROUP	32	/* tokens per sync, the group rows */

static double
now(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Is row name one of BENCH_ACE_ROWS (unset: every row)? */
static bool
row_wanted(const char *name)
{
	const char *only = getenv("BENCH_ACE_ROWS"), *p;
	size_t n = strlen(name);

	if (only == NULL || only[0] == '\0')
		return true;
	for (p = only; (p = strstr(p, name)) != NULL; p += n)
		if ((p == only || p[-1] == ',') && (p[n] == ',' ||
		    p[n] == '\0'))
			return true;
	return false;
}

/* One row: fn(arg) until secs have passed; 0, or -1 when fn failed. */
static int
row(const char *name, double secs, int (*fn)(void *), void *arg,
    const char *extra)
{
	double w0, c0, w, c;
	long n = 0;

	if (!row_wanted(name))
		return 0;
	w0 = now(CLOCK_MONOTONIC);
	c0 = now(CLOCK_THREAD_CPUTIME_ID);
	do {
		for (int i = 0; i < 16; i++, n++)
			if (fn(arg) != 0) {
				fprintf(stderr, "bench_ace: %s failed\n", name);
				return -1;
			}
		w = now(CLOCK_MONOTONIC) - w0;
	} while (w < secs);
	c = now(CLOCK_THREAD_CPUTIME_ID) - c0;
	printf("%s rate=%.0f/s n=%ld cpu_us=%.2f%s%s\n", name, n / w, n,
	    c * 1e6 / n, extra != NULL ? " " : "", extra != NULL ? extra : "");
	fflush(stdout);
	return 0;
}

struct ctx {
	struct kdc_core		*core;
	struct kdc_store	*st;
	struct kdc_as_key	*ask;
	struct kdc_principal	 psk_client, rpk_client;
	struct kdc_ace_token_req req_sym, req_asym;
	struct kdc_ace_token_resp resp;
	uint8_t			 rs_key[16];
	uint8_t			 ax[32], ay[32];	/* the AS public key */
	uint8_t			 askid[8];
	uint8_t			 aspki[128];	size_t aspki_len;
	uint8_t			 sig_der[72];	size_t sig_der_len;
	uint8_t			 cx[32], cy[32];	/* the RPK client's */
	/* references: the bytes of real tokens */
	uint8_t			 tbs[KDC_COSE_WORK_MAX];	size_t tbs_len;
	uint8_t			 sig[64];
	uint8_t			 pt[KDC_COSE_MSG_MAX];		size_t pt_len;
	uint8_t			 aad[32];			size_t aad_len;
	uint8_t			 nonce[13];
	uint8_t			 ct[KDC_COSE_MSG_MAX];		size_t ct_len;
	/* EdDSA: a seed, its public key, a token and its Sig_structure */
	uint8_t			 ed_d[32], ed_x[32], ed_sig[64];
	uint8_t			 ed_tok[KDC_COSE_MSG_MAX];	size_t ed_tok_len;
	uint8_t			 ed_tbs[KDC_COSE_WORK_MAX];	size_t ed_tbs_len;
	/* tokens for the RS rows */
	uint8_t			 tok[2][NTOK][KDC_COSE_MSG_MAX];
	size_t			 tok_len[2][NTOK];
	size_t			 ntok[2], next;
	unsigned		 unsynced;	/* group rows */
	uint8_t			 work[KDC_COSE_WORK_MAX];
};

static int
f_sign(void *a)
{
	struct ctx *x = a;

	return kdc_as_key_sign(x->ask, x->tbs, x->tbs_len, x->sig) == KDC_OK ?
	    0 : -1;
}

static int
f_verify(void *a)
{
	struct ctx *x = a;

	return kdc_cc_es256_verify(x->ax, x->ay, x->tbs, x->tbs_len, x->sig,
	    64) == KDC_OK ? 0 : -1;
}

/* The same verification through OpenSSL (crypto/p256.c, what the
 * daemon verifies CSRs with): what an RS on OpenSSL would pay. */
static int
f_verify_ossl(void *a)
{
	struct ctx *x = a;

	return crypto_p256_verify(x->aspki, x->aspki_len, KDC_P256_SHA256,
	    x->tbs, x->tbs_len, x->sig_der, x->sig_der_len) == KDC_OK ? 0 : -1;
}

/* The same verification through GnuTLS/nettle (what the cose backend
 * was before crypto_openssl.c): the key imported per call, as there. */
static int
f_verify_nettle(void *a)
{
	struct ctx *x = a;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t gx = { x->ax, 32 }, gy = { x->ay, 32 },
	    d = { x->tbs, (unsigned)x->tbs_len },
	    s = { x->sig_der, (unsigned)x->sig_der_len };
	int ok;

	ok = gnutls_pubkey_init(&pub) == 0 &&
	    gnutls_pubkey_import_ecc_raw(pub, GNUTLS_ECC_CURVE_SECP256R1, &gx,
	    &gy) == 0 &&
	    gnutls_pubkey_verify_data2(pub, GNUTLS_SIGN_ECDSA_SHA256, 0, &d,
	    &s) >= 0;
	gnutls_pubkey_deinit(pub);
	return ok ? 0 : -1;
}

static int
f_ed_verify(void *a)
{
	struct ctx *x = a;

	return kdc_cc_ed25519_verify(x->ed_x, x->ed_tbs, x->ed_tbs_len,
	    x->ed_sig, 64) == KDC_OK ? 0 : -1;
}

static int
f_ed_verify_ossl(void *a)
{
	struct ctx *x = a;
	EVP_PKEY *k;
	EVP_MD_CTX *m = NULL;
	int ok;

	ok = (k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x->ed_x,
	    32)) != NULL && (m = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestVerifyInit(m, NULL, NULL, NULL, k) == 1 &&
	    EVP_DigestVerify(m, x->ed_sig, 64, x->ed_tbs, x->ed_tbs_len) == 1;
	EVP_MD_CTX_free(m);
	EVP_PKEY_free(k);
	return ok ? 0 : -1;
}

/* One INTEGER of an Ecdsa-Sig-Value from 32 big-endian bytes. */
static size_t
der_int(const uint8_t v[32], uint8_t *out)
{
	size_t i = 0, n;

	while (i < 31 && v[i] == 0)
		i++;
	n = 32 - i;
	out[0] = 0x02;
	if (v[i] & 0x80) {
		out[1] = (uint8_t)(n + 1);
		out[2] = 0;
		memcpy(out + 3, v + i, n);
		return n + 3;
	}
	out[1] = (uint8_t)n;
	memcpy(out + 2, v + i, n);
	return n + 2;
}

static int
f_seal(void *a)
{
	struct ctx *x = a;

	x->ct_len = sizeof(x->ct);
	return kdc_cc_aead_seal(KDC_CC_AES_CCM, x->rs_key, 16, x->nonce, 13, 8,
	    x->aad, x->aad_len, x->pt, x->pt_len, x->ct, &x->ct_len) ==
	    KDC_OK ? 0 : -1;
}

static int
f_open(void *a)
{
	struct ctx *x = a;
	uint8_t pt[KDC_COSE_MSG_MAX];
	size_t pt_len = sizeof(pt);

	return kdc_cc_aead_open(KDC_CC_AES_CCM, x->rs_key, 16, x->nonce, 13, 8,
	    x->aad, x->aad_len, x->ct, x->ct_len, pt, &pt_len) == KDC_OK &&
	    pt_len == x->pt_len ? 0 : -1;
}

static kdc_err
as_sign(void *arg, const uint8_t *tbs, size_t tbs_len, uint8_t *sig,
    size_t *sig_len)
{
	kdc_err r;

	if (*sig_len < 64)
		return KDC_ERR_TOO_LARGE;
	if ((r = kdc_as_key_sign(arg, tbs, tbs_len, sig)) == KDC_OK)
		*sig_len = 64;
	return r;
}

/* The claims core/ace.c puts in a token (symmetric: a fresh key and
 * kid in cnf; asymmetric: the client's point). */
static kdc_err
claims(struct ctx *x, bool sym, uint8_t *out, size_t *out_len,
    uint8_t key[16], uint8_t kid[8])
{
	struct kdc_cwt c;
	uint8_t cti[16];
	int64_t t = (int64_t)time(NULL);
	kdc_err r;

	if ((r = kdc_random(cti, sizeof(cti))) != KDC_OK)
		return r;
	memset(&c, 0, sizeof(c));
	c.has = KDC_CWT_ISS | KDC_CWT_AUD | KDC_CWT_EXP | KDC_CWT_IAT |
	    KDC_CWT_CTI | KDC_CWT_SCOPE | KDC_CWT_CNF;
	c.iss = "iotkdc";
	c.iss_len = 6;
	c.aud = AUD;
	c.aud_len = strlen(AUD);
	c.exp = t + 3600;
	c.iat = t;
	c.cti = cti;
	c.cti_len = sizeof(cti);
	c.scope = (const uint8_t *)SCOPE;
	c.scope_len = strlen(SCOPE);
	c.scope_text = true;
	c.cnf.kind = KDC_CNF_COSE_KEY;
	if (sym) {
		if ((r = kdc_random(key, 16)) != KDC_OK ||
		    (r = kdc_random(kid, 8)) != KDC_OK)
			return r;
		c.cnf.key.kty = KDC_COSE_KTY_SYMMETRIC;
		c.cnf.key.kid = kid;
		c.cnf.key.kid_len = 8;
		c.cnf.key.k = key;
		c.cnf.key.k_len = 16;
	} else {
		c.cnf.key.kty = KDC_COSE_KTY_EC2;
		c.cnf.key.crv = KDC_COSE_CRV_P256;
		c.cnf.key.x = x->cx;
		c.cnf.key.x_len = 32;
		c.cnf.key.y = x->cy;
		c.cnf.key.y_len = 32;
	}
	return kdc_cwt_encode(&c, out, out_len);
}

static int
f_make_sym(void *a)
{
	struct ctx *x = a;
	struct kdc_cose_hdr_opts o = { .tag = true, .cwt_tag = true };
	struct kdc_cose_key key;
	uint8_t cl[KDC_COSE_MSG_MAX], pop[16], kid[8], iv[13],
	    out[KDC_COSE_MSG_MAX];
	size_t cl_len = sizeof(cl), out_len = sizeof(out);
	kdc_err r;

	memset(&key, 0, sizeof(key));
	key.alg = KDC_COSE_ALG_CCM_16_64_128;
	key.k = x->rs_key;
	key.k_len = 16;
	r = claims(x, true, cl, &cl_len, pop, kid);
	if (r == KDC_OK)
		r = kdc_random(iv, sizeof(iv));
	if (r == KDC_OK)
		r = kdc_cose_encrypt0_encode(&key, &o, iv, sizeof(iv), cl,
		    cl_len, NULL, 0, out, &out_len);
	kdc_wipe(cl, sizeof(cl));
	kdc_wipe(pop, sizeof(pop));
	return r == KDC_OK ? 0 : -1;
}

static int
f_make_asym(void *a)
{
	struct ctx *x = a;
	struct kdc_cose_hdr_opts o = { .tag = true, .cwt_tag = true,
	    .kid_protected = true };
	struct kdc_cose_signer s;
	uint8_t cl[KDC_COSE_MSG_MAX], out[KDC_COSE_MSG_MAX];
	size_t cl_len = sizeof(cl), out_len = sizeof(out);

	memset(&s, 0, sizeof(s));
	s.alg = KDC_COSE_ALG_ES256;
	s.fn = as_sign;
	s.arg = x->ask;
	s.key.alg = KDC_COSE_ALG_ES256;
	s.key.kid = x->askid;
	s.key.kid_len = sizeof(x->askid);
	return claims(x, false, cl, &cl_len, NULL, NULL) == KDC_OK &&
	    kdc_cose_sign1_encode(&s, &o, cl, cl_len, NULL, 0, out,
	    &out_len) == KDC_OK ? 0 : -1;
}

/* kdc_core_ace_token(); the first NTOK tokens kept for the RS rows. */
static int
token(struct ctx *x, int kind)
{
	const struct kdc_principal *who = kind == 0 ? &x->psk_client :
	    &x->rpk_client;
	const struct kdc_ace_token_req *req = kind == 0 ? &x->req_sym :
	    &x->req_asym;
	kdc_err r;

	r = kdc_core_ace_token(x->core, "bench", who, req, &x->resp);
	if (r != KDC_OK) {
		fprintf(stderr, "bench_ace: token: %s (error %d: %s)\n",
		    kdc_err_str(r), x->resp.error,
		    x->resp.error_description != NULL ?
		    x->resp.error_description : "");
		return -1;
	}
	if (x->ntok[kind] < NTOK) {
		memcpy(x->tok[kind][x->ntok[kind]], x->resp.access_token,
		    x->resp.access_token_len);
		x->tok_len[kind][x->ntok[kind]++] = x->resp.access_token_len;
	}
	kdc_ace_token_resp_wipe(&x->resp);
	return 0;
}

static int f_token_sym(void *a) { return token(a, 0); }
static int f_token_asym(void *a) { return token(a, 1); }

static int
token_group(struct ctx *x, int kind)
{
	if (token(x, kind) != 0)
		return -1;
	if (++x->unsynced < GROUP)
		return 0;
	x->unsynced = 0;
	return kdc_store_sync(x->st, true) == KDC_OK ? 0 : -1;
}

static int f_token_sym_group(void *a) { return token_group(a, 0); }
static int f_token_asym_group(void *a) { return token_group(a, 1); }

/* The claims an RS checks: its audience, not expired, the scope it
 * serves, a PoP key of the expected kind. */
static int
claims_ok(const struct kdc_cwt *c, bool sym)
{
	int64_t t = (int64_t)time(NULL);

	if (!(c->has & KDC_CWT_AUD) || c->aud_len != strlen(AUD) ||
	    memcmp(c->aud, AUD, c->aud_len) != 0)
		return -1;
	if (!(c->has & KDC_CWT_EXP) || c->exp <= t)
		return -1;
	if (!(c->has & KDC_CWT_SCOPE) || c->scope_len != strlen(SCOPE) ||
	    memcmp(c->scope, SCOPE, c->scope_len) != 0)
		return -1;
	if (!(c->has & KDC_CWT_CNF) || c->cnf.kind != KDC_CNF_COSE_KEY)
		return -1;
	if (sym)
		return c->cnf.key.kty == KDC_COSE_KTY_SYMMETRIC &&
		    c->cnf.key.k_len == 16 && c->cnf.key.kid_len > 0 ? 0 : -1;
	return c->cnf.key.kty == KDC_COSE_KTY_EC2 && c->cnf.key.x_len == 32 ?
	    0 : -1;
}

static int
f_rs_sym(void *a)
{
	struct ctx *x = a;
	struct kdc_cose_msg m;
	struct kdc_cose_key key;
	struct kdc_cwt c;
	uint8_t pt[KDC_COSE_MSG_MAX];
	size_t pt_len = sizeof(pt), i = x->next++ % x->ntok[0];
	int ok;

	memset(&key, 0, sizeof(key));
	key.alg = KDC_COSE_ALG_CCM_16_64_128;
	key.k = x->rs_key;
	key.k_len = 16;
	ok = kdc_cose_parse(x->tok[0][i], x->tok_len[0][i], 0, &m) == KDC_OK &&
	    m.type == KDC_COSE_ENCRYPT0 &&
	    kdc_cose_encrypt0_decrypt(&m, &key, NULL, 0, pt, &pt_len, x->work,
	    sizeof(x->work)) == KDC_OK &&
	    kdc_cwt_decode(pt, pt_len, &c) == KDC_OK && claims_ok(&c, true) == 0;
	kdc_wipe(pt, sizeof(pt));
	return ok ? 0 : -1;
}

static int
f_rs_asym(void *a)
{
	struct ctx *x = a;
	struct kdc_cose_msg m;
	struct kdc_cose_key key;
	struct kdc_cwt c;
	size_t i = x->next++ % x->ntok[1];

	memset(&key, 0, sizeof(key));
	key.alg = KDC_COSE_ALG_ES256;
	key.x = x->ax;
	key.x_len = 32;
	key.y = x->ay;
	key.y_len = 32;
	return kdc_cose_parse(x->tok[1][i], x->tok_len[1][i], 0, &m) ==
	    KDC_OK && m.type == KDC_COSE_SIGN1 &&
	    kdc_cose_sign1_verify(&m, &key, NULL, 0, x->work,
	    sizeof(x->work)) == KDC_OK &&
	    kdc_cwt_decode(m.payload, m.payload_len, &c) == KDC_OK &&
	    claims_ok(&c, false) == 0 ? 0 : -1;
}

static int
f_rs_eddsa(void *a)
{
	struct ctx *x = a;
	struct kdc_cose_msg m;
	struct kdc_cose_key key;
	struct kdc_cwt c;

	memset(&key, 0, sizeof(key));
	key.alg = KDC_COSE_ALG_EDDSA;
	key.x = x->ed_x;
	key.x_len = 32;
	return kdc_cose_parse(x->ed_tok, x->ed_tok_len, 0, &m) == KDC_OK &&
	    m.type == KDC_COSE_SIGN1 &&
	    kdc_cose_sign1_verify(&m, &key, NULL, 0, x->work,
	    sizeof(x->work)) == KDC_OK &&
	    kdc_cwt_decode(m.payload, m.payload_len, &c) == KDC_OK &&
	    claims_ok(&c, false) == 0 ? 0 : -1;
}

/* An EdDSA Sign1 token of the same claims, its Sig_structure and
 * signature for the reference rows (the signature is the last 64 bytes of
 * the token: deterministic, so signing the Sig_structure again gives it). */
static int
eddsa_setup(struct ctx *x)
{
	static const uint8_t prot[] = { 0xa1, 0x01, 0x27 };
	struct kdc_cose_hdr_opts o = { .tag = true, .cwt_tag = true };
	struct kdc_cose_signer s;
	uint8_t cl[KDC_COSE_MSG_MAX];
	size_t cl_len = sizeof(cl), n = 0;
	EVP_PKEY *k;
	size_t xl = 32;

	if (kdc_random(x->ed_d, 32) != KDC_OK ||
	    (k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, x->ed_d,
	    32)) == NULL)
		return -1;
	if (EVP_PKEY_get_raw_public_key(k, x->ed_x, &xl) != 1 || xl != 32) {
		EVP_PKEY_free(k);
		return -1;
	}
	EVP_PKEY_free(k);
	if (claims(x, false, cl, &cl_len, NULL, NULL) != KDC_OK ||
	    cl_len > 255)
		return -1;
	memset(&s, 0, sizeof(s));
	s.alg = KDC_COSE_ALG_EDDSA;
	s.key.d = x->ed_d;
	s.key.d_len = 32;
	x->ed_tok_len = sizeof(x->ed_tok);
	if (kdc_cose_sign1_encode(&s, &o, cl, cl_len, NULL, 0, x->ed_tok,
	    &x->ed_tok_len) != KDC_OK)
		return -1;
	/* ["Signature1", h'a10127', h'', claims] */
	x->ed_tbs[n++] = 0x84;
	x->ed_tbs[n++] = 0x6a;
	memcpy(x->ed_tbs + n, "Signature1", 10);
	n += 10;
	x->ed_tbs[n++] = 0x40 + sizeof(prot);
	memcpy(x->ed_tbs + n, prot, sizeof(prot));
	n += sizeof(prot);
	x->ed_tbs[n++] = 0x40;
	if (cl_len >= 24)
		x->ed_tbs[n++] = 0x58;
	x->ed_tbs[n++] = (uint8_t)(cl_len >= 24 ? cl_len : 0x40 + cl_len);
	memcpy(x->ed_tbs + n, cl, cl_len);
	x->ed_tbs_len = n + cl_len;
	memcpy(x->ed_sig, x->ed_tok + x->ed_tok_len - 64, 64);
	return f_ed_verify(x) == 0 && f_ed_verify_ossl(x) == 0 &&
	    f_rs_eddsa(x) == 0 ? 0 : -1;
}

/* The Sig_structure / Enc_structure and the claims of real tokens: the
 * bytes the reference rows work on. */
static int
refs_setup(struct ctx *x)
{
	static const uint8_t prot_sign[] = { 0xa2, 0x01, 0x26, 0x04, 0x48 };
	static const uint8_t enc0[] = { 0x83, 0x68, 'E', 'n', 'c', 'r', 'y',
	    'p', 't', '0', 0x43, 0xa1, 0x01, 0x0a, 0x40 };
	uint8_t cl[KDC_COSE_MSG_MAX], pop[16], kid[8];
	size_t cl_len = sizeof(cl), n = 0;

	/* Sig_structure ["Signature1", prot, h'', claims] of an asymmetric
	 * token: what kdc_cose_sign1_encode hands the signer */
	if (claims(x, false, cl, &cl_len, NULL, NULL) != KDC_OK ||
	    cl_len > 256)
		return -1;
	x->tbs[n++] = 0x84;
	x->tbs[n++] = 0x6a;
	memcpy(x->tbs + n, "Signature1", 10);
	n += 10;
	x->tbs[n++] = 0x40 + sizeof(prot_sign) + 8;
	memcpy(x->tbs + n, prot_sign, sizeof(prot_sign));
	n += sizeof(prot_sign);
	memcpy(x->tbs + n, x->askid, 8);
	n += 8;
	x->tbs[n++] = 0x40;
	if (cl_len >= 24)
		x->tbs[n++] = 0x58;	/* bstr, 1-byte length */
	x->tbs[n++] = (uint8_t)(cl_len >= 24 ? cl_len : 0x40 + cl_len);
	memcpy(x->tbs + n, cl, cl_len);
	x->tbs_len = n + cl_len;
	if (f_sign(x) != 0 || f_verify(x) != 0)
		return -1;
	n = der_int(x->sig, x->sig_der + 2);
	n += der_int(x->sig + 32, x->sig_der + 2 + n);
	x->sig_der[0] = 0x30;
	x->sig_der[1] = (uint8_t)n;
	x->sig_der_len = n + 2;
	x->aspki_len = sizeof(x->aspki);
	if (kdc_as_key_pub(x->ask, x->ax, x->ay, x->aspki, &x->aspki_len) !=
	    KDC_OK || f_verify_ossl(x) != 0)
		return -1;
	/* the claims of a symmetric token, sealed under the RS key */
	x->pt_len = sizeof(x->pt);
	if (claims(x, true, x->pt, &x->pt_len, pop, kid) != KDC_OK ||
	    kdc_random(x->nonce, sizeof(x->nonce)) != KDC_OK)
		return -1;
	kdc_wipe(pop, sizeof(pop));
	memcpy(x->aad, enc0, sizeof(enc0));
	x->aad_len = sizeof(enc0);
	return f_seal(x) == 0 && f_open(x) == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static struct ctx x;
	struct kdc_config cfg;
	struct kdc_keyring *kr = NULL;
	struct kdc_store *st = NULL;
	struct kdc_ca *ca = NULL;
	struct kdc_device_spec spec;
	uint8_t key[32], pkcs8[256], psk[64], *spki = NULL, ck[128];
	size_t pkcs8_len = sizeof(pkcs8), spki_len = 0, psk_len = sizeof(psk),
	    ck_len = sizeof(ck);
	char dir[] = "/tmp/kdcbench-ace.XXXXXX", db[64], extra[64];
	double secs;
	int rc = 1;

	if (argc != 2 || (secs = atof(argv[1])) <= 0) {
		fprintf(stderr, "usage: bench_ace SECONDS\n");
		return 2;
	}
	if (mkdtemp(dir) == NULL || kdc_crypto_init() != KDC_OK ||
	    kdc_random(key, sizeof(key)) != KDC_OK ||
	    kdc_keyring_from_bytes(key, &kr) != KDC_OK ||
	    kdc_ca_create(dir, kr, NULL, 3650) != KDC_OK ||
	    kdc_ca_load(dir, kr, NULL, &ca) != KDC_OK ||
	    kdc_as_key_create(dir, kr) != KDC_OK ||
	    kdc_as_key_load(dir, kr, NULL, &x.ask) != KDC_OK ||
	    kdc_as_key_pub(x.ask, x.ax, x.ay, NULL, NULL) != KDC_OK) {
		fprintf(stderr, "bench_ace: keys in %s\n", dir);
		goto out;
	}
	snprintf(db, sizeof(db), "%s/bench.db", dir);
	kdc_config_defaults(&cfg);
	if (kdc_store_open(db, 1, &st) != KDC_OK ||
	    kdc_core_new(st, kr, ca, &cfg, &x.core) != KDC_OK)
		goto out;
	kdc_core_ace_set_key(x.core, x.ask);
	x.st = st;
	if (kdc_core_ace_as_pubkey(x.core, ck, &ck_len, NULL, NULL) != KDC_OK)
		goto out;
	{	/* the AS kid: SHA-256 of its SPKI, first 8 bytes (core/ace.c) */
		uint8_t s[128], d[32];
		size_t s_len = sizeof(s);

		if (kdc_as_key_pub(x.ask, x.ax, x.ay, s, &s_len) != KDC_OK)
			goto out;
		kdc_sha256(s, s_len, d);
		memcpy(x.askid, d, 8);
	}
	/* a PSK client, an RPK client, an RS with both keys, two grants */
	memset(&spec, 0, sizeof(spec));
	snprintf(spec.dev_id, sizeof(spec.dev_id), "urn:dev:ace:psk");
	spec.type = KDC_TYPE_PSK;
	snprintf(spec.psk_identity, sizeof(spec.psk_identity), "acepsk");
	spec.psk_len = 16;
	if (kdc_random(spec.psk, spec.psk_len) != KDC_OK ||
	    kdc_core_device_add(x.core, "bench", &spec) != KDC_OK)
		goto out;
	kdc_wipe(&spec, sizeof(spec));
	if (kdc_keygen_p256(pkcs8, &pkcs8_len, &spki, &spki_len) != KDC_OK ||
	    spki_len > sizeof(spec.spki) ||
	    kdc_spki_p256_xy(spki, spki_len, x.cx, x.cy) != KDC_OK)
		goto out;
	kdc_wipe(pkcs8, sizeof(pkcs8));
	snprintf(spec.dev_id, sizeof(spec.dev_id), "urn:dev:ace:rpk");
	spec.type = KDC_TYPE_RPK;
	memcpy(spec.spki, spki, spki_len);
	spec.spki_len = spki_len;
	if (kdc_core_device_add(x.core, "bench", &spec) != KDC_OK ||
	    kdc_random(x.rs_key, sizeof(x.rs_key)) != KDC_OK)
		goto out;
	{
		uint8_t *rspkcs8 = pkcs8, *rsspki = NULL;
		size_t rsp_len = sizeof(pkcs8), rss_len = 0;

		if (kdc_keygen_p256(rspkcs8, &rsp_len, &rsspki, &rss_len) !=
		    KDC_OK)
			goto out;
		kdc_wipe(pkcs8, sizeof(pkcs8));
		if (kdc_core_ace_rs_add(x.core, "bench", AUD, x.rs_key, 16,
		    rsspki, rss_len, KDC_ACE_PROFILE_COAP_DTLS) != KDC_OK) {
			kdc_free(rsspki);
			goto out;
		}
		kdc_free(rsspki);
	}
	if (kdc_core_ace_grant(x.core, "bench", "urn:dev:ace:psk", AUD,
	    SCOPE " close", false) != KDC_OK ||
	    kdc_core_ace_grant(x.core, "bench", "urn:dev:ace:rpk", AUD,
	    SCOPE " close", false) != KDC_OK ||
	    kdc_core_auth_psk(x.core, "bench", "acepsk", psk, &psk_len,
	    &x.psk_client) != KDC_OK ||
	    kdc_core_auth_spki(x.core, "bench", spki, spki_len,
	    &x.rpk_client) != KDC_OK) {
		fprintf(stderr, "bench_ace: ACE policy setup failed\n");
		goto out;
	}
	kdc_wipe(psk, sizeof(psk));
	x.req_sym.grant_type = KDC_ACE_GRANT_CLIENT_CREDENTIALS;
	x.req_sym.audience = AUD;
	x.req_sym.audience_len = strlen(AUD);
	x.req_sym.scope = SCOPE;
	x.req_sym.scope_len = strlen(SCOPE);
	x.req_asym = x.req_sym;
	x.req_asym.req_cnf.kind = KDC_CNF_COSE_KEY;
	x.req_asym.req_cnf.key.kty = KDC_COSE_KTY_EC2;
	x.req_asym.req_cnf.key.crv = KDC_COSE_CRV_P256;
	x.req_asym.req_cnf.key.x = x.cx;
	x.req_asym.req_cnf.key.x_len = 32;
	x.req_asym.req_cnf.key.y = x.cy;
	x.req_asym.req_cnf.key.y_len = 32;
	if (refs_setup(&x) != 0 || f_verify_nettle(&x) != 0 ||
	    eddsa_setup(&x) != 0) {
		fprintf(stderr, "bench_ace: reference setup failed\n");
		goto out;
	}

	snprintf(extra, sizeof(extra), "bytes=%zu", x.tbs_len);
	if (row("es256_sign", secs, f_sign, &x, extra) != 0)
		goto out;
	snprintf(extra, sizeof(extra), "bytes=%zu", x.pt_len);
	if (row("seal", secs, f_seal, &x, extra) != 0 ||
	    row("make_asym", secs, f_make_asym, &x, NULL) != 0 ||
	    row("make_sym", secs, f_make_sym, &x, NULL) != 0 ||
	    row("token_asym", secs, f_token_asym, &x, NULL) != 0 ||
	    row("token_sym", secs, f_token_sym, &x, NULL) != 0 ||
	    kdc_core_defer_sync(x.core, true) != KDC_OK ||
	    row("token_asym_group", secs, f_token_asym_group, &x, NULL) != 0 ||
	    row("token_sym_group", secs, f_token_sym_group, &x, NULL) != 0 ||
	    kdc_store_sync(st, true) != KDC_OK ||
	    kdc_core_defer_sync(x.core, false) != KDC_OK)
		goto out;
	snprintf(extra, sizeof(extra), "bytes=%zu", x.tbs_len);
	if (row("es256_verify", secs, f_verify, &x, extra) != 0 ||
	    row("es256_verify_openssl", secs, f_verify_ossl, &x, extra) != 0 ||
	    row("es256_verify_nettle", secs, f_verify_nettle, &x, extra) != 0)
		goto out;
	snprintf(extra, sizeof(extra), "bytes=%zu", x.ed_tbs_len);
	if (row("ed25519_verify", secs, f_ed_verify, &x, extra) != 0 ||
	    row("ed25519_verify_openssl", secs, f_ed_verify_ossl, &x,
	    extra) != 0)
		goto out;
	snprintf(extra, sizeof(extra), "bytes=%zu", x.ct_len);
	if (row("open", secs, f_open, &x, extra) != 0)
		goto out;
	snprintf(extra, sizeof(extra), "bytes=%zu", x.tok_len[1][0]);
	if (row("rs_asym", secs, f_rs_asym, &x, extra) != 0)
		goto out;
	snprintf(extra, sizeof(extra), "bytes=%zu", x.ed_tok_len);
	if (row("rs_eddsa", secs, f_rs_eddsa, &x, extra) != 0)
		goto out;
	snprintf(extra, sizeof(extra), "bytes=%zu", x.tok_len[0][0]);
	if (row("rs_sym", secs, f_rs_sym, &x, extra) != 0)
		goto out;
	/* the reference once more: how much the machine moved */
	snprintf(extra, sizeof(extra), "bytes=%zu", x.tbs_len);
	if (row("es256_sign_after", secs, f_sign, &x, extra) != 0)
		goto out;
	rc = 0;
out:
	kdc_free(spki);
	kdc_wipe(x.ed_d, sizeof(x.ed_d));
	if (x.core != NULL)
		kdc_core_free(x.core);
	kdc_as_key_free(x.ask);
	kdc_store_close(st);
	kdc_ca_free(ca);
	kdc_keyring_free(kr);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			rc = 1;
	}
	return rc;
}
