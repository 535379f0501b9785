"""Slot forgery by one client in anonymous aggregation (issue 22, attack 7).

Each test runs real SecAgg+ rounds
(:func:`~fical_secure.pipeline.secagg_round.anonymous_multiset`) where one
enrolled client adds a forged vector to its honest slot vector before
masking: the server only ever sees the sum, exactly as in a deployment.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from fical_secure.aggregate.anonymous import SlotLayout, encode_items, round_slot_key
from fical_secure.aggregate.merge import aggregate
from fical_secure.errors import AggregationError
from fical_secure.pipeline.multiset import MultisetResult, anonymous_compendiums
from fical_secure.pipeline.secagg_round import anonymous_multiset
from fical_secure.protocol.secagg import Federation, SecAggClient

N = 5
OWN = b'["entry","bmi_calc","usage","Staff write \\"bmi\\" for weight/height."]'
SHARED = b'["entry","lab_lookup","purpose","Looks up a lab result by test name."]'
OTHER = b'["entry","bed_finder","usage","Name the ward when asking for a bed."]'
LAYOUT = SlotLayout(n_clients=N, max_items=3, max_item_bytes=96)
Forge = Callable[[bytes], npt.NDArray[np.int64]]  # config hash -> vector added to the honest one


def _copies(item: bytes, times: int) -> Forge:
    def forge(config_hash: bytes) -> npt.NDArray[np.int64]:
        one = encode_items([item], LAYOUT, round_slot_key(config_hash)).astype(np.int64)
        return one * times

    return forge


def _run(forge: Forge, *, attempts: int = 3) -> MultisetResult:
    """Four honest clients and one forger; everyone also writes SHARED, some write OTHER."""
    first = Federation.create(N, bits=32, length=LAYOUT.length)
    ids = first.server.params.participants
    forger = ids[0]
    items = {c: [SHARED] for c in ids}
    items[forger] = [SHARED, OWN]
    items[ids[1]] = items[ids[2]] = [SHARED, OTHER]

    class Forger(SecAggClient):
        def masked_input(self, bundle: bytes, vector: npt.NDArray[np.unsignedinteger]) -> bytes:
            forged = (vector.astype(np.int64) + forge(self.config_hash)) % (1 << 32)
            return super().masked_input(bundle, forged.astype(np.uint32))

    return anonymous_multiset(
        first, items, LAYOUT, max_attempts=attempts, client_classes={forger: Forger}
    )


def test_an_entry_written_with_count_20000_is_refused_and_never_passes_min_support() -> None:
    result = _run(_copies(OWN, 19_999))
    assert result.forged_items == 1
    assert result.items == Counter({SHARED: N, OTHER: 2})  # the rest decodes exactly
    comps, rejected = anonymous_compendiums(result.items)
    released = aggregate(comps, min_support=2)
    assert rejected == 0 and "bmi" not in released.to_bytes().decode()


def test_subtracting_more_copies_than_were_written_is_refused_not_silent() -> None:
    result = _run(_copies(SHARED, -(N + 1)))  # the sum holds SHARED -1 times
    assert result.forged_items == 1 and SHARED not in result.items
    assert result.items == Counter({OWN: 1, OTHER: 2})


def test_exact_subtraction_erases_an_item_undetected_as_the_threat_model_states() -> None:
    """The stated limit of additive masking: knowing exactly how many wrote it, one
    client can erase an item (never add one, nor push a count past contributors)."""
    result = _run(_copies(OTHER, -2))
    assert result.forged_items == 0 and result.items == Counter({SHARED: N, OWN: 1})


def test_jamming_every_slot_denies_the_multiset_and_releases_nothing() -> None:
    rng = np.random.default_rng(7)

    def noise(config_hash: bytes) -> npt.NDArray[np.int64]:
        return rng.integers(0, 1 << 32, LAYOUT.length, dtype=np.int64)

    with pytest.raises(AggregationError, match="after 2 rounds"):
        _run(noise, attempts=2)


def test_aggregating_many_anonymous_copies_is_linear() -> None:
    start = time.perf_counter()
    comps, _ = anonymous_compendiums(Counter({SHARED: 20_000}))
    released = aggregate(comps, min_support=2)
    assert released.entries[0].support == 20_000
    assert time.perf_counter() - start < 10.0
