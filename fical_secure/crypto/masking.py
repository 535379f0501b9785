"""Secure-aggregation masks: per-round X25519 mask keys, pairwise seeds, the mask PRG.

* :class:`MaskKey`: a client's X25519 key for one round. Its private half is
  Shamir-shared (so the server can recover a dropped client's pairwise masks),
  which is why it has an explicit export for sharing and a constructor from a
  reconstructed secret that checks the advertised public key.
* :func:`pairwise_seed`: HKDF-SHA256 of the X25519 agreement of two clients'
  mask keys, salted with the round context and both public keys in sorted
  order; both ends derive the same 32 bytes.
* :class:`MaskAccumulator`: expands full 32-byte seeds with AES-256-CTR (key =
  HKDF(seed, salt = round context, info = one label per use)) straight into
  vectors of unsigned integers modulo 2^bits, adding or subtracting them in
  place. The modulus is a power of two, so masking every ``uint32`` (or
  ``uint64``) word gives exactly uniform residues, and wrap-around addition is
  the group operation. No Mersenne Twister, no 32-bit seed folding.
"""

from __future__ import annotations

import enum
import os
from typing import Final, final

import numpy as np
import numpy.typing as npt

from fical_secure.crypto import labels, primitives
from fical_secure.crypto.identity import Unpicklable
from fical_secure.errors import InvalidShare, KeyMisuseError

SEED_SIZE: Final = 32
MAX_BITS: Final = 64
MAX_LENGTH: Final = 1 << 28
"""Largest mask vector (2^28 words): bounds the memory a hostile config can ask for."""

UIntArray = npt.NDArray[np.unsignedinteger]


class MaskKind(enum.Enum):
    """What a seed masks; each kind has its own HKDF label."""

    SELF = "self"
    PAIRWISE = "pairwise"


_PRG_LABELS: Final = {
    MaskKind.SELF: labels.SECAGG_SELF_PRG,
    MaskKind.PAIRWISE: labels.SECAGG_PAIRWISE_PRG,
}


def word_dtype(bits: int) -> type[np.unsignedinteger]:
    """The unsigned word a vector modulo 2^bits is held in (uint32 or uint64).

    Raises:
        KeyMisuseError: ``bits`` outside 1..64.
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= MAX_BITS:
        raise KeyMisuseError(f"mask bits must be an integer in 1..{MAX_BITS}")
    return np.uint32 if bits <= 32 else np.uint64


@final
class MaskKey(Unpicklable):
    """A client's X25519 mask key for one round (pairwise masks with its neighbours)."""

    __slots__ = ("_private", "_public")

    def __init__(self, private: bytes, public: bytes) -> None:
        """Use :meth:`generate` or :meth:`from_reconstructed`."""
        self._private = private
        self._public = public

    @classmethod
    def generate(cls) -> MaskKey:
        """A fresh key from the operating system's CSPRNG."""
        private = os.urandom(SEED_SIZE)
        return cls(private, primitives.x25519_public_from_private(private))

    @classmethod
    def from_reconstructed(cls, private: bytes, expected_public: bytes) -> MaskKey:
        """Rebuild a dropped client's key from its Shamir-reconstructed private bytes.

        Raises:
            InvalidShare: the bytes are not the private key of ``expected_public``.
        """
        if len(private) != SEED_SIZE:
            raise InvalidShare("reconstructed mask key has the wrong size")
        if primitives.x25519_public_from_private(private) != expected_public:
            raise InvalidShare("reconstructed mask key does not match the advertised key")
        return cls(private, expected_public)

    def public_bytes(self) -> bytes:
        """The raw 32-byte X25519 public key (advertised, identity-signed)."""
        return self._public

    def export_for_sharing(self) -> bytes:
        """The raw private key, to be Shamir-shared among this client's neighbours."""
        return self._private

    def pairwise_seed(self, peer_public: bytes, context: bytes) -> bytes:
        """The seed this key shares with ``peer_public`` in the round ``context``.

        Raises:
            InvalidPeerKey: a low-order peer key.
        """
        shared = primitives.x25519(self._private, peer_public)
        low, high = sorted((self._public, peer_public))
        salt = primitives.sha256(context, low, high)
        return primitives.hkdf_sha256(
            shared, salt=salt, info=labels.SECAGG_PAIRWISE_SEED, length=SEED_SIZE
        )

    def __repr__(self) -> str:
        return f"MaskKey(public={self._public[:8].hex()}...)"


class MaskAccumulator:
    """A vector modulo 2^bits that masks are added to and subtracted from in place.

    The keystream buffers are allocated once, so adding 100 masks of a
    million words allocates nothing after the first.
    """

    def __init__(self, length: int, bits: int, context: bytes) -> None:
        """``context`` (the round's config hash) salts every PRG key derivation.

        Raises:
            KeyMisuseError: ``length`` outside 1..2^28 or ``bits`` outside 1..64.
        """
        if isinstance(length, bool) or not isinstance(length, int):
            raise KeyMisuseError("mask length must be an integer")
        if not 1 <= length <= MAX_LENGTH:
            raise KeyMisuseError(f"mask length must be in 1..{MAX_LENGTH}")
        self.bits = bits
        self.dtype = word_dtype(bits)
        self.length = length
        self._context = bytes(context)
        nbytes = length * np.dtype(self.dtype).itemsize
        self._zeros = memoryview(bytearray(nbytes))
        self._stream = bytearray(nbytes + 15)
        self._words: UIntArray = np.frombuffer(self._stream, dtype=self.dtype, count=length)
        self.value: UIntArray = np.zeros(length, dtype=self.dtype)

    def expand(self, seed: bytes, kind: MaskKind) -> UIntArray:
        """The mask of ``seed`` (a view of an internal buffer, valid until the next call).

        Raises:
            KeyMisuseError: a seed that is not 32 bytes.
        """
        if len(seed) != SEED_SIZE:
            raise KeyMisuseError(f"mask seeds must be {SEED_SIZE} bytes")
        key = primitives.hkdf_sha256(
            seed, salt=self._context, info=_PRG_LABELS[kind], length=primitives.AES256_KEY_SIZE
        )
        primitives.aes256_ctr_keystream_into(key, self._zeros, memoryview(self._stream))
        return self._words

    def add(self, seed: bytes, kind: MaskKind) -> None:
        """``value += mask(seed)`` modulo the word size."""
        np.add(self.value, self.expand(seed, kind), out=self.value)

    def subtract(self, seed: bytes, kind: MaskKind) -> None:
        """``value -= mask(seed)`` modulo the word size."""
        np.subtract(self.value, self.expand(seed, kind), out=self.value)

    def add_vector(self, vector: UIntArray) -> None:
        """``value += vector`` (already reduced modulo 2^bits, of this length and dtype).

        Raises:
            KeyMisuseError: wrong shape or dtype.
        """
        if vector.shape != (self.length,) or vector.dtype != self.dtype:
            raise KeyMisuseError(f"vector must be {self.length} words of {self.dtype.__name__}")
        np.add(self.value, vector, out=self.value)

    def reduced(self) -> UIntArray:
        """The value modulo 2^bits (a copy)."""
        if self.bits in (32, 64):
            return self.value.copy()
        return np.bitwise_and(self.value, self.dtype((1 << self.bits) - 1))
