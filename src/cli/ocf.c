/*
 * ocf.c: `iotkdc ocf discover|onboard|pair|cert|acl add|devices|offboard`,
 * the KDC as OCF onboarding tool, CMS and AMS (issue 16). The commands
 * that reach devices run the OBT (ocf/obt.h) on a short-lived engine in
 * this process; `devices` reads core's records.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "base/alloc.h"
#include "cli/cli_int.h"
#include "core/ocf.h"
#include "ocf/obt.h"

#define DEFAULT_WINDOW_MS	2000
#define DEFAULT_PIN_WAIT_S	120

static int
print_json(json_t *j)
{
	int r = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	json_decref(j);
	fputc('\n', stdout);
	return r == 0 ? 0 : fail("writing JSON failed");
}

static const char *
iface_of(const struct kdc_cli_args *a, const struct ctx *c)
{
	if (a->iface != NULL)
		return a->iface;
	if (c->cfg.ocf_interface[0] != '\0')
		return c->cfg.ocf_interface;
	return NULL;
}

static unsigned
window_of(const struct kdc_cli_args *a, const struct ctx *c)
{
	if (a->window > 0)
		return (unsigned)a->window;
	if (c->cfg.ocf_discovery_window > 0)
		return (unsigned)c->cfg.ocf_discovery_window;
	return DEFAULT_WINDOW_MS;
}

/* The OBT for a command that reaches devices; 1 printed on failure. */
static int
obt_open(const struct kdc_cli_args *a, struct ctx *c, struct kdc_ocf_obt **o)
{
	const char *ifn;
	kdc_err r;

	if (ctx_open(c, a, 1) != 0)
		return 1;
	if ((ifn = iface_of(a, c)) == NULL) {
		ctx_close(c);
		return fail("ocf: which link? --iface IF, or [ocf] interface "
		    "in iotkdc.conf");
	}
	if ((r = kdc_ocf_obt_new(c->core, &c->cfg, ifn, window_of(a, c), o)) !=
	    KDC_OK) {
		ctx_close(c);
		return fail("ocf: %s: %s", ifn, kdc_err_str(r));
	}
	return 0;
}

static void
otms_text(const struct kdc_ocf_found *f, char *out, size_t cap)
{
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < f->n_oxms && off < cap; i++) {
		int n = snprintf(out + off, cap - off, "%s%s", i ? "," : "",
		    kdc_ocf_otm_name((int)f->oxms[i]));

		if (n < 0)
			break;
		off += (size_t)n;
	}
}

static int
cmd_discover(const struct kdc_cli_args *a)
{
	struct kdc_ocf_obt *o = NULL;
	struct kdc_ocf_found *f;
	struct ctx c;
	size_t n = 0;
	int rc = 1;
	kdc_err r;

	if (obt_open(a, &c, &o) != 0)
		return 1;
	if ((f = kdc_calloc(KDC_OCF_FOUND_MAX, sizeof(*f))) == NULL) {
		fail("out of memory");
		goto out;
	}
	if ((r = kdc_ocf_obt_discover(o, f, KDC_OCF_FOUND_MAX, &n)) !=
	    KDC_OK) {
		fail("ocf discover: %s", r == KDC_ERR_NOT_FOUND ?
		    "the interface has no address to send from" :
		    kdc_err_str(r));
		goto out;
	}
	if (a->json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < n; i++) {
			json_t *j = json_object(), *ox = json_array();

			for (size_t k = 0; k < f[i].n_oxms; k++)
				json_array_append_new(ox, json_string(
				    kdc_ocf_otm_name((int)f[i].oxms[k])));
			json_object_set_new(j, "uuid", json_string(f[i].uuid));
			json_object_set_new(j, "addr", json_string(f[i].addr));
			json_object_set_new(j, "coap_port",
			    json_integer(f[i].coap_port));
			json_object_set_new(j, "coaps_port",
			    json_integer(f[i].coaps_port));
			if (f[i].doxm_ok) {
				json_object_set_new(j, "owned",
				    json_boolean(f[i].owned));
				json_object_set_new(j, "otms", ox);
				json_object_set_new(j, "sct",
				    json_integer((json_int_t)f[i].sct));
			} else {
				json_decref(ox);
				json_object_set_new(j, "owned", json_null());
			}
			json_array_append_new(arr, j);
		}
		rc = print_json(arr);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char otms[64];

		otms_text(&f[i], otms, sizeof(otms));
		printf("%s  %s  coap=%d coaps=%d  %s%s%s\n", f[i].uuid,
		    f[i].addr, f[i].coap_port, f[i].coaps_port,
		    !f[i].doxm_ok ? "doxm unreadable (owned?)" :
		    f[i].owned ? "owned" : "unowned",
		    f[i].doxm_ok && !f[i].owned ? "  otm=" : "",
		    f[i].doxm_ok && !f[i].owned ? otms : "");
	}
	if (n == 0)
		fprintf(stderr, "no OCF device answered within %u ms\n",
		    window_of(a, &c));
	rc = 0;
out:
	kdc_free(f);
	kdc_ocf_obt_free(o);
	ctx_close(&c);
	return rc;
}

static int
cmd_onboard(const struct kdc_cli_args *a)
{
	struct kdc_ocf_onboard_opts op;
	struct kdc_ocf_obt *o = NULL;
	struct ctx c;
	char newu[KDC_OCF_UUID_TEXT + 1], why[256];
	kdc_err r;

	if (strcmp(a->otm, "jw") == 0 && !a->unauthenticated)
		return fail("ocf onboard --otm jw: Just Works authenticates "
		    "nobody (whoever answers on the link first gets the owner "
		    "key; a man in the middle reads and changes everything): "
		    "add --unauthenticated to accept that for this device, or "
		    "use rdp or mfgcert");
	if (strcmp(a->otm, "jw") == 0)
		fprintf(stderr, "warning: Just Works onboarding of %s: nobody "
		    "is authenticated\n", a->pos[0]);
	if (obt_open(a, &c, &o) != 0)
		return 1;
	memset(&op, 0, sizeof(op));
	op.uuid = a->pos[0];
	op.otm = strcmp(a->otm, "rdp") == 0 ? KDC_OCF_OXM_RDP :
	    strcmp(a->otm, "jw") == 0 ? KDC_OCF_OXM_JW : KDC_OCF_OXM_MFGCERT;
	op.unauthenticated = a->unauthenticated;
	op.pin_file = a->pin_file;
	op.pin_wait_s = c.cfg.ocf_pin_wait > 0 ? (unsigned)c.cfg.ocf_pin_wait :
	    DEFAULT_PIN_WAIT_S;
	r = kdc_ocf_obt_onboard(o, &op, newu, why, sizeof(why));
	kdc_ocf_obt_free(o);
	ctx_close(&c);
	if (r != KDC_OK)
		return fail("ocf onboard %s: %s", a->pos[0],
		    why[0] != '\0' ? why : kdc_err_str(r));
	printf("onboarded %s (%s): its uuid is now %s\n", a->pos[0], a->otm,
	    newu);
	return 0;
}

static int
cmd_pair(const struct kdc_cli_args *a)
{
	struct kdc_ocf_obt *o = NULL;
	struct ctx c;
	char why[256];
	kdc_err r;

	if (obt_open(a, &c, &o) != 0)
		return 1;
	r = kdc_ocf_obt_pair(o, a->pos[0], a->pos[1], why, sizeof(why));
	kdc_ocf_obt_free(o);
	ctx_close(&c);
	if (r != KDC_OK)
		return fail("ocf pair: %s", why[0] != '\0' ? why :
		    kdc_err_str(r));
	printf("paired %s and %s\n", a->pos[0], a->pos[1]);
	return 0;
}

static int
cmd_cert(const struct kdc_cli_args *a)
{
	struct kdc_ocf_obt *o = NULL;
	struct ctx c;
	char why[256];
	kdc_err r;

	if (obt_open(a, &c, &o) != 0)
		return 1;
	r = kdc_ocf_obt_cert(o, a->pos[0], why, sizeof(why));
	kdc_ocf_obt_free(o);
	ctx_close(&c);
	if (r != KDC_OK)
		return fail("ocf cert %s: %s", a->pos[0], why[0] != '\0' ? why :
		    kdc_err_str(r));
	printf("identity certificate installed on %s\n", a->pos[0]);
	return 0;
}

/* --subject, --href, --perm into one ACE; -1 (printed) on a bad one. */
static int
parse_ace(const struct kdc_cli_args *a, struct kdc_ocf_ace *ace)
{
	const char *s = a->subject, *h = a->href;

	memset(ace, 0, sizeof(*ace));
	if (strncmp(s, "conntype:", 9) == 0) {
		ace->subject = KDC_OCF_SUBJ_CONNTYPE;
		if (strcmp(s + 9, "auth-crypt") == 0)
			ace->conntype = KDC_OCF_CONN_AUTH_CRYPT;
		else if (strcmp(s + 9, "anon-clear") == 0)
			ace->conntype = KDC_OCF_CONN_ANON_CLEAR;
		else
			return fail("--subject conntype: auth-crypt or "
			    "anon-clear");
	} else if (strncmp(s, "role:", 5) == 0) {
		const char *at = strchr(s + 5, '@');
		size_t rl = at != NULL ? (size_t)(at - s - 5) : strlen(s + 5);

		ace->subject = KDC_OCF_SUBJ_ROLE;
		if (rl == 0 || rl >= sizeof(ace->role) || (at != NULL &&
		    strlen(at + 1) >= sizeof(ace->authority)))
			return fail("--subject role:NAME[@AUTHORITY]: 1..%zu "
			    "bytes each", sizeof(ace->role) - 1);
		memcpy(ace->role, s + 5, rl);
		if (at != NULL)
			strcpy(ace->authority, at + 1);
	} else {
		if (strncmp(s, "uuid:", 5) == 0)
			s += 5;
		ace->subject = KDC_OCF_SUBJ_UUID;
		if (kdc_ocf_uuid_parse(s, strlen(s), &ace->uuid) != KDC_OK)
			return fail("--subject: a device uuid, conntype:..., "
			    "or role:...");
	}
	while (*h != '\0') {
		const char *e = strchr(h, ',');
		size_t l = e != NULL ? (size_t)(e - h) : strlen(h);
		struct kdc_ocf_ace_res *res;

		if (ace->n_res == KDC_OCF_ACE_RES_MAX)
			return fail("--href: at most %d resources",
			    KDC_OCF_ACE_RES_MAX);
		res = &ace->res[ace->n_res++];
		if (l == 1 && (*h == '*' || *h == '+' || *h == '-'))
			res->wc = *h == '*' ? KDC_OCF_WC_ALL : *h == '+' ?
			    KDC_OCF_WC_SECURED : KDC_OCF_WC_PUBLIC;
		else if (l == 0 || l >= sizeof(res->href) || *h != '/')
			return fail("--href: paths starting with '/' (at most "
			    "%zu bytes), or *, +, -", sizeof(res->href) - 1);
		else
			memcpy(res->href, h, l);
		h += l;
		if (*h == ',')
			h++;
	}
	for (const char *p = a->perm; *p != '\0'; p++) {
		const char *bits = "crudn", *k = strchr(bits, *p);

		if (k == NULL)
			return fail("--perm: letters of crudn");
		ace->permission |= 1u << (k - bits);
	}
	if (ace->permission == 0)
		return fail("--perm: at least one of crudn");
	ace->has = KDC_OCF_ACE_HAS_PERMISSION;
	return 0;
}

static int
cmd_acl_add(const struct kdc_cli_args *a)
{
	struct kdc_ocf_obt *o = NULL;
	struct kdc_ocf_ace ace;
	struct ctx c;
	char why[256];
	kdc_err r;

	if (parse_ace(a, &ace) != 0)
		return 1;
	if (obt_open(a, &c, &o) != 0)
		return 1;
	r = kdc_ocf_obt_acl_add(o, a->pos[0], &ace, why, sizeof(why));
	kdc_ocf_obt_free(o);
	ctx_close(&c);
	if (r != KDC_OK)
		return fail("ocf acl add %s: %s", a->pos[0], why[0] != '\0' ?
		    why : kdc_err_str(r));
	printf("ACE added on %s\n", a->pos[0]);
	return 0;
}

static int
cmd_offboard(const struct kdc_cli_args *a)
{
	struct kdc_ocf_obt *o = NULL;
	struct ctx c;
	char why[256];
	kdc_err r;

	if (obt_open(a, &c, &o) != 0)
		return 1;
	r = kdc_ocf_obt_offboard(o, a->pos[0], a->force, why, sizeof(why));
	kdc_ocf_obt_free(o);
	ctx_close(&c);
	if (r != KDC_OK)
		return fail("ocf offboard %s: %s", a->pos[0], why[0] != '\0' ?
		    why : kdc_err_str(r));
	printf("offboarded %s\n", a->pos[0]);
	return 0;
}

static int
cmd_renew(const struct kdc_cli_args *a)
{
	struct kdc_ocf_device *v = NULL;
	struct kdc_ocf_obt *o = NULL;
	struct ctx c;
	size_t n = 0, done = 0, failed = 0;
	int64_t now, within;
	char why[256];
	kdc_err r;

	if (obt_open(a, &c, &o) != 0)
		return 1;
	if ((r = kdc_core_ocf_device_list(c.core, &v, &n)) != KDC_OK) {
		fail("ocf renew: %s", kdc_err_str(r));
		goto out;
	}
	now = kdc_core_now(c.core);
	within = (a->within >= 0 ? a->within : c.cfg.ocf_cert_days / 3) *
	    86400;
	for (size_t i = 0; i < n; i++) {
		if (v[i].state != KDC_OCF_OWNED || v[i].cert_not_after == 0 ||
		    v[i].cert_not_after - now > within)
			continue;
		if ((r = kdc_ocf_obt_cert(o, v[i].uuid, why, sizeof(why))) !=
		    KDC_OK) {
			fprintf(stderr, "iotkdc: ocf renew %s: %s\n", v[i].uuid,
			    why[0] != '\0' ? why : kdc_err_str(r));
			failed++;
			continue;
		}
		printf("renewed the identity certificate of %s\n", v[i].uuid);
		done++;
	}
	printf("%zu renewed, %zu failed\n", done, failed);
out:
	kdc_free(v);
	kdc_ocf_obt_free(o);
	ctx_close(&c);
	return failed > 0 || r != KDC_OK ? 1 : 0;
}

static json_t *
json_ts(int64_t t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL)
		return json_null();
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

static int
cmd_devices(const struct kdc_cli_args *a)
{
	struct kdc_ocf_device *v = NULL;
	struct ctx c;
	size_t n = 0;
	int rc = 1;
	kdc_err r;

	if (ctx_open(&c, a, 0) != 0)
		return 1;
	if ((r = kdc_core_ocf_device_list(c.core, &v, &n)) != KDC_OK) {
		fail("ocf devices: %s", kdc_err_str(r));
		goto out;
	}
	if (a->json) {
		json_t *arr = json_array();

		for (size_t i = 0; i < n; i++) {
			json_t *j = json_object();

			json_object_set_new(j, "uuid", json_string(v[i].uuid));
			json_object_set_new(j, "first_uuid",
			    json_string(v[i].first_uuid));
			json_object_set_new(j, "device", v[i].dev_id[0] ?
			    json_string(v[i].dev_id) : json_null());
			json_object_set_new(j, "otm",
			    json_string(kdc_ocf_otm_name(v[i].otm)));
			json_object_set_new(j, "state",
			    json_string(kdc_ocf_state_str(v[i].state)));
			json_object_set_new(j, "step", json_string(v[i].step));
			json_object_set_new(j, "error", v[i].err != KDC_OK ?
			    json_string(kdc_err_str(v[i].err)) : json_null());
			json_object_set_new(j, "coap", json_string(
			    v[i].coap_ep));
			json_object_set_new(j, "coaps", json_string(
			    v[i].coaps_ep));
			json_object_set_new(j, "created", json_ts(
			    v[i].created));
			json_object_set_new(j, "updated", json_ts(
			    v[i].updated));
			json_object_set_new(j, "cert_not_after",
			    json_ts(v[i].cert_not_after));
			json_array_append_new(arr, j);
		}
		rc = print_json(arr);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		printf("%s  %-10s %-7s step=%s%s%s  %s\n", v[i].uuid,
		    kdc_ocf_state_str(v[i].state), kdc_ocf_otm_name(v[i].otm),
		    v[i].step, v[i].err != KDC_OK ? " error=" : "",
		    v[i].err != KDC_OK ? kdc_err_str(v[i].err) : "",
		    v[i].coaps_ep);
	rc = 0;
out:
	kdc_free(v);
	ctx_close(&c);
	return rc;
}

int
kdc_cli_ocf(const struct kdc_cli_args *a)
{
	switch (a->cmd) {
	case KDC_CMD_OCF_DISCOVER:	return cmd_discover(a);
	case KDC_CMD_OCF_ONBOARD:	return cmd_onboard(a);
	case KDC_CMD_OCF_PAIR:		return cmd_pair(a);
	case KDC_CMD_OCF_CERT:		return cmd_cert(a);
	case KDC_CMD_OCF_ACL_ADD:	return cmd_acl_add(a);
	case KDC_CMD_OCF_DEVICES:	return cmd_devices(a);
	case KDC_CMD_OCF_OFFBOARD:	return cmd_offboard(a);
	case KDC_CMD_OCF_RENEW:		return cmd_renew(a);
	default:			return fail("not an ocf command");
	}
}
