#!/usr/bin/env bash
# COSE/CWT (src/cose/) against an independent implementation:
# tests/integration/cose_peer.py on Debian's python3-cbor2 and
# python3-cryptography (/usr/bin/python3: the image's default python3 is
# a pyenv one without cbor2). With fresh random keys each run:
#  - tokens cosetool makes (Sign1 ES256 and EdDSA, Mac0 HMAC 256/64 and
#    256/256, Encrypt0 AES-CCM-16-64-128, -128-128 and A128GCM; with and
#    without tag 61; kid protected) are verified / decrypted by python,
#    their claims read back, their encoding deterministic;
#  - tokens python makes are accepted by cosetool with the same claims;
#  - a python token with any one byte flipped (every byte of a Sign1,
#    Mac0 and Encrypt0 outside the unprotected header) is refused by
#    cosetool, and so is one opened with another key.
. "$(dirname "$0")/lib.sh"
: "${COSETOOL:?run through ctest}"
PY=/usr/bin/python3
PEER=$(dirname "$0")/cose_peer.py
[ -x "$PY" ] || fail "$PY missing (Debian's python3: make deps)"
"$PY" -c 'import cbor2, cryptography' 2>/dev/null ||
	fail "python3-cbor2 / python3-cryptography missing (make deps)"

mkdir -m 700 "$T/k"
"$PY" "$PEER" genkeys "$T/k"
EXP=2000000000

# ours -> python
for spec in "sign1 es256" "sign1 eddsa" "mac0 mac" "mac0 mac256" \
	"encrypt0 ccm" "encrypt0 ccm16" "encrypt0 gcm"; do
	set -- $spec
	kind=$1 key=$T/k/$2.key
	tok=$("$COSETOOL" make "$kind" "$key" --iss as.example --aud lock1 \
		--exp $EXP --scope "open close" --cti 0b71 --cnf-kid a1b2) ||
		fail "cosetool make $spec"
	case $kind in sign1) want=18 ;; mac0) want=17 ;; *) want=16 ;; esac
	"$PY" "$PEER" open "$key" "$tok" --expect aud=lock1 iss=as.example \
		exp=$EXP "scope=open close" cti=0b71 "cnf={3: b'\\xa1\\xb2'}" \
		_type=$want _cwt_tag=1 _canonical=1 >/dev/null ||
		fail "python refuses our $spec token: $tok"
	# our own reader too
	# (no pipe into grep -q under pipefail: lib.sh has())
	has '^aud=lock1$' "$COSETOOL" open "$key" "$tok" ||
		fail "cosetool refuses its own $spec token"
	# the peer is no rubber stamp: our token with its last byte (the
	# signature, MAC tag or AEAD tag) flipped is refused there
	last=$(( 0x${tok: -2} ^ 0x01 ))
	bad=${tok:0:$(( ${#tok} - 2 ))}$(printf '%02x' "$last")
	if "$PY" "$PEER" open "$key" "$bad" >/dev/null 2>&1; then
		fail "python accepts our $spec token with its last byte flipped"
	fi
	pass "our $spec CWT verified/decrypted by python3-cryptography (and refused flipped)"
done
# without tag 61, kid protected
tok=$("$COSETOOL" make sign1 "$T/k/es256.key" --aud lock1 --no-cwt-tag --kid-protected)
[ "${tok:0:2}" = d2 ] || fail "no-cwt-tag token starts ${tok:0:4}"
"$PY" "$PEER" open "$T/k/es256.key" "$tok" --expect _cwt_tag=0 aud=lock1 >/dev/null ||
	fail "python refuses our untagged-61 Sign1"
pass "Sign1 without tag 61, kid protected, verified by python"

# python -> ours
for spec in "sign1 es256" "sign1 eddsa" "mac0 mac" "mac0 mac256" \
	"encrypt0 ccm" "encrypt0 ccm16" "encrypt0 gcm"; do
	set -- $spec
	kind=$1 key=$T/k/$2.key
	tok=$("$PY" "$PEER" make "$kind" "$key" --aud lock1 --iss as.py \
		--exp $EXP --scope open --cnf-kid 0102)
	out=$("$COSETOOL" open "$key" "$tok") ||
		fail "cosetool refuses python's $spec token: $tok"
	for want in aud=lock1 iss=as.py exp=$EXP scope=open cnf_kid=0102 cwt_tag=1; do
		grep -qx "$want" <<<"$out" || fail "$spec: no $want in: $out"
	done
	pass "python's $spec CWT accepted by cosetool"
done

# python tokens, one byte flipped: refused (bytes of the unprotected
# header, which nothing covers, are skipped: located by python)
for spec in "sign1 es256" "mac0 mac" "encrypt0 ccm"; do
	set -- $spec
	kind=$1 key=$T/k/$2.key
	tok=$("$PY" "$PEER" make "$kind" "$key" --aud lock1 --exp $EXP)
	# [start, end) of the unprotected map, in bytes
	read -r us ue < <("$PY" -c '
import sys, cbor2
b = bytes.fromhex(sys.argv[1])
# d83d, the COSE tag, the array head, then the protected bstr (short)
i = 3
i += 1 + (b[i] & 0x1f)
# the unprotected map python made, re-encoded the same way
print(i, i + len(cbor2.dumps(cbor2.loads(b).value.value[1])))' "$tok")
	n=$(( ${#tok} / 2 ))
	refused=0 skipped=0
	for ((i = 0; i < n; i++)); do
		if [ "$i" -ge "$us" ] && [ "$i" -lt "$ue" ]; then
			# kid: not covered; the IV (Encrypt0) is, through the nonce
			[ "$kind" = encrypt0 ] || { skipped=$((skipped + 1)); continue; }
		fi
		b=$(( 0x${tok:$((2 * i)):2} ^ 0x01 ))
		mut=${tok:0:$((2 * i))}$(printf '%02x' "$b")${tok:$((2 * i + 2))}
		if "$COSETOOL" open "$key" "$mut" >/dev/null 2>"$T/err"; then
			# an Encrypt0 whose kid byte changed still opens
			if [ "$kind" = encrypt0 ] && [ "$i" -ge "$us" ] && [ "$i" -lt "$ue" ]; then
				skipped=$((skipped + 1)); continue
			fi
			fail "$spec: byte $i flipped accepted: $mut"
		fi
		grep -qE 'cosetool: [A-Z_]+$' "$T/err" || fail "$spec: byte $i: $(cat "$T/err")"
		refused=$((refused + 1))
	done
	[ "$refused" -gt $((n - 24)) ] || fail "$spec: only $refused of $n refused"
	pass "python's $spec CWT: $refused single-byte flips refused ($skipped in the unprotected kid skipped)"
done

# another key of the same alg: refused
mkdir -m 700 "$T/k2"
"$PY" "$PEER" genkeys "$T/k2"
tok=$("$PY" "$PEER" make sign1 "$T/k/es256.key" --aud lock1)
expect_fail 'BAD_SIGNATURE' "$COSETOOL" open "$T/k2/es256.key" "$tok"
tok=$("$PY" "$PEER" make encrypt0 "$T/k/ccm.key" --aud lock1)
expect_fail 'BAD_SIGNATURE' "$COSETOOL" open "$T/k2/ccm.key" "$tok"
# a key of another alg for the message: UNSUPPORTED, never tried
expect_fail 'UNSUPPORTED' "$COSETOOL" open "$T/k/ccm16.key" "$tok"
pass "wrong key refused (BAD_SIGNATURE), other alg refused (UNSUPPORTED)"
