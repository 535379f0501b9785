"""Round wall time and bytes for 10 / 50 / 100 hospitals: Flower's simulation engine vs in-process.

``--mode secagg`` measures the secure-aggregation round the same way (the
in-process baseline runs the same SecAgg+ stages through the in-process driver).

For each size, ``federation init`` writes a federation (synthetic episodes in
the documented format, one hospital YAML each); then the same sealed round
runs twice on it:

* **in-process** (the baseline): the client pipeline of every hospital and
  the server pipeline called directly, envelopes handed over in memory;
* **flower-simulation**: our ServerApp and ClientApp under Flower's
  simulation engine (``flwr.simulation.run_simulation``, Ray backend), the
  envelopes carried as Flower messages.

Everything after KCG is the real code (scrub with Presidio + spaCy, the audit
gate's embedding and lexical signals, sealing, the SQLite store, faiss
aggregation, signatures). KCG runs without model paraphrase, so no LLM is
loaded (the figures recorded on 2026-12-01 were measured with the earlier
templated-kinds KCG, also model-free); a model would add the same per-client
generation time to both modes. Bytes are our payloads (round
config + roster out, envelopes up, signed global compendium down); the
simulation engine has no network, so Flower's framing is not counted.

Usage: ``python benchmarks/federation.py [--sizes 10 50 100]``; results merge
into ``benchmarks/results/federation.json`` (one size per call keeps each run
short on a small machine).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results" / "federation.json"


def _fast(fed: Path, n: int, gates: bool) -> None:
    for path in (fed / "clients").glob("*/hospital.yaml"):
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
        cfg["kcg"]["paraphrase"] = False
        cfg["privacy"].update(audit_use_llm=False, scrub=gates, audit_gate=gates)
        path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    path = fed / "server" / "server.yaml"
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg["round"].update(
        min_clients=max(1, n // 2 + 1), wait_seconds=120, stage_timeout_seconds=3600
    )
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")


def in_process(fed: Path, n: int, work: Path) -> dict[str, Any]:
    """The same round with no transport: pipelines called directly, bytes handed over."""
    from fical_secure.config.client import load_hospital_config
    from fical_secure.config.server import load_server_config
    from fical_secure.crypto.keys import KeyBundle, Roster
    from fical_secure.flower.client_setup import load_keys, load_own_data, settings_of
    from fical_secure.flower.server_grid import enrollment_names
    from fical_secure.llm.lazy import LazyLLM
    from fical_secure.pipeline.client import client_stages, seal_release
    from fical_secure.pipeline.client_state import ClientRoundState
    from fical_secure.pipeline.runner import run_stages
    from fical_secure.pipeline.server import (
        ServerRoundState,
        ServerSettings,
        receive_envelope,
        server_stages,
    )
    from fical_secure.protocol import Client, Server

    scfg = load_server_config(fed / "server" / "server.yaml")
    roster = Roster.decode(scfg.keys.roster.read_bytes())
    server = Server.create(
        work / "store.sqlite", KeyBundle.load(scfg.keys.private_key).identity, roster
    )
    state = ServerRoundState(
        ServerSettings(scfg.aggregate.dedupe_threshold, scfg.aggregate.min_support),
        server,
        owners=enrollment_names(scfg),
        min_clients=scfg.round.min_clients,
    )
    config = server.open_round(time.time_ns() // 1_000_000, min_clients=scfg.round.min_clients)
    up = down = 0
    clients = []
    for i in range(1, n + 1):
        cfg = load_hospital_config(fed / "clients" / f"h{i:02d}" / "hospital.yaml")
        identity, pinned_server, _ = load_keys(cfg)
        client = Client(identity, pinned_server, state_path=work / f"h{i:02d}.state.json")
        cstate = ClientRoundState(load_own_data(cfg), settings_of(cfg), llm=LazyLLM(cfg.model))
        run_stages(cstate, client_stages(cstate.settings, ground_truth=False))
        envelope = seal_release(client, config, cstate, roster)
        down += len(config.encode()) + len(roster.encode())
        up += len(envelope)
        receipt = receive_envelope(state, envelope)
        if receipt is not None:
            client.check_receipt(receipt)
            clients.append(client)
    run_stages(state, server_stages())
    assert state.result is not None
    signed = state.result.encode()
    for client in clients:
        client.check_result(type(state.result).decode(signed))
        down += len(signed)
    server.close()
    return {
        "clients": len(clients),
        "upload_bytes": up,
        "download_bytes": down,
        "global_entries": state.report["global_entries"],
    }


def in_process_secagg(fed: Path, n: int, work: Path) -> dict[str, Any]:
    """The secure-aggregation round with no transport: the same client pipeline, the
    in-process SecAgg+ driver (same stages, same slot vectors), the same aggregation."""
    from fical_secure.config.client import load_hospital_config
    from fical_secure.config.server import load_server_config
    from fical_secure.crypto.keys import KeyBundle, Roster
    from fical_secure.flower.client_setup import load_own_data, settings_of
    from fical_secure.llm.lazy import LazyLLM
    from fical_secure.pipeline import multiset as ms
    from fical_secure.pipeline.client import client_stages
    from fical_secure.pipeline.client_state import ClientRoundState
    from fical_secure.pipeline.runner import run_stages
    from fical_secure.pipeline.secagg_round import anonymous_multiset
    from fical_secure.pipeline.server import (
        AggregateStage,
        PublishStage,
        ServerRoundState,
        ServerSettings,
    )
    from fical_secure.protocol import Server
    from fical_secure.protocol.secagg import Federation

    scfg = load_server_config(fed / "server" / "server.yaml")
    roster = Roster.decode(scfg.keys.roster.read_bytes())
    server_identity = KeyBundle.load(scfg.keys.private_key).identity
    server = Server.create(work / "store.sqlite", server_identity, roster)
    round_id = time.time_ns() // 1_000_000
    config = server.open_round(round_id, min_clients=scfg.round.min_clients)
    down = 0
    items: dict[bytes, list[bytes]] = {}
    identities = {}
    for i in range(1, n + 1):
        cfg = load_hospital_config(fed / "clients" / f"h{i:02d}" / "hospital.yaml")
        identity = KeyBundle.load(cfg.keys.private_key).identity
        cstate = ClientRoundState(load_own_data(cfg), settings_of(cfg), llm=LazyLLM(cfg.model))
        run_stages(cstate, client_stages(cstate.settings, ground_truth=False))
        down += len(config.encode()) + len(roster.encode())
        items[identity.key_id] = ms.items_of(cstate.need_release())[0]
        identities[identity.key_id] = identity
    layout = ms.layout_for(len(identities))
    fed_round = Federation.enrolled(
        server_identity, identities, roster, round_id, bits=32, length=layout.length
    )
    result = anonymous_multiset(fed_round, items, layout)
    received, _rejected = ms.anonymous_compendiums(result.items)
    state = ServerRoundState(
        ServerSettings(scfg.aggregate.dedupe_threshold, scfg.aggregate.min_support),
        server=server,
        received=received,
        contributors=result.survivors,
    )
    run_stages(state, [AggregateStage(), PublishStage()])  # publishing, as every round does
    assert state.result is not None
    signed = state.result.encode()
    server.close()
    return {
        "clients": result.survivors,
        "upload_bytes": result.upload_bytes,
        "download_bytes": down + result.download_bytes + len(signed) * result.survivors,
        "global_entries": state.report["global_entries"],
    }


def flower_simulation(fed: Path, n: int) -> dict[str, Any]:
    """Our ServerApp and ClientApp under Flower's simulation engine."""
    from flwr.simulation import run_simulation

    from fical_secure.flower.client_app import make_client_app
    from fical_secure.flower.server_app import make_server_app

    def locate(context: Any) -> str:
        pid = int(context.node_config["partition-id"])
        return str(fed / "clients" / f"h{pid + 1:02d}" / "hospital.yaml")

    run_simulation(
        make_server_app(str(fed / "server" / "server.yaml")),
        make_client_app(locate),
        num_supernodes=n,
        backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}},
    )
    report = json.loads((fed / "server" / "out" / "round.json").read_text(encoding="utf-8"))
    if report.get("status") != "done":
        raise RuntimeError(f"the simulated round failed: {report.get('error')}")
    t = report["transport"]
    return {
        "clients": report["clients"],
        "upload_bytes": t["upload_bytes"],
        "download_bytes": t["round_config_bytes"] + t["global_download_bytes"],
        "global_entries": report["global_entries"],
        "lost_supernodes": report["lost_supernodes"],
    }


def run_size(n: int, gates: bool, mode: str = "sealed", episodes: int = 8) -> dict[str, Any]:
    from fical_secure.flower.init import InitOptions, init_federation

    with tempfile.TemporaryDirectory(prefix=f"fed{n}-") as tmp:
        fed = Path(tmp) / "fed"
        init_federation(
            fed, InitOptions(clients=n, episodes=episodes, port=29093, seed=n, mode=mode)
        )
        _fast(fed, n, gates)
        work = Path(tmp) / "inprocess"
        work.mkdir()
        start = time.perf_counter()
        base = (in_process_secagg if mode == "secagg" else in_process)(fed, n, work)
        base["seconds"] = round(time.perf_counter() - start, 2)
        print(f"{n} hospitals in-process: {base['seconds']} s", flush=True)
        start = time.perf_counter()
        sim = flower_simulation(fed, n)
        sim["seconds"] = round(time.perf_counter() - start, 2)
        print(f"{n} hospitals on Flower simulation: {sim['seconds']} s", flush=True)
    return {
        "hospitals": n,
        "mode": mode,
        "episodes_per_hospital": episodes,
        "privacy_gates": gates,
        "in_process": base,
        "flower_simulation": sim,
        "time_ratio": round(sim["seconds"] / base["seconds"], 3),
        "bytes_ratio": round(
            (sim["upload_bytes"] + sim["download_bytes"])
            / (base["upload_bytes"] + base["download_bytes"]),
            3,
        ),
    }


def main() -> int:
    from fical_secure.atomic import write_json_atomic

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument(
        "--no-gates",
        action="store_true",
        help="skip scrub and audit in both modes (to fit large sizes in time)",
    )
    parser.add_argument("--mode", choices=("sealed", "secagg"), default="sealed")
    parser.add_argument(
        "--episodes", type=int, default=8, help="member episodes per hospital (as many held out)"
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    record: dict[str, Any] = (
        json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    )
    figures: dict[str, Any] = record.get("figures", {})
    for n in args.sizes:
        figures[f"{args.mode}_{n}"] = run_size(
            n, gates=not args.no_gates, mode=args.mode, episodes=args.episodes
        )
    targets: dict[str, Any] = {}
    for key, row in sorted(figures.items()):
        targets[f"{key}_time_ratio"] = {
            "target": "<= 1.5",
            "measured": row["time_ratio"],
            "met": row["time_ratio"] <= 1.5,
        }
        targets[f"{key}_all_clients_accepted"] = {
            "target": "== hospitals",
            "measured": row["flower_simulation"]["clients"],
            "met": row["flower_simulation"]["clients"] == int(key.rsplit("_", 1)[1]),
        }
    record = {
        "benchmark": "federation",
        "command": "; ".join(
            sorted(
                {
                    f"python benchmarks/federation.py --sizes {row['hospitals']}"
                    + ("" if row["privacy_gates"] else " --no-gates")
                    + (" --mode secagg" if row.get("mode") == "secagg" else "")
                    + (
                        f" --episodes {row['episodes_per_hospital']}"
                        if row.get("episodes_per_hospital", 8) != 8
                        else ""
                    )
                    for row in figures.values()
                }
            )
        ),
        "date": dt.date.today().isoformat(),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, shared with other jobs; no GPU",
        "baseline": "the same round in-process (pipelines called directly; secagg: the"
        " in-process SecAgg+ driver), same data, same mode",
        "notes": (
            "KCG without a model (templated kinds in the rows of 2026-12-01; claim-based "
            "without paraphrase since); audit gate without LLM signals; rows with "
            "privacy_gates false skip scrub and audit in both modes (to fit "
            "the size in time on a shared, overloaded 2-core machine); everything else real. "
            "Bytes are our payloads; the simulation engine has no network, so Flower's framing "
            "is not counted. secagg rows: prepare + five SecAgg+ stage rounds + result as Flower "
            "messages vs the in-process driver of the same stages."
        ),
        "figures": figures,
        "targets": targets,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(RESULTS, record)
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
