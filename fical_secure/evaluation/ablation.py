"""The ablation FICAL needs, on the same held-out requests.

Conditions (one agent, :class:`fical_secure.tlu.solver.Solver`; only its
knowledge changes):

- ``docs_only``: the tool catalogue alone;
- ``local``: each request's own hospital's compendium (requests of no
  hospital fall back to docs only);
- ``global``: the aggregated compendium (FICAL);
- ``sample_sharing``: retrieval over the raw member demonstrations of every
  hospital, plus every alias those demonstrations show (support 1): the
  utility reference that leaks the records;
- ``oracle``: the gold tool, and the aliases that the demonstrations and the
  held-out requests' own gold calls show: the ceiling of this agent's
  argument filler.

Tool accuracy, argument accuracy (among requests whose tool is right) and
end-to-end success (right tool, right arguments, the call ran), with
bootstrap CIs, overall, per hospital and per kind of knowledge needed; the
federated gain (global minus local, paired) per hospital.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from fical_secure.aggregate.merge import TextEncoder
from fical_secure.data.schema import Episode, EvalRequest, Federation
from fical_secure.evaluation.bootstrap import mean_ci, paired_diff_ci
from fical_secure.kcg.claims import claim_entry
from fical_secure.kcg.knowledge import validated_claims
from fical_secure.kcg.schema import Compendium
from fical_secure.tlu.agent import Step
from fical_secure.tlu.fill import ArgumentFiller, RuleFiller
from fical_secure.tlu.index import ToolIndex
from fical_secure.tlu.knowledge import Knowledge
from fical_secure.tlu.metrics import same_value
from fical_secure.tlu.solver import Solver

CONDITIONS: tuple[str, ...] = ("docs_only", "local", "global", "sample_sharing", "oracle")
METRICS: tuple[str, ...] = ("tool_accuracy", "argument_accuracy", "end_to_end_success")


@dataclass(frozen=True)
class Outcome:
    """How one condition did on one request."""

    tool_ok: bool
    args_ok: bool  # meaningful only when tool_ok
    e2e: bool


class CachedEncoder:
    """Encodes each distinct text once (the same requests are queried per condition)."""

    def __init__(self, encoder: TextEncoder) -> None:
        self._encoder = encoder
        self._cache: dict[str, npt.NDArray[np.float32]] = {}

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if todo:
            for text, row in zip(todo, self._encoder.encode(todo), strict=True):
                self._cache[text] = row
        return np.stack([self._cache[t] for t in texts]).astype(np.float32)


def outcome(step: Step, gold: EvalRequest) -> Outcome:
    tool_ok = step.tool == gold.gold.tool
    got = step.fill.arguments
    args_ok = tool_ok and all(
        n in got and same_value(got[n], v) for n, v in gold.gold.arguments.items()
    )
    return Outcome(tool_ok, args_ok, tool_ok and args_ok and step.executed)


def demonstration_knowledge(episodes: Sequence[Episode], fed: Federation) -> Knowledge:
    """Every alias raw demonstrations show (support 1: no privacy floor)."""
    claims = validated_claims(episodes, fed.catalogue, 1)
    entries = tuple(dict.fromkeys(claim_entry(c) for c, _ in claims))
    return Knowledge.from_compendium(Compendium(owner="demonstrations", entries=entries))


def _as_episode(request: EvalRequest) -> Episode:
    return Episode(
        request.request_id,
        request.hospital_id or "eval",
        request.request,
        request.gold,
        "",
        "",
        "member",
    )


def run_ablation(
    fed: Federation,
    local: Mapping[str, Compendium],
    global_compendium: Compendium,
    encoder: TextEncoder,
    *,
    seed: int = 0,
    conditions: Sequence[str] | None = None,
    filler: ArgumentFiller | None = None,
) -> dict[str, Any]:
    """The ``conditions`` (default: all) on ``fed.eval_requests``; see the module docstring.

    ``filler`` fills every condition's arguments (default: the rules,
    :class:`~fical_secure.tlu.fill.RuleFiller`).

    Raises:
        ValueError: no evaluation requests, or an unknown condition.
        RetrievalError: the embedder or faiss failed.
    """
    wanted = tuple(conditions or CONDITIONS)
    if set(wanted) - set(CONDITIONS) or not {"docs_only", "local", "global"} <= set(wanted):
        raise ValueError(f"conditions must include docs_only, local and global, from {CONDITIONS}")
    requests = fed.eval_requests
    if not requests:
        raise ValueError("the federation has no evaluation requests to measure")
    cached = CachedEncoder(encoder)
    texts = [r.request for r in requests]
    members = [e for h in fed.hospitals for e in h.members]

    def solver(
        compendium: Compendium | None,
        knowledge: Knowledge | None = None,
        examples: Sequence[tuple[str, str]] = (),
    ) -> Solver:
        index = ToolIndex(cached, compendium, fed.catalogue, examples=examples)
        known = knowledge or Knowledge.from_compendium(compendium)
        return Solver(index, fed.catalogue, known, filler=filler or RuleFiller())

    def score(steps: list[Step], subset: Sequence[EvalRequest]) -> list[Outcome]:
        return [outcome(s, g) for s, g in zip(steps, subset, strict=True)]

    results: dict[str, list[Outcome]] = {}
    results["docs_only"] = score(solver(None).act(texts), requests)
    results["global"] = score(solver(global_compendium).act(texts), requests)
    by_hospital: dict[str, Solver] = {h: solver(c) for h, c in local.items()}
    docs = solver(None)
    local_steps: dict[int, Step] = {}
    for hospital in dict.fromkeys(r.hospital_id for r in requests):
        idx = [i for i, r in enumerate(requests) if r.hospital_id == hospital]
        steps = (by_hospital.get(hospital) or docs).act([texts[i] for i in idx])
        local_steps.update(zip(idx, steps, strict=True))
    results["local"] = [outcome(local_steps[i], r) for i, r in enumerate(requests)]
    if "sample_sharing" in wanted:
        shared = demonstration_knowledge(members, fed)
        examples = [(e.call.tool, e.request) for e in members]
        results["sample_sharing"] = score(solver(None, shared, examples).act(texts), requests)
    if "oracle" in wanted:
        oracle = demonstration_knowledge(members + [_as_episode(r) for r in requests], fed)
        gold_tools = [r.gold.tool for r in requests]
        results["oracle"] = score(solver(None, oracle).act(texts, tools=gold_tools), requests)
    return _report(requests, results, seed, tuple(c for c in CONDITIONS if c in wanted))


def _summary(outcomes: Sequence[Outcome], seed: int) -> dict[str, Any]:
    right = [o for o in outcomes if o.tool_ok]
    return {
        "tool_accuracy": mean_ci([o.tool_ok for o in outcomes], seed=seed),
        "argument_accuracy": mean_ci([o.args_ok for o in right], seed=seed),
        "end_to_end_success": mean_ci([o.e2e for o in outcomes], seed=seed),
    }


def _rows(results: Mapping[str, list[Outcome]], idx: Sequence[int], seed: int) -> dict[str, Any]:
    rows: dict[str, Any] = {"n_requests": len(idx)}
    for cond in results:
        rows[cond] = _summary([results[cond][i] for i in idx], seed)
    return rows


def _report(
    requests: Sequence[EvalRequest],
    results: Mapping[str, list[Outcome]],
    seed: int,
    conditions: tuple[str, ...],
) -> dict[str, Any]:
    hospitals = sorted({r.hospital_id for r in requests if r.hospital_id})
    needs = sorted({r.needs for r in requests if r.needs})
    results = {c: results[c] for c in conditions}
    e2e = {c: [o.e2e for o in results[c]] for c in conditions}
    report: dict[str, Any] = {
        "conditions": list(conditions),
        "overall": _rows(results, range(len(requests)), seed),
        "by_needs": {n: _rows(results, _where(requests, needs=n), seed) for n in needs},
        "per_hospital": {h: _rows(results, _where(requests, hospital=h), seed) for h in hospitals},
        "global_minus_docs_only": paired_diff_ci(e2e["global"], e2e["docs_only"], seed=seed),
        "federated_gain": {},
    }
    for h in hospitals:
        idx = _where(requests, hospital=h)
        gain: dict[str, Any] = {
            "end_to_end": paired_diff_ci(
                [e2e["global"][i] for i in idx], [e2e["local"][i] for i in idx], seed=seed
            )
        }
        for n in needs:
            sub = [i for i in idx if requests[i].needs == n]
            gain[n] = paired_diff_ci(
                [e2e["global"][i] for i in sub], [e2e["local"][i] for i in sub], seed=seed
            )
        report["federated_gain"][h] = gain
    return report


def _where(
    requests: Sequence[EvalRequest], *, needs: str | None = None, hospital: str | None = None
) -> list[int]:
    return [
        i
        for i, r in enumerate(requests)
        if (needs is None or r.needs == needs) and (hospital is None or r.hospital_id == hospital)
    ]
