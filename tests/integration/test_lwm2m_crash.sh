#!/usr/bin/env bash
# Crash safety of the bootstrap (DESIGN §6): the daemon is killed with
# SIGKILL in the middle of a bootstrap, once after the pending credential
# was made but before the writes, once after the writes but before Finish.
# After a restart the device retries and gets a credential; at no point is
# there more than one live operational credential, and the audit chain
# still verifies.
. "$(dirname "$0")/lib.sh"
: "${IOTKDC_DEVICE:?the iotkdc-device simulator is not built}"

kdc init >/dev/null
KEY=00112233445566778899aabbccddeeff
printf '%s\n' "$KEY" > "$T/key.hex"	# the PSK never in argv: --psk-file
kdc device add urn:dev:crash:1 --psk-identity crash1 --psk-file "$T/key.hex" >/dev/null
start_serve

count() {	# count STATUS: operational credentials of the device in STATUS
	sqlite3 "$T/d/iotkdc.db" "SELECT count(*) FROM credentials c JOIN devices d ON c.device = d.id
		WHERE d.dev_id = 'urn:dev:crash:1' AND c.kind = 'operational' AND c.status = '$1'"
}
bootstrap() {	# the PSK on standard input
	printf '%s\n' "$KEY" | timeout 60 "$IOTKDC_DEVICE" bootstrap \
		--server "coaps://127.0.0.1:$COAP_PORT" --ep urn:dev:crash:1 \
		--psk-identity crash1 --psk-file - --state "$T/dev.state" "$@"
}

# the pending credential is made before the first Write
for stop in write finish; do
	"$IOTKDC_DEVICE" bootstrap --server "coaps://127.0.0.1:$COAP_PORT" --ep urn:dev:crash:1 \
		--psk-identity crash1 --psk-file "$T/key.hex" --state "$T/faulty.state" \
		--fault-stop-at "$stop" --timeout 20 -v > /dev/null 2> "$T/faulty.err" &
	DEV=$!
	PIDS+=("$DEV")
	for _ in $(seq 1 100); do [ "$(count pending)" = 1 ] && break; sleep 0.05; done
	[ "$(count pending)" = 1 ] || fail "stop=$stop: no pending credential appeared"
	# the server has sent the request the device will not answer (-v:
	# the device says so when it gets it)
	wait_line "$T/faulty.err" 'fault injection: not answering'
	kill -KILL "$SERVE_PID"
	wait "$SERVE_PID" 2>/dev/null || true
	kill -KILL "$DEV" 2>/dev/null || true; wait "$DEV" 2>/dev/null || true
	[ ! -e "$T/faulty.state" ] || fail "stop=$stop: the faulty device finished its bootstrap"
	[ "$(count issued)" -le 1 ] || fail "stop=$stop: two live credentials after the crash"
	pre_issued=$(count issued)
	pass "stop=$stop: daemon killed with a pending credential; issued=$pre_issued"

	restart_serve	# on the same ports
	bootstrap --timeout 30 2> "$T/dev.err" || fail "stop=$stop: retry failed: $(cat "$T/dev.err")"
	[ "$(count issued)" = 1 ] || fail "stop=$stop: want 1 live credential, have $(count issued)"
	[ "$(count pending)" = 0 ] || fail "stop=$stop: a pending credential survived the retry"
	timeout 30 "$IOTKDC_DEVICE" register --state "$T/dev.state" --deregister > "$T/reg.out" 2>&1 \
		|| fail "stop=$stop: register with the new credential: $(cat "$T/reg.out")"
	pass "stop=$stop: restart, retry, one live credential, registered"
done

has 'audit chain ok' kdc audit verify || fail "audit chain broken after SIGKILL"
has 'lwm2m.bootstrap' kdc audit list || fail "bootstraps not audited"
pass "audit chain verifies after two SIGKILLs"
