#!/usr/bin/env bash
# Renewal of a PSK (and an RPK) operational credential by a fresh
# bootstrap: `iotkdc-device renew-loop --state F --lifetime SEC` bootstraps
# again with the operational credential at a fraction of its lifetime; the
# KDC supersedes the old one only once Finish was acknowledged, so there is
# exactly one live operational credential at every step, and the factory
# bootstrap account in the state is kept.
. "$(dirname "$0")/lib.sh"
: "${IOTKDC_DEVICE:?the iotkdc-device simulator is not built}"
dev() { timeout 60 "$IOTKDC_DEVICE" "$@"; }

kdc init >/dev/null
cat >> "$T/d/iotkdc.conf" <<CONF

[profile op-psk]
cred_type = psk
lifetime_seconds = 6
[profile op-rpk]
cred_type = rpk
lifetime_seconds = 6
CONF
start_serve

# live, superseded: operational credentials of a device in these states
count_op() {
	kdc cred list --device "$1" --json > "$T/c.json"
	awk -v st="$2" '/"kind": "operational"/{op=1} /"kind": "manufacturer"/{op=0}
		op && $0 ~ "\"status\": \"" st "\"" {c++} END{print c+0}' "$T/c.json"
}

for op in psk rpk; do
	id="urn:dev:renew:$op"
	key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	kdc device add "$id" --psk-identity "rn-$op" --psk "$key" --profile "op-$op" >/dev/null
	dev bootstrap --server "coaps://127.0.0.1:$COAP_PORT" --ep "$id" \
		--psk-identity "rn-$op" --psk "$key" --state "$T/$op.s" > /dev/null 2> "$T/err" ||
		fail "$op bootstrap: $(cat "$T/err")"
	[ "$(count_op "$id" issued)" = 1 ] || fail "$op: not one live credential after bootstrap"

	dev renew-loop --state "$T/$op.s" --lifetime 6 --fraction 0.5 --jitter 0.1 --count 2 \
		> "$T/$op.loop" 2> "$T/$op.loop.err" &
	LOOP=$!
	PIDS+=("$LOOP")
	for _ in $(seq 1 100); do
		grep -q '^renewed 1 ' "$T/$op.loop" && break
		sleep 0.1
	done
	grep -q "^renewed 1 ep=$id mode=" "$T/$op.loop" || fail "$op: no first renewal: $(cat "$T/$op.loop.err")"
	[ "$(count_op "$id" issued)" = 1 ] || fail "$op: not one live credential after renewal 1"
	[ "$(count_op "$id" superseded)" = 1 ] || fail "$op: the first credential was not superseded"
	wait "$LOOP" || fail "$op renew-loop: $(cat "$T/$op.loop.err")"
	grep -q "^renewed 2 ep=$id mode=" "$T/$op.loop" || fail "$op: no second renewal"
	[ "$(count_op "$id" issued)" = 1 ] || fail "$op: not one live credential after renewal 2"
	[ "$(count_op "$id" superseded)" = 2 ] || fail "$op: want 2 superseded"
	[ "$(count_op "$id" pending)" = 0 ] || fail "$op: a credential left pending"
	[ "$(stat -c %a "$T/$op.s")" = 600 ] || fail "$op: state file mode"
	dev register --state "$T/$op.s" > "$T/reg" 2> "$T/err" || fail "$op register after renewals: $(cat "$T/err")"
	grep -q 'rd/' "$T/reg" || fail "$op: no location"
	pass "$op renewed twice by re-bootstrap, one live credential at each step, registered"

	dev renew-loop --state "$T/$op.s" > /dev/null 2> "$T/err" && fail "$op: no --lifetime accepted"
	grep -q -- '--lifetime' "$T/err" || fail "$op: --lifetime not asked for: $(cat "$T/err")"
done
pass "--lifetime is required for PSK/RPK"
