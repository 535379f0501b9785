"""The sealed round, written once: each client's compendium sealed to the server, stored, merged.

:class:`SealedRound` is the server's workflow of a sealed round over a
:class:`SealedCarrier`: open the round in the durable store
(:meth:`SealedRound.open`), send the signed round config and roster and
verify-and-store every sealed reply (:meth:`SealedRound.collect`: the server
pipeline's :func:`~fical_secure.pipeline.server.receive_envelope`, then its
:class:`~fical_secure.pipeline.server.CloseStage`), and, after the aggregate
and publish stages, hand every accepted client its receipt and the signed
global compendium (:meth:`SealedRound.deliver`). Two carriers implement the
seam:

* :class:`InProcessSealedCarrier` (here): every client in this process, for
  ``demo``, the tests and the attack suite;
* ``FlowerSealedCarrier`` (:mod:`fical_secure.flower.server_app`): Flower
  messages to SuperNodes, whose ClientApp runs the client pipeline and seals.

Where each step runs, by driver:

=======================  ====================================  ===========================
step                     in process                            Flower
=======================  ====================================  ===========================
client pipeline, seal    ``stages.EachClient``, this carrier   ``client_app.handle_submit``
open, collect, close     :class:`SealedRound`                  :class:`SealedRound`
aggregate, publish       ``server.AggregateStage``,            the same two stages
                         ``server.PublishStage``
receipt and result       :class:`SealedRound`, this carrier    ``client_app.handle_result``
=======================  ====================================  ===========================
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from fical_secure.crypto.enrollment import Roster
from fical_secure.errors import PipelineError, ProtocolError
from fical_secure.pipeline.client import seal_release
from fical_secure.pipeline.client_state import ClientRoundState
from fical_secure.pipeline.server import CloseStage, ServerRoundState, receive_envelope
from fical_secure.protocol import Client, GlobalResult, Receipt, RoundConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submission:
    """One client's sealed reply: where it came from (a node, a client id) and its envelope."""

    route: Hashable
    envelope: bytes


@dataclass(frozen=True)
class Submitted:
    """What the submit stage brought back: sealed replies and refusals by kind."""

    submissions: tuple[Submission, ...]
    refused: Counter[str] = field(default_factory=Counter)  # kind -> replies with no envelope


class SealedCarrier(Protocol):
    """Delivers the sealed round's two messages; the workflow decides everything else."""

    def submit(self, config: RoundConfig, roster: Roster) -> Submitted:
        """Send the signed round config and roster to every client; their sealed replies."""
        ...

    def deliver(
        self, receipts: Mapping[Hashable, Receipt | None], config: RoundConfig, result: GlobalResult
    ) -> int:
        """Send each route its receipt (None: none) and the signed result; how many stored it."""
        ...


@dataclass
class SealedRound:
    """The server side of one sealed round (the protocol server holds the durable store)."""

    state: ServerRoundState
    roster: Roster
    config: RoundConfig | None = None
    accepted: dict[Hashable, Receipt] = field(default_factory=dict)  # route -> signed receipt
    upload_bytes: int = 0  # every envelope received

    def open(self, round_id: int, min_clients: int, collect_seconds: int = 600) -> RoundConfig:
        """Open the round in the store; the signed round config the clients will check."""
        self.config = self.state.need_server().open_round(
            round_id, min_clients=min_clients, collect_seconds=collect_seconds
        )
        self.state.min_clients = self.config.min_clients
        return self.config

    def collect(self, carrier: SealedCarrier) -> Submitted:
        """Submit, verify and store every envelope, then close the round (decrypt, intake).

        Raises:
            RoundAbortedError: fewer than ``min_clients`` acceptable compendiums (the
                round is aborted in the store).
            StoreError: the store failed; nothing was acknowledged.
        """
        config = self.need_config()
        submitted = carrier.submit(config, self.roster)
        self.state.refused.update(submitted.refused)
        for sub in submitted.submissions:
            self.upload_bytes += len(sub.envelope)
            receipt = receive_envelope(self.state, sub.envelope)
            if receipt is not None:
                self.accepted[sub.route] = receipt
        log.info(
            "stage verify+store: %d accepted, refused %s",
            len(self.accepted),
            dict(self.state.refused),
        )
        CloseStage().run(self.state)
        return submitted

    def deliver(self, carrier: SealedCarrier) -> int:
        """Every accepted client gets its receipt and the signed result; how many stored it.

        Raises:
            PipelineError: the publish stage has not run.
        """
        if self.state.result is None:
            raise PipelineError("deliver needs the publish stage first")
        return carrier.deliver(dict(self.accepted), self.need_config(), self.state.result)

    def need_config(self) -> RoundConfig:
        if self.config is None:
            raise PipelineError("the sealed round has not been opened")
        return self.config


@dataclass
class InProcessSealedCarrier:
    """Every client in this process: each seals its release, then checks receipt and result.

    ``clients`` are the protocol clients (durable round state) and
    ``releases`` each one's pipeline state, by client id.
    """

    clients: Mapping[str, Client]
    releases: Mapping[str, ClientRoundState]

    def submit(self, config: RoundConfig, roster: Roster) -> Submitted:
        subs = tuple(
            Submission(cid, seal_release(self.clients[cid], config, self.releases[cid], roster))
            for cid in self.releases
        )
        return Submitted(subs)

    def deliver(
        self, receipts: Mapping[Hashable, Receipt | None], config: RoundConfig, result: GlobalResult
    ) -> int:
        wire = result.encode()
        for route, receipt in receipts.items():
            client = self.clients[str(route)]
            if receipt is not None:
                client.check_receipt(Receipt.decode(receipt.encode()))
            if client.check_result(GlobalResult.decode(wire)) != result.payload:
                raise ProtocolError("a client read back a different global compendium")
        return len(receipts)
