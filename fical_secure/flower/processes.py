"""Flower's own processes, started and stopped by pid: SuperLink, SuperNode, ``flwr`` CLI.

Each child runs in its own session (process group), so stopping it by its pid
also stops what it spawned (SuperExec, the app processes) and nothing else.
Before a SuperNode starts, :func:`preflight` checks the SuperLink answers TLS
with a certificate from the pinned CA, so an unreachable SuperLink or a wrong
certificate is one clear error instead of endless retries.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from fical_secure.atomic import write_text_atomic
from fical_secure.errors import (
    ConfigError,
    FlowerProcessError,
    SuperLinkUnreachableError,
    TransportCertificateError,
)

FLWR_CONNECTION = "fical"  # the SuperLink connection name in FLWR_HOME/config.toml


def flower_bin(name: str) -> str:
    """Path of a Flower console script installed beside this Python.

    Raises:
        ConfigError: Flower is not installed.
    """
    candidate = Path(sys.executable).parent / name
    if candidate.is_file():
        return str(candidate)
    raise ConfigError(
        f"{name} not found beside {sys.executable}; install the 'flower' extra "
        "(pip install 'fical-secure[flower]')"
    )


def start(argv: Sequence[str], log_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session, output appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as out:
        return subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM the process group of ``process`` (by its pid), then SIGKILL what is left."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):  # children that outlived their parent
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)


@contextlib.contextmanager
def running(
    argv: Sequence[str], log_path: Path, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``argv``; stop it (and its group) however the block exits."""
    process = start(argv, log_path, env)
    try:
        yield process
    finally:
        stop(process)


def wait_listening(
    host: str, port: int, process: subprocess.Popen[bytes], seconds: float, log_path: Path
) -> None:
    """Wait until ``host:port`` accepts TCP connections.

    Raises:
        FlowerProcessError: the process exited, or the port never opened.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise FlowerProcessError(
                f"the process exited with code {process.returncode}; see {log_path}"
            )
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return
        time.sleep(0.3)
    raise FlowerProcessError(
        f"nothing listens on {host}:{port} after {seconds:.0f} s; see {log_path}"
    )


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def preflight(address: str, root_certificate: Path | None, seconds: float) -> None:
    """Check the SuperLink answers (and, unless insecure, with a certificate from the CA).

    Retries a refused connection for ``seconds`` (the server may still be starting).

    Raises:
        SuperLinkUnreachableError: nothing answered in time.
        TransportCertificateError: the certificate is not from the pinned CA, or
            does not name the host.
    """
    host, port = split_address(address)
    context = None
    if root_certificate is not None:
        context = ssl.create_default_context(cafile=str(root_certificate))
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection((host, port), timeout=5) as sock:
                if context is not None:
                    with context.wrap_socket(sock, server_hostname=host):
                        pass
            return
        except ssl.SSLCertVerificationError as exc:
            raise TransportCertificateError(
                f"the SuperLink at {address} presented a certificate that does not verify "
                f"against {root_certificate} ({exc.verify_message}); ask the operator for the "
                "federation's CA certificate and check superlink.root_certificate"
            ) from None
        except ssl.SSLError as exc:
            raise TransportCertificateError(
                f"TLS with the SuperLink at {address} failed ({exc.reason}); is it running "
                "with --insecure? Then connect with --insecure too, or ask for TLS"
            ) from None
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise SuperLinkUnreachableError(
                    f"no SuperLink answers at {address} ({exc.strerror or exc}); check "
                    "superlink.address, that the server runs, and the firewall"
                ) from None
            time.sleep(1.0)


def write_flwr_home(home: Path, address: str, root_certificate: Path | None) -> None:
    """A Flower CLI home whose one SuperLink connection is ours."""

    home.mkdir(parents=True, exist_ok=True)
    tls = f'root-certificates = "{root_certificate}"' if root_certificate else "insecure = true"
    write_text_atomic(
        home / "config.toml",
        (
            f'[superlink]\ndefault = "{FLWR_CONNECTION}"\n\n'
            f'[superlink.{FLWR_CONNECTION}]\naddress = "{address}"\n{tls}\n'
        ),
    )


def flwr_cli(
    args: Sequence[str], env: dict[str, str], log_path: Path, timeout: float | None = None
) -> None:
    """Run one ``flwr`` CLI command to completion.

    Raises:
        FlowerProcessError: it failed or timed out (its output is in ``log_path``).
    """
    with log_path.open("ab") as out:
        try:
            done = subprocess.run(
                [flower_bin("flwr"), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise FlowerProcessError(f"flwr {args[0]} timed out; see {log_path}") from None
    if done.returncode != 0:
        raise FlowerProcessError(
            f"flwr {' '.join(args[:2])} failed ({done.returncode}); see {log_path}"
        )


def child_env(flwr_home: Path) -> dict[str, str]:
    """Environment of Flower's processes: ours, with their home folder and offline flags."""
    env = dict(os.environ)
    # Flower starts its SuperExec and app processes by name: find them beside this Python
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(
        {
            "FLWR_HOME": str(flwr_home),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
    )
    return env
