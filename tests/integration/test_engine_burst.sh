#!/usr/bin/env bash
# 300 ClientHellos in one second delay nobody (issue 14). hsflood sends
# 300 cookie-less ClientHellos within one second, each from a new
# loopback address (127.1.x.y) and port, and never answers the
# HelloVerifyRequests; right after it, real devices (dtlsprobe, PSK and
# RPK, each from a new port) handshake and are served, each within 1 s.
# The engine keeps no state before the cookie round: there is nothing to
# fill. libcoap 4.3.1 makes a session per source before the cookie, stops
# taking new ones past 256 half-open handshakes and frees them after
# 30 s: every handshake in those 30 s fails. [coap] max_handshakes is
# set to that 256 here: only a ClientHello that returned our cookie may
# count against it, so the burst must not reach it (with the default,
# 2048, today's daemon hides the defect from a burst of 300).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine.sh"

kdc init >/dev/null
set_conf coap max_handshakes 256
psk_device urn:dev:bu:1 bu1 'burst-key-0123456789'
rpk_device urn:dev:bu:rpk burpk
start_serve

# the baseline: one handshake each before the burst
psk_probe bu1 handshake --hs-timeout 1000 --get no-such-path > "$T/base.out" ||
	fail "no handshake before the burst: $(cat "$T/base.out")"

"$HSFLOOD" 127.0.0.1 "$COAP_PORT" 300 1 > "$T/flood.out" || fail "hsflood: $(cat "$T/flood.out")"
t0=$(now_ms)
for i in 1 2 3; do
	rc=0
	psk_probe bu1 handshake --hs-timeout 1000 --timeout 1000 --get no-such-path \
		> "$T/p.$i.out" || rc=$?
	[ $rc -eq 0 ] && [ "$(field code "$T/p.$i.out")" = 4.04 ] ||
		fail "PSK handshake $i right after 300 ClientHellos in 1 s not served within 1 s (status $rc, $(( $(now_ms) - t0 )) ms after the burst; $(cat "$T/flood.out")): $(cat "$T/p.$i.out")"
done
rc=0
probe handshake "127.0.0.1:$COAP_PORT" --rpk-key "$T/burpk.pem" --hs-timeout 1000 --timeout 1000 \
	--get no-such-path > "$T/r.out" || rc=$?
[ $rc -eq 0 ] && [ "$(field code "$T/r.out")" = 4.04 ] ||
	fail "RPK handshake right after the burst not served within 1 s (status $rc): $(cat "$T/r.out")"
pass "300 ClientHellos in 1 s ($(cat "$T/flood.out")): 3 PSK and 1 RPK handshakes right after, each served within 1 s ($(( $(now_ms) - t0 )) ms in all)"
