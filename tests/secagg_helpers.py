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


class Walk:
    """Drive one round stage by stage, keeping every message (for attack tests)."""

    def __init__(self, n: int = 5, *, seed: int = 0, **kw: int) -> None:
        self.fed = Federation.create(n, bits=BITS, length=LENGTH, **kw)
        self.server, self.clients = self.fed.server, self.fed.clients
        self.ids = self.server.params.participants
        self.inputs = inputs_for(self.fed, seed)

    def to_directory(self, skip: frozenset[bytes] = frozenset()) -> bytes:
        self.config = self.server.configure()
        self.adverts = {c: self.clients[c].advertise_keys(self.config) for c in self.ids}
        self.directory = self.server.advertise_keys(
            [m for c, m in self.adverts.items() if c not in skip]
        )
        return self.directory

    def to_bundles(self) -> dict[bytes, bytes]:
        self.to_directory()
        self.shares = {c: self.clients[c].share_keys(self.directory) for c in self.ids}
        self.bundles = self.server.share_keys(list(self.shares.values()))
        return self.bundles

    def to_survivors(self, silent: frozenset[bytes] = frozenset()) -> bytes:
        self.to_bundles()
        self.masked = {
            c: self.clients[c].masked_input(self.bundles[c], self.inputs[c])
            for c in self.ids
            if c not in silent
        }
        self.survivors = self.server.masked_input(list(self.masked.values()))
        return self.survivors

    def to_request(self, silent: frozenset[bytes] = frozenset()) -> bytes:
        self.to_survivors(silent)
        self.acks = {c: self.clients[c].consistency_check(self.survivors) for c in self.masked}
        self.request = self.server.consistency_check(list(self.acks.values()))
        return self.request

    def finish(self, silent: frozenset[bytes] = frozenset()) -> np.ndarray:
        self.to_request(silent)
        self.reveals = {c: self.clients[c].unmask(self.request) for c in self.masked}
        return self.server.unmask(list(self.reveals.values()))
