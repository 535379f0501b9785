"""ROUGE-L by hand: LCS, precision / recall / F1, the length budget, and the mean's CI."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fical_secure.attacks.rouge import lcs_length, rouge_l, same_budget
from fical_secure.audit.metrics import bootstrap_mean_ci

LCS_CASES = [
    ("", "", 0),
    ("a b c", "", 0),
    ("a b c d", "a b c d", 4),
    ("a b c d", "a c d", 3),
    ("a b c d", "d c b a", 1),
    ("x y z", "a b c", 0),
    ("a b a b", "b a b a", 3),
    ("w1 a w2 b w3 c", "a b c", 3),  # a subsequence, not a substring
]


@pytest.mark.parametrize(("a", "b", "expected"), LCS_CASES)
def test_lcs_length_of_token_lists(a: str, b: str, expected: int) -> None:
    assert lcs_length(a.split(), b.split()) == expected
    assert lcs_length(b.split(), a.split()) == expected


def test_rouge_l_matches_lins_worked_example() -> None:
    # Lin (2004), section 3.1: S1 shares "police ... the gunman" (3 of 4), S2 "the gunman"
    reference = "police killed the gunman"
    s1, s2 = (
        rouge_l("police kill the gunman", reference),
        rouge_l("the gunman kill police", reference),
    )
    assert s1.precision == s1.recall == s1.f1 == pytest.approx(0.75)
    assert s2.f1 == pytest.approx(0.5)


def test_rouge_l_precision_and_recall_follow_the_lengths() -> None:
    score = rouge_l("MRN-1 DOB", "MRN-1 DOB 1950-01-02 SSN")
    assert score.precision == 1.0 and score.recall == 0.5
    assert score.f1 == pytest.approx(2 / 3)
    assert rouge_l("", "a b").f1 == rouge_l("a b", "").f1 == 0.0
    assert rouge_l("mrn-1", "MRN-1").f1 == 0.0  # tokens as written: no case folding


@given(
    st.lists(st.sampled_from("abcde"), max_size=12), st.lists(st.sampled_from("abcde"), max_size=12)
)
def test_rouge_l_is_symmetric_in_f1_and_bounded(a: list[str], b: list[str]) -> None:
    left, right = rouge_l(" ".join(a), " ".join(b)), rouge_l(" ".join(b), " ".join(a))
    assert left.f1 == pytest.approx(right.f1)
    assert 0.0 <= left.f1 <= 1.0
    assert (left.f1 == 1.0) == (bool(a) and a == b)


def test_reference_is_cut_to_the_candidates_length() -> None:
    reference = "MRN-7515682, DOB 1938-03-08): what was the last temperature?"
    copy = "MRN-7515682, DOB 1938-03"  # an exact copy that ran out of budget mid-word
    assert same_budget(reference, copy) == copy
    assert rouge_l(copy, same_budget(reference, copy)).f1 == 1.0
    assert same_budget(reference, "  ") == ""
    assert same_budget("short", "a much longer candidate") == "short"


def test_bootstrap_mean_ci_covers_the_mean_and_narrows_with_more_values() -> None:
    few = [0.0, 1.0] * 5
    many = [0.0, 1.0] * 200
    narrow, wide = bootstrap_mean_ci(many, seed=1), bootstrap_mean_ci(few, seed=1)
    assert wide.covers(0.5) and narrow.covers(0.5)
    assert narrow.high - narrow.low < wide.high - wide.low
    assert bootstrap_mean_ci([0.3, 0.3, 0.3]).low == pytest.approx(0.3)
    with pytest.raises(ValueError, match="at least one value"):
        bootstrap_mean_ci([])
