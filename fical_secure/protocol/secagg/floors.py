"""A client's own floors on the secure-aggregation parameters a server signs.

The server chooses the graph and the threshold; a malicious server can sign a
legal but weak configuration (a sparse graph, a bare-majority threshold) and
then recover one input with a single colluding client. Each client therefore
checks the signed parameters against floors of its own (from its profile)
before it advertises anything. The rules, per closed neighbourhood of
``k + 1`` clients (see :mod:`.params` for where they come from):

* cohort: ``n >= min_cohort``;
* degree: ``k >= min(n - 1, min_degree)``, where the default ``min_degree``
  is Bell et al.'s SecAgg+ degree ``2 * ceil(2 * log2 n)`` (about ``4 log2 n``),
  so cohorts up to ~20 need the complete graph;
* threshold: ``t >= ceil(min_threshold_fraction * (k + 1))`` (default 2/3:
  a third of a neighbourhood may drop);
* corruptions: ``2t - k - 2 >= min_tolerated_corruptions`` (default 1: the
  server plus one colluding client learn nothing beyond the sum), which is
  ``t >= (k + 2 + c) / 2``.

:meth:`SecAggParams.recommended <.params.SecAggParams.recommended>` meets the
default floors for every ``n`` from 3 up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from fical_secure.errors import ConfigError, WeakSecAggParameters
from fical_secure.jsontypes import JsonObject
from fical_secure.protocol.secagg.params import MAX_PARTICIPANTS, MIN_PARTICIPANTS, SecAggParams

DEFAULT_THRESHOLD_FRACTION = Fraction(2, 3)
FLOOR_KEYS = (
    "min_cohort",
    "min_degree",
    "min_threshold_fraction",
    "min_tolerated_corruptions",
)


def secagg_plus_degree(n: int) -> int:
    """Bell et al.'s neighbour count for ``n`` clients: even, about ``4 log2 n``, at most n - 1."""
    k = 2 * math.ceil(2 * math.log2(max(n, 2)))
    return n - 1 if k >= n - 1 else k


@dataclass(frozen=True)
class SecAggFloors:
    """The weakest signed configuration this client takes part in."""

    min_cohort: int = MIN_PARTICIPANTS
    min_degree: int | None = None  # None: secagg_plus_degree(n)
    min_threshold_fraction: Fraction = DEFAULT_THRESHOLD_FRACTION
    min_tolerated_corruptions: int = 1

    def __post_init__(self) -> None:
        if not MIN_PARTICIPANTS <= self.min_cohort <= MAX_PARTICIPANTS:
            raise ConfigError(f"secagg min_cohort must be in {MIN_PARTICIPANTS}..65535")
        if self.min_degree is not None and not 2 <= self.min_degree < MAX_PARTICIPANTS:
            raise ConfigError("secagg min_degree must be at least 2")
        if not Fraction(1, 2) <= self.min_threshold_fraction <= 1:
            raise ConfigError("secagg min_threshold_fraction must be in [1/2, 1]")
        if self.min_tolerated_corruptions < 0:
            raise ConfigError("secagg min_tolerated_corruptions must be >= 0")

    @classmethod
    def from_mapping(cls, raw: JsonObject) -> SecAggFloors:
        """Floors from a profile's ``secagg`` section (missing keys keep the defaults).

        Raises:
            ConfigError: an unknown key or a value of the wrong type or range.
        """
        unknown = sorted(set(raw) - set(FLOOR_KEYS))
        if unknown:
            raise ConfigError(f"unknown secagg floor(s) {unknown}; known: {list(FLOOR_KEYS)}")
        counts: dict[str, int] = {}
        for key in ("min_cohort", "min_degree", "min_tolerated_corruptions"):
            if key in raw:
                value = raw[key]
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ConfigError(f"secagg {key} must be an integer")
                counts[key] = value
        fraction = DEFAULT_THRESHOLD_FRACTION
        if "min_threshold_fraction" in raw:
            value = raw["min_threshold_fraction"]
            try:
                fraction = Fraction(str(value)).limit_denominator(1000)
            except (ValueError, ZeroDivisionError):
                raise ConfigError(
                    "secagg min_threshold_fraction must be a number like 2/3"
                ) from None
        return cls(min_threshold_fraction=fraction, **counts)

    def check(self, p: SecAggParams) -> None:
        """Refuse parameters below any floor, naming it.

        Raises:
            WeakSecAggParameters: the cohort, degree, threshold or tolerated
                corruptions are below this client's floor.
        """
        degree = min(p.n - 1, self.min_degree or secagg_plus_degree(p.n))
        threshold = math.ceil(self.min_threshold_fraction * (p.k + 1))
        problems = [
            (p.n < self.min_cohort, f"cohort {p.n} is below the floor {self.min_cohort}"),
            (p.k < degree, f"degree k = {p.k} is below the floor {degree} for {p.n} clients"),
            (
                p.threshold < threshold,
                f"threshold {p.threshold} is below the floor {threshold}"
                f" ({self.min_threshold_fraction} of the {p.k + 1}-client neighbourhood)",
            ),
            (
                p.tolerated_corruptions < self.min_tolerated_corruptions,
                f"tolerated corruptions 2t - k - 2 = {p.tolerated_corruptions} are below the"
                f" floor {self.min_tolerated_corruptions}",
            ),
        ]
        found = [text for bad, text in problems if bad]
        if found:
            raise WeakSecAggParameters(
                "refusing a weak secure-aggregation config: "
                + "; ".join(found)
                + " (raise the server's parameters, or lower this client's secagg floors)"
            )
