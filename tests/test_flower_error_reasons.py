"""Record values never cross the wire in a refusal reason (attack 4).

A hospital's episode file has a bad line holding an MRN and a patient's name
in its request and in an argument that fails the tool's schema. The
real ClientApp handler, given a real server-signed round, replies with the
error's type, file and line only; the ServerApp's reply parsing counts and
logs that reason, and neither value reaches the server. The client's own
``client.log`` keeps the full message (line, tool, argument and what it must be).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from flower_fleet import free_ports
from flwr.app import Message, RecordDict
from loopback_grid import as_serverapp, client_node

from fical_secure.config.client import load_hospital_config
from fical_secure.crypto.keys import KeyBundle, Roster
from fical_secure.errors import DataError, ProtocolError
from fical_secure.flower import wire
from fical_secure.flower.client_app import _answer
from fical_secure.flower.init import InitOptions, init_federation
from fical_secure.flower.notes import ClientNotes
from fical_secure.flower.server_app import parse_submissions
from fical_secure.flower.server_grid import message
from fical_secure.protocol import Server

MRN, NAME = "MRN-0042137", "Maria Lopez"


@pytest.fixture()
def federation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two hospitals; line 2 of h01's episodes quotes an MRN and a name where it is wrong."""
    as_serverapp(monkeypatch)
    out = tmp_path / "fed"
    port, node = free_ports(2)
    init_federation(out, InitOptions(clients=2, port=port, first_node_port=node, episodes=4))
    data = out / "clients" / "h01" / "h01.jsonl"
    lines = data.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[1])
    record["request"] += f" Patient {NAME}, {MRN}."
    record["call"]["arguments"] = {"ward": f"{NAME} {MRN}"}  # no such ward
    record["pii"].append({"kind": "PERSON", "value": f"{NAME} Jr"})  # not in the text
    lines[1] = json.dumps(record)
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def _server_and_submit(federation: Path, store: Path) -> tuple[Server, Message]:
    """The operator's real protocol server, its signed round config and roster as a message."""
    identity = KeyBundle.load(federation / "server" / "private.key").identity
    roster = Roster.decode((federation / "server" / "roster.bin").read_bytes())
    server = Server.create(store, identity, roster)
    round_id = time.time_ns() // 1_000_000
    config = server.open_round(round_id, min_clients=1)
    submit = message(wire.record(config=config.encode(), roster=roster.encode()), 1, wire.SUBMIT, 0)
    submit.metadata.__dict__["_message_id"] = "m1"  # what the SuperLink assigns
    return server, submit


def test_a_data_error_reason_names_type_file_and_line_never_the_values(
    federation: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hospital = federation / "clients" / "h01" / "hospital.yaml"
    server, submit = _server_and_submit(federation, tmp_path / "store.sqlite")
    caplog.set_level(logging.INFO, logger="fical_secure")
    reply = client_node(hospital)(submit)
    assert wire.field_text(reply, "status") == wire.STATUS_FAILED
    assert wire.field_text(reply, "reason") == "DataError at h01.jsonl line 2"

    notes: dict[int, ClientNotes] = {}
    try:
        submitted = parse_submissions([reply], notes)
    finally:
        server.close()
    assert (submitted.submissions, notes) == ((), {})
    assert submitted.refused == {"client_failed": 1}
    on_server = [r.getMessage() for r in caplog.records if r.name.endswith("server_app")]
    assert any("DataError at h01.jsonl line 2" in line for line in on_server)
    assert not any(MRN in line or NAME in line for line in on_server)

    client_log = (load_hospital_config(hospital).output / "client.log").read_text("utf-8")
    # the detail (which line, which argument, what it must be) stays with the hospital
    assert "line 2: bed_availability: argument 'ward' must be one of" in client_log


def test_an_unexpected_exception_sends_only_its_type(
    federation: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Flower would send ``str(exc)`` of an exception the ClientApp lets escape."""
    hospital = federation / "clients" / "h02" / "hospital.yaml"
    server, submit = _server_and_submit(federation, tmp_path / "store.sqlite")
    server.close()

    def leaky(_cfg: object, _message: Message) -> RecordDict:
        raise KeyError(f"{NAME} {MRN}")

    reply = _answer(submit, str(hospital), leaky)
    assert wire.field_text(reply, "reason") == "KeyError"
    client_log = (load_hospital_config(hospital).output / "client.log").read_text("utf-8")
    assert MRN in client_log


def test_a_configuration_error_sends_only_its_type(federation: Path, tmp_path: Path) -> None:
    _server, submit = _server_and_submit(federation, tmp_path / "store.sqlite")
    _server.close()
    bad = tmp_path / "hospital.yaml"
    bad.write_text(f"client_id: {MRN}\n", encoding="utf-8")
    reply = _answer(submit, str(bad), lambda _c, _m: wire.record())
    assert wire.field_text(reply, "reason") == "ConfigError"


def test_public_reasons_list_lines_and_only_the_type_elsewhere() -> None:
    many = DataError(f"{MRN} everywhere", source="h01.jsonl", lines=range(1, 26))
    assert many.public_reason() == (
        "DataError at h01.jsonl lines 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, "
        "17, 18, 19, 20 and 5 more"
    )
    assert DataError(f"{NAME}").public_reason() == "DataError"
    assert ProtocolError(f"{MRN}").public_reason() == "ProtocolError"
