"""A round on a user's own, non-clinical tool catalogue, through ``demo --data FOLDER``.

The catalogue (a parcel office's tools) and its jargon are written here; the
knowledge ("the brown truck" means carrier ups, "the fishbowl" means room glass)
lives only in each office's examples, so docs alone miss it and the global
compendium teaches each office what the other's examples show.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from federation_folder import PARCEL_TOOL, EvalRow, run_round, write_folder

from fical_secure.kcg.claims import parse_any
from fical_secure.kcg.schema import Compendium

CATALOGUE: list[dict[str, Any]] = [
    PARCEL_TOOL,
    {
        "name": "book_room",
        "description": "Reserve a meeting room for a day.",
        "parameters": {
            "type": "object",
            "properties": {
                "room": {"type": "string", "enum": ["glass", "attic", "lobby"]},
                "day": {"type": "string", "format": "date"},
            },
            "required": ["room", "day"],
        },
    },
    {
        "name": "weigh_box",
        "description": "Postage price of a box by weight in kg.",
        "parameters": {
            "type": "object",
            "properties": {
                "weight_kg": {"type": "number", "minimum": 0.1, "maximum": 30},
                "express": {"type": "boolean"},
            },
            "required": ["weight_kg"],
        },
    },
]
# office -> value -> house phrase (only that office's examples use it)
JARGON = {
    "north": {"ups": "the brown truck", "glass": "the fishbowl"},
    "south": {"dhl": "the yellow van", "attic": "the crow's nest"},
}
SPLITS = ("member", "nonmember")
CARRIER_ASKS = (
    "Where is {id} with {carrier}?",
    "Track {id}, it went {carrier}.",
    "Status of {carrier} parcel {id}?",
)
ROOM_ASKS = (
    "Book {room} for {day}.",
    "Reserve {room} on {day} please.",
    "Can I get {room} on {day}?",
)


def _episode(i: int, office: str, rng: random.Random, split: str) -> dict[str, Any]:
    words = JARGON[office]
    if i % 2:
        carrier = rng.choice(["ups", "dhl", "fedex", *[v for v in words if v in ("ups", "dhl")]])
        tid = f"TR{rng.randrange(10**6):06d}"
        text = rng.choice(CARRIER_ASKS).format(id=tid, carrier=words.get(carrier, carrier))
        call = {"tool": "track_parcel", "arguments": {"carrier": carrier, "tracking_id": tid}}
    else:
        room = rng.choice(
            ["glass", "attic", "lobby", *[v for v in words if v in ("glass", "attic")]]
        )
        day = f"2027-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
        text = rng.choice(ROOM_ASKS).format(room=words.get(room, room), day=day)
        call = {"tool": "book_room", "arguments": {"room": room, "day": day}}
    return {
        "id": f"{office}-{split[0]}{i}",
        "split": split,
        "request": text,
        "call": call,
        "result": "ok",
        "answer": "Done.",
    }


def _write_folder(folder: Path) -> None:
    rng = random.Random(7)
    episodes = {
        office: {split: [_episode(i, office, rng, split) for i in range(24)] for split in SPLITS}
        for office in JARGON
    }
    # each office asks in the other office's words once, in its own once, plainly once
    evals: list[EvalRow] = [
        (
            "north",
            "elsewhere",
            "Where is TR123456 with the yellow van?",
            {"tool": "track_parcel", "arguments": {"carrier": "dhl", "tracking_id": "TR123456"}},
        ),
        (
            "north",
            "local",
            "Reserve the fishbowl on 2027-03-14 please.",
            {"tool": "book_room", "arguments": {"room": "glass", "day": "2027-03-14"}},
        ),
        (
            "north",
            "docs",
            "Price for a 2.5 kg box?",
            {"tool": "weigh_box", "arguments": {"weight_kg": 2.5}},
        ),
        (
            "south",
            "elsewhere",
            "Book the fishbowl for 2027-05-02.",
            {"tool": "book_room", "arguments": {"room": "glass", "day": "2027-05-02"}},
        ),
        (
            "south",
            "elsewhere",
            "Status of the brown truck parcel TR654321?",
            {"tool": "track_parcel", "arguments": {"carrier": "ups", "tracking_id": "TR654321"}},
        ),
        (
            "south",
            "local",
            "Can I get the crow's nest on 2027-06-11?",
            {"tool": "book_room", "arguments": {"room": "attic", "day": "2027-06-11"}},
        ),
    ]
    write_folder(folder, CATALOGUE, episodes, evals)


@pytest.mark.slow
def test_round_on_a_foreign_catalogue_learns_the_other_offices_jargon(tmp_path: Path) -> None:
    folder, out = tmp_path / "parcels", tmp_path / "run"
    _write_folder(folder)
    report = run_round(folder, out)
    assert report["catalogue_tools"] == 3 and report["clients"] == 2
    rows = report["ablation"]["by_needs"]
    elsewhere = {
        c: rows["elsewhere"][c]["end_to_end_success"]["mean"]
        for c in rows["elsewhere"]
        if c != "n_requests"
    }
    assert elsewhere["docs_only"] == 0.0 and elsewhere["local"] == 0.0
    assert elsewhere["global"] == 1.0
    assert rows["local"]["local"]["end_to_end_success"]["mean"] == 1.0
    glob = Compendium.from_json((out / "global_compendium.json").read_text(encoding="utf-8"))
    texts = " ".join(e.text for e in glob.entries)
    for phrase in ("brown truck", "fishbowl", "yellow van", "crow's nest"):
        assert phrase.lower() in texts.lower(), phrase
    # every entry states a checkable claim: an alias or a tool-selection cue
    assert all(parse_any(e.tool, e.text) is not None for e in glob.entries)
