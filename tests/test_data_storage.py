"""Saving and loading a federation folder: exact round trip, clear errors on damage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fical_secure.data.generator import generate_federation
from fical_secure.data.schema import Federation
from fical_secure.data.storage import load_federation, save_federation
from fical_secure.errors import DataError


@pytest.fixture(scope="module")
def fed() -> Federation:
    return generate_federation(
        3, seed=9, episodes_per_hospital=15, nonmembers_per_hospital=10, eval_per_tool=2
    )


@pytest.fixture()
def saved(tmp_path: Path, fed: Federation) -> Path:
    save_federation(fed, tmp_path / "fed")
    return tmp_path / "fed"


def test_load_is_the_exact_inverse_of_save(saved: Path, fed: Federation) -> None:
    loaded = load_federation(saved)
    assert loaded == fed
    first, original = loaded.hospitals[0].members[0], fed.hospitals[0].members[0]
    assert first.call.arguments == original.call.arguments
    assert [type(v) for v in first.call.arguments.values()] == [
        type(v) for v in original.call.arguments.values()
    ]


def test_saved_folder_has_one_file_per_split_plus_eval_manifest_meta(saved: Path) -> None:
    names = sorted(p.name for p in saved.iterdir())
    expected = [f"h0{i}.{s}.jsonl" for i in (1, 2, 3) for s in ("members", "nonmembers")]
    assert names == sorted([*expected, "eval.jsonl", "manifest.jsonl", "meta.json"])
    meta = json.loads((saved / "meta.json").read_text())
    assert meta["format"] == "fical-secure/federation" and meta["seed"] == 9
    assert len((saved / "eval.jsonl").read_text().splitlines()) == len(
        load_federation(saved).eval_requests
    )


def test_saving_again_overwrites_with_identical_bytes(saved: Path, fed: Federation) -> None:
    before = {p.name: p.read_bytes() for p in saved.iterdir()}
    save_federation(fed, saved)
    assert {p.name: p.read_bytes() for p in saved.iterdir()} == before


def test_folder_without_meta_is_refused(saved: Path) -> None:
    (saved / "meta.json").unlink()
    with pytest.raises(DataError, match="is this a saved federation folder"):
        load_federation(saved)


def test_other_format_version_is_refused(saved: Path) -> None:
    meta = json.loads((saved / "meta.json").read_text())
    meta["version"] = 99
    (saved / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="version 99 is not supported"):
        load_federation(saved)


def test_damaged_episode_line_names_file_and_line(saved: Path) -> None:
    path = saved / "h02.members.jsonl"
    lines = path.read_text().splitlines()
    record = json.loads(lines[3])
    record["call"]["tool"] = "unknown_tool"
    lines[3] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as caught:
        load_federation(saved)
    assert "h02.members.jsonl" in str(caught.value)
    assert "line 4: unknown tool 'unknown_tool'" in str(caught.value)


def test_episode_in_the_wrong_split_file_is_refused(saved: Path) -> None:
    path = saved / "h01.nonmembers.jsonl"
    lines = path.read_text().splitlines()
    record = json.loads(lines[0])
    record["split"] = "member"
    lines[0] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="not marked split='nonmember'"):
        load_federation(saved)


def test_missing_split_file_is_refused(saved: Path) -> None:
    (saved / "h03.members.jsonl").unlink()
    with pytest.raises(DataError, match=r"cannot read .*h03\.members\.jsonl"):
        load_federation(saved)


def test_bad_manifest_kind_is_refused(saved: Path) -> None:
    with (saved / "manifest.jsonl").open("a") as handle:
        handle.write(json.dumps({"kind": "FAVOURITE_COLOUR", "value": "x", "episode_id": "e"}))
    with pytest.raises(DataError, match="unknown PII kind 'FAVOURITE_COLOUR'"):
        load_federation(saved)


def test_bad_eval_gold_call_is_refused(saved: Path) -> None:
    with (saved / "eval.jsonl").open("a") as handle:
        gold = {"tool": "bmi_calculator", "arguments": {"weight_kg": 70.0}}
        handle.write(json.dumps({"id": "x", "request": "BMI?", "gold": gold}) + "\n")
    with pytest.raises(DataError, match="missing argument 'height_cm'"):
        load_federation(saved)
