"""The configuration package: every YAML kind rejects unknown keys, wrong types and bad ids,
lists several problems in one error, and the shipped files (and what init / demo write) load."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from flower_fleet import free_ports

from fical_secure.compliance.client_files import CLIENT_CONFIG
from fical_secure.config.client import (
    ClientConfig,
    HospitalConfig,
    load_client_config,
    load_hospital_config,
)
from fical_secure.config.profile import (
    BUILTIN_DIR,
    Profile,
    ReleaseSection,
    builtin_profiles,
    load_profile,
    resolve_profile,
)
from fical_secure.config.scrub import DEFAULT_PROFILE, ScrubProfile
from fical_secure.config.scrub import load_profile as load_scrub_profile
from fical_secure.config.server import ServerConfig, load_server_config
from fical_secure.errors import ConfigError
from fical_secure.flower.init import InitOptions, init_federation
from fical_secure.release.policy import ReleasePolicy

ROOT = Path(__file__).resolve().parents[1]
Loader = Callable[[Path], object]


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fed") / "fed"
    port, node = free_ports(2)
    init_federation(out, InitOptions(clients=1, port=port, first_node_port=node, episodes=4))
    return out


def _kinds(federation: Path) -> dict[str, tuple[Path, Loader, str, str | None]]:
    """kind -> (a valid file, its loader, an integer key's path, its client-id key or None)."""
    return {
        "hospital": (
            federation / "clients" / "h01" / "hospital.yaml",
            load_hospital_config,
            "privacy.audit_canaries",
            "client_id",
        ),
        "audit client": (
            ROOT / "audits" / "examples" / "hardened.yaml",
            load_client_config,
            "superlink.node_port",
            "client_id",
        ),
        "server": (
            federation / "server" / "server.yaml",
            load_server_config,
            "round.min_clients",
            "federation_id",
        ),
        "release profile": (
            BUILTIN_DIR / "strict.yaml",
            load_profile,
            "release.permutations",
            None,
        ),
        "scrub profile": (DEFAULT_PROFILE, load_scrub_profile, "mask_passes", None),
    }


KINDS = ("hospital", "audit client", "server", "release profile", "scrub profile")


def _set(raw: dict[str, Any], dotted: str, value: object) -> None:
    *parents, last = dotted.split(".")
    node = raw
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value


def _broken(source: Path, tmp: Path, edits: dict[str, object]) -> Path:
    """A copy of ``source`` beside it (relative paths still resolve) with ``edits`` applied."""
    raw = copy.deepcopy(yaml.safe_load(source.read_text(encoding="utf-8")))
    if any(k.startswith("superlink.") for k in edits) and "superlink" not in raw:
        raw["superlink"] = {
            "address": "127.0.0.1:9093",
            "root_certificate": "h01.jsonl",
            "auth_private_key": "h01.jsonl",
        }
    for dotted, value in edits.items():
        _set(raw, dotted, value)
    # beside a written federation's file (its relative paths must resolve); shipped files
    # name no file the loader checks, so their copies go to the test's own folder
    folder = tmp if source.is_relative_to(ROOT) else source.parent
    path = folder / f".broken-{tmp.name}.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def _message(loader: Loader, path: Path) -> str:
    try:
        with pytest.raises(ConfigError) as info:
            loader(path)
    finally:
        path.unlink()
    return str(info.value)


@pytest.mark.parametrize("kind", KINDS)
def test_the_shipped_or_written_file_loads(kind: str, federation: Path) -> None:
    source, loader, _, _ = _kinds(federation)[kind]
    expected = {
        "hospital": HospitalConfig,
        "audit client": ClientConfig,
        "server": ServerConfig,
        "release profile": Profile,
        "scrub profile": ScrubProfile,
    }
    assert type(loader(source)) is expected[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_an_unknown_key_is_refused_with_the_keys_allowed(
    kind: str, federation: Path, tmp_path: Path
) -> None:
    source, loader, number, _ = _kinds(federation)[kind]
    section = number.rsplit(".", 1)[0] + "." if "." in number else ""
    message = _message(loader, _broken(source, tmp_path, {f"{section}colour": "blue"}))
    assert f"\n  {section}colour: unknown key (allowed: " in message
    assert "(1 problems" in message


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", ["12", True, 1.5, None, [1]])
def test_a_wrong_type_is_refused(
    kind: str, value: object, federation: Path, tmp_path: Path
) -> None:
    source, loader, number, _ = _kinds(federation)[kind]
    message = _message(loader, _broken(source, tmp_path, {number: value}))
    assert f"\n  {number}: must be an integer in [" in message


@pytest.mark.parametrize("kind", [k for k in KINDS if "profile" not in k])
@pytest.mark.parametrize("bad", ["-h01", "h 01", "h01/../x", "", 7])
def test_a_bad_client_id_is_refused(
    kind: str, bad: object, federation: Path, tmp_path: Path
) -> None:
    source, loader, _, ident = _kinds(federation)[kind]
    assert ident is not None
    message = _message(loader, _broken(source, tmp_path, {ident: bad}))
    assert f"\n  {ident}: must be " in message


@pytest.mark.parametrize("kind", KINDS)
def test_several_problems_are_listed_in_one_error(
    kind: str, federation: Path, tmp_path: Path
) -> None:
    source, loader, number, ident = _kinds(federation)[kind]
    edits: dict[str, object] = {number: "many", "version": 99, "typo": 1}
    if ident is not None:
        edits[ident] = "-bad"
    message = _message(loader, _broken(source, tmp_path, edits))
    assert f"({len(edits)} problems" in message
    for path in edits:
        assert f"\n  {path}: " in message, path


def test_the_audit_reads_a_hospital_yaml_one_schema(federation: Path) -> None:
    hospital = federation / "clients" / "h01" / "hospital.yaml"
    as_audited = load_client_config(hospital)
    as_run = load_hospital_config(hospital)
    assert type(as_run) is HospitalConfig and isinstance(as_run, ClientConfig)
    assert as_audited.keys.private_key == as_run.keys.private_key
    assert as_audited.transport == "sealed" and as_audited.share_mode == "compendium"
    assert as_audited.bound_data is None  # a bare data path binds no SHA-256


def test_running_a_client_needs_the_deployment_keys_listed_at_once(tmp_path: Path) -> None:
    message = _message(
        load_hospital_config, _broken(ROOT / "audits" / "examples" / "hardened.yaml", tmp_path, {})
    )
    for path in ("federation_id", "keys.roster", "superlink", "output"):
        assert f"\n  {path}: missing" in message, path
    assert "federation init" in message  # the hint


def test_a_hospital_file_that_does_not_exist_is_named(federation: Path, tmp_path: Path) -> None:
    source = federation / "clients" / "h01" / "hospital.yaml"
    message = _message(
        load_hospital_config, _broken(source, tmp_path, {"keys.roster": "absent.bin"})
    )
    assert "\n  keys.roster: no such file " in message and "absent.bin" in message


def test_the_demo_client_template_loads_and_binds_its_data(tmp_path: Path) -> None:
    (tmp_path / "h02.jsonl").write_text("{}\n", encoding="utf-8")
    text = CLIENT_CONFIG.format(
        client_id="h02",
        compendium="../global.json",
        data="h02.jsonl",
        sha256="ab" * 32,
        transport="secagg",
    )
    path = tmp_path / "h02.yaml"
    path.write_text(text, encoding="utf-8")
    config = load_client_config(path)
    assert config.transport == "secagg"
    assert config.bound_data == (tmp_path / "h02.jsonl", "ab" * 32)
    assert config.keys.private_key == tmp_path / ".." / "keys" / "h02" / "private.key"


@pytest.mark.parametrize("name", builtin_profiles())
def test_every_shipped_profile_loads(name: str) -> None:
    profile = load_profile(resolve_profile(name))
    assert profile.name and profile.release.max_mi_auc <= 1.0 and profile.threat_models


def test_the_release_section_names_every_release_policy_field() -> None:
    assert set(ReleaseSection.model_fields) == set(ReleasePolicy.keys())
