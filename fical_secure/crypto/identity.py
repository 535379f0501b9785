"""Key holders: Ed25519 identity keys and X25519 round / static encryption keys.

Holders are built by ``generate()``, ``load(path)`` or ``from_bytes(raw)`` (public
keys only). Private holders refuse to be pickled or copied, show only their key
id in ``repr``, and export raw private bytes only through an explicit
capability argument. A key id is the first 16 bytes of SHA-256 of the raw
32-byte public key: short enough for headers, long enough that a collision
needs about 2**64 work.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final, NoReturn, final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from fical_secure.crypto import keyfile, primitives
from fical_secure.crypto.edwards import check_ed25519_public
from fical_secure.errors import KeyMisuseError

KEY_ID_SIZE: Final = 16
PRIVATE_KEY_SIZE: Final = 32
PUBLIC_KEY_SIZE: Final = 32

_RAW = serialization.Encoding.Raw
_RAW_PUBLIC = serialization.PublicFormat.Raw
_RAW_PRIVATE = serialization.PrivateFormat.Raw
_NO_ENCRYPTION = serialization.NoEncryption()
_EXPORT_REFUSED: Final = (
    "exporting a private key needs export_private_bytes(i_understand_this_exposes_the_key=True)"
)


def key_id_of(public: bytes) -> bytes:
    """Key id of a raw 32-byte public key: SHA-256(public)[:16]."""
    if len(public) != PUBLIC_KEY_SIZE:
        raise KeyMisuseError(f"public key must be {PUBLIC_KEY_SIZE} bytes, got {len(public)}")
    return primitives.sha256(public)[:KEY_ID_SIZE]


class Unpicklable:
    """Mixin: refuse pickle and copy, so key material never leaves by accident."""

    __slots__ = ()

    def __reduce__(self) -> NoReturn:
        raise KeyMisuseError(
            f"{type(self).__name__} cannot be pickled or copied; "
            "use its explicit byte encoding or key file instead"
        )

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        self.__reduce__()


@final
class IdentityPublicKey(Unpicklable):
    """An Ed25519 public identity key (a client's or the server's)."""

    __slots__ = ("_key", "_key_id", "_raw")

    def __init__(self, key: Ed25519PublicKey) -> None:
        """Wrap a loaded key; prefer :meth:`from_bytes`."""
        if not isinstance(key, Ed25519PublicKey):
            raise KeyMisuseError("IdentityPublicKey needs an Ed25519 public key")
        self._key = key
        self._raw = key.public_bytes(_RAW, _RAW_PUBLIC)
        check_ed25519_public(self._raw)  # every way in: bytes, files, rosters, bundles
        self._key_id = key_id_of(self._raw)

    @classmethod
    def from_bytes(cls, raw: bytes) -> IdentityPublicKey:
        """Load a raw 32-byte Ed25519 public key.

        Raises:
            KeyMisuseError: wrong size or not a valid Ed25519 point encoding.
        """
        return cls(primitives.ed25519_public_key(raw))

    def to_bytes(self) -> bytes:
        """The raw 32-byte public key."""
        return self._raw

    @property
    def key_id(self) -> bytes:
        """SHA-256 of the raw public key, first 16 bytes."""
        return self._key_id

    def verify(self, signature: bytes, data: bytes) -> None:
        """Return only if ``signature`` is this key's Ed25519 signature on ``data``.

        Raises:
            InvalidSignature: it is not.
        """
        primitives.ed25519_verify_key(self._key, signature, data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdentityPublicKey) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __copy__(self) -> IdentityPublicKey:
        return self  # immutable

    def __deepcopy__(self, memo: object) -> IdentityPublicKey:
        return self

    def __repr__(self) -> str:
        return f"IdentityPublicKey(key_id={self._key_id.hex()})"


@final
class IdentityKey(Unpicklable):
    """An Ed25519 private identity key: signs envelopes, round keys and rosters."""

    __slots__ = ("_key", "_public")
    FILE_KIND: Final = "identity-key"

    def __init__(self, key: Ed25519PrivateKey) -> None:
        """Wrap a loaded key; prefer :meth:`generate` or :meth:`load`."""
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyMisuseError("IdentityKey needs an Ed25519 private key")
        self._key = key
        self._public = IdentityPublicKey(key.public_key())

    @classmethod
    def generate(cls) -> IdentityKey:
        """A fresh key from the operating system's CSPRNG."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def _from_private_bytes(cls, raw: bytes) -> IdentityKey:
        """Rebuild from a 32-byte seed (key files only)."""
        if len(raw) != PRIVATE_KEY_SIZE:
            raise KeyMisuseError(f"Ed25519 seed must be {PRIVATE_KEY_SIZE} bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> IdentityKey:
        """Load an ``identity-key`` file (see :mod:`fical_secure.crypto.keyfile`).

        Raises:
            KeyFileError: missing, malformed, not ours, or permissions wider than 0600.
        """
        raw = keyfile.load_key_file(
            Path(path), kind=cls.FILE_KIND, size=PRIVATE_KEY_SIZE, private=True
        )
        return cls._from_private_bytes(raw)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write an ``identity-key`` file atomically with mode 0600; never overwrites.

        Raises:
            KeyFileError: the file exists or cannot be written.
        """
        keyfile.save_key_file(Path(path), self.FILE_KIND, self._seed(), private=True)

    def _seed(self) -> bytes:
        return self._key.private_bytes(_RAW, _RAW_PRIVATE, _NO_ENCRYPTION)

    @property
    def public(self) -> IdentityPublicKey:
        """The matching public key."""
        return self._public

    @property
    def key_id(self) -> bytes:
        """Key id of the public key (16 bytes)."""
        return self._public.key_id

    def sign(self, data: bytes) -> bytes:
        """Ed25519 signature (64 bytes) on ``data``; callers prefix a label."""
        return self._key.sign(data)

    def export_private_bytes(self, *, i_understand_this_exposes_the_key: bool = False) -> bytes:
        """The raw 32-byte seed. Needs the explicit capability argument.

        Raises:
            KeyMisuseError: the capability was not granted.
        """
        if i_understand_this_exposes_the_key is not True:
            raise KeyMisuseError(_EXPORT_REFUSED)
        return self._seed()

    def __repr__(self) -> str:
        return f"IdentityKey(key_id={self.key_id.hex()})"


@final
class RoundKey(Unpicklable):
    """An X25519 private key: the server's key for one round, or a static encryption key."""

    __slots__ = ("_key", "_key_id", "_public")
    FILE_KIND: Final = "round-key"

    def __init__(self, key: X25519PrivateKey) -> None:
        """Wrap a loaded key; prefer :meth:`generate` or :meth:`load`."""
        if not isinstance(key, X25519PrivateKey):
            raise KeyMisuseError("RoundKey needs an X25519 private key")
        self._key = key
        self._public = key.public_key().public_bytes(_RAW, _RAW_PUBLIC)
        self._key_id = key_id_of(self._public)

    @classmethod
    def generate(cls) -> RoundKey:
        """A fresh key from the operating system's CSPRNG."""
        return cls(X25519PrivateKey.generate())

    @classmethod
    def _from_private_bytes(cls, raw: bytes) -> RoundKey:
        """Rebuild from 32 raw bytes (key files only)."""
        if len(raw) != PRIVATE_KEY_SIZE:
            raise KeyMisuseError(f"X25519 private key must be {PRIVATE_KEY_SIZE} bytes")
        return cls(X25519PrivateKey.from_private_bytes(raw))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RoundKey:
        """Load a ``round-key`` file (e.g. to finish a round after a server restart).

        Raises:
            KeyFileError: missing, malformed, not ours, or permissions wider than 0600.
        """
        raw = keyfile.load_key_file(
            Path(path), kind=cls.FILE_KIND, size=PRIVATE_KEY_SIZE, private=True
        )
        return cls._from_private_bytes(raw)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a ``round-key`` file atomically with mode 0600; never overwrites.

        Raises:
            KeyFileError: the file exists or cannot be written.
        """
        keyfile.save_key_file(Path(path), self.FILE_KIND, self._raw(), private=True)

    def _raw(self) -> bytes:
        return self._key.private_bytes(_RAW, _RAW_PRIVATE, _NO_ENCRYPTION)

    def public_bytes(self) -> bytes:
        """The raw 32-byte X25519 public key."""
        return self._public

    @property
    def key_id(self) -> bytes:
        """SHA-256 of the public key, first 16 bytes."""
        return self._key_id

    def exchange(self, peer_public: bytes) -> bytes:
        """X25519 agreement with a peer's raw public key.

        Raises:
            KeyMisuseError: ``peer_public`` is not 32 bytes.
            InvalidPeerKey: the peer key is low-order (all-zero secret).
        """
        return primitives.x25519_exchange(self._key, peer_public)

    def export_private_bytes(self, *, i_understand_this_exposes_the_key: bool = False) -> bytes:
        """The raw 32-byte private key. Needs the explicit capability argument.

        Raises:
            KeyMisuseError: the capability was not granted.
        """
        if i_understand_this_exposes_the_key is not True:
            raise KeyMisuseError(_EXPORT_REFUSED)
        return self._raw()

    def __repr__(self) -> str:
        return f"RoundKey(key_id={self._key_id.hex()})"
