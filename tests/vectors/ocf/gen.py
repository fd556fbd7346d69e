#!/usr/bin/env python3
"""gen.py: the OCF SVR payload examples of ../shared/protocols/ocf.md §1-§2
as CBOR, written the way IoTivity-Lite's tinycbor writes them (indefinite
maps and arrays), for tests/unit/test_ocf_codec.c (ocf_vectors.h) and the
fuzz seeds (fuzz/corpus/ocf/). Its own tiny encoder, independent of
src/ocf/: run `python3 tests/vectors/ocf/gen.py` from the repo root."""
import os
import struct

class Indef:
    """Wrap a dict/list to encode it with an indefinite length."""
    def __init__(self, v):
        self.v = v

class Chunks:
    """A text or byte string in indefinite-length chunks."""
    def __init__(self, *parts):
        self.parts = parts

def head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for ai, fmt in ((24, '>B'), (25, '>H'), (26, '>I'), (27, '>Q')):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | ai]) + struct.pack(fmt, n)

def enc(v):
    if isinstance(v, Indef):
        if isinstance(v.v, dict):
            return b'\xbf' + b''.join(enc(k) + enc(x) for k, x in v.v.items()) + b'\xff'
        return b'\x9f' + b''.join(enc(x) for x in v.v) + b'\xff'
    if isinstance(v, Chunks):
        major = 3 if isinstance(v.parts[0], str) else 2
        return bytes([major << 5 | 31]) + b''.join(enc(p) for p in v.parts) + b'\xff'
    if v is False:
        return b'\xf4'
    if v is True:
        return b'\xf5'
    if isinstance(v, int):
        return head(0, v) if v >= 0 else head(1, -1 - v)
    if isinstance(v, str):
        b = v.encode()
        return head(3, len(b)) + b
    if isinstance(v, bytes):
        return head(2, len(v)) + v
    if isinstance(v, list):
        return head(4, len(v)) + b''.join(enc(x) for x in v)
    if isinstance(v, dict):
        return head(5, len(v)) + b''.join(enc(k) + enc(x) for k, x in v.items())
    raise TypeError(v)

def I(v):
    """Indefinite everywhere, as tinycbor (oc_rep) writes it."""
    if isinstance(v, dict):
        return Indef({k: I(x) for k, x in v.items()})
    if isinstance(v, list):
        return Indef([I(x) for x in v])
    return v

NIL = '00000000-0000-0000-0000-000000000000'
DEV = '87484d8e-7b6c-4e1a-9f3a-0c1d2e3f4a5b'
OBT = 'a1b2c3d4-e5f6-4711-8899-aabbccddeeff'
DEV2 = '5e1f0c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5c'
PEM = ('-----BEGIN CERTIFICATE-----\n' + 'MIIB' * 60 + '\n'
       '-----END CERTIFICATE-----\n')
KEY16 = bytes(range(0x10, 0x20))

EX = {
    # ocf.md §1 doxm, fresh simpleserver (the full deviceuuid made up)
    # (ocf.md: it begins bf 64 "oxms" 82 00 01: the map indefinite, the
    # int array definite, as oc_rep_set_int_array writes it)
    'doxm_fresh': ('doxm', Indef({'oxms': [0, 1], 'oxmsel': 4, 'sct': 9,
        'owned': False, 'devowneruuid': NIL, 'deviceuuid': DEV,
        'rowneruuid': NIL})),
    # §2 OBT sequence steps 2, 4, 11
    'doxm_oxmsel': ('doxm', I({'oxmsel': 1})),
    'doxm_devowner': ('doxm', I({'devowneruuid': OBT})),
    'doxm_owned': ('doxm', I({'owned': True})),
    # §1 pstat in RFOTM
    'pstat_rfotm': ('pstat', I({'dos': {'p': False, 's': 1}, 'cm': 2,
        'tm': 0, 'om': 3, 'sm': 4, 'isop': False, 'rowneruuid': NIL})),
    'pstat_om': ('pstat', I({'om': 4})),
    'pstat_rfpro': ('pstat', I({'dos': {'s': 2}})),
    # §2 step 9: the owner credential, empty data (the device derives it)
    'cred_owner': ('cred', I({'creds': [{'credtype': 1, 'subjectuuid': OBT,
        'privatedata': {'encoding': 'oic.sec.encoding.raw', 'data': b''}}],
        'rowneruuid': OBT})),
    # §2 pairwise PSK, with IoTivity's own extra keys
    'cred_pairwise': ('cred', I({'creds': [{'credid': 2, 'credtype': 1,
        'subjectuuid': DEV2, 'privatedata': {'data': KEY16,
        'encoding': 'oic.sec.encoding.raw'}, 'owner_cred': False,
        'tag': ''}], 'rowneruuid': OBT, 'rt': ['oic.r.cred'],
        'if': ['oic.if.baseline']})),
    # §2 identity certificate: trust anchor, then a role credential
    'cred_trustca': ('cred', I({'creds': [{'credtype': 8,
        'subjectuuid': '*', 'credusage': 'oic.sec.cred.trustca',
        'publicdata': {'data': PEM, 'encoding': 'oic.sec.encoding.pem'}},
        {'credid': 7, 'credtype': 8, 'subjectuuid': DEV,
        'credusage': 'oic.sec.cred.rolecert',
        'roleid': {'role': 'admin', 'authority': 'kdc'}}]})),
    # §2 step 14: the default post-OTM ACL
    'acl2_default': ('acl2', I({'aclist2': [
        {'aceid': 1, 'subject': {'uuid': OBT},
         'resources': [{'href': '/oic/sec/sp'}], 'permission': 14},
        {'aceid': 2, 'subject': {'uuid': OBT},
         'resources': [{'href': '/oic/sec/csr'}], 'permission': 2},
        {'aceid': 3, 'subject': {'conntype': 'anon-clear'},
         'resources': [{'href': '/oic/d'}, {'href': '/oic/p'},
                       {'href': '/oic/res'}, {'href': '/oic/sec/sdi'}],
         'permission': 2}], 'rowneruuid': OBT})),
    # §2 identity certificate step 6, wildcard and role subjects
    'acl2_roles': ('acl2', I({'aclist2': [
        {'subject': {'conntype': 'auth-crypt'},
         'resources': [{'href': '/oic/sec/roles'}], 'permission': 6},
        {'aceid': 9, 'subject': {'role': 'admin', 'authority': 'kdc'},
         'resources': [{'wc': '*'}, {'wc': '+'}, {'wc': '-'}],
         'permission': 31, 'tag': 'x'}]})),
    # §1 Discovery: GET /oic/res?rt=oic.r.doxm
    'links_doxm': ('links', I([{'anchor': 'ocf://' + DEV,
        'href': '/oic/sec/doxm', 'rt': ['oic.r.doxm'],
        'if': ['oic.if.baseline'], 'p': {'bm': 1},
        'eps': [{'ep': 'coap://[fe80::1%25eth0]:45677'},
                {'ep': 'coaps://[fe80::1%25eth0]:45678', 'pri': 1},
                {'ep': 'coaps+tcp://[fd00::2]:40000'},
                {'ep': 'coaps://192.168.1.7:5684'}]}])),
}

# Definite-length and chunked-string forms of a few (both accepted).
DEF = {
    'doxm_fresh_def': ('doxm', {'oxms': [0, 1, 2], 'oxmsel': 4, 'sct': 1,
        'owned': False, 'deviceuuid': DEV}),
    'cred_chunked': ('cred', Indef({'creds': Indef([Indef({'credtype': 1,
        'subjectuuid': Chunks(DEV2[:10], DEV2[10:]),
        'privatedata': Indef({'data': Chunks(KEY16[:3], b'', KEY16[3:]),
        'encoding': 'oic.sec.encoding.raw'})})])})),
}

def c_array(name, b):
    lines = []
    for i in range(0, len(b), 12):
        lines.append('\t' + ' '.join('0x%02x,' % x for x in b[i:i + 12]))
    return 'static const uint8_t %s[] = {\n%s\n};\n' % (name, '\n'.join(lines))

def main():
    out = ['/* ocf_vectors.h: made by tests/vectors/ocf/gen.py; do not edit. */\n']
    allv = {}
    allv.update(EX)
    allv.update(DEF)
    for name, (kind, v) in allv.items():
        b = enc(v)
        out.append(c_array('v_' + name, b))
        with open('fuzz/corpus/ocf/%s.cbor' % name, 'wb') as f:
            f.write(b)
    with open('tests/unit/ocf_vectors.h', 'w') as f:
        f.write('\n'.join(out))

if __name__ == '__main__':
    main()
