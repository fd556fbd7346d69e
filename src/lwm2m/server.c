/*
 * server.c: the built-in LwM2M Server's registration interface
 * (OMA-TS-LightweightM2M-Core §6.2 and transport §6.5):
 *
 *   POST   /rd?ep=NAME[&lt=S][&lwm2m=V][&b=U]   Register   -> 2.01 rd/<id>
 *   POST   /rd/<id>[?lt=S][&b=U]                Update     -> 2.04
 *   DELETE /rd/<id>                             De-register -> 2.02
 *
 * Only a peer that authenticated with its device's current issued
 * operational credential (the one a bootstrap wrote) may register, and
 * only under its own device id as ep; a manufacturer credential gets
 * 4.03. Registration and de-registration are audited; Updates, which a
 * client sends every lifetime, are only logged at debug level.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "core/lwm2m_reg.h"
#include "lwm2m/lwm2m.h"
#include "lwm2m/lwm2m_int.h"

/* ---- checks ------------------------------------------------------------- */

/*
 * Is this peer allowed to use the registration interface (core's rule
 * "register": an operational credential that is still the device's
 * current one, for its own device when ep names one)? Refusals are
 * audited by core under `action`.
 */
static kdc_err
peer_check(struct kdc_lwm2m *lw, struct kdc_coap_peer *peer,
    const char *action, const char *ep)
{
	return kdc_authorize(lw->core, KDC_LWM2M_ACTOR,
	    kdc_coap_peer_auth(peer), KDC_ACT_REGISTER, ep, action, NULL, 0);
}

/* Lifetime from lt=, strictly decimal and within the limits. */
static kdc_err
parse_lt(const char *s, int64_t *lt)
{
	int64_t v = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 10)
		return KDC_ERR_MALFORMED;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return KDC_ERR_MALFORMED;
		v = v * 10 + (*p - '0');
	}
	if (v < KDC_LWM2M_LT_MIN || v > KDC_LWM2M_LT_MAX)
		return KDC_ERR_INVALID_ARG;
	*lt = v;
	return KDC_OK;
}

/* A short token of allowed characters (binding modes, version). */
static bool
token_ok(const char *s, size_t max, const char *allowed)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	return strspn(s, allowed) == n;
}

/* "rd/<id>" -> id; NOT_FOUND for anything else. */
static kdc_err
parse_loc(const char *path, int64_t *id)
{
	int64_t v = 0;
	const char *p;

	if (strncmp(path, "rd/", 3) != 0 || path[3] == '\0' ||
	    strlen(path + 3) > 18)
		return KDC_ERR_NOT_FOUND;
	for (p = path + 3; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return KDC_ERR_NOT_FOUND;
		v = v * 10 + (*p - '0');
	}
	if (v <= 0)
		return KDC_ERR_NOT_FOUND;
	*id = v;
	return KDC_OK;
}

static void
peer_addr(struct kdc_coap_peer *peer, char *out, size_t cap)
{
	const char *a = kdc_coap_peer_addr(peer);

	snprintf(out, cap, "%s", a != NULL ? a : "");
}

/* ---- handlers ----------------------------------------------------------- */

static void
rd_register(void *arg, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	struct kdc_lwm2m *lw = arg;
	const struct kdc_principal *auth;
	const char *ep = kdc_coap_msg_query(req, "ep");
	const char *lt = kdc_coap_msg_query(req, "lt");
	const char *ver = kdc_coap_msg_query(req, "lwm2m");
	const char *b = kdc_coap_msg_query(req, "b");
	struct kdc_lwm2m_reg reg;
	kdc_err r;

	resp->code = KDC_COAP_BAD_REQUEST;
	if ((r = peer_check(lw, peer, "lwm2m.register", ep != NULL &&
	    *ep != '\0' ? ep : NULL)) != KDC_OK) {
		resp->code = kdc_coap_code(r);
		return;
	}
	auth = kdc_coap_peer_auth(peer);
	if (ep == NULL || *ep == '\0')
		return;
	memset(&reg, 0, sizeof(reg));
	reg.lifetime = KDC_LWM2M_LIFETIME_DEFAULT;	/* §6.2.1: lt default */
	if ((lt != NULL && parse_lt(lt, &reg.lifetime) != KDC_OK) ||
	    (ver != NULL && !token_ok(ver, KDC_LWM2M_VERSION_MAX,
	    "0123456789.")) ||
	    (b != NULL && !token_ok(b, KDC_LWM2M_BINDING_MAX, "UQSNT")))
		return;
	reg.device = auth->device;
	snprintf(reg.ep, sizeof(reg.ep), "%s", auth->dev_id);
	snprintf(reg.version, sizeof(reg.version), "%s",
	    ver != NULL ? ver : "1.0");
	snprintf(reg.binding, sizeof(reg.binding), "%s", b != NULL ? b : "U");
	peer_addr(peer, reg.addr, sizeof(reg.addr));
	reg.registered = kdc_core_now(lw->core);
	reg.updated = reg.registered;
	if ((r = kdc_core_lwm2m_reg_put(lw->core, &reg)) != KDC_OK) {
		kdc_log_err_r(r, "register ep=%s", reg.ep);
		resp->code = kdc_coap_code(r == KDC_ERR_NOT_FOUND ?
		    KDC_ERR_UNKNOWN_DEVICE : r);
		return;
	}
	kdc_lwm2m_audit(lw, "lwm2m.register", reg.ep, KDC_OK,
	    "reg=%" PRId64 " lt=%" PRId64 " lwm2m=%s b=%s cred=%" PRId64,
	    reg.id, reg.lifetime, reg.version, reg.binding, auth->cred_id);
	kdc_log_info("registered ep=%s reg=%" PRId64 " lt=%" PRId64, reg.ep,
	    reg.id, reg.lifetime);
	snprintf(resp->location, sizeof(resp->location), "rd/%" PRId64,
	    reg.id);
	resp->code = KDC_COAP_CREATED;
}

/* The registration named by the path, if it is the peer's own. */
static kdc_err
own_reg(struct kdc_lwm2m *lw, struct kdc_coap_peer *peer, const char *path,
    const char *action, struct kdc_lwm2m_reg *reg)
{
	const struct kdc_principal *auth;
	int64_t id;
	kdc_err r;

	if ((r = parse_loc(path, &id)) != KDC_OK)
		return r;
	if ((r = peer_check(lw, peer, action, NULL)) != KDC_OK)
		return r;
	auth = kdc_coap_peer_auth(peer);
	if ((r = kdc_core_lwm2m_reg_get(lw->core, id, reg)) != KDC_OK)
		return r;
	if (reg->device != auth->device) {
		kdc_lwm2m_audit(lw, action, auth->dev_id, KDC_ERR_DENIED,
		    "reg=%" PRId64 " belongs to another device", id);
		return KDC_ERR_DENIED;
	}
	return KDC_OK;
}

static void
rd_update(void *arg, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	struct kdc_lwm2m *lw = arg;
	const char *lt = kdc_coap_msg_query(req, "lt");
	const char *b = kdc_coap_msg_query(req, "b");
	struct kdc_lwm2m_reg reg;
	char addr[KDC_LWM2M_ADDR_MAX + 1];
	int64_t life = 0;
	kdc_err r;

	if ((r = own_reg(lw, peer, req->path, "lwm2m.update", &reg)) !=
	    KDC_OK) {
		resp->code = kdc_coap_code(r);
		return;
	}
	if ((lt != NULL && parse_lt(lt, &life) != KDC_OK) ||
	    (b != NULL && !token_ok(b, KDC_LWM2M_BINDING_MAX, "UQSNT"))) {
		resp->code = KDC_COAP_BAD_REQUEST;
		return;
	}
	peer_addr(peer, addr, sizeof(addr));
	if ((r = kdc_core_lwm2m_reg_touch(lw->core, reg.id,
	    kdc_core_now(lw->core), life, b, addr)) != KDC_OK) {
		resp->code = kdc_coap_code(r);
		return;
	}
	kdc_log_debug("update ep=%s reg=%" PRId64, reg.ep, reg.id);
	resp->code = KDC_COAP_CHANGED;
}

static void
rd_delete(void *arg, struct kdc_coap_peer *peer,
    const struct kdc_coap_msg *req, struct kdc_coap_resp *resp)
{
	struct kdc_lwm2m *lw = arg;
	struct kdc_lwm2m_reg reg;
	kdc_err r;

	if ((r = own_reg(lw, peer, req->path, "lwm2m.deregister", &reg)) !=
	    KDC_OK ||
	    (r = kdc_core_lwm2m_reg_delete(lw->core, reg.id)) != KDC_OK) {
		resp->code = kdc_coap_code(r);
		return;
	}
	kdc_lwm2m_audit(lw, "lwm2m.deregister", reg.ep, KDC_OK,
	    "reg=%" PRId64, reg.id);
	resp->code = KDC_COAP_DELETED;
}

/* ---- revocation ---------------------------------------------------------- */

/* Does registration reg still stand? KDC_OK, or why not. */
static kdc_err
reg_stands(struct kdc_lwm2m *lw, const struct kdc_lwm2m_reg *reg)
{
	struct kdc_device *dev = NULL;
	struct kdc_cred *cur = NULL;
	kdc_err r;

	if ((r = kdc_core_device_get_by_id(lw->core, reg->device, &dev)) !=
	    KDC_OK)
		return r;
	if (dev->status == KDC_DEV_REVOKED)
		r = KDC_ERR_REVOKED;
	else if ((r = kdc_core_cred_current(lw->core, dev->dev_id,
	    KDC_AUDIENCE_BUILTIN, KDC_CRED_ISSUED, &cur)) ==
	    KDC_ERR_NOT_FOUND)
		r = KDC_ERR_REVOKED;	/* no operational credential left */
	kdc_cred_free(cur);
	kdc_device_free(dev);
	return r;
}

kdc_err
kdc_lwm2m_server_recheck(struct kdc_lwm2m *lw)
{
	struct kdc_lwm2m_reg *v = NULL;
	size_t n = 0;
	kdc_err r, st;

	if ((r = kdc_core_lwm2m_reg_list(lw->core, &v, &n)) != KDC_OK)
		return r;
	for (size_t i = 0; i < n; i++) {
		st = reg_stands(lw, &v[i]);
		if (st == KDC_OK)
			continue;
		if (st != KDC_ERR_REVOKED && st != KDC_ERR_UNKNOWN_DEVICE) {
			r = st;		/* a store error: next time */
			continue;
		}
		if ((st = kdc_core_lwm2m_reg_delete(lw->core, v[i].id)) !=
		    KDC_OK && st != KDC_ERR_NOT_FOUND) {
			r = st;
			continue;
		}
		kdc_lwm2m_audit(lw, "lwm2m.drop", v[i].ep, KDC_ERR_REVOKED,
		    "reg=%" PRId64 " dropped: the device or its operational "
		    "credential was revoked", v[i].id);
		kdc_log_info("registration dropped ep=%s reg=%" PRId64
		    ": revoked", v[i].ep, v[i].id);
	}
	kdc_lwm2m_reg_list_free(v);
	return r;
}

kdc_err
kdc_lwm2m_server_attach(struct kdc_lwm2m *lw, const char *name)
{
	kdc_err r;

	if ((r = kdc_coap_route(lw->coap, name, KDC_COAP_POST, "rd",
	    rd_register, lw)) != KDC_OK ||
	    (r = kdc_coap_route(lw->coap, name, KDC_COAP_POST, "rd/*",
	    rd_update, lw)) != KDC_OK ||
	    (r = kdc_coap_route(lw->coap, name, KDC_COAP_DELETE, "rd/*",
	    rd_delete, lw)) != KDC_OK)
		return r;
	return KDC_OK;
}
