"""Value forms calls add to what the request says: a date's year, a place's suffix.

Users write "March 7th" and calls write ``2023-03-07``; users write "Fresno"
and calls write ``"Fresno, CA"``: the year and the suffix are conventions of
the logs, like defaults (a :class:`DefaultYear`, a :class:`UsualSuffix`).
Among a path's calls whose request writes no four-digit year and whose value
holds a date (ISO or month/day/year), the year most of them write is the
year claim's; among its calls whose value is ``head, tail`` where the request
writes the head but not the whole value, the tail most of them write is the
suffix claim's. The miner (:mod:`fical_secure.kcg.arguments`) and the
verifier (:mod:`fical_secure.kcg.argverify`) both read them off the episodes
with :func:`year_shown` and :func:`suffix_shown`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from fical_secure.data.schema import ArgValue, Episode
from fical_secure.kcg.argvalues import mentions, strings_at

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


def _tail(request: str, value: str) -> str | None:
    """``", tail"`` of a ``head, tail`` value whose head the request writes, not the value."""
    head, comma, tail = value.partition(", ")
    if not comma or not head or not tail or mentions(request, value):
        return None
    return f", {tail}" if mentions(request, head) else None


def suffix_shown(
    calls: Sequence[tuple[Episode, Sequence[ArgValue]]], min_share: float
) -> tuple[str, list[str]] | None:
    """The suffix and the calls that write it, where more than ``min_share`` of the calls
    whose value adds a suffix to a head the request writes add that one; else ``None``."""
    added: list[tuple[str, set[str]]] = []
    for episode, values in calls:
        tails = {t for s in strings_at(list(values)) if (t := _tail(episode.request, s))}
        if tails:
            added.append((episode.episode_id, tails))
    if not added:
        return None
    counts = Counter(t for _, tails in added for t in tails)
    suffix = min(counts, key=lambda t: (-counts[t], t))
    shown = [episode_id for episode_id, tails in added if tails == {suffix}]
    return (suffix, shown) if len(shown) > min_share * len(added) else None
