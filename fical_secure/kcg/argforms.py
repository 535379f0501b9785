"""Value forms calls add to what the request says: a date's year, a place's suffix.

Users write "March 7th" and calls write ``2023-03-07``; users write "Fresno"
and calls write ``"Fresno, CA"``: the year and the suffix are conventions of
the logs, like defaults (a :class:`DefaultYear`, a :class:`UsualSuffix`).
Among a path's calls whose request writes no four-digit year and whose value
holds a date (ISO or month/day/year), the year most of them write is the
year claim's; among its calls whose value is ``head, tail`` where the request
writes the head but not the whole value, the tail most of them write is the
suffix claim's (a call that writes a head as the request does counts against
it). The miner (:mod:`fical_secure.kcg.arguments`) and the verifier
(:mod:`fical_secure.kcg.argverify`) both read them off the episodes with
:func:`year_shown` and :func:`suffix_shown`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import TypeVar

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


Calls = Sequence[tuple[Episode, Sequence[ArgValue]]]  # each episode, its values at one path
T = TypeVar("T", int, str)


def _most_added(found: list[tuple[str, set[T]]], min_share: float) -> tuple[T, list[str]] | None:
    """The form most of ``found`` (episode id, the forms its call adds) add, and the calls
    that add only it, where they are more than ``min_share`` of ``found``."""
    if not found:
        return None
    counts = Counter(f for _, forms in found for f in forms)
    best = min(counts, key=lambda f: (-counts[f], f))
    shown = [episode_id for episode_id, forms in found if forms == {best}]
    return (best, shown) if len(shown) > min_share * len(found) else None


def year_shown(calls: Calls, min_share: float) -> tuple[int, list[str]] | None:
    """The year and the calls that write it, where more than ``min_share`` of the calls
    with a dated value and a request naming no year write that year; else ``None``."""
    silent: list[tuple[str, set[int]]] = []
    for episode, values in calls:
        years = {y for s in strings_at(list(values)) if (y := value_year(s)) is not None}
        if years and not _YEAR_IN_TEXT.search(episode.request):
            silent.append((episode.episode_id, years))
    return _most_added(silent, min_share)


def _tail(request: str, value: str) -> str | None:
    """``", tail"`` of a ``head, tail`` value whose head the request writes, not the value."""
    head, comma, tail = value.partition(", ")
    if not comma or not head or not tail or mentions(request, value):
        return None
    return f", {tail}" if mentions(request, head) else None


def _bare(request: str, value: str) -> bool:
    """A one-part value (no ``", "``) the request writes as is: a call that adds nothing."""
    return ", " not in value and mentions(request, value)


def suffix_shown(calls: Calls, min_share: float) -> tuple[str, list[str]] | None:
    """The suffix and the calls that write it, where more than ``min_share`` of the calls
    whose value is a head the request writes (completed with a suffix or left as written)
    add that one; else ``None``. A call that writes the request's head as is counts
    against every suffix: a suffix is a convention only where calls add it."""
    added: list[tuple[str, set[str]]] = []
    for episode, values in calls:
        strings = strings_at(list(values))
        tails = {t for s in strings if (t := _tail(episode.request, s))}
        if tails:
            added.append((episode.episode_id, tails))
        elif any(_bare(episode.request, s) for s in strings):
            added.append((episode.episode_id, {""}))
    found = _most_added(added, min_share)
    return found if found is not None and found[0] else None
