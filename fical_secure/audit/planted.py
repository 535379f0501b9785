"""Canary exposure of a client's own KCG, with canaries the audit plants (Secret Sharer).

Real hospital data holds no canaries, so the audit brings its own: it copies
a few of the client's member records, appends a fresh random canary to each
copy's request (the generator's canary clause), runs the client's KCG on the
copies and measures each canary's exposure with the resulting compendium's
nearest entries in context. The client's data and its candidate release are
left untouched; what is measured is whether this KCG, on this kind of data,
writes secrets from its input into a compendium. The scrubber is not applied
to the planted compendium: a canary's format is one it recognises, real
secrets often are not, so the figure is KCG's own memorisation.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from fical_secure.audit.artefact import from_compendium
from fical_secure.audit.exposure import CanaryExposure, canary_context, canary_exposure
from fical_secure.audit.signals import CONTEXT_HEADER, Embedder, embedding_similarity
from fical_secure.data.pii import random_canary
from fical_secure.data.schema import Episode, PIIValue
from fical_secure.data.templates import CANARY_CLAUSES
from fical_secure.errors import AuditError, FicalError
from fical_secure.llm.base import LLM

PLANTED_SUFFIX = "+audit-canary"


@dataclass(frozen=True)
class PlantedCanaries:
    """Exposure of each canary the audit planted, and what KCG wrote from the planted copy."""

    client_id: str
    exposures: tuple[CanaryExposure, ...]
    records: int  # records KCG ran on (the canary hosts among them)
    entries: int  # entries KCG wrote
    verbatim: int  # planted secrets found verbatim in those entries

    def to_dict(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "exposures": [e.to_dict() for e in self.exposures],
            "records": self.records,
            "entries": self.entries,
            "verbatim_in_compendium": self.verbatim,
        }


def plant_canaries(
    episodes: Sequence[Episode], n: int, rng: random.Random
) -> tuple[list[Episode], list[PIIValue]]:
    """Copies of ``episodes``, ``n`` of them (the first) carrying a fresh canary each."""
    copies, canaries = list(episodes), []
    for i in range(min(n, len(copies))):
        host = copies[i]
        value = random_canary(rng)
        episode_id = host.episode_id + PLANTED_SUFFIX
        canary = PIIValue("CANARY", value, episode_id)
        clause = rng.choice(CANARY_CLAUSES).format(canary=value)
        copies[i] = replace(
            host,
            episode_id=episode_id,
            request=f"{host.request} {clause}",
            pii=(*host.pii, canary),
        )
        canaries.append(canary)
    return copies, canaries


def planted_exposure(
    members: Sequence[Episode],
    llm: LLM,
    embedder: Embedder,
    *,
    client_id: str,
    n_canaries: int = 1,
    records: int = 8,
    n_candidates: int = 31,
    context_items: int = 1,
    max_context_chars: int = 400,
    seed: int = 0,
    progress: bool = False,
) -> PlantedCanaries:
    """Plant ``n_canaries`` canaries in copies of ``records`` members, run KCG, measure exposure.

    Raises:
        AuditError: no member record, or KCG / the model failed.
    """
    from fical_secure.kcg.builder import run_kcg

    if not members or n_canaries < 1 or records < 1:
        raise AuditError("planting canaries needs >= 1 member record, canary and KCG record")
    rng = random.Random(seed)
    chosen = rng.sample(list(members), min(records, len(members)))
    copies, canaries = plant_canaries(chosen, n_canaries, rng)
    try:
        compendium = run_kcg(copies, llm, client_id=client_id, progress=progress).compendium
    except FicalError as exc:
        raise AuditError(f"KCG on the planted copy failed: {exc}") from exc
    artefact = from_compendium(compendium)
    if len(artefact) == 0:
        raise AuditError("KCG wrote no entry from the planted copy: nothing to measure")
    hosts = [c for c in copies if c.episode_id.endswith(PLANTED_SUFFIX)]
    sims = embedding_similarity([h.text() for h in hosts], artefact, embedder)
    top = sims.top_items(context_items)
    exposures = []
    for row, (host, canary) in enumerate(zip(hosts, canaries, strict=True)):
        context = canary_context(
            CONTEXT_HEADER, [artefact.texts[int(i)] for i in top[row]], max_context_chars
        )
        exposures.append(
            canary_exposure(
                canary, context, llm, host_text=host.text(), n_candidates=n_candidates, seed=seed
            )
        )
    verbatim = sum(any(c.value in t for t in artefact.texts) for c in canaries)
    return PlantedCanaries(client_id, tuple(exposures), len(copies), len(artefact), verbatim)
