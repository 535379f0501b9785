"""Names and places however they are cased: "xiomara okafor", "XIOMARA", "from rose hill".

spaCy's small English model finds people and places by their capitals, so a
name typed in lower case passes it, and a name in a Title-Cased sentence is
one capital among many. Two detectors close that gap, both driven by
philter-lite's word lists (``filters/set.toml``: English and clinical words
that are not names, and first and last names; read as data, never imported):

* :meth:`Casing.name_spans`: a word that is a first or last name and neither
  an English/clinical word (philter's list, or a WordNet lemma the spaCy
  model's lemmatizer tables hold: "song", "maiden") nor allow-listed
  vocabulary is a PERSON, in any case; adjacent ones form one span
  ("xiomara okafor");
* :meth:`Casing.recase`: a copy of the text for the NER in which lower-case
  name-list words outside philter's list ("maria", "song"), and name-list
  words right after a place preposition ("from rose hill"), are Title-cased,
  so the model judges them in context as it would in careful writing. Other
  words keep their case, so the copy does not make everything a name.
"""

from __future__ import annotations

import importlib.util
import json
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import regex

from fical_secure.atomic import write_json_atomic
from fical_secure.cache import cache_root, file_digest
from fical_secure.errors import ScrubAnalyzerError
from fical_secure.scrub.types import Span
from fical_secure.scrub.vocabulary import AllowList

CASED_SCORE = 0.6
# A word of letters, not glued to digits ("SaO2" is no name "SaO").
_WORD = regex.compile(r"(?<![\p{L}\p{N}_])\p{L}+(?:['’]\p{L}+)*(?![\p{L}\p{N}_])")
_MIN_NAME = 3
# Words after which a place name often follows; the words after them may be places.
_PLACE_CUES = frozenset("from near lives live living resides resident moved".split())
# "in" and "at" open far more phrases than places ("in plain words", "at least"):
# they cue a place only right after one of the words above ("lives in rose hill").
_PLACE_LINKS = frozenset("in at".split())
_PLACE_WORDS = 3
# Tokens of letters and digits with a lower-case letter: identifiers typed in lower case.
_IDS = regex.compile(r"\b(?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[a-z])[A-Za-z0-9][A-Za-z0-9-]{4,}\b")


@dataclass(frozen=True)
class Lexicon:
    """Words that are not names, and first and last names (case-folded).

    ``common``: philter's English and clinical words; ``lemmas``: WordNet
    lemmas and their inflections, with the suffix rules to reduce a word.
    """

    common: frozenset[str]
    names: frozenset[str]
    lemmas: frozenset[str] = frozenset()
    suffixes: tuple[tuple[str, str], ...] = ()
    stop: frozenset[str] = frozenset()

    def is_word(self, key: str) -> bool:
        """Whether a case-folded word is English vocabulary (inflections reduced)."""
        if key in self.common or key in self.lemmas:
            return True
        return any(
            key.endswith(old) and key[: len(key) - len(old)] + new in self.lemmas
            for old, new in self.suffixes
        )


def _set_toml() -> Path:
    spec = importlib.util.find_spec("philter_lite")
    if spec is None or not spec.submodule_search_locations:
        raise ScrubAnalyzerError(
            "the scrubber needs philter-lite's word lists: "
            "pip install --no-deps philter-lite==0.6.0 (make setup does)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "filters" / "set.toml"


def _wordnet(nlp: Any) -> tuple[frozenset[str], tuple[tuple[str, str], ...]]:
    """WordNet lemmas, exceptions and suffix rules of a spaCy pipeline's lemmatizer tables."""
    if nlp is None or "lemmatizer" not in nlp.component_names:
        return frozenset(), ()
    lookups = nlp.get_pipe("lemmatizer").lookups
    words: set[str] = set()
    rules: set[tuple[str, str]] = set()
    for name, add in (("lemma_index", False), ("lemma_exc", True)):
        if lookups.has_table(name):
            table = lookups.get_table(name)
            for pos in table.keys():
                words.update(table[pos].keys() if add else table[pos])
    if lookups.has_table("lemma_rules"):
        table = lookups.get_table("lemma_rules")
        rules = {(old, new) for pos in table.keys() for old, new in table[pos] if old}
    return frozenset(w.casefold() for w in words), tuple(sorted(rules))


LISTS = ("nonames", "firstnames", "lastnames")  # the parts of set.toml the scrubber reads


def _read_lists(path: Path, cache: Path | None) -> dict[str, list[str]]:
    """set.toml's word lists, parsed once per machine: Python's TOML parser takes
    about a second on its 5.5 MB, the JSON copy (named after the file's hash)
    well under a tenth of that. An unreadable copy is parsed again and replaced.

    Raises:
        OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError:
            the file itself cannot be read as the lists.
    """
    copy = (cache or cache_root()) / "lexicons" / f"philter-set-{file_digest(path)[:16]}.json"
    try:
        data = json.loads(copy.read_text(encoding="utf-8"))
        if isinstance(data, dict) and all(
            isinstance(data.get(k), list) and all(isinstance(w, str) for w in data[k])
            for k in LISTS
        ):
            return {k: data[k] for k in LISTS}
    except (OSError, UnicodeDecodeError, ValueError):
        pass
    parsed = tomllib.loads(path.read_text(encoding="utf-8"))
    lists = {k: list(parsed[k]) for k in LISTS}
    try:
        write_json_atomic(copy, lists)
    except OSError:
        pass  # a read-only home: the lists still come back, parsed each time
    return lists


@lru_cache(maxsize=4)
def load_lexicon(nlp: Any = None) -> Lexicon:
    """The word lists, read once per process (and per spaCy pipeline ``nlp``).

    Raises:
        ScrubAnalyzerError: philter-lite is not installed or its lists are unreadable.
    """
    path = _set_toml()
    try:
        data = _read_lists(path, None)
        common = frozenset(w.casefold() for w in data["nonames"] if w)
        names = frozenset(w.casefold() for w in (*data["firstnames"], *data["lastnames"]) if w)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise ScrubAnalyzerError(f"cannot read the word lists in {path} ({exc})") from exc
    lemmas, suffixes = _wordnet(nlp)
    stop = frozenset(getattr(getattr(nlp, "Defaults", None), "stop_words", ()))
    return Lexicon(common, names, lemmas, suffixes, stop)


@dataclass(frozen=True)
class Casing:
    """Case-independent name detection over one allow-list (see the module docstring)."""

    lexicon: Lexicon
    allow: AllowList

    def _may_be_name(self, key: str) -> bool:
        return (
            len(key) >= _MIN_NAME
            and key in self.lexicon.names
            and key not in self.lexicon.common
            and key not in self.allow.words
        )

    def _runs(self, text: str) -> list[tuple[int, int, int, bool]]:
        """Runs of adjacent name-list words: (start, end, words, any of them not English)."""
        runs: list[tuple[int, int, int, bool]] = []
        for match in _WORD.finditer(text):
            key = match.group(0).casefold()
            if not self._may_be_name(key):
                continue
            strong = not self.lexicon.is_word(key)
            last = runs[-1] if runs else None
            if last is not None and text[last[1] : match.start()] in (" ", "-"):
                runs[-1] = (last[0], match.end(), last[2] + 1, last[3] or strong)
            else:
                runs.append((match.start(), match.end(), 1, strong))
        return runs

    def name_spans(self, text: str) -> list[Span]:
        """PERSON spans of name runs that hold a name-list word outside English vocabulary."""
        return [Span(s, e, "PERSON", CASED_SCORE) for s, e, _, strong in self._runs(text) if strong]

    def _upper_id(self, match: regex.Match[str]) -> str:
        token = str(match.group(0))
        return token if token.casefold() in self.allow.words else token.upper()

    def recase(self, text: str) -> str:
        """The NER's copy, same length: names and place-cued words Title-cased, ids upper-cased.

        A name run is recased when it holds a word outside English vocabulary
        or two name-list words ("maria lopez"), not a lone word ("song").
        Tokens of letters and digits with a lower-case letter ("gb55wadd1350...")
        are upper-cased, so identifier patterns written in capitals match them.
        """
        return self._recase(text, ids=True)

    def recase_names(self, text: str) -> str:
        """:meth:`recase` without the identifiers: only names and place-cued words changed."""
        return self._recase(text, ids=False)

    def _recase(self, text: str, *, ids: bool) -> str:
        chars = list(_IDS.sub(self._upper_id, text)) if ids else list(text)
        if len(chars) != len(text):
            chars = list(text)
        for start, end, words, strong in self._runs(text):
            if strong or words >= 2:
                _title(chars, text, start, end)
        after_cue = 0
        for match in _WORD.finditer(text):
            key = match.group(0).casefold()
            place = (
                after_cue > 0
                and key in self.lexicon.names
                and key not in self.lexicon.stop
                and key not in self.allow.words
            )
            if place:
                _title(chars, text, match.start(), match.end())
            if key in _PLACE_CUES or (key in _PLACE_LINKS and after_cue == _PLACE_WORDS):
                after_cue = _PLACE_WORDS
            else:
                after_cue = after_cue - 1 if place else 0
        return "".join(chars)


def _title(chars: list[str], text: str, start: int, end: int) -> None:
    """Capitalise each lower-case word of ``text[start:end]`` in ``chars`` (lengths kept)."""
    for match in _WORD.finditer(text, start, end):
        word = match.group(0)
        if word.islower() and len(word[0].upper()) == 1:
            chars[match.start()] = word[0].upper()
