"""A federation deployed on Flower's real processes: SuperLink, SuperNodes, TLS, SuperNode auth.

Through the commands a newcomer types: ``federation init``, ``server``,
``client``. One sealed round with three hospitals and one SuperNode whose
key is not registered; one round where a SuperNode is killed mid-round.
The fast client configuration is documented in ``tests/flower_fleet.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flower_fleet import Fleet, edit_yaml, free_ports, init_federation

from fical_secure.kcg.claims import ToolCue, parse_any
from fical_secure.kcg.schema import Entry

pytestmark = [pytest.mark.slow, pytest.mark.process]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    fleet = Fleet(tmp_path)
    try:
        yield fleet
    finally:
        strays = fleet.stop_all()
    assert strays == [], f"processes left running: {strays}"


def _outcome(fed: Path, started: list[str]) -> tuple[list[str], list[str]]:
    """(hospitals whose envelope the server accepted, hospitals whose own gate blocked them).

    The privacy gate decides per hospital on its data (fail closed); a blocked
    hospital sends nothing, says so in its log, and the round goes on without it.
    """
    report = json.loads((fed / "server" / "out" / "round.json").read_text(encoding="utf-8"))
    accepted = sorted(report["per_client"])  # named by the server's enrollment, not by claims
    blocked = sorted(
        cid
        for cid in started
        if "release blocked" in (fed / "clients" / cid / "out" / "client.log").read_text()
    )
    assert not set(accepted) & set(blocked)
    assert report["transport"]["refused_envelopes"] == (
        {"client_blocked": len(blocked)} if blocked else {}
    )
    return accepted, blocked


def _check_published(fed: Path, hospitals: list[str]) -> dict[str, object]:
    """The server's signed global compendium verifies and every listed hospital stored it."""
    from fical_secure.crypto.keys import PublicKeyBundle
    from fical_secure.kcg.schema import Compendium
    from fical_secure.protocol import GlobalResult

    out = fed / "server" / "out"
    report = json.loads((out / "round.json").read_text(encoding="utf-8"))
    signed = (out / "global_result.bin").read_bytes()
    result = GlobalResult.decode(signed)
    result.verify(PublicKeyBundle.load(fed / "server" / "public.key").identity)
    glob = Compendium.from_json(result.payload)
    assert glob.to_json() == (out / "global_compendium.json").read_text(encoding="utf-8")
    assert result.contributors == len(hospitals) == report["clients"]
    assert glob.entries and report["global_entries"] == len(glob.entries)
    released_tools = set()
    for cid in hospitals:
        client_out = fed / "clients" / cid / "out"
        assert (client_out / "global_result.bin").read_bytes() == signed
        assert (client_out / "global_compendium.json").read_text(encoding="utf-8") == glob.to_json()
        released = Compendium.from_json((client_out / "released.json").read_text("utf-8"))
        released_tools |= {e.tool for e in released.entries}
    assert {e.tool for e in glob.entries} <= released_tools  # content comes from the releases
    assert report["delivered"] == len(hospitals)
    return report


def test_sealed_round_on_flower_with_tls_and_supernode_auth(tmp_path: Path, fleet: Fleet) -> None:
    link, *nodes = free_ports(5)
    fed = tmp_path / "fed"
    init_federation(fed, clients=3, port=link, node_port=nodes[0], min_clients=1, stage_timeout=400)
    # a SuperNode whose authentication key the operator never registered
    from fical_secure.crypto.transport_keys import new_supernode_auth_key

    rogue = fed / "clients" / "rogue"
    shutil.copytree(fed / "clients" / "h01", rogue)
    (rogue / "supernode.key").unlink()
    (rogue / "supernode.key").write_bytes(new_supernode_auth_key("rogue").private)
    os.chmod(rogue / "supernode.key", 0o600)
    edit_yaml(rogue / "hospital.yaml", lambda c: c["superlink"].update(node_port=nodes[3]))

    fleet.start("server", ["server", "--config", str(fed / "server" / "server.yaml")])
    fleet.wait_for("server", "SuperLink ready", 180)
    fleet.start("rogue", ["client", "--config", str(rogue / "hospital.yaml")])
    for cid in ("h01", "h02", "h03"):
        fleet.start(cid, ["client", "--config", str(fed / "clients" / cid / "hospital.yaml")])
    assert fleet.wait_exit("rogue", 120) == 1
    assert "not registered with the SuperLink" in fleet.log("rogue")
    assert fleet.wait_exit("server", 600) == 0, fleet.log("server")
    accepted, blocked = _outcome(fed, ["h01", "h02", "h03"])
    assert sorted(accepted + blocked) == ["h01", "h02", "h03"] and accepted
    report = _check_published(fed, accepted)
    assert report["status"] == "done" and report["supernodes"] == 3
    assert report["transport"]["mode"] == "sealed"  # type: ignore[index]
    for cid in blocked:  # fail closed: nothing sent, nothing stored
        assert not (fed / "clients" / cid / "out" / "released.json").exists()
        assert not (fed / "clients" / cid / "out" / "global_compendium.json").exists()
    superlink_log = (fed / "server" / "out" / "superlink.log").read_text(errors="replace")
    assert "No SuperNode found with the given public key" in superlink_log
    assert "https://" in superlink_log  # TLS on
    assert not (rogue / "out" / "global_compendium.json").exists()
    for cid in ("h01", "h02", "h03"):
        assert "stage scrub" in (fed / "clients" / cid / "out" / "client.log").read_text()


def test_sealed_round_completes_without_a_supernode_killed_mid_round(
    tmp_path: Path, fleet: Fleet
) -> None:
    link, *nodes = free_ports(4)
    fed = tmp_path / "fed"
    init_federation(fed, clients=3, port=link, node_port=nodes[0], min_clients=1, stage_timeout=150)
    fleet.start("server", ["server", "--config", str(fed / "server" / "server.yaml")])
    fleet.wait_for("server", "SuperLink ready", 180)
    for cid in ("h01", "h02", "h03"):
        fleet.start(cid, ["client", "--config", str(fed / "clients" / cid / "hospital.yaml")])
    # h01 has the round config (it is mid-round) when its SuperNode dies
    fleet.wait_for("h01", "stage accept", 300, file=fed / "clients" / "h01" / "out" / "client.log")
    supernode = [
        p
        for p in fleet.descendants(fleet.procs["h01"].pid)
        if "flower-supernode" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")
    ]
    assert len(supernode) == 1
    os.kill(supernode[0], signal.SIGKILL)
    assert fleet.wait_exit("h01", 60) == 1  # the client command reports its SuperNode's death
    assert fleet.wait_exit("server", 600) == 0, fleet.log("server")
    accepted, blocked = _outcome(fed, ["h02", "h03"])
    assert sorted(accepted + blocked) == ["h02", "h03"] and accepted
    report = _check_published(fed, accepted)
    assert report["supernodes"] == 3 and report["replies"] == 2
    assert report["lost_supernodes"] == 1
    assert not (fed / "clients" / "h01" / "out" / "global_compendium.json").exists()


def _units(entry: Entry) -> list[tuple[str, ...]]:
    """An entry's units of knowledge as the aggregate counts them: a cue entry's phrases."""
    claim = parse_any(entry.tool, entry.text)
    if isinstance(claim, ToolCue):
        return [("cue", entry.tool, entry.kind, phrase) for phrase in claim.phrases]
    return [("text", entry.tool, entry.kind, entry.text)]


def _secagg_published(fed: Path, hospitals: list[str]) -> dict[str, object]:
    """The secure-aggregated round: signed result stored by every survivor, the multiset of
    the survivors' released entries, and nothing on the server side that names a writer."""
    import sqlite3
    from collections import Counter

    from fical_secure.crypto.keys import PublicKeyBundle
    from fical_secure.kcg.schema import Compendium
    from fical_secure.protocol import GlobalResult

    out = fed / "server" / "out"
    report = json.loads((out / "round.json").read_text(encoding="utf-8"))
    assert report["status"] == "done" and report["mode"] == "secagg", report
    signed = (out / "global_result.bin").read_bytes()
    result = GlobalResult.decode(signed)
    result.verify(PublicKeyBundle.load(fed / "server" / "public.key").identity)
    glob = Compendium.from_json(result.payload)
    assert result.contributors == report["clients"] == len(hospitals)
    released: dict[str, Compendium] = {}
    for cid in hospitals:
        client_out = fed / "clients" / cid / "out"
        assert (client_out / "global_result.bin").read_bytes() == signed
        released[cid] = Compendium.from_json((client_out / "released.json").read_text("utf-8"))
    # support is counted from the aggregate: how many survivors released each unit of
    # knowledge (an exact entry, or one phrase of a cue entry: the aggregate splits cue
    # entries into phrases and writes them back per support level)
    held = Counter(u for c in released.values() for u in {u for e in c.entries for u in _units(e)})
    assert glob.entries
    for entry in glob.entries:
        assert entry.support >= 1
        assert all(held[u] >= entry.support for u in _units(entry)), entry
    assert sum(e.support * len(_units(e)) for e in glob.entries) <= sum(held.values())
    texts = {e.text for c in released.values() for e in c.entries}
    # the server's state: no stored envelope, no client text outside the published aggregate
    with sqlite3.connect(out / "store.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM submissions").fetchone() == (0,)
    for name in ("server.log", "round.json", "secagg_round.json", "superlink.log"):
        text = (out / name).read_text(encoding="utf-8", errors="replace")
        assert not any(t in text for t in texts), name  # no entry text at all
    assert glob.owner == "global" and not any(cid in glob.to_json() for cid in hospitals)
    assert report["delivered"] == len(hospitals)
    return report


def _all_ready(fed: Path, cids: list[str]) -> list[str]:
    return [
        c
        for c in cids
        if "stage prepare" in (fed / "clients" / c / "out" / "client.log").read_text()
    ]


def _start_secagg_federation(tmp_path: Path, fleet: Fleet) -> tuple[Path, list[str]]:
    """``federation init --mode secagg`` with 4 hospitals; server and every client started."""
    link, *nodes = free_ports(5)
    fed = tmp_path / "fed"
    cids = ["h01", "h02", "h03", "h04"]
    init_federation(
        fed,
        clients=4,
        port=link,
        node_port=nodes[0],
        min_clients=3,
        stage_timeout=400,
        mode="secagg",
    )
    fleet.start("server", ["server", "--config", str(fed / "server" / "server.yaml")])
    fleet.wait_for("server", "SuperLink ready", 180)
    for cid in cids:
        fleet.start(cid, ["client", "--config", str(fed / "clients" / cid / "hospital.yaml")])
    return fed, cids


def test_secagg_round_on_flower_with_tls_and_supernode_auth(tmp_path: Path, fleet: Fleet) -> None:
    fed, cids = _start_secagg_federation(tmp_path, fleet)
    assert fleet.wait_exit("server", 900) == 0, fleet.log("server")
    ready = _all_ready(fed, cids)
    report = _secagg_published(fed, ready)
    assert report["ready"] == len(ready) and report["transport"]["survivors"] == len(ready)  # type: ignore[index]
    server_log = (fed / "server" / "out" / "server.log").read_text()
    assert "stage secagg 4" in server_log and "unmasked the sum" in server_log
    from fical_secure.crypto.keys import KeyBundle, PublicKeyBundle
    from fical_secure.protocol.secagg.persist import SecAggStateFile

    server_key = PublicKeyBundle.load(fed / "server" / "public.key").identity
    for cid in ready:  # a finished round keeps no secret on the client either
        folder = fed / "clients" / cid
        states = SecAggStateFile(
            folder / "secagg-state.bin", KeyBundle.load(folder / "private.key"), server_key
        )
        saved = states.load()
        assert saved is not None and saved.finished and saved.client is None
        assert not (folder / "pending-items.json").exists()


def test_secagg_round_recovers_a_supernode_killed_mid_round(tmp_path: Path, fleet: Fleet) -> None:
    fed, cids = _start_secagg_federation(tmp_path, fleet)
    # every client dealt its key shares (stage 1) when h01's SuperNode dies: h01 sends no
    # masked input, so its pairwise masks must be removed from the others' with its shares
    log1 = fed / "clients" / "h01" / "out" / "client.log"
    server_log = fed / "server" / "out" / "server.log"
    fleet.wait_for("server", "stage secagg 1: 4 of 4 replied", 600, file=server_log)
    supernode = [
        p
        for p in fleet.descendants(fleet.procs["h01"].pid)
        if "flower-supernode" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")
    ]
    assert len(supernode) == 1
    os.kill(supernode[0], signal.SIGKILL)
    killed = time.monotonic()
    # noticed after the straggler grace (10 s), not Flower's heartbeat patience (60 s)
    fleet.wait_for("server", "stage secagg 2: 3 of 4 replied", 45, file=server_log)
    noticed = time.monotonic() - killed
    assert noticed < 40, noticed
    assert fleet.wait_exit("h01", 60) == 1
    assert fleet.wait_exit("server", 900) == 0, fleet.log("server")
    assert "stage secagg 2" not in log1.read_text()  # it never sent a masked input
    survivors = [c for c in _all_ready(fed, cids) if c != "h01"]
    report = _secagg_published(fed, survivors)
    assert report["secagg_participants"] == len(survivors) + 1
    assert report["lost_supernodes"] == 1
    assert report["transport"]["survivors"] == len(survivors)  # type: ignore[index]
    assert not (fed / "clients" / "h01" / "out" / "global_compendium.json").exists()
