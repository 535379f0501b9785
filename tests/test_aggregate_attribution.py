"""The server, not the payload, decides who wrote what (issue 8, attack 2).

Enrolled clients seal hostile compendiums through the real protocol; the
server's intake (the function the round's transport stage uses) attributes
each by its authenticated sender, ignores claimed support, rejects payloads
that do not decode within bounds, and the round carries on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fical_secure.aggregate import GLOBAL_OWNER, accept_payloads, aggregate
from fical_secure.crypto.keys import IdentityKey, Roster
from fical_secure.errors import SchemaError
from fical_secure.kcg.schema import Compendium, Entry
from fical_secure.protocol.client import Client
from fical_secure.protocol.server import Server

SHARED = Entry("lab_order", "usage", "Order a chem-7 as basic_metabolic_panel.")
LONE = Entry("lab_order", "pitfall", "Only one hospital ever saw this.")
OTHER = Entry("lab_order", "pitfall", "Another hospital's idiosyncrasy.")


def _payload(owner: str, entries: list[Entry], support: int = 1) -> bytes:
    comp = Compendium(
        owner=owner, entries=tuple(Entry(e.tool, e.kind, e.text, support) for e in entries)
    )
    return comp.to_bytes()


HOSTILE = {
    "claims_global": _payload(GLOBAL_OWNER, [LONE], support=1000),
    "claims_h1": _payload("h1", [OTHER], support=5),
    "nested": b"[" * 100_000,
    "huge_int": b'{"version": 1, "owner": "x", "entries": [], "meta": {"n": ' + b"9" * 5000 + b"}}",
    "not_utf8": b"\xff\xfe{}",
}


def _round(tmp_path: Path, payloads: dict[str, bytes]) -> list[tuple[bytes, bytes]]:
    server_key = IdentityKey.generate()
    keys = {name: IdentityKey.generate() for name in payloads}
    roster = Roster.create(server_key, [k.public for k in keys.values()], epoch=1)
    server = Server.create(tmp_path / "server.db", server_key, roster)
    try:
        cfg = server.open_round(1, min_clients=2)
        for name, payload in payloads.items():
            client = Client(keys[name], server_key.public)
            client.check_receipt(server.receive(client.seal_submission(cfg, payload)))
        closed = server.close_round()
    finally:
        server.close()
    names = {k.key_id: name for name, k in keys.items()}
    return [(names[sender], plaintext) for sender, plaintext in closed]


def test_hostile_payloads_are_attributed_to_their_sender_and_cannot_outvote_honest_ones(
    tmp_path: Path,
) -> None:
    honest = {"h1": _payload("h1", [SHARED]), "h2": _payload("h2", [SHARED])}
    by_name = _round(tmp_path, {**honest, **HOSTILE})
    owners = {name.encode(): name for name, _ in by_name}
    intake = accept_payloads([(n.encode(), p) for n, p in by_name], owners)
    assert sorted(c.owner for c in intake.accepted) == ["claims_global", "claims_h1", "h1", "h2"]
    assert sorted(intake.rejected) == ["huge_int", "nested", "not_utf8"]
    assert all(e.support == 1 for c in intake.accepted for e in c.entries)
    glob = aggregate(intake.accepted, min_support=2)
    # the entry two honest clients share survives; the one "supported by 1000" does not
    assert [(e.text, e.support) for e in glob.entries] == [(SHARED.text, 2)]
    assert glob.owner == GLOBAL_OWNER


def test_a_client_claiming_another_hospitals_name_does_not_abort_aggregation(
    tmp_path: Path,
) -> None:
    by_name = _round(
        tmp_path, {"h1": _payload("h1", [SHARED]), "h2": _payload("h1", [SHARED, LONE])}
    )
    intake = accept_payloads(
        [(n.encode(), p) for n, p in by_name], {n.encode(): n for n, _ in by_name}
    )
    glob = aggregate(intake.accepted)  # no AggregationError: owners come from the server
    assert {e.text: e.support for e in glob.entries} == {SHARED.text: 2, LONE.text: 1}


@pytest.mark.parametrize("names", [["global", "h2"], ["h1", "h1"], ["", "h2"], ["GLOBAL", "h1"]])
def test_enrollment_names_must_be_unique_and_never_global(names: list[str]) -> None:
    owners = {bytes([i]) * 16: name for i, name in enumerate(names)}
    with pytest.raises(SchemaError):
        accept_payloads([], owners)


def test_bounded_decoding_errors_are_schema_errors() -> None:
    for payload in HOSTILE.values():
        if payload in (HOSTILE["claims_global"], HOSTILE["claims_h1"]):
            continue
        with pytest.raises(SchemaError):
            Compendium.from_json(payload)
    deep_meta = {"version": 1, "owner": "x", "entries": [], "meta": {}}
    node: dict[str, object] = deep_meta["meta"]  # type: ignore[assignment]
    for _ in range(40):
        node["a"] = {}
        node = node["a"]  # type: ignore[assignment]
    with pytest.raises(SchemaError, match="nests"):
        Compendium.from_json(json.dumps(deep_meta))
