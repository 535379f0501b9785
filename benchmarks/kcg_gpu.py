"""Time KCG generation on CUDA (bf16) vs a 2-thread CPU baseline, in one run.

The model is the real SmolLM2-135M-Instruct ARCHITECTURE built from its config
with RANDOM weights: the GPU machine cannot download, and carries at most
64 MiB (the weights are ~270 MB in bf16). Shapes and kernels are the real ones,
so throughput is honest; output quality is not measured. Random weights do not
emit EOS reliably, so EOS is switched off and every prompt generates exactly
``--new-tokens`` tokens on both devices (counted, and checked).

Prompts are the map-stage prompts of the retired LLM map-reduce KCG
(``kcg.prompts.map_prompt`` over near-equal batches of ``generate_federation``
episodes, at most 3 batches a tool, the kinds purpose, usage and pitfall); the
KCG a round runs today calls the model only to paraphrase, and by default not
at all. They are built here,
where the data generator's dependencies are installed, and carried as JSON:

    python benchmarks/kcg_gpu.py --export-config .kcgcarry       # here, once
    python benchmarks/kcg_gpu.py --config .kcgcarry --out OUT.json  # on the GPU box

Measured: a batch-size sweep (median of repeats after a warm-up, with
``torch.cuda.synchronize`` around each timed call) and one hospital's KCG
generation as that builder issued it (27 map + 5 reduce-sized prompts, chunks of
``PROMPTS_PER_CALL``, backend batches of ``DEFAULT_MAX_BATCH_SIZE``).
``benchmarks/kcg_gpu_check.py`` adds a correctness check of the CUDA backend.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

RESULT = ROOT / "benchmarks" / "results" / "kcg_gpu.json"
CONFIG_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja")
PROMPTS_FILE = "kcg_prompts.json"
REDUCE_PROMPTS = 5  # reduce calls of one hospital (one per (tool, kind) with several notes)
PROMPTS_PER_CALL = 32  # prompts per generate() call, as the map-reduce builder sent them
MAX_BATCHES_PER_TOOL = 3
MODEL_KINDS = ("purpose", "usage", "pitfall")


def export_config(out: Path, hospitals: int, batch_size: int) -> None:
    """Copy config + tokenizer (no weights) of the packaged model, and write the KCG prompts."""
    import shutil

    from fical_secure.llm.gguf_cache import ensure_converted
    from fical_secure.llm.loader import default_gguf_path

    folder = ensure_converted(default_gguf_path())
    out.mkdir(parents=True, exist_ok=True)
    for name in CONFIG_FILES:
        if (folder / name).is_file():
            shutil.copy2(folder / name, out / name)
    record = {
        "hospitals": hospitals,
        "batch_size": batch_size,
        "prompts": kcg_prompts(hospitals, batch_size),
    }
    (out / PROMPTS_FILE).write_text(json.dumps(record), encoding="utf-8")
    print(f"wrote {sorted(p.name for p in out.iterdir())} to {out}")


def kcg_prompts(n_hospitals: int, batch_size: int) -> list[list[str]]:
    """The map-stage prompts KCG sends for each hospital of the synthetic federation."""
    from collections import defaultdict

    from fical_secure.data.generator import generate_federation
    from fical_secure.kcg.prompts import map_prompt

    per_hospital = []
    for hospital in generate_federation(n_hospitals=n_hospitals, seed=0).hospitals:
        by_tool: dict[str, list[Any]] = defaultdict(list)
        for episode in hospital.members:
            by_tool[episode.call.tool].append(episode)
        per_hospital.append(
            [
                map_prompt(tool, batch, kind)
                for tool, eps in sorted(by_tool.items())
                for batch in _batches(eps, batch_size)
                for kind in MODEL_KINDS
            ]
        )
    return per_hospital


def _batches(episodes: list[Any], size: int) -> list[list[Any]]:
    """Near-equal batches of at most ``size`` episodes, the first ``MAX_BATCHES_PER_TOOL``."""
    episodes = episodes[: MAX_BATCHES_PER_TOOL * size]
    n = -(-len(episodes) // size)
    return [episodes[i::n] for i in range(n)]


def build_llm(
    config_dir: Path, device: str, dtype: str, max_batch_size: int
) -> tuple[Any, list[int]]:
    """The real architecture with random weights in the production backend, EOS switched off.

    Returns the backend and the list that records how many new tokens each
    ``model.generate`` call produced (checked against the expected count).
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from fical_secure.llm.transformers_backend import TransformersLLM

    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(config_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))  # type: ignore[no-untyped-call]
    model = model.to(device)
    model.generation_config.eos_token_id = None  # fixed length: random weights stop at random
    tokenizer = AutoTokenizer.from_pretrained(config_dir, local_files_only=True)
    llm = TransformersLLM(
        model, tokenizer, name="smollm2-135m-random", max_batch_size=max_batch_size
    )
    generated: list[int] = []
    inner = model.generate

    def counted(*args: Any, **kwargs: Any) -> Any:
        out = inner(*args, **kwargs)
        generated.append(out.shape[0] * (out.shape[1] - kwargs["input_ids"].shape[1]))
        return out

    model.generate = counted
    return llm, generated


def timed(llm: Any, device: str, call: Callable[[], None]) -> float:
    """Wall seconds of ``call``, synchronizing the GPU before and after."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    call()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - started


def measure(
    llm: Any,
    generated: list[int],
    device: str,
    prompts: list[str],
    new_tokens: int,
    *,
    warmup: bool,
    repeats: int,
    budget_s: float,
) -> dict[str, Any]:
    """Median time of generating ``new_tokens`` for every prompt in one backend batch.

    At least two timed repeats (if ``repeats`` allows); further repeats stop once
    ``budget_s`` is spent (the 2-thread CPU needs tens of seconds per large batch).
    """
    llm.max_batch_size = len(prompts)

    def call() -> None:
        llm.generate(prompts, max_new_tokens=new_tokens)

    if warmup:
        call()
    runs: list[float] = []
    generated.clear()
    llm.usage.prompt_tokens = 0
    while len(runs) < min(2, repeats) or (len(runs) < repeats and sum(runs) < budget_s):
        runs.append(timed(llm, device, call))
    expected = len(runs) * len(prompts) * new_tokens
    if sum(generated) != expected:
        raise RuntimeError(f"generated {sum(generated)} tokens, expected {expected}")
    median = statistics.median(runs)
    n = len(prompts)
    return {
        "prompts": n,
        "prompt_tokens": llm.usage.prompt_tokens // len(runs),
        "new_tokens": n * new_tokens,
        "repeats": len(runs),
        "seconds_runs": [round(r, 4) for r in runs],
        "seconds_median": round(median, 4),
        "new_tokens_per_s": round(n * new_tokens / median, 2),
        "prompt_tokens_per_s": round(llm.usage.prompt_tokens / len(runs) / median, 1),
        "prompts_per_s": round(n / median, 3),
        "ms_per_prompt": round(1000 * median / n, 2),
    }


def hospital_seconds(
    llm: Any,
    generated: list[int],
    device: str,
    map_prompts: list[str],
    reduce_prompts: list[str],
    new_tokens: int,
    repeats: int,
) -> dict[str, Any]:
    """One hospital's KCG generation, issued the way the map-reduce builder issued it."""
    from fical_secure.llm.transformers_backend import DEFAULT_MAX_BATCH_SIZE

    per_call = PROMPTS_PER_CALL
    llm.max_batch_size = DEFAULT_MAX_BATCH_SIZE

    def call() -> None:
        for stage in (map_prompts, reduce_prompts):
            for start in range(0, len(stage), per_call):
                llm.generate(stage[start : start + per_call], max_new_tokens=new_tokens)

    generated.clear()
    runs = [timed(llm, device, call) for _ in range(repeats)]
    expected = repeats * (len(map_prompts) + len(reduce_prompts)) * new_tokens
    if sum(generated) != expected:
        raise RuntimeError(f"generated {sum(generated)} tokens, expected {expected}")
    return {
        "map_prompts": len(map_prompts),
        "reduce_prompts": len(reduce_prompts),
        "new_tokens_per_prompt": new_tokens,
        "prompts_per_call": per_call,
        "max_batch_size": DEFAULT_MAX_BATCH_SIZE,
        "repeats": repeats,
        "seconds_runs": [round(r, 3) for r in runs],
        "seconds": round(statistics.median(runs), 3),
    }


def run_device(
    args: argparse.Namespace,
    device: str,
    prompts: list[list[str]],
    batches: list[int],
    repeats: int,
) -> dict[str, Any]:
    """Batch sweep plus one hospital's KCG generation on one device, bf16."""
    llm, generated = build_llm(args.config, device, "bfloat16", 1)
    pool = [p for hospital in prompts for p in hospital]
    on_gpu = device.startswith("cuda")
    measure(
        llm, generated, device, pool[:2], 4, warmup=False, repeats=1, budget_s=0
    )  # kernels, allocator
    out: dict[str, Any] = {}
    for b in batches:
        out[f"batch{b}"] = measure(
            llm,
            generated,
            device,
            pool[:b],
            args.new_tokens,
            warmup=on_gpu or b <= 8,  # a CPU warm-up at batch 32 costs as much as a repeat
            repeats=repeats,
            budget_s=args.cpu_budget_s,
        )
        print(device, b, out[f"batch{b}"], flush=True)
    reduce_stand_ins = prompts[1][:REDUCE_PROMPTS]
    out["kcg_hospital"] = hospital_seconds(
        llm,
        generated,
        device,
        prompts[0],
        reduce_stand_ins,
        args.new_tokens,
        repeats if on_gpu else 1,
    )
    print(device, out["kcg_hospital"], flush=True)
    return out


def machine(cpu_threads: int) -> str:
    """Cores, CPU model, GPU and library versions of the machine this runs on."""
    import torch
    import transformers

    cpu = platform.processor() or "?"
    info = Path("/proc/cpuinfo")
    if info.is_file():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in info.read_text().splitlines()
            if ln.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    return (
        f"{os.cpu_count()} cores ({cpu}; {cpu_threads} torch threads for the CPU rows), "
        f"GPU: {gpu}, {platform.platform()}, Python {platform.python_version()}, "
        f"torch {torch.__version__}, transformers {transformers.__version__}"
    )


def ratios(figures: dict[str, Any], cpu_key: str) -> None:
    """GPU-over-CPU speedups for every batch size (and the hospital) both devices ran."""
    gpu, cpu = figures.get("cuda_bf16", {}), figures[cpu_key]
    for key in cpu:
        if key in gpu:
            sec = "seconds" if key == "kcg_hospital" else "seconds_median"
            figures[f"gpu_speedup_{key}"] = round(cpu[key][sec] / gpu[key][sec], 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, help="folder written by --export-config")
    parser.add_argument("--export-config", type=Path, help="write that folder (config + prompts)")
    parser.add_argument("--hospitals", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=5, help="episodes per map prompt")
    parser.add_argument("--new-tokens", type=int, default=20, help="tokens generated per prompt")
    parser.add_argument("--gpu-batches", default="1,8,32,64")
    parser.add_argument("--cpu-batches", default="1,8,32")
    parser.add_argument("--gpu-repeats", type=int, default=5)
    parser.add_argument("--cpu-repeats", type=int, default=3)
    parser.add_argument("--cpu-budget-s", type=float, default=60.0, help="per CPU batch size")
    parser.add_argument("--cpu-threads", type=int, default=2)
    parser.add_argument("--no-check", action="store_true", help="skip kcg_gpu_check")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    if args.export_config:
        export_config(args.export_config, args.hospitals, args.batch_size)
        return 0
    if not args.config:
        parser.error("--config (or --export-config) is required")
    import torch

    torch.set_num_threads(args.cpu_threads)  # the CPU baseline; the GPU rows do not depend on it
    prompts = json.loads((args.config / PROMPTS_FILE).read_text(encoding="utf-8"))["prompts"]
    figures: dict[str, Any] = {
        "model": "SmolLM2-135M-Instruct architecture, RANDOM weights",
        "new_tokens_per_prompt": args.new_tokens,
    }
    if torch.cuda.is_available():
        gpu_batches = [int(b) for b in args.gpu_batches.split(",")]
        figures["cuda_bf16"] = run_device(args, "cuda", prompts, gpu_batches, args.gpu_repeats)
    cpu_key = f"cpu{args.cpu_threads}_bf16"
    cpu_batches = [int(b) for b in args.cpu_batches.split(",")]
    figures[cpu_key] = run_device(args, "cpu", prompts, cpu_batches, args.cpu_repeats)
    ratios(figures, cpu_key)
    if torch.cuda.is_available() and not args.no_check:
        from kcg_gpu_check import check_cuda_backend

        figures["cuda_backend_check"] = check_cuda_backend(args.config)
    write_record(args, figures, cpu_key)
    return 0


def write_record(args: argparse.Namespace, figures: dict[str, Any], cpu_key: str) -> None:
    """Write the benchmark record (DESIGN.md convention) and print it."""
    targets: dict[str, Any] = {}
    for name, target, bound in (
        ("gpu_speedup_batch32", ">= 10", 10.0),
        ("gpu_speedup_kcg_hospital", ">= 10", 10.0),
    ):
        if name in figures:
            targets[name] = {
                "target": target,
                "measured": figures[name],
                "met": figures[name] >= bound,
            }
    cpu_hospital = figures[cpu_key]["kcg_hospital"]["seconds"]
    targets[f"{cpu_key}_kcg_seconds_per_hospital"] = {
        "target": "<= 40",
        "measured": cpu_hospital,
        "met": cpu_hospital <= 40,
    }
    record = {
        "benchmark": "kcg_gpu",
        "command": "python benchmarks/kcg_gpu.py " + " ".join(sys.argv[1:]),
        "date": dt.date.today().isoformat(),
        "machine": machine(args.cpu_threads),
        "baseline": f"the same KCG prompts and token counts on this machine's CPU, "
        f"{args.cpu_threads} torch threads, bf16 (the production CPU generation dtype), same "
        "run; SmolLM2-135M architecture built from its config with RANDOM weights (the GPU "
        "box cannot download and carries <= 64 MiB), EOS off so every prompt generates "
        "exactly new_tokens_per_prompt tokens",
        "figures": figures,
        "targets": targets,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    sys.exit(main())
