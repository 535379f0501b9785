"""The knowledge-applying agent: a compendium's aliases decide tool and arguments."""

from __future__ import annotations

from fical_secure.data.catalogue import CATALOGUE
from fical_secure.kcg.claims import ToolCue, ValueAlias, claim_entry
from fical_secure.kcg.schema import Compendium
from fical_secure.tlu.embedding import default_embedder
from fical_secure.tlu.index import ToolIndex
from fical_secure.tlu.knowledge import Knowledge, ValueMatcher
from fical_secure.tlu.solver import Solver

COMPENDIUM = Compendium(
    owner="global",
    entries=(
        claim_entry(ValueAlias("lab_results_lookup", "test", "chem-7", "BMP")),
        claim_entry(ValueAlias("bed_availability", "ward", "4 West", "cardiac")),
    ),
)


def test_value_matcher_points_at_the_tools_taking_a_named_value() -> None:
    knowledge = Knowledge.from_compendium(COMPENDIUM)
    assert ValueMatcher(CATALOGUE, knowledge).tools("chem-7 on MRN-0042137?") == {
        "lab_results_lookup"
    }
    assert ValueMatcher(CATALOGUE, Knowledge()).tools("chem-7 on MRN-0042137?") == set()
    assert "bed_availability" in ValueMatcher(CATALOGUE, Knowledge()).tools("Beds in ICU?")


def test_terse_jargon_request_is_solved_only_with_the_compendium() -> None:
    embedder = default_embedder()
    requests = ["chem-7 on MRN-0042137?", "4 West tonight?"]
    with_knowledge = Solver(
        ToolIndex(embedder, COMPENDIUM, CATALOGUE), CATALOGUE, Knowledge.from_compendium(COMPENDIUM)
    )
    steps = with_knowledge.act(requests)
    assert [s.tool for s in steps] == ["lab_results_lookup", "bed_availability"]
    assert steps[0].call is not None and steps[0].call.arguments == {
        "mrn": "MRN-0042137",
        "test": "BMP",
    }
    assert steps[1].executed and steps[1].fill.arguments == {"ward": "cardiac"}
    docs_only = Solver(ToolIndex(embedder, None, CATALOGUE), CATALOGUE).act(requests)
    assert not any(
        s.executed and s.fill.arguments == t.fill.arguments
        for s, t in zip(docs_only, steps, strict=True)
    )


def test_a_cue_from_the_compendium_ranks_its_tool_higher() -> None:
    embedder = default_embedder()
    cue = ToolCue("allergy_check", ("hives",))
    compendium = Compendium(owner="global", entries=(claim_entry(cue),))
    index = ToolIndex(embedder, None, CATALOGUE)
    request = "Hives again after the new pills, can we continue?"
    plain = dict(Solver(index, CATALOGUE).rank([request])[0])
    cued_solver = Solver(index, CATALOGUE, Knowledge.from_compendium(compendium))
    ranked = cued_solver.rank([request])[0]
    cued = dict(ranked)
    # one contributor: a 1 / cue_support_cap share of the full cue bonus
    bonus = cued_solver.cue_weight / cued_solver.cue_support_cap
    assert abs(cued["allergy_check"] - plain["allergy_check"] - bonus) < 1e-6
    assert all(abs(cued[t] - plain[t]) < 1e-6 for t in plain if t != "allergy_check")
    assert ranked[0][0] == "allergy_check"
    assert (
        cued_solver.rank(["Beds in ICU?"])[0] == Solver(index, CATALOGUE).rank(["Beds in ICU?"])[0]
    )
