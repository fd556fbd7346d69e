/*
 * authz.c: the one authorization decision (core.h kdc_authorize()). Every
 * face asks here; the rules are one table, and a refusal names the rule
 * that refused.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "core/core_int.h"

#define KIND(k)		(1u << (k))
#define TYPE(t)		(1u << (t))

/* How live the principal's credential must be now, in the store. */
enum live {
	LIVE_HANDSHAKE,	/* as checked at authentication, nothing more */
	LIVE_ISSUED,	/* the row still issued (not superseded, revoked) */
	LIVE_CURRENT,	/* issued, of its audience, not past not_after */
};

struct rule {
	const char	*name;
	unsigned	 kinds;		/* KIND() bits the action takes */
	unsigned	 op_types;	/* operational: TYPE() bits; 0 = any */
	bool		 self;		/* a target must be its own device */
	enum live	 live;
	/* operational credentials: the audience they must be for (the
	 * service asking); NULL = any */
	const char	*audience;
	/* operational PSKs: the one audience whose PSKs are taken; NULL =
	 * any. A PSK is a secret shared with its audience: a service that
	 * holds a device's PSK could present it as the device anywhere
	 * else; a private key (RPK, X.509) never leaves the device. */
	const char	*psk_audience;
};

/* Indexed by enum kdc_action. */
static const struct rule rules[] = {
	[KDC_ACT_BOOTSTRAP] = { "bootstrap",
	    KIND(KDC_KIND_MANUFACTURER) | KIND(KDC_KIND_OPERATIONAL), 0, true,
	    LIVE_HANDSHAKE },
	[KDC_ACT_ENROLL] = { "enroll", KIND(KDC_KIND_MANUFACTURER), 0, true,
	    LIVE_ISSUED },
	[KDC_ACT_REENROLL] = { "reenroll", KIND(KDC_KIND_OPERATIONAL),
	    TYPE(KDC_TYPE_X509), true, LIVE_ISSUED },
	[KDC_ACT_SKG] = { "skg",
	    KIND(KDC_KIND_MANUFACTURER) | KIND(KDC_KIND_OPERATIONAL),
	    TYPE(KDC_TYPE_X509), true, LIVE_ISSUED },
	/* the built-in LwM2M Server accepts its own audience's credentials
	 * only, not those for another service */
	[KDC_ACT_REGISTER] = { "register", KIND(KDC_KIND_OPERATIONAL), 0,
	    true, LIVE_CURRENT, KDC_AUDIENCE_BUILTIN },
	[KDC_ACT_CRL_READ] = { "crl-read",
	    KIND(KDC_KIND_MANUFACTURER) | KIND(KDC_KIND_OPERATIONAL), 0,
	    false, LIVE_HANDSHAKE },
	/* an ACE client proves itself with a secret only it and the KDC
	 * hold: its manufacturer credential, an operational key pair of
	 * any audience, or an operational PSK of the built-in LwM2M Server
	 * (ours), never one an external service was given. Live checks:
	 * the AS rechecks the principal itself (core/ace.c). */
	[KDC_ACT_ACE_TOKEN] = { "ace-token",
	    KIND(KDC_KIND_MANUFACTURER) | KIND(KDC_KIND_OPERATIONAL), 0,
	    false, LIVE_HANDSHAKE, NULL, KDC_AUDIENCE_BUILTIN },
};

const char *
kdc_action_str(enum kdc_action act)
{
	if ((size_t)act >= sizeof(rules) / sizeof(rules[0]))
		return "?";
	return rules[act].name;
}

/* The reason, when the caller wants one. */
static void
say(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || why_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

kdc_err
core_authorize(struct kdc_core *core, const struct kdc_principal *who,
    enum kdc_action act, const char *target, char *why, size_t why_len,
    struct kdc_cred **row)
{
	const struct rule *ru;
	struct kdc_cred *cred = NULL;
	int64_t now;
	kdc_err r;

	if (row != NULL)
		*row = NULL;
	if (why != NULL && why_len > 0)
		why[0] = '\0';
	if ((size_t)act >= sizeof(rules) / sizeof(rules[0]))
		return KDC_ERR_INVALID_ARG;
	ru = &rules[act];
	if (who == NULL || who->dev_id[0] == '\0' || who->cred_id == 0) {
		say(why, why_len, "rule=%s: not authenticated (NoSec)",
		    ru->name);
		return KDC_ERR_DENIED;
	}
	if ((ru->kinds & KIND(who->kind)) == 0 ||
	    (who->kind == KDC_KIND_OPERATIONAL && ru->op_types != 0 &&
	    (ru->op_types & TYPE(who->type)) == 0)) {
		say(why, why_len, "rule=%s: cred=%" PRId64 " is %s %s",
		    ru->name, who->cred_id, kdc_cred_kind_str(who->kind),
		    kdc_cred_type_str(who->type));
		return KDC_ERR_WRONG_TYPE;
	}
	if (ru->psk_audience != NULL && who->kind == KDC_KIND_OPERATIONAL &&
	    who->type == KDC_TYPE_PSK &&
	    strcmp(who->audience, ru->psk_audience) != 0) {
		say(why, why_len, "rule=%s: cred=%" PRId64 " is a PSK shared "
		    "with audience %.64s", ru->name, who->cred_id,
		    who->audience);
		return KDC_ERR_DENIED;
	}
	if (ru->self && target != NULL && strcmp(target, who->dev_id) != 0) {
		char esc[KDC_DEVID_MAX * 4 + 1];

		kdc_log_escape(target, strnlen(target, KDC_DEVID_MAX + 1), esc,
		    sizeof(esc));
		say(why, why_len, "rule=%s: ep=%.64s is not the device of cred=%"
		    PRId64, ru->name, esc, who->cred_id);
		return KDC_ERR_DENIED;
	}
	if (ru->live == LIVE_HANDSHAKE)
		return KDC_OK;
	if ((r = kdc_store_cred_get(core->st, who->cred_id, &cred)) !=
	    KDC_OK) {
		say(why, why_len, "rule=%s: cred=%" PRId64 ": %s", ru->name,
		    who->cred_id, kdc_err_str(r));
		return r == KDC_ERR_NOT_FOUND ? KDC_ERR_UNKNOWN_DEVICE : r;
	}
	now = kdc_core_now(core);
	if (cred->device != who->device || cred->status != KDC_CRED_ISSUED)
		r = cred->status == KDC_CRED_EXPIRED ? KDC_ERR_EXPIRED :
		    KDC_ERR_REVOKED;
	else if (ru->live == LIVE_CURRENT && cred->not_after != 0 &&
	    now >= cred->not_after)
		r = KDC_ERR_EXPIRED;
	else if (ru->live == LIVE_CURRENT &&
	    strcmp(cred->audience, who->audience) != 0)
		r = KDC_ERR_REVOKED;	/* not the credential it was */
	if (r != KDC_OK) {
		say(why, why_len, "rule=%s: cred=%" PRId64 " is %s", ru->name,
		    who->cred_id, r == KDC_ERR_EXPIRED && cred->status ==
		    KDC_CRED_ISSUED ? "past not_after" :
		    kdc_cred_status_str(cred->status));
		kdc_cred_free(cred);
		return r;
	}
	/* the row's audience (the principal's is checked against it above
	 * for LIVE_CURRENT) */
	if (ru->audience != NULL && cred->kind == KDC_KIND_OPERATIONAL &&
	    strcmp(cred->audience, ru->audience) != 0) {
		say(why, why_len, "rule=%s: cred=%" PRId64 " is for audience "
		    "%.64s, not %s", ru->name, who->cred_id, cred->audience,
		    ru->audience);
		kdc_cred_free(cred);
		return KDC_ERR_DENIED;
	}
	if (row != NULL)
		*row = cred;
	else
		kdc_cred_free(cred);
	return KDC_OK;
}

kdc_err
kdc_authorize(struct kdc_core *core, const char *actor,
    const struct kdc_principal *who, enum kdc_action act, const char *target,
    const char *audit_as, char *why, size_t why_len)
{
	char action[KDC_NAME_MAX + 1], reason[256], esc[KDC_DEVID_MAX * 4 + 1];
	const char *subject;
	kdc_err r;

	if ((r = core_authorize(core, who, act, target, reason,
	    sizeof(reason), NULL)) == KDC_OK)
		return KDC_OK;
	if (audit_as == NULL) {
		snprintf(action, sizeof(action), "authz.%s",
		    kdc_action_str(act));
		audit_as = action;
	}
	if (who != NULL && who->dev_id[0] != '\0')
		subject = who->dev_id;
	else if (target != NULL) {
		kdc_log_escape(target, strlen(target), esc, sizeof(esc));
		subject = esc;
	} else
		subject = "-";
	(void)AUDIT(core, actor, audit_as, subject, r, "%s", reason);
	say(why, why_len, "%s", reason);
	return r;
}
