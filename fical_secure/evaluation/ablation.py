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

Tool accuracy over the whole catalogue and among each request's own
candidate tools, argument accuracy (among requests whose tool is right) and
end-to-end success (right tool and every argument right), arguments scored
with BFCL's possible-answer rules (:mod:`fical_secure.evaluation.possible_answer`;
a request without a possible answer must match its gold arguments), with
bootstrap CIs, overall, per hospital and per kind of knowledge needed; paired
differences (global - docs only, global - 0.95 x sample sharing); where calls
fail (:mod:`fical_secure.evaluation.failures`); the federated gain (global
minus local, paired) per hospital.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fical_secure.aggregate.merge import TextEncoder
from fical_secure.atomic import write_bytes_atomic
from fical_secure.data.schema import Episode, EvalRequest, Federation, ToolCall, ToolSpec
from fical_secure.evaluation.bootstrap import mean_ci, paired_diff_ci
from fical_secure.evaluation.failures import breakdown, failure_kinds
from fical_secure.evaluation.possible_answer import WRONG_TOOL, Problem, check_call, exact_answer
from fical_secure.jsontypes import JsonObject
from fical_secure.kcg.claims import claim_entry
from fical_secure.kcg.knowledge import validated_claims
from fical_secure.kcg.schema import Compendium
from fical_secure.tlu.agent import Step
from fical_secure.tlu.fill import ArgumentFiller, RuleFiller, SchemaFiller
from fical_secure.tlu.index import ToolIndex
from fical_secure.tlu.knowledge import Knowledge
from fical_secure.tlu.solver import Solver

CONDITIONS: tuple[str, ...] = ("docs_only", "local", "global", "sample_sharing", "oracle")
METRICS: tuple[str, ...] = ("tool_accuracy", "argument_accuracy", "end_to_end_success")


@dataclass(frozen=True)
class Outcome:
    """How one condition did on one request.

    ``tool_ok``: the top tool over the whole (union) catalogue is the gold
    one; ``args_ok``: its arguments pass the possible answer (meaningful only
    when ``tool_ok``); ``e2e``: both. ``*_candidates``: the same with the tool
    chosen among the request's own candidates (BFCL's setting; the union
    figures where a request lists none). ``failure``: the failure kinds of
    the union call (:func:`fical_secure.evaluation.failures.failure_kinds`).
    """

    tool_ok: bool
    args_ok: bool
    e2e: bool
    tool_ok_candidates: bool = False
    e2e_candidates: bool = False
    failure: tuple[str, ...] = ()
    call: ToolCall | None = None  # the union call as the agent made it
    wrong: tuple[tuple[str, str], ...] = ()  # (parameter, problem kind) of the union call


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


def answer_of(request: EvalRequest) -> dict[str, list[Any]]:
    """The request's possible answer; exactly its gold arguments where it has none."""
    return request.answer if request.answer is not None else exact_answer(request.gold)


def outcome(
    step: Step, gold: EvalRequest, specs: Mapping[str, ToolSpec], within: Step | None = None
) -> Outcome:
    """Score ``step`` (union choice) and ``within`` (candidate choice; default the same)."""
    answer, spec = answer_of(gold), specs.get(gold.gold.tool)

    def problems(s: Step) -> tuple[Problem, ...]:
        if spec is None:
            return (Problem(WRONG_TOOL),)
        return check_call(ToolCall(s.tool, dict(s.fill.arguments)), gold.gold.tool, answer, spec)

    found = problems(step)
    tool_ok = step.tool == gold.gold.tool
    call = ToolCall(step.tool, dict(step.fill.arguments))
    alt = within or step
    alt_problems = found if within is None else problems(within)
    return Outcome(
        tool_ok,
        tool_ok and not found,
        not found,
        alt.tool == gold.gold.tool,
        not alt_problems,
        failure_kinds(found, spec, answer, gold.request),
        call,
        tuple((p.parameter, p.kind) for p in found),
    )


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


def _score(
    agent: Solver,
    subset: Sequence[EvalRequest],
    specs: Mapping[str, ToolSpec],
    gold_tools: bool = False,
) -> list[Outcome]:
    """Run ``agent`` on ``subset`` (tools it chooses, or the gold ones) and score every step.

    A request whose best candidate is not the union's top tool is completed a
    second time with that candidate, so both settings are scored.
    """
    queries = [r.request for r in subset]
    if gold_tools:
        steps = agent.act(queries, tools=[r.gold.tool for r in subset])
        return [outcome(s, g, specs) for s, g in zip(steps, subset, strict=True)]
    ranked = agent.rank(queries)
    union = [tools[0][0] for tools in ranked]
    within = [
        next((t for t, _ in tools if t in r.candidates), top) if r.candidates else top
        for tools, top, r in zip(ranked, union, subset, strict=True)
    ]
    steps = agent.act(queries, tools=union)
    differ = [i for i, (u, w) in enumerate(zip(union, within, strict=True)) if u != w]
    redo = agent.act([queries[i] for i in differ], tools=[within[i] for i in differ])
    alt: list[Step | None] = [None] * len(subset)
    for i, step in zip(differ, redo, strict=True):
        alt[i] = step
    return [outcome(*job) for job in zip(steps, subset, [specs] * len(subset), alt, strict=True)]


def run_ablation(
    fed: Federation,
    local: Mapping[str, Compendium],
    global_compendium: Compendium,
    encoder: TextEncoder,
    *,
    seed: int = 0,
    conditions: Sequence[str] | None = None,
    filler: ArgumentFiller | None = None,
    samples: Path | None = None,
) -> JsonObject:
    """The ``conditions`` (default: all) on ``fed.eval_requests``; see the module docstring.

    ``samples``: also write one JSON line per held-out request there (its text,
    possible answer, and per condition the call made and its failure kinds), to
    show where calls fail; off by default (held-out requests are the server's
    evaluation set, written only where a benchmark asks).

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
    members = [e for h in fed.hospitals for e in h.members]

    def solver(
        compendium: Compendium | None,
        knowledge: Knowledge | None = None,
        examples: Sequence[tuple[str, str]] = (),
    ) -> Solver:
        index = ToolIndex(cached, compendium, fed.catalogue, examples=examples)
        known = knowledge or Knowledge.from_compendium(compendium)
        return Solver(index, fed.catalogue, known, filler=filler or RuleFiller())

    specs = {spec.name: spec for spec in fed.catalogue}

    def run(
        agent: Solver, subset: Sequence[EvalRequest], gold_tools: bool = False
    ) -> list[Outcome]:
        return _score(agent, subset, specs, gold_tools)

    def measure() -> dict[str, list[Outcome]]:
        results: dict[str, list[Outcome]] = {}
        results["docs_only"] = run(solver(None), requests)
        results["global"] = run(solver(global_compendium), requests)
        by_hospital: dict[str, Solver] = {h: solver(c) for h, c in local.items()}
        docs = solver(None)
        local_results: list[Outcome | None] = [None] * len(requests)
        for hospital in sorted({r.hospital_id for r in requests}):
            idx = _where(requests, hospital=hospital)
            scored = run(by_hospital.get(hospital) or docs, [requests[i] for i in idx])
            for i, result in zip(idx, scored, strict=True):
                local_results[i] = result
        results["local"] = [r for r in local_results if r is not None]
        if "sample_sharing" in wanted:
            shared = demonstration_knowledge(members, fed)
            examples = [(e.call.tool, e.request) for e in members]
            results["sample_sharing"] = run(solver(None, shared, examples), requests)
        if "oracle" in wanted:
            oracle = demonstration_knowledge(members + [_as_episode(r) for r in requests], fed)
            results["oracle"] = run(solver(None, oracle), requests, gold_tools=True)
        return results

    if isinstance(filler, SchemaFiller) and filler.memoise:
        with filler.batched():  # every condition's model jobs, decoded in one batched call
            measure()
    results = measure()
    if samples is not None:
        write_samples(samples, requests, results)
    return _report(requests, results, seed, tuple(c for c in CONDITIONS if c in wanted))


def failure_samples(
    requests: Sequence[EvalRequest], results: Mapping[str, Sequence[Outcome]]
) -> list[JsonObject]:
    """Per request: its text, gold call, possible answer and each condition's call and failures."""
    rows: list[JsonObject] = []
    for i, request in enumerate(requests):
        per: JsonObject = {}
        for cond, outcomes in results.items():
            o = outcomes[i]
            per[cond] = {
                "tool": o.call.tool if o.call else None,
                "arguments": dict(o.call.arguments) if o.call else None,
                "e2e": o.e2e,
                "failure_kinds": list(o.failure),
                "problems": [{"parameter": p, "kind": k} for p, k in o.wrong],
            }
        rows.append(
            {
                "request_id": request.request_id,
                "hospital_id": request.hospital_id,
                "needs": request.needs,
                "request": request.request,
                "gold": {"tool": request.gold.tool, "arguments": dict(request.gold.arguments)},
                "answer": answer_of(request),
                "conditions": per,
            }
        )
    return rows


def write_samples(
    path: Path, requests: Sequence[EvalRequest], results: Mapping[str, Sequence[Outcome]]
) -> None:
    """:func:`failure_samples` as JSON lines at ``path`` (written atomically)."""
    lines = [json.dumps(row, sort_keys=True) + "\n" for row in failure_samples(requests, results)]
    write_bytes_atomic(path, "".join(lines).encode("utf-8"), make_parents=True)


def _summary(outcomes: Sequence[Outcome], seed: int) -> JsonObject:
    right = [o for o in outcomes if o.tool_ok]
    return {
        "tool_accuracy": mean_ci([o.tool_ok for o in outcomes], seed=seed),
        "tool_accuracy_candidates": mean_ci([o.tool_ok_candidates for o in outcomes], seed=seed),
        "argument_accuracy": mean_ci([o.args_ok for o in right], seed=seed),
        "end_to_end_success": mean_ci([o.e2e for o in outcomes], seed=seed),
        "end_to_end_candidates": mean_ci([o.e2e_candidates for o in outcomes], seed=seed),
    }


def _rows(results: Mapping[str, list[Outcome]], idx: Sequence[int], seed: int) -> JsonObject:
    rows: JsonObject = {"n_requests": len(idx)}
    for cond in results:
        rows[cond] = _summary([results[cond][i] for i in idx], seed)
    return rows


def _report(
    requests: Sequence[EvalRequest],
    results: Mapping[str, list[Outcome]],
    seed: int,
    conditions: tuple[str, ...],
) -> JsonObject:
    hospitals = sorted({r.hospital_id for r in requests if r.hospital_id})
    needs = sorted({r.needs for r in requests if r.needs})
    results = {c: results[c] for c in conditions}
    e2e = {c: [o.e2e for o in results[c]] for c in conditions}
    report: JsonObject = {
        "conditions": list(conditions),
        "overall": _rows(results, range(len(requests)), seed),
        "by_needs": {n: _rows(results, _where(requests, needs=n), seed) for n in needs},
        "per_hospital": {h: _rows(results, _where(requests, hospital=h), seed) for h in hospitals},
        "global_minus_docs_only": paired_diff_ci(e2e["global"], e2e["docs_only"], seed=seed),
        "differences": _differences(results, seed),
        "failures": {c: breakdown([o.failure for o in results[c]]) for c in conditions},
    }
    federated_gain: JsonObject = {}
    for h in hospitals:
        idx = _where(requests, hospital=h)
        gain: JsonObject = {
            "end_to_end": paired_diff_ci(
                [e2e["global"][i] for i in idx], [e2e["local"][i] for i in idx], seed=seed
            )
        }
        for n in needs:
            sub = [i for i in idx if requests[i].needs == n]
            gain[n] = paired_diff_ci(
                [e2e["global"][i] for i in sub], [e2e["local"][i] for i in sub], seed=seed
            )
        federated_gain[h] = gain
    report["federated_gain"] = federated_gain
    return report


SHARING_SHARE = 0.95  # the share of sample sharing's utility FICAL should keep
DIFFERENCE_METRICS = ("tool_ok", "tool_ok_candidates", "e2e", "e2e_candidates")


def _differences(results: Mapping[str, list[Outcome]], seed: int) -> JsonObject:
    """Paired bootstrap CIs: global - docs_only, and global - 0.95 x sample_sharing.

    The second interval lying above 0 means global reaches 95 % of sample
    sharing's accuracy (the difference of means is the mean of per-request
    differences, so the paired bootstrap covers the ratio's threshold).
    """
    out: JsonObject = {}
    for metric in DIFFERENCE_METRICS:
        glob = [float(getattr(o, metric)) for o in results["global"]]
        docs = [float(getattr(o, metric)) for o in results["docs_only"]]
        row = {"global_minus_docs_only": paired_diff_ci(glob, docs, seed=seed)}
        if "sample_sharing" in results:
            shared = [SHARING_SHARE * float(getattr(o, metric)) for o in results["sample_sharing"]]
            row["global_minus_0.95_sample_sharing"] = paired_diff_ci(glob, shared, seed=seed)
        out[metric] = row
    return out


def _where(
    requests: Sequence[EvalRequest], *, needs: str | None = None, hospital: str | None = None
) -> list[int]:
    return [
        i
        for i, r in enumerate(requests)
        if (needs is None or r.needs == needs) and (hospital is None or r.hospital_id == hospital)
    ]
