"""The hospital-facing YAML: one file per client (hospital) and one for the server.

Both are schema-checked completely before anything starts: every problem is
listed at once with its path and a hint, in one :class:`ConfigError`. Relative
paths resolve against the file's folder, so a configuration and its keys move
together. ``fical-secure federation init`` writes valid examples of both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, cast

from fical_secure.aggregate.threshold import EXPECTED_DISTINCT, MAX_EXPECTED_DISTINCT
from fical_secure.compliance.schema import Findings, join
from fical_secure.data.schema import CLIENT_ID_RULE, is_client_id
from fical_secure.errors import ConfigError, UntrustedInputError
from fical_secure.untrusted import load_yaml_file

SCHEMA_VERSION = 1
MODES = ("sealed", "secagg")
DEVICES = ("auto", "cpu", "cuda")
_ADDRESS = re.compile(r"^[A-Za-z0-9.\-]+:\d{1,5}$")
HINT = "fix them and run again; `fical-secure federation init` writes a valid example"


@dataclass(frozen=True)
class SuperLinkAccess:
    """How a hospital's SuperNode reaches the operator's SuperLink."""

    address: str  # host:port of the SuperLink
    root_certificate: Path  # the federation's private CA (PEM)
    auth_private_key: Path  # SuperNode authentication key (OpenSSH P-384)
    node_port: int  # this SuperNode's own local Runtime API port


@dataclass(frozen=True)
class HospitalConfig:
    """A validated client (hospital) configuration; paths are absolute."""

    client_id: str
    federation_id: str
    data: Path  # episode JSONL (docs/data-format.md)
    catalogue: Path | None  # the federation's tool catalogue (JSON function specs); None: built-in
    model: str | None  # None: the packaged default model
    device: str
    private_key: Path  # identity key bundle (`fical-secure keys new`)
    server_public_key: Path  # the pinned server key
    roster: Path  # the server-signed roster
    audit_profile: str
    scrub: bool
    audit_gate: bool
    audit_use_llm: bool
    audit_llm_records: int
    audit_canaries: int
    kcg_min_support: int  # distinct subjects (patients) a compendium claim needs
    kcg_paraphrase: bool  # let the model paraphrase validated claims
    superlink: SuperLinkAccess
    output: Path  # where the verified global compendium is stored
    source: Path
    # JSONL of {kind, value}: identifiers the scrubber masks and KCG never mines
    known_identifiers: Path | None = None


@dataclass(frozen=True)
class ServerConfig:
    """A validated server configuration; paths are absolute."""

    federation_id: str
    private_key: Path
    roster: Path
    client_keys: Path | None  # folder of <client_id>.public.key: enrollment names
    host: str
    port: int
    certificate: Path
    certificate_key: Path
    ca_certificate: Path
    supernode_public_keys: tuple[Path, ...]
    mode: str
    min_clients: int
    wait_seconds: int  # for enough SuperNodes to connect
    stage_timeout_seconds: int  # for the replies of one message round
    secagg_stage_timeout_seconds: int  # each of the five secure-aggregation stages
    straggler_grace_seconds: int  # after the quorum replied: see server_app.exchange
    dedupe_threshold: float
    min_support: int
    expected_distinct: int  # secagg at min_support >= 2: sizes the count pass
    output: Path
    source: Path


def _read(path: str | Path, what: str) -> tuple[Any, Path]:
    source = Path(path)
    try:
        return load_yaml_file(source), source
    except (OSError, UntrustedInputError) as exc:
        raise ConfigError(f"cannot read {what} {source}: {exc}; {HINT}") from None


def _raise(findings: Findings, what: str, source: Path) -> None:
    if findings.problems:
        _fail(findings, what, source)


def _top(
    path: str | Path, what: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> tuple[Findings, Path, dict[str, Any]]:
    """Read the file and check its top-level keys; (findings so far, resolved path, mapping).

    Raises:
        ConfigError: unreadable, not YAML, or not a mapping.
    """
    raw, source = _read(path, what)
    f = Findings()
    top = f.mapping(raw, "", required=required, optional=optional)
    if top is None:
        _fail(f, what, source)
    return f, source.resolve(), top


def _fail(findings: Findings, what: str, source: Path) -> NoReturn:
    listing = "\n  ".join(findings.problems)
    raise ConfigError(
        f"invalid {what} {source} ({len(findings.problems)} problems; {HINT}):\n  {listing}"
    )


def _text(f: Findings, raw: Any, path: str) -> str | None:
    """A required string; a missing key (None) was already reported by ``mapping``."""
    return None if raw is None else f.string(raw, path)


def _ident(f: Findings, raw: Any, path: str) -> str | None:
    value = _text(f, raw, path)
    if value is not None and not is_client_id(value):
        f.add(path, f"must be {CLIENT_ID_RULE}")
        return None
    return value


def _file(f: Findings, raw: Any, path: str, base: Path, *, must_exist: bool = True) -> Path | None:
    value = _text(f, raw, path)
    if value is None:
        return None
    resolved = (base / value).resolve()
    if must_exist and not resolved.is_file():
        f.add(path, f"no such file {resolved}")
        return None
    return resolved


def load_hospital_config(path: str | Path) -> HospitalConfig:
    """Read and validate a hospital's client configuration.

    Raises:
        ConfigError: unreadable file, not YAML, or schema violations (all listed).
    """
    f, source, top = _top(
        path,
        "client configuration",
        ("version", "client_id", "federation_id", "data", "keys", "superlink", "output"),
        ("model", "device", "privacy", "kcg", "catalogue"),
    )
    base = source.parent
    if top.get("version") != SCHEMA_VERSION:
        f.add("version", f"must be {SCHEMA_VERSION}")
    keys = (
        f.mapping(top.get("keys"), "keys", required=("private_key", "server_public_key", "roster"))
        or {}
    )
    link = (
        f.mapping(
            top.get("superlink"),
            "superlink",
            required=("address", "root_certificate", "auth_private_key"),
            optional=("node_port",),
        )
        or {}
    )
    privacy = (
        f.mapping(
            top.get("privacy", {}),
            "privacy",
            required=(),
            optional=(
                "scrub",
                "audit_gate",
                "audit_profile",
                "audit_use_llm",
                "audit_llm_records",
                "audit_canaries",
                "known_identifiers",
            ),
        )
        or {}
    )
    kcg = (
        f.mapping(top.get("kcg", {}), "kcg", required=(), optional=("min_support", "paraphrase"))
        or {}
    )
    address = _text(f, link.get("address"), "superlink.address")
    if address is not None and not _ADDRESS.match(address):
        f.add("superlink.address", "must be host:port, e.g. 127.0.0.1:9093")
    model = top.get("model", "packaged")
    values: dict[str, Any] = {
        "client_id": _ident(f, top.get("client_id"), "client_id"),
        "federation_id": _ident(f, top.get("federation_id"), "federation_id"),
        "data": _file(f, top.get("data"), "data", base),
        "catalogue": None
        if top.get("catalogue", "built-in") == "built-in"
        else _file(f, top.get("catalogue"), "catalogue", base),
        "model": None if model == "packaged" else _model_path(f, model, base),
        "device": f.choice(top.get("device", "auto"), "device", DEVICES),
        "private_key": _file(f, keys.get("private_key"), "keys.private_key", base),
        "server_public_key": _file(
            f, keys.get("server_public_key"), "keys.server_public_key", base
        ),
        "roster": _file(f, keys.get("roster"), "keys.roster", base),
        "audit_profile": f.string(privacy.get("audit_profile", "strict"), "privacy.audit_profile"),
        "scrub": f.boolean(privacy.get("scrub", True), "privacy.scrub"),
        "audit_gate": f.boolean(privacy.get("audit_gate", True), "privacy.audit_gate"),
        "audit_use_llm": f.boolean(privacy.get("audit_use_llm", True), "privacy.audit_use_llm"),
        "audit_llm_records": f.integer(
            privacy.get("audit_llm_records", 8), "privacy.audit_llm_records", 1, 10_000
        ),
        "audit_canaries": f.integer(
            privacy.get("audit_canaries", 1), "privacy.audit_canaries", 0, 1000
        ),
        "kcg_min_support": f.integer(kcg.get("min_support", 2), "kcg.min_support", 1, 10_000),
        "kcg_paraphrase": f.boolean(kcg.get("paraphrase", False), "kcg.paraphrase"),
        "output": _folder(f, top.get("output"), "output", base),
        "known_identifiers": None
        if privacy.get("known_identifiers") is None
        else _file(f, privacy.get("known_identifiers"), "privacy.known_identifiers", base),
    }
    access: dict[str, Any] = {
        "address": address,
        "root_certificate": _file(
            f, link.get("root_certificate"), "superlink.root_certificate", base
        ),
        "auth_private_key": _file(
            f, link.get("auth_private_key"), "superlink.auth_private_key", base
        ),
        "node_port": f.integer(link.get("node_port", 9094), "superlink.node_port", 1024, 65535),
    }
    if model != "packaged" and values["model"] is None and not f.problems:
        f.add("model", "must be 'packaged' or a local model folder / .gguf file")
    _raise(f, "client configuration", source)
    return HospitalConfig(superlink=SuperLinkAccess(**access), source=source.resolve(), **values)


def _model_path(f: Findings, raw: Any, base: Path) -> str | None:
    value = f.string(raw, "model")
    if value is None:
        return None
    resolved = (base / value).resolve()
    if not resolved.exists():
        f.add("model", f"no such model folder or file {resolved} (or write: model: packaged)")
        return None
    return str(resolved)


def _folder(f: Findings, raw: Any, path: str, base: Path) -> Path | None:
    value = _text(f, raw, path)
    return None if value is None else (base / value).resolve()


def load_server_config(path: str | Path) -> ServerConfig:
    """Read and validate the server's configuration.

    Raises:
        ConfigError: unreadable file, not YAML, or schema violations (all listed).
    """
    f, source, top = _top(
        path,
        "server configuration",
        ("version", "federation_id", "keys", "superlink", "output"),
        ("round", "aggregate"),
    )
    base = source.parent
    if top.get("version") != SCHEMA_VERSION:
        f.add("version", f"must be {SCHEMA_VERSION}")
    keys = (
        f.mapping(
            top.get("keys"), "keys", required=("private_key", "roster"), optional=("clients",)
        )
        or {}
    )
    link = (
        f.mapping(
            top.get("superlink"),
            "superlink",
            required=(
                "host",
                "port",
                "certificate",
                "private_key",
                "ca_certificate",
                "supernode_public_keys",
            ),
        )
        or {}
    )
    rnd = (
        f.mapping(
            top.get("round", {}),
            "round",
            required=(),
            optional=(
                "mode",
                "min_clients",
                "wait_seconds",
                "stage_timeout_seconds",
                "secagg_stage_timeout_seconds",
                "straggler_grace_seconds",
            ),
        )
        or {}
    )
    agg = (
        f.mapping(
            top.get("aggregate", {}),
            "aggregate",
            required=(),
            optional=("dedupe_threshold", "min_support", "expected_distinct"),
        )
        or {}
    )
    nodes = link.get("supernode_public_keys")
    node_keys: list[Path | None] = []
    if not isinstance(nodes, list) or not nodes:
        f.add("superlink.supernode_public_keys", "must be a non-empty list of .pub files")
    else:
        node_keys = [
            _file(f, p, join("superlink.supernode_public_keys", i), base)
            for i, p in enumerate(nodes)
        ]
    values: dict[str, Any] = {
        "federation_id": _ident(f, top.get("federation_id"), "federation_id"),
        "private_key": _file(f, keys.get("private_key"), "keys.private_key", base),
        "roster": _file(f, keys.get("roster"), "keys.roster", base),
        "client_keys": _folder(f, keys.get("clients"), "keys.clients", base),
        "host": _text(f, link.get("host"), "superlink.host"),
        "port": None
        if link.get("port") is None
        else f.integer(link.get("port"), "superlink.port", 1024, 65535),
        "certificate": _file(f, link.get("certificate"), "superlink.certificate", base),
        "certificate_key": _file(f, link.get("private_key"), "superlink.private_key", base),
        "ca_certificate": _file(f, link.get("ca_certificate"), "superlink.ca_certificate", base),
        "supernode_public_keys": tuple(cast(list[Path], node_keys)),
        "mode": f.choice(rnd.get("mode", "sealed"), "round.mode", MODES),
        "min_clients": f.integer(rnd.get("min_clients", 1), "round.min_clients", 1, 100_000),
        "wait_seconds": f.integer(rnd.get("wait_seconds", 300), "round.wait_seconds", 1, 86_400),
        "stage_timeout_seconds": f.integer(
            rnd.get("stage_timeout_seconds", 3600), "round.stage_timeout_seconds", 1, 7 * 86_400
        ),
        "secagg_stage_timeout_seconds": f.integer(
            rnd.get("secagg_stage_timeout_seconds", 300),
            "round.secagg_stage_timeout_seconds",
            5,
            86_400,
        ),
        "straggler_grace_seconds": f.integer(
            rnd.get("straggler_grace_seconds", 10), "round.straggler_grace_seconds", 1, 86_400
        ),
        "dedupe_threshold": f.number(
            agg.get("dedupe_threshold", 0.9), "aggregate.dedupe_threshold", 0.0, 1.0
        ),
        "min_support": f.integer(agg.get("min_support", 1), "aggregate.min_support", 1, 100_000),
        "expected_distinct": f.integer(
            agg.get("expected_distinct", EXPECTED_DISTINCT),
            "aggregate.expected_distinct",
            1,
            MAX_EXPECTED_DISTINCT,
        ),
        "output": _folder(f, top.get("output"), "output", base),
    }
    _raise(f, "server configuration", source)
    return ServerConfig(source=source.resolve(), **values)
