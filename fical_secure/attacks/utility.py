"""Utility of a sharing mode, beside its attacks: the agent's tool choice with the release.

A plugin like the attacks (same ``run(ctx)`` shape, listed in the suites), but
it models no adversary: its threat model is :data:`NO_THREAT`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fical_secure.audit.metrics import wilson_interval as wilson
from fical_secure.jsontypes import JsonObject
from fical_secure.tlu.index import ToolIndex
from fical_secure.tlu.solver import Solver

if TYPE_CHECKING:
    from fical_secure.attacks.context import ModeContext

NO_THREAT = "none"  # a figure that measures utility, not an adversary


@dataclass(frozen=True)
class ToolUtility:
    """Utility, not an attack: the agent's tool choice on held-out requests with the release.

    The agent is the TLU's solver (:class:`fical_secure.tlu.solver.Solver`), as
    in the round: retrieval over the catalogue's tool documents plus, as
    retrievable examples, every released item with the tool it is about, and
    the catalogue's lexical evidence; no aliases for any mode, so only what
    each release adds to tool choice differs. Beside it, the same solver with
    the documents alone (the floor every mode starts from) and retrieval over
    the released items alone (top-1 item's tool: what the release carries by
    itself).
    """

    name: str = "tool_accuracy"
    game: str = "utility"
    threat_model: str = NO_THREAT
    needs_llm: bool = False

    def run(self, ctx: ModeContext) -> JsonObject:
        released = ctx.sharing.held()
        requests = ctx.federation.eval_requests
        if not requests:
            return {"tool_accuracy": {"value": 0.0, "ci95": [0.0, 0.0], "n_requests": 0}}
        catalogue = ctx.federation.catalogue
        texts = [t for r in released for t in r.artefact.texts]
        tools = [t for r in released for t in r.tools]
        queries = [r.request for r in requests]
        gold = [r.gold.tool for r in requests]

        def solver_right(examples: list[tuple[str, str]]) -> int:
            index = ToolIndex(ctx.embedder, None, catalogue, examples=examples)
            ranked = Solver(index, catalogue).rank(queries)
            return sum(r[0][0] == g for r, g in zip(ranked, gold, strict=True))

        right = solver_right(list(zip(tools, texts, strict=True)))
        docs_right = solver_right([])
        items_right = 0
        if texts:
            items = ctx.embedder.encode(texts)
            best = (ctx.embedder.encode(queries) @ items.T).argmax(axis=1)
            items_right = sum(tools[int(i)] == g for i, g in zip(best, gold, strict=True))
        n = len(requests)
        return {
            "tool_accuracy": {
                "value": round(right / n, 4),
                "ci95": wilson(right, n),
                "n_requests": n,
                "method": "TLU solver: MiniLM retrieval over the tool docs plus the released "
                "items as examples, lexical enum evidence, no aliases",
                "docs_only": round(docs_right / n, 4),
                "items_only": round(items_right / n, 4),
            }
        }
