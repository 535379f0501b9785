"""Mutation score of the last ``mutmut run``, per package, error-message-only survivors apart.

    python benchmarks/mutation_score.py [--mutants DIR] [--write [--command C]] [--list-survivors]

Reads mutmut's per-file results (``mutants/**/*.py.meta``) and the mutated
sources beside them. A survivor is *error-message-only* when its function
differs from the original only in the message given to a raised exception
(the arguments of ``raise Error(...)``, all messages in this package): tests
assert the error type, not its wording. The score is killed / (all mutants -
error-message-only survivors - mutants not run); timeouts count as killed
(the mutant hung).
``not_run`` counts mutants a partial run has not reached. ``--write`` records
the figures in benchmarks/results/mutation.json.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import platform
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "mutation.json"
PACKAGES = ("fical_secure/crypto", "fical_secure/protocol/secagg")
KILLED = {1, 3, 36, 37, -24, 24, 152, 255}
SURVIVED = {0}


@dataclass(frozen=True)
class Score:
    """Mutant counts of one package."""

    mutants: int
    killed: int
    survived: int
    message_only_survivors: int
    not_run: int

    @property
    def percent(self) -> float:
        """Killed over the mutants run, error-message-only survivors left out."""
        judged = self.mutants - self.not_run - self.message_only_survivors
        return round(100.0 * self.killed / judged, 1) if judged else 0.0


def _without_raise_messages(node: ast.AST) -> str:
    """The function's AST dump with the arguments of every ``raise X(...)`` removed.

    Every exception of ``fical_secure.errors`` takes one argument, its message.
    """
    for raised in ast.walk(node):
        if isinstance(raised, ast.Raise) and isinstance(raised.exc, ast.Call):
            raised.exc.args, raised.exc.keywords = [], []
    return ast.dump(node, annotate_fields=False)


def _functions(source: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(source.read_text())
    return {
        node.name: node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and "__mutmut_" in node.name
    }


def _is_message_only(functions: dict[str, ast.FunctionDef], mutant: str) -> bool:
    name = mutant.rsplit(".", 1)[1]
    original = functions.get(name.rsplit("__mutmut_", 1)[0] + "__mutmut_orig")
    changed = functions.get(name)
    if original is None or changed is None:
        return False
    changed.name = original.name
    return _without_raise_messages(original) == _without_raise_messages(changed)


def score_file(meta: Path) -> tuple[Counter[str], list[str]]:
    """Counts for one mutated file, and its survivors that change more than a message."""
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    functions = _functions(meta.with_suffix(""))
    counts: Counter[str] = Counter(mutants=len(codes))
    survivors = []
    for mutant, code in codes.items():
        if code in KILLED:
            counts["killed"] += 1
        elif code in SURVIVED:
            counts["survived"] += 1
            if _is_message_only(functions, mutant):
                counts["message_only_survivors"] += 1
            else:
                survivors.append(mutant)
        else:
            counts["not_run"] += 1
    return counts, survivors


def _as_score(counts: Counter[str]) -> Score:
    return Score(**{f: counts[f] for f in Score.__dataclass_fields__})


def score(mutants: Path) -> tuple[dict[str, Score], list[str]]:
    """Scores per package and per mutated file, and every survivor that is not message-only."""
    scores, survivors = {}, []
    for package in PACKAGES:
        total: Counter[str] = Counter()
        for meta in sorted((mutants / package).glob("*.py.meta")):
            counts, kept = score_file(meta)
            if counts["mutants"]:
                scores[f"{package}/{meta.name.removesuffix('.meta')}"] = _as_score(counts)
            total.update(counts)
            survivors += kept
        scores[package] = _as_score(total)
    return scores, survivors


TARGET_PERCENT = 90.0  # per package (issue 22)


def _record(scores: dict[str, Score], command: str, machine: str) -> dict[str, Any]:
    packages = [p for p in scores if p.count("/") < 3 and not p.endswith(".py")]
    return {
        "benchmark": "mutation",
        "tool": "mutmut 3.8.1, pyproject.toml [tool.mutmut]",
        "command": command,
        "date": datetime.date.today().isoformat(),
        "machine": machine or f"{platform.machine()}, {platform.python_version()}",
        "scores": {p: {**asdict(s), "percent": s.percent} for p, s in scores.items()},
        "targets": {
            p: {
                "target": f">= {TARGET_PERCENT}% killed (error-message-only survivors apart)",
                "measured": scores[p].percent,
                "not_run": scores[p].not_run,
                "met": scores[p].percent >= TARGET_PERCENT and scores[p].not_run == 0,
            }
            for p in packages
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=ROOT / "mutants")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--list-survivors", action="store_true")
    parser.add_argument("--command", default="make mutation", help="recorded with --write")
    parser.add_argument("--machine", default="", help="recorded with --write (default: this one)")
    args = parser.parse_args()
    scores, survivors = score(args.mutants)
    for package, s in scores.items():
        print(f"{package}: {s.percent}% {asdict(s)}")
    if args.list_survivors:
        print("\n".join(survivors))
    if args.write:
        RESULTS.write_text(json.dumps(_record(scores, args.command, args.machine), indent=2) + "\n")


if __name__ == "__main__":
    main()
