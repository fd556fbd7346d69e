/*
 * tdd/jfree.h: free what jansson allocated and handed over (json_dumps()
 * text) with jansson's own free function. The daemon routes jansson
 * through wiping allocators (core/manifest.c, docs/traps.md), so plain
 * free() of such a block frees a pointer malloc() never returned.
 */
#ifndef KDC_TDD_JFREE_H
#define KDC_TDD_JFREE_H

#include <jansson.h>

static inline void
kdc_json_free(void *p)
{
	json_malloc_t m;
	json_free_t f;

	if (p == NULL)
		return;
	json_get_alloc_funcs(&m, &f);
	f(p);
}

#endif
