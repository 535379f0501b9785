"""Check a tool call against the catalogue: tool, argument names, types, values.

A validator that collects every problem and returns them, so the JSONL loader
can report all of a line's problems at once and the simulated tool
environment can refuse a call with one clear message. The arguments are
checked against the tool's JSON Schema by ``jsonschema``
(:func:`fical_secure.data.json_schema.argument_problems`: types, enums, id
patterns, formats such as ISO dates, bounds, required and unexpected
arguments, nested array items and object members), so a catalogue loaded from
JSON is checked exactly like the built-in one; messages name the argument's
path, never its value. Two cross-argument rules of built-in clinical tools
are the only code of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from fical_secure.data.arg_schema import call_schema
from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.function_spec import MAX_DEPTH, json_depth
from fical_secure.data.json_schema import argument_problems
from fical_secure.data.schema import ToolCall, ToolSpec

# Glucose values by unit: beyond these a meter reading is an error.
GLUCOSE_BOUNDS: dict[str, tuple[float, float]] = {"mg_dl": (10.0, 1500.0), "mmol_l": (0.5, 85.0)}
_KNOWN_SHOWN = 12


def find_tool(name: str, catalogue: Sequence[ToolSpec] = CATALOGUE) -> ToolSpec | None:
    """The catalogue entry called ``name``, or ``None``."""
    return next((spec for spec in catalogue if spec.name == name), None)


@lru_cache(maxsize=4096)
def _schema_of(spec: ToolSpec) -> str:
    return call_schema(spec)


def call_problems(call: ToolCall, catalogue: Sequence[ToolSpec] = CATALOGUE) -> list[str]:
    """Every reason ``call`` is invalid under ``catalogue``; an empty list if it is valid."""
    spec = find_tool(call.tool, catalogue)
    if spec is None:
        known = [s.name for s in catalogue]
        listed = ", ".join(known[:_KNOWN_SHOWN]) + (", ..." if len(known) > _KNOWN_SHOWN else "")
        return [f"unknown tool {call.tool[:80]!r}; known tools: {listed}"]
    if not isinstance(call.arguments, dict):
        return [f"arguments of {call.tool} must be an object"]
    if json_depth(call.arguments) > MAX_DEPTH:
        return [f"{call.tool}: arguments nested deeper than {MAX_DEPTH} levels"]
    problems = argument_problems(spec.name, _schema_of(spec), call.arguments)
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
