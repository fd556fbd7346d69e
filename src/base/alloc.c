/* alloc.c: malloc wrappers with a countdown fault hook for tests. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

static _Atomic long live;	/* allocations not yet freed */
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
	void *p;

	if (kdc_alloc_fault())
		return NULL;
	if ((p = malloc(n == 0 ? 1 : n)) != NULL)
		live++;
	return p;
}

void *
kdc_calloc(size_t nmemb, size_t size)
{
	void *p;

	if (kdc_alloc_fault())
		return NULL;
	if ((p = calloc(nmemb == 0 ? 1 : nmemb, size == 0 ? 1 : size)) !=
	    NULL)
		live++;
	return p;
}

void *
kdc_realloc(void *p, size_t n)
{
	void *q;

	if (kdc_alloc_fault())
		return NULL;
	if ((q = realloc(p, n == 0 ? 1 : n)) != NULL && p == NULL)
		live++;
	return q;
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
	if (p != NULL)
		live--;
	free(p);
}

long
kdc_alloc_live(void)
{
	return live;
}
