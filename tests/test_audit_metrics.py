"""Membership-inference metrics against answers known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from fical_secure.audit.attacks import RECORD_MEMBERSHIP, Attack, pooled_attacks, run_attacks
from fical_secure.audit.metrics import (
    attack_metrics,
    bootstrap_ci,
    roc_auc,
    roc_curve,
    tpr_at_fpr,
)


def test_perfect_separation_gives_auc_one_and_full_tpr_at_low_fpr() -> None:
    members, nonmembers = np.arange(100, 200), np.arange(0, 100)
    assert roc_auc(members, nonmembers) == 1.0
    assert tpr_at_fpr(members, nonmembers, 0.01).value == 1.0
    assert tpr_at_fpr(members, nonmembers, 0.001).value == 1.0


def test_reversed_separation_gives_auc_zero() -> None:
    assert roc_auc(np.zeros(5), np.ones(5)) == 0.0


def test_identical_scores_give_auc_one_half() -> None:
    assert roc_auc(np.full(30, 0.7), np.full(50, 0.7)) == 0.5


def test_same_distribution_gives_auc_near_one_half_with_a_covering_ci() -> None:
    rng = np.random.default_rng(0)
    members, nonmembers = rng.normal(size=2000), rng.normal(size=2000)
    assert abs(roc_auc(members, nonmembers) - 0.5) < 0.03
    ci = bootstrap_ci(members, nonmembers, n_resamples=200, seed=1)
    assert ci.covers(0.5)
    # at 1% FPR a random attack finds about 1% of members
    assert tpr_at_fpr(members, nonmembers, 0.01).value < 0.04


def test_auc_matches_scikit_learn_with_ties() -> None:
    rng = np.random.default_rng(3)
    members = rng.integers(0, 6, size=57).astype(float)
    nonmembers = rng.integers(0, 5, size=43).astype(float)
    labels = np.r_[np.ones(57), np.zeros(43)]
    expected = roc_auc_score(labels, np.r_[members, nonmembers])
    assert roc_auc(members, nonmembers) == pytest.approx(expected)


def test_roc_curve_runs_from_origin_to_one_one_and_is_monotone() -> None:
    curve = roc_curve([3.0, 2.0, 2.0, 1.0], [2.0, 0.0, 0.5])
    assert (curve.fpr[0], curve.tpr[0]) == (0.0, 0.0)
    assert (curve.fpr[-1], curve.tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(curve.fpr) >= 0) and np.all(np.diff(curve.tpr) >= 0)
    # flagging >= 2.0 catches 3 of 4 members and 1 of 3 non-members (ties flagged together)
    i = int(np.where(curve.thresholds == 2.0)[0][0])
    assert (curve.fpr[i], curve.tpr[i]) == (pytest.approx(1 / 3), 0.75)


def test_tpr_at_fpr_interpolates_between_operating_points() -> None:
    # 10 non-members: operating points at FPR 0 (TPR 0.5) and 0.1 (TPR 1.0)
    members = np.r_[np.full(5, 10.0), np.full(5, 5.0)]
    nonmembers = np.r_[np.full(1, 6.0), np.zeros(9)]
    at = tpr_at_fpr(members, nonmembers, 0.05)
    assert at.value == pytest.approx(0.75)
    assert (at.lower, at.upper) == (0.5, 1.0)


def test_tpr_at_low_fpr_is_flagged_unresolved_with_too_few_nonmembers() -> None:
    rng = np.random.default_rng(0)
    few = tpr_at_fpr(rng.normal(1, 1, 40), rng.normal(0, 1, 40), 0.01)
    assert not few.resolved
    assert few.lower <= few.value <= few.upper
    many = tpr_at_fpr(rng.normal(1, 1, 200), rng.normal(0, 1, 200), 0.01)
    assert many.resolved


def test_bootstrap_is_seeded_and_ci_contains_the_estimate() -> None:
    rng = np.random.default_rng(5)
    members, nonmembers = rng.normal(0.8, 1, 60), rng.normal(0, 1, 60)
    a = bootstrap_ci(members, nonmembers, n_resamples=300, seed=7)
    b = bootstrap_ci(members, nonmembers, n_resamples=300, seed=7)
    assert a == b
    assert a.low < roc_auc(members, nonmembers) < a.high
    assert a.low > 0.5  # a real 0.8-sigma shift is detected at 60 a side


def test_attack_metrics_reports_sizes_and_tpr_cis() -> None:
    m = attack_metrics(np.arange(20.0, 40.0), np.arange(0.0, 20.0), n_resamples=50)
    assert (m.n_members, m.n_nonmembers) == (20, 20)
    assert m.auc == 1.0 and m.auc_ci.low == 1.0
    assert m.tpr_at_1pct_ci.low == 1.0
    assert m.to_dict()["tpr_at_1pct_fpr"]["resolved"] is False


@pytest.mark.parametrize(
    ("members", "nonmembers"), [([], [1.0]), ([1.0], []), ([np.nan], [1.0]), ([1.0], [np.inf])]
)
def test_empty_or_non_finite_scores_are_refused(
    members: list[float], nonmembers: list[float]
) -> None:
    with pytest.raises(ValueError):
        roc_auc(members, nonmembers)


def test_unknown_bootstrap_statistic_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown statistic"):
        bootstrap_ci([1.0], [0.0], statistic="precision")


def test_the_pooled_game_scores_every_clients_records_with_one_threshold() -> None:
    rng = np.random.default_rng(0)
    games = []
    for shift in (0.0, 5.0):  # two clients whose scores sit on different scales
        members = {"s": rng.normal(shift + 0.3, 1.0, 60), "t": rng.normal(0, 1, 60)}
        nonmembers = {"s": rng.normal(shift, 1.0, 60), "t": rng.normal(0, 1, 60)}
        games.append(run_attacks(members, nonmembers, [_attack("s"), _attack("t")]))
    games[1].pop("t")  # an attack one game lacks is left out of the pool
    pooled = pooled_attacks(games, n_resamples=50)
    assert list(pooled) == ["s"]
    pos = np.concatenate([g["s"].member_scores for g in games])
    neg = np.concatenate([g["s"].nonmember_scores for g in games])
    metrics = pooled["s"].metrics
    assert metrics.n_members == metrics.n_nonmembers == 120
    assert metrics.auc == roc_auc(pos, neg)  # one threshold over both clients' scales
    # 120 non-members resolve a 1% FPR that neither client's 60 does
    assert metrics.tpr_at_1pct.resolved and not games[0]["s"].metrics.tpr_at_1pct.resolved
    assert metrics.auc_ci.low <= metrics.auc <= metrics.auc_ci.high
    assert pooled_attacks([]) == {}


def _attack(signal: str) -> Attack:
    return Attack(signal, RECORD_MEMBERSHIP, (signal,), signal, lambda s: s[signal])
