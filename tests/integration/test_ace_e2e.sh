#!/usr/bin/env bash
# ACE end to end over loopback with our three parts: the AS (the daemon's
# /token on its CoAPS endpoint, and on HTTPS), the resource server
# (`iotkdc-device rs`, the lock, configured with the key it shares with
# the AS, the AS public key and its own RPK, observing the AS's TRL as
# the device lock1) and the client (`iotkdc-device token`).
# Symmetric PoP: POST /token with the device's PSK, the Encrypt0 token to
# /authz-info, DTLS-PSK with psk_identity {8:{1:{1:4,2:kid}}} and the PoP
# key from cnf, then the lock. Asymmetric PoP: DTLS-RPK to the AS with the
# client's key, req_cnf = that key, a Sign1 token, DTLS-RPK to the RS
# with the same key (the RS's key pinned from rs_cnf).
# Refusals: a scope outside the grant (AS, no token); scope open does not
# close (4.03); a token for another RS (encrypted to its key: 4.01;
# signed: 4.03); an expired token (python-made under the RS key: the
# AS's shortest token_lifetime is 60 s) 4.01; a tampered token 4.01; a
# stolen token without its PoP key (symmetric: wrong PSK; asymmetric:
# another RPK) gets no access; a revoked token seen through the TRL is
# dropped by the observing RS (then 4.01 at /authz-info, and no
# handshake); a revoked client gets no token.
# The AS's kids never hold a 0x00 byte: libcoap/GnuTLS take a PSK
# identity as a C string and would cut it there (docs/traps.md); each
# kid seen is checked.
. "$(dirname "$0")/lib.sh"
: "${IOTKDC_DEVICE:?the iotkdc-device simulator is not built}"
dev() { timeout 60 "$IOTKDC_DEVICE" "$@"; }
PY=/usr/bin/python3
PEER="$(dirname "$0")/ace_peer.py"
TOKPY="$(dirname "$0")/ace_token.py"
peer() { "$PY" "$PEER" "$@"; }

kdc init >/dev/null
KEY=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')	# binary PSK: our client takes hex
printf '%s\n' "$KEY" > "$T/c1.hex"
chmod 600 "$T/c1.hex"
kdc device add urn:dev:ace:e2e --psk-identity e2e-c1 --psk-file "$T/c1.hex" >/dev/null
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/asrs.hex"
chmod 600 "$T/asrs.hex"
# the RS's own key (DTLS-RPK), given to RPK clients as rs_cnf
openssl ecparam -genkey -name prime256v1 -noout -out "$T/rs.pem" 2>/dev/null
chmod 600 "$T/rs.pem"
openssl ec -in "$T/rs.pem" -pubout -out "$T/rs.pub" 2>/dev/null
kdc ace rs add lock1 --key-file "$T/asrs.hex" --pubkey "$T/rs.pub" >/dev/null
# the RS observes the TRL as the device named after it
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/rsdev.hex"
chmod 600 "$T/rsdev.hex"
kdc device add lock1 --psk-identity rs1 --psk-file "$T/rsdev.hex" >/dev/null
# an RPK client (asymmetric PoP), and a thief's key
openssl ecparam -genkey -name prime256v1 -noout -out "$T/c2.pem" 2>/dev/null
openssl ec -in "$T/c2.pem" -pubout -out "$T/c2.pub" 2>/dev/null
openssl ecparam -genkey -name prime256v1 -noout -out "$T/thief.pem" 2>/dev/null
chmod 600 "$T/c2.pem" "$T/thief.pem"
kdc device add urn:dev:ace:rpk --rpk "$T/c2.pub" >/dev/null
kdc ace pubkey --pem > "$T/as.pub"
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/asrs2.hex"
chmod 600 "$T/asrs2.hex"
kdc ace rs add lock2 --key-file "$T/asrs2.hex" >/dev/null
kdc ace grant urn:dev:ace:e2e lock1 open read >/dev/null
kdc ace grant urn:dev:ace:e2e lock2 open >/dev/null
kdc ace grant urn:dev:ace:rpk lock1 open read >/dev/null
kdc ace grant urn:dev:ace:rpk lock2 open >/dev/null
start_serve

P=$(free_udp_port "$COAP_PORT" "$LWM2M_PORT")
P2=$(free_udp_port "$COAP_PORT" "$LWM2M_PORT" "$P")
"$IOTKDC_DEVICE" rs --aud lock1 --as "coaps://127.0.0.1:$COAP_PORT" --key-file "$T/asrs.hex" \
	--as-pubkey "$T/as.pub" --rpk-key "$T/rs.pem" \
	--as-psk-identity rs1 --as-psk-file "$T/rsdev.hex" \
	--port "$P" --coaps-port "$P2" --timeout 250 -vv > "$T/rs.out" 2> "$T/rs.log" &
PIDS+=("$!")
wait_line "$T/rs.out" "^rs ready 127\.0\.0\.1 coap $P coaps $P2\$"
wait_line "$T/rs.log" "trl: observing the AS's token revocation list"
pass "the RS observes the AS's TRL (GET /trl, Observe, DTLS-PSK as lock1)"

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

# ---- helpers for the rest ----------------------------------------------------
RS="coap://127.0.0.1:$P"
RSS="coaps://127.0.0.1:$P2"
# use F [args]: `token --response-file F` (no AS) against our RS
use() {
	local f=$1; shift
	chmod 600 "$f"
	rc=0
	dev token --response-file "$f" --aud lock1 "$@" --timeout 6 \
		> "$T/tok.out" 2> "$T/tok.err" || rc=$?
}
# cti_of KIDHEX: the cti of the recorded token with that PoP kid
cti_of() {
	kdc ace tokens --json > "$T/tokens.json"
	"$PY" -c 'import json,sys
d=json.load(open(sys.argv[1]))
d=d if isinstance(d,list) else d.get("tokens",[])
print(next(t["cti"] for t in d if (t.get("pop_kid") or "").lower()==sys.argv[2].lower()))' "$T/tokens.json" "$1"
}

# ---- expired token -------------------------------------------------------------
# [ace] token_lifetime is at least 60 s (src/core/config.c), too long to
# wait for: python3-cbor2/cryptography make an Encrypt0 token under the
# AS-RS key, its exp 10 s in the past
"$PY" "$TOKPY" --as-key-file "$T/asrs.hex" --aud lock1 --scope open --kid kid-expired-01 \
	--pop-key pop-key-expired1 --exp-in -10 --token-out "$T/exp.cwt" \
	--response-out "$T/exp.resp" || fail "ace_token.py"
use "$T/exp.resp" --rs "$RS"
[ $rc -ne 0 ] && grep -q '^authz-info: 4.01$' "$T/tok.out" || fail "expired token: rc=$rc $(cat "$T/tok.out" "$T/tok.err")"
grep -q 'token refused (4.01): .*xpired' "$T/rs.log" || fail "the RS did not say expired: $(tail -3 "$T/rs.log")"
pass "an expired token: /authz-info 4.01"

# ---- tampered token --------------------------------------------------------------
tok lock1 "open read" --save-response "$T/good.resp"
[ $rc -eq 0 ] || fail "token for tampering: $(cat "$T/tok.out" "$T/tok.err")"
"$PY" -c 'import cbor2,sys
r=cbor2.loads(open(sys.argv[1],"rb").read())
t=bytearray(r[1]); t[len(t)//2]^=0x01; r[1]=bytes(t)
open(sys.argv[2],"wb").write(cbor2.dumps(r))' "$T/good.resp" "$T/bad.resp"
use "$T/bad.resp" --rs "$RS"
[ $rc -ne 0 ] && grep -q '^authz-info: 4.01$' "$T/tok.out" || fail "tampered token: rc=$rc $(cat "$T/tok.out")"
# the genuine one still works (so the flip made the difference)
use "$T/good.resp" --rs "$RS" --rs-coaps "$RSS" --do read
[ $rc -eq 0 ] && grep -q '^read: 2.05$' "$T/tok.out" || fail "untampered token: rc=$rc $(cat "$T/tok.out" "$T/tok.err")"
pass "a token with one bit flipped: /authz-info 4.01 (the same token unflipped: 2.01, read 2.05)"

# ---- a stolen token without its PoP key (symmetric) ------------------------------
# the thief has the token and the kid (both go in clear), not the key
"$PY" -c 'import cbor2,sys
r=cbor2.loads(open(sys.argv[1],"rb").read())
r[8][1][-1]=bytes(16)
open(sys.argv[2],"wb").write(cbor2.dumps(r))' "$T/good.resp" "$T/stolen.resp"
use "$T/stolen.resp" --rs "$RS" --rs-coaps "$RSS" --do open
[ $rc -ne 0 ] && grep -q '^authz-info: 2.01$' "$T/tok.out" && grep -q '^open: no session' "$T/tok.out" ||
	fail "a stolen token with a wrong PoP key: rc=$rc $(cat "$T/tok.out" "$T/tok.err")"
pass "a replayed token is taken at /authz-info (2.01) but without the PoP key no DTLS session, no access"

# ---- a revoked token seen through the TRL -----------------------------------------
tok lock1 open --rs "$RS" --rs-coaps "$RSS" --do open --save-response "$T/rev.resp"
[ $rc -eq 0 ] && grep -q '^open: 2.04$' "$T/tok.out" || fail "token before revocation: $(cat "$T/tok.out" "$T/tok.err")"
HASH=$(peer hash "$T/rev.resp")
CTI=$(cti_of "$kid")
[ -n "$CTI" ] || fail "no cti for kid $kid"
grep -q "trl: revoked token dropped (hash $HASH)" "$T/rs.log" && fail "dropped before its revocation"
kdc ace revoke-token "$CTI" >/dev/null
for _ in $(seq 1 100); do
	grep -q "trl: revoked token dropped (hash $HASH)" "$T/rs.log" && break
	sleep 0.1
done
grep -q "info: trl: revoked token dropped (hash $HASH)" "$T/rs.log" ||
	fail "the RS did not drop the revoked token: $(grep trl "$T/rs.log" | tail -3)"
# the token is gone: no handshake with its key, and posted again it is refused
use "$T/rev.resp" --rs-coaps "$RSS" --do open
[ $rc -ne 0 ] && grep -q '^open: no session' "$T/tok.out" || fail "a revoked token's key still opens: $(cat "$T/tok.out")"
use "$T/rev.resp" --rs "$RS"
[ $rc -ne 0 ] && grep -q '^authz-info: 4.01$' "$T/tok.out" || fail "a revoked token posted again: rc=$rc $(cat "$T/tok.out")"
grep -q 'token refused (4.01): .*evoked' "$T/rs.log" || fail "not refused as revoked: $(tail -3 "$T/rs.log")"
pass "revoke-token: the observing RS drops it at once (logged with its hash), its key opens nothing, posted again 4.01"

# ---- asymmetric PoP: RPK to the AS and to the RS ---------------------------------
rpk() { # AUD SCOPE KEY [args]
	local aud=$1 scope=$2 key=$3; shift 3
	rc=0
	dev token --as "coaps://127.0.0.1:$COAP_PORT" --rpk-key "$key" --aud "$aud" \
		--scope "$scope" --timeout 10 -v "$@" > "$T/tok.out" 2> "$T/tok.err" || rc=$?
}
rpk lock1 open "$T/c2.pem" --rs "$RS" --rs-coaps "$RSS" --do open --save-response "$T/asym.resp"
[ $rc -eq 0 ] && grep -q '^token: 2.01$' "$T/tok.out" && grep -q '^authz-info: 2.01$' "$T/tok.out" &&
	grep -q '^open: 2.04$' "$T/tok.out" || fail "asymmetric PoP: rc=$rc $(cat "$T/tok.out" "$T/tok.err")"
grep -q '^rs key: pinned (rs_cnf)$' "$T/tok.out" || fail "the RS's key was not pinned from rs_cnf: $(cat "$T/tok.out")"
peer check-asym "$T/asym.resp" "$T/as.pub" lock1 open "$T/c2.pub" > /dev/null || fail "the Sign1 token does not verify"
grep -q 'DTLS: client raw public key accepted' "$T/rs.log" || fail "no RPK session at the RS"
pass "asymmetric PoP: RPK to the AS, req_cnf, Sign1 token (python verifies), /authz-info 2.01, DTLS-RPK to the RS (rs_cnf pinned), open 2.04"
use "$T/asym.resp" --rpk-key "$T/c2.pem" --rs-coaps "$RSS" --do close
[ $rc -ne 0 ] && grep -q '^close: 4.03$' "$T/tok.out" || fail "RPK close with scope open: rc=$rc $(cat "$T/tok.out")"
pass "RPK session: scope open does not close (4.03)"
# the RS's key is checked: an rs_cnf naming another key fails the handshake
"$PY" -c 'import cbor2,sys
from cryptography.hazmat.primitives import serialization
r=cbor2.loads(open(sys.argv[1],"rb").read())
n=serialization.load_pem_private_key(open(sys.argv[2],"rb").read(),None).public_key().public_numbers()
r[41]={1:{1:2,-1:1,-2:n.x.to_bytes(32,"big"),-3:n.y.to_bytes(32,"big")}}
open(sys.argv[3],"wb").write(cbor2.dumps(r))' "$T/asym.resp" "$T/thief.pem" "$T/asym_badrs.resp"
use "$T/asym_badrs.resp" --rpk-key "$T/c2.pem" --rs-coaps "$RSS" --do read
[ $rc -ne 0 ] && grep -q '^read: no session' "$T/tok.out" || fail "an RS with another key than rs_cnf's was used: $(cat "$T/tok.out")"
pass "the client checks the RS's RPK against rs_cnf: another key, no session"
# the thief: the Sign1 token is posted (2.01), its DTLS-RPK handshake with
# another key is refused by the RS, no access
use "$T/asym.resp" --rpk-key "$T/thief.pem" --rs "$RS" --rs-coaps "$RSS" --do open
[ $rc -ne 0 ] && grep -q '^authz-info: 2.01$' "$T/tok.out" && grep -q '^open: no session' "$T/tok.out" ||
	fail "a stolen Sign1 token with another key: rc=$rc $(cat "$T/tok.out" "$T/tok.err")"
grep -q "DTLS: no token for the client's raw public key: refused" "$T/rs.log" || fail "the RS did not refuse the thief's key"
pass "a stolen Sign1 token with another RPK: the RS's handshake refuses the key, no access"
# wrong audience: a Sign1 token for lock2 verifies at lock1 but is not for it
rpk lock2 open "$T/c2.pem" --rs "$RS"
[ $rc -ne 0 ] && grep -q '^token: 2.01$' "$T/tok.out" && grep -q '^authz-info: 4.03$' "$T/tok.out" ||
	fail "a Sign1 token for lock2 at lock1: rc=$rc $(cat "$T/tok.out")"
pass "a signed token for another audience: 4.03"

# ---- a token obtained over HTTPS ---------------------------------------------------
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/c3.key" -subj /CN=urn:dev:ace:3 -out "$T/c3.csr" 2>/dev/null
kdc device add urn:dev:ace:3 --cert >/dev/null
kdc cert sign "$T/c3.csr" --device urn:dev:ace:3 > "$T/c3.pem"
kdc ace grant urn:dev:ace:3 lock1 read >/dev/null
peer req lock1 read > "$T/req.cbor"
code=$(curl -s --cacert "$T/ca.pem" --cert "$T/c3.pem" --key "$T/c3.key" \
    -H 'Content-Type: application/ace+cbor' --data-binary @"$T/req.cbor" \
    -o "$T/https.resp" -w '%{http_code}' "https://127.0.0.1:$HTTPS_PORT/token")
[ "$code" = 201 ] || fail "HTTPS /token answered $code"
use "$T/https.resp" --rs "$RS" --rs-coaps "$RSS" --do read
[ $rc -eq 0 ] && grep -q '^authz-info: 2.01$' "$T/tok.out" && grep -q '^read: 2.05$' "$T/tok.out" ||
	fail "the HTTPS token at the RS: rc=$rc $(cat "$T/tok.out" "$T/tok.err")"
use "$T/https.resp" --rs-coaps "$RSS" --do open
[ $rc -ne 0 ] && grep -q '^open: 4.03$' "$T/tok.out" || fail "HTTPS token (read) opened: $(cat "$T/tok.out")"
pass "a token from HTTPS /token (client certificate): /authz-info 2.01, read 2.05, open 4.03"

# ---- a revoked client ----------------------------------------------------------------
kdc device revoke urn:dev:ace:rpk >/dev/null
rpk lock1 open "$T/c2.pem"
[ $rc -ne 0 ] && ! grep -q '^token: 2.01$' "$T/tok.out" || fail "a revoked client got a token: $(cat "$T/tok.out")"
pass "a revoked client gets no token"
grep -q "$KEY" "$T/rs.log" && fail "a PSK in the RS log"
grep -q "$(cat "$T/rsdev.hex")" "$T/rs.log" && fail "the RS's AS PSK in its log"
pass "no key in the RS's log"
