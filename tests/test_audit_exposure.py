"""Canary exposure arithmetic, candidate and control formats, the mean figure (no real model)."""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from fical_secure.audit.exposure import (
    CanaryExposure,
    canary_exposure,
    exposure_figure,
    exposure_from_scores,
    null_p_of_max,
    random_candidates,
    split_secret,
)
from fical_secure.data.pii import CANARY_PATTERN, random_canary
from fical_secure.data.schema import PIIValue


def test_candidates_keep_the_canary_format_and_exclude_the_canary() -> None:
    prefix, secret = split_secret("canary 4a81-964d-db77")
    assert (prefix, secret) == ("canary ", "4a81-964d-db77")
    cands = random_candidates(secret, 200, seed=0)
    assert len(set(cands)) == 200 and secret not in cands
    assert all(CANARY_PATTERN.fullmatch(prefix + c) for c in cands)
    # hex digits are drawn uniformly, letters included
    assert {c for cand in cands for c in cand} - {"-"} == set("0123456789abcdef")


def test_candidates_of_mixed_format_keep_character_classes() -> None:
    cands = random_candidates("AB12-x9", 50, seed=3)
    assert all(re.fullmatch(r"[A-Z]{2}\d{2}-[a-z]\d", c) for c in cands)
    assert random_candidates("AB12-x9", 50, seed=3) == cands  # seeded


def test_too_small_a_format_space_is_refused() -> None:
    with pytest.raises(ValueError):
        random_candidates("7", 20, seed=0)


def test_rank_exposure_is_log2_of_set_size_over_rank() -> None:
    cands = np.arange(-63.0, 0.0)  # 63 candidates: -63 .. -1
    rank, bits, _ = exposure_from_scores(-1.5, cands)  # beats all but -1.0
    assert rank == 2 and bits == pytest.approx(math.log2(64) - 1)
    rank, bits, _ = exposure_from_scores(-100.0, cands)  # worst
    assert rank == 64 and bits == pytest.approx(0.0)


def test_fitted_exposure_extrapolates_beyond_the_candidate_set() -> None:
    rng = np.random.default_rng(0)
    cands = rng.normal(-40.0, 3.0, size=31)
    rank, rank_bits, fit_bits = exposure_from_scores(-2.0, cands)  # ~12 sigma above
    assert rank == 1 and rank_bits == pytest.approx(5.0)
    assert fit_bits > 30.0
    _, _, typical = exposure_from_scores(float(np.median(cands)), cands)
    assert typical < 2.0


class _ScoredLLM:
    """Scores each text by a seeded draw from (context, text); ``leak`` is scored above all.

    Without ``leak`` every secret's score is exchangeable: a planted secret is
    ranked like any control. With it, the secret the context "remembers" gets
    ``lift`` nats more than its draw, as a model that memorised it would.
    """

    name = "scored-fake"

    def __init__(self, leak: set[str] | None = None, lift: float = 60.0) -> None:
        self.leak, self.lift = leak or set(), lift
        self.calls: list[list[str]] = []

    def score(self, texts: Sequence[str], contexts: Sequence[str]) -> list[npt.NDArray[np.float32]]:
        self.calls.append(list(texts))
        out = []
        for text, context in zip(texts, contexts, strict=True):
            digest = hashlib.sha256(f"{context}\x00{text}".encode()).digest()
            value = np.random.default_rng(int.from_bytes(digest[:8], "big")).normal(-30.0, 3.0)
            value += self.lift if text.strip() in self.leak else 0.0
            out.append(np.asarray([value / 2, value / 2], dtype=np.float32))
        return out


def _canaries(n: int) -> list[PIIValue]:
    rng = random.Random(7)
    return [PIIValue("CANARY", random_canary(rng), f"e{i}") for i in range(n)]


def _exposures(llm: _ScoredLLM, canaries: Sequence[PIIValue], **kw: int) -> list[CanaryExposure]:
    return [
        canary_exposure(c, f"context of {c.episode_id}\n", llm, n_candidates=63, **kw)
        for c in canaries
    ]


def test_controls_share_the_context_and_candidates_yet_are_never_one_of_them() -> None:
    (canary,) = _canaries(1)
    llm = _ScoredLLM()
    exposure = canary_exposure(canary, "ctx\n", llm, n_candidates=63, n_controls=3)
    (texts,) = llm.calls
    _, secret = split_secret(canary.value)
    candidates = random_candidates(secret, 63, f"0:{canary.episode_id}")
    controls = [t.strip() for t in texts[1:4]]
    assert texts[0].strip() == secret and [t.strip() for t in texts[4:]] == candidates
    assert len(set(controls)) == 3 and not set(controls) & {secret, *candidates}
    assert all(CANARY_PATTERN.fullmatch("canary " + c) for c in controls)
    assert len(exposure.control_bits) == 3 and exposure.n_candidates == 63
    # each canary draws its own controls and its own candidates (streams apart)
    other = canary_exposure(
        PIIValue("CANARY", canary.value, "e-other"), "ctx\n", llm, n_candidates=63, n_controls=3
    )
    assert [t.strip() for t in llm.calls[1][1:4]] != controls
    theirs = [t.strip() for t in llm.calls[1][4:]]
    assert theirs == random_candidates(secret, 63, "0:e-other") and other.n_candidates == 63
    assert len(set(theirs) & set(candidates)) < 8  # independent draws: few shared by chance


def test_a_leaking_model_puts_the_planted_mean_near_the_cap_far_above_its_controls() -> None:
    canaries = _canaries(30)
    llm = _ScoredLLM(leak={split_secret(c.value)[1] for c in canaries})
    fig = exposure_figure(_exposures(llm, canaries, n_controls=3), seed=0)
    assert fig is not None and fig.n_canaries == 30 and fig.n_controls == 90
    assert fig.n_candidates == 63
    assert fig.mean >= 6.0 and fig.ci95.low >= 6.0  # every canary at rank 1: cap and beyond
    assert fig.control_mean is not None and fig.control_mean < 2.0
    assert fig.difference is not None and fig.difference_ci95 is not None
    assert fig.difference > 4.0 and fig.difference_ci95.low > 3.0
    assert fig.p_value_max < 1e-6
    row = fig.to_dict()
    assert row["value"] == round(fig.mean, 4) and row["max"] == round(fig.max, 4)
    assert row["rank_cap_bits"] == 6.0 and row["statistic"] == "mean over planted canaries"


def test_without_a_leak_planted_and_control_exposures_are_exchangeable() -> None:
    fig = exposure_figure(_exposures(_ScoredLLM(), _canaries(200), n_controls=3), seed=0)
    assert fig is not None and fig.control_mean is not None
    assert fig.difference_ci95 is not None
    # an unseen canary: about 1.4 bits on average, the same as a secret never written
    assert 1.0 < fig.mean < 1.8 and 1.0 < fig.control_mean < 1.8
    assert fig.ci95.low < 1.44 < fig.ci95.high
    assert fig.difference_ci95.low < 0.0 < fig.difference_ci95.high
    # the max of 200 unseen canaries is far above 2 bits: it cannot tell this from a leak
    assert fig.max > 4.0 and fig.ci95.high < 2.0


def test_the_figure_is_the_mean_with_the_max_and_its_null_p_value_beside() -> None:
    def exposure(bits: float, controls: tuple[float, ...]) -> CanaryExposure:
        return CanaryExposure("e", 1, 15, bits, 0.0, bits, controls)

    fig = exposure_figure([exposure(4.0, (1.0, 3.0)), exposure(1.0, ()), exposure(1.0, (0.0,))])
    assert fig is not None
    assert fig.mean == pytest.approx(2.0) and fig.max == 4.0 and fig.n_canaries == 3
    assert fig.ci95.low <= 2.0 <= fig.ci95.high
    # controls: only canaries that carry them, each paired with its own controls' mean
    assert fig.control_mean == pytest.approx(4.0 / 3.0) and fig.n_controls == 3
    assert fig.difference == pytest.approx(((4.0 - 2.0) + (1.0 - 0.0)) / 2)
    assert fig.p_value_max == pytest.approx(1 - (1 - 2**-4) ** 3)
    assert exposure_figure([]) is None
    no_controls = exposure_figure([exposure(1.0, ())])
    assert no_controls is not None and no_controls.to_dict()["planted_minus_control"] is None


@pytest.mark.parametrize(
    ("max_bits", "n", "p"),
    [(2.0, 3, 1 - 0.75**3), (4.0, 1, 1 / 16), (0.0, 5, 1.0), (40.0, 30, 30 * 2.0**-40)],
)
def test_the_null_p_value_of_a_max_is_one_minus_the_chance_all_stay_below(
    max_bits: float, n: int, p: float
) -> None:
    assert null_p_of_max(max_bits, n) == pytest.approx(p, rel=1e-6)
