"""The one release policy and the gate that applies it, for the round and for ``audit``.

:mod:`.policy` (limits, read from a profile's ``release`` section) ->
:mod:`.significance` (permutation tests on attack scores, known false-block
rate) -> :mod:`.decision` (findings, each with its remedy) -> :mod:`.gate`
(remediate leaking entries, re-audit, pass or block). DP mode:
:mod:`.dp` (OpenDP partition selection and composition) and :mod:`.budget`
(the hospital's ledger across rounds).

Names are loaded on first use, so KCG can use :mod:`.dp` without importing
the audit stack that the gate needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fical_secure.release.decision import Finding, MembershipDecision, check_release
    from fical_secure.release.gate import GateDecision, run_gate
    from fical_secure.release.policy import ReleasePolicy
    from fical_secure.release.significance import LowFprPoint, MembershipTest, permutation_test

_HOME = {
    "Finding": "decision",
    "MembershipDecision": "decision",
    "check_release": "decision",
    "GateDecision": "gate",
    "run_gate": "gate",
    "ReleasePolicy": "policy",
    "LowFprPoint": "significance",
    "MembershipTest": "significance",
    "permutation_test": "significance",
}

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


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
