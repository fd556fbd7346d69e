#!/usr/bin/env bash
# 5,000 ClientHellos in one second delay nobody either (issue 14): more
# than today's daemon holds half-open (2 engine threads x 2048 libcoap
# HELLO sessions). hsflood sends 5,000 cookie-less ClientHellos within one
# second, each from a new loopback address (127.1.x.y) and port, never
# answering; right after it, PSK and RPK devices (dtlsprobe, each from a
# new port) are served, each within 1 s, and the daemon's VmRSS grew by
# less than 20 MB: a ClientHello without our cookie allocates nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine.sh"

N=5000
kdc init >/dev/null
psk_device urn:dev:bb:1 bb1 'big-burst-key-012345'
rpk_device urn:dev:bb:rpk bbrpk
start_serve

served() {	# served NAME ARGS...: one handshake + GET, within 1 s
	local n=$1 rc=0; shift
	probe handshake "127.0.0.1:$COAP_PORT" "$@" --hs-timeout 1000 --timeout 1000 \
		--get no-such-path > "$T/$n.out" || rc=$?
	[ $rc -eq 0 ] && [ "$(field code "$T/$n.out")" = 4.04 ]
}
served base.psk --psk-identity bb1 --psk-file "$T/bb1.hex" || fail "before the burst: $(cat "$T/base.psk.out")"
served base.rpk --rpk-key "$T/bbrpk.pem" || fail "before the burst: $(cat "$T/base.rpk.out")"
rss0=$(proc_kb "$SERVE_PID" VmRSS)

"$HSFLOOD" 127.0.0.1 "$COAP_PORT" "$N" 1 1024 > "$T/flood.out" || fail "hsflood: $(cat "$T/flood.out")"
t0=$(now_ms)
for i in 1 2 3; do
	served "psk.$i" --psk-identity bb1 --psk-file "$T/bb1.hex" ||
		fail "PSK handshake $i right after $N ClientHellos in 1 s not served within 1 s ($(( $(now_ms) - t0 )) ms after the burst; $(cat "$T/flood.out")): $(cat "$T/psk.$i.out")"
done
served rpk --rpk-key "$T/bbrpk.pem" || fail "RPK handshake right after the burst not served within 1 s: $(cat "$T/rpk.out")"
ms=$(( $(now_ms) - t0 ))
rss1=$(proc_kb "$SERVE_PID" VmRSS)
[ $(( rss1 - rss0 )) -lt 20480 ] || fail "VmRSS grew by $(( rss1 - rss0 )) kB after $N ClientHellos ($(cat "$T/flood.out"))"
pass "$N ClientHellos in 1 s ($(cat "$T/flood.out")): 3 PSK and 1 RPK handshakes right after, each within 1 s ($ms ms in all); VmRSS $rss0 -> $rss1 kB"
