/*
 * bootstrap.c: the LwM2M Bootstrap Server sequencer (lwm2m.h).
 *
 * One session per device, a state machine driven by the completions of
 * the requests it sends (coap.h: exactly one per request):
 *
 *   POST /bs?ep=..  -> 2.04, then
 *   DISCOVER  GET /  (Accept: 40)    find the BS account: the /0/x
 *                                    without ssid (protocols/lwm2m.md §2.6)
 *   DEL0      DELETE /0              the client keeps its BS account
 *   DEL1      DELETE /1
 *   for each LwM2M audience of the device's profile (core.h: the
 *   built-in LwM2M Server, external ones), its primary one first:
 *             issue its operational credential, status pending
 *   WRITE0    PUT /0/<sec_iid>       URI, mode, identity/keys, ssid
 *   WRITE1    PUT /1/<srv_iid>       ssid, lifetime, binding "U"
 *   FINISH    POST /bs               2.04 -> activate them all, in one
 *                                    transaction (pending -> issued)
 *
 * Each audience gets its own pair of free instance ids, its own
 * credential (by the cred_type of the profile's entry for it), its URI
 * and Short Server ID: the built-in's are the configured server URI and
 * ssid, an external one's those it was registered with. Audiences of
 * other kinds (MQTT, ACE) are not written here. An external LwM2M Server
 * is written with PSK credentials only: the KDC does not hold its public
 * key or certificate for /0/x/4 (another cred_type fails the bootstrap,
 * CONFIG).
 *
 * A NoSec session (test-only endpoint, see below) is a DTLS-less LwM2M
 * 1.0 client's: the legacy path from the start, and one Delete:
 *
 *   DELALL    DELETE /               the client keeps its BS account
 *   WRITE0    PUT /0/1, WRITE1 PUT /1/0 (TLV), FINISH as above
 *
 * because 1.0 has no Discover and coap-node, the peer it exists for,
 * implements Delete of "/" only (DELETE /0 throws inside its
 * smartobject and kills the client), and its RST-plus-NON-5.00 answer
 * to a Discover leaves the next CON of the session delayed in libcoap
 * 4.3.1 (NSTART) until the request times out.
 *
 * Failure policy (Leshan's, made stricter for writes):
 * - Discover answered RST or an error code: a legacy 1.0 client
 *   (coap-node answers RST). Assume the BS account at /0/0, write TLV.
 * - Delete answered RST or an error code: carry on (a failure of that
 *   step only, lwm2m.md §2.6).
 * - A write or Finish not answered 2.04, any timeout or closed session,
 *   the deadline passed, a malformed Discover: the bootstrap fails. The
 *   pending credentials stay pending (never usable: core refuses pending
 *   credentials at authentication), none is activated, and the next
 *   bootstrap supersedes them.
 *   One "lwm2m.bootstrap" audit record tells how it ended.
 * - A new /bs for a device cancels its running session: the old
 *   session's outstanding completion is then only used to free it.
 *
 * Who may bootstrap: a peer whose DTLS credential belongs to the device
 * named by ep (else 4.03 and an audited DENIED), with a manufacturer
 * credential or with an operational one (a device renews its PSK or key
 * pair by bootstrapping again with the credential it has). NoSec peers
 * have no device and are refused, except on the test-only NoSec endpoint
 * (lwm2m.h nosec_endpoint, loopback): there ep alone names the device,
 * which must be registered and not revoked, and every audit record of
 * the session says "nosec".
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "core/audit.h"
#include "lwm2m/codec.h"
#include "lwm2m/lwm2m.h"
#include "lwm2m/lwm2m_int.h"

enum bs_step {
	BS_DISCOVER = 0,
	BS_DELALL,	/* NoSec sessions only, instead of DISCOVER..DEL1 */
	BS_DEL0,
	BS_DEL1,
	BS_WRITE0,
	BS_WRITE1,
	BS_FINISH,
};

static const char *const step_names[] = {
	[BS_DISCOVER] = "discover",
	[BS_DELALL] = "delete /",
	[BS_DEL0] = "delete /0",
	[BS_DEL1] = "delete /1",
	[BS_WRITE0] = "write /0",
	[BS_WRITE1] = "write /1",
	[BS_FINISH] = "finish",
};

/* At most this many LwM2M audiences per bootstrap (pairs written). */
#define BS_AUD_MAX	8

/* One LwM2M audience of a session: what its pair of instances says. */
struct bs_aud {
	char			 name[KDC_NAME_MAX + 1];
	bool			 builtin;	/* the built-in LwM2M Server */
	char			 uri[KDC_AUDIENCE_URI_MAX + 1];	/* external */
	uint16_t		 ssid;		/* external */
	enum kdc_cred_type	 type;
	bool			 est;		/* mode 4: the device enrolls */
	uint16_t		 sec_iid;	/* /0/x written */
	uint16_t		 srv_iid;	/* /1/x written */
	int64_t			 cred_id;	/* pending credential, 0 before */
};

struct bs_sess {
	struct bs_sess		*next;
	struct kdc_lwm2m	*lw;
	struct kdc_coap_peer	*peer;		/* held until the session is freed */
	char			 dev_id[KDC_DEVID_MAX + 1];
	const char		*kind;		/* how it began (static), for the log */
	char			 version[8];	/* lwm2m= of </>, "" if unknown */
	enum bs_step		 step;
	int			 cf;		/* format of the writes */
	bool			 legacy;	/* Discover refused: 1.0 client */
	bool			 cancelled;	/* superseded; free on completion */
	bool			 busy;		/* a request is outstanding */
	bool			 nosec;		/* came in on the NoSec endpoint */
	struct bs_aud		 aud[BS_AUD_MAX];	/* its primary first */
	size_t			 naud;
	size_t			 cur;		/* the one WRITE0/1 is at */
	int64_t			 deadline;
	kdc_err			 result;	/* how it ended (done) */
	void			(*done)(void *arg, kdc_err r);	/* or NULL */
	void			*done_arg;
};

/* ---- shared helpers (lwm2m_int.h) --------------------------------------- */

void
kdc_lwm2m_audit(struct kdc_lwm2m *lw, const char *action, const char *subject,
    kdc_err outcome, const char *fmt, ...)
{
	char detail[KDC_AUDIT_DETAIL_MAX + 1];
	va_list ap;
	kdc_err r;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	r = kdc_core_audit(lw->core, KDC_LWM2M_ACTOR, action, subject, outcome,
	    "%s", detail);
	if (r != KDC_OK)
		kdc_log_err_r(r, "audit append failed action=%s", action);
}

/* ---- sessions ----------------------------------------------------------- */

static void
sess_free(struct bs_sess *s, bool release)
{
	struct bs_sess **pp;

	for (pp = &s->lw->sessions; *pp != NULL; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	if (release)
		kdc_coap_peer_release(s->peer);
	if (s->done != NULL)
		s->done(s->done_arg, s->result);
	kdc_free(s);
}

static struct bs_sess *
sess_find(struct kdc_lwm2m *lw, const char *dev_id)
{
	for (struct bs_sess *s = lw->sessions; s != NULL; s = s->next)
		if (!s->cancelled && strcmp(s->dev_id, dev_id) == 0)
			return s;
	return NULL;
}

size_t
kdc_lwm2m_bs_active(const struct kdc_lwm2m *lw)
{
	size_t n = 0;

	if (lw == NULL)
		return 0;
	for (const struct bs_sess *s = lw->sessions; s != NULL; s = s->next)
		if (!s->cancelled)
			n++;
	return n;
}

/* The pending credentials of s as "N[,M...]" ("0" when none); true if
 * there is one. */
static bool
sess_creds(const struct bs_sess *s, char *buf, size_t cap)
{
	size_t o = 0;
	bool any = false;

	buf[0] = '\0';
	for (size_t i = 0; i < s->naud && o < cap; i++) {
		if (s->aud[i].cred_id == 0)
			continue;
		o += (size_t)snprintf(buf + o, cap - o, "%s%" PRId64,
		    any ? "," : "", s->aud[i].cred_id);
		any = true;
	}
	if (!any)
		snprintf(buf, cap, "0");
	return any;
}

/* The bootstrap failed: one audit record, then the session goes. */
static void
sess_fail(struct bs_sess *s, kdc_err r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
sess_fail(struct bs_sess *s, kdc_err r, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	char creds[160];
	bool pending;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	pending = sess_creds(s, creds, sizeof(creds));
	kdc_log_info_r(r, "bootstrap failed ep=%s kind=%s from=%s step=%s%s%s %s",
	    s->dev_id, s->kind, kdc_coap_peer_addr(s->peer),
	    step_names[s->step], s->naud > 1 ? " aud=" : "",
	    s->naud > 1 ? s->aud[s->cur].name : "", why);
	kdc_lwm2m_audit(s->lw, "lwm2m.bootstrap", s->dev_id, r,
	    "step=%s%s%s %s cred=%s%s%s", step_names[s->step],
	    s->naud > 1 ? " aud=" : "", s->naud > 1 ? s->aud[s->cur].name :
	    "", why, creds, pending ? " left pending" : "",
	    s->nosec ? " nosec" : "");
	s->result = r;
	sess_free(s, true);
}

/* ---- requests ----------------------------------------------------------- */

static void	bs_done(void *arg, struct kdc_coap_peer *peer, kdc_err status,
		    const struct kdc_coap_msg *rsp);

static kdc_err
sess_send(struct bs_sess *s, uint8_t method, const char *path, int cf,
    int accept, const uint8_t *payload, size_t len)
{
	kdc_err r;

	r = kdc_coap_request(s->peer, method, path, cf, accept, payload, len,
	    bs_done, s);
	if (r == KDC_OK)
		s->busy = true;
	return r;
}

/* Smallest instance id not in used[0..n). */
static uint16_t
free_iid(const uint16_t *used, size_t n)
{
	uint32_t c;
	size_t i;

	for (c = 0; c < 65535; c++) {
		for (i = 0; i < n && used[i] != c; i++)
			;
		if (i == n)
			break;
	}
	return (uint16_t)c;
}

/*
 * Read a Discover answer (RFC 6690 link-format): note every /0/x and
 * /1/x in use, and pick instance ids that collide with none of them. The
 * BS account is the /0/x without ssid; it survives Delete /0, so the
 * security instance must avoid it. Everything else there is deleted, but
 * avoiding every listed id costs nothing and survives a client that
 * ignores the delete.
 */
static kdc_err
parse_discover(struct bs_sess *s, const uint8_t *buf, size_t len)
{
	uint16_t used0[KDC_LWM2M_DISCOVER_LINKS_MAX + BS_AUD_MAX];
	uint16_t used1[KDC_LWM2M_DISCOVER_LINKS_MAX + BS_AUD_MAX];
	size_t n0 = 0, n1 = 0, nlinks = 0;
	struct kdc_rd rd;
	struct kdc_link l;
	int bs_iid = -1;
	kdc_err r;

	kdc_rd_init(&rd, buf, len);
	while ((r = kdc_link_next(&rd, &l)) == KDC_OK) {
		if (++nlinks > KDC_LWM2M_DISCOVER_LINKS_MAX)
			return KDC_ERR_TOO_LARGE;
		if (l.oid == -1 && l.iid == -1 && l.rid == -1 &&
		    l.lwm2m[0] != '\0')
			snprintf(s->version, sizeof(s->version), "%s",
			    l.lwm2m);
		if (l.iid < 0 || l.iid > 65535 || l.rid != -1)
			continue;
		if (l.oid == 0) {
			used0[n0++] = (uint16_t)l.iid;
			if (l.ssid < 0)
				bs_iid = l.iid;
		} else if (l.oid == 1)
			used1[n1++] = (uint16_t)l.iid;
	}
	if (r != KDC_ERR_NOT_FOUND)
		return r;
	/* a pair of its own for each audience: each id taken is used */
	for (size_t i = 0; i < s->naud; i++) {
		s->aud[i].sec_iid = free_iid(used0, n0);
		s->aud[i].srv_iid = free_iid(used1, n1);
		used0[n0++] = s->aud[i].sec_iid;
		used1[n1++] = s->aud[i].srv_iid;
		if (s->aud[i].sec_iid == 65535 || s->aud[i].srv_iid == 65535)
			return KDC_ERR_TOO_LARGE;	/* every id in use */
	}
	kdc_log_debug("ep=%s bs_account=%d sec=/0/%u srv=/1/%u lwm2m=%s "
	    "audiences=%zu", s->dev_id, bs_iid, s->aud[0].sec_iid,
	    s->aud[0].srv_iid, s->version, s->naud);
	return KDC_OK;
}

/*
 * The LwM2M audiences of the device's profile into s->aud, its primary
 * one first: UNKNOWN_AUDIENCE if there is none (or one is not
 * registered), TOO_LARGE over BS_AUD_MAX, CONFIG for an external one
 * whose cred_type is not psk (no server key to write as /0/x/4).
 */
static kdc_err
sess_audiences(struct bs_sess *s)
{
	struct kdc_device_audience *da = NULL;
	struct bs_aud *a;
	size_t n = 0;
	kdc_err r;

	s->naud = 0;
	if ((da = kdc_calloc(KDC_CONFIG_PROFILES_MAX, sizeof(*da))) == NULL)
		return KDC_ERR_NOMEM;
	if ((r = kdc_core_device_audiences(s->lw->core, s->dev_id, da,
	    KDC_CONFIG_PROFILES_MAX, &n)) != KDC_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (da[i].aud.kind != KDC_AUD_LWM2M &&
		    da[i].aud.kind != KDC_AUD_LWM2M_EXTERNAL)
			continue;	/* not an LwM2M Server */
		if (s->naud == BS_AUD_MAX) {
			r = KDC_ERR_TOO_LARGE;
			goto out;
		}
		a = &s->aud[s->naud++];
		memset(a, 0, sizeof(*a));
		snprintf(a->name, sizeof(a->name), "%s", da[i].aud.name);
		a->builtin = da[i].aud.kind == KDC_AUD_LWM2M;
		snprintf(a->uri, sizeof(a->uri), "%s", da[i].aud.uri);
		a->ssid = (uint16_t)da[i].aud.ssid;
		a->type = da[i].prof.cred_type;
		a->est = da[i].prof.cred_type == KDC_TYPE_X509 &&
		    da[i].prof.est;
		if (!a->builtin && a->type != KDC_TYPE_PSK) {
			r = KDC_ERR_CONFIG;
			goto out;
		}
	}
	if (s->naud == 0)
		r = KDC_ERR_UNKNOWN_AUDIENCE;	/* nothing to write */
out:
	kdc_free(da);
	return r;
}

/* Instance ids without a Discover (LwM2M 1.0: the BS account at /0/0):
 * /0/1, /1/0 for the first audience, then /0/2, /1/1, ... */
static void
legacy_iids(struct bs_sess *s)
{
	for (size_t i = 0; i < s->naud; i++) {
		s->aud[i].sec_iid = (uint16_t)(1 + i);
		s->aud[i].srv_iid = (uint16_t)i;
	}
}

/* Encode one instance in the session's format into out (cap *len). */
static kdc_err
encode(const struct bs_sess *s, uint16_t oid, uint16_t iid,
    const struct kdc_lwm2m_res *res, size_t n, uint8_t *out, size_t *len)
{
	if (s->cf == KDC_CF_SENML_CBOR)
		return kdc_senml_cbor_encode_instance(oid, iid, res, n, out,
		    len);
	return kdc_tlv_encode_instance(res, n, out, len);
}

static void
res_int(struct kdc_lwm2m_res *r, uint16_t id, int64_t v)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->type = KDC_LWM2M_INT;
	r->i = v;
}

static void
res_bool(struct kdc_lwm2m_res *r, uint16_t id, bool v)
{
	res_int(r, id, v);
	r->type = KDC_LWM2M_BOOL;
}

static void
res_bytes(struct kdc_lwm2m_res *r, uint16_t id, enum kdc_lwm2m_type t,
    const void *p, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->type = t;
	r->bytes = p;
	r->len = len;
}

/*
 * Issue the pending credential and send Write /0/<sec_iid> with it
 * (OMA-TS-LightweightM2M-Core E.1; lwm2m.md §2.4): 0 URI, 1 false (not a
 * BS account), 2 mode (0 PSK, 1 RPK, 2 certificate, 4 certificate with
 * EST), 3 identity / SPKI / certificate, 4 server key (empty for PSK),
 * 5 PSK or PKCS#8 key, 10 ssid. The secret lives only in this call's
 * buffers, wiped on exit. Mode 4 (profile cred_type x509-est) issues
 * nothing: 3 and 5 are empty, the device makes its key and enrolls over
 * EST /sen after Finish (lwm2m.md §2.4).
 */
static kdc_err
write_security(struct bs_sess *s)
{
	struct kdc_lwm2m *lw = s->lw;
	struct bs_aud *a = &s->aud[s->cur];
	const char *uri = a->builtin ? lw->server_uri : a->uri;
	/* the primary audience keeps the profile's default (NULL) */
	const char *aud = s->cur == 0 ? NULL : a->name;
	struct kdc_lwm2m_res res[7];
	struct kdc_psk_new psk;
	uint8_t *key = NULL, *pub = NULL, *body = NULL;
	size_t key_len = KDC_PRIVKEY_MAX, pub_len = 0, len = KDC_COAP_BODY_MAX;
	const uint8_t *srv = NULL;
	size_t srv_len = 0;
	char path[16];
	int64_t mode;
	kdc_err r;

	memset(&psk, 0, sizeof(psk));
	if (a->type == KDC_TYPE_RPK && a->builtin) {
		srv = lw->server_spki;
		srv_len = lw->server_spki_len;
	} else if (a->type == KDC_TYPE_X509 && a->builtin) {
		srv = lw->server_cert;
		srv_len = lw->server_cert_len;
	}
	if (a->type != KDC_TYPE_PSK && srv_len == 0) {
		r = KDC_ERR_CONFIG;	/* nothing to write as /0/x/4 */
		goto out;
	}
	if ((body = kdc_malloc(KDC_COAP_BODY_MAX)) == NULL ||
	    (key = kdc_malloc(KDC_PRIVKEY_MAX)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	res_bytes(&res[0], 0, KDC_LWM2M_STRING, uri, strlen(uri));
	res_bool(&res[1], 1, false);
	res_bytes(&res[4], 4, KDC_LWM2M_OPAQUE, srv, srv_len);
	res_int(&res[6], 10, a->builtin ? lw->ssid : a->ssid);
	if (a->est) {
		static const uint8_t none[1];

		mode = 4;
		res_bytes(&res[3], 3, KDC_LWM2M_OPAQUE, none, 0);
		res_bytes(&res[5], 5, KDC_LWM2M_OPAQUE, none, 0);
	} else if (a->type == KDC_TYPE_PSK) {
		mode = 0;
		if ((r = kdc_core_psk_issue(lw->core, KDC_LWM2M_ACTOR,
		    s->dev_id, aud, KDC_CRED_PENDING, &psk)) != KDC_OK)
			goto out;
		a->cred_id = psk.cred_id;
		res_bytes(&res[3], 3, KDC_LWM2M_OPAQUE, psk.identity,
		    strlen(psk.identity));
		res_bytes(&res[5], 5, KDC_LWM2M_OPAQUE, psk.psk, psk.psk_len);
	} else {
		mode = a->type == KDC_TYPE_RPK ? 1 : 2;
		if ((r = kdc_core_keypair_issue(lw->core, KDC_LWM2M_ACTOR,
		    s->dev_id, aud, a->type, KDC_CRED_PENDING, &a->cred_id,
		    key, &key_len, &pub, &pub_len)) != KDC_OK)
			goto out;
		res_bytes(&res[3], 3, KDC_LWM2M_OPAQUE, pub, pub_len);
		res_bytes(&res[5], 5, KDC_LWM2M_OPAQUE, key, key_len);
	}
	res_int(&res[2], 2, mode);
	snprintf(path, sizeof(path), "0/%u", a->sec_iid);
	if ((r = encode(s, 0, a->sec_iid, res, 7, body, &len)) != KDC_OK ||
	    (r = sess_send(s, KDC_COAP_PUT, path, s->cf, KDC_CF_NONE, body,
	    len)) != KDC_OK)
		goto out;
out:
	kdc_psk_new_wipe(&psk);
	if (body != NULL)
		kdc_secret_free(body, KDC_COAP_BODY_MAX);
	if (key != NULL)
		kdc_secret_free(key, KDC_PRIVKEY_MAX);
	kdc_free(pub);
	return r;
}

/* Write /1/<srv_iid>: 0 ssid, 1 lifetime, 6 notification storing
 * false, 7 binding "U" (lwm2m.md §2.5). */
static kdc_err
write_server(struct bs_sess *s)
{
	struct kdc_lwm2m_res res[4];
	uint8_t body[64];
	size_t len = sizeof(body);
	char path[16];
	kdc_err r;

	const struct bs_aud *a = &s->aud[s->cur];

	res_int(&res[0], 0, a->builtin ? s->lw->ssid : a->ssid);
	res_int(&res[1], 1, s->lw->lifetime);
	res_bool(&res[2], 6, false);
	res_bytes(&res[3], 7, KDC_LWM2M_STRING, "U", 1);
	snprintf(path, sizeof(path), "1/%u", a->srv_iid);
	if ((r = encode(s, 1, a->srv_iid, res, 4, body, &len)) != KDC_OK)
		return r;
	return sess_send(s, KDC_COAP_PUT, path, s->cf, KDC_CF_NONE, body, len);
}

/* Send the request of step s->step. */
static kdc_err
sess_step(struct bs_sess *s)
{
	switch (s->step) {
	case BS_DISCOVER:
		return sess_send(s, KDC_COAP_GET, "", KDC_CF_NONE,
		    KDC_CF_LINK_FORMAT, NULL, 0);
	case BS_DELALL:
		return sess_send(s, KDC_COAP_DELETE, "", KDC_CF_NONE,
		    KDC_CF_NONE, NULL, 0);
	case BS_DEL0:
		return sess_send(s, KDC_COAP_DELETE, "0", KDC_CF_NONE,
		    KDC_CF_NONE, NULL, 0);
	case BS_DEL1:
		return sess_send(s, KDC_COAP_DELETE, "1", KDC_CF_NONE,
		    KDC_CF_NONE, NULL, 0);
	case BS_WRITE0:
		return write_security(s);
	case BS_WRITE1:
		return write_server(s);
	case BS_FINISH:
		return sess_send(s, KDC_COAP_POST, "bs", KDC_CF_NONE,
		    KDC_CF_NONE, NULL, 0);
	}
	return KDC_ERR_INVALID_ARG;
}

static void
code_text(uint8_t code, char *buf, size_t cap)
{
	snprintf(buf, cap, "%u.%02u", (unsigned)(code >> 5),
	    (unsigned)(code & 0x1f));
}

/* What the bootstrap wrote, for its record: "type=T sec=/0/x srv=/1/y"
 * for the primary audience, " aud=A type=T sec=.. srv=.." for each
 * other, then the session's format, version and flags. */
static void
sess_note(const struct bs_sess *s, char *buf, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < s->naud && o < cap; i++) {
		const struct bs_aud *a = &s->aud[i];

		o += (size_t)snprintf(buf + o, cap - o, "%s%s%s%stype=%s "
		    "sec=/0/%u srv=/1/%u", i > 0 ? " " : "", i > 0 ? "aud=" :
		    "", i > 0 ? a->name : "", i > 0 ? " " : "",
		    a->est ? "x509-est" : kdc_cred_type_str(a->type),
		    a->sec_iid, a->srv_iid);
	}
	if (o < cap)
		snprintf(buf + o, cap - o, " cf=%d lwm2m=%s%s%s", s->cf,
		    s->version[0] != '\0' ? s->version : "?",
		    s->legacy ? " legacy" : "", s->nosec ? " nosec" : "");
}

static void
sess_finish_ok(struct bs_sess *s)
{
	int64_t ids[BS_AUD_MAX];
	size_t n = 0;
	char note[KDC_AUDIT_DETAIL_MAX + 1];
	kdc_err r;

	for (size_t i = 0; i < s->naud; i++)
		if (s->aud[i].cred_id != 0)
			ids[n++] = s->aud[i].cred_id;
	sess_note(s, note, sizeof(note));
	if (n == 0) {
		/* nothing was issued: the certificate comes from EST */
		kdc_log_info("bootstrap done ep=%s kind=%s from=%s mode=4 (EST)",
		    s->dev_id, s->kind, kdc_coap_peer_addr(s->peer));
		kdc_lwm2m_audit(s->lw, "lwm2m.bootstrap", s->dev_id, KDC_OK,
		    "mode=4 %s", note);
		sess_free(s, true);
		return;
	}
	/* one transaction: every activation and the bootstrap's record;
	 * all of them or none */
	if ((r = kdc_core_cred_activate_set(s->lw->core, KDC_LWM2M_ACTOR,
	    ids, n, "lwm2m.bootstrap", s->dev_id, note)) != KDC_OK) {
		/* the device has the credentials, we could not record them
		 * as issued: it fails to register and bootstraps again */
		sess_fail(s, r, "activating the credentials failed");
		return;
	}
	kdc_log_info("bootstrap done ep=%s kind=%s from=%s cred=%" PRId64
	    " type=%s audiences=%zu", s->dev_id, s->kind,
	    kdc_coap_peer_addr(s->peer), ids[0],
	    kdc_cred_type_str(s->aud[0].type), s->naud);
	sess_free(s, true);
}

/* The step after s's: DTLS sessions DISCOVER..FINISH in order, NoSec
 * ones DELALL, then WRITE0..FINISH; WRITE0, WRITE1 once per audience. */
static enum bs_step
next_step(struct bs_sess *s)
{
	switch (s->step) {
	case BS_DISCOVER:
		return BS_DEL0;
	case BS_DELALL:
		return BS_WRITE0;
	case BS_WRITE1:
		if (s->cur + 1 < s->naud) {
			s->cur++;
			return BS_WRITE0;
		}
		return BS_FINISH;
	default:
		return s->step + 1;
	}
}

/* The completion of the session's outstanding request. */
static void
bs_done(void *arg, struct kdc_coap_peer *peer, kdc_err status,
    const struct kdc_coap_msg *rsp)
{
	struct bs_sess *s = arg;
	uint8_t code = status == KDC_OK && rsp != NULL ? rsp->code : 0;
	char ctext[8];
	kdc_err r;

	(void)peer;
	s->busy = false;
	if (s->cancelled) {
		sess_free(s, true);
		return;
	}
	code_text(code, ctext, sizeof(ctext));
	switch (s->step) {
	case BS_DISCOVER:
		if (status == KDC_OK && code == KDC_COAP_CONTENT) {
			if ((r = parse_discover(s, rsp->payload,
			    rsp->payload_len)) != KDC_OK) {
				sess_fail(s, r, "bad link-format");
				return;
			}
		} else if (status == KDC_ERR_PEER_RESET ||
		    (status == KDC_OK && code >= KDC_COAP_BAD_REQUEST)) {
			/* LwM2M 1.0 has no Discover: its BS account is
			 * the usual /0/0, and TLV is what it reads */
			s->legacy = true;
			legacy_iids(s);
			s->cf = KDC_CF_LWM2M_TLV;
			kdc_log_debug("ep=%s discover refused (%s): legacy",
			    s->dev_id, status == KDC_OK ? ctext : "RST");
		} else {
			sess_fail(s, status != KDC_OK ? status :
			    KDC_ERR_PEER_ERROR, "answered %s",
			    status != KDC_OK ? kdc_err_name(status) : ctext);
			return;
		}
		break;
	case BS_DELALL:
	case BS_DEL0:
	case BS_DEL1:
		if (status != KDC_OK && status != KDC_ERR_PEER_RESET) {
			sess_fail(s, status, "answered %s",
			    kdc_err_name(status));
			return;
		}
		if (status != KDC_OK || code != KDC_COAP_DELETED)
			kdc_log_debug("ep=%s %s answered %s: carrying on",
			    s->dev_id, step_names[s->step],
			    status == KDC_OK ? ctext : "RST");
		break;
	case BS_WRITE0:
	case BS_WRITE1:
	case BS_FINISH:
		if (status != KDC_OK || code != KDC_COAP_CHANGED) {
			sess_fail(s, status != KDC_OK ? status :
			    KDC_ERR_PEER_ERROR, "answered %s",
			    status != KDC_OK ? kdc_err_name(status) : ctext);
			return;
		}
		if (s->step == BS_FINISH) {
			sess_finish_ok(s);
			return;
		}
		break;
	}
	if (kdc_core_now(s->lw->core) > s->deadline) {
		sess_fail(s, KDC_ERR_TIMEOUT, "past the %u s deadline",
		    s->lw->deadline);
		return;
	}
	s->step = next_step(s);
	if ((r = sess_step(s)) != KDC_OK)
		sess_fail(s, r, "could not proceed");
}

/* ---- POST /bs: Bootstrap-Request ---------------------------------------- */

/* pct=CF: the format the client asks for; one we can write, or else. */
static int
pick_cf(const char *pct, int dflt)
{
	if (pct == NULL)
		return dflt;
	if (strcmp(pct, "112") == 0)
		return KDC_CF_SENML_CBOR;
	if (strcmp(pct, "11542") == 0)
		return KDC_CF_LWM2M_TLV;
	/* SenML-JSON (110), LwM2M-CBOR (11544), ...: the OMA answer to
	 * "nothing known" is TLV, which every 1.x client reads */
	return dflt;
}

/*
 * Start a session for dev_id on peer (the checks are the caller's): a
 * running session of the device is cancelled, the Discover goes out and
 * the answer is 2.04, or 5.00 if nothing could be sent (audited).
 */
/*
 * A bootstrap session for dev_id on peer (held until it ends): the
 * sequence starts with its first request. pct: the format the device
 * asked for (NULL: the face's default). KDC_OK, or the error (*code the
 * CoAP answer for a /bs request); the session is gone then.
 */
static kdc_err
bs_begin(struct kdc_lwm2m *lw, struct kdc_coap_peer *peer, const char *dev_id,
    const char *kind, bool nosec, const char *pct,
    void (*done)(void *arg, kdc_err r), void *done_arg, uint8_t *code)
{
	struct bs_sess *s = NULL, *old;
	char creds[160];
	bool pending;
	kdc_err r;

	if ((old = sess_find(lw, dev_id)) != NULL) {
		old->cancelled = true;
		pending = sess_creds(old, creds, sizeof(creds));
		kdc_lwm2m_audit(lw, "lwm2m.bootstrap", old->dev_id,
		    KDC_ERR_CLOSED, "step=%s superseded by a new /bs cred=%s"
		    "%s%s", step_names[old->step], creds,
		    pending ? " left pending" : "", old->nosec ? " nosec" : "");
		old->result = KDC_ERR_CLOSED;
		if (!old->busy)
			sess_free(old, true);
	}
	if ((s = kdc_calloc(1, sizeof(*s))) == NULL) {
		*code = KDC_COAP_INTERNAL;
		return KDC_ERR_NOMEM;
	}
	s->lw = lw;
	s->peer = peer;
	s->nosec = nosec;
	s->kind = kind;
	snprintf(s->dev_id, sizeof(s->dev_id), "%s", dev_id);
	s->cf = pick_cf(pct, lw->cf);
	s->step = BS_DISCOVER;
	s->deadline = kdc_core_now(lw->core) + (int64_t)lw->deadline;
	kdc_coap_peer_hold(peer);
	s->next = lw->sessions;
	lw->sessions = s;
	/* what to write: known before the Discover, which picks an
	 * instance pair for each */
	if ((r = sess_audiences(s)) != KDC_OK) {
		sess_fail(s, r, "the device's LwM2M audiences");
		*code = r == KDC_ERR_UNKNOWN_AUDIENCE ? kdc_coap_code(r) :
		    KDC_COAP_INTERNAL;
		return r;
	}
	if (nosec) {
		/* a DTLS-less 1.0 client: the legacy path from the start,
		 * Delete / (the one Bootstrap-Delete coap-node implements) */
		s->legacy = true;
		legacy_iids(s);
		s->cf = KDC_CF_LWM2M_TLV;
		s->step = BS_DELALL;
	}
	/*
	 * The first request goes out from inside the handler; coap.h's engine
	 * sends the piggy-backed 2.04 first (Leshan waits for it too).
	 */
	if ((r = sess_step(s)) != KDC_OK) {
		sess_fail(s, r, "cannot send");
		*code = KDC_COAP_INTERNAL;
		return r;
	}
	/* told from now on, once, when it ends (sess_free) */
	s->done = done;
	s->done_arg = done_arg;
	/* one info line per bootstrap, when it ends (done or failed): at
	 * thousands per second a second line is a write(2) each */
	kdc_log_debug("bootstrap start ep=%s kind=%s cf=%d from=%s", s->dev_id,
	    kind, s->cf, kdc_coap_peer_addr(peer));
	*code = KDC_COAP_CHANGED;
	return KDC_OK;
}

static void
bs_start(struct kdc_lwm2m *lw, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp,
    const char *dev_id, const char *kind, bool nosec)
{
	uint8_t code;

	(void)bs_begin(lw, peer, dev_id, kind, nosec,
	    kdc_coap_msg_query(req, "pct"), NULL, NULL, &code);
	resp->code = code;
}

kdc_err
kdc_lwm2m_bootstrap_peer(struct kdc_lwm2m *lw, struct kdc_coap_peer *peer,
    void (*done)(void *arg, kdc_err r), void *arg)
{
	const struct kdc_principal *auth;
	uint8_t code;

	if (lw == NULL || peer == NULL || done == NULL)
		return KDC_ERR_INVALID_ARG;
	auth = kdc_coap_peer_auth(peer);
	if (auth->dev_id[0] == '\0')
		return KDC_ERR_INVALID_ARG;
	return bs_begin(lw, peer, auth->dev_id, "server-initiated", false,
	    NULL, done, arg, &code);
}

/* POST /bs on a DTLS endpoint: core decides (kdc_authorize()). */
static void
bs_request(void *arg, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	struct kdc_lwm2m *lw = arg;
	const struct kdc_principal *auth = kdc_coap_peer_auth(peer);
	const char *ep = kdc_coap_msg_query(req, "ep");
	kdc_err r;

	resp->code = KDC_COAP_BAD_REQUEST;
	if (ep == NULL || *ep == '\0') {
		kdc_log_debug("/bs without ep from %s",
		    kdc_coap_peer_addr(peer));
		return;
	}
	/* core's rule "bootstrap": its own device, by a credential of its */
	if ((r = kdc_authorize(lw->core, KDC_LWM2M_ACTOR, auth,
	    KDC_ACT_BOOTSTRAP, ep, "lwm2m.bootstrap", NULL, 0)) != KDC_OK) {
		resp->code = kdc_coap_code(r);
		return;
	}
	bs_start(lw, peer, req, resp, auth->dev_id,
	    kdc_cred_kind_str(auth->kind), false);
}

/*
 * POST /bs on the NoSec endpoint (tests only; routed there alone, so the
 * endpoint is the gate): the peer proved nothing, ep is all there is. It
 * must name a registered device that is not revoked: unknown and revoked
 * are 4.03 like a DTLS refusal (no hint which), audited as NoSec.
 */
static void
bs_request_nosec(void *arg, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	struct kdc_lwm2m *lw = arg;
	const struct kdc_principal *auth = kdc_coap_peer_auth(peer);
	const char *ep = kdc_coap_msg_query(req, "ep");
	struct kdc_device *dev = NULL;
	char esc[KDC_DEVID_MAX * 4 + 1];
	kdc_err r;

	resp->code = KDC_COAP_BAD_REQUEST;
	if (ep == NULL || *ep == '\0') {
		kdc_log_debug("NoSec /bs without ep from %s",
		    kdc_coap_peer_addr(peer));
		return;
	}
	kdc_log_escape(ep, strlen(ep), esc, sizeof(esc));
	if (auth != NULL && auth->dev_id[0] != '\0') {
		/* the engine put an authenticated peer here: not ours */
		resp->code = KDC_COAP_FORBIDDEN;
		kdc_lwm2m_audit(lw, "lwm2m.bootstrap", esc, KDC_ERR_DENIED,
		    "ep=%s: authenticated peer on the NoSec endpoint", esc);
		return;
	}
	if (strlen(ep) > KDC_DEVID_MAX)
		r = KDC_ERR_UNKNOWN_DEVICE;
	else if ((r = kdc_core_device_get(lw->core, ep, &dev)) == KDC_OK &&
	    dev->status != KDC_DEV_ACTIVE)
		r = KDC_ERR_REVOKED;
	kdc_device_free(dev);
	if (r != KDC_OK) {
		resp->code = r == KDC_ERR_UNKNOWN_DEVICE ||
		    r == KDC_ERR_REVOKED ? KDC_COAP_FORBIDDEN :
		    kdc_coap_code(r);
		kdc_lwm2m_audit(lw, "lwm2m.bootstrap", esc, r,
		    "ep=%s from=%s: refused nosec", esc,
		    kdc_coap_peer_addr(peer));
		return;
	}
	kdc_log_warn("NoSec bootstrap ep=%s from=%s: unauthenticated, tests "
	    "only", esc, kdc_coap_peer_addr(peer));
	bs_start(lw, peer, req, resp, ep, "nosec", true);
}

/* ---- lifetime ----------------------------------------------------------- */

kdc_err
kdc_lwm2m_attach(struct kdc_coap *c, struct kdc_core *core,
    const struct kdc_lwm2m_opts *o, struct kdc_lwm2m **out)
{
	struct kdc_lwm2m *lw = NULL;
	const char *bs_name, *srv_name;
	kdc_err r;

	*out = NULL;
	if (c == NULL || core == NULL || o == NULL ||
	    o->server_uri == NULL || *o->server_uri == '\0' ||
	    (o->content_format != 0 &&
	    o->content_format != KDC_CF_LWM2M_TLV &&
	    o->content_format != KDC_CF_SENML_CBOR) ||
	    (o->nosec_endpoint != NULL && strcmp(o->nosec_endpoint,
	    o->bs_endpoint != NULL ? o->bs_endpoint : "kdc") == 0))
		return KDC_ERR_INVALID_ARG;
	if ((lw = kdc_calloc(1, sizeof(*lw))) == NULL ||
	    (lw->server_uri = kdc_strdup(o->server_uri)) == NULL) {
		r = KDC_ERR_NOMEM;
		goto out;
	}
	lw->coap = c;
	lw->core = core;
	lw->server_cert = o->server_cert;
	lw->server_cert_len = o->server_cert != NULL ? o->server_cert_len : 0;
	lw->server_spki = o->server_spki;
	lw->server_spki_len = o->server_spki != NULL ? o->server_spki_len : 0;
	lw->cf = o->content_format != 0 ? o->content_format : KDC_CF_LWM2M_TLV;
	lw->deadline = o->bs_deadline != 0 ? o->bs_deadline :
	    KDC_LWM2M_BS_DEADLINE;
	lw->lifetime = o->lifetime != 0 ? o->lifetime :
	    KDC_LWM2M_LIFETIME_DEFAULT;
	lw->ssid = o->ssid != 0 ? o->ssid : 1;
	bs_name = o->bs_endpoint != NULL ? o->bs_endpoint : "kdc";
	srv_name = o->server_endpoint != NULL ? o->server_endpoint : "lwm2m";
	if ((r = kdc_coap_route(c, bs_name, KDC_COAP_POST, "bs", bs_request,
	    lw)) != KDC_OK ||
	    (o->nosec_endpoint != NULL && (r = kdc_coap_route(c,
	    o->nosec_endpoint, KDC_COAP_POST, "bs", bs_request_nosec, lw)) !=
	    KDC_OK) ||
	    (r = kdc_lwm2m_server_attach(lw, srv_name)) != KDC_OK)
		goto out;
	*out = lw;
	lw = NULL;
out:
	kdc_lwm2m_free(lw);
	return r;
}

void
kdc_lwm2m_free(struct kdc_lwm2m *lw)
{
	if (lw == NULL)
		return;
	/* the engine is gone (lwm2m.h): free without releasing peers */
	while (lw->sessions != NULL) {
		if (lw->sessions->result == KDC_OK)
			lw->sessions->result = KDC_ERR_CLOSED;
		sess_free(lw->sessions, false);
	}
	kdc_free(lw->server_uri);
	kdc_free(lw);
}
