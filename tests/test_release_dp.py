"""DP release mode: OpenDP partition selection of claims, contribution bounding, the budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import opendp.prelude as opendp
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fical_secure.compliance.runner import privacy_budget
from fical_secure.config.profile import BUILTIN_DIR, load_profile
from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.schema import Episode, HospitalData, ToolCall
from fical_secure.errors import ConfigError, PipelineError, PrivacyBudgetExhausted
from fical_secure.kcg.claims import ToolCue, ValueAlias
from fical_secure.kcg.dp_select import (
    PublicFilter,
    ballot,
    bounded_counts,
    capped_votes,
    select_claims,
)
from fical_secure.kcg.vote_order import VoteOrder
from fical_secure.pipeline.client import KCGStage
from fical_secure.pipeline.client_state import ClientRoundState, ClientSettings
from fical_secure.release.budget import BudgetLedger
from fical_secure.release.dp import MAP_OFFSET, calibrate, compose, privacy
from fical_secure.release.policy import DPPolicy
from fical_secure.tlu.embedding import default_embedder

ENCODER = default_embedder()  # the packaged MiniLM: the public encoder of the vote order
ORDER = VoteOrder.of(ENCODER, CATALOGUE)

CHEM7 = ValueAlias("lab_results_lookup", "test", "chem-7", "BMP")


def _lab(i: int, request: str, test: str) -> Episode:
    call = ToolCall("lab_results_lookup", {"mrn": f"MRN-{i:07d}", "test": test})
    return Episode(f"e{i}", "h01", request, call, "ok", "ok", "member")


def _episodes(n_chem7: int) -> list[Episode]:
    """``n_chem7`` patients who write "chem-7" for BMP, and others who name their test."""
    eps = [_lab(i, f"Pull the chem-7 for MRN-{i:07d}.", "BMP") for i in range(n_chem7)]
    tests = ("CBC", "TSH", "INR") * 5
    eps += [_lab(1000 + i, f"Pull the {t} for MRN-{1000 + i:07d}.", t) for i, t in enumerate(tests)]
    return eps


def _policy(epsilon: float, *, bound: int = 2, budget: float | None = None) -> DPPolicy:
    return DPPolicy(epsilon, 1e-6, bound, budget if budget is not None else epsilon)


def _opendp_laplace_threshold(scale: float, threshold: int) -> opendp.Measurement:
    """OpenDP's mechanism itself, built here rather than through the module under test."""
    opendp.enable_features("contrib")
    return opendp.m.make_laplace_threshold(
        opendp.map_domain(opendp.atom_domain(T=str), opendp.atom_domain(T=int)),
        opendp.l01inf_distance(opendp.absolute_distance(T=int)),
        scale=scale,
        threshold=threshold,
    )


def test_calibration_is_opendps_laplace_threshold_at_the_policys_epsilon_and_delta() -> None:
    policy = _policy(1.0)
    cal = calibrate(policy)
    # 2 claims: l1 2, and the capped policy can push both onto one key of a later subject's
    one_subject = (2, 2, 2)
    # OpenDP's own map, read one below the threshold the mechanism runs at
    epsilon, delta = _opendp_laplace_threshold(cal.scale, cal.threshold - MAP_OFFSET).map(
        one_subject
    )
    assert epsilon <= policy.epsilon and delta <= policy.delta
    assert (
        (cal.epsilon, cal.delta)
        == (epsilon, delta)
        == privacy(cal.scale, cal.threshold, one_subject)
    )
    # the least threshold: one lower would not meet delta
    assert privacy(cal.scale, cal.threshold - 1, one_subject)[1] > policy.delta


def test_the_reported_delta_bounds_what_opendps_mechanism_releases_of_one_subjects_key() -> None:
    """Sampled, not assumed: OpenDP 0.16 keeps a noisy count equal to the threshold, so its
    map at the threshold under-counts delta (opendp/opendp#2922); ours reads it one below.

    scale 0.5, threshold 4: a key one subject holds is kept when Z >= 3, with probability
    e^-6 / (1 + e^-2) = 2.2e-3 (~440 of 200,000 keys); OpenDP's map at 4 says 3.0e-4 (~59).
    """
    scale, threshold, one_key = 0.5, 4, (1, 1, 1)
    reported = privacy(scale, threshold, one_key)[1]
    mechanism = _opendp_laplace_threshold(scale, threshold)
    upstream = mechanism.map(one_key)[1]
    keys = {f"k{i}": 1 for i in range(2000)}
    draws = 100
    kept = sum(len(mechanism(keys)) for _ in range(draws))
    n = draws * len(keys)
    sd = (n * reported * (1 - reported)) ** 0.5
    assert kept <= n * reported + 5 * sd  # the delta we report bounds the release
    assert kept >= n * reported - 5 * sd  # and is tight: the map one below is exact here
    assert kept > 3 * n * upstream  # OpenDP's map at the threshold would under-report it


def test_large_epsilon_keeps_the_well_supported_alias_and_cue() -> None:
    chosen = select_claims(
        _episodes(60), CATALOGUE, calibrate(_policy(50.0)), seed=0, encoder=ENCODER
    )
    claims = [c for c, _ in chosen.claims]
    assert CHEM7 in claims
    cues = [c for c in claims if isinstance(c, ToolCue)]
    assert cues and "chem-7" in cues[0].phrases
    # "pull" is in every lab request: the released cue count shows it is no alias of BMP
    assert all(not (isinstance(c, ValueAlias) and c.phrase == "pull") for c in claims)


def test_tiny_epsilon_drops_even_the_well_supported_claims() -> None:
    chosen = select_claims(
        _episodes(60), CATALOGUE, calibrate(_policy(0.01)), seed=0, encoder=ENCODER
    )
    assert chosen.claims == () and chosen.released_keys == 0


def test_a_claim_one_patient_shows_many_times_counts_once() -> None:
    one_patient = [
        Episode(
            f"e{i}",
            "h01",
            "Pull the chem-7 please.",
            _lab(i, "", "BMP").call,
            "ok",
            "ok",
            "member",
            subject="patient-1",
        )
        for i in range(30)
    ]
    counts = bounded_counts(
        one_patient, CATALOGUE, max_claims_per_subject=3, seed=0, order=ORDER, cap=None
    )
    assert set(counts.values()) == {1} and len(counts) <= 3
    chosen = select_claims(one_patient, CATALOGUE, calibrate(_policy(8.0)), seed=0, encoder=ENCODER)
    assert chosen.claims == ()


@pytest.mark.parametrize("bound", [1, 2, 5])
def test_each_subject_adds_to_at_most_max_claims_per_subject_claims(bound: int) -> None:
    episodes = [
        _lab(i, f"Pull the chem-7 stat urgent renal lytes for MRN-{i:07d}.", "BMP")
        for i in range(12)
    ]
    counts = bounded_counts(
        episodes, CATALOGUE, max_claims_per_subject=bound, seed=3, order=ORDER, cap=4
    )
    assert sum(counts.values()) == bound * 12  # every patient has more candidates than the bound
    assert max(counts.values()) <= 4  # no key past the cap: the fifth voter goes on to a cue
    again = bounded_counts(
        episodes, CATALOGUE, max_claims_per_subject=bound, seed=3, order=ORDER, cap=4
    )
    assert again == counts  # the choice is deterministic for a seed


def test_a_subjects_votes_go_to_the_phrases_nearest_its_claims_public_anchor() -> None:
    # one patient, one vote, many one-word candidates: the vote goes to a word the public
    # encoder places near the tool's document or the test's value, not to filler or a name
    episode = _lab(7, "Marisol asked: pull the potassium labs quickly, thanks.", "BMP")
    counts = bounded_counts(
        [episode], CATALOGUE, max_claims_per_subject=1, seed=0, order=ORDER, cap=None
    )
    [(key, n)] = counts.items()
    assert n == 1 and json.loads(key)[-1] in {"labs", "potassium"}
    # an alias vote is anchored on the enum value it stands for
    alias = ORDER.relevance(json.dumps(["alias", "lab_results_lookup", "test", "INR", "protime"]))
    other = ORDER.relevance(json.dumps(["alias", "lab_results_lookup", "test", "INR", "tuesday"]))
    assert alias > other


def test_a_subjects_ranking_does_not_depend_on_any_other_subjects_data() -> None:
    episodes = [
        _lab(i, f"Pull the chem-7 stat urgent renal lytes for MRN-{i:07d}.", "BMP")
        for i in range(6)
    ]
    others = [_lab(100 + i, f"Wanted the TSH and free T4 panel, {i}.", "TSH") for i in range(9)]
    # no cap: each subject's votes are its own ranking's head, whoever else votes
    alone = bounded_counts(
        episodes, CATALOGUE, max_claims_per_subject=2, seed=1, order=ORDER, cap=None
    )
    # a fresh order that has encoded the other subjects' phrases first
    fresh = VoteOrder.of(ENCODER, CATALOGUE)
    bounded_counts(others, CATALOGUE, max_claims_per_subject=2, seed=1, order=fresh, cap=None)
    mixed = bounded_counts(
        [*others, *episodes], CATALOGUE, max_claims_per_subject=2, seed=1, order=fresh, cap=None
    )
    assert all(mixed[k] == n for k, n in alone.items() if k in mixed) and set(alone) <= set(mixed)


@pytest.mark.parametrize(
    ("tool", "phrase", "dropped"),
    [
        ("allergy_check", "address", True),  # announces an identifier, documents no tool
        ("vitals_lookup", "ssn", True),
        ("icd10_lookup", "born", True),
        ("glucose_converter", "callback", True),
        ("icd10_lookup", "code", False),  # an identifier word, but the tool's own doc word
        ("dosage_calculator", "aspirin", True),  # a value four tools take
        ("drug_interaction_check", "warfarin and aspirin", True),
        ("refill_prescription", "plavix", False),  # a brand name: no tool's value
        ("lab_results_lookup", "troponin", False),  # a value only this tool takes
        ("imaging_order", "knee", False),  # inside a value ("osteoarthritis of the knee"), not one
        ("lab_results_lookup", "chem-7", False),
    ],
)
def test_public_filter_drops_only_phrases_public_knowledge_shows_are_no_evidence(
    tool: str, phrase: str, dropped: bool
) -> None:
    assert PublicFilter.of(CATALOGUE).uninformative(tool, phrase) is dropped


def test_no_subject_votes_for_a_phrase_the_public_filter_drops() -> None:
    episodes = [
        Episode(
            f"a{i}",
            "h01",
            f"Check the aspirin allergy for MRN-{i:07d}; address on file, born 1950.",
            ToolCall("allergy_check", {"mrn": f"MRN-{i:07d}", "drug": "aspirin"}),
            "ok",
            "ok",
            "member",
        )
        for i in range(6)
    ]
    counts = bounded_counts(
        episodes, CATALOGUE, max_claims_per_subject=50, seed=0, order=ORDER, cap=None
    )
    phrases = {json.loads(k)[-1] for k in counts}
    assert "allergy" in phrases  # the tool's own word stays a candidate
    assert "address" not in phrases and "born" not in phrases  # identifier words only
    assert "address on file" in phrases  # "file" announces no identifier: kept
    assert not any("aspirin" in p.split() for p in phrases)


def test_a_vote_that_would_pass_the_cap_goes_to_the_subjects_next_key() -> None:
    ballots = [["a", "b", "c"]] * 5 + [["a", "c"]]
    assert capped_votes(ballots, 1, cap=2) == {"a": 2, "b": 2, "c": 2}
    assert capped_votes(ballots, 1, cap=None) == {"a": 6}
    assert capped_votes(ballots, 2, cap=3) == {"a": 3, "b": 3, "c": 3}  # 12 votes, 3 left out
    assert capped_votes([["a"]] * 4, 1, cap=2) == {"a": 2}  # a subject with no key left abstains


def test_a_vote_passed_on_from_a_full_key_goes_to_a_cue_never_to_a_later_alias() -> None:
    alias, cue, other_cue, template_alias = (
        json.dumps(["alias", "t", "a", "V", "chem"]),
        json.dumps(["cue", "t", "chem"]),
        json.dumps(["cue", "t", "pull"]),
        json.dumps(["alias", "t", "a", "V", "pull"]),
    )
    ranked = [alias, template_alias, cue, other_cue]
    assert list(ballot(iter(ranked), 1)) == [alias, cue, other_cue]
    assert list(ballot(iter(ranked), 2)) == [alias, template_alias, cue, other_cue]
    counts = capped_votes([ballot(iter(ranked), 1) for _ in range(9)], 1, cap=3)
    assert counts == {alias: 3, cue: 3, other_cue: 3}


_KEYS = st.sampled_from("abcdefgh")
_RANKING = st.lists(_KEYS, unique=True, max_size=6)


@given(
    ballots=st.lists(_RANKING, max_size=25),
    extra=_RANKING,
    where=st.integers(min_value=0),
    limit=st.integers(min_value=1, max_value=3),
    cap=st.integers(min_value=1, max_value=6),
)
@settings(max_examples=400, deadline=None)
def test_adding_one_subject_anywhere_moves_the_capped_counts_by_at_most_its_bound(
    ballots: list[list[str]], extra: list[str], where: int, limit: int, cap: int
) -> None:
    # the sensitivity OpenDP's threshold is calibrated to (release/dp.py _d_in): l1 <= bound
    # (so l0 and linf too), however the added subject's votes push the later ones along
    at = where % (len(ballots) + 1)
    without = capped_votes(ballots, limit, cap)
    with_one = capped_votes([*ballots[:at], extra, *ballots[at:]], limit, cap)
    diff = [with_one.get(k, 0) - without.get(k, 0) for k in set(without) | set(with_one)]
    assert sum(abs(d) for d in diff) <= limit


def _profile(tmp_path: Path, dp: object) -> Path:
    raw = yaml.safe_load((BUILTIN_DIR / "strict.yaml").read_text())
    raw["release"]["dp"] = dp
    path = tmp_path / "dp-profile.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_profile_validation_lists_every_dp_problem(tmp_path: Path) -> None:
    bad = {
        "epsilon": -1,
        "delta": 0.5,
        "max_claims_per_subject": 0,
        "budget_epsilon": "lots",
        "epsilonn": 1,
    }
    with pytest.raises(ConfigError) as err:
        load_profile(_profile(tmp_path, bad))
    message = str(err.value)
    for path in (
        "release.dp.epsilon:",
        "release.dp.delta:",
        "release.dp.max_claims_per_subject:",
        "release.dp.budget_epsilon:",
        "release.dp.epsilonn: unknown key",
    ):
        assert path in message, path
    assert "(5 problems)" in message
    with pytest.raises(ConfigError, match="budget_epsilon must be >= epsilon"):
        load_profile(
            _profile(
                tmp_path,
                {"epsilon": 2, "delta": 1e-6, "max_claims_per_subject": 1, "budget_epsilon": 1},
            )
        )


def test_a_profile_without_dp_keeps_k_only_selection(tmp_path: Path) -> None:
    state = _state(tmp_path, BUILTIN_DIR / "strict.yaml")
    KCGStage().run(state)
    assert state.report["kcg"]["selection"] == "k-support" and "dp" not in state.report
    assert not (tmp_path / "keys" / "dp-budget.json").exists()


def _state(tmp_path: Path, profile: Path) -> ClientRoundState:
    members = _episodes(60)
    hospital = HospitalData("h01", "h01", ("lab_results_lookup",), members, [])
    settings = ClientSettings(
        profile=str(profile), dp_ledger=tmp_path / "keys" / "dp-budget.json", progress=False
    )
    return ClientRoundState(hospital, settings)


def test_a_release_past_the_budget_is_refused_and_nothing_is_released(tmp_path: Path) -> None:
    dp = {"epsilon": 4.0, "delta": 1e-6, "max_claims_per_subject": 2, "budget_epsilon": 10.0}
    profile = _profile(tmp_path, dp)
    for spent in (4.0, 8.0):  # two rounds fit
        state = _state(tmp_path, profile)
        KCGStage().run(state)
        assert state.need_release().entries
        assert state.report["dp"]["epsilon_spent"] == pytest.approx(spent)
        assert state.report["dp"]["epsilon_left"] == pytest.approx(10.0 - spent)
        assert state.report["dp"]["epsilon_round"] == pytest.approx(4.0)
    state = _state(tmp_path, profile)
    with pytest.raises(PrivacyBudgetExhausted, match="only epsilon 2, ") as err:
        KCGStage().run(state)
    assert err.value.epsilon_left == pytest.approx(2.0)
    assert state.released is None and state.local is None and state.blocked
    with pytest.raises(PipelineError):
        state.need_release()
    assert state.report["dp"]["blocked"] and state.report["dp"]["epsilon_spent"] == 8.0
    ledger = json.loads((tmp_path / "keys" / "dp-budget.json").read_text())
    assert len(ledger["charges"]) == 2  # the refused round charged nothing


@pytest.mark.process
def test_composition_across_rounds_survives_a_client_restart(tmp_path: Path) -> None:
    path = tmp_path / "dp-budget.json"
    policy = _policy(1.0, budget=3.0)
    cal = calibrate(policy)
    BudgetLedger(path).charge(cal)
    BudgetLedger(path).charge(cal)  # a restarted client: a new object on the same file
    assert os.stat(path).st_mode & 0o777 == 0o600
    script = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from fical_secure.release.budget import BudgetLedger\n"
        "from fical_secure.release.policy import DPPolicy\n"
        "s = BudgetLedger(Path(sys.argv[1])).status(DPPolicy(1.0, 1e-6, 2, 3.0))\n"
        "print(json.dumps(s.to_dict()))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    status = json.loads(out.stdout)
    assert status["epsilon_spent"] == pytest.approx(2.0)
    assert status["delta_spent"] == pytest.approx(compose([cal, cal])[1])
    assert status["rounds_charged"] == 2 and status["epsilon_left"] == pytest.approx(1.0)
    BudgetLedger(path).check(policy, cal)  # a third round fits exactly
    BudgetLedger(path).charge(cal)
    with pytest.raises(PrivacyBudgetExhausted):
        BudgetLedger(path).check(policy, cal)


def test_a_malformed_ledger_is_an_error_never_an_empty_budget(tmp_path: Path) -> None:
    from fical_secure.errors import StoreError

    path = tmp_path / "dp-budget.json"
    path.write_text('{"format": "fical-secure dp-budget v1", "charges": [{"epsilon": 1}]}')
    with pytest.raises(StoreError):
        BudgetLedger(path).status(_policy(1.0))
    with pytest.raises(StoreError):
        BudgetLedger(path).charge(calibrate(_policy(1.0)))


def test_the_audit_report_shows_epsilon_per_round_spent_and_left(tmp_path: Path) -> None:
    dp = {"epsilon": 1.0, "delta": 1e-6, "max_claims_per_subject": 2, "budget_epsilon": 5.0}
    profile = load_profile(_profile(tmp_path, dp))
    shown = privacy_budget(profile, None)
    assert shown is not None and shown["per_round"]["epsilon"] == pytest.approx(1.0)
    assert privacy_budget(load_profile(BUILTIN_DIR / "strict.yaml"), None) is None


def test_a_patients_own_name_is_never_voted_for_even_when_many_share_it() -> None:
    from fical_secure.data.schema import PIIValue

    episodes = [
        Episode(
            f"e{i}",
            "h01",
            f"Pull the chem-7 for Marisol {i}.",
            _lab(i, "", "BMP").call,
            "ok",
            "ok",
            "member",
            pii=(PIIValue("PERSON", f"Marisol {i}", f"e{i}"),),
        )
        for i in range(40)
    ]
    counts = bounded_counts(
        episodes, CATALOGUE, max_claims_per_subject=50, seed=0, order=ORDER, cap=None
    )
    assert counts and not any("marisol" in key for key in counts)


def test_dp_signatures_come_from_the_catalogue_for_the_selected_tools_only() -> None:
    from fical_secure.kcg.knowledge import KnowledgeConfig, build_knowledge

    lone = Episode(
        "rare",
        "h01",
        "Check warfarin and aspirin.",
        ToolCall("drug_interaction_check", {"drug_a": "warfarin", "drug_b": "aspirin"}),
        "ok",
        "ok",
        "member",
    )
    episodes = [*_episodes(60), lone]
    # at epsilon 8 the threshold is above one patient: the lone call's tool stays out
    config = KnowledgeConfig(dp=calibrate(_policy(8.0)), paraphrase=False)
    comp = build_knowledge(
        episodes, CATALOGUE, None, client_id="h01", config=config, progress=False, encoder=ENCODER
    )
    assert [s.tool for s in comp.signatures] == ["lab_results_lookup"]
    with pytest.raises(ConfigError, match="sentence encoder"):
        build_knowledge(episodes, CATALOGUE, None, client_id="h01", config=config, progress=False)
    spec = next(s for s in CATALOGUE if s.name == "lab_results_lookup")
    assert comp.signatures[0].args == tuple((a.name, a.type) for a in spec.args)
    assert comp.meta["selection"] == "dp-partition-selection"
    # the release carries nothing about the data that the DP output does not determine
    assert not {"n_episodes", "k_counts", "seconds"} & set(comp.to_dict()["meta"])


def test_a_round_whose_dp_selection_is_empty_releases_nothing_and_is_charged(
    tmp_path: Path,
) -> None:
    from fical_secure.errors import GateBlockedError

    dp = {"epsilon": 0.01, "delta": 1e-6, "max_claims_per_subject": 2, "budget_epsilon": 1.0}
    state = _state(tmp_path, _profile(tmp_path, dp))
    with pytest.raises(GateBlockedError, match="no claim passed the DP threshold"):
        KCGStage().run(state)
    assert state.released is None and state.blocked
    assert state.report["dp"]["claims_selected"] == 0
    assert state.report["dp"]["epsilon_spent"] == pytest.approx(0.01)


def test_round_report_shows_each_clients_epsilon_spent_and_left(tmp_path: Path) -> None:
    from fical_secure.pipeline.stages import EachClient
    from fical_secure.pipeline.state import RoundSettings, RoundState

    dp = {"epsilon": 4.0, "delta": 1e-6, "max_claims_per_subject": 2, "budget_epsilon": 6.0}
    profile = _profile(tmp_path, dp)
    fresh, spent = _state(tmp_path / "a", profile), _state(tmp_path / "b", profile)
    spent.hospital.hospital_id = "h02"
    KCGStage().run(_state(tmp_path / "b", profile))  # h02 spent 4 of 6 in an earlier round
    round_state = RoundState(RoundSettings(), clients={"h01": fresh, "h02": spent})
    EachClient(KCGStage()).run(round_state)  # what round.json records, per client
    shown = round_state.report["dp"]
    assert shown["h01"]["epsilon_spent"] == pytest.approx(4.0)
    assert shown["h01"]["epsilon_left"] == pytest.approx(2.0)
    assert shown["h02"]["blocked"] and shown["h02"]["epsilon_left"] == pytest.approx(2.0)
    assert set(round_state.released) == {"h01"}
