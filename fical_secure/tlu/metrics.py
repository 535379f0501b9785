"""Task metrics of the tool-using agent on held-out requests.

Reports, for retrieval alone, the agent with RAG and the agent without RAG:
tool choice, argument accuracy given the right tool (all arguments and per
argument), end-to-end success (right tool, right arguments, tool ran). A
control scores the model alone among retrieval's top candidates presented in
retrieval order and in shuffled order: a model that merely picks the first
listed tool scores high in the first and near chance in the second.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from fical_secure.data.schema import ArgValue, EvalRequest
from fical_secure.jsontypes import JsonObject
from fical_secure.tlu.agent import Agent, Decision, Step


def same_value(a: ArgValue, b: ArgValue) -> bool:
    """Argument equality; numbers compare by value (``72`` equals ``72.0``), also when nested."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return type(a) is type(b) and a == b


def _mean(values: Sequence[bool | float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def step_metrics(steps: Sequence[Step], golds: Sequence[EvalRequest]) -> JsonObject:
    """Tool, argument and end-to-end accuracy of ``steps`` against ``golds``."""
    right_tool, all_args, e2e, executed = [], [], [], []
    per_arg: dict[str, list[bool]] = defaultdict(list)
    for step, gold in zip(steps, golds, strict=True):
        tool_ok = step.tool == gold.gold.tool
        right_tool.append(tool_ok)
        executed.append(step.executed)
        if not tool_ok:
            e2e.append(False)
            continue
        got = step.fill.arguments
        oks = {n: n in got and same_value(got[n], v) for n, v in gold.gold.arguments.items()}
        for name, ok in oks.items():
            per_arg[name].append(ok)
        all_args.append(all(oks.values()))
        e2e.append(all(oks.values()) and step.executed)
    return {
        "tool_accuracy": _mean(right_tool),
        "argument_accuracy": _mean(all_args),
        "per_argument_accuracy": {n: _mean(v) for n, v in sorted(per_arg.items())},
        "end_to_end_success": _mean(e2e),
        "executed_rate": _mean(executed),
    }


def _model_choice(decisions: Sequence[Decision], golds: Sequence[str]) -> float:
    return _mean([d.choose(1.0) == g for d, g in zip(decisions, golds, strict=True)])


def evaluate(
    agent: Agent, eval_requests: Sequence[EvalRequest], *, k: int = 3, seed: int = 0
) -> JsonObject:
    """Evaluate retrieval, the agent with and without RAG, and the order control.

    Model scoring is batched per mode (one model call each). ``k`` is the
    recall@k cut-off; the control uses the agent's own candidate count.

    Raises:
        GenerationError, RetrievalError: a backend failed.
    """
    if not eval_requests:
        raise ValueError("evaluate needs at least one request")
    requests = [r.request for r in eval_requests]
    golds = [r.gold.tool for r in eval_requests]
    started = time.perf_counter()
    ranked = agent.index.rank_tools(requests)
    retrieval = {
        "top1_accuracy": _mean([t[0][0] == g for t, g in zip(ranked, golds, strict=True)]),
        f"recall_at_{k}": _mean(
            [g in [n for n, _ in t[:k]] for t, g in zip(ranked, golds, strict=True)]
        ),
    }
    with_rag = agent.act(requests, rag=True)
    without_rag = agent.act(requests, rag=False)
    shuffled = agent.decide(requests, rag=True, order="shuffled", seed=seed)
    elapsed = time.perf_counter() - started
    in_order = [s.decision for s in with_rag]
    n_cand = agent.config.n_candidates
    return {
        "n_requests": len(eval_requests),
        "n_tools": len(agent.catalogue),
        "chance_tool_accuracy": 1.0 / len(agent.catalogue),
        "weight": agent.config.weight,
        "retrieval": retrieval,
        "with_rag": step_metrics(with_rag, eval_requests),
        "without_rag": step_metrics(without_rag, eval_requests),
        "control": {
            "n_candidates": n_cand,
            "gold_among_candidates": _mean(
                [g in d.candidates for d, g in zip(in_order, golds, strict=True)]
            ),
            "model_choice_retrieval_order": _model_choice(in_order, golds),
            "model_choice_shuffled_order": _model_choice(shuffled, golds),
            "chance_among_candidates": 1.0 / n_cand,
        },
        "timing": {
            "seconds": elapsed,
            # requests through all three passes (with RAG, without, shuffled control)
            "requests_per_second": len(eval_requests) / elapsed if elapsed > 0 else math.inf,
        },
    }
