"""Weighted FedAvg and anonymous compendium aggregation through secure aggregation."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fical_secure.aggregate.anonymous import (
    ItemTooLong,
    ResidualCollision,
    SlotLayout,
    decode_items,
    encode_items,
)
from fical_secure.aggregate.fixedpoint import FixedPoint
from fical_secure.errors import AggregationError, QuantizationError, SecAggAbort
from fical_secure.pipeline import secagg_round as sr
from fical_secure.pipeline.carrier import InProcessSecAggCarrier
from fical_secure.pipeline.secagg_round import SecAggRound, anonymous_multiset
from fical_secure.protocol.secagg import Federation
from fical_secure.protocol.secagg.apps import secure_fedavg
from fical_secure.protocol.secagg.server import SecAggServer


@pytest.mark.parametrize(
    ("clip", "level_bits", "n", "weight"),
    [
        (0.0, 16, 5, 1),
        (-1.0, 16, 5, 1),
        (float("nan"), 16, 5, 1),
        (float("inf"), 8, 2, 1),
        (1.0, 30, 5, 1),
        (1.0, 16, 70_000, 1),
        (1.0, 20, 100, 5000),
    ],
)
def test_invalid_clipping_or_overflowing_settings_are_refused(
    clip: float, level_bits: int, n: int, weight: int
) -> None:
    with pytest.raises(QuantizationError):
        FixedPoint(clip=clip, level_bits=level_bits, n_clients=n, max_weight=weight)


def test_the_overflow_bound_is_tight() -> None:
    FixedPoint(clip=1.0, level_bits=16, n_clients=65_537, bits=32)  # 65537 * 65535 < 2^32
    with pytest.raises(QuantizationError):
        FixedPoint(clip=1.0, level_bits=16, n_clients=65_538, bits=32)


def test_non_finite_inputs_and_bad_weights_are_refused() -> None:
    fp = FixedPoint(clip=1.0, level_bits=16, n_clients=3, max_weight=10)
    with pytest.raises(QuantizationError):
        fp.encode(np.array([0.0, np.nan]), 1)
    with pytest.raises(QuantizationError):
        fp.encode(np.array([0.0]), 11)


def test_weighted_fedavg_through_secagg_matches_the_plain_weighted_mean() -> None:
    rng = np.random.default_rng(4)
    fed = Federation.create(6, bits=32, length=201)
    ids = fed.server.params.participants
    vectors = {c: rng.normal(0, 0.3, 200) for c in ids}
    weights = {c: int(w) for c, w in zip(ids, rng.integers(1, 100, len(ids)), strict=True)}
    fp = FixedPoint(clip=1.0, level_bits=16, n_clients=6, max_weight=100)
    dropped = ids[2]
    mean, outcome = secure_fedavg(vectors, weights, fp, fed, dropouts={2: {dropped}})
    kept = [c for c in ids if c != dropped]
    clipped = {c: np.clip(vectors[c], -1, 1) for c in kept}
    want = sum(weights[c] * clipped[c] for c in kept) / sum(weights[c] for c in kept)
    assert dropped not in outcome.survivors
    assert np.max(np.abs(mean - want)) <= fp.max_error + 1e-12


@settings(max_examples=30, deadline=None)
@given(
    per_client=st.lists(
        st.lists(st.binary(min_size=0, max_size=40), max_size=6), min_size=1, max_size=6
    )
)
def test_slot_vectors_sum_to_the_exact_multiset_with_support_counts(
    per_client: list[list[bytes]],
) -> None:
    layout = SlotLayout(
        n_clients=len(per_client), max_items=6, max_item_bytes=40, collision_probability=1e-8
    )
    key = os.urandom(32)
    total = np.zeros(layout.length, dtype=np.uint32)
    for items in per_client:
        total += encode_items(items, layout, key)
    want: Counter[bytes] = Counter()
    for items in per_client:
        want.update(set(items))
    assert decode_items(total, layout, key) == want


def test_colliding_slots_are_detected_never_decoded_wrongly() -> None:
    """A table of 2 x 1 slots forces collisions of different items: decoding refuses."""
    tiny = type("Tiny", (SlotLayout,), {"slots_per_table": property(lambda self: 1)})(
        n_clients=2, max_items=1, max_item_bytes=8, tables=2
    )
    key = os.urandom(32)
    total = encode_items([b"alpha"], tiny, key) + encode_items([b"beta"], tiny, key)
    with pytest.raises(ResidualCollision):
        decode_items(total, tiny, key)
    same = encode_items([b"alpha"], tiny, key) + encode_items([b"alpha"], tiny, key)
    assert decode_items(same, tiny, key) == Counter({b"alpha": 2})


def test_an_item_longer_than_the_slot_is_refused() -> None:
    layout = SlotLayout(n_clients=2, max_items=2, max_item_bytes=8)
    with pytest.raises(ItemTooLong):
        encode_items([b"x" * 9], layout, os.urandom(32))


def test_anonymous_multiset_through_secagg_counts_support_from_the_aggregate() -> None:
    shared, rare = b'["bmi","purpose","computes BMI"]', b'["bed","usage","name the ward"]'
    layout = SlotLayout(n_clients=4, max_items=3, max_item_bytes=64)
    first = Federation.create(4, bits=32, length=layout.length)
    ids = first.server.params.participants
    too_many = [b"a", b"b", b"c", b"d"]  # over max_items: that client fails closed, alone
    items = {ids[0]: [shared, rare], ids[1]: [shared], ids[2]: [shared, shared], ids[3]: too_many}
    result = anonymous_multiset(first, items, layout)
    assert result.items == Counter({shared: 3, rare: 1})  # a client's duplicate counts once
    assert list(result.refused_clients) == [ids[3]] and result.survivors == 3
    assert result.upload_bytes_per_client == layout.length * 4
    assert result.attempts == 1


def test_collisions_that_never_resolve_raise_after_the_retries() -> None:
    tiny = type("Tiny", (SlotLayout,), {"slots_per_table": property(lambda self: 1)})(
        n_clients=3, max_items=1, max_item_bytes=8, tables=2
    )
    first = Federation.create(3, bits=32, length=tiny.length)
    ids = first.server.params.participants
    items = {ids[0]: [b"a"], ids[1]: [b"b"], ids[2]: [b"c"]}
    with pytest.raises(AggregationError, match="after 2 rounds"):
        anonymous_multiset(first, items, tiny, max_attempts=2)


def _spy_passes(monkeypatch: pytest.MonkeyPatch) -> list[SecAggServer]:
    """Every pass's server, as the workflow drives its stages (the real driver runs)."""
    servers: list[SecAggServer] = []
    real = sr.drive_stages

    def spy(server: SecAggServer, ask: Any) -> Any:
        servers.append(server)
        return real(server, ask)

    monkeypatch.setattr(sr, "drive_stages", spy)
    return servers


def test_the_multiset_result_reports_its_round_and_every_attempts_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bytes sum over every round run (the carrier's count), ids are the last round's."""
    layout = SlotLayout(n_clients=4, max_items=2, max_item_bytes=16)
    first = Federation.create(4, bits=32, length=layout.length)  # one refused, 3 = threshold
    ids = first.server.params.participants
    too_many = [b"a", b"b", b"c"]
    items = {ids[0]: [b"x"], ids[1]: [b"x"], ids[2]: too_many, ids[3]: [b"y"]}
    carrier = InProcessSecAggCarrier(
        first.client_identities, first.server_identity.public, first.roster, items
    )
    servers = _spy_passes(monkeypatch)
    workflow = SecAggRound(first.server_identity, first.roster, layout, round_id=7)
    outcome = workflow.collect(carrier, ids)
    result = outcome.multiset
    assert [s.round_id for s in servers] == [7] and result.round_id == 7
    assert result.config_hash == servers[-1].config_hash
    assert result.upload_bytes == carrier.traffic.up > 0
    assert result.download_bytes == carrier.traffic.down > 0
    assert outcome.survivors == servers[-1].survivors and len(outcome.survivors) == 3
    with pytest.raises(AggregationError) as refused:
        encode_items(too_many, layout, os.urandom(32))
    assert result.refused_clients == {ids[2]: str(refused.value)}


def test_unresolved_collisions_are_retried_three_times_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tiny = type("Tiny", (SlotLayout,), {"slots_per_table": property(lambda self: 1)})(
        n_clients=3, max_items=1, max_item_bytes=8, tables=2
    )
    first = Federation.create(3, bits=32, length=tiny.length)
    ids = first.server.params.participants
    servers = _spy_passes(monkeypatch)
    with pytest.raises(AggregationError, match="after 3 rounds"):
        anonymous_multiset(first, {ids[0]: [b"a"], ids[1]: [b"b"], ids[2]: [b"c"]}, tiny)
    assert [s.round_id for s in servers] == [1, 2, 3]  # a fresh config per attempt
    assert len({s.config_hash for s in servers}) == 3


def test_an_aborted_pass_says_what_was_refused_and_which_clients_failed() -> None:
    layout = SlotLayout(n_clients=4, max_items=1, max_item_bytes=16)
    first = Federation.create(4, bits=32, length=layout.length)
    ids = first.server.params.participants
    too_many = [b"a", b"b"]  # three clients fail closed: fewer than the threshold remain
    items = {ids[0]: [b"x"], ids[1]: too_many, ids[2]: too_many, ids[3]: too_many}
    with pytest.raises(SecAggAbort, match=r"refused replies: none") as aborted:
        anonymous_multiset(first, items, layout)
    assert aborted.value.__notes__ == ["client-side errors before the abort: {'SecAggAbort': 3}"]
