"""Secure-aggregation parameters: participants, neighbour graph, threshold, timeouts.

Graph. Each client ``i`` Shamir-shares its secrets among its *closed
neighbourhood* ``N[i]`` (itself and its ``k`` neighbours) and masks pairwise
with its ``k`` neighbours. ``k = n - 1`` is the complete graph of Bonawitz et
al. (CCS'17); smaller even ``k`` is the SecAgg+ graph of Bell et al. (CCS'20):
a Harary graph (a ring with ``k / 2`` neighbours on each side) over a random
permutation of the participants drawn from ``graph_seed``. The seed is chosen
by the server and bound into the signed configuration (SecAgg+'s assumption
that the graph is not chosen adversarially; a malicious server that picks it
could surround one victim with corrupt neighbours).

Security parameters, per closed neighbourhood of ``k + 1`` clients:

* correctness: every client whose shares are needed keeps at least ``t``
  surviving holders, so up to ``k + 1 - t`` dropouts per neighbourhood;
* privacy (semi-honest server): up to ``t - 1`` corrupt clients per
  neighbourhood learn nothing of an honest input beyond the sum;
* privacy (active server, with the signed survivor list and the consistency
  check): corrupt clients ``c <= 2t - k - 2`` per neighbourhood, because
  making honest holders reveal both secrets of one client would need two
  disjoint groups of ``t - c`` honest holders; ``2t > k + 1`` is required.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Final

from fical_secure.crypto.masking import word_dtype
from fical_secure.errors import ConfigError
from fical_secure.protocol.messages import sha256

MAX_PARTICIPANTS: Final = 65_535
MIN_PARTICIPANTS: Final = 3
STAGE_NAMES: Final = ("advertise_keys", "share_keys", "masked_input", "consistency", "unmask")
DEFAULT_TIMEOUTS_S: Final = (60, 120, 300, 60, 120)


@lru_cache(maxsize=16)
def _graph(n: int, k: int, seed: bytes) -> tuple[frozenset[int], ...]:
    """Neighbour sets of the round's graph, shared by every equal configuration."""
    if k == n - 1:
        return tuple(frozenset(range(n)) - {i} for i in range(n))
    order = sorted(range(n), key=lambda i: sha256(seed + i.to_bytes(4, "big")))
    half, out = k // 2, [frozenset[int]()] * n
    for pos, i in enumerate(order):
        out[i] = frozenset(order[(pos + d) % n] for d in range(-half, half + 1) if d)
    return tuple(out)


@lru_cache(maxsize=16)
def _closed(n: int, k: int, seed: bytes) -> tuple[frozenset[int], ...]:
    return tuple(nb | {i} for i, nb in enumerate(_graph(n, k, seed)))


@dataclass(frozen=True)
class SecAggParams:
    """Everything the server fixes (and signs) before the first stage."""

    participants: tuple[bytes, ...]  # identity key ids, in Shamir x order (x = index + 1)
    threshold: int
    k: int  # neighbours per client; n - 1 is the complete graph
    bits: int  # inputs and masks live modulo 2^bits
    length: int  # words per input vector
    graph_seed: bytes = bytes(32)
    timeouts_s: tuple[int, ...] = DEFAULT_TIMEOUTS_S

    def __post_init__(self) -> None:
        n = len(self.participants)
        if not MIN_PARTICIPANTS <= n <= MAX_PARTICIPANTS:
            raise ConfigError(f"secure aggregation needs {MIN_PARTICIPANTS}..65535 participants")
        if len(set(self.participants)) != n or any(len(p) != 16 for p in self.participants):
            raise ConfigError("participants must be distinct 16-byte identity key ids")
        if not 2 <= self.k <= n - 1 or (self.k < n - 1 and self.k % 2):
            raise ConfigError(
                f"k must be n - 1 = {n - 1} (complete graph) or an even number in 2..{n - 2}"
            )
        if not (self.k + 1) < 2 * self.threshold <= 2 * (self.k + 1):
            raise ConfigError(
                f"threshold must be a strict majority of the {self.k + 1}-client neighbourhood:"
                f" {(self.k + 1) // 2 + 1}..{self.k + 1}; got {self.threshold}"
            )
        word_dtype(self.bits)
        if not 1 <= self.length <= 1 << 28:
            raise ConfigError("vector length must be in 1..2^28 words")
        if len(self.graph_seed) != 32:
            raise ConfigError("graph_seed must be 32 bytes")
        if len(self.timeouts_s) != len(STAGE_NAMES) or not all(
            1 <= t <= 86_400 for t in self.timeouts_s
        ):
            raise ConfigError("give one timeout per stage, 1..86400 seconds each")

    @classmethod
    def recommended(
        cls,
        participants: tuple[bytes, ...],
        *,
        bits: int,
        length: int,
        graph_seed: bytes = bytes(32),
        complete_up_to: int = 30,
    ) -> SecAggParams:
        """Complete graph up to ``complete_up_to`` clients, else SecAgg+ with k ~ 4 log2 n.

        Threshold ``t = ceil(2 (k + 1) / 3)``: a third of every neighbourhood may
        drop, and ``2t - k - 2`` (about a third) may be corrupt; at least
        ``(k + 3) / 2``, so that one corrupt client is always tolerated (three
        clients need all three). These meet the default client floors of
        :mod:`.floors`.
        """
        n = len(participants)
        k = n - 1 if n <= complete_up_to else min(n - 1, 2 * math.ceil(2 * math.log2(n)))
        if k < n - 1 and k % 2:
            k -= 1
        t = max((k + 1) // 2 + 1, math.ceil(2 * (k + 1) / 3), math.ceil((k + 3) / 2))
        return cls(participants, t, k, bits, length, graph_seed)

    @property
    def n(self) -> int:
        """Number of participants."""
        return len(self.participants)

    @property
    def complete(self) -> bool:
        """Whether every client neighbours every other."""
        return self.k == self.n - 1

    @cached_property
    def index(self) -> dict[bytes, int]:
        """Participant key id -> 0-based index (Shamir x is index + 1)."""
        return {p: i for i, p in enumerate(self.participants)}

    @property
    def _graph(self) -> tuple[frozenset[int], ...]:
        return _graph(self.n, self.k, self.graph_seed)

    def neighbours(self, i: int) -> frozenset[int]:
        """Indices of client ``i``'s ``k`` neighbours (the graph is symmetric)."""
        return self._graph[i]

    @property
    def _closed(self) -> tuple[frozenset[int], ...]:
        return _closed(self.n, self.k, self.graph_seed)

    def closed(self, i: int) -> frozenset[int]:
        """``N[i]``: client ``i`` and its neighbours, the holders of its shares."""
        return self._closed[i]

    @property
    def tolerated_dropouts(self) -> int:
        """Dropouts per neighbourhood the round survives."""
        return self.k + 1 - self.threshold

    @property
    def tolerated_corruptions(self) -> int:
        """Corrupt clients per neighbourhood an active server may add without learning more."""
        return max(0, 2 * self.threshold - self.k - 2)

    def describe(self) -> str:
        """One line stating the graph and its security parameters."""
        graph = "complete graph" if self.complete else f"SecAgg+ {self.k}-regular graph"
        return (
            f"{self.n} clients, {graph}, threshold {self.threshold} of {self.k + 1} per"
            f" neighbourhood: tolerates {self.tolerated_dropouts} dropouts and"
            f" {self.tolerated_corruptions} corrupt clients (active server) per neighbourhood;"
            f" inputs modulo 2^{self.bits}, {self.length} words"
        )
