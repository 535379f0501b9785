"""Subprocess side of the crash test: a real server driven over stdin/stdout.

Not a test module itself (it holds no tests); ``test_protocol_crash.py`` runs
``python tests/test_protocol_crash_worker.py <dir>`` and kills it with SIGKILL
at a crash point chosen through ``FICAL_CRASH_POINT`` / ``FICAL_CRASH_HIT``.
One request per line, one reply per line, bytes as hex:

    open <round_id> <min_clients>   -> ok <RoundConfig>
    recv <envelope>                 -> ok <Receipt>
    close                           -> ok <sender>:<payload>,...
    publish <payload>               -> ok <GlobalResult>
    any failure                     -> err <ErrorType>
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _serve(workdir: Path) -> None:
    from fical_secure.crypto.keys import IdentityKey, Roster
    from fical_secure.errors import FicalError
    from fical_secure.protocol.recovery import RecoveryPolicy
    from fical_secure.protocol.server import Server

    policy = RecoveryPolicy(os.environ.get("FICAL_TEST_RECOVERY", "resume"))
    server = Server.create(
        workdir / "server.db",
        IdentityKey.load(workdir / "server.key"),
        Roster.decode((workdir / "roster.bin").read_bytes()),
        recovery=policy,
    )
    print("ready", flush=True)
    for line in sys.stdin:
        cmd, *args = line.split()
        try:
            if cmd == "open":
                reply = server.open_round(int(args[0]), int(args[1])).encode().hex()
            elif cmd == "recv":
                reply = server.receive(bytes.fromhex(args[0])).encode().hex()
            elif cmd == "close":
                reply = ",".join(f"{s.hex()}:{p.hex()}" for s, p in server.close_round())
            elif cmd == "publish":
                reply = server.publish(bytes.fromhex(args[0])).encode().hex()
            else:
                reply = ""
            print(f"ok {reply}", flush=True)
        except FicalError as exc:
            print(f"err {type(exc).__name__}", flush=True)


if __name__ == "__main__":
    _serve(Path(sys.argv[1]))
