"""Durable server store: SQLite in WAL mode with ``synchronous=FULL``.

What it guarantees (and the crash test checks): a submission row, its sequence
number and its signed receipt are written in ONE transaction, and the server
returns the receipt only after that transaction commits; so every acknowledged
envelope survives a crash, and a crash before commit leaves nothing behind.
Replay state (envelope hashes per (round, client)) lives in the same tables,
so it survives restarts too. The store holds sealed envelopes, never plaintext.

The database holds submissions' metadata and sealed envelopes (round private
keys live in :mod:`fical_secure.protocol.roundkeys`); it is created with mode
0600 and an existing file readable by group or others is refused (SQLite gives
the -wal and -shm files the same mode as the database).
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from fical_secure.errors import ConflictError, StageError, StoreError
from fical_secure.protocol.crashpoints import crash_point
from fical_secure.protocol.stages import TERMINAL, Stage, check_transition

SCHEMA_VERSION: Final = 1

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS rounds (
    round_id    INTEGER PRIMARY KEY,
    stage       INTEGER NOT NULL,
    config      BLOB NOT NULL,
    config_hash BLOB NOT NULL,
    round_key_id BLOB NOT NULL,
    roster      BLOB NOT NULL,
    opened_at   INTEGER NOT NULL,
    outcome     BLOB
);
CREATE TABLE IF NOT EXISTS submissions (
    round_id      INTEGER NOT NULL REFERENCES rounds(round_id),
    sender_key_id BLOB NOT NULL,
    envelope_hash BLOB NOT NULL,
    envelope      BLOB NOT NULL,
    sequence      INTEGER NOT NULL,
    receipt       BLOB NOT NULL,
    received_at   INTEGER NOT NULL,
    PRIMARY KEY (round_id, sender_key_id),
    UNIQUE (round_id, sequence)
);
CREATE INDEX IF NOT EXISTS submissions_by_hash ON submissions(envelope_hash);
"""


@dataclass(frozen=True)
class RoundRecord:
    """One round as persisted."""

    round_id: int
    stage: Stage
    config: bytes
    config_hash: bytes
    round_key_id: bytes  # names the key file in the RoundKeyVault
    roster: bytes
    opened_at: int
    outcome: bytes | None  # encoded GlobalResult (DONE) or Abort (ABORTED)


@dataclass(frozen=True)
class SubmissionRecord:
    """One accepted, acknowledged submission as persisted."""

    round_id: int
    sender_key_id: bytes
    envelope_hash: bytes
    envelope: bytes
    sequence: int
    receipt: bytes


def _create_private_file(path: Path) -> None:
    """Create ``path`` with mode 0600, or refuse an existing one that is wider."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise StoreError(
                f"store {path} has mode {mode:o}; it must be private: chmod 600 it"
            ) from None


class Store:
    """Transactions over the server's SQLite database; errors become StoreError."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Store:
        """Open (creating if needed) the store at ``path``.

        Raises:
            StoreError: if the file cannot be opened, is not a store of this
                schema version, has loose permissions, or WAL cannot be enabled.
        """
        db = Path(path)
        try:
            _create_private_file(db)
            conn = sqlite3.connect(db, isolation_level=None, timeout=30.0)
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"cannot enable WAL on {db} (got {mode})")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.executescript(_SCHEMA)
            store = cls(conn, db)
            store._check_version()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store {db}: {exc}") from exc
        return store

    def close(self) -> None:
        """Close the connection (a checkpoint happens; nothing is lost either way)."""
        self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE ... COMMIT, rolled back on error."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot begin a transaction: {exc}") from exc
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except BaseException as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"store write failed, nothing was kept: {exc}") from exc
            raise

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self._conn.execute(sql, args).fetchall())
        except sqlite3.Error as exc:
            raise StoreError(f"store read failed: {exc}") from exc

    def _check_version(self) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
            )
        (version,) = self._query("SELECT value FROM meta WHERE key='schema_version'")[0]
        if version != SCHEMA_VERSION:
            raise StoreError(f"store schema {version!r} is not {SCHEMA_VERSION}; migrate it")

    def bind_server(self, server_key_id: bytes) -> None:
        """Tie the store to one server identity on first use; refuse any other.

        Raises:
            StoreError: if the store belongs to another server identity.
        """
        with self._tx() as conn:
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('server_key_id', ?)", (server_key_id,))
        (owner,) = self._query("SELECT value FROM meta WHERE key='server_key_id'")[0]
        if owner != server_key_id:
            raise StoreError("this store belongs to another server identity; use its key")

    # --- rounds --------------------------------------------------------------
    def insert_round(self, rec: RoundRecord) -> None:
        """Persist a new round (in stage OPEN).

        Raises:
            StageError: if the round id was used before or is not above every past one.
        """
        with self._tx() as conn:
            top = conn.execute("SELECT MAX(round_id) FROM rounds").fetchone()[0]
            if top is not None and rec.round_id <= int(top):
                raise StageError(f"round ids must increase: {rec.round_id} <= {top}")
            conn.execute(
                "INSERT INTO rounds VALUES (?,?,?,?,?,?,?,?)",
                (
                    rec.round_id,
                    int(rec.stage),
                    rec.config,
                    rec.config_hash,
                    rec.round_key_id,
                    rec.roster,
                    rec.opened_at,
                    rec.outcome,
                ),
            )

    def transition(self, round_id: int, target: Stage, outcome: bytes | None = None) -> None:
        """Move a round to ``target`` if the transition table allows it (atomically).

        Raises:
            StageError: if the round is unknown or the transition is illegal.
        """
        with self._tx() as conn:
            row = conn.execute("SELECT stage FROM rounds WHERE round_id=?", (round_id,)).fetchone()
            if row is None:
                raise StageError(f"no round {round_id} in the store")
            check_transition(Stage(row[0]), target)
            conn.execute(
                "UPDATE rounds SET stage=?, outcome=COALESCE(?, outcome) WHERE round_id=?",
                (int(target), outcome, round_id),
            )

    def get_round(self, round_id: int) -> RoundRecord | None:
        """The persisted round, or None."""
        rows = self._query("SELECT * FROM rounds WHERE round_id=?", (round_id,))
        return _round(rows[0]) if rows else None

    def active_rounds(self) -> list[RoundRecord]:
        """Rounds not yet DONE or ABORTED, oldest first."""
        done = tuple(int(s) for s in TERMINAL)
        rows = self._query("SELECT * FROM rounds WHERE stage NOT IN (?,?) ORDER BY round_id", done)
        return [_round(r) for r in rows]

    # --- submissions ---------------------------------------------------------
    def find_submission(self, round_id: int, sender_key_id: bytes) -> SubmissionRecord | None:
        """The accepted submission of ``sender`` in ``round_id``, or None."""
        rows = self._query(
            "SELECT * FROM submissions WHERE round_id=? AND sender_key_id=?",
            (round_id, sender_key_id),
        )
        return _submission(rows[0]) if rows else None

    def round_of_envelope(self, envelope_hash: bytes) -> int | None:
        """The round in which this exact envelope was accepted, or None."""
        rows = self._query(
            "SELECT round_id FROM submissions WHERE envelope_hash=?", (envelope_hash,)
        )
        return int(rows[0][0]) if rows else None

    def add_submission(
        self,
        round_id: int,
        sender_key_id: bytes,
        envelope: bytes,
        envelope_hash: bytes,
        make_receipt: Callable[[int], bytes],
    ) -> bytes:
        """Store one envelope with its next sequence number and signed receipt.

        ``make_receipt(sequence)`` signs the receipt inside the transaction, so
        the receipt and the row commit together; the caller returns it only
        after this method returns (i.e. after COMMIT).

        Raises:
            StageError: if the round left COLLECTING meanwhile.
            ConflictError: if the sender already has a different submission.
            StoreError: if the write fails (nothing is kept).
        """
        with self._tx() as conn:
            stage = conn.execute(
                "SELECT stage FROM rounds WHERE round_id=?", (round_id,)
            ).fetchone()
            if stage is None or Stage(stage[0]) is not Stage.COLLECTING:
                raise StageError(f"round {round_id} is not collecting")
            prior = conn.execute(
                "SELECT envelope_hash, receipt FROM submissions "
                "WHERE round_id=? AND sender_key_id=?",
                (round_id, sender_key_id),
            ).fetchone()
            if prior is not None:
                if bytes(prior[0]) == envelope_hash:
                    return bytes(prior[1])
                raise ConflictError("this client already submitted different content")
            top = conn.execute(
                "SELECT COALESCE(MAX(sequence), 0) FROM submissions WHERE round_id=?", (round_id,)
            ).fetchone()[0]
            receipt = make_receipt(int(top) + 1)
            conn.execute(
                "INSERT INTO submissions VALUES (?,?,?,?,?,?,?)",
                (
                    round_id,
                    sender_key_id,
                    envelope_hash,
                    envelope,
                    int(top) + 1,
                    receipt,
                    int(time.time()),
                ),
            )
            crash_point("before_commit")
        return receipt

    def submissions(self, round_id: int) -> list[SubmissionRecord]:
        """Every accepted submission of a round, in sequence order."""
        rows = self._query(
            "SELECT * FROM submissions WHERE round_id=? ORDER BY sequence", (round_id,)
        )
        return [_submission(r) for r in rows]


def _round(row: tuple[Any, ...]) -> RoundRecord:
    rid, stage, config, chash, key, roster, opened, outcome = row
    return RoundRecord(
        int(rid),
        Stage(int(stage)),
        _b(config),
        _b(chash),
        _b(key),
        _b(roster),
        int(opened),
        None if outcome is None else _b(outcome),
    )


def _submission(row: tuple[Any, ...]) -> SubmissionRecord:
    rid, sender, ehash, env, seq, receipt, _received = row
    return SubmissionRecord(int(rid), _b(sender), _b(ehash), _b(env), int(seq), _b(receipt))


def _b(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise StoreError("store holds a non-blob where a blob belongs: it was tampered with")
    return value
