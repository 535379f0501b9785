"""The client's durable round state: the highest round it accepted, and what it sealed in it.

Kept on disk beside the client's key (one small JSON file, mode 0600, written
atomically) so that, across restarts,

* a replayed config of an older round is refused (no rollback to an old global
  compendium), and a second, different config for the same round is refused;
* a client that restarts after sealing re-sends the very same envelope bytes,
  which the server answers with the stored receipt (a replay), instead of
  re-sealing and being refused as a conflict forever.

The file binds the server key id it was written for; the round config inside
is re-verified under the pinned server key when loaded. Without a path the
state is kept in memory only (tests and one-process simulations).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from fical_secure.atomic import write_text_atomic
from fical_secure.errors import StoreError
from fical_secure.jsontypes import JsonObject

FORMAT: Final = "fical-secure client-round-state v1"
MAX_STATE_BYTES: Final = 64 * 1024 * 1024  # an envelope carries a compendium of tens of KiB


@dataclass(frozen=True)
class SavedRound:
    """What the client persisted about the highest round it accepted."""

    round_id: int
    config: bytes  # the encoded, server-signed RoundConfig
    config_hash: bytes
    envelope: bytes | None = None
    payload_hash: bytes | None = None
    receipt: bytes | None = None


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def _unhex(raw: JsonObject, key: str, path: Path) -> bytes | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise StoreError(f"{path}: field {key!r} is not hex text")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise StoreError(f"{path}: field {key!r} is not hex text") from None


class ClientStateFile:
    """Reads and writes one client's :class:`SavedRound` (or keeps it in memory)."""

    def __init__(self, path: Path | None, server_key_id: bytes) -> None:
        self.path = path
        self._server_key_id = server_key_id
        self._memory: SavedRound | None = None

    def load(self) -> SavedRound | None:
        """The saved round, or None if this client never accepted one.

        Raises:
            StoreError: the file is unreadable, malformed, or for another server.
        """
        if self.path is None:
            return self._memory
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read the client round state: {exc}") from exc
        if len(data) > MAX_STATE_BYTES:
            raise StoreError(f"{self.path}: client round state is too large")
        try:
            raw = json.loads(data)
        except (ValueError, RecursionError):
            raise StoreError(f"{self.path}: client round state is not valid JSON") from None
        return self._parse(raw)

    def _parse(self, raw: Any) -> SavedRound:
        path = self.path or Path("<memory>")
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise StoreError(f"{path}: not a {FORMAT} file; move it aside to start afresh")
        if _unhex(raw, "server_key_id", path) != self._server_key_id:
            raise StoreError(f"{path}: written for another server key; check the pinned key")
        round_id = raw.get("round_id")
        config = _unhex(raw, "config", path)
        config_hash = _unhex(raw, "config_hash", path)
        if isinstance(round_id, bool) or not isinstance(round_id, int) or round_id < 0:
            raise StoreError(f"{path}: round_id must be a non-negative integer")
        if config is None or config_hash is None:
            raise StoreError(f"{path}: the accepted round config is missing")
        return SavedRound(
            round_id,
            config,
            config_hash,
            _unhex(raw, "envelope", path),
            _unhex(raw, "payload_hash", path),
            _unhex(raw, "receipt", path),
        )

    def save(self, saved: SavedRound) -> None:
        """Persist ``saved`` durably (atomic replace, fsync) before the caller acts on it.

        Raises:
            StoreError: it cannot be written; the caller must not go on.
        """
        if self.path is None:
            self._memory = saved
            return
        record = {
            "format": FORMAT,
            "server_key_id": self._server_key_id.hex(),
            "round_id": saved.round_id,
            "config": saved.config.hex(),
            "config_hash": saved.config_hash.hex(),
            "envelope": _hex(saved.envelope),
            "payload_hash": _hex(saved.payload_hash),
            "receipt": _hex(saved.receipt),
        }
        try:
            write_text_atomic(self.path, json.dumps(record, sort_keys=True) + "\n", mode=0o600)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot write the client round state: {exc}") from exc
