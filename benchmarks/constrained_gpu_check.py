"""Schema-constrained decoding on CUDA: every row of a batch keeps its own grammar.

The GPU machine has no copy of the packaged model's weights (it reaches no
package index and takes at most 64 MiB along), so the check runs SmolLM2-135M's
architecture and tokenizer with random weights: the throughput is honest, the
argument values are not. ``--prepare`` (on the CPU machine) writes the prompts
and decoding schemas of the BFCL ``live_multiple`` held-out requests (gold
tool, as :class:`~fical_secure.tlu.fill.SchemaFiller` builds them) with each
tool's call schema; the check decodes them batched on CUDA and validates every
output against its tool's schema (the project's validator).

    PYTHONPATH=. .venv/bin/python benchmarks/constrained_gpu_check.py --prepare DIR
    python3 benchmarks/constrained_gpu_check.py DIR --out OUT   # on the GPU machine
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def prepare(folder: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bfcl_federation import build_folder

    from fical_secure.data.arg_schema import call_schema, parameters_schema
    from fical_secure.data.function_spec import load_catalogue
    from fical_secure.llm.gguf_cache import cache_dir_for
    from fical_secure.llm.loader import default_gguf_path
    from fical_secure.tlu.decoding_schema import RequestValues, object_schema
    from fical_secure.tlu.fill import FillJob, prompt

    data = Path("runs/bfcl_live_multiple_thirds")
    build_folder(data, categories=("live_multiple",), split="thirds")
    catalogue = {t.name: t for t in load_catalogue(data / "catalogue.json")}
    jobs = []
    for line in (data / "eval.jsonl").read_text().splitlines():
        record = json.loads(line)
        spec = catalogue[record["gold"]["tool"]]
        schema = object_schema(parameters_schema(spec), RequestValues.of(record["request"]), {})
        jobs.append(
            {
                "tool": spec.name,
                "prompt": prompt(FillJob(record["request"], spec), schema),
                "schema": json.dumps(schema),
                "call_schema": call_schema(spec),
            }
        )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "jobs.json").write_text(json.dumps(jobs))
    model = cache_dir_for(default_gguf_path())
    for name in (
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "chat_template.jinja",
    ):
        shutil.copy(model / name, folder / name)


def check(folder: Path, out: Path, batch_sizes: list[int], max_new: int) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from fical_secure.data.json_schema import argument_problems
    from fical_secure.llm.transformers_backend import TransformersLLM

    jobs: list[dict[str, Any]] = json.loads((folder / "jobs.json").read_text())
    config = AutoConfig.from_pretrained(folder)
    torch.manual_seed(0)
    net = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16).to("cuda").eval()
    net.generation_config.eos_token_id = config.eos_token_id
    tokenizer = AutoTokenizer.from_pretrained(folder)
    rows: dict[str, Any] = {"device": torch.cuda.get_device_name(0), "requests": len(jobs)}
    for size in batch_sizes:
        llm = TransformersLLM(net, tokenizer, name="smollm2-135m-random", max_batch_size=size)
        llm.generate_json([jobs[0]["prompt"]], [jobs[0]["schema"]], max_new_tokens=8)  # warm-up
        torch.cuda.synchronize()
        started = time.perf_counter()
        texts = llm.generate_json(
            [j["prompt"] for j in jobs], [j["schema"] for j in jobs], max_new_tokens=max_new
        )
        torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        valid = cut = 0
        for job, text in zip(jobs, texts, strict=True):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                cut += 1
                continue
            valid += isinstance(value, dict) and not argument_problems(
                job["tool"], job["call_schema"], value
            )
        rows[f"batch_{size}"] = {
            "seconds": round(seconds, 3),
            "requests_per_second": round(len(jobs) / seconds, 2),
            "valid_under_tool_schema": valid,
            "cut_off_by_max_new_tokens": cut,
            "new_tokens": llm.usage.new_tokens,
        }
        print(size, rows[f"batch_{size}"], flush=True)
        out.mkdir(parents=True, exist_ok=True)
        (out / "constrained_gpu_check.json").write_text(json.dumps(rows, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--prepare", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("runs/constrained_gpu_check"))
    parser.add_argument("--batch-sizes", default="1,16,64")
    parser.add_argument("--max-new-tokens", type=int, default=160)
    args = parser.parse_args()
    if args.prepare:
        prepare(args.folder)
    else:
        sizes = [int(s) for s in args.batch_sizes.split(",")]
        check(args.folder, args.out, sizes, args.max_new_tokens)


if __name__ == "__main__":
    main()
