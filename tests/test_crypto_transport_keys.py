"""Transport credentials: the federation CA's certificate passes TLS, another CA's does not."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest

from fical_secure.crypto.transport_keys import (
    new_ca,
    new_server_certificate,
    new_supernode_auth_key,
    supernode_public_key_pem,
)
from fical_secure.errors import KeyMisuseError


def _handshake(tmp_path: Path, trusted_ca: bytes, host: str) -> None:
    """A TLS handshake over a socket pair: server with a fresh CA's cert, client trusting one."""
    ca = new_ca("federation")
    cert = new_server_certificate(ca, ["127.0.0.1", "localhost"])
    (tmp_path / "s.pem").write_bytes(cert.public)
    (tmp_path / "s.key").write_bytes(cert.private)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "s.pem", tmp_path / "s.key")
    client_ctx = ssl.create_default_context(cadata=(trusted_ca or ca.public).decode())
    left, right = socket.socketpair()

    def serve() -> None:
        try:
            with server_ctx.wrap_socket(left, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with client_ctx.wrap_socket(right, server_hostname=host):
            pass
    finally:
        thread.join(5)
        left.close()


def test_certificate_from_the_federation_ca_verifies_for_its_hosts(tmp_path: Path) -> None:
    _handshake(tmp_path, b"", "127.0.0.1")
    _handshake(tmp_path, b"", "localhost")


def test_certificate_for_another_host_or_from_another_ca_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(tmp_path, b"", "superlink.example.org")
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(tmp_path, new_ca("someone else").public, "127.0.0.1")


def test_supernode_key_is_p384_openssh_and_converts_for_registration() -> None:
    pair = new_supernode_auth_key("h01")
    assert pair.public.startswith(b"ecdsa-sha2-nistp384 ") and pair.public.endswith(b" h01\n")
    assert pair.private.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    assert supernode_public_key_pem(pair.public).startswith(b"-----BEGIN PUBLIC KEY-----")
    with pytest.raises(KeyMisuseError):
        supernode_public_key_pem(b"ssh-rsa AAAA not a key")
