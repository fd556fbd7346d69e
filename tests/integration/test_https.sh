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
