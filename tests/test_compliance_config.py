"""Client configuration checks: key files, algorithms, transport and share mode."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from fical_secure.compliance.config_checks import config_checks
from fical_secure.config.client import load_client_config
from fical_secure.config.profile import load_profile
from fical_secure.crypto.keys import KeyBundle
from fical_secure.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "audits" / "examples"
POLICY = load_profile(ROOT / "fical_secure" / "compliance" / "profiles" / "strict.yaml").crypto


@pytest.fixture
def hardened(tmp_path: Path) -> Path:
    """The shipped hardened example, copied beside freshly generated keys."""
    for party in ("h01", "server"):
        folder = tmp_path / "keys" / party
        folder.mkdir(parents=True)
        bundle = KeyBundle.generate()
        bundle.save(folder / "private.key")
        bundle.public.save(folder / "public.key")
    shutil.copy(EXAMPLES / "hardened.yaml", tmp_path / "hardened.yaml")
    shutil.copy(EXAMPLES / "raw-sharing.yaml", tmp_path / "raw-sharing.yaml")
    return tmp_path / "hardened.yaml"


def _edited(path: Path, **changes: object) -> Path:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw.update(changes)
    out = path.with_name("edited.yaml")
    out.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return out


def _results(path: Path) -> dict[str, bool]:
    return {c.check_id: c.passed for c in config_checks(load_client_config(path), POLICY)}


def test_hardened_sealed_configuration_passes_every_config_check(hardened: Path) -> None:
    results = _results(hardened)
    assert results == {
        "config.private_key_file": True,
        "config.keys.server_public_key": True,
        "config.algorithms": True,
        "config.transport_sealed": True,
        "config.share_mode": True,
        "config.data_binding": True,
    }


def test_configuration_without_its_data_fails_the_binding_check_and_says_what_to_do(
    hardened: Path,
) -> None:
    raw = yaml.safe_load(hardened.read_text(encoding="utf-8"))
    del raw["data"]
    unbound = hardened.with_name("unbound.yaml")
    unbound.write_text(yaml.safe_dump(raw), encoding="utf-8")
    check = next(
        c
        for c in config_checks(load_client_config(unbound), POLICY)
        if c.check_id == "config.data_binding"
    )
    assert not check.passed and "data:" in check.remedy and "sha256" in check.remedy


@pytest.mark.parametrize("digest", ["abc", "G" * 64, 7])
def test_data_binding_needs_a_sha256(hardened: Path, digest: object) -> None:
    raw = yaml.safe_load(hardened.read_text(encoding="utf-8"))
    raw["data"]["sha256"] = digest
    path = hardened.with_name("bad-digest.yaml")
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"data\.sha256: must be 64 lowercase hex digits"):
        load_client_config(path)


def test_private_key_file_readable_by_group_fails(hardened: Path) -> None:
    key = hardened.parent / "keys" / "h01" / "private.key"
    os.chmod(key, 0o644)
    checks = {c.check_id: c for c in config_checks(load_client_config(hardened), POLICY)}
    check = checks["config.private_key_file"]
    assert not check.passed
    assert check.evidence["mode"] == "0644"
    assert "wider than 0600" in check.summary


def test_missing_key_file_fails_with_its_path(hardened: Path) -> None:
    key = hardened.parent / "keys" / "h01" / "private.key"
    key.unlink()
    check = config_checks(load_client_config(hardened), POLICY)[0]
    assert not check.passed and str(key) in check.summary
    assert check.evidence["exists"] is False


def test_symlinked_private_key_fails(hardened: Path) -> None:
    key = hardened.parent / "keys" / "h01" / "private.key"
    target = key.with_name("real.key")
    key.rename(target)
    key.symlink_to(target)
    assert not _results(hardened)["config.private_key_file"]


def test_tampered_server_public_key_fails(hardened: Path) -> None:
    public = hardened.parent / "keys" / "server" / "public.key"
    lines = public.read_bytes().split(b"\n")
    body = bytearray(lines[1])
    body[5] = ord("A") if body[5] != ord("A") else ord("B")  # flip a base64 character
    public.write_bytes(lines[0] + b"\n" + bytes(body) + b"\n")
    assert not _results(hardened)["config.keys.server_public_key"]


def test_raw_sample_sharing_fails_the_share_mode_check(hardened: Path) -> None:
    results = _results(hardened.with_name("raw-sharing.yaml"))
    assert results["config.share_mode"] is False
    assert results["config.transport_sealed"] is False
    assert results["config.private_key_file"] is True  # only what is wrong fails


def test_plain_transport_fails_the_transport_check(hardened: Path) -> None:
    results = _results(_edited(hardened, transport="plain"))
    assert results["config.transport_sealed"] is False
    assert results["config.share_mode"] is True


def test_secure_aggregation_transport_passes_the_transport_check(hardened: Path) -> None:
    results = _results(_edited(hardened, transport="secagg"))
    assert results["config.transport_sealed"] is True


def test_a_secagg_round_writes_client_configs_that_say_secagg(tmp_path: Path) -> None:
    from fical_secure.compliance.client_files import write_client_files
    from fical_secure.data.generator import generate_federation

    hospital = generate_federation(1, seed=0, episodes_per_hospital=4).hospitals[0]
    path = write_client_files(tmp_path, hospital, "released.json", transport="secagg")
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["transport"] == "secagg"


def test_algorithm_not_allowed_by_the_profile_fails(hardened: Path) -> None:
    config = load_client_config(
        _edited(
            hardened,
            crypto={
                "aead": "aes-ctr",
                "signature": "ed25519",
                "key_exchange": "x25519",
                "kdf": "hkdf-sha256",
            },
        )
    )
    check = config_checks(config, POLICY)[2]
    assert check.check_id == "config.algorithms" and not check.passed
    assert "aead aes-ctr is not allowed" in check.summary


def test_broken_client_config_lists_every_problem(hardened: Path) -> None:
    path = _edited(
        hardened, transport="carrier-pigeon", share_mode=3, extra=True, crypto={"aead": "rot13"}
    )
    with pytest.raises(ConfigError) as info:
        load_client_config(path)
    message = str(info.value)
    for fragment in (
        "transport: must be one of plain, sealed",
        "share_mode: must be one of",
        "extra: unknown key",
        "crypto.aead: must be one of",
        "crypto.kdf: missing",
    ):
        assert fragment in message


def test_relative_key_paths_resolve_beside_the_configuration(hardened: Path) -> None:
    config = load_client_config(hardened)
    assert config.keys.private_key == hardened.parent / "keys" / "h01" / "private.key"
    assert config.compendium == hardened.parent / "compendium-h01.json"
