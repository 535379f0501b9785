"""Time batched KCG generation on CUDA vs CPU with the real SmolLM2-135M architecture.

The GPU machine cannot download and carries at most 64 MiB, so the model is
built from its config (``config.json`` + tokenizer files, ~3.5 MB) with RANDOM
weights: throughput is honest (same shapes, same kernels), output quality is
not measured. Random weights rarely emit EOS, so every prompt runs to
``max_new_tokens``: a worst case for decode time.

    python benchmarks/kcg_gpu.py --export-config /tmp/smollm2-config   # here, once
    python benchmarks/kcg_gpu.py --config /tmp/smollm2-config          # on the GPU box

Writes ``benchmarks/results/kcg_gpu.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

RESULT = ROOT / "benchmarks" / "results" / "kcg_gpu.json"
CONFIG_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


def export_config(out: Path) -> None:
    """Copy config and tokenizer (no weights) of the packaged model's cache folder."""
    import shutil

    from fical_secure.llm.gguf_cache import ensure_converted
    from fical_secure.llm.loader import default_gguf_path

    folder = ensure_converted(default_gguf_path())
    out.mkdir(parents=True, exist_ok=True)
    for name in CONFIG_FILES:
        if (folder / name).is_file():
            shutil.copy2(folder / name, out / name)
    print(f"wrote {sorted(p.name for p in out.iterdir())} to {out}")


def kcg_prompts(n_hospitals: int, batch_size: int) -> list[list[str]]:
    """The map-stage prompts KCG sends for each hospital of the synthetic federation."""
    from collections import defaultdict

    from fical_secure.data.generator import generate_federation
    from fical_secure.kcg.builder import KCGConfig, split_batches
    from fical_secure.kcg.prompts import map_prompt

    config = KCGConfig(batch_size=batch_size)
    per_hospital = []
    for hospital in generate_federation(n_hospitals=n_hospitals, seed=0).hospitals:
        by_tool: dict[str, list[Any]] = defaultdict(list)
        for episode in hospital.members:
            by_tool[episode.call.tool].append(episode)
        per_hospital.append(
            [
                map_prompt(tool, batch, kind)
                for tool, eps in sorted(by_tool.items())
                for batch in split_batches(eps, batch_size, config.max_batches_per_tool)
                for kind in config.model_kinds
            ]
        )
    return per_hospital


def build_llm(config_dir: Path, device: str, dtype: str, max_batch_size: int) -> Any:
    """The real architecture with random weights, wrapped in the production backend."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from fical_secure.llm.transformers_backend import TransformersLLM

    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(config_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))  # type: ignore[no-untyped-call]
    model = model.to(device)
    tokenizer = AutoTokenizer.from_pretrained(config_dir, local_files_only=True)
    return TransformersLLM(
        model, tokenizer, name="smollm2-135m-random", max_batch_size=max_batch_size
    )


def time_device(
    config_dir: Path, device: str, dtype: str, prompts: list[list[str]], args: argparse.Namespace
) -> dict[str, float]:
    """Seconds per hospital and token throughput of the map stage on one device."""
    import torch

    from fical_secure.llm.transformers_backend import GenerationUsage

    llm = build_llm(config_dir, device, dtype, args.max_batch_size)
    llm.generate(prompts[0][:2], max_new_tokens=4)  # warm-up: kernels, allocator
    llm.usage = GenerationUsage()
    per_hospital = []
    for hospital_prompts in prompts:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        started = time.perf_counter()
        llm.generate(hospital_prompts, max_new_tokens=args.max_new_tokens)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        per_hospital.append(time.perf_counter() - started)
    total = sum(per_hospital)
    return {
        "seconds_per_hospital": total / len(per_hospital),
        "prompts_per_hospital": sum(map(len, prompts)) / len(prompts),
        "new_tokens_per_s": llm.usage.new_tokens / total,
        "prompt_tokens_per_s": llm.usage.prompt_tokens / total,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, help="folder with config.json + tokenizer files")
    parser.add_argument("--export-config", type=Path, help="write that folder from the local cache")
    parser.add_argument("--hospitals", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--max-batch-size", type=int, default=64)
    parser.add_argument("--cpu-threads", type=int, default=2, help="CPU threads (demo: 2 cores)")
    parser.add_argument("--out", type=Path, default=RESULT, help="where to write the JSON record")
    args = parser.parse_args()
    if args.export_config:
        export_config(args.export_config)
        return 0
    if not args.config:
        parser.error("--config (or --export-config) is required")
    import torch

    torch.set_num_threads(args.cpu_threads)
    prompts = kcg_prompts(args.hospitals, args.batch_size)
    figures: dict[str, Any] = {}
    if torch.cuda.is_available():
        figures["cuda_bf16"] = time_device(args.config, "cuda", "bfloat16", prompts, args)
    cpu_prompts = prompts[:1]  # one hospital is enough to time the CPU
    figures[f"cpu{args.cpu_threads}_bf16"] = time_device(
        args.config, "cpu", "bfloat16", cpu_prompts, args
    )
    cpu = figures[f"cpu{args.cpu_threads}_bf16"]["seconds_per_hospital"]
    targets: dict[str, Any] = {}
    if "cuda_bf16" in figures:
        speedup = cpu / figures["cuda_bf16"]["seconds_per_hospital"]
        figures["cuda_speedup_vs_cpu"] = speedup
        targets["cuda_speedup_vs_cpu"] = {
            "target": ">= 5",
            "measured": speedup,
            "met": speedup >= 5,
        }
    targets["cpu_seconds_per_hospital_map_stage"] = {
        "target": "<= 40",
        "measured": cpu,
        "met": cpu <= 40,
    }
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    record = {
        "benchmark": "kcg_gpu",
        "command": "python " + " ".join(sys.argv),
        "date": dt.date.today().isoformat(),
        "machine": f"{os.cpu_count()} cores ({args.cpu_threads} used for CPU), GPU: {gpu}, "
        f"{platform.platform()}, torch {torch.__version__}",
        "baseline": f"the same map-stage prompts on CPU, {args.cpu_threads} threads, bf16; "
        "SmolLM2-135M architecture with RANDOM weights (every prompt runs to max_new_tokens)",
        "figures": figures,
        "targets": targets,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
