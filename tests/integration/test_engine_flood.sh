#!/usr/bin/env bash
# A ClientHello flood allocates nothing and locks nobody out (issue 14).
# hsflood sends 10,000 cookie-less ClientHellos a second for 25 s, each
# from a new loopback address (127.1.x.y) and port, never answering a
# HelloVerifyRequest. Meanwhile real devices (dtlsprobe, a PSK one and an
# RPK one in turn) handshake and do an EST request, one after the other:
# - at least 90 % of their attempts are served, each within 3 s (the
#   handshake's and the response's deadlines), at least 20 attempts;
# - the daemon's resident memory (VmRSS) grows by less than 20 MB (its
#   highest value, sampled between attempts, against the value before);
# - right after the flood a handshake is served within 1 s.
# libcoap 4.3.1 gives each new source a GnuTLS session before the cookie
# round and, past 256 half-open ones, ignores new sources for 30 s.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine.sh"

RATE=10000
SECONDS_FLOOD=25
kdc init >/dev/null
psk_device urn:dev:fl:1 fl1 'flood-key-0123456789'
rpk_device urn:dev:fl:rpk flrpk
start_serve

attempt() {	# attempt N: one handshake + GET crts, PSK or RPK by turns
	local out="$T/a.$1.out"
	if [ $(( $1 % 2 )) -eq 0 ]; then
		psk_probe fl1 handshake --hs-timeout 3000 --timeout 3000 \
			--get .well-known/est/crts > "$out" 2>&1
	else
		probe handshake "127.0.0.1:$COAP_PORT" --rpk-key "$T/flrpk.pem" \
			--hs-timeout 3000 --timeout 3000 --get .well-known/est/crts > "$out" 2>&1
	fi && [ "$(field code "$out")" = 2.05 ]
}
# warm up (first allocations of each path), then the baseline memory
for i in 0 1 2 3; do attempt "$i" || fail "no handshake before the flood: $(cat "$T/a.$i.out")"; done
rss0=$(proc_kb "$SERVE_PID" VmRSS)
rssmax=$rss0

"$HSFLOOD" 127.0.0.1 "$COAP_PORT" "$RATE" "$SECONDS_FLOOD" 1024 > "$T/flood.out" 2>&1 &
FLOOD=$!
PIDS+=("$FLOOD")
n=0 ok=0
t0=$(now_ms)
while kill -0 "$FLOOD" 2>/dev/null; do
	n=$(( n + 1 ))
	if attempt $(( n + 10 )); then ok=$(( ok + 1 )); fi
	r=$(proc_kb "$SERVE_PID" VmRSS)
	[ "$r" -gt "$rssmax" ] && rssmax=$r
	[ $(( $(now_ms) - t0 )) -lt $(( (SECONDS_FLOOD + 20) * 1000 )) ] || fail "the flood did not end"
done
wait "$FLOOD" || fail "hsflood did not send 90 % of $RATE/s: $(cat "$T/flood.out")"
r=$(proc_kb "$SERVE_PID" VmRSS)
[ "$r" -gt "$rssmax" ] && rssmax=$r
growth=$(( rssmax - rss0 ))
rc=0
psk_probe fl1 handshake --hs-timeout 1000 --timeout 1000 --get .well-known/est/crts > "$T/after.out" || rc=$?

summary="$ok of $n attempts served during the flood ($(cat "$T/flood.out")), VmRSS $rss0 kB -> max $rssmax kB (+$growth kB)"
echo "$summary"
[ $(( ok * 100 )) -ge $(( n * 90 )) ] || fail "fewer than 90 % served: $summary; last failure: $(for i in $(seq 11 $(( n + 10 ))); do grep -q 'code=2.05' "$T/a.$i.out" || { cat "$T/a.$i.out"; break; }; done)"
[ "$n" -ge 20 ] || fail "only $n attempts in ${SECONDS_FLOOD} s (each took up to 3 s): $summary; last: $(cat "$T/a.$(( n + 10 )).out")"
[ "$growth" -lt 20480 ] || fail "the daemon's VmRSS grew by $growth kB during the flood: $summary"
[ $rc -eq 0 ] && [ "$(field code "$T/after.out")" = 2.05 ] || fail "a handshake right after the flood not served within 1 s: $(cat "$T/after.out")"
pass "$summary; right after it a handshake is served within 1 s"
