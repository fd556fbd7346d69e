#!/usr/bin/env bash
# bench/ocf.sh BUILD: the OCF rows of make bench (issue 16 §4), printed as
# the "## OCF" section of bench/results.md (markdown on stdout).
# bench/run.sh calls it (make bench; `bench/run.sh BUILD ocf` runs only
# these rows). Two network namespaces joined by a veth pair (root): the
# KDC's side runs bench_ocf (the OBT of `iotkdc ocf`), the other side
# BENCH_OCF_DEVICES simulated devices per OTM (`iotkdc-device ocf-server`).
#   BENCH_OCF_N (20)        onboardings per OTM, and as many handshakes alone
#   BENCH_OCF_DEVICES (2)   devices per OTM
set -euo pipefail
BUILD=${1:-build}
N=${BENCH_OCF_N:-20}
NDEV=${BENCH_OCF_DEVICES:-2}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
NSK="bok$$"; NSD="bod$$"; VK="bk$$"; VD="bd$$"
PIDS=()
cleanup() {
	local rc=$?
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
	ip netns del "$NSK" 2>/dev/null || true
	ip netns del "$NSD" 2>/dev/null || true
	if [ $rc -ne 0 ]; then
		for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 5 "$f"; } >&2; done
	fi
	rm -rf "$tmp"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "bench/ocf.sh: $*" >&2; exit 1; }

IOTKDC=./$BUILD/iotkdc
DEV=./$BUILD/device/iotkdc-device
BO=./$BUILD/bench/bench_ocf
for b in "$IOTKDC" "$DEV" "$BO"; do
	[ -x "$b" ] || die "$b is not built (cmake --build $BUILD)"
done
ip netns add "$NSK" || die "ip netns add: needs root"
ip netns add "$NSD"
ip link add "$VK" type veth peer name "$VD"
ip link set "$VK" netns "$NSK"
ip link set "$VD" netns "$NSD"
for ns in "$NSK" "$NSD"; do ip -n "$ns" link set lo up; done
ip -n "$NSK" link set "$VK" addrgenmode none
ip -n "$NSD" link set "$VD" addrgenmode none
ip -n "$NSK" link set "$VK" multicast on up
ip -n "$NSD" link set "$VD" multicast on up
ip -n "$NSK" -6 addr add fe80::a/64 dev "$VK" nodad
ip -n "$NSK" -6 addr add fd00:79::a/64 dev "$VK" nodad
ip -n "$NSD" -6 addr add fe80::d/64 dev "$VD" nodad
ip -n "$NSD" -6 addr add fd00:79::d/64 dev "$VD" nodad

"$IOTKDC" --dir "$tmp/d" init >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$tmp/ca.key" -out "$tmp/ca.pem" -days 30 -subj /CN=benchmfg \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$tmp/dev.key" -out "$tmp/dev.csr" -subj /CN=benchdev 2>/dev/null
openssl x509 -req -in "$tmp/dev.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" \
    -CAcreateserial -days 30 -out "$tmp/dev.pem" 2>/dev/null
"$IOTKDC" --dir "$tmp/d" mfg-ca add benchmfg "$tmp/ca.pem" >/dev/null

# devices: fixed coap ports (the PIN file is named by it)
port=47000
start() {	# OTM-ARGS...
	local p=$port; port=$((port + 2))
	ip netns exec "$NSD" "$DEV" ocf-server --state "$tmp/s.$p" --iface "$VD" \
	    --addr fd00:79::d --port "$p" --sport $((p + 1)) "$@" \
	    > "$tmp/dev.$p.out" 2> "$tmp/dev.$p.log" &
	PIDS+=($!)
	for _ in $(seq 1 100); do
		grep -q '^ocf-server ready ' "$tmp/dev.$p.out" 2>/dev/null && return 0
		sleep 0.1
	done
	die "device on $p did not start"
}
for _ in $(seq 1 "$NDEV"); do start --pin-file "$tmp/pin.$port"; done
for _ in $(seq 1 "$NDEV"); do start --mfg-cert "$tmp/dev.pem" --mfg-key "$tmp/dev.key"; done

rows=
for otm in rdp mfgcert; do
	line=$(ip netns exec "$NSK" "$BO" "$tmp/d" "$VK" "$otm" "$N" "$tmp") || die "bench_ocf $otm failed"
	echo "$line" >&2
	kv() { printf '%s\n' "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	rows="$rows| $otm | $(kv n) | $(kv onboard_us) µs | $(kv onboard_per_s) | $(kv hs_us) µs | $(kv hs_per_s) | $(kv ratio) | $(kv onboard_cpu_us) µs | $(kv prep_hs_cpu_us) µs | $(kv cpu_ratio) | $(kv datagrams) | $(kv bytes) |
"
done

echo "## OCF"
echo
echo "\`bench/ocf.sh\` (make bench-ocf): the OBT of \`iotkdc ocf onboard\` (\`bench_ocf\`, one thread) onboards simulated devices (\`iotkdc-device ocf-server\`, $NDEV per OTM) across a veth pair between two network namespaces, one after another; discovery excluded (each round discovers first, untimed), offboarding between rounds untimed. Reference, same run: the DTLS onboarding handshake alone against the same devices (\`kdc_ocf_obt_doc_only()\`: its time from ClientHello to the established session). ratio = onboardings/s ÷ handshakes/s. An onboarding is the unsecured doxm read and oxmsel POST, for rdp the PIN (the device writes it, inotify wakes the OBT), the DOC handshake, 14 requests over the DOC (ocf.md §2) and the store's records (each step a commit; synced where a key goes out and at the end). Wall time includes the device's side: the simulated device writes its state file (atomically, synced) after every change, as a real device persists its security resources. KDC CPU: the OBT process's CPU per onboarding, against its CPU per handshake-alone call (those include the unsecured steps and, for rdp, the PIN's PBKDF2). Bytes: Ethernet frames both ways on the KDC's veth per onboarding."
echo
echo "| OTM | onboardings | time per onboarding | onboardings/s | handshake alone | handshakes/s | ratio | KDC CPU per onboarding | KDC CPU per handshake-alone call | CPU ratio | frames | bytes on the wire |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s' "$rows"
