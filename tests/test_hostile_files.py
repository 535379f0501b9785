"""Hostile files where data is read: each is one typed error, fast, in bounded memory.

A line or ``meta.json`` nested 100k deep, a members file that is a symlink to
``/dev/zero``, a FIFO nobody writes to, a file past the size cap: the real
loaders (``load_federation``, the ClientApp's ``load_own_data``, the scrub
roster) refuse each with :class:`UntrustedInputError` or :class:`DataError`
naming the file, never ``RecursionError``, a hang or an exhausted memory.
"""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from fical_secure.data.generator import generate_federation
from fical_secure.data.storage import load_federation, save_federation
from fical_secure.errors import ConfigError, DataError, FicalError, UntrustedInputError
from fical_secure.scrub.known import read_roster
from fical_secure.untrusted import load_json_file, read_regular

DEEP = 100_000
SECONDS = 5.0
PEAK_BYTES = 32 * 1024 * 1024


@pytest.fixture()
def saved(tmp_path: Path) -> Path:
    """A small saved federation folder; each test damages its own copy."""
    fed = generate_federation(2, seed=3, episodes_per_hospital=6, nonmembers_per_hospital=2)
    save_federation(fed, tmp_path / "fed")
    return tmp_path / "fed"


def _members(folder: Path) -> Path:
    return sorted(folder.glob("*.members.jsonl"))[0]


def _refused(action: Callable[[], object], kind: type[FicalError] = DataError) -> FicalError:
    """Run ``action`` in a thread; it must raise ``kind`` within SECONDS, using little memory."""
    seen: dict[str, object] = {}

    def target() -> None:
        tracemalloc.start()
        try:
            action()
        except BaseException as exc:  # the test inspects whatever escaped
            seen["error"] = exc
        finally:
            seen["peak"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()

    worker = threading.Thread(target=target, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(SECONDS)
    assert not worker.is_alive(), f"still reading after {SECONDS} s"
    assert time.monotonic() - started < SECONDS
    error, peak = seen.get("error"), seen["peak"]
    assert isinstance(error, kind), repr(error)
    assert isinstance(peak, int) and peak < PEAK_BYTES, peak
    return error


def test_a_jsonl_line_nested_100k_deep_is_that_lines_typed_error(saved: Path) -> None:
    members = _members(saved)
    with members.open("a", encoding="utf-8") as out:
        out.write("[" * DEEP + "]" * DEEP + "\n")
    lines = len(members.read_text(encoding="utf-8").splitlines())
    error = _refused(lambda: load_federation(saved))
    assert f"line {lines}: invalid JSON" in str(error) and "levels deep" in str(error)
    assert isinstance(error, DataError) and error.lines == (lines,)
    assert error.source == members.name
    assert error.public_reason() == f"DataError at {members.name} line {lines}"


def test_a_meta_json_nested_100k_deep_is_a_typed_error(saved: Path) -> None:
    (saved / "meta.json").write_text('{"a": ' * DEEP + "1" + "}" * DEEP, encoding="utf-8")
    error = _refused(lambda: load_federation(saved))
    assert isinstance(error, UntrustedInputError) and "levels deep" in str(error)
    assert error.public_reason() == "UntrustedInputError at meta.json"


def test_a_members_file_linked_to_dev_zero_is_refused_before_reading(saved: Path) -> None:
    members = _members(saved)
    members.unlink()
    members.symlink_to("/dev/zero")
    error = _refused(lambda: load_federation(saved))
    assert isinstance(error, UntrustedInputError) and "character device" in str(error)


def test_a_members_file_that_is_a_fifo_does_not_hang(saved: Path) -> None:
    members = _members(saved)
    members.unlink()
    os.mkfifo(members)
    error = _refused(lambda: load_federation(saved))
    assert isinstance(error, UntrustedInputError) and "a FIFO" in str(error)


def test_a_catalogue_linked_to_dev_zero_is_refused(saved: Path) -> None:
    from fical_secure.data.function_spec import load_catalogue

    (saved / "catalogue.json").symlink_to("/dev/zero")
    error = _refused(lambda: load_catalogue(saved / "catalogue.json"))
    assert isinstance(error, UntrustedInputError)


def test_a_roster_that_is_a_fifo_does_not_hang(tmp_path: Path) -> None:
    roster = tmp_path / "known.jsonl"
    os.mkfifo(roster)
    error = _refused(lambda: read_roster(roster))
    assert "a FIFO" in str(error)


def test_a_file_past_the_cap_is_refused_by_its_size_not_read(tmp_path: Path) -> None:
    sparse = tmp_path / "huge.jsonl"
    with sparse.open("wb") as out:
        out.truncate(300 * 1024 * 1024)  # sparse: no disk, past the 256 MiB default cap
    error = _refused(lambda: read_regular(sparse))
    assert "at most" in str(error)


@pytest.mark.parametrize(
    "make",
    [
        lambda p: p.write_text("a:\n" + "[" * DEEP + "]" * DEEP + "\n", encoding="utf-8"),
        lambda p: os.mkfifo(p),
        lambda p: p.symlink_to("/dev/zero"),
    ],
)
def test_a_hostile_client_configuration_is_one_config_error(
    tmp_path: Path, make: Callable[[Path], object]
) -> None:
    from fical_secure.config.client import load_hospital_config

    path = tmp_path / "hospital.yaml"
    make(path)
    error = _refused(lambda: load_hospital_config(path), ConfigError)
    assert "cannot read client configuration" in str(error)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.mkdir(), "a directory"),
        (lambda p: os.mkfifo(p), "a FIFO"),
        (lambda p: p.symlink_to("/dev/null"), "a character device"),
        (lambda p: p.write_bytes(b"[" * 33 + b"]" * 33), "levels deep"),
        (lambda p: p.write_bytes(b'{"n": ' + b"9" * 40 + b"}"), "number literal"),
        (lambda p: p.write_bytes(b"[NaN]"), "NaN is not JSON"),
        (lambda p: p.write_bytes(b"\x80"), "not valid UTF-8"),
    ],
)
def test_load_json_file_refuses_each_hostile_kind(
    tmp_path: Path, make: Callable[[Path], object], expected: str
) -> None:
    path = tmp_path / "x.json"
    make(path)
    with pytest.raises(UntrustedInputError, match=expected):
        load_json_file(path)


def test_a_regular_file_and_a_symlink_to_one_are_read_and_a_missing_one_is_oserror(
    tmp_path: Path,
) -> None:
    real = tmp_path / "real.json"
    real.write_text('{"a": [1, 2.5, "x"]}', encoding="utf-8")
    (tmp_path / "link.json").symlink_to(real)
    assert load_json_file(real) == load_json_file(tmp_path / "link.json") == {"a": [1, 2.5, "x"]}
    with pytest.raises(FileNotFoundError):
        read_regular(tmp_path / "missing.json")
