"""Our ClientApp on Flower's Message API: a hospital's side of one round.

Secure-aggregation handlers (``train.fical_prepare``, ``train.fical_secagg``)
are in :mod:`.client_secagg`; the sealed round:

``train.fical_submit``: verify the server-signed round config and roster
against the pinned server key, then run the client pipeline on the
hospital's own episode JSONL (KCG -> scrub -> gate) and seal the release;
reply with the envelope, or say the gates blocked it (nothing leaves).
``evaluate.fical_result``: verify the receipt and the server-signed global
compendium, then store both atomically in the configured output folder.

The SuperNode passes the path of the hospital's YAML as node config
``fical-config``. No stage logic lives here.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fical_secure.atomic import write_bytes_atomic, write_text_atomic
from fical_secure.config.client import HospitalConfig, load_hospital_config
from fical_secure.errors import FicalError, GateBlockedError, ProtocolError
from fical_secure.flower import wire
from fical_secure.flower.client_secagg import (
    check_contributed,
    handle_prepare,
    handle_secagg,
    release_done,
)
from fical_secure.flower.client_setup import load_keys, prepare_release, round_state_path
from fical_secure.flower.logs import log_to_file
from fical_secure.flower.notes import ClientNotes
from fical_secure.kcg.schema import Compendium
from fical_secure.pipeline.client import seal_release
from fical_secure.protocol import Client, GlobalResult, Receipt

if TYPE_CHECKING:
    from flwr.app import Context, Message, RecordDict


log = logging.getLogger(__name__)
NODE_CONFIG_KEY = "fical-config"


ConfigLocator = Callable[["Context"], str]


def node_config_path(context: Context) -> str:
    """The hospital YAML a SuperNode names in its node config (``fical-config``)."""
    return str(context.node_config[NODE_CONFIG_KEY])


def make_client_app(locate: ConfigLocator = node_config_path) -> Any:
    """Our ClientApp; ``locate`` finds the hospital's YAML from the Flower context.

    A deployed SuperNode passes it as node config; the simulation engine maps
    each virtual node's ``partition-id`` to one hospital folder instead.
    """
    from flwr.clientapp import ClientApp

    client_app = ClientApp()

    @client_app.train("fical_submit")
    def submit(message: Message, context: Context) -> Message:
        return _answer(message, locate(context), handle_submit)

    @client_app.train("fical_prepare")
    def prepare(message: Message, context: Context) -> Message:
        return _answer(message, locate(context), handle_prepare)

    @client_app.train("fical_secagg")
    def secagg(message: Message, context: Context) -> Message:
        return _answer(message, locate(context), handle_secagg)

    @client_app.evaluate("fical_result")
    def result(message: Message, context: Context) -> Message:
        return _answer(message, locate(context), handle_result)

    return client_app


Handler = Callable[[HospitalConfig, "Message"], "RecordDict"]


def _answer(message: Message, config_path: str, handler: Handler) -> Message:
    """Run ``handler`` with the hospital's config; a failure becomes a 'failed' reply.

    The reply's reason is the error's type and location only
    (:meth:`FicalError.public_reason`): a data error's message may quote a
    record value (an MRN, a name), so the message stays in the local log.
    """
    from flwr.app import Message

    try:
        cfg = load_hospital_config(config_path)
    except FicalError as exc:  # the server learns why this hospital sent nothing
        log.error("%s: %s", config_path, exc)
        return Message(_failed(exc), reply_to=message)
    cfg.output.mkdir(parents=True, exist_ok=True)
    with log_to_file(cfg.output / "client.log"):
        try:
            content = handler(cfg, message)
        except GateBlockedError as exc:
            log.warning("%s: release blocked, nothing sent: %s", cfg.client_id, exc)
            content = wire.record(status=wire.STATUS_BLOCKED, reason=exc.public_reason())
        except FicalError as exc:
            log.error("%s: %s: %s", cfg.client_id, type(exc).__name__, exc)
            content = _failed(exc)
        except Exception as exc:  # Flower would send str(exc) to the server: only the type leaves
            log.exception("%s: unexpected %s", cfg.client_id, type(exc).__name__)
            content = wire.record(status=wire.STATUS_FAILED, reason=type(exc).__name__)
    return Message(content, reply_to=message)


def _failed(exc: FicalError) -> RecordDict:
    return wire.record(status=wire.STATUS_FAILED, reason=exc.public_reason())


def handle_submit(cfg: HospitalConfig, message: Message) -> RecordDict:
    """Check the round, run the client pipeline, seal; the reply's content."""
    client, config, state = prepare_release(cfg, message)
    _identity, _server, roster = load_keys(cfg)
    envelope = seal_release(client, config, state, roster)
    log.info("%s: stage seal: %d bytes", cfg.client_id, len(envelope))
    notes = ClientNotes(cfg.client_id, state.report).encode()
    return wire.record(status=wire.STATUS_SEALED, envelope=envelope, notes=notes)


def handle_result(cfg: HospitalConfig, message: Message) -> RecordDict:
    """Verify the receipt and the signed global compendium; store them; the reply's content."""

    identity, server, _roster = load_keys(cfg)
    client = Client(identity, server, state_path=round_state_path(cfg))  # what this client sealed
    config = client.state.config
    if config is None or wire.field_bytes(message, "config") != config.encode():
        raise ProtocolError("the result names another round than the one this client sealed for")
    sealed = wire.has_field(message, "receipt")
    if sealed:  # sealed mode: the server stored our envelope
        client.check_receipt(Receipt.decode(wire.field_bytes(message, "receipt")))
    else:  # secure aggregation: our masked input is in the sum of this round
        check_contributed(cfg, config.round_id)
    signed = wire.field_bytes(message, "result")
    payload = client.check_result(GlobalResult.decode(signed))
    glob = Compendium.from_json(payload)
    write_bytes_atomic(cfg.output / "global_result.bin", signed)
    write_text_atomic(cfg.output / "global_compendium.json", glob.to_json())
    if not sealed:  # stored: the prepared items are kept no longer (a retry needed them)
        release_done(cfg)
    digest = hashlib.sha256(payload).hexdigest()
    log.info(
        "%s: stage store: global compendium, %d entries, sha256 %s",
        cfg.client_id,
        len(glob.entries),
        digest[:16],
    )
    return wire.record(status=wire.STATUS_STORED, sha256=digest)


app = make_client_app()
