#!/usr/bin/env bash
# The ACE Authorization Server (issue 15) end to end against independent
# peers: coap-client-gnutls (CoAPS, PSK and RPK) and curl (HTTPS with a
# client certificate) ask for tokens; Debian's python3-cbor2 and
# python3-cryptography (tests/integration/ace_peer.py) build the requests
# and check every token: an Encrypt0 decrypted with the RS key, a Sign1
# verified with the AS public key, the claims and the PoP key. Refusals
# answer the RFC 9200 error and are audited; introspection and the TRL see
# a revocation at once.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
PEER="$(dirname "$0")/ace_peer.py"
peer() { "$PY" "$PEER" "$@"; }

kdc init >/dev/null
KEY='ace-client-key-01'				# coap-client -k takes text
printf '%s' "$KEY" | od -An -tx1 | tr -d ' \n' > "$T/c1.hex"
kdc device add urn:dev:ace:1 --psk-identity c1 --psk-file "$T/c1.hex" >/dev/null
# the RS authenticates to /introspect and /trl as a device named after it
RSKEY='ace-rs-key-000001'
printf '%s' "$RSKEY" | od -An -tx1 | tr -d ' \n' > "$T/rs.hex"
kdc device add lock1 --psk-identity rs1 --psk-file "$T/rs.hex" >/dev/null
# the key the RS shares with the AS (tokens are encrypted to it)
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/asrs.hex"
chmod 600 "$T/asrs.hex"
kdc ace rs add lock1 --key-file "$T/asrs.hex" >/dev/null
kdc ace grant urn:dev:ace:1 lock1 open close >/dev/null
kdc ace pubkey --pem > "$T/as.pub"
start_serve

# coap-client-gnutls 4.3.1 exits 0 whatever happens; -o writes the
# payload of a 2.xx answer only; -v 8 logs each PDU ("v:1 t:ACK c:4.00
# ...") with its payload in hex on the next line ("<<a1181e06>>").
client() {
	rm -f "$T/resp.cbor"
	timeout 20 coap-client-gnutls -v 8 -B 5 "$@" > "$T/client.out" 2> "$T/client.err" || true
}
got() { grep -qaE "t:(ACK|CON|NON) c:$1 " "$T/client.out"; }
# the RFC 9200 error code of the 4.xx answer coap-client logged
errcode() {
	grep -aA1 -E "t:(ACK|CON|NON) c:4\.[0-9]+ " "$T/client.out" |
	    sed -n 's/^<<\([0-9a-f]*\)>>$/\1/p' | head -1 > "$T/err.hex"
	peer error-hex "$(cat "$T/err.hex")"
}
token() { # AUD [SCOPE] [opts]: POST /token as c1
	peer req "$@" > "$T/req.cbor"
	client -m post -u c1 -k "$KEY" -t 19 -f "$T/req.cbor" -o "$T/resp.cbor" \
	    "coaps://127.0.0.1:$COAP_PORT/token"
}

# 1. symmetric PoP over CoAPS: an Encrypt0 token the RS key opens, the
# PoP key in cnf equal to the one in the token
token lock1 open
got '2\.01' || fail "token request not answered 2.01: $(grep ' c:' "$T/client.out" | head -3)"
read -r CTI KID < <(peer check-sym "$T/resp.cbor" "$(cat "$T/asrs.hex")" lock1 open)
[ -n "$CTI" ] || fail "no cti"
cp "$T/resp.cbor" "$T/tok1.cbor"
pass "CoAPS /token: Encrypt0 token, decrypted and checked by python3-cryptography (cti $CTI)"

# the token is recorded (no key), and audited
kdc ace tokens --json > "$T/tokens.json"
grep -q "$CTI" "$T/tokens.json" || fail "token $CTI not listed"
grep -qi "$KID" "$T/tokens.json" || fail "PoP kid not recorded"
has "ace.token" kdc audit list || fail "issuance not audited"
pass "token recorded (cti, kid) and audited"

# 2. refusals: RFC 9200 errors in CBOR, 4.00, never a token
token lock1 "open read"
got '4\.00' || fail "scope beyond the grant not refused 4.00"
[ "$(errcode)" = 6 ] || fail "not invalid_scope"
token nosuchrs open
got '4\.00' || fail "unknown audience not refused"
token lock1 open --sym-req-cnf
got '4\.00' || fail "symmetric req_cnf not refused"
[ "$(errcode)" = 7 ] || fail "symmetric req_cnf not unsupported_pop_key"
token lock1 open --profile 2
got '4\.00' || fail "coap_oscore profile not refused"
[ "$(errcode)" = 8 ] || fail "not incompatible_ace_profiles"
has "ace.token.*DENIED" kdc audit list || fail "refusals not audited"
pass "refusals: invalid_scope, unknown audience, unsupported_pop_key, incompatible_ace_profiles; audited"

# a body that is not application/ace+cbor: 4.15
peer req lock1 open > "$T/req.cbor"
client -m post -u c1 -k "$KEY" -t 50 -f "$T/req.cbor" "coaps://127.0.0.1:$COAP_PORT/token"
got '4\.15' || fail "a JSON-typed body not refused 4.15"

# ace_profile: null asks, the answer names coap_dtls (1)
token lock1 close --profile-null
got '2\.01' || fail "profile-null request refused"
"$PY" -c 'import cbor2,sys; m=cbor2.load(open(sys.argv[1],"rb")); sys.exit(0 if m.get(38)==1 else 1)' "$T/resp.cbor" ||
	fail "no ace_profile 1 in the answer"
pass "ace_profile null answered coap_dtls"

# 3. introspection by the RS (its own device credential): active, then,
# once the token is revoked, inactive at once; the TRL lists its hash
introspect() {
	peer introspect-req "$1" > "$T/ireq.cbor"
	client -m post -u rs1 -k "$RSKEY" -t 19 -f "$T/ireq.cbor" -o "$T/iresp.cbor" \
	    "coaps://127.0.0.1:$COAP_PORT/introspect"
	got '2\.01' || fail "introspection not answered 2.01: $(grep ' c:' "$T/client.out" | head -3)"
	peer introspection "$T/iresp.cbor"
}
introspect "$T/tok1.cbor" | grep -q '"10": true' || fail "fresh token not active"
# the client may not introspect (it is no RS): 4.03
peer introspect-req "$T/tok1.cbor" > "$T/ireq.cbor"
client -m post -u c1 -k "$KEY" -t 19 -f "$T/ireq.cbor" "coaps://127.0.0.1:$COAP_PORT/introspect"
got '4\.03' || fail "a client introspected"
# an RS observing its TRL (RFC 7641) hears of the revocation by itself
HASH1=$(peer hash "$T/tok1.cbor")
timeout 30 coap-client-gnutls -v 8 -B 25 -s 25 -m get -u rs1 -k "$RSKEY" \
    "coaps://127.0.0.1:$COAP_PORT/trl" > "$T/obs.out" 2>&1 &
OBS=$!
PIDS+=("$OBS")
for _ in $(seq 1 100); do
	grep -qaE 't:(ACK|CON|NON) c:2\.05 .*Observe' "$T/obs.out" && break
	sleep 0.1
done
grep -qaE 't:(ACK|CON|NON) c:2\.05 .*Observe' "$T/obs.out" || fail "TRL observation not registered: $(grep -a ' c:' "$T/obs.out" | head -3)"
grep -qa "$HASH1" "$T/obs.out" && fail "token on the TRL before its revocation"
kdc ace revoke-token "$CTI" >/dev/null
introspect "$T/tok1.cbor" | grep -q '"10": false' || fail "revoked token still active"
for _ in $(seq 1 100); do
	grep -qa "$HASH1" "$T/obs.out" && break
	sleep 0.1
done
grep -qa "$HASH1" "$T/obs.out" || fail "no TRL notification with the revoked token's hash: $(grep -a ' c:' "$T/obs.out" | tail -3)"
kill "$OBS" 2>/dev/null || true
pass "TRL observer notified of the revocation (Observe)"
client -m get -u rs1 -k "$RSKEY" -o "$T/trl.cbor" "coaps://127.0.0.1:$COAP_PORT/trl"
got '2\.05' || fail "TRL not answered 2.05"
peer trl "$T/trl.cbor" | grep -qx "$(peer hash "$T/tok1.cbor")" || fail "revoked token's hash not on the TRL"
client -m get -u c1 -k "$KEY" "coaps://127.0.0.1:$COAP_PORT/trl"
got '4\.03' || fail "a client (no RS) read a TRL"
pass "introspection active, revoke-token -> inactive at once, hash on the TRL; a client may not read it"

# revoking the grant ends every token of it
token lock1 close
got '2\.01' || fail "second token refused"
cp "$T/resp.cbor" "$T/tok2.cbor"
kdc ace revoke-grant urn:dev:ace:1 lock1 >/dev/null
introspect "$T/tok2.cbor" | grep -q '"10": false' || fail "token of a revoked grant still active"
token lock1 close
got '4\.00' || fail "token issued after the grant was revoked"
pass "revoke-grant: its tokens inactive, no new ones"

# 4. asymmetric PoP over CoAPS with RPK: the client's own key in req_cnf
# goes into a Sign1 token the AS public key verifies
openssl ecparam -genkey -name prime256v1 -noout -out "$T/rpk.pem" 2>/dev/null
openssl ec -in "$T/rpk.pem" -pubout -out "$T/rpk.pub" 2>/dev/null
kdc device add urn:dev:ace:2 --rpk "$T/rpk.pub" >/dev/null
kdc ace grant urn:dev:ace:2 lock1 open >/dev/null
peer req lock1 open --pub "$T/rpk.pub" > "$T/req.cbor"
client -m post -R "$T/ca.pem" -M "$T/rpk.pem" -t 19 -f "$T/req.cbor" -o "$T/resp.cbor" \
    "coaps://127.0.0.1:$COAP_PORT/token"
got '2\.01' || fail "RPK client's token request not 2.01: $(grep ' c:' "$T/client.out" | head -3)"
peer check-asym "$T/resp.cbor" "$T/as.pub" lock1 open "$T/rpk.pub" >/dev/null
pass "RPK client: Sign1 ES256 token verified by python3-cryptography, cnf = its key"
# another key than the one it authenticated with: no proof of possession
openssl ecparam -genkey -name prime256v1 -noout -out "$T/other.pem" 2>/dev/null
openssl ec -in "$T/other.pem" -pubout -out "$T/other.pub" 2>/dev/null
peer req lock1 open --pub "$T/other.pub" > "$T/req.cbor"
client -m post -R "$T/ca.pem" -M "$T/rpk.pem" -t 19 -f "$T/req.cbor" -o "$T/resp.cbor" \
    "coaps://127.0.0.1:$COAP_PORT/token"
got '4\.00' || fail "req_cnf of another key not refused"
pass "req_cnf not the client's own key: refused"

# 5. HTTPS: the same body, the client authenticated by a certificate of
# our CA
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/c3.key" -subj /CN=urn:dev:ace:3 -out "$T/c3.csr" 2>/dev/null
kdc device add urn:dev:ace:3 --cert >/dev/null
kdc cert sign "$T/c3.csr" --device urn:dev:ace:3 > "$T/c3.pem"
kdc ace grant urn:dev:ace:3 lock1 open >/dev/null
peer req lock1 open > "$T/req.cbor"
code=$(curl -s --cacert "$T/ca.pem" --cert "$T/c3.pem" --key "$T/c3.key" \
    -H 'Content-Type: application/ace+cbor' --data-binary @"$T/req.cbor" \
    -o "$T/resp.cbor" -w '%{http_code}' "https://127.0.0.1:$HTTPS_PORT/token")
[ "$code" = 201 ] || fail "HTTPS /token answered $code"
peer check-sym "$T/resp.cbor" "$(cat "$T/asrs.hex")" lock1 open >/dev/null
code=$(curl -s --cacert "$T/ca.pem" -H 'Content-Type: application/ace+cbor' \
    --data-binary @"$T/req.cbor" -o "$T/resp.cbor" -w '%{http_code}' \
    "https://127.0.0.1:$HTTPS_PORT/token")
[ "$code" = 401 ] || fail "HTTPS /token without a certificate answered $code"
[ "$(peer error "$T/resp.cbor")" = 2 ] || fail "not invalid_client"
pass "HTTPS /token with a client certificate: token checked; without one 401 invalid_client"

# 6. revoking the client (device revoke) refuses it
kdc device revoke urn:dev:ace:1 >/dev/null
token lock1 open
got '2\.01' && fail "a revoked client got a token"
pass "revoked client: no token"
