"""Writes tests/vectors/crypto_kat.json: known answers for the envelope and Shamir.

Built from the byte layouts in the docstrings of ``fical_secure.crypto.envelope``
and ``fical_secure.crypto.shamir`` with ``cryptography`` and Python integers
only, never with the project's own code, so the vectors are a second reading of
the specification: a change to the construction (a label, the KDF salt or info,
the AEAD, what the signature covers, the share commitment or encoding) breaks
them. Every input is fixed; run ``python tests/vectors/make_crypto_kat.py`` to
rewrite the file after a deliberate format change (and bump the version).
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

OUT = Path(__file__).with_name("crypto_kat.json")
ENVELOPE_KEY_INFO = b"fical-secure/v1/envelope-key"
ENVELOPE_SIGNATURE_LABEL = b"fical-secure/v1/sig/envelope\x00"
SHARE_COMMITMENT_LABEL = b"fical-secure/v1/commit/shamir-share\x00"
SECRET_COMMITMENT_LABEL = b"fical-secure/v1/commit/shamir-secret\x00"
PRIME = 2**31 - 1
HEADER = struct.Struct(">BQ16s16sB32s32s12s")


def fixed(label: str, size: int = 32) -> bytes:
    """Deterministic test input: SHA-256 of a label, cut to ``size`` bytes."""
    return hashlib.sha256(b"fical-secure kat/" + label.encode()).digest()[:size]


def _raw_public(key: X25519PrivateKey | Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def envelope_case(name: str, round_id: int, stage: int, payload: bytes) -> dict[str, Any]:
    """One sealed envelope, every intermediate value written out."""
    sender_seed, recipient_private = fixed(name + "/sender"), fixed(name + "/recipient")
    ephemeral_private, nonce = fixed(name + "/ephemeral"), fixed(name + "/nonce", 12)
    config_hash = fixed(name + "/config")
    sender = Ed25519PrivateKey.from_private_bytes(sender_seed)
    recipient_public = _raw_public(X25519PrivateKey.from_private_bytes(recipient_private))
    ephemeral = X25519PrivateKey.from_private_bytes(ephemeral_private)
    ephemeral_public = _raw_public(ephemeral)
    sender_key_id = hashlib.sha256(_raw_public(sender)).digest()[:16]
    recipient_key_id = hashlib.sha256(recipient_public).digest()[:16]
    header = HEADER.pack(
        1, round_id, sender_key_id, recipient_key_id, stage, config_hash, ephemeral_public, nonce
    )
    shared = ephemeral.exchange(X25519PrivateKey.from_private_bytes(recipient_private).public_key())
    aead_key = HKDF(
        hashes.SHA256(), 32, salt=ephemeral_public + recipient_public, info=ENVELOPE_KEY_INFO
    ).derive(shared)
    ciphertext = ChaCha20Poly1305(aead_key).encrypt(nonce, payload, header)
    signed = ENVELOPE_SIGNATURE_LABEL + hashlib.sha256(header + ciphertext).digest()
    envelope = header + ciphertext + sender.sign(signed)
    values = {
        "sender_seed": sender_seed,
        "recipient_private": recipient_private,
        "ephemeral_private": ephemeral_private,
        "nonce": nonce,
        "config_hash": config_hash,
        "payload": payload,
        "shared_secret": shared,
        "aead_key": aead_key,
        "header": header,
        "signed_message": signed,
        "envelope": envelope,
    }
    return {
        "name": name,
        "round_id": round_id,
        "stage": stage,
        **{key: value.hex() for key, value in values.items()},
    }


def _chunks(secret: bytes) -> list[int]:
    padded = secret + bytes(-len(secret) % 3)
    return [int.from_bytes(padded[i : i + 3], "big") for i in range(0, len(padded), 3)]


def shamir_case(name: str, secret: bytes, xs: list[int], threshold: int) -> dict[str, Any]:
    """A dealing with fixed randomness; coefficients are drawn as ``split`` documents.

    ``randbytes`` is a counter-mode SHA-256 stream; all ``(threshold - 1) * chunks``
    coefficients come from one draw of little-endian u32 words masked to 31 bits
    (the value p itself rejected), row ``k`` being the degree ``threshold - 1 - k``
    coefficient of every chunk.
    """
    stream = Stream(fixed(name + "/randomness"))
    chunks = _chunks(secret)
    flat = stream.field_elements((threshold - 1) * len(chunks))
    coeffs = [flat[k * len(chunks) : (k + 1) * len(chunks)] for k in range(threshold - 1)]
    shares = []
    for x in xs:
        ys = []
        for c, chunk in enumerate(chunks):
            acc = 0
            for row in coeffs:
                acc = (acc * x + row[c]) % PRIME
            ys.append((acc * x + chunk) % PRIME)
        y = b"".join(v.to_bytes(4, "big") for v in ys)
        context = fixed(f"{name}/context/{x}", 20)
        commitment = hashlib.sha256(
            SHARE_COMMITMENT_LABEL
            + len(context).to_bytes(4, "big")
            + context
            + x.to_bytes(4, "big")
            + y
        ).digest()
        shares.append(
            {"x": x, "y": y.hex(), "context": context.hex(), "commitment": commitment.hex()}
        )
    secret_context = fixed(name + "/secret-context", 24)
    secret_commitment = hashlib.sha256(
        SECRET_COMMITMENT_LABEL + len(secret_context).to_bytes(4, "big") + secret_context + secret
    ).digest()
    return {
        "name": name,
        "secret": secret.hex(),
        "threshold": threshold,
        "randomness_seed": fixed(name + "/randomness").hex(),
        "shares": shares,
        "secret_context": secret_context.hex(),
        "secret_commitment": secret_commitment.hex(),
    }


class Stream:
    """SHA-256 in counter mode: the fixed ``randbytes`` of the Shamir vectors."""

    def __init__(self, seed: bytes) -> None:
        self.seed, self.counter, self.buffer = seed, 0, b""

    def __call__(self, size: int) -> bytes:
        while len(self.buffer) < size:
            block = self.seed + self.counter.to_bytes(8, "big")
            self.buffer += hashlib.sha256(block).digest()
            self.counter += 1
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out

    def field_elements(self, count: int) -> list[int]:
        """``count`` elements: one 4-byte draw per missing element, as ``split`` does."""
        out: list[int] = []
        while len(out) < count:
            draw = self(4 * (count - len(out)))
            words = [
                int.from_bytes(draw[i : i + 4], "little") & PRIME for i in range(0, len(draw), 4)
            ]
            out += [w for w in words if w != PRIME]
        return out


def build() -> dict[str, Any]:
    """The whole vector file."""
    return {
        "about": "known answers for fical_secure.crypto; written by make_crypto_kat.py",
        "envelope": [
            envelope_case("empty", 0, 0, b""),
            envelope_case("compendium", 12, 3, b"Staff write chem-7 for test=BMP."),
            envelope_case("extremes", 2**64 - 1, 255, bytes(range(256)) * 4),
        ],
        "shamir": [
            shamir_case("one-chunk", b"\xff\xfe\xfd", [1, 2, 3], 2),
            shamir_case("seed", fixed("shamir/seed"), [3, 7, 11, 65535], 3),
            shamir_case("ragged", b"fical-secure", [1, 2], 1),
        ],
    }


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=1) + "\n")
    print(f"wrote {OUT}")
