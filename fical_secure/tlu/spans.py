"""Candidate argument values drawn from a request's own text.

A weak model copies badly but chooses tolerably, so free-text arguments are
decoded among candidates: verbatim spans of the request (quoted phrases first,
then word n-grams with their edge punctuation trimmed), numbers written in
digits or words, clock times normalised to ``HH:MM`` and dates to ISO
(:func:`fical_secure.tlu.dates.dates_in`). Nothing here knows a tool.
"""

from __future__ import annotations

import itertools
import re

from fical_secure.data.vocab import MONTHS
from fical_secure.tlu.dates import dates_in

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


# English function words: a span that starts or ends with one is rarely a value
STOPWORDS = frozenset(
    "a an the to for of in on at from with by and or but me my i you your we our us it is are "
    "be am was can could would will please find get help show search look looking want like "
    "need some any this that there what which who how do does hi hey".split()
)


def quoted(request: str) -> list[str]:
    """The phrases the request puts in quotes."""
    return [m.group(1).strip() for m in _QUOTED.finditer(request)]


def spans(request: str, max_words: int = MAX_SPAN_WORDS) -> list[str]:
    """Quoted phrases, then every run of 1..``max_words`` words, edges trimmed, deduplicated.

    A run of several words that starts or ends with a function word, or that runs on
    past a clause's end ("Fresno, departing"), is left out.
    """
    found = quoted(request)
    words = request.split()
    for size in range(1, max_words + 1):
        for start in range(len(words) - size + 1):
            run = words[start : start + size]
            ends = {run[0].strip(_EDGE).lower(), run[-1].strip(_EDGE).lower()}
            if size > 1 and (ends & STOPWORDS or _crosses_clause(run)):
                continue
            found.append(" ".join(run).strip(_EDGE))
            found.append(" ".join(run).rstrip(_EDGE))
    kept = [s for s in dict.fromkeys(found) if s]
    return kept[:MAX_SPANS]


def _crosses_clause(run: list[str]) -> bool:
    """A word inside the run ends a sentence (``.?!;:``, not an abbreviation), or a comma
    that a lower-case word follows ("Fresno, departing"; "Fresno, CA" stays whole)."""
    for word, after in itertools.pairwise(run):
        if word[-1] in "?!;:" or (word[-1] == "." and len(word) > 3 and "." not in word[:-1]):
            return True  # "St." and "p.m." are abbreviations, not a sentence's end
        if word[-1] == "," and after[:1].islower():
            return True
    return False


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


def anchored_numbers(request: str, name: str) -> list[int | float]:
    """Numbers written next to a word of the argument's name ("2 bedrooms" for num_beds).

    Words of the name of three letters or more are matched by their first
    three letters ("beds" ~ "bedrooms"), skipping ``number``/``num``/``count``.
    """
    stems = {
        w[:3]
        for w in re.findall(r"[a-z]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower())
        if len(w) >= 3 and w not in ("number", "num", "count", "total", "the")
    }
    tokens = re.findall(r"[\w.]+", request.lower())
    for offset in (1, -1):  # the word after the number ("2 bedrooms"), else the one before
        out: list[int | float] = []
        for i, token in enumerate(tokens):
            value = _number_token(token)
            j = i + offset
            if value is not None and 0 <= j < len(tokens):
                if any(tokens[j].startswith(stem) for stem in stems):
                    out.append(value)
        if out:
            return list(dict.fromkeys(out))
    return []


def _number_token(token: str) -> int | float | None:
    if token in NUMBER_WORDS:
        return NUMBER_WORDS[token]
    if re.fullmatch(r"\d+", token):
        return int(token)
    if re.fullmatch(r"\d+\.\d+", token):
        return float(token)
    return None


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


def normalised_values(request: str, year: int | None = None) -> list[str]:
    """Values the request implies in a standard written form: ISO dates, ``HH:MM`` times.

    ``year``: the year of dates written without one (none are read without it).
    """
    return list(dict.fromkeys([*dates_in(request, year=year), *clock_times(request)]))


_NAME_RUN = re.compile(r"\b[A-Z][a-z][\w'-]*(?: [A-Z][a-z][\w'-]*){0,3}")
_WEEK = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday I Can Could Please"
_NOT_PLACES = frozenset([*MONTHS, *(m[:3] for m in MONTHS), *_WEEK.split()])


def name_heads(request: str) -> list[str]:
    """Runs of capitalised words the request writes mid-sentence, not right after a comma,
    and does not follow with a comma and another capitalised word: names that a learned
    suffix may complete ("Fresno" in "a bus to Fresno", not "Fresno, CA", "Canada" of
    "Toronto, Canada" nor "March")."""
    out = []
    for m in _NAME_RUN.finditer(request):
        before = request[: m.start()].rstrip()
        if not before or before[-1] in ".?!,\"'" or set(m.group(0).split()) & _NOT_PLACES:
            continue  # a sentence's first word, or the tail of "Toronto, Canada"
        if re.match(r",\s*[A-Z]", request[m.end() :]):
            continue
        out.append(m.group(0).rstrip(".'"))
    return list(dict.fromkeys(out))
