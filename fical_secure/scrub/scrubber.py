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
from fical_secure.scrub.spans import propagate, resolve_overlaps
from fical_secure.scrub.types import ScrubResult, Span

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine

PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*>")


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
        self._anonymizer = AnonymizerEngine()

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

    def analyze(self, texts: Sequence[str], *, batch_size: int = 32, n_process: int = 1) -> list[list[Span]]:
        """Detected spans of each text, overlaps resolved, offsets into that text.

        Raises:
            ScrubAnalyzerError: the analyzer failed.
        """
        window = window_size(self.profile.chunk_chars, spacy_max_length(self.analyzer, self.profile.language))
        overlap = min(self.profile.overlap_chars, window // 4)
        raw = analyze_texts(
            self.analyzer, texts, language=self.profile.language, window=window, overlap=overlap,
            batch_size=batch_size, n_process=n_process,
        )
        return [resolve_overlaps(spans) for spans in raw]

    def scrub(self, text: str) -> ScrubResult:
        """Scrub one text. See :meth:`scrub_batch` for what raises."""
        return self.scrub_batch([text])[0]

    def scrub_batch(self, texts: Sequence[str], *, batch_size: int = 32, n_process: int = 1) -> list[ScrubResult]:
        """Scrub many texts, batching spaCy across them; all or nothing.

        Raises:
            ScrubAnalyzerError: the analyzer failed on any text.
            ResidualPIIError: PII was found again in some scrubbed text.
        """
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str")
        first = self.analyze(texts, batch_size=batch_size, n_process=n_process)
        final = [resolve_overlaps(propagate(text, spans)) for text, spans in zip(texts, first, strict=True)]
        scrubbed = [self._anonymize(text, spans) for text, spans in zip(texts, final, strict=True)]
        for i, (text, spans, out) in enumerate(zip(texts, final, scrubbed, strict=True)):
            _check_values_gone(i, text, spans, out)
        second = self.analyze(scrubbed, batch_size=batch_size, n_process=n_process)
        for i, (out, spans) in enumerate(zip(scrubbed, second, strict=True)):
            _check_no_residual(i, out, spans)
        return [ScrubResult(scrubbed=out, entities=spans) for out, spans in zip(scrubbed, final, strict=True)]

    def _anonymize(self, text: str, spans: list[Span]) -> str:
        """Replace each (non-overlapping) span by its typed placeholder, via Presidio."""
        if not spans:
            return text
        from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

        results = [RecognizerResult(s.type, s.start, s.end, s.score) for s in spans]
        operators: dict[str, Any] = {
            s.type: OperatorConfig("replace", {"new_value": placeholder(s.type)}) for s in spans
        }
        try:
            out: str = self._anonymizer.anonymize(text=text, analyzer_results=results, operators=operators).text
        except Exception as exc:  # fail closed: a failed anonymizer releases nothing
            raise ScrubAnalyzerError(f"PII anonymizer failed ({type(exc).__name__}); nothing was released") from exc
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


def _check_no_residual(index: int, scrubbed: str, spans: list[Span]) -> None:
    """Raise if the second scan found anything but our placeholders."""
    masked = PLACEHOLDER.sub(lambda m: " " * len(m.group(0)), scrubbed)
    leftovers = [s for s in spans if any(ch.isalnum() for ch in masked[s.start : s.end])]
    if leftovers:
        kinds = sorted({s.type for s in leftovers})
        raise ResidualPIIError(
            f"text {index}: second scan found {len(leftovers)} span(s) of {', '.join(kinds)} "
            "after anonymizing; nothing was released (review the profile or the text)"
        )
