/*
 * fuzz_ocf_dev.c: the OCF device core's request handler
 * (kdcdev_ocf_handle(), kdcdev_ocf.h) with arbitrary payloads on every
 * path, method, peer kind and pstat state, plus the CoAP framing
 * (kdcdev_ocf_coap_parse) and the state decoder on the same bytes.
 * The whole input also goes through kdcdev_ocf_exchange() as a CoAP
 * datagram (fresh, mid-Block1, multicast). Then: byte 0 = path (low 4 bits) and method (high bits), byte 1 =
 * peer kind (bits 0-1), dos.s (bits 2-4), DOC open (bit 5); the rest is
 * the payload. The device starts each input from one onboarded snapshot
 * (owner 11..11, a pairwise PSK and an ACE), so every write path runs.
 * Checked: the answer fits its buffer; a refused request (4.xx) leaves
 * the persistent state untouched.
 * Seeds: fuzz/corpus/ocf_dev/: the OCF codec's (tests/vectors/ocf/gen.py)
 * behind two selector bytes, a light and an sdi POST, a DELETE, and four
 * CoAP datagrams (GET /oic/res with and without Block2, a Block1 POST).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kdcdev.h"
#include "kdcdev_ocf.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const paths[] = {
	"/oic/res", "/oic/d", "/oic/p", "/oic/sec/doxm", "/oic/sec/pstat",
	"/oic/sec/cred", "/oic/sec/acl2", "/oic/sec/csr", "/oic/sec/sdi",
	"/a/light", "/oic/sec/roles", "/",
};

static uint8_t ctr;

static kdc_err
f_random(void *arg, uint8_t *b, size_t n)
{
	(void)arg;
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(ctr++ * 29u + 7u);
	return KDC_OK;
}

static kdc_err
f_pin(void *arg, const char *pin)
{
	(void)arg;
	(void)pin;
	return KDC_OK;
}

static kdc_err
f_keypair(void *arg, uint8_t *key, size_t *len)
{
	(void)arg;
	memset(key, 0x42, 32);
	*len = 32;
	return KDC_OK;
}

static kdc_err
f_csr(void *arg, const uint8_t *key, size_t key_len, const char *uuid,
    char *out, size_t *out_len)
{
	(void)arg;
	(void)key;
	(void)key_len;
	(void)uuid;
	if (*out_len < 3)
		return KDC_ERR_TOO_LARGE;
	memcpy(out, "CSR", 3);
	*out_len = 3;
	return KDC_OK;
}

static kdc_err
f_cert(void *arg, enum kdc_ocf_credusage usage, const uint8_t *pem,
    size_t pem_len, const uint8_t *key, size_t key_len, const char *uuid)
{
	(void)arg;
	(void)usage;
	(void)key;
	(void)key_len;
	(void)uuid;
	return pem_len > 0 && pem[0] == '-' ? KDC_OK : KDC_ERR_UNTRUSTED;
}

static struct kdcdev_ocf snap, d, before;
static bool ready;

static void
req(uint8_t method, const char *path, const uint8_t *b, size_t n,
    struct kdcdev_ocf_peer peer)
{
	static uint8_t out[20480];
	struct kdcdev_ocf_req r = {
		.method = method, .path = path, .query = "",
		.content_format = KDCDEV_OCF_CF, .payload = b,
		.payload_len = n, .peer = peer,
	};
	struct kdcdev_ocf_resp resp = { .out = out, .out_cap = sizeof(out) };

	kdcdev_ocf_handle(&snap, &r, &resp);
}

/* The OTM of ocf.md §2 by hand-written CBOR. */
static void
make_snapshot(void)
{
	static const struct kdcdev_ocf_ops ops = {
		.random = f_random, .pin_display = f_pin,
		.new_keypair = f_keypair, .csr = f_csr, .cert_check = f_cert,
	};
	static const uint8_t kb[96];
	struct kdcdev_ocf_peer un = { .kind = KDCDEV_OCF_PEER_UNSECURED };
	struct kdcdev_ocf_peer doc = { .kind = KDCDEV_OCF_PEER_DOC };
#define U1 "11111111-1111-1111-1111-111111111111"
#define U2 "22222222-2222-2222-2222-222222222222"
#define KV(k, v) "\xa1" k "\x78\x24" v
	static const char sel[] = "\xa1\x66oxmsel\x01";
	static const char own[] = KV("\x6c" "devowneruuid", U1);
	static const char row[] = KV("\x6a" "rowneruuid", U1);
	static const char dev[] = KV("\x6a" "deviceuuid", U2);
	static const char owned[] = "\xa1\x65owned\xf5";
	static const char cred[] = "\xa2\x65" "creds\x81\xa3\x68" "credtype\x01"
	    "\x6b" "subjectuuid\x78\x24" U1 "\x6b" "privatedata\xa1\x64" "data"
	    "\x40\x6a" "rowneruuid\x78\x24" U1;
	static const char rfpro[] = "\xa1\x63" "dos\xa1\x61s\x02";

	if (kdcdev_ocf_init(&snap, &ops, true, true, "fuzz") != KDC_OK)
		abort();
	req(2, "/oic/sec/doxm", (const uint8_t *)sel, sizeof(sel) - 1, un);
	kdcdev_ocf_doc_begin(&snap, kb, sizeof(kb));
	req(2, "/oic/sec/doxm", (const uint8_t *)own, sizeof(own) - 1, doc);
	req(2, "/oic/sec/doxm", (const uint8_t *)dev, sizeof(dev) - 1, doc);
	req(2, "/oic/sec/doxm", (const uint8_t *)row, sizeof(row) - 1, doc);
	req(2, "/oic/sec/acl2", (const uint8_t *)row, sizeof(row) - 1, doc);
	req(2, "/oic/sec/pstat", (const uint8_t *)row, sizeof(row) - 1, doc);
	req(2, "/oic/sec/cred", (const uint8_t *)cred, sizeof(cred) - 1, doc);
	req(2, "/oic/sec/doxm", (const uint8_t *)owned, sizeof(owned) - 1,
	    doc);
	req(2, "/oic/sec/pstat", (const uint8_t *)rfpro, sizeof(rfpro) - 1,
	    doc);
	if (kdcdev_ocf_doc_end(&snap) != KDC_OK ||
	    snap.pstat.dos_s != KDC_OCF_DOS_RFPRO || snap.creds.n != 1)
		abort();		/* the harness's own OTM must work */
	kdcdev_ocf_doc_begin(&snap, kb, sizeof(kb));	/* kept for bit 5 */
	snap.doc_active = false;
	snap.changed = false;
#undef KV
}

/* The persistent part, compared through its encoding. */
static bool
same_state(const struct kdcdev_ocf *a, const struct kdcdev_ocf *b)
{
	static uint8_t ea[KDCDEV_OCF_STATE_MAX], eb[KDCDEV_OCF_STATE_MAX];
	size_t na = sizeof(ea), nb = sizeof(eb);

	if (kdcdev_ocf_state_encode(a, ea, &na) != KDC_OK ||
	    kdcdev_ocf_state_encode(b, eb, &nb) != KDC_OK)
		abort();
	return na == nb && memcmp(ea, eb, na) == 0 &&
	    a->pstat.dos_s == b->pstat.dos_s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[20480 + 16];
	struct kdcdev_ocf_coap m;
	struct kdcdev_ocf_req r;
	struct kdcdev_ocf_resp resp;
	const char *peer_uuid = "11111111-1111-1111-1111-111111111111";

	if (!ready) {
		make_snapshot();
		ready = true;
	}
	(void)kdcdev_ocf_coap_parse(data, size, &m);
	/* the whole input as one datagram through the CoAP exchange: with
	 * no transfer going on, in the middle of a Block1 one, multicast */
	for (int k = 0; k < 3; k++) {
		static struct kdcdev_ocf_block1 b1;
		static uint8_t xo[2048];
		struct kdcdev_ocf_peer pu = { .kind = KDCDEV_OCF_PEER_AUTH };
		size_t on = sizeof(xo);
		uint16_t mid = 0;
		uint8_t code;

		d = snap;
		memset(&b1, 0, sizeof(b1));
		if (k == 1) {
			b1.active = true;
			b1.len = 1024;
		}
		if (kdc_ocf_uuid_parse(peer_uuid, 36, &pu.uuid) != KDC_OK)
			abort();
		kdcdev_ocf_exchange(&d, data, size, &pu, &b1, k == 2, &mid,
		    out, 20480, xo, &on, &m, &code);
		if (on > sizeof(xo) || b1.len > sizeof(b1.buf))
			abort();
	}
	d = snap;
	(void)kdcdev_ocf_state_decode(&d, data, size);
	if (size < 2)
		return 0;
	d = snap;
	d.pstat.dos_s = ((unsigned)data[1] >> 2) % 5u;
	d.doc_active = (data[1] & 0x20u) != 0;
	before = d;
	memset(&r, 0, sizeof(r));
	r.method = (uint8_t)(1u + ((unsigned)data[0] >> 4) % 4u);
	r.path = paths[(data[0] & 0x0fu) % (sizeof(paths) / sizeof(paths[0]))];
	r.query = (data[1] & 0x40u) ? "credid=1" : "aceid=1";
	r.content_format = (data[1] & 0x80u) ? 60 : KDCDEV_OCF_CF;
	r.payload = data + 2;
	r.payload_len = size - 2;
	r.peer.kind = (enum kdcdev_ocf_peer_kind)(data[1] & 3u) % 3;
	if (kdc_ocf_uuid_parse(peer_uuid, 36, &r.peer.uuid) != KDC_OK)
		abort();
	memset(&resp, 0, sizeof(resp));
	resp.out = out;
	resp.out_cap = 20480;
	kdcdev_ocf_handle(&d, &r, &resp);
	if (resp.out_len > resp.out_cap)
		abort();
	if ((resp.code >> 5) == 4 && !same_state(&d, &before))
		abort();		/* a refusal changed something */
	return 0;
}
