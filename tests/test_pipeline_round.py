"""The round's stages fit together and fail closed."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

from fical_secure.data.schema import HospitalData
from fical_secure.errors import GateBlockedError
from fical_secure.kcg.schema import Compendium, Entry
from fical_secure.pipeline.client_state import ClientRoundState
from fical_secure.pipeline.demo import build_stages, run_demo
from fical_secure.pipeline.gates import ScrubStage
from fical_secure.pipeline.runner import run_stages
from fical_secure.pipeline.server import AggregateStage
from fical_secure.pipeline.stages import EachClient, OnServer
from fical_secure.pipeline.state import RoundSettings, RoundState
from fical_secure.pipeline.transport import (
    DeliverStage,
    PlainTransportStage,
    SealedTransportStage,
)


def _state(settings: RoundSettings, n: int) -> RoundState:
    """A round whose ``n`` clients already hold a compendium to release."""
    state = RoundState(settings=settings)
    for i in range(1, n + 1):
        cid = f"h{i:02d}"
        client = ClientRoundState(HospitalData(cid, cid, ("bmi_calculator",)))
        client.released = Compendium(
            owner=cid,
            entries=(
                Entry("bmi_calculator", "purpose", f"bmi_calculator is used to compute BMI ({i})."),
                Entry("bed_availability", "usage", "Name the ward, e.g. icu or maternity."),
            ),
        )
        state.clients[cid] = client
    return state


def test_privacy_stages_run_before_anything_leaves_the_client() -> None:
    stages = build_stages(RoundSettings())
    names = [s.name for s in stages]
    order = [names.index(n) for n in ("kcg", "scrub", "audit", "release_check", "transport")]
    assert order == sorted(order)
    assert names[-3:] == ["aggregate", "publish", "tlu"]
    client_side = [s.name for s in stages if isinstance(s, EachClient)]
    # one client pipeline; claims are re-validated after the gates
    assert client_side == ["kcg", "scrub", "audit", "recheck", "release_check"]
    assert build_stages(RoundSettings(model_check=True))[-1].name == "model_check"


def test_sealed_round_trip_counts_every_client_once(tmp_path: Path) -> None:
    state = _state(RoundSettings(out=tmp_path), 3)
    run_stages(state, [SealedTransportStage()])
    assert sorted(c.owner for c in state.received) == ["h01", "h02", "h03"]
    assert [c.to_json() for c in state.received] == [
        state.released[c.owner].to_json() for c in state.received
    ]
    transport = state.report["transport"]
    assert transport["mode"] == "sealed" and transport["envelopes"] == 3
    assert transport["upload_bytes"] > transport["plaintext_bytes"]
    for key in (tmp_path / "keys").glob("*/private.key"):  # hospital keys stay private
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(list((tmp_path / "keys").glob("*/private.key"))) == 4  # 3 clients + server
    assert sorted(p.name for p in (tmp_path / "clients").iterdir()) == [
        "h01.jsonl",
        "h01.yaml",
        "h02.jsonl",
        "h02.yaml",
        "h03.jsonl",
        "h03.yaml",
    ]  # each configuration beside the exact records its compendium came from
    run_stages(state, [OnServer(AggregateStage()), DeliverStage()])
    assert state.server.result is not None  # server-signed, and every client checked it
    assert Compendium.from_json(state.server.result.payload) == state.global_compendium
    assert state.report["communication_bytes_total"] > transport["upload_bytes"]


def test_plain_transport_is_labelled_as_such(tmp_path: Path) -> None:
    state = _state(RoundSettings(out=tmp_path, seal=False), 2)
    run_stages(state, [PlainTransportStage()])
    assert state.report["transport"]["mode"] == "plain"
    assert len(state.received) == 2


def test_analyzer_crash_blocks_the_release_and_nothing_is_sealed_or_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fical_secure.scrub.scrubber import Scrubber

    scrubber = Scrubber.default()

    def crash(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("injected analyzer crash")

    monkeypatch.setattr(scrubber.analyzer, "analyze", crash)
    state = _state(RoundSettings(out=tmp_path), 2)
    with pytest.raises(GateBlockedError):
        run_stages(state, [EachClient(ScrubStage()), SealedTransportStage()])
    assert state.released == {}
    assert state.received == []
    assert "transport" not in state.report
    assert not (tmp_path / "server").exists() and not (tmp_path / "keys").exists()
    assert all(r["blocked"] for r in state.report["scrub"].values())


@pytest.mark.slow
def test_small_demo_round_writes_a_complete_report(tmp_path: Path) -> None:
    settings = RoundSettings(
        out=tmp_path,
        clients=2,
        episodes_per_client=6,
        nonmembers_per_client=6,
        eval_per_tool=1,
        progress=False,
    )
    report = run_demo(settings)
    on_disk = json.loads((tmp_path / "round.json").read_text(encoding="utf-8"))
    assert on_disk == json.loads(json.dumps(report))
    for key in (
        "clients",
        "episodes_per_client",
        "compendium_bytes",
        "global_entries",
        "communication_bytes_total",
        "ablation",
        "model",
        "seconds",
        "scrub",
        "audit",
    ):
        assert key in report, key
    assert report["clients"] == 2
    assert report["transport"]["mode"] == "sealed"
    assert all(r["surviving_values"] == 0 for r in report["released_pii"].values())
    assert set(report["ablation"]["overall"]) >= {"docs_only", "local", "global"}
    assert "model_check" not in report  # opt-in: the 135M model adds no tool accuracy
    glob = Compendium.from_json((tmp_path / "global_compendium.json").read_text(encoding="utf-8"))
    assert glob.owner == "global" and report["global_entries"] == len(glob.entries)
