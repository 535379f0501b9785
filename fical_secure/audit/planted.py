"""Canary exposure of the shipping KCG, with canaries the audit plants (Secret Sharer).

Real hospital data holds no canaries, so the audit brings its own: each is a
word of 12 random lower-case letters, one patient's secret, appended (the
generator's canary clause) to ``repeats`` copies of member records that are
made one subject. Repeated that often it passes an episode count of k, so
what is measured is whether the KCG a round runs
(:func:`fical_secure.kcg.knowledge.build_knowledge`, as the round's KCG stage
calls it: no paraphrase, the client's known identifiers, which the secret is
not among) writes it into the compendium. KCG runs on every member record,
the planted copies in place of their originals; the client's data and its
candidate release are left untouched. The scrubber is not applied: the
figure is KCG's own.

The exposure is an upper bound for an attacker who holds the compendium:
entries that state the canary verbatim go first in its context (such an
attacker can search the release for every candidate), then the entries
nearest to the host record, ``context_items`` in all at least.
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from dataclasses import dataclass, replace

from fical_secure.audit.artefact import SharedArtefact, from_compendium
from fical_secure.audit.exposure import CanaryExposure, canary_context, canary_exposure
from fical_secure.audit.signals import CONTEXT_HEADER, Embedder, embedding_similarity
from fical_secure.data.schema import Episode, PIIValue, ToolSpec
from fical_secure.data.templates import CANARY_CLAUSES
from fical_secure.errors import AuditError, FicalError
from fical_secure.jsontypes import JsonObject
from fical_secure.kcg.knowledge import KnowledgeConfig, build_knowledge
from fical_secure.llm.base import LLM
from fical_secure.scrub.known import known_of

PLANTED_SUFFIX = "+audit-canary"
CANARY_LETTERS = 12
_HEX_LETTERS = frozenset("abcdef")


@dataclass(frozen=True)
class PlantedCanaries:
    """Exposure of each canary the audit planted, and what KCG wrote from the planted copy."""

    client_id: str
    exposures: tuple[CanaryExposure, ...]
    records: int  # records KCG ran on (the canary hosts among them)
    entries: int  # entries KCG wrote
    verbatim: int  # planted secrets found verbatim in those entries

    def to_dict(self) -> JsonObject:
        return {
            "client_id": self.client_id,
            "exposures": [e.to_dict() for e in self.exposures],
            "records": self.records,
            "entries": self.entries,
            "verbatim_in_compendium": self.verbatim,
        }


def letters_canary(rng: random.Random) -> str:
    """12 random lower-case letters (~56 bits), not all hex digits (so candidates are letters)."""
    while True:
        value = "".join(rng.choice(string.ascii_lowercase) for _ in range(CANARY_LETTERS))
        if not set(value) <= _HEX_LETTERS:
            return value


def plant_canaries(
    episodes: Sequence[Episode], n: int, rng: random.Random, *, repeats: int = 1
) -> tuple[list[Episode], list[PIIValue]]:
    """Copies of ``episodes`` where ``n`` fresh canaries each sit in ``repeats`` records.

    The hosts of one canary are made one subject (one patient's secret); each
    canary's ground truth names its first host. ``episodes`` is left alone.

    Raises:
        AuditError: fewer records than ``n * repeats`` hosts, or ``n`` or ``repeats`` < 1.
    """
    if n < 1 or repeats < 1 or len(episodes) < n * repeats:
        raise AuditError(
            f"planting {n} canaries in {repeats} records each needs >= 1 canary and "
            f">= {max(n, 1) * max(repeats, 1)} member records; the client has {len(episodes)}"
        )
    copies = list(episodes)
    order = rng.sample(range(len(copies)), n * repeats)
    canaries = []
    for i in range(n):
        value = letters_canary(rng)
        hosts = order[i * repeats : (i + 1) * repeats]
        canaries.append(PIIValue("CANARY", value, copies[hosts[0]].episode_id + PLANTED_SUFFIX))
        for index in hosts:
            host = copies[index]
            episode_id = host.episode_id + PLANTED_SUFFIX
            clause = rng.choice(CANARY_CLAUSES).format(canary=value)
            copies[index] = replace(
                host,
                episode_id=episode_id,
                request=f"{host.request} {clause}",
                subject=f"audit-canary-{i}",
                pii=(*host.pii, PIIValue("CANARY", value, episode_id)),
            )
    return copies, canaries


def context_items_for(
    canary: PIIValue, artefact: SharedArtefact, nearest: Sequence[int], at_least: int
) -> list[int]:
    """Indices of the items put before ``canary``: verbatim holders first, then nearest ones."""
    verbatim = [i for i, text in enumerate(artefact.texts) if canary.value in text]
    rest = [int(i) for i in nearest if int(i) not in verbatim]
    return verbatim + rest[: max(at_least - len(verbatim), 0)]


def planted_exposure(
    members: Sequence[Episode],
    catalogue: Sequence[ToolSpec],
    llm: LLM,
    embedder: Embedder,
    *,
    client_id: str,
    n_canaries: int = 1,
    min_support: int = KnowledgeConfig.min_support,
    n_candidates: int = 31,
    n_controls: int = 0,
    context_items: int = 1,
    max_context_chars: int = 400,
    seed: int = 0,
) -> PlantedCanaries:
    """Plant ``n_canaries`` canaries, each in ``min_support`` records, run KCG, measure exposure.

    Raises:
        AuditError: too few member records, or KCG / the model failed.
    """
    rng = random.Random(seed)
    copies, canaries = plant_canaries(members, n_canaries, rng, repeats=min_support)
    config = KnowledgeConfig(min_support=min_support, paraphrase=False, seed=seed)
    try:
        compendium = build_knowledge(
            copies,
            catalogue,
            None,
            client_id=client_id,
            config=config,
            progress=False,
            known=known_of(members),  # the client's own list: the planted secret is not on it
        )
    except FicalError as exc:
        raise AuditError(f"KCG on the planted copy failed: {exc}") from exc
    artefact = from_compendium(compendium)
    if len(artefact) == 0:
        raise AuditError("KCG wrote no entry from the planted copy: nothing to measure")
    hosts = {c.episode_id: c for c in copies}
    texts = [hosts[c.episode_id].text() for c in canaries]
    top = embedding_similarity(texts, artefact, embedder).top_items(context_items)
    exposures = []
    for row, canary in enumerate(canaries):
        chosen = context_items_for(canary, artefact, top[row], context_items)
        context = canary_context(
            CONTEXT_HEADER, [artefact.texts[i] for i in chosen], max_context_chars
        )
        exposures.append(
            canary_exposure(
                canary,
                context,
                llm,
                host_text=texts[row],
                n_candidates=n_candidates,
                n_controls=n_controls,
                seed=seed,
            )
        )
    verbatim = sum(any(c.value in t for t in artefact.texts) for c in canaries)
    return PlantedCanaries(client_id, tuple(exposures), len(copies), len(artefact), verbatim)
