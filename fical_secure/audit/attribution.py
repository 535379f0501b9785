"""Attribution: which released items drive the membership signal or hold PII.

The gate removes items, so the audit must say which ones leak. Per item it
records how close the item comes to the nearest member record and to the
nearest non-member record, by embedding cosine (paraphrase) and by the longest
run of shared consecutive words (verbatim copying), how many records of each
side have it as their nearest item, and how many PII hits it holds. An item
built from generic knowledge is as close to non-members as to members; one
that copies or paraphrases a member record is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fical_secure.audit.artefact import SharedArtefact
from fical_secure.audit.pii_search import PIIHit
from fical_secure.audit.signals import Similarity
from fical_secure.jsontypes import JsonObject


@dataclass(frozen=True)
class ItemAttribution:
    """How much one released item drives membership signal, and whether it holds PII."""

    item_id: str
    max_member_cos: float
    max_nonmember_cos: float
    max_member_run: int  # longest word run shared with a member record
    max_nonmember_run: int
    nearest_for_members: int
    nearest_for_nonmembers: int
    pii_hits: int

    @property
    def margin(self) -> float:
        """How much closer the item comes to some member than to any non-member."""
        return self.max_member_cos - self.max_nonmember_cos

    @property
    def run_margin(self) -> int:
        """How many more consecutive words it shares with some member than with any non-member."""
        return self.max_member_run - self.max_nonmember_run

    def to_dict(self) -> JsonObject:
        return {
            "item_id": self.item_id,
            "max_member_cos": round(self.max_member_cos, 4),
            "max_nonmember_cos": round(self.max_nonmember_cos, 4),
            "margin": round(self.margin, 4),
            "max_member_run": self.max_member_run,
            "max_nonmember_run": self.max_nonmember_run,
            "nearest_for_members": self.nearest_for_members,
            "nearest_for_nonmembers": self.nearest_for_nonmembers,
            "pii_hits": self.pii_hits,
        }


def attribute(
    artefact: SharedArtefact,
    sim: Similarity,
    runs: npt.NDArray[np.int64],
    n_mem: int,
    hits: Sequence[PIIHit],
) -> tuple[ItemAttribution, ...]:
    """Per item: nearest member / non-member similarity and word run, nearest counts, PII hits."""
    mem, non = sim.sims[:n_mem], sim.sims[n_mem:]
    mem_best = np.bincount(mem.argmax(axis=1), minlength=len(artefact))
    non_best = np.bincount(non.argmax(axis=1), minlength=len(artefact))
    pii_count: dict[str, int] = {}
    for hit in hits:
        pii_count[hit.item_id] = pii_count.get(hit.item_id, 0) + 1
    return tuple(
        ItemAttribution(
            item_id=item,
            max_member_cos=float(mem[:, j].max()),
            max_nonmember_cos=float(non[:, j].max()),
            max_member_run=int(runs[:n_mem, j].max()),
            max_nonmember_run=int(runs[n_mem:, j].max()),
            nearest_for_members=int(mem_best[j]),
            nearest_for_nonmembers=int(non_best[j]),
            pii_hits=pii_count.get(item, 0),
        )
        for j, item in enumerate(artefact.item_ids)
    )
