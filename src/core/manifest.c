/* manifest.c: one JSON Lines manifest line -> struct kdc_device_spec. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "core/manifest.h"
#include "crypto/codec.h"

static void
set_why(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_why(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (why_len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

/*
 * jansson keeps its own copies of every string it parses, the "psk" hex
 * among them, and frees them with free(). Route its allocations through a
 * wrapper that remembers each block's size and wipes the block on free,
 * so no PSK outlives the parse in freed heap.
 */
#define JSON_HDR	16	/* keeps the user block 16-byte aligned */

static void *
json_wiping_malloc(size_t n)
{
	uint8_t *p;

	if (n > SIZE_MAX - JSON_HDR || (p = kdc_malloc(n + JSON_HDR)) == NULL)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + JSON_HDR;
}

static void
json_wiping_free(void *ptr)
{
	uint8_t *p;
	size_t n;

	if (ptr == NULL)
		return;
	p = (uint8_t *)ptr - JSON_HDR;
	memcpy(&n, p, sizeof(n));
	kdc_wipe(ptr, n);
	kdc_free(p);
}

/* Before main(): every jansson object of the process, made anywhere,
 * must be allocated and freed by the same pair of functions. */
__attribute__((constructor)) static void
json_alloc_init(void)
{
	json_set_alloc_funcs(json_wiping_malloc, json_wiping_free);
}

static kdc_err
get_str(json_t *v, const char *key, char *out, size_t cap, char *why,
    size_t why_len)
{
	const char *s;
	size_t n;

	if (!json_is_string(v)) {
		set_why(why, why_len, "\"%s\" must be a string", key);
		return KDC_ERR_MALFORMED;
	}
	s = json_string_value(v);
	n = json_string_length(v);
	if (n >= cap) {
		set_why(why, why_len, "\"%s\" is too long", key);
		return KDC_ERR_TOO_LARGE;
	}
	if (memchr(s, '\0', n) != NULL) {
		set_why(why, why_len, "\"%s\" contains a NUL", key);
		return KDC_ERR_MALFORMED;
	}
	memcpy(out, s, n + 1);
	return KDC_OK;
}

kdc_err
kdc_manifest_parse_line(const char *line, size_t len,
    struct kdc_device_spec *spec, char *why, size_t why_len)
{
	json_error_t jerr;
	json_t *root = NULL, *v;
	const char *key;
	char hex[2 * KDC_PSK_MAX + 2];
	int forms = 0, have_psk = 0, have_ident = 0;
	kdc_err r = KDC_ERR_MALFORMED;

	memset(spec, 0, sizeof(*spec));
	if (why_len > 0)
		why[0] = '\0';
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > KDC_MANIFEST_LINE_MAX) {
		set_why(why, why_len, "line longer than %s bytes",
		    KDC_STR(KDC_MANIFEST_LINE_MAX));
		return KDC_ERR_TOO_LARGE;
	}
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		set_why(why, why_len, "not valid JSON: %s", jerr.text);
		return KDC_ERR_MALFORMED;
	}
	if (!json_is_object(root)) {
		set_why(why, why_len, "line is not a JSON object%s", "");
		goto out;
	}
	json_object_foreach(root, key, v) {
		if (strcmp(key, "id") == 0) {
			if ((r = get_str(v, key, spec->dev_id,
			    sizeof(spec->dev_id), why, why_len)) != KDC_OK)
				goto out;
		} else if (strcmp(key, "profile") == 0) {
			if ((r = get_str(v, key, spec->profile,
			    sizeof(spec->profile), why, why_len)) != KDC_OK)
				goto out;
		} else if (strcmp(key, "psk_identity") == 0) {
			if ((r = get_str(v, key, spec->psk_identity,
			    sizeof(spec->psk_identity), why, why_len)) != KDC_OK)
				goto out;
			have_ident = 1;
		} else if (strcmp(key, "psk") == 0) {
			size_t n = sizeof(spec->psk);
			if ((r = get_str(v, key, hex, sizeof(hex), why,
			    why_len)) != KDC_OK)
				goto out;
			r = kdc_hex_decode(hex, strlen(hex), spec->psk, &n);
			kdc_wipe(hex, sizeof(hex));
			if (r != KDC_OK) {
				set_why(why, why_len, "\"psk\" is not %s",
				    r == KDC_ERR_TOO_LARGE ?
				    "at most 64 bytes" : "even-length hex");
				goto out;
			}
			spec->psk_len = n;
			spec->type = KDC_TYPE_PSK;
			have_psk = 1;
			forms++;
		} else if (strcmp(key, "rpk") == 0) {
			size_t n = sizeof(spec->spki);
			if (!json_is_string(v)) {
				set_why(why, why_len, "\"%s\" must be a string",
				    key);
				r = KDC_ERR_MALFORMED;
				goto out;
			}
			if ((r = kdc_base64_decode(json_string_value(v),
			    json_string_length(v), spec->spki, &n)) != KDC_OK) {
				set_why(why, why_len, "%s", r == KDC_ERR_TOO_LARGE ?
				    "\"rpk\" is longer than " KDC_STR(KDC_SPKI_MAX)
				    " bytes" : "\"rpk\" is not base64 of a DER key");
				goto out;
			}
			spec->spki_len = n;
			spec->type = KDC_TYPE_RPK;
			forms++;
		} else if (strcmp(key, "cert") == 0) {
			if (!json_is_true(v)) {
				set_why(why, why_len, "\"cert\" must be %s",
				    "true");
				r = KDC_ERR_MALFORMED;
				goto out;
			}
			spec->type = KDC_TYPE_X509;
			forms++;
		} else {
			set_why(why, why_len, "unknown key \"%.64s\"", key);
			r = KDC_ERR_MALFORMED;
			goto out;
		}
	}
	r = KDC_ERR_MALFORMED;
	if (spec->dev_id[0] == '\0') {
		set_why(why, why_len, "missing \"id\"%s", "");
		goto out;
	}
	if (forms != 1) {
		set_why(why, why_len, "%s", forms == 0 ?
		    "no credential: give psk_identity+psk, rpk or cert" :
		    "more than one credential: give one of psk, rpk, cert");
		goto out;
	}
	if (have_psk != have_ident) {
		set_why(why, why_len, "%s", have_psk ?
		    "\"psk\" without \"psk_identity\"" :
		    "\"psk_identity\" without \"psk\"");
		goto out;
	}
	if ((r = kdc_device_spec_check(spec)) != KDC_OK)
		set_why(why, why_len, "%s", kdc_err_str(r));
out:
	json_decref(root);
	return r;
}

int
kdc_manifest_next_line(const char *buf, size_t len, size_t *off,
    const char **line, size_t *line_len)
{
	const char *nl;

	if (*off >= len)
		return 0;
	*line = buf + *off;
	nl = memchr(*line, '\n', len - *off);
	*line_len = nl != NULL ? (size_t)(nl - *line) : len - *off;
	*off += *line_len + (nl != NULL);
	return 1;
}

int
kdc_manifest_line_blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char)line[i]))
			return 0;
	return 1;
}
