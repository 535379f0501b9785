"""Checkable claims that compendium entries make, and their one text form.

A claim says something about a tool that examples can confirm or refute:

- :class:`ValueAlias`: staff write ``phrase`` for the enum value ``value`` of
  argument ``arg`` ("chem-7" means ``test="BMP"``); the phrase appears in
  none of the tool docs' standard words for the value.
- :class:`ToolCue`: requests that mention any of ``phrases`` usually call
  ``tool`` (tool-selection cues; mined by :mod:`fical_secure.kcg.cues`).

An entry carries its claim in its text and nowhere else, so what the privacy
gates scrub is exactly what the agent can use: :func:`parse_claim` reads the
claim back from any text with one quoted phrase and one ``arg="value"`` pair
(the canonical sentence of :func:`render_claim`, or a model's paraphrase of
it), and a scrubbed phrase simply yields a claim that no request matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fical_secure.kcg.schema import Entry, validate_entry

_PAIR = re.compile(r'\b([A-Za-z_][A-Za-z0-9_]*)="([^"\n]{1,80})"')
_QUOTED = re.compile(r'"([^"\n]{1,60})"')
_CUE = re.compile(r"Requests that mention (.+) usually call this tool\.")
ALIAS_KIND = "arguments"
CUE_KIND = "usage"


@dataclass(frozen=True)
class ValueAlias:
    """``phrase`` in a request stands for ``arg="value"`` of ``tool``."""

    tool: str
    arg: str
    phrase: str
    value: str

    def key(self) -> tuple[str, str]:
        """What two claims must share to be the same knowledge: phrase and value."""
        return (self.phrase.lower(), self.value)


@dataclass(frozen=True)
class ToolCue:
    """A request that mentions any of ``phrases`` (lower-case n-grams) usually calls ``tool``."""

    tool: str
    phrases: tuple[str, ...]


Claim = ValueAlias | ToolCue


def render_claim(claim: Claim) -> str:
    """The canonical sentence of a claim (what an entry says when no paraphrase passes)."""
    if isinstance(claim, ToolCue):
        quoted = " or ".join(f'"{p}"' for p in claim.phrases)
        # the entry names its tool; a dotted name in the text reads as a URL to the scrubber
        return f"Requests that mention {quoted} usually call this tool."
    return (
        f'Staff write "{claim.phrase}" for {claim.arg}="{claim.value}" '
        f"when they ask for {claim.tool}."
    )


def parse_claim(tool: str, text: str) -> ValueAlias | None:
    """The claim an entry text makes about ``tool``, or ``None`` if it makes no single one.

    The text must hold exactly one ``arg="value"`` pair and exactly one other
    quoted phrase, different from the value.
    """
    pairs = _PAIR.findall(text)
    if len(pairs) != 1:
        return None
    arg, value = pairs[0]
    rest = _PAIR.sub("", text)
    phrases = [p.strip() for p in _QUOTED.findall(rest) if p.strip()]
    if len(phrases) != 1 or phrases[0].lower() == value.lower():
        return None
    return ValueAlias(tool, arg, phrases[0], value)


def parse_cue(tool: str, text: str) -> ToolCue | None:
    """The cue an entry about ``tool`` states (as :func:`render_claim` writes it), or ``None``."""
    match = _CUE.fullmatch(text.strip())
    if match is None:
        return None
    quoted = match.group(1)
    if len(quoted) < 3 or quoted[0] != '"' or quoted[-1] != '"':
        return None
    phrases = tuple(quoted[1:-1].split('" or "'))
    if not all(phrases) or any('"' in p or p != p.lower().strip() for p in phrases):
        return None
    return ToolCue(tool, phrases)


def parse_any(tool: str, text: str) -> Claim | None:
    """The alias or cue an entry text states, or ``None``."""
    return parse_cue(tool, text) or parse_claim(tool, text)


def claim_entry(claim: Claim, text: str | None = None) -> Entry:
    """The compendium entry of ``claim``; ``text`` (a paraphrase) must parse back to it.

    Raises:
        SchemaError: the text does not make exactly this claim, or is invalid as an entry.
    """
    from fical_secure.errors import SchemaError

    text = render_claim(claim) if text is None else text
    if parse_any(claim.tool, text) != claim:
        raise SchemaError(f"entry text {text!r} does not state the claim {claim}")
    kind = CUE_KIND if isinstance(claim, ToolCue) else ALIAS_KIND
    return validate_entry(claim.tool, kind, text)


def entry_claims(entries: tuple[Entry, ...] | list[Entry]) -> list[Claim]:
    """Every claim (alias or cue) the entries make (entries without one are skipped)."""
    claims = (parse_any(e.tool, e.text) for e in entries)
    return [c for c in claims if c is not None]


def keep_validated(entries: tuple[Entry, ...], validated: tuple[Entry, ...]) -> tuple[Entry, ...]:
    """The ``entries`` whose text still states a claim of the ``validated`` (KCG's) entries.

    Run after the privacy gates: an entry the scrubber changed into a claim
    no example shows (a masked phrase) is dropped, not released.
    """
    known = {c for c in entry_claims(validated)}
    return tuple(e for e in entries if parse_any(e.tool, e.text) in known)
