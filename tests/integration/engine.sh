# engine.sh: helpers of the engine tests (test_engine_*.sh, issue 14),
# sourced after lib.sh. dtlsprobe (tests/integration/dtlsprobe.c) is the
# DTLS client; hsflood (hsflood.c) the ClientHello flood.
: "${DTLSPROBE:?run through ctest}"
: "${HSFLOOD:?run through ctest}"

hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# psk_device ID IDENTITY KEY: register a PSK device (the key from standard
# input); its key as hex in $T/IDENTITY.hex (0600) for dtlsprobe.
psk_device() {
	( umask 077; hex "$3" > "$T/$2.hex" )
	kdc device add "$1" --psk-identity "$2" --psk-file - < "$T/$2.hex" >/dev/null
}
# rpk_device ID NAME: a new P-256 key in $T/NAME.pem, registered as ID's
# raw public key.
rpk_device() {
	openssl ecparam -genkey -name prime256v1 -noout -out "$T/$2.pem" 2>/dev/null
	openssl ec -in "$T/$2.pem" -pubout -out "$T/$2.pub" 2>/dev/null
	kdc device add "$1" --rpk "$T/$2.pub" >/dev/null
}
# x509_device ID NAME: a manufacturer CA "acme" (made once, registered
# with mfg-ca add) and a device certificate naming ID in $T/NAME.pem with
# its key in $T/NAME.key; the device registered with --cert.
x509_device() {
	if [ ! -f "$T/mca.pem" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-subj /CN=acme-ca -days 30 \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
			-keyout "$T/mca.key" -out "$T/mca.pem" 2>/dev/null
		kdc mfg-ca add acme "$T/mca.pem" >/dev/null
	fi
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
		-keyout "$T/$2.key" -out "$T/$2.csr" 2>/dev/null
	printf 'subjectAltName=URI:%s\nextendedKeyUsage=clientAuth\n' "$1" > "$T/$2.ext"
	openssl x509 -req -in "$T/$2.csr" -CA "$T/mca.pem" -CAkey "$T/mca.key" -CAcreateserial \
		-days 5 -extfile "$T/$2.ext" -out "$T/$2.pem" 2>/dev/null
	kdc device add "$1" --cert >/dev/null
}

# probe ARGS...: dtlsprobe, bounded from outside as well; its status.
probe() { timeout 60 "$DTLSPROBE" "$@"; }
# psk_probe IDENTITY MODE ARGS...: dtlsprobe MODE against the KDC
# endpoint with the PSK of psk_device IDENTITY.
psk_probe() {
	local id=$1 mode=$2; shift 2
	probe "$mode" "127.0.0.1:$COAP_PORT" --psk-identity "$id" --psk-file "$T/$id.hex" "$@"
}

# proc_kb PID FIELD: FIELD (VmRSS, VmSize, ...) of /proc/PID/status in kB.
proc_kb() {
	[ -r "/proc/$1/status" ] || fail "process $1 is gone"
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# add_conf SECTION KEY VALUE: set KEY in [SECTION] of iotkdc.conf, adding
# the line at the section's top if the file has no such key (a key the
# daemon of today does not know yet).
add_conf() {
	local f="$T/d/iotkdc.conf"
	if awk -v s="[$1]" -v k="$2" '/^\[/ { insec = ($0 == s) }
	    insec && $1 == k && $2 == "=" { found = 1 } END { exit !found }' "$f"; then
		set_conf "$@"
		return
	fi
	awk -v s="[$1]" -v k="$2" -v v="$3" '{ print } $0 == s { print k " = " v }' \
		"$f" > "$f.new" && mv "$f.new" "$f"
	grep -q "^$2 = $3\$" "$f" || fail "add_conf $1.$2"
}

# field NAME FILE [N]: the value of NAME=... in the Nth (default first)
# "response" line of FILE (a dtlsprobe output).
field() {
	awk -v k="$1" -v n="${3:-1}" '/^response / && ++i == n {
		for (j = 2; j <= NF; j++) if (index($j, k "=") == 1) { print substr($j, length(k) + 2); exit } }' "$2"
}
# codes FILE: the codes of every response in FILE, space-separated.
codes() { awk '/^response / { sub(/^code=/, "", $2); printf "%s ", $2 }' "$1"; }
