"""Thin, typed wrappers over the primitives of ``cryptography``: our boundary.

Every primitive fical-secure uses goes through this module, which (a) pins the
parameters we allow (96-bit AEAD nonces, 128-bit tags, full-length HMAC tags)
and (b) translates ``cryptography``'s exceptions into our typed errors:

* caller misuse (wrong key/nonce size, impossible output length) ->
  :class:`KeyMisuseError`;
* AEAD authentication failure -> :class:`InvalidCiphertext`;
* Ed25519 or HMAC verification failure -> :class:`InvalidSignature`;
* X25519 with a low-order peer key (all-zero secret) -> :class:`InvalidPeerKey`.

The Wycheproof vectors in ``tests/vectors/wycheproof`` run against these
functions, so they test our boundary, not only the library beneath it.
"""

from __future__ import annotations

import enum
import hmac as _stdlib_hmac
from typing import Final

from cryptography.exceptions import InvalidSignature as _LibInvalidSignature
from cryptography.exceptions import InvalidTag as _LibInvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as _hmac
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from fical_secure.crypto.edwards import check_ed25519_public
from fical_secure.errors import (
    InvalidCiphertext,
    InvalidPeerKey,
    InvalidSignature,
    KeyMisuseError,
)

Buffer = bytes | bytearray | memoryview
_RAW: Final = Encoding.Raw
_RAW_PUBLIC: Final = PublicFormat.Raw

NONCE_SIZE: Final = 12
TAG_SIZE: Final = 16
X25519_SIZE: Final = 32
ED25519_PUBLIC_SIZE: Final = 32
ED25519_SIGNATURE_SIZE: Final = 64
HMAC_SHA256_SIZE: Final = 32
HKDF_SHA256_MAX_LENGTH: Final = 255 * 32

# X25519 u-coordinates of the points of order 1, 2, 4 and 8 (RFC 7748 sec. 6.1
# / libsodium's blocklist): the clamped scalar is a multiple of 8, so these and
# only these give the all-zero shared secret.
_P: Final = 2**255 - 19
_LOW_ORDER_U: Final = frozenset(
    {
        0,
        1,
        _P - 1,
        0x00B8495F16056286FDB1329CEB8D09DA6AC49FF1FAE35616AEB8413B7C7AEBE0,
        0x57119FD0DD4E22D8868E1C58C45C44045BEF839C55B1D0B1248C50A3BC959C5F,
    }
)


class Aead(enum.Enum):
    """AEAD algorithms allowed at our boundary."""

    CHACHA20_POLY1305 = "chacha20-poly1305"
    AES_GCM = "aes-gcm"


_AEAD_KEY_SIZES: Final = {
    Aead.CHACHA20_POLY1305: frozenset({32}),
    Aead.AES_GCM: frozenset({16, 24, 32}),
}


def _aead(algorithm: Aead, key: Buffer, nonce: Buffer) -> ChaCha20Poly1305 | AESGCM:
    """Build the cipher after checking sizes (misuse, not attacker input)."""
    if len(key) not in _AEAD_KEY_SIZES[algorithm]:
        raise KeyMisuseError(
            f"{algorithm.value} key must be {sorted(_AEAD_KEY_SIZES[algorithm])} bytes, "
            f"got {len(key)}"
        )
    # Only 96-bit nonces: other AES-GCM IV lengths go through GHASH and weaken
    # the nonce-collision bound (NIST SP 800-38D sec. 8.2); ChaCha20-Poly1305
    # (RFC 8439) defines 96-bit nonces only.
    if len(nonce) != NONCE_SIZE:
        raise KeyMisuseError(f"AEAD nonce must be {NONCE_SIZE} bytes, got {len(nonce)}")
    if algorithm is Aead.CHACHA20_POLY1305:
        return ChaCha20Poly1305(bytes(key))
    return AESGCM(bytes(key))


def aead_encrypt(
    algorithm: Aead, key: Buffer, nonce: Buffer, plaintext: Buffer, aad: Buffer
) -> bytes:
    """Encrypt and authenticate; returns ``ciphertext || 16-byte tag``.

    Raises:
        KeyMisuseError: wrong key or nonce size, or a plaintext too long.
    """
    cipher = _aead(algorithm, key, nonce)
    try:
        return cipher.encrypt(nonce, plaintext, aad)
    except OverflowError as exc:  # > 2**31 bytes or beyond the algorithm's limit
        raise KeyMisuseError(f"{algorithm.value}: input too long") from exc


def aead_decrypt(
    algorithm: Aead, key: Buffer, nonce: Buffer, ciphertext: Buffer, aad: Buffer
) -> bytes:
    """Check the tag, then decrypt ``ciphertext || tag``; no plaintext on failure.

    Raises:
        KeyMisuseError: wrong key or nonce size.
        InvalidCiphertext: the tag does not verify (any tampering, wrong key,
            nonce or associated data, or a ciphertext shorter than the tag).
    """
    cipher = _aead(algorithm, key, nonce)
    if len(ciphertext) < TAG_SIZE:
        raise InvalidCiphertext("ciphertext shorter than the authentication tag")
    try:
        return cipher.decrypt(nonce, ciphertext, aad)
    except (_LibInvalidTag, OverflowError):
        raise InvalidCiphertext("AEAD authentication failed") from None


def is_low_order_x25519(public: Buffer) -> bool:
    """True if ``public`` (32 bytes) encodes a point of order dividing 8.

    Decodes as RFC 7748 does (little-endian, top bit masked, reduced mod p),
    so non-canonical encodings of the same points are caught too.
    """
    if len(public) != X25519_SIZE:
        raise KeyMisuseError(f"X25519 public key must be {X25519_SIZE} bytes, got {len(public)}")
    u = int.from_bytes(public, "little") & ((1 << 255) - 1)
    return u % _P in _LOW_ORDER_U


def x25519_exchange(private: X25519PrivateKey, peer_public: Buffer) -> bytes:
    """X25519 agreement that refuses low-order peers and the all-zero secret.

    Raises:
        KeyMisuseError: ``peer_public`` is not 32 bytes.
        InvalidPeerKey: the peer key is low-order or the secret is all zero.
    """
    if is_low_order_x25519(peer_public):
        raise InvalidPeerKey("X25519 peer public key is low-order")
    try:
        shared = private.exchange(X25519PublicKey.from_public_bytes(bytes(peer_public)))
    except ValueError:  # OpenSSL's own all-zero check
        raise InvalidPeerKey("X25519 agreement gave the all-zero secret") from None
    # Defence in depth: never hand out an all-zero secret, whatever the backend.
    if _stdlib_hmac.compare_digest(shared, bytes(X25519_SIZE)):
        raise InvalidPeerKey("X25519 agreement gave the all-zero secret")
    return shared


def x25519(private: Buffer, peer_public: Buffer) -> bytes:
    """X25519 from raw 32-byte private and public keys (see :func:`x25519_exchange`).

    Raises:
        KeyMisuseError: a key is not 32 bytes.
        InvalidPeerKey: the peer key is low-order or the secret is all zero.
    """
    if len(private) != X25519_SIZE:
        raise KeyMisuseError(f"X25519 private key must be {X25519_SIZE} bytes")
    return x25519_exchange(X25519PrivateKey.from_private_bytes(bytes(private)), peer_public)


def x25519_public_from_private(private: Buffer) -> bytes:
    """The raw X25519 public key of a raw 32-byte private key.

    Raises:
        KeyMisuseError: the private key is not 32 bytes.
    """
    if len(private) != X25519_SIZE:
        raise KeyMisuseError(f"X25519 private key must be {X25519_SIZE} bytes")
    key = X25519PrivateKey.from_private_bytes(bytes(private))
    return key.public_key().public_bytes(_RAW, _RAW_PUBLIC)


AES256_KEY_SIZE: Final = 32


def aes256_ctr_keystream_into(key: Buffer, zeros: memoryview, out: memoryview) -> None:
    """Write the AES-256-CTR keystream (IV 0) of ``len(zeros)`` bytes into ``out``.

    ``zeros`` is a caller-owned buffer of zero bytes (reused across calls, so a
    mask costs no allocation); ``out`` must be at least 15 bytes longer. Each
    key must be used for one stream only: callers derive a fresh key per use
    with HKDF, which is why the IV can be fixed.

    Raises:
        KeyMisuseError: wrong key size or an ``out`` buffer too short.
    """
    if len(key) != AES256_KEY_SIZE:
        raise KeyMisuseError(f"AES-256 key must be {AES256_KEY_SIZE} bytes")
    if len(out) < len(zeros) + 15:
        raise KeyMisuseError("keystream output buffer must be len(zeros) + 15 bytes")
    encryptor = Cipher(algorithms.AES(bytes(key)), modes.CTR(bytes(16))).encryptor()
    encryptor.update_into(zeros, out)


def ed25519_public_key(public: Buffer) -> Ed25519PublicKey:
    """Load a raw 32-byte Ed25519 public key, refusing weak and non-canonical ones.

    Raises:
        KeyMisuseError: wrong size or not a valid point encoding.
        InvalidPublicKey: a non-canonical encoding or a point of small order
            (under which forged signatures verify).
    """
    if len(public) != ED25519_PUBLIC_SIZE:
        raise KeyMisuseError(f"Ed25519 public key must be {ED25519_PUBLIC_SIZE} bytes")
    check_ed25519_public(bytes(public))
    try:
        return Ed25519PublicKey.from_public_bytes(bytes(public))
    except ValueError:
        raise KeyMisuseError("not a valid Ed25519 public key") from None


def ed25519_verify_key(key: Ed25519PublicKey, signature: Buffer, message: Buffer) -> None:
    """Verify an Ed25519 signature; returns only if it is valid.

    Raises:
        InvalidSignature: the signature (of any length) does not verify.
    """
    if len(signature) != ED25519_SIGNATURE_SIZE:
        raise InvalidSignature("Ed25519 signature must be 64 bytes")
    try:
        key.verify(bytes(signature), message)
    except _LibInvalidSignature:
        raise InvalidSignature("Ed25519 signature does not verify") from None


def ed25519_verify(public: Buffer, signature: Buffer, message: Buffer) -> None:
    """Verify with a raw 32-byte public key (see :func:`ed25519_verify_key`).

    Raises:
        KeyMisuseError: the public key is malformed.
        InvalidSignature: the signature does not verify.
    """
    ed25519_verify_key(ed25519_public_key(public), signature, message)


def hkdf_sha256(ikm: Buffer, *, salt: Buffer, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 (RFC 5869); an empty salt means HashLen zero bytes.

    Raises:
        KeyMisuseError: ``length`` outside 1..8160.
    """
    if not 1 <= length <= HKDF_SHA256_MAX_LENGTH:
        raise KeyMisuseError(f"HKDF-SHA256 length must be 1..{HKDF_SHA256_MAX_LENGTH}")
    kdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=bytes(salt), info=info)
    return kdf.derive(bytes(ikm))


def sha256(*parts: Buffer) -> bytes:
    """SHA-256 of the concatenation of ``parts`` (hashed in place, no copy)."""
    digest = hashes.Hash(hashes.SHA256())
    for part in parts:
        digest.update(part)
    return digest.finalize()


def hmac_sha256(key: Buffer, message: Buffer) -> bytes:
    """The full 32-byte HMAC-SHA256 tag of ``message``."""
    mac = _hmac.HMAC(bytes(key), hashes.SHA256())
    mac.update(message)
    return mac.finalize()


def hmac_sha256_verify(key: Buffer, message: Buffer, tag: Buffer) -> None:
    """Constant-time check of a full 32-byte tag; truncated tags are refused.

    Raises:
        InvalidSignature: the tag is wrong or not 32 bytes long.
    """
    if len(tag) != HMAC_SHA256_SIZE:
        raise InvalidSignature("HMAC-SHA256 tag must be 32 bytes")
    mac = _hmac.HMAC(bytes(key), hashes.SHA256())
    mac.update(message)
    try:
        mac.verify(bytes(tag))
    except _LibInvalidSignature:
        raise InvalidSignature("HMAC-SHA256 tag does not verify") from None
