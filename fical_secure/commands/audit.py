"""``fical-secure audit``: a pass/fail compliance report on a candidate release, with evidence.

Exit codes: 0 every check passed; 1 some check failed (each failing check is
named on stdout and stderr) or a component failed while auditing (fail
closed); 2 usage error (bad profile or configuration, missing file), one
line on stderr, before anything runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fical_secure.compliance.runner import run_audit
from fical_secure.compliance.settings import AuditSettings
from fical_secure.config.profile import builtin_profiles, resolve_profile
from fical_secure.errors import ConfigError, DataError, SchemaError

DEFAULT_PROFILE = "strict"


def register(sub: Any) -> None:
    """Add ``audit`` to the command line."""

    p = sub.add_parser(
        "audit", help="audit a candidate release against a profile (pass/fail report)"
    )
    p.add_argument(
        "--profile",
        default=DEFAULT_PROFILE,
        metavar="NAME|FILE",
        help=f"a shipped profile ({', '.join(builtin_profiles())}) or a profile YAML "
        f"(default {DEFAULT_PROFILE})",
    )
    data = p.add_mutually_exclusive_group()
    data.add_argument(
        "--synthetic", action="store_true", help="audit on the synthetic federation (the default)"
    )
    data.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="folder of <client-id>.jsonl files with member and nonmember episodes",
    )
    p.add_argument("--seed", type=int, default=0, help="synthetic federation seed (default 0)")
    p.add_argument("--clients", type=int, default=2, help="synthetic clients (default 2)")
    p.add_argument(
        "--records",
        type=int,
        default=32,
        help="members and non-members audited per client (default 32)",
    )
    p.add_argument(
        "--mi-records", type=int, default=12, help="records a side scored with the LLM (default 12)"
    )
    p.add_argument(
        "--canary-candidates",
        type=int,
        default=31,
        help="random secrets each canary is ranked against (default 31)",
    )
    p.add_argument(
        "--planted-canaries",
        type=int,
        default=1,
        help="canaries the audit plants in a copy of the client's records (each in k records "
        "of one subject) before running the round's KCG on them, to measure exposure on data "
        "without canaries (default 1; 0: off)",
    )
    p.add_argument(
        "--recall-docs",
        type=int,
        default=60,
        help="held-out documents for scrubber recall (default 60)",
    )
    p.add_argument("--model", default=None, help="local model folder or .gguf for the MI audit")
    p.add_argument("--compendium", type=Path, metavar="FILE", help="candidate compendium JSON")
    p.add_argument(
        "--client-config",
        type=Path,
        metavar="FILE",
        help="client configuration YAML (keys, transport, share mode, model)",
    )
    p.add_argument(
        "--threat-models",
        type=Path,
        metavar="DIR",
        default=None,
        help="threat model folder, its evidence cited relative to DIR/.. "
        "(default: the documents the package ships)",
    )
    p.add_argument(
        "--evidence",
        type=Path,
        metavar="DIR",
        default=None,
        help="source checkout whose tests/ and benchmarks/results/ the threat models cite "
        "(default: the checkout fical-secure runs from; an installed wheel has none)",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder for audit.json and audit.html",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the audit; print one line per check and the verdict."""

    if args.compendium is None and args.client_config is None:
        print(
            "fical-secure audit: error: give the candidate: --compendium FILE or "
            "--client-config FILE",
            file=sys.stderr,
        )
        return 2
    settings = AuditSettings(
        profile=resolve_profile(args.profile),
        out=args.out,
        compendium=args.compendium,
        client_config=args.client_config,
        data_dir=args.data,
        synthetic=args.synthetic,
        seed=args.seed,
        clients=args.clients,
        records=args.records,
        mi_records=args.mi_records,
        canary_candidates=args.canary_candidates,
        recall_docs=args.recall_docs,
        planted_canaries=args.planted_canaries,
        model=args.model,
        threat_models=args.threat_models,
        evidence=args.evidence,
    )
    try:
        outcome = run_audit(settings)
    except (ConfigError, DataError, SchemaError) as exc:
        # one line, then (for a schema error) one indented line per problem
        print(f"fical-secure audit: error: {exc}", file=sys.stderr)
        return 2
    for check in outcome.checks:
        print(f"{'PASS' if check.passed else 'FAIL'}  {check.check_id}: {check.summary}")
        if not check.passed and check.remedy:
            print(f"      what to do: {check.remedy}")
    print(f"report: {outcome.html_path} and {outcome.json_path}")
    if outcome.passed:
        print("audit PASSED")
        return 0
    names = ", ".join(c.check_id for c in outcome.checks if not c.passed)
    print(f"audit FAILED: {names}")
    print(f"fical-secure audit: FAILED checks: {names}", file=sys.stderr)
    return 1
