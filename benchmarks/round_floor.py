"""The demo round's compute floor on this machine: can it finish under 90 s at all?

``benchmarks/round_cost.py`` records what the demo round's stages cost and how
many tokens its audit runs through the packaged model. This benchmark
measures how fast this machine can run those tokens at best, with nothing
else around them, and compares the audit's floor plus the other stages'
measured seconds with the 90 s target of issue 20:

* **LLM scoring floor**: the packaged SmolLM2-135M in float32 (the audit's
  scoring dtype; bf16 log-probs were rejected for audits, see
  ``fical_secure.llm.loader``), every thread torch uses, one forward pass of
  rows of ``--rows`` x ``--tokens`` random token ids with the full
  vocabulary's float32 log-softmax at every position (what scoring a text
  needs), best of the repeats. The audit's tokens (scored plus context,
  from ``round_cost.json``) over this rate is the least time its scoring can
  take on this machine with these weights and this dtype.
* **Embedding floor**: the packaged all-MiniLM-L6-v2 on ``--rows`` texts of
  its full 256-token window, best of the repeats (tokens per second).
  The audit's encoder tokens (``round_cost.json`` records them per stage)
  over this rate is the least time its embedding signal can take.
* The baseline in the same run: the round's own seconds per stage, read from
  ``round_cost.json`` (the "after" side).

Usage: ``python benchmarks/round_floor.py`` (writes
``benchmarks/results/round_floor.json``; run ``round_cost.py`` first).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.envelope import machine  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TARGET_SECONDS = 90.0


def best_seconds(run: Any, repeats: int) -> float:
    """The fastest of ``repeats`` timed calls of ``run`` (after one warm-up call)."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def scoring_rate(rows: int, tokens: int, repeats: int) -> float:
    """Tokens per second of float32 scoring (forward + full log-softmax) with the packaged model."""
    import torch

    from fical_secure.llm.loader import load_llm

    llm: Any = load_llm(dtype="float32")
    model = llm.model
    ids = torch.randint(100, int(model.config.vocab_size) - 1, (rows, tokens))

    def run() -> None:
        with torch.inference_mode():
            logits = model(input_ids=ids, use_cache=False).logits
            torch.log_softmax(logits.float(), dim=-1)

    return rows * tokens / best_seconds(run, repeats)


def embedding_rate(rows: int, repeats: int) -> float:
    """Tokens per second of the packaged MiniLM on texts filling its 256-token window."""
    from fical_secure.tlu.embedding import Embedder

    embedder = Embedder()
    texts = [" ".join(f"w{i}x{j}" for j in range(200)) for i in range(rows)]
    embedder.encode(texts[:2])
    window = int(embedder._load().max_seq_length)
    return rows * window / best_seconds(lambda: embedder.encode(texts), repeats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    cost = json.loads((RESULTS / "round_cost.json").read_text())["figures"]
    print("round floor: scoring rate (float32)...", file=sys.stderr, flush=True)
    score_rate = scoring_rate(args.rows, args.tokens, args.repeats)
    print("round floor: embedding rate...", file=sys.stderr, flush=True)
    embed_rate = embedding_rate(64, args.repeats)
    audit_tokens = int(cost["scored_tokens"]["after"]) + int(cost["context_tokens"]["after"])
    scoring_floor = audit_tokens / score_rate
    audit_embedded = int(cost["embedded_tokens"]["after"].get("audit", 0))
    embedding_floor = audit_embedded / embed_rate
    stages = {k: v["after_seconds"] for k, v in cost.items() if isinstance(v, dict) and
              "after_seconds" in v and k != "total"}  # fmt: skip
    others = sum(v for k, v in stages.items() if k != "audit")
    floor_total = scoring_floor + embedding_floor + others
    record = {
        "benchmark": "round_floor",
        "command": "python benchmarks/round_floor.py",
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "baseline": "the demo round's own stage seconds (round_cost.json, 'after' side, "
        f"{cost.get('date', 'its date')}), against the best this machine does on the same tokens",
        "figures": {
            "scoring_tokens_per_second_float32": round(score_rate, 1),
            "embedding_tokens_per_second": round(embed_rate, 1),
            "audit_llm_tokens": audit_tokens,
            "audit_scoring_floor_seconds": round(scoring_floor, 1),
            "audit_embedded_tokens": audit_embedded,
            "audit_embedding_floor_seconds": round(embedding_floor, 1),
            "round_stage_seconds": stages,
            "other_stages_seconds": round(others, 1),
            "round_floor_seconds": round(floor_total, 1),
            "round_seconds": cost["total"]["after_seconds"],
        },
        "notes": "round_floor_seconds = the audit's LLM tokens at the best float32 scoring "
        "rate + the audit's encoder tokens at the best embedding rate (no Python around "
        "either) + every other stage as the round measured it (the TLU's constrained "
        "generation included). Above the target, the round cannot reach it on this machine "
        "without changing the audit's work (records, dtype) or the TLU's.",
        "targets": {
            "round_floor_under_target": {
                "target": f"< {TARGET_SECONDS:g}",
                "measured": round(floor_total, 1),
                "met": floor_total < TARGET_SECONDS,
            }
        },
    }
    text = json.dumps(record, indent=2)
    print(text)
    if not args.no_write:
        from fical_secure.atomic import write_text_atomic

        write_text_atomic(RESULTS / "round_floor.json", text + "\n", make_parents=True)
    summary = (
        f"round floor: {floor_total:.1f} s (scoring floor {scoring_floor:.1f} s at "
        f"{score_rate:.0f} tok/s + embedding floor {embedding_floor:.1f} s at "
        f"{embed_rate:.0f} tok/s + other stages {others:.1f} s) against the round's "
        f"{cost['total']['after_seconds']} s; target < {TARGET_SECONDS:g} s"
    )
    print(summary, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
