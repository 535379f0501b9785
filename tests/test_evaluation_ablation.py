"""The ablation: bootstrap intervals, and what each kind of knowledge buys on held-out requests."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from fical_secure.aggregate import aggregate
from fical_secure.data.generator import generate_federation
from fical_secure.evaluation.ablation import CONDITIONS, run_ablation
from fical_secure.evaluation.bootstrap import mean_ci, paired_diff_ci
from fical_secure.kcg.knowledge import build_knowledge
from fical_secure.tlu.embedding import default_embedder
from fical_secure.tlu.fill import SchemaFiller


def test_bootstrap_interval_covers_the_mean_and_shrinks_with_n() -> None:
    small, large = mean_ci([1, 0] * 10, seed=1), mean_ci([1, 0] * 500, seed=1)
    for ci in (small, large):
        assert ci["ci95"][0] <= ci["mean"] == 0.5 <= ci["ci95"][1]
    assert large["ci95"][1] - large["ci95"][0] < small["ci95"][1] - small["ci95"][0]
    assert mean_ci([])["n"] == 0


def test_paired_difference_says_whether_zero_is_excluded() -> None:
    assert paired_diff_ci([1] * 20, [0] * 20)["excludes_zero"]
    assert not paired_diff_ci([1, 0] * 10, [0, 1] * 10)["excludes_zero"]
    with pytest.raises(ValueError):
        paired_diff_ci([1], [1, 0])


@pytest.fixture(scope="module")
def setting() -> tuple[Any, ...]:
    fed = generate_federation(
        3,
        seed=3,
        episodes_per_hospital=30,
        nonmembers_per_hospital=0,
        eval_per_tool=1,
        knowledge_eval_per_hospital=3,
    )
    local = {
        h.hospital_id: build_knowledge(
            h.members, fed.catalogue, None, client_id=h.hospital_id, progress=False
        )
        for h in fed.hospitals
    }
    embedder = default_embedder()
    glob = aggregate(list(local.values()), embedder=embedder, threshold=0.97)
    return fed, local, glob, embedder


@pytest.fixture(scope="module")
def report(setting: tuple[Any, ...]) -> dict[str, object]:
    return run_ablation(*setting, seed=0)


class _SchemaModel:
    """Decodes each (prompt, schema) to a fixed function of both: an enum member picked by
    a hash of the prompt, else a string; records the batches it was asked."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def generate_json(self, prompts: list[str], schemas: list[str], **_: Any) -> list[str]:
        self.asked.append(len(prompts))
        out = []
        for prompt, schema in zip(prompts, schemas, strict=True):
            pick = hashlib.sha256(prompt.encode()).digest()[0]
            props = json.loads(schema)["properties"]
            out.append(json.dumps({
                name: (p["enum"][pick % len(p["enum"])] if "enum" in p else "x" * (1 + pick % 3))
                for name, p in props.items()
            }))  # fmt: skip
        return out


def test_every_condition_s_model_jobs_are_decoded_in_one_batch(setting: tuple) -> None:
    batched, plain = _SchemaModel(), _SchemaModel()
    one = run_ablation(*setting, seed=0, filler=SchemaFiller(batched))  # type: ignore[arg-type]
    each = run_ablation(*setting, seed=0, filler=SchemaFiller(plain, memoise=False))  # type: ignore[arg-type]
    assert len(batched.asked) == 1 and len(plain.asked) > 1
    assert batched.asked[0] < sum(plain.asked)  # repeated jobs decoded once
    # the same outcomes: decoding order changes nothing (as JSON: NaN marks an empty cell)
    assert json.dumps(one, sort_keys=True) == json.dumps(each, sort_keys=True)


def _e2e(rows: dict[str, object], cond: str) -> float:
    value = rows[cond]["end_to_end_success"]["mean"]  # type: ignore[index]
    assert isinstance(value, float)
    return value


def test_global_compendium_teaches_what_only_other_hospitals_saw(report: dict) -> None:
    assert report["conditions"] == list(CONDITIONS)
    elsewhere, local = report["by_needs"]["elsewhere"], report["by_needs"]["local"]
    assert _e2e(elsewhere, "global") > _e2e(elsewhere, "local")
    assert _e2e(local, "local") > _e2e(local, "docs_only")
    assert _e2e(report["overall"], "oracle") >= 0.95  # the ceiling of this agent's filler
    assert report["global_minus_docs_only"]["excludes_zero"]


def test_rows_carry_candidate_accuracy_differences_and_failures(report: dict) -> None:
    overall = report["overall"]
    for cond in CONDITIONS:  # no request lists candidates: the whole catalogue is theirs
        row = overall[cond]
        assert row["tool_accuracy_candidates"]["mean"] == row["tool_accuracy"]["mean"]
        failures = report["failures"][cond]
        wrong_args = failures["right_tool_wrong_arguments"]
        assert failures["right"] + failures["wrong_tool"] + wrong_args == overall["n_requests"]
        assert failures["right"] == round(row["end_to_end_success"]["mean"] * overall["n_requests"])
        assert sum(failures["requests_with_wrong_argument"].values()) >= wrong_args
    assert report["failures"]["oracle"]["wrong_tool"] == 0
    tool = report["differences"]["tool_ok"]
    assert set(tool) == {"global_minus_docs_only", "global_minus_0.95_sample_sharing"}


def test_every_hospital_gets_its_rows_and_federated_gain(report: dict) -> None:
    assert sorted(report["per_hospital"]) == ["h01", "h02", "h03"]
    for gain in report["federated_gain"].values():
        assert set(gain) >= {"end_to_end", "docs", "local", "elsewhere"}
        assert gain["docs"]["mean"] == 0.0 or not gain["docs"]["excludes_zero"]
