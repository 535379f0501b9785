"""Trusted key files: ours (or root's, for public keys), in a folder others cannot write.

Attack 4 of issue 8: a public key file owned by another user, or in a folder
another user can write, can be rewritten to redirect sealed payloads. Every
loader refuses it with KeyFileError, and the compliance audit's config check
fails on it. Ownership by another user is simulated by making the current
process look like another uid (``os.geteuid`` patched), so this runs unprivileged.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from fical_secure.compliance.config_checks import config_checks
from fical_secure.config.client import load_client_config
from fical_secure.config.profile import load_profile
from fical_secure.crypto.keys import KeyBundle, PublicKeyBundle
from fical_secure.errors import KeyFileError

ROOT = Path(__file__).resolve().parents[1]
POLICY = load_profile(ROOT / "fical_secure" / "compliance" / "profiles" / "strict.yaml").crypto


def _party(folder: Path) -> KeyBundle:
    folder.mkdir(parents=True, mode=0o700)
    bundle = KeyBundle.generate()
    bundle.save(folder / "private.key")
    bundle.public.save(folder / "public.key")
    return bundle


def _pretend_uid(monkeypatch: pytest.MonkeyPatch, owner: int) -> None:
    """Make every file the test wrote look owned by another user than the one running."""
    other = owner + 4242
    monkeypatch.setattr(os, "geteuid", lambda: other)


def test_public_key_of_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _party(tmp_path / "server")
    path = tmp_path / "server" / "public.key"
    owner = path.stat().st_uid
    if owner == 0:  # root-owned public keys are trusted: give the file to a third user
        os.chown(path, 4242, -1)
        os.chown(path.parent, 4242, -1)
    else:
        _pretend_uid(monkeypatch, owner)
    with pytest.raises(KeyFileError, match="owned by uid"):
        PublicKeyBundle.load(path)


def test_private_key_of_another_user_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _party(tmp_path / "h01")
    path = tmp_path / "h01" / "private.key"
    _pretend_uid(monkeypatch, path.stat().st_uid)
    with pytest.raises(KeyFileError, match="owned by uid"):
        KeyBundle.load(path)


@pytest.mark.parametrize("folder_mode", [0o777, 0o775, 0o757, 0o1777])
@pytest.mark.parametrize("name", ["public.key", "private.key"])
def test_key_in_a_folder_others_can_write_is_refused(
    tmp_path: Path, folder_mode: int, name: str
) -> None:
    folder = tmp_path / "server"
    _party(folder)
    os.chmod(folder, folder_mode)
    loader = PublicKeyBundle.load if name == "public.key" else KeyBundle.load
    with pytest.raises(KeyFileError, match="writable by group or others"):
        loader(folder / name)
    os.chmod(folder, 0o755)  # noqa: S103  (the fix the message names)
    loader(folder / name)


def test_audit_config_check_fails_on_a_swappable_server_key(tmp_path: Path) -> None:
    for party in ("h01", "server"):
        _party(tmp_path / "keys" / party)
    shutil.copy(ROOT / "audits" / "examples" / "hardened.yaml", tmp_path / "hardened.yaml")
    os.chmod(tmp_path / "keys" / "server", 0o777)  # noqa: S103  (the misconfiguration)
    checks = {
        c.check_id: c for c in config_checks(load_client_config(tmp_path / "hardened.yaml"), POLICY)
    }
    check = checks["config.keys.server_public_key"]
    assert not check.passed
    assert "writable by group or others" in check.summary
    assert check.evidence["folder_mode"] == "0777"
