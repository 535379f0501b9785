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
