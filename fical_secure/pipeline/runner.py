"""Run the stages of a pipeline in order, timing each, stopping on the first failure.

The same runner drives the client pipeline, the server pipeline and the
in-process demo; each has its own state dataclass with a ``seconds`` dict.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Protocol, TypeVar

log = logging.getLogger(__name__)


class Timed(Protocol):
    """A pipeline state: stages record their wall seconds in it."""

    seconds: dict[str, float]


S = TypeVar("S", bound=Timed)
S_contra = TypeVar("S_contra", contravariant=True)


class Stage(Protocol[S_contra]):
    """One step of a pipeline: reads and extends its state."""

    @property
    def name(self) -> str: ...

    def run(self, state: S_contra) -> None: ...


def run_stages(state: S, stages: Sequence[Stage[S]], *, label: str = "") -> S:
    """Run ``stages`` in order. A failing stage propagates its error: nothing later runs.

    Seconds add up when a stage of the same name runs again on the same state.
    """
    prefix = f"{label}: " if label else ""
    for stage in stages:
        log.info("%sstage %s", prefix, stage.name)
        start = time.perf_counter()
        try:
            stage.run(state)
        finally:
            spent = time.perf_counter() - start
            state.seconds[stage.name] = round(state.seconds.get(stage.name, 0.0) + spent, 3)
            log.info("%sstage %s: %.1f s", prefix, stage.name, spent)
    return state
