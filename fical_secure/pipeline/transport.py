"""How released compendiums reach the server and the global one comes back.

The sealed transport runs the authenticated round protocol: enrolled clients
(Ed25519 identities on a server-signed roster) seal their compendium to the
server's signed per-round X25519 key; the server verifies signature,
enrollment, round, stage and replay before it decrypts, commits each envelope
to its SQLite store before acknowledging it, and aggregates only what it
authenticated. The global compendium goes back server-signed and every client
verifies it. The plain transport exists for ablations (``--no-seal``) and
counts bytes, nothing else. The sealed and secure-aggregation stages here
are the in-process drivers of the round workflows
(:class:`~fical_secure.pipeline.sealed_round.SealedRound`,
:class:`~fical_secure.pipeline.secagg_round.SecAggRound`), the same objects
the Flower ServerApp drives: this module only enrolls the simulated parties
and hands the workflows in-process carriers.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from fical_secure.compliance.client_files import write_client_files
from fical_secure.config.profile import load_profile, resolve_profile
from fical_secure.crypto.identity import IdentityKey
from fical_secure.crypto.keys import KeyBundle, Roster
from fical_secure.errors import FicalError, PipelineError, ProtocolError
from fical_secure.pipeline import multiset as ms
from fical_secure.pipeline import secagg_round as sr
from fical_secure.pipeline.carrier import InProcessSecAggCarrier
from fical_secure.pipeline.sealed_round import InProcessSealedCarrier, SealedRound
from fical_secure.pipeline.server import (
    CloseStage,
    PublishStage,
    ServerRoundState,
)
from fical_secure.pipeline.state import RoundState
from fical_secure.pipeline.transport_figures import TransportFigures, record_transport
from fical_secure.protocol import Client, Receipt, RoundConfig, Server
from fical_secure.protocol.secagg.ready import sign_ready, verify_ready

log = logging.getLogger(__name__)
ROUND_ID = 1


class Publisher(Protocol):
    """Delivers the published round to every client; returns the bytes sent."""

    def publish(self, server: ServerRoundState) -> int: ...


@dataclass
class Delivery:
    """Server-signed global result (either mode) to every client, which verifies it.

    The workflow's deliver step over the in-process carrier: each accepted
    client checks its receipt (sealed) and the result against the round config
    it accepted; the store is closed afterwards.
    """

    carrier: InProcessSealedCarrier
    receipts: dict[Hashable, Receipt | None]  # client id -> its receipt (None: secagg)
    config: RoundConfig

    def publish(self, server: ServerRoundState) -> int:
        if server.result is None or server.global_compendium is None:
            raise PipelineError("nothing was published this round")
        stored = self.carrier.deliver(self.receipts, self.config, server.result)
        server.need_server().close()
        return len(server.result.encode()) * stored


@dataclass
class PlainPublisher:
    """No protection: the global compendium is sent as it is."""

    n_clients: int

    def publish(self, server: ServerRoundState) -> int:
        if server.global_compendium is None:
            raise PipelineError("nothing was published this round")
        return len(server.global_compendium.to_bytes()) * self.n_clients


def _client(out: Path, cid: str, identity: IdentityKey, server: Server) -> Client:
    """The protocol client of one hospital, its durable round state beside its keys."""
    return Client(identity, server.public, state_path=out / "keys" / cid / "round-state.json")


def _new_party(folder: Path) -> KeyBundle:
    """Fresh keys saved as ``keys new`` writes them: private.key (0600) and public.key."""

    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    bundle = KeyBundle.generate()
    bundle.save(folder / "private.key")
    bundle.public.save(folder / "public.key")
    return bundle


def _enroll(state: RoundState) -> tuple[IdentityKey, dict[str, IdentityKey], Roster]:
    """Fresh server and client keys on disk, client configs, the server-signed roster."""

    out = state.settings.out
    server_key = _new_party(out / "keys" / "server").identity
    client_keys = {cid: _new_party(out / "keys" / cid).identity for cid in state.released}

    for cid in state.released:  # what `fical-secure audit --client-config` reads
        hospital = state.clients[cid].hospital
        write_client_files(
            out / "clients", hospital, f"../released/{cid}.json", transport=state.settings.mode
        )
    roster = Roster.create(server_key, [k.public for k in client_keys.values()], epoch=1)
    return server_key, client_keys, roster


@dataclass(frozen=True)
class SealedTransportStage:
    """Clients seal and submit; the server authenticates, commits, acknowledges, then decrypts."""

    name: str = "transport"

    def run(self, state: RoundState) -> None:
        out, released = state.settings.out, state.released
        server_key, client_keys, roster = _enroll(state)
        (out / "server").mkdir(parents=True, exist_ok=True)
        server = Server.create(out / "server" / "store.sqlite", server_key, roster)
        state.server = ServerRoundState(
            settings=state.settings.server_settings(),
            server=server,
            owners={key.key_id: cid for cid, key in client_keys.items()},
        )
        workflow = SealedRound(state.server, roster)
        # a majority must send an acceptable compendium; a bad one is excluded, not fatal
        config = workflow.open(ROUND_ID, min_clients=len(client_keys) // 2 + 1)
        carrier = InProcessSealedCarrier(
            {cid: _client(out, cid, client_keys[cid], server) for cid in released},
            {cid: state.clients[cid] for cid in released},
        )
        try:
            workflow.collect(carrier)
            refused = set(released) - set(map(str, workflow.accepted))
            if refused:
                raise ProtocolError(
                    f"the server refused client {sorted(refused)[0]}'s own submission"
                )
        except FicalError:
            server.close()
            raise
        clients = list(workflow.accepted)
        upload = workflow.upload_bytes
        state.report.update(state.server.report)
        state.publisher = Delivery(carrier, dict(workflow.accepted), config)
        _record(
            state,
            TransportFigures(
                "sealed",
                upload_bytes=upload,
                round_config_bytes=len(config.encode()) * len(clients),
                counts={
                    "envelopes": len(clients),
                    "plaintext_bytes": sum(len(c.to_bytes()) for c in released.values()),
                    "rejected_payloads": state.server.rejected_payloads,
                    "suite": "X25519 + HKDF-SHA256 + ChaCha20-Poly1305, Ed25519 signatures",
                },
            ),
        )


@dataclass(frozen=True)
class SecAggTransportStage:
    """Clients mask slot vectors of their entries (SecAgg+); the server learns the multiset only.

    The in-process driver of :class:`~fical_secure.pipeline.secagg_round.SecAggRound`:
    the server opens the round in its durable store; each client accepts the
    signed round config and signs a ready statement for it, which the server
    verifies (as the Flower server does); the workflow runs the passes through
    an :class:`~fical_secure.pipeline.carrier.InProcessSecAggCarrier`.
    """

    name: str = "transport"

    def run(self, state: RoundState) -> None:
        out = state.settings.out
        server_key, keys, roster = _enroll(state)
        (out / "server").mkdir(parents=True, exist_ok=True)
        server = Server.create(out / "server" / "store.sqlite", server_key, roster)
        config = server.open_round(ROUND_ID, min_clients=len(keys) // 2 + 1)
        try:
            clients, ready = {}, set()
            for cid, key in keys.items():
                client = _client(out, cid, key, server)
                client.accept_round(config, roster)
                statement = sign_ready(key, config.round_id, config.config_hash, ready=True)
                ready.add(
                    verify_ready(statement, roster, config.round_id, config.config_hash).signer_id
                )
                clients[cid] = client
            items, refused = {}, 0
            for cid, comp in state.released.items():
                if keys[cid].key_id in ready:
                    items[keys[cid].key_id], n_refused = ms.items_of(comp)
                    refused += n_refused
            floors = load_profile(resolve_profile(state.settings.profile)).secagg
            carrier = InProcessSecAggCarrier(
                {k.key_id: k for k in keys.values()}, server.public, roster, items, floors=floors
            )
            layout = ms.layout_for(len(keys), state.settings.min_support)
            outcome = sr.SecAggRound(server_key, roster, layout, ROUND_ID).collect(carrier, ready)
        except FicalError:
            server.abort("secure aggregation did not complete")
            server.close()
            raise
        state.server, rejected = sr.server_state(
            outcome, state.settings.server_settings(), ServerRoundState(server=server)
        )
        state.publisher = Delivery(
            InProcessSealedCarrier(clients, {}),
            {cid: None for cid, key in keys.items() if key.key_id in outcome.survivors},
            config,
        )
        figures = sr.transport_figures(outcome, rejected, state.settings.min_support)
        result = outcome.multiset
        _record(
            state,
            TransportFigures(
                "secagg",
                upload_bytes=result.upload_bytes,
                round_config_bytes=result.download_bytes + len(config.encode()) * len(keys),
                counts={
                    "carrier": "in-process",
                    "envelopes": len(keys),
                    "plaintext_bytes": sum(len(c.to_bytes()) for c in state.released.values()),
                    **figures,
                    "refused_items": refused,
                    "refused_clients": len(result.refused_clients),
                    "slot_vector_bytes_per_client": result.upload_bytes_per_client,
                    "suite": "SecAgg+ (X25519, Shamir GF(2^31-1), AES-256-CTR masks), "
                    "Ed25519 signatures",
                },
            ),
        )
        sr.record_server_state(out / "server", figures)


@dataclass(frozen=True)
class PlainTransportStage:
    """Compendiums go to the server in the clear (ablation only)."""

    name: str = "transport"

    def run(self, state: RoundState) -> None:
        payloads = [(cid.encode(), c.to_bytes()) for cid, c in state.released.items()]
        state.server = ServerRoundState(
            settings=state.settings.server_settings(),
            plaintexts=payloads,
            owners={cid.encode(): cid for cid in state.released},
        )
        CloseStage().run(state.server)
        state.report.update(state.server.report)
        state.publisher = PlainPublisher(len(payloads))
        plaintext = sum(len(p) for _c, p in payloads)
        _record(
            state,
            TransportFigures(
                "plain",
                upload_bytes=plaintext,
                round_config_bytes=0,
                counts={
                    "envelopes": len(payloads),
                    "plaintext_bytes": plaintext,
                    "rejected_payloads": state.server.rejected_payloads,
                },
            ),
        )


@dataclass(frozen=True)
class DeliverStage:
    """The server signs and publishes the global compendium; every client gets and checks it."""

    name: str = "publish"

    def run(self, state: RoundState) -> None:
        if state.global_compendium is None or state.publisher is None:
            raise PipelineError("publish needs the transport and aggregate stages first")
        PublishStage().run(state.server)
        download = state.publisher.publish(state.server)
        if state.transport is None:
            raise PipelineError("publish needs the transport stage's figures")
        _record(state, state.transport.delivered(download))


def _record(state: RoundState, figures: TransportFigures) -> None:
    """``figures`` as the round's transport figures, in its state and its report."""
    state.transport = figures
    record_transport(state.report, figures)
