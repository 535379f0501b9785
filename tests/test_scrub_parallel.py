"""Speed without changing an answer: pattern prefilters are exact, worker processes agree.

The prefilter lets a pattern recognizer skip a text that none of its
patterns matches; the pool runs the same scrubber in spawned processes. Both
are checked against the plain path on the same texts, and the pool's
failure paths (workers that cannot start, a slice that fails) fail closed.
"""

from __future__ import annotations

import json
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("presidio_analyzer")

from presidio_analyzer import Pattern, PatternRecognizer

from fical_secure.cli import main
from fical_secure.errors import ScrubAnalyzerError
from fical_secure.scrub.parallel import ScrubPool, slices
from fical_secure.scrub.prefilter import add_prefilter
from fical_secure.scrub.scrubber import Scrubber
from fical_secure.scrub.types import Refusal, ScrubResult

pytestmark = pytest.mark.process  # every test here starts processes

TEXTS = [
    "No identifiers in this sentence at all.",
    "Patient Maria Lopez, MRN 00482913, DOB 04/07/1969, phone (617) 555-0134.",
    "Email jane.doe@example.org or visit https://portal.example.org/u/88.",
    "SSN 078-05-1120; card 4111 1111 1111 1111; IBAN DE89370400440532013000.",
    "Seen 2/17/80 and 3/80; follow-up November 3rd at 10:30.",
    "IP 192.168.12.7, MAC 00:1B:44:11:3A:B7, device serial SN-4471-AB.",
    "LOPEZ,MARIA seen by Dr. O'Neil; username FB59; id 560-40-78-5, XW277/90683.",
    "Ordered atorvastatin, Coumadin and icd10_lookup(body_part='knee').",
    "ZIP 02114, 55 Fruit Street, Boston MA; fax 617-555-0199 x53423.",
    "Account number: 88219-0441; license no. MD44821; DEA AB1234563; DOB: 04/07/1969.",
    "VIN 1HGCM82633A004352, plate 7ABC123; pacemaker serial 4471AB12; member ID XKJ88210344.",
    "",
]


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return Scrubber.default()


def _key(results: list[Any]) -> list[tuple[str, int, int, float]]:
    return sorted((r.entity_type, r.start, r.end, r.score) for r in results)


def test_prefilter_gives_presidios_answer_on_every_text(scrubber: Scrubber) -> None:
    wrapped = [
        r
        for r in scrubber.analyzer.registry.recognizers
        if getattr(r.analyze, "__name__", "") == "prefiltered"
    ]
    assert len(wrapped) >= 30  # every plain pattern recognizer of the profile
    found = 0
    for recognizer in wrapped:
        entities = recognizer.supported_entities
        for text in TEXTS:
            fast = recognizer.analyze(text, entities)
            plain = PatternRecognizer.analyze(recognizer, text, entities)
            assert _key(fast) == _key(plain), (type(recognizer).__name__, text)
            found += len(plain)
    assert found > 20  # the table exercises matches, not only misses


@pytest.mark.parametrize(
    ("patterns", "wrapped"),
    [
        ([r"\bMRN\d{6}\b", r"\bID-\d+\b"], True),
        ([r"(\d)\1{3}"], False),  # a backreference changes meaning once patterns are joined
        ([r"(?P<d>\d)(?P=d)"], False),
        ([r"(?i)mrn\d+", r"ID-\d+"], True),  # (?i) is already among the recognizer's flags
        ([r"(?x) MRN \d+", r"ID \d+"], False),  # (?x) would make every pattern verbose
        ([r"(?-i)MRN\d+"], False),
    ],
)
def test_prefilter_wraps_only_patterns_that_join_safely(patterns: list[str], wrapped: bool) -> None:
    recognizer = PatternRecognizer(
        supported_entity="X", patterns=[Pattern(f"p{i}", p, 0.9) for i, p in enumerate(patterns)]
    )
    assert add_prefilter(recognizer) is wrapped


def test_prefilter_leaves_a_recognizer_with_its_own_analyze_alone() -> None:
    class Custom(PatternRecognizer):
        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None,
                    regex_flags: Any = None) -> list[Any]:  # fmt: skip
            return []

    recognizer = Custom(supported_entity="X", patterns=[Pattern("p", r"\d+", 0.9)])
    assert add_prefilter(recognizer) is False


def test_slices_cover_every_text_once_in_order() -> None:
    texts = ["a" * n for n in (5, 50, 500, 5, 5, 30_000, 1, 1)]
    parts = slices(texts, 4, max_chars=100)
    assert [i for part in parts for i in part] == list(range(len(texts)))
    assert all(len(p) == 1 or sum(len(texts[i]) for i in p) <= 100 for p in parts)
    assert slices([], 4) == []


def test_pool_outcomes_equal_one_process(scrubber: Scrubber) -> None:
    texts = TEXTS * 3 + ["x" * (scrubber.profile.max_record_chars + 1)]
    single = scrubber.scrub_records(texts)
    with ScrubPool(scrubber, 2) as pool:
        pool.warm()
        assert pool.scrub_records(texts) == single
    assert isinstance(single[-1], Refusal) and isinstance(single[1], ScrubResult)


def test_workers_that_cannot_build_a_scrubber_raise_a_typed_error(scrubber: Scrubber) -> None:
    broken = Scrubber(
        scrubber.analyzer, scrubber.profile.model_copy(update={"spacy_model": "no_such_model"})
    )
    pool = ScrubPool(broken, 1)
    with pytest.raises(ScrubAnalyzerError, match="worker processes"):
        pool.warm()


class _OneSliceFails:
    """An executor whose second submitted slice fails, as a dead worker's does."""

    def __init__(self, scrubber: Scrubber) -> None:
        self.scrubber, self.calls = scrubber, 0

    def submit(self, fn: Any, texts: list[str]) -> Future[Any]:
        self.calls += 1
        future: Future[Any] = Future()
        if self.calls == 2:
            future.set_exception(RuntimeError("worker died"))
        else:
            future.set_result(self.scrubber.scrub_records(texts))
        return future


def test_a_failed_slice_refuses_its_records_and_releases_the_others(scrubber: Scrubber) -> None:
    pool = ScrubPool.__new__(ScrubPool)
    pool.processes = 1
    pool._executor = _OneSliceFails(scrubber)  # type: ignore[assignment]
    texts = [f"note {i} MRN 0048{i:04d} " + "filler " * 3000 for i in range(6)]
    parts = slices(texts, 4)
    assert len(parts) >= 3
    outcomes = pool.scrub_records(texts)
    failed = set(parts[1])
    for i, outcome in enumerate(outcomes):
        if i in failed:
            assert isinstance(outcome, Refusal) and outcome.analyzer_failed
            assert "worker failed (RuntimeError)" in outcome.reason
        else:
            assert isinstance(outcome, ScrubResult) and "<MRN>" in outcome.scrubbed


def test_cli_with_worker_processes_writes_what_one_process_writes(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(TEXTS) if t),
        encoding="utf-8",
    )
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert main(["scrub", "--in", str(src), "--out", str(one)]) == 0
    assert main(["scrub", "--in", str(src), "--out", str(two), "--processes", "2"]) == 0
    assert two.read_text(encoding="utf-8") == one.read_text(encoding="utf-8")
    assert main(["scrub", "--in", str(src), "--out", str(two), "--processes", "0"]) == 1
