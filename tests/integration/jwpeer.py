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

  jwpeer.py --ocf IFACE [--fail-step STEP]

A minimal OCF device that offers only Just Works, for test_ocf_jw.sh
(the OCF research notes §1-§2; python3-cbor2 for the payloads): a random
deviceuuid; plain CoAP on an ephemeral port P of IFACE's fe80 address
(unsecured GET /oic/sec/doxm and POST {"oxmsel":0}, RFOTM only); port
5683 joined to ff02::158 on IFACE, answering GET /oic/res?rt=oic.r.doxm
with its doxm link (eps coap P, coaps Q) from P; this DTLS server on Q,
whose handshake opens the DOC only once oxmsel=0 was posted (one DOC at a
time). Over the DOC, POST pstat/doxm/cred/acl2/sdi and DELETE acl2 under
IoTivity's rules (which property is writable in which state, pstat's
transitions and pstat_check_state; a refusal is 4.03 or 4.00); the owner
credential (credtype 1, subject the cred rowneruuid = devowneruuid, empty
privatedata) derives the owner PSK = P_SHA256(key_block,
"oic.sec.doxm.jw" || devowneruuid || deviceuuid)[16]. The DOC closed in
RFOTM resets the device (a new uuid). On stderr:
  ready uuid=U addr=A coap=P coaps=Q
  discovery answered token=HEX
  unsecured GET doxm | unsecured doxm.oxmsel 0 | refused unsecured ...
  doc open | doc refused ...       a ClientHello taken as the DOC, or not
  step NAME [VALUE]                one per property or action applied,
                                   named as the KDC's steps (pstat.om,
                                   doxm.deviceuuid U, cred.owner O, ...)
  owner_psk HEX                    the derived owner PSK (a test key)
  refused PATH C.DD WHY            a request refused
  state rfnop uuid=U               RFNOP reached
  doc closed | doc closed in RFOTM: reset uuid=U
--fail-step STEP: the first request carrying STEP is applied, then
answered 5.00 (a device failing mid-OTM; the KDC closes the DOC).
"""
import hashlib
import hmac
import os
import select
import socket
import struct
import sys
import time
import uuid as uuidlib

import cbor2
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
OCF_IFACE = (sys.argv[sys.argv.index("--ocf") + 1]
             if "--ocf" in sys.argv[1:-1] else None)
FAIL_STEP = (sys.argv[sys.argv.index("--fail-step") + 1]
             if "--fail-step" in sys.argv[1:-1] else None)
DOC_GATE = None     # --ocf: whether a ClientHello from addr may open a DOC


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
        if DOC_GATE is not None and not DOC_GATE(addr):
            sock.sendto(s.rec0(21, b"\x02\x28"), addr)  # handshake_failure
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


# ---- --ocf IFACE: a minimal OCF device that offers only Just Works ---------
# (the OCF research notes §1-§2, IoTivity-Lite's rules for doxm, pstat,
# cred, acl2; python3-cbor2 for the payloads)

NIL = "00000000-0000-0000-0000-000000000000"
CF_OCF = 10000
OPT_CF, OPT_PATH, OPT_QUERY, OPT_VERSION = 12, 11, 15, 2053
OCF_GROUP = "ff02::158"
RFOTM, RFPRO, RFNOP, SRESET = 1, 2, 3, 4
PSTAT_NEXT = {0: (0, 1), 1: (0, 1, 2, 3), 2: (0, 2, 3, 4), 3: (0, 2, 3, 4),
              4: (0, 2, 4)}     # IoTivity's valid_transition


def coap_parse(d):
    """(type, code, mid, token, [(num, val)], payload) or None"""
    if len(d) < 4 or d[0] >> 6 != 1 or (d[0] & 15) > 8:
        return None
    tkl = d[0] & 15
    off, num, opts = 4 + tkl, 0, []
    try:
        while off < len(d) and d[off] != 0xFF:
            delta, ln = d[off] >> 4, d[off] & 15
            off += 1
            ext = []
            for v in (delta, ln):
                if v == 13:
                    ext.append(d[off] + 13)
                    off += 1
                elif v == 14:
                    ext.append(int.from_bytes(d[off:off + 2], "big") + 269)
                    off += 2
                elif v == 15:
                    return None
                else:
                    ext.append(v)
            num += ext[0]
            if off + ext[1] > len(d):
                return None
            opts.append((num, d[off:off + ext[1]]))
            off += ext[1]
    except IndexError:
        return None
    pl = d[off + 1:] if off < len(d) else b""
    return (d[0] >> 4) & 3, d[1], d[2:4], d[4:4 + tkl], opts, pl


def coap_build(mtype, code, mid, tok, opts, pl=b""):
    out, last = b"", 0
    for num, val in opts:
        hd, ext = 0, b""
        for i, v in enumerate((num - last, len(val))):
            if v < 13:
                nib = v
            elif v < 269:
                nib, ext = 13, ext + bytes([v - 13])
            else:
                nib, ext = 14, ext + (v - 269).to_bytes(2, "big")
            hd |= nib << (4 if i == 0 else 0)
        out += bytes([hd]) + ext + val
        last = num
    msg = bytes([0x40 | mtype << 4 | len(tok), code]) + mid + tok + out
    return msg + (b"\xff" + pl if pl else b"")


def code_of(c, d):
    return c << 5 | d


class Ocf:
    """the device's state: a fresh one after RESET (a new uuid)"""

    def __init__(self):
        self.reset()

    def reset(self):
        self.uuid = str(uuidlib.uuid4())
        self.oxmsel, self.owned, self.devowner = 4, False, NIL
        self.rowner = {"doxm": NIL, "pstat": NIL, "acl2": NIL, "cred": NIL}
        self.s, self.om = RFOTM, 3
        self.creds, self.aces = [], []
        self.doc = None         # the DOC's client address

    def doxm(self):
        return {"oxms": [0], "oxmsel": self.oxmsel, "sct": 1,
                "owned": self.owned, "deviceuuid": self.uuid,
                "devowneruuid": self.devowner,
                "rowneruuid": self.rowner["doxm"]}

    def pstat(self):
        return {"dos": {"s": self.s, "p": False}, "isop": self.s == RFNOP,
                "cm": 2 if self.s == RFOTM else 0, "tm": 0, "om": self.om,
                "sm": 4, "rowneruuid": self.rowner["pstat"]}

    def check_state(self):
        """pstat_check_state: what entering RFPRO, RFNOP, SRESET needs"""
        if not self.owned:
            return "not owned"
        if self.devowner == NIL:
            return "no devowneruuid"
        for k, v in self.rowner.items():
            if v == NIL:
                return "no %s rowneruuid" % k
            if not any(c["subjectuuid"] == v for c in self.creds):
                return "no credential for the %s rowneruuid" % k
        return None


class Refused(Exception):
    def __init__(self, code, why):
        Exception.__init__(self, why)
        self.code = code


def uuid_of(v):
    if not isinstance(v, str):
        raise Refused(code_of(4, 0), "a uuid is not a text string")
    try:
        return str(uuidlib.UUID(v))
    except ValueError:
        raise Refused(code_of(4, 0), "not a uuid: %r" % v)


def only(body, keys):
    if not isinstance(body, dict):
        raise Refused(code_of(4, 0), "the payload is not a map")
    extra = set(body) - set(keys)
    if extra:
        raise Refused(code_of(4, 0), "not writable: %s" % sorted(extra))


def forbid(cond, why):
    if cond:
        raise Refused(code_of(4, 3), why)


def ocf_post_doxm(dev, body, doc):
    only(body, ("oxmsel", "devowneruuid", "deviceuuid", "rowneruuid",
                "owned"))
    if "oxmsel" in body:
        forbid(doc, "oxmsel: only outside the DOC")
        forbid(dev.s != RFOTM, "oxmsel: only in RFOTM")
        if body["oxmsel"] != 0:
            raise Refused(code_of(4, 0), "oxmsel %r: not offered" %
                          body["oxmsel"])
        dev.oxmsel = 0
        return "doxm.oxmsel 0"
    forbid(not doc, "doxm: only over the DOC")
    steps = []
    if "devowneruuid" in body:
        forbid(dev.s != RFOTM, "devowneruuid: only in RFOTM")
        dev.devowner = uuid_of(body["devowneruuid"])
        steps.append("doxm.devowneruuid " + dev.devowner)
    if "deviceuuid" in body:
        forbid(dev.s != RFOTM, "deviceuuid: only in RFOTM")
        dev.uuid = uuid_of(body["deviceuuid"])
        steps.append("doxm.deviceuuid " + dev.uuid)
    if "rowneruuid" in body:
        forbid(dev.s not in (RFOTM, SRESET), "rowneruuid: RFOTM or SRESET")
        dev.rowner["doxm"] = uuid_of(body["rowneruuid"])
        steps.append("doxm.rowneruuid " + dev.rowner["doxm"])
    if "owned" in body:
        forbid(dev.s != RFOTM, "owned: only in RFOTM")
        if body["owned"] is not True:
            raise Refused(code_of(4, 0), "owned: only true is written")
        forbid(dev.devowner == NIL, "owned before devowneruuid")
        dev.owned = True
        steps.append("doxm.owned")
    return "; ".join(steps)


def ocf_post_pstat(dev, body):
    only(body, ("om", "dos", "rowneruuid"))
    steps = []
    if "om" in body:
        forbid(dev.s == RFNOP, "om: not in RFNOP")
        if body["om"] != 4:         # sm: client-directed only
            raise Refused(code_of(4, 0), "om %r not supported" % body["om"])
        dev.om = 4
        steps.append("pstat.om 4")
    if "rowneruuid" in body:
        forbid(dev.s not in (RFOTM, SRESET), "rowneruuid: RFOTM or SRESET")
        dev.rowner["pstat"] = uuid_of(body["rowneruuid"])
        steps.append("pstat.rowneruuid " + dev.rowner["pstat"])
    if "dos" in body:
        dos = body["dos"]
        if not isinstance(dos, dict) or not isinstance(dos.get("s"), int):
            raise Refused(code_of(4, 0), "dos: no s")
        s = dos["s"]
        forbid(s not in PSTAT_NEXT.get(dev.s, ()),
               "dos.s %d -> %r: not a valid transition" % (dev.s, s))
        if s in (RFPRO, RFNOP, SRESET):
            why = dev.check_state()
            forbid(why is not None, "dos.s %d: %s" % (s, why))
        if s == 0:
            return "pstat.reset"
        dev.s = s
        steps.append({RFOTM: "pstat.rfotm", RFPRO: "pstat.rfpro",
                      RFNOP: "pstat.rfnop", SRESET: "pstat.sreset"}[s])
    return "; ".join(steps)


def ocf_post_cred(dev, body, sess):
    only(body, ("creds", "rowneruuid"))
    forbid(dev.s not in (RFOTM, RFPRO, SRESET), "cred: not in RFNOP")
    steps = []
    if "rowneruuid" in body:
        forbid(dev.s not in (RFOTM, SRESET), "rowneruuid: RFOTM or SRESET")
        dev.rowner["cred"] = uuid_of(body["rowneruuid"])
        steps.append("cred.rowneruuid " + dev.rowner["cred"])
    creds = body.get("creds", [])
    if not isinstance(creds, list) or len(creds) > 8:
        raise Refused(code_of(4, 0), "creds: not a list (of at most 8)")
    for c in creds:
        if not isinstance(c, dict) or c.get("credtype") != 1:
            raise Refused(code_of(4, 0), "credtype: 1 only here")
        subj = uuid_of(c.get("subjectuuid"))
        pd = c.get("privatedata", {})
        data = pd.get("data", b"") if isinstance(pd, dict) else None
        if not isinstance(data, bytes):
            raise Refused(code_of(4, 0), "privatedata.data: raw bytes")
        if subj == dev.rowner["cred"] and len(data) == 0:
            # the owner credential: derive the owner PSK (ocf.md §2)
            forbid(dev.s != RFOTM, "owner credential: only in RFOTM")
            forbid(dev.devowner == NIL, "owner PSK before devowneruuid")
            forbid(subj != dev.devowner, "owner credential's subject is "
                   "not the devowneruuid")
            forbid(sess is None, "owner PSK: no session")
            data = prf(sess.key_block, OXM_LABEL,
                       uuidlib.UUID(dev.devowner).bytes +
                       uuidlib.UUID(dev.uuid).bytes, 16)
            log("owner_psk " + data.hex())
            steps.append("cred.owner " + subj)
        else:
            forbid(len(data) != 16, "a PSK of %d bytes" % len(data))
            steps.append("cred.psk " + subj)
        dev.creds.append({"credid": len(dev.creds) + 1, "credtype": 1,
                          "subjectuuid": subj, "key": data})
    return "; ".join(steps)


OXM_LABEL = b"oic.sec.doxm.jw"


def ocf_post_acl2(dev, body):
    only(body, ("aclist2", "rowneruuid"))
    steps = []
    if "rowneruuid" in body:
        forbid(dev.s not in (RFOTM, SRESET), "rowneruuid: RFOTM or SRESET")
        dev.rowner["acl2"] = uuid_of(body["rowneruuid"])
        steps.append("acl2.rowneruuid " + dev.rowner["acl2"])
    if "aclist2" in body:
        forbid(dev.s == RFNOP, "ACEs: not in RFNOP")
        aces = body["aclist2"]
        if not isinstance(aces, list) or len(aces) > 16:
            raise Refused(code_of(4, 0), "aclist2: not a list (of <= 16)")
        for a in aces:
            if (not isinstance(a, dict) or
                    not isinstance(a.get("subject"), dict) or
                    not isinstance(a.get("resources"), list) or
                    not isinstance(a.get("permission"), int) or
                    not 0 < a["permission"] < 32):
                raise Refused(code_of(4, 0), "an ACE without subject, "
                              "resources or permission")
        dev.aces += aces
        desc = []
        for a in aces:
            subj = a["subject"]
            who = subj.get("uuid") or subj.get("conntype") or "role"
            desc.append("%s:%s:%d" % (who, ",".join(
                r.get("href", r.get("wc", "?")) for r in a["resources"]
                if isinstance(r, dict)), a["permission"]))
        steps.append("acl2.default " + " ".join(desc))
    return "; ".join(steps)


class OcfDevice:
    def __init__(self, iface):
        self.iface = iface
        self.idx = socket.if_nametoindex(iface)
        self.addr = link_local(iface)
        self.dev = Ocf()
        self.mid = 0x5000
        self.coap = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.coap.bind((self.addr, 0, 0, self.idx))
        self.dtls = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.dtls.bind((self.addr, 0, 0, self.idx))
        self.mc = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.mc.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.mc.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self.mc.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        self.mc.bind(("::", 5683))
        mreq = (socket.inet_pton(socket.AF_INET6, OCF_GROUP) +
                struct.pack("@I", self.idx))
        self.mc.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        self.P = self.coap.getsockname()[1]
        self.Q = self.dtls.getsockname()[1]
        self.sessions = {}
        self.failed = False     # --fail-step done

    def next_mid(self):
        self.mid = (self.mid + 1) & 0xFFFF
        return struct.pack(">H", self.mid)

    def answer(self, req, code, body=None):
        """piggybacked on a CON's ACK, or a NON of its own"""
        mtype, _c, mid, tok, _o, _p = req
        opts, pl = [], b""
        if body is not None:
            pl = cbor2.dumps(body)
            opts = [(OPT_CF, struct.pack(">H", CF_OCF)),
                    (OPT_VERSION, b"\x08\x00")]
        if mtype == 0:
            return coap_build(2, code, mid, tok, opts, pl)
        return coap_build(1, code, self.next_mid(), tok, opts, pl)

    def links(self):
        a = "[%s]" % self.addr
        return [{"anchor": "ocf://" + self.dev.uuid, "href": "/oic/sec/doxm",
                 "rt": ["oic.r.doxm"], "if": ["oic.if.baseline"],
                 "p": {"bm": 1},
                 "eps": [{"ep": "coap://%s:%d" % (a, self.P)},
                         {"ep": "coaps://%s:%d" % (a, self.Q)}]}]

    def gate(self, addr):
        dev = self.dev
        if dev.s != RFOTM or dev.oxmsel != 0:
            log("doc refused s=%d oxmsel=%d" % (dev.s, dev.oxmsel))
            return False
        if dev.doc is not None and dev.doc != addr:
            log("doc refused: one DOC at a time")
            return False
        dev.doc = addr
        log("doc open")
        return True

    def doc_end(self, s, addr):
        dev = self.dev
        if dev.doc != addr:
            return
        dev.doc = None
        self.sessions.pop(addr, None)
        if dev.s == RFOTM:
            dev.reset()
            log("doc closed in RFOTM: reset uuid=%s" % dev.uuid)
        else:
            log("doc closed")

    def on_mc(self, d, peer):
        req = coap_parse(d)
        if req is None or req[1] != 1:
            return
        opts = req[4]
        path = "/".join(v.decode("utf-8", "replace")
                        for n, v in opts if n == OPT_PATH)
        query = [v.decode("utf-8", "replace") for n, v in opts
                 if n == OPT_QUERY]
        if path != "oic/res" or any(q.startswith("rt=") and
                                    q != "rt=oic.r.doxm" for q in query):
            return
        self.coap.sendto(self.answer(req, code_of(2, 5), self.links()), peer)
        log("discovery answered token=%s" % req[3].hex())

    def on_coap(self, d, peer):
        """unsecured requests: doxm read and oxmsel (RFOTM only)"""
        req = coap_parse(d)
        if req is None or not 1 <= req[1] <= 4 or req[0] > 1:
            return
        code, opts, pl = req[1], req[4], req[5]
        path = "/".join(v.decode("utf-8", "replace")
                        for n, v in opts if n == OPT_PATH)
        dev = self.dev
        if path == "oic/sec/doxm" and code == 1 and dev.s == RFOTM:
            log("unsecured GET doxm")
            ans = self.answer(req, code_of(2, 5), dev.doxm())
        elif path == "oic/sec/doxm" and code == 2 and dev.s == RFOTM:
            try:
                step = ocf_post_doxm(dev, cbor2.loads(pl), False)
                log("unsecured " + step)
                ans = self.answer(req, code_of(2, 4))
            except (Refused, ValueError, EOFError,
                    cbor2.CBORDecodeError) as e:
                c = e.code if isinstance(e, Refused) else code_of(4, 0)
                log("refused unsecured POST doxm %d.%02d %s" %
                    (c >> 5, c & 31, e))
                ans = self.answer(req, c)
        else:
            log("refused unsecured %d %s" % (code, path))
            ans = self.answer(req, code_of(4, 1))
        self.coap.sendto(ans, peer)

    def on_doc(self, s, pt):
        """a CoAP request over the DOC: the OTM's steps"""
        req = coap_parse(pt)
        if req is None or req[0] != 0 or not 1 <= req[1] <= 4:
            return None
        code, opts, pl = req[1], req[4], req[5]
        path = "/".join(v.decode("utf-8", "replace")
                        for n, v in opts if n == OPT_PATH)
        dev = self.dev
        try:
            if s is not self.sessions.get(dev.doc):
                raise Refused(code_of(4, 1), "not the DOC")
            body = cbor2.loads(pl) if pl else {}
            if code == 1 and path == "oic/sec/doxm":
                return self.answer(req, code_of(2, 5), dev.doxm())
            if code == 1 and path == "oic/sec/pstat":
                return self.answer(req, code_of(2, 5), dev.pstat())
            if code == 4 and path == "oic/sec/acl2":
                forbid(dev.s == RFNOP, "DELETE acl2: not in RFNOP")
                step, ok = "acl2.clear", code_of(2, 2)
            elif code != 2:
                raise Refused(code_of(4, 5), "method %d on %s" % (code, path))
            elif path == "oic/sec/doxm":
                step, ok = ocf_post_doxm(dev, body, True), code_of(2, 4)
            elif path == "oic/sec/pstat":
                step, ok = ocf_post_pstat(dev, body), code_of(2, 4)
            elif path == "oic/sec/cred":
                step, ok = ocf_post_cred(dev, body, s), code_of(2, 4)
            elif path == "oic/sec/acl2":
                step, ok = ocf_post_acl2(dev, body), code_of(2, 4)
            elif path == "oic/sec/sdi":
                only(body, ("uuid", "name", "priv"))
                step, ok = "sdi %s" % uuid_of(body.get("uuid")), code_of(2, 4)
            else:
                raise Refused(code_of(4, 4), "no resource " + path)
            steps = step.split("; ")
            names = [x.split(" ")[0] for x in steps]
            if FAIL_STEP in names and not self.failed:
                # once (applied, then 5.00: the DOC closes in RFOTM, the
                # device resets itself); a rerun then goes through
                self.failed = True
                raise Refused(code_of(5, 0), "failing %s (asked)" %
                              FAIL_STEP)
            if step == "pstat.reset":
                dev.reset()
                log("step pstat.reset uuid=%s" % dev.uuid)
                return self.answer(req, ok)
            if step == "acl2.clear":
                dev.aces = []
            for x in steps:
                log("step " + x)
            if "pstat.rfnop" in names:
                log("state rfnop uuid=%s" % dev.uuid)
            return self.answer(req, ok)
        except (ValueError, EOFError, cbor2.CBORDecodeError) as e:
            log("refused %s 4.00 %s" % (path, e))
            return self.answer(req, code_of(4, 0))
        except Refused as e:
            log("refused %s %d.%02d %s" % (path, e.code >> 5, e.code & 31, e))
            return self.answer(req, e.code)

    def run(self):
        global DOC_GATE
        DOC_GATE = self.gate
        log("ready uuid=%s addr=%s coap=%d coaps=%d" %
            (self.dev.uuid, self.addr, self.P, self.Q))
        while True:
            rd, _w, _x = select.select([self.mc, self.coap, self.dtls], [],
                                       [])
            for sk in rd:
                d, peer = sk.recvfrom(4096)
                if sk is self.mc:
                    self.on_mc(d, peer)
                elif sk is self.coap:
                    self.on_coap(d, peer)
                else:
                    dtls_in(self.dtls, self.sessions, d, peer, self.on_doc,
                            self.doc_end)


def link_local(iface):
    """the fe80 address of iface (/proc/net/if_inet6)"""
    with open("/proc/net/if_inet6") as f:
        for line in f:
            a = line.split()
            if a[5] == iface and a[0].startswith("fe80"):
                return socket.inet_ntop(socket.AF_INET6, bytes.fromhex(a[0]))
    sys.exit("jwpeer: %s has no link-local address" % iface)


def ocf_main(iface):
    OcfDevice(iface).run()


def dtls_in(sock, sessions, d, addr, app=None, on_end=None):
    """one datagram of a DTLS client at addr; app(s, pt) answers an
    application record (bytes or None; None: the plain CoAP responder);
    on_end(s, addr) when the client ends its session (an alert)"""
    s = sessions.setdefault(addr, Session())
    for ctype, epoch, rseq, hdr, frag in records(d):
        if epoch == 0 and ctype == 22:
            for mtype, seq, body in hs_msgs(frag):
                if mtype == 1 and s.state not in ("hello", "flight4"):
                    s = sessions[addr] = Session()   # a new handshake
                handshake(s, sock, addr, mtype, seq, body, rseq)
        elif epoch == 0 and ctype == 21:
            log("alert %d %d 0" % (frag[0], frag[1]))
            if on_end is not None:
                on_end(s, addr)
        elif epoch == 0 and ctype == 20:
            s.ccs = True
        elif epoch == 1 and s.rd is not None:
            pt = s.rd.open(hdr, frag)
            if pt is None:
                log("bad-record")
                continue
            if ctype == 21:
                log("alert %d %d 1" % (pt[0], pt[1]))
                if on_end is not None:
                    on_end(s, addr)
            elif ctype == 22 and s.state == "wait-finished":
                for mtype, seq, body in hs_msgs(pt):
                    if mtype == 20 and seq == s.cli_seq:
                        finished(s, sock, addr, seq, body)
            elif ctype == 22 and s.state == "open":
                sock.sendto(s.flight(), addr)   # our Finished was lost
            elif ctype == 23 and s.state == "open":
                ans = coap_answer(pt) if app is None else app(s, pt)
                if ans is None:
                    continue
                flip = None
                if BAD_MAC and not s.corrupted and ans[1] == 0x45:
                    # the code byte is plaintext byte 1: IV bit 15
                    flip, s.corrupted = 15, True
                    log("corrupted")
                sock.sendto(s.wr.seal(23, ans, flip), addr)


def main():
    if OCF_IFACE is not None:
        return ocf_main(OCF_IFACE)
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
        cke = [q for c, e, q, _h, f in records(d)
               if c == 22 and e == 0 and f[:1] == b"\x10"]
        if DROP_CKE and not dropped and cke:
            dropped = True
            log("dropped-cke rseq=%d" % cke[0])
            continue
        dtls_in(sock, sessions, d, addr)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
