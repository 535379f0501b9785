"""Where a server keeps its per-round X25519 private keys between restarts.

A live round must survive a restart, and the store keeps only sealed
envelopes, so the round's private key must persist too. Each key is its own
0600 key file in a 0700 directory beside the database, written atomically and
fsynced by :mod:`fical_secure.crypto` BEFORE the round row that names it
commits; the database holds only the key id. When a round ends (DONE or
ABORTED) its key file is deleted: the sealed envelopes left in the store can
then no longer be opened by anyone, which gives forward secrecy to data at rest.

Trade-off: the keys are protected by file permissions, not by a wrapping key
(a wrapping key would itself need a home; an HSM or OS keyring is the upgrade
path). Whoever can read the server's files during a live round can open that
round's envelopes, exactly as they could read the server's memory.
"""

from __future__ import annotations

import stat
from pathlib import Path

from fical_secure.atomic import fsync_directory
from fical_secure.crypto.keys import RoundKey
from fical_secure.errors import CryptoError, StoreError


class RoundKeyVault:
    """A directory of round key files named by key id."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def beside(cls, store_path: Path) -> RoundKeyVault:
        """The vault of the store at ``store_path`` (``<store>.keys/``, mode 0700).

        Raises:
            StoreError: if the directory cannot be created or is open to others.
        """
        directory = store_path.with_name(store_path.name + ".keys")
        try:
            directory.mkdir(mode=0o700, exist_ok=True)
            mode = stat.S_IMODE(directory.stat().st_mode)
        except OSError as exc:
            raise StoreError(f"cannot create the round key directory {directory}: {exc}") from exc
        if mode & 0o077:
            raise StoreError(f"{directory} has mode {mode:o}; it holds round keys: chmod 700 it")
        return cls(directory)

    def _path(self, key_id: bytes) -> Path:
        return self.directory / f"{key_id.hex()}.key"

    def put(self, key: RoundKey) -> bytes:
        """Persist ``key`` (atomic, fsynced, 0600); returns its key id.

        Raises:
            StoreError: if it cannot be written.
        """
        try:
            key.save(self._path(key.key_id))
        except (CryptoError, OSError) as exc:
            raise StoreError(f"cannot persist the round key: {exc}") from exc
        return key.key_id

    def get(self, key_id: bytes) -> RoundKey:
        """Load the round key named ``key_id``.

        Raises:
            StoreError: if it is missing, unreadable, too open, or not that key.
        """
        try:
            key = RoundKey.load(self._path(key_id))
        except (CryptoError, OSError) as exc:
            raise StoreError(f"cannot load round key {key_id.hex()}: {exc}") from exc
        if key.key_id != key_id:
            raise StoreError(f"round key file {key_id.hex()} holds another key")
        return key

    def discard(self, key_id: bytes) -> None:
        """Delete a finished round's key (idempotent)."""
        try:
            self._path(key_id).unlink(missing_ok=True)
            fsync_directory(self.directory)
        except OSError as exc:
            raise StoreError(f"cannot delete round key {key_id.hex()}: {exc}") from exc

    def prune(self, keep: set[bytes]) -> None:
        """Delete every key file not in ``keep`` (orphans of crashed round openings)."""
        for path in self.directory.glob("*.key"):
            try:
                key_id = bytes.fromhex(path.stem)
            except ValueError:
                continue  # not ours: leave it for the operator
            if key_id not in keep:
                self.discard(key_id)
