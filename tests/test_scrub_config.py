"""Scrubber profiles are schema-checked, all findings reported, before anything is built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fical_secure.config.scrub import DEFAULT_PROFILE, load_profile
from fical_secure.errors import ConfigError


def _default() -> dict[str, Any]:
    raw = yaml.safe_load(DEFAULT_PROFILE.read_text(encoding="utf-8"))
    assert isinstance(raw, dict)
    return raw


def test_packaged_profile_is_valid_and_covers_every_planted_kind() -> None:
    profile = load_profile()
    names = {e.name for e in profile.clinical} | {e.name for e in profile.presidio}
    assert "PERSON" in profile.ner_entities
    assert {
        "MedicalRecordNumberRecognizer",
        "InsuranceIdRecognizer",
        "StreetAddressRecognizer",
        "DateOfBirthRecognizer",
        "CanaryRecognizer",
        "EmailRecognizer",
        "PhoneRecognizer",
        "UsSsnRecognizer",
    } <= names
    assert profile.mask_passes == 3
    assert profile.max_record_chars >= 1_000_000


def _problems(raw: dict[str, Any], folder: Path) -> str:
    """The error message loading ``raw`` as a profile gives."""
    path = folder / "profile.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    return str(info.value)


@pytest.mark.parametrize(
    ("edit", "finding"),
    [
        (lambda p: p.update(score_threshhold=0.4), "\n  score_threshhold: unknown key (allowed: "),
        (lambda p: p.pop("clinical"), "\n  clinical: missing"),
        (
            lambda p: p.update(score_threshold="high"),
            "\n  score_threshold: must be a number strictly between 0 and 1",
        ),
        (
            lambda p: p.update(score_threshold=1.5),
            "\n  score_threshold: must be a number strictly between 0 and 1",
        ),
        (lambda p: p.update(version=2), "\n  version: must be 1"),
        (lambda p: p.update(overlap_chars=10), "\n  overlap_chars: must be an integer in [64, "),
        (lambda p: p.update(chunk_chars=500), "chunk_chars must be more than 2 * overlap_chars"),
        (lambda p: p.update(mask_passes=0), "\n  mask_passes: must be an integer in [1, 5]"),
        (lambda p: p.update(mask_passes=6), "\n  mask_passes: must be an integer in [1, 5]"),
        (
            lambda p: p.update(max_record_chars=0),
            "\n  max_record_chars: must be an integer in [1, ",
        ),
        (lambda p: p.pop("max_record_chars"), "\n  max_record_chars: missing"),
        (lambda p: p["clinical"].append("MrnRecogniser"), "got 'MrnRecogniser'"),
        (
            lambda p: p["clinical"].append("CanaryRecognizer"),
            "\n  clinical: 'CanaryRecognizer' listed twice",
        ),
        (
            lambda p: p["presidio"].append({"name": "UrlRecognizer", "enabeld": True}),
            "].enabeld: unknown key (allowed: context, enabled, name, regions)",
        ),
        (
            lambda p: p["presidio"].append({"name": "IpRecognizer", "context": [3]}),
            "].context[0]: must be a non-empty string, got int",
        ),
        (
            lambda p: p["clinical"].append({"name": "NpiRecognizer", "regions": ["US"]}),
            "].regions: only PhoneRecognizer take regions",
        ),
        (lambda p: p["ner_entities"].append("DISEASE"), "\n  ner_entities[5]: must be one of"),
        (lambda p: p.update(presidio="EmailRecognizer"), "\n  presidio: must be a list"),
        (lambda p: p.update(language=["en"]), "\n  language: must be a non-empty string"),
    ],
)
def test_each_schema_violation_is_reported(edit: Any, finding: str, tmp_path: Path) -> None:
    raw = _default()
    raw["clinical"] = [e for e in raw["clinical"] if e != "NpiRecognizer"]
    edit(raw)
    assert finding in _problems(raw, tmp_path)


def test_several_problems_are_reported_in_one_error(tmp_path: Path) -> None:
    raw = _default()
    raw.update(score_threshold=2, mask_passes=9, colour="blue")
    raw["ner_entities"].append("DISEASE")
    message = _problems(raw, tmp_path)
    assert "(4 problems)" in message
    for path in ("score_threshold", "mask_passes", "colour", "ner_entities[5]"):
        assert f"\n  {path}: " in message, path


def test_all_findings_are_collected_into_one_error(tmp_path: Path) -> None:
    raw = _default()
    raw["clinical"].append("NoSuchRecognizer")
    raw["presidio"].append("AlsoMissing")
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    assert "NoSuchRecognizer" in str(info.value) and "AlsoMissing" in str(info.value)


def test_disabled_entries_are_not_built(tmp_path: Path) -> None:
    raw = _default()
    raw["clinical"] = [{"name": "CanaryRecognizer", "enabled": False}, "NpiRecognizer"]
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    assert [e.name for e in load_profile(path).clinical] == ["NpiRecognizer"]


@pytest.mark.parametrize("content", ["version: [1\n", "- just a list\n", ""])
def test_unparsable_or_non_mapping_profile_is_a_config_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError):
        load_profile(path)


def test_missing_profile_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_profile(tmp_path / "absent.yaml")
