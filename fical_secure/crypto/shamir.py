"""Vectorised Shamir secret sharing over GF(2^31 - 1), with hash-committed shares.

A secret of ``L`` bytes is cut into 3-byte chunks (each < 2^24, so every chunk
is a field element), and every chunk is shared by its own random polynomial of
degree ``threshold - 1``: any ``threshold`` shares reconstruct it, fewer give
values uniform over the field whatever the secret (perfect hiding). All chunks
of all secrets a dealer shares are evaluated at once with NumPy (Horner's rule
over ``int64``: every product stays below 2^62), so splitting two 32-byte
secrets for 100 holders is one pass over a (100, 22) array, not 2 x 100 x 3
Python big-integer loops.

Integrity: :func:`commit_share` is a SHA-256 commitment to one share under a
caller-built context (dealer, holder, round, which secret); :func:`combine`
checks every share against the dealer's commitment before it interpolates, and
:func:`commit_secret` lets the reconstructed secret be checked too, so a
tampered share is detected and never turned into a wrong secret.

Share encoding: ``x`` (1..2^31-2, the holder's index) travels beside
``y``, ``4 * ceil(L / 3)`` bytes (big-endian u32 per chunk).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt

from fical_secure.crypto import labels, primitives
from fical_secure.errors import InvalidShare, KeyMisuseError

PRIME: Final = 2**31 - 1
"""The field modulus, the Mersenne prime M31."""
CHUNK_BYTES: Final = 3
MAX_HOLDERS: Final = 65_535
COMMITMENT_SIZE: Final = 32

Int64Array = npt.NDArray[np.int64]
RandomBytes = Callable[[int], bytes]


@dataclass(frozen=True)
class Share:
    """One holder's share of one secret: the point ``(x, y)`` of every chunk."""

    x: int
    y: bytes

    def __post_init__(self) -> None:
        if isinstance(self.x, bool) or not isinstance(self.x, int):
            raise KeyMisuseError("share x must be an integer")
        if not 1 <= self.x <= MAX_HOLDERS:
            raise KeyMisuseError(f"share x must be in 1..{MAX_HOLDERS}")
        if not isinstance(self.y, bytes) or len(self.y) == 0 or len(self.y) % 4:
            raise KeyMisuseError("share y must be a non-empty multiple of 4 bytes")


def chunk_count(secret_len: int) -> int:
    """Field elements per share of a ``secret_len``-byte secret."""
    return -(-secret_len // CHUNK_BYTES)


def _to_chunks(secret: bytes) -> Int64Array:
    padded = secret + bytes(chunk_count(len(secret)) * CHUNK_BYTES - len(secret))
    raw = np.frombuffer(padded, dtype=np.uint8).reshape(-1, CHUNK_BYTES).astype(np.int64)
    return np.asarray((raw[:, 0] << 16) | (raw[:, 1] << 8) | raw[:, 2], dtype=np.int64)


def _from_chunks(chunks: Int64Array, secret_len: int) -> bytes:
    if np.any(chunks >= 1 << (8 * CHUNK_BYTES)):
        raise InvalidShare("shares do not interpolate to a secret: inconsistent dealing")
    out = np.stack([(chunks >> 16) & 0xFF, (chunks >> 8) & 0xFF, chunks & 0xFF], axis=1)
    data = out.astype(np.uint8).tobytes()
    if any(data[secret_len:]):
        raise InvalidShare("shares do not interpolate to a secret: inconsistent dealing")
    return data[:secret_len]


def _uniform_field(count: int, randbytes: RandomBytes) -> Int64Array:
    """``count`` elements uniform over GF(p), by rejection of the one value p itself."""
    out = np.empty(count, dtype=np.int64)
    filled = 0
    while filled < count:
        need = count - filled
        draw = np.frombuffer(randbytes(4 * need), dtype=np.uint32).astype(np.int64) & PRIME
        draw = draw[draw != PRIME]
        out[filled : filled + draw.size] = draw
        filled += draw.size
    return out


def _check_params(xs: Sequence[int], threshold: int) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise KeyMisuseError("threshold must be an integer >= 1")
    if len(xs) < threshold:
        raise KeyMisuseError(f"{len(xs)} holders cannot meet threshold {threshold}")
    if len(set(xs)) != len(xs) or not all(1 <= x <= MAX_HOLDERS for x in xs):
        raise KeyMisuseError(f"holder x values must be distinct, in 1..{MAX_HOLDERS}")


def split(
    secrets: Sequence[bytes],
    xs: Sequence[int],
    threshold: int,
    *,
    randbytes: RandomBytes = os.urandom,
) -> list[list[Share]]:
    """Share each secret among holders ``xs``; returns ``shares[secret][holder]``.

    ``randbytes`` is injectable for deterministic tests; it must be a CSPRNG
    otherwise.

    Raises:
        KeyMisuseError: empty or unequal-length secrets, fewer holders than the
            threshold, or repeated / out-of-range ``x`` values.
    """
    if not secrets or len({len(s) for s in secrets}) != 1 or len(secrets[0]) == 0:
        raise KeyMisuseError("secrets must be non-empty and of one length")
    _check_params(xs, threshold)
    columns = np.concatenate([_to_chunks(s) for s in secrets])
    coeffs = _uniform_field((threshold - 1) * columns.size, randbytes).reshape(-1, columns.size)
    x = np.asarray(xs, dtype=np.int64)[:, None]
    acc = np.zeros((len(xs), columns.size), dtype=np.int64)
    for row in coeffs:  # Horner, highest degree first: acc < p, acc * x < 2^62
        acc = (acc * x + row) % PRIME
    acc = (acc * x + columns) % PRIME
    width = chunk_count(len(secrets[0]))
    encoded = acc.astype(">u4")
    return [
        [
            Share(int(xv), encoded[h, s * width : (s + 1) * width].tobytes())
            for h, xv in enumerate(xs)
        ]
        for s in range(len(secrets))
    ]


@lru_cache(maxsize=256)
def _lagrange_at_zero(xs: tuple[int, ...]) -> Int64Array:
    """Coefficients l_i with f(0) = sum l_i f(x_i), mod p."""
    x = np.asarray(xs, dtype=np.int64)
    num = np.ones(len(xs), dtype=np.int64)
    den = np.ones(len(xs), dtype=np.int64)
    for j, xj in enumerate(xs):
        others = np.arange(len(xs)) != j
        num[others] = (num[others] * xj) % PRIME
        den[others] = (den[others] * ((xj - x[others]) % PRIME)) % PRIME
    inv = np.asarray([pow(int(d), PRIME - 2, PRIME) for d in den], dtype=np.int64)
    return np.asarray((num * inv) % PRIME, dtype=np.int64)


def commit_share(share: Share, context: bytes) -> bytes:
    """SHA-256 commitment to ``share`` under ``context`` (dealer, holder, round, secret)."""
    return primitives.sha256(
        labels.SHAMIR_SHARE_COMMITMENT,
        len(context).to_bytes(4, "big"),
        context,
        share.x.to_bytes(4, "big"),
        share.y,
    )


def commit_secret(secret: bytes, context: bytes) -> bytes:
    """SHA-256 commitment to a (high-entropy) secret, checked after reconstruction."""
    return primitives.sha256(
        labels.SHAMIR_SECRET_COMMITMENT, len(context).to_bytes(4, "big"), context, secret
    )


def verify_share(share: Share, context: bytes, commitment: bytes) -> None:
    """Return only if ``share`` is the one the dealer committed to under ``context``.

    Raises:
        InvalidShare: it is not.
    """
    if not hmac.compare_digest(commit_share(share, context), commitment):
        raise InvalidShare(f"share x={share.x} does not match its dealer's commitment")


def combine(
    shares: Sequence[Share],
    *,
    threshold: int,
    secret_len: int,
    contexts: Mapping[int, bytes],
    commitments: Mapping[int, bytes],
) -> bytes:
    """Check each share against its commitment, then interpolate the secret.

    ``contexts[x]`` and ``commitments[x]`` are the context and the dealer's
    commitment for the share of holder ``x``. Exactly the first ``threshold``
    shares (in ``x`` order) are interpolated; every share given is checked.

    Raises:
        InvalidShare: a share fails its commitment, has the wrong size, or the
            shares are inconsistent (the dealing was not one polynomial).
        KeyMisuseError: fewer than ``threshold`` shares, or repeated ``x``.
    """
    if len(shares) < threshold:
        raise KeyMisuseError(f"{len(shares)} shares cannot meet threshold {threshold}")
    width = chunk_count(secret_len)
    for share in shares:
        if share.x not in commitments or share.x not in contexts:
            raise InvalidShare(f"no commitment for share x={share.x}")
        verify_share(share, contexts[share.x], commitments[share.x])
        if len(share.y) != 4 * width:
            raise InvalidShare(f"share x={share.x} has the wrong length")
    chosen = sorted(shares, key=lambda s: s.x)[:threshold]
    xs = tuple(s.x for s in chosen)
    if len(set(xs)) != len(xs):
        raise KeyMisuseError("shares repeat an x value")
    ys = np.stack([np.frombuffer(s.y, dtype=">u4").astype(np.int64) for s in chosen])
    lam = _lagrange_at_zero(xs)
    chunks = ((lam[:, None] * ys) % PRIME).sum(axis=0) % PRIME
    return _from_chunks(np.asarray(chunks, dtype=np.int64), secret_len)
