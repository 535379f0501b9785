"""``fical-secure server --config server.yaml``: the operator's SuperLink and our ServerApp."""

from __future__ import annotations

import argparse
from pathlib import Path

from fical_secure.commands.signals import stop_on_sigterm
from fical_secure.errors import ConfigError
from fical_secure.flower.deploy import serve


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "server", help="run Flower's SuperLink (TLS, SuperNode auth) and the FICAL ServerApp"
    )
    parser.add_argument("--config", type=Path, required=True, help="server.yaml")
    parser.add_argument("--rounds", type=int, default=1, help="rounds to run (default 1)")
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="plain-text transport (local tests only; prints a warning)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.rounds < 1:
        raise ConfigError("--rounds must be at least 1")
    stop_on_sigterm()
    reports = serve(args.config, insecure=args.insecure, rounds=args.rounds)
    last = reports[-1]
    print(
        f"done: {len(reports)} round(s); last round {last.get('round_id')}: "
        f"{last.get('clients')} clients accepted, {last.get('global_entries')} global entries, "
        f"{last.get('delivered')} clients stored the signed result"
    )
    return 0
