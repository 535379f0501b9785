"""The release gate: audit, remediate leaking entries, re-audit, else block.

A compendium that breaks the policy is not blocked at once: the audit's
attribution names the entries that hold PII or sit much closer to some member
record than to any non-member, and those are dropped (or handed to a
``regenerate`` callback, e.g. KCG rewriting them without the records) and the
result is audited again. Only when nothing attributable is left, too much
would have to go, or the rounds run out is the release blocked: fail closed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from fical_secure.audit.artefact import SharedArtefact, from_compendium
from fical_secure.audit.auditor import AuditConfig, AuditResult, AuditTarget, audit_artefact
from fical_secure.audit.signals import CachingEmbedder, Embedder
from fical_secure.errors import GateBlockedError
from fical_secure.jsontypes import JsonObject
from fical_secure.kcg.schema import Compendium, Entry
from fical_secure.llm.base import LLM
from fical_secure.release.decision import Finding, check_release
from fical_secure.release.policy import ReleasePolicy

# (compendium without the leaking entries, the leaking entries) -> compendium to re-audit
Regenerate = Callable[[Compendium, tuple[Entry, ...]], Compendium]
SIGNATURE_PREFIX = "sig:"


@dataclass(frozen=True)
class GateDecision:
    """What the gate decided, with the evidence before and after remediation."""

    passed: bool
    compendium: Compendium  # the release candidate after remediation
    removed_entry_ids: tuple[str, ...]
    regenerated: bool
    before: AuditResult
    after: AuditResult
    findings_before: tuple[Finding, ...]
    findings_after: tuple[Finding, ...]
    reasons: tuple[str, ...]
    rounds: int

    def to_dict(self) -> JsonObject:
        return {
            "passed": self.passed,
            "removed_entry_ids": list(self.removed_entry_ids),
            "regenerated": self.regenerated,
            "rounds": self.rounds,
            "reasons": list(self.reasons),
            "findings_before": [f.to_dict() for f in self.findings_before],
            "findings_after": [f.to_dict() for f in self.findings_after],
            "before": self.before.to_dict(),
            "after": self.after.to_dict(),
        }


def leaking_items(result: AuditResult, policy: ReleasePolicy) -> tuple[str, ...]:
    """Items holding PII, or far closer to some member than to every non-member.

    Closeness is measured twice: by consecutive words shared (verbatim copying)
    and by embedding cosine (paraphrase).
    """
    flagged = [
        a.item_id
        for a in result.attribution
        if a.pii_hits > 0
        or a.run_margin >= policy.entry_run_margin
        or (a.margin >= policy.entry_margin and a.max_member_cos >= policy.entry_min_similarity)
    ]
    return tuple(flagged)


def _remove(compendium: Compendium, item_ids: set[str]) -> tuple[Compendium, tuple[Entry, ...]]:
    dropped = tuple(e for e in compendium.entries if e.entry_id in item_ids)
    kept = tuple(e for e in compendium.entries if e.entry_id not in item_ids)
    sigs = tuple(s for s in compendium.signatures if f"{SIGNATURE_PREFIX}{s.tool}" not in item_ids)
    return replace(compendium, entries=kept, signatures=sigs), dropped


@dataclass
class _Remediation:
    """State of the remediate-and-re-audit loop."""

    audit: Callable[[Compendium], AuditResult]
    policy: ReleasePolicy
    regenerate: Regenerate | None
    n_items: int
    current: Compendium
    result: AuditResult
    findings: tuple[Finding, ...]
    removed: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    rounds: int = 0

    def step(self) -> bool:
        """Remove (or regenerate) the flagged items and re-audit; False when it must stop."""
        pol = self.policy
        flagged = [i for i in leaking_items(self.result, pol) if i not in self.removed]
        if not flagged:
            self.reasons.append(
                "leakage is not attributable to single entries: regenerate the "
                "compendium from fewer or more generic examples"
            )
            return False
        if len(self.removed) + len(flagged) > pol.max_drop_fraction * self.n_items:
            self.reasons.append(
                f"remediation would remove {len(self.removed) + len(flagged)} of {self.n_items} "
                f"items (> {pol.max_drop_fraction:.0%}): the compendium as a whole leaks"
            )
            return False
        self.rounds += 1
        self.current, dropped = _remove(self.current, set(flagged))
        self.removed.extend(flagged)
        self.reasons.append(f"round {self.rounds}: removed {len(flagged)} leaking item(s)")
        if self.regenerate is not None:
            self.current = self.regenerate(self.current, dropped)
        if len(from_compendium(self.current)) == 0:
            self.reasons.append("no entries left after remediation")
            return False
        self.result = self.audit(self.current)
        self.findings = tuple(check_release([self.result], pol))
        return True


def run_gate(
    compendium: Compendium,
    target: AuditTarget,
    *,
    embedder: Embedder,
    llm: LLM | None = None,
    policy: ReleasePolicy | None = None,
    config: AuditConfig | None = None,
    reference: SharedArtefact | None = None,
    regenerate: Regenerate | None = None,
    strict: bool = True,
) -> GateDecision:
    """Audit ``compendium``, remediate leaking entries, and pass or block it.

    Raises:
        GateBlockedError: ``strict`` and the compendium still fails the policy
            after remediation (the message lists why).
        AuditError: the audit itself could not run.
    """
    pol = policy or ReleasePolicy()
    cached = embedder if isinstance(embedder, CachingEmbedder) else CachingEmbedder(embedder)

    def audit(c: Compendium) -> AuditResult:
        return audit_artefact(
            from_compendium(c),
            target,
            embedder=cached,
            llm=llm,
            reference=reference,
            config=config,
        )

    before = audit(compendium)
    findings_before = tuple(check_release([before], pol))
    state = _Remediation(
        audit,
        pol,
        regenerate,
        len(from_compendium(compendium)),
        compendium,
        before,
        findings_before,
    )
    while state.findings and state.rounds < pol.max_remediation_rounds and state.step():
        pass
    passed = not state.findings and len(from_compendium(state.current)) > 0
    if not passed:
        state.reasons.extend(f"{f.message}: {f.remedy}" for f in state.findings)
    decision = GateDecision(
        passed=passed,
        compendium=state.current,
        removed_entry_ids=tuple(state.removed),
        regenerated=regenerate is not None and bool(state.removed),
        before=before,
        after=state.result,
        findings_before=findings_before,
        findings_after=state.findings,
        reasons=tuple(state.reasons),
        rounds=state.rounds,
    )
    if strict and not passed:
        raise GateBlockedError(
            f"compendium of {target.client_id} blocked: " + "; ".join(state.reasons)
        )
    return decision
