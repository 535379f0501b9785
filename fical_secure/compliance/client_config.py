"""A configured client as the audit sees it: key files, algorithms, transport, share mode.

The YAML is schema-checked (every problem with its path, one
:class:`ConfigError`). Values that are *known but non-compliant* (``transport:
plain``, ``share_mode: raw_samples``, ``aead: aes-ctr``) load fine: rejecting
them is the audit's job, with evidence, not the loader's. Relative paths are
resolved against the configuration file's folder, so a configuration and its
keys can be moved together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import yaml

from fical_secure.compliance import vocabulary as vocab
from fical_secure.compliance.schema import Findings, join
from fical_secure.errors import ConfigError

SCHEMA_VERSION = 1
Transport = Literal["sealed", "plain"]
ShareMode = Literal["compendium", "raw_samples"]
_CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_TOP = ("version", "client_id", "keys", "crypto", "transport", "share_mode", "model")
_CRYPTO = ("aead", "signature", "key_exchange", "kdf")


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


def load_client_config(path: str | Path) -> ClientConfig:
    """Read and validate a client configuration.

    Raises:
        ConfigError: unreadable file, not YAML, or schema violations (all listed).
    """
    source = Path(path)
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
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
    top = f.mapping(raw, "", required=_TOP, optional=("compendium",))
    if top is None:
        return None
    if top.get("version") != SCHEMA_VERSION:
        f.add("version", f"must be {SCHEMA_VERSION}")
    client_id = f.string(top.get("client_id"), "client_id")
    if client_id is not None and not _CLIENT_ID.match(client_id):
        f.add("client_id", "must be 1-64 letters, digits, '.', '_' or '-'")
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
    )


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
