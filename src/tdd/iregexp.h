/*
 * iregexp.h: I-Regexp (RFC 9485), the regular expressions of JSONPath's
 * match() and search() (RFC 9535 §2.4.6, §2.4.7). Our own matcher, not a
 * translation to POSIX ERE: ERE's `.`, bracket expressions and character
 * classes depend on the locale and have no \p{..}, and a backtracking
 * matcher is exponential on hostile patterns. The pattern is compiled to
 * a small program run as a Thompson NFA (a Pike VM without captures) over
 * Unicode code points: time O(text × program), no backtracking.
 *
 * What it accepts is exactly RFC 9485 §5.3's grammar: branches `|`,
 * groups, `* + ? {n} {n,} {n,m}`, `.` (any code point but LF and CR),
 * bracket classes with ranges and `^`, the single-character escapes, and
 * \p{..} / \P{..} of the General Categories (table: ucd_gc.c, generated
 * by gen_ucd_gc.py). One deviation: RFC 9485's ABNF makes `^` and `$`
 * ordinary characters (NormalChar), but the JSONPath Compliance Test Suite
 * ("functions, match, explicit caret/dollar") and the implementations that
 * map I-Regexp onto their native engine take them as the anchors of the
 * start and end of the string; we do as they do (in match() they change
 * nothing; in search() they anchor). A literal `^`/`$` is `[$]`, `\^`.
 * Bounds: a pattern of at most KDC_IREGEXP_LEN_MAX bytes, counts of at most
 * KDC_IREGEXP_REPEAT_MAX, a compiled program of at most
 * KDC_IREGEXP_PROG_MAX instructions (counted repetitions are unrolled):
 * past them a pattern is refused as if it were invalid.
 */
#ifndef KDC_TDD_IREGEXP_H
#define KDC_TDD_IREGEXP_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define KDC_IREGEXP_LEN_MAX	1024
#define KDC_IREGEXP_REPEAT_MAX	1000
#define KDC_IREGEXP_PROG_MAX	4096

struct kdc_iregexp;

/*
 * Compile pattern re[0, len) (UTF-8). INVALID_ARG: not an I-Regexp (or
 * not UTF-8); TOO_LARGE: past the bounds above; NOMEM.
 */
kdc_err	kdc_iregexp_compile(const char *re, size_t len, struct kdc_iregexp **out);
void	kdc_iregexp_free(struct kdc_iregexp *re);
/*
 * Does re match the whole of s[0, len) (whole = true: match()) or some
 * substring of it (search())? s must be valid UTF-8 (a JSON string);
 * invalid bytes never match. *budget is decremented by the work done
 * (one unit per 64 instructions of the program, then about one per code
 * point and 16 live states); TOO_LARGE when it
 * would go below 0, and *matched is then false. NOMEM.
 */
kdc_err	kdc_iregexp_exec(const struct kdc_iregexp *re, const char *s, size_t len,
	    bool whole, bool *matched, size_t *budget);

/* General Category of code point c, as an index into "Lu Ll Lt Lm Lo Mn Mc
 * Me Nd Nl No Pc Pd Ps Pe Pi Pf Po Sm Sc Sk So Zs Zl Zp Cc Cf Cs Co Cn". */
unsigned	kdc_ucd_category(unsigned long c);

#endif
