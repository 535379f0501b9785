"""The release gate on the synthetic federation (embedding, lexical, PII signals)."""

from __future__ import annotations

import pytest

from fical_secure.audit.auditor import AuditConfig, AuditResult, AuditTarget
from fical_secure.audit.signals import CachingEmbedder
from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.generator import generate_federation
from fical_secure.data.schema import Episode, Federation
from fical_secure.errors import ConfigError, GateBlockedError
from fical_secure.kcg.schema import Compendium, Entry, validate_entry
from fical_secure.release.decision import check_release
from fical_secure.release.gate import run_gate
from fical_secure.release.policy import ReleasePolicy
from fical_secure.tlu.embedding import default_embedder

CONFIG = AuditConfig(use_llm=False, n_bootstrap=100)


@pytest.fixture(scope="module")
def federation() -> Federation:
    return generate_federation(5, seed=0)


@pytest.fixture(scope="module")
def target(federation: Federation) -> AuditTarget:
    return AuditTarget.from_hospital(federation.hospitals[0], federation.manifest)


@pytest.fixture(scope="module")
def embedder() -> CachingEmbedder:
    return CachingEmbedder(default_embedder())


def copied(episode: Episode) -> Entry:
    """An entry that leaks a member record verbatim (what a careless KCG might write)."""
    return validate_entry(
        episode.call.tool, "usage", f"Example: {episode.request} {episode.call.render()}"[:400]
    )


def generic(tools: tuple[str, ...]) -> list[Entry]:
    out = []
    for spec in CATALOGUE:
        if spec.name in tools:
            out.append(validate_entry(spec.name, "purpose", spec.description))
            args = ", ".join(a.name for a in spec.args)
            out.append(validate_entry(spec.name, "arguments", f"Pass {args}; use exact values."))
    return out


def test_gate_drops_the_leaking_entries_and_passes(
    federation: Federation, target: AuditTarget, embedder: CachingEmbedder
) -> None:
    hospital = federation.hospitals[0]
    leaks = [copied(e) for e in hospital.members[:3]]
    compendium = Compendium("h01", tuple(generic(hospital.tools) + leaks))
    decision = run_gate(compendium, target, embedder=embedder, config=CONFIG)
    assert decision.passed
    assert set(decision.removed_entry_ids) == {e.entry_id for e in leaks}
    assert {f.code for f in decision.findings_before} >= {"pii"}
    assert decision.findings_after == ()
    assert decision.after.pii_hits == ()
    assert len(decision.compendium.entries) == len(compendium.entries) - 3


def test_gate_blocks_when_the_whole_compendium_leaks(
    federation: Federation, target: AuditTarget, embedder: CachingEmbedder
) -> None:
    hospital = federation.hospitals[0]
    compendium = Compendium(
        "h01", tuple(generic(hospital.tools)[:4] + [copied(e) for e in hospital.members])
    )
    with pytest.raises(GateBlockedError, match="as a whole leaks"):
        run_gate(compendium, target, embedder=embedder, config=CONFIG)
    decision = run_gate(compendium, target, embedder=embedder, config=CONFIG, strict=False)
    assert not decision.passed
    assert decision.removed_entry_ids == ()
    assert decision.after.attacks["lexical_longest_run"].metrics.auc >= 0.9


def test_gate_blocks_leakage_it_cannot_attribute_to_entries(
    federation: Federation, target: AuditTarget, embedder: CachingEmbedder
) -> None:
    compendium = Compendium("h01", tuple(generic(federation.hospitals[0].tools)))
    # a limit below chance with a test that always rejects: nothing can meet it
    impossible = ReleasePolicy(max_mi_auc=0.0, max_tpr_at_low_fpr=0.0, false_block_rate=0.99)
    with pytest.raises(GateBlockedError, match="not attributable"):
        run_gate(compendium, target, embedder=embedder, config=CONFIG, policy=impossible)


def test_gate_hands_leaking_entries_to_the_regenerate_callback(
    federation: Federation, target: AuditTarget, embedder: CachingEmbedder
) -> None:
    hospital = federation.hospitals[0]
    leaks = [copied(e) for e in hospital.members[5:7]]
    seen: list[tuple[Entry, ...]] = []

    def regenerate(kept: Compendium, dropped: tuple[Entry, ...]) -> Compendium:
        seen.append(dropped)
        rewrites = tuple(
            validate_entry(e.tool, "pitfall", f"Check the {e.tool} arguments before calling.")
            for e in dropped
        )
        return kept.with_entries(kept.entries + rewrites)

    compendium = Compendium("h01", tuple(generic(hospital.tools) + leaks))
    decision = run_gate(compendium, target, embedder=embedder, config=CONFIG, regenerate=regenerate)
    assert decision.passed and decision.regenerated
    assert [set(d) for d in seen] == [set(leaks)]
    assert len(decision.compendium.entries) == len(compendium.entries)


def test_findings_cover_every_figure_and_say_what_to_do(
    federation: Federation, target: AuditTarget, embedder: CachingEmbedder
) -> None:
    from fical_secure.audit.artefact import from_compendium
    from fical_secure.audit.auditor import audit_artefact

    hospital = federation.hospitals[0]
    compendium = Compendium("h01", tuple(copied(e) for e in hospital.members))
    result = audit_artefact(from_compendium(compendium), target, embedder=embedder, config=CONFIG)
    findings = check_release([result], ReleasePolicy())
    assert {f.code for f in findings} == {"membership_auc", "tpr_at_low_fpr", "pii"}
    assert sum(f.code == "pii" for f in findings) == len(result.pii_hits) > 40
    assert all(f.remedy for f in findings)
    pii = next(f for f in findings if f.code == "pii")
    assert "[" in pii.message  # the offending entry, its value masked


def _result_with_scores(members: list[float], nonmembers: list[float]) -> AuditResult:
    import numpy as np

    from fical_secure.audit.attacks import SIG_MAX_COSINE, run_attacks

    attacks = run_attacks(
        {SIG_MAX_COSINE: np.array(members)},
        {SIG_MAX_COSINE: np.array(nonmembers)},
        n_resamples=300,
    )
    return AuditResult("h01", "compendium", ("e1",), attacks, (), (), 0, (), 0.0)


def test_auc_over_the_limit_blocks_only_when_the_permutation_test_rejects() -> None:
    # 12 a side, AUC ~0.65: over the limit, but chance produces it often (p ~ 0.1)
    members = [0.1, 0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.97, 0.12]
    nonmembers = [0.05, 0.15, 0.2, 0.25, 0.35, 0.4, 0.45, 0.55, 0.65, 0.72, 0.88, 0.96]
    result = _result_with_scores(members, nonmembers)
    assert result.attacks["embedding_max_cosine"].metrics.auc > 0.6
    assert check_release([result], ReleasePolicy(max_mi_auc=0.6)) == []
    lax = ReleasePolicy(max_mi_auc=0.6, false_block_rate=0.5)  # a test that rejects at p ~ 0.1
    assert "membership_auc" in {f.code for f in check_release([result], lax)}
    separated = _result_with_scores(
        [float(x) for x in range(20, 32)], [float(x) for x in range(12)]
    )
    codes = {f.code for f in check_release([separated], ReleasePolicy())}
    assert codes == {"membership_auc", "tpr_at_low_fpr"}


def test_policy_refuses_out_of_range_values() -> None:
    for bad in (
        {"max_mi_auc": 1.5},
        {"false_block_rate": 0.0},
        {"permutations": 5},
        {"max_verbatim_pii_hits": -1},
        {"max_remediation_rounds": 0},
    ):
        with pytest.raises(ConfigError):
            ReleasePolicy(**bad)  # type: ignore[arg-type]
