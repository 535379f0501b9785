"""``fical-secure scrub`` reaches strings nested in a call's arguments (arrays, objects).

Catalogues now take array and object parameters, so a patient's name or MRN
can sit in ``arguments.patients[0].name``; the scrubber must mask it there
as it does in a top-level string argument, keeping the structure.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("presidio_analyzer")

from fical_secure.cli import main


def test_pii_in_nested_arguments_is_masked_and_the_structure_kept(tmp_path: Path) -> None:
    episode = {
        "id": "ep-1",
        "request": "Send the labs of Maria Lopez to cardiology.",
        "call": {
            "tool": "labs.send",
            "arguments": {
                "patients": [{"name": "Maria Lopez", "mrn": "MRN-0042137", "count": 2}],
                "tags": ["urgent", "phone 425-555-0100"],
                "ward": "cardiology",
            },
        },
        "result": "sent",
        "answer": "Done.",
    }
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps(episode) + "\n", encoding="utf-8")
    assert main(["scrub", "--in", str(src), "--out", str(out)]) == 0
    written = out.read_text(encoding="utf-8")
    for value in ("Maria", "Lopez", "0042137", "425-555-0100"):
        assert value not in written, value
    args = json.loads(written)["call"]["arguments"]
    assert args["patients"] == [{"name": "<PERSON>", "mrn": "<MRN>", "count": 2}]
    assert args["tags"] == ["urgent", "phone <PHONE_NUMBER>"] and args["ward"] == "cardiology"
