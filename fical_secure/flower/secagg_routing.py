"""Which Flower node speaks for which hospital in a secure-aggregation round.

The server routes a hospital's key id to a node only on proof that key
signed for this round: its ready statement
(:mod:`fical_secure.protocol.secagg.ready`) at prepare, its identity-signed
key advert at stage 0. A node claiming another hospital's key id (ready
squatting) gets nothing routed to it; a key id claimed from two nodes is
routed to neither.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any

from fical_secure.errors import FicalError, MessageFormatError
from fical_secure.flower import wire
from fical_secure.protocol.secagg.messages import AdvertiseKeys
from fical_secure.protocol.secagg.ready import verify_ready

log = logging.getLogger(__name__)


def proven_ready(
    replies: list[Any], roster: Any, owners: Mapping[bytes, str], config: Any
) -> tuple[dict[bytes, int], dict[str, dict[str, str]], dict[str, int]]:
    """(key id -> node of each ready client, who said what, refusals by kind).

    A key id is routed to a node only on a statement that key signed for this
    round config; a key id claimed from two nodes is routed to neither.
    """
    said: dict[bytes, tuple[int, str]] = {}
    claims: Counter[bytes] = Counter()
    refused: Counter[str] = Counter()
    for reply in replies:
        node = reply.metadata.src_node_id
        if reply.has_error():
            log.warning("SuperNode %d is lost this round: %s", node, reply.error.reason)
            continue
        try:
            status = wire.field_text(reply, "status")
            if status not in (wire.STATUS_READY, wire.STATUS_BLOCKED):
                why = wire.refusal(reply, wire.STATUS_READY)
                log.warning("SuperNode %d released nothing: %s", node, why)
                refused[f"client_{status}"] += 1
                continue
            blob = wire.field_bytes(reply, "statement", limit=4096)
            statement = verify_ready(blob, roster, config.round_id, config.config_hash)
            if (statement.name, statement.signer_id.hex()) != (
                status,
                wire.field_text(reply, "key_id"),
            ):
                raise MessageFormatError("the reply's status or key id is not the signed one")
        except FicalError as exc:
            refused[type(exc).__name__] += 1
            log.warning("SuperNode %d sent an unproven ready reply: %s", node, exc)
            continue
        claims[statement.signer_id] += 1
        said[statement.signer_id] = (node, status)
    ready: dict[bytes, int] = {}
    for key_id, (node, status) in said.items():
        if claims[key_id] > 1:
            refused["duplicate_key_id"] += claims[key_id]
            log.warning("key id %s was claimed from %d nodes", key_id.hex(), claims[key_id])
        elif status == wire.STATUS_BLOCKED:
            refused["client_blocked"] += 1
        else:
            ready[key_id] = node
    statuses = {
        owners.get(k, k.hex()): {"key_id": k.hex(), "status": s} for k, (_, s) in said.items()
    }
    return ready, statuses, dict(refused)


def advert_route(
    blob: bytes, server: Any, roster: Any, ready: dict[bytes, int], node: int
) -> bytes:
    """The key id whose signed advert for this round came from ``node``, its ready node.

    Raises:
        MessageFormatError, WrongRoundError, NotEnrolledError, InvalidSignature: not proven.
    """
    advert = AdvertiseKeys.decode(blob)
    advert.check_round(server.round_id, server.config_hash)
    advert.verify(roster.lookup(advert.signer_id))
    if ready.get(advert.signer_id) != node:
        raise MessageFormatError("a key advert from another node than its ready statement's")
    return advert.signer_id
