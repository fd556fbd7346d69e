#!/usr/bin/env bash
# The KDC's CoAPS endpoint against an independent client, libcoap's
# coap-client-gnutls: PSK, RPK and X.509 manufacturer credentials reach
# the Bootstrap Server; a wrong key fails the handshake; another device's
# ep gets 4.03; a client that answers no Bootstrap request leaves an
# audited failed bootstrap and nothing live.
. "$(dirname "$0")/lib.sh"

kdc init >/dev/null
set_conf lwm2m bootstrap_timeout 3
KEY='kdc-test-key-0123'			# coap-client -k takes the key as text
KEY_HEX=$(printf '%s' "$KEY" | od -An -tx1 | tr -d ' \n')
# the PSKs from a file and from standard input (--psk-file), not argv
printf '%s\n' "$KEY_HEX" > "$T/cc1.hex"
kdc device add urn:dev:cc:1 --psk-identity cc1 --psk-file "$T/cc1.hex" >/dev/null
printf 'other-key-0123456' | od -An -tx1 | tr -d ' \n' |
	kdc device add urn:dev:cc:2 --psk-identity cc2 --psk-file - >/dev/null
start_serve

# coap-client-gnutls 4.3.1 exits 0 whatever happens and logs to stdout; at
# -v 7 each PDU it receives is logged, e.g. "v:1 t:ACK c:2.04 i:... [ ]".
client() { timeout 20 coap-client-gnutls -v 7 -B 4 "$@" > "$T/client.out" 2> "$T/client.err" || true; }
got() { grep -qE "t:(ACK|CON|NON) c:$1 " "$T/client.out"; }

client -m post -u cc1 -k "$KEY" "coaps://127.0.0.1:$COAP_PORT/bs?ep=urn:dev:cc:1"
got '2\.04' || fail "bs with PSK not answered 2.04: $(grep ' c:' "$T/client.out" | head -3)"
pass "coap-client-gnutls PSK: POST /bs answered 2.04"

# The client never answers Discover: the server times out, audits, and
# leaves nothing live (no operational credential issued).
for _ in $(seq 1 50); do
	kdc audit list > "$T/audit.txt"
	grep -q 'lwm2m.bootstrap.*urn:dev:cc:1.*\(TIMEOUT\|CLOSED\)' "$T/audit.txt" && break
	sleep 0.2
done
grep -q 'lwm2m.bootstrap.*urn:dev:cc:1.*\(TIMEOUT\|CLOSED\)' "$T/audit.txt" || fail "no failed-bootstrap audit: $(tail -5 "$T/audit.txt")"
kdc cred list --device urn:dev:cc:1 --json > "$T/creds.json"
if grep -q '"kind": "operational"' "$T/creds.json" && grep -B3 -A6 '"kind": "operational"' "$T/creds.json" | grep -q '"status": "issued"'; then
	fail "an operational credential is live after a failed bootstrap"
fi
pass "silent client: failed bootstrap audited, nothing live"

client -m post -u cc1 -k "wrong-key-abcdefg" "coaps://127.0.0.1:$COAP_PORT/bs?ep=urn:dev:cc:1"
got '[0-9]\.[0-9]+' && fail "wrong PSK got a response"
pass "wrong PSK: handshake fails, no response"

client -m post -u cc1 -k "$KEY" "coaps://127.0.0.1:$COAP_PORT/bs?ep=urn:dev:cc:2"
got '4\.03' || fail "other ep not refused 4.03: $(grep ' c:' "$T/client.out" | head -3)"
has 'DENIED' kdc audit list || fail "ep mismatch not audited"
pass "valid PSK, another device's ep: 4.03 and audited"

# RPK (RFC 7250): a registered raw public key.
openssl ecparam -genkey -name prime256v1 -noout -out "$T/rpk.pem" 2>/dev/null
openssl ec -in "$T/rpk.pem" -pubout -out "$T/rpk.pub" 2>/dev/null
kdc device add urn:dev:cc:rpk --rpk "$T/rpk.pub" >/dev/null
client -m post -R "$T/ca.pem" -M "$T/rpk.pem" "coaps://127.0.0.1:$COAP_PORT/bs?ep=urn:dev:cc:rpk"
got '2\.04' || fail "RPK bs not answered 2.04"
pass "coap-client-gnutls -M (RPK) authenticates"

# X.509 under a manufacturer CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=acme-ca -days 30 \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
	-keyout "$T/mca.key" -out "$T/mca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
	-keyout "$T/dev.key" -out "$T/dev.csr" 2>/dev/null
printf 'subjectAltName=URI:urn:dev:cc:x509\nextendedKeyUsage=clientAuth\n' > "$T/ext"
openssl x509 -req -in "$T/dev.csr" -CA "$T/mca.pem" -CAkey "$T/mca.key" -CAcreateserial -days 5 \
	-extfile "$T/ext" -out "$T/dev.pem" 2>/dev/null
kdc mfg-ca add acme "$T/mca.pem" >/dev/null
kdc device add urn:dev:cc:x509 --cert >/dev/null
client -m post -R "$T/ca.pem" -c "$T/dev.pem" -j "$T/dev.key" "coaps://127.0.0.1:$COAP_PORT/bs?ep=urn:dev:cc:x509"
got '2\.04' || fail "X.509 bs not answered 2.04"
pass "coap-client-gnutls -c/-j (certificate) authenticates"
