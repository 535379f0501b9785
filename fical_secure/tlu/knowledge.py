"""What a compendium teaches the agent, read from its entries: phrase -> enum value
aliases, tool-selection cues (tool -> request phrase -> support: how many
contributors the entries stating it stand for) and argument hints (tool ->
argument path -> :class:`ArgumentHint`).

Only claims that an entry's (scrubbed, released) text states are used
(:func:`fical_secure.kcg.claims.parse_any`). Where entries disagree (two
values for one phrase, two usual values or shapes for one argument, a usual
value against "usually left out"), the one with the most support wins; a tie
drops both, since an ambiguous hint is worse than none.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fical_secure.data.schema import ArgSpec, ToolSpec
from fical_secure.data.vocab import value_surfaces
from fical_secure.kcg.claims import (
    ArgumentShape,
    DefaultYear,
    Normalisation,
    OmittedArgument,
    UsualSuffix,
    UsualValue,
    parse_argument,
    parse_claim,
    parse_cue,
)
from fical_secure.kcg.schema import Compendium, Entry
from fical_secure.kcg.shapes import BY_NAME
from fical_secure.tlu.hints import ArgumentHint, most_supported


@dataclass(frozen=True)
class Knowledge:
    """Aliases (phrase -> enum value), cues and argument hints the agent applies.

    ``cues``: tool -> phrase -> support (the summed support of the entries
    stating the phrase for the tool; :meth:`specificity` reads it).
    ``arguments``: tool -> argument path -> :class:`ArgumentHint` (empty until argument
    claims are released).
    """

    aliases: dict[str, str] = field(default_factory=dict)
    cues: dict[str, dict[str, int]] = field(default_factory=dict)
    arguments: dict[str, dict[str, ArgumentHint]] = field(default_factory=dict)

    @classmethod
    def from_compendium(cls, compendium: Compendium | None) -> Knowledge:
        """The aliases and cues ``compendium``'s entries state (none for ``None``)."""
        if compendium is None:
            return cls()
        votes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        cues: dict[str, Counter[str]] = defaultdict(Counter)
        for entry in compendium.entries:
            cue = parse_cue(entry.tool, entry.text)
            if cue is not None:
                cues[cue.tool].update(dict.fromkeys(cue.phrases, entry.support))
            claim = parse_claim(entry.tool, entry.text)
            if claim is not None:
                votes[claim.phrase.lower()][claim.value] += entry.support
        aliases = {}
        for phrase, counts in votes.items():
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            if len(ranked) == 1 or ranked[0][1] > ranked[1][1]:
                aliases[phrase] = ranked[0][0]
        return cls(
            dict(sorted(aliases.items())),
            {t: dict(sorted(p.items())) for t, p in sorted(cues.items())},
            argument_hints(compendium.entries),
        )

    def specificity(self) -> dict[str, dict[str, float]]:
        """Tool -> cue phrase -> the share of the phrase's cue support that is this tool's.

        A phrase that the compendium gives as a cue for one tool only has
        specificity 1; one given for two tools with equal support, 0.5 each.
        """
        total: Counter[str] = Counter()
        for phrases in self.cues.values():
            total.update(phrases)
        return {
            tool: {p: n / total[p] for p, n in phrases.items()}
            for tool, phrases in self.cues.items()
        }

    def merged(self, other: Knowledge) -> Knowledge:
        """Both alias tables (a phrase they disagree on is dropped); cue supports add up."""
        joined = dict(self.aliases)
        for phrase, value in other.aliases.items():
            if joined.get(phrase, value) != value:
                joined.pop(phrase)
            elif phrase not in self.aliases:
                joined[phrase] = value
        cues = {
            t: dict(
                sorted((Counter(self.cues.get(t, {})) + Counter(other.cues.get(t, {}))).items())
            )
            for t in sorted(set(self.cues) | set(other.cues))
        }
        arguments: dict[str, dict[str, ArgumentHint]] = {}
        for tool in sorted(set(self.arguments) | set(other.arguments)):
            mine, theirs = self.arguments.get(tool, {}), other.arguments.get(tool, {})
            arguments[tool] = {
                path: _merge_hint(mine.get(path), theirs.get(path))
                for path in sorted(set(mine) | set(theirs))
            }
        return Knowledge(joined, cues, arguments)


def _add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    """Two phrase -> support tables, supports of a shared phrase added, sorted by phrase."""
    return dict(sorted((Counter(a) + Counter(b)).items()))


@dataclass
class _Votes:
    """Support for each thing entries say about one argument path."""

    usual: Counter[str] = field(default_factory=Counter)
    shape: Counter[str] = field(default_factory=Counter)
    omitted: int = 0
    year: Counter[int] = field(default_factory=Counter)
    suffix: Counter[str] = field(default_factory=Counter)
    normal: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))


def argument_hints(entries: Iterable[Entry]) -> dict[str, dict[str, ArgumentHint]]:
    """The hint book the entries' argument claims make (see the module docstring)."""
    votes: dict[tuple[str, str], _Votes] = defaultdict(_Votes)
    for entry in entries:
        claim = parse_argument(entry.tool, entry.text)
        if claim is None:
            continue
        v = votes[(claim.tool, claim.path)]
        if isinstance(claim, UsualValue):
            v.usual[claim.value] += entry.support
        elif isinstance(claim, ArgumentShape):
            v.shape[claim.shape] += entry.support
        elif isinstance(claim, OmittedArgument):
            v.omitted += entry.support
        elif isinstance(claim, Normalisation):
            v.normal[claim.phrase][claim.value] += entry.support
        elif isinstance(claim, DefaultYear):
            v.year[claim.year] += entry.support
        elif isinstance(claim, UsualSuffix):
            v.suffix[claim.suffix] += entry.support
    book: dict[str, dict[str, ArgumentHint]] = defaultdict(dict)
    for (tool, path), v in sorted(votes.items()):
        usual = most_supported(v.usual)
        usual_votes = v.usual[usual] if usual is not None else 0
        shape = BY_NAME[s] if (s := most_supported(v.shape)) is not None else None
        normal = {
            p: json.loads(w) for p, c in v.normal.items() if (w := most_supported(c)) is not None
        }
        book[tool][path] = ArgumentHint(
            tool,
            path,
            usual_value=json.loads(usual)
            if usual is not None and usual_votes > v.omitted
            else None,
            omitted=v.omitted > usual_votes,
            shape=shape.pattern if shape else None,
            shape_text=shape.text if shape else None,
            normalisations=dict(sorted(normal.items())),
            year=most_supported(v.year),
            suffix=most_supported(v.suffix),
        )
    return dict(book)


def _merge_hint(a: ArgumentHint | None, b: ArgumentHint | None) -> ArgumentHint:
    """One hint from two knowledge sources; whatever they disagree on is dropped."""
    if a is None or b is None:
        hint = a or b
        assert hint is not None
        return hint
    normal = dict(a.normalisations)
    for phrase, value in b.normalisations.items():
        if normal.get(phrase, value) != value:
            normal.pop(phrase)
        elif phrase not in a.normalisations:
            normal[phrase] = value
    same_shape = a.shape is None or b.shape is None or a.shape == b.shape
    usual = a.usual_value if b.usual_value is None else b.usual_value
    if a.usual_value is not None and b.usual_value is not None and a.usual_value != b.usual_value:
        usual = None
    return replace(
        a,
        usual_value=usual,
        omitted=(a.omitted or b.omitted) and usual is None,
        shape=(a.shape or b.shape) if same_shape else None,
        shape_text=(a.shape_text or b.shape_text) if same_shape else None,
        normalisations=normal,
        year=_agreed(a.year, b.year),
        suffix=_agreed(a.suffix, b.suffix),
    )


def _agreed(a: Any, b: Any) -> Any:
    """What two sources say, where at most one says it or both say the same."""
    return a if b is None or a == b else (b if a is None else None)


def _enum_args(spec: ToolSpec) -> list[ArgSpec]:
    """The tool's enum arguments, nested ones (array items, object members) included."""
    return [arg for top in spec.args for arg in top.walk() if arg.type == "enum"]


class ValueMatcher:
    """Finds the tools whose enum values a request names, in standard words or a known alias.

    The lexical evidence for tool choice: "chem-7 on MRN-0042137?" names no
    tool, but a compendium that knows "chem-7" means ``test="BMP"`` points at
    the tools that take that value. Patterns are compiled once per catalogue
    and knowledge.
    """

    def __init__(self, catalogue: Sequence[ToolSpec], knowledge: Knowledge) -> None:
        surfaces: dict[str, set[str]] = defaultdict(set)  # surface -> values
        for spec in catalogue:
            for arg in _enum_args(spec):
                for choice in arg.choices:
                    for surface in value_surfaces(arg.name, choice):
                        surfaces[surface].add(choice)
        for phrase, value in knowledge.aliases.items():
            surfaces[phrase].add(value)
        self._patterns = [
            (re.compile(rf"(?<![a-z0-9]){re.escape(s)}(?![a-z0-9])"), frozenset(v))
            for s, v in sorted(surfaces.items())
        ]
        self._tools_of: dict[str, set[str]] = defaultdict(set)  # value -> tools taking it
        for spec in catalogue:
            for arg in _enum_args(spec):
                for choice in arg.choices:
                    self._tools_of[choice].add(spec.name)

    def tools(self, request: str) -> set[str]:
        """Names of the tools that take a value the request names."""
        low = request.lower()
        named: set[str] = set()
        for pattern, values in self._patterns:
            if pattern.search(low):
                named |= values
        return {tool for value in named for tool in self._tools_of[value]}
