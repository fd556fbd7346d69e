#!/usr/bin/env bash
# The ACE resource server of the device library (`iotkdc-device rs`, a
# lock) against independent peers: tokens made by /usr/bin/python3 with
# Debian's python3-cbor2 and python3-cryptography (ace_token.py: COSE
# Encrypt0 under the AS-RS key, COSE_Sign1 ES256 by an AS key openssl
# made), POSTed by libcoap's coap-client-gnutls 4.3.1 to /authz-info over
# plain CoAP (RFC 9202 lets the token go unprotected); then the lock used
# over DTLS-PSK with the token's PoP key. coap-client's -u and -k take
# text (docs/traps.md), so it presents the raw kid as psk_identity (which
# the RS accepts besides the CBOR {8:{1:{1:4,2:kid}}}) and the PoP key
# is printable here; `iotkdc-device token --response-file` then does the
# same with the CBOR identity, as it does against the AS.
# Refusals, each with its code: a token for another audience 4.03, an
# expired one 4.01 with the AS Request Creation Hints, one not yet valid
# 4.01, a tampered one 4.01, garbage 4.00; a request without a token
# 4.01 with hints, a scope the token lacks 4.03; an unknown kid and a
# wrong key fail the DTLS handshake (no answer at all).
. "$(dirname "$0")/lib.sh"
: "${IOTKDC_DEVICE:?the iotkdc-device simulator is not built}"
PY=/usr/bin/python3
TOKPY="$(dirname "$0")/ace_token.py"
dev() { timeout 60 "$IOTKDC_DEVICE" "$@"; }
# coap-client-gnutls exits 0 whatever happens and logs to stdout; at -v 7
# each PDU it receives is logged, e.g. "v:1 t:ACK c:2.01 i:... [ ]".
client() { timeout 20 coap-client-gnutls -v 7 -B 4 "$@" > "$T/client.out" 2> "$T/client.err" || true; }
got() { grep -qE "t:(ACK|CON|NON) c:$1 " "$T/client.out"; }
codes() { grep -oE ' c:[0-9]\.[0-9]+ ' "$T/client.out" | tr -d ' ' | tr '\n' ' '; }

"$IOTKDC_DEVICE" --help > "$T/help" || fail "--help"
grep -q '^  rs ' "$T/help" && grep -q '^  token ' "$T/help" || fail "--help does not name rs and token"
"$IOTKDC_DEVICE" rs --help > "$T/help" || fail "rs --help"
grep -q -- '--key-file F' "$T/help" && grep -q 'rs ready ADDR coap P coaps P2' "$T/help" || fail "rs --help: $(cat "$T/help")"
pass "--help names rs and token"

# ---- keys ------------------------------------------------------------------
head -c 16 /dev/urandom | od -An -v -tx1 | tr -d ' \n' > "$T/asrs.hex"
chmod 644 "$T/asrs.hex"
P=$(free_udp_port)
P2=$(free_udp_port "$P")
expect_fail 'readable by others' dev rs --aud lock1 --as coaps://as.example \
	--key-file "$T/asrs.hex" --port "$P" --coaps-port "$P2"
chmod 600 "$T/asrs.hex"
pass "rs refuses a key file others can read"
openssl ecparam -name prime256v1 -genkey -noout -out "$T/as.key" 2>/dev/null
openssl ec -in "$T/as.key" -pubout -out "$T/as.pub" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$T/cl.key" 2>/dev/null
openssl ec -in "$T/cl.key" -pubout -out "$T/cl.pub" 2>/dev/null

# ---- the RS ------------------------------------------------------------------
# not under timeout(1) (its status would hide ours); --timeout bounds it
"$IOTKDC_DEVICE" rs --aud lock1 --as coaps://as.example:5684 --key-file "$T/asrs.hex" \
	--as-pubkey "$T/as.pub" --port "$P" --coaps-port "$P2" --timeout 250 -vv \
	> "$T/rs.out" 2> "$T/rs.log" &
RS_PID=$!
PIDS+=("$RS_PID")
wait_line "$T/rs.out" "^rs ready 127\.0\.0\.1 coap $P coaps $P2\$"
pass "rs listening on coap $P, coaps $P2"

# tok NAME ARGS...: a token into $T/NAME.cwt (response body NAME.resp)
tok() {
	local n=$1; shift
	"$PY" "$TOKPY" --aud lock1 --token-out "$T/$n.cwt" --response-out "$T/$n.resp" \
		--hash-out "$T/$n.hash" "$@" || fail "ace_token.py $n"
}
authz() { client -m post -t 61 -f "$1" "coap://127.0.0.1:$P/authz-info"; }

# ---- accepted: Encrypt0, symmetric PoP ---------------------------------------
KID=kid-ace-test-01
POP=pop-key-ace-0001		# printable: coap-client -k
tok a --as-key-file "$T/asrs.hex" --scope "open read" --kid "$KID" --pop-key "$POP"
# without a token first: 4.01 + hints (plain CoAP has no kid)
client -m get "coap://127.0.0.1:$P/lock"
got '4\.01' || fail "GET /lock without a token: $(codes)"
authz "$T/a.cwt"
got '2\.01' || fail "authz-info (Encrypt0) not 2.01: $(codes)"
pass "POST /authz-info with a python-made Encrypt0 token: 2.01"

client -m post -u "$KID" -k "$POP" "coaps://127.0.0.1:$P2/lock/open"
got '2\.04' || fail "open over DTLS-PSK: $(codes) $(tail -3 "$T/rs.log")"
client -m get -u "$KID" -k "$POP" "coaps://127.0.0.1:$P2/lock"
got '2\.05' && grep -q 'open' "$T/client.out" || fail "read: $(codes)"
pass "DTLS-PSK with identity = kid and the PoP key: open 2.04, read 2.05 \"open\""
client -m post -u "$KID" -k "$POP" "coaps://127.0.0.1:$P2/lock/close"
got '4\.03' || fail "close without the close scope: $(codes)"
pass "close with scope \"open read\": 4.03"

# no answer for a kid without a token, nor for a wrong key
client -m get -u kid-nobody -k "$POP" "coaps://127.0.0.1:$P2/lock"
grep -qE ' c:[0-9]\.' "$T/client.out" && fail "unknown kid got an answer: $(codes)"
client -m get -u "$KID" -k pop-key-wrong-01 "coaps://127.0.0.1:$P2/lock"
grep -qE ' c:[0-9]\.' "$T/client.out" && fail "wrong key got an answer: $(codes)"
wait_line "$T/rs.log" 'no key for a PSK identity'
pass "unknown kid and wrong PoP key: no DTLS session"

# ---- iotkdc-device token: the CBOR psk_identity, close scope -----------------
tok b --as-key-file "$T/asrs.hex" --scope "close read" --kid kid-ace-test-02 \
	--pop-key pop-key-ace-0002 --cti 0b0b
dev token --aud lock1 --response-file "$T/b.resp" --rs "coap://127.0.0.1:$P" \
	--rs-coaps "coaps://127.0.0.1:$P2" --do close > "$T/tok.out" 2> "$T/tok.err" ||
	fail "token --do close: $(cat "$T/tok.out" "$T/tok.err")"
grep -q '^authz-info: 2.01$' "$T/tok.out" && grep -q '^close: 2.04$' "$T/tok.out" ||
	fail "token output: $(cat "$T/tok.out")"
grep -q 'pop-key-ace-0002' "$T/tok.out" "$T/tok.err" && fail "the PoP key was printed"
grep -q "$(printf 'pop-key-ace-0002' | od -An -tx1 | tr -d ' \n')" "$T/tok.out" && fail "the PoP key was printed (hex)"
dev token --aud lock1 --response-file "$T/b.resp" --rs-coaps "coaps://127.0.0.1:$P2" \
	--do read > "$T/tok.out" 2>&1 || fail "token --do read: $(cat "$T/tok.out")"
grep -q '^lock: closed$' "$T/tok.out" || fail "read after close: $(cat "$T/tok.out")"
rc=0
dev token --aud lock1 --response-file "$T/b.resp" --rs-coaps "coaps://127.0.0.1:$P2" \
	--do open > "$T/tok.out" 2>&1 || rc=$?
[ $rc -ne 0 ] && grep -q '^open: 4.03$' "$T/tok.out" || fail "open with a close scope: rc=$rc $(cat "$T/tok.out")"
pass "iotkdc-device token (CBOR identity): close 2.04, read \"closed\", open 4.03 (exit $rc)"

# ---- Sign1 (ES256 by the AS key), asymmetric PoP: accepted at /authz-info ----
tok s --sign-key "$T/as.key" --scope read --kid ec-1 --pop-pub "$T/cl.pub"
authz "$T/s.cwt"
got '2\.01' || fail "authz-info (Sign1) not 2.01: $(codes)"
# signed by another key: 4.01
tok s2 --sign-key "$T/cl.key" --scope read --kid ec-2 --pop-pub "$T/cl.pub"
authz "$T/s2.cwt"
got '4\.01' || fail "Sign1 by a stranger: $(codes)"
pass "Sign1 by the AS key 2.01, by another key 4.01"

# ---- refusals at /authz-info ---------------------------------------------------
tok w --as-key-file "$T/asrs.hex" --scope open --kid kid-w --pop-key "$POP" --aud lock2
authz "$T/w.cwt"
got '4\.03' || fail "wrong audience: $(codes)"
tok e --as-key-file "$T/asrs.hex" --scope open --kid kid-e --pop-key "$POP" --exp-in -5
authz "$T/e.cwt"
got '4\.01' || fail "expired: $(codes)"
# the hints: {1: "coaps://as.example:5684", 5: "lock1"} in ace+cbor (19)
# = a2 01 77 "coaps://as.example:5684" 05 65 "lock1"
grep -q 'c:4.01 .*Content-Format:19 ' "$T/client.out" &&
	grep -q '<<a20177636f6170733a2f2f61732e6578616d706c653a3536383405656c6f636b31>>' "$T/client.out" ||
	fail "no creation hints: $(grep -A1 'c:4.01' "$T/client.out")"
tok n --as-key-file "$T/asrs.hex" --scope open --kid kid-n --pop-key "$POP" --nbf-in 300
authz "$T/n.cwt"
got '4\.01' || fail "not yet valid: $(codes)"
# tampered: one bit of the ciphertext flipped
cp "$T/a.cwt" "$T/t.cwt"
sz=$(stat -c %s "$T/t.cwt")
b=$(od -An -tu1 -j $((sz - 3)) -N 1 "$T/t.cwt" | tr -d ' ')
# shellcheck disable=SC2059
printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$T/t.cwt" bs=1 seek=$((sz - 3)) conv=notrunc 2>/dev/null
cmp -s "$T/a.cwt" "$T/t.cwt" && fail "tamper did not change the token"
authz "$T/t.cwt"
got '4\.01' || fail "tampered: $(codes)"
printf 'not a token' > "$T/g.cwt"
authz "$T/g.cwt"
got '4\.00' || fail "garbage: $(codes)"
# a token under another Content-Format than application/cwt: 4.15
client -m post -t 0 -f "$T/a.cwt" "coap://127.0.0.1:$P/authz-info"
got '4\.15' || fail "text/plain token: $(codes)"
pass "refused: wrong audience 4.03, expired 4.01 + hints, not yet valid 4.01, tampered 4.01, garbage 4.00, Content-Format 0 4.15"

# the refusals stored nothing: kid-w, kid-e, kid-n have no session
client -m get -u kid-e -k "$POP" "coaps://127.0.0.1:$P2/lock"
grep -qE ' c:[0-9]\.' "$T/client.out" && fail "a refused token's kid got a session: $(codes)"
pass "a refused token gives no DTLS session"

# the RS logs no key
grep -q "$POP" "$T/rs.log" && fail "the RS logged a PoP key"
kill -TERM "$RS_PID"
wait "$RS_PID" || fail "rs did not exit 0 on SIGTERM"
pass "rs exits 0 on SIGTERM"
