#!/usr/bin/python3
"""ace_peer.py: the ACE client side of the integration tests, written on
Debian's python3-cbor2 and python3-cryptography alone (an implementation
independent of ours): builds token and introspection requests, and checks
what the AS answered: decrypts an Encrypt0 token with the RS key, verifies
a Sign1 token with the AS public key, compares the claims and the PoP key
with the response. Run with /usr/bin/python3 (the image's default python3
has no cbor2).

  ace_peer.py req AUD [SCOPE] [--pub PEM] [--profile-null] [--refresh HEX]
      [--grant N]                                  -> CBOR on stdout
  ace_peer.py introspect-req RESP                  -> {11: token}
  ace_peer.py error FILE | error-hex HEX           -> the error code
  ace_peer.py check-sym RESP RS_KEY_HEX AUD SCOPE  -> "cti kid" in hex
  ace_peer.py check-asym RESP AS_PUB_PEM AUD SCOPE CLIENT_PUB_PEM -> cti
  ace_peer.py introspection FILE                   -> active + claims (JSON)
  ace_peer.py trl FILE                             -> one hash hex per line
  ace_peer.py hash RESP                            -> RFC 9770 hash of its token
  ace_peer.py field RESP KEY                       -> hex of a bstr field
"""
import base64
import hashlib
import json
import sys
import time

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.ciphers.aead import AESCCM


def die(msg):
    sys.stderr.write("ace_peer: %s\n" % msg)
    sys.exit(1)


def load(path):
    with open(path, "rb") as f:
        return f.read()


def point(pem_path):
    pub = serialization.load_pem_public_key(load(pem_path))
    n = pub.public_numbers()
    return n.x.to_bytes(32, "big"), n.y.to_bytes(32, "big")


def untag(tok):
    """The COSE array inside tag 61 and the COSE tag."""
    item = cbor2.loads(tok)
    tags = []
    while isinstance(item, cbor2.CBORTag):
        tags.append(item.tag)
        item = item.value
    return tags, item


def claims_check(c, aud, scope):
    now = int(time.time())
    if c.get(3) != aud:
        die("aud %r != %r" % (c.get(3), aud))
    if scope and c.get(9) != scope:
        die("scope %r != %r" % (c.get(9), scope))
    if not (isinstance(c.get(4), int) and c[4] > now):
        die("exp %r not in the future" % c.get(4))
    if not (isinstance(c.get(6), int) and abs(c[6] - now) < 300):
        die("iat %r not now" % c.get(6))
    if not (isinstance(c.get(7), bytes) and len(c[7]) >= 8):
        die("no cti")


def cmd_req(args):
    m = {5: args[0]}
    i = 1
    if i < len(args) and not args[i].startswith("--"):
        m[9] = args[i]
        i += 1
    while i < len(args):
        a = args[i]
        if a == "--pub":
            x, y = point(args[i + 1])
            m[4] = {1: {1: 2, -1: 1, -2: x, -3: y}}
            i += 2
        elif a == "--sym-req-cnf":       # a symmetric key: must be refused
            m[4] = {1: {1: 4, -1: bytes(16)}}
            i += 1
        elif a == "--profile-null":
            m[38] = None
            i += 1
        elif a == "--profile":
            m[38] = int(args[i + 1])
            i += 2
        elif a == "--refresh":
            m[37] = bytes.fromhex(args[i + 1])
            m[33] = 3
            del m[5]
            i += 2
        elif a == "--grant":
            m[33] = int(args[i + 1])
            i += 2
        else:
            die("unknown option " + a)
    sys.stdout.buffer.write(cbor2.dumps(m, canonical=True))


def cmd_check_sym(resp_path, key_hex, aud, scope):
    r = cbor2.loads(load(resp_path))
    tags, arr = untag(r[1])
    if tags != [61, 16]:
        die("token tags %r, want [61, 16]" % tags)
    prot_b, unprot, ct = arr
    prot = cbor2.loads(prot_b) if prot_b else {}
    if prot.get(1) != 10:
        die("alg %r, want 10 (AES-CCM-16-64-128)" % prot.get(1))
    iv = unprot.get(5)
    aad = cbor2.dumps(["Encrypt0", prot_b, b""])
    pt = AESCCM(bytes.fromhex(key_hex), tag_length=8).decrypt(iv, ct, aad)
    c = cbor2.loads(pt)
    claims_check(c, aud, scope)
    ck = c[8][1]
    rk = r[8][1]
    if ck[1] != 4 or ck[-1] != rk[-1] or ck[2] != rk[2] or len(rk[-1]) < 16:
        die("cnf in token %r does not match the response's" % ck)
    if not (isinstance(r.get(2), int) and r[2] > 0):
        die("no expires_in")
    print(c[7].hex(), rk[2].hex())


def cmd_check_asym(resp_path, as_pem, aud, scope, client_pem):
    r = cbor2.loads(load(resp_path))
    tags, arr = untag(r[1])
    if tags != [61, 18]:
        die("token tags %r, want [61, 18]" % tags)
    prot_b, unprot, payload, sig = arr
    prot = cbor2.loads(prot_b)
    if prot.get(1) != -7:
        die("alg %r, want -7 (ES256)" % prot.get(1))
    pub = serialization.load_pem_public_key(load(as_pem))
    tbs = cbor2.dumps(["Signature1", prot_b, b"", payload])
    der = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                     int.from_bytes(sig[32:], "big"))
    pub.verify(der, tbs, ec.ECDSA(hashes.SHA256()))
    c = cbor2.loads(payload)
    claims_check(c, aud, scope)
    x, y = point(client_pem)
    ck = c[8][1]
    if ck.get(1) != 2 or ck.get(-2) != x or ck.get(-3) != y:
        die("cnf %r is not the client's key" % ck)
    if 8 in r:
        die("a cnf in the response of an asymmetric PoP token")
    print(c[7].hex())


def main():
    a = sys.argv[1:]
    if not a:
        die(__doc__)
    cmd = a[0]
    if cmd == "req":
        cmd_req(a[1:])
    elif cmd == "introspect-req":
        r = cbor2.loads(load(a[1]))
        sys.stdout.buffer.write(cbor2.dumps({11: r[1]}, canonical=True))
    elif cmd == "error":
        m = cbor2.loads(load(a[1]))
        print(m.get(30))
    elif cmd == "error-hex":
        m = cbor2.loads(bytes.fromhex(a[1]))
        print(m.get(30))
    elif cmd == "check-sym":
        cmd_check_sym(*a[1:5])
    elif cmd == "check-asym":
        cmd_check_asym(*a[1:6])
    elif cmd == "introspection":
        m = cbor2.loads(load(a[1]))
        out = {str(k): (v.hex() if isinstance(v, bytes) else v)
               for k, v in m.items() if k != 8}
        print(json.dumps(out, sort_keys=True))
    elif cmd == "trl":
        m = cbor2.loads(load(a[1]))
        for h in m[0]:
            print(h.hex())
    elif cmd == "hash":
        tok = cbor2.loads(load(a[1]))[1]
        text = base64.urlsafe_b64encode(tok).rstrip(b"=")
        print("01" + hashlib.sha256(text).hexdigest())
    elif cmd == "field":
        m = cbor2.loads(load(a[1]))
        print(m[int(a[2])].hex())
    else:
        die("unknown command " + cmd)


if __name__ == "__main__":
    main()
