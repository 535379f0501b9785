"""A secure-aggregation client's state at rest, between the stages of one round.

Flower runs each message of a round in a fresh ClientApp process, so the
client's secrets (per-round X25519 keys, self-mask seed, the shares it holds
of its neighbours' secrets) must survive from one stage to the next. They are
kept in one file beside the client's key, sealed with the existing envelope
to the client's own static X25519 key and signed by its own identity, bound
to the round and config hash it belongs to; written atomically, mode 0600.
A tampered, truncated or foreign file fails to open (typed error), never
yields a half-restored client.

The file also keeps a high-water mark: the highest secure-aggregation round
this client joined, so a replayed configuration of an older round is refused
across restarts, and the config hash of the last round it finished (the one
whose signed global result it will accept), and the aggregations this client
joined (:mod:`.participation`). A finished or aborted round leaves no secret
in it. Each write records the value of a monotonic counter kept outside the
file (:mod:`.counter`): a file older than the counter is a rollback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fical_secure.atomic import write_bytes_atomic
from fical_secure.crypto.bundle import KeyBundle
from fical_secure.crypto.enrollment import Roster
from fical_secure.crypto.envelope import EnvelopeContext, open_envelope, read_header, seal
from fical_secure.crypto.identity import IdentityPublicKey, key_id_of
from fical_secure.errors import FicalError, RollbackError, StoreError
from fical_secure.protocol.secagg.client import SecAggClient
from fical_secure.protocol.secagg.common import Phase
from fical_secure.protocol.secagg.counter import MonotonicCounter
from fical_secure.protocol.secagg.floors import SecAggFloors
from fical_secure.protocol.secagg.messages import SecAggConfig
from fical_secure.protocol.secagg.participation import Joined

FORMAT: Final = "fical-secure secagg-state-file v2"
AT_REST_STAGE: Final = 0xF0  # envelope stage code of a state sealed to oneself (no wire use)
MAX_FILE_BYTES: Final = 16 * 1024 * 1024 + 4096


@dataclass(frozen=True)
class Saved:
    """What the file holds: the high-water mark, and the client of the current round."""

    round_id: int
    config_hash: bytes
    finished: bool
    client: bytes | None  # SecAggClient.export_state(), while the round is open
    joined: tuple[Joined, ...] = ()  # every aggregation it helped unmask
    counter: int = 0  # the monotonic counter's value when written


class SecAggStateFile:
    """Reads and writes one client's sealed secure-aggregation state."""

    def __init__(
        self,
        path: Path,
        bundle: KeyBundle,
        server: IdentityPublicKey,
        counter: MonotonicCounter | None = None,
    ) -> None:
        """``counter`` defaults to ``secagg-counter.sqlite`` beside the file."""
        self.path, self._bundle, self._server = path, bundle, server
        self.counter = counter or MonotonicCounter(
            path.with_name("secagg-counter.sqlite"), bundle.identity.key_id
        )

    def _context(self, round_id: int, config_hash: bytes) -> EnvelopeContext:
        return EnvelopeContext(round_id, AT_REST_STAGE, config_hash)

    def load(self) -> Saved | None:
        """The saved state, or None if there is none.

        Raises:
            StoreError: the file is unreadable, tampered, foreign or malformed.
            RollbackError: the file is older than the counter, or gone while it is not 0.
        """
        saved = self._read()
        mark = self.counter.value()
        if (0 if saved is None else saved.counter) < mark:
            raise RollbackError(
                f"{self.path}: the secure-aggregation state is older than its rollback counter"
                f" ({mark}): a copy was put back or the file removed; nothing is answered"
            )
        return saved

    def _read(self) -> Saved | None:
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read: {exc}") from None
        if len(blob) > MAX_FILE_BYTES:
            raise StoreError(f"{self.path}: larger than any secure-aggregation state")
        try:
            header = read_header(blob)
            plain = open_envelope(
                blob,
                recipient=self._bundle.encryption,
                sender_public=self._bundle.identity.public,
                context=self._context(header.round_id, header.config_hash),
            )
            raw = json.loads(plain)
            if not isinstance(raw, dict) or raw.get("format") != FORMAT:
                raise ValueError("not a secure-aggregation state file")
            if bytes.fromhex(raw["server"]) != self._server.key_id:
                raise ValueError("written for another server key")
            saved = Saved(
                int(raw["round_id"]),
                bytes.fromhex(raw["config_hash"]),
                bool(raw["finished"]),
                None if raw["client"] is None else bytes.fromhex(raw["client"]),
                tuple(Joined.from_json(j) for j in raw["joined"]),
                int(raw["counter"]),
            )
        except FicalError as exc:
            raise StoreError(f"{self.path}: does not open: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"{self.path}: malformed: {exc}") from None
        if (saved.round_id, saved.config_hash) != (header.round_id, header.config_hash):
            raise StoreError(f"{self.path}: the sealed header and the state disagree")
        return saved

    def save(self, saved: Saved) -> None:
        """Seal and write atomically (mode 0600) at the next counter value, then advance it."""
        value = max(self.counter.value(), saved.counter) + 1
        plain = json.dumps(
            {
                "format": FORMAT,
                "server": self._server.key_id.hex(),
                "round_id": saved.round_id,
                "config_hash": saved.config_hash.hex(),
                "finished": saved.finished,
                "client": None if saved.client is None else saved.client.hex(),
                "joined": [j.to_json() for j in saved.joined],
                "counter": value,
            },
            sort_keys=True,
        ).encode()
        public = self._bundle.encryption.public_bytes()
        blob = seal(
            plain,
            sender=self._bundle.identity,
            recipient_public=public,
            recipient_key_id=key_id_of(public),
            context=self._context(saved.round_id, saved.config_hash),
        )
        write_bytes_atomic(self.path, blob, mode=0o600)
        self.counter.advance_to(value)

    # --- what the ClientApp calls -------------------------------------------
    def start(
        self, config: bytes, roster: Roster, floors: SecAggFloors | None = None
    ) -> SecAggClient:
        """A fresh client for the round of ``config``, refused if not newer than the mark.

        ``floors``: the weakest signed parameters this client accepts (its profile's).

        Raises:
            RollbackError: ``config`` is of a round this client already joined
                (or an older one), or is a second config of that round.
            MessageFormatError, InvalidSignature: a malformed or forged config.
        """
        cfg = SecAggConfig.decode(config)
        cfg.verify(self._server)
        saved = self.load()
        if saved is not None and cfg.round_id <= saved.round_id:
            raise RollbackError(
                f"secure-aggregation round {cfg.round_id} is not newer than round"
                f" {saved.round_id}, which this client already joined: a replay"
            )
        return SecAggClient(self._bundle.identity, self._server, roster, floors=floors)

    def resume(self, roster: Roster) -> SecAggClient:
        """The client of the open round.

        Raises:
            StoreError: there is no open round (it finished, aborted, or never began).
        """
        saved = self.load()
        if saved is None or saved.client is None:
            raise StoreError(
                "no secure-aggregation round is open on this client: the request is stale"
                " or out of order"
            )
        return SecAggClient.restore(self._bundle.identity, self._server, roster, saved.client)

    def keep(self, client: SecAggClient, joined: Joined | None = None) -> None:
        """Persist ``client`` after a stage (and ``joined`` into the history).

        A finished or aborted round keeps no secret.
        """
        if not hasattr(client, "config_hash"):
            return  # it refused its config: nothing to keep, the mark stays
        done = client.phase in (Phase.DONE, Phase.ABORTED)
        before = self.load()
        history = () if before is None else before.joined
        self.save(
            Saved(
                client.round_id,
                client.config_hash,
                client.phase is Phase.DONE,
                None if done else client.export_state(),
                history if joined is None else (*history, joined),
                0 if before is None else before.counter,
            )
        )

    def abandon(self, client: SecAggClient) -> None:
        """Persist that this client walked out of its open round: no secret is kept."""
        before = self.load()
        self.save(
            Saved(
                client.round_id,
                client.config_hash,
                False,
                None,
                () if before is None else before.joined,
                0 if before is None else before.counter,
            )
        )

    def history(self) -> tuple[Joined, ...]:
        """The aggregations this client joined (its participation record)."""
        saved = self.load()
        return () if saved is None else saved.joined

    def finished_config_hash(self) -> bytes:
        """The config hash of the last round this client finished (its result is for it).

        Raises:
            StoreError: the last round it joined did not finish.
        """
        saved = self.load()
        if saved is None or not saved.finished:
            raise StoreError("this client finished no secure-aggregation round to take a result of")
        return saved.config_hash


def state_path(key_path: Path) -> Path:
    """Where the state of the client whose key is ``key_path`` lives (beside it)."""
    return key_path.parent / "secagg-state.bin"
