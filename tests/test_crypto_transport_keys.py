"""Transport credentials: the federation CA's certificate passes TLS, another CA's does not."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

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


NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fical-secure federation"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _extensions(cert: x509.Certificate) -> dict[type[x509.ExtensionType], x509.Extension[Any]]:
    return {type(ext.value): ext for ext in cert.extensions}


def test_the_ca_certificate_profile_is_exact() -> None:
    """Only certificate and CRL signing, no intermediate CAs below it, both critical."""
    cert = x509.load_pem_x509_certificate(new_ca("federation", now=NOW).public)
    found = _extensions(cert)
    basic = found[x509.BasicConstraints]
    assert basic.critical and basic.value == x509.BasicConstraints(ca=True, path_length=0)
    usage = found[x509.KeyUsage]
    assert usage.critical and usage.value == x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    assert cert.subject == cert.issuer == _name("federation")
    assert cert.not_valid_before_utc == NOW - dt.timedelta(minutes=5)
    assert cert.not_valid_after_utc == NOW + dt.timedelta(days=365)


def test_the_superlink_certificate_profile_is_exact() -> None:
    """A leaf for server authentication only, naming every host, signed by the CA."""
    ca = new_ca("federation", now=NOW)
    hosts = ["superlink.example.org", "10.0.0.7", "::1"]
    cert = x509.load_pem_x509_certificate(new_server_certificate(ca, hosts, now=NOW).public)
    found = _extensions(cert)
    basic = found[x509.BasicConstraints]
    assert basic.critical and basic.value == x509.BasicConstraints(ca=False, path_length=None)
    usage = found[x509.ExtendedKeyUsage]
    assert not usage.critical and list(usage.value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    names = found[x509.SubjectAlternativeName]
    assert not names.critical and list(names.value) == [
        x509.DNSName("superlink.example.org"),
        x509.IPAddress(ipaddress.ip_address("10.0.0.7")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    assert cert.subject == _name("superlink.example.org")
    assert cert.not_valid_before_utc == NOW - dt.timedelta(minutes=5)
    assert cert.not_valid_after_utc == NOW + dt.timedelta(days=365)
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca.public))


def test_a_supernode_key_that_is_not_ecdsa_is_refused() -> None:
    ed25519 = Ed25519PrivateKey.generate().public_key()
    line = ed25519.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    with pytest.raises(KeyMisuseError):
        supernode_public_key_pem(line)
    with pytest.raises(KeyMisuseError):
        new_server_certificate(new_ca("federation"), [])
