# lib.sh: shared by the integration tests. Sourced; needs $IOTKDC and
# $FREEPORT (set by CTest). Every process a test starts is killed on exit,
# on failure too, and its temp dir removed.
set -euo pipefail

: "${IOTKDC:?run through ctest}"
: "${FREEPORT:?run through ctest}"
T=$(mktemp -d "${TMPDIR:-/tmp}/kdcinteg.XXXXXX")
PIDS=()

cleanup() {
	local rc=$?
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && wait "$p" 2>/dev/null || true
	done
	if [ $rc -ne 0 ] && [ -f "$T/serve.log" ]; then
		echo "--- serve.log" >&2; tail -n 40 "$T/serve.log" >&2
	fi
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

kdc() { "$IOTKDC" --dir "$T/d" "$@"; }

# Expect a command to fail (non-zero) with exactly one line on stderr
# matching a pattern; stdout is discarded.
expect_fail() {
	local pat=$1; shift
	local err rc=0
	err=$("$@" 2>&1 >/dev/null) || rc=$?
	[ $rc -ne 0 ] || fail "expected failure: $*"
	[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "want one error line, got: $err"
	printf '%s\n' "$err" | grep -qE -- "$pat" || fail "error '$err' does not match /$pat/"
}

# Set KEY in [SECTION] of the data dir's iotkdc.conf.
set_conf() {
	local sect=$1 key=$2 val=$3 f="$T/d/iotkdc.conf"
	awk -v s="[$sect]" -v k="$key" -v v="$val" '
		/^\[/ { insec = ($0 == s) }
		insec && $1 == k && $2 == "=" { print k " = " v; next }
		{ print }' "$f" > "$f.new" && mv "$f.new" "$f"
	grep -q "^$key = $val\$" "$f" || fail "set_conf $sect.$key"
}

# A digest of every row that matters, to prove a failed command changed
# nothing (the audit log is excluded: refusals are audited on purpose).
store_digest() {
	sqlite3 "$T/d/iotkdc.db" "SELECT * FROM devices; SELECT * FROM credentials; SELECT * FROM mfg_cas;" | sha256sum
}

# free_udp_port [PORT...]: a UDP port free on 127.0.0.1 now ($FREEPORT),
# none of the PORTs given.
free_udp_port() {
	local p
	for _ in $(seq 1 20); do
		p=$("$FREEPORT" udp)
		case " $* " in *" $p "*) ;; *) echo "$p"; return 0 ;; esac
	done
	fail "no free UDP port outside $*"
}

# Start `iotkdc serve` on free ports (HTTPS, [coap] port and lwm2m_port,
# distinct from each other and from a nosec_port already set); waits
# until every face is up.
start_serve() {
	local nosec
	nosec=$(awk '$1 == "nosec_port" && $2 == "=" { print $3 }' "$T/d/iotkdc.conf")
	HTTPS_PORT=$("$FREEPORT")
	COAP_PORT=$(free_udp_port $nosec)
	LWM2M_PORT=$(free_udp_port $nosec "$COAP_PORT")
	set_conf http port "$HTTPS_PORT"
	set_conf coap port "$COAP_PORT"
	set_conf coap lwm2m_port "$LWM2M_PORT"
	kdc ca export > "$T/ca.pem"
	restart_serve
}

# Start `iotkdc serve` (again, after the test stopped or killed it) on
# the ports start_serve chose; the log starts afresh.
restart_serve() {
	# stdout too: nothing may print there (libcoap's PDU dumps did)
	"$IOTKDC" --dir "$T/d" serve > "$T/serve.out" 2> "$T/serve.log" &
	SERVE_PID=$!
	PIDS+=("$SERVE_PID")
	wait_serving
}

# Wait until every face of the daemon is up: the "serving" log line comes
# after the HTTPS and CoAP listeners are bound.
wait_serving() {
	for _ in $(seq 1 100); do
		if grep -q "kdc_cli_serve: serving" "$T/serve.log" 2>/dev/null &&
		    curl -s --cacert "$T/ca.pem" "https://127.0.0.1:$HTTPS_PORT/api/v1/health" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$SERVE_PID" 2>/dev/null || fail "serve exited early: $(tail -3 "$T/serve.log")"
		sleep 0.1
	done
	fail "serve did not come up on $HTTPS_PORT"
}

# wait_line FILE PATTERN [N]: wait (at most 10 s, polling) until FILE
# holds at least N (default 1) lines matching the extended regex PATTERN.
wait_line() {
	local file=$1 pat=$2 n=${3:-1} have
	for _ in $(seq 1 100); do
		have=$(grep -cE -- "$pat" "$file" 2>/dev/null || true)
		[ "${have:-0}" -ge "$n" ] && return 0
		sleep 0.1
	done
	fail "$(basename "$file"): want $n line(s) matching /$pat/, have ${have:-0}: $(tail -n 5 "$file" 2>/dev/null)"
}
# wait_log PATTERN [N]: the same for the daemon's log.
wait_log() { wait_line "$T/serve.log" "$@"; }

# has PATTERN CMD...: run CMD to completion (its status must be 0), then
# grep its stdout. Never pipe into grep -q: under pipefail the writer's
# SIGPIPE would fail the test at random.
has() {
	local pat=$1; shift
	"$@" > "$T/has.out" 2>/dev/null || { echo "command failed: $*" >&2; return 1; }
	grep -qE -- "$pat" "$T/has.out"
}

# veth_pair NSA NSB VA VB: two network namespaces joined by a veth pair
# (VA in NSA, VB in NSB), loopback and both ends up with multicast on and
# no automatic address (the test adds fixed ones, nodad: usable at once).
# Needs root (CAP_SYS_ADMIN): without it the test FAILS, it never skips.
# netns_del NS...: removes them (the veth pair goes with them); kill the
# processes in them first (a process keeps a deleted namespace alive).
veth_pair() {
	local na=$1 nb=$2 va=$3 vb=$4
	command -v ip >/dev/null || fail "ip missing (iproute2; make deps installs it)"
	ip netns add "$na" || fail "ip netns add not permitted: this test needs root (CAP_SYS_ADMIN); it does not skip"
	ip netns add "$nb" || fail "ip netns add $nb failed"
	ip link add "$va" type veth peer name "$vb" || fail "no veth pair"
	ip link set "$va" netns "$na"
	ip link set "$vb" netns "$nb"
	ip -n "$na" link set lo up
	ip -n "$nb" link set lo up
	ip -n "$na" link set "$va" addrgenmode none
	ip -n "$nb" link set "$vb" addrgenmode none
	ip -n "$na" link set "$va" multicast on up
	ip -n "$nb" link set "$vb" multicast on up
}
netns_del() {
	local ns
	for ns in "$@"; do ip netns del "$ns" 2>/dev/null || true; done
}

# user_cert NAME...: a P-256 key and a client certificate of the KDC's CA
# for each user (made with `kdc user add` before): $T/NAME.key, .pem.
user_cert() {
	local u
	for u in "$@"; do
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		    -keyout "$T/$u.key" -subj "/CN=$u" -out "$T/$u.csr" 2>/dev/null
		kdc user cert "$u" "$T/$u.csr" > "$T/$u.pem"
	done
}

# req USER METHOD PATH [curl args...]: an HTTPS request to $U as USER
# (its client certificate; "-": none); status in $ST, headers in $T/h,
# body in $T/b (for HEAD, curl -I writes the headers there too).
req() {
	local who=$1 m=$2 p=$3; shift 3
	local id=() x=(-X "$m")
	[ "$who" = "-" ] || id=(--cert "$T/$who.pem" --key "$T/$who.key")
	[ "$m" = HEAD ] && x=(-I)
	ST=$(curl -s --cacert "$T/ca.pem" "${id[@]}" "${x[@]}" -D "$T/h" \
	    -o "$T/b" -w '%{http_code}' "$@" "$U$p")
}
# hdr NAME: that header of the last req (case-insensitive name).
hdr() { tr -d '\r' < "$T/h" | awk -v k="$(echo "$1" | tr A-Z a-z)" \
    'BEGIN{FS=": "} tolower($1)==k { sub(/^[^:]*: /, ""); print }'; }
# want STATUS WHAT: the last req answered STATUS.
want() { [ "$ST" = "$1" ] || fail "$2: status $ST, want $1: $(head -c 300 "$T/b")"; }
