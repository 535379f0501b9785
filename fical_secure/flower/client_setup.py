"""A hospital's round setup on Flower, shared by both modes: its keys, data, settings, release.

Both the sealed handlers (:mod:`.client_app`) and the secure-aggregation ones
(:mod:`.client_secagg`) start a round here: verify the server-signed round
and roster, then run the client pipeline on the hospital's own data.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fical_secure.atomic import write_json_atomic, write_text_atomic
from fical_secure.config.client import HospitalConfig
from fical_secure.crypto.keys import KeyBundle, PublicKeyBundle, Roster
from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.function_spec import load_catalogue
from fical_secure.data.loader import load_episodes_jsonl
from fical_secure.errors import ProtocolError
from fical_secure.flower import wire
from fical_secure.llm.lazy import LazyLLM
from fical_secure.pipeline.client import client_stages, episodes_by_split
from fical_secure.pipeline.client_state import ClientRoundState, ClientSettings
from fical_secure.pipeline.runner import run_stages
from fical_secure.protocol import Client, RoundConfig
from fical_secure.release.budget import LEDGER_NAME
from fical_secure.scrub.known import read_roster
from fical_secure.untrusted import MAX_CONFIG_BYTES, read_regular

if TYPE_CHECKING:
    from flwr.app import Message

    from fical_secure.crypto.keys import IdentityKey, IdentityPublicKey, Roster
    from fical_secure.data.schema import HospitalData, ToolSpec

log = logging.getLogger(__name__)


def load_own_data(cfg: HospitalConfig) -> HospitalData:
    """The hospital's episodes as members (KCG) and non-members (audit).

    Raises:
        DataError: the file fails validation (every bad line listed).
    """

    return episodes_by_split(
        cfg.client_id,
        load_episodes_jsonl(cfg.data.path, hospital_id=cfg.client_id, catalogue=load_tools(cfg)),
    )


def load_tools(cfg: HospitalConfig) -> tuple[ToolSpec, ...]:
    """The federation's tool catalogue the hospital's YAML names, or the built-in one.

    Raises:
        DataError: the catalogue file is not a valid list of function specs (all listed).
    """

    return CATALOGUE if cfg.catalogue is None else load_catalogue(cfg.catalogue)


def load_keys(cfg: HospitalConfig) -> tuple[IdentityKey, IdentityPublicKey, Roster]:
    """This client's identity, the pinned server key and the pinned signed roster.

    Raises:
        KeyFileError: a key file is missing, malformed or too open.
        InvalidSignature: the roster is not signed by the pinned server key.
        NotEnrolledError: this client is not on it.
    """

    identity = KeyBundle.load(cfg.keys.private_key).identity
    server = PublicKeyBundle.load(cfg.keys.server_public_key).identity
    roster = Roster.decode(read_regular(cfg.keys.roster, max_bytes=MAX_CONFIG_BYTES))
    roster.verify(server)
    roster.lookup(identity.key_id)
    return identity, server, roster


def known_identifiers(cfg: HospitalConfig) -> tuple[tuple[str, str], ...]:
    """The roster rows ``privacy.known_identifiers`` names; () without one.

    Raises:
        DataError: the roster is unreadable or malformed (file and line named).
    """

    path = cfg.privacy.known_identifiers
    return () if path is None else tuple(read_roster(path))


def settings_of(cfg: HospitalConfig) -> ClientSettings:
    return ClientSettings(
        kcg_min_support=cfg.kcg.min_support,
        kcg_paraphrase=cfg.kcg.paraphrase,
        scrub=cfg.privacy.scrub,
        audit=cfg.privacy.audit_gate,
        audit_use_llm=cfg.privacy.audit_use_llm,
        audit_llm_records=cfg.privacy.audit_llm_records,
        audit_canaries=cfg.privacy.audit_canaries,
        profile=cfg.privacy.audit_profile,  # the one release policy: the gate and `audit` read it
        dp_ledger=dp_ledger_path(cfg),
        progress=False,
    )


def prepare_release(cfg: HospitalConfig, message: Message) -> tuple[Any, Any, ClientRoundState]:
    """Check the server-signed round and roster, then run the client pipeline on own data.

    Returns the protocol client (its durable round state accepted), the round
    config, and the pipeline's state with the release. Both modes start here.
    """

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


def dp_ledger_path(cfg: HospitalConfig) -> Path:
    """The client's durable privacy-budget ledger (DP mode), beside its round state."""

    return cfg.keys.private_key.parent / LEDGER_NAME


def round_state_path(cfg: HospitalConfig) -> Path:
    """The client's durable, monotonic round state, beside its identity key."""
    return cfg.keys.private_key.parent / "round-state.json"
