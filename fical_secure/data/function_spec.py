"""Tool catalogues as data: JSON function specs, validated, to and from :class:`ToolSpec`.

A catalogue is a JSON list of function specs in the format agents already
use (OpenAI / BFCL style)::

    [{"name": "track_parcel",
      "description": "Where a parcel is now.",
      "parameters": {"type": "object",
                     "properties": {"carrier": {"type": "string", "enum": ["dhl", "ups"]},
                                    "tracking_id": {"type": "string",
                                                    "pattern": "^[A-Z]{2}\\\\d{9}$"}},
                     "required": ["carrier", "tracking_id"]},
      "returns": "current location"}]

Property types: ``string`` (optionally ``enum``, ``pattern``, or ``format:
"date"`` for ``YYYY-MM-DD``), ``integer`` (optionally an integer ``enum``),
``number``, ``boolean``; ``minimum`` / ``maximum`` bound numbers. Arrays and
objects are not supported: such a tool is reported, not silently dropped.
Every problem of a catalogue is reported in one :class:`DataError`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fical_secure.data.schema import ArgSpec, ArgType, ToolSpec
from fical_secure.errors import DataError, UntrustedInputError
from fical_secure.untrusted import DOCUMENT_LIMITS, load_json_file

TOOL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_SPEC_FIELDS = frozenset({"name", "description", "parameters", "returns"})
_PROPERTY_FIELDS = frozenset(
    {"type", "description", "enum", "pattern", "format", "minimum", "maximum", "default"}
)
_JSON_TYPES: dict[str, ArgType] = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
}


def tool_to_spec(tool: ToolSpec) -> dict[str, Any]:
    """The JSON function spec of ``tool`` (the inverse of :func:`catalogue_from_json`)."""
    properties = {arg.name: _property(arg) for arg in tool.args}
    spec: dict[str, Any] = {
        "name": tool.name,
        "description": tool.description,
        "parameters": {
            "type": "object",
            "properties": properties,
            "required": [a.name for a in tool.args if a.required],
        },
    }
    if tool.returns:
        spec["returns"] = tool.returns
    return spec


def catalogue_to_json(catalogue: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """The catalogue as a JSON list of function specs."""
    return [tool_to_spec(tool) for tool in catalogue]


def _property(arg: ArgSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"description": arg.description}
    if arg.type in ("str", "enum", "date"):
        out["type"] = "string"
        if arg.type == "enum":
            out["enum"] = list(arg.choices)
        if arg.type == "date":
            out["format"] = "date"
    else:
        out["type"] = {"int": "integer", "float": "number", "bool": "boolean"}[arg.type]
        if arg.type == "int" and arg.choices:
            out["enum"] = [int(c) for c in arg.choices]
    if arg.pattern is not None:
        out["pattern"] = arg.pattern
    for key, bound in (("minimum", arg.minimum), ("maximum", arg.maximum)):
        if bound is not None:
            out[key] = int(bound) if arg.type == "int" else bound
    return out


def catalogue_from_json(raw: Any, *, where: str = "catalogue") -> tuple[ToolSpec, ...]:
    """Validate a JSON list of function specs and build the catalogue.

    Raises:
        DataError: not a list, or any spec is malformed (unknown field, bad
            name, duplicate name, unsupported or inconsistent property); the
            message lists every problem.
    """
    if not isinstance(raw, list) or not raw:
        raise DataError(f"{where}: a catalogue must be a non-empty JSON list of function specs")
    problems: list[str] = []
    tools: list[ToolSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        tool = _tool(item, f"tool {i}", problems)
        if tool is None:
            continue
        if tool.name in seen:
            problems.append(f"tool {i}: duplicate tool name {tool.name!r}")
        seen.add(tool.name)
        tools.append(tool)
    if problems:
        raise DataError(
            f"{where}: {len(problems)} problem(s) in the function specs; fix them and load "
            "again:\n  " + "\n  ".join(problems)
        )
    return tuple(tools)


def _tool(item: Any, at: str, problems: list[str]) -> ToolSpec | None:
    if not isinstance(item, dict):
        problems.append(f"{at}: must be an object with name, description and parameters")
        return None
    before = len(problems)
    problems += [f"{at}: unknown field {k!r}" for k in item if k not in _SPEC_FIELDS]
    name, description = item.get("name"), item.get("description")
    if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
        problems.append(
            f"{at}: name {name!r} must be 1-64 letters, digits or '_' (not starting with a digit)"
        )
        name = "?"
    at = f"{at} ({name})"
    if not isinstance(description, str) or not description.strip():
        problems.append(f"{at}: description must be a non-empty string")
    returns = item.get("returns", "")
    if not isinstance(returns, str):
        problems.append(f"{at}: returns must be a string")
    params = item.get("parameters", {"type": "object", "properties": {}})
    args = _arguments(params, at, problems)
    if len(problems) > before:
        return None
    return ToolSpec(str(name), str(description), args, str(returns))


def _arguments(params: Any, at: str, problems: list[str]) -> tuple[ArgSpec, ...]:
    if not isinstance(params, dict) or params.get("type", "object") != "object":
        problems.append(f"{at}: parameters must be a JSON Schema object")
        return ()
    properties, required = params.get("properties", {}), params.get("required", [])
    if not isinstance(properties, dict):
        problems.append(f"{at}: parameters.properties must be an object")
        return ()
    if not isinstance(required, list) or not all(r in properties for r in required):
        problems.append(f"{at}: parameters.required must list names of its properties")
        required = []
    args = [_argument(n, p, n in required, f"{at}.{n}", problems) for n, p in properties.items()]
    return tuple(a for a in args if a is not None)


def _argument(name: str, prop: Any, required: bool, at: str, problems: list[str]) -> ArgSpec | None:
    if not TOOL_NAME.fullmatch(name):
        problems.append(f"{at}: argument name must be letters, digits or '_'")
        return None
    if not isinstance(prop, dict):
        problems.append(f"{at}: must be a JSON Schema property object")
        return None
    unknown = [k for k in prop if k not in _PROPERTY_FIELDS]
    if unknown:
        problems.append(f"{at}: unsupported keyword(s) {', '.join(map(repr, unknown))}")
    json_type = prop.get("type")
    if json_type not in _JSON_TYPES:
        problems.append(
            f"{at}: type {json_type!r} is not supported (use string, integer, number or boolean)"
        )
        return None
    kind: ArgType = _JSON_TYPES[json_type]
    enum = prop.get("enum")
    choices: tuple[str, ...] = ()
    if enum is not None:
        wanted = str if kind == "str" else int if kind == "int" else None
        if (
            wanted is None
            or not isinstance(enum, list)
            or not enum
            or not all(type(v) is wanted for v in enum)
        ):
            problems.append(
                f"{at}: enum must be a non-empty list of values of its type (strings or integers)"
            )
            return None
        choices = tuple(str(v) for v in enum)
        kind = "enum" if kind == "str" else kind
    if prop.get("format") is not None:
        if prop["format"] != "date" or kind != "str":
            problems.append(f"{at}: only format 'date' on a string is supported")
            return None
        kind = "date"
    pattern = prop.get("pattern")
    if pattern is not None and (not isinstance(pattern, str) or not _compiles(pattern)):
        problems.append(f"{at}: pattern must be a valid regular expression")
        return None
    bounds = [prop.get("minimum"), prop.get("maximum")]
    if any(
        b is not None and (isinstance(b, bool) or not isinstance(b, int | float)) for b in bounds
    ):
        problems.append(f"{at}: minimum and maximum must be numbers")
        return None
    description = prop.get("description", "")
    if not isinstance(description, str):
        problems.append(f"{at}: description must be a string")
        return None
    return ArgSpec(
        name,
        kind,
        description or name.replace("_", " "),
        choices,
        pattern,
        required=required,
        minimum=None if bounds[0] is None else float(bounds[0]),
        maximum=None if bounds[1] is None else float(bounds[1]),
    )


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def load_catalogue(path: str | Path) -> tuple[ToolSpec, ...]:
    """Read and validate a ``catalogue.json`` file.

    Raises:
        DataError: the file cannot be read, is not JSON, or fails validation.
    """
    path = Path(path)
    try:
        raw = load_json_file(path, DOCUMENT_LIMITS)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}", source=path.name) from exc
    except UntrustedInputError as exc:
        raise UntrustedInputError(
            f"{path}: invalid JSON ({exc}); a catalogue is a JSON list", source=path.name
        ) from None
    return catalogue_from_json(raw, where=str(path))
