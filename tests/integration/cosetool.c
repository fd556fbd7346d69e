/*
 * cosetool.c: a test helper around src/cose/ for test_cose_peer.sh, so
 * an independent implementation (tests/integration/cose_peer.py, on
 * Debian's python3-cbor2 and python3-cryptography) can check what we
 * make and we can check what it makes.
 *
 *   cosetool make sign1|mac0|encrypt0 KEYFILE [--aud S] [--iss S]
 *       [--sub S] [--exp N] [--iat N] [--scope S] [--cti HEX]
 *       [--cnf-kid HEX] [--untagged] [--no-cwt-tag] [--kid-protected]
 *     prints the CWT (hex) made with the key;
 *   cosetool open KEYFILE HEX
 *     parses, verifies / decrypts and decodes the CWT, prints its claims
 *     one per line (iss=..., aud=..., exp=...); exit 1 with the error's
 *     name on stderr when refused.
 *
 * KEYFILE (never the command line: keys are secrets) holds lines
 * "alg=N", "k=HEX", "d=HEX", "x=HEX", "y=HEX", "kid=HEX". The Encrypt0 IV
 * is random (gnutls_rnd).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "base/err.h"
#include "base/wipe.h"
#include "cose/cose.h"

#define BUFMAX	4096

struct keyfile {
	int	 alg;
	uint8_t	 k[64], d[32], x[32], y[32], kid[64];
	size_t	 k_len, d_len, x_len, y_len, kid_len;
};

static int
usage(void)
{
	fprintf(stderr, "usage: cosetool make sign1|mac0|encrypt0 KEYFILE "
	    "[options] | cosetool open KEYFILE HEX\n");
	return 2;
}

static bool
unhex(const char *h, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = strlen(h);

	if (n % 2 != 0 || n / 2 > cap)
		return false;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(h + 2 * i, "%2x", &v) != 1)
			return false;
		out[i] = (uint8_t)v;
	}
	*len = n / 2;
	return true;
}

static void
hexout(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\n");
}

static bool
key_load(const char *path, struct keyfile *kf)
{
	char line[512];
	FILE *f = fopen(path, "r");
	bool ok = true;

	memset(kf, 0, sizeof(*kf));
	if (f == NULL)
		return false;
	while (ok && fgets(line, sizeof(line), f) != NULL) {
		char *v = strchr(line, '=');

		line[strcspn(line, "\r\n")] = '\0';
		if (v == NULL)
			continue;
		*v++ = '\0';
		if (strcmp(line, "alg") == 0)
			kf->alg = atoi(v);
		else if (strcmp(line, "k") == 0)
			ok = unhex(v, kf->k, sizeof(kf->k), &kf->k_len);
		else if (strcmp(line, "d") == 0)
			ok = unhex(v, kf->d, sizeof(kf->d), &kf->d_len);
		else if (strcmp(line, "x") == 0)
			ok = unhex(v, kf->x, sizeof(kf->x), &kf->x_len);
		else if (strcmp(line, "y") == 0)
			ok = unhex(v, kf->y, sizeof(kf->y), &kf->y_len);
		else if (strcmp(line, "kid") == 0)
			ok = unhex(v, kf->kid, sizeof(kf->kid), &kf->kid_len);
	}
	kdc_wipe(line, sizeof(line));
	fclose(f);
	return ok && kf->alg != 0;
}

static struct kdc_cose_key
key_of(const struct keyfile *kf)
{
	struct kdc_cose_key key;

	memset(&key, 0, sizeof(key));
	key.alg = kf->alg;
	key.k = kf->k_len ? kf->k : NULL;
	key.k_len = kf->k_len;
	key.d = kf->d_len ? kf->d : NULL;
	key.d_len = kf->d_len;
	key.x = kf->x_len ? kf->x : NULL;
	key.x_len = kf->x_len;
	key.y = kf->y_len ? kf->y : NULL;
	key.y_len = kf->y_len;
	key.kid = kf->kid;
	key.kid_len = kf->kid_len;
	return key;
}

static int
make(int argc, char **argv)
{
	struct keyfile kf;
	struct kdc_cose_key key;
	struct kdc_cose_hdr_opts o = { .tag = true, .cwt_tag = true };
	struct kdc_cwt c;
	static uint8_t claims[BUFMAX], out[2 * BUFMAX], cti[64], cnfkid[64];
	size_t claims_len = sizeof(claims), out_len = sizeof(out);
	const char *type = argv[0];
	kdc_err r;

	if (!key_load(argv[1], &kf))
		return fprintf(stderr, "cosetool: bad key file\n"), 2;
	key = key_of(&kf);
	memset(&c, 0, sizeof(c));
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--untagged") == 0) {
			o.tag = false;
			o.cwt_tag = false;
			continue;
		}
		if (strcmp(a, "--no-cwt-tag") == 0) {
			o.cwt_tag = false;
			continue;
		}
		if (strcmp(a, "--kid-protected") == 0) {
			o.kid_protected = true;
			continue;
		}
		if (v == NULL)
			return usage();
		i++;
		if (strcmp(a, "--aud") == 0) {
			c.has |= KDC_CWT_AUD;
			c.aud = v;
			c.aud_len = strlen(v);
		} else if (strcmp(a, "--iss") == 0) {
			c.has |= KDC_CWT_ISS;
			c.iss = v;
			c.iss_len = strlen(v);
		} else if (strcmp(a, "--sub") == 0) {
			c.has |= KDC_CWT_SUB;
			c.sub = v;
			c.sub_len = strlen(v);
		} else if (strcmp(a, "--exp") == 0) {
			c.has |= KDC_CWT_EXP;
			c.exp = strtoll(v, NULL, 10);
		} else if (strcmp(a, "--iat") == 0) {
			c.has |= KDC_CWT_IAT;
			c.iat = strtoll(v, NULL, 10);
		} else if (strcmp(a, "--scope") == 0) {
			c.has |= KDC_CWT_SCOPE;
			c.scope = (const uint8_t *)v;
			c.scope_len = strlen(v);
			c.scope_text = true;
		} else if (strcmp(a, "--cti") == 0) {
			c.has |= KDC_CWT_CTI;
			if (!unhex(v, cti, sizeof(cti), &c.cti_len))
				return usage();
			c.cti = cti;
		} else if (strcmp(a, "--cnf-kid") == 0) {
			c.has |= KDC_CWT_CNF;
			c.cnf.kind = KDC_CNF_KID;
			if (!unhex(v, cnfkid, sizeof(cnfkid), &c.cnf.kid_len))
				return usage();
			c.cnf.kid = cnfkid;
		} else
			return usage();
	}
	if ((r = kdc_cwt_encode(&c, claims, &claims_len)) != KDC_OK)
		goto out;
	if (strcmp(type, "sign1") == 0) {
		struct kdc_cose_signer s;

		memset(&s, 0, sizeof(s));
		s.alg = key.alg;
		s.key = key;
		r = kdc_cose_sign1_encode(&s, &o, claims, claims_len, NULL, 0,
		    out, &out_len);
	} else if (strcmp(type, "mac0") == 0)
		r = kdc_cose_mac0_encode(&key, &o, claims, claims_len, NULL, 0,
		    out, &out_len);
	else if (strcmp(type, "encrypt0") == 0) {
		uint8_t iv[13];
		size_t iv_len = key.alg == KDC_COSE_ALG_A128GCM ? 12 : 13;

		if (gnutls_rnd(GNUTLS_RND_NONCE, iv, iv_len) < 0)
			return fprintf(stderr, "cosetool: rnd\n"), 2;
		r = kdc_cose_encrypt0_encode(&key, &o, iv, iv_len, claims,
		    claims_len, NULL, 0, out, &out_len);
	} else
		return usage();
out:
	kdc_wipe(&kf, sizeof(kf));
	if (r != KDC_OK) {
		fprintf(stderr, "cosetool: %s\n", kdc_err_name(r));
		return 1;
	}
	hexout(out, out_len);
	return 0;
}

static void
print_text(const char *name, const void *p, size_t n)
{
	printf("%s=%.*s\n", name, (int)n, (const char *)p);
}

static void
print_hex(const char *name, const uint8_t *p, size_t n)
{
	printf("%s=", name);
	hexout(p, n);
}

static int
open_token(const char *keyfile, const char *hex)
{
	struct keyfile kf;
	struct kdc_cose_key key;
	struct kdc_cose_msg m;
	struct kdc_cwt c;
	static uint8_t in[BUFMAX], pt[BUFMAX], work[KDC_COSE_WORK_MAX + BUFMAX];
	size_t in_len, pt_len = sizeof(pt);
	const uint8_t *claims;
	size_t claims_len;
	kdc_err r;

	if (!key_load(keyfile, &kf))
		return fprintf(stderr, "cosetool: bad key file\n"), 2;
	if (!unhex(hex, in, sizeof(in), &in_len))
		return fprintf(stderr, "cosetool: bad hex\n"), 2;
	key = key_of(&kf);
	if ((r = kdc_cose_parse(in, in_len, 0, &m)) != KDC_OK)
		goto out;
	claims = m.payload;
	claims_len = m.payload_len;
	switch (m.type) {
	case KDC_COSE_SIGN1:
		r = kdc_cose_sign1_verify(&m, &key, NULL, 0, work,
		    sizeof(work));
		break;
	case KDC_COSE_MAC0:
		r = kdc_cose_mac0_verify(&m, &key, NULL, 0, work, sizeof(work));
		break;
	default:
		r = kdc_cose_encrypt0_decrypt(&m, &key, NULL, 0, pt, &pt_len,
		    work, sizeof(work));
		claims = pt;
		claims_len = pt_len;
		break;
	}
	if (r != KDC_OK)
		goto out;
	if ((r = kdc_cwt_decode(claims, claims_len, &c)) != KDC_OK)
		goto out;
	printf("type=%d\n", m.type);
	printf("cwt_tag=%d\n", m.cwt_tagged);
	if (c.has & KDC_CWT_ISS)
		print_text("iss", c.iss, c.iss_len);
	if (c.has & KDC_CWT_SUB)
		print_text("sub", c.sub, c.sub_len);
	if (c.has & KDC_CWT_AUD)
		print_text("aud", c.aud, c.aud_len);
	if (c.has & KDC_CWT_EXP)
		printf("exp=%lld\n", (long long)c.exp);
	if (c.has & KDC_CWT_IAT)
		printf("iat=%lld\n", (long long)c.iat);
	if (c.has & KDC_CWT_CTI)
		print_hex("cti", c.cti, c.cti_len);
	if ((c.has & KDC_CWT_SCOPE) && c.scope_text)
		print_text("scope", c.scope, c.scope_len);
	if ((c.has & KDC_CWT_CNF) && c.cnf.kind == KDC_CNF_KID)
		print_hex("cnf_kid", c.cnf.kid, c.cnf.kid_len);
out:
	kdc_wipe(&kf, sizeof(kf));
	kdc_wipe(pt, sizeof(pt));
	if (r != KDC_OK) {
		fprintf(stderr, "cosetool: %s\n", kdc_err_name(r));
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "make") == 0)
		return make(argc - 2, argv + 2);
	if (argc == 4 && strcmp(argv[1], "open") == 0)
		return open_token(argv[2], argv[3]);
	return usage();
}
