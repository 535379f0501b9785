"""Metrics of a membership-inference attack: ROC curve, AUC, TPR at low FPR, bootstrap CIs.

Scores follow one convention everywhere in :mod:`fical_secure.audit`: higher
means "more likely a member". Members are the positives.

TPR at a low FPR (1%, 0.1%) is read off the empirical ROC curve by linear
interpolation between its operating points. With ``n`` non-members the
smallest non-zero FPR the data can show is ``1/n``; when the requested FPR is
below it (fewer than 100 non-members for 1%, fewer than 1000 for 0.1%) the
figure is an interpolation between the zero-FPR point and the first
operating point, not a measurement. :class:`TprAtFpr` then reports
``resolved=False`` together with the bounds that *are* measured: the TPR at
the largest empirical FPR at or below the target (a lower bound) and at the
smallest empirical FPR at or above it (an upper bound), since the true
ROC is non-decreasing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fical_secure.jsontypes import JsonObject
from fical_secure.stats import wilson_bounds

FloatArray = npt.NDArray[np.float64]

DEFAULT_BOOTSTRAP = 500
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class RocCurve:
    """Empirical ROC curve: ``fpr[i], tpr[i]`` when flagging scores >= ``thresholds[i]``."""

    fpr: FloatArray
    tpr: FloatArray
    thresholds: FloatArray


@dataclass(frozen=True)
class TprAtFpr:
    """TPR at a target FPR: interpolated value, measured bounds, and whether it is resolved."""

    target_fpr: float
    value: float
    lower: float
    upper: float
    resolved: bool  # True when 1 / n_nonmembers <= target_fpr

    def to_dict(self) -> JsonObject:
        return {
            "target_fpr": self.target_fpr,
            "value": self.value,
            "lower": self.lower,
            "upper": self.upper,
            "resolved": self.resolved,
        }


@dataclass(frozen=True)
class Interval:
    """A bootstrap percentile confidence interval."""

    low: float
    high: float
    confidence: float

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high

    def to_dict(self) -> JsonObject:
        return {"low": self.low, "high": self.high, "confidence": self.confidence}


@dataclass(frozen=True)
class AttackMetrics:
    """Every figure the audit reports for one attack's scores."""

    n_members: int
    n_nonmembers: int
    auc: float
    auc_ci: Interval
    tpr_at_1pct: TprAtFpr
    tpr_at_1pct_ci: Interval
    tpr_at_01pct: TprAtFpr

    def to_dict(self) -> JsonObject:
        return {
            "n_members": self.n_members,
            "n_nonmembers": self.n_nonmembers,
            "auc": self.auc,
            "auc_ci": self.auc_ci.to_dict(),
            "tpr_at_1pct_fpr": self.tpr_at_1pct.to_dict(),
            "tpr_at_1pct_fpr_ci": self.tpr_at_1pct_ci.to_dict(),
            "tpr_at_0.1pct_fpr": self.tpr_at_01pct.to_dict(),
        }


def split_scores(
    members: npt.ArrayLike, nonmembers: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Both sides as flat float arrays.

    Raises:
        ValueError: an empty side or a non-finite score.
    """
    pos = np.asarray(members, dtype=np.float64).ravel()
    neg = np.asarray(nonmembers, dtype=np.float64).ravel()
    if pos.size == 0 or neg.size == 0:
        raise ValueError("need at least one member and one non-member score")
    if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(neg))):
        raise ValueError("scores must be finite")
    return pos, neg


def roc_curve(members: npt.ArrayLike, nonmembers: npt.ArrayLike) -> RocCurve:
    """The empirical ROC curve, one point per distinct score plus (0, 0).

    Raises:
        ValueError: an empty side or a non-finite score.
    """
    pos, neg = split_scores(members, nonmembers)
    thresholds = np.unique(np.concatenate([pos, neg]))[::-1]
    pos_sorted, neg_sorted = np.sort(pos), np.sort(neg)
    # count of scores >= t, for each threshold t (ties flagged together)
    tp = pos.size - np.searchsorted(pos_sorted, thresholds, side="left")
    fp = neg.size - np.searchsorted(neg_sorted, thresholds, side="left")
    fpr = np.concatenate([[0.0], fp / neg.size])
    tpr = np.concatenate([[0.0], tp / pos.size])
    return RocCurve(fpr=fpr, tpr=tpr, thresholds=np.concatenate([[np.inf], thresholds]))


def roc_auc(members: npt.ArrayLike, nonmembers: npt.ArrayLike) -> float:
    """Area under the ROC curve: P(member score > non-member score), ties counting 1/2.

    Raises:
        ValueError: an empty side or a non-finite score.
    """
    pos, neg = split_scores(members, nonmembers)
    return _auc_sorted(pos, np.sort(neg))


def _auc_sorted(pos: FloatArray, neg_sorted: FloatArray) -> float:
    below = np.searchsorted(neg_sorted, pos, side="left")
    ties = np.searchsorted(neg_sorted, pos, side="right") - below
    return float((below.sum() + 0.5 * ties.sum()) / (pos.size * neg_sorted.size))


def tpr_at_fpr(members: npt.ArrayLike, nonmembers: npt.ArrayLike, target_fpr: float) -> TprAtFpr:
    """TPR at ``target_fpr``, interpolated on the ROC curve (see the module docstring).

    Raises:
        ValueError: ``target_fpr`` outside [0, 1], an empty side, a non-finite score.
    """
    if not 0.0 <= target_fpr <= 1.0:
        raise ValueError("target_fpr must lie in [0, 1]")
    curve = roc_curve(members, nonmembers)
    n_neg = np.asarray(nonmembers).size
    # fpr is non-decreasing; take the highest TPR at each distinct FPR for interpolation
    fpr_u, idx = np.unique(curve.fpr[::-1], return_index=True)
    tpr_u = curve.tpr[::-1][idx]
    value = float(np.interp(target_fpr, fpr_u, tpr_u))
    lower = float(tpr_u[fpr_u <= target_fpr].max())
    upper = float(tpr_u[fpr_u >= target_fpr].min()) if np.any(fpr_u >= target_fpr) else 1.0
    return TprAtFpr(
        target_fpr=target_fpr,
        value=value,
        lower=lower,
        upper=max(upper, value),
        resolved=bool(target_fpr * n_neg >= 1.0 - 1e-9),
    )


def bootstrap_ci(
    members: npt.ArrayLike,
    nonmembers: npt.ArrayLike,
    *,
    statistic: str = "auc",
    n_resamples: int = DEFAULT_BOOTSTRAP,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap CI of ``statistic`` ("auc" or "tpr@1%"), resampling each side.

    Members and non-members are resampled separately (stratified), so every
    resample keeps the class sizes of the audit.

    Raises:
        ValueError: unknown statistic, bad parameters, an empty side.
    """
    pos, neg = split_scores(members, nonmembers)
    if n_resamples < 1 or not 0.0 < confidence < 1.0:
        raise ValueError("n_resamples must be >= 1 and confidence in (0, 1)")
    if statistic not in ("auc", "tpr@1%"):
        raise ValueError(f"unknown statistic {statistic!r}; use 'auc' or 'tpr@1%'")
    rng = np.random.default_rng(seed)
    values = np.empty(n_resamples, dtype=np.float64)
    for i in range(n_resamples):
        p = pos[rng.integers(0, pos.size, pos.size)]
        n = neg[rng.integers(0, neg.size, neg.size)]
        if statistic == "auc":
            values[i] = _auc_sorted(p, np.sort(n))
        else:
            values[i] = tpr_at_fpr(p, n, 0.01).value
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return Interval(low=float(low), high=float(high), confidence=confidence)


def attack_metrics(
    members: npt.ArrayLike,
    nonmembers: npt.ArrayLike,
    *,
    n_resamples: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> AttackMetrics:
    """All metrics of one attack, with seeded bootstrap CIs.

    Raises:
        ValueError: an empty side or a non-finite score.
    """
    pos, neg = split_scores(members, nonmembers)
    return AttackMetrics(
        n_members=int(pos.size),
        n_nonmembers=int(neg.size),
        auc=roc_auc(pos, neg),
        auc_ci=bootstrap_ci(pos, neg, statistic="auc", n_resamples=n_resamples, seed=seed),
        tpr_at_1pct=tpr_at_fpr(pos, neg, 0.01),
        tpr_at_1pct_ci=bootstrap_ci(
            pos, neg, statistic="tpr@1%", n_resamples=n_resamples, seed=seed
        ),
        tpr_at_01pct=tpr_at_fpr(pos, neg, 0.001),
    )


def wilson_interval(k: int, n: int, z: float = 1.96) -> list[float]:
    """Wilson score 95% interval of a rate ``k / n`` (``[0, 1]`` when ``n`` is 0), rounded."""
    low, high = wilson_bounds(k, n, z)
    return [round(low, 4), round(high, 4)]


def bootstrap_mean_ci(
    values: npt.ArrayLike,
    *,
    n_resamples: int = DEFAULT_BOOTSTRAP,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap CI of the mean of ``values`` (per-target scores, e.g. ROUGE-L).

    Raises:
        ValueError: no values, a non-finite value, or bad parameters.
    """
    data = np.asarray(values, dtype=np.float64).ravel()
    if data.size == 0 or not np.all(np.isfinite(data)):
        raise ValueError("need at least one value, all finite")
    if n_resamples < 1 or not 0.0 < confidence < 1.0:
        raise ValueError("n_resamples must be >= 1 and confidence in (0, 1)")
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, (n_resamples, data.size))].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return Interval(low=float(low), high=float(high), confidence=confidence)
