/*
 * test_ocf.c: the OCF device core (kdcdev_ocf.h) driven through
 * kdcdev_ocf_handle() with CBOR request bodies: the pstat transitions,
 * what each state lets whom write, the owner-PSK rule, the acl2
 * evaluation rules of ../shared/protocols/ocf.md §1, the hard reset,
 * indefinite-length input (as IoTivity's tinycbor writes it), truncated
 * input, the state file and the CoAP framing.
 *
 * Vectors computed by python3's hmac/hashlib (independent of this code):
 *   P_SHA256(key_block = bytes(range(96)),
 *            "oic.sec.doxm.rdp" || 11*16 || 22*16)[:16]
 *     = 9876f72aaf89f5f9a10f8968b3629c2c          (the owner PSK, §2)
 *   pbkdf2_hmac('sha256', b'12345678', 22*16, 1000, 16)
 *     = 219a5ed21e798d7bd573f55ac9548116          (the RDP PSK, §2)
 *   pbkdf2_hmac('sha256', b'password', b'salt', 1, 32)
 *     = 120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memmem */
#endif
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/cbor.h"
#include "kdcdev.h"
#include "kdcdev_ocf.h"

static struct kdcdev_ocf D;
static uint8_t rnd_ctr;
static char shown_pin[16];
static unsigned keypairs;

static const char OBT[] = "11111111-1111-1111-1111-111111111111";
static const char NEWDEV[] = "22222222-2222-2222-2222-222222222222";
static const char PEER2[] = "33333333-3333-3333-3333-333333333333";

static kdc_err
t_random(void *arg, uint8_t *buf, size_t n)
{
	(void)arg;
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(rnd_ctr++ * 37u + 11u);
	return KDC_OK;
}

static kdc_err
t_pin(void *arg, const char *pin)
{
	(void)arg;
	snprintf(shown_pin, sizeof(shown_pin), "%s", pin);
	return KDC_OK;
}

static kdc_err
t_keypair(void *arg, uint8_t *key, size_t *len)
{
	(void)arg;
	keypairs++;
	memset(key, (int)keypairs, 32);
	*len = 32;
	return KDC_OK;
}

static kdc_err
t_csr(void *arg, const uint8_t *key, size_t key_len, const char *uuid,
    char *out, size_t *out_len)
{
	(void)arg;
	(void)key;
	(void)key_len;
	*out_len = (size_t)snprintf(out, *out_len, "CSR uuid:%s", uuid);
	return KDC_OK;
}

/* accepts a cert whose text is "CERT uuid:<uuid>" (a CA: "CA") */
static kdc_err
t_cert(void *arg, enum kdc_ocf_credusage usage, const uint8_t *pem,
    size_t pem_len, const uint8_t *key, size_t key_len, const char *uuid)
{
	char want[64];

	(void)arg;
	(void)key;
	(void)key_len;
	if (usage == KDC_OCF_USAGE_TRUSTCA)
		return pem_len == 2 && memcmp(pem, "CA", 2) == 0 ? KDC_OK :
		    KDC_ERR_MALFORMED;
	snprintf(want, sizeof(want), "CERT uuid:%s", uuid);
	return pem_len == strlen(want) && memcmp(pem, want, pem_len) == 0 ?
	    KDC_OK : KDC_ERR_UNTRUSTED;
}

static const struct kdcdev_ocf_ops OPS = {
	.random = t_random, .pin_display = t_pin, .new_keypair = t_keypair,
	.csr = t_csr, .cert_check = t_cert,
};

static int
setup(void **state)
{
	(void)state;
	rnd_ctr = 0;
	keypairs = 0;
	shown_pin[0] = '\0';
	assert_int_equal(kdcdev_ocf_init(&D, &OPS, true, false, "t"), KDC_OK);
	return 0;
}

/* ---- requests ---------------------------------------------------------- */

static struct kdcdev_ocf_peer
unsec(void)
{
	struct kdcdev_ocf_peer p = { .kind = KDCDEV_OCF_PEER_UNSECURED };
	return p;
}

static struct kdcdev_ocf_peer
doc(void)
{
	struct kdcdev_ocf_peer p = { .kind = KDCDEV_OCF_PEER_DOC };
	return p;
}

static struct kdcdev_ocf_peer
auth(const char *uuid)
{
	struct kdcdev_ocf_peer p = { .kind = KDCDEV_OCF_PEER_AUTH };
	assert_int_equal(kdc_ocf_uuid_parse(uuid, 36, &p.uuid), KDC_OK);
	return p;
}

static uint8_t OUT[20480];
static size_t out_len;

static uint8_t
call(uint8_t method, const char *path, const char *query, const uint8_t *b,
    size_t n, struct kdcdev_ocf_peer peer)
{
	struct kdcdev_ocf_req r = {
		.method = method, .path = path, .query = query ? query : "",
		.content_format = n > 0 ? KDCDEV_OCF_CF : -1, .payload = b,
		.payload_len = n, .peer = peer,
	};
	struct kdcdev_ocf_resp resp = { .out = OUT, .out_cap = sizeof(OUT) };

	kdcdev_ocf_handle(&D, &r, &resp);
	out_len = resp.out_len;
	return resp.code;
}

#define C(c, d)	KDCDEV_CODE(c, d)

/* CBOR bodies through base's writer */
static uint8_t BODY[4096];
static struct kdc_wr W;

static void
b_begin(unsigned pairs)
{
	kdc_wr_init(&W, BODY, sizeof(BODY));
	kdc_cbor_write_map(&W, pairs);
}

static void
b_str(const char *s)
{
	kdc_cbor_write_tstr(&W, s, strlen(s));
}

static size_t
b_end(void)
{
	assert_int_equal(kdc_wr_err(&W), KDC_OK);
	return kdc_wr_len(&W);
}

static uint8_t
post_kv(const char *path, const char *key, const char *text,
    struct kdcdev_ocf_peer peer)
{
	b_begin(1);
	b_str(key);
	b_str(text);
	return call(KDCDEV_POST, path, NULL, BODY, b_end(), peer);
}

static uint8_t
post_int(const char *path, const char *key, int64_t v,
    struct kdcdev_ocf_peer peer)
{
	b_begin(1);
	b_str(key);
	kdc_cbor_write_int(&W, v);
	return call(KDCDEV_POST, path, NULL, BODY, b_end(), peer);
}

static uint8_t
post_bool(const char *path, const char *key, bool v,
    struct kdcdev_ocf_peer peer)
{
	b_begin(1);
	b_str(key);
	kdc_cbor_write_bool(&W, v);
	return call(KDCDEV_POST, path, NULL, BODY, b_end(), peer);
}

static uint8_t
post_dos(unsigned s, struct kdcdev_ocf_peer peer)
{
	b_begin(1);
	b_str("dos");
	kdc_cbor_write_map(&W, 1);
	b_str("s");
	kdc_cbor_write_uint(&W, s);
	return call(KDCDEV_POST, "/oic/sec/pstat", NULL, BODY, b_end(), peer);
}

/* POST cred: one credtype-1 cred for subject with data (n 0: empty) */
static uint8_t
post_psk(const char *subject, const uint8_t *data, size_t n,
    const char *rowner, struct kdcdev_ocf_peer peer)
{
	b_begin(rowner ? 2 : 1);
	b_str("creds");
	kdc_cbor_write_array(&W, 1);
	kdc_cbor_write_map(&W, 3);
	b_str("credtype");
	kdc_cbor_write_uint(&W, 1);
	b_str("subjectuuid");
	b_str(subject);
	b_str("privatedata");
	kdc_cbor_write_map(&W, 2);
	b_str("data");
	kdc_cbor_write_bstr(&W, data, n);
	b_str("encoding");
	b_str("oic.sec.encoding.raw");
	if (rowner) {
		b_str("rowneruuid");
		b_str(rowner);
	}
	return call(KDCDEV_POST, "/oic/sec/cred", NULL, BODY, b_end(), peer);
}

static uint8_t
post_cert(const char *usage, const char *pem, struct kdcdev_ocf_peer peer)
{
	b_begin(1);
	b_str("creds");
	kdc_cbor_write_array(&W, 1);
	kdc_cbor_write_map(&W, 4);
	b_str("credtype");
	kdc_cbor_write_uint(&W, 8);
	b_str("subjectuuid");
	b_str("*");
	b_str("credusage");
	b_str(usage);
	b_str("publicdata");
	kdc_cbor_write_map(&W, 2);
	b_str("data");
	b_str(pem);
	b_str("encoding");
	b_str("oic.sec.encoding.pem");
	return call(KDCDEV_POST, "/oic/sec/cred", NULL, BODY, b_end(), peer);
}

/* POST acl2: one ACE; subject "uuid:X", "conn:auth-crypt|anon-clear";
 * res an href or "*", "+", "-" */
static uint8_t
post_ace(const char *subject, const char *res, unsigned perm,
    struct kdcdev_ocf_peer peer)
{
	b_begin(1);
	b_str("aclist2");
	kdc_cbor_write_array(&W, 1);
	kdc_cbor_write_map(&W, 3);
	b_str("subject");
	kdc_cbor_write_map(&W, 1);
	if (strncmp(subject, "uuid:", 5) == 0) {
		b_str("uuid");
		b_str(subject + 5);
	} else {
		b_str("conntype");
		b_str(subject + 5);
	}
	b_str("resources");
	kdc_cbor_write_array(&W, 1);
	kdc_cbor_write_map(&W, 1);
	b_str(res[0] == '/' ? "href" : "wc");
	b_str(res);
	b_str("permission");
	kdc_cbor_write_uint(&W, perm);
	return call(KDCDEV_POST, "/oic/sec/acl2", NULL, BODY, b_end(), peer);
}

static const uint8_t KEY_BLOCK[96] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
	20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37,
	38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55,
	56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73,
	74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91,
	92, 93, 94, 95,
};
static const uint8_t OWNER_PSK[16] = {
	0x98, 0x76, 0xf7, 0x2a, 0xaf, 0x89, 0xf5, 0xf9,
	0xa1, 0x0f, 0x89, 0x68, 0xb3, 0x62, 0x9c, 0x2c,
};

static void
uuid_of(const char *s, struct kdc_ocf_uuid *u)
{
	assert_int_equal(kdc_ocf_uuid_parse(s, 36, u), KDC_OK);
}

/* The OTM of ocf.md §2 steps 2-15 over a DOC (owner PSK derived), up to
 * RFPRO (stop_rfpro) or RFNOP. */
static void
onboard(bool to_rfnop)
{
	assert_int_equal(post_int("/oic/sec/doxm", "oxmsel", 1, unsec()),
	    C(2, 4));
	assert_true(kdcdev_ocf_doc_allowed(&D));
	kdcdev_ocf_doc_begin(&D, KEY_BLOCK, sizeof(KEY_BLOCK));
	b_begin(1);
	b_str("om");
	kdc_cbor_write_uint(&W, 4);
	assert_int_equal(call(KDCDEV_POST, "/oic/sec/pstat", NULL, BODY,
	    b_end(), doc()), C(2, 4));
	assert_int_equal(post_kv("/oic/sec/doxm", "devowneruuid", OBT, doc()),
	    C(2, 4));
	assert_int_equal(post_kv("/oic/sec/doxm", "deviceuuid", NEWDEV,
	    doc()), C(2, 4));
	assert_int_equal(post_kv("/oic/sec/doxm", "rowneruuid", OBT, doc()),
	    C(2, 4));
	assert_int_equal(post_kv("/oic/sec/acl2", "rowneruuid", OBT, doc()),
	    C(2, 4));
	assert_int_equal(post_kv("/oic/sec/pstat", "rowneruuid", OBT, doc()),
	    C(2, 4));
	assert_int_equal(post_psk(OBT, NULL, 0, OBT, doc()), C(2, 4));
	assert_int_equal(post_bool("/oic/sec/doxm", "owned", true, doc()),
	    C(2, 4));
	assert_int_equal(post_dos(KDC_OCF_DOS_RFPRO, doc()), C(2, 4));
	assert_int_equal(kdcdev_ocf_doc_end(&D), KDC_OK);
	assert_int_equal(D.pstat.dos_s, KDC_OCF_DOS_RFPRO);
	if (to_rfnop)
		assert_int_equal(post_dos(KDC_OCF_DOS_RFNOP, auth(OBT)),
		    C(2, 4));
}

/* ---- tests ------------------------------------------------------------- */

static void
test_derivations(void **state)
{
	static const uint8_t want_rdp[16] = {
		0x21, 0x9a, 0x5e, 0xd2, 0x1e, 0x79, 0x8d, 0x7b,
		0xd5, 0x73, 0xf5, 0x5a, 0xc9, 0x54, 0x81, 0x16,
	};
	static const uint8_t want_pw[32] = {
		0x12, 0x0f, 0xb6, 0xcf, 0xfc, 0xf8, 0xb3, 0x2c,
		0x43, 0xe7, 0x22, 0x52, 0x56, 0xc4, 0xf8, 0x37,
		0xa8, 0x65, 0x48, 0xc9, 0x2c, 0xcc, 0x35, 0x48,
		0x08, 0x05, 0x98, 0x7c, 0xb7, 0x0b, 0xe1, 0x7b,
	};
	uint8_t out[32], seed[32];

	(void)state;
	assert_int_equal(kdcdev_ocf_pbkdf2((const uint8_t *)"password", 8,
	    (const uint8_t *)"salt", 4, 1, out, 32), KDC_OK);
	assert_memory_equal(out, want_pw, 32);
	memset(seed, 0x11, 16);
	memset(seed + 16, 0x22, 16);
	assert_int_equal(kdcdev_ocf_prf(KEY_BLOCK, 96, "oic.sec.doxm.rdp", 16,
	    seed, 32, out, 16), KDC_OK);
	assert_memory_equal(out, OWNER_PSK, 16);
	/* the RDP PSK of PIN 12345678 for deviceuuid 22..22 */
	uuid_of(NEWDEV, &D.doxm.deviceuuid);
	memcpy(D.pin, "12345678", 9);
	assert_int_equal(kdcdev_ocf_rdp_psk(&D, out), KDC_OK);
	assert_memory_equal(out, want_rdp, 16);
	D.pin[0] = '\0';
	assert_int_equal(kdcdev_ocf_rdp_psk(&D, out), KDC_ERR_INVALID_ARG);
}

static void
test_fresh(void **state)
{
	struct kdc_ocf_doxm x;
	struct kdc_ocf_uuid nil;

	(void)state;
	memset(&nil, 0, sizeof(nil));
	assert_int_equal(D.pstat.dos_s, KDC_OCF_DOS_RFOTM);
	assert_int_equal(D.doxm.oxmsel, KDC_OCF_OXM_SELF);
	assert_memory_not_equal(D.doxm.deviceuuid.b, nil.b, 16);
	assert_int_equal(D.key_len, 32);
	assert_int_equal(call(KDCDEV_GET, "/oic/sec/doxm", NULL, NULL, 0,
	    unsec()), C(2, 5));
	assert_int_equal(kdc_ocf_doxm_decode(OUT, out_len, &x), KDC_OK);
	assert_int_equal(x.n_oxms, 1);
	assert_int_equal(x.oxms[0], KDC_OCF_OXM_RDP);
	assert_false(x.owned);
	/* both OTMs; none is INVALID_ARG (never 0: no Just Works here) */
	assert_int_equal(kdcdev_ocf_init(&D, &OPS, true, true, "t"), KDC_OK);
	assert_int_equal(D.doxm.n_oxms, 2);
	assert_int_equal(D.doxm.oxms[1], KDC_OCF_OXM_MFGCERT);
	assert_int_equal(kdcdev_ocf_init(&D, &OPS, false, true, "t"), KDC_OK);
	assert_int_equal(D.doxm.n_oxms, 1);
	assert_int_equal(D.doxm.oxms[0], KDC_OCF_OXM_MFGCERT);
	assert_int_equal(kdcdev_ocf_init(&D, &OPS, false, false, "t"),
	    KDC_ERR_INVALID_ARG);
}

static void
test_doxm_writability(void **state)
{
	(void)state;
	/* no DOC while oxmsel is 4 */
	assert_false(kdcdev_ocf_doc_allowed(&D));
	/* read-only properties */
	b_begin(1);
	b_str("oxms");
	kdc_cbor_write_array(&W, 1);
	kdc_cbor_write_uint(&W, 0);
	assert_int_equal(call(KDCDEV_POST, "/oic/sec/doxm", NULL, BODY,
	    b_end(), unsec()), C(4, 0));
	assert_int_equal(post_int("/oic/sec/doxm", "sct", 1, unsec()),
	    C(4, 0));
	/* an OTM not offered */
	assert_int_equal(post_int("/oic/sec/doxm", "oxmsel", 2, unsec()),
	    C(4, 0));
	assert_int_equal(post_int("/oic/sec/doxm", "oxmsel", 0, unsec()),
	    C(4, 0));
	/* owned, deviceuuid, devowneruuid, rowneruuid: not outside the DOC */
	assert_int_equal(post_bool("/oic/sec/doxm", "owned", true, unsec()),
	    C(4, 0));
	assert_int_equal(post_kv("/oic/sec/doxm", "deviceuuid", NEWDEV,
	    unsec()), C(4, 0));
	assert_int_equal(post_kv("/oic/sec/doxm", "devowneruuid", OBT,
	    unsec()), C(4, 0));
	assert_int_equal(post_kv("/oic/sec/doxm", "rowneruuid", OBT, unsec()),
	    C(4, 0));
	assert_false(D.doxm.owned);
	/* oxmsel from a secured peer: not "outside the DOC" (an owner's
	 * implicit access, set here by hand, does not make it writable) */
	uuid_of(OBT, &D.doxm.rowneruuid);
	assert_int_equal(post_int("/oic/sec/doxm", "oxmsel", 1, auth(OBT)),
	    C(4, 0));
	memset(&D.doxm.rowneruuid, 0, sizeof(D.doxm.rowneruuid));
	/* oxmsel=1 outside the DOC: a PIN, 8 digits, displayed */
	assert_int_equal(post_int("/oic/sec/doxm", "oxmsel", 1, unsec()),
	    C(2, 4));
	assert_int_equal(strlen(shown_pin), 8);
	assert_int_equal(strspn(shown_pin, "0123456789"), 8);
	assert_string_equal(shown_pin, D.pin);
	assert_true(kdcdev_ocf_doc_allowed(&D));
	/* in the DOC: oxmsel no longer; the others yes */
	kdcdev_ocf_doc_begin(&D, KEY_BLOCK, 96);
	assert_false(kdcdev_ocf_doc_allowed(&D));	/* only one DOC */
	assert_int_equal(post_int("/oic/sec/doxm", "oxmsel", 1, doc()),
	    C(4, 0));
	assert_int_equal(post_int("/oic/sec/doxm", "oxmsel", 1, unsec()),
	    C(4, 0));
	assert_int_equal(post_kv("/oic/sec/doxm", "deviceuuid", NEWDEV, doc()),
	    C(2, 4));
	assert_int_equal(post_kv("/oic/sec/doxm", "deviceuuid",
	    "00000000-0000-0000-0000-000000000000", doc()), C(4, 0));
	assert_int_equal(post_kv("/oic/sec/doxm", "devowneruuid", OBT, doc()),
	    C(2, 4));
	assert_int_equal(post_kv("/oic/sec/doxm", "rowneruuid", OBT, doc()),
	    C(2, 4));
	assert_int_equal(post_bool("/oic/sec/doxm", "owned", true, doc()),
	    C(2, 4));
	assert_true(D.doxm.owned);
}

static void
test_doxm_after_rfotm(void **state)
{
	(void)state;
	onboard(false);
	/* RFPRO: owner (implicit access) may not write doxm's OTM fields */
	assert_int_equal(post_bool("/oic/sec/doxm", "owned", false,
	    auth(OBT)), C(4, 0));
	assert_int_equal(post_int("/oic/sec/doxm", "oxmsel", 1, auth(OBT)),
	    C(4, 0));
	assert_int_equal(post_kv("/oic/sec/doxm", "rowneruuid", PEER2,
	    auth(OBT)), C(4, 0));
	/* SRESET: rowneruuid yes (the owner's session), deviceuuid no */
	assert_int_equal(post_dos(KDC_OCF_DOS_SRESET, auth(OBT)), C(2, 4));
	assert_int_equal(post_kv("/oic/sec/doxm", "deviceuuid", PEER2,
	    auth(OBT)), C(4, 0));
	assert_int_equal(post_kv("/oic/sec/doxm", "rowneruuid", OBT,
	    auth(OBT)), C(2, 4));
}

/* Every (from, to) pair of dos.s, checked against valid_transition. */
static void
test_pstat_transitions(void **state)
{
	static const bool ok[5][5] = {
		/* to:  RESET  RFOTM  RFPRO  RFNOP  SRESET */
		[0] = { true,  true,  false, false, false },
		[1] = { true,  true,  true,  true,  false },
		[2] = { true,  false, true,  true,  true  },
		[3] = { true,  false, true,  true,  true  },
		[4] = { true,  false, true,  false, true  },
	};

	(void)state;
	for (unsigned from = 0; from < 5; from++) {
		for (unsigned to = 0; to < 5; to++) {
			struct kdcdev_ocf_peer p = auth(OBT);
			uint8_t code;

			setup(NULL);
			onboard(false);
			/* check_state holds; put the device in `from` */
			D.pstat.dos_s = from;
			if (from == KDC_OCF_DOS_RFOTM) {
				kdcdev_ocf_doc_begin(&D, KEY_BLOCK, 96);
				p = doc();
			} else if (from == KDC_OCF_DOS_RESET) {
				kdcdev_ocf_doc_begin(&D, KEY_BLOCK, 96);
				p = doc();
			}
			code = post_dos(to, p);
			if (!ok[from][to]) {
				assert_int_equal(code, C(4, 0));
				assert_int_equal(D.pstat.dos_s, from);
				continue;
			}
			assert_int_equal(code, C(2, 4));
			/* RESET ends in RFOTM (the hard reset) */
			assert_int_equal(D.pstat.dos_s,
			    to == KDC_OCF_DOS_RESET ? KDC_OCF_DOS_RFOTM : to);
			assert_int_equal(D.pstat.isop,
			    to == KDC_OCF_DOS_RFNOP);
		}
	}
}

/* pstat_check_state: each condition missing refuses RFPRO/RFNOP/SRESET. */
static void
test_pstat_check_state(void **state)
{
	(void)state;
	for (int miss = 0; miss < 6; miss++) {
		for (unsigned to = 2; to <= 4; to++) {
			setup(NULL);
			onboard(false);
			D.pstat.dos_s = KDC_OCF_DOS_RFPRO;
			switch (miss) {
			case 0: D.doxm.owned = false; break;
			case 1: memset(&D.doxm.devowneruuid, 0, 16); break;
			case 2: memset(&D.doxm.rowneruuid, 0, 16); break;
			case 3: memset(&D.acl2.rowneruuid, 0, 16); break;
			case 4: uuid_of(PEER2, &D.creds.rowneruuid); break;
			case 5: D.creds.n = 0; break;	/* no owner cred */
			}
			/* the owner's implicit access does not depend on
			 * what is missing: use the DOC-less owner session
			 * for pstat (its rowneruuid is intact) */
			assert_int_equal(post_dos(to, auth(OBT)), C(4, 0));
			assert_int_equal(D.pstat.dos_s, KDC_OCF_DOS_RFPRO);
		}
	}
	/* and nothing missing: allowed */
	setup(NULL);
	onboard(false);
	assert_int_equal(post_dos(KDC_OCF_DOS_RFNOP, auth(OBT)), C(2, 4));
	/* pstat read-only properties; om writable */
	assert_int_equal(post_bool("/oic/sec/pstat", "isop", false,
	    auth(OBT)), C(4, 0));
	assert_int_equal(post_int("/oic/sec/pstat", "cm", 0, auth(OBT)),
	    C(4, 0));
	assert_int_equal(post_int("/oic/sec/pstat", "sm", 1, auth(OBT)),
	    C(4, 0));
	assert_int_equal(post_int("/oic/sec/pstat", "om", 2, auth(OBT)),
	    C(2, 4));
	assert_int_equal(D.pstat.om, 2);
	/* rowneruuid not in RFNOP */
	assert_int_equal(post_kv("/oic/sec/pstat", "rowneruuid", PEER2,
	    auth(OBT)), C(4, 0));
}

static void
test_owner_psk_rule(void **state)
{
	const uint8_t *psk;
	size_t n;
	struct kdc_ocf_uuid obt, p2;
	static const uint8_t given[16] = {
		0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
		0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
	};
	struct kdc_ocf_creds c;

	(void)state;
	uuid_of(OBT, &obt);
	uuid_of(PEER2, &p2);
	onboard(false);
	/* empty privatedata, subject == rowneruuid: derived, ocf.md §2 */
	assert_int_equal(kdcdev_ocf_psk_lookup(&D, obt.b, &psk, &n), KDC_OK);
	assert_int_equal(n, 16);
	assert_memory_equal(psk, OWNER_PSK, 16);
	/* GET cred never shows it */
	assert_int_equal(call(KDCDEV_GET, "/oic/sec/cred", NULL, NULL, 0,
	    auth(OBT)), C(2, 5));
	assert_int_equal(kdc_ocf_cred_decode(OUT, out_len, &c), KDC_OK);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.creds[0].privatedata.len, 0);
	assert_null(memmem(OUT, out_len, OWNER_PSK, 16));
	/* outside the DOC, an empty owner PSK cannot be derived */
	assert_int_equal(post_psk(OBT, NULL, 0, NULL, auth(OBT)), C(4, 0));
	/* non-empty: stored as given (plgd), replacing the subject's */
	assert_int_equal(post_psk(OBT, given, 16, NULL, auth(OBT)), C(2, 4));
	assert_int_equal(kdcdev_ocf_psk_lookup(&D, obt.b, &psk, &n), KDC_OK);
	assert_memory_equal(psk, given, 16);
	assert_int_equal(D.creds.n, 1);
	/* a pairwise PSK: stored as given; a bad length refused */
	assert_int_equal(post_psk(PEER2, given, 15, NULL, auth(OBT)), C(4, 0));
	assert_int_equal(post_psk(PEER2, given, 16, NULL, auth(OBT)), C(2, 4));
	assert_int_equal(kdcdev_ocf_psk_lookup(&D, p2.b, &psk, &n), KDC_OK);
	assert_memory_equal(psk, given, 16);
	/* certificates: the port's check decides */
	assert_int_equal(post_cert("oic.sec.cred.trustca", "CA", auth(OBT)),
	    C(2, 4));
	assert_int_equal(post_cert("oic.sec.cred.cert",
	    "CERT uuid:33333333-3333-3333-3333-333333333333", auth(OBT)),
	    C(4, 0));
	assert_int_equal(post_cert("oic.sec.cred.cert",
	    "CERT uuid:22222222-2222-2222-2222-222222222222", auth(OBT)),
	    C(2, 4));
	assert_int_equal(D.creds.n, 4);
	/* CSR: the port's, for the current deviceuuid */
	assert_int_equal(post_ace("uuid:11111111-1111-1111-1111-111111111111",
	    "/oic/sec/csr", KDC_OCF_PERM_R, auth(OBT)), C(2, 4));
	assert_int_equal(call(KDCDEV_GET, "/oic/sec/csr", NULL, NULL, 0,
	    auth(OBT)), C(2, 5));
	assert_non_null(memmem(OUT, out_len,
	    "CSR uuid:22222222-2222-2222-2222-222222222222", 45));
	/* RFNOP: cred writes and deletes 4.03 */
	assert_int_equal(post_dos(KDC_OCF_DOS_RFNOP, auth(OBT)), C(2, 4));
	assert_int_equal(post_psk(PEER2, given, 16, NULL, auth(OBT)), C(4, 3));
	assert_int_equal(call(KDCDEV_DELETE, "/oic/sec/cred", "credid=2",
	    NULL, 0, auth(OBT)), C(4, 3));
	assert_int_equal(D.creds.n, 4);
	/* RFPRO: DELETE ?credid= works, an unknown id is 4.04 */
	assert_int_equal(post_dos(KDC_OCF_DOS_RFPRO, auth(OBT)), C(2, 4));
	assert_int_equal(call(KDCDEV_DELETE, "/oic/sec/cred", "credid=99",
	    NULL, 0, auth(OBT)), C(4, 4));
	assert_int_equal(call(KDCDEV_DELETE, "/oic/sec/cred", "credid=2",
	    NULL, 0, auth(OBT)), C(2, 2));
	assert_int_equal(D.creds.n, 3);
	assert_int_equal(kdcdev_ocf_psk_lookup(&D, p2.b, &psk, &n),
	    KDC_ERR_NOT_FOUND);
}

static void
test_acl_eval(void **state)
{
	struct kdcdev_ocf_peer p2;

	(void)state;
	/* RFOTM, unsecured: doxm R/W, pstat R, /oic/res /oic/d /oic/p R */
	assert_true(kdcdev_ocf_access(&D, KDCDEV_GET, "/oic/sec/doxm",
	    &(struct kdcdev_ocf_peer){ .kind = KDCDEV_OCF_PEER_UNSECURED }));
	p2 = unsec();
	assert_true(kdcdev_ocf_access(&D, KDCDEV_POST, "/oic/sec/doxm", &p2));
	assert_true(kdcdev_ocf_access(&D, KDCDEV_GET, "/oic/sec/pstat", &p2));
	assert_false(kdcdev_ocf_access(&D, KDCDEV_POST, "/oic/sec/pstat",
	    &p2));
	assert_true(kdcdev_ocf_access(&D, KDCDEV_GET, "/oic/res", &p2));
	assert_true(kdcdev_ocf_access(&D, KDCDEV_GET, "/oic/d", &p2));
	assert_true(kdcdev_ocf_access(&D, KDCDEV_GET, "/oic/p", &p2));
	assert_false(kdcdev_ocf_access(&D, KDCDEV_GET, "/oic/sec/cred", &p2));
	assert_false(kdcdev_ocf_access(&D, KDCDEV_GET, "/oic/sec/acl2", &p2));
	assert_false(kdcdev_ocf_access(&D, KDCDEV_GET, "/a/light", &p2));
	assert_int_equal(call(KDCDEV_GET, "/oic/sec/cred", NULL, NULL, 0,
	    unsec()), C(4, 1));
	/* the DOC: every SVR, never the application */
	p2 = doc();
	assert_false(kdcdev_ocf_access(&D, KDCDEV_GET, "/oic/sec/cred", &p2));
	kdcdev_ocf_doc_begin(&D, KEY_BLOCK, 96);
	assert_true(kdcdev_ocf_access(&D, KDCDEV_GET, "/oic/sec/cred", &p2));
	assert_true(kdcdev_ocf_access(&D, KDCDEV_DELETE, "/oic/sec/acl2",
	    &p2));
	assert_true(kdcdev_ocf_access(&D, KDCDEV_GET, "/oic/sec/csr", &p2));
	assert_false(kdcdev_ocf_access(&D, KDCDEV_GET, "/a/light", &p2));
	kdcdev_ocf_doc_end(&D);

	setup(NULL);
	onboard(false);
	/* RFPRO: the owner's implicit access (acl2/doxm/pstat/cred) */
	p2 = auth(OBT);
	assert_true(kdcdev_ocf_access(&D, KDCDEV_POST, "/oic/sec/acl2", &p2));
	assert_true(kdcdev_ocf_access(&D, KDCDEV_DELETE, "/oic/sec/cred",
	    &p2));
	assert_false(kdcdev_ocf_access(&D, KDCDEV_GET, "/oic/sec/csr", &p2));
	/* not for another uuid */
	p2 = auth(PEER2);
	assert_false(kdcdev_ocf_access(&D, KDCDEV_GET, "/oic/sec/acl2", &p2));
	/* anon-clear to SVRs refused in RFPRO/RFNOP/SRESET, even with an
	 * ACE granting it */
	assert_int_equal(post_ace("conn:anon-clear", "/oic/sec/sdi", 2,
	    auth(OBT)), C(2, 4));
	assert_int_equal(post_ace("conn:anon-clear", "/oic/d", 2, auth(OBT)),
	    C(2, 4));
	p2 = unsec();
	assert_false(kdcdev_ocf_access(&D, KDCDEV_GET, "/oic/sec/sdi", &p2));
	assert_false(kdcdev_ocf_access(&D, KDCDEV_GET, "/oic/sec/doxm", &p2));
	assert_true(kdcdev_ocf_access(&D, KDCDEV_GET, "/oic/d", &p2));
	assert_false(kdcdev_ocf_access(&D, KDCDEV_GET, "/oic/p", &p2));
	/* the light: an ACE for PEER2 with R only; N also reads, U writes */
	assert_int_equal(post_ace("uuid:33333333-3333-3333-3333-333333333333",
	    "/a/light", KDC_OCF_PERM_R, auth(OBT)), C(2, 4));
	p2 = auth(PEER2);
	/* non-SVR only in RFNOP */
	assert_false(kdcdev_ocf_access(&D, KDCDEV_GET, "/a/light", &p2));
	assert_int_equal(post_dos(KDC_OCF_DOS_RFNOP, auth(OBT)), C(2, 4));
	assert_true(kdcdev_ocf_access(&D, KDCDEV_GET, "/a/light", &p2));
	assert_false(kdcdev_ocf_access(&D, KDCDEV_POST, "/a/light", &p2));
	assert_false(kdcdev_ocf_access(&D, KDCDEV_DELETE, "/a/light", &p2));
	assert_int_equal(call(KDCDEV_GET, "/a/light", NULL, NULL, 0, p2),
	    C(2, 5));
	assert_int_equal(post_bool("/a/light", "value", true, p2), C(4, 1));
	assert_false(D.light);
	/* acl2 writes forbidden in RFNOP (4.03), DELETE too */
	assert_int_equal(post_ace("conn:auth-crypt", "/a/light", 4,
	    auth(OBT)), C(4, 3));
	assert_int_equal(call(KDCDEV_DELETE, "/oic/sec/acl2", NULL, NULL, 0,
	    auth(OBT)), C(4, 3));
	/* back to RFPRO: N reads, U and C write, D deletes; auth-crypt and
	 * wildcards; "*" never grants an SVR */
	assert_int_equal(post_dos(KDC_OCF_DOS_RFPRO, auth(OBT)), C(2, 4));
	assert_int_equal(call(KDCDEV_DELETE, "/oic/sec/acl2", NULL, NULL, 0,
	    auth(OBT)), C(2, 2));
	assert_int_equal(D.acl2.n, 0);
	assert_int_equal(post_ace("conn:auth-crypt", "/a/light",
	    KDC_OCF_PERM_N, auth(OBT)), C(2, 4));
	assert_int_equal(post_ace("uuid:33333333-3333-3333-3333-333333333333",
	    "*", KDC_OCF_PERM_U | KDC_OCF_PERM_D, auth(OBT)), C(2, 4));
	assert_int_equal(post_ace("uuid:33333333-3333-3333-3333-333333333333",
	    "-", KDC_OCF_PERM_C, auth(OBT)), C(2, 4));
	assert_int_equal(post_dos(KDC_OCF_DOS_RFNOP, auth(OBT)), C(2, 4));
	p2 = auth(PEER2);
	assert_true(kdcdev_ocf_access(&D, KDCDEV_GET, "/a/light", &p2));
	assert_true(kdcdev_ocf_access(&D, KDCDEV_POST, "/a/light", &p2));
	assert_true(kdcdev_ocf_access(&D, KDCDEV_PUT, "/a/light", &p2));
	assert_true(kdcdev_ocf_access(&D, KDCDEV_DELETE, "/a/light", &p2));
	assert_false(kdcdev_ocf_access(&D, KDCDEV_POST, "/oic/sec/cred", &p2));
	assert_false(kdcdev_ocf_access(&D, KDCDEV_GET, "/oic/sec/doxm", &p2));
	/* "-" (public) grants /oic/d, not the light's read */
	assert_true(kdcdev_ocf_access(&D, KDCDEV_POST, "/oic/d", &p2));
	assert_int_equal(post_bool("/a/light", "value", true, p2), C(2, 4));
	assert_true(D.light);
	assert_int_equal(call(KDCDEV_GET, "/a/light", NULL, NULL, 0, p2),
	    C(2, 5));
	assert_int_equal(out_len, 8);		/* {"value": true} */
	assert_int_equal(OUT[7], 0xf5);
	/* anon-clear (unsecured) gets nothing of the light: "*"'s ACE is
	 * PEER2's, the auth-crypt one needs a secured session */
	p2 = unsec();
	assert_false(kdcdev_ocf_access(&D, KDCDEV_GET, "/a/light", &p2));
	/* SRESET refuses anon-clear to SVRs as well */
	assert_int_equal(post_dos(KDC_OCF_DOS_SRESET, auth(OBT)), C(2, 4));
	assert_false(kdcdev_ocf_access(&D, KDCDEV_GET, "/oic/sec/pstat", &p2));
	/* the light is an application resource: not in SRESET */
	p2 = auth(PEER2);
	assert_false(kdcdev_ocf_access(&D, KDCDEV_GET, "/a/light", &p2));
}

static void
test_reset_wipes(void **state)
{
	struct kdc_ocf_uuid before = D.doxm.deviceuuid;
	unsigned kp;

	(void)state;
	onboard(true);
	assert_int_equal(post_dos(KDC_OCF_DOS_RFPRO, auth(OBT)), C(2, 4));
	assert_int_equal(post_ace("conn:auth-crypt", "/a/light", 2,
	    auth(OBT)), C(2, 4));
	b_begin(2);
	b_str("name");
	b_str("site");
	b_str("priv");
	kdc_cbor_write_bool(&W, true);
	assert_int_equal(post_ace("uuid:11111111-1111-1111-1111-111111111111",
	    "/oic/sec/sdi", 6, auth(OBT)), C(2, 4));
	b_begin(2);
	b_str("name");
	b_str("site");
	b_str("priv");
	kdc_cbor_write_bool(&W, true);
	assert_int_equal(call(KDCDEV_POST, "/oic/sec/sdi", NULL, BODY,
	    b_end(), auth(OBT)), C(2, 4));
	assert_string_equal(D.sdi_name, "site");
	assert_true(D.creds.n > 0 && D.acl2.n > 0 && D.doxm.owned);
	kp = keypairs;
	D.changed = D.reset_done = false;
	assert_int_equal(post_dos(KDC_OCF_DOS_RESET, auth(OBT)), C(2, 4));
	assert_true(D.changed && D.reset_done);
	assert_int_equal(D.pstat.dos_s, KDC_OCF_DOS_RFOTM);
	assert_int_equal(D.doxm.oxmsel, KDC_OCF_OXM_SELF);
	assert_false(D.doxm.owned);
	assert_int_equal(D.creds.n, 0);
	assert_int_equal(D.acl2.n, 0);
	assert_string_equal(D.sdi_name, "");
	assert_false(D.sdi_set);
	assert_int_equal(keypairs, kp + 1);		/* a new keypair */
	assert_memory_not_equal(D.doxm.deviceuuid.b, before.b, 16);
	{
		struct kdc_ocf_uuid nd;
		uuid_of(NEWDEV, &nd);
		assert_memory_not_equal(D.doxm.deviceuuid.b, nd.b, 16);
	}
	assert_true(D.doxm.devowneruuid.b[0] == 0 &&
	    D.doxm.rowneruuid.b[0] == 0 && D.pstat.rowneruuid.b[0] == 0);
	/* the DOC closing in RFOTM resets too; in RFPRO it does not */
	assert_int_equal(post_int("/oic/sec/doxm", "oxmsel", 1, unsec()),
	    C(2, 4));
	before = D.doxm.deviceuuid;
	kdcdev_ocf_doc_begin(&D, KEY_BLOCK, 96);
	assert_int_equal(kdcdev_ocf_doc_end(&D), KDC_OK);
	assert_memory_not_equal(D.doxm.deviceuuid.b, before.b, 16);
	assert_int_equal(D.doxm.oxmsel, KDC_OCF_OXM_SELF);
	assert_int_equal(D.key_block_len, 0);
	setup(NULL);
	onboard(false);			/* ends its DOC in RFPRO */
	uuid_of(NEWDEV, &before);
	assert_memory_equal(D.doxm.deviceuuid.b, before.b, 16);
	assert_true(D.doxm.owned);
	assert_int_equal(D.pin[0], '\0');	/* the PIN served one DOC */
	assert_int_equal(D.key_block_len, 0);
}

/* A cred body the way tinycbor writes it: indefinite maps and arrays,
 * the data in chunks, unknown keys ("owner_cred", "tag") skipped. */
static void
test_indefinite(void **state)
{
	uint8_t b[256];
	size_t n = 0;
	const uint8_t *psk;
	size_t pl;
	struct kdc_ocf_uuid p2;

#define PUT(...)	do { const uint8_t x_[] = { __VA_ARGS__ }; \
	memcpy(b + n, x_, sizeof(x_)); n += sizeof(x_); } while (0)
#define PUTS(s)		do { b[n++] = (uint8_t)(0x60 + strlen(s)); \
	memcpy(b + n, s, strlen(s)); n += strlen(s); } while (0)
	(void)state;
	uuid_of(PEER2, &p2);
	onboard(false);
	PUT(0xbf);
	PUTS("creds");
	PUT(0x9f, 0xbf);
	PUTS("credtype");
	PUT(0x01);
	PUTS("subjectuuid");
	b[n++] = 0x78;
	b[n++] = 36;
	memcpy(b + n, PEER2, 36);
	n += 36;
	PUTS("owner_cred");
	PUT(0xf4);
	PUTS("privatedata");
	PUT(0xbf);
	PUTS("data");
	PUT(0x5f, 0x48, 1, 2, 3, 4, 5, 6, 7, 8, 0x48, 9, 10, 11, 12, 13, 14,
	    15, 16, 0xff);
	PUTS("encoding");
	PUTS("oic.sec.encoding.raw");
	PUT(0xff);			/* privatedata */
	PUTS("tag");
	PUT(0x9f, 0x01, 0xbf, 0xff, 0xff);
	PUT(0xff, 0xff);		/* the cred, creds */
	PUT(0xff);			/* the body */
	assert_int_equal(call(KDCDEV_POST, "/oic/sec/cred", NULL, b, n,
	    auth(OBT)), C(2, 4));
	assert_int_equal(kdcdev_ocf_psk_lookup(&D, p2.b, &psk, &pl), KDC_OK);
	assert_int_equal(pl, 16);
	assert_int_equal(psk[0], 1);
	assert_int_equal(psk[15], 16);
	/* every truncation of it: 4.00, nothing stored, no crash */
	assert_int_equal(call(KDCDEV_DELETE, "/oic/sec/cred", "credid=2",
	    NULL, 0, auth(OBT)), C(2, 2));
	for (size_t cut = 1; cut < n; cut++) {
		assert_int_equal(call(KDCDEV_POST, "/oic/sec/cred", NULL, b,
		    cut, auth(OBT)), C(4, 0));
		assert_int_equal(D.creds.n, 1);
	}
#undef PUT
#undef PUTS
}

/* Truncations of every kind of body, on every writable resource. */
static void
test_truncated(void **state)
{
	static const char *const paths[] = {
		"/oic/sec/doxm", "/oic/sec/pstat", "/oic/sec/cred",
		"/oic/sec/acl2", "/oic/sec/sdi", "/a/light",
	};
	uint8_t body[512];
	size_t n;

	(void)state;
	onboard(false);
	/* an ACE body, then a dos body */
	post_ace("uuid:33333333-3333-3333-3333-333333333333", "/a/light", 31,
	    auth(OBT));
	n = kdc_wr_len(&W);
	memcpy(body, BODY, n);
	for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++)
		for (size_t cut = 0; cut < n; cut++) {
			uint8_t code = call(KDCDEV_POST, paths[p], NULL, body,
			    cut, doc());
			(void)code;
			code = call(KDCDEV_POST, paths[p], NULL, body, cut,
			    auth(OBT));
			/* the owner may write acl2/cred/pstat/doxm: a cut
			 * body never succeeds */
			if (strcmp(paths[p], "/oic/sec/acl2") == 0 ||
			    strcmp(paths[p], "/oic/sec/cred") == 0 ||
			    strcmp(paths[p], "/oic/sec/pstat") == 0 ||
			    strcmp(paths[p], "/oic/sec/doxm") == 0)
				assert_int_equal(code, C(4, 0));
		}
	/* a Content-Format other than CBOR */
	{
		struct kdcdev_ocf_req r = {
			.method = KDCDEV_POST, .path = "/oic/sec/acl2",
			.query = "", .content_format = 50, .payload = body,
			.payload_len = n, .peer = auth(OBT),
		};
		struct kdcdev_ocf_resp resp = { .out = OUT,
		    .out_cap = sizeof(OUT) };
		kdcdev_ocf_handle(&D, &r, &resp);
		assert_int_equal(resp.code, C(4, 15));
	}
	assert_int_equal(call(KDCDEV_GET, "/nope", NULL, NULL, 0, unsec()),
	    C(4, 4));
	assert_int_equal(call(KDCDEV_DELETE, "/oic/sec/doxm", NULL, NULL, 0,
	    auth(OBT)), C(4, 5));
}

static void
test_state_roundtrip(void **state)
{
	static uint8_t buf[KDCDEV_OCF_STATE_MAX];
	static struct kdcdev_ocf e;
	size_t n = sizeof(buf);
	const uint8_t *psk;
	size_t pl;
	struct kdc_ocf_uuid obt;

	(void)state;
	uuid_of(OBT, &obt);
	onboard(true);
	assert_int_equal(kdcdev_ocf_state_encode(&D, buf, &n), KDC_OK);
	assert_int_equal(kdcdev_ocf_init(&e, &OPS, true, false, "t"), KDC_OK);
	assert_int_equal(kdcdev_ocf_state_decode(&e, buf, n), KDC_OK);
	assert_memory_equal(e.doxm.deviceuuid.b, D.doxm.deviceuuid.b, 16);
	assert_int_equal(e.pstat.dos_s, KDC_OCF_DOS_RFNOP);
	assert_true(e.doxm.owned);
	assert_int_equal(kdcdev_ocf_psk_lookup(&e, obt.b, &psk, &pl), KDC_OK);
	assert_memory_equal(psk, OWNER_PSK, 16);
	assert_int_equal(e.key_len, D.key_len);
	assert_memory_equal(e.key, D.key, D.key_len);
	/* a flipped byte: the CRC; a cut file: truncated; never applied */
	buf[n / 2] ^= 1;
	assert_int_equal(kdcdev_ocf_state_decode(&e, buf, n),
	    KDC_ERR_MALFORMED);
	buf[n / 2] ^= 1;
	for (size_t cut = 0; cut < n; cut += 7)
		assert_int_not_equal(kdcdev_ocf_state_decode(&e, buf, cut),
		    KDC_OK);
	/* too small an output */
	n = 100;
	assert_int_equal(kdcdev_ocf_state_encode(&D, buf, &n),
	    KDC_ERR_TOO_LARGE);
}

static void
test_coap_framing(void **state)
{
	struct kdcdev_ocf_coap_out o;
	struct kdcdev_ocf_coap m;
	uint8_t buf[256], tok[2] = { 0xab, 0xcd }, pl[3] = { 0xa0, 1, 2 };
	size_t n = sizeof(buf);

	(void)state;
	memset(&o, 0, sizeof(o));
	o.type = 0;
	o.code = KDCDEV_POST;
	o.mid = 0x1234;
	o.token = tok;
	o.tkl = 2;
	o.path = "oic/sec/doxm";
	o.query = "owned=FALSE&x=1";
	o.content_format = KDCDEV_OCF_CF;
	o.ocf_version = true;
	o.block1_szx = 6;
	o.block1_num = 2;
	o.block1_more = true;
	o.block2_szx = -1;
	o.payload = pl;
	o.payload_len = 3;
	assert_int_equal(kdcdev_ocf_coap_build(&o, buf, &n), KDC_OK);
	assert_int_equal(kdcdev_ocf_coap_parse(buf, n, &m), KDC_OK);
	assert_int_equal(m.type, 0);
	assert_int_equal(m.code, KDCDEV_POST);
	assert_int_equal(m.mid, 0x1234);
	assert_int_equal(m.tkl, 2);
	assert_string_equal(m.path, "/oic/sec/doxm");
	assert_string_equal(m.query, "owned=FALSE&x=1");
	assert_int_equal(m.content_format, KDCDEV_OCF_CF);
	assert_int_equal(m.ocf_accept_ver, 0x0800);
	assert_int_equal(m.ocf_content_ver, 0x0800);
	assert_true(m.has_block1 && m.block1_more);
	assert_int_equal(m.block1_num, 2);
	assert_int_equal(m.block1_szx, 6);
	assert_false(m.bad_critical);
	assert_int_equal(m.payload_len, 3);
	/* an unknown critical option (2051) is flagged; Uri-Port is not */
	{
		const uint8_t msg[] = { 0x40, 0x01, 0, 1, 0x72, 0x16, 0x33,
		    0xe1, 0x06, 0xef, 0x01 };
		assert_int_equal(kdcdev_ocf_coap_parse(msg, sizeof(msg), &m),
		    KDC_OK);
		assert_true(m.bad_critical);
		assert_int_equal(kdcdev_ocf_coap_parse(msg, 7, &m), KDC_OK);
		assert_false(m.bad_critical);
		for (size_t cut = 0; cut < 4; cut++)
			assert_int_not_equal(kdcdev_ocf_coap_parse(msg, cut,
			    &m), KDC_OK);
	}
}

/* kdcdev_ocf_exchange(): datagrams in, datagrams out. */
static uint8_t XS[20480], XO[2048];

static size_t
xreq(uint8_t type, uint8_t code, uint16_t mid, const char *path,
    const char *query, const uint8_t *pl, size_t pln, int b1szx,
    uint32_t b1num, bool b1more, int b2szx, uint32_t b2num, bool ocf,
    uint8_t *buf, size_t cap)
{
	struct kdcdev_ocf_coap_out o;
	static const uint8_t tok[2] = { 7, 9 };
	size_t n = cap;

	memset(&o, 0, sizeof(o));
	o.type = type;
	o.code = code;
	o.mid = mid;
	o.token = tok;
	o.tkl = 2;
	o.path = path;
	o.query = query;
	o.content_format = pln > 0 ? KDCDEV_OCF_CF : -1;
	o.ocf_version = ocf;
	o.block1_szx = b1szx;
	o.block1_num = b1num;
	o.block1_more = b1more;
	o.block2_szx = b2szx;
	o.block2_num = b2num;
	o.payload = pl;
	o.payload_len = pln;
	assert_int_equal(kdcdev_ocf_coap_build(&o, buf, &n), KDC_OK);
	return n;
}

static void
xchg(const uint8_t *in, size_t n, struct kdcdev_ocf_block1 *b1,
    struct kdcdev_ocf_coap *ans)
{
	static uint16_t next_mid = 0x4000;
	struct kdcdev_ocf_peer p = unsec();
	size_t on = sizeof(XO);

	kdcdev_ocf_exchange(&D, in, n, &p, b1, false, &next_mid, XS,
	    sizeof(XS), XO, &on, NULL, NULL);
	assert_true(on > 0);
	assert_int_equal(kdcdev_ocf_coap_parse(XO, on, ans), KDC_OK);
}

static void
test_exchange(void **state)
{
	static struct kdcdev_ocf_block1 b1;
	uint8_t in[1500], full[4096], whole[4096];
	struct kdcdev_ocf_coap a;
	size_t n, got = 0, full_len;
	uint8_t body[] = { 0xa1, 0x66, 'o', 'x', 'm', 's', 'e', 'l', 0x01 };

	(void)state;
	/* a CON: piggybacked, same MID and token; 2053 only when asked */
	n = xreq(0, KDCDEV_GET, 0x1111, "oic/sec/doxm", NULL, NULL, 0, -1, 0,
	    false, -1, 0, true, in, sizeof(in));
	xchg(in, n, NULL, &a);
	assert_int_equal(a.type, 2);
	assert_int_equal(a.code, C(2, 5));
	assert_int_equal(a.mid, 0x1111);
	assert_int_equal(a.tkl, 2);
	assert_int_equal(a.content_format, KDCDEV_OCF_CF);
	assert_int_equal(a.ocf_content_ver, 0x0800);
	n = xreq(1, KDCDEV_GET, 0x1112, "oic/sec/doxm", NULL, NULL, 0, -1, 0,
	    false, -1, 0, false, in, sizeof(in));
	xchg(in, n, NULL, &a);
	assert_int_equal(a.type, 1);		/* NON, a MID of its own */
	assert_int_not_equal(a.mid, 0x1112);
	assert_int_equal(a.ocf_content_ver, -1);
	/* Block2 of 32 bytes: the blocks join into the whole answer */
	assert_int_equal(call(KDCDEV_GET, "/oic/res", NULL, NULL, 0, unsec()),
	    C(2, 5));
	full_len = out_len;
	assert_true(full_len > 64 && full_len <= sizeof(full));
	memcpy(full, OUT, full_len);
	for (uint32_t num = 0;; num++) {
		n = xreq(0, KDCDEV_GET, (uint16_t)(0x2000 + num), "oic/res",
		    NULL, NULL, 0, -1, 0, false, 1, num, true, in, sizeof(in));
		xchg(in, n, NULL, &a);
		assert_int_equal(a.code, C(2, 5));
		assert_true(a.has_block2);
		assert_int_equal(a.block2_num, num);
		assert_int_equal(a.block2_szx, 1);
		memcpy(whole + got, a.payload, a.payload_len);
		got += a.payload_len;
		if (!a.block2_more)
			break;
		assert_int_equal(a.payload_len, 32);
		assert_true(num < 200);
	}
	assert_int_equal(got, full_len);
	assert_memory_equal(whole, full, full_len);
	/* a block past the end; and of an answer with no payload at all */
	n = xreq(0, KDCDEV_GET, 0x2100, "oic/res", NULL, NULL, 0, -1, 0,
	    false, 1, 200, true, in, sizeof(in));
	xchg(in, n, NULL, &a);
	assert_int_equal(a.code, C(4, 2));
	n = xreq(0, KDCDEV_POST, 0x2101, "oic/sec/doxm", NULL, body,
	    sizeof(body), -1, 0, false, 6, 3, true, in, sizeof(in));
	xchg(in, n, NULL, &a);
	assert_int_equal(a.code, C(4, 2));
	assert_int_equal(a.payload_len, 0);
	/* Block1: 16-byte blocks 2.31, 2.31, then the whole body handled */
	{
		uint8_t big[40];
		size_t bl;
		/* {"oxmsel": 1, "xxxxxxxx...": 0}: 40 bytes */
		memcpy(big, "\xa2\x66oxmsel\x01\x78\x1e", 11);
		memset(big + 11, 'x', 28);
		bl = 11 + 28;
		big[bl++] = 0x00;
		big[9] = 0x78;
		big[10] = 28;
		for (uint32_t k = 0; k * 16 < bl; k++) {
			size_t len = bl - k * 16 < 16 ? bl - k * 16 : 16;
			bool more = (k + 1) * 16 < bl;
			n = xreq(0, KDCDEV_POST, (uint16_t)(0x3000 + k),
			    "oic/sec/doxm", NULL, big + k * 16, len, 0, k,
			    more, -1, 0, true, in, sizeof(in));
			xchg(in, n, &b1, &a);
			assert_int_equal(a.code, more ? C(2, 31) : C(2, 4));
			assert_true(a.has_block1);
			assert_int_equal(a.block1_num, k);
		}
		assert_int_equal(D.doxm.oxmsel, 1);
		assert_int_equal(strlen(shown_pin), 8);
		/* out of order: block 2 first */
		n = xreq(0, KDCDEV_POST, 0x3100, "oic/sec/doxm", NULL, big, 16,
		    0, 2, true, -1, 0, true, in, sizeof(in));
		xchg(in, n, &b1, &a);
		assert_int_equal(a.code, C(4, 8));
	}
	/* the OCF version below 2048: 4.15; an unknown critical option
	 * 4.02 (hand-made: 2051 after Uri-Path "x") */
	{
		const uint8_t bad[] = { 0x40, 0x01, 0x50, 0x01, 0xb1, 'x',
		    0xe1, 0x06, 0xeb, 0x01 };
		const uint8_t oldv[] = { 0x40, 0x01, 0x50, 0x02, 0xb1, 'x',
		    0xe2, 0x06, 0xed, 0x07, 0xff };
		xchg(bad, sizeof(bad), NULL, &a);
		assert_int_equal(a.code, C(4, 2));
		xchg(oldv, sizeof(oldv), NULL, &a);
		assert_int_equal(a.code, C(4, 15));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_derivations, setup),
		cmocka_unit_test_setup(test_fresh, setup),
		cmocka_unit_test_setup(test_doxm_writability, setup),
		cmocka_unit_test_setup(test_doxm_after_rfotm, setup),
		cmocka_unit_test_setup(test_pstat_transitions, setup),
		cmocka_unit_test_setup(test_pstat_check_state, setup),
		cmocka_unit_test_setup(test_owner_psk_rule, setup),
		cmocka_unit_test_setup(test_acl_eval, setup),
		cmocka_unit_test_setup(test_reset_wipes, setup),
		cmocka_unit_test_setup(test_indefinite, setup),
		cmocka_unit_test_setup(test_truncated, setup),
		cmocka_unit_test_setup(test_state_roundtrip, setup),
		cmocka_unit_test_setup(test_coap_framing, setup),
		cmocka_unit_test_setup(test_exchange, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
