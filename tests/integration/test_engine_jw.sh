#!/usr/bin/env bash
# OCF Just Works (coap.h KDC_COAP_CLIENT_JW): the engine's own DTLS 1.2
# client handshake for IoTivity's private suite 0xFF00
# (TLS_ECDH_anon_WITH_AES_128_CBC_SHA256), driven by engclient against
# jwpeer.py, an independent server written in Python from the RFCs
# (python3-cryptography for AES-CBC and ECDH, hmac/hashlib for the PRF):
# - the handshake (HelloVerifyRequest cookie round, or none), then a GET
#   and a POST answered on the session through our CBC-HMAC-SHA256
#   MAC-then-encrypt records; the ClientHello offers 0xFF00 (+ the SCSV)
#   and extended_master_secret, never encrypt_then_mac;
# - the key_block the engine keeps (kdc_coap_peer_prf(), PRF(master,
#   "key expansion", server_random || client_random), where OCF's owner
#   PSK starts) equals the peer's, with the extended master secret (the
#   server echoes it) and without (it does not);
# - our lost flight (ClientKeyExchange, CCS, Finished) is sent again on
#   the engine's timer, in fresh records;
# - a server Finished that is wrong: the connect fails (TLS) and the
#   engine sends the fatal decrypt_error alert in epoch 1;
# - a server record whose MAC does not match (one IV bit flipped: the
#   plaintext would read 2.04 for 2.05) is dropped: the CON is sent
#   again and the intact 2.05 answers it;
# - without unauthenticated=true the engine refuses to start (INVALID_ARG);
# - a server that never answers: our ClientHello goes again on the
#   engine's timer, doubling from 1 s, each time in a new record, until
#   the handshake's 15 s deadline (KDC_COAP_HANDSHAKE_MS): TIMEOUT.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
: "${ENGCLIENT:?the engclient helper is not built}"
HERE="$(dirname "$0")"
PY=/usr/bin/python3
"$PY" -c 'import cryptography' 2>/dev/null ||
	fail "python3-cryptography missing (PKGS_TEST; make deps installs it)"
cd "$T"

# peer NAME FLAGS...: jwpeer.py in the background; its port in PORT
peer() {
	local name=$1; shift
	"$PY" "$HERE/jwpeer.py" "$@" > "$T/$name.out" 2> "$T/$name.log" &
	PIDS+=("$!")
	wait_line "$T/$name.log" '^ready [0-9]+$'
	PORT=$(awk '$1 == "ready" { print $2 }' "$T/$name.log")
}
run() {	# run OUT ARGS...: engclient; its exit status in RC
	local out=$1; shift
	RC=0
	"$ENGCLIENT" "$@" > "$T/$out" 2>&1 || RC=$?
}
KB='prf=server:key expansion:96'
# same_key_block OUT LOG: the engine's kept PRF output = the peer's key_block
same_key_block() {
	local ours theirs after
	ours=$(awk '$1 == "prf" { print $2 }' "$1")
	after=$(awk '$1 == "prf-after" { print $3 }' "$1")
	theirs=$(awk '$1 == "key_block" { print $2 }' "$2")
	[ ${#theirs} -eq 192 ] || fail "$2: no key_block: $(cat "$2")"
	[ "$ours" = "$theirs" ] && [ "$after" = "$theirs" ] ||
		fail "key_block: engine '$ours' (after '$after'), peer '$theirs'"
}

# ---- 1. EMS echoed: handshake, GET, POST, key_block ---------------------------
peer ems
run e.out get 127.0.0.1 "$PORT" a/light jw "$KB" post
[ "$RC" -eq 0 ] || fail "JW (EMS): rc $RC: $(cat e.out) / $(cat ems.log)"
grep -qx "connected peer=127.0.0.1:$PORT suite=0xff00" e.out || fail "suite: $(cat e.out)"
grep -qx 'answer 2.05 path=a/light' e.out || fail "GET: $(cat e.out)"
grep -qx 'answer 2.04 ' e.out || fail "POST: $(cat e.out)"
grep -qx 'request 0.01 a/light' ems.log && grep -qx 'request 0.02 a/light' ems.log ||
	fail "the peer's view of the requests: $(cat ems.log)"
grep -qx 'hvr seq=0 cookie=' ems.log || fail "no cookie round: $(cat ems.log)"
grep -qx 'hello ems=1 etm=0 suites=ff0000ff' ems.log || fail "ClientHello: $(cat ems.log)"
grep -qx 'client-finished ok' ems.log && grep -qx 'ems-used 1' ems.log ||
	fail "EMS handshake: $(cat ems.log)"
same_key_block e.out ems.log
pass "JW with the extended master secret: cookie round, GET 2.05 and POST 2.04 on CBC-SHA256 records; key_block equal"

# ---- 2. no EMS, no cookie round ------------------------------------------------
peer noems --no-ems --no-hvr
run n.out get 127.0.0.1 "$PORT" b jw "$KB"
[ "$RC" -eq 0 ] && grep -qx 'answer 2.05 path=b' n.out || fail "JW (no EMS): rc $RC: $(cat n.out) / $(cat noems.log)"
grep -qx 'ems-used 0' noems.log || fail "the peer used EMS: $(cat noems.log)"
! grep -q '^hvr' noems.log || fail "a cookie round with --no-hvr"
same_key_block n.out noems.log
pass "JW without EMS (RFC 5246 master secret) and without a cookie round: key_block equal"

# ---- 3. our last flight lost: sent again, fresh records ----------------------
peer drop --drop-cke
run d.out get 127.0.0.1 "$PORT" c jw
[ "$RC" -eq 0 ] && grep -qx 'answer 2.05 path=c' d.out || fail "JW (lost flight): rc $RC: $(cat d.out) / $(cat drop.log)"
r1=$(awk '$1 == "dropped-cke" { sub("rseq=", "", $2); print $2 }' drop.log)
r2=$(awk '$1 == "cke" { sub("rseq=", "", $2); print $2 }' drop.log)
[ -n "$r1" ] && [ -n "$r2" ] && [ "$r2" -gt "$r1" ] ||
	fail "the flight was not sent again in a new record ('$r1' then '$r2')"
pass "JW: our lost ClientKeyExchange/CCS/Finished flight retransmitted (record $r1, then $r2)"

# ---- 4. a wrong server Finished ---------------------------------------------
peer badfin --bad-finished
run f.out get 127.0.0.1 "$PORT" a jw "$KB"
[ "$RC" -eq 2 ] && grep -qx 'connect failed: TLS setup failed' f.out ||
	fail "a wrong Finished accepted? rc $RC: $(cat f.out)"
! grep -q '^answer\|^prf' f.out || fail "a session after a wrong Finished: $(cat f.out)"
wait_line "$T/badfin.log" '^alert 2 51 1$'
! grep -q '^request' badfin.log || fail "a request after a wrong Finished"
pass "JW: a wrong server Finished fails the connect (TLS), decrypt_error alert sent in epoch 1"

# ---- 5. a server record whose MAC does not match: dropped ---------------------
peer badmac --bad-mac
ENGCLIENT_ACK_MS=300 run m.out get 127.0.0.1 "$PORT" a/light jw
[ "$RC" -eq 0 ] && grep -qx 'answer 2.05 path=a/light' m.out ||
	fail "after a corrupted record: rc $RC: $(cat m.out) / $(cat badmac.log)"
grep -qx 'corrupted' badmac.log || fail "the peer corrupted nothing: $(cat badmac.log)"
[ "$(grep -cx 'request 0.01 a/light' badmac.log)" -eq 2 ] ||
	fail "the CON was not sent again after the corrupted answer: $(cat badmac.log)"
pass "JW: a record that does not authenticate is dropped (its 2.04 never seen); the CON retransmitted, 2.05 taken"

# ---- 6. JW only when asked for as unauthenticated ---------------------------------
peer noauth
run u.out get 127.0.0.1 "$PORT" a jw noauth
[ "$RC" -ne 0 ] && grep -qx 'connect refused: invalid argument' u.out ||
	fail "JW without unauthenticated=true: rc $RC: $(cat u.out)"
! grep -q '^hello\|^hvr' noauth.log || fail "a ClientHello went out anyway"
pass "JW without unauthenticated=true: INVALID_ARG, nothing sent"

# ---- 7. nobody answers: retransmissions on the timer, then TIMEOUT ---------------
peer silent --silent
t0=$(date +%s%N)
run t.out get 127.0.0.1 "$PORT" a jw
el=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$RC" -eq 2 ] && grep -qx 'connect failed: peer did not answer in time' t.out ||
	fail "a silent server: rc $RC: $(cat t.out)"
[ "$el" -ge 14000 ] && [ "$el" -le 25000 ] || fail "gave up after $el ms, not at the 15 s deadline"
awk '$1 == "silent" { sub("rseq=", "", $2); sub("ms=", "", $3); print $2, $3 }' silent.log > s.txt
n=$(wc -l < s.txt)
[ "$n" -ge 4 ] && [ "$n" -le 5 ] || fail "$n ClientHellos in 15 s (1 s doubling: 4 or 5): $(cat silent.log)"
# fresh record numbers, and the gaps doubling (1 s, 2 s, 4 s, ...)
awk 'NR > 1 { if ($1 != prev + 1) bad = "record " $1 " after " prev;
	gap = $2 - pt; if (NR > 2 && gap < 1.6 * pg) bad = "gap " gap " after " pg; pg = gap }
	NR == 2 { if (gap < 800 || gap > 1500) bad = "first gap " gap }
	{ prev = $1; pt = $2 } END { if (bad) { print bad; exit 1 } }' s.txt ||
	fail "retransmissions: $(cat s.txt)"
pass "JW, nobody answers: $n ClientHellos in new records, gaps doubling from 1 s ($(tr '\n' ' ' < s.txt)), TIMEOUT after $el ms"
