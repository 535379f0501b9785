"""A hospital's participation policy for secure aggregation: no cohort differencing.

Two secure sums over cohorts that differ by one hospital V and carry the same
other releases reveal V's whole release as their difference. A client
therefore remembers (durably, in its sealed state) every aggregation it
helped unmask: the prepared round, a digest of its release, and the survivor
cohort of the sum. It refuses

* to aggregate a release it already aggregated in another prepared round
  (retries of one prepared round are the same aggregation), and
* a survivor cohort that differs from an earlier one by at least one and
  fewer than ``min_difference`` hospitals (``release.secagg_min_cohort_difference``
  in the profile): a difference of two sums then mixes at least that many.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fical_secure.errors import ParticipationRefused


@dataclass(frozen=True)
class Joined:
    """One aggregation this client took part in (``cohort`` empty: not yet known)."""

    round_id: int  # the prepared round (the RoundConfig its release was made for)
    release: bytes  # release_digest of its items
    cohort: frozenset[bytes] = frozenset()

    def to_json(self) -> dict[str, object]:
        return {
            "round_id": self.round_id,
            "release": self.release.hex(),
            "cohort": sorted(c.hex() for c in self.cohort),
        }

    @classmethod
    def from_json(cls, raw: dict[str, object]) -> Joined:
        """Raises KeyError, TypeError or ValueError if malformed (the caller types it)."""
        cohort = raw["cohort"]
        if not isinstance(cohort, list):
            raise TypeError("cohort must be a list")
        return cls(
            int(str(raw["round_id"])),
            bytes.fromhex(str(raw["release"])),
            frozenset(bytes.fromhex(str(c)) for c in cohort),
        )


def release_digest(items: Iterable[bytes]) -> bytes:
    """SHA-256 over the sorted, length-prefixed items: the identity of one release."""
    h = hashlib.sha256()
    for item in sorted(items):
        h.update(len(item).to_bytes(4, "big") + item)
    return h.digest()


def check_participation(history: Sequence[Joined], new: Joined, min_difference: int) -> None:
    """Return only if joining ``new`` keeps every pair of this client's sums differencing-safe.

    Raises:
        ParticipationRefused: the release was aggregated in another prepared round,
            or the cohort differs from an earlier one by 1 to ``min_difference`` - 1.
    """
    for old in history:
        if old.release == new.release and old.round_id != new.round_id:
            raise ParticipationRefused(
                f"this release was already aggregated in round {old.round_id}; a second sum of"
                " it would let the server difference cohorts: prepare a new release"
            )
        if not new.cohort or not old.cohort:
            continue
        differ = len(old.cohort ^ new.cohort)
        if 0 < differ < min_difference:
            raise ParticipationRefused(
                f"the cohort differs from one this client joined (round {old.round_id}) by"
                f" {differ} hospital(s), fewer than the policy's {min_difference}: the"
                " difference of the two sums would expose them"
            )
