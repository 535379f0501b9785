"""Permutation tests on membership-attack scores: a release decision with a known false-block rate.

The null hypothesis of the record-membership game is that the released
artefact tells an attacker nothing about membership: the attack scores of
members and non-members are exchangeable. Under it, relabelling the pooled
scores at random gives the statistic's distribution exactly, so the
permutation p-value ``(1 + #{T* >= T}) / (B + 1)`` satisfies
``P(p <= a) <= a`` for every level ``a`` and any number of records (a
Monte-Carlo permutation test is exact in this sense, not only asymptotically).

Two statistics per attack: the AUC (the Mann-Whitney statistic) and the TPR
at the lowest false-positive rate the non-members resolve. With ``n``
non-members the smallest FPR one can measure is ``1/n``: the TPR at a target
of 1% is reported only when ``n >= 100``; otherwise the TPR at ``k/n`` (the
lowest resolved FPR at or above the target) is reported, labelled as such.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fical_secure.audit.metrics import split_scores
from fical_secure.jsontypes import JsonObject

FloatArray = npt.NDArray[np.float64]
_CHUNK = 256  # permutations scored at once (bounds memory for large audits)


@dataclass(frozen=True)
class LowFprPoint:
    """TPR at the lowest resolved FPR at or above a target FPR."""

    target_fpr: float
    fpr: float  # k / n_nonmembers: the FPR actually measured
    tpr: float
    resolved: bool  # True when ``fpr`` equals the target (n_nonmembers >= 1 / target)

    @property
    def label(self) -> str:
        """``TPR@1%FPR`` when resolved, else ``TPR@12.5%FPR (lowest resolved)``."""
        name = f"TPR@{_percent(self.fpr)}FPR"
        return (
            name
            if self.resolved
            else f"{name} (lowest resolved; target {_percent(self.target_fpr)})"
        )

    def to_dict(self) -> JsonObject:
        return {
            "label": self.label,
            "target_fpr": self.target_fpr,
            "fpr": self.fpr,
            "tpr": self.tpr,
            "resolved": self.resolved,
        }


@dataclass(frozen=True)
class MembershipTest:
    """One attack's figures and their permutation p-values."""

    attack: str
    n_members: int
    n_nonmembers: int
    auc: float
    auc_p: float
    low_fpr: LowFprPoint
    low_fpr_p: float
    permutations: int

    def to_dict(self) -> JsonObject:
        return {
            "attack": self.attack,
            "n_members": self.n_members,
            "n_nonmembers": self.n_nonmembers,
            "auc": round(self.auc, 4),
            "auc_p_value": round(self.auc_p, 5),
            "tpr_at_low_fpr": self.low_fpr.to_dict(),
            "tpr_at_low_fpr_p_value": round(self.low_fpr_p, 5),
            "permutations": self.permutations,
        }


def _percent(value: float) -> str:
    text = f"{100 * value:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def resolved_false_positives(n_nonmembers: int, target_fpr: float) -> int:
    """``k``: the fewest false positives whose rate ``k/n`` is at least ``target_fpr`` (>= 1)."""
    if n_nonmembers < 1 or not 0.0 < target_fpr <= 1.0:
        raise ValueError("need >= 1 non-member and a target FPR in (0, 1]")
    return max(1, math.ceil(target_fpr * n_nonmembers - 1e-9))


def _average_ranks(values: FloatArray) -> FloatArray:
    """Ranks 1..N with ties sharing their average rank (the Mann-Whitney convention)."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)
    average = upper - (counts - 1) / 2.0
    return np.asarray(average[inverse], dtype=np.float64)


def _tpr_rows(members: FloatArray, nonmembers: FloatArray, k: int) -> FloatArray:
    """Per row: fraction of members scoring above the (k+1)-th largest non-member.

    That is the best TPR of a threshold rule ``score >= t`` with at most ``k``
    false positives (ties between the threshold and a non-member count against it).
    """
    if k >= nonmembers.shape[1]:
        return np.ones(members.shape[0], dtype=np.float64)
    ordered = -np.sort(-nonmembers, axis=1)
    threshold = ordered[:, k]
    return np.asarray((members > threshold[:, None]).mean(axis=1), dtype=np.float64)


def permutation_test(
    attack: str,
    members: npt.ArrayLike,
    nonmembers: npt.ArrayLike,
    *,
    target_fpr: float = 0.01,
    permutations: int = 999,
    seed: int = 0,
) -> MembershipTest:
    """One-sided permutation tests of AUC and TPR at low FPR (higher score = member).

    Raises:
        ValueError: an empty side, a non-finite score, ``permutations < 1`` or a
            target FPR outside (0, 1].
    """
    pos, neg = split_scores(members, nonmembers)
    if permutations < 1:
        raise ValueError("permutations must be >= 1")
    n1, n0 = pos.size, neg.size
    k = resolved_false_positives(n0, target_fpr)
    pooled = np.concatenate([pos, neg])
    ranks = _average_ranks(pooled)
    offset = n1 * (n1 + 1) / 2.0

    def auc_of(rank_sums: FloatArray) -> FloatArray:
        return np.asarray((rank_sums - offset) / (n1 * n0), dtype=np.float64)

    auc = float(auc_of(np.array([ranks[:n1].sum()]))[0])
    tpr = float(_tpr_rows(pos[None, :], neg[None, :], k)[0])
    rng = np.random.default_rng(seed)
    auc_hits = tpr_hits = 0
    done = 0
    while done < permutations:
        rows = min(_CHUNK, permutations - done)
        order = np.argsort(rng.random((rows, n1 + n0)), axis=1)
        auc_star = auc_of(ranks[order[:, :n1]].sum(axis=1))
        shuffled = pooled[order]
        tpr_star = _tpr_rows(shuffled[:, :n1], shuffled[:, n1:], k)
        auc_hits += int(np.sum(auc_star >= auc - 1e-12))
        tpr_hits += int(np.sum(tpr_star >= tpr - 1e-12))
        done += rows
    point = LowFprPoint(
        target_fpr=target_fpr, fpr=k / n0, tpr=tpr, resolved=k / n0 <= target_fpr + 1e-12
    )
    return MembershipTest(
        attack=attack,
        n_members=n1,
        n_nonmembers=n0,
        auc=auc,
        auc_p=(1 + auc_hits) / (permutations + 1),
        low_fpr=point,
        low_fpr_p=(1 + tpr_hits) / (permutations + 1),
        permutations=permutations,
    )
