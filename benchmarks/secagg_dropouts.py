"""The full secure-aggregation dropout matrix, recorded.

    .venv/bin/python benchmarks/secagg_dropouts.py [--sizes 3,5,10,50,100] [--seeds 20]
        [--workers 1]

For every n, seed and stage (advertise keys, share keys, masked input,
consistency check, unmask): dropouts of 0, 10, 20 and 30 % at that stage, and
exactly t and t - 1 survivors (of all clients on the complete graph, of one
random client's closed neighbourhood on the SecAgg+ k-regular graph). Each case
runs a complete in-process round (:func:`run_secagg_round`) and is compared with
the dropout oracle of the tests (``tests/secagg_helpers.oracle``, written from
the protocol's rules): where the oracle says t survive every stage the round
must return the exact sum of the survivors' inputs, otherwise it must abort with
:class:`SecAggAbort` and no sum. Any other outcome is a failure and is listed.
The same cases run under ``pytest -m bench`` (tests/test_secagg_dropouts.py).
Writes ``benchmarks/results/secagg_dropouts.json``.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from secagg_helpers import BITS, LENGTH, expected_sum, inputs_for, oracle  # noqa: E402

from benchmarks.envelope import machine  # noqa: E402
from fical_secure.atomic import write_json_atomic  # noqa: E402
from fical_secure.errors import SecAggAbort  # noqa: E402
from fical_secure.protocol.secagg import Federation, SecAggParams, run_secagg_round  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "secagg_dropouts.json"
STAGES = ("advertise_keys", "share_keys", "masked_input", "consistency_check", "unmask")
FRACTIONS = (0.0, 0.1, 0.2, 0.3)


def _case(n: int, seed: int, stage: int, kind: str) -> dict[str, Any]:
    """One round; ``kind`` is ``"frac=F"`` or ``"t"`` / ``"t-1"``."""
    fed = Federation.create(n, bits=BITS, length=LENGTH)
    p: SecAggParams = fed.server.params
    if kind.startswith("frac="):
        fraction = float(kind[5:])
        rng = random.Random(seed * 1000 + n * 10 + stage)
        dropped = set(rng.sample(range(n), round(fraction * n)))
    else:
        missing = 1 if kind == "t-1" else 0
        rng = random.Random(seed * 7919 + n * 31 + stage * 2 + missing)
        pool = sorted(range(n)) if p.complete else sorted(p.closed(rng.randrange(n)))
        dropped = set(rng.sample(pool, len(pool) - p.threshold + missing))
    ids = p.participants
    inputs = inputs_for(fed, seed)
    want = oracle(p, {stage: dropped})
    row = {"n": n, "seed": seed, "stage": STAGES[stage], "kind": kind, "dropped": len(dropped)}
    try:
        out = run_secagg_round(fed, inputs, dropouts={stage: {ids[i] for i in dropped}})
    except SecAggAbort as exc:
        row["outcome"] = "abort"
        row["ok"] = want is None
        row["detail"] = str(exc)[:200]
        return row
    exact = bool(np.array_equal(out.total, expected_sum(inputs, out.survivors)))
    survivors_ok = want is not None and set(out.survivors) == {ids[i] for i in want}
    row["outcome"] = "sum"
    row["ok"] = exact and survivors_ok and fed.server.refused == []
    row["exact_sum"] = exact
    return row


def _cases(sizes: list[int], seeds: int) -> list[tuple[int, int, int, str]]:
    kinds = [f"frac={f}" for f in FRACTIONS] + ["t", "t-1"]
    return [
        (n, seed, stage, kind)
        for n in sizes
        for seed in range(seeds)
        for stage in range(len(STAGES))
        for kind in kinds
    ]


def _run(args: tuple[int, int, int, str]) -> dict[str, Any]:
    return _case(*args)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="3,5,10,50,100")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    cases = _cases(sizes, args.seeds)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with multiprocessing.Pool(args.workers) as pool:
        for i, row in enumerate(pool.imap_unordered(_run, cases, chunksize=1), 1):
            rows.append(row)
            if i % 20 == 0 or i == len(cases) or not row["ok"]:
                mark = "" if row["ok"] else f"  FAILED {row}"
                print(f"[{i}/{len(cases)}] {time.perf_counter() - started:.0f} s{mark}", flush=True)
    per_n: dict[str, Any] = {}
    for n in sizes:
        mine = [r for r in rows if r["n"] == n]
        fed = Federation.create(n, bits=BITS, length=LENGTH)
        p = fed.server.params
        per_n[f"n={n}"] = {
            "graph": p.describe() if hasattr(p, "describe") else None,
            "threshold": p.threshold,
            "cases": len(mine),
            "exact_sums": sum(r["outcome"] == "sum" and r.get("exact_sum", False) for r in mine),
            "typed_aborts": sum(r["outcome"] == "abort" for r in mine),
            "agree_with_oracle": sum(r["ok"] for r in mine),
            "failures": [r for r in mine if not r["ok"]][:20],
        }
    failures = sum(not r["ok"] for r in rows)
    result = {
        "benchmark": "secagg_dropouts",
        "command": "benchmarks/secagg_dropouts.py"
        + (f" --sizes {args.sizes}" if args.sizes != "3,5,10,50,100" else "")
        + (f" --seeds {args.seeds}" if args.seeds != 20 else "")
        + (f" --workers {args.workers}" if args.workers != 1 else ""),
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "baseline": "the dropout oracle written from the protocol's rules"
        " (tests/secagg_helpers.py)",
        "figures": {
            "cases": len(rows),
            "seconds": round(time.perf_counter() - started, 1),
            "per_n": per_n,
        },
        "targets": {
            "cases_agreeing_with_the_oracle": {
                "target": "all: the exact sum when t survive every stage, else a typed abort",
                "measured": len(rows) - failures,
                "met": failures == 0,
            }
        },
    }
    write_json_atomic(RESULTS, result)
    print(
        f"dropout matrix: {len(rows)} rounds, {len(rows) - failures} agree with the oracle,"
        f" {failures} failures, {result['figures']['seconds']} s -> {RESULTS.relative_to(ROOT)}"
    )
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
