"""Write a client's deployment configuration beside the exact records its compendium came from.

``fical-secure demo`` calls this for every client, so that
``fical-secure audit --client-config clients/<id>.yaml`` scores the released
compendium against the client's own members and held-out non-members (bound
by SHA-256), not against some other federation.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fical_secure.atomic import write_text_atomic
from fical_secure.data.jsonl import write_jsonl
from fical_secure.data.loader import episode_record
from fical_secure.data.schema import HospitalData
from fical_secure.errors import ConfigError, UntrustedInputError
from fical_secure.untrusted import open_regular

CLIENT_CONFIG = """\
# Written by `fical-secure demo`: how hospital {client_id} ran this round.
version: 1
client_id: {client_id}
keys:
  private_key: ../keys/{client_id}/private.key
  server_public_key: ../keys/server/public.key
crypto:
  aead: chacha20-poly1305
  signature: ed25519
  key_exchange: x25519
  kdf: hkdf-sha256
transport: {transport}
share_mode: compendium
model: packaged
compendium: {compendium}
# The records the compendium was built from (members) and held out (non-members):
# `fical-secure audit` scores against exactly these bytes and refuses any others.
data:
  path: {data}
  sha256: {sha256}
"""


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


def write_client_files(
    folder: Path, hospital: HospitalData, compendium: str, transport: str = "sealed"
) -> Path:
    """Write ``folder/<id>.jsonl`` and ``folder/<id>.yaml``; returns the YAML's path.

    ``compendium`` is the released compendium's path relative to ``folder``;
    ``transport`` the round's mode (``sealed``, ``secagg`` or ``plain``).

    Raises:
        DataError: the data file cannot be written.
    """
    client_id = hospital.hospital_id
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"{client_id}.jsonl"
    write_jsonl(data, [episode_record(e) for e in (*hospital.members, *hospital.nonmembers)])
    config = folder / f"{client_id}.yaml"
    text = CLIENT_CONFIG.format(
        client_id=client_id,
        compendium=compendium,
        data=data.name,
        sha256=file_sha256(data),
        transport=transport,
    )
    write_text_atomic(config, text, make_parents=True)
    return config
