"""Attack plugins: each detects members copied into a release and stays near chance without.

The LLM attacks (canary exposure, PII extraction and its ROUGE-L figure) run
here on :class:`fake_llm.CopyingLLM`, an idealised in-context copier: what is
tested is that each plugin measures a copy when the context holds one and
chance when it does not, which does not depend on the packaged model (its
behaviour is covered by the slow tests in ``test_attacks_suite.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_llm import CopyingLLM
from leakage_records import leakage_record

from fical_secure.attacks.context import ModeContext
from fical_secure.attacks.modes import Release, SharingMode
from fical_secure.attacks.plugins import (
    SUITES,
    Attribution,
    CanaryExposure,
    MembershipInference,
    PIIExtraction,
    ToolUtility,
    VerbatimPII,
    describe,
)
from fical_secure.attacks.report import ExposureTarget, Target, TprTarget
from fical_secure.attacks.runner import (
    DEFAULT_DP,
    AttackSettings,
    release_profiles,
    run_attacks,
)
from fical_secure.attacks.summary import summary_markdown
from fical_secure.attacks.targets import leakage_targets
from fical_secure.audit.artefact import SharedArtefact, from_samples
from fical_secure.audit.auditor import AuditConfig
from fical_secure.audit.signals import CachingEmbedder
from fical_secure.config.profile import load_profile, resolve_profile
from fical_secure.data.generator import generate_federation
from fical_secure.data.schema import Federation
from fical_secure.errors import ConfigError
from fical_secure.release.policy import ReleasePolicy
from fical_secure.tlu.embedding import default_embedder

CONFIG = AuditConfig(use_llm=False, n_bootstrap=50)
LLM_CONFIG = AuditConfig(llm_records_per_split=4, n_bootstrap=50, max_canaries=2, canary_controls=2)


@pytest.fixture(scope="module")
def federation() -> Federation:
    # extra non-members: the first 12 play the game, the rest build the null release
    return generate_federation(2, seed=3, episodes_per_hospital=12, nonmembers_per_hospital=24)


@pytest.fixture(scope="module")
def embedder() -> CachingEmbedder:
    return CachingEmbedder(default_embedder())


def _context(
    federation: Federation,
    embedder: CachingEmbedder,
    *,
    copy: bool,
    llm: CopyingLLM | None = None,
) -> ModeContext:
    game = generate_federation(2, seed=3, episodes_per_hospital=12, nonmembers_per_hospital=24)
    releases = {}
    for full, h in zip(federation.hospitals, game.hospitals, strict=True):
        shared = list(full.members) if copy else list(full.nonmembers[12:])
        releases[h.hospital_id] = Release(
            from_samples(h.hospital_id, shared), tuple(e.call.tool for e in shared)
        )
        h.nonmembers = h.nonmembers[:12]  # the game: members vs the first 12 non-members
    sharing = SharingMode.per_client(releases)
    config = CONFIG if llm is None else LLM_CONFIG
    return ModeContext("test", sharing, game, embedder, llm, config, ReleasePolicy())


def test_membership_inference_sees_copied_members_and_not_a_release_without_them(
    federation: Federation, embedder: CachingEmbedder
) -> None:
    leak = MembershipInference().run(_context(federation, embedder, copy=True))
    null = MembershipInference().run(_context(federation, embedder, copy=False))
    assert leak["mia_auc"]["value"] > 0.95 and leak["membership_findings"] > 0
    assert leak["tpr_at_low_fpr"]["value"] > 0.9
    # the pooled game: both clients' 12 non-members, still < 100 for a 1% FPR
    assert leak["tpr_at_low_fpr"]["n_nonmembers"] == 24 and not leak["tpr_at_low_fpr"]["resolved"]
    assert "lowest resolved" in leak["tpr_at_low_fpr"]["label"]
    assert leak["mia_auc_per_client"]["n_nonmembers"] == 12
    assert leak["mia_auc_per_client"]["value"] >= leak["mia_auc"]["value"] - 0.05
    assert null["mia_auc"]["value"] < 0.7 and null["membership_findings"] == 0


def test_the_headline_figure_is_a_maximum_over_attacks_and_says_so(
    federation: Federation, embedder: CachingEmbedder
) -> None:
    null = MembershipInference().run(_context(federation, embedder, copy=False))
    by_attack = null["mia_by_attack"]
    for figure, value_key, p_key in (
        ("mia_auc", "auc", "auc_p_value"),
        ("tpr_at_low_fpr", "tpr_at_1pct_fpr", "tpr_p_value"),
    ):
        head = null[figure]
        assert head["max_over_attacks"] == len(by_attack) >= 2
        # the reported attack is one of those listed, with its own uncorrected p-value
        assert by_attack[head["attack"]][p_key] == head["p_value"]
        assert head["p_value_bonferroni"] == round(min(1.0, head["p_value"] * len(by_attack)), 4)
        if figure == "mia_auc":  # never lowered: the largest of the attacks' figures
            assert head["value"] == max(a[value_key] for a in by_attack.values())


def test_verbatim_pii_is_found_only_when_members_are_copied(
    federation: Federation, embedder: CachingEmbedder
) -> None:
    assert VerbatimPII().run(_context(federation, embedder, copy=True))["verbatim_pii"] > 10
    assert VerbatimPII().run(_context(federation, embedder, copy=False))["verbatim_pii"] == 0


def test_canary_exposure_is_high_for_copied_members_and_near_chance_without(
    federation: Federation, embedder: CachingEmbedder
) -> None:
    llm = CopyingLLM()
    leak = CanaryExposure().run(_context(federation, embedder, copy=True, llm=llm))
    null = CanaryExposure().run(_context(federation, embedder, copy=False, llm=llm))
    leak_bits, null_bits = leak["canary_exposure_bits"], null["canary_exposure_bits"]
    assert leak_bits["n_canaries"] == null_bits["n_canaries"] == 4  # two per client
    assert leak_bits["n_controls"] == null_bits["n_controls"] == 8  # two per canary
    assert leak_bits["n_candidates"] == 15 and leak_bits["statistic"].startswith("mean")
    # the figure is the mean, with its CI; the max sits beside it
    assert leak_bits["value"] > 10.0  # beyond the 4-bit rank cap: the fit
    assert leak_bits["ci95"][0] <= leak_bits["value"] <= leak_bits["max"]
    # the controls were never written: a copier leaves them at chance, far below the canaries
    assert leak_bits["control_mean"] < 3.0
    assert leak_bits["planted_minus_control"]["ci95"][0] > 5.0
    assert leak_bits["p_value_max"] < 0.001
    # an unseen canary ranks uniformly among 15 candidates: about 1.4 bits on average
    assert null_bits["value"] < 3.0 and null_bits["control_mean"] < 3.0
    low, high = null_bits["planted_minus_control"]["ci95"]
    assert low < 0.0 < high  # the planted secret is scored like a secret never written


def test_pii_extraction_and_rouge_l_see_copied_members_and_chance_without(
    federation: Federation, embedder: CachingEmbedder
) -> None:
    llm = CopyingLLM()
    leak = PIIExtraction().run(_context(federation, embedder, copy=True, llm=llm))
    null = PIIExtraction().run(_context(federation, embedder, copy=False, llm=llm))
    assert leak["pii_extraction_rate"]["n_targets"] == 8  # four a client
    assert leak["pii_extraction_rate"]["value"] >= 0.5
    assert null["pii_extraction_rate"]["value"] == 0.0
    rouge, rouge_null = leak["rougeL_extraction"], null["rougeL_extraction"]
    assert rouge["n_targets"] == 8
    assert rouge["value"] >= rouge["chance"] + 0.5
    assert rouge["ci95"][0] <= rouge["value"] <= rouge["ci95"][1]
    assert rouge_null["value"] <= rouge_null["chance"] + 0.1


def test_attribution_names_the_sender_and_content_alone_beats_chance_when_mixes_differ(
    federation: Federation, embedder: CachingEmbedder
) -> None:
    ctx = _context(federation, embedder, copy=True)
    figures = Attribution().run(ctx)
    best, content = figures["attribution_accuracy"], figures["attribution_content_accuracy"]
    assert best["channel"] == "sender" and best["value"] == 1.0  # the server opens signed releases
    assert content["chance"] == 0.5 and content["n_items"] == 24
    assert content["value"] > content["chance"]  # tool mixes differ between clients
    low, high = content["ci95"]
    assert low <= content["value"] <= high
    utility = ToolUtility().run(ctx)["tool_accuracy"]
    assert 0.0 < utility["value"] <= 1.0 and utility["n_requests"] == len(federation.eval_requests)


def test_an_artefact_two_modes_share_is_audited_once_and_a_different_one_afresh(
    federation: Federation, embedder: CachingEmbedder
) -> None:
    plain = _context(federation, embedder, copy=True)
    same = _context(federation, embedder, copy=True)
    other = _context(federation, embedder, copy=False)
    same.memo = other.memo = plain.memo
    first = plain.audits()
    assert all(same.audits()[c] is first[c] for c in first)
    assert all(other.audits()[c] is not first[c] for c in first)


def test_an_audit_with_the_llm_is_never_reused_for_one_without_and_back(
    federation: Federation, embedder: CachingEmbedder
) -> None:
    with_llm = _context(federation, embedder, copy=True, llm=CopyingLLM())
    without = _context(federation, embedder, copy=True)
    without.memo = with_llm.memo
    scored = with_llm.audits()
    plain = without.audits()
    for cid in scored:
        assert plain[cid] is not scored[cid]
        assert any(name.startswith("llm_") for name in scored[cid].attacks)
        assert not any(name.startswith("llm_") for name in plain[cid].attacks)


def test_every_plugin_names_its_game_and_a_shipped_threat_model() -> None:
    for plugins in SUITES.values():
        for plugin in plugins:
            assert plugin.name and plugin.game and plugin.threat_model
        rows = describe(plugins)
        for row in rows:
            assert row["threat_model"] == "none" or row["threat_model_title"].startswith(
                "Threat model:"
            )


def test_a_plugin_naming_an_unknown_threat_model_is_refused_before_anything_runs() -> None:
    rogue = Attribution(threat_model="no-such-adversary")
    with pytest.raises(ConfigError, match="no-such-adversary"):
        describe([rogue])


def test_targets_are_recorded_met_or_not_and_summarised() -> None:
    resolved = {"resolved": True, "n_nonmembers": 300, "fpr": 0.01, "label": "TPR@1%FPR"}
    rows = {
        "sample_sharing": {
            "mia_auc": {"value": 0.97, "ci95": [0.9, 1.0]},
            "tool_accuracy": {"value": 0.8, "ci95": [0.7, 0.9]},
        },
        "compendium_hardened": {
            "mia_auc": {"value": 0.54, "ci95": [0.49, 0.61]},
            "tpr_at_low_fpr": {"value": 0.0, **resolved},
            "verbatim_pii": 0,
            "tool_accuracy": {"value": 0.76, "ci95": [0.6, 0.9]},
            "n_items": 10,
        },
        # every client's DP selection kept nothing: nothing to infer membership from
        "compendium_dp": {
            "mia_auc": None,
            "tpr_at_low_fpr": None,
            "n_items": 0,
            "verbatim_pii": None,
            "canary_exposure_bits": None,
        },
    }
    targets = leakage_targets(rows)
    assert targets["sample_sharing mia_auc"].met
    assert targets["hardened mia_auc"].met
    assert not targets["hardened mia_auc ci95 upper"].met  # 0.61 > 0.60: not resolved enough
    assert targets["hardened tpr_at_1pct_fpr"].met and targets["hardened verbatim_pii"].met
    tpr = targets["hardened tpr_at_1pct_fpr"]
    assert isinstance(tpr, TprTarget) and tpr.to_dict()["n_nonmembers"] == 300
    assert targets["hardened verbatim_pii"].to_dict() == {
        "target": "== 0",
        "measured": 0,
        "met": True,
    }
    assert not targets["hardened canary_exposure_bits"].met  # not measured is not met
    # the canary bound holds on the mean: one canary at 4 bits among 30 does not fail it
    cell = {"value": 1.5, "max": 4.0, "p_value_max": 0.85, "control_mean": 1.4, "n_canaries": 30}
    rows["compendium_hardened"]["canary_exposure_bits"] = cell
    canary = leakage_targets(rows)["hardened canary_exposure_bits"]
    assert isinstance(canary, ExposureTarget) and canary.met and canary.measured == 1.5
    assert canary.to_dict()["max"] == 4.0 and "mean" in canary.target
    rows["compendium_hardened"]["canary_exposure_bits"] = {**cell, "value": 2.01}
    assert not leakage_targets(rows)["hardened canary_exposure_bits"].met  # a mean above 2 fails
    assert targets["hardened tool_accuracy / sample_sharing"].measured == 0.95
    assert targets["dp mia_auc"] == Target("-", "nothing released", met=True)
    # a TPR read at fewer than 100 non-members does not resolve 1%: not met, however low
    rows["compendium_hardened"]["tpr_at_low_fpr"] = {
        "value": 0.0,
        "resolved": False,
        "n_nonmembers": 24,
        "fpr": 0.0417,
        "label": "x",
    }
    rows["sample_sharing"]["mia_auc"]["value"] = 0.94
    targets = leakage_targets(rows)
    assert not targets["hardened tpr_at_1pct_fpr"].met
    assert not targets["sample_sharing mia_auc"].met  # the leak must show: >= 0.95
    # 330 non-members put no point at 1%: read at 4/330 (above 1%), the figure bounds the
    # TPR at 1% from above, so a bound met there is met; one read below 1% bounds nothing
    above = {"resolved": False, "n_nonmembers": 330, "fpr": 4 / 330, "label": "x"}
    rows["compendium_hardened"]["tpr_at_low_fpr"] = {"value": 0.0167, **above}
    assert leakage_targets(rows)["hardened tpr_at_1pct_fpr"].met
    rows["compendium_hardened"]["tpr_at_low_fpr"] = {"value": 0.0212, **above}
    assert not leakage_targets(rows)["hardened tpr_at_1pct_fpr"].met
    rows["compendium_hardened"]["tpr_at_low_fpr"] = {"value": 0.0, **above, "fpr": 3 / 330}
    assert not leakage_targets(rows)["hardened tpr_at_1pct_fpr"].met
    record = leakage_record(rows, targets)
    text = summary_markdown(record)
    assert "| compendium_hardened | 0.540 [0.49, 0.61]" in text and "| no |" in text
    written = record.to_dict()
    assert written["targets"]["dp mia_auc"] == {
        "target": "-",
        "measured": "nothing released",
        "met": True,
    }
    assert written["rows"] is rows and written["federation"] == {
        "clients": 2,
        "episodes_per_client": 4,
        "seed": 0,
        "eval_requests": 0,
    }


def test_the_dp_row_profile_is_derived_from_the_hardened_one(tmp_path: Path) -> None:
    k_only, dp = release_profiles("strict", None, tmp_path)
    assert k_only == "strict" and load_profile(resolve_profile("strict")).release.dp is None
    policy = load_profile(Path(dp)).release
    assert policy.dp is not None and policy.dp.epsilon == DEFAULT_DP["epsilon"]
    assert policy.max_mi_auc == load_profile(resolve_profile("strict")).release.max_mi_auc
    # a hardened profile that already selects by DP runs as the DP row; k-only drops its dp
    k_only2, dp2 = release_profiles(dp, None, tmp_path / "again")
    assert dp2 == dp and load_profile(Path(k_only2)).release.dp is None
    # a DP profile named explicitly is used as given, checked before anything runs
    assert release_profiles("strict", dp, tmp_path) == ("strict", dp)
    with pytest.raises(ConfigError):
        release_profiles("strict", str(tmp_path / "missing.yaml"), tmp_path)


def test_unknown_suite_or_too_small_a_federation_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown suite"):
        run_attacks(AttackSettings(out=tmp_path, suite="all-of-them"))
    with pytest.raises(ConfigError, match="--clients must be >= 2"):
        run_attacks(AttackSettings(out=tmp_path, clients=1))
    with pytest.raises(ConfigError, match="--llm-rows must be one of release, all"):
        run_attacks(AttackSettings(out=tmp_path, llm_rows="some"))
    for records in (0, 111):
        with pytest.raises(ConfigError, match="--llm-records must be between 1 and --episodes"):
            run_attacks(AttackSettings(out=tmp_path, llm_records=records))
    for canaries in (-1, 110):  # every member hosting a canary leaves no one to play the game
        with pytest.raises(ConfigError, match="--canaries must be between 0 and --episodes - 1"):
            run_attacks(AttackSettings(out=tmp_path, canaries=canaries))
    with pytest.raises(ConfigError, match="canary_candidates"):
        run_attacks(AttackSettings(out=tmp_path, canary_candidates=0))


def _release_of(federation: Federation, texts: list[str], tools: list[str]) -> SharingMode:
    owner = federation.hospitals[0].hospital_id
    items = SharedArtefact(
        "samples", owner, tuple(f"i{k}" for k in range(len(texts))), tuple(texts)
    )
    return SharingMode.per_client({owner: Release(items, tuple(tools))})


def test_tool_utility_is_the_tlu_solver_on_the_docs_plus_the_release(
    federation: Federation, embedder: CachingEmbedder
) -> None:
    ctx = _context(federation, embedder, copy=True)
    requests = ctx.federation.eval_requests
    texts, gold = [r.request for r in requests], [r.gold.tool for r in requests]
    names = sorted({spec.name for spec in ctx.federation.catalogue})
    wrong = [names[(names.index(t) + 1) % len(names)] for t in gold]
    figures = {}
    for case, sharing in {
        "nothing": SharingMode.per_client({}),
        "right": _release_of(ctx.federation, texts, gold),
        "wrong": _release_of(ctx.federation, texts, wrong),
    }.items():
        ctx.sharing = sharing
        figures[case] = ToolUtility().run(ctx)["tool_accuracy"]
    docs = figures["nothing"]["docs_only"]
    # nothing released: the agent has the docs, no more and no less
    assert figures["nothing"]["value"] == docs and figures["nothing"]["items_only"] == 0.0
    assert 0.3 < docs < 1.0 and all(f["docs_only"] == docs for f in figures.values())
    # the release is what the agent retrieves from: right labels lift it, wrong ones mislead it
    assert figures["right"]["value"] >= 0.95 > docs and figures["right"]["items_only"] == 1.0
    assert figures["wrong"]["value"] < docs and figures["wrong"]["items_only"] == 0.0
    low, high = figures["right"]["ci95"]
    assert low <= figures["right"]["value"] <= high


def test_summary_renders_a_figure_read_without_an_interval() -> None:
    # a TPR read at the lowest FPR the non-members resolve has no CI (a small quick run)
    rows = {"sample_sharing": {"tpr_at_low_fpr": {"value": 1.0, "ci95": None, "label": "x"}}}
    text = summary_markdown(leakage_record(rows, {}))
    assert "| sample_sharing | n/a | 1.000 (x) | n/a |" in text
