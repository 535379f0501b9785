"""Audit profiles: the shipped ones load; every broken field is named with its path."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from fical_secure.compliance.vocabulary import MEASURABLE_KINDS
from fical_secure.config.profile import (
    BUILTIN_DIR,
    builtin_profiles,
    load_profile,
    resolve_profile,
)
from fical_secure.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
STRICT = ROOT / "fical_secure" / "compliance" / "profiles" / "strict.yaml"
HIPAA = ROOT / "fical_secure" / "compliance" / "profiles" / "hipaa-safe-harbor.yaml"


def _strict() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(STRICT.read_text(encoding="utf-8"))
    return raw


def _write(tmp_path: Path, raw: Any) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_shipped_profiles_load_with_their_policies() -> None:
    strict = load_profile(STRICT)
    assert strict.name == "strict"
    assert 0.5 <= strict.release.max_mi_auc <= 1.0
    assert strict.release.max_verbatim_pii_hits == 0
    assert set(strict.release.min_scrubber_recall) == set(MEASURABLE_KINDS)
    assert strict.release.false_block_rate == 0.05 and strict.release.target_fpr == 0.01
    assert strict.crypto.private_key_mode == 0o600
    assert strict.crypto.require_sealed_transport and strict.crypto.forbid_raw_sample_sharing
    assert len(strict.threat_models) == 6
    assert len(strict.sha256) == 64
    hipaa = load_profile(HIPAA)
    assert hipaa.name == "hipaa-safe-harbor"


def test_shipped_profiles_resolve_by_name_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # outside the checkout: package data, not audits/
    assert builtin_profiles() == ("hipaa-safe-harbor", "strict")
    assert resolve_profile("strict") == BUILTIN_DIR / "strict.yaml" == STRICT
    assert load_profile(resolve_profile("hipaa-safe-harbor")).name == "hipaa-safe-harbor"


def test_a_local_file_wins_over_a_shipped_name_and_unknown_names_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    raw = _strict()
    raw["name"] = "local"
    Path("strict").write_text(yaml.safe_dump(raw), encoding="utf-8")
    assert load_profile(resolve_profile("strict")).name == "local"
    assert resolve_profile("sub/strict.yaml") == Path("sub/strict.yaml")
    with pytest.raises(ConfigError, match="cannot read audit profile no-such-profile"):
        load_profile(resolve_profile("no-such-profile"))


def test_hipaa_profile_maps_all_18_safe_harbor_identifiers() -> None:
    hipaa = load_profile(HIPAA)
    assert [item.id for item in hipaa.safe_harbor] == list("ABCDEFGHIJKLMNOPQR")
    out_of_reach = {item.id for item in hipaa.safe_harbor if item.detection == "out_of_reach"}
    assert out_of_reach == {"P", "Q"}  # biometrics and photographs: not text
    mapped = {e for item in hipaa.safe_harbor for e in item.entities}
    assert mapped <= set(hipaa.required_entities)
    assert {"PERSON", "MRN", "US_SSN", "FAX_NUMBER", "IP_ADDRESS"} <= mapped


def test_profile_hash_changes_with_the_file(tmp_path: Path) -> None:
    raw = _strict()
    first = load_profile(_write(tmp_path, raw)).sha256
    raw["release"]["max_mi_auc"] = 0.55
    assert load_profile(_write(tmp_path, raw)).sha256 != first


def _set(raw: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = raw
    for key in parents:
        node = node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value


_DELETE = object()
BROKEN: list[tuple[str, Any, str]] = [
    ("release.max_mi_auc", 0.4, "release.max_mi_auc: must be a number in [0.5, 1]"),
    ("release.max_mi_auc", "0.6", "release.max_mi_auc: must be a number in [0.5, 1]"),
    ("release.max_mi_auc", True, "release.max_mi_auc: must be a number in [0.5, 1]"),
    (
        "release.max_tpr_at_low_fpr",
        1.5,
        "release.max_tpr_at_low_fpr: must be a number in [0, 1]",
    ),
    (
        "release.false_block_rate",
        0.5,
        "release.false_block_rate: must be a number in [0.001, 0.2]",
    ),
    ("release.permutations", 10, "release.permutations: must be an integer in [99, 100000]"),
    ("release.attacks", ["psychic"], "release.attacks[0]: must be one of"),
    (
        "release.max_verbatim_pii_hits",
        3,
        "release.max_verbatim_pii_hits: must be an integer in [0, 0]",
    ),
    (
        "release.max_canary_exposure_bits",
        -1,
        "release.max_canary_exposure_bits: must be a number",
    ),
    ("release.mi_statistic", "point", "release.mi_statistic: unknown key"),
    ("release.max_mi_uac", 0.6, "release.max_mi_uac: unknown key"),
    ("release.max_mi_auc", _DELETE, "release.max_mi_auc: missing"),
    (
        "release.min_scrubber_recall.PERSON",
        1.2,
        "release.min_scrubber_recall.PERSON: must be a number in [0, 1]",
    ),
    (
        "release.min_scrubber_recall.PASSPORT",
        0.9,
        "release.min_scrubber_recall.PASSPORT: unknown key",
    ),
    (
        "scrubber.required_entities",
        ["PERSON", "SHOE_SIZE"],
        "scrubber.required_entities[1]: must be one of",
    ),
    ("scrubber.required_entities", [], "scrubber.required_entities: must be a non-empty list"),
    ("crypto.allowed_aeads", ["rot13"], "crypto.allowed_aeads[0]: must be one of"),
    ("crypto.signature", "none", "crypto.signature: must be one of"),
    ("crypto.private_key_mode", "0644", "crypto.private_key_mode: must be one of 0400, 0600"),
    (
        "crypto.private_key_mode",
        0o600,
        "crypto.private_key_mode: must be one of 0400, 0600; got 384",
    ),
    (
        "crypto.require_sealed_transport",
        "yes please",
        "crypto.require_sealed_transport: must be true or false",
    ),
    ("threat_models", ["Honest Server"], "threat_models[0]: must be a threat model id"),
    ("version", 1, "version: must be 2"),
    ("colour", "blue", "colour: unknown key"),
    ("name", "", "name: must be a non-empty string"),
]


@pytest.mark.parametrize(
    ("path", "value", "expected"), BROKEN, ids=[f"{p}={v!r}" for p, v, _ in BROKEN]
)
def test_broken_profile_names_each_problem_with_its_path(
    tmp_path: Path, path: str, value: Any, expected: str
) -> None:
    raw = _strict()
    _set(raw, path, value)
    with pytest.raises(ConfigError) as info:
        load_profile(_write(tmp_path, raw))
    assert expected in str(info.value)


def test_every_problem_of_a_profile_is_listed_at_once(tmp_path: Path) -> None:
    raw = copy.deepcopy(_strict())
    raw["release"]["max_mi_auc"] = 2
    raw["crypto"]["allowed_aeads"] = ["des"]
    raw["threat_models"] = ["ok-id", "Bad Id"]
    raw["typo"] = 1
    with pytest.raises(ConfigError) as info:
        load_profile(_write(tmp_path, raw))
    message = str(info.value)
    assert "(4 problems)" in message
    for fragment in (
        "release.max_mi_auc",
        "crypto.allowed_aeads[0]",
        "threat_models[1]",
        "typo: unknown key",
    ):
        assert fragment in message


def test_safe_harbor_item_out_of_reach_must_not_claim_recognizers(tmp_path: Path) -> None:
    raw = yaml.safe_load(HIPAA.read_text(encoding="utf-8"))
    raw["safe_harbor"][15]["entities"] = ["PERSON"]  # P, biometrics
    raw["safe_harbor"][0]["detection"] = "telepathy"
    with pytest.raises(ConfigError) as info:
        load_profile(_write(tmp_path, raw))
    assert "safe_harbor[15].entities: must be empty" in str(info.value)
    assert "safe_harbor[0].detection: must be one of" in str(info.value)


@pytest.mark.parametrize("text", ["", "- just\n- a list\n", "thresholds: [unclosed\n"])
def test_profile_that_is_not_a_mapping_or_not_yaml_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="audit profile"):
        load_profile(path)


def test_missing_profile_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read audit profile"):
        load_profile(tmp_path / "nope.yaml")
