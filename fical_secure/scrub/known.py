"""The hospital's own known identifiers, matched fuzzily wherever they occur.

A client knows its patients and staff: the ``pii`` fields of its episodes and
an optional roster file. Their values are masked in any case, with or without
diacritics, separators or one typo:

* names: each part of 2+ letters (particles and honorifics aside) is matched
  as a word, case- and accent-insensitively; parts of 6+ letters also match
  at one edit (symmetric deletes, so the cost stays linear in the text);
* identifiers with 5+ digits: any digit run with the same digits, whatever
  separators it is written with ("MRN-0042137", "004 2137", "004-21-37");
* anything else (emails, addresses): the value itself, case-insensitively;
  an address also by its place names ("rose hill" of "12 Rose Hill Road").

Lookups are set-based, so a roster of thousands of people costs about as much
as one of ten. This module does not import Presidio.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fical_secure.errors import DataError, UntrustedInputError
from fical_secure.scrub.types import Span
from fical_secure.untrusted import loads_bounded, read_regular

KNOWN_SCORE = 1.0
FUZZY_SCORE = 0.9  # a name part at one edit: the allow-list may still keep it
NAME_KINDS = frozenset({"PERSON", "NAME", "PATIENT", "STAFF", "DOCTOR", "RELATIVE"})
ADDRESS_KINDS = frozenset({"STREET_ADDRESS", "ADDRESS", "LOCATION"})
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)
_DIGITS = re.compile(r"\d(?:[ \t./()#-]{0,2}\d)*")
_MIN_DIGITS = 5
_FUZZY_MIN = 6
_NOT_NAME_PARTS = frozenset(
    "mr mrs ms miss mx dr prof sir jr sr md rn phd van von der den de del della di da du "
    "la le the and st".split()
)


def _places(address: str) -> list[str]:
    """Place names inside an address, as written alone ("rose hill" of "12 Rose Hill Road").

    Each comma-separated part without its house number, and without its last
    word (a street type) where two or more words remain.
    """
    places: list[str] = []
    for part in fold(address).split(","):
        words = [w for w in part.split() if not any(ch.isdigit() for ch in w)]
        for run in (words, words[:-1] if len(words) >= 3 else []):
            if len(run) >= 2 or (run and len(run[0]) >= 5):
                places.append(" ".join(run))
    return places


def fold(text: str) -> str:
    """Case-folded text without diacritics ("Zoë" -> "zoe"); ``ß`` -> ``ss``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


@dataclass
class KnownIdentifiers:
    """Values the client knows to be identifiers, by kind, compiled for fast lookup."""

    name_parts: dict[str, str] = field(default_factory=dict)  # folded part -> kind
    fuzzy_parts: dict[str, str] = field(default_factory=dict)  # folded 1-delete -> kind
    digit_cores: dict[str, str] = field(default_factory=dict)  # digits only -> kind
    literals: dict[str, str] = field(default_factory=dict)  # folded value -> kind

    def __len__(self) -> int:
        return len(self.name_parts) + len(self.digit_cores) + len(self.literals)

    def add(self, kind: str, value: str) -> None:
        """Add one known value of ``kind`` (e.g. ``PERSON``, ``MRN``)."""
        value = value.strip()
        digits = "".join(ch for ch in value if ch.isdigit())
        if len(digits) >= _MIN_DIGITS:
            self.digit_cores[digits] = kind
        if kind in NAME_KINDS:
            for part in _WORD.findall(fold(value)):
                if len(part) >= 2 and part not in _NOT_NAME_PARTS:
                    self.name_parts[part] = kind
                    if len(part) >= _FUZZY_MIN:
                        for variant in _deletes(part) | {part}:
                            self.fuzzy_parts.setdefault(variant, kind)
        elif len(fold(value)) >= 3:
            self.literals[fold(value)] = kind
        if kind in ADDRESS_KINDS:
            for place in _places(value):
                self.literals.setdefault(place, kind)

    def extend(self, values: Iterable[tuple[str, str]]) -> KnownIdentifiers:
        """Add every ``(kind, value)``; returns ``self``."""
        for kind, value in values:
            self.add(kind, value)
        return self

    def find(self, text: str) -> list[Span]:
        """Every occurrence of a known value in ``text`` (offsets into ``text``)."""
        if not len(self):
            return []
        spans: list[Span] = []
        if self.name_parts:
            for match in _WORD.finditer(text):
                word = fold(match.group(0))
                kind = self.name_parts.get(word)
                score = KNOWN_SCORE
                if kind is None:
                    kind, score = self._fuzzy_kind(word), FUZZY_SCORE
                if kind is not None:
                    spans.append(Span(match.start(), match.end(), kind, score))
        if self.digit_cores:
            for match in _DIGITS.finditer(text):
                core = "".join(ch for ch in match.group(0) if ch.isdigit())
                kind = self.digit_cores.get(core)
                if kind is not None:
                    spans.append(Span(match.start(), match.end(), kind, KNOWN_SCORE))
        if self.literals:
            folded = fold(text)
            if len(folded) == len(text):  # offsets stay valid only when folding keeps length
                for value, kind in self.literals.items():
                    start = folded.find(value)
                    while start != -1:
                        spans.append(Span(start, start + len(value), kind, KNOWN_SCORE))
                        start = folded.find(value, start + 1)
            else:
                for value, kind in self.literals.items():
                    for m in re.finditer(re.escape(value), text, re.IGNORECASE):
                        spans.append(Span(m.start(), m.end(), kind, KNOWN_SCORE))
        return spans

    def named_in(self, phrase: str) -> bool:
        """True when ``phrase`` names a known identifier or is words of a known value.

        A phrase shares a word with a known name ("okafor"), holds a known
        identifier's digits, or lies whole-word inside a known value such as an
        address ("rose hill" of "12 Rose Hill Road"). KCG drops such phrases.
        """
        if self.find(phrase):
            return True
        key = fold(phrase).strip()
        if len(key) < 3:
            return False
        inside = re.compile(rf"(?<!\w){re.escape(key)}(?!\w)")
        return any(inside.search(value) for value in self.literals)

    def _fuzzy_kind(self, word: str) -> str | None:
        if len(word) < _FUZZY_MIN - 1:
            return None
        for variant in _deletes(word) | {word}:
            kind = self.fuzzy_parts.get(variant)
            if kind is not None:
                return kind
        return None


def read_roster(path: str | Path) -> list[tuple[str, str]]:
    """``(kind, value)`` rows of a roster: JSON Lines of ``{"kind", "value"}``, like ``pii``.

    Raises:
        DataError: the file is unreadable, or a line is not UTF-8, not JSON, or
            not an object with string ``kind`` and ``value``; the message names
            the file and line, never the value.
    """
    path = Path(path)
    try:
        raw_lines = read_regular(path).splitlines()
    except OSError as exc:
        raise DataError(f"cannot read roster {path}: {exc.strerror or exc}") from exc
    rows: list[tuple[str, str]] = []
    for number, raw in enumerate(raw_lines, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{path} line {number}: not valid UTF-8 text") from exc
        if not line.strip():
            continue
        try:
            record = loads_bounded(line)
        except UntrustedInputError as exc:
            raise DataError(f"{path} line {number}: not valid JSON ({exc})") from None
        if not (
            isinstance(record, dict)
            and isinstance(record.get("kind"), str)
            and isinstance(record.get("value"), str)
            and record["value"].strip()
        ):
            raise DataError(
                f'{path} line {number}: expected {{"kind": "PERSON", "value": "..."}} '
                "with a non-empty string value"
            )
        rows.append((record["kind"], record["value"]))
    if not rows:
        raise DataError(f"{path}: the roster is empty; list one {{kind, value}} per line")
    return rows


def known_of(episodes: Iterable[Any], roster: Iterable[tuple[str, str]] = ()) -> KnownIdentifiers:
    """Every ``pii`` value of ``episodes`` (members and non-members), plus the roster's rows.

    The one rule for a client's known identifiers: the round's KCG and scrub
    stages and ``audit``'s scrub checks all read them from here.
    """
    values = [(p.kind, p.value) for e in episodes for p in e.pii]
    return KnownIdentifiers().extend([*values, *roster])
