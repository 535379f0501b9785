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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fical_secure.atomic import write_bytes_atomic, write_json_atomic, write_text_atomic
from fical_secure.errors import FicalError, GateBlockedError, ProtocolError
from fical_secure.flower import wire
from fical_secure.flower.config import HospitalConfig, load_hospital_config
from fical_secure.flower.logs import log_to_file
from fical_secure.flower.notes import ClientNotes
from fical_secure.pipeline.client import (
    ClientRoundState,
    ClientSettings,
    client_stages,
    seal_release,
)
from fical_secure.pipeline.runner import run_stages
from fical_secure.untrusted import MAX_CONFIG_BYTES, read_regular

if TYPE_CHECKING:
    from flwr.app import Context, Message, RecordDict

    from fical_secure.crypto.keys import IdentityKey, IdentityPublicKey, Roster
    from fical_secure.data.schema import HospitalData, ToolSpec

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
        from fical_secure.flower.client_secagg import handle_prepare

        return _answer(message, locate(context), handle_prepare)

    @client_app.train("fical_secagg")
    def secagg(message: Message, context: Context) -> Message:
        from fical_secure.flower.client_secagg import handle_secagg

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


def load_own_data(cfg: HospitalConfig) -> HospitalData:
    """The hospital's episodes as members (KCG) and non-members (audit).

    Raises:
        DataError: the file fails validation (every bad line listed).
    """
    from fical_secure.data.loader import load_episodes_jsonl
    from fical_secure.pipeline.client import episodes_by_split

    return episodes_by_split(
        cfg.client_id,
        load_episodes_jsonl(cfg.data, hospital_id=cfg.client_id, catalogue=load_tools(cfg)),
    )


def load_tools(cfg: HospitalConfig) -> tuple[ToolSpec, ...]:
    """The federation's tool catalogue the hospital's YAML names, or the built-in one.

    Raises:
        DataError: the catalogue file is not a valid list of function specs (all listed).
    """
    from fical_secure.data.catalogue import CATALOGUE
    from fical_secure.data.function_spec import load_catalogue

    return CATALOGUE if cfg.catalogue is None else load_catalogue(cfg.catalogue)


def load_keys(cfg: HospitalConfig) -> tuple[IdentityKey, IdentityPublicKey, Roster]:
    """This client's identity, the pinned server key and the pinned signed roster.

    Raises:
        KeyFileError: a key file is missing, malformed or too open.
        InvalidSignature: the roster is not signed by the pinned server key.
        NotEnrolledError: this client is not on it.
    """
    from fical_secure.crypto.keys import KeyBundle, PublicKeyBundle, Roster

    identity = KeyBundle.load(cfg.private_key).identity
    server = PublicKeyBundle.load(cfg.server_public_key).identity
    roster = Roster.decode(read_regular(cfg.roster, max_bytes=MAX_CONFIG_BYTES))
    roster.verify(server)
    roster.lookup(identity.key_id)
    return identity, server, roster


def known_identifiers(cfg: HospitalConfig) -> tuple[tuple[str, str], ...]:
    """The roster rows ``privacy.known_identifiers`` names; () without one.

    Raises:
        DataError: the roster is unreadable or malformed (file and line named).
    """
    from fical_secure.scrub.known import read_roster

    path = cfg.known_identifiers
    return () if path is None else tuple(read_roster(path))


def settings_of(cfg: HospitalConfig) -> ClientSettings:
    return ClientSettings(
        kcg_min_support=cfg.kcg_min_support,
        kcg_paraphrase=cfg.kcg_paraphrase,
        scrub=cfg.scrub,
        audit=cfg.audit_gate,
        audit_use_llm=cfg.audit_use_llm,
        audit_llm_records=cfg.audit_llm_records,
        audit_canaries=cfg.audit_canaries,
        profile=cfg.audit_profile,  # the one release policy: the gate and `audit` read it
        dp_ledger=dp_ledger_path(cfg),
        progress=False,
    )


def prepare_release(cfg: HospitalConfig, message: Message) -> tuple[Any, Any, ClientRoundState]:
    """Check the server-signed round and roster, then run the client pipeline on own data.

    Returns the protocol client (its durable round state accepted), the round
    config, and the pipeline's state with the release. Both modes start here.
    """
    from fical_secure.crypto.keys import Roster
    from fical_secure.llm.lazy import LazyLLM
    from fical_secure.protocol import Client, RoundConfig

    identity, server, pinned = load_keys(cfg)
    config = RoundConfig.decode(wire.field_bytes(message, "config"))
    roster = Roster.decode(wire.field_bytes(message, "roster"))
    if roster.encode() != pinned.encode():
        raise ProtocolError(
            "the round's roster is not the pinned one; get the current "
            "roster from the federation operator"
        )
    client = Client(identity, server, state_path=round_state_path(cfg))
    client.accept_round(config, roster)  # before any work: a forged round costs nothing
    log.info("%s: stage accept: round %d", cfg.client_id, config.round_id)
    hospital = load_own_data(cfg)
    state = ClientRoundState(hospital, settings_of(cfg), catalogue=load_tools(cfg))
    state.roster = known_identifiers(cfg)
    # loaded on first use: KCG without paraphrase and a non-LLM audit never load it
    state.llm = LazyLLM(cfg.model, device=None if cfg.device == "auto" else cfg.device)
    try:
        run_stages(state, client_stages(state.settings, ground_truth=False), label=cfg.client_id)
    finally:  # a blocked release (a gate, the privacy budget) is reported too
        write_json_atomic(cfg.output / "client_report.json", state.report)
    write_text_atomic(cfg.output / "released.json", state.need_release().to_json())
    return client, config, state


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
    from fical_secure.kcg.schema import Compendium
    from fical_secure.protocol import Client, GlobalResult, Receipt

    identity, server, _roster = load_keys(cfg)
    client = Client(identity, server, state_path=round_state_path(cfg))  # what this client sealed
    config = client.state.config
    if config is None or wire.field_bytes(message, "config") != config.encode():
        raise ProtocolError("the result names another round than the one this client sealed for")
    sealed = wire.has_field(message, "receipt")
    if sealed:  # sealed mode: the server stored our envelope
        client.check_receipt(Receipt.decode(wire.field_bytes(message, "receipt")))
    else:  # secure aggregation: our masked input is in the sum of this round
        from fical_secure.flower.client_secagg import check_contributed

        check_contributed(cfg, config.round_id)
    signed = wire.field_bytes(message, "result")
    payload = client.check_result(GlobalResult.decode(signed))
    glob = Compendium.from_json(payload)
    write_bytes_atomic(cfg.output / "global_result.bin", signed)
    write_text_atomic(cfg.output / "global_compendium.json", glob.to_json())
    if not sealed:  # stored: the prepared items are kept no longer (a retry needed them)
        from fical_secure.flower.client_secagg import release_done

        release_done(cfg)
    digest = hashlib.sha256(payload).hexdigest()
    log.info(
        "%s: stage store: global compendium, %d entries, sha256 %s",
        cfg.client_id,
        len(glob.entries),
        digest[:16],
    )
    return wire.record(status=wire.STATUS_STORED, sha256=digest)


def dp_ledger_path(cfg: HospitalConfig) -> Path:
    """The client's durable privacy-budget ledger (DP mode), beside its round state."""
    from fical_secure.release.budget import LEDGER_NAME

    return cfg.private_key.parent / LEDGER_NAME


def round_state_path(cfg: HospitalConfig) -> Path:
    """The client's durable, monotonic round state, beside its identity key."""
    return cfg.private_key.parent / "round-state.json"


app = make_client_app()
