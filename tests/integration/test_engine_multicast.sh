#!/usr/bin/env bash
# Plain-CoAP multicast requests (coap.h kdc_coap_multicast(), issue 14's
# client mode for OCF discovery): the engine (tests/integration/engclient.c)
# sends `GET /oic/res?rt=oic.r.doxm` to ff02::158 and 224.0.1.187 port
# 5683 on one end of a veth pair; in a second network namespace on the
# other end answer independent peers: libcoap's coap-server-gnutls 4.3.1
# (a resource PUT there first) and mcresp.py responders (python's standard
# library). Every good responder's answer comes back with its address;
# an answer with another token, one from an address off the link, and
# one after the window are not handed over; the window ends the request;
# the cap on answers holds. Needs root for `ip netns` (CI runs as root):
# without it this test FAILS, it never skips.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${ENGCLIENT:?the engclient helper is not built}"
RESP="$(dirname "$0")/mcresp.py"
PY=/usr/bin/python3

NSA="kdcmcA$$"
NSB="kdcmcB$$"
VA="kmA$$"
VB="kmB$$"

# processes first (a namespace outlives its deletion while a process is
# in it), then the namespaces (the veth pair goes with them), then lib.sh's
mc_cleanup() {
	local rc=$?
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && wait "$p" 2>/dev/null || true
	done
	PIDS=()
	netns_del "$NSA" "$NSB"
	ip link del "$VA" 2>/dev/null || true
	(exit $rc)
	cleanup
}
trap mc_cleanup EXIT

veth_pair "$NSA" "$NSB" "$VA" "$VB"
# (never in the background: `ip netns exec` execs the command, so $! is
# the command's own pid and the trap's kill reaches it; a shell function
# in the background would be a subshell and its child would outlive it)
inA() { ip netns exec "$NSA" "$@"; }
inB() { ip netns exec "$NSB" "$@"; }
# fixed link-local addresses (no DAD: usable at once), multicast on
ip -n "$NSA" -6 addr add fe80::a/64 dev "$VA" nodad
ip -n "$NSA" -6 addr add fd00:77::a/64 dev "$VA" nodad
ip -n "$NSA" addr add 10.77.0.1/24 dev "$VA"
for a in fe80::b fe80::b1 fe80::b2 fe80::b3 fe80::b4; do
	ip -n "$NSB" -6 addr add "$a/64" dev "$VB" nodad
done
ip -n "$NSB" -6 addr add fd00:77::b/64 dev "$VB" nodad
ip -n "$NSB" addr add 10.77.0.2/24 dev "$VB"
# off the link for the engine's interface (not in its prefixes), though
# routed over it: an answer from there must be dropped
ip -n "$NSB" -6 addr add fd99::9/64 dev "$VB" nodad
ip -n "$NSB" addr add 10.99.0.2/24 dev "$VB"
ip -n "$NSA" -6 route add fd99::/64 dev "$VA"
ip -n "$NSA" route add 10.99.0.0/24 dev "$VA"
ip -n "$NSB" -6 route add fd00:77::/64 dev "$VB" 2>/dev/null || true

# ---- responders -----------------------------------------------------------
ip netns exec "$NSB" coap-server-gnutls -g ff02::158 -G "$VB" -p 5683 -d 4 > "$T/cs.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
	inB ss -uln | grep -q ':5683 ' && break
	sleep 0.1
done
inB ss -uln | grep -q ':5683 ' || fail "coap-server-gnutls did not bind 5683: $(tail -3 "$T/cs.log")"
inB coap-client-gnutls -m put -e 'libcoap-doxm' 'coap://[fd00:77::b]/oic/res' ||
	fail "PUT /oic/res at coap-server-gnutls"
[ "$(inB coap-client-gnutls 'coap://[fd00:77::b]/oic/res?rt=oic.r.doxm')" = libcoap-doxm ] ||
	fail "coap-server-gnutls does not serve /oic/res"

# resp NAME IFACE-GROUP SRC [OPTIONS]: a mcresp.py responder in NSB
resp() {
	local name=$1 group=$2 src=$3; shift 3
	ip netns exec "$NSB" "$PY" "$RESP" "$VB" "$group" 5683 "$src" "$name" "$@" 2> "$T/$name.err" &
	PIDS+=($!)
	wait_line "$T/$name.err" '^ready$'
}
resp r1 ff02::158 fe80::b1
resp r2 ff02::158 fe80::b2
resp badtok ff02::158 fe80::b3 --bad-token
resp offlink ff02::158 fd99::9
resp late ff02::158 fe80::b4 --delay-ms 7000
resp v4 224.0.1.187 10.77.0.2
resp v4off 224.0.1.187 10.99.0.2

# ---- IPv6: ff02::158 ------------------------------------------------------------
# 6 s: coap-server-gnutls 4.3.1 waits a random 0-5 s before it answers
# a multicast request (RFC 7252 §8.2 Leisure; docs/traps.md)
inA "$ENGCLIENT" mc "$VA" ff02::158 5683 oic/res rt=oic.r.doxm 6000 > "$T/mc6.out" ||
	fail "multicast over IPv6: $(cat "$T/mc6.out")"
cat "$T/mc6.out"
# (its source: whichever of NSB's link-local addresses the kernel picks)
grep -qE "^answer fe80::b[0-9]*%$VA 5683 2\.05 libcoap-doxm\$" "$T/mc6.out" || fail "no answer from coap-server-gnutls"
grep -qE "^answer fe80::b1%$VA [0-9]+ 2\.05 r1\$" "$T/mc6.out" || fail "no answer from r1"
grep -qE "^answer fe80::b2%$VA [0-9]+ 2\.05 r2\$" "$T/mc6.out" || fail "no answer from r2"
[ "$(grep -c '^answer ' "$T/mc6.out")" -eq 3 ] || fail "want exactly 3 answers"
grep -qE ' (badtok|offlink|late)$' "$T/mc6.out" && fail "an answer that is not ours was handed over"
# they did answer: the engine dropped them
wait_line "$T/badtok.err" '^answered '
wait_line "$T/offlink.err" '^answered '
grep -qE '^done status=OK answers=3 over_cap=0 dropped=([2-9]|[1-9][0-9]+) ' "$T/mc6.out" ||
	fail "done line: $(grep '^done' "$T/mc6.out")"
grep -qE '^stats mc_requests=1 mc_answers=3 mc_dropped=([2-9]|[1-9][0-9]+)$' "$T/mc6.out" || fail "stats"
# the request as the responders saw it: NON, hop limit 1
grep -qx 'request type=1 hops=1' "$T/r1.err" || fail "request not NON with hop limit 1: $(cat "$T/r1.err")"
pass "ff02::158: coap-server-gnutls, r1 and r2 answered with their addresses; another token and an off-link source dropped"

# the window ends the request: done after 6000 ms (not before, not long
# after), and the late responder's answer (7 s) came after it
ms=$(sed -n 's/^done .*elapsed_ms=\([0-9]*\)$/\1/p' "$T/mc6.out")
[ "$ms" -ge 6000 ] && [ "$ms" -lt 6800 ] || fail "the window of 6000 ms ended after $ms ms"
wait_line "$T/late.err" '^answered '
pass "the window ends the request ($ms ms); an answer after it is not handed over"

# ---- the cap on answers -----------------------------------------------------
# (r1 and r2 answer at once: two good answers for a cap of one)
inA "$ENGCLIENT" mc "$VA" ff02::158 5683 oic/res rt=oic.r.doxm 1000 1 > "$T/cap.out" || fail "capped multicast"
[ "$(grep -c '^answer ' "$T/cap.out")" -eq 1 ] || fail "cap 1: $(cat "$T/cap.out")"
grep -qE '^done status=OK answers=1 over_cap=[1-9]' "$T/cap.out" || fail "cap: $(grep '^done' "$T/cap.out")"
pass "at most MAX answers handed over; the rest counted"

# ---- IPv4: 224.0.1.187 ----------------------------------------------------------
inA "$ENGCLIENT" mc "$VA" 224.0.1.187 5683 oic/res rt=oic.r.doxm 1000 > "$T/mc4.out" ||
	fail "multicast over IPv4: $(cat "$T/mc4.out")"
cat "$T/mc4.out"
grep -qE '^answer 10\.77\.0\.2 [0-9]+ 2\.05 v4$' "$T/mc4.out" || fail "no IPv4 answer"
[ "$(grep -c '^answer ' "$T/mc4.out")" -eq 1 ] || fail "want exactly 1 IPv4 answer"
wait_line "$T/v4off.err" '^answered '
grep -qE '^done status=OK answers=1 over_cap=0 dropped=[1-9]' "$T/mc4.out" || fail "IPv4 done: $(grep '^done' "$T/mc4.out")"
grep -q '^request type=1 hops=1$' "$T/v4.err" || fail "IPv4 request not NON with TTL 1: $(cat "$T/v4.err")"
pass "224.0.1.187: the on-link responder answered; the one from 10.99.0.2 dropped"

# ---- refused at once ----------------------------------------------------------------
inA "$ENGCLIENT" mc nosuchif0 ff02::158 5683 oic/res "" 1000 > "$T/e1.out" && fail "an unknown interface"
grep -qx 'multicast refused: .*' "$T/e1.out" && grep -qi 'not found' "$T/e1.out" || fail "unknown interface: $(cat "$T/e1.out")"
inA "$ENGCLIENT" mc "$VA" fd00:77::b 5683 oic/res "" 1000 > "$T/e2.out" && fail "a unicast group"
grep -qi 'multicast refused: .*invalid' "$T/e2.out" || fail "unicast group: $(cat "$T/e2.out")"
pass "refused: an unknown interface, a group that is not multicast"
