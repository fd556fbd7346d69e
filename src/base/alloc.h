/*
 * alloc.h: the allocator every server module uses, with a fault hook for
 * the allocation-failure tests (SQLite's faultsim idea): after
 * kdc_alloc_fail_after(n), the n-th allocation from then on fails
 * (n = 1 fails the next one), and every later one too until reset with
 * kdc_alloc_fail_after(0).
 */
#ifndef KDC_ALLOC_H
#define KDC_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

void	*kdc_malloc(size_t n);
void	*kdc_calloc(size_t nmemb, size_t size);
void	*kdc_realloc(void *p, size_t n);
char	*kdc_strdup(const char *s);
/* Copy len bytes of s and add a NUL. */
char	*kdc_strndup(const char *s, size_t len);
void	 kdc_free(void *p);

/* Test hook: see above. n = 0 turns faults off. */
void	 kdc_alloc_fail_after(long n);
/*
 * Count one allocation against the hook; true if it must fail. For
 * allocators we do not own (sqlite3_config(SQLITE_CONFIG_MALLOC) in tests).
 */
bool	 kdc_alloc_fault(void);
/* True once the hook has failed an allocation since the last reset. */
bool	 kdc_alloc_faulted(void);
/* Allocations made here and not yet given back to kdc_free(): for tests
 * that prove a buffer (an answer holding a private key) is gone. */
long	 kdc_alloc_live(void);

#endif
