/*
 * fuzz_devcoap.c: the device library's CoAP request parser and bootstrap
 * handler (kdcdev_coap_dispatch(): bytes a Bootstrap Server sends). The
 * input is a sequence of requests, each behind a 2-byte big-endian
 * length, run on one client so that writes, deletes and Finish build on
 * each other. Checked: an answer fits the buffer and is a CoAP response
 * to the request (version 1, ACK for CON and NON for NON, the request's
 * message ID and token); the objects stay within their limits; the state
 * they make survives kdcdev_state_encode() -> kdcdev_state_decode() ->
 * encode byte for byte. Seeds: fuzz/corpus/devcoap/ (fuzz/seeds.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kdcdev.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t psk[16] = { 0x10, 0x11, 0x12, 0x13 };
static const uint8_t ident[] = "factory-id";

static void
check_answer(const uint8_t *req, size_t req_len, const uint8_t *out,
    size_t out_len, size_t cap)
{
	size_t tkl = req[0] & 0x0fu;

	if (out_len > cap || out_len < 4 + tkl || req_len < 4 + tkl)
		abort();
	if ((out[0] >> 6) != 1 || (out[0] & 0x0fu) != tkl)
		abort();	/* not version 1, or another token length */
	if (((out[0] >> 4) & 3u) != (((req[0] >> 4) & 3u) == 0 ? 2u : 1u))
		abort();	/* CON is answered ACK, NON is answered NON */
	if ((out[1] >> 5) < 2 || out[2] != req[2] || out[3] != req[3] ||
	    memcmp(out + 4, req + 4, tkl) != 0)
		abort();	/* not a response, or another MID/token */
}

static void
check_objects(const struct kdcdev_lwm2m *c)
{
	for (size_t i = 0; i < KDCDEV_MAX_SECURITY; i++) {
		const struct kdcdev_security *s = &c->sec[i];

		if (!s->used)
			continue;
		if (memchr(s->uri, '\0', sizeof(s->uri)) == NULL ||
		    s->ident_len > sizeof(s->ident) ||
		    s->server_key_len > sizeof(s->server_key) ||
		    s->secret_len > sizeof(s->secret))
			abort();
	}
	for (size_t i = 0; i < KDCDEV_MAX_SERVER; i++)
		if (c->srv[i].used && memchr(c->srv[i].binding, '\0',
		    sizeof(c->srv[i].binding)) == NULL)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kdcdev_lwm2m c, back;
	static uint8_t out[KDCDEV_BUF_MIN + 64];
	static uint8_t st1[KDCDEV_STATE_MAX], st2[KDCDEV_STATE_MAX];
	size_t n1 = sizeof(st1), n2 = sizeof(st2);

	if (kdcdev_init(&c, "urn:dev:fuzz") != KDC_OK ||
	    kdcdev_set_bootstrap_account(&c, 0, "coaps://127.0.0.1:5684",
	    KDCDEV_MODE_PSK, ident, sizeof(ident) - 1, NULL, 0, psk,
	    sizeof(psk)) != KDC_OK)
		abort();
	while (size >= 2) {
		size_t len = (size_t)data[0] << 8 | data[1], cap;

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		cap = sizeof(out);
		if (kdcdev_coap_dispatch(&c, data, len, out, &cap) == KDC_OK)
			check_answer(data, len, out, cap, sizeof(out));
		else if (cap != 0)
			abort();	/* an error with an answer */
		check_objects(&c);
		data += len;
		size -= len;
	}
	if (kdcdev_state_encode(&c, st1, &n1) != KDC_OK)
		abort();	/* KDCDEV_STATE_MAX always suffices */
	memset(&back, 0, sizeof(back));
	if (kdcdev_state_decode(&back, st1, n1) != KDC_OK ||
	    kdcdev_state_encode(&back, st2, &n2) != KDC_OK || n1 != n2 ||
	    memcmp(st1, st2, n1) != 0)
		abort();	/* the state does not survive a round trip */
	kdcdev_wipe(&c);
	kdcdev_wipe(&back);
	return 0;
}
