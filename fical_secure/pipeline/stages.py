"""The demo's own stages (synthetic data, model, TLU) and the adapters that run the
client pipeline on every simulated hospital and the server pipeline on the server.

The client stages (KCG, scrub, audit, release check) live in ``client.py`` and
``gates.py``, the server stages in ``server.py``, the transport in
``transport.py``; ``demo.py`` puts them in order. Heavy libraries are
imported inside ``run`` so that building a pipeline is cheap.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fical_secure.data.generator import generate_federation
from fical_secure.data.storage import load_federation
from fical_secure.errors import ConfigError, GateBlockedError, PipelineError
from fical_secure.evaluation.ablation import run_ablation
from fical_secure.llm.base import JsonLLM
from fical_secure.llm.lazy import LazyLLM
from fical_secure.llm.loader import load_llm
from fical_secure.pipeline.client_state import ClientRoundState
from fical_secure.pipeline.runner import Stage
from fical_secure.pipeline.server import ServerRoundState
from fical_secure.pipeline.state import RoundState
from fical_secure.tlu.agent import Agent, choose_weight
from fical_secure.tlu.embedding import default_embedder
from fical_secure.tlu.fill import RuleFiller, SchemaFiller
from fical_secure.tlu.index import ToolIndex

if TYPE_CHECKING:
    from fical_secure.tlu.fill import ArgumentFiller

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataStage:
    """Load the federation folder of ``settings.data``, or generate the synthetic one."""

    name: str = "data"

    def run(self, state: RoundState) -> None:
        s = state.settings
        if s.data is not None:
            fed = load_federation(s.data)
        else:
            fed = generate_federation(
                s.clients,
                seed=s.seed,
                episodes_per_hospital=s.episodes_per_client,
                nonmembers_per_hospital=s.nonmembers_per_client,
                eval_per_tool=s.eval_per_tool,
            )
        state.federation = fed
        cs = s.client_settings()
        state.clients = {
            h.hospital_id: ClientRoundState(
                h, cs, manifest=tuple(fed.manifest), catalogue=fed.catalogue
            )
            for h in fed.hospitals
        }
        state.report["data"] = str(s.data) if s.data is not None else "synthetic"
        state.report["catalogue_tools"] = len(fed.catalogue)
        state.report["clients"] = len(fed.hospitals)
        state.report["episodes_per_client"] = {h.hospital_id: len(h.members) for h in fed.hospitals}
        state.report["tools_per_client"] = {h.hospital_id: list(h.tools) for h in fed.hospitals}
        state.report["eval_requests"] = len(fed.eval_requests)
        state.report["planted_pii_values"] = len(fed.manifest)


@dataclass(frozen=True)
class ModelStage:
    """Load the local LLM every client (and the agent) uses; skipped on the no-model path."""

    name: str = "model"

    def run(self, state: RoundState) -> None:
        if not state.settings.use_model:
            state.report["model"] = None
            return
        state.llm = load_llm(state.settings.model)
        for client in state.clients.values():  # one process: every hospital shares the model
            client.llm = state.llm
        state.report["model"] = state.llm.name


@dataclass(frozen=True)
class EachClient:
    """Run one client-pipeline stage on every hospital that a gate has not blocked.

    Each client's report entries land in the round report under the client's
    id; a blocked client is recorded and skipped from then on (fail closed per
    client). The round stops when no client is left to release anything.
    """

    stage: Stage[ClientRoundState]

    @property
    def name(self) -> str:
        return self.stage.name

    def run(self, state: RoundState) -> None:
        for cid, client in state.clients.items():
            if client.blocked is not None:
                continue
            start = time.perf_counter()
            try:
                self.stage.run(client)
            except GateBlockedError as exc:
                log.warning("client %s releases nothing this round: %s", cid, exc)
            finally:
                client.seconds[self.name] = round(time.perf_counter() - start, 3)
                for key, value in client.report.items():
                    by_client = state.report.get(key)
                    if not isinstance(by_client, dict):
                        by_client = state.report[key] = {}
                    by_client[cid] = value
        if state.clients and not state.released:
            raise GateBlockedError(
                f"the {self.name} stage blocked every client; nothing was released"
            )


@dataclass(frozen=True)
class OnServer:
    """Run one server-pipeline stage on the round's server; its figures join the round report."""

    stage: Stage[ServerRoundState]

    @property
    def name(self) -> str:
        return self.stage.name

    def run(self, state: RoundState) -> None:
        self.stage.run(state.server)
        state.report.update(state.server.report)


FAILURE_SAMPLES = "failures.jsonl"  # per-request calls and failure kinds, where asked
DEV_REQUESTS = 30  # training requests used to check whether the model adds accuracy


@dataclass(frozen=True)
class TLUStage:
    """The ablation on the held-out requests: docs only, local, global (FICAL), oracle.

    The ablation's agent uses no model (see :mod:`fical_secure.tlu.solver`);
    :class:`ModelCheckStage` measures whether the model would add accuracy.
    """

    name: str = "tlu"

    def run(self, state: RoundState) -> None:
        cpu = time.process_time()
        if state.global_compendium is None:
            raise PipelineError("the aggregate stage has not run")
        fed, s = state.need_federation(), state.settings
        local = {cid: c.local for cid, c in state.clients.items() if c.local is not None}
        conditions = (
            None if s.ablation_sample_sharing else ("docs_only", "local", "global", "oracle")
        )
        state.report["ablation"] = run_ablation(
            fed,
            local,
            state.global_compendium,
            default_embedder(),
            seed=s.seed,
            conditions=conditions,
            filler=_filler(state),
            samples=s.out / FAILURE_SAMPLES if s.ablation_failures else None,
        )
        state.report["filler"] = s.filler
        state.report["tlu_cpu_seconds"] = round(time.process_time() - cpu, 3)


def _filler(state: RoundState) -> ArgumentFiller:
    """The TLU ablation's argument filler the settings name (the model loads lazily)."""

    choice = state.settings.filler
    if choice == "auto":
        choice = "llm" if state.settings.use_model else "rule"
    if choice == "rule":
        return RuleFiller()
    if choice == "llm":
        return SchemaFiller(
            state.llm if isinstance(state.llm, JsonLLM) else LazyLLM(state.settings.model)
        )
    raise ConfigError(f"filler must be 'auto', 'rule' or 'llm', not {choice!r}")


@dataclass(frozen=True)
class ModelCheckStage:
    """Opt-in: does the model's score add tool accuracy to retrieval? (dev requests only).

    Measured on the packaged 135M model it does not (the weight search picks
    0), so rounds skip it by default; ``--model-check`` runs it.
    """

    name: str = "model_check"

    def run(self, state: RoundState) -> None:
        if state.llm is None or state.global_compendium is None:
            state.report["model_check"] = None  # no model loaded (--no-model)
            return
        fed, s = state.need_federation(), state.settings
        index = ToolIndex(default_embedder(), state.global_compendium, fed.catalogue)
        agent = Agent(state.llm, index, catalogue=fed.catalogue)
        members = [e for h in fed.hospitals for e in h.members]
        dev = random.Random(s.seed).sample(members, min(DEV_REQUESTS, len(members)))
        weight, accuracy = choose_weight(agent, [(e.request, e.call.tool) for e in dev])
        state.report["model_check"] = {
            "dev_requests": len(dev),
            "tool_accuracy_by_model_weight": {str(w): a for w, a in accuracy.items()},
            "chosen_weight": weight,
            "model_adds_accuracy": accuracy[weight] > accuracy[0.0],
        }
