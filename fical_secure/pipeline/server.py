"""The server pipeline of one round: verify -> store -> aggregate -> publish.

:func:`receive_envelope` is the verify-and-store step for one sealed
submission (the protocol server authenticates before it decrypts and
acknowledges only after the commit); a refused envelope is recorded with its
error type, never dropped silently. Then :class:`CloseStage`,
:class:`AggregateStage` and :class:`PublishStage` run once per round. Both
drivers use them: the in-process demo and the Flower ServerApp.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fical_secure.errors import CryptoError, ProtocolError, StageError
from fical_secure.kcg.schema import Compendium
from fical_secure.pipeline.runner import Stage

if TYPE_CHECKING:
    from fical_secure.protocol import GlobalResult, Receipt, Server

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerSettings:
    """How the server merges what it accepted."""

    dedupe_threshold: float = 0.9
    min_support: int = 1


@dataclass
class ServerRoundState:
    """What the server's stages produce for one round.

    ``server`` is None only for the plain-text ablation, whose payloads are
    put in ``plaintexts`` by the driver directly.
    """

    settings: ServerSettings = field(default_factory=ServerSettings)
    server: Server | None = None
    receipts: dict[bytes, Receipt] = field(default_factory=dict)  # by sender key id
    refused: Counter[str] = field(default_factory=Counter)  # error type -> envelopes refused
    plaintexts: list[tuple[bytes, bytes]] = field(default_factory=list)  # (sender, payload)
    received: list[Compendium] = field(default_factory=list)  # accepted compendiums
    rejected_payloads: int = 0
    global_compendium: Compendium | None = None
    result: GlobalResult | None = None  # the server-signed global compendium
    report: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def need_server(self) -> Server:
        if self.server is None:
            raise StageError("this round has no protocol server (plain-text ablation)")
        return self.server


def receive_envelope(state: ServerRoundState, envelope: bytes) -> Receipt | None:
    """Verify and durably store one sealed submission; its signed receipt, or None if refused.

    A refusal (not enrolled, bad signature, replay, wrong round, ...) is
    counted in ``state.refused`` by error type and logged; the store is
    unchanged by it.

    Raises:
        StoreError: the store failed; nothing was acknowledged.
    """
    server = state.need_server()
    try:
        receipt = server.receive(envelope)
    except (CryptoError, ProtocolError) as exc:
        state.refused[type(exc).__name__] += 1
        log.warning("submission refused: %s: %s", type(exc).__name__, exc)
        return None
    state.receipts[receipt.sender_key_id] = receipt
    return receipt


@dataclass(frozen=True)
class CloseStage:
    """Stop collecting; decrypt what was stored; decode the compendiums (schema-checked)."""

    name: str = "close"

    def run(self, state: ServerRoundState) -> None:
        from fical_secure.pipeline.transport import decode_payloads

        if state.server is not None:
            state.plaintexts = state.server.close_round()
        state.received, state.rejected_payloads = decode_payloads(state.plaintexts)


@dataclass(frozen=True)
class AggregateStage:
    """Union of the accepted compendiums, near-duplicates merged (faiss)."""

    name: str = "aggregate"

    def run(self, state: ServerRoundState) -> None:
        from fical_secure.aggregate import aggregate
        from fical_secure.tlu.embedding import default_embedder

        s = state.settings
        glob = aggregate(
            state.received,
            embedder=default_embedder(),
            threshold=s.dedupe_threshold,
            min_support=s.min_support,
        )
        state.global_compendium = glob
        state.report["global_entries"] = len(glob.entries)
        state.report["global_compendium_bytes"] = len(glob.to_bytes())
        state.report["client_entries_received"] = sum(len(c.entries) for c in state.received)


@dataclass(frozen=True)
class PublishStage:
    """Sign the global compendium and end the round (the protocol server persists it)."""

    name: str = "publish"

    def run(self, state: ServerRoundState) -> None:
        if state.global_compendium is None:
            raise StageError("publish needs the aggregate stage first")
        if state.server is not None:
            state.result = state.server.publish(state.global_compendium.to_bytes())


def server_stages() -> list[Stage[ServerRoundState]]:
    """The stages after collection, in order."""
    return [CloseStage(), AggregateStage(), PublishStage()]
