"""The analyzer's shortcuts give Presidio's own answers.

A recognizer's prefilter may search a pattern's lookbehind alone (a
necessary condition of the pattern); the NLP artifacts are read from
arrays; the context enhancer copies results field by field. Each is
checked against what it replaces.
"""

from __future__ import annotations

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("presidio_analyzer")

from presidio_analyzer.nlp_engine import SpacyNlpEngine

from fical_secure.scrub.prefilter import necessary
from fical_secure.scrub.scrubber import Scrubber

LOOKBEHIND = (
    r"(?<=\b(?:acct|a/c|account)(?:\s{0,3}(?:no\.?|id)\b)?[\s:#=\"'.(]{0,6})[A-Z0-9]{3,12}\b"
)


@pytest.mark.parametrize(
    ("source", "condition"),
    [
        (LOOKBEHIND, r"\b(?:acct|a/c|account)(?:\s{0,3}(?:no\.?|id)\b)?[\s:#=\"'.(]{0,6}"),
        (r"(?<=[)(\]])\d+", r"[)(\]]"),  # brackets inside a class, an escaped one
        (r"(?<=\(x\))\d+", r"\(x\)"),  # escaped parentheses
        (r"(?<=[^]a])\d", r"[^]a]"),  # a ']' first in a class is a literal
        (r"\bMRN\d{6}\b", r"\bMRN\d{6}\b"),  # no lookbehind: the pattern itself
        (r"(?<!\w)\d{5}", r"(?<!\w)\d{5}"),  # a negative lookbehind is no condition
        (r"(?<=a", r"(?<=a"),  # unbalanced: left as is
        (r"(?<=id )\d+|MRN\d+", r"(?<=id )\d+|MRN\d+"),  # the second alternative needs no "id "
        (r"(?<=id )(?:\d+|MRN\d+)", r"id "),  # an alternation inside a group is fine
        (r"(?<=[|])\d", r"[|]"),  # a '|' in a class is no alternation
    ],
)
def test_necessary_takes_a_leading_lookbehind(source: str, condition: str) -> None:
    assert necessary(source) == condition
    assert necessary(source, verbose=True) == source  # comments could hide the structure


_PIECES = ["acct", "account", "a/c", " ", "no.", "id", ":", "#", "(", "X9", "12345", "Z", "\n"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=12))
def test_the_condition_matches_wherever_the_pattern_does(pieces: list[str]) -> None:
    text = "".join(pieces)
    for flags in (regex.I, 0):
        if regex.search(LOOKBEHIND, text, flags=flags):
            assert regex.search(necessary(LOOKBEHIND), text, flags=flags)


TEXTS = [
    "",
    " ",
    "\n\t ",
    "Patient Maria Lopez, MRN 00482913, DOB 04/07/1969, was seen at 10:30.",
    "Zoë Núñez's e-mail: zoe@example.org; it's the patient's 2nd visit :-)",
    "LOPEZ, MARIA -- aspirin 81 mg; pre-op; re: follow-up w/ Dr. O'Neil.",
    "東京 Ünïcödé 😀 text with emoji and CJK",
]


def test_array_artifacts_equal_presidios() -> None:
    engine = Scrubber.default().analyzer.nlp_engine
    nlp = engine.nlp["en"]  # type: ignore[attr-defined]
    for doc in nlp.pipe(TEXTS):
        ours = engine._doc_to_nlp_artifact(doc, "en")  # type: ignore[attr-defined]
        theirs = SpacyNlpEngine._doc_to_nlp_artifact(engine, doc, "en")  # type: ignore[arg-type]
        for name in ("tokens_indices", "lemmas", "keywords", "scores"):
            mine, presidio = getattr(ours, name), getattr(theirs, name)
            assert mine == presidio and list(map(type, mine)) == list(map(type, presidio))
        assert [(e.start, e.end, e.label_) for e in ours.entities] == [
            (e.start, e.end, e.label_) for e in theirs.entities
        ]


def test_the_enhancers_copies_give_presidios_scores_and_explanations() -> None:
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    ours = Scrubber.default().analyzer
    plain = AnalyzerEngine(
        registry=ours.registry,
        nlp_engine=ours.nlp_engine,
        context_aware_enhancer=LemmaContextAwareEnhancer(),
        supported_languages=list(ours.supported_languages),
        default_score_threshold=ours.default_score_threshold,
    )
    texts = [*TEXTS, "Call me at phone 617-555-0134; member id ABC12345678; zip code 02114."]

    def view(engine: AnalyzerEngine, text: str) -> list[tuple[object, ...]]:
        found = engine.analyze(text, language="en", return_decision_process=True)
        return sorted(
            (r.entity_type, r.start, r.end, r.score, repr(r.analysis_explanation)) for r in found
        )

    boosted = 0
    for text in texts:
        mine, theirs = view(ours, text), view(plain, text)
        assert mine == theirs
        boosted += sum("'supportive_context_word': ''" not in row[4] for row in mine)
    assert boosted > 0  # context words raised some score: the copies were changed


def test_the_enhancer_changes_copies_never_the_results_it_was_given() -> None:
    from presidio_analyzer import Pattern, PatternRecognizer

    analyzer = Scrubber.default().analyzer
    recognizer = PatternRecognizer(
        supported_entity="X", patterns=[Pattern("id", r"ABC\d{8}", 0.3)], context=["member"]
    )
    text = "member id ABC12345678"
    (raw,) = recognizer.analyze(text, ["X"])
    before = (raw.score, repr(raw.analysis_explanation), dict(raw.recognition_metadata))
    artifacts = analyzer.nlp_engine.process_text(text, "en")
    (out,) = analyzer.context_aware_enhancer.enhance_using_context(
        text, [raw], artifacts, [recognizer]
    )
    assert out.score > raw.score and out.analysis_explanation.supportive_context_word == "member"
    assert (raw.score, repr(raw.analysis_explanation), dict(raw.recognition_metadata)) == before
    assert type(out) is type(raw)
