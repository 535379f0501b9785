"""Permutation tests of membership figures: exact level under the null, power on a leak."""

from __future__ import annotations

import numpy as np
import pytest

from fical_secure.audit.metrics import roc_auc, tpr_at_fpr
from fical_secure.release.significance import permutation_test, resolved_false_positives


@pytest.mark.parametrize(
    ("n", "target", "k"), [(8, 0.01, 1), (100, 0.01, 1), (250, 0.01, 3), (1000, 0.001, 1)]
)
def test_lowest_resolved_fpr_is_one_false_positive_below_100_nonmembers(
    n: int, target: float, k: int
) -> None:
    assert resolved_false_positives(n, target) == k


def test_figures_agree_with_the_audit_metrics() -> None:
    rng = np.random.default_rng(1)
    pos = np.round(rng.normal(0.4, 1.0, 40), 1)  # rounding makes ties
    neg = np.round(rng.normal(0.0, 1.0, 30), 1)
    test = permutation_test("a", pos, neg, permutations=99)
    assert test.auc == pytest.approx(roc_auc(pos, neg))
    assert test.low_fpr.fpr == pytest.approx(1 / 30) and not test.low_fpr.resolved
    assert test.low_fpr.tpr == pytest.approx(tpr_at_fpr(pos, neg, 1 / 30).lower)
    assert "lowest resolved" in test.low_fpr.label
    big = permutation_test("a", rng.normal(size=120), rng.normal(size=200), permutations=99)
    assert big.low_fpr.resolved and big.low_fpr.label == "TPR@1%FPR"


def test_separated_scores_are_significant_and_identical_ones_are_not() -> None:
    separated = permutation_test("a", np.arange(10, 20.0), np.arange(10.0), permutations=999)
    assert separated.auc == 1.0 and separated.auc_p == pytest.approx(1 / 1000)
    assert separated.low_fpr.tpr == 1.0 and separated.low_fpr_p <= 0.01
    flat = permutation_test("a", np.zeros(10), np.zeros(10), permutations=999)
    assert flat.auc == 0.5 and flat.auc_p == 1.0 and flat.low_fpr_p == 1.0


def test_null_rejection_rate_stays_at_the_level() -> None:
    """Exchangeable scores: P(p <= 0.1) <= 0.1 (+ Monte-Carlo slack over 300 draws)."""
    rng = np.random.default_rng(7)
    rejections = [
        permutation_test("a", rng.normal(size=12), rng.normal(size=12), permutations=199, seed=s)
        for s in range(300)
    ]
    auc_rate = np.mean([t.auc_p <= 0.1 for t in rejections])
    tpr_rate = np.mean([t.low_fpr_p <= 0.1 for t in rejections])
    assert auc_rate <= 0.1 + 0.05 and tpr_rate <= 0.1 + 0.05
    assert auc_rate >= 0.03  # the test is not vacuous: it does reject sometimes under the null


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        permutation_test("a", [], [1.0])
    with pytest.raises(ValueError):
        permutation_test("a", [np.nan], [1.0])
    with pytest.raises(ValueError):
        permutation_test("a", [1.0], [1.0], permutations=0)
