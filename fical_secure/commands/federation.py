"""``fical-secure federation init``: a complete local federation to deploy on Flower.

Server and client identities, the signed roster, a private CA with the
SuperLink's TLS certificate, SuperNode authentication keys, every YAML, and
synthetic episode files in the documented format (see ``fical_secure.flower.init``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fical_secure.flower.init import InitOptions, init_federation


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("federation", help="create a local federation to run on Flower")
    actions = parser.add_subparsers(dest="federation_command", required=True, metavar="ACTION")
    init = actions.add_parser("init", help="write keys, roster, CA, TLS certs, YAML and data")
    init.add_argument("--clients", type=int, required=True, metavar="N", help="hospitals")
    init.add_argument("--out", type=Path, required=True, metavar="DIR", help="new folder")
    init.add_argument("--host", default="127.0.0.1", help="SuperLink host (default 127.0.0.1)")
    init.add_argument("--port", type=int, default=9093, help="SuperLink port (default 9093)")
    init.add_argument(
        "--node-port",
        type=int,
        default=9094,
        help="first hospital's local SuperNode port (default 9094; +1 each)",
    )
    init.add_argument(
        "--min-clients",
        type=int,
        default=None,
        help="submissions a round needs (default: every client)",
    )
    init.add_argument(
        "--episodes",
        type=int,
        default=40,
        help="synthetic member episodes per hospital (default 40)",
    )
    init.add_argument("--seed", type=int, default=0)
    init.add_argument(
        "--mode",
        choices=("sealed", "secagg"),
        default="sealed",
        help="round mode in server.yaml (secagg: secure aggregation, needs >= 3 clients)",
    )
    init.set_defaults(func=run_init)


def run_init(args: argparse.Namespace) -> int:
    options = InitOptions(
        clients=args.clients,
        host=args.host,
        port=args.port,
        first_node_port=args.node_port,
        min_clients=args.min_clients,
        episodes=args.episodes,
        seed=args.seed,
        mode=args.mode,
    )
    out = init_federation(args.out, options)
    print(f"federation of {args.clients} hospitals written to {out}")
    print(f"  server:  fical-secure server --config {out / 'server' / 'server.yaml'}")
    print(
        f"  clients: fical-secure client --config {out / 'clients' / 'h01' / 'hospital.yaml'}"
        " (one per hospital)"
    )
    return 0
