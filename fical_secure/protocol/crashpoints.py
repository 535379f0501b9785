"""Named crash points for crash-consistency testing; a no-op in production.

``crash_point(name)`` kills the current process with SIGKILL (no cleanup, no
``finally``, no SQLite close: the harshest crash a process can have short of
power loss) when the environment variable ``FICAL_CRASH_POINT`` names ``name``
and the point has been reached ``FICAL_CRASH_HIT`` times (default 1). The
environment is read once, at import: a running server cannot be switched into
crash mode by anything it receives.
"""

from __future__ import annotations

import os
import signal
from typing import Final

from fical_secure.errors import ConfigError

ENV_POINT: Final = "FICAL_CRASH_POINT"
ENV_HIT: Final = "FICAL_CRASH_HIT"

# Every point the server passes while handling a submission or a round.
POINTS: Final[tuple[str, ...]] = (
    "after_receive",  # header parsed, nothing checked yet
    "after_verify",  # signature verified and envelope opened, nothing written
    "before_commit",  # row inserted inside the open transaction, not committed
    "after_commit",  # transaction committed, receipt not yet returned
    "during_aggregation",  # round is AGGREGATING, stored envelopes half re-opened
    "before_publish",  # aggregate computed, result not yet committed
)

_TARGET: Final = os.environ.get(ENV_POINT, "")
_HIT: Final = int(os.environ.get(ENV_HIT, "1") or "1")
_counts: dict[str, int] = {}

if _TARGET and _TARGET not in POINTS:
    raise ConfigError(f"{ENV_POINT}={_TARGET!r} names no crash point; use one of {POINTS}")


def crash_point(name: str) -> None:
    """Die by SIGKILL here if the environment selects this point (tests only)."""
    if not _TARGET or name != _TARGET:
        return
    _counts[name] = _counts.get(name, 0) + 1
    if _counts[name] >= _HIT:
        os.kill(os.getpid(), signal.SIGKILL)
