#!/usr/bin/python3
"""mcresp: a plain-CoAP multicast responder for test_engine_multicast.sh
(an independent peer of the engine's kdc_coap_multicast(); python's
standard library only). It joins GROUP on IFACE, and answers each
CoAP request it gets there with a unicast NON 2.05 sent from its own
address SRC, carrying the request's token and the payload NAME.

  mcresp.py IFACE GROUP PORT SRC NAME [--bad-token] [--delay-ms N]

--bad-token: the answer's token differs from the request's (last byte
flipped): the engine must drop it. --delay-ms N: answer N ms after the
request (a responder slower than the requester's window). It writes
"ready" on stderr once joined, "answered TOKENHEX" after each answer,
and exits on SIGTERM."""
import socket
import struct
import sys
import time


def main():
    a = sys.argv[1:]
    if len(a) < 5:
        sys.exit(__doc__)
    iface, group, port, src, name = a[0], a[1], int(a[2]), a[3], a[4]
    bad = "--bad-token" in a
    delay = int(a[a.index("--delay-ms") + 1]) / 1000.0 if "--delay-ms" in a else 0
    idx = socket.if_nametoindex(iface)
    v6 = ":" in group
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    rx = socket.socket(fam, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tx = socket.socket(fam, socket.SOCK_DGRAM)
    if v6:
        rx.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        rx.bind(("::", port))
        mreq = socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", idx)
        rx.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        rx.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
        tx.bind((src, 0, 0, idx))
    else:
        rx.bind(("0.0.0.0", port))
        mreq = struct.pack("=4s4si", socket.inet_aton(group),
                           socket.inet_aton("0.0.0.0"), idx)
        rx.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        rx.setsockopt(socket.IPPROTO_IP, getattr(socket, "IP_RECVTTL", 12), 1)
        tx.bind((src, 0))
    print("ready", file=sys.stderr, flush=True)
    mid = 0x4000
    while True:
        data, anc, _, peer = rx.recvmsg(2048, socket.CMSG_SPACE(4))
        hops = -1
        for level, kind, val in anc:
            if kind in (socket.IPV6_HOPLIMIT, socket.IP_TTL) and len(val) >= 1:
                hops = int.from_bytes(val[:4], sys.byteorder) if len(val) >= 4 else val[0]
        if len(data) < 4 or data[0] >> 6 != 1:
            continue
        print("request type=%d hops=%d" % ((data[0] >> 4) & 3, hops),
              file=sys.stderr, flush=True)
        tkl = data[0] & 0x0F
        if tkl > 8 or len(data) < 4 + tkl or not 1 <= data[1] <= 4:
            continue
        tok = bytearray(data[4:4 + tkl])
        if bad and tkl > 0:
            tok[-1] ^= 0xFF
        mid = (mid + 1) & 0xFFFF
        # NON (type 1), 2.05, Content-Format 0 (text/plain), payload
        msg = bytes([0x50 | tkl, 0x45]) + struct.pack(">H", mid) + bytes(tok)
        msg += bytes([0xC0]) + b"\xff" + name.encode()
        if delay:
            time.sleep(delay)
        tx.sendto(msg, peer)
        print("answered " + bytes(tok).hex(), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
