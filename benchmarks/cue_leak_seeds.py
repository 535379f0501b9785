"""Membership leak of k-support KCG over several synthetic federations: cue precision
held to its point estimate (the old rule, the baseline) or to its Wilson 95% lower bound.

For each federation seed (3 hospitals x 100 members / 100 non-members, the
``fical-secure attack`` federation), every hospital's compendium is built as
the round's KCG stage builds it (no paraphrase, the hospital's known
identifiers), and the pooled record-membership game is played against it, as
``attack``'s membership plugin does (each record against its own hospital's
release, one threshold for all, canary hosts left out), by three attacks:

* ``lexical_longest_run`` and ``embedding_max_cosine``: the audit's own signals;
* ``released_phrase_hits``: how many of the release's quoted phrases (aliases,
  cue phrases) the record's request contains, the attack that sees a phrase
  selected *because* members used it.

Beside them, the TLU solver's tool accuracy on the federation's evaluation
requests with the docs plus the releases (the ``tool_accuracy`` figure), so the
cost in utility is measured in the same run.

    .venv/bin/python benchmarks/cue_leak_seeds.py [--seeds 0 1 2 3 4]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fical_secure.atomic import write_json_atomic
from fical_secure.audit.artefact import SharedArtefact
from fical_secure.audit.auditor import AuditTarget
from fical_secure.audit.metrics import roc_auc, tpr_at_fpr
from fical_secure.audit.signals import CachingEmbedder, embedding_similarity, longest_common_runs
from fical_secure.data.generator import generate_federation
from fical_secure.data.schema import Federation
from fical_secure.kcg.cues import phrase_in, words
from fical_secure.kcg.knowledge import KnowledgeConfig, build_knowledge
from fical_secure.pipeline.client_state import ClientRoundState, ClientSettings
from fical_secure.stats import Z95
from fical_secure.tlu.embedding import default_embedder
from fical_secure.tlu.index import ToolIndex
from fical_secure.tlu.solver import Solver

RESULTS = Path(__file__).resolve().parent / "results" / "cue_leak_seeds.json"
RULES = {"point_estimate": 0.0, "wilson_lower_bound": Z95}
ATTACKS = ("lexical_longest_run", "embedding_max_cosine", "released_phrase_hits")
_QUOTED = re.compile(r'"([^"=\n]+)"')


def _accuracy(fed: Federation, embedder: CachingEmbedder, examples: list[tuple[str, str]]) -> float:
    index = ToolIndex(embedder, None, fed.catalogue, examples=examples)
    ranked = Solver(index, fed.catalogue).rank([r.request for r in fed.eval_requests])
    gold = [r.gold.tool for r in fed.eval_requests]
    return float(np.mean([r[0][0] == g for r, g in zip(ranked, gold, strict=True)]))


def one_rule(fed: Federation, embedder: CachingEmbedder, z: float) -> dict[str, Any]:
    """The pooled game and the tool accuracy of every hospital's release under one rule."""
    pos: dict[str, list[float]] = {a: [] for a in ATTACKS}
    neg: dict[str, list[float]] = {a: [] for a in ATTACKS}
    examples: list[tuple[str, str]] = []
    for h in fed.hospitals:
        state = ClientRoundState(h, ClientSettings(), manifest=tuple(fed.manifest))
        config = KnowledgeConfig(paraphrase=False, cue_precision_z=z)
        comp = build_knowledge(
            h.members,
            fed.catalogue,
            None,
            client_id=h.hospital_id,
            config=config,
            progress=False,
            known=state.known_identifiers(),
        )
        texts = tuple(dict.fromkeys(e.render() for e in comp.entries))
        examples += [(e.tool, e.render()) for e in comp.entries]
        art = SharedArtefact("compendium", h.hospital_id, tuple(map(str, range(len(texts)))), texts)
        game = AuditTarget.from_hospital(h, fed.manifest)
        members = [game.members[i] for i in game.game_member_rows]
        episodes = [*members, *game.nonmembers]
        records = [e.text() for e in episodes]
        phrases = {" ".join(words(q)) for t in texts for q in _QUOTED.findall(t)} - {""}
        scores = {
            "lexical_longest_run": longest_common_runs(records, art).max(axis=1),
            "embedding_max_cosine": embedding_similarity(records, art, embedder).max_cosine(),
            "released_phrase_hits": np.array(
                [sum(phrase_in(words(e.request), p) for p in phrases) for e in episodes]
            ),
        }
        for name, values in scores.items():
            pos[name] += [float(v) for v in values[: len(members)]]
            neg[name] += [float(v) for v in values[len(members) :]]
    return {
        "items": len(examples),
        "tool_accuracy": round(_accuracy(fed, embedder, examples), 4),
        "attacks": {
            a: {
                "auc": round(roc_auc(pos[a], neg[a]), 4),
                "tpr_at_1pct_fpr": round(tpr_at_fpr(pos[a], neg[a], 0.01).value, 4),
                "n_members": len(pos[a]),
                "n_nonmembers": len(neg[a]),
            }
            for a in ATTACKS
        },
    }


def _mean(rows: list[dict[str, Any]], *keys: str) -> float:
    values = []
    for row in rows:
        cell: Any = row
        for key in keys:
            cell = cell[key]
        values.append(float(cell))
    return round(float(np.mean(values)), 4)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    started, load = time.perf_counter(), os.getloadavg()[0]
    embedder = CachingEmbedder(default_embedder())
    per_seed: dict[str, dict[str, Any]] = {}
    for seed in args.seeds:
        fed = generate_federation(
            3, seed=seed, episodes_per_hospital=100, nonmembers_per_hospital=100, eval_per_tool=3
        )
        row = {rule: one_rule(fed, embedder, z) for rule, z in RULES.items()}
        row["docs_only_tool_accuracy"] = round(_accuracy(fed, embedder, []), 4)
        per_seed[str(seed)] = row
        print(seed, json.dumps(row), flush=True)
    rows = list(per_seed.values())
    means = {
        rule: {
            "tool_accuracy": _mean(rows, rule, "tool_accuracy"),
            "items": _mean(rows, rule, "items"),
            **{
                f"{a} {fig}": _mean(rows, rule, "attacks", a, fig)
                for a in ATTACKS
                for fig in ("auc", "tpr_at_1pct_fpr")
            },
        }
        for rule in RULES
    }
    record = {
        "benchmark": "cue_leak_seeds",
        "command": shlex.join([".venv/bin/python", "benchmarks/cue_leak_seeds.py", *sys.argv[1:]]),
        "date": dt.datetime.now(dt.UTC).date().isoformat(),
        "machine": f"{os.cpu_count()} CPU cores shared with other agents' jobs; "
        f"1-min load average {load:.1f} at start",
        "baseline": "point_estimate: the cue rule before this change (precision's point "
        "estimate), in the same run on the same federations",
        "figures": {"mean_over_seeds": means, "per_seed": per_seed},
        "seconds": round(time.perf_counter() - started, 1),
    }
    write_json_atomic(args.results, record)


if __name__ == "__main__":
    main()
