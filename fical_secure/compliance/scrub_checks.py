"""Scrubber checks: required recognizers present, per-kind recall on held-out PII, clean candidate.

Recall is measured as in the old ``scrub_recall`` benchmark: a planted
(document, value) pair is caught when the value no longer occurs (any case)
in the scrubbed text. The corpus comes from the synthetic generator with a
seed the audit's own data never uses, so the figure is not measured on the
records under audit. Documents the scrubber refuses (fails closed) release
nothing; they are counted apart and left out of recall, so refusing cannot
inflate it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fical_secure.compliance.checks import CheckResult
from fical_secure.data.generator import generate_federation
from fical_secure.errors import ScrubError
from fical_secure.jsontypes import JsonObject

if TYPE_CHECKING:
    from fical_secure.scrub.scrubber import Scrubber
    from fical_secure.scrub.types import Span

_PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*>")  # the scrubber's typed placeholders
HELD_OUT_SEED = 7_150_001  # never the audit's data seed: see recall_corpus()
_SCRUB_THREATS = ("honest-but-curious-server", "research-consumer", "malicious-server")
MAX_FLAGGED = 20  # items named in a failing check's evidence


def _masked(text: str, spans: Sequence[Span]) -> str:
    """``text`` with each span replaced by its typed placeholder (``<ORGANIZATION>``)."""
    out, at = [], 0
    for span in sorted(spans, key=lambda s: s.start):
        if span.start < at:
            continue
        out += [text[at : span.start], f"<{span.type}>"]
        at = span.end
    return "".join(out) + text[at:]


@dataclass(frozen=True)
class Doc:
    """One held-out document and its planted (kind, value) pairs."""

    doc_id: str
    text: str
    planted: tuple[tuple[str, str], ...]


def recall_corpus(n_docs: int, *, data_seed: int) -> list[Doc]:
    """``n_docs`` synthetic episodes of a held-out seed (distinct from ``data_seed``)."""

    seed = HELD_OUT_SEED if data_seed != HELD_OUT_SEED else HELD_OUT_SEED + 1
    per_split = max(2, -(-n_docs // 4))
    federation = generate_federation(
        2,
        seed=seed,
        episodes_per_hospital=per_split,
        nonmembers_per_hospital=per_split,
        eval_per_tool=0,
        canaries_per_hospital=min(2, per_split),
    )
    episodes = [e for h in federation.hospitals for e in h.members + h.nonmembers]
    # members carry the canaries: interleave so a small corpus still holds some
    episodes.sort(key=lambda e: (e.split != "member", e.episode_id))
    return [
        Doc(e.episode_id, e.text(), tuple(sorted({(p.kind, p.value) for p in e.pii})))
        for e in episodes[:n_docs]
    ]


def measure_recall(
    scrubber: Scrubber, docs: Sequence[Doc]
) -> tuple[dict[str, dict[str, float]], int]:
    """Per kind ``{planted, caught, recall}``, and how many documents the scrubber refused."""
    planted, caught = Counter[str](), Counter[str]()
    outputs, refused = _scrub_all(scrubber, [d.text for d in docs])
    for doc, out in zip(docs, outputs, strict=True):
        if out is None:
            continue
        scrubbed = out.lower()
        for kind, value in doc.planted:
            planted[kind] += 1
            caught[kind] += value.lower() not in scrubbed
    table = {
        kind: {
            "planted": planted[kind],
            "caught": caught[kind],
            "recall": round(caught[kind] / planted[kind], 4),
        }
        for kind in sorted(planted)
    }
    return table, refused


def _scrub_all(
    scrubber: Scrubber, texts: Sequence[str], batch: int = 32
) -> tuple[list[str | None], int]:
    """Scrubbed texts (``None`` where refused); a batch that fails closed is redone one by one."""
    out: list[str | None] = []
    for i in range(0, len(texts), batch):
        chunk = texts[i : i + batch]
        try:
            out.extend(r.scrubbed for r in scrubber.scrub_batch(chunk))
        except ScrubError:
            for text in chunk:
                try:
                    out.append(scrubber.scrub(text).scrubbed)
                except ScrubError:
                    out.append(None)
    return out, sum(o is None for o in out)


def check_recall(
    table: Mapping[str, Mapping[str, float]],
    refused: int,
    n_docs: int,
    minimums: Mapping[str, float],
) -> CheckResult:
    """Each kind the profile names reaches its minimum recall; an unmeasured kind fails."""
    rows: list[JsonObject] = []
    problems: list[str] = []
    for kind, minimum in sorted(minimums.items()):
        row = table.get(kind)
        recall = None if row is None else float(row["recall"])
        ok = recall is not None and recall >= minimum
        rows.append(
            {
                "kind": kind,
                "minimum": minimum,
                "recall": recall,
                "planted": None if row is None else int(row["planted"]),
                "passed": ok,
            }
        )
        if recall is None:
            problems.append(f"{kind}: not measured (no planted values in the held-out corpus)")
        elif not ok:
            problems.append(f"{kind}: recall {recall:.3f} < {minimum}")
    return CheckResult(
        "scrubber.recall",
        "Scrubber recall per PII kind on held-out synthetic records",
        not problems,
        "; ".join(problems) or f"every kind at or above its minimum ({n_docs} documents)",
        {
            "per_kind": rows,
            "documents": n_docs,
            "refused_fail_closed": refused,
            "held_out_seed": HELD_OUT_SEED,
        },
        _SCRUB_THREATS,
        remedy=""
        if not problems
        else "add or widen the recognizers of the kinds below their minimum "
        "(fical_secure/scrub/recognizers.yaml), then audit again",
    )


def check_required_entities(scrubber: Scrubber, required: Sequence[str]) -> CheckResult:
    """The scrubber's analyzer supports every entity type the profile requires."""
    supported = set(scrubber.analyzer.get_supported_entities(scrubber.profile.language))
    missing = [e for e in required if e not in supported]
    return CheckResult(
        "scrubber.required_entities",
        "Scrubber has a recognizer for every required entity type",
        not missing,
        f"missing recognizers for {', '.join(missing)}"
        if missing
        else f"all {len(required)} required entity types supported",
        {"required": list(required), "missing": missing, "supported": sorted(supported)},
        _SCRUB_THREATS,
        remedy=""
        if not missing
        else "enable a recognizer for each missing type in the scrubber profile "
        "(fical_secure/scrub/recognizers.yaml)",
    )


def check_candidate_clean(
    scrubber: Scrubber,
    texts: Sequence[str],
    maximum: int,
    *,
    item_ids: Sequence[str] | None = None,
) -> CheckResult:
    """The scrubber finds at most ``maximum`` PII spans in the candidate's released texts.

    Spans are counted per type; each item with a finding is named (its id, or
    its index) with the kinds found and its text with every finding masked
    by its typed placeholder, so the evidence says where without repeating
    the value. A scrubber failure counts as a failed check (fail closed).
    """
    ids = list(item_ids) if item_ids is not None else [str(i) for i in range(len(texts))]
    try:
        spans = scrubber.analyze(list(texts))
    except ScrubError as exc:
        return CheckResult(
            "scrubber.candidate_clean",
            "Scrubber finds no PII in the candidate",
            False,
            f"scrubber failed: {exc}",
            {"error": type(exc).__name__},
            _SCRUB_THREATS,
            remedy="fix the scrubber's error (see the summary) and audit again: nothing may "
            "be released while it fails",
        )
    counts: Counter[str] = Counter()
    flagged: list[tuple[str, list[str], str]] = []  # item, kinds, masked text
    for item, text, found in zip(ids, texts, spans, strict=True):
        real = [s for s in found if not _PLACEHOLDER.fullmatch(text[s.start : s.end].strip())]
        counts.update(s.type for s in real)
        if real:
            flagged.append((item, sorted({s.type for s in real}), _masked(text, real)))
    total = sum(counts.values())
    where = "; ".join(f"item {item} ({', '.join(kinds)})" for item, kinds, _ in flagged[:3])
    more = f" and {len(flagged) - 3} more" if len(flagged) > 3 else ""
    return CheckResult(
        "scrubber.candidate_clean",
        "Scrubber finds no PII in the candidate",
        total <= maximum,
        f"{total} PII span(s) in {len(flagged)} of {len(texts)} released items (max {maximum})"
        + (f": {where}{more}" if flagged else ""),
        {
            "spans_by_type": dict(sorted(counts.items())),
            "items": len(texts),
            "items_with_pii": len(flagged),
            "flagged_items": [
                {"item": item, "kinds": kinds, "masked": masked}
                for item, kinds, masked in flagged[:MAX_FLAGGED]
            ],
            "maximum": maximum,
        },
        _SCRUB_THREATS,
        remedy=""
        if total <= maximum
        else "run `fical-secure scrub` over the compendium (or let the round's scrub stage "
        "do it) and drop the entries it cannot clean",
    )
