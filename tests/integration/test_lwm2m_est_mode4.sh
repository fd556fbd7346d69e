#!/usr/bin/env bash
# LwM2M 1.1 security mode 4 (Certificate with EST) through the real daemon
# and simulator: a profile with cred_type = x509-est makes the Bootstrap
# Server write mode 4 with no key; after Finish the device makes its own
# key, enrolls by EST /sen on the same DTLS session (its manufacturer PSK,
# one handshake) and keeps key and certificate in its state; `register` then works in certificate mode.
# The KDC issued exactly one operational x509 and never held its key.
. "$(dirname "$0")/lib.sh"
: "${IOTKDC_DEVICE:?the iotkdc-device simulator is not built}"
dev() { timeout 60 "$IOTKDC_DEVICE" "$@"; }

kdc init >/dev/null
set_conf kdc log_level debug	# one "authenticated" line per handshake
cat >> "$T/d/iotkdc.conf" <<CONF

[profile op-est]
cred_type = x509-est
lifetime_seconds = 20
CONF
start_serve

id=urn:dev:est4:1
key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
kdc device add "$id" --psk-identity est4-1 --psk "$key" --profile op-est >/dev/null

dev bootstrap --server "coaps://127.0.0.1:$COAP_PORT" --ep "$id" \
	--psk-identity est4-1 --psk "$key" --state "$T/s" > "$T/bs.out" 2> "$T/bs.err" ||
	fail "bootstrap: $(cat "$T/bs.err")"
grep -q 'mode=2' "$T/bs.out" || fail "the DM account is not in certificate mode: $(cat "$T/bs.out")"
grep -q '^enrolled 1 serial=' "$T/bs.out" || fail "no enrollment reported: $(cat "$T/bs.out")"
[ "$(stat -c %a "$T/s")" = 600 ] || fail "state file mode"
has 'type=x509-est' kdc audit list || fail "no mode-4 bootstrap audited"
has 'mode=4' kdc audit list || fail "no mode=4 in the bootstrap audit"
mcred=$(sqlite3 "$T/d/iotkdc.db" "SELECT c.id FROM credentials c JOIN devices d ON c.device = d.id
	WHERE d.dev_id = '$id' AND c.kind = 'manufacturer'")
[ -n "$mcred" ] || fail "no manufacturer credential row"
hs=$(grep -c "authenticated cred=$mcred " "$T/serve.log" || true)
[ "$hs" = 1 ] || fail "$hs handshakes with the manufacturer PSK for bootstrap + EST (want 1: the same session)"
has "est=sen by cred=$mcred \\(manufacturer psk\\)" kdc audit list ||
	fail "the enrollment was not authenticated by the manufacturer PSK"
pass "mode 4 bootstrap, then EST /sen on the same DTLS session with the manufacturer PSK"

dev show --state "$T/s" --cert-out "$T/cert.pem" > "$T/show.out" || fail "show"
grep -q 'mode=2' "$T/show.out" || fail "show: $(cat "$T/show.out")"
openssl verify -CAfile "$T/ca.pem" "$T/cert.pem" > /dev/null 2>&1 ||
	fail "the enrolled certificate does not verify against the KDC CA"
openssl x509 -in "$T/cert.pem" -noout -subject | grep -q "$id" ||
	fail "certificate subject is not the endpoint: $(openssl x509 -in "$T/cert.pem" -noout -subject)"
pass "the certificate in the state verifies against the CA"

dev register --state "$T/s" > "$T/reg.out" 2> "$T/reg.err" || fail "register: $(cat "$T/reg.err")"
grep -q 'rd/' "$T/reg.out" || fail "no location: $(cat "$T/reg.out")"
pass "registered in certificate mode with the enrolled certificate"

kdc cred list --device "$id" --json > "$T/creds.json"
live=$(awk '/"kind": "operational"/{op=1} /"kind": "manufacturer"/{op=0} op && /"status": "issued"/{c++} END{print c+0}' "$T/creds.json")
[ "$live" = 1 ] || fail "$live live operational credentials: $(cat "$T/creds.json")"
grep -A3 '"kind": "operational"' "$T/creds.json" | grep -q '"type": "x509"' ||
	fail "the operational credential is not x509"
[ "$(grep -c '"kind": "operational"' "$T/creds.json")" = 1 ] ||
	fail "more than one operational credential (nothing may be issued at bootstrap)"
n=$(sqlite3 "$T/d/iotkdc.db" "SELECT count(*) FROM credentials c JOIN devices d ON c.device = d.id
	WHERE d.dev_id = '$id' AND c.kind = 'operational' AND c.type = 'x509'
	AND c.status = 'issued' AND c.wrapped IS NULL")
[ "$n" = 1 ] || fail "the KDC holds a private key for the enrolled certificate (or none issued)"
pass "exactly one operational x509 issued, no private key at the KDC"

# renewal of the state's certificate by /sren (renew-loop --state)
dev renew-loop --state "$T/s" --fraction 0.1 --jitter 0 --count 1 > "$T/rn.out" 2> "$T/rn.err" ||
	fail "renew-loop --state: $(cat "$T/rn.err")"
grep -q "^renewed 1 ep=$id mode=2" "$T/rn.out" || fail "renew-loop: $(cat "$T/rn.out")"
grep -q '^renewed 1 serial=' "$T/rn.out" || fail "renew-loop: no certificate line: $(cat "$T/rn.out")"
dev show --state "$T/s" --cert-out "$T/cert2.pem" > /dev/null || fail "show after renewal"
cmp -s "$T/cert.pem" "$T/cert2.pem" && fail "the state still holds the old certificate"
openssl verify -CAfile "$T/ca.pem" "$T/cert2.pem" > /dev/null 2>&1 || fail "renewed certificate does not verify"
kdc cred list --device "$id" --json > "$T/creds.json"
live=$(awk '/"kind": "operational"/{op=1} /"kind": "manufacturer"/{op=0} op && /"status": "issued"/{c++} END{print c+0}' "$T/creds.json")
[ "$live" = 1 ] || fail "$live live operational credentials after /sren"
grep -q '"status": "superseded"' "$T/creds.json" || fail "the first certificate was not superseded"
dev register --state "$T/s" > "$T/reg.out" 2> "$T/reg.err" || fail "register after renewal: $(cat "$T/reg.err")"
n=$(sqlite3 "$T/d/iotkdc.db" "SELECT count(*) FROM credentials c JOIN devices d ON c.device = d.id
	WHERE d.dev_id = '$id' AND c.kind = 'operational' AND c.wrapped IS NOT NULL")
[ "$n" = 0 ] || fail "the KDC holds a private key of this device"
pass "the state's certificate renewed by /sren, old one superseded, registered again"
