"""Attacks on secure aggregation over Flower, through the real ServerApp and ClientApp handlers.

Each round runs our ServerApp (:func:`run_round`) against hospitals answering
with the real ClientApp handlers on their own ``federation init`` folders
(:mod:`secagg_grid`); attackers are extra nodes or a server that runs a second
round. Attribution (2), ready squatting (8), cohort differencing (3), the
collision retry (9) and a state rollback (10) are each refused or neutralised.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from flwr.app import Message
from secagg_grid import LocalGrid, hospital, hospital_nodes, secagg_federation, task_identity

import fical_secure.pipeline.multiset as ms
from fical_secure.aggregate.anonymous import ResidualCollision
from fical_secure.config.server import load_server_config
from fical_secure.crypto import labels
from fical_secure.crypto.enrollment import Roster
from fical_secure.crypto.identity import IdentityKey
from fical_secure.crypto.keys import KeyBundle
from fical_secure.errors import (
    InvalidSignature,
    NotEnrolledError,
    RoundAbortedError,
    WrongRoundError,
)
from fical_secure.flower import wire
from fical_secure.flower.client_app import _answer
from fical_secure.flower.client_secagg import handle_secagg
from fical_secure.flower.server_app import run_round
from fical_secure.flower.server_grid import message
from fical_secure.kcg.schema import Compendium
from fical_secure.protocol import RoundConfig
from fical_secure.protocol.secagg.messages import SurvivorList
from fical_secure.protocol.secagg.ready import ReadyStatement, sign_ready, verify_ready

pytestmark = pytest.mark.slow  # each round runs the client pipeline (spaCy, embedder) per hospital
if TYPE_CHECKING:
    from flwr.serverapp import Grid

NAMES = ["h01", "h02", "h03", "h04"]
SQUATTER = 5  # a node id below every hospital's: it answers prepare first


@pytest.fixture(autouse=True, scope="module")
def _identity() -> Iterator[None]:
    yield from task_identity()


def _key(fed: Path, name: str) -> KeyBundle:
    return KeyBundle.load(fed / "clients" / name / "private.key")


def _squatter(fed: Path, victim: str) -> Any:
    """Answers prepare with the victim's key id: unsigned, then forged by its own key."""
    own = KeyBundle.generate().identity
    victim_id = _key(fed, victim).identity.key_id
    tries = iter(["unsigned", "forged"])

    def answer(msg: Message) -> Message:
        if msg.metadata.message_type != wire.PREPARE:
            raise AssertionError("the squatter was sent a secure-aggregation stage")
        fields: dict[str, bytes | str] = {"status": wire.STATUS_READY, "key_id": victim_id.hex()}
        if next(tries) == "forged":
            config = RoundConfig.decode(wire.field_bytes(msg, "config"))
            body = ReadyStatement(config.round_id, config.config_hash, victim_id, 1)
            fields["statement"] = ReadyStatement(
                body.round_id, body.config_hash, victim_id, 1, own.sign(body.body())
            ).encode()
        return Message(wire.record(**fields), reply_to=msg)

    return answer


def _round(fed: Path, nodes: dict[int, Any]) -> tuple[LocalGrid, dict[str, Any]]:
    grid = LocalGrid(nodes)
    as_grid = cast("Grid", grid)  # the three methods the ServerApp calls
    return grid, run_round(as_grid, load_server_config(fed / "server" / "server.yaml"))


@pytest.fixture(scope="module")
def first_round(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LocalGrid, dict[str, Any]]:
    """One honest round of four hospitals; a squatter node claims h01 twice before h01 answers."""
    fed = secagg_federation(tmp_path_factory.mktemp("sa") / "fed")
    squat = _squatter(fed, "h01")
    nodes = {SQUATTER: squat, SQUATTER + 1: squat, **hospital_nodes(fed, NAMES)}
    grid, report = _round(fed, nodes)
    return fed, grid, report


def test_ready_squatting_is_refused_and_the_victim_routed_to_its_own_node(
    first_round: tuple[Path, LocalGrid, dict[str, Any]],
) -> None:
    fed, grid, report = first_round
    assert report["status"] == "done" and report["ready"] == 4
    assert report["refused"] == {"MessageFormatError": 1, "InvalidSignature": 1}
    assert report["transport"]["survivors"] == 4 and report["delivered"] == 4
    to_squatter = [m for m in grid.sent if m.metadata.dst_node_id in (SQUATTER, SQUATTER + 1)]
    assert {m.metadata.message_type for m in to_squatter} == {wire.PREPARE}
    assert (fed / "clients" / "h01" / "out" / "global_result.bin").exists()
    assert report["per_client"]["h01"] == {
        "key_id": _key(fed, "h01").identity.key_id.hex(),
        "status": "ready",
    }


def test_nothing_per_entry_or_per_client_reaches_the_server(
    first_round: tuple[Path, LocalGrid, dict[str, Any]],
) -> None:
    fed, grid, report = first_round
    texts, ids, counts = set(), set(), {}
    for name in NAMES:
        out = fed / "clients" / name / "out"
        released = Compendium.from_json((out / "released.json").read_text("utf-8"))
        texts |= {e.text for e in released.entries}
        ids |= {e.entry_id for e in released.entries}
        local = json.loads((out / "client_report.json").read_text("utf-8"))
        assert local["audit"]["blocked"] is False  # the full report stays with the hospital
        counts[name] = len(released.entries)
    prepare = [r for r in grid.received if r.metadata.message_type == wire.PREPARE]
    for reply in prepare:
        fields = set(reply.content.config_records[wire.RECORD])
        assert fields <= {"status", "key_id", "statement", "reason"}, fields
    server = fed / "server" / "out"
    with sqlite3.connect(server / "store.sqlite") as db:
        dump = "\n".join(db.iterdump())
    for text in [dump] + [(server / n).read_text("utf-8") for n in ("round.json", "server.log")]:
        assert not any(i in text for i in ids)
        assert not any(t in text for t in texts)
    kept = json.dumps(report) + (server / "secagg_round.json").read_text("utf-8")
    for key in ("compendium_entries", "compendium_bytes", "audit", "scrub", "report", "notes"):
        assert f'"{key}"' not in kept, key
    assert all(set(c) == {"key_id", "status"} for c in report["per_client"].values())


def test_cohort_differencing_is_refused_by_every_remaining_client(
    first_round: tuple[Path, LocalGrid, dict[str, Any]],
) -> None:
    """The server runs a second aggregation over {h01, h02, h03}: the difference would be h04."""
    fed, _grid, _report = first_round
    with pytest.raises(RoundAbortedError):
        _round(fed, hospital_nodes(fed, NAMES[:3]))
    report = json.loads((fed / "server" / "out" / "round.json").read_text("utf-8"))
    assert report["status"] == "failed" and "secagg_participants" not in report
    for name in NAMES[:3]:
        log = (fed / "clients" / name / "out" / "client.log").read_text("utf-8")
        assert "ParticipationRefused" in log


@pytest.fixture(scope="module")
def retried_round(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, Any], Path]]:
    """A round whose first unmasked sum collides; h02's state is copied after its masked input."""
    fed = secagg_federation(tmp_path_factory.mktemp("sa") / "fed")
    copy = fed / "h02-state-after-masked-input.bin"
    real_decode, calls = ms.decode_multiset, []

    def collide_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise ResidualCollision("two items share every slot of one checksum")
        return real_decode(*args, **kwargs)

    h02 = hospital(fed / "clients" / "h02" / "hospital.yaml")

    def h02_copied(msg: Message) -> Message:
        reply = h02(msg)
        stage = wire.field_text(msg, "stage") if msg.metadata.message_type == wire.SECAGG else ""
        if stage == "2" and not copy.exists():
            shutil.copy(fed / "clients" / "h02" / "secagg-state.bin", copy)
            shutil.copy(fed / "clients" / "h02" / "pending-items.json", copy.with_suffix(".json"))
        if stage == "3" and not copy.with_suffix(".list").exists():  # the first survivor list
            copy.with_suffix(".list").write_bytes(wire.field_bytes(msg, "request"))
        return reply

    nodes = {**hospital_nodes(fed, NAMES), 12: h02_copied}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ms, "decode_multiset", collide_once)
        _grid, report = _round(fed, nodes)
    yield fed, report, copy


def test_the_collision_retry_completes_over_flower(
    retried_round: tuple[Path, dict[str, Any], Path],
) -> None:
    fed, report, _copy = retried_round
    assert report["status"] == "done" and report["transport"]["attempts"] == 2
    assert report["transport"]["survivors"] == 4 and report["delivered"] == 4
    for name in NAMES:
        folder = fed / "clients" / name
        assert (folder / "out" / "global_result.bin").exists()
        assert not (folder / "pending-items.json").exists()  # kept until the result was stored


def test_a_rolled_back_state_file_is_refused_before_any_share(
    retried_round: tuple[Path, dict[str, Any], Path],
) -> None:
    """h02's state after its masked input is put back; a second, server-signed survivor list
    then names a survivor dropped, so that h02 would reveal both shares of that client."""
    fed, _report, copy = retried_round
    folder = fed / "clients" / "h02"
    shutil.copy(copy, folder / "secagg-state.bin")  # the host puts both files back
    shutil.copy(copy.with_suffix(".json"), folder / "pending-items.json")
    first = SurvivorList.decode(copy.with_suffix(".list").read_bytes())
    me = _key(fed, "h02").identity.key_id
    victim = next(c for c in first.survivors if c != me)
    server = KeyBundle.load(fed / "server" / "private.key").identity
    second = replace(
        first,
        survivors=tuple(c for c in first.survivors if c != victim),
        dropped=(*first.dropped, victim),
    ).signed_by(server)
    ask = message(wire.record(stage="3", request=second), 12, wire.SECAGG, 1)
    ask.metadata.__dict__["_message_id"] = "x"
    reply = _answer(ask, str(folder / "hospital.yaml"), handle_secagg)
    assert wire.field_text(reply, "status") == wire.STATUS_FAILED
    reason = wire.field_text(reply, "reason")
    assert reason.startswith("RollbackError"), reason


def test_a_ready_statement_of_another_round_or_key_is_refused() -> None:

    assert labels.SECAGG_READY_SIGNATURE in labels.ALL_LABELS  # checked distinct, prefix-free
    server, hospital_key, outsider = (IdentityKey.generate() for _ in range(3))
    roster = Roster.create(server, [hospital_key.public], epoch=1)
    signed = sign_ready(hospital_key, 7, b"c" * 32, ready=True)
    assert verify_ready(signed, roster, 7, b"c" * 32).name == "ready"
    with pytest.raises(WrongRoundError):
        verify_ready(signed, roster, 8, b"c" * 32)
    with pytest.raises(NotEnrolledError):
        verify_ready(sign_ready(outsider, 7, b"c" * 32, ready=True), roster, 7, b"c" * 32)
    forged = bytearray(signed)
    forged[-1] ^= 1
    with pytest.raises(InvalidSignature):
        verify_ready(bytes(forged), roster, 7, b"c" * 32)
