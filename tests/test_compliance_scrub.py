"""Scrubber checks of the audit: recall minimums per kind, fail closed when unmeasured."""

from __future__ import annotations

from fical_secure.compliance.scrub_checks import check_recall, recall_corpus


def test_recall_below_minimum_or_unmeasured_fails() -> None:
    table = {
        "PERSON": {"planted": 20, "caught": 19, "recall": 0.95},
        "MRN": {"planted": 10, "caught": 8, "recall": 0.8},
    }
    ok = check_recall(table, 0, 30, {"PERSON": 0.95})
    assert ok.passed
    low = check_recall(table, 0, 30, {"PERSON": 0.95, "MRN": 0.9})
    assert not low.passed and "MRN: recall 0.800 < 0.9" in low.summary
    missing = check_recall(table, 0, 30, {"US_SSN": 0.5})
    assert not missing.passed and "US_SSN: not measured" in missing.summary


def test_recall_corpus_is_held_out_from_the_audited_seed() -> None:
    docs = recall_corpus(12, data_seed=0)
    assert len(docs) == 12
    assert any(kind == "CANARY" for d in docs for kind, _ in d.planted)
    other = recall_corpus(12, data_seed=7_150_001)  # the audit's data seed is never reused
    assert {d.text for d in docs}.isdisjoint({d.text for d in other})
    for doc in docs:
        for _, value in doc.planted:
            assert value in doc.text
