"""Membership-inference attacks: signals in, one score per record out (higher = member).

Every attack names the inference game it plays, so a report states exactly
what an AUC of 0.9 means (ml_privacy_meter's habit).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fical_secure.audit.metrics import AttackMetrics, attack_metrics
from fical_secure.jsontypes import JsonObject

FloatArray = npt.NDArray[np.float64]
Signals = Mapping[str, FloatArray]


@dataclass(frozen=True)
class InferenceGame:
    """The game an attack is scored on."""

    name: str
    description: str


RECORD_MEMBERSHIP = InferenceGame(
    name="record-membership",
    description=(
        "The challenger draws one record either from the records client c used to build its "
        "released artefact (member) or from c's held-out records of the same distribution "
        "(non-member). The adversary sees the artefact and the record and outputs a score; "
        "AUC 0.5 means the artefact tells it nothing about membership."
    ),
)

# signal names filled in by the auditor
SIG_MAX_COSINE = "max_cosine"
SIG_MAX_RUN = "max_common_run"
SIG_LL_TARGET = "loglik_target"
SIG_LL_REFERENCE = "loglik_reference"
SIG_MINK_TARGET = "min_k_target"
SIG_MINK_REFERENCE = "min_k_reference"


@dataclass(frozen=True)
class Attack:
    """A named scoring rule over signals."""

    name: str
    game: InferenceGame
    requires: tuple[str, ...]
    description: str
    rule: Callable[[Signals], FloatArray]

    def scores(self, signals: Signals) -> FloatArray:
        """Member-likeness score of each record.

        Raises:
            KeyError: a required signal is missing.
        """
        missing = [s for s in self.requires if s not in signals]
        if missing:
            raise KeyError(f"attack {self.name} needs signals {missing}")
        return np.asarray(self.rule(signals), dtype=np.float64)


ATTACKS: tuple[Attack, ...] = (
    Attack(
        "embedding_max_cosine",
        RECORD_MEMBERSHIP,
        (SIG_MAX_COSINE,),
        "largest cosine (MiniLM) between the record and any released item",
        lambda s: s[SIG_MAX_COSINE],
    ),
    Attack(
        "lexical_longest_run",
        RECORD_MEMBERSHIP,
        (SIG_MAX_RUN,),
        "longest run of consecutive words the record shares with any released item",
        lambda s: s[SIG_MAX_RUN],
    ),
    Attack(
        "llm_loglik",
        RECORD_MEMBERSHIP,
        (SIG_LL_TARGET,),
        "uncalibrated LOSS attack: mean token log-prob with the artefact in context",
        lambda s: s[SIG_LL_TARGET],
    ),
    Attack(
        "llm_calibrated_loglik",
        RECORD_MEMBERSHIP,
        (SIG_LL_TARGET, SIG_LL_REFERENCE),
        "mean token log-prob with the artefact minus with public tool docs in context",
        lambda s: s[SIG_LL_TARGET] - s[SIG_LL_REFERENCE],
    ),
    Attack(
        "llm_min_k",
        RECORD_MEMBERSHIP,
        (SIG_MINK_TARGET,),
        "Min-K% prob (Shi et al.) with the artefact in context",
        lambda s: s[SIG_MINK_TARGET],
    ),
    Attack(
        "llm_calibrated_min_k",
        RECORD_MEMBERSHIP,
        (SIG_MINK_TARGET, SIG_MINK_REFERENCE),
        "Min-K% prob with the artefact minus with public tool docs in context",
        lambda s: s[SIG_MINK_TARGET] - s[SIG_MINK_REFERENCE],
    ),
)


def attack_by_name(name: str) -> Attack:
    """Raises: KeyError for an unknown attack name."""
    for attack in ATTACKS:
        if attack.name == name:
            return attack
    raise KeyError(f"unknown attack {name!r}; known: {[a.name for a in ATTACKS]}")


@dataclass(frozen=True)
class AttackResult:
    """One attack's scores on both sides and their metrics."""

    attack: Attack
    member_scores: FloatArray
    nonmember_scores: FloatArray
    metrics: AttackMetrics

    def to_dict(self) -> JsonObject:
        return {
            "attack": self.attack.name,
            "game": self.attack.game.name,
            "description": self.attack.description,
            **self.metrics.to_dict(),
        }


def run_attacks(
    members: Signals,
    nonmembers: Signals,
    attacks: Sequence[Attack] = ATTACKS,
    *,
    n_resamples: int = 500,
    seed: int = 0,
) -> dict[str, AttackResult]:
    """Run every attack whose signals were computed on both sides; skip the others."""
    results: dict[str, AttackResult] = {}
    for attack in attacks:
        if not all(s in members and s in nonmembers for s in attack.requires):
            continue
        pos, neg = attack.scores(members), attack.scores(nonmembers)
        results[attack.name] = AttackResult(
            attack, pos, neg, attack_metrics(pos, neg, n_resamples=n_resamples, seed=seed)
        )
    return results


def pooled_attacks(
    games: Sequence[Mapping[str, AttackResult]],
    *,
    n_resamples: int = 500,
    seed: int = 0,
) -> dict[str, AttackResult]:
    """Every attack run in all ``games``, scored on the union of their records.

    Each game is one client's members and non-members against the artefact
    that client shared; the pooled game draws a record from any of them and
    the attacker applies one threshold to every score. Its AUC and TPR are
    estimated from all the records at once, so a federation of small clients
    still resolves a 1% FPR (at least 100 non-members in all) and a narrow
    AUC interval. Attacks missing from a game are left out.
    """
    if not games:
        return {}
    names = [name for name in games[0] if all(name in game for game in games[1:])]
    pooled: dict[str, AttackResult] = {}
    for name in names:
        pos = np.concatenate([game[name].member_scores for game in games])
        neg = np.concatenate([game[name].nonmember_scores for game in games])
        attack = games[0][name].attack
        pooled[name] = AttackResult(
            attack, pos, neg, attack_metrics(pos, neg, n_resamples=n_resamples, seed=seed)
        )
    return pooled
