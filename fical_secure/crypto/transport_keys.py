"""Transport credentials for a Flower deployment: a private CA, the SuperLink's TLS
certificate, and SuperNode authentication keys.

These protect the *transport* (who may connect, and that nobody reads the wire);
our envelopes and signatures stay end to end on top of them. Only this package
imports ``cryptography``, so the deployment commands ask for PEM bytes here.

- The CA and the SuperLink certificate are ECDSA P-256, X.509 v3, the CA with
  ``BasicConstraints(ca=True)``, the leaf with the SuperLink's host names and IP
  addresses as subject alternative names (gRPC/HTTP clients check SANs, not CN).
- SuperNode authentication keys are ECDSA P-384 in OpenSSH format: Flower 1.41
  loads the private key with ``load_ssh_private_key`` and registers the public
  key (``flwr supernode register``) as an OpenSSH public key line.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fical_secure.errors import KeyMisuseError

CERT_DAYS = 365


@dataclass(frozen=True)
class PemPair:
    """A certificate (or public key) and its private key, PEM/OpenSSH encoded."""

    public: bytes
    private: bytes = field(repr=False)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fical-secure federation"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def new_ca(common_name: str, *, now: dt.datetime | None = None) -> PemPair:
    """A self-signed CA certificate (P-256) that signs the SuperLink certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = now or dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - dt.timedelta(minutes=5))
        .not_valid_after(start + dt.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return PemPair(cert.public_bytes(serialization.Encoding.PEM), _private_pem(key))


def new_server_certificate(
    ca: PemPair, hosts: Sequence[str], *, now: dt.datetime | None = None
) -> PemPair:
    """A TLS server certificate for ``hosts`` (names or IPs), signed by ``ca``.

    Raises:
        KeyMisuseError: no host given, or ``ca`` is not a P-256/P-384 CA pair.
    """
    if not hosts:
        raise KeyMisuseError("a server certificate needs at least one host name or address")
    ca_cert = x509.load_pem_x509_certificate(ca.public)
    ca_key = serialization.load_pem_private_key(ca.private, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise KeyMisuseError("the CA key must be an elliptic-curve key")
    key = ec.generate_private_key(ec.SECP256R1())
    start = now or dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - dt.timedelta(minutes=5))
        .not_valid_after(start + dt.timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return PemPair(cert.public_bytes(serialization.Encoding.PEM), _private_pem(key))


def new_supernode_auth_key(comment: str) -> PemPair:
    """A SuperNode authentication key pair (P-384, OpenSSH encodings, as Flower reads them)."""
    key = ec.generate_private_key(ec.SECP384R1())
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return PemPair(public + f" {comment}\n".encode("ascii"), private)


def supernode_public_key_pem(openssh_line: bytes) -> bytes:
    """A SuperNode's OpenSSH public key as the SubjectPublicKeyInfo PEM Flower registers.

    Raises:
        KeyMisuseError: not an OpenSSH elliptic-curve public key on a NIST curve.
    """
    try:
        key = serialization.load_ssh_public_key(openssh_line.strip())
    except (ValueError, UnsupportedAlgorithm):
        raise KeyMisuseError("not an OpenSSH public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name not in _NIST_CURVES:
        raise KeyMisuseError("a SuperNode key must be ECDSA on a NIST curve (P-256/384/521)")
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


_NIST_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})
