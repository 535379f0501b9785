"""A durable monotonic counter kept apart from the sealed secure-aggregation state.

The sealed state file records the counter value it was written at; the
counter (a small SQLite database, one row per client key id) only moves up.
Putting back an older copy of the state file alone then shows a value below
the counter's and is refused (:class:`RollbackError`): a stale copy cannot make
a client answer one stage twice (for instance reveal both shares of a peer).
An attacker who rolls back the state file *and* this database together is not
stopped; the compromised-host threat model states that residual risk.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fical_secure.errors import StoreError

_SCHEMA = "CREATE TABLE IF NOT EXISTS counter (client TEXT PRIMARY KEY, value INTEGER NOT NULL)"


class MonotonicCounter:
    """One client's counter in the database at ``path`` (created on first use, mode 0600)."""

    def __init__(self, path: Path, client: bytes) -> None:
        self.path, self._client = path, client.hex()

    def _connect(self) -> sqlite3.Connection:
        try:
            if not self.path.exists():
                self.path.touch(mode=0o600)
            db = sqlite3.connect(self.path, isolation_level=None)
            db.execute("PRAGMA synchronous=FULL")
            db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{self.path}: cannot open the rollback counter: {exc}") from None
        return db

    def value(self) -> int:
        """The highest value this client's state was written at (0 before the first write).

        Raises:
            StoreError: the database cannot be read.
        """
        db = self._connect()
        try:
            row = db.execute("SELECT value FROM counter WHERE client = ?", (self._client,))
            found = row.fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot read the rollback counter: {exc}") from None
        finally:
            db.close()
        return 0 if found is None else int(found[0])

    def advance_to(self, value: int) -> None:
        """Raise the counter to ``value`` (never lower it), durably.

        Raises:
            StoreError: the database cannot be written.
        """
        db = self._connect()
        try:
            db.execute(
                "INSERT INTO counter (client, value) VALUES (?, ?) ON CONFLICT(client)"
                " DO UPDATE SET value = MAX(value, excluded.value)",
                (self._client, value),
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot write the rollback counter: {exc}") from None
        finally:
            db.close()
