"""Aggregating many anonymous copies of one entry, against a quadratic duplicate check.

    .venv/bin/python benchmarks/anonymous_merge.py [--copies 8000,20000,50000]

Secure-aggregation mode hands aggregation one single-entry compendium per
decoded copy, so the copies of an entry can reach the number of contributors
times the entries a client may send. This times ``anonymous_compendiums`` +
``aggregate`` over N copies of one entry, and, in the same run, the former
duplicate-owner check (``owners.count`` per owner, quadratic in copies) as the
baseline. Writes ``benchmarks/results/anonymous_merge.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.envelope import machine  # noqa: E402
from fical_secure.aggregate.merge import aggregate  # noqa: E402
from fical_secure.atomic import write_json_atomic  # noqa: E402
from fical_secure.pipeline.multiset import anonymous_compendiums  # noqa: E402

ITEM = json.dumps(["entry", "lab_lookup", "usage", "Staff write chem-7 for test BMP."]).encode()
RESULTS = ROOT / "benchmarks" / "results" / "anonymous_merge.json"


def _quadratic_owner_check(owners: list[str]) -> list[str]:
    return sorted({o for o in owners if owners.count(o) > 1})


def measure(copies: int) -> dict[str, float]:
    """Seconds to aggregate ``copies`` anonymous copies, and the baseline check alone."""
    start = time.perf_counter()
    comps, _ = anonymous_compendiums(Counter({ITEM: copies}))
    released = aggregate(comps, min_support=2)
    linear = time.perf_counter() - start
    if released.entries[0].support != copies:
        raise SystemExit("aggregation lost copies")
    start = time.perf_counter()
    _quadratic_owner_check([c.owner for c in comps])
    quadratic = time.perf_counter() - start
    return {"aggregate_s": round(linear, 3), "baseline_owner_check_s": round(quadratic, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", default="8000,20000,50000")
    args = parser.parse_args()
    rows = {str(n): measure(int(n)) for n in args.copies.split(",")}
    largest = rows[max(rows, key=int)]
    record = {
        "benchmark": "anonymous_merge",
        "command": "python benchmarks/anonymous_merge.py " + " ".join(sys.argv[1:]),
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "baseline": "the former quadratic duplicate-owner check (owners.count), same run",
        "figures": rows,
        "targets": {
            "aggregate_s_at_largest": {
                "target": "< 5",
                "measured": largest["aggregate_s"],
                "met": largest["aggregate_s"] < 5,
            }
        },
    }
    write_json_atomic(RESULTS, record)
    print(json.dumps(record["figures"], indent=1))


if __name__ == "__main__":
    main()
