"""Our ServerApp on Flower's Message API: one round, sealed or secure-aggregated.

Secure aggregation (``round.mode: secagg``) is in :mod:`.server_secagg`; the
sealed round runs as two message rounds:

1. ``train.fical_submit`` to every connected SuperNode: the signed round config
   and roster; each reply carries a sealed envelope (or says the client's
   gates blocked its release). Each envelope goes through the server pipeline's
   verify -> store step (:func:`receive_envelope`).
2. Close, aggregate and publish (the server pipeline's stages), then
   ``evaluate.fical_result`` to every client whose envelope was accepted: its
   signed receipt and the server-signed global compendium, which the client
   verifies and stores.

Both are the workflow of :class:`~fical_secure.pipeline.sealed_round.SealedRound`
(open, collect, close, deliver) and the server pipeline's aggregate and
publish stages, exactly as in the in-process demo; this module supplies only
the :class:`FlowerSealedCarrier`. The server writes the signed global
compendium and ``round.json`` to the output folder of its configuration. No
stage logic lives here.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fical_secure.atomic import write_bytes_atomic, write_json_atomic, write_text_atomic
from fical_secure.config.server import ServerConfig, load_server_config
from fical_secure.crypto.keys import KeyBundle, Roster
from fical_secure.errors import FicalError, MessageFormatError
from fical_secure.flower import wire
from fical_secure.flower.logs import log_to_file
from fical_secure.flower.notes import ClientNotes
from fical_secure.flower.server_grid import (
    enrollment_names,
    exchange,
    majority,
    message,
    wait_for_nodes,
)
from fical_secure.flower.server_secagg import run_secagg
from fical_secure.jsontypes import JsonObject
from fical_secure.pipeline.runner import run_stages
from fical_secure.pipeline.sealed_round import SealedRound, Submission, Submitted
from fical_secure.pipeline.server import (
    AggregateStage,
    PublishStage,
    ServerRoundState,
    ServerSettings,
)
from fical_secure.pipeline.transport_figures import TransportFigures, record_transport
from fical_secure.protocol import GlobalResult, Receipt, RoundConfig, Server
from fical_secure.untrusted import MAX_CONFIG_BYTES, read_regular

if TYPE_CHECKING:
    from flwr.app import Context, Message
    from flwr.serverapp import Grid

log = logging.getLogger(__name__)
SUITE = "X25519 + HKDF-SHA256 + ChaCha20-Poly1305, Ed25519 signatures; TLS 1.3 transport"


def make_server_app(config_path: str | None = None) -> Any:
    """Our ServerApp; its ``server.yaml`` is ``config_path`` or the run config's ``server-config``.

    ``flwr run`` passes the path as run config; the simulation engine binds it here.
    """
    from flwr.serverapp import ServerApp

    server_app = ServerApp()

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        path = config_path or str(context.run_config["server-config"])
        run_round(grid, load_server_config(path))

    return server_app


def run_round(grid: Grid, cfg: ServerConfig) -> JsonObject:
    """One round (``cfg.round.mode``) against the SuperNodes on ``grid``; returns its report."""
    cfg.output.mkdir(parents=True, exist_ok=True)
    with log_to_file(cfg.output / "server.log"):
        start = time.perf_counter()
        report: JsonObject = {"status": "failed", "mode": cfg.round.mode}
        seconds: dict[str, float] = {}
        try:
            seconds.update(_run(grid, cfg, report))
            report["status"] = "done"
        except FicalError as exc:
            report["error"] = f"{type(exc).__name__}: {exc}"
            log.error("round failed: %s", report["error"])
            raise
        finally:
            seconds["total"] = round(time.perf_counter() - start, 3)
            report["seconds"] = seconds
            write_json_atomic(cfg.output / "round.json", report)
        return report


def _run(grid: Grid, cfg: ServerConfig, report: JsonObject) -> dict[str, float]:
    """The round's stages into ``report``; their seconds."""
    if cfg.round.mode == "secagg":
        return _run_secagg(grid, cfg, report)
    return _run_sealed(grid, cfg, report)


def _run_secagg(grid: Grid, cfg: ServerConfig, report: JsonObject) -> dict[str, float]:
    log.info("stage wait: for %d SuperNodes", len(cfg.superlink.supernode_public_keys))
    nodes = wait_for_nodes(
        grid,
        len(cfg.superlink.supernode_public_keys),
        max(3, cfg.round.min_clients),
        cfg.round.wait_seconds,
    )
    served = run_secagg(grid, cfg, report, nodes)
    state, targets = served.state, served.delivery_nodes
    if state.result is None or state.global_compendium is None:
        raise MessageFormatError("the round published nothing")
    signed = state.result.encode()
    write_bytes_atomic(cfg.output / "global_result.bin", signed)
    write_text_atomic(cfg.output / "global_compendium.json", state.global_compendium.to_json())
    log.info("stage deliver: signed global compendium to %d clients", len(targets))
    started = time.perf_counter()
    carrier = FlowerSealedCarrier(grid, cfg, nodes)
    stored = carrier.deliver(dict.fromkeys(targets), served.config, state.result)
    state.seconds["deliver"] = round(time.perf_counter() - started, 3)
    report["delivered"] = stored
    # no per-client gate figures: in this mode they stay with each hospital
    record_transport(report, served.transport.delivered(len(signed) * len(targets)))
    return dict(state.seconds)


def _run_sealed(grid: Grid, cfg: ServerConfig, report: JsonObject) -> dict[str, float]:
    identity = KeyBundle.load(cfg.keys.private_key).identity
    roster = Roster.decode(read_regular(cfg.keys.roster, max_bytes=MAX_CONFIG_BYTES))
    server = Server.create(cfg.output / "store.sqlite", identity, roster)
    settings = ServerSettings(
        dedupe_threshold=cfg.aggregate.dedupe_threshold, min_support=cfg.aggregate.min_support
    )
    state = ServerRoundState(settings=settings, server=server, owners=enrollment_names(cfg))
    workflow = SealedRound(state, roster)
    try:
        log.info("stage wait: for %d SuperNodes", len(cfg.superlink.supernode_public_keys))
        nodes = wait_for_nodes(
            grid,
            len(cfg.superlink.supernode_public_keys),
            cfg.round.min_clients,
            cfg.round.wait_seconds,
        )
        round_id = time.time_ns() // 1_000_000  # ids must increase across restarts: ms clock
        config = workflow.open(
            round_id, cfg.round.min_clients, cfg.round.stage_timeout_seconds + 60
        )
        log.info("stage collect: round %d, %d SuperNodes", round_id, len(nodes))
        carrier = FlowerSealedCarrier(grid, cfg, nodes)
        started = time.perf_counter()
        workflow.collect(carrier)
        state.seconds["collect"] = round(time.perf_counter() - started, 3)
        run_stages(state, [AggregateStage(), PublishStage()], label="server")
        if state.result is None or state.global_compendium is None:
            raise MessageFormatError("the round published nothing")
        signed = state.result.encode()
        write_bytes_atomic(cfg.output / "global_result.bin", signed)
        write_text_atomic(cfg.output / "global_compendium.json", state.global_compendium.to_json())
        log.info("stage deliver: signed global compendium to %d clients", len(workflow.accepted))
        started = time.perf_counter()
        stored = workflow.deliver(carrier)
        state.seconds["deliver"] = round(time.perf_counter() - started, 3)
    finally:
        server.close()
    accepted = len(workflow.accepted)
    notes = carrier.accepted_notes(workflow.accepted, state.owners)
    report.update(state.report)
    report.update(
        {
            "round_id": round_id,
            "clients": accepted,
            "supernodes": len(nodes),
            "replies": carrier.answered,
            "lost_supernodes": len(nodes) - carrier.answered,
            "per_client": {
                name: {"key_id": key_id.hex(), "claimed_id": n.client_id, "report": n.report}
                for name, (key_id, n) in notes.items()
            },
            "delivered": stored,
        }
    )
    transport = TransportFigures(
        cfg.round.mode,
        upload_bytes=workflow.upload_bytes,
        round_config_bytes=(len(config.encode()) + len(roster.encode())) * len(nodes),
        counts={
            "carrier": "flower",
            "envelopes": accepted,
            "rejected_payloads": state.rejected_payloads,
            "refused_envelopes": dict(state.refused),
            "suite": SUITE,
        },
        global_download_bytes=len(signed) * accepted,
    )
    record_transport(report, transport)
    for key in ("compendium_bytes", "compendium_entries", "scrub", "audit"):
        report[key] = {name: n.report[key] for name, (_, n) in notes.items() if key in n.report}
    return dict(state.seconds)


@dataclass
class FlowerSealedCarrier:
    """The :class:`~fical_secure.pipeline.sealed_round.SealedCarrier` over Flower messages.

    Routes are node ids. Everything in a submit reply is parsed before its
    envelope is handed to the workflow, so a reply refused here leaves nothing
    behind and the round goes on; the reply's notes (the client's own report)
    are kept by node for the round report.
    """

    grid: Grid
    cfg: ServerConfig
    nodes: list[int]
    notes: dict[int, ClientNotes] = field(default_factory=dict)
    answered: int = 0  # replies Flower did not mark as errors

    def _exchange(self, messages: list[Message]) -> list[Message]:
        """Push and pull one message round; a majority (and min_clients) is the quorum."""
        return exchange(
            self.grid,
            messages,
            self.cfg.round.stage_timeout_seconds,
            quorum=majority(self.cfg, len(messages)),
            grace=self.cfg.round.straggler_grace_seconds,
        )

    def submit(self, config: RoundConfig, roster: Roster) -> Submitted:
        submit = wire.record(config=config.encode(), roster=roster.encode())
        messages = [message(submit, n, wire.SUBMIT, config.round_id) for n in self.nodes]
        replies = self._exchange(messages)
        self.answered = sum(not r.has_error() for r in replies)
        return parse_submissions(replies, self.notes)

    def accepted_notes(
        self, accepted: Mapping[Hashable, Receipt], owners: Mapping[bytes, str]
    ) -> dict[str, tuple[bytes, ClientNotes]]:
        """Each accepted client's key id and notes, named by the server's enrollment, never
        by the payload."""
        clients: dict[str, tuple[bytes, ClientNotes]] = {}
        for node, receipt in accepted.items():
            key_id = receipt.sender_key_id
            clients[owners.get(key_id, key_id.hex())] = (key_id, self.notes[int(str(node))])
        return clients

    def deliver(
        self, receipts: Mapping[Hashable, Receipt | None], config: RoundConfig, result: GlobalResult
    ) -> int:
        """Send each node (its receipt and) the signed result; how many stored it.

        Secure aggregation has no receipts (``None``): the client checks that it
        finished the round's secure aggregation instead.
        """
        signed = result.encode()
        messages = [
            message(
                wire.record(config=config.encode(), result=signed)
                if receipt is None
                else wire.record(config=config.encode(), receipt=receipt.encode(), result=signed),
                int(str(node)),
                wire.RESULT,
                config.round_id,
            )
            for node, receipt in receipts.items()
        ]
        stored = 0
        replies = self._exchange(messages)
        for reply in replies:
            try:
                if wire.field_text(reply, "status") == wire.STATUS_STORED:
                    stored += 1
                else:
                    log.warning(
                        "SuperNode %d did not store the result: %s",
                        reply.metadata.src_node_id,
                        wire.field_text(reply, "reason"),
                    )
            except MessageFormatError as exc:
                log.warning("SuperNode %d: %s", reply.metadata.src_node_id, exc)
        return stored


def parse_submissions(replies: Iterable[Message], notes: dict[int, ClientNotes]) -> Submitted:
    """The sealed replies of the submit stage (each one's notes kept by node in ``notes``).

    Everything in a reply is parsed before its envelope is handed on, so a reply
    refused here (lost, refused by the client's gates, malformed) leaves nothing
    behind and is counted by kind; the round goes on.
    """
    refused: Counter[str] = Counter()
    subs = []
    for reply in replies:
        node = reply.metadata.src_node_id
        envelope = _envelope(node, reply, refused, notes)
        if envelope is not None:
            subs.append(Submission(node, envelope))
    return Submitted(tuple(subs), refused)


def _envelope(
    node: int, reply: Message, refused: Counter[str], notes: dict[int, ClientNotes]
) -> bytes | None:
    if reply.has_error():  # Flower's own report, e.g. the node stopped heartbeating
        log.warning("SuperNode %d is lost this round: %s", node, reply.error.reason)
        return None
    try:
        why = wire.refusal(reply, wire.STATUS_SEALED)
        if why is None:
            envelope = wire.field_bytes(reply, "envelope")
            raw = wire.field_bytes(reply, "notes", limit=wire.MAX_NOTES_BYTES)
            notes[node] = ClientNotes.decode(raw)
            return envelope
    except MessageFormatError as exc:
        refused[type(exc).__name__] += 1
        log.warning("SuperNode %d sent a malformed reply: %s", node, exc)
        return None
    log.warning("SuperNode %d released nothing: %s", node, why)
    refused[f"client_{why.split(':', 1)[0]}"] += 1
    return None


app = make_server_app()
