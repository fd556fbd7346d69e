/*
 * fuzz_devstate.c: the device's state file decoder (kdcdev_state_decode():
 * a file that may have been damaged or planted). Checked: a refused input
 * leaves the client untouched, as kdcdev.h promises; an accepted one
 * encodes again, and that encoding decodes to the same bytes once more.
 * Each input also runs with its CRC-32 made right, or the fuzzer would
 * hardly get past the checksum.
 * Seeds: fuzz/corpus/devstate/ (fuzz/seeds.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kdcdev.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void	one(const uint8_t *data, size_t size);

/* The input as it is, and with its last 4 bytes replaced by the right
 * CRC-32, so that mutations reach the body behind the checksum. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t fixed[KDCDEV_STATE_MAX + 64];
	uint32_t crc;

	one(data, size);
	if (size < 4 || size > sizeof(fixed))
		return 0;
	memcpy(fixed, data, size - 4);
	crc = kdcdev_crc32(fixed, size - 4);
	fixed[size - 4] = (uint8_t)(crc >> 24);
	fixed[size - 3] = (uint8_t)(crc >> 16);
	fixed[size - 2] = (uint8_t)(crc >> 8);
	fixed[size - 1] = (uint8_t)crc;
	one(fixed, size);
	return 0;
}

static void
one(const uint8_t *data, size_t size)
{
	static struct kdcdev_lwm2m c, before, again;
	static uint8_t st1[KDCDEV_STATE_MAX], st2[KDCDEV_STATE_MAX];
	size_t n1 = sizeof(st1), n2 = sizeof(st2);

	memset(&c, 0, sizeof(c));
	if (kdcdev_init(&c, "urn:dev:before") != KDC_OK)
		abort();
	memcpy(&before, &c, sizeof(c));
	if (kdcdev_state_decode(&c, data, size) != KDC_OK) {
		if (memcmp(&before, &c, sizeof(c)) != 0)
			abort();	/* refused, but c was changed */
		return;
	}
	if (memchr(c.ep, '\0', sizeof(c.ep)) == NULL ||
	    memchr(c.location, '\0', sizeof(c.location)) == NULL)
		abort();
	memset(&again, 0, sizeof(again));
	if (kdcdev_state_encode(&c, st1, &n1) != KDC_OK ||
	    kdcdev_state_decode(&again, st1, n1) != KDC_OK ||
	    kdcdev_state_encode(&again, st2, &n2) != KDC_OK || n1 != n2 ||
	    memcmp(st1, st2, n1) != 0)
		abort();
	kdcdev_wipe(&c);
	kdcdev_wipe(&again);
}
