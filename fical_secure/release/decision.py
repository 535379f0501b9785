"""Apply the release policy to audit results: findings, each with what to do about it.

One code path for the round's gate and for ``fical-secure audit``. Membership
figures are decided by :mod:`.significance` tests at a Bonferroni-corrected
level (``false_block_rate`` over every attack, figure and client tested), so
the chance of blocking an artefact that leaks nothing is at most
``false_block_rate``; canary exposure and planted PII are compared with their
maxima directly (they are not estimates over a sample of records).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

from fical_secure.jsontypes import JsonObject
from fical_secure.release.policy import ReleasePolicy
from fical_secure.release.significance import MembershipTest, permutation_test

if TYPE_CHECKING:
    from fical_secure.audit.auditor import AuditResult

FindingCode = Literal["membership_auc", "tpr_at_low_fpr", "canary_exposure", "pii"]

REMEDY_MEMBERSHIP = (
    "remove or rewrite the entries the attribution names (nearest to a member record), "
    "or regenerate the compendium from more generic examples, then audit again"
)
REMEDY_CANARY = (
    "the compendium lets a model complete a secret of a member record: drop the entries "
    "nearest that record and regenerate them without its unique identifiers"
)
REMEDY_PII = (
    "remove the named item, or add a recognizer for this kind to the scrubber "
    "(fical_secure/scrub/recognizers.yaml) and scrub again"
)


@dataclass(frozen=True)
class Finding:
    """One policy violation: the measured figure, the limit it broke, and the next step."""

    code: FindingCode
    client: str
    subject: str  # attack name, canary episode id, or item id
    measured: float
    limit: float
    message: str
    remedy: str

    def to_dict(self) -> JsonObject:
        return asdict(self)


@dataclass(frozen=True)
class ClientTest:
    """One attack's membership test in one client's game."""

    client: str
    test: MembershipTest

    def to_dict(self) -> JsonObject:
        return {"client": self.client, **self.test.to_dict()}


@dataclass(frozen=True)
class MembershipDecision:
    """Every membership test of a family of audits, the level each is held to, the findings."""

    tests: tuple[ClientTest, ...]
    level: float  # per-test level: false_block_rate / number of tests
    false_block_rate: float
    findings: tuple[Finding, ...]

    def worst(self, figure: Literal["auc", "tpr"]) -> ClientTest | None:
        """The test with the highest point figure (the strongest attack), if any ran."""
        if not self.tests:
            return None
        if figure == "auc":
            return max(self.tests, key=lambda t: (t.test.auc, -t.test.auc_p))
        return max(self.tests, key=lambda t: (t.test.low_fpr.tpr, -t.test.low_fpr_p))


def membership_decision(
    results: Sequence[AuditResult], policy: ReleasePolicy
) -> MembershipDecision:
    """Test every counted attack of every result; a figure blocks when significant and too high."""
    tests: list[ClientTest] = []
    for result in results:
        for index, (name, res) in enumerate(sorted(result.attacks.items())):
            if policy.attacks and name not in policy.attacks:
                continue
            test = permutation_test(
                name,
                res.member_scores,
                res.nonmember_scores,
                target_fpr=policy.target_fpr,
                permutations=policy.permutations,
                seed=result.config.seed * 1009 + index,
            )
            tests.append(ClientTest(result.client_id, test))
    level = policy.false_block_rate / max(1, 2 * len(tests))
    findings: list[Finding] = []
    for ct in tests:
        t = ct.test
        if t.auc > policy.max_mi_auc and t.auc_p <= level:
            findings.append(
                Finding(
                    "membership_auc",
                    ct.client,
                    t.attack,
                    t.auc,
                    policy.max_mi_auc,
                    f"{t.attack} on {ct.client}: membership AUC {t.auc:.3f} > "
                    f"{policy.max_mi_auc} (permutation p = {t.auc_p:.4f} <= {level:.4f})",
                    REMEDY_MEMBERSHIP,
                )
            )
        point = t.low_fpr
        if point.tpr > policy.max_tpr_at_low_fpr and t.low_fpr_p <= level:
            findings.append(
                Finding(
                    "tpr_at_low_fpr",
                    ct.client,
                    t.attack,
                    point.tpr,
                    policy.max_tpr_at_low_fpr,
                    f"{t.attack} on {ct.client}: {point.label} {point.tpr:.3f} > "
                    f"{policy.max_tpr_at_low_fpr} (permutation p = {t.low_fpr_p:.4f} "
                    f"<= {level:.4f})",
                    REMEDY_MEMBERSHIP,
                )
            )
    return MembershipDecision(tuple(tests), level, policy.false_block_rate, tuple(findings))


def canary_findings(results: Sequence[AuditResult], policy: ReleasePolicy) -> list[Finding]:
    """Canaries whose exposure is above the maximum."""
    return [
        Finding(
            "canary_exposure",
            r.client_id,
            c.episode_id,
            c.exposure_bits,
            policy.max_canary_exposure_bits,
            f"canary of {c.episode_id} on {r.client_id}: exposure {c.exposure_bits:.1f} bits > "
            f"{policy.max_canary_exposure_bits}",
            REMEDY_CANARY,
        )
        for r in results
        for c in r.canaries
        if c.exposure_bits > policy.max_canary_exposure_bits
    ]


def pii_findings(results: Sequence[AuditResult], policy: ReleasePolicy) -> list[Finding]:
    """Every planted value found, when more are found than the policy allows."""
    hits = [(r.client_id, h) for r in results for h in r.pii_hits]
    if len(hits) <= policy.max_verbatim_pii_hits:
        return []
    return [
        Finding(
            "pii",
            client,
            hit.item_id,
            1.0,
            float(policy.max_verbatim_pii_hits),
            f"{hit.kind} of {hit.episode_id} found ({hit.match}) in item {hit.item_id}"
            + (f": {hit.excerpt}" if hit.excerpt else ""),
            REMEDY_PII,
        )
        for client, hit in hits
    ]


def check_release(results: Sequence[AuditResult], policy: ReleasePolicy) -> list[Finding]:
    """Every way the audited artefact breaks ``policy`` (empty: it may be released)."""
    return [
        *membership_decision(results, policy).findings,
        *canary_findings(results, policy),
        *pii_findings(results, policy),
    ]
