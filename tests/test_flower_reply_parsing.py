"""Crafted replies to the ServerApp (attack 11): each is refused alone and the round finishes.

Enrolled hospitals seal real envelopes with their own keys but send hostile
notes beside them (``b"\\x80"``, ``[]``, ``{"report": 5}``, nested 100k deep);
other nodes send an unknown status or a field of the wrong type; one enrolled
hospital answers the result message with junk. The ServerApp's real
``run_round`` runs on an in-process Grid (``tests/loopback_grid.py``): each
hostile reply is refused with ``MessageFormatError`` before its envelope is
stored, and the honest hospitals, whose real ClientApp handlers run the
pipeline, verify and store the signed global compendium.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flower_fleet import edit_yaml, free_ports
from flwr.app import Message
from loopback_grid import Answer, LoopbackGrid, as_serverapp, client_node

from fical_secure.config.client import load_hospital_config
from fical_secure.config.server import load_server_config
from fical_secure.errors import MessageFormatError
from fical_secure.flower import wire
from fical_secure.flower.client_setup import load_keys
from fical_secure.flower.init import InitOptions, init_federation
from fical_secure.flower.notes import ClientNotes
from fical_secure.flower.server_app import run_round
from fical_secure.kcg.schema import Compendium, Entry
from fical_secure.protocol import Client, RoundConfig

DEEP = b"[" * 100_000 + b"]" * 100_000
HOSTILE_NOTES = [b"\x80", b"[]", b'{"report": 5}', DEEP]


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fed") / "fed"
    port, node = free_ports(2)
    init_federation(
        out, InitOptions(clients=6, port=port, first_node_port=node, min_clients=2, episodes=30)
    )
    for hospital in (out / "clients").glob("*/hospital.yaml"):
        edit_yaml(
            hospital,
            lambda c: (c["kcg"].update(paraphrase=False), c["privacy"].update(audit_use_llm=False)),
        )
    edit_yaml(
        out / "server" / "server.yaml",
        lambda c: c["round"].update(wait_seconds=5, stage_timeout_seconds=30),
    )
    return out


def _hospital_config(federation: Path, cid: str) -> Path:
    return federation / "clients" / cid / "hospital.yaml"


def sealing_attacker(federation: Path, cid: str, notes: bytes, result: Answer | None) -> Answer:
    """An enrolled hospital that seals a real envelope with its own keys and sends ``notes``."""
    cfg = load_hospital_config(_hospital_config(federation, cid))

    def answer(message: Message) -> Message | None:
        if message.metadata.message_type != wire.SUBMIT:
            return None if result is None else result(message)
        identity, server, roster = load_keys(cfg)
        config = RoundConfig.decode(wire.field_bytes(message, "config"))
        client = Client(identity, server)
        client.accept_round(config, roster)
        entry = Entry("bmi_calculator", "purpose", "bmi_calculator computes body-mass index.")
        envelope = client.seal_submission(config, Compendium(cid, (entry,)).to_bytes(), roster)
        content = wire.record(status=wire.STATUS_SEALED, envelope=envelope, notes=notes)
        return Message(content, reply_to=message)

    return answer


def junk(**fields: object) -> Answer:
    """A node that answers every message with ``fields`` as its ConfigRecord."""
    from flwr.app import ConfigRecord, RecordDict

    def answer(message: Message) -> Message:
        content = RecordDict({wire.RECORD: ConfigRecord(dict(fields))})  # type: ignore[arg-type]
        return Message(content, reply_to=message)

    return answer


@pytest.fixture(scope="module")
def round_report(federation: Path) -> Iterator[dict[str, Any]]:
    valid = ClientNotes("h06", {"compendium_entries": 1}).encode()
    nodes: dict[int, Answer] = {
        1: client_node(_hospital_config(federation, "h01")),
        2: client_node(_hospital_config(federation, "h02")),
        3: sealing_attacker(federation, "h03", HOSTILE_NOTES[0], None),
        4: sealing_attacker(federation, "h04", HOSTILE_NOTES[1], None),
        5: sealing_attacker(federation, "h05", HOSTILE_NOTES[2], None),
        6: sealing_attacker(federation, "h03", HOSTILE_NOTES[3], None),
        7: junk(status="pwned", reason="x"),
        8: junk(status=b"sealed"),
        9: sealing_attacker(federation, "h06", valid, junk(status=b"\x80")),
    }
    with pytest.MonkeyPatch.context() as monkeypatch:
        as_serverapp(monkeypatch)
        yield run_round(
            LoopbackGrid(nodes), load_server_config(federation / "server" / "server.yaml")
        )


def test_the_round_finishes_with_every_hostile_reply_refused(
    round_report: dict[str, Any],
) -> None:
    report = round_report
    assert report["status"] == "done"
    transport = report["transport"]
    assert transport["refused_envelopes"] == {"MessageFormatError": 6}
    assert transport["envelopes"] == 3  # h01, h02 and h06 (whose notes were valid)
    per_client = report["per_client"]
    assert sorted(per_client) == ["h01", "h02", "h06"]
    assert report["delivered"] == 2  # h06's junk answer to the result is not a store


def test_no_hostile_notes_reach_the_round_report(
    round_report: dict[str, Any], federation: Path
) -> None:
    assert round_report["status"] == "done"
    written = json.loads((federation / "server" / "out" / "round.json").read_text("utf-8"))
    assert written["status"] == "done" and written["per_client"]["h06"]["report"] == {
        "compendium_entries": 1
    }
    assert all(isinstance(c["report"], dict) for c in written["per_client"].values())


def test_the_honest_hospitals_stored_the_signed_result(
    round_report: dict[str, Any], federation: Path
) -> None:
    for cid in ("h01", "h02"):
        cfg = load_hospital_config(_hospital_config(federation, cid))
        stored = json.loads((cfg.output / "global_compendium.json").read_text("utf-8"))
        assert stored["entries"], cid


@pytest.mark.parametrize(
    "notes",
    [
        *HOSTILE_NOTES,
        b"",
        b'{"client_id": 5}',
        b'{"client_id": "' + b"x" * 65 + b'"}',
        b'{"client_id": "h01", "report": {}, "extra": 1}',
        b'{"report": {"auc": NaN}}',
        b'{"report": {"n": ' + b"9" * 5000 + b"}}",
    ],
)
def test_client_notes_refuse_every_malformed_shape(notes: bytes) -> None:
    with pytest.raises(MessageFormatError):
        ClientNotes.decode(notes)


def test_client_notes_round_trip_and_drop_non_finite_figures() -> None:
    notes = ClientNotes("h01", {"auc": float("nan"), "n": 3, "by": {"x": [1.5, float("inf")]}})
    back = ClientNotes.decode(notes.encode())
    assert back == ClientNotes("h01", {"auc": None, "n": 3, "by": {"x": [1.5, None]}})


def test_secagg_ready_replies_with_hostile_statements_are_refused_alone(
    federation: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The secure-aggregation ready reply: hostile statement bytes are each that reply's refusal."""
    from fical_secure.crypto.keys import Roster
    from fical_secure.flower.secagg_routing import proven_ready
    from fical_secure.flower.server_grid import message
    from fical_secure.protocol.secagg.ready import sign_ready

    as_serverapp(monkeypatch)
    roster = Roster.decode((federation / "server" / "roster.bin").read_bytes())
    cids = ("h01", "h02", "h03", "h04", "h05")
    identities = [load_keys(load_hospital_config(_hospital_config(federation, c)))[0] for c in cids]
    config = SimpleNamespace(round_id=1, config_hash=bytes(32))
    honest = sign_ready(identities[0], config.round_id, config.config_hash, ready=True)
    replies = []
    for node, (identity, statement) in enumerate(
        zip(identities, [honest, *HOSTILE_NOTES], strict=True), start=1
    ):
        prepare = message(wire.record(), node, wire.PREPARE, 1)
        prepare.metadata.__dict__["_message_id"] = f"p{node}"  # what the SuperLink assigns
        content = wire.record(
            status=wire.STATUS_READY, key_id=identity.key_id.hex(), statement=statement
        )
        replies.append(Message(content, reply_to=prepare))
    ready, statuses, refused = proven_ready(replies, roster, {identities[0].key_id: "h01"}, config)
    assert ready == {identities[0].key_id: 1} and list(statuses) == ["h01"]
    assert refused == {"MessageFormatError": 4}
