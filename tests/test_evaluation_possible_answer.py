"""BFCL possible-answer scoring: table cases, and agreement with BFCL's own checker."""

from __future__ import annotations

import copy
import json
import sys
import types
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fical_secure.data.function_spec import catalogue_from_json
from fical_secure.data.schema import ToolCall, ToolSpec
from fical_secure.evaluation.failures import argument_kind, breakdown, failure_kinds
from fical_secure.evaluation.possible_answer import (
    MISSING_ANSWER,
    MISSING_REQUIRED,
    TYPE_ERROR,
    UNEXPECTED,
    VALUE_ERROR,
    WRONG_TOOL,
    check_call,
    standardise,
)

SPEC: dict[str, Any] = {
    "name": "trip.book",
    "description": "Book a trip.",
    "parameters": {
        "type": "dict",
        "required": ["city", "nights"],
        "properties": {
            "city": {"type": "string", "description": "city"},
            "nights": {"type": "integer", "description": "nights"},
            "budget": {"type": "float", "description": "budget"},
            "pets": {"type": "boolean", "description": "pets", "default": False},
            "unit": {"type": "string", "enum": ["metric", "imperial"], "description": "u"},
            "tags": {"type": "array", "items": {"type": "string"}, "description": "tags"},
            "guest": {
                "type": "dict",
                "description": "guest",
                "properties": {
                    "name": {"type": "string", "description": "n"},
                    "age": {"type": "integer", "description": "a"},
                },
            },
            "rooms": {
                "type": "array",
                "description": "rooms",
                "items": {
                    "type": "dict",
                    "properties": {"kind": {"type": "string", "description": "k"}},
                },
            },
        },
    },
}
ANSWER: dict[str, list[Any]] = {
    "city": ["San Francisco, CA", "SF"],
    "nights": [3],
    "budget": [250.0, ""],
    "pets": [False, ""],
    "unit": ["metric", ""],
    "tags": [["Sea View", "quiet"], ""],
    "guest": [{"name": ["Ann Lee"], "age": [30, ""]}, ""],
    "rooms": [[{"kind": ["double"]}, {"kind": ["single", ""]}], ""],
}
BASE: dict[str, Any] = {"city": "San Francisco, CA", "nights": 3}


@pytest.fixture(scope="module")
def spec() -> ToolSpec:
    return catalogue_from_json([SPEC], where="test")[0]


def kinds(spec: ToolSpec, extra: dict[str, Any], drop: tuple[str, ...] = ()) -> set[str]:
    args = {k: v for k, v in {**BASE, **extra}.items() if k not in drop}
    return {p.kind for p in check_call(ToolCall("trip.book", args), "trip.book", ANSWER, spec)}


@pytest.mark.parametrize(
    ("extra", "drop", "expected"),
    [
        ({}, (), set()),  # optional parameters ("" among the options) may be omitted
        ({"city": "sf"}, (), set()),  # case-insensitive
        ({"city": "San Francisco CA"}, (), set()),  # ",./-_*^" and spaces ignored
        ({"city": "san-francisco,ca."}, (), set()),
        ({"city": "Los Angeles"}, (), {VALUE_ERROR}),
        ({"nights": 3.0}, (), {TYPE_ERROR}),  # a float for an integer is a type error
        ({"nights": "3"}, (), {TYPE_ERROR}),
        ({"nights": True}, (), {TYPE_ERROR}),  # a boolean is no integer
        ({"nights": 4}, (), {VALUE_ERROR}),
        ({"budget": 250}, (), set()),  # an integer is fine for a float
        ({"budget": 250.5}, (), {VALUE_ERROR}),
        ({"pets": False}, (), set()),
        ({"pets": 0}, (), {TYPE_ERROR}),
        ({"unit": "Metric"}, (), set()),
        ({"tags": ["sea view", "QUIET"]}, (), set()),  # list items standardised
        ({"tags": ["quiet", "Sea View"]}, (), {VALUE_ERROR}),  # order matters
        ({"tags": []}, (), set()),  # BFCL reads the optional marker as the empty list
        ({"tags": [1, 2]}, (), {VALUE_ERROR}),  # BFCL waives the item check when "" is allowed
        ({"guest": {"name": "ann lee"}}, (), set()),  # nested optional member omitted
        ({"guest": {"name": "Ann Lee", "age": 31}}, (), {VALUE_ERROR}),
        ({"guest": {"age": 30}}, (), {VALUE_ERROR}),  # a required member missing
        ({"guest": {"name": "Ann Lee", "nick": "A"}}, (), {VALUE_ERROR}),  # unknown key
        ({"rooms": [{"kind": "Double"}, {}]}, (), set()),
        ({"rooms": [{"kind": "double"}]}, (), {VALUE_ERROR}),  # wrong number of objects
        ({}, ("nights",), {MISSING_REQUIRED}),
        ({"colour": "red"}, (), {UNEXPECTED}),  # not in the schema
    ],
)
def test_call_is_scored_with_bfcl_rules(
    spec: ToolSpec, extra: dict[str, Any], drop: tuple[str, ...], expected: set[str]
) -> None:
    assert kinds(spec, extra, drop) == expected


def test_a_parameter_the_answer_needs_must_be_given(spec: ToolSpec) -> None:
    answer = {**ANSWER, "unit": ["imperial"]}
    problems = check_call(ToolCall("trip.book", BASE), "trip.book", answer, spec)
    assert [(p.kind, p.parameter) for p in problems] == [(MISSING_ANSWER, "unit")]


def test_a_schema_parameter_outside_the_answer_is_unexpected(spec: ToolSpec) -> None:
    answer = {k: v for k, v in ANSWER.items() if k != "budget"}
    call = ToolCall("trip.book", {**BASE, "budget": 250.0})
    assert [p.kind for p in check_call(call, "trip.book", answer, spec)] == [UNEXPECTED]


def test_another_tool_is_only_a_wrong_tool(spec: ToolSpec) -> None:
    problems = check_call(ToolCall("trip.cancel", {}), "trip.book", ANSWER, spec)
    assert [p.kind for p in problems] == [WRONG_TOOL]


def test_standardise_follows_bfcl() -> None:
    assert standardise("April 1, 2024") == standardise("april 1,2024") == "april12024"
    assert standardise("it's") == 'it"s'


def test_failures_are_sorted_by_the_knowledge_the_argument_needed(spec: ToolSpec) -> None:
    request = "Book 3 nights in SF for Ann Lee, metric please"
    assert argument_kind(spec, "unit", ANSWER["unit"], request) == "enum"
    assert argument_kind(spec, "pets", ANSWER["pets"], request) == "enum"
    assert argument_kind(spec, "nights", ANSWER["nights"], request) == "verbatim_span"
    assert argument_kind(spec, "city", ANSWER["city"], request) == "verbatim_span"  # "SF"
    assert argument_kind(spec, "city", ["San Francisco"], request) == "normalised_value"
    call = ToolCall("trip.book", {**BASE, "nights": 4, "colour": "red"})
    problems = check_call(call, "trip.book", ANSWER, spec)
    assert failure_kinds(problems, spec, ANSWER, request) == ("verbatim_span", "unexpected")
    wrong = check_call(ToolCall("x", {}), "trip.book", ANSWER, spec)
    summary = breakdown([(), failure_kinds(wrong, spec, ANSWER, request), ("enum", "enum")])
    assert (summary["right"], summary["wrong_tool"], summary["right_tool_wrong_arguments"]) == (
        1,
        1,
        1,
    )
    assert summary["requests_with_wrong_argument"]["enum"] == 1
    assert summary["wrong_arguments"]["enum"] == 2


def test_a_default_the_schema_states_is_its_own_kind() -> None:
    raw = copy.deepcopy(SPEC)
    raw["parameters"]["properties"]["nights"]["default"] = 1
    spec = catalogue_from_json([raw], where="test")[0]
    assert argument_kind(spec, "nights", [1], "Book a room in SF") == "default"


# --- agreement with BFCL's own checker on its live data ------------------------------------


def _bfcl_checker(monkeypatch: pytest.MonkeyPatch) -> Any:
    """BFCL's ``simple_function_checker``; its model table (API clients) is not needed."""
    pytest.importorskip("bfcl_eval")

    class _Config:
        underscore_to_dot = False  # names are compared as written

    table = types.ModuleType("bfcl_eval.constants.model_config")
    table.MODEL_CONFIG_MAPPING = defaultdict(_Config)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bfcl_eval.constants.model_config", table)
    monkeypatch.delitem(sys.modules, "bfcl_eval.eval_checker.ast_eval.ast_checker", raising=False)
    from bfcl_eval.constants.enums import Language
    from bfcl_eval.eval_checker.ast_eval.ast_checker import simple_function_checker

    return lambda desc, out, answer: simple_function_checker(
        desc, out, answer, Language.PYTHON, "any"
    )["valid"]


def _variants(params: dict[str, Any], answer: dict[str, list[Any]]) -> Iterator[dict[str, Any]]:
    """The gold arguments and edits of them: dropped, recased, retyped, wrong, added."""
    yield params
    for key, value in params.items():
        yield {k: v for k, v in params.items() if k != key}
        edits: list[Any] = ["zzq"]
        if isinstance(value, str):
            edits.append("  " + value.upper() + ".")
        elif isinstance(value, bool):
            edits.append(not value)
        elif isinstance(value, int):
            edits += [float(value), value + 1]
        elif isinstance(value, float):
            edits += [int(value), str(value)]
        elif isinstance(value, list):
            edits += [value[::-1], [x.upper() if isinstance(x, str) else x for x in value]]
        elif isinstance(value, dict) and value:
            first = next(iter(value))
            edits += [{**value, first: "zzq"}, {k: v for k, v in value.items() if k != first}]
        for edit in edits:
            yield {**params, key: edit}
    for key, options in answer.items():
        if key not in params:
            yield {**params, key: next((o for o in options if o != ""), "x")}
    yield {**params, "zz_extra": 1}


def test_verdicts_agree_with_bfcl_checker_on_live_data(monkeypatch: pytest.MonkeyPatch) -> None:
    checker = _bfcl_checker(monkeypatch)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from bfcl_federation import _gold, bfcl_data_dir

    data = bfcl_data_dir()
    cases = agree = passed = 0
    for category in ("live_simple", "live_multiple"):
        lines = (data / "possible_answer" / f"BFCL_v4_{category}.json").read_text().splitlines()
        answers = {a["id"]: a["ground_truth"] for a in map(json.loads, filter(None, lines))}
        for line in (data / f"BFCL_v4_{category}.json").read_text().splitlines():
            q = json.loads(line)
            truth = answers.get(q["id"], [])
            if len(truth) != 1:
                continue
            ((name, answer),) = truth[0].items()
            desc = next((f for f in q["function"] if f["name"] == name), None)
            if desc is None:
                continue
            spec = catalogue_from_json([desc], where=q["id"])[0]
            for params in _variants(_gold(truth[0])[1], answer):
                out = {name: copy.deepcopy(params)}
                try:
                    reference = checker(copy.deepcopy(desc), out, copy.deepcopy(truth[0]))
                except (KeyError, TypeError, IndexError):  # BFCL's checker gives up
                    continue
                ours = not check_call(ToolCall(name, params), name, answer, spec)
                cases += 1
                passed += reference
                agree += ours == reference
    assert cases > 10_000 and 0.2 < passed / cases < 0.8  # both verdicts well represented
    assert agree == cases
