#!/usr/bin/env bash
# The load generators of make bench (bench/lg.h, issue 14 §4) against the
# real daemon, so that their counts can be trusted: every bootstrap
# bench_boot counts is one the daemon finished (logged done, from the
# loopback source address the tool says it uses), a wrong PSK is counted
# failed and never done; RPK and X.509 modes authenticate; bench_idle's
# sessions are answered; bench_flood's spoofed ClientHellos come from
# the addresses it names and get HelloVerifyRequests back.
. "$(dirname "$0")/lib.sh"
: "${KDC_BUILD_DIR:?run through ctest}"
B=$KDC_BUILD_DIR/bench
for t in bench_boot bench_idle bench_flood; do
	[ -x "$B/$t" ] || fail "$B/$t is not built"
done
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1; }

kdc init >/dev/null
N=20
(umask 077
for i in $(seq 0 $((N - 1))); do
	printf '{"id":"urn:dev:bt:%s","psk_identity":"bt%s","psk":"%s"}\n' "$i" "$i" \
		"$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
done > "$T/m.jsonl")
kdc device import "$T/m.jsonl" >/dev/null
# the same identities with other keys
sed -E 's/"psk":"[0-9a-f]+"/"psk":"00000000000000000000000000000000"/' "$T/m.jsonl" > "$T/wrong.jsonl"
cmp -s "$T/m.jsonl" "$T/wrong.jsonl" && fail "no wrong keys made"
start_serve

# full bootstraps: each counted one is done in the daemon
out=$("$B/bench_boot" -p "$COAP_PORT" -f "$T/m.jsonl" -n "$N" -c 4 -P 2 -a 30) ||
	fail "bench_boot: $out"
[ "$(kv "$out" ok)" = "$N" ] && [ "$(kv "$out" failed)" = 0 ] || fail "bench_boot: $out"
[ "$(kv "$out" suite)" = TLS_PSK_AES_128_CCM_8 ] || fail "suite: $out"
wait_log 'bootstrap done ep=urn:dev:bt:' "$N"
for i in $(seq 0 $((N - 1))); do
	grep -qE "bootstrap done ep=urn:dev:bt:$i kind=manufacturer from=127\.30\.0\.[0-9]+:" "$T/serve.log" ||
		fail "device $i did not bootstrap from 127.30.0.x"
done
# Discover, Delete /0, Delete /1, Write /0, Write /1, Finish: 6 requests
# from the server, each answered; with POST /bs, the handshake (3) and
# close_notify: 11 datagrams out
[ "$(kv "$out" dgrams_out)" = 11.0 ] || fail "datagrams out per bootstrap: $out"
pass "bench_boot: $N bootstraps counted, $N done in the daemon, from 127.30.0.x"

# a wrong key: failed in the handshake, never counted done
rc=0
out=$("$B/bench_boot" -p "$COAP_PORT" -f "$T/wrong.jsonl" -n 4 -c 4 -P 1 -a 31 -T 3) || rc=$?
[ "$rc" = 1 ] && [ "$(kv "$out" ok)" = 0 ] && [ "$(kv "$out" failed)" = 4 ] &&
	[ "$(kv "$out" hs_failed)" = 4 ] || fail "wrong PSKs (rc=$rc): $out"
[ "$(grep -c 'bootstrap done ep=urn:dev:bt:' "$T/serve.log")" = "$N" ] || fail "a wrong key bootstrapped"
pass "bench_boot: wrong PSKs fail the handshake and are counted failed"

# RPK and X.509 (as test_coaps_peers.sh provisions them)
openssl ecparam -genkey -name prime256v1 -noout -out "$T/rpk.pem" 2>/dev/null
openssl ec -in "$T/rpk.pem" -pubout -out "$T/rpk.pub" 2>/dev/null
kdc device add urn:dev:bt:rpk --rpk "$T/rpk.pub" >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bt-ca -days 2 \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
	-keyout "$T/mca.key" -out "$T/mca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
	-keyout "$T/dev.key" -out "$T/dev.csr" 2>/dev/null
printf 'subjectAltName=URI:urn:dev:bt:x509\nextendedKeyUsage=clientAuth\n' > "$T/ext"
openssl x509 -req -in "$T/dev.csr" -CA "$T/mca.pem" -CAkey "$T/mca.key" -CAcreateserial \
	-days 1 -extfile "$T/ext" -out "$T/dev.pem" 2>/dev/null
kdc mfg-ca add bt "$T/mca.pem" >/dev/null
kdc device add urn:dev:bt:x509 --cert >/dev/null
out=$("$B/bench_boot" -p "$COAP_PORT" -n 1 -c 1 -P 1 -a 32 -k rpk -e urn:dev:bt:rpk \
	-C "$T/rpk.pub" -K "$T/rpk.pem") || fail "bench_boot -k rpk: $out"
[ "$(kv "$out" ok)" = 1 ] && [ "$(kv "$out" suite)" = TLS_ECDHE_ECDSA_AES_128_CCM_8 ] &&
	[ "$(kv "$out" ctypes)" = RPK/X.509 ] || fail "bench_boot -k rpk: $out"
wait_log 'bootstrap done ep=urn:dev:bt:rpk '
out=$("$B/bench_boot" -p "$COAP_PORT" -n 1 -c 1 -P 1 -a 33 -k x509 -e urn:dev:bt:x509 \
	-C "$T/dev.pem" -K "$T/dev.key") || fail "bench_boot -k x509: $out"
[ "$(kv "$out" ok)" = 1 ] && [ "$(kv "$out" ctypes)" = X.509/X.509 ] || fail "bench_boot -k x509: $out"
wait_log 'bootstrap done ep=urn:dev:bt:x509 '
pass "bench_boot -k rpk / -k x509: bootstraps done"

# idle sessions: each answered (4.04 for an unknown path), the daemon's
# RSS read before and after
out=$("$B/bench_idle" -p "$COAP_PORT" -f "$T/m.jsonl" -n 50 -c 8 -P 2 -a 40 -s "$SERVE_PID") ||
	fail "bench_idle: $out"
[ "$(kv "$out" ok)" = 50 ] && [ "$(kv "$out" codes)" = 4.04:50 ] || fail "bench_idle: $out"
[ "$(kv "$out" rss_before_kb)" -gt 0 ] && [ "$(kv "$out" rss_after_kb)" -gt 0 ] || fail "no RSS: $out"
pass "bench_idle: 50 sessions answered 4.04, RSS read"

# the flood: spoofed sources (one address each), HelloVerifyRequests back
out=$("$B/bench_flood" -p "$COAP_PORT" -r 200 -d 0.5 -a 50) || fail "bench_flood: $out"
[ "$(kv "$out" sent)" = 100 ] && [ "$(kv "$out" send_errors)" = 0 ] || fail "bench_flood: $out"
[ "$(kv "$out" hvr)" -ge 50 ] || fail "bench_flood: too few HelloVerifyRequests: $out"
kill -0 "$SERVE_PID" || fail "the daemon died in the flood"
pass "bench_flood: 100 ClientHellos from 127.50.0.x, $(kv "$out" hvr) HelloVerifyRequests back"
