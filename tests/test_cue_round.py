"""A round on a small folder teaches the federation a tool-selection cue.

Each office's requests ask for its weather tool in its own words ("brolly"
at north, "umbrella" at south); the global compendium carries both offices'
cue sentences through the scrubber, the release checks and aggregation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from federation_folder import FORECAST, PARCEL_TOOL, EvalRow, run_round, write_folder

from fical_secure.kcg.claims import ToolCue, entry_claims
from fical_secure.kcg.schema import Compendium

ASKS = {
    "north": ("Do I need a brolly in {city}?", "Brolly weather for {city} today?"),
    "south": ("Umbrella day in {city}?", "Will {city} need an umbrella?"),
}
CITIES = ("Leeds", "Porto", "Lyon", "Graz", "Turku", "Bergen")


def _records(office: str, split: str) -> list[dict[str, Any]]:
    out = []
    for i, city in enumerate(CITIES):
        tid = f"TR{100000 + i:06d}"
        weather = {"tool": "weather.get", "arguments": {"city": city, "fields": ["rain"]}}
        parcel = {"tool": "track_parcel", "arguments": {"carrier": "dhl", "tracking_id": tid}}
        for j, (text, call) in enumerate(
            ((ASKS[office][i % 2].format(city=city), weather), (f"Where is dhl {tid}?", parcel))
        ):
            out.append(
                {
                    "id": f"{office}-{split[0]}{i}-{j}",
                    "split": split,
                    "request": text,
                    "call": call,
                    "result": "ok",
                    "answer": "Done.",
                }
            )
    return out


@pytest.mark.slow
def test_a_round_puts_a_mined_cue_into_the_global_compendium(tmp_path: Path) -> None:
    folder, out = tmp_path / "offices", tmp_path / "run"
    episodes = {o: {s: _records(o, s) for s in ("member", "nonmember")} for o in ASKS}
    gold = {"tool": "weather.get", "arguments": {"city": "Oslo", "fields": ["rain"]}}
    evals: list[EvalRow] = [("south", "elsewhere", "Brolly for Oslo?", gold)]
    write_folder(folder, [FORECAST, PARCEL_TOOL], episodes, evals)
    report = run_round(folder, out)
    glob = Compendium.from_json((out / "global_compendium.json").read_text(encoding="utf-8"))
    cues = [c for c in entry_claims(glob.entries) if isinstance(c, ToolCue)]
    weather = {p for c in cues if c.tool == "weather.get" for p in c.phrases}
    assert {"brolly", "umbrella"} <= weather
    assert report["scrub"]["north"]["entries_dropped"] == 0
