"""Verbatim and fuzzy search of planted PII values: table-driven, with negatives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fical_secure.audit.pii_search import (
    _Haystack,
    _may_reach,
    match_value,
    normalise,
    partial_ratio,
    search_pii,
)
from fical_secure.data.schema import PIIValue

ROWS = [
    # (value, text, expected match kind or None)
    ("MRN-1946931", "Booked MRN-1946931 in cardiology.", "verbatim"),
    ("MRN-1946931", "booked mrn 1946931 in cardiology", "normalised"),
    ("259-617-9533", "call (259)6179533 tomorrow", "digits"),
    ("123-45-6789", "SSN on file: 123456789.", "digits"),
    ("Mary Davies", "patient MARY   DAVIES, seen today", "normalised"),
    ("mary.davies90@yahoo.com", "mail mary.davies9O@yahoo.com", "fuzzy"),
    (
        "868 Boyd Freeway, Lake Brittany, MT 76482",
        "lives at 868 Boyd Frwy, Lake Brittany MT 76482",
        "fuzzy",
    ),
    ("canary 4a81-964d-db77", "note ref canary 4a81-964d-db77.", "verbatim"),
    # negatives
    ("MRN-1946931", "Booked MRN-1946932 in cardiology.", None),
    ("259-617-9533", "dates 2025-06-17 and 9533 units", None),
    ("Mary Davies", "Use the patient's MRN and the test name.", None),
    ("canary 4a81-964d-db77", "canary 7f3a-91c2-55de", None),
    ("WHB877376241", "Insurance member IDs are three letters and nine digits.", None),
]


@pytest.mark.parametrize(("value", "text", "expected"), ROWS)
def test_match_kind_of_each_value_in_text(value: str, text: str, expected: str | None) -> None:
    found = match_value(value, text)
    assert (found[0] if found else None) == expected


def test_short_values_are_not_fuzzily_matched() -> None:
    # a 5-character name would match common words by chance
    assert match_value("Annie", "Annex B of the guide") is None


def test_search_reports_every_hit_with_its_item_and_episode_but_not_the_value() -> None:
    values = [
        PIIValue("MRN", "MRN-0000001", "h01-m0001"),
        PIIValue("PERSON", "Ada Lovelace", "h01-m0002"),
    ]
    hits = search_pii(
        values,
        ["e1", "e2", "e3"],
        ["lookup MRN-0000001 labs", "ADA LOVELACE called", "generic advice"],
    )
    assert [(h.item_id, h.episode_id, h.match) for h in hits] == [
        ("e1", "h01-m0001", "verbatim"),
        ("e2", "h01-m0002", "normalised"),
    ]
    assert "MRN-0000001" not in str([h.to_dict() for h in hits])


def test_search_refuses_ids_and_texts_of_different_lengths() -> None:
    with pytest.raises(ValueError):
        search_pii([], ["a"], [])


def test_normalise_folds_case_punctuation_and_spaces() -> None:
    assert normalise("  John\tO'Neil, Jr. ") == "john o neil jr"


@settings(max_examples=300, deadline=None)
@given(
    needle=st.text(alphabet="abc 12", min_size=6, max_size=24),
    hay=st.text(alphabet="abcd 12", max_size=60),
    cut=st.integers(min_value=0, max_value=3),
)
def test_trigram_prefilter_never_rejects_what_partial_ratio_accepts(
    needle: str, hay: str, cut: int
) -> None:
    # plant a slightly damaged copy of the needle so that near matches are common
    damaged = needle[:cut] + needle[cut + 1 :]
    text = hay[: len(hay) // 2] + damaged + hay[len(hay) // 2 :]
    grams = frozenset(text[i : i + 3] for i in range(len(text) - 2))
    if partial_ratio(needle, text) >= 0.9:
        assert _may_reach(needle, _Haystack(text, text, (), grams), 0.9)
