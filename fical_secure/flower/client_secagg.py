"""A hospital's side of a secure-aggregation round on Flower (each message a fresh process).

``train.fical_prepare``: the client pipeline on own data (the same
:func:`~fical_secure.flower.client_app.prepare_release` the sealed mode runs);
the release's slot items are kept in ``pending-items.json`` (mode 0600, bound
to the accepted round) until the round's result is stored or a newer round is
prepared, so a collision retry finds them. The reply is one signed ready
statement (:mod:`fical_secure.protocol.secagg.ready`): ``ready`` or
``blocked`` and the key id, nothing per item; the gate report stays local.

``train.fical_secagg``: one stage of :class:`SecAggClient`, rebuilt from its
sealed state file (:mod:`fical_secure.protocol.secagg.persist`) and sealed back
after the stage; at the masked-input stage the client encodes its own items
(:func:`~fical_secure.pipeline.multiset.client_vector`) as the request's
plan says: the slot vector (k = 1), bucket counts, or entries in the selected
buckets (keys from the signed config hashes). Before it joins, and again when the
survivor list names the cohort whose sum it would help unmask, the
participation policy (:mod:`fical_secure.protocol.secagg.participation`)
refuses a differencing pair of sums. Nothing of the client's text leaves but
masked words.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from fical_secure.aggregate.threshold import ThresholdLayout
from fical_secure.atomic import write_json_atomic
from fical_secure.config.profile import load_profile, resolve_profile
from fical_secure.crypto.keys import KeyBundle
from fical_secure.errors import (
    FicalError,
    GateBlockedError,
    ProtocolError,
    StoreError,
    WeakSecAggParameters,
)
from fical_secure.flower import wire
from fical_secure.flower.client_setup import load_keys, prepare_release, round_state_path
from fical_secure.pipeline import multiset as ms
from fical_secure.protocol import Client, RoundConfig
from fical_secure.protocol.secagg.driver import step
from fical_secure.protocol.secagg.messages import SurvivorList
from fical_secure.protocol.secagg.participation import Joined, check_participation, release_digest
from fical_secure.protocol.secagg.persist import SecAggStateFile, state_path
from fical_secure.protocol.secagg.ready import sign_ready

if TYPE_CHECKING:
    from flwr.app import Message, RecordDict

    from fical_secure.config.client import HospitalConfig
    from fical_secure.config.profile import Profile
    from fical_secure.crypto.identity import IdentityPublicKey
    from fical_secure.protocol import RoundConfig
    from fical_secure.protocol.secagg.client import SecAggClient
    from fical_secure.protocol.secagg.participation import Joined
    from fical_secure.protocol.secagg.persist import SecAggStateFile

log = logging.getLogger(__name__)
PENDING = "pending-items.json"
BLOCKED_REASON = "a privacy gate blocked this hospital's release (the details stay with it)"


def handle_prepare(cfg: HospitalConfig, message: Message) -> RecordDict:
    """Run the client pipeline; keep the release's items; answer with a signed statement."""

    try:
        _client, config, state = prepare_release(cfg, message)
    except GateBlockedError as exc:  # raised after the config was verified and accepted
        log.warning("%s: release blocked, nothing sent: %s", cfg.client_id, exc)
        accepted = RoundConfig.decode(wire.field_bytes(message, "config"))
        return _statement(cfg, accepted, ready=False)
    items, refused = ms.items_of(state.need_release())
    write_json_atomic(
        _pending_path(cfg),
        {"round_id": config.round_id, "items": [i.hex() for i in items], "refused": refused},
        mode=0o600,
    )
    log.info(
        "%s: stage prepare: %d items ready for secure aggregation (%d too long, refused)",
        cfg.client_id,
        len(items),
        refused,
    )
    return _statement(cfg, config, ready=True)


def _statement(cfg: HospitalConfig, config: RoundConfig, *, ready: bool) -> RecordDict:
    """The prepare reply: status, key id and the identity-signed ready statement, nothing else."""

    identity, _server, _roster = load_keys(cfg)
    signed = sign_ready(identity, config.round_id, config.config_hash, ready=ready)
    if ready:
        return wire.record(status=wire.STATUS_READY, key_id=identity.key_id.hex(), statement=signed)
    return wire.record(
        status=wire.STATUS_BLOCKED,
        key_id=identity.key_id.hex(),
        statement=signed,
        reason=BLOCKED_REASON,
    )


def handle_secagg(cfg: HospitalConfig, message: Message) -> RecordDict:
    """One secure-aggregation stage; the reply carries this client's answer."""

    stage = _stage_of(message)
    request = wire.field_bytes(message, "request")
    _identity, server, roster = load_keys(cfg)
    states = SecAggStateFile(
        state_path(cfg.keys.private_key), KeyBundle.load(cfg.keys.private_key), server
    )
    prepared, items = _pending_items(cfg)  # join only with a release prepared for this round
    joined = Joined(prepared, release_digest(items))
    if stage == 0:
        profile = _profile(cfg)
        check_participation(states.history(), joined, profile.release.secagg_min_cohort_difference)
        client = states.start(request, roster, profile.secagg)
    else:
        client = states.resume(roster)
    if stage == 3:  # the signed survivor list names the cohort whose sum this would unmask
        joined = _cohort_checked(cfg, states, (client, server), request, joined)
    vector = None
    if stage == 2:  # the plan: k and, in the entry pass, the buckets that reached k
        plan = wire.field_bytes(message, "plan", limit=wire.MAX_FIELD_BYTES)
        layout, selection = ms.decode_plan(plan, len(client.params.participants))
        _check_threshold(cfg, layout)
        vector = ms.client_vector(items, layout, client.config_hash, selection)
    try:
        reply = step(client, stage, request, vector)
    except FicalError:
        states.keep(client)  # aborted: a failed stage keeps no secret
        raise
    states.keep(client, joined if stage == 3 else None)
    log.info("%s: stage secagg %d: answered (%d bytes)", cfg.client_id, stage, len(reply))
    return wire.record(status=wire.STATUS_OK, reply=reply)


def _check_threshold(cfg: HospitalConfig, layout: object) -> None:
    """Refuse a plan whose k is below the profile's ``release.secagg_min_support``.

    Raises:
        WeakSecAggParameters: the client sends no masked input (a dropout).
    """

    k = layout.k if isinstance(layout, ThresholdLayout) else 1
    floor = _profile(cfg).release.secagg_min_support
    if k < floor:
        raise WeakSecAggParameters(
            f"the round reveals entries at k={k}, below this hospital's"
            f" release.secagg_min_support {floor}: nothing of its release is sent;"
            " the operator must raise aggregate.min_support"
        )


def _stage_of(message: Message) -> int:
    try:
        stage = int(wire.field_text(message, "stage"))
    except ValueError:
        raise ProtocolError("the stage field is not a number") from None
    if not 0 <= stage <= 4:
        raise ProtocolError(f"no secure-aggregation stage {stage}")
    return stage


def _profile(cfg: HospitalConfig) -> Profile:
    """The hospital's profile: its participation policy and its floors on SecAgg+ parameters."""

    return load_profile(resolve_profile(cfg.privacy.audit_profile))


def _cohort_checked(
    cfg: HospitalConfig,
    states: SecAggStateFile,
    parties: tuple[SecAggClient, IdentityPublicKey],
    request: bytes,
    joined: Joined,
) -> Joined:
    """``joined`` with the survivor cohort of the server-signed list, once the policy allows it.

    Raises:
        ParticipationRefused, InvalidSignature, WrongRoundError, MessageFormatError: the
            client walks out of the round (no secret kept) and reveals nothing.
    """

    client, server = parties
    try:
        survivors = SurvivorList.decode(request)
        survivors.verify(server)
        survivors.check_round(client.round_id, client.config_hash)
        cohort = Joined(joined.round_id, joined.release, frozenset(survivors.survivors))
        policy = _profile(cfg).release
        check_participation(states.history(), cohort, policy.secagg_min_cohort_difference)
    except FicalError:
        states.abandon(client)
        raise
    return cohort


def check_contributed(cfg: HospitalConfig, round_id: int) -> None:
    """Raise unless this client finished the secure aggregation of the accepted round.

    Raises:
        ProtocolError: the last secure aggregation it joined did not finish, or
            belongs to an older round than ``round_id``.
    """

    _identity, server, _roster = load_keys(cfg)
    states = SecAggStateFile(
        state_path(cfg.keys.private_key), KeyBundle.load(cfg.keys.private_key), server
    )
    try:
        saved = states.load()
    except StoreError as exc:
        raise ProtocolError(f"cannot check this client's secure aggregation: {exc}") from None
    if saved is None or not saved.finished or saved.round_id < round_id:
        raise ProtocolError(
            "a result for a round whose secure aggregation this client did not finish"
        )


def release_done(cfg: HospitalConfig) -> None:
    """The round's result is stored: its prepared items are no longer needed."""
    _pending_path(cfg).unlink(missing_ok=True)


def _pending_path(cfg: HospitalConfig) -> Path:
    return cfg.keys.private_key.parent / PENDING


def _pending_items(cfg: HospitalConfig) -> tuple[int, list[bytes]]:
    """(round id, items) prepared for the round this client accepted last.

    Raises:
        ProtocolError: nothing was prepared, or it was for another round.
    """

    identity, server, _roster = load_keys(cfg)
    accepted = Client(identity, server, state_path=round_state_path(cfg)).state.config
    try:
        raw = json.loads(_pending_path(cfg).read_text(encoding="utf-8"))
        round_id, items = int(raw["round_id"]), [bytes.fromhex(i) for i in raw["items"]]
    except FileNotFoundError:
        raise ProtocolError("no release is prepared for secure aggregation") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"{PENDING} is malformed: {exc}") from None
    if accepted is None or round_id != accepted.round_id:
        raise ProtocolError("the prepared release belongs to another round")
    return round_id, items
