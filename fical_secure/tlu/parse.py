"""Parse a model's tool call and validate it against the catalogue.

Accepts the call syntax ``lab_results_lookup(mrn="MRN-0042137", test="CBC")``
or a JSON object ``{"tool": ..., "arguments": {...}}``, anywhere in the text
(code fences and chatter around it are ignored). Everything else, and every
call that the catalogue would refuse, raises :class:`ToolCallParseError` with a
message saying what to fix. No input makes this module raise anything else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.schema import ArgSpec, ArgValue, ToolCall, ToolSpec
from fical_secure.data.validation import call_problems
from fical_secure.errors import ToolCallParseError

MAX_OUTPUT_CHARS = 20_000
_MAX_JSON_STARTS = 32
_FENCE = re.compile(r"```[A-Za-z0-9_-]*\s*\n?(.*?)```", re.DOTALL)
_CALL_HEAD = re.compile(r"([A-Za-z_][\w.\-]*)\s*\(")  # namespaced names: weather.get(
_NAME = re.compile(r"[A-Za-z_]\w*")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.])")
_BARE = re.compile(r"[A-Za-z_][\w\-./]*")
_INT_TEXT = re.compile(r"[+-]?\d+")
_FLOAT_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_tool_call(text: str, catalogue: Sequence[ToolSpec] = CATALOGUE) -> ToolCall:
    """Extract one tool call from model output and validate it.

    Raises:
        ToolCallParseError: no call found, unknown tool, malformed syntax,
            unknown / missing / duplicate arguments, wrong types, pattern or
            enum violations.
    """
    if not isinstance(text, str):
        raise ToolCallParseError(f"model output must be text, got {type(text).__name__}")
    if len(text) > MAX_OUTPUT_CHARS:
        raise ToolCallParseError(f"model output longer than {MAX_OUTPUT_CHARS} characters")
    tools = {spec.name: spec for spec in catalogue}
    body = _unfence(text)
    found = _find_json_call(body)
    if found is None:
        found = _find_call_syntax(body, tools)
    name, raw_args = found
    if name not in tools:
        raise ToolCallParseError(
            f"unknown tool {name[:60]!r}; use one of: {', '.join(sorted(tools))}"
        )
    return ToolCall(tool=name, arguments=validate_arguments(tools[name], raw_args))


def _unfence(text: str) -> str:
    """The contents of the first code fence, if any, else the text itself."""
    match = _FENCE.search(text)
    return match.group(1) if match else text


def _find_json_call(text: str) -> tuple[str, dict[str, Any]] | None:
    decoder = json.JSONDecoder()
    starts = [m.start() for m in re.finditer(r"\{", text)][:_MAX_JSON_STARTS]
    for start in starts:
        try:
            obj, _end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            continue
        if not isinstance(obj, dict):
            continue
        name = obj.get("tool", obj.get("name"))
        if name is None:
            continue
        if not isinstance(name, str):
            raise ToolCallParseError("JSON tool call: 'tool' must be a string")
        args = obj.get("arguments", obj.get("args", {}))
        if not isinstance(args, dict):
            raise ToolCallParseError("JSON tool call: 'arguments' must be an object")
        return name, args
    return None


def _find_call_syntax(text: str, tools: Mapping[str, ToolSpec]) -> tuple[str, dict[str, Any]]:
    heads = list(_CALL_HEAD.finditer(text))
    known = [m for m in heads if m.group(1) in tools]
    if not known:
        if heads:
            seen = ", ".join(repr(m.group(1)[:40]) for m in heads[:3])
            raise ToolCallParseError(
                f"no call of a catalogue tool found (saw {seen}); "
                f"use one of: {', '.join(sorted(tools))}"
            )
        raise ToolCallParseError(
            'no tool call found: write tool_name(arg="value", ...) or '
            '{"tool": ..., "arguments": {...}}'
        )
    head = known[0]
    close = _matching_paren(text, head.end())
    return head.group(1), _parse_arg_list(text[head.end() : close])


def _matching_paren(text: str, pos: int) -> int:
    """Index of the ``)`` closing the call whose arguments start at ``pos``."""
    quote: str | None = None
    i = pos
    while i < len(text):
        ch = text[i]
        if quote is not None:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            raise ToolCallParseError(f"nested parenthesis at position {i}: arguments are literals")
        elif ch == ")":
            return i
        i += 1
    what = "unterminated string" if quote is not None else "unbalanced parentheses"
    raise ToolCallParseError(f"{what} in tool call: missing closing ')'")


def _parse_arg_list(body: str) -> dict[str, Any]:
    """Parse ``name=value, ...``; values are quoted strings, numbers or bare words."""
    args: dict[str, Any] = {}
    pos = _skip_ws(body, 0)
    while pos < len(body):
        name_m = _NAME.match(body, pos)
        if name_m is None:
            raise ToolCallParseError(f"expected an argument name at {body[pos : pos + 20]!r}")
        name = name_m.group(0)
        pos = _skip_ws(body, name_m.end())
        if pos >= len(body) or body[pos] not in "=:":
            raise ToolCallParseError(f"expected '=' after argument {name!r}")
        value, pos = _parse_value(body, _skip_ws(body, pos + 1))
        if name in args:
            raise ToolCallParseError(f"argument {name!r} given twice")
        args[name] = value
        pos = _skip_ws(body, pos)
        if pos < len(body):
            if body[pos] != ",":
                near = body[pos : pos + 20]
                raise ToolCallParseError(f"expected ',' between arguments at {near!r}")
            pos = _skip_ws(body, pos + 1)
    return args


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _parse_value(body: str, pos: int) -> tuple[Any, int]:
    if pos >= len(body):
        raise ToolCallParseError("argument value missing after '='")
    if body[pos] in "\"'":
        return _parse_string(body, pos)
    number = _NUMBER.match(body, pos)
    if number is not None:
        literal = number.group(0)
        is_float = any(c in literal for c in ".eE")
        try:
            return (float(literal) if is_float else int(literal)), number.end()
        except ValueError as exc:  # e.g. more digits than int() accepts
            raise ToolCallParseError(f"number too long: {literal[:20]}...") from exc
    bare = _BARE.match(body, pos)
    if bare is not None:
        word = bare.group(0)
        if word in ("True", "False", "None", "true", "false", "null"):
            raise ToolCallParseError(f"unsupported literal {word!r}: use a string or number")
        return word, bare.end()
    raise ToolCallParseError(f"bad argument value at {body[pos : pos + 20]!r}")


def _parse_string(body: str, pos: int) -> tuple[str, int]:
    quote = body[pos]
    i = pos + 1
    chars: list[str] = []
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            chars.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            i += 2
            continue
        if ch == quote:
            return "".join(chars), i + 1
        chars.append(ch)
        i += 1
    raise ToolCallParseError("unterminated string in tool call arguments")


def validate_arguments(spec: ToolSpec, raw: Mapping[str, Any]) -> dict[str, ArgValue]:
    """Check names, presence and types of ``raw`` against ``spec``; return coerced values.

    Scalars are coerced (numeric strings allowed); arrays, objects and open
    values are taken as written. The result is then checked against the
    tool's JSON Schema, so nested values obey it too.

    Raises:
        ToolCallParseError: unknown or missing arguments, or an invalid value.
    """
    known = {a.name for a in spec.args}
    unknown = sorted(str(k)[:40] for k in raw if k not in known)
    if unknown:
        raise ToolCallParseError(
            f"{spec.name} has no argument(s) {', '.join(map(repr, unknown))}; "
            f"expected {', '.join(a.name for a in spec.args)}"
        )
    missing = [a.name for a in spec.args if a.required and a.name not in raw]
    if missing:
        raise ToolCallParseError(f"{spec.name} is missing argument(s): {', '.join(missing)}")
    values = {a.name: coerce_value(spec.name, a, raw[a.name]) for a in spec.args if a.name in raw}
    problems = call_problems(ToolCall(spec.name, values), [spec])
    if problems:
        raise ToolCallParseError("; ".join(problems))
    return values


def coerce_value(tool: str, arg: ArgSpec, value: Any) -> ArgValue:
    """Coerce one value to ``arg``'s type (numeric strings allowed), or raise.

    Raises:
        ToolCallParseError: wrong type, pattern mismatch, bad date, enum value not allowed.
    """
    where = f"{tool}.{arg.name}"
    if arg.type in ("array", "object", "any"):
        return _as_json(where, value)
    if isinstance(value, bool) and arg.type == "bool":
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ToolCallParseError(f"{where}: expected a {arg.type}, got {type(value).__name__}")
    if arg.type == "int":
        return _to_int(where, value)
    if arg.type == "float":
        return _to_float(where, value)
    text = value if isinstance(value, str) else str(value)
    if arg.type == "enum":
        return _to_enum(where, arg, text)
    if arg.type == "date":
        return _to_date(where, text)
    if arg.pattern is not None and re.fullmatch(arg.pattern, text) is None:
        raise ToolCallParseError(f"{where}: {text[:40]!r} does not match {arg.pattern}")
    return text


def _as_json(where: str, value: Any) -> ArgValue:
    """A JSON value as parsed (lists, objects, scalars); anything else is refused."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list):
        return [_as_json(where, item) for item in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _as_json(where, v) for k, v in value.items()}
    raise ToolCallParseError(f"{where}: expected a JSON value, got {type(value).__name__}")


def _to_int(where: str, value: str | int | float) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ToolCallParseError(f"{where}: expected an integer, got {value}")
    if _INT_TEXT.fullmatch(value.strip()) and len(value.strip()) <= 18:
        return int(value.strip())
    raise ToolCallParseError(f"{where}: expected an integer, got {value[:40]!r}")


def _to_float(where: str, value: str | int | float) -> float:
    if isinstance(value, int | float):
        result = float(value)
    elif _FLOAT_TEXT.fullmatch(value.strip()):
        result = float(value.strip())
    else:
        raise ToolCallParseError(f"{where}: expected a number, got {value[:40]!r}")
    if result != result or result in (float("inf"), float("-inf")):
        raise ToolCallParseError(f"{where}: expected a finite number")
    return result


def _to_enum(where: str, arg: ArgSpec, text: str) -> str:
    for choice in arg.choices:
        if text == choice or text.casefold() == choice.casefold():
            return choice
    raise ToolCallParseError(
        f"{where}: {text[:40]!r} is not allowed; choose one of {', '.join(arg.choices)}"
    )


def _to_date(where: str, text: str) -> str:
    if _DATE_TEXT.fullmatch(text) is None:
        raise ToolCallParseError(f"{where}: expected a date as YYYY-MM-DD, got {text[:40]!r}")
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise ToolCallParseError(f"{where}: {text!r} is not a calendar date") from exc
