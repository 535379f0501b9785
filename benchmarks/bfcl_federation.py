"""Turn the Berkeley Function Calling Leaderboard's live requests into a federation folder.

Data: the ``bfcl-eval`` PyPI package (Apache-2.0) ships BFCL v4 with its
possible answers; ``live_simple`` and ``live_multiple`` hold real
user-contributed requests. Install it without its dependencies (it is only
read, never imported)::

    .venv/bin/python -m pip install --no-deps bfcl-eval==2026.3.23

Conversion (every dropped item is counted in ``conversion.json``):

- the catalogue is the union of the requests' function specs (BFCL's
  ``dict`` / ``float`` types read as ``object`` / ``number``; names made
  identifiers), keeping a function only when every parameter has a type the
  catalogue format supports (no arrays or objects); a name seen with two
  different specs keeps its first;
- the gold call takes each parameter's first acceptable value, and leaves
  out a parameter whose answers allow omission; a request whose gold is not
  a valid call of the catalogue is dropped.

Non-IID split (label skew, stated): every tool has a *home* client,
``sha256(tool) mod n_clients``, and all its example requests live there.
A tool asked once gives one held-out request (``needs: docs``: nobody has an
example of it), asked by its home client. A tool asked two or more times
keeps its last request held out and the others as its home's members; the
held-out one is asked by its home (``local``) for every other such tool,
and by the next client (``elsewhere``) otherwise. Every second member
episode of a client goes to its non-member split (for audits).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from fical_secure.atomic import write_json_atomic, write_text_atomic
from fical_secure.data.function_spec import catalogue_from_json
from fical_secure.data.schema import ToolCall
from fical_secure.data.validation import call_problems
from fical_secure.errors import DataError

CATEGORIES = ("live_simple", "live_multiple")
_TYPES = {
    "dict": "object",
    "float": "number",
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
}


def bfcl_data_dir() -> Path:
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("bfcl-eval is not installed: pip install --no-deps bfcl-eval==2026.3.23")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _identifier(name: str) -> str:
    ident = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return ("f_" + ident if ident[:1].isdigit() else ident)[:64]


def _function(raw: dict[str, Any]) -> dict[str, Any] | None:
    """The function spec in the catalogue format, or ``None`` if a parameter is unsupported."""
    params = raw.get("parameters", {})
    properties: dict[str, Any] = {}
    for name, prop in params.get("properties", {}).items():
        kind = _TYPES.get(prop.get("type", ""))
        if kind is None or kind == "object":
            return None
        out: dict[str, Any] = {"type": kind, "description": str(prop.get("description", ""))}
        enum = prop.get("enum")
        if enum is not None:
            if (
                kind not in ("string", "integer")
                or not enum
                or not all(isinstance(v, str if kind == "string" else int) for v in enum)
            ):
                return None
            out["enum"] = list(dict.fromkeys(enum))
        properties[_identifier(name)] = out
    required = [_identifier(r) for r in params.get("required", []) if _identifier(r) in properties]
    return {
        "name": _identifier(raw["name"]),
        "description": str(raw.get("description") or raw["name"]),
        "parameters": {"type": "object", "properties": properties, "required": required},
    }


def _gold(answer: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    ((name, params),) = answer.items()
    args: dict[str, Any] = {}
    for key, options in params.items():
        if not isinstance(options, list) or not options or "" in options:
            continue  # may be left out
        value = options[0]
        if isinstance(value, list | dict):
            return None
        args[_identifier(key)] = value
    return _identifier(name), args


def _request(question: Any) -> str | None:
    turns = question[0] if question and isinstance(question[0], list) else question
    users = [t.get("content", "") for t in turns if isinstance(t, dict) and t.get("role") == "user"]
    text = users[-1].strip() if users else ""
    return text or None


def load_items(data: Path, counts: Counter[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(catalogue by name, [{id, request, tool, arguments}]) over :data:`CATEGORIES`."""
    catalogue: dict[str, Any] = {}
    items: list[dict[str, Any]] = []
    for category in CATEGORIES:
        questions = [json.loads(x) for x in (data / f"BFCL_v4_{category}.json").open()]
        answers = {
            a["id"]: a
            for a in map(json.loads, (data / "possible_answer" / f"BFCL_v4_{category}.json").open())
        }
        for q in questions:
            counts["requests_read"] += 1
            for raw in q["function"]:
                spec = _function(raw)
                if spec is None:
                    counts["functions_unsupported"] += 1
                elif spec["name"] not in catalogue:
                    catalogue[spec["name"]] = spec
            truth = answers.get(q["id"], {}).get("ground_truth", [])
            gold = _gold(truth[0]) if len(truth) == 1 else None
            request = _request(q["question"])
            if gold is None or request is None:
                counts["dropped_gold_not_one_plain_call"] += 1
                continue
            items.append({"id": q["id"], "request": request, "tool": gold[0], "arguments": gold[1]})
    return catalogue, items


def build_folder(out: Path, n_clients: int = 5) -> dict[str, Any]:
    """Write the federation folder; returns the conversion counts."""
    counts: Counter[str] = Counter()
    raw_catalogue, items = load_items(bfcl_data_dir(), counts)
    catalogue = catalogue_from_json(list(raw_catalogue.values()), where="BFCL catalogue")
    valid = []
    for item in items:
        call = ToolCall(item["tool"], item["arguments"])
        spec = next((t for t in catalogue if t.name == item["tool"]), None)
        if spec is not None:
            floats = {a.name for a in spec.args if a.type == "float"}
            call = ToolCall(
                call.tool,
                {
                    k: float(v) if k in floats and type(v) is int else v
                    for k, v in call.arguments.items()
                },
            )
        if call_problems(call, catalogue):
            counts["dropped_gold_invalid_under_catalogue"] += 1
            continue
        valid.append((item, call))
    clients = [f"c{i:02d}" for i in range(1, n_clients + 1)]
    by_tool: dict[str, list[tuple[dict[str, Any], ToolCall]]] = defaultdict(list)
    for item, call in valid:
        by_tool[call.tool].append((item, call))
    members: dict[str, list[dict[str, Any]]] = defaultdict(list)
    evals: list[dict[str, Any]] = []
    repeated = 0
    for tool, group in sorted(by_tool.items()):
        home = int(hashlib.sha256(tool.encode()).hexdigest(), 16) % n_clients
        for item, call in group[:-1]:
            members[clients[home]].append(_episode(item, call))
        item, call = group[-1]
        if len(group) == 1:
            asker, needs = home, "docs"
        else:
            repeated += 1
            asker, needs = (
                (home, "local") if repeated % 2 else ((home + 1) % n_clients, "elsewhere")
            )
        evals.append(
            {
                "id": item["id"],
                "hospital": clients[asker],
                "needs": needs,
                "request": item["request"],
                "gold": {"tool": call.tool, "arguments": call.arguments},
            }
        )
    out.mkdir(parents=True, exist_ok=True)
    from fical_secure.data.function_spec import catalogue_to_json

    write_json_atomic(out / "catalogue.json", catalogue_to_json(catalogue))
    hospitals = []
    for client in clients:
        episodes = members.get(client, [])
        split = {"member": episodes[0::2], "nonmember": episodes[1::2]}
        if not split["member"]:
            continue
        for name, eps in split.items():
            lines = [json.dumps({**e, "split": name}, ensure_ascii=False) for e in eps]
            write_text_atomic(out / f"{client}.{name}s.jsonl", "\n".join(lines) + "\n")
        hospitals.append({"hospital_id": client})
    kept = {h["hospital_id"] for h in hospitals}
    evals = [e for e in evals if e["hospital"] in kept]
    write_text_atomic(
        out / "eval.jsonl", "\n".join(json.dumps(e, ensure_ascii=False) for e in evals) + "\n"
    )
    write_json_atomic(
        out / "meta.json",
        {"format": "fical-secure/federation", "version": 2, "hospitals": hospitals},
    )
    counts.update(
        {
            "catalogue_tools": len(catalogue),
            "valid_requests": len(valid),
            "member_episodes": sum(len(v[0::2]) for v in members.values()),
            "eval_requests": len(evals),
        }
    )
    counts.update(Counter(f"eval_{e['needs']}" for e in evals))
    report = dict(sorted(counts.items()))
    write_json_atomic(out / "conversion.json", report)
    return report


def _episode(item: dict[str, Any], call: ToolCall) -> dict[str, Any]:
    return {
        "id": item["id"],
        "request": item["request"],
        "call": {"tool": call.tool, "arguments": call.arguments},
        "result": "(not recorded)",
        "answer": "(not recorded)",
    }


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/bfcl_federation")
    try:
        print(json.dumps(build_folder(target), indent=1))
    except DataError as exc:
        raise SystemExit(f"conversion failed: {exc}") from exc
