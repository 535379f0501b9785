"""Records the scrubber reads, streamed line by line: ``{id, text}`` JSONL and episode JSONL.

Every read error names the file and the line and never quotes the line (it
may hold PII). An episode (``docs/data-format.md``) keeps its structure: its
``request``, ``result``, ``answer`` and every string argument of its ``call``
are scrubbed; its ``pii`` list is the hospital's own knowledge of who is in it
(used as known identifiers) and never written out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fical_secure.data.schema import leaves
from fical_secure.errors import DataError, UntrustedInputError
from fical_secure.jsontypes import JsonObject
from fical_secure.untrusted import JsonLimits, loads_bounded, open_regular

MAX_STREAM_BYTES = 64 * 1024 * 1024 * 1024
# records over the scrubber's max_record_chars are quarantined one by one, so lines may be long
LINE_LIMITS = JsonLimits(max_bytes=256 * 1024 * 1024)

Format = Literal["text", "episodes"]
EPISODE_TEXT_FIELDS = ("request", "result", "answer")


@dataclass(frozen=True)
class Record:
    """One input line: its number, the parsed object, and the texts to scrub in order."""

    line: int
    data: JsonObject
    texts: tuple[str, ...]


def iter_lines(path: Path) -> Iterator[tuple[int, JsonObject]]:
    """``(line number, JSON object)`` of each non-blank line, streamed.

    Raises:
        DataError: the file is unreadable, not a regular file, or a line is
            not UTF-8, not JSON (or too large or deep) or not an object; the
            message names file and line.
    """
    try:
        handle = open_regular(path, max_bytes=MAX_STREAM_BYTES)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{path} line {number}: not valid UTF-8 text (byte {exc.start}); "
                    "re-encode the file as UTF-8"
                ) from exc
            if not line.strip():
                continue
            try:
                value = loads_bounded(line, LINE_LIMITS)
            except UntrustedInputError as exc:
                raise DataError(f"{path} line {number}: not valid JSON ({exc})") from None
            if not isinstance(value, dict):
                raise DataError(f"{path} line {number}: expected a JSON object")
            yield number, value


def detect_format(data: JsonObject) -> Format:
    """``episodes`` for an object with a ``request``, else ``text``."""
    return "episodes" if "request" in data and "text" not in data else "text"


def parse_record(path: Path, number: int, data: JsonObject, fmt: Format) -> Record:
    """Check one line's object and list its texts to scrub.

    Raises:
        DataError: a field is missing or of the wrong type (file and line named).
    """
    where = f"{path} line {number}"
    ident = data.get("id")
    if fmt == "text":
        if not isinstance(ident, str | int) or isinstance(ident, bool):
            raise DataError(f"{where}: missing or invalid id (string or integer)")
        text = data.get("text")
        if not isinstance(text, str):
            raise DataError(f"{where}: missing or invalid text (string)")
        return Record(number, data, (text,))
    texts: list[str] = []
    for name in EPISODE_TEXT_FIELDS:
        field = data.get(name)
        if not isinstance(field, str):
            raise DataError(f"{where}: episode field {name!r} must be a string")
        texts.append(field)
    call = data.get("call")
    arguments = call.get("arguments") if isinstance(call, dict) else None
    if not isinstance(arguments, dict):
        raise DataError(f"{where}: episode call must be an object with tool and arguments")
    if "id" in data and not (isinstance(ident, str) and ident):
        raise DataError(f"{where}: episode id must be a non-empty string")
    known_pii(path, number, data)
    args = [v for value in arguments.values() for v in leaves(value) if isinstance(v, str)]
    return Record(number, data, (*texts, *args))


def _replace_strings(value: Any, scrubbed: Iterator[str]) -> Any:
    """``value`` with its strings replaced, in :func:`leaves` order, by ``scrubbed``."""
    if isinstance(value, str):
        return next(scrubbed)
    if isinstance(value, list):
        return [_replace_strings(item, scrubbed) for item in value]
    if isinstance(value, dict):
        return {k: _replace_strings(v, scrubbed) for k, v in value.items()}
    return value


def known_pii(path: Path, number: int, data: JsonObject) -> list[tuple[str, str]]:
    """The episode's ``pii`` list as ``(kind, value)`` pairs.

    Raises:
        DataError: ``pii`` is not a list of ``{kind, value}`` string objects.
    """
    pii = data.get("pii", [])
    if not isinstance(pii, list) or not all(
        isinstance(p, dict) and isinstance(p.get("kind"), str) and isinstance(p.get("value"), str)
        for p in pii
    ):
        raise DataError(f"{path} line {number}: pii must be a list of {{kind, value}} strings")
    return [(p["kind"], p["value"]) for p in pii]


def rebuild(record: Record, fmt: Format, scrubbed: list[str]) -> JsonObject:
    """The output object: the input with its texts replaced, ``pii`` (and ``text``) left out."""
    out = {k: v for k, v in record.data.items() if k not in ("pii", "text")}
    if fmt == "text":
        out["scrubbed"] = scrubbed[0]
        return out
    for name, value in zip(EPISODE_TEXT_FIELDS, scrubbed, strict=False):
        out[name] = value
    rest = iter(scrubbed[len(EPISODE_TEXT_FIELDS) :])
    call = record.data.get("call")
    arguments = call.get("arguments") if isinstance(call, Mapping) else None
    if not isinstance(call, Mapping) or not isinstance(arguments, Mapping):
        raise DataError("an episode record needs a call object (parse_record checks it)")
    replaced = {k: _replace_strings(v, rest) for k, v in arguments.items()}
    out["call"] = {**call, "arguments": replaced}
    return out
