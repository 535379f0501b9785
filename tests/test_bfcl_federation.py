"""The BFCL converter writes one tool per BFCL function name (benchmarks/bfcl_federation.py)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

from fical_secure.data.schema import ToolCall

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bfcl_federation

needs_bfcl = pytest.mark.skipif(
    importlib.util.find_spec("bfcl_eval") is None, reason="bfcl-eval is not installed"
)


def _spec(description: str) -> dict[str, object]:
    return {"name": "weather.get", "description": description, "parameters": {}}


def test_a_name_keeps_the_spec_most_gold_calls_used() -> None:
    variants = bfcl_federation._Variants()
    first, second = _spec("first seen"), _spec("used by gold")
    for _ in range(3):
        variants.offer(first)
    key = variants.offer(second)
    variants.gold["weather.get"][key] += 1
    assert variants.chosen() == [second]


@needs_bfcl
def test_live_multiple_has_one_tool_per_bfcl_name(tmp_path: Path) -> None:
    report = bfcl_federation.build_folder(tmp_path, 5, ["live_multiple"])
    names = [t["name"] for t in json.loads((tmp_path / "catalogue.json").read_text())]
    assert len(names) == len(set(names)) == report["catalogue_tools"] == 457
    assert not any(re.search(r"-v\d+$", n) for n in names)
    evals = [json.loads(line) for line in (tmp_path / "eval.jsonl").read_text().splitlines()]
    assert set(Counter(e["gold"]["tool"] for e in evals)) <= set(names)


def _items(sizes: dict[str, int]) -> list[tuple[dict[str, str], ToolCall]]:
    return [
        ({"id": f"{t}{i}", "request": f"ask {t} {i}"}, ToolCall(t, {}))
        for t, n in sizes.items()
        for i in range(n)
    ]


CLIENTS = ["c01", "c02", "c03", "c04", "c05"]


def test_thirds_split_holds_out_a_third_of_each_function_asked_three_times() -> None:
    sizes = {"a.x": 6, "b.y": 2, "c.z": 3, "d.w": 10}
    members, evals = bfcl_federation.split_thirds(_items(sizes), CLIENTS, seed=0)
    held = Counter(e["gold"]["tool"] for e in evals)
    assert held == {"a.x": 2, "c.z": 1, "d.w": 3}  # b.y has too few requests to count
    dealt = Counter(call.tool for group in members.values() for _, call in group)
    assert dealt == {"a.x": 4, "c.z": 2, "d.w": 7}
    ids = [e["id"] for e in evals] + [i["id"] for g in members.values() for i, _ in g]
    assert len(ids) == len(set(ids)) == 19  # every request once, held out or dealt


def test_thirds_split_labels_who_holds_examples_of_the_asked_function() -> None:
    members, evals = bfcl_federation.split_thirds(_items({f"t{i}": 9 for i in range(40)}), CLIENTS)
    holders = {(client, call.tool) for client, group in members.items() for _, call in group}
    for e in evals:
        expected = "local" if (e["hospital"], e["gold"]["tool"]) in holders else "elsewhere"
        assert e["needs"] == expected
    assert {e["needs"] for e in evals} == {"local", "elsewhere"}
    spread = Counter(len({c for c, t in holders if t == tool}) for tool in {t for _, t in holders})
    assert spread[len(CLIENTS)] < 20  # label skew: most functions sit at fewer than all clients


def test_thirds_split_is_seeded() -> None:
    items = _items({f"t{i}": 7 for i in range(20)})

    def held(seed: int) -> list[str]:
        return [e["id"] for e in bfcl_federation.split_thirds(items, CLIENTS, seed=seed)[1]]

    assert held(0) == held(0)
    assert held(0) != held(1)
    assert sorted(held(1)) != sorted(held(0))  # other requests, not only another order


@needs_bfcl
def test_held_out_records_carry_bfcl_candidates_and_possible_answers(tmp_path: Path) -> None:
    from fical_secure.data.storage import load_federation

    report = bfcl_federation.build_folder(tmp_path, 5, ["live_simple"], "thirds", seed=1)
    fed = load_federation(tmp_path)
    assert report["eval_requests"] == len(fed.eval_requests) > 20
    assert not any(h.nonmembers for h in fed.hospitals)
    for request in fed.eval_requests:
        assert request.gold.tool in request.candidates
        assert request.answer is not None and set(request.gold.arguments) <= set(request.answer)
