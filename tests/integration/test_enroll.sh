#!/usr/bin/env bash
# EST-coaps enrollment and renewal by the device library (issue 4), with
# openssl as the independent relying party:
#  (1) `iotkdc-device enroll` over a manufacturer PSK: a key made on the
#      device, a certificate that verifies under `ca export`; after
#      `iotkdc cred revoke` the CRL from https://.../crl makes
#      `openssl verify -crl_check` fail with "certificate revoked".
#  (2) compressed clock: a profile with lifetime_seconds = 6; enroll, then
#      `renew-loop --count 3 --fraction 0.5`: three renewals by /sren, each
#      certificate verifies, never two issued operational credentials for
#      the device, the newest works and the superseded ones are refused.
. "$(dirname "$0")/lib.sh"
: "${IOTKDC_DEVICE:?the iotkdc-device simulator is not built}"

kdc init >/dev/null
cat >> "$T/d/iotkdc.conf" <<'EOF'

[profile short]
cred_type = x509
lifetime_seconds = 6
EOF
# the PSKs in files and on standard input (--psk-file), never in argv
PSK1=00112233445566778899aabbccddeeff
PSK2=ffeeddccbbaa99887766554433221100
printf '%s\n' "$PSK1" > "$T/psk1.hex"
kdc device add urn:dev:enr:1 --psk-identity enr1 --psk-file "$T/psk1.hex" >/dev/null
printf '%s\n' "$PSK2" | kdc device add urn:dev:enr:2 --psk-identity enr2 --psk-file - --profile short >/dev/null
start_serve
SRV="coaps://127.0.0.1:$COAP_PORT"
dev() { timeout 30 "$IOTKDC_DEVICE" "$@"; }

# The credential id of a certificate, from `cred list --json`, by serial.
cred_of() {
	local serial
	serial=$(openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr A-F a-f)
	kdc cred list --json > "$T/creds.json"
	awk -v want="$serial" '
		/"id":/ { id = $2; sub(/,$/, "", id) }
		/"serial":/ { s = $2; gsub(/[",]/, "", s); if (tolower(s) == want) { print id; found = 1; exit } }
		END { if (!found) exit 1 }' "$T/creds.json" || fail "no credential with serial $serial"
}
issued() {	# issued DEV_ID: its issued operational credentials
	sqlite3 -cmd '.timeout 5000' "$T/d/iotkdc.db" "SELECT count(*) FROM credentials c
		JOIN devices d ON c.device = d.id WHERE d.dev_id = '$1' AND
		c.kind = 'operational' AND c.status = 'issued'"
}

# ---- --help tells the truth ------------------------------------------------
dev enroll --help > "$T/help.txt"
grep -q -- '--key-out' "$T/help.txt" && grep -q 'est/sren' "$T/help.txt" || fail "enroll --help"
dev renew-loop --help > "$T/help.txt"
grep -q -- '--fraction' "$T/help.txt" && grep -q -- '--jitter' "$T/help.txt" || fail "renew-loop --help"
expect_fail 'key-out' "$IOTKDC_DEVICE" enroll --server "$SRV" --psk-identity enr1 --psk-file "$T/psk1.hex"
pass "enroll/renew-loop --help; missing --key-out refused"

# ---- --psk-file / --seed-file: bounded, hex, one clear line -----------------
for sub in enroll bootstrap; do
	dev $sub --help > "$T/help.txt"
	grep -q -- '--psk-file FILE' "$T/help.txt" && grep -q 'ps and shell history' "$T/help.txt" &&
		grep -q 'prefer --psk-file' "$T/help.txt" || fail "$sub --help does not recommend --psk-file"
done
dev load --help > "$T/help.txt"
grep -q -- '--seed-file FILE' "$T/help.txt" && grep -q 'prefer --seed-file' "$T/help.txt" ||
	fail "load --help does not recommend --seed-file"
echo 0g > "$T/bad.hex"
head -c 2000 /dev/zero | tr '\0' a > "$T/big.hex"
x=(--key-out "$T/x.key" --cert-out "$T/x.pem" --timeout 5)
expect_fail 'enroll: --psk-file .*bad.hex: not one hex string' \
	"$IOTKDC_DEVICE" enroll --server "$SRV" --psk-identity enr1 --psk-file "$T/bad.hex" "${x[@]}"
expect_fail 'enroll: --psk-file standard input: larger than 1024 bytes' \
	"$IOTKDC_DEVICE" enroll --server "$SRV" --psk-identity enr1 --psk-file - "${x[@]}" < "$T/big.hex"
expect_fail 'enroll: --psk-file .*none.hex: No such file' \
	"$IOTKDC_DEVICE" enroll --server "$SRV" --psk-identity enr1 --psk-file "$T/none.hex" "${x[@]}"
expect_fail 'enroll: --psk or --psk-file, not both' \
	"$IOTKDC_DEVICE" enroll --server "$SRV" --psk-identity enr1 --psk-file "$T/psk1.hex" \
	--psk "$PSK1" "${x[@]}"
expect_fail 'bootstrap: --psk-file standard input: not one hex string' \
	"$IOTKDC_DEVICE" bootstrap --server "$SRV" --ep e --psk-identity enr1 --psk-file - \
	--state "$T/x.state" < "$T/bad.hex"
[ ! -e "$T/x.key" ] && [ ! -e "$T/x.state" ] || fail "a refused secret file still wrote a file"
# the seed of load/load-manifest: a file, standard input and argv agree
printf '%s\n' 0011223344 > "$T/seed.hex"
dev load-manifest --devices 3 --prefix s --seed-file "$T/seed.hex" > "$T/m1.jsonl"
dev load-manifest --devices 3 --prefix s --seed-file - < "$T/seed.hex" > "$T/m2.jsonl"
dev load-manifest --devices 3 --prefix s --seed 0011223344 > "$T/m3.jsonl"
[ "$(wc -l < "$T/m1.jsonl")" = 3 ] && cmp -s "$T/m1.jsonl" "$T/m2.jsonl" &&
	cmp -s "$T/m1.jsonl" "$T/m3.jsonl" || fail "load-manifest --seed-file differs from --seed"
expect_fail 'load-manifest: --seed-file standard input: not one hex string' \
	"$IOTKDC_DEVICE" load-manifest --devices 3 --seed-file - < "$T/bad.hex"
pass "--psk-file/--seed-file: file and standard input; bad hex, oversize, missing file, both refused"

# ---- (1) enroll over the manufacturer PSK, revoke, CRL ---------------------
dev enroll --server "$SRV" --psk-identity enr1 --psk-file "$T/psk1.hex" \
	--key-out "$T/d1.key" --cert-out "$T/d1.pem" > "$T/enroll.out" 2> "$T/enroll.err" ||
	fail "enroll: $(cat "$T/enroll.err")"
grep -qE '^enrolled 1 serial=[0-9A-F]+ ' "$T/enroll.out" || fail "enroll output: $(cat "$T/enroll.out")"
[ "$(stat -c %a "$T/d1.key")" = 600 ] || fail "key file mode $(stat -c %a "$T/d1.key")"
openssl verify -CAfile "$T/ca.pem" "$T/d1.pem" >/dev/null || fail "enrolled certificate does not verify"
[ "$(openssl x509 -in "$T/d1.pem" -noout -pubkey)" = "$(openssl pkey -in "$T/d1.key" -pubout)" ] ||
	fail "certificate is not for the device's key"
openssl x509 -in "$T/d1.pem" -noout -ext subjectAltName | grep -q 'URI:urn:dev:enr:1' ||
	fail "certificate does not name the device"
[ "$(issued urn:dev:enr:1)" = 1 ] || fail "not one issued credential"
pass "enroll over the manufacturer PSK: key made on the device (0600), certificate verifies under 'ca export'"

# the device renews by itself with the certificate (enroll --renew, /sren)
dev enroll --server "$SRV" --cert "$T/d1.pem" --key "$T/d1.key" --ca "$T/ca.pem" --renew \
	--key-out "$T/d1b.key" --cert-out "$T/d1b.pem" > "$T/enroll.out" 2> "$T/enroll.err" ||
	fail "enroll --renew: $(cat "$T/enroll.err")"
grep -qE '^renewed 1 serial=' "$T/enroll.out" || fail "enroll --renew output"
openssl verify -CAfile "$T/ca.pem" "$T/d1b.pem" >/dev/null || fail "renewed certificate does not verify"
[ "$(issued urn:dev:enr:1)" = 1 ] || fail "two issued credentials after /sren"
pass "enroll --renew (/sren over the operational certificate): new certificate, old superseded"

ID=$(cred_of "$T/d1b.pem")
kdc cred revoke "$ID" >/dev/null
curl -sf --cacert "$T/ca.pem" "https://127.0.0.1:$HTTPS_PORT/crl" -o "$T/crl.der" || fail "GET /crl"
openssl crl -inform DER -in "$T/crl.der" -out "$T/crl.pem" 2>/dev/null || fail "CRL not DER"
rc=0
openssl verify -crl_check -CAfile "$T/ca.pem" -CRLfile "$T/crl.pem" "$T/d1b.pem" > "$T/v.out" 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "revoked certificate still verifies with -crl_check"
grep -q 'certificate revoked' "$T/v.out" || fail "verify: $(cat "$T/v.out")"
expect_fail 'enroll --renew failed' "$IOTKDC_DEVICE" enroll --server "$SRV" --cert "$T/d1b.pem" \
	--key "$T/d1b.key" --ca "$T/ca.pem" --renew --timeout 5 --key-out "$T/x.key" --cert-out "$T/x.pem"
pass "cred revoke $ID: CRL over HTTPS makes openssl verify -crl_check fail 'certificate revoked'; /sren refused"

# ---- (2) compressed clock: lifetime 6 s, three renewals ----------------------
printf '%s\n' "$PSK2" | dev enroll --server "$SRV" --psk-identity enr2 --psk-file - \
	--key-out "$T/op.key" --cert-out "$T/op.pem" > "$T/enroll.out" 2> "$T/enroll.err" ||
	fail "enroll (short): $(cat "$T/enroll.err")"
nb=$(date -d "$(openssl x509 -in "$T/op.pem" -noout -startdate | cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 -in "$T/op.pem" -noout -enddate | cut -d= -f2)" +%s)
[ $((na - nb)) -eq 6 ] || fail "lifetime_seconds = 6 gave $((na - nb)) s"
cp "$T/op.pem" "$T/gen0.pem"
cp "$T/op.key" "$T/gen0.key"

"$IOTKDC_DEVICE" renew-loop --server "$SRV" --cert "$T/op.pem" --key "$T/op.key" \
	--ca "$T/ca.pem" --fraction 0.5 --jitter 0.1 --count 3 --timeout 5 \
	> "$T/loop.out" 2> "$T/loop.err" &
LOOP=$!
PIDS+=("$LOOP")
# while it runs: never two issued operational credentials; keep each
# generation as it appears
gen=0; max=0
while kill -0 "$LOOP" 2>/dev/null; do
	n=$(issued urn:dev:enr:2)
	[ "$n" -le 1 ] || fail "$n issued operational credentials at once"
	[ "$n" -gt "$max" ] && max=$n
	got=$(grep -c '^renewed' "$T/loop.out" || true)
	if [ "$got" -gt "$gen" ]; then
		gen=$got
		cp "$T/op.pem" "$T/gen$gen.pem"; cp "$T/op.key" "$T/gen$gen.key"
		# verified now: with a 6 s lifetime it expires soon
		openssl verify -CAfile "$T/ca.pem" "$T/gen$gen.pem" > "$T/v.out" 2>&1 ||
			fail "renewal $gen does not verify: $(cat "$T/v.out")"
	fi
	sleep 0.1
done
wait "$LOOP" || fail "renew-loop: $(cat "$T/loop.err")"
[ "$(grep -c '^renewed' "$T/loop.out")" -eq 3 ] || fail "not three renewals: $(cat "$T/loop.out")"
grep -E '^renewed [123] serial=[0-9A-F]+ not_before=[0-9]+ not_after=[0-9]+ ' "$T/loop.out" >/dev/null ||
	fail "renew-loop output: $(cat "$T/loop.out")"
[ "$(issued urn:dev:enr:2)" = 1 ] || fail "not one issued credential after the renewals"
cp "$T/op.pem" "$T/gen3.pem"; cp "$T/op.key" "$T/gen3.key"
serials=$(for i in 0 1 2 3; do openssl x509 -in "$T/gen$i.pem" -noout -serial; done | sort -u | wc -l)
[ "$serials" -eq 4 ] || fail "renewals did not give four distinct certificates"
openssl verify -CAfile "$T/ca.pem" "$T/gen3.pem" >/dev/null || fail "renewal 3 does not verify"
kdc cred list --device urn:dev:enr:2 --json > "$T/creds.json"
[ "$(grep -c '"superseded"' "$T/creds.json")" -ge 3 ] || fail "superseded: $(cat "$T/creds.json")"
pass "renew-loop: three renewals at half of a 6 s lifetime, each verifies, at most one issued credential throughout"

# the device keeps working: the newest certificate re-enrolls, the
# superseded one is refused at the handshake (or with 4.xx)
dev enroll --server "$SRV" --cert "$T/op.pem" --key "$T/op.key" --ca "$T/ca.pem" --renew \
	--key-out "$T/op.key" --cert-out "$T/op.pem" > "$T/enroll.out" 2> "$T/enroll.err" ||
	fail "/sren with the newest certificate: $(cat "$T/enroll.err")"
rc=0
"$IOTKDC_DEVICE" enroll --server "$SRV" --cert "$T/gen2.pem" --key "$T/gen2.key" --ca "$T/ca.pem" \
	--renew --timeout 5 --key-out "$T/x.key" --cert-out "$T/x.pem" > /dev/null 2> "$T/old.err" || rc=$?
[ $rc -ne 0 ] || fail "a superseded certificate re-enrolled"
[ ! -e "$T/x.pem" ] || fail "a refused renewal wrote a certificate"
[ "$(issued urn:dev:enr:2)" = 1 ] || fail "not one issued credential at the end"
pass "the newest certificate renews again; the superseded one is refused ($(cut -c1-80 "$T/old.err"))"

kdc audit verify >/dev/null || fail "audit chain does not verify"
pass "audit chain verifies"
