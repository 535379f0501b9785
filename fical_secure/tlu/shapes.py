"""The written shape a string argument's docs ask for, as regular expressions.

Real tool docs state formats by template or example ("in the format of
'City, State', such as 'Berkeley, CA'", "formatted as 'YYYY-MM-DD'"). Each
quoted template or example in a description that speaks of a format becomes
a shape: capitalised words match capitalised words, upper-case runs their
length of capitals, date and time placeholders digits, other characters
themselves. An argument named for a date or a time also expects ISO dates or
``HH:MM``. The filler prefers candidates that have one of these shapes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

ISO_DATE = r"\d{4}-\d{2}-\d{2}"
CLOCK = r"\d{2}:\d{2}"
_FORMAT_CUES = re.compile(r"format|such as|e\.g\.|for example|for instance|like ", re.I)
_QUOTED = re.compile(r"'([^']{1,40})'|\"([^\"]{1,40})\"")
_PLACEHOLDERS = {
    "YYYY": r"\d{4}",
    "YY": r"\d{2}",
    "MM": r"\d{1,2}",
    "DD": r"\d{1,2}",
    "HH": r"\d{1,2}",
    "SS": r"\d{2}",
}
_TOKEN = re.compile(r"[A-Z][a-z][\w'.]*|[A-Z]+|[a-z]+|\d+|\s+|.")
_CAP_WORDS = r"[A-Z][\w'.-]*(?: [A-Z][\w'.-]*)*"


def shape_of(example: str) -> str:
    """A regular expression for strings written like ``example`` (see the module docstring)."""
    parts: list[str] = []
    for token in _TOKEN.findall(example):
        if token in _PLACEHOLDERS:
            parts.append(_PLACEHOLDERS[token])
        elif token[0].isupper() and (len(token) == 1 or not token.isupper()):
            if len(parts) >= 2 and parts[-1] == " " and parts[-2] == _CAP_WORDS:
                parts.pop()  # "New York": one run of capitalised words
            else:
                parts.append(_CAP_WORDS)
        elif token.isupper():
            parts.append(f"[A-Z]{{{len(token)}}}")
        elif token.islower():
            parts.append("[a-z]+")
        elif token.isdigit():
            parts.append(r"\d+")
        elif token.isspace():
            parts.append(" ")
        else:
            parts.append(re.escape(token))
    return "".join(parts)


def expected_shapes(name: str, prop: Mapping[str, Any]) -> list[str]:
    """Shapes the argument's docs ask for, most specific first (may be empty)."""
    shapes: list[str] = []
    text = str(prop.get("description", ""))
    if _FORMAT_CUES.search(text):
        examples = [a or b for a, b in _QUOTED.findall(text)]
        shapes.append("|".join(f"(?:{shape_of(e)})" for e in examples) if examples else "")
    leaf = name.rsplit(".", 1)[-1].lower()
    if "date" in leaf:
        shapes.append(ISO_DATE)
    if "time" in leaf:
        shapes.append(CLOCK)
    return [s for s in shapes if s]
