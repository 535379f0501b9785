"""Signal (e): verbatim and fuzzy search of planted PII values in a released artefact.

Every ground-truth value (the generator's manifest, or a hospital's own list
of identifiers) is looked for in every artefact item, strongest match first:

* ``verbatim``: the exact value is a substring of the item;
* ``normalised``: equal after case-folding, dropping punctuation and
  collapsing whitespace (``"Smith, John"`` style reformatting is not caught
  here, but ``"MRN 1234567"`` for ``"MRN-1234567"`` is);
* ``digits``: for number-like values (>= 6 digits), the digit string appears
  in the digits of one number written in the item (``(555) 010-2030`` for ``555-010-2030``);
* ``fuzzy`` (values that are not number-like: names, e-mails, addresses):
  the best partial similarity ratio (difflib, the fuzzywuzzy
  "partial ratio" algorithm) of the normalised value against an equally long
  window of the normalised item reaches ``fuzzy_threshold``.

The search is deliberately over-inclusive: the gate drops any item with a hit,
and a false positive only costs one compendium entry.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from fical_secure.data.schema import PIIValue
from fical_secure.jsontypes import JsonObject

MatchKind = Literal["verbatim", "normalised", "digits", "fuzzy"]
DEFAULT_FUZZY_THRESHOLD = 0.9
MIN_FUZZY_CHARS = 6  # shorter values (a first name) match too much text by chance
MIN_DIGITS = 6
_PUNCT = re.compile(r"[^\w\s]|_")
_SPACE = re.compile(r"\s+")
_NON_DIGIT = re.compile(r"\D")
# a number as people write it: digits with separators in between, ``(555) 010-2030``
_NUMBER = re.compile(r"\d(?:[\s\-().\/]*\d)*")
_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class PIIHit:
    """One planted value found in one artefact item."""

    kind: str
    episode_id: str
    item_id: str
    match: MatchKind
    ratio: float  # 1.0 for exact kinds of match
    excerpt: str = ""  # the item around the hit, every value found in it masked as [KIND]

    def to_dict(self) -> JsonObject:
        # the value itself stays out of reports (they may travel further than the data):
        # the excerpt shows where it sits, masked
        return {
            "kind": self.kind,
            "episode_id": self.episode_id,
            "item_id": self.item_id,
            "match": self.match,
            "ratio": round(self.ratio, 4),
            "excerpt": self.excerpt,
        }


def normalise(text: str) -> str:
    """Case-fold, replace punctuation by spaces and collapse whitespace."""
    return _SPACE.sub(" ", _PUNCT.sub(" ", text.casefold())).strip()


def digits_only(text: str) -> str:
    return _NON_DIGIT.sub("", text)


def partial_ratio(needle: str, haystack: str) -> float:
    """Best :class:`difflib.SequenceMatcher` ratio of ``needle`` against windows of ``haystack``.

    Windows are anchored on the matching blocks of the two strings (the
    fuzzywuzzy algorithm), so the cost is a few ratio computations per hit
    rather than one per position.
    """
    if not needle or not haystack:
        return 0.0
    if len(needle) > len(haystack):
        needle, haystack = haystack, needle
    if needle in haystack:
        return 1.0
    best = 0.0
    blocks = SequenceMatcher(None, needle, haystack, autojunk=False).get_matching_blocks()
    for block in blocks:
        start = max(0, block.b - block.a)
        window = haystack[start : start + len(needle)]
        ratio = SequenceMatcher(None, needle, window, autojunk=False).ratio()
        best = max(best, ratio)
        if best == 1.0:
            break
    return best


@dataclass(frozen=True)
class _Haystack:
    """An item prepared once for many searches."""

    raw: str
    norm: str
    numbers: tuple[str, ...]  # digits of each number written in the item
    trigrams: frozenset[str]

    @classmethod
    def of(cls, text: str) -> _Haystack:
        norm = normalise(text)
        numbers = tuple(digits_only(m) for m in _NUMBER.findall(text))
        return cls(text, norm, numbers, frozenset(_trigrams(norm)))


def _trigrams(text: str) -> set[str]:
    return {text[i : i + 3] for i in range(len(text) - 2)}


def _may_reach(needle: str, hay: _Haystack, threshold: float) -> bool:
    """Cheap necessary condition for ``partial_ratio >= threshold`` (the q-gram lemma).

    A window (at most ``n`` long) with ``ratio = 2M / (n + w) >= t`` differs
    from the needle by ``n + w - 2M <= floor(2 (1 - t) n)`` single-character
    insertions or deletions, each of which destroys at most 3 of the needle's
    trigrams; the rest must occur in the item.
    """
    edits = math.floor(2.0 * (1.0 - threshold) * len(needle) + 1e-9)
    needed = len(needle) - 2 - 3 * edits
    if needed <= 0:
        return True
    shared = sum(needle[i : i + 3] in hay.trigrams for i in range(len(needle) - 2))
    return shared >= needed


def _match(value: str, hay: _Haystack, fuzzy_threshold: float) -> tuple[MatchKind, float] | None:
    if value and value in hay.raw:
        return "verbatim", 1.0
    norm_value = normalise(value)
    if norm_value and norm_value in hay.norm:
        return "normalised", 1.0
    value_digits = digits_only(value)
    number_like = len(value_digits) >= 0.5 * len(norm_value.replace(" ", ""))
    if len(value_digits) >= MIN_DIGITS and number_like:
        if any(value_digits in number for number in hay.numbers):
            return "digits", 1.0
        return None  # one digit off is another patient's identifier, not a near copy
    if len(norm_value) >= MIN_FUZZY_CHARS and _may_reach(norm_value, hay, fuzzy_threshold):
        ratio = partial_ratio(norm_value, hay.norm)
        if ratio >= fuzzy_threshold:
            return "fuzzy", ratio
    return None


def match_value(
    value: str, item_text: str, *, fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD
) -> tuple[MatchKind, float] | None:
    """The strongest match of ``value`` in ``item_text``, or ``None``."""
    return _match(value, _Haystack.of(item_text), fuzzy_threshold)


def search_pii(
    values: Iterable[PIIValue],
    item_ids: Sequence[str],
    item_texts: Sequence[str],
    *,
    fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD,
) -> list[PIIHit]:
    """Every (value, item) pair with a match, sorted by item then episode.

    Raises:
        ValueError: ``item_ids`` and ``item_texts`` differ in length.
    """
    if len(item_ids) != len(item_texts):
        raise ValueError("item_ids and item_texts must have the same length")
    hays = [_Haystack.of(text) for text in item_texts]
    found_in: dict[int, list[tuple[PIIValue, MatchKind, float]]] = {}
    for pii in values:
        for index, hay in enumerate(hays):
            found = _match(pii.value, hay, fuzzy_threshold)
            if found is not None:
                found_in.setdefault(index, []).append((pii, found[0], found[1]))
    hits: list[PIIHit] = []
    for index, found_here in found_in.items():
        excerpt = masked_excerpt(item_texts[index], [(p.value, p.kind) for p, _, _ in found_here])
        for pii, kind, ratio in found_here:
            hits.append(PIIHit(pii.kind, pii.episode_id, item_ids[index], kind, ratio, excerpt))
    hits.sort(key=lambda h: (h.item_id, h.episode_id, h.kind))
    return hits


def _mask_one(text: str, value: str, tag: str) -> str:
    if value and value in text:
        return text.replace(value, tag)
    digits = digits_only(value)
    if len(digits) >= MIN_DIGITS:
        text = _NUMBER.sub(lambda m: tag if digits in digits_only(m.group()) else m.group(), text)
    tokens = {t for t in normalise(value).split() if len(t) >= 3}
    if tokens:
        text = _TOKEN.sub(lambda m: tag if m.group().casefold() in tokens else m.group(), text)
    return text


def masked_excerpt(text: str, values: Sequence[tuple[str, str]], width: int = 160) -> str:
    """``text`` around its first hit, each ``(value, kind)`` masked as ``[KIND]``.

    Values that are not found verbatim are masked by their digits (numbers) or
    their words (names, addresses), so a reformatted value is masked too; any
    other long number is masked as ``[NUMBER]``, in case it is another identifier.
    """
    masked = text
    for value, kind in sorted(values, key=lambda v: -len(v[0])):
        masked = _mask_one(masked, value, f"[{kind}]")
    masked = _NUMBER.sub(
        lambda m: "[NUMBER]" if len(digits_only(m.group())) >= MIN_DIGITS else m.group(), masked
    )
    first = min((i for i in (masked.find(f"[{k}]") for _, k in values) if i >= 0), default=0)
    start = max(0, first - width // 2)
    piece = masked[start : start + width]
    return ("..." if start else "") + piece + ("..." if start + width < len(masked) else "")


def search_text(
    values: Iterable[PIIValue], text: str, *, fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD
) -> list[PIIHit]:
    """Search one free text (e.g. a model's generation); hits carry item id ``"text"``."""
    return search_pii(values, ["text"], [text], fuzzy_threshold=fuzzy_threshold)
