"""Load a hospital's own tool-use episodes from JSON Lines (see docs/data-format.md).

One JSON object per line::

    {"id": "ep-17", "split": "member",
     "request": "Pull the latest HbA1c for MRN-0042137.",
     "call": {"tool": "lab_results_lookup",
              "arguments": {"mrn": "MRN-0042137", "test": "HbA1c"}},
     "result": "HbA1c 7.2 %, ref 4-5.6.",
     "answer": "HbA1c is 7.2 %.",
     "pii": [{"kind": "MRN", "value": "MRN-0042137"}]}

Required: ``request`` (non-empty string), ``call`` (``tool``: a catalogue tool;
``arguments``: valid for that tool's ArgSpec, see
:func:`fical_secure.data.validation.call_problems`), ``result`` and ``answer``
(strings). Optional: ``id`` (non-empty string, unique in the file; default
``<hospital_id>-L<line>``), ``split`` (``member`` or ``nonmember``; default
``member``), ``pii`` (list of ``{kind, value}`` with ``kind`` in
``PII_KINDS`` and ``value`` occurring in the episode text), ``subject`` (a
non-empty pseudonymous key of the patient; KCG counts support in distinct
subjects). Unknown fields are
rejected (a misspelt optional field would otherwise be silently dropped).
Integers given for float arguments become floats. Blank lines are skipped.
Every bad line is reported in one :class:`DataError`; nothing is returned
from a file with any bad line. The generator's saved splits use this format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.jsonl import read_jsonl
from fical_secure.data.schema import (
    CLIENT_ID_RULE,
    PII_KINDS,
    ArgValue,
    Episode,
    PIIValue,
    ToolCall,
    ToolSpec,
    is_client_id,
)
from fical_secure.data.validation import call_problems, find_tool
from fical_secure.errors import DataError
from fical_secure.jsontypes import JsonObject, JsonValue

EPISODE_FIELDS: tuple[str, ...] = (
    "id", "split", "request", "call", "result", "answer", "pii", "subject",
)  # fmt: skip
REQUIRED_FIELDS: tuple[str, ...] = ("request", "call", "result", "answer")


def check_hospital_id(hospital_id: str) -> None:
    """Raises DataError unless ``hospital_id`` is a client id (safe in a file name)."""
    if not is_client_id(hospital_id):
        raise DataError(f"invalid hospital id {hospital_id!r}: use {CLIENT_ID_RULE}")


def episode_record(episode: Episode) -> JsonObject:
    """The JSONL record of ``episode`` (the documented format; hospital id lives outside)."""
    pii: list[JsonValue] = [{"kind": p.kind, "value": p.value} for p in episode.pii]
    record: JsonObject = {
        "id": episode.episode_id,
        "split": episode.split,
        "request": episode.request,
        "call": call_record(episode.call),
        "result": episode.result,
        "answer": episode.answer,
        "pii": pii,
    }
    if episode.subject:
        record["subject"] = episode.subject
    return record


def call_record(call: ToolCall) -> JsonObject:
    """The JSON object of a tool call: ``{"tool": ..., "arguments": {...}}``."""
    return {"tool": call.tool, "arguments": dict(call.arguments)}


def parse_call(
    value: Any, catalogue: Sequence[ToolSpec] = CATALOGUE
) -> tuple[ToolCall | None, list[str]]:
    """Decode and validate a ``{"tool", "arguments"}`` object; (call or None, problems)."""
    if not isinstance(value, dict):
        return None, [f"call must be an object with tool and arguments, got {_kind(value)}"]
    problems = [f"call has unknown field {k!r}" for k in value if k not in ("tool", "arguments")]
    tool, arguments = value.get("tool"), value.get("arguments")
    if not isinstance(tool, str):
        problems.append(f"call.tool must be a string, got {_kind(tool)}")
    if not isinstance(arguments, dict):
        problems.append(f"call.arguments must be an object, got {_kind(arguments)}")
    if problems or not isinstance(tool, str) or not isinstance(arguments, dict):
        return None, problems
    spec = find_tool(tool, catalogue)
    if spec is not None:  # ints are fine for float arguments; store them as floats
        float_args = {a.name for a in spec.args if a.type == "float"}
        arguments = {
            k: float(v) if k in float_args and type(v) is int else v for k, v in arguments.items()
        }
    call = ToolCall(tool, _as_arguments(arguments))
    problems = call_problems(call, catalogue)
    return (None, problems) if problems else (call, [])


def _as_arguments(arguments: JsonObject) -> dict[str, ArgValue]:
    return {str(k): _as_argument(v) for k, v in arguments.items()}


def _as_argument(value: JsonValue) -> ArgValue:
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, Mapping):
        return {str(k): _as_argument(v) for k, v in value.items()}
    return [_as_argument(v) for v in value]


def _kind(value: Any) -> str:
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def _string(record: JsonObject, name: str, problems: list[str], *, non_empty: bool) -> str:
    value = record.get(name)
    if not isinstance(value, str):
        problems.append(f"field {name!r} must be a string, got {_kind(value)}")
        return ""
    if non_empty and not value.strip():
        problems.append(f"field {name!r} must not be empty")
    return value


def _pii(value: Any, episode_id: str, problems: list[str]) -> tuple[PIIValue, ...]:
    if not isinstance(value, list):
        problems.append(f"field 'pii' must be a list of {{kind, value}}, got {_kind(value)}")
        return ()
    found: list[PIIValue] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"kind", "value"}:
            problems.append(f"pii[{i}] must be an object with exactly kind and value")
        elif item["kind"] not in PII_KINDS:
            problems.append(f"pii[{i}].kind {item['kind']!r} is not one of {', '.join(PII_KINDS)}")
        elif not isinstance(item["value"], str) or not item["value"]:
            problems.append(f"pii[{i}].value must be a non-empty string")
        else:
            found.append(PIIValue(item["kind"], item["value"], episode_id))
    return tuple(found)


def parse_episode(
    value: Any, line: int, *, hospital_id: str, catalogue: Sequence[ToolSpec] = CATALOGUE
) -> tuple[Episode | None, list[str]]:
    """Decode and validate one episode record; (episode or None, every problem found)."""
    if not isinstance(value, dict):
        return None, [f"expected a JSON object, got {_kind(value)}"]
    problems = [f"missing field {name!r}" for name in REQUIRED_FIELDS if name not in value]
    problems += [
        f"unknown field {name!r} (allowed: {', '.join(EPISODE_FIELDS)})"
        for name in value
        if name not in EPISODE_FIELDS
    ]
    episode_id = f"{hospital_id}-L{line:06d}"
    if "id" in value:
        episode_id = _string(value, "id", problems, non_empty=True)
    split = value.get("split", "member")
    if split not in ("member", "nonmember"):
        problems.append(f"field 'split' must be 'member' or 'nonmember', got {split!r}")
    texts = {
        n: _string(value, n, problems, non_empty=n == "request")
        for n in ("request", "result", "answer")
        if n in value
    }
    call, call_issues = parse_call(value["call"], catalogue) if "call" in value else (None, [])
    problems += call_issues
    pii = _pii(value.get("pii", []), episode_id, problems)
    subject = _string(value, "subject", problems, non_empty=True) if "subject" in value else ""
    if problems or call is None:
        return None, problems
    episode = Episode(
        episode_id,
        hospital_id,
        texts["request"],
        call,
        texts["result"],
        texts["answer"],
        split,
        pii,
        subject,
    )
    text = episode.text()
    problems += [
        f"pii value {p.value!r} ({p.kind}) does not occur in the episode"
        for p in pii
        if p.value not in text
    ]
    return (None, problems) if problems else (episode, [])


def load_episodes_jsonl(
    path: str | Path, *, hospital_id: str, catalogue: Sequence[ToolSpec] = CATALOGUE
) -> list[Episode]:
    """Load and validate every episode of a JSONL file (format in the module docstring).

    Raises:
        DataError: the hospital id is unusable, the file cannot be read, or
            any line is invalid JSON, misses a field, has a field of the wrong
            type, names an unknown tool, has arguments invalid for the tool's
            ArgSpec, or repeats an id; the message lists every bad line.
    """
    check_hospital_id(hospital_id)
    seen: dict[str, int] = {}

    def parse(value: Any, line: int) -> tuple[Episode | None, list[str]]:
        episode, problems = parse_episode(value, line, hospital_id=hospital_id, catalogue=catalogue)
        if episode is not None:
            first = seen.setdefault(episode.episode_id, line)
            if first != line:
                return None, [f"duplicate id {episode.episode_id!r} (first on line {first})"]
        return episode, problems

    return read_jsonl(path, parse)
