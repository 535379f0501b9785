"""Turn the Berkeley Function Calling Leaderboard's live requests into a federation folder.

Data: the ``bfcl-eval`` PyPI package (Apache-2.0) ships BFCL v4 with its
possible answers; ``live_simple`` and ``live_multiple`` hold real
user-contributed requests. Install it without its dependencies (it is only
read, never imported)::

    .venv/bin/python -m pip install --no-deps bfcl-eval==2026.3.23

Conversion (every dropped request is counted in ``conversion.json``):

- the catalogue is every distinct function spec the requests carry,
  unfiltered: BFCL's dialect (``dict``, ``float``, ``tuple``, ``any``...) is
  read as JSON Schema by the catalogue loader
  (:mod:`fical_secure.data.spec_formats`), dotted names, arrays and nested
  objects included. One tool per BFCL function name: a name BFCL uses with
  several different specs keeps the spec that the most requests' gold calls
  used (then the one most requests offered, then the first seen), so the
  union catalogue counts BFCL's functions; every request keeps its gold
  tool name, and a gold call that is not valid under the kept spec is
  dropped like any other invalid gold (``dropped_gold_invalid_under_catalogue``);
- the gold call takes each parameter's first acceptable value (nested
  objects likewise), and leaves out a parameter whose answers allow
  omission; a request whose gold is not one call, or not a valid call of the
  catalogue, is dropped.

Non-IID split (label skew, stated): every tool has a *home* client,
``sha256(tool) mod n_clients``, and all its example requests live there.
A tool asked once gives one held-out request (``needs: docs``: nobody has an
example of it), asked by its home client. A tool asked two or more times
keeps its last request held out and the others as its home's members; the
held-out one is asked by its home (``local``) for every other such tool,
and by the next client (``elsewhere``) otherwise. Every second member
episode of a client goes to its non-member split (for audits).

``--split thirds --seed N`` (issue 18's protocol, :func:`split_thirds`) keeps
only functions with at least three requests, holds out a seeded third of
each function's requests, and deals the rest non-IID over the clients
(Dirichlet label skew), all as members. Held-out records carry the request's
own BFCL functions (``candidates``) and BFCL's ``possible_answer``.

    python benchmarks/bfcl_federation.py [OUT] [--categories live_multiple,live_simple]
        [--split last|thirds] [--seed N]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fical_secure.atomic import write_json_atomic, write_text_atomic
from fical_secure.data.function_spec import catalogue_from_json, catalogue_to_json
from fical_secure.data.schema import ArgValue, ToolCall, ToolSpec
from fical_secure.data.validation import call_problems, find_tool
from fical_secure.errors import DataError

CATEGORIES = ("live_simple", "live_multiple")
Item = tuple[dict[str, Any], ToolCall]


def bfcl_data_dir() -> Path:
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("bfcl-eval is not installed: pip install --no-deps bfcl-eval==2026.3.23")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


class _Variants:
    """Distinct specs per BFCL name, counted; :meth:`chosen` keeps one spec per name."""

    def __init__(self) -> None:
        self.offered: dict[str, Counter[str]] = defaultdict(Counter)
        self.gold: dict[str, Counter[str]] = defaultdict(Counter)
        self.order: dict[str, list[str]] = defaultdict(list)

    def offer(self, raw: dict[str, Any]) -> str:
        """Count one request offering ``raw``; returns its spec key."""
        name, text = str(raw.get("name")), json.dumps(raw, sort_keys=True)
        if text not in self.order[name]:
            self.order[name].append(text)
        self.offered[name][text] += 1
        return text

    def chosen(self) -> list[dict[str, Any]]:
        """Per name, the spec most gold calls used, then most offered, then first seen."""
        return [
            json.loads(
                min(texts, key=lambda t: (-self.gold[n][t], -self.offered[n][t], texts.index(t)))
            )
            for n, texts in self.order.items()
        ]


def _first(options: Any) -> tuple[bool, Any]:
    """(present, value) of one parameter's answer options: the first, or absent if optional."""
    if not isinstance(options, list) or not options or "" in options:
        return False, None
    return True, _chosen(options[0])


def _chosen(value: Any) -> Any:
    """A gold value, with nested objects' own option lists resolved to their first option."""
    if isinstance(value, dict):
        picked = {k: _first(v) for k, v in value.items()}
        return {k: v for k, (present, v) in picked.items() if present}
    if isinstance(value, list):
        return [_chosen(v) if isinstance(v, dict) else v for v in value]
    return value


def _gold(answer: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((name, params),) = answer.items()
    picked = {key: _first(options) for key, options in params.items()}
    return name, {k: v for k, (present, v) in picked.items() if present}


def _request(question: Any) -> str | None:
    turns = question[0] if question and isinstance(question[0], list) else question
    users = [t.get("content", "") for t in turns if isinstance(t, dict) and t.get("role") == "user"]
    text = users[-1].strip() if users else ""
    return text or None


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def load_items(
    data: Path, counts: Counter[str], categories: Sequence[str] = CATEGORIES
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(every distinct function spec, [{id, request, tool, arguments}]) over ``categories``."""
    variants = _Variants()
    items: list[dict[str, Any]] = []
    for category in categories:
        answers = {
            a["id"]: a for a in _jsonl(data / "possible_answer" / f"BFCL_v4_{category}.json")
        }
        for q in _jsonl(data / f"BFCL_v4_{category}.json"):
            counts["requests_read"] += 1
            offered = {str(raw.get("name")): variants.offer(raw) for raw in q["function"]}
            counts["functions_read"] += len(q["function"])
            truth = answers.get(q["id"], {}).get("ground_truth", [])
            request = _request(q["question"])
            if len(truth) != 1 or request is None:
                counts["dropped_gold_not_one_call"] += 1
                continue
            tool, arguments = _gold(truth[0])
            if tool in offered:
                variants.gold[tool][offered[tool]] += 1
            items.append(
                {
                    "id": q["id"],
                    "request": request,
                    "tool": tool,
                    "arguments": arguments,
                    "candidates": list(offered),
                    "possible_answer": truth[0][tool],
                }
            )
    counts["catalogue_name_variants_merged"] = sum(len(v) - 1 for v in variants.order.values())
    return variants.chosen(), items


def _as_call(item: dict[str, Any], catalogue: Sequence[ToolSpec]) -> ToolCall:
    """The gold call, integers given for number arguments stored as floats (as the loader does)."""
    spec = find_tool(item["tool"], catalogue)
    floats = {a.name for a in spec.args if a.type == "float"} if spec is not None else set()
    arguments: dict[str, ArgValue] = {
        k: float(v) if k in floats and type(v) is int else v for k, v in item["arguments"].items()
    }
    return ToolCall(item["tool"], arguments)


def _homes(valid: Sequence[Item], n_clients: int) -> list[tuple[int, list[Item]]]:
    """(home client index, items) per tool, by tool name: home is sha256(tool) mod n."""
    by_tool: dict[str, list[Item]] = defaultdict(list)
    for item, call in valid:
        by_tool[call.tool].append((item, call))
    return [
        (int(hashlib.sha256(tool.encode()).hexdigest(), 16) % n_clients, group)
        for tool, group in sorted(by_tool.items())
    ]


def _eval(held: Item, hospital: str, needs: str) -> dict[str, Any]:
    item, call = held
    gold = {"tool": call.tool, "arguments": call.arguments}
    record = {"id": item["id"], "hospital": hospital, "needs": needs}
    source = {k: item[k] for k in ("candidates", "possible_answer") if k in item}
    return {**record, "request": item["request"], "gold": gold, **source}


def split_clients(
    valid: Sequence[Item], clients: Sequence[str]
) -> tuple[dict[str, list[Item]], list[dict[str, Any]]]:
    """(member items per client, held-out eval records): the label-skew split of the docstring."""
    members: dict[str, list[Item]] = defaultdict(list)
    evals: list[dict[str, Any]] = []
    repeated = 0
    for home, group in _homes(valid, len(clients)):
        members[clients[home]].extend(group[:-1])
        if len(group) == 1:
            asker, needs = home, "docs"
        else:
            repeated += 1
            asker, needs = (
                (home, "local") if repeated % 2 else ((home + 1) % len(clients), "elsewhere")
            )
        evals.append(_eval(group[-1], clients[asker], needs))
    return members, evals


MIN_REQUESTS = 3  # a function needs this many requests to be held out and taught
DIRICHLET_ALPHA = 0.5  # < 1: each function's examples crowd into one or two clients


def split_thirds(
    valid: Sequence[Item], clients: Sequence[str], seed: int = 0, alpha: float = DIRICHLET_ALPHA
) -> tuple[dict[str, list[Item]], list[dict[str, Any]]]:
    """(members, evals): issue 18's rule, seeded (``--split thirds --seed N``).

    Only functions with at least :data:`MIN_REQUESTS` requests count. Per
    function (in name order), its requests are shuffled and a third (rounded
    down) is held out; the rest are dealt over the clients non-IID (label
    skew): the function draws client shares from Dirichlet(``alpha``) and
    each of its examples goes to a client drawn by those shares. Each held-out
    request is asked by a uniformly drawn client: ``local`` if that client
    holds an example of the function, ``elsewhere`` otherwise. Every draw
    comes from one generator seeded with ``seed``.
    """
    rng = np.random.default_rng(seed)
    by_tool: dict[str, list[Item]] = defaultdict(list)
    for item, call in valid:
        by_tool[call.tool].append((item, call))
    members: dict[str, list[Item]] = defaultdict(list)
    evals: list[dict[str, Any]] = []
    for tool in sorted(by_tool):
        group = by_tool[tool]
        if len(group) < MIN_REQUESTS:
            continue
        order = rng.permutation(len(group))
        cut = len(group) // 3
        held, rest = [group[i] for i in order[:cut]], [group[i] for i in order[cut:]]
        shares = rng.dirichlet([alpha] * len(clients))
        holders = set()
        for item, dealt in zip(
            rest, rng.choice(len(clients), size=len(rest), p=shares), strict=True
        ):
            members[clients[dealt]].append(item)
            holders.add(int(dealt))
        for item in held:
            asker = int(rng.integers(len(clients)))
            evals.append(_eval(item, clients[asker], "local" if asker in holders else "elsewhere"))
    return members, evals


def build_folder(
    out: Path,
    n_clients: int = 5,
    categories: Sequence[str] = CATEGORIES,
    split: str = "last",
    seed: int = 0,
) -> dict[str, Any]:
    """Write the federation folder; returns the conversion counts.

    With ``split="thirds"`` every training request is a member (no
    non-members: run without the audit) and ``seed`` seeds the split.
    """
    counts: Counter[str] = Counter()
    specs, items = load_items(bfcl_data_dir(), counts, categories)
    catalogue = catalogue_from_json(specs, where="BFCL catalogue")
    valid: list[Item] = []
    for item in items:
        call = _as_call(item, catalogue)
        if call_problems(call, catalogue):
            counts["dropped_gold_invalid_under_catalogue"] += 1
        else:
            valid.append((item, call))
    clients = [f"c{i:02d}" for i in range(1, n_clients + 1)]
    if split == "thirds":
        members, evals = split_thirds(valid, clients, seed)
    else:
        members, evals = split_clients(valid, clients)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "catalogue.json", catalogue_to_json(catalogue))
    kept = _write_clients(out, clients, members, nonmembers=split != "thirds")
    evals = [e for e in evals if e["hospital"] in kept]
    lines = [json.dumps(e, ensure_ascii=False) for e in evals]
    write_text_atomic(out / "eval.jsonl", "\n".join(lines) + "\n")
    meta = {"format": "fical-secure/federation", "version": 2, "hospitals": kept}
    write_json_atomic(out / "meta.json", {**meta, "hospitals": [{"hospital_id": h} for h in kept]})
    counts.update(
        {
            "catalogue_tools": len(catalogue),
            "valid_requests": len(valid),
            "member_episodes": sum(
                len(v if split == "thirds" else v[0::2]) for v in members.values()
            ),
            "eval_requests": len(evals),
        }
    )
    counts.update(Counter(f"eval_{e['needs']}" for e in evals))
    report = dict(sorted(counts.items()))
    write_json_atomic(out / "conversion.json", report)
    return report


def _write_clients(
    out: Path, clients: Sequence[str], members: dict[str, list[Item]], *, nonmembers: bool = True
) -> list[str]:
    """Each client's member (and, if ``nonmembers``, non-member) files; the clients with members.

    With ``nonmembers`` every second example goes to the non-member split (for audits).
    """
    kept = []
    for client in clients:
        episodes = [_episode(item, call) for item, call in members.get(client, [])]
        split = {"member": episodes[0::2], "nonmember": episodes[1::2]}
        if not nonmembers:
            split = {"member": episodes}
        if not split["member"]:
            continue
        for name, eps in split.items():
            lines = [json.dumps({**e, "split": name}, ensure_ascii=False) for e in eps]
            write_text_atomic(out / f"{client}.{name}s.jsonl", "\n".join(lines) + "\n")
        kept.append(client)
    return kept


def _episode(item: dict[str, Any], call: ToolCall) -> dict[str, Any]:
    return {
        "id": item["id"],
        "request": item["request"],
        "call": {"tool": call.tool, "arguments": call.arguments},
        "result": "(not recorded)",
        "answer": "(not recorded)",
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="runs/bfcl_federation", type=Path)
    parser.add_argument("--categories", default=",".join(CATEGORIES))
    parser.add_argument("--clients", type=int, default=5)
    parser.add_argument("--split", choices=("last", "thirds"), default="last")
    parser.add_argument("--seed", type=int, default=0, help="seed of the thirds split")
    args = parser.parse_args(argv)
    categories = [c for c in args.categories.split(",") if c]
    try:
        report = build_folder(args.out, args.clients, categories, args.split, args.seed)
        print(json.dumps(report, indent=1))
    except DataError as exc:
        raise SystemExit(f"conversion failed: {exc}") from exc


if __name__ == "__main__":
    main()
