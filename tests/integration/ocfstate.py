#!/usr/bin/env python3
"""ocfstate.py: write the state file of an onboarded OCF device for
`iotkdc-device ocf-server --state` (format: device/include/kdcdev_ocf.h,
kdcdev_ocf_state_encode), independently of the device library: its
doxm, pstat, cred and acl2 as the CBOR payloads of ocf.md §1 (python3-cbor2),
each be32-length-prefixed, then sdi flags, sdi uuid, name, next ids, key,
behind "KDCOCF\\0\\1" and a body length, closed by a CRC-32.

  ocfstate.py OUT DEVICE_UUID OWNER_UUID STATE CRED... [-- ACE...]
    STATE  2 (RFPRO) or 3 (RFNOP); the device is owned by OWNER_UUID
    CRED   SUBJECT_UUID:HEXKEY (credtype 1), trustca=PEMFILE, cert=PEMFILE
           (credtype 8), or key=DERFILE (the device's PKCS#8 key)
    ACE    SUBJECT:HREF:PERM (SUBJECT a uuid, anon-clear or auth-crypt)
"""
import struct
import sys
import uuid
import zlib

import cbor2


def main():
    out, dev, owner, state = sys.argv[1:5]
    rest = sys.argv[5:]
    creds, aces = rest, []
    if '--' in rest:
        i = rest.index('--')
        creds, aces = rest[:i], rest[i + 1:]
    state = int(state)
    doxm = {'oxms': [1], 'oxmsel': 1, 'sct': 9, 'owned': True,
            'deviceuuid': dev, 'devowneruuid': owner, 'rowneruuid': owner}
    pstat = {'dos': {'s': state, 'p': False}, 'isop': state == 3, 'cm': 0,
             'tm': 0, 'om': 4, 'sm': 4, 'rowneruuid': owner}
    cl = []
    devkey = b''
    for c in creds:
        if c.startswith('key='):
            devkey = open(c[4:], 'rb').read()
            continue
        n = len(cl) + 1
        if c.startswith('trustca=') or c.startswith('cert='):
            usage, f = c.split('=', 1)
            cl.append({'credid': n, 'subjectuuid': '*', 'credtype': 8,
                       'credusage': 'oic.sec.cred.' + usage,
                       'publicdata': {'data': open(f).read(),
                                      'encoding': 'oic.sec.encoding.pem'}})
            continue
        subj, key = c.split(':')
        cl.append({'credid': n, 'subjectuuid': subj, 'credtype': 1,
                   'privatedata': {'data': bytes.fromhex(key),
                                   'encoding': 'oic.sec.encoding.raw'}})
    al = []
    for n, a in enumerate(aces, 1):
        subj, href, perm = a.split(':')
        sub = ({'conntype': subj} if subj in ('anon-clear', 'auth-crypt')
               else {'uuid': subj})
        al.append({'aceid': n, 'subject': sub,
                   'resources': [{'href': href}], 'permission': int(perm)})
    body = b''
    for obj in (doxm, pstat, {'creds': cl, 'rowneruuid': owner},
                {'aclist2': al, 'rowneruuid': owner}):
        b = cbor2.dumps(obj)
        body += struct.pack('>I', len(b)) + b
    body += bytes([0]) + bytes(16) + bytes([0])
    body += struct.pack('>QQ', len(cl) + 1, len(al) + 1)
    body += struct.pack('>H', len(devkey)) + devkey
    data = b'KDCOCF\x00\x01' + struct.pack('>I', len(body)) + body
    data += struct.pack('>I', zlib.crc32(data) & 0xffffffff)
    uuid.UUID(dev)
    with open(out, 'wb') as f:
        f.write(data)


if __name__ == '__main__':
    main()
