"""Shared helpers of the secure-aggregation tests: inputs and the dropout oracle."""

from __future__ import annotations

import numpy as np

from fical_secure.protocol.secagg import Federation, SecAggParams

LENGTH = 8
BITS = 32


def inputs_for(fed: Federation, seed: int, length: int = LENGTH) -> dict[bytes, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        cid: rng.integers(0, 2**20, length, dtype=np.uint64).astype(np.uint32)
        for cid in sorted(fed.clients)
    }


def expected_sum(
    inputs: dict[bytes, np.ndarray], who: set[bytes] | tuple[bytes, ...]
) -> np.ndarray:
    total = sum((inputs[c].astype(np.uint64) for c in who), np.zeros(LENGTH, dtype=np.uint64))
    return (total % (1 << BITS)).astype(np.uint32)


def oracle(params: SecAggParams, drops: dict[int, set[int]]) -> set[int] | None:
    """Survivors whose inputs the round must sum, or None if it must abort.

    Written from the protocol's rules (each client needs ``t`` of its closed
    neighbourhood at every stage; the server needs ``t`` replies and ``t``
    shares of every secret it must rebuild), not from the implementation.
    """
    t, closed = params.threshold, params.closed
    gone: set[int] = set()

    def responders(stage: int, previous: set[int]) -> set[int]:
        gone.update(drops.get(stage, set()))
        return previous - gone

    u1 = responders(0, set(range(params.n)))
    if len(u1) < t:
        return None
    u2 = {i for i in responders(1, u1) if len(closed(i) & u1) >= t}
    if len(u2) < t:
        return None
    u3 = {i for i in responders(2, u2) if len(closed(i) & u2) >= t}
    if len(u3) < t:
        return None
    u4 = {i for i in responders(3, u3) if len(closed(i) & u3) >= t}
    if len(u4) < t:
        return None
    u5 = {i for i in responders(4, u4) if len(closed(i) & u4) >= t}
    if len(u5) < t:
        return None
    if any(len(closed(j) & u5) < t for j in u2):
        return None
    return u3
