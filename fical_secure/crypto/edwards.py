"""Ed25519 public-key validation: canonical encoding, on the curve, not of small order.

``cryptography`` (like RFC 8032 verifiers in general) accepts any 32 bytes
that decode to a curve point, including the eight points of small order and
non-canonical encodings (y >= p, or x = 0 with the sign bit set). Under a
small-order key A, the signature (R = identity, S = 0) satisfies
``[8][S]B = [8]R + [8][k]A`` for every message, so a roster that enrolls such a
key lets anyone sign as that client. This module decodes the point with the
RFC 8032 section 5.1.3 algorithm, refusing non-canonical encodings, and
multiplies it by the cofactor 8: a result equal to the identity means small
order. Public data only, so plain (variable-time) integer arithmetic is fine.
"""

from __future__ import annotations

from typing import Final

from fical_secure.errors import InvalidPublicKey

_P: Final = 2**255 - 19
_D: Final = (-121665 * pow(121666, -1, _P)) % _P
_SQRT_M1: Final = pow(2, (_P - 1) // 4, _P)

Point = tuple[int, int]  # affine (x, y)


def decode_point(encoded: bytes) -> Point:
    """Decode a 32-byte Ed25519 point strictly (RFC 8032 5.1.3, canonical only).

    Raises:
        InvalidPublicKey: wrong length, y >= p, x = 0 with the sign bit set, or
            no curve point has this y.
    """
    if len(encoded) != 32:
        raise InvalidPublicKey("an Ed25519 public key is 32 bytes")
    value = int.from_bytes(encoded, "little")
    sign, y = value >> 255, value & ((1 << 255) - 1)
    if y >= _P:
        raise InvalidPublicKey("non-canonical Ed25519 public key (y >= p)")
    x2 = (y * y - 1) * pow(_D * y * y + 1, -1, _P) % _P
    if x2 == 0:
        if sign:
            raise InvalidPublicKey("non-canonical Ed25519 public key (x = 0, sign bit set)")
        return 0, y
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P:
        raise InvalidPublicKey("not an Ed25519 curve point")
    if x & 1 != sign:
        x = _P - x
    return x, y


def _add(a: Point, b: Point) -> Point:
    """Twisted Edwards addition (a = -1), complete for Ed25519."""
    (x1, y1), (x2, y2) = a, b
    t = _D * x1 * x2 * y1 * y2 % _P
    x3 = (x1 * y2 + y1 * x2) * pow(1 + t, -1, _P) % _P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, -1, _P) % _P
    return x3, y3


def has_small_order(point: Point) -> bool:
    """Whether ``[8]point`` is the identity (order 1, 2, 4 or 8)."""
    for _ in range(3):
        point = _add(point, point)
    return point == (0, 1)


def check_ed25519_public(encoded: bytes) -> None:
    """Return only for a canonical encoding of a curve point of large order.

    Raises:
        InvalidPublicKey: otherwise (see :func:`decode_point`), or small order.
    """
    if has_small_order(decode_point(bytes(encoded))):
        raise InvalidPublicKey(
            "Ed25519 public key of small order: any signature would verify under it; "
            "refuse this key and re-enroll the client with a freshly generated one"
        )
