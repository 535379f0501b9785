"""Where calls fail: the wrong tool, or a wrong argument by the kind of knowledge it needed.

An argument the gold call needs is of one kind, tested in this order:

- ``enum``: a closed set of values (a JSON Schema enum, its array items', or a boolean);
- ``default``: an acceptable value is the schema's ``default`` for it;
- ``verbatim_span``: an acceptable value is written in the request as is
  (case-insensitive; every scalar of a list or object);
- ``normalised_value``: none is: the value must be derived from the request
  (a date reformatted, a city expanded, a unit converted) or from convention.

A parameter the agent gave that the answer does not allow is ``unexpected``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fical_secure.data.schema import ToolSpec, leaves
from fical_secure.evaluation.possible_answer import (
    OPTIONAL,
    UNEXPECTED,
    WRONG_TOOL,
    PossibleAnswer,
    Problem,
    standardise,
)
from fical_secure.jsontypes import JsonObject

ARGUMENT_KINDS: tuple[str, ...] = ("enum", "default", "verbatim_span", "normalised_value")


def schema_defaults(spec: ToolSpec) -> JsonObject:
    """Top-level parameter -> its JSON Schema ``default``, where the spec states one."""
    if not spec.parameters_json:
        return {}
    properties = json.loads(spec.parameters_json).get("properties", {})
    return {
        name: schema["default"]
        for name, schema in properties.items()
        if isinstance(schema, dict) and "default" in schema
    }


def _written(value: Any) -> list[str]:
    """The ways a scalar is written in text (``3.0`` also as ``3``)."""
    if isinstance(value, bool) or value is None:
        return [str(value).lower()]
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return [str(int(value)), str(value)]
    return [str(value)]


def _verbatim(value: Any, request: str) -> bool:
    low = request.lower()
    scalars = list(leaves(value)) if isinstance(value, list | dict) else [value]
    if not scalars:
        return False
    return all(any(w.lower() in low for w in _written(s) if w) for s in scalars)


def argument_kind(spec: ToolSpec, name: str, options: Sequence[Any], request: str) -> str:
    """The kind (of :data:`ARGUMENT_KINDS`) of parameter ``name`` of ``spec``, given its answer."""
    arg = next((a for a in spec.args if a.name == name), None)
    if arg is None:
        return "unexpected"
    if arg.choices or arg.type == "bool" or (arg.items is not None and arg.items.choices):
        return "enum"
    values = [o for o in options if o != OPTIONAL]
    defaults = schema_defaults(spec)
    if name in defaults and any(_same(defaults[name], v) for v in values):
        return "default"
    if any(_verbatim(v, request) for v in values):
        return "verbatim_span"
    return "normalised_value"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return standardise(a) == standardise(b)
    return bool(a == b)


def failure_kinds(
    problems: Iterable[Problem], spec: ToolSpec | None, answer: PossibleAnswer, request: str
) -> tuple[str, ...]:
    """The failure kinds of one call: ``("wrong_tool",)``, or one kind per wrong parameter."""
    kinds: list[str] = []
    for problem in problems:
        if problem.kind == WRONG_TOOL or spec is None:
            return (WRONG_TOOL,)
        if problem.kind == UNEXPECTED:
            kinds.append("unexpected")
        else:
            options = answer.get(problem.parameter, ())
            kinds.append(argument_kind(spec, problem.parameter, options, request))
    return tuple(kinds)


def breakdown(per_request: Sequence[tuple[str, ...]]) -> JsonObject:
    """Counts over requests: right, wrong tool, and wrong arguments by kind.

    ``requests_with_wrong_argument`` counts a request once per kind it got
    wrong (a request may count under several); ``wrong_arguments`` counts
    parameters.
    """
    right = sum(1 for kinds in per_request if not kinds)
    wrong_tool = sum(1 for kinds in per_request if kinds == (WRONG_TOOL,))
    by_request: Counter[str] = Counter()
    by_argument: Counter[str] = Counter()
    for kinds in per_request:
        if kinds and kinds != (WRONG_TOOL,):
            by_request.update(set(kinds))
            by_argument.update(kinds)
    order = (*ARGUMENT_KINDS, "unexpected")
    return {
        "n_requests": len(per_request),
        "right": right,
        "wrong_tool": wrong_tool,
        "right_tool_wrong_arguments": len(per_request) - right - wrong_tool,
        "requests_with_wrong_argument": {k: by_request[k] for k in order},
        "wrong_arguments": {k: by_argument[k] for k in order},
    }


def as_answer(value: Mapping[str, Any]) -> dict[str, list[Any]]:
    """A possible answer read from JSON: every parameter's options as a list."""
    return {str(k): list(v) if isinstance(v, list) else [v] for k, v in value.items()}
