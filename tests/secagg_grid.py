"""An in-process Flower Grid for secure-aggregation rounds: real apps, no processes.

:class:`LocalGrid` stands where Flower's SuperLink stands for our ServerApp
(``push_messages`` / ``pull_messages`` / ``get_node_ids``) and hands each
message to a node: a hospital node runs our ClientApp's real handler
(:func:`fical_secure.flower.client_app._answer` with ``handle_prepare``,
``handle_secagg`` or ``handle_result``) on the hospital's own folder from
``federation init``; a test may put an attacker's function at a node instead.
Every pipeline stage (KCG, scrubber, gate), the key files, the sealed state
files, the SecAgg+ server and the aggregation are the real ones.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import yaml
from flwr.app import Message
from flwr.supercore.task_identity import TaskIdentity

from fical_secure.flower import wire
from fical_secure.flower.client_app import _answer, handle_result
from fical_secure.flower.client_secagg import handle_prepare, handle_secagg
from fical_secure.flower.init import InitOptions, init_federation

Node = Callable[[Message], Message]


class LocalGrid:
    """Delivers each pushed message to its node at once; replies wait to be pulled."""

    def __init__(self, nodes: dict[int, Node]) -> None:
        self.nodes = nodes
        self.sent: list[Message] = []
        self.received: list[Message] = []
        self._ids = itertools.count(1)
        self._replies: dict[str, Message] = {}

    def get_node_ids(self) -> list[int]:
        return sorted(self.nodes)

    def push_messages(self, messages: Iterable[Message]) -> list[str]:
        ids = []
        for msg in messages:
            msg.metadata.__dict__["_message_id"] = str(next(self._ids))  # the SuperLink sets it
            self.sent.append(msg)
            node = self.nodes.get(msg.metadata.dst_node_id)
            if node is not None:
                reply = node(msg)
                self.received.append(reply)
                self._replies[msg.metadata.message_id] = reply
            ids.append(msg.metadata.message_id)
        return ids

    def pull_messages(self, ids: list[str]) -> list[Message]:
        return [self._replies.pop(i) for i in ids if i in self._replies]


def hospital(config: Path) -> Node:
    """A SuperNode running our ClientApp for the hospital of ``config``."""
    handlers = {
        wire.PREPARE: handle_prepare,
        wire.SECAGG: handle_secagg,
        wire.RESULT: handle_result,
    }

    def answer(msg: Message) -> Message:
        return _answer(msg, str(config), handlers[msg.metadata.message_type])

    return answer


def task_identity() -> Iterator[None]:
    """The run/node/task ids Flower sets in a ServerApp process (messages need them)."""
    before = (TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id)
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 1, 1
    try:
        yield
    finally:
        TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id = before


def secagg_federation(out: Path, clients: int = 4) -> Path:
    """``federation init --mode secagg`` with the fast test settings (no model loaded)."""
    init_federation(out, InitOptions(clients=clients, mode="secagg", min_clients=3, episodes=30))
    for path in (out / "clients").glob("*/hospital.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["kcg"]["paraphrase"] = False
        data["privacy"]["audit_use_llm"] = False
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
    server = out / "server" / "server.yaml"
    data = yaml.safe_load(server.read_text(encoding="utf-8"))
    data["round"].update(wait_seconds=1, stage_timeout_seconds=60, secagg_stage_timeout_seconds=60)
    server.write_text(yaml.safe_dump(data), encoding="utf-8")
    return out


def hospital_nodes(fed: Path, names: Iterable[str]) -> dict[int, Node]:
    """Node id 10 + i for hospital ``h0i``."""
    return {
        10 + int(name[1:]): hospital(fed / "clients" / name / "hospital.yaml") for name in names
    }
