"""Server-signed enrollment objects: the round key of a round, and the roster.

Both are frozen dataclasses with an explicit big-endian byte layout (below),
signed by the server's Ed25519 identity key over a context label from
:mod:`fical_secure.crypto.labels` followed by every encoded field but the
signature. ``decode`` only parses; call ``verify(server_public)`` before
trusting the contents.

SignedRoundKey, 121 bytes::

    0    u8      version (= 1)
    1    u64     round id
    9    32 B    X25519 round public key
    41   16 B    server key id
    57   64 B    Ed25519 signature

Roster, 93 + 32 * n bytes::

    0    u8      version (= 1)
    1    u64     epoch
    9    u32     n, number of clients
    13   32n B   Ed25519 public keys, sorted by key id, no duplicates
    ..   16 B    server key id
    ..   64 B    Ed25519 signature
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Final

from fical_secure.crypto import labels, primitives
from fical_secure.crypto.identity import (
    KEY_ID_SIZE,
    PUBLIC_KEY_SIZE,
    IdentityKey,
    IdentityPublicKey,
    RoundKey,
    key_id_of,
)
from fical_secure.errors import InvalidSignature, KeyMisuseError, NotEnrolledError

FORMAT_VERSION: Final = 1
SIGNATURE_SIZE: Final = primitives.ED25519_SIGNATURE_SIZE
_U64_MAX: Final = 2**64 - 1
_U32_MAX: Final = 2**32 - 1


def _check_uint(name: str, value: int, maximum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise KeyMisuseError(f"{name} must be an integer in 0..{maximum}")


def _check_bytes(name: str, value: bytes, size: int) -> None:
    if not isinstance(value, bytes) or len(value) != size:
        raise KeyMisuseError(f"{name} must be {size} bytes")


def _verify_server(
    server_key_id: bytes, server_public: IdentityPublicKey, signature: bytes, message: bytes
) -> None:
    """Check the signer is ``server_public`` and the signature is valid."""
    if not isinstance(server_public, IdentityPublicKey):
        raise KeyMisuseError("server_public must be an IdentityPublicKey")
    if server_key_id != server_public.key_id:
        raise InvalidSignature("signed by another server key")
    server_public.verify(signature, message)


@dataclass(frozen=True)
class SignedRoundKey:
    """The server's X25519 public key for one round, signed by its identity key."""

    round_id: int
    public: bytes
    server_key_id: bytes
    signature: bytes

    ENCODED_SIZE: ClassVar[int] = 1 + 8 + PUBLIC_KEY_SIZE + KEY_ID_SIZE + SIGNATURE_SIZE
    _BODY: ClassVar[struct.Struct] = struct.Struct(f">BQ{PUBLIC_KEY_SIZE}s{KEY_ID_SIZE}s")

    def __post_init__(self) -> None:
        _check_uint("round_id", self.round_id, _U64_MAX)
        _check_bytes("public", self.public, PUBLIC_KEY_SIZE)
        _check_bytes("server_key_id", self.server_key_id, KEY_ID_SIZE)
        _check_bytes("signature", self.signature, SIGNATURE_SIZE)
        if primitives.is_low_order_x25519(self.public):
            raise KeyMisuseError("round public key is a low-order X25519 point")

    @classmethod
    def create(cls, server: IdentityKey, round_key: RoundKey, round_id: int) -> SignedRoundKey:
        """Sign ``round_key``'s public key for ``round_id`` with the server's identity."""
        if not isinstance(server, IdentityKey) or not isinstance(round_key, RoundKey):
            raise KeyMisuseError("create(server: IdentityKey, round_key: RoundKey, round_id)")
        _check_uint("round_id", round_id, _U64_MAX)
        body = cls._BODY.pack(FORMAT_VERSION, round_id, round_key.public_bytes(), server.key_id)
        signature = server.sign(labels.ROUND_KEY_SIGNATURE + body)
        return cls(round_id, round_key.public_bytes(), server.key_id, signature)

    @property
    def key_id(self) -> bytes:
        """Key id of the round public key (the envelopes' recipient key id)."""
        return key_id_of(self.public)

    def _body(self) -> bytes:
        return self._BODY.pack(FORMAT_VERSION, self.round_id, self.public, self.server_key_id)

    def verify(self, server_public: IdentityPublicKey) -> None:
        """Return only if ``server_public`` signed this round key.

        Raises:
            InvalidSignature: another signer, or a bad signature.
        """
        message = labels.ROUND_KEY_SIGNATURE + self._body()
        _verify_server(self.server_key_id, server_public, self.signature, message)

    def encode(self) -> bytes:
        """The 121-byte layout in the module docstring."""
        return self._body() + self.signature

    @classmethod
    def decode(cls, blob: bytes) -> SignedRoundKey:
        """Parse (not verify) an encoded round key.

        Raises:
            KeyMisuseError: wrong length, unknown version, or invalid fields.
        """
        if not isinstance(blob, bytes) or len(blob) != cls.ENCODED_SIZE:
            raise KeyMisuseError(f"a signed round key is {cls.ENCODED_SIZE} bytes")
        version, round_id, public, server_key_id = cls._BODY.unpack_from(blob)
        if version != FORMAT_VERSION:
            raise KeyMisuseError(f"unsupported signed round key version {version}")
        return cls(round_id, public, server_key_id, blob[cls._BODY.size :])


@dataclass(frozen=True)
class Roster:
    """The server-signed list of enrolled client identity keys for one epoch."""

    epoch: int
    clients: tuple[IdentityPublicKey, ...]
    server_key_id: bytes
    signature: bytes
    _by_id: dict[bytes, IdentityPublicKey] = field(init=False, repr=False, compare=False)

    _HEAD: ClassVar[struct.Struct] = struct.Struct(">BQI")

    def __post_init__(self) -> None:
        _check_uint("epoch", self.epoch, _U64_MAX)
        _check_bytes("server_key_id", self.server_key_id, KEY_ID_SIZE)
        _check_bytes("signature", self.signature, SIGNATURE_SIZE)
        if not isinstance(self.clients, tuple) or not all(
            isinstance(c, IdentityPublicKey) for c in self.clients
        ):
            raise KeyMisuseError("clients must be a tuple of IdentityPublicKey")
        if len(self.clients) > _U32_MAX:
            raise KeyMisuseError("too many clients for one roster")
        ids = [c.key_id for c in self.clients]
        # One canonical order makes the encoding (and so the signature) unique.
        if any(a >= b for a, b in itertools.pairwise(ids)):
            raise KeyMisuseError("roster clients must be sorted by key id without duplicates")
        object.__setattr__(self, "_by_id", dict(zip(ids, self.clients, strict=True)))

    @classmethod
    def create(
        cls, server: IdentityKey, clients: Sequence[IdentityPublicKey], epoch: int
    ) -> Roster:
        """Sort ``clients`` by key id and sign them with the server's identity.

        Raises:
            KeyMisuseError: a client appears twice, or a wrong argument type.
        """
        if not isinstance(server, IdentityKey):
            raise KeyMisuseError("server must be an IdentityKey")
        ordered = tuple(sorted(clients, key=lambda c: c.key_id))
        if len({c.key_id for c in ordered}) != len(ordered):
            raise KeyMisuseError("a client appears twice in the roster")
        body = cls._encode_body(epoch, ordered, server.key_id)
        return cls(epoch, ordered, server.key_id, server.sign(labels.ROSTER_SIGNATURE + body))

    @classmethod
    def _encode_body(
        cls, epoch: int, clients: tuple[IdentityPublicKey, ...], server_key_id: bytes
    ) -> bytes:
        _check_uint("epoch", epoch, _U64_MAX)
        head = cls._HEAD.pack(FORMAT_VERSION, epoch, len(clients))
        return head + b"".join(c.to_bytes() for c in clients) + server_key_id

    def verify(self, server_public: IdentityPublicKey) -> None:
        """Return only if ``server_public`` signed this roster.

        Raises:
            InvalidSignature: another signer, or a bad signature.
        """
        body = self._encode_body(self.epoch, self.clients, self.server_key_id)
        _verify_server(
            self.server_key_id, server_public, self.signature, labels.ROSTER_SIGNATURE + body
        )

    def lookup(self, key_id: bytes) -> IdentityPublicKey:
        """The enrolled identity key with this key id.

        Raises:
            NotEnrolledError: no enrolled client has this key id.
        """
        if not isinstance(key_id, bytes):
            raise KeyMisuseError("key_id must be bytes")
        found = self._by_id.get(key_id)
        if found is None:
            raise NotEnrolledError(
                f"key id {key_id.hex()} is not on roster epoch {self.epoch}; enroll the client"
            )
        return found

    def __len__(self) -> int:
        return len(self.clients)

    def encode(self) -> bytes:
        """The layout in the module docstring."""
        body = self._encode_body(self.epoch, self.clients, self.server_key_id)
        return body + self.signature

    @classmethod
    def decode(cls, blob: bytes) -> Roster:
        """Parse (not verify) an encoded roster.

        Raises:
            KeyMisuseError: wrong length, unknown version, or invalid fields.
        """
        fixed = cls._HEAD.size + KEY_ID_SIZE + SIGNATURE_SIZE
        if not isinstance(blob, bytes) or len(blob) < fixed:
            raise KeyMisuseError("roster is truncated")
        version, epoch, count = cls._HEAD.unpack_from(blob)
        if version != FORMAT_VERSION:
            raise KeyMisuseError(f"unsupported roster version {version}")
        if len(blob) != fixed + count * PUBLIC_KEY_SIZE:
            raise KeyMisuseError("roster length does not match its client count")
        start = cls._HEAD.size
        clients = tuple(
            IdentityPublicKey.from_bytes(blob[start + i * 32 : start + (i + 1) * 32])
            for i in range(count)
        )
        tail = start + count * PUBLIC_KEY_SIZE
        return cls(epoch, clients, blob[tail : tail + KEY_ID_SIZE], blob[tail + KEY_ID_SIZE :])
