"""Server and client state machines: what is refused, in which order, and replay."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from fical_secure.crypto.envelope import EnvelopeContext, seal
from fical_secure.crypto.keys import IdentityKey, Roster, SignedRoundKey
from fical_secure.errors import (
    ConflictError,
    InvalidEnvelope,
    InvalidSignature,
    NotEnrolledError,
    ProtocolError,
    ReplayError,
    RoundAbortedError,
    StageError,
    WrongRoundError,
)
from fical_secure.protocol.client import Client
from fical_secure.protocol.messages import Receipt, RoundConfig, sha256
from fical_secure.protocol.server import Server
from fical_secure.protocol.stages import Stage


@dataclasses.dataclass
class Fed:
    """A server with three enrolled clients and one outsider."""

    server: Server
    server_key: IdentityKey
    roster: Roster
    clients: list[Client]
    keys: list[IdentityKey]
    outsider: IdentityKey


@pytest.fixture
def fed(tmp_path: Path) -> Iterator[Fed]:
    server_key = IdentityKey.generate()
    keys = [IdentityKey.generate() for _ in range(3)]
    roster = Roster.create(server_key, [k.public for k in keys], epoch=1)
    server = Server.create(tmp_path / "server.db", server_key, roster)
    clients = [Client(k, server_key.public) for k in keys]
    yield Fed(server, server_key, roster, clients, keys, IdentityKey.generate())
    server.close()


def _seal_as(
    sender: IdentityKey,
    cfg: RoundConfig,
    payload: bytes,
    *,
    stage: int = int(Stage.COLLECTING),
    config_hash: bytes | None = None,
    round_id: int | None = None,
) -> bytes:
    """Seal bypassing the client's checks, to build hostile envelopes."""
    rk = SignedRoundKey.decode(cfg.signed_round_key)
    ctx = EnvelopeContext(
        round_id=cfg.round_id if round_id is None else round_id,
        stage=stage,
        config_hash=config_hash or cfg.config_hash,
    )
    return seal(
        payload, sender=sender, recipient_public=rk.public, recipient_key_id=rk.key_id, context=ctx
    )


def test_full_round_returns_only_authenticated_payloads_in_receipt_order(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=2)
    for i, client in enumerate(fed.clients):
        receipt = fed.server.receive(
            client.seal_submission(cfg, f"payload {i}".encode(), fed.roster)
        )
        client.check_receipt(receipt)
        assert receipt.sequence == i + 1
    payloads = fed.server.close_round()
    assert payloads == [(k.key_id, f"payload {i}".encode()) for i, k in enumerate(fed.keys)]
    result = fed.server.publish(b"global")
    assert [c.check_result(result) for c in fed.clients] == [b"global"] * 3
    assert result.contributors == 3
    assert fed.server.state.round is not None and fed.server.state.round.stage is Stage.DONE


def test_identical_resubmission_returns_the_same_receipt_and_counts_once(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=1)
    env = fed.clients[0].seal_submission(cfg, b"x")
    first = fed.server.receive(env)
    again = fed.server.receive(env)
    assert again == first and again.encode() == first.encode()
    assert len(fed.server.close_round()) == 1


def test_client_retry_reseals_nothing_so_the_retry_is_a_replay(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=1)
    env = fed.clients[0].seal_submission(cfg, b"same")
    assert fed.clients[0].seal_submission(cfg, b"same") == env
    receipt = fed.server.receive(env)
    fed.clients[0].check_receipt(fed.server.receive(fed.clients[0].seal_submission(cfg, b"same")))
    assert fed.clients[0].state.receipt == receipt


def test_different_content_from_the_same_client_is_a_conflict(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=1)
    fed.server.receive(fed.clients[0].seal_submission(cfg, b"first"))
    with pytest.raises(ConflictError):  # the client itself refuses to seal a second payload
        fed.clients[0].seal_submission(cfg, b"second")
    with pytest.raises(ConflictError):  # and the server refuses one sealed around the client
        fed.server.receive(_seal_as(fed.keys[0], cfg, b"second"))
    assert fed.server.close_round() == [(fed.keys[0].key_id, b"first")]


def test_envelope_replayed_into_a_later_round_is_refused_as_replay(fed: Fed) -> None:
    cfg1 = fed.server.open_round(1, min_clients=1)
    old = fed.clients[0].seal_submission(cfg1, b"round one")
    fed.server.receive(old)
    fed.server.close_round()
    fed.server.publish(b"r1")
    cfg2 = fed.server.open_round(2, min_clients=1)
    with pytest.raises(ReplayError, match="round 1"):
        fed.server.receive(old)
    fed.server.receive(fed.clients[1].seal_submission(cfg2, b"round two"))
    assert fed.server.close_round() == [(fed.keys[1].key_id, b"round two")]


def test_envelope_for_another_round_is_refused(fed: Fed) -> None:
    cfg = fed.server.open_round(5, min_clients=1)
    with pytest.raises(WrongRoundError):
        fed.server.receive(_seal_as(fed.keys[0], cfg, b"x", round_id=6))


def test_unenrolled_sender_is_refused_before_decryption(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=1)
    with pytest.raises(NotEnrolledError):
        fed.server.receive(_seal_as(fed.outsider, cfg, b"x"))


def test_forged_signature_is_refused(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=1)
    env = bytearray(fed.clients[0].seal_submission(cfg, b"x"))
    env[-1] ^= 1  # the sender signature ends the envelope
    with pytest.raises(InvalidEnvelope):
        fed.server.receive(bytes(env))
    assert fed.server.store.submissions(1) == []


def test_envelope_claiming_another_clients_key_id_is_refused(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=1)
    victim = fed.keys[1].key_id
    env = bytearray(_seal_as(fed.outsider, cfg, b"x"))
    start = bytes(env).index(fed.outsider.key_id)
    env[start : start + 16] = victim  # claims to be client 1, signed by the outsider
    with pytest.raises(InvalidEnvelope):
        fed.server.receive(bytes(env))
    assert fed.server.store.find_submission(1, victim) is None


def test_envelope_sealed_under_another_config_hash_is_refused(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=1)
    with pytest.raises(WrongRoundError, match="config"):
        fed.server.receive(_seal_as(fed.keys[0], cfg, b"x", config_hash=b"\x00" * 32))


def test_envelope_sealed_for_another_stage_is_refused(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=1)
    with pytest.raises(StageError):
        fed.server.receive(_seal_as(fed.keys[0], cfg, b"x", stage=int(Stage.AGGREGATING)))


def test_submission_after_close_is_a_stage_error(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=1)
    fed.server.receive(fed.clients[0].seal_submission(cfg, b"x"))
    late = fed.clients[1].seal_submission(cfg, b"late")
    fed.server.close_round()
    with pytest.raises(StageError):
        fed.server.receive(late)


def test_submission_after_the_collect_deadline_is_a_stage_error(tmp_path: Path) -> None:
    now = [1_000_000.0]
    server_key, client_key = IdentityKey.generate(), IdentityKey.generate()
    roster = Roster.create(server_key, [client_key.public], epoch=1)
    server = Server.create(tmp_path / "s.db", server_key, roster, clock=lambda: now[0])
    cfg = server.open_round(1, min_clients=1, collect_seconds=60)
    env = Client(client_key, server_key.public, clock=lambda: now[0]).seal_submission(cfg, b"x")
    now[0] += 61
    with pytest.raises(StageError, match="stopped collecting"):
        server.receive(env)


def test_too_few_clients_aborts_the_round_with_a_signed_abort(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=2)
    fed.server.receive(fed.clients[0].seal_submission(cfg, b"x"))
    with pytest.raises(RoundAbortedError):
        fed.server.close_round()
    abort = fed.server.outcome(1)
    assert abort is not None and not isinstance(abort, bytes)
    assert "1 of 2" in fed.clients[0].check_abort(abort)  # type: ignore[arg-type]


def test_open_round_refuses_a_second_live_round_and_reused_ids(fed: Fed) -> None:
    fed.server.open_round(3, min_clients=1)
    with pytest.raises(StageError, match="still COLLECTING"):
        fed.server.open_round(4, min_clients=1)
    fed.server.abort("operator")
    with pytest.raises(StageError, match="must increase"):
        fed.server.open_round(3, min_clients=1)
    with pytest.raises(ProtocolError):
        fed.server.open_round(4, min_clients=4)


def test_server_refuses_a_roster_it_did_not_sign(tmp_path: Path) -> None:
    server_key = IdentityKey.generate()
    foreign = Roster.create(IdentityKey.generate(), [IdentityKey.generate().public], epoch=1)
    with pytest.raises(InvalidSignature):
        Server.create(tmp_path / "s.db", server_key, foreign)


# --- the client's side ----------------------------------------------------------
def test_client_refuses_a_tampered_config(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=2)
    tampered = dataclasses.replace(cfg, min_clients=1)
    with pytest.raises(InvalidSignature):
        fed.clients[0].seal_submission(tampered, b"x")


def test_client_refuses_a_config_signed_by_another_server(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=2)
    impostor = IdentityKey.generate()
    forged = dataclasses.replace(cfg, server_key_id=impostor.key_id).signed(impostor)
    with pytest.raises(InvalidSignature):
        fed.clients[0].seal_submission(forged, b"x")


def test_client_refuses_a_round_key_swapped_into_a_resigned_config(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=1)
    from fical_secure.crypto.keys import RoundKey

    attacker = IdentityKey.generate()
    evil = SignedRoundKey.create(attacker, RoundKey.generate(), 1).encode()
    swapped = dataclasses.replace(cfg, signed_round_key=evil)
    with pytest.raises(InvalidSignature):
        fed.clients[0].seal_submission(swapped, b"x")


def test_client_refuses_a_tampered_or_foreign_roster(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=1)
    other = Roster.create(fed.server_key, [fed.keys[0].public], epoch=1)  # valid, not this one
    with pytest.raises(ProtocolError, match="roster"):
        fed.clients[0].seal_submission(cfg, b"x", other)
    forged = Roster.create(IdentityKey.generate(), [k.public for k in fed.keys], epoch=1)
    with pytest.raises(InvalidSignature):
        fed.clients[0].seal_submission(cfg, b"x", forged)


def test_client_not_on_the_roster_refuses_to_seal(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=1)
    with pytest.raises(NotEnrolledError):
        Client(fed.outsider, fed.server_key.public).seal_submission(cfg, b"x", fed.roster)


def test_client_refuses_a_receipt_for_another_envelope_or_a_forged_one(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=1)
    a, b = fed.clients[0], fed.clients[1]
    receipt_b = fed.server.receive(b.seal_submission(cfg, b"b"))
    a.seal_submission(cfg, b"a")
    with pytest.raises(ProtocolError, match="another submission"):
        a.check_receipt(receipt_b)
    fake = Receipt(
        1,
        cfg.config_hash,
        a.key_id,
        a.state.envelope_hash or b"",
        1,
        fed.server_key.key_id,
        signature=b"\x00" * 64,
    )
    with pytest.raises(InvalidSignature):
        a.check_receipt(fake)


def test_receipt_binds_the_envelope_hash(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=1)
    env = fed.clients[0].seal_submission(cfg, b"x")
    assert fed.server.receive(env).envelope_hash == sha256(env)


def test_checks_run_in_the_documented_order_before_any_decryption(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=1)
    bad_hash, bad_stage = b"\x00" * 32, int(Stage.AGGREGATING)

    def broken(env: bytes) -> bytes:  # a bad signature: the last step to be checked
        return env[:-1] + bytes([env[-1] ^ 1])

    cases: list[tuple[bytes, type[Exception]]] = [
        (
            broken(
                _seal_as(fed.outsider, cfg, b"x", round_id=9, stage=bad_stage, config_hash=bad_hash)
            ),
            WrongRoundError,
        ),
        (
            broken(_seal_as(fed.outsider, cfg, b"x", stage=bad_stage, config_hash=bad_hash)),
            StageError,
        ),
        (broken(_seal_as(fed.outsider, cfg, b"x", config_hash=bad_hash)), NotEnrolledError),
        (broken(_seal_as(fed.keys[0], cfg, b"x", config_hash=bad_hash)), WrongRoundError),
        (broken(_seal_as(fed.keys[0], cfg, b"x")), InvalidEnvelope),
    ]
    for envelope, error in cases:
        with pytest.raises(error):
            fed.server.receive(envelope)
    assert fed.server.store.submissions(1) == []


def test_oversize_envelope_is_refused_before_parsing(fed: Fed) -> None:
    from fical_secure.errors import MessageFormatError
    from fical_secure.protocol.server import MAX_ENVELOPE_BYTES

    fed.server.open_round(1, min_clients=1)
    with pytest.raises(MessageFormatError):
        fed.server.receive(b"\x01" * (MAX_ENVELOPE_BYTES + 1))


@pytest.mark.parametrize("blob", [b"", b"\x01", b"\x02" + b"\x00" * 300])
def test_malformed_envelope_is_an_invalid_envelope(fed: Fed, blob: bytes) -> None:
    fed.server.open_round(1, min_clients=1)
    with pytest.raises(InvalidEnvelope):
        fed.server.receive(blob)
