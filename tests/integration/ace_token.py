#!/usr/bin/python3
# ace_token.py: an ACE access token made independently of our COSE code,
# with Debian's python3-cbor2 and python3-cryptography (run it with
# /usr/bin/python3: the default python3 may lack cbor2).
#
#   ace_token.py --as-key-file F | --sign-key PEM   (Encrypt0 | Sign1)
#       --aud NAME --scope S --kid TEXT [--pop-key TEXT | --pop-pub PEM]
#       [--exp-in SEC] [--nbf-in SEC] [--cti HEX]
#       --token-out FILE [--response-out FILE] [--hash-out FILE]
#
# Encrypt0: AES-CCM-16-64-128 under the AS-RS key (hex in F), protected
# {1: 10}, unprotected {5: iv}, cnf a symmetric COSE_Key {1: 4, 2: kid,
# -1: k}. Sign1: ES256 by the PEM key, protected {1: -7}, cnf the EC2
# COSE_Key of --pop-pub. Both wrapped in tag 61 around the COSE tag (RFC
# 9770 shortest tags). --response-out: the AS's answer body RFC 9200
# §5.8.2 would carry, {1: token, 2: expires_in, 8: {1: COSE_Key}}
# (symmetric only; expires_in, a uint, 0 for a token already expired).
# --hash-out: the RFC 9770 token hash, hex.
import argparse
import base64
import hashlib
import os
import sys
import time

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.hazmat.primitives.ciphers.aead import AESCCM


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--as-key-file")
    p.add_argument("--sign-key")
    p.add_argument("--aud", required=True)
    p.add_argument("--scope", required=True)
    p.add_argument("--kid", required=True)
    p.add_argument("--pop-key")
    p.add_argument("--pop-pub")
    p.add_argument("--exp-in", type=int, default=3600)
    p.add_argument("--nbf-in", type=int)
    p.add_argument("--cti", default="0102030405060708")
    p.add_argument("--token-out", required=True)
    p.add_argument("--response-out")
    p.add_argument("--hash-out")
    a = p.parse_args()
    now = int(time.time())
    kid = a.kid.encode()
    claims = {3: a.aud, 4: now + a.exp_in, 7: bytes.fromhex(a.cti), 9: a.scope}
    if a.nbf_in is not None:
        claims[5] = now + a.nbf_in
    if a.pop_pub:
        with open(a.pop_pub, "rb") as f:
            pub = serialization.load_pem_public_key(f.read())
        n = pub.public_numbers()
        cose_key = {1: 2, 2: kid, -1: 1, -2: n.x.to_bytes(32, "big"),
                    -3: n.y.to_bytes(32, "big")}
    else:
        pop = a.pop_key.encode()
        if len(pop) != 16:
            sys.exit("--pop-key must be 16 bytes")
        cose_key = {1: 4, 2: kid, -1: pop}
    claims[8] = {1: cose_key}
    payload = cbor2.dumps(claims, canonical=True)
    if a.as_key_file:
        with open(a.as_key_file) as f:
            key = bytes.fromhex(f.read().strip())
        prot = cbor2.dumps({1: 10})
        iv = os.urandom(13)
        aad = cbor2.dumps(["Encrypt0", prot, b""])
        ct = AESCCM(key, tag_length=8).encrypt(iv, payload, aad)
        msg = cbor2.CBORTag(16, [prot, {5: iv}, ct])
    else:
        with open(a.sign_key, "rb") as f:
            sk = serialization.load_pem_private_key(f.read(), None)
        prot = cbor2.dumps({1: -7})
        tbs = cbor2.dumps(["Signature1", prot, b"", payload])
        r, s = utils.decode_dss_signature(sk.sign(tbs, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        msg = cbor2.CBORTag(18, [prot, {}, payload, sig])
    token = cbor2.dumps(cbor2.CBORTag(61, msg))
    with open(a.token_out, "wb") as f:
        f.write(token)
    if a.response_out:
        fd = os.open(a.response_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(cbor2.dumps({1: token, 2: max(a.exp_in, 0), 8: {1: cose_key}}))
    if a.hash_out:
        b64 = base64.urlsafe_b64encode(token).rstrip(b"=")
        with open(a.hash_out, "w") as f:
            f.write("01" + hashlib.sha256(b64).hexdigest() + "\n")


main()
