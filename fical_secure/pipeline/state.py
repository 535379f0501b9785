"""Settings and state of the in-process demo round: every client and the server in one process.

The demo's state holds one :class:`ClientRoundState` per simulated hospital
and one :class:`ServerRoundState`; the client and server pipelines run on
those, exactly as the Flower apps run them on one side each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fical_secure.data.schema import Federation
from fical_secure.errors import PipelineError
from fical_secure.jsontypes import JsonObject
from fical_secure.kcg.schema import Compendium
from fical_secure.llm.base import LLM
from fical_secure.pipeline.client_state import ClientRoundState, ClientSettings
from fical_secure.pipeline.server import ServerRoundState, ServerSettings
from fical_secure.pipeline.transport_figures import TransportFigures


@dataclass(frozen=True)
class RoundSettings:
    """Everything that determines a round; the defaults are the embedded demo."""

    out: Path = Path("runs/demo")
    data: Path | None = None  # a federation folder (docs/data-format.md); None: synthetic
    clients: int = 5
    seed: int = 0
    episodes_per_client: int = 40
    nonmembers_per_client: int = 40
    eval_per_tool: int = 6
    model: str | None = None  # None: the packaged SmolLM2-135M-Instruct
    use_model: bool = True  # False: the fast path, no LLM (canonical entries, model-free audit)
    kcg_min_support: int = 2  # an entry needs this many distinct supporting episodes
    # model paraphrases of the canonical claim sentences: the 135M default had 1 of 10
    # accepted by the validator at minutes of CPU, so only a stronger model is worth it
    kcg_paraphrase: bool = False
    scrub: bool = True
    audit: bool = True
    seal: bool = True
    mode: str = "sealed"  # "sealed" (server reads each compendium) or "secagg" (only the sum)
    # records a side the audit scores with the LLM (its cost is linear in this);
    # `fical-secure audit` runs the fuller audit before deployment
    audit_llm_records: int = 8
    audit_canaries: int = 1
    profile: str = "strict"  # release profile (a shipped name or a YAML file) the gate applies
    # distinct aliases of one value ("UTI", "bladder infection") embed at up to ~0.95:
    # a lower threshold would merge them and lose one
    dedupe_threshold: float = 0.97
    min_support: int = 1
    top_k: int = 3
    ablation_sample_sharing: bool = False  # also measure sample sharing (embeds every demo)
    # write per-request calls and failure kinds of every condition to out/failures.jsonl
    # (the held-out requests in clear: a benchmark's inspection aid, never a default)
    ablation_failures: bool = False
    model_check: bool = False  # measure whether the model adds tool accuracy (dev requests)
    # TLU argument filler: "rule", "llm" (schema-constrained decoding) or "auto" (llm when
    # the round loads a model, else rule)
    filler: str = "auto"
    progress: bool = True

    def client_settings(self) -> ClientSettings:
        """What every simulated hospital's client pipeline runs with."""
        return ClientSettings(
            kcg_min_support=self.kcg_min_support,
            kcg_paraphrase=self.use_model and self.kcg_paraphrase,
            scrub=self.scrub,
            audit=self.audit,
            audit_use_llm=self.use_model,
            audit_llm_records=self.audit_llm_records,
            audit_canaries=self.audit_canaries,
            profile=self.profile,
            seed=self.seed,
            progress=self.progress,
        )

    def server_settings(self) -> ServerSettings:
        return ServerSettings(dedupe_threshold=self.dedupe_threshold, min_support=self.min_support)


@dataclass
class RoundState:
    """What the stages of one in-process round produce, in order."""

    settings: RoundSettings
    federation: Federation | None = None
    llm: LLM | None = None
    clients: dict[str, ClientRoundState] = field(default_factory=dict)  # one per hospital
    server: ServerRoundState = field(default_factory=ServerRoundState)
    publisher: Any = None  # transport.Publisher: sends the global compendium back
    report: JsonObject = field(default_factory=dict)  # stage results for round.json
    transport: TransportFigures | None = None  # what the transport stage sent (and delivered)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def released(self) -> dict[str, Compendium]:
        """What each client not blocked by a gate would release, by client id."""
        return {
            cid: c.released
            for cid, c in self.clients.items()
            if c.released is not None and c.blocked is None
        }

    @property
    def received(self) -> list[Compendium]:
        return self.server.received

    @property
    def global_compendium(self) -> Compendium | None:
        return self.server.global_compendium

    def need_federation(self) -> Federation:
        if self.federation is None:
            raise PipelineError("the data stage has not run")
        return self.federation

    def need_llm(self) -> LLM:
        if self.llm is None:
            raise PipelineError("the model stage has not run")
        return self.llm
