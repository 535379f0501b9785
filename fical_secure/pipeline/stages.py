"""The demo's own stages (synthetic data, model, TLU) and the adapters that run the
client pipeline on every simulated hospital and the server pipeline on the server.

The client stages (KCG, scrub, audit, release check) live in ``client.py`` and
``gates.py``, the server stages in ``server.py``, the transport in
``transport.py``; ``demo.py`` puts them in order. Heavy libraries are
imported inside ``run`` so that building a pipeline is cheap.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from fical_secure.errors import GateBlockedError, PipelineError
from fical_secure.pipeline.client import ClientRoundState
from fical_secure.pipeline.runner import Stage
from fical_secure.pipeline.server import ServerRoundState
from fical_secure.pipeline.state import RoundState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataStage:
    """Generate the synthetic federation (each hospital's private episodes)."""

    name: str = "data"

    def run(self, state: RoundState) -> None:
        from fical_secure.data.generator import generate_federation

        s = state.settings
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
            h.hospital_id: ClientRoundState(h, cs, manifest=tuple(fed.manifest))
            for h in fed.hospitals
        }
        state.report["clients"] = len(fed.hospitals)
        state.report["episodes_per_client"] = {h.hospital_id: len(h.members) for h in fed.hospitals}
        state.report["tools_per_client"] = {h.hospital_id: list(h.tools) for h in fed.hospitals}
        state.report["eval_requests"] = len(fed.eval_requests)
        state.report["planted_pii_values"] = len(fed.manifest)


@dataclass(frozen=True)
class ModelStage:
    """Load the local LLM every client (and the agent) uses."""

    name: str = "model"

    def run(self, state: RoundState) -> None:
        from fical_secure.llm.loader import load_llm

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
                    state.report.setdefault(key, {})[cid] = value
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


DEV_REQUESTS = 30  # training requests used to pick the agent's retrieval/model weight


@dataclass(frozen=True)
class TLUStage:
    """Evaluate the agent on held-out requests, with and without retrieval.

    The weight between retrieval and model scores is chosen on a dev sample of
    *training* requests (members), never on the evaluation set. Retrieval over
    the tool catalogue alone is reported too, to show what the compendium adds.
    """

    name: str = "tlu"

    def run(self, state: RoundState) -> None:
        import random
        from dataclasses import replace

        from fical_secure.tlu.agent import Agent, choose_weight
        from fical_secure.tlu.embedding import default_embedder
        from fical_secure.tlu.index import ToolIndex
        from fical_secure.tlu.metrics import evaluate

        if state.global_compendium is None:
            raise PipelineError("the aggregate stage has not run")
        fed, s = state.need_federation(), state.settings
        embedder = default_embedder()
        index = ToolIndex(embedder, state.global_compendium, fed.catalogue)
        agent = Agent(state.need_llm(), index, catalogue=fed.catalogue)
        members = [e for h in fed.hospitals for e in h.members]
        dev = random.Random(s.seed).sample(members, min(DEV_REQUESTS, len(members)))
        weight, _ = choose_weight(agent, [(e.request, e.call.tool) for e in dev])
        # a missing enum is asked for, not guessed: the weak default model's guesses
        # are poor and cost one scoring pass per option
        config = replace(agent.config, weight=weight, n_candidates=s.top_k, model_enum_choice=False)
        agent = replace(agent, config=config)
        metrics = evaluate(agent, fed.eval_requests, k=s.top_k, seed=s.seed)
        requests = [r.request for r in fed.eval_requests]
        catalogue_only = ToolIndex(embedder, None, fed.catalogue).rank_tools(requests)
        golds = [r.gold.tool for r in fed.eval_requests]
        metrics["retrieval"]["catalogue_only_top1_accuracy"] = sum(
            ranked[0][0] == gold for ranked, gold in zip(catalogue_only, golds, strict=True)
        ) / len(golds)
        state.report["tool_accuracy"] = metrics
