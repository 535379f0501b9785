"""Names and places however they are cased: "xiomara okafor", "XIOMARA", "from rose hill".

spaCy's small English model finds people and places by their capitals, so a
name typed in lower case passes it, and a name in a Title-Cased sentence is
one capital among many. Two detectors close that gap, both driven by
philter-lite's word lists (``filters/set.toml``: English and clinical words
that are not names, and first and last names; read as data, never imported):

* :meth:`Casing.name_spans`: a word that is a first or last name and neither
  an English/clinical word nor allow-listed vocabulary is a PERSON, in any
  case; adjacent ones form one span ("xiomara okafor");
* :meth:`Casing.recase`: a copy of the text for the NER in which such words,
  and name-list words right after a place preposition ("from rose hill"),
  are Title-cased, so the model sees them as it would in careful writing.
  Other words keep their case, so the copy does not make everything a name.
"""

from __future__ import annotations

import importlib.util
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import regex

from fical_secure.errors import ScrubAnalyzerError
from fical_secure.scrub.types import Span
from fical_secure.scrub.vocabulary import AllowList

CASED_SCORE = 0.6
_WORD = regex.compile(r"\p{L}+(?:['’]\p{L}+)*")
_MIN_NAME = 3
# Words after which a place name often follows; the words after them may be places.
_PLACE_CUES = frozenset("in at from near of to lives live living resides moved".split())
_PLACE_WORDS = 3


@dataclass(frozen=True)
class Lexicon:
    """English/clinical words that are not names, and first and last names (case-folded)."""

    common: frozenset[str]
    names: frozenset[str]


def _set_toml() -> Path:
    spec = importlib.util.find_spec("philter_lite")
    if spec is None or not spec.submodule_search_locations:
        raise ScrubAnalyzerError(
            "the scrubber needs philter-lite's word lists: "
            "pip install --no-deps philter-lite==0.6.0 (make setup does)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "filters" / "set.toml"


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    """The word lists, read once per process.

    Raises:
        ScrubAnalyzerError: philter-lite is not installed or its lists are unreadable.
    """
    path = _set_toml()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        common = frozenset(w.casefold() for w in data["nonames"] if w)
        names = frozenset(w.casefold() for w in (*data["firstnames"], *data["lastnames"]) if w)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise ScrubAnalyzerError(f"cannot read the word lists in {path} ({exc})") from exc
    return Lexicon(common=common, names=names)


@dataclass(frozen=True)
class Casing:
    """Case-independent name detection over one allow-list (see the module docstring)."""

    lexicon: Lexicon
    allow: AllowList

    def _is_name(self, word: str) -> bool:
        key = word.casefold()
        return (
            len(key) >= _MIN_NAME
            and key in self.lexicon.names
            and key not in self.lexicon.common
            and key not in self.allow.words
        )

    def name_spans(self, text: str) -> list[Span]:
        """PERSON spans of name-list words that are not vocabulary, adjacent ones joined."""
        spans: list[Span] = []
        for match in _WORD.finditer(text):
            if not self._is_name(match.group(0)):
                continue
            start, end = match.span()
            last = spans[-1] if spans else None
            if last is not None and text[last.end : start] in (" ", "-"):
                spans[-1] = Span(last.start, end, "PERSON", CASED_SCORE)
            else:
                spans.append(Span(start, end, "PERSON", CASED_SCORE))
        return spans

    def recase(self, text: str) -> str:
        """The NER's copy: names and place-cued name-list words Title-cased, same length."""
        chars = list(text)
        after_cue = 0
        for match in _WORD.finditer(text):
            word = match.group(0)
            key = word.casefold()
            place = after_cue > 0 and key in self.lexicon.names and key not in self.allow.words
            if word.islower() and (place or self._is_name(word)):
                titled = word[0].upper()
                if len(titled) == 1:
                    chars[match.start()] = titled
            after_cue = _PLACE_WORDS if key in _PLACE_CUES else (after_cue - 1 if place else 0)
        return "".join(chars)
