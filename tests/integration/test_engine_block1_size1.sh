#!/usr/bin/env bash
# Block1 with Size1 over the route's limit (issue 14; RFC 7959 §4): a
# device with a valid credential (a manufacturer PSK) POSTs to EST /sen
# its first block (num 0, M=1, 1024 B) announcing Size1 = 4294967295.
# - answered 4.13 (Request Entity Too Large) at once (< 1 s), five times;
# - the daemon's VmSize grows by less than 256 MiB and VmRSS by less than
#   20 MB: nothing sized by the announcement is allocated;
# - the boundary: Size1 = 8193 is 4.13 too, Size1 = 8192 (the CSR limit,
#   8 KiB) gets 2.31 Continue.
# libcoap 4.3.1 answers 2.31 and joins the body itself before our 8 KiB
# limit applies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine.sh"

KEY='size1-key-0123456789'
kdc init >/dev/null
psk_device urn:dev:s1:1 s1 "$KEY"
start_serve
SEN=(--path .well-known/est/sen --opt "12=011e")	# Content-Format 286 (PKCS#10)

# warm up: a real enrollment in Block1 pieces (coap-client-gnutls), so
# the threads that sign have made their allocations
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
	-keyout "$T/dev.key" -outform DER -out "$T/csr.der" 2>/dev/null
timeout 20 coap-client-gnutls -v 7 -B 5 -u s1 -k "$KEY" -m post -b 64 -t 286 -f "$T/csr.der" \
	"coaps://127.0.0.1:$COAP_PORT/.well-known/est/sen" > "$T/warm.out" 2>&1 || true
grep -qE 't:(ACK|CON) c:2\.04 ' "$T/warm.out" || fail "warm-up enrollment not 2.04: $(grep ' c:' "$T/warm.out" | head -3)"

vs0=$(proc_kb "$SERVE_PID" VmSize)
rss0=$(proc_kb "$SERVE_PID" VmRSS)
for i in 1 2 3 4 5; do
	psk_probe s1 coap-raw "${SEN[@]}" --blocks 1 --more --size1 4294967295 > "$T/big.$i.out" ||
		fail "Size1 4 GiB, try $i: $(cat "$T/big.$i.out")"
	[ "$(field code "$T/big.$i.out")" = 4.13 ] || fail "Size1 = 4294967295 answered $(codes "$T/big.$i.out")(want 4.13): $(cat "$T/big.$i.out")"
	[ "$(field ms "$T/big.$i.out")" -lt 1000 ] || fail "4.13 after $(field ms "$T/big.$i.out") ms"
done
vs1=$(proc_kb "$SERVE_PID" VmSize)
rss1=$(proc_kb "$SERVE_PID" VmRSS)
[ $(( vs1 - vs0 )) -lt 262144 ] || fail "VmSize grew by $(( vs1 - vs0 )) kB after Size1 = 4 GiB"
[ $(( rss1 - rss0 )) -lt 20480 ] || fail "VmRSS grew by $(( rss1 - rss0 )) kB after Size1 = 4 GiB"
pass "Size1 = 4294967295: 4.13 at once, 5 times; VmSize $vs0 -> $vs1 kB, VmRSS $rss0 -> $rss1 kB"

psk_probe s1 coap-raw "${SEN[@]}" --blocks 1 --more --size1 8193 > "$T/b8193.out" || fail "Size1 8193: $(cat "$T/b8193.out")"
[ "$(field code "$T/b8193.out")" = 4.13 ] || fail "Size1 = 8193 answered $(codes "$T/b8193.out")(want 4.13)"
psk_probe s1 coap-raw "${SEN[@]}" --blocks 1 --more --size1 8192 > "$T/b8192.out" || fail "Size1 8192: $(cat "$T/b8192.out")"
[ "$(field code "$T/b8192.out")" = 2.31 ] || fail "Size1 = 8192 (the limit) answered $(codes "$T/b8192.out")(want 2.31)"
pass "Size1 = 8193: 4.13; Size1 = 8192: 2.31 Continue"
