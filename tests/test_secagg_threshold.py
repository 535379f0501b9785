"""The thresholded anonymous multiset: only entries at least k hospitals hold reach the server.

Real SecAgg+ rounds (two per multiset: bucket counts, then entries) among
enrolled in-process clients; collisions and forgeries are built on the real
encodings, a forger being a real client that adds a vector to its honest one.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections import Counter
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from fical_secure.aggregate.anonymous import WORD
from fical_secure.aggregate.threshold import (
    Selection,
    ThresholdLayout,
    _hashes,
    decode_entries,
    encode_counts,
    encode_entries,
    round_bucket_key,
    select_buckets,
)
from fical_secure.errors import AggregationError, ConfigError, SecAggAbort
from fical_secure.pipeline import multiset as ms
from fical_secure.pipeline.multiset import MultisetResult
from fical_secure.pipeline.secagg_round import anonymous_multiset
from fical_secure.protocol.secagg import Federation, SecAggClient

N = 6
K = 3
LAYOUT = ThresholdLayout(n_clients=N, k=K, max_items=4, max_item_bytes=96, expected_distinct=16)
WIDE = b'["entry","lab_lookup","purpose","Looks up a lab result by test name."]'  # 6 hold it
EXACT = b'["entry","bed_finder","usage","Name the ward when asking for a bed."]'  # k hold it
BELOW = b'["entry","bmi_calc","usage","Staff write \\"bmi\\" for weight/height."]'  # k - 1
LONE = b'["signature","ward_pager",[["ward","string"]]]'  # one hospital
# (config hash, pass, vector length) -> the vector the forger adds to its honest one
Forge = Callable[[bytes, int, int], npt.NDArray[np.int64]]


def _holdings(ids: tuple[bytes, ...]) -> dict[bytes, list[bytes]]:
    items = {c: [WIDE] for c in ids}
    for c in ids[:K]:
        items[c].append(EXACT)
    for c in ids[K : 2 * K - 1]:
        items[c].append(BELOW)
    items[ids[-1]].append(LONE)
    return items


def _run(forge: Forge | None = None, layout: ThresholdLayout = LAYOUT) -> MultisetResult:
    first = Federation.create(N, bits=32, length=layout.count_length)
    ids = first.server.params.participants

    class Forger(SecAggClient):
        def masked_input(self, bundle: bytes, vector: npt.NDArray[np.unsignedinteger]) -> bytes:
            assert forge is not None
            n_pass = 1 if vector.size == layout.count_length else 2
            extra = forge(self.config_hash, n_pass, vector.size)
            forged = (vector.astype(np.int64) + extra) % WORD
            return super().masked_input(bundle, forged.astype(np.uint32))

    forger = {ids[0]: Forger} if forge is not None else None
    return anonymous_multiset(first, _holdings(ids), layout, client_classes=forger)


def test_the_thresholded_multiset_is_exactly_the_entries_k_hospitals_hold(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        result = _run()
    assert result.items == Counter({WIDE: N, EXACT: K})
    assert result.attempts == 2 and result.survivors == N
    assert result.below_threshold == result.forged_items == result.dropped_collisions == 0
    for secret in (BELOW, LONE, b"bmi", b"ward_pager"):
        assert secret not in caplog.text.encode()


def test_k_equal_to_one_is_refused_by_the_threshold_layout() -> None:
    with pytest.raises(ConfigError, match="k=1"):
        ThresholdLayout(n_clients=4, k=1, max_items=2, max_item_bytes=8, expected_distinct=4)


def test_a_sub_k_item_is_never_written_into_the_entry_pass() -> None:
    """Its holders' pass-2 vectors carry nothing of it, whatever the other items."""
    key = os.urandom(32)
    holders = [[WIDE, EXACT]] * K + [[WIDE, BELOW]] * (K - 1) + [[WIDE, LONE]]
    total = sum(encode_counts(h, LAYOUT, key).astype(np.int64) for h in holders) % WORD
    selection = select_buckets(total.astype(np.uint32), LAYOUT, key, len(holders))
    assert len(selection.cells) == 2  # one pure bucket per item at k, not one per table
    alone = encode_entries([BELOW, LONE], LAYOUT, selection)
    assert not np.any(alone)  # neither sub-k item is in any selected pure bucket
    both = encode_entries([WIDE, BELOW, LONE], LAYOUT, selection)
    assert np.array_equal(both, encode_entries([WIDE], LAYOUT, selection)) and np.any(both)


def _colliding(layout: ThresholdLayout, key: bytes, base: bytes) -> bytes:
    """An item sharing ``base``'s bucket in every table (found by search, tables=1)."""
    want = _hashes(base, key, layout)[0]
    for n in itertools.count():
        candidate = b'["entry","t","usage","%d"]' % n
        if _hashes(candidate, key, layout)[0] == want:
            return candidate
    raise AssertionError("unreachable")


def test_a_bucket_shared_with_a_sub_k_item_is_dropped_and_reveals_neither() -> None:
    one = ThresholdLayout(
        n_clients=N, k=K, max_items=4, max_item_bytes=96, expected_distinct=1, tables=1
    )
    key = os.urandom(32)
    lone = _colliding(one, key, WIDE)
    holders = [[WIDE]] * (N - 2) + [[lone], []]
    total = sum(encode_counts(h, one, key).astype(np.int64) for h in holders) % WORD
    selection = select_buckets(total.astype(np.uint32), one, key, N)
    assert selection.cells == ()  # reached k, but two items share it: not pure
    index = _hashes(WIDE, key, one)[0][0]
    replayed = Selection(key, ((index, N - 1, int(total[3 * index + 1])),))
    entries = [encode_entries(h, one, replayed) for h in holders]
    assert not any(np.any(e) for e in entries)  # selected anyway: each client's check refuses


def test_a_second_table_recovers_an_item_whose_first_bucket_is_impure() -> None:
    layout = ThresholdLayout(
        n_clients=N, k=K, max_items=4, max_item_bytes=96, expected_distinct=1, tables=2
    )
    key = os.urandom(32)
    first, second = _hashes(WIDE, key, layout)[0]
    # shares WIDE's first-table bucket, not its second: the case the second table is for
    # (sharing both happens by chance a third of the time; then nothing can recover WIDE)
    other = next(
        b"%d" % n
        for n in itertools.count()
        if (flat := _hashes(b"%d" % n, key, layout)[0])[0] == first and flat[1] != second
    )
    holders = [[WIDE]] * (N - 1) + [[WIDE, other]]
    total = sum(encode_counts(h, layout, key).astype(np.int64) for h in holders) % WORD
    selection = select_buckets(total.astype(np.uint32), layout, key, N)
    summed = sum(encode_entries(h, layout, selection).astype(np.int64) for h in holders) % WORD
    decoded = decode_entries(summed.astype(np.uint32), layout, selection, N)
    assert decoded.items == Counter({WIDE: N})


def test_a_pass_one_count_no_honest_sum_reaches_is_refused_as_forged() -> None:
    def inflate(config_hash: bytes, n_pass: int, size: int) -> npt.NDArray[np.int64]:
        extra = np.zeros(size, dtype=np.int64)
        if n_pass == 1:
            flat, _fp = _hashes(LONE, round_bucket_key(config_hash), LAYOUT)
            extra[3 * flat[0]] = 40_000  # above contributors x max_items
        return extra

    result = _run(inflate)
    assert result.forged_buckets == 1
    assert result.items == Counter({WIDE: N, EXACT: K})


def test_an_inflated_bucket_makes_sub_k_holders_write_but_the_entry_is_refused_below_k(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A forger who guesses BELOW pushes its buckets to k with matching fingerprints: its
    K-1 holders write it, and the entry pass decodes K-1 copies, refused below k."""

    def push(config_hash: bytes, n_pass: int, size: int) -> npt.NDArray[np.int64]:
        extra = np.zeros(size, dtype=np.int64)
        if n_pass == 1:
            flat, fp = _hashes(BELOW, round_bucket_key(config_hash), LAYOUT)
            for index in flat:
                extra[3 * index : 3 * index + 3] = 1, fp, fp * fp % WORD
        return extra

    with caplog.at_level(logging.DEBUG):
        result = _run(push)
    assert result.below_threshold == 1
    assert result.items == Counter({WIDE: N, EXACT: K})
    assert b"bmi" not in caplog.text.encode()


def test_an_entry_slot_with_more_copies_than_contributors_is_refused() -> None:
    key = os.urandom(32)
    holders = [[WIDE]] * N
    total = sum(encode_counts(h, LAYOUT, key).astype(np.int64) for h in holders) % WORD
    selection = select_buckets(total.astype(np.uint32), LAYOUT, key, N)
    summed = sum(encode_entries(h, LAYOUT, selection).astype(np.int64) for h in holders)
    forged = (summed * 3 % WORD).astype(np.uint32)  # as if 3N copies were written
    decoded = decode_entries(forged, LAYOUT, selection, N)
    assert decoded.items == Counter() and len(decoded.forged) == 1


@pytest.mark.parametrize("clients", [3, 10, 100, 255])
def test_upload_per_client_follows_the_formula_and_not_the_number_of_hospitals(
    clients: int,
) -> None:
    layout = ThresholdLayout(
        n_clients=clients, k=2, max_items=64, max_item_bytes=640, expected_distinct=1024
    )
    # 8 tables x 3,072 buckets x (count, fingerprint, square); a slot: count, length, 214
    # payload words of 3 bytes, 6 checksum words
    assert layout.count_length == 8 * 3_072 * 3 and layout.slot.slot_words == 222
    assert layout.upload_bytes(500) == 4 * (73_728 + 500 * 222) == 738_912
    assert layout.upload_bytes(0) == 294_912


def test_a_malformed_selection_is_refused() -> None:
    good = Selection(bytes(32), ((1, 3, 7), (5, 3, 9)))
    assert Selection.decode(good.encode()).cells == good.cells
    with pytest.raises(AggregationError):
        Selection.decode(good.encode()[:-1])
    with pytest.raises(AggregationError):
        Selection.decode(Selection(bytes(32), ((5, 3, 9), (1, 3, 7))).encode())


def test_a_client_skips_a_selected_bucket_whose_count_is_below_k() -> None:
    """A server replaying a lone item's true (count 1, fingerprint) as selected gets nothing."""
    key = os.urandom(32)
    total = encode_counts([LONE], LAYOUT, key)
    grid = total.astype(np.int64).reshape(-1, 3)
    cells = tuple((int(i), int(grid[i, 0]), int(grid[i, 1])) for i in np.flatnonzero(grid[:, 0]))
    assert cells and all(c[1] == 1 for c in cells)
    assert not np.any(encode_entries([LONE], LAYOUT, Selection(key, cells)))


def test_a_holder_dropping_between_the_passes_leaves_its_entry_below_k_and_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """EXACT is counted by k hospitals in pass 1; one of them is gone in pass 2, so the entry
    pass decodes k - 1 copies: refused, its text neither kept nor logged."""
    first = Federation.create(N, bits=32, length=LAYOUT.count_length)
    ids = first.server.params.participants
    gone = ids[0]  # holds WIDE and EXACT

    class Leaves(SecAggClient):
        def masked_input(self, bundle: bytes, vector: npt.NDArray[np.unsignedinteger]) -> bytes:
            if vector.size != LAYOUT.count_length:
                raise SecAggAbort("the hospital's node died between the passes")
            return super().masked_input(bundle, vector)

    with caplog.at_level(logging.DEBUG):
        result = anonymous_multiset(first, _holdings(ids), LAYOUT, client_classes={gone: Leaves})
    assert result.items == Counter({WIDE: N - 1}) and result.survivors == N - 1
    assert result.below_threshold == 1
    assert b"bed_finder" not in caplog.text.encode()


def test_a_plan_round_trips_and_a_bad_one_is_refused() -> None:
    from fical_secure.errors import ProtocolError

    layout = ms.layout_for(6, 3, 300)
    selection = Selection(bytes(32), ((4, 3, 9),))
    assert ms.decode_plan(ms.encode_plan(layout, selection), 6) == (layout, selection)
    assert ms.decode_plan(ms.encode_plan(ms.layout_for(6), None), 5) == (ms.layout_for(6), None)
    for bad, participants in (
        (ms.encode_plan(layout, None), 7),  # a layout for fewer clients than the round's
        (ms.encode_plan(ms.layout_for(6), selection), 6),  # a selection at k = 1
        (ms.encode_plan(layout, selection)[:5], 6),
        (ms.encode_plan(layout, selection)[:-1], 6),
    ):
        with pytest.raises(ProtocolError):
            ms.decode_plan(bad, participants)


def test_a_profile_floor_on_k_below_one_is_refused() -> None:
    from fical_secure.release.policy import ReleasePolicy

    assert ReleasePolicy().secagg_min_support == 1  # the whole multiset unless a profile asks
    with pytest.raises(ConfigError):
        ReleasePolicy(secagg_min_support=0)
