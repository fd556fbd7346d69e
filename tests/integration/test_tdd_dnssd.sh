#!/usr/bin/env bash
# The Thing Directory introduced by DNS-SD (issue 17, WoT Discovery
# 6.4.1.3): `iotkdc serve` publishes _directory._sub._wot._tcp with TXT
# td=/.well-known/wot, type=Directory, scheme=https on its HTTPS port
# through a real avahi-daemon, and avahi-browse (the independent peer)
# resolves it. Isolated from the host: the whole test re-runs itself in a
# network namespace of its own (lo, and d0: one end of a veth pair,
# multicast) and a mount namespace with a tmpfs over /run, where it starts
# its own system D-Bus (dbus-daemon --system: the default socket path
# serve uses) and avahi-daemon. Cases: no bus and no daemon (the log
# line, serve serves; both started later: published), stop (withdrawn), a
# daemon started after serve and one that restarts, a name another
# service holds (renamed), the listener's address choosing the interfaces
# (127.0.0.1: lo only; 0.0.0.0: every one), [http] dnssd = off. Needs root
# (unshare): without it this test FAILS, it never skips.
set -euo pipefail
if [ "${KDC_DNSSD_INNER:-}" != 1 ]; then
	command -v unshare >/dev/null || { echo "FAIL: unshare missing (util-linux)" >&2; exit 1; }
	# the namespaces die with the last process in them
	KDC_DNSSD_INNER=1 exec unshare --net --mount --propagation private \
	    bash "$0" "$@" || { echo "FAIL: unshare --net --mount not permitted: this test needs root; it does not skip" >&2; exit 1; }
fi
. "$(dirname "$0")/lib.sh"
for t in dbus-daemon avahi-daemon avahi-browse avahi-publish; do
	command -v "$t" >/dev/null || fail "$t missing (make deps installs avahi-daemon, avahi-utils, dbus-daemon)"
done

# A /run of our own: no host bus, no host avahi-daemon's pid file or socket.
mount -t tmpfs -o mode=755 tmpfs /run || fail "cannot mount a tmpfs on /run"
mkdir -p /run/dbus
ip link set lo up
# a veth pair: the kernel may have no dummy driver (containers); d1,
# without an address, is no interface of Avahi's
ip link add d0 type veth peer name d1 || fail "no veth pair"
ip link set d1 multicast on up
ip link set d0 multicast on up
ip addr add 10.77.0.1/24 dev d0

cat > "$T/avahi.conf" <<'EOF'
[server]
use-ipv4=yes
use-ipv6=no
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
publish-aaaa-on-ipv4=no
EOF

BUS_PID=""
AVAHI_PID=""
bus_start() {
	dbus-daemon --system --nofork --nopidfile > "$T/dbus.log" 2>&1 &
	BUS_PID=$!
	PIDS+=("$BUS_PID")
	for _ in $(seq 1 100); do
		[ -S /run/dbus/system_bus_socket ] && return 0
		kill -0 "$BUS_PID" 2>/dev/null || fail "dbus-daemon exited: $(cat "$T/dbus.log")"
		sleep 0.1
	done
	fail "no system bus socket"
}
avahi_start() {
	: > "$T/avahi.log"
	avahi-daemon -f "$T/avahi.conf" --no-drop-root --no-chroot --no-rlimits \
	    > "$T/avahi.log" 2>&1 &
	AVAHI_PID=$!
	PIDS+=("$AVAHI_PID")
	wait_line "$T/avahi.log" "Server startup complete"
}
avahi_stop() {
	kill -TERM "$AVAHI_PID"
	wait "$AVAHI_PID" 2>/dev/null || true
}
# SIGTERM; serve must exit 0 (under ASan: no leak, no error at exit).
serve_stop() {
	local rc=0
	kill -TERM "$SERVE_PID"
	wait "$SERVE_PID" 2>/dev/null || rc=$?
	[ $rc -eq 0 ] || fail "serve exited $rc: $(tail -n 20 "$T/serve.log")"
	grep -q "kdc_cli_serve: stopped" "$T/serve.log" || fail "serve did not stop cleanly"
}

# browse: one avahi-browse run (resolve, parsable, terminate) into
# $T/browse.out; our instances' resolved lines into $T/ours.out.
browse() {
	: > "$T/ours.out"
	timeout 20 avahi-browse -rpt _directory._sub._wot._tcp > "$T/browse.out" 2> "$T/browse.err" || return 1
	awk -F';' -v p="$HTTPS_PORT" '$1 == "=" && $4 ~ /^iotkdc\\032on\\032/ && $9 == p' \
	    "$T/browse.out" > "$T/ours.out"
}
# wait_browse PATTERN [N]: poll avahi-browse (bounded: 30 s, one retry
# period with no bus, then Avahi's probing, with room) until N (default 1)
# resolved lines of ours match PATTERN.
wait_browse() {
	local pat=$1 n=${2:-1} have=0 end=$((SECONDS + 30))
	while [ $SECONDS -lt $end ]; do
		if browse; then
			have=$(grep -cE -- "$pat" "$T/ours.out" || true)
			[ "$have" -ge "$n" ] && return 0
		fi
		sleep 0.3
	done
	fail "avahi-browse: want $n resolved line(s) of ours matching /$pat/, have $have: $(cat "$T/browse.out" "$T/browse.err")"
}
# wait_withdrawn: poll until no resolved line of ours is left.
wait_withdrawn() {
	local end=$((SECONDS + 30))
	while [ $SECONDS -lt $end ]; do
		browse && [ ! -s "$T/ours.out" ] && return 0
		sleep 0.3
	done
	fail "still advertised after serve stopped: $(cat "$T/ours.out")"
}
health() {
	curl -sf --cacert "$T/ca.pem" "https://127.0.0.1:$HTTPS_PORT/api/v1/health" > "$T/health.out" ||
	    fail "/api/v1/health does not answer"
}

kdc init > /dev/null 2>&1
grep -q '^dnssd = on$' "$T/d/iotkdc.conf" || fail "init did not write [http] dnssd = on"
TXT='"scheme=https" "type=Directory" "td=/.well-known/wot"'

# 1. No system bus, no avahi-daemon: one info line, serve serves. (At
# debug level: the retries say so; the info line stays one.)
set_conf kdc log_level debug
start_serve
wait_log "dns-sd: no avahi-daemon; not advertised \(no D-Bus system bus\)"
health
wait_log "dns-sd: trying the system bus again"
[ "$(grep -c "dns-sd: no avahi-daemon" "$T/serve.log")" -eq 1 ] || fail "the line is not logged once: $(grep dns-sd "$T/serve.log")"
pass "no bus: logged once, serving"

# ... the bus and the daemon appear later: published (the retry timer).
bus_start
avahi_start
wait_browse "^=;lo;IPv4;[^;]*;_wot\._tcp;local;[^;]*;127\.0\.0\.1;$HTTPS_PORT;$TXT\$"
wait_log "dns-sd: published"
pass "bus and avahi-daemon started after serve: published"

# 2. Stop: withdrawn.
serve_stop
wait_withdrawn
pass "serve stopped: withdrawn"

# 3. Bus and daemon up first; listener on 127.0.0.1: on lo, not on d0.
restart_serve
wait_browse "^=;lo;IPv4;iotkdc\\\\032on\\\\032[^;]*;_wot\._tcp;local;[^;]*;127\.0\.0\.1;$HTTPS_PORT;$TXT\$"
# the subtype, the port and each TXT entry, field by field
awk -F';' '{ print $5, $9, $10 }' "$T/ours.out" | sort -u > "$T/fields"
[ "$(cat "$T/fields")" = "_wot._tcp $HTTPS_PORT $TXT" ] || fail "resolved: $(cat "$T/fields")"
grep -q ";d0;" "$T/ours.out" && fail "a 127.0.0.1 listener advertised on d0: $(cat "$T/ours.out")"
grep -q "dns-sd: no avahi-daemon" "$T/serve.log" && fail "no-daemon line with a daemon running"
pass "published on lo only: port $HTTPS_PORT, td, type, scheme"

# 4. The daemon restarts: published again.
avahi_stop
wait_log "dns-sd: avahi-daemon gone"
avahi_start
wait_log "dns-sd: avahi-daemon is there"
wait_browse "^=;lo;IPv4;[^;]*;_wot\._tcp;local;[^;]*;127\.0\.0\.1;$HTTPS_PORT;$TXT\$"
pass "avahi-daemon restarted: published again"

# 5. The daemon started after serve (a bus there): the line, then published.
serve_stop
avahi_stop
restart_serve
wait_log "dns-sd: no avahi-daemon; not advertised \(avahi-daemon not on the bus\)"
health
avahi_start
wait_browse "^=;lo;IPv4;[^;]*;_wot\._tcp;local;[^;]*;127\.0\.0\.1;$HTTPS_PORT;$TXT\$"
pass "avahi-daemon started after serve: published"

# 6. Another service holds the name: ours is renamed (Avahi's alternative).
serve_stop
wait_withdrawn
NAME=$(sed -n 's/.*dns-sd: published "\([^"]*\)".*/\1/p' "$T/serve.log" | head -n 1)
[ -n "$NAME" ] || fail "no published name in the log"
avahi-publish -s "$NAME" _wot._tcp 9 > "$T/publish.log" 2>&1 &
PUB_PID=$!
PIDS+=("$PUB_PID")
wait_line "$T/publish.log" "Established under name"
restart_serve
# (avahi-browse -p writes ' ' as \032, '#' as \035)
wait_browse "^=;lo;IPv4;[^;]*\\\\032\\\\0352;_wot\._tcp;local;[^;]*;127\.0\.0\.1;$HTTPS_PORT;$TXT\$"
wait_log "dns-sd: published \"$NAME #2\""
kill -TERM "$PUB_PID"
wait "$PUB_PID" 2>/dev/null || true
pass "name taken: published as \"$NAME #2\""

# 7. Listener on 0.0.0.0: on every interface (lo and d0).
serve_stop
set_conf http address 0.0.0.0
restart_serve
wait_browse "^=;d0;IPv4;[^;]*;_wot\._tcp;local;[^;]*;10\.77\.0\.1;$HTTPS_PORT;$TXT\$"
wait_browse "^=;lo;IPv4;[^;]*;_wot\._tcp;local;[^;]*;127\.0\.0\.1;$HTTPS_PORT;$TXT\$"
pass "0.0.0.0: published on d0 and lo"

# 8. [http] dnssd = off, and [tdd] enabled = false (no directory to
# introduce): not published, not a word of DNS-SD. A probe service
# published after serve is up is seen first: ours would be by then.
not_published() {
	local what=$1
	restart_serve
	health
	avahi-publish -s "probe" _wot._tcp 9 --subtype=_directory._sub._wot._tcp > "$T/publish.log" 2>&1 &
	PUB_PID=$!
	PIDS+=("$PUB_PID")
	wait_line "$T/publish.log" "Established under name"
	local end=$((SECONDS + 30))
	while [ $SECONDS -lt $end ]; do
		browse && grep -q '^=;[^;]*;[^;]*;probe;' "$T/browse.out" && break
		sleep 0.3
	done
	grep -q '^=;[^;]*;[^;]*;probe;' "$T/browse.out" || fail "the probe service was not seen"
	[ ! -s "$T/ours.out" ] || fail "published with $what: $(cat "$T/ours.out")"
	grep -q "dns-sd" "$T/serve.log" && fail "dns-sd logged with $what: $(grep dns-sd "$T/serve.log")"
	kill -TERM "$PUB_PID"
	wait "$PUB_PID" 2>/dev/null || true
	serve_stop
	pass "$what: not published"
}
serve_stop
wait_withdrawn
set_conf http dnssd off
not_published "dnssd = off"
set_conf http dnssd on
set_conf tdd enabled false
not_published "[tdd] enabled = false"
