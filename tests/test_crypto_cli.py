"""The operator CLI: ``keys new``, ``seal`` and ``open`` in real subprocesses."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.process  # every test here starts processes

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "fical_secure.cli", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_failed_cleanly(result: subprocess.CompletedProcess[str], out: Path) -> None:
    assert result.returncode != 0
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]


@pytest.fixture(scope="module")
def parties(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Key folders A (sender), B (recipient) and C (a stranger), and a sealed file."""
    base = tmp_path_factory.mktemp("parties")
    for name in "ABC":
        result = cli("keys", "new", "--out", base / name)
        assert result.returncode == 0, result.stderr
    (base / "in.txt").write_bytes(b"compendium \x00\xff bytes\n")
    result = cli(
        "seal", "--key", base / "A/private.key", "--to", base / "B/public.key",
        "--round", "7", base / "in.txt", base / "sealed.env",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return base


def test_keys_new_writes_a_private_key_0600_and_a_public_key(parties: Path) -> None:
    assert stat.S_IMODE(os.stat(parties / "A/private.key").st_mode) == 0o600
    assert (parties / "A/public.key").read_bytes().startswith(b"fical-secure public-key v1\n")
    shown = cli("keys", "show", parties / "A/public.key")
    assert shown.returncode == 0 and "identity key id:" in shown.stdout


def test_keys_new_refuses_to_overwrite_existing_keys(parties: Path) -> None:
    before = (parties / "A/private.key").read_bytes()
    result = cli("keys", "new", "--out", parties / "A")
    assert result.returncode != 0 and len(result.stderr.splitlines()) == 1
    assert (parties / "A/private.key").read_bytes() == before


def test_seal_then_open_round_trips_the_file(parties: Path, tmp_path: Path) -> None:
    out = tmp_path / "opened.txt"
    result = cli(
        "open", "--key", parties / "B/private.key", "--from", parties / "A/public.key",
        "--round", "7", parties / "sealed.env", out,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == (parties / "in.txt").read_bytes()
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


@pytest.mark.parametrize(
    "case",
    ["wrong-round", "wrong-stage", "wrong-sender", "wrong-recipient", "tampered", "bad-round"],
)
def test_open_failures_exit_nonzero_with_one_line_and_no_output(
    parties: Path, tmp_path: Path, case: str
) -> None:
    key, sender, extra = parties / "B/private.key", parties / "A/public.key", ["--round", "7"]
    sealed = parties / "sealed.env"
    if case == "wrong-round":
        extra = ["--round", "8"]
    elif case == "wrong-stage":
        extra += ["--stage", "1"]
    elif case == "wrong-sender":
        sender = parties / "C/public.key"
    elif case == "wrong-recipient":
        key = parties / "C/private.key"
    elif case == "tampered":
        blob = bytearray(sealed.read_bytes())
        blob[130] ^= 1
        sealed = tmp_path / "tampered.env"
        sealed.write_bytes(bytes(blob))
    else:
        extra = ["--round", "-1"]
    out = tmp_path / "out.txt"
    result = cli("open", "--key", key, "--from", sender, *extra, sealed, out)
    assert_failed_cleanly(result, out)


def test_private_key_with_loose_permissions_is_refused(parties: Path, tmp_path: Path) -> None:
    loose = tmp_path / "loose.key"
    loose.write_bytes((parties / "A/private.key").read_bytes())
    os.chmod(loose, 0o644)
    out = tmp_path / "out.env"
    result = cli(
        "seal", "--key", loose, "--to", parties / "B/public.key", "--round", "7",
        parties / "in.txt", out,
    )  # fmt: skip
    assert_failed_cleanly(result, out)
    assert "0600" in result.stderr


def test_seal_failures_leave_no_output(parties: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.env"
    missing_input = cli(
        "seal", "--key", parties / "A/private.key", "--to", parties / "B/public.key",
        "--round", "7", tmp_path / "absent.txt", out,
    )  # fmt: skip
    assert_failed_cleanly(missing_input, out)
    not_a_public_key = cli(
        "seal", "--key", parties / "A/private.key", "--to", parties / "B/private.key",
        "--round", "7", parties / "in.txt", out,
    )  # fmt: skip
    assert_failed_cleanly(not_a_public_key, out)
    missing_folder = tmp_path / "no-such-dir" / "out.env"
    result = cli(
        "seal", "--key", parties / "A/private.key", "--to", parties / "B/public.key",
        "--round", "7", parties / "in.txt", missing_folder,
    )  # fmt: skip
    assert result.returncode != 0 and len(result.stderr.splitlines()) == 1
    assert not missing_folder.parent.exists()


def test_existing_output_is_not_overwritten(parties: Path, tmp_path: Path) -> None:
    out = tmp_path / "exists.env"
    out.write_bytes(b"keep me")
    result = cli(
        "seal", "--key", parties / "A/private.key", "--to", parties / "B/public.key",
        "--round", "7", parties / "in.txt", out,
    )  # fmt: skip
    assert result.returncode != 0 and len(result.stderr.splitlines()) == 1
    assert out.read_bytes() == b"keep me"


def test_open_refuses_a_sender_key_file_of_small_order(parties: Path, tmp_path: Path) -> None:
    # a forged public.key: identity = the identity point, "binding" = the universal forgery
    import base64

    from fical_secure.crypto.keys import RoundKey

    weak, forgery = (1).to_bytes(32, "little"), (1).to_bytes(32, "little") + bytes(32)
    forged = tmp_path / "keys" / "public.key"
    forged.parent.mkdir(mode=0o700)
    raw = weak + RoundKey.generate().public_bytes() + forgery
    forged.write_bytes(b"fical-secure public-key v1\n" + base64.b64encode(raw) + b"\n")
    out = tmp_path / "out.bin"
    result = cli(
        "open",
        "--key",
        parties / "B/private.key",
        "--from",
        forged,
        "--round",
        "7",
        parties / "sealed.env",
        out,
    )
    assert_failed_cleanly(result, out)
    assert "small order" in result.stderr
