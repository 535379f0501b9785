"""Person names the small spaCy model misses or mislabels.

``en_core_web_sm`` often tags "Krista Bradley" as ORG or WORK_OF_ART, or not at
all ("Done for Danielle Daniel."), so Presidio's NER recognizer drops it. This
recognizer reads the same spaCy parse Presidio already made (no second NLP
pass) and reports as PERSON: entities of other labels shaped like a name, runs
of 2-3 name-shaped proper nouns, and capitalised words after an honorific.
Words that are clinical or organisational vocabulary never count as a name.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar

from presidio_analyzer import LocalRecognizer, RecognizerResult

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts
    from spacy.tokens import Doc


class PersonNameHeuristicRecognizer(LocalRecognizer):
    """PERSON from mislabelled NER entities, proper-noun runs and honorifics."""

    ENTITY: ClassVar[str] = "PERSON"
    READS_NLP: ClassVar[bool] = True  # spaCy's entities and tags, not the text alone
    MISLABELLED: ClassVar[frozenset[str]] = frozenset(
        {"ORG", "WORK_OF_ART", "PRODUCT", "NORP", "EVENT", "LAW", "FAC"}
    )
    NAME_TOKEN: ClassVar[re.Pattern[str]] = re.compile(
        r"^[A-Z][a-z]+(?:['-][A-Z]?[a-z]+)*$|^[A-Z]'[A-Z][a-z]+$"
    )
    HONORIFIC: ClassVar[re.Pattern[str]] = re.compile(
        r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?\s+((?:[A-Z][a-z'-]+\s+){0,2}[A-Z][a-z'-]+)"
    )
    NOT_NAME_WORDS: ClassVar[frozenset[str]] = frozenset(
        """hospital clinic medical center centre general university regional community department
        health care healthcare pharmacy insurance plan member patient doctor nurse physician
        type stage result results answer user call order unspecified acute chronic left right
        ward unit service services lab labs laboratory emergency surgery cardiology oncology
        neurology orthopedics dermatology endocrinology radiology pediatrics icu
        monday tuesday wednesday thursday friday saturday sunday january february march
        july september october november december north south east west
        street avenue road drive lane boulevard court suite apt please thanks thank need check
        book schedule pull find show give what which when where who how can could would should
        done here ref note portal cpt icd mrn dob ssn bmi egfr""".split()
    )
    SCORE_MISLABELLED: ClassVar[float] = 0.6
    SCORE_PROPN_RUN: ClassVar[float] = 0.5
    SCORE_HONORIFIC: ClassVar[float] = 0.7

    def __init__(self, context: list[str] | None = None, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=[self.ENTITY],
            name=type(self).__name__,
            supported_language=supported_language,
            context=context,
        )

    def load(self) -> None:
        """Nothing to load: the recognizer reuses Presidio's spaCy parse."""

    def _name_like(self, words: list[str]) -> bool:
        return 2 <= len(words) <= 4 and all(
            self.NAME_TOKEN.match(w) and w.lower() not in self.NOT_NAME_WORDS for w in words
        )

    def _result(self, start: int, end: int, score: float) -> RecognizerResult:
        return RecognizerResult(
            self.ENTITY,
            start,
            end,
            score,
            recognition_metadata={
                RecognizerResult.RECOGNIZER_NAME_KEY: type(self).__name__,
                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
            },
        )

    def _propn_runs(self, doc: Doc) -> list[list[tuple[int, str]]]:
        """Runs of 2-3 name-shaped proper nouns, each token as (offset, text); read from
        arrays (texts through the string store), no Token objects."""
        from spacy.attrs import IDX, ORTH, POS
        from spacy.parts_of_speech import PROPN

        strings = doc.vocab.strings
        runs: list[list[tuple[int, str]]] = []
        run: list[tuple[int, str]] = []
        rows = doc.to_array([POS, IDX, ORTH]).tolist() if len(doc) else []
        for pos, idx, orth in [*rows, (None, 0, None)]:
            word = strings[orth] if orth is not None else ""
            if pos == PROPN and self.NAME_TOKEN.match(word):
                run.append((idx, word))
                continue
            if 2 <= len(run) <= 3:
                runs.append(run)
            run = []
        return runs

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """Name-shaped spans of the parse and after honorifics, as PERSON results."""
        if self.ENTITY not in entities:
            return []
        results = [
            self._result(m.start(1), m.end(1), self.SCORE_HONORIFIC)
            for m in self.HONORIFIC.finditer(text)
            if m.group(1).split()[0].lower() not in self.NOT_NAME_WORDS
        ]
        if nlp_artifacts is None or nlp_artifacts.tokens is None:
            return results
        doc = nlp_artifacts.tokens
        for ent in doc.ents:
            if ent.label_ in self.MISLABELLED and self._name_like([t.text for t in ent]):
                results.append(self._result(ent.start_char, ent.end_char, self.SCORE_MISLABELLED))
        for run in self._propn_runs(doc):
            if self._name_like([word for _, word in run]):
                end = run[-1][0] + len(run[-1][1])
                results.append(self._result(run[0][0], end, self.SCORE_PROPN_RUN))
        return results


def may_hold_name_run(doc: Doc) -> bool:
    """Whether two adjacent tokens are name-shaped: the proper-noun rule needs tags only then."""
    from spacy.attrs import ORTH

    shaped = PersonNameHeuristicRecognizer.NAME_TOKEN.match
    strings = doc.vocab.strings
    previous = False
    for orth in doc.to_array(ORTH).tolist() if len(doc) else []:  # no Token objects
        current = shaped(strings[orth]) is not None
        if current and previous:
            return True
        previous = current
    return False
