"""Check that the production CUDA path (``load_llm`` -> bf16 ``TransformersLLM``) works.

The SmolLM2-135M architecture gets RANDOM weights (seeded), saved as
safetensors into a temporary folder together with the carried config and
tokenizer, then loaded twice through :func:`fical_secure.llm.load_llm`: on
CUDA (bf16 for generation and scoring, the GPU default) and on CPU in float32
(the reference). ``score`` on batches of different lengths (left padding) is
compared with the reference; ``generate`` is run batched and one prompt at a
time. Random weights give near-uniform next-token distributions, so the errors
here are those of the numeric path, not of the real model (whose sharper logits
typically show larger bf16 errors in nats).

    python benchmarks/kcg_gpu_check.py --config .kcgcarry   # on the GPU box
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIG_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


def save_random_model(config_dir: Path, out: Path, seed: int = 1) -> None:
    """Write a float32 random-weight model folder (config, tokenizer, safetensors) to ``out``."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(seed)
    config = AutoConfig.from_pretrained(config_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)  # type: ignore[no-untyped-call]
    model.save_pretrained(out)  # safetensors (the loader refuses anything else)
    for name in CONFIG_FILES[1:]:
        if (config_dir / name).is_file():
            shutil.copy2(config_dir / name, out / name)


def _errors(measured: list[np.ndarray], reference: list[np.ndarray]) -> dict[str, float]:
    """Relative L2 error, max and RMS absolute error (nats), and the reference's own spread."""
    got, ref = np.concatenate(measured), np.concatenate(reference)
    if got.shape != ref.shape or not np.all(np.isfinite(got)):
        raise RuntimeError(f"bad log-probs: shapes {got.shape} vs {ref.shape}, or NaN/inf")
    diff = got.astype(np.float64) - ref.astype(np.float64)
    return {
        "tokens": int(ref.size),
        "relative_error": float(np.linalg.norm(diff) / np.linalg.norm(ref)),
        "max_abs_error_nats": float(np.abs(diff).max()),
        "rms_error_nats": float(np.sqrt(np.mean(diff**2))),
        "reference_std_nats": float(ref.std()),
    }


def check_cuda_backend(config_dir: Path) -> dict[str, Any]:
    """Run generate() and score() on CUDA bf16; compare score() with CPU float32.

    Raises:
        RuntimeError: a length mismatch, NaN/inf log-probs, or a wrong output count.
    """
    from fical_secure.llm.loader import load_llm

    prompts = json.loads((config_dir / "kcg_prompts.json").read_text(encoding="utf-8"))["prompts"]
    pool = [p for hospital in prompts for p in hospital]
    # contexts of very different lengths, so a batch is left-padded by up to ~250 tokens
    contexts = [pool[i][: 80 + 160 * (i % 5)] for i in range(0, 60, 6)]
    texts = [f"{c.split(chr(10), 1)[0]} is used to look up a record by its id." for c in contexts]
    with tempfile.TemporaryDirectory() as tmp:
        save_random_model(config_dir, Path(tmp))
        gpu = load_llm(tmp, device="cuda")
        cpu = load_llm(tmp, device="cpu", dtype="float32")
        gpu_scores = gpu.score(texts, contexts)
        cpu_scores = cpu.score(texts, contexts)
        gpu.max_batch_size = 1  # type: ignore[attr-defined]
        gpu_single = gpu.score(texts, contexts)
        gen_prompts = [pool[i] for i in (0, 7, 14, 21, 28, 35)]
        gpu.max_batch_size = len(gen_prompts)  # type: ignore[attr-defined]
        batched = gpu.generate(gen_prompts, max_new_tokens=8)
        gpu.max_batch_size = 1  # type: ignore[attr-defined]
        alone = gpu.generate(gen_prompts, max_new_tokens=8)
        if len(batched) != len(gen_prompts) or not all(isinstance(t, str) for t in batched):
            raise RuntimeError(f"generate returned {len(batched)} outputs for {len(gen_prompts)}")
        return {
            "backend": repr(gpu),
            "reference": repr(cpu),
            "score_cuda_bf16_vs_cpu_fp32": _errors(gpu_scores, cpu_scores),
            "score_cuda_batched_vs_alone": _errors(gpu_scores, gpu_single),
            "generate_prompts": len(gen_prompts),
            "generate_nonempty": sum(bool(t.strip()) for t in batched),
            "generate_batched_equals_alone": sum(
                a == b for a, b in zip(batched, alone, strict=True)
            ),
            "generate_sample": batched[0][:80],
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True, help="folder from --export-config")
    args = parser.parse_args()
    print(json.dumps(check_cuda_backend(args.config), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
