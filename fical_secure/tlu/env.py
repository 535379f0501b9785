"""The simulated tool environment the agent acts in.

A thin, stateful wrapper over :func:`fical_secure.data.results.simulate_result`
(deterministic, catalogue-validated) that records every attempt, so metrics can
tell a call that ran from one the environment refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from fical_secure.data.catalogue import CATALOGUE
from fical_secure.data.results import simulate_result
from fical_secure.data.schema import ToolCall, ToolSpec
from fical_secure.errors import ToolExecutionError


@dataclass(frozen=True)
class Execution:
    """One attempted tool call: its result text, or the refusal message."""

    call: ToolCall
    ok: bool
    output: str


@dataclass
class ToolEnvironment:
    """Executes calls against the simulated hospital systems and keeps a log."""

    log: list[Execution] = field(default_factory=list)
    catalogue: Sequence[ToolSpec] = CATALOGUE

    def execute(self, call: ToolCall) -> str:
        """Run ``call`` and return the tool's result text.

        Raises:
            ToolExecutionError: the tool refused the call (invalid arguments).
        """
        try:
            output = simulate_result(call, self.catalogue)
        except ToolExecutionError as exc:
            self.log.append(Execution(call, ok=False, output=str(exc)))
            raise
        self.log.append(Execution(call, ok=True, output=output))
        return output

    def try_execute(self, call: ToolCall) -> Execution:
        """Run ``call`` and return the outcome instead of raising on refusal."""
        try:
            self.execute(call)
        except ToolExecutionError:
            pass
        return self.log[-1]
