"""Argument filling on BFCL ``live_multiple``: the rules vs the model under the tool's schema.

Held-out requests of ``benchmarks/bfcl_federation.py --split thirds``
(functions asked at least 3 times, a third of each held out). Four rows: the
gold tool (oracle tool) or the tool the project's Solver picks over the union
catalogue (docs only, MiniLM retrieval), each with the rule filler and with
the schema-constrained LLM filler (packaged SmolLM2-135M, CPU). Both go
through ``Solver.act``, the code path of the round's ablation.

Scoring: BFCL's possible-answer semantics, re-implemented from
``bfcl_eval``'s AST checker (its module imports every model handler, so it is
not imported): the function name must match; every parameter the output
gives must be one the answer lists, every required one must be given; a
parameter left out must allow omission (``""`` among its options); strings
compare after BFCL's standardisation (case, spaces and ``,./-_*^`` removed),
lists and dicts element by element. Also the project's exact match against
the first option (``same_value``). Failures are broken down by argument kind.

Rows named ``..._hints`` add :func:`member_hints` as the agent's argument
knowledge (a hand-written stand-in); rows named ``..._kcg`` add the argument
claims KCG mines and re-verifies on each member client (k = 2), through the
client's scrubber, joined as a global compendium's entries (:func:`kcg_knowledge`;
no membership-inference gate).

    PYTHONPATH=. .venv/bin/python benchmarks/bfcl_fill.py [--n N] [--rows ...] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bfcl_federation import bfcl_data_dir, build_folder

from fical_secure.atomic import write_json_atomic
from fical_secure.data.arg_schema import parameters_schema
from fical_secure.data.function_spec import load_catalogue
from fical_secure.data.schema import ToolSpec
from fical_secure.data.storage import load_federation
from fical_secure.kcg.claims import ARGUMENT_CLAIMS, claim_entry, keep_validated
from fical_secure.kcg.knowledge import validated_claims
from fical_secure.kcg.schema import Compendium, Entry
from fical_secure.llm.loader import load_llm
from fical_secure.scrub.known import KnownIdentifiers
from fical_secure.scrub.scrubber import Scrubber
from fical_secure.scrub.types import Refusal
from fical_secure.tlu.embedding import default_embedder
from fical_secure.tlu.fill import ArgumentFiller, RuleFiller, SchemaFiller
from fical_secure.tlu.hints import ArgumentHint
from fical_secure.tlu.index import ToolIndex
from fical_secure.tlu.knowledge import Knowledge
from fical_secure.tlu.metrics import same_value
from fical_secure.tlu.solver import Solver

RESULTS = Path(__file__).resolve().parent / "results" / "bfcl_fill.json"
FOLDER = Path("runs/bfcl_live_multiple_thirds")


def standardize(text: str) -> str:
    """BFCL's string standardisation (``ast_checker.standardize_string``)."""
    return re.sub(r"[ \,\.\/\-\_\*\^]", "", text).lower().replace("'", '"')


def value_ok(value: Any, options: list[Any]) -> bool:
    """``value`` matches one of a parameter's possible answers."""
    return any(_same(value, o) for o in options if o != "")


def _same(value: Any, option: Any) -> bool:
    if isinstance(option, str):
        return isinstance(value, str) and standardize(value) == standardize(option)
    if isinstance(option, bool) or isinstance(value, bool):
        return value is option
    if isinstance(option, int | float):
        return isinstance(value, int | float) and float(value) == float(option)
    if isinstance(option, list):
        return (
            isinstance(value, list)
            and len(value) == len(option)
            and all(_same(v, o) for v, o in zip(value, option, strict=True))
        )
    if isinstance(option, dict):
        if not isinstance(value, dict) or set(value) - set(option):
            return False
        return all(
            (k in value and value_ok(value[k], opts)) or (k not in value and "" in opts)
            for k, opts in option.items()
        )
    return bool(value == option)


def bfcl_ok(tool: str, args: dict[str, Any], truth: dict[str, Any], schema: dict[str, Any]) -> bool:
    """BFCL possible-answer check of one call (see the module docstring)."""
    ((gold_tool, params),) = truth.items()
    if tool != gold_tool:
        return False
    if set(args) - set(params) or set(schema.get("required", [])) - set(args):
        return False
    return all(
        (name in args and value_ok(args[name], opts)) or (name not in args and "" in opts)
        for name, opts in params.items()
    )


def arg_kind(name: str, opts: list[Any], prop: dict[str, Any], request: str) -> str:
    """The kind of one gold argument, for the failure breakdown."""
    if "" in opts:
        return "optional/default"
    if "enum" in prop:
        return "enum"
    first = opts[0]
    if isinstance(first, bool):
        return "boolean"
    if isinstance(first, int | float):
        return "number"
    if isinstance(first, str):
        low = request.lower()
        return "verbatim span" if any(o.lower() in low for o in opts if o) else "normalised"
    return "array/object"


def breakdown(
    tool_ok: bool, args: dict[str, Any], truth: dict[str, Any], spec: ToolSpec, request: str
) -> list[tuple[str, bool, str, Any, Any]]:
    """(kind, right, name, got, wanted) per gold argument when the tool is right; extras too."""
    if not tool_ok:
        return []
    ((_tool, params),) = truth.items()
    props = parameters_schema(spec).get("properties", {})
    rows = []
    for name, opts in params.items():
        ok = (name in args and value_ok(args[name], opts)) or (name not in args and "" in opts)
        kind = arg_kind(name, opts, props.get(name, {}), request)
        rows.append((kind, ok, name, args.get(name, "(left out)"), opts))
    rows += [("unexpected argument", False, n, args[n], None) for n in args if n not in params]
    return rows


def member_hints(folder: Path, k: int = 2) -> dict[str, dict[str, ArgumentHint]]:
    """Normalisations the member demonstrations show, each in >= ``k`` distinct requests.

    A stand-in for the compendium's argument claims (KCG mines those): for a
    string argument whose value is not written in the request, the value's
    part before its first comma ("New York" of "New York, NY"), when the
    request writes it, is a phrase normalised to the value.
    """
    seen: dict[tuple[str, str, str, str], set[str]] = defaultdict(set)
    for path in sorted(folder.glob("*.members.jsonl")):
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            episode = json.loads(line)
            low = episode["request"].lower()
            for name, value in episode["call"]["arguments"].items():
                if not isinstance(value, str) or value.lower() in low:
                    continue
                phrase = value.split(",")[0].strip().lower()
                if len(phrase) >= 2 and phrase in low:
                    seen[(episode["call"]["tool"], name, phrase, value)].add(episode["request"])
    table: dict[str, dict[str, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
    for (tool, name, phrase, value), requests in sorted(seen.items()):
        if len(requests) >= k:
            table[tool][name][phrase] = value
    return {
        tool: {
            name: ArgumentHint(tool, name, normalisations=phrases) for name, phrases in args.items()
        }
        for tool, args in table.items()
    }


def kcg_knowledge(folder: Path, k: int = 2) -> Knowledge:
    """The argument knowledge of every member client's validated argument claims, each
    client's entries through its scrubber (what the scrubber masks is dropped), joined."""
    fed = load_federation(folder)
    entries: list[Entry] = []
    for hospital in fed.hospitals:
        claims = validated_claims(hospital.members, fed.catalogue, k)
        validated = tuple(
            replace(claim_entry(c), support=n) for c, n in claims if isinstance(c, ARGUMENT_CLAIMS)
        )
        scrubber = Scrubber.for_client(fed.catalogue, hospital.tools, KnownIdentifiers())
        results = scrubber.scrub_records([e.text for e in validated])
        scrubbed = tuple(
            replace(e, text=r.scrubbed)
            for e, r in zip(validated, results, strict=True)
            if not isinstance(r, Refusal)
        )
        entries += keep_validated(scrubbed, validated)
    return Knowledge.from_compendium(Compendium("global", tuple(entries)))


def run_row(
    solver: Solver,
    evals: list[dict[str, Any]],
    truths: dict[str, Any],
    catalogue: dict[str, ToolSpec],
    oracle: bool,
) -> dict[str, Any]:
    requests = [e["request"] for e in evals]
    started = time.perf_counter()
    steps = solver.act(requests, tools=[e["gold"]["tool"] for e in evals] if oracle else None)
    seconds = time.perf_counter() - started
    tool_ok, bfcl, exact, kinds = [], [], [], Counter()
    wrong: dict[str, list[dict[str, Any]]] = defaultdict(list)
    failures: list[dict[str, Any]] = []
    for e, step in zip(evals, steps, strict=True):
        args = dict(step.fill.arguments)
        right_tool = step.tool == e["gold"]["tool"]
        truth = truths[e["id"]]
        ok = (
            right_tool
            and step.fill.complete
            and bfcl_ok(step.tool, args, truth, parameters_schema(catalogue[step.tool]))
        )
        gold_args = e["gold"]["arguments"]
        ex = (
            right_tool
            and set(args) == set(gold_args)
            and all(same_value(args[k], v) for k, v in gold_args.items())
        )
        tool_ok.append(right_tool)
        bfcl.append(ok)
        exact.append(ex)
        for kind, good, name, got, wanted in breakdown(
            right_tool, args, truth, catalogue[e["gold"]["tool"]], e["request"]
        ):
            kinds[(kind, good)] += 1
            if not good and len(wrong[kind]) < 6:
                wrong[kind].append({"argument": name, "got": got, "wanted": wanted})
        if right_tool and not ok and len(failures) < 12:
            failures.append({"request": e["request"][:160], "output": args, "truth": truth})
    n = len(evals)
    by_kind = {
        k: {"n": kinds[(k, True)] + kinds[(k, False)], "right": kinds[(k, True)]}
        for k in sorted({k for k, _ in kinds})
    }
    return {
        "n": n,
        "tool_accuracy": round(sum(tool_ok) / n, 4),
        "end_to_end_bfcl": round(sum(bfcl) / n, 4),
        "end_to_end_exact_first_option": round(sum(exact) / n, 4),
        "seconds_per_request": round(seconds / n, 3),
        "arguments_by_kind_when_tool_right": by_kind,
        "failure_samples": failures,
        "wrong_arguments_by_kind": dict(sorted(wrong.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=0, help="first N held-out requests (0: all)")
    parser.add_argument("--rows", default="oracle_rule,oracle_llm,predicted_rule,predicted_llm")
    parser.add_argument(
        "--evidence-optional",
        action="store_true",
        help="optional arguments with evidence stay optional in the decoding schema",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    build_folder(FOLDER, categories=("live_multiple",), split="thirds")
    specs = load_catalogue(FOLDER / "catalogue.json")
    catalogue = {t.name: t for t in specs}
    evals = [json.loads(x) for x in (FOLDER / "eval.jsonl").read_text().splitlines() if x]
    evals = evals[: args.n] if args.n else evals
    answers = bfcl_data_dir() / "possible_answer" / "BFCL_v4_live_multiple.json"
    truths = {}
    for line in answers.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            truths[record["id"]] = record["ground_truth"][0]
    index = ToolIndex(default_embedder(), None, specs)
    llm = load_llm(device="cpu") if "llm" in args.rows else None
    llm_filler = SchemaFiller(llm, evidence_required=not args.evidence_optional) if llm else None
    rows: dict[str, Any] = {}
    hints = member_hints(FOLDER)
    mined = kcg_knowledge(FOLDER) if any(r.endswith("_kcg") for r in args.rows.split(",")) else None
    for row in args.rows.split(","):
        kind, fill, *extra = row.split("_")
        filler: ArgumentFiller = RuleFiller() if fill == "rule" else llm_filler  # type: ignore[assignment]
        knowledge = Knowledge()
        if extra == ["hints"]:
            knowledge = Knowledge(arguments=hints)
        elif extra == ["kcg"] and mined is not None:
            knowledge = mined
        solver = Solver(index, specs, knowledge, filler=filler)
        rows[row] = run_row(solver, evals, truths, catalogue, oracle=kind == "oracle")
        if fill == "llm":
            rows[row]["model_calls"] = llm_filler.model_calls  # type: ignore[union-attr]
            rows[row]["invalid_calls_fell_back_to_rules"] = llm_filler.invalid  # type: ignore[union-attr]
            llm_filler.model_calls = llm_filler.invalid = 0  # type: ignore[union-attr]
        print(
            row,
            {
                k: v
                for k, v in rows[row].items()
                if k not in ("failure_samples", "wrong_arguments_by_kind")
            },
            flush=True,
        )
    write_json_atomic(
        args.out,
        {
            "benchmark": "bfcl_fill",
            "command": "PYTHONPATH=. .venv/bin/python benchmarks/bfcl_fill.py "
            f"--n {args.n} --rows {args.rows}"
            + ("" if args.out == RESULTS else f" --out {args.out}")
            + (" --evidence-optional" if args.evidence_optional else ""),
            "date": dt.date.today().isoformat(),
            "machine": f"{os.cpu_count()} CPU cores (shared with other jobs), no GPU",
            "baseline": "the rule filler (RuleFiller), same tool choice, same requests, same run",
            "figures": {
                "held_out_requests": len(evals),
                "knowledge": "docs only unless the row says; "
                "rows ending in _hints add member_hints (normalisations the member "
                "demonstrations show in >= 2 requests, a hand-written stand-in); rows ending "
                "in _kcg add KCG's validated argument claims of each member client (k = 2), "
                "scrubbed, joined (no membership-inference gate)",
                "kcg_argument_paths_with_hints": (
                    sum(len(h) for h in mined.arguments.values()) if mined is not None else 0
                ),
                "member_hints": sum(
                    len(h.normalisations) for t in hints.values() for h in t.values()
                ),
                "scoring": "BFCL possible answers (re-implemented AST checker) and exact match "
                "against the first option",
                **rows,
            },
            "targets": {},
        },
    )


if __name__ == "__main__":
    main()
