"""A client's (hospital's) configuration: one YAML, read by ``fical-secure client`` and ``audit``.

One schema, :class:`ClientConfig`. What the audit needs (keys, declared
algorithms, transport, share mode, the data a compendium was built from) is
enough for ``fical-secure audit``; running a SuperNode also needs the
deployment keys (federation, roster, SuperLink access, output), which
:class:`HospitalConfig` (the same schema) makes required and whose files it
checks exist. Values that are *known but non-compliant* (``transport: plain``,
``share_mode: raw_samples``, ``aead: aes-ctr``) load fine: rejecting them is
the audit's job, with evidence, not the loader's. Undeclared algorithms,
transport and share mode are what this toolkit's client does.

``data`` is the client's episode JSONL; written as ``{path, sha256}`` it binds
the configuration to the exact records its compendium was built from, and
``fical-secure audit`` refuses the file when its bytes no longer match.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, model_validator

from fical_secure.compliance import vocabulary as vocab
from fical_secure.config.fields import (
    Bool,
    ConfigPath,
    ExistingFile,
    FileConfig,
    Section,
    Text,
    choice,
    existing_file,
    integer,
    load_model,
    problem,
    version,
)
from fical_secure.config.ids import ClientId

SCHEMA_VERSION = 1
HINT = "fix them and run again; `fical-secure federation init` writes a valid example"
PACKAGED = "packaged"
BUILT_IN = "built-in"
Device = Literal["auto", "cpu", "cuda"]
Transport = Literal["sealed", "secagg", "plain"]
ShareMode = Literal["compendium", "raw_samples"]
DEVICES: tuple[Device, ...] = ("auto", "cpu", "cuda")
_ADDRESS = re.compile(r"^[A-Za-z0-9.\-]+:\d{1,5}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _address(value: Any) -> str:
    if not isinstance(value, str) or not _ADDRESS.match(value):
        raise problem("must be host:port, e.g. 127.0.0.1:9093")
    return value


def _sha256(value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not _SHA256.match(value)):
        raise problem("must be 64 lowercase hex digits (sha256sum of the data file)")
    return value


def _model(value: Any, info: ValidationInfo) -> str:
    """``packaged``, or a local model folder / .gguf file (absolute once loaded)."""
    if value == PACKAGED:
        return PACKAGED
    if not isinstance(value, str) or not value.strip():
        raise problem("must be 'packaged' or a local model folder / .gguf file")
    context = info.context or {}
    resolved = Path(context.get("base", Path.cwd())) / value
    if context.get("check_files") and not resolved.exists():
        raise problem(f"no such model folder or file {resolved} (or write: model: packaged)")
    return str(resolved)


class ClientKeys(Section):
    """The client's identity key bundle, the pinned server key and the server-signed roster."""

    private_key: ExistingFile  # `fical-secure keys new`
    server_public_key: ExistingFile
    roster: ExistingFile | None = None


class DeployedKeys(ClientKeys):
    roster: ExistingFile


class SuperLinkAccess(Section):
    """How a hospital's SuperNode reaches the operator's SuperLink."""

    address: Annotated[str, BeforeValidator(_address)]  # host:port of the SuperLink
    root_certificate: ExistingFile  # the federation's private CA (PEM)
    auth_private_key: ExistingFile  # SuperNode authentication key (OpenSSH P-384)
    node_port: Annotated[int, integer(1024, 65535)] = 9094  # this SuperNode's Runtime API port


class DataFile(Section):
    """The client's episode JSONL; with ``sha256``, bound to the bytes a compendium came from."""

    path: ExistingFile
    sha256: Annotated[str | None, BeforeValidator(_sha256)]

    @model_validator(mode="before")
    @classmethod
    def _bare_path(cls, raw: Any) -> Any:
        return {"path": raw, "sha256": None} if isinstance(raw, str) else raw


class Privacy(Section):
    """What the client's release stages do (scrub, audit gate) and under which profile."""

    scrub: Bool = True
    audit_gate: Bool = True
    audit_profile: Text = "strict"
    audit_use_llm: Bool = True
    audit_llm_records: Annotated[int, integer(1, 10_000)] = 8
    audit_canaries: Annotated[int, integer(0, 1000)] = 1
    # JSONL of {kind, value}: identifiers the scrubber masks and KCG never mines
    known_identifiers: ExistingFile | None = None


class KcgSettings(Section):
    min_support: Annotated[int, integer(1, 10_000)] = 2  # distinct subjects a claim needs
    paraphrase: Bool = False  # let the model paraphrase validated claims


class CryptoSuite(Section):
    """Algorithms a client declares it uses (the default: what this toolkit's envelope does)."""

    aead: Annotated[str, choice(vocab.AEADS)]
    signature: Annotated[str, choice(vocab.SIGNATURES)]
    key_exchange: Annotated[str, choice(vocab.KEY_EXCHANGES)]
    kdf: Annotated[str, choice(vocab.KDFS)]


def _catalogue(value: Any, info: ValidationInfo) -> Path | None:
    return None if value in (BUILT_IN, None) else existing_file(value, info)


class ClientConfig(FileConfig):
    """A validated client configuration; paths are absolute (resolved beside the file)."""

    version: Annotated[int, version(SCHEMA_VERSION)]
    client_id: ClientId
    keys: ClientKeys
    federation_id: ClientId | None = None
    data: DataFile | None = None
    model: Annotated[str, BeforeValidator(_model)] = PACKAGED  # or an absolute local path
    device: Annotated[Device, choice(DEVICES)] = "auto"
    # the federation's tool catalogue (JSON function specs); None: the built-in one
    catalogue: Annotated[Path | None, BeforeValidator(_catalogue)] = None
    privacy: Privacy = Field(default_factory=Privacy)
    kcg: KcgSettings = Field(default_factory=KcgSettings)
    superlink: SuperLinkAccess | None = None
    output: ConfigPath | None = None  # where the verified global compendium is stored
    crypto: CryptoSuite = Field(default_factory=lambda: CryptoSuite(**vocab.ENVELOPE_SUITE))
    transport: Annotated[Transport, choice(vocab.TRANSPORT_MODES)] = "sealed"
    share_mode: Annotated[ShareMode, choice(vocab.SHARE_MODES)] = "compendium"
    compendium: ConfigPath | None = None  # the compendium this client releases (audit)

    @property
    def bound_data(self) -> tuple[Path, str] | None:
        """(data file, its recorded SHA-256) when the configuration binds its records."""
        if self.data is None or self.data.sha256 is None:
            return None
        return self.data.path, self.data.sha256


class HospitalConfig(ClientConfig):
    """:class:`ClientConfig` of a client that runs: its deployment keys are required."""

    federation_id: ClientId
    keys: DeployedKeys
    data: DataFile
    superlink: SuperLinkAccess
    output: ConfigPath


def load_client_config(path: str | Path) -> ClientConfig:
    """Read and validate a client configuration as the audit needs it (files are not checked).

    Raises:
        ConfigError: unreadable file, not YAML, or schema violations (all listed).
    """
    return load_model(ClientConfig, path, "client configuration")


def load_hospital_config(path: str | Path) -> HospitalConfig:
    """Read and validate the configuration a hospital's client runs with; its files must exist.

    Raises:
        ConfigError: unreadable file, not YAML, or schema violations (all listed).
    """
    return load_model(
        HospitalConfig, path, "client configuration", hint=HINT, context={"check_files": True}
    )
