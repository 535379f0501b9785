"""Where a call writes which value, and whether a request says it: what argument claims count.

Argument paths are dotted for object members; the items of an array share
the array's path (``stops.city`` for ``{"stops": [{"city": ...}]}``), as the
agent's hint book names them (:data:`fical_secure.tlu.hints.HintBook`).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from fical_secure.data.schema import ArgSpec, ArgValue, ToolSpec
from fical_secure.kcg.cues import words
from fical_secure.kcg.mining import STOPWORDS


def arg_paths(spec: ToolSpec) -> dict[str, ArgSpec]:
    """Every argument path of ``spec`` and its summary (array items under the array's path)."""
    out: dict[str, ArgSpec] = {}

    def visit(arg: ArgSpec, path: str) -> None:
        out.setdefault(path, arg)
        for member in (arg.items or arg).fields:
            visit(member, f"{path}.{member.name}")

    for top in spec.args:
        visit(top, top.name)
    return out


def values_at(arguments: Mapping[str, ArgValue], prefix: str = "") -> dict[str, list[ArgValue]]:
    """The whole values a call writes per path (objects inside arrays under ``path.member``)."""
    out: dict[str, list[ArgValue]] = defaultdict(list)
    for name, value in arguments.items():
        path = f"{prefix}{name}"
        out[path].append(value)
        objects = [value] if isinstance(value, dict) else []
        objects += [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
        for obj in objects:
            for inner, found in values_at(obj, f"{path}.").items():
                out[inner].extend(found)
    return out


def strings_at(values: Sequence[ArgValue]) -> list[str]:
    """The string scalars among ``values`` and their array elements."""
    flat = [x for v in values for x in (v if isinstance(v, list) else [v])]
    return [x for x in flat if isinstance(x, str)]


def loads(value: str) -> ArgValue:
    """The JSON value a claim's canonical text holds."""
    loaded: ArgValue = json.loads(value)
    return loaded


def free_text(arg: ArgSpec) -> bool:
    """A string (or untyped) argument without enum or pattern: its form is left open."""
    inner = arg.items if arg.type == "array" and arg.items is not None else arg
    return inner.type in ("str", "any", "date") and inner.pattern is None and not inner.choices


def mentions(request: str, value: Any) -> bool:
    """Whether the request writes ``value`` (case-insensitive, word-bounded; every leaf)."""
    if isinstance(value, list | dict):
        leaves = list(value.values()) if isinstance(value, dict) else value
        return bool(leaves) and all(mentions(request, v) for v in leaves)
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = re.escape(str(value).lower())
    return re.search(rf"(?<![a-z0-9.]){text}(?![a-z0-9])", request.lower()) is not None


def content_words(text: str) -> set[str]:
    """Words of ``text`` that carry meaning: three letters or more, no function word."""
    return {w for w in words(text) if len(w) >= 3 and w not in STOPWORDS}


def says(request: str, value: Any, tokens: Sequence[str] | None = None) -> bool:
    """Whether the request gives ``value``: verbatim, or one of its content words.

    ``tokens``: the request's :func:`words`, where the caller has them already.
    """
    leaves = strings_at(list(value.values())) if isinstance(value, dict) else strings_at([value])
    own = set().union(*(content_words(v) for v in leaves)) if leaves else set()
    if own & set(words(request) if tokens is None else tokens):
        return True
    return mentions(request, value)


def _abbreviates(short: str, long: str) -> bool:
    """``short`` (2 to 5 letters) spells ``long``'s letters in order, from its first."""
    if not 2 <= len(short) <= 5 or len(long) <= len(short) or short[0] != long[0]:
        return False
    rest = iter(long)
    return all(ch in rest for ch in short)


def related(phrase: str, value: str) -> bool:
    """A phrase that shares a word with the value, or abbreviates it or is abbreviated by it
    ("sf" and "San Francisco, CA", "tesla" and "TSLA")."""
    own = words(value)
    if set(phrase.split()) & set(own):
        return True
    a, b = "".join(phrase.split()), "".join(own)
    return _abbreviates(a, b) or _abbreviates(b, a)


def doc_words(spec: ToolSpec) -> set[str]:
    """Words of the tool's name, description and every argument's name and description."""
    parts = [re.sub(r"([a-z])([A-Z])", r"\1 \2", spec.name), spec.description]
    for path, arg in arg_paths(spec).items():
        parts += [path, arg.description]
    return {w for part in parts for w in words(part.replace("_", " ").replace(".", " "))}
