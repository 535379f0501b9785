"""Sealed envelopes: ephemeral X25519 + HKDF-SHA256 + ChaCha20-Poly1305, Ed25519-signed.

A sender seals a payload to a recipient's X25519 key (the server's round key,
or a party's static encryption key) under a typed :class:`EnvelopeContext`.
Only the recipient can open it; the sender's signature is checked before
anything is decrypted; an envelope replayed into another round, stage,
configuration or to another recipient fails to open.

Byte layout, version 1 (integers big-endian; ``n`` = payload length)::

    offset  size  field
    0       1     version (= 1)
    1       8     round id (u64)
    9       16    sender key id      (SHA-256 of sender Ed25519 public)[:16]
    25      16    recipient key id   (SHA-256 of recipient X25519 public)[:16]
    41      1     stage (u8, protocol stage code)
    42      32    config hash        (SHA-256 of the round configuration)
    74      32    ephemeral X25519 public key
    106     12    nonce (random)
    ---     ---   bytes 0..118 are the header
    118     n+16  ChaCha20-Poly1305 ciphertext || tag, associated data = header
    134+n   64    Ed25519 signature by the sender over
                  labels.ENVELOPE_SIGNATURE || SHA-256(header || ciphertext || tag)

Overhead: 118 + 16 + 64 = 198 bytes (:data:`ENVELOPE_OVERHEAD`).

The AEAD key is HKDF-SHA256(ikm = X25519(ephemeral, recipient), salt =
ephemeral public || recipient public, info = labels.ENVELOPE_KEY). The
signature covers a SHA-256 digest rather than the ciphertext itself (hash then
sign, as Ed25519ph does): pure Ed25519 would hash a 1 MiB body three times.
Every failure to open raises the same :class:`InvalidEnvelope`, with no cause
attached; caller misuse raises :class:`KeyMisuseError`. The full rationale is
in ``threat_models/envelope-format.md``.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Final

from fical_secure.crypto import labels, primitives
from fical_secure.crypto.identity import (
    KEY_ID_SIZE,
    PUBLIC_KEY_SIZE,
    IdentityKey,
    IdentityPublicKey,
    RoundKey,
    key_id_of,
)
from fical_secure.crypto.primitives import Aead, Buffer
from fical_secure.errors import CryptoError, InvalidEnvelope, KeyMisuseError

VERSION: Final = 1
CONFIG_HASH_SIZE: Final = 32
NONCE_SIZE: Final = primitives.NONCE_SIZE
TAG_SIZE: Final = primitives.TAG_SIZE
SIGNATURE_SIZE: Final = primitives.ED25519_SIGNATURE_SIZE
_HEADER: Final = struct.Struct(
    f">BQ{KEY_ID_SIZE}s{KEY_ID_SIZE}sB{CONFIG_HASH_SIZE}s{PUBLIC_KEY_SIZE}s{NONCE_SIZE}s"
)
HEADER_SIZE: Final = _HEADER.size
ENVELOPE_OVERHEAD: Final = HEADER_SIZE + TAG_SIZE + SIGNATURE_SIZE
MAX_PAYLOAD_SIZE: Final = 1 << 30
"""Largest payload sealed or opened (1 GiB): bounds memory spent on hostile input."""

_U64_MAX: Final = 2**64 - 1
_OPAQUE: Final = (
    "envelope could not be opened: corrupt, forged, or sealed for another key, round, stage"
    " or configuration"
)


@dataclass(frozen=True)
class EnvelopeContext:
    """What an envelope is bound to: round, protocol stage, round-config hash."""

    round_id: int
    stage: int
    config_hash: bytes

    def __post_init__(self) -> None:
        if not _is_uint(self.round_id, _U64_MAX):
            raise KeyMisuseError(f"round_id must be an integer in 0..{_U64_MAX}")
        if not _is_uint(self.stage, 255):
            raise KeyMisuseError("stage must be an integer in 0..255")
        if not isinstance(self.config_hash, bytes) or len(self.config_hash) != CONFIG_HASH_SIZE:
            raise KeyMisuseError(f"config_hash must be {CONFIG_HASH_SIZE} bytes")


@dataclass(frozen=True)
class EnvelopeHeader:
    """The parsed header fields (authenticated only once the envelope is opened)."""

    version: int
    round_id: int
    stage: int
    sender_key_id: bytes
    recipient_key_id: bytes
    config_hash: bytes
    ephemeral_public: bytes
    nonce: bytes

    @property
    def context(self) -> EnvelopeContext:
        """The context this header claims."""
        return EnvelopeContext(self.round_id, self.stage, self.config_hash)

    def encode(self) -> bytes:
        """The 118-byte header layout in the module docstring."""
        return _HEADER.pack(
            self.version,
            self.round_id,
            self.sender_key_id,
            self.recipient_key_id,
            self.stage,
            self.config_hash,
            self.ephemeral_public,
            self.nonce,
        )


def _is_uint(value: object, maximum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= maximum


def _as_buffer(blob: object, name: str) -> memoryview:
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise KeyMisuseError(f"{name} must be bytes-like")
    return memoryview(blob).cast("B")


def _parse(view: memoryview) -> EnvelopeHeader:
    """Syntactic parse; raises InvalidEnvelope on wrong length or version."""
    if not ENVELOPE_OVERHEAD <= len(view) <= ENVELOPE_OVERHEAD + MAX_PAYLOAD_SIZE:
        raise InvalidEnvelope(_OPAQUE)
    version, round_id, sender, recipient, stage, config, ephemeral, nonce = _HEADER.unpack_from(
        view
    )
    header = EnvelopeHeader(
        version=version,
        round_id=round_id,
        stage=stage,
        sender_key_id=sender,
        recipient_key_id=recipient,
        config_hash=config,
        ephemeral_public=ephemeral,
        nonce=nonce,
    )
    if header.version != VERSION:
        raise InvalidEnvelope(_OPAQUE)
    return header


def _signed_digest(header: Buffer, ciphertext: Buffer) -> bytes:
    return labels.ENVELOPE_SIGNATURE + primitives.sha256(header, ciphertext)


def _derive_key(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> bytes:
    """The envelope's AEAD key (see the module docstring)."""
    return primitives.hkdf_sha256(
        shared, salt=ephemeral_public + recipient_public, info=labels.ENVELOPE_KEY, length=32
    )


def _sign_and_assemble(sender: IdentityKey, header: bytes, ciphertext: bytes) -> bytes:
    signature = sender.sign(_signed_digest(header, ciphertext))
    return b"".join((header, ciphertext, signature))


def seal(
    payload: bytes,
    *,
    sender: IdentityKey,
    recipient_public: bytes,
    recipient_key_id: bytes,
    context: EnvelopeContext,
) -> bytes:
    """Encrypt ``payload`` to ``recipient_public`` and sign it as ``sender``.

    Raises:
        KeyMisuseError: wrong argument types or sizes, a low-order recipient key,
            a ``recipient_key_id`` that is not the key id of ``recipient_public``,
            or a payload over :data:`MAX_PAYLOAD_SIZE`.
    """
    payload_view = _as_buffer(payload, "payload")
    if len(payload_view) > MAX_PAYLOAD_SIZE:
        raise KeyMisuseError(f"payload is over {MAX_PAYLOAD_SIZE} bytes")
    if not isinstance(sender, IdentityKey):
        raise KeyMisuseError("sender must be an IdentityKey")
    if not isinstance(context, EnvelopeContext):
        raise KeyMisuseError("context must be an EnvelopeContext")
    if not isinstance(recipient_public, bytes) or primitives.is_low_order_x25519(recipient_public):
        raise KeyMisuseError("recipient_public must be a 32-byte X25519 key of large order")
    if recipient_key_id != key_id_of(recipient_public):
        raise KeyMisuseError("recipient_key_id is not the key id of recipient_public")
    return _seal_with(
        payload_view,
        sender=sender,
        recipient_public=recipient_public,
        context=context,
        ephemeral=RoundKey.generate(),
        nonce=os.urandom(NONCE_SIZE),
    )


def _seal_with(
    payload: Buffer,
    *,
    sender: IdentityKey,
    recipient_public: bytes,
    context: EnvelopeContext,
    ephemeral: RoundKey,
    nonce: bytes,
) -> bytes:
    """Seal with injected randomness. Test hook only: reusing a nonce is fatal."""
    header = EnvelopeHeader(
        version=VERSION,
        round_id=context.round_id,
        stage=context.stage,
        sender_key_id=sender.key_id,
        recipient_key_id=key_id_of(recipient_public),
        config_hash=context.config_hash,
        ephemeral_public=ephemeral.public_bytes(),
        nonce=nonce,
    ).encode()
    shared = ephemeral.exchange(recipient_public)
    key = _derive_key(shared, ephemeral.public_bytes(), recipient_public)
    ciphertext = primitives.aead_encrypt(Aead.CHACHA20_POLY1305, key, nonce, payload, header)
    return _sign_and_assemble(sender, header, ciphertext)


def read_header(blob: bytes) -> EnvelopeHeader:
    """Parse the header without authenticating it (for routing only).

    Raises:
        InvalidEnvelope: too short, too long, or an unknown version.
    """
    return _parse(_as_buffer(blob, "blob"))


def _verify(view: memoryview, sender_public: IdentityPublicKey) -> EnvelopeHeader:
    """Parse and check the sender's signature; raises a CryptoError on failure."""
    header = _parse(view)
    if header.sender_key_id != sender_public.key_id:
        raise InvalidEnvelope(_OPAQUE)
    body_end = len(view) - SIGNATURE_SIZE
    digest = _signed_digest(view[:HEADER_SIZE], view[HEADER_SIZE:body_end])
    sender_public.verify(view[body_end:].tobytes(), digest)
    return header


def verify_envelope(blob: bytes, sender_public: IdentityPublicKey) -> EnvelopeHeader:
    """Check only the sender's signature and return the (now signed) header.

    Raises:
        KeyMisuseError: ``sender_public`` is not an IdentityPublicKey.
        InvalidEnvelope: malformed, from another sender, or a bad signature.
    """
    view = _as_buffer(blob, "blob")
    if not isinstance(sender_public, IdentityPublicKey):
        raise KeyMisuseError("sender_public must be an IdentityPublicKey")
    try:
        return _verify(view, sender_public)
    except (CryptoError, ValueError):
        pass
    # Raised outside the handler so no __context__ tells one failure from another.
    raise InvalidEnvelope(_OPAQUE)


def open_envelope(
    blob: bytes,
    *,
    recipient: RoundKey,
    sender_public: IdentityPublicKey,
    context: EnvelopeContext,
) -> bytes:
    """Verify, check the context, then decrypt; the payload or one opaque error.

    Order: signature by ``sender_public``; header equals ``context`` and names
    ``recipient``; X25519 refuses a low-order ephemeral key; AEAD tag.

    Raises:
        KeyMisuseError: an argument of the wrong type.
        InvalidEnvelope: any failure at all, never with partial plaintext.
    """
    view = _as_buffer(blob, "blob")
    if not isinstance(recipient, RoundKey):
        raise KeyMisuseError("recipient must be a RoundKey")
    if not isinstance(sender_public, IdentityPublicKey):
        raise KeyMisuseError("sender_public must be an IdentityPublicKey")
    if not isinstance(context, EnvelopeContext):
        raise KeyMisuseError("context must be an EnvelopeContext")
    try:
        return _open_checked(view, recipient, sender_public, context)
    except (CryptoError, ValueError):
        pass
    raise InvalidEnvelope(_OPAQUE)


def _open_checked(
    view: memoryview,
    recipient: RoundKey,
    sender_public: IdentityPublicKey,
    context: EnvelopeContext,
) -> bytes:
    header = _verify(view, sender_public)
    if header.context != context or header.recipient_key_id != recipient.key_id:
        raise InvalidEnvelope(_OPAQUE)
    shared = recipient.exchange(header.ephemeral_public)
    key = _derive_key(shared, header.ephemeral_public, recipient.public_bytes())
    ciphertext = view[HEADER_SIZE : len(view) - SIGNATURE_SIZE]
    return primitives.aead_decrypt(
        Aead.CHACHA20_POLY1305, key, header.nonce, ciphertext, view[:HEADER_SIZE]
    )
