"""A configured client as the audit sees it: key files, algorithms, transport, share mode.

The YAML is schema-checked (every problem with its path, one
:class:`ConfigError`). Values that are *known but non-compliant* (``transport:
plain``, ``share_mode: raw_samples``, ``aead: aes-ctr``) load fine: rejecting
them is the audit's job, with evidence, not the loader's. Relative paths are
resolved against the configuration file's folder, so a configuration and its
keys can be moved together.

``data`` binds the configuration to the exact records its compendium was
built from: a JSONL file of the client's episodes (members, and held-out
non-members for the audit's game) and its SHA-256. ``fical-secure audit``
scores the compendium against that file and nothing else, and refuses it when
the file's bytes no longer match.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from fical_secure.compliance import vocabulary as vocab
from fical_secure.compliance.schema import Findings, join
from fical_secure.data.schema import CLIENT_ID_RULE, is_client_id
from fical_secure.errors import ConfigError, UntrustedInputError
from fical_secure.untrusted import load_yaml_file, open_regular

SCHEMA_VERSION = 1
Transport = Literal["sealed", "secagg", "plain"]
ShareMode = Literal["compendium", "raw_samples"]
_TOP = ("version", "client_id", "keys", "crypto", "transport", "share_mode", "model")
_CRYPTO = ("aead", "signature", "key_exchange", "kdf")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class DataBinding:
    """The records a compendium was built from: a JSONL file and the SHA-256 of its bytes."""

    path: Path
    sha256: str


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes.

    Raises:
        ConfigError: the file cannot be read, or is not a regular file of bounded size.
    """
    try:
        with open_regular(path) as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except UntrustedInputError as exc:
        raise ConfigError(f"the client's data file: {exc}") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read the client's data file {path}: {exc.strerror}; the configuration's "
            "data.path must name the JSONL its compendium was built from"
        ) from exc


@dataclass(frozen=True)
class CryptoSuite:
    """Algorithms a client declares it uses."""

    aead: str
    signature: str
    key_exchange: str
    kdf: str


@dataclass(frozen=True)
class ClientConfig:
    """A validated client configuration; paths are absolute."""

    client_id: str
    private_key: Path
    server_public_key: Path
    crypto: CryptoSuite
    transport: Transport
    share_mode: ShareMode
    model: str  # "packaged" or a local model folder / .gguf file
    compendium: Path | None
    source: Path
    data: DataBinding | None = None


def load_client_config(path: str | Path) -> ClientConfig:
    """Read and validate a client configuration.

    Raises:
        ConfigError: unreadable file, not YAML, or schema violations (all listed).
    """
    source = Path(path)
    try:
        raw = load_yaml_file(source)
    except (OSError, UntrustedInputError) as exc:
        raise ConfigError(f"cannot read client configuration {source}: {exc}") from exc
    findings = Findings()
    config = parse_client_config(raw, findings, base=source.resolve().parent, source=source)
    if config is None or findings.problems:
        listing = "\n  ".join(findings.problems)
        raise ConfigError(
            f"invalid client configuration {source} "
            f"({len(findings.problems)} problems):\n  {listing}"
        )
    return config


def parse_client_config(raw: Any, f: Findings, *, base: Path, source: Path) -> ClientConfig | None:
    """Validate a parsed configuration tree, recording every problem in ``f``."""
    top = f.mapping(raw, "", required=_TOP, optional=("compendium", "data"))
    if top is None:
        return None
    if top.get("version") != SCHEMA_VERSION:
        f.add("version", f"must be {SCHEMA_VERSION}")
    client_id = f.string(top.get("client_id"), "client_id")
    if client_id is not None and not is_client_id(client_id):
        f.add("client_id", f"must be {CLIENT_ID_RULE}")
    keys = f.mapping(top.get("keys"), "keys", required=("private_key", "server_public_key"))
    private = public = None
    if keys is not None:
        private = f.string(keys.get("private_key"), "keys.private_key")
        public = f.string(keys.get("server_public_key"), "keys.server_public_key")
    suite = _suite(top.get("crypto"), f)
    transport = f.choice(top.get("transport"), "transport", vocab.TRANSPORT_MODES)
    share = f.choice(top.get("share_mode"), "share_mode", vocab.SHARE_MODES)
    model = f.string(top.get("model"), "model")
    compendium = f.string(top["compendium"], "compendium") if "compendium" in top else None
    data = _data(top["data"], f, base) if "data" in top else None
    if f.problems or None in (client_id, private, public, suite, transport, share, model):
        return None
    return ClientConfig(
        client_id=cast(str, client_id),
        private_key=base / cast(str, private),
        server_public_key=base / cast(str, public),
        crypto=cast(CryptoSuite, suite),
        transport=cast(Transport, transport),
        share_mode=cast(ShareMode, share),
        model=cast(str, model),
        compendium=base / compendium if compendium is not None else None,
        source=source,
        data=data,
    )


def _data(raw: Any, f: Findings, base: Path) -> DataBinding | None:
    d = f.mapping(raw, "data", required=("path", "sha256"))
    if d is None:
        return None
    path = f.string(d.get("path"), "data.path")
    digest = d.get("sha256")
    if not isinstance(digest, str) or not _SHA256.match(digest):
        f.add("data.sha256", "must be 64 lowercase hex digits (sha256sum of the data file)")
        return None
    return None if path is None else DataBinding(base / path, digest)


def _suite(raw: Any, f: Findings) -> CryptoSuite | None:
    c = f.mapping(raw, "crypto", required=_CRYPTO)
    if c is None:
        return None
    names = {
        "aead": vocab.AEADS,
        "signature": vocab.SIGNATURES,
        "key_exchange": vocab.KEY_EXCHANGES,
        "kdf": vocab.KDFS,
    }
    values = {
        key: f.choice(c.get(key), join("crypto", key), allowed) for key, allowed in names.items()
    }
    if None in values.values():
        return None
    return CryptoSuite(**cast(dict[str, str], values))
