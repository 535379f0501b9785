"""Tagging only docs with adjacent name-shaped tokens changes no name the rule finds."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("presidio_analyzer")

from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en import English

from fical_secure.scrub.recognizers.names import PersonNameHeuristicRecognizer, may_hold_name_run
from fical_secure.scrub.scrubber import Scrubber
from fical_secure.scrub.spacy_pipes import NAME_TAGS, RulerPos

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


def test_ruler_pos_equals_the_attribute_rulers_pos(scrubber: Scrubber) -> None:
    nlp = scrubber.analyzer.nlp_engine.nlp["en"]  # type: ignore[attr-defined]
    table = RulerPos.build(nlp.get_pipe("attribute_ruler"))
    assert table is not None, "the packaged model's POS rules are all single-token equalities"
    texts = TEXTS + [t.lower() for t in TEXTS] + [t.title() for t in TEXTS]
    texts += ["I am not sure it is, but he'd have done it.", "  \n\nWhether or not; 's"]
    with nlp.select_pipes(disable=[NAME_TAGS]):
        for name in ("tok2vec", "tagger"):
            nlp.enable_pipe(name)
        try:
            tagged = list(nlp.pipe(texts))
            nlp.enable_pipe("attribute_ruler")
            full = list(nlp.pipe(texts))
        finally:
            for name in ("tok2vec", "tagger", "attribute_ruler"):
                nlp.disable_pipe(name)
    for doc in tagged:
        table.set_pos(doc)
    assert [[t.pos_ for t in d] for d in tagged] == [[t.pos_ for t in d] for d in full]
    assert any(t.pos_ == "PROPN" for d in full for t in d)


def test_a_ruler_with_rules_the_table_cannot_read_is_refused(scrubber: Scrubber) -> None:
    ruler: Any = English().add_pipe("attribute_ruler")
    ruler.add([[{"TAG": "NNP"}]], {"POS": "PROPN"})
    assert RulerPos.build(ruler) is not None
    ruler.add([[{"LOWER": {"REGEX": "^dr"}}]], {"POS": "PROPN"})
    assert RulerPos.build(ruler) is None
