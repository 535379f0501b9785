"""The one release policy: what a compendium must meet before it leaves a client.

The round's gate and ``fical-secure audit`` both read it, from the ``release``
section of a YAML profile (``fical_secure/compliance/profiles/*.yaml``, parsed
and schema-checked by :mod:`fical_secure.config.profile`); the field names
here are the keys there, one vocabulary.

Membership figures are decided by a test, not by a point estimate or a CI
end: an attack blocks a release when its permutation p-value is at most
``false_block_rate`` divided by the number of tests run (Bonferroni over
attacks, figures and clients) *and* its figure is above the limit. Under the
null (an artefact that tells nothing about membership) a release is then
blocked on membership grounds with probability at most ``false_block_rate``;
the limit keeps a tiny but significant effect from blocking a large audit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

from fical_secure.errors import ConfigError
from fical_secure.jsontypes import JsonObject

_UNIT = (
    "max_mi_auc",
    "max_tpr_at_low_fpr",
    "target_fpr",
    "false_block_rate",
    "entry_margin",
    "entry_min_similarity",
    "max_drop_fraction",
)


@dataclass(frozen=True)
class DPPolicy:
    """Differentially private claim selection and this hospital's budget across rounds.

    Each round's selection is (``epsilon``, ``delta``)-DP for one subject
    (patient), who adds to at most ``max_claims_per_subject`` claims' counts.
    A release whose composed total would pass ``budget_epsilon`` or
    ``budget_delta`` is refused (:class:`~fical_secure.errors.PrivacyBudgetExhausted`).
    ``budget_delta`` defaults to ``delta`` for each round the epsilon budget allows.
    """

    epsilon: float
    delta: float
    max_claims_per_subject: int
    budget_epsilon: float
    budget_delta: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.epsilon <= 100.0 or not 0.0 < self.budget_epsilon <= 1000.0:
            raise ConfigError("dp epsilon must lie in (0, 100] and budget_epsilon in (0, 1000]")
        if not 0.0 < self.delta <= 1e-4:
            raise ConfigError("dp delta must lie in (0, 1e-4]: it bounds a lone subject's claim")
        if self.max_claims_per_subject < 1:
            raise ConfigError("dp max_claims_per_subject must be >= 1")
        if self.budget_epsilon < self.epsilon:
            raise ConfigError("dp budget_epsilon must be >= epsilon (one round must fit)")
        if self.budget_delta is None:
            rounds = int(self.budget_epsilon / self.epsilon + 1e-9)
            object.__setattr__(self, "budget_delta", self.delta * max(rounds, 1))
        if not self.delta <= float(self.budget_delta or 0.0) < 1.0:
            raise ConfigError("dp budget_delta must lie in [delta, 1)")

    @property
    def total_delta(self) -> float:
        """The delta budget (``budget_delta`` after its default is filled in)."""
        return float(self.budget_delta or 0.0)

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """Every key of a profile's ``release.dp`` section."""
        return tuple(f.name for f in fields(cls))

    def to_dict(self) -> JsonObject:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class ReleasePolicy:
    """Release limits, the membership test's level, and how the gate may remediate."""

    max_mi_auc: float = 0.6
    max_tpr_at_low_fpr: float = 0.2
    target_fpr: float = 0.01  # TPR is read here when resolved, else at the lowest resolved FPR
    false_block_rate: float = 0.05  # of the membership test, over every attack and figure
    permutations: int = 999
    max_canary_exposure_bits: float = 8.0
    max_verbatim_pii_hits: int = 0
    max_candidate_pii_detections: int = 0
    min_scrubber_recall: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    attacks: tuple[str, ...] = ()  # attacks that count; empty: every attack that ran
    entry_margin: float = 0.1  # an entry this much closer to a member than any non-member...
    entry_min_similarity: float = 0.6  # ...and at least this close to it, is leaking;
    entry_run_margin: int = 8  # so is one sharing this many more consecutive words with a member
    max_drop_fraction: float = 0.5  # block rather than release less than this share of entries
    max_remediation_rounds: int = 3
    # secure aggregation: two sums a client joins differ by no hospital or by at least this many
    secagg_min_cohort_difference: int = 3
    # secure aggregation: the least k (aggregate.min_support) a round may reveal entries at;
    # 1 accepts the whole multiset, k >= 2 only entries k hospitals hold
    secagg_min_support: int = 1
    # differentially private claim selection; None: claims kept by k-support alone
    dp: DPPolicy | None = None

    def __post_init__(self) -> None:
        for name in _UNIT:
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ConfigError(f"release policy {name} must lie in [0, 1]")
        if not 0.0 < self.false_block_rate < 1.0 or not 0.0 < self.target_fpr <= 1.0:
            raise ConfigError("release policy false_block_rate in (0, 1), target_fpr in (0, 1]")
        if self.permutations < 19:
            raise ConfigError(
                "release policy permutations must be >= 19 (a p-value below 0.05 needs them)"
            )
        if min(self.max_verbatim_pii_hits, self.max_candidate_pii_detections) < 0:
            raise ConfigError("release policy PII maxima must be >= 0")
        if min(self.secagg_min_cohort_difference, self.secagg_min_support) < 1:
            raise ConfigError(
                "release policy secagg_min_cohort_difference and secagg_min_support must be >= 1"
            )
        if self.max_canary_exposure_bits < 0 or self.max_remediation_rounds < 1:
            raise ConfigError("max_canary_exposure_bits >= 0 and max_remediation_rounds >= 1")
        object.__setattr__(
            self, "min_scrubber_recall", MappingProxyType(dict(self.min_scrubber_recall))
        )

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """Every key of a profile's ``release`` section."""
        return tuple(f.name for f in fields(cls))

    def to_dict(self) -> JsonObject:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["attacks"] = list(self.attacks)
        out["min_scrubber_recall"] = dict(self.min_scrubber_recall)
        out["dp"] = None if self.dp is None else self.dp.to_dict()
        return out
