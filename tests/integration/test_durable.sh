#!/usr/bin/env bash
# No credential leaves before it is durable: strace on the real daemon
# shows the fdatasync of the store's WAL (synchronous = FULL: the commit
# recording the credential is on disk) after the request and before the
# datagram that carries the credential:
#  - EST /sen from coap-client-gnutls (manufacturer PSK): the 2.04 with
#    the certificate, sent by the engine thread after a worker's group
#    commit;
#  - LwM2M bootstrap from iotkdc-device: the Bootstrap-Write of /0 with the
#    PSK (pending in the store until Bootstrap-Finish);
#  - ACE /token from coap-client-gnutls: the 2.01 with the access token
#    and its PoP key (the token row is what lets an operator list and
#    revoke it);
#  - `iotkdc cert sign`: the write of the PEM to stdout.
# DTLS hides the payload, so the datagrams are told by record type
# (application data, 23 = "\27") and size: the certificate's datagram is
# the first at least as long as the certificate; the Write of /0 is the
# longest the KDC sends in the bootstrap. With synchronous = NORMAL there
# is no fdatasync at commit, and an answer sent before its commit has the
# fdatasync after it: either way this test fails.
. "$(dirname "$0")/lib.sh"
: "${IOTKDC_DEVICE:?the iotkdc-device simulator is not built}"
command -v strace >/dev/null || fail "strace missing (apt-get install strace)"

kdc init >/dev/null
KEY='durable-test-key-0123'		# coap-client -k takes the key as text
KEY_HEX=$(printf '%s' "$KEY" | od -An -tx1 | tr -d ' \n')
kdc device add urn:dev:dur:est --psk-identity dur-est --psk "$KEY_HEX" >/dev/null
BS_PSK=000102030405060708090a0b0c0d0e0f
kdc device add urn:dev:dur:bs --psk-identity dur-bs --psk "$BS_PSK" >/dev/null
start_serve

# strace -f on every thread of the daemon until stop_trace.
TRACE_PID=
start_trace() {
	rm -f "$T/trace.txt"
	strace -f -qq -y -e trace=fsync,fdatasync,sendmsg,recvmsg \
		-o "$T/trace.txt" -p "$SERVE_PID" 2> "$T/strace.err" &
	TRACE_PID=$!
	PIDS+=("$TRACE_PID")
	local all
	for _ in $(seq 1 100); do	# until every thread has strace as tracer
		all=1
		for s in /proc/"$SERVE_PID"/task/*/status; do
			grep -q "^TracerPid:[[:space:]]*$TRACE_PID\$" "$s" 2>/dev/null || all=0
		done
		[ $all = 1 ] && return 0
		kill -0 "$TRACE_PID" 2>/dev/null || fail "strace exited: $(cat "$T/strace.err")"
		sleep 0.05
	done
	fail "strace did not attach to every thread of $SERVE_PID"
}
stop_trace() {	# strace detaches and flushes on SIGTERM
	kill -TERM "$TRACE_PID"
	wait "$TRACE_PID" 2>/dev/null || true
	kill -0 "$SERVE_PID" 2>/dev/null || fail "serve died under strace"
}

# One event per line, in the order the syscalls ran: "<line> S|R <bytes>"
# for a DTLS application-data datagram sent/received, "<line> F 0" for a
# completed fdatasync/fsync of iotkdc.db-wal. A call that strace splits
# ("<unfinished ...>" ... "<... resumed>") counts at its start for
# send/recv and at its end for the sync.
events() {
	awk -v db="$T/d/iotkdc.db-wal" '
	function ret(s,   v) {
		if (match(s, /\) += -?[0-9]+/)) {
			v = substr(s, RSTART, RLENGTH); sub(/.*= */, "", v)
			return v + 0
		}
		return -1
	}
	{
		pid = $1
		if ($0 ~ /<\.\.\. [a-z]+ resumed>/) {
			if (!(pid in kind)) next
			k = kind[pid]; at = start[pid]; delete kind[pid]
			r = ret($0)
		} else if ($0 ~ / (sendmsg|recvmsg)\(/) {
			k = ($0 ~ / sendmsg\(/) ? "S" : "R"
			if (index($0, "iov_base=\"\\27") == 0) k = "-"
			at = NR
			if ($0 ~ /<unfinished \.\.\.>$/) { kind[pid] = k; start[pid] = NR; next }
			r = ret($0)
		} else if ($0 ~ / f(data)?sync\(/) {
			k = index($0, "<" db ">") > 0 ? "F" : "-"
			at = NR
			if ($0 ~ /<unfinished \.\.\.>$/) { kind[pid] = k; start[pid] = NR; next }
			r = ret($0)
		} else
			next
		if (k == "-") next
		if (k == "F") { if (r == 0) print NR, "F", 0; next }
		if (r > 0) print at, k, r
	}' "$T/trace.txt" | sort -n -k1,1
}

# durable_check EVENTS MINLEN: the first application-data datagram the KDC
# sent of at least MINLEN bytes comes after a completed WAL fdatasync that
# itself comes after the last datagram received before it (the request).
# Prints the datagram's length, or why not (status 1).
durable_check() {
	awk -v min="$2" '
		$2 == "R" { lastR = NR }
		$2 == "F" { lastF = NR }
		$2 == "S" && $3 >= min && !found { found = 1; len = $3; r = lastR; f = lastF }
		END {
			if (!found) { print "no datagram of " min " bytes or more"; exit 1 }
			if (f == "") { print "no fdatasync of the WAL before the " len " B datagram"; exit 1 }
			if (r != "" && f < r) { print "the last WAL fdatasync before the " len " B datagram precedes the request"; exit 1 }
			print len
		}' "$1"
}
durable_before() {	# MINLEN WHAT
	events > "$T/events.txt"
	grep -q ' S ' "$T/events.txt" || fail "$2: no sendmsg of application data in the trace (strace -y output changed?)"
	durable_check "$T/events.txt" "$1" > "$T/verdict.txt" ||
		fail "$2: $(cat "$T/verdict.txt"); events: $(tr '\n' ';' < "$T/events.txt")"
}

# ---- EST /sen -----------------------------------------------------------
EST="coaps://127.0.0.1:$COAP_PORT/.well-known/est"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
	-keyout "$T/dev.key" -outform DER -out "$T/csr.der" 2>/dev/null
start_trace
timeout 20 coap-client-gnutls -v 7 -B 5 -u dur-est -k "$KEY" -m post -t 286 -A 287 \
	-f "$T/csr.der" -o "$T/cert.der" "$EST/sen" > "$T/client.out" 2>&1 || true
stop_trace
grep -qE "t:(ACK|CON) c:2\.04 " "$T/client.out" || fail "sen not 2.04: $(tail -3 "$T/client.out")"
openssl x509 -inform DER -in "$T/cert.der" -noout 2>/dev/null || fail "sen: no certificate"
CERT_LEN=$(stat -c %s "$T/cert.der")
durable_before "$CERT_LEN" "EST /sen"
pass "EST /sen: the WAL fdatasync of the issuance precedes the $(cat "$T/verdict.txt") B datagram with the $CERT_LEN B certificate"

# The check itself: the same events with each fdatasync moved after the
# last datagram (the order an answer sent before its commit would give),
# then with none, must fail.
{ grep -v ' F ' "$T/events.txt"; grep ' F ' "$T/events.txt"; } > "$T/late.txt"
! durable_check "$T/late.txt" "$CERT_LEN" >/dev/null || fail "durable_check passed a late fdatasync"
grep -v ' F ' "$T/events.txt" > "$T/nosync.txt"
! durable_check "$T/nosync.txt" "$CERT_LEN" >/dev/null || fail "durable_check passed without fdatasync"
pass "durable_check refuses the same trace with the fdatasync after the certificate, or without it"

# ---- LwM2M bootstrap --------------------------------------------------
start_trace
timeout 30 "$IOTKDC_DEVICE" bootstrap --server "coaps://127.0.0.1:$COAP_PORT" \
	--ep urn:dev:dur:bs --psk-identity dur-bs --psk "$BS_PSK" \
	--state "$T/bs.state" > "$T/bs.out" 2>&1 || fail "bootstrap failed: $(tail -3 "$T/bs.out")"
stop_trace
grep -q "bootstrapped ep=urn:dev:dur:bs .*mode=0" "$T/bs.out" || fail "bootstrap: $(cat "$T/bs.out")"
MAXLEN=$(events | awk '$2 == "S" && $3 > m { m = $3 } END { print m + 0 }')
[ "$MAXLEN" -gt 100 ] || fail "bootstrap: no datagram long enough to carry a PSK ($MAXLEN B)"
durable_before "$MAXLEN" "bootstrap Write /0"
pass "LwM2M bootstrap: the WAL fdatasync of the pending PSK precedes the $MAXLEN B Bootstrap-Write of /0"

# ---- ACE /token ----------------------------------------------------------
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/asrs.hex"
chmod 600 "$T/asrs.hex"
kdc ace rs add lock1 --key-file "$T/asrs.hex" >/dev/null
kdc ace grant urn:dev:dur:est lock1 open >/dev/null
/usr/bin/python3 "$(dirname "$0")/ace_peer.py" req lock1 open > "$T/ace.req"
start_trace
timeout 20 coap-client-gnutls -v 7 -B 5 -u dur-est -k "$KEY" -m post -t 19 \
	-f "$T/ace.req" -o "$T/ace.resp" "coaps://127.0.0.1:$COAP_PORT/token" > "$T/client.out" 2>&1 || true
stop_trace
grep -qE "t:(ACK|CON) c:2\.01 " "$T/client.out" || fail "token not 2.01: $(tail -3 "$T/client.out")"
TOK_LEN=$(stat -c %s "$T/ace.resp")
[ "$TOK_LEN" -gt 60 ] || fail "token answer of $TOK_LEN B"
durable_before "$TOK_LEN" "ACE /token"
pass "ACE /token: the WAL fdatasync of the token row precedes the $(cat "$T/verdict.txt") B datagram with the $TOK_LEN B answer"

# ---- cert sign ----------------------------------------------------------
kdc device add urn:dev:dur:cli --cert >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
	-keyout "$T/cli.key" -out "$T/cli.csr" 2>/dev/null
# stdout line-buffered (stdbuf): the PEM is written when cert sign prints
# it, not at exit after the store's close (whose checkpoint syncs anyway).
# In an ASan build (SAN=1): stdbuf is an LD_PRELOAD, which ASan must be
# told to accept, and LeakSanitizer cannot run under ptrace (integ.cli
# checks cert sign for leaks).
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:detect_leaks=0 \
strace -f -qq -y -e trace=fsync,fdatasync,write -o "$T/cli.trace" \
	stdbuf -oL "$IOTKDC" --dir "$T/d" cert sign "$T/cli.csr" --device urn:dev:dur:cli > "$T/cli.pem" ||
	fail "cert sign failed"
openssl x509 -in "$T/cli.pem" -noout 2>/dev/null || fail "cert sign: no certificate"
awk -v wal="<$T/d/iotkdc.db-wal>" -v out="<$T/cli.pem>" '
	index($0, "fdatasync(") && index($0, wal) && / = 0$/ && !pem { synced = NR }
	index($0, "write(1" out ", \"-----BEGIN CERTIFICATE") && !pem { pem = NR }
	END { exit !(pem && synced && synced < pem) }' "$T/cli.trace" ||
	fail "cert sign: no WAL fdatasync before the PEM is written: $(grep -E 'fdatasync|write\(1' "$T/cli.trace" | cut -c1-120)"
pass "cert sign: the WAL fdatasync of the issuance precedes the write of the PEM to stdout"
