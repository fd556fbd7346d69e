#!/usr/bin/python3
"""jwpeer: an independent DTLS 1.2 server for one suite,
TLS_ECDH_anon_WITH_AES_128_CBC_SHA256 at IoTivity's private code point
0xFF00 (OCF Just Works), with a tiny CoAP responder behind it, for
test_engine_jw.sh. Written from RFC 6347 (DTLS 1.2), RFC 5246 (PRF,
Finished, key_block, CBC records MAC-then-encrypt), RFC 8422 (ECDH
parameters) and RFC 7627 (extended master secret); python's standard
library (sockets, hmac, hashlib) and python3-cryptography (AES-CBC and
ECDH P-256).

  jwpeer.py [--no-ems] [--no-hvr] [--bad-finished] [--bad-mac] [--drop-cke]
            [--silent]

It binds 127.0.0.1 on a free UDP port and writes on stderr:
  ready PORT                   bound
  hello ems=0|1 etm=0|1 suites=HEX   a ClientHello with a valid cookie
  hvr seq=N cookie=HEX         a HelloVerifyRequest sent (for the
                               ClientHello of message_seq N, cookie it had)
  dropped-cke rseq=N           --drop-cke: the first datagram carrying a
                               ClientKeyExchange (in record N) ignored
  cke rseq=N                   the ClientKeyExchange taken, from record N
  silent rseq=N ms=T           --silent: a datagram not answered (its first
                               record's number, ms since the first one)
  client-finished ok|bad       the client's Finished checked
  key_block HEX                after the handshake (a test key)
  ems-used 0|1                 which master secret it used
  request CODE PATH            per CoAP request (CON GET: ACK 2.05 payload
                               "path=PATH"; CON POST: ACK 2.04)
  corrupted                    --bad-mac: that answer went with one bit of
                               its IV flipped (the plaintext's CoAP code
                               turns 2.05 into 2.04; its MAC no longer
                               matches), later ones intact
  alert LEVEL DESC EPOCH       an alert from the client
  bad-record                   an epoch-1 record that did not authenticate
Options: --no-ems: never echo extended_master_secret (RFC 5246's master
secret); --no-hvr: no cookie round; --bad-finished: our Finished's
verify_data wrong (one byte flipped). Exits on SIGTERM.
"""
import hashlib
import hmac
import os
import socket
import struct
import sys
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SUITE = 0xFF00
V12, V10 = b"\xfe\xfd", b"\xfe\xff"
args = set(sys.argv[1:])
EMS_ON = "--no-ems" not in args
HVR_ON = "--no-hvr" not in args
BAD_FIN = "--bad-finished" in args
BAD_MAC = "--bad-mac" in args
DROP_CKE = "--drop-cke" in args
SILENT = "--silent" in args


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def prf(secret, label, seed, n):
    """RFC 5246 §5: P_SHA256(secret, label || seed)"""
    seed = label + seed
    out, a = b"", seed
    while len(out) < n:
        a = hmac.new(secret, a, hashlib.sha256).digest()
        out += hmac.new(secret, a + seed, hashlib.sha256).digest()
    return out[:n]


def hs_msg(mtype, seq, body):
    """a handshake message as one fragment (RFC 6347 §4.2.2)"""
    n = len(body).to_bytes(3, "big")
    return bytes([mtype]) + n + struct.pack(">H", seq) + b"\0\0\0" + n + body


def record(ctype, epoch, seq, frag, version=V12):
    return (bytes([ctype]) + version + struct.pack(">H", epoch) +
            seq.to_bytes(6, "big") + struct.pack(">H", len(frag)) + frag)


def records(d):
    off = 0
    while off + 13 <= len(d):
        ctype, epoch = d[off], struct.unpack(">H", d[off + 3:off + 5])[0]
        seq = int.from_bytes(d[off + 5:off + 11], "big")
        n = struct.unpack(">H", d[off + 11:off + 13])[0]
        if off + 13 + n > len(d):
            return
        yield ctype, epoch, seq, d[off:off + 13], d[off + 13:off + 13 + n]
        off += 13 + n


def hs_msgs(frag):
    off = 0
    while off + 12 <= len(frag):
        mtype = frag[off]
        length = int.from_bytes(frag[off + 1:off + 4], "big")
        seq = struct.unpack(">H", frag[off + 4:off + 6])[0]
        foff = int.from_bytes(frag[off + 6:off + 9], "big")
        flen = int.from_bytes(frag[off + 9:off + 12], "big")
        body = frag[off + 12:off + 12 + flen]
        off += 12 + flen
        if foff != 0 or flen != length or len(body) != flen:
            log("fragmented message: not expected from this client")
            continue
        yield mtype, seq, body


class Cbc:
    """RFC 5246 §6.2.3.2: AES-128-CBC, HMAC-SHA256, MAC-then-encrypt"""

    def __init__(self, mac_key, key):
        self.mac_key, self.key, self.seq, self.epoch = mac_key, key, 0, 1

    def mac(self, epoch, seq, ctype, pt):
        hdr = (struct.pack(">H", epoch) + seq.to_bytes(6, "big") +
               bytes([ctype]) + V12 + struct.pack(">H", len(pt)))
        return hmac.new(self.mac_key, hdr + pt, hashlib.sha256).digest()

    def seal(self, ctype, pt, flip_iv_bit=None):
        seq = self.seq
        self.seq += 1
        m = pt + self.mac(self.epoch, seq, ctype, pt)
        pad = 15 - len(m) % 16
        m += bytes([pad]) * (pad + 1)
        iv = os.urandom(16)
        enc = Cipher(algorithms.AES(self.key), modes.CBC(iv)).encryptor()
        ct = enc.update(m) + enc.finalize()
        if flip_iv_bit is not None:
            b = bytearray(iv)
            b[flip_iv_bit // 8] ^= 0x80 >> (flip_iv_bit % 8)
            iv = bytes(b)
        return record(ctype, self.epoch, seq, iv + ct)

    def open(self, hdr, frag):
        if len(frag) < 64 or len(frag) % 16 != 0:
            return None
        dec = Cipher(algorithms.AES(self.key), modes.CBC(frag[:16])).decryptor()
        m = dec.update(frag[16:]) + dec.finalize()
        pad = m[-1]
        if pad + 33 > len(m) or m[-pad - 1:] != bytes([pad]) * (pad + 1):
            return None
        pt, tag = m[:-pad - 33], m[-pad - 33:-pad - 1]
        epoch = struct.unpack(">H", hdr[3:5])[0]
        seq = int.from_bytes(hdr[5:11], "big")
        if not hmac.compare_digest(tag, self.mac(epoch, seq, hdr[0], pt)):
            return None
        return pt


def coap_answer(pt):
    """a CON GET: ACK 2.05 "path=..."; a CON POST: ACK 2.04; else None"""
    if len(pt) < 4 or pt[0] >> 6 != 1 or (pt[0] >> 4) & 3 != 0:
        return None
    tkl, code, mid = pt[0] & 15, pt[1], pt[2:4]
    tok, off, num, path = pt[4:4 + tkl], 4 + tkl, 0, []
    while off < len(pt) and pt[off] != 0xFF:
        delta, ln = pt[off] >> 4, pt[off] & 15
        off += 1
        ext = []
        for v in (delta, ln):
            if v == 13:
                ext.append(pt[off] + 13)
                off += 1
            elif v == 14:
                ext.append(int.from_bytes(pt[off:off + 2], "big") + 269)
                off += 2
            else:
                ext.append(v)
        num += ext[0]
        if num == 11:
            path.append(pt[off:off + ext[1]].decode())
        off += ext[1]
    p = "/".join(path)
    log("request %d.%02d %s" % (code >> 5, code & 31, p))
    hdr = bytes([0x60 | tkl]) + b"%c" + mid + tok
    if code == 1:
        return hdr.replace(b"%c", b"\x45") + b"\xff" + ("path=" + p).encode()
    if code == 2:
        return hdr.replace(b"%c", b"\x44")
    return hdr.replace(b"%c", b"\x80")  # 4.00


class Session:
    def __init__(self):
        self.state = "hello"
        self.w0 = 0              # our epoch-0 record numbers
        self.tr = b""           # the transcript (RFC 6347 §4.2.6)
        self.flight = None      # our last flight, for retransmission
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.ems = False
        self.rd = self.wr = None
        self.corrupted = False

    def rec0(self, ctype, frag, version=V12, seq=None):
        if seq is None:
            seq, self.w0 = self.w0, self.w0 + 1
        return record(ctype, 0, seq, frag, version)


COOKIE_KEY = os.urandom(32)


def cookie_of(addr, crandom):
    return hmac.new(COOKIE_KEY, repr(addr).encode() + crandom,
                    hashlib.sha256).digest()[:20]


def parse_ch(b):
    ver, crandom = b[0:2], b[2:34]
    off = 34
    sid = b[off:off + 1 + b[off]]
    off += 1 + b[off]
    cookie = b[off + 1:off + 1 + b[off]]
    off += 1 + b[off]
    n = struct.unpack(">H", b[off:off + 2])[0]
    suites = b[off + 2:off + 2 + n]
    off += 2 + n
    off += 1 + b[off]
    exts = {}
    if off < len(b):
        end = off + 2 + struct.unpack(">H", b[off:off + 2])[0]
        off += 2
        while off + 4 <= end:
            t, ln = struct.unpack(">HH", b[off:off + 4])
            exts[t] = b[off + 4:off + 4 + ln]
            off += 4 + ln
    return ver, crandom, sid, cookie, suites, exts


def handshake(s, sock, addr, mtype, seq, body, rseq):
    if mtype == 1 and s.state in ("hello", "flight4"):
        ver, crandom, _sid, cookie, suites, exts = parse_ch(body)
        if HVR_ON and cookie != cookie_of(addr, crandom):
            # RFC 6347 §4.2.1: version 1.0 here; the record number of the
            # ClientHello, and its message_seq
            hvr = V10 + bytes([20]) + cookie_of(addr, crandom)
            sock.sendto(s.rec0(22, hs_msg(3, seq, hvr), V10, rseq), addr)
            log("hvr seq=%d cookie=%s" % (seq, cookie.hex()))
            return
        if s.state == "flight4":
            sock.sendto(s.flight(), addr)     # a retransmitted ClientHello
            return
        offered = [struct.unpack(">H", suites[i:i + 2])[0]
                   for i in range(0, len(suites), 2)]
        log("hello ems=%d etm=%d suites=%s" % (0x17 in exts, 0x16 in exts,
            suites.hex()))
        if SUITE not in offered:
            sock.sendto(s.rec0(21, b"\x02\x28"), addr)
            return
        s.crandom, s.srandom = crandom, os.urandom(32)
        s.ems = EMS_ON and 0x17 in exts
        s.tr = hs_msg(1, seq, body)
        ext = b"\xff\x01\x00\x01\x00" + b"\x00\x0b\x00\x02\x01\x00"
        if s.ems:
            ext += b"\x00\x17\x00\x00"
        sh = (V12 + s.srandom + b"\x00" + struct.pack(">H", SUITE) + b"\x00" +
              struct.pack(">H", len(ext)) + ext)
        pub = s.key.public_key().public_bytes(
            serialization.Encoding.X962,
            serialization.PublicFormat.UncompressedPoint)
        ske = b"\x03\x00\x17" + bytes([len(pub)]) + pub   # anon: unsigned
        m1, m2, m3 = hs_msg(2, seq, sh), hs_msg(12, seq + 1, ske), \
            hs_msg(14, seq + 2, b"")
        s.tr += m1 + m2 + m3
        s.srv_seq = seq + 3      # our Finished's message_seq
        s.cli_seq = seq + 1      # the client's ClientKeyExchange's
        s.state = "flight4"
        # ServerHello and ServerKeyExchange in one record, the Done alone
        s.flight = lambda: s.rec0(22, m1 + m2) + s.rec0(22, m3)
        sock.sendto(s.flight(), addr)
        return
    if mtype == 16 and s.state == "flight4" and seq == s.cli_seq:
        point = body[1:1 + body[0]]
        peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                           point)
        pms = s.key.exchange(ec.ECDH(), peer)
        log("cke rseq=%d" % rseq)
        s.tr += hs_msg(16, seq, body)
        if s.ems:
            s.master = prf(pms, b"extended master secret",
                           hashlib.sha256(s.tr).digest(), 48)
        else:
            s.master = prf(pms, b"master secret", s.crandom + s.srandom, 48)
        kb = prf(s.master, b"key expansion", s.srandom + s.crandom, 96)
        s.key_block = kb
        s.rd, s.wr = Cbc(kb[0:32], kb[64:80]), Cbc(kb[32:64], kb[80:96])
        s.state = "wait-finished"
        s.cli_seq = seq + 1
        return


def finished(s, sock, addr, seq, body):
    want = prf(s.master, b"client finished", hashlib.sha256(s.tr).digest(),
               12)
    ok = hmac.compare_digest(body, want)
    log("client-finished %s" % ("ok" if ok else "bad"))
    if not ok:
        sock.sendto(s.wr.seal(21, b"\x02\x33"), addr)
        s.state = "dead"
        return
    s.tr += hs_msg(20, seq, body)
    vd = prf(s.master, b"server finished", hashlib.sha256(s.tr).digest(), 12)
    if BAD_FIN:
        vd = bytes([vd[0] ^ 1]) + vd[1:]
    fin = hs_msg(20, s.srv_seq, vd)
    s.state = "open"
    s.flight = lambda: s.rec0(20, b"\x01") + s.wr.seal(22, fin)
    sock.sendto(s.flight(), addr)
    log("key_block " + s.key_block.hex())
    log("ems-used %d" % s.ems)


def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    log("ready %d" % sock.getsockname()[1])
    sessions = {}
    dropped = False
    t0 = None
    while True:
        d, addr = sock.recvfrom(4096)
        if SILENT:
            now = time.monotonic()
            t0 = now if t0 is None else t0
            for _c, _e, q, _h, _f in records(d):
                log("silent rseq=%d ms=%d" % (q, (now - t0) * 1000))
                break
            continue
        s = sessions.setdefault(addr, Session())
        cke = [q for c, e, q, _h, f in records(d)
               if c == 22 and e == 0 and f[:1] == b"\x10"]
        if DROP_CKE and not dropped and cke:
            dropped = True
            log("dropped-cke rseq=%d" % cke[0])
            continue
        for ctype, epoch, rseq, hdr, frag in records(d):
            if epoch == 0 and ctype == 22:
                for mtype, seq, body in hs_msgs(frag):
                    if mtype == 1 and s.state not in ("hello", "flight4"):
                        s = sessions[addr] = Session()   # a new handshake
                    handshake(s, sock, addr, mtype, seq, body, rseq)
            elif epoch == 0 and ctype == 21:
                log("alert %d %d 0" % (frag[0], frag[1]))
            elif epoch == 0 and ctype == 20:
                s.ccs = True
            elif epoch == 1 and s.rd is not None:
                pt = s.rd.open(hdr, frag)
                if pt is None:
                    log("bad-record")
                    continue
                if ctype == 21:
                    log("alert %d %d 1" % (pt[0], pt[1]))
                elif ctype == 22 and s.state == "wait-finished":
                    for mtype, seq, body in hs_msgs(pt):
                        if mtype == 20 and seq == s.cli_seq:
                            finished(s, sock, addr, seq, body)
                elif ctype == 22 and s.state == "open":
                    sock.sendto(s.flight(), addr)   # our Finished was lost
                elif ctype == 23 and s.state == "open":
                    ans = coap_answer(pt)
                    if ans is None:
                        continue
                    flip = None
                    if BAD_MAC and not s.corrupted and ans[1] == 0x45:
                        # the code byte is plaintext byte 1: IV bit 15
                        flip, s.corrupted = 15, True
                        log("corrupted")
                    sock.sendto(s.wr.seal(23, ans, flip), addr)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
