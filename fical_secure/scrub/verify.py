"""Checks after masking: no detected value left, and what a scan finds outside our placeholders.

Light (no Presidio): the rules that decide whether a masked text may be
released are tested without the analyzer.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from itertools import accumulate

from fical_secure.errors import ResidualPIIError
from fical_secure.scrub.spans import NER_TYPES, placeholder_ranges
from fical_secure.scrub.types import Span

_WORD = re.compile(r"[^\W\d_]{2,}")


def placeholder(entity_type: str) -> str:
    """The typed placeholder that replaces an entity, e.g. ``<MRN>``."""
    return f"<{entity_type}>"


def uncovered(found: list[Span], masked: list[Span]) -> list[Span]:
    """The detected spans not wholly inside the masked ones (empty when masking was right).

    ``masked`` is what resolution and propagation made of ``found``; an empty
    answer is what lets the scan after masking skip the text far from any
    placeholder: nothing detected there was left unmasked.
    """
    ordered = sorted(masked, key=lambda m: m.start)
    starts = [m.start for m in ordered]
    reach = list(accumulate((m.end for m in ordered), max))  # furthest end so far
    missed = []
    for span in found:
        at = bisect_right(starts, span.start) - 1
        if at < 0 or reach[at] < span.end:
            missed.append(span)
    return missed


def check_values_gone(text: str, spans: list[Span], blanked: str) -> None:
    """Raise unless no detected value still occurs in the scrubbed text as a whole word.

    ``blanked`` is the scrubbed text with our placeholders blanked: a detected
    "Date" must not match inside the ``<DATE>`` we wrote.
    """
    values = {text[s.start : s.end].strip(): s.type for s in spans}
    values = {v: t for v, t in values.items() if len(v) >= 2}
    if not values:
        return
    alternation = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    pattern = re.compile(r"(?<!\w)(?:" + alternation + r")(?!\w)", re.IGNORECASE)
    if pattern.search(blanked):
        raise ResidualPIIError("a detected value is still present after anonymizing")


def blank_placeholders(scrubbed: str, spans: list[Span]) -> str:
    """The scrubbed text with our placeholders (by position) turned into underscores.

    The verification scan must not read ``<PHONE_NUMBER>`` as context that
    boosts a nearby number, nor skip a look-alike ``<JOHN>`` that was in the
    input: only the placeholders we wrote are blanked, and they hold no PII.
    """
    chars = list(scrubbed)
    for start, end in placeholder_ranges(spans, placeholder):
        chars[start:end] = "_" * (end - start)
    return "".join(chars)


def residual(blanked: str, spans: list[Span]) -> list[Span]:
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
