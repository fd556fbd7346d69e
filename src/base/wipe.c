/*
 * wipe.c: kdc_wipe() (wipe.h). glibc 2.25+ has explicit_bzero(); other C
 * libraries (the device library's targets) get memset() called through a
 * volatile pointer, which the compiler must load and call as written.
 * No GnuTLS here: the device library's portable core links this file.
 */
/* explicit_bzero() is a BSD/GNU extension of <string.h>. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include <string.h>

#include "base/wipe.h"

#if defined(__GLIBC__) && (__GLIBC__ > 2 || \
    (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 25))
#define HAVE_EXPLICIT_BZERO 1
#else
static void *(*const volatile wipe_memset)(void *, int, size_t) = memset;
#endif

void
kdc_wipe(void *p, size_t n)
{
	if (p == NULL || n == 0)
		return;
#ifdef HAVE_EXPLICIT_BZERO
	explicit_bzero(p, n);
#else
	(void)wipe_memset(p, 0, n);
#endif
}
