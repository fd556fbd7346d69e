#!/usr/bin/env bash
# What the OCF onboarding tool needs from the engine's client mode
# (coap.h), driven by engclient against independent peers:
# - NoSec client sessions (kdc_coap_connect2() KDC_COAP_CLIENT_NOSEC):
#   plain CoAP to libcoap's coap-server-gnutls 4.3.1 through a relay
#   (udprelay.py) that drops the first request: the engine retransmits
#   the same CON (same MID) and the answer arrives; to an IPv6 link-local
#   address with its zone ("fe80::77%veth") in a network namespace;
# - OCF's options (kdc_coap_request2()): a POST /oic/sec/doxm to an
#   ocfresp.py responder (python's standard library) carries CF 10000,
#   Accept 10000 and 2049/2053 = 0x0800; its answers carrying 2053 are
#   accepted (piggybacked, and separate: acknowledged), one carrying an
#   unknown critical option is rejected (a CON one with RST);
# - the TLS PRF kept from a client session's handshake: OCF's key_block
#   (PRF(master_secret, "key expansion", server_random || client_random),
#   TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256) and an RFC 5705-shaped output
#   (client random first, TLS_PSK_WITH_AES_128_CCM_8, read again after
#   our record layer took the session over) equal what python's hmac
#   computes from the master secret coap-server-gnutls's own GnuTLS
#   wrote to SSLKEYLOGFILE and the randoms udprelay.py read on the wire.
# Needs root for `ip netns` (CI runs as root): without it this test
# FAILS, it never skips.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
command -v ss >/dev/null || fail "ss missing (iproute2; make deps installs it)"
: "${ENGCLIENT:?the engclient helper is not built}"
HERE="$(dirname "$0")"
PY=/usr/bin/python3
NS="kdcocf$$"

ocf_cleanup() {
	local rc=$?
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && wait "$p" 2>/dev/null || true
	done
	PIDS=()
	ip netns del "$NS" 2>/dev/null || true
	(exit $rc)
	cleanup
}
trap ocf_cleanup EXIT
cd "$T"

# wait_line FILE REGEX: until FILE has a line matching (bounded)
wait_line() {
	for _ in $(seq 1 100); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "$1: no line matching '$2': $(cat "$1" 2>/dev/null)"
}
# bg NAME CMD...: start CMD in the background, its stderr in NAME.log
bg() {
	local name=$1; shift
	"$@" > "$T/$name.out" 2> "$T/$name.log" &
	LASTPID=$!
	PIDS+=("$LASTPID")
}
# coap_server NAME ARGS...: coap-server-gnutls on 127.0.0.1; coap on
# $SPORT, coaps on $DPORT = SPORT+1 (its rule); waits until bound
coap_server() {
	local name=$1; shift
	for _ in $(seq 1 20); do
		SPORT=$(free_udp_port)
		DPORT=$((SPORT + 1))
		ss -Huln "sport = :$DPORT" | grep -q . || break
	done
	bg "$name" coap-server-gnutls -A 127.0.0.1 -p "$SPORT" "$@"
	# (with no key it opens no coaps port: wait for the coap one)
	local want=$DPORT
	[ $# -eq 0 ] && want=$SPORT
	for _ in $(seq 1 100); do
		ss -Huln "sport = :$want" | grep -q . && return 0
		kill -0 "$LASTPID" 2>/dev/null || fail "coap-server-gnutls $name exited: $(tail -3 "$T/$name.log")"
		sleep 0.1
	done
	fail "coap-server-gnutls $name did not bind $want"
}
# relay NAME TO_PORT ARGS...: udprelay.py on $RPORT to 127.0.0.1:TO_PORT
relay() {
	local name=$1 to=$2; shift 2
	RPORT=$(free_udp_port "$SPORT" "$DPORT")
	bg "$name" "$PY" "$HERE/udprelay.py" "$RPORT" 127.0.0.1 "$to" "$@"
	wait_line "$T/$name.log" '^ready$'
}
run() {	# run OUT ARGS...: engclient; its exit status in RC
	local out=$1; shift
	RC=0
	"$ENGCLIENT" "$@" > "$T/$out" 2>&1 || RC=$?
}

# ---- 1. NoSec to coap-server-gnutls, the first request lost -----------------------
coap_server plain
relay lossy "$SPORT" --drop-c2s 1
ENGCLIENT_ACK_MS=300 run n1.out nosec 127.0.0.1 "$RPORT" get time - -
[ "$RC" -eq 0 ] && grep -qE '^answer 2\.05 cf=-?[0-9]+ ocf_version=0 .+' n1.out ||
	fail "NoSec GET /time: no 2.05 (rc $RC): $(cat n1.out)"
grep -qx "connected peer=127.0.0.1:$RPORT suite=0x0000" n1.out || fail "NoSec: $(cat n1.out)"
dropped=$(awk '$1 == "c2s" && $2 == "dropped" { print $3 }' lossy.log)
fwd=$(awk '$1 == "c2s" && $2 == "forwarded" { print $3; exit }' lossy.log)
[ -n "$dropped" ] && [ "$dropped" = "$fwd" ] ||
	fail "the lost CON was not retransmitted as is (dropped '$dropped', then '$fwd')"
case "$dropped" in 4*) ;; *) fail "not a CON: $dropped" ;; esac
pass "NoSec: GET answered by coap-server-gnutls; the lost CON retransmitted (same header and MID $dropped)"

# ---- 2. OCF's options, NoSec, to an OCF-like responder ---------------------------
OPORT=$(free_udp_port)
bg ocf "$PY" "$HERE/ocfresp.py" 127.0.0.1 "$OPORT"
wait_line ocf.log '^ready$'
run o1.out nosec 127.0.0.1 "$OPORT" post oic/sec/doxm - '{"oxmsel":1}' ocf
[ "$RC" -eq 0 ] && grep -qE '^answer 2\.05 cf=10000 ocf_version=2048 .+oxmsel' o1.out ||
	fail "OCF POST: the answer with 2053 not taken (rc $RC): $(cat o1.out)"
grep -qx 'request code=0.02 mid=[0-9]* query=- cf=10000 accept=10000 v2049=0800 v2053=0800 payload=7b226f786d73656c223a317d' ocf.log ||
	fail "the request's options as the responder saw them: $(cat ocf.log)"
run o2.out nosec 127.0.0.1 "$OPORT" get oic/sec/doxm 'owned=FALSE&if=baseline' - ocf
[ "$RC" -eq 0 ] && grep -q '^answer 2\.05 cf=10000 ocf_version=2048 ' o2.out || fail "OCF GET: $(cat o2.out)"
grep -qx 'request code=0.01 mid=[0-9]* query=owned=FALSE&if=baseline cf=-1 accept=10000 v2049=0800 v2053=0800 payload=-' ocf.log ||
	fail "the query as the responder saw it: $(cat ocf.log)"
pass "OCF options: CF/Accept 10000, 2049/2053 = 0x0800 and the query on the wire; the answer's 2053 accepted and read"

OPORT2=$(free_udp_port "$OPORT")
bg ocfsep "$PY" "$HERE/ocfresp.py" 127.0.0.1 "$OPORT2" --separate
wait_line ocfsep.log '^ready$'
run o3.out nosec 127.0.0.1 "$OPORT2" get oic/sec/doxm - - ocf
[ "$RC" -eq 0 ] && grep -q '^answer 2\.05 cf=10000 ocf_version=2048 ' o3.out || fail "separate: $(cat o3.out)"
wait_line ocfsep.log '^acked$'
pass "OCF options: a separate CON answer with 2053 accepted and acknowledged"

OPORT3=$(free_udp_port "$OPORT" "$OPORT2")
bg ocfcrit "$PY" "$HERE/ocfresp.py" 127.0.0.1 "$OPORT3" --critical 2051
wait_line ocfcrit.log '^ready$'
run o4.out nosec 127.0.0.1 "$OPORT3" get oic/sec/doxm - - ocf
[ "$RC" -eq 3 ] && grep -qx 'request failed: not supported' o4.out ||
	fail "an answer with the unknown critical option 2051 was taken: $(cat o4.out)"
OPORT4=$(free_udp_port "$OPORT" "$OPORT2" "$OPORT3")
bg ocfcrits "$PY" "$HERE/ocfresp.py" 127.0.0.1 "$OPORT4" --critical 2051 --separate
wait_line ocfcrits.log '^ready$'
run o5.out nosec 127.0.0.1 "$OPORT4" get oic/sec/doxm - - ocf
[ "$RC" -eq 3 ] && grep -qx 'request failed: not supported' o5.out || fail "separate 2051: $(cat o5.out)"
wait_line ocfcrits.log '^rst$'
pass "an answer with an unknown critical option (2051) rejected: piggybacked, and separate (RST)"

# ---- 3. NoSec to an IPv6 link-local address with its zone -------------------------
command -v ip >/dev/null || fail "ip missing (iproute2; make deps installs it)"
ip netns add "$NS" || fail "ip netns add not permitted: this test needs root (CAP_SYS_ADMIN); it does not skip"
ip -n "$NS" link set lo up
ip -n "$NS" link add kov0 type veth peer name kov1
ip -n "$NS" link set kov0 addrgenmode none
ip -n "$NS" link set kov1 addrgenmode none
ip -n "$NS" link set kov0 up
ip -n "$NS" link set kov1 up
ip -n "$NS" -6 addr add fe80::77/64 dev kov0 nodad
# (never in the background through a function: `ip netns exec` execs)
ip netns exec "$NS" "$PY" "$HERE/ocfresp.py" 'fe80::77%kov0' 5683 2> "$T/ocfll.log" &
PIDS+=("$!")
wait_line ocfll.log '^ready$'
RC=0
ip netns exec "$NS" "$ENGCLIENT" nosec 'fe80::77%kov0' 5683 get oic/sec/doxm - - ocf > z1.out 2>&1 || RC=$?
[ "$RC" -eq 0 ] && grep -qx 'connected peer=\[fe80::77%kov0\]:5683 suite=0x0000' z1.out &&
	grep -q '^answer 2\.05 cf=10000 ocf_version=2048 ' z1.out || fail "zone: $(cat z1.out)"
pass "NoSec to fe80::77%kov0: the zone taken, answered"

# ---- 4. the PRF kept from a client session's handshake ---------------------------
# coap-server-gnutls's own GnuTLS writes the master secret (NSS key log:
# CLIENT_RANDOM cr ms); the relay reads both randoms off the wire; python
# computes P_SHA256 (RFC 5246 §5) from them.
check_prf() {	# check_prf OUT KEYLOG RANDOMS ORDER LABEL LEN
	"$PY" - "$@" <<'EOF'
import hashlib, hmac, re, sys
out, keylog, rnd, order, label, n = sys.argv[1:7]
n = int(n)
got = re.search(r"^prf ([0-9a-f]+)$", open(out).read(), re.M)
assert got, "no prf line"
r = dict(l.split() for l in open(rnd))
cr, sr = bytes.fromhex(r["client_random"]), bytes.fromhex(r["server_random"])
ms = None
for l in open(keylog):
    f = l.split()
    if len(f) == 3 and f[0] == "CLIENT_RANDOM" and bytes.fromhex(f[1]) == cr:
        ms = bytes.fromhex(f[2])
assert ms is not None and len(ms) == 48, "no master secret for this client random"
seed = label.encode() + (sr + cr if order == "server" else cr + sr)
out_b, a = b"", seed
while len(out_b) < n:
    a = hmac.new(ms, a, hashlib.sha256).digest()
    out_b += hmac.new(ms, a + seed, hashlib.sha256).digest()
want = out_b[:n].hex()
if got.group(1) != want:
    sys.exit("PRF differs:\n engine %s\n python %s" % (got.group(1), want))
EOF
}
printf 'testkey-0123456' | od -An -tx1 | tr -d ' \n' > k.hex
: > keylog
SSLKEYLOGFILE="$T/keylog" coap_server psk -k testkey-0123456
relay prf1 "$DPORT" --randoms "$T/rnd1"
run p1.out get 127.0.0.1 "$RPORT" time psk 6f69632e7365632e646f786d2e726470 k.hex ocf 'prf=server:key expansion:96'
[ "$RC" -eq 0 ] && grep -q '^answer 2\.05 ' p1.out || fail "PSK session with a PRF: $(cat p1.out)"
grep -qx "connected peer=127.0.0.1:$RPORT suite=0xc037" p1.out || fail "not 0xC037: $(cat p1.out)"
check_prf p1.out keylog rnd1 server 'key expansion' 96 || fail "OCF key_block"
pass "PRF: OCF's key_block (\"key expansion\", server random first, 96 bytes, 0xC037) equals python's from coap-server-gnutls's master secret"

relay prf2 "$DPORT" --randoms "$T/rnd2"
run p2.out get 127.0.0.1 "$RPORT" time psk 00a1b2c3d4e5f60718293a4b5c6d7e8f k.hex 'prf=client:EXPERIMENTAL-kdc-ocf:40'
[ "$RC" -eq 0 ] && grep -q '^answer 2\.05 ' p2.out || fail "PSK session (CCM_8) with a PRF: $(cat p2.out)"
grep -qx "connected peer=127.0.0.1:$RPORT suite=0xc0a8" p2.out || fail "not PSK_AES_128_CCM_8: $(cat p2.out)"
check_prf p2.out keylog rnd2 client EXPERIMENTAL-kdc-ocf 40 || fail "RFC 5705-shaped output"
before=$(awk '$1 == "prf" { print $2 }' p2.out)
grep -qx "prf-after own_records=1 $before" p2.out ||
	fail "the PRF output after our record layer took over: $(cat p2.out)"
pass "PRF: client random first (RFC 5705 without context, CCM_8) equals python's; still readable after the session moved to our record layer"
