"""The agent end to end with the real packaged model, retrieval and tool environment."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fical_secure.aggregate import aggregate
from fical_secure.data.generator import generate_federation
from fical_secure.data.schema import EvalRequest, Federation
from fical_secure.kcg.schema import Compendium
from fical_secure.llm.base import LLM
from fical_secure.tlu.agent import WEIGHT_GRID, Agent, Decision, choose_weight
from fical_secure.tlu.embedding import default_embedder
from fical_secure.tlu.index import ToolIndex
from fical_secure.tlu.metrics import evaluate
from fical_secure.tlu.prompt import SYSTEM, calibrated_scores, plain_job

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
COMPENDIUMS = ROOT / "benchmarks" / "tlu_handwritten_compendiums.json"


@pytest.fixture(scope="module")
def federation() -> Federation:
    return generate_federation(n_hospitals=5, seed=0)


@pytest.fixture(scope="module")
def agent(llm: LLM) -> Agent:
    raw = json.loads(COMPENDIUMS.read_text(encoding="utf-8"))
    embedder = default_embedder()
    merged = aggregate([Compendium.from_dict(c) for c in raw], embedder=embedder)
    return Agent(llm, ToolIndex(embedder, merged))


def _one_per_tool(requests: list[EvalRequest], n_tools: int) -> list[EvalRequest]:
    seen: dict[str, EvalRequest] = {}
    for r in requests:
        if len(seen) < n_tools:
            seen.setdefault(r.gold.tool, r)
    return list(seen.values())


def test_calibrated_score_is_prompt_minus_content_free_score(llm: LLM) -> None:
    job = plain_job("Book MRN-0042137 into cardiology on 2026-04-12.", ("schedule_appointment",))
    (calibrated,) = calibrated_scores(llm, [job])
    contexts = [llm.chat_prompt(m, system=SYSTEM) for m in (job.prompt, job.calibration)]
    real, null = llm.score(["schedule_appointment("] * 2, contexts)
    assert calibrated[0] == pytest.approx(float(real[0]) - float(null[0]), abs=1e-4)


def test_combination_weight_moves_between_retrieval_and_model() -> None:
    decision = Decision(("a", "b"), np.array([0.9, 0.5]), np.array([-3.0, 1.0]))
    assert decision.choose(0.0) == "a" and decision.choose(1.0) == "b"
    tie = Decision(("a", "b"), np.array([0.5, 0.5]), np.array([0.0, 0.0]))
    assert tie.choose(0.5) == "a"  # ties go to the better-retrieved candidate


def test_weight_is_chosen_on_training_dev_split(agent: Agent, federation: Federation) -> None:
    dev = [(e.request, e.call.tool) for e in federation.hospitals[0].members[:2]]
    weight, accuracy = choose_weight(agent, dev)
    assert weight in WEIGHT_GRID and set(accuracy) == set(WEIGHT_GRID)
    assert accuracy[weight] == max(accuracy.values())


def test_evaluation_reports_every_metric_and_rag_beats_chance(
    agent: Agent, federation: Federation
) -> None:
    # four tools keep the no-RAG pass (14 candidates per request) short on 2 cores
    requests = _one_per_tool(federation.eval_requests, 4)
    report = evaluate(replace(agent, config=replace(agent.config, weight=0.3)), requests, k=3)
    assert report["n_requests"] == len(requests) == 4
    assert set(report) >= {"retrieval", "with_rag", "without_rag", "control", "timing"}
    for mode in ("with_rag", "without_rag"):
        assert set(report[mode]) == {
            "tool_accuracy",
            "argument_accuracy",
            "per_argument_accuracy",
            "end_to_end_success",
            "executed_rate",
        }
    assert set(report["retrieval"]) == {"top1_accuracy", "recall_at_3"}
    assert 0.0 <= report["control"]["model_choice_shuffled_order"] <= 1.0
    assert report["with_rag"]["tool_accuracy"] > 2 * report["chance_tool_accuracy"]
    # the arguments are extracted, so given the right tool they are right
    assert report["with_rag"]["argument_accuracy"] == 1.0
    assert report["timing"]["requests_per_second"] > 0


def test_agent_runs_one_request_end_to_end(agent: Agent) -> None:
    step = agent.run("Convert a glucose of 126 mg/dL to mmol/L.")
    assert step.tool == "glucose_converter" and step.executed
    assert step.call is not None and step.call.arguments == {"value": 126.0, "from_unit": "mg_dl"}
    assert "7" in step.answer  # 126 mg/dL is 7.0 mmol/L
