/*
 * lint.h: security lint of a Thing Description against the WoT Security
 * Best Practices note's combinations (its section
 * "Authentication and Access Control"):
 * HTTPS with oauth2/bearer/basic/digest, CoAPS with psk/public/cert, MQTTS
 * with basic AND psk. The directory reports the findings to the TD's
 * owner; it refuses a TD for them only with [tdd] strict_lint.
 *
 * Every form is checked: the TD's `forms`, then each property's, action's
 * and event's (in document order). A form's effective security is its own
 * `security` (a name or an array of names, all required), else the TD's,
 * resolved through `securityDefinitions`; a `combo` scheme's `allOf` (all)
 * and `oneOf` (alternatives) are followed, at most KDC_LINT_COMBO_DEPTH
 * deep and KDC_LINT_ALTS alternatives (past them the rest is not looked
 * at: a lint, not a proof). The form's `href` is resolved against the TD's
 * `base` when relative (RFC 3986 §5.2: its scheme and, for a path, its host).
 * A name that resolves to no definition is skipped (TD validation reports it).
 *
 * Rules (stable ids):
 *   cleartext-credentials    basic, digest, bearer, apikey or oauth2 over a
 *                            transport without TLS (http:, ws:, mqtt:, coap:,
 *                            coap+tcp:, coap+ws:)
 *   psk-without-dtls         psk over coap: / coap+tcp: / coap+ws:
 *   nosec-remote             an alternative that is only nosec, on a URL whose
 *                            host is not loopback, link-local, RFC 1918 / ULA
 *                            private, or a `.local` name
 *   mqtt-needs-basic-and-psk an mqtts: form with an alternative that is not
 *                            basic AND psk (the note's recommendation)
 *   deprecated-oauth2-flow   oauth2 with flow implicit or password
 *   apikey-in-query          apikey with in: "query" (credentials end up in logs)
 */
#ifndef KDC_TDD_LINT_H
#define KDC_TDD_LINT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define KDC_LINT_MAX		32
#define KDC_LINT_COMBO_DEPTH	8
#define KDC_LINT_ALTS		32
/* Security definition lookups for one TD: a combo's oneOf may name the
 * same combo many times over, and every form resolves its security. */
#define KDC_LINT_WORK		65536

struct kdc_lint {
	char	rule[32];		/* a rule id above */
	char	field[160];		/* e.g. "properties.status.forms.0" (names cut to fit, control bytes as '?') */
	char	description[200];	/* for people; names the schemes, never TD values */
};

/*
 * Lint td (a TD object; anything else yields nothing). Writes at most max
 * findings to out and returns their number; *more (may be NULL) is set when
 * some were left out, or when KDC_LINT_WORK stopped the lint before the
 * last form. No allocation.
 */
size_t	kdc_td_lint(const json_t *td, struct kdc_lint *out, size_t max, bool *more);

#endif
