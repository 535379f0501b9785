"""Round stages, their wire codes, and the one table of legal transitions.

The integer code of a stage is what goes into ``EnvelopeContext.stage`` (and
thus into the AEAD associated data), so an envelope sealed for one stage can
never be accepted in another. Codes are part of the wire format: never renumber.
"""

from __future__ import annotations

import enum
from typing import Final

from fical_secure.errors import StageError


class Stage(enum.IntEnum):
    """One round's lifecycle. ``DONE`` and ``ABORTED`` are terminal."""

    OPEN = 1  # config and round key created and persisted, not yet published
    COLLECTING = 2  # accepting sealed submissions from enrolled clients
    AGGREGATING = 3  # submissions frozen; the server decrypts and aggregates
    DONE = 4  # the server-signed global result is published
    ABORTED = 5  # the round ended without a result

    @classmethod
    def from_code(cls, code: int) -> Stage:
        """Map a wire code to a stage.

        Raises:
            StageError: if ``code`` names no stage.
        """
        try:
            return cls(code)
        except ValueError:
            raise StageError(f"unknown stage code {code}") from None


TERMINAL: Final[frozenset[Stage]] = frozenset({Stage.DONE, Stage.ABORTED})

# The only legal transitions. Any non-terminal stage may abort.
TRANSITIONS: Final[dict[Stage, frozenset[Stage]]] = {
    Stage.OPEN: frozenset({Stage.COLLECTING, Stage.ABORTED}),
    Stage.COLLECTING: frozenset({Stage.AGGREGATING, Stage.ABORTED}),
    Stage.AGGREGATING: frozenset({Stage.DONE, Stage.ABORTED}),
    Stage.DONE: frozenset(),
    Stage.ABORTED: frozenset(),
}

# The stage in which clients' sealed submissions are accepted (and sealed for).
SUBMISSION_STAGE: Final = Stage.COLLECTING


def check_transition(current: Stage, target: Stage) -> Stage:
    """Return ``target`` if ``current -> target`` is in :data:`TRANSITIONS`.

    Raises:
        StageError: for any transition not in the table (including self-loops).
    """
    if target not in TRANSITIONS[current]:
        raise StageError(f"illegal stage transition {current.name} -> {target.name}")
    return target


def require_stage(current: Stage, *allowed: Stage) -> None:
    """Refuse an operation unless the round is in one of ``allowed``.

    Raises:
        StageError: naming the current and the expected stages.
    """
    if current not in allowed:
        names = ", ".join(s.name for s in allowed)
        raise StageError(f"round is {current.name}; this needs {names}")
