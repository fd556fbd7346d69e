#!/usr/bin/env bash
# The admin CLI end to end on a temp data dir: registration, all-or-nothing
# import, refusals that change nothing, certificate issuance checked by
# openssl, secrets absent at rest, audit tampering detected.
. "$(dirname "$0")/lib.sh"

kdc init >/dev/null
[ "$(stat -c %a "$T/d/wrap.key")" = 600 ] || fail "wrap.key mode"
expect_fail 'already initialised' kdc init
pass "init; second init refused"

# A PSK made of printable bytes, so we can grep for it at rest.
PSK_ASCII='SeCrEtPsK-0123456789-abcdef'
PSK_HEX=$(printf '%s' "$PSK_ASCII" | od -An -tx1 | tr -d ' \n')
kdc device add urn:dev:ops:a1 --psk-identity a1 --psk "$PSK_HEX" >/dev/null
kdc device add urn:dev:ops:c1 --cert >/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$T/rpk.key" 2>/dev/null
openssl ec -in "$T/rpk.key" -pubout -out "$T/rpk.pub" 2>/dev/null
kdc device add urn:dev:ops:r1 --rpk "$T/rpk.pub" >/dev/null
kdc device list --json | grep -c '"id"' | grep -qx 3 || fail "device list"
kdc cred list --json > "$T/creds.json"
grep -q '"kind": "manufacturer"' "$T/creds.json" || fail "cred kind in JSON"
grep -q '"type": "rpk"' "$T/creds.json" || fail "cred type in JSON"
grep -q '"status": "issued"' "$T/creds.json" || fail "cred status in JSON"
pass "device add psk/cert/rpk; cred list --json"

d0=$(store_digest)
expect_fail 'WEAK_PSK|shorter than 128' kdc device add urn:dev:x --psk-identity x --psk 00112233445566778899aabbccddee
expect_fail 'already used' kdc device add urn:dev:y --psk-identity y --psk "$PSK_HEX"
expect_fail 'already exists|EXISTS' kdc device add urn:dev:ops:a1 --psk-identity z --psk 000102030405060708090a0b0c0d0e0f
expect_fail 'not one even-length hex' kdc device add urn:dev:x --psk-identity x --psk 0g
printf 'zz\n' > "$T/bad.hex"
expect_fail "$T/bad.hex: not one even-length hex" kdc device add urn:dev:x --psk-identity x --psk-file "$T/bad.hex"
expect_fail 'No such file' kdc device add urn:dev:x --psk-identity x --psk-file "$T/none.hex"
expect_fail 'standard input: not one even-length hex' kdc device add urn:dev:x --psk-identity x --psk-file - < "$T/bad.hex"
echo 'not a key' > "$T/bad.pub"
expect_fail 'not a public key' kdc device add urn:dev:x --rpk "$T/bad.pub"
openssl genrsa -out "$T/rsa.key" 2048 2>/dev/null
openssl rsa -in "$T/rsa.key" -pubout -out "$T/rsa.pub" 2>/dev/null
expect_fail 'unsupported key' kdc device add urn:dev:x --rpk "$T/rsa.pub"
[ "$(store_digest)" = "$d0" ] || fail "a refused add changed the store"
pass "weak, shared, duplicate, malformed and RSA credentials refused; store unchanged"

cat > "$T/good.jsonl" <<JL
{"id":"urn:dev:ops:m1","psk_identity":"m1","psk":"00112233445566778899aabbccddeeff"}
{"id":"urn:dev:ops:m2","cert":true,"profile":"default"}
JL
cat > "$T/bad.jsonl" <<JL
{"id":"urn:dev:ops:n1","psk_identity":"n1","psk":"10112233445566778899aabbccddeeff"}
{"id":"urn:dev:ops:n2","psk_identity":"n2","psk":"10112233445566778899aabbccddeeff"}
JL
cat > "$T/bad2.jsonl" <<JL
{"id":"urn:dev:ops:n3","cert":true}
{"id":"urn:dev:ops:n4","cert":true,"colour":"red"}
JL
cat > "$T/bad3.jsonl" <<JL
{"id":"urn:dev:ops:n5","cert":true}

{"id":"urn:dev:ops:n6","psk_identity":"n6","psk":"0011"}
JL
expect_fail 'bad.jsonl:2: .*(already used|PSK)' kdc device import "$T/bad.jsonl"
expect_fail 'bad2.jsonl:2: unknown key' kdc device import "$T/bad2.jsonl"
expect_fail 'bad3.jsonl:3: .*128 bits' kdc device import "$T/bad3.jsonl"
[ "$(store_digest)" = "$d0" ] || fail "a refused import changed the store"
has 'imported 2' kdc device import "$T/good.jsonl" || fail "good import"
expect_fail 'good.jsonl:1: .*already registered' kdc device import "$T/good.jsonl"
pass "manifest import all or nothing, bad line named"

# A CSR from an independent tool, signed by us, verified by openssl.
kdc ca export > "$T/ca.pem"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=whatever \
	-keyout "$T/dev.key" -out "$T/dev.csr" 2>/dev/null
kdc cert sign "$T/dev.csr" --device urn:dev:ops:c1 --days 30 > "$T/dev.pem"
openssl verify -CAfile "$T/ca.pem" "$T/dev.pem" >/dev/null || fail "openssl verify"
openssl x509 -in "$T/dev.pem" -noout -text > "$T/dev.txt"
grep -q 'URI:urn:dev:ops:c1' "$T/dev.txt" || fail "SAN URI"
grep -q 'TLS Web Client Authentication' "$T/dev.txt" || fail "EKU clientAuth"
serial=$(openssl x509 -in "$T/dev.pem" -noout -serial | cut -d= -f2)
[ ${#serial} -ge 16 ] || fail "serial too short: $serial"
pass "openssl req CSR -> cert sign -> openssl verify -CAfile ok (SAN URI, clientAuth, ${#serial}-hex serial)"

certtool --generate-privkey --key-type ed25519 --outfile "$T/ed.key" 2>/dev/null
printf 'cn = "dev"\n' > "$T/tmpl"
certtool --generate-request --load-privkey "$T/ed.key" --template "$T/tmpl" --outfile "$T/ed.csr" 2>/dev/null
kdc cert sign "$T/ed.csr" --device urn:dev:ops:m2 > "$T/ed.pem"
openssl verify -CAfile "$T/ca.pem" "$T/ed.pem" >/dev/null || fail "verify ed25519 cert"
pass "certtool Ed25519 CSR signed and verified"

d1=$(store_digest)
openssl req -new -newkey rsa:2048 -nodes -subj /CN=r -keyout "$T/r.key" -out "$T/r.csr" 2>/dev/null
expect_fail 'unsupported key' kdc cert sign "$T/r.csr" --device urn:dev:ops:c1
openssl req -in "$T/dev.csr" -outform DER -out "$T/dev.der"
size=$(stat -c %s "$T/dev.der")
# flip one byte of the signature (the last bytes of the DER)
printf '\x00' | dd of="$T/dev.der" bs=1 seek=$((size - 5)) conv=notrunc 2>/dev/null
expect_fail 'signature does not verify|malformed' kdc cert sign "$T/dev.der" --device urn:dev:ops:c1
expect_fail 'unknown device' kdc cert sign "$T/dev.csr" --device urn:dev:ops:nobody
echo garbage > "$T/g.csr"
expect_fail 'malformed' kdc cert sign "$T/g.csr" --device urn:dev:ops:c1
kdc device revoke urn:dev:ops:r1 >/dev/null
d1=$(store_digest)
expect_fail 'revoked' kdc cert sign "$T/dev.csr" --device urn:dev:ops:r1
expect_fail 'revoked' kdc device revoke urn:dev:ops:r1
[ "$(store_digest)" = "$d1" ] || fail "a refused cert sign changed the store"
pass "RSA CSR, bad signature, garbage, unknown and revoked device refused; store unchanged"

has '"kind": "operational"' kdc cred list --device urn:dev:ops:c1 --json || fail "operational cred listed"
id=$(kdc cred list --device urn:dev:ops:c1 --json | grep '"id"' | tail -1 | tr -dc 0-9)
kdc cred revoke "$id" >/dev/null
has '"status": "revoked"' kdc cred list --device urn:dev:ops:c1 --json || fail "cred revoke"
expect_fail 'revoked' kdc cred revoke "$id"
expect_fail 'no such credential' kdc cred revoke 99999
pass "cred revoke"

# Audiences: the built-in one listed, registration refusals (exit 1, one
# line each, store unchanged), a profile listing a second audience, one
# live credential per audience, serve refusing an unregistered one.
exit_of() { local rc=0; "$@" >/dev/null 2>&1 || rc=$?; echo "$rc"; }
has '^lwm2m +lwm2m +1 +\(built-in\) +coaps://' kdc audience list || fail "built-in audience listed"
d2=$(store_digest)
expect_fail 'audience add bad/name: bad name' kdc audience add bad/name --kind mqtt --uri mqtts://b.example
expect_fail 'audience add x: --kind wants' kdc audience add x --kind lwm2m --uri coaps://h
expect_fail 'audience add x: --uri missing' kdc audience add x --kind lwm2m-external --ssid 7
expect_fail 'audience add x: --uri missing' kdc audience add x --kind mqtt --uri coaps://b.example
expect_fail 'audience add x: --uri missing' kdc audience add x --kind mqtt --uri mqtts://user:pw@b.example
expect_fail 'audience add x: .*--ssid missing' kdc audience add x --kind lwm2m-external --uri coaps://h:5684
expect_fail 'audience add lwm2m: an audience of that name exists' kdc audience add lwm2m --kind mqtt --uri mqtts://b.example
[ "$(exit_of kdc audience add x --kind mqtt --uri mqtts://b.example --ssid 0)" = 2 ] || fail "--ssid 0: usage error"
[ "$(exit_of kdc audience add x --uri mqtts://b.example)" = 2 ] || fail "no --kind: usage error"
[ "$(exit_of kdc audience add bad/name --kind mqtt --uri mqtts://b.example)" = 1 ] || fail "refusal exit 1"
[ "$(store_digest)" = "$d2" ] || fail "a refused audience add changed the store"
has 'audience ext1 added' kdc audience add ext1 --kind lwm2m-external --uri coaps://lwm2m.example:5684 --ssid 101 || fail "add ext1"
has 'audience broker added' kdc audience add broker --kind mqtt --uri mqtts://broker.example:8883 || fail "add mqtt"
expect_fail 'audience add ext2: .*Short Server ID already used' kdc audience add ext2 --kind lwm2m-external --uri coaps://o.example --ssid 101
expect_fail 'audience add ext1: an audience of that name exists' kdc audience add ext1 --kind mqtt --uri mqtts://b.example
[ "$(exit_of kdc audience add ext2 --kind lwm2m-external --uri coaps://o.example --ssid 101)" = 1 ] || fail "dup ssid exit 1"
kdc audience list --json > "$T/aud.json"
grep -c '"name"' "$T/aud.json" | grep -qx 3 || fail "audience list --json: 3 audiences"
has '"ssid": 101' kdc audience show ext1 --json || fail "audience show --json"
has '"uri": "mqtts://broker.example:8883"' kdc audience show broker --json || fail "show broker"
has '^ext1 +lwm2m-external +101 ' kdc audience show ext1 || fail "audience show"
expect_fail 'audience show nope: unknown audience' kdc audience show nope
has 'audience.add +ext1 +ok +kind=lwm2m-external uri=coaps://lwm2m.example:5684 ssid=101' kdc audit list || fail "audience.add audited"
has 'audience.add +ext2 +DUPLICATE_SSID' kdc audit list || fail "dup ssid audited"
pass "audience add/list/show (--json); bad name, kind, uri, ssid, duplicates refused, exit 1, audited"

# m2 (profile default) gets a certificate for ext1 once the profile lists it
expect_fail 'cert sign .*: unknown audience' kdc cert sign "$T/ed.csr" --device urn:dev:ops:m2 --audience ext1
printf '\n[profile default ext1]\ncred_type = x509\nlifetime_days = 7\n' >> "$T/d/iotkdc.conf"
# a key of its own: a live key authenticates one credential
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=m2 \
	-keyout "$T/ext1.key" -out "$T/ext1.csr" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=m2 \
	-keyout "$T/ext1b.key" -out "$T/ext1b.csr" 2>/dev/null
kdc cert sign "$T/ext1.csr" --device urn:dev:ops:m2 --audience ext1 > "$T/ext1.pem"
openssl verify -CAfile "$T/ca.pem" "$T/ext1.pem" >/dev/null || fail "verify ext1 cert"
kdc cred list --device urn:dev:ops:m2 --json > "$T/m2.json"
[ "$(grep -c '"audience": "lwm2m"' "$T/m2.json")" = 1 ] || fail "m2: one lwm2m credential"
[ "$(grep -c '"audience": "ext1"' "$T/m2.json")" = 1 ] || fail "m2: one ext1 credential"
kdc cert sign "$T/ext1b.csr" --device urn:dev:ops:m2 --audience ext1 > /dev/null
kdc cred list --device urn:dev:ops:m2 > "$T/m2.txt"
grep -qE ' operational +x509 +lwm2m +issued ' "$T/m2.txt" || fail "lwm2m credential still issued"
grep -qE ' operational +x509 +ext1 +issued ' "$T/m2.txt" || fail "ext1 credential issued"
grep -qE ' operational +x509 +ext1 +superseded ' "$T/m2.txt" || fail "first ext1 credential superseded"
[ "$(grep -cE ' operational .* issued ' "$T/m2.txt")" = 2 ] || fail "two live credentials, one per audience"
expect_fail 'cert sign .*: unknown audience' kdc cert sign "$T/ext1.csr" --device urn:dev:ops:m2 --audience broker
pass "a profile with two audiences: one live credential per audience in cred list (text, --json)"

# serve refuses a profile naming an audience nobody registered, at start
printf '\n[profile default ghost]\n' >> "$T/d/iotkdc.conf"
rc=0
timeout 30 "$IOTKDC" --dir "$T/d" serve 2> "$T/serve.err" || rc=$?
[ "$rc" = 1 ] || fail "serve with an unknown audience: exit $rc, want 1"
grep -q 'profile default names audience ghost: not registered' "$T/serve.err" || fail "serve: $(cat "$T/serve.err")"
sed -i '/^\[profile default ghost\]$/d' "$T/d/iotkdc.conf"
pass "serve refuses to start with a profile naming an unregistered audience"

# Secrets at rest: the PSK's bytes (and their hex) appear nowhere in the dir.
sync
if grep -rqaF "$PSK_ASCII" "$T/d"; then fail "raw PSK found in the data dir"; fi
if grep -rqaiF "$PSK_HEX" "$T/d"; then fail "hex PSK found in the data dir"; fi
if grep -rqa 'PRIVATE KEY' "$T/d"; then fail "an unwrapped private key in the data dir"; fi
pass "no raw PSK or private key in the data dir"

# The audit chain: intact, then an edit with the sqlite3 CLI is detected.
has 'audit chain ok' kdc audit verify || fail "audit verify"
has '"action": "cert.issue"' kdc audit list --json || fail "audit list"
has 'WEAK_PSK' kdc audit list || fail "refusal not audited"
sqlite3 "$T/d/iotkdc.db" "UPDATE audit SET outcome='ok' WHERE outcome='WEAK_PSK'"
expect_fail 'audit verify: record [0-9]+: .*altered' kdc audit verify
pass "audit verify detects an edited row"

# A wrong wrapping key, a foreign database, a missing dir: one clear line.
cp -a "$T/d" "$T/d2"
head -c 32 /dev/urandom > "$T/d2/wrap.key"
expect_fail 'wrap\.key and iotkdc\.db do not belong together' "$IOTKDC" --dir "$T/d2" device list
cp -a "$T/d" "$T/d3"
rm -f "$T/d3/iotkdc.db"*
sqlite3 "$T/d3/iotkdc.db" "CREATE TABLE other(x); INSERT INTO other VALUES(1);"
expect_fail 'not an iotkdc database' "$IOTKDC" --dir "$T/d3" device list
cp -a "$T/d" "$T/d4"
rm -f "$T/d4/iotkdc.db"*
head -c 8192 /dev/urandom > "$T/d4/iotkdc.db"
expect_fail 'not an iotkdc database, or damaged' "$IOTKDC" --dir "$T/d4" device list
expect_fail 'no such data dir' "$IOTKDC" --dir "$T/none" device list
expect_fail 'unknown command' "$IOTKDC" frobnicate
pass "wrong wrapping key, foreign db, corrupt db, missing dir, bad usage: one line each"
