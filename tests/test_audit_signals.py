"""Membership signals on the synthetic federation with the real MiniLM and SmolLM2 models.

One leaking compendium (member records copied into entries) and one built
without any of this client's data (another hospital's records), audited in
the same game: the first must be detected, the second must look like chance.
"""

from __future__ import annotations

import pytest

from fical_secure.audit.artefact import from_compendium
from fical_secure.audit.auditor import AuditConfig, AuditResult, AuditTarget, audit_artefact
from fical_secure.audit.signals import CachingEmbedder
from fical_secure.data.generator import generate_federation
from fical_secure.data.schema import Episode, Federation
from fical_secure.kcg.schema import Compendium, Entry, validate_entry
from fical_secure.llm.base import LLM
from fical_secure.tlu.embedding import default_embedder

pytestmark = pytest.mark.slow
CONFIG = AuditConfig(max_canaries=1, n_bootstrap=300)
LLM_ATTACKS = ("llm_calibrated_loglik", "llm_calibrated_min_k")


def copied(episode: Episode) -> Entry:
    """An entry that holds a member's request verbatim (canary clause included)."""
    return validate_entry(episode.call.tool, "usage", f"Example request: {episode.request}"[:400])


@pytest.fixture(scope="module")
def federation() -> Federation:
    return generate_federation(5, seed=0)


@pytest.fixture(scope="module")
def embedder() -> CachingEmbedder:
    return CachingEmbedder(default_embedder())


@pytest.fixture(scope="module")
def target(federation: Federation) -> AuditTarget:
    return AuditTarget.from_hospital(federation.hospitals[0], federation.manifest)


@pytest.fixture(scope="module")
def leaking(
    federation: Federation, target: AuditTarget, llm: LLM, embedder: CachingEmbedder
) -> AuditResult:
    members = federation.hospitals[0].members
    compendium = Compendium("h01", tuple(copied(e) for e in members))
    return audit_artefact(
        from_compendium(compendium), target, embedder=embedder, llm=llm, config=CONFIG
    )


@pytest.fixture(scope="module")
def foreign(
    federation: Federation, target: AuditTarget, llm: LLM, embedder: CachingEmbedder
) -> AuditResult:
    # built from another hospital's records: no data of h01 in it
    compendium = Compendium("h01", tuple(copied(e) for e in federation.hospitals[1].members))
    return audit_artefact(
        from_compendium(compendium), target, embedder=embedder, llm=llm, config=CONFIG
    )


def test_leaking_compendium_is_detected_by_embedding_and_llm_signals(
    leaking: AuditResult,
) -> None:
    aucs = {name: r.metrics.auc for name, r in leaking.attacks.items()}
    assert aucs["embedding_max_cosine"] >= 0.9, aucs
    assert aucs["lexical_longest_run"] >= 0.9, aucs
    assert max(aucs[a] for a in LLM_ATTACKS) >= 0.9, aucs
    assert leaking.attacks["llm_calibrated_loglik"].metrics.n_members == 16


def test_leaking_compendium_has_verbatim_pii_hits_and_no_control_hits(
    leaking: AuditResult,
) -> None:
    assert sum(h.match == "verbatim" for h in leaking.pii_hits) >= 40
    assert {"CANARY", "MRN", "PERSON"} <= {h.kind for h in leaking.pii_hits}
    assert leaking.control_pii_hits == 0


def test_canary_in_context_is_highly_exposed(leaking: AuditResult) -> None:
    (canary,) = leaking.canaries
    assert canary.rank == 1
    assert canary.exposure_bits >= 16.0


def test_compendium_without_member_data_looks_like_chance(foreign: AuditResult) -> None:
    for name in ("embedding_max_cosine", "lexical_longest_run", *LLM_ATTACKS):
        metrics = foreign.attacks[name].metrics
        assert 0.3 <= metrics.auc <= 0.7, (name, metrics.auc)
        assert metrics.auc_ci.covers(0.5), (name, metrics.auc_ci)
    assert foreign.pii_hits == ()


def test_canary_not_in_context_has_low_exposure(foreign: AuditResult) -> None:
    (canary,) = foreign.canaries
    assert canary.exposure_bits < 8.0
