"""Client-side privacy stages of a round: the PII scrubber and the membership-inference gate.

Both fail closed per client: a client whose compendium cannot be shown clean
releases nothing this round (recorded in the report), and the round stops
outright when no client is left to release anything.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from fical_secure.errors import GateBlockedError, ResidualPIIError, SchemaError, ScrubError
from fical_secure.federation.state import RoundState
from fical_secure.kcg.schema import Compendium, Entry, validate_entry

log = logging.getLogger(__name__)


@dataclass
class _ScrubOutcome:
    kept: list[Entry]
    found: Counter[str]
    changed: int = 0
    dropped: int = 0


def _scrub_entries(scrubber: Any, entries: tuple[Entry, ...]) -> _ScrubOutcome:
    """Scrub every entry text; entries that still hold PII after scrubbing are dropped.

    Raises:
        ScrubAnalyzerError: the analyzer failed (the caller blocks the whole release).
    """
    texts = [e.text for e in entries]
    try:
        results = scrubber.scrub_batch(texts)
    except ResidualPIIError:
        results = []
        for text in texts:  # find which entries cannot be cleaned; those are not released
            try:
                results.append(scrubber.scrub(text))
            except ResidualPIIError:
                results.append(None)
    out = _ScrubOutcome(kept=[], found=Counter())
    for entry, result in zip(entries, results, strict=True):
        if result is None:
            out.dropped += 1
            continue
        try:  # placeholders can push an entry past the schema's length limit
            clean = validate_entry(entry.tool, entry.kind, result.scrubbed, entry.support)
        except SchemaError:
            out.dropped += 1
            continue
        out.found.update(span.type for span in result.entities)
        out.changed += int(bool(result.entities))
        out.kept.append(clean)
    return out


@dataclass(frozen=True)
class ScrubStage:
    """Presidio scrubber over every entry of every client's compendium."""

    name: str = "scrub"

    def run(self, state: RoundState) -> None:
        from fical_secure.scrub.scrubber import Scrubber

        scrubber = Scrubber.default()
        report: dict[str, Any] = {}
        released: dict[str, Compendium] = {}
        for client_id, comp in state.released.items():
            try:
                outcome = _scrub_entries(scrubber, comp.entries)
            except ScrubError as exc:  # fail closed: this client releases nothing
                log.warning("client %s blocked by the scrubber: %s", client_id, exc)
                report[client_id] = {"blocked": True, "reason": type(exc).__name__}
                continue
            released[client_id] = comp.with_entries(tuple(outcome.kept))
            report[client_id] = {
                "blocked": False,
                "entities_replaced": dict(sorted(outcome.found.items())),
                "entries_changed": outcome.changed,
                "entries_dropped": outcome.dropped,
            }
        state.released = released
        state.report["scrub"] = report
        if not released:
            raise GateBlockedError("the scrubber blocked every client; nothing was released")


@dataclass(frozen=True)
class AuditStage:
    """Membership-inference gate: each client audits its own candidate (members vs non-members)."""

    name: str = "audit"

    def run(self, state: RoundState) -> None:
        from fical_secure.audit.artefact import from_catalogue
        from fical_secure.audit.auditor import AuditConfig, AuditTarget
        from fical_secure.audit.gate import run_gate
        from fical_secure.tlu.embedding import default_embedder

        fed, s = state.need_federation(), state.settings
        config = AuditConfig(
            llm_records_per_split=s.audit_llm_records, max_canaries=s.audit_canaries, seed=s.seed
        )
        hospitals = {h.hospital_id: h for h in fed.hospitals}
        report: dict[str, Any] = {}
        released: dict[str, Compendium] = {}
        for client_id, comp in state.released.items():
            target = AuditTarget.from_hospital(hospitals[client_id], fed.manifest)
            try:
                decision = run_gate(
                    comp, target, embedder=default_embedder(), llm=state.llm, config=config,
                    reference=from_catalogue(fed.catalogue),
                )
            except GateBlockedError as exc:  # fail closed: this client releases nothing
                log.warning("client %s blocked by the audit gate: %s", client_id, exc)
                report[client_id] = {"blocked": True, "reason": str(exc)}
                continue
            released[client_id] = decision.compendium
            report[client_id] = {
                "blocked": False,
                "entries_removed": len(decision.removed_entry_ids),
                "remediation_rounds": decision.rounds,
                "before": decision.before.to_dict(),
                "after": decision.after.to_dict(),
            }
        state.released = released
        state.report["audit"] = report
        if not released:
            raise GateBlockedError("the audit gate blocked every client; nothing was released")


@dataclass(frozen=True)
class ReleaseCheckStage:
    """Measure, against the synthetic ground truth, what PII would leave with the release.

    Every planted value of the federation's manifest (PII and canaries) is
    searched in every released entry: verbatim, normalised and digits-only
    matches count as surviving values; fuzzy matches are reported apart.
    This is a measurement on synthetic data, not a gate.
    """

    name: str = "release_check"

    def run(self, state: RoundState) -> None:
        from fical_secure.audit.pii_search import search_pii

        manifest = state.need_federation().manifest
        report: dict[str, Any] = {}
        for client_id, comp in state.released.items():
            ids = [e.entry_id for e in comp.entries]
            hits = search_pii(manifest, ids, [e.text for e in comp.entries])
            exact = [h for h in hits if h.match != "fuzzy"]
            report[client_id] = {
                "surviving_values": len(exact),
                "surviving_canaries": sum(h.kind == "CANARY" for h in exact),
                "fuzzy_matches": len(hits) - len(exact),
                "by_kind": dict(sorted(Counter(h.kind for h in exact).items())),
            }
        state.report["released_pii"] = report
