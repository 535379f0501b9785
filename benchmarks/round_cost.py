"""The demo round's cost stage by stage: the old LLM paths against the new, in one run.

Both sides run the round of ``make demo`` (its default settings: 5 clients,
the audit's 8 LLM records a side and 1 canary per client, the packaged
SmolLM2 model, the TLU's schema-constrained argument filler), each in a fresh
process that pays its own imports and loads:

* **before** (the baseline): every scored text runs with its whole context
  from scratch (``TransformersLLM.reuse_prefix = False``), the argument
  filler decodes every job, even one it decoded before (``memoise=False``),
  through transformers' ``generate`` with xgrammar's logits processor (each
  batch of 16 runs until its last row ends), and the sentence encoder runs
  64 texts a batch (the old default);
* **after**: the shipped defaults: the texts of a context shared by at least
  ``min_shared_texts`` of them (canary candidates, records after the same
  reference notes) run after a single pass of it, texts after different
  contexts in one batch, context states are kept across calls
  (:mod:`fical_secure.llm.prefix`), a (prompt, schema) pair the filler decoded
  before is not decoded again, a batch drops its rows as they finish
  (:mod:`fical_secure.llm.greedy`), and the encoder runs 8 texts a batch
  (less padding: on the demo's texts, 16.1 s against 18.6 s at 16 and 22 s at 64);
  philter's word lists come from their per-machine JSON copy (either side).

The packaged model's safetensors cache is converted before either side (it
is made once per machine), and the new side runs first, so whatever the
first process warms (the page cache of the model and library files) favours
the old one. Recorded per side: each stage's wall and process CPU seconds
(CPU time is less swayed by other jobs on a shared machine), the LLM's
seconds, the tokens it ran as texts and as contexts, the context cache's
hits and misses, the filler's decodes and memo hits, the load average; and
whether every client's audit decided the same (blocked, entries removed,
findings), with the largest difference in any reported AUC, and whether the
TLU ablation's figures are equal.

Usage: ``python benchmarks/round_cost.py`` (writes
``benchmarks/results/round_cost.json``); ``--side before|after --report FILE``
runs one side (what the parent runs in each subprocess).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "round_cost.json"
COMMAND = "python benchmarks/round_cost.py"
TOTAL_TARGET_SECONDS = 90.0
OLD_EMBEDDING_BATCH = 64  # the sentence encoder's batch before 2026-12-07

from benchmarks.envelope import machine  # noqa: E402
from fical_secure.pipeline.runner import Stage, run_stages  # noqa: E402
from fical_secure.pipeline.stages import ModelStage  # noqa: E402
from fical_secure.pipeline.state import RoundState  # noqa: E402


@dataclass(frozen=True)
class OldOrNewModel:
    """The demo's model stage, then the LLM paths of the side under test."""

    new: bool
    name: str = "model"

    def run(self, state: RoundState) -> None:
        from functools import partial

        from fical_secure.llm import transformers_backend
        from fical_secure.llm.transformers_backend import TransformersLLM
        from fical_secure.tlu import fill
        from fical_secure.tlu.embedding import default_embedder

        ModelStage().run(state)
        if not isinstance(state.llm, TransformersLLM):
            raise TypeError("the round cost is measured on the transformers backend")
        state.llm.reuse_prefix = self.new
        if not self.new:  # the TLU stage builds its filler by this name: the old one decodes all
            fill.SchemaFiller = partial(fill.SchemaFiller, memoise=False)  # type: ignore[misc,assignment]
            default_embedder()._batch_size = OLD_EMBEDDING_BATCH
            transformers_backend.generate_new_ids = transformers_generate  # type: ignore[assignment]


def transformers_generate(
    net: Any,
    decoder: Any,
    batch: list[list[int]],
    max_new_tokens: int,
    *,
    eos_ids: Any,
    pad_id: int,
    prefill_rows: int,
    masks: Any = None,
) -> list[list[int]]:
    """The old generation path: transformers' greedy ``generate`` on the left-padded batch,
    under xgrammar's logits processor where the rows have grammars."""
    import torch
    from transformers import LogitsProcessorList
    from xgrammar.contrib.hf import LogitsProcessor

    from fical_secure.llm.batching import pad_rows

    if decoder is not None or len(batch) > prefill_rows:
        raise RuntimeError("the old path ran batches of max_batch_size on the CPU only")
    input_ids, mask = pad_rows(batch, pad_id, left=True, device=next(net.parameters()).device)
    processors = [LogitsProcessor(masks.grammars)] if masks is not None else []
    with torch.inference_mode():
        out = net.generate(
            input_ids=input_ids,
            attention_mask=mask,
            do_sample=False,
            num_beams=1,
            max_new_tokens=max_new_tokens,
            pad_token_id=pad_id,
            temperature=None,
            top_p=None,
            top_k=None,
            logits_processor=LogitsProcessorList(processors),
        )
    rows: list[list[int]] = out[:, input_ids.shape[1] :].tolist()
    return rows


@dataclass(frozen=True)
class CpuTimed:
    """A round stage whose process CPU seconds are recorded too (less swayed by other load),
    and the texts it gave the sentence encoder (tokens counted after the round)."""

    stage: Stage[RoundState]
    cpu: dict[str, float]
    embedded: dict[str, list[str]]

    @property
    def name(self) -> str:
        return self.stage.name

    def run(self, state: RoundState) -> None:
        from fical_secure.tlu.embedding import Embedder

        texts = self.embedded.setdefault(self.name, [])
        encode = Embedder.encode

        def kept(embedder: Embedder, batch: Any) -> Any:
            texts.extend(batch)
            return encode(embedder, batch)

        Embedder.encode = kept  # type: ignore[method-assign]
        start = time.process_time()
        try:
            self.stage.run(state)
        finally:
            self.cpu[self.name] = round(time.process_time() - start, 3)
            Embedder.encode = encode  # type: ignore[method-assign]


def embedded_tokens(texts: dict[str, list[str]]) -> dict[str, int]:
    """Per stage, the tokens the sentence encoder ran (each text cut to its window)."""
    from fical_secure.tlu.embedding import default_embedder

    model = default_embedder()._load()
    window = int(model.max_seq_length)
    return {
        stage: sum(min(len(ids), window) for ids in model.tokenizer(batch)["input_ids"])
        for stage, batch in texts.items()
        if batch
    }


def one_side(new: bool, out: Path) -> dict[str, Any]:
    """Run the demo round once on the old or the new LLM paths; its seconds and figures."""
    from fical_secure.llm.transformers_backend import TransformersLLM
    from fical_secure.pipeline.demo import build_stages
    from fical_secure.pipeline.state import RoundSettings

    settings = RoundSettings(out=out, progress=False)
    cpu: dict[str, float] = {}
    embedded: dict[str, list[str]] = {}
    stages = [
        CpuTimed(OldOrNewModel(new) if isinstance(s, ModelStage) else s, cpu, embedded)
        for s in build_stages(settings)
    ]
    state = RoundState(settings=settings)
    load_before = os.getloadavg()[0]
    start, cpu_start = time.perf_counter(), time.process_time()
    run_stages(state, stages)
    seconds = {**state.seconds, "total": round(time.perf_counter() - start, 3)}
    cpu["total"] = round(time.process_time() - cpu_start, 3)
    load = {"start": round(load_before, 2), "end": round(os.getloadavg()[0], 2)}
    llm = state.llm
    assert isinstance(llm, TransformersLLM)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "load_average_1min": load,
        "llm_seconds": round(llm.usage.seconds, 3),
        "scored_tokens": llm.usage.scored_tokens,
        "context_tokens": llm.usage.context_tokens,
        "context_cache": {"hits": llm.context_cache.hits, "misses": llm.context_cache.misses},
        "clients": len(state.clients),
        "audit_llm_records_a_side": settings.audit_llm_records,
        "audit_canaries": settings.audit_canaries,
        "audit": state.report.get("audit", {}),
        "ablation": state.report.get("ablation", {}).get("overall", {}),
        "generated_tokens": llm.usage.new_tokens,
        "embedded_tokens": embedded_tokens(embedded),
        "prompt_tokens": llm.usage.prompt_tokens,
    }


def _decision(client: dict[str, Any]) -> dict[str, Any]:
    """What a client's audit decided, without timings or scores."""
    if client.get("blocked"):
        return {"blocked": True, "reason": client.get("reason")}
    return {
        "blocked": False,
        "entries_removed": client["entries_removed"],
        "remediation_rounds": client["remediation_rounds"],
        "findings_before": client["findings_before"],
    }


def _aucs(client: dict[str, Any]) -> dict[str, float]:
    out = {}
    for when in ("before", "after"):
        for name, attack in client.get(when, {}).get("attacks", {}).items():
            out[f"{when}/{name}"] = float(attack["auc"])
    return out


def compare(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Same decisions per client, and the largest AUC difference between the two sides."""
    clients = sorted(set(before["audit"]) | set(after["audit"]))
    same = all(
        cid in before["audit"]
        and cid in after["audit"]
        and _decision(before["audit"][cid]) == _decision(after["audit"][cid])
        for cid in clients
    )
    diffs = [
        abs(a - _aucs(after["audit"][cid]).get(key, float("inf")))
        for cid in clients
        if cid in before["audit"] and cid in after["audit"]
        for key, a in _aucs(before["audit"][cid]).items()
    ]
    return {
        "decisions_equal": same,
        "max_auc_difference": max(diffs, default=0.0),
        "tlu_figures_equal": before["ablation"] == after["ablation"],
    }


def run_side(side: str, work: Path) -> dict[str, Any]:
    """One side in a fresh process; its report."""
    report = work / f"{side}.json"
    cmd = [sys.executable, __file__, "--side", side, "--report", str(report)]
    subprocess.run(cmd, check=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return result


def record(before: dict[str, Any], after: dict[str, Any], started: str) -> dict[str, Any]:
    stages = list(dict.fromkeys([*before["seconds"], *after["seconds"]]))
    figures: dict[str, Any] = {
        stage: {
            "before_seconds": before["seconds"].get(stage),
            "after_seconds": after["seconds"].get(stage),
            "before_cpu_seconds": before["cpu_seconds"].get(stage),
            "after_cpu_seconds": after["cpu_seconds"].get(stage),
        }
        for stage in stages
    }
    keys = (
        "llm_seconds",
        "scored_tokens",
        "context_tokens",
        "context_cache",
        "generated_tokens",
        "prompt_tokens",
        "embedded_tokens",
    )
    for key in (*keys, "load_average_1min"):
        figures[key] = {"before": before[key], "after": after[key]}
    figures["clients"] = after["clients"]
    figures["audit_llm_records_a_side"] = after["audit_llm_records_a_side"]
    figures["audit_canaries"] = after["audit_canaries"]
    figures.update(compare(before, after))
    total = after["seconds"]["total"]
    return {
        "benchmark": "round_cost",
        "command": COMMAND,
        "date": started,
        "machine": machine(),
        "baseline": "the same demo round in this run on the old LLM paths: reuse_prefix=False "
        "(every scored text with its whole context from scratch) and the argument filler "
        "with memoise=False (every job decoded) through transformers' generate, the sentence "
        "encoder at 64 texts a batch",
        "figures": figures,
        "targets": {
            "after_total_seconds": {
                "target": f"< {TOTAL_TARGET_SECONDS:.0f}",
                "measured": total,
                "met": total < TOTAL_TARGET_SECONDS,
            },
            "tlu_figures_equal": {
                "target": "true",
                "measured": figures["tlu_figures_equal"],
                "met": bool(figures["tlu_figures_equal"]),
            },
            "audit_decisions_equal": {
                "target": "true",
                "measured": figures["decisions_equal"],
                "met": bool(figures["decisions_equal"]),
            },
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--side", choices=("before", "after"))
    parser.add_argument("--report", type=Path)
    args = parser.parse_args()
    if args.side:
        with tempfile.TemporaryDirectory() as out:
            result = one_side(args.side == "after", Path(out))
        args.report.write_text(json.dumps(result, sort_keys=True), encoding="utf-8")
        return
    from fical_secure.llm.gguf_cache import ensure_converted
    from fical_secure.llm.loader import default_gguf_path

    started = dt.date.today().isoformat()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    ensure_converted(default_gguf_path())  # once per machine: neither side pays it
    with tempfile.TemporaryDirectory() as work:
        after = run_side("after", Path(work))
        before = run_side("before", Path(work))
    result = record(before, after, started)
    RESULTS.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(json.dumps(result["figures"], indent=1, sort_keys=True))
    total = result["figures"]["total"]
    print(
        f"round_cost: total {total['before_seconds']:.1f} s before, {total['after_seconds']:.1f}"
        f" s after (target < {TOTAL_TARGET_SECONDS:.0f}); decisions equal"
        f" {result['figures']['decisions_equal']}, TLU figures equal"
        f" {result['figures']['tlu_figures_equal']}; wrote {RESULTS.relative_to(ROOT)}"
    )


if __name__ == "__main__":
    main()
