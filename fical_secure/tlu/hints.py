"""Argument knowledge the agent may apply when it fills a tool's arguments.

A compendium's argument claims (what real call logs teach about one tool
argument, each shown by at least k distinct subjects) are read into one
:class:`ArgumentHint` per (tool, argument path). The KCG side writes and
re-verifies the claims; the agent side (rule filler and the LLM's
schema-constrained filler) uses the hints as candidate values and checks.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from fical_secure.data.arg_schema import parameters_schema
from fical_secure.data.schema import ToolSpec
from fical_secure.kcg.argvalues import related
from fical_secure.tlu.shapes import expected_shapes


@dataclass(frozen=True)
class ArgumentHint:
    """What the released knowledge says about one argument of one tool.

    ``usual_value``: the JSON value calls used when the request names none
    (a default or a constant), ``None`` when no such claim was released;
    ``omitted``: an optional argument calls usually leave out; ``shape``: a
    regular expression every supporting value matched (``None`` if unknown),
    with ``shape_text`` its plain-words reading ("a date as YYYY-MM-DD");
    ``normalisations``: lower-case request phrase -> the JSON value calls
    wrote for it ("nyc" -> "New York, NY"); ``year``: the year calls write for a
    date the request gives without one (``None`` if unknown); ``suffix``: what calls
    add after the head of the value the request gives (``", CA"`` after a city).
    """

    tool: str
    argument: str
    usual_value: Any = None
    omitted: bool = False
    shape: str | None = None
    shape_text: str | None = None
    normalisations: Mapping[str, Any] = field(default_factory=dict)
    year: int | None = None
    suffix: str | None = None


HintBook = Mapping[str, Mapping[str, ArgumentHint]]
"""tool name -> argument path (dotted for nested members) -> hint."""


def shared_normalisations(book: HintBook) -> dict[str, str]:
    """Phrase -> value of every released normalisation, whatever its tool, whose phrase
    names its value (a shared word, an abbreviation: "york" -> "New York, NY"); a
    phrase given two values is dropped."""
    seen: dict[str, set[str]] = defaultdict(set)
    for hints in book.values():
        for hint in hints.values():
            for phrase, value in hint.normalisations.items():
                if isinstance(value, str) and related(phrase, value):
                    seen[phrase].add(value)
    return {p: min(v) for p, v in sorted(seen.items()) if len(v) == 1}


def most_supported(votes: Counter[Any]) -> Any:
    """The most supported choice, or ``None`` on a tie (or no votes)."""
    ranked = votes.most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


def default_year(book: HintBook) -> int | None:
    """The year most hints give for dates written without one (``None``: none, or a tie)."""
    year: int | None = most_supported(
        Counter(h.year for hints in book.values() for h in hints.values() if h.year)
    )
    return year


def shared_suffix(book: HintBook) -> str | None:
    """The suffix most hints give (``None``: none, or a tie)."""
    suffix: str | None = most_supported(
        Counter(h.suffix for hints in book.values() for h in hints.values() if h.suffix)
    )
    return suffix


def hints_for(book: HintBook, spec: ToolSpec) -> dict[str, ArgumentHint]:
    """``spec``'s own hints, plus, for each free string argument of a known shape (its
    released shape, or a format its docs state), the shared normalisations whose value
    has that shape ("sf" -> "San Francisco, CA" learned for one tool's ``city`` serves
    every argument written as a city and a state code) and, where it has none of its
    own, the shared suffix if a name with it has the argument's own released shape (a
    format only its docs state is no evidence that its calls add a tail)."""
    own = dict(book.get(spec.name, {}))
    shared, suffix = shared_normalisations(book), shared_suffix(book)
    if not shared and suffix is None:
        return own
    props = parameters_schema(spec).get("properties")
    for arg in spec.args:
        if arg.type not in ("str", "any") or arg.pattern is not None or arg.choices:
            continue
        hint = own.get(arg.name)
        shapes = [hint.shape] if hint is not None and hint.shape else []
        prop = props.get(arg.name) if isinstance(props, Mapping) else None
        shapes += expected_shapes(arg.name, prop if isinstance(prop, Mapping) else {})
        extra = {p: v for p, v in shared.items() if any(re.fullmatch(s, v) for s in shapes)}
        # a suffix completes any name, right or wrong: it crosses over only to an argument
        # whose own calls (k of them, its released shape) write names with such a tail
        learned = hint.shape if hint is not None else None
        add = suffix if suffix and learned and re.fullmatch(learned, f"Place{suffix}") else None
        if extra or add:
            base = hint or ArgumentHint(spec.name, arg.name)
            own[arg.name] = replace(
                base,
                normalisations={**extra, **base.normalisations},
                suffix=base.suffix or add,
            )
    return own
