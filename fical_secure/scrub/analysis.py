"""Run the analyzer over many texts: chunk long ones, recase names, batch spaCy.

Every text becomes one or more *units* (a window of it, possibly recased);
units of all texts go through spaCy together (``nlp.pipe``), and each unit's
spans are shifted back into offsets of its original text. Recasing keeps
lengths, so offsets stay valid: it lets the NER see "MARIA LOPEZ" as
"Maria Lopez", and (with a caller's recaser, :mod:`fical_secure.scrub.casing`)
"xiomara okafor" as "Xiomara Okafor", known blind spots of spaCy's models.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import regex  # Unicode classes (\p{Lu}): a dependency of presidio-analyzer

from fical_secure.scrub.engine import token_artifacts
from fical_secure.scrub.spans import chunk_bounds
from fical_secure.scrub.types import Span

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine

# Two or more all-caps words in a row ("MARIA LOPEZ", "LOPEZ, MARIA", "ZOË NÚÑEZ").
_CAPS_RUN = regex.compile(r"\b\p{Lu}[\p{Lu}'\-]+(?:,?[ \t]+\p{Lu}[\p{Lu}'\-]+)+\b")
# Characters of one spaCy batch (a long text's windows are analyzed a few at a time).
BATCH_CHARS = 40_000
# Margin kept below spaCy's max_length so a window never reaches it.
_SPACY_MARGIN = 16
# Characters of context kept on each side of the recased words in the recased copy: the
# NER's window and Presidio's context words (a few tokens) lie well inside it.
RECASE_MARGIN = 64


@dataclass(frozen=True)
class Unit:
    """A window ``[offset, offset + len(text))`` of document ``doc`` to analyze."""

    doc: int
    offset: int
    text: str
    recased: bool = False
    # a recased window whose only changes are identifiers upper-cased: read by the
    # recognizers that read text alone, over spaCy's tokens (no NER, no tags)
    lexical: bool = False


def recase_caps_runs(text: str) -> str:
    """Title-case every run of all-caps words, keeping the text's length.

    Returns ``text`` unchanged when there is no run, or when title-casing a run
    would change its length (some non-ASCII letters do).
    """

    def title(match: regex.Match[str]) -> str:
        run = str(match.group(0))
        titled = run.title()
        return titled if len(titled) == len(run) else run

    return str(_CAPS_RUN.sub(title, text))


def make_units(
    texts: Sequence[str],
    window: int,
    overlap: int,
    recase: Callable[[str], str] | None = None,
    regions: Sequence[Sequence[tuple[int, int]]] | None = None,
    names_only: Callable[[str], str] | None = None,
) -> list[Unit]:
    """Split each text into overlapping windows, plus the recased parts of each window.

    The copy has caps runs Title-cased, after ``recase`` (same length) where
    given; only the stretches around the words it changes are analyzed again
    (:func:`changed_windows`): elsewhere the copy is the text itself.
    ``regions`` (one list per text) limits each text to those ``[start, end)``
    stretches; without it the whole of every text is read. ``names_only``:
    ``recase`` less its upper-casing of identifiers; a recased stretch that it
    leaves as the text (only identifiers changed there) is marked ``lexical``.
    """
    units: list[Unit] = []
    for doc, text in enumerate(texts):
        for base, stop in [(0, len(text))] if regions is None else regions[doc]:
            piece = text[base:stop]
            units += _region_units(doc, base, piece, window, overlap, recase, names_only)
    return units


def _region_units(
    doc: int,
    base: int,
    text: str,
    window: int,
    overlap: int,
    recase: Callable[[str], str] | None,
    names_only: Callable[[str], str] | None = None,
) -> list[Unit]:
    """The units of ``text``, a stretch of document ``doc`` that starts at ``base`` in it."""
    units: list[Unit] = []
    for start, end in chunk_bounds(len(text), window, overlap, text):
        piece = text[start:end]
        units.append(Unit(doc, base + start, piece))
        recased = recase_caps_runs(recase(piece) if recase is not None else piece)
        if len(recased) != len(piece):
            continue
        windows = changed_windows(piece, recased, RECASE_MARGIN)
        named = recase_caps_runs(names_only(piece)) if names_only and windows else None
        for a, b in windows:
            lexical = named is not None and len(named) == len(piece) and named[a:b] == piece[a:b]
            units.append(Unit(doc, base + start + a, recased[a:b], True, lexical))
    return units


def changed_windows(text: str, changed: str, margin: int) -> list[tuple[int, int]]:
    """Windows of ``changed`` (as long as ``text``) around the characters that differ.

    Each differing character is widened by ``margin`` characters on both sides,
    then to the whitespace around (no word is cut); overlapping windows merge.
    """
    differ = [(i, i + 1) for i, (a, b) in enumerate(zip(text, changed, strict=True)) if a != b]
    return windows_around(text, differ, margin)


def windows_around(
    text: str, ranges: Sequence[tuple[int, int]], margin: int
) -> list[tuple[int, int]]:
    """Windows of ``text`` around each ``[start, end)`` of ``ranges`` (sorted by start).

    Each range is widened by ``margin`` characters on both sides, then to the
    whitespace around (no word is cut); overlapping or touching windows merge.
    """
    windows: list[tuple[int, int]] = []
    for first, last in ranges:
        start, end = max(0, first - margin), min(len(text), last + margin)
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        while end < len(text) and not text[end].isspace():
            end += 1
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
        else:
            windows.append((start, end))
    return windows


def analyze_texts(
    analyzer: AnalyzerEngine,
    texts: Sequence[str],
    *,
    language: str,
    window: int,
    overlap: int,
    batch_size: int = 32,
    n_process: int = 1,
    recase: Callable[[str], str] | None = None,
    recased_analyzer: AnalyzerEngine | None = None,
    regions: Sequence[Sequence[tuple[int, int]]] | None = None,
    names_only: Callable[[str], str] | None = None,
    lexical_analyzer: AnalyzerEngine | None = None,
) -> tuple[list[list[Span]], dict[int, str]]:
    """Detect entities in every text: spans (unresolved) per text, and the texts that failed.

    spaCy runs over batches of windows (``nlp.pipe``); when a batch fails, its
    windows are redone one by one, so one bad text fails alone. A failed
    text's reason names the exception type only (its message may quote PII).
    Recased windows go through ``recased_analyzer`` where given (the same NLP
    engine with only the recognizers that letter case can change, see
    :func:`fical_secure.scrub.engine.case_sensitive_analyzer`). Recased windows
    where only identifiers changed (``names_only``, see :func:`make_units`) go
    through ``lexical_analyzer`` where given, over spaCy's tokens alone: the
    upper-cased identifiers are for patterns written in capitals, the NER read
    the words around them in the text itself (:func:`fical_secure.scrub.engine.lexical_analyzer`).
    ``regions``: see :func:`make_units`.
    """
    recased_analyzer = recased_analyzer or analyzer
    pick = (analyzer, recased_analyzer, lexical_analyzer or recased_analyzer)
    units = make_units(texts, window, overlap, recase, regions,
                       names_only if lexical_analyzer is not None else None)  # fmt: skip
    found: list[list[Span]] = [[] for _ in texts]
    failed: dict[int, str] = {}
    for batch in _batches(units, max(1, batch_size)):
        try:
            per_unit = _analyze_units(pick, batch, language, batch_size, n_process)
        except Exception:  # redo one by one: fail only the texts that fail alone
            per_unit = []
            for unit in batch:
                try:
                    per_unit += _analyze_units(pick, [unit], language, 1, 1)
                except Exception as exc:  # fail closed on anything the analyzer raises
                    failed.setdefault(unit.doc, f"PII analyzer failed ({type(exc).__name__})")
                    per_unit.append([])
        for unit, spans in zip(batch, per_unit, strict=True):
            found[unit.doc] += [
                Span(unit.offset + s.start, unit.offset + s.end, s.type, s.score) for s in spans
            ]
    return found, failed


def _batches(units: Sequence[Unit], size: int) -> list[Sequence[Unit]]:
    """Consecutive groups of at most ``size`` units and about BATCH_CHARS characters.

    The character cap bounds memory: the spaCy docs of one batch live at once,
    whatever the length of the text they come from.
    """
    batches: list[Sequence[Unit]] = []
    begin, chars = 0, 0
    for i, unit in enumerate(units):
        if i > begin and (i - begin >= size or chars + len(unit.text) > BATCH_CHARS):
            batches.append(units[begin:i])
            begin, chars = i, 0
        chars += len(unit.text)
    if begin < len(units):
        batches.append(units[begin:])
    return batches


def _analyze_units(
    pick: tuple[AnalyzerEngine, AnalyzerEngine, AnalyzerEngine],
    units: Sequence[Unit],
    language: str,
    batch_size: int,
    n_process: int,
) -> list[list[Span]]:
    """Spans of each unit (offsets into the unit), spaCy batched over the units.

    ``pick``: the analyzers of plain windows, recased ones and lexical ones (one
    NLP engine); lexical units get spaCy's tokens only (:func:`token_artifacts`).
    """
    full = [u.text for u in units if not u.lexical]
    processed = iter(
        pick[0].nlp_engine.process_batch(full, language, batch_size=batch_size, n_process=n_process)
        if full
        else []
    )
    lexical = iter(
        token_artifacts(pick[0], [u.text for u in units if u.lexical], language, batch_size)
    )
    out: list[list[Span]] = []
    for unit in units:
        artifacts = next(lexical) if unit.lexical else next(processed)[1]
        analyzer = pick[2] if unit.lexical else pick[unit.recased]
        results = analyzer.analyze(unit.text, language=language, nlp_artifacts=artifacts)
        out.append(
            [Span(r.start, r.end, r.entity_type, r.score) for r in results if r.end > r.start]
        )
    if len(out) != len(units):
        raise RuntimeError(f"analyzer returned {len(out)} results for {len(units)} texts")
    return out


def window_size(configured: int, spacy_limit: int) -> int:
    """Largest window that is within the profile's ``chunk_chars`` and spaCy's limit."""
    return max(1, min(configured, spacy_limit - _SPACY_MARGIN))
