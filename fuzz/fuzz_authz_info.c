/*
 * fuzz_authz_info.c: the device library's /authz-info (kdcdev_rs_authz_info():
 * a token from anyone on the network, before any authentication), with a
 * fixed RS configuration (AS-RS key and AS public key) and a fixed clock.
 * Checked: the answer is one of the codes kdcdev.h lists and fits the
 * caller's buffer; an accepted token is then found by its kid (symmetric)
 * and the store never holds more than KDCDEV_RS_TOKENS. The same bytes
 * also go through the PSK lookup (as a psk_identity) and the TRL body
 * parser, both peer input too.
 * Seeds: fuzz/corpus/authz_info/ (Encrypt0 and Sign1 tokens made by
 * tests/integration/ace_token.py, and a few of their truncations).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kdcdev.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t AS_KEY[16] = {
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
	0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
};
/* the RFC 8392 A.2.3 key (shared/vectors/rfc8392.json; its d signs the
 * Sign1 seeds) */
static const uint8_t AS_X[32] = {
	0x14, 0x33, 0x29, 0xcc, 0xe7, 0x86, 0x8e, 0x41, 0x69, 0x27, 0x59, 0x9c,
	0xf6, 0x5a, 0x34, 0xf3, 0xce, 0x2f, 0xfd, 0xa5, 0x5a, 0x7e, 0xca, 0x69,
	0xed, 0x89, 0x19, 0xa3, 0x94, 0xd4, 0x2f, 0x0f,
};
static const uint8_t AS_Y[32] = {
	0x60, 0xf7, 0xf1, 0xa7, 0x80, 0xd8, 0xa7, 0x83, 0xbf, 0xb7, 0xa2, 0xdd,
	0x6b, 0x27, 0x96, 0xe8, 0x12, 0x8d, 0xbb, 0xce, 0xf9, 0xd3, 0xd1, 0x68,
	0xdb, 0x95, 0x29, 0x97, 0x1a, 0x36, 0xe7, 0xb9,
};

static int64_t
clk(void *arg)
{
	(void)arg;
	return 1700000000;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kdcdev_rs rs;
	static int ready;
	struct kdcdev_rs_cfg cfg;
	struct kdcdev_resp resp;
	uint8_t out[256], key[16], kid[KDCDEV_RS_KID_MAX];
	size_t kl = sizeof(key), kidl = sizeof(kid), d;
	kdc_err r;

	if (!ready) {
		memset(&cfg, 0, sizeof(cfg));
		cfg.aud = "lock1";
		cfg.as_uri = "coaps://as.example:5684";
		cfg.as_key = AS_KEY;
		cfg.as_key_len = sizeof(AS_KEY);
		cfg.as_x = AS_X;
		cfg.as_y = AS_Y;
		cfg.clock = clk;
		if (kdcdev_rs_init(&rs, &cfg) != KDC_OK)
			abort();
		ready = 1;
	}
	memset(&resp, 0, sizeof(resp));
	resp.out = out;
	resp.out_cap = sizeof(out);
	r = kdcdev_rs_authz_info(&rs, data, size, &resp);
	if (resp.out_len > sizeof(out))
		abort();
	switch (resp.code) {
	case KDCDEV_CODE(2, 1):
		if (r != KDC_OK)
			abort();
		break;
	case KDCDEV_CODE(4, 0):
	case KDCDEV_CODE(4, 1):
	case KDCDEV_CODE(4, 3):
		if (r == KDC_OK)
			abort();
		break;
	default:
		abort();
	}
	if (kdcdev_rs_count(&rs) > KDCDEV_RS_TOKENS)
		abort();
	if (size > 0)
		(void)kdcdev_rs_psk_lookup(&rs, data, size, key, &kl, kid,
		    &kidl);
	(void)kdcdev_rs_trl_body(&rs, data, size, &d);
	return 0;
}
