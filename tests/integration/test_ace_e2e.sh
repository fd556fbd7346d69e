#!/usr/bin/env bash
# ACE end to end over loopback with our three parts: the AS (the daemon's
# /token on its CoAPS endpoint), the resource server (`iotkdc-device rs`,
# the lock, configured with the key it shares with the AS) and the client
# (`iotkdc-device token`: POST /token with the device's PSK, the token to
# /authz-info, DTLS-PSK with psk_identity {8:{1:{1:4,2:kid}}} and the PoP
# key from cnf, then the lock). Symmetric PoP (the AS's Encrypt0 tokens).
# Refusals: a scope outside the grant is refused by the AS (no token); a
# token for another RS is refused by ours (4.03); the granted scope "open"
# does not close the lock (4.03).
# The AS's kids never hold a 0x00 byte: libcoap/GnuTLS take a PSK
# identity as a C string and would cut it there (docs/traps.md); each
# kid seen is checked.
. "$(dirname "$0")/lib.sh"
: "${IOTKDC_DEVICE:?the iotkdc-device simulator is not built}"
dev() { timeout 60 "$IOTKDC_DEVICE" "$@"; }

kdc init >/dev/null
KEY=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')	# binary PSK: our client takes hex
printf '%s\n' "$KEY" > "$T/c1.hex"
chmod 600 "$T/c1.hex"
kdc device add urn:dev:ace:e2e --psk-identity e2e-c1 --psk-file "$T/c1.hex" >/dev/null
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/asrs.hex"
chmod 600 "$T/asrs.hex"
kdc ace rs add lock1 --key-file "$T/asrs.hex" >/dev/null
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/asrs2.hex"
chmod 600 "$T/asrs2.hex"
kdc ace rs add lock2 --key-file "$T/asrs2.hex" >/dev/null
kdc ace grant urn:dev:ace:e2e lock1 open read >/dev/null
kdc ace grant urn:dev:ace:e2e lock2 open >/dev/null
start_serve

P=$(free_udp_port "$COAP_PORT" "$LWM2M_PORT")
P2=$(free_udp_port "$COAP_PORT" "$LWM2M_PORT" "$P")
"$IOTKDC_DEVICE" rs --aud lock1 --as "coaps://127.0.0.1:$COAP_PORT" --key-file "$T/asrs.hex" \
	--port "$P" --coaps-port "$P2" --timeout 250 -vv > "$T/rs.out" 2> "$T/rs.log" &
PIDS+=("$!")
wait_line "$T/rs.out" "^rs ready 127\.0\.0\.1 coap $P coaps $P2\$"

# tok AUD SCOPE [args]: iotkdc-device token as the device; its status in
# $rc, its output in $T/tok.out
tok() {
	local aud=$1 scope=$2; shift 2
	rc=0
	dev token --as "coaps://127.0.0.1:$COAP_PORT" --psk-identity e2e-c1 \
		--psk-file "$T/c1.hex" --aud "$aud" --scope "$scope" "$@" \
		> "$T/tok.out" 2> "$T/tok.err" || rc=$?
	kid=$(sed -n 's/^token: pop kid //p' "$T/tok.out")
	if [ -n "$kid" ] && grep -qE '^(..)*00' <<< "$kid"; then
		fail "the AS made a kid with a 0x00 byte: $kid"
	fi
	return 0
}

tok lock1 open --rs "coap://127.0.0.1:$P" --rs-coaps "coaps://127.0.0.1:$P2" --do open
[ $rc -eq 0 ] && grep -q '^token: 2.01$' "$T/tok.out" && grep -q '^authz-info: 2.01$' "$T/tok.out" &&
	grep -q '^open: 2.04$' "$T/tok.out" || fail "open: rc=$rc $(cat "$T/tok.out" "$T/tok.err")"
grep -q 'lock: opened' "$T/rs.log" || fail "the RS did not open: $(tail -3 "$T/rs.log")"
grep -q "$KEY" "$T/tok.out" "$T/tok.err" "$T/rs.log" && fail "a PSK was printed"
pass "AS token (Encrypt0) -> RS /authz-info 2.01 -> DTLS-PSK by kid -> POST /lock/open 2.04"

tok lock1 open --rs "coap://127.0.0.1:$P" --rs-coaps "coaps://127.0.0.1:$P2" --do close
[ $rc -ne 0 ] && grep -q '^close: 4.03$' "$T/tok.out" || fail "close with scope open: rc=$rc $(cat "$T/tok.out")"
pass "scope open does not close the lock: 4.03"

tok lock1 "open close"
[ $rc -ne 0 ] && grep -q '^token: 4.00$' "$T/tok.out" && grep -q '^token: error 6$' "$T/tok.out" ||
	fail "scope outside the grant: rc=$rc $(cat "$T/tok.out" "$T/tok.err")"
pass "scope outside the grant: the AS answers 4.00 invalid_scope, no token"

tok lock2 open --rs "coap://127.0.0.1:$P"
[ $rc -ne 0 ] && grep -q '^token: 2.01$' "$T/tok.out" && grep -q '^authz-info: 4.01$' "$T/tok.out" ||
	fail "a token for lock2 at lock1: rc=$rc $(cat "$T/tok.out")"
pass "a token for another RS (encrypted to its key) is refused by ours: 4.01"
