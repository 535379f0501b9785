"""Every domain-separation label of fical-secure, in one constants module.

Two kinds of label live here, each used by exactly one call site:

* HKDF ``info`` labels: a key derived for one purpose can never be the key of
  another purpose, even from the same input keying material.
* Signature contexts: prefixed to every message an Ed25519 key signs, so a
  signature made for one kind of object (an envelope, a round key, a roster,
  a key binding) can never be replayed as a signature on another kind.

Labels are versioned (``/v1/``): a format change gets new labels, so old and
new derivations and signatures never collide. Never reuse a label for a second
purpose; add a new constant instead.
"""

from __future__ import annotations

from typing import Final

# --- HKDF info labels --------------------------------------------------------
ENVELOPE_KEY: Final = b"fical-secure/v1/envelope-key"
"""ChaCha20-Poly1305 key of one envelope, from the ephemeral-static X25519 secret."""

# --- Ed25519 signature contexts ----------------------------------------------
ENVELOPE_SIGNATURE: Final = b"fical-secure/v1/sig/envelope\x00"
"""Sender's signature over SHA-256(envelope header || ciphertext)."""

ROUND_KEY_SIGNATURE: Final = b"fical-secure/v1/sig/round-key\x00"
"""Server's signature binding an X25519 round key to a round id."""

ROSTER_SIGNATURE: Final = b"fical-secure/v1/sig/roster\x00"
"""Server's signature over the roster of enrolled client identity keys."""

STATIC_KEY_BINDING: Final = b"fical-secure/v1/sig/static-encryption-key\x00"
"""Identity key's signature over its own static X25519 encryption public key."""

ALL_LABELS: Final[tuple[bytes, ...]] = (
    ENVELOPE_KEY,
    ENVELOPE_SIGNATURE,
    ROUND_KEY_SIGNATURE,
    ROSTER_SIGNATURE,
    STATIC_KEY_BINDING,
)
"""Every label above; a test checks they are distinct and none prefixes another."""
