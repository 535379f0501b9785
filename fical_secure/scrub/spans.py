"""Pure span algebra of the scrubber: chunking, overlap resolution, propagation.

Kept free of Presidio so the rules that decide what gets masked can be tested
fast and exhaustively. Every function works in offsets of the original text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from fical_secure.scrub.types import Span

# Honorifics and particles that a PERSON span may contain but that identify nobody.
_NAME_PART_STOPWORDS = frozenset(
    {"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "the", "and", "van", "von", "der", "del",
     "de", "la", "le", "jr", "sr", "md", "rn", "phd", "patient"}
)
_NAME_PART = re.compile(r"[^\W\d_][\w'\-]*", re.UNICODE)


def chunk_bounds(length: int, size: int, overlap: int, text: str = "") -> list[tuple[int, int]]:
    """Split ``[0, length)`` into windows of at most ``size`` chars overlapping by ``overlap``.

    When ``text`` is given, each cut moves back to the last whitespace in the
    window's final ``overlap // 2`` characters so a token is rarely cut; an
    entity straddling a cut still lies whole in the next window as long as it is
    shorter than the overlap.

    Raises:
        ValueError: if ``overlap`` is negative or not smaller than ``size // 2``.
    """
    if overlap < 0 or size <= 2 * overlap:
        raise ValueError(f"need 0 <= overlap < size / 2, got size={size}, overlap={overlap}")
    bounds: list[tuple[int, int]] = []
    start = 0
    while True:
        end = min(start + size, length)
        if end < length and text:
            floor = end - overlap // 2
            cut = max(text.rfind(" ", floor, end), text.rfind("\n", floor, end))
            if cut > floor:
                end = cut
        bounds.append((start, end))
        if end >= length:
            return bounds
        start = end - overlap


def _rank(span: Span) -> tuple[int, float, str]:
    """Winner order inside a cluster of overlapping spans: longest, then best score."""
    return (span.length, span.score, span.type)


def resolve_overlaps(spans: Iterable[Span]) -> list[Span]:
    """Merge every cluster of overlapping spans into one span, sorted by start.

    A cluster's span covers the union of its members (so no detected character
    is left unmasked and none is replaced twice); it takes the type and score of
    the member that is longest, then highest scoring.
    """
    ordered = sorted(spans, key=lambda s: (s.start, -s.end))
    merged: list[Span] = []
    cluster: list[Span] = []
    cluster_end = -1
    for span in ordered:
        if cluster and span.start >= cluster_end:
            merged.append(_merge(cluster))
            cluster = []
        if not cluster:
            cluster_end = span.end
        cluster.append(span)
        cluster_end = max(cluster_end, span.end)
    if cluster:
        merged.append(_merge(cluster))
    return merged


def _merge(cluster: list[Span]) -> Span:
    winner = max(cluster, key=_rank)
    start = min(s.start for s in cluster)
    end = max(s.end for s in cluster)
    return Span(start=start, end=end, type=winner.type, score=winner.score)


def _occurrences(text: str, value: str) -> Iterable[tuple[int, int]]:
    """Case-insensitive occurrences of ``value`` not glued to other word characters."""
    pattern = re.compile(r"(?<!\w)" + re.escape(value) + r"(?!\w)", re.IGNORECASE | re.UNICODE)
    for match in pattern.finditer(text):
        yield match.start(), match.end()


def _name_parts(value: str) -> list[str]:
    return [
        part
        for part in _NAME_PART.findall(value)
        if len(part) >= 3 and part.lower().strip(".") not in _NAME_PART_STOPWORDS
    ]


def propagate(text: str, spans: Iterable[Span], min_length: int = 2) -> list[Span]:
    """Add a span for every other occurrence of each detected value (exact or any case).

    Detectors are context sensitive: "Maria Lopez" may be caught after "Patient"
    but missed in "LOPEZ, MARIA" three lines later. Masking every occurrence of
    a value once it is known closes that gap. For PERSON values each name part
    (3+ letters, not an honorific) is propagated too, so a later bare surname is
    masked. Returns the input spans plus the new ones (not yet resolved).
    """
    found = list(spans)
    values: dict[str, Span] = {}
    for span in found:
        value = text[span.start : span.end].strip()
        candidates = [value]
        if span.type == "PERSON":
            candidates += _name_parts(value)
        for candidate in candidates:
            key = candidate.lower()
            if len(candidate) >= min_length and key not in values:
                values[key] = span
    extra = [
        Span(start=start, end=end, type=source.type, score=source.score)
        for key, source in values.items()
        for start, end in _occurrences(text, key)
    ]
    return found + extra
