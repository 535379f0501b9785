"""Score a tool call against BFCL possible answers, with the rules of BFCL's AST checker.

A possible answer maps each parameter to the list of values BFCL accepts for
it; ``""`` in that list means the parameter may be left out. The rules follow
``bfcl_eval/eval_checker/ast_eval/ast_checker.py`` (``simple_function_checker``,
Python language):

- the function name must be the gold one; every parameter the tool's schema
  requires must be given; a given parameter must be in the schema and in the
  possible answer; a possible-answer parameter without ``""`` must be given;
- types are the schema's (string, enum, date and ``any`` are strings, as BFCL
  maps ``any``); an integer is accepted for a float parameter; a value of the
  possible answer's own type but not the schema's is a "variable" and is
  compared as is;
- strings compare after BFCL's ``standardize_string``: spaces and
  ``,./-_*^`` removed, lower case, ``'`` read as ``"``; lists compare whole,
  in order, their string items standardised; an object is checked key by key
  against each acceptable object (a key it lacks must allow ``""``); a list of
  objects needs as many objects as an acceptable list, each matching in
  order; numbers and booleans compare with Python's ``==`` as BFCL does.

One extension: an object nested in an object is checked by the same object
rule (BFCL compares nested objects for plain equality, which its own
possible answers, lists of options, never meet). Every problem is collected,
not only the first; a call passes when there is none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fical_secure.data.schema import ArgSpec, ToolCall, ToolSpec

PossibleAnswer = Mapping[str, Sequence[Any]]
"""Parameter -> the values BFCL accepts for it (``""``: it may be omitted)."""

OPTIONAL = ""
_PYTHON_TYPES: dict[str, type] = {
    "str": str,
    "date": str,
    "enum": str,
    "any": str,
    "int": int,
    "float": float,
    "bool": bool,
    "array": list,
    "object": dict,
}
_STANDARDISE = re.compile(r"[ ,./\-_*^]")

WRONG_TOOL = "wrong_tool"
MISSING_REQUIRED = "missing_required"
UNEXPECTED = "unexpected_parameter"
TYPE_ERROR = "type_error"
VALUE_ERROR = "value_error"
MISSING_ANSWER = "missing_parameter"
PROBLEM_KINDS: tuple[str, ...] = (
    WRONG_TOOL,
    MISSING_REQUIRED,
    UNEXPECTED,
    TYPE_ERROR,
    VALUE_ERROR,
    MISSING_ANSWER,
)


@dataclass(frozen=True)
class Problem:
    """One way a call misses its possible answer: ``kind`` (of :data:`PROBLEM_KINDS`)."""

    kind: str
    parameter: str = ""


def standardise(text: str) -> str:
    """BFCL's ``standardize_string``: no spaces or ``,./-_*^``, lower case, ``'`` as ``"``."""
    return _STANDARDISE.sub("", text).lower().replace("'", '"')


def check_call(
    call: ToolCall, tool: str, answer: PossibleAnswer, spec: ToolSpec
) -> tuple[Problem, ...]:
    """Every problem of ``call`` against gold ``tool`` with ``answer``; empty means correct.

    ``spec`` is the gold tool's spec (its types and required parameters).
    """
    if call.tool != tool:
        return (Problem(WRONG_TOOL),)
    args = {a.name: a for a in spec.args}
    given = call.arguments
    problems = [
        Problem(MISSING_REQUIRED, n) for n, a in args.items() if a.required and n not in given
    ]
    for name, value in given.items():
        if name not in args or name not in answer:
            problems.append(Problem(UNEXPECTED, name))
            continue
        kind = _parameter_problem(value, list(answer[name]), args[name])
        if kind:
            problems.append(Problem(kind, name))
    problems += [
        Problem(MISSING_ANSWER, n)
        for n, options in answer.items()
        if n not in given and OPTIONAL not in options and not (n in args and args[n].required)
    ]
    return tuple(problems)


def _parameter_problem(given: Any, options: list[Any], arg: ArgSpec) -> str:
    """The problem kind of one given parameter; ``""`` when its value is acceptable."""
    expected = _PYTHON_TYPES[arg.type]
    if arg.type == "float" and type(given) is int:
        given = float(given)
    answer_type = next((type(o) for o in options if o != OPTIONAL), None)
    variable = answer_type is not None and answer_type is not expected
    if type(given) is not expected:
        if answer_type is not None and type(given) is answer_type:
            return "" if given in options else VALUE_ERROR
        return TYPE_ERROR
    value: Any = given
    if expected is list and arg.items is not None and not _items_typed(value, options, arg.items):
        return TYPE_ERROR
    if variable:
        return "" if value in options else VALUE_ERROR
    if expected is dict:
        ok = _object_matches(value, options)
    elif expected is list and arg.items is not None and arg.items.type == "object":
        ok = _objects_match(value, options)
    elif expected is str:
        ok = standardise(value) in [standardise(o) for o in options if isinstance(o, str)]
    elif expected is list:
        ok = _standardised_list(value) in [_standardised_list(o) for o in options]
    else:
        ok = value in options
    return "" if ok else VALUE_ERROR


def _items_typed(value: list[Any], options: list[Any], items: ArgSpec) -> bool:
    """BFCL's one-level item type check: some option that is not a list of others passes."""
    expected = _PYTHON_TYPES[items.type]
    for option in options:
        if not isinstance(option, list):
            return True
        answer_type = next((type(o) for o in option if o != OPTIONAL), None)
        if all(type(v) is expected or type(v) is answer_type for v in value):
            return True
    return False


def _standardised_list(value: Any) -> list[Any]:
    """A list option with its strings standardised (``""`` reads as the empty list, as in BFCL)."""
    items = value if isinstance(value, list | str) else []
    return [standardise(v) if isinstance(v, str) else v for v in items]


def _object_matches(value: Mapping[str, Any], options: Sequence[Any]) -> bool:
    """``value`` matches one acceptable object: known keys, acceptable values, none missing."""
    for option in options:
        if not isinstance(option, Mapping):
            continue
        if all(k in option and _value_in(v, option[k]) for k, v in value.items()) and all(
            k in value or OPTIONAL in _listed(allowed) for k, allowed in option.items()
        ):
            return True
    return False


def _listed(allowed: Any) -> list[Any]:
    """An object member's options (a nested answer may give one value bare)."""
    return allowed if isinstance(allowed, list) else [allowed]


def _value_in(value: Any, allowed: Any) -> bool:
    allowed = _listed(allowed)
    if isinstance(value, dict):
        return _object_matches(value, allowed)
    if isinstance(value, str):
        return standardise(value) in [standardise(a) for a in allowed if isinstance(a, str)]
    return value in allowed


def _objects_match(value: list[Any], options: Sequence[Any]) -> bool:
    """A list of objects: as many as an acceptable list, each matching its counterpart."""
    for option in options:
        if not isinstance(option, list) or len(option) != len(value):
            continue
        if all(
            isinstance(v, Mapping) and _object_matches(v, [o])
            for v, o in zip(value, option, strict=True)
        ):
            return True
    return False


def exact_answer(call: ToolCall) -> dict[str, list[Any]]:
    """The possible answer that accepts exactly ``call``'s arguments (gold without options)."""
    return {name: [value] for name, value in call.arguments.items()}
