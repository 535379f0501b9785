"""The ServerApp's secure-aggregation round: the server learns only the entry multiset.

Message rounds on Flower's Message API, all carrying our own signed encodings:

1. ``train.fical_prepare``: the server-signed round config and roster. Each
   hospital runs its client pipeline (KCG -> scrub -> gate) and answers
   ``ready`` with its key id, or says its gates blocked it (nothing leaves).
2. Five ``train.fical_secagg`` rounds, one per secure-aggregation stage
   (advertise keys, share keys, masked input, consistency check, unmask), the
   stage logic being :func:`fical_secure.protocol.secagg.driver.drive_stages`
   and :class:`SecAggServer`, exactly as in the in-process demo. Each client
   sends the slot vector of its released entries under SecAgg+ masks; the
   server unmasks only the sum and decodes the multiset. A residual slot
   collision re-runs the five stages with a fresh config (fresh slot key).
3. Aggregate the anonymous entries (the server pipeline's stage), sign the
   global compendium for the round config, and ``evaluate.fical_result`` it to
   every participant, which verifies and stores it.

Routing: stage-0 replies are identity-signed, so the server maps each key id to
the SuperNode that proved it; later per-client requests go to that node only.
What the server keeps (``store.sqlite``, ``secagg_round.json``, its log) has
parameters and counts, never a client's text or which client wrote an entry.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from fical_secure.errors import (
    AggregationError,
    FicalError,
    MessageFormatError,
    RoundAbortedError,
    SecAggAbort,
)
from fical_secure.flower import wire
from fical_secure.flower.notes import ClientNotes

if TYPE_CHECKING:
    from collections.abc import Mapping

    from flwr.serverapp import Grid

    from fical_secure.flower.config import ServerConfig
    from fical_secure.pipeline.server import ServerRoundState

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
SUITE = "SecAgg+ (X25519, Shamir GF(2^31-1), AES-256-CTR masks), Ed25519 signatures; TLS 1.3"


class _Traffic:
    def __init__(self) -> None:
        self.up = 0
        self.down = 0


def run_secagg(
    grid: Grid, cfg: ServerConfig, report: dict[str, Any], nodes: list[int]
) -> tuple[ServerRoundState, bytes]:
    """The whole secure-aggregation round on ``nodes``: the server state it published
    and the encoded round config its result is signed for."""
    from fical_secure.crypto.keys import KeyBundle, Roster
    from fical_secure.flower.server_app import enrollment_names, exchange, message
    from fical_secure.pipeline import secagg_round as sr
    from fical_secure.pipeline.runner import run_stages
    from fical_secure.pipeline.server import AggregateStage, ServerRoundState, ServerSettings
    from fical_secure.protocol import Server

    identity = KeyBundle.load(cfg.private_key).identity
    roster = Roster.decode(cfg.roster.read_bytes())
    owners = enrollment_names(cfg)
    server = Server.create(cfg.output / "store.sqlite", identity, roster)
    traffic = _Traffic()
    try:
        round_id = time.time_ns() // 1_000_000
        config = server.open_round(
            round_id, min_clients=cfg.min_clients, collect_seconds=cfg.stage_timeout_seconds + 60
        )
        log.info("stage prepare: round %d, %d SuperNodes", round_id, len(nodes))
        prepare = wire.record(config=config.encode(), roster=roster.encode())
        traffic.down += (len(config.encode()) + len(roster.encode())) * len(nodes)
        started = time.perf_counter()
        replies = exchange(
            grid,
            [message(prepare, n, wire.PREPARE, round_id) for n in nodes],
            cfg.stage_timeout_seconds,
        )
        seconds = {"prepare": round(time.perf_counter() - started, 3)}
        ready, per_client, refused = _ready(replies, roster, owners)
        log.info("stage prepare: %d ready, %s", len(ready), dict(refused) or "none refused")
        if len(ready) < max(3, cfg.min_clients):
            raise RoundAbortedError(
                f"secure aggregation needs at least {max(3, cfg.min_clients)} ready clients"
                f" (3 is the protocol's minimum, round.min_clients {cfg.min_clients}); {len(ready)}"
                f" were ready ({dict(refused) or 'none refused'}): start more hospitals, or use"
                " round.mode: sealed"
            )
        started = time.perf_counter()
        outcome = _aggregate(grid, cfg, identity, roster, ready, round_id, traffic)
        seconds["secagg"] = round(time.perf_counter() - started, 3)
        items, survivors, attempts, description, participants = outcome
        received, rejected = sr.anonymous_compendiums(items)
        state = ServerRoundState(
            settings=ServerSettings(
                dedupe_threshold=cfg.dedupe_threshold, min_support=cfg.min_support
            ),
            received=received,
        )
        run_stages(state, [AggregateStage()], label="server")
        if state.global_compendium is None:
            raise AggregationError("the round aggregated nothing")
        state.result = server.publish_secure_aggregate(
            state.global_compendium.to_bytes(), len(survivors)
        )
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
    report.update(
        {
            "round_id": round_id,
            "clients": len(survivors),
            "supernodes": len(nodes),
            "ready": len(ready),
            "refused": dict(refused),
            # no reply at prepare, or gone before the unmasking (a dropout of the protocol)
            "lost_supernodes": len(nodes) - sum(refused.values()) - len(survivors),
            "per_client": per_client,
            "secagg_participants": participants,
            "transport": {
                "mode": "secagg",
                "carrier": "flower",
                "attempts": attempts,
                "survivors": len(survivors),
                "secagg": description,
                "upload_bytes": traffic.up,
                "round_config_bytes": traffic.down,
                "rejected_payloads": rejected,
                "suite": SUITE,
            },
        }
    )
    sr.record_server_state(
        cfg.output,
        {
            "round_id": round_id,
            "attempts": attempts,
            "participants": participants,
            "survivors": len(survivors),
            "secagg": description,
            "items_decoded": sum(items.values()),
            "rejected_items": rejected,
        },
    )
    state.report["delivery_nodes"] = sorted(ready[s] for s in survivors)
    return state, config.encode()


def _ready(
    replies: list[Any], roster: Any, owners: Mapping[bytes, str]
) -> tuple[dict[bytes, int], dict[str, dict[str, Any]], dict[str, int]]:
    """(key id -> node of each ready client, per-client notes, refusals by kind)."""
    from collections import Counter

    from fical_secure.errors import NotEnrolledError

    ready: dict[bytes, int] = {}
    per_client: dict[str, dict[str, Any]] = {}
    refused: Counter[str] = Counter()
    for reply in replies:
        node = reply.metadata.src_node_id
        if reply.has_error():
            log.warning("SuperNode %d is lost this round: %s", node, reply.error.reason)
            continue
        try:
            why = wire.refusal(reply, wire.STATUS_READY)
            if why is not None:
                log.warning("SuperNode %d released nothing: %s", node, why)
                refused[f"client_{why.split(':', 1)[0]}"] += 1
                continue
            key_id = bytes.fromhex(wire.field_text(reply, "key_id"))
            roster.lookup(key_id)
            notes = ClientNotes.decode(wire.field_bytes(reply, "notes", limit=wire.MAX_NOTES_BYTES))
        except (MessageFormatError, NotEnrolledError, ValueError) as exc:
            refused[type(exc).__name__] += 1
            log.warning("SuperNode %d sent a malformed ready reply: %s", node, exc)
            continue
        if key_id in ready:
            refused["duplicate_key_id"] += 1
            log.warning("SuperNode %d claims a key id another node claimed", node)
            continue
        ready[key_id] = node
        per_client[owners.get(key_id, key_id.hex())] = {
            "key_id": key_id.hex(),
            "report": notes.report,
        }
    return ready, per_client, dict(refused)


def _aggregate(
    grid: Grid,
    cfg: ServerConfig,
    identity: Any,
    roster: Any,
    ready: dict[bytes, int],
    round_id: int,
    traffic: _Traffic,
) -> tuple[Any, tuple[bytes, ...], int, str, int]:
    """The decoded multiset, the survivors, attempts, the graph's description, participants."""
    import os

    from fical_secure.aggregate.anonymous import ResidualCollision, decode_items, round_slot_key
    from fical_secure.pipeline import secagg_round as sr
    from fical_secure.protocol.secagg import SecAggParams, SecAggServer
    from fical_secure.protocol.secagg.driver import drive_stages

    participants = tuple(sorted(ready))
    layout = sr.layout_for(len(participants))
    timeouts = (cfg.secagg_stage_timeout_seconds,) * 5
    for attempt in range(1, MAX_ATTEMPTS + 1):
        rec = SecAggParams.recommended(
            participants, bits=32, length=layout.length, graph_seed=os.urandom(32)
        )
        params = SecAggParams(
            participants, rec.threshold, rec.k, 32, layout.length, rec.graph_seed, timeouts
        )
        server = SecAggServer(identity, roster, params, round_id + attempt - 1)
        log.info("stage secagg: attempt %d, %s", attempt, params.describe())
        ask = _flower_ask(grid, server, ready, round_id, traffic)
        try:
            total = drive_stages(server, ask)
        except SecAggAbort as exc:
            kinds = sorted({r.error.__class__.__name__ for r in server.refused})
            raise SecAggAbort(f"{exc} (refused replies: {kinds or 'none'})") from None
        try:
            items = decode_items(total, layout, round_slot_key(server.config_hash))
        except ResidualCollision as exc:
            log.warning("stage secagg: attempt %d: %s; retrying with a fresh config", attempt, exc)
            continue
        log.info(
            "stage secagg: unmasked the sum of %d clients, %d items",
            len(server.survivors),
            sum(items.values()),
        )
        return items, server.survivors, attempt, params.describe(), len(participants)
    raise AggregationError(
        f"slot collisions remained after {MAX_ATTEMPTS} secure-aggregation rounds"
    )


def _flower_ask(
    grid: Grid, server: Any, ready: dict[bytes, int], round_id: int, traffic: _Traffic
) -> Any:
    """The transport of :func:`drive_stages` over Flower messages."""
    from fical_secure.flower.server_app import exchange, message
    from fical_secure.protocol.secagg.messages import AdvertiseKeys

    node_of: dict[bytes, int] = {}
    reply_limit = wire.MAX_FIELD_BYTES + server.params.length * 8

    def ask(stage: int, requests: Mapping[bytes, bytes]) -> list[bytes]:
        if stage == 0:
            targets = {cid: node for cid, node in ready.items() if cid in requests}
        else:
            targets = {cid: node_of[cid] for cid in requests if cid in node_of}
        messages = []
        for cid, node in sorted(targets.items()):
            content = wire.record(stage=str(stage), request=requests[cid])
            traffic.down += len(requests[cid])
            messages.append(message(content, node, wire.SECAGG, round_id))
        out = []
        for reply in exchange(grid, messages, server.timeout_s(stage)):
            node = reply.metadata.src_node_id
            try:
                why = wire.refusal(reply, wire.STATUS_OK)
                if why is not None:
                    log.warning("stage secagg %d: SuperNode %d %s", stage, node, why)
                    continue
                # a masked input carries the whole slot vector: the bound follows the config
                blob = wire.field_bytes(reply, "reply", limit=reply_limit)
            except MessageFormatError as exc:
                log.warning("stage secagg %d: SuperNode %d: %s", stage, node, exc)
                continue
            traffic.up += len(blob)
            if stage == 0:
                try:  # routing only: the server verifies the signature in advertise_keys
                    signer = AdvertiseKeys.decode(blob).signer_id
                except MessageFormatError:
                    signer = None
                if signer is not None and ready.get(signer) == node:
                    node_of[signer] = node
            out.append(blob)
        log.info("stage secagg %d: %d of %d replied", stage, len(out), len(messages))
        return out

    return ask
