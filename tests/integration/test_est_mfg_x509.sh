#!/usr/bin/env bash
# EST /sen over a manufacturer X.509 certificate (a device registered
# --cert under a manufacturer CA): a CSR carrying the certificate's own key
# is refused 4.03 and audited DENIED (the key is not in the device's row:
# the handshake gives it, struct kdc_principal.spki); a fresh key is
# certified 2.04. Independent client: coap-client-gnutls; PKI: openssl.
. "$(dirname "$0")/lib.sh"

kdc init >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=acme-ca -days 30 \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
	-keyout "$T/mca.key" -out "$T/mca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
	-keyout "$T/dev.key" -out "$T/dev.csr" 2>/dev/null
printf 'subjectAltName=URI:urn:dev:est:x509\nextendedKeyUsage=clientAuth\n' > "$T/ext"
openssl x509 -req -in "$T/dev.csr" -CA "$T/mca.pem" -CAkey "$T/mca.key" -CAcreateserial -days 5 \
	-extfile "$T/ext" -out "$T/dev.pem" 2>/dev/null
kdc mfg-ca add acme "$T/mca.pem" >/dev/null
kdc device add urn:dev:est:x509 --cert >/dev/null
start_serve
EST="coaps://127.0.0.1:$COAP_PORT/.well-known/est"

# coap-client-gnutls 4.3.1 exits 0 whatever happens and logs to stdout; at
# -v 7 each PDU it receives is logged, e.g. "v:1 t:ACK c:2.04 i:... [ ]".
client() {
	rm -f "$T/out.der"
	timeout 20 coap-client-gnutls -v 7 -B 5 -R "$T/ca.pem" -c "$T/dev.pem" -j "$T/dev.key" \
		"$@" > "$T/client.out" 2> "$T/client.err" || true
}
got() { grep -qE "t:(ACK|CON|NON) c:$1 " "$T/client.out"; }
codes() { { grep -oE ' c:[0-9]\.[0-9]+ ' "$T/client.out" || true; } | tr -d ' ' | tr '\n' ' '; }
audited() {	# audited PATTERN [ACTION]: an ACTION (est.enroll: refusals) record matching it
	kdc audit list > "$T/audit.txt"
	grep -E "${2:-est.enroll}" "$T/audit.txt" > "$T/est_audit.txt" || true
	grep -qiE -- "$1" "$T/est_audit.txt"
}

# the certificate's own key in the CSR
openssl req -new -key "$T/dev.key" -subj /CN=x -outform DER -out "$T/same.der" 2>/dev/null
client -m post -t 286 -A 287 -f "$T/same.der" -o "$T/out.der" "$EST/sen"
got '4\.03' || fail "CSR with the manufacturer certificate's key not 4.03: $(codes) $(tail -3 "$T/serve.log")"
audited 'urn:dev:est:x509.*DENIED.*manufacturer key' ||
	fail "manufacturer-certificate-key refusal not audited: $(cat "$T/est_audit.txt")"
kdc cred list --device urn:dev:est:x509 --json > "$T/creds.json"
grep -q '"operational"' "$T/creds.json" && fail "a credential was issued: $(cat "$T/creds.json")"
pass "X.509 manufacturer certificate's key in the CSR: 4.03, audited DENIED, nothing issued"

# a fresh key over the same session kind
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
	-keyout "$T/new.key" -outform DER -out "$T/new.der" 2>/dev/null
client -m post -t 286 -A 287 -f "$T/new.der" -o "$T/out.der" "$EST/sen"
got '2\.04' || fail "sen with a fresh key not 2.04: $(codes) $(tail -3 "$T/serve.log")"
openssl x509 -inform DER -in "$T/out.der" -out "$T/cert.pem" 2>/dev/null || fail "sen 287: not a DER certificate"
openssl verify -CAfile "$T/ca.pem" "$T/cert.pem" >/dev/null || fail "certificate does not verify under the CA"
[ "$(openssl x509 -in "$T/cert.pem" -noout -pubkey)" = "$(openssl pkey -in "$T/new.key" -pubout)" ] ||
	fail "certificate is not for the CSR's key"
openssl x509 -in "$T/cert.pem" -noout -ext subjectAltName | grep -q 'URI:urn:dev:est:x509' ||
	fail "certificate does not name the device"
audited 'urn:dev:est:x509.*OK.*est=sen by cred=' cert.issue || fail "sen success not audited"
pass "X.509 manufacturer certificate, a fresh key in the CSR: 2.04, verifies under 'ca export'"

kdc audit verify >/dev/null || fail "audit chain does not verify"
pass "audit chain verifies"
