"""Client-side privacy stages of a round: the PII scrubber and the membership-inference gate.

Both run on one client's state and fail closed: a client whose compendium
cannot be shown clean releases nothing this round; the stage records why in
the client's report and raises :class:`GateBlockedError`, so no later stage
(and no seal) runs for that client.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from fical_secure.audit.artefact import from_catalogue
from fical_secure.audit.auditor import AuditConfig, AuditTarget
from fical_secure.audit.pii_search import search_pii
from fical_secure.config.profile import load_profile, resolve_profile
from fical_secure.errors import GateBlockedError, SchemaError, ScrubError
from fical_secure.kcg.schema import Entry, validate_entry
from fical_secure.pipeline.client_state import ClientRoundState
from fical_secure.release.gate import run_gate
from fical_secure.scrub.scrubber import Scrubber
from fical_secure.scrub.types import Refusal
from fical_secure.tlu.embedding import default_embedder

log = logging.getLogger(__name__)


@dataclass
class _ScrubOutcome:
    kept: list[Entry]
    found: Counter[str]
    changed: int = 0
    dropped: int = 0


def _scrub_entries(scrubber: Any, entries: tuple[Entry, ...]) -> _ScrubOutcome:
    """Scrub every entry text; an entry the scrubber refuses is dropped and counted.

    The rest of the compendium proceeds (the scrubber fails closed per entry).
    """

    results = scrubber.scrub_records([e.text for e in entries])
    out = _ScrubOutcome(kept=[], found=Counter())
    for entry, result in zip(entries, results, strict=True):
        if isinstance(result, Refusal):
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
    """Presidio scrubber over every entry, with the hospital's known identifiers.

    The known identifiers (every episode's ``pii`` and the roster) are masked
    in any case or spelling, on top of what the analyzer finds.
    """

    name: str = "scrub"

    def run(self, state: ClientRoundState) -> None:
        comp = state.need_release()
        try:
            scrubber = Scrubber.for_client(
                state.catalogue, state.hospital.tools, state.known_identifiers()
            )
            outcome = _scrub_entries(scrubber, comp.entries)
        except ScrubError as exc:  # fail closed: this client releases nothing
            log.warning("client %s blocked by the scrubber: %s", state.client_id, exc)
            _block(state, self.name, type(exc).__name__)
            raise GateBlockedError(
                f"client {state.client_id}: the scrubber failed ({type(exc).__name__}); "
                "nothing was released"
            ) from exc
        if comp.entries and not outcome.kept:  # nothing could be shown clean
            log.warning("client %s: the scrubber refused every entry", state.client_id)
            _block(state, self.name, "every entry refused")
            raise GateBlockedError(
                f"client {state.client_id}: the scrubber refused every entry; nothing was released"
            )
        state.released = comp.with_entries(tuple(outcome.kept))
        state.report[self.name] = {
            "blocked": False,
            "entities_replaced": dict(sorted(outcome.found.items())),
            "entries_changed": outcome.changed,
            "entries_dropped": outcome.dropped,
        }


@dataclass(frozen=True)
class AuditStage:
    """Membership-inference gate: the client audits its own candidate (members vs non-members)."""

    name: str = "audit"

    def run(self, state: ClientRoundState) -> None:
        s = state.settings
        profile = load_profile(resolve_profile(s.profile))  # the one release policy
        state.report["release_profile"] = {
            "name": profile.name,
            "source": profile.source,
            "sha256": profile.sha256,
        }
        config = AuditConfig(
            use_llm=s.audit_use_llm,
            llm_records_per_split=s.audit_llm_records,
            max_canaries=s.audit_canaries,
            seed=s.seed,
        )
        target = AuditTarget.from_hospital(state.hospital, state.manifest)
        try:
            decision = run_gate(
                state.need_release(),
                target,
                embedder=default_embedder(),
                llm=state.need_llm() if s.audit_use_llm else None,
                config=config,
                policy=profile.release,
                reference=from_catalogue(state.catalogue),
            )
        except GateBlockedError as exc:  # fail closed: this client releases nothing
            log.warning("client %s blocked by the audit gate: %s", state.client_id, exc)
            _block(state, self.name, str(exc))
            raise
        state.released = decision.compendium
        state.report[self.name] = {
            "blocked": False,
            "entries_removed": len(decision.removed_entry_ids),
            "remediation_rounds": decision.rounds,
            "findings_before": [f.to_dict() for f in decision.findings_before],
            "before": decision.before.to_dict(),
            "after": decision.after.to_dict(),
        }


def _block(state: ClientRoundState, stage: str, reason: str) -> None:
    state.blocked, state.released = f"{stage}: {reason}", None
    state.report[stage] = {"blocked": True, "reason": reason}


@dataclass(frozen=True)
class ReleaseCheckStage:
    """Measure, against the synthetic ground truth, what PII would leave with the release.

    Every planted value of the federation's manifest (PII and canaries) is
    searched in every released entry: verbatim, normalised and digits-only
    matches count as surviving values; fuzzy matches are reported apart.
    This is a measurement on synthetic data, not a gate.
    """

    name: str = "release_check"

    def run(self, state: ClientRoundState) -> None:
        comp = state.need_release()
        ids = [e.entry_id for e in comp.entries]
        hits = search_pii(list(state.manifest), ids, [e.text for e in comp.entries])
        exact = [h for h in hits if h.match != "fuzzy"]
        state.report["released_pii"] = {
            "surviving_values": len(exact),
            "surviving_canaries": sum(h.kind == "CANARY" for h in exact),
            "fuzzy_matches": len(hits) - len(exact),
            "by_kind": dict(sorted(Counter(h.kind for h in exact).items())),
        }
