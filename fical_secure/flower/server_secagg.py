"""The ServerApp's secure-aggregation round: the server learns only the entry multiset.

Message rounds on Flower's Message API, all carrying our own signed encodings:

1. ``train.fical_prepare``: the server-signed round config and roster. Each
   hospital runs its client pipeline (KCG -> scrub -> gate) and answers
   ``ready`` with its key id, or says its gates blocked it (nothing leaves).
2. Five ``train.fical_secagg`` rounds, one per secure-aggregation stage
   (advertise keys, share keys, masked input, consistency check, unmask), the
   stage logic being :func:`fical_secure.protocol.secagg.driver.drive_stages`
   and :class:`SecAggServer`, and the passes, retries and decoding
   :class:`~fical_secure.pipeline.secagg_round.SecAggRound`, exactly as in
   the in-process demo: this module only supplies the
   :class:`FlowerSecAggCarrier` (:mod:`fical_secure.pipeline.carrier`).
   At ``aggregate.min_support`` 1 each client sends the slot vector of its
   released entries; a residual slot collision re-runs the five stages with a
   fresh config (fresh slot key). At k >= 2 two runs of the five stages: bucket
   counts, then entries only in the buckets that reached k (the masked-input
   request carries the plan: k and the bucket selection), so the server
   learns only entries at least k hospitals hold.
3. Aggregate the anonymous entries and publish the signed global compendium
   through the store (the server pipeline's aggregate and publish stages), and
   ``evaluate.fical_result`` it to every participant, which verifies and stores it.

Routing: a key id goes to the node whose ready statement that key signed for
this round config (:mod:`fical_secure.protocol.secagg.ready`), and after stage
0 only to the node that returned its identity-signed key advert. The ready
reply carries nothing per item; what the server keeps (``store.sqlite``,
``secagg_round.json``, ``round.json``, its log) has parameters and counts, never
a client's text, entry ids, per-client figures or which client wrote an entry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fical_secure.crypto.keys import KeyBundle, Roster
from fical_secure.errors import FicalError, RoundAbortedError
from fical_secure.flower import wire
from fical_secure.flower.secagg_routing import advert_route, proven_ready
from fical_secure.flower.server_grid import enrollment_names, exchange, majority, message
from fical_secure.jsontypes import JsonObject
from fical_secure.pipeline import multiset as ms
from fical_secure.pipeline import secagg_round as sr
from fical_secure.pipeline.carrier import Traffic
from fical_secure.pipeline.runner import run_stages
from fical_secure.pipeline.server import (
    AggregateStage,
    PublishStage,
    ServerRoundState,
    ServerSettings,
)
from fical_secure.pipeline.transport_figures import TransportFigures
from fical_secure.protocol import RoundConfig, Server
from fical_secure.protocol.secagg.driver import Ask
from fical_secure.protocol.secagg.server import SecAggServer
from fical_secure.untrusted import MAX_CONFIG_BYTES, read_regular

if TYPE_CHECKING:
    from flwr.serverapp import Grid

    from fical_secure.config.server import ServerConfig

log = logging.getLogger(__name__)
MAX_ATTEMPTS = ms.MAX_ATTEMPTS
SUITE = "SecAgg+ (X25519, Shamir GF(2^31-1), AES-256-CTR masks), Ed25519 signatures; TLS 1.3"


@dataclass(frozen=True)
class SecAggServed:
    """A finished secure-aggregation round, ready to deliver."""

    state: ServerRoundState  # what the server published
    config: RoundConfig  # the round config its result is signed for
    transport: TransportFigures  # bytes up and down so far (the result not yet delivered)
    delivery_nodes: list[int]  # the survivors' nodes, which get the result


def run_secagg(grid: Grid, cfg: ServerConfig, report: JsonObject, nodes: list[int]) -> SecAggServed:
    """The whole secure-aggregation round on ``nodes``; its figures go into ``report``."""

    identity = KeyBundle.load(cfg.keys.private_key).identity
    roster = Roster.decode(read_regular(cfg.keys.roster, max_bytes=MAX_CONFIG_BYTES))
    server = Server.create(cfg.output / "store.sqlite", identity, roster)
    traffic = Traffic()
    try:
        round_id = time.time_ns() // 1_000_000
        config = server.open_round(
            round_id,
            min_clients=cfg.round.min_clients,
            collect_seconds=cfg.round.stage_timeout_seconds + 60,
        )
        started = time.perf_counter()
        ready, per_client, refused = _prepare(grid, cfg, (config, roster), nodes, traffic)
        seconds = {"prepare": round(time.perf_counter() - started, 3)}
        started = time.perf_counter()
        layout = ms.layout_for(
            len(ready), cfg.aggregate.min_support, cfg.aggregate.expected_distinct
        )
        timeouts = (cfg.round.secagg_stage_timeout_seconds,) * 5
        workflow = sr.SecAggRound(identity, roster, layout, round_id, timeouts, MAX_ATTEMPTS)
        carrier = FlowerSecAggCarrier(grid, cfg, roster, ready, traffic)
        outcome = workflow.collect(carrier, ready)
        seconds["secagg"] = round(time.perf_counter() - started, 3)
        settings = ServerSettings(
            dedupe_threshold=cfg.aggregate.dedupe_threshold, min_support=cfg.aggregate.min_support
        )
        state, rejected = sr.server_state(outcome, settings, ServerRoundState(server=server))
        run_stages(state, [AggregateStage(), PublishStage()], label="server")
    except FicalError:
        if server.state.round is not None and server.state.round.stage.name in (
            "COLLECTING",
            "AGGREGATING",
        ):
            server.abort("secure aggregation did not complete")
        raise
    finally:
        server.close()
    state.seconds.update(seconds)
    report.update(state.report)
    figures = sr.transport_figures(outcome, rejected, cfg.aggregate.min_support)
    report.update(
        {
            "round_id": round_id,
            "clients": len(outcome.survivors),
            "supernodes": len(nodes),
            "ready": len(ready),
            "refused": dict(refused),
            # no reply at prepare, or gone before the unmasking (a dropout of the protocol)
            "lost_supernodes": len(nodes) - sum(refused.values()) - len(outcome.survivors),
            "per_client": per_client,
            "secagg_participants": outcome.participants,
        }
    )
    transport = TransportFigures(
        "secagg",
        upload_bytes=traffic.up,
        round_config_bytes=traffic.down,
        counts={"carrier": "flower", **figures, "suite": SUITE},
    )
    report["transport"] = transport.to_dict()
    sr.record_server_state(cfg.output, figures)
    return SecAggServed(state, config, transport, sorted(ready[s] for s in outcome.survivors))


def _prepare(
    grid: Grid,
    cfg: ServerConfig,
    signed: tuple[RoundConfig, Roster],
    nodes: list[int],
    traffic: Traffic,
) -> tuple[dict[bytes, int], dict[str, dict[str, str]], dict[str, int]]:
    """Send the signed round config and roster; the proven ready clients (:func:`proven_ready`).

    Raises:
        RoundAbortedError: fewer than the protocol's 3 or ``round.min_clients`` are ready.
    """

    config, roster = signed
    log.info("stage prepare: round %d, %d SuperNodes", config.round_id, len(nodes))
    prepare = wire.record(config=config.encode(), roster=roster.encode())
    traffic.down += (len(config.encode()) + len(roster.encode())) * len(nodes)
    replies = exchange(
        grid,
        [message(prepare, n, wire.PREPARE, config.round_id) for n in nodes],
        cfg.round.stage_timeout_seconds,
        quorum=majority(cfg, len(nodes)),
        grace=cfg.round.straggler_grace_seconds,
    )
    ready, per_client, refused = proven_ready(replies, roster, enrollment_names(cfg), config)
    log.info("stage prepare: %d ready, %s", len(ready), refused or "none refused")
    if len(ready) < max(3, cfg.round.min_clients):
        raise RoundAbortedError(
            f"secure aggregation needs at least {max(3, cfg.round.min_clients)} ready clients"
            f" (3 is the protocol's minimum, round.min_clients {cfg.round.min_clients});"
            f" {len(ready)} were ready ({refused or 'none refused'}): start more hospitals, or use"
            " round.mode: sealed"
        )
    return ready, per_client, refused


@dataclass
class FlowerSecAggCarrier:
    """The :class:`~fical_secure.pipeline.carrier.SecAggCarrier` over Flower messages.

    The masked-input request also carries the round's plan (the threshold k and,
    in the entry pass, the bucket selection: public outcomes of the count pass).
    After stage 0 a client is reached only at the node that returned its
    identity-signed key advert for this round, the node its ready statement came from.
    """

    grid: Grid
    cfg: ServerConfig
    roster: Roster
    ready: Mapping[bytes, int]  # key id -> the node its ready statement came from
    traffic: Traffic = field(default_factory=Traffic)
    refused: dict[bytes, str] = field(default_factory=dict)  # stays with each hospital

    def open_pass(self, server: SecAggServer, plan: ms.Plan) -> Ask:
        encoded = ms.encode_plan(*plan)
        node_of: dict[bytes, int] = {}
        reply_limit = wire.MAX_FIELD_BYTES + server.params.length * 8
        round_id = server.round_id

        def ask(stage: int, requests: Mapping[bytes, bytes]) -> list[bytes]:
            if stage == 0:
                targets = {cid: node for cid, node in self.ready.items() if cid in requests}
            else:
                targets = {cid: node_of[cid] for cid in requests if cid in node_of}
            messages = []
            for cid, node in sorted(targets.items()):
                if stage == 2:
                    content = wire.record(stage=str(stage), request=requests[cid], plan=encoded)
                else:
                    content = wire.record(stage=str(stage), request=requests[cid])
                self.traffic.down += len(requests[cid]) + (len(encoded) if stage == 2 else 0)
                messages.append(message(content, node, wire.SECAGG, round_id))
            out = []
            # every neighbourhood survives params.tolerated_dropouts: once all but that many
            # replied, a missing client is treated as a dropout after the grace period
            quorum = max(1, len(messages) - server.params.tolerated_dropouts)
            replies = exchange(
                self.grid,
                messages,
                server.timeout_s(stage),
                quorum=quorum,
                grace=self.cfg.round.straggler_grace_seconds,
            )
            for reply in replies:
                node = reply.metadata.src_node_id
                try:
                    why = wire.refusal(reply, wire.STATUS_OK)
                    if why is not None:
                        log.warning("stage secagg %d: SuperNode %d %s", stage, node, why)
                        continue
                    # a masked input carries the whole slot vector: the bound follows the config
                    blob = wire.field_bytes(reply, "reply", limit=reply_limit)
                    self.traffic.up += len(blob)
                    if stage == 0:
                        route = advert_route(blob, server, self.roster, dict(self.ready), node)
                        node_of[route] = node
                except FicalError as exc:
                    log.warning("stage secagg %d: SuperNode %d: %s", stage, node, exc)
                    continue
                out.append(blob)
            log.info("stage secagg %d: %d of %d replied", stage, len(out), len(messages))
            return out

        return ask
