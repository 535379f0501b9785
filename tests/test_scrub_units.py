"""Units the analyzer reads: windows of each text, and the recased stretches of each window."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("regex")

from fical_secure.scrub.analysis import changed_windows, make_units, windows_around
from fical_secure.scrub.engine import case_sensitive_analyzer, lexical_analyzer
from fical_secure.scrub.scrubber import Scrubber

CHANGED_WINDOWS: list[tuple[str, str, int, list[tuple[int, int]]]] = [
    ("abc def", "abc def", 2, []),
    ("seen by maria lopez today", "seen by Maria Lopez today", 2, [(5, 19)]),
    ("aaaa bbbb cccc dddd eeee ffff", "aaaa Bbbb cccc dddd eeee Ffff", 1, [(0, 9), (20, 29)]),
    ("aaaa bbbb cccc dddd eeee ffff", "aaaa Bbbb cccc dddd eeee Ffff", 12, [(0, 29)]),
    ("x", "X", 64, [(0, 1)]),
]


@pytest.mark.parametrize(("text", "changed", "margin", "expected"), CHANGED_WINDOWS)
def test_windows_cover_each_change_with_whole_words(
    text: str, changed: str, margin: int, expected: list[tuple[int, int]]
) -> None:
    windows = changed_windows(text, changed, margin)
    assert windows == expected
    for start, end in windows:
        assert start == 0 or text[start - 1].isspace()
        assert end == len(text) or text[end].isspace()
    covered = {i for start, end in windows for i in range(start, end)}
    assert all(i in covered for i, (a, b) in enumerate(zip(text, changed, strict=True)) if a != b)


def test_recased_units_are_the_copy_around_the_recased_words() -> None:
    text = "Glucose 5.4 mmol/L, reviewed. " * 5 + "Patient xiomara okafor called."
    units = make_units([text], 10_000, 100, lambda t: t.replace("xiomara okafor", "Xiomara Okafor"))
    assert (units[0].offset, units[0].text) == (0, text)
    (recased,) = units[1:]
    assert "Xiomara Okafor" in recased.text and len(recased.text) < len(text)
    assert text[recased.offset : recased.offset + len(recased.text)].lower() == recased.text.lower()


def test_recased_windows_skip_only_case_blind_pattern_recognizers() -> None:
    pytest.importorskip("presidio_analyzer")
    analyzer = Scrubber.default().analyzer
    cased = case_sensitive_analyzer(analyzer)
    assert case_sensitive_analyzer(analyzer) is cased and cased.nlp_engine is analyzer.nlp_engine
    names = {type(r).__name__ for r in cased.registry.recognizers}
    # The NER, the name rules, case-sensitive patterns, own validators.
    assert {"SpacyRecognizer", "PersonNameHeuristicRecognizer",
            "NameShapeRecognizer", "IbanRecognizer", "CreditCardRecognizer"} <= names  # fmt: skip
    skipped = {type(r).__name__ for r in analyzer.registry.recognizers} - names
    assert "MedicalRecordNumberRecognizer" in skipped and "UrlRecognizer" in skipped
    assert "MemoPhoneRecognizer" in skipped  # declared case-blind (tests/test_scrub_phone.py)
    text = "mrn-0042137 see https://example.org/x, call 425-555-0100 ext 42"
    for name in skipped:
        recognizer: Any = next(r for r in analyzer.registry.recognizers if type(r).__name__ == name)
        found = {(r.start, r.end) for r in recognizer.analyze(text, recognizer.supported_entities)}
        upper = {
            (r.start, r.end)
            for r in recognizer.analyze(text.upper(), recognizer.supported_entities)
        }
        assert found == upper, name


def test_windows_around_ranges_keep_whole_words_and_merge() -> None:
    text = "aaaa bbbb cccc dddd eeee ffff"
    assert windows_around(text, [], 3) == []
    assert windows_around(text, [(5, 9)], 0) == [(5, 9)]
    assert windows_around(text, [(6, 7)], 1) == [(5, 9)]
    assert windows_around(text, [(6, 7)], 2) == [(0, 9)]  # "aaaa" reached: the word joins
    assert windows_around(text, [(5, 9), (20, 24)], 1) == [(0, 14), (15, 29)]
    assert windows_around(text, [(5, 9), (20, 24)], 6) == [(0, 29)]


def test_regions_limit_the_units_to_those_stretches_at_their_offsets() -> None:
    text = "Seen today. " * 20 + "maria lopez called. " + "Seen today. " * 20
    regions = [[(0, 24), (240, 260)]]
    units = make_units([text], 10_000, 100, lambda t: t.replace("maria lopez", "Maria Lopez"),
                       regions)  # fmt: skip
    plain = [u for u in units if not u.recased]
    assert [(u.offset, u.text) for u in plain] == [(0, text[0:24]), (240, text[240:260])]
    (recased,) = [u for u in units if u.recased]
    assert recased.text.startswith("Maria Lopez") and recased.offset == 240
    assert make_units([text], 10_000, 100, None, [[]]) == []


def test_windows_where_only_identifiers_changed_are_lexical() -> None:
    pytest.importorskip("presidio_analyzer")
    casing = Scrubber.default().casing
    text = (
        "Glucose 5.4 mmol/L, reviewed today. " * 4
        + "Member gqo615441229 on file. "
        + "Sodium 139 mmol/L, reviewed today. " * 4
        + "Seen with xiomara okafor and member hwh908545362."
    )
    units = make_units([text], 10_000, 100, casing.recase, None, casing.recase_names)
    recased = [u for u in units if u.recased]
    (ids,) = [u for u in recased if u.lexical]
    (named,) = [u for u in recased if not u.lexical]
    assert "GQO615441229" in ids.text and "okafor" not in ids.text.lower()
    # a window with a recased name stays a full one, its identifiers upper-cased as before
    assert "Xiomara Okafor" in named.text and "HWH908545362" in named.text
    # without names_only nothing is lexical: the same windows as before
    plain = make_units([text], 10_000, 100, casing.recase)
    assert [(u.offset, u.text) for u in plain] == [(u.offset, u.text) for u in units]
    assert not any(u.lexical for u in plain)


def test_the_lexical_analyzer_keeps_recognizers_that_read_the_text_alone() -> None:
    pytest.importorskip("presidio_analyzer")
    analyzer = Scrubber.default().analyzer
    lexical = lexical_analyzer(analyzer)
    assert lexical_analyzer(analyzer) is lexical and lexical.nlp_engine is analyzer.nlp_engine
    names = {type(r).__name__ for r in lexical.registry.recognizers}
    cased = {type(r).__name__ for r in case_sensitive_analyzer(analyzer).registry.recognizers}
    assert cased - names == {"SpacyRecognizer", "PersonNameHeuristicRecognizer"}


def test_token_artifacts_equal_the_full_pipelines_tokens_and_lemmas() -> None:
    pytest.importorskip("presidio_analyzer")
    from fical_secure.scrub.engine import token_artifacts

    analyzer = Scrubber.default().analyzer
    texts = ["Seen by Maria Lopez, MRN-0042137, at 5 East.", "", "  x  ", "Zoë Núñez 😀 called"]
    lexical = token_artifacts(analyzer, texts, "en", 2)
    full = [a for _, a in analyzer.nlp_engine.process_batch(texts, "en", batch_size=2)]
    for ours, theirs in zip(lexical, full, strict=True):
        assert ours.tokens_indices == theirs.tokens_indices
        assert ours.lemmas == theirs.lemmas and ours.keywords == theirs.keywords
        assert ours.entities == []
    assert full[0].entities  # the full pipeline found something the token pass does not read


def test_an_identifier_typed_in_title_case_is_still_masked() -> None:
    pytest.importorskip("presidio_analyzer")
    scrubber = Scrubber.default()
    text = "Please Look Up Results For Him. Her Plan Id Is Gqo615441229. Send It Today."
    (result,) = scrubber.scrub_batch([text])
    assert "615441229" not in result.scrubbed and "Gqo" not in result.scrubbed
