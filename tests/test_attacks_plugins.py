"""Attack plugins: each detects members copied into a release and stays near chance without."""

from __future__ import annotations

from pathlib import Path

import pytest

from fical_secure.attacks.modes import Release
from fical_secure.attacks.plugins import (
    SUITES,
    Attribution,
    MembershipInference,
    ModeContext,
    ToolUtility,
    VerbatimPII,
)
from fical_secure.attacks.runner import AttackSettings, _targets, run_attacks
from fical_secure.attacks.summary import summary_markdown
from fical_secure.audit.artefact import from_samples
from fical_secure.audit.auditor import AuditConfig
from fical_secure.audit.signals import CachingEmbedder
from fical_secure.data.generator import generate_federation
from fical_secure.data.schema import Federation
from fical_secure.errors import ConfigError
from fical_secure.release.policy import ReleasePolicy
from fical_secure.tlu.embedding import default_embedder

CONFIG = AuditConfig(use_llm=False, n_bootstrap=50)


@pytest.fixture(scope="module")
def federation() -> Federation:
    # extra non-members: the first 12 play the game, the rest build the null release
    return generate_federation(2, seed=3, episodes_per_hospital=12, nonmembers_per_hospital=24)


@pytest.fixture(scope="module")
def embedder() -> CachingEmbedder:
    return CachingEmbedder(default_embedder())


def _context(federation: Federation, embedder: CachingEmbedder, *, copy: bool) -> ModeContext:
    game = generate_federation(2, seed=3, episodes_per_hospital=12, nonmembers_per_hospital=24)
    releases = {}
    for full, h in zip(federation.hospitals, game.hospitals, strict=True):
        shared = list(full.members) if copy else list(full.nonmembers[12:])
        releases[h.hospital_id] = Release(
            from_samples(h.hospital_id, shared), tuple(e.call.tool for e in shared)
        )
        h.nonmembers = h.nonmembers[:12]  # the game: members vs the first 12 non-members
    return ModeContext("test", releases, game, embedder, None, CONFIG, ReleasePolicy())


def test_membership_inference_sees_copied_members_and_not_a_release_without_them(
    federation: Federation, embedder: CachingEmbedder
) -> None:
    leak = MembershipInference().run(_context(federation, embedder, copy=True))
    null = MembershipInference().run(_context(federation, embedder, copy=False))
    assert leak["mia_auc"]["value"] > 0.95 and leak["membership_findings"] > 0
    assert leak["tpr_at_low_fpr"]["value"] > 0.9
    assert "lowest resolved" in leak["tpr_at_low_fpr"]["label"]  # 12 non-members < 100
    assert null["mia_auc"]["value"] < 0.7 and null["membership_findings"] == 0


def test_verbatim_pii_is_found_only_when_members_are_copied(
    federation: Federation, embedder: CachingEmbedder
) -> None:
    assert VerbatimPII().run(_context(federation, embedder, copy=True))["verbatim_pii"] > 10
    assert VerbatimPII().run(_context(federation, embedder, copy=False))["verbatim_pii"] == 0


def test_attribution_and_utility_are_rates_with_intervals(
    federation: Federation, embedder: CachingEmbedder
) -> None:
    ctx = _context(federation, embedder, copy=True)
    attribution = Attribution().run(ctx)["attribution_accuracy"]
    assert attribution["chance"] == 0.5 and attribution["n_items"] == 24
    assert attribution["value"] > attribution["chance"]  # tool mixes differ between clients
    low, high = attribution["ci95"]
    assert low <= attribution["value"] <= high
    utility = ToolUtility().run(ctx)["tool_accuracy"]
    assert 0.0 < utility["value"] <= 1.0 and utility["n_requests"] == len(federation.eval_requests)


def test_every_plugin_names_its_game_and_threat_model() -> None:
    for plugins in SUITES.values():
        for plugin in plugins:
            assert plugin.name and plugin.game and plugin.threat_model


def test_targets_are_recorded_met_or_not_and_summarised() -> None:
    rows = {
        "sample_sharing": {
            "mia_auc": {"value": 0.97, "ci95": [0.9, 1.0]},
            "tool_accuracy": {"value": 0.8, "ci95": [0.7, 0.9]},
        },
        "compendium_hardened": {
            "mia_auc": {"value": 0.6, "ci95": [0.4, 0.8]},
            "tpr_at_low_fpr": {"value": 0.0, "fpr": 0.05, "label": "x"},
            "verbatim_pii": 0,
            "tool_accuracy": {"value": 0.76, "ci95": [0.6, 0.9]},
        },
    }
    targets = _targets(rows)
    assert targets["sample_sharing mia_auc"]["met"]
    assert not targets["hardened mia_auc"]["met"]
    assert targets["hardened tpr_at_low_fpr"]["met"] and targets["hardened verbatim_pii"]["met"]
    assert not targets["hardened canary_exposure_bits"]["met"]  # not measured is not met
    assert targets["hardened tool_accuracy / sample_sharing"]["measured"] == 0.95
    record = {
        "federation": {"clients": 2, "episodes_per_client": 4, "seed": 0},
        "model": "m",
        "profile": "strict",
        "suite": "quick",
        "seconds": 1.0,
        "attacker": "a",
        "rows": rows,
        "targets": targets,
        "attacks": [],
    }
    text = summary_markdown(record)
    assert "| compendium_hardened | 0.600 [0.40, 0.80]" in text and "| no |" in text


def test_unknown_suite_or_too_small_a_federation_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown suite"):
        run_attacks(AttackSettings(out=tmp_path, suite="all-of-them"))
    with pytest.raises(ConfigError, match="--clients must be >= 2"):
        run_attacks(AttackSettings(out=tmp_path, clients=1))
