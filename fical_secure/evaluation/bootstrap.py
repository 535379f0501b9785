"""Percentile bootstrap confidence intervals over requests (seeded, vectorised)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from fical_secure.jsontypes import JsonObject

RESAMPLES = 1000
LEVEL = 0.95


def mean_ci(
    values: Sequence[bool | float] | npt.NDArray[np.float64],
    *,
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> JsonObject:
    """Mean of ``values`` with a 95 % percentile-bootstrap interval; NaNs when empty."""
    mean, lo, hi, n = _bootstrap(np.asarray(values, dtype=np.float64), seed, resamples)
    return {"mean": mean, "ci95": [lo, hi], "n": n}


def _bootstrap(
    data: npt.NDArray[np.float64], seed: int, resamples: int
) -> tuple[float, float, float, int]:
    """(mean, interval low, interval high, n), rounded to 4 places; NaNs when empty."""
    if data.size == 0:
        return float("nan"), float("nan"), float("nan"), 0
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2])
    return round(float(data.mean()), 4), round(float(lo), 4), round(float(hi), 4), int(data.size)


def paired_diff_ci(
    a: Sequence[bool | float],
    b: Sequence[bool | float],
    *,
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> JsonObject:
    """Mean of ``a - b`` over the same requests, with a paired bootstrap interval.

    ``excludes_zero`` says whether the interval lies wholly above or below 0.

    Raises:
        ValueError: the two sequences differ in length.
    """
    if len(a) != len(b):
        raise ValueError("paired_diff_ci needs two results per request")
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    mean, lo, hi, n = _bootstrap(diff, seed, resamples)
    excludes_zero = bool(n and (lo > 0 or hi < 0))
    return {"mean": mean, "ci95": [lo, hi], "n": n, "excludes_zero": excludes_zero}
