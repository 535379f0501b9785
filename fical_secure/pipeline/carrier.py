"""The carrier seam: what moves one stage's requests to the clients and their replies back.

A round's workflow (:mod:`fical_secure.pipeline.secagg_round`) is written
once and holds every server-side decision; a *carrier* only delivers. Each
pass of secure aggregation opens the carrier on that pass's
:class:`SecAggServer` and its :class:`~fical_secure.pipeline.multiset.Plan`
(the layout and, in the entry pass, the bucket selection), and gets an ``Ask``:
``ask(stage, {client key id: request})`` returns the replies that came back
(a missing one is a dropout). Two carriers implement it:

* :class:`InProcessSecAggCarrier` (here): every client in this process, for
  ``demo``, the tests and the attack suite;
* ``FlowerSecAggCarrier`` (:mod:`fical_secure.flower.server_secagg`): Flower
  messages to SuperNodes, whose ClientApp answers each stage.

A client answers a stage the same way behind either carrier: at the
masked-input stage it encodes its own items as the plan says
(:func:`~fical_secure.pipeline.multiset.client_vector`; over Flower the plan
travels encoded, :func:`~fical_secure.pipeline.multiset.encode_plan`); a
client that cannot encode them sends nothing (it fails closed, alone).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from fical_secure.crypto.enrollment import Roster
from fical_secure.crypto.identity import IdentityKey, IdentityPublicKey
from fical_secure.errors import AggregationError, FicalError, SecAggAbort
from fical_secure.pipeline.multiset import Plan, client_vector
from fical_secure.protocol.secagg.client import SecAggClient
from fical_secure.protocol.secagg.driver import Ask, UIntVector, step
from fical_secure.protocol.secagg.floors import SecAggFloors
from fical_secure.protocol.secagg.server import SecAggServer

log = logging.getLogger(__name__)


@dataclass
class Traffic:
    """Bytes a carrier moved, every pass of the round: replies up, requests down."""

    up: int = 0
    down: int = 0


class SecAggCarrier(Protocol):
    """Delivers the stages of one secure-aggregation pass; counts what it moved."""

    traffic: Traffic
    refused: dict[bytes, str]  # client key id -> why it could not encode its items (if known)

    def open_pass(self, server: SecAggServer, plan: Plan) -> Ask:
        """The transport of :func:`~fical_secure.protocol.secagg.driver.drive_stages`
        for the pass that ``server`` runs; ``plan`` goes with the masked-input request."""
        ...


@dataclass
class InProcessSecAggCarrier:
    """Every enrolled client in this process, each with its own items.

    A pass starts a fresh :class:`SecAggClient` per participant of the signed
    config (``client_classes`` may name another class for one client: a forger
    in the attack tests). A client that raises a typed error is silent from
    then on (a dropout), its error kept in ``errors``.
    """

    identities: Mapping[bytes, IdentityKey]
    server_public: IdentityPublicKey
    roster: Roster
    items: Mapping[bytes, Sequence[bytes]]
    floors: SecAggFloors = field(default_factory=SecAggFloors)
    client_classes: Mapping[bytes, type[SecAggClient]] = field(default_factory=dict)
    traffic: Traffic = field(default_factory=Traffic)
    refused: dict[bytes, str] = field(default_factory=dict)
    errors: dict[bytes, FicalError] = field(default_factory=dict)

    def open_pass(self, server: SecAggServer, plan: Plan) -> Ask:
        online = {
            cid: self.client_classes.get(cid, SecAggClient)(
                self.identities[cid], self.server_public, self.roster, floors=self.floors
            )
            for cid in server.params.participants
            if cid in self.identities
        }

        def ask(stage: int, requests: Mapping[bytes, bytes]) -> list[bytes]:
            replies = []
            for cid in sorted(online.keys() & requests.keys()):
                self.traffic.down += len(requests[cid])
                client = online[cid]
                try:
                    vector = self._vector(cid, client, plan) if stage == 2 else None
                    replies.append(step(client, stage, requests[cid], vector))
                except FicalError as exc:
                    self.errors[cid] = exc
                    del online[cid]
                    continue
                self.traffic.up += len(replies[-1])
            return replies

        return ask

    def _vector(self, cid: bytes, client: SecAggClient, plan: Plan) -> UIntVector | None:
        """What this client sums in the pass, as a Flower client computes it; None: no input."""
        if cid not in self.items:
            return None
        layout, selection = plan
        try:  # fails closed per client: one that cannot encode sends nothing
            return client_vector(self.items[cid], layout, client.config_hash, selection)
        except AggregationError as exc:
            self.refused[cid] = str(exc)
            return None

    def error_kinds(self) -> dict[str, int]:
        """Client-side errors by type, for an abort's note."""
        return dict(Counter(type(e).__name__ for e in self.errors.values()))


def abort_note(exc: SecAggAbort, carrier: SecAggCarrier, server: SecAggServer) -> SecAggAbort:
    """``exc`` restated with the kinds of replies the server refused before the abort
    (in the message: the round report quotes it), and in process the clients' errors."""
    kinds = sorted({r.error.__class__.__name__ for r in server.refused})
    out = SecAggAbort(f"{exc} (refused replies: {kinds or 'none'})")
    if isinstance(carrier, InProcessSecAggCarrier):
        out.add_note(f"client-side errors before the abort: {carrier.error_kinds() or 'none'}")
    return out
