#!/usr/bin/env python3
# Expected kdc_keyring_mac() outputs for test_crypto.c (test_keyring_mac),
# computed independently with Python's hmac/hashlib: HKDF-SHA256 (RFC 5869)
# with salt "iotkdc keyring v1", IKM = bytes 00..1f, info = label, L = 32,
# then HMAC-SHA256(subkey, "hello").
import hashlib
import hmac

salt, ikm = b"iotkdc keyring v1", bytes(range(32))
prk = hmac.new(salt, ikm, hashlib.sha256).digest()
for label in (b"psk-fp", b"audit"):
    subkey = hmac.new(prk, label + b"\x01", hashlib.sha256).digest()
    print(label.decode(), hmac.new(subkey, b"hello", hashlib.sha256).hexdigest())
