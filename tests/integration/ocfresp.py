#!/usr/bin/python3
"""ocfresp: a plain-CoAP (NoSec) unicast responder answering as an OCF
device does (Content-Format 10000 and OCF-Content-Format-Version 2053 =
0x0800 on its answer), for test_engine_ocf_client.sh: an independent peer
of the engine's NoSec client sessions (python's standard library only).

  ocfresp.py ADDR PORT [--separate] [--critical N]

It binds ADDR (IPv4, or IPv6 with "%zone") and PORT and answers every
CON request with a piggybacked ACK 2.05, or with --separate an empty ACK
then a CON 2.05 of its own (it resends that until acknowledged, at most
3 times). --critical N: the answer also carries option N (empty), an
option the engine must reject when N is critical and unknown.
It writes "ready" on stderr once bound, then per request
"request code=C.DD mid=M query=Q cf=N accept=N v2049=HEX v2053=HEX
payload=HEX", per answer "answered", per ACK of its own CON "acked", per
RST "rst"; exits on SIGTERM."""
import socket
import struct
import sys

PAYLOAD = bytes.fromhex("bf646f786d739f0001ff666f786d73656c04ff")  # {"oxms":[0,1],"oxmsel":4}


def options(d, off):
    num, opts = 0, []
    while off < len(d) and d[off] != 0xFF:
        delta, length = d[off] >> 4, d[off] & 15
        off += 1
        ext = []
        for v in (delta, length):
            if v == 13:
                ext.append(d[off] + 13)
                off += 1
            elif v == 14:
                ext.append(int.from_bytes(d[off:off + 2], "big") + 269)
                off += 2
            else:
                ext.append(v)
        num += ext[0]
        opts.append((num, d[off:off + ext[1]]))
        off += ext[1]
    return opts, (d[off + 1:] if off < len(d) else b"")


def enc_opts(opts):
    out, last = b"", 0
    for num, val in opts:
        delta, ln = num - last, len(val)
        last = num
        hd, ext = 0, b""
        for i, v in enumerate((delta, ln)):
            if v < 13:
                nib = v
            elif v < 269:
                nib, ext = 13, ext + bytes([v - 13])
            else:
                nib, ext = 14, ext + (v - 269).to_bytes(2, "big")
            hd |= nib << (4 if i == 0 else 0)
        out += bytes([hd]) + ext + val
    return out


def main():
    a = sys.argv[1:]
    if len(a) < 2:
        sys.exit(__doc__)
    addr, port = a[0], int(a[1])
    sep = "--separate" in a
    crit = int(a[a.index("--critical") + 1]) if "--critical" in a else 0
    if ":" in addr:
        host, _, zone = addr.partition("%")
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind((host, port, 0, socket.if_nametoindex(zone) if zone else 0))
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((addr, port))
    print("ready", file=sys.stderr, flush=True)
    mid = 0x2000
    pending = None  # (mid, msg, peer, tries)
    while True:
        s.settimeout(1.0 if pending else None)
        try:
            d, peer = s.recvfrom(2048)
        except socket.timeout:
            m, msg, p, tries = pending
            if tries >= 3:
                pending = None
            else:
                s.sendto(msg, p)
                pending = (m, msg, p, tries + 1)
            continue
        if len(d) < 4 or d[0] >> 6 != 1:
            continue
        typ, tkl, code = (d[0] >> 4) & 3, d[0] & 15, d[1]
        rmid = struct.unpack(">H", d[2:4])[0]
        if typ in (2, 3):
            if pending and pending[0] == rmid:
                print("acked" if typ == 2 else "rst", file=sys.stderr, flush=True)
                pending = None
            continue
        if typ != 0 or code == 0 or code >> 5 != 0:
            continue
        tok = d[4:4 + tkl]
        opts, body = options(d, 4 + tkl)
        get = lambda n: [v for k, v in opts if k == n]
        uint = lambda v: int.from_bytes(v[0], "big") if v else -1
        print("request code=0.%02d mid=%d query=%s cf=%d accept=%d v2049=%s v2053=%s payload=%s" % (
            code & 31, rmid, "&".join(q.decode() for q in get(15)) or "-",
            uint(get(12)), uint(get(17)),
            get(2049)[0].hex() if get(2049) else "-",
            get(2053)[0].hex() if get(2053) else "-", body.hex() or "-"),
            file=sys.stderr, flush=True)
        ro = [(12, (10000).to_bytes(2, "big"))]
        if crit:
            ro.append((crit, b""))
        ro.append((2053, b"\x08\x00"))
        ro.sort(key=lambda o: o[0])
        rest = enc_opts(ro) + b"\xff" + PAYLOAD
        if not sep:
            s.sendto(bytes([0x60 | tkl, 0x45]) + d[2:4] + tok + rest, peer)
        else:
            s.sendto(bytes([0x60, 0]) + d[2:4], peer)
            mid = (mid + 1) & 0xFFFF
            msg = bytes([0x40 | tkl, 0x45]) + struct.pack(">H", mid) + tok + rest
            s.sendto(msg, peer)
            pending = (mid, msg, peer, 0)
        print("answered", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
