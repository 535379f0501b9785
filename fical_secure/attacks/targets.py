"""The targets a leakage run is judged by (issue 19's bounds), met or not.

Each released row (``RELEASE_ROWS``) is held to the membership, canary and
PII bounds; sample sharing must show its leak; the whole run has a time budget.
"""

from __future__ import annotations

from collections.abc import Mapping

from fical_secure.attacks.report import (
    ExposureTarget,
    Rows,
    Target,
    TprTarget,
    ci_upper,
    figure,
)
from fical_secure.jsontypes import JsonObject, JsonValue, as_int, as_number, at

MAX_MEAN_EXPOSURE_BITS = 2.0  # issue 19: canary exposure <= 2 bits
TARGET_FPR = 0.01
TPR_TARGET = (
    "<= 0.02 at 1% FPR, resolved (>= 100 non-members; read at the lowest FPR >= 1% their "
    "count gives, which bounds the TPR at 1% from above)"
)
MAX_SECONDS = 900.0  # the budget for the default run on 2 idle CPU cores (issue 19)
# the released rows the targets hold to the leakage bounds, and their names there
RELEASE_ROWS = {"compendium_hardened": "hardened", "compendium_dp": "dp"}


def _release_checks(name: str, row: JsonObject) -> dict[str, Target]:
    """The leakage bounds of one released row, met or not.

    A row whose every client released nothing leaks nothing: its membership
    figures are recorded as ``nothing released`` and met.
    """
    if row.get("mia_auc") is None and row.get("n_items") == 0:
        return {
            f"{name} {figure}": Target("-", "nothing released", met=True)
            for figure in ("mia_auc", "tpr_at_1pct_fpr", "canary_exposure_bits", "verbatim_pii")
        }
    tpr = row.get("tpr_at_low_fpr")
    n_nonmembers = as_int(at(tpr, "n_nonmembers"))
    fpr = as_number(at(tpr, "fpr"))
    # 1% is resolved from 100 non-members. Where their count puts no point at exactly 1%
    # (330: 3/330 or 4/330), the figure is read at the next point above (4/330 = 1.21%);
    # an empirical ROC never falls as the FPR grows, so that figure bounds the TPR at 1%
    # from above, and a bound met there is met at 1%.
    resolved = (n_nonmembers or 0) >= 100 and fpr is not None and fpr >= TARGET_FPR - 1e-12
    tpr_check = _bound(figure(row, "tpr_at_low_fpr"), TPR_TARGET, 0.02)
    return {
        f"{name} mia_auc": _bound(figure(row, "mia_auc"), "<= 0.55", 0.55),
        f"{name} mia_auc ci95 upper": _bound(ci_upper(row.get("mia_auc")), "<= 0.60", 0.60),
        f"{name} tpr_at_1pct_fpr": TprTarget(
            tpr_check.target, tpr_check.measured, tpr_check.met and resolved, n_nonmembers
        ),
        f"{name} canary_exposure_bits": _exposure_check(row.get("canary_exposure_bits")),
        f"{name} verbatim_pii": _bound(figure(row, "verbatim_pii"), "== 0", 0.0),
    }


EXPOSURE_TARGET = (
    "<= 2 bits, the mean over planted canaries: an unseen canary's exposure averages about "
    "1.4 bits, so a mean near it is what no leak gives, while the max over n canaries "
    "exceeds 2 bits with probability 1 - (3/4)^n without any leak (recorded beside, with "
    "its p-value under that null)"
)


def _exposure_check(cell: JsonValue) -> ExposureTarget:
    """The canary bound, on the mean over canaries; the max and the null's figures beside."""
    mean = as_number(at(cell, "value"))
    return ExposureTarget(
        EXPOSURE_TARGET,
        mean,
        met=mean is not None and mean <= MAX_MEAN_EXPOSURE_BITS,
        max_bits=as_number(at(cell, "max")),
        p_value_max=as_number(at(cell, "p_value_max")),
        control_mean=as_number(at(cell, "control_mean")),
        n_canaries=as_int(at(cell, "n_canaries")),
    )


def _bound(measured: float | None, target: str, bound: float) -> Target:
    """A figure against the most it may be; a figure not measured is not met."""
    return Target(target, measured, met=measured is not None and measured <= bound)


def leakage_targets(rows: Rows) -> dict[str, Target]:
    """The issue's targets for the released rows (and the sample-sharing leak), met or not."""
    hard, samples = rows["compendium_hardened"], rows["sample_sharing"]
    leak = figure(samples, "mia_auc")
    out = {"sample_sharing mia_auc": Target(">= 0.95", leak, leak is not None and leak >= 0.95)}
    for mode, name in RELEASE_ROWS.items():
        if mode in rows:
            out.update(_release_checks(name, rows[mode]))
    base, mine = figure(samples, "tool_accuracy"), figure(hard, "tool_accuracy")
    ratio = None if not base or mine is None else round(mine / base, 4)
    out["hardened tool_accuracy / sample_sharing"] = Target(
        ">= 0.9", ratio, ratio is not None and ratio >= 0.9
    )
    return out


def records_per_side(rows: Rows) -> JsonObject:
    """Per released row: the pooled game's members and non-members, per attack."""
    out: JsonObject = {}
    for mode in ("sample_sharing", *RELEASE_ROWS):
        by_attack = at(rows.get(mode, {}), "mia_by_attack")
        out[mode] = {
            attack: [at(fig, "n_members"), at(fig, "n_nonmembers")]
            for attack, fig in (by_attack.items() if isinstance(by_attack, Mapping) else ())
        }
    return out


def runtime_target(seconds: float) -> Target:
    """The cost target: the whole run (models loaded, every mode attacked) in 15 min."""
    return Target(f"<= {MAX_SECONDS:.0f} s", seconds, seconds <= MAX_SECONDS)
