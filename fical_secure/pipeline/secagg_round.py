"""The secure-aggregation round, written once: the server learns only the entry multiset.

:class:`SecAggRound` is the server's whole workflow after the ready clients
are known: it runs the passes of the anonymous multiset
(:func:`~fical_secure.pipeline.multiset.collect_multiset`: collision retries
at k = 1, the count and entry passes at k >= 2), each pass a fresh
:class:`SecAggServer` among the previous pass's survivors, its stages driven
by :func:`~fical_secure.protocol.secagg.driver.drive_stages` through a
:class:`~fical_secure.pipeline.carrier.SecAggCarrier`; then it hands the
server pipeline one anonymous single-item compendium per decoded copy, so
``support`` is counted from the aggregate, never claimed, and no compendium
carries a client's name. Publishing is the server pipeline's
:class:`~fical_secure.pipeline.server.PublishStage` through the durable
store (``Server.publish_secure_aggregate``), the same in both drivers.

Where each step runs, by driver (in process: ``demo``, tests, attack suite;
Flower: the ServerApp):

=========================  ==================================  ============================
step                       in process                          Flower
=========================  ==================================  ============================
round config, store        ``transport.SecAggTransportStage``  ``server_secagg.run_secagg``
ready statements           ``transport.SecAggTransportStage``  ``server_secagg._prepare``
passes, retries, decoding  :class:`SecAggRound`                :class:`SecAggRound`
stage delivery             ``InProcessSecAggCarrier``          ``FlowerSecAggCarrier``
aggregate, publish         ``server.AggregateStage``,          the same two stages
                           ``server.PublishStage``
=========================  ==================================  ============================

The server's record of the round (``secagg_round.json``, :func:`record_server_state`)
holds parameters and counts, no text.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fical_secure.aggregate.threshold import Selection
from fical_secure.atomic import write_json_atomic
from fical_secure.crypto.enrollment import Roster
from fical_secure.crypto.identity import IdentityKey
from fical_secure.errors import SecAggAbort
from fical_secure.jsontypes import JsonObject
from fical_secure.pipeline.carrier import InProcessSecAggCarrier, SecAggCarrier, abort_note
from fical_secure.pipeline.multiset import (
    MAX_ATTEMPTS,
    Layout,
    MultisetResult,
    PassOutcome,
    anonymous_compendiums,
    collect_multiset,
)
from fical_secure.pipeline.server import ServerRoundState, ServerSettings
from fical_secure.protocol.secagg.client import SecAggClient
from fical_secure.protocol.secagg.driver import Federation, drive_stages
from fical_secure.protocol.secagg.params import DEFAULT_TIMEOUTS_S, SecAggParams
from fical_secure.protocol.secagg.server import SecAggServer

log = logging.getLogger(__name__)
BITS = 32


@dataclass(frozen=True)
class SecAggOutcome:
    """What the passes of one round produced: the multiset and the round's public shape."""

    multiset: MultisetResult
    participants: int  # ready clients the first pass started with
    survivors: tuple[bytes, ...]  # key ids whose inputs the last sum holds
    describe: str  # the last pass's parameters, for the reports


@dataclass
class SecAggRound:
    """The server side of one secure-aggregation round, over any carrier.

    Pass ``attempt`` runs as secure-aggregation round ``round_id + attempt - 1``
    under a fresh config and a fresh random neighbour graph, among the clients
    that survived the previous pass.
    """

    identity: IdentityKey
    roster: Roster
    layout: Layout
    round_id: int
    timeouts_s: tuple[int, ...] = DEFAULT_TIMEOUTS_S
    max_attempts: int = MAX_ATTEMPTS
    _survivors: tuple[bytes, ...] = field(default=(), init=False)
    _describe: str = field(default="", init=False)

    def collect(self, carrier: SecAggCarrier, ready: Collection[bytes]) -> SecAggOutcome:
        """The anonymous multiset of the ``ready`` clients' items.

        Raises:
            AggregationError: collisions remained after ``max_attempts`` rounds.
            SecAggAbort: too few clients survived a pass.
        """
        participants = tuple(sorted(ready))
        self._survivors = participants

        def run_pass(attempt: int, length: int, selection: Selection | None) -> PassOutcome:
            return self._pass(carrier, attempt, length, selection)

        result = collect_multiset(run_pass, self.layout, max_attempts=self.max_attempts)
        log.info("stage secagg: %d items decoded", sum(result.items.values()))
        return SecAggOutcome(result, len(participants), self._survivors, self._describe)

    def _pass(
        self, carrier: SecAggCarrier, attempt: int, length: int, selection: Selection | None
    ) -> PassOutcome:
        joined = self._survivors
        rec = SecAggParams.recommended(joined, bits=BITS, length=length, graph_seed=os.urandom(32))
        params = SecAggParams(
            joined, rec.threshold, rec.k, BITS, length, rec.graph_seed, self.timeouts_s
        )
        server = SecAggServer(self.identity, self.roster, params, self.round_id + attempt - 1)
        log.info("stage secagg: round %d of the multiset, %s", attempt, params.describe())
        up, down = carrier.traffic.up, carrier.traffic.down
        ask = carrier.open_pass(server, (self.layout, selection))
        try:
            total = drive_stages(server, ask)
        except SecAggAbort as exc:
            raise abort_note(exc, carrier, server) from None
        log.info("stage secagg: unmasked the sum of %d clients", len(server.survivors))
        self._survivors, self._describe = server.survivors, params.describe()
        return PassOutcome(
            total,
            server.survivors,
            server.config_hash,
            server.round_id,
            carrier.traffic.up - up,
            carrier.traffic.down - down,
            dict(carrier.refused),
        )


def server_state(
    outcome: SecAggOutcome, settings: ServerSettings, state: ServerRoundState | None = None
) -> tuple[ServerRoundState, int]:
    """The server pipeline's state for the aggregate and publish stages; (state, items rejected).

    The received compendiums are anonymous single-item ones (no client order
    survives); ``contributors`` is how many clients the sum holds.
    """
    received, rejected = anonymous_compendiums(outcome.multiset.items)
    out = state if state is not None else ServerRoundState(settings=settings)
    out.settings, out.received = settings, received
    out.contributors = len(outcome.survivors)
    return out, rejected


def transport_figures(outcome: SecAggOutcome, rejected: int, min_support: int) -> JsonObject:
    """The round's secure-aggregation figures, for the report and the server's record.

    Counts and parameters only, never text, entry ids or per-client figures.
    """
    m = outcome.multiset
    return {
        "attempts": m.attempts,
        "participants": outcome.participants,
        "survivors": len(outcome.survivors),
        "secagg": outcome.describe,
        "items_decoded": sum(m.items.values()),
        "rejected_payloads": rejected,
        "min_support": min_support,
        "masked_input_bytes_per_client": m.upload_bytes_per_client,
        "below_threshold_slots": m.below_threshold,
        "dropped_collisions": m.dropped_collisions,
        "forged_buckets": m.forged_buckets,
        "forged_items": m.forged_items,
    }


def record_server_state(folder: Path, record: Mapping[str, object]) -> None:
    """What the server keeps of the round: parameters and counts, never text."""
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / "secagg_round.json", dict(record))


def anonymous_multiset(
    federation: Federation,
    items: Mapping[bytes, Sequence[bytes]],
    layout: Layout,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    client_classes: Mapping[bytes, type[SecAggClient]] | None = None,
) -> MultisetResult:
    """:class:`SecAggRound` with every client of ``federation`` in this process.

    The federation supplies the enrolled identities, the roster, the clients'
    floors, the first round id and the stage timeouts; a client whose items
    cannot be encoded sends nothing (named in ``refused_clients``).

    Raises:
        AggregationError: collisions remained after ``max_attempts`` rounds.
        SecAggAbort: too few clients survived a pass.
    """
    carrier = InProcessSecAggCarrier(
        federation.client_identities,
        federation.server_identity.public,
        federation.roster,
        items,
        floors=federation.floors,
        client_classes=dict(client_classes or {}),
    )
    workflow = SecAggRound(
        federation.server_identity,
        federation.roster,
        layout,
        federation.server.round_id,
        federation.server.params.timeouts_s,
        max_attempts,
    )
    return workflow.collect(carrier, federation.client_identities).multiset
