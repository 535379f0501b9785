"""Small-order and non-canonical Ed25519 public keys are refused everywhere they enter.

Under a small-order key the signature (R = identity, S = 0) verifies for every
message in ``cryptography`` itself; the first test shows that, the rest show
every loader (raw bytes, key files, rosters, public bundles, the CLI) refuses.
"""

from __future__ import annotations

import base64
import random
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fical_secure.crypto import primitives
from fical_secure.crypto.edwards import _add, check_ed25519_public, decode_point
from fical_secure.crypto.keys import (
    IdentityKey,
    IdentityPublicKey,
    PublicKeyBundle,
    Roster,
    RoundKey,
)
from fical_secure.errors import InvalidPublicKey, KeyFileError, KeyMisuseError, MessageFormatError

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493  # prime order of the base point
IDENTITY_SIG = (1).to_bytes(32, "little") + bytes(32)  # R = identity, S = 0


def _mul(k: int, point: tuple[int, int]) -> tuple[int, int]:
    acc = (0, 1)
    while k:
        if k & 1:
            acc = _add(acc, point)
        point, k = _add(point, point), k >> 1
    return acc


def _encode(point: tuple[int, int]) -> bytes:
    x, y = point
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _torsion_points() -> set[bytes]:
    """All eight points of small order, as [L]Q for curve points Q of full order."""
    rng = random.Random(7)
    found: set[bytes] = set()
    while len(found) < 8:
        try:
            q = decode_point(rng.randbytes(32))
        except InvalidPublicKey:
            continue
        t = _mul(L, q)
        for i in range(8):
            found.add(_encode(_mul(i, t)))
    return found


TORSION = sorted(_torsion_points())
NON_CANONICAL = [
    (P + 1).to_bytes(32, "little"),  # y = p + 1, i.e. the identity again
    (P).to_bytes(32, "little"),  # y = p, i.e. y = 0 (order 4)
    ((1 << 255) | 1).to_bytes(32, "little"),  # identity with the sign bit set
    ((1 << 255) | (P - 1)).to_bytes(32, "little"),  # order-2 point with the sign bit set
]
WEAK = TORSION + NON_CANONICAL


def test_there_are_eight_small_order_points() -> None:
    assert len(TORSION) == 8
    assert (1).to_bytes(32, "little") in TORSION


def test_the_library_alone_accepts_a_universal_forgery_under_a_small_order_key() -> None:
    # why the check exists: cryptography verifies (R = identity, S = 0) for any message
    key = Ed25519PublicKey.from_public_bytes((1).to_bytes(32, "little"))
    key.verify(IDENTITY_SIG, b"any message at all")


@pytest.mark.parametrize("raw", WEAK, ids=lambda b: b.hex()[:12])
def test_weak_public_key_is_refused_from_bytes(raw: bytes) -> None:
    with pytest.raises(InvalidPublicKey):
        check_ed25519_public(raw)
    with pytest.raises(KeyMisuseError):
        IdentityPublicKey.from_bytes(raw)
    with pytest.raises(KeyMisuseError):
        primitives.ed25519_verify(raw, IDENTITY_SIG, b"forged")


def test_honest_keys_pass_the_check() -> None:
    for _ in range(50):
        check_ed25519_public(IdentityKey.generate().public.to_bytes())


@pytest.mark.parametrize("raw", WEAK, ids=lambda b: b.hex()[:12])
def test_forged_public_key_file_with_a_weak_identity_is_refused(tmp_path: Path, raw: bytes) -> None:
    # a public.key whose "binding signature" is the universal forgery under a weak key
    encryption = RoundKey.generate().public_bytes()
    path = tmp_path / "public.key"
    path.write_bytes(
        b"fical-secure public-key v1\n" + base64.b64encode(raw + encryption + IDENTITY_SIG) + b"\n"
    )
    path.chmod(0o644)
    with pytest.raises(KeyFileError):
        PublicKeyBundle.load(path)


def test_roster_enrolling_a_weak_key_does_not_decode() -> None:
    server = IdentityKey.generate()
    honest = IdentityKey.generate()
    roster = Roster.create(server, [honest.public], epoch=1)
    blob = roster.encode()
    weak = (1).to_bytes(32, "little")
    tampered = blob.replace(honest.public.to_bytes(), weak)
    assert tampered != blob
    with pytest.raises((MessageFormatError, KeyMisuseError)):
        Roster.decode(tampered)
