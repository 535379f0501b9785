"""Loading users' own JSONL episodes: valid files load, every bad line is reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fical_secure.data.generator import generate_federation
from fical_secure.data.loader import episode_record, load_episodes_jsonl
from fical_secure.errors import DataError

GOOD: dict[str, Any] = {
    "id": "ep-1",
    "split": "member",
    "request": "Pull the latest HbA1c for Maria Lopez (MRN-0042137).",
    "call": {"tool": "lab_results_lookup", "arguments": {"mrn": "MRN-0042137", "test": "HbA1c"}},
    "result": "HbA1c 7.2 %, ref 4-5.6.",
    "answer": "Maria Lopez: HbA1c is 7.2 %.",
    "pii": [{"kind": "PERSON", "value": "Maria Lopez"}, {"kind": "MRN", "value": "MRN-0042137"}],
}


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "episodes.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


_DROP = object()  # marks a field to leave out


def _with(**changes: Any) -> str:
    record = {**GOOD, **changes}
    return json.dumps({k: v for k, v in record.items() if v is not _DROP})


def test_valid_file_loads_with_defaults_and_blank_lines_skipped(tmp_path: Path) -> None:
    minimal = {k: GOOD[k] for k in ("request", "call", "result", "answer")}
    path = _write(tmp_path, [json.dumps(GOOD), "", "   ", json.dumps(minimal)])
    first, second = load_episodes_jsonl(path, hospital_id="clinic-a")
    assert first.episode_id == "ep-1" and first.hospital_id == "clinic-a"
    assert [p.value for p in first.pii] == ["Maria Lopez", "MRN-0042137"]
    assert second.episode_id == "clinic-a-L000004"
    assert second.split == "member" and second.pii == ()
    assert second.call.arguments == {"mrn": "MRN-0042137", "test": "HbA1c"}


def test_integers_for_float_arguments_become_floats(tmp_path: Path) -> None:
    call = {"tool": "bmi_calculator", "arguments": {"weight_kg": 70, "height_cm": 175}}
    path = _write(tmp_path, [_with(call=call, pii=[], request="BMI for 70 kg, 175 cm?")])
    (episode,) = load_episodes_jsonl(path, hospital_id="h")
    assert episode.call.arguments == {"weight_kg": 70.0, "height_cm": 175.0}
    assert all(isinstance(v, float) for v in episode.call.arguments.values())


def test_generated_episodes_load_back_unchanged(tmp_path: Path) -> None:
    hospital = generate_federation(
        2, seed=4, episodes_per_hospital=10, nonmembers_per_hospital=0, eval_per_tool=0
    ).hospitals[0]
    path = _write(tmp_path, [json.dumps(episode_record(e)) for e in hospital.members])
    assert load_episodes_jsonl(path, hospital_id=hospital.hospital_id) == hospital.members


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('{"request": "x", ', "invalid JSON"),
        ("[1, 2]", "expected a JSON object, got a list"),
        (_with(answer=_DROP), "missing field 'answer'"),
        (_with(call=_DROP), "missing field 'call'"),
        (_with(request=42), "field 'request' must be a string, got an integer"),
        (_with(request="  "), "field 'request' must not be empty"),
        (_with(result=None), "field 'result' must be a string, got null"),
        (_with(id=""), "field 'id' must not be empty"),
        (_with(split="train"), "field 'split' must be 'member' or 'nonmember'"),
        (_with(call="lab_results_lookup()"), "call must be an object"),
        (_with(call={"tool": "lab_results_lookup"}), "call.arguments must be an object"),
        (_with(call={"tool": "xray_vision", "arguments": {}}), "unknown tool 'xray_vision'"),
        (
            _with(
                call={
                    "tool": "lab_results_lookup",
                    "arguments": {"mrn": "MRN-0042137", "test": "ferritin"},
                }
            ),
            "'test' must be one of",
        ),
        (
            _with(
                call={"tool": "lab_results_lookup", "arguments": {"mrn": "0042137", "test": "CBC"}}
            ),
            "'mrn' does not match",
        ),
        (
            _with(call={"tool": "lab_results_lookup", "arguments": {"test": "CBC"}}),
            "missing argument 'mrn'",
        ),
        (_with(pii=[{"kind": "NAME", "value": "Maria Lopez"}]), "is not one of"),
        (_with(pii=[{"kind": "PERSON", "value": "John Doe"}]), "does not occur in the episode"),
        (_with(pii={"kind": "PERSON"}), "field 'pii' must be a list"),
        (_with(notes="called twice"), "unknown field 'notes'"),
        ("NaN", "invalid JSON"),
    ],
)
def test_each_kind_of_bad_line_is_reported_with_file_and_line(
    tmp_path: Path, line: str, fragment: str
) -> None:
    path = _write(tmp_path, [json.dumps(GOOD), line])
    with pytest.raises(DataError) as caught:
        load_episodes_jsonl(path, hospital_id="h")
    message = str(caught.value)
    assert str(path) in message
    assert "line 2:" in message and fragment in message
    assert "line 1:" not in message


def test_every_bad_line_is_listed_and_nothing_is_returned(tmp_path: Path) -> None:
    lines = [
        json.dumps(GOOD),
        "{oops",
        _with(id="ep-2", answer=_DROP),
        _with(id="ep-3"),
        _with(id="ep-4", call={"tool": "nope", "arguments": {}}),
    ]
    path = _write(tmp_path, lines)
    with pytest.raises(DataError) as caught:
        load_episodes_jsonl(path, hospital_id="h")
    message = str(caught.value)
    assert "3 problem(s)" in message
    for number in (2, 3, 5):
        assert f"line {number}:" in message


def test_duplicate_ids_are_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, [json.dumps(GOOD), json.dumps(GOOD)])
    with pytest.raises(DataError, match=r"line 2: duplicate id 'ep-1' \(first on line 1\)"):
        load_episodes_jsonl(path, hospital_id="h")


def test_non_utf8_line_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "episodes.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n\xff\xfe{}\n")
    with pytest.raises(DataError, match="line 2: not valid UTF-8"):
        load_episodes_jsonl(path, hospital_id="h")


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        load_episodes_jsonl(tmp_path / "absent.jsonl", hospital_id="h")


@pytest.mark.parametrize("hospital_id", ["", "../etc", "a b", "x" * 65])
def test_unusable_hospital_ids_are_refused(tmp_path: Path, hospital_id: str) -> None:
    path = _write(tmp_path, [json.dumps(GOOD)])
    with pytest.raises(DataError, match="invalid hospital id"):
        load_episodes_jsonl(path, hospital_id=hospital_id)
