"""The AEAD's associated data binds every header field, each tested on its own.

A "re-signed boundary mutant" is an envelope whose header a sender (or anyone
holding the sender's key) rewrites and signs again: the signature then holds,
and the header equals the context the opener expects, so only the AEAD's
associated data can refuse it. One test per field: round, stage, config hash,
recipient, version, plus a spy that the associated data is the full header on
both sides (issue 8, mutation "associated data emptied in seal and open").
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from fical_secure.crypto import envelope as env
from fical_secure.crypto import primitives
from fical_secure.crypto.keys import IdentityKey, RoundKey
from fical_secure.errors import InvalidEnvelope

SENDER = IdentityKey.generate()
RECIPIENT = RoundKey.generate()
CONTEXT = env.EnvelopeContext(round_id=7, stage=2, config_hash=bytes(range(32)))


def _sealed() -> bytes:
    return env.seal(
        b"hospital compendium",
        sender=SENDER,
        recipient_public=RECIPIENT.public_bytes(),
        recipient_key_id=RECIPIENT.key_id,
        context=CONTEXT,
    )


def _resigned(blob: bytes, **changes: Any) -> tuple[bytes, env.EnvelopeHeader]:
    """Rewrite header fields and sign again with the sender's own key."""
    header = dataclasses.replace(env.read_header(blob), **changes)
    body = blob[env.HEADER_SIZE : len(blob) - env.SIGNATURE_SIZE]
    return env._sign_and_assemble(SENDER, header.encode(), body), header


def test_unmodified_envelope_opens() -> None:
    assert (
        env.open_envelope(
            _sealed(), recipient=RECIPIENT, sender_public=SENDER.public, context=CONTEXT
        )
        == b"hospital compendium"
    )


@pytest.mark.parametrize(
    "changes",
    [{"round_id": 8}, {"stage": 3}, {"config_hash": bytes(32)}],
    ids=["round", "stage", "config_hash"],
)
def test_resigned_context_field_is_refused_by_the_aead(changes: dict[str, Any]) -> None:
    blob, header = _resigned(_sealed(), **changes)
    env.verify_envelope(blob, SENDER.public)  # the signature holds: only the AEAD can refuse
    with pytest.raises(InvalidEnvelope):
        env.open_envelope(
            blob, recipient=RECIPIENT, sender_public=SENDER.public, context=header.context
        )


def test_resigned_recipient_key_id_is_refused() -> None:
    # the recipient id must name the opener's key; the KDF salt also binds its public key
    other = RoundKey.generate()
    blob, _ = _resigned(_sealed(), recipient_key_id=other.key_id)
    for recipient in (RECIPIENT, other):
        with pytest.raises(InvalidEnvelope):
            env.open_envelope(
                blob, recipient=recipient, sender_public=SENDER.public, context=CONTEXT
            )


def test_resigned_version_is_refused() -> None:
    blob, _ = _resigned(_sealed(), version=2)
    with pytest.raises(InvalidEnvelope):
        env.open_envelope(blob, recipient=RECIPIENT, sender_public=SENDER.public, context=CONTEXT)


def test_associated_data_is_the_whole_header_in_seal_and_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[str, bytes]] = []
    real_encrypt, real_decrypt = primitives.aead_encrypt, primitives.aead_decrypt

    def encrypt(alg: Any, key: Any, nonce: Any, plaintext: Any, aad: Any) -> bytes:
        seen.append(("seal", bytes(aad)))
        return real_encrypt(alg, key, nonce, plaintext, aad)

    def decrypt(alg: Any, key: Any, nonce: Any, ciphertext: Any, aad: Any) -> bytes:
        seen.append(("open", bytes(aad)))
        return real_decrypt(alg, key, nonce, ciphertext, aad)

    monkeypatch.setattr(primitives, "aead_encrypt", encrypt)
    monkeypatch.setattr(primitives, "aead_decrypt", decrypt)
    blob = _sealed()
    env.open_envelope(blob, recipient=RECIPIENT, sender_public=SENDER.public, context=CONTEXT)
    header = blob[: env.HEADER_SIZE]
    assert seen == [("seal", header), ("open", header)]
    assert len(header) == env.HEADER_SIZE == 118
