"""Run the analyzer over many texts: chunk long ones, recase all-caps names, batch spaCy.

Every text becomes one or more *units* (a window of it, possibly recased);
units of all texts go through spaCy together (``nlp.pipe``), and each unit's
spans are shifted back into offsets of its original text. Recasing keeps
lengths, so offsets stay valid: it lets the NER see "MARIA LOPEZ" as
"Maria Lopez", a known blind spot of Presidio's spaCy models.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fical_secure.errors import ScrubAnalyzerError
from fical_secure.scrub.spans import chunk_bounds
from fical_secure.scrub.types import Span

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine

# Two or more all-caps words in a row ("MARIA LOPEZ", "LOPEZ, MARIA").
_CAPS_RUN = re.compile(r"\b[A-Z][A-Z'\-]+(?:,?[ \t]+[A-Z][A-Z'\-]+)+\b")
# Margin kept below spaCy's max_length so a window never reaches it.
_SPACY_MARGIN = 16


@dataclass(frozen=True)
class Unit:
    """A window ``[offset, offset + len(text))`` of document ``doc`` to analyze."""

    doc: int
    offset: int
    text: str


def recase_caps_runs(text: str) -> str:
    """Title-case every run of all-caps words, keeping the text's length.

    Returns ``text`` unchanged when there is no run, or when title-casing a run
    would change its length (some non-ASCII letters do).
    """

    def title(match: re.Match[str]) -> str:
        run = match.group(0)
        titled = run.title()
        return titled if len(titled) == len(run) else run

    return _CAPS_RUN.sub(title, text)


def make_units(texts: Sequence[str], window: int, overlap: int) -> list[Unit]:
    """Split each text into overlapping windows, plus a recased copy of windows with caps runs."""
    units: list[Unit] = []
    for doc, text in enumerate(texts):
        for start, end in chunk_bounds(len(text), window, overlap, text):
            piece = text[start:end]
            units.append(Unit(doc, start, piece))
            recased = recase_caps_runs(piece)
            if recased != piece:
                units.append(Unit(doc, start, recased))
    return units


def analyze_texts(
    analyzer: AnalyzerEngine,
    texts: Sequence[str],
    *,
    language: str,
    window: int,
    overlap: int,
    batch_size: int = 32,
    n_process: int = 1,
) -> list[list[Span]]:
    """Detect entities in every text; spans (unresolved) index each original text.

    Raises:
        ScrubAnalyzerError: the analyzer or spaCy failed in any way (fail closed:
            the caller must release nothing).
    """
    from presidio_analyzer import BatchAnalyzerEngine

    units = make_units(texts, window, overlap)
    found: list[list[Span]] = [[] for _ in texts]
    try:
        batch = BatchAnalyzerEngine(analyzer_engine=analyzer)
        per_unit = batch.analyze_iterator(
            [u.text for u in units], language=language, batch_size=batch_size, n_process=n_process
        )
        if len(per_unit) != len(units):
            raise RuntimeError(f"analyzer returned {len(per_unit)} results for {len(units)} texts")
        for unit, results in zip(units, per_unit, strict=True):
            for r in results:
                if r.end > r.start:
                    found[unit.doc].append(
                        Span(
                            unit.offset + r.start,
                            unit.offset + r.end,
                            r.entity_type,
                            float(r.score),
                        )
                    )
    except ScrubAnalyzerError:
        raise
    except Exception as exc:  # fail closed on anything the analyzer raises
        raise ScrubAnalyzerError(
            f"PII analyzer failed ({type(exc).__name__}); nothing was released"
        ) from exc
    return found


def window_size(configured: int, spacy_limit: int) -> int:
    """Largest window that is within the profile's ``chunk_chars`` and spaCy's limit."""
    return max(1, min(configured, spacy_limit - _SPACY_MARGIN))
