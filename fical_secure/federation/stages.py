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
    """Load the federation folder of ``settings.data``, or generate the synthetic one."""

    name: str = "data"

    def run(self, state: RoundState) -> None:
        from fical_secure.data.generator import generate_federation
        from fical_secure.data.storage import load_federation

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
        state.report["data"] = str(s.data) if s.data is not None else "synthetic"
        state.report["catalogue_tools"] = len(fed.catalogue)
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

        if not state.settings.use_model:
            state.report["model"] = None
            return
        state.llm = load_llm(state.settings.model)
        state.report["model"] = state.llm.name


@dataclass(frozen=True)
class KCGStage:
    """Each client writes its compendium of validated claims from its member episodes."""

    name: str = "kcg"

    def run(self, state: RoundState) -> None:
        from fical_secure.kcg.knowledge import KnowledgeConfig, build_knowledge

        fed, s = state.need_federation(), state.settings
        config = KnowledgeConfig(
            min_support=s.kcg_min_support, paraphrase=s.use_model and s.kcg_paraphrase
        )
        sizes: dict[str, int] = {}
        entries: dict[str, int] = {}
        for hospital in fed.hospitals:
            comp = build_knowledge(
                hospital.members,
                fed.catalogue,
                state.llm,
                client_id=hospital.hospital_id,
                config=config,
                progress=s.progress,
            )
            state.local[hospital.hospital_id] = comp
            sizes[hospital.hospital_id] = len(comp.to_bytes())
            entries[hospital.hospital_id] = len(comp.entries)
        state.report["compendium_bytes"] = sizes
        state.report["compendium_entries"] = entries
        state.report["kcg_min_support"] = s.kcg_min_support
        # without privacy gates, what KCG wrote is what is released
        state.released = dict(state.local)


@dataclass(frozen=True)
class RecheckStage:
    """After the privacy gates: keep only entries that still state a claim KCG validated.

    A scrubbed phrase ("<PERSON>" for a brand name) leaves an entry that no
    example supports; it is dropped rather than sent.
    """

    name: str = "recheck"

    def run(self, state: RoundState) -> None:
        from fical_secure.kcg.claims import keep_validated

        dropped: dict[str, int] = {}
        for client_id, comp in list(state.released.items()):
            kept = keep_validated(comp.entries, state.local[client_id].entries)
            dropped[client_id] = len(comp.entries) - len(kept)
            state.released[client_id] = comp.with_entries(kept)
        state.report["recheck_dropped"] = dropped


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


DEV_REQUESTS = 30  # training requests used to check whether the model adds accuracy


@dataclass(frozen=True)
class TLUStage:
    """The ablation on the held-out requests: docs only, local, global (FICAL), oracle.

    The ablation's agent uses no model (see :mod:`fical_secure.tlu.solver`);
    :class:`ModelCheckStage` measures whether the model would add accuracy.
    """

    name: str = "tlu"

    def run(self, state: RoundState) -> None:
        import time

        from fical_secure.evaluation.ablation import run_ablation
        from fical_secure.tlu.embedding import default_embedder

        cpu = time.process_time()
        if state.global_compendium is None:
            raise PipelineError("the aggregate stage has not run")
        fed, s = state.need_federation(), state.settings
        embedder = default_embedder()
        conditions = (
            None if s.ablation_sample_sharing else ("docs_only", "local", "global", "oracle")
        )
        state.report["ablation"] = run_ablation(
            fed, state.local, state.global_compendium, embedder, seed=s.seed, conditions=conditions
        )
        state.report["tlu_cpu_seconds"] = round(time.process_time() - cpu, 3)


@dataclass(frozen=True)
class ModelCheckStage:
    """Opt-in: does the model's score add tool accuracy to retrieval? (dev requests only).

    Measured on the packaged 135M model it does not (the weight search picks
    0), so rounds skip it by default; ``--model-check`` runs it.
    """

    name: str = "model_check"

    def run(self, state: RoundState) -> None:
        from fical_secure.tlu.embedding import default_embedder

        if state.llm is None:
            state.report["model_check"] = None  # no model loaded (--no-model)
            return
        state.report["model_check"] = _model_check(state, default_embedder())


def _model_check(state: RoundState, embedder: object) -> dict[str, object]:
    """Does the model's score add tool accuracy to retrieval? (weight search on dev)."""
    import random

    from fical_secure.tlu.agent import Agent, choose_weight
    from fical_secure.tlu.index import ToolIndex

    fed, s = state.need_federation(), state.settings
    assert state.global_compendium is not None and state.llm is not None
    index = ToolIndex(embedder, state.global_compendium, fed.catalogue)  # type: ignore[arg-type]
    agent = Agent(state.llm, index, catalogue=fed.catalogue)
    members = [e for h in fed.hospitals for e in h.members]
    dev = random.Random(s.seed).sample(members, min(DEV_REQUESTS, len(members)))
    weight, accuracy = choose_weight(agent, [(e.request, e.call.tool) for e in dev])
    return {
        "dev_requests": len(dev),
        "tool_accuracy_by_model_weight": {str(w): a for w, a in accuracy.items()},
        "chosen_weight": weight,
        "model_adds_accuracy": accuracy[weight] > accuracy[0.0],
    }
