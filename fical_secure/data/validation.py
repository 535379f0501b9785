"""Check a tool call against the catalogue: tool, argument names, types, values.

A validator that collects every problem and returns them, so the JSONL loader
can report all of a line's problems at once and the simulated tool
environment can refuse a call with one clear message. Everything checked
comes from the call's :class:`ArgSpec` (type, enum choices, id pattern, ISO
dates, ``minimum`` / ``maximum``, required or optional), so a catalogue
loaded from JSON is checked exactly like the built-in one; two cross-argument
rules of built-in clinical tools are the only code of their own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date

from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.schema import ArgSpec, ArgValue, ToolCall, ToolSpec

# Glucose values by unit: beyond these a meter reading is an error.
GLUCOSE_BOUNDS: dict[str, tuple[float, float]] = {"mg_dl": (10.0, 1500.0), "mmol_l": (0.5, 85.0)}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def find_tool(name: str, catalogue: Sequence[ToolSpec] = CATALOGUE) -> ToolSpec | None:
    """The catalogue entry called ``name``, or ``None``."""
    return next((spec for spec in catalogue if spec.name == name), None)


def _type_problem(spec: ArgSpec, value: ArgValue) -> str | None:
    """Why ``value`` is not of ``spec``'s type or domain, or ``None`` if it is."""
    if spec.type == "bool":
        if not isinstance(value, bool):
            return f"must be true or false, got {value!r}"
    elif spec.type == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer, got {value!r}"
    elif spec.type == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number, got {value!r}"
        if not math.isfinite(value):
            return f"must be finite, got {value!r}"
    elif not isinstance(value, str):
        return f"must be a string, got {value!r}"
    elif spec.type == "enum" and value not in spec.choices:
        return f"must be one of {', '.join(spec.choices)}; got {value!r}"
    elif spec.type == "date":
        try:
            if not _ISO_DATE.fullmatch(value):
                raise ValueError(value)
            date.fromisoformat(value)
        except ValueError:
            return f"must be a date written YYYY-MM-DD, got {value!r}"
    if spec.pattern is not None and not re.fullmatch(spec.pattern, str(value)):
        return f"does not match the pattern {spec.pattern}: {value!r}"
    return None


def _range_problem(spec: ArgSpec, value: ArgValue) -> str | None:
    """Why a well-typed number is outside its spec's allowed values or bounds, or ``None``."""
    if spec.type not in ("int", "float") or isinstance(value, bool | str):
        return None
    if spec.type == "int" and spec.choices and str(value) not in spec.choices:
        return f"must be one of {', '.join(spec.choices)}; got {value!r}"
    low = -math.inf if spec.minimum is None else spec.minimum
    high = math.inf if spec.maximum is None else spec.maximum
    if not low <= value <= high:
        return f"must lie between {low:g} and {high:g}, got {value!r}"
    return None


def call_problems(call: ToolCall, catalogue: Sequence[ToolSpec] = CATALOGUE) -> list[str]:
    """Every reason ``call`` is invalid under ``catalogue``; an empty list if it is valid."""
    spec = find_tool(call.tool, catalogue)
    if spec is None:
        return [f"unknown tool {call.tool!r}; known tools: {', '.join(s.name for s in catalogue)}"]
    if not isinstance(call.arguments, dict):
        return [f"arguments of {call.tool} must be an object"]
    problems: list[str] = []
    expected = {arg.name for arg in spec.args}
    required = {arg.name for arg in spec.args if arg.required}
    for name in sorted(required - call.arguments.keys()):
        problems.append(f"{call.tool}: missing argument {name!r}")
    for name in sorted(call.arguments.keys() - expected):
        problems.append(f"{call.tool}: unexpected argument {name!r}")
    for arg in spec.args:
        if arg.name not in call.arguments:
            continue
        value = call.arguments[arg.name]
        problem = _type_problem(arg, value) or _range_problem(arg, value)
        if problem is not None:
            problems.append(f"{call.tool}: argument {arg.name!r} {problem}")
    if not problems:
        problems.extend(_cross_problems(call))
    return problems


def _cross_problems(call: ToolCall) -> list[str]:
    """Constraints between arguments of one (otherwise valid) call."""
    args = call.arguments
    if call.tool == "drug_interaction_check" and args.get("drug_a", 0) == args.get("drug_b", 1):
        return [f"{call.tool}: drug_a and drug_b must differ, both are {args['drug_a']!r}"]
    if call.tool == "glucose_converter" and str(args.get("from_unit")) in GLUCOSE_BOUNDS:
        unit = str(args["from_unit"])
        low, high = GLUCOSE_BOUNDS[unit]
        value = args.get("value")
        if isinstance(value, int | float) and not low <= value <= high:
            return [f"{call.tool}: value in {unit} must lie between {low:g} and {high:g}"]
    return []
