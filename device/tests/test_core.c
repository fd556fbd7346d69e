/*
 * test_core.c: the client core's bootstrap state machine, driven by CoAP
 * request bytes through kdcdev_coap_dispatch() (a byte-level driver, not
 * a peer mock), plus the state format and the register messages.
 *
 * Vectors: TLV payloads are the ones in protocols/lwm2m.md §2.3 that
 * wakaama, Anjay and coap-node answered 2.04; the full CoAP request for
 * /0/1 follows its "44 03 <mid> <tok4> b1 30 01 31 12 2d 16 ff <tlv>".
 * SenML-CBOR payloads were encoded by a separate 20-line Python CBOR
 * encoder (RFC 8949 §3, definite lengths) from
 *   [{-2:"/0/1/",0:"0",3:"coaps://127.0.0.1:5685"},{0:"1",4:false},
 *    {0:"2",2:0},{0:"3",8:h'6465762d31'},{0:"5",8:h'00..0f'},{0:"10",2:7}]
 *   [{-2:"/1/1/",0:"0",2:7},{0:"1",2:600},{0:"6",4:false},{0:"7",3:"U"}]
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "kdcdev.h"

static struct kdcdev_lwm2m C, SNAP;

static const uint8_t PSK16[16] = {
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

/* /0/x PSK server (lwm2m.md §2.3), uri "coaps://127.0.0.1:15684" */
static const uint8_t TLV_SEC_PSK[] = {
	0xc8, 0x00, 0x17, 'c', 'o', 'a', 'p', 's', ':', '/', '/', '1', '2', '7',
	'.', '0', '.', '0', '.', '1', ':', '1', '5', '6', '8', '4',
	0xc1, 0x01, 0x00, 0xc1, 0x02, 0x00,
	0xc8, 0x03, 0x0e, 'k', 'd', 'c', '-', 'd', 'e', 'v', 'i', 'c', 'e',
	'-', '0', '0', '1',
	0xc0, 0x04,
	0xc8, 0x05, 0x10, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
	0xc1, 0x0a, 0x02,
};
/* /1/x server ssid 2, lifetime 86400 */
static const uint8_t TLV_SRV_2[] = {
	0xc1, 0x00, 0x02, 0xc4, 0x01, 0x00, 0x01, 0x51, 0x80, 0xc1, 0x06, 0x01,
	0xc1, 0x07, 0x55,
};
/* /0/x NoSec, uri coap://127.0.0.1:15683, ssid 1 */
static const uint8_t TLV_SEC_NOSEC[] = {
	0xc8, 0x00, 0x16, 'c', 'o', 'a', 'p', ':', '/', '/', '1', '2', '7',
	'.', '0', '.', '0', '.', '1', ':', '1', '5', '6', '8', '3',
	0xc1, 0x01, 0x00, 0xc1, 0x02, 0x03, 0xc0, 0x03, 0xc0, 0x04, 0xc0, 0x05,
	0xc1, 0x0a, 0x01,
};
/* /1/x ssid 1, lifetime 300, notif-storing false, binding "U" */
static const uint8_t TLV_SRV_1[] = {
	0xc1, 0x00, 0x01, 0xc2, 0x01, 0x01, 0x2c, 0xc1, 0x06, 0x00, 0xc1, 0x07,
	0x55,
};

static const uint8_t SENML_SEC[] = {
	0x86, 0xa3, 0x21, 0x65, 0x2f, 0x30, 0x2f, 0x31, 0x2f, 0x00, 0x61, 0x30,
	0x03, 0x76, 0x63, 0x6f, 0x61, 0x70, 0x73, 0x3a, 0x2f, 0x2f, 0x31, 0x32,
	0x37, 0x2e, 0x30, 0x2e, 0x30, 0x2e, 0x31, 0x3a, 0x35, 0x36, 0x38, 0x35,
	0xa2, 0x00, 0x61, 0x31, 0x04, 0xf4, 0xa2, 0x00, 0x61, 0x32, 0x02, 0x00,
	0xa2, 0x00, 0x61, 0x33, 0x08, 0x45, 0x64, 0x65, 0x76, 0x2d, 0x31, 0xa2,
	0x00, 0x61, 0x35, 0x08, 0x50, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
	0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0xa2, 0x00, 0x62,
	0x31, 0x30, 0x02, 0x07,
};
static const uint8_t SENML_SRV[] = {
	0x84, 0xa3, 0x21, 0x65, 0x2f, 0x31, 0x2f, 0x31, 0x2f, 0x00, 0x61, 0x30,
	0x02, 0x07, 0xa2, 0x00, 0x61, 0x31, 0x02, 0x19, 0x02, 0x58, 0xa2, 0x00,
	0x61, 0x36, 0x04, 0xf4, 0xa2, 0x00, 0x61, 0x37, 0x03, 0x61, 0x55,
};

/* ---- a byte-level CoAP request builder (RFC 7252 §3) -------------------- */

struct rsp {
	uint8_t		type, code;
	int		cf;
	uint8_t		payload[KDCDEV_BUF_MIN];
	size_t		payload_len;
};

static size_t
put_opt(uint8_t *p, unsigned delta, const void *v, size_t len)
{
	size_t o = 1;
	unsigned dn, ln;

	assert_true(delta < 269 && len < 65535);
	if (delta < 13) {
		dn = delta;
	} else {
		dn = 13;
		p[o++] = (uint8_t)(delta - 13);
	}
	if (len < 13) {
		ln = (unsigned)len;
	} else if (len < 269) {
		ln = 13;
		p[o++] = (uint8_t)(len - 13);
	} else {
		ln = 14;
		p[o++] = (uint8_t)((len - 269) >> 8);
		p[o++] = (uint8_t)(len - 269);
	}
	p[0] = (uint8_t)(dn << 4 | ln);
	memcpy(p + o, v, len);
	return o + len;
}

/* path: "0/1" etc.; cf/accept < 0 = absent. Returns the message length. */
static size_t
build(uint8_t *m, uint8_t method, const char *path, int cf, int accept,
    const uint8_t *payload, size_t plen)
{
	size_t o = 0;
	unsigned last = 0;
	uint8_t b[2];

	m[o++] = 0x44;			/* ver 1, CON, tkl 4 */
	m[o++] = method;
	m[o++] = 0x12;
	m[o++] = 0x34;
	memcpy(m + o, "\xa1\xa2\xa3\xa4", 4);
	o += 4;
	while (*path != '\0') {
		const char *e = strchr(path, '/');
		size_t n = e ? (size_t)(e - path) : strlen(path);
		o += put_opt(m + o, 11 - last, path, n);
		last = 11;
		path += n + (e ? 1 : 0);
	}
	if (cf >= 0) {
		size_t n = cf > 255 ? 2 : cf > 0 ? 1 : 0;
		b[0] = (uint8_t)(cf > 255 ? cf >> 8 : cf);
		b[1] = (uint8_t)cf;
		o += put_opt(m + o, 12 - last, b, n);
		last = 12;
	}
	if (accept >= 0) {
		size_t n = accept > 255 ? 2 : accept > 0 ? 1 : 0;
		b[0] = (uint8_t)(accept > 255 ? accept >> 8 : accept);
		b[1] = (uint8_t)accept;
		o += put_opt(m + o, 17 - last, b, n);
	}
	if (plen > 0) {
		m[o++] = 0xff;
		memcpy(m + o, payload, plen);
		o += plen;
	}
	return o;
}

/* Parse our own answer: ACK, same MID and token, CF, payload. */
static void
parse(const uint8_t *o, size_t n, struct rsp *r)
{
	size_t i = 8;

	memset(r, 0, sizeof(*r));
	r->cf = -1;
	assert_true(n >= 8);
	assert_int_equal(o[0] & 0x0f, 4);
	r->type = (o[0] >> 4) & 3;
	r->code = o[1];
	assert_int_equal(o[2], 0x12);
	assert_int_equal(o[3], 0x34);
	assert_memory_equal(o + 4, "\xa1\xa2\xa3\xa4", 4);
	if (i < n && (o[i] >> 4) == 12) {
		size_t l = o[i] & 0x0f;
		r->cf = 0;
		for (size_t k = 0; k < l; k++)
			r->cf = r->cf << 8 | o[i + 1 + k];
		i += 1 + l;
	}
	if (i < n) {
		assert_int_equal(o[i], 0xff);
		r->payload_len = n - i - 1;
		memcpy(r->payload, o + i + 1, r->payload_len);
	}
}

static uint8_t
req(uint8_t method, const char *path, int cf, int accept,
    const uint8_t *payload, size_t plen, struct rsp *r)
{
	static uint8_t m[4096], out[4096];
	size_t n = build(m, method, path, cf, accept, payload, plen);
	size_t olen = sizeof(out);

	assert_int_equal(kdcdev_coap_dispatch(&C, m, n, out, &olen), KDC_OK);
	parse(out, olen, r);
	assert_int_equal(r->type, 2);		/* ACK */
	return r->code;
}

static uint8_t
put(const char *path, int cf, const uint8_t *p, size_t n)
{
	struct rsp r;

	return req(KDCDEV_PUT, path, cf, -1, p, n, &r);
}

#define CODE(c, d)	KDCDEV_CODE(c, d)

static int
setup(void **state)
{
	static const uint8_t id[] = "factory-id";

	(void)state;
	assert_int_equal(kdcdev_init(&C, "urn:dev:test-1"), KDC_OK);
	assert_int_equal(kdcdev_set_bootstrap_account(&C, 0,
	    "coaps://127.0.0.1:5684", KDCDEV_MODE_PSK, id, sizeof(id) - 1,
	    NULL, 0, PSK16, sizeof(PSK16)), KDC_OK);
	return 0;
}

static void
discover_str(char *s, size_t cap)
{
	struct rsp r;

	assert_int_equal(req(KDCDEV_GET, "", -1, KDCDEV_CF_LINK, NULL, 0, &r),
	    CODE(2, 5));
	assert_int_equal(r.cf, KDCDEV_CF_LINK);
	assert_true(r.payload_len < cap);
	memcpy(s, r.payload, r.payload_len);
	s[r.payload_len] = '\0';
}

/* ---- tests -------------------------------------------------------------- */

static void
test_discover_initial(void **state)
{
	char s[512];

	(void)state;
	discover_str(s, sizeof(s));
	assert_string_equal(s, "</>;lwm2m=1.1,</0/0>,</1>");
}

/* The exact request bytes of lwm2m.md §2.3 for /0/1 plus /1/1, then
 * Finish: the objects hold what the TLV said. */
static void
test_tlv_write_and_finish(void **state)
{
	static uint8_t m[512], out[512];
	size_t n = 0, olen = sizeof(out);
	const struct kdcdev_security *s;
	char d[512];
	struct rsp r;

	(void)state;
	m[n++] = 0x44; m[n++] = 0x03; m[n++] = 0x00; m[n++] = 0x07;
	memcpy(m + n, "\x01\x02\x03\x04", 4); n += 4;
	memcpy(m + n, "\xb1\x30\x01\x31\x12\x2d\x16\xff", 8); n += 8;
	memcpy(m + n, TLV_SEC_PSK, sizeof(TLV_SEC_PSK)); n += sizeof(TLV_SEC_PSK);
	assert_int_equal(kdcdev_coap_dispatch(&C, m, n, out, &olen), KDC_OK);
	assert_int_equal(olen, 8);
	assert_memory_equal(out, "\x64\x44\x00\x07\x01\x02\x03\x04", 8);

	assert_int_equal(put("1/1", KDCDEV_CF_TLV, TLV_SRV_2,
	    sizeof(TLV_SRV_2)), CODE(2, 4));

	s = &C.sec[1];
	assert_true(s->used && !s->bootstrap);
	assert_int_equal(s->iid, 1);
	assert_string_equal(s->uri, "coaps://127.0.0.1:15684");
	assert_int_equal(s->mode, KDCDEV_MODE_PSK);
	assert_int_equal(s->ident_len, 14);
	assert_memory_equal(s->ident, "kdc-device-001", 14);
	assert_int_equal(s->server_key_len, 0);
	assert_int_equal(s->secret_len, 16);
	assert_memory_equal(s->secret, PSK16, 16);
	assert_int_equal(s->ssid, 2);
	assert_true(C.srv[0].used);
	assert_int_equal(C.srv[0].iid, 1);
	assert_int_equal(C.srv[0].ssid, 2);
	assert_int_equal(C.srv[0].lifetime, 86400);
	assert_int_equal(C.srv[0].notif_storing, 1);
	assert_string_equal(C.srv[0].binding, "U");

	discover_str(d, sizeof(d));
	assert_string_equal(d, "</>;lwm2m=1.1,</0/0>,</0/1>;ssid=2,</1/1>;ssid=2");

	assert_int_equal(C.bs_finished, 0);
	assert_int_equal(req(KDCDEV_POST, "bs", -1, -1, NULL, 0, &r),
	    CODE(2, 4));
	assert_int_equal(C.bs_finished, 1);
}

static void
test_tlv_nosec_and_object_level(void **state)
{
	uint8_t obj[128];
	size_t n = 0;

	(void)state;
	/* PUT /1 with an object-instance wrapper: 08 <iid> <len8> ... */
	obj[n++] = 0x08; obj[n++] = 0x03; obj[n++] = (uint8_t)sizeof(TLV_SRV_1);
	memcpy(obj + n, TLV_SRV_1, sizeof(TLV_SRV_1));
	n += sizeof(TLV_SRV_1);
	assert_int_equal(put("1", KDCDEV_CF_TLV, obj, n), CODE(2, 4));
	assert_int_equal(put("0/3", KDCDEV_CF_TLV, TLV_SEC_NOSEC,
	    sizeof(TLV_SEC_NOSEC)), CODE(2, 4));
	assert_int_equal(C.srv[0].iid, 3);
	assert_int_equal(C.srv[0].lifetime, 300);
	assert_int_equal(C.srv[0].notif_storing, 0);
	assert_int_equal(C.sec[1].mode, KDCDEV_MODE_NOSEC);
	assert_string_equal(C.sec[1].uri, "coap://127.0.0.1:15683");
	assert_int_equal(C.sec[1].ssid, 1);
	/* resource-level write /1/3/1 (lifetime 600) */
	assert_int_equal(put("1/3/1", KDCDEV_CF_TLV,
	    (const uint8_t *)"\xc2\x01\x02\x58", 4), CODE(2, 4));
	assert_int_equal(C.srv[0].lifetime, 600);
	{
		struct rsp r;
		assert_int_equal(req(KDCDEV_POST, "bs", -1, -1, NULL, 0, &r),
		    CODE(2, 4));
	}
}

static void
test_senml_write(void **state)
{
	struct rsp r;

	(void)state;
	assert_int_equal(put("0/1", KDCDEV_CF_SENML_CBOR, SENML_SEC,
	    sizeof(SENML_SEC)), CODE(2, 4));
	assert_int_equal(put("1/1", KDCDEV_CF_SENML_CBOR, SENML_SRV,
	    sizeof(SENML_SRV)), CODE(2, 4));
	assert_string_equal(C.sec[1].uri, "coaps://127.0.0.1:5685");
	assert_int_equal(C.sec[1].mode, KDCDEV_MODE_PSK);
	assert_int_equal(C.sec[1].bootstrap, 0);
	assert_int_equal(C.sec[1].ident_len, 5);
	assert_memory_equal(C.sec[1].ident, "dev-1", 5);
	assert_int_equal(C.sec[1].secret_len, 16);
	assert_int_equal(C.sec[1].secret[15], 0x0f);
	assert_int_equal(C.sec[1].ssid, 7);
	assert_int_equal(C.srv[0].ssid, 7);
	assert_int_equal(C.srv[0].lifetime, 600);
	assert_int_equal(C.srv[0].notif_storing, 0);
	/* records outside the request path are refused, nothing applied */
	memcpy(&SNAP, &C, sizeof(C));
	assert_int_equal(put("0/2", KDCDEV_CF_SENML_CBOR, SENML_SEC,
	    sizeof(SENML_SEC)), CODE(4, 0));
	assert_memory_equal(&SNAP, &C, sizeof(C));
	assert_int_equal(req(KDCDEV_POST, "bs", -1, -1, NULL, 0, &r),
	    CODE(2, 4));
}

static void
test_delete_keeps_bs_account(void **state)
{
	char d[512];

	(void)state;
	assert_int_equal(put("0/1", KDCDEV_CF_TLV, TLV_SEC_PSK,
	    sizeof(TLV_SEC_PSK)), CODE(2, 4));
	assert_int_equal(put("1/1", KDCDEV_CF_TLV, TLV_SRV_2,
	    sizeof(TLV_SRV_2)), CODE(2, 4));
	{
		struct rsp r;
		assert_int_equal(req(KDCDEV_DELETE, "0", -1, -1, NULL, 0, &r),
		    CODE(2, 2));
		assert_int_equal(req(KDCDEV_DELETE, "1", -1, -1, NULL, 0, &r),
		    CODE(2, 2));
		discover_str(d, sizeof(d));
		assert_string_equal(d, "</>;lwm2m=1.1,</0/0>,</1>");
		assert_int_equal(kdcdev_bootstrap_account(&C), 0);
		assert_int_equal(C.sec[0].secret_len, 16);
		/* DELETE / too, and the BS account itself is refused */
		assert_int_equal(put("0/1", KDCDEV_CF_TLV, TLV_SEC_PSK,
		    sizeof(TLV_SEC_PSK)), CODE(2, 4));
		assert_int_equal(req(KDCDEV_DELETE, "", -1, -1, NULL, 0, &r),
		    CODE(2, 2));
		discover_str(d, sizeof(d));
		assert_string_equal(d, "</>;lwm2m=1.1,</0/0>,</1>");
		assert_int_equal(req(KDCDEV_DELETE, "0/0", -1, -1, NULL, 0,
		    &r), CODE(4, 0));
		assert_int_equal(kdcdev_bootstrap_account(&C), 0);
		/* objects we do not have: 2.02 (Anjay does the same) */
		assert_int_equal(req(KDCDEV_DELETE, "21", -1, -1, NULL, 0, &r),
		    CODE(2, 2));
	}
}

static void
test_finish_inconsistent(void **state)
{
	struct rsp r;

	(void)state;
	/* nothing but the BS account */
	assert_int_equal(req(KDCDEV_POST, "bs", -1, -1, NULL, 0, &r),
	    CODE(4, 6));
	/* /0/1 ssid 2 without a /1 */
	assert_int_equal(put("0/1", KDCDEV_CF_TLV, TLV_SEC_PSK,
	    sizeof(TLV_SEC_PSK)), CODE(2, 4));
	assert_int_equal(req(KDCDEV_POST, "bs", -1, -1, NULL, 0, &r),
	    CODE(4, 6));
	/* /1 with ssid 1: no match */
	assert_int_equal(put("1/1", KDCDEV_CF_TLV, TLV_SRV_1,
	    sizeof(TLV_SRV_1)), CODE(2, 4));
	assert_int_equal(req(KDCDEV_POST, "bs", -1, -1, NULL, 0, &r),
	    CODE(4, 6));
	/* ssid fixed, but PSK mode without a key */
	assert_int_equal(put("1/1/0", KDCDEV_CF_TLV,
	    (const uint8_t *)"\xc1\x00\x02", 3), CODE(2, 4));
	assert_int_equal(put("0/1/5", KDCDEV_CF_TLV,
	    (const uint8_t *)"\xc0\x05", 2), CODE(2, 4));
	assert_int_equal(req(KDCDEV_POST, "bs", -1, -1, NULL, 0, &r),
	    CODE(4, 6));
	assert_int_equal(C.bs_finished, 0);
	assert_int_equal(put("0/1/5", KDCDEV_CF_TLV,
	    (const uint8_t *)"\xc1\x05\x01", 3), CODE(2, 4));
	assert_int_equal(req(KDCDEV_POST, "bs", -1, -1, NULL, 0, &r),
	    CODE(2, 4));
	assert_int_equal(C.bs_finished, 1);
	/* mode 4 (Certificate with EST) needs the uri and the server
	 * certificate only; no server certificate: inconsistent */
	assert_int_equal(put("0/1/2", KDCDEV_CF_TLV,
	    (const uint8_t *)"\xc1\x02\x04", 3), CODE(2, 4));
	assert_int_equal(put("0/1/3", KDCDEV_CF_TLV,
	    (const uint8_t *)"\xc0\x03", 2), CODE(2, 4));
	assert_int_equal(put("0/1/5", KDCDEV_CF_TLV,
	    (const uint8_t *)"\xc0\x05", 2), CODE(2, 4));
	assert_int_equal(put("0/1/4", KDCDEV_CF_TLV,
	    (const uint8_t *)"\xc0\x04", 2), CODE(2, 4));
	assert_int_equal(req(KDCDEV_POST, "bs", -1, -1, NULL, 0, &r),
	    CODE(4, 6));
	assert_int_equal(put("0/1/4", KDCDEV_CF_TLV,
	    (const uint8_t *)"\xc1\x04\x30", 3), CODE(2, 4));
	assert_int_equal(req(KDCDEV_POST, "bs", -1, -1, NULL, 0, &r),
	    CODE(2, 4));
	for (size_t i = 0; i < KDCDEV_MAX_SECURITY; i++)
		if (C.sec[i].used && C.sec[i].iid == 1) {
			assert_int_equal(C.sec[i].mode, KDCDEV_MODE_EST);
			assert_int_equal(C.sec[i].ident_len, 0);
			assert_int_equal(C.sec[i].secret_len, 0);
		}
}

/* Refused writes leave every byte of the context as it was. */
static void
test_refused_writes_untouched(void **state)
{
	static uint8_t big[2048];
	size_t n = 0;

	(void)state;
	assert_int_equal(put("0/1", KDCDEV_CF_TLV, TLV_SEC_PSK,
	    sizeof(TLV_SEC_PSK)), CODE(2, 4));
	memcpy(&SNAP, &C, sizeof(C));

	/* identity of KDCDEV_IDENTITY_MAX + 1 bytes, after a valid uri:
	 * 4.13 and the uri is not applied either */
	big[n++] = 0xc8; big[n++] = 0x00; big[n++] = 5;
	memcpy(big + n, "coap:", 5); n += 5;
	big[n++] = 0xd0; big[n++] = 0x03;
	big[n++] = (uint8_t)((KDCDEV_IDENTITY_MAX + 1) >> 8);
	big[n++] = (uint8_t)(KDCDEV_IDENTITY_MAX + 1);
	memset(big + n, 'x', KDCDEV_IDENTITY_MAX + 1);
	n += KDCDEV_IDENTITY_MAX + 1;
	assert_int_equal(put("0/1", KDCDEV_CF_TLV, big, n), CODE(4, 13));
	assert_memory_equal(&SNAP, &C, sizeof(C));
	/* oversized uri */
	n = 0;
	big[n++] = 0xd0; big[n++] = 0x00; big[n++] = 0; big[n++] = 200;
	memset(big + n, 'u', 200); n += 200;
	assert_int_equal(put("0/1", KDCDEV_CF_TLV, big, n), CODE(4, 13));
	assert_memory_equal(&SNAP, &C, sizeof(C));
	/* truncated TLV */
	assert_int_equal(put("0/1", KDCDEV_CF_TLV, TLV_SEC_PSK,
	    sizeof(TLV_SEC_PSK) - 2), CODE(4, 0));
	assert_memory_equal(&SNAP, &C, sizeof(C));
	/* every truncation of a valid write is refused without change */
	for (size_t k = 1; k < sizeof(SENML_SEC); k++) {
		assert_int_not_equal(put("0/1", KDCDEV_CF_SENML_CBOR, SENML_SEC,
		    k), CODE(2, 4));
		assert_memory_equal(&SNAP, &C, sizeof(C));
	}
	/* mode out of range, ssid 0, bool of 2 */
	assert_int_equal(put("0/1/2", KDCDEV_CF_TLV,
	    (const uint8_t *)"\xc1\x02\x09", 3), CODE(4, 0));
	assert_int_equal(put("0/1/10", KDCDEV_CF_TLV,
	    (const uint8_t *)"\xc1\x0a\x00", 3), CODE(4, 0));
	assert_int_equal(put("0/1/1", KDCDEV_CF_TLV,
	    (const uint8_t *)"\xc1\x01\x02", 3), CODE(4, 0));
	/* the BS account stays one; a second one is refused */
	assert_int_equal(put("0/0/1", KDCDEV_CF_TLV,
	    (const uint8_t *)"\xc1\x01\x00", 3), CODE(4, 0));
	assert_int_equal(put("0/1/1", KDCDEV_CF_TLV,
	    (const uint8_t *)"\xc1\x01\x01", 3), CODE(4, 0));
	/* unknown object, unsupported format, empty payload */
	assert_int_equal(put("5/0", KDCDEV_CF_TLV, TLV_SRV_1,
	    sizeof(TLV_SRV_1)), CODE(4, 4));
	assert_int_equal(put("0/1", 110, (const uint8_t *)"[]", 2),
	    CODE(4, 15));
	assert_int_equal(put("0/1", KDCDEV_CF_TLV, NULL, 0), CODE(4, 0));
	/* no free /0 slot: 5.00 */
	assert_int_equal(put("0/2", KDCDEV_CF_TLV, TLV_SEC_NOSEC,
	    sizeof(TLV_SEC_NOSEC)), CODE(2, 4));
	assert_int_equal(put("0/3", KDCDEV_CF_TLV, TLV_SEC_NOSEC,
	    sizeof(TLV_SEC_NOSEC)), CODE(2, 4));
	memcpy(&SNAP, &C, sizeof(C));
	assert_int_equal(put("0/4", KDCDEV_CF_TLV, TLV_SEC_NOSEC,
	    sizeof(TLV_SEC_NOSEC)), CODE(5, 0));
	assert_memory_equal(&SNAP, &C, sizeof(C));
}

static void
test_other_requests(void **state)
{
	static uint8_t m[64], out[64];
	size_t n, olen;
	struct rsp r;

	(void)state;
	/* Bootstrap-Read of /0 is not allowed; TLV Read not offered */
	assert_int_equal(req(KDCDEV_GET, "0", -1, KDCDEV_CF_TLV, NULL, 0, &r),
	    CODE(4, 5));
	assert_int_equal(req(KDCDEV_GET, "0", -1, -1, NULL, 0, &r), CODE(2, 5));
	assert_int_equal(req(KDCDEV_GET, "7", -1, -1, NULL, 0, &r), CODE(4, 4));
	assert_int_equal(req(KDCDEV_GET, "bs", -1, -1, NULL, 0, &r),
	    CODE(4, 5));
	assert_int_equal(req(KDCDEV_POST, "0/0", -1, -1, NULL, 0, &r),
	    CODE(4, 5));
	assert_int_equal(req(KDCDEV_PUT, "x/1", KDCDEV_CF_TLV, -1,
	    TLV_SRV_1, sizeof(TLV_SRV_1), &r), CODE(4, 4));
	/* an unknown critical option (2049, OCF): 4.02 */
	n = build(m, KDCDEV_GET, "", -1, -1, NULL, 0);
	m[n++] = 0xe0; m[n++] = (uint8_t)((2049 - 269) >> 8);
	m[n++] = (uint8_t)(2049 - 269);
	olen = sizeof(out);
	assert_int_equal(kdcdev_coap_dispatch(&C, m, n, out, &olen), KDC_OK);
	assert_int_equal(out[1], CODE(4, 2));
	/* a NON request gets a NON answer */
	n = build(m, KDCDEV_GET, "", -1, -1, NULL, 0);
	m[0] = 0x54;
	olen = sizeof(out);
	assert_int_equal(kdcdev_coap_dispatch(&C, m, n, out, &olen), KDC_OK);
	assert_int_equal(out[0] & 0xf0, 0x50);
	assert_int_equal(out[1], CODE(2, 5));
	olen = 16;		/* too small for the Discover answer */
	assert_int_equal(kdcdev_coap_dispatch(&C, m, n, out, &olen),
	    KDC_ERR_TOO_LARGE);
	/* not requests / garbage: nothing to answer */
	olen = sizeof(out);
	assert_int_equal(kdcdev_coap_dispatch(&C, (const uint8_t *)"\x60\x45"
	    "\x00\x01", 4, out, &olen), KDC_ERR_MALFORMED);
	assert_int_equal(kdcdev_coap_dispatch(&C, (const uint8_t *)"\x48\x01"
	    "\x00\x01", 4, out, &olen), KDC_ERR_TRUNCATED);
	/* sticky error: 5.03 for everything, until cleared */
	assert_int_equal(kdcdev_fail(&C, KDC_ERR_IO), KDC_ERR_IO);
	assert_int_equal(kdcdev_fail(&C, KDC_ERR_TLS), KDC_ERR_IO);
	assert_int_equal(req(KDCDEV_GET, "", -1, -1, NULL, 0, &r), CODE(5, 3));
	kdcdev_clear_err(&C);
	assert_int_equal(req(KDCDEV_GET, "", -1, -1, NULL, 0, &r), CODE(2, 5));
}

/* Every prefix and every byte value at every position of a few requests:
 * no crash, no sanitizer report (ASan/UBSan build). */
static void
test_dispatch_mutations(void **state)
{
	static uint8_t m[256], mm[256], out[KDCDEV_BUF_MIN + 64];
	size_t n = build(m, KDCDEV_PUT, "1/1", KDCDEV_CF_SENML_CBOR, -1,
	    SENML_SRV, sizeof(SENML_SRV));

	(void)state;
	for (size_t k = 0; k <= n; k++) {
		size_t olen = sizeof(out);
		(void)kdcdev_coap_dispatch(&C, m, k, out, &olen);
	}
	for (size_t i = 0; i < n; i++) {
		for (unsigned b = 0; b < 256; b++) {
			size_t olen = sizeof(out);
			memcpy(mm, m, n);
			mm[i] = (uint8_t)b;
			(void)kdcdev_coap_dispatch(&C, mm, n, out, &olen);
		}
	}
}

static void
bootstrap_psk(void)
{
	struct rsp r;

	assert_int_equal(put("0/1", KDCDEV_CF_TLV, TLV_SEC_PSK,
	    sizeof(TLV_SEC_PSK)), CODE(2, 4));
	assert_int_equal(put("1/1", KDCDEV_CF_TLV, TLV_SRV_2,
	    sizeof(TLV_SRV_2)), CODE(2, 4));
	assert_int_equal(req(KDCDEV_POST, "bs", -1, -1, NULL, 0, &r),
	    CODE(2, 4));
}

static void
test_state_round_trip(void **state)
{
	static uint8_t buf[KDCDEV_STATE_MAX], mut[KDCDEV_STATE_MAX];
	static struct kdcdev_lwm2m d;
	size_t len = sizeof(buf);

	(void)state;
	bootstrap_psk();
	assert_int_equal(kdcdev_register_result(&C, KDCDEV_POST, "rd",
	    CODE(2, 1), "rd/abc1"), KDC_OK);
	assert_int_equal(kdcdev_state_encode(&C, buf, &len), KDC_OK);
	assert_memory_equal(buf, "KDCDEV\0\1", 8);

	kdcdev_init(&d, "other");
	assert_int_equal(kdcdev_state_decode(&d, buf, len), KDC_OK);
	assert_string_equal(d.ep, C.ep);
	assert_string_equal(d.location, "rd/abc1");
	assert_int_equal(d.registered, 1);
	assert_int_equal(d.bs_finished, 1);
	assert_memory_equal(d.sec, C.sec, sizeof(C.sec));
	assert_memory_equal(d.srv, C.srv, sizeof(C.srv));

	/* too small an output buffer */
	{
		size_t small = len - 1;
		assert_int_equal(kdcdev_state_encode(&C, mut, &small),
		    KDC_ERR_TOO_LARGE);
	}
	/* every truncation and every single-byte change is refused, and
	 * the target context stays as it was */
	kdcdev_init(&d, "untouched");
	memcpy(&SNAP, &d, sizeof(d));
	for (size_t k = 0; k < len; k++) {
		assert_int_not_equal(kdcdev_state_decode(&d, buf, k), KDC_OK);
		assert_memory_equal(&SNAP, &d, sizeof(d));
	}
	for (size_t i = 0; i < len; i++) {
		memcpy(mut, buf, len);
		mut[i] ^= 0x01;
		assert_int_not_equal(kdcdev_state_decode(&d, mut, len), KDC_OK);
		assert_memory_equal(&SNAP, &d, sizeof(d));
	}
	/* trailing bytes */
	memcpy(mut, buf, len);
	mut[len] = 0;
	assert_int_equal(kdcdev_state_decode(&d, mut, len + 1),
	    KDC_ERR_TRAILING);
	/* another version */
	memcpy(mut, buf, len);
	mut[7] = 2;
	assert_int_equal(kdcdev_state_decode(&d, mut, len),
	    KDC_ERR_UNSUPPORTED);
	assert_memory_equal(&SNAP, &d, sizeof(d));
	kdcdev_wipe(&d);
}

static void
test_register_messages(void **state)
{
	static uint8_t buf[512];
	struct kdcdev_msg m;

	(void)state;
	assert_int_equal(kdcdev_msg_register(&C, 0, &m, buf, sizeof(buf)),
	    KDC_ERR_NOT_FOUND);
	assert_int_equal(kdcdev_msg_bootstrap(&C, 11542, &m, buf,
	    sizeof(buf)), KDC_OK);
	assert_int_equal(m.method, KDCDEV_POST);
	assert_string_equal(m.path, "bs");
	assert_string_equal(m.query, "ep=urn:dev:test-1&pct=11542");
	bootstrap_psk();
	assert_int_equal(kdcdev_msg_register(&C, 0, &m, buf, sizeof(buf)),
	    KDC_OK);
	assert_string_equal(m.path, "rd");
	assert_string_equal(m.query,
	    "ep=urn:dev:test-1&lt=86400&lwm2m=1.1&b=U");
	assert_int_equal(m.content_format, KDCDEV_CF_LINK);
	assert_int_equal(m.payload_len, 6);
	assert_memory_equal(m.payload, "</1/1>", 6);
	assert_int_equal(kdcdev_msg_register(&C, 300, &m, buf, 20),
	    KDC_ERR_TOO_LARGE);
	assert_int_equal(kdcdev_msg_update(&C, 0, &m, buf, sizeof(buf)),
	    KDC_ERR_INVALID_ARG);
	/* answers */
	assert_int_equal(kdcdev_register_result(&C, KDCDEV_POST, "rd",
	    CODE(4, 3), NULL), KDC_ERR_PEER_ERROR);
	assert_int_equal(kdcdev_register_result(&C, KDCDEV_POST, "rd",
	    CODE(2, 1), "rd//x"), KDC_ERR_MALFORMED);
	assert_int_equal(kdcdev_register_result(&C, KDCDEV_POST, "rd",
	    CODE(2, 1), "rd/5a3f"), KDC_OK);
	assert_string_equal(C.location, "rd/5a3f");
	assert_int_equal(kdcdev_msg_update(&C, 120, &m, buf, sizeof(buf)),
	    KDC_OK);
	assert_string_equal(m.path, "rd/5a3f");
	assert_string_equal(m.query, "lt=120");
	assert_int_equal(kdcdev_msg_deregister(&C, &m, buf, sizeof(buf)),
	    KDC_OK);
	assert_int_equal(m.method, KDCDEV_DELETE);
	assert_string_equal(m.path, "rd/5a3f");
	assert_int_equal(kdcdev_register_result(&C, KDCDEV_DELETE, "rd/5a3f",
	    CODE(2, 2), NULL), KDC_OK);
	assert_int_equal(C.registered, 0);
	assert_string_equal(C.location, "");
}

static void
test_init_limits(void **state)
{
	static struct kdcdev_lwm2m d;
	char ep[KDCDEV_EP_MAX + 1];

	(void)state;
	memset(ep, 'e', sizeof(ep) - 1);
	ep[sizeof(ep) - 1] = '\0';
	assert_int_equal(kdcdev_init(&d, ep), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdcdev_get_err(&d), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdcdev_init(&d, ""), KDC_ERR_INVALID_ARG);
	assert_int_equal(kdcdev_init(&d, "ok"), KDC_OK);
	assert_int_equal(kdcdev_set_bootstrap_account(&d, 0, "coaps://h",
	    KDCDEV_MODE_PSK, (const uint8_t *)"i", 1, NULL, 0, PSK16,
	    KDCDEV_SECRET_MAX + 1), KDC_ERR_TOO_LARGE);
	assert_int_equal(kdcdev_set_bootstrap_account(&d, 0, "coaps://h",
	    KDCDEV_MODE_PSK, (const uint8_t *)"i", 1, NULL, 0, PSK16, 16),
	    KDC_OK);
	assert_int_equal(kdcdev_set_bootstrap_account(&d, 1, "coaps://h",
	    KDCDEV_MODE_PSK, (const uint8_t *)"i", 1, NULL, 0, PSK16, 16),
	    KDC_ERR_EXISTS);
}

/* The renewal policy: fraction, jitter bounds, clamps, no overflow. */
static void
test_renew_at(void **state)
{
	const int64_t nb = 1700000000, day = 86400;
	int64_t at, lo = INT64_MAX, hi = INT64_MIN;
	uint32_t x = 2463534242u;

	(void)state;
	/* half of a 30-day lifetime, no jitter, whatever rnd */
	assert_int_equal(kdcdev_renew_at_ms(nb, nb + 30 * day, 500, 0, 0),
	    (nb + 15 * day) * 1000);
	assert_int_equal(kdcdev_renew_at_ms(nb, nb + 30 * day, 500, 0,
	    0xffffffffu), (nb + 15 * day) * 1000);
	/* jitter 10 %: rnd 0 is -10 %, the top is +10 %, the middle 0 */
	assert_int_equal(kdcdev_renew_at_ms(nb, nb + 30 * day, 500, 100, 0),
	    (nb * 1000 + 15 * day * 1000 - 15 * day * 100));
	assert_int_equal(kdcdev_renew_at_ms(nb, nb + 30 * day, 500, 100,
	    0xffffffffu), (nb * 1000 + 15 * day * 1000 + 15 * day * 100));
	at = kdcdev_renew_at_ms(nb, nb + 30 * day, 500, 100, 0x80000000u);
	assert_true(at - (nb + 15 * day) * 1000 < 15 * day * 1000 / 30000 + 1 &&
	    (nb + 15 * day) * 1000 - at < 15 * day * 1000 / 30000 + 1);
	/* a spread fleet: 10,000 draws stay within +-10 % and reach both
	 * ends to within 1 % */
	for (int i = 0; i < 10000; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		at = kdcdev_renew_at_ms(nb, nb + 30 * day, 500, 100, x);
		lo = at < lo ? at : lo;
		hi = at > hi ? at : hi;
	}
	assert_true(lo >= (nb + 15 * day) * 1000 - 15 * day * 100);
	assert_true(hi <= (nb + 15 * day) * 1000 + 15 * day * 100);
	assert_true(lo < (nb + 15 * day) * 1000 - 15 * day * 99);
	assert_true(hi > (nb + 15 * day) * 1000 + 15 * day * 99);
	/* clamps: fraction 0 -> 1/1000, over 999 -> 999/1000, and never
	 * later than 1 s before expiry even with the largest jitter */
	assert_int_equal(kdcdev_renew_at_ms(nb, nb + 1000, 0, 0, 0),
	    nb * 1000 + 1000);
	assert_int_equal(kdcdev_renew_at_ms(nb, nb + 1000, 5000, 0, 0),
	    nb * 1000 + 999000);
	assert_int_equal(kdcdev_renew_at_ms(nb, nb + 1000, 999, 999,
	    0xffffffffu), (nb + 1000) * 1000 - 1000);
	assert_int_equal(kdcdev_renew_at_ms(nb, nb + 1000, 1, 999, 0),
	    nb * 1000 + 1);		/* 1000 ms - 999 ms */
	/* a lifetime of seconds (the compressed-clock tests) */
	assert_int_equal(kdcdev_renew_at_ms(nb, nb + 20, 500, 0, 0),
	    nb * 1000 + 10000);
	/* nothing left: now */
	assert_int_equal(kdcdev_renew_at_ms(nb, nb, 500, 100, 7), nb * 1000);
	assert_int_equal(kdcdev_renew_at_ms(nb, nb - 5, 500, 100, 7),
	    nb * 1000);
	/* a 200-year certificate does not overflow */
	at = kdcdev_renew_at_ms(0, 200 * 365 * day, 500, 999, 0xffffffffu);
	assert_true(at > 100 * 365 * day * 1000 &&
	    at < 200 * 365 * day * 1000);
	/* absurd inputs are clamped to +-2^50 s: no overflow (UBSan) */
	assert_int_equal(kdcdev_renew_at_ms(INT64_MAX, INT64_MAX, 500, 0, 0),
	    ((int64_t)1 << 50) * 1000);
	assert_int_equal(kdcdev_renew_at_ms(INT64_MIN, INT64_MIN, 500, 0, 0),
	    -((int64_t)1 << 50) * 1000);
	at = kdcdev_renew_at_ms(INT64_MIN, INT64_MAX, 999, 999, 0xffffffffu);
	assert_true(at > 0 && at < ((int64_t)1 << 50) * 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_discover_initial, setup),
		cmocka_unit_test_setup(test_tlv_write_and_finish, setup),
		cmocka_unit_test_setup(test_tlv_nosec_and_object_level, setup),
		cmocka_unit_test_setup(test_senml_write, setup),
		cmocka_unit_test_setup(test_delete_keeps_bs_account, setup),
		cmocka_unit_test_setup(test_finish_inconsistent, setup),
		cmocka_unit_test_setup(test_refused_writes_untouched, setup),
		cmocka_unit_test_setup(test_other_requests, setup),
		cmocka_unit_test_setup(test_dispatch_mutations, setup),
		cmocka_unit_test_setup(test_state_round_trip, setup),
		cmocka_unit_test_setup(test_register_messages, setup),
		cmocka_unit_test(test_init_limits),
		cmocka_unit_test(test_renew_at),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
