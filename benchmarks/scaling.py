"""Scaling curves: time and peak memory of each stage as hospitals and episodes grow.

    .venv/bin/python benchmarks/scaling.py [--hospitals 10 100 1000]
        [--episodes 10 100 1000 10000] [--secagg 10 100 1000] [--quick]

Three sweeps, every point in a fresh process (so its peak resident memory is
its own), all through the code a round runs:

* ``client``: one hospital with E member episodes (and E non-members for the
  audit), the client stages of :func:`fical_secure.pipeline.client.client_stages`
  (KCG, Presidio scrub, the audit gate's embedding and lexical signals, recheck)
  and sealing; spaCy/Presidio and MiniLM are loaded before the clock starts
  (once per hospital process). The audit's LLM signals are off: they score a fixed number of
  records a side (``audit_llm_records``), so their cost does not grow with E.
* ``server``: H hospitals with 50 member episodes each write their compendium
  (KCG) and seal it; the server verifies and stores every envelope
  (:meth:`Server.receive`), then runs :func:`server_stages` (decrypt and
  attribute, union with faiss near-duplicate merging, sign). The embedder is
  loaded before the clock starts (once per server process).
* ``secagg``: one in-process SecAgg+ round (:func:`run_secagg_round`) of H
  clients over a 1,024-element vector, parameters from
  :meth:`SecAggParams.recommended`.

Each curve's growth is the least-squares slope of log(seconds) on log(size)
over the points above 0.05 s (1: linear, 2: quadratic). Writes
``benchmarks/results/scaling.json`` and ``scaling.png``. The baseline of each
curve is its smallest point, in the same run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"
SERVER_EPISODES = 50
SECAGG_LENGTH = 1024
TARGET_SERVER_SECONDS = 60.0


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _warm() -> None:
    """Load the models a hospital or server process loads once (spaCy/Presidio, MiniLM)."""
    from fical_secure.scrub.scrubber import Scrubber
    from fical_secure.tlu.embedding import default_embedder

    Scrubber.default()
    default_embedder().encode(["warm up"])


def client_point(episodes: int) -> dict[str, Any]:
    """One hospital's release stages and seal on ``episodes`` member episodes."""
    from fical_secure.data.generator import generate_federation
    from fical_secure.pipeline.client import client_stages
    from fical_secure.pipeline.client_state import ClientRoundState, ClientSettings
    from fical_secure.pipeline.runner import run_stages

    fed = generate_federation(
        1,
        episodes_per_hospital=episodes,
        nonmembers_per_hospital=episodes,
        eval_per_tool=1,
        canaries_per_hospital=0,
        knowledge_eval_per_hospital=0,
    )
    _warm()
    settings = ClientSettings(audit_use_llm=False, progress=False)
    state = ClientRoundState(fed.hospitals[0], settings=settings, catalogue=fed.catalogue)
    rss: dict[str, float] = {}
    for stage in client_stages(settings, ground_truth=False):
        run_stages(state, [stage])
        rss[stage.name] = _peak_mb()
    seconds = dict(state.seconds)
    if state.blocked is None:
        with tempfile.TemporaryDirectory() as tmp:
            _, seal_s = _seal([state.need_release()], Path(tmp))
        seconds["seal"] = round(seal_s, 4)
    return {
        "seconds": seconds,
        "peak_rss_mb_after": rss,
        "entries": len(state.local.entries) if state.local else 0,
        "blocked": state.blocked is not None,
    }


def _parties(n: int, tmp: Path) -> tuple[Any, list[Any], Any]:
    from fical_secure.crypto.enrollment import Roster
    from fical_secure.crypto.identity import IdentityKey
    from fical_secure.protocol import Server

    server_key = IdentityKey.generate()
    clients = [IdentityKey.generate() for _ in range(n)]
    roster = Roster.create(server_key, [c.public for c in clients], epoch=1)
    server = Server.create(tmp / "store.sqlite", server_key, roster)
    return server, clients, roster


def _seal(releases: list[Any], tmp: Path) -> tuple[list[tuple[Any, bytes]], float]:
    """Every release sealed by its own enrolled client; the envelopes and the seconds spent."""
    from fical_secure.protocol import Client

    server, keys, roster = _parties(len(releases), tmp)
    config = server.open_round(1, min_clients=1)
    start = time.perf_counter()
    out = []
    for i, (key, release) in enumerate(zip(keys, releases, strict=True)):
        client = Client(key, server.public, state_path=tmp / f"c{i}.json")
        out.append((key, client.seal_submission(config, release.to_bytes(), roster)))
    spent = time.perf_counter() - start
    server.close()
    return out, spent


def server_point(hospitals: int) -> dict[str, Any]:
    """``hospitals`` compendiums sealed, received, decrypted, aggregated and signed."""
    from fical_secure.data.generator import generate_federation
    from fical_secure.kcg.knowledge import build_knowledge
    from fical_secure.pipeline.runner import run_stages
    from fical_secure.pipeline.server import ServerRoundState, receive_envelope, server_stages
    from fical_secure.protocol import Client

    fed = generate_federation(
        hospitals,
        episodes_per_hospital=SERVER_EPISODES,
        nonmembers_per_hospital=0,
        eval_per_tool=1,
        canaries_per_hospital=0,
        knowledge_eval_per_hospital=0,
    )
    start = time.perf_counter()
    comps = [
        build_knowledge(h.members, fed.catalogue, None, client_id=h.hospital_id, progress=False)
        for h in fed.hospitals
    ]
    kcg_s = time.perf_counter() - start
    _warm()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        server, keys, roster = _parties(hospitals, tmp)
        config = server.open_round(1, min_clients=hospitals)
        start = time.perf_counter()
        envelopes = []
        for i, key in enumerate(keys):
            client = Client(key, server.public, state_path=tmp / f"c{i}.json")
            envelopes.append(client.seal_submission(config, comps[i].to_bytes(), roster))
        seal_s = time.perf_counter() - start
        state = ServerRoundState(
            server=server,
            owners={k.key_id: h.hospital_id for k, h in zip(keys, fed.hospitals, strict=True)},
            min_clients=hospitals,
        )
        start = time.perf_counter()
        for envelope in envelopes:
            if receive_envelope(state, envelope) is None:
                raise SystemExit(f"an honest envelope was refused: {dict(state.refused)}")
        state.seconds["receive"] = round(time.perf_counter() - start, 4)
        rss_receive = _peak_mb()
        run_stages(state, server_stages())
        server.close()
    server_total = sum(state.seconds[s] for s in ("receive", "close", "aggregate", "publish"))
    return {
        "seconds": {
            **state.seconds,
            "server_total": round(server_total, 3),
            "kcg_all_clients": round(kcg_s, 3),
            "seal_all_clients": round(seal_s, 3),
        },
        "peak_rss_mb_after": {"receive": rss_receive, "publish": _peak_mb()},
        "entries_in": sum(len(c.entries) for c in comps),
        "global_entries": len(state.global_compendium.entries) if state.global_compendium else 0,
        "envelope_bytes": sum(len(e) for e in envelopes),
    }


def secagg_point(hospitals: int) -> dict[str, Any]:
    """One in-process SecAgg+ round of ``hospitals`` clients."""
    import numpy as np

    from fical_secure.protocol.secagg import Federation
    from fical_secure.protocol.secagg.driver import run_secagg_round

    start = time.perf_counter()
    fed = Federation.create(hospitals, bits=32, length=SECAGG_LENGTH)
    setup_s = time.perf_counter() - start
    rng = np.random.default_rng(0)
    vectors = {
        cid: rng.integers(0, 2**16, SECAGG_LENGTH, dtype=np.uint64).astype(np.uint32)
        for cid in sorted(fed.clients)
    }
    start = time.perf_counter()
    outcome = run_secagg_round(fed, vectors)
    round_s = time.perf_counter() - start
    expected = sum(v.astype(np.uint64) for v in vectors.values()) % 2**32
    if not np.array_equal(np.asarray(outcome.total, dtype=np.uint64) % 2**32, expected):
        raise SystemExit("the secure sum is wrong")
    return {
        "seconds": {"setup": round(setup_s, 3), "round": round(round_s, 3)},
        "peak_rss_mb_after": {"round": _peak_mb()},
        "degree_k": fed.server.params.k,
        "upload_bytes_per_client": outcome.upload_bytes // hospitals,
    }


POINTS = {"client": client_point, "server": server_point, "secagg": secagg_point}


def _run_point(kind: str, size: int) -> dict[str, Any]:
    """``kind`` at ``size`` in a fresh interpreter; its JSON result (and wall seconds)."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
    }
    env["TOKENIZERS_PARALLELISM"] = "false"
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--point", f"{kind}:{size}"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{kind}:{size} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_wall_seconds"] = round(time.perf_counter() - start, 2)
    return result


def growth(sizes: list[int], seconds: list[float]) -> float | None:
    """Least-squares slope of log(seconds) on log(size) over points above 0.05 s."""
    pts = [(math.log(n), math.log(s)) for n, s in zip(sizes, seconds, strict=True) if s > 0.05]
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    var = sum((x - mx) ** 2 for x, _ in pts)
    return round(sum((x - mx) * (y - my) for x, y in pts) / var, 2) if var else None


def _curves(rows: dict[int, dict[str, Any]]) -> dict[str, Any]:
    sizes = sorted(rows)
    stages = sorted({s for r in rows.values() for s in r["seconds"]})
    out = {}
    for stage in stages:
        secs = [rows[n]["seconds"].get(stage, 0.0) for n in sizes]
        out[stage] = {
            "seconds": secs,
            "growth_exponent": growth(sizes, secs),
            "ratio_to_smallest": [round(s / secs[0], 2) if secs[0] else None for s in secs],
        }
    return out


def _plot(sweeps: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(sweeps), figsize=(5 * len(sweeps), 4), squeeze=False)
    for ax, (kind, sweep) in zip(axes[0], sweeps.items(), strict=True):
        for stage, curve in sweep["curves"].items():
            if max(curve["seconds"]) > 0.01:
                ax.loglog(sweep["sizes"], curve["seconds"], marker="o", label=stage)
        ax.set_title(f"{kind}: {sweep['axis']}")
        ax.set_xlabel(sweep["axis"])
        ax.set_ylabel("seconds")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--point", help=argparse.SUPPRESS)
    parser.add_argument("--hospitals", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--episodes", type=int, nargs="+", default=[10, 100, 1000, 10000])
    parser.add_argument("--secagg", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--quick", action="store_true", help="small sizes, nothing written")
    args = parser.parse_args()
    if args.point:
        kind, size = args.point.split(":")
        print(json.dumps(POINTS[kind](int(size))))
        return
    if args.quick:
        args.hospitals, args.episodes, args.secagg = [5, 10], [10, 40], [5, 10]
    plan = {
        "client": ("member episodes of one hospital", args.episodes),
        "server": (f"hospitals ({SERVER_EPISODES} episodes each)", args.hospitals),
        "secagg": (f"hospitals (vector of {SECAGG_LENGTH})", args.secagg),
    }
    started = time.perf_counter()
    sweeps: dict[str, Any] = {}
    for kind, (axis, sizes) in plan.items():
        rows = {}
        for size in sizes:
            print(f"[scaling] {kind} at {size} ...", flush=True)
            rows[size] = _run_point(kind, size)
            print(f"[scaling] {kind} at {size}: {rows[size]['seconds']}", flush=True)
        sweeps[kind] = {"axis": axis, "sizes": sizes, "points": rows, "curves": _curves(rows)}
    server_max = sweeps["server"]["points"][max(args.hospitals)]["seconds"]["server_total"]
    from benchmarks.envelope import machine

    record = {
        "benchmark": "scaling",
        "command": "python benchmarks/scaling.py " + " ".join(sys.argv[1:]),
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "baseline": "each curve's smallest point, same run",
        "sweeps": sweeps,
        "targets": {
            "server_aggregation_seconds_at_max_hospitals": {
                "hospitals": max(args.hospitals),
                "measured": server_max,
                "target": f"< {TARGET_SERVER_SECONDS:.0f}",
                "met": server_max < TARGET_SERVER_SECONDS,
            }
        },
    }
    if not args.quick:
        from fical_secure.atomic import write_json_atomic

        write_json_atomic(RESULTS / "scaling.json", record)
        _plot(sweeps, RESULTS / "scaling.png")
    print(
        f"[scaling] done in {time.perf_counter() - started:.0f} s: server side of "
        f"{max(args.hospitals)} hospitals {server_max:.1f} s (target < {TARGET_SERVER_SECONDS:.0f})"
    )


if __name__ == "__main__":
    main()
