/*
 * test_lwm2m_bootstrap.c: the Bootstrap Server sequencer (bootstrap.c)
 * against a scripted transport (lwm2m_fake.h) and the real core, store
 * and codecs: the wire order, the BS-account rule, the formats, the three
 * security modes, and every way a bootstrap can end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/log.h"
#include "core/audit.h"
#include "core/config.h"
#include "core/core.h"
#include "lwm2m/codec.h"
#include "lwm2m/lwm2m.h"
#include "testkdc.h"
#include "testutil.h"

#include "lwm2m_fake.h"

#define URI	"coaps://127.0.0.1:5685"

struct fx {
	struct kdc_test_kdc	 k;	/* testkdc.h */
	struct kdc_config	 cfg;
	struct kdc_coap		*coap;
	struct kdc_lwm2m	*lw;
	struct kdc_coap_peer	 peer;	/* the device, manufacturer PSK */
	uint8_t			 srv_spki[91];
	uint8_t			 srv_cert[300];
};

static const uint8_t wkey[32] = { 0x42 };
static int64_t fake_now = 1800000000;

static int64_t
clock_fn(void)
{
	return fake_now;
}

static void
add_profile(struct kdc_config *cfg, const char *name, enum kdc_cred_type t)
{
	struct kdc_profile *p = &cfg->profiles[cfg->nprofiles++];

	*p = cfg->profiles[0];
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->cred_type = t;
}

/* Register dev_id with a manufacturer PSK; fill peer as its session. */
static void
add_device(struct fx *f, const char *dev_id, const char *profile,
    uint8_t fill, struct kdc_coap_peer *peer)
{
	struct kdc_device_spec s;
	struct kdc_device *d = NULL;
	uint8_t psk[KDC_PSK_MAX];
	size_t psk_len = sizeof(psk);

	memset(&s, 0, sizeof(s));
	snprintf(s.dev_id, sizeof(s.dev_id), "%s", dev_id);
	snprintf(s.profile, sizeof(s.profile), "%s", profile);
	snprintf(s.psk_identity, sizeof(s.psk_identity), "mfg-%s", dev_id);
	s.type = KDC_TYPE_PSK;
	memset(s.psk, fill, 16);
	s.psk[0] ^= 0x5a;
	s.psk_len = 16;
	assert_int_equal(kdc_core_device_add(f->k.core, "test", &s), KDC_OK);
	memset(peer, 0, sizeof(*peer));
	peer->endpoint = "kdc";
	assert_int_equal(kdc_core_auth_psk(f->k.core, "test", s.psk_identity,
	    psk, &psk_len, &peer->auth), KDC_OK);
	assert_int_equal(kdc_core_device_get(f->k.core, dev_id, &d), KDC_OK);
	assert_int_equal(peer->auth.type, KDC_TYPE_PSK);
	assert_int_equal(peer->auth.kind, KDC_KIND_MANUFACTURER);
	assert_int_equal(peer->auth.device, d->id);
	assert_string_equal(peer->auth.dev_id, dev_id);
	kdc_device_free(d);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct kdc_lwm2m_opts o;

	kdc_log_set_level(KDC_LOG_ERR);
	kdc_config_defaults(&f->cfg);
	add_profile(&f->cfg, "rpk", KDC_TYPE_RPK);
	add_profile(&f->cfg, "x509", KDC_TYPE_X509);
	add_profile(&f->cfg, "x509est", KDC_TYPE_X509);
	f->cfg.profiles[f->cfg.nprofiles - 1].est = true;
	/* "multi": the built-in LwM2M Server, an external one (ext1, 32-byte
	 * PSKs) and an MQTT broker (not an LwM2M Server: not written) */
	add_profile(&f->cfg, "multi", KDC_TYPE_PSK);
	add_profile(&f->cfg, "multi", KDC_TYPE_PSK);
	snprintf(f->cfg.profiles[f->cfg.nprofiles - 1].audience,
	    sizeof(f->cfg.profiles[0].audience), "ext1");
	f->cfg.profiles[f->cfg.nprofiles - 1].psk_key_len = 32;
	add_profile(&f->cfg, "multi", KDC_TYPE_RPK);
	snprintf(f->cfg.profiles[f->cfg.nprofiles - 1].audience,
	    sizeof(f->cfg.profiles[0].audience), "broker");
	kdc_test_kdc_open(&f->k, wkey, &f->cfg, 0);
	fake_now = 1800000000;
	kdc_core_set_clock(f->k.core, clock_fn);
	assert_int_equal(kdc_coap_new(f->k.core, &f->cfg, &f->coap), KDC_OK);
	memset(f->srv_spki, 0x5b, sizeof(f->srv_spki));
	memset(f->srv_cert, 0x5c, sizeof(f->srv_cert));
	memset(&o, 0, sizeof(o));
	o.server_uri = URI;
	o.server_spki = f->srv_spki;
	o.server_spki_len = sizeof(f->srv_spki);
	o.server_cert = f->srv_cert;
	o.server_cert_len = sizeof(f->srv_cert);
	o.lifetime = 300;
	assert_int_equal(kdc_lwm2m_attach(f->coap, f->k.core, &o, &f->lw),
	    KDC_OK);
	add_device(f, "urn:dev:a", "", 0x11, &f->peer);
	fake_nq = 0;
	fake_fail_send = 0;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	/* every session ended: nothing outstanding, every peer released */
	assert_int_equal(fake_nq, 0);
	assert_int_equal(kdc_lwm2m_bs_active(f->lw), 0);
	assert_int_equal(f->peer.holds, 0);
	kdc_coap_free(f->coap);
	kdc_lwm2m_free(f->lw);
	kdc_test_kdc_close(&f->k);
	free(f);
	return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static uint8_t
bs(struct fx *f, struct kdc_coap_peer *peer, const char *ep, const char *pct)
{
	char q1[300], q2[32];
	const char *qs[3] = { q1, NULL, NULL };

	snprintf(q1, sizeof(q1), "ep=%s", ep);
	if (pct != NULL) {
		snprintf(q2, sizeof(q2), "pct=%s", pct);
		qs[1] = q2;
	}
	return fake_call(f->coap, peer, KDC_COAP_POST, "bs", qs, NULL, 0);
}

static void
expect_last_audit(struct fx *f, const char *action, kdc_err outcome,
    const char *detail_part)
{
	struct kdc_audit_rec last;

	assert_int_equal(kdc_store_audit_last(f->k.st, &last), KDC_OK);
	assert_string_equal(last.action, action);
	assert_string_equal(last.outcome,
	    outcome == KDC_OK ? "ok" : kdc_err_name(outcome));
	if (detail_part != NULL && strstr(last.detail, detail_part) == NULL)
		fail_msg("audit detail '%s' lacks '%s'", last.detail,
		    detail_part);
}

/* Operational credentials of the device in `status`. */
static size_t
ncreds(struct fx *f, const char *dev_id, int status)
{
	struct kdc_device *d = NULL;
	struct kdc_cred **v = NULL;
	size_t n = 0;

	assert_int_equal(kdc_core_device_get(f->k.core, dev_id, &d), KDC_OK);
	struct kdc_cred_filter flt = { d->id, KDC_KIND_OPERATIONAL, status,
	    0 };
	kdc_device_free(d);
	assert_int_equal(kdc_core_cred_list(f->k.core, &flt, &v, &n), KDC_OK);
	kdc_cred_list_free(v, n);
	return n;
}

/* A resource of a TLV instance write. */
struct tlv_res {
	int		 found;
	const uint8_t	*v;
	size_t		 len;
};

static void
tlv_scan(const uint8_t *buf, size_t len, struct tlv_res res[16])
{
	struct kdc_rd rd;
	struct kdc_tlv t;
	kdc_err r;

	memset(res, 0, 16 * sizeof(*res));
	kdc_rd_init(&rd, buf, len);
	while ((r = kdc_tlv_next(&rd, &t)) == KDC_OK) {
		assert_int_equal(t.kind, 3);
		assert_true(t.id < 16);
		assert_false(res[t.id].found);
		res[t.id].found = 1;
		res[t.id].v = t.value;
		res[t.id].len = t.len;
	}
	assert_int_equal(r, KDC_ERR_NOT_FOUND);
}

static int64_t
tlv_int(const struct tlv_res *r)
{
	struct kdc_tlv t = { 3, 0, r->v, r->len };
	int64_t v = -1;

	assert_true(r->found);
	assert_int_equal(kdc_tlv_int(&t, &v), KDC_OK);
	return v;
}

/* What the scripted client keeps of the security write. */
struct written {
	char		 sec_path[KDC_COAP_PATH_MAX + 1];
	char		 srv_path[KDC_COAP_PATH_MAX + 1];
	int		 cf;
	uint8_t		 sec[KDC_COAP_BODY_MAX];
	size_t		 sec_len;
	uint8_t		 srv[256];
	size_t		 srv_len;
};

static const char links_wakaama[] =
    "</>;lwm2m=1.1,</0/0>,</0/1>;ssid=101,</1>;ver=1.1,</1/0>;ssid=101,"
    "</3/0>";

/* Answer Discover (links or NULL for RST) and both deletes, then check
 * and answer the two writes; stops before Finish. */
static void
client_to_finish(struct fx *f, const char *links, struct written *w)
{
	struct fake_sent *s;

	memset(w, 0, sizeof(*w));
	s = fake_expect(KDC_COAP_GET, "");
	assert_int_equal(s->accept, KDC_CF_LINK_FORMAT);
	if (links != NULL)
		fake_answer(KDC_OK, KDC_COAP_CONTENT, links, strlen(links));
	else
		fake_answer(KDC_ERR_PEER_RESET, 0, NULL, 0);
	fake_expect(KDC_COAP_DELETE, "0");
	fake_answer(KDC_OK, KDC_COAP_DELETED, NULL, 0);
	fake_expect(KDC_COAP_DELETE, "1");
	fake_answer(KDC_OK, KDC_COAP_DELETED, NULL, 0);
	assert_true(fake_nq > 0);
	s = &fake_q[0];
	assert_int_equal(s->method, KDC_COAP_PUT);
	assert_true(strncmp(s->path, "0/", 2) == 0);
	snprintf(w->sec_path, sizeof(w->sec_path), "%s", s->path);
	w->cf = s->cf;
	memcpy(w->sec, s->body, s->len);
	w->sec_len = s->len;
	/* pending before the write reaches the device; the issued one, if
	 * any (a renewal), untouched */
	assert_int_equal(ncreds(f, s->peer->auth.dev_id, KDC_CRED_PENDING), 1);
	assert_int_equal(ncreds(f, s->peer->auth.dev_id, KDC_CRED_ISSUED),
	    s->peer->auth.kind == KDC_KIND_OPERATIONAL ? 1 : 0);
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	s = &fake_q[0];
	assert_true(fake_nq > 0);
	assert_int_equal(s->method, KDC_COAP_PUT);
	assert_true(strncmp(s->path, "1/", 2) == 0);
	assert_int_equal(s->cf, w->cf);
	snprintf(w->srv_path, sizeof(w->srv_path), "%s", s->path);
	assert_true(s->len <= sizeof(w->srv));
	memcpy(w->srv, s->body, s->len);
	w->srv_len = s->len;
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	fake_expect(KDC_COAP_POST, "bs");
}

/* ---- tests -------------------------------------------------------------- */

#define EXT1_URI	"coaps://lwm2m.example:5684"

/* A device of profile "multi" up to its /bs (ext1 and broker
 * registered). */
static void
multi_start(struct fx *f, struct kdc_coap_peer *peer)
{
	assert_int_equal(kdc_core_audience_add(f->k.core, "test", "ext1",
	    "lwm2m-external", EXT1_URI, 101), KDC_OK);
	assert_int_equal(kdc_core_audience_add(f->k.core, "test", "broker",
	    "mqtt", "mqtts://broker.example", 0), KDC_OK);
	add_device(f, "urn:dev:m", "multi", 0x66, peer);
	assert_int_equal(bs(f, peer, "urn:dev:m", "11542"), KDC_COAP_CHANGED);
}

/* One pair written: its paths, URI, ssid, PSK identity and key length. */
static void
expect_pair(struct fx *f, const char *sec_path, const char *srv_path,
    const char *uri, int64_t ssid, size_t key_len, size_t npending,
    char ident[KDC_PSK_IDENTITY_MAX + 1])
{
	struct tlv_res sec[16], srv[16];
	struct fake_sent *s;

	s = fake_expect(KDC_COAP_PUT, sec_path);
	assert_int_equal(s->cf, KDC_CF_LWM2M_TLV);
	tlv_scan(s->body, s->len, sec);
	assert_int_equal(sec[0].len, strlen(uri));
	assert_memory_equal(sec[0].v, uri, strlen(uri));
	assert_int_equal(tlv_int(&sec[1]), 0);
	assert_int_equal(tlv_int(&sec[2]), 0);		/* PSK */
	assert_int_equal(tlv_int(&sec[10]), ssid);
	assert_int_equal(sec[5].len, key_len);
	assert_true(sec[3].len > 0 && sec[3].len <= KDC_PSK_IDENTITY_MAX);
	memcpy(ident, sec[3].v, sec[3].len);
	ident[sec[3].len] = '\0';
	/* issued pending before it is written, nothing issued yet */
	assert_int_equal(ncreds(f, "urn:dev:m", KDC_CRED_PENDING), npending);
	assert_int_equal(ncreds(f, "urn:dev:m", KDC_CRED_ISSUED), 0);
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	s = fake_expect(KDC_COAP_PUT, srv_path);
	tlv_scan(s->body, s->len, srv);
	assert_int_equal(tlv_int(&srv[0]), ssid);
	assert_int_equal(tlv_int(&srv[1]), 300);
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
}

/* Discover and both deletes of a DTLS session. */
static void
client_discover(const char *links)
{
	fake_expect(KDC_COAP_GET, "");
	if (links != NULL)
		fake_answer(KDC_OK, KDC_COAP_CONTENT, links, strlen(links));
	else
		fake_answer(KDC_ERR_PEER_RESET, 0, NULL, 0);
	fake_expect(KDC_COAP_DELETE, "0");
	fake_answer(KDC_OK, KDC_COAP_DELETED, NULL, 0);
	fake_expect(KDC_COAP_DELETE, "1");
	fake_answer(KDC_OK, KDC_COAP_DELETED, NULL, 0);
}

/* A profile with two LwM2M audiences: two Security/Server pairs with
 * distinct free instance ids, their own URIs, ssids and credentials,
 * both activated at Finish; the MQTT audience is not written. */
static void
test_two_lwm2m_audiences(void **state)
{
	struct fx *f = *state;
	struct kdc_coap_peer peer;
	struct kdc_principal who;
	char id0[KDC_PSK_IDENTITY_MAX + 1], id1[KDC_PSK_IDENTITY_MAX + 1];
	uint8_t psk[KDC_PSK_MAX];
	size_t psk_len = sizeof(psk);

	multi_start(f, &peer);
	/* /0/0 the BS account, /0/1 and /1/0 in use */
	client_discover(links_wakaama);
	expect_pair(f, "0/2", "1/1", URI, 1, KDC_PSK_GEN_DEFAULT, 1, id0);
	expect_pair(f, "0/3", "1/2", EXT1_URI, 101, 32, 2, id1);
	assert_string_not_equal(id0, id1);
	fake_expect(KDC_COAP_POST, "bs");
	/* nothing authenticates before the Finish ack */
	assert_int_equal(kdc_core_auth_psk(f->k.core, "test", id1, psk,
	    &psk_len, NULL), KDC_ERR_NOT_YET_VALID);
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_OK,
	    "type=psk sec=/0/2 srv=/1/1 aud=ext1 type=psk sec=/0/3 "
	    "srv=/1/2 cf=11542");
	expect_last_audit(f, "lwm2m.bootstrap", KDC_OK, "audience=ext1");
	assert_int_equal(ncreds(f, "urn:dev:m", KDC_CRED_ISSUED), 2);
	assert_int_equal(ncreds(f, "urn:dev:m", KDC_CRED_PENDING), 0);
	psk_len = sizeof(psk);
	assert_int_equal(kdc_core_auth_psk(f->k.core, "test", id0, psk,
	    &psk_len, &who), KDC_OK);
	assert_string_equal(who.audience, "lwm2m");
	psk_len = sizeof(psk);
	assert_int_equal(kdc_core_auth_psk(f->k.core, "test", id1, psk,
	    &psk_len, &who), KDC_OK);
	assert_string_equal(who.audience, "ext1");
	assert_int_equal(psk_len, 32);
	assert_int_equal(peer.holds, 0);

	/* a legacy 1.0 client (Discover refused): /0/1 /1/0, /0/2 /1/1;
	 * the second bootstrap supersedes both */
	psk_len = sizeof(psk);
	assert_int_equal(bs(f, &peer, "urn:dev:m", NULL), KDC_COAP_CHANGED);
	client_discover(NULL);
	fake_expect(KDC_COAP_PUT, "0/1");
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	fake_expect(KDC_COAP_PUT, "1/0");
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	fake_expect(KDC_COAP_PUT, "0/2");
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	fake_expect(KDC_COAP_PUT, "1/1");
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	fake_expect(KDC_COAP_POST, "bs");
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	assert_int_equal(ncreds(f, "urn:dev:m", KDC_CRED_ISSUED), 2);
	assert_int_equal(ncreds(f, "urn:dev:m", KDC_CRED_SUPERSEDED), 2);
	assert_int_equal(kdc_core_auth_psk(f->k.core, "test", id1, psk,
	    &psk_len, NULL), KDC_ERR_REVOKED);
}

/* A failure after the first pair: neither credential is activated; a
 * failed activation at Finish activates none either. */
static void
test_two_audiences_fail_midway(void **state)
{
	struct fx *f = *state;
	struct kdc_coap_peer peer;
	struct kdc_psk_new pn;
	char id0[KDC_PSK_IDENTITY_MAX + 1];

	multi_start(f, &peer);
	client_discover(links_wakaama);
	expect_pair(f, "0/2", "1/1", URI, 1, KDC_PSK_GEN_DEFAULT, 1, id0);
	fake_expect(KDC_COAP_PUT, "0/3");
	assert_int_equal(ncreds(f, "urn:dev:m", KDC_CRED_PENDING), 2);
	fake_answer(KDC_OK, KDC_COAP_BAD_REQUEST, NULL, 0);
	assert_int_equal(fake_nq, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_PEER_ERROR,
	    "step=write /0 aud=ext1 answered 4.00");
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_PEER_ERROR,
	    "left pending");
	assert_int_equal(ncreds(f, "urn:dev:m", KDC_CRED_ISSUED), 0);
	assert_int_equal(ncreds(f, "urn:dev:m", KDC_CRED_PENDING), 2);
	assert_int_equal(kdc_lwm2m_bs_active(f->lw), 0);

	/* all writes acknowledged, but the ext1 credential was superseded
	 * meanwhile (an operator issued one): Finish activates none */
	assert_int_equal(bs(f, &peer, "urn:dev:m", "11542"), KDC_COAP_CHANGED);
	client_discover(links_wakaama);
	/* each new one supersedes the last bootstrap's of its audience:
	 * the old ext1 one is still pending while /0/2 is written */
	expect_pair(f, "0/2", "1/1", URI, 1, KDC_PSK_GEN_DEFAULT, 2, id0);
	expect_pair(f, "0/3", "1/2", EXT1_URI, 101, 32, 2, id0);
	assert_int_equal(ncreds(f, "urn:dev:m", KDC_CRED_SUPERSEDED), 2);
	assert_int_equal(kdc_core_psk_issue(f->k.core, "test", "urn:dev:m",
	    "ext1", KDC_CRED_ISSUED, &pn), KDC_OK);
	kdc_psk_new_wipe(&pn);
	fake_expect(KDC_COAP_POST, "bs");
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_INVALID_ARG,
	    "activating the credentials failed");
	/* the lwm2m one stays pending: only the operator's ext1 is issued */
	assert_int_equal(ncreds(f, "urn:dev:m", KDC_CRED_PENDING), 1);
	assert_int_equal(ncreds(f, "urn:dev:m", KDC_CRED_ISSUED), 1);
	assert_int_equal(kdc_lwm2m_bs_active(f->lw), 0);
	assert_int_equal(peer.holds, 0);
}

/* ext1 listed but not registered: the bootstrap is refused at once. */
static void
test_unregistered_audience(void **state)
{
	struct fx *f = *state;
	struct kdc_coap_peer peer;

	add_device(f, "urn:dev:m", "multi", 0x67, &peer);
	assert_int_equal(bs(f, &peer, "urn:dev:m", "11542"),
	    KDC_COAP_FORBIDDEN);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_UNKNOWN_AUDIENCE,
	    "audiences");
	assert_int_equal(fake_nq, 0);
	assert_int_equal(ncreds(f, "urn:dev:m", KDC_CRED_PENDING), 0);
	assert_int_equal(peer.holds, 0);
}

/* The whole sequence in TLV with a PSK; the written key authenticates
 * only once Finish was acknowledged. */
static void
test_psk_tlv(void **state)
{
	struct fx *f = *state;
	struct written w;
	struct tlv_res sec[16], srv[16];
	struct kdc_cred *cur = NULL;
	char ident[KDC_PSK_IDENTITY_MAX + 1];
	uint8_t psk[KDC_PSK_MAX];
	size_t psk_len = sizeof(psk);

	assert_int_equal(bs(f, &f->peer, "urn:dev:a", "11542"),
	    KDC_COAP_CHANGED);
	assert_int_equal(kdc_lwm2m_bs_active(f->lw), 1);
	assert_int_equal(f->peer.holds, 1);
	client_to_finish(f, links_wakaama, &w);
	/* BS account /0/0 (no ssid), /0/1 in use: first free is 2 */
	assert_string_equal(w.sec_path, "0/2");
	assert_string_equal(w.srv_path, "1/1");
	assert_int_equal(w.cf, KDC_CF_LWM2M_TLV);

	tlv_scan(w.sec, w.sec_len, sec);
	assert_int_equal(sec[0].len, strlen(URI));
	assert_memory_equal(sec[0].v, URI, strlen(URI));
	assert_int_equal(tlv_int(&sec[1]), 0);		/* not a BS account */
	assert_int_equal(tlv_int(&sec[2]), 0);		/* PSK */
	assert_true(sec[4].found);
	assert_int_equal(sec[4].len, 0);
	/* the default profile fits tinydtls: a 128-bit key, an identity of
	 * 32 bytes at most (32 random hex digits) */
	assert_int_equal(sec[5].len, KDC_PSK_GEN_DEFAULT);
	assert_int_equal(tlv_int(&sec[10]), 1);
	assert_int_equal(sec[3].len, KDC_PSK_ID_TINYDTLS);
	memcpy(ident, sec[3].v, sec[3].len);
	ident[sec[3].len] = '\0';
	assert_int_equal(strspn(ident, "0123456789abcdef"), sec[3].len);

	tlv_scan(w.srv, w.srv_len, srv);
	assert_int_equal(tlv_int(&srv[0]), 1);
	assert_int_equal(tlv_int(&srv[1]), 300);
	assert_int_equal(tlv_int(&srv[6]), 0);
	assert_int_equal(srv[7].len, 1);
	assert_int_equal(srv[7].v[0], 'U');

	/* before the Finish ack the new PSK does not authenticate */
	assert_int_equal(kdc_core_auth_psk(f->k.core, "test", ident, psk,
	    &psk_len, NULL), KDC_ERR_NOT_YET_VALID);
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_OK, "sec=/0/2 srv=/1/1");
	psk_len = sizeof(psk);
	assert_int_equal(kdc_core_auth_psk(f->k.core, "test", ident, psk,
	    &psk_len, NULL), KDC_OK);
	assert_int_equal(psk_len, KDC_PSK_GEN_DEFAULT);
	assert_memory_equal(psk, sec[5].v, psk_len);
	assert_int_equal(ncreds(f, "urn:dev:a", KDC_CRED_ISSUED), 1);
	assert_int_equal(ncreds(f, "urn:dev:a", KDC_CRED_PENDING), 0);
	assert_int_equal(kdc_core_cred_current(f->k.core, "urn:dev:a", NULL,
	    KDC_CRED_ISSUED, &cur), KDC_OK);
	assert_string_equal(cur->identity, ident);
	kdc_cred_free(cur);
}

struct senml_seen {
	int	 n;
	int	 mode;
	int	 iid;
};

static kdc_err
senml_cb(void *arg, const struct kdc_senml_rec *r)
{
	struct senml_seen *s = arg;

	s->n++;
	assert_int_equal(r->oid, 0);
	s->iid = r->iid;
	if (r->rid == 2)
		s->mode = (int)r->i;
	return KDC_OK;
}

/* Anjay's layout: the BS account at /0/1, pct=112 -> SenML-CBOR. */
static void
test_anjay_senml(void **state)
{
	struct fx *f = *state;
	struct written w;
	struct senml_seen seen = { 0, -1, -1 };
	static const char links[] = "</>;lwm2m=1.2,</0>,</0/1>;"
	    "uri=\"coap://127.0.0.1:5684\",</1>,</3>,</3/0>";

	assert_int_equal(bs(f, &f->peer, "urn:dev:a", "112"),
	    KDC_COAP_CHANGED);
	client_to_finish(f, links, &w);
	assert_string_equal(w.sec_path, "0/0");
	assert_string_equal(w.srv_path, "1/0");
	assert_int_equal(w.cf, KDC_CF_SENML_CBOR);
	assert_int_equal(kdc_senml_cbor_decode(w.sec, w.sec_len, senml_cb,
	    &seen), KDC_OK);
	assert_int_equal(seen.n, 7);
	assert_int_equal(seen.iid, 0);
	assert_int_equal(seen.mode, 0);
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_OK, "lwm2m=1.2");
}

/* A pct we cannot write (SenML-JSON) falls back to TLV. */
static void
test_pct_fallback(void **state)
{
	struct fx *f = *state;
	struct written w;

	assert_int_equal(bs(f, &f->peer, "urn:dev:a", "110"),
	    KDC_COAP_CHANGED);
	client_to_finish(f, links_wakaama, &w);
	assert_int_equal(w.cf, KDC_CF_LWM2M_TLV);
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_OK, NULL);
}

/* A device asking for another device's credentials. */
static void
test_ep_mismatch(void **state)
{
	struct fx *f = *state;
	struct kdc_coap_peer b;

	add_device(f, "urn:dev:b", "", 0x22, &b);
	assert_int_equal(bs(f, &f->peer, "urn:dev:b", NULL),
	    KDC_COAP_FORBIDDEN);
	assert_int_equal(fake_nq, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_DENIED,
	    "ep=urn:dev:b");
	assert_int_equal(ncreds(f, "urn:dev:b", -1), 0);
	assert_int_equal(ncreds(f, "urn:dev:a", -1), 0);
	/* no ep at all, and NoSec */
	assert_int_equal(fake_call(f->coap, &f->peer, KDC_COAP_POST, "bs",
	    NULL, NULL, 0), KDC_COAP_BAD_REQUEST);
	memset(&b, 0, sizeof(b));
	b.endpoint = "kdc";
	assert_int_equal(bs(f, &b, "urn:dev:a", NULL), KDC_COAP_FORBIDDEN);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_DENIED, "NoSec");
	/* an owner credential is no bootstrap credential */
	f->peer.auth.kind = KDC_KIND_OWNER;
	assert_int_equal(bs(f, &f->peer, "urn:dev:a", NULL),
	    KDC_COAP_FORBIDDEN);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_WRONG_TYPE, NULL);
	assert_int_equal(fake_nq, 0);
}

/* A legacy client answers Discover with RST: BS account assumed at /0/0,
 * TLV even though it asked for SenML-CBOR. */
static void
test_discover_rst(void **state)
{
	struct fx *f = *state;
	struct written w;

	assert_int_equal(bs(f, &f->peer, "urn:dev:a", "112"),
	    KDC_COAP_CHANGED);
	client_to_finish(f, NULL, &w);
	assert_string_equal(w.sec_path, "0/1");
	assert_string_equal(w.srv_path, "1/0");
	assert_int_equal(w.cf, KDC_CF_LWM2M_TLV);
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_OK, "legacy");
	assert_int_equal(ncreds(f, "urn:dev:a", KDC_CRED_ISSUED), 1);
}

/* Delete answered with an error or RST: carry on (one step failed). */
static void
test_delete_refused(void **state)
{
	struct fx *f = *state;

	assert_int_equal(bs(f, &f->peer, "urn:dev:a", NULL), KDC_COAP_CHANGED);
	fake_expect(KDC_COAP_GET, "");
	fake_answer(KDC_OK, KDC_COAP_NOT_FOUND, NULL, 0);	/* 1.0 */
	fake_expect(KDC_COAP_DELETE, "0");
	fake_answer(KDC_OK, KDC_COAP_NOT_ALLOWED, NULL, 0);
	fake_expect(KDC_COAP_DELETE, "1");
	fake_answer(KDC_ERR_PEER_RESET, 0, NULL, 0);
	fake_expect(KDC_COAP_PUT, "0/1");
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	fake_expect(KDC_COAP_PUT, "1/0");
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	fake_expect(KDC_COAP_POST, "bs");
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_OK, NULL);
}

/* The client stops answering at each step in turn: a failed bootstrap is
 * audited and nothing is live. */
static void
test_client_silent(void **state)
{
	struct fx *f = *state;
	static const uint8_t codes[] = { KDC_COAP_CONTENT, KDC_COAP_DELETED,
	    KDC_COAP_DELETED, KDC_COAP_CHANGED, KDC_COAP_CHANGED };

	for (size_t stop = 0; stop <= 5; stop++) {
		kdc_err how = stop % 2 ? KDC_ERR_TIMEOUT : KDC_ERR_CLOSED;
		assert_int_equal(bs(f, &f->peer, "urn:dev:a", NULL),
		    KDC_COAP_CHANGED);
		for (size_t i = 0; i < stop; i++) {
			assert_true(fake_nq == 1);
			if (i == 0)
				fake_answer(KDC_OK, codes[i], links_wakaama,
				    strlen(links_wakaama));
			else
				fake_answer(KDC_OK, codes[i], NULL, 0);
		}
		assert_true(fake_nq == 1);
		fake_answer(how, 0, NULL, 0);
		assert_int_equal(fake_nq, 0);
		expect_last_audit(f, "lwm2m.bootstrap", how, "step=");
		assert_int_equal(kdc_lwm2m_bs_active(f->lw), 0);
		assert_int_equal(f->peer.holds, 0);
		assert_int_equal(ncreds(f, "urn:dev:a", KDC_CRED_ISSUED), 0);
		/* at most one pending, superseded by the next try */
		assert_int_equal(ncreds(f, "urn:dev:a", KDC_CRED_PENDING),
		    stop >= 3 ? 1 : 0);
	}
}

/* A new /bs cancels the running session; the old session's late
 * answers are ignored, and the retry supersedes its pending key. */
static void
test_duplicate_bs(void **state)
{
	struct fx *f = *state;
	struct kdc_coap_peer p2 = f->peer;
	struct written w;

	p2.holds = 0;
	assert_int_equal(bs(f, &f->peer, "urn:dev:a", NULL), KDC_COAP_CHANGED);
	fake_answer(KDC_OK, KDC_COAP_CONTENT, links_wakaama,
	    strlen(links_wakaama));
	fake_answer(KDC_OK, KDC_COAP_DELETED, NULL, 0);
	fake_answer(KDC_OK, KDC_COAP_DELETED, NULL, 0);
	fake_expect(KDC_COAP_PUT, "0/2");	/* old: pending issued */
	assert_int_equal(ncreds(f, "urn:dev:a", KDC_CRED_PENDING), 1);

	/* the device starts over on a new DTLS session */
	assert_int_equal(bs(f, &p2, "urn:dev:a", NULL), KDC_COAP_CHANGED);
	assert_int_equal(kdc_lwm2m_bs_active(f->lw), 1);
	/* audit of the cancel came before the new session's first send */
	assert_int_equal(fake_nq, 2);
	/* the old write is answered late: ignored, nothing more is sent */
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	assert_int_equal(fake_nq, 1);
	assert_int_equal(f->peer.holds, 0);
	client_to_finish(f, links_wakaama, &w);
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_OK, NULL);
	assert_int_equal(ncreds(f, "urn:dev:a", KDC_CRED_ISSUED), 1);
	assert_int_equal(ncreds(f, "urn:dev:a", KDC_CRED_PENDING), 0);
	assert_int_equal(ncreds(f, "urn:dev:a", KDC_CRED_SUPERSEDED), 1);
	assert_int_equal(p2.holds, 0);
}

/* A cancelled session whose request was answered by RST or timeout is
 * freed silently too. */
static void
test_duplicate_bs_then_timeout(void **state)
{
	struct fx *f = *state;
	struct kdc_audit_rec before, after;

	assert_int_equal(bs(f, &f->peer, "urn:dev:a", NULL), KDC_COAP_CHANGED);
	assert_int_equal(bs(f, &f->peer, "urn:dev:a", NULL), KDC_COAP_CHANGED);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_CLOSED, "superseded");
	assert_int_equal(kdc_store_audit_last(f->k.st, &before), KDC_OK);
	fake_answer(KDC_ERR_TIMEOUT, 0, NULL, 0);	/* the old Discover */
	assert_int_equal(kdc_store_audit_last(f->k.st, &after), KDC_OK);
	assert_int_equal(before.seq, after.seq);
	assert_int_equal(f->peer.holds, 1);
	fake_answer(KDC_ERR_PEER_RESET, 0, NULL, 0);	/* new: legacy */
	fake_answer(KDC_ERR_TIMEOUT, 0, NULL, 0);	/* Delete /0 */
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_TIMEOUT, "delete");
}

static void
test_malformed_links(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {
		"</0/0", "</0/0>;ssid=\"1", "<0/0>", "</0/99999>", "garbage",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(bs(f, &f->peer, "urn:dev:a", NULL),
		    KDC_COAP_CHANGED);
		fake_answer(KDC_OK, KDC_COAP_CONTENT, bad[i], strlen(bad[i]));
		assert_int_equal(fake_nq, 0);
		expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_MALFORMED,
		    "link-format");
	}
	assert_int_equal(ncreds(f, "urn:dev:a", -1), 0);
}

/* Finish answered 4.06 (inconsistent configuration): failed, the key
 * stays pending and unusable; a retry then succeeds and supersedes it. */
static void
test_finish_406_then_retry(void **state)
{
	struct fx *f = *state;
	struct written w;

	assert_int_equal(bs(f, &f->peer, "urn:dev:a", NULL), KDC_COAP_CHANGED);
	client_to_finish(f, links_wakaama, &w);
	fake_answer(KDC_OK, KDC_COAP_NOT_ACCEPTABLE, NULL, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_PEER_ERROR, "4.06");
	assert_int_equal(ncreds(f, "urn:dev:a", KDC_CRED_ISSUED), 0);
	assert_int_equal(ncreds(f, "urn:dev:a", KDC_CRED_PENDING), 1);

	assert_int_equal(bs(f, &f->peer, "urn:dev:a", NULL), KDC_COAP_CHANGED);
	client_to_finish(f, links_wakaama, &w);
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_OK, NULL);
	assert_int_equal(ncreds(f, "urn:dev:a", KDC_CRED_ISSUED), 1);
	assert_int_equal(ncreds(f, "urn:dev:a", KDC_CRED_PENDING), 0);
	assert_int_equal(ncreds(f, "urn:dev:a", KDC_CRED_SUPERSEDED), 1);
}

/* A write answered with an error ends the bootstrap before Finish. */
static void
test_write_refused(void **state)
{
	struct fx *f = *state;

	assert_int_equal(bs(f, &f->peer, "urn:dev:a", NULL), KDC_COAP_CHANGED);
	fake_answer(KDC_OK, KDC_COAP_CONTENT, links_wakaama,
	    strlen(links_wakaama));
	fake_answer(KDC_OK, KDC_COAP_DELETED, NULL, 0);
	fake_answer(KDC_OK, KDC_COAP_DELETED, NULL, 0);
	fake_expect(KDC_COAP_PUT, "0/2");
	fake_answer(KDC_OK, KDC_COAP_BAD_REQUEST, NULL, 0);
	assert_int_equal(fake_nq, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_PEER_ERROR, "4.00");
	assert_int_equal(ncreds(f, "urn:dev:a", KDC_CRED_ISSUED), 0);
}

/* The engine cannot send the first request: 5.00, audited, no session. */
static void
test_send_fails(void **state)
{
	struct fx *f = *state;

	fake_fail_send = 1;
	assert_int_equal(bs(f, &f->peer, "urn:dev:a", NULL),
	    KDC_COAP_INTERNAL);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_CLOSED, "cannot send");
}

/* Past the deadline the next step is not sent. */
static void
test_deadline(void **state)
{
	struct fx *f = *state;

	assert_int_equal(bs(f, &f->peer, "urn:dev:a", NULL), KDC_COAP_CHANGED);
	fake_answer(KDC_OK, KDC_COAP_CONTENT, links_wakaama,
	    strlen(links_wakaama));
	fake_now += KDC_LWM2M_BS_DEADLINE + 1;
	fake_answer(KDC_OK, KDC_COAP_DELETED, NULL, 0);
	assert_int_equal(fake_nq, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_TIMEOUT, "deadline");
}

/* RPK and certificate profiles: the KDC makes the key pair and writes
 * the PKCS#8 key, the client's SPKI or certificate, the server's key. */
static void
keypair_mode(struct fx *f, const char *profile, int64_t mode)
{
	struct kdc_coap_peer p;
	struct written w;
	struct tlv_res sec[16];
	struct kdc_cred *cur = NULL;
	char dev_id[64];

	snprintf(dev_id, sizeof(dev_id), "urn:dev:%s", profile);
	add_device(f, dev_id, profile, (uint8_t)(0x30 + mode), &p);
	assert_int_equal(bs(f, &p, dev_id, NULL), KDC_COAP_CHANGED);
	client_to_finish(f, links_wakaama, &w);
	tlv_scan(w.sec, w.sec_len, sec);
	assert_int_equal(tlv_int(&sec[2]), mode);
	assert_true(sec[3].len > 0 && sec[3].v[0] == 0x30);
	assert_true(sec[5].len > 0 && sec[5].v[0] == 0x30);	/* PKCS#8 */
	if (mode == 1) {
		assert_int_equal(sec[4].len, sizeof(f->srv_spki));
		assert_memory_equal(sec[4].v, f->srv_spki, sec[4].len);
	} else {
		assert_int_equal(sec[4].len, sizeof(f->srv_cert));
		assert_memory_equal(sec[4].v, f->srv_cert, sec[4].len);
	}
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_OK,
	    mode == 1 ? "type=rpk" : "type=x509");
	assert_int_equal(kdc_core_cred_current(f->k.core, dev_id, NULL,
	    KDC_CRED_ISSUED, &cur), KDC_OK);
	if (mode == 1) {
		assert_int_equal(cur->spki_len, sec[3].len);
		assert_memory_equal(cur->spki, sec[3].v, sec[3].len);
		assert_int_equal(kdc_core_auth_spki(f->k.core, "test",
		    cur->spki, cur->spki_len, NULL), KDC_OK);
	} else {
		assert_int_equal(cur->cert_len, sec[3].len);
		assert_memory_equal(cur->cert, sec[3].v, sec[3].len);
	}
	/* the private key is not kept */
	assert_null(cur->wrapped);
	kdc_cred_free(cur);
}

static void
test_rpk(void **state)
{
	keypair_mode(*state, "rpk", 1);
}

static void
test_x509(void **state)
{
	keypair_mode(*state, "x509", 2);
}

/* A cred_type x509-est profile: mode 4 (Certificate with EST), no key
 * and no certificate written, the server certificate as /0/x/4, nothing
 * issued, pending or activated; the device enrolls over EST itself. */
static void
test_x509_est(void **state)
{
	struct fx *f = *state;
	struct kdc_coap_peer p;
	struct tlv_res sec[16];
	struct fake_sent *s;
	const char *dev_id = "urn:dev:est";

	add_device(f, dev_id, "x509est", 0x66, &p);
	assert_int_equal(bs(f, &p, dev_id, NULL), KDC_COAP_CHANGED);
	fake_expect(KDC_COAP_GET, "");
	fake_answer(KDC_OK, KDC_COAP_CONTENT, links_wakaama,
	    strlen(links_wakaama));
	fake_expect(KDC_COAP_DELETE, "0");
	fake_answer(KDC_OK, KDC_COAP_DELETED, NULL, 0);
	fake_expect(KDC_COAP_DELETE, "1");
	fake_answer(KDC_OK, KDC_COAP_DELETED, NULL, 0);
	s = &fake_q[0];
	assert_true(fake_nq > 0);
	assert_int_equal(s->method, KDC_COAP_PUT);
	assert_true(strncmp(s->path, "0/", 2) == 0);
	tlv_scan(s->body, s->len, sec);
	assert_int_equal(tlv_int(&sec[2]), 4);
	assert_int_equal(tlv_int(&sec[1]), 0);
	assert_true(tlv_int(&sec[10]) > 0);
	assert_true(sec[0].found);
	assert_int_equal(sec[0].len, strlen(URI));
	assert_memory_equal(sec[0].v, URI, sec[0].len);
	/* no key travels: identity and secret key present but empty */
	assert_true(sec[3].found);
	assert_int_equal(sec[3].len, 0);
	assert_true(sec[5].found);
	assert_int_equal(sec[5].len, 0);
	assert_int_equal(sec[4].len, sizeof(f->srv_cert));
	assert_memory_equal(sec[4].v, f->srv_cert, sec[4].len);
	/* nothing issued at bootstrap */
	assert_int_equal(ncreds(f, dev_id, -1), 0);
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	assert_true(fake_nq > 0);
	assert_int_equal(fake_q[0].method, KDC_COAP_PUT);
	assert_true(strncmp(fake_q[0].path, "1/", 2) == 0);
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	fake_expect(KDC_COAP_POST, "bs");
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	assert_int_equal(fake_nq, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_OK, "mode=4");
	assert_int_equal(ncreds(f, dev_id, -1), 0);
	assert_int_equal(p.holds, 0);

	/* a refused Finish fails the session; still nothing left pending */
	assert_int_equal(bs(f, &p, dev_id, NULL), KDC_COAP_CHANGED);
	fake_answer(KDC_OK, KDC_COAP_CONTENT, links_wakaama,
	    strlen(links_wakaama));
	fake_answer(KDC_OK, KDC_COAP_DELETED, NULL, 0);
	fake_answer(KDC_OK, KDC_COAP_DELETED, NULL, 0);
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	fake_expect(KDC_COAP_POST, "bs");
	fake_answer(KDC_OK, KDC_COAP_NOT_ACCEPTABLE, NULL, 0);
	assert_int_equal(fake_nq, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_PEER_ERROR, NULL);
	assert_int_equal(ncreds(f, dev_id, -1), 0);
	assert_int_equal(p.holds, 0);
}

/* An RPK profile without a server SPKI to write: audited CONFIG failure
 * before any key is made. */
static void
test_rpk_without_server_key(void **state)
{
	struct fx *f = *state;
	struct kdc_lwm2m_opts o;
	struct kdc_coap_peer p;
	struct kdc_lwm2m *lw2 = NULL;
	struct kdc_coap *c2 = NULL;

	assert_int_equal(kdc_coap_new(f->k.core, &f->cfg, &c2), KDC_OK);
	memset(&o, 0, sizeof(o));
	o.server_uri = URI;
	assert_int_equal(kdc_lwm2m_attach(c2, f->k.core, &o, &lw2), KDC_OK);
	add_device(f, "urn:dev:r", "rpk", 0x44, &p);
	assert_int_equal(fake_call(c2, &p, KDC_COAP_POST, "bs",
	    (const char *const[]){ "ep=urn:dev:r", NULL }, NULL, 0),
	    KDC_COAP_CHANGED);
	fake_answer(KDC_OK, KDC_COAP_CONTENT, links_wakaama,
	    strlen(links_wakaama));
	fake_answer(KDC_OK, KDC_COAP_DELETED, NULL, 0);
	fake_answer(KDC_OK, KDC_COAP_DELETED, NULL, 0);
	assert_int_equal(fake_nq, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_CONFIG, "write /0");
	assert_int_equal(ncreds(f, "urn:dev:r", -1), 0);
	assert_int_equal(p.holds, 0);
	kdc_coap_free(c2);
	kdc_lwm2m_free(lw2);
}

/* A device renews by bootstrapping with its operational credential;
 * the old one is superseded, never two issued. */
static void
test_rebootstrap_operational(void **state)
{
	struct fx *f = *state;
	struct kdc_coap_peer op = f->peer;
	struct kdc_cred *cur = NULL;
	struct written w;
	int64_t first;

	assert_int_equal(bs(f, &f->peer, "urn:dev:a", NULL), KDC_COAP_CHANGED);
	client_to_finish(f, links_wakaama, &w);
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	assert_int_equal(kdc_core_cred_current(f->k.core, "urn:dev:a", NULL,
	    KDC_CRED_ISSUED, &cur), KDC_OK);
	first = cur->id;
	kdc_cred_free(cur);
	op.auth.kind = KDC_KIND_OPERATIONAL;
	op.auth.cred_id = first;
	op.holds = 0;
	assert_int_equal(bs(f, &op, "urn:dev:a", NULL), KDC_COAP_CHANGED);
	client_to_finish(f, links_wakaama, &w);
	/* mid-way the first one is still the one issued */
	assert_int_equal(kdc_core_cred_current(f->k.core, "urn:dev:a", NULL,
	    KDC_CRED_ISSUED, &cur), KDC_OK);
	assert_int_equal(cur->id, first);
	kdc_cred_free(cur);
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	assert_int_equal(kdc_core_cred_current(f->k.core, "urn:dev:a", NULL,
	    KDC_CRED_ISSUED, &cur), KDC_OK);
	assert_int_not_equal(cur->id, first);
	kdc_cred_free(cur);
	assert_int_equal(ncreds(f, "urn:dev:a", KDC_CRED_ISSUED), 1);
	assert_int_equal(op.holds, 0);
}

/* A revoked device gets no credential: the failure is audited. */
static void
test_revoked_device(void **state)
{
	struct fx *f = *state;

	assert_int_equal(bs(f, &f->peer, "urn:dev:a", NULL), KDC_COAP_CHANGED);
	fake_answer(KDC_OK, KDC_COAP_CONTENT, links_wakaama,
	    strlen(links_wakaama));
	fake_answer(KDC_OK, KDC_COAP_DELETED, NULL, 0);
	assert_int_equal(kdc_core_device_revoke(f->k.core, "test", "urn:dev:a"),
	    KDC_OK);
	fake_answer(KDC_OK, KDC_COAP_DELETED, NULL, 0);
	assert_int_equal(fake_nq, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_REVOKED, NULL);
	assert_int_equal(ncreds(f, "urn:dev:a", -1), 0);
}

/* ---- the test-only NoSec endpoint --------------------------------------- */

/* A face with the NoSec endpoint "kdc-nosec" on its own fake engine, and a
 * NoSec peer (no identity at all) on it. */
static void
nosec_face(struct fx *f, struct kdc_coap **c2, struct kdc_lwm2m **lw2,
    struct kdc_coap_peer *p)
{
	struct kdc_lwm2m_opts o;

	assert_int_equal(kdc_coap_new(f->k.core, &f->cfg, c2), KDC_OK);
	memset(&o, 0, sizeof(o));
	o.server_uri = URI;
	o.lifetime = 300;
	o.nosec_endpoint = "kdc-nosec";
	assert_int_equal(kdc_lwm2m_attach(*c2, f->k.core, &o, lw2), KDC_OK);
	memset(p, 0, sizeof(*p));
	p->endpoint = "kdc-nosec";
}

static uint8_t
bs_nosec(struct kdc_coap *c2, struct kdc_coap_peer *p, const char *ep)
{
	char q[300];
	const char *qs[2] = { q, NULL };

	if (ep == NULL)
		return fake_call(c2, p, KDC_COAP_POST, "bs", NULL, NULL, 0);
	snprintf(q, sizeof(q), "ep=%s", ep);
	return fake_call(c2, p, KDC_COAP_POST, "bs", qs, NULL, 0);
}

/* coap-node's sequence: no Discover, Delete /, TLV writes of /0/1 and
 * /1/0, Finish; ep alone names the device; audited as NoSec. */
static void
test_nosec_bootstrap(void **state)
{
	struct fx *f = *state;
	struct kdc_coap *c2 = NULL;
	struct kdc_lwm2m *lw2 = NULL;
	struct kdc_coap_peer p;
	struct fake_sent *s;
	struct tlv_res sec[16], srv[16];
	struct kdc_cred *cur = NULL;

	nosec_face(f, &c2, &lw2, &p);
	assert_int_equal(bs_nosec(c2, &p, "urn:dev:a"), KDC_COAP_CHANGED);
	assert_int_equal(kdc_lwm2m_bs_active(lw2), 1);
	assert_int_equal(p.holds, 1);
	s = fake_expect(KDC_COAP_DELETE, "");
	assert_int_equal(s->accept, KDC_CF_NONE);
	fake_answer(KDC_OK, KDC_COAP_DELETED, NULL, 0);
	s = fake_expect(KDC_COAP_PUT, "0/1");
	assert_int_equal(s->cf, KDC_CF_LWM2M_TLV);
	assert_int_equal(ncreds(f, "urn:dev:a", KDC_CRED_PENDING), 1);
	tlv_scan(s->body, s->len, sec);
	assert_int_equal(sec[0].len, strlen(URI));
	assert_memory_equal(sec[0].v, URI, strlen(URI));
	assert_int_equal(tlv_int(&sec[1]), 0);
	assert_int_equal(tlv_int(&sec[2]), 0);		/* PSK */
	assert_int_equal(sec[5].len, KDC_PSK_GEN_DEFAULT);
	assert_int_equal(tlv_int(&sec[10]), 1);
	assert_int_equal(sec[3].len, KDC_PSK_ID_TINYDTLS);
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	s = fake_expect(KDC_COAP_PUT, "1/0");
	assert_int_equal(s->cf, KDC_CF_LWM2M_TLV);
	tlv_scan(s->body, s->len, srv);
	assert_int_equal(tlv_int(&srv[0]), 1);
	assert_int_equal(tlv_int(&srv[1]), 300);
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	fake_expect(KDC_COAP_POST, "bs");
	fake_answer(KDC_OK, KDC_COAP_CHANGED, NULL, 0);
	assert_int_equal(fake_nq, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_OK,
	    "sec=/0/1 srv=/1/0 cf=11542 lwm2m=? legacy nosec");
	assert_int_equal(ncreds(f, "urn:dev:a", KDC_CRED_ISSUED), 1);
	assert_int_equal(ncreds(f, "urn:dev:a", KDC_CRED_PENDING), 0);
	assert_int_equal(kdc_core_cred_current(f->k.core, "urn:dev:a", NULL,
	    KDC_CRED_ISSUED, &cur), KDC_OK);
	assert_int_equal(cur->kind, KDC_KIND_OPERATIONAL);
	kdc_cred_free(cur);
	assert_int_equal(kdc_lwm2m_bs_active(lw2), 0);
	assert_int_equal(p.holds, 0);
	kdc_coap_free(c2);
	kdc_lwm2m_free(lw2);
}

/* Delete / refused, then a write refused: carry on, then fail; the
 * failure record says nosec too. */
static void
test_nosec_failure_audited(void **state)
{
	struct fx *f = *state;
	struct kdc_coap *c2 = NULL;
	struct kdc_lwm2m *lw2 = NULL;
	struct kdc_coap_peer p;

	nosec_face(f, &c2, &lw2, &p);
	assert_int_equal(bs_nosec(c2, &p, "urn:dev:a"), KDC_COAP_CHANGED);
	fake_expect(KDC_COAP_DELETE, "");
	fake_answer(KDC_ERR_PEER_RESET, 0, NULL, 0);
	fake_expect(KDC_COAP_PUT, "0/1");
	fake_answer(KDC_OK, KDC_COAP_BAD_REQUEST, NULL, 0);
	assert_int_equal(fake_nq, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_PEER_ERROR,
	    "left pending nosec");
	/* a silent client: the Delete / step times out */
	assert_int_equal(bs_nosec(c2, &p, "urn:dev:a"), KDC_COAP_CHANGED);
	fake_answer(KDC_ERR_TIMEOUT, 0, NULL, 0);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_TIMEOUT,
	    "step=delete / ");
	assert_int_equal(ncreds(f, "urn:dev:a", KDC_CRED_ISSUED), 0);
	assert_int_equal(p.holds, 0);
	kdc_coap_free(c2);
	kdc_lwm2m_free(lw2);
}

/* Who is refused on the NoSec endpoint, and that NoSec stays refused on
 * the DTLS one even when a NoSec endpoint exists. */
static void
test_nosec_refusals(void **state)
{
	struct fx *f = *state;
	struct kdc_coap *c2 = NULL;
	struct kdc_lwm2m *lw2 = NULL;
	struct kdc_coap_peer p, dtls, b;
	char longep[KDC_DEVID_MAX + 8];

	nosec_face(f, &c2, &lw2, &p);
	assert_int_equal(bs_nosec(c2, &p, NULL), KDC_COAP_BAD_REQUEST);
	assert_int_equal(bs_nosec(c2, &p, "urn:dev:nobody"),
	    KDC_COAP_FORBIDDEN);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_UNKNOWN_DEVICE,
	    "ep=urn:dev:nobody from=127.0.0.1:56830: refused nosec");
	memset(longep, 'x', sizeof(longep) - 1);
	longep[sizeof(longep) - 1] = '\0';
	assert_int_equal(bs_nosec(c2, &p, longep), KDC_COAP_FORBIDDEN);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_UNKNOWN_DEVICE,
	    "refused nosec");
	add_device(f, "urn:dev:b", "", 0x22, &b);
	assert_int_equal(kdc_core_device_revoke(f->k.core, "test", "urn:dev:b"),
	    KDC_OK);
	assert_int_equal(bs_nosec(c2, &p, "urn:dev:b"), KDC_COAP_FORBIDDEN);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_REVOKED,
	    "refused nosec");
	/* an authenticated peer there (the engine would not do it) */
	dtls = f->peer;
	dtls.endpoint = "kdc-nosec";
	assert_int_equal(bs_nosec(c2, &dtls, "urn:dev:a"), KDC_COAP_FORBIDDEN);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_DENIED,
	    "NoSec endpoint");
	/* a NoSec peer on the DTLS endpoint of the same face */
	p.endpoint = "kdc";
	assert_int_equal(bs_nosec(c2, &p, "urn:dev:a"), KDC_COAP_FORBIDDEN);
	expect_last_audit(f, "lwm2m.bootstrap", KDC_ERR_DENIED, "(NoSec)");
	/* and no route at all where no NoSec endpoint was asked for */
	p.endpoint = "kdc-nosec";
	assert_int_equal(bs_nosec(f->coap, &p, "urn:dev:a"),
	    KDC_COAP_NOT_FOUND);
	assert_int_equal(fake_nq, 0);
	assert_int_equal(ncreds(f, "urn:dev:a", -1), 0);
	assert_int_equal(ncreds(f, "urn:dev:b", -1), 0);
	assert_int_equal(kdc_lwm2m_bs_active(lw2), 0);
	kdc_coap_free(c2);
	kdc_lwm2m_free(lw2);
}

static void
test_attach_args(void **state)
{
	struct fx *f = *state;
	struct kdc_lwm2m_opts o;
	struct kdc_lwm2m *lw2 = (struct kdc_lwm2m *)1;

	memset(&o, 0, sizeof(o));		/* no server URI */
	assert_int_equal(kdc_lwm2m_attach(f->coap, f->k.core, &o, &lw2),
	    KDC_ERR_INVALID_ARG);
	assert_null(lw2);
	o.server_uri = URI;
	o.content_format = KDC_CF_SENML_JSON;
	assert_int_equal(kdc_lwm2m_attach(f->coap, f->k.core, &o, &lw2),
	    KDC_ERR_INVALID_ARG);
	/* the NoSec endpoint cannot be the bootstrap endpoint itself */
	o.content_format = 0;
	o.nosec_endpoint = "kdc";
	assert_int_equal(kdc_lwm2m_attach(f->coap, f->k.core, &o, &lw2),
	    KDC_ERR_INVALID_ARG);
	o.bs_endpoint = "bs2";
	o.nosec_endpoint = "bs2";
	assert_int_equal(kdc_lwm2m_attach(f->coap, f->k.core, &o, &lw2),
	    KDC_ERR_INVALID_ARG);
	kdc_lwm2m_free(NULL);
	assert_int_equal(kdc_lwm2m_bs_active(NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_psk_tlv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_anjay_senml, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pct_fallback, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ep_mismatch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_discover_rst, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_delete_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_client_silent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_bs, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_bs_then_timeout,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_links, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_finish_406_then_retry,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_send_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rpk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_x509_est, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_x509, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rpk_without_server_key,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebootstrap_operational,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoked_device, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_nosec_bootstrap, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_nosec_failure_audited,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_nosec_refusals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_two_lwm2m_audiences,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_audiences_fail_midway,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_unregistered_audience,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_args, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
