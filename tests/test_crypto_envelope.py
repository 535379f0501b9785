"""Sealed envelopes: round trips, every binding, opaque failure, misuse, light import."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fical_secure.crypto import envelope as env
from fical_secure.crypto import primitives
from fical_secure.crypto.envelope import (
    ENVELOPE_OVERHEAD,
    EnvelopeContext,
    open_envelope,
    read_header,
    seal,
    verify_envelope,
)
from fical_secure.crypto.keys import IdentityKey, RoundKey, key_id_of
from fical_secure.errors import InvalidEnvelope, KeyMisuseError

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Party:
    sender: IdentityKey
    recipient: RoundKey


PARTY = Party(IdentityKey.generate(), RoundKey.generate())
CONTEXT = EnvelopeContext(round_id=12, stage=3, config_hash=bytes(range(32)))

contexts = st.builds(
    EnvelopeContext,
    round_id=st.integers(0, 2**64 - 1),
    stage=st.integers(0, 255),
    config_hash=st.binary(min_size=32, max_size=32),
)


def _seal(payload: bytes, context: EnvelopeContext = CONTEXT, party: Party = PARTY) -> bytes:
    return seal(
        payload,
        sender=party.sender,
        recipient_public=party.recipient.public_bytes(),
        recipient_key_id=party.recipient.key_id,
        context=context,
    )


def _open(blob: bytes, context: EnvelopeContext = CONTEXT, party: Party = PARTY) -> bytes:
    return open_envelope(
        blob, recipient=party.recipient, sender_public=party.sender.public, context=context
    )


@settings(max_examples=60, deadline=None)
@given(payload=st.binary(max_size=4096), context=contexts)
def test_any_payload_in_any_context_round_trips(payload: bytes, context: EnvelopeContext) -> None:
    blob = _seal(payload, context)
    assert len(blob) == len(payload) + ENVELOPE_OVERHEAD
    assert _open(blob, context) == payload
    header = read_header(blob)
    assert header.context == context and header.sender_key_id == PARTY.sender.key_id
    assert verify_envelope(blob, PARTY.sender.public) == header


def test_overhead_is_fixed_and_within_target() -> None:
    assert ENVELOPE_OVERHEAD == 198 <= 200
    for size in (0, 1, 1000, 1 << 20):
        assert len(_seal(os.urandom(size))) - size == ENVELOPE_OVERHEAD


def test_sealing_twice_uses_fresh_ephemeral_key_and_nonce() -> None:
    first, second = read_header(_seal(b"same")), read_header(_seal(b"same"))
    assert first.ephemeral_public != second.ephemeral_public and first.nonce != second.nonce


def test_injected_randomness_makes_sealing_deterministic() -> None:
    ephemeral, nonce = RoundKey.generate(), bytes(12)
    args = {
        "sender": PARTY.sender,
        "recipient_public": PARTY.recipient.public_bytes(),
        "context": CONTEXT,
        "ephemeral": ephemeral,
        "nonce": nonce,
    }
    blob = env._seal_with(b"payload", **args)  # type: ignore[arg-type]
    assert blob == env._seal_with(b"payload", **args)  # type: ignore[arg-type]
    assert read_header(blob).nonce == nonce and _open(blob) == b"payload"


def test_forged_signature_is_rejected() -> None:
    blob = bytearray(_seal(b"payload"))
    blob[-1] ^= 0x80
    with pytest.raises(InvalidEnvelope):
        _open(bytes(blob))
    with pytest.raises(InvalidEnvelope):
        verify_envelope(bytes(blob), PARTY.sender.public)


def test_envelope_checked_against_another_clients_key_is_rejected() -> None:
    blob = _seal(b"payload")
    other = IdentityKey.generate()
    with pytest.raises(InvalidEnvelope):
        open_envelope(blob, recipient=PARTY.recipient, sender_public=other.public, context=CONTEXT)


def test_another_client_cannot_re_sign_an_envelope_as_its_own() -> None:
    """The sender key id is associated data: swapping it breaks the AEAD tag."""
    blob = _seal(b"payload")
    thief = IdentityKey.generate()
    header = bytearray(blob[: env.HEADER_SIZE])
    header[9:25] = thief.key_id
    stolen = env._sign_and_assemble(thief, bytes(header), blob[env.HEADER_SIZE : -64])
    verify_envelope(stolen, thief.public)  # the signature itself is valid...
    with pytest.raises(InvalidEnvelope):  # ...but the envelope does not open
        open_envelope(
            stolen, recipient=PARTY.recipient, sender_public=thief.public, context=CONTEXT
        )


@pytest.mark.parametrize(
    "context",
    [
        EnvelopeContext(13, 3, CONTEXT.config_hash),
        EnvelopeContext(11, 3, CONTEXT.config_hash),
        EnvelopeContext(12, 4, CONTEXT.config_hash),
        EnvelopeContext(12, 2, CONTEXT.config_hash),
        EnvelopeContext(12, 3, bytes(32)),
        EnvelopeContext(12, 3, CONTEXT.config_hash[:-1] + b"\x00"),
    ],
    ids=["next-round", "previous-round", "next-stage", "previous-stage", "zero-config", "config"],
)
def test_envelope_opened_in_another_context_is_rejected(context: EnvelopeContext) -> None:
    with pytest.raises(InvalidEnvelope):
        _open(_seal(b"payload"), context)


def test_envelope_for_another_recipient_is_rejected() -> None:
    blob = _seal(b"payload")
    with pytest.raises(InvalidEnvelope):
        _open(blob, party=Party(PARTY.sender, RoundKey.generate()))


def test_validly_signed_low_order_ephemeral_key_is_rejected() -> None:
    """A malicious sender's zero-secret envelope is refused by our low-order check,
    even though its AEAD key is exactly what an unchecked X25519 would derive."""
    for low_order in (
        bytes(32),
        (1).to_bytes(32, "little"),
        ((2**255 - 19) - 1).to_bytes(32, "little"),
    ):
        header = env.EnvelopeHeader(
            1,
            CONTEXT.round_id,
            CONTEXT.stage,
            PARTY.sender.key_id,
            PARTY.recipient.key_id,
            CONTEXT.config_hash,
            low_order,
            bytes(12),
        ).encode()
        key = env._derive_key(bytes(32), low_order, PARTY.recipient.public_bytes())
        body = primitives.aead_encrypt(
            primitives.Aead.CHACHA20_POLY1305, key, bytes(12), b"x", header
        )
        blob = env._sign_and_assemble(PARTY.sender, header, body)
        verify_envelope(blob, PARTY.sender.public)
        with pytest.raises(InvalidEnvelope):
            _open(blob)


def test_every_open_failure_is_the_same_opaque_error_without_a_cause() -> None:
    blob = _seal(b"payload")
    failures: list[Callable[[], bytes]] = [
        lambda: _open(blob[:-1]),
        lambda: _open(blob, EnvelopeContext(13, 3, CONTEXT.config_hash)),
        lambda: _open(blob[:150] + bytes([blob[150] ^ 1]) + blob[151:]),
        lambda: _open(b""),
        lambda: _open(b"\x02" + blob[1:]),
    ]
    messages = set()
    for failure in failures:
        with pytest.raises(InvalidEnvelope) as info:
            failure()
        assert type(info.value) is InvalidEnvelope
        assert info.value.__cause__ is None and info.value.__context__ is None
        messages.add(str(info.value))
    assert len(messages) == 1


@settings(max_examples=200, deadline=None)
@given(blob=st.binary(max_size=400))
def test_read_header_of_arbitrary_bytes_parses_or_raises_invalid_envelope(blob: bytes) -> None:
    try:
        header = read_header(blob)
    except InvalidEnvelope:
        return
    assert header.version == 1 and len(blob) >= ENVELOPE_OVERHEAD


def test_misuse_raises_key_misuse_error_not_invalid_envelope() -> None:
    blob = _seal(b"payload")
    good: dict[str, Any] = {
        "sender": PARTY.sender,
        "recipient_public": PARTY.recipient.public_bytes(),
        "recipient_key_id": PARTY.recipient.key_id,
        "context": CONTEXT,
    }
    bad_seals: list[dict[str, Any]] = [
        {"sender": PARTY.recipient},  # an X25519 key cannot sign
        {"recipient_key_id": bytes(16)},  # not the key id of recipient_public
        {"recipient_public": bytes(32), "recipient_key_id": key_id_of(bytes(32))},  # low order
        {"recipient_public": PARTY.recipient.public_bytes()[:31]},
        {"context": (12, 3, bytes(32))},
    ]
    for change in bad_seals:
        with pytest.raises(KeyMisuseError):
            seal(b"x", **{**good, **change})
    with pytest.raises(KeyMisuseError):
        seal(cast(Any, "text"), **good)
    bad_opens: list[dict[str, Any]] = [
        {"recipient": PARTY.sender},
        {"sender_public": PARTY.sender},
        {"context": (12, 3, bytes(32))},
    ]
    for change in bad_opens:
        opened = {
            "recipient": PARTY.recipient,
            "sender_public": PARTY.sender.public,
            "context": CONTEXT,
            **change,
        }
        with pytest.raises(KeyMisuseError):
            open_envelope(blob, **opened)


@pytest.mark.parametrize(
    ("round_id", "stage", "config_hash"),
    [
        (-1, 0, bytes(32)),
        (2**64, 0, bytes(32)),
        (0, 256, bytes(32)),
        (0, -1, bytes(32)),
        (0, 0, bytes(31)),
        (True, 0, bytes(32)),
        (0, 0, "0" * 32),
    ],
)
def test_invalid_context_is_misuse(round_id: int, stage: int, config_hash: bytes) -> None:
    with pytest.raises(KeyMisuseError):
        EnvelopeContext(round_id, stage, config_hash)


@pytest.mark.process
def test_crypto_core_imports_without_heavy_dependencies() -> None:
    code = (
        "import fical_secure.crypto.envelope, fical_secure.crypto.keys, sys; "
        "assert not any(m in sys.modules for m in ('torch','transformers','presidio_analyzer'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
