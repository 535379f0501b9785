"""The tool-using agent: retrieve, choose a tool, fill its arguments, execute, answer.

With RAG the agent takes retrieval's top ``n_candidates`` tools, shows the
model each candidate's best retrieved note, and lets the model score the
candidates (calibrated log-prob of ``name(``, see :mod:`fical_secure.tlu.prompt`).
The two signals are combined as a weighted sum of min-max normalised scores::

    combined(t) = (1 - weight) * norm(retrieval cosine of t) + weight * norm(model score of t)

where ``norm`` maps the candidates' scores to [0, 1]. ``weight`` is chosen by
:func:`choose_weight` on a dev split of *training* episodes, never on the
evaluation set. Without RAG the model alone chooses among all catalogue tools.
Arguments are extracted from the request (:mod:`fical_secure.tlu.args`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.schema import ArgSpec, ToolCall, ToolSpec
from fical_secure.llm.base import LLM
from fical_secure.tlu.args import ArgFill, enum_surfaces, fill_arguments
from fical_secure.tlu.env import ToolEnvironment
from fical_secure.tlu.index import ToolIndex
from fical_secure.tlu.prompt import ScoringJob, calibrated_scores, choice_scores, plain_job, rag_job

Order = Literal["retrieval", "shuffled"]
WEIGHT_GRID: tuple[float, ...] = tuple(i / 10 for i in range(11))


@dataclass(frozen=True)
class AgentConfig:
    """Knobs of the agent; ``weight`` is the model's share in the combined score."""

    n_candidates: int = 3
    weight: float = 0.5
    prefix_tokens: int = 1
    model_enum_choice: bool = True  # ask the model for enums the request leaves open


@dataclass(frozen=True)
class Decision:
    """A tool choice with the evidence behind it (candidates in presented order)."""

    candidates: tuple[str, ...]
    retrieval: np.ndarray  # cosine per candidate (zeros without RAG)
    model: np.ndarray  # calibrated log-prob per candidate

    def combined(self, weight: float) -> np.ndarray:
        return (1.0 - weight) * _minmax(self.retrieval) + weight * _minmax(self.model)

    def choose(self, weight: float) -> str:
        """Best candidate; ties go to the earlier (better-retrieved) one."""
        return self.candidates[int(np.argmax(self.combined(weight)))]


@dataclass(frozen=True)
class Step:
    """One request handled end to end."""

    request: str
    decision: Decision
    tool: str
    fill: ArgFill
    call: ToolCall | None  # None when arguments are missing
    executed: bool
    answer: str


def execute_step(
    env: ToolEnvironment, request: str, decision: Decision, tool: str, fill: ArgFill
) -> Step:
    """Run ``tool`` with ``fill``'s arguments in ``env`` and answer, or ask for what is missing."""
    if not fill.complete:
        answer = f"I need {', '.join(fill.missing)} to use {tool}."
        return Step(request, decision, tool, fill, None, False, answer)
    call = ToolCall(tool, dict(fill.arguments))
    outcome = env.try_execute(call)
    answer = outcome.output if outcome.ok else f"{tool} could not run: {outcome.output}"
    return Step(request, decision, tool, fill, call, outcome.ok, answer)


def _minmax(scores: np.ndarray) -> np.ndarray:
    span = float(np.max(scores) - np.min(scores)) if scores.size else 0.0
    return (scores - np.min(scores)) / span if span > 0 else np.zeros_like(scores)


@dataclass
class Agent:
    """Retrieval-augmented tool-using agent over a weak local LLM."""

    llm: LLM
    index: ToolIndex
    catalogue: Sequence[ToolSpec] = CATALOGUE
    config: AgentConfig = field(default_factory=AgentConfig)
    env: ToolEnvironment = field(default_factory=ToolEnvironment)

    def decide(
        self,
        requests: Sequence[str],
        *,
        rag: bool = True,
        order: Order = "retrieval",
        seed: int = 0,
    ) -> list[Decision]:
        """Score candidate tools for every request with one batched model call.

        ``order="shuffled"`` presents each request's candidates (and notes) in a
        seeded random order: the control for a model that picks the first listed.

        Raises:
            GenerationError, RetrievalError: a backend failed.
        """
        names = tuple(spec.name for spec in self.catalogue)
        if not rag:
            jobs = [plain_job(r, names) for r in requests]
            model = calibrated_scores(self.llm, jobs, prefix_tokens=self.config.prefix_tokens)
            return [Decision(names, np.zeros(len(names)), m) for m in model]
        jobs, cosines = self._rag_jobs(requests, order, seed)
        model = calibrated_scores(self.llm, jobs, prefix_tokens=self.config.prefix_tokens)
        triples = zip(jobs, cosines, model, strict=True)
        return [Decision(job.candidates, cos, m) for job, cos, m in triples]

    def _rag_jobs(
        self, requests: Sequence[str], order: Order, seed: int
    ) -> tuple[list[ScoringJob], list[np.ndarray]]:
        ranked = self.index.rank_tools(requests)
        hits = self.index.search(requests, len(self.index))
        rng = random.Random(seed)
        jobs, cosines = [], []
        for request, tools, request_hits in zip(requests, ranked, hits, strict=True):
            top = list(tools[: self.config.n_candidates])
            if order == "shuffled":
                rng.shuffle(top)
            best_note: dict[str, str] = {}
            for hit in request_hits:  # best first: keep each tool's first hit
                best_note.setdefault(hit.tool, hit.text)
            names = [t for t, _ in top]
            jobs.append(rag_job(request, names, [best_note[t] for t in names]))
            cosines.append(np.array([s for _, s in top], dtype=np.float64))
        return jobs, cosines

    def act(self, requests: Sequence[str], *, rag: bool = True) -> list[Step]:
        """Choose, fill, execute and answer for every request."""
        decisions = self.decide(requests, rag=rag)
        weight = self.config.weight if rag else 1.0
        pairs = zip(requests, decisions, strict=True)
        return [self._complete(r, d, d.choose(weight)) for r, d in pairs]

    def run(self, request: str, *, rag: bool = True) -> Step:
        """Handle one request end to end."""
        return self.act([request], rag=rag)[0]

    def _complete(self, request: str, decision: Decision, tool: str) -> Step:
        spec = next(s for s in self.catalogue if s.name == tool)
        chooser = self._choose_enum if self.config.model_enum_choice else None
        fill = fill_arguments(request, spec, chooser=chooser)
        return execute_step(self.env, request, decision, tool, fill)

    def _choose_enum(
        self, request: str, spec: ToolSpec, arg: ArgSpec, choices: Sequence[str]
    ) -> str:
        words = [enum_surfaces(arg, c)[-1] for c in choices]  # shortest written form
        question = f"Request: {request}\nWhich {arg.description} does {spec.name} need?"
        scores = choice_scores(self.llm, question, words, words)
        return choices[int(np.argmax(scores))]


def choose_weight(
    agent: Agent, dev: Sequence[tuple[str, str]], grid: Sequence[float] = WEIGHT_GRID
) -> tuple[float, dict[float, float]]:
    """Pick the combination weight maximising tool accuracy on ``dev`` (request, gold tool).

    ``dev`` must come from training episodes, not the evaluation set. Scores
    are computed once and re-combined per weight; ties go to the smaller
    weight (less reliance on the weak model).
    """
    if not dev:
        raise ValueError("choose_weight needs at least one dev example")
    decisions = agent.decide([r for r, _ in dev], rag=True)
    golds = [gold for _, gold in dev]
    accuracy = {
        w: float(np.mean([d.choose(w) == g for d, g in zip(decisions, golds, strict=True)]))
        for w in grid
    }
    best = max(grid, key=lambda w: (accuracy[w], -w))
    return best, accuracy
