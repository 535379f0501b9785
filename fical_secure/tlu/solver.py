"""The knowledge-applying agent: retrieval plus lexical evidence for tool choice, learned
aliases for arguments, then execution in the simulated environment.

Tool choice ranks every tool by its best retrieved document (cosine over the
docs and whatever compendium or demonstrations the index holds) plus
``lexical_weight`` when the request names one of the tool's enum values,
in standard words or through an alias the compendium taught, plus a cue
bonus: ``cue_weight`` times the summed specificity of the tool's cue phrases
the request contains (tool-selection cues the compendium taught,
:mod:`fical_secure.kcg.cues`, matched on normalised tokens; a phrase's
specificity for a tool is the share of its cue support that is that tool's,
:meth:`Knowledge.specificity`, so a phrase the federation gives for one tool
counts fully and one given for several tools is split between them).
:data:`CUE_WEIGHT` was chosen by cross-validation on the training side of
BFCL ``live_multiple`` (``benchmarks/cue_weight.py``), never on held-out
requests (weights 0 to 0.3; 0.075 and 0.1 within 0.2 points of each
other, 0 about 8 points lower); it is above the typical margin between
MiniLM's top two tools, so cues settle near ties and two cues can outweigh a
moderate retrieval lead. Arguments are
filled by the ``filler`` (:mod:`fical_secure.tlu.fill`): by rule with those
aliases and the argument hints the compendium taught (usual values, omitted
optionals, normalisations, shapes; the default, no model call), or by the
model decoding under the tool's schema with the retrieved entries about the
chosen tool as notes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from fical_secure.data.schema import ToolSpec
from fical_secure.kcg.cues import words
from fical_secure.tlu.agent import Decision, Step, execute_step
from fical_secure.tlu.args import ArgFill
from fical_secure.tlu.env import ToolEnvironment
from fical_secure.tlu.fill import ArgumentFiller, FillJob, RuleFiller
from fical_secure.tlu.index import ToolIndex
from fical_secure.tlu.knowledge import Knowledge, ValueMatcher

LEXICAL_WEIGHT = 0.15
CUE_WEIGHT = 0.075
NOTES_SEARCHED = 32  # documents searched per request for notes about the chosen tool


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
        # cue phrase (as a token tuple) -> [(tool, specificity)]
        self._cues: dict[tuple[str, ...], list[tuple[str, float]]] = defaultdict(list)
        for tool, phrases in sorted(self.knowledge.specificity().items()):
            for phrase, share in sorted(phrases.items()):
                self._cues[tuple(phrase.split())].append((tool, share))
        self._cue_len = max((len(p) for p in self._cues), default=0)
        if self.env is None:
            self.env = ToolEnvironment(catalogue=self.catalogue)

    def rank(self, requests: Sequence[str]) -> list[list[tuple[str, float]]]:
        """Every tool with its combined score, best first, per request."""
        ranked = []
        for request, tools in zip(requests, self.index.rank_tools(requests), strict=True):
            named = self._matcher.tools(request)
            cued = self.cue_evidence(request)
            scored = [
                (
                    t,
                    s
                    + (self.lexical_weight if t in named else 0.0)
                    + self.cue_weight * cued.get(t, 0.0),
                )
                for t, s in tools
            ]
            ranked.append(sorted(scored, key=lambda ts: (-ts[1], ts[0])))
        return ranked

    def cue_evidence(self, request: str) -> dict[str, float]:
        """Tool -> summed specificity of its cue phrases the request contains (each once)."""
        tokens = tuple(words(request))
        present = {
            tokens[i : i + n]
            for n in range(1, self._cue_len + 1)
            for i in range(len(tokens) - n + 1)
        }
        evidence: dict[str, float] = defaultdict(float)
        for phrase in present & self._cues.keys():
            for tool, share in self._cues[phrase]:
                evidence[tool] += share
        return dict(evidence)

    def act(self, requests: Sequence[str], *, tools: Sequence[str] | None = None) -> list[Step]:
        """Choose (or take the given ``tools``), fill, execute and answer every request."""
        if tools is None:
            choices = [ranked[0][0] for ranked in self.rank(requests)]
        else:
            choices = list(tools)
        notes = self._notes(requests, choices)
        jobs = [
            FillJob(r, self._specs[t], n) for r, t, n in zip(requests, choices, notes, strict=True)
        ]
        fills = self.filler.fill(jobs, self.knowledge)
        return [self._complete(r, t, f) for r, t, f in zip(requests, choices, fills, strict=True)]

    def _notes(self, requests: Sequence[str], tools: Sequence[str]) -> list[tuple[str, ...]]:
        """Retrieved compendium entries (and demonstrations) about each request's chosen tool."""
        if isinstance(self.filler, RuleFiller) or not requests:
            return [() for _ in requests]  # the rules read no notes
        hits = self.index.search(requests, NOTES_SEARCHED)
        return [
            tuple(h.text for h in found if h.tool == tool and h.source != "tool")
            for found, tool in zip(hits, tools, strict=True)
        ]

    def _complete(self, request: str, tool: str, fill: ArgFill) -> Step:
        assert self.env is not None
        decision = Decision((tool,), np.zeros(1), np.zeros(1))
        return execute_step(self.env, request, decision, tool, fill)
