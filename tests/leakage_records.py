"""A leakage record around given rows and targets: what the summary and ``leakage.json`` read."""

from __future__ import annotations

from fical_secure.attacks.report import (
    AttackerBudget,
    FederationShape,
    LeakageRecord,
    Rows,
    Target,
)


def leakage_record(rows: Rows, targets: dict[str, Target]) -> LeakageRecord:
    """Two clients of four episodes, seed 0, model ``m``, profile strict, suite quick."""
    return LeakageRecord(
        date="2026-01-01",
        federation=FederationShape(clients=2, episodes_per_client=4, seed=0, eval_requests=0),
        attacker="a",
        suite="quick",
        attacker_budget=AttackerBudget(4, "release", 1, None, 5, 64),
        attacks=(),
        profile="strict",
        profiles={},
        model="m",
        rows=rows,
        records_per_side={},
        targets=targets,
        communication={},
        plots=(),
        seconds=1.0,
    )
