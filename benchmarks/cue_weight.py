"""Choose the Solver's cue weight (and the cue miner's precision and per-tool cap) by
cross-validation on the TRAINING side of BFCL ``live_multiple`` only.

The held-out requests of the split are never read. The training requests of
every client (split ``--split thirds --seed 0``, as ``fical_utility.py``
does) are cut into ``--folds`` folds, stratified by gold tool with a seeded
shuffle. For each fold and each cue configuration (precision x per-tool cap),
every client mines its compendium from its own training requests outside the
fold (k = 2, no model, no scrubber), the server aggregates them as the round
does (``aggregate``, dedupe threshold 0.97, k-support 1), and the fold's
requests are ranked by the Solver over the union catalogue plus that global
compendium, for every cue weight on the grid. The figure is top-1 tool
accuracy, averaged over folds; weight 0 is the baseline (the same global
compendium in the index, no cue bonus). The configuration and weight with the
best mean accuracy are the defaults to ship.

``--ranking`` keeps the shipped miner configuration and grids the Solver's
side instead: cue weight x cue support cap (1 to 3) x plural folding on/off,
recorded under ``ranking`` in the same results file (the miner grid stays).

    .venv/bin/python benchmarks/cue_weight.py [--seed 0] [--folds 3] [--ranking]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bfcl_federation import build_folder

from fical_secure.aggregate import aggregate
from fical_secure.atomic import write_json_atomic
from fical_secure.data.schema import Episode
from fical_secure.data.storage import load_federation
from fical_secure.evaluation.ablation import CachedEncoder
from fical_secure.kcg.knowledge import KnowledgeConfig, build_knowledge
from fical_secure.tlu.embedding import default_embedder
from fical_secure.tlu.index import ToolIndex
from fical_secure.tlu.knowledge import Knowledge
from fical_secure.tlu.solver import CUE_FOLD, CUE_SUPPORT_CAP, Solver

RESULTS = Path(__file__).resolve().parent / "results" / "cue_weight.json"
WEIGHTS = (0.0, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3)
PRECISIONS = (0.6, 0.8)
PER_TOOL = (5, 10)
SUPPORT_CAPS = (1, 2, 3)
KEPT_PREFIXES = ("ranking", "held_out")  # sections a miner-grid rerun leaves in place
DEDUPE_THRESHOLD = 0.97


def folds_of(episodes: Sequence[Episode], n_folds: int, seed: int) -> dict[str, int]:
    """Episode id -> fold, stratified by gold tool (a seeded shuffle per tool)."""
    rng = np.random.default_rng(seed)
    by_tool: dict[str, list[str]] = defaultdict(list)
    for e in sorted(episodes, key=lambda e: e.episode_id):
        by_tool[e.call.tool].append(e.episode_id)
    fold: dict[str, int] = {}
    offset = 0
    for tool in sorted(by_tool):
        ids = [by_tool[tool][i] for i in rng.permutation(len(by_tool[tool]))]
        for i, eid in enumerate(ids):
            fold[eid] = (i + offset) % n_folds
        offset += len(ids)  # spread tools' remainders over the folds
    return fold


def ranking_best(record: dict[str, Any]) -> dict[str, Any]:
    """The Solver configuration and weight with the best top-1 averaged over the seeds' grids."""
    grids = {
        k.removeprefix("ranking_seed"): v["figures"]["top1_accuracy"]
        for k, v in sorted(record.items())
        if k.startswith("ranking_seed")
    }
    cells = [(key, w) for key, row in next(iter(grids.values())).items() for w in row]
    cells = [(key, w) for key, w in cells if all(w in g.get(key, {}) for g in grids.values())]
    mean = {c: float(np.mean([g[c[0]][c[1]] for g in grids.values()])) for c in cells}
    key, weight = max(cells, key=lambda c: (mean[c], -float(c[1])))
    return {
        "seeds": sorted(grids),
        "config": key,
        "cue_weight": float(weight),
        "mean_top1_accuracy": round(mean[(key, weight)], 4),
        "per_seed": {s: g[key][weight] for s, g in grids.items()},
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--runs", type=Path, default=Path("runs/cue_weight"))
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--ranking",
        action="store_true",
        help="only the shipped miner config; grid over the Solver's cue support cap",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    folder = args.runs / f"live_multiple_seed{args.seed}"
    build_folder(folder, 5, ["live_multiple"], "thirds", args.seed)
    fed = load_federation(folder)
    members = {h.hospital_id: list(h.members) for h in fed.hospitals}
    fold = folds_of([e for eps in members.values() for e in eps], args.folds, args.seed)
    encoder = CachedEncoder(default_embedder())
    right: dict[str, dict[float, int]] = defaultdict(lambda: defaultdict(int))
    n_scored = 0
    for f in range(args.folds):
        test = [e for eps in members.values() for e in eps if fold[e.episode_id] == f]
        requests = [e.request for e in test]
        n_scored += len(test)
        configs = (
            [(KnowledgeConfig().cue_precision, KnowledgeConfig().cues_per_tool)]
            if args.ranking
            else [(p, n) for p in PRECISIONS for n in PER_TOOL]
        )
        for precision, per_tool in configs:
            config = KnowledgeConfig(
                cue_precision=precision, cues_per_tool=per_tool, paraphrase=False
            )
            comps = [
                build_knowledge(
                    [e for e in eps if fold[e.episode_id] != f],
                    fed.catalogue,
                    None,
                    client_id=h,
                    config=config,
                    progress=False,
                )
                for h, eps in members.items()
                if any(fold[e.episode_id] != f for e in eps)
            ]
            glob = aggregate(comps, embedder=encoder, threshold=DEDUPE_THRESHOLD)
            index = ToolIndex(encoder, glob, fed.catalogue)
            knowledge = Knowledge.from_compendium(glob)
            variants = (
                [(c, fo) for c in SUPPORT_CAPS for fo in (False, True)]
                if args.ranking
                else [(CUE_SUPPORT_CAP, CUE_FOLD)]
            )
            for cap, fold_plural in variants:
                key = f"precision={precision},per_tool={per_tool}"
                key += f",support_cap={cap},fold={fold_plural}" if args.ranking else ""
                for weight in WEIGHTS:
                    solver = Solver(
                        index,
                        fed.catalogue,
                        knowledge,
                        cue_weight=weight,
                        cue_support_cap=cap,
                        cue_fold=fold_plural,
                    )
                    top = [r[0][0] for r in solver.rank(requests)]
                    right[key][weight] += sum(
                        t == e.call.tool for t, e in zip(top, test, strict=True)
                    )
                print(
                    f"fold {f} {key}: " + " ".join(f"{w}:{right[key][w]}" for w in WEIGHTS),
                    flush=True,
                )
    accuracy = {
        key: {str(w): round(n / n_scored, 4) for w, n in sorted(row.items())}
        for key, row in right.items()
    }
    best_key, best_w = max(
        ((k, w) for k, row in right.items() for w in row),
        key=lambda kw: (right[kw[0]][kw[1]], -kw[1]),
    )
    baseline = right[best_key][0.0] / n_scored
    command = " ".join(
        [".venv/bin/python", "benchmarks/cue_weight.py", *map(shlex.quote, sys.argv[1:])]
    )
    result: dict[str, Any] = {
        "benchmark": "cue_weight",
        "command": command,
        "date": dt.date.today().isoformat(),
        "machine": f"{os.cpu_count()} CPU cores (shared, load {os.getloadavg()[0]:.1f}), "
        f"{platform.machine()}, no GPU",
        "baseline": "cue weight 0 (same global compendium in the index, no cue bonus), "
        "same folds, same run",
        "figures": {
            "n_training_requests_scored": n_scored,
            "folds": args.folds,
            "top1_accuracy": accuracy,
            "best": {
                "config": best_key,
                "cue_weight": best_w,
                "top1_accuracy": round(right[best_key][best_w] / n_scored, 4),
                "gain_over_weight_0": round(right[best_key][best_w] / n_scored - baseline, 4),
            },
        },
        "notes": [
            "Training side only: the members of every client of the live_multiple thirds split "
            f"(seed {args.seed}); held-out requests never read. No scrubber (the round's "
            "scrubber can only remove cue phrases).",
        ],
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    earlier = json.loads(args.results.read_text("utf-8")) if args.results.exists() else {}
    if args.ranking:  # the Solver's grid sits beside the miner's, which it does not redo
        record = {**earlier, f"ranking_seed{args.seed}": result}
        record["ranking_best"] = ranking_best(record)
    else:
        record = {**result, **{k: v for k, v in earlier.items() if k.startswith(KEPT_PREFIXES)}}
    write_json_atomic(args.results, record)
    print(result["figures"]["best"])


if __name__ == "__main__":
    main()
