/*
 * wipe.h: the one way iotkdc zeroes a secret (PSKs, keys, plaintext
 * of wrapped data, the device state buffer) before its memory is freed
 * or goes out of scope. Shared with the device library: no allocation,
 * no dependency beyond <stddef.h>, clean under -Wconversion.
 */
#ifndef KDC_BASE_WIPE_H
#define KDC_BASE_WIPE_H

#include <stddef.h>

/*
 * Zero p[0, n) in a way the compiler may not remove as a dead store
 * (explicit_bzero() where the C library has it, else memset() through a
 * volatile function pointer). NULL or n == 0 does nothing.
 */
void	kdc_wipe(void *p, size_t n);

#endif
