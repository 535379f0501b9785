"""``fical-secure scrub`` on episodes, bad and empty input, and a 5 MB record in bounded memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("presidio_analyzer")

from fical_secure.cli import main
from fical_secure.scrub.scrubber import Scrubber

EPISODE = {
    "id": "ep-1",
    "split": "member",
    "request": "Pull the latest HbA1c for Maria Lopez (MRN-0042137).",
    "call": {"tool": "lab_results_lookup", "arguments": {"mrn": "MRN-0042137", "test": "HbA1c"}},
    "result": "HbA1c 7.2 %, ref 4-5.6.",
    "answer": "lopez: HbA1c is 7.2 %.",
    "pii": [{"kind": "PERSON", "value": "Maria Lopez"}, {"kind": "MRN", "value": "MRN-0042137"}],
}


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    return Scrubber.default()


def test_episodes_keep_their_structure_and_known_names_are_masked_anywhere(
    tmp_path: Path, scrubber: Scrubber
) -> None:
    src = tmp_path / "episodes.jsonl"
    src.write_text(json.dumps(EPISODE) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["scrub", "--in", str(src), "--out", str(out)]) == 0
    (row,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert set(row) == {"id", "split", "request", "call", "result", "answer"}  # pii not written
    assert row["request"] == "Pull the latest HbA1c for <PERSON> (<MRN>)."
    assert row["call"] == {
        "tool": "lab_results_lookup",
        "arguments": {"mrn": "<MRN>", "test": "HbA1c"},
    }
    assert row["answer"] == "<PERSON>: HbA1c is 7.2 %."  # lowercase surname, known from pii
    assert row["result"] == EPISODE["result"]


def test_roster_names_are_masked_in_text_records(tmp_path: Path, scrubber: Scrubber) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": 1, "text": "ok per whitfield, see chart"}) + "\n", "utf-8")
    roster = tmp_path / "roster.jsonl"
    roster.write_text(json.dumps({"kind": "PERSON", "value": "Jo Whitfield"}) + "\n", "utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["scrub", "--in", str(src), "--out", str(out), "--roster", str(roster)]) == 0
    assert json.loads(out.read_text("utf-8"))["scrubbed"] == "ok per <PERSON>, see chart"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no records"),
        (b"\n  \n", "no records"),
        (b'{"id": 1, "text": "fine"}\n{"id": 2, "text": "caf\xe9"}\n', "line 2: not valid UTF-8"),
        (
            b'{"id": 1, "text": "fine"}\n' + json.dumps(EPISODE).encode() + b"\n",
            "line 2: a episodes",
        ),
        (b'{"request": "x", "call": {}, "result": "", "answer": ""}\n', "line 1: episode call"),
    ],
)
def test_bad_or_empty_input_is_an_error_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(content)
    out = tmp_path / "out.jsonl"
    assert main(["scrub", "--in", str(src), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert str(src) in err and message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


_MEMORY_PROBE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from fical_secure.cli import main
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    big = ("Maria Lopez MRN-0042137 seen on 03/14/2024, BP 120/80. " * 90_000)[:5_000_000]
    src.write_text(json.dumps({"id": "big", "text": big}) + "\\n"
                   + json.dumps({"id": "small", "text": "Call 425-555-0100"}) + "\\n", "utf-8")
    code = main(["scrub", "--in", str(src), "--out", str(out)])
    # VmHWM is this process's own peak: ru_maxrss would also count the parent's
    # RSS at fork time, which Linux carries across exec (pytest may hold GBs)
    status = Path("/proc/self/status").read_text().splitlines()
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(json.dumps({"code": code, "rss_kib": peak}))
    """
)


@pytest.mark.process
def test_a_5_mb_record_is_quarantined_with_a_clear_reason_under_1_gb(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    proc = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(tmp_path / "in.jsonl"), str(out)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["code"] == 3
    assert report["rss_kib"] < 1024 * 1024, report
    assert json.loads(out.read_text("utf-8"))["scrubbed"] == "Call <PHONE_NUMBER>"
    (held,) = (tmp_path / "out.quarantine.jsonl").read_text("utf-8").splitlines()
    assert "max_record_chars" in json.loads(held)["reason"]


@pytest.mark.process
@pytest.mark.bench
def test_a_5_mb_record_is_scrubbed_in_chunks_under_1_gb(
    tmp_path: Path,
) -> None:
    """Benchmark mode: the whole 5 MB record goes through the analyzer (minutes on 2 cores)."""
    profile = tmp_path / "profile.yaml"
    from fical_secure.config.scrub import DEFAULT_PROFILE

    profile.write_text(
        DEFAULT_PROFILE.read_text("utf-8").replace(
            "max_record_chars: 1000000", "max_record_chars: 6000000"
        ),
        "utf-8",
    )
    probe = _MEMORY_PROBE.replace(
        '"--out", str(out)]', f'"--out", str(out), "--profile", {str(profile)!r}]'
    )
    out = tmp_path / "out.jsonl"
    proc = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "in.jsonl"), str(out)],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["rss_kib"] < 1024 * 1024, report
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["big", "small"]
    assert "0042137" not in rows[0]["scrubbed"] and "Lopez" not in rows[0]["scrubbed"]
