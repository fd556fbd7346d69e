#!/usr/bin/env bash
# LwM2M server-initiated bootstrap (issue 14, the engine's client mode):
# `iotkdc lwm2m bootstrap-device URI --device ID` connects to a device
# that listens (iotkdc-device listen: a libcoap 4.3.1 DTLS server, an
# independent peer) with the device's manufacturer PSK and runs the
# Bootstrap Server's sequence on it; the device then registers at the
# daemon's LwM2M Server with what it was given. Refusals: a device whose
# key differs (the handshake fails, nothing written), a revoked device
# (refused before any datagram), a device with no manufacturer PSK.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${IOTKDC_DEVICE:?the iotkdc-device simulator is not built}"

ID=sid1
KEY=000102030405060708090a0b0c0d0e0f
kdc init >/dev/null
printf '%s' "$KEY" > "$T/key.hex"
kdc device add urn:dev:si:1 --psk-identity "$ID" --psk-file "$T/key.hex" >/dev/null
start_serve

# listen NAME KEYFILE [SECONDS]: a listening device in the background;
# waits for its "listening on" line; LPID and LPORT set
listen() {
	local name=$1 keyfile=$2 secs=${3:-30}
	LPORT=$(free_udp_port "$COAP_PORT" "$LWM2M_PORT")
	timeout 60 "$IOTKDC_DEVICE" listen --port "$LPORT" --psk-identity "$ID" \
		--psk-file "$keyfile" --state "$T/$name.state" --timeout "$secs" --ep urn:dev:si:1 \
		2> "$T/$name.err" &
	LPID=$!
	PIDS+=("$LPID")
	wait_line "$T/$name.err" "listening on 127\.0\.0\.1:$LPORT"
}

# ---- the device listens with its factory PSK: bootstrapped, registers ----
listen ok "$T/key.hex"
kdc lwm2m bootstrap-device "coaps://127.0.0.1:$LPORT" --device urn:dev:si:1 \
	> "$T/bs.out" 2> "$T/bs.err" || fail "bootstrap-device: $(cat "$T/bs.err")"
grep -q "^bootstrapped urn:dev:si:1 at coaps://127.0.0.1:$LPORT\$" "$T/bs.out" ||
	fail "no 'bootstrapped' line: $(cat "$T/bs.out")"
wait "$LPID" || fail "the listening device exited $?: $(tail -3 "$T/ok.err")"
[ "$(stat -c %a "$T/ok.state")" = 600 ] || fail "state file mode"
has 'cli +lwm2m\.bootstrap-device +urn:dev:si:1 +ok' kdc audit list ||
	fail "bootstrap-device not audited"
has ' lwm2m\.bootstrap +urn:dev:si:1 +ok' kdc audit list ||
	fail "the bootstrap itself not audited"
grep -qF -e "$KEY" "$T/bs.out" "$T/bs.err" "$T/ok.err" && fail "a key in the output"
timeout 30 "$IOTKDC_DEVICE" register --state "$T/ok.state" > "$T/reg.out" 2> "$T/reg.err" ||
	fail "register with what the server-initiated bootstrap wrote: $(cat "$T/reg.err")"
has 'urn:dev:si:1' kdc lwm2m clients || fail "not registered at the LwM2M Server"
pass "server-initiated bootstrap: the device got its credentials and registers with them"

# ---- a device that holds another key: the handshake fails, nothing written
printf '%s' "ffeeddccbbaa99887766554433221100" > "$T/other.hex"
listen bad "$T/other.hex" 5	# it cannot tell a wrong key: its deadline
if kdc lwm2m bootstrap-device "coaps://127.0.0.1:$LPORT" --device urn:dev:si:1 \
	> "$T/bs2.out" 2> "$T/bs2.err"; then
	fail "bootstrapped a device that does not hold our key"
fi
grep -q "DTLS handshake" "$T/bs2.err" || fail "the refusal does not name the handshake: $(cat "$T/bs2.err")"
if wait "$LPID"; then fail "the device with another key exited 0"; fi
[ ! -e "$T/bad.state" ] || fail "a state file was written for a failed bootstrap"
pass "a device with another key: handshake refused, nothing written"

# ---- refused before any datagram ----------------------------------------
kdc device revoke urn:dev:si:1 >/dev/null
expect_fail 'urn:dev:si:1: .*revoked' kdc lwm2m bootstrap-device "coaps://127.0.0.1:$LPORT" --device urn:dev:si:1
openssl ecparam -genkey -name prime256v1 -noout -out "$T/rpk.pem" 2>/dev/null
openssl ec -in "$T/rpk.pem" -pubout -out "$T/rpk.pub" 2>/dev/null
kdc device add urn:dev:si:2 --rpk "$T/rpk.pub" >/dev/null
if kdc lwm2m bootstrap-device "coaps://127.0.0.1:$LPORT" --device urn:dev:si:2 \
	> "$T/bs3.out" 2> "$T/bs3.err"; then
	fail "bootstrap-device ran for a device with no manufacturer PSK"
fi
grep -q "no live manufacturer PSK" "$T/bs3.err" || fail "the refusal: $(cat "$T/bs3.err")"
expect_fail 'want coaps://ADDRESS:PORT' kdc lwm2m bootstrap-device "coap://127.0.0.1:$LPORT" --device urn:dev:si:2
pass "refused: a revoked device, a device without a PSK, a URI that is not coaps"
