"""Tool catalogues as JSON function specs: round trip, validation with every problem listed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

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
        (lambda t: t["parameters"]["properties"].update(tags={"type": "array"}), "not supported"),
        (lambda t: t["parameters"].update(required=["nope"]), "required"),
        (lambda t: t["parameters"]["properties"]["carrier"].update(enum=[1, "a"]), "enum"),
        (lambda t: t["parameters"]["properties"]["carrier"].update(pattern="("), "pattern"),
        (lambda t: t["parameters"]["properties"]["since"].update(format="time"), "format"),
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
