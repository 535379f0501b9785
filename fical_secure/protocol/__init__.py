"""fical_secure.protocol: typed messages, stages, client/server state machines, durable store.

The public API a round needs::

    server = Server.create(store_path, identity, roster)
    cfg = server.open_round(round_id, min_clients)
    client = Client(identity, server_public)
    envelope = client.seal_submission(cfg, payload)
    receipt = server.receive(envelope)
    client.check_receipt(receipt)
    payloads = server.close_round()          # [(sender_key_id, plaintext), ...]
    result = server.publish(result_bytes)    # server-signed GlobalResult
    client.check_result(result)

Imports only :mod:`fical_secure.crypto` for cryptography (never the
``cryptography`` package itself) and nothing heavy (no torch, transformers or
presidio).
"""

from fical_secure.protocol.client import Client, ClientState
from fical_secure.protocol.messages import Abort, GlobalResult, Receipt, RoundConfig, Submission
from fical_secure.protocol.recovery import RecoveryPolicy
from fical_secure.protocol.server import Server
from fical_secure.protocol.stages import TRANSITIONS, Stage, check_transition

__all__ = [
    "TRANSITIONS",
    "Abort",
    "Client",
    "ClientState",
    "GlobalResult",
    "Receipt",
    "RecoveryPolicy",
    "RoundConfig",
    "Server",
    "Stage",
    "Submission",
    "check_transition",
]
