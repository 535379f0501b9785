"""The knowledge-applying agent: retrieval plus lexical evidence for tool choice, learned
aliases for arguments, then execution in the simulated environment.

Tool choice ranks every tool by its best retrieved document (cosine over the
docs and whatever compendium or demonstrations the index holds) plus
``lexical_weight`` when the request names one of the tool's enum values,
in standard words or through an alias the compendium taught, plus a cue
bonus: ``cue_weight`` times the summed weight of the tool's cue phrases
the request contains (tool-selection cues the compendium taught,
:mod:`fical_secure.kcg.cues`, matched on normalised tokens; with
``cue_fold`` on, plural endings folded, :func:`~fical_secure.kcg.cues.fold_plural`).
A phrase's weight for a tool is its specificity, the share of its cue support
that is that tool's (:meth:`Knowledge.specificity`: a phrase the federation
gives for one tool counts fully, one given for several tools is split between
them), times ``min(support, cue_support_cap) / cue_support_cap``: a phrase
that one client taught counts a third of one that three clients taught.
:data:`CUE_WEIGHT`, :data:`CUE_SUPPORT_CAP` and :data:`CUE_FOLD` were chosen
by cross-validation on the training sides of BFCL ``live_multiple`` seeds 0
and 1 (``benchmarks/cue_weight.py --ranking``), never on held-out requests
(weights 0 to 0.3, caps 1 to 3, folding on and off, best mean over both
seeds; the best dozen configurations lie within 0.4 points of each other,
weight 0 about 8 points lower). With the cap a one-client cue adds 0.067, a
cue three clients taught 0.2, above the typical margin between MiniLM's top
two tools, so cues settle near ties and well-supported cues can outweigh a
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
from fical_secure.kcg.cues import fold_plural, words
from fical_secure.tlu.agent import Decision, Step, execute_step
from fical_secure.tlu.args import ArgFill
from fical_secure.tlu.env import ToolEnvironment
from fical_secure.tlu.fill import ArgumentFiller, FillJob, RuleFiller
from fical_secure.tlu.index import ToolIndex
from fical_secure.tlu.knowledge import Knowledge, ValueMatcher

LEXICAL_WEIGHT = 0.15
CUE_WEIGHT = 0.2
CUE_SUPPORT_CAP = 3  # a cue phrase counts min(support, cap) / cap of its specificity
CUE_FOLD = False  # match cue phrases on plural-folded tokens (no gain in CV)
NOTES_SEARCHED = 32  # documents searched per request for notes about the chosen tool


@dataclass
class Solver:
    """Retrieval + knowledge agent over one index (see the module docstring)."""

    index: ToolIndex
    catalogue: Sequence[ToolSpec]
    knowledge: Knowledge = field(default_factory=Knowledge)
    lexical_weight: float = LEXICAL_WEIGHT
    cue_weight: float = CUE_WEIGHT
    cue_support_cap: int = CUE_SUPPORT_CAP
    cue_fold: bool = CUE_FOLD
    env: ToolEnvironment | None = None
    filler: ArgumentFiller = field(default_factory=RuleFiller)

    def __post_init__(self) -> None:
        if self.cue_support_cap < 1:
            raise ValueError(f"cue_support_cap must be at least 1, got {self.cue_support_cap}")
        self._matcher = ValueMatcher(self.catalogue, self.knowledge)
        self._specs = {spec.name: spec for spec in self.catalogue}
        # cue phrase (as a token tuple) -> [(tool, specificity)]
        self._cues: dict[tuple[str, ...], list[tuple[str, float]]] = defaultdict(list)
        cap = self.cue_support_cap
        for tool, phrases in sorted(self.knowledge.specificity().items()):
            for phrase, share in sorted(phrases.items()):
                support = self.knowledge.cues[tool][phrase]
                weight = share * min(support, cap) / cap
                self._cues[self._fold(phrase.split())].append((tool, weight))
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
        """Tool -> summed weight of its cue phrases the request contains (each once)."""
        tokens = self._fold(words(request))
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

    def _fold(self, tokens: Sequence[str]) -> tuple[str, ...]:
        """The tokens cue phrases are matched on: as written, or plural-folded."""
        return tuple(fold_plural(t) for t in tokens) if self.cue_fold else tuple(tokens)

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
