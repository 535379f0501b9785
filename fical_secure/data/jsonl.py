"""Strict JSON Lines reading and atomic writing, with every bad line reported.

Reading parses every line, collects every problem (file, line number, what is
wrong) and raises one :class:`DataError` listing them, so nothing is returned
from a partly bad file and a user fixes all lines in one pass. Blank lines are
skipped. Files and lines are read through :mod:`fical_secure.untrusted`: only
a regular file of bounded size, each line's JSON bounded in size and depth.
Writing goes to a temporary file that replaces the target only once
complete, so a crash never leaves a truncated file behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from fical_secure.atomic import write_text_atomic
from fical_secure.errors import DataError, UntrustedInputError
from fical_secure.untrusted import JsonLimits, loads_bounded, read_regular

T = TypeVar("T")
# A line parser: (decoded JSON value, line number) -> (record or None, problems).
LineParser = Callable[[Any, int], tuple[T | None, list[str]]]
MAX_REPORTED = 50
LINE_LIMITS = JsonLimits(max_bytes=4 * 1024 * 1024, max_depth=32)


def read_jsonl(path: str | Path, parse: LineParser[T]) -> list[T]:
    """Parse every non-blank line of ``path`` with ``parse``; all or nothing.

    Raises:
        DataError: the file cannot be read, or any line is not UTF-8, not
            JSON, or fails ``parse``; the message names the file and lists
            every bad line with its number and problem, and the error's
            ``source`` and ``lines`` say where without quoting a value.
        UntrustedInputError: the path is not a regular file or is too large.
    """
    path = Path(path)
    try:
        raw_lines = read_regular(path).splitlines()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}", source=path.name) from exc
    except UntrustedInputError as exc:
        raise UntrustedInputError(str(exc), source=path.name) from None
    records: list[T] = []
    problems: list[str] = []
    bad: list[int] = []
    for number, raw in enumerate(raw_lines, start=1):
        record, line_problems = _line(raw, number, parse)
        if line_problems:
            problems.extend(f"line {number}: {p}" for p in line_problems)
            bad.append(number)
        elif record is not None:
            records.append(record)
    if problems:
        raise DataError(_summary(path, problems), source=path.name, lines=bad)
    return records


def _line(raw: bytes, number: int, parse: LineParser[T]) -> tuple[T | None, list[str]]:
    """One line's record and problems; ``(None, [])`` for a blank line."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, ["not valid UTF-8 text"]
    if not line.strip():
        return None, []
    try:
        value = loads_bounded(line, LINE_LIMITS)
    except UntrustedInputError as exc:
        return None, [f"invalid JSON ({exc})"]
    return parse(value, number)


def _summary(path: Path, problems: list[str]) -> str:
    shown = problems[:MAX_REPORTED]
    more = len(problems) - len(shown)
    tail = f"\n  ... and {more} more" if more else ""
    return (
        f"{path}: {len(problems)} problem(s); fix them and load again:\n  "
        + "\n  ".join(shown)
        + tail
    )


def dumps(record: Any) -> str:
    """One record as one JSON line (UTF-8 text kept as is, no NaN or infinity)."""
    return json.dumps(record, ensure_ascii=False, allow_nan=False)


def write_jsonl(path: str | Path, records: Iterable[Any]) -> None:
    """Write ``records`` one per line to ``path`` atomically.

    Raises:
        DataError: the file cannot be written, or a record is not JSON-serializable.
    """
    try:
        text = "".join(dumps(record) + "\n" for record in records)
    except (TypeError, ValueError) as exc:
        raise DataError(f"cannot write {path}: a record is not JSON-serializable ({exc})") from exc
    write_text(path, text)


def write_text(path: str | Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (see :mod:`fical_secure.atomic`).

    Raises:
        DataError: the file cannot be written.
    """
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise DataError(f"cannot write {path}: {exc.strerror or exc}") from exc
