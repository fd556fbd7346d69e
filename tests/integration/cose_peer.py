#!/usr/bin/python3
"""cose_peer.py: an independent COSE/CWT peer for test_cose_peer.sh, on
Debian's python3-cbor2 and python3-cryptography (run it with
/usr/bin/python3: the default python3 of some images is a pyenv one
without cbor2). It shares no code with src/cose/.

  cose_peer.py genkeys DIR
      writes DIR/es256.key, DIR/eddsa.key, DIR/mac.key, DIR/mac256.key,
      DIR/ccm.key, DIR/ccm16.key, DIR/gcm.key (random; cosetool's format:
      alg=, d=, x=, y=, k=, kid= lines, mode 0600)
  cose_peer.py open KEYFILE HEX [--expect NAME=VALUE ...]
      checks a CWT (tag 61 optional, COSE tag 16/17/18): verifies the
      ES256/EdDSA signature or the HMAC tag, or decrypts AES-CCM/GCM,
      decodes the claims, checks each --expect, prints the claims.
      Exit 1 on any refusal.
  cose_peer.py make sign1|mac0|encrypt0 KEYFILE --aud S [--iss S]
      [--exp N] [--scope S] [--cnf-kid HEX]
      prints a CWT (hex) made here, tagged 61 and 16/17/18.
"""
import os
import sys

import cbor2
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, utils
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM
from cryptography.hazmat.primitives import serialization

ES256, EDDSA, A128GCM, HMAC64, HMAC256, CCM8, CCM16 = -7, -8, 1, 4, 5, 10, 30
AEAD = {CCM8: (AESCCM, 8, 13), CCM16: (AESCCM, 16, 13), A128GCM: (AESGCM, 16, 12)}
HMACS = {HMAC64: 8, HMAC256: 32}
CLAIMS = {1: 'iss', 2: 'sub', 3: 'aud', 4: 'exp', 5: 'nbf', 6: 'iat', 7: 'cti',
          8: 'cnf', 9: 'scope', 38: 'ace_profile', 39: 'cnonce', 40: 'exi'}


def die(msg):
    print('cose_peer: ' + msg, file=sys.stderr)
    sys.exit(1)


def read_key(path):
    k = {}
    with open(path) as f:
        for line in f:
            if '=' in line:
                name, v = line.strip().split('=', 1)
                k[name] = int(v) if name == 'alg' else bytes.fromhex(v)
    return k


def write_key(path, **kv):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        for name, v in kv.items():
            f.write('%s=%s\n' % (name, v if isinstance(v, int) else v.hex()))


def genkeys(d):
    priv = ec.generate_private_key(ec.SECP256R1())
    nums = priv.private_numbers()
    write_key(os.path.join(d, 'es256.key'), alg=ES256,
              d=nums.private_value.to_bytes(32, 'big'),
              x=nums.public_numbers.x.to_bytes(32, 'big'),
              y=nums.public_numbers.y.to_bytes(32, 'big'), kid=b'as-signing')
    ed = ed25519.Ed25519PrivateKey.generate()
    write_key(os.path.join(d, 'eddsa.key'), alg=EDDSA,
              d=ed.private_bytes(serialization.Encoding.Raw,
                                 serialization.PrivateFormat.Raw,
                                 serialization.NoEncryption()),
              x=ed.public_key().public_bytes(serialization.Encoding.Raw,
                                             serialization.PublicFormat.Raw),
              kid=b'ed')
    write_key(os.path.join(d, 'mac.key'), alg=HMAC64, k=os.urandom(32), kid=b'mac-key')
    write_key(os.path.join(d, 'mac256.key'), alg=HMAC256, k=os.urandom(32), kid=b'mac256')
    write_key(os.path.join(d, 'ccm.key'), alg=CCM8, k=os.urandom(16), kid=b'rs-lock1')
    write_key(os.path.join(d, 'ccm16.key'), alg=CCM16, k=os.urandom(16), kid=b'ccm16')
    write_key(os.path.join(d, 'gcm.key'), alg=A128GCM, k=os.urandom(16), kid=b'gcm')


def untag(obj):
    """-> (cose type, [elements], cwt tagged)"""
    cwt = False
    if isinstance(obj, cbor2.CBORTag) and obj.tag == 61:
        cwt, obj = True, obj.value
    if not isinstance(obj, cbor2.CBORTag) or obj.tag not in (16, 17, 18):
        die('not a tagged COSE message')
    return obj.tag, obj.value, cwt


def open_token(key, hexstr):
    t, arr, cwt = untag(cbor2.loads(bytes.fromhex(hexstr)))
    if not isinstance(arr, list) or len(arr) != (3 if t == 16 else 4):
        die('bad array')
    prot_b, unprot = arr[0], arr[1]
    prot = cbor2.loads(prot_b) if prot_b else {}
    alg = prot.get(1)
    if 1 in unprot:
        die('alg unprotected')
    if alg != key['alg']:
        die('alg %r is not the key\'s %r' % (alg, key['alg']))
    if t == 18:
        payload, sig = arr[2], arr[3]
        tbs = cbor2.dumps(['Signature1', prot_b, b'', payload])
        try:
            if alg == ES256:
                pub = ec.EllipticCurvePublicNumbers(
                    int.from_bytes(key['x'], 'big'), int.from_bytes(key['y'], 'big'),
                    ec.SECP256R1()).public_key()
                if len(sig) != 64:
                    die('signature length')
                pub.verify(utils.encode_dss_signature(int.from_bytes(sig[:32], 'big'),
                                                      int.from_bytes(sig[32:], 'big')),
                           tbs, ec.ECDSA(hashes.SHA256()))
            elif alg == EDDSA:
                ed25519.Ed25519PublicKey.from_public_bytes(key['x']).verify(sig, tbs)
            else:
                die('alg')
        except InvalidSignature:
            die('signature does not verify')
        claims = payload
    elif t == 17:
        payload, tag = arr[2], arr[3]
        h = hmac.HMAC(key['k'], hashes.SHA256())
        h.update(cbor2.dumps(['MAC0', prot_b, b'', payload]))
        full = h.finalize()
        import hmac as pyhmac
        if alg not in HMACS or not pyhmac.compare_digest(full[:HMACS[alg]], tag):
            die('MAC does not verify')
        claims = payload
    else:
        if alg not in AEAD:
            die('alg')
        cls, taglen, nlen = AEAD[alg]
        iv = unprot.get(5)
        if iv is None or len(iv) != nlen:
            die('IV')
        aad = cbor2.dumps(['Encrypt0', prot_b, b''])
        c = cls(key['k'], tag_length=taglen) if cls is AESCCM else cls(key['k'])
        try:
            claims = c.decrypt(iv, arr[2], aad)
        except InvalidTag:
            die('does not decrypt')
    m = cbor2.loads(claims)
    if not isinstance(m, dict):
        die('claims not a map')
    # our encoder promises deterministic CBOR: the same bytes again
    out = {}
    for k, v in m.items():
        out[CLAIMS.get(k, str(k))] = v.hex() if isinstance(v, bytes) else v
    out['_type'] = t
    out['_cwt_tag'] = int(cwt)
    out['_canonical'] = int(cbor2.dumps(m, canonical=True) == claims)
    return out


def make(kind, key, args):
    claims = {}
    i = 0
    while i < len(args):
        a, v = args[i], args[i + 1]
        i += 2
        if a == '--aud':
            claims[3] = v
        elif a == '--iss':
            claims[1] = v
        elif a == '--exp':
            claims[4] = int(v)
        elif a == '--scope':
            claims[9] = v
        elif a == '--cnf-kid':
            claims[8] = {3: bytes.fromhex(v)}
        else:
            die('option ' + a)
    payload = cbor2.dumps(claims, canonical=True)
    alg = key['alg']
    prot = cbor2.dumps({1: alg})
    unprot = {4: key['kid']} if key.get('kid') else {}
    if kind == 'sign1':
        tbs = cbor2.dumps(['Signature1', prot, b'', payload])
        if alg == ES256:
            priv = ec.derive_private_key(int.from_bytes(key['d'], 'big'), ec.SECP256R1())
            r, s = utils.decode_dss_signature(priv.sign(tbs, ec.ECDSA(hashes.SHA256())))
            sig = r.to_bytes(32, 'big') + s.to_bytes(32, 'big')
        else:
            sig = ed25519.Ed25519PrivateKey.from_private_bytes(key['d']).sign(tbs)
        msg = cbor2.CBORTag(18, [prot, unprot, payload, sig])
    elif kind == 'mac0':
        h = hmac.HMAC(key['k'], hashes.SHA256())
        h.update(cbor2.dumps(['MAC0', prot, b'', payload]))
        msg = cbor2.CBORTag(17, [prot, unprot, payload, h.finalize()[:HMACS[alg]]])
    else:
        cls, taglen, nlen = AEAD[alg]
        iv = os.urandom(nlen)
        unprot[5] = iv
        c = cls(key['k'], tag_length=taglen) if cls is AESCCM else cls(key['k'])
        ct = c.encrypt(iv, payload, cbor2.dumps(['Encrypt0', prot, b'']))
        msg = cbor2.CBORTag(16, [prot, unprot, ct])
    return cbor2.dumps(cbor2.CBORTag(61, msg)).hex()


def main():
    a = sys.argv[1:]
    if len(a) == 2 and a[0] == 'genkeys':
        genkeys(a[1])
    elif len(a) >= 3 and a[0] == 'open':
        try:
            claims = open_token(read_key(a[1]), a[2])
        except (ValueError, cbor2.CBORDecodeError, TypeError, KeyError) as e:
            die('undecodable: %s' % e)
        for e in a[3:]:
            if e == '--expect':
                continue
            name, want = e.split('=', 1)
            got = claims.get(name)
            if str(got) != want:
                die('%s is %r, want %r' % (name, got, want))
        for k in sorted(claims):
            print('%s=%s' % (k, claims[k]))
    elif len(a) >= 3 and a[0] == 'make':
        print(make(a[1], read_key(a[2]), a[3:]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == '__main__':
    main()
