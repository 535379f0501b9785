"""The client's durable, monotonic round state (issue 8, attacks 1 and 5).

Attack 1 (rollback): a network attacker replays round N's signed config to a
client already in round N+1, then round N's signed result. Attack 5: a client
that restarts after sealing must re-send the same bytes and get its receipt.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from fical_secure.crypto.keys import IdentityKey, Roster, RoundKey, SignedRoundKey
from fical_secure.errors import (
    ConflictError,
    InvalidSignature,
    RollbackError,
    StoreError,
    WrongRoundError,
)
from fical_secure.protocol.client import Client
from fical_secure.protocol.messages import GlobalResult, RoundConfig
from fical_secure.protocol.server import Server


@dataclasses.dataclass
class Fed:
    server: Server
    server_key: IdentityKey
    roster: Roster
    key: IdentityKey
    state: Path
    tmp: Path

    def client(self) -> Client:
        """A fresh client process: same key, same state file."""
        return Client(self.key, self.server_key.public, state_path=self.state)

    def finish(self, cfg: RoundConfig, client: Client, payload: bytes) -> GlobalResult:
        client.check_receipt(self.server.receive(client.seal_submission(cfg, payload)))
        self.server.close_round()
        return self.server.publish(payload + b"-global")


@pytest.fixture
def fed(tmp_path: Path) -> Iterator[Fed]:
    server_key, key = IdentityKey.generate(), IdentityKey.generate()
    roster = Roster.create(server_key, [key.public], epoch=1)
    server = Server.create(tmp_path / "server.db", server_key, roster)
    yield Fed(server, server_key, roster, key, tmp_path / "client-state.json", tmp_path)
    server.close()


def test_replayed_older_config_is_refused_and_the_current_round_kept(fed: Fed) -> None:
    client = fed.client()
    cfg1 = fed.server.open_round(1, min_clients=1)
    old_result = fed.finish(cfg1, client, b"r1")
    cfg2 = fed.server.open_round(2, min_clients=1)
    envelope = client.seal_submission(cfg2, b"r2")
    with pytest.raises(RollbackError):
        client.accept_round(cfg1)
    assert client.state.config == cfg2 and client.state.envelope == envelope  # nothing discarded
    with pytest.raises(WrongRoundError):
        client.check_result(old_result)  # the old global compendium is not accepted


def test_rollback_is_refused_after_a_restart_too(fed: Fed) -> None:
    cfg1 = fed.server.open_round(1, min_clients=1)
    old_result = fed.finish(cfg1, fed.client(), b"r1")
    cfg2 = fed.server.open_round(2, min_clients=1)
    fed.client().accept_round(cfg2)
    restarted = fed.client()  # a new process reads the state from disk
    assert restarted.state.config == cfg2
    with pytest.raises(RollbackError):
        restarted.seal_submission(cfg1, b"r1")
    with pytest.raises(WrongRoundError):
        restarted.check_result(old_result)
    saved = json.loads(fed.state.read_text())
    assert saved["round_id"] == 2 and fed.state.stat().st_mode & 0o777 == 0o600


def test_a_second_config_for_the_same_round_is_refused(fed: Fed) -> None:
    client = fed.client()
    cfg = fed.server.open_round(1, min_clients=1)
    client.accept_round(cfg)
    # the same server key opens "round 1" again elsewhere (another store): a fork
    fork = Server.create(fed.tmp / "fork.db", fed.server_key, fed.roster)
    try:
        forked = fork.open_round(1, min_clients=1)
        assert forked.config_hash != cfg.config_hash
        with pytest.raises(ConflictError):
            client.accept_round(forked)
        assert client.state.config == cfg
    finally:
        fork.close()


def test_result_of_another_round_is_refused(fed: Fed) -> None:
    client = fed.client()
    cfg = fed.server.open_round(3, min_clients=1)
    client.accept_round(cfg)
    for round_id, config_hash in ((4, cfg.config_hash), (2, cfg.config_hash), (3, bytes(32))):
        forged = GlobalResult(
            round_id, config_hash, 1, b"old global", fed.server_key.key_id
        ).signed(fed.server_key)
        with pytest.raises(WrongRoundError):
            client.check_result(forged)
    fresh = Client(IdentityKey.generate(), fed.server_key.public)
    with pytest.raises(WrongRoundError):  # a client in no round accepts no result
        fresh.check_result(
            GlobalResult(3, cfg.config_hash, 1, b"g", fed.server_key.key_id).signed(fed.server_key)
        )


def test_round_key_signed_for_another_round_is_refused(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=1)
    other = SignedRoundKey.create(fed.server_key, RoundKey.generate(), round_id=2)
    tampered = dataclasses.replace(cfg, signed_round_key=other.encode()).signed(fed.server_key)
    with pytest.raises(WrongRoundError):
        fed.client().accept_round(tampered)
    assert not fed.state.exists()  # nothing was accepted


def test_round_key_naming_another_server_is_refused(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=1)
    rk = SignedRoundKey.decode(cfg.signed_round_key)
    stranger = IdentityKey.generate()
    body = SignedRoundKey._BODY.pack(1, rk.round_id, rk.public, stranger.key_id)
    from fical_secure.crypto import labels

    signature = fed.server_key.sign(labels.ROUND_KEY_SIGNATURE + body)  # our server signs it
    named = SignedRoundKey(rk.round_id, rk.public, stranger.key_id, signature)
    tampered = dataclasses.replace(cfg, signed_round_key=named.encode()).signed(fed.server_key)
    with pytest.raises(InvalidSignature):
        fed.client().accept_round(tampered)


def test_restart_after_sealing_resends_the_same_bytes_and_gets_the_receipt(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=1)
    first = fed.client().seal_submission(cfg, b"compendium")
    receipt = fed.server.receive(first)  # the receipt is lost with the crashed process
    restarted = fed.client()
    again = restarted.seal_submission(cfg, b"compendium")
    assert again == first
    restarted.check_receipt(fed.server.receive(again))
    assert restarted.state.receipt == receipt
    assert fed.client().state.receipt == receipt  # the receipt is persisted as well


def test_restart_with_a_regenerated_payload_is_a_local_conflict_not_a_new_envelope(
    fed: Fed,
) -> None:
    cfg = fed.server.open_round(1, min_clients=1)
    first = fed.client().seal_submission(cfg, b"kcg run one")
    restarted = fed.client()
    with pytest.raises(ConflictError, match="resend"):
        restarted.seal_submission(cfg, b"kcg run two")
    assert restarted.state.envelope == first  # what can still be resent


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b'{"format": "other"}',
        b'{"format": "fical-secure client-round-state v1"}',
    ],
)
def test_damaged_state_file_is_a_typed_error(fed: Fed, content: bytes) -> None:
    fed.state.write_bytes(content)
    with pytest.raises(StoreError):
        fed.client()


def test_state_file_of_another_server_is_refused(fed: Fed) -> None:
    cfg = fed.server.open_round(1, min_clients=1)
    fed.client().accept_round(cfg)
    with pytest.raises(StoreError, match="another server"):
        Client(fed.key, IdentityKey.generate().public, state_path=fed.state)
