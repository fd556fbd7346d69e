#!/usr/bin/env bash
# The OCF device after onboarding (issue 16 §2/§3), from state files that
# ocfstate.py writes independently of the device library:
# - device A (RFNOP; its ACE: B may read and update /a/light; creds for
#   B and C) serves; B and C are onboarded devices whose deviceuuids
#   hold 0x00 bytes (the raw 16-byte PSK identity must pass whole);
#   `iotkdc-device ocf-get --state B` reads A's light over DTLS-PSK with
#   the pairwise key (2.05 {"value": false}), ocf-post sets it (2.04),
#   C (a key but no ACE) gets 4.01 (exit 1), a wrong key fails the
#   handshake (exit 2);
# - coap-client-gnutls as A's owner (a printable uuid and PSK: libcoap
#   4.3.1 takes both as text, docs/traps.md): implicit access to doxm;
#   RFNOP -> RFPRO; a trust anchor (an RSA CA, over 1 KiB of CBOR) posted
#   with Block1 (-b 512) -> 2.04 and read back whole through Block2; an
#   identity certificate whose CN is not uuid:<A> -> 4.00; back to RFNOP,
#   where a cred POST and DELETE ?credid= are 4.03; GET /a/light as the
#   owner without an ACE -> 4.01;
# - a device A2 with an identity certificate (CN uuid:A2, its own key) and
#   a trust anchor: coap-client with B's certificate under that anchor
#   (CN uuid:B) reads /a/light over ECDHE-ECDSA (the ACE names B); a
#   client certificate under another CA fails the handshake, one under
#   the anchor without a uuid CN is refused; PSK sessions go on.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${IOTKDC_DEVICE:?iotkdc-device is not built}"
PY=/usr/bin/python3
ST="$(dirname "$0")/ocfstate.py"
cd "$T"

A=aaaaaaaa-0000-4000-8000-0000000000aa
B=bbbb0000-0000-4000-8000-00000000bbbb
C=cccc0000-0000-4000-8000-00000000cccc
OBT=6f62742d-7575-6964-2d30-313233343536	# "obt-uuid-0123456"
OWNERK=$(printf 'obt-owner-psk-01' | od -An -tx1 | tr -d ' \n')
KAB=000102030405060708090a0b0c0d0e0f	# a 0x00 byte in the key too
KAC=f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff
"$PY" "$ST" "$T/a.st" $A $OBT 3 $OBT:$OWNERK $B:$KAB $C:$KAC -- $B:/a/light:6
"$PY" "$ST" "$T/b.st" $B $OBT 3 $OBT:$OWNERK $A:$KAB
"$PY" "$ST" "$T/c.st" $C $OBT 3 $OBT:$OWNERK $A:$KAC
"$PY" "$ST" "$T/bad.st" $B $OBT 3 $OBT:$OWNERK $A:$KAC	# B with C's key

P=$(free_udp_port)
Q=$(free_udp_port "$P")
"$IOTKDC_DEVICE" ocf-server --state "$T/a.st" --pin-file "$T/pin" \
    --addr 127.0.0.1 --port "$P" --sport "$Q" -vv > "$T/a.out" 2> "$T/a.log" &
PIDS+=("$!")
wait_line "$T/a.out" "^ocf-server ready uuid=$A coap=$P coaps=$Q\$"

# ocfget NAME EXPECTED_EXIT ARGS...: iotkdc-device, output in $T/NAME
ocfget() {
	local name=$1 want=$2 rc=0; shift 2
	timeout 30 "$IOTKDC_DEVICE" "$@" > "$T/$name" 2> "$T/$name.err" || rc=$?
	[ "$rc" -eq "$want" ] || fail "$name: exit $rc, want $want: $(cat "$T/$name" "$T/$name.err")"
}
ocfget g1 0 ocf-get --state "$T/b.st" --peer "127.0.0.1:$Q" --peer-uuid $A --path /a/light
[ "$(cat "$T/g1")" = '2.05 {"value": false}' ] || fail "B reads A's light: $(cat "$T/g1")"
wait_line "$T/a.log" "session from $B"
ocfget p1 0 ocf-post --state "$T/b.st" --peer "127.0.0.1:$Q" --peer-uuid $A --path /a/light --value true
[ "$(cat "$T/p1")" = '2.04 ' ] || fail "B sets A's light: $(cat "$T/p1")"
ocfget g2 0 ocf-get --state "$T/b.st" --peer "127.0.0.1:$Q" --peer-uuid $A --path /a/light
[ "$(cat "$T/g2")" = '2.05 {"value": true}' ] || fail "light after the POST: $(cat "$T/g2")"
pass "B (uuid with 0x00 bytes) reads and sets A's /a/light with the pairwise PSK"
ocfget g3 1 ocf-get --state "$T/c.st" --peer "127.0.0.1:$Q" --peer-uuid $A --path /a/light
[ "$(cat "$T/g3")" = '4.01 ' ] || fail "C without an ACE: $(cat "$T/g3")"
ocfget g4 2 ocf-get --state "$T/bad.st" --peer "127.0.0.1:$Q" --peer-uuid $A --path /a/light
grep -qx 'handshake refused' "$T/g4" || fail "wrong key: $(cat "$T/g4")"
ocfget g5 1 ocf-get --state "$T/b.st" --peer "127.0.0.1:$Q" --peer-uuid $C --path /a/light
grep -q 'Not found\|not found' "$T/g5.err" || fail "no cred for the peer: $(cat "$T/g5.err")"
pass "C (a key, no ACE) 4.01; a wrong pairwise key fails the handshake; no cred, no session"

# ---- coap-client as A's owner ----
own() { timeout 30 coap-client-gnutls -B 5 -v 7 -u obt-uuid-0123456 -k obt-owner-psk-01 "$@" > "$T/own.log" 2>&1 || true; }
code() { grep -m1 -oE 't:ACK c:[0-9]\.[0-9]{2}' "$T/own.log" | sed 's/.*c://'; }
cb() { "$PY" -c "import cbor2,sys; sys.stdout.buffer.write(cbor2.dumps($1))" > "$T/$2"; }
own -m get -o "$T/doxm" "coaps://127.0.0.1:$Q/oic/sec/doxm"
[ "$("$PY" -c "import cbor2; x=cbor2.load(open('$T/doxm','rb')); print(x['deviceuuid'], x['owned'])")" = "$A True" ] ||
    fail "owner GET doxm: $(code)"
cb "{'dos': {'s': 2}}" rfpro.cbor
own -m post -t 10000 -f "$T/rfpro.cbor" "coaps://127.0.0.1:$Q/oic/sec/pstat"
[ "$(code)" = 2.04 ] || fail "owner RFNOP -> RFPRO: $(code)"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/ca.key" -out "$T/ca.pem" \
    -days 2 -subj "/CN=a trust anchor with a long enough name to need blocks" 2>/dev/null
"$PY" - "$T/ca.pem" "$T/ta.cbor" <<'PYEOF'
import cbor2, sys
pem = open(sys.argv[1]).read()
b = cbor2.dumps({'creds': [{'credtype': 8, 'subjectuuid': '*',
    'credusage': 'oic.sec.cred.trustca',
    'publicdata': {'data': pem, 'encoding': 'oic.sec.encoding.pem'}}]})
assert len(b) > 1024, len(b)
open(sys.argv[2], 'wb').write(b)
PYEOF
own -m post -b 512 -t 10000 -f "$T/ta.cbor" "coaps://127.0.0.1:$Q/oic/sec/cred"
grep -qE 't:CON c:POST .*Block1:0/M/512' "$T/own.log" || fail "coap-client did not send Block1"
grep -qE 't:ACK c:2\.31 .*Block1:0/M/512' "$T/own.log" || fail "no 2.31 Continue for block 0: $(grep -E "t:" "$T/own.log" | head -6)"
grep -qE 't:ACK c:2\.04 .*Block1:[0-9]+/_/512' "$T/own.log" || fail "trust anchor over Block1: $(grep t:ACK "$T/own.log" | tail -2)"
own -m get -o "$T/creds" "coaps://127.0.0.1:$Q/oic/sec/cred"
grep -qE 't:ACK c:2\.05 .*Block2:0/M/1024' "$T/own.log" || fail "GET cred not in Block2: $(grep t:ACK "$T/own.log" | head -2)"
"$PY" - "$T/creds" "$T/ca.pem" "$OWNERK" <<'PYEOF' || fail "GET cred"
import cbor2, sys
x = cbor2.load(open(sys.argv[1], 'rb'))
pem = open(sys.argv[2]).read()
assert [c['publicdata']['data'] for c in x['creds'] if c['credtype'] == 8] == [pem], x
# PSKs are never read back
assert all(len(c.get('privatedata', {}).get('data', b'')) == 0 for c in x['creds']), x
assert bytes.fromhex(sys.argv[3]) not in open(sys.argv[1], 'rb').read()
PYEOF
pass "owner: RFPRO; a $(stat -c %s "$T/ta.cbor")-byte trust anchor in Block1; GET cred through Block2, PSKs not shown"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/id.key" \
    -out "$T/id.csr" -subj "/CN=uuid:$B" 2>/dev/null
openssl x509 -req -in "$T/id.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
    -out "$T/id.pem" -days 2 2>/dev/null
"$PY" -c "
import cbor2, sys
pem = open('$T/id.pem').read()
sys.stdout.buffer.write(cbor2.dumps({'creds': [{'credtype': 8, 'subjectuuid': '*',
    'credusage': 'oic.sec.cred.cert', 'publicdata': {'data': pem, 'encoding': 'oic.sec.encoding.pem'}}]}))" > "$T/id.cbor"
own -m post -b 512 -t 10000 -f "$T/id.cbor" "coaps://127.0.0.1:$Q/oic/sec/cred"
grep -qE 't:ACK c:4\.00' "$T/own.log" || fail "a cert for uuid:$B and another key: $(grep t:ACK "$T/own.log" | tail -1)"
wait_line "$T/a.log" "certificate CN is not uuid:$A: refused"
pass "an identity certificate for another uuid and key: 4.00"
cb "{'dos': {'s': 3}}" rfnop.cbor
own -m post -t 10000 -f "$T/rfnop.cbor" "coaps://127.0.0.1:$Q/oic/sec/pstat"
[ "$(code)" = 2.04 ] || fail "owner RFPRO -> RFNOP: $(code)"
cb "{'creds': [{'credtype': 1, 'subjectuuid': '$C', 'privatedata': {'data': bytes(16), 'encoding': 'oic.sec.encoding.raw'}}]}" psk.cbor
own -m post -t 10000 -f "$T/psk.cbor" "coaps://127.0.0.1:$Q/oic/sec/cred"
[ "$(code)" = 4.03 ] || fail "cred POST in RFNOP: $(code)"
own -m delete "coaps://127.0.0.1:$Q/oic/sec/cred?credid=2"
[ "$(code)" = 4.03 ] || fail "cred DELETE in RFNOP: $(code)"
ocfget g6 0 ocf-get --state "$T/b.st" --peer "127.0.0.1:$Q" --peer-uuid $A --path /a/light
own -m get "coaps://127.0.0.1:$Q/a/light"
[ "$(code)" = 4.01 ] || fail "owner GET /a/light without an ACE: $(code)"
pass "RFNOP: cred POST and DELETE 4.03 (B's key still works); the owner has no implicit /a/light"

# ---- identity certificates (ECDHE-ECDSA owner/pairwise sessions) ----
A2=aaaa2222-0000-4000-8000-0000000000a2
ec() { # NAME CN CA: a P-256 key and a certificate under CA (self: "")
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T/$1.key" -out "$T/$1.csr" -subj "/CN=$2" 2>/dev/null
	if [ -n "$3" ]; then
		openssl x509 -req -in "$T/$1.csr" -CA "$T/$3.pem" -CAkey "$T/$3.key" \
		    -CAcreateserial -out "$T/$1.pem" -days 2 2>/dev/null
	else
		openssl x509 -req -in "$T/$1.csr" -signkey "$T/$1.key" -out "$T/$1.pem" \
		    -days 2 -extfile <(printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,digitalSignature\n') 2>/dev/null
	fi
}
ec idca "kdc id CA" ""
ec rogue "rogue CA" ""
ec a2id "uuid:$A2" idca
ec bid "uuid:$B" idca
ec bro "uuid:$B" rogue
ec bnocn "device B" idca
openssl pkcs8 -topk8 -nocrypt -in "$T/a2id.key" -outform DER -out "$T/a2id.der"
"$PY" "$ST" "$T/a2.st" $A2 $OBT 3 $OBT:$OWNERK $B:$KAB "trustca=$T/idca.pem" \
    "cert=$T/a2id.pem" "key=$T/a2id.der" -- $B:/a/light:2
"$PY" "$ST" "$T/b2.st" $B $OBT 3 $OBT:$OWNERK $A2:$KAB
P3=$(free_udp_port "$P" "$Q")
Q3=$(free_udp_port "$P" "$Q" "$P3")
"$IOTKDC_DEVICE" ocf-server --state "$T/a2.st" --pin-file "$T/pin2" \
    --addr 127.0.0.1 --port "$P3" --sport "$Q3" -vv > "$T/a2.out" 2> "$T/a2.log" &
PIDS+=("$!")
wait_line "$T/a2.out" "^ocf-server ready uuid=$A2 coap=$P3 coaps=$Q3\$"
timeout 30 coap-client-gnutls -B 5 -v 7 -m get -c "$T/bid.pem" -j "$T/bid.key" \
    -C "$T/idca.pem" -o "$T/light2" "coaps://127.0.0.1:$Q3/a/light" > "$T/cc.log" 2>&1 || true
grep -qE 't:ACK c:2\.05' "$T/cc.log" || fail "B's certificate session: $(grep -E 't:ACK|WARN|ERR|CRIT' "$T/cc.log" | head -3)"
[ "$("$PY" -c "import cbor2; print(cbor2.load(open('$T/light2','rb')))")" = "{'value': False}" ] ||
    fail "light over the certificate session"
wait_line "$T/a2.log" "session from $B"
timeout 30 coap-client-gnutls -B 5 -v 7 -m get -c "$T/bro.pem" -j "$T/bro.key" \
    -C "$T/idca.pem" "coaps://127.0.0.1:$Q3/a/light" > "$T/cc.log" 2>&1 || true
grep -q 'c:2\.05' "$T/cc.log" && fail "a client certificate under another CA was served"
wait_line "$T/a2.log" "DTLS handshake failed \(owner/pairwise\)"
# under the trust anchor but with no uuid CN: the handshake ends, the
# session is refused before any request
timeout 30 coap-client-gnutls -B 5 -v 7 -m get -c "$T/bnocn.pem" -j "$T/bnocn.key" \
    -C "$T/idca.pem" "coaps://127.0.0.1:$Q3/a/light" > "$T/cc.log" 2>&1 || true
grep -q 'c:2\.05' "$T/cc.log" && fail "a client certificate without a uuid CN was served"
wait_line "$T/a2.log" "certificate session refused"
ocfget g7 0 ocf-get --state "$T/b2.st" --peer "127.0.0.1:$Q3" --peer-uuid $A2 --path /a/light
pass "identity certificates: B (CN uuid:B under the trust anchor) reads /a/light over ECDHE-ECDSA; another CA's or a CN without uuid refused; PSK still works"
