/*
 * engclient: the engine's client mode (coap.h) driven from a test, for
 * tests/integration/test_engine_multicast.sh and test_engine_client.sh.
 * A short-lived engine of its own (a core over an in-memory store, no
 * listener), as `iotkdc lwm2m bootstrap-device` runs one.
 *
 *   engclient mc IFNAME GROUP PORT PATH QUERY WINDOW_MS [MAX]
 *       kdc_coap_multicast(): one line per answer handed over,
 *         answer ADDR PORT C.DD PAYLOAD
 *       then at the end
 *         done status=OK answers=N over_cap=N dropped=N elapsed_ms=N
 *         stats mc_requests=N mc_answers=N mc_dropped=N
 *       Exit 0 when done came with KDC_OK.
 *
 *   engclient get ADDR PORT PATH CRED...
 *       kdc_coap_connect2() then one GET; CRED is
 *         psk IDENTITY_HEX KEY_FILE [ocf] [prf=client|server:LABEL:LEN]
 *           (the key as hex in a file; prf: the PRF output kept from
 *           the handshake, printed "suite 0xXXXX" and "prf HEX" once
 *           connected: a test key's, never a real one's)
 *         rpk TRUST_SPKI_PEM [OUR_SPKI_PEM OUR_KEY_PEM]
 *         x509 TRUST_CA_PEM [OUR_CERT_PEM OUR_KEY_PEM]
 *         jw [prf=client|server:LABEL:LEN] [post] [noauth]
 *           (OCF Just Works, suite 0xFF00, unauthenticated; post: then
 *           a POST of "jw" to PATH on the same session, its answer
 *           printed as the GET's; noauth: without unauthenticated=true,
 *           which the engine must refuse)
 *       The check (RPK: the server's SPKI equals TRUST_SPKI_PEM's;
 *       X.509: its chain verifies under TRUST_CA_PEM) prints
 *         check type=rpk|x509 n=N verdict=accept|refuse
 *       then "connected peer=ADDR", "answer C.DD PAYLOAD"; or
 *       "connect failed: ERROR" (exit 2), "request failed: ERROR" (3).
 *
 *   engclient nosec ADDR PORT METHOD PATH QUERY PAYLOAD [ocf]
 *       kdc_coap_connect2() KDC_COAP_CLIENT_NOSEC (unauthenticated: plain
 *       CoAP) then one kdc_coap_request2(): METHOD get|post, QUERY and
 *       PAYLOAD "-" for none; ocf: Content-Format (with a payload) and
 *       Accept 10000, 2049 and 2053 = 0x0800. Prints "connected peer=
 *       ADDR suite=0x0000", then "answer C.DD cf=N ocf_version=N
 *       PAYLOAD", or the failures as get's. ENGCLIENT_ACK_MS: CoAP
 *       ACK_TIMEOUT (a lossy path's retransmission, sooner).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#include "base/log.h"
#include "coap/coap.h"
#include "core/config.h"
#include "core/core.h"
#include "crypto/crypto.h"
#include "store/store.h"

static struct {
	bool		 done;
	int		 rc;
	uint64_t	 t0;
	gnutls_datum_t	 trust;		/* RPK: SPKI DER; X.509: CA PEM */
} g;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
print_payload(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n && i < 200; i++)
		putchar(p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '.');
}

static void
on_answer(void *arg, const char *addr, int port, const struct kdc_coap_msg *m)
{
	(void)arg;
	printf("answer %s %d %d.%02d ", addr, port, m->code >> 5, m->code & 31);
	print_payload(m->payload, m->payload_len);
	putchar('\n');
	fflush(stdout);
}

static void
mc_done(void *arg, kdc_err status, const struct kdc_coap_mc_end *e)
{
	struct kdc_coap *c = arg;
	struct kdc_coap_stats s;

	kdc_coap_stats(c, &s);
	printf("done status=%s answers=%u over_cap=%u dropped=%u "
	    "elapsed_ms=%llu\n", status == KDC_OK ? "OK" : kdc_err_str(status),
	    e->answers, e->over_cap, e->dropped,
	    (unsigned long long)(now_ms() - g.t0));
	printf("stats mc_requests=%llu mc_answers=%llu mc_dropped=%llu\n",
	    (unsigned long long)s.mc_requests,
	    (unsigned long long)s.mc_answers,
	    (unsigned long long)s.mc_dropped);
	fflush(stdout);
	g.done = true;
	g.rc = status == KDC_OK ? 0 : 1;
}

static int
read_file(const char *path, gnutls_datum_t *d)
{
	if (gnutls_load_file(path, d) < 0) {
		fprintf(stderr, "engclient: cannot read %s\n", path);
		return -1;
	}
	return 0;
}

static kdc_err
check(void *arg, enum kdc_coap_client_cred type, const uint8_t *const *der,
    const size_t *len, size_t n)
{
	kdc_err r = KDC_ERR_UNTRUSTED;

	(void)arg;
	if (type == KDC_COAP_CLIENT_RPK) {
		if (n == 1 && len[0] == g.trust.size &&
		    memcmp(der[0], g.trust.data, len[0]) == 0)
			r = KDC_OK;
	} else {
		gnutls_x509_trust_list_t tl = NULL;
		gnutls_x509_crt_t crts[8];
		unsigned status = 1, k = 0;

		if (gnutls_x509_trust_list_init(&tl, 0) == 0 &&
		    gnutls_x509_trust_list_add_trust_mem(tl, &g.trust, NULL,
		    GNUTLS_X509_FMT_PEM, 0, 0) > 0) {
			for (; k < n && k < 8; k++) {
				gnutls_datum_t d = { (unsigned char *)
				    (uintptr_t)der[k], (unsigned)len[k] };

				if (gnutls_x509_crt_init(&crts[k]) < 0)
					break;
				if (gnutls_x509_crt_import(crts[k], &d,
				    GNUTLS_X509_FMT_DER) < 0) {
					gnutls_x509_crt_deinit(crts[k]);
					break;
				}
			}
			if (k == n && gnutls_x509_trust_list_verify_crt(tl,
			    crts, k, 0, &status, NULL) == 0 && status == 0)
				r = KDC_OK;
			for (unsigned i = 0; i < k; i++)
				gnutls_x509_crt_deinit(crts[i]);
		}
		if (tl != NULL)
			gnutls_x509_trust_list_deinit(tl, 1);
	}
	printf("check type=%s n=%zu verdict=%s\n",
	    type == KDC_COAP_CLIENT_RPK ? "rpk" : "x509", n,
	    r == KDC_OK ? "accept" : "refuse");
	fflush(stdout);
	return r;
}

static bool verbose_answer;
static const char *get_path;
static bool then_post;
static size_t prf_len;

static void
got(void *arg, struct kdc_coap_peer *peer, kdc_err status,
    const struct kdc_coap_msg *rsp)
{
	(void)arg;
	if (status == KDC_OK && then_post) {
		kdc_err r;

		then_post = false;
		printf("answer %d.%02d ", rsp->code >> 5, rsp->code & 31);
		print_payload(rsp->payload, rsp->payload_len);
		putchar('\n');
		fflush(stdout);
		r = kdc_coap_request(peer, KDC_COAP_POST, get_path,
		    KDC_CF_OCTET_STREAM, KDC_CF_NONE, (const uint8_t *)"jw", 2,
		    got, arg);
		if (r == KDC_OK)
			return;
		status = r;
	}
	if (status != KDC_OK) {
		printf("request failed: %s\n", kdc_err_str(status));
		g.rc = 3;
	} else {
		printf("answer %d.%02d ", rsp->code >> 5, rsp->code & 31);
		if (verbose_answer)
			printf("cf=%d ocf_version=%u ", rsp->content_format,
			    (unsigned)rsp->ocf_version);
		print_payload(rsp->payload, rsp->payload_len);
		putchar('\n');
		g.rc = 0;
	}
	fflush(stdout);
	g.done = true;
}

static struct kdc_coap_peer *held;
static struct kdc_coap_req nsreq;
static bool nosec;

static void
connected(void *arg, struct kdc_coap_peer *peer, kdc_err status)
{
	uint8_t prf[KDC_COAP_PRF_MAX];
	kdc_err r;

	(void)arg;
	if (status != KDC_OK) {
		printf("connect failed: %s\n", kdc_err_str(status));
		fflush(stdout);
		g.rc = 2;
		g.done = true;
		return;
	}
	printf("connected peer=%s suite=0x%04x\n", kdc_coap_peer_addr(peer),
	    kdc_coap_peer_suite(peer));
	if (prf_len > 0) {
		if ((r = kdc_coap_peer_prf(peer, prf, prf_len)) != KDC_OK)
			printf("prf failed: %s\n", kdc_err_str(r));
		else {
			printf("prf ");
			for (size_t i = 0; i < prf_len; i++)
				printf("%02x", prf[i]);
			putchar('\n');
		}
		memset(prf, 0, sizeof(prf));
		kdc_coap_peer_hold(peer);	/* read again at the end */
		held = peer;
	}
	fflush(stdout);
	if (nosec)
		r = kdc_coap_request2(peer, &nsreq, got, arg);
	else
		r = kdc_coap_request(peer, KDC_COAP_GET, get_path, KDC_CF_NONE,
		    KDC_CF_NONE, NULL, 0, got, arg);
	if (r != KDC_OK) {
		printf("request failed: %s\n", kdc_err_str(r));
		g.rc = 3;
		g.done = true;
	}
}

static int
hex_bytes(const char *hex, uint8_t *out, size_t cap, size_t *n)
{
	size_t l = strlen(hex);

	while (l > 0 && (hex[l - 1] == '\n' || hex[l - 1] == '\r'))
		l--;
	if (l % 2 != 0 || l / 2 > cap)
		return -1;
	for (size_t i = 0; i < l / 2; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	*n = l / 2;
	return 0;
}

/* prf=client|server:LABEL:LEN into o (label kept in lab) */
static int
prf_arg(const char *a, struct kdc_coap_client_opts *o, char *lab)
{
	const char *l, *e;

	if (strncmp(a, "prf=", 4) != 0 || (l = strchr(a, ':')) == NULL ||
	    (e = strrchr(a, ':')) == l ||
	    (size_t)(e - l - 1) > KDC_COAP_PRF_LABEL_MAX)
		return -1;
	o->prf_seed = strncmp(a + 4, "server", 6) == 0 ?
	    KDC_COAP_PRF_SERVER_FIRST : KDC_COAP_PRF_CLIENT_FIRST;
	memcpy(lab, l + 1, (size_t)(e - l - 1));
	lab[e - l - 1] = '\0';
	o->prf_label = lab;
	o->prf_label_len = strlen(lab);
	o->prf_len = prf_len = (size_t)atoi(e + 1);
	return 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: engclient mc IFNAME GROUP PORT PATH QUERY "
	    "WINDOW_MS [MAX]\n       engclient get ADDR PORT PATH "
	    "psk|rpk|x509|jw ...\n       engclient nosec ADDR PORT get|post "
	    "PATH QUERY|- PAYLOAD|- [ocf]\n");
	return 1;
}

int
main(int argc, char **argv)
{
	struct kdc_config cfg;
	struct kdc_keyring *kr = NULL;
	struct kdc_store *st = NULL;
	struct kdc_core *core = NULL;
	struct kdc_coap *c = NULL;
	struct kdc_coap_client_opts o;
	gnutls_datum_t ours = { NULL, 0 }, key = { NULL, 0 }, kf = { NULL, 0 };
	uint8_t wk[32], id[128], psk[64];
	static const uint8_t ver[2] = { 0x08, 0x00 };
	const struct kdc_coap_reqopt ocfopts[2] = {
		{ KDC_COAP_OPT_OCF_ACCEPT_VERSION, ver, 2 },
		{ KDC_COAP_OPT_OCF_VERSION, ver, 2 },
	};
	char prf_label[KDC_COAP_PRF_LABEL_MAX + 1];
	size_t idn = 0, pskn = 0;
	uint64_t deadline;
	kdc_err r;
	int rc = 1;

	if (argc < 2)
		return usage();
	kdc_log_set_level(getenv("ENGCLIENT_DEBUG") ? KDC_LOG_DEBUG :
	    KDC_LOG_WARN);
	kdc_config_defaults(&cfg);
	if (kdc_crypto_init() != KDC_OK || kdc_random(wk, sizeof(wk)) !=
	    KDC_OK || kdc_keyring_from_bytes(wk, &kr) != KDC_OK ||
	    kdc_store_open(":memory:", 1, &st) != KDC_OK ||
	    kdc_core_new(st, kr, NULL, &cfg, &core) != KDC_OK ||
	    kdc_coap_new(core, &cfg, &c) != KDC_OK) {
		fprintf(stderr, "engclient: engine setup failed\n");
		goto out;
	}
	g.t0 = now_ms();
	if (strcmp(argv[1], "mc") == 0 && (argc == 8 || argc == 9)) {
		r = kdc_coap_multicast(c, argv[2], argv[3], atoi(argv[4]),
		    KDC_COAP_GET, argv[5], argv[6], (unsigned)atoi(argv[7]),
		    argc == 9 ? (unsigned)atoi(argv[8]) : 0, on_answer,
		    mc_done, c);
		if (r != KDC_OK) {
			printf("multicast refused: %s\n", kdc_err_str(r));
			goto out;
		}
	} else if (strcmp(argv[1], "get") == 0 && argc >= 6 &&
	    strcmp(argv[5], "jw") == 0) {
		memset(&o, 0, sizeof(o));
		get_path = argv[4];
		o.cred = KDC_COAP_CLIENT_JW;
		o.unauthenticated = true;
		for (int i = 6; i < argc; i++) {
			if (strcmp(argv[i], "post") == 0)
				then_post = true;
			else if (strcmp(argv[i], "noauth") == 0)
				o.unauthenticated = false;
			else if (prf_arg(argv[i], &o, prf_label) != 0)
				return usage();
		}
		if (getenv("ENGCLIENT_ACK_MS") != NULL)
			kdc_coap_set_timers(c,
			    (unsigned)atoi(getenv("ENGCLIENT_ACK_MS")), 0, 0);
		r = kdc_coap_connect2(c, argv[2], atoi(argv[3]), &o, connected,
		    c);
		if (r != KDC_OK) {
			printf("connect refused: %s\n", kdc_err_str(r));
			goto out;
		}
	} else if (strcmp(argv[1], "get") == 0 && argc >= 7) {
		memset(&o, 0, sizeof(o));
		get_path = argv[4];
		if (strcmp(argv[5], "psk") == 0 && argc >= 8) {
			if (hex_bytes(argv[6], id, sizeof(id), &idn) != 0 ||
			    read_file(argv[7], &kf) != 0 ||
			    hex_bytes((const char *)kf.data, psk, sizeof(psk),
			    &pskn) != 0) {
				fprintf(stderr, "engclient: bad PSK\n");
				goto out;
			}
			o.cred = KDC_COAP_CLIENT_PSK;
			o.psk_identity = id;
			o.psk_identity_len = idn;
			o.psk_key = psk;
			o.psk_key_len = pskn;
			for (int i = 8; i < argc; i++) {
				const char *a = argv[i], *l, *e;

				if (strcmp(a, "ocf") == 0) {
					o.suites = KDC_COAP_SUITES_OCF;
					continue;
				}
				/* prf=client|server:LABEL:LEN */
				if (strncmp(a, "prf=", 4) != 0 ||
				    (l = strchr(a, ':')) == NULL ||
				    (e = strrchr(a, ':')) == l ||
				    (size_t)(e - l - 1) > KDC_COAP_PRF_LABEL_MAX)
					return usage();
				o.prf_seed = strncmp(a + 4, "server", 6) == 0 ?
				    KDC_COAP_PRF_SERVER_FIRST :
				    KDC_COAP_PRF_CLIENT_FIRST;
				memcpy(prf_label, l + 1, (size_t)(e - l - 1));
				prf_label[e - l - 1] = '\0';
				o.prf_label = prf_label;
				o.prf_label_len = strlen(prf_label);
				o.prf_len = prf_len = (size_t)atoi(e + 1);
			}
		} else if ((strcmp(argv[5], "rpk") == 0 ||
		    strcmp(argv[5], "x509") == 0) && (argc == 7 || argc == 9)) {
			o.cred = strcmp(argv[5], "rpk") == 0 ?
			    KDC_COAP_CLIENT_RPK : KDC_COAP_CLIENT_X509;
			if (read_file(argv[6], &g.trust) != 0)
				goto out;
			if (o.cred == KDC_COAP_CLIENT_RPK) {
				gnutls_pubkey_t pk;
				gnutls_datum_t der;

				if (gnutls_pubkey_init(&pk) < 0 ||
				    gnutls_pubkey_import(pk, &g.trust,
				    GNUTLS_X509_FMT_PEM) < 0 ||
				    gnutls_pubkey_export2(pk,
				    GNUTLS_X509_FMT_DER, &der) < 0) {
					fprintf(stderr, "engclient: %s: not a "
					    "public key\n", argv[6]);
					goto out;
				}
				gnutls_pubkey_deinit(pk);
				gnutls_free(g.trust.data);
				g.trust = der;
			}
			if (argc == 9) {
				if (read_file(argv[7], &ours) != 0 ||
				    read_file(argv[8], &key) != 0)
					goto out;
				o.cert_pem = (const char *)ours.data;
				o.key_pem = (const char *)key.data;
			}
			o.check = check;
		} else
			return usage();
		r = kdc_coap_connect2(c, argv[2], atoi(argv[3]), &o, connected,
		    c);
		memset(psk, 0, sizeof(psk));
		if (r != KDC_OK) {
			printf("connect refused: %s\n", kdc_err_str(r));
			goto out;
		}
	} else if (strcmp(argv[1], "nosec") == 0 && (argc == 8 ||
	    argc == 9)) {
		bool ocf = argc == 9 && strcmp(argv[8], "ocf") == 0;

		memset(&o, 0, sizeof(o));
		o.cred = KDC_COAP_CLIENT_NOSEC;
		o.unauthenticated = true;
		nosec = verbose_answer = true;
		nsreq.method = strcmp(argv[4], "post") == 0 ? KDC_COAP_POST :
		    KDC_COAP_GET;
		nsreq.path = argv[5];
		nsreq.query = strcmp(argv[6], "-") == 0 ? NULL : argv[6];
		nsreq.content_format = nsreq.accept = KDC_CF_NONE;
		if (strcmp(argv[7], "-") != 0) {
			nsreq.payload = (const uint8_t *)argv[7];
			nsreq.len = strlen(argv[7]);
			if (ocf)
				nsreq.content_format = KDC_CF_OCF_CBOR;
		}
		if (ocf) {
			nsreq.accept = KDC_CF_OCF_CBOR;
			nsreq.opts = ocfopts;
			nsreq.nopts = 2;
		}
		if (getenv("ENGCLIENT_ACK_MS") != NULL)
			kdc_coap_set_timers(c,
			    (unsigned)atoi(getenv("ENGCLIENT_ACK_MS")), 0, 0);
		r = kdc_coap_connect2(c, argv[2], atoi(argv[3]), &o, connected,
		    c);
		if (r != KDC_OK) {
			printf("connect refused: %s\n", kdc_err_str(r));
			goto out;
		}
	} else {
		rc = usage();
		goto out;
	}
	deadline = now_ms() + 70000;
	while (!g.done && now_ms() < deadline)
		(void)kdc_coap_run_once(c, 100);
	rc = g.done ? g.rc : 1;
	if (!g.done)
		printf("no end within 70 s\n");
	if (held != NULL) {
		/* after the answer: our record layer has the session now
		 * (GnuTLS's is freed), the PRF output was kept */
		struct kdc_coap_stats s;
		uint8_t prf[KDC_COAP_PRF_MAX];

		(void)kdc_coap_run_once(c, 10);
		kdc_coap_stats(c, &s);
		if (kdc_coap_peer_prf(held, prf, prf_len) == KDC_OK) {
			printf("prf-after own_records=%llu ",
			    (unsigned long long)s.own_records);
			for (size_t i = 0; i < prf_len; i++)
				printf("%02x", prf[i]);
			putchar('\n');
		} else
			printf("prf-after none\n");
		memset(prf, 0, sizeof(prf));
		kdc_coap_peer_release(held);
	}
out:
	kdc_coap_free(c);
	kdc_core_free(core);
	kdc_store_close(st);
	kdc_keyring_free(kr);
	gnutls_free(g.trust.data);
	gnutls_free(ours.data);
	if (key.data != NULL) {
		memset(key.data, 0, key.size);
		gnutls_free(key.data);
	}
	if (kf.data != NULL) {
		memset(kf.data, 0, kf.size);
		gnutls_free(kf.data);
	}
	return rc;
}
