"""Tagging only docs with adjacent name-shaped tokens changes no name the rule finds."""

from __future__ import annotations

import pytest

pytest.importorskip("presidio_analyzer")

from presidio_analyzer.nlp_engine import NlpArtifacts

from fical_secure.scrub.engine import NAME_TAGS
from fical_secure.scrub.recognizers.names import PersonNameHeuristicRecognizer, may_hold_name_run
from fical_secure.scrub.scrubber import Scrubber

TEXTS = [
    "Done for Danielle Daniel.",
    "Krista Bradley called about her results.",
    "Seen by Dr. Amir Haddad on the ward; Patient Xiomara Okafor stable.",
    "Request spine X-ray for Melanie Taylor (MRN-5671793), routine priority.",
    "metformin 500 mg twice daily, eGFR 1.73 m2.",
    "Call Lopez tomorrow.",
    "New York Presbyterian admitted Maria.",
    "",
]


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return Scrubber.default()


def found(nlp: object, text: str) -> list[tuple[int, int, float]]:
    doc = nlp(text)  # type: ignore[operator]
    artifacts = NlpArtifacts(
        entities=list(doc.ents), tokens=doc, tokens_indices=[t.idx for t in doc],
        lemmas=[t.lemma_ for t in doc], nlp_engine=None, language="en",
    )  # fmt: skip
    results = PersonNameHeuristicRecognizer().analyze(text, ["PERSON"], artifacts)
    return sorted((r.start, r.end, r.score) for r in results)


def test_gated_tagging_finds_the_names_full_tagging_finds(scrubber: Scrubber) -> None:
    nlp = scrubber.analyzer.nlp_engine.nlp["en"]  # type: ignore[attr-defined]
    assert NAME_TAGS in nlp.pipe_names and "tagger" not in nlp.pipe_names
    gated = [found(nlp, t) for t in TEXTS]
    with nlp.select_pipes(disable=[NAME_TAGS]):
        nlp.enable_pipe("tok2vec")
        nlp.enable_pipe("tagger")
        nlp.enable_pipe("attribute_ruler")
        try:
            full = [found(nlp, t) for t in TEXTS]
        finally:
            for name in ("tok2vec", "tagger", "attribute_ruler"):
                nlp.disable_pipe(name)
    assert gated == full
    assert any(full), "the table must hold proper-noun runs"


def test_docs_are_tagged_only_where_a_name_run_may_be(scrubber: Scrubber) -> None:
    nlp = scrubber.analyzer.nlp_engine.nlp["en"]  # type: ignore[attr-defined]
    tagged, plain = nlp("Krista Bradley called."), nlp("metformin 500 mg, eGFR 1.73.")
    assert may_hold_name_run(tagged) and tagged[0].pos_ == "PROPN"
    assert not may_hold_name_run(plain) and all(t.pos_ == "" for t in plain)
    docs = list(nlp.pipe(["Krista Bradley called.", "no names here", "call Lopez."]))
    assert [d[0].pos_ != "" for d in docs] == [True, False, False]
