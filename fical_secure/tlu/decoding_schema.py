"""The schema the model decodes a call's arguments under: the tool's own, narrowed.

Types, enums, required members, patterns and bounds stay as the tool's JSON
Schema says; what is left open is narrowed to values the request and the
released knowledge support (:mod:`fical_secure.tlu.spans`, the compendium's
:class:`~fical_secure.tlu.hints.ArgumentHint`): a free string becomes one of
the request's spans, normalised forms (ISO dates, ``HH:MM``), a hint's
normalisations and usual value, or the schema's default; a number becomes one
the request writes. Where no candidate exists the tool's schema stays as is.
An optional member enters only with evidence (a hint's usual value, a word of
its name in the request; for one calls usually leave out, only a yes/no flag
the request names), as optional: the model may still leave it out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fical_secure.jsontypes import JsonObject, JsonValue
from fical_secure.tlu.dates import as_slash
from fical_secure.tlu.hints import ArgumentHint
from fical_secure.tlu.shapes import ISO_DATE, expected_shapes
from fical_secure.tlu.spans import (
    anchored_numbers,
    name_heads,
    normalised_values,
    numbers,
    quoted,
    spans,
)

MAX_ITEMS = 8
_NAME_STOP = frozenset({"name", "type", "value", "list", "data", "info", "with", "from"})


@dataclass(frozen=True)
class RequestValues:
    """The request's candidate values, computed once per request."""

    request: str
    spans: tuple[str, ...]
    normalised: tuple[str, ...]
    numbers: tuple[int | float, ...]
    words: frozenset[str]

    @classmethod
    def of(cls, request: str, year: int | None = None) -> RequestValues:
        """``year``: the year of dates the request writes without one."""
        words = frozenset(re.findall(r"[a-z0-9]+", request.lower()))
        return cls(
            request,
            tuple(spans(request)),
            tuple(normalised_values(request, year)),
            tuple(numbers(request)),
            words,
        )


def _suffixed(hint: ArgumentHint | None, request: str) -> list[str]:
    """The request's names completed with the hint's learned suffix."""
    if hint is None or not hint.suffix:
        return []
    return [f"{h}{hint.suffix}" for h in name_heads(request)]


def _hint_values(hint: ArgumentHint | None, request: str) -> list[Any]:
    """Values the hint gives for this request: normalised phrases, the usual value, and
    the request's names completed with the learned suffix."""
    if hint is None:
        return []
    low = request.lower()
    named = [v for phrase, v in hint.normalisations.items() if phrase.lower() in low]
    usual = [] if hint.usual_value is None else [hint.usual_value]
    return [*named, *usual, *_suffixed(hint, request)]


def _mentions(name: str, values: RequestValues) -> bool:
    """Some word of the member's name (4+ letters, not generic) is in the request."""
    parts = [p for p in re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower())]
    stems = [p[:5] for p in parts if len(p) >= 4 and p not in _NAME_STOP]
    return any(w.startswith(s) for s in stems for w in values.words)


_FLAGS = frozenset({"true", "false"})


def _named_value(name: str, prop: Mapping[str, Any], values: RequestValues) -> bool:
    """The request, naming the member, also gives it a value of its kind."""
    kind = prop.get("type")
    if kind == "boolean":
        return True
    if "enum" in prop:  # a yes/no flag written as an enum of strings
        return _FLAGS <= {str(v).lower() for v in prop["enum"]}
    if kind in ("integer", "number"):
        return bool(values.numbers)
    # a free string: a name the request writes (capitalised mid-sentence, or quoted)
    return kind == "string" and bool(name_heads(values.request) or quoted(values.request))


def _shape_fits(path: str, prop: Mapping[str, Any], values: RequestValues) -> bool:
    """A string whose docs ask for a shape has a request candidate of that shape."""
    if prop.get("type") != "string" or "enum" in prop:
        return True
    shapes = expected_shapes(path, prop)
    pool = [*values.normalised, *values.spans]
    return not shapes or any(re.fullmatch(s, v) for s in shapes for v in pool)


def _unique(values: Sequence[Any]) -> list[Any]:
    seen: list[Any] = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


def _enum(kind: str, pool: Sequence[JsonValue]) -> JsonObject:
    return {"type": kind, "enum": list(pool)}


def _string(
    prop: Mapping[str, Any],
    extra: list[Any],
    values: RequestValues,
    shapes: Sequence[str],
    made: Sequence[str] = (),
) -> JsonObject:
    """``made``: the members of ``extra`` the knowledge builds rather than the request
    writes (names completed with a suffix); they never push out a span the request
    writes in an expected shape."""
    pattern, fmt = prop.get("pattern"), prop.get("format")
    strings = [v for v in extra if isinstance(v, str)]
    if fmt is not None or pattern is not None:
        pool = [*strings, *values.normalised, *values.spans]
        if pattern is not None:
            pool = [v for v in pool if re.fullmatch(pattern, v)]
        elif fmt == "date":
            pool = [v for v in pool if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v)]
        else:
            return dict(prop)
        return _enum("string", _unique(pool)) if pool else dict(prop)
    default = [prop["default"]] if isinstance(prop.get("default"), str) else []
    pool = _unique([*strings, *values.normalised, *values.spans])
    # a date the request gives, written the other way dates are (month/day/year)
    rendered = [as_slash(v) for v in values.normalised if re.fullmatch(ISO_DATE, v)]
    written = [v for v in [*pool, *rendered] if v not in made]
    # the first shape some written candidate has settles it; built ones join where they fit
    # a shape; only where nothing written fits does the first shape a built one has
    for candidates in (written, [*pool, *rendered]):
        settled = next((s for s in shapes if any(re.fullmatch(s, v) for v in candidates)), None)
        if settled is not None:
            fitting = [v for v in candidates if re.fullmatch(settled, v)]
            extra_fit = [v for v in made if any(re.fullmatch(s, v) for s in shapes)]
            pool = _unique([*fitting, *extra_fit])
            break
    pool = _unique([*pool, *default])
    return _enum("string", pool) if pool else dict(prop)


def _number(
    prop: Mapping[str, Any], extra: list[Any], values: RequestValues, path: str
) -> JsonObject:
    integer = prop.get("type") == "integer"
    low, high = prop.get("minimum"), prop.get("maximum")
    default = [prop["default"]] if "default" in prop else []
    anchored = anchored_numbers(values.request, path.rsplit(".", 1)[-1])
    pool = [
        v
        for v in [*extra, *(anchored or values.numbers), *default]
        if isinstance(v, int | float)
        and not isinstance(v, bool)
        and (not integer or float(v).is_integer())
        and (low is None or v >= low)
        and (high is None or v <= high)
    ]
    pool = _unique([int(v) if integer else v for v in pool])
    return _enum(prop["type"], pool) if pool else dict(prop)


def narrow(
    prop: Mapping[str, Any],
    values: RequestValues,
    hints: Mapping[str, ArgumentHint],
    path: str,
) -> JsonObject:
    """The decoding schema of one value at ``path`` (dotted) of the tool's parameters."""
    if "enum" in prop or "const" in prop or not isinstance(prop.get("type"), str):
        return dict(prop)  # closed already, or a union the library compiles as written
    kind = prop["type"]
    hint = hints.get(path)
    extra = _hint_values(hint, values.request)
    if kind == "string":
        hinted = [hint.shape] if hint is not None and hint.shape else []
        made = [m for m in _suffixed(hint, values.request) if m not in values.spans]
        narrowed = _string(prop, extra, values, [*hinted, *expected_shapes(path, prop)], made)
        enum = narrowed.get("enum")
        if hint is not None and isinstance(enum, list) and "enum" not in prop:
            # a phrase the knowledge normalises is not itself a value
            written = {
                p.lower() for p in hint.normalisations if p.lower() in values.request.lower()
            }
            kept = [v for v in enum if not (isinstance(v, str) and v.lower() in written)]
            narrowed["enum"] = kept or enum
        return narrowed
    if kind in ("integer", "number"):
        return _number(prop, extra, values, path)
    if kind == "array" and isinstance(prop.get("items"), Mapping):
        items = narrow(prop["items"], values, hints, path)
        return {
            **{k: v for k, v in prop.items() if k != "items"},
            "items": items,
            "maxItems": min(int(prop.get("maxItems", MAX_ITEMS)), MAX_ITEMS),
        }
    if kind == "object" and isinstance(prop.get("properties"), Mapping):
        return object_schema(prop, values, hints, path)
    return dict(prop)


def _without(
    narrowed: JsonObject, prop: Mapping[str, Any], pinned: Mapping[str, Any] | None
) -> JsonObject:
    """A narrowed string's candidates less the values pinned to its siblings (one written
    value fills one argument: "from Fresno, CA to Berkeley, CA"), where others remain."""
    enum = narrowed.get("enum")
    if not pinned or "enum" in prop or not isinstance(enum, list):
        return narrowed
    taken = {v for v in pinned.values() if isinstance(v, str)}
    kept = [v for v in enum if v not in taken]
    return {**narrowed, "enum": kept} if kept else narrowed


def object_schema(
    schema: Mapping[str, Any],
    values: RequestValues,
    hints: Mapping[str, ArgumentHint],
    path: str = "",
    pinned: Mapping[str, Any] | None = None,
    *,
    evidence_required: bool = False,
) -> JsonObject:
    """An object's decoding schema: required members, and optional ones with evidence.

    ``pinned`` members (settled elsewhere) are left out; the caller merges them.
    ``evidence_required``: an optional member with evidence must be decoded too.
    """
    required = set(schema.get("required", []))
    properties: JsonObject = {}
    evidenced: set[str] = set()
    for name, prop in schema.get("properties", {}).items():
        if name in (pinned or {}) or not isinstance(prop, Mapping):
            continue
        where = f"{path}.{name}" if path else name
        hint = hints.get(where)
        # an optional calls usually leave out still enters where the request names it and
        # gives it a value: a flag ("with a garage": has_garage), a number
        # ("rating of 4.1"), a free string ("the album Halcyon")
        omitted = hint is not None and hint.omitted
        named = _mentions(name, values) and (not omitted or _named_value(name, prop, values))
        wanted = name in required or (
            (named or (not omitted and bool(_hint_values(hint, values.request))))
            and _shape_fits(where, prop, values)
        )
        if wanted:
            properties[name] = _without(narrow(prop, values, hints, where), prop, pinned)
            evidenced.add(name)
    must = required | (evidenced if evidence_required else set())
    return {
        "type": "object",
        "properties": properties,
        "required": [n for n in properties if n in must],
        "additionalProperties": False,
    }
