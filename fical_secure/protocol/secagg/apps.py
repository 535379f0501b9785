"""What runs on top of secure aggregation: weighted FedAvg and anonymous multisets.

Both only choose what vector each client sums; the protocol is the same.
``make_round(attempt, length)`` returns a fresh :class:`Federation`-like pair
of server and clients for one round (a new round id per attempt).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fical_secure.aggregate.anonymous import (
    DecodedMultiset,
    ResidualCollision,
    SlotLayout,
    decode_multiset,
    encode_items,
    round_slot_key,
)
from fical_secure.aggregate.fixedpoint import FixedPoint
from fical_secure.errors import AggregationError
from fical_secure.protocol.secagg.driver import Federation, RoundOutcome, run_secagg_round

log = logging.getLogger(__name__)
MakeRound = Callable[[int, int], Federation]


def secure_fedavg(
    vectors: Mapping[bytes, npt.NDArray[np.floating]],
    weights: Mapping[bytes, int],
    fixed: FixedPoint,
    federation: Federation,
    *,
    dropouts: Mapping[int, set[bytes]] | None = None,
) -> tuple[npt.NDArray[np.floating], RoundOutcome]:
    """The weighted mean of the survivors' clipped vectors; the server sees only the sum.

    Raises:
        QuantizationError: a bad vector or weight (before anything is sent).
        SecAggAbort: too few clients survived.
    """
    inputs = {cid: fixed.encode(vec, weights[cid]) for cid, vec in vectors.items()}
    outcome = run_secagg_round(federation, inputs, dropouts=dropouts)
    return fixed.decode_mean(outcome.total), outcome


@dataclass(frozen=True)
class MultisetResult:
    """The anonymous multiset and what it cost."""

    items: Counter[bytes]
    attempts: int
    upload_bytes_per_client: int  # the slot vector, one round
    survivors: int
    round_id: int
    config_hash: bytes
    upload_bytes: int  # every message of every attempt, all clients
    download_bytes: int
    refused_clients: dict[bytes, str]  # clients whose items could not be encoded
    forged_items: int = 0  # items refused with a count no honest sum can have


def anonymous_multiset(
    items: Mapping[bytes, Sequence[bytes]],
    layout: SlotLayout,
    make_round: MakeRound,
    *,
    max_attempts: int = 3,
) -> MultisetResult:
    """Item -> number of clients holding it, without who holds which.

    Each attempt runs one secure-aggregation round whose slot key comes from
    its fresh signed config (:func:`round_slot_key`); a residual collision
    (detected by checksums) triggers the next attempt. Items decoded with a
    count above the round's survivors (or below one) are refused and counted
    in ``forged_items``.

    Raises:
        AggregationError: collisions remained after ``max_attempts`` rounds.
        SecAggAbort: too few clients survived a round.
    """
    up = down = 0
    for attempt in range(1, max_attempts + 1):
        federation = make_round(attempt, layout.length)
        refused: dict[bytes, str] = {}

        def vector(
            cid: bytes, config_hash: bytes, refused: dict[bytes, str] = refused
        ) -> npt.NDArray[np.unsignedinteger] | None:
            if cid not in items:
                return None  # no input: it drops out
            try:  # fails closed per client: one that cannot encode sends nothing
                return encode_items(list(items[cid]), layout, round_slot_key(config_hash))
            except AggregationError as exc:
                refused[cid] = str(exc)
                return None

        outcome = run_secagg_round(federation, vector)
        up, down = up + outcome.upload_bytes, down + outcome.download_bytes
        server = federation.server
        decoded = _decode(outcome, layout, server.config_hash, attempt)
        if decoded is None:
            continue
        return MultisetResult(
            decoded.items,
            attempt,
            layout.length * 4,
            len(outcome.survivors),
            server.round_id,
            server.config_hash,
            up,
            down,
            refused,
            len(decoded.forged),
        )
    raise AggregationError(
        f"slot collisions remained after {max_attempts} rounds: lower collision_probability"
    )


def _decode(
    outcome: RoundOutcome, layout: SlotLayout, config_hash: bytes, attempt: int
) -> DecodedMultiset | None:
    """The round's multiset (forged items refused and logged), or None on a collision."""
    key = round_slot_key(config_hash)
    try:
        decoded = decode_multiset(outcome.total, layout, key, len(outcome.survivors))
    except ResidualCollision as exc:
        log.warning("anonymous aggregation attempt %d: %s", attempt, exc)
        return None
    for refusal in decoded.forged:
        log.warning("anonymous aggregation attempt %d: %s", attempt, refusal)
    return decoded
