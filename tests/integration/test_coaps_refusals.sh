#!/usr/bin/env bash
# Refused DTLS handshakes leave a trace, and only a finished handshake
# authenticates. Against the real daemon with coap-client-gnutls:
# - an unknown PSK identity or raw public key: audited by core/, logged at
#   info;
# - 50 handshakes with a wrong PSK for a known identity: 50 audit records
#   (auth.psk, the identity, WRONG_KEY), info lines for them but
#   rate-limited (a flood does not flood the log, and the next line says
#   how many were not logged), and never "authenticated";
# - the right key still works: its "identity found" comes before its
#   "authenticated", and the request is served (4.04 for an unknown path,
#   not the 4.01 of an unauthenticated peer);
# - a stored secret altered in the database (the daemon stopped) is
#   refused with the right key: audited BAD_KEY, logged at info, and the
#   audit chain still verifies; another device is unaffected.
. "$(dirname "$0")/lib.sh"

kdc init >/dev/null
set_conf kdc log_level debug	# "authenticated" is a debug line
KEY='kdc-test-key-0123'			# coap-client -k takes the key as text
KEY2='other-key-0123456'
hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
hex "$KEY" | kdc device add urn:dev:rf:1 --psk-identity rf1 --psk-file - >/dev/null
hex "$KEY2" | kdc device add urn:dev:rf:2 --psk-identity rf2 --psk-file - >/dev/null
start_serve

# One GET on the KDC endpoint; its output in $T/c.$1.out. coap-client
# 4.3.1 exits 0 whatever happens; -B bounds a handshake nobody ends.
cc() {
	local n=$1; shift
	timeout 20 coap-client-gnutls -v 7 -B 5 -m get "$@" \
		"coaps://127.0.0.1:$COAP_PORT/no-such-path" > "$T/c.$n.out" 2>&1 || true
}
answered() { grep -qE "t:(ACK|CON|NON) c:$2 " "$T/c.$1.out"; }
refusal_lines() { grep -c 'info kdc_coap_auth_refused: .*auth\.psk identity=rf1 refused: .*peer did not prove the key' "$T/serve.log" || true; }

# ---- unknown identity, unknown raw public key ------------------------------
cc unk -u nobody -k "$KEY"
answered unk '[0-9]\.[0-9]+' && fail "an unknown identity got a response"
openssl ecparam -genkey -name prime256v1 -noout -out "$T/rpk.pem" 2>/dev/null
cc rpk -R "$T/ca.pem" -M "$T/rpk.pem"
answered rpk '[0-9]\.[0-9]+' && fail "an unknown raw public key got a response"
for _ in $(seq 1 50); do
	has 'auth\.rpk .*UNKNOWN_DEVICE' kdc audit list && break
	sleep 0.1
done
has 'coap +auth\.psk +nobody +UNKNOWN_DEVICE' kdc audit list || fail "unknown identity not audited"
has 'coap +auth\.rpk +[0-9a-f]{16} +UNKNOWN_DEVICE' kdc audit list || fail "unknown raw public key not audited"
grep -q 'info kdc_coap_auth_refused: .*auth\.psk identity=nobody refused: core refused it: unknown device' "$T/serve.log" ||
	fail "unknown identity not logged at info"
grep -qE 'info kdc_coap_auth_refused: .*auth\.rpk spki_sha256=[0-9a-f]{16} refused: core refused it: unknown device' "$T/serve.log" ||
	fail "unknown raw public key not logged at info"
pass "unknown identity, unknown raw public key: refused, audited (by core/), logged at info"

# ---- 50 wrong keys, 10 clients at a time --------------------------------
t0=$(date +%s%N)
for b in 1 2 3 4 5; do
	pids=()
	for i in $(seq 1 10); do
		cc "w$b.$i" -u rf1 -k 'wrong-key-abcdefg' &
		pids+=($!)
	done
	wait "${pids[@]}"
done
t1=$(date +%s%N)
for b in 1 2 3 4 5; do for i in $(seq 1 10); do
	answered "w$b.$i" '[0-9]\.[0-9]+' && fail "a wrong PSK got a response: $(cat "$T/c.w$b.$i.out")"
done; done
# the refusals are audited as they happen: poll (at most 20 s) for all
# 50. Each is WRONG_KEY (its Finished did not decrypt); on a loaded
# machine a handshake may end otherwise first (the client gave up and
# retried), and is then refused as CLOSED when its session ends: either
# way one record per handshake, naming the identity, credential and peer.
refused_rf1() { grep -cE 'coap +auth\.psk +rf1 +(WRONG_KEY|CLOSED) +cred=1 device=urn:dev:rf:1: .*from=127\.0\.0\.1:' "$T/audit.txt" || true; }
for _ in $(seq 1 200); do
	kdc audit list > "$T/audit.txt"
	n=$(refused_rf1)
	[ "$n" -ge 50 ] && break
	sleep 0.1
done
[ "$n" = 50 ] || fail "want 50 audit records of refused rf1 handshakes, got $n: $(grep 'auth\.psk +rf1' "$T/audit.txt" | head -3)"
nwk=$(grep -cE 'coap +auth\.psk +rf1 +WRONG_KEY ' "$T/audit.txt" || true)
[ "$nwk" -ge 1 ] || fail "no refusal was told apart as WRONG_KEY"
pass "50 wrong-PSK handshakes for a known identity: 50 audit records ($nwk WRONG_KEY, the rest CLOSED)"

# Info lines: at least one, at most the limiter's burst (20) plus its
# rate (5/s) over the flood's duration; never "authenticated".
lines=$(refusal_lines)
secs=$(( (t1 - t0) / 1000000000 + 2 ))	# second boundaries crossed, rounded up
max=$(( 20 + 5 * secs ))
[ "$lines" -ge 1 ] || fail "no info line for the refused handshakes"
[ "$lines" -le "$max" ] || fail "$lines info lines for 50 refusals in ${secs}s: not rate-limited (max $max)"
[ "$max" -lt 50 ] || fail "the flood took ${secs}s: too slow to tell a limited log from an unlimited one"
grep -q 'authenticated' "$T/serve.log" && fail "a wrong key logged 'authenticated': $(grep authenticated "$T/serve.log" | head -2)"
grep -qF -e 'wrong-key-abcdefg' -e "$KEY" -e "$(hex "$KEY")" "$T/serve.log" && fail "a key is in the log"
# once the bucket refills (it refills by the second), the next refusal
# says how many were dropped: tries go on until one does, for at most
# 10 s (a fast machine runs many tries within one second)
t_end=$(( $(date +%s) + 10 ))
i=0
while [ "$(date +%s)" -le "$t_end" ]; do
	grep -qE 'info kdc_coap_auth_refused: \([0-9]+ refusals and closures of peers not logged' "$T/serve.log" && break
	i=$((i + 1))
	cc "late$i" -u rf1 -k 'wrong-key-abcdefg'
done
grep -qE 'info kdc_coap_auth_refused: \([0-9]+ refusals and closures of peers not logged' "$T/serve.log" ||
	fail "no line says how many refusals were not logged"
pass "info lines: $lines for 50 refusals in ${secs}s (limit $max), the dropped count logged after, no 'authenticated'"

# ---- the right key -------------------------------------------------------
cc ok -u rf1 -k "$KEY"
answered ok '4\.04' || fail "right key: want 4.04 (authenticated, unknown path): $(grep ' c:' "$T/c.ok.out" | head -3)"
# the peer's two lines, in order: found, then authenticated after the
# handshake
grep -n "identity found cred=1 type=psk" "$T/serve.log" > "$T/found.txt" || fail "no 'identity found' line"
grep -n "authenticated cred=1 type=psk device=urn:dev:rf:1" "$T/serve.log" > "$T/authd.txt" || fail "no 'authenticated' line for the right key"
[ "$(wc -l < "$T/authd.txt")" = 1 ] || fail "want one 'authenticated' line: $(cat "$T/authd.txt")"
addr=$(sed -E 's/.*peer=([^ ]+) .*/\1/' "$T/authd.txt")
found_at=$(grep -F "peer=$addr " "$T/found.txt" | cut -d: -f1)
authd_at=$(cut -d: -f1 < "$T/authd.txt")
[ -n "$found_at" ] && [ "$found_at" -lt "$authd_at" ] ||
	fail "'authenticated' (line $authd_at) not after the identity lookup of peer $addr (line ${found_at:-none})"
pass "right key: served (4.04), 'authenticated' logged after the handshake, not at the lookup"

# ---- a stored secret that does not unwrap ---------------------------------
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" || true
db="$T/d/iotkdc.db"
w=$(sqlite3 "$db" "SELECT hex(wrapped) FROM credentials WHERE identity = 'rf1'")
[ "${#w}" -gt 60 ] || fail "no wrapped PSK for rf1"
b=${w:40:2}
w2="${w:0:40}$(printf '%02X' $(( 0x$b ^ 0x01 )))${w:42}"
sqlite3 "$db" "UPDATE credentials SET wrapped = X'$w2' WHERE identity = 'rf1'"
[ "$(sqlite3 "$db" "SELECT hex(wrapped) FROM credentials WHERE identity = 'rf1'")" = "$w2" ] || fail "the byte was not flipped"
restart_serve
cc bad -u rf1 -k "$KEY"
answered bad '[0-9]\.[0-9]+' && fail "an altered stored secret let the peer in: $(grep ' c:' "$T/c.bad.out" | head -2)"
for _ in $(seq 1 50); do
	has 'auth\.psk +urn:dev:rf:1 +BAD_KEY' kdc audit list && break
	sleep 0.1
done
# core/ audits it (subject the device, the identity in the detail)
has 'coap +auth\.psk +urn:dev:rf:1 +BAD_KEY +cred=1 identity=rf1: stored key does not unwrap' kdc audit list ||
	fail "the unwrap failure was not audited: $(kdc audit list | tail -3)"
[ "$(kdc audit list | grep -c 'BAD_KEY')" = 1 ] || fail "the unwrap failure audited more than once"
grep -q 'info kdc_coap_auth_refused: .*auth\.psk identity=rf1 refused: the stored secret does not unwrap' "$T/serve.log" ||
	fail "the unwrap failure was not logged at info"
grep -q 'authenticated' "$T/serve.log" && fail "'authenticated' logged for a refused peer"
kdc audit verify > "$T/verify.txt" || fail "audit verify: $(cat "$T/verify.txt")"
cc other -u rf2 -k "$KEY2"
answered other '4\.04' || fail "control: the other device no longer authenticates"
pass "altered wrapped PSK: refused with the right key, audited BAD_KEY, logged at info; audit chain verifies; rf2 unaffected"
