"""What a restarted server does with a round that was live when it stopped.

A pure decision (:func:`decide`) over the persisted round and a configurable
:class:`RecoveryPolicy`; the server carries it out (load the round key and
resume, or sign and persist an Abort). Kept apart from the server so the policy
is one small, testable table.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from fical_secure.protocol.messages import RoundConfig
from fical_secure.protocol.stages import TERMINAL, Stage


class RecoveryPolicy(enum.Enum):
    """How to treat a live round found at start-up."""

    RESUME = "resume"  # always resume (a deadline still stops new submissions)
    ABORT = "abort"  # always abort cleanly: clients resubmit in a new round
    ABORT_IF_PAST_DEADLINE = "abort-if-past-deadline"  # resume unless the stage is overdue

    @classmethod
    def default(cls) -> RecoveryPolicy:
        """The default: resume work in time, abort work that is overdue."""
        return cls.ABORT_IF_PAST_DEADLINE


@dataclass(frozen=True)
class Decision:
    """Resume the round, or abort it with a reason that goes into the Abort."""

    resume: bool
    reason: str = ""


def decide(stage: Stage, config: RoundConfig, policy: RecoveryPolicy, now: float) -> Decision:
    """Decide the fate of a round found in ``stage`` at start-up.

    A round still OPEN was never published (the crash came between persisting
    it and starting collection), so no client can hold its config: abort it.
    """
    if stage in TERMINAL:
        return Decision(resume=False, reason="round already finished")
    if stage is Stage.OPEN:
        return Decision(resume=False, reason="server stopped before the round was published")
    if policy is RecoveryPolicy.ABORT:
        return Decision(resume=False, reason=f"server restarted during {stage.name}")
    if policy is RecoveryPolicy.ABORT_IF_PAST_DEADLINE:
        deadline = config.deadline(stage)
        if deadline is not None and now > deadline:
            return Decision(
                resume=False, reason=f"server restarted after the {stage.name} deadline"
            )
    return Decision(resume=True)
