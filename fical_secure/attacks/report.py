"""The record of an attack run (``leakage.json``): its setup, rows and targets, typed.

A row is what the suite's plugins measured on one sharing mode: free-form
JSON figures (a cell is a number, ``None`` or an object with ``value`` and
``ci95``), kept as :data:`~fical_secure.jsontypes.JsonObject`. Targets and
the run around the rows are frozen dataclasses; :meth:`LeakageRecord.to_dict`
is the one place they become JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TypeAlias

from fical_secure.jsontypes import JsonObject, JsonValue, as_list, as_number, at

Rows: TypeAlias = dict[str, JsonObject]
"""Sharing mode -> its row of figures."""


def figure(row: JsonObject, key: str) -> float | None:
    """A row's figure as a number: the cell itself, or its ``value``; ``None`` if not measured."""
    cell = row.get(key)
    return as_number(at(cell, "value") if isinstance(cell, dict) else cell)


def ci_upper(cell: JsonValue) -> float | None:
    """The upper end of a cell's 95% interval, ``None`` without one."""
    ci = as_list(at(cell, "ci95"))
    return as_number(ci[1]) if len(ci) == 2 else None


@dataclass(frozen=True)
class Target:
    """One figure held to a bound: what was wanted, what was measured, met or not."""

    target: str
    measured: JsonValue
    met: bool

    def to_dict(self) -> JsonObject:
        return {"target": self.target, "measured": self.measured, "met": self.met}


@dataclass(frozen=True)
class TprTarget(Target):
    """The TPR-at-low-FPR bound, with the non-members the rate was read at."""

    n_nonmembers: int | None = None

    def to_dict(self) -> JsonObject:
        return {**super().to_dict(), "n_nonmembers": self.n_nonmembers}


@dataclass(frozen=True)
class ExposureTarget(Target):
    """The canary bound, held on the mean over canaries, with the max and the null beside."""

    max_bits: float | None = None
    p_value_max: float | None = None  # of the max, were no canary leaking
    control_mean: float | None = None  # control secrets never written anywhere
    n_canaries: int | None = None

    def to_dict(self) -> JsonObject:
        return {
            **super().to_dict(),
            "statistic": "mean over planted canaries",
            "max": self.max_bits,
            "p_value_max": self.p_value_max,
            "control_mean": self.control_mean,
            "n_canaries": self.n_canaries,
        }


@dataclass(frozen=True)
class FederationShape:
    """The federation the run attacked."""

    clients: int
    episodes_per_client: int
    seed: int
    eval_requests: int


@dataclass(frozen=True)
class AttackerBudget:
    """How much the attacker scores and generates, per client."""

    llm_records_per_side: int
    llm_rows: str  # the rows the LLM attacks ran on: "release" or "all"
    canaries_per_client: int
    extraction_targets_per_client: int | None
    synthetic_examples_per_client: int
    synthetic_new_tokens: int
    canary_candidates: int | None = None  # random secrets each canary is ranked among
    canary_controls: int | None = None  # control secrets scored beside each canary


@dataclass(frozen=True)
class LeakageRecord:
    """One attack run: every sharing mode's row, the targets, the cost; ``leakage.json``."""

    date: str
    federation: FederationShape
    attacker: str
    suite: str
    attacker_budget: AttackerBudget
    attacks: tuple[JsonObject, ...]
    profile: str
    profiles: dict[str, str]
    model: str
    rows: Rows
    records_per_side: JsonObject
    targets: dict[str, Target]
    communication: JsonObject
    plots: tuple[str, ...]
    seconds: float

    def to_dict(self) -> JsonObject:
        """The record as ``leakage.json`` holds it."""
        return {
            "benchmark": "leakage",
            "date": self.date,
            "federation": asdict(self.federation),
            "attacker": self.attacker,
            "suite": self.suite,
            "attacker_budget": asdict(self.attacker_budget),
            "attacks": list(self.attacks),
            "profile": self.profile,
            "profiles": self.profiles,
            "model": self.model,
            "rows": self.rows,
            "records_per_side": self.records_per_side,
            "targets": {name: t.to_dict() for name, t in self.targets.items()},
            "communication": self.communication,
            "plots": list(self.plots),
            "seconds": self.seconds,
        }
