"""``fical-secure scrub``: JSONL in, JSONL out; bad input writes nothing, a bad record is held."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("presidio_analyzer")

from fical_secure.cli import main
from fical_secure.scrub.scrubber import Scrubber


@pytest.fixture(scope="session")
def scrubber() -> Scrubber:
    return Scrubber.default()


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_scrub_writes_placeholders_and_offsets_into_the_original(
    tmp_path: Path, scrubber: Scrubber
) -> None:
    texts = {"a": "Maria Lopez, MRN-0042137, phone 425-555-0100", "b": "no identifiers here"}
    src = write_lines(
        tmp_path / "in.jsonl", [json.dumps({"id": k, "text": v}) for k, v in texts.items()] + [""]
    )
    out = tmp_path / "out.jsonl"
    assert main(["scrub", "--in", str(src), "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert rows[0]["scrubbed"] == "<PERSON>, <MRN>, phone <PHONE_NUMBER>"
    assert [texts["a"][e["start"] : e["end"]] for e in rows[0]["entities"]] == [
        "Maria Lopez",
        "MRN-0042137",
        "425-555-0100",
    ]
    assert {"type", "start", "end", "score"} == set(rows[0]["entities"][0])
    assert "text" not in rows[0] and rows[1]["entities"] == []
    assert out.stat().st_mode & 0o077 == 0


def test_keep_text_copies_the_original(tmp_path: Path, scrubber: Scrubber) -> None:
    src = write_lines(tmp_path / "in.jsonl", [json.dumps({"id": 1, "text": "MRN-0042137"})])
    out = tmp_path / "out.jsonl"
    assert main(["scrub", "--in", str(src), "--out", str(out), "--keep-text"]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["text"] == "MRN-0042137"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ('{"id": "c", "text": "MRN-0042137"', "not valid JSON"),
        ('["c", "MRN-0042137"]', "JSON object"),
        ('{"id": "c"}', "text"),
        ('{"id": null, "text": "MRN-0042137"}', "id"),
    ],
)
def test_bad_line_exits_1_naming_the_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str, reason: str
) -> None:
    src = write_lines(
        tmp_path / "in.jsonl", ['{"id": "a", "text": "fine"}', '{"id": "b", "text": "ok"}', bad]
    )
    out = tmp_path / "out.jsonl"
    assert main(["scrub", "--in", str(src), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "line 3" in err[0] and reason in err[0]
    assert "0042137" not in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_one_failing_record_is_quarantined_and_the_others_are_written(
    tmp_path: Path,
    scrubber: Scrubber,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    real = scrubber.analyzer.analyze

    def crash_on_second_line(text: str, *args: Any, **kwargs: Any) -> Any:
        if "second" in text:
            raise RuntimeError("analyzer crashed on MRN-0042137")
        return real(text, *args, **kwargs)

    monkeypatch.setattr(scrubber.analyzer, "analyze", crash_on_second_line)
    src = write_lines(
        tmp_path / "in.jsonl",
        [
            json.dumps({"id": i, "text": f"{w} note MRN-0042137"})
            for i, w in enumerate(["first", "second", "third"])
        ],
    )
    out = tmp_path / "out.jsonl"
    assert main(["scrub", "--in", str(src), "--out", str(out)]) == 3
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["id"], r["scrubbed"]) for r in rows] == [
        (0, "first note <MRN>"),
        (2, "third note <MRN>"),
    ]
    held = tmp_path / "out.quarantine.jsonl"
    quarantined = [json.loads(line) for line in held.read_text(encoding="utf-8").splitlines()]
    assert quarantined == [
        {"line": 2, "id": 1, "reason": "PII analyzer failed (RuntimeError)", "kinds": []}
    ]
    assert "0042137" not in held.read_text(encoding="utf-8")
    assert held.stat().st_mode & 0o077 == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert "3 records" in summary and "2 written" in summary and "1 quarantined" in summary
