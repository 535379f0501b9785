"""A tool's parameters as JSON Schema and as :class:`ArgSpec` summaries, both ways.

The JSON Schema is what a call is validated against; the ``ArgSpec`` tree is
what the rest of the project reads (the argument filler, KCG mining, the
scrubber's vocabulary): type, enum choices, id pattern, bounds, array items
and object fields. A property the summary cannot type exactly (a union,
``anyOf``, a ``$ref``, no type) is ``any``: it still loads, and its schema
still decides which values are valid.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fical_secure.data.schema import ArgSpec, ArgType, ToolSpec
from fical_secure.jsontypes import JsonObject

_SCALARS: dict[str, ArgType] = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "array": "array",
    "object": "object",
}
_COMBINATORS = ("anyOf", "oneOf", "allOf", "not", "$ref", "$dynamicRef", "if", "const")
_BOUNDS = ("minimum", "maximum")
_OPEN_KEYS = ("additionalProperties", "patternProperties", "unevaluatedProperties")


def schema_text(schema: Mapping[str, Any]) -> str:
    """Compact JSON text of a schema, keys in their written order (argument order matters)."""
    return json.dumps(schema, separators=(",", ":"), ensure_ascii=False)


def arg_from_property(name: str, prop: Any, required: bool) -> ArgSpec:
    """The summary of one (metaschema-valid) property schema."""
    if not isinstance(prop, dict):  # a boolean schema: anything, or nothing
        return ArgSpec(name, "any", _words(name), required=required)
    kind = _kind(prop)
    description = prop.get("description")
    text = description if isinstance(description, str) and description.strip() else _words(name)
    enum = prop.get("enum")
    choices: tuple[str, ...] = ()
    if kind == "str" and isinstance(enum, list) and _all(enum, str):
        kind, choices = "enum", tuple(dict.fromkeys(enum))
    elif kind == "int" and isinstance(enum, list) and _all(enum, int):
        choices = tuple(dict.fromkeys(str(v) for v in enum))
    elif kind == "str" and prop.get("format") == "date":
        kind = "date"
    pattern = prop.get("pattern") if kind in ("str", "date") else None
    low, high = (_bound(prop.get(k)) if kind in ("int", "float") else None for k in _BOUNDS)
    items = prop.get("items") if kind == "array" else None
    fields = prop.get("properties") if kind == "object" else None
    inner = prop.get("required", []) if isinstance(prop.get("required"), list) else []
    return ArgSpec(
        name,
        kind,
        text,
        choices,
        pattern if isinstance(pattern, str) else None,
        required=required,
        minimum=low,
        maximum=high,
        items=arg_from_property("item", items, True) if isinstance(items, dict | bool) else None,
        fields=tuple(arg_from_property(k, v, k in inner) for k, v in (fields or {}).items()),
    )


def _kind(prop: Mapping[str, Any]) -> ArgType:
    if any(key in prop for key in _COMBINATORS):
        return "any"
    declared = prop.get("type")
    if isinstance(declared, list):
        named = [t for t in declared if t != "null"]
        declared = named[0] if len(named) == 1 else None
    if declared is None:
        if _all(prop.get("enum"), str):
            return "str"
        if "properties" in prop:
            return "object"
        return "array" if "items" in prop else "any"
    return _SCALARS.get(str(declared), "any")


def _all(values: Any, kind: type) -> bool:
    return (
        isinstance(values, list)
        and bool(values)
        and all(isinstance(v, kind) and not isinstance(v, bool) for v in values)
    )


def _bound(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _words(name: str) -> str:
    return name.replace("_", " ")


def property_of(arg: ArgSpec) -> JsonObject:
    """The JSON Schema property of ``arg`` (the inverse of :func:`arg_from_property`)."""
    out: JsonObject = {"description": arg.description}
    if arg.type in ("str", "enum", "date"):
        out["type"] = "string"
        if arg.type == "enum":
            out["enum"] = list(arg.choices)
        if arg.type == "date":
            out["format"] = "date"
    elif arg.type in ("int", "float", "bool"):
        out["type"] = {"int": "integer", "float": "number", "bool": "boolean"}[arg.type]
        if arg.type == "int" and arg.choices:
            out["enum"] = [int(c) for c in arg.choices]
    elif arg.type == "array":
        out["type"] = "array"
        if arg.items is not None:
            out["items"] = property_of(arg.items)
    elif arg.type == "object":
        out.update(object_schema(arg.fields))
    if arg.pattern is not None:
        out["pattern"] = arg.pattern
    for key, bound in (("minimum", arg.minimum), ("maximum", arg.maximum)):
        if bound is not None:
            out[key] = int(bound) if arg.type == "int" else bound
    return out


def object_schema(args: tuple[ArgSpec, ...]) -> JsonObject:
    """An ``object`` schema whose properties are ``args``."""
    return {
        "type": "object",
        "properties": {arg.name: property_of(arg) for arg in args},
        "required": [a.name for a in args if a.required],
    }


def parameters_schema(tool: ToolSpec) -> JsonObject:
    """The tool's parameters JSON Schema: as loaded, or built from its arguments."""
    if tool.parameters_json:
        loaded: JsonObject = json.loads(tool.parameters_json)
        return loaded
    return object_schema(tool.args)


def call_schema(tool: ToolSpec) -> str:
    """The schema a call of ``tool`` is checked against, as JSON text.

    It is the parameters schema, closed to undeclared top-level arguments
    unless the schema itself says which extra ones it accepts: a misspelt
    argument is refused, not ignored.
    """
    schema = parameters_schema(tool)
    if not any(key in schema for key in _OPEN_KEYS):
        schema = {**schema, "additionalProperties": False}
    return schema_text(schema)
