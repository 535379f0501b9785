"""FICAL's claim, measured: what the global compendium adds over the docs, over each
hospital's local compendium, and against sample sharing, on the same held-out requests.

Two federations, both run as a full round (``run_demo``, the code path of
``fical-secure demo``):

1. the synthetic clinical federation (5 hospitals, seed 0), with the packaged
   SmolLM2-135M for KCG paraphrases, the scrubber and the audit gate on;
2. BFCL v4 live requests (``benchmarks/bfcl_federation.py``: the
   ``bfcl-eval`` package's data split by tool home, label skew) through
   ``--data``, with the scrubber on, no model (``--no-model``) and no audit
   (``--no-audit``: the audit's cost is linear in the records).

Writes ``benchmarks/results/fical_utility.json``. Run from the repository root:

    .venv/bin/python benchmarks/fical_utility.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bfcl_federation import build_folder

from fical_secure.atomic import write_json_atomic
from fical_secure.pipeline.demo import run_demo
from fical_secure.pipeline.state import RoundSettings

RESULTS = Path(__file__).resolve().parent / "results" / "fical_utility.json"
RUNS = Path("runs/fical_utility")


def _e2e(rows: dict[str, Any], cond: str) -> float:
    return float(rows[cond]["end_to_end_success"]["mean"])


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    ablation = report["ablation"]
    return {
        "overall": ablation["overall"],
        "by_needs": ablation["by_needs"],
        "per_hospital": ablation["per_hospital"],
        "federated_gain": ablation["federated_gain"],
        "global_minus_docs_only_end_to_end": ablation["global_minus_docs_only"],
        "global_entries": report.get("global_entries"),
        "compendium_entries": report.get("compendium_entries"),
        "recheck_dropped": report.get("recheck_dropped"),
        "model_check": report.get("model_check"),
        "tlu_cpu_seconds": report.get("tlu_cpu_seconds"),
        "seconds": report.get("seconds"),
    }


def _targets(report: dict[str, Any]) -> dict[str, Any]:
    ablation = report["ablation"]
    overall = ablation["overall"]
    diff = ablation["global_minus_docs_only"]
    ratio = _e2e(overall, "global") / max(_e2e(overall, "sample_sharing"), 1e-9)
    gains = {
        h: g["elsewhere"]
        for h, g in ablation["federated_gain"].items()
        if g.get("elsewhere", {}).get("n", 0) > 0
    }
    all_gain = all(g["mean"] > 0 and g["excludes_zero"] for g in gains.values())
    tlu = float(report["seconds"]["tlu"])
    return {
        "global_e2e_minus_docs_only": {
            "target": ">= 0.15",
            "measured": diff["mean"],
            "ci95": diff["ci95"],
            "met": diff["mean"] >= 0.15,
        },
        "global_e2e_over_sample_sharing": {
            "target": ">= 0.9",
            "measured": round(ratio, 4),
            "met": ratio >= 0.9,
        },
        "global_gt_local_on_elsewhere_requests_every_hospital": {
            "target": "mean > 0 and 95% CI excludes 0 for every hospital with such requests",
            "measured": {h: {"mean": g["mean"], "ci95": g["ci95"]} for h, g in gains.items()},
            "met": bool(gains) and all_gain,
        },
        "tlu_stage_seconds": {
            "target": "< 30 (2 CPU cores)",
            "measured": tlu,
            "cpu_seconds": report.get("tlu_cpu_seconds"),
            "met": tlu < 30,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--filler",
        choices=("rule", "llm"),
        default="rule",
        help="argument filler of the BFCL round (the synthetic round uses its model: auto)",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    synthetic = run_demo(
        RoundSettings(out=RUNS / "synthetic", ablation_sample_sharing=True, progress=False)
    )
    folder = RUNS / "bfcl_federation"
    conversion = build_folder(folder)
    public = run_demo(
        RoundSettings(
            out=RUNS / "bfcl",
            data=folder,
            use_model=False,
            audit=False,
            ablation_sample_sharing=True,
            progress=False,
            filler=args.filler,
        )
    )
    result = {
        "benchmark": "fical_utility",
        "command": f".venv/bin/python benchmarks/fical_utility.py --filler {args.filler}",
        "date": dt.date.today().isoformat(),
        "machine": f"{os.cpu_count()} CPU cores (shared), {platform.machine()}, no GPU",
        "baseline": "docs_only (the tool catalogue alone) and sample_sharing (raw demonstrations "
        "of all hospitals), same agent, same held-out requests, same run",
        "figures": {
            "synthetic": _figures(synthetic),
            "bfcl_live": {
                **_figures(public),
                "conversion": conversion,
                "split_rule": "tool home = sha256(tool) mod 5 (label skew); see "
                "benchmarks/bfcl_federation.py",
            },
        },
        "targets": _targets(synthetic),
        "notes": [
            "CIs: 95% percentile bootstrap over requests (1000 resamples, seed 0); "
            "differences are paired.",
            "The ablation's agent uses no model: retrieval + lexical value evidence + the "
            "compendium's aliases; model_check records whether the 135M model's score adds "
            "tool accuracy on training (dev) requests.",
            "oracle: the gold tool, and aliases mined from the demonstrations and the held-out "
            "requests' own gold calls: the ceiling of this argument filler.",
            "BFCL figures carry no target: they are recorded as measured.",
        ],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(RESULTS, result)
    t = result["targets"]
    print(
        "fical_utility: "
        + ", ".join(
            f"{k} {v['measured']} met={v['met']}"
            for k, v in t.items()
            if not isinstance(v["measured"], dict)
        )
    )


if __name__ == "__main__":
    main()
