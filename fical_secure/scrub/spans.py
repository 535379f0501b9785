"""Pure span algebra of the scrubber: chunking, overlap resolution, propagation.

Kept free of Presidio so the rules that decide what gets masked can be tested
fast and exhaustively. Every function works in offsets of the original text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from fical_secure.scrub.types import Span

# Honorifics and particles that a PERSON span may contain but that identify nobody.
_NAME_PART_STOPWORDS = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "miss",
        "dr",
        "prof",
        "sir",
        "the",
        "and",
        "van",
        "von",
        "der",
        "del",
        "de",
        "la",
        "le",
        "jr",
        "sr",
        "md",
        "rn",
        "phd",
        "patient",
    }
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


# Entity types that come from free-text NER rather than from a structured pattern.
NER_TYPES = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION", "DATE_TIME"})


def _rank(span: Span) -> tuple[bool, int, float, str]:
    """Winner order in a cluster: a structured (pattern) type, then longest, then best score.

    NER spans often swallow a neighbour ("ID LVF316498552" as PERSON); the
    pattern that matched the id itself names the type better.
    """
    return (span.type not in NER_TYPES, span.length, span.score, span.type)


def resolve_overlaps(spans: Iterable[Span]) -> list[Span]:
    """Merge every cluster of overlapping spans into one span, sorted by start.

    A cluster's span covers the union of its members (so no detected character
    is left unmasked and none is replaced twice); it takes the type and score of
    the winning member: structured types beat NER types, then the longest, then
    the highest score wins.
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


def _occurrences(text: str, values: Iterable[str]) -> Iterable[tuple[str, int, int]]:
    """Case-insensitive occurrences of any of ``values`` not glued to other word characters.

    One alternation (longest first) scans the text once, whatever the number of values.
    """
    ordered = sorted(set(values), key=len, reverse=True)
    if not ordered:
        return
    alternation = "|".join(re.escape(v) for v in ordered)
    pattern = re.compile(r"(?<!\w)(?:" + alternation + r")(?!\w)", re.IGNORECASE | re.UNICODE)
    for match in pattern.finditer(text):
        yield match.group(0).lower(), match.start(), match.end()


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
        Span(start=start, end=end, type=values[key].type, score=values[key].score)
        for key, start, end in _occurrences(text, values)
        if key in values
    ]
    return found + extra


def replace_spans(text: str, spans: list[Span], token: Callable[[str], str]) -> str:
    """``text`` with each span (sorted, non-overlapping) replaced by ``token(span.type)``."""
    pieces: list[str] = []
    cursor = 0
    for span in spans:
        pieces += [text[cursor : span.start], token(span.type)]
        cursor = span.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def to_original(spans: list[Span], token: Callable[[str], str], found: Span) -> Span:
    """Map ``found`` (offsets into the text ``replace_spans`` made) back to original offsets.

    An end that falls inside a placeholder extends to the end of the span that
    placeholder replaced, a start to its start, so the mapped span covers
    everything the found one touched.
    """
    start, end = found.start, found.end
    delta = 0  # scrubbed offset minus original offset, left of the current placeholder
    new_start: int | None = None
    new_end: int | None = None
    for span in spans:
        p_start = span.start + delta
        p_end = p_start + len(token(span.type))
        if new_start is None and start < p_end:
            new_start = span.start if start >= p_start else start - delta
        if new_end is None and end <= p_end:
            new_end = span.end if end > p_start else end - delta
        delta = p_end - span.end
    new_start = start - delta if new_start is None else new_start
    new_end = end - delta if new_end is None else new_end
    return Span(start=new_start, end=new_end, type=found.type, score=found.score)


def placeholder_ranges(spans: list[Span], token: Callable[[str], str]) -> list[tuple[int, int]]:
    """Where each span's placeholder lies in the text ``replace_spans`` made."""
    ranges: list[tuple[int, int]] = []
    delta = 0
    for span in spans:
        start = span.start + delta
        end = start + len(token(span.type))
        ranges.append((start, end))
        delta = end - span.end
    return ranges
