"""Scrubber profiles are schema-checked, all findings reported, before anything is built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from fical_secure.errors import ConfigError
from fical_secure.scrub.config import DEFAULT_PROFILE, load_profile, validate_profile


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


@pytest.mark.parametrize(
    ("edit", "finding"),
    [
        (lambda p: p.update(score_threshhold=0.4), "unknown key 'score_threshhold'"),
        (lambda p: p.pop("clinical"), "missing key 'clinical'"),
        (lambda p: p.update(score_threshold="high"), "score_threshold: expected float"),
        (
            lambda p: p.update(score_threshold=1.5),
            "score_threshold: must lie strictly between 0 and 1",
        ),
        (lambda p: p.update(version=2), "version: expected 1"),
        (lambda p: p.update(overlap_chars=10), "overlap_chars >= 64"),
        (lambda p: p.update(mask_passes=0), "mask_passes"),
        (lambda p: p.update(mask_passes=6), "mask_passes: must be between 1 and 5"),
        (lambda p: p.update(max_record_chars=0), "max_record_chars: must be a positive"),
        (lambda p: p.pop("max_record_chars"), "missing key 'max_record_chars'"),
        (lambda p: p["clinical"].append("MrnRecogniser"), "unknown recognizer 'MrnRecogniser'"),
        (lambda p: p["clinical"].append("CanaryRecognizer"), "listed twice"),
        (
            lambda p: p["presidio"].append({"name": "UrlRecognizer", "enabeld": True}),
            "unknown key 'enabeld'",
        ),
        (
            lambda p: p["presidio"].append({"name": "IpRecognizer", "context": [3]}),
            "list of non-empty strings",
        ),
        (
            lambda p: p["clinical"].append({"name": "NpiRecognizer", "regions": ["US"]}),
            "take regions",
        ),
        (lambda p: p["ner_entities"].append("DISEASE"), "unknown 'DISEASE'"),
    ],
)
def test_each_schema_violation_is_reported(edit: Any, finding: str) -> None:
    raw = _default()
    raw["clinical"] = [e for e in raw["clinical"] if e != "NpiRecognizer"]
    edit(raw)
    findings = validate_profile(raw)
    assert any(finding in f for f in findings), findings


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
