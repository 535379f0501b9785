"""Canaries the audit plants in a copy of a client's data, run through that client's KCG."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import pytest

from fical_secure.audit.planted import PLANTED_SUFFIX, plant_canaries, planted_exposure
from fical_secure.data.generator import generate_federation
from fical_secure.errors import AuditError

if TYPE_CHECKING:
    from fical_secure.llm.transformers_backend import TransformersLLM


def _members() -> list:  # type: ignore[type-arg]
    fed = generate_federation(1, seed=4, canaries_per_hospital=0)
    return list(fed.hospitals[0].members)


def test_planting_copies_the_records_and_leaves_the_originals_alone() -> None:
    members = _members()[:6]
    before = [m.request for m in members]
    copies, canaries = plant_canaries(members, 2, random.Random(1))
    assert [m.request for m in members] == before
    assert len(copies) == 6 and len(canaries) == 2
    for copy, canary in zip(copies[:2], canaries, strict=True):
        assert copy.episode_id.endswith(PLANTED_SUFFIX) and canary.value in copy.request
        assert canary in copy.pii and canary.episode_id == copy.episode_id
    assert copies[2:] == members[2:]
    assert len({c.value for c in canaries}) == 2


def test_planting_needs_records() -> None:
    with pytest.raises(AuditError, match="needs >= 1 member"):
        planted_exposure([], None, None, client_id="h01")  # type: ignore[arg-type]


@pytest.mark.slow
def test_kcg_on_a_planted_copy_gives_a_measured_exposure(llm: TransformersLLM) -> None:
    from fical_secure.audit.signals import CachingEmbedder
    from fical_secure.tlu.embedding import default_embedder

    planted = planted_exposure(
        _members(),
        llm,
        CachingEmbedder(default_embedder()),
        client_id="h01",
        n_canaries=1,
        records=5,
        n_candidates=15,
    )
    assert planted.records == 5 and planted.entries > 0
    (exposure,) = planted.exposures
    assert exposure.episode_id.endswith(PLANTED_SUFFIX) and exposure.n_candidates == 15
    # KCG writes notes about tools, not record values: the canary is not copied and its
    # exposure stays within what chance gives an unseen canary (P(>= 4 bits) = 1/16)
    assert planted.verbatim == 0
    assert 0.0 <= exposure.exposure_bits < 4.0
