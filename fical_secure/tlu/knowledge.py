"""What a compendium teaches the agent, read from its entries: phrase -> enum value
aliases and tool-selection cues (tool -> request phrases that point at it).

Only claims that an entry's (scrubbed, released) text states are used
(:func:`fical_secure.kcg.claims.parse_claim`). Where entries disagree on a
phrase, the value with the most support wins; a tie drops the phrase, since
an ambiguous alias is worse than none.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from fical_secure.data.schema import ArgSpec, ToolSpec
from fical_secure.data.vocab import value_surfaces
from fical_secure.kcg.claims import parse_claim, parse_cue
from fical_secure.kcg.schema import Compendium
from fical_secure.tlu.hints import ArgumentHint


@dataclass(frozen=True)
class Knowledge:
    """Aliases (phrase -> enum value), cues (tool -> phrases) and argument hints the agent applies.

    ``arguments``: tool -> argument path -> :class:`ArgumentHint` (empty until argument
    claims are released).
    """

    aliases: dict[str, str] = field(default_factory=dict)
    cues: dict[str, frozenset[str]] = field(default_factory=dict)
    arguments: dict[str, dict[str, ArgumentHint]] = field(default_factory=dict)

    @classmethod
    def from_compendium(cls, compendium: Compendium | None) -> Knowledge:
        """The aliases and cues ``compendium``'s entries state (none for ``None``)."""
        if compendium is None:
            return cls()
        votes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        cues: dict[str, set[str]] = defaultdict(set)
        for entry in compendium.entries:
            cue = parse_cue(entry.tool, entry.text)
            if cue is not None:
                cues[cue.tool] |= set(cue.phrases)
            claim = parse_claim(entry.tool, entry.text)
            if claim is not None:
                votes[claim.phrase.lower()][claim.value] += entry.support
        aliases = {}
        for phrase, counts in votes.items():
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            if len(ranked) == 1 or ranked[0][1] > ranked[1][1]:
                aliases[phrase] = ranked[0][0]
        return cls(
            dict(sorted(aliases.items())), {t: frozenset(p) for t, p in sorted(cues.items())}
        )

    def merged(self, other: Knowledge) -> Knowledge:
        """Both alias tables (a phrase they disagree on is dropped) and the union of cues."""
        joined = dict(self.aliases)
        for phrase, value in other.aliases.items():
            if joined.get(phrase, value) != value:
                joined.pop(phrase)
            elif phrase not in self.aliases:
                joined[phrase] = value
        cues = {
            t: self.cues.get(t, frozenset()) | other.cues.get(t, frozenset())
            for t in sorted(set(self.cues) | set(other.cues))
        }
        return Knowledge(joined, cues)


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
