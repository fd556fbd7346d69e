#!/usr/bin/env bash
# SIGHUP re-reads iotkdc.conf (it used to end `iotkdc serve` silently):
# [kdc] log_level and sweep_seconds take effect at once, and the profiles
# (the next certificate has the new lifetime), the CRL is built again as a
# check, every other changed key is named in a warning (it waits for a
# restart), profiles naming an unregistered audience and a config that
# does not load change nothing; the daemon keeps serving HTTPS and CoAP
# throughout and still stops cleanly.
. "$(dirname "$0")/lib.sh"
: "${IOTKDC_DEVICE:?the iotkdc-device simulator is not built}"

kdc init >/dev/null
printf '%s\n' 00112233445566778899aabbccddeeff > "$T/psk.hex"
kdc device add urn:dev:hup:1 --psk-identity hup1 --psk-file "$T/psk.hex" >/dev/null
start_serve
SRV="coaps://127.0.0.1:$COAP_PORT"
n_enroll=0
enroll() {	# an EST enrollment over the manufacturer PSK: a DTLS handshake
	n_enroll=$((n_enroll + 1))
	timeout 30 "$IOTKDC_DEVICE" enroll --server "$SRV" --psk-identity hup1 \
		--psk-file "$T/psk.hex" --key-out "$T/k$n_enroll.pem" \
		--cert-out "$T/c$n_enroll.pem" > /dev/null 2> "$T/enroll.err" ||
		fail "enroll: $(cat "$T/enroll.err")"
}
health() {
	curl -sf --cacert "$T/ca.pem" "https://127.0.0.1:$HTTPS_PORT/api/v1/health" |
		grep -q '"status":"ok"' || fail "not serving after $*"
	kill -0 "$SERVE_PID" 2>/dev/null || fail "serve died after $*"
}
DEBUG_AUTH=' debug kdc_coap_peer_confirm: peer=.* authenticated cred='
count() { grep -cE -- "$1" "$T/serve.log" || true; }

# at info, a handshake logs no debug line
enroll
[ "$(count "$DEBUG_AUTH")" = 0 ] || fail "a debug line at log_level info"
nsweep=$(count 'sweep expired=')

days() {	# a certificate's validity in days
	local nb na
	nb=$(date -d "$(openssl x509 -in "$1" -noout -startdate | cut -d= -f2)" +%s)
	na=$(date -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s)
	echo $(( (na - nb + 43200) / 86400 ))
}
[ "$(days "$T/c1.pem")" = 30 ] || fail "first certificate: $(days "$T/c1.pem") days, want the profile's 30"

# profiles naming an audience nobody registered: not applied
sed -i 's/^audience = lwm2m$/audience = nowhere/' "$T/d/iotkdc.conf"
kill -HUP "$SERVE_PID"
wait_log 'warn profiles_swap: SIGHUP: profiles not applied: profile default names audience nowhere: not registered'
sed -i 's/^audience = nowhere$/audience = lwm2m/' "$T/d/iotkdc.conf"
health "SIGHUP with an unregistered audience"
pass "SIGHUP with a profile naming an unregistered audience: not applied, still serving"

# log_level, sweep_seconds, a profile, and a key that needs a restart
set_conf kdc log_level debug
set_conf kdc sweep_seconds 1
set_conf lwm2m lifetime 600
sed -i 's/^lifetime_days = 30$/lifetime_days = 31/' "$T/d/iotkdc.conf"
kill -HUP "$SERVE_PID"
wait_log 'info reload: reloaded: log_level=debug, sweep_seconds=1, profiles=1, crl=[0-9]+ bytes$'
wait_log 'warn reload: SIGHUP: 1 changed key needs a restart, not applied: \[lwm2m\] lifetime$'
health "SIGHUP"
pass "SIGHUP: log_level, sweep_seconds and profiles reloaded, CRL built, restart key named; still serving"

# the new level takes effect: the same handshake logs at debug now; the
# EST worker's core issues with the new profile
enroll
wait_log "$DEBUG_AUTH"
[ "$(days "$T/c$n_enroll.pem")" = 31 ] || fail "certificate after SIGHUP: $(days "$T/c$n_enroll.pem") days, want 31"
# and the sweep runs every second now (it ran once at start)
wait_log 'sweep expired=' $((nsweep + 2))
pass "log_level=debug in effect (debug line on the next handshake); sweep every 1 s"

# a config that does not load: nothing changes, still serving
set_conf http port 0
kill -HUP "$SERVE_PID"
wait_log 'warn reload: SIGHUP: .*iotkdc.conf:[0-9]+: .*port.*; nothing reloaded'
health "SIGHUP with a bad config"
set_conf http port "$HTTPS_PORT"
pass "SIGHUP with a config that does not load: warned, nothing changed, still serving"

# a config group or other may write, and one cut to 0 bytes: serve would
# not start on either; a reload takes neither
cp "$T/d/iotkdc.conf" "$T/conf.good"
chmod 0666 "$T/d/iotkdc.conf"
kill -HUP "$SERVE_PID"
wait_log 'warn reload: SIGHUP: .*iotkdc.conf: mode 0666: group or other may write it; refusing. chmod 600 .*; nothing reloaded'
chmod 0600 "$T/d/iotkdc.conf"
: > "$T/d/iotkdc.conf"
kill -HUP "$SERVE_PID"
wait_log 'warn reload: SIGHUP: .*iotkdc.conf: empty \(0 bytes\).*; nothing reloaded'
health "SIGHUP with an empty config"
cp "$T/conf.good" "$T/d/iotkdc.conf"
pass "SIGHUP with a config mode 0666, then 0 bytes: refused, nothing changed, still serving"

# quieter again: the reload line still shows (logged before the level
# drops), debug lines stop; the restart keys are still named
set_conf kdc log_level warn
set_conf kdc sweep_seconds 60
kill -HUP "$SERVE_PID"
wait_log 'info reload: reloaded: log_level=warn, sweep_seconds=60, crl='
wait_log 'SIGHUP: 1 changed key needs a restart' 2
ndebug=$(count "$DEBUG_AUTH")
enroll
health "SIGHUP to warn"
[ "$(count "$DEBUG_AUTH")" = "$ndebug" ] || fail "debug lines after log_level=warn"
pass "log_level=warn: the reload line shows, debug lines stop"

# SIGTERM still drains and stops, status 0
kill -TERM "$SERVE_PID"
rc=0
wait "$SERVE_PID" || rc=$?
[ $rc = 0 ] || fail "serve exited $rc on SIGTERM after SIGHUPs"
pass "SIGTERM after SIGHUPs: stopped, status 0"
