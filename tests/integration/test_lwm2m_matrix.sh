#!/usr/bin/env bash
# The whole first slice through the real daemon and the real simulator:
# for every manufacturer credential (PSK, RPK, certificate under a
# manufacturer CA) and every operational credential (PSK, RPK, X.509),
# `iotkdc-device bootstrap` gets per-device operational credentials over
# DTLS, then `iotkdc-device register` registers with the built-in LwM2M
# Server using them. Afterwards: exactly one live operational credential
# per device, the registration listed, the manufacturer credential refused
# by the LwM2M Server.
. "$(dirname "$0")/lib.sh"
: "${IOTKDC_DEVICE:?the iotkdc-device simulator is not built}"
dev() { timeout 60 "$IOTKDC_DEVICE" "$@"; }

kdc init >/dev/null
cat >> "$T/d/iotkdc.conf" <<CONF

[profile op-psk]
cred_type = psk
[profile op-rpk]
cred_type = rpk
[profile op-x509]
cred_type = x509
CONF
start_serve
openssl x509 -in "$T/d/server.pem" -pubkey -noout > "$T/server.pub"

# a manufacturer CA for certificate-based devices
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=acme-ca -days 30 \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
	-keyout "$T/mca.key" -out "$T/mca.pem" 2>/dev/null
kdc mfg-ca add acme "$T/mca.pem" >/dev/null

n=0
for mfg in psk rpk cert; do
	for op in psk rpk x509; do
		n=$((n + 1))
		id="urn:dev:mx:$mfg-$op"
		case $mfg in
		psk)
			head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$T/$n.psk"
			kdc device add "$id" --psk-identity "mx$n" --psk-file "$T/$n.psk" --profile "op-$op" >/dev/null
			cred=(--psk-identity "mx$n" --psk-file "$T/$n.psk")
			;;
		rpk)
			openssl ecparam -genkey -name prime256v1 -noout -out "$T/$n.key" 2>/dev/null
			openssl ec -in "$T/$n.key" -pubout -out "$T/$n.pub" 2>/dev/null
			kdc device add "$id" --rpk "$T/$n.pub" --profile "op-$op" >/dev/null
			cred=(--rpk-key "$T/$n.key" --server-key "$T/server.pub")
			;;
		cert)
			openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x \
				-keyout "$T/$n.key" -out "$T/$n.csr" 2>/dev/null
			printf 'subjectAltName=URI:%s\nextendedKeyUsage=clientAuth\n' "$id" > "$T/$n.ext"
			openssl x509 -req -in "$T/$n.csr" -CA "$T/mca.pem" -CAkey "$T/mca.key" -CAcreateserial \
				-days 5 -extfile "$T/$n.ext" -out "$T/$n.pem" 2>/dev/null
			kdc device add "$id" --cert --profile "op-$op" >/dev/null
			cred=(--cert "$T/$n.pem" --key "$T/$n.key" --ca "$T/ca.pem")
			;;
		esac
		dev bootstrap --server "coaps://127.0.0.1:$COAP_PORT" --ep "$id" "${cred[@]}" \
			--state "$T/$n.state" 2> "$T/$n.err" || fail "$mfg->$op bootstrap: $(cat "$T/$n.err")"
		[ "$(stat -c %a "$T/$n.state")" = 600 ] || fail "$mfg->$op state file mode"
		dev register --state "$T/$n.state" > "$T/$n.reg" 2> "$T/$n.err" || fail "$mfg->$op register: $(cat "$T/$n.err")"
		grep -q 'rd/' "$T/$n.reg" || fail "$mfg->$op: no location: $(cat "$T/$n.reg")"
		kdc cred list --device "$id" --json > "$T/$n.json"
		live=$(awk '/"kind": "operational"/{op=1} /"kind": "manufacturer"/{op=0} op && /"status": "issued"/{c++} END{print c+0}' "$T/$n.json")
		[ "$live" = 1 ] || fail "$mfg->$op: $live live operational credentials"
		want=$op; [ "$op" = x509 ] && want=x509
		grep -A3 '"kind": "operational"' "$T/$n.json" | grep -q "\"type\": \"$want\"" || fail "$mfg->$op: operational type"
		pass "manufacturer $mfg -> operational $op: bootstrapped and registered"
	done
done

has 'urn:dev:mx:psk-psk' kdc lwm2m clients || fail "lwm2m clients does not list the registrations"
kdc lwm2m clients --json > "$T/clients.json"
[ "$(grep -c '"ep"' "$T/clients.json")" = 9 ] || fail "want 9 registrations: $(cat "$T/clients.json")"
pass "iotkdc lwm2m clients lists all 9"

# The LwM2M Server takes operational credentials only. A manufacturer PSK
# that works on the KDC endpoint (positive control) is refused there.
MKEY='mfg-only-key-0123'
kdc device add urn:dev:mx:mfgonly --psk-identity mfgonly \
	--psk "$(printf '%s' "$MKEY" | od -An -tx1 | tr -d ' \n')" >/dev/null
cc() { timeout 20 coap-client-gnutls -v 7 -B 3 -m post -u mfgonly -k "$MKEY" "$1" > "$T/cc.out" 2>&1 || true; }
cc "coaps://127.0.0.1:$COAP_PORT/bs?ep=urn:dev:mx:mfgonly"
grep -qE 't:ACK c:2\.04' "$T/cc.out" || fail "control: the manufacturer PSK does not work on the KDC endpoint"
cc "coaps://127.0.0.1:$LWM2M_PORT/rd?ep=urn:dev:mx:mfgonly&lt=60&lwm2m=1.1&b=U"
grep -qE 't:(ACK|CON|NON) c:[0-9]\.' "$T/cc.out" && fail "manufacturer credential answered by the LwM2M Server"
has 'auth.policy .*WRONG_TYPE.*endpoint=lwm2m refuses kind=manufacturer' kdc audit list ||
	fail "the policy refusal was not audited"
pass "manufacturer credential refused by the LwM2M Server (accepted by the KDC endpoint)"
