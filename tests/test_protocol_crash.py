"""Crash consistency: SIGKILL the server at named points, restart, check invariants.

For every crash point and seed a real server runs in a subprocess
(``test_protocol_crash_worker.py``), handles a seeded sequence of submissions
(with replays mixed in) and is killed by SIGKILL at the point's n-th hit. The
test then checks the raw database, restarts the server and finishes the round:

* every acknowledged envelope is stored exactly once, with the very receipt
  the client got; nothing that was never sent is stored; sequences are 1..n;
* the in-flight envelope is either fully stored or absent (never half), and
  resending it after the restart yields a receipt (the same one if stored);
* the round then completes with each client's payload exactly once, or, under
  the abort policy, ends in a signed Abort.

Default: 6 points x 4 seeds; ``pytest -m bench`` adds seeds 4..24.
"""

from __future__ import annotations

import os
import random
import select
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fical_secure.crypto.keys import IdentityKey, Roster
from fical_secure.protocol.client import Client
from fical_secure.protocol.crashpoints import POINTS
from fical_secure.protocol.messages import Abort, GlobalResult, Receipt, RoundConfig, sha256
from fical_secure.protocol.stages import Stage

pytestmark = pytest.mark.process  # every test here starts processes

WORKER = Path(__file__).with_name("test_protocol_crash_worker.py")
SEEDS = [*range(4), *(pytest.param(s, marks=pytest.mark.bench) for s in range(4, 25))]
REPLY_TIMEOUT_S = 30.0
ROUND = 1


class Worker:
    """One server subprocess; ``ask`` returns None once it has died."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.died_by_itself = False  # set when its stdout closed before we killed it
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(workdir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        assert self._read() == "ready"

    def _read(self) -> str | None:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], REPLY_TIMEOUT_S)
        assert ready, "server subprocess hung"
        line = self.proc.stdout.readline()
        if not line:
            self.died_by_itself = True
            return None
        return line.rstrip("\n")

    def ask(self, *words: str) -> str | None:
        """Send one request; the reply line, or None if the server died."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(" ".join(words) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return None
        return self._read()

    def ok(self, *words: str) -> str:
        reply = self.ask(*words)
        assert reply is not None and reply.startswith("ok"), reply
        return reply[3:]

    def stop(self) -> int:
        """Reap the process (killing it only if it is still alive); returns the exit status.

        The status alone cannot show a crash point fired: our own kill below
        produces the same -SIGKILL. :attr:`died_by_itself` tells the two apart.
        """
        if self.died_by_itself:
            return self.proc.wait(timeout=REPLY_TIMEOUT_S)
        if self.proc.poll() is None:
            self.proc.kill()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()
        return self.proc.wait(timeout=REPLY_TIMEOUT_S)


@dataclass
class Run:
    """What the clients saw before the crash."""

    cfg: RoundConfig
    envelopes: list[bytes]
    acked: dict[int, Receipt] = field(default_factory=dict)
    in_flight: int | None = None


def _federation(workdir: Path, n: int) -> tuple[IdentityKey, list[IdentityKey]]:
    server_key = IdentityKey.generate()
    clients = [IdentityKey.generate() for _ in range(n)]
    server_key.save(workdir / "server.key")
    roster = Roster.create(server_key, [c.public for c in clients], epoch=1)
    (workdir / "roster.bin").write_bytes(roster.encode())
    return server_key, clients


def _crashy_phase(
    worker: Worker, server_key: IdentityKey, clients: list[IdentityKey], rng: random.Random
) -> Run:
    """Open the round, submit (with replays), close and publish until the kill."""
    cfg = RoundConfig.decode(bytes.fromhex(worker.ok("open", str(ROUND), str(len(clients)))))
    envs = [
        Client(c, server_key.public).seal_submission(cfg, f"p{i}".encode())
        for i, c in enumerate(clients)
    ]
    run = Run(cfg, envs)
    for i, env in enumerate(envs):
        if run.acked and rng.random() < 0.4:  # replay an acknowledged one
            j = rng.choice(sorted(run.acked))
            reply = worker.ask("recv", envs[j].hex())
            if reply is None:
                return run  # died while handling a replay: nothing new in flight
            assert Receipt.decode(bytes.fromhex(reply[3:])) == run.acked[j]
        run.in_flight = i
        reply = worker.ask("recv", env.hex())
        if reply is None:
            return run
        run.acked[i] = Receipt.decode(bytes.fromhex(reply[3:]))
        run.in_flight = None
    if worker.ask("close") is not None:
        worker.ask("publish", b"global".hex())
    return run


def _check_store_after_crash(db: Path, run: Run, clients: list[IdentityKey]) -> None:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute(
            "SELECT sender_key_id, envelope_hash, sequence, receipt "
            "FROM submissions WHERE round_id=?",
            (ROUND,),
        ).fetchall()
        (stage,) = conn.execute("SELECT stage FROM rounds WHERE round_id=?", (ROUND,)).fetchone()
    finally:
        conn.close()
    assert Stage(stage) in (Stage.COLLECTING, Stage.AGGREGATING)
    stored = {bytes(s): (bytes(h), seq, bytes(r)) for s, h, seq, r in rows}
    assert len(stored) == len(rows)  # one row per client
    assert sorted(seq for _, seq, _ in stored.values()) == list(range(1, len(rows) + 1))
    for i, receipt in run.acked.items():  # every acknowledged envelope, exactly as acked
        assert stored[clients[i].key_id] == (
            sha256(run.envelopes[i]),
            receipt.sequence,
            receipt.encode(),
        )
    allowed = set(run.acked) | ({run.in_flight} if run.in_flight is not None else set())
    for i, c in enumerate(clients):  # nothing beyond acked + the one in flight
        if c.key_id in stored:
            assert i in allowed
            assert stored[c.key_id][0] == sha256(run.envelopes[i])


def _finish_after_restart(
    worker: Worker, server_key: IdentityKey, run: Run, clients: list[IdentityKey]
) -> None:
    receipts: dict[int, Receipt] = dict(run.acked)
    if len(run.acked) < len(clients):  # still COLLECTING: resend all, acked ones replay
        for i, env in enumerate(run.envelopes):
            receipts[i] = Receipt.decode(bytes.fromhex(worker.ok("recv", env.hex())))
            receipts[i].verify(server_key.public)
            if i in run.acked:
                assert receipts[i] == run.acked[i]
    else:  # the crash came at close or publish: the round no longer takes submissions
        assert worker.ask("recv", run.envelopes[0].hex()) == "err StageError"
    assert sorted(r.sequence for r in receipts.values()) == list(range(1, len(clients) + 1))
    by_sequence = sorted(receipts, key=lambda i: receipts[i].sequence)
    expected = [f"{clients[i].key_id.hex()}:{f'p{i}'.encode().hex()}" for i in by_sequence]
    assert worker.ok("close").split(",") == expected  # each payload exactly once
    result = GlobalResult.decode(bytes.fromhex(worker.ok("publish", b"global".hex())))
    result.verify(server_key.public)
    assert (result.round_id, result.contributors, result.payload) == (
        ROUND,
        len(clients),
        b"global",
    )


def _scenario(tmp_path: Path, point: str, seed: int, policy: str) -> None:
    rng = random.Random(f"{point}/{seed}")
    n = rng.randint(3, 6)
    hit = 1 if point == "before_publish" else rng.randint(1, n)
    server_key, clients = _federation(tmp_path, n)
    crashy = Worker(tmp_path, {"FICAL_CRASH_POINT": point, "FICAL_CRASH_HIT": str(hit)})
    try:
        run = _crashy_phase(crashy, server_key, clients, rng)
    finally:
        status = crashy.stop()
    assert crashy.died_by_itself, f"the server never reached {point} #{hit}: it did not crash"
    assert status == -signal.SIGKILL, f"the server exited with {status}, not by its crash point"
    _check_store_after_crash(tmp_path / "server.db", run, clients)
    restarted = Worker(tmp_path, {"FICAL_TEST_RECOVERY": policy})
    try:
        if policy == "resume":
            _finish_after_restart(restarted, server_key, run, clients)
        else:
            assert restarted.ask("recv", run.envelopes[0].hex()) == "err StageError"
    finally:
        restarted.stop()
    _check_round_closed(tmp_path, server_key, done=policy == "resume")


def _check_round_closed(workdir: Path, server_key: IdentityKey, *, done: bool) -> None:
    conn = sqlite3.connect(workdir / "server.db")
    try:
        stage, outcome = conn.execute(
            "SELECT stage, outcome FROM rounds WHERE round_id=?", (ROUND,)
        ).fetchone()
    finally:
        conn.close()
    msg = GlobalResult.decode(outcome) if done else Abort.decode(outcome)
    msg.verify(server_key.public)
    assert Stage(stage) is (Stage.DONE if done else Stage.ABORTED)
    assert list((workdir / "server.db.keys").glob("*.key")) == []  # round key destroyed


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("point", POINTS)
def test_sigkill_at_any_point_loses_no_acknowledged_envelope(
    tmp_path: Path, point: str, seed: int
) -> None:
    _scenario(tmp_path, point, seed, "resume")


@pytest.mark.parametrize("point", ["before_commit", "during_aggregation"])
def test_sigkill_then_abort_policy_ends_the_round_cleanly(tmp_path: Path, point: str) -> None:
    _scenario(tmp_path, point, 0, "abort")
