#!/usr/bin/env bash
# `iotkdc tls reissue`: the listeners' certificate again, from the config
# as it is now. Checked by an independent client (openssl s_client
# -verify_hostname / -verify_ip against the CA): the names in [kdc] hosts
# and the host of [lwm2m] server_uri verify after a reissue and a restart,
# a name not configured does not. `serve` warns at start, one line per
# name the certificate lacks, and is quiet once it is there. A device
# bootstrapped in X.509 mode gets the certificate serve now presents in
# /0/x/4 (its registration checks it), and one that kept the old /0/x/4
# is refused until it bootstraps again.
. "$(dirname "$0")/lib.sh"
: "${IOTKDC_DEVICE:?the iotkdc-device simulator is not built}"
dev() { timeout 60 "$IOTKDC_DEVICE" "$@"; }

# serve again on the same ports: a bootstrapped device keeps the URI
restart_serve() {
	"$IOTKDC" --dir "$T/d" serve > "$T/serve.out" 2> "$T/serve.log" &
	SERVE_PID=$!
	PIDS+=("$SERVE_PID")
	wait_serving
}

stop_serve() {
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID" || fail "serve exit status $? after SIGTERM"
	PIDS=()
}

# verify NAME_OPTION VALUE: s_client against the HTTPS listener, CA only.
verify() {
	echo | openssl s_client -connect "127.0.0.1:$HTTPS_PORT" -CAfile "$T/ca.pem" \
		"$1" "$2" > "$T/s.out" 2>&1 || true
	grep -q '^ *Verify return code: 0 (ok)' "$T/s.out"
}
verify_strict() {
	echo | openssl s_client -connect "127.0.0.1:$HTTPS_PORT" -CAfile "$T/ca.pem" \
		-verify_return_error "$1" "$2" > "$T/s.out" 2>&1
}

warned() { grep -q "warn tls_names_check: .*server.pem does not name host=$1 " "$T/serve.log"; }

kdc init >/dev/null
cat >> "$T/d/iotkdc.conf" <<CONF

[profile op-x509]
cred_type = x509
CONF
kdc device add urn:dev:tls:1 --psk-identity tls1 --psk 000102030405060708090a0b0c0d0e0f \
	--profile op-x509 >/dev/null
PSK=(--psk-identity tls1 --psk 000102030405060708090a0b0c0d0e0f)

# --- the init certificate, a device bootstrapped with it -------------------
start_serve
grep -q 'warn tls_names_check' "$T/serve.log" && fail "init certificate: warned: $(grep warn "$T/serve.log")"
dev bootstrap --server "coaps://127.0.0.1:$COAP_PORT" --ep urn:dev:tls:1 "${PSK[@]}" \
	--state "$T/old.state" 2> "$T/err" || fail "bootstrap: $(cat "$T/err")"
dev register --state "$T/old.state" > "$T/reg" 2> "$T/err" || fail "register: $(cat "$T/err")"
pass "init certificate: no warning; an X.509 device bootstraps and registers"

# --- new [kdc] hosts: not in the certificate until it is re-issued ---------
stop_serve
set_conf kdc hosts "kdc.example.test, 10.1.2.3"
restart_serve
warned kdc.example.test || fail "no warning for kdc.example.test"
warned 10.1.2.3 || fail "no warning for 10.1.2.3"
[ "$(grep -c 'warn tls_names_check' "$T/serve.log")" = 2 ] || fail "want 2 warnings: $(grep warn "$T/serve.log")"
verify -verify_hostname kdc.example.test && fail "kdc.example.test verifies before the reissue"
verify -verify_hostname localhost || fail "control: localhost does not verify: $(cat "$T/s.out")"
pass "[kdc] hosts changed: serve warns for each name, s_client refuses it (localhost verifies)"

stop_serve
old_key=$(sha256sum < "$T/d/server.key")
old_spki=$(openssl x509 -in "$T/d/server.pem" -noout -pubkey | sha256sum)
kdc tls reissue > "$T/out" 2> "$T/err" || fail "tls reissue: $(cat "$T/err")"
[ "$(wc -l < "$T/out")" = 1 ] && [ ! -s "$T/err" ] || fail "want one line: $(cat "$T/out" "$T/err")"
grep -q "naming localhost, 127.0.0.1, ::1, kdc.example.test, 10.1.2.3;" "$T/out" ||
	fail "names: $(cat "$T/out")"
[ "$(stat -c %a "$T/d/server.key")" = 600 ] || fail "server.key mode"
[ "$(stat -c %a "$T/d/server.pem")" = 644 ] || fail "server.pem mode"
grep -q -- '-----BEGIN' "$T/d/server.key" && fail "server.key is not wrapped"
[ "$(sha256sum < "$T/d/server.key")" != "$old_key" ] || fail "server.key unchanged"
[ "$(openssl x509 -in "$T/d/server.pem" -noout -pubkey | sha256sum)" != "$old_spki" ] || fail "same key"
ls "$T/d" | grep -qE '~|\.tmp\.' && fail "temporary files left: $(ls "$T/d")"
openssl verify -CAfile "$T/ca.pem" -purpose sslserver "$T/d/server.pem" > /dev/null || fail "openssl verify"
has 'tls\.reissue +server\.pem +ok +days=825 names=localhost, 127\.0\.0\.1, ::1, kdc\.example\.test, 10\.1\.2\.3' \
	kdc audit list || fail "not audited: $(kdc audit list | tail -2)"
has 'audit chain ok' kdc audit verify || fail "audit verify"
pass "tls reissue: one line naming them, a new key, same modes, key wrapped, no temp file, audited"

restart_serve
grep -q 'warn tls_names_check' "$T/serve.log" && fail "warned after the reissue: $(grep warn "$T/serve.log")"
verify_strict -verify_hostname kdc.example.test || fail "kdc.example.test: $(grep -i verif "$T/s.out")"
grep -q '^ *Verify return code: 0 (ok)' "$T/s.out" || fail "kdc.example.test: verify code"
verify_strict -verify_ip 10.1.2.3 || fail "10.1.2.3: $(grep -i verif "$T/s.out")"
grep -q '^ *Verify return code: 0 (ok)' "$T/s.out" || fail "10.1.2.3: verify code"
verify -verify_hostname other.example.test && fail "other.example.test verifies"
grep -q 'Verify return code: 62 (hostname mismatch)' "$T/s.out" || fail "other.example.test: $(grep -i verif "$T/s.out")"
verify_strict -verify_hostname other.example.test && fail "other.example.test: handshake completed with -verify_return_error"
verify -verify_ip 10.1.2.4 && fail "10.1.2.4 verifies"
verify -verify_hostname localhost || fail "localhost no longer verifies"
pass "after reissue + restart: kdc.example.test and 10.1.2.3 verify (code 0), other.example.test and 10.1.2.4 do not"

# --- an LwM2M Server URI whose host the certificate does not name ----------
stop_serve
set_conf lwm2m server_uri "coaps://unlisted.example.test:5685"
restart_serve
warned unlisted.example.test || fail "no warning for the server URI host: $(grep warn "$T/serve.log")"
grep "does not name host=unlisted.example.test " "$T/serve.log" | grep -q "(\[lwm2m\] server_uri): devices told this LwM2M Server URI refuse" ||
	fail "warning does not say where the name comes from: $(grep warn "$T/serve.log")"
grep "does not name host=unlisted.example.test " "$T/serve.log" | grep -q "add it to \[kdc\] hosts .*run 'iotkdc tls reissue' and restart serve" ||
	fail "warning does not say what to do: $(grep warn "$T/serve.log")"
[ "$(grep -c 'warn tls_names_check' "$T/serve.log")" = 1 ] || fail "want 1 warning: $(grep warn "$T/serve.log")"
verify -verify_hostname unlisted.example.test && fail "unlisted.example.test verifies before the reissue"
pass "[lwm2m] server_uri host not in the certificate: serve warns once, naming it and what to do"

stop_serve
kdc tls reissue > "$T/out" || fail "tls reissue"
grep -q "naming localhost, 127.0.0.1, ::1, kdc.example.test, 10.1.2.3, unlisted.example.test;" "$T/out" ||
	fail "the server URI host is not in: $(cat "$T/out")"
restart_serve
grep -q 'warn tls_names_check' "$T/serve.log" && fail "warned after the reissue: $(grep warn "$T/serve.log")"
verify_strict -verify_hostname unlisted.example.test || fail "unlisted.example.test: $(grep -i verif "$T/s.out")"
grep -q '^ *Verify return code: 0 (ok)' "$T/s.out" || fail "unlisted.example.test: verify code"
verify -verify_hostname kdc.example.test || fail "kdc.example.test no longer verifies"
pass "tls reissue takes the server URI host itself: no warning, it verifies"

# --- /0/x/4 follows the certificate serve presents --------------------------
stop_serve
set_conf lwm2m server_uri ""
kdc tls reissue > /dev/null || fail "tls reissue"
restart_serve
if dev register --state "$T/old.state" > "$T/reg" 2> "$T/err"; then
	fail "a device holding the old certificate in /0/x/4 registered"
fi
grep -q 'server key does not match /0/' "$T/err" || fail "old /0/x/4: $(cat "$T/err")"
dev bootstrap --server "coaps://127.0.0.1:$COAP_PORT" --ep urn:dev:tls:1 "${PSK[@]}" \
	--state "$T/new.state" 2> "$T/err" || fail "bootstrap: $(cat "$T/err")"
dev register --state "$T/new.state" > "$T/reg" 2> "$T/err" || fail "register after re-bootstrap: $(cat "$T/err")"
grep -q 'rd/' "$T/reg" || fail "no location: $(cat "$T/reg")"
pass "after reissue: the old /0/x/4 is refused, a new bootstrap writes the new certificate and registers"

# --- refusals change nothing -----------------------------------------------
stop_serve
set_conf lwm2m server_uri "lwm2m.example.test:5685"
before=$(sha256sum "$T/d/server.pem" "$T/d/server.key")
expect_fail 'server_uri "lwm2m.example.test:5685": cannot read its host .*nothing changed' kdc tls reissue
[ "$(sha256sum "$T/d/server.pem" "$T/d/server.key")" = "$before" ] || fail "a refused reissue changed the files"
has 'tls\.reissue +server\.pem +MALFORMED +\[lwm2m\] server_uri has no readable host' kdc audit list || fail "refusal not audited: $(kdc audit list | tail -1)"
expect_fail "tls reissue takes 0 arguments" kdc tls reissue extra
has 'Re-issue the listeners' "$IOTKDC" tls reissue --help || fail "--help"
pass "a server_uri without a host is refused (files unchanged, audited); usage errors"
