"""DP partition selection and its accounting, both through OpenDP (never our own noise).

Claims are partitions: their keys come from the data, so which keys appear is
itself private. Each subject adds 1 to the count of at most
``max_claims_per_subject`` keys, skipping keys at the calibration's ``cap``
(bounded before this module is called, :func:`fical_secure.kcg.dp_select.capped_votes`),
so adding or removing one subject changes the count map by at most
``max_claims_per_subject`` in l1, hence in l0 and linf.
OpenDP's ``make_laplace_threshold`` (Rogers 2023, its proof document in the
OpenDP library) adds discrete Laplace noise to every present key's count and
keeps the keys whose noisy count reaches a threshold: an (epsilon, delta)-DP
release of the selected keys and their noisy counts. The scale is calibrated
to ``epsilon`` and the threshold to ``delta`` by OpenDP's own privacy map,
read one below the threshold the mechanism runs at: OpenDP 0.16's map bounds
delta by Pr[Z > threshold - linf] while its function keeps a noisy count
*equal* to the threshold too, so a key one subject holds is released with
Pr[Z >= threshold - linf], e^(1/scale) times the map's figure (about 3,000x
at epsilon 8: opendp/opendp#2922; measured in ``tests/test_release_dp.py``).
The map at ``threshold - 1`` bounds that true probability, so every delta
this module reports or composes is the mechanism's own.

Rounds compose: :func:`compose` rebuilds every charged round's measurement
from its recorded parameters and asks OpenDP's ``make_composition`` for the
total (basic composition of approximate DP).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fical_secure.errors import ConfigError
from fical_secure.jsontypes import JsonObject
from fical_secure.release.policy import DPPolicy

MAX_THRESHOLD = 2**30


@dataclass(frozen=True)
class Calibration:
    """One round's mechanism: noise scale, threshold, and the (epsilon, delta) OpenDP maps it to."""

    scale: float
    threshold: int
    max_claims_per_subject: int
    epsilon: float
    delta: float

    @property
    def cap(self) -> int:
        """The count past which contribution bounding sends a subject's vote to its next key
        (:func:`fical_secure.kcg.dp_select.capped_votes`): the threshold plus two noise
        scales (at least one), so a key at the cap clears the noisy threshold but for a
        draw below minus two scales. Public: a function of the calibration alone."""
        return self.threshold + max(1, math.ceil(2 * self.scale))

    def to_dict(self) -> JsonObject:
        return {
            "scale": self.scale,
            "threshold": self.threshold,
            "max_claims_per_subject": self.max_claims_per_subject,
            "epsilon": self.epsilon,
            "delta": self.delta,
        }


@functools.cache
def _opendp() -> Any:
    """OpenDP's prelude with its ``contrib`` constructors enabled (a heavy, optional import).

    Raises:
        ConfigError: OpenDP is not installed (the ``dp`` extra).
    """
    try:
        import opendp.prelude as dp
    except ImportError as exc:
        raise ConfigError(
            "a profile with release.dp needs OpenDP: pip install 'fical-secure[dp]'"
        ) from exc
    dp.enable_features("contrib")
    return dp


def _measurement(scale: float, threshold: int) -> Any:
    dp = _opendp()
    domain = dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T=int))
    metric = dp.l01inf_distance(dp.absolute_distance(T=int))
    return dp.m.make_laplace_threshold(domain, metric, scale=scale, threshold=threshold)


# OpenDP's map is read this far below the threshold the mechanism runs at (see above)
MAP_OFFSET = 1


def _min_threshold(linf: int) -> int:
    """The least threshold OpenDP's map is read at (``- MAP_OFFSET``, no less than linf)."""
    return linf + MAP_OFFSET


def _accounted(scale: float, threshold: int, linf: int = 1) -> Any:
    """The measurement whose privacy map bounds OpenDP's mechanism run at ``threshold``:
    the same mechanism at ``threshold - MAP_OFFSET`` (the map at ``threshold`` under-counts
    a key ``linf`` holds, see the module docstring).

    Raises:
        ConfigError: ``threshold`` is below ``linf + MAP_OFFSET`` (no delta below 1).
    """
    if threshold < _min_threshold(linf):
        raise ConfigError(f"a threshold below {_min_threshold(linf)} has no delta below 1")
    return _measurement(scale, threshold - MAP_OFFSET)


def privacy(scale: float, threshold: int, d_in: tuple[int, int, int]) -> tuple[float, float]:
    """(epsilon, delta) of OpenDP's Laplace threshold run at ``threshold``."""
    if threshold < _min_threshold(d_in[2]):
        return (float(_measurement(scale, MAX_THRESHOLD).map(d_in)[0]), 1.0)
    epsilon, delta = _accounted(scale, threshold, d_in[2]).map(d_in)
    return (float(epsilon), float(delta))


def _d_in(max_claims_per_subject: int) -> tuple[int, int, int]:
    """(l0, l1, linf) by which one subject can change the bounded count map.

    The capped policy bounds l1 by the claims a subject may vote for; its votes can
    push later subjects' votes onto one key, so linf is bounded by l1 alone (equal
    to 1 at the default, one claim a subject)."""
    return (max_claims_per_subject, max_claims_per_subject, max_claims_per_subject)


@functools.cache
def calibrate(policy: DPPolicy) -> Calibration:
    """The least noise that OpenDP maps to ``policy.epsilon``, then the least threshold for delta.

    Raises:
        ConfigError: no threshold up to 2^30 meets ``policy.delta``.
    """
    dp = _opendp()
    d_in = _d_in(policy.max_claims_per_subject)

    def epsilon_ok(scale: float) -> bool:
        return bool(_measurement(scale, MAX_THRESHOLD).map(d_in)[0] <= policy.epsilon)

    scale = float(dp.binary_search(epsilon_ok, T=float, bounds=(1e-9, 1e9)))

    def delta_ok(threshold: int) -> bool:
        return privacy(scale, threshold, d_in)[1] <= policy.delta

    if not delta_ok(MAX_THRESHOLD):
        raise ConfigError(f"no threshold meets dp delta {policy.delta}; raise delta or epsilon")
    lowest = _min_threshold(d_in[2])
    threshold = (
        lowest
        if delta_ok(lowest)
        else int(dp.binary_search(delta_ok, T=int, bounds=(lowest, MAX_THRESHOLD)))
    )
    epsilon, delta = privacy(scale, threshold, d_in)
    return Calibration(scale, threshold, policy.max_claims_per_subject, epsilon, delta)


def select(counts: Mapping[str, int], calibration: Calibration) -> dict[str, int]:
    """The keys OpenDP's noisy threshold keeps, with their noisy counts.

    ``counts`` must already be contribution-bounded: each subject in at most
    ``calibration.max_claims_per_subject`` of them, once each.
    """
    measurement = _measurement(calibration.scale, calibration.threshold)
    released = measurement({k: int(v) for k, v in counts.items() if v > 0})
    return {str(k): int(v) for k, v in released.items()}


def compose(rounds: Sequence[Calibration]) -> tuple[float, float]:
    """Total (epsilon, delta) of the rounds, by OpenDP's composition of their measurements.

    Every round is taken at the largest ``max_claims_per_subject`` charged,
    which only over-counts a round that bounded contributions more tightly.
    """
    if not rounds:
        return (0.0, 0.0)
    dp = _opendp()
    bound = max(r.max_claims_per_subject for r in rounds)
    d_in = _d_in(bound)
    composed = dp.c.make_composition([_accounted(r.scale, r.threshold, d_in[2]) for r in rounds])
    epsilon, delta = composed.map(d_in)
    return (float(epsilon), float(delta))
