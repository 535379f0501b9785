"""The one release policy and the gate that applies it, for the round and for ``audit``.

:mod:`.policy` (limits, read from a profile's ``release`` section) ->
:mod:`.significance` (permutation tests on attack scores, known false-block
rate) -> :mod:`.decision` (findings, each with its remedy) -> :mod:`.gate`
(remediate leaking entries, re-audit, pass or block).
"""

from fical_secure.release.decision import Finding, MembershipDecision, check_release
from fical_secure.release.gate import GateDecision, run_gate
from fical_secure.release.policy import ReleasePolicy
from fical_secure.release.significance import LowFprPoint, MembershipTest, permutation_test

__all__ = [
    "Finding",
    "GateDecision",
    "LowFprPoint",
    "MembershipDecision",
    "MembershipTest",
    "ReleasePolicy",
    "check_release",
    "permutation_test",
    "run_gate",
]
