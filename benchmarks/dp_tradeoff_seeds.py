"""The DP default's share of the k-only gain over several synthetic federations, with a CI.

``dp_tradeoff.py`` measures one federation (``--seed``), and at 40 patients a
hospital which federation is drawn moves the share kept more than anything
the mechanism does (0.72 on seed 0, below 0 on seed 2, whose k-only gain is
13 requests of 684). This runs the documented DP default (epsilon 8 per
round, delta 1e-6, one claim a patient: ``DEFAULT_DP`` of the attack suite,
the values ``strict.yaml`` documents) beside the k-only release (k = 2
subjects) and docs-only on federation seeds ``0 .. --seeds - 1``, with
``dp_tradeoff.py``'s own pipeline (KCG claim selection per hospital, the
server's aggregation, the round's ablation), and records per held-out request
whether each release chose the right tool (and succeeded end to end).

Figure: the pooled share, summed gains over summed gains,
``sum(dp - docs) / sum(k_only - docs)`` over every held-out request of every
seed (a ratio of sums, so a federation with a tiny k-only gain weighs by its
gain instead of dividing by it), with a paired percentile bootstrap CI over
requests (``scipy.stats.bootstrap``; it covers the sampling of requests for
these federations, not the draw of further federations, which the per-seed
shares beside it show). The DP noise is OpenDP's and not seeded; at epsilon 8
(noise scale 0.125) a draw changes a count with probability below 1e-3, so
one draw a seed is what ``--repeats 1`` takes.

Writes ``benchmarks/results/dp_tradeoff_seeds.json``. Run from the repository
root (about a minute a seed on 2 cores):

    .venv/bin/python benchmarks/dp_tradeoff_seeds.py [--seeds 5] [--episodes 40]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dp_tradeoff import DELTA, ORDER_ENCODER, _local

from fical_secure.aggregate.merge import aggregate
from fical_secure.atomic import write_json_atomic
from fical_secure.attacks.runner import DEFAULT_DP
from fical_secure.data.generator import generate_federation
from fical_secure.data.schema import Federation
from fical_secure.evaluation.ablation import run_ablation
from fical_secure.release.dp import Calibration, calibrate
from fical_secure.release.policy import DPPolicy

RESULTS = Path(__file__).resolve().parent / "results" / "dp_tradeoff_seeds.json"
METRICS = ("tool_accuracy", "end_to_end_success")
TARGET = 0.7


def outcomes(fed: Federation, dp: Calibration | None) -> dict[str, dict[str, list[bool]]]:
    """Per held-out request (in the federation's order), for docs-only and the global
    release built with ``dp`` (None: k-only), whether the tool and the whole call were right."""
    local = _local(fed, dp)
    glob = aggregate(list(local.values()), embedder=ORDER_ENCODER, threshold=0.97)
    with tempfile.TemporaryDirectory() as tmp:
        samples = Path(tmp) / "samples.jsonl"
        run_ablation(
            fed, local, glob, ORDER_ENCODER, conditions=("docs_only", "local", "global"),
            samples=samples,
        )  # fmt: skip
        lines = [json.loads(line) for line in samples.read_text("utf-8").splitlines()]
    by_id = {line["request_id"]: line for line in lines}
    rows = [by_id[r.request_id] for r in fed.eval_requests]
    return {
        cond: {
            "tool_accuracy": [
                row["conditions"][cond]["tool"] == row["gold"]["tool"] for row in rows
            ],
            "end_to_end_success": [bool(row["conditions"][cond]["e2e"]) for row in rows],
        }
        for cond in ("docs_only", "global")
    }


def pooled_share(dp_gain: np.ndarray, k_gain: np.ndarray, resamples: int) -> dict[str, Any]:
    """sum(dp_gain) / sum(k_gain) with a paired percentile bootstrap CI over requests."""
    total = float(k_gain.sum())
    if total <= 0:
        return {"value": None, "ci95": None, "note": "no k-only gain to keep"}

    def ratio(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        denominator = b.sum(axis=axis)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(denominator > 0, a.sum(axis=axis) / denominator, np.nan)

    ci = stats.bootstrap(
        (dp_gain, k_gain), ratio, paired=True, vectorized=True, n_resamples=resamples,
        method="percentile", random_state=np.random.default_rng(0),
    ).confidence_interval  # fmt: skip
    return {
        "value": float(dp_gain.sum()) / total,
        "ci95": [round(float(ci.low), 4), round(float(ci.high), 4)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="federation seeds 0 .. N-1")
    parser.add_argument("--episodes", type=int, default=40, help="member episodes per hospital")
    parser.add_argument("--hospitals", type=int, default=5)
    parser.add_argument("--knowledge-eval", type=int, default=60)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    start = time.perf_counter()
    policy = DPPolicy(
        float(DEFAULT_DP["epsilon"]), float(DEFAULT_DP["delta"]),
        int(DEFAULT_DP["max_claims_per_subject"]), float(DEFAULT_DP["budget_epsilon"]),
    )  # fmt: skip
    assert policy.delta == DELTA  # the same delta as dp_tradeoff.py's rows
    cal = calibrate(policy)
    per_seed: dict[str, Any] = {}
    gains: dict[str, dict[str, list[np.ndarray]]] = {m: {"dp": [], "k": []} for m in METRICS}
    for seed in tqdm(range(args.seeds), desc="federation seeds"):
        fed = generate_federation(
            args.hospitals,
            seed=seed,
            episodes_per_hospital=args.episodes,
            nonmembers_per_hospital=args.episodes,
            knowledge_eval_per_hospital=args.knowledge_eval,
        )
        k_only, dp = outcomes(fed, None), outcomes(fed, cal)
        assert k_only["docs_only"] == dp["docs_only"]  # docs-only sees no release
        row: dict[str, Any] = {"eval_requests": len(fed.eval_requests)}
        for m in METRICS:
            docs = np.array(k_only["docs_only"][m], dtype=float)
            k_gain = np.array(k_only["global"][m], dtype=float) - docs
            dp_gain = np.array(dp["global"][m], dtype=float) - docs
            gains[m]["k"].append(k_gain)
            gains[m]["dp"].append(dp_gain)
            row[m] = {
                "docs_only": round(float(docs.mean()), 4),
                "k_only": round(float(docs.mean() + k_gain.mean()), 4),
                "dp": round(float(docs.mean() + dp_gain.mean()), 4),
                "k_only_gain_requests": int(k_gain.sum()),
                "dp_gain_requests": int(dp_gain.sum()),
                "share_kept": None if k_gain.sum() <= 0 else round(dp_gain.sum() / k_gain.sum(), 4),
            }
        per_seed[str(seed)] = row
    pooled = {
        m: pooled_share(
            np.concatenate(gains[m]["dp"]), np.concatenate(gains[m]["k"]), args.resamples
        )
        for m in METRICS
    }
    tool = pooled["tool_accuracy"]
    record = {
        "benchmark": "dp_tradeoff_seeds",
        "command": " ".join(["python", *sys.argv]),
        "date": dt.date.today().isoformat(),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, CPU only",
        "seconds": round(time.perf_counter() - start, 1),
        "baseline": "k-only release (k = 2 subjects) and docs-only, same federations and requests",
        "setup": {
            "federation": f"synthetic (mechanism test), seeds 0-{args.seeds - 1}",
            "hospitals": args.hospitals,
            "episodes_per_hospital": args.episodes,
            "knowledge_eval_per_hospital": args.knowledge_eval,
            "dp": {**cal.to_dict(), "cap": cal.cap},
            "pipeline": "dp_tradeoff.py's: KCG claim selection per hospital, the server's "
            "aggregation, the round's ablation (no model, scrubber or audit gate)",
            "bootstrap": f"paired percentile, {args.resamples} resamples of requests, seed 0",
        },
        "figures": {"per_seed": per_seed, "pooled_share_kept": pooled},
        "targets": {
            "pooled_gain_kept_tool_accuracy": {
                "target": f">= {TARGET} of the k-only tool-accuracy gain over docs-only, "
                f"epsilon {policy.epsilon:g} per round",
                "measured": tool["value"],
                "ci95": tool["ci95"],
                "met": tool["value"] is not None and tool["value"] >= TARGET,
            }
        },
    }
    write_json_atomic(args.out, record)
    shares = ", ".join(f"{s}: {r['tool_accuracy']['share_kept']}" for s, r in per_seed.items())
    print(
        f"wrote {args.out}: epsilon {policy.epsilon:g} keeps {tool['value']:.3f} "
        f"(95% CI {tool['ci95']}) of the k-only tool-accuracy gain over {args.seeds} "
        f"federations (per seed {shares}) in {record['seconds']} s"
    )


if __name__ == "__main__":
    main()
