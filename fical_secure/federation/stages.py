"""The stages of the core FICAL round: data, model, KCG, aggregation, TLU.

Privacy stages (scrub, audit) live in ``gates.py`` and the transport (sealed or
in the clear) in ``transport.py``; ``demo.py`` puts them in order. Heavy
libraries are imported inside ``run`` so that building a pipeline is cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

from fical_secure.errors import PipelineError
from fical_secure.federation.state import RoundState


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
        state.report["model"] = state.llm.name


@dataclass(frozen=True)
class KCGStage:
    """Each client writes its knowledge compendium from its member episodes."""

    name: str = "kcg"

    def run(self, state: RoundState) -> None:
        from fical_secure.kcg.builder import build_compendium

        fed, llm = state.need_federation(), state.need_llm()
        sizes: dict[str, int] = {}
        entries: dict[str, int] = {}
        for hospital in fed.hospitals:
            comp = build_compendium(
                hospital.members,
                llm,
                client_id=hospital.hospital_id,
                batch_size=state.settings.kcg_batch_size,
                progress=state.settings.progress,
            )
            state.local[hospital.hospital_id] = comp
            sizes[hospital.hospital_id] = len(comp.to_bytes())
            entries[hospital.hospital_id] = len(comp.entries)
        state.report["compendium_bytes"] = sizes
        state.report["compendium_entries"] = entries
        # without privacy gates, what KCG wrote is what is released
        state.released = dict(state.local)


@dataclass(frozen=True)
class AggregateStage:
    """Server: union of the accepted compendiums, near-duplicates merged (faiss)."""

    name: str = "aggregate"

    def run(self, state: RoundState) -> None:
        from fical_secure.aggregate import aggregate
        from fical_secure.tlu.embedding import default_embedder

        s = state.settings
        glob = aggregate(
            state.received,
            embedder=default_embedder(),
            threshold=s.dedupe_threshold,
            min_support=s.min_support,
        )
        state.global_compendium = glob
        state.report["global_entries"] = len(glob.entries)
        state.report["global_compendium_bytes"] = len(glob.to_bytes())
        state.report["client_entries_received"] = sum(len(c.entries) for c in state.received)


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
