#!/usr/bin/env bash
# A revocation reaches live sessions: `iotkdc device revoke` and
# `iotkdc cred revoke`, run while `serve` runs (they share only the data
# dir), close within 1 s the DTLS sessions that the revoked credential
# authenticated (the client, coap-client-gnutls holding its session with
# -G, sees close_notify and exits) and drop the device's LwM2M
# registration (`iotkdc lwm2m clients` no longer lists it). Each closure
# is logged and audited "session.close". Another device's session lives on.
. "$(dirname "$0")/lib.sh"

kdc init >/dev/null
set_conf kdc log_level debug	# "authenticated" is a debug line
KEY='live-key-0123456789'
KEY3='keep-key-0123456789'
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
hex "$KEY" | kdc device add urn:dev:lv:1 --psk-identity lv1 --psk-file - >/dev/null
hex "$KEY3" | kdc device add urn:dev:lv:3 --psk-identity lv3 --psk-file - >/dev/null
# an operational certificate for the LwM2M Server (the CLI signs a CSR)
kdc device add urn:dev:lv:2 --cert >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
	-keyout "$T/d2.key" -out "$T/d2.csr" 2>/dev/null
kdc cert sign "$T/d2.csr" --device urn:dev:lv:2 --days 1 > "$T/d2.pem"
kdc cred list --device urn:dev:lv:2 --json > "$T/creds.json"
# jansson writes one key per line: the id of the operational credential
op_id=$(awk '/"id":/ { id = $2; sub(/,$/, "", id) }
	/"kind": "operational"/ { print id; exit }' "$T/creds.json")
[ -n "$op_id" ] || fail "no operational credential: $(cat "$T/creds.json")"
start_serve

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# Hold a session: one request a second for up to 60 s on one DTLS
# session. coap-client quits when the session is closed (DTLS_CLOSED).
hold() {
	local n=$1; shift
	timeout 70 coap-client-gnutls -v 7 -B 65 -G 60 "$@" > "$T/h.$n.out" 2>&1 &
	HELD=$!
	PIDS+=("$HELD")
}
# Wait (bounded) until the daemon logs that device $1 authenticated.
wait_authed() {
	for _ in $(seq 1 100); do
		grep -q "authenticated cred=[0-9]* type=$2 device=$1\$" "$T/serve.log" && return 0
		sleep 0.05
	done
	fail "$1 did not authenticate: $(tail -5 "$T/serve.log")"
}
# After a revoke returned at $1 (ms): wait until device $2's session is
# closed (the log line) and client pid $3 has exited; prints the ms taken.
cut_off_within() {
	local t0=$1 dev=$2 pid=$3 t1
	for _ in $(seq 1 400); do
		if grep -q "session closed device=$dev cred=" "$T/serve.log" &&
		    ! kill -0 "$pid" 2>/dev/null; then
			t1=$(now_ms)
			echo $(( t1 - t0 ))
			return 0
		fi
		sleep 0.005
	done
	fail "$dev not cut off within 2 s: $(grep -c "session closed" "$T/serve.log") closures; client alive: $(kill -0 "$pid" 2>/dev/null && echo yes || echo no)"
}

# ---- device revoke: a session on the KDC endpoint (PSK) --------------------
hold keep -m get -u lv3 -k "$KEY3" "coaps://127.0.0.1:$COAP_PORT/no-such-path"
KEEP=$HELD
hold psk -m get -u lv1 -k "$KEY" "coaps://127.0.0.1:$COAP_PORT/no-such-path"
PSK=$HELD
wait_authed urn:dev:lv:1 psk
wait_authed urn:dev:lv:3 psk
kdc device revoke urn:dev:lv:1 >/dev/null
t0=$(now_ms)
ms=$(cut_off_within "$t0" urn:dev:lv:1 "$PSK")
[ "$ms" -lt 1000 ] || fail "device revoke: the session was closed after $ms ms (want < 1000)"
wait "$PSK" || true
grep -q 'EVENT: 0x0000' "$T/h.psk.out" || fail "the client did not see its DTLS session closed: $(tail -3 "$T/h.psk.out")"
grep -q 'info [a-z_]*: peer=127\.0\.0\.1:[0-9]* endpoint=kdc session closed device=urn:dev:lv:1 cred=1: revoked' "$T/serve.log" ||
	fail "closure not logged at info: $(grep 'session closed' "$T/serve.log")"
has 'coap +session\.close +urn:dev:lv:1 +REVOKED +reason=revoked cred=1 from=127\.0\.0\.1:[0-9]+ endpoint=kdc' kdc audit list ||
	fail "closure not audited: $(kdc audit list | tail -3)"
kill -0 "$KEEP" 2>/dev/null || fail "another device's session was closed too"
grep -q 'session closed device=urn:dev:lv:3' "$T/serve.log" && fail "urn:dev:lv:3 was cut off"
pass "device revoke: its live DTLS session closed ${ms} ms after the command returned (client saw close_notify), logged and audited; another device's session lives on"

# ---- cred revoke: a registered LwM2M client (operational certificate) ----
hold reg -m post -c "$T/d2.pem" -j "$T/d2.key" -R "$T/ca.pem" \
	"coaps://127.0.0.1:$LWM2M_PORT/rd?ep=urn:dev:lv:2&lt=300&lwm2m=1.1&b=U"
REG=$HELD
wait_authed urn:dev:lv:2 x509
for _ in $(seq 1 100); do
	has 'urn:dev:lv:2' kdc lwm2m clients && break
	sleep 0.05
done
has 'urn:dev:lv:2' kdc lwm2m clients || fail "not registered: $(tail -3 "$T/h.reg.out")"
kdc cred revoke "$op_id" >/dev/null
t0=$(now_ms)
ms=$(cut_off_within "$t0" urn:dev:lv:2 "$REG")
[ "$ms" -lt 1000 ] || fail "cred revoke: the session was closed after $ms ms (want < 1000)"
for _ in $(seq 1 100); do
	has 'urn:dev:lv:2' kdc lwm2m clients || break
	sleep 0.01
done
has 'urn:dev:lv:2' kdc lwm2m clients && fail "lwm2m clients still lists the revoked device"
ms2=$(( $(now_ms) - t0 ))
[ "$ms2" -lt 1500 ] || fail "the registration was dropped after $ms2 ms"
has "coap +session\\.close +urn:dev:lv:2 +REVOKED +reason=revoked cred=$op_id .*endpoint=lwm2m" kdc audit list ||
	fail "closure not audited"
has 'lwm2m\.drop +urn:dev:lv:2 +REVOKED +reg=[0-9]+ dropped' kdc audit list || fail "registration drop not audited"
kill -0 "$KEEP" 2>/dev/null || fail "another device's session was closed by the cred revoke"
kdc audit verify > "$T/verify.txt" || fail "audit verify: $(cat "$T/verify.txt")"
pass "cred revoke $op_id: the LwM2M client's session closed ${ms} ms after, its registration gone from lwm2m clients (${ms2} ms), audited"
