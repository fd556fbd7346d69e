#!/usr/bin/env python3
"""seeds.py: write the seed corpora of fuzz_devcoap, fuzz_devstate,
fuzz_coapwire, fuzz_coapxl, fuzz_pubkey, fuzz_dtlsrec, fuzz_cose,
fuzz_jsonpath, fuzz_mergepatch and fuzz_tdlint
(fuzz/corpus/<parser>/). Run from anywhere: python3 fuzz/seeds.py
[PARSER...] (all without one). The PEM/DER key seeds are made by openssl
here; the DTLS records by Python's cryptography (python3-cryptography,
OpenSSL underneath), an implementation independent of GnuTLS.
CoAP bytes follow RFC 7252 §3; the state format is kdcdev.h's."""
import os, struct, subprocess, sys, tempfile, zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def out(parser, name, data):
    d = os.path.join(HERE, 'corpus', parser)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def ext(v):
    if v < 13:
        return v, b''
    if v < 269:
        return 13, bytes([v - 13])
    return 14, struct.pack('>H', v - 269)


def opts(lst):
    """[(number, bytes)] sorted by number -> encoded options."""
    b, last = b'', 0
    for num, val in sorted(lst, key=lambda x: x[0]):
        dn, de = ext(num - last)
        ln, le = ext(len(val))
        b += bytes([dn << 4 | ln]) + de + le + val
        last = num
    return b


def uint(v):
    if v == 0:
        return b''
    n = (v.bit_length() + 7) // 8
    return v.to_bytes(n, 'big')


def coap(typ, code, mid, tok, options, payload=b''):
    m = bytes([0x40 | typ << 4 | len(tok), code]) + struct.pack('>H', mid)
    m += tok + opts(options)
    if payload:
        m += b'\xff' + payload
    return m


def path(p):
    return [(11, s.encode()) for s in p.split('/') if s]


def seq(*msgs):
    return b''.join(struct.pack('>H', len(m)) + m for m in msgs)


GET, POST, PUT, DELETE = 1, 2, 3, 4
TLV, SENML_CBOR, LINK = 11542, 112, 40

# /0/x PSK server, ssid 2 (device/tests/test_core.c's vector)
TLV_SEC_PSK = (b'\xc8\x00\x17coaps://127.0.0.1:15684' b'\xc1\x01\x00\xc1\x02\x00'
               b'\xc8\x03\x0ekdc-device-001' b'\xc0\x04'
               b'\xc8\x05\x10' + bytes(range(0x10, 0x20)) + b'\xc1\x0a\x02')
TLV_SRV_2 = bytes([0xc1, 0x00, 0x02, 0xc4, 0x01, 0x00, 0x01, 0x51, 0x80,
                   0xc1, 0x06, 0x01, 0xc1, 0x07, 0x55])


def devcoap():
    tok = b'\x01\x02\x03\x04'
    dele = coap(0, DELETE, 1, tok, [])
    disc = coap(0, GET, 2, tok, [(17, uint(LINK))])
    w0 = coap(0, PUT, 3, tok, path('0/1') + [(12, uint(TLV))], TLV_SEC_PSK)
    w1 = coap(0, PUT, 4, tok, path('1/1') + [(12, uint(TLV))], TLV_SRV_2)
    fin = coap(0, POST, 5, tok, path('bs'))
    out('devcoap', 'bootstrap-psk', seq(dele, disc, w0, w1, fin, disc))
    out('devcoap', 'write-non', seq(coap(1, PUT, 9, b'', path('0/3') +
        [(12, uint(TLV))], TLV_SEC_PSK)))
    out('devcoap', 'unknown-critical', seq(coap(0, GET, 7, tok,
        [(9, b'x')] + path('0'))))
    out('devcoap', 'finish-early', seq(coap(0, POST, 8, tok, path('bs'))))
    out('devcoap', 'truncated', seq(w0[:-5]))


def lv(width, b):
    return len(b).to_bytes(width, 'big') + b


def state(ep=b'urn:dev:seed', loc=b'rd/5a3f', flags=3, psk=True):
    body = bytes([flags]) + lv(1, ep) + lv(1, loc)
    secs = [(0, 1, 0, -1, 0, 0, b'coaps://127.0.0.1:5684', b'factory-id', b'',
             bytes(range(16)))]
    if psk:
        secs.append((1, 0, 0, 2, 0, 0, b'coaps://127.0.0.1:5685',
                     b'urn:dev:seed#00', b'', bytes(range(32))))
    body += bytes([len(secs)])
    for iid, bs, mode, ssid, hold, bst, uri, ident, key, secret in secs:
        body += struct.pack('>HBBiII', iid, bs, mode, ssid, hold, bst)
        body += lv(2, uri) + lv(2, ident) + lv(2, key) + lv(2, secret)
    srvs = [(1, 2, 86400, 0, 0, 86400, 1, b'U')] if psk else []
    body += bytes([len(srvs)])
    for iid, ssid, lt, pmin, pmax, dis, ns, binding in srvs:
        body += struct.pack('>HHIIIIB', iid, ssid, lt, pmin, pmax, dis, ns)
        body += lv(1, binding)
    head = b'KDCDEV\x00\x01' + struct.pack('>I', len(body)) + body
    return head + struct.pack('>I', zlib.crc32(head) & 0xffffffff)


def devstate():
    good = state()
    out('devstate', 'registered', good)
    out('devstate', 'bs-only', state(loc=b'', flags=0, psk=False))
    bad = bytearray(good)
    bad[-1] ^= 1
    out('devstate', 'bad-crc', bytes(bad))
    out('devstate', 'truncated', good[:40])


def coapwire():
    """Valid messages exercising every encoding form, and one of each
    refusal wire.h names (RFC 7252 §3, RFC 7959, RFC 7641)."""
    tok = b'\x11\x22\x33\x44\x55\x66\x77\x88'
    # RFC 7252 Appendix A style: CON GET mid 0x7d34, Uri-Path temperature
    out('coapwire', 'get-temperature', coap(0, GET, 0x7d34, b'',
        [(11, b'temperature')]))
    out('coapwire', 'post-block1', coap(0, POST, 1, tok[:4],
        path('.well-known/est/sen') + [(12, uint(286)), (27, uint(0x0e)),
        (60, uint(0xffffffff))], bytes(64)))
    out('coapwire', 'observe', coap(1, 0x45, 2, tok[:2],
        [(6, uint(0xffffff)), (12, uint(60)), (23, uint(0x16))], b'x' * 20))
    out('coapwire', 'ext-forms', coap(0, GET, 3, tok, [(12, b'a' * 12),
        (13, b'b' * 13), (268, b'c' * 268), (269, b'd' * 269),
        (65000, b'')]))
    out('coapwire', 'query', coap(0, POST, 4, tok[:1], path('bs') +
        [(15, b'ep=urn:dev:1'), (15, b'pct=11542'), (258, uint(26))]))
    out('coapwire', 'empty-ack', bytes([0x60, 0, 0, 4]))
    out('coapwire', 'rst', bytes([0x70, 0, 0x12, 0x34]))
    out('coapwire', 'many-opts', coap(0, GET, 5, b'',
        [(11, b'x')] * 33))
    out('coapwire', 'bad-tkl', bytes([0x49, 1, 0, 6]) + tok + b'\x00')
    out('coapwire', 'bad-nibble', bytes([0x40, 1, 0, 7, 0xf1, 0]))
    out('coapwire', 'empty-payload', bytes([0x40, 1, 0, 8, 0xff]))
    out('coapwire', 'version-2', bytes([0x80, 1, 0, 9]))
    out('coapwire', 'short', bytes([0x44, 1, 0, 10, 1, 2]))
    # option numbers adding up past 65535 (65000 + 536): planting the
    # bug (a uint16 sum) made fuzz_coapwire find such an input in seconds
    out('coapwire', 'number-past-65535', bytes([0x40, 1, 0, 11, 0xe0, 0xfc,
        0xdb, 0xe0, 0x01, 0x0b]))


def pubkey():
    with tempfile.TemporaryDirectory() as t:
        def sh(cmd):
            subprocess.run(cmd, shell=True, cwd=t, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sh('openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 '
           '-nodes -subj /CN=seed-ca -days 30 -keyout ca.key -out ca.pem')
        sh('openssl x509 -in ca.pem -outform DER -out ca.der')
        sh('openssl pkey -in ca.key -pubout -out pub.pem')
        sh('openssl pkey -in ca.key -pubout -outform DER -out pub.der')
        for f in ('ca.pem', 'ca.der', 'pub.pem', 'pub.der'):
            with open(os.path.join(t, f), 'rb') as h:
                out('pubkey', f, h.read())
        with open(os.path.join(t, 'ca.pem'), 'rb') as h:
            pem = h.read()
        out('pubkey', 'chain2.pem', pem + pem)
        out('pubkey', 'truncated.pem', pem[:len(pem) // 2])


# fuzz_dtlsrec's fixed state: key 00 01 .. 1f (the first 16 bytes for
# AES-128), salt a0 a1 a2 a3, epoch 1. Input byte 0 picks the cipher:
# 1 + b % 6 = enum kdc_rec_cipher (src/coap/record.h).
REC_CIPHERS = {0: ('ccm', 16, 8), 1: ('ccm', 16, 16), 2: ('ccm', 32, 16),
               3: ('gcm', 16, 16), 4: ('gcm', 32, 16), 5: ('ccm', 32, 8)}


def dtls_record(sel, typ, epoch, seq, pt, version=0xfefd):
    """One DTLS 1.2 AEAD record (RFC 5246 6.2.3.3, RFC 6347 4.1)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM
    mode, klen, tag = REC_CIPHERS[sel]
    key = bytes(range(klen))
    explicit = struct.pack('>H', epoch) + seq.to_bytes(6, 'big')
    nonce = bytes([0xa0, 0xa1, 0xa2, 0xa3]) + explicit
    aad = explicit + bytes([typ]) + struct.pack('>HH', 0xfefd, len(pt))
    aead = AESCCM(key, tag_length=tag) if mode == 'ccm' else AESGCM(key)
    frag = explicit + aead.encrypt(nonce, pt, aad)
    return (bytes([typ]) + struct.pack('>H', version) + explicit +
            struct.pack('>H', len(frag)) + frag)


def dtlsrec():
    coap_get = coap(0, GET, 7, b'\x01', path('.well-known/core'))
    for sel, name in ((0, 'ccm8'), (1, 'ccm'), (2, 'ccm256'), (3, 'gcm'),
                      (4, 'gcm256'), (5, 'ccm8-256')):
        r1 = dtls_record(sel, 23, 1, 1, coap_get)
        r2 = dtls_record(sel, 23, 1, 3, b'second record' * 4)
        alert = dtls_record(sel, 21, 1, 2, b'\x01\x00')
        out('dtlsrec', name + '-3recs', bytes([sel]) + r1 + alert + r2)
    r = dtls_record(0, 23, 1, 5, coap_get)
    out('dtlsrec', 'ccm8-replayed', bytes([0]) + r + r)
    out('dtlsrec', 'ccm8-out-of-order', bytes([0]) +
        dtls_record(0, 23, 1, 70, b'a') + dtls_record(0, 23, 1, 7, b'b') +
        dtls_record(0, 23, 1, 69, b'c') + dtls_record(0, 23, 1, 6, b'd'))
    out('dtlsrec', 'ccm8-epoch0-hello', bytes([0]) +
        b'\x16\xfe\xff\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\x01\x00\x00\x00')
    out('dtlsrec', 'ccm8-truncated', bytes([0]) + r[:len(r) - 3])
    # script steps: seq hi, seq lo, plaintext length, flip
    out('dtlsrec', 'script-window', bytes([3]) + bytes(
        [0, 70, 40, 0, 0, 7, 10, 0, 0, 6, 0, 0, 0, 70, 3, 0,
         0, 8, 200, 0, 0, 9, 5, 0x85, 1, 0, 16, 0, 0, 200, 1, 0]))


def coapxl():
    """Scripts for fuzz_coapxl (its header says the format): requests to
    its routes, retransmissions, Block1/Block2 both ways, a deferred
    answer, our requests answered (op 3 patches our MID and token in)."""
    tok = b'\x01\x02\x03\x04'
    t8 = bytes(8)

    def dg(peer, m, op=0, size=0):
        return bytes([size << 5 | peer << 3 | op]) + struct.pack('<H', len(m)) + m

    def ours(m):
        return dg(0, m, op=3)

    clock = lambda n: bytes([4, n])
    get_a = coap(0, GET, 1, tok, path('a'))
    out('coapxl', 'get-retransmit', dg(0, get_a) + dg(0, get_a) +
        dg(1, get_a) + dg(2, coap(1, GET, 2, tok, path('a'))))
    s = dg(0, get_a, size=7)
    for n in range(1, 8):
        s += dg(0, coap(0, GET, 1 + n, tok, path('a') + [(23, uint(n << 4 | 6))]))
    out('coapxl', 'block2-answer', s + clock(255) + clock(255))
    post_d = coap(0, POST, 9, tok, path('d'))
    out('coapxl', 'defer', dg(0, post_d) + dg(0, post_d) + bytes([6, 40]) +
        clock(12) + ours(bytes([0x60, 0, 0, 0])) + dg(1, post_d) +
        bytes([5 | 1 << 3]) + bytes([6, 1]))
    s = b''
    for n in range(3):
        s += dg(0, coap(0, POST, 20 + n, tok, path('a') +
                        [(27, uint(n << 4 | (8 if n < 2 else 0) | 2))],
                        bytes([n]) * (64 if n < 2 else 7)))
    s += dg(1, coap(0, POST, 30, tok, path('a') + [(27, uint(0x0e)),
                                                   (60, uint(0xffffffff))],
                    bytes(1024)))
    s += dg(2, coap(0, POST, 31, tok, path('a') + [(27, uint(0x0e))], bytes(1024)))
    s += dg(3, coap(0, POST, 32, tok, path('a') + [(27, uint(0x0e))], bytes(1024)))
    s += clock(255) * 4
    out('coapxl', 'block1-in', s)
    out('coapxl', 'request-piggybacked', bytes([7, 0x05]) +
        ours(coap(2, 0x45, 0, t8, [(8, b'rd'), (8, b'5')], b'ok')))
    out('coapxl', 'request-separate', bytes([7, 0x06]) +
        ours(bytes([0x60, 0, 0, 0])) + clock(100) +
        dg(0, coap(0, 0x44, 77, t8, []), op=3) + dg(0, coap(0, 0x44, 77, t8, [])))
    out('coapxl', 'request-rst', bytes([7, 0x01]) + ours(bytes([0x70, 0, 0, 0])))
    out('coapxl', 'request-timeout', bytes([7, 0x02]) + clock(10) * 40)
    s = bytes([7, 15 << 3 | 3])                 # PUT "", 1500 bytes: Block1
    s += ours(coap(2, 0x5f, 0, t8, [(27, uint(0x0e))]))
    for n in range(3):
        s += ours(coap(2, 0x44, 0, t8, [(23, uint(n << 4 | (8 if n < 2 else 0) | 2))],
                       bytes([n]) * (64 if n < 2 else 5)))
    out('coapxl', 'request-blocks', s)
    out('coapxl', 'gone-midway', bytes([7, 0x05]) + dg(0, post_d) +
        bytes([5]) + bytes([6, 3]) + dg(0, get_a, size=7) + bytes([5]))
    obs_get = coap(0, GET, 40, tok, [(6, b'')] + path('o'))
    s = dg(0, obs_get) + dg(1, obs_get) + bytes([4 | 3 << 3, 1])
    s += ours(bytes([0x60, 0, 0, 0])) + bytes([4 | 3 << 3 | 7 << 5, 1])
    s += dg(0, coap(0, GET, 41, tok, path('o') + [(23, uint(0x16))]))
    s += ours(bytes([0x70, 0, 0, 0])) + bytes([4 | 3 << 3, 40])
    s += dg(1, coap(0, GET, 42, tok, [(6, uint(1))] + path('o')))
    out('coapxl', 'observe', s + clock(255) * 2)
    out('coapxl', 'junk', dg(0, bytes([0x40, 0, 0, 1])) +
        dg(0, bytes([0x44, 1, 0, 2, 1])) + dg(0, bytes([0x40, 1, 0, 3, 0xff])) +
        dg(0, coap(0, GET, 4, tok, path('a') + [(9, b'x')])) +
        dg(0, coap(0, GET, 5, b'', [(11, b'x')] * 33)))


def cose():
    """fuzz_cose: the COSE/CWT/COSE_Key vectors of tests/vectors/cose/,
    behind the harness's selector byte (0..3 a message, 4 claims, 5 a
    key)."""
    import json
    vdir = os.path.join(HERE, '..', 'tests', 'vectors', 'cose')
    for f in sorted(os.listdir(vdir)):
        if not f.endswith('.json'):
            continue
        for v in json.load(open(os.path.join(vdir, f)))['vectors']:
            kind = v.get('kind', '')
            for field in ('cbor', 'encrypted_cose_key_array', 'plaintext',
                          'cbor_deterministic', 'cose_key_public_cbor_deterministic'):
                h = v.get(field)
                if not isinstance(h, str):
                    continue
                b = bytes.fromhex(h)
                if field == 'encrypted_cose_key_array':
                    sel = [3]
                elif field == 'plaintext':
                    sel = [0, 4, 5]
                elif kind.startswith('cose-key') or field.startswith('cose_key'):
                    sel = [5]
                elif kind.startswith('cwt-cose') or kind.startswith('cose-') or \
                        b[:1] in (b'\xd0', b'\xd1', b'\xd2', b'\xd8'):
                    sel = [0]
                else:
                    sel = [4]
                for s in sel:
                    out('cose', '%s-%s%s' % (v['id'], field,
                                             '' if len(sel) == 1 else '-%d' % s),
                        bytes([s]) + b)
    # the untagged Encrypt0 of A.5 read as expected type 3
    a5 = [v for v in json.load(open(os.path.join(vdir, 'rfc8392.json')))['vectors']
          if v['id'] == 'rfc8392-A.5'][0]
    out('cose', 'untagged-encrypt0', bytes([3]) + bytes.fromhex(a5['cbor'])[1:])


def jw():
    """fuzz_jw: the server's flight as datagrams (2-byte length each),
    with and without a cookie round; CBC records made with the harness's
    fixed state by Python's cryptography (OpenSSL)."""
    import hmac, hashlib
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    def rec(typ, epoch, seq, frag):
        return (bytes([typ]) + b'\xfe\xfd' + struct.pack('>H', epoch) +
                seq.to_bytes(6, 'big') + struct.pack('>H', len(frag)) + frag)

    def hs(typ, seq, body):
        n = len(body).to_bytes(3, 'big')
        return bytes([typ]) + n + struct.pack('>H', seq) + b'\0\0\0' + n + body

    def dg(b):
        return struct.pack('>H', len(b)) + b

    g = bytes.fromhex('046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296'
                      '4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5')
    ext = b'\xff\x01\x00\x01\x00' + b'\x00\x0b\x00\x02\x01\x00' + b'\x00\x17\x00\x00'
    sh = (b'\xfe\xfd' + bytes(range(0xc0, 0xe0)) + b'\x00' + b'\xff\x00\x00' +
          struct.pack('>H', len(ext)) + ext)
    ske = b'\x03\x00\x17\x41' + g

    def flight(s0):
        return (rec(22, 0, s0, hs(2, s0, sh) + hs(12, s0 + 1, ske)) +
                rec(22, 0, s0 + 1, hs(14, s0 + 2, b'')))
    out('jw', 'flight-nohvr', dg(flight(0)))
    hvr = rec(22, 0, 0, hs(3, 0, b'\xfe\xff\x08' + b'cookie!!'))
    out('jw', 'hvr-flight', dg(hvr) + dg(flight(1)))
    # fragmented ServerKeyExchange (two fragments), then the rest
    frag1 = bytes([12]) + (69).to_bytes(3, 'big') + b'\0\1' + b'\0\0\0' + (30).to_bytes(3, 'big') + ske[:30]
    frag2 = bytes([12]) + (69).to_bytes(3, 'big') + b'\0\1' + (30).to_bytes(3, 'big') + (39).to_bytes(3, 'big') + ske[30:]
    out('jw', 'fragmented', dg(rec(22, 0, 0, hs(2, 0, sh))) + dg(rec(22, 0, 1, frag2)) +
        dg(rec(22, 0, 2, frag1)) + dg(rec(22, 0, 3, frag2 + hs(14, 2, b''))))
    out('jw', 'alert', dg(rec(21, 0, 0, b'\x02\x28')))
    # CBC: MAC key 40..5f, AES key 10..1f, epoch 1
    mk, ek = bytes(range(0x40, 0x60)), bytes(range(0x10, 0x20))

    def cbc(typ, seq, pt, iv=bytes(range(0xa0, 0xb0))):
        m = pt + hmac.new(mk, struct.pack('>H', 1) + seq.to_bytes(6, 'big') + bytes([typ]) +
                          b'\xfe\xfd' + struct.pack('>H', len(pt)) + pt, hashlib.sha256).digest()
        pad = 15 - len(m) % 16
        m += bytes([pad]) * (pad + 1)
        e = Cipher(algorithms.AES(ek), modes.CBC(iv)).encryptor()
        return rec(typ, 1, seq, iv + e.update(m) + e.finalize())
    out('jw', 'cbc-2recs', cbc(23, 1, b'hello') + cbc(23, 0, b'x' * 40))
    out('jw', 'cbc-replayed', cbc(23, 7, b'\x10\x85') + cbc(23, 7, b'\x10\x85'))


def jsonpath():
    """query NUL document: the CTS's valid cases (tests/data/jsonpath/),
    then the directory's workload queries on an array of TDs."""
    import json
    cts = json.load(open(os.path.join(HERE, '..', 'tests', 'data', 'jsonpath', 'cts.json')))
    n = 0
    for t in cts['tests']:
        if 'document' in t and n < 120:
            out('jsonpath', 'cts%03d' % n, t['selector'].encode() + b'\0' +
                json.dumps(t['document']).encode())
            n += 1
    tds = json.dumps([{'id': 'urn:lamp', 'properties': {'lightColor': {'type': 'string'},
                       'brightness': {'type': 'integer'}}},
                      {'id': 'urn:s', 'properties': {'sensorInformation': {
                       'properties': {'a': {'state': 'on'}}}}}]).encode()
    for i, q in enumerate(['$[?(@.properties.lightColor)]',
                           '$[?(@.properties.lightColor && @.properties.brightness)]',
                           '$[?(@.properties.sensorInformation)].properties..state',
                           "$[?match(@.id, 'urn:.*') || length(@.properties) > 1].id"]):
        out('jsonpath', 'workload%d' % i, q.encode() + b'\0' + tds)
    # filters the directory's index decides alone (kdc_jsonpath_index_exact)
    # on members that have the paths, half of them, a non-object on the way
    # or are not objects
    mix = json.dumps([{'a': {'b': 1}, 'c': None}, {'a': [1], 'c': 2}, {'c': 1},
                      {'a': {'b': None, '': 0}, '': 1}, {'a': {'x': 1}}, 3,
                      [{'a': {'b': 1}}]]).encode()
    for i, q in enumerate(['$[?@.a.b && @.c]', "$[?(@.a && (@['a'][''] || @.c))]",
                           "$[?@[''] && @.a['']]", '$[?@.a.b]']):
        out('jsonpath', 'exact%d' % i, q.encode() + b'\0' + mix)


def mergepatch():
    """target NUL patch-or-to: RFC 7396 Appendix A."""
    for i, (a, b) in enumerate([('{"a":"b"}', '{"a":"c"}'), ('{"a":"b"}', '{"a":null}'),
                                ('{"a":{"b":"c"}}', '{"a":{"b":"d","c":null}}'),
                                ('[1,2]', '{"a":"b","c":null}'), ('{}', '{"a":{"bb":{"ccc":null}}}'),
                                ('{"e":null}', '{"a":1}'), ('{"a":"foo"}', 'null')]):
        out('mergepatch', 'rfc7396-%d' % i, a.encode() + b'\0' + b.encode())


def tdlint():
    """TDs for the security lint."""
    import json
    defs = {'b': {'scheme': 'basic'}, 'p': {'scheme': 'psk'}, 'n': {'scheme': 'nosec'},
            'o': {'scheme': 'oauth2', 'flow': 'implicit'},
            'k': {'scheme': 'apikey', 'in': 'query'},
            'c': {'scheme': 'combo', 'oneOf': ['b', 'n', 'd']},
            'd': {'scheme': 'combo', 'allOf': ['b', 'p']}}
    for i, (sec, href) in enumerate([('b', 'http://example.com/'), ('p', 'coap://10.0.0.1/'),
                                     ('n', 'http://example.com/'), ('c', 'mqtts://h/'),
                                     (['o', 'k'], '/rel'), ('d', '//[fe80::1]/x')]):
        td = {'base': 'http://example.com/', 'securityDefinitions': defs, 'security': sec,
              'forms': [{'href': href}],
              'properties': {'s': {'forms': [{'href': href, 'security': 'n'}]}},
              'actions': {'a': {'forms': [{'href': 'coaps://h/'}]}}}
        out('tdlint', 'td%d' % i, json.dumps(td).encode())


PARSERS = {'jw': jw, 'devcoap': devcoap, 'devstate': devstate,
           'coapwire': coapwire, 'coapxl': coapxl, 'pubkey': pubkey,
           'dtlsrec': dtlsrec, 'cose': cose, 'jsonpath': jsonpath,
           'mergepatch': mergepatch, 'tdlint': tdlint}
for name in (sys.argv[1:] or PARSERS):
    PARSERS[name]()
