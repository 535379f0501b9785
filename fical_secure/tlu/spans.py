"""Candidate argument values drawn from a request's own text.

A weak model copies badly but chooses tolerably, so free-text arguments are
decoded among candidates: verbatim spans of the request (quoted phrases first,
then word n-grams with their edge punctuation trimmed), numbers written in
digits or words, clock times normalised to ``HH:MM`` and dates to ISO
(:func:`fical_secure.tlu.args.dates_in`). Nothing here knows a tool.
"""

from __future__ import annotations

import re

from fical_secure.tlu.args import dates_in

MAX_SPAN_WORDS = 6
MAX_SPANS = 400
NUMBER_WORDS: dict[str, int] = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve".split()
    )
} | {"single": 1, "couple": 2, "pair": 2, "twice": 2, "dozen": 12, "twenty": 20, "thirty": 30}
_EDGE = "\"'`.,;:!?()[]{}<>"
_QUOTED = re.compile(r"""["'`\u2018\u201c]([^"'`\u2019\u201d]{1,120})["'`\u2019\u201d]""")
_DIGITS = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]*\d)")
_CLOCK = re.compile(
    r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?(?![\w:])(?!\s*(?:%|percent))", re.I
)


def spans(request: str, max_words: int = MAX_SPAN_WORDS) -> list[str]:
    """Quoted phrases, then every run of 1..``max_words`` words, edges trimmed, deduplicated."""
    found = [m.group(1).strip() for m in _QUOTED.finditer(request)]
    words = request.split()
    for size in range(1, max_words + 1):
        for start in range(len(words) - size + 1):
            found.append(" ".join(words[start : start + size]).strip(_EDGE))
            found.append(" ".join(words[start : start + size]).rstrip(_EDGE))
    kept = [s for s in dict.fromkeys(found) if s]
    return kept[:MAX_SPANS]


def numbers(request: str) -> list[int | float]:
    """Numbers the request writes in digits or (small ones) in words, in order of appearance."""
    hits: list[tuple[int, int | float]] = []
    for m in _DIGITS.finditer(request):
        text = m.group(0)
        hits.append((m.start(), float(text) if "." in text else int(text)))
    for m in re.finditer(r"[a-z]+", request.lower()):
        if m.group(0) in NUMBER_WORDS:
            hits.append((m.start(), NUMBER_WORDS[m.group(0)]))
    return list(dict.fromkeys(v for _, v in sorted(hits, key=lambda h: h[0])))


def clock_times(request: str) -> list[str]:
    """Times of day the request names ("2 PM", "7:30am", "15:30") as ``HH:MM``."""
    out = []
    for m in _CLOCK.finditer(request):
        hour, minute, half = int(m.group(1)), m.group(2), (m.group(3) or "").lower()
        if not minute and not half:
            continue  # a bare number is not a time
        if half.startswith("p") and hour < 12:
            hour += 12
        elif half.startswith("a") and hour == 12:
            hour = 0
        if hour < 24 and int(minute or 0) < 60:
            out.append(f"{hour:02d}:{minute or '00'}")
    return list(dict.fromkeys(out))


def normalised_values(request: str) -> list[str]:
    """Values the request implies in a standard written form: ISO dates, ``HH:MM`` times."""
    return list(dict.fromkeys([*dates_in(request), *clock_times(request)]))
