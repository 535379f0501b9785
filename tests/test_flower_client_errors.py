"""A hospital's client fails with one clear error, and writes nothing, on each bad input.

Real files from ``federation init``, a real TLS listener for the wrong
certificate; no Flower process is needed to show these (they fail before it).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from flower_fleet import CLI, env, free_ports

from fical_secure.config.client import load_hospital_config
from fical_secure.config.server import load_server_config
from fical_secure.errors import (
    ConfigError,
    DataError,
    SuperLinkUnreachableError,
    TransportCertificateError,
)
from fical_secure.flower.deploy import join
from fical_secure.flower.init import InitOptions, init_federation


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fed") / "fed"
    port, node = free_ports(2)
    init_federation(out, InitOptions(clients=2, port=port, first_node_port=node, episodes=4))
    return out


@pytest.fixture
def hospital(federation: Path, tmp_path: Path) -> Path:
    """A private copy of h01's folder (tests edit it)."""
    folder = tmp_path / "h01"
    shutil.copytree(federation / "clients" / "h01", folder)
    return folder / "hospital.yaml"


def _edit(path: Path, **changes: object) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


def test_init_writes_configs_that_validate_and_private_keys_0600(federation: Path) -> None:
    server = load_server_config(federation / "server" / "server.yaml")
    assert server.round.min_clients == 2 and len(server.superlink.supernode_public_keys) == 2
    for cid in ("h01", "h02"):
        cfg = load_hospital_config(federation / "clients" / cid / "hospital.yaml")
        assert cfg.client_id == cid and cfg.superlink.address.endswith(f":{server.superlink.port}")
        for name in ("private.key", "supernode.key"):
            assert (federation / "clients" / cid / name).stat().st_mode & 0o777 == 0o600
    assert (federation / "tls" / "ca.key").stat().st_mode & 0o777 == 0o600


def test_init_refuses_a_folder_that_is_not_empty(federation: Path) -> None:
    with pytest.raises(ConfigError, match="not empty"):
        init_federation(federation, InitOptions(clients=1))


def test_bad_yaml_lists_every_problem_at_once(hospital: Path) -> None:
    data = yaml.safe_load(hospital.read_text(encoding="utf-8"))
    data["device"] = "tpu"
    data["kcg"]["min_support"] = 0
    data["superlink"]["address"] = "nowhere"
    data["colour"] = "blue"
    del data["keys"]["roster"]
    hospital.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_hospital_config(hospital)
    message = str(err.value)
    for path in ("device", "kcg.min_support", "superlink.address", "colour", "keys.roster"):
        assert f"\n  {path}:" in message, path
    assert "5 problems" in message and "federation init" in message  # and a hint


def test_not_yaml_is_one_error(tmp_path: Path) -> None:
    bad = tmp_path / "hospital.yaml"
    bad.write_text("version: [1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read client configuration"):
        load_hospital_config(bad)


def test_invalid_data_file_fails_before_anything_is_written(hospital: Path) -> None:
    data = hospital.parent / "h01.jsonl"
    lines = data.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace('"call"', '"cal"')
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2"):
        join(hospital, connect_seconds=0.1)
    assert not (hospital.parent / "out").exists()


def test_unreachable_superlink_is_one_error(hospital: Path) -> None:
    (port,) = free_ports(1)  # nothing listens there
    data = yaml.safe_load(hospital.read_text(encoding="utf-8"))
    data["superlink"]["address"] = f"127.0.0.1:{port}"
    hospital.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(SuperLinkUnreachableError, match=f"127.0.0.1:{port}"):
        join(hospital, connect_seconds=0.5)
    assert not (hospital.parent / "out").exists()


@pytest.fixture
def foreign_tls_server(tmp_path: Path) -> Iterator[int]:
    """A TLS listener whose certificate comes from another CA than the federation's."""
    from fical_secure.crypto.transport_keys import new_ca, new_server_certificate

    pair = new_server_certificate(new_ca("someone else"), ["127.0.0.1"])
    (tmp_path / "c.pem").write_bytes(pair.public)
    (tmp_path / "c.key").write_bytes(pair.private)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "c.pem", tmp_path / "c.key")
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    listener.close()


def test_wrong_certificate_is_one_error(hospital: Path, foreign_tls_server: int) -> None:
    data = yaml.safe_load(hospital.read_text(encoding="utf-8"))
    data["superlink"]["address"] = f"127.0.0.1:{foreign_tls_server}"
    hospital.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(TransportCertificateError, match="does not verify against"):
        join(hospital, connect_seconds=2)
    assert not (hospital.parent / "out").exists()


@pytest.mark.process
def test_the_command_prints_one_error_line_and_exits_1(hospital: Path) -> None:
    _edit(hospital, device="tpu")
    done = subprocess.run(
        [*CLI, "client", "--config", str(hospital)],
        capture_output=True,
        text=True,
        env=env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("fical-secure client: error: invalid client configuration")
    assert "Traceback" not in done.stderr


def test_flower_command_lines_turn_tls_and_supernode_auth_on_together(federation: Path) -> None:
    from fical_secure.flower.deploy import superlink_argv, supernode_argv

    server = load_server_config(federation / "server" / "server.yaml")
    client = load_hospital_config(federation / "clients" / "h01" / "hospital.yaml")
    secure = superlink_argv(server, insecure=False) + supernode_argv(client, insecure=False)
    for flag in (
        "--enable-supernode-auth",
        "--ssl-certfile",
        "--root-certificates",
        "--auth-supernode-private-key",
    ):
        assert flag in secure, flag
    assert "--insecure" not in secure
    # Flower refuses SuperNode authentication without TLS: plain text drops both
    plain = superlink_argv(server, insecure=True) + supernode_argv(client, insecure=True)
    assert plain.count("--insecure") == 2
    assert not {"--enable-supernode-auth", "--auth-supernode-private-key"} & set(plain)


def test_the_hospital_yaml_names_the_federation_catalogue(hospital: Path) -> None:
    """Tools come from the YAML's catalogue.json: a tool it lacks fails the data check."""
    import json

    from fical_secure.flower.client_setup import load_own_data, load_tools

    cfg = load_hospital_config(hospital)
    assert cfg.catalogue == hospital.parent / "catalogue.json"
    tools = load_tools(cfg)
    used = {e.call.tool for e in load_own_data(cfg).members}
    assert used <= {t.name for t in tools}
    catalogue = json.loads(cfg.catalogue.read_text(encoding="utf-8"))
    dropped = sorted(used)[0]
    cfg.catalogue.write_text(
        json.dumps([t for t in catalogue if t["name"] != dropped]), encoding="utf-8"
    )
    with pytest.raises(DataError, match=dropped):
        join(hospital, connect_seconds=0.1)
    assert not (hospital.parent / "out").exists()


def test_a_malformed_catalogue_is_one_error_naming_the_file(hospital: Path) -> None:
    (hospital.parent / "catalogue.json").write_text('[{"name": 3}]', encoding="utf-8")
    with pytest.raises(DataError, match="catalogue"):
        join(hospital, connect_seconds=0.1)
    assert not (hospital.parent / "out").exists()
