#!/usr/bin/env bash
# The device side of a server-initiated LwM2M bootstrap: `iotkdc-device
# listen` is a DTLS server on its own port, accepting only its factory PSK,
# and answers what a Bootstrap Server sends it with the handlers the
# client-initiated `bootstrap` uses. The Bootstrap Server here is an
# independent client, libcoap's coap-client-gnutls 4.3.1: GET / (Discover,
# Accept 40) 2.05, DELETE /0 2.02, PUT /0/1 (TLV, in Block1 pieces) 2.04,
# PUT /1/0 2.04, POST /bs (Finish) 2.04; then the state file is there
# (0600) and `register` works with it against our daemon's LwM2M Server.
# The /0/1 written is the operational PSK account the daemon issued to the
# same device through a client-initiated bootstrap (the daemon is only the
# LwM2M Server here; its server-initiated bootstrap is not used).
# Refusals: another PSK identity (with the right key) fails the handshake,
# a wrong key never completes one, a refused Write ends the listen; in each
# case the exit status is non-zero and no state is written.
# coap-client's -k takes the key as text (docs/traps.md): the factory key
# of the listener is printable.
. "$(dirname "$0")/lib.sh"
: "${IOTKDC_DEVICE:?the iotkdc-device simulator is not built}"
dev() { timeout 60 "$IOTKDC_DEVICE" "$@"; }

FID=factory-listen-1
FKEY=listen-factory-key-0001		# printable: coap-client -k
printf '%s' "$FKEY" | od -An -v -tx1 | tr -d ' \n' > "$T/fkey.hex"

# --help tells about it
"$IOTKDC_DEVICE" --help > "$T/help" || fail "--help"
grep -q '^  listen ' "$T/help" || fail "--help does not name listen"
"$IOTKDC_DEVICE" listen --help > "$T/help" || fail "listen --help"
grep -q -- '--psk-identity S' "$T/help" && grep -q 'listening on ADDR:PORT' "$T/help" ||
	fail "listen --help: $(cat "$T/help")"
pass "--help names listen and its options"

# ---- an operational PSK account from the daemon (client-initiated) ------
kdc init >/dev/null
mkey=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
ID=urn:dev:listen:1
kdc device add "$ID" --psk-identity mfg-listen-1 --psk "$mkey" >/dev/null
start_serve
printf '%s\n' "$mkey" | dev bootstrap --server "coaps://127.0.0.1:$COAP_PORT" \
	--ep "$ID" --psk-identity mfg-listen-1 --psk-file - --state "$T/a.s" \
	> /dev/null 2> "$T/err" || fail "client-initiated bootstrap: $(cat "$T/err")"
dev show --state "$T/a.s" > "$T/a.show" || fail "show a"

# state_dm FILE: "URI IDENT_HEX SECRET_HEX LIFETIME" of the server account
# (the first non-bootstrap /0 instance; lifetime of the first /1), read
# from the state format of device/include/kdcdev.h
state_dm() {
	local -a b
	read -r -a b <<< "$(od -An -v -tx1 "$1" | tr '\n' ' ')"
	local i=13 n k bsf uri="" ident sec l
	n=$((16#${b[i]})); i=$((i + 1 + n))			# ep
	n=$((16#${b[i]})); i=$((i + 1 + n))			# location
	local nsec=$((16#${b[i]})); i=$((i + 1))
	hexs() { local s=""; for ((k = $1; k < $1 + $2; k++)); do s+=${b[k]}; done; echo "$s"; }
	u16() { echo $((16#${b[$1]}${b[$1 + 1]})); }
	for ((j = 0; j < nsec; j++)); do
		bsf=${b[i + 2]}; i=$((i + 16))
		l=$(u16 $i); u=$(hexs $((i + 2)) "$l"); i=$((i + 2 + l))
		l=$(u16 $i); id=$(hexs $((i + 2)) "$l"); i=$((i + 2 + l))
		l=$(u16 $i); i=$((i + 2 + l))
		l=$(u16 $i); s=$(hexs $((i + 2)) "$l"); i=$((i + 2 + l))
		if [ "$bsf" = 00 ] && [ -z "$uri" ]; then uri=$u; ident=$id; sec=$s; fi
	done
	i=$((i + 1 + 4))					# nsrv, iid, ssid
	echo "$uri $ident $sec $((16#${b[i]}${b[i + 1]}${b[i + 2]}${b[i + 3]}))"
}
read -r URI_HEX OP_IDENT OP_KEY LT <<< "$(state_dm "$T/a.s")"
[ -n "$OP_KEY" ] && [ ${#OP_KEY} -ge 32 ] || fail "no operational PSK in the state: $URI_HEX $OP_IDENT"
# unhex: hex digits on stdin to bytes on stdout (no xxd on a fresh machine)
# shellcheck disable=SC2059
unhex() { local h; h=$(tr -d ' \n'); printf "$(sed 's/../\\x&/g' <<< "$h")"; }
URI=$(printf '%s' "$URI_HEX" | unhex)
grep -q "server=$URI ssid=1 mode=0 lifetime=$LT\$" "$T/a.show" ||
	fail "state parse disagrees with show: $URI $LT / $(cat "$T/a.show")"
pass "daemon issued an operational PSK for $ID ($URI, lifetime $LT)"

# ---- TLV payloads (OMA LwM2M 1.1 Core 7.4.3; the forms of lwm2m.md 2.3) --
# res ID HEX: one resource, 8-bit id, 8-bit length (type 0xC8)
res() { printf 'c8%02x%02x%s' "$1" $((${#2} / 2)) "$2"; }
hexof() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
{
	res 0 "$URI_HEX"; res 1 00; res 2 00		# URI, not BS, mode PSK
	res 3 "$OP_IDENT"; res 4 ""; res 5 "$OP_KEY"	# identity, -, key
	res 10 01					# ssid 1
} | unhex > "$T/sec.tlv"
{ res 0 01; res 1 "$(printf '%08x' "$LT")"; res 6 00; res 7 "$(hexof U)"; } |
	unhex > "$T/srv.tlv"
[ "$(stat -c %s "$T/sec.tlv")" -gt 64 ] || fail "the /0/1 write fits one 64-byte block"

# listen NAME [ARGS...]: start a listener into $T/NAME.{out,err}, wait for
# its "listening on" line; LPORT, LPID
listen() {
	local name=$1; shift
	LPORT=$(free_udp_port "$COAP_PORT" "$LWM2M_PORT")
	"$IOTKDC_DEVICE" listen --port "$LPORT" --psk-identity "$FID" \
		--psk-file "$T/fkey.hex" --state "$T/$name.s" "$@" \
		> "$T/$name.out" 2> "$T/$name.err" &
	LPID=$!
	PIDS+=("$LPID")
	for _ in $(seq 1 100); do
		grep -q "^listening on 127.0.0.1:$LPORT\$" "$T/$name.err" && return 0
		kill -0 "$LPID" 2>/dev/null || fail "$name exited early: $(cat "$T/$name.err")"
		sleep 0.1
	done
	fail "$name: no 'listening on' line: $(cat "$T/$name.err")"
}
# bs NAME METHOD PATH [coap-client args]: one request as the Bootstrap
# Server (identity $CID, key $CKEY); its PDU log in $T/NAME.log
CID=$FID CKEY=$FKEY
bs() {
	local name=$1 m=$2 path=$3; shift 3
	timeout 30 coap-client-gnutls -v 7 -m "$m" -u "$CID" -k "$CKEY" "$@" \
		"coaps://127.0.0.1:$LPORT/$path" > "$T/$name.log" 2>&1 || true
}
# code NAME: the code of the last ACK with a code in the log
code() { grep -oE 't:ACK c:[245]\.[0-9]{2}' "$T/$1.log" | tail -n 1 | cut -c9-; }

# ---- the whole server-initiated bootstrap ---------------------------------
listen ok --ep "$ID" --timeout 60
bs disc get "" -A 40
[ "$(code disc)" = 2.05 ] || fail "Discover: $(code disc) $(tail -n 3 "$T/disc.log")"
grep -q "</>;lwm2m=1.1,</0/0>,</1>" "$T/disc.log" || fail "Discover answer: $(grep '</' "$T/disc.log")"
bs del delete 0
[ "$(code del)" = 2.02 ] || fail "DELETE /0: $(code del)"
bs w0 put 0/1 -t 11542 -b 64 -f "$T/sec.tlv"
[ "$(code w0)" = 2.04 ] || fail "PUT /0/1: $(code w0) $(tail -n 3 "$T/w0.log")"
grep -q 't:ACK c:2.31' "$T/w0.log" || fail "PUT /0/1 was not sent in Block1 pieces"
bs w1 put 1/0 -t 11542 -f "$T/srv.tlv"
[ "$(code w1)" = 2.04 ] || fail "PUT /1/0: $(code w1)"
[ -e "$T/ok.s" ] && fail "state written before Finish"
bs fin post bs
[ "$(code fin)" = 2.04 ] || fail "Finish: $(code fin)"
rc=0; wait "$LPID" || rc=$?
[ $rc = 0 ] || fail "listen exited $rc: $(cat "$T/ok.err")"
grep -q "^bootstrapped ep=$ID server=$URI ssid=1 mode=0\$" "$T/ok.out" || fail "listen stdout: $(cat "$T/ok.out")"
[ "$(stat -c %a "$T/ok.s")" = 600 ] || fail "state file mode $(stat -c %a "$T/ok.s")"
grep -qiE "$FKEY|$(hexof "$FKEY")|$OP_KEY" "$T/ok.err" "$T/ok.out" && fail "a key was printed"
dev show --state "$T/ok.s" > "$T/ok.show" || fail "show"
cmp -s "$T/a.show" "$T/ok.show" || fail "the state differs from the client-initiated one: $(cat "$T/ok.show")"
pass "listen: Discover 2.05, Delete 2.02, Write /0/1 (Block1) 2.04, Write /1/0 2.04, Finish 2.04, exit 0, state 0600"

dev register --state "$T/ok.s" --deregister > "$T/reg" 2> "$T/err" || fail "register: $(cat "$T/err")"
grep -q '^registered location=/rd/' "$T/reg" && grep -q '^deregistered$' "$T/reg" || fail "register: $(cat "$T/reg")"
pass "register (and De-register) with the daemon's LwM2M Server from the listen's state"

# ---- another identity, the right key: refused at the handshake ------------
listen badid --ep "$ID" --timeout 30
CID=factory-listen-2 bs badid get "" -A 40
grep -q 'c:2\.05' "$T/badid.log" && fail "another identity got a Discover answer"
rc=0; wait "$LPID" || rc=$?
[ $rc != 0 ] || fail "listen exited 0 after another identity"
grep -q 'refused PSK identity' "$T/badid.err" || fail "not refused for its identity: $(cat "$T/badid.err")"
grep -q "factory-listen-2" "$T/badid.err" && fail "the refused identity is echoed"
[ -e "$T/badid.s" ] && fail "state written after a refused identity"
pass "another PSK identity with the right key: handshake refused, exit $rc, no state"

# ---- a wrong key: no handshake completes (GnuTLS discards what does not
# decrypt, docs/traps.md), the listen ends at its deadline ---------------
listen badkey --ep "$ID" --timeout 3
CKEY="${FKEY}x" bs badkey get "" -A 40
grep -q 'c:2\.05' "$T/badkey.log" && fail "a wrong key got a Discover answer"
rc=0; wait "$LPID" || rc=$?
[ $rc != 0 ] || fail "listen exited 0 with a wrong key"
grep -q 'no Bootstrap-Finish before the deadline' "$T/badkey.err" || fail "badkey: $(cat "$T/badkey.err")"
[ -e "$T/badkey.s" ] && fail "state written after a wrong key"
pass "a wrong key: no answer, exit $rc at the deadline, no state"

# ---- a refused step ends the listen ----------------------------------------
listen refuse --ep "$ID" --timeout 30
bs rdisc get "" -A 40
[ "$(code rdisc)" = 2.05 ] || fail "refuse: Discover $(code rdisc)"
bs rw put 0/1 -t 0 -f "$T/sec.tlv"			# text/plain: 4.15
[ "$(code rw)" = 4.15 ] || fail "refuse: PUT text/plain answered $(code rw)"
rc=0; wait "$LPID" || rc=$?
[ $rc != 0 ] || fail "listen exited 0 after a refused Write"
grep -q 'bootstrap step refused' "$T/refuse.err" || fail "refuse: $(cat "$T/refuse.err")"
[ -e "$T/refuse.s" ] && fail "state written after a refused step"
pass "a Write refused 4.15: exit $rc, no state"
