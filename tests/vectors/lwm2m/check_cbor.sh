#!/bin/sh
# check_cbor.sh: cross-checks the hand-derived CBOR of senml.txt with an
# independent decoder, libcbor (Debian bookworm libcbor-dev 0.8.0): every
# OK line must load as one complete item, and libcbor's re-encoding of it
# must be byte-identical (so the hand-written heads are the shortest
# forms RFC 8949 §4.2.1 gives). Not run by CTest; run by hand after
# editing gen.py: sh check_cbor.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/c.c" <<'C'
#include <cbor.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int
main(void)
{
	char hex[65536], want[64];
	int line = 0, bad = 0, ok = 0;
	while (scanf("%65535s %63s", hex, want) == 2) {
		size_t n = strlen(hex) / 2, outlen = 0, cap = 0;
		unsigned char *in = malloc(n + 1), *out = NULL;
		struct cbor_load_result res;
		cbor_item_t *it;
		line++;
		for (size_t i = 0; i < n; i++)
			sscanf(hex + 2 * i, "%2hhx", &in[i]);
		if (strcmp(want, "OK") != 0) {
			free(in);
			continue;
		}
		it = cbor_load(in, n, &res);
		if (it == NULL || res.read != n) {
			printf("case %d: libcbor does not load it whole\n", line);
			bad++;
		} else {
			outlen = cbor_serialize_alloc(it, &out, &cap);
			if (outlen != n || memcmp(out, in, n) != 0) {
				printf("case %d: re-encoding differs\n", line);
				bad++;
			} else
				ok++;
		}
		if (it != NULL)
			cbor_decref(&it);
		free(out);
		free(in);
	}
	printf("%d OK cases agree with libcbor, %d do not\n", ok, bad);
	return bad != 0;
}
C
cc -o "$tmp/c" "$tmp/c.c" $(pkg-config --cflags --libs libcbor)
grep -v '^#' "$here/senml.txt" | sed 's/#.*//' | "$tmp/c"
