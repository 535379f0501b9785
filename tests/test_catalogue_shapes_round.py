"""A round on a catalogue with a dotted name, an array and a nested object parameter.

The folder is written here, in the formats agents use: ``parcels.track`` as
an OpenAI tool, ``rooms.book`` (a list of services) as an MCP tool and
``box.ship`` (an optional nested ``options`` object) in BFCL's dialect. The
round runs through ``demo --data FOLDER`` like any user's folder; the global
compendium must teach each office the other's jargon for the dotted tool,
and the agent must fill the array and run every tool.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from federation_folder import PARCEL_TOOL, EvalRow, run_round, write_folder

from fical_secure.data.function_spec import catalogue_from_json
from fical_secure.data.storage import load_federation
from fical_secure.kcg.schema import Compendium
from fical_secure.tlu.args import fill_arguments
from fical_secure.tlu.knowledge import Knowledge, ValueMatcher

CATALOGUE: list[dict[str, Any]] = [
    {"type": "function", "function": {**PARCEL_TOOL, "name": "parcels.track"}},
    {
        "name": "rooms.book",
        "description": "Reserve a meeting room for a day, with services set up.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "room": {"type": "string", "enum": ["glass", "attic", "lobby"]},
                "day": {"type": "string", "format": "date"},
                "services": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["projector", "catering", "whiteboard"]},
                    "uniqueItems": True,
                },
            },
            "required": ["room", "day"],
        },
    },
    {
        "name": "box.ship",
        "description": "Postage price of shipping a box by its weight in kg.",
        "parameters": {
            "type": "dict",
            "properties": {
                "weight_kg": {"type": "float", "description": "weight in kg"},
                "options": {
                    "type": "dict",
                    "properties": {
                        "insured": {"type": "boolean"},
                        "speed": {"type": "string", "enum": ["standard", "express"]},
                    },
                    "required": ["speed"],
                },
            },
            "required": ["weight_kg"],
        },
    },
]
JARGON = {"north": {"ups": "the brown truck"}, "south": {"dhl": "the yellow van"}}
SPLITS = ("member", "nonmember")
SERVICES = ("projector", "catering", "whiteboard")


def _episode(i: int, office: str, split: str, rng: random.Random) -> dict[str, Any]:
    text, call = _call(i, office, rng)
    record = {"id": f"{office}-{split[0]}{i}", "split": split, "request": text, "call": call}
    return {**record, "result": "ok", "answer": "Done."}


def _call(i: int, office: str, rng: random.Random) -> tuple[str, dict[str, Any]]:
    words = JARGON[office]
    if i % 3 == 0:
        carrier = rng.choice(["ups", "dhl", "fedex", *words])
        tid = f"TR{rng.randrange(10**6):06d}"
        text = f"Where is {tid} with {words.get(carrier, carrier)}?"
        return text, {
            "tool": "parcels.track",
            "arguments": {"carrier": carrier, "tracking_id": tid},
        }
    if i % 3 == 1:
        room, services = rng.choice(["glass", "attic", "lobby"]), rng.sample(SERVICES, 2)
        day = f"2027-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
        text = f"Book {room} on {day} with {services[0]} and {services[1]}."
        booking: dict[str, Any] = {"room": room, "day": day, "services": services}
        return text, {"tool": "rooms.book", "arguments": booking}
    weight = round(rng.uniform(0.5, 20), 1)
    text = f"Ship {weight} kg express, insured."
    args = {"weight_kg": weight, "options": {"insured": True, "speed": "express"}}
    return text, {"tool": "box.ship", "arguments": args}


def _ask(office: str, needs: str, request: str, tool: str, **arguments: Any) -> EvalRow:
    return office, needs, request, {"tool": tool, "arguments": arguments}


def _write_folder(folder: Path) -> None:
    rng = random.Random(11)
    episodes = {
        office: {split: [_episode(i, office, split, rng) for i in range(24)] for split in SPLITS}
        for office in JARGON
    }
    track, book, ship = "parcels.track", "rooms.book", "box.ship"
    evals = [
        _ask("north", "elsewhere", "Where is TR123456 with the yellow van?", track,
             carrier="dhl", tracking_id="TR123456"),
        _ask("south", "elsewhere", "Where is TR654321 with the brown truck?", track,
             carrier="ups", tracking_id="TR654321"),
        _ask("north", "docs",
             "Reserve the attic meeting room on 2027-03-14 with catering and a projector.", book,
             room="attic", day="2027-03-14", services=["catering", "projector"]),
        _ask("south", "docs", "Postage price to ship a box of 2.5 kg?", ship, weight_kg=2.5),
    ]  # fmt: skip
    write_folder(folder, CATALOGUE, episodes, evals)


def test_the_agent_fills_a_list_of_enums_and_finds_its_tool_by_a_nested_value() -> None:
    catalogue = catalogue_from_json(CATALOGUE)
    book = next(t for t in catalogue if t.name == "rooms.book")
    fill = fill_arguments("Book the attic on 2027-03-14 with catering and a projector.", book)
    assert fill.arguments == {
        "room": "attic",
        "day": "2027-03-14",
        "services": ["catering", "projector"],
    }
    matcher = ValueMatcher(catalogue, Knowledge())
    assert matcher.tools("Set up catering for us.") == {"rooms.book"}


@pytest.mark.slow
def test_round_runs_on_dotted_array_and_object_tools(tmp_path: Path) -> None:
    folder, out = tmp_path / "office", tmp_path / "run"
    _write_folder(folder)
    fed = load_federation(folder)
    assert [t.name for t in fed.catalogue] == ["parcels.track", "rooms.book", "box.ship"]
    ship = fed.tool("box.ship")
    fill = fill_arguments("Postage price to ship a box of 2.5 kg?", ship)
    assert fill.arguments == {"weight_kg": 2.5} and fill.complete
    assert "object" in fill.reasons["options"]
    report = run_round(folder, out)
    assert report["catalogue_tools"] == 3 and report["clients"] == 2
    rows = report["ablation"]["by_needs"]
    assert rows["elsewhere"]["docs_only"]["end_to_end_success"]["mean"] == 0.0
    assert rows["elsewhere"]["global"]["end_to_end_success"]["mean"] == 1.0
    assert rows["docs"]["global"]["end_to_end_success"]["mean"] == 1.0  # the array is filled
    glob = Compendium.from_json((out / "global_compendium.json").read_text(encoding="utf-8"))
    claims = [e for e in glob.entries if e.tool == "parcels.track"]
    texts = " ".join(e.text for e in claims).lower()
    assert "brown truck" in texts and "yellow van" in texts
