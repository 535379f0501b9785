"""``fical-secure demo``: one full federated round in one process, embedded defaults."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from fical_secure.errors import ConfigError
from fical_secure.pipeline.demo import run_demo, summary
from fical_secure.pipeline.state import RoundSettings


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo", help="run one full federated round on the synthetic federation or your own folder"
    )
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help="a federation folder (meta.json, catalogue, <client>.members.jsonl, eval.jsonl; "
        "see docs/data-format.md); default: the synthetic clinical federation",
    )
    p.add_argument("--clients", type=int, default=5, help="number of hospitals (default 5)")
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder")
    p.add_argument(
        "--model",
        default=None,
        help="local model folder or .gguf (default: packaged SmolLM2)",
    )
    p.add_argument(
        "--no-model",
        action="store_true",
        help="fast path without the local LLM: canonical KCG sentences, model-free audit, "
        "no model check in TLU",
    )
    p.add_argument(
        "--paraphrase",
        action="store_true",
        help="let the model paraphrase KCG's claim sentences (validated; worth it "
        "with a model stronger than the default)",
    )
    p.add_argument(
        "--min-support", type=int, default=2, help="distinct episodes an entry needs (k, default 2)"
    )
    p.add_argument(
        "--sample-sharing",
        action="store_true",
        help="also measure the sample-sharing reference (slower)",
    )
    p.add_argument(
        "--model-check",
        action="store_true",
        help="also measure whether the model's score adds tool accuracy (dev requests)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--episodes", type=int, default=40, help="member episodes per client")
    p.add_argument("--no-scrub", action="store_true", help="skip the PII scrubber (unsafe)")
    p.add_argument("--no-audit", action="store_true", help="skip the MI audit gate (unsafe)")
    p.add_argument("--no-seal", action="store_true", help="send compendiums in the clear (unsafe)")
    p.add_argument(
        "--mode",
        choices=("sealed", "secagg"),
        default="sealed",
        help="sealed: the server decrypts each compendium; secagg: SecAgg+ masking, the server"
        " learns only the multiset of entries (needs at least 3 clients)",
    )
    p.add_argument(
        "--profile",
        default="strict",
        metavar="NAME|FILE",
        help="release profile the audit gate applies (default strict; as `audit --profile`)",
    )
    p.add_argument(
        "--filler",
        choices=("auto", "rule", "llm"),
        default="auto",
        help="argument filler of the TLU ablation: rules only, or the model decoding under each "
        "tool's JSON Schema (llm loads the model even with --no-model); auto: llm unless "
        "--no-model",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.clients < 1:
        raise ConfigError("--clients must be at least 1")
    if args.mode == "secagg" and (args.clients < 3 or args.no_seal):
        raise ConfigError("--mode secagg needs at least 3 clients and cannot go with --no-seal")
    if args.episodes < 4:
        raise ConfigError("--episodes must be at least 4")
    if args.min_support < 1:
        raise ConfigError("--min-support must be at least 1")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    if not args.quiet:  # our stage timings; third-party INFO chatter stays off
        logging.getLogger("fical_secure").setLevel(logging.INFO)
    settings = RoundSettings(
        out=args.out,
        data=args.data,
        clients=args.clients,
        seed=args.seed,
        episodes_per_client=args.episodes,
        nonmembers_per_client=args.episodes,
        model=args.model,
        use_model=not args.no_model,
        kcg_min_support=args.min_support,
        kcg_paraphrase=args.paraphrase,
        ablation_sample_sharing=args.sample_sharing,
        model_check=args.model_check,
        filler=args.filler,
        scrub=not args.no_scrub,
        audit=not args.no_audit,
        seal=not args.no_seal,
        mode=args.mode,
        progress=not args.quiet,
        profile=args.profile,
    )
    report = run_demo(settings)
    print(summary(report))
    return 0
