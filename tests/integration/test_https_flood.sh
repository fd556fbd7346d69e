#!/usr/bin/env bash
# HTTPS listener under connection floods: /api/v1/health and /crl stay
# served to another address while one address holds silent connections
# (holdconns), trickles headers (slowhttptest -H, slowloris) or a body
# (slowhttptest -B); the per-address limit and the global one are logged;
# trickling clients are closed at their header / request deadline
# (limits.h: KDC_HTTP_HEADER_TIMEOUT 10 s, KDC_HTTP_REQUEST_TIMEOUT 30 s),
# which MHD's inactivity timeout alone never does.
. "$(dirname "$0")/lib.sh"

: "${HOLDCONNS:?run through ctest}"
command -v slowhttptest >/dev/null || fail "slowhttptest missing (make deps)"

# The default per-address limit (limits.h KDC_HTTP_CONN_PER_ADDR).
PER_ADDR=16

# HTTP status of a GET of PATH from source address SRC; "000" when it
# does not answer within 3 s.
probe() {
	curl -s -o /dev/null -w '%{http_code}' --interface "$1" --max-time 3 \
	    --cacert "$T/ca.pem" "https://127.0.0.1:$HTTPS_PORT$2" 2>/dev/null || true
}

# wait_for FILE ERE SECONDS: poll until a line of FILE matches.
wait_for() {
	local f=$1 pat=$2 n=$(($3 * 10))
	for _ in $(seq 1 "$n"); do
		grep -qE -- "$pat" "$f" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

stop_serve() {
	kill -TERM "$SERVE_PID"
	for _ in $(seq 1 100); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$SERVE_PID" 2>/dev/null && fail "serve did not stop on SIGTERM"
	wait "$SERVE_PID" || fail "serve exit status $? after SIGTERM"
	local keep=() p
	for p in "${PIDS[@]}"; do [ "$p" = "$SERVE_PID" ] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

# Probe /api/v1/health and /crl from SRC for as long as process PID runs
# (at most SECONDS); every answer must be a 200.
probe_while() {
	local src=$1 pid=$2 n=$(($3 * 10)) c k=0
	for _ in $(seq 1 "$n"); do
		if ! kill -0 "$pid" 2>/dev/null; then
			[ "$k" -ge 3 ] || fail "only $k probe rounds"
			PROBES=$k
			return 0
		fi
		c=$(probe "$src" /api/v1/health)
		[ "$c" = 200 ] || fail "health from $src answered '$c' (round $k)"
		c=$(probe "$src" /crl)
		[ "$c" = 200 ] || fail "/crl from $src answered '$c' (round $k)"
		k=$((k + 1))
		sleep 0.1
	done
	fail "process $pid still running after $3 s"
}

# slowhttptest's report in FILE: it ended because the server closed every
# connection ("No open connections left", not "Hit test time limit"), on
# second MAX or before.
slow_closed_by() {
	local f=$1 max=$2 sec
	grep -q 'No open connections left' "$f" ||
		fail "slowhttptest: $(grep -a 'Exit status' "$f" | sed 's/\x1b\[[0-9;]*m//g')"
	sec=$(grep -aoE 'Test ended on [0-9]+' "$f" | grep -oE '[0-9]+$')
	[ -n "$sec" ] && [ "$sec" -le "$max" ] ||
		fail "slowhttptest ended on second '${sec}', want <= $max"
	ENDED=$sec
}

kdc init >/dev/null

# ---- (a) 300 silent connections from 127.0.0.2 --------------------------
start_serve
timeout 60 "$HOLDCONNS" 127.0.0.2 127.0.0.1 "$HTTPS_PORT" 300 40 > "$T/flood.out" &
PIDS+=("$!")
wait_for "$T/flood.out" '^connected 300$' 20 || fail "flood did not connect: $(cat "$T/flood.out")"
# What is over the limit is refused at once; $PER_ADDR stay open.
wait_for "$T/flood.out" "^open $PER_ADDR\$" 5 || fail "flood holds: $(tail -1 "$T/flood.out")"
t0=$(date +%s%N)
c=$(probe 127.0.0.1 /api/v1/health)
[ "$c" = 200 ] || fail "health from 127.0.0.1 during the flood: '$c'"
c=$(probe 127.0.0.1 /crl)
[ "$c" = 200 ] || fail "/crl from 127.0.0.1 during the flood: '$c'"
ms=$((($(date +%s%N) - t0) / 1000000))
tail -1 "$T/flood.out" | grep -qx "open $PER_ADDR" || fail "flood lost its slots before the probes"
pass "300 idle connections from 127.0.0.2 hold $PER_ADDR; health and /crl from 127.0.0.1 answer 200 (${ms} ms for both)"
grep -qE "per-address limit $PER_ADDR reached \(127\.0\.0\.2 holds $PER_ADDR\)" "$T/serve.log" ||
	fail "no per-address warning in the log"
pass "the per-address refusal is logged with the address"
# Silent connections go at the header deadline (or MHD's idle timeout,
# both 10 s).
wait_for "$T/flood.out" '^open 0$' 15 || fail "idle connections still open: $(tail -1 "$T/flood.out")"
pass "the $PER_ADDR idle connections are closed within 15 s"
stop_serve

# ---- (b) slowloris from 127.0.0.1, probes from 127.0.0.2 ----------------
start_serve
timeout 60 slowhttptest -H -c 60 -r 30 -i 2 -x 10 -l 25 -p 2 -g -o "$T/slowh" \
    -u "https://127.0.0.1:$HTTPS_PORT/api/v1/health" > "$T/slowh.out" 2>&1 &
SLOW=$!
PIDS+=("$SLOW")
wait_for "$T/serve.log" "per-address limit $PER_ADDR reached \(127\.0\.0\.1 holds $PER_ADDR\)" 10 ||
	fail "slowloris did not reach the per-address limit"
probe_while 127.0.0.2 "$SLOW" 40
pass "slowloris: health and /crl from 127.0.0.2 answered 200 in all $PROBES rounds"
# slowhttptest sends a header line every 2 s: MHD's idle timeout never
# fires, only the header deadline (10 s) closes these, long before the
# test's 25 s.
slow_closed_by "$T/slowh.out" 15
grep -qE 'closed [0-9]+ connection\(s\) past their deadline: [1-9][0-9]* before their headers' "$T/serve.log" ||
	fail "no header-deadline closes in the log"
pass "slowloris: every connection closed by the header deadline (test ended on second $ENDED of 25)"
stop_serve

# ---- (c) slow body from 127.0.0.1, probes from 127.0.0.2 ----------------
start_serve
timeout 90 slowhttptest -B -c 30 -r 30 -i 2 -x 10 -s 8192 -l 45 -p 2 -g -o "$T/slowb" \
    -u "https://127.0.0.1:$HTTPS_PORT/api/v1/health" > "$T/slowb.out" 2>&1 &
SLOW=$!
PIDS+=("$SLOW")
wait_for "$T/serve.log" "per-address limit $PER_ADDR reached \(127\.0\.0\.1 holds $PER_ADDR\)" 10 ||
	fail "slow body did not reach the per-address limit"
probe_while 127.0.0.2 "$SLOW" 60
pass "slow body: health and /crl from 127.0.0.2 answered 200 in all $PROBES rounds"
# The request deadline (30 s after the headers) ends them before 45 s.
slow_closed_by "$T/slowb.out" 38
grep -qE 'closed [0-9]+ connection\(s\) past their deadline: [0-9]+ before their headers \([0-9]+ s\), [1-9][0-9]* in a request' "$T/serve.log" ||
	fail "no request-deadline closes in the log"
pass "slow body: every connection closed by the request deadline (test ended on second $ENDED of 45)"
stop_serve

# ---- (d) the global limit: 5 addresses x 64 > 256 -----------------------
set_conf http conns_per_address 64
start_serve
FLOODS=()
for a in 2 3 4 5 6; do
	timeout 60 "$HOLDCONNS" "127.0.0.$a" 127.0.0.1 "$HTTPS_PORT" 64 40 > "$T/flood$a.out" &
	PIDS+=("$!")
	FLOODS+=("$!")
done
wait_for "$T/serve.log" 'connection limit 256 reached: new connections wait in the listen backlog' 20 ||
	fail "no global-limit warning in the log"
pass "the global limit (256) is logged"
# A new client waits in the backlog until the deadlines free slots (10 s).
c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 --cacert "$T/ca.pem" \
    "https://127.0.0.1:$HTTPS_PORT/api/v1/health" 2>/dev/null || true)
[ "$c" = 200 ] || fail "health after the global flood: '$c'"
pass "past the global limit, health answers once the header deadline frees slots"
for p in "${FLOODS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
stop_serve
