"""Percentile bootstrap confidence intervals over requests (seeded, vectorised)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

RESAMPLES = 1000
LEVEL = 0.95


def mean_ci(
    values: Sequence[bool | float] | npt.NDArray[np.float64],
    *,
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> dict[str, Any]:
    """Mean of ``values`` with a 95 % percentile-bootstrap interval; NaNs when empty."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return {"mean": float("nan"), "ci95": [float("nan"), float("nan")], "n": 0}
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2])
    return {
        "mean": round(float(data.mean()), 4),
        "ci95": [round(float(lo), 4), round(float(hi), 4)],
        "n": int(data.size),
    }


def paired_diff_ci(
    a: Sequence[bool | float],
    b: Sequence[bool | float],
    *,
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> dict[str, Any]:
    """Mean of ``a - b`` over the same requests, with a paired bootstrap interval.

    ``excludes_zero`` says whether the interval lies wholly above or below 0.

    Raises:
        ValueError: the two sequences differ in length.
    """
    if len(a) != len(b):
        raise ValueError("paired_diff_ci needs two results per request")
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    out = mean_ci(diff, seed=seed, resamples=resamples)
    lo, hi = out["ci95"]
    out["excludes_zero"] = bool(out["n"] and (lo > 0 or hi < 0))
    return out
