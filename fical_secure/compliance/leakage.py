"""Leakage checks of a candidate release: membership inference, canary exposure, planted PII.

For each client whose records built the candidate, the auditor of
:mod:`fical_secure.audit` plays the record-membership game (members against
held-out non-members of the same client) with every attack it has, measures
the exposure of the members' canaries and searches the release for the
members' planted values. The verdicts are the release policy's
(:mod:`fical_secure.release.decision`, the same code path as the round's
gate): a membership figure fails when it is over its limit and its
permutation test rejects "no leak" at the policy's false-block rate. Evidence
keeps figures, ids and masked excerpts, never a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from fical_secure.audit.auditor import AuditTarget, audit_artefact
from fical_secure.audit.planted import PLANTED_SUFFIX, planted_exposure
from fical_secure.compliance.checks import CheckResult
from fical_secure.data.catalogue import CATALOGUE
from fical_secure.jsontypes import JsonObject
from fical_secure.release import decision as rd
from fical_secure.release.policy import ReleasePolicy

if TYPE_CHECKING:
    from fical_secure.audit.artefact import SharedArtefact
    from fical_secure.audit.auditor import AuditConfig, AuditResult
    from fical_secure.audit.signals import Embedder
    from fical_secure.data.schema import HospitalData, PIIValue, ToolSpec
    from fical_secure.llm.base import LLM

_MI_THREATS = ("honest-but-curious-server", "research-consumer", "malicious-server")


@dataclass(frozen=True)
class LeakageRun:
    """The auditor's results, one per client game, and the checks derived from them."""

    results: tuple[AuditResult, ...]
    checks: tuple[CheckResult, ...]


def run_leakage(
    artefact: SharedArtefact,
    hospitals: Sequence[HospitalData],
    manifest: Sequence[PIIValue],
    policy: ReleasePolicy,
    *,
    embedder: Embedder,
    llm: LLM | None,
    config: AuditConfig,
    planted_canaries: int = 0,
    catalogue: Sequence[ToolSpec] = CATALOGUE,
) -> LeakageRun:
    """Audit ``artefact`` in the game of every hospital in ``hospitals``; derive the checks.

    With ``planted_canaries`` (and an LLM), the KCG a round runs also runs on
    a copy of each client's members carrying that many fresh canaries, over
    ``catalogue`` (:mod:`fical_secure.audit.planted`); those exposures join
    the ones of canaries already in the data.

    Raises:
        AuditError: the auditor could not run (empty artefact or side, failing model).
    """

    results = []
    for h in hospitals:
        result = audit_artefact(
            artefact,
            AuditTarget.from_hospital(h, manifest),
            embedder=embedder,
            llm=llm,
            config=config,
        )
        if planted_canaries and llm is not None and config.use_llm:
            planted = planted_exposure(
                h.members,
                catalogue,
                llm,
                embedder,
                client_id=h.hospital_id,
                n_canaries=planted_canaries,
                n_candidates=config.canary_candidates,
                n_controls=config.canary_controls,
                context_items=config.context_items,
                max_context_chars=config.max_context_chars,
                seed=config.seed,
            )
            result = replace(result, canaries=result.canaries + planted.exposures)
        results.append(result)
    membership = rd.membership_decision(results, policy)
    checks = (
        check_mi_auc(results, membership, policy),
        check_tpr(results, membership, policy),
        check_canaries(results, policy, llm_used=llm is not None and config.use_llm),
        check_pii_hits(results, policy),
    )
    return LeakageRun(tuple(results), checks)


def _rows(results: Sequence[AuditResult], membership: rd.MembershipDecision) -> list[JsonObject]:
    """One row per (client, attack): test figures, p-values, and the bootstrap CI of the AUC."""
    metrics = {(r.client_id, name): a.metrics for r in results for name, a in r.attacks.items()}
    rows = []
    for ct in membership.tests:
        m = metrics[(ct.client, ct.test.attack)]
        rows.append(
            ct.to_dict()
            | {
                "auc_ci": [round(m.auc_ci.low, 4), round(m.auc_ci.high, 4)],
                "auc_significant": ct.test.auc_p <= membership.level,
                "tpr_significant": ct.test.low_fpr_p <= membership.level,
            }
        )
    return rows


def _test_note(membership: rd.MembershipDecision) -> str:
    return (
        f"a figure over its limit fails only when its one-sided permutation p-value is <= "
        f"{membership.level:.4f} (false-block rate {membership.false_block_rate} over "
        f"{2 * len(membership.tests)} tests, Bonferroni); under no leak a release is "
        f"blocked on membership with probability <= {membership.false_block_rate}"
    )


def _remedy(ok: bool) -> str:
    return "" if ok else rd.REMEDY_MEMBERSHIP


def check_mi_auc(
    results: Sequence[AuditResult], membership: rd.MembershipDecision, policy: ReleasePolicy
) -> CheckResult:
    """No attack's AUC is significantly above chance and over the maximum."""
    failing = [f for f in membership.findings if f.code == "membership_auc"]
    worst = membership.worst("auc")
    ok = worst is not None and not failing
    if worst is None:
        summary = "no attack ran"
    else:
        t = worst.test
        verdict = (
            "significant: fails"
            if failing
            else "within the limit"
            if t.auc <= policy.max_mi_auc
            else "over the limit but not significant: passes"
        )
        summary = (
            f"strongest attack {t.attack} on {worst.client}: AUC {t.auc:.3f} "
            f"(permutation p = {t.auc_p:.4f}, level {membership.level:.4f}; "
            f"limit {policy.max_mi_auc}): {verdict}"
        )
        if failing:
            summary += f"; {len(failing)} attack(s) fail"
    return CheckResult(
        "leakage.membership_auc",
        "Membership inference AUC (record-membership game)",
        ok,
        summary,
        {
            "attacks": _rows(results, membership),
            "max_mi_auc": policy.max_mi_auc,
            "level": membership.level,
            "false_block_rate": membership.false_block_rate,
            "failing": [f.to_dict() for f in failing],
            "note": _test_note(membership),
        },
        _MI_THREATS,
        remedy=_remedy(ok) if worst is not None else "the audit ran no attack: check its inputs",
    )


def check_tpr(
    results: Sequence[AuditResult], membership: rd.MembershipDecision, policy: ReleasePolicy
) -> CheckResult:
    """No attack's TPR at the lowest resolved FPR is significant and over the maximum."""
    failing = [f for f in membership.findings if f.code == "tpr_at_low_fpr"]
    worst = membership.worst("tpr")
    ok = worst is not None and not failing
    if worst is None:
        summary = "no attack ran"
    else:
        t = worst.test
        summary = (
            f"highest {t.low_fpr.label} {t.low_fpr.tpr:.3f} ({t.attack} on {worst.client}; "
            f"permutation p = {t.low_fpr_p:.4f}, level {membership.level:.4f}; limit "
            f"{policy.max_tpr_at_low_fpr})"
            + (f"; {len(failing)} attack(s) fail" if failing else "")
        )
    return CheckResult(
        "leakage.tpr_at_low_fpr",
        "True-positive rate at the lowest resolved false-positive rate",
        ok,
        summary,
        {
            "max_tpr_at_low_fpr": policy.max_tpr_at_low_fpr,
            "target_fpr": policy.target_fpr,
            "level": membership.level,
            "worst": None if worst is None else worst.to_dict(),
            "failing": [f.to_dict() for f in failing],
            "note": _test_note(membership),
        },
        _MI_THREATS,
        remedy=_remedy(ok) if worst is not None else "the audit ran no attack: check its inputs",
    )


def check_canaries(
    results: Sequence[AuditResult], t: ReleasePolicy, *, llm_used: bool
) -> CheckResult:
    """Every measured canary's exposure is at most the maximum; none measured fails closed."""
    rows = [
        c.to_dict()
        | {"client": r.client_id, "planted_by_audit": c.episode_id.endswith(PLANTED_SUFFIX)}
        for r in results
        for c in r.canaries
    ]
    worst = max((c.exposure_bits for r in results for c in r.canaries), default=None)
    failing = rd.canary_findings(results, t)
    ok = worst is not None and not failing
    if worst is None:
        summary = "no canary measured: " + (
            "no member with a canary in the audited subset"
            if llm_used
            else "the LLM audit was disabled"
        )
    else:
        planted = sum(c.episode_id.endswith(PLANTED_SUFFIX) for r in results for c in r.canaries)
        summary = (
            f"highest exposure {worst:.2f} bits over {len(rows)} canaries "
            f"({planted} planted by the audit in a copy of the data and run through KCG; "
            f"max {t.max_canary_exposure_bits})"
        )
    return CheckResult(
        "leakage.canary_exposure",
        "Canary exposure (Secret Sharer)",
        ok,
        summary,
        {"canaries": rows, "max_canary_exposure_bits": t.max_canary_exposure_bits},
        ("research-consumer", "honest-but-curious-server"),
        remedy=""
        if ok
        else rd.REMEDY_CANARY
        if failing
        else "measure a canary: audit more records (--records) or enable the LLM audit",
    )


def check_pii_hits(results: Sequence[AuditResult], t: ReleasePolicy) -> CheckResult:
    """Planted member PII found in the release is at most the maximum (0 in every profile)."""
    hits = [h.to_dict() | {"client": r.client_id} for r in results for h in r.pii_hits]
    by_kind: dict[str, int] = {}
    for kind in (h.kind for r in results for h in r.pii_hits):
        by_kind[kind] = by_kind.get(kind, 0) + 1
    control = sum(r.control_pii_hits for r in results)
    failing = rd.pii_findings(results, t)
    ok = not failing
    summary = (
        f"{len(hits)} planted value(s) found in the release"
        + (f" ({', '.join(f'{k} {n}' for k, n in sorted(by_kind.items()))})" if hits else "")
        + f"; control (non-member values): {control}"
        + (f"; first: {failing[0].message}" if failing else "")
    )
    return CheckResult(
        "leakage.pii_hits",
        "Planted PII and canaries absent from the release",
        ok,
        summary,
        {
            "hits": hits[:200],
            "n_hits": len(hits),
            "by_kind": by_kind,
            "control_hits": control,
            "max_verbatim_pii_hits": t.max_verbatim_pii_hits,
        },
        ("research-consumer", "honest-but-curious-server", "malicious-server"),
        remedy="" if ok else rd.REMEDY_PII,
    )
