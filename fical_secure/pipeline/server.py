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
from typing import TYPE_CHECKING

from fical_secure.aggregate import aggregate
from fical_secure.aggregate.intake import accept_payloads
from fical_secure.errors import CryptoError, PipelineError, ProtocolError, RoundAbortedError
from fical_secure.jsontypes import JsonObject
from fical_secure.kcg.schema import Compendium
from fical_secure.pipeline.runner import Stage
from fical_secure.tlu.embedding import default_embedder

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
    owners: dict[bytes, str] = field(default_factory=dict)  # enrollment name by sender key id
    min_clients: int = 1  # acceptable compendiums the round needs
    received: list[Compendium] = field(default_factory=list)  # accepted compendiums
    rejected: dict[str, str] = field(default_factory=dict)  # owner -> why its payload failed
    global_compendium: Compendium | None = None
    result: GlobalResult | None = None  # the server-signed global compendium
    # secure aggregation: clients whose masked inputs the sum holds (no envelope is stored)
    contributors: int | None = None
    report: JsonObject = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rejected_payloads(self) -> int:
        return len(self.rejected)

    def need_server(self) -> Server:
        if self.server is None:
            raise PipelineError("this round has no protocol server (plain-text ablation)")
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
    """Stop collecting; decrypt what was stored; attribute each payload to its authenticated sender.

    Owners come from the server's enrollment (``owners``), never from the payload;
    a payload that fails decoding is rejected with its reason and its sender
    excluded (:func:`fical_secure.aggregate.intake.accept_payloads`).

    Raises:
        RoundAbortedError: fewer than ``min_clients`` acceptable compendiums; the
            protocol round is aborted (signed Abort persisted).
    """

    name: str = "close"

    def run(self, state: ServerRoundState) -> None:
        if state.server is not None:
            state.plaintexts = state.server.close_round()
        intake = accept_payloads(state.plaintexts, state.owners)
        state.rejected = dict(intake.rejected)
        state.report["rejected_clients"] = dict(state.rejected)
        if len(intake.accepted) < state.min_clients:
            exc = RoundAbortedError(
                f"only {len(intake.accepted)} of {state.min_clients} required clients sent an "
                f"acceptable compendium (rejected: {', '.join(sorted(intake.rejected)) or 'none'})"
            )
            if state.server is not None:
                state.server.abort(str(exc))
            raise exc
        state.received = intake.accepted


@dataclass(frozen=True)
class AggregateStage:
    """Union of the accepted compendiums, near-duplicates merged (faiss)."""

    name: str = "aggregate"

    def run(self, state: ServerRoundState) -> None:
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
    """Sign the global compendium and end the round; the protocol server persists it.

    The one publishing step of every mode and driver: a sealed round publishes
    what its store holds; a secure-aggregation round (``contributors`` set)
    publishes the aggregate of the unmasked sum, whose contributors the
    unmasking stage counted (``Server.publish_secure_aggregate``).
    """

    name: str = "publish"

    def run(self, state: ServerRoundState) -> None:
        if state.global_compendium is None:
            raise PipelineError("publish needs the aggregate stage first")
        if state.server is None:
            return  # the plain-text ablation: nothing is signed
        payload = state.global_compendium.to_bytes()
        if state.contributors is None:
            state.result = state.server.publish(payload)
        else:
            state.result = state.server.publish_secure_aggregate(payload, state.contributors)


def server_stages() -> list[Stage[ServerRoundState]]:
    """The stages after collection, in order."""
    return [CloseStage(), AggregateStage(), PublishStage()]
