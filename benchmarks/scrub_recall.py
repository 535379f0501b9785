"""Recall, precision and F2 of the PII scrubber per planted PII type, and its throughput.

The corpus comes from the data generator with a seed held out from tuning
(20261122; development used seeds 0-9): every episode's ``text()`` and every
held-out evaluation request, with the generator's PII manifest as ground truth.

* recall of a type: planted (document, value) pairs whose value no longer
  appears (any case) in the scrubbed text, over all planted pairs;
* precision of a type: spans the scrubber labelled with that type that overlap
  a planted value of that type, over all spans of that type;
* F2 weighs recall 4x precision (a missed identifier costs more than a mask).

Documents the scrubber refuses (fails closed) release nothing; they are counted
apart and left out of recall and precision, so refusing cannot inflate recall.
Usage: ``python benchmarks/scrub_recall.py [--seed N] [--no-write]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from fical_secure.data.generator import generate_federation
from fical_secure.data.schema import PII_KINDS, Federation, PIIValue
from fical_secure.errors import ScrubError
from fical_secure.scrub.scrubber import Scrubber
from fical_secure.scrub.types import ScrubResult, Span

HELD_OUT_SEED = 20261122
RECALL_TARGET = 0.95
RESULT = Path(__file__).with_name("results") / "scrub_recall.json"
# Scrubber span types that count as a detection of a planted kind (for precision).
SPAN_TYPES = {kind: {kind} for kind in PII_KINDS} | {"PHONE_NUMBER": {"PHONE_NUMBER", "FAX_NUMBER"}}


@dataclass(frozen=True)
class Doc:
    """One benchmark document and its planted values."""

    doc_id: str
    text: str
    pii: tuple[PIIValue, ...]


def corpus(federation: Federation) -> list[Doc]:
    """Every episode's text and every evaluation request, with their planted values."""
    docs = [
        Doc(e.episode_id, e.text(), e.pii)
        for h in federation.hospitals
        for e in h.members + h.nonmembers
    ]
    by_owner: dict[str, list[PIIValue]] = {}
    for value in federation.manifest:
        by_owner.setdefault(value.episode_id, []).append(value)
    docs += [
        Doc(r.request_id, r.request, tuple(by_owner.get(r.request_id, ())))
        for r in federation.eval_requests
    ]
    return docs


def scrub_all(
    scrubber: Scrubber, docs: list[Doc], batch: int
) -> tuple[dict[str, ScrubResult], list[str], float]:
    """Scrub in batches; a batch that fails closed is redone one document at a time."""
    results: dict[str, ScrubResult] = {}
    refused: list[str] = []
    start = time.perf_counter()
    for i in range(0, len(docs), batch):
        chunk = docs[i : i + batch]
        try:
            outs = scrubber.scrub_batch([d.text for d in chunk])
            results.update({d.doc_id: out for d, out in zip(chunk, outs, strict=True)})
        except ScrubError:
            for d in chunk:
                try:
                    results[d.doc_id] = scrubber.scrub(d.text)
                except ScrubError:
                    refused.append(d.doc_id)
    return results, refused, time.perf_counter() - start


def _occurrences(text: str, value: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(re.escape(value), text)]


def _overlaps(span: Span, ranges: list[tuple[int, int]]) -> bool:
    return any(span.start < end and start < span.end for start, end in ranges)


def score(docs: list[Doc], results: dict[str, ScrubResult]) -> dict[str, dict[str, float]]:
    """Per planted kind: planted, caught, recall, spans, true spans, precision, F2."""
    planted, caught, spans, hits = Counter[str](), Counter[str](), Counter[str](), Counter[str]()
    for doc in docs:
        if doc.doc_id not in results:
            continue
        result = results[doc.doc_id]
        truth: dict[str, list[tuple[int, int]]] = {}
        for value in {(p.kind, p.value) for p in doc.pii}:
            kind, text = value
            planted[kind] += 1
            caught[kind] += text.lower() not in result.scrubbed.lower()
            truth.setdefault(kind, []).extend(_occurrences(doc.text, text))
        for kind in PII_KINDS:
            typed = [s for s in result.entities if s.type in SPAN_TYPES[kind]]
            spans[kind] += len(typed)
            hits[kind] += sum(_overlaps(s, truth.get(kind, [])) for s in typed)
    table: dict[str, dict[str, float]] = {}
    for kind in PII_KINDS:
        recall = caught[kind] / planted[kind] if planted[kind] else float("nan")
        precision = hits[kind] / spans[kind] if spans[kind] else float("nan")
        f2 = 5 * precision * recall / (4 * precision + recall) if precision + recall > 0 else 0.0
        table[kind] = {
            "planted": planted[kind],
            "caught": caught[kind],
            "recall": round(recall, 4),
            "spans": spans[kind],
            "true_spans": hits[kind],
            "precision": round(precision, 4),
            "f2": round(f2, 4),
        }
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED)
    parser.add_argument("--hospitals", type=int, default=5)
    parser.add_argument(
        "--episodes", type=int, default=40, help="member and non-member episodes per hospital"
    )
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument(
        "--no-write", action="store_true", help="print figures, do not write the result file"
    )
    args = parser.parse_args(argv)

    federation = generate_federation(
        args.hospitals,
        seed=args.seed,
        episodes_per_hospital=args.episodes,
        nonmembers_per_hospital=args.episodes,
    )
    docs = corpus(federation)
    t0 = time.perf_counter()
    scrubber = Scrubber.default()
    build_s = time.perf_counter() - t0
    results, refused, elapsed = scrub_all(scrubber, docs, args.batch)
    table = score(docs, results)
    figures: dict[str, object] = {
        "seed": args.seed,
        "documents": len(docs),
        "refused_fail_closed": len(refused),
        "engine_build_s": round(build_s, 2),
        "docs_per_s": round(len(docs) / elapsed, 2),
        "per_type": table,
        "macro_recall": round(sum(r["recall"] for r in table.values()) / len(table), 4),
    }
    targets = {
        f"recall_{kind}": {
            "target": f">= {RECALL_TARGET}",
            "measured": row["recall"],
            "met": bool(row["recall"] >= RECALL_TARGET),
        }
        for kind, row in table.items()
    }
    record = {
        "benchmark": "scrub_recall",
        "command": "HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/scrub_recall.py"
        + (f" --seed {args.seed}" if args.seed != HELD_OUT_SEED else ""),
        "date": date.today().isoformat(),
        "machine": (
            f"{os.cpu_count()} CPU cores (shared), {platform.machine()}, no GPU, "
            f"Python {platform.python_version()}"
        ),
        "baseline": "none: absolute figures against the generator's PII manifest (held-out seed)",
        "figures": figures,
        "targets": targets,
    }
    print(json.dumps(record, indent=2))
    if not args.no_write:
        RESULT.parent.mkdir(parents=True, exist_ok=True)
        RESULT.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
