"""The PII scrubber: analyze, resolve, propagate, anonymize, scan again; fail closed.

Steps for each text:

1. analyze (long texts in overlapping windows, all-caps runs also recased);
2. resolve overlapping spans (each cluster becomes one span, so no character
   is replaced twice and none is left half-masked);
3. mark every other occurrence of each found value (any case), resolve again;
4. anonymize with typed placeholders (``<PERSON>``, ``<MRN>``...) through
   Presidio's anonymizer;
5. check that no found value survives, and analyze the result again: anything
   found outside our placeholders raises :class:`ResidualPIIError`.

Any analyzer exception raises :class:`ScrubAnalyzerError`. Neither error
carries the text or a detected value in its message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fical_secure.errors import ResidualPIIError, ScrubAnalyzerError
from fical_secure.scrub.analysis import analyze_texts, window_size
from fical_secure.scrub.config import ScrubProfile, load_profile
from fical_secure.scrub.engine import build_analyzer, spacy_max_length
from fical_secure.scrub.spans import (
    NER_TYPES,
    placeholder_ranges,
    propagate,
    replace_spans,
    resolve_overlaps,
    to_original,
)
from fical_secure.scrub.types import ScrubResult, Span

_WORD = re.compile(r"[^\W\d_]{2,}")

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine


def placeholder(entity_type: str) -> str:
    """The typed placeholder that replaces an entity, e.g. ``<MRN>``."""
    return f"<{entity_type}>"


class Scrubber:
    """Presidio-based PII scrubber that fails closed. Build once, reuse (building takes seconds)."""

    _default: Scrubber | None = None

    def __init__(self, analyzer: AnalyzerEngine, profile: ScrubProfile) -> None:
        from presidio_anonymizer import AnonymizerEngine

        self.analyzer = analyzer
        self.profile = profile
        self._anonymizer = AnonymizerEngine()  # type: ignore[no-untyped-call]

    @classmethod
    def from_profile(cls, path: str | Path | None = None) -> Scrubber:
        """Build a scrubber from a YAML profile (the packaged default when ``path`` is None).

        Raises:
            ConfigError: the profile is invalid (checked before anything is built).
            ScrubAnalyzerError: the analyzer cannot be built.
        """
        profile = load_profile(path)
        return cls(build_analyzer(profile), profile)

    @classmethod
    def default(cls) -> Scrubber:
        """The process-wide scrubber of the packaged profile, built on first use."""
        if cls._default is None:
            cls._default = cls.from_profile()
        return cls._default

    def analyze(
        self, texts: Sequence[str], *, batch_size: int = 32, n_process: int = 1
    ) -> list[list[Span]]:
        """Detected spans of each text, overlaps resolved, offsets into that text.

        Raises:
            ScrubAnalyzerError: the analyzer failed.
        """
        window = window_size(
            self.profile.chunk_chars, spacy_max_length(self.analyzer, self.profile.language)
        )
        overlap = min(self.profile.overlap_chars, window // 4)
        raw = analyze_texts(
            self.analyzer,
            texts,
            language=self.profile.language,
            window=window,
            overlap=overlap,
            batch_size=batch_size,
            n_process=n_process,
        )
        return [resolve_overlaps(spans) for spans in raw]

    def scrub(self, text: str) -> ScrubResult:
        """Scrub one text. See :meth:`scrub_batch` for what raises."""
        return self.scrub_batch([text])[0]

    def scrub_batch(
        self, texts: Sequence[str], *, batch_size: int = 32, n_process: int = 1
    ) -> list[ScrubResult]:
        """Scrub many texts, batching spaCy across them; all or nothing.

        Raises:
            ScrubAnalyzerError: the analyzer or anonymizer failed on any text.
            ResidualPIIError: after ``mask_passes`` passes PII is still found in
                some scrubbed text.
        """
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str")
        found = self.analyze(texts, batch_size=batch_size, n_process=n_process)
        final: list[list[Span]] = [[] for _ in texts]
        scrubbed: list[str] = list(texts)
        todo = list(range(len(texts)))
        for pass_no in range(1, self.profile.mask_passes + 1):
            for i in todo:
                final[i] = resolve_overlaps(propagate(texts[i], found[i]))
                scrubbed[i] = self._anonymize(texts[i], final[i])
                _check_values_gone(i, texts[i], final[i], scrubbed[i])
            blanked = {i: _blank_placeholders(scrubbed[i], final[i]) for i in todo}
            scans = self.analyze(
                [scrubbed[i] for i in todo], batch_size=batch_size, n_process=n_process
            )
            residual = {i: _residual(blanked[i], scan) for i, scan in zip(todo, scans, strict=True)}
            todo = [i for i in todo if residual[i]]
            if todo and pass_no == self.profile.mask_passes:
                i = todo[0]
                kinds = sorted({s.type for s in residual[i]})
                raise ResidualPIIError(
                    f"text {i}: the scan after masking found {len(residual[i])} span(s) of "
                    f"{', '.join(kinds)}; nothing was released (review the profile or the text)"
                )
            for i in todo:
                found[i] = final[i] + [to_original(final[i], placeholder, r) for r in residual[i]]
        return [
            ScrubResult(scrubbed=out, entities=spans)
            for out, spans in zip(scrubbed, final, strict=True)
        ]

    def _anonymize(self, text: str, spans: list[Span]) -> str:
        """Replace each (non-overlapping) span by its typed placeholder, via Presidio.

        Presidio's output is checked against the same replacement done here, so
        the offsets reported and mapped later are exact.

        Raises:
            ScrubAnalyzerError: the anonymizer failed or disagreed.
        """
        if not spans:
            return text
        from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

        results = [RecognizerResult(s.type, s.start, s.end, s.score) for s in spans]
        operators: dict[str, Any] = {
            s.type: OperatorConfig("replace", {"new_value": placeholder(s.type)}) for s in spans
        }
        try:
            out: str = self._anonymizer.anonymize(
                text=text,
                analyzer_results=results,
                operators=operators,
                merge_entities_with_spaces=False,
            ).text
        except Exception as exc:  # fail closed: a failed anonymizer releases nothing
            raise ScrubAnalyzerError(
                f"PII anonymizer failed ({type(exc).__name__}); nothing was released"
            ) from exc
        if out != replace_spans(text, spans, placeholder):
            raise ScrubAnalyzerError(
                "PII anonymizer output disagrees with the resolved spans; nothing was released"
            )
        return out


def _check_values_gone(index: int, text: str, spans: list[Span], scrubbed: str) -> None:
    """Raise unless no detected value still occurs in the scrubbed text as a whole word."""
    for span in spans:
        value = text[span.start : span.end].strip()
        if len(value) < 2:
            continue
        pattern = re.compile(r"(?<!\w)" + re.escape(value) + r"(?!\w)", re.IGNORECASE)
        if pattern.search(scrubbed):
            raise ResidualPIIError(
                f"text {index}: a detected {span.type} value is still present after anonymizing; "
                "nothing was released"
            )


def _blank_placeholders(scrubbed: str, spans: list[Span]) -> str:
    """The scrubbed text with our placeholders (by position) turned into underscores.

    The verification scan must not read ``<PHONE_NUMBER>`` as context that
    boosts a nearby number, nor skip a look-alike ``<JOHN>`` that was in the
    input: only the placeholders we wrote are blanked, and they hold no PII.
    """
    chars = list(scrubbed)
    for start, end in placeholder_ranges(spans, placeholder):
        chars[start:end] = "_" * (end - start)
    return "".join(chars)


def _residual(blanked: str, spans: list[Span]) -> list[Span]:
    """Spans of the verification scan that cover text we did not write.

    A pattern detection counts if it covers any letter or digit. An NER
    detection counts only if it covers a capitalised word ("Lopez", "LOPEZ"):
    the statistical model also tags fragments such as "dL" once its context
    has been masked, and refusing on those would block clean texts.
    """
    residual = []
    for span in spans:
        covered = blanked[span.start : span.end]
        if span.type in NER_TYPES:
            if any(word[0].isupper() for word in _WORD.findall(covered)):
                residual.append(span)
        elif any(ch.isalnum() for ch in covered):
            residual.append(span)
    return residual
