"""Helpers for the Flower integration tests: a fast federation and processes stopped by pid.

The test federation runs the real client pipeline in a fast configuration:
KCG writes validated claims without model paraphrase and the audit gate uses
its embedding and lexical signals (no LLM), so no model is loaded; scrubbing
(Presidio + spaCy), the gate, sealing, the SQLite store,
aggregation (faiss) and Flower's own SuperLink/SuperNode processes are real.
The YAML default adds the audit's LLM signals.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "fical_secure.cli"]


def env() -> dict[str, str]:
    """Children import this checkout; one thread each (several share two cores)."""
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join([str(ROOT), out.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out.update(
        {
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
    )
    return out


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def init_federation(
    out: Path,
    *,
    clients: int,
    port: int,
    node_port: int,
    min_clients: int,
    stage_timeout: int,
    episodes: int = 30,  # claim-based KCG needs >= 2 supporting episodes per claim
    mode: str = "sealed",
    secagg_stage_timeout: int = 120,
) -> None:
    """``fical-secure federation init`` as a newcomer runs it, then the fast test settings."""
    subprocess.run(
        [
            *CLI,
            "federation",
            "init",
            "--clients",
            str(clients),
            "--out",
            str(out),
            "--port",
            str(port),
            "--node-port",
            str(node_port),
            "--min-clients",
            str(min_clients),
            "--episodes",
            str(episodes),
            "--mode",
            mode,
        ],
        check=True,
        env=env(),
        capture_output=True,
        timeout=120,
    )
    for hospital in (out / "clients").glob("*/hospital.yaml"):
        edit_yaml(
            hospital,
            lambda c: (
                c["kcg"].update(paraphrase=False),
                c["privacy"].update(audit_use_llm=False),
            ),
        )
    edit_yaml(
        out / "server" / "server.yaml",
        lambda c: c["round"].update(
            wait_seconds=120,
            stage_timeout_seconds=stage_timeout,
            secagg_stage_timeout_seconds=secagg_stage_timeout,
        ),
    )


def edit_yaml(path: Path, change: object) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)  # type: ignore[operator]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _process_table() -> dict[int, int]:
    """pid -> parent pid for every live process (from /proc)."""
    table: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            table[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return table


def alive(pid: int) -> bool:
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return False


class Fleet:
    """Processes a test starts; every one of them and of their descendants is stopped by pid."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.seen: set[int] = set()  # every descendant pid observed while running

    def start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("wb") as out:
            proc = subprocess.Popen(
                [*CLI, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env(),
                start_new_session=True,
            )
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def descendants(self, pid: int) -> set[int]:
        table = _process_table()
        found, frontier = set(), {pid}
        while frontier:
            children = {c for c, parent in table.items() if parent in frontier} - found
            found |= children
            frontier = children
        self.seen |= found
        return found

    def watch(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                self.descendants(proc.pid)

    def wait_for(self, name: str, text: str, seconds: float, *, file: Path | None = None) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.watch()
            source = (
                file.read_text(errors="replace")
                if file and file.exists()
                else (self.log(name) if file is None else "")
            )
            if text in source:
                return
            if file is None and self.procs[name].poll() is not None:
                raise AssertionError(f"{name} exited early:\n{self.log(name)[-3000:]}")
            time.sleep(0.5)
        raise AssertionError(f"{text!r} did not appear in {seconds} s:\n{self.log(name)[-3000:]}")

    def wait_exit(self, name: str, seconds: float) -> int:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.watch()
            code = self.procs[name].poll()
            if code is not None:
                return code
            time.sleep(0.5)
        raise AssertionError(f"{name} still running after {seconds} s:\n{self.log(name)[-3000:]}")

    def stop_all(self) -> list[int]:
        """SIGTERM every started process by pid; SIGKILL leftovers; the pids that outlived it."""
        self.watch()
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(alive(p) for p in self.seen):
            time.sleep(0.5)
        strays = sorted(p for p in self.seen if alive(p))
        for pid in strays:  # leave nothing behind, but report it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        return strays
