"""The one type for arbitrary JSON: wire values, JSON Schema documents, report payloads.

Use it only where the data really is free-form JSON (a schema, a record read
from disk before it is validated, a report's serialised form); a report that
passes through stages is a frozen dataclass whose ``to_dict()`` returns a
:data:`JsonObject`. Containers are read-only (``Sequence``, ``Mapping``) so
that a ``list[str]`` or a ``dict[str, float]`` is a JSON value as it stands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

JsonValue: TypeAlias = (
    "bool | int | float | str | Sequence[JsonValue] | Mapping[str, JsonValue] | None"
)
"""Any value :func:`json.loads` returns, or :func:`json.dumps` writes (tuples too)."""

JsonObject: TypeAlias = dict[str, JsonValue]
"""A JSON object being built or read: what :func:`json.loads` returns for ``{...}``."""


def at(value: JsonValue, *path: str) -> JsonValue:
    """``value[path[0]][path[1]]...``; ``None`` where a step is missing or not an object.

    For reading figures back out of a JSON report (a row, a cell) without
    asserting its shape at every step.
    """
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def as_number(value: JsonValue) -> float | None:
    """``value`` when it is a JSON number (an ``int`` stays an ``int``), else ``None``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None


def as_int(value: JsonValue) -> int | None:
    """``value`` when it is a JSON integer, else ``None``."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_list(value: JsonValue) -> Sequence[JsonValue]:
    """``value`` when it is a JSON array, else an empty one."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return value
    return ()
