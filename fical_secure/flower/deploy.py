"""Run the real parts of a deployment: the operator's SuperLink + ServerApp, a hospital's SuperNode.

``serve`` starts Flower's SuperLink (TLS with the federation's CA, SuperNode
authentication on), registers the enrolled SuperNodes' public keys, and runs
our ServerApp against it with ``flwr run`` for each round. ``join`` checks a
hospital's configuration, data, keys and the SuperLink's certificate, then
runs Flower's SuperNode with our ClientApp until it is stopped. Every child is
stopped by its pid (and process group) however these functions exit.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from fical_secure.atomic import write_text_atomic
from fical_secure.config.client import HospitalConfig, load_hospital_config
from fical_secure.config.ids import ClientId
from fical_secure.config.server import ServerConfig, load_server_config
from fical_secure.errors import FlowerProcessError, RoundAbortedError
from fical_secure.flower import processes as proc
from fical_secure.flower.client_setup import known_identifiers, load_keys, load_own_data
from fical_secure.flower.register import register_supernodes

log = logging.getLogger(__name__)
START_SECONDS = 60.0
APP_TOML = """\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "fical-secure-round"
version = "1.0.0"
description = "fical-secure: one hardened FICAL round (ServerApp + ClientApp)"
license = "Apache-2.0"
dependencies = []

[tool.flwr.app]
publisher = "fical-secure"

[tool.flwr.app.components]
serverapp = "fical_secure.flower.server_app:app"
clientapp = "fical_secure.flower.client_app:app"

[tool.flwr.app.config]
server-config = ""
"""
INSECURE_WARNING = (
    "WARNING: --insecure: the Flower transport runs in plain text and without SuperNode "
    "authentication (Flower allows it only over TLS). Envelopes stay sealed and signed end "
    "to end, but any process that reaches the SuperLink can join as a SuperNode and anyone "
    "on the network sees who talks to whom and when. Use it only for local tests."
)


def superlink_argv(cfg: ServerConfig, *, insecure: bool) -> list[str]:
    """Flower's SuperLink command line: TLS with our certificate and SuperNode auth, or neither."""
    argv = [
        proc.flower_bin("flower-superlink"),
        "--host",
        cfg.superlink.host,
        "--port",
        str(cfg.superlink.port),
        "--disable-runtime-dependency-installation",
    ]
    argv += (
        ["--insecure"]  # Flower refuses SuperNode authentication without TLS
        if insecure
        else [
            "--enable-supernode-auth",
            "--ssl-ca-certfile",
            str(cfg.superlink.ca_certificate),
            "--ssl-certfile",
            str(cfg.superlink.certificate),
            "--ssl-keyfile",
            str(cfg.superlink.private_key),
        ]
    )
    return argv


def supernode_argv(cfg: HospitalConfig, *, insecure: bool) -> list[str]:
    """Flower's SuperNode command line for this hospital (our ClientApp finds its YAML)."""
    link = cfg.superlink
    argv = [
        proc.flower_bin("flower-supernode"),
        "--superlink",
        link.address,
        "--node-config",
        f'fical-config="{cfg.source}"',
        "--port",
        str(link.node_port),
    ]
    argv += (
        ["--insecure"]  # no SuperNode authentication without TLS (Flower's rule)
        if insecure
        else [
            "--root-certificates",
            str(link.root_certificate),
            "--auth-supernode-private-key",
            str(link.auth_private_key),
        ]
    )
    return argv


def serve(config_path: Path, *, insecure: bool = False, rounds: int = 1) -> list[dict[str, object]]:
    """Start the SuperLink, register the SuperNodes, run ``rounds`` rounds; the round reports.

    Raises:
        ConfigError: the configuration is invalid.
        FlowerProcessError: the SuperLink or a ``flwr`` command failed.
        RoundAbortedError: a round ended without a result (its report says why).
    """
    cfg = load_server_config(config_path)
    if insecure:
        print(INSECURE_WARNING, file=sys.stderr)
    out = cfg.output
    out.mkdir(parents=True, exist_ok=True)
    home, app_dir = out / "flwr", out / "app"
    app_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(app_dir / "pyproject.toml", APP_TOML)
    env = proc.child_env(home)
    argv = superlink_argv(cfg, insecure=insecure)
    address = f"{cfg.superlink.host}:{cfg.superlink.port}"
    superlink_log = out / "superlink.log"
    reports: list[dict[str, object]] = []
    with proc.running(argv, superlink_log, env) as superlink:
        proc.wait_listening(
            cfg.superlink.host, cfg.superlink.port, superlink, START_SECONDS, superlink_log
        )
        proc.write_flwr_home(home, address, None if insecure else cfg.superlink.ca_certificate)
        if insecure:
            print(
                f"SuperLink ready at {address} (TLS off, SuperNode authentication off)", flush=True
            )
        else:
            register_supernodes(
                address, cfg.superlink.ca_certificate, cfg.superlink.supernode_public_keys
            )
            print(
                f"SuperLink ready at {address} (TLS on, SuperNode authentication on, "
                f"{len(cfg.superlink.supernode_public_keys)} SuperNodes registered)",
                flush=True,
            )
        for number in range(1, rounds + 1):
            print(
                f"round {number}/{rounds}: running the ServerApp (log: {out / 'server.log'})",
                flush=True,
            )
            run_config = f'server-config="{cfg.source}"'
            proc.flwr_cli(
                ["run", str(app_dir), proc.FLWR_CONNECTION, "--run-config", run_config, "--stream"],
                env,
                out / "flwr-run.log",
            )
            reports.append(_round_report(out))
    return reports


def _round_report(out: Path) -> dict[str, object]:
    """The report the ServerApp wrote; raises unless the round is done."""
    path = out / "round.json"
    try:
        report: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise FlowerProcessError(
            f"the ServerApp wrote no round report; see {out / 'flwr-run.log'}"
        ) from None
    if report.get("status") != "done":
        raise RoundAbortedError(
            f"the round failed: {report.get('error')}; see {out / 'server.log'}"
        )
    return report


def _client_summary(client_id: ClientId, out: Path) -> str:
    """One line: what this hospital holds when its SuperNode stops."""
    stored = out / "global_compendium.json"
    if not stored.exists():
        return f"{client_id}: SuperNode stopped; no global compendium stored"
    entries = len(json.loads(stored.read_text(encoding="utf-8")).get("entries", []))
    return f"{client_id}: stopped; verified global compendium ({entries} entries) in {stored}"


def join(config_path: Path, *, insecure: bool = False, connect_seconds: float = 30.0) -> int:
    """Check everything, then run this hospital's SuperNode until it stops; its exit code.

    Raises:
        ConfigError: the configuration is invalid.
        DataError: the episode file fails validation (every bad line listed).
        KeyFileError, InvalidSignature, NotEnrolledError: the keys or roster are unusable.
        SuperLinkUnreachableError, TransportCertificateError: the SuperLink check failed.
        FlowerProcessError: the SuperNode exited with an error (e.g. not registered).
    """

    cfg = load_hospital_config(config_path)
    hospital = load_own_data(cfg)  # fail before anything starts or is written
    known_identifiers(cfg)
    load_keys(cfg)
    if insecure:
        print(INSECURE_WARNING, file=sys.stderr)
    link = cfg.superlink
    proc.preflight(link.address, None if insecure else link.root_certificate, connect_seconds)
    cfg.output.mkdir(parents=True, exist_ok=True)
    home = cfg.output / "flwr"
    argv = supernode_argv(cfg, insecure=insecure)
    supernode_log = cfg.output / "supernode.log"
    print(
        f"{cfg.client_id}: {len(hospital.members)} member / {len(hospital.nonmembers)} "
        f"non-member episodes; SuperNode connecting to {link.address} (log: {supernode_log})",
        flush=True,
    )
    try:
        with proc.running(argv, supernode_log, proc.child_env(home)) as supernode:
            code = supernode.wait()
    finally:
        print(_client_summary(cfg.client_id, cfg.output), flush=True)
    if code != 0:
        log_text = supernode_log.read_text(encoding="utf-8", errors="replace")
        if "Failed to activate SuperNode" in log_text:
            raise FlowerProcessError(
                "the SuperLink refused this SuperNode: its authentication key is not registered "
                f"with the SuperLink; send {link.auth_private_key.with_suffix('.pub')} to the "
                f"operator (see {supernode_log})"
            )
        raise FlowerProcessError(f"the SuperNode exited with code {code}; see {supernode_log}")
    return code
