"""Presidio's phone recognizer with its per-candidate work remembered: same results, less time.

Presidio's ``PhoneRecognizer`` runs python-phonenumbers' ``PhoneNumberMatcher``
once per region (eight by default), and the matcher parses and validates
every digit group of the text ("9.3", "4-11", "MRN-3511450") for each region:
the scrubber's costliest recognizer. The scrubber analyzes the same digit
groups many times (the text, its recased copy, the scan after masking, the
same lab ranges in every record), so the outcome of each candidate is
remembered.

Exactness: the matcher's ``_extract_match(candidate, offset)`` reads the text
outside ``candidate`` through three answers only: whether the character
before it is a Latin letter or an invalid punctuation symbol (none at the
text's start), the same of the character after it (none at the text's end),
and whether the text after it opens with a time-stamp suffix ``:MM``; besides
these it reads the region, the leniency and the number of tries left. A
remembered outcome is keyed by the candidate, those three answers, the region
and the leniency, and replayed only when at least as many tries are left as
it consumed, so every match is the one the plain matcher gives
(``tests/test_scrub_phone.py`` compares the two). Keying by the answers, not
the characters, lets "9.3" before " x10^9/L" and before " g/dL" share one.
The memory holds candidate strings (possibly phone numbers): the scrubber
clears it after each batch (:meth:`MemoPhoneRecognizer.forget`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberMatch
from phonenumbers.phonenumbermatcher import _TIME_STAMPS_SUFFIX, PhoneNumberMatcher
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

# Characters after a candidate that the time-stamp suffix check reads (":[0-5]\d").
_AFTER = 3
# Entries kept before the memory is emptied (a bound on memory, not on correctness).
MEMO_ENTRIES = 200_000
_Key = tuple[str | None, int, int, str, int, bool]
# Each character's answer to the matcher's letter / punctuation check (at most every code point).
_EDGES: dict[str, int] = {}


@dataclass(frozen=True)
class _Outcome:
    """What ``_extract_match`` gave for one key: the tries it used and the match, if any."""

    tries: int
    shift: int = 0
    raw: str = ""
    number: PhoneNumber | None = None


class _MemoMatcher(PhoneNumberMatcher):
    """``PhoneNumberMatcher`` whose candidate outcomes are looked up in a shared memory."""

    def __init__(self, text: str, region: str, leniency: int, memo: dict[_Key, _Outcome]) -> None:
        super().__init__(text, region, leniency=leniency)
        self._memo = memo

    def _edge(self, index: int) -> int:
        """What the matcher asks of the character at ``index``: -1 outside the text, else
        whether it is a Latin letter or an invalid punctuation symbol (1) or not (0)."""
        if index < 0 or index >= len(self.text):
            return -1
        char = self.text[index]
        known = _EDGES.get(char)
        if known is None:  # a property of the character alone
            bad = self._is_invalid_punctuation_symbol(char) or self._is_latin_letter(char)
            known = _EDGES[char] = int(bool(bad))
        return known

    def _extract_match(self, candidate: str, offset: int) -> PhoneNumberMatch | None:
        end = offset + len(candidate)
        stamp = _TIME_STAMPS_SUFFIX.match(self.text[end : end + _AFTER]) is not None
        key = (self.preferred_region, int(self.leniency), self._edge(offset - 1), candidate,
               self._edge(end), stamp)  # fmt: skip
        known = self._memo.get(key)
        if known is not None and self._max_tries > known.tries:
            self._max_tries -= known.tries
            if known.number is None:
                return None
            return PhoneNumberMatch(offset + known.shift, known.raw, copy.copy(known.number))
        tries = self._max_tries
        match: PhoneNumberMatch | None = super()._extract_match(candidate, offset)
        if self._max_tries > 0:  # no try limit was reached: the outcome is the candidate's own
            if len(self._memo) >= MEMO_ENTRIES:
                self._memo.clear()
            used = tries - self._max_tries
            self._memo[key] = (
                _Outcome(used)
                if match is None
                else _Outcome(used, match.start - offset, match.raw_string, copy.copy(match.number))
            )
        return match


class MemoPhoneRecognizer(PhoneRecognizer):
    """``PhoneRecognizer`` (same regions, leniency, score, context) with a candidate memory."""

    # Letter case changes none of its matches: the matcher's candidate pattern is
    # compiled IGNORECASE and holds digits, punctuation and extension words; its checks
    # of the letters around a candidate read Unicode categories and blocks; parsing maps
    # letters through their upper case; context words are lowercase lemmas. So a copy of
    # a text that differs only in case need not be read again (``engine._case_blind``;
    # ``tests/test_scrub_phone.py`` compares the matches in four casings).
    CASE_BLIND: ClassVar[bool] = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._memo: dict[_Key, _Outcome] = {}
        # phonenumbers compiles its metadata patterns on each use; eight regions' worth
        # overflow the re module's cache, so they are recompiled without end. Its own
        # switch keeps every compiled pattern (the metadata bounds them).
        enable = getattr(phonenumbers, "enable_pattern_cache", None)
        if enable is not None:
            enable()

    def forget(self) -> None:
        """Empty the memory (it holds digit strings of the texts analyzed)."""
        self._memo.clear()

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        """Phone numbers of every supported region, as Presidio's ``PhoneRecognizer`` finds them."""
        if self.leniency is None:
            raise ValueError("Need a leniency value")
        results: list[RecognizerResult] = []
        for region in self.supported_regions:
            for match in _MemoMatcher(text, region, self.leniency, self._memo):
                try:
                    found = phonenumbers.region_code_for_number(
                        phonenumbers.parse(text[match.start : match.end])
                    )
                except NumberParseException:
                    found = region
                result = self._get_recognizer_result(  # type: ignore[no-untyped-call]
                    match, text, found, nlp_artifacts
                )
                results.append(result)
        deduplicated: list[RecognizerResult] = EntityRecognizer.remove_duplicates(results)
        return deduplicated
