#!/usr/bin/env python3
"""An independent decryptor for Veilmark envelopes, written from docs/envelope.md alone.

It shares no code with the Rust implementation: it parses the header, derives the keys with
HKDF-SHA256, checks the key check and header MAC, and opens every chunk with AES-256-GCM using
the `cryptography` package. Run over docs/vectors/envelope/, it must reach the same verdict as
the vector file's `expect:` line for every vector, or it exits non-zero.

Usage: envelope_interop.py VECTOR_DIR
"""

import hashlib
import hmac
import pathlib
import struct
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"VEILMARK"
TAG = 16


class Reject(Exception):
    """The envelope is refused; `code` matches docs/envelope.md#errors."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


def hkdf(key, salt, info, length):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(key)


def open_envelope(key, env):
    if len(env) < 8:
        raise Reject("header-truncated" if MAGIC.startswith(env) else "not-an-envelope")
    if env[:8] != MAGIC:
        raise Reject("not-an-envelope")
    if len(env) < 12:
        raise Reject("header-truncated")
    if env[8] != 1:
        raise Reject("unsupported-version")
    if env[9] != 0:
        raise Reject("malformed-header")
    (hlen,) = struct.unpack(">H", env[10:12])
    if not (64 + 1 + 1 + 48 <= hlen <= 64 + 1 + 127 + 48):
        raise Reject("malformed-header")
    if len(env) < hlen:
        raise Reject("header-truncated")
    h = env[:hlen]
    (chunk_size,) = struct.unpack(">I", h[28:32])
    (pt_len,) = struct.unpack(">Q", h[32:40])
    salt, prefix, mlen = h[40:56], h[56:63], h[63]
    if 64 + mlen + 48 != hlen:
        raise Reject("malformed-header")
    media = h[64 : 64 + mlen]
    ok = set(b"abcdefghijklmnopqrstuvwxyz0123456789+-.")
    parts = media.split(b"/")
    if len(parts) != 2 or not all(p and set(p) <= ok for p in parts):
        raise Reject("malformed-header")
    if not (1024 <= chunk_size <= 16 * 1024 * 1024):
        raise Reject("malformed-header")
    count = max(1, -(-pt_len // chunk_size))
    if count > 0xFFFFFFFF:
        raise Reject("malformed-header")

    payload_key = hkdf(key, salt, b"veilmark/envelope/v1/payload", 32)
    header_key = hkdf(key, salt, b"veilmark/envelope/v1/header", 32)
    key_check = hkdf(key, salt, b"veilmark/envelope/v1/key-check", 16)
    if not hmac.compare_digest(h[64 + mlen : 80 + mlen], key_check):
        raise Reject("wrong-key")
    mac = hmac.new(header_key, h[: 80 + mlen], hashlib.sha256).digest()
    if not hmac.compare_digest(h[80 + mlen :], mac):
        raise Reject("header-tampered")

    expected = hlen + pt_len + TAG * count
    if len(env) < expected:
        raise Reject("truncated")
    if len(env) > expected:
        raise Reject("trailing-data")

    aead = AESGCM(payload_key)

    def nonce(i):
        return prefix + struct.pack(">I", i) + bytes([1 if i == count - 1 else 0])

    out = bytearray()
    pos = hlen
    for i in range(count):
        n = min(chunk_size, pt_len - i * chunk_size)
        ct = env[pos : pos + n + TAG]
        pos += n + TAG
        try:
            out += aead.decrypt(nonce(i), ct, h)
        except InvalidTag:
            # Reordered, or modified / foreign? Try the other positions of the same length.
            for j in range(count):
                m = min(chunk_size, pt_len - j * chunk_size)
                if j != i and m == n:
                    try:
                        aead.decrypt(nonce(j), ct, h)
                        raise Reject("chunk-out-of-order")
                    except InvalidTag:
                        pass
            raise Reject("chunk-tampered")
    return media.decode(), bytes(out)


def main():
    folder = pathlib.Path(sys.argv[1])
    files = sorted(folder.glob("*.txt"))
    if not files:
        sys.exit(f"no vectors in {folder}")
    passed = failed = 0
    for path in files:
        fields = {}
        for line in path.read_text().splitlines():
            if line.startswith("#") or not line.strip():
                continue
            k, _, v = line.partition(":")
            fields[k.strip()] = v.strip()
        key = bytes.fromhex(fields["key"])
        env = bytes.fromhex(fields["envelope"])
        try:
            media, plaintext = open_envelope(key, env)
            verdict = "ok"
            if plaintext != bytes.fromhex(fields["plaintext"]) or media != fields["media type"]:
                verdict = "wrong-plaintext"
        except Reject as r:
            verdict = r.code
        if verdict == fields["expect"]:
            passed += 1
        else:
            failed += 1
            print(f"FAIL {path.name}: expected {fields['expect']}, got {verdict}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
