"""JSON Schema for tool parameters, through the maintained ``jsonschema`` library.

A catalogue's parameter schemas are checked against their draft's metaschema
(Draft 2020-12 unless ``$schema`` names another), and a call's arguments
against its tool's schema. Three refinements keep the catalogue's rules: an
``integer`` is a JSON integer (not ``30.0``, not ``true``), a ``number`` is
finite (Python's ``json`` reads ``NaN``), and a ``pattern`` must match the
whole value (ids; ``re.search`` would let ``"MRN-1234567\\n"`` pass ``$``).
Call messages name the tool, the argument's path and the rule broken, never
the value: a value can be a record's identifier.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend, validator_for
from referencing.exceptions import Unresolvable

_MAX_SHOWN = 12
_FORMAT_WORDS = {"date": "a date written YYYY-MM-DD", "date-time": "an RFC 3339 date-time"}


def _is_integer(_checker: Any, instance: object) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


def _is_number(_checker: Any, instance: object) -> bool:
    if isinstance(instance, bool) or not isinstance(instance, int | float):
        return False
    return math.isfinite(instance)


def _whole_pattern(
    validator: Validator, pattern: str, instance: object, _schema: Any
) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not re.fullmatch(pattern, str(instance)):
        yield ValidationError(f"does not match the pattern {pattern}")


@lru_cache(maxsize=8)
def _call_validator_class(base: Any) -> Any:
    types = base.TYPE_CHECKER.redefine_many({"integer": _is_integer, "number": _is_number})
    return extend(base, validators={"pattern": _whole_pattern}, type_checker=types)


def _base(schema: Mapping[str, Any]) -> Any:
    """The validator class of the schema's declared draft (Draft 2020-12 by default)."""
    return validator_for(schema, default=Draft202012Validator)


def schema_problems(schema: Any, at: str) -> list[str]:
    """Every way ``schema`` breaks its draft's metaschema (regexes must compile)."""
    if not isinstance(schema, dict):
        return [f"{at}: must be a JSON Schema object"]
    base = _base(schema)
    meta = base(base.META_SCHEMA, format_checker=FormatChecker())
    return [
        f"{at}{_where(e.absolute_path)}: {_short(e.message)}"
        for e in sorted(meta.iter_errors(schema), key=lambda e: list(map(str, e.absolute_path)))
    ]


@lru_cache(maxsize=4096)
def _compiled(schema_json: str) -> Validator:
    schema = json.loads(schema_json)
    cls = _call_validator_class(_base(schema))
    return cls(schema, format_checker=FormatChecker())


def argument_problems(tool: str, schema_json: str, arguments: Mapping[str, Any]) -> list[str]:
    """Every reason ``arguments`` break the tool's schema, by argument path; no values."""
    validator = _compiled(schema_json)
    try:
        errors = sorted(validator.iter_errors(dict(arguments)), key=_order)
    except Unresolvable:
        return [f"{tool}: its schema has a reference that cannot be resolved"]
    problems: list[str] = []
    for error in errors:
        problems += [f"{tool}: {reason}" for reason in _reasons(error)]
    return list(dict.fromkeys(problems))


def _order(error: ValidationError) -> tuple[str, str]:
    return (_where(error.absolute_path), str(error.validator))


def _reasons(error: ValidationError) -> Iterable[str]:
    path = _where(error.absolute_path).lstrip(".")
    keyword, expected = str(error.validator), error.validator_value
    if keyword == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        prefix = f"{path}." if path else ""
        return [f"missing argument '{prefix}{name}'" for name in expected if name not in present]
    if keyword in ("additionalProperties", "unevaluatedProperties") and isinstance(
        error.instance, dict
    ):
        known = set(error.schema.get("properties", {}))
        prefix = f"{path}." if path else ""
        extra = [k for k in error.instance if k not in known]
        return [f"unexpected argument '{prefix}{str(k)[:40]}'" for k in extra]
    return [f"argument '{path}' {_rule(keyword, expected, error)}"]


def _rule(keyword: str, expected: Any, error: ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if keyword == "type":
        if isinstance(error.instance, float) and not math.isfinite(error.instance):
            return "must be finite"
        names = [expected] if isinstance(expected, str) else list(expected)
        words = {
            "integer": "an integer",
            "number": "a number",
            "boolean": "true or false",
            "array": "an array",
            "object": "an object",
            "null": "null",
        }
        return "must be " + " or ".join(words.get(n, f"a {n}") for n in names)
    if keyword == "enum":
        return "must be one of " + _listing(expected)
    if keyword in ("minimum", "maximum") and "minimum" in schema and "maximum" in schema:
        return f"must lie between {schema['minimum']:g} and {schema['maximum']:g}"
    if keyword == "format":
        return f"must be {_FORMAT_WORDS.get(str(expected), f'in the format {expected}')}"
    if keyword == "pattern":
        return f"does not match the pattern {expected}"
    bounds = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    if keyword in bounds:
        return f"must be {bounds[keyword]} {expected}"
    if isinstance(expected, str | int | float) and not isinstance(expected, bool):
        return f"breaks the schema rule {keyword} {expected}"
    return f"breaks the schema rule {keyword}"


def _listing(values: Any) -> str:
    shown = [str(v) for v in list(values)[:_MAX_SHOWN]]
    more = len(values) - len(shown)
    return ", ".join(shown) + (f" (and {more} more)" if more > 0 else "")


def _where(path: Iterable[Any]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _short(message: str, limit: int = 200) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."
