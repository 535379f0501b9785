"""Inputs of an audit: the data (synthetic federation or the user's JSONL) and the candidate.

The candidate is what the client would release: the compendium it names, or,
for a configuration that shares raw samples, the client's member records
themselves (what a sample-sharing federation would send). The clients whose
membership game is played are the ones whose records built the candidate:
the compendium's owner, the configured client, or every client for a
``global`` compendium.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from fical_secure.audit.artefact import from_compendium, from_samples
from fical_secure.compliance.client_files import file_sha256
from fical_secure.config.client import ClientConfig
from fical_secure.config.ids import ClientId
from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.generator import generate_federation
from fical_secure.data.loader import load_episodes_jsonl
from fical_secure.data.schema import HospitalData
from fical_secure.errors import ConfigError, UntrustedInputError
from fical_secure.kcg.schema import Compendium
from fical_secure.scrub.known import known_of
from fical_secure.scrub.scrubber import Scrubber
from fical_secure.untrusted import DEFAULT_LIMITS, read_regular

if TYPE_CHECKING:
    from fical_secure.audit.artefact import SharedArtefact
    from fical_secure.compliance.settings import AuditSettings
    from fical_secure.data.schema import Episode, HospitalData, PIIValue, ToolSpec
    from fical_secure.scrub.scrubber import Scrubber

GENERATED_EPISODES = 40  # what `fical-secure demo` generates per client: same seed, same members


@dataclass(frozen=True)
class AuditData:
    """Clients with member / non-member records, and the ground truth of their planted values."""

    hospitals: tuple[HospitalData, ...]
    manifest: tuple[PIIValue, ...]
    description: str
    # the scrub context the round's scrub stage gives each client (Scrubber.for_client):
    # the tool catalogue, and each client's records whose pii are its known identifiers
    catalogue: tuple[ToolSpec, ...] = ()
    records: Mapping[str, tuple[Episode, ...]] = field(default_factory=dict)  # every record

    def scrubber_for(self, clients: Sequence[HospitalData]) -> Scrubber:
        """The scrubber the round's scrub stage would have run for ``clients``' release."""

        episodes = [e for c in clients for e in self.records.get(c.hospital_id, ())]
        tools = {t for c in clients for t in c.tools}
        return Scrubber.for_client(self.catalogue, tools, known_of(episodes))


@dataclass(frozen=True)
class Candidate:
    """The release under audit and the clients whose records built it."""

    artefact: SharedArtefact
    targets: tuple[HospitalData, ...]
    source: str


def _subset(episodes: list[Episode], n: int) -> list[Episode]:
    """``n`` episodes, those carrying a canary first (so canary exposure can be measured)."""
    ranked = sorted(episodes, key=lambda e: not any(p.kind == "CANARY" for p in e.pii))
    chosen = {e.episode_id for e in ranked[:n]}
    return [e for e in episodes if e.episode_id in chosen]


def load_data(settings: AuditSettings, config: ClientConfig | None = None) -> AuditData:
    """The data the candidate is scored against.

    A client configuration that binds its data (``data: {path, sha256}``) is
    scored against exactly that file; otherwise ``settings.data_dir`` or the
    synthetic federation (``settings.seed``, ``settings.clients``).

    Raises:
        ConfigError: bad counts, a data folder without ``*.jsonl`` files, a bound
            data file whose bytes changed, or other data asked for beside it.
        DataError: an invalid JSONL line (every bad line listed).
    """
    if (
        min(
            settings.records - 1,
            settings.mi_records,
            settings.recall_docs,
            settings.canary_candidates,
        )
        < 1
    ):
        raise ConfigError(
            "--records must be >= 2, --mi-records, --recall-docs, --canary-candidates >= 1"
        )
    if settings.planted_canaries < 0:
        raise ConfigError("--planted-canaries must be >= 0")
    if config is not None and config.bound_data is not None:
        return _load_bound(config, settings)
    if settings.data_dir is not None:
        return _load_jsonl(settings.data_dir, settings.records)

    if not 1 <= settings.clients <= 50:
        raise ConfigError("--clients must be between 1 and 50")
    per = max(GENERATED_EPISODES, settings.records)
    fed = generate_federation(
        settings.clients, seed=settings.seed, episodes_per_hospital=per, nonmembers_per_hospital=per
    )
    hospitals = tuple(
        HospitalData(
            h.hospital_id,
            h.name,
            h.tools,
            _subset(h.members, settings.records),
            _subset(h.nonmembers, settings.records),
        )
        for h in fed.hospitals
    )
    return AuditData(
        hospitals,
        tuple(fed.manifest),
        catalogue=tuple(fed.catalogue),
        records={h.hospital_id: (*h.members, *h.nonmembers) for h in fed.hospitals},
        description=f"synthetic federation, seed {settings.seed}, {settings.clients} clients, "
        f"{settings.records} members and {settings.records} non-members each",
    )


def _load_bound(config: ClientConfig, settings: AuditSettings) -> AuditData:
    """The client's own records, refused unless their bytes match the configuration."""

    assert config.bound_data is not None
    path, recorded = config.bound_data
    if settings.data_dir is not None or settings.synthetic:
        raise ConfigError(
            f"{config.source} names the data its compendium was built from "
            f"({path}); drop --data / --synthetic: the audit scores only that data"
        )
    digest = file_sha256(path)
    if digest != recorded:
        raise ConfigError(
            f"{path} is not the data the compendium was built from: its SHA-256 "
            f"{digest[:16]}... differs from the {recorded[:16]}... recorded in "
            f"{config.source}; audit against the exact records, or rebuild the compendium"
        )
    data = _load_files([path], settings.records, client_id=config.client_id)
    return replace(
        data,
        description=f"client data {path} (sha256 {digest}), bound by {config.source}; "
        f"up to {settings.records} records a side",
    )


def _load_jsonl(folder: Path, records: int) -> AuditData:
    files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    if not files:
        raise ConfigError(f"--data {folder}: no <client-id>.jsonl files found")
    data = _load_files(files, records)
    return replace(
        data,
        description=f"user data {folder}: {len(data.hospitals)} clients, "
        f"up to {records} records a side",
    )


def _load_files(files: list[Path], records: int, client_id: ClientId | None = None) -> AuditData:
    """One client per JSONL file (named by the file, or ``client_id``)."""

    hospitals = []
    records_of: dict[str, tuple[Episode, ...]] = {}
    for path in files:
        name = client_id or path.stem
        episodes = load_episodes_jsonl(path, hospital_id=name)
        members = [e for e in episodes if e.split == "member"]
        nonmembers = [e for e in episodes if e.split == "nonmember"]
        if not members or not nonmembers:
            raise ConfigError(f"{path}: the audit needs both member and nonmember episodes")
        tools = tuple(sorted({e.call.tool for e in episodes}))
        records_of[name] = tuple(episodes)
        hospitals.append(
            HospitalData(name, name, tools, _subset(members, records), _subset(nonmembers, records))
        )
    manifest = tuple(p for h in hospitals for e in h.members + h.nonmembers for p in e.pii)
    # the records' calls are checked against the built-in catalogue when they load
    return AuditData(tuple(hospitals), manifest, "", catalogue=CATALOGUE, records=records_of)


def _client(data: AuditData, client_id: ClientId, what: str) -> HospitalData:
    for hospital in data.hospitals:
        if hospital.hospital_id == client_id:
            return hospital
    known = ", ".join(h.hospital_id for h in data.hospitals)
    raise ConfigError(
        f"{what} {client_id!r} is not a client of the audited data (clients: {known})"
    )


def load_candidate(
    settings: AuditSettings, config: ClientConfig | None, data: AuditData
) -> Candidate:
    """The release under audit (see the module docstring).

    Raises:
        ConfigError: no candidate given, a missing file, or an owner not in the data.
        SchemaError: the compendium is not valid.
    """

    if config is not None and config.share_mode == "raw_samples":
        hospital = _client(data, config.client_id, "client_id")
        return Candidate(
            from_samples(config.client_id, hospital.members),
            (hospital,),
            f"raw member records of {config.client_id} (share_mode: raw_samples)",
        )
    path = settings.compendium or (config.compendium if config is not None else None)
    if path is None:
        raise ConfigError("no candidate: pass --compendium FILE, or a --client-config naming one")
    try:
        compendium = Compendium.from_json(read_regular(path, max_bytes=DEFAULT_LIMITS.max_bytes))
    except OSError as exc:
        raise ConfigError(f"cannot read compendium {path}: {exc.strerror}") from exc
    except UntrustedInputError as exc:
        raise ConfigError(f"compendium {path}: {exc}") from None
    bound = config.bound_data[1] if config is not None and config.bound_data else None
    built_from = compendium.meta.get("data_sha256")
    if bound is not None and built_from is not None and built_from != bound:
        raise ConfigError(
            f"compendium {path} was built from data with SHA-256 {str(built_from)[:16]}..., "
            f"not from the {bound[:16]}... the client configuration binds; audit the compendium "
            "with the configuration of the data it was built from"
        )
    owner = config.client_id if config is not None else compendium.owner
    targets = data.hospitals if owner == "global" else (_client(data, owner, "compendium owner"),)
    return Candidate(from_compendium(compendium), targets, str(path))
