"""A dead SuperNode costs the round seconds, not Flower's heartbeat patience.

Flower 1.41 reports a silent SuperNode only after its fixed 30 s heartbeat
interval times a patience of 2. :func:`exchange` stops waiting for
stragglers once a quorum replied: they get at most ``max(grace, the time the
quorum took)`` more, so a slow honest hospital is not cut off by a fast
quorum. The grid is :class:`secagg_grid.LocalGrid` (the SuperLink's three
calls) with replies released at chosen times; the real-process kill is
``test_flower_deploy.py::test_secagg_round_recovers_a_supernode_killed_mid_round``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest
import yaml
from flwr.app import Message, RecordDict
from secagg_grid import LocalGrid, secagg_federation, task_identity

from fical_secure.config.server import load_server_config
from fical_secure.errors import ConfigError
from fical_secure.flower import wire
from fical_secure.flower.server_grid import exchange, majority, message

if TYPE_CHECKING:
    from flwr.serverapp import Grid


@pytest.fixture(autouse=True, scope="module")
def _identity() -> Iterator[None]:
    yield from task_identity()


class DelayedGrid(LocalGrid):
    """Node ``i``'s reply becomes pullable ``delays[i]`` seconds after the push; None: never."""

    def __init__(self, delays: dict[int, float | None]) -> None:
        super().__init__({node: self._echo for node in delays})
        self.delays = delays
        self.pushed = 0.0
        self.node_of: dict[str, int] = {}

    @staticmethod
    def _echo(msg: Message) -> Message:
        return Message(wire.record(status=wire.STATUS_OK), reply_to=msg)

    def push_messages(self, messages: list[Message]) -> list[str]:  # type: ignore[override]
        self.pushed = time.monotonic()
        ids = super().push_messages(messages)
        self.node_of = {i: m.metadata.dst_node_id for i, m in zip(ids, messages, strict=True)}
        return ids

    def pull_messages(self, ids: list[str]) -> list[Message]:
        now = time.monotonic() - self.pushed
        due = []
        for i in ids:
            delay = self.delays[self.node_of[i]]
            if delay is not None and now >= delay:
                due.append(i)
        return super().pull_messages(due)


def _ask(delays: dict[int, float | None], **kw: float | int) -> tuple[list[int], float]:
    grid = DelayedGrid(delays)
    messages = [message(RecordDict(), node, wire.SECAGG, 1) for node in delays]
    started = time.monotonic()
    replies = exchange(cast("Grid", grid), messages, 30, **kw)  # type: ignore[arg-type]
    return sorted(r.metadata.src_node_id for r in replies), time.monotonic() - started


def test_a_dead_node_costs_the_grace_period_once_the_quorum_replied() -> None:
    nodes, seconds = _ask({1: 0.0, 2: 0.0, 3: 0.0, 4: None}, quorum=3, grace=1.0)
    assert nodes == [1, 2, 3]
    assert 0.9 <= seconds < 3, seconds  # not the 30 s deadline


def test_without_a_quorum_every_reply_is_awaited_until_the_deadline() -> None:
    grid = DelayedGrid({1: 0.0, 2: None})
    messages = [message(RecordDict(), node, wire.SECAGG, 1) for node in (1, 2)]
    started = time.monotonic()
    replies = exchange(cast("Grid", grid), messages, 1.5)
    assert [r.metadata.src_node_id for r in replies] == [1]
    assert time.monotonic() - started >= 1.5


def test_a_straggler_gets_as_long_again_as_the_quorum_took() -> None:
    # the quorum took ~1.2 s: a straggler replying at 2.0 s (inside 2 x 1.2) is kept even
    # though the grace alone (0.2 s) would have cut it off
    nodes, seconds = _ask({1: 0.0, 2: 1.2, 3: 2.0}, quorum=2, grace=0.2)
    assert nodes == [1, 2, 3]
    nodes, seconds = _ask({1: 0.0, 2: 0.5, 3: 5.0}, quorum=2, grace=0.2)
    assert nodes == [1, 2] and seconds < 3, seconds  # cut at about 2 x the quorum's time


def test_the_grace_is_read_from_server_yaml_and_the_sealed_quorum_is_a_majority(
    tmp_path: Path,
) -> None:
    fed = secagg_federation(tmp_path / "fed")
    server_yaml = fed / "server" / "server.yaml"
    cfg = load_server_config(server_yaml)
    assert cfg.round.straggler_grace_seconds == 10  # federation init's default
    assert majority(cfg, 4) == max(cfg.round.min_clients, 3)
    assert majority(cfg, 9) == max(cfg.round.min_clients, 5)
    data = yaml.safe_load(server_yaml.read_text(encoding="utf-8"))
    data["round"]["straggler_grace_seconds"] = 0
    server_yaml.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError, match="straggler_grace_seconds"):
        load_server_config(server_yaml)
