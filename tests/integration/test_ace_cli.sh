#!/usr/bin/env bash
# `iotkdc ace ...` (issue 15) as an operator uses it: every usage text
# truthful (each option it lists is accepted), the RS key never on the
# command line nor in a file others may read, rs add/list, a grant
# replacing an earlier one, ace tokens --json / --active around a token
# issued over CoAPS (coap-client-gnutls, requests built by ace_peer.py on
# python3-cbor2), revoke-token of an unknown cti, ace pubkey --pem read by
# openssl, and the refresh_token grant end to end with rotation.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
PEER="$(dirname "$0")/ace_peer.py"
peer() { "$PY" "$PEER" "$@"; }

kdc init >/dev/null

# 1. usage: `ace --help` names every subcommand; each subcommand's usage
# line, and each option it lists is accepted by the parser
has 'ace rs add\|list \| grant \| revoke-grant \| tokens \| revoke-token \| pubkey' \
    "$IOTKDC" ace --help || fail "ace --help does not list the subcommands"
for sub in "rs add" "rs list" "grant" "revoke-grant" "tokens" "revoke-token" "pubkey"; do
	# shellcheck disable=SC2086
	has "^iotkdc ace $sub " "$IOTKDC" ace $sub --help || fail "ace $sub --help: no usage line"
done
has '--key-file F \| --pubkey FILE\) \[--profile coap_dtls\]' "$IOTKDC" ace rs add --help ||
	fail "ace rs add usage changed: update this test"
has '\[--refresh\]' "$IOTKDC" ace grant --help || fail "ace grant usage lacks --refresh"
has '\[--active\] \[--json\]' "$IOTKDC" ace tokens --help || fail "ace tokens usage lacks --active/--json"
has '\[--cose \| --pem\]' "$IOTKDC" ace pubkey --help || fail "ace pubkey usage lacks --cose/--pem"
has '\[--json\]' "$IOTKDC" ace rs list --help || fail "ace rs list usage lacks --json"
pass "ace --help and every subcommand's usage"

# the RS key: --key HEX refused with a pointer to --key-file; a key file
# group or others may read refused
expect_fail '--key-file' kdc ace rs add lock1 --key 00112233445566778899aabbccddeeff
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/asrs.hex"
chmod 644 "$T/asrs.hex"
expect_fail 'mode 0644' kdc ace rs add lock1 --key-file "$T/asrs.hex"
has '^\[\]$' kdc ace rs list --json || fail "a refused rs add registered something"
chmod 600 "$T/asrs.hex"
expect_fail 'wants --key-file F, --pubkey FILE, or both' kdc ace rs add lock1
expect_fail 'coap_dtls' kdc ace rs add lock1 --key-file "$T/asrs.hex" --profile coap_oscore
pass "ace rs add: --key HEX and a 0644 key file refused, nothing registered"

# rs add with every option it lists: --key-file, --pubkey, --profile
openssl ecparam -genkey -name prime256v1 -noout -out "$T/rs2.pem" 2>/dev/null
openssl ec -in "$T/rs2.pem" -pubout -out "$T/rs2.pub" 2>/dev/null
kdc ace rs add lock1 --key-file "$T/asrs.hex" --profile coap_dtls >/dev/null
kdc ace rs add lock2 --key-file - --pubkey "$T/rs2.pub" < "$T/asrs.hex" >/dev/null
kdc ace rs add lock3 --pubkey "$T/rs2.pub" >/dev/null
expect_fail 'exists' kdc ace rs add lock1 --key-file "$T/asrs.hex"
kdc ace rs list --json > "$T/rs.json"
"$PY" - "$T/rs.json" <<'EOF' || fail "ace rs list --json: $(cat "$T/rs.json")"
import json, sys
v = {r["audience"]: r for r in json.load(open(sys.argv[1]))}
assert sorted(v) == ["lock1", "lock2", "lock3"], v
def kinds(a):
    return (v[a]["shared_key"], v[a]["public_key"], v[a]["profile"])
assert kinds("lock1") == (True, False, "coap_dtls"), v["lock1"]
assert kinds("lock2") == (True, True, "coap_dtls"), v["lock2"]
assert kinds("lock3") == (False, True, "coap_dtls"), v["lock3"]
EOF
has 'lock2' kdc ace rs list || fail "ace rs list (text) lacks lock2"
# no key in the store in clear
KEYHEX=$(cat "$T/asrs.hex")
if sqlite3 "$T/d/iotkdc.db" "SELECT hex(key_wrapped) FROM ace_rs" | grep -qi "$KEYHEX"; then
	fail "the RS key is stored in clear"
fi
pass "ace rs add (--key-file, stdin, --pubkey, --profile) and rs list --json"

# 2. grants; a second one replaces the first
KEY='ace-client-key-01'
printf '%s' "$KEY" | od -An -tx1 | tr -d ' \n' > "$T/c1.hex"
kdc device add urn:dev:ace:1 --psk-identity c1 --psk-file "$T/c1.hex" >/dev/null
expect_fail 'no such device|unknown device' kdc ace grant urn:dev:none lock1 open
expect_fail 'lock9' kdc ace grant urn:dev:ace:1 lock9 open
expect_fail 'scope' kdc ace grant urn:dev:ace:1 lock1 'op"en'
kdc ace grant urn:dev:ace:1 lock1 open >/dev/null
kdc ace grant urn:dev:ace:1 lock1 open close --refresh >/dev/null
[ "$(sqlite3 "$T/d/iotkdc.db" "SELECT count(*) FROM ace_grants WHERE revoked_at = 0")" = 1 ] ||
	fail "two live grants for one pair"
[ "$(sqlite3 "$T/d/iotkdc.db" "SELECT scopes || '/' || refresh FROM ace_grants WHERE revoked_at = 0")" = "open close/1" ] ||
	fail "the live grant is not the second one"
has 'ace.grant.*replaced the previous grant' kdc audit list || fail "replacement not audited"
pass "ace grant: refusals; a second grant replaces the first (audited)"

# 3. a token over CoAPS, then ace tokens
kdc ace pubkey --pem > "$T/as.pub"
start_serve
client() {
	rm -f "$T/resp.cbor"
	timeout 20 coap-client-gnutls -v 8 -B 5 "$@" > "$T/client.out" 2> "$T/client.err" || true
}
got() { grep -qaE "t:(ACK|CON|NON) c:$1 " "$T/client.out"; }
errcode() {
	grep -aA1 -E "t:(ACK|CON|NON) c:4\.[0-9]+ " "$T/client.out" |
	    sed -n 's/^<<\([0-9a-f]*\)>>$/\1/p' | head -1 > "$T/err.hex"
	peer error-hex "$(cat "$T/err.hex")"
}
post_token() { # REQ.cbor
	client -m post -u c1 -k "$KEY" -t 19 -f "$1" -o "$T/resp.cbor" \
	    "coaps://127.0.0.1:$COAP_PORT/token"
}
peer req lock1 open > "$T/req.cbor"
post_token "$T/req.cbor"
got '2\.01' || fail "token request not answered 2.01: $(grep ' c:' "$T/client.out" | head -3)"
read -r CTI1 KID1 < <(peer check-sym "$T/resp.cbor" "$KEYHEX" lock1 open)
R1=$(peer field "$T/resp.cbor" 37)
[ ${#R1} -eq 64 ] || fail "no 32-byte refresh token (field 37) though the grant has --refresh: $R1"
cp "$T/resp.cbor" "$T/tok1.cbor"

kdc ace tokens --json > "$T/tokens.json"
"$PY" - "$T/tokens.json" "$CTI1" "$KID1" <<'EOF' || fail "ace tokens --json: $(cat "$T/tokens.json")"
import json, sys
v = json.load(open(sys.argv[1]))
acc = [t for t in v if t["kind"] == "access"]
ref = [t for t in v if t["kind"] == "refresh"]
assert len(acc) == 1 and len(ref) == 1, v
a = acc[0]
assert a["cti"] == sys.argv[2], a
assert a["client"] == "urn:dev:ace:1" and a["audience"] == "lock1", a
assert a["scope"] == "open" and a["pop"] == "symmetric", a
assert a["pop_kid"].lower() == sys.argv[3].lower(), a
assert a["exp"] > a["iat"] and a["revoked_at"] is None, a
EOF
# no token and no PoP key in what the CLI shows
R1B64=$(/usr/bin/python3 -c 'import base64,sys; print(base64.b64encode(bytes.fromhex(sys.argv[1])).decode().rstrip("="))' "$R1")
if grep -qi -e "$R1" -e "$R1B64" "$T/tokens.json"; then fail "the refresh token is listed"; fi
pass "CoAPS token (refresh token too); ace tokens --json lists it (cti, kid, scope), no secret"

# 4. refresh_token grant over CoAPS: the same audience and PoP key, a new
# refresh token; the old one refused after rotation
peer req lock1 --refresh "$R1" > "$T/rreq.cbor"
post_token "$T/rreq.cbor"
got '2\.01' || fail "refresh request not answered 2.01: $(grep ' c:' "$T/client.out" | head -3)"
read -r CTI2 KID2 < <(peer check-sym "$T/resp.cbor" "$KEYHEX" lock1 "open close")
[ "$KID2" = "$KID1" ] || fail "the refreshed token has another PoP key ($KID2, was $KID1)"
[ "$CTI2" != "$CTI1" ] || fail "the refreshed token has the old cti"
R2=$(peer field "$T/resp.cbor" 37)
[ ${#R2} -eq 64 ] && [ "$R2" != "$R1" ] || fail "no new refresh token after rotation"
post_token "$T/rreq.cbor"
got '4\.00' || fail "a used refresh token was taken again: $(grep ' c:' "$T/client.out" | head -3)"
[ "$(errcode)" = 3 ] || fail "a used refresh token: not invalid_grant"
peer req lock1 --refresh "$R2" > "$T/rreq2.cbor"
post_token "$T/rreq2.cbor"
got '2\.01' || fail "the new refresh token refused"
pass "refresh_token grant over CoAPS: same aud and kid, rotated; the old refresh token invalid_grant"

# 5. revoke-token: --active hides it; an unknown cti is a clear error
kdc ace tokens --active --json > "$T/active.json"
grep -q "$CTI1" "$T/active.json" || fail "token 1 not active before revocation"
kdc ace revoke-token "$CTI1" >/dev/null
kdc ace tokens --active --json > "$T/active.json"
grep -q "$CTI1" "$T/active.json" && fail "ace tokens --active lists a revoked token"
grep -q "$CTI2" "$T/active.json" || fail "ace tokens --active hides an active token"
has "$CTI1" kdc ace tokens --json || fail "ace tokens (all) lost the revoked token"
has "$CTI1" kdc ace tokens || fail "ace tokens (text) lacks the token"
expect_fail 'no such token' kdc ace revoke-token 00112233445566778899aabbccddeeff
expect_fail 'no such token|32 hex' kdc ace revoke-token xyz
expect_fail 'revoked' kdc ace revoke-token "$CTI1"
pass "revoke-token: hidden from --active; unknown cti and a second revocation refused"

# 6. ace pubkey: PEM openssl reads (P-256), COSE hex; the same key
openssl pkey -pubin -in "$T/as.pub" -noout -text > "$T/pub.txt" 2>&1 || fail "openssl cannot read ace pubkey --pem"
grep -q 'prime256v1\|P-256' "$T/pub.txt" || fail "the AS key is not P-256"
kdc ace pubkey > "$T/as2.pub"
cmp -s "$T/as.pub" "$T/as2.pub" || fail "ace pubkey (default) is not the PEM"
COSE=$(kdc ace pubkey --cose)
X=$(openssl pkey -pubin -in "$T/as.pub" -outform DER 2>/dev/null | tail -c 64 | head -c 32 | od -An -tx1 | tr -d ' \n')
echo "$COSE" | grep -qi "$X" || fail "ace pubkey --cose does not hold the PEM key's x"
expect_fail 'not both' kdc ace pubkey --cose --pem
expect_fail "belong to 'ace pubkey'" kdc ace tokens --pem
expect_fail "belongs to 'ace grant'" kdc ace tokens --refresh
pass "ace pubkey --pem read by openssl (P-256), --cose the same key"
