"""The dropout matrix: exact sums whenever t survive every stage, else a typed abort.

Default run: every stage x dropout fraction for small n, a few cases at n = 50
and 100 (SecAgg+ k-regular graph), and exactly t / t - 1 survivors. The full
matrix (n in 3, 5, 10, 50, 100; 0/10/20/30 % at each stage; 20 seeds) runs with
``pytest -m bench``.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import pytest
from secagg_helpers import BITS, LENGTH, expected_sum, inputs_for, oracle

from fical_secure.errors import SecAggAbort
from fical_secure.protocol.secagg import Federation, SecAggParams, run_secagg_round
from fical_secure.protocol.secagg.floors import SecAggFloors

STAGES = range(5)
FRACTIONS = (0.0, 0.1, 0.2, 0.3)


def _run_case(
    n: int, stage: int, dropped: set[int] | Callable[[SecAggParams], set[int]], seed: int
) -> None:
    """``dropped``: indices, or a function of the round's parameters (its random graph)."""
    fed = Federation.create(n, bits=BITS, length=LENGTH)
    dropped_idx = dropped(fed.server.params) if callable(dropped) else dropped
    ids = fed.server.params.participants
    inputs = inputs_for(fed, seed)
    want = oracle(fed.server.params, {stage: dropped_idx})
    drops = {stage: {ids[i] for i in dropped_idx}}
    if want is None:
        with pytest.raises(SecAggAbort):
            run_secagg_round(fed, inputs, dropouts=drops)
        return
    out = run_secagg_round(fed, inputs, dropouts=drops)
    assert set(out.survivors) == {ids[i] for i in want}
    assert np.array_equal(out.total, expected_sum(inputs, out.survivors))
    assert all(isinstance(e, SecAggAbort) for e in out.client_errors.values())
    assert fed.server.refused == []


def _fraction_case(n: int, stage: int, fraction: float, seed: int) -> None:
    rng = random.Random(seed * 1000 + n * 10 + stage)
    _run_case(n, stage, set(rng.sample(range(n), round(fraction * n))), seed)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("fraction", FRACTIONS)
@pytest.mark.parametrize("n", [3, 5])
def test_small_federations_survive_or_abort_as_the_threshold_says(
    n: int, fraction: float, stage: int
) -> None:
    _fraction_case(n, stage, fraction, seed=0)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("fraction", [0.1, 0.3])
def test_ten_clients_survive_or_abort_as_the_threshold_says(fraction: float, stage: int) -> None:
    _fraction_case(10, stage, fraction, seed=0)


def test_secagg_plus_graph_at_100_clients_recovers_30_percent_dropouts() -> None:
    _fraction_case(100, 2, 0.3, seed=1)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("n", [3, 5, 10])
@pytest.mark.parametrize("missing", [0, 1])
def test_exactly_t_survivors_sum_and_t_minus_1_abort(n: int, missing: int, stage: int) -> None:
    fed = Federation.create(n, bits=BITS, length=LENGTH)
    t = fed.server.params.threshold
    dropped = set(range(n - t + missing))
    want = oracle(fed.server.params, {stage: dropped})
    assert (want is None) == bool(missing)  # the oracle agrees with the rule itself
    _run_case(n, stage, dropped, seed=stage)


@pytest.mark.parametrize("stage", [0, 1, 4])
@pytest.mark.parametrize("missing", [0, 1])
def test_k_regular_neighbourhood_with_exactly_t_or_t_minus_1_survivors(
    missing: int, stage: int
) -> None:
    """20 clients, 8-regular graph: leave one neighbourhood exactly t (or t - 1) members."""
    floors = SecAggFloors(min_degree=8)  # below the 20-client SecAgg+ floor, on purpose
    fed = Federation.create(20, bits=BITS, length=LENGTH, k=8, threshold=6, floors=floors)
    p = fed.server.params
    victim = 7
    others = sorted(p.closed(victim) - {victim})
    dropped = set(others[: p.k + 1 - p.threshold + missing])
    ids = p.participants
    inputs = inputs_for(fed, seed=3)
    drops = {stage: {ids[i] for i in dropped}}
    want = oracle(p, {stage: dropped})
    if stage == 4:  # the victim's self-mask seed needs t holders: t - 1 must abort
        assert (want is None) == bool(missing)
    if want is None:
        with pytest.raises(SecAggAbort):
            run_secagg_round(fed, inputs, dropouts=drops)
        return
    out = run_secagg_round(fed, inputs, dropouts=drops)
    assert np.array_equal(out.total, expected_sum(inputs, out.survivors))
    assert (ids[victim] in out.survivors) == (not missing)


def _threshold_case(n: int, stage: int, missing: int, seed: int) -> None:
    """Exactly t (missing = 0) or t - 1 (missing = 1) survivors: of all clients on the
    complete graph, of one random client's neighbourhood on the k-regular graph."""
    rng = random.Random(seed * 7919 + n * 31 + stage * 2 + missing)

    def pick(p: SecAggParams) -> set[int]:
        pool = sorted(range(n)) if p.complete else sorted(p.closed(rng.randrange(n)))
        return set(rng.sample(pool, len(pool) - p.threshold + missing))

    _run_case(n, stage, pick, seed)


@pytest.mark.bench
@pytest.mark.parametrize("n", [3, 5, 10, 50, 100])
def test_full_dropout_matrix(n: int) -> None:
    for seed in range(20):
        for stage in STAGES:
            for fraction in FRACTIONS:
                _fraction_case(n, stage, fraction, seed)
            for missing in (0, 1):
                _threshold_case(n, stage, missing, seed)
