"""A hospital's privacy budget across rounds: the durable ledger of every DP release it ran.

One small JSON file (mode 0600, written atomically beside the client's
round state) lists the parameters of each round's mechanism. What has been
spent is recomputed from them by OpenDP's composition (:func:`~.dp.compose`),
so a restarted client, or another process, reads the same total.

Order of a DP round: :meth:`BudgetLedger.check` refuses before any noise is
drawn if the new round would pass the budget; the mechanism runs; the charge
is written durably (:meth:`BudgetLedger.charge`) before anything may leave.
A crash between the two over-counts nothing released: the selection was lost
with the process. A rerun of the same round is charged again (fresh noise is a
new release), which only ever over-counts.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from fical_secure.atomic import write_text_atomic
from fical_secure.errors import PrivacyBudgetExhausted, StoreError
from fical_secure.jsontypes import JsonObject
from fical_secure.release.dp import Calibration, compose
from fical_secure.release.policy import DPPolicy

FORMAT: Final = "fical-secure dp-budget v1"
MAX_LEDGER_BYTES: Final = 4 * 1024 * 1024
LEDGER_NAME: Final = "dp-budget.json"
_FIELDS = ("scale", "threshold", "max_claims_per_subject", "epsilon", "delta")


@dataclass(frozen=True)
class BudgetStatus:
    """Epsilon and delta: this round's, spent in all (this round included), and left."""

    epsilon_round: float
    delta_round: float
    epsilon_spent: float
    delta_spent: float
    epsilon_budget: float
    delta_budget: float
    rounds_charged: int

    @property
    def epsilon_left(self) -> float:
        return max(self.epsilon_budget - self.epsilon_spent, 0.0)

    @property
    def delta_left(self) -> float:
        return max(self.delta_budget - self.delta_spent, 0.0)

    def to_dict(self) -> JsonObject:
        return {
            "epsilon_round": self.epsilon_round,
            "delta_round": self.delta_round,
            "epsilon_spent": self.epsilon_spent,
            "delta_spent": self.delta_spent,
            "epsilon_left": self.epsilon_left,
            "delta_left": self.delta_left,
            "epsilon_budget": self.epsilon_budget,
            "delta_budget": self.delta_budget,
            "rounds_charged": self.rounds_charged,
        }


def _calibration(raw: Any, where: str) -> Calibration:
    if not isinstance(raw, dict) or set(raw) - {*_FIELDS, "at"} or set(_FIELDS) - set(raw):
        raise StoreError(f"{where}: a charge must have exactly {', '.join(_FIELDS)} (and at)")
    scale, threshold, bound = raw["scale"], raw["threshold"], raw["max_claims_per_subject"]
    numbers = (scale, raw["epsilon"], raw["delta"])
    if any(isinstance(x, bool) or not isinstance(x, int | float) or x < 0 for x in numbers):
        raise StoreError(f"{where}: scale, epsilon and delta must be non-negative numbers")
    if any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in (threshold, bound)):
        raise StoreError(f"{where}: threshold and max_claims_per_subject must be integers >= 1")
    return Calibration(float(scale), threshold, bound, float(raw["epsilon"]), float(raw["delta"]))


class BudgetLedger:
    """Reads and appends one hospital's DP charges (a file, or memory when ``path`` is None)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory: list[Calibration] = []

    def charges(self) -> list[Calibration]:
        """Every round charged so far.

        Raises:
            StoreError: the ledger is unreadable or malformed (never read as empty).
        """
        if self.path is None:
            return list(self._memory)
        return [_calibration(r, f"{self.path}: charges[{i}]") for i, r in enumerate(self._raw())]

    def _raw(self) -> list[Any]:
        assert self.path is not None
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read the privacy budget ledger: {exc}") from exc
        if len(data) > MAX_LEDGER_BYTES:
            raise StoreError(f"{self.path}: privacy budget ledger is too large")
        try:
            raw = json.loads(data)
        except (ValueError, RecursionError):
            raise StoreError(f"{self.path}: privacy budget ledger is not valid JSON") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise StoreError(f"{self.path}: not a {FORMAT} file; it must not be moved aside")
        rounds = raw.get("charges")
        if not isinstance(rounds, list):
            raise StoreError(f"{self.path}: charges must be a list")
        return rounds

    def status(self, policy: DPPolicy, this_round: Calibration | None = None) -> BudgetStatus:
        """What is spent (with ``this_round`` added when given) against ``policy``'s budget."""
        charged = self.charges()
        spent = compose([*charged, *([this_round] if this_round else [])])
        return BudgetStatus(
            epsilon_round=this_round.epsilon if this_round else 0.0,
            delta_round=this_round.delta if this_round else 0.0,
            epsilon_spent=spent[0],
            delta_spent=spent[1],
            epsilon_budget=policy.budget_epsilon,
            delta_budget=policy.total_delta,
            rounds_charged=len(charged) + (this_round is not None),
        )

    def check(self, policy: DPPolicy, this_round: Calibration) -> BudgetStatus:
        """The status with ``this_round`` spent, if it fits the budget.

        Raises:
            PrivacyBudgetExhausted: it does not fit; the error names what is left.
            StoreError: the ledger cannot be read.
        """
        before = self.status(policy)
        after = self.status(policy, this_round)
        # a relative slack absorbs float rounding in OpenDP's sums, never a whole round
        if after.epsilon_spent > policy.budget_epsilon * (1 + 1e-9) or after.delta_spent > (
            policy.total_delta * (1 + 1e-9)
        ):
            raise PrivacyBudgetExhausted(
                f"this release needs epsilon {this_round.epsilon:g}, delta {this_round.delta:.3g}"
                f", but only epsilon {before.epsilon_left:g}, delta {before.delta_left:.3g} of "
                f"the budget (epsilon {policy.budget_epsilon:g}, delta {policy.total_delta:.3g})"
                f" are left after {before.rounds_charged} rounds; nothing was released. Lower "
                "release.dp.epsilon or raise the budget (a compliance decision).",
                epsilon_left=before.epsilon_left,
                delta_left=before.delta_left,
            )
        return after

    def charge(self, this_round: Calibration) -> None:
        """Record ``this_round`` durably (atomic replace, fsync) before anything is released.

        Raises:
            StoreError: it cannot be written; the caller must release nothing.
        """
        if self.path is None:
            self._memory.append(this_round)
            return
        self.charges()  # a malformed ledger is never overwritten
        rounds = self._raw()
        rounds.append(
            {**this_round.to_dict(), "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        )
        record = {"format": FORMAT, "charges": rounds}
        try:
            text = json.dumps(record, indent=1, sort_keys=True) + "\n"
            write_text_atomic(self.path, text, mode=0o600, make_parents=True)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot write the privacy budget ledger: {exc}") from exc
