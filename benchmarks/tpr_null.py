"""What TPR at 1% FPR a release that leaks nothing shows: the null of the leakage target.

``fical-secure attack`` reports, per released row, the largest TPR at 1% FPR
over its six membership attacks (``tpr_at_low_fpr``, with ``max_over_attacks``
and a Bonferroni p-value beside it), against the target <= 0.02. Under no
leakage member and non-member scores are exchangeable; this benchmark draws
them so (independent uniforms, ``--draws`` games per size) and runs the
suite's own estimator (:func:`fical_secure.audit.metrics.tpr_at_fpr`, the
ROC interpolated at 1% FPR) on each, for one attack and for the largest of
six independent attacks (six correlated attacks give a maximum between the
two). The baseline in the same run is the target itself: the share of
leak-free games whose figure exceeds 0.02 says how often a release with no
leak at all misses it at that many records a side.

    .venv/bin/python benchmarks/tpr_null.py [--draws 2000]

Writes ``benchmarks/results/tpr_null.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.envelope import machine
from fical_secure.atomic import write_json_atomic
from fical_secure.audit.metrics import tpr_at_fpr

RESULTS = Path(__file__).resolve().parent / "results" / "tpr_null.json"
SIZES = (300, 1000, 3000)
ATTACKS = 6
TARGET = 0.02


def null_figures(n: int, draws: int, rng: np.random.Generator) -> dict[str, float]:
    """One attack's and the largest of ``ATTACKS`` attacks' TPR at 1% FPR over ``draws``
    leak-free games of ``n`` members and ``n`` non-members."""
    one, largest = np.empty(draws), np.empty(draws)
    for d in range(draws):
        values = [tpr_at_fpr(rng.random(n), rng.random(n), 0.01).value for _ in range(ATTACKS)]
        one[d], largest[d] = values[0], max(values)
    return {
        "one_attack_mean": round(float(one.mean()), 4),
        "one_attack_q95": round(float(np.quantile(one, 0.95)), 4),
        "one_attack_share_above_target": round(float((one > TARGET).mean()), 4),
        "max_of_6_mean": round(float(largest.mean()), 4),
        "max_of_6_q95": round(float(np.quantile(largest, 0.95)), 4),
        "max_of_6_share_above_target": round(float((largest > TARGET).mean()), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, default=2000, help="leak-free games per size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    figures: dict[str, dict[str, float]] = {}
    for n in SIZES:
        print(f"tpr_null: {n} a side, {args.draws} games", file=sys.stderr, flush=True)
        figures[f"{n}_a_side"] = null_figures(n, args.draws, rng)
    at_300 = figures["300_a_side"]["max_of_6_share_above_target"]
    record = {
        "benchmark": "tpr_null",
        "command": " ".join(["python", *sys.argv]),
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "baseline": f"the leakage target itself (TPR at 1% FPR <= {TARGET}), on games with no leak",
        "setup": {"draws": args.draws, "attacks": ATTACKS, "seed": args.seed, "fpr": 0.01},
        "figures": figures,
        "notes": "Member and non-member scores are i.i.d. uniform (no leak); the estimator is "
        "the suite's. Six independent attacks bound the suite's six correlated ones from above, "
        "one attack from below.",
        "targets": {
            "leak_free_release_meets_target_at_300_a_side": {
                "target": "a release with no leak meets <= 0.02 in at least 95% of games",
                "measured": round(1.0 - at_300, 4),
                "met": at_300 <= 0.05,
            }
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_json_atomic(args.out, record)
    print(f"tpr_null: {len(SIZES)} sizes in {record['seconds']} s -> {args.out}")


if __name__ == "__main__":
    main()
