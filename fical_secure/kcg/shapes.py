"""A small library of generic value shapes that argument claims may name.

A shape is a whole-value regular expression with a plain-words reading
("a date, year-month-day with a four-digit year"). KCG states that an argument's values have a shape
when nearly all of them match it (:mod:`fical_secure.kcg.arguments`); the
agent uses the shape to pick a candidate span from a request. The table is
ordered from the most to the least specific, so the first shape that fits a
set of values is the most informative one to state. Shapes describe formats,
never values, so they carry nothing of a record; their readings are plain
words because the scrubber's NER reads notations such as "MM" or "ST" as
places and masks them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class Shape:
    """One generic format: a name, a whole-value regex and its plain-words reading."""

    name: str
    pattern: str
    text: str
    spans: bool = False  # a span of a request with this shape is a likely value of it

    @cached_property
    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.pattern)

    def fits(self, value: str) -> bool:
        """Whether the whole of ``value`` has this shape."""
        return self.compiled.fullmatch(value) is not None


_PLACE = r"[A-Z][a-z.'-]*(?: [A-Z][a-z.'-]*)*"
SHAPES: tuple[Shape, ...] = (
    Shape(
        "iso_datetime",
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?",
        "a date and time, year-month-day then hours:minutes",
        spans=True,
    ),
    Shape(
        "iso_date",
        r"\d{4}-\d{2}-\d{2}",
        "a date, year-month-day with a four-digit year",
        spans=True,
    ),
    Shape(
        "slash_date", r"\d{1,2}/\d{1,2}/\d{4}", "a date with slashes, month/day/year", spans=True
    ),
    Shape(
        "time",
        r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?",
        "a time of day, hours:minutes",
        spans=True,
    ),
    Shape("email", r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}", "an e-mail address", spans=True),
    Shape("url", r"https?://\S+", "a web address (http://...)", spans=True),
    Shape(
        "city_state",
        _PLACE + r", [A-Z]{2}",
        "a place: a city, a comma and a two-letter state code",
        spans=True,
    ),
    Shape(
        "city_country",
        _PLACE + r", [A-Z][a-z]+(?: [A-Z][a-z]+)*",
        "a place: a city, a comma and the country",
        spans=True,
    ),
    Shape("integer_text", r"-?\d+", "a whole number in a string", spans=True),
    Shape("decimal_text", r"-?\d+\.\d+", "a decimal number in a string", spans=True),
    Shape(
        "upper_code",
        r"(?=[A-Z0-9_-]*[A-Z])[A-Z0-9]{2,}(?:[-_][A-Z0-9]+)*",
        "an upper-case code",
        spans=True,
    ),
    Shape(
        "snake_case",
        r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+",
        "a lower-case name with underscores (like snake_case)",
    ),
    Shape("lower_word", r"[a-z]+", "one lower-case word"),
    Shape("lower_words", r"[a-z]+(?: [a-z]+)+", "lower-case words"),
    Shape(
        "title_words",
        r"[A-Z][\w'.&-]*(?: (?:[A-Z][\w'.&-]*|\d+|of|the|and|in|on|a|an|to|for|at|by))*",
        "capitalised words",
    ),
    Shape("file_path", r"/?[\w.-]+(?:/[\w.-]+)+/?", "a file path (like a/b/c)", spans=True),
)
BY_NAME = {s.name: s for s in SHAPES}
BY_TEXT = {s.text: s for s in SHAPES}
BY_PATTERN = {s.pattern: s for s in SHAPES}


def first_fit(values: list[str], min_share: float) -> Shape | None:
    """The most specific shape that at least ``min_share`` of ``values`` have, if any."""
    if not values:
        return None
    for shape in SHAPES:
        if sum(shape.fits(v) for v in values) >= min_share * len(values):
            return shape
    return None
