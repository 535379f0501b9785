"""The DP ceiling of ``benchmarks/dp_ceiling.py`` bounds every DP release, OpenDP's included.

``release_ceiling(s, eps)`` is the group-privacy bound on the chance that an
(eps, delta)-DP release keeps a key s subjects hold. The mechanism the
release mode calibrates through OpenDP (a discrete Laplace threshold) must
stay under it for every count, or the bound (or the calibration) is wrong.
"""

from __future__ import annotations

import math

import pytest

pytest.importorskip("opendp")

from benchmarks.dp_ceiling import DELTA, release_ceiling
from fical_secure.release.dp import calibrate
from fical_secure.release.policy import DPPolicy


def _laplace_keeps(count: int, scale: float, threshold: int) -> float:
    """P(count + Z >= threshold), Z discrete Laplace: P(Z = z) proportional to e^(-|z| / scale).

    OpenDP keeps a noisy count that reaches the threshold, equal included (sampled in
    ``tests/test_release_dp.py``; its map at the threshold counts only P(1 + Z > threshold),
    opendp/opendp#2922). P(Z >= m) = a^m / (1 + a) for m >= 1 (a = e^(-1/scale)), and
    1 - P(Z >= 1 - m) below.
    """
    a = math.exp(-1 / scale)
    gap = threshold - count
    return a**gap / (1 + a) if gap >= 1 else 1 - a ** (1 - gap) / (1 + a)


@pytest.mark.parametrize("epsilon", [0.5, 1.0, 2.0, 4.0, 8.0])
def test_the_calibrated_mechanism_stays_under_the_ceiling(epsilon: float) -> None:
    cal = calibrate(DPPolicy(epsilon, DELTA, 1, epsilon))
    # one subject's key: exactly the delta OpenDP reports, which the ceiling equals at s = 1
    assert _laplace_keeps(1, cal.scale, cal.threshold) == pytest.approx(cal.delta, rel=1e-6)
    for count in range(1, cal.threshold + 40):
        keeps = _laplace_keeps(count, cal.scale, cal.threshold)
        assert keeps <= release_ceiling(count, cal.epsilon, cal.delta) * (1 + 1e-9), count


def test_the_ceiling_is_the_group_privacy_sum() -> None:
    assert release_ceiling(0, 1.0) == 0.0
    assert release_ceiling(1, 1.0) == pytest.approx(DELTA)
    # s = 3: delta (1 + e^eps + e^(2 eps))
    assert release_ceiling(3, 2.0) == pytest.approx(DELTA * (1 + math.e**2 + math.e**4))
    assert release_ceiling(10_000, 0.5) == 1.0
    assert all(release_ceiling(s, 1.0) <= release_ceiling(s + 1, 1.0) for s in range(60))
