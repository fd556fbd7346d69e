#!/usr/bin/env bash
# OCF discovery of `iotkdc-device ocf-server --iface` (issue 16 §2/§3) in
# a network namespace pair joined by veth (CI runs as root; without root
# this test FAILS, it never skips). Two unowned devices share port 5683
# (SO_REUSEADDR/SO_REUSEPORT) in namespace B; from namespace A the
# engine's multicast client (engclient mc) asks:
# - GET /oic/res?rt=oic.r.doxm on ff02::158: both devices answer, each a
#   link with anchor ocf://<its uuid> (the uuid of its ready line), from
#   its unicast CoAP port, with eps naming the interface's ULA and that
#   port (a NON answer with a MID of its own: RFC 7252 §4.3);
# - GET /oic/sec/doxm?owned=FALSE on ff02::158: both answer;
# - the same on 224.0.1.187: both answer over IPv4;
# - GET /oic/sec/cred (not discovery) and doxm?owned=TRUE: no answer;
# - two owned devices in RFNOP (state files from ocfstate.py), one with
#   the anon-clear ACE for /oic/res the OBT's default ACL gives, one
#   without: only the first answers /oic/res (how the KDC finds an owned
#   device whose ephemeral ports changed); neither answers doxm.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${ENGCLIENT:?the engclient helper is not built}"
: "${IOTKDC_DEVICE:?iotkdc-device is not built}"

NSA="kdcodA$$"
NSB="kdcodB$$"
VA="koA$$"
VB="koB$$"

od_cleanup() {
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
trap od_cleanup EXIT

veth_pair "$NSA" "$NSB" "$VA" "$VB"
ip -n "$NSA" -6 addr add fe80::a/64 dev "$VA" nodad
ip -n "$NSA" -6 addr add fd00:78::a/64 dev "$VA" nodad
ip -n "$NSA" addr add 10.78.0.1/24 dev "$VA"
ip -n "$NSB" -6 addr add fe80::b/64 dev "$VB" nodad
ip -n "$NSB" -6 addr add fd00:78::b/64 dev "$VB" nodad
ip -n "$NSB" addr add 10.78.0.2/24 dev "$VB"

UUIDS=()
for i in 1 2; do
	ip netns exec "$NSB" "$IOTKDC_DEVICE" ocf-server --state "$T/st$i" \
	    --pin-file "$T/pin$i" --iface "$VB" --addr :: -vv \
	    > "$T/dev$i.out" 2> "$T/dev$i.log" &
	PIDS+=("$!")
	wait_line "$T/dev$i.out" '^ocf-server ready uuid=[0-9a-f-]{36} coap=[0-9]+ coaps=[0-9]+$'
	UUIDS+=("$(sed -n 's/.*uuid=\([0-9a-f-]*\) .*/\1/p' "$T/dev$i.out")")
done
for _ in $(seq 1 100); do
	[ "$(ip netns exec "$NSB" ss -uln | grep -c ':5683 ')" -ge 4 ] && break
	sleep 0.1
done
[ "$(ip netns exec "$NSB" ss -uln | grep -c ':5683 ')" -ge 4 ] ||
	fail "two devices, each on [::]:5683 and 0.0.0.0:5683: $(ip netns exec "$NSB" ss -uln)"

# mc OUT GROUP PATH QUERY: engclient's multicast GET from namespace A
PY=/usr/bin/python3
mc() {
	ip netns exec "$NSA" "$ENGCLIENT" mc "$VA" "$2" 5683 "$3" "$4" 1500 > "$T/$1" ||
	    fail "multicast $2 $3?$4: $(cat "$T/$1")"
}
has_both() { # OUT SRC_REGEX
	for u in "${UUIDS[@]}"; do
		grep -qE "^answer $2 [0-9]+ 2\.05 .*$u" "$T/$1" ||
		    fail "$1: no answer naming $u: $(cat "$T/$1")"
	done
	[ "$(grep -c '^answer ' "$T/$1")" -eq 2 ] || fail "$1: want 2 answers: $(cat "$T/$1")"
}
mc res6 ff02::158 oic/res rt=oic.r.doxm
has_both res6 "fe80::b%$VA"
for i in 1 2; do
	cp=$(sed -n 's/.* coap=\([0-9]*\) .*/\1/p' "$T/dev$i.out")
	# answered from its CoAP port, which its eps name with the ULA
	grep -qE "^answer fe80::b%$VA $cp 2\.05 .*ocf://${UUIDS[$((i - 1))]}.*coap://\[fd00:78::b\]:$cp" "$T/res6" ||
	    fail "device $i: no answer from port $cp naming coap://[fd00:78::b]:$cp: $(cat "$T/res6")"
done
pass "ff02::158 GET /oic/res?rt=oic.r.doxm: both devices answer with their anchors"
mc doxm6 ff02::158 oic/sec/doxm owned=FALSE
has_both doxm6 "fe80::b%$VA"
pass "ff02::158 GET /oic/sec/doxm?owned=FALSE: both answer"
mc res4 224.0.1.187 oic/res rt=oic.r.doxm
has_both res4 "10\.78\.0\.2"
pass "224.0.1.187: both answer over IPv4"
mc cred6 ff02::158 oic/sec/cred ""
grep -q '^answer ' "$T/cred6" && fail "a multicast GET /oic/sec/cred was answered: $(cat "$T/cred6")"
mc owned6 ff02::158 oic/sec/doxm owned=TRUE
grep -q '^answer ' "$T/owned6" && fail "doxm?owned=TRUE was answered by unowned devices"
pass "no answer to a multicast GET of cred, nor to doxm?owned=TRUE"

# ---- owned devices: /oic/res per their ACL, never doxm ----
OBT=6f62742d-7575-6964-2d30-313233343536
O1=0d000001-0000-4000-8000-000000000001
O2=0d000002-0000-4000-8000-000000000002
"$PY" "$(dirname "$0")/ocfstate.py" "$T/o1.st" $O1 $OBT 3 $OBT:00112233445566778899aabbccddeeff -- anon-clear:/oic/res:2
"$PY" "$(dirname "$0")/ocfstate.py" "$T/o2.st" $O2 $OBT 3 $OBT:00112233445566778899aabbccddeeff
# O3: in RFOTM, owned already (a DOC between "owned":true and RFPRO)
O3=0d000003-0000-4000-8000-000000000003
"$PY" "$(dirname "$0")/ocfstate.py" "$T/o3.st" $O3 $OBT 1 $OBT:00112233445566778899aabbccddeeff
for i in 1 2 3; do
	ip netns exec "$NSB" "$IOTKDC_DEVICE" ocf-server --state "$T/o$i.st" \
	    --pin-file "$T/opin$i" --iface "$VB" --addr :: -vv \
	    > "$T/own$i.out" 2> "$T/own$i.log" &
	PIDS+=("$!")
	wait_line "$T/own$i.out" '^ocf-server ready uuid=0d00000'"$i"
done
mc res6b ff02::158 oic/res rt=oic.r.doxm
grep -qE "^answer .* 2\.05 .*ocf://$O1" "$T/res6b" || fail "owned O1 (anon-clear ACE) did not answer /oic/res: $(cat "$T/res6b")"
grep -q "$O2" "$T/res6b" && fail "owned O2 (no ACE) answered /oic/res"
grep -qE "^answer .* 2\.05 .*ocf://$O3" "$T/res6b" || fail "O3 (RFOTM) did not answer /oic/res"
[ "$(grep -c '^answer ' "$T/res6b")" -eq 4 ] || fail "want the 2 unowned, O1, O3: $(cat "$T/res6b")"
mc doxm6b ff02::158 oic/sec/doxm owned=FALSE
grep -qE "$O1|$O2|$O3" "$T/doxm6b" && fail "an owned device answered doxm?owned=FALSE"
mc doxm6c ff02::158 oic/sec/doxm ""
grep -qE "$O1|$O2|$O3" "$T/doxm6c" && fail "an owned device answered a multicast doxm"
[ "$(grep -c '^answer ' "$T/doxm6b")" -eq 2 ] || fail "doxm: want the 2 unowned: $(cat "$T/doxm6b")"
pass "owned: /oic/res answered in RFOTM, in RFNOP only with an anon-clear ACE for it; doxm never (RFOTM included)"
