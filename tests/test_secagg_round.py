"""`--mode secagg`: same global entry multiset as sealed, and the server holds no attribution."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from fical_secure.aggregate import aggregate
from fical_secure.data.schema import HospitalData
from fical_secure.kcg.schema import Compendium, Entry, ToolSignature
from fical_secure.pipeline.client_state import ClientRoundState
from fical_secure.pipeline.demo import build_stages
from fical_secure.pipeline.runner import run_stages
from fical_secure.pipeline.state import RoundSettings, RoundState
from fical_secure.pipeline.transport import (
    DeliverStage,
    SealedTransportStage,
    SecAggTransportStage,
)


def _released(n: int) -> dict[str, Compendium]:
    out = {}
    for i in range(1, n + 1):
        entries = [
            Entry("bmi_calculator", "purpose", "bmi_calculator computes body-mass index."),
            Entry("bed_availability", "usage", f"Hospital {i} private note: ward {i * 7}."),
        ]
        if i % 2:
            entries.append(Entry("lab_lookup", "pitfall", "Give the LOINC code, not the name."))
        out[f"h{i:02d}"] = Compendium(
            owner=f"h{i:02d}",
            entries=tuple(entries),
            signatures=(ToolSignature("bmi_calculator", (("weight_kg", "number"),)),),
        )
    return out


def _multiset(c: Compendium) -> tuple[list[tuple[str, str, str, int]], tuple[ToolSignature, ...]]:
    return sorted((e.tool, e.kind, e.text, e.support) for e in c.entries), c.signatures


def _run(tmp_path: Path, stage: object, released: dict[str, Compendium]) -> RoundState:
    state = RoundState(settings=RoundSettings(out=tmp_path))
    for cid, comp in released.items():
        state.clients[cid] = ClientRoundState(HospitalData(cid, cid, ()), released=comp)
    run_stages(state, [stage])  # type: ignore[list-item]
    return state


def test_secagg_reproduces_the_sealed_global_entry_multiset(tmp_path: Path) -> None:
    released = _released(5)
    sealed = _run(tmp_path / "sealed", SealedTransportStage(), released)
    secagg = _run(tmp_path / "secagg", SecAggTransportStage(), released)
    assert _multiset(aggregate(secagg.received)) == _multiset(aggregate(sealed.received))
    glob = aggregate(secagg.received)
    support = {e.text: e.support for e in glob.entries}
    assert support["bmi_calculator computes body-mass index."] == 5  # counted, not claimed
    assert support["Give the LOINC code, not the name."] == 3
    t = secagg.report["transport"]
    assert t["mode"] == "secagg" and t["survivors"] == 5 and t["rejected_payloads"] == 0
    secagg.server.global_compendium = glob
    run_stages(secagg, [DeliverStage()])  # server-signed GlobalResult, verified by clients
    assert secagg.server.result is not None and secagg.server.result.payload == glob.to_bytes()
    # published through the durable store, signed for the round config every client accepted
    assert secagg.server.result.contributors == 5
    assert (tmp_path / "secagg" / "server" / "store.sqlite").is_file()
    assert secagg.report["communication_bytes_total"] > t["upload_bytes"]


def test_the_server_keeps_no_client_text_and_no_attribution(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    released = _released(4)
    caplog.set_level(logging.DEBUG)
    state = _run(tmp_path, SecAggTransportStage(), released)
    texts = {e.text for c in released.values() for e in c.entries}
    owners = set(released)
    server_files = [p for p in (tmp_path / "server").rglob("*") if p.is_file()]
    assert server_files  # the server's record of the round exists
    for path in server_files:
        blob = path.read_text(encoding="utf-8", errors="replace")
        assert not any(t in blob for t in texts), path
        assert not any(o in blob for o in owners), path
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(t in logged for t in texts)
    # what aggregation receives carries no client name and no client grouping
    assert all(c.owner.startswith("anonymous-") for c in state.received)
    assert all(len(c.entries) + len(c.signatures) == 1 for c in state.received)
    assert not any(o in c.to_json() for c in state.received for o in owners)


def test_mode_secagg_selects_the_secagg_transport() -> None:
    names = [type(s).__name__ for s in build_stages(RoundSettings(mode="secagg"))]
    assert "SecAggTransportStage" in names and "SealedTransportStage" not in names
    assert "SealedTransportStage" in [type(s).__name__ for s in build_stages(RoundSettings())]


def test_cli_refuses_secagg_below_three_clients(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fical_secure.cli import main

    assert main(["demo", "--mode", "secagg", "--clients", "2", "--out", str(tmp_path)]) != 0
    assert "at least 3 clients" in capsys.readouterr().err
    assert not (tmp_path / "round.json").exists()


@pytest.mark.slow
def test_secagg_matches_sealed_through_the_real_aggregate_stage(tmp_path: Path) -> None:
    """With the embedder's near-duplicate merge, as the demo aggregates."""
    from fical_secure.pipeline.server import AggregateStage

    released = _released(5)
    for cid in ("h02", "h04"):  # paraphrases held by different hospitals
        comp = released[cid]
        extra = Entry("bmi_calculator", "usage", "Pass the weight in kilograms and height in m.")
        released[cid] = Compendium(comp.owner, (*comp.entries, extra), comp.signatures)
    released["h05"] = Compendium(
        "h05",
        (
            *released["h05"].entries,
            Entry("bmi_calculator", "usage", "Pass weight in kilograms and the height in m."),
        ),
        released["h05"].signatures,
    )
    results = []
    for name, stage in (("sealed", SealedTransportStage()), ("secagg", SecAggTransportStage())):
        state = _run(tmp_path / name, stage, released)
        assert state.server is not None
        AggregateStage().run(state.server)
        assert state.server.global_compendium is not None
        results.append(_multiset(state.server.global_compendium))
    assert results[0] == results[1]


def test_at_min_support_k_an_entry_k_minus_1_hospitals_hold_never_reaches_the_server(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """k = 3 of 5: LOINC (3 holders) and the shared entries arrive; the private notes (1
    holder) and an entry two hospitals hold are in nothing the server receives, keeps or logs."""
    released = _released(5)
    pair = Entry("bed_availability", "pitfall", "Ward 99 beds are booked by phone only.")
    for cid in ("h02", "h04"):
        comp = released[cid]
        released[cid] = Compendium(comp.owner, (*comp.entries, pair), comp.signatures)
    caplog.set_level(logging.DEBUG)
    state = RoundState(settings=RoundSettings(out=tmp_path, min_support=3))
    for cid, comp in released.items():
        state.clients[cid] = ClientRoundState(HospitalData(cid, cid, ()), released=comp)
    run_stages(state, [SecAggTransportStage()])  # type: ignore[list-item]
    got = _multiset(aggregate(state.received))
    assert got[0] == [
        ("bmi_calculator", "purpose", "bmi_calculator computes body-mass index.", 5),
        ("lab_lookup", "pitfall", "Give the LOINC code, not the name.", 3),
    ]
    assert got[1] == (ToolSignature("bmi_calculator", (("weight_kg", "number"),)),)
    t = state.report["transport"]
    assert t["attempts"] == 2 and t["min_support"] == 3 and t["below_threshold_slots"] == 0
    below = {pair.text, "private note", "Ward 99"}
    seen = [c.to_json() for c in state.received]
    server_files = [p for p in (tmp_path / "server").rglob("*") if p.is_file()]
    assert {p.name for p in server_files} >= {"store.sqlite", "secagg_round.json"}
    seen += [p.read_text(encoding="utf-8", errors="replace") for p in server_files]
    seen.append("\n".join(r.getMessage() for r in caplog.records))
    assert not any(s in blob for s in below for blob in seen)
