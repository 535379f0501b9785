"""Property: the aggregate equals the exact sum of the surviving inputs (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from secagg_helpers import oracle

from fical_secure.errors import ConfigError, SecAggAbort
from fical_secure.protocol.secagg import Federation, SecAggParams, run_secagg_round


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(3, 6),
    bits=st.sampled_from([8, 20, 32, 48, 64]),
    length=st.integers(1, 40),
    data=st.data(),
)
def test_aggregate_is_the_exact_sum_of_surviving_inputs(
    n: int, bits: int, length: int, data: st.DataObject
) -> None:
    fed = Federation.create(n, bits=bits, length=length)
    p = fed.server.params
    dtype = np.uint32 if bits <= 32 else np.uint64
    values = data.draw(
        st.lists(
            st.lists(st.integers(0, 2**bits - 1), min_size=length, max_size=length),
            min_size=n,
            max_size=n,
        )
    )
    inputs = {p.participants[i]: np.asarray(v, dtype=dtype) for i, v in enumerate(values)}
    drops = data.draw(
        st.dictionaries(st.integers(0, 4), st.sets(st.integers(0, n - 1), max_size=2), max_size=2)
    )
    want = oracle(p, drops)
    by_id = {s: {p.participants[i] for i in d} for s, d in drops.items()}
    if want is None:
        with pytest.raises(SecAggAbort):
            run_secagg_round(fed, inputs, dropouts=by_id)
        return
    out = run_secagg_round(fed, inputs, dropouts=by_id)
    expected = [sum(values[i][w] for i in want) % (1 << bits) for w in range(length)]
    assert out.total.tolist() == expected
    assert set(out.survivors) == {p.participants[i] for i in want}


@pytest.mark.parametrize(
    ("n", "t", "k"),
    [(5, 2, 4), (5, 6, 4), (10, 6, 3), (10, 6, 10), (2, 2, 1)],
)
def test_invalid_graph_or_threshold_is_a_config_error(n: int, t: int, k: int) -> None:
    ids = tuple(bytes([i]) * 16 for i in range(n))
    with pytest.raises(ConfigError):
        SecAggParams(ids, t, k, 32, 10)


def test_k_regular_graph_is_symmetric_and_regular() -> None:
    ids = tuple(i.to_bytes(16, "big") for i in range(200))
    p = SecAggParams.recommended(ids, bits=32, length=10, graph_seed=b"\x01" * 32)
    assert not p.complete and p.k % 2 == 0
    for i in range(p.n):
        assert len(p.neighbours(i)) == p.k and i not in p.neighbours(i)
        assert all(i in p.neighbours(j) for j in p.neighbours(i))
    assert 2 * p.threshold > p.k + 1
    assert "tolerates" in p.describe()
