"""The anonymous multiset, gathered: what a secure-aggregation round sums and what it yields.

A client's released compendium becomes *items* (:func:`items_of`: one
canonical JSON per entry and per tool signature); each pass of the round sums
one vector per client (:func:`client_vector`): the slot vector of
:mod:`fical_secure.aggregate.anonymous` (``min_support`` k = 1), or the two
passes of :mod:`fical_secure.aggregate.threshold` (k >= 2: bucket counts, then
entries in the buckets that reached k). What a client needs besides its items
travels as the *plan* (:func:`encode_plan`). :func:`collect_multiset` is the
one orchestration of the passes, collision retries included, over a
``run_pass`` callable that the round's workflow
(:class:`fical_secure.pipeline.secagg_round.SecAggRound`) supplies; the
decoded multiset becomes one anonymous single-item compendium per copy
(:func:`anonymous_compendiums`) for the server's aggregate stage.

Limits (stated, not hidden): the server cannot validate one client's
compendium as a whole (only each decoded item, which it does); and two
paraphrases of one piece of knowledge from the *same* client count twice
where the sealed mode would count that client once.
"""

from __future__ import annotations

import json
import logging
import struct
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
from fical_secure.aggregate.threshold import (
    EXPECTED_DISTINCT,
    MAX_EXPECTED_DISTINCT,
    Selection,
    ThresholdLayout,
    decode_entries,
    encode_counts,
    encode_entries,
    round_bucket_key,
    select_buckets,
)
from fical_secure.errors import (
    AggregationError,
    ConfigError,
    ProtocolError,
    SchemaError,
    UntrustedInputError,
)
from fical_secure.kcg.schema import Compendium, Entry, ToolSignature, validate_entry
from fical_secure.untrusted import loads_bounded

log = logging.getLogger(__name__)
MAX_ITEMS = 64
MAX_ITEM_BYTES = 640
MAX_ATTEMPTS = 3  # secure-aggregation rounds before a residual collision is an error
ANONYMOUS_OWNER = "anonymous-{:06d}"
_PLAN = struct.Struct(">IHI")  # n_clients, k, expected distinct items


def items_of(
    compendium: Compendium, max_item_bytes: int = MAX_ITEM_BYTES
) -> tuple[list[bytes], int]:
    """A released compendium as slot items; returns (items, refused) where an item
    too long for a slot is refused and counted, never silently dropped."""
    items, refused = [], 0
    raw = [
        json.dumps(["entry", e.tool, e.kind, e.text], ensure_ascii=False)
        for e in compendium.entries
    ]
    raw += [
        json.dumps(["signature", s.tool, [list(a) for a in s.args]], ensure_ascii=False)
        for s in compendium.signatures
    ]
    for text in raw:
        item = text.encode("utf-8")
        if len(item) > max_item_bytes:
            refused += 1
            log.warning("an item of %d bytes exceeds the %d-byte slot", len(item), max_item_bytes)
            continue
        items.append(item)
    return items, refused


def _parse(item: bytes) -> Entry | ToolSignature:
    try:
        raw = loads_bounded(item)
    except UntrustedInputError:
        raise SchemaError("a decoded item is not JSON") from None
    if isinstance(raw, list) and len(raw) == 4 and raw[0] == "entry":
        return validate_entry(str(raw[1]), str(raw[2]), str(raw[3]))
    if isinstance(raw, list) and len(raw) == 3 and raw[0] == "signature":
        if not isinstance(raw[2], list):
            raise SchemaError("a decoded signature item is malformed")
        args = tuple((str(a[0]), str(a[1])) for a in raw[2] if isinstance(a, list) and len(a) == 2)
        if len(args) != len(raw[2]):
            raise SchemaError("a decoded signature item is malformed")
        return ToolSignature(str(raw[1]), args)
    raise SchemaError("a decoded item is neither an entry nor a signature")


def anonymous_compendiums(multiset: Counter[bytes]) -> tuple[list[Compendium], int]:
    """One single-item compendium per copy, in item order (no client order survives).

    Returns (compendiums, rejected items); an item failing the schema is rejected.
    """
    out: list[Compendium] = []
    rejected = 0
    for item in sorted(multiset):
        try:
            parsed = _parse(item)
        except SchemaError as exc:
            log.warning("a decoded item was rejected by the schema: %s", exc)
            rejected += multiset[item]
            continue
        for _ in range(multiset[item]):
            owner = ANONYMOUS_OWNER.format(len(out) + 1)
            if isinstance(parsed, Entry):
                out.append(Compendium(owner=owner, entries=(parsed,)))
            else:
                out.append(Compendium(owner=owner, entries=(), signatures=(parsed,)))
    return out, rejected


def layout_for(
    n_clients: int, min_support: int = 1, expected_distinct: int = EXPECTED_DISTINCT
) -> SlotLayout | ThresholdLayout:
    """The layout of a round of ``n_clients`` (caps are configuration, not data).

    ``min_support`` is the k: 1 gives the one-pass slot vector (the whole
    multiset); k >= 2 the two passes that reveal only items k clients hold,
    the count pass sized from ``expected_distinct``.

    Raises:
        ConfigError: ``min_support`` above ``n_clients``.
    """
    if min_support == 1:
        return SlotLayout(n_clients=n_clients, max_items=MAX_ITEMS, max_item_bytes=MAX_ITEM_BYTES)
    return ThresholdLayout(
        n_clients=n_clients,
        k=min_support,
        max_items=MAX_ITEMS,
        max_item_bytes=MAX_ITEM_BYTES,
        expected_distinct=expected_distinct,
    )


def encode_plan(layout: SlotLayout | ThresholdLayout, selection: Selection | None) -> bytes:
    """What a client needs besides its items to build its masked input: ``n_clients``,
    k (1: the one-pass slot vector), the expected distinct items and, in the entry
    pass, the bucket selection."""
    if isinstance(layout, ThresholdLayout):
        k, distinct = layout.k, layout.expected_distinct
    else:
        k, distinct = 1, EXPECTED_DISTINCT
    body = selection.encode() if selection is not None else b""
    return _PLAN.pack(layout.n_clients, k, distinct) + body


def decode_plan(
    data: bytes, participants: int
) -> tuple[SlotLayout | ThresholdLayout, Selection | None]:
    """The layout and selection of a plan, for a round of ``participants``.

    Raises:
        ProtocolError: malformed, or a layout for fewer clients than the round's.
    """
    if len(data) < _PLAN.size:
        raise ProtocolError("the secure-aggregation plan is malformed")
    n_clients, k, distinct = _PLAN.unpack_from(data)
    if not participants <= n_clients <= 1_000_000 or not 1 <= k <= n_clients:
        raise ProtocolError(
            f"a plan for {n_clients} clients and k={k} in a round of {participants}"
        )
    if not 1 <= distinct <= MAX_EXPECTED_DISTINCT:
        raise ProtocolError(f"a plan expecting {distinct} distinct items")
    try:
        layout = layout_for(n_clients, k, distinct)
        selection = Selection.decode(data[_PLAN.size :]) if len(data) > _PLAN.size else None
    except (AggregationError, ConfigError) as exc:
        raise ProtocolError(f"the secure-aggregation plan is malformed: {exc}") from None
    if selection is not None and k == 1:
        raise ProtocolError("a bucket selection for the one-pass slot vector")
    return layout, selection


Layout = SlotLayout | ThresholdLayout
Plan = tuple[Layout, "Selection | None"]  # what a pass asks each client to encode


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


def collect_multiset(
    run_pass: RunPass, layout: Layout, *, max_attempts: int = MAX_ATTEMPTS
) -> MultisetResult:
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
