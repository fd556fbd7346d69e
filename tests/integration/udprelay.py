#!/usr/bin/python3
"""udprelay: a one-client UDP relay between the engine (engclient) and an
independent CoAP(S) server, for test_engine_ocf_client.sh (python's
standard library only).

  udprelay.py LISTEN_PORT SERVER_HOST SERVER_PORT [--drop-c2s N] [--randoms FILE]

It listens on 127.0.0.1:LISTEN_PORT; the first datagram's sender is the
client. Client-to-server datagrams go to SERVER_HOST:SERVER_PORT, the
answers back to the client. --drop-c2s N: the first N client-to-server
datagrams are dropped (a lossy path: the client must retransmit).
--randoms FILE: the DTLS 1.2 ClientHello and ServerHello randoms seen on
the wire (epoch 0, plaintext) are written there as "client_random HEX"
and "server_random HEX" lines (the last ClientHello's: the one after the
HelloVerifyRequest carries the same random, RFC 6347 4.2.1).
It writes "ready" on stderr once bound, "c2s dropped|forwarded HEX" (the
datagram's first 4 bytes) per client datagram, and exits on SIGTERM."""
import select
import socket
import sys


def hello_random(d, want):
    # DTLS record: type(1) version(2) epoch(2) seq(6) length(2) = 13 bytes;
    # handshake: msg_type(1) length(3) message_seq(2) frag_off(3)
    # frag_len(3) = 12 bytes; then client_version/server_version(2), random(32)
    off = 0
    while off + 13 <= len(d):
        ctype, epoch = d[off], int.from_bytes(d[off + 3:off + 5], "big")
        rlen = int.from_bytes(d[off + 11:off + 13], "big")
        body = d[off + 13:off + 13 + rlen]
        if ctype == 22 and epoch == 0 and len(body) >= 12 + 2 + 32 \
                and body[0] == want and body[6:9] == b"\0\0\0":
            return body[14:46]
        off += 13 + rlen
    return None


def main():
    a = sys.argv[1:]
    if len(a) < 3:
        sys.exit(__doc__)
    lport, shost, sport = int(a[0]), a[1], int(a[2])
    drop = int(a[a.index("--drop-c2s") + 1]) if "--drop-c2s" in a else 0
    rfile = a[a.index("--randoms") + 1] if "--randoms" in a else None
    down = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    down.bind(("127.0.0.1", lport))
    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    up.connect((shost, sport))
    client = None
    cr = sr = None
    print("ready", file=sys.stderr, flush=True)
    while True:
        r, _, _ = select.select([down, up], [], [])
        if down in r:
            d, peer = down.recvfrom(65535)
            if client is None:
                client = peer
            if peer != client:
                continue
            cr = hello_random(d, 1) or cr
            if drop > 0:
                drop -= 1
                print("c2s dropped " + d[:4].hex(), file=sys.stderr, flush=True)
            else:
                up.send(d)
                print("c2s forwarded " + d[:4].hex(), file=sys.stderr, flush=True)
        if up in r:
            d = up.recv(65535)
            sr = hello_random(d, 2) or sr
            if client is not None:
                down.sendto(d, client)
        if rfile and cr and sr:
            with open(rfile, "w") as f:
                f.write("client_random %s\nserver_random %s\n" % (cr.hex(), sr.hex()))


if __name__ == "__main__":
    main()
