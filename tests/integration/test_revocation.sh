#!/usr/bin/env bash
# Revocation end to end: certificates signed by `iotkdc cert sign` (CSRs
# from openssl), the CRL fetched from the running daemon over HTTPS, and
# OpenSSL's `verify -crl_check` as the independent relying party: it
# accepts the certificate before `cred revoke` / `device revoke` and
# refuses it ("certificate revoked") after, without a restart. The expiry
# sweep runs at start and every [kdc] sweep_seconds.
. "$(dirname "$0")/lib.sh"

kdc init >/dev/null
kdc device add urn:dev:ops:c1 --cert >/dev/null
kdc device add urn:dev:ops:c2 --cert >/dev/null
for n in 1 2; do
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj /CN=whatever -keyout "$T/d$n.key" -out "$T/d$n.csr" 2>/dev/null
	kdc cert sign "$T/d$n.csr" --device urn:dev:ops:c$n --days 1 > "$T/d$n.pem"
done

# The credential id of a certificate, from `cred list --json`, by serial.
cred_of() {
	local serial
	serial=$(openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr A-F a-f)
	kdc cred list --json > "$T/creds.json"
	# jansson writes one key per line: remember the id, print it at
	# the matching serial
	awk -v want="$serial" '
		/"id":/ { id = $2; sub(/,$/, "", id) }
		/"serial":/ { s = $2; gsub(/[",]/, "", s); if (tolower(s) == want) { print id; found = 1; exit } }
		END { if (!found) exit 1 }' "$T/creds.json" || fail "no credential with serial $serial"
}

# Fetch the CRL over HTTPS into $T/$1.der and $T/$1.pem.
fetch_crl() {
	curl -sf --cacert "$T/ca.pem" -D "$T/$1.hdr" \
		"https://127.0.0.1:$HTTPS_PORT/crl" -o "$T/$1.der" || fail "GET /crl"
	grep -qi '^content-type: application/pkix-crl' "$T/$1.hdr" ||
		fail "content type: $(grep -i content-type "$T/$1.hdr")"
	openssl crl -inform DER -in "$T/$1.der" -out "$T/$1.pem" 2>/dev/null ||
		fail "openssl cannot parse the CRL"
	openssl crl -in "$T/$1.pem" -CAfile "$T/ca.pem" -noout 2> "$T/$1.v"
	grep -qx 'verify OK' "$T/$1.v" || fail "CRL signature: $(cat "$T/$1.v")"
}

# verify_ok CERT CRL / verify_revoked CERT CRL
verify_ok() {
	openssl verify -crl_check -CAfile "$T/ca.pem" -CRLfile "$T/$2.pem" \
		"$T/$1" > "$T/v.out" 2>&1 || fail "verify $1 with $2: $(cat "$T/v.out")"
}
verify_revoked() {
	local rc=0
	openssl verify -crl_check -CAfile "$T/ca.pem" -CRLfile "$T/$2.pem" \
		"$T/$1" > "$T/v.out" 2>&1 || rc=$?
	[ $rc -ne 0 ] || fail "$1 still verifies with $2"
	grep -q 'certificate revoked' "$T/v.out" || fail "verify $1: $(cat "$T/v.out")"
}

set_conf kdc sweep_seconds 1
start_serve
fetch_crl crl0
openssl crl -in "$T/crl0.pem" -noout -text > "$T/crl0.txt"
grep -q 'No Revoked Certificates' "$T/crl0.txt" || fail "fresh CRL not empty"
grep -q 'X509v3 CRL Number' "$T/crl0.txt" || fail "no CRL number"
grep -q 'Authority Key Identifier' "$T/crl0.txt" || fail "no AKI"
verify_ok d1.pem crl0
verify_ok d2.pem crl0
pass "GET /crl (application/pkix-crl, signed by the CA): openssl verify -crl_check accepts both certificates"

id1=$(cred_of "$T/d1.pem")
kdc cred revoke "$id1" >/dev/null
fetch_crl crl1
verify_revoked d1.pem crl1
verify_ok d2.pem crl1
expect_fail 'REVOKED|already revoked|revoked' kdc cred revoke "$id1"
pass "cred revoke $id1: the daemon's next CRL makes openssl verify -crl_check fail (certificate revoked), the other still verifies"

kdc device revoke urn:dev:ops:c2 >/dev/null
fetch_crl crl2
verify_revoked d1.pem crl2
verify_revoked d2.pem crl2
[ "$(openssl crl -in "$T/crl2.pem" -noout -text | grep -c 'Serial Number:')" = 2 ] ||
	fail "want 2 entries"
n1=$(openssl crl -in "$T/crl1.pem" -noout -crlnumber | cut -d= -f2)
n2=$(openssl crl -in "$T/crl2.pem" -noout -crlnumber | cut -d= -f2)
h1=${n1#0x}; h2=${n2#0x}
[ "$((16#$h2 > 16#$h1))" = 1 ] || fail "CRL number did not increase: $n1 -> $n2"
pass "device revoke: its certificate joins the CRL; cRLNumber increases ($n1 -> $n2)"

# The same CRL over CoAPS (EST-coaps path /.well-known/est/crl), fetched
# by coap-client-gnutls with a device's manufacturer PSK.
KEY='crl-reader-key-01'
kdc device add urn:dev:ops:reader --psk-identity reader \
	--psk "$(printf '%s' "$KEY" | od -An -tx1 | tr -d ' \n')" >/dev/null
timeout 20 coap-client-gnutls -v 7 -B 4 -u reader -k "$KEY" -o "$T/coap-crl.der" \
	"coaps://127.0.0.1:$COAP_PORT/.well-known/est/crl" > "$T/cc.out" 2>&1 || true
grep -qE 't:ACK c:2\.05' "$T/cc.out" || fail "GET /.well-known/est/crl not 2.05"
openssl crl -inform DER -in "$T/coap-crl.der" -CAfile "$T/ca.pem" -noout 2>&1 | grep -q 'verify OK' ||
	fail "the CoAPS CRL does not verify against the CA"
diff <(openssl crl -inform DER -in "$T/coap-crl.der" -noout -text | grep 'Serial Number:' | sort) \
	<(openssl crl -in "$T/crl2.pem" -noout -text | grep 'Serial Number:' | sort) >/dev/null ||
	fail "CoAPS and HTTPS CRLs list different serials"
pass "GET /.well-known/est/crl over CoAPS: signed by the CA, same revoked serials as /crl"

# The sweep: once at start, then every sweep_seconds (1 here).
for _ in $(seq 1 50); do
	[ "$(grep -c 'sweep expired=0' "$T/serve.log")" -ge 2 ] && break
	sleep 0.1
done
[ "$(grep -c 'sweep expired=0' "$T/serve.log")" -ge 2 ] ||
	fail "sweep did not run twice: $(grep sweep "$T/serve.log")"
pass "expiry sweep ran at start and on its period (expired=0)"

kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || fail "serve exit status"
grep -q 'stopped' "$T/serve.log" || fail "no clean stop"
kdc audit verify >/dev/null || fail "audit chain"
kdc audit list > "$T/audit.txt"
grep -q 'cred.revoke' "$T/audit.txt" || fail "cred.revoke not audited"
grep -q 'device.revoke' "$T/audit.txt" || fail "device.revoke not audited"
pass "SIGTERM stops cleanly; revocations audited; audit chain verifies"
