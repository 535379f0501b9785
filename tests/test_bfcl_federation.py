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


def test_thirds_split_holds_out_a_third_of_each_tool_asked_three_times() -> None:
    items = [
        ({"id": f"{t}{i}", "request": f"ask {t} {i}"}, ToolCall(t, {}))
        for t, n in (("a.x", 6), ("b.y", 2))
        for i in range(n)
    ]
    members, evals = bfcl_federation.split_thirds(items, ["c01", "c02"])
    assert sorted(e["id"] for e in evals) == ["a.x4", "a.x5"]
    assert {e["needs"] for e in evals} == {"local", "elsewhere"}
    assert sorted(i["id"] for group in members.values() for i, _ in group) == [
        f"a.x{i}" for i in range(4)
    ]
