"""The shrinking decode batch (``fical_secure.llm.greedy``) against transformers' ``generate``.

On a CUDA machine, two parts:

* **agreement**: a tiny random Llama in float32 (``tests/tiny_llama.py``): the
  greedy tokens of :func:`greedy_new_ids` against ``generate``'s, rows ending
  at an end-of-sequence token at different steps, prefilled in chunks of 2;
* **speed**: a 0.5B-class model built from Qwen2-0.5B's published config
  (random weights, bf16): prompts of 256 tokens whose rows end after as many
  tokens as the demo's argument filler wrote (9-40, most about 10), decoded
  by ``generate`` in batches of 16 (each runs until its longest row ends: what
  the old path did) and by :func:`greedy_new_ids` over 16 and 64 rows at a
  time. Seconds are medians of 3 after a warm-up.

Usage (on the GPU machine): ``python benchmarks/gpu_greedy.py`` writes
``benchmarks/results/gpu_greedy.json``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from benchmarks.gpu_llm import QWEN2_05B, build, median_seconds  # noqa: E402
from fical_secure.llm.greedy import greedy_new_ids  # noqa: E402

RESULT = ROOT / "benchmarks" / "results" / "gpu_greedy.json"
PROMPT, ROWS = 256, 64
# output lengths of the demo's 66 constrained calls (tokens, end-of-sequence included)
DEMO_LENGTHS = [9, 10, 10, 10, 10, 10, 11, 11, 12, 12, 12, 17, 19, 26, 26, 40] * 4


class EndAfter:
    """Row masks that mask nothing and end row ``r`` after ``lengths[r]`` tokens."""

    def __init__(self, lengths: Sequence[int]) -> None:
        self.lengths, self.seen = list(lengths), [0] * len(lengths)

    def apply(self, logits: Any, rows: Sequence[int]) -> None:
        return None

    def accept(self, row: int, token: int) -> bool:
        self.seen[row] += 1
        return self.seen[row] >= self.lengths[row]


def agreement() -> dict[str, Any]:
    from tiny_llama import hf_greedy, tiny_llama

    model = tiny_llama(max_len=512).model.to("cuda")
    rows = [[5, 6, 7, 8, 9, 10, 11], [12, 13, 14], [40, 41, 42, 43, 44, 45, 46], [60, 61]]
    free = greedy_new_ids(model, rows, 30, eos_ids=(), pad_id=0, prefill_rows=2)
    eos = free[2][3]
    got = greedy_new_ids(model, rows, 30, eos_ids={eos}, pad_id=0, prefill_rows=2)
    ref = [r[: r.index(eos) + 1] if eos in r else r for r in hf_greedy(model, rows, 30, eos)]
    return {"rows": len(rows), "same_as_generate": got == ref, "lengths": [len(r) for r in got]}


def speed() -> dict[str, Any]:
    import torch

    model = build(QWEN2_05B)
    prompts = torch.randint(1, QWEN2_05B["vocab_size"], (ROWS, PROMPT)).tolist()
    lengths = DEMO_LENGTHS[:ROWS]

    def old() -> None:
        for start in range(0, ROWS, 16):
            ids = torch.tensor(prompts[start : start + 16], device="cuda")
            new = max(lengths[start : start + 16])
            with torch.inference_mode():
                model.generate(
                    input_ids=ids,
                    do_sample=False,
                    max_new_tokens=new,
                    min_new_tokens=new,
                    pad_token_id=0,
                )

    def shrinking(group: int) -> None:
        for start in range(0, ROWS, group):
            greedy_new_ids(
                model,
                prompts[start : start + group],
                max(lengths),
                eos_ids=(),
                pad_id=0,
                prefill_rows=16,
                masks=EndAfter(lengths[start : start + group]),
            )

    out: dict[str, Any] = {"generate_batches_of_16_s": median_seconds(old, 3)}
    for group in (16, 64):
        seconds = median_seconds(lambda g=group: shrinking(g), 3)
        out[f"shrinking_{group}_rows_s"] = seconds
        out[f"shrinking_{group}_rows_speedup"] = out["generate_batches_of_16_s"] / seconds
        print(f"shrinking {group}: {seconds:.3f} s", flush=True)
    return out


def main() -> int:
    import torch

    record = {
        "benchmark": "gpu_greedy",
        "command": "python benchmarks/gpu_greedy.py",
        "date": time.strftime("%Y-%m-%d"),
        "device": torch.cuda.get_device_name(0),
        "baseline": "transformers generate, batches of 16 run to their longest row (the old path)",
        "setup": {
            "model": "qwen2-0.5b-class, random weights, bf16",
            "prompt_tokens": PROMPT,
            "rows": ROWS,
            "row_lengths": "the demo argument filler's output lengths (9-40 tokens)",
        },
        "figures": {"agreement_float32_tiny_llama": agreement(), "speed": speed()},
    }
    text = json.dumps(record, indent=1)
    RESULT.write_text(text + "\n", encoding="utf-8")
    print(text)
    fig = record["figures"]["speed"]
    print(
        f"gpu_greedy: generate {fig['generate_batches_of_16_s']:.3f} s, shrinking 16 rows "
        f"{fig['shrinking_16_rows_s']:.3f} s, 64 rows {fig['shrinking_64_rows_s']:.3f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
