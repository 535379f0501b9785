"""Calibrated tool scores: the one-forward-per-prompt path against per-candidate scoring."""

from __future__ import annotations

import numpy as np
import pytest

from fical_secure.data.catalogue import CATALOGUE
from fical_secure.llm.transformers_backend import TransformersLLM
from fical_secure.tlu.prompt import SYSTEM, ScoringJob, calibrated_scores, plain_job, rag_job

pytestmark = pytest.mark.slow
NAMES = tuple(spec.name for spec in CATALOGUE)
DESCRIPTIONS = {spec.name: spec.description for spec in CATALOGUE}
REQUESTS = (
    "Convert a glucose of 126 mg/dL to mmol/L.",
    "Book MRN-0042137 into cardiology on 2026-04-12.",
    "Is there a free bed on the icu ward?",
)


def _jobs() -> list[ScoringJob]:
    rag = [
        rag_job(r, names, [DESCRIPTIONS[n] for n in names])
        for r, names in zip(
            (REQUESTS[0], REQUESTS[2]),
            [
                ("glucose_converter", "lab_results_lookup", "bmi_calculator"),
                ("bed_availability", "vitals_lookup", "schedule_appointment"),
            ],
            strict=True,
        )
    ]
    # plain mode scores the whole catalogue; six names keep the reference path short
    return rag + [plain_job(r, NAMES[:6]) for r in REQUESTS[:2]]


def _per_candidate_scores(llm: TransformersLLM, jobs: list[ScoringJob]) -> list[np.ndarray]:
    """The reference: score() of every candidate's ``name(`` after both prompts, first token."""
    out = []
    for job in jobs:
        real, null = (llm.chat_prompt(m, system=SYSTEM) for m in (job.prompt, job.calibration))
        texts = [f"{t}(" for t in job.candidates]
        lps = llm.score(texts + texts, [real] * len(texts) + [null] * len(texts))
        firsts = np.array([float(lp[0]) for lp in lps], dtype=np.float64)
        out.append(firsts[: len(texts)] - firsts[len(texts) :])
    return out


def test_first_token_path_gives_the_per_candidate_scores(llm: TransformersLLM) -> None:
    jobs = _jobs()
    fast = calibrated_scores(llm, jobs, prefix_tokens=1)
    expected = _per_candidate_scores(llm, jobs)
    for job, got, want in zip(jobs, fast, expected, strict=True):
        assert got.shape == (len(job.candidates),)
        np.testing.assert_allclose(got, want, atol=1e-4)
        assert int(np.argmax(got)) == int(np.argmax(want))


def test_identical_prompts_are_run_once(llm: TransformersLLM) -> None:
    jobs = [plain_job(r, NAMES) for r in REQUESTS]
    before = llm.usage.scored_tokens
    calibrated_scores(llm, jobs + jobs)
    # one forward pass (one predicted position) per distinct prompt: 3 requests + 1 shared
    # content-free prompt, however many candidates and repeated jobs
    assert llm.usage.scored_tokens - before == len(REQUESTS) + 1


def test_longer_prefixes_sum_the_first_tokens_of_each_name(llm: TransformersLLM) -> None:
    job = plain_job(REQUESTS[0], ("glucose_converter", "lab_results_lookup"))
    (two,) = calibrated_scores(llm, [job], prefix_tokens=2)
    real, null = (llm.chat_prompt(m, system=SYSTEM) for m in (job.prompt, job.calibration))
    texts = [f"{t}(" for t in job.candidates]
    lps = llm.score(texts + texts, [real, real, null, null])
    want = [float(lps[i][:2].sum() - lps[i + 2][:2].sum()) for i in range(2)]
    np.testing.assert_allclose(two, want, atol=1e-4)
    assert not np.allclose(two, calibrated_scores(llm, [job], prefix_tokens=1)[0], atol=1e-3)


def test_prefix_of_zero_tokens_is_refused(llm: TransformersLLM) -> None:
    with pytest.raises(ValueError, match="positive"):
        calibrated_scores(llm, [plain_job(REQUESTS[0], NAMES)], prefix_tokens=0)
