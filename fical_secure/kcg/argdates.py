"""The year calls write for a date the request gives without one (a :class:`DefaultYear`).

Users write "March 7th" and calls write ``2023-03-07``: the year is a
convention of the logs, like a default. Among a path's calls whose request
writes no four-digit year and whose value holds a date (ISO or month/day/year),
the year most of them write is the claim's year; the miner
(:mod:`fical_secure.kcg.arguments`) and the verifier
(:mod:`fical_secure.kcg.argverify`) both read it off the episodes with
:func:`year_shown`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from fical_secure.data.schema import ArgValue, Episode
from fical_secure.kcg.argvalues import strings_at

_YEAR_IN_TEXT = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
_VALUE_YEAR = (
    re.compile(r"(\d{4})-\d{2}-\d{2}(?:[T ].*)?"),
    re.compile(r"\d{1,2}/\d{1,2}/(\d{4})"),
)


def value_year(value: str) -> int | None:
    """The year of a date value (``2023-03-07``, ``2023-03-07 14:00``, ``03/07/2023``)."""
    for pattern in _VALUE_YEAR:
        if m := pattern.fullmatch(value):
            return int(m.group(1))
    return None


def year_shown(
    calls: Sequence[tuple[Episode, Sequence[ArgValue]]], min_share: float
) -> tuple[int, list[str]] | None:
    """The year and the calls that write it, where more than ``min_share`` of the calls
    with a dated value and a request naming no year write that year; else ``None``.

    ``calls``: each episode with the values its call writes at one path.
    """
    silent: list[tuple[str, set[int]]] = []
    for episode, values in calls:
        years = {y for s in strings_at(list(values)) if (y := value_year(s)) is not None}
        if years and not _YEAR_IN_TEXT.search(episode.request):
            silent.append((episode.episode_id, years))
    if not silent:
        return None
    counts = Counter(y for _, years in silent for y in years)
    year = min(counts, key=lambda y: (-counts[y], y))
    shown = [episode_id for episode_id, years in silent if years == {year}]
    return (year, shown) if len(shown) > min_share * len(silent) else None
