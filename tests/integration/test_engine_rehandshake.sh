#!/usr/bin/env bash
# RFC 6347 §4.2.8 (issue 14): a ClientHello on the 4-tuple of an
# established session starts a new handshake. dtlsprobe plays a device
# that reboots: it handshakes from a fixed port, gets an answer, and
# abandons the session (no close_notify), as a device losing power does.
# - From the same port at once, a new handshake completes within 2 s with
#   no retransmission (one flight each way), and its request is answered.
# - A device that started a bootstrap (the Bootstrap Server is sending it
#   requests) and abandoned it, then retries every ~2 s from the same
#   port (Anjay falling back to its Bootstrap Server, Wakaama restarting
#   on its fixed port), gets in on its first try.
# libcoap 4.3.1 drops such ClientHellos ("Discarded message[0] with
# invalid epoch 0") and each one refreshes the stale session's idle timer.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/engine.sh"

kdc init >/dev/null
psk_device urn:dev:rh:1 rh1 'rehandshake-key-0123'
start_serve

# ---- abandon, then at once from the same port ------------------------------
PORT=$(free_udp_port "$COAP_PORT" "$LWM2M_PORT")
psk_probe rh1 handshake --bind "127.0.0.1:$PORT" --no-close --get no-such-path \
	> "$T/a.out" || fail "first session from port $PORT: $(cat "$T/a.out")"
[ "$(field code "$T/a.out")" = 4.04 ] || fail "first session not served: $(cat "$T/a.out")"
t0=$(now_ms)
rc=0
psk_probe rh1 handshake --bind "127.0.0.1:$PORT" --hs-timeout 2000 --retrans 2000 \
	--get no-such-path > "$T/b.out" || rc=$?
ms=$(( $(now_ms) - t0 ))
[ $rc -eq 0 ] || fail "a new handshake from the port of an abandoned session (RFC 6347 §4.2.8) did not complete in 2 s without retransmission (status $rc): $(cat "$T/b.out")"
[ "$(field code "$T/b.out")" = 4.04 ] || fail "the new session's request not served: $(cat "$T/b.out")"
pass "abandoned session on port $PORT: a new handshake from that port completes at once ($ms ms, one flight each way) and is served"

# ---- abandon a bootstrap, retry every ~2 s from the same port -------------
PORT2=$(free_udp_port "$COAP_PORT" "$LWM2M_PORT" "$PORT")
psk_probe rh1 handshake --bind "127.0.0.1:$PORT2" --no-close --post 'bs?ep=urn:dev:rh:1' \
	> "$T/c.out" || fail "bootstrap request: $(cat "$T/c.out")"
[ "$(field code "$T/c.out")" = 2.04 ] || fail "POST /bs not 2.04: $(cat "$T/c.out")"
# the Bootstrap Server now sends its requests into the abandoned session
got=0
t0=$(now_ms)
for try in 1 2 3 4 5; do
	rc=0
	psk_probe rh1 handshake --bind "127.0.0.1:$PORT2" --hs-timeout 2000 --retrans 2000 \
		--get no-such-path > "$T/r.$try.out" || rc=$?
	if [ $rc -eq 0 ] && [ "$(field code "$T/r.$try.out")" = 4.04 ]; then
		got=$try
		break
	fi
done
ms=$(( $(now_ms) - t0 ))
[ "$got" -eq 1 ] || fail "a device retrying every 2 s from the port of its abandoned bootstrap session got in on try ${got/#0/none of 5} ($ms ms): $(cat "$T/r.1.out")"
pass "abandoned bootstrap on port $PORT2: the device retrying from that port gets in on its first try ($ms ms)"
