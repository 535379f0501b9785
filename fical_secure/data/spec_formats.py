"""The function-spec formats agents write, read into one shape.

- this project's: ``{name, description, parameters, returns?}``;
- OpenAI tools: ``{"type": "function", "function": {name, description?, parameters?, strict?}}``;
- MCP tools: ``{name, title?, description?, inputSchema, outputSchema?, annotations?}``;
- BFCL: ``{name, description, parameters: {"type": "dict", ...}, response?}``, whose
  type names (``dict``, ``float``, ``tuple``, ``any``, Java's ``String`` /
  ``HashMap`` / ``long``...) are mapped to JSON Schema as BFCL's own
  ``GORILLA_TO_OPENAPI`` table maps them, except that ``any`` (or an unknown
  or empty type name) becomes a schema with no type: any value, as written.

Each becomes a :class:`RawSpec` whose ``parameters`` is plain JSON Schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fical_secure.data.schema import TOOL_NAME
from fical_secure.jsontypes import JsonObject, JsonValue

_FIELDS = {
    "project": frozenset({"name", "description", "parameters", "returns"}),
    "openai": frozenset({"name", "description", "parameters", "strict"}),
    "mcp": frozenset(
        {"name", "title", "description", "inputSchema", "outputSchema", "annotations", "_meta"}
        | {"icons"}
    ),
    "bfcl": frozenset({"name", "description", "parameters", "response"}),
}
_EMPTY: JsonObject = {"type": "object", "properties": {}}
BFCL_TYPES: dict[str, str] = {
    "integer": "integer",
    "number": "number",
    "float": "number",
    "string": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "dict": "object",
    "object": "object",
    "tuple": "array",
    "byte": "integer",
    "short": "integer",
    "long": "integer",
    "double": "number",
    "char": "string",
    "ArrayList": "array",
    "Array": "array",
    "HashMap": "object",
    "Hashtable": "object",
    "Queue": "array",
    "Stack": "array",
    "String": "string",
    "Bigint": "integer",
    "Boolean": "boolean",
}


@dataclass(frozen=True)
class RawSpec:
    """One function spec in the project's shape; ``parameters`` is JSON Schema (unchecked)."""

    name: str
    description: str
    parameters: Any
    returns: str


def read_spec(item: Any, at: str, problems: list[str]) -> RawSpec | None:
    """The spec of ``item`` in whichever format it is written; problems are appended."""
    if not isinstance(item, dict):
        problems.append(f"{at}: must be an object with name, description and parameters")
        return None
    form, body = _format(item)
    if not isinstance(body, dict):  # only an OpenAI tool's "function" can be another value
        problems.append(f"{at}: an OpenAI tool's 'function' must be an object")
        return None
    before = len(problems)
    problems += [f"{at}: unknown field {k!r}" for k in body if k not in _FIELDS[form]]
    name = body.get("name")
    if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
        problems.append(
            f"{at}: name {str(name)[:80]!r} must be 1-128 letters, digits, '_', '.' or '-' "
            "(not starting with '.' or '-')"
        )
        name = "?"
    at = f"{at} ({name})"
    description = body.get("description")
    if description is None and form in ("openai", "mcp"):
        description = str(body.get("title") or name.replace("_", " "))
    if not isinstance(description, str) or not description.strip():
        problems.append(f"{at}: description must be a non-empty string")
    returns = _returns(body, form, at, problems)
    parameters = body.get("inputSchema" if form == "mcp" else "parameters", _EMPTY)
    if form == "bfcl":
        parameters = bfcl_schema(parameters)
    if len(problems) > before:
        return None
    return RawSpec(name, str(description), parameters, returns)


def _format(item: JsonObject) -> tuple[str, JsonValue]:
    if item.get("type") == "function" and "function" in item:
        return "openai", item["function"]
    if "inputSchema" in item:
        return "mcp", item
    params = item.get("parameters")
    if isinstance(params, dict) and params.get("type") == "dict":
        return "bfcl", item
    return "project", item


def _returns(body: JsonObject, form: str, at: str, problems: list[str]) -> str:
    if form in ("project", "openai"):
        returns = body.get("returns", "")
        if not isinstance(returns, str):
            problems.append(f"{at}: returns must be a string")
            return ""
        return returns
    schema = body.get("outputSchema" if form == "mcp" else "response", {})
    said = schema.get("description", "") if isinstance(schema, dict) else ""
    return said if isinstance(said, str) else ""


def bfcl_schema(node: Any) -> Any:
    """BFCL's parameter dialect as JSON Schema (type names only; the rest is kept)."""
    if isinstance(node, list):
        return [bfcl_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: JsonObject = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, str):
            if value in BFCL_TYPES:
                out["type"] = BFCL_TYPES[value]
        elif key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {k: bfcl_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "prefixItems"):
            out[key] = bfcl_schema(value)
        else:
            out[key] = value
    return out
