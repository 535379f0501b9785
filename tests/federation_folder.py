"""Test fixtures: tool specs, and federation folders (docs/data-format.md) written from values."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fical_secure.cli import main

# (asking office, needs, request, gold call)
EvalRow = tuple[str, str, str, dict[str, Any]]

PARCEL_TOOL: dict[str, Any] = {
    "name": "track_parcel",
    "description": "Report where a parcel is now.",
    "parameters": {
        "type": "object",
        "properties": {
            "carrier": {"type": "string", "enum": ["ups", "dhl", "fedex"]},
            "tracking_id": {"type": "string", "pattern": "^TR\\d{6}$"},
        },
        "required": ["carrier", "tracking_id"],
    },
}


FORECAST: dict[str, Any] = {  # a namespaced name, an array of enums, a nested object
    "name": "weather.get",
    "description": "Forecast for a city.",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "fields": {"type": "array", "items": {"type": "string", "enum": ["rain", "wind"]}},
            "units": {
                "type": "object",
                "properties": {
                    "temp": {"type": "string", "enum": ["C", "F"]},
                    "precision": {"type": "integer", "minimum": 0, "maximum": 3},
                },
                "required": ["temp"],
            },
            "hours": {"type": ["integer", "null"], "default": None},
        },
        "required": ["city", "fields"],
    },
}


def write_folder(
    folder: Path,
    catalogue: Sequence[dict[str, Any]],
    episodes: Mapping[str, Mapping[str, Sequence[dict[str, Any]]]],
    evals: Sequence[EvalRow],
) -> None:
    """``episodes[office][split]`` become ``<office>.<split>s.jsonl``; evals ``eval.jsonl``."""
    folder.mkdir()
    (folder / "catalogue.json").write_text(json.dumps(list(catalogue)), encoding="utf-8")
    meta = {
        "format": "fical-secure/federation",
        "version": 2,
        "hospitals": [{"hospital_id": office} for office in episodes],
    }
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    for office, splits in episodes.items():
        for split, records in splits.items():
            lines = [json.dumps(r) for r in records]
            (folder / f"{office}.{split}s.jsonl").write_text("\n".join(lines), encoding="utf-8")
    lines = [
        json.dumps({"id": f"e{i}", "hospital": h, "needs": n, "request": r, "gold": g})
        for i, (h, n, r, g) in enumerate(evals)
    ]
    (folder / "eval.jsonl").write_text("\n".join(lines), encoding="utf-8")


def run_round(folder: Path, out: Path) -> dict[str, Any]:
    """``fical-secure demo --data FOLDER --no-model --no-audit``; its ``round.json``."""
    args = ["demo", "--data", str(folder), "--out", str(out), "--no-model", "--quiet"]
    assert main([*args, "--no-audit"]) == 0
    report: dict[str, Any] = json.loads((out / "round.json").read_text(encoding="utf-8"))
    return report
