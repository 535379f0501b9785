"""What one compliance audit is asked to do: inputs, sizes and the model (a leaf module)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AuditSettings:
    """What to audit and how much of it (the defaults stay under ~3 minutes on 2 cores)."""

    profile: Path
    out: Path
    compendium: Path | None = None
    client_config: Path | None = None
    data_dir: Path | None = None  # None: the synthetic federation
    synthetic: bool = False  # --synthetic asked for explicitly
    seed: int = 0
    clients: int = 2
    records: int = 32  # members and non-members per client
    mi_records: int = 12  # of which this many a side are scored with the LLM
    canary_candidates: int = 31  # random secrets each canary is ranked against
    max_canaries: int = 1  # canaries measured per client (each costs candidates + 1 scorings)
    planted_canaries: int = 1  # canaries the audit plants in a copy of the data (KCG runs on it)
    recall_docs: int = 60
    model: str | None = None  # overrides the client configuration's model
    threat_models: Path | None = None  # None: the documents the package ships
    evidence: Path | None = None  # source tree the citations resolve under; None: see below
