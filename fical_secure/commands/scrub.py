"""``fical-secure scrub --in IN.jsonl --out OUT.jsonl``: scrub PII from JSONL texts.

Input lines are ``{"id": ..., "text": ...}`` objects. Output lines keep every
input field except ``text`` (pass ``--keep-text`` to keep it, e.g. to audit
offsets) and add ``scrubbed`` and ``entities`` (``type``, ``start``, ``end``,
``score``; offsets index the original text). All or nothing: a bad input line
or a scrub failure on any line leaves no output file (it is written to a
temporary file, mode 0600, and renamed only when every line succeeded).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from fical_secure.atomic import write_text_atomic
from fical_secure.errors import DataError, ScrubError

_BATCH = 64


def register(subparsers: Any) -> None:
    """Add the ``scrub`` subcommand."""
    parser = subparsers.add_parser(
        "scrub",
        help="replace PII in JSONL texts by typed placeholders (fails closed)",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument(
        "--in", dest="in_path", required=True, type=Path, help="input JSONL: {id, text} per line"
    )
    parser.add_argument("--out", dest="out_path", required=True, type=Path, help="output JSONL")
    parser.add_argument(
        "--profile", type=Path, default=None, help="scrubber profile YAML (default: packaged)"
    )
    parser.add_argument(
        "--keep-text", action="store_true", help="also copy the original text to the output"
    )
    parser.set_defaults(func=run)


def read_records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Parse and check every line; blank lines are skipped.

    Raises:
        DataError: the file is unreadable or a line is not a JSON object with an
            ``id`` (string or integer) and a string ``text``; the message names
            the line but never quotes it (it may hold PII).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {type(exc).__name__}") from exc
    records: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path} line {number}: not valid JSON ({exc.msg}, column {exc.colno})"
            ) from exc
        if not isinstance(record, dict):
            raise DataError(f"{path} line {number}: expected a JSON object with id and text")
        if not isinstance(record.get("id"), str | int) or isinstance(record.get("id"), bool):
            raise DataError(f"{path} line {number}: missing or invalid id (string or integer)")
        if not isinstance(record.get("text"), str):
            raise DataError(f"{path} line {number}: missing or invalid text (string)")
        records.append((number, record))
    return records


def _scrub_lines(
    records: list[tuple[int, dict[str, Any]]], profile: Path | None, keep_text: bool
) -> list[str]:
    from fical_secure.scrub.scrubber import Scrubber

    scrubber = Scrubber.default() if profile is None else Scrubber.from_profile(profile)
    out: list[str] = []
    for begin in range(0, len(records), _BATCH):
        batch = records[begin : begin + _BATCH]
        try:
            results = scrubber.scrub_batch([record["text"] for _, record in batch])
        except ScrubError as exc:
            raise type(exc)(f"lines {batch[0][0]}-{batch[-1][0]}: {exc}") from exc
        for (_, record), result in zip(batch, results, strict=True):
            row = {k: v for k, v in record.items() if keep_text or k != "text"}
            row["scrubbed"] = result.scrubbed
            row["entities"] = [span.to_json() for span in result.entities]
            out.append(json.dumps(row, ensure_ascii=False))
    return out


def write_atomically(path: Path, lines: list[str]) -> None:
    """Write ``lines`` (0600, since they may hold what the scrubber saw) atomically."""
    write_text_atomic(path, "".join(line + "\n" for line in lines), mode=0o600)

def run(args: argparse.Namespace) -> int:
    """Scrub ``--in`` into ``--out``; exit 0, or raise a typed error (exit 1, no output).

    Raises:
        DataError: a bad input line.
        ConfigError: a bad profile.
        ScrubError: the scrubber failed closed on some line.
    """
    records = read_records(args.in_path)
    lines = _scrub_lines(records, args.profile, args.keep_text)
    try:
        write_atomically(args.out_path, lines)
    except OSError as exc:
        raise DataError(f"cannot write {args.out_path}: {type(exc).__name__}") from exc
    return 0
