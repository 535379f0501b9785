"""Who each episode is about, so KCG's k counts distinct patients rather than episodes.

One patient booked three times is one subject: an alias that only their
bookings show rests on one person's records and must not reach the
compendium. The subject of an episode is, in order of preference:

* its explicit ``subject`` field (a pseudonymous key the hospital supplies);
* the patient its ``pii`` PERSON and MRN values name: episodes that share any
  such value (names case- and accent-folded, identifiers by their digits) are
  one subject, transitively;
* the episode itself, where neither is known (k then counts that episode).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from fical_secure.data.schema import Episode
from fical_secure.scrub.known import fold

SUBJECT_KINDS = frozenset({"PERSON", "MRN"})


@dataclass(frozen=True)
class Subjects:
    """The subject key of every episode, and how many had no subject known."""

    of: Mapping[str, str]
    unknown: int

    def count(self, episode_ids: Iterable[str]) -> int:
        """Distinct subjects among ``episode_ids`` (an unlisted episode is its own subject)."""
        return len({self.of.get(e, f"episode:{e}") for e in episode_ids})

    @property
    def counted(self) -> str:
        """What k counted: ``subjects``, ``episodes``, or subjects where known, else episodes."""
        if self.unknown == 0:
            return "subjects"
        if self.unknown == len(self.of):
            return "episodes"
        return "subjects where known, else episodes"


def _keys(episode: Episode) -> list[str]:
    keys = [f"subject:{episode.subject}"] if episode.subject else []
    for p in episode.pii:
        if p.kind in SUBJECT_KINDS:
            digits = "".join(ch for ch in p.value if ch.isdigit())
            keys.append(f"id:{digits}" if len(digits) >= 5 else f"name:{fold(p.value).strip()}")
    return keys


def subjects_of(episodes: Sequence[Episode]) -> Subjects:
    """Group episodes into subjects (see the module docstring)."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    keys = {e.episode_id: _keys(e) for e in episodes}
    for own in keys.values():
        for other in own[1:]:
            parent[root(other)] = root(own[0])
    of = {eid: root(k[0]) if k else f"episode:{eid}" for eid, k in keys.items()}
    return Subjects(of=of, unknown=sum(not k for k in keys.values()))
