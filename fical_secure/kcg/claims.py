"""Checkable claims that compendium entries make, and their one text form.

A claim says something about a tool that examples can confirm or refute:

- :class:`ValueAlias`: staff write ``phrase`` for the enum value ``value`` of
  argument ``arg`` ("chem-7" means ``test="BMP"``); the phrase appears in
  none of the tool docs' standard words for the value.
- :class:`ToolCue`: requests that mention any of ``phrases`` usually call
  ``tool`` (tool-selection cues; mined by :mod:`fical_secure.kcg.cues`).
- argument knowledge (mined by :mod:`fical_secure.kcg.arguments`), each about
  one argument path of ``tool`` (dotted for object members; array items share
  their array's path): :class:`ArgumentShape` (its values' format),
  :class:`UsualValue` (the value calls write when the request names none),
  :class:`OmittedArgument` (an optional argument calls leave out),
  :class:`Normalisation` (a request phrase stands for a written value) and
  :class:`DefaultYear` (the year calls write for a date the request gives
  without one) and :class:`UsualSuffix` (what calls add after the value the
  request gives: ``", CA"`` after a city).

An entry carries its claim in its text and nowhere else, so what the privacy
gates scrub is exactly what the agent can use: :func:`parse_claim` reads the
claim back from any text with one quoted phrase and one ``arg="value"`` pair
(the canonical sentence of :func:`render_claim`, or a model's paraphrase of
it), and a scrubbed phrase simply yields a claim that no request matches.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from fical_secure.errors import SchemaError
from fical_secure.kcg.schema import Entry, validate_entry
from fical_secure.kcg.shapes import BY_NAME, BY_TEXT

_PAIR = re.compile(r'\b([A-Za-z_][A-Za-z0-9_]*)="([^"\n]{1,80})"')
_QUOTED = re.compile(r'"([^"\n]{1,60})"')
_CUE = re.compile(r"Requests that mention (.+) usually call this tool\.")
_PATH = r"`([A-Za-z0-9_$@-][^`\n]{0,79})`"
_SHAPE = re.compile(rf"Calls write {_PATH} as (.+)\.")
_USUAL = re.compile(rf"Calls usually set {_PATH} to (.+) when the request does not say\.")
_OMITTED = re.compile(rf"Calls usually leave out the optional {_PATH}\.")
_YEAR = re.compile(
    rf"Where a request gives a date without its year, calls write {_PATH} "
    r"with year number (\d{4})\."
)
_SUFFIX = re.compile(
    rf'Where a request gives only the first part of {_PATH}, calls add "([^"\n]{{1,24}})" to it\.'
)
_NORMAL = re.compile(rf'Where a request says "([^"\n]{{1,60}})", calls set {_PATH} to (.+)\.')
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


def value_json(value: Any) -> str:
    """The one text form of a JSON value in a claim (compact, keys sorted, UTF-8)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


@dataclass(frozen=True)
class ArgumentShape:
    """The values calls write for ``path`` have the shape named ``shape`` (:mod:`.shapes`)."""

    tool: str
    path: str
    shape: str


@dataclass(frozen=True)
class UsualValue:
    """Calls write ``value`` (canonical JSON) for ``path`` when the request names no value."""

    tool: str
    path: str
    value: str


@dataclass(frozen=True)
class OmittedArgument:
    """Calls usually leave out the schema-optional argument ``path``."""

    tool: str
    path: str


@dataclass(frozen=True)
class Normalisation:
    """A request that says ``phrase`` (lower case) has ``value`` (canonical JSON) at ``path``."""

    tool: str
    path: str
    phrase: str
    value: str


@dataclass(frozen=True)
class DefaultYear:
    """Calls write dates at ``path`` in ``year`` where the request gives the date without one.

    Its sentence says "year number 2023": a bare year reads as a date to the scrubber's
    NER, though a year alone is no identifier (HIPAA Safe Harbor keeps years).
    """

    tool: str
    path: str
    year: int


@dataclass(frozen=True)
class UsualSuffix:
    """Calls write ``path`` as the head the request gives followed by ``suffix`` (``", CA"``)."""

    tool: str
    path: str
    suffix: str


ArgumentClaim = (
    ArgumentShape | UsualValue | OmittedArgument | Normalisation | DefaultYear | UsualSuffix
)
ARGUMENT_CLAIMS = (
    ArgumentShape,
    UsualValue,
    OmittedArgument,
    Normalisation,
    DefaultYear,
    UsualSuffix,
)
Claim = ValueAlias | ToolCue | ArgumentClaim


def render_claim(claim: Claim) -> str:
    """The canonical sentence of a claim (what an entry says when no paraphrase passes)."""
    if isinstance(claim, ArgumentShape):
        return f"Calls write `{claim.path}` as {BY_NAME[claim.shape].text}."
    if isinstance(claim, UsualValue):
        return f"Calls usually set `{claim.path}` to {claim.value} when the request does not say."
    if isinstance(claim, OmittedArgument):
        return f"Calls usually leave out the optional `{claim.path}`."
    if isinstance(claim, DefaultYear):
        return (
            "Where a request gives a date without its year, "
            f"calls write `{claim.path}` with year number {claim.year}."
        )
    if isinstance(claim, UsualSuffix):
        return (
            f"Where a request gives only the first part of `{claim.path}`, "
            f'calls add "{claim.suffix}" to it.'
        )
    if isinstance(claim, Normalisation):
        return f'Where a request says "{claim.phrase}", calls set `{claim.path}` to {claim.value}.'
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


def _canonical(raw: str) -> str | None:
    """``raw`` if it is a JSON value in its canonical text form (:func:`value_json`)."""
    try:
        return raw if value_json(json.loads(raw)) == raw else None
    except ValueError:
        return None


def parse_argument(tool: str, text: str) -> ArgumentClaim | None:
    """The argument claim an entry about ``tool`` states (as rendered), or ``None``."""
    text = text.strip()
    if m := _SHAPE.fullmatch(text):
        shape = BY_TEXT.get(m.group(2))
        return ArgumentShape(tool, m.group(1), shape.name) if shape else None
    if m := _USUAL.fullmatch(text):
        value = _canonical(m.group(2))
        return UsualValue(tool, m.group(1), value) if value is not None else None
    if m := _OMITTED.fullmatch(text):
        return OmittedArgument(tool, m.group(1))
    if m := _YEAR.fullmatch(text):
        return DefaultYear(tool, m.group(1), int(m.group(2)))
    if m := _SUFFIX.fullmatch(text):
        return UsualSuffix(tool, m.group(1), m.group(2))
    if m := _NORMAL.fullmatch(text):
        phrase, value = m.group(1), _canonical(m.group(3))
        if value is None or phrase != phrase.lower().strip() or not phrase:
            return None
        return Normalisation(tool, m.group(2), phrase, value)
    return None


def parse_any(tool: str, text: str) -> Claim | None:
    """The alias, cue or argument claim an entry text states, or ``None``."""
    return parse_argument(tool, text) or parse_cue(tool, text) or parse_claim(tool, text)


def claim_entry(claim: Claim, text: str | None = None) -> Entry:
    """The compendium entry of ``claim``; ``text`` (a paraphrase) must parse back to it.

    Raises:
        SchemaError: the text does not make exactly this claim, or is invalid as an entry.
    """

    text = render_claim(claim) if text is None else text
    if parse_any(claim.tool, text) != claim:
        raise SchemaError(f"entry text {text!r} does not state the claim {claim}")
    kind = CUE_KIND if isinstance(claim, ToolCue) else ALIAS_KIND
    return validate_entry(claim.tool, kind, text)


def entry_claims(entries: tuple[Entry, ...] | list[Entry]) -> list[Claim]:
    """Every claim (alias, cue or argument claim) the entries make (others are skipped)."""
    claims = (parse_any(e.tool, e.text) for e in entries)
    return [c for c in claims if c is not None]


def keep_validated(entries: tuple[Entry, ...], validated: tuple[Entry, ...]) -> tuple[Entry, ...]:
    """The ``entries`` whose text still states a claim of the ``validated`` (KCG's) entries.

    Run after the privacy gates: an entry the scrubber changed into a claim
    no example shows (a masked phrase) is dropped, not released. A cue
    sentence is a list of independent phrases, each validated on its own: where
    the scrubber masked some of them, the entry keeps the validated phrases
    the scrubbed text still quotes verbatim (the masked ones are gone), or is
    dropped when none is left.
    """
    known = set(entry_claims(validated))
    cues = {c.tool: c for c in known if isinstance(c, ToolCue)}
    kept = []
    for entry in entries:
        if parse_any(entry.tool, entry.text) in known:
            kept.append(entry)
        elif (cue := _surviving_cue(entry, cues.get(entry.tool))) is not None:
            kept.append(Entry(entry.tool, entry.kind, render_claim(cue), entry.support))
    return tuple(kept)


def _surviving_cue(entry: Entry, validated: ToolCue | None) -> ToolCue | None:
    """The validated phrases a (scrubbed) cue sentence about the same tool still quotes."""
    match = _CUE.fullmatch(entry.text.strip())
    if validated is None or match is None or entry.kind != CUE_KIND:
        return None
    quoted = set(_QUOTED.findall(match.group(1)))
    phrases = tuple(p for p in validated.phrases if p in quoted)
    return ToolCue(entry.tool, phrases) if phrases else None
