"""Retrieval over the global compendium and the catalogue; the tool environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fical_secure.aggregate import aggregate
from fical_secure.data.schema import ToolCall
from fical_secure.errors import RetrievalError, ToolExecutionError
from fical_secure.kcg.schema import Compendium, Entry
from fical_secure.tlu.embedding import EMBEDDING_DIM, default_embedder
from fical_secure.tlu.env import ToolEnvironment
from fical_secure.tlu.index import ToolIndex

ROOT = Path(__file__).resolve().parents[1]
COMPENDIUMS = ROOT / "benchmarks" / "tlu_handwritten_compendiums.json"


@pytest.fixture(scope="module")
def index() -> ToolIndex:
    raw = json.loads(COMPENDIUMS.read_text(encoding="utf-8"))
    embedder = default_embedder()
    merged = aggregate([Compendium.from_dict(c) for c in raw], embedder=embedder)
    return ToolIndex(embedder, merged)


def test_embeddings_are_unit_norm_float32() -> None:
    vectors = default_embedder().encode(["blood pressure reading", "book a clinic visit"])
    assert vectors.shape == (2, EMBEDDING_DIM) and vectors.dtype.name == "float32"
    assert abs(float((vectors**2).sum(axis=1).max()) - 1.0) < 1e-5
    assert default_embedder().encode([]).shape == (0, EMBEDDING_DIM)


def test_missing_embedding_model_is_a_retrieval_error(tmp_path: Path) -> None:
    from fical_secure.tlu.embedding import Embedder

    with pytest.raises(RetrievalError):
        Embedder(str(tmp_path / "no-such-model")).encode(["x"])


@pytest.mark.parametrize(
    ("request_text", "tool"),
    [
        ("What did the latest HbA1c show for MRN-0042137?", "lab_results_lookup"),
        ("Book a cardiology clinic visit for MRN-0042137 on 2026-04-12.", "schedule_appointment"),
        ("Check for an interaction between warfarin and aspirin.", "drug_interaction_check"),
        ("Which ICD-10 code do I use for asthma?", "icd10_lookup"),
        ("How many free beds does the ICU have?", "bed_availability"),
        ("Convert a glucose of 126 mg/dL to mmol/L.", "glucose_converter"),
        ("Order an MRI of the spine for MRN-0042137.", "imaging_order"),
        ("Estimate eGFR for a 67 year old female with creatinine 1.2 mg/dL.", "egfr_calculator"),
    ],
)
def test_clear_requests_retrieve_the_right_tool(
    index: ToolIndex, request_text: str, tool: str
) -> None:
    assert index.rank_tools([request_text])[0][0][0] == tool
    hits = index.retrieve(request_text, 3)
    assert len(hits) == 3 and hits[0].tool == tool
    assert hits[0].score >= hits[1].score >= hits[2].score


def test_entries_about_unknown_tools_are_not_indexed() -> None:
    stray = Compendium("global", (Entry("teleport_patient", "purpose", "Moves a patient."),))
    index = ToolIndex(default_embedder(), stray)
    assert all(h.tool != "teleport_patient" for h in index.retrieve("teleport the patient", 20))


def test_empty_index_is_refused() -> None:
    with pytest.raises(RetrievalError):
        ToolIndex(default_embedder(), None, include_catalogue=False)


def test_environment_runs_valid_calls_and_logs_refusals() -> None:
    env = ToolEnvironment()
    out = env.execute(ToolCall("bmi_calculator", {"weight_kg": 70.0, "height_cm": 175.0}))
    assert "22.9" in out
    with pytest.raises(ToolExecutionError):
        env.execute(ToolCall("bmi_calculator", {"weight_kg": 70.0}))
    refused = env.try_execute(ToolCall("bed_availability", {"ward": "moon"}))
    assert not refused.ok and [e.ok for e in env.log] == [True, False, False]
