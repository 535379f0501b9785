"""Calibration of the release gate's membership test: false-block rate and power, per size.

For each seed a fresh synthetic hospital is generated and three disjoint sets
of its records are drawn: ``n`` members and ``n`` non-members (the audit's
game) and a pool the artefact is built from. Two kinds of artefact are scored
with the auditor's own signal functions and attacks
(:func:`~fical_secure.audit.signals.longest_common_runs`, optionally
:func:`~fical_secure.audit.signals.embedding_similarity`;
:func:`~fical_secure.audit.attacks.run_attacks`) and decided by the real release
policy (``strict`` profile, :func:`fical_secure.release.decision.membership_decision`):

* null: ``ITEMS`` records of the pool, shared as they are (built without the
  members: same hospital, same templates, no member record);
* null_no_canaries: the same, from a federation generated with no planted
  canaries. The generator plants canaries in members only; as in the
  auditor's game (:attr:`AuditTarget.game_member_rows`), canary hosts do not
  play, so both sides are drawn from one distribution. (Measured on
  2026-12-01 before that rule, with canary hosts in the game: null block rate
  6.5% at n = 16, 3.5% without canaries.)
* leaking: the same artefact with a fraction of the members copied in
  verbatim (replacing as many pool records), for each fraction in ``FRACTIONS``.

A block is any membership finding (AUC or TPR at the lowest resolved FPR,
significant at the policy's Bonferroni-corrected level and over its limit).
PII search and attribution, which do not enter that decision, are skipped:
the sweep is hundreds of audits on 2 CPU cores. Targets: null artefacts
blocked in <= 5% of seeds (pooled over sizes, and at each size); artefacts
that copy members in blocked in >= 95%. "Records needed per side" is the
smallest size at which the leaking artefacts are blocked in >= 95% of seeds
*and* the null ones in <= 5%. Block rates carry Wilson 95% intervals. Every
seed's generator output differs, so seeds are independent.

Usage: ``python benchmarks/gate_calibration.py [--seeds 100] [--sizes 8 16 32 64]
[--signals lexical embedding] [--no-write]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from fical_secure.audit import attacks as atk
from fical_secure.audit.artefact import from_samples
from fical_secure.audit.auditor import AuditConfig, AuditResult, AuditTarget
from fical_secure.audit.metrics import wilson_interval
from fical_secure.audit.signals import Embedder, embedding_similarity, longest_common_runs
from fical_secure.config.profile import load_profile, resolve_profile
from fical_secure.data.generator import generate_federation
from fical_secure.data.schema import HospitalData
from fical_secure.release.decision import membership_decision
from fical_secure.release.policy import ReleasePolicy

RESULT = Path(__file__).with_name("results") / "gate_calibration.json"
ITEMS = 40  # items of every artefact
FRACTIONS = (1.0, 0.5, 0.25)  # share of the members copied into a leaking artefact
NULL_MAX, LEAK_MIN = 0.05, 0.95
CANARY_HOSTS = 2  # the generator's default canaries per hospital


def _decide(
    signals: dict[str, np.ndarray], n: int, columns: list[int], policy: ReleasePolicy, seed: int
) -> tuple[bool, float]:
    """Block decision and worst AUC for an artefact made of ``columns`` of the item pool."""
    members: dict[str, atk.FloatArray] = {}
    nonmembers: dict[str, atk.FloatArray] = {}
    for name, matrix in signals.items():
        best = matrix[:, columns].max(axis=1).astype(np.float64)
        half = matrix.shape[0] // 2
        members[name], nonmembers[name] = best[:n], best[half : half + n]
    attacks = atk.run_attacks(members, nonmembers, n_resamples=1, seed=seed)
    result = AuditResult("h01", "samples", (), attacks, (), (), 0, (), 0.0, AuditConfig(seed=seed))
    decision = membership_decision([result], policy)
    worst = decision.worst("auc")
    return bool(decision.findings), (worst.test.auc if worst else 0.5)


def _signals(
    hospital: HospitalData, biggest: int, embedder: Embedder | None, *, with_copies: bool
) -> dict[str, np.ndarray]:
    """Signal matrices: the game's records against the pool (then each member, as a copy)."""
    # the auditor's game: members that host a planted canary do not play (AuditTarget)
    game = AuditTarget.from_hospital(hospital)
    members = [hospital.members[i] for i in game.game_member_rows][:biggest]
    nonmembers = hospital.nonmembers[:biggest]
    if len(members) < biggest:
        raise RuntimeError("too few members outside the canary hosts for the largest size")
    pool = hospital.nonmembers[biggest : biggest + ITEMS]
    records = [e.text() for e in (*members, *nonmembers)]
    items = from_samples("h01", [*pool, *members] if with_copies else list(pool))
    signals: dict[str, np.ndarray] = {
        atk.SIG_MAX_RUN: longest_common_runs(records, items).astype(np.float64)
    }
    if embedder is not None:
        signals[atk.SIG_MAX_COSINE] = embedding_similarity(records, items, embedder).sims
    return signals


def run_seed(
    seed: int, sizes: list[int], embedder: Embedder | None, policy: ReleasePolicy
) -> dict[int, dict[str, Any]]:
    """Block decisions and worst AUC of every artefact of one seed, per size.

    Signals are computed once, between the largest game's records and every
    candidate item (the pool, then each member as a verbatim copy); each
    artefact is a choice of columns.
    """
    biggest = max(sizes)
    fed = generate_federation(  # + CANARY_HOSTS: canary hosts leave the game
        1,
        seed=seed,
        episodes_per_hospital=biggest + CANARY_HOSTS,
        nonmembers_per_hospital=biggest + ITEMS,
    )
    signals = _signals(fed.hospitals[0], biggest, embedder, with_copies=True)
    clean = generate_federation(
        1,
        seed=seed,
        episodes_per_hospital=biggest,
        nonmembers_per_hospital=biggest + ITEMS,
        canaries_per_hospital=0,
    )
    clean_signals = _signals(clean.hospitals[0], biggest, embedder, with_copies=False)
    out: dict[int, dict[str, Any]] = {}
    for n in sizes:
        pool = list(range(ITEMS))
        row: dict[str, Any] = {
            "null": _decide(signals, n, pool, policy, seed),
            "null_no_canaries": _decide(clean_signals, n, pool, policy, seed),
        }
        for fraction in FRACTIONS:
            copies = max(1, round(fraction * n))
            columns = [ITEMS + i for i in range(copies)] + list(range(ITEMS - copies))
            row[f"copy_{fraction:g}"] = _decide(signals, n, columns, policy, seed)
        out[n] = row
    return out


def summarise(rows: list[dict[int, dict[str, Any]]], sizes: list[int]) -> dict[str, Any]:
    """Block rates and mean worst AUC per condition and size; records needed per fraction."""
    figures: dict[str, Any] = {}
    conditions = ["null", "null_no_canaries"] + [f"copy_{f:g}" for f in FRACTIONS]
    for condition in conditions:
        per_size: dict[str, Any] = {}
        for n in sizes:
            decisions = [r[n][condition] for r in rows]
            blocked = sum(b for b, _ in decisions)
            per_size[str(n)] = {
                "block_rate": round(blocked / len(decisions), 4),
                "block_rate_ci95": wilson_interval(blocked, len(decisions)),
                "mean_worst_auc": round(sum(a for _, a in decisions) / len(decisions), 4),
            }
        pooled = sum(r[n][condition][0] for r in rows for n in sizes)
        per_size["all_sizes"] = {
            "block_rate": round(pooled / (len(rows) * len(sizes)), 4),
            "block_rate_ci95": wilson_interval(pooled, len(rows) * len(sizes)),
        }
        figures[condition] = per_size
    needed: dict[str, int | None] = {}
    for fraction in FRACTIONS:
        key = f"copy_{fraction:g}"
        ok = [
            n
            for n in sizes
            if figures[key][str(n)]["block_rate"] >= LEAK_MIN
            and figures["null"][str(n)]["block_rate"] <= NULL_MAX
        ]
        needed[key] = min(ok) if ok else None
    figures["records_needed_per_side"] = needed
    figures["null_block_rate_max_over_sizes"] = max(
        figures["null"][str(n)]["block_rate"] for n in sizes
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32, 64])
    parser.add_argument("--profile", default="strict")
    parser.add_argument(
        "--signals", nargs="+", choices=("lexical", "embedding"), default=["lexical"]
    )
    parser.add_argument("--result", type=Path, default=RESULT, help="where to write the record")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    sizes = sorted(set(args.sizes))
    profile = load_profile(resolve_profile(args.profile))
    policy = profile.release
    embedder = None
    if "embedding" in args.signals:
        from fical_secure.audit.signals import CachingEmbedder
        from fical_secure.tlu.embedding import default_embedder

        embedder = CachingEmbedder(default_embedder())
    from tqdm.auto import tqdm

    start = time.perf_counter()
    rows = [
        run_seed(seed, sizes, embedder, policy)
        for seed in tqdm(range(args.seeds), desc="gate calibration", unit="seed")
    ]
    figures = summarise(rows, sizes)
    seconds = round(time.perf_counter() - start, 1)
    largest = str(max(sizes))
    pooled = figures["null"]["all_sizes"]["block_rate"]
    targets = {
        "null block_rate (all sizes pooled)": {
            "target": f"<= {NULL_MAX}",
            "measured": pooled,
            "met": pooled <= NULL_MAX,
        },
        "null block_rate (each size; max over sizes)": {
            "target": f"<= {NULL_MAX}",
            "measured": figures["null_block_rate_max_over_sizes"],
            "met": figures["null_block_rate_max_over_sizes"] <= NULL_MAX,
        },
    }
    for fraction in FRACTIONS:
        key = f"copy_{fraction:g}"
        measured = figures[key][largest]["block_rate"]
        targets[f"{key} block_rate at n={largest}"] = {
            "target": f">= {LEAK_MIN}",
            "measured": measured,
            "met": measured >= LEAK_MIN,
        }
    record = {
        "benchmark": "gate_calibration",
        "command": "python benchmarks/gate_calibration.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "date": date.today().isoformat(),
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, "
        f"no GPU, Python {platform.python_version()}",
        "baseline": "null artefacts (records of the same hospital, none of the members) in the "
        "same run; block rates are over seeds",
        "setup": {
            "seeds": args.seeds,
            "sizes_per_side": sizes,
            "artefact_items": ITEMS,
            "copy_fractions": list(FRACTIONS),
            "attacks": [
                a.name
                for a in atk.ATTACKS
                if set(a.requires)
                <= ({atk.SIG_MAX_RUN} | ({atk.SIG_MAX_COSINE} if embedder else set()))
            ],
            "profile": {"name": profile.name, "sha256": profile.sha256},
            "policy": policy.to_dict(),
            "seconds": seconds,
        },
        "figures": figures,
        "targets": targets,
    }
    text = json.dumps(record, indent=2) + "\n"
    if not args.no_write:
        from fical_secure.atomic import write_text_atomic

        write_text_atomic(args.result, text, make_parents=True)
    print(text)
    met = sum(t["met"] for t in targets.values())
    print(f"gate_calibration: {met}/{len(targets)} targets met in {seconds} s -> {args.result}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
