"""``fical-secure client --config hospital.yaml``: a hospital's SuperNode with our ClientApp."""

from __future__ import annotations

import argparse
from pathlib import Path

from fical_secure.commands.signals import stop_on_sigterm
from fical_secure.flower.deploy import join


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "client", help="run this hospital's Flower SuperNode with the hardened FICAL client"
    )
    parser.add_argument("--config", type=Path, required=True, help="hospital.yaml")
    parser.add_argument(
        "--connect-seconds",
        type=float,
        default=30.0,
        help="how long to wait for the SuperLink to answer (default 30)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="plain-text transport (local tests only; prints a warning)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    stop_on_sigterm()
    return join(args.config, insecure=args.insecure, connect_seconds=args.connect_seconds)
