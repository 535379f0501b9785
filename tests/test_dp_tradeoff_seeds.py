"""The pooled share of ``benchmarks/dp_tradeoff_seeds.py``: a ratio of summed gains, with a CI."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("opendp")

from benchmarks.dp_tradeoff_seeds import pooled_share


def test_pooled_share_is_summed_dp_gain_over_summed_k_only_gain_not_a_mean_of_ratios() -> None:
    # two federations: a large k-only gain kept well, a one-request gain lost (share -1 alone)
    k_gain = np.array([1.0] * 40 + [0.0] * 60 + [1.0] + [0.0] * 99)
    dp_gain = np.array([1.0] * 30 + [0.0] * 70 + [-1.0] + [0.0] * 99)
    out = pooled_share(dp_gain, k_gain, resamples=500)
    assert out["value"] == pytest.approx(29 / 41)  # not the mean of 0.75 and -1
    low, high = out["ci95"]
    assert low < out["value"] < high and 0.4 < low and high < 0.95


def test_pooled_share_of_no_k_only_gain_is_none_not_a_division_by_zero() -> None:
    out = pooled_share(np.array([1.0, 0.0, -1.0]), np.zeros(3), resamples=100)
    assert out["value"] is None and out["ci95"] is None
