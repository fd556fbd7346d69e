/*
 * test_ocf_codec.c: the OCF security resources' codec (src/ocf/codec.c)
 * against the payloads of ../shared/protocols/ocf.md §1-§2 (made by
 * tests/vectors/ocf/gen.py as IoTivity's tinycbor writes them, indefinite
 * lengths included: ocf_vectors.h), their definite re-encodings, every
 * truncation, each refusal; base/cbor.h's opt-in indefinite reading; the
 * owner-PSK derivations of crypto/ocf.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/buf.h"
#include "base/cbor.h"
#include "crypto/crypto.h"
#include "ocf/codec.h"

#include "ocf_vectors.h"

#define DEV	"87484d8e-7b6c-4e1a-9f3a-0c1d2e3f4a5b"
#define OBT	"a1b2c3d4-e5f6-4711-8899-aabbccddeeff"
#define DEV2	"5e1f0c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5c"

enum kind { K_DOXM, K_PSTAT, K_CRED, K_ACL2, K_LINKS };

/* One decoded payload of any kind (large: static). */
union any {
	struct kdc_ocf_doxm	doxm;
	struct kdc_ocf_pstat	pstat;
	struct kdc_ocf_creds	cred;
	struct kdc_ocf_acl2	acl2;
	struct kdc_ocf_links	links;
};

static union any	 A, B;
static uint8_t		 ebuf[16384], ebuf2[16384];

static kdc_err
decode(enum kind k, const uint8_t *in, size_t len, union any *u)
{
	switch (k) {
	case K_DOXM:	return kdc_ocf_doxm_decode(in, len, &u->doxm);
	case K_PSTAT:	return kdc_ocf_pstat_decode(in, len, &u->pstat);
	case K_CRED:	return kdc_ocf_cred_decode(in, len, &u->cred);
	case K_ACL2:	return kdc_ocf_acl2_decode(in, len, &u->acl2);
	default:	return kdc_ocf_links_decode(in, len, &u->links);
	}
}

static kdc_err
encode(enum kind k, const union any *u, uint8_t *out, size_t cap,
    size_t *n)
{
	switch (k) {
	case K_DOXM:	return kdc_ocf_doxm_encode(&u->doxm, out, cap, n);
	case K_PSTAT:	return kdc_ocf_pstat_encode(&u->pstat, out, cap, n);
	case K_CRED:	return kdc_ocf_cred_encode(&u->cred, out, cap, n);
	case K_ACL2:	return kdc_ocf_acl2_encode(&u->acl2, out, cap, n);
	default:	return kdc_ocf_links_encode(&u->links, out, cap, n);
	}
}

static size_t
kind_size(enum kind k)
{
	switch (k) {
	case K_DOXM:	return sizeof(A.doxm);
	case K_PSTAT:	return sizeof(A.pstat);
	case K_CRED:	return sizeof(A.cred);
	case K_ACL2:	return sizeof(A.acl2);
	default:	return sizeof(A.links);
	}
}

#define V(k, a)	{ #a, k, a, sizeof(a) }
static const struct ex {
	const char	*name;
	enum kind	 kind;
	const uint8_t	*p;
	size_t		 len;
} examples[] = {
	V(K_DOXM, v_doxm_fresh), V(K_DOXM, v_doxm_oxmsel),
	V(K_DOXM, v_doxm_devowner), V(K_DOXM, v_doxm_owned),
	V(K_DOXM, v_doxm_fresh_def),
	V(K_PSTAT, v_pstat_rfotm), V(K_PSTAT, v_pstat_om),
	V(K_PSTAT, v_pstat_rfpro),
	V(K_CRED, v_cred_owner), V(K_CRED, v_cred_pairwise),
	V(K_CRED, v_cred_trustca), V(K_CRED, v_cred_chunked),
	V(K_ACL2, v_acl2_default), V(K_ACL2, v_acl2_roles),
	V(K_LINKS, v_links_doxm),
};
#define N_EX	(sizeof(examples) / sizeof(examples[0]))

static void
assert_uuid(const struct kdc_ocf_uuid *u, const char *text)
{
	char s[KDC_OCF_UUID_TEXT + 1];

	kdc_ocf_uuid_format(u, s);
	assert_string_equal(s, text);
}

/* ---- the examples ------------------------------------------------------ */

/* A cred list of n entries, each with a PEM-sized publicdata of pub
 * bytes and a 16-byte privatedata: what a device with a manufacturer
 * chain and many pairwise keys answers to GET /oic/sec/cred. */
static size_t
big_creds(uint8_t *out, size_t cap, unsigned n, size_t pub)
{
	static uint8_t pem[4096];
	struct kdc_wr w;

	memset(pem, 'A', sizeof(pem));
	kdc_wr_init(&w, out, cap);
	kdc_cbor_write_map(&w, 1);
	kdc_cbor_write_tstr(&w, "creds", 5);
	kdc_cbor_write_array(&w, n);
	for (unsigned i = 0; i < n; i++) {
		char u[KDC_OCF_UUID_TEXT + 1];

		snprintf(u, sizeof(u), "%08x-0000-4000-8000-000000000000", i);
		kdc_cbor_write_map(&w, 5);
		kdc_cbor_write_tstr(&w, "credid", 6);
		kdc_cbor_write_uint(&w, 100 + i);
		kdc_cbor_write_tstr(&w, "subjectuuid", 11);
		kdc_cbor_write_tstr(&w, u, KDC_OCF_UUID_TEXT);
		kdc_cbor_write_tstr(&w, "credtype", 8);
		kdc_cbor_write_uint(&w, i % 2 ? 1 : 8);
		kdc_cbor_write_tstr(&w, "publicdata", 10);
		kdc_cbor_write_map(&w, 2);
		kdc_cbor_write_tstr(&w, "data", 4);
		kdc_cbor_write_tstr(&w, pem, pub);
		kdc_cbor_write_tstr(&w, "encoding", 8);
		kdc_cbor_write_tstr(&w, "oic.sec.encoding.pem", 20);
		kdc_cbor_write_tstr(&w, "privatedata", 11);
		kdc_cbor_write_map(&w, 2);
		kdc_cbor_write_tstr(&w, "data", 4);
		kdc_cbor_write_bstr(&w, pem, 16);
		kdc_cbor_write_tstr(&w, "encoding", 8);
		kdc_cbor_write_tstr(&w, "oic.sec.encoding.raw", 20);
	}
	assert_int_equal(kdc_wr_err(&w), KDC_OK);
	return kdc_wr_len(&w);
}

/* The cred index: the same ids, subjects and types as the full decoder
 * for every example and at every cut; a list past KDC_OCF_CREDS_MAX (the
 * OBT deleting a pairwise key from a well-provisioned device) within
 * KDC_OCF_CRED_INDEX_MAX; one past that refused. */
static void
test_cred_index(void **state)
{
	static struct kdc_ocf_cred_index x;
	static uint8_t buf[KDC_OCF_PAYLOAD_MAX];
	size_t n;

	(void)state;
	for (size_t i = 0; i < N_EX; i++) {
		if (examples[i].kind != K_CRED)
			continue;
		assert_int_equal(kdc_ocf_cred_decode(examples[i].p,
		    examples[i].len, &A.cred), KDC_OK);
		assert_int_equal(kdc_ocf_cred_index_decode(examples[i].p,
		    examples[i].len, &x), KDC_OK);
		assert_int_equal(x.n, A.cred.n);
		assert_int_equal(x.has, A.cred.has);
		for (size_t k = 0; k < x.n; k++) {
			const struct kdc_ocf_cred *c = &A.cred.creds[k];

			assert_int_equal(x.ids[k].credid, c->credid);
			assert_int_equal(x.ids[k].subject_any, c->subject_any);
			assert_memory_equal(&x.ids[k].subject, &c->subject,
			    sizeof(c->subject));
			assert_int_equal(x.ids[k].credtype, c->credtype);
			assert_int_equal(x.ids[k].credusage, c->credusage);
			assert_int_equal(x.ids[k].has, c->has &
			    ~KDC_OCF_CRED_HAS_ROLEID);
		}
		for (size_t cut = 0; cut < examples[i].len; cut++)
			assert_int_not_equal(kdc_ocf_cred_index_decode(
			    examples[i].p, cut, &x), KDC_OK);
	}
	n = big_creds(buf, sizeof(buf), 20, 2570);
	assert_int_equal(kdc_ocf_cred_decode(buf, n, &A.cred),
	    KDC_ERR_TOO_LARGE);
	assert_int_equal(kdc_ocf_cred_index_decode(buf, n, &x), KDC_OK);
	assert_int_equal(x.n, 20);
	assert_int_equal(x.ids[19].credid, 119);
	assert_int_equal(x.ids[19].credtype, 1);
	n = big_creds(buf, sizeof(buf), KDC_OCF_CRED_INDEX_MAX, 100);
	assert_int_equal(kdc_ocf_cred_index_decode(buf, n, &x), KDC_OK);
	n = big_creds(buf, sizeof(buf), KDC_OCF_CRED_INDEX_MAX + 1, 100);
	assert_int_equal(kdc_ocf_cred_index_decode(buf, n, &x),
	    KDC_ERR_TOO_LARGE);
	/* what is skipped is still checked: a privatedata twice, a
	 * publicdata that is not a map */
	{
		static const uint8_t twice[] = { 0xa1, 0x65, 'c', 'r', 'e',
		    'd', 's', 0x81, 0xa2, 0x6b, 'p', 'r', 'i', 'v', 'a', 't',
		    'e', 'd', 'a', 't', 'a', 0xa0, 0x6b, 'p', 'r', 'i', 'v',
		    'a', 't', 'e', 'd', 'a', 't', 'a', 0xa0 };
		static const uint8_t notmap[] = { 0xa1, 0x65, 'c', 'r', 'e',
		    'd', 's', 0x81, 0xa1, 0x6a, 'p', 'u', 'b', 'l', 'i', 'c',
		    'd', 'a', 't', 'a', 0x18 };

		assert_int_equal(kdc_ocf_cred_decode(twice, sizeof(twice),
		    &A.cred), KDC_ERR_MALFORMED);
		assert_int_equal(kdc_ocf_cred_index_decode(twice,
		    sizeof(twice), &x), KDC_ERR_MALFORMED);
		assert_int_not_equal(kdc_ocf_cred_index_decode(notmap,
		    sizeof(notmap), &x), KDC_OK);
	}
}

/* /oic/sec/csr: IoTivity's indefinite map with the PEM in a text string;
 * DER in bytes; each property required, the encoding matching the type;
 * every cut refused. */
static void
test_csr(void **state)
{
	static const uint8_t pem[] = {
		0xbf, 0x63, 'c', 's', 'r', 0x65, '-', '-', '-', '-', '-',
		0x68, 'e', 'n', 'c', 'o', 'd', 'i', 'n', 'g',
		0x74, 'o', 'i', 'c', '.', 's', 'e', 'c', '.', 'e', 'n', 'c',
		'o', 'd', 'i', 'n', 'g', '.', 'p', 'e', 'm',
		0x62, 'r', 't', 0x60, 0xff };
	static const uint8_t der[] = {
		0xa2, 0x63, 'c', 's', 'r', 0x43, 0x30, 0x01, 0x00,
		0x68, 'e', 'n', 'c', 'o', 'd', 'i', 'n', 'g',
		0x74, 'o', 'i', 'c', '.', 's', 'e', 'c', '.', 'e', 'n', 'c',
		'o', 'd', 'i', 'n', 'g', '.', 'd', 'e', 'r' };
	static struct kdc_ocf_csr c, d;
	uint8_t buf[256], bad[sizeof(pem)];
	size_t n;

	(void)state;
	assert_int_equal(kdc_ocf_csr_decode(pem, sizeof(pem), &c), KDC_OK);
	assert_true(c.text);
	assert_int_equal(c.encoding, KDC_OCF_ENC_PEM);
	assert_int_equal(c.len, 5);
	assert_memory_equal(c.data, "-----", 5);
	assert_int_equal(kdc_ocf_csr_encode(&c, buf, sizeof(buf), &n), KDC_OK);
	assert_int_equal(kdc_ocf_csr_decode(buf, n, &d), KDC_OK);
	assert_memory_equal(&c, &d, sizeof(c));
	assert_int_equal(kdc_ocf_csr_decode(der, sizeof(der), &c), KDC_OK);
	assert_false(c.text);
	assert_int_equal(c.encoding, KDC_OCF_ENC_DER);
	assert_int_equal(c.len, 3);
	/* the encoding says PEM, the data is bytes */
	memcpy(bad, der, sizeof(der));
	bad[sizeof(der) - 3] = 'p';
	bad[sizeof(der) - 2] = 'e';
	bad[sizeof(der) - 1] = 'm';
	assert_int_equal(kdc_ocf_csr_decode(bad, sizeof(der), &c),
	    KDC_ERR_MALFORMED);
	/* no encoding: a map of one */
	memcpy(bad, der, 9);
	bad[0] = 0xa1;
	assert_int_equal(kdc_ocf_csr_decode(bad, 9, &c), KDC_ERR_MALFORMED);
	/* no csr */
	bad[0] = 0xa1;
	memcpy(bad + 1, der + 9, sizeof(der) - 9);
	assert_int_equal(kdc_ocf_csr_decode(bad, 1 + sizeof(der) - 9, &c),
	    KDC_ERR_MALFORMED);
	for (size_t cut = 0; cut < sizeof(pem); cut++)
		assert_int_not_equal(kdc_ocf_csr_decode(pem, cut, &c), KDC_OK);
	c.encoding = KDC_OCF_ENC_RAW;
	assert_int_equal(kdc_ocf_csr_encode(&c, buf, sizeof(buf), &n),
	    KDC_ERR_INVALID_ARG);
}

static void
test_doxm(void **state)
{
	struct kdc_ocf_doxm *d = &A.doxm;

	(void)state;
	/* ocf.md: a fresh doxm begins bf 64 "oxms" 82 00 01 */
	assert_int_equal(v_doxm_fresh[0], 0xbf);
	assert_int_equal(v_doxm_fresh[6], 0x82);
	assert_int_equal(kdc_ocf_doxm_decode(v_doxm_fresh,
	    sizeof(v_doxm_fresh), d), KDC_OK);
	assert_int_equal(d->has, 0x7f);
	assert_int_equal(d->n_oxms, 2);
	assert_int_equal(d->oxms[0], KDC_OCF_OXM_JW);
	assert_int_equal(d->oxms[1], KDC_OCF_OXM_RDP);
	assert_int_equal(d->oxmsel, KDC_OCF_OXM_SELF);
	assert_int_equal(d->sct, 9);
	assert_false(d->owned);
	assert_uuid(&d->deviceuuid, DEV);
	assert_uuid(&d->devowneruuid, "00000000-0000-0000-0000-000000000000");
	assert_uuid(&d->rowneruuid, "00000000-0000-0000-0000-000000000000");

	assert_int_equal(kdc_ocf_doxm_decode(v_doxm_oxmsel,
	    sizeof(v_doxm_oxmsel), d), KDC_OK);
	assert_int_equal(d->has, KDC_OCF_DOXM_HAS_OXMSEL);
	assert_int_equal(d->oxmsel, 1);
	assert_int_equal(kdc_ocf_doxm_decode(v_doxm_devowner,
	    sizeof(v_doxm_devowner), d), KDC_OK);
	assert_int_equal(d->has, KDC_OCF_DOXM_HAS_DEVOWNERUUID);
	assert_uuid(&d->devowneruuid, OBT);
	assert_int_equal(kdc_ocf_doxm_decode(v_doxm_owned,
	    sizeof(v_doxm_owned), d), KDC_OK);
	assert_int_equal(d->has, KDC_OCF_DOXM_HAS_OWNED);
	assert_true(d->owned);
	/* definite lengths throughout */
	assert_int_equal(kdc_ocf_doxm_decode(v_doxm_fresh_def,
	    sizeof(v_doxm_fresh_def), d), KDC_OK);
	assert_int_equal(d->n_oxms, 3);
	assert_int_equal(d->oxms[2], KDC_OCF_OXM_MFGCERT);
	assert_int_equal(d->sct, 1);
	assert_uuid(&d->deviceuuid, DEV);
}

static void
test_pstat(void **state)
{
	struct kdc_ocf_pstat *p = &A.pstat;

	(void)state;
	assert_int_equal(kdc_ocf_pstat_decode(v_pstat_rfotm,
	    sizeof(v_pstat_rfotm), p), KDC_OK);
	assert_int_equal(p->has, 0xff);
	assert_int_equal(p->dos_s, KDC_OCF_DOS_RFOTM);
	assert_false(p->dos_p);
	assert_int_equal(p->cm, 2);
	assert_int_equal(p->tm, 0);
	assert_int_equal(p->om, 3);
	assert_int_equal(p->sm, 4);
	assert_false(p->isop);
	assert_int_equal(kdc_ocf_pstat_decode(v_pstat_om, sizeof(v_pstat_om),
	    p), KDC_OK);
	assert_int_equal(p->has, KDC_OCF_PSTAT_HAS_OM);
	assert_int_equal(p->om, 4);
	assert_int_equal(kdc_ocf_pstat_decode(v_pstat_rfpro,
	    sizeof(v_pstat_rfpro), p), KDC_OK);
	assert_int_equal(p->has, KDC_OCF_PSTAT_HAS_DOS_S);
	assert_int_equal(p->dos_s, KDC_OCF_DOS_RFPRO);
}

static void
test_cred(void **state)
{
	struct kdc_ocf_creds *c = &A.cred;
	const struct kdc_ocf_cred *e;
	uint8_t key[16];

	(void)state;
	for (unsigned i = 0; i < 16; i++)
		key[i] = (uint8_t)(0x10 + i);
	/* the owner credential: empty privatedata, the device derives it */
	assert_int_equal(kdc_ocf_cred_decode(v_cred_owner,
	    sizeof(v_cred_owner), c), KDC_OK);
	assert_int_equal(c->has, 3);
	assert_int_equal(c->n, 1);
	e = &c->creds[0];
	assert_int_equal(e->credtype, KDC_OCF_CREDTYPE_PSK);
	assert_false(e->subject_any);
	assert_uuid(&e->subject, OBT);
	assert_true(e->privatedata.present);
	assert_false(e->privatedata.text);
	assert_int_equal(e->privatedata.len, 0);
	assert_int_equal(e->privatedata.encoding, KDC_OCF_ENC_RAW);
	assert_false(e->publicdata.present);
	assert_uuid(&c->rowneruuid, OBT);

	/* pairwise: a 16-byte key; IoTivity's owner_cred/tag/rt/if skipped */
	assert_int_equal(kdc_ocf_cred_decode(v_cred_pairwise,
	    sizeof(v_cred_pairwise), c), KDC_OK);
	assert_int_equal(c->n, 1);
	e = &c->creds[0];
	assert_int_equal(e->has, KDC_OCF_CRED_HAS_CREDID |
	    KDC_OCF_CRED_HAS_SUBJECT | KDC_OCF_CRED_HAS_CREDTYPE);
	assert_int_equal(e->credid, 2);
	assert_uuid(&e->subject, DEV2);
	assert_int_equal(e->privatedata.len, 16);
	assert_memory_equal(e->privatedata.data, key, 16);

	/* trust anchor (subject "*", PEM text) and a role credential */
	assert_int_equal(kdc_ocf_cred_decode(v_cred_trustca,
	    sizeof(v_cred_trustca), c), KDC_OK);
	assert_int_equal(c->has, KDC_OCF_CREDS_HAS_CREDS);
	assert_int_equal(c->n, 2);
	e = &c->creds[0];
	assert_true(e->subject_any);
	assert_int_equal(e->credtype, KDC_OCF_CREDTYPE_CERT);
	assert_int_equal(e->credusage, KDC_OCF_USAGE_TRUSTCA);
	assert_true(e->publicdata.present);
	assert_true(e->publicdata.text);
	assert_int_equal(e->publicdata.encoding, KDC_OCF_ENC_PEM);
	assert_int_equal(e->publicdata.len, 28 + 240 + 1 + 26);
	assert_memory_equal(e->publicdata.data, "-----BEGIN CERTIFICATE-----\n",
	    28);
	e = &c->creds[1];
	assert_int_equal(e->credid, 7);
	assert_int_equal(e->credusage, KDC_OCF_USAGE_ROLECERT);
	assert_true(e->has & KDC_OCF_CRED_HAS_ROLEID);
	assert_string_equal(e->role, "admin");
	assert_string_equal(e->authority, "kdc");

	/* indefinite-length chunked strings */
	assert_int_equal(kdc_ocf_cred_decode(v_cred_chunked,
	    sizeof(v_cred_chunked), c), KDC_OK);
	assert_int_equal(c->n, 1);
	assert_uuid(&c->creds[0].subject, DEV2);
	assert_int_equal(c->creds[0].privatedata.len, 16);
	assert_memory_equal(c->creds[0].privatedata.data, key, 16);
}

static void
test_acl2(void **state)
{
	struct kdc_ocf_acl2 *a = &A.acl2;
	const struct kdc_ocf_ace *e;

	(void)state;
	assert_int_equal(kdc_ocf_acl2_decode(v_acl2_default,
	    sizeof(v_acl2_default), a), KDC_OK);
	assert_int_equal(a->has, 3);
	assert_int_equal(a->n, 3);
	assert_uuid(&a->rowneruuid, OBT);
	e = &a->aces[0];
	assert_int_equal(e->aceid, 1);
	assert_int_equal(e->subject, KDC_OCF_SUBJ_UUID);
	assert_uuid(&e->uuid, OBT);
	assert_int_equal(e->n_res, 1);
	assert_string_equal(e->res[0].href, "/oic/sec/sp");
	assert_int_equal(e->permission, 14);
	assert_string_equal(a->aces[1].res[0].href, "/oic/sec/csr");
	assert_int_equal(a->aces[1].permission, KDC_OCF_PERM_R);
	e = &a->aces[2];
	assert_int_equal(e->subject, KDC_OCF_SUBJ_CONNTYPE);
	assert_int_equal(e->conntype, KDC_OCF_CONN_ANON_CLEAR);
	assert_int_equal(e->n_res, 4);
	assert_string_equal(e->res[3].href, "/oic/sec/sdi");
	assert_int_equal(e->res[3].wc, KDC_OCF_WC_NONE);

	assert_int_equal(kdc_ocf_acl2_decode(v_acl2_roles,
	    sizeof(v_acl2_roles), a), KDC_OK);
	assert_int_equal(a->has, KDC_OCF_ACL2_HAS_ACLIST2);
	assert_int_equal(a->n, 2);
	e = &a->aces[0];
	assert_int_equal(e->has, KDC_OCF_ACE_HAS_PERMISSION);
	assert_int_equal(e->conntype, KDC_OCF_CONN_AUTH_CRYPT);
	assert_int_equal(e->permission, KDC_OCF_PERM_R | KDC_OCF_PERM_U);
	e = &a->aces[1];
	assert_int_equal(e->subject, KDC_OCF_SUBJ_ROLE);
	assert_string_equal(e->role, "admin");
	assert_string_equal(e->authority, "kdc");
	assert_int_equal(e->n_res, 3);
	assert_int_equal(e->res[0].wc, KDC_OCF_WC_ALL);
	assert_int_equal(e->res[1].wc, KDC_OCF_WC_SECURED);
	assert_int_equal(e->res[2].wc, KDC_OCF_WC_PUBLIC);
	assert_string_equal(e->res[0].href, "");
	assert_int_equal(e->permission, 31);
}

static void
test_links(void **state)
{
	struct kdc_ocf_links *l = &A.links;
	const struct kdc_ocf_link *k;

	(void)state;
	assert_int_equal(kdc_ocf_links_decode(v_links_doxm,
	    sizeof(v_links_doxm), l), KDC_OK);
	assert_int_equal(l->n, 1);
	k = &l->links[0];
	assert_int_equal(k->has, KDC_OCF_LINK_HAS_ANCHOR);
	assert_uuid(&k->anchor, DEV);
	assert_string_equal(k->href, "/oic/sec/doxm");
	assert_int_equal(k->n_rt, 1);
	assert_string_equal(k->rt[0], "oic.r.doxm");
	assert_int_equal(k->n_ifs, 1);
	assert_string_equal(k->ifs[0], "oic.if.baseline");
	assert_int_equal(k->n_eps, 4);
	assert_string_equal(k->eps[0].scheme, "coap");
	assert_int_equal(k->eps[0].port, 45677);
	assert_string_equal(k->eps[1].scheme, "coaps");
	assert_string_equal(k->eps[1].host, "fe80::1");
	assert_string_equal(k->eps[1].zone, "eth0");
	assert_true(k->eps[1].ipv6);
	assert_int_equal(k->eps[1].port, 45678);
	assert_string_equal(k->eps[2].scheme, "coaps+tcp");
	assert_string_equal(k->eps[2].host, "fd00::2");
	assert_string_equal(k->eps[2].zone, "");
	assert_int_equal(k->eps[2].port, 40000);
	assert_string_equal(k->eps[3].host, "192.168.1.7");
	assert_false(k->eps[3].ipv6);
	assert_int_equal(k->eps[3].port, 5684);
}

/* Each example re-encoded (definite, deterministic) decodes equal. */
static void
test_reencode(void **state)
{
	size_t n, n2;
	struct kdc_rd rd;

	(void)state;
	for (size_t i = 0; i < N_EX; i++) {
		const struct ex *x = &examples[i];

		assert_int_equal(decode(x->kind, x->p, x->len, &A), KDC_OK);
		assert_int_equal(encode(x->kind, &A, ebuf, sizeof(ebuf), &n),
		    KDC_OK);
		/* definite only: the definite-only skip takes it whole */
		kdc_rd_init(&rd, ebuf, n);
		assert_int_equal(kdc_cbor_skip(&rd, 8), KDC_OK);
		assert_true(kdc_rd_at_end(&rd));
		assert_int_equal(decode(x->kind, ebuf, n, &B), KDC_OK);
		if (memcmp(&A, &B, kind_size(x->kind)) != 0)
			fail_msg("%s: re-encoding decodes differently",
			    x->name);
		/* deterministic */
		assert_int_equal(encode(x->kind, &B, ebuf2, sizeof(ebuf2),
		    &n2), KDC_OK);
		assert_int_equal(n, n2);
		assert_memory_equal(ebuf, ebuf2, n);
		/* too small a buffer: TOO_LARGE, *out_len 0 */
		assert_int_equal(encode(x->kind, &A, ebuf2, n - 1, &n2),
		    KDC_ERR_TOO_LARGE);
		assert_int_equal(n2, 0);
	}
}

/* Every proper prefix of every example: TRUNCATED, the struct zeroed. */
static void
test_truncations(void **state)
{
	static const union any zero;

	(void)state;
	for (size_t i = 0; i < N_EX; i++) {
		const struct ex *x = &examples[i];

		for (size_t k = 0; k < x->len; k++) {
			kdc_err r = decode(x->kind, x->p, k, &A);

			if (r != KDC_ERR_TRUNCATED)
				fail_msg("%s[0..%zu): %s", x->name, k,
				    kdc_err_name(r));
			assert_memory_equal(&A, &zero, kind_size(x->kind));
		}
		/* and a byte more: TRAILING */
		memcpy(ebuf, x->p, x->len);
		ebuf[x->len] = 0x00;
		assert_int_equal(decode(x->kind, ebuf, x->len + 1, &A),
		    KDC_ERR_TRAILING);
	}
}

/* ---- refusals ---------------------------------------------------------- */

/* Bytes from hex, into ebuf; returns the length. */
static size_t
hx(const char *h)
{
	size_t n = sizeof(ebuf);

	assert_int_equal(kdc_hex_decode(h, strlen(h), ebuf, &n), KDC_OK);
	return n;
}

static void
w_text(struct kdc_wr *w, const char *s)
{
	assert_true(kdc_cbor_write_tstr(w, s, strlen(s)));
}

/* {"creds": [n x {"credtype": 1, "subjectuuid": DEV2}]}, indefinite. */
static size_t
creds_n(size_t n)
{
	struct kdc_wr w;

	kdc_wr_init(&w, ebuf, sizeof(ebuf));
	kdc_wr_u8(&w, 0xbf);
	w_text(&w, "creds");
	kdc_wr_u8(&w, 0x9f);
	for (size_t i = 0; i < n; i++) {
		kdc_wr_u8(&w, 0xbf);
		w_text(&w, "credtype");
		kdc_cbor_write_uint(&w, 1);
		w_text(&w, "subjectuuid");
		w_text(&w, DEV2);
		kdc_wr_u8(&w, 0xff);
	}
	kdc_wr_u8(&w, 0xff);
	kdc_wr_u8(&w, 0xff);
	assert_int_equal(kdc_wr_err(&w), KDC_OK);
	return kdc_wr_len(&w);
}

/* {"aclist2": [n x {"subject": {"conntype": "auth-crypt"},
 * "resources": [r x {"wc": "*"}], "permission": 2}]} */
static size_t
aces_n(size_t n, size_t r)
{
	struct kdc_wr w;

	kdc_wr_init(&w, ebuf, sizeof(ebuf));
	kdc_cbor_write_map(&w, 1);
	w_text(&w, "aclist2");
	kdc_cbor_write_array(&w, n);
	for (size_t i = 0; i < n; i++) {
		kdc_cbor_write_map(&w, 3);
		w_text(&w, "subject");
		kdc_cbor_write_map(&w, 1);
		w_text(&w, "conntype");
		w_text(&w, "auth-crypt");
		w_text(&w, "resources");
		kdc_cbor_write_array(&w, r);
		for (size_t j = 0; j < r; j++) {
			kdc_cbor_write_map(&w, 1);
			w_text(&w, "wc");
			w_text(&w, "*");
		}
		w_text(&w, "permission");
		kdc_cbor_write_uint(&w, 2);
	}
	assert_int_equal(kdc_wr_err(&w), KDC_OK);
	return kdc_wr_len(&w);
}

/* {"x": [[[...depth...]]], "oxmsel": 1} with indefinite arrays. */
static size_t
deep(unsigned depth)
{
	struct kdc_wr w;

	kdc_wr_init(&w, ebuf, sizeof(ebuf));
	kdc_wr_u8(&w, 0xbf);
	w_text(&w, "x");
	for (unsigned i = 0; i < depth; i++)
		kdc_wr_u8(&w, 0x9f);
	for (unsigned i = 0; i < depth; i++)
		kdc_wr_u8(&w, 0xff);
	w_text(&w, "oxmsel");
	kdc_cbor_write_uint(&w, 1);
	kdc_wr_u8(&w, 0xff);
	assert_int_equal(kdc_wr_err(&w), KDC_OK);
	return kdc_wr_len(&w);
}

/* {key: text} for a doxm */
static size_t
doxm_kv(const char *key, const char *text)
{
	struct kdc_wr w;

	kdc_wr_init(&w, ebuf, sizeof(ebuf));
	kdc_cbor_write_map(&w, 1);
	w_text(&w, key);
	w_text(&w, text);
	return kdc_wr_len(&w);
}

static void
test_bounds(void **state)
{
	size_t n;

	(void)state;
	/* creds: 8 fit, 9 do not */
	n = creds_n(KDC_OCF_CREDS_MAX);
	assert_int_equal(kdc_ocf_cred_decode(ebuf, n, &A.cred), KDC_OK);
	assert_int_equal(A.cred.n, KDC_OCF_CREDS_MAX);
	n = creds_n(KDC_OCF_CREDS_MAX + 1);
	assert_int_equal(kdc_ocf_cred_decode(ebuf, n, &A.cred),
	    KDC_ERR_TOO_LARGE);
	assert_int_equal(A.cred.n, 0);
	/* ACEs and their resources */
	n = aces_n(KDC_OCF_ACES_MAX, KDC_OCF_ACE_RES_MAX);
	assert_int_equal(kdc_ocf_acl2_decode(ebuf, n, &A.acl2), KDC_OK);
	assert_int_equal(A.acl2.n, KDC_OCF_ACES_MAX);
	n = aces_n(KDC_OCF_ACES_MAX + 1, 1);
	assert_int_equal(kdc_ocf_acl2_decode(ebuf, n, &A.acl2),
	    KDC_ERR_TOO_LARGE);
	n = aces_n(1, KDC_OCF_ACE_RES_MAX + 1);
	assert_int_equal(kdc_ocf_acl2_decode(ebuf, n, &A.acl2),
	    KDC_ERR_TOO_LARGE);
	/* a huge announced count ends at TRUNCATED, nothing sized by it */
	n = hx("a16761636c69737432" "9b00ffffffffffffff");
	assert_int_equal(kdc_ocf_acl2_decode(ebuf, n, &A.acl2),
	    KDC_ERR_TRUNCATED);
	/* oxms: 8 fit, 9 do not */
	n = hx("a1646f786d7388" "0001020304050607");
	assert_int_equal(kdc_ocf_doxm_decode(ebuf, n, &A.doxm), KDC_OK);
	assert_int_equal(A.doxm.n_oxms, 8);
	n = hx("a1646f786d7389" "000102030405060708");
	assert_int_equal(kdc_ocf_doxm_decode(ebuf, n, &A.doxm),
	    KDC_ERR_TOO_LARGE);
	/* nesting: an unknown value 7 deep is skipped, 8 deep is not */
	n = deep(KDC_OCF_DEPTH_MAX - 1);
	assert_int_equal(kdc_ocf_doxm_decode(ebuf, n, &A.doxm), KDC_OK);
	assert_int_equal(A.doxm.oxmsel, 1);
	n = deep(KDC_OCF_DEPTH_MAX);
	assert_int_equal(kdc_ocf_doxm_decode(ebuf, n, &A.doxm),
	    KDC_ERR_TOO_LARGE);
	n = deep(1000);
	assert_int_equal(kdc_ocf_doxm_decode(ebuf, n, &A.doxm),
	    KDC_ERR_TOO_LARGE);
	/* the payload size bound: {"x": h'00...', "owned": true} of
	 * exactly the bound decodes, one byte more does not */
	{
		static uint8_t big[KDC_OCF_PAYLOAD_MAX + 1];
		static const uint8_t zeros[KDC_OCF_PAYLOAD_MAX];
		struct kdc_wr w;
		size_t hdr = 1 + 2 + 3 + 6 + 1;	/* map, "x", bstr head,
						 * "owned", true */

		kdc_wr_init(&w, big, sizeof(big));
		kdc_cbor_write_map(&w, 2);
		w_text(&w, "x");
		kdc_cbor_write_bstr(&w, zeros, KDC_OCF_PAYLOAD_MAX - hdr);
		w_text(&w, "owned");
		kdc_cbor_write_bool(&w, true);
		assert_int_equal(kdc_wr_len(&w), KDC_OCF_PAYLOAD_MAX);
		assert_int_equal(kdc_ocf_doxm_decode(big, KDC_OCF_PAYLOAD_MAX,
		    &A.doxm), KDC_OK);
		assert_true(A.doxm.owned);
		kdc_wr_init(&w, big, sizeof(big));
		kdc_cbor_write_map(&w, 2);
		w_text(&w, "x");
		kdc_cbor_write_bstr(&w, zeros, KDC_OCF_PAYLOAD_MAX + 1 - hdr);
		w_text(&w, "owned");
		kdc_cbor_write_bool(&w, true);
		assert_int_equal(kdc_wr_len(&w), KDC_OCF_PAYLOAD_MAX + 1);
		assert_int_equal(kdc_ocf_doxm_decode(big,
		    KDC_OCF_PAYLOAD_MAX + 1, &A.doxm), KDC_ERR_TOO_LARGE);
	}
	/* a privatedata over its buffer (257 bytes) */
	{
		struct kdc_wr w;

		kdc_wr_init(&w, ebuf, sizeof(ebuf));
		kdc_cbor_write_map(&w, 1);
		w_text(&w, "creds");
		kdc_cbor_write_array(&w, 1);
		kdc_cbor_write_map(&w, 1);
		w_text(&w, "privatedata");
		kdc_cbor_write_map(&w, 1);
		w_text(&w, "data");
		kdc_cbor_write_bstr(&w, ebuf2, KDC_OCF_PRIV_MAX + 1);
		assert_int_equal(kdc_ocf_cred_decode(ebuf, kdc_wr_len(&w),
		    &A.cred), KDC_ERR_TOO_LARGE);
		/* 256 fit */
		kdc_wr_init(&w, ebuf, sizeof(ebuf));
		kdc_cbor_write_map(&w, 1);
		w_text(&w, "creds");
		kdc_cbor_write_array(&w, 1);
		kdc_cbor_write_map(&w, 1);
		w_text(&w, "privatedata");
		kdc_cbor_write_map(&w, 1);
		w_text(&w, "data");
		kdc_cbor_write_bstr(&w, ebuf2, KDC_OCF_PRIV_MAX);
		assert_int_equal(kdc_ocf_cred_decode(ebuf, kdc_wr_len(&w),
		    &A.cred), KDC_OK);
		assert_int_equal(A.cred.creds[0].privatedata.len,
		    KDC_OCF_PRIV_MAX);
	}
	/* a publicdata PEM: a manufacturer certificate and its CA chain in
	 * one, as a device answers GET /oic/sec/cred (2570 bytes in
	 * IoTivity-Lite's samples) fits; the text's NUL needs a byte, so
	 * KDC_OCF_PUB_MAX - 1 fits and KDC_OCF_PUB_MAX does not */
	{
		static const size_t lens[] = { 2570, KDC_OCF_PUB_MAX - 1,
		    KDC_OCF_PUB_MAX };
		struct kdc_wr w;

		memset(ebuf2, 'M', KDC_OCF_PUB_MAX);
		for (size_t i = 0; i < 3; i++) {
			kdc_wr_init(&w, ebuf, sizeof(ebuf));
			kdc_cbor_write_map(&w, 1);
			w_text(&w, "creds");
			kdc_cbor_write_array(&w, 1);
			kdc_cbor_write_map(&w, 2);
			w_text(&w, "credusage");
			w_text(&w, "oic.sec.cred.mfgcert");
			w_text(&w, "publicdata");
			kdc_cbor_write_map(&w, 2);
			w_text(&w, "data");
			kdc_cbor_write_tstr(&w, ebuf2, lens[i]);
			w_text(&w, "encoding");
			w_text(&w, "oic.sec.encoding.pem");
			assert_int_equal(kdc_wr_err(&w), KDC_OK);
			if (i == 2) {
				assert_int_equal(kdc_ocf_cred_decode(ebuf,
				    kdc_wr_len(&w), &A.cred), KDC_ERR_TOO_LARGE);
				continue;
			}
			assert_int_equal(kdc_ocf_cred_decode(ebuf,
			    kdc_wr_len(&w), &A.cred), KDC_OK);
			assert_int_equal(A.cred.creds[0].publicdata.len, lens[i]);
			assert_true(A.cred.creds[0].publicdata.text);
		}
	}
	/* an href over its buffer */
	{
		char href[KDC_OCF_STR_MAX + 1];
		struct kdc_wr w;

		memset(href, 'a', sizeof(href) - 1);
		href[sizeof(href) - 1] = '\0';
		kdc_wr_init(&w, ebuf, sizeof(ebuf));
		kdc_cbor_write_array(&w, 1);
		kdc_cbor_write_map(&w, 1);
		w_text(&w, "href");
		w_text(&w, href);
		assert_int_equal(kdc_ocf_links_decode(ebuf, kdc_wr_len(&w),
		    &A.links), KDC_ERR_TOO_LARGE);
		href[KDC_OCF_STR_MAX - 1] = '\0';	/* 63 fit */
		kdc_wr_init(&w, ebuf, sizeof(ebuf));
		kdc_cbor_write_array(&w, 1);
		kdc_cbor_write_map(&w, 1);
		w_text(&w, "href");
		w_text(&w, href);
		assert_int_equal(kdc_ocf_links_decode(ebuf, kdc_wr_len(&w),
		    &A.links), KDC_OK);
	}
}

static void
test_uuids(void **state)
{
	static const char *const bad[] = {
		"87484d8e-7b6c-4e1a-9f3a-0c1d2e3f4a5",		/* 35 */
		"87484d8e-7b6c-4e1a-9f3a-0c1d2e3f4a5b0",	/* 37 */
		"87484d8e-7b6c-4e1a-9f3a-0c1d2e3f4a5b00",	/* 38 */
		"87484d8e-7b6c-4e1a-9f3a-0c1d2e3f4a5g",		/* non-hex */
		"87484d8e07b6c-4e1a-9f3a-0c1d2e3f4a5b",		/* dash */
		"87484d8e-7b6c-4e1a-9f3a-0c1d2e3f4a-b",		/* extra dash */
		"87484d8e7b6c4e1a9f3a0c1d2e3f4a5b",		/* no dashes */
		"",
		"*",
		"ocf://87484d8e-7b6c-4e1a-9f3a-0c1d2e3f4a5b",
		"this is not a uuid, this is a very long string: 100 chars "
		    "this is not a uuid, this is a very long string",
	};
	struct kdc_ocf_uuid u;
	size_t n;

	(void)state;
	assert_int_equal(kdc_ocf_uuid_parse(DEV, 36, &u), KDC_OK);
	assert_uuid(&u, DEV);
	assert_int_equal(kdc_ocf_uuid_parse("87484D8E-7B6C-4E1A-9F3A-0C1D2E3F4A5B",
	    36, &u), KDC_OK);
	assert_uuid(&u, DEV);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(kdc_ocf_uuid_parse(bad[i], strlen(bad[i]),
		    &u), KDC_ERR_MALFORMED);
		n = doxm_kv("deviceuuid", bad[i]);
		if (kdc_ocf_doxm_decode(ebuf, n, &A.doxm) != KDC_ERR_MALFORMED)
			fail_msg("deviceuuid \"%s\" not refused", bad[i]);
		n = doxm_kv("rowneruuid", bad[i]);
		assert_int_equal(kdc_ocf_doxm_decode(ebuf, n, &A.doxm),
		    KDC_ERR_MALFORMED);
	}
	/* "*" is a subjectuuid (certificates), not a deviceuuid: above */
}

/* Hex payloads each refused with the error named (WANT_OK: accepted). */
#define WANT_OK	((kdc_err)1)
static const struct bad {
	enum kind	 kind;
	const char	*hex;
	kdc_err		 want;
	const char	*what;
} bads[] = {
	{ K_DOXM, "", KDC_ERR_TRUNCATED, "empty" },
	{ K_DOXM, "80", KDC_ERR_MALFORMED, "an array, not a map" },
	{ K_DOXM, "ff", KDC_ERR_MALFORMED, "a lone break" },
	{ K_DOXM, "bf", KDC_ERR_TRUNCATED, "no break" },
	{ K_DOXM, "bf01ff", KDC_ERR_MALFORMED, "an integer key" },
	{ K_DOXM, "bf666f786d73656c", KDC_ERR_TRUNCATED,
	    "a key, then the end" },
	{ K_DOXM, "bf666f786d73656cff", KDC_ERR_MALFORMED,
	    "a key, then the break" },
	{ K_DOXM, "a1666f786d73656c6131", KDC_ERR_MALFORMED,
	    "oxmsel a string" },
	{ K_DOXM, "a1656f776e656401", KDC_ERR_MALFORMED, "owned an int" },
	{ K_DOXM, "a163736374 20", KDC_ERR_MALFORMED, "sct negative" },
	{ K_DOXM, "a1646f786d73a0", KDC_ERR_MALFORMED, "oxms a map" },
	{ K_DOXM, "a1646f786d73816131", KDC_ERR_MALFORMED, "oxms of text" },
	{ K_DOXM, "a2656f776e6564f5656f776e6564f4", KDC_ERR_MALFORMED,
	    "owned twice" },
	{ K_DOXM, "bf656f776e6564f5656f776e6564f4ff", KDC_ERR_MALFORMED,
	    "owned twice, indefinite" },
	{ K_DOXM, "a1656f776e6564ff", KDC_ERR_MALFORMED,
	    "a break as a value" },
	{ K_DOXM, "a1617a9fff", WANT_OK, "" },
	{ K_DOXM, "a1617a7f6161ff", WANT_OK, "" },
	{ K_DOXM, "a1617a7f01ff", KDC_ERR_MALFORMED,
	    "an unknown chunked string with an int chunk" },
	{ K_DOXM, "a1617a7f4161ff", KDC_ERR_MALFORMED,
	    "a text string with a byte chunk" },
	{ K_DOXM, "a1617a7f7f6161ffff", KDC_ERR_MALFORMED,
	    "a chunk itself indefinite" },
	{ K_DOXM, "a1617a1f", KDC_ERR_MALFORMED, "ai 31 on an integer" },
	{ K_DOXM, "a17f6161", KDC_ERR_TRUNCATED, "a chunked key, no break" },
	{ K_PSTAT, "a163646f73a1617305", KDC_ERR_MALFORMED, "dos.s 5" },
	{ K_PSTAT, "a163646f73a1617002", KDC_ERR_MALFORMED, "dos.p an int" },
	{ K_PSTAT, "a163646f7301", KDC_ERR_MALFORMED, "dos an int" },
	{ K_PSTAT, "a2626f6d01626f6d02", KDC_ERR_MALFORMED, "om twice" },
	{ K_PSTAT, "a263646f73a063646f73a0", KDC_ERR_MALFORMED, "dos twice" },
	{ K_PSTAT, "a163646f73a261730161730 2", KDC_ERR_MALFORMED,
	    "dos.s twice" },
	{ K_CRED, "a16563726564 73a0", KDC_ERR_MALFORMED, "creds a map" },
	{ K_CRED, "a16563726564738101", KDC_ERR_MALFORMED, "a cred an int" },
	{ K_CRED, "a1656372656473 81a1 6b7072697661746564617461 a1"
	    "68656e636f64696e67 6361626364", KDC_ERR_MALFORMED,
	    "an unknown encoding" },
	{ K_CRED, "a1656372656473 81a1 6b7072697661746564617461 a1"
	    "6464617461 01", KDC_ERR_MALFORMED, "data an int" },
	{ K_CRED, "a1656372656473 81a1 69637265647573616765 6361626364",
	    KDC_ERR_MALFORMED, "an unknown credusage" },
	{ K_CRED, "a1656372656473 81a1 6b7375626a65637475756964 612b",
	    KDC_ERR_MALFORMED, "subjectuuid \"+\"" },
	{ K_CRED, "a1656372656473 81a1 66726f6c656964 a0", KDC_ERR_MALFORMED,
	    "roleid without role" },
	{ K_ACL2, "a1676163 6c69737432 81a1 677375626a656374 a0",
	    KDC_ERR_MALFORMED, "an empty subject" },
	{ K_ACL2, "a1676163 6c69737432 81a1 677375626a656374 a2"
	    "68636f6e6e74797065 6a617574682d6372797074"
	    "64726f6c65 6161", KDC_ERR_MALFORMED, "conntype and role" },
	{ K_ACL2, "a1676163 6c69737432 81a1 677375626a656374 a1"
	    "68636f6e6e74797065 6361626364", KDC_ERR_MALFORMED,
	    "an unknown conntype" },
	{ K_ACL2, "a1676163 6c69737432 81a1 677375626a656374 a1"
	    "69617574686f72697479 6161", KDC_ERR_MALFORMED,
	    "authority without role" },
	{ K_ACL2, "a1676163 6c69737432 81a1 6a7065726d697373696f6e 1820",
	    KDC_ERR_MALFORMED, "permission 32" },
	{ K_ACL2, "a1676163 6c69737432 81a1 697265736f7572636573 81a0",
	    KDC_ERR_MALFORMED, "a resource neither href nor wc" },
	{ K_ACL2, "a1676163 6c69737432 81a1 697265736f7572636573 81a2"
	    "6468726566 6161 627763 612a", KDC_ERR_MALFORMED,
	    "a resource both href and wc" },
	{ K_ACL2, "a1676163 6c69737432 81a1 697265736f7572636573 81a1"
	    "627763 613f", KDC_ERR_MALFORMED, "wc \"?\"" },
	{ K_DOXM, "a1666f776e656400f5", KDC_ERR_MALFORMED,
	    "a key with a NUL (\"owned\\0\")" },
	{ K_LINKS, "81a1 6468726566 63610062", KDC_ERR_MALFORMED,
	    "an href with a NUL (fuzz_ocf found it: re-encoded shorter)" },
	{ K_LINKS, "81a1 6468726566 62c328", KDC_ERR_MALFORMED,
	    "an href not UTF-8" },
	{ K_LINKS, "81a1 6468726566 7f 6161 4161 ff", KDC_ERR_MALFORMED,
	    "an href with a byte chunk" },
	{ K_LINKS, "81a1 6468726566 7f 6161 01 ff", KDC_ERR_MALFORMED,
	    "an href with an integer chunk" },
	{ K_LINKS, "81a1 6468726566 7f 6161 7f6161ff ff", KDC_ERR_MALFORMED,
	    "an href with an indefinite chunk" },
	{ K_LINKS, "81a1 6468726566 7f 6161 626262 ff", WANT_OK,
	    "an href in two text chunks" },
	{ K_LINKS, "a0", KDC_ERR_MALFORMED, "a map, not an array" },
	{ K_LINKS, "81a0", KDC_ERR_MALFORMED, "a link without href" },
	{ K_LINKS, "81a2 6468726566 6161 66616e63686f72 6161",
	    KDC_ERR_MALFORMED, "an anchor not ocf://uuid" },
	{ K_LINKS, "81a2 6468726566 6161 6365707381a0", KDC_ERR_MALFORMED,
	    "an eps entry without ep" },
	{ K_LINKS, "81a2 6468726566 6161 6365707381a1626570 6161",
	    KDC_ERR_MALFORMED, "an ep not a URI" },
	{ K_LINKS, "81a2 6468726566 6161 62727401", KDC_ERR_MALFORMED,
	    "rt an int" },
	{ K_LINKS, "81a2 6468726566 6161 627274 85 6161616161616161 6161",
	    KDC_ERR_TOO_LARGE, "five rt values" },
};

/* Hex with spaces allowed. */
static size_t
hxs(const char *h)
{
	char t[1024];
	size_t k = 0;

	for (; *h != '\0'; h++)
		if (*h != ' ') {
			assert_true(k + 1 < sizeof(t));
			t[k++] = *h;
		}
	t[k] = '\0';
	return hx(t);
}

static void
test_refusals(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		size_t n = hxs(b->hex);
		kdc_err r = decode(b->kind, ebuf, n, &A);

		if (b->want == WANT_OK) {
			if (r != KDC_OK)
				fail_msg("#%zu %s: %s, want OK", i, b->hex,
				    kdc_err_name(r));
			continue;
		}
		if (r != b->want)
			fail_msg("#%zu %s (%s): %s, want %s", i, b->what, b->hex,
			    kdc_err_name(r), kdc_err_name(b->want));
	}
	/* NULL arguments */
	assert_int_equal(kdc_ocf_doxm_decode(NULL, 1, &A.doxm),
	    KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_ocf_doxm_decode(v_doxm_owned,
	    sizeof(v_doxm_owned), NULL), KDC_ERR_INVALID_ARG);
}

static void
test_ep(void **state)
{
	static const struct {
		const char	*s;
		kdc_err		 want;
		const char	*scheme, *host, *zone;
		unsigned	 port;
	} eps[] = {
		{ "coaps://[fe80::1%25eth0]:45678", KDC_OK, "coaps",
		    "fe80::1", "eth0", 45678 },
		{ "coap://[::1]:5683", KDC_OK, "coap", "::1", "", 5683 },
		{ "coap+tcp://10.0.0.1:1", KDC_OK, "coap+tcp", "10.0.0.1", "",
		    1 },
		{ "coaps://[fe80::1%25eth0]:65535", KDC_OK, "coaps", "fe80::1",
		    "eth0", 65535 },
		{ "coaps://[fe80::1%25eth0]:65536", KDC_ERR_MALFORMED, NULL, NULL, NULL, 0 },
		{ "coaps://[fe80::1%25eth0]:0", KDC_ERR_MALFORMED, NULL, NULL, NULL, 0 },
		{ "coaps://[fe80::1%25eth0]:", KDC_ERR_MALFORMED, NULL, NULL, NULL, 0 },
		{ "coaps://[fe80::1%25eth0]", KDC_ERR_MALFORMED, NULL, NULL, NULL, 0 },
		{ "coaps://[fe80::1%25eth0]:123456", KDC_ERR_MALFORMED, NULL, NULL, NULL, 0 },
		{ "coaps://[fe80::1%25eth0]:12a", KDC_ERR_MALFORMED, NULL, NULL, NULL, 0 },
		{ "coaps://[fe80::1%eth0]:1", KDC_ERR_MALFORMED, NULL, NULL, NULL, 0 },
		{ "coaps://[fe80::1%25]:1", KDC_ERR_MALFORMED, NULL, NULL, NULL, 0 },
		{ "coaps://[fe80::1%25e/h]:1", KDC_ERR_MALFORMED, NULL, NULL, NULL, 0 },
		{ "coaps://[fe80::1:1", KDC_ERR_MALFORMED, NULL, NULL, NULL, 0 },
		{ "coaps://[]:1", KDC_ERR_MALFORMED, NULL, NULL, NULL, 0 },
		{ "coaps://[fe80::g]:1", KDC_ERR_MALFORMED, NULL, NULL, NULL, 0 },
		{ "coaps://host.example:1", KDC_ERR_MALFORMED, NULL, NULL, NULL, 0 },
		{ "coaps://:1", KDC_ERR_MALFORMED, NULL, NULL, NULL, 0 },
		{ "http://[::1]:80", KDC_ERR_MALFORMED, NULL, NULL, NULL, 0 },
		{ "coaps:/[::1]:80", KDC_ERR_MALFORMED, NULL, NULL, NULL, 0 },
		{ "coaps", KDC_ERR_MALFORMED, NULL, NULL, NULL, 0 },
		{ "", KDC_ERR_MALFORMED, NULL, NULL, NULL, 0 },
		{ "coaps://[fe80::1%25abcdefghijklmnopq]:1", KDC_ERR_TOO_LARGE, NULL, NULL, NULL, 0 },
	};
	struct kdc_ocf_ep ep;

	(void)state;
	for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
		kdc_err r = kdc_ocf_ep_parse(eps[i].s, strlen(eps[i].s), &ep);

		if (r != eps[i].want)
			fail_msg("\"%s\": %s, want %s", eps[i].s,
			    kdc_err_name(r), kdc_err_name(eps[i].want));
		if (r != KDC_OK)
			continue;
		assert_string_equal(ep.scheme, eps[i].scheme);
		assert_string_equal(ep.host, eps[i].host);
		assert_string_equal(ep.zone, eps[i].zone);
		assert_int_equal(ep.port, eps[i].port);
	}
}

static void
test_encode_refusals(void **state)
{
	size_t n = 99;

	(void)state;
	memset(&A, 0, sizeof(A));
	A.pstat.has = KDC_OCF_PSTAT_HAS_DOS_S;
	A.pstat.dos_s = 5;
	assert_int_equal(kdc_ocf_pstat_encode(&A.pstat, ebuf, sizeof(ebuf),
	    &n), KDC_ERR_INVALID_ARG);
	assert_int_equal(n, 0);
	memset(&A, 0, sizeof(A));
	A.acl2.has = KDC_OCF_ACL2_HAS_ACLIST2;
	A.acl2.n = 1;
	A.acl2.aces[0].subject = KDC_OCF_SUBJ_CONNTYPE;
	A.acl2.aces[0].conntype = KDC_OCF_CONN_AUTH_CRYPT;
	A.acl2.aces[0].permission = 32;
	assert_int_equal(kdc_ocf_acl2_encode(&A.acl2, ebuf, sizeof(ebuf), &n),
	    KDC_ERR_INVALID_ARG);
	A.acl2.aces[0].permission = 31;
	assert_int_equal(kdc_ocf_acl2_encode(&A.acl2, ebuf, sizeof(ebuf), &n),
	    KDC_OK);
	A.acl2.aces[0].subject = KDC_OCF_SUBJ_NONE;
	assert_int_equal(kdc_ocf_acl2_encode(&A.acl2, ebuf, sizeof(ebuf), &n),
	    KDC_ERR_INVALID_ARG);
	memset(&A, 0, sizeof(A));
	A.cred.has = KDC_OCF_CREDS_HAS_CREDS;
	A.cred.n = KDC_OCF_CREDS_MAX + 1;
	assert_int_equal(kdc_ocf_cred_encode(&A.cred, ebuf, sizeof(ebuf), &n),
	    KDC_ERR_INVALID_ARG);
	memset(&A, 0, sizeof(A));
	A.links.n = 1;	/* a link without href */
	assert_int_equal(kdc_ocf_links_encode(&A.links, ebuf, sizeof(ebuf),
	    &n), KDC_ERR_INVALID_ARG);
}

/* base/cbor.h: the existing readers still refuse indefinite lengths;
 * the opt-in ones take them. */
static void
test_cbor_indef(void **state)
{
	static const uint8_t m[] = { 0xbf, 0x61, 'a', 0x01, 0xff };
	static const uint8_t s[] = { 0x7f, 0x62, 'a', 'b', 0x61, 'c', 0xff };
	struct kdc_cbor_iter it;
	struct kdc_rd rd;
	uint64_t n;
	const char *p;
	char t[4];
	size_t tn;

	(void)state;
	kdc_rd_init(&rd, m, sizeof(m));
	assert_int_equal(kdc_cbor_read_map(&rd, &n), KDC_ERR_MALFORMED);
	kdc_rd_init(&rd, m, sizeof(m));
	assert_int_equal(kdc_cbor_skip(&rd, 4), KDC_ERR_MALFORMED);
	kdc_rd_init(&rd, s, sizeof(s));
	assert_int_equal(kdc_cbor_read_tstr(&rd, &p, &tn),
	    KDC_ERR_MALFORMED);

	kdc_rd_init(&rd, m, sizeof(m));
	assert_int_equal(kdc_cbor_iter_map(&rd, &it), KDC_OK);
	assert_true(it.indef);
	assert_true(kdc_cbor_iter_next(&rd, &it));
	assert_int_equal(kdc_cbor_read_tstr_copy(&rd, t, sizeof(t), &tn),
	    KDC_OK);
	assert_string_equal(t, "a");
	assert_int_equal(kdc_cbor_read_uint(&rd, &n), KDC_OK);
	assert_false(kdc_cbor_iter_next(&rd, &it));
	assert_int_equal(kdc_rd_err(&rd), KDC_OK);
	assert_true(kdc_rd_at_end(&rd));
	assert_false(kdc_cbor_iter_next(&rd, &it));	/* stays ended */

	kdc_rd_init(&rd, s, sizeof(s));
	assert_int_equal(kdc_cbor_read_tstr_copy(&rd, t, sizeof(t), &tn),
	    KDC_OK);
	assert_int_equal(tn, 3);
	assert_string_equal(t, "abc");
	kdc_rd_init(&rd, s, sizeof(s));	/* "abc" + NUL needs 4 */
	assert_int_equal(kdc_cbor_read_tstr_copy(&rd, t, 3, &tn),
	    KDC_ERR_TOO_LARGE);
	kdc_rd_init(&rd, s, sizeof(s));
	assert_int_equal(kdc_cbor_skip_indef(&rd, 1), KDC_OK);
	assert_true(kdc_rd_at_end(&rd));
	/* a definite array holding an indefinite map */
	{
		static const uint8_t d[] = { 0x81, 0xbf, 0x01, 0x9f, 0xff,
		    0xff };

		kdc_rd_init(&rd, d, sizeof(d));
		assert_int_equal(kdc_cbor_skip_indef(&rd, 3), KDC_OK);
		assert_true(kdc_rd_at_end(&rd));
		kdc_rd_init(&rd, d, sizeof(d));
		assert_int_equal(kdc_cbor_skip_indef(&rd, 2),
		    KDC_ERR_TOO_LARGE);
	}
}

/* ---- owner-PSK derivations --------------------------------------------- */

static void
unhex(const char *h, uint8_t *out, size_t want)
{
	size_t n = want;

	assert_int_equal(kdc_hex_decode(h, strlen(h), out, &n), KDC_OK);
	assert_int_equal(n, want);
}

static void
test_derivations(void **state)
{
	uint8_t sec[16], seed[16], want[100], out[100], dev[16], obt[16];
	uint8_t kb[96], psk[16];
	struct kdc_ocf_uuid u;

	(void)state;
	assert_int_equal(kdc_crypto_init(), KDC_OK);
	/*
	 * The TLS 1.2 PRF (P_SHA256) vector published on the IETF TLS list
	 * ("TLS 1.2 PRF test vectors", SHA-256, 100 bytes); re-checked here
	 * with Python's hmac/hashlib when this test was written.
	 */
	unhex("9bbe436ba940f017b17652849a71db35", sec, 16);
	unhex("a0ba9f936cda311827a6f796ffd5198c", seed, 16);
	unhex("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61e"
	    "db5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0"
	    "564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a51"
	    "10fff70187347b66", want, 100);
	assert_int_equal(kdc_tls12_prf_sha256(sec, 16, "test label", 10,
	    seed, 16, out, 100), KDC_OK);
	assert_memory_equal(out, want, 100);
	/* a shorter output is its prefix */
	assert_int_equal(kdc_tls12_prf_sha256(sec, 16, "test label", 10,
	    seed, 16, out, 33), KDC_OK);
	assert_memory_equal(out, want, 33);
	assert_int_equal(kdc_tls12_prf_sha256(sec, 16, "x", 1, seed, 16, out,
	    0), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_tls12_prf_sha256(sec, 16, "x", 1, seed, 16, out,
	    1025), KDC_ERR_INVALID_ARG);

	assert_int_equal(kdc_ocf_uuid_parse(DEV, 36, &u), KDC_OK);
	memcpy(dev, u.b, 16);
	assert_int_equal(kdc_ocf_uuid_parse(OBT, 36, &u), KDC_OK);
	memcpy(obt, u.b, 16);
	/*
	 * Random PIN PSK (ocf.md §2: PBKDF2-HMAC-SHA256, salt the raw
	 * deviceuuid, 1000 iterations, 16 bytes). Expected bytes made with
	 *   hashlib.pbkdf2_hmac('sha256', b'12345678',
	 *       uuid.UUID(DEV).bytes, 1000, 16).hex()
	 */
	assert_int_equal(kdc_ocf_rdp_psk("12345678", 8, dev, psk), KDC_OK);
	unhex("24fff773fb4ebdf0eb0fae5feb4a59d2", want, 16);
	assert_memory_equal(psk, want, 16);
	assert_int_equal(kdc_ocf_rdp_psk("12345679", 8, dev, psk), KDC_OK);
	assert_memory_not_equal(psk, want, 16);
	assert_int_equal(kdc_ocf_rdp_psk("", 0, dev, psk),
	    KDC_ERR_INVALID_ARG);
	/*
	 * Owner PSK (ocf.md §2): P_SHA256(key_block, OXM || OBT || DEV)[16]
	 * with key_block = bytes(range(96)). Expected bytes made with
	 * Python's hmac: a = seed; a = hmac(kb, a); out = hmac(kb, a + seed)
	 * for seed = b'oic.sec.doxm.rdp' + OBT + DEV (and ".jw").
	 */
	for (unsigned i = 0; i < 96; i++)
		kb[i] = (uint8_t)i;
	assert_int_equal(kdc_ocf_owner_psk(kb, 96, "oic.sec.doxm.rdp", obt,
	    dev, psk), KDC_OK);
	unhex("e9c5611abfab12093efd2e485a13f6f0", want, 16);
	assert_memory_equal(psk, want, 16);
	assert_int_equal(kdc_ocf_owner_psk(kb, 96, "oic.sec.doxm.jw", obt,
	    dev, psk), KDC_OK);
	unhex("79ccdadd6fa9c39c1843f0b91d98ca2e", want, 16);
	assert_memory_equal(psk, want, 16);
	/* the uuids' order matters */
	assert_int_equal(kdc_ocf_owner_psk(kb, 96, "oic.sec.doxm.jw", dev,
	    obt, psk), KDC_OK);
	assert_memory_not_equal(psk, want, 16);
	assert_int_equal(kdc_ocf_owner_psk(kb, 0, "oic.sec.doxm.jw", obt,
	    dev, psk), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdc_ocf_owner_psk(kb, 96, "", obt, dev, psk),
	    KDC_ERR_INVALID_ARG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doxm),
		cmocka_unit_test(test_pstat),
		cmocka_unit_test(test_cred),
		cmocka_unit_test(test_acl2),
		cmocka_unit_test(test_links),
		cmocka_unit_test(test_reencode),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_uuids),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_ep),
		cmocka_unit_test(test_encode_refusals),
		cmocka_unit_test(test_cbor_indef),
		cmocka_unit_test(test_derivations),
		cmocka_unit_test(test_csr),
		cmocka_unit_test(test_cred_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
