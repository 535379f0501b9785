"""Settings and state of one client's round: what its stages read and extend, in order.

A leaf module: the client stages (:mod:`.client`, :mod:`.gates`) and both
drivers (the in-process demo, the Flower ClientApp) import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.schema import HospitalData, PIIValue, ToolSpec
from fical_secure.errors import PipelineError
from fical_secure.jsontypes import JsonObject
from fical_secure.kcg.schema import Compendium
from fical_secure.llm.base import LLM
from fical_secure.scrub.known import KnownIdentifiers, known_of


@dataclass(frozen=True)
class ClientSettings:
    """What shapes one client's release; the defaults are the demo's."""

    kcg_min_support: int = 2  # distinct subjects a compendium entry needs (also a privacy floor)
    kcg_paraphrase: bool = False  # let the model paraphrase claims (validated; off for 135M)
    scrub: bool = True
    audit: bool = True
    audit_use_llm: bool = True  # LLM membership signals (else embedding and lexical ones only)
    # records a side the audit scores with the LLM (its cost is linear in this);
    # `fical-secure audit` runs the fuller audit before deployment
    audit_llm_records: int = 8
    audit_canaries: int = 1
    profile: str = "strict"  # release profile (a shipped name or a YAML file) the gate applies
    # the hospital's DP budget ledger (release.dp); None: in memory, this process only
    dp_ledger: Path | None = None
    seed: int = 0
    progress: bool = True


@dataclass
class ClientRoundState:
    """What one client's stages produce, in order."""

    hospital: HospitalData
    settings: ClientSettings = field(default_factory=ClientSettings)
    catalogue: tuple[ToolSpec, ...] = CATALOGUE  # the tools the federation shares
    llm: LLM | None = None
    # planted values of a synthetic federation (ground truth for release_check); () for own data
    manifest: tuple[PIIValue, ...] = ()
    # the hospital's roster of known identifiers, (kind, value) rows, beside its episodes' pii
    roster: tuple[tuple[str, str], ...] = ()
    local: Compendium | None = None  # KCG output
    released: Compendium | None = None  # after the privacy gates
    blocked: str | None = None  # why a gate blocked this client's release
    report: JsonObject = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def client_id(self) -> str:
        return self.hospital.hospital_id

    def need_llm(self) -> LLM:
        if self.llm is None:
            raise PipelineError("the model is not loaded for this client")
        return self.llm

    def known_identifiers(self) -> KnownIdentifiers:
        """Every ``pii`` value of the hospital's episodes, plus its roster.

        KCG mines no phrase that names one, and the scrubber masks them in any
        case or spelling.
        """
        return known_of((*self.hospital.members, *self.hospital.nonmembers), self.roster)

    def roster_identifiers(self) -> KnownIdentifiers:
        """The hospital's roster alone (the fixed list DP mode filters every subject by)."""
        return KnownIdentifiers().extend(self.roster)

    def need_release(self) -> Compendium:
        if self.released is None or self.blocked is not None:
            raise PipelineError(f"client {self.client_id} has nothing to release")
        return self.released
