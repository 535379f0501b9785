"""Thin command line over the library: ``fical-secure <command> ...``.

Each command lives in ``fical_secure/commands/<name>.py`` and exposes
``register(subparsers)``; command modules import heavy dependencies only inside
the function that runs the command, so light commands start fast.
Exit codes: 0 success, 1 failure (or audit fail), 2 usage error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from fical_secure.errors import FicalError

# command module names, in help order
COMMANDS: tuple[str, ...] = (
    "demo",
    "keys",
    "seal",
    "scrub",
    "audit",
    "federation",
    "server",
    "client",
    "attack",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fical-secure",
        description="Privacy-hardened federated in-context LLM agent learning (FICAL).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"fical_secure.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"fical_secure.commands.{name}":
                raise
            continue  # command not shipped in this build
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except FicalError as exc:
        print(f"fical-secure {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
