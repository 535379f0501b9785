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

SECAGG_PAIRWISE_SEED: Final = b"fical-secure/v1/secagg/pairwise-seed"
"""32-byte pairwise mask seed of two clients, from their X25519 mask-key agreement."""

SECAGG_PAIRWISE_PRG: Final = b"fical-secure/v1/secagg/prg/pairwise"
"""AES-256-CTR key expanding a pairwise seed into one mask vector."""

SECAGG_SELF_PRG: Final = b"fical-secure/v1/secagg/prg/self"
"""AES-256-CTR key expanding a client's self-mask seed into one mask vector."""

# --- hash commitments ----------------------------------------------------------
SHAMIR_SHARE_COMMITMENT: Final = b"fical-secure/v1/commit/shamir-share\x00"
"""SHA-256 commitment to one Shamir share, bound to dealer, holder, round, secret."""

SHAMIR_SECRET_COMMITMENT: Final = b"fical-secure/v1/commit/shamir-secret\x00"
"""SHA-256 commitment to a shared secret, checked after reconstruction."""

# --- Ed25519 signature contexts ----------------------------------------------
ENVELOPE_SIGNATURE: Final = b"fical-secure/v1/sig/envelope\x00"
"""Sender's signature over SHA-256(envelope header || ciphertext)."""

ROUND_KEY_SIGNATURE: Final = b"fical-secure/v1/sig/round-key\x00"
"""Server's signature binding an X25519 round key to a round id."""

ROSTER_SIGNATURE: Final = b"fical-secure/v1/sig/roster\x00"
"""Server's signature over the roster of enrolled client identity keys."""

STATIC_KEY_BINDING: Final = b"fical-secure/v1/sig/static-encryption-key\x00"
"""Identity key's signature over its own static X25519 encryption public key."""

SECAGG_CONFIG_SIGNATURE: Final = b"fical-secure/v1/sig/secagg/config\x00"
"""Server's signature over a secure-aggregation round configuration."""

SECAGG_ADVERTISE_SIGNATURE: Final = b"fical-secure/v1/sig/secagg/advertise-keys\x00"
"""Client's signature binding its per-round X25519 keys to the round."""

SECAGG_SHARE_KEYS_SIGNATURE: Final = b"fical-secure/v1/sig/secagg/share-keys\x00"
"""Client's signature over its sealed shares and their commitments."""

SECAGG_MASKED_INPUT_SIGNATURE: Final = b"fical-secure/v1/sig/secagg/masked-input\x00"
"""Client's signature over its masked input vector."""

SECAGG_SURVIVORS_SIGNATURE: Final = b"fical-secure/v1/sig/secagg/survivors\x00"
"""Server's signature over the survivor and dropout lists."""

SECAGG_CONSISTENCY_SIGNATURE: Final = b"fical-secure/v1/sig/secagg/consistency\x00"
"""Client's signature over the survivor list it was shown (consistency check)."""

SECAGG_UNMASK_SIGNATURE: Final = b"fical-secure/v1/sig/secagg/unmask\x00"
"""Client's signature over the shares it reveals for unmasking."""

SECAGG_READY_SIGNATURE: Final = b"fical-secure/v1/sig/secagg/ready\x00"
"""Client's signature saying it is ready (or blocked) for one round config, nothing more."""

ALL_LABELS: Final[tuple[bytes, ...]] = (
    ENVELOPE_KEY,
    SECAGG_PAIRWISE_SEED,
    SECAGG_PAIRWISE_PRG,
    SECAGG_SELF_PRG,
    SHAMIR_SHARE_COMMITMENT,
    SHAMIR_SECRET_COMMITMENT,
    SECAGG_CONFIG_SIGNATURE,
    SECAGG_ADVERTISE_SIGNATURE,
    SECAGG_SHARE_KEYS_SIGNATURE,
    SECAGG_MASKED_INPUT_SIGNATURE,
    SECAGG_SURVIVORS_SIGNATURE,
    SECAGG_CONSISTENCY_SIGNATURE,
    SECAGG_UNMASK_SIGNATURE,
    SECAGG_READY_SIGNATURE,
    ENVELOPE_SIGNATURE,
    ROUND_KEY_SIGNATURE,
    ROSTER_SIGNATURE,
    STATIC_KEY_BINDING,
)
"""Every label above; a test checks they are distinct and none prefixes another."""
