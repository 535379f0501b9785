"""A party's key pair as the operator handles it: ``private.key`` and ``public.key``.

A party (client or server) holds an Ed25519 identity key, which signs, and a
static X25519 encryption key, which others seal to outside a protocol round
(the ``fical-secure seal`` command). ``public.key`` carries everything a peer
needs, with the encryption key bound to the identity by a signature, so a
swapped encryption key is detected on load.

Raw layouts inside the key-file format of :mod:`fical_secure.crypto.keyfile`:

* ``private-key`` (64 bytes): Ed25519 seed (32) || X25519 private key (32).
* ``public-key`` (128 bytes): Ed25519 public (32) || X25519 public (32) ||
  Ed25519 signature (64) over ``labels.STATIC_KEY_BINDING`` || the first 64 bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Final, final

from fical_secure.crypto import keyfile, labels, primitives
from fical_secure.crypto.identity import (
    PRIVATE_KEY_SIZE,
    PUBLIC_KEY_SIZE,
    IdentityKey,
    IdentityPublicKey,
    RoundKey,
    Unpicklable,
    key_id_of,
)
from fical_secure.errors import InvalidSignature, KeyFileError, KeyMisuseError

_SIGNATURE_SIZE: Final = primitives.ED25519_SIGNATURE_SIZE


@dataclass(frozen=True)
class PublicKeyBundle:
    """A peer's public identity plus its identity-signed static encryption key."""

    identity: IdentityPublicKey
    encryption_public: bytes
    binding_signature: bytes

    FILE_KIND: ClassVar[str] = "public-key"
    ENCODED_SIZE: ClassVar[int] = 2 * PUBLIC_KEY_SIZE + _SIGNATURE_SIZE

    def __post_init__(self) -> None:
        if not isinstance(self.identity, IdentityPublicKey):
            raise KeyMisuseError("identity must be an IdentityPublicKey")
        for name, value, size in (
            ("encryption_public", self.encryption_public, PUBLIC_KEY_SIZE),
            ("binding_signature", self.binding_signature, _SIGNATURE_SIZE),
        ):
            if not isinstance(value, bytes) or len(value) != size:
                raise KeyMisuseError(f"{name} must be {size} bytes")

    @classmethod
    def create(cls, identity: IdentityKey, encryption: RoundKey) -> PublicKeyBundle:
        """Bind ``encryption``'s public key to ``identity`` by a signature."""
        body = identity.public.to_bytes() + encryption.public_bytes()
        signature = identity.sign(labels.STATIC_KEY_BINDING + body)
        return cls(identity.public, encryption.public_bytes(), signature)

    @property
    def encryption_key_id(self) -> bytes:
        """Key id of the static encryption key (the envelope recipient key id)."""
        return key_id_of(self.encryption_public)

    def verify(self) -> None:
        """Check the identity signed the encryption key and it is not low-order.

        Raises:
            InvalidSignature: the binding does not verify or the key is low-order.
        """
        body = self.identity.to_bytes() + self.encryption_public
        self.identity.verify(self.binding_signature, labels.STATIC_KEY_BINDING + body)
        if primitives.is_low_order_x25519(self.encryption_public):
            raise InvalidSignature("the bound encryption key is a low-order X25519 point")

    def encode(self) -> bytes:
        """The 128-byte layout in the module docstring."""
        return self.identity.to_bytes() + self.encryption_public + self.binding_signature

    @classmethod
    def decode(cls, raw: bytes) -> PublicKeyBundle:
        """Parse and verify the 128-byte layout.

        Raises:
            KeyMisuseError: wrong size or an invalid identity key.
            InvalidSignature: the binding signature does not verify.
        """
        if len(raw) != cls.ENCODED_SIZE:
            raise KeyMisuseError(f"a public key bundle is {cls.ENCODED_SIZE} bytes")
        bundle = cls(
            IdentityPublicKey.from_bytes(raw[:PUBLIC_KEY_SIZE]),
            raw[PUBLIC_KEY_SIZE : 2 * PUBLIC_KEY_SIZE],
            raw[2 * PUBLIC_KEY_SIZE :],
        )
        bundle.verify()
        return bundle

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PublicKeyBundle:
        """Load and verify a ``public.key`` file.

        Raises:
            KeyFileError: missing, group/world-writable, malformed, or a binding
                signature that does not verify.
        """
        raw = keyfile.load_key_file(
            Path(path), kind=cls.FILE_KIND, size=cls.ENCODED_SIZE, private=False
        )
        try:
            return cls.decode(raw)
        except (KeyMisuseError, InvalidSignature) as exc:
            raise KeyFileError(f"{path}: invalid public key: {exc}") from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a ``public.key`` file (mode 0644) atomically; never overwrites.

        Raises:
            KeyFileError: the file exists or cannot be written.
        """
        keyfile.save_key_file(Path(path), self.FILE_KIND, self.encode(), private=False)


@final
class KeyBundle(Unpicklable):
    """A party's private keys: Ed25519 identity and static X25519 encryption key."""

    __slots__ = ("_encryption", "_identity")
    FILE_KIND: Final = "private-key"

    def __init__(self, identity: IdentityKey, encryption: RoundKey) -> None:
        if not isinstance(identity, IdentityKey) or not isinstance(encryption, RoundKey):
            raise KeyMisuseError("KeyBundle(identity: IdentityKey, encryption: RoundKey)")
        self._identity = identity
        self._encryption = encryption

    @classmethod
    def generate(cls) -> KeyBundle:
        """Fresh identity and encryption keys from the OS CSPRNG."""
        return cls(IdentityKey.generate(), RoundKey.generate())

    @property
    def identity(self) -> IdentityKey:
        """The signing key."""
        return self._identity

    @property
    def encryption(self) -> RoundKey:
        """The static X25519 key that envelopes to this party are sealed to."""
        return self._encryption

    @property
    def public(self) -> PublicKeyBundle:
        """What peers need, with the encryption key signed by the identity."""
        return PublicKeyBundle.create(self._identity, self._encryption)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> KeyBundle:
        """Load a ``private.key`` file.

        Raises:
            KeyFileError: missing, malformed, not ours, or permissions wider than 0600.
        """
        raw = keyfile.load_key_file(
            Path(path), kind=cls.FILE_KIND, size=2 * PRIVATE_KEY_SIZE, private=True
        )
        return cls(
            IdentityKey._from_private_bytes(raw[:PRIVATE_KEY_SIZE]),
            RoundKey._from_private_bytes(raw[PRIVATE_KEY_SIZE:]),
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a ``private.key`` file atomically with mode 0600; never overwrites.

        Raises:
            KeyFileError: the file exists or cannot be written.
        """
        # Writing the key file is the one place that legitimately exports both.
        seed = self._identity.export_private_bytes(i_understand_this_exposes_the_key=True)
        static = self._encryption.export_private_bytes(i_understand_this_exposes_the_key=True)
        raw = seed + static
        keyfile.save_key_file(Path(path), self.FILE_KIND, raw, private=True)

    def __repr__(self) -> str:
        return (
            f"KeyBundle(identity={self._identity.key_id.hex()}, "
            f"encryption={self._encryption.key_id.hex()})"
        )
