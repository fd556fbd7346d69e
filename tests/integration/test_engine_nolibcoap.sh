#!/usr/bin/env bash
# The daemon no longer uses libcoap (issue 14): `ldd iotkdc` lists no
# libcoap, and no libcoap symbol (coap_*: ours are kdc_coap_*) is in the
# binary, defined or undefined (a static libcoap would not show in ldd).
# The device library may keep its libcoap host port; only iotkdc is
# checked.
. "$(dirname "$0")/lib.sh"

ldd "$IOTKDC" > "$T/ldd.out" || fail "ldd $IOTKDC failed"
grep -q 'libgnutls' "$T/ldd.out" || fail "ldd shows no libgnutls: is this the daemon? $(cat "$T/ldd.out")"
if grep -q 'libcoap' "$T/ldd.out"; then
	fail "iotkdc links libcoap: $(grep libcoap "$T/ldd.out" | tr -s ' \t' ' ')"
fi
nm "$IOTKDC" > "$T/nm.out" 2>/dev/null || nm -D "$IOTKDC" > "$T/nm.out"
awk '$NF ~ /^coap_/ { print $NF }' "$T/nm.out" > "$T/coap_syms"
[ ! -s "$T/coap_syms" ] || fail "iotkdc holds $(wc -l < "$T/coap_syms") libcoap symbols, e.g. $(head -3 "$T/coap_syms" | tr '\n' ' ')"
pass "iotkdc links no libcoap (ldd) and holds no coap_* symbol"
