/*
 * utf8.h: is a byte string well-formed UTF-8? One check for every place
 * that hands a peer's text on as a C string (SenML string values, the CN
 * of a certificate we issue). Header-only, no allocation, no dependency:
 * the device library compiles it too.
 */
#ifndef KDC_BASE_UTF8_H
#define KDC_BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * RFC 3629 §4: true if s[0, n) is well-formed UTF-8: no overlong forms,
 * no surrogates (U+D800..DFFF), nothing above U+10FFFF, no truncated
 * sequence. NUL is refused too, so the text survives as a C string.
 */
static inline bool
kdc_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i], lo = 0x80, hi = 0xbf;
		size_t k;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			if (c == 0xe0)
				lo = 0xa0;	/* no overlong 3-byte forms */
			else if (c == 0xed)
				hi = 0x9f;	/* no surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			if (c == 0xf0)
				lo = 0x90;	/* no overlong 4-byte forms */
			else if (c == 0xf4)
				hi = 0x8f;	/* nothing above U+10FFFF */
		} else
			return false;
		if (k > n - i - 1)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t j = 2; j <= k; j++)
			if (s[i + j] < 0x80 || s[i + j] > 0xbf)
				return false;
		i += k + 1;
	}
	return true;
}

#endif
