"""The utility benchmark's core on a small BFCL slice: one round, five rows, BFCL scoring."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("bfcl_eval") is None, reason="bfcl-eval is not installed"
)

ROWS = ("docs_only", "local", "global", "sample_sharing", "oracle")


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import fical_utility

    runs = tmp_path_factory.mktemp("runs")
    return {
        **fical_utility.run_bfcl("live_simple", 1, runs, max_eval=12, failures=True),
        "runs": runs,
    }


def test_one_round_gives_every_row_on_the_same_requests(figures: dict[str, Any]) -> None:
    assert figures["n_requests"] == 12
    assert tuple(figures["rows"]) == ROWS
    for row in figures["rows"].values():
        assert {m["n"] for k, m in row.items() if k != "argument_accuracy"} == {12}
        # the best candidate is never worse than the best tool of the whole catalogue
        assert row["tool_accuracy_candidates"]["mean"] >= row["tool_accuracy"]["mean"]
    assert figures["rows"]["oracle"]["tool_accuracy"]["mean"] == 1.0
    assert figures["conversion"]["eval_requests"] > 12  # the slice is of a real split
    assert figures["filler"] == "rule"


def test_failures_account_for_every_request(figures: dict[str, Any]) -> None:
    for cond in ROWS:
        f = figures["failures"][cond]
        assert f["right"] + f["wrong_tool"] + f["right_tool_wrong_arguments"] == 12
        e2e = figures["rows"][cond]["end_to_end_success"]["mean"]
        assert f["right"] == round(e2e * 12)
    assert figures["failures"]["oracle"]["wrong_tool"] == 0


def test_failure_samples_show_each_call_and_its_failure_kinds(figures: dict[str, Any]) -> None:
    path = figures["runs"] / "live_simple_seed1" / "round" / "failures.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 12 and len({r["request_id"] for r in rows}) == 12
    for cond in ROWS:
        per = [r["conditions"][cond] for r in rows]
        assert sum(p["e2e"] for p in per) == figures["failures"][cond]["right"]
        wrong_tool = [p for p in per if p["failure_kinds"] == ["wrong_tool"]]
        assert len(wrong_tool) == figures["failures"][cond]["wrong_tool"]
        for p, row in zip(per, rows, strict=True):
            assert p["e2e"] == (not p["failure_kinds"])
            assert (p["tool"] == row["gold"]["tool"]) == (p["failure_kinds"] != ["wrong_tool"])
            if not p["e2e"]:
                assert p["problems"]  # each failed call names what it got wrong
    assert all(r["request"] and r["answer"] for r in rows)


def test_targets_are_recorded_met_or_not(figures: dict[str, Any]) -> None:
    import fical_utility

    goals = fical_utility.targets(figures, seed=1)
    assert figures["filler"] == "rule"
    assert len(goals) == 2  # the end-to-end targets are the packaged model's to meet
    assert not any("end_to_end" in name for name in goals)
    with_model = fical_utility.targets({**figures, "filler": "llm"}, seed=1)
    assert len(with_model) == 5 and set(goals) < set(with_model)
    for goal in with_model.values():
        assert isinstance(goal["met"], bool) and isinstance(goal["measured"], float)
