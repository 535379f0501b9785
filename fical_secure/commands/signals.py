"""SIGTERM as a clean exit, so long-running commands stop the processes they started."""

from __future__ import annotations

import signal
import sys
from types import FrameType


def stop_on_sigterm() -> None:
    """Turn SIGTERM into ``SystemExit(143)``: ``finally`` blocks run and stop children by pid."""

    def _exit(_signum: int, _frame: FrameType | None) -> None:
        sys.exit(143)

    signal.signal(signal.SIGTERM, _exit)
