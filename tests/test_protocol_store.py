"""Durable store and restart recovery: WAL/FULL, permissions, replay state, policies."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from fical_secure.crypto.keys import IdentityKey, Roster
from fical_secure.errors import ReplayError, StageError, StoreError, WrongRoundError
from fical_secure.protocol.client import Client
from fical_secure.protocol.messages import Abort, RoundConfig
from fical_secure.protocol.recovery import RecoveryPolicy, decide
from fical_secure.protocol.server import Server
from fical_secure.protocol.stages import Stage
from fical_secure.protocol.store import Store

SERVER_KEY = IdentityKey.generate()
CLIENT_KEYS = [IdentityKey.generate() for _ in range(3)]
ROSTER = Roster.create(SERVER_KEY, [k.public for k in CLIENT_KEYS], epoch=1)


def _server(db: Path, **kw: object) -> Server:
    return Server.create(db, SERVER_KEY, ROSTER, **kw)  # type: ignore[arg-type]


def _client(i: int) -> Client:
    return Client(CLIENT_KEYS[i], SERVER_KEY.public)


def test_store_runs_in_wal_mode_with_full_sync_and_private_files(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.db")
    assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert stat.S_IMODE((tmp_path / "s.db").stat().st_mode) == 0o600
    store.close()


def test_store_with_loose_permissions_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    Store.open(db).close()
    os.chmod(db, 0o644)
    with pytest.raises(StoreError, match="chmod 600"):
        Store.open(db)


def test_store_of_another_server_identity_is_refused(tmp_path: Path) -> None:
    _server(tmp_path / "s.db").store.close()
    other = IdentityKey.generate()
    roster = Roster.create(other, [CLIENT_KEYS[0].public], epoch=1)
    with pytest.raises(StoreError, match="another server"):
        Server.create(tmp_path / "s.db", other, roster)


def test_garbage_file_is_a_store_error(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    db.write_bytes(b"not a database" * 100)
    os.chmod(db, 0o600)
    with pytest.raises(StoreError):
        Store.open(db)


def test_restarted_server_resumes_the_round_with_its_replay_state(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    server = _server(db)
    cfg = server.open_round(1, min_clients=2)
    env0 = _client(0).seal_submission(cfg, b"zero")
    first = server.receive(env0)
    server.close()

    restarted = _server(db, recovery=RecoveryPolicy.RESUME)
    assert restarted.receive(env0) == first  # same receipt after the restart
    restarted.receive(_client(1).seal_submission(cfg, b"one"))
    payloads = restarted.close_round()
    assert payloads == [(CLIENT_KEYS[0].key_id, b"zero"), (CLIENT_KEYS[1].key_id, b"one")]


def test_restart_with_abort_policy_aborts_cleanly_and_deletes_the_round_key(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.db"
    server = _server(db)
    cfg = server.open_round(1, min_clients=1)
    env = _client(0).seal_submission(cfg, b"x")
    server.receive(env)
    key_dir = tmp_path / "s.db.keys"
    assert len(list(key_dir.glob("*.key"))) == 1
    server.close()

    restarted = _server(db, recovery=RecoveryPolicy.ABORT)
    outcome = restarted.outcome(1)
    assert isinstance(outcome, Abort) and "restarted" in outcome.reason
    outcome.verify(SERVER_KEY.public)
    assert list(key_dir.glob("*.key")) == []
    with pytest.raises(StageError):
        restarted.receive(env)
    with pytest.raises(StageError):
        restarted.close_round()
    restarted.open_round(2, min_clients=1)  # the server moves on


def test_restart_past_the_deadline_aborts_under_the_default_policy(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    now = [1_000_000.0]
    server = _server(db, clock=lambda: now[0])
    server.open_round(1, min_clients=1, collect_seconds=10)
    server.close()
    now[0] += 11
    restarted = _server(db, clock=lambda: now[0])
    assert isinstance(restarted.outcome(1), Abort)


def test_restart_with_a_lost_round_key_aborts_instead_of_resuming(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    server = _server(db)
    server.open_round(1, min_clients=1)
    server.close()
    for key in (tmp_path / "s.db.keys").glob("*.key"):
        key.unlink()
    restarted = _server(db, recovery=RecoveryPolicy.RESUME)
    outcome = restarted.outcome(1)
    assert isinstance(outcome, Abort) and "StoreError" in outcome.reason


def test_replay_from_a_finished_round_is_known_after_restart(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    server = _server(db)
    cfg = server.open_round(1, min_clients=1)
    env = _client(0).seal_submission(cfg, b"x")
    server.receive(env)
    server.close_round()
    server.publish(b"done")
    server.close()
    restarted = _server(db)
    restarted.open_round(2, min_clients=1)
    with pytest.raises(ReplayError):
        restarted.receive(env)
    never_sent = _client(1).seal_submission(cfg, b"y")
    with pytest.raises(WrongRoundError):
        restarted.receive(never_sent)


def test_tampered_stored_envelope_fails_closed_at_aggregation(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    server = _server(db)
    cfg = server.open_round(1, min_clients=1)
    server.receive(_client(0).seal_submission(cfg, b"x"))
    conn = sqlite3.connect(db)
    (env,) = conn.execute("SELECT envelope FROM submissions").fetchone()
    flipped = env[:130] + bytes([env[130] ^ 1]) + env[131:]  # a ciphertext byte
    conn.execute("UPDATE submissions SET envelope = ?", (flipped,))
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="failed to open"):
        server.close_round()
    assert isinstance(server.outcome(1), Abort)


def test_stored_rows_hold_ciphertext_not_plaintext(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    server = _server(db)
    cfg = server.open_round(1, min_clients=1)
    secret = b"PATIENT-MRN-4411-SECRET-MARKER"
    server.receive(_client(0).seal_submission(cfg, secret))
    server.close()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), path


@pytest.mark.parametrize(
    ("stage", "policy", "now", "resume"),
    [
        (Stage.OPEN, RecoveryPolicy.RESUME, 0, False),
        (Stage.COLLECTING, RecoveryPolicy.RESUME, 10**10, True),
        (Stage.COLLECTING, RecoveryPolicy.ABORT, 0, False),
        (Stage.COLLECTING, RecoveryPolicy.ABORT_IF_PAST_DEADLINE, 99, True),
        (Stage.COLLECTING, RecoveryPolicy.ABORT_IF_PAST_DEADLINE, 101, False),
        (Stage.AGGREGATING, RecoveryPolicy.ABORT_IF_PAST_DEADLINE, 150, True),
        (Stage.AGGREGATING, RecoveryPolicy.ABORT_IF_PAST_DEADLINE, 201, False),
        (Stage.DONE, RecoveryPolicy.RESUME, 0, False),
    ],
)
def test_recovery_decision_table(
    stage: Stage, policy: RecoveryPolicy, now: int, resume: bool
) -> None:
    cfg = RoundConfig(
        1,
        1,
        (Stage.COLLECTING,),
        ((Stage.COLLECTING, 100), (Stage.AGGREGATING, 200)),
        b"\x00" * 32,
        b"",
        b"\x00" * 16,
        0,
    )
    assert decide(stage, cfg, policy, now).resume is resume
