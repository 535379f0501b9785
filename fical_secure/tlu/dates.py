"""Dates a request names, in the five styles clinicians and users write, as ISO strings.

``2023-03-07``, ``3/7/2023``, ``March 7th, 2023``, ``7th of March 2023`` and
``2023.03.07`` are read; with a ``year`` known for dates written without one
(a compendium's :class:`~fical_secure.kcg.claims.DefaultYear`), so are
``March 7th``, ``Mar the 7th`` and ``the 7th of March``; a date written right
after a birth cue ("DOB", "born") is a date of birth, never an appointment or a
query date, and is left out. Nothing here knows a tool: :mod:`fical_secure.tlu.args` fills date
arguments from these, :mod:`fical_secure.tlu.spans` offers them as candidates.
"""

from __future__ import annotations

import re
from collections.abc import MutableSequence, Sequence
from datetime import date

from fical_secure.data.vocab import MONTHS

_MONTH_RE = "|".join(m[:3] + m[3:].join(("(?:", ")?")) for m in MONTHS)
_DATE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)"), "ymd"),
    (re.compile(r"(?<!\d)(\d{1,2})[/-](\d{1,2})[/-](\d{4})(?!\d)"), "mdy"),
    (re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I), "Mdy"),
    (
        re.compile(
            rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\.?,?\s+(\d{{4}})\b", re.I
        ),
        "dMy",
    ),
    (re.compile(r"(?<![\d.])(\d{4})\.(\d{1,2})\.(\d{1,2})(?![\d.]\d)"), "ymd"),
)
_YEARLESS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            rf"\b({_MONTH_RE})\.?\s+(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?(?![\d:.,]*\d)(?!\s*(?:%|am|pm|a\.m|p\.m))",
            re.I,
        ),
        "Md",
    ),
    (re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\b", re.I), "dM"),
)
_BIRTH_CUE = re.compile(r"(dob|born|birth|d\.o\.b)\W{0,4}$", re.I)


def dates_in(
    request: str, taken: MutableSequence[bool] | None = None, year: int | None = None
) -> list[str]:
    """ISO dates ``request`` names in order of appearance, except dates of birth.

    ``year``: the year of dates written without one (none are read without it).
    ``taken`` (one flag per character of ``request``) marks characters another
    extraction already claimed: a date over one is skipped, and every date
    read (a date of birth or an impossible one included) claims its characters.
    """
    used = taken if taken is not None else [False] * len(request)
    hits: list[tuple[int, str]] = []
    patterns = _DATE_PATTERNS + (_YEARLESS if year is not None else ())
    for pattern, order in patterns:
        for m in pattern.finditer(request):
            if any(used[m.start() : m.end()]):
                continue
            used[m.start() : m.end()] = [True] * (m.end() - m.start())
            groups = (*m.groups(), str(year))
            iso = _to_iso(groups, order)
            if iso is None or _BIRTH_CUE.search(request[max(0, m.start() - 12) : m.start()]):
                continue
            hits.append((m.start(), iso))
    return [iso for _, iso in sorted(hits)]


def _to_iso(groups: Sequence[str], order: str) -> str | None:
    months = {m[:3].lower(): i + 1 for i, m in enumerate(MONTHS)}
    try:
        if order == "ymd":
            y, mo, d = int(groups[0]), int(groups[1]), int(groups[2])
        elif order == "mdy":
            mo, d, y = int(groups[0]), int(groups[1]), int(groups[2])
        elif order == "Mdy":
            mo, d, y = months[groups[0][:3].lower()], int(groups[1]), int(groups[2])
        elif order == "Md":
            mo, d, y = months[groups[0][:3].lower()], int(groups[1]), int(groups[2])
        else:  # dMy, dM
            d, mo, y = int(groups[0]), months[groups[1][:3].lower()], int(groups[2])
        return date(y, mo, d).isoformat()
    except (ValueError, KeyError):
        return None


def as_slash(iso: str) -> str:
    """An ISO date written month/day/year with two-digit month and day (``03/07/2023``)."""
    y, m, d = iso.split("-")
    return f"{m}/{d}/{y}"
