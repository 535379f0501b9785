"""Known answers pin the envelope and Shamir constructions to exact bytes.

tests/vectors/crypto_kat.json is written by tests/vectors/make_crypto_kat.py
from the documented layouts with ``cryptography`` alone. Sealing with the
vectors' keys and randomness (the ``_seal_with`` and ``randbytes`` seams) must
give the stored bytes, so any change to the construction fails here: what the
signature covers, the KDF's salt or info, the AEAD, a label, the share
commitment or the share encoding.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from fical_secure.crypto import envelope as env
from fical_secure.crypto import shamir
from fical_secure.crypto.keys import IdentityKey, RoundKey
from fical_secure.errors import InvalidEnvelope, InvalidShare

VECTORS = Path(__file__).parent / "vectors"
KAT: dict[str, Any] = json.loads((VECTORS / "crypto_kat.json").read_text())
ENVELOPES = {case["name"]: case for case in KAT["envelope"]}
DEALINGS = {case["name"]: case for case in KAT["shamir"]}


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_crypto_kat", VECTORS / "make_crypto_kat.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def h(case: dict[str, Any], key: str) -> bytes:
    return bytes.fromhex(case[key])


def _context(case: dict[str, Any]) -> env.EnvelopeContext:
    return env.EnvelopeContext(case["round_id"], case["stage"], h(case, "config_hash"))


def _sender(case: dict[str, Any]) -> IdentityKey:
    return IdentityKey._from_private_bytes(h(case, "sender_seed"))


def _recipient(case: dict[str, Any]) -> RoundKey:
    return RoundKey._from_private_bytes(h(case, "recipient_private"))


def _resealed(case: dict[str, Any], context: env.EnvelopeContext) -> bytes:
    """The vector's inputs sealed by the code under test (its own signature)."""
    return env._seal_with(
        h(case, "payload"),
        sender=_sender(case),
        recipient_public=_recipient(case).public_bytes(),
        context=context,
        ephemeral=RoundKey._from_private_bytes(h(case, "ephemeral_private")),
        nonce=h(case, "nonce"),
    )


def test_the_vector_file_is_what_its_generator_writes() -> None:
    assert _generator().build() == KAT


@pytest.mark.parametrize("name", sorted(ENVELOPES))
def test_sealing_with_the_vector_inputs_gives_the_exact_envelope(name: str) -> None:
    case = ENVELOPES[name]
    assert _resealed(case, _context(case)).hex() == case["envelope"]


@pytest.mark.parametrize("name", sorted(ENVELOPES))
def test_the_key_schedule_and_signed_message_match_the_vector(name: str) -> None:
    case = ENVELOPES[name]
    header = h(case, "header")
    ephemeral_public = header[74:106]
    key = env._derive_key(
        h(case, "shared_secret"), ephemeral_public, _recipient(case).public_bytes()
    )
    assert key.hex() == case["aead_key"]
    ciphertext = h(case, "envelope")[env.HEADER_SIZE : -env.SIGNATURE_SIZE]
    assert env._signed_digest(header, ciphertext).hex() == case["signed_message"]
    assert _recipient(case).exchange(ephemeral_public).hex() == case["shared_secret"]


@pytest.mark.parametrize("name", sorted(ENVELOPES))
def test_the_vector_envelope_opens_to_its_payload(name: str) -> None:
    case = ENVELOPES[name]
    blob, sender = h(case, "envelope"), _sender(case)
    header = env.verify_envelope(blob, sender.public)
    assert header.encode().hex() == case["header"] and header.context == _context(case)
    assert env.read_header(blob) == header
    opened = env.open_envelope(
        blob, recipient=_recipient(case), sender_public=sender.public, context=_context(case)
    )
    assert opened.hex() == case["payload"]


def test_signature_only_verification_refuses_every_header_bit_flipped() -> None:
    """verify_envelope alone (no decryption) must see any header change."""
    case = ENVELOPES["compendium"]
    blob, sender = _resealed(case, _context(case)), _sender(case).public
    assert env.verify_envelope(blob, sender).context == _context(case)
    for bit in range(8 * env.HEADER_SIZE):
        mutant = bytearray(blob)
        mutant[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(InvalidEnvelope):
            env.verify_envelope(bytes(mutant), sender)


def test_signature_only_verification_refuses_a_header_from_another_envelope() -> None:
    """Header of one envelope spliced onto another's body and signature."""
    case = ENVELOPES["compendium"]
    sender = _sender(case).public
    blob = _resealed(case, _context(case))
    moved = env.EnvelopeContext(case["round_id"] + 1, case["stage"], h(case, "config_hash"))
    other = _resealed(case, moved)
    env.verify_envelope(other, sender)
    spliced = other[: env.HEADER_SIZE] + blob[env.HEADER_SIZE :]
    with pytest.raises(InvalidEnvelope):
        env.verify_envelope(spliced, sender)


class _Stream:
    """The generator's fixed ``randbytes`` for one dealing."""

    def __init__(self, seed: bytes) -> None:
        self._stream = _generator().Stream(seed)

    def __call__(self, size: int) -> bytes:
        data: bytes = self._stream(size)
        return data


@pytest.mark.parametrize("name", sorted(DEALINGS))
def test_splitting_with_the_vector_randomness_gives_the_exact_shares(name: str) -> None:
    case = DEALINGS[name]
    xs = [share["x"] for share in case["shares"]]
    shares = shamir.split(
        [h(case, "secret")], xs, case["threshold"], randbytes=_Stream(h(case, "randomness_seed"))
    )[0]
    assert [(s.x, s.y.hex()) for s in shares] == [(s["x"], s["y"]) for s in case["shares"]]


@pytest.mark.parametrize("name", sorted(DEALINGS))
def test_commitments_match_the_vector_and_the_shares_recombine(name: str) -> None:
    case = DEALINGS[name]
    shares = [shamir.Share(s["x"], bytes.fromhex(s["y"])) for s in case["shares"]]
    contexts = {s["x"]: bytes.fromhex(s["context"]) for s in case["shares"]}
    commitments = {s["x"]: bytes.fromhex(s["commitment"]) for s in case["shares"]}
    for share in shares:
        assert shamir.commit_share(share, contexts[share.x]) == commitments[share.x]
    secret = h(case, "secret")
    assert shamir.commit_secret(secret, h(case, "secret_context")) == h(case, "secret_commitment")
    got = shamir.combine(
        shares[-case["threshold"] :],
        threshold=case["threshold"],
        secret_len=len(secret),
        contexts=contexts,
        commitments=commitments,
    )
    assert got == secret


def test_the_share_commitment_binds_x() -> None:
    """Same context and y under another x: a different commitment, refused."""
    share = DEALINGS["seed"]["shares"][0]
    context, commitment = bytes.fromhex(share["context"]), bytes.fromhex(share["commitment"])
    y = bytes.fromhex(share["y"])
    shamir.verify_share(shamir.Share(share["x"], y), context, commitment)
    for x in (share["x"] - 1, share["x"] + 1, share["x"] + 256, share["x"] + 65536 - 4):
        if 1 <= x <= shamir.MAX_HOLDERS:
            with pytest.raises(InvalidShare):
                shamir.verify_share(shamir.Share(x, y), context, commitment)
