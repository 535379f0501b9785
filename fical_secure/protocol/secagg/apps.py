"""What runs on top of secure aggregation: weighted FedAvg and anonymous multisets.

Both only choose what vector each client sums; the protocol is the same.
The anonymous multiset is one orchestration (:func:`collect_multiset`) over a
``run_pass`` callable that runs one secure-aggregation round of a given
length: in this process (:func:`anonymous_multiset`, ``make_round(attempt,
length)`` returning a fresh :class:`Federation` per round) or over Flower
(:mod:`fical_secure.flower.server_secagg`). What each client sums is
:func:`client_vector`, on whichever side the client runs.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

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
from fical_secure.aggregate.threshold import (
    Selection,
    ThresholdLayout,
    decode_entries,
    encode_counts,
    encode_entries,
    round_bucket_key,
    select_buckets,
)
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


Layout = SlotLayout | ThresholdLayout


@dataclass(frozen=True)
class PassOutcome:
    """One secure-aggregation round of the multiset: its sum and what it cost."""

    total: npt.NDArray[np.unsignedinteger]
    survivors: tuple[bytes, ...]
    config_hash: bytes
    round_id: int
    upload_bytes: int = 0  # every message of the round, all clients
    download_bytes: int = 0
    refused_clients: Mapping[bytes, str] = field(default_factory=dict)


RunPass = Callable[[int, int, "Selection | None"], PassOutcome]  # (attempt, length, selection)


@dataclass(frozen=True)
class MultisetResult:
    """The anonymous multiset and what it cost."""

    items: Counter[bytes]
    attempts: int  # secure-aggregation rounds run (retries, or the two passes)
    upload_bytes_per_client: int  # masked input words x 4, every round
    survivors: int
    round_id: int
    config_hash: bytes
    upload_bytes: int  # every message of every attempt, all clients
    download_bytes: int
    refused_clients: dict[bytes, str]  # clients whose items could not be encoded
    forged_items: int = 0  # items refused with a count no honest sum can have
    below_threshold: int = 0  # slots decoded below k, refused (text neither kept nor logged)
    dropped_collisions: int = 0  # slots of several items, dropped (threshold mode)
    forged_buckets: int = 0  # pass-1 buckets refused with a count above the contributors


def client_vector(
    items: Sequence[bytes], layout: Layout, config_hash: bytes, selection: Selection | None
) -> npt.NDArray[np.unsignedinteger]:
    """What one client sums in a round: its slot vector, pass-1 counts or pass-2 entries.

    Raises:
        AggregationError: the items cannot be encoded (the client sends nothing).
    """
    if isinstance(layout, SlotLayout):
        return encode_items(list(items), layout, round_slot_key(config_hash))
    if selection is None:
        return encode_counts(items, layout, round_bucket_key(config_hash))
    return encode_entries(items, layout, selection)


def collect_multiset(run_pass: RunPass, layout: Layout, *, max_attempts: int = 3) -> MultisetResult:
    """Item -> number of clients holding it, without who holds which.

    A :class:`SlotLayout` (k = 1) runs one round per attempt, a residual
    collision (detected by checksums) triggering the next attempt with a fresh
    key. A :class:`ThresholdLayout` runs two rounds (bucket counts, then
    entries in the buckets that reached k) and keeps only items decoded with
    ``k..survivors`` copies; colliding slots are dropped, never retried.

    Raises:
        AggregationError: collisions remained after ``max_attempts`` rounds.
        SecAggAbort: too few clients survived a round.
    """
    if isinstance(layout, ThresholdLayout):
        return _thresholded(run_pass, layout)
    up = down = 0
    for attempt in range(1, max_attempts + 1):
        outcome = run_pass(attempt, layout.length, None)
        up, down = up + outcome.upload_bytes, down + outcome.download_bytes
        decoded = _decode(outcome, layout, attempt)
        if decoded is None:
            continue
        return MultisetResult(
            decoded.items,
            attempt,
            layout.length * 4,
            len(outcome.survivors),
            outcome.round_id,
            outcome.config_hash,
            up,
            down,
            dict(outcome.refused_clients),
            len(decoded.forged),
        )
    raise AggregationError(
        f"slot collisions remained after {max_attempts} rounds: lower collision_probability"
    )


def _thresholded(run_pass: RunPass, layout: ThresholdLayout) -> MultisetResult:
    counts = run_pass(1, layout.count_length, None)
    key = round_bucket_key(counts.config_hash)
    selection = select_buckets(counts.total, layout, key, len(counts.survivors))
    log.info(
        "anonymous aggregation: %d buckets reached k=%d (%d refused as forged)",
        len(selection.cells),
        layout.k,
        selection.forged,
    )
    last, passes = counts, 1
    if selection.cells:
        last, passes = run_pass(2, layout.entries_length(len(selection.cells)), selection), 2
        decoded = decode_entries(last.total, layout, selection, len(last.survivors))
    else:
        decoded = decode_entries(np.zeros(0, dtype=np.uint32), layout, selection, 1)
    for refusal in decoded.forged:
        log.warning("anonymous aggregation: %s", refusal)
    log.info(
        "anonymous aggregation: %d items at k=%d; %d slots below k and %d colliding refused",
        len(decoded.items),
        layout.k,
        decoded.below_k,
        decoded.collided,
    )
    return MultisetResult(
        decoded.items,
        passes,
        layout.upload_bytes(len(selection.cells)),
        len(last.survivors),
        last.round_id,
        last.config_hash,
        counts.upload_bytes + (last.upload_bytes if passes == 2 else 0),
        counts.download_bytes + (last.download_bytes if passes == 2 else 0),
        {**counts.refused_clients, **last.refused_clients},
        len(decoded.forged),
        decoded.below_k,
        decoded.collided,
        selection.forged,
    )


def anonymous_multiset(
    items: Mapping[bytes, Sequence[bytes]],
    layout: Layout,
    make_round: MakeRound,
    *,
    max_attempts: int = 3,
) -> MultisetResult:
    """:func:`collect_multiset` with every client in this process.

    ``make_round(attempt, length)`` gives a fresh federation per round; in the
    threshold mode only the clients that survived the count pass join the
    entry pass. A client whose items cannot be encoded sends nothing (it fails
    closed, named in ``refused_clients``).

    Raises:
        AggregationError: collisions remained after ``max_attempts`` rounds.
        SecAggAbort: too few clients survived a round.
    """
    joined: set[bytes] = set(items)

    def run_pass(attempt: int, length: int, selection: Selection | None) -> PassOutcome:
        federation = make_round(attempt, length)
        refused: dict[bytes, str] = {}

        def vector(cid: bytes, config_hash: bytes) -> npt.NDArray[np.unsignedinteger] | None:
            if cid not in items or cid not in joined:
                return None  # no input: it drops out
            try:  # fails closed per client: one that cannot encode sends nothing
                return client_vector(items[cid], layout, config_hash, selection)
            except AggregationError as exc:
                refused[cid] = str(exc)
                return None

        outcome = run_secagg_round(federation, vector)
        if selection is None:
            joined.intersection_update(outcome.survivors)
        server = federation.server
        return PassOutcome(
            outcome.total,
            outcome.survivors,
            server.config_hash,
            server.round_id,
            outcome.upload_bytes,
            outcome.download_bytes,
            refused,
        )

    return collect_multiset(run_pass, layout, max_attempts=max_attempts)


def _decode(outcome: PassOutcome, layout: SlotLayout, attempt: int) -> DecodedMultiset | None:
    """The round's multiset (forged items refused and logged), or None on a collision."""
    key = round_slot_key(outcome.config_hash)
    try:
        decoded = decode_multiset(outcome.total, layout, key, len(outcome.survivors))
    except ResidualCollision as exc:
        log.warning("anonymous aggregation attempt %d: %s", attempt, exc)
        return None
    for refusal in decoded.forged:
        log.warning("anonymous aggregation attempt %d: %s", attempt, refusal)
    return decoded
