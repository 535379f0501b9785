"""One real, small KCG run with the packaged SmolLM2-135M model."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import pytest

from fical_secure.data.generator import generate_federation
from fical_secure.data.schema import Episode
from fical_secure.errors import SchemaError
from fical_secure.kcg.builder import KCGConfig, KCGResult, run_kcg
from fical_secure.kcg.schema import Compendium
from fical_secure.llm.transformers_backend import TransformersLLM

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytestmark = pytest.mark.slow
TOOLS = ("vitals_lookup", "icd10_lookup")


@pytest.fixture(scope="session")
def episodes() -> list[Episode]:
    hospital = generate_federation(n_hospitals=5, seed=0).hospitals[0]
    chosen = [e for e in hospital.members if e.call.tool in TOOLS]
    # vitals_lookup: 5 episodes (2 batches of 3 -> a reduce step); icd10_lookup: 3 (1 batch)
    by_tool = {t: [e for e in chosen if e.call.tool == t] for t in TOOLS}
    assert len(by_tool["vitals_lookup"]) >= 4
    return by_tool["vitals_lookup"][:5] + by_tool["icd10_lookup"][:3]


@pytest.fixture(scope="session")
def result(llm: TransformersLLM, episodes: list[Episode]) -> KCGResult:
    config = KCGConfig(
        batch_size=3,
        kinds=("purpose", "usage", "arguments"),
        map_max_new_tokens=24,
        reduce_max_new_tokens=24,
    )
    return run_kcg(episodes, llm, client_id="h01", config=config, progress=False)


def test_small_run_yields_a_compendium_that_round_trips_through_json(result: KCGResult) -> None:
    compendium = result.compendium
    again = Compendium.from_json(compendium.to_json())
    assert again.to_json() == compendium.to_json()
    assert set(again.entries) == set(compendium.entries)
    assert compendium.owner == "h01"
    assert set(compendium.tools()) == set(TOOLS)


def test_model_writes_knowledge_and_signatures_come_from_the_calls(result: KCGResult) -> None:
    compendium = result.compendium
    written = [e for e in compendium.entries if e.kind in ("purpose", "usage")]
    assert written, f"no model-written entry survived validation: {compendium.meta['repair']}"
    assert {e.kind for e in compendium.entries} <= {"purpose", "usage", "arguments"}
    sigs = {s.tool: s.args for s in compendium.signatures}
    assert sigs["vitals_lookup"] == (("mrn", "str"), ("vital", "enum"))
    assert sigs["icd10_lookup"] == (("diagnosis", "enum"),)


def test_no_entry_carries_a_planted_record_value(
    result: KCGResult, episodes: Sequence[Episode]
) -> None:
    planted = {p.value.lower() for e in episodes for p in e.pii if len(p.value) >= 4}
    for entry in result.compendium.entries:
        text = entry.text.lower()
        assert not [v for v in planted if v in text], entry
        assert not re.search(r"\d{3,}|@", text), entry


def test_meta_accounts_for_every_model_answer(result: KCGResult) -> None:
    meta, stats = result.compendium.meta, result.stats
    # 3 batches x 2 model kinds map prompts, plus one reduce prompt per merged (tool, kind)
    assert meta["n_batches"] == 3 and stats.map_prompts == 6
    repair = meta["repair"]
    assert (
        repair["kept"] + sum(repair["dropped"].values()) == stats.map_prompts + stats.reduce_prompts
    )
    assert meta["templated_kinds"] == ["arguments"]
    assert stats.new_tokens > 0 and stats.seconds > 0


def test_empty_episode_list_is_refused(llm: TransformersLLM) -> None:
    with pytest.raises(SchemaError, match="no episodes"):
        run_kcg([], llm, client_id="h09", progress=False)


def test_failed_merge_falls_back_to_the_candidate_the_model_scores_highest(
    llm: TransformersLLM,
) -> None:
    from fical_secure.kcg.builder import _best_scored, _Run

    key = ("vitals_lookup", "purpose")
    fluent = "vitals_lookup is used to read the latest vital sign of a patient."
    notes = {key: ["Zebra quantum violin purple mountain sings under copper rain.", fluent]}
    run = _Run(llm, KCGConfig(), bar=None)
    entries = _best_scored(run, [key], notes)
    assert [(e.tool, e.kind, e.text) for e in entries] == [(*key, fluent)]
    assert run.reduce_counts["fallback_best_scored"] == 1 and run.stats.scored_candidates == 2
