#!/usr/bin/env bash
# bench/tdd.sh BUILD: the Thing Directory rows of make bench (issue 17 §4),
# printed as the "## Thing Directory" section of bench/results.md
# (markdown on stdout). bench/run.sh calls it (`bench/run.sh BUILD tdd`,
# make bench-tdd, runs only these rows).
#   BENCH_TDD_SIZES (10,1000,10000,100000,1000000)  stored TDs searched
#   BENCH_TDD_QUERIES (100)    random queries per size (the anchors' 100)
#   BENCH_TDD_GET_TDS (10000)  TDs in the daemon for the GET rows
#   BENCH_TDD_CONNS (8)        keep-alive connections of the GET rows
#   BENCH_TDD_SECONDS (5)      seconds per GET row
set -euo pipefail
BUILD=${1:-build}
SIZES=${BENCH_TDD_SIZES:-10,1000,10000,100000,1000000}
NQ=${BENCH_TDD_QUERIES:-100}
GET_TDS=${BENCH_TDD_GET_TDS:-10000}
CONNS=${BENCH_TDD_CONNS:-8}
SECS=${BENCH_TDD_SECONDS:-5}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
SERVE_PID=
cleanup() {
	local rc=$?
	if [ -n "$SERVE_PID" ]; then
		kill -TERM "$SERVE_PID" 2>/dev/null || true
		wait "$SERVE_PID" 2>/dev/null || true
	fi
	if [ $rc -ne 0 ]; then
		for f in "$tmp"/*.log "$tmp"/*.err; do [ -f "$f" ] && { echo "--- $f"; tail -n 5 "$f"; } >&2; done
	fi
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "bench/tdd.sh: $*" >&2; exit 1; }

IOTKDC=./$BUILD/iotkdc
BT=./$BUILD/bench/bench_tdd
BG=./$BUILD/bench/bench_tdd_get
FREEPORT=./$BUILD/tests/freeport
for b in "$IOTKDC" "$BT" "$BG" "$FREEPORT"; do
	[ -x "$b" ] || die "$b is not built (cmake --build $BUILD)"
done
set_conf() {	# DIR SECT KEY VAL, as tests/integration/lib.sh
	local f="$1/iotkdc.conf" sect=$2 key=$3 val=$4
	awk -v s="[$sect]" -v k="$key" -v v="$val" '
		/^\[/ { insec = ($0 == s) }
		insec && $1 == k && $2 == "=" { print k " = " v; next }
		{ print }' "$f" > "$f.new" && mv "$f.new" "$f"
	grep -q "^$key = $val\$" "$f" || die "set_conf $sect.$key"
}
mkdir_dir() {	# DIR: a data dir with the users owner and reader
	"$IOTKDC" --dir "$1" init >/dev/null
	"$IOTKDC" --dir "$1" user add owner >/dev/null
	"$IOTKDC" --dir "$1" user add reader >/dev/null
}
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# ---- search: in process, one data dir filled size after size --------------
mkdir_dir "$tmp/s"
t0=$SECONDS
"$BT" search "$tmp/s" "$SIZES" "$NQ" \
	> "$tmp/search.out" 2> "$tmp/search.err" || die "bench_tdd search failed: $(tail -3 "$tmp/search.err")"
cat "$tmp/search.out" >&2
search_wall=$((SECONDS - t0))
# the bench's peak RSS (VmHWM), printed after each size's load: the last
# one includes the naive reference's parsed array of the size before
search_maxrss=$(sed -n 's/.* hwm_kib=//p' "$tmp/search.out" | sort -n | tail -n1)
db_mib=$(du -m "$tmp/s/iotkdc.db" | cut -f1)
rm -rf "$tmp/s"
# anchors (protocols/wot.md §3: Zion and TinyIoT, 100 sequential queries
# of the same mix, other hardware)
zion() { case $1 in 10) echo 5.0 ;; 1000) echo 6.8 ;; 10000) echo 20.5 ;; 100000) echo 120 ;; *) echo – ;; esac; }
tiny() { case $1 in 10) echo 3.4 ;; 1000) echo 19.6 ;; 10000) echo 113–137 ;; 100000) echo 1020 ;; *) echo – ;; esac; }
rows=
mixrows=
for size in ${SIZES//,/ }; do
	sl=$(grep "^size=$size load_s=" "$tmp/search.out")
	tot_n=0; tot_us=0; tot_naive=0; naive_ok=1; tot_own=0; tot_cpu=0
	for q in 0 1 2; do
		line=$(grep "^size=$size q=$q " "$tmp/search.out" || true)
		[ -n "$line" ] || continue
		n=$(kv "$line" n); mean=$(kv "$line" mean_us); naive=$(kv "$line" naive_us)
		tot_n=$((tot_n + n))
		tot_us=$(awk -v a="$tot_us" -v m="$mean" -v n="$n" 'BEGIN { print a + m * n }')
		tot_own=$(awk -v a="$tot_own" -v m="$(kv "$line" owner_us)" -v n="$n" 'BEGIN { print a + m * n }')
		tot_cpu=$(awk -v a="$tot_cpu" -v m="$(kv "$line" cpu_us)" -v n="$n" 'BEGIN { print a + m * n }')
		if [ "$naive" = "-1" ]; then naive_ok=0; else
			tot_naive=$(awk -v a="$tot_naive" -v m="$naive" -v n="$n" 'BEGIN { print a + m * n }'); fi
		ms() { awk -v u="$1" 'BEGIN { printf (u < 10000 ? "%.2f" : "%.1f"), u / 1000 }'; }
		nv=–; ratio=–
		if [ "$naive" != "-1" ]; then nv="$(ms "$naive") ms"; ratio=$(awk -v a="$naive" -v b="$mean" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'); fi
		rows="$rows| $size | q$((q + 1)) | $n | $(ms "$mean") ms | $(ms "$(kv "$line" p50_us)") ms | $(ms "$(kv "$line" p99_us)") ms | $(ms "$(kv "$line" cpu_us)") ms | $(ms "$(kv "$line" owner_us)") ms | $nv | $ratio | $(kv "$line" results) | $(kv "$line" bytes) |
"
	done
	[ "$tot_n" -gt 0 ] || continue
	mean_all=$(awk -v a="$tot_us" -v n="$tot_n" 'BEGIN { printf "%.2f", a / n / 1000 }')
	own_all=$(awk -v a="$tot_own" -v n="$tot_n" 'BEGIN { printf "%.2f", a / n / 1000 }')
	cpu_all=$(awk -v a="$tot_cpu" -v n="$tot_n" 'BEGIN { printf "%.2f", a / n / 1000 }')
	naive_all=–
	[ "$naive_ok" = 1 ] && naive_all="$(awk -v a="$tot_naive" -v n="$tot_n" 'BEGIN { printf "%.2f", a / n / 1000 }') ms"
	z=$(zion "$size")
	vs=–
	[ "$z" != – ] && vs=$(awk -v a="$mean_all" -v z="$z" 'BEGIN { print (a < z) ? "ahead" : "behind" }')
	mixrows="$mixrows| $size | **$mean_all ms** | $cpu_all ms | $own_all ms | $naive_all | $z ms | $(tiny "$size") ms | $vs | $(kv "$sl" load_s) s | $(awk -v k="$(kv "$sl" rss_kib)" 'BEGIN { printf "%.0f", k / 1024 }') MiB |
"
done

# ---- GET /things/{id}: the daemon over a data dir of GET_TDS TDs -----------
mkdir_dir "$tmp/d"
"$BT" fill "$tmp/d" "$GET_TDS" 2> "$tmp/fill.err" || die "bench_tdd fill failed"
HTTPS_PORT=$("$FREEPORT")
set_conf "$tmp/d" http port "$HTTPS_PORT"
set_conf "$tmp/d" coap port "$("$FREEPORT" udp)"
lw=$("$FREEPORT" udp)
set_conf "$tmp/d" coap lwm2m_port "$lw"
set_conf "$tmp/d" tdd rate 0			# the per-principal limit off
set_conf "$tmp/d" http conns_per_address 64
for u in owner reader; do
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$tmp/$u.key" -subj "/CN=$u" -out "$tmp/$u.csr" 2>/dev/null
	"$IOTKDC" --dir "$tmp/d" user cert "$u" "$tmp/$u.csr" > "$tmp/$u.pem"
done
"$IOTKDC" --dir "$tmp/d" ca export > "$tmp/ca.pem"
"$IOTKDC" --dir "$tmp/d" serve > "$tmp/serve.out" 2> "$tmp/serve.log" &
SERVE_PID=$!
up=0
for _ in $(seq 1 300); do
	if grep -q "kdc_cli_serve: serving" "$tmp/serve.log" 2>/dev/null &&
	    curl -s --cacert "$tmp/ca.pem" "https://127.0.0.1:$HTTPS_PORT/api/v1/health" >/dev/null 2>&1; then
		up=1; break
	fi
	kill -0 "$SERVE_PID" 2>/dev/null || die "serve exited: $(tail -3 "$tmp/serve.log")"
	sleep 0.1
done
[ "$up" = 1 ] || die "serve did not come up"
# every TD once, in a shuffled order, percent-encoded as a client would
seq 0 $((GET_TDS - 1)) | shuf --random-source=<(yes) | awk '{ printf "/things/urn%%3Abench%%3Atd%%3A%07d\n", $1 }' > "$tmp/paths"
# one answer checked with an independent client first
curl -s --cacert "$tmp/ca.pem" --cert "$tmp/reader.pem" --key "$tmp/reader.key" \
    "https://127.0.0.1:$HTTPS_PORT$(head -n1 "$tmp/paths")" | jq -e '.id | startswith("urn:bench:td:")' >/dev/null \
    || die "GET /things/{id} as the reader did not answer the TD"
get() {	# USER PATHS
	"$BG" "$HTTPS_PORT" "$tmp/ca.pem" "$tmp/$1.pem" "$tmp/$1.key" "$CONNS" "$SECS" "$2" 2>> "$tmp/get.err" \
	    || die "bench_tdd_get $1 failed: $(tail -3 "$tmp/get.err")"
}
cpu_ns() { cat /proc/"$SERVE_PID"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f", s }'; }	# all threads
measure() {	# USER PATHS: line + server CPU per request
	local c0 c1 line
	c0=$(cpu_ns); line=$(get "$1" "$2"); c1=$(cpu_ns)
	echo "$line cpu_us=$(awk -v a="$c0" -v b="$c1" -v n="$(kv "$line" requests)" 'BEGIN { printf "%.0f", (b - a) / 1000 / (n > 0 ? n : 1) }')"
}
health=$(measure owner /api/v1/health)
owner=$(measure owner "@$tmp/paths")
reader=$(measure reader "@$tmp/paths")
health2=$(measure owner /api/v1/health)
printf '%s\n' "$health" "$owner" "$reader" "$health2" >&2
for l in "$owner" "$reader"; do
	[ "$(kv "$l" other)" = 0 ] || die "GET answers other than 200: $l"
done
rss_serve=$(awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$SERVE_PID/status")
audits=$("$IOTKDC" --dir "$tmp/d" audit list 2>/dev/null | grep -c 'tdd.read' || true)
kill -TERM "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID=
h_rate=$(awk -v a="$(kv "$health" rate)" -v b="$(kv "$health2" rate)" 'BEGIN { printf "%.0f", (a + b) / 2 }')
ratio() { awk -v a="$1" -v b="$h_rate" 'BEGIN { printf "%.2f", a / b }'; }

echo "## Thing Directory"
echo
echo "\`bench/tdd.sh\` (make bench-tdd), $(date -u +%Y-%m-%d), $(nproc) cores, wall clock. Issue 17 §4: JSONPath search latency at ${SIZES//,/, } stored TDs in one run, and GET /things/{id} requests/s with keep-alive."
echo
echo "**Search.** \`bench_tdd search\`: the directory (core/tdd.h) in process on an \`iotkdc init\`ed data dir (its SQLite store, synchronous FULL), filled size after size with generated TDs (bench/bench_tdd_gen.h: our own templates, 80 % simple with 2–4 properties, 15 % medium with 5–15 properties, actions and events, 5 % complex with 30–50 properties, nested schemas, 6–11 actions, 3–6 events; each valid TD 1.1, validated and linted by \`kdc_tdd_import()\`, 2,000 per transaction). lightColor+brightness are in 1.5 % of the TDs, sensorInformation with a nested state in 2.25 %, as in the workload generator's mix. Owned by user.owner, readable by user.reader; $NQ random queries per size, one after another, among q1 \`\$[?(@.properties.lightColor)]\`, q2 \`\$[?(@.properties.lightColor && @.properties.brightness)]\`, q3 \`\$[?(@.properties.sensorInformation)].properties..state\`, each through \`kdc_tdd_search()\` as user.reader, from the call to the JSON answer: wall clock, and the thread's CPU. Every Enriched TD the reader reads is audited (by number, a few records per search, one transaction: one fdatasync of the WAL per search, which is most of the reader's time at small sizes). The same sequence then as user.owner, whose reads are not audited: the search alone. Answers are not capped here (\`result_max\` 1 GiB; the daemon's default, 16 MiB, refuses q1/q2 from about 100,000 TDs: narrow the query). Reference, same run, up to 100,000 TDs: the naive evaluation, \`kdc_jsonpath_eval()\` over one in-memory array of every Enriched TD already parsed (parsing not timed), then its answer dumped. ratio = naive ÷ ours."
echo
echo "| TDs | query | n | mean | p50 | p99 | CPU (mean) | as the owner (mean) | naive (same run) | ratio | results | answer bytes |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s' "$rows"
echo
echo "The mix (the anchors' figure: mean over the $NQ queries), against the published anchors (protocols/wot.md §3: Zion and TinyIoT with vaimee/tdd-workload-generator, **published, other hardware**). Target: ahead of Zion at every size, ≤ 20 ms at 100,000. Load: \`kdc_tdd_import()\` of the TDs added for that size; RSS: the bench process (index, parsed-TD cache, SQLite) right after loading."
echo
echo "| TDs | ours, mean (reader) | its CPU | as the owner | naive, mean | Zion (published) | TinyIoT (published) | vs Zion | load | RSS |"
echo "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"
printf '%s' "$mixrows"
echo
reopen=$(grep '^reopen ' "$tmp/search.out" || true)
[ -n "$reopen" ] && echo "A restart at the largest size (\`kdc_tdd_new()\`: the index rebuilt from the store, every TD parsed): $(kv "$reopen" reopen_s) s for $(kv "$reopen" tds) TDs; RSS then $(awk -v k="$(kv "$reopen" rss_kib)" 'BEGIN { printf "%.0f", k / 1024 }') MiB." && echo
echo "Whole search run ${search_wall} s; the bench's peak RSS $(awk -v k="$search_maxrss" 'BEGIN { printf "%.0f", k / 1024 }') MiB (seen after each load; the naive reference's parsed array of the size before included); the store ${db_mib} MiB at the largest size."
echo
echo "**GET /things/{id}.** \`iotkdc serve\` over a data dir of $GET_TDS generated TDs (\`[tdd] rate = 0\`: the per-principal limit off; \`[http] conns_per_address = 64\`) ← \`bench_tdd_get\` (our GnuTLS client: TLS 1.3, a client certificate from \`iotkdc user cert\`, $CONNS keep-alive connections, one request at a time each, no pipelining, every TD in a shuffled order; $SECS s per row, handshakes before the clock). Reference on the same listener: \`GET /api/v1/health\` (a store ping), before and after. The daemon and the client share the $(nproc) cores. The owner's reads are not audited; every read by the reader is (an audit record committed, synchronous FULL, before the answer): $audits tdd.read records written."
echo
echo "| request | requests/s | ratio / health | server CPU per request | requests |"
echo "|---|---:|---:|---:|---:|"
echo "| GET /api/v1/health (before; after) | $(kv "$health" rate); $(kv "$health2" rate) | 1 | $(kv "$health" cpu_us) µs; $(kv "$health2" cpu_us) µs | $(kv "$health" requests); $(kv "$health2" requests) |"
echo "| GET /things/{id}, the owner | $(kv "$owner" rate) | **$(ratio "$(kv "$owner" rate)")** | $(kv "$owner" cpu_us) µs | $(kv "$owner" requests) |"
echo "| GET /things/{id}, a reader (audited) | $(kv "$reader" rate) | **$(ratio "$(kv "$reader" rate)")** | $(kv "$reader" cpu_us) µs | $(kv "$reader" requests) |"
echo
echo "Daemon RSS after the GET rows: ${rss_serve} MiB."
