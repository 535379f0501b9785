"""Run the stages of a round in order, timing each, stopping on the first failure."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Protocol

from fical_secure.federation.state import RoundState

log = logging.getLogger(__name__)


class Stage(Protocol):
    """One step of a round: reads and extends the round state."""

    @property
    def name(self) -> str: ...

    def run(self, state: RoundState) -> None: ...


def run_stages(state: RoundState, stages: Sequence[Stage]) -> RoundState:
    """Run ``stages`` in order. A failing stage propagates its error: nothing later runs."""
    for stage in stages:
        log.info("stage %s", stage.name)
        start = time.perf_counter()
        try:
            stage.run(state)
        finally:
            state.seconds[stage.name] = round(time.perf_counter() - start, 3)
            log.info("stage %s: %.1f s", stage.name, state.seconds[stage.name])
    return state
