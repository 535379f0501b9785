"""An in-process Grid for ServerApp tests: Flower's Grid interface, each node a function.

It replaces the SuperLink's transport only. Every message goes to a node's
answer function: our real ClientApp handler (:func:`client_node`) or an
attacker's, which crafts its reply; the ServerApp's own code (``run_round``
and its reply parsing) runs unchanged.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from flwr.app import Message, RecordDict
from flwr.serverapp import Grid
from flwr.supercore.run import Run
from flwr.supercore.task_identity import TaskIdentity

from fical_secure.flower import wire
from fical_secure.flower.client_app import _answer, handle_result, handle_submit

Answer = Callable[[Message], Message | None]  # None: the node never replies


def as_serverapp(monkeypatch: pytest.MonkeyPatch) -> None:
    """Flower's task identity as a ServerApp process holds it (messages are built from it)."""
    for name, value in (("_run_id", 1), ("_node_id", 0), ("_task_id", 1)):
        monkeypatch.setattr(TaskIdentity, name, value)


class LoopbackGrid(Grid):
    """Node id -> answer function; replies are ready as soon as a message is pushed."""

    def __init__(self, nodes: dict[int, Answer]) -> None:
        self.nodes = nodes
        self.replies: dict[str, Message] = {}
        self.sent: list[Message] = []
        self._ids = itertools.count(1)

    def set_run(self, run: Run) -> None:
        raise NotImplementedError("the ServerApp under test never changes its run")

    @property
    def run(self) -> Run:
        raise NotImplementedError("the ServerApp under test never reads its run")

    def create_message(
        self,
        content: RecordDict,
        message_type: str,
        dst_node_id: int,
        group_id: str,
        ttl: float | None = None,
    ) -> Message:
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:
        return list(self.nodes)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        ids = []
        for message in messages:
            message_id = f"m{next(self._ids)}"
            message.metadata.__dict__["_message_id"] = message_id  # as Flower's InMemoryGrid
            self.sent.append(message)
            reply = self.nodes[message.metadata.dst_node_id](message)
            if reply is not None:
                self.replies[message_id] = reply
            ids.append(message_id)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return [self.replies.pop(i) for i in list(message_ids) if i in self.replies]

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        return self.pull_messages(self.push_messages(messages))


def client_node(config: Path) -> Callable[[Message], Message]:
    """A hospital's real ClientApp handlers, as its SuperNode would run them."""

    def answer(message: Message) -> Message:
        handler = handle_submit if message.metadata.message_type == wire.SUBMIT else handle_result
        return _answer(message, str(config), handler)

    return answer
