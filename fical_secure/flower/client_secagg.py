"""A hospital's side of a secure-aggregation round on Flower (each message a fresh process).

``train.fical_prepare``: the client pipeline on own data (the same
:func:`~fical_secure.flower.client_app.prepare_release` the sealed mode runs);
the release's slot items are kept in ``pending-items.json`` (mode 0600, bound
to the accepted round) and the reply says ``ready`` with this client's key id.

``train.fical_secagg``: one stage of :class:`SecAggClient`, rebuilt from its
sealed state file (:mod:`fical_secure.protocol.secagg.persist`) and sealed back
after the stage; at the masked-input stage the client encodes its own items
into the slot vector of the round (layout from the signed participant list,
slot key from the signed config hash). Nothing of the client's text leaves
but masked words.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from fical_secure.atomic import write_json_atomic
from fical_secure.errors import ProtocolError, StoreError
from fical_secure.flower import wire
from fical_secure.flower.notes import ClientNotes

if TYPE_CHECKING:
    from flwr.app import Message, RecordDict

    from fical_secure.flower.config import HospitalConfig

log = logging.getLogger(__name__)
PENDING = "pending-items.json"


def handle_prepare(cfg: HospitalConfig, message: Message) -> RecordDict:
    """Run the client pipeline; keep the release's items for the masked-input stage."""
    from fical_secure.flower.client_app import prepare_release
    from fical_secure.pipeline import secagg_round as sr

    client, config, state = prepare_release(cfg, message)
    items, refused = sr.items_of(state.need_release())
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
    notes = ClientNotes(cfg.client_id, state.report).encode()
    return wire.record(status=wire.STATUS_READY, key_id=client.key_id.hex(), notes=notes)


def handle_secagg(cfg: HospitalConfig, message: Message) -> RecordDict:
    """One secure-aggregation stage; the reply carries this client's answer."""
    from fical_secure.aggregate.anonymous import encode_items, round_slot_key
    from fical_secure.crypto.keys import KeyBundle
    from fical_secure.flower.client_app import load_keys
    from fical_secure.pipeline import secagg_round as sr
    from fical_secure.protocol.secagg.driver import step
    from fical_secure.protocol.secagg.persist import SecAggStateFile, state_path

    try:
        stage = int(wire.field_text(message, "stage"))
    except ValueError:
        raise ProtocolError("the stage field is not a number") from None
    if not 0 <= stage <= 4:
        raise ProtocolError(f"no secure-aggregation stage {stage}")
    request = wire.field_bytes(message, "request")
    _identity, server, roster = load_keys(cfg)
    bundle = KeyBundle.load(cfg.private_key)
    states = SecAggStateFile(state_path(cfg.private_key), bundle, server)
    if stage == 0:
        _pending_items(cfg)  # join only with a release prepared for the accepted round
        client = states.start(request, roster)
    else:
        client = states.resume(roster)
    vector = None
    try:
        if stage == 2:
            layout = sr.layout_for(len(client.params.participants))
            vector = encode_items(_pending_items(cfg), layout, round_slot_key(client.config_hash))
        reply = step(client, stage, request, vector)
    finally:
        states.keep(client)  # sealed; a finished or aborted round keeps no secret
    log.info("%s: stage secagg %d: answered (%d bytes)", cfg.client_id, stage, len(reply))
    if stage == 4:
        _pending_path(cfg).unlink(missing_ok=True)
    return wire.record(status=wire.STATUS_OK, reply=reply)


def check_contributed(cfg: HospitalConfig, round_id: int) -> None:
    """Raise unless this client finished the secure aggregation of the accepted round.

    Raises:
        ProtocolError: the last secure aggregation it joined did not finish, or
            belongs to an older round than ``round_id``.
    """
    from fical_secure.crypto.keys import KeyBundle
    from fical_secure.flower.client_app import load_keys
    from fical_secure.protocol.secagg.persist import SecAggStateFile, state_path

    _identity, server, _roster = load_keys(cfg)
    states = SecAggStateFile(state_path(cfg.private_key), KeyBundle.load(cfg.private_key), server)
    try:
        saved = states.load()
    except StoreError as exc:
        raise ProtocolError(f"cannot check this client's secure aggregation: {exc}") from None
    if saved is None or not saved.finished or saved.round_id < round_id:
        raise ProtocolError(
            "a result for a round whose secure aggregation this client did not finish"
        )


def _pending_path(cfg: HospitalConfig) -> Path:
    return cfg.private_key.parent / PENDING


def _pending_items(cfg: HospitalConfig) -> list[bytes]:
    """The items prepared for the round this client accepted last.

    Raises:
        ProtocolError: nothing was prepared, or it was for another round.
    """
    from fical_secure.flower.client_app import load_keys, round_state_path
    from fical_secure.protocol import Client

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
    return items
