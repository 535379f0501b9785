"""Tool catalogues as data: JSON function specs, validated, to and from :class:`ToolSpec`.

A catalogue is a JSON list of function specs in the formats agents already
write (this project's, OpenAI tools, MCP tools, BFCL; see
:mod:`fical_secure.data.spec_formats`)::

    [{"name": "weather.get",
      "description": "Forecast for a place.",
      "parameters": {"type": "object",
                     "properties": {"city": {"type": "string"},
                                    "days": {"type": "array",
                                             "items": {"type": "string", "format": "date"}},
                                    "units": {"type": "object",
                                              "properties": {"temp": {"enum": ["C", "F"]}}}},
                     "required": ["city"]},
      "returns": "the forecast"}]

Parameters are JSON Schema, checked against the metaschema by ``jsonschema``
(:mod:`fical_secure.data.json_schema`); calls are checked against them in
:mod:`fical_secure.data.validation`. Names may be namespaced (``weather.get``).
Every problem of a catalogue is reported in one :class:`DataError`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fical_secure.data.arg_schema import (
    arg_from_property,
    object_schema,
    parameters_schema,
    schema_text,
)
from fical_secure.data.json_schema import schema_problems
from fical_secure.data.schema import ArgSpec, ToolSpec
from fical_secure.data.spec_formats import read_spec
from fical_secure.errors import DataError, UntrustedInputError
from fical_secure.jsontypes import JsonObject
from fical_secure.untrusted import DOCUMENT_LIMITS, load_json_file

ARG_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,128}")
MAX_DEPTH = 64  # nesting of a spec; deeper would exhaust the recursion of schema checks


def tool_to_spec(tool: ToolSpec) -> JsonObject:
    """The JSON function spec of ``tool`` (the inverse of :func:`catalogue_from_json`)."""
    spec: JsonObject = {
        "name": tool.name,
        "description": tool.description,
        "parameters": parameters_schema(tool),
    }
    if tool.returns:
        spec["returns"] = tool.returns
    return spec


def catalogue_to_json(catalogue: Sequence[ToolSpec]) -> list[JsonObject]:
    """The catalogue as a JSON list of function specs."""
    return [tool_to_spec(tool) for tool in catalogue]


def catalogue_from_json(raw: Any, *, where: str = "catalogue") -> tuple[ToolSpec, ...]:
    """Validate a JSON list of function specs and build the catalogue.

    Raises:
        DataError: not a list, or any spec is malformed (unknown field, bad
            name, duplicate name, a parameters schema the metaschema refuses);
            the message lists every problem.
    """
    if not isinstance(raw, list) or not raw:
        raise DataError(f"{where}: a catalogue must be a non-empty JSON list of function specs")
    if json_depth(raw) > MAX_DEPTH:
        raise DataError(f"{where}: function specs nested deeper than {MAX_DEPTH} levels")
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


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, dict):
            stack += [(v, depth + 1) for v in node.values()]
        elif isinstance(node, list):
            stack += [(v, depth + 1) for v in node]
    return deepest


def _tool(item: Any, at: str, problems: list[str]) -> ToolSpec | None:
    spec = read_spec(item, at, problems)
    if spec is None:
        return None
    at = f"{at} ({spec.name})"
    before = len(problems)
    problems += schema_problems(spec.parameters, f"{at}: parameters")
    if len(problems) > before:
        return None
    args = _arguments(spec.parameters, at, problems)
    if args is None:
        return None
    # keep the schema only where the summary cannot rebuild it (built-in tools round-trip)
    stored = "" if object_schema(args) == spec.parameters else schema_text(spec.parameters)
    return ToolSpec(spec.name, spec.description, args, spec.returns, stored)


def _arguments(params: JsonObject, at: str, problems: list[str]) -> tuple[ArgSpec, ...] | None:
    """The top-level arguments of a (metaschema-valid) parameters schema."""
    if params.get("type", "object") != "object":
        problems.append(f"{at}: parameters must be a JSON Schema of type object")
        return None
    properties, required = params.get("properties", {}), params.get("required", [])
    if not isinstance(properties, dict) or not isinstance(required, list):
        problems.append(f"{at}: parameters.properties must be an object, .required a list")
        return None
    bad = [name for name in properties if not ARG_NAME.fullmatch(name)]
    if bad:
        problems.append(f"{at}: argument names must be 1-128 characters, no control characters")
        return None
    if any(r not in properties for r in required):
        problems.append(f"{at}: parameters.required must list names of its properties")
        return None
    return tuple(arg_from_property(n, p, n in required) for n, p in properties.items())


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
