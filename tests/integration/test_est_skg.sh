#!/usr/bin/env bash
# EST-coaps /skg (RFC 9148 §5.8, server-side key generation) against
# coap-client-gnutls over a manufacturer PSK: 2.04 multipart-core (62)
# [284 PKCS#8 private key, 287 certificate], split here by the CBOR heads
# (0x84, 0x19 0x011c, bstr head, key, 0x19 0x011f, bstr head, cert), the
# key checked with openssl to be the certificate's key, the certificate to
# chain to `ca export` and name the device; the refusals: a CSR naming
# another device (4.03), a broken CSR signature (4.00), Accept 287 (4.06).
. "$(dirname "$0")/lib.sh"

kdc init >/dev/null
KEY='skg-test-key-0123456'
KEY_HEX=$(printf '%s' "$KEY" | od -An -tx1 | tr -d ' \n')
DEV=urn:dev:skg:1
kdc device add "$DEV" --psk-identity skg1 --psk "$KEY_HEX" >/dev/null
set_conf kdc log_level debug	# the most the daemon ever logs: still no secret
start_serve
EST="coaps://127.0.0.1:$COAP_PORT/.well-known/est"

client() {
	rm -f "$T/out.bin"
	timeout 20 coap-client-gnutls -v 7 -B 5 "$@" > "$T/client.out" 2> "$T/client.err" || true
}
psk() { client -u skg1 -k "$KEY" "$@"; }
got() { grep -qE "t:(ACK|CON|NON) c:$1 " "$T/client.out"; }
codes() { { grep -oE ' c:[0-9]\.[0-9]+ ' "$T/client.out" || true; } | tr -d ' ' | tr '\n' ' '; }
byte() { od -An -tu1 -j "$1" -N 1 "$T/out.bin" | tr -d ' '; }

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$DEV" \
	-keyout "$T/proof.key" -outform DER -out "$T/csr.der" 2>/dev/null
psk -m post -t 286 -A 62 -f "$T/csr.der" -o "$T/out.bin" "$EST/skg"
got '2\.04' || fail "skg not 2.04: $(codes) $(tail -3 "$T/serve.log")"
grep -qE "c:2\.04 .*Content-Format:62" "$T/client.out" || fail "skg answer not Content-Format 62"
size=$(stat -c %s "$T/out.bin")
[ "$size" -gt 300 ] && [ "$size" -lt 1500 ] || fail "skg body of $size bytes"
pass "POST skg: 2.04 multipart-core, $size bytes"

# Block-wise both ways: the CSR in 64-byte Block1 pieces, the answer in
# 64-byte Block2 pieces (RFC 7959 §3.3), the body joined by the client.
cp "$T/out.bin" "$T/whole.bin"
# coap-client sets Block1 only on a POST: Block2 (option 23) 0x02 asks for
# block 0 of 64 bytes
psk -m post -b 64 -O 23,0x02 -t 286 -A 62 -f "$T/csr.der" -o "$T/out.bin" "$EST/skg"
got '2\.31' || fail "skg -b 64: no 2.31 Continue (Block1): $(codes)"
nb=$({ grep -E 'c:2\.04 ' "$T/client.out" || true; } | { grep -oE 'Block2:[0-9]+/[_M]/64' || true; } | sort -u | wc -l)
want=$(( ($(stat -c %s "$T/out.bin") + 63) / 64 ))
[ "$nb" -gt 1 ] && [ "$nb" = "$want" ] ||
	fail "skg -b 64: $nb Block2 answers, want $want: $(grep -oE 'Block2:[^ ]*' "$T/client.out" | tr '\n' ' ')"
[ "$(stat -c %s "$T/out.bin")" -gt 300 ] || fail "skg in blocks: body of $(stat -c %s "$T/out.bin") bytes"
cmp -s "$T/out.bin" "$T/whole.bin" && fail "two skg answers are equal (the same key twice?)"
size=$(stat -c %s "$T/out.bin")
pass "POST skg with 64 B Block1 and $want 64 B Block2 pieces (the body decoded below)"

# [0x84] [0x19 0x01 0x1c] [bstr head] key [0x19 0x01 0x1f] [bstr head] cert
[ "$(byte 0)" = 132 ] && [ "$(byte 1)" = 25 ] && [ "$(byte 2)" = 1 ] &&
	[ "$(byte 3)" = 28 ] || fail "not [284, ...]: $(od -An -tx1 -N 8 "$T/out.bin")"
h=$(byte 4)
case "$h" in
88) klen=$(byte 5); koff=6 ;;					# 0x58 LL
89) klen=$(( $(byte 5) * 256 + $(byte 6) )); koff=7 ;;		# 0x59 HH LL
*) fail "key is not a bstr (head $h)" ;;
esac
c=$((koff + klen))
[ "$(byte $c)" = 25 ] && [ "$(byte $((c + 1)))" = 1 ] && [ "$(byte $((c + 2)))" = 31 ] ||
	fail "second part is not cf 287"
[ "$(byte $((c + 3)))" = 89 ] || fail "certificate is not a 2-byte-length bstr"
clen=$(( $(byte $((c + 4))) * 256 + $(byte $((c + 5))) ))
coff=$((c + 6))
[ $((coff + clen)) = "$size" ] || fail "lengths do not add up: $coff + $clen != $size"
dd if="$T/out.bin" of="$T/key.der" bs=1 skip="$koff" count="$klen" 2>/dev/null
dd if="$T/out.bin" of="$T/cert.der" bs=1 skip="$coff" count="$clen" 2>/dev/null
openssl pkey -inform DER -in "$T/key.der" -pubout -out "$T/key.pub" 2>/dev/null ||
	fail "part 284 is not a PKCS#8 key"
openssl x509 -inform DER -in "$T/cert.der" -pubkey -noout > "$T/cert.pub" ||
	fail "part 287 is not a certificate"
cmp -s "$T/key.pub" "$T/cert.pub" || fail "the key is not the certificate's key"
openssl req -inform DER -in "$T/csr.der" -pubkey -noout > "$T/proof.pub"
cmp -s "$T/proof.pub" "$T/cert.pub" && fail "the certificate certifies the CSR's key"
openssl x509 -inform DER -in "$T/cert.der" -out "$T/cert.pem"
openssl verify -CAfile "$T/ca.pem" "$T/cert.pem" >/dev/null || fail "certificate does not chain to the CA"
openssl x509 -in "$T/cert.pem" -noout -ext subjectAltName 2>/dev/null | grep -q "URI:$DEV" ||
	fail "certificate does not name $DEV"
pass "skg: PKCS#8 P-256 key + certificate of that key (not the CSR's), chains to the CA, names $DEV"

kdc audit list > "$T/audit.txt"
grep "cert.issue" "$T/audit.txt" | grep -q "est=skg by cred=" || fail "skg not audited"
# the KDC keeps no private key: the PKCS#8 bytes are nowhere in the store
# (the private scalar, as openssl prints it after "priv:")
kx=$(openssl pkey -inform DER -in "$T/key.der" -text -noout |
	sed -n '/^priv:/,/^pub:/p' | grep -vE '^(priv|pub):' | tr -d ' :\n' | sed 's/^00//')
[ ${#kx} -ge 60 ] || fail "could not read the private scalar: $kx"
od -An -tx1 -v "$T/key.der" | tr -d ' \n' | grep -qi "$kx" || fail "scalar not found in the PKCS#8 itself"
sqlite3 "$T/d/iotkdc.db" .dump | tr -d "\n'" | grep -qi "$kx" && fail "private key bytes found in the store"
pass "skg audited; the private key is not stored"

# ... nor logged, at log_level debug, on stderr or stdout: not the private
# scalar, not the PKCS#8 that carries it, not the manufacturer PSK
grep -q 'authenticated cred=' "$T/serve.log" || fail "no debug lines in serve.log: is debug logging on?"
p8=$(od -An -tx1 -v "$T/key.der" | tr -d ' \n' | cut -c1-64)
for f in serve.log serve.out; do
	tr -d ' :\n' < "$T/$f" | grep -qi "$kx" && fail "private key scalar in $f"
	tr -d ' :\n' < "$T/$f" | grep -qi "${kx:8:40}" && fail "part of the private key scalar in $f"
	tr -d ' :\n' < "$T/$f" | grep -qi "$p8" && fail "PKCS#8 bytes in $f"
	tr -d ' :\n' < "$T/$f" | grep -qi "$KEY_HEX" && fail "the manufacturer PSK (hex) in $f"
	grep -qF "$KEY" "$T/$f" && fail "the manufacturer PSK (text) in $f"
done
[ ! -s "$T/serve.out" ] || fail "the daemon printed on stdout: $(head -c 200 "$T/serve.out")"
pass "at log_level debug, no key, PKCS#8 or PSK in the daemon's output"

# ---- refusals ----------------------------------------------------------
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=urn:dev:other \
	-keyout "$T/o.key" -outform DER -out "$T/other.der" 2>/dev/null
psk -m post -t 286 -f "$T/other.der" "$EST/skg"
got '4\.03' || fail "skg with a CSR for another device not 4.03: $(codes)"
cp "$T/csr.der" "$T/badsig.der"
n=$(stat -c %s "$T/badsig.der")
printf '\x00\x01' | dd of="$T/badsig.der" bs=1 seek=$((n - 3)) conv=notrunc 2>/dev/null
psk -m post -t 286 -f "$T/badsig.der" "$EST/skg"
got '4\.00' || fail "skg with a broken CSR signature not 4.00: $(codes)"
psk -m post -t 286 -A 287 -f "$T/csr.der" "$EST/skg"
got '4\.06' || fail "skg Accept 287 not 4.06: $(codes)"
kdc audit list > "$T/audit.txt"
grep "est.enroll" "$T/audit.txt" | grep -q "DENIED" || fail "skg refusal not audited"
pass "skg refusals: another device 4.03, bad signature 4.00, Accept 287 4.06; audited"

kdc audit verify >/dev/null || fail "audit chain does not verify"
pass "audit chain verifies"
