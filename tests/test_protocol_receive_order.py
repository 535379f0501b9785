"""Nothing is decrypted before the server has authenticated and de-duplicated (issue 8, 6a).

Checking only the exception type cannot tell "refused before decrypting" from
"decrypted, then refused": both raise the same error. These tests count the
AEAD decryptions the server performs for every refused envelope: zero.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fical_secure.crypto import primitives
from fical_secure.crypto.envelope import EnvelopeContext, seal
from fical_secure.crypto.keys import IdentityKey, Roster, SignedRoundKey
from fical_secure.errors import FicalError
from fical_secure.protocol.client import Client
from fical_secure.protocol.messages import RoundConfig
from fical_secure.protocol.server import Server
from fical_secure.protocol.stages import Stage

SERVER_KEY = IdentityKey.generate()
KEYS = [IdentityKey.generate() for _ in range(2)]
OUTSIDER = IdentityKey.generate()
ROSTER = Roster.create(SERVER_KEY, [k.public for k in KEYS], epoch=1)


@pytest.fixture
def decryptions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = primitives.aead_decrypt

    def counting(*args: Any) -> bytes:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(primitives, "aead_decrypt", counting)
    return calls


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server.create(tmp_path / "server.db", SERVER_KEY, ROSTER)
    yield srv
    srv.close()


def _seal_as(sender: IdentityKey, cfg: RoundConfig, payload: bytes, **ctx: Any) -> bytes:
    rk = SignedRoundKey.decode(cfg.signed_round_key)
    fields = {
        "round_id": cfg.round_id,
        "stage": int(Stage.COLLECTING),
        "config_hash": cfg.config_hash,
        **ctx,
    }
    return seal(
        payload,
        sender=sender,
        recipient_public=rk.public,
        recipient_key_id=rk.key_id,
        context=EnvelopeContext(**fields),
    )


def _forged(cfg: RoundConfig) -> bytes:
    blob = bytearray(Client(KEYS[0], SERVER_KEY.public).seal_submission(cfg, b"x"))
    blob[-1] ^= 1
    return bytes(blob)


CASES = {
    "unenrolled": lambda cfg: _seal_as(OUTSIDER, cfg, b"x"),
    "bad_signature": _forged,
    "other_config": lambda cfg: _seal_as(KEYS[0], cfg, b"x", config_hash=bytes(32)),
    "other_stage": lambda cfg: _seal_as(KEYS[0], cfg, b"x", stage=int(Stage.AGGREGATING)),
    "other_round": lambda cfg: _seal_as(KEYS[0], cfg, b"x", round_id=cfg.round_id + 1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_refused_envelope_is_never_decrypted(
    server: Server, decryptions: list[int], case: str
) -> None:
    cfg = server.open_round(1, min_clients=1)
    hostile = CASES[case](cfg)
    with pytest.raises(FicalError):
        server.receive(hostile)
    assert decryptions == []
    assert server.store.submissions(1) == []


def test_conflicting_second_submission_is_refused_before_decryption(
    server: Server, decryptions: list[int]
) -> None:
    cfg = server.open_round(1, min_clients=1)
    server.receive(_seal_as(KEYS[0], cfg, b"first"))
    assert len(decryptions) == 1  # the accepted one is opened once, before its receipt
    with pytest.raises(FicalError):
        server.receive(_seal_as(KEYS[0], cfg, b"second"))
    assert len(decryptions) == 1


def test_identical_replay_is_answered_without_decrypting_again(
    server: Server, decryptions: list[int]
) -> None:
    cfg = server.open_round(1, min_clients=1)
    envelope = _seal_as(KEYS[1], cfg, b"once")
    first = server.receive(envelope)
    assert server.receive(envelope) == first
    assert len(decryptions) == 1
