"""How released compendiums reach the server and the global one comes back.

The sealed transport runs the authenticated round protocol: enrolled clients
(Ed25519 identities on a server-signed roster) seal their compendium to the
server's signed per-round X25519 key; the server verifies signature,
enrollment, round, stage and replay before it decrypts, commits each envelope
to its SQLite store before acknowledging it, and aggregates only what it
authenticated. The global compendium goes back server-signed and every client
verifies it. The plain transport exists for ablations (``--no-seal``) and
counts bytes, nothing else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fical_secure.aggregate.intake import accept_payloads
from fical_secure.errors import PipelineError, ProtocolError, RoundAbortedError
from fical_secure.federation.state import RoundState

log = logging.getLogger(__name__)
ROUND_ID = 1


class Publisher(Protocol):
    """Delivers the global compendium to every client; returns the bytes sent."""

    def publish(self, payload: bytes) -> int: ...


def _accept(state: RoundState, payloads: list[tuple[bytes, bytes]],
            owners: dict[bytes, str], min_clients: int) -> int:
    """Attribute authenticated payloads by sender; reject bad ones; enforce min_clients.

    Returns the number of rejected payloads.

    Raises:
        RoundAbortedError: fewer than ``min_clients`` acceptable payloads remain.
    """
    intake = accept_payloads(payloads, owners)
    if len(intake.accepted) < min_clients:
        raise RoundAbortedError(
            f"only {len(intake.accepted)} of {min_clients} required clients sent an acceptable "
            f"compendium (rejected: {', '.join(sorted(intake.rejected)) or 'none'})"
        )
    state.received = intake.accepted
    state.report.setdefault("rejected_clients", {}).update(intake.rejected)
    return len(intake.rejected)


@dataclass
class SealedPublisher:
    """Server-signed global result; each client verifies it before use."""

    server: Any  # fical_secure.protocol.Server
    clients: list[Any]  # fical_secure.protocol.Client

    def publish(self, payload: bytes) -> int:
        result = self.server.publish(payload)
        wire = result.encode()
        for client in self.clients:
            if client.check_result(type(result).decode(wire)) != payload:
                raise ProtocolError("a client read back a different global compendium")
        self.server.close()
        return len(wire) * len(self.clients)


@dataclass
class PlainPublisher:
    """No protection: the global compendium is sent as it is."""

    n_clients: int

    def publish(self, payload: bytes) -> int:
        return len(payload) * self.n_clients


def _new_party(folder: Path) -> Any:
    """Fresh keys saved as ``keys new`` writes them: private.key (0600) and public.key."""
    from fical_secure.crypto.keys import KeyBundle

    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    bundle = KeyBundle.generate()
    bundle.save(folder / "private.key")
    bundle.public.save(folder / "public.key")
    return bundle


def _write_client_config(out: Path, client_id: str) -> None:
    """The client's deployment settings, as `fical-secure audit --client-config` reads them."""
    folder = out / "clients"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{client_id}.yaml").write_text(
        CLIENT_CONFIG.format(client_id=client_id), encoding="utf-8"
    )


CLIENT_CONFIG = """\
# Written by `fical-secure demo`: how hospital {client_id} ran this round.
version: 1
client_id: {client_id}
keys:
  private_key: ../keys/{client_id}/private.key
  server_public_key: ../keys/server/public.key
crypto:
  aead: chacha20-poly1305
  signature: ed25519
  key_exchange: x25519
  kdf: hkdf-sha256
transport: sealed
share_mode: compendium
model: packaged
compendium: ../released/{client_id}.json
"""


@dataclass(frozen=True)
class SealedTransportStage:
    """Clients seal and submit; the server authenticates, commits, acknowledges, then decrypts."""

    name: str = "transport"

    def run(self, state: RoundState) -> None:
        from fical_secure.crypto.keys import Roster
        from fical_secure.protocol import Client, Server

        out = state.settings.out
        server_key = _new_party(out / "keys" / "server").identity
        client_keys = {cid: _new_party(out / "keys" / cid).identity for cid in state.released}
        for cid in state.released:
            _write_client_config(out, cid)
        roster = Roster.create(server_key, [k.public for k in client_keys.values()], epoch=1)
        (out / "server").mkdir(parents=True, exist_ok=True)
        server = Server.create(out / "server" / "store.sqlite", server_key, roster)
        # a majority must send an acceptable compendium; a bad one is excluded, not fatal
        config = server.open_round(ROUND_ID, min_clients=len(client_keys) // 2 + 1)
        upload, clients = 0, []
        for cid, comp in state.released.items():
            client = Client(client_keys[cid], server.public,
                            state_path=out / "keys" / cid / "round-state.json")
            envelope = client.seal_submission(config, comp.to_bytes(), roster)
            client.check_receipt(server.receive(envelope))
            clients.append(client)
            upload += len(envelope)
        owners = {key.key_id: cid for cid, key in client_keys.items()}
        try:
            rejected = _accept(state, server.close_round(), owners, config.min_clients)
        except RoundAbortedError as exc:
            server.abort(str(exc))
            server.close()
            raise
        state.publisher = SealedPublisher(server, clients)
        download = len(config.encode()) * len(clients)
        state.report["transport"] = {
            "mode": "sealed",
            "envelopes": len(clients),
            "upload_bytes": upload,
            "round_config_bytes": download,
            "plaintext_bytes": sum(len(c.to_bytes()) for c in state.released.values()),
            "rejected_payloads": rejected,
            "suite": "X25519 + HKDF-SHA256 + ChaCha20-Poly1305, Ed25519 signatures",
        }


@dataclass(frozen=True)
class PlainTransportStage:
    """Compendiums go to the server in the clear (ablation only)."""

    name: str = "transport"

    def run(self, state: RoundState) -> None:
        payloads = [c.to_bytes() for c in state.released.values()]
        owners = {cid.encode(): cid for cid in state.released}
        pairs = [(cid.encode(), c.to_bytes()) for cid, c in state.released.items()]
        rejected = _accept(state, pairs, owners, 1)
        state.publisher = PlainPublisher(len(payloads))
        state.report["transport"] = {
            "mode": "plain",
            "envelopes": len(payloads),
            "upload_bytes": sum(len(p) for p in payloads),
            "round_config_bytes": 0,
            "plaintext_bytes": sum(len(p) for p in payloads),
            "rejected_payloads": rejected,
        }


@dataclass(frozen=True)
class PublishStage:
    """Send the global compendium back; total the round's communication."""

    name: str = "publish"

    def run(self, state: RoundState) -> None:
        if state.global_compendium is None or state.publisher is None:
            raise PipelineError("publish needs the transport and aggregate stages first")
        download = state.publisher.publish(state.global_compendium.to_bytes())
        t = state.report["transport"]
        t["global_download_bytes"] = download
        state.report["communication_bytes_total"] = (
            t["upload_bytes"] + t["round_config_bytes"] + download
        )
