"""Deterministic knowledge induced from observed calls: tool signatures and enum values.

Argument names and types need no model: they are read off the calls. The
"arguments" entry built here lists enum values only when they look like
vocabulary (no digit runs, no e-mail, not a Title Case name) and were seen in
at least ``min_value_support`` episodes, so a value unique to one record never
enters the compendium through this path.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence

from fical_secure.data.schema import ArgValue, Episode, leaves
from fical_secure.kcg.schema import MAX_ENTRY_CHARS, Entry, ToolSignature, validate_entry

MAX_LISTED_VALUES = 6
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_VOCABULARY = re.compile(r"^[A-Za-z][A-Za-z0-9_ -]{0,39}$")
_DIGIT_RUN = re.compile(r"\d{3,}")
_TITLE_NAME = re.compile(r"^[A-Z][a-z]+(?: [A-Z][a-z]+)+$")


def value_type(value: ArgValue) -> str:
    """Type name of one observed argument value (``enum`` means vocabulary-like text)."""
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, bool) or value is None:
        return "str"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if _ISO_DATE.match(value):
        return "date"
    if is_vocabulary(value):
        return "enum"
    return "str"


def is_vocabulary(value: str) -> bool:
    """True for short word-like values (``warfarin``, ``lipid_panel``), not ids or names."""
    return bool(
        _VOCABULARY.match(value) and not _DIGIT_RUN.search(value) and not _TITLE_NAME.match(value)
    )


def _merge_types(types: Counter[str]) -> str:
    """One type for an argument seen with several value types."""
    if len(types) == 1:
        return next(iter(types))
    if set(types) <= {"int", "float"}:
        return "float"
    return "str"


def induce_signatures(episodes: Sequence[Episode]) -> tuple[ToolSignature, ...]:
    """Argument names (in first-seen call order) and merged types, per tool."""
    order: dict[str, dict[str, None]] = defaultdict(dict)
    types: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for episode in episodes:
        for name, value in episode.call.arguments.items():
            order[episode.call.tool][name] = None
            types[(episode.call.tool, name)][value_type(value)] += 1
    return tuple(
        ToolSignature(tool, tuple((name, _merge_types(types[(tool, name)])) for name in names))
        for tool, names in sorted(order.items())
    )


def common_values(
    episodes: Sequence[Episode], tool: str, arg: str, min_value_support: int = 2
) -> list[str]:
    """Vocabulary values of ``tool``'s ``arg`` seen in at least ``min_value_support`` episodes."""
    counts = Counter(
        str(e.call.arguments[arg])
        for e in episodes
        if e.call.tool == tool and arg in e.call.arguments
    )
    keep = [v for v, n in counts.most_common() if n >= min_value_support and is_vocabulary(v)]
    return keep[:MAX_LISTED_VALUES]


def arguments_entry(
    signature: ToolSignature, episodes: Sequence[Episode], min_value_support: int = 2
) -> Entry | None:
    """A templated "arguments" entry: names, types and frequent enum values of one tool."""
    if not signature.args:
        return None
    parts = []
    for name, kind in signature.args:
        part = f"{name} ({kind})"
        if kind == "enum":
            values = common_values(episodes, signature.tool, name, min_value_support)
            if values:
                part += " such as " + ", ".join(values)
        parts.append(part)
    text = f"{signature.tool} takes " + "; ".join(parts) + "."
    if len(text) > MAX_ENTRY_CHARS:
        text = f"{signature.tool} takes " + ", ".join(f"{n} ({k})" for n, k in signature.args) + "."
    return validate_entry(signature.tool, "arguments", text[:MAX_ENTRY_CHARS])


def record_values(episodes: Sequence[Episode]) -> set[str]:
    """Argument values never allowed in notes: ids, names, dates and numbers (ages, weights)."""
    found: set[str] = set()
    for episode in episodes:
        for value in (v for arg in episode.call.arguments.values() for v in leaves(arg)):
            if isinstance(value, bool) or value is None:
                continue
            if isinstance(value, int | float):
                found.add(f"{value:g}" if isinstance(value, float) else str(value))
            elif not is_vocabulary(value):
                found.add(value)
    return found
