#!/usr/bin/env bash
# The OCF device of libiotkdc-device (`iotkdc-device ocf-server`, issue 16
# §2) against an independent peer, libcoap's coap-client-gnutls 4.3.1:
# - unsecured GET /oic/sec/doxm (RFOTM: oxms [1], oxmsel 4, unowned, the
#   ready line's uuid); /oic/res?rt=oic.r.doxm gives the coap and coaps
#   eps; an OCF-versioned request (2049) gets 2053 = 0x0800 back; an
#   unsecured GET /oic/sec/cred is 4.01; an unknown critical option 4.02;
# - a DOC is refused while oxmsel is 4;
# - unsecured POST doxm {"oxmsel":1}: the PIN file appears (8 digits,
#   mode 0600);
# - a DTLS-PSK DOC with identity "oic.sec.doxm.rdp" and the key of a
#   wrong PIN is refused (and resets nothing);
# - with PBKDF2-HMAC-SHA256(PIN, deviceuuid, 1000, 16) computed by python's
#   hashlib, POST /oic/sec/pstat {"om":4} over the DOC is 2.04; when that
#   session closes in RFOTM the device hard-resets: a new deviceuuid,
#   oxmsel 4 again;
# - the state file is mode 0600 and a restart keeps the deviceuuid;
# - a second device with a manufacturer certificate (oxms [2]): no DOC
#   before oxmsel=2; after it, coap-client with the manufacturer CA as
#   trust anchor (-C) runs the ECDHE-ECDSA-CCM DOC (POST pstat om=4 ->
#   2.04, then the reset), and with another CA it refuses the device.
# coap-client-gnutls takes -k as text (docs/traps.md): the test asks for
# a new PIN until the derived key has no 0x00 / 0x0a byte (bounded).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${IOTKDC_DEVICE:?iotkdc-device is not built}"
PY=/usr/bin/python3
cd "$T"

P=$(free_udp_port)
Q=$(free_udp_port "$P")
start_dev() {
	# gone first: the background child truncates it only when it runs,
	# and wait_line would read the last run's ready line meanwhile
	rm -f "$T/dev.out"
	"$IOTKDC_DEVICE" ocf-server --state "$T/st" --pin-file "$T/pin" \
	    --addr 127.0.0.1 --port "$P" --sport "$Q" -vv \
	    > "$T/dev.out" 2>> "$T/dev.log" &
	DEV_PID=$!
	PIDS+=("$DEV_PID")
	wait_line "$T/dev.out" "^ocf-server ready uuid=[0-9a-f-]{36} coap=$P coaps=$Q\$"
	READY_UUID=$(sed -n 's/.*uuid=\([0-9a-f-]*\) .*/\1/p' "$T/dev.out")
}
# get PATH OUT: unsecured GET, the payload into OUT
get() {
	rm -f "$2"
	timeout 20 coap-client-gnutls -B 5 -m get -o "$2" \
	    "coap://127.0.0.1:$P$1" > /dev/null 2>&1 || true
	[ -s "$2" ] || fail "GET $1: no payload"
}
# cbor FILE EXPR: python expression over the decoded payload x
cbor() { "$PY" -c "import cbor2,sys; x=cbor2.load(open(sys.argv[1],'rb')); print($2)" "$1"; }
# req ARGS...: coap-client with -v 7; its PDU log in $T/req.log
req() { timeout 20 coap-client-gnutls -B 5 -v 7 "$@" > "$T/req.log" 2>&1 || true; }

start_dev
get /oic/sec/doxm "$T/doxm"
[ "$(cbor "$T/doxm" "x['oxms'], x['oxmsel'], x['owned'], x['deviceuuid']")" = \
    "[1] 4 False $READY_UUID" ] || fail "fresh doxm: $(cbor "$T/doxm" x)"
UUID1=$READY_UUID
pass "unsecured GET doxm: RFOTM, oxms [1], oxmsel 4, uuid $UUID1"

get "/oic/res?rt=oic.r.doxm" "$T/res"
[ "$(cbor "$T/res" "len(x), x[0]['anchor'], x[0]['href'], sorted(e['ep'] for e in x[0]['eps'])")" = \
    "1 ocf://$UUID1 /oic/sec/doxm ['coap://127.0.0.1:$P', 'coaps://127.0.0.1:$Q']" ] ||
    fail "/oic/res: $(cbor "$T/res" x)"
pass "/oic/res?rt=oic.r.doxm: one link, anchor ocf://uuid, coap and coaps eps"

req -m get -O 2049,0x0800 "coap://127.0.0.1:$P/oic/sec/doxm"
grep -qE 't:ACK c:2\.05 .*Content-Format:10000, 2053:\\x08\\x00' "$T/req.log" ||
    fail "no 2053 = 0x0800 on a versioned answer: $(grep 't:ACK' "$T/req.log")"
req -m get -O 2053,0x07ff "coap://127.0.0.1:$P/oic/sec/doxm"
grep -qE 't:ACK c:4\.15' "$T/req.log" || fail "version 0x07ff not 4.15: $(grep 't:ACK' "$T/req.log")"
req -m get -O 2051,0x01 "coap://127.0.0.1:$P/oic/sec/doxm"
grep -qE 't:ACK c:4\.02' "$T/req.log" || fail "unknown critical option not 4.02"
req -m get "coap://127.0.0.1:$P/oic/sec/cred"
grep -qE 't:ACK c:4\.01' "$T/req.log" || fail "unsecured GET cred not 4.01: $(grep 't:ACK' "$T/req.log")"
pass "2049 -> 2053 = 0x0800; version < 2048 4.15; unknown critical 4.02; unsecured cred 4.01"

# no DOC while oxmsel is 4
"$PY" -c "import cbor2,sys; sys.stdout.buffer.write(cbor2.dumps({'om':4}))" > "$T/om.cbor"
req -m post -t 10000 -f "$T/om.cbor" -u oic.sec.doxm.rdp -k 0123456789abcdef \
    "coaps://127.0.0.1:$Q/oic/sec/pstat"
grep -q 'c:2\.04' "$T/req.log" && fail "a DOC with oxmsel 4 answered"
wait_line "$T/dev.log" "DTLS ClientHello refused \(RFOTM: no DOC"
pass "DOC refused while oxmsel is 4"

# raw CoAP from python: a duplicate CON is answered from the cache (one
# execution: one PIN), Block1 beyond 4 KiB is 4.13, out of order 4.08
pins=$(grep -c "PIN displayed" "$T/dev.log" || true)
"$PY" - "$P" <<'PYEOF' || fail "raw CoAP checks"
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
dst = ('127.0.0.1', int(sys.argv[1]))
def opt(delta, val):
    assert delta < 13 and len(val) < 13
    return bytes([delta << 4 | len(val)]) + val
def req(mid, path, payload, block1=None):
    b = bytes([0x41, 0x02]) + struct.pack('>H', mid) + b'\x7a'
    last = 0
    for seg in path.split('/'):
        b += opt(11 - last, seg.encode()); last = 11
    b += opt(12 - last, b'\x27\x10'); last = 12
    if block1 is not None:
        b += bytes([0xd0 | len(block1), 27 - 12 - 13]) + block1
    return b + b'\xff' + payload
def code(r):
    return '%d.%02d' % (r[1] >> 5, r[1] & 31)
m = req(0x1234, 'oic/sec/doxm', b'\xa1\x66oxmsel\x01')
s.sendto(m, dst); r1 = s.recv(2048)
s.sendto(m, dst); r2 = s.recv(2048)
assert code(r1) == '2.04' and r1 == r2, (r1, r2)
# Block1, SZX 6 (1024): blocks 0..3 fill 4096 bytes, block 4 is over
for n in range(5):
    blk = bytes([n << 4 | 8 | 6])
    s.sendto(req(0x2000 + n, 'oic/sec/doxm', b'\x00' * 1024, blk), dst)
    r = s.recv(2048)
    want = '2.31' if n < 4 else '4.13'
    assert code(r) == want, (n, code(r))
# block 2 with no block 0 before it
s.sendto(req(0x3000, 'oic/sec/doxm', b'\x00' * 1024, bytes([2 << 4 | 8 | 6])), dst)
assert code(s.recv(2048)) == '4.08'
PYEOF
[ "$(grep -c "PIN displayed" "$T/dev.log")" -eq $((pins + 1)) ] || fail "a duplicate CON ran twice"
pass "duplicate CON: the cached answer, one PIN; Block1 over 4096 bytes 4.13; out of order 4.08"

# oxmsel=1 -> a PIN whose PBKDF2 key coap-client can carry as text
"$PY" -c "import cbor2,sys; sys.stdout.buffer.write(cbor2.dumps({'oxmsel':1}))" > "$T/sel.cbor"
KEYOK=
for i in $(seq 1 20); do
	rm -f "$T/pin"
	req -m post -t 10000 -f "$T/sel.cbor" "coap://127.0.0.1:$P/oic/sec/doxm"
	grep -qE 't:ACK c:2\.04' "$T/req.log" || fail "POST oxmsel=1: $(grep 't:ACK' "$T/req.log")"
	[ -f "$T/pin" ] || fail "no pin file after oxmsel=1"
	grep -qxE '[0-9]{8}' "$T/pin" || fail "pin file is not 8 digits"
	[ "$(stat -c %a "$T/pin")" = 600 ] || fail "pin file mode $(stat -c %a "$T/pin")"
	rc=0
	"$PY" - "$T/pin" "$UUID1" "$T/key" <<'EOF' || rc=$?
import hashlib, sys, uuid
pin = open(sys.argv[1]).read().strip().encode()
k = hashlib.pbkdf2_hmac('sha256', pin, uuid.UUID(sys.argv[2]).bytes, 1000, 16)
open(sys.argv[3], 'wb').write(k)
# the wrong PIN: the last digit changed
w = pin[:-1] + bytes([ord('0') + (pin[-1] - ord('0') + 1) % 10])
open(sys.argv[3] + '.wrong', 'wb').write(hashlib.pbkdf2_hmac('sha256', w, uuid.UUID(sys.argv[2]).bytes, 1000, 16))
sys.exit(0 if b'\0' not in k and b'\n' not in k and b'\0' not in open(sys.argv[3] + '.wrong', 'rb').read() and b'\n' not in open(sys.argv[3] + '.wrong', 'rb').read() else 3)
EOF
	[ $rc -eq 0 ] && { KEYOK=1; break; }
done
[ -n "$KEYOK" ] || fail "20 PINs and every key had a 0x00 or 0x0a byte"
pass "oxmsel=1: an 8-digit PIN in the pin file, mode 0600"

# wrong PIN: handshake refused, nothing reset
req -m post -t 10000 -f "$T/om.cbor" -u oic.sec.doxm.rdp -k "$(cat "$T/key.wrong")" \
    "coaps://127.0.0.1:$Q/oic/sec/pstat"
grep -q 'c:2\.04' "$T/req.log" && fail "a wrong PIN's DOC answered"
get /oic/sec/doxm "$T/doxm"
[ "$(cbor "$T/doxm" "x['deviceuuid'], x['oxmsel']")" = "$UUID1 1" ] || fail "wrong PIN changed doxm"
pass "wrong PIN: no answer over the DOC, device unchanged"

# the right key under another identity: refused too
req -m post -t 10000 -f "$T/om.cbor" -u oic.sec.doxm.jw -k "$(cat "$T/key")" \
    "coaps://127.0.0.1:$Q/oic/sec/pstat"
grep -q 'c:2\.04' "$T/req.log" && fail "a DOC under identity oic.sec.doxm.jw answered"
pass "the PIN's key under another identity: no DOC"

# the right PIN: one request over the DOC, then the DOC closes -> reset
resets=$(grep -c "hard reset" "$T/dev.log" || true)
req -m post -t 10000 -f "$T/om.cbor" -u oic.sec.doxm.rdp -k "$(cat "$T/key")" \
    -O 2049,0x0800 "coaps://127.0.0.1:$Q/oic/sec/pstat"
grep -qE 't:ACK c:2\.04' "$T/req.log" || fail "POST pstat om=4 over the DOC: $(grep -E 't:ACK|WARN|CRIT' "$T/req.log" | head -3)"
wait_line "$T/dev.log" "POST /oic/sec/pstat from DOC -> 2\.04"
pass "RDP DOC with PBKDF2(PIN, deviceuuid): POST pstat {om:4} -> 2.04"
wait_line "$T/dev.log" "hard reset" $((resets + 1))
get /oic/sec/doxm "$T/doxm"
UUID2=$(cbor "$T/doxm" "x['deviceuuid']")
[ "$UUID2" != "$UUID1" ] || fail "DOC closed in RFOTM but the deviceuuid stayed $UUID1"
[ "$(cbor "$T/doxm" "x['oxmsel'], x['owned']")" = "4 False" ] || fail "after reset: $(cbor "$T/doxm" x)"
get /oic/sec/pstat "$T/pstat"
[ "$(cbor "$T/pstat" "x['dos']['s'], x['om']")" = "1 3" ] || fail "pstat after reset: $(cbor "$T/pstat" x)"
pass "DOC closed in RFOTM: hard reset, deviceuuid $UUID1 -> $UUID2, oxmsel 4"

[ "$(stat -c %a "$T/st")" = 600 ] || fail "state file mode $(stat -c %a "$T/st")"
kill -TERM "$DEV_PID"
wait "$DEV_PID" || fail "ocf-server exit status $? on SIGTERM"
start_dev
[ "$READY_UUID" = "$UUID2" ] || fail "restart: uuid $READY_UUID, want $UUID2"
pass "state file mode 0600; a restart keeps deviceuuid $UUID2"

# ---- the manufacturer certificate OTM ----
mkcert() { # NAME SUBJECT [CA]
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$T/$1.key" -out "$T/$1.csr" -subj "/CN=$2" 2>/dev/null
	if [ -n "${3:-}" ]; then
		openssl x509 -req -in "$T/$1.csr" -CA "$T/$3.pem" -CAkey "$T/$3.key" \
		    -CAcreateserial -out "$T/$1.pem" -days 2 2>/dev/null
	else
		openssl x509 -req -in "$T/$1.csr" -signkey "$T/$1.key" \
		    -out "$T/$1.pem" -days 2 2>/dev/null
	fi
}
mkcert mfgca "mfg CA"
mkcert otherca "other CA"
mkcert mfgdev "mfg device" mfgca
P2=$(free_udp_port "$P" "$Q")
Q2=$(free_udp_port "$P" "$Q" "$P2")
"$IOTKDC_DEVICE" ocf-server --state "$T/st2" --mfg-cert "$T/mfgdev.pem" \
    --mfg-key "$T/mfgdev.key" --addr 127.0.0.1 --port "$P2" --sport "$Q2" \
    -vv > "$T/dev2.out" 2> "$T/dev2.log" &
PIDS+=("$!")
wait_line "$T/dev2.out" "^ocf-server ready uuid=[0-9a-f-]{36} coap=$P2 coaps=$Q2\$"
M1=$(sed -n 's/.*uuid=\([0-9a-f-]*\) .*/\1/p' "$T/dev2.out")
req -m post -t 10000 -f "$T/om.cbor" -C "$T/mfgca.pem" "coaps://127.0.0.1:$Q2/oic/sec/pstat"
grep -q 'c:2\.04' "$T/req.log" && fail "a mfgcert DOC with oxmsel 4 answered"
wait_line "$T/dev2.log" "DTLS ClientHello refused \(RFOTM: no DOC"
"$PY" -c "import cbor2,sys; sys.stdout.buffer.write(cbor2.dumps({'oxmsel':2}))" > "$T/sel2.cbor"
req -m post -t 10000 -f "$T/sel2.cbor" "coap://127.0.0.1:$P2/oic/sec/doxm"
grep -qE 't:ACK c:2\.04' "$T/req.log" || fail "POST oxmsel=2: $(grep 't:ACK' "$T/req.log")"
rm -f "$T/d2"
timeout 20 coap-client-gnutls -B 5 -m get -o "$T/d2" "coap://127.0.0.1:$P2/oic/sec/doxm" >/dev/null 2>&1 || true
[ "$(cbor "$T/d2" "x['oxms'], x['oxmsel'], x['deviceuuid']")" = "[2] 2 $M1" ] || fail "mfg doxm: $(cbor "$T/d2" x)"
req -m post -t 10000 -f "$T/om.cbor" -C "$T/otherca.pem" "coaps://127.0.0.1:$Q2/oic/sec/pstat"
grep -q 'c:2\.04' "$T/req.log" && fail "coap-client accepted the device under another CA"
req -m post -t 10000 -f "$T/om.cbor" -C "$T/mfgca.pem" "coaps://127.0.0.1:$Q2/oic/sec/pstat"
grep -qE 't:ACK c:2\.04' "$T/req.log" || fail "mfgcert DOC: $(grep -E 't:ACK|WARN|CRIT' "$T/req.log" | head -3)"
wait_line "$T/dev2.log" "POST /oic/sec/pstat from DOC -> 2\.04"
wait_line "$T/dev2.log" "hard reset" 1
rm -f "$T/d2"
timeout 20 coap-client-gnutls -B 5 -m get -o "$T/d2" "coap://127.0.0.1:$P2/oic/sec/doxm" >/dev/null 2>&1 || true
[ "$(cbor "$T/d2" "x['deviceuuid'] != '$M1', x['oxmsel']")" = "True 4" ] || fail "mfg device after the DOC: $(cbor "$T/d2" x)"
pass "mfgcert: no DOC at oxmsel 4; ECDHE-ECDSA DOC with the mfg CA -> 2.04, then reset; another CA refuses the device"
