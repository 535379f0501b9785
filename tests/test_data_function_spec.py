"""Tool catalogues as JSON function specs: round trip, the formats agents write, JSON Schema
validation (metaschema for catalogues, the tool schema for calls) with every problem listed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from federation_folder import FORECAST

from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.function_spec import catalogue_from_json, catalogue_to_json, load_catalogue
from fical_secure.data.schema import ToolCall
from fical_secure.data.validation import call_problems
from fical_secure.errors import DataError

PARCEL: dict[str, Any] = {
    "name": "track_parcel",
    "description": "Where a parcel is now.",
    "parameters": {
        "type": "object",
        "properties": {
            "carrier": {"type": "string", "enum": ["ups", "dhl"]},
            "tracking_id": {"type": "string", "pattern": "^TR\\d{6}$"},
            "weight_kg": {"type": "number", "minimum": 0.1, "maximum": 30},
            "boxes": {"type": "integer", "enum": [1, 2, 3]},
            "signed": {"type": "boolean"},
            "since": {"type": "string", "format": "date"},
        },
        "required": ["carrier", "tracking_id"],
    },
}


def test_builtin_catalogue_round_trips_through_json() -> None:
    raw = json.loads(json.dumps(catalogue_to_json(CATALOGUE)))
    assert catalogue_from_json(raw) == CATALOGUE


def test_foreign_spec_is_checked_by_its_own_schema() -> None:
    (spec,) = catalogue_from_json([PARCEL])
    ok = ToolCall("track_parcel", {"carrier": "ups", "tracking_id": "TR123456"})
    assert call_problems(ok, [spec]) == []  # optional arguments may be left out
    bad = ToolCall(
        "track_parcel",
        {
            "carrier": "fedex",
            "tracking_id": "TR1",
            "weight_kg": 31.0,
            "boxes": 4,
            "signed": 1,
            "since": "2026-02-30",
        },
    )
    problems = " ".join(call_problems(bad, [spec]))
    for arg in ("carrier", "tracking_id", "weight_kg", "boxes", "signed", "since"):
        assert f"'{arg}'" in problems, arg
    assert catalogue_from_json(catalogue_to_json([spec])) == (spec,)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.update(name="9bad name"), "name"),
        (lambda t: t.update(colour="red"), "unknown field 'colour'"),
        (lambda t: t["parameters"]["properties"].update(tags={"type": "arrray"}), "tags.type"),
        (lambda t: t["parameters"].update(required=["nope"]), "required"),
        (lambda t: t["parameters"]["properties"]["carrier"].update(enum="ups"), "carrier.enum"),
        (lambda t: t["parameters"]["properties"]["carrier"].update(pattern="("), "pattern"),
        (lambda t: t["parameters"]["properties"]["weight_kg"].update(minimum="0"), "minimum"),
        (lambda t: t["parameters"].update(type="array"), "type object"),
        (lambda t: t.update(parameters=[]), "parameters"),
    ],
)
def test_malformed_specs_are_refused_with_the_reason(mutate: Any, message: str) -> None:
    tool = json.loads(json.dumps(PARCEL))
    mutate(tool)
    with pytest.raises(DataError, match=message):
        catalogue_from_json([tool])


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps([{"name": "a"}, PARCEL, PARCEL]), encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_catalogue(path)
    text = str(info.value)
    assert "description" in text and "duplicate tool name 'track_parcel'" in text
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="invalid JSON"):
        load_catalogue(path)


def test_openai_mcp_and_bfcl_specs_load_like_the_project_format() -> None:
    (plain,) = catalogue_from_json([PARCEL])
    openai = {"type": "function", "function": {**PARCEL, "strict": False}}
    mcp = {
        "name": PARCEL["name"],
        "title": "Track",
        "description": PARCEL["description"],
        "inputSchema": PARCEL["parameters"],
    }
    bfcl = json.loads(json.dumps(PARCEL))
    bfcl["parameters"]["type"] = "dict"
    bfcl["parameters"]["properties"]["weight_kg"]["type"] = "float"
    for raw in (openai, mcp, bfcl):
        assert catalogue_from_json([raw]) == (plain,), raw


def test_arrays_objects_and_dotted_names_load_as_a_typed_tree() -> None:
    (tool,) = catalogue_from_json([FORECAST])
    assert tool.name == "weather.get"
    fields, units, hours = tool.arg("fields"), tool.arg("units"), tool.arg("hours")
    assert fields.type == "array" and fields.items is not None
    assert fields.items.type == "enum" and fields.items.choices == ("rain", "wind")
    assert units.type == "object" and [(f.name, f.type, f.required) for f in units.fields] == [
        ("temp", "enum", True),
        ("precision", "int", False),
    ]
    assert hours.type == "int" and not hours.required
    assert catalogue_from_json(catalogue_to_json([tool])) == (tool,)


def test_nested_arguments_are_checked_by_path_without_their_values() -> None:
    (tool,) = catalogue_from_json([FORECAST])
    ok = ToolCall("weather.get", {"city": "Oslo", "fields": ["rain"], "units": {"temp": "C"}})
    assert call_problems(ok, [tool]) == []
    assert call_problems(ToolCall("weather.get", {**ok.arguments, "hours": None}), [tool]) == []
    bad = ToolCall(
        "weather.get",
        {
            "city": "Maria Lopez",
            "fields": ["rain", "snow-secret"],
            "units": {"precision": 9},
            "hours": 1.5,
            "colour": "MRN-0042137",
        },
    )
    problems = call_problems(bad, [tool])
    text = " ".join(problems)
    assert "argument 'fields[1]' must be one of rain, wind" in text
    assert "missing argument 'units.temp'" in text
    assert "argument 'units.precision' must lie between 0 and 3" in text
    assert "argument 'hours' must be an integer or null" in text
    assert "unexpected argument 'colour'" in text
    for value in ("Maria", "snow-secret", "MRN-0042137", "1.5", "9"):
        assert value not in text, value


def test_an_unresolvable_reference_refuses_the_call_instead_of_crashing() -> None:
    spec = {
        "name": "ref.tool",
        "description": "A tool whose schema points nowhere.",
        "parameters": {"type": "object", "properties": {"p": {"$ref": "#/$defs/missing"}}},
    }
    (tool,) = catalogue_from_json([spec])
    assert tool.arg("p").type == "any"
    (problem,) = call_problems(ToolCall("ref.tool", {"p": 1}), [tool])
    assert "reference that cannot be resolved" in problem


def test_deeply_nested_specs_and_arguments_are_refused_not_crashing() -> None:
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(2000):
        deep = {"type": "array", "items": deep}
    spec = {"name": "deep", "description": "d", "parameters": {"type": "object",
            "properties": {"x": deep}}}  # fmt: skip
    with pytest.raises(DataError, match="nested deeper"):
        catalogue_from_json([spec])
    (tool,) = catalogue_from_json([FORECAST])
    value: Any = "Oslo"
    for _ in range(2000):
        value = [value]
    (problem,) = call_problems(ToolCall("weather.get", {"city": "Oslo", "fields": value}), [tool])
    assert "nested deeper" in problem
