#!/usr/bin/env bash
# EST-coaps (RFC 9148) on the KDC's CoAPS endpoint against an independent
# client, libcoap's coap-client-gnutls, and openssl for the PKI side:
# /crts (281 and 287), /att, /sen over a manufacturer PSK (one datagram
# and Block1), the certificate verified by openssl under `ca export`,
# /sren over that operational certificate, and the refusals: the RPK
# manufacturer key in the CSR, a malformed CSR, a wrong Content-Format,
# an unacceptable Accept, /sren with the manufacturer credential; the
# answer as a separate response from a worker thread, and piggybacked
# with [coap] sign_threads = 0.
. "$(dirname "$0")/lib.sh"

kdc init >/dev/null
KEY='est-test-key-0123456'		# coap-client -k takes the key as text
KEY_HEX=$(printf '%s' "$KEY" | od -An -tx1 | tr -d ' \n')
kdc device add urn:dev:est:1 --psk-identity est1 --psk "$KEY_HEX" >/dev/null
openssl ecparam -genkey -name prime256v1 -noout -out "$T/rpk.pem" 2>/dev/null
openssl ec -in "$T/rpk.pem" -pubout -out "$T/rpk.pub" 2>/dev/null
kdc device add urn:dev:est:rpk --rpk "$T/rpk.pub" >/dev/null
start_serve
EST="coaps://127.0.0.1:$COAP_PORT/.well-known/est"

# coap-client-gnutls 4.3.1 exits 0 whatever happens and logs to stdout; at
# -v 7 each PDU it receives is logged, e.g. "v:1 t:ACK c:2.04 i:... [ ]".
client() {
	rm -f "$T/out.der"
	timeout 20 coap-client-gnutls -v 7 -B 5 "$@" > "$T/client.out" 2> "$T/client.err" || true
}
psk() { client -u est1 -k "$KEY" "$@"; }
got() { grep -qE "t:(ACK|CON|NON) c:$1 " "$T/client.out"; }
codes() { { grep -oE ' c:[0-9]\.[0-9]+ ' "$T/client.out" || true; } | tr -d ' ' | tr '\n' ' '; }
audited() {	# audited PATTERN [ACTION]: an ACTION (est.enroll: refusals) record matching it
	kdc audit list > "$T/audit.txt"
	grep -E "${2:-est.enroll}" "$T/audit.txt" > "$T/est_audit.txt" || true
	grep -qiE -- "$1" "$T/est_audit.txt"
}

# ---- crts -------------------------------------------------------------
openssl x509 -in "$T/ca.pem" -outform DER -out "$T/ca.der"
psk -m get -A 287 -o "$T/out.der" "$EST/crts"
got '2\.05' || fail "crts -A 287 not 2.05: $(codes)"
cmp -s "$T/out.der" "$T/ca.der" || fail "crts 287 is not the DER of 'ca export'"
pass "GET crts Accept 287: the CA certificate (DER) of 'ca export'"

psk -m get -o "$T/out.der" "$EST/crts"
got '2\.05' || fail "crts (no Accept) not 2.05: $(codes)"
openssl pkcs7 -inform DER -in "$T/out.der" -print_certs -out "$T/p7.pem" 2>/dev/null ||
	fail "crts default is not PKCS#7"
openssl x509 -in "$T/p7.pem" -outform DER -out "$T/p7.der"
cmp -s "$T/p7.der" "$T/ca.der" || fail "crts PKCS#7 does not hold the CA"
psk -m get -A 281 -o "$T/out.der" "$EST/crts"
got '2\.05' && openssl pkcs7 -inform DER -in "$T/out.der" -noout 2>/dev/null ||
	fail "crts -A 281 not PKCS#7"
pass "GET crts (no Accept, Accept 281): PKCS#7 certs-only with the CA"

psk -m get -A 60 "$EST/crts"
got '4\.06' || fail "crts -A 60 not 4.06: $(codes)"
pass "GET crts Accept 60: 4.06"

# Block2 (RFC 7959 §2.4): the client asks for 64-byte blocks; each answer
# carries a Block2 option, and the joined body is the same DER.
psk -m get -b 64 -A 287 -o "$T/out.der" "$EST/crts"
nb=$(grep -E 'c:2\.05 ' "$T/client.out" | grep -oE 'Block2:[0-9]+/[_M]/64' | sort -u | wc -l)
want=$(( ($(stat -c %s "$T/ca.der") + 63) / 64 ))
[ "$nb" = "$want" ] || fail "crts -b 64: $nb Block2 answers of 64 B, want $want: $(grep -oE "Block2:[^ ]*" "$T/client.out" | tr '\n' ' ')"
cmp -s "$T/out.der" "$T/ca.der" || fail "crts in 64 B Block2 pieces is not the DER of 'ca export'"
pass "GET crts in $want Block2 pieces of 64 B: the same DER"

# ---- att --------------------------------------------------------------
psk -m get -o "$T/out.der" "$EST/att"
got '2\.05' || fail "att not 2.05: $(codes)"
openssl asn1parse -inform DER -in "$T/out.der" > "$T/att.txt" 2>&1 || fail "att not DER"
grep -q prime256v1 "$T/att.txt" && grep -q ecdsa-with-SHA256 "$T/att.txt" ||
	fail "att does not ask for P-256/ECDSA-SHA256: $(cat "$T/att.txt")"
pass "GET att: 2.05 csrattrs (ecdsa-with-SHA256, id-ecPublicKey P-256)"

# ---- sen over the manufacturer PSK --------------------------------------
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
	-keyout "$T/dev.key" -outform DER -out "$T/csr.der" 2>/dev/null
psk -m post -t 286 -A 287 -f "$T/csr.der" -o "$T/out.der" "$EST/sen"
got '2\.04' || fail "sen not 2.04: $(codes) $(tail -3 "$T/serve.log")"
openssl x509 -inform DER -in "$T/out.der" -out "$T/cert.pem" 2>/dev/null || fail "sen 287: not a DER certificate"
openssl verify -CAfile "$T/ca.pem" "$T/cert.pem" >/dev/null || fail "sen certificate does not verify under the CA"
openssl x509 -in "$T/cert.pem" -noout -ext subjectAltName | grep -q 'URI:urn:dev:est:1' ||
	fail "sen certificate does not name the device"
[ "$(openssl x509 -in "$T/cert.pem" -noout -pubkey)" = "$(openssl pkey -in "$T/dev.key" -pubout)" ] ||
	fail "sen certificate is not for the CSR's key"
audited "urn:dev:est:1.*OK.*est=sen by cred=" cert.issue || fail "sen success not audited: $(cat "$T/audit.txt")"
pass "POST sen (286, Accept 287) over the manufacturer PSK: 2.04, verifies under 'ca export'"

# Enrolled on a worker ([coap] sign_threads, 2 by default): RFC 9148 §4.7,
# an empty ACK at once, then the 2.04 as a Confirmable response.
grep -qE "t:ACK c:0\.00 " "$T/client.out" || fail "sen: no empty ACK: $(codes)"
grep -qE "t:CON c:2\.04 " "$T/client.out" || fail "sen: 2.04 is not a separate CON response: $(codes)"
pass "POST sen on a worker thread: empty ACK, then the 2.04 as a separate CON response (RFC 9148 §4.7)"

# Block1: a CSR over 1 KiB (many subject fields) with 64-byte blocks.
SUBJ="/CN=x"
for i in $(seq 1 30); do SUBJ="$SUBJ/OU=organisational-unit-number-$i"; done
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$SUBJ" \
	-keyout "$T/big.key" -outform DER -out "$T/big.der" 2>/dev/null
[ "$(stat -c %s "$T/big.der")" -gt 1024 ] || fail "big CSR is not over 1 KiB"
psk -m post -b 64 -t 286 -f "$T/big.der" -o "$T/out.der" "$EST/sen"
got '2\.04' || fail "Block1 sen not 2.04: $(codes)"
got '2\.31' || fail "no 2.31 Continue: Block1 not used: $(codes)"
openssl pkcs7 -inform DER -in "$T/out.der" -print_certs -out "$T/big.pem" 2>/dev/null ||
	fail "sen without Accept is not PKCS#7"
openssl verify -CAfile "$T/ca.pem" "$T/big.pem" >/dev/null || fail "Block1 certificate does not verify"
pass "POST sen with a $(stat -c %s "$T/big.der") B CSR in 64 B Block1 pieces: 2.04, PKCS#7 (281) by default"

# ---- sren over the operational certificate (the first, superseded now;
# enroll the key of dev.key again to make it current) -------------------
psk -m post -t 286 -A 287 -f "$T/csr.der" -o "$T/out.der" "$EST/sen"
got '2\.04' || fail "second sen not 2.04: $(codes)"
openssl x509 -inform DER -in "$T/out.der" -out "$T/cert.pem"
SERIAL1=$(openssl x509 -in "$T/cert.pem" -noout -serial)
openssl req -new -key "$T/dev.key" -subj /CN=x -outform DER -out "$T/re.der" 2>/dev/null
client -R "$T/ca.pem" -c "$T/cert.pem" -j "$T/dev.key" -m post -t 286 -A 287 \
	-f "$T/re.der" -o "$T/out.der" "$EST/sren"
got '2\.04' || fail "sren with the operational certificate not 2.04: $(codes) $(tail -3 "$T/serve.log")"
openssl x509 -inform DER -in "$T/out.der" -out "$T/re.pem"
openssl verify -CAfile "$T/ca.pem" "$T/re.pem" >/dev/null || fail "sren certificate does not verify"
[ "$(openssl x509 -in "$T/re.pem" -noout -serial)" != "$SERIAL1" ] || fail "sren returned the old certificate"
kdc cred list --device urn:dev:est:1 --json > "$T/creds.json"
grep -q '"superseded"' "$T/creds.json" || fail "no superseded certificate after sren"
pass "POST sren over the operational certificate: 2.04, a new certificate, the old superseded"

# The Block1 certificate (another key) was superseded by the second sen:
# it may not re-enroll (refused at the handshake or with 4.xx).
client -R "$T/ca.pem" -c "$T/big.pem" -j "$T/big.key" -m post -t 286 \
	-f "$T/re.der" "$EST/sren"
got '2\.04' && fail "superseded certificate re-enrolled: $(codes)"
c=$(codes)
pass "sren with a superseded certificate: refused (${c:-at the handshake})"

# ---- a new key replaces an issued certificate only once it is used -------
# (a lost answer must not lock the device out): /sren with a fresh key
# answers a certificate that stays pending while the current one keeps
# working; its first handshake makes it issued and supersedes the old one.
cstatus() {	# cstatus PEM: the KDC's status of that certificate
	local sn
	sn=$(openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
	sqlite3 "$T/d/iotkdc.db" "SELECT status FROM credentials WHERE lower(serial) = '$sn'"
}
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
	-keyout "$T/new.key" -outform DER -out "$T/new.der" 2>/dev/null
client -R "$T/ca.pem" -c "$T/re.pem" -j "$T/dev.key" -m post -t 286 -A 287 \
	-f "$T/new.der" -o "$T/out.der" "$EST/sren"
got '2\.04' || fail "sren with a new key not 2.04: $(codes)"
openssl x509 -inform DER -in "$T/out.der" -out "$T/new.pem"
[ "$(cstatus "$T/new.pem")" = pending ] || fail "new-key certificate is $(cstatus "$T/new.pem"), want pending"
[ "$(cstatus "$T/re.pem")" = issued ] || fail "current certificate is $(cstatus "$T/re.pem") before the new one is used"
has '"issued_on_first_use": true' kdc cred list --device urn:dev:est:1 --json ||
	fail "cred list --json does not flag the pending certificate"
client -R "$T/ca.pem" -c "$T/re.pem" -j "$T/dev.key" -m get -A 287 "$EST/crts"
got '2\.05' || fail "the current certificate stopped working before the new one was used: $(codes)"
client -R "$T/ca.pem" -c "$T/new.pem" -j "$T/new.key" -m get -A 287 "$EST/crts"
got '2\.05' || fail "first use of the new certificate: $(codes)"
[ "$(cstatus "$T/new.pem")" = issued ] || fail "new certificate is $(cstatus "$T/new.pem") after its first use"
[ "$(cstatus "$T/re.pem")" = superseded ] || fail "old certificate is $(cstatus "$T/re.pem") after the new one's first use"
has 'cred.activate' kdc audit list || fail "activation on first use not audited"
client -R "$T/ca.pem" -c "$T/re.pem" -j "$T/dev.key" -m get -A 287 "$EST/crts"
got '2\.05' && fail "the superseded certificate still works"
pass "sren with a new key: pending, the old one works until the new one's first use, then superseded"

# ---- refusals ------------------------------------------------------------
psk -m post -t 286 -f "$T/re.der" "$EST/sren"
got '4\.03' || fail "sren over the manufacturer PSK not 4.03: $(codes)"
audited 'urn:dev:est:1.*WRONG_TYPE.*sren' || fail "sren refusal not audited"
pass "POST sren over the manufacturer PSK: 4.03, audited"

head -c 200 /dev/urandom > "$T/junk.der"
psk -m post -t 286 -f "$T/junk.der" "$EST/sen"
got '4\.00' || fail "malformed CSR not 4.00: $(codes)"
audited 'urn:dev:est:1.*MALFORMED' || fail "malformed CSR not audited"
pass "POST sen with a malformed CSR: 4.00, audited"

# the CSR's signature broken: flip a byte of the signature (last bytes)
cp "$T/csr.der" "$T/badsig.der"
n=$(stat -c %s "$T/badsig.der")
printf '\x00' | dd of="$T/badsig.der" bs=1 seek=$((n - 3)) conv=notrunc 2>/dev/null
printf '\x01' | dd of="$T/badsig.der" bs=1 seek=$((n - 2)) conv=notrunc 2>/dev/null
psk -m post -t 286 -f "$T/badsig.der" "$EST/sen"
got '4\.00' || fail "bad CSR signature not 4.00: $(codes)"
audited 'urn:dev:est:1.*BAD_SIGNATURE' || fail "bad signature not audited: $(cat "$T/est_audit.txt")"
pass "POST sen with a broken CSR signature: 4.00, audited"

psk -m post -t 42 -f "$T/csr.der" "$EST/sen"
got '4\.15' || fail "Content-Format 42 not 4.15: $(codes)"
audited 'urn:dev:est:1.*UNSUPPORTED' || fail "4.15 not audited"
pass "POST sen with Content-Format 42: 4.15, audited"

psk -m post -t 286 -A 60 -f "$T/csr.der" "$EST/sen"
got '4\.06' || fail "sen Accept 60 not 4.06: $(codes)"
pass "POST sen with Accept 60: 4.06"

# The RPK device enrolls a CSR of its own manufacturer key.
openssl req -new -key "$T/rpk.pem" -subj /CN=x -outform DER -out "$T/rpkcsr.der" 2>/dev/null
client -R "$T/ca.pem" -M "$T/rpk.pem" -m post -t 286 -f "$T/rpkcsr.der" "$EST/sen"
got '4\.03' || fail "CSR with the manufacturer key not 4.03: $(codes)"
audited 'urn:dev:est:rpk.*DENIED.*manufacturer key' || fail "manufacturer-key refusal not audited"
# and the PSK device may not certify the RPK device's key either
psk -m post -t 286 -f "$T/rpkcsr.der" "$EST/sen"
got '4\.03' || fail "CSR with another device's key not 4.03: $(codes)"
# a fresh key over the RPK session is fine
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
	-keyout "$T/rpk2.key" -outform DER -out "$T/rpk2.der" 2>/dev/null
client -R "$T/ca.pem" -M "$T/rpk.pem" -m post -t 286 -A 287 -f "$T/rpk2.der" -o "$T/out.der" "$EST/sen"
got '2\.04' || fail "RPK sen with a fresh key not 2.04: $(codes)"
pass "RPK manufacturer key in the CSR: 4.03 audited (own and other device); a fresh key: 2.04"

# a CSR naming another registered device is a request for it: refused,
# even with a fresh key (CN=x above names no device: overridden)
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=urn:dev:est:rpk \
	-keyout "$T/other.key" -outform DER -out "$T/other.der" 2>/dev/null
psk -m post -t 286 -f "$T/other.der" "$EST/sen"
got '4\.03' || fail "CSR naming another device not 4.03: $(codes)"
audited 'urn:dev:est:1.*DENIED.*names another device' || fail "CSR for another device not audited"
pass "POST sen with a CSR naming another device (CN=urn:dev:est:rpk): 4.03, audited"

# skg is served (test_est_skg.sh); this CSR names CN=x, not the device
psk -m post -t 286 -f "$T/csr.der" "$EST/skg"
got '4\.03' || fail "skg with a CSR for CN=x not 4.03: $(codes)"
pass "POST skg with a CSR naming another device: 4.03"

# sign_threads = 0: the same enrollment in the handler, piggybacked.
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true
set_conf coap sign_threads 0
start_serve
EST="coaps://127.0.0.1:$COAP_PORT/.well-known/est"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
	-keyout "$T/k0.key" -outform DER -out "$T/k0.der" 2>/dev/null
psk -m post -t 286 -A 287 -f "$T/k0.der" -o "$T/out.der" "$EST/sen"
grep -qE "t:ACK c:2\.04 " "$T/client.out" || fail "sign_threads 0: sen not a piggybacked 2.04: $(codes)"
openssl x509 -inform DER -in "$T/out.der" -out "$T/k0.pem" 2>/dev/null &&
	openssl verify -CAfile "$T/ca.pem" "$T/k0.pem" >/dev/null || fail "sign_threads 0: certificate does not verify"
pass "sign_threads = 0: sen answered in the handler, a piggybacked 2.04 that verifies"

kdc audit verify >/dev/null || fail "audit chain does not verify"
pass "audit chain verifies"
