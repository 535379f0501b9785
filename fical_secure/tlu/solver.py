"""The knowledge-applying agent: retrieval plus lexical evidence for tool choice, learned
aliases for arguments, then execution in the simulated environment.

Tool choice ranks every tool by its best retrieved document (cosine over the
docs and whatever compendium or demonstrations the index holds) plus
``lexical_weight`` when the request names one of the tool's enum values,
in standard words or through an alias the compendium taught, plus
``cue_weight`` when the request contains one of the tool's cue phrases
(tool-selection cues the compendium taught, :mod:`fical_secure.kcg.cues`;
default :data:`CUE_WEIGHT`, about the typical margin between MiniLM's top two
tools, so a cue settles near ties without overriding a clear match). Arguments come
from ``filler`` (:mod:`fical_secure.tlu.fillers`): by default the rule extraction
with those aliases, no model call (the round measures separately whether the
model adds tool accuracy, :func:`fical_secure.tlu.agent.choose_weight`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from fical_secure.data.schema import ToolCall, ToolSpec
from fical_secure.kcg.cues import phrase_in, words
from fical_secure.tlu.agent import Decision, Step
from fical_secure.tlu.args import ArgFill
from fical_secure.tlu.env import ToolEnvironment
from fical_secure.tlu.fillers import ArgumentFiller, RuleFiller
from fical_secure.tlu.index import ToolIndex
from fical_secure.tlu.knowledge import Knowledge, ValueMatcher

LEXICAL_WEIGHT = 0.15
CUE_WEIGHT = 0.05


@dataclass
class Solver:
    """Retrieval + knowledge agent over one index (see the module docstring)."""

    index: ToolIndex
    catalogue: Sequence[ToolSpec]
    knowledge: Knowledge = field(default_factory=Knowledge)
    lexical_weight: float = LEXICAL_WEIGHT
    cue_weight: float = CUE_WEIGHT
    env: ToolEnvironment | None = None
    filler: ArgumentFiller = field(default_factory=RuleFiller)

    def __post_init__(self) -> None:
        self._matcher = ValueMatcher(self.catalogue, self.knowledge)
        self._specs = {spec.name: spec for spec in self.catalogue}
        if self.env is None:
            self.env = ToolEnvironment(catalogue=self.catalogue)

    def rank(self, requests: Sequence[str]) -> list[list[tuple[str, float]]]:
        """Every tool with its combined score, best first, per request."""
        ranked = []
        for request, tools in zip(requests, self.index.rank_tools(requests), strict=True):
            named = self._matcher.tools(request)
            cued = self._cued(request)
            scored = [
                (
                    t,
                    s
                    + (self.lexical_weight if t in named else 0.0)
                    + (self.cue_weight if t in cued else 0.0),
                )
                for t, s in tools
            ]
            ranked.append(sorted(scored, key=lambda ts: (-ts[1], ts[0])))
        return ranked

    def _cued(self, request: str) -> set[str]:
        """Tools one of whose cue phrases the request contains."""
        tokens = words(request)
        return {
            tool
            for tool, phrases in self.knowledge.cues.items()
            if any(phrase_in(tokens, p) for p in phrases)
        }

    def act(self, requests: Sequence[str], *, tools: Sequence[str] | None = None) -> list[Step]:
        """Choose (or take the given ``tools``), fill, execute and answer every request."""
        if tools is None:
            choices = [ranked[0][0] for ranked in self.rank(requests)]
        else:
            choices = list(tools)
        specs = [self._specs[t] for t in choices]
        fills = self.filler.fill(requests, specs, self.knowledge)
        return [self._complete(*job) for job in zip(requests, choices, fills, strict=True)]

    def _complete(self, request: str, tool: str, fill: ArgFill) -> Step:
        assert self.env is not None
        decision = Decision((tool,), np.zeros(1), np.zeros(1))
        if not fill.complete:
            answer = f"I need {', '.join(fill.missing)} to use {tool}."
            return Step(request, decision, tool, fill, None, False, answer)
        call = ToolCall(tool, dict(fill.arguments))
        outcome = self.env.try_execute(call)
        answer = outcome.output if outcome.ok else f"{tool} could not run: {outcome.output}"
        return Step(request, decision, tool, fill, call, outcome.ok, answer)
