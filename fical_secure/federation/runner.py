"""Run the stages of a round in order, timing each, stopping on the first failure."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

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


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` through a temp file and rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True, ensure_ascii=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
