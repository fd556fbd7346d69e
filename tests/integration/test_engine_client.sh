#!/usr/bin/env bash
# The engine's client sessions with other keys (coap.h kdc_coap_connect2(),
# issue 14's client mode for OCF onboarding), driven by engclient against
# libcoap's coap-server-gnutls 4.3.1 (an independent DTLS server):
# - RPK (RFC 7250) and X.509 sessions, the KDC presenting its own key or
#   certificate or nothing, a request answered;
# - the caller's check of the server's credential: refusing it fails the
#   handshake and the connect callback gets the check's own refusal code;
# - PSK with OCF's suite order (TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256 is
#   what the server selects) and a binary identity.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
command -v ss >/dev/null || fail "ss missing (iproute2; make deps installs it)"
: "${ENGCLIENT:?the engclient helper is not built}"

cd "$T"
key() { openssl ecparam -genkey -name prime256v1 -noout -out "$1.pem" 2>/dev/null &&
	openssl ec -in "$1.pem" -pubout -out "$1.pub" 2>/dev/null; }
ca() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$1.key" -out "$1.pem" -subj "/CN=$1" -days 2 2>/dev/null; }
leaf() {	# leaf NAME CA
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
		-out "$1.csr" -subj "/CN=$1" 2>/dev/null &&
	openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial \
		-out "$1.pem" -days 2 2>/dev/null
}
key srvrpk; key kdcrpk
ca mfgca; ca otherca
leaf device mfgca; leaf kdc mfgca

# server NAME ARGS...: coap-server-gnutls on 127.0.0.1, coap on $SPORT and
# coaps on $DPORT = SPORT+1 (its rule); SPID set; waits until bound
server() {
	local name=$1; shift
	for _ in $(seq 1 20); do
		SPORT=$(free_udp_port)
		DPORT=$((SPORT + 1))
		ss -Huln "sport = :$DPORT" | grep -q . || break
	done
	coap-server-gnutls -A 127.0.0.1 -p "$SPORT" "$@" > "$T/$name.log" 2>&1 &
	SPID=$!
	PIDS+=("$SPID")
	for _ in $(seq 1 100); do
		ss -Huln "sport = :$DPORT" | grep -q . && return 0
		kill -0 "$SPID" 2>/dev/null || fail "coap-server-gnutls $name exited: $(tail -3 "$T/$name.log")"
		sleep 0.1
	done
	fail "coap-server-gnutls $name did not bind $DPORT"
}
stop() { kill "$SPID"; wait "$SPID" 2>/dev/null || true; }
get() {	# get OUT CRED...: engclient get; its exit status in RC
	local out=$1; shift
	RC=0
	"$ENGCLIENT" get 127.0.0.1 "$DPORT" time "$@" > "$T/$out" 2>&1 || RC=$?
}
answered() {
	[ "$RC" -eq 0 ] && grep -qE '^answer 2\.05 .+' "$T/$1" || fail "$1: no 2.05 answer (rc $RC): $(cat "$T/$1")"
}
refused_by_check() {
	[ "$RC" -eq 2 ] || fail "$1: want a failed connect (rc 2), rc $RC: $(cat "$T/$1")"
	grep -qx "check type=$2 n=[0-9]* verdict=refuse" "$T/$1" || fail "$1: the check did not refuse: $(cat "$T/$1")"
	# the check's own code (KDC_ERR_UNTRUSTED), not a generic TLS failure
	grep -qx 'connect failed: not issued by a trusted CA' "$T/$1" || fail "$1: refusal not reported: $(cat "$T/$1")"
	grep -q '^answer' "$T/$1" && fail "$1: answered after a refusal"
	return 0
}

# ---- RPK --------------------------------------------------------------------------
server rpk -M srvrpk.pem -n
get rpk1.out rpk srvrpk.pub
answered rpk1.out
grep -qx 'check type=rpk n=1 verdict=accept' rpk1.out || fail "rpk: the check was not asked"
get rpk2.out rpk kdcrpk.pub		# the check expects another key
refused_by_check rpk2.out rpk
stop
pass "RPK: the server's key accepted by the check, GET answered; another key refused by the check"

server rpkmutual -M srvrpk.pem	# the server requires the client's RPK
get rpk3.out rpk srvrpk.pub kdcrpk.pub kdcrpk.pem
answered rpk3.out
get rpk4.out rpk srvrpk.pub
[ "$RC" -eq 2 ] && grep -qx 'connect failed: TLS setup failed' rpk4.out ||
	fail "rpk without our key to a server requiring one: $(cat rpk4.out)"
stop
pass "RPK: the KDC presents its own key when it has one (a server that requires one answers)"

# ---- X.509 ------------------------------------------------------------------------
server x509 -c device.pem -j device.key -n
get x1.out x509 mfgca.pem
answered x1.out
grep -qx 'check type=x509 n=1 verdict=accept' x1.out || fail "x509: the check was not asked"
get x2.out x509 otherca.pem	# mfgcert OTM: the device's chain is not under this CA
refused_by_check x2.out x509
stop
pass "X.509: a chain to the manufacturer CA accepted, GET answered; a chain to another CA refused by the check"

server x509mutual -c device.pem -j device.key -R mfgca.pem
get x3.out x509 mfgca.pem kdc.pem kdc.key
answered x3.out
get x4.out x509 mfgca.pem
[ "$RC" -eq 2 ] || fail "x509 without our certificate to a server requiring one: $(cat x4.out)"
stop
pass "X.509: the KDC presents its certificate when it has one"

# ---- PSK: OCF's suites, binary identity --------------------------------------------
# coap-server-gnutls takes its (test) key as text on -k; engclient reads
# the same bytes as hex from a file. Identity "oic.sec.doxm.rdp" (OCF's
# Random PIN OTM); coap-server accepts any identity with -k.
server psk -k testkey-0123456 -v 9
printf 'testkey-0123456' | od -An -tx1 | tr -d ' \n' > k.hex
get p1.out psk 6f69632e7365632e646f786d2e726470 k.hex ocf
answered p1.out
grep -q 'Selected cipher suite: GNUTLS_ECDHE_PSK_AES_128_CBC_SHA256' psk.log ||
	fail "OCF order: the server did not select ECDHE_PSK_AES_128_CBC_SHA256"
grep -q "got psk_identity: 'oic.sec.doxm.rdp'" psk.log || fail "the identity on the wire"
get p2.out psk 00a1b2c3d4e5f60718293a4b5c6d7e8f k.hex
answered p2.out
[ "$(grep -c 'Selected cipher suite: GNUTLS_PSK_AES_128_CCM_8' psk.log)" -ge 1 ] ||
	fail "RFC 7925 order: PSK_AES_128_CCM_8 not selected"
printf '00112233445566778899aabbccddeeff' > wrong.hex
get p3.out psk 6f69632e7365632e646f786d2e726470 wrong.hex ocf
[ "$RC" -eq 2 ] && grep -q '^connect failed: ' p3.out || fail "a wrong PSK connected: $(cat p3.out)"
stop
pass "PSK: OCF order selects 0xC037; a binary identity (leading 0x00) connects; a wrong key fails"
