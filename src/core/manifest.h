/*
 * manifest.h: the device manifest, JSON Lines, one device per line
 * (DESIGN §5):
 *   {"id":"urn:dev:...", "psk_identity":"...", "psk":"<hex>"}
 *   {"id":"...", "rpk":"<base64 SPKI DER>"}
 *   {"id":"...", "cert":true}
 * each with an optional "profile". A bounded parser of untrusted input:
 * a line longer than KDC_MANIFEST_LINE_MAX is refused before jansson sees
 * it; unknown keys, duplicate keys, wrong types and more than one (or no)
 * credential form are refused.
 */
#ifndef KDC_MANIFEST_H
#define KDC_MANIFEST_H

#include <stddef.h>

#include "core/core.h"

/*
 * Parse one line (no newline; a trailing '\r' is ignored) into spec and
 * check it with kdc_device_spec_check(). On error, why (capacity why_len)
 * says what is wrong in one line. spec may hold a PSK: the caller wipes
 * it (on every path).
 */
kdc_err	kdc_manifest_parse_line(const char *line, size_t len,
	    struct kdc_device_spec *spec, char *why, size_t why_len);

/*
 * Split buf into lines: sets *line and *line_len to the next line from
 * *off and advances *off past its '\n'. Returns 0 at the end of buf, else 1.
 */
int	kdc_manifest_next_line(const char *buf, size_t len, size_t *off,
	    const char **line, size_t *line_len);

/* True if the line holds only white space (skipped by import). */
int	kdc_manifest_line_blank(const char *line, size_t len);

#endif
