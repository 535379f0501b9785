"""Canary exposure arithmetic and candidate formats (no model needed)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from fical_secure.audit.exposure import exposure_from_scores, random_candidates, split_secret
from fical_secure.data.pii import CANARY_PATTERN


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
