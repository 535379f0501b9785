"""Leakage suite: compendium sharing against FedPIT-style sample sharing, same games."""

from __future__ import annotations

from typing import Any

import pytest

from fical_secure.attacks.extraction import extraction_targets
from fical_secure.attacks.sample_sharing import sample_sharing
from fical_secure.attacks.suite import run_leakage_suite
from fical_secure.audit.auditor import AuditConfig
from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.generator import generate_federation
from fical_secure.data.schema import Federation
from fical_secure.errors import AuditError
from fical_secure.kcg.schema import Compendium, validate_entry
from fical_secure.llm.loader import load_llm

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def federation() -> Federation:
    return generate_federation(5, seed=0)


def generic_compendium(federation: Federation) -> Compendium:
    """A compendium built without any record: tool knowledge only."""
    hospital = federation.hospitals[0]
    entries = []
    for spec in CATALOGUE:
        if spec.name in hospital.tools:
            entries.append(validate_entry(spec.name, "purpose", spec.description))
            args = ", ".join(f"{a.name} ({a.description})" for a in spec.args)
            entries.append(validate_entry(spec.name, "arguments", f"Arguments: {args}."))
    return Compendium(hospital.hospital_id, tuple(entries))


@pytest.fixture(scope="module")
def report(federation: Federation) -> dict[str, Any]:
    compendium = generic_compendium(federation)
    return run_leakage_suite(
        federation,
        load_llm(None),
        {compendium.owner: compendium},
        config=AuditConfig(use_llm=False, n_bootstrap=200),
        # the 135M model copies ~1 in 5 targets from samples in context (3 of 16
        # measured on this federation): 6 targets too often gave 0
        extraction_targets_per_client=16,
    )


def test_sample_sharing_leaks_membership_and_compendium_sharing_does_not(
    report: dict[str, Any],
) -> None:
    samples, comp = report["methods"]["sample_sharing"], report["methods"]["compendium"]
    assert samples["auc"]["embedding_max_cosine"] >= 0.9
    assert samples["tpr_at_1pct_fpr"]["lexical_longest_run"] >= 0.9
    assert 0.3 <= comp["auc"]["embedding_max_cosine"] <= 0.7
    assert 0.3 <= comp["auc"]["lexical_longest_run"] <= 0.7


def test_sample_sharing_exposes_pii_verbatim_and_the_compendium_none(
    report: dict[str, Any],
) -> None:
    samples, comp = report["methods"]["sample_sharing"], report["methods"]["compendium"]
    assert samples["verbatim_pii_hits"] > 40
    assert comp["pii_hits"] == 0


def test_extraction_recovers_pii_only_from_shared_samples(report: dict[str, Any]) -> None:
    samples = report["methods"]["sample_sharing"]["extracted_pii"]
    comp = report["methods"]["compendium"]["extracted_pii"]
    assert samples["targets"] == comp["targets"] == 16
    assert comp["extracted"] == 0
    assert samples["extracted"] >= 1


def test_report_names_the_game_and_the_clients(report: dict[str, Any]) -> None:
    assert report["game"] == "record-membership"
    assert report["clients"] == ["h01"]
    assert set(report["per_client"]["h01"]) == {"compendium", "sample_sharing"}


def test_extraction_targets_stop_before_the_secret(federation: Federation) -> None:
    episodes = federation.hospitals[0].members
    for target in extraction_targets(episodes, 10):
        assert target.secret.value not in target.prefix
        assert len(target.prefix) >= 16


def test_sample_sharing_game_uses_the_shared_demos_as_members(federation: Federation) -> None:
    artefact, game = sample_sharing(federation.hospitals[0], federation.manifest, n_demos=5)
    assert len(artefact) == 5 and len(game.members) == 5
    assert {p.episode_id for p in game.member_secrets} <= {e.episode_id for e in game.members}


def test_suite_refuses_a_federation_without_compendiums(federation: Federation) -> None:
    with pytest.raises(AuditError, match="no hospital"):
        run_leakage_suite(federation, None, {})
