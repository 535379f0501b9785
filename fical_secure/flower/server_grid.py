"""The server's side of Flower's grid, shared by both modes: nodes, messages, replies, names.

Both the sealed round (:mod:`.server_app`) and the secure-aggregation round
(:mod:`.server_secagg`) wait for SuperNodes, push messages and collect their
replies here.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from fical_secure.config.server import ServerConfig
from fical_secure.crypto.keys import PublicKeyBundle
from fical_secure.errors import RoundAbortedError

if TYPE_CHECKING:
    from flwr.app import Message, RecordDict
    from flwr.serverapp import Grid

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0


def wait_for_nodes(grid: Grid, expected: int, minimum: int, seconds: float) -> list[int]:
    """Node ids once ``expected`` SuperNodes are connected, or ``minimum`` after ``seconds``.

    Raises:
        RoundAbortedError: fewer than ``minimum`` connected in time.
    """
    deadline = time.monotonic() + seconds
    while True:
        nodes = sorted(grid.get_node_ids())
        if len(nodes) >= expected or (time.monotonic() >= deadline and len(nodes) >= minimum):
            return nodes
        if time.monotonic() >= deadline:
            raise RoundAbortedError(
                f"only {len(nodes)} of at least {minimum} SuperNodes connected in {seconds:.0f} s; "
                "start the hospitals' clients (`fical-secure client`) or lower round.min_clients"
            )
        time.sleep(POLL_SECONDS)


def exchange(
    grid: Grid,
    messages: list[Message],
    seconds: float,
    *,
    quorum: int | None = None,
    grace: float = 0.0,
) -> list[Message]:
    """Push ``messages`` and pull their replies until all came back or the deadline passed.

    The deadline is ``seconds`` after the push; once ``quorum`` replies are in (at
    ``t`` seconds), the stragglers get at most ``max(grace, t)`` more: at least
    as long again as the quorum took, so slow honest hospitals are not cut,
    and a dead SuperNode costs seconds rather than Flower's heartbeat patience
    (a fixed 30 s interval x 2 in Flower 1.41). ``quorum=None`` waits for all.
    """
    pending = set(grid.push_messages(messages))
    replies: list[Message] = []
    started = time.monotonic()
    deadline = started + seconds
    while pending and time.monotonic() < deadline:
        for reply in grid.pull_messages(list(pending)):
            pending.discard(reply.metadata.reply_to_message_id)
            replies.append(reply)
        if pending and quorum is not None and len(replies) >= quorum:
            now = time.monotonic()
            cut = now + max(grace, now - started)
            if cut < deadline:
                deadline = cut
                log.info(
                    "%d of %d replied in %.1f s: waiting at most %.1f s for the other %d",
                    len(replies),
                    len(messages),
                    now - started,
                    cut - now,
                    len(pending),
                )
            quorum = None  # the straggler deadline is set once
        if pending:
            time.sleep(max(0.0, min(POLL_SECONDS, deadline - time.monotonic())))
    if pending:
        log.warning("%d SuperNode(s) did not reply before the deadline", len(pending))
    return replies


def majority(cfg: ServerConfig, nodes: int) -> int:
    """The sealed round's quorum: a majority of the SuperNodes, and at least min_clients."""
    return max(cfg.round.min_clients, nodes // 2 + 1)


def enrollment_names(cfg: ServerConfig) -> dict[bytes, str]:
    """Client names by identity key id, from the folder of ``<name>.public.key`` files.

    Without the folder, the intake names each sender by its key id.

    Raises:
        KeyFileError: a public key file is missing, malformed or its binding is invalid.
    """
    if cfg.keys.clients is None:
        return {}
    return {
        PublicKeyBundle.load(path).identity.key_id: path.name.removesuffix(".public.key")
        for path in sorted(cfg.keys.clients.glob("*.public.key"))
    }


def message(content: RecordDict, node: int, kind: str, round_id: int) -> Message:
    from flwr.app import Message

    return Message(content, dst_node_id=node, message_type=kind, group_id=str(round_id))
