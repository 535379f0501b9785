"""The operator's ``server.yaml``: keys, the SuperLink's TLS set-up, round and aggregation.

Schema-checked completely before anything starts (every problem listed at
once, with its path and a hint); relative paths resolve beside the file and
the files it names must exist. ``fical-secure federation init`` writes a
valid example.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from fical_secure.aggregate.threshold import EXPECTED_DISTINCT, MAX_EXPECTED_DISTINCT
from fical_secure.config.client import HINT, SCHEMA_VERSION
from fical_secure.config.fields import (
    ConfigPath,
    ExistingFile,
    FileConfig,
    Section,
    Text,
    choice,
    integer,
    listing,
    load_model,
    number,
    version,
)
from fical_secure.config.ids import ClientId

Mode = Literal["sealed", "secagg"]
MODES: tuple[Mode, ...] = ("sealed", "secagg")


class ServerKeys(Section):
    private_key: ExistingFile
    roster: ExistingFile
    clients: ConfigPath | None = None  # folder of <client_id>.public.key: enrollment names


class SuperLinkTLS(Section):
    """Where the SuperLink listens, its TLS certificate, and the SuperNodes it admits."""

    host: Text
    port: Annotated[int, integer(1024, 65535)]
    certificate: ExistingFile
    private_key: ExistingFile  # the certificate's key
    ca_certificate: ExistingFile
    supernode_public_keys: Annotated[tuple[ExistingFile, ...], listing()]


class RoundSettings(Section):
    mode: Annotated[Mode, choice(MODES)] = "sealed"
    min_clients: Annotated[int, integer(1, 100_000)] = 1
    wait_seconds: Annotated[int, integer(1, 86_400)] = 300  # for enough SuperNodes to connect
    # for the replies of one message round
    stage_timeout_seconds: Annotated[int, integer(1, 7 * 86_400)] = 3600
    # each of the five secure-aggregation stages
    secagg_stage_timeout_seconds: Annotated[int, integer(5, 86_400)] = 300
    # after the quorum replied: see server_app.exchange
    straggler_grace_seconds: Annotated[int, integer(1, 86_400)] = 10


class AggregateSettings(Section):
    dedupe_threshold: Annotated[float, number(0.0, 1.0)] = 0.9
    min_support: Annotated[int, integer(1, 100_000)] = 1
    # secagg at min_support >= 2: sizes the count pass
    expected_distinct: Annotated[int, integer(1, MAX_EXPECTED_DISTINCT)] = EXPECTED_DISTINCT


class ServerConfig(FileConfig):
    """A validated server configuration; paths are absolute (resolved beside the file)."""

    version: Annotated[int, version(SCHEMA_VERSION)]
    federation_id: ClientId
    keys: ServerKeys
    superlink: SuperLinkTLS
    output: ConfigPath
    round: RoundSettings = Field(default_factory=RoundSettings)
    aggregate: AggregateSettings = Field(default_factory=AggregateSettings)


def load_server_config(path: str | Path) -> ServerConfig:
    """Read and validate the server's configuration.

    Raises:
        ConfigError: unreadable file, not YAML, or schema violations (all listed).
    """
    return load_model(
        ServerConfig, path, "server configuration", hint=HINT, context={"check_files": True}
    )
