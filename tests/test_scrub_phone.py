"""The remembering phone recognizer finds exactly what Presidio's PhoneRecognizer finds."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

pytest.importorskip("presidio_analyzer")

from phonenumbers import PhoneNumberMatcher
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from fical_secure.scrub import phone as phone_module
from fical_secure.scrub.phone import MemoPhoneRecognizer, _MemoMatcher

TEXTS = [
    "Call 425-555-0100 or (212) 555-0199 after 5pm.",
    "She called from 541-462-7437. Insurance member ID HWH908545362.",
    "WBC 9.3 x10^9/L, ref 4-11; hemoglobin 15.9 g/dL, ref 12-17.5; platelets 202 x10^9/L.",
    "MRN-3511450 seen 2069-04-07 12:30; pager 617 555 0123 ext. 42",
    "abc8005001234 and 8005001234def are not numbers; +44 20 7946 0958 is.",
    "+49 30 901820, 030 901820 and +1 (415) 555-2671 x302",
    "Between 2019-03-01 14:45 and 10:30 nothing; 1-800-FLOWERS is vanity.",
    "425-555-0100",
    "425-555-0100 then 425-555-0100 again, 4255550100, 425.555.0100!",
    "",
]


def spans(recognizer: PhoneRecognizer, text: str) -> list[tuple[int, int, str, float]]:
    found = recognizer.analyze(text, ["PHONE_NUMBER"])
    return sorted((r.start, r.end, r.entity_type, r.score) for r in found)


def test_remembered_outcomes_give_the_same_spans_as_presidio() -> None:
    plain, memo = PhoneRecognizer(), MemoPhoneRecognizer()
    expected = [spans(plain, t) for t in TEXTS]
    assert any(expected), "the table must hold phone numbers"
    for _ in range(2):  # the second round is served from the memory
        assert [spans(memo, t) for t in TEXTS] == expected
    assert memo._memo
    # the same candidates in other surroundings: the memory must not leak a match across
    shifted = ["x" + t for t in TEXTS] + [t.replace(" ", "a") for t in TEXTS]
    assert [spans(memo, t) for t in shifted] == [spans(plain, t) for t in shifted]


def test_forget_empties_the_memory() -> None:
    memo = MemoPhoneRecognizer()
    spans(memo, TEXTS[0])
    assert memo._memo
    memo.forget()
    assert not memo._memo


def test_an_outcome_is_replayed_only_with_enough_tries_left() -> None:
    memory: dict = {}  # type: ignore[type-arg]
    text = "ref 4-11; 12-17.5; 150-400; then 425-555-0100"
    first = [(m.start, m.end) for m in _MemoMatcher(text, "US", 1, memory)]
    assert first == [(33, 45)] and memory
    for tries in (1, 2, 3, 4, 5, 50):
        few = _MemoMatcher(text, "US", 1, memory)
        few._max_tries = tries
        plain = PhoneNumberMatcher(text, "US", leniency=1, max_tries=tries)
        assert [(m.start, m.end) for m in few] == [(m.start, m.end) for m in plain]
    assert not list(PhoneNumberMatcher(text, "US", leniency=1, max_tries=2))


def test_a_full_memory_is_emptied_not_grown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(phone_module, "MEMO_ENTRIES", 3)
    memo = MemoPhoneRecognizer()
    spans(memo, TEXTS[2])
    assert len(memo._memo) <= 3


def test_letter_case_changes_no_phone_match() -> None:
    """What lets the recased copies skip the phone matcher (``MemoPhoneRecognizer.CASE_BLIND``).

    Checked against Presidio's own recognizer (no memory) on the table, the
    i2b2-format notes nobody here wrote, and the presidio-evaluator templates.
    """
    from benchmarks.scrub_corpora import i2b2_corpus, template_corpus

    texts = TEXTS + [d.text for d in i2b2_corpus()] + [d.text for d in template_corpus(300, seed=7)]
    texts += ["Ext. 42 at 425-555-0100 EXT 42, x42; Tel:+1-800-FLOWERS; ß 212-555-0199 ẞ"]
    plain = PhoneRecognizer()
    found = 0
    for text in texts:
        expected = [(s, e) for s, e, _, _ in spans(plain, text)]
        found += len(expected)
        for recased in (text.upper(), text.lower(), text.title(), text.swapcase()):
            if len(recased) == len(text):  # the scrubber's copies keep lengths
                assert [(s, e) for s, e, _, _ in spans(plain, recased)] == expected, text[:60]
    assert found > 30


PIECES = ["425-555-0100", "4255550100", "(212) 555-0199", "+44 20 7946 0958", "9.3", "4-11",
          "12:30", ":45", "x", "ab", "é", "%", "€", "$", " ", "-", ".", "/", "(", ")", "ext. 42",
          "2019-03-01", "030 901820", "1-800-FLOWERS", "\n"]  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example([["on 2019-03-01 14 ok"], ["on 2019-03-01 14:45 ok"]])  # a time stamp, then not
@example([["call 4255550100 ok"], ["callx4255550100 ok"], ["call 4255550100%"]])
@given(st.lists(st.lists(st.sampled_from(PIECES), min_size=1, max_size=12), min_size=1, max_size=6))
def test_one_memory_across_surroundings_gives_presidios_spans(texts: list[list[str]]) -> None:
    """The same candidates between letters, currency, %, time-stamp suffixes, text ends."""
    memo, plain = MemoPhoneRecognizer(), PhoneRecognizer()
    joined = ["".join(t) for t in texts]
    for _ in range(2):
        assert [spans(memo, t) for t in joined] == [spans(plain, t) for t in joined]
