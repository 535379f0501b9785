"""The allow-list: words the scrubber never masks (catalogue and clinical vocabulary).

Statistical NER tags capitalised tool names, drugs and abbreviations as people
or organisations ("Before calling <PERSON>", "atorvastatin, <PERSON>"). A span
is dropped when it consists only of allow-listed words. The catalogue is a
parameter (tool names, argument names, enum values and the words of their
descriptions), so a hospital's own catalogue brings its own vocabulary.
Detections of known identifiers (the hospital's own patients and staff) are
never dropped: see :mod:`fical_secure.scrub.known`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fical_secure.data.schema import ToolSpec
from fical_secure.data.vocab import enum_words
from fical_secure.errors import ConfigError

CLINICAL_TERMS = Path(__file__).with_name("data") / "clinical_terms.txt"
_WORD = re.compile(r"[^\W_]+(?:[-/][^\W_]+)*", re.UNICODE)
_SPLIT = re.compile(r"[\s_]+")


def normalise(term: str) -> str:
    """Case-folded term with runs of spaces and underscores as one space."""
    return _SPLIT.sub(" ", term.strip().casefold()).strip(" .,;:()")


def read_terms(path: Path) -> list[str]:
    """Terms of a vocabulary file: one per line, ``#`` comments and blank lines skipped.

    Raises:
        ConfigError: the file cannot be read as UTF-8 text.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read vocabulary file {path}: {exc}") from exc
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def catalogue_terms(catalogue: Sequence[ToolSpec]) -> list[str]:
    """Tool names, argument names, enum values and the words of every description.

    Nested arguments (array items, object members) count as well.
    """

    terms: list[str] = []
    for tool in catalogue:
        terms += [tool.name, tool.description, tool.returns]
        for arg in (nested for top in tool.args for nested in top.walk()):
            terms += [arg.name, arg.description]
            for choice in arg.choices or ():
                terms += [choice, enum_words(arg.name, choice)]
    return terms


@dataclass(frozen=True)
class AllowList:
    """Normalised terms and single words that a detected span may consist of only."""

    terms: frozenset[str]
    words: frozenset[str]

    @classmethod
    def build(
        cls, catalogue: Sequence[ToolSpec] = (), extra: Iterable[str] = (), clinical: bool = True
    ) -> AllowList:
        """Allow-list of ``catalogue``'s vocabulary, the packaged clinical terms and ``extra``."""
        raw = catalogue_terms(catalogue) + list(extra)
        if clinical:
            raw += read_terms(CLINICAL_TERMS)
        # Numbers are never allow-listed: CPT code 99213 is also a ZIP code.
        terms = {normalise(t) for t in raw if normalise(t) and not normalise(t).isdigit()}
        words = {w for t in terms for w in _words(t) if not w.isdigit()}
        return cls(terms=frozenset(terms), words=frozenset(words))

    def covers(self, value: str) -> bool:
        """True when ``value`` is a term, or every word in it is an allow-listed word.

        A value with a word outside the list ("Maria Coumadin") or with a bare
        number ("LDL 130") is not covered.
        """
        key = normalise(value)
        if not key:
            return False
        if key in self.terms:
            return True
        words = _words(key)
        rest = _WORD.sub("", key)
        return bool(words) and all(w in self.words for w in words) and not rest.strip(" ,.;:'")

    def covers_words(self, value: str) -> bool:
        """True when every letter-bearing word of ``value`` is allow-listed, numbers aside.

        For NER name types: spaCy tags "BP 120/80" as an organisation; its only
        word is vocabulary and a bare number names nobody.
        """
        words = [w for w in _words(normalise(value)) if any(ch.isalpha() for ch in w)]
        return bool(words) and all(w in self.words for w in words)


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]
