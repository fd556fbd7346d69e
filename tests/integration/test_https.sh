#!/usr/bin/env bash
# HTTPS listener: TLS 1.3 by default with the init-made certificate, checked
# by independent clients (curl, openssl s_client); TLS 1.2 refused unless
# configured; SIGTERM stops it cleanly.
. "$(dirname "$0")/lib.sh"

kdc init >/dev/null
start_serve

body=$(curl -sS --tlsv1.3 --cacert "$T/ca.pem" "https://127.0.0.1:$HTTPS_PORT/api/v1/health")
echo "$body" | grep -q '"status" *: *"ok"' || fail "health body: $body"
pass "curl --tlsv1.3 health with the CA from ca export"

curl -sS --tlsv1.3 --cacert "$T/ca.pem" "https://localhost:$HTTPS_PORT/ca.pem" > "$T/served.pem"
cmp -s "$T/served.pem" "$T/ca.pem" || fail "/ca.pem differs from ca export"
pass "GET /ca.pem (name localhost verified) equals ca export"

has 404 curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.pem" "https://127.0.0.1:$HTTPS_PORT/nope" || fail "404"
has 405 curl -s -o /dev/null -w '%{http_code}' -X POST --cacert "$T/ca.pem" "https://127.0.0.1:$HTTPS_PORT/api/v1/health" || fail "405"
pass "unknown path 404, wrong method 405"

# TLS 1.2 is refused by default, by two independent clients.
if echo | openssl s_client -connect "127.0.0.1:$HTTPS_PORT" -tls1_2 -CAfile "$T/ca.pem" >/dev/null 2>&1; then
	fail "openssl s_client -tls1_2 was accepted"
fi
if curl -s --tlsv1.2 --tls-max 1.2 --cacert "$T/ca.pem" "https://127.0.0.1:$HTTPS_PORT/api/v1/health" >/dev/null 2>&1; then
	fail "curl TLS 1.2 was accepted"
fi
echo | openssl s_client -connect "127.0.0.1:$HTTPS_PORT" -tls1_3 -CAfile "$T/ca.pem" -verify_return_error > "$T/s.out" 2>/dev/null || fail "s_client tls1_3"
grep -q 'Verify return code: 0' "$T/s.out" || fail "s_client tls1_3 verify"
pass "TLS 1.2 refused, TLS 1.3 verifies with openssl s_client"

kill -TERM "$SERVE_PID"
for _ in $(seq 1 50); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SERVE_PID" 2>/dev/null && fail "serve did not stop on SIGTERM"
wait "$SERVE_PID" && rc=0 || rc=$?
[ "$rc" -eq 0 ] || fail "serve exit status $rc after SIGTERM"
grep -q "stopped" "$T/serve.log" || fail "no clean stop in log"
PIDS=()
pass "SIGTERM drains and exits 0"

# With tls12 = true in the config, TLS 1.2 is accepted.
set_conf http tls12 true
start_serve
has ok curl -sS --tlsv1.2 --tls-max 1.2 --cacert "$T/ca.pem" "https://127.0.0.1:$HTTPS_PORT/api/v1/health" || fail "tls12 = true but TLS 1.2 refused"
pass "tls12 = true enables TLS 1.2"

# TLS 1.2 is AEAD with ECDHE only (the server key is ECDSA): CBC suites,
# with a SHA-1 or a SHA-2 MAC, and a suite without ECDHE are refused, by
# two independent clients; ECDHE AEAD suites verify.
for c in ECDHE-ECDSA-AES128-SHA ECDHE-ECDSA-AES256-SHA ECDHE-ECDSA-AES128-SHA256 AES128-GCM-SHA256; do
	if echo | timeout 10 openssl s_client -connect "127.0.0.1:$HTTPS_PORT" -tls1_2 -cipher "$c" -CAfile "$T/ca.pem" >/dev/null 2>&1; then
		fail "openssl s_client -tls1_2 -cipher $c was accepted"
	fi
	if timeout 10 curl -s --tlsv1.2 --tls-max 1.2 --ciphers "$c" --cacert "$T/ca.pem" "https://127.0.0.1:$HTTPS_PORT/api/v1/health" >/dev/null 2>&1; then
		fail "curl TLS 1.2 --ciphers $c was accepted"
	fi
done
for c in ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-ECDSA-CHACHA20-POLY1305; do
	echo | timeout 10 openssl s_client -connect "127.0.0.1:$HTTPS_PORT" -tls1_2 -cipher "$c" -CAfile "$T/ca.pem" -verify_return_error > "$T/s.out" 2>/dev/null || fail "s_client -tls1_2 -cipher $c refused"
	grep -q "Cipher is $c" "$T/s.out" || fail "s_client -tls1_2 -cipher $c: $(grep Cipher "$T/s.out")"
done
pass "tls12 = true: TLS 1.2 refuses CBC and non-ECDHE suites, accepts ECDHE AEAD ones"

# TLS 1.3 is still what a client that offers both gets.
echo | timeout 10 openssl s_client -connect "127.0.0.1:$HTTPS_PORT" -CAfile "$T/ca.pem" -verify_return_error > "$T/s.out" 2>/dev/null || fail "s_client default"
grep -q 'New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384' "$T/s.out" || fail "default handshake: $(grep 'New,' "$T/s.out")"
pass "tls12 = true: a default client still gets TLS 1.3 (TLS_AES_256_GCM_SHA384)"
