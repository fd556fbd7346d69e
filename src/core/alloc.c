/* alloc.c: malloc wrappers with a countdown fault hook for tests. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

static long fail_countdown;	/* 0: off; k: the k-th next allocation fails */
static bool faulted;

void
kdc_alloc_fail_after(long n)
{
	fail_countdown = n < 0 ? 0 : n;
	faulted = false;
}

bool
kdc_alloc_fault(void)
{
	if (fail_countdown == 0)
		return false;
	if (fail_countdown > 1) {
		fail_countdown--;
		return false;
	}
	faulted = true;		/* stays at 1: every later one fails too */
	return true;
}

bool
kdc_alloc_faulted(void)
{
	return faulted;
}

void *
kdc_malloc(size_t n)
{
	if (kdc_alloc_fault())
		return NULL;
	return malloc(n == 0 ? 1 : n);
}

void *
kdc_calloc(size_t nmemb, size_t size)
{
	if (kdc_alloc_fault())
		return NULL;
	return calloc(nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size);
}

void *
kdc_realloc(void *p, size_t n)
{
	if (kdc_alloc_fault())
		return NULL;
	return realloc(p, n == 0 ? 1 : n);
}

char *
kdc_strndup(const char *s, size_t len)
{
	char *d;

	if ((d = kdc_malloc(len + 1)) == NULL)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *
kdc_strdup(const char *s)
{
	return kdc_strndup(s, strlen(s));
}

void
kdc_free(void *p)
{
	free(p);
}
