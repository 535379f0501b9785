"""Strict JSON Lines reading and atomic writing, with every bad line reported.

Reading parses every line, collects every problem (file, line number, what is
wrong) and raises one :class:`DataError` listing them, so nothing is returned
from a partly bad file and a user fixes all lines in one pass. Blank lines are
skipped. Writing goes to a temporary file that replaces the target only once
complete, so a crash never leaves a truncated file behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from fical_secure.atomic import write_text_atomic
from fical_secure.errors import DataError

T = TypeVar("T")
# A line parser: (decoded JSON value, line number) -> (record or None, problems).
LineParser = Callable[[Any, int], tuple[T | None, list[str]]]
MAX_REPORTED = 50


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def read_jsonl(path: str | Path, parse: LineParser[T]) -> list[T]:
    """Parse every non-blank line of ``path`` with ``parse``; all or nothing.

    Raises:
        DataError: the file cannot be read, or any line is not UTF-8, not
            JSON, or fails ``parse``; the message names the file and lists
            every bad line with its number and problem.
    """
    path = Path(path)
    try:
        raw_lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    records: list[T] = []
    problems: list[str] = []
    for number, raw in enumerate(raw_lines, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"line {number}: not valid UTF-8 text")
            continue
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_constant=_reject_constant)
        except ValueError as exc:
            problems.append(f"line {number}: invalid JSON ({exc})")
            continue
        record, line_problems = parse(value, number)
        problems.extend(f"line {number}: {p}" for p in line_problems)
        if record is not None and not line_problems:
            records.append(record)
    if problems:
        raise DataError(_summary(path, problems))
    return records


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
