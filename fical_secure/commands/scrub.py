"""``fical-secure scrub --in IN.jsonl --out OUT.jsonl``: scrub PII from JSONL, record by record.

Input: ``{"id", "text"}`` lines, or episode lines (``docs/data-format.md``),
told apart by their fields. Text lines come out with ``scrubbed`` and
``entities`` (``type``, ``start``, ``end``, ``score``; offsets index the
original text) and without ``text`` unless ``--keep-text``. Episodes come out
as episodes: request, result, answer and string arguments scrubbed, ``pii``
left out (it is used as the hospital's known identifiers, with ``--roster``).

Fails closed per record: a record the scrubber cannot show clean goes to the
quarantine file (its id, line and reason, never its text), every other record
is written. The input is read twice (validated and known identifiers
collected, then scrubbed), streamed both times. Exit status: 0 when every
record was written, 3 when some were quarantined, 1 on an error (bad input
line, empty input, bad profile): then no output file is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from fical_secure.atomic import open_atomic
from fical_secure.data.catalogue import CATALOGUE
from fical_secure.errors import ConfigError, DataError
from fical_secure.jsontypes import JsonObject
from fical_secure.scrub.known import KnownIdentifiers, read_roster
from fical_secure.scrub.parallel import ScrubPool
from fical_secure.scrub.records import (
    Record,
    detect_format,
    iter_lines,
    known_pii,
    parse_record,
    rebuild,
)
from fical_secure.scrub.scrubber import Scrubber
from fical_secure.scrub.types import Refusal

EXIT_QUARANTINED = 3
_BATCH = 64


def register(subparsers: Any) -> None:
    """Add the ``scrub`` subcommand."""
    parser = subparsers.add_parser(
        "scrub",
        help="replace PII in JSONL records by typed placeholders (fails closed per record)",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument(
        "--in", dest="in_path", required=True, type=Path, help="input JSONL: {id, text} or episodes"
    )
    parser.add_argument("--out", dest="out_path", required=True, type=Path, help="output JSONL")
    parser.add_argument(
        "--quarantine",
        type=Path,
        default=None,
        help="quarantine JSONL (default: OUT with .quarantine.jsonl)",
    )
    parser.add_argument(
        "--roster", type=Path, default=None, help="known identifiers: JSONL of {kind, value}"
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help="scrubber profile YAML (default: packaged)"
    )
    parser.add_argument(
        "--keep-text", action="store_true", help="also copy the original text to the output"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="worker processes, each with its own scrubber (default 1; start-up costs "
        "seconds per worker, worth it from a few hundred records)",
    )
    parser.set_defaults(func=run)


def quarantine_path(out_path: Path) -> Path:
    """Default quarantine file beside the output: ``out.jsonl`` -> ``out.quarantine.jsonl``."""
    return out_path.with_name(out_path.stem + ".quarantine.jsonl")


def _check_input(path: Path) -> tuple[str, int, list[tuple[str, str]]]:
    """First pass: every line valid, one format; (format, records, known identifiers)."""

    fmt: Any = None
    count = 0
    known: list[tuple[str, str]] = []
    for number, data in _lines(path):
        line_fmt = detect_format(data)
        fmt = fmt or line_fmt
        if line_fmt != fmt:
            raise DataError(f"{path} line {number}: a {line_fmt} line in a file of {fmt} lines")
        parse_record(path, number, data, fmt)
        if fmt == "episodes":
            known += known_pii(path, number, data)
        count += 1
    if count == 0:
        raise DataError(f"{path}: no records (the file is empty); nothing to scrub")
    return str(fmt), count, known


def _lines(path: Path) -> Iterator[tuple[int, JsonObject]]:
    return iter_lines(path)


def _build_scrubber(args: argparse.Namespace, known_values: list[tuple[str, str]]) -> Any:
    if args.roster is not None:
        known_values = known_values + read_roster(args.roster)
    known = KnownIdentifiers().extend(known_values)
    base = Scrubber.default() if args.profile is None else Scrubber.from_profile(args.profile)
    return base.with_context(catalogue=CATALOGUE, known=known)


class _Progress:
    """Progress on stderr (about every 10%), then the one-line summary."""

    def __init__(self, total: int, stream: IO[str]) -> None:
        self.total, self.stream, self.done, self.shown = total, stream, 0, 0

    def advance(self, n: int) -> None:
        self.done += n
        if self.done * 10 // self.total > self.shown or self.done == self.total:
            self.shown = self.done * 10 // self.total
            print(f"scrub: {self.done}/{self.total} records", file=self.stream, flush=True)


def _scrub_stream(
    args: argparse.Namespace,
    fmt: Any,
    scrubber: Any,
    out: IO[bytes],
    quarantine: IO[bytes],
    progress: _Progress,
) -> tuple[int, int, Counter[str]]:
    written, held, found = 0, 0, Counter[str]()
    batch: list[Record] = []

    def flush() -> None:
        nonlocal written, held
        texts = [t for r in batch for t in r.texts]
        outcomes = iter(scrubber.scrub_records(texts))
        for record in batch:
            results = [next(outcomes) for _ in record.texts]
            refusals = [r for r in results if isinstance(r, Refusal)]
            if refusals:
                row = {"line": record.line, "id": record.data.get("id"), **refusals[0].to_json()}
                quarantine.write(_json_line(row))
                held += 1
                continue
            row = rebuild(record, fmt, [r.scrubbed for r in results])
            if fmt == "text":
                row["entities"] = [span.to_json() for span in results[0].entities]
                if args.keep_text:
                    row["text"] = record.data["text"]
            found.update(span.type for r in results for span in r.entities)
            out.write(_json_line(row))
            written += 1
        progress.advance(len(batch))
        batch.clear()

    size = _BATCH * max(1, args.processes)
    for number, data in _lines(args.in_path):
        batch.append(parse_record(args.in_path, number, data, fmt))
        if len(batch) >= size:
            flush()
    if batch:
        flush()
    return written, held, found


def _json_line(row: JsonObject) -> bytes:
    return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")


def run(args: argparse.Namespace) -> int:
    """Scrub ``--in`` into ``--out`` and the quarantine file; print a summary line.

    Returns 0 when every record was written, 3 when some were quarantined.

    Raises:
        DataError: a bad input line (file and line named), an empty input, an unwritable output.
        ConfigError: a bad profile.
        ScrubAnalyzerError: the analyzer (or a worker process's) cannot be built.
    """

    if args.processes < 1:
        raise ConfigError(f"--processes must be at least 1, got {args.processes}")
    fmt, total, known_values = _check_input(args.in_path)
    scrubber = _build_scrubber(args, known_values)
    quarantine = args.quarantine or quarantine_path(args.out_path)
    progress = _Progress(total, sys.stderr)
    with ExitStack() as stack:
        if args.processes > 1:
            print(f"scrub: starting {args.processes} worker processes", file=sys.stderr)
            scrubber = stack.enter_context(ScrubPool(scrubber, args.processes))
            scrubber.warm()
        try:
            with (
                open_atomic(args.out_path, mode=0o600) as out,
                open_atomic(quarantine, mode=0o600) as held_file,
            ):
                written, held, found = _scrub_stream(args, fmt, scrubber, out, held_file, progress)
        except OSError as exc:
            raise DataError(f"cannot write {args.out_path}: {exc.strerror or exc}") from exc
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(found.items())) or "none"
    print(
        f"scrub: {total} records ({fmt}), {written} written to {args.out_path}, "
        f"{held} quarantined to {quarantine}; entities replaced: {kinds}"
    )
    return EXIT_QUARANTINED if held else 0
