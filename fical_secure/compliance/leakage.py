"""Leakage checks of a candidate release: membership inference, canary exposure, planted PII.

For each client whose records built the candidate, the auditor of
:mod:`fical_secure.audit` plays the record-membership game (members against
held-out non-members of the same client) with every attack it has, measures
the exposure of the members' canaries and searches the release for the
members' planted values. The verdicts compare the *worst* figure over attacks
and clients with the profile's thresholds: a release passes only if no attack
the auditor knows beats them. Evidence keeps figures and ids, never a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fical_secure.compliance.checks import CheckResult
from fical_secure.compliance.profile import Thresholds

if TYPE_CHECKING:
    from fical_secure.audit.artefact import SharedArtefact
    from fical_secure.audit.auditor import AuditConfig, AuditResult
    from fical_secure.audit.signals import Embedder
    from fical_secure.data.schema import HospitalData, PIIValue
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
    thresholds: Thresholds,
    *,
    embedder: Embedder,
    llm: LLM | None,
    config: AuditConfig,
) -> LeakageRun:
    """Audit ``artefact`` in the game of every hospital in ``hospitals``; derive the checks.

    Raises:
        AuditError: the auditor could not run (empty artefact or side, failing model).
    """
    from fical_secure.audit.auditor import AuditTarget, audit_artefact

    results = tuple(
        audit_artefact(
            artefact,
            AuditTarget.from_hospital(h, manifest),
            embedder=embedder,
            llm=llm,
            config=config,
        )
        for h in hospitals
    )
    checks = (
        check_mi_auc(results, thresholds),
        check_tpr(results, thresholds),
        check_canaries(results, thresholds, llm_used=llm is not None and config.use_llm),
        check_pii_hits(results, thresholds),
    )
    return LeakageRun(results, checks)


def _attack_rows(results: Sequence[AuditResult]) -> list[dict[str, Any]]:
    rows = []
    for result in results:
        for name, attack in sorted(result.attacks.items()):
            m = attack.metrics
            rows.append(
                {
                    "client": result.client_id,
                    "attack": name,
                    "n_members": m.n_members,
                    "n_nonmembers": m.n_nonmembers,
                    "auc": round(m.auc, 4),
                    "auc_ci": [round(m.auc_ci.low, 4), round(m.auc_ci.high, 4)],
                    "tpr_at_1pct_fpr": round(m.tpr_at_1pct.value, 4),
                    "tpr_at_1pct_fpr_ci": [
                        round(m.tpr_at_1pct_ci.low, 4),
                        round(m.tpr_at_1pct_ci.high, 4),
                    ],
                    "tpr_at_1pct_fpr_resolved": m.tpr_at_1pct.resolved,
                    "tpr_at_1pct_fpr_bounds": [
                        round(m.tpr_at_1pct.lower, 4),
                        round(m.tpr_at_1pct.upper, 4),
                    ],
                }
            )
    return rows


_STAT_INDEX = {"ci_lower": 0, "ci_upper": 1}


def _gated(row: dict[str, Any], figure: str, statistic: str) -> float:
    """The figure the profile gates on: the point estimate or one end of its bootstrap CI."""
    if statistic == "point":
        return float(row[figure])
    return float(row[f"{figure}_ci"][_STAT_INDEX[statistic]])


def _mi_check(
    results: Sequence[AuditResult], t: Thresholds, figure: str, maximum: float
) -> tuple[bool, dict[str, Any] | None, list[dict[str, Any]]]:
    rows = _attack_rows(results)
    worst = max(rows, key=lambda r: _gated(r, figure, t.mi_statistic)) if rows else None
    ok = worst is not None and _gated(worst, figure, t.mi_statistic) <= maximum
    return ok, worst, rows


def check_mi_auc(results: Sequence[AuditResult], t: Thresholds) -> CheckResult:
    """The strongest attack's AUC (the profile's statistic of it) is at most the maximum."""
    ok, worst, rows = _mi_check(results, t, "auc", t.max_mi_auc)
    summary = (
        "no attack ran"
        if worst is None
        else f"strongest attack {worst['attack']} on {worst['client']}: AUC "
        f"{worst['auc']:.3f} (95% CI {worst['auc_ci'][0]:.3f}-{worst['auc_ci'][1]:.3f}),"
        f" gated on {t.mi_statistic} <= {t.max_mi_auc}"
    )
    return CheckResult(
        "leakage.membership_auc",
        "Membership inference AUC (record-membership game)",
        ok,
        summary,
        {
            "attacks": rows,
            "max_mi_auc": t.max_mi_auc,
            "statistic": t.mi_statistic,
            "note": "the maximum over several attacks is biased upward under the null; "
            "small subsets give wide CIs",
        },
        _MI_THREATS,
    )


def check_tpr(results: Sequence[AuditResult], t: Thresholds) -> CheckResult:
    """The strongest attack's TPR at 1% FPR (the profile's statistic of it) is at most the max."""
    ok, worst, rows = _mi_check(results, t, "tpr_at_1pct_fpr", t.max_tpr_at_1pct_fpr)
    resolved = all(r["tpr_at_1pct_fpr_resolved"] for r in rows)
    summary = (
        "no attack ran"
        if worst is None
        else f"highest TPR@1%FPR {worst['tpr_at_1pct_fpr']:.3f} (95% CI "
        f"{worst['tpr_at_1pct_fpr_ci'][0]:.3f}-{worst['tpr_at_1pct_fpr_ci'][1]:.3f}; "
        f"{worst['attack']} on {worst['client']}), gated on {t.mi_statistic} "
        f"<= {t.max_tpr_at_1pct_fpr}"
        + ("" if resolved else "; interpolated: fewer than 100 non-members")
    )
    return CheckResult(
        "leakage.tpr_at_1pct_fpr",
        "True-positive rate at 1% false-positive rate",
        ok,
        summary,
        {
            "max_tpr_at_1pct_fpr": t.max_tpr_at_1pct_fpr,
            "statistic": t.mi_statistic,
            "resolved": resolved,
            "worst": worst,
        },
        _MI_THREATS,
    )


def check_canaries(results: Sequence[AuditResult], t: Thresholds, *, llm_used: bool) -> CheckResult:
    """Every measured canary's exposure is at most the maximum; none measured fails closed."""
    rows = [c.to_dict() | {"client": r.client_id} for r in results for c in r.canaries]
    worst = max((c["exposure_bits"] for c in rows), default=None)
    ok = worst is not None and worst <= t.max_canary_exposure_bits
    if worst is None:
        summary = "no canary measured: " + (
            "no member with a canary in the audited subset"
            if llm_used
            else "the LLM audit was disabled"
        )
    else:
        summary = (
            f"highest exposure {worst:.2f} bits over {len(rows)} canaries "
            f"(max {t.max_canary_exposure_bits})"
        )
    return CheckResult(
        "leakage.canary_exposure",
        "Canary exposure (Secret Sharer)",
        ok,
        summary,
        {"canaries": rows, "max_canary_exposure_bits": t.max_canary_exposure_bits},
        ("research-consumer", "honest-but-curious-server"),
    )


def check_pii_hits(results: Sequence[AuditResult], t: Thresholds) -> CheckResult:
    """Planted member PII found in the release is at most the maximum (0 in every profile)."""
    hits = [h.to_dict() | {"client": r.client_id} for r in results for h in r.pii_hits]
    by_kind: dict[str, int] = {}
    for hit in hits:
        by_kind[hit["kind"]] = by_kind.get(hit["kind"], 0) + 1
    control = sum(r.control_pii_hits for r in results)
    ok = len(hits) <= t.max_verbatim_pii_hits
    summary = (
        f"{len(hits)} planted value(s) found in the release"
        + (f" ({', '.join(f'{k} {n}' for k, n in sorted(by_kind.items()))})" if hits else "")
        + f"; control (non-member values): {control}"
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
    )
