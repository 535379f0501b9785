"""Canaries the audit plants in a copy of a client's data, run through the KCG a round runs."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import pytest

from fical_secure.audit.artefact import SharedArtefact
from fical_secure.audit.planted import (
    CANARY_LETTERS,
    PLANTED_SUFFIX,
    context_items_for,
    letters_canary,
    plant_canaries,
    planted_exposure,
)
from fical_secure.data.generator import generate_federation
from fical_secure.data.schema import PIIValue
from fical_secure.errors import AuditError
from fical_secure.kcg.subjects import subjects_of

if TYPE_CHECKING:
    from fical_secure.llm.transformers_backend import TransformersLLM


def _federation():  # type: ignore[no-untyped-def]
    return generate_federation(1, seed=4, canaries_per_hospital=0)


def test_a_canary_is_twelve_random_lower_case_letters_not_all_hex() -> None:
    rng = random.Random(3)
    values = [letters_canary(rng) for _ in range(200)]
    assert len(set(values)) == 200
    for value in values:
        assert len(value) == CANARY_LETTERS and value.isascii() and value.islower()
        assert not set(value) <= set("abcdef")


def test_each_canary_sits_in_repeats_records_of_one_subject_and_originals_stay() -> None:
    members = list(_federation().hospitals[0].members)[:12]
    before = list(members)
    copies, canaries = plant_canaries(members, 2, random.Random(1), repeats=3)
    assert members == before and len(copies) == 12 and len(canaries) == 2
    assert len({c.value for c in canaries}) == 2
    subjects = subjects_of(copies)
    for canary in canaries:
        hosts = [c for c in copies if canary.value in c.request]
        assert len(hosts) == 3
        assert all(h.episode_id.endswith(PLANTED_SUFFIX) for h in hosts)
        assert canary.episode_id in {h.episode_id for h in hosts}
        assert all(any(p.value == canary.value for p in h.pii) for h in hosts)
        assert subjects.count(h.episode_id for h in hosts) == 1  # one patient's secret
    untouched = [c for c in copies if not c.episode_id.endswith(PLANTED_SUFFIX)]
    assert len(untouched) == 6 and all(c in before for c in untouched)


def test_planting_needs_enough_records() -> None:
    members = list(_federation().hospitals[0].members)[:3]
    with pytest.raises(AuditError, match="needs >= 1 canary and >= 4 member records"):
        plant_canaries(members, 2, random.Random(0), repeats=2)
    with pytest.raises(AuditError, match="member records"):
        planted_exposure([], (), None, None, client_id="h01")  # type: ignore[arg-type]


def test_entries_stating_the_canary_go_first_in_its_context() -> None:
    canary = PIIValue("CANARY", "qwertzuiopas", "e1" + PLANTED_SUFFIX)
    artefact = SharedArtefact(
        "compendium",
        "h01",
        ("a", "b", "c", "d"),
        ("about beds", "say qwertzuiopas for labs", "about vitals", "qwertzuiopas again"),
    )
    # the nearest items by embedding miss the verbatim ones: they still lead the context
    assert context_items_for(canary, artefact, [0, 2], 1) == [1, 3]
    assert context_items_for(canary, artefact, [0, 2], 3) == [1, 3, 0]
    absent = PIIValue("CANARY", "zzzzzzzzzzzz", "e1" + PLANTED_SUFFIX)
    assert context_items_for(absent, artefact, [2, 0], 2) == [2, 0]


@pytest.mark.slow
def test_the_rounds_kcg_on_a_planted_copy_gives_a_measured_exposure(
    llm: TransformersLLM,
) -> None:
    from fical_secure.audit.signals import CachingEmbedder
    from fical_secure.tlu.embedding import default_embedder

    fed = _federation()
    members = list(fed.hospitals[0].members)
    planted = planted_exposure(
        members,
        fed.catalogue,
        llm,
        CachingEmbedder(default_embedder()),
        client_id="h01",
        n_canaries=1,
        n_candidates=15,
    )
    assert planted.records == len(members) and planted.entries > 0
    (exposure,) = planted.exposures
    assert exposure.episode_id.endswith(PLANTED_SUFFIX) and exposure.n_candidates == 15
    # one patient's secret, in k of their records: KCG counts distinct subjects, so it is
    # not written, and its exposure stays within chance for an unseen canary (P(>= 4) = 1/16)
    assert planted.verbatim == 0
    assert 0.0 <= exposure.exposure_bits < 4.0
