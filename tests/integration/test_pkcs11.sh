#!/usr/bin/env bash
# The CA key in a PKCS#11 token (SoftHSM2): init --ca-key, then a
# certificate it signs verifies with openssl; no CA key file is written.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$T" > "$T/softhsm2.conf"
export SOFTHSM2_CONF="$T/softhsm2.conf"
MODULE=/usr/lib/softhsm/libsofthsm2.so
softhsm2-util --init-token --free --label kdcca --pin 1234 --so-pin 5678 >/dev/null
p11tool --provider "$MODULE" --login --set-pin=1234 --generate-privkey=ECDSA --curve=secp256r1 \
	--label=ca 'pkcs11:token=kdcca' >/dev/null 2>&1 || fail "p11tool keygen"
export IOTKDC_PKCS11_MODULE="$MODULE"
URL='pkcs11:token=kdcca;object=ca;type=private?pin-value=1234'

kdc init --ca-key "$URL" >/dev/null
[ ! -e "$T/d/ca.key" ] || fail "a CA key file was written despite --ca-key"
grep -q '^key = pkcs11:' "$T/d/iotkdc.conf" || fail "config does not name the token key"
kdc ca export > "$T/ca.pem"
has 'CA:TRUE' openssl x509 -in "$T/ca.pem" -noout -text || fail "CA cert"
pass "init --ca-key with a SoftHSM2 key"

kdc device add urn:dev:hsm:1 --cert >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
	-keyout "$T/k.pem" -out "$T/r.csr" 2>/dev/null
kdc cert sign "$T/r.csr" --device urn:dev:hsm:1 > "$T/c.pem"
openssl verify -CAfile "$T/ca.pem" "$T/c.pem" >/dev/null || fail "openssl verify"
pass "token-held CA signs a certificate that openssl verifies"

# tls reissue signs the listeners' certificate with the token key too
set_conf kdc hosts "hsm.example.test"
kdc tls reissue > "$T/reissue.out" || fail "tls reissue with the token CA"
grep -q 'naming localhost, 127.0.0.1, ::1, hsm.example.test;' "$T/reissue.out" || fail "reissue: $(cat "$T/reissue.out")"
openssl verify -CAfile "$T/ca.pem" -purpose sslserver "$T/d/server.pem" >/dev/null || fail "server.pem does not verify"
has 'DNS:hsm.example.test' openssl x509 -in "$T/d/server.pem" -noout -ext subjectAltName || fail "server.pem SAN"
pass "tls reissue with the token-held CA: server.pem verifies and names the host"

# The ACE AS key in the token too ([ace] key): an asymmetric-PoP token
# the daemon signs verifies (python3-cryptography) with `ace pubkey`,
# which is the token's key; no as.key file is used.
p11tool --provider "$MODULE" --login --set-pin=1234 --generate-privkey=ECDSA --curve=secp256r1 \
	--label=as 'pkcs11:token=kdcca' >/dev/null 2>&1 || fail "p11tool keygen (as)"
set_conf ace key 'pkcs11:token=kdcca;object=as;type=private?pin-value=1234'
rm -f "$T/d/as.key"
kdc ace pubkey --pem > "$T/as.pub" || fail "ace pubkey with the token key"
p11tool --provider "$MODULE" --export-pubkey 'pkcs11:token=kdcca;object=as;type=public' > "$T/as.tok.pub" 2>/dev/null ||
	p11tool --provider "$MODULE" --login --set-pin=1234 --export-pubkey 'pkcs11:token=kdcca;object=as' > "$T/as.tok.pub" 2>/dev/null ||
	fail "p11tool export-pubkey"
[ "$(openssl pkey -pubin -in "$T/as.pub" -outform DER | sha256sum)" = \
  "$(openssl pkey -pubin -in "$T/as.tok.pub" -outform DER | sha256sum)" ] || fail "ace pubkey is not the token's key"
[ ! -e "$T/d/as.key" ] || fail "an as.key file was made despite [ace] key"
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/asrs.hex"
chmod 600 "$T/asrs.hex"
kdc ace rs add lock1 --key-file "$T/asrs.hex" >/dev/null
openssl ecparam -genkey -name prime256v1 -noout -out "$T/rpk.pem" 2>/dev/null
openssl ec -in "$T/rpk.pem" -pubout -out "$T/rpk.pub" 2>/dev/null
kdc device add urn:dev:hsm:ace --rpk "$T/rpk.pub" >/dev/null
kdc ace grant urn:dev:hsm:ace lock1 open >/dev/null
start_serve
PY=/usr/bin/python3
PEER="$(dirname "$0")/ace_peer.py"
"$PY" "$PEER" req lock1 open --pub "$T/rpk.pub" > "$T/req.cbor"
timeout 20 coap-client-gnutls -v 7 -B 5 -m post -R "$T/ca.pem" -M "$T/rpk.pem" -t 19 -f "$T/req.cbor" \
	-o "$T/resp.cbor" "coaps://127.0.0.1:$COAP_PORT/token" > "$T/client.out" 2>&1 || true
grep -qaE "t:(ACK|CON) c:2\.01 " "$T/client.out" || fail "token with the token-held AS key: $(grep -a ' c:' "$T/client.out" | tail -2)"
"$PY" "$PEER" check-asym "$T/resp.cbor" "$T/as.pub" lock1 open "$T/rpk.pub" >/dev/null ||
	fail "the Sign1 token does not verify with the token's key"
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true
pass "ACE AS key in the token: a Sign1 token verifies with it (python3-cryptography)"

# The token is required: without it, signing fails with one line.
export SOFTHSM2_CONF="$T/none.conf"
printf 'directories.tokendir = %s/empty\n' "$T" > "$T/none.conf"; mkdir -p "$T/empty"
expect_fail 'CA: ' kdc cert sign "$T/r.csr" --device urn:dev:hsm:1
before=$(sha256sum "$T/d/server.pem" "$T/d/server.key")
expect_fail 'CA: ' kdc tls reissue
[ "$(sha256sum "$T/d/server.pem" "$T/d/server.key")" = "$before" ] || fail "a failed reissue changed the files"
pass "missing token refused clearly (cert sign, tls reissue: files unchanged)"
