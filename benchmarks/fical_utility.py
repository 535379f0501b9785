"""FICAL's claim, measured on real tool-use requests: what the global compendium adds
over the docs and over each client's own compendium, against sample sharing.

The benchmark FICAL is judged on: BFCL v4 ``live_multiple`` and ``live_simple``
(the ``bfcl-eval`` wheel's data, converted unfiltered by
``benchmarks/bfcl_federation.py``), each split by issue 18's rule
(``--split thirds``: functions with at least 3 requests, a seeded third of each
function's requests held out, the rest dealt non-IID over 5 clients), for
every seed. Each (dataset, seed) is one full round through ``--data``
(``run_demo``, the code path of ``fical-secure demo``; scrubber on, audit off:
the split writes no non-members), and its ablation gives, in one run, the rows
docs only / local / global / sample sharing / oracle: tool accuracy over the
union catalogue and among the request's own BFCL functions, arguments scored
with BFCL's possible-answer rules, end-to-end success, paired bootstrap CIs of
global - docs only and global - 0.95 x sample sharing, and where calls fail.

The synthetic clinical federation runs too, labelled a *mechanism test*: its
generator plants the phrases its miner mines, so it checks the plumbing, not
FICAL's utility.

Writes ``benchmarks/results/fical_utility.json``. From the repository root:

    .venv/bin/python benchmarks/fical_utility.py [--seeds 0,1]
        [--datasets live_multiple,live_simple] [--filler rule|llm] [--no-synthetic]
        [--jobs N] [--failures]

``--jobs N`` runs the rounds (and the synthetic one) in N processes at once:
each round is independent and seeded, so the figures are those of a serial run.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import os
import platform
import shlex
import sys
from collections.abc import Sequence
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
DATASETS = ("live_multiple", "live_simple")
TARGET_DATASET = "live_multiple"
MIN_SUPPORT = 2
ROW_METRICS = (
    "tool_accuracy",
    "tool_accuracy_candidates",
    "argument_accuracy",
    "end_to_end_success",
    "end_to_end_candidates",
)


def run_bfcl(
    dataset: str,
    seed: int,
    runs: Path,
    *,
    filler: str = "rule",
    min_support: int = MIN_SUPPORT,
    max_eval: int | None = None,
    failures: bool = False,
) -> dict[str, Any]:
    """One round on ``dataset`` split with ``seed``: its figures.

    ``max_eval`` keeps only the first held-out requests (a fast slice for tests);
    ``failures`` writes each request's calls and failure kinds to the round folder's
    ``failures.jsonl``.
    """
    folder = runs / f"{dataset}_seed{seed}" / "federation"
    conversion = build_folder(folder, 5, [dataset], "thirds", seed)
    if max_eval is not None:
        eval_path = folder / "eval.jsonl"
        lines = eval_path.read_text(encoding="utf-8").splitlines()[:max_eval]
        eval_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = run_demo(
        RoundSettings(
            out=runs / f"{dataset}_seed{seed}" / "round",
            data=folder,
            seed=seed,
            use_model=filler == "llm",
            audit=False,
            kcg_min_support=min_support,
            ablation_sample_sharing=True,
            filler=filler,
            progress=False,
            ablation_failures=failures,
        )
    )
    return {**figures(report), "conversion": conversion}


def _means(row: dict[str, Any]) -> dict[str, Any]:
    return {m: row[m] for m in ROW_METRICS}


def figures(report: dict[str, Any]) -> dict[str, Any]:
    """The rows, differences and failure breakdown of one round's ablation."""
    ablation = report["ablation"]
    overall = ablation["overall"]
    return {
        "n_requests": overall["n_requests"],
        "rows": {c: _means(overall[c]) for c in ablation["conditions"]},
        "differences": ablation["differences"],
        "failures": ablation["failures"],
        "by_needs": {
            n: {"n_requests": rows["n_requests"]}
            | {c: _means(rows[c]) for c in ablation["conditions"]}
            for n, rows in ablation["by_needs"].items()
        },
        "global_entries": report.get("global_entries"),
        "compendium_entries": report.get("compendium_entries"),
        "filler": report.get("filler"),
        "seconds": report.get("seconds"),
        "tlu_cpu_seconds": report.get("tlu_cpu_seconds"),
    }


def _mean(fig: dict[str, Any], cond: str, metric: str) -> float:
    return float(fig["rows"][cond][metric]["mean"])


def targets(fig: dict[str, Any], seed: int) -> dict[str, Any]:
    """Issue 18's targets on ``live_multiple`` with k = 2, for one seed's round.

    The end-to-end targets are set for the packaged default model: they are
    judged only on a run with ``--filler llm`` (the rule filler's end-to-end
    figures are recorded beside, not judged).
    """
    tool = fig["differences"]["tool_ok"]["global_minus_docs_only"]
    e2e = fig["differences"]["e2e"]["global_minus_docs_only"]
    share = fig["differences"]["tool_ok"]["global_minus_0.95_sample_sharing"]
    glob_tool, glob_e2e = (
        _mean(fig, "global", "tool_accuracy"),
        _mean(fig, "global", "end_to_end_success"),
    )
    ss_tool = _mean(fig, "sample_sharing", "tool_accuracy")
    ss_e2e = _mean(fig, "sample_sharing", "end_to_end_success")
    at = f"{TARGET_DATASET} seed {seed}"
    tool_targets = {
        f"global_tool_minus_docs_only ({at})": {
            "target": ">= 0.08 with the 95% CI excluding 0",
            "measured": tool["mean"],
            "ci95": tool["ci95"],
            "met": tool["mean"] >= 0.08 and tool["ci95"][0] > 0,
        },
        f"global_tool_over_sample_sharing ({at})": {
            "target": ">= 0.95",
            "measured": round(glob_tool / max(ss_tool, 1e-9), 4),
            "ci95_of_global_minus_0.95_sharing": share["ci95"],
            "met": glob_tool >= 0.95 * ss_tool,
        },
    }
    if fig["filler"] != "llm":
        return tool_targets
    return {
        **tool_targets,
        f"global_end_to_end ({at}, filler {fig['filler']})": {
            "target": ">= 0.20 with the packaged default model",
            "measured": glob_e2e,
            "met": glob_e2e >= 0.20,
        },
        f"global_end_to_end_minus_docs_only ({at})": {
            "target": ">= 0.03",
            "measured": e2e["mean"],
            "ci95": e2e["ci95"],
            "met": e2e["mean"] >= 0.03,
        },
        f"global_end_to_end_over_sample_sharing ({at})": {
            "target": ">= 0.9",
            "measured": round(glob_e2e / max(ss_e2e, 1e-9), 4),
            "met": glob_e2e >= 0.9 * ss_e2e,
        },
    }


def synthetic_mechanism_test(runs: Path) -> dict[str, Any]:
    """The synthetic federation's round (packaged model for KCG, scrubber and audit on)."""
    report = run_demo(
        RoundSettings(out=runs / "synthetic", ablation_sample_sharing=True, progress=False)
    )
    return {
        "label": "mechanism test: the generator plants the phrases the miner mines; held-out "
        "requests are a uniform seeded sample of each hospital's requests",
        **figures(report),
        "federated_gain": report["ablation"]["federated_gain"],
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--filler", choices=("rule", "llm"), default="rule")
    parser.add_argument("--min-support", type=int, default=MIN_SUPPORT)
    parser.add_argument("--no-synthetic", action="store_true")
    parser.add_argument("--runs", type=Path, default=RUNS)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--failures",
        action="store_true",
        help="write per-request calls and failure kinds to <runs>/<round>/failures.jsonl",
    )
    parser.add_argument("--jobs", type=int, default=1, help="rounds run at once (processes)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    seeds = [int(s) for s in args.seeds.split(",") if s]
    rounds = [(d, seed) for d in args.datasets.split(",") if d for seed in seeds]
    bfcl: dict[str, Any] = {}
    goals: dict[str, Any] = {}
    with concurrent.futures.ProcessPoolExecutor(max(1, args.jobs)) as pool:
        synthetic = None if args.no_synthetic else pool.submit(synthetic_mechanism_test, args.runs)
        running = [
            pool.submit(
                run_bfcl,
                d,
                seed,
                args.runs,
                filler=args.filler,
                min_support=args.min_support,
                failures=args.failures,
            )
            for d, seed in rounds
        ]
        for (dataset, seed), future in zip(rounds, running, strict=True):
            fig = future.result()
            bfcl.setdefault(dataset, {})[f"seed_{seed}"] = fig
            if dataset == TARGET_DATASET and args.min_support == MIN_SUPPORT:
                goals.update(targets(fig, seed))
            print(f"{dataset} seed {seed}: " + _line(fig), flush=True)
        result_figures: dict[str, Any] = {"bfcl": bfcl}
        if synthetic is not None:
            result_figures["synthetic_mechanism_test"] = synthetic.result()
    command = " ".join(
        [".venv/bin/python", "benchmarks/fical_utility.py", *map(shlex.quote, sys.argv[1:])]
    )
    result = {
        "benchmark": "fical_utility",
        "command": command,
        "date": dt.date.today().isoformat(),
        "machine": f"{os.cpu_count()} CPU cores (shared), {platform.machine()}, no GPU",
        "baseline": "docs_only (the tool catalogue alone) and sample_sharing (raw member "
        "requests of every client), same agent, same held-out requests, same run",
        "figures": result_figures,
        "targets": goals,
        "notes": [
            "BFCL split (benchmarks/bfcl_federation.py --split thirds --seed N): functions with "
            ">= 3 requests; a seeded third of each function's requests held out; the rest "
            "dealt over 5 clients by per-function Dirichlet(0.5) shares; a held-out request is "
            "asked by a uniformly drawn client (needs=local if it holds an example of the "
            "function, else elsewhere). The catalogue is every function the dataset's requests "
            "carry (the union catalogue).",
            "tool_accuracy: top-1 over the union catalogue; tool_accuracy_candidates: top-1 "
            "among the request's own BFCL functions; argument_accuracy: among requests whose "
            "union tool is right; end_to_end: tool and every argument right by BFCL's "
            "possible-answer rules (fical_secure/evaluation/possible_answer.py).",
            "CIs: 95% percentile bootstrap over requests (1000 resamples, the round's seed); "
            "differences are paired. global_minus_0.95_sample_sharing above 0 means global "
            "reaches 95% of sample sharing.",
            "failures: per condition, requests right / wrong tool / right tool with wrong "
            "arguments, the latter by kind of argument (fical_secure/evaluation/failures.py).",
            "oracle: the gold tool and the aliases the demonstrations and the held-out gold "
            "calls show: the ceiling of the argument filler.",
            "filler: rule = the rule-based extraction (no model); llm = the schema-constrained "
            "LLM filler (fical_secure.tlu.fill.SchemaFiller). The end-to-end targets are set for "
            "the packaged default model, so only a --filler llm run judges them "
            "(fical_utility_llm_live_multiple.json); a rule run records its end-to-end "
            "figures without judging them.",
        ],
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(args.results, result)
    for name, goal in goals.items():
        print(f"{name}: {goal['measured']} met={goal['met']}")


def _line(fig: dict[str, Any]) -> str:
    parts = []
    for cond, row in fig["rows"].items():
        tool, cand = row["tool_accuracy"]["mean"], row["tool_accuracy_candidates"]["mean"]
        parts.append(
            f"{cond} tool {tool:.3f} cand {cand:.3f} e2e {row['end_to_end_success']['mean']:.3f}"
        )
    return ", ".join(parts)


if __name__ == "__main__":
    main()
