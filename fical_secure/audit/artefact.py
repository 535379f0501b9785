"""What a client releases, seen by the auditor as a list of texts with ids.

The audit does not care whether the release is a knowledge compendium (FICAL)
or raw example episodes shared as in-context demonstrations (the FedPIT-style
sample-sharing baseline): both are a set of items an adversary can read and
put into a model's context. Item ids let the gate attribute leakage to, and
remove, single compendium entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from fical_secure.data.schema import Episode, ToolSpec
from fical_secure.kcg.schema import Compendium

ArtefactKind = Literal["compendium", "samples", "reference"]


@dataclass(frozen=True)
class SharedArtefact:
    """A released artefact: item ids and the texts a model or adversary sees."""

    kind: ArtefactKind
    owner: str
    item_ids: tuple[str, ...]
    texts: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.item_ids) != len(self.texts):
            raise ValueError("item_ids and texts must have the same length")
        if len(set(self.item_ids)) != len(self.item_ids):
            raise ValueError("item ids must be unique")

    def __len__(self) -> int:
        return len(self.texts)

    def without(self, item_ids: Iterable[str]) -> SharedArtefact:
        """The artefact with the given items removed."""
        drop = set(item_ids)
        keep = [i for i, item in enumerate(self.item_ids) if item not in drop]
        return SharedArtefact(
            self.kind,
            self.owner,
            tuple(self.item_ids[i] for i in keep),
            tuple(self.texts[i] for i in keep),
        )


def from_compendium(compendium: Compendium) -> SharedArtefact:
    """The compendium's entries as released items (rendered as retrieval and prompts see them).

    Identical entries (same content id) are released once, so they appear once.
    """
    ids: dict[str, str] = {}
    for entry in compendium.entries:
        ids.setdefault(entry.entry_id, entry.render())
    for sig in compendium.signatures:
        args = ", ".join(f"{name}: {typ}" for name, typ in sig.args)
        ids.setdefault(f"sig:{sig.tool}", f"[{sig.tool}] signature: {sig.tool}({args})")
    return SharedArtefact("compendium", compendium.owner, tuple(ids), tuple(ids.values()))


def from_samples(owner: str, episodes: Sequence[Episode]) -> SharedArtefact:
    """Raw episodes shared as in-context demonstrations (the sample-sharing baseline)."""
    return SharedArtefact(
        "samples",
        owner,
        tuple(e.episode_id for e in episodes),
        tuple(e.text() for e in episodes),
    )


def from_catalogue(catalogue: Sequence[ToolSpec]) -> SharedArtefact:
    """Public tool descriptions: a reference artefact that holds no client data.

    Used to calibrate likelihood signals: the difference between the record's
    likelihood with the client's artefact and with this reference in context
    removes what any tool-use context does to a record's likelihood.
    """
    texts = []
    for spec in catalogue:
        args = ", ".join(f"{a.name} ({a.description})" for a in spec.args)
        texts.append(f"[{spec.name}] purpose: {spec.description} Arguments: {args}.")
    return SharedArtefact("reference", "public", tuple(s.name for s in catalogue), tuple(texts))
