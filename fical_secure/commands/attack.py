"""``fical-secure attack``: what each way of federating leaks, on one federation, one attacker."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fical_secure.attacks.runner import AttackSettings, run_attacks


def register(sub: Any) -> None:
    """Add ``attack`` to the command line."""
    p = sub.add_parser(
        "attack", help="run the attack suite over every sharing mode (leakage.json, plots)"
    )
    p.add_argument(
        "--suite",
        default="default",
        choices=("default", "quick"),
        help="default: every attack; quick: no LLM attacks",
    )
    p.add_argument("--out", type=Path, default=Path("runs/attack"), metavar="DIR")
    p.add_argument(
        "--clients", type=int, default=3, help="at least 3 for the secure-aggregation mode"
    )
    p.add_argument(
        "--episodes",
        type=int,
        default=AttackSettings.episodes,
        help="members (and non-members) a client (default 110: the membership game leaves "
        "canary hosts out, so 300 members and 330 non-members pooled over 3 clients, enough "
        "for a 1%% FPR and an AUC CI half-width near 0.05)",
    )
    p.add_argument(
        "--canaries",
        type=int,
        default=AttackSettings.canaries,
        metavar="N",
        help="canaries planted in each client's members, every one measured (default 10: 30 "
        "a mode over 3 clients; the figure is their mean exposure, with a CI)",
    )
    p.add_argument(
        "--canary-candidates",
        type=int,
        default=AttackSettings.canary_candidates,
        metavar="N",
        help="random secrets each canary is ranked among (default 63: rank cap 6 bits)",
    )
    p.add_argument(
        "--synthetic-examples",
        type=int,
        default=5,
        metavar="N",
        help="examples each client's model writes in synthetic_sharing (at most one a member)",
    )
    p.add_argument(
        "--llm-records",
        type=int,
        default=100,
        metavar="N",
        help="records a side the LLM scores per client's membership audit (default 100, at most "
        "--episodes; the LLM's scoring is most of the run's cost, and more records narrow the "
        "AUC's confidence interval)",
    )
    p.add_argument(
        "--llm-rows",
        choices=("release", "all"),
        default="release",
        help="rows the LLM attacks run on: release (default: the released compendium rows the "
        "targets bound; the other rows get the model-free attacks, and sample sharing's leak "
        "is total without a model) or all (every row, about three times the run's cost)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--profile",
        default="strict",
        metavar="NAME|FILE",
        help="release profile of the hardened mode (default strict)",
    )
    p.add_argument(
        "--dp-profile",
        default=None,
        metavar="NAME|FILE",
        help="release profile of the DP row (default: --profile with its release.dp section "
        "added at the values strict.yaml documents, or removed for the k-only row when it "
        "has one)",
    )
    p.add_argument("--model", default=None, help="local model folder or .gguf")
    p.add_argument(
        "--no-parameter-fl",
        dest="parameter_fl",
        action="store_false",
        help="skip the parameter_fl mode (LoRA FedAvg trained on the members, a few minutes "
        "on CPU; never run by the quick suite)",
    )
    p.add_argument(
        "--parameter-fl-rounds",
        type=int,
        default=2,
        metavar="R",
        help="FedAvg rounds of the parameter_fl mode (training is about half its cost)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    record = run_attacks(
        AttackSettings(
            out=args.out,
            suite=args.suite,
            clients=args.clients,
            episodes=args.episodes,
            canaries=args.canaries,
            canary_candidates=args.canary_candidates,
            synthetic_examples=args.synthetic_examples,
            llm_records=args.llm_records,
            llm_rows=args.llm_rows,
            seed=args.seed,
            profile=args.profile,
            dp_profile=args.dp_profile,
            model=args.model,
            progress=not args.quiet,
            parameter_fl=args.parameter_fl,
            parameter_fl_rounds=args.parameter_fl_rounds,
        )
    )
    met = sum(t.met for t in record.targets.values())
    print((args.out / "summary.md").read_text(encoding="utf-8"))
    print(
        f"attack: {len(record.rows)} modes, {met}/{len(record.targets)} targets met in "
        f"{record.seconds} s -> {args.out / 'leakage.json'}"
    )
    return 0
