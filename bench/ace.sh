#!/usr/bin/env bash
# bench/ace.sh BUILD: the ACE rows of make bench (issue 15 §5), printed as
# the "## ACE" section of bench/results.md (markdown on stdout). bench/run.sh
# calls it (make bench; `bench/run.sh BUILD ace` runs only these rows).
# A data dir and an `iotkdc serve` of its own on free loopback ports.
#   BENCH_SECONDS (3)          seconds per in-process row (bench_ace)
#   BENCH_ACE_SECONDS (5)      seconds per over-the-wire row
#   BENCH_ACE_WINDOW (32)      /token requests in flight on the one session
#   BENCH_ACE_HTTPS_PROCS (2)  HTTPS client processes (a new TLS 1.3
#                              connection per request each)
#   BENCH_PERF (unset)         a directory: perf record -g of the daemon
#                              during each wire row (ace_sym.data,
#                              ace_asym.data, ace_https.data,
#                              ace_health.data, ace_health2.data)
set -euo pipefail
BUILD=${1:-build}
SECS=${BENCH_SECONDS:-3}
WSECS=${BENCH_ACE_SECONDS:-5}
WIN=${BENCH_ACE_WINDOW:-32}
HPROCS=${BENCH_ACE_HTTPS_PROCS:-2}
ES256_TARGET=10000	# ES256 tokens/s per core over an open session
RS_TARGET=20000		# RS token validations/s per core
HTTPS_TARGET=1000	# tokens/s, a new TLS 1.3 connection each
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
SERVE_PID=
PERF_PID=
cleanup() {
	local rc=$?
	if [ -n "$PERF_PID" ]; then
		kill -INT "$PERF_PID" 2>/dev/null || true
		wait "$PERF_PID" 2>/dev/null || true
	fi
	if [ -n "$SERVE_PID" ]; then
		kill -TERM "$SERVE_PID" 2>/dev/null || true
		wait "$SERVE_PID" 2>/dev/null || true
	fi
	if [ $rc -ne 0 ] && [ -f "$tmp/serve.log" ]; then
		echo "--- serve.log" >&2; tail -n 20 "$tmp/serve.log" >&2
	fi
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "bench/ace.sh: $*" >&2; exit 1; }

IOTKDC=./$BUILD/iotkdc
FREEPORT=./$BUILD/tests/freeport
BA=./$BUILD/bench/bench_ace
BW=./$BUILD/bench/bench_ace_wire
for b in "$IOTKDC" "$FREEPORT" "$BA" "$BW"; do
	[ -x "$b" ] || die "$b is not built (cmake --build $BUILD)"
done
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1; }
# awk arithmetic: calc FORMAT EXPR VAR=VALUE...
calc() { local f=$1 e=$2; shift 2; awk "$@" "BEGIN { printf \"$f\", $e }" </dev/null; }
met() { calc '%s' "($1 >= $2) ? \"met\" : \"not met\""; }

# ---- in-process rows first (the machine quiet) ---------------------------
ba=$("$BA" "$SECS") || die "bench_ace failed: $ba"
b() {	# b ROW KEY: a figure of a bench_ace row
	kv "$(printf '%s\n' "$ba" | awk -v r="$1" '$1 == r')" "$2" | tr -d '/s'
}

# ---- a daemon: a PSK client, an RPK client, a certificate client, an RS -
kdc() { "$IOTKDC" --dir "$tmp/d" "$@"; }
set_conf() {	# as tests/integration/lib.sh
	local sect=$1 key=$2 val=$3 f="$tmp/d/iotkdc.conf"
	awk -v s="[$sect]" -v k="$key" -v v="$val" '
		/^\[/ { insec = ($0 == s) }
		insec && $1 == k && $2 == "=" { print k " = " v; next }
		{ print }' "$f" > "$f.new" && mv "$f.new" "$f"
	grep -q "^$key = $val\$" "$f" || die "set_conf $sect.$key"
}
kdc init >/dev/null
HTTPS_PORT=$("$FREEPORT")
COAP_PORT=$("$FREEPORT" udp)
LWM2M_PORT=$("$FREEPORT" udp)
while [ "$LWM2M_PORT" = "$COAP_PORT" ]; do LWM2M_PORT=$("$FREEPORT" udp); done
set_conf http port "$HTTPS_PORT"
set_conf coap port "$COAP_PORT"
set_conf coap lwm2m_port "$LWM2M_PORT"
(umask 077
 head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$tmp/c.hex"
 head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$tmp/asrs.hex")
kdc device add urn:dev:ace:psk --psk-identity acepsk --psk-file "$tmp/c.hex" >/dev/null
openssl ecparam -genkey -name prime256v1 -noout -out "$tmp/rpk.pem" 2>/dev/null
openssl ec -in "$tmp/rpk.pem" -pubout -out "$tmp/rpk.pub" 2>/dev/null
kdc device add urn:dev:ace:rpk --rpk "$tmp/rpk.pub" >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$tmp/crt.key" -subj /CN=urn:dev:ace:crt -out "$tmp/crt.csr" 2>/dev/null
kdc device add urn:dev:ace:crt --cert >/dev/null
kdc cert sign "$tmp/crt.csr" --device urn:dev:ace:crt > "$tmp/crt.pem"
openssl ecparam -genkey -name prime256v1 -noout -out "$tmp/rs.pem" 2>/dev/null
openssl ec -in "$tmp/rs.pem" -pubout -out "$tmp/rs.pub" 2>/dev/null
kdc ace rs add lock1 --key-file "$tmp/asrs.hex" --pubkey "$tmp/rs.pub" >/dev/null
for c in psk rpk crt; do kdc ace grant "urn:dev:ace:$c" lock1 open close >/dev/null; done
kdc ca export > "$tmp/ca.pem"
SYNC=$(awk '$1 == "synchronous" { print $3 }' "$tmp/d/iotkdc.conf")
THREADS=$(awk '$1 == "threads" { print $3; exit }' "$tmp/d/iotkdc.conf")

"$IOTKDC" --dir "$tmp/d" serve 2>> "$tmp/serve.log" &
SERVE_PID=$!
up=0
for _ in $(seq 1 100); do
	if curl -s --cacert "$tmp/ca.pem" "https://127.0.0.1:$HTTPS_PORT/api/v1/health" >/dev/null 2>&1; then
		up=1; break
	fi
	kill -0 "$SERVE_PID" 2>/dev/null || die "serve exited early"
	sleep 0.1
done
[ $up = 1 ] || die "serve did not come up"

perf_start() {
	[ -n "${BENCH_PERF:-}" ] || return 0
	mkdir -p "$BENCH_PERF"
	perf record -q -g -p "$SERVE_PID" -o "$BENCH_PERF/$1.data" 2>/dev/null &
	PERF_PID=$!
	sleep 0.5
}
perf_stop() {
	[ -n "$PERF_PID" ] || return 0
	kill -INT "$PERF_PID" 2>/dev/null || true
	wait "$PERF_PID" 2>/dev/null || true
	PERF_PID=
}

# ---- over the wire: tokens on one open DTLS session --------------------
coap_row() {	# coap_row VAR psk|rpk ARGS...
	local var=$1 line; shift
	perf_start "ace_$var"
	line=$("$BW" coap "$COAP_PORT" "$SERVE_PID" "$WSECS" 10000000 "$WIN" lock1 open "$@") ||
		{ perf_stop; die "bench_ace_wire coap $1 failed: $line"; }
	perf_stop
	printf -v "${var}_line" '%s' "$line"
}
coap_row sym psk acepsk "$tmp/c.hex"
coap_row asym rpk "$tmp/rpk.pub" "$tmp/rpk.pem"

# ---- HTTPS: a new TLS 1.3 connection per token, and per health GET -----
https_row() {	# https_row VAR ARGS...
	local var=$1 line; shift
	perf_start "ace_$var"
	line=$("$BW" https "$HTTPS_PORT" "$SERVE_PID" "$WSECS" "$HPROCS" "$tmp/ca.pem" \
		"$tmp/crt.pem" "$tmp/crt.key" "$@") || { perf_stop; die "bench_ace_wire https $1 failed: $line"; }
	perf_stop
	printf -v "${var}_line" '%s' "$line"
}
https_row health health
https_row https token lock1 open
https_row health2 health
kill -0 "$SERVE_PID" 2>/dev/null || die "the daemon died"
kill -TERM "$SERVE_PID" 2>/dev/null || true
wait "$SERVE_PID" 2>/dev/null || true
SERVE_PID=

# ---- the section --------------------------------------------------------
pc() { calc '%.0f' '1e6 / u' -v u="$1"; }		# per core from µs
r2() { calc '%.3g' 'a / b' -v a="$1" -v b="$2"; }	# ratio of rates
sign_us=$(b es256_sign cpu_us); sign2_us=$(b es256_sign_after cpu_us)
seal_us=$(b seal cpu_us); open_us=$(b open cpu_us)
ver_us=$(b es256_verify cpu_us); vero_us=$(b es256_verify_openssl cpu_us)
vern_us=$(b es256_verify_nettle cpu_us)
edv_us=$(b ed25519_verify cpu_us); edvo_us=$(b ed25519_verify_openssl cpu_us)
rse_us=$(b rs_eddsa cpu_us)
ta_us=$(b token_asym cpu_us); ts_us=$(b token_sym cpu_us)
tan_us=$(b token_asym_group cpu_us); tsn_us=$(b token_sym_group cpu_us)
ma_us=$(b make_asym cpu_us); ms_us=$(b make_sym cpu_us)
rsa_us=$(b rs_asym cpu_us); rss_us=$(b rs_sym cpu_us)
sym_s=$(kv "$sym_line" server_cpu_us); asym_s=$(kv "$asym_line" server_cpu_us)
https_s=$(kv "$https_line" server_cpu_us)
h_s=$(calc '%.1f' '(a + b) / 2' -v a="$(kv "$health_line" server_cpu_us)" -v b="$(kv "$health2_line" server_cpu_us)")
h_rate=$(calc '%.0f' '(a + b) / 2' -v a="$(kv "$health_line" rate | tr -d '/s')" -v b="$(kv "$health2_line" rate | tr -d '/s')")
https_rate=$(kv "$https_line" rate | tr -d '/s')
echo "## ACE"
echo
echo "Measured by \`bench/ace.sh\` (make bench, or \`bench/run.sh $BUILD ace\`) on $(date -u +%Y-%m-%d), $(nproc) cores. In-process rows: \`bench_ace\`, one thread, ${SECS} s each, a store in a temporary data dir; figures are thread CPU per operation and the rate one core would reach with it (1 / CPU), the wall-clock rate beside it. Over-the-wire rows: \`bench_ace_wire\` (GnuTLS clients of its own) against \`iotkdc serve\` ([coap] threads = ${THREADS}, [store] synchronous = ${SYNC:-full}), ${WSECS} s each; the daemon's CPU from /proc/PID/stat (utime + stime, all threads) per answered request. Tokens: aud lock1, scope open, 1 h; Sign1 ES256 by the AS key (a file key: OpenSSL), Encrypt0 AES-CCM-16-64-128 to the RS key."
echo
echo "| what | measured | reference (same run) | ratio | target |"
echo "|---|---:|---:|---:|---|"
echo "| ES256 sign alone (AS key, \`kdc_as_key_sign\`: OpenSSL, ${sign_us} µs before / ${sign2_us} µs after the token rows; $(b es256_sign bytes) B Sig_structure) | $(pc "$sign_us")/s per core (wall $(b es256_sign rate)/s) | | | |"
echo "| AES-CCM-16-64-128 seal alone (cose backend, \`kdc_cc_aead_seal\`, $(b seal bytes) B of claims) | $(pc "$seal_us")/s per core (${seal_us} µs) | | | |"
echo "| Sign1 token made, no store (claims, COSE_Sign1 with the AS key) | $(pc "$ma_us")/s per core (${ma_us} µs) | ES256 sign $(pc "$sign_us")/s | **$(r2 "$sign_us" "$ma_us")** | |"
echo "| Encrypt0 token made, no store (claims, fresh PoP key + kid + IV, COSE_Encrypt0) | $(pc "$ms_us")/s per core (${ms_us} µs) | seal $(pc "$seal_us")/s | **$(r2 "$seal_us" "$ms_us")** | |"
echo "| \`kdc_core_ace_token\` asymmetric (Sign1 ES256; policy reads, token, row + audit record, commit), group durability: one WAL fdatasync per 32 tokens (the CoAP engine's way: one sync per step) | $(pc "$tan_us")/s per core (${tan_us} µs; wall $(b token_asym_group rate)/s) | ES256 sign $(pc "$sign_us")/s | **$(r2 "$sign_us" "$tan_us")** | ≥ ${ES256_TARGET}/s per core: **$(met "$(pc "$tan_us")" "$ES256_TARGET")** |"
echo "| \`kdc_core_ace_token\` symmetric (Encrypt0), the same | $(pc "$tsn_us")/s per core (${tsn_us} µs; wall $(b token_sym_group rate)/s) | seal $(pc "$seal_us")/s | **$(r2 "$seal_us" "$tsn_us")** | |"
echo "| the same, every commit durable (synchronous = FULL: one fdatasync per token, what the HTTPS face's core does): asymmetric; symmetric | $(pc "$ta_us")/s (${ta_us} µs; wall $(b token_asym rate)/s); $(pc "$ts_us")/s (${ts_us} µs; wall $(b token_sym rate)/s) | ES256 sign; seal | **$(r2 "$sign_us" "$ta_us")**; **$(r2 "$seal_us" "$ts_us")** | |"
echo "| the store's share of a token (group − no store: policy reads, token row, audit record, commit): asymmetric; symmetric | $(calc '%.0f' 'a - b' -v a="$tan_us" -v b="$ma_us") µs ($(calc '%.0f' '100 * (a - b) / a' -v a="$tan_us" -v b="$ma_us") %); $(calc '%.0f' 'a - b' -v a="$tsn_us" -v b="$ms_us") µs ($(calc '%.0f' '100 * (a - b) / a' -v a="$tsn_us" -v b="$ms_us") %); a sync per token adds $(calc '%.0f' 'a - b' -v a="$ta_us" -v b="$tan_us") µs; $(calc '%.0f' 'a - b' -v a="$ts_us" -v b="$tsn_us") µs of CPU and $(calc '%.2f' '1000 / a - 1000 / b' -v a="$(b token_asym rate)" -v b="$(b token_asym_group rate)") ms; $(calc '%.2f' '1000 / a - 1000 / b' -v a="$(b token_sym rate)" -v b="$(b token_sym_group rate)") ms of wall clock | | | | |"
echo "| RS validation of a Sign1 token (parse, ES256 verify with the cose backend: OpenSSL, \`crypto_openssl.c\`; CWT decode, aud/exp/scope/cnf; $(b rs_asym bytes) B) | $(pc "$rsa_us")/s per core (${rsa_us} µs) | raw OpenSSL verify of the same signature (\`crypto_p256_verify\`) $(pc "$vero_us")/s (${vero_us} µs); the backend's verify alone $(pc "$ver_us")/s (${ver_us} µs) | **$(r2 "$vero_us" "$rsa_us")**; **$(r2 "$ver_us" "$rsa_us")** | ≥ ${RS_TARGET}/s per core: **$(met "$(pc "$rsa_us")" "$RS_TARGET")** |"
echo "| the same verify through GnuTLS/nettle (the cose backend before, \`crypto_gnutls_es256.c\`, the portable variant) | $(pc "$vern_us")/s per core (${vern_us} µs) | OpenSSL backend $(pc "$ver_us")/s | **$(r2 "$vern_us" "$ver_us")** (OpenSSL's speed-up) | |"
echo "| RS validation of an EdDSA Sign1 token (the same claims, Ed25519 key; verify with the cose backend: GnuTLS/nettle; $(b rs_eddsa bytes) B) | $(pc "$rse_us")/s per core (${rse_us} µs) | Ed25519 verify alone: nettle $(pc "$edv_us")/s (${edv_us} µs), OpenSSL $(pc "$edvo_us")/s (${edvo_us} µs) | **$(r2 "$edv_us" "$rse_us")** | ≥ ${RS_TARGET}/s per core: **$(met "$(pc "$rse_us")" "$RS_TARGET")** |"
echo "| RS validation of an Encrypt0 token (parse, AES-CCM open, CWT decode, checks; $(b rs_sym bytes) B) | $(pc "$rss_us")/s per core (${rss_us} µs) | open alone $(pc "$open_us")/s (${open_us} µs) | **$(r2 "$open_us" "$rss_us")** | ≥ ${RS_TARGET}/s per core: **$(met "$(pc "$rss_us")" "$RS_TARGET")** |"
echo "| CoAPS /token, Encrypt0, ONE DTLS PSK session, ${WIN} requests in flight | $(kv "$sym_line" rate) wall; daemon ${sym_s} µs per token = $(pc "$sym_s")/s per core | in-process \`kdc_core_ace_token\` (group durability) $(pc "$tsn_us")/s; seal $(pc "$seal_us")/s | **$(r2 "$tsn_us" "$sym_s")**; **$(r2 "$seal_us" "$sym_s")** | |"
echo "| CoAPS /token, Sign1 ES256 (req_cnf: the client's key), ONE DTLS RPK session, ${WIN} in flight | $(kv "$asym_line" rate) wall; daemon ${asym_s} µs per token = $(pc "$asym_s")/s per core | in-process (group durability) $(pc "$tan_us")/s; ES256 sign $(pc "$sign_us")/s | **$(r2 "$tan_us" "$asym_s")**; **$(r2 "$sign_us" "$asym_s")** | ≥ ${ES256_TARGET}/s per core: **$(met "$(pc "$asym_s")" "$ES256_TARGET")** |"
echo "| HTTPS POST /token (Encrypt0), a NEW TLS 1.3 connection per token (client certificate of our CA, no resumption; the listener verifies a client's chain once and remembers it, KDC_HTTP_CHAIN_CACHE; core does not verify it again, \`kdc_core_auth_cert_verified\`; one fdatasync per token; ${HPROCS} client processes) | $(kv "$https_line" rate) wall; daemon ${https_s} µs per token = $(pc "$https_s")/s per core | the same handshake + GET /api/v1/health: ${h_rate}/s wall, daemon ${h_s} µs = $(pc "$h_s")/s per core | **$(r2 "$h_s" "$https_s")** (the token adds $(calc '%.0f' 'a - b' -v a="$https_s" -v b="$h_s") µs) | ≥ ${HTTPS_TARGET}/s: **$(met "$https_rate" "$HTTPS_TARGET")** wall; per core **$(met "$(pc "$https_s")" "$HTTPS_TARGET")** |"
echo
echo "Ratios are of rates (reference µs / measured µs). CoAPS Encrypt0: ${sym_line}. CoAPS Sign1: ${asym_line}. HTTPS token: ${https_line}. Health before: ${health_line}; after: ${health2_line}."
echo
echo "bench_ace: $(printf '%s' "$ba" | tr '\n' ';' | sed 's/;$//; s/;/; /g')."
